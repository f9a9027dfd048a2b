"""Identifier formats and file paths of MIMIC-CXR, shared by the generator and the builders.

subject_id: 8 digits starting with 1; study_id: 8 digits starting with 5;
dicom_id: 40 hex digits in five dash-separated groups of eight. A patient folder
`p10000032` sits under `p10`, the first three characters of its name.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # polars is imported where the expressions are built: workers skip it
    import polars as pl

SUBJECT_ID_RE = re.compile(r"1\d{7}")
STUDY_ID_RE = re.compile(r"5\d{7}")
DICOM_ID_RE = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{8}){4}")
IMAGE_PATH_RE = re.compile(
    rf"files/p1\d/p{SUBJECT_ID_RE.pattern}/s{STUDY_ID_RE.pattern}/{DICOM_ID_RE.pattern}\.dcm"
)

SUBJECT_ID_RANGE = (10_000_000, 20_000_000)
STUDY_ID_RANGE = (50_000_000, 60_000_000)


def patient_folder(subject_id: int) -> str:
    """`files/p10/p10000032` for subject 10000032."""
    name = f"p{subject_id}"
    return f"files/{name[:3]}/{name}"


def report_path(subject_id: int, study_id: int) -> str:
    """Path of a report inside a MIMIC-CXR release: `files/p10/p10000032/s50414267.txt`."""
    return f"{patient_folder(subject_id)}/s{study_id}.txt"


def image_path(subject_id: int, study_id: int, dicom_id: str, suffix: str = ".dcm") -> str:
    """Path of one image: `files/p10/p10000032/s50414267/<dicom_id>.dcm`."""
    return f"{patient_folder(subject_id)}/s{study_id}/{dicom_id}{suffix}"


def patient_folder_expr(subject_id: pl.Expr) -> pl.Expr:
    """`patient_folder` for a column of subject_id strings."""
    import polars as pl

    return pl.format("files/p{}/p{}", subject_id.str.slice(0, 2), subject_id)


def report_path_expr(subject_id: pl.Expr, study_id: pl.Expr) -> pl.Expr:
    """`report_path` for columns of ID strings."""
    import polars as pl

    return pl.format("{}/s{}.txt", patient_folder_expr(subject_id), study_id)


def image_path_expr(subject_id: pl.Expr, study_id: pl.Expr, dicom_id: pl.Expr) -> pl.Expr:
    """`image_path` (.dcm) for columns of ID strings."""
    import polars as pl

    return pl.format("{}/s{}/{}.dcm", patient_folder_expr(subject_id), study_id, dicom_id)
