"""Opening a warehouse from Python, and re-pointing one that was moved or copied."""

from __future__ import annotations

from pathlib import Path

import duckdb

from cxr_sql.catalog import CATALOG, write_catalog
from cxr_sql.publish import idle_lock
from cxr_sql.recovery import reconcile


def catalog_path(warehouse: Path | str) -> Path:
    path = Path(warehouse) / CATALOG
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no warehouse here; run cxr-sql build first")
    return path


def recorded_location(warehouse: Path | str) -> str | None:
    """The folder the catalog's views point into, as recorded when it was written."""
    with duckdb.connect(str(catalog_path(warehouse)), read_only=True) as con:
        schemas = [
            s
            for (s,) in con.execute(
                "SELECT schema_name FROM duckdb_tables() WHERE table_name = '_metadata'"
            ).fetchall()
        ]
        for schema in schemas:
            found = con.execute(
                f"SELECT value FROM {schema}._metadata WHERE attribute = 'warehouse'"
            ).fetchone()
            if found:
                return found[0]
    return None


def relink(warehouse: Path | str) -> bool:
    """Write the catalog again for where the warehouse is now; True if it had moved.

    Reads no source: the catalog is derived from the warehouse's Parquet folder.
    """
    folder = Path(warehouse)
    if recorded_location(folder) == str(folder.resolve()):
        return False
    write_catalog(folder)
    return True


def connect(
    warehouse: Path | str = "warehouse", *, read_only: bool = True
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to the warehouse catalog (read-only by default, so many
    processes can read at once). When no build is running, a catalog and build.json
    left disagreeing by a killed build are reconciled first; a moved warehouse is
    relinked."""
    catalog_path(warehouse)
    with idle_lock(Path(warehouse)) as idle:
        if idle:
            reconcile(Path(warehouse))
    relink(warehouse)
    return duckdb.connect(str(catalog_path(warehouse)), read_only=read_only)
