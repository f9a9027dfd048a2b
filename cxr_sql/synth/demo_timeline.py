"""Patients of the real MIMIC-IV demo, read into the generator's timeline structures.

The demo (100 patients, hosp and icu modules, ODbL) has no ED module: ED stays
are derived from the admissions' ED registration times and from the ED rows of
transfers that belong to no admission.
"""

from __future__ import annotations

import calendar
import csv
import gzip
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from cxr_sql.synth.timeline import Admission, EdVisit, IcuStay, IdPool, Patient, Transfer

DEMO_TABLES = ("hosp/patients", "hosp/admissions", "hosp/transfers", "icu/icustays")


def _read(demo_dir: Path, table: str) -> list[dict[str, str]]:
    path = demo_dir / f"{table}.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; --mimiciv-demo needs {', '.join(DEMO_TABLES)}")
    with gzip.open(path, "rt", newline="") as handle:
        return list(csv.DictReader(handle))


def _seconds(text: str) -> int | None:
    if not text:
        return None
    return calendar.timegm(datetime.fromisoformat(text).timetuple())


def _required_seconds(text: str) -> int:
    value = _seconds(text)
    if value is None:
        raise ValueError("a required time is empty")
    return value


def load_demo_patients(demo_dir: Path, stay_ids: IdPool) -> list[Patient]:
    """Every demo patient with their admissions, transfers, ICU stays and ED visits.

    `stay_ids` supplies the stay_id of each derived ED stay; it must not collide
    with the demo's own transfer and stay identifiers.
    """
    transfers_by_hadm: dict[str, list[Transfer]] = defaultdict(list)
    ed_visits_by_subject: dict[str, list[EdVisit]] = defaultdict(list)
    for row in _read(demo_dir, "hosp/transfers"):
        transfer = Transfer(
            transfer_id=int(row["transfer_id"]),
            eventtype=row["eventtype"],
            careunit=row["careunit"] or None,
            intime=_required_seconds(row["intime"]),
            outtime=_seconds(row["outtime"]),
        )
        if row["hadm_id"]:
            transfers_by_hadm[row["hadm_id"]].append(transfer)
        elif transfer.eventtype == "ED" and transfer.outtime is not None:
            ed_visits_by_subject[row["subject_id"]].append(
                EdVisit(
                    stay_id=stay_ids.take(),
                    intime=transfer.intime,
                    outtime=transfer.outtime,
                    transfer_id=transfer.transfer_id,
                )
            )
    icu_by_hadm: dict[str, list[IcuStay]] = defaultdict(list)
    for row in _read(demo_dir, "icu/icustays"):
        icu_by_hadm[row["hadm_id"]].append(
            IcuStay(
                stay_id=int(row["stay_id"]),
                first_careunit=row["first_careunit"],
                last_careunit=row["last_careunit"],
                intime=_required_seconds(row["intime"]),
                outtime=_required_seconds(row["outtime"]),
            )
        )
    admissions_by_subject: dict[str, list[Admission]] = defaultdict(list)
    for row in _read(demo_dir, "hosp/admissions"):
        hadm = row["hadm_id"]
        admissions_by_subject[row["subject_id"]].append(
            Admission(
                hadm_id=int(hadm),
                admittime=_required_seconds(row["admittime"]),
                dischtime=_required_seconds(row["dischtime"]),
                edregtime=_seconds(row["edregtime"]),
                edouttime=_seconds(row["edouttime"]),
                deathtime=_seconds(row["deathtime"]),
                ed_stay_id=stay_ids.take() if row["edregtime"] else None,
                transfers=sorted(transfers_by_hadm[hadm], key=lambda t: t.intime),
                icu_stays=icu_by_hadm[hadm],
            )
        )
    patients = []
    for row in _read(demo_dir, "hosp/patients"):
        subject = row["subject_id"]
        patients.append(
            Patient(
                subject_id=int(subject),
                gender=row["gender"],
                anchor_age=int(row["anchor_age"]),
                anchor_year=int(row["anchor_year"]),
                anchor_year_group=row["anchor_year_group"],
                dod=_seconds(row["dod"]),
                admissions=sorted(admissions_by_subject[subject], key=lambda a: a.admittime),
                ed_visits=ed_visits_by_subject[subject],
            )
        )
    return sorted(patients, key=lambda p: p.subject_id)


def demo_identifiers(demo_dir: Path) -> set[int]:
    """Every transfer_id and stay_id the demo uses, to keep derived ED stay_ids apart."""
    used = {int(r["transfer_id"]) for r in _read(demo_dir, "hosp/transfers")}
    used |= {int(r["stay_id"]) for r in _read(demo_dir, "icu/icustays")}
    return used
