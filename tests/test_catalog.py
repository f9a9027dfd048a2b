"""The catalog: every schema and its _metadata, the DuckDB CLI from anywhere, moving and
relinking a warehouse, and BigQuery SQL translated for it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

import cxr_sql
from tests.helpers import build_warehouse, duckdb_cli, run_cli

COUNT_SQL = (
    "SELECT count(*) FROM mimiciv_hosp.admissions a JOIN mimic_cxr.study_list s USING (subject_id)"
)


@pytest.fixture
def warehouse(tiny_sources: Path, tmp_path: Path) -> Path:
    return build_warehouse(tiny_sources, tmp_path / "first" / "warehouse")


def cli_query(warehouse: Path, sql: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            duckdb_cli(),
            "-readonly",
            "-csv",
            "-noheader",
            str(warehouse / "mimic.duckdb"),
            "-c",
            sql,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_schema_has_metadata(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        schemas = [
            s
            for (s,) in con.execute(
                "SELECT DISTINCT schema_name FROM duckdb_views() WHERE NOT internal ORDER BY 1"
            ).fetchall()
        ]
        # ED and Note are releases of their own (2.2), hosp and icu of MIMIC-IV (3.1)
        assert schemas == [
            "mimic_cxr",
            "mimic_cxr_derived",
            "mimiciv_2_2_ed",
            "mimiciv_2_2_note",
            "mimiciv_3_1_hosp",
            "mimiciv_3_1_icu",
            "mimiciv_ed",
            "mimiciv_hosp",
            "mimiciv_icu",
            "mimiciv_note",
        ]
        for schema in schemas:
            attributes = dict(con.execute(f"SELECT * FROM {schema}._metadata").fetchall())
            expected = ["dataset", "cxr_sql_version", "sql_hash", "warehouse"]
            if schema != "mimic_cxr_derived":  # views over the others: no sources of its own
                expected += ["source_fingerprint", "build_time"]
            for attribute in expected:
                assert attributes.get(attribute), (schema, attribute)
            assert attributes["warehouse"] == str(warehouse.resolve())


def test_cli_from_elsewhere_then_moved_then_relinked(warehouse: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    first = cli_query(warehouse, COUNT_SQL, elsewhere)
    assert first.returncode == 0 and int(first.stdout) > 0
    moved = tmp_path / "moved" / "warehouse"
    moved.parent.mkdir()
    shutil.move(warehouse, moved)
    broken = cli_query(moved, COUNT_SQL, elsewhere)
    assert broken.returncode != 0 and "No files found" in broken.stderr + broken.stdout
    done = run_cli("relink", "--warehouse", str(moved))
    assert done.returncode == 0 and f"relinked to {moved.resolve()}" in done.stdout
    assert cli_query(moved, COUNT_SQL, elsewhere).stdout == first.stdout
    again = run_cli("relink", "--warehouse", str(moved))
    assert "already points at" in again.stdout


def test_connect_relinks_a_copied_warehouse_by_itself(warehouse: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(warehouse, copy)
    with cxr_sql.connect(copy) as con:
        copied = con.execute(COUNT_SQL).fetchone()
        location = con.execute(
            "SELECT value FROM mimic_cxr._metadata WHERE attribute = 'warehouse'"
        ).fetchone()
        frame = con.sql("SELECT * FROM mimic_cxr.study_list").pl()
    assert location == (str(copy.resolve()),)
    with cxr_sql.connect(warehouse) as con:
        assert con.execute(COUNT_SQL).fetchone() == copied
    assert frame.height > 0


BIGQUERY = """
SELECT s.study_id, a.hadm_id,
       DATETIME_DIFF(a.dischtime, a.admittime, HOUR) AS hours_in_hospital,
       SAFE_CAST(m.StudyDate AS STRING) AS study_date
FROM `physionet-data.mimic_cxr.study_list` s
JOIN `physionet-data.mimic_core.admissions` a ON a.subject_id = s.subject_id
JOIN `physionet-data.mimic_cxr.metadata` m ON m.study_id = s.study_id
WHERE EXTRACT(YEAR FROM a.admittime) > 2000
QUALIFY ROW_NUMBER() OVER (PARTITION BY s.study_id ORDER BY a.admittime, m.dicom_id) = 1
"""

DUCKDB = """
SELECT study_id, hadm_id, hours_in_hospital, study_date FROM (
    SELECT s.study_id, a.hadm_id,
           date_diff('hour', a.admittime, a.dischtime) AS hours_in_hospital,
           CAST(m.StudyDate AS VARCHAR) AS study_date,
           row_number() OVER (PARTITION BY s.study_id ORDER BY a.admittime, m.dicom_id) AS n
    FROM mimic_cxr.study_list s
    JOIN mimiciv_hosp.admissions a ON a.subject_id = s.subject_id
    JOIN mimic_cxr.metadata m ON m.study_id = s.study_id
    WHERE year(a.admittime) > 2000
) WHERE n = 1
"""


def test_translated_bigquery_gives_the_same_rows(warehouse: Path, tmp_path: Path) -> None:
    source = tmp_path / "query.sql"
    source.write_text(BIGQUERY)
    done = run_cli("translate", str(source))
    assert done.returncode == 0, done.stderr
    assert "physionet-data" not in done.stdout and "mimiciv_hosp.admissions" in done.stdout
    with cxr_sql.connect(warehouse) as con:
        translated = sorted(con.execute(done.stdout).fetchall())
        expected = sorted(con.execute(DUCKDB).fetchall())
    assert translated == expected and len(expected) > 5


def test_translate_checks_tables_against_the_warehouse(warehouse: Path, tmp_path: Path) -> None:
    source = tmp_path / "query.sql"
    source.write_text(BIGQUERY)
    done = run_cli("translate", str(source), "--warehouse", str(warehouse))
    assert done.returncode == 0, done.stderr
    source.write_text("SELECT *\nFROM `physionet-data.mimiciv_derived.icustay_detail`")
    no_concepts = run_cli("translate", str(source), "--warehouse", str(warehouse))
    assert no_concepts.returncode == 2
    assert "line 2: dataset physionet-data.mimiciv_derived: not a dataset" in no_concepts.stderr
    assert "mimiciv_3_1_hosp, mimiciv_3_1_icu, mimiciv_ed" in no_concepts.stderr
    source.write_text("SELECT * FROM `physionet-data.mimiciv_hosp.labevnts`")
    missing = run_cli("translate", str(source), "--warehouse", str(warehouse))
    assert missing.returncode == 2
    assert "table physionet-data.mimiciv_hosp.labevnts: not in this warehouse" in missing.stderr
    assert "admissions" in missing.stderr
    source.write_text("SELECT * FROM `physionet-data.mimiciv_3_1_hosp.admissions`")
    versioned = run_cli("translate", str(source), "--warehouse", str(warehouse))
    assert versioned.returncode == 0 and "mimiciv_3_1_hosp.admissions" in versioned.stdout
    nowhere = run_cli("translate", str(source), "--warehouse", str(tmp_path))
    assert nowhere.returncode == 2 and "no warehouse here" in nowhere.stderr


def test_translate_reports_unreadable_sql(tmp_path: Path) -> None:
    source = tmp_path / "bad.sql"
    source.write_text("SELECT (((")
    done = run_cli("translate", str(source))
    assert done.returncode == 2 and "not BigQuery SQL" in done.stderr
    assert run_cli("translate", str(tmp_path / "none.sql")).returncode == 2
