"""The DuckDB catalog: schemas and views over the warehouse's Parquet, nothing else.

Everything here is derived from the published generation's Parquet folder
(`parquet/gNNNNNN/`, see publish.py) alone, so the catalog can be written again
at any time without reading a source (`cxr-sql relink`):

- `sql/<schema>/<view>.sql` holds the SELECT of view `<schema>.<view>`, a jinja2
  template naming its data with `{{ parquet('<schema>/<table>') }}`;
- each MIMIC-IV module built as `mimiciv/<module>/<release>/<table>/`
  gets a schema `mimiciv_<release>_<module>` (`mimiciv_3_1_hosp`) with one view
  per table, and `mimiciv_<module>` points at the newest release built;
- every schema has a `_metadata(attribute, value)` table: dataset, version,
  source and its fingerprint, build time, cxr_sql version, a hash of the
  schema's rendered SQL, the warehouse folder the paths point into and the
  generation they read;
- every schema has a `_rejects` view, empty where nothing was rejected.

A catalog is written to a scratch file, checkpointed (a catalog whose data is
still in its WAL when renamed would lose it), reopened and checked to hold every
view and `_metadata` table it was given, and only then renamed into place.

Views read Parquet by absolute path, because DuckDB resolves relative paths
against the working directory, not the database file. A warehouse moved or
copied elsewhere is re-pointed by writing the catalog again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import jinja2

from cxr_sql import __version__
from cxr_sql.publish import (
    CATALOG,
    data_root,
    owner_only,
    remove_scratch_catalog,
    scratch_catalog,
)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
METADATA_JSON = "_metadata.json"
MIMICIV = "mimiciv"
DERIVED = "mimic_cxr_derived"
DEFAULT_SETTINGS: dict[str, object] = {"link_window_hours": 24}
REJECTS = "_rejects"
NO_REJECTS = (
    "SELECT NULL::VARCHAR AS stage, NULL::VARCHAR AS file, NULL::BIGINT AS line, "
    "NULL::VARCHAR AS reason, NULL::VARCHAR AS action WHERE false"
)  # the columns of problems.REJECTS_SCHEMA


class CatalogNotDurable(Exception):
    """A written catalog that does not reopen with everything it was given."""


class MissingData(Exception):
    """A template reads a table the build did not produce."""


@dataclass
class CatalogResult:
    views: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # view -> why


@dataclass
class _Schema:
    views: dict[str, str] = field(default_factory=dict)  # qualified name -> SELECT
    metadata: dict[str, str] = field(default_factory=dict)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _read_parquet(folder: Path) -> str:
    return f"SELECT * FROM read_parquet({_sql_string(str(folder / '*.parquet'))})"


def settings(root: Path) -> dict[str, object]:
    """Options of the derived views (mimic_cxr_derived/_metadata.json), with defaults."""
    stored = root / DERIVED / METADATA_JSON
    chosen = json.loads(stored.read_text()) if stored.is_file() else {}
    return {**DEFAULT_SETTINGS, **{k: v for k, v in chosen.items() if k in DEFAULT_SETTINGS}}


def render(
    template: Path,
    root: Path,
    known_views: frozenset[str] = frozenset(),
    overrides: dict[str, object] | None = None,
) -> str:
    """The SELECT of one templated view, over the Parquet folder `root`.

    Templates see `parquet(table)`, `exists(table)` (built Parquet), `exists_view(name)`
    (a MIMIC-IV view of this catalog), `parquet_keys(table, key)` (see below) and the
    derived views' settings; `overrides`
    replaces any of them (the BigQuery render says which tables exist there).
    """

    def parquet(table: str) -> str:
        folder = root.resolve() / table
        if not any(folder.glob("*.parquet")):
            raise MissingData(f"no data for {table}")
        return f"read_parquet({_sql_string(str(folder / '*.parquet'))})"

    def exists(table: str) -> bool:
        return any((root / table).glob("*.parquet"))

    def parquet_keys(table: str, key: str) -> dict:
        return merged_metadata(root / table, key)

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template.parent.parent),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    relative = template.relative_to(template.parent.parent).as_posix()
    context = {
        "parquet": parquet,
        "exists": exists,
        "exists_view": lambda name: name in known_views,
        "parquet_keys": parquet_keys,
        **settings(root),
        **(overrides or {}),
    }
    return environment.get_template(relative).render(**context)


def merged_metadata(folder: Path, key: str) -> dict:
    """The union of the JSON objects stored under `key` in the Parquet metadata of each
    part in folder: what a view's columns can depend on (the DICOM keywords found)."""
    import pyarrow.parquet as pq

    merged: dict = {}
    for part in sorted(folder.glob("*.parquet")):
        stored = (pq.read_schema(part).metadata or {}).get(key.encode())
        if stored:
            merged.update(json.loads(stored))
    return merged


