"""The generated files parse with the real tools, and every ID and path is well formed."""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from pathlib import Path

import pydicom

from cxr_sql.mimic_ids import DICOM_ID_RE, STUDY_ID_RE, SUBJECT_ID_RE
from cxr_sql.synth.reports import CHEXPERT_LABELS
from tests.helpers import synth

CXR = "mimic-cxr"
JPG = "mimic-cxr-jpg"


def read_csv_gz(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_csv_is_gzip_and_reads_in_duckdb(tiny_sources: Path, sql) -> None:
    files = sorted(tiny_sources.glob("**/*.csv.gz"))
    assert len(files) == 14
    for path in files:
        rows = read_csv_gz(path)
        (count,) = sql("SELECT count(*) FROM read_csv(?)", str(path))[0]
        assert count == len(rows) > 0, path


def test_identifier_formats(tiny_sources: Path) -> None:
    records = read_csv_gz(tiny_sources / CXR / "cxr-record-list.csv.gz")
    assert list(records[0]) == ["subject_id", "study_id", "dicom_id", "path"]
    for row in records:
        assert SUBJECT_ID_RE.fullmatch(row["subject_id"])
        assert STUDY_ID_RE.fullmatch(row["study_id"])
        assert DICOM_ID_RE.fullmatch(row["dicom_id"]) and len(row["dicom_id"]) == 44
    assert len({r["dicom_id"] for r in records}) == len(records)
    for table in ("hosp/patients", "hosp/admissions", "ed/edstays", "icu/icustays"):
        for row in read_csv_gz(tiny_sources / "mimiciv" / f"{table}.csv.gz"):
            assert SUBJECT_ID_RE.fullmatch(row["subject_id"]), table
            if row.get("hadm_id"):
                assert row["hadm_id"].startswith("2") and len(row["hadm_id"]) == 8


def test_paths_point_at_files_and_agree_with_ids(tiny_sources: Path) -> None:
    root = tiny_sources / CXR
    for row in read_csv_gz(root / "cxr-record-list.csv.gz"):
        subject, study = row["subject_id"], row["study_id"]
        expected = f"files/p{subject[:2]}/p{subject}/s{study}/{row['dicom_id']}.dcm"
        assert row["path"] == expected
        assert (root / row["path"]).is_file()
    studies = read_csv_gz(root / "cxr-study-list.csv.gz")
    for row in studies:
        assert (
            row["path"]
            == f"files/p{row['subject_id'][:2]}/p{row['subject_id']}/s{row['study_id']}.txt"
        )
        assert (root / row["path"]).is_file()
    record_studies = {r["study_id"] for r in read_csv_gz(root / "cxr-record-list.csv.gz")}
    assert record_studies == {r["study_id"] for r in studies}


def test_zip_holds_the_same_reports_as_the_tree(tiny_sources: Path) -> None:
    root = tiny_sources / CXR
    with zipfile.ZipFile(root / "mimic-cxr-reports.zip") as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert sorted(names) == sorted(
            r["path"] for r in read_csv_gz(root / "cxr-study-list.csv.gz")
        )
        for name in names:
            assert archive.read(name) == (root / name).read_bytes()


def test_reports_look_like_mimic_cxr(tiny_sources: Path) -> None:
    reports = sorted((tiny_sources / CXR / "files").glob("p*/p*/s*.txt"))
    assert reports
    for path in reports:
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        assert text.endswith("\n") and "\r" not in text
        assert all(len(line) <= 79 for line in lines), path
        assert all(line.startswith(" ") for line in lines if line), path
        assert "FINAL REPORT" in text


def test_jpg_metadata_values(tiny_sources: Path) -> None:
    rows = read_csv_gz(tiny_sources / JPG / "mimic-cxr-2.0.0-metadata.csv.gz")
    assert list(rows[0])[:3] == ["dicom_id", "subject_id", "study_id"]
    for row in rows:
        assert len(row["StudyDate"]) == 8 and row["StudyDate"].isdigit()
        whole, _, fraction = row["StudyTime"].partition(".")
        assert whole.isdigit() and len(whole) <= 6 and fraction.isdigit()
        padded = whole.zfill(6)
        assert int(padded[:2]) < 24 and int(padded[2:4]) < 60 and int(padded[4:]) < 60
    views = {r["ViewPosition"] for r in rows}
    assert {"AP", "PA"} & views


def test_label_files(tiny_sources: Path) -> None:
    for name in ("chexpert", "negbio"):
        rows = read_csv_gz(tiny_sources / JPG / f"mimic-cxr-2.0.0-{name}.csv.gz")
        assert list(rows[0]) == ["subject_id", "study_id", *CHEXPERT_LABELS]
        values = {row[label] for row in rows for label in CHEXPERT_LABELS}
        assert values <= {"1.0", "0.0", "-1.0", ""}
        assert {"1.0", "0.0", ""} <= values
    split = read_csv_gz(tiny_sources / JPG / "mimic-cxr-2.0.0-split.csv.gz")
    assert {r["split"] for r in split} == {"train", "validate", "test"}


def test_dicom_headers_agree_with_jpg_metadata(tiny_sources: Path) -> None:
    metadata = {
        r["dicom_id"]: r
        for r in read_csv_gz(tiny_sources / JPG / "mimic-cxr-2.0.0-metadata.csv.gz")
    }
    for record in read_csv_gz(tiny_sources / CXR / "cxr-record-list.csv.gz"):
        ds = pydicom.dcmread(tiny_sources / CXR / record["path"])
        row = metadata[record["dicom_id"]]
        assert ds.PatientID == record["subject_id"]
        assert ds.StudyDate == row["StudyDate"]
        assert float(ds.StudyTime) == float(row["StudyTime"])
        assert ds.ViewPosition == row["ViewPosition"]
        assert (ds.Rows, ds.Columns) == (int(row["Rows"]), int(row["Columns"]))
        assert ds.pixel_array.shape == (ds.Rows, ds.Columns)
        meaning = ds.ViewCodeSequence[0].CodeMeaning if ds.ViewCodeSequence else ""
        assert meaning == row["ViewCodeSequence_CodeMeaning"]
        assert ds.ProcedureCodeSequence[0].CodeMeaning == row["ProcedureCodeSequence_CodeMeaning"]


def test_dicom_gz_files_are_gzip_streams_of_dicom(tmp_path: Path) -> None:
    out = synth(tmp_path / "gz", "tiny", dicom_gz=True)
    records = read_csv_gz(out / CXR / "cxr-record-list.csv.gz")
    for record in records:
        assert record["path"].endswith(".dcm")
        compressed = out / CXR / (record["path"] + ".gz")
        assert not (out / CXR / record["path"]).exists()
        ds = pydicom.dcmread(io.BytesIO(gzip.decompress(compressed.read_bytes())))
        assert ds.PatientID == record["subject_id"]
