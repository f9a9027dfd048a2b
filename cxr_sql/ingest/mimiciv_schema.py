"""Column types of the MIMIC-IV tables, from the published DDL (mimic-code buildmimic).

Types are DuckDB's for the DDL's: INTEGER ids, SMALLINT flags and versions,
TIMESTAMP times, DATE for dod and chartdate (as on BigQuery), DOUBLE for
FLOAT/REAL/NUMERIC, VARCHAR for text. A table not listed here is still loaded on
request, with DuckDB's type detection; build.json says which tables were typed
by inference.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

INT, INT2, FLOAT, TS, TEXT, DATE = "INTEGER", "SMALLINT", "DOUBLE", "TIMESTAMP", "VARCHAR", "DATE"

# What the linking needs; anything else is loaded when asked for (--tables, --all).
DEFAULT_TABLES = {
    "hosp": ("patients", "admissions", "transfers"),
    "icu": ("icustays",),
    "ed": ("edstays",),
    "note": ("radiology", "radiology_detail"),
}

_NOTE = {
    "note_id": TEXT,
    "subject_id": INT,
    "hadm_id": INT,
    "note_type": TEXT,
    "note_seq": INT,
    "charttime": TS,
    "storetime": TS,
    "text": TEXT,
}
_NOTE_DETAIL = {
    "note_id": TEXT,
    "subject_id": INT,
    "field_name": TEXT,
    "field_value": TEXT,
    "field_ordinal": INT,
}

TABLES: dict[str, dict[str, dict[str, str]]] = {
    "hosp": {
        "patients": {
            "subject_id": INT,
            "gender": TEXT,
            "anchor_age": INT2,
            "anchor_year": INT2,
            "anchor_year_group": TEXT,
            "dod": DATE,
        },
        "admissions": {
            "subject_id": INT,
            "hadm_id": INT,
            "admittime": TS,
            "dischtime": TS,
            "deathtime": TS,
            "admission_type": TEXT,
            "admit_provider_id": TEXT,
            "admission_location": TEXT,
            "discharge_location": TEXT,
            "insurance": TEXT,
            "language": TEXT,
            "marital_status": TEXT,
            "race": TEXT,
            "edregtime": TS,
            "edouttime": TS,
            "hospital_expire_flag": INT2,
        },
        "transfers": {
            "subject_id": INT,
            "hadm_id": INT,
            "transfer_id": INT,
            "eventtype": TEXT,
            "careunit": TEXT,
            "intime": TS,
            "outtime": TS,
        },
        "diagnoses_icd": {
            "subject_id": INT,
            "hadm_id": INT,
            "seq_num": INT,
            "icd_code": TEXT,
            "icd_version": INT2,
        },
        "d_icd_diagnoses": {"icd_code": TEXT, "icd_version": INT2, "long_title": TEXT},
        "procedures_icd": {
            "subject_id": INT,
            "hadm_id": INT,
            "seq_num": INT,
            "chartdate": DATE,
            "icd_code": TEXT,
            "icd_version": INT2,
        },
        "d_icd_procedures": {"icd_code": TEXT, "icd_version": INT2, "long_title": TEXT},
        "services": {
            "subject_id": INT,
            "hadm_id": INT,
            "transfertime": TS,
            "prev_service": TEXT,
            "curr_service": TEXT,
        },
        "d_labitems": {"itemid": INT, "label": TEXT, "fluid": TEXT, "category": TEXT},
        "labevents": {
            "labevent_id": INT,
            "subject_id": INT,
            "hadm_id": INT,
            "specimen_id": INT,
            "itemid": INT,
            "order_provider_id": TEXT,
            "charttime": TS,
            "storetime": TS,
            "value": TEXT,
            "valuenum": FLOAT,
            "valueuom": TEXT,
            "ref_range_lower": FLOAT,
            "ref_range_upper": FLOAT,
            "flag": TEXT,
            "priority": TEXT,
            "comments": TEXT,
        },
        "omr": {
            "subject_id": INT,
            "chartdate": DATE,
            "seq_num": INT,
            "result_name": TEXT,
            "result_value": TEXT,
        },
        "provider": {"provider_id": TEXT},
    },
    "icu": {
        "icustays": {
            "subject_id": INT,
            "hadm_id": INT,
            "stay_id": INT,
            "first_careunit": TEXT,
            "last_careunit": TEXT,
            "intime": TS,
            "outtime": TS,
            "los": FLOAT,
        },
        "d_items": {
            "itemid": INT,
            "label": TEXT,
            "abbreviation": TEXT,
            "linksto": TEXT,
            "category": TEXT,
            "unitname": TEXT,
            "param_type": TEXT,
            "lownormalvalue": FLOAT,
            "highnormalvalue": FLOAT,
        },
        "chartevents": {
            "subject_id": INT,
            "hadm_id": INT,
            "stay_id": INT,
            "caregiver_id": INT,
            "charttime": TS,
            "storetime": TS,
            "itemid": INT,
            "value": TEXT,
            "valuenum": FLOAT,
            "valueuom": TEXT,
            "warning": INT2,
        },
        "caregiver": {"caregiver_id": INT},
    },
    "ed": {
        "edstays": {
            "subject_id": INT,
            "hadm_id": INT,
            "stay_id": INT,
            "intime": TS,
            "outtime": TS,
            "gender": TEXT,
            "race": TEXT,
            "arrival_transport": TEXT,
            "disposition": TEXT,
        },
        "triage": {
            "subject_id": INT,
            "stay_id": INT,
            "temperature": FLOAT,
            "heartrate": FLOAT,
            "resprate": FLOAT,
            "o2sat": FLOAT,
            "sbp": FLOAT,
            "dbp": FLOAT,
            "pain": TEXT,
            "acuity": FLOAT,
            "chiefcomplaint": TEXT,
        },
        "vitalsign": {
            "subject_id": INT,
            "stay_id": INT,
            "charttime": TS,
            "temperature": FLOAT,
            "heartrate": FLOAT,
            "resprate": FLOAT,
            "o2sat": FLOAT,
            "sbp": FLOAT,
            "dbp": FLOAT,
            "rhythm": TEXT,
            "pain": TEXT,
        },
        "diagnosis": {
            "subject_id": INT,
            "stay_id": INT,
            "seq_num": INT,
            "icd_code": TEXT,
            "icd_version": INT2,
            "icd_title": TEXT,
        },
    },
    "note": {
        "radiology": _NOTE,
        "radiology_detail": _NOTE_DETAIL,
        "discharge": _NOTE,
        "discharge_detail": _NOTE_DETAIL,
    },
}

# Columns a release may lack (older files): present in the DDL above, optional on input.
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
    """3.1 when anchor_year_group reaches 2020 - 2022 (added in 3.0), else 2.2."""
    with (
        gzip.open(patients_file, "rt")
        if patients_file.suffix == ".gz"
        else open(patients_file) as handle
    ):
        for line in handle:
            if "2020 - 2022" in line:
                return "3.1"
    return "2.2"


def header_of(path: Path) -> list[str]:
    """The column names on the first line of a CSV(.gz)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:  # type: ignore[operator]
        return handle.readline().strip().split(",")
