"""Reading a PhysioNet CSV (.csv.gz or .csv): every value as text, with its line number."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl

from cxr_sql.ingest.problems import SourceError
from cxr_sql.ingest.source_files import read_verified

LINE = "line"  # column added to every frame: the line of the row in the file


def read_csv_gz(path: Path, required: tuple[str, ...]) -> pl.DataFrame:
    """All columns as strings plus `line`; a clear SourceError for anything unreadable.

    The file is decompressed and verified in full first (source_files), so a
    truncated gzip is reported as such rather than as a short table.
    """
    name = str(path)
    raw = read_verified(path)
    if not raw.strip():
        raise SourceError(name, "empty file", line=1)
    header = raw.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip().split(",")
    missing = [column for column in required if column not in header]
    if missing:
        raise SourceError(
            name, f"missing column(s) {', '.join(missing)}; found {', '.join(header)}", line=1
        )
    try:
        frame = pl.read_csv(io.BytesIO(raw), infer_schema=False)
    except pl.exceptions.PolarsError as error:
        line, reason = malformed_line(raw, len(header))
        if line is None:
            reason = f"not a well-formed CSV: {str(error).splitlines()[0]}"
        raise SourceError(name, reason, line=line) from None
    return frame.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))


def malformed_line(raw: bytes, n_columns: int) -> tuple[int | None, str]:
    """The first line a strict CSV reader cannot take, and why: where an unterminated
    quote opens, a quote inside an unquoted value, or a row with more fields than the
    header. (None, '') if none is found."""
    text = raw.decode("utf-8", errors="replace")
    lines = text.splitlines(keepends=True)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        for row in reader:
            if len(row) > n_columns:
                return start, f"{len(row)} fields where the header has {n_columns}"
            written = "".join(lines[start - 1 : reader.line_num])
            for value in row:
                if '"' in value and '"' + value.replace('"', '""') + '"' not in written:
                    return start, f"a quote inside the unquoted value {value!r}"
            start = reader.line_num + 1
    except csv.Error as error:
        if "unexpected end of data" in str(error) or reader.line_num > start:
            return start, "unterminated quote: the rest of the file would be one value"
        return start, f"malformed CSV ({error})"
    return None, ""
