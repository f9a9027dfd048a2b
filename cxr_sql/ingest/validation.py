"""Row checks shared by the CSV builders: ID formats, paths, duplicates, extra rules.

A failing row is dropped and becomes a reject naming file, line and the first
reason it failed; surviving rows get their integer IDs typed.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from cxr_sql.ingest.csv_source import LINE
from cxr_sql.ingest.problems import DROPPED, Reject
from cxr_sql.mimic_ids import DICOM_ID_RE, STUDY_ID_RE, SUBJECT_ID_RE

_FORMATS = {
    "subject_id": (SUBJECT_ID_RE, "subject_id is not 8 digits starting with 1"),
    "study_id": (STUDY_ID_RE, "study_id is not 8 digits starting with 5"),
    "dicom_id": (DICOM_ID_RE, "dicom_id is not 40 hex digits in five groups of eight"),
}
_INTEGER_IDS = ("subject_id", "study_id")


@dataclass
class RowsResult:
    """One list's valid rows (typed) and the rejects its checks produced."""

    rows: pl.DataFrame
    rejects: list[Reject]
    file: str = ""  # the file read


def _format_failures(columns: list[str]) -> list[pl.Expr]:
    return [
        pl.when(~pl.col(c).str.contains(f"^(?:{_FORMATS[c][0].pattern})$").fill_null(False))
        .then(pl.format("{}: {}", pl.lit(_FORMATS[c][1]), pl.col(c).fill_null("(empty)")))
        .otherwise(None)
        for c in columns
        if c in _FORMATS
    ]


def validate_rows(
    frame: pl.DataFrame,
    file: str,
    key: str,
    *,
    expected_path: pl.Expr | None = None,
    checks: tuple[pl.Expr, ...] = (),
) -> RowsResult:
    """Drop rows with bad IDs, a disagreeing path, a failed check, or a repeated key.

    Each of `checks` gives a reason string where a row fails and NULL where it passes.
    """
    failures = [*_format_failures(frame.columns), *checks]
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
    return RowsResult(_typed(good), rejects, file)


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col(c).cast(pl.Int32) for c in _INTEGER_IDS if c in frame.columns)
