"""Which MIMIC-IV tables a build loads, and the checks that keep a table from vanishing.

A build loads the tables the linking needs, those asked for with --tables (kept
in build.json, so a later build without the flag keeps them), or every table
present with --all; less those dropped with --drop-tables, which is the only
way a table leaves the warehouse. A name that is neither a table of the
published DDL nor a file present is refused with the closest names, and a
build that would publish fewer tables than the warehouse holds (a file gone
from the source folder) is refused, naming them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path

from cxr_sql.ingest.mimiciv import available_tables, table_file
from cxr_sql.ingest.mimiciv_schema import DEFAULT_TABLES
from cxr_sql.mimiciv_ddl import known_tables

MODULES = tuple(DEFAULT_TABLES)


class TableChoiceError(Exception):
    """A table name that names nothing, or a build that would lose tables: a usage error."""


def _split(name: str) -> tuple[str, str]:
    module, _, table = name.rpartition(".")
    return module, table


def _names_by_module(folders: Mapping[str, Path | None]) -> dict[str, set[str]]:
    """Every table name a build could load: the DDL's and the files present."""
    return {
        module: set(known_tables(module)) | set(available_tables(folder) if folder else [])
        for module, folder in ((m, folders.get(m)) for m in MODULES)
    }


def check_names(flag: str, names: Iterable[str], folders: Mapping[str, Path | None]) -> None:
    """Refuse a name that is no table of the DDL nor a file present, with the closest ones."""
    existing = _names_by_module(folders)
    every = sorted({t for tables in existing.values() for t in tables})
    for name in names:
        module, table = _split(name)
        if table in (existing.get(module, set()) if module else every):
            continue
        closest = difflib.get_close_matches(table, every, n=1)
        if closest and module:  # named with its module: suggest it with the right one
            closest = [f"{m}.{closest[0]}" for m, t in existing.items() if closest[0] in t][:1]
        hint = f" Did you mean {closest[0]}?" if closest else ""
        listing = "; ".join(f"{m}: {', '.join(sorted(t))}" for m, t in existing.items() if t)
        raise TableChoiceError(f"{flag} {name}: no such MIMIC-IV table.{hint} Tables: {listing}")


def check_droppable(names: Iterable[str]) -> None:
    """The tables the linking needs cannot be dropped."""
    for name in names:
        module, table = _split(name)
        needed = [m for m in ([module] if module else MODULES) if table in DEFAULT_TABLES[m]]
        if needed:
            raise TableChoiceError(
                f"--drop-tables {name}: {needed[0]}.{table} is needed by the linking and is "
                "always built"
            )


def names_in(module: str, names: Iterable[str], present: set[str]) -> set[str]:
    """The tables of one module a list of names means ('labevents' or 'hosp.labevents')."""
    chosen = set()
    for name in names:
        owner, table = _split(name)
        if owner == module or (not owner and table in present):
            chosen.add(table)
    return chosen


def requested_tables(
    module: str,
    folder: Path,
    tables: Iterable[str],
    all_tables: bool,
    dropped: Iterable[str] = (),
) -> list[str]:
    """The tables of one module to load, in a stable order."""
    present = set(available_tables(folder))
    known = present | set(known_tables(module))
    asked = names_in(module, tables, known)
    wanted = present if all_tables else set(DEFAULT_TABLES[module]) | asked
    keep_out = names_in(module, dropped, known) - set(DEFAULT_TABLES[module])
    ordered = [t for t in DEFAULT_TABLES[module] if t in wanted]
    return ordered + sorted(wanted - set(ordered) - keep_out)


def published_tables(module_root: Path) -> set[str]:
    """The tables of one module and release in a published generation."""
    if not module_root.is_dir():
        return set()
    return {p.name for p in module_root.iterdir() if p.is_dir() and not p.name.startswith("_")}


def lost_tables(
    module: str, folder: Path, tables: list[str], published: set[str], dropped: Iterable[str]
) -> list[str]:
    """Published tables the build would not publish again, and that were not dropped."""
    loaded = {t for t in tables if table_file(folder, t) is not None}
    allowed = names_in(module, dropped, published)
    return sorted(published - loaded - allowed)


def refuse_losses(losses: Mapping[str, Path]) -> None:
    """Stop a build that would publish fewer tables, naming each and where its file was."""
    if not losses:
        return
    names = sorted(losses)
    where = "; ".join(f"{name} (no file in {losses[name]})" for name in names)
    raise TableChoiceError(
        f"this build would drop {len(names)} table(s) the warehouse holds: {where}. "
        f"Nothing was built. Restore the file(s), or give --drop-tables {','.join(names)} "
        "to drop them"
    )
