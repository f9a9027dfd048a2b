"""`cxr-sql export`: files other tools expect, written from the warehouse.

`sectioned-csv` writes `mimic_cxr.sectioned_mimic_code` as mimic-code's
create_section_files.py writes `mimic_cxr_sectioned.csv`: Python's csv writer
with its default dialect (fields quoted only when needed, rows ending in CRLF),
UTF-8, a header row, missing sections as empty fields. The file is written beside
its target and renamed over it, readable by its owner only (it holds report text).
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from cxr_sql import owner_only

SECTIONED_COLUMNS = ("study", "impression", "findings", "last_paragraph", "comparison")
_BATCH = 10_000


def write_sectioned_csv(con: duckdb.DuckDBPyConnection, out: Path) -> int:
    """Write mimic-code's mimic_cxr_sectioned.csv to `out`; the number of studies."""
    result = con.execute(
        f"SELECT {', '.join(SECTIONED_COLUMNS)} FROM mimic_cxr.sectioned_mimic_code"
    )
    n_rows = 0
    with owner_only.open_text(out, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SECTIONED_COLUMNS)
        while rows := result.fetchmany(_BATCH):
            writer.writerows(rows)
            n_rows += len(rows)
    return n_rows
