"""`cxr-sql synth`: plan a cohort, run its chunks in parallel, write every source file.

Layout written under the output folder, as PhysioNet distributes the files:

    mimic-cxr/       cxr-record-list.csv.gz, cxr-study-list.csv.gz, files/, mimic-cxr-reports.zip
    mimic-cxr-jpg/   mimic-cxr-2.0.0-{metadata,chexpert,negbio,split}.csv.gz
    mimiciv/         hosp/, icu/, ed/, note/
    truth/           where the generator placed each study (not a PhysioNet file)
    synth.json       options and counts of this run
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from cxr_sql import __version__
from cxr_sql.mimic_ids import STUDY_ID_RANGE, SUBJECT_ID_RANGE
from cxr_sql.synth import cxr_tables, mimiciv_tables
from cxr_sql.synth.archive import csv_gz_bytes, write_bytes, write_zip
from cxr_sql.synth.chunk import ChunkResult, ChunkTask, PlannedStudy, Study, SubjectPlan, run_chunk
from cxr_sql.synth.demo_timeline import demo_identifiers, load_demo_patients
from cxr_sql.synth.placement import Situation
from cxr_sql.synth.scale import FULL_IMAGES, FULL_STUDIES, FULL_SUBJECTS, Scale
from cxr_sql.synth.timeline import IdPool, Patient

ID_SPAN = 10_000_000
HADM_BASE, STAY_BASE = 20_000_000, 30_000_000
OUTPUTS = ("mimic-cxr", "mimic-cxr-jpg", "mimiciv", "truth", "synth.json")

# The first subjects in MIMIC-IV each get one of these for their first study, so
# that every case the linking must handle exists at every scale.
COVERAGE = (
    Situation.DURING_ADMISSION,
    Situation.ED_BEFORE_ADMISSION,
    Situation.ED_ONLY,
    Situation.ICU,
    Situation.BETWEEN_STAYS,
    Situation.OVERLAPPING_STAYS,
)
HOUR_CASES = (1, 10)  # a study before 01:00 and one before 10:00
SITUATION_WEIGHTS = {
    Situation.DURING_ADMISSION: 42,
    Situation.ICU: 20,
    Situation.ED_BEFORE_ADMISSION: 10,
    Situation.ED_ONLY: 8,
    Situation.BETWEEN_STAYS: 19,
    Situation.OVERLAPPING_STAYS: 1,
}
SPLITS = ("train", "validate", "test")
SPLIT_SHARES = (0.978, 0.008, 0.014)


@dataclass(frozen=True)
class SynthOptions:
    out: Path
    scale: Scale
    seed: int = 0
    mimiciv_version: str = "3.1"
    mimiciv_demo: Path | None = None
    dicom: bool = False
    dicom_gz: bool = False
    jobs: int = 2
    force: bool = False
    # Subjects per worker task. Chunks are seeded by index: the output depends on this
    # size, never on the number of jobs.
    chunk_subjects: int = 2000


class OutputNotEmpty(Exception):
    """The output folder already holds generated sources."""


def generate(options: SynthOptions) -> dict:
    """Write every source file; returns the manifest also written to synth.json."""
    _prepare_output(options.out, options.force)
    rng = np.random.default_rng(options.seed)
    demo_patients: list[Patient] = []
    if options.mimiciv_demo is not None:
        used = demo_identifiers(options.mimiciv_demo)
        stay_ids = _id_pool(rng, STAY_BASE, exclude=used)
        demo_patients = load_demo_patients(options.mimiciv_demo, IdPool(stay_ids.tolist()))
    tasks = list(_tasks(rng, options, demo_patients))
    results = _run(tasks, options.jobs)
    studies = [s for r in results for s in r.studies]
    synthetic = [p for r in results for p in r.patients]
    counts = _write_sources(rng, options, studies, synthetic, demo_patients)
    manifest = {
        "generator": "cxr-sql synth",
        "cxr_sql_version": __version__,
        "seed": options.seed,
        "subjects": options.scale.n_subjects,
        "mimiciv_version": options.mimiciv_version,
        "mimiciv_demo": options.mimiciv_demo is not None,
        "dicom": "dcm.gz" if options.dicom_gz else "dcm" if options.dicom else None,
        "counts": counts,
        "situations": dict(sorted(Counter(str(s.situation) for s in studies).items())),
    }
    (options.out / "synth.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _prepare_output(out: Path, force: bool) -> None:
    present = [name for name in OUTPUTS if (out / name).exists()]
    if present and not force:
        raise OutputNotEmpty(
            f"{out}: already holds {', '.join(present)}; use --force to replace them"
        )
    for name in present:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _id_pool(rng: np.random.Generator, base: int, exclude: set[int] = frozenset()) -> np.ndarray:
    """All 8-digit identifiers starting with base's digit, in a random order."""
    pool = rng.permutation(ID_SPAN) + base
    return pool[~np.isin(pool, list(exclude))] if exclude else pool


