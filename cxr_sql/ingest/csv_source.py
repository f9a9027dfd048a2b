"""Reading a gzip-compressed PhysioNet CSV: every value as text, with its line number."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import polars as pl

from cxr_sql.ingest.problems import SourceError

LINE = "line"  # column added to every frame: the line of the row in the file


def read_csv_gz(path: Path, required: tuple[str, ...]) -> pl.DataFrame:
    """All columns as strings plus `line`; a clear SourceError for anything unreadable.

    The file is decompressed in full first, so a truncated gzip is reported as
    such rather than as a short table.
    """
    name = str(path)
    if not path.is_file():
        raise SourceError(name, "file not found")
    try:
        raw = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise SourceError(name, f"not a complete gzip file ({error})") from None
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
        raise SourceError(name, f"not a well-formed CSV: {str(error).splitlines()[0]}") from None
    return frame.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))
