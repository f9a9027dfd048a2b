"""`cxr-sql query`: run SQL on the warehouse, write the results as a table, CSV, JSON or Parquet.

Writing is DuckDB's own: its box renderer for tables, its COPY for CSV
(`HEADER true`), JSON (`ARRAY true`: one array of row objects) and Parquet, fed
by a stream of Arrow batches, so any statement that returns rows (SELECT,
DESCRIBE, SHOW, PRAGMA, ...) can be written and no result is held in memory
whole. Files are written under a hidden name in the target folder, made
owner-only (mode 600, like the warehouse: results hold credentialed data) and
renamed into place, so a query that fails half-way leaves no partial file.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import duckdb

from cxr_sql.owner_only import open_text, replaced
from cxr_sql.publish import owner_only

FORMATS = ("table", "csv", "json", "parquet")
DEFAULT_MAX_ROWS = 40
NO_LIMIT = 1 << 30  # the box renderer's width limits, set beyond any result: nothing is cut
_COPY_OPTIONS = {
    "csv": "FORMAT csv, HEADER true",
    "json": "FORMAT json, ARRAY true",
    "parquet": "FORMAT parquet",
}
_RESULT_VIEW = "__cxr_sql_result"
_BATCH_ROWS = 100_000
EXIT_FAILED, EXIT_USAGE = 1, 2
# errors in the SQL as written (exit 2); any other DuckDB error is a failure while running (1)
_SQL_ERRORS = (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)


class QueryError(Exception):
    """A query that cannot be run or written: one line for the user, and the exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class QueryOptions:
    sql: str
    output_format: str = "table"
    out: Path | None = None  # None: standard output
    max_rows: int = DEFAULT_MAX_ROWS  # table format only


_ARROW_WRAPPING = "arrow_scan: get_next failed(): "  # an error raised while rows were streamed


def first_line(error: BaseException) -> str:
    """DuckDB's message without the caret lines and context it adds below it, and
    without the wrapping of an error raised while the rows were streamed out."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    _, wrapped, inner = lines[0].partition(_ARROW_WRAPPING)
    return re.sub(r"^(?:IOError: )+", "", inner) if wrapped else lines[0]


def run_query(con: duckdb.DuckDBPyConnection, options: QueryOptions, stdout: IO[str]) -> None:
    """Run every statement of options.sql in order and write what they return.

    Table format: each result is shown, headed by its statement's number when there
    are several. CSV, JSON and Parquet hold one result: SQL with more than one
    statement returning rows is refused before anything is written.
    Raises QueryError.
    """
    try:
        statements = [s.query.strip() for s in con.extract_statements(options.sql)]
    except duckdb.Error as error:
        raise QueryError(first_line(error)) from None
    if not statements:
        raise QueryError("no SQL statement given")
    try:
        if options.output_format == "table":
            with _text_target(options.out, stdout) as target:
                _show_all(con, statements, options.max_rows, target)
        else:
            _write_one(con, statements, options, stdout)
    except duckdb.Error as error:
        code = EXIT_USAGE if isinstance(error, _SQL_ERRORS) else EXIT_FAILED
        raise QueryError(first_line(error), code) from None


def _show_all(
    con: duckdb.DuckDBPyConnection, statements: list[str], max_rows: int, target: IO[str]
) -> None:
    for number, statement in enumerate(statements, 1):
        relation = con.sql(statement)
        if relation is None:  # SET, CREATE TEMP ...: nothing to show
            continue
        if len(statements) > 1:
            print(f"-- statement {number} of {len(statements)}", file=target)
        with contextlib.redirect_stdout(target):  # DuckDB prints through sys.stdout
            relation.show(max_rows=max_rows, max_width=NO_LIMIT, max_col_width=NO_LIMIT)


def _write_one(
    con: duckdb.DuckDBPyConnection, statements: list[str], options: QueryOptions, stdout: IO[str]
) -> None:
    results = []
    for number, statement in enumerate(statements, 1):
        relation = con.sql(statement)  # a SELECT is not run until its rows are read
        if relation is not None:
            results.append((number, relation))
    if len(results) != 1:
        numbers = ", ".join(str(n) for n, _ in results)
        raise QueryError(
            f"--format {options.output_format} holds one result, but "
            + (f"statements {numbers} return rows" if results else "no statement returns rows")
            + ": run them one at a time, or use --format table to see each"
        )
    _, relation = results[0]
    if options.out is not None:
        _copy_to_file(con, relation, options.output_format, options.out)
    elif options.output_format == "parquet" and stdout.isatty():
        raise QueryError("--format parquet is binary: give --out FILE or redirect the output")
    else:
        with tempfile.TemporaryDirectory(prefix="cxr-sql-query-") as scratch:  # mode 700
            path = Path(scratch) / f"result.{options.output_format}"
            _copy(con, relation, options.output_format, path)
            stdout.flush()
            with open(path, "rb") as written:
                shutil.copyfileobj(written, stdout.buffer)  # type: ignore[attr-defined]
            stdout.buffer.flush()  # type: ignore[attr-defined]


def _copy(
    con: duckdb.DuckDBPyConnection,
    relation: duckdb.DuckDBPyRelation,
    output_format: str,
    path: Path,
) -> None:
    """DuckDB's COPY of the relation's rows, streamed as Arrow batches, to path (mode 600)."""
    reader = relation.to_arrow_reader(_BATCH_ROWS)
    cursor = con.cursor()  # another cursor: reading the batches needs the first one
    cursor.register(_RESULT_VIEW, reader)
    target = str(path).replace("'", "''")
    try:
        with owner_only():
            cursor.execute(
                f"COPY (SELECT * FROM {_RESULT_VIEW}) TO '{target}' "
                f"({_COPY_OPTIONS[output_format]})"
            )
    finally:
        cursor.close()
    os.chmod(path, 0o600)


def _copy_to_file(
    con: duckdb.DuckDBPyConnection,
    relation: duckdb.DuckDBPyRelation,
    output_format: str,
    out: Path,
) -> None:
    _check_out(out)
    with replaced(out) as scratch:
        _copy(con, relation, output_format, scratch)


def _check_out(out: Path) -> None:
    if out.is_dir():
        raise QueryError(f"--out {out}: is a folder; give a file name")
    if not out.parent.is_dir():
        raise QueryError(f"--out {out}: no such folder {out.parent}")


@contextlib.contextmanager
def _text_target(out: Path | None, stdout: IO[str]) -> Iterator[IO[str]]:
    """Standard output, or out written owner-only under a hidden name and renamed at the end."""
    if out is None:
        yield stdout
        return
    _check_out(out)
    with open_text(out) as target:
        yield target


def read_sql(positional: str | None, file: Path | None, stdin: IO[str]) -> str:
    """The SQL: the argument, '-' for standard input, or --file F. Raises QueryError."""
    if (positional is None) == (file is None):
        raise QueryError("give the SQL as an argument, '-' for standard input, or --file FILE")
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            raise QueryError(f"--file {file}: {reason}") from None
    if positional == "-":
        return stdin.read()
    assert positional is not None
    return positional
