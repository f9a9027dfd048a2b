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
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from cxr_sql.fingerprint import files_fingerprint
from cxr_sql.ingest.mimiciv_schema import OPTIONAL_COLUMNS, TABLES, header_of
from cxr_sql.ingest.problems import DROPPED, Reject, SourceError, rejects_table

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


def table_file(folder: Path, table: str) -> Path | None:
    for name in (f"{table}.csv.gz", f"{table}.csv"):
        if (folder / name).is_file():
            return folder / name
    return None


def available_tables(folder: Path) -> list[str]:
    names = {p.name.removesuffix(".gz").removesuffix(".csv") for p in folder.glob("*.csv*")}
    return sorted(names)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _columns_for(module: str, table: str, path: Path) -> dict[str, str] | None:
    """The typed columns in file order, or None for a table the DDL does not list."""
    ddl = TABLES.get(module, {}).get(table)
    if ddl is None:
        return None
    header = header_of(path)
    optional = OPTIONAL_COLUMNS.get((module, table), set())
    missing = [c for c in ddl if c not in header and c not in optional]
    extra = [c for c in header if c not in ddl]
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            problems.append(f"unexpected column(s) {', '.join(extra)}")
        raise SourceError(str(path), "; ".join(problems) + f"; found {', '.join(header)}", line=1)
    return {column: ddl[column] for column in header}


def _copy_table(
    con: duckdb.DuckDBPyConnection, module: str, table: str, path: Path, target: Path
) -> tuple[int, list[Reject], bool]:
    """Write one table's Parquet; returns rows written, rejects, typed by inference."""
    columns = _columns_for(module, table, path)
    options = ["header = true", "store_rejects = true", "rejects_table = 'cxr_rejects'"]
    options += ["rejects_scan = 'cxr_scans'", "rejects_limit = 0"]
    if columns is not None:
        spec = ", ".join(f"{_sql_string(c)}: {_sql_string(t)}" for c, t in columns.items())
        options += ["auto_detect = false", f"columns = {{{spec}}}"]
    target.mkdir(parents=True, exist_ok=True)
    part = target / "part-0.parquet"
    try:
        con.execute("DROP TABLE IF EXISTS cxr_rejects; DROP TABLE IF EXISTS cxr_scans")
        con.execute(
            f"COPY (SELECT * FROM read_csv({_sql_string(str(path))}, {', '.join(options)})) "
            f"TO {_sql_string(str(part))} (FORMAT parquet, COMPRESSION zstd)"
        )
        errors = con.execute(
            "SELECT line, column_name, error_type, error_message FROM cxr_rejects ORDER BY line"
        ).fetchall()
    except duckdb.Error as error:
        raise SourceError(str(path), str(error).splitlines()[0]) from None
    for line, _, error_type, _ in errors:
        if error_type in FATAL_ERRORS:
            raise SourceError(str(path), FATAL_ERRORS[error_type], line=line)
    rejects = [
        Reject(str(path), line, f"{column}: {message}" if column else message, DROPPED)
        for line, column, _, message in errors
    ]
    (rows,) = con.execute(f"SELECT count(*) FROM read_parquet({_sql_string(str(part))})").fetchone()
    return rows, rejects, columns is None


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
            path = table_file(folder, table)
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
