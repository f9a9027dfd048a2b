"""Build settings from three places: command-line flags, then a `cxr-sql.toml`, then
environment variables (MIMIC_CXR_DIR, ...). The first that sets a value wins.

A `cxr-sql.toml` (found in the working directory, or named with --config) uses
the flags' names with underscores:

    warehouse = "/data/warehouse"
    mimic_cxr = "/data/physionet/mimic-cxr/2.1.0"
    mimiciv = "/data/physionet/mimiciv/3.1"
    tables = ["diagnoses_icd", "labevents"]
    concepts = "/src/mimic-code"     # mimic-code's concepts into mimiciv_derived
    link_window_hours = 48
"""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path

from cxr_sql.build import BuildOptions

CONFIG_FILE = "cxr-sql.toml"
SOURCE_VARIABLES = {
    "mimic_cxr": "MIMIC_CXR_DIR",
    "mimic_cxr_jpg": "MIMIC_CXR_JPG_DIR",
    "mimiciv": "MIMICIV_DIR",
    "mimiciv_ed": "MIMICIV_ED_DIR",
    "mimiciv_note": "MIMICIV_NOTE_DIR",
    "concepts": "MIMIC_CODE_DIR",
}
SETTINGS = (
    "warehouse", *SOURCE_VARIABLES, "mimiciv_version", "tables", "all", "reports_from", "jobs",
    "link_window_hours", "dicom", "dicom_all_tags",
)  # fmt: skip


class ConfigError(Exception):
    """A config file that cannot be read or names an unknown setting."""


def load_config(path: Path | None) -> dict:
    """The settings of the config file (the given one, else ./cxr-sql.toml if present)."""
    if path is None:
        path = Path(CONFIG_FILE)
        if not path.is_file():
            return {}
    try:
        config = tomllib.loads(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    unknown = sorted(set(config) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    return config


def build_options(args: argparse.Namespace, config: dict) -> BuildOptions:
    def pick(name: str, default=None):
        value = getattr(args, name)
        if value is not None:
            return value
        if name in config:
            return config[name]
        variable = SOURCE_VARIABLES.get(name)
        if variable and os.environ.get(variable):
            return os.environ[variable]
        return default

    def path(name: str) -> Path | None:
        value = pick(name)
        return Path(value) if value is not None else None

    tables = pick("tables", "")
    if isinstance(tables, str):
        tables = [t.strip() for t in tables.split(",") if t.strip()]
    return BuildOptions(
        warehouse=path("warehouse") or Path("warehouse"),
        mimic_cxr=path("mimic_cxr"),
        mimic_cxr_jpg=path("mimic_cxr_jpg"),
        mimiciv=path("mimiciv"),
        mimiciv_ed=path("mimiciv_ed"),
        mimiciv_note=path("mimiciv_note"),
        mimiciv_version=pick("mimiciv_version"),
        tables=tuple(tables),
        all_tables=bool(pick("all", False)),
        reports_from=pick("reports_from", "auto"),
        jobs=max(int(pick("jobs", os.cpu_count() or 1)), 1),
        link_window_hours=pick("link_window_hours"),
        dicom=pick("dicom", "auto"),
        dicom_all_tags=bool(pick("dicom_all_tags", False)),
        concepts=path("concepts"),
        wait=args.wait,
        show_progress=not (args.quiet or args.json),
    )
