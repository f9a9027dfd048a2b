"""Synthetic patients: a timeline built so that each wanted situation has a slot."""

from __future__ import annotations

import random

from cxr_sql.synth.placement import Situation
from cxr_sql.synth.timeline import (
    DAY,
    HOUR,
    Admission,
    Ids,
    Patient,
    add_admission,
    add_ed_visit,
    end_of,
    seconds_of_year,
)

YEAR_GROUPS = {
    "2.2": ("2008 - 2010", "2011 - 2013", "2014 - 2016", "2017 - 2019"),
    # MIMIC-IV 3.x added the years up to 2022.
    "3.1": ("2008 - 2010", "2011 - 2013", "2014 - 2016", "2017 - 2019", "2020 - 2022"),
}

# Shares tuned so that the full scale lands near MIMIC-IV 3.1's row counts.
ICU_SHARE = 0.14  # of admissions
ED_SHARE = 0.55  # of admissions that came through the ED


def new_patient(rng: random.Random, subject_id: int, version: str) -> Patient:
    return Patient(
        subject_id=subject_id,
        gender=rng.choice("FM"),
        anchor_age=rng.randint(18, 91),
        anchor_year=rng.randint(2110, 2200),
        anchor_year_group=rng.choice(YEAR_GROUPS[version]),
    )


def _next_start(rng: random.Random, patient: Patient) -> int:
    """A time after everything the patient has done so far."""
    last = end_of(patient)
    if last == 0:
        return seconds_of_year(patient.anchor_year) + rng.randrange(300 * DAY)
    return last + rng.randint(10 * DAY, 400 * DAY)


def _can_host(adm: Admission, situation: Situation) -> bool:
    if situation is Situation.DURING_ADMISSION:
        return True
    if situation is Situation.ICU:
        return bool(adm.icu_stays)
    if situation is Situation.ED_BEFORE_ADMISSION:
        return adm.edregtime is not None
    return False


def cxr_patient(
    rng: random.Random,
    subject_id: int,
    ids: Ids,
    wanted: list[Situation],
    version: str,
) -> Patient:
    """A patient whose timeline has a slot for every wanted situation."""
    patient = new_patient(rng, subject_id, version)
    last: Admission | None = None
    for situation in wanted:
        if last is not None and _can_host(last, situation) and rng.random() < 0.6:
            continue
        start = _next_start(rng, patient)
        if situation is Situation.ED_ONLY:
            add_ed_visit(rng, patient, ids, start)
            last = None
        elif situation is Situation.OVERLAPPING_STAYS:
            first = add_admission(rng, patient, ids, start, with_ed=False, with_icu=False)
            half = max((first.dischtime - first.admittime) // 2, 3 * HOUR)
            second_start = first.admittime + rng.randint(2 * HOUR, half)
            last = add_admission(rng, patient, ids, second_start, with_ed=False, with_icu=False)
        elif situation in (Situation.BETWEEN_STAYS, Situation.NO_MIMICIV):
            # A gap needs a stay to be between: the x-ray is placed before the first one.
            if not patient.admissions and not patient.ed_visits:
                last = _random_admission(rng, patient, ids, start)
        else:
            last = add_admission(
                rng,
                patient,
                ids,
                start,
                with_ed=situation is Situation.ED_BEFORE_ADMISSION or rng.random() < ED_SHARE,
                with_icu=situation is Situation.ICU or rng.random() < ICU_SHARE / 2,
            )
    _maybe_die(rng, patient)
    patient.in_mimiciv = Situation.NO_MIMICIV not in wanted
    return patient


def background_patient(rng: random.Random, subject_id: int, ids: Ids, version: str) -> Patient:
    """A MIMIC-IV patient with no chest x-ray: admissions and ED visits only."""
    patient = new_patient(rng, subject_id, version)
    n_admissions = rng.choices((0, 1, 2, 3, 4, 6), weights=(30, 38, 15, 8, 6, 3))[0]
    n_ed_visits = rng.choices((0, 1, 2, 3), weights=(74, 19, 5, 2))[0]
    events = ["adm"] * n_admissions + ["ed"] * n_ed_visits
    rng.shuffle(events)
    for event in events:
        start = _next_start(rng, patient)
        if event == "ed":
            add_ed_visit(rng, patient, ids, start)
        else:
            _random_admission(rng, patient, ids, start)
    _maybe_die(rng, patient)
    return patient


def _random_admission(rng: random.Random, patient: Patient, ids: Ids, start: int) -> Admission:
    return add_admission(
        rng,
        patient,
        ids,
        start,
        with_ed=rng.random() < ED_SHARE,
        with_icu=rng.random() < ICU_SHARE,
    )


def _maybe_die(rng: random.Random, patient: Patient) -> None:
    """About one patient in ten dies, a third of them in hospital."""
    if rng.random() >= 0.1 or not patient.admissions:
        return
    last = max(patient.admissions, key=lambda a: a.dischtime)
    if rng.random() < 0.33:
        last.deathtime = last.dischtime
        patient.dod = last.dischtime
    else:
        patient.dod = end_of(patient) + rng.randint(DAY, 700 * DAY)
