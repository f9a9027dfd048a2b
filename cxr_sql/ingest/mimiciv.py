"""MIMIC-IV modules (hosp, icu, ed, note): CSV(.gz) files to typed Parquet.

DuckDB does the reading and writing (`COPY (SELECT ... FROM read_csv(...)) TO
... (FORMAT parquet)`), with the column types of the published DDL given
explicitly: it streams, so labevents or chartevents never sit in memory whole,
and it records every row that fails to parse (a bad timestamp, a wrong number
of fields) with its line, which become rejects. A header that lacks a column,
or has one the DDL does not know, and an unterminated quote (which swallows the
rest of the file) stop the module instead.

A module is built into a scratch folder and moved into place only when every
table of it succeeded: a failed module leaves the previous build of that
module as it was, never half a schema.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from cxr_sql.fingerprint import files_fingerprint
from cxr_sql.ingest.mimiciv_schema import OPTIONAL_COLUMNS, header_of
from cxr_sql.ingest.problems import DROPPED, Reject, SourceError, rejects_table
from cxr_sql.ingest.source_files import VerifiedWhileRead, csv_file, verify_gzip
from cxr_sql.ingest.typed_csv import line_of, misfit, read_types, select_list, sql_string
from cxr_sql.mimiciv_ddl import duckdb_types

METADATA_JSON = "_metadata.json"
FATAL_ERRORS = {"UNQUOTED VALUE": "unterminated quote: the rest of the file would be lost"}


@dataclass
class ModuleResult:
    module: str
    version: str
    rows: dict[str, int] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # requested tables with no file
    inferred: list[str] = field(default_factory=list)  # tables typed by detection
    plain: list[str] = field(default_factory=list)  # tables read from a .csv, not a .csv.gz


def table_file(folder: Path, table: str) -> Path | None:
    """Whether the table has a file: `<table>.csv.gz` or `<table>.csv`, None when neither
    is. Anything of that name counts: the build then refuses both at once and anything
    but a regular file (see build_module), rather than taking the table as gone."""
    for name in (f"{table}.csv.gz", f"{table}.csv"):
        if os.path.lexists(folder / name):
            return folder / name
    return None


def available_tables(folder: Path) -> list[str]:
    found = [p.name for p in folder.glob("*.csv*") if p.name.endswith((".csv", ".csv.gz"))]
    names = {name.removesuffix(".gz").removesuffix(".csv") for name in found}
    return sorted(names)


def _columns_for(module: str, table: str, path: Path) -> dict[str, str] | None:
    """The DDL types of the file's columns in file order, named in lower case; None for a
    table no DDL lists."""
    ddl = duckdb_types(module, table)
    if ddl is None:
        return None
    try:
        header = header_of(path)
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as error:
        verify_gzip(path)  # the clearer reason, when the gzip is damaged
        raise SourceError(str(path), f"cannot read the header ({error})", line=1) from None
    names = [column.lower() for column in header]
    optional = OPTIONAL_COLUMNS.get((module, table), set())
    missing = [c for c in ddl if c not in names and c not in optional]
    extra = [c for c, name in zip(header, names, strict=True) if name not in ddl]
    repeated = sorted({c for c in names if names.count(c) > 1})
    if missing or extra or repeated:
        problems = []
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            problems.append(f"unexpected column(s) {', '.join(extra)}")
        if repeated:
            problems.append(f"repeated column(s) {', '.join(repeated)}")
        raise SourceError(str(path), "; ".join(problems) + f"; found {', '.join(header)}", line=1)
    return {column: ddl[column] for column in names}


def _inferred_select(con: duckdb.DuckDBPyConnection, scan: str) -> str:
    """The columns DuckDB detects, renamed to lower case."""
    names = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()]
    lowered = [name.lower() for name in names]
    if len(set(lowered)) < len(lowered):
        return "*"  # two columns differ only in case: keep them apart
    return ", ".join(
        f'"{n.replace(chr(34), 2 * chr(34))}" AS "{lw}"'
        for n, lw in zip(names, lowered, strict=True)
    )


def _copy_table(
    con: duckdb.DuckDBPyConnection, module: str, table: str, path: Path, target: Path
) -> tuple[int, list[Reject], bool]:
    """Write one table's Parquet; returns rows written, rejects, typed by inference."""
    guard = VerifiedWhileRead(path)  # a regular file (a FIFO would hang the reader)
    columns = _columns_for(module, table, path)
    options = ["header = true", "store_rejects = true", "rejects_table = 'cxr_rejects'"]
    options += ["rejects_scan = 'cxr_scans'", "rejects_limit = 0"]
    if columns is not None:
        spec = ", ".join(
            f"{sql_string(c)}: {sql_string(t)}" for c, t in read_types(columns).items()
        )
        options += ["auto_detect = false", f"columns = {{{spec}}}"]
    scan = f"read_csv({sql_string(str(path))}, {', '.join(options)})"
    target.mkdir(parents=True, exist_ok=True)
    part = target / "part-0.parquet"
    try:
        con.execute("DROP TABLE IF EXISTS cxr_rejects; DROP TABLE IF EXISTS cxr_scans")
        with guard:  # DuckDB's reader takes a cut gzip as a short file: checked beside it
            select = select_list(columns) if columns is not None else _inferred_select(con, scan)
            con.execute(
                f"COPY (SELECT {select} FROM {scan}) "
                f"TO {sql_string(str(part))} (FORMAT parquet, COMPRESSION zstd)"
            )
        errors = con.execute(
            "SELECT line, column_name, error_type, error_message FROM cxr_rejects ORDER BY line"
        ).fetchall()
    except duckdb.Error as error:
        raise _source_error(error, path, columns) from None
    for line, _, error_type, _ in errors:
        if error_type in FATAL_ERRORS:
            raise SourceError(str(path), FATAL_ERRORS[error_type], line=line)
    rejects = [
        Reject(str(path), line, f"{column}: {message}" if column else message, DROPPED)
        for line, column, _, message in errors
    ]
    (rows,) = con.execute(f"SELECT count(*) FROM read_parquet({sql_string(str(part))})").fetchone()
    return rows, rejects, columns is None


