"""MIMIC-IV tables (hosp, icu, ed, note) of the generated patients, as polars frames.

Columns and formats follow the published files: timestamps `YYYY-MM-DD HH:MM:SS`,
`dod` a date, empty fields for NULL. Descriptive columns (insurance, race, ...)
are drawn with numpy from value lists of the real vocabularies.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cxr_sql.synth.chunk import Study
from cxr_sql.synth.timeline import DAY, Patient

ADMISSION_TYPES = ("EW EMER.", "URGENT", "ELECTIVE", "OBSERVATION ADMIT", "EU OBSERVATION")
ADMISSION_LOCATIONS = (
    "EMERGENCY ROOM",
    "PHYSICIAN REFERRAL",
    "TRANSFER FROM HOSPITAL",
    "WALK-IN/SELF REFERRAL",
    "CLINIC REFERRAL",
)
DISCHARGE_LOCATIONS = ("HOME", "HOME HEALTH CARE", "SKILLED NURSING FACILITY", "REHAB", "")
INSURANCES = ("Medicare", "Medicaid", "Private", "Other")
LANGUAGES = ("ENGLISH", "?", "SPANISH")
MARITAL = ("MARRIED", "SINGLE", "WIDOWED", "DIVORCED", "")
RACES = ("WHITE", "BLACK/AFRICAN AMERICAN", "HISPANIC/LATINO - PUERTO RICAN", "ASIAN", "OTHER")
ARRIVAL = ("WALK IN", "AMBULANCE", "UNKNOWN", "HELICOPTER")


def _seconds_to_datetime(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    return frame.with_columns(pl.from_epoch(c, time_unit="s") for c in columns)


def _pick(rng: np.random.Generator, values: tuple[str, ...], n: int) -> list[str]:
    return rng.choice(np.array(values, dtype=object), size=n).tolist()


def patients_table(patients: list[Patient]) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "subject_id": [p.subject_id for p in patients],
            "gender": [p.gender for p in patients],
            "anchor_age": [p.anchor_age for p in patients],
            "anchor_year": [p.anchor_year for p in patients],
            "anchor_year_group": [p.anchor_year_group for p in patients],
            "dod": [p.dod for p in patients],
        },
        schema_overrides={"dod": pl.Int64},
    )
    return frame.with_columns(pl.from_epoch("dod", time_unit="s").dt.date())


def race_by_subject(rng: np.random.Generator, patients: list[Patient]) -> dict[int, str]:
    races = _pick(rng, RACES, len(patients))
    return {p.subject_id: race for p, race in zip(patients, races, strict=True)}


def admissions_table(
    rng: np.random.Generator, patients: list[Patient], race: dict[int, str]
) -> pl.DataFrame:
    rows = [(p.subject_id, a) for p in patients for a in p.admissions]
    n = len(rows)
    frame = pl.DataFrame(
        {
            "subject_id": [s for s, _ in rows],
            "hadm_id": [a.hadm_id for _, a in rows],
            "admittime": [a.admittime for _, a in rows],
            "dischtime": [a.dischtime for _, a in rows],
            "deathtime": [a.deathtime for _, a in rows],
            "admission_type": _pick(rng, ADMISSION_TYPES, n),
            "admit_provider_id": [f"P{v:05X}" for v in rng.integers(0, 0xFFFFF, size=n)],
            "admission_location": _pick(rng, ADMISSION_LOCATIONS, n),
            "discharge_location": [
                "DIED" if a.deathtime else loc
                for (_, a), loc in zip(rows, _pick(rng, DISCHARGE_LOCATIONS, n), strict=True)
            ],
            "insurance": _pick(rng, INSURANCES, n),
            "language": _pick(rng, LANGUAGES, n),
            "marital_status": _pick(rng, MARITAL, n),
            "race": [race[s] for s, _ in rows],
            "edregtime": [a.edregtime for _, a in rows],
            "edouttime": [a.edouttime for _, a in rows],
            "hospital_expire_flag": [int(a.deathtime is not None) for _, a in rows],
        },
        schema_overrides={c: pl.Int64 for c in ("deathtime", "edregtime", "edouttime")},
    )
    frame = frame.with_columns(pl.col(pl.String).replace("", None))
    return _seconds_to_datetime(
        frame, ["admittime", "dischtime", "deathtime", "edregtime", "edouttime"]
    )


def transfers_table(patients: list[Patient]) -> pl.DataFrame:
    rows = [
        (p.subject_id, a.hadm_id, t.transfer_id, t.eventtype, t.careunit, t.intime, t.outtime)
        for p in patients
        for a in p.admissions
        for t in a.transfers
    ]
    rows += [
        (p.subject_id, None, v.transfer_id, "ED", "Emergency Department", v.intime, v.outtime)
        for p in patients
        for v in p.ed_visits
        if v.transfer_id is not None
    ]
    columns = ["subject_id", "hadm_id", "transfer_id", "eventtype", "careunit", "intime", "outtime"]
    schema = dict.fromkeys(columns, pl.Int64) | {"eventtype": pl.String, "careunit": pl.String}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    return _seconds_to_datetime(frame, ["intime", "outtime"])


def icustays_table(patients: list[Patient]) -> pl.DataFrame:
    rows = [
        (
            p.subject_id,
            a.hadm_id,
            s.stay_id,
            s.first_careunit,
            s.last_careunit,
            s.intime,
            s.outtime,
            (s.outtime - s.intime) / DAY,
        )
        for p in patients
        for a in p.admissions
        for s in a.icu_stays
    ]
    columns = ["subject_id", "hadm_id", "stay_id", "first_careunit", "last_careunit"]
    schema = dict.fromkeys(columns[:3], pl.Int64) | dict.fromkeys(columns[3:], pl.String)
    schema |= {"intime": pl.Int64, "outtime": pl.Int64, "los": pl.Float64}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    return _seconds_to_datetime(frame, ["intime", "outtime"])


def edstays_table(
    rng: np.random.Generator, patients: list[Patient], race: dict[int, str]
) -> pl.DataFrame:
    """MIMIC-IV-ED edstays: one row per ED visit, admitted or not."""
    rows = [
        (p.subject_id, a.hadm_id, a.ed_stay_id, a.edregtime, a.edouttime, p.gender, "ADMITTED")
        for p in patients
        for a in p.admissions
        if a.ed_stay_id is not None
    ]
    rows += [
        (p.subject_id, None, v.stay_id, v.intime, v.outtime, p.gender, "HOME")
        for p in patients
        for v in p.ed_visits
    ]
    rows.sort(key=lambda r: (r[0], r[3]))
    n = len(rows)
    frame = pl.DataFrame(
        {
            "subject_id": [r[0] for r in rows],
            "hadm_id": [r[1] for r in rows],
            "stay_id": [r[2] for r in rows],
            "intime": [r[3] for r in rows],
            "outtime": [r[4] for r in rows],
            "gender": [r[5] for r in rows],
            "race": [race[r[0]] for r in rows],
            "arrival_transport": _pick(rng, ARRIVAL, n),
            "disposition": [r[6] for r in rows],
        },
        schema_overrides={"hadm_id": pl.Int64, "stay_id": pl.Int64},
    )
    return _seconds_to_datetime(frame, ["intime", "outtime"])


def radiology_tables(
    rng: np.random.Generator, studies: list[Study], in_mimiciv: set[int]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """MIMIC-IV-Note radiology and radiology_detail: one note per x-ray report.

    note_id is `<subject_id>-RR-<seq>`, numbered in time order per subject.
    """
    ordered = sorted(
        (s for s in studies if s.subject_id in in_mimiciv), key=lambda s: (s.subject_id, s.time_ms)
    )
    note_ids, seqs = [], []
    previous, seq = None, 0
    for study in ordered:
        seq = seq + 1 if study.subject_id == previous else 1
        previous = study.subject_id
        note_ids.append(f"{study.subject_id}-RR-{seq}")
        seqs.append(seq)
    charttime = [s.time_ms // 60_000 * 60 for s in ordered]
    delay = rng.integers(20 * 60, 8 * 3600, size=len(ordered)).tolist()
    notes = pl.DataFrame(
        {
            "note_id": note_ids,
            "subject_id": [s.subject_id for s in ordered],
            "hadm_id": [s.hadm_id for s in ordered],
            "note_type": ["RR"] * len(ordered),
            "note_seq": seqs,
            "charttime": charttime,
            "storetime": [c + d for c, d in zip(charttime, delay, strict=True)],
            "text": [s.report for s in ordered],
        },
        schema_overrides={"hadm_id": pl.Int64, "charttime": pl.Int64, "storetime": pl.Int64},
    )
    notes = _seconds_to_datetime(notes, ["charttime", "storetime"])
    procedure = [s.images[0].procedure for s in ordered]
    details = pl.concat(
        [
            pl.DataFrame(
                {
                    "note_id": note_ids,
                    "subject_id": notes["subject_id"],
                    "field_name": [field] * len(ordered),
                    "field_value": values,
                    "field_ordinal": [1] * len(ordered),
                }
            )
            for field, values in (
                ("exam_code", ["C12" if "PORTABLE" in p else "C11" for p in procedure]),
                ("exam_name", procedure),
                ("cpt_code", ["71045" if "PORTABLE" in p else "71046" for p in procedure]),
            )
        ]
    ).sort("note_id", "field_name", maintain_order=True)
    return notes, details
