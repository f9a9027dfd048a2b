"""MIMIC-CXR record, study and provider lists: validated, typed, written as Parquet.

Checks on every row: ID formats, the path agrees with the IDs, no duplicate
dicom_id (record list) or study_id (study list), and every record-list study in
the study list. A row failing a format check is dropped; a record whose study is
missing from the study list is kept. Either way a reject names file, line, reason.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cxr_sql.ingest.csv_source import LINE, read_csv_gz
from cxr_sql.ingest.problems import KEPT, Reject, SourceError
from cxr_sql.ingest.source_files import csv_file
from cxr_sql.ingest.validation import RowsResult, validate_rows
from cxr_sql.mimic_ids import image_path_expr, report_path_expr

RECORD_LIST = "cxr-record-list.csv"  # each as .csv.gz (as PhysioNet ships it) or .csv
STUDY_LIST = "cxr-study-list.csv"
PROVIDER_LIST = "cxr-provider-list.csv"
LISTS = (STUDY_LIST, RECORD_LIST, PROVIDER_LIST)


def list_file(folder: Path, name: str) -> Path:
    """The .csv.gz or .csv of a list; a SourceError naming the .csv.gz when neither is there."""
    found = csv_file(folder, name)
    if found is None:
        raise SourceError(str(folder / f"{name}.gz"), f"file not found (nor {name})")
    return found


def read_study_list(folder: Path) -> RowsResult:
    path = list_file(folder, STUDY_LIST)
    frame = read_csv_gz(path, ("subject_id", "study_id", "path"))
    expected = report_path_expr(pl.col("subject_id"), pl.col("study_id"))
    return validate_rows(frame, str(path), "study_id", expected_path=expected)


def read_record_list(folder: Path, studies: pl.DataFrame | None) -> RowsResult:
    """The record list; with the study list, records of unlisted studies are flagged."""
    path = list_file(folder, RECORD_LIST)
    frame = read_csv_gz(path, ("subject_id", "study_id", "dicom_id", "path"))
    dcm = image_path_expr(pl.col("subject_id"), pl.col("study_id"), pl.col("dicom_id"))
    gzipped = pl.col("path").str.ends_with(".dcm.gz")  # as listed by mirrors that gzip images
    expected = pl.when(gzipped).then(pl.format("{}.gz", dcm)).otherwise(dcm)
    result = validate_rows(frame, str(path), "dicom_id", expected_path=expected)
    if studies is not None:
        study_list = (csv_file(folder, STUDY_LIST) or folder / f"{STUDY_LIST}.gz").name
        orphans = result.rows.join(studies.select("study_id"), on="study_id", how="anti")
        result.rejects += [
            Reject(str(path), line, f"study {study} is not in {study_list}", KEPT)
            for line, study in orphans.select(LINE, "study_id").iter_rows()
        ]
    return result


def read_provider_list(folder: Path) -> RowsResult | None:
    """cxr-provider-list.csv.gz (MIMIC-CXR 2.1.0), when present; None otherwise."""
    path = csv_file(folder, PROVIDER_LIST)
    if path is None:
        return None
    frame = read_csv_gz(path, ("study_id",))
    return validate_rows(frame, str(path), "study_id")
