"""The MIMIC-CXR and MIMIC-CXR-JPG tables of the generated studies, as polars frames.

Column names, orders and value formats are those of the PhysioNet files:
`StudyDate` an integer yyyymmdd and `StudyTime` a float that lost its leading
zeros (08:05:56.875 is written 80556.875); labels 1.0, 0.0, -1.0 or empty.
"""

from __future__ import annotations

import polars as pl

from cxr_sql.mimic_ids import image_path, report_path
from cxr_sql.synth.chunk import Study
from cxr_sql.synth.reports import CHEXPERT_LABELS


def image_frame(studies: list[Study]) -> pl.DataFrame:
    """One row per image, sorted as the record list is; the other image tables derive from it."""
    rows = [
        (
            s.subject_id,
            s.study_id,
            image.dicom_id,
            image.time_ms,
            image.view_position,
            image.view_meaning,
            image.orientation_meaning,
            image.procedure,
            image.rows,
            image.columns,
            s.split,
        )
        for s in studies
        for image in s.images
    ]
    schema = {
        "subject_id": pl.Int64,
        "study_id": pl.Int64,
        "dicom_id": pl.String,
        "time_ms": pl.Int64,
        "ViewPosition": pl.String,
        "ViewCodeSequence_CodeMeaning": pl.String,
        "PatientOrientationCodeSequence_CodeMeaning": pl.String,
        "procedure": pl.String,
        "Rows": pl.Int64,
        "Columns": pl.Int64,
        "split": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row").sort(
        "subject_id", "study_id", "dicom_id"
    )


def record_list(images: pl.DataFrame) -> pl.DataFrame:
    paths = [
        image_path(subject, study, dicom)
        for subject, study, dicom in images.select("subject_id", "study_id", "dicom_id").iter_rows()
    ]
    return images.select("subject_id", "study_id", "dicom_id").with_columns(
        path=pl.Series(paths, dtype=pl.String)
    )


def study_list(studies: list[Study]) -> pl.DataFrame:
    ordered = sorted(studies, key=lambda s: (s.subject_id, s.study_id))
    return pl.DataFrame(
        {
            "subject_id": [s.subject_id for s in ordered],
            "study_id": [s.study_id for s in ordered],
            "path": [report_path(s.subject_id, s.study_id) for s in ordered],
        }
    )


def report_members(studies: list[Study]) -> list[tuple[str, str]]:
    """(path inside mimic-cxr-reports.zip, text) for every report, in path order."""
    return sorted((report_path(s.subject_id, s.study_id), s.report) for s in studies)


def _study_time_float(time_ms: pl.Expr) -> pl.Expr:
    """hhmmss.fff as the float MIMIC-CXR-JPG writes, e.g. 80556.875 for 08:05:56.875."""
    clock = time_ms % 86_400_000
    hhmmss = (clock // 3_600_000) * 10_000 + (clock // 60_000 % 60) * 100 + clock // 1000 % 60
    return hhmmss.cast(pl.Float64) + (clock % 1000).cast(pl.Float64) / 1000


def metadata(images: pl.DataFrame) -> pl.DataFrame:
    when = pl.from_epoch(pl.col("time_ms"), time_unit="ms")
    return images.select(
        "dicom_id",
        "subject_id",
        "study_id",
        pl.col("procedure").alias("PerformedProcedureStepDescription"),
        "ViewPosition",
        "Rows",
        "Columns",
        when.dt.strftime("%Y%m%d").cast(pl.Int64).alias("StudyDate"),
        _study_time_float(pl.col("time_ms")).alias("StudyTime"),
        pl.col("procedure").alias("ProcedureCodeSequence_CodeMeaning"),
        "ViewCodeSequence_CodeMeaning",
        "PatientOrientationCodeSequence_CodeMeaning",
    )


def labels(studies: list[Study], labeler: str) -> pl.DataFrame:
    """The chexpert or negbio file: one row per study, one column per label."""
    ordered = sorted(studies, key=lambda s: (s.subject_id, s.study_id))
    columns: dict[str, list] = {
        "subject_id": [s.subject_id for s in ordered],
        "study_id": [s.study_id for s in ordered],
    }
    for i, name in enumerate(CHEXPERT_LABELS):
        columns[name] = [getattr(s, labeler)[i] for s in ordered]
    schema = {name: pl.Float64 for name in CHEXPERT_LABELS}
    return pl.DataFrame(columns, schema={"subject_id": pl.Int64, "study_id": pl.Int64, **schema})


def split(images: pl.DataFrame) -> pl.DataFrame:
    return images.select("dicom_id", "study_id", "subject_id", "split")


def truth(studies: list[Study]) -> pl.DataFrame:
    """The generator's own record of where it placed each study (not a PhysioNet file)."""
    ordered = sorted(studies, key=lambda s: (s.subject_id, s.study_id))
    return pl.DataFrame(
        {
            "subject_id": [s.subject_id for s in ordered],
            "study_id": [s.study_id for s in ordered],
            "situation": [str(s.situation) for s in ordered],
            "slot_hadm_id": [s.hadm_id for s in ordered],
            "study_datetime": [s.time_ms for s in ordered],
        },
        schema={
            "subject_id": pl.Int64,
            "study_id": pl.Int64,
            "situation": pl.String,
            "slot_hadm_id": pl.Int64,
            "study_datetime": pl.Int64,
        },
    ).with_columns(
        pl.from_epoch("study_datetime", time_unit="ms").dt.strftime("%Y-%m-%d %H:%M:%S%.3f")
    )
