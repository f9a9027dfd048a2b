"""One chunk of the generator: a few thousand subjects, run in a worker process.

A chunk builds its patients' timelines, places each study in them, writes the
report files (and DICOMs) of its subjects, and returns the rows of every table.
Chunks are seeded by their index, so the output does not depend on how many
processes run them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from cxr_sql.mimic_ids import image_path, patient_folder, report_path
from cxr_sql.synth.dicom_writer import dicom_bytes
from cxr_sql.synth.imaging import Image, study_images
from cxr_sql.synth.patients import background_patient, cxr_patient
from cxr_sql.synth.placement import Situation, choose_slot, slots_of, time_in
from cxr_sql.synth.reports import negbio_labels, render_report
from cxr_sql.synth.timeline import IdPool, Ids, Patient


@dataclass(frozen=True)
class PlannedStudy:
    study_id: int
    n_images: int
    wanted: Situation
    hour_before: int | None = None  # force a clock hour below this
    spread_hours: bool = False  # images more than an hour apart


@dataclass(frozen=True)
class SubjectPlan:
    subject_id: int
    studies: tuple[PlannedStudy, ...]
    split: str


@dataclass(frozen=True)
class ChunkTask:
    index: int
    seed: int
    version: str
    out: Path  # the mimic-cxr source folder
    subjects: tuple[SubjectPlan, ...]
    background_ids: tuple[int, ...]
    hadm_ids: tuple[int, ...]
    stay_ids: tuple[int, ...]
    demo_patients: dict[int, Patient] | None = None
    dicom: bool = False
    dicom_gz: bool = False


@dataclass(frozen=True)
class Study:
    subject_id: int
    study_id: int
    time_ms: int
    situation: Situation
    hadm_id: int | None
    report: str
    chexpert: tuple[float | None, ...]
    negbio: tuple[float | None, ...]
    split: str
    images: tuple[Image, ...]


@dataclass
class ChunkResult:
    patients: list[Patient]  # synthetic patients, with or without MIMIC-IV rows
    studies: list[Study]


def run_chunk(task: ChunkTask) -> ChunkResult:
    rng = random.Random(f"cxr-sql-synth:{task.seed}:{task.index}")
    ids = Ids(hadm=IdPool(list(task.hadm_ids)), stay=IdPool(list(task.stay_ids)))
    patients: list[Patient] = []
    studies: list[Study] = []
    for plan in task.subjects:
        if task.demo_patients is not None and plan.subject_id in task.demo_patients:
            patient = task.demo_patients[plan.subject_id]
        else:
            wanted = [s.wanted for s in plan.studies]
            patient = cxr_patient(rng, plan.subject_id, ids, wanted, task.version)
            if task.demo_patients is not None:
                patient.in_mimiciv = False  # beside the demo, new subjects are held out
            patients.append(patient)
        studies += _studies_of(rng, patient, plan, task)
    for subject_id in task.background_ids:
        patients.append(background_patient(rng, subject_id, ids, task.version))
    return ChunkResult(patients, studies)


def _studies_of(
    rng: random.Random, patient: Patient, plan: SubjectPlan, task: ChunkTask
) -> list[Study]:
    slots = slots_of(patient)
    folder = task.out / patient_folder(plan.subject_id)
    folder.mkdir(parents=True, exist_ok=True)
    studies = []
    for planned in plan.studies:
        slot = choose_slot(rng, slots, planned.wanted)
        time_ms = time_in(rng, slot, planned.hour_before)
        images = study_images(rng, planned.n_images, time_ms, spread_hours=planned.spread_hours)
        report = render_report(rng)
        (task.out / report_path(plan.subject_id, planned.study_id)).write_text(
            report.text, encoding="utf-8"
        )
        if task.dicom:
            _write_dicoms(task, plan.subject_id, planned.study_id, images)
        studies.append(
            Study(
                subject_id=plan.subject_id,
                study_id=planned.study_id,
                time_ms=time_ms,
                situation=slot.situation,
                hadm_id=slot.hadm_id,
                report=report.text,
                chexpert=tuple(report.labels.values()),
                negbio=tuple(negbio_labels(rng, report.labels).values()),
                split=plan.split,
                images=tuple(images),
            )
        )
    return studies


def _write_dicoms(task: ChunkTask, subject_id: int, study_id: int, images: list[Image]) -> None:
    suffix = ".dcm.gz" if task.dicom_gz else ".dcm"
    for image in images:
        path = task.out / image_path(subject_id, study_id, image.dicom_id, suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(dicom_bytes(image, subject_id, study_id, gzipped=task.dicom_gz))