def _source_error(error: duckdb.Error, path: Path, columns: dict[str, str] | None) -> SourceError:
    """The error as a SourceError; a value that does not fit its DDL type with its line."""
    found = misfit(error)
    if found is None or columns is None:
        return SourceError(str(path), str(error).splitlines()[0])
    column, value = found
    line = line_of(path, list(columns).index(column), value)
    reason = f"{column}: {value!r} is not a {columns[column]} (the published DDL type)"
    return SourceError(str(path), reason, line=line)


def build_module(
    module: str, folder: Path, tables: list[str], version: str, out: Path
) -> ModuleResult:
    """Build the tables of one module into out/<module>/<version>/, replacing it whole.

    `tables` are those asked for; one with no file is noted as missing.
    """
    result = ModuleResult(module, version)
    final = out / module / version
    scratch = out / module / f".{version}.building"
    shutil.rmtree(scratch, ignore_errors=True)
    inputs: list[Path] = []
    with duckdb.connect() as con:
        con.execute("SET threads = 2; SET memory_limit = '4GB'")
        for table in tables:
            path = csv_file(folder, f"{table}.csv")  # both .csv.gz and .csv: SourceError
            if path is None:
                result.missing.append(table)
                continue
            inputs.append(path)
            try:
                rows, rejects, inferred = _copy_table(con, module, table, path, scratch / table)
            except SourceError:
                shutil.rmtree(scratch, ignore_errors=True)
                raise
            result.rows[table] = rows
            if path.suffix == ".csv":
                result.plain.append(table)
            result.rejects += rejects
            if inferred:
                result.inferred.append(table)
    if not result.rows:
        shutil.rmtree(scratch, ignore_errors=True)
        return result
    if result.rejects:
        (scratch / "_rejects").mkdir()
        pq.write_table(
            rejects_table(f"mimiciv {module}", result.rejects), scratch / "_rejects/part-0.parquet"
        )
    metadata = {
        "dataset": f"MIMIC-IV {module}",
        "version": version,
        "source": str(folder.resolve()),
        "source_fingerprint": files_fingerprint(inputs),
        "build_time": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables_typed_by_inference": ",".join(result.inferred),
    }
    (scratch / METADATA_JSON).write_text(json.dumps(metadata, indent=2) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    scratch.rename(final)
    return result
