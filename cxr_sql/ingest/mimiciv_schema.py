"""What a MIMIC-IV build reads: the default tables, optional columns of older files,
the release of a folder, a CSV's header. The column types are in cxr_sql.mimiciv_ddl.
"""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

# What the linking needs; anything else is loaded when asked for (--tables, --all).
DEFAULT_TABLES = {
    "hosp": ("patients", "admissions", "transfers"),
    "icu": ("icustays",),
    "ed": ("edstays",),
    "note": ("radiology", "radiology_detail"),
}

# Columns a release may lack (older files): in cxr_sql.mimiciv_ddl, optional on input.
OPTIONAL_COLUMNS = {
    ("hosp", "admissions"): {"admit_provider_id"},
    ("hosp", "labevents"): {"order_provider_id"},
    ("icu", "chartevents"): {"caregiver_id"},
}

_RELEASE_IN_PATH = re.compile(r"(?:^|[/_-])v?(2\.2|3\.0|3\.1)(?:$|[/_-])")


def release_from_path(folder: Path) -> str | None:
    """A release named in the folder path (`.../mimiciv/3.1/`, `mimic-iv-2.2`), if any."""
    match = _RELEASE_IN_PATH.search(str(folder.resolve()))
    return match.group(1) if match else None


def release_from_patients(patients_file: Path) -> str:
    """3.1 when anchor_year_group reaches 2020 - 2022 (added in 3.0), else 2.2; 3.1 when
    the file cannot be read (the hosp stage then stops on it, naming why)."""
    if not patients_file.is_file():
        return "3.1"
    try:
        with (
            gzip.open(patients_file, "rt")
            if patients_file.suffix == ".gz"
            else open(patients_file) as handle
        ):
            for line in handle:
                if "2020 - 2022" in line:
                    return "3.1"
    except (OSError, EOFError, UnicodeDecodeError, zlib.error):
        return "3.1"
    return "2.2"


def header_of(path: Path) -> list[str]:
    """The column names on the first line of a CSV(.gz)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8-sig") as handle:  # type: ignore[operator]
        return handle.readline().strip().split(",")
