"""The DuckDB catalog: views rendered from the jinja2 templates in sql/, over Parquet.

`sql/<schema>/<view>.sql` holds the SELECT of view `<schema>.<view>`.
Templates name their data with `{{ parquet('<schema>/<table>') }}`, which
renders to a `read_parquet` of that table's parts under the warehouse. The
paths are absolute, because DuckDB resolves relative paths against the
working directory, not the database file; a moved warehouse is re-pointed by
rendering the catalog again, which reads no source.

A view whose data was not built (no provider list, say) is left out, and so is
a view that reads a left-out view.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import jinja2

from cxr_sql import __version__

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
CATALOG = "mimic.duckdb"
PARQUET = "parquet"


class MissingData(Exception):
    """A template reads a table the build did not produce."""


@dataclass
class CatalogResult:
    views: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # view -> why


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def render(template: Path, warehouse: Path) -> str:
    """The SELECT of one view, for this warehouse."""

    def parquet(table: str) -> str:
        folder = warehouse.resolve() / PARQUET / table
        if not any(folder.glob("*.parquet")):
            raise MissingData(f"no data for {table}")
        return f"read_parquet({_sql_string(str(folder / '*.parquet'))})"

    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.from_string(template.read_text()).render(parquet=parquet)


def templates(sql_dir: Path = SQL_DIR) -> dict[str, Path]:
    """Qualified view name -> template, for every sql/<schema>/<view>.sql."""
    return {f"{path.parent.name}.{path.stem}": path for path in sorted(sql_dir.glob("*/*.sql"))}


def write_catalog(warehouse: Path, metadata: dict[str, dict[str, str]]) -> CatalogResult:
    """Create warehouse/mimic.duckdb afresh: schemas, views, a _metadata table per schema.

    The file is written beside the old one and renamed over it, so a reader never
    opens a half-written catalog.
    """
    result = CatalogResult()
    pending: dict[str, str] = {}
    for view, template in templates().items():
        try:
            pending[view] = render(template, warehouse)
        except MissingData as missing:
            result.skipped[view] = str(missing)
    target = warehouse / CATALOG
    scratch = warehouse / f".{CATALOG}.{os.getpid()}.tmp"
    scratch.unlink(missing_ok=True)
    with duckdb.connect(str(scratch)) as con:
        schemas = {view.split(".")[0] for view in pending} | set(metadata)
        for schema in sorted(schemas):
            con.execute(f"CREATE SCHEMA {schema}")
        _create_views(con, pending, result)
        for schema, attributes in sorted(metadata.items()):
            rows = {"cxr_sql_version": __version__, **attributes}
            con.execute(f"CREATE TABLE {schema}._metadata (attribute VARCHAR, value VARCHAR)")
            con.executemany(f"INSERT INTO {schema}._metadata VALUES (?, ?)", sorted(rows.items()))
    os.chmod(scratch, 0o600)
    os.replace(scratch, target)
    return result


def _create_views(
    con: duckdb.DuckDBPyConnection, pending: dict[str, str], result: CatalogResult
) -> None:
    """Create every view, retrying those that read a view not created yet."""
    errors: dict[str, str] = {}
    while pending:
        progressed = False
        for view, select in list(pending.items()):
            try:
                con.execute(f"CREATE VIEW {view} AS\n{select}")
            except duckdb.CatalogException as error:
                errors[view] = str(error).splitlines()[0]
                continue
            result.views.append(view)
            del pending[view]
            progressed = True
        if not progressed:
            result.skipped |= {view: errors[view] for view in pending}
            return
