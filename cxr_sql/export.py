"""`cxr-sql export`: files other tools expect, written from the warehouse.

`sectioned-csv` writes `mimic_cxr.sectioned_mimic_code` as mimic-code's
create_section_files.py writes `mimic_cxr_sectioned.csv`: Python's csv writer
with its default dialect (fields quoted only when needed, rows ending in CRLF),
UTF-8, a header row, missing sections as empty fields. The file is written beside
its target and renamed over it, readable by its owner only (it holds report text).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import duckdb

SECTIONED_COLUMNS = ("study", "impression", "findings", "last_paragraph", "comparison")
_BATCH = 10_000


def write_sectioned_csv(con: duckdb.DuckDBPyConnection, out: Path) -> int:
    """Write mimic-code's mimic_cxr_sectioned.csv to `out`; the number of studies."""
    result = con.execute(
        f"SELECT {', '.join(SECTIONED_COLUMNS)} FROM mimic_cxr.sectioned_mimic_code"
    )
    scratch = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    n_rows = 0
    try:
        with open(descriptor, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(SECTIONED_COLUMNS)
            while rows := result.fetchmany(_BATCH):
                writer.writerows(rows)
                n_rows += len(rows)
        os.replace(scratch, out)
    finally:
        scratch.unlink(missing_ok=True)
    return n_rows
