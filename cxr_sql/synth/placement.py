"""Where in a patient's timeline a chest x-ray is taken.

Each situation the linking views must handle is a kind of slot: a time interval
of one patient in which an x-ray falls into exactly that situation. Slots are
derived from the timeline alone, so a synthetic timeline and the real MIMIC-IV
demo timeline are treated alike.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from cxr_sql.synth.timeline import DAY, HOUR, ICU_CAREUNITS, Patient


class Situation(StrEnum):
    DURING_ADMISSION = "during_admission"  # on a ward, outside ED and ICU
    ED_BEFORE_ADMISSION = "ed_before_admission"  # edregtime <= t < admittime
    ED_ONLY = "ed_only"  # an ED visit that did not lead to an admission
    ICU = "icu"
    BETWEEN_STAYS = "between_stays"  # in no admission, ED or ICU window
    OVERLAPPING_STAYS = "overlapping_stays"  # inside two stays at once
    NO_MIMICIV = "no_mimiciv"  # the subject has no MIMIC-IV rows


@dataclass(frozen=True)
class Slot:
    situation: Situation
    start: int
    end: int  # exclusive
    hadm_id: int | None


# When a timeline has no slot of the wanted situation (the real demo timeline
# decides what exists), the first available one of this order is used instead.
FALLBACK_ORDER = (
    Situation.DURING_ADMISSION,
    Situation.ICU,
    Situation.ED_BEFORE_ADMISSION,
    Situation.ED_ONLY,
    Situation.BETWEEN_STAYS,
)

_ICU_UNITS = frozenset(ICU_CAREUNITS)


def _is_icu_unit(careunit: str | None) -> bool:
    return careunit is not None and (careunit in _ICU_UNITS or "Intensive Care" in careunit)


def slots_of(patient: Patient) -> dict[Situation, list[Slot]]:
    """Every slot of the patient's timeline, by situation."""
    if not patient.in_mimiciv:
        return {Situation.NO_MIMICIV: [Slot(Situation.NO_MIMICIV, *_free_span(patient), None)]}
    slots: dict[Situation, list[Slot]] = {s: [] for s in Situation}
    for adm in patient.admissions:
        icu_spans = [(s.intime, s.outtime) for s in adm.icu_stays]
        for stay in adm.icu_stays:
            slots[Situation.ICU].append(Slot(Situation.ICU, stay.intime, stay.outtime, adm.hadm_id))
        for tr in adm.transfers:
            if tr.eventtype not in ("admit", "transfer") or tr.outtime is None:
                continue
            if _is_icu_unit(tr.careunit) or tr.careunit == "Emergency Department":
                continue
            start = max(tr.intime, adm.admittime, adm.edouttime or adm.admittime)
            end = min(tr.outtime, adm.dischtime)
            if end - start > HOUR and not any(s < end and start < e for s, e in icu_spans):
                slots[Situation.DURING_ADMISSION].append(
                    Slot(Situation.DURING_ADMISSION, start, end, adm.hadm_id)
                )
        if adm.edregtime is not None and adm.edregtime < adm.admittime:
            slots[Situation.ED_BEFORE_ADMISSION].append(
                Slot(Situation.ED_BEFORE_ADMISSION, adm.edregtime, adm.admittime, adm.hadm_id)
            )
    for visit in patient.ed_visits:
        slots[Situation.ED_ONLY].append(Slot(Situation.ED_ONLY, visit.intime, visit.outtime, None))
    slots[Situation.OVERLAPPING_STAYS] = _overlaps(patient)
    slots[Situation.BETWEEN_STAYS] = _gaps(patient)
    return slots


def _overlaps(patient: Patient) -> list[Slot]:
    """Times inside two admissions at once or, where no admissions overlap (as in the
    real demo), inside an ED stay after the admission it led to had begun."""
    found = []
    adms = sorted(patient.admissions, key=lambda a: a.admittime)
    for i, first in enumerate(adms):
        for second in adms[i + 1 :]:
            start, end = second.admittime, min(first.dischtime, second.dischtime)
            if start < end:
                found.append(Slot(Situation.OVERLAPPING_STAYS, start, end, second.hadm_id))
    if found:
        return found
    return [
        Slot(Situation.OVERLAPPING_STAYS, a.admittime, a.edouttime, a.hadm_id)
        for a in adms
        if a.edouttime is not None and a.admittime < a.edouttime
    ]


def _gaps(patient: Patient) -> list[Slot]:
    """Times at least a day away from any admission or ED visit."""
    gaps = []
    spans = patient.busy_intervals()
    if spans:
        first = spans[0][0]
        gaps.append(Slot(Situation.BETWEEN_STAYS, first - 60 * DAY, first - DAY, None))
    reach = spans[0][1] if spans else 0
    for start, end in spans[1:]:
        if start - reach > 3 * DAY:
            gaps.append(Slot(Situation.BETWEEN_STAYS, reach + DAY, start - DAY, None))
        reach = max(reach, end)
    return gaps


def _free_span(patient: Patient) -> tuple[int, int]:
    spans = patient.busy_intervals()
    start = spans[0][0] if spans else 0
    return start, start + 2 * 365 * DAY


def choose_slot(rng: random.Random, slots: dict[Situation, list[Slot]], wanted: Situation) -> Slot:
    """A slot of the wanted situation, or of the first available fallback."""
    for situation in (wanted, *FALLBACK_ORDER, Situation.NO_MIMICIV):
        candidates = slots.get(situation)
        if candidates:
            return rng.choice(candidates)
    raise ValueError("the timeline has no slot at all")


def time_in(rng: random.Random, slot: Slot, hour_before: int | None = None) -> int:
    """A time inside the slot; with `hour_before`, one whose clock hour is below it.

    The millisecond part is kept: MIMIC-CXR StudyTime values carry fractions.
    """
    span = max(slot.end - slot.start - 1, 1)
    t = slot.start + rng.randrange(span)
    if hour_before is not None:
        day_start = slot.start - slot.start % DAY
        while day_start < slot.end:
            candidate = day_start + rng.randrange(hour_before * HOUR)
            if slot.start <= candidate < slot.end:
                return candidate * 1000 + rng.randrange(1000)
            day_start += DAY
    return t * 1000 + rng.randrange(1000)
