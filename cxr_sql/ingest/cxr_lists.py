"""MIMIC-CXR record, study and provider lists: validated, typed, written as Parquet.

Checks on every row: ID formats, the path agrees with the IDs, no duplicate
dicom_id (record list) or study_id (study list), and every record-list study in
the study list. A row failing a format check is dropped; a record whose study is
missing from the study list is kept. Either way a reject names file, line, reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cxr_sql.ingest.csv_source import LINE, read_csv_gz
from cxr_sql.ingest.problems import DROPPED, KEPT, Reject
from cxr_sql.mimic_ids import (
    DICOM_ID_RE,
    STUDY_ID_RE,
    SUBJECT_ID_RE,
    image_path_expr,
    report_path_expr,
)

RECORD_LIST = "cxr-record-list.csv.gz"
STUDY_LIST = "cxr-study-list.csv.gz"
PROVIDER_LIST = "cxr-provider-list.csv.gz"

_FORMATS = {
    "subject_id": (SUBJECT_ID_RE, "subject_id is not 8 digits starting with 1"),
    "study_id": (STUDY_ID_RE, "study_id is not 8 digits starting with 5"),
    "dicom_id": (DICOM_ID_RE, "dicom_id is not 40 hex digits in five groups of eight"),
}
_INTEGER_IDS = ("subject_id", "study_id")


@dataclass
class ListResult:
    """One list's valid rows (typed) and the rejects its checks produced."""

    rows: pl.DataFrame
    rejects: list[Reject]


def _format_failures(columns: list[str]) -> list[pl.Expr]:
    return [
        pl.when(~pl.col(c).str.contains(f"^(?:{_FORMATS[c][0].pattern})$").fill_null(False))
        .then(pl.format("{}: {}", pl.lit(_FORMATS[c][1]), pl.col(c).fill_null("(empty)")))
        .otherwise(None)
        for c in columns
        if c in _FORMATS
    ]


def _validate(
    frame: pl.DataFrame, file: str, key: str, expected_path: pl.Expr | None
) -> ListResult:
    """Drop rows with bad IDs, a disagreeing path, or a repeated key."""
    failures = _format_failures(frame.columns)
    if expected_path is not None:
        failures.append(
            pl.when(pl.col("path") != expected_path)
            .then(
                pl.format(
                    "path {} does not agree with the IDs (expected {})", "path", expected_path
                )
            )
            .otherwise(None)
        )
    checked = frame.with_columns(reason=pl.coalesce(failures) if failures else pl.lit(None))
    first_line = pl.col(LINE).min().over(key)
    checked = checked.with_columns(
        reason=pl.when(pl.col("reason").is_null() & (pl.col(LINE) != first_line))
        .then(pl.format("duplicate {} {} (first at line {})", pl.lit(key), pl.col(key), first_line))
        .otherwise(pl.col("reason"))
    )
    bad = checked.filter(pl.col("reason").is_not_null())
    rejects = [
        Reject(file, line, reason, DROPPED)
        for line, reason in bad.select(LINE, "reason").iter_rows()
    ]
    good = checked.filter(pl.col("reason").is_null()).drop("reason")
    return ListResult(_typed(good), rejects)


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col(c).cast(pl.Int32) for c in _INTEGER_IDS if c in frame.columns)


def read_study_list(folder: Path) -> ListResult:
    path = folder / STUDY_LIST
    frame = read_csv_gz(path, ("subject_id", "study_id", "path"))
    expected = report_path_expr(pl.col("subject_id"), pl.col("study_id"))
    return _validate(frame, str(path), "study_id", expected)


def read_record_list(folder: Path, studies: pl.DataFrame | None) -> ListResult:
    """The record list; with the study list, records of unlisted studies are flagged."""
    path = folder / RECORD_LIST
    frame = read_csv_gz(path, ("subject_id", "study_id", "dicom_id", "path"))
    expected = image_path_expr(pl.col("subject_id"), pl.col("study_id"), pl.col("dicom_id"))
    result = _validate(frame, str(path), "dicom_id", expected)
    if studies is not None:
        orphans = result.rows.join(studies.select("study_id"), on="study_id", how="anti")
        result.rejects += [
            Reject(str(path), line, f"study {study} is not in {STUDY_LIST}", KEPT)
            for line, study in orphans.select(LINE, "study_id").iter_rows()
        ]
    return result


def read_provider_list(folder: Path) -> ListResult | None:
    """cxr-provider-list.csv.gz (MIMIC-CXR 2.1.0), when present; None otherwise."""
    path = folder / PROVIDER_LIST
    if not path.exists():
        return None
    frame = read_csv_gz(path, ("study_id",))
    return _validate(frame, str(path), "study_id", None)
