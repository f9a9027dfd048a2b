"""Build settings from four places: command-line flags, then a `cxr-sql.toml`, then
environment variables (MIMIC_CXR_DIR, ...), then the settings the warehouse's last
build recorded in build.json. The first that sets a value wins.

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
import json
import os
import tomllib
from dataclasses import fields
from pathlib import Path

from cxr_sql.build import BuildOptions, module_folder
from cxr_sql.publish import BUILD_JSON, read_build_record
from cxr_sql.table_choice import MODULES, TableChoiceError, check_droppable, check_names

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


CHOICES = {
    "mimiciv_version": ("2.2", "3.0", "3.1"),
    "reports_from": ("auto", "tree", "zip"),
    "dicom": ("auto", "yes", "no"),
}
SWITCHES = ("all", "dicom_all_tags")
MINIMUM = {"jobs": 1, "link_window_hours": 0}  # whole numbers


class ConfigError(Exception):
    """A config file that cannot be read, names an unknown setting or gives a bad value."""


def _problem(name: str, value: object) -> str | None:
    """What is wrong with one setting's value (None: nothing, or a setting not checked here)."""
    if name in CHOICES:
        if value not in CHOICES[name]:
            return f"must be one of {', '.join(json.dumps(c) for c in CHOICES[name])}"
    elif name in SWITCHES:
        if not isinstance(value, bool):
            return "must be true or false"
    elif name in MINIMUM:
        if isinstance(value, bool) or not isinstance(value, int) or value < MINIMUM[name]:
            return f"must be a whole number of at least {MINIMUM[name]}"
    elif name == "tables":
        if not isinstance(value, str) and not (
            isinstance(value, list) and all(isinstance(t, str) for t in value)
        ):
            return 'must be a list of table names, e.g. ["diagnoses_icd"]'
    elif (name == "warehouse" or name in SOURCE_VARIABLES) and not (
        isinstance(value, str) and value
    ):
        return "must be a folder, as a string"
    return None


def _validate(path: Path, config: dict) -> None:
    for name, value in config.items():
        problem = _problem(name, value)
        if problem:
            raise ConfigError(f"{path}: {name} = {json.dumps(value, default=str)}: {problem}")


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
    _validate(path, config)
    return config


def build_options(args: argparse.Namespace, config: dict) -> BuildOptions:
    """The settings of this build: each from its flag, else the config file, else the
    environment, else the last build's record in the warehouse (build.json), else its
    default. Tables add up: those remembered plus those given, less those dropped.
    """
    given_warehouse = args.warehouse or config.get("warehouse")
    warehouse = Path(given_warehouse) if given_warehouse is not None else Path("warehouse")
    record = _remembered_settings(warehouse)
    taken: list[str] = []

    def given(name: str):
        value = getattr(args, name)
        if value is not None:
            return value
        if name in config:
            return config[name]
        variable = SOURCE_VARIABLES.get(name)
        return os.environ[variable] if variable and os.environ.get(variable) else None

    def pick(name: str, default=None, recorded_as: str | None = None):
        value = given(name)
        if value is not None:
            return value
        value = record.get(recorded_as or name)
        if value is None:
            return default
        if value != default:
            taken.append(recorded_as or name)
        return value

    def path(name: str) -> Path | None:
        value = pick(name)
        return Path(value) if value is not None else None

    asked, dropped = _names(given("tables")), _names(getattr(args, "drop_tables", None))
    tables = _add_up(_names(record.get("tables")), asked, dropped)
    left_out = _add_up(_names(record.get("dropped_tables")), dropped, asked)
    taken += [
        name
        for name, value, own in (("tables", tables, asked), ("dropped_tables", left_out, dropped))
        if value != own
    ]
    mimiciv = path("mimiciv")
    if mimiciv is not None and str(mimiciv.resolve()) != record.get("mimiciv"):
        record.pop("mimiciv_version", None)  # the release remembered was another folder's
    options = BuildOptions(
        warehouse=warehouse,
        mimic_cxr=path("mimic_cxr"),
        mimic_cxr_jpg=path("mimic_cxr_jpg"),
        mimiciv=mimiciv,
        mimiciv_ed=path("mimiciv_ed"),
        mimiciv_note=path("mimiciv_note"),
        mimiciv_version=pick("mimiciv_version"),
        tables=tables,
        all_tables=bool(pick("all", False, recorded_as="all_tables")),
        dropped_tables=left_out,
        reports_from=pick("reports_from", "auto"),
        jobs=max(int(_or(given("jobs"), os.cpu_count() or 1)), 1),
        link_window_hours=pick("link_window_hours"),
        dicom=pick("dicom", "auto"),
        dicom_all_tags=bool(pick("dicom_all_tags", False)),
        concepts=path("concepts"),
        wait=args.wait,
        show_progress=not (args.quiet or args.json),
        remembered=tuple(sorted(taken, key=_OPTION_ORDER.index)),
    )
    folders = {module: module_folder(options, module) for module in MODULES}
    try:
        check_names("--tables", asked, folders)
        check_names("--drop-tables", dropped, folders)
        check_droppable(dropped)
    except TableChoiceError as error:
        raise ConfigError(str(error)) from None
    return options


_OPTION_ORDER = [f.name for f in fields(BuildOptions)]
_FLAGS = {"all_tables": "--all", "dropped_tables": "--drop-tables"}


def remembered_line(options: BuildOptions) -> str:
    """The settings taken from build.json, as flags: '--mimiciv /data/3.1, --tables a,b'."""
    shown = []
    for name in options.remembered:
        value = getattr(options, name)
        flag = _FLAGS.get(name, "--" + name.replace("_", "-"))
        if isinstance(value, tuple):
            value = ",".join(value)
        shown.append(flag if value is True else f"{flag} {value}")
    return ", ".join(shown)


def _remembered_settings(warehouse: Path) -> dict:
    """The settings the last published build of this warehouse recorded, if any."""
    try:
        record = read_build_record(warehouse)
    except (OSError, ValueError) as error:
        raise ConfigError(f"{warehouse / BUILD_JSON}: unreadable ({error})") from None
    settings = record.get("settings", {})
    return dict(settings) if isinstance(settings, dict) else {}


def _or(value, default):
    return default if value is None else value


def _names(value: str | list[str] | None) -> tuple[str, ...]:
    """Table names from a comma-separated flag or a list."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    return tuple(name.strip() for name in items if name.strip())


def _add_up(
    kept: tuple[str, ...], added: tuple[str, ...], removed: tuple[str, ...]
) -> tuple[str, ...]:
    """kept + added, in that order, without those removed (compared by table name)."""
    gone = {name.rpartition(".")[2] for name in removed}
    result: list[str] = []
    for name in (*kept, *added):
        if name.rpartition(".")[2] not in gone and name not in result:
            result.append(name)
    return tuple(result)
