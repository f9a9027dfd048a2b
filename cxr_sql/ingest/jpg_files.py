"""MIMIC-CXR-JPG files: image metadata, CheXpert and NegBio labels, split, test-set labels.

Columns keep the names of PhysioNet's BigQuery tables (label columns with
underscores: `Pleural_Effusion`). Labels become DOUBLE: 1.0 positive, 0.0
negative, -1.0 uncertain, NULL not mentioned. In the metadata, StudyDate
(yyyymmdd integer) and StudyTime (a float that lost its leading zeros) keep
their original types, so BigQuery SQL on them still runs, and typed columns are
added: study_date DATE, study_time TIME and study_datetime TIMESTAMP, parsed
from the padded text with the milliseconds kept.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cxr_sql.ingest.csv_source import LINE, read_csv_gz
from cxr_sql.ingest.problems import KEPT, Reject
from cxr_sql.ingest.source_files import one_release
from cxr_sql.ingest.validation import RowsResult, validate_rows

METADATA_COLUMNS = (
    "dicom_id",
    "subject_id",
    "study_id",
    "PerformedProcedureStepDescription",
    "ViewPosition",
    "Rows",
    "Columns",
    "StudyDate",
    "StudyTime",
    "ProcedureCodeSequence_CodeMeaning",
    "ViewCodeSequence_CodeMeaning",
    "PatientOrientationCodeSequence_CodeMeaning",
)
LABEL_VALUES = ("1.0", "0.0", "-1.0", "1", "0", "-1")
CSV_ENDINGS = (".csv", ".csv.gz")


def newest(folder: Path, kind: str) -> Path | None:
    """The file of the newest release of `mimic-cxr-*-<kind>.csv(.gz)` (2.1.0 over 2.0.0);
    a release present both gzipped and not is an error naming both."""
    found = [p for p in folder.glob(f"mimic-cxr-*-{kind}.csv*") if p.name.endswith(CSV_ENDINGS)]
    found = one_release(sorted(found, key=lambda p: p.name.removesuffix(".gz")))
    return found[-1] if found else None


def study_time_parts(study_time: pl.Expr) -> dict[str, pl.Expr]:
    """Hours, minutes, seconds and milliseconds of a StudyTime text such as '80556.875'."""
    whole = study_time.str.split(".").list.get(0).str.zfill(6)
    fraction = study_time.str.split(".").list.get(1, null_on_oob=True).fill_null("0")
    return {
        "hour": whole.str.slice(0, 2).cast(pl.Int64, strict=False),
        "minute": whole.str.slice(2, 2).cast(pl.Int64, strict=False),
        "second": whole.str.slice(4, 2).cast(pl.Int64, strict=False),
        "ms": (fraction + "000").str.slice(0, 3).cast(pl.Int64, strict=False),
    }


def _typed_time(frame: pl.DataFrame) -> pl.DataFrame:
    parts = study_time_parts(pl.col("StudyTime"))
    valid = (
        pl.col("StudyTime").str.contains(r"^\d{1,6}(\.\d+)?$")
        & (parts["hour"] < 24)
        & (parts["minute"] < 60)
        & (parts["second"] < 60)
    )
    time_of_day = pl.time(parts["hour"], parts["minute"], parts["second"], parts["ms"] * 1000)
    date = pl.col("StudyDate").str.strptime(pl.Date, "%Y%m%d", strict=False)
    return frame.with_columns(
        study_date=date,
        study_time=pl.when(valid).then(time_of_day).otherwise(None),
    ).with_columns(study_datetime=pl.col("study_date").dt.combine(pl.col("study_time"), "ms"))


def read_metadata(folder: Path) -> RowsResult | None:
    path = newest(folder, "metadata")
    if path is None:
        return None
    frame = read_csv_gz(path, METADATA_COLUMNS)
    result = validate_rows(frame, str(path), "dicom_id")
    typed = _typed_time(result.rows)
    unparsed = typed.filter(pl.col("study_datetime").is_null())
    result.rejects += [
        Reject(str(path), line, f"StudyDate {date!r} / StudyTime {time!r} do not parse", KEPT)
        for line, date, time in unparsed.select(LINE, "StudyDate", "StudyTime").iter_rows()
    ]
    result.rows = typed.with_columns(
        pl.col("Rows", "Columns", "StudyDate").cast(pl.Int32, strict=False),
        pl.col("StudyTime").cast(pl.Float64, strict=False),
    )
    return result


def _label_checks(columns: list[str]) -> tuple[pl.Expr, ...]:
    return tuple(
        pl.when(pl.col(c).is_not_null() & ~pl.col(c).is_in(LABEL_VALUES))
        .then(pl.format("label {} has value {}", pl.lit(c), pl.col(c)))
        .otherwise(None)
        for c in columns
    )


def read_labels(path: Path | None) -> RowsResult | None:
    """A chexpert, negbio or test-set label file, labels as DOUBLE, names with underscores."""
    if path is None:
        return None
    frame = read_csv_gz(path, ("study_id",))
    labels = [c for c in frame.columns if c not in ("subject_id", "study_id", LINE)]
    result = validate_rows(frame, str(path), "study_id", checks=_label_checks(labels))
    result.rows = result.rows.with_columns(pl.col(labels).cast(pl.Float64)).rename(
        {c: c.replace(" ", "_") for c in labels}
    )
    return result


def read_split(folder: Path) -> RowsResult | None:
    path = newest(folder, "split")
    if path is None:
        return None
    frame = read_csv_gz(path, ("dicom_id", "study_id", "subject_id", "split"))
    check = (
        pl.when(~pl.col("split").is_in(("train", "validate", "test")))
        .then(pl.format("split is {}", pl.col("split").fill_null("(empty)")))
        .otherwise(None)
    )
    return validate_rows(frame, str(path), "dicom_id", checks=(check,))


def read_jpg_tables(folder: Path) -> dict[str, RowsResult]:
    """Every MIMIC-CXR-JPG table present in the folder, by BigQuery table name."""
    found = {
        "metadata": read_metadata(folder),
        "chexpert": read_labels(newest(folder, "chexpert")),
        "negbio": read_labels(newest(folder, "negbio")),
        "split": read_split(folder),
        "test_set_labeled": read_labels(newest(folder, "test-set-labeled")),
    }
    return {name: result for name, result in found.items() if result is not None}
