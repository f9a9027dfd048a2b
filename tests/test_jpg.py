"""MIMIC-CXR-JPG files: BigQuery column names, typed labels, StudyTime padded."""

from __future__ import annotations

import csv
import gzip
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.helpers import run_cli

METADATA = "mimic-cxr-2.0.0-metadata.csv.gz"
CHEXPERT = "mimic-cxr-2.0.0-chexpert.csv.gz"


@pytest.fixture
def jpg(tiny_sources: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "mimic-cxr-jpg"
    shutil.copytree(tiny_sources / "mimic-cxr-jpg", copy)
    return copy


def build(jpg: Path) -> tuple[int, str, Path]:
    warehouse = jpg.parent / "warehouse"
    done = run_cli("build", "--warehouse", str(warehouse), "--mimic-cxr-jpg", str(jpg))
    assert "Traceback" not in done.stdout + done.stderr
    return done.returncode, done.stdout + done.stderr, warehouse


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def csv_rows(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as handle:
        return list(csv.DictReader(handle))


def rewrite(path: Path, edit) -> None:
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    path.write_bytes(gzip.compress(("\n".join(edit(lines)) + "\n").encode()))


def test_labels_named_and_typed_as_on_bigquery(jpg: Path) -> None:
    code, _, warehouse = build(jpg)
    assert code == 0
    columns = dict(
        query(
            warehouse,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'mimic_cxr' AND table_name = 'chexpert'",
        )
    )
    assert columns["Pleural_Effusion"] == "DOUBLE" and columns["No_Finding"] == "DOUBLE"
    assert columns["study_id"] == "INTEGER"
    values = query(
        warehouse,
        "SELECT DISTINCT v FROM (UNPIVOT mimic_cxr.chexpert ON COLUMNS(* EXCLUDE "
        "(subject_id, study_id)) INTO NAME label VALUE v)",
    )
    assert {1.0, 0.0} <= {v for (v,) in values} <= {1.0, 0.0, -1.0}
    positives = sum(row["Pleural Effusion"] == "1.0" for row in csv_rows(jpg / CHEXPERT))
    assert query(
        warehouse, "SELECT count(*) FROM mimic_cxr.chexpert WHERE Pleural_Effusion = 1"
    ) == [(positives,)]


def test_study_time_padded_and_parsed_with_milliseconds(jpg: Path) -> None:
    code, _, warehouse = build(jpg)
    assert code == 0
    parsed = dict(query(warehouse, "SELECT dicom_id, study_datetime FROM mimic_cxr.metadata"))
    early = 0
    for row in csv_rows(jpg / METADATA):
        whole, _, fraction = row["StudyTime"].partition(".")
        text = row["StudyDate"] + whole.zfill(6) + "." + (fraction + "000")[:3]
        assert parsed[row["dicom_id"]] == datetime.strptime(text, "%Y%m%d%H%M%S.%f")
        early += float(row["StudyTime"]) < 10000
    assert early > 0  # a study before 01:00 was among them


def test_bad_label_and_unparseable_time(jpg: Path) -> None:
    def bad_label(lines: list[str]) -> list[str]:
        fields = lines[1].split(",")
        fields[3] = "2.0"
        return [lines[0], ",".join(fields), *lines[2:]]

    def bad_time(lines: list[str]) -> list[str]:
        fields = lines[1].split(",")
        fields[8] = "256000.0"  # 25:60:00
        return [lines[0], ",".join(fields), *lines[2:]]

    rewrite(jpg / CHEXPERT, bad_label)
    rewrite(jpg / METADATA, bad_time)
    code, _, warehouse = build(jpg)
    assert code == 0
    rejects = query(warehouse, "SELECT file, line, reason, action FROM mimic_cxr._rejects")
    assert (str(jpg / CHEXPERT), 2, "label Cardiomegaly has value 2.0", "dropped") in rejects
    assert (
        str(jpg / METADATA),
        2,
        f"StudyDate {csv_rows(jpg / METADATA)[0]['StudyDate']!r} / StudyTime '256000.0' "
        "do not parse",
        "kept",
    ) in rejects
    assert query(
        warehouse, "SELECT count(*) FROM mimic_cxr.metadata WHERE study_datetime IS NULL"
    ) == [(1,)]


def test_missing_metadata_column_is_one_clear_error(jpg: Path) -> None:
    rewrite(jpg / METADATA, lambda lines: [line.rsplit(",", 1)[0] for line in lines])
    code, output, _ = build(jpg)
    assert code == 3
    assert f"{jpg / METADATA}:1: missing column(s) PatientOrientationCodeSequence_CodeMeaning" in (
        output
    )
