"""Opening a warehouse from Python, and re-pointing one that was moved or copied."""

from __future__ import annotations

from pathlib import Path

import duckdb

from cxr_sql.catalog import CATALOG, write_catalog
from cxr_sql.publish import idle_lock
from cxr_sql.recovery import reconcile


def warehouse_folder(warehouse: Path | str) -> Path:
    """The warehouse folder; its catalog file (`.../mimic.duckdb`) is accepted for it."""
    path = Path(warehouse)
    if path.name == CATALOG and path.is_file():
        return path.parent
    return path


def catalog_path(warehouse: Path | str) -> Path:
    folder = warehouse_folder(warehouse)
    if folder.is_file():
        raise FileNotFoundError(f"{folder}: a file; give the warehouse folder (it holds {CATALOG})")
    path = folder / CATALOG
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
    folder = warehouse_folder(warehouse)
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
    relinked. The catalog file itself is accepted for its folder."""
    warehouse = warehouse_folder(warehouse)
    catalog_path(warehouse)
    with idle_lock(warehouse) as idle:
        if idle:
            reconcile(warehouse)
    relink(warehouse)
    return duckdb.connect(str(catalog_path(warehouse)), read_only=read_only)