def templates(sql_dir: Path = SQL_DIR) -> dict[str, Path]:
    """Qualified view name -> template, for every sql/<schema>/<view>.sql."""
    return {f"{path.parent.name}.{path.stem}": path for path in sorted(sql_dir.glob("*/*.sql"))}


def _release_key(release: str) -> tuple[int, ...]:
    return tuple(int(part) for part in release.split("."))


def _mimiciv_schemas(root: Path) -> dict[str, _Schema]:
    """Versioned and unversioned schemas of every MIMIC-IV module built."""
    schemas: dict[str, _Schema] = {}
    for module_dir in sorted((root.resolve() / MIMICIV).glob("*")):
        releases = sorted(
            (d for d in module_dir.iterdir() if (d / METADATA_JSON).is_file()),
            key=lambda d: _release_key(d.name),
        )
        for release_dir in releases:
            name = f"mimiciv_{release_dir.name.replace('.', '_')}_{module_dir.name}"
            schema = schemas[name] = _Schema(
                metadata=json.loads((release_dir / METADATA_JSON).read_text())
            )
            for table_dir in sorted(release_dir.iterdir()):
                if table_dir.is_dir() and any(table_dir.glob("*.parquet")):
                    schema.views[f"{name}.{table_dir.name}"] = _read_parquet(table_dir)
        if releases:
            newest = f"mimiciv_{releases[-1].name.replace('.', '_')}_{module_dir.name}"
            alias = schemas[f"mimiciv_{module_dir.name}"] = _Schema(
                metadata={**schemas[newest].metadata, "points_to": newest}
            )
            for view in schemas[newest].views:
                table = view.split(".")[1]
                alias.views[f"mimiciv_{module_dir.name}.{table}"] = f"SELECT * FROM {view}"
    return schemas


def _templated_schemas(
    root: Path, result: CatalogResult, known_views: frozenset[str]
) -> dict[str, _Schema]:
    schemas: dict[str, _Schema] = {}
    for view, template in templates().items():
        try:
            select = render(template, root, known_views)
        except MissingData as missing:
            result.skipped[view] = str(missing)
            continue
        schema = view.split(".")[0]
        schemas.setdefault(schema, _Schema()).views[view] = select
    for name, schema in schemas.items():
        stored = root / name / METADATA_JSON
        if stored.is_file():
            schema.metadata = json.loads(stored.read_text())
    if DERIVED in schemas:
        schemas[DERIVED].metadata = {
            "dataset": "cxr-sql linking and QA views",
            **{k: str(v) for k, v in settings(root).items()},
            **schemas[DERIVED].metadata,
        }
    return schemas


def write_catalog(warehouse: Path, root: Path | None = None) -> CatalogResult:
    """Create warehouse/mimic.duckdb afresh from a Parquet folder (default: the
    published generation), as `cxr-sql relink` does.

    The file is written and verified beside the old one and renamed over it, so a
    reader never opens a half-written catalog.
    """
    scratch, result = write_scratch_catalog(warehouse, root)
    os.replace(scratch, warehouse / CATALOG)
    return result


