"""The SELECT that gives a CSV's columns their DDL types, refusing values that do not fit.

DuckDB's casts are lenient where the DDL is not: '2.5' read as INTEGER becomes 3,
'1e2' becomes 100, '2180-01-01 10:00:00' read as DATE loses its time, and a
NUMERIC with ten decimals is rounded to BigQuery's nine. Postgres' COPY (the
DDL's own loader) and BigQuery's load refuse such values. So columns of those
types are read as text and converted only when the text is what the type
writes (it survives the round trip, or has at most nine decimals); any other
value stops the table with an error naming the column and value, and
`line_of` finds its line in the file.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from pathlib import Path

import duckdb

NOT_DDL = "cxr-sql value does not fit its DDL type"  # marks the error raised by the SELECT
SEPARATOR = "\x1f"

# DuckDB type -> SQL that is true when text {v} is that type written plainly
_FITS = {
    "INTEGER": "TRY_CAST({v} AS INTEGER)::VARCHAR = {v}",
    "SMALLINT": "TRY_CAST({v} AS SMALLINT)::VARCHAR = {v}",
    "DATE": "TRY_CAST({v} AS DATE)::VARCHAR = {v}",
    "DECIMAL(38,9)": (
        r"regexp_full_match({v}, '[+-]?([0-9]+(\.[0-9]{{0,9}})?|\.[0-9]{{1,9}})') "
        "AND TRY_CAST({v} AS DECIMAL(38,9)) IS NOT NULL"
    ),
}


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_types(columns: dict[str, str]) -> dict[str, str]:
    """What read_csv reads each column as: text where the SELECT converts it."""
    return {name: "VARCHAR" if kind in _FITS else kind for name, kind in columns.items()}


def select_list(columns: dict[str, str]) -> str:
    """Each column converted to its type, or an error naming column and value."""
    items = []
    for name, kind in columns.items():
        column = _identifier(name)
        if kind in _FITS:
            fits = _FITS[kind].format(v=column)
            marker = sql_string(f"{NOT_DDL}{SEPARATOR}{name}{SEPARATOR}")
            items.append(
                f"CASE WHEN {column} IS NULL THEN NULL WHEN {fits} THEN CAST({column} AS {kind}) "
                f"ELSE error({marker} || {column}) END AS {column}"
            )
        else:
            items.append(column)
    return ", ".join(items)


def misfit(error: duckdb.Error) -> tuple[str, str] | None:
    """(column, value) when the error is a value that does not fit its type."""
    text = str(error)
    if NOT_DDL not in text:
        return None
    _, column, value = text.split(NOT_DDL, 1)[1].split(SEPARATOR, 2)
    return column, value.splitlines()[0] if value else value


def line_of(path: Path, column_index: int, value: str) -> int | None:
    """The line in the file where the first record with this value in that column starts
    (None if the file cannot be read that far)."""
    csv.field_size_limit(2**31 - 1)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as raw:  # type: ignore[operator]
            text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
            reader = csv.reader(text)
            next(reader, None)
            start = reader.line_num + 1
            for record in reader:
                if column_index < len(record) and record[column_index] == value:
                    return start
                start = reader.line_num + 1
    except (OSError, EOFError, csv.Error, zlib.error):
        return None
    return None
