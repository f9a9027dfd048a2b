"""Reproducible archives: the same content always gives the same bytes."""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Iterable
from pathlib import Path

import polars as pl

ZIP_DATE = (2019, 1, 1, 0, 0, 0)


def csv_gz_bytes(frame: pl.DataFrame) -> bytes:
    """The frame as gzip-compressed CSV, with no timestamp or file name in the gzip header."""
    buffer = io.BytesIO()
    frame.write_csv(
        buffer,
        datetime_format="%Y-%m-%d %H:%M:%S",
        date_format="%Y-%m-%d",
        float_precision=None,
    )
    return gzip.compress(buffer.getvalue(), compresslevel=6, mtime=0)


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_zip(path: Path, members: Iterable[tuple[str, str]]) -> None:
    """A deflated zip of (name, text) members with a fixed date on every entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, text.encode("utf-8"))
