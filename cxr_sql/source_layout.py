"""Whether a source folder given to `cxr-sql build` is the one its flag reads.

A folder one level too deep (`--mimiciv .../mimiciv/hosp`) or too high
(`--mimiciv .../sources`) would otherwise yield no rows and publish an emptier
warehouse without a word; it is a usage error, with the folder that would do.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

MODULES = ("hosp", "icu", "ed", "note")
CXR_LISTS = ("cxr-record-list.csv", "cxr-study-list.csv", "cxr-provider-list.csv")


def _has_csv(folder: Path) -> bool:
    return folder.is_dir() and any(
        p.name.endswith((".csv", ".csv.gz")) for p in folder.glob("*.csv*")
    )


def _holds_mimic_cxr(folder: Path) -> bool:
    lists = (folder / f"{name}{gz}" for name in CXR_LISTS for gz in ("", ".gz"))
    return (
        any(path.exists() for path in lists)
        or (folder / "files").is_dir()
        or (folder / "mimic-cxr-reports.zip").exists()
    )


def _holds_jpg(folder: Path) -> bool:
    return any(p.name.endswith((".csv", ".csv.gz")) for p in folder.glob("mimic-cxr-*.csv*"))


def _holds_mimiciv(folder: Path) -> bool:
    return any(_has_csv(folder / module) for module in MODULES)


def _holds_module(module: str) -> Callable[[Path], bool]:
    return lambda folder: _has_csv(folder / module) or (folder.name == module and _has_csv(folder))


SOURCES: dict[str, tuple[str, Callable[[Path], bool]]] = {
    "--mimic-cxr": ("no cxr-*-list.csv(.gz), files/ or mimic-cxr-reports.zip", _holds_mimic_cxr),
    "--mimic-cxr-jpg": ("no mimic-cxr-*.csv(.gz) files", _holds_jpg),
    "--mimiciv": ("no hosp/, icu/, ed/ or note/ folder of CSV files", _holds_mimiciv),
    "--mimiciv-ed": ("no ed/ folder of CSV files", _holds_module("ed")),
    "--mimiciv-note": ("no note/ folder of CSV files", _holds_module("note")),
}


def folder_problem(flag: str, folder: Path) -> str | None:
    """None when `folder` holds what `flag` reads; else one line saying what is missing
    and, where a neighbouring folder holds it, which folder to give instead."""
    if flag not in SOURCES:  # --concepts: checked where it is read
        return None
    missing, holds = SOURCES[flag]
    if holds(folder):
        return None
    where = folder.resolve()
    message = f"{flag} {folder}: {missing} there"
    if flag == "--mimiciv" and where.name in MODULES and _has_csv(where):
        module = f"{where} holds the {where.name} module's CSV files"
        return f"{message}; {module}: give its parent, {where.parent}"
    if holds(where.parent):
        return f"{message}; its parent holds them: give {where.parent}"
    inside = sorted(child for child in where.iterdir() if child.is_dir() and holds(child))
    if inside:
        return f"{message}; {inside[0]} holds them: give {flag} {inside[0]}"
    return message
