"""One patient's hospital timeline: admissions, transfers, ICU stays and ED visits.

Times are whole seconds since 1970-01-01 (shifted MIMIC years, 2110 to 2210, fit
easily). The same structures hold a synthetic timeline and one read from the real
MIMIC-IV demo, so that studies are placed in both by the same code.
"""

from __future__ import annotations

import calendar
import random
from dataclasses import dataclass, field

HOUR = 3600
DAY = 24 * HOUR

ED_CAREUNIT = "Emergency Department"
WARD_CAREUNITS = (
    "Medicine",
    "Med/Surg",
    "Medicine/Cardiology",
    "Neurology",
    "Cardiac Surgery",
    "Transplant",
    "Hematology/Oncology",
    "Vascular",
    "Med/Surg/Trauma",
    "PACU",
    "Discharge Lounge",
)
ICU_CAREUNITS = (
    "Medical Intensive Care Unit (MICU)",
    "Surgical Intensive Care Unit (SICU)",
    "Medical/Surgical Intensive Care Unit (MICU/SICU)",
    "Cardiac Vascular Intensive Care Unit (CVICU)",
    "Coronary Care Unit (CCU)",
    "Trauma SICU (TSICU)",
    "Neuro Surgical Intensive Care Unit (Neuro SICU)",
)


class IdPool:
    """Hands out pre-drawn unique identifiers in order."""

    def __init__(self, ids: list[int]) -> None:
        self._ids = ids
        self._next = 0

    def take(self) -> int:
        value = self._ids[self._next]
        self._next += 1
        return value


@dataclass
class Transfer:
    transfer_id: int
    eventtype: str  # ED, admit, transfer, discharge: as the real files spell them
    careunit: str | None
    intime: int
    outtime: int | None


@dataclass
class IcuStay:
    stay_id: int
    first_careunit: str
    last_careunit: str
    intime: int
    outtime: int


@dataclass
class Admission:
    hadm_id: int
    admittime: int
    dischtime: int
    edregtime: int | None = None
    edouttime: int | None = None
    deathtime: int | None = None
    ed_stay_id: int | None = None
    transfers: list[Transfer] = field(default_factory=list)
    icu_stays: list[IcuStay] = field(default_factory=list)


@dataclass
class EdVisit:
    """An ED visit that did not lead to an admission."""

    stay_id: int
    intime: int
    outtime: int
    transfer_id: int | None = None


@dataclass
class Patient:
    subject_id: int
    gender: str
    anchor_age: int
    anchor_year: int
    anchor_year_group: str
    dod: int | None = None
    in_mimiciv: bool = True
    admissions: list[Admission] = field(default_factory=list)
    ed_visits: list[EdVisit] = field(default_factory=list)

    def busy_intervals(self) -> list[tuple[int, int]]:
        """Every interval the patient spent in hospital or ED, sorted by start."""
        spans = [
            (
                min(a.admittime, a.edregtime or a.admittime),
                max(a.dischtime, a.edouttime or a.dischtime),
            )
            for a in self.admissions
        ]
        spans += [(v.intime, v.outtime) for v in self.ed_visits]
        return sorted(spans)


@dataclass
class Ids:
    """The identifier pools a chunk of the generator draws from."""

    hadm: IdPool
    stay: IdPool  # transfer_id, ICU stay_id and ED stay_id share one range, as in MIMIC-IV


def seconds_of_year(year: int) -> int:
    """Seconds from 1970-01-01 to 1 January of `year`."""
    return calendar.timegm((year, 1, 1, 0, 0, 0))


def add_admission(
    rng: random.Random,
    patient: Patient,
    ids: Ids,
    start: int,
    *,
    with_ed: bool,
    with_icu: bool,
) -> Admission:
    """An admission starting at `start`, with its transfers and ICU stay; returns it.

    With an ED visit, the patient registers in the ED a few hours before the
    admission time and leaves the ED after it, as in MIMIC-IV: the ED transfer row
    runs from edregtime to edouttime, and the first ward row starts at edouttime.
    """
    admittime = start
    edregtime = edouttime = None
    transfers: list[Transfer] = []
    if with_ed:
        edregtime = admittime - rng.randint(2 * HOUR, 10 * HOUR)
        edouttime = admittime + rng.randint(20 * 60, 3 * HOUR)
        transfers.append(Transfer(ids.stay.take(), "ED", ED_CAREUNIT, edregtime, edouttime))
    clock = edouttime or admittime
    icu_stays: list[IcuStay] = []
    eventtype = "admit"
    if with_icu:
        ward_before = rng.random() < 0.5
        if ward_before:
            end = clock + rng.randint(3 * HOUR, 2 * DAY)
            transfers.append(
                Transfer(ids.stay.take(), eventtype, rng.choice(WARD_CAREUNITS), clock, end)
            )
            clock, eventtype = end, "transfer"
        units = [rng.choice(ICU_CAREUNITS)]
        if rng.random() < 0.15:
            units.append(rng.choice(ICU_CAREUNITS))
        icu_in = clock
        for unit in units:
            end = clock + rng.randint(12 * HOUR, 5 * DAY)
            transfers.append(Transfer(ids.stay.take(), eventtype, unit, clock, end))
            clock, eventtype = end, "transfer"
        icu_stays.append(IcuStay(ids.stay.take(), units[0], units[-1], icu_in, clock))
    for _ in range(rng.choices((1, 2, 3, 4), weights=(30, 30, 25, 15))[0]):
        end = clock + rng.randint(1 * DAY, 6 * DAY)
        transfers.append(
            Transfer(ids.stay.take(), eventtype, rng.choice(WARD_CAREUNITS), clock, end)
        )
        clock, eventtype = end, "transfer"
    dischtime = clock
    transfers.append(Transfer(ids.stay.take(), "discharge", None, dischtime, None))
    admission = Admission(
        hadm_id=ids.hadm.take(),
        admittime=admittime,
        dischtime=dischtime,
        edregtime=edregtime,
        edouttime=edouttime,
        ed_stay_id=ids.stay.take() if with_ed else None,
        transfers=transfers,
        icu_stays=icu_stays,
    )
    patient.admissions.append(admission)
    return admission


def add_ed_visit(rng: random.Random, patient: Patient, ids: Ids, start: int) -> EdVisit:
    """An ED visit that ends with the patient going home."""
    visit = EdVisit(
        stay_id=ids.stay.take(),
        intime=start,
        outtime=start + rng.randint(2 * HOUR, 12 * HOUR),
        transfer_id=ids.stay.take(),
    )
    patient.ed_visits.append(visit)
    return visit


def end_of(patient: Patient) -> int:
    """When the patient's last hospital or ED event ends (0 with none)."""
    spans = patient.busy_intervals()
    return max((end for _, end in spans), default=0)