def write_scratch_catalog(warehouse: Path, root: Path | None = None) -> tuple[Path, CatalogResult]:
    """A verified catalog for `root` beside the published one, not yet renamed into place.

    On any failure (a full disk, say) the scratch file and its WAL are removed and the
    error raised; the published catalog is untouched.
    """
    root = data_root(warehouse) if root is None else root
    result = CatalogResult()
    schemas = _mimiciv_schemas(root)
    known = frozenset(view for schema in schemas.values() for view in schema.views)
    schemas |= _templated_schemas(root, result, known)
    for name, schema in schemas.items():
        schema.views.setdefault(f"{name}.{REJECTS}", NO_REJECTS)
    scratch = scratch_catalog(warehouse)
    try:
        with owner_only():
            remove_scratch_catalog(scratch)
            _write_schemas(scratch, schemas, result, warehouse, root)
            _verify(scratch, result, schemas, root.name)
    except BaseException:
        remove_scratch_catalog(scratch)
        raise
    return scratch, result


def _write_schemas(
    scratch: Path, schemas: dict[str, _Schema], result: CatalogResult, warehouse: Path, root: Path
) -> None:
    with duckdb.connect(str(scratch)) as con:
        for name in sorted(schemas):
            con.execute(f"CREATE SCHEMA {name}")
        pending = {view: select for s in schemas.values() for view, select in s.views.items()}
        _create_views(con, pending, result)
        for name, schema in sorted(schemas.items()):
            rendered = "\n".join(schema.views[v] for v in sorted(schema.views))
            rows = {
                **schema.metadata,
                "cxr_sql_version": __version__,
                "sql_hash": hashlib.sha256(rendered.encode()).hexdigest()[:16],
                "warehouse": str(warehouse.resolve()),
                "generation": root.name,
            }
            con.execute(f"CREATE TABLE {name}._metadata (attribute VARCHAR, value VARCHAR)")
            con.executemany(
                f"INSERT INTO {name}._metadata VALUES (?, ?)",
                [(k, str(v)) for k, v in sorted(rows.items())],
            )
        con.execute("CHECKPOINT")
    os.chmod(scratch, 0o600)


def _verify(
    scratch: Path, result: CatalogResult, schemas: dict[str, _Schema], generation: str
) -> None:
    """Reopen the closed catalog: no WAL left, every view created there and readable,
    every schema's `_metadata` naming this generation."""
    wal = Path(f"{scratch}.wal")
    if wal.exists():
        raise CatalogNotDurable(f"{scratch}: data left in its WAL after a checkpoint")
    with duckdb.connect(str(scratch), read_only=True) as con:
        present = {
            f"{schema}.{view}"
            for schema, view in con.execute(
                "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal"
            ).fetchall()
        }
        missing = sorted(set(result.views) - present)
        if missing:
            listed = ", ".join(missing)
            raise CatalogNotDurable(f"{scratch}: view(s) missing on reopening: {listed}")
        for view in result.views:
            con.execute(f"SELECT * FROM {view} LIMIT 0")
        for name in schemas:
            found = con.execute(
                f"SELECT value FROM {name}._metadata WHERE attribute = 'generation'"
            ).fetchall()
            if found != [(generation,)]:
                raise CatalogNotDurable(f"{scratch}: {name}._metadata does not name {generation}")


def catalog_generation(catalog: Path) -> str | None:
    """The generation a catalog's views read (None: no catalog, or one that names none)."""
    if not catalog.is_file():
        return None
    try:
        with duckdb.connect(str(catalog), read_only=True) as con:
            found = con.execute(
                "SELECT schema_name FROM duckdb_tables() WHERE table_name = '_metadata' "
                "ORDER BY 1 LIMIT 1"
            ).fetchone()
            if found is None:
                return None
            row = con.execute(
                f"SELECT value FROM {found[0]}._metadata WHERE attribute = 'generation'"
            ).fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None


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