def _tasks(
    rng: np.random.Generator, options: SynthOptions, demo_patients: list[Patient]
) -> Iterator[ChunkTask]:
    scale = options.scale
    if demo_patients:
        with_stays = [p for p in demo_patients if p.admissions or p.ed_visits]
        chosen = with_stays[: scale.n_subjects]
        n_subjects = len(chosen) + scale.n_held_out
        taken = {p.subject_id for p in demo_patients}
        fresh = _draw_ids(rng, SUBJECT_ID_RANGE, scale.n_held_out + len(taken))
        held_out = [int(s) for s in fresh if int(s) not in taken][: scale.n_held_out]
        subject_ids = [p.subject_id for p in chosen] + held_out
        held_out_positions = set(range(len(chosen), n_subjects))
        background: list[int] = []
    else:
        n_subjects = scale.n_subjects
        drawn = _draw_ids(rng, SUBJECT_ID_RANGE, n_subjects + scale.n_background)
        subject_ids = sorted(int(s) for s in drawn[:n_subjects])
        background = [int(s) for s in drawn[n_subjects:]]
        eligible = np.arange(len(COVERAGE) + len(HOUR_CASES), n_subjects)
        held_out_positions = {int(i) for i in rng.choice(eligible, scale.n_held_out, replace=False)}
    n_studies = round(FULL_STUDIES * n_subjects / FULL_SUBJECTS)
    n_images = round(FULL_IMAGES * n_subjects / FULL_SUBJECTS)
    plans = _plan_subjects(rng, subject_ids, held_out_positions, n_studies, n_images)
    per_chunk = options.chunk_subjects
    n_chunks = max(1, -(-len(plans) // per_chunk))
    hadm_pool = _id_pool(rng, HADM_BASE)
    stay_pool = _id_pool(rng, STAY_BASE)
    capacity = min(ID_SPAN // n_chunks, 250_000)
    background_parts = np.array_split(np.array(background, dtype=np.int64), n_chunks)
    demo_by_id = {p.subject_id: p for p in demo_patients} if demo_patients else None
    for index in range(n_chunks):
        window = slice(index * capacity, (index + 1) * capacity)
        yield ChunkTask(
            index=index,
            seed=options.seed,
            version=options.mimiciv_version,
            out=options.out / "mimic-cxr",
            subjects=tuple(plans[index * per_chunk : (index + 1) * per_chunk]),
            background_ids=tuple(background_parts[index].tolist()),
            hadm_ids=tuple(hadm_pool[window].tolist()),
            stay_ids=tuple(stay_pool[window].tolist()),
            demo_patients=demo_by_id,
            dicom=options.dicom or options.dicom_gz,
            dicom_gz=options.dicom_gz,
        )


def _draw_ids(rng: np.random.Generator, id_range: tuple[int, int], n: int) -> np.ndarray:
    low, high = id_range
    return rng.choice(high - low, size=n, replace=False) + low


def _plan_subjects(
    rng: np.random.Generator,
    subject_ids: list[int],
    held_out: set[int],
    n_studies: int,
    n_images: int,
) -> list[SubjectPlan]:
    """Studies per subject, images per study and situations, hitting the totals exactly."""
    n_subjects = len(subject_ids)
    weights = rng.gamma(0.6, size=n_subjects)
    per_subject = 1 + rng.multinomial(n_studies - n_subjects, weights / weights.sum())
    per_study = 1 + rng.multinomial(n_images - n_studies, np.full(n_studies, 1 / n_studies))
    if per_study[0] == 1:  # the first study shows images taken hours apart
        donor = int(np.argmax(per_study))
        per_study[donor] -= 1
        per_study[0] += 1
    situations = list(SITUATION_WEIGHTS)
    probabilities = np.array(list(SITUATION_WEIGHTS.values()), dtype=float)
    drawn = rng.choice(len(situations), size=n_studies, p=probabilities / probabilities.sum())
    study_ids = _draw_ids(rng, STUDY_ID_RANGE, n_studies)
    splits = rng.choice(len(SPLITS), size=n_subjects, p=SPLIT_SHARES)
    plans, cursor, case = [], 0, 0
    for position, subject_id in enumerate(subject_ids):
        studies = []
        for k in range(int(per_subject[position])):
            wanted = Situation.NO_MIMICIV if position in held_out else situations[drawn[cursor]]
            hour_before = None
            if position not in held_out and k == 0:
                if case < len(COVERAGE):
                    wanted = COVERAGE[case]
                elif case < len(COVERAGE) + len(HOUR_CASES):
                    wanted = Situation.DURING_ADMISSION
                    hour_before = HOUR_CASES[case - len(COVERAGE)]
                case += 1
            studies.append(
                PlannedStudy(
                    study_id=int(study_ids[cursor]),
                    n_images=int(per_study[cursor]),
                    wanted=wanted,
                    hour_before=hour_before,
                    spread_hours=cursor == 0,
                )
            )
            cursor += 1
        split = SPLITS[position] if position < len(SPLITS) else SPLITS[splits[position]]
        plans.append(SubjectPlan(subject_id, tuple(studies), split))
    return plans


def _run(tasks: list[ChunkTask], jobs: int) -> list[ChunkResult]:
    if jobs <= 1 or len(tasks) == 1:
        return [run_chunk(task) for task in tasks]
    # spawn: the parent has polars' thread pool running, which fork would copy.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        return list(pool.map(run_chunk, tasks))


def _write_sources(
    rng: np.random.Generator,
    options: SynthOptions,
    studies: list[Study],
    synthetic: list[Patient],
    demo_patients: list[Patient],
) -> dict[str, int]:
    """Write every table; returns the row count of each file."""
    out = options.out
    images = cxr_tables.image_frame(studies)
    in_mimiciv = [p for p in (demo_patients or synthetic) if p.in_mimiciv]
    race = mimiciv_tables.race_by_subject(rng, in_mimiciv)
    notes, details = mimiciv_tables.radiology_tables(
        rng, studies, {p.subject_id for p in in_mimiciv}
    )
    tables: dict[str, pl.DataFrame] = {
        "mimic-cxr/cxr-record-list.csv.gz": cxr_tables.record_list(images),
        "mimic-cxr/cxr-study-list.csv.gz": cxr_tables.study_list(studies),
        "mimic-cxr-jpg/mimic-cxr-2.0.0-metadata.csv.gz": cxr_tables.metadata(images),
        "mimic-cxr-jpg/mimic-cxr-2.0.0-chexpert.csv.gz": cxr_tables.labels(studies, "chexpert"),
        "mimic-cxr-jpg/mimic-cxr-2.0.0-negbio.csv.gz": cxr_tables.labels(studies, "negbio"),
        "mimic-cxr-jpg/mimic-cxr-2.0.0-split.csv.gz": cxr_tables.split(images),
        "mimiciv/ed/edstays.csv.gz": mimiciv_tables.edstays_table(rng, in_mimiciv, race),
        "mimiciv/note/radiology.csv.gz": notes,
        "mimiciv/note/radiology_detail.csv.gz": details,
        "truth/study_situations.csv.gz": cxr_tables.truth(studies),
    }
    if demo_patients:
        _copy_demo_tables(options.mimiciv_demo, out / "mimiciv")
    else:
        tables |= {
            "mimiciv/hosp/patients.csv.gz": mimiciv_tables.patients_table(in_mimiciv),
            "mimiciv/hosp/admissions.csv.gz": mimiciv_tables.admissions_table(
                rng, in_mimiciv, race
            ),
            "mimiciv/hosp/transfers.csv.gz": mimiciv_tables.transfers_table(in_mimiciv),
            "mimiciv/icu/icustays.csv.gz": mimiciv_tables.icustays_table(in_mimiciv),
        }
    members = cxr_tables.report_members(studies)
    with ThreadPoolExecutor(max_workers=max(options.jobs, 1)) as pool:
        zipped = pool.submit(write_zip, out / "mimic-cxr/mimic-cxr-reports.zip", members)
        writes = [
            pool.submit(lambda p, f: write_bytes(out / p, csv_gz_bytes(f)), path, frame)
            for path, frame in tables.items()
        ]
        for future in [zipped, *writes]:
            future.result()
    counts = {path: frame.height for path, frame in tables.items()}
    counts["mimic-cxr/mimic-cxr-reports.zip"] = len(members)
    return counts


def _copy_demo_tables(demo_dir: Path | None, target: Path) -> None:
    """Every hosp/ and icu/ table of the demo, byte for byte."""
    assert demo_dir is not None
    for module in ("hosp", "icu"):
        for source in sorted((demo_dir / module).glob("*.csv.gz")):
            destination = target / module / source.name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
