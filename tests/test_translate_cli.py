"""`cxr-sql translate` refuses what it cannot keep (exit 2, construct and line named),
maps a user's own datasets, and checks every table's dataset."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import run_cli

REFUSED = """SELECT subject_id,
       PERCENTILE_CONT(anchor_age, 0.5) OVER () AS median_age
FROM `physionet-data.mimiciv_hosp.patients`
"""


def translate_text(tmp_path: Path, sql: str, *flags: str):
    source = tmp_path / "query.sql"
    source.write_text(sql)
    return run_cli("translate", str(source), *flags)


def test_construct_it_cannot_keep_is_refused_with_its_line(tmp_path: Path) -> None:
    done = translate_text(tmp_path, REFUSED)
    assert done.returncode == 2 and done.stdout == ""
    assert "line 2: PERCENTILE_CONT" in done.stderr and "Traceback" not in done.stderr


def test_declare_script_is_refused(tmp_path: Path) -> None:
    done = translate_text(tmp_path, "DECLARE x INT64 DEFAULT 5;\nSELECT x")
    assert done.returncode == 2 and "line 1: DECLARE" in done.stderr


def test_unknown_dataset_is_refused_with_the_datasets_held(tmp_path: Path) -> None:
    done = translate_text(tmp_path, "SELECT * FROM `physionet-data.mimiciv_drived.sofa`")
    assert done.returncode == 2
    assert "physionet-data.mimiciv_drived" in done.stderr
    assert "mimiciv_hosp" in done.stderr and "mimic_cxr_derived" in done.stderr


def test_own_datasets_map_back(tmp_path: Path) -> None:
    sql = (
        "SELECT a.study_id, c.n FROM `my-project.cxr_derived.study_admission` a\n"
        "JOIN `my-project.scratch.counts` c USING (study_id)"
    )
    unmapped = translate_text(tmp_path, sql)
    assert unmapped.returncode == 2 and "--dataset-map my-project.scratch=SCHEMA" in unmapped.stderr
    done = translate_text(tmp_path, sql, "--dataset-map", "my-project.scratch=main")
    assert done.returncode == 0, done.stderr
    assert "mimic_cxr_derived.study_admission" in done.stdout and "main.counts" in done.stdout
    assert "my-project" not in done.stdout
    bad = translate_text(tmp_path, sql, "--dataset-map", "scratch=main")
    assert bad.returncode == 2 and "PROJECT.DATASET=SCHEMA" in bad.stderr
