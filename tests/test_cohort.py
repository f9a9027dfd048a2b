"""The Python cohort layer and the example scripts, on the demo warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import cxr_sql
from cxr_sql.cohort import (
    ed_studies_later_admitted,
    first_frontal_per_icu_stay,
    reports_and_labels,
    studies_with_diagnoses,
)
from tests.helpers import REPO, build_warehouse

SHARED_DEMO = REPO.parent / "shared" / "data" / "mimic-iv-demo-2.2"


@pytest.fixture(scope="module")
def warehouse(demo_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's studies with the real demo's hosp and icu tables, diagnoses included."""
    mimiciv = SHARED_DEMO if SHARED_DEMO.is_dir() else demo_sources / "mimiciv"
    target = tmp_path_factory.mktemp("cohort") / "warehouse"
    return build_warehouse(
        demo_sources,
        target,
        mimiciv=mimiciv,
        mimiciv_ed=demo_sources / "mimiciv",
        tables=("diagnoses_icd",),
    )


@pytest.mark.skipif(not SHARED_DEMO.is_dir(), reason="needs the demo's diagnoses_icd")
def test_studies_with_diagnoses_match_hand_written_sql(warehouse: Path) -> None:
    with cxr_sql.connect(warehouse) as con:
        (code,) = con.execute(
            "SELECT d.icd_code FROM mimiciv_hosp.diagnoses_icd d "
            "JOIN mimic_cxr_derived.study_admission a USING (hadm_id) "
            "GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 1"
        ).fetchone()
        found = studies_with_diagnoses(con, [code])
        expected = con.execute(
            "SELECT DISTINCT a.study_id FROM mimic_cxr_derived.study_admission a "
            f"JOIN mimiciv_hosp.diagnoses_icd d USING (hadm_id) WHERE d.icd_code = '{code}'"
        ).fetchall()
        by_prefix = studies_with_diagnoses(con, [code[:3]], prefix=True)
    assert sorted(found["study_id"].unique().to_list()) == sorted(s for (s,) in expected)
    assert found.height > 0 and set(found["icd_code"]) == {code}
    assert set(found["study_id"]) <= set(by_prefix["study_id"])


def test_values_with_quotes_and_sql_are_only_data(warehouse: Path) -> None:
    hostile = ["I10'; DROP VIEW mimic_cxr.reports; --", "' OR '1'='1", 'x"); SELECT 1; --']
    with cxr_sql.connect(warehouse) as con:
        if SHARED_DEMO.is_dir():
            assert studies_with_diagnoses(con, hostile, prefix=True).height == 0
        assert reports_and_labels(con, []).height == 0
        with pytest.raises(ValueError, match="labeler must be one of"):
            reports_and_labels(con, [1], labeler="chexpert c; DROP VIEW mimic_cxr.reports")
        assert con.execute("SELECT count(*) FROM mimic_cxr.reports").fetchone()[0] > 0
        with pytest.raises(TypeError, match="icd_codes must be a list"):
            studies_with_diagnoses(con, "J93")  # not the codes J, 9 and 3
        with pytest.raises(TypeError, match="study_ids must be a list"):
            reports_and_labels(con, "50000001")


def test_first_frontal_x_ray_of_each_icu_stay(warehouse: Path) -> None:
    with cxr_sql.connect(warehouse) as con:
        first = first_frontal_per_icu_stay(con, within_hours=24)
        views = dict(
            con.execute(
                "SELECT study_id, list(ViewPosition) FROM mimic_cxr.metadata GROUP BY ALL"
            ).fetchall()
        )
        stays = con.execute("SELECT stay_id, intime, outtime FROM mimiciv_icu.icustays").fetchall()
    assert first.height > 0
    assert first["stay_id"].n_unique() == first.height
    assert first["hours_after_icu_admission"].min() >= 0
    assert first["hours_after_icu_admission"].max() <= 24
    window = {stay: (start, end) for stay, start, end in stays}
    for row in first.iter_rows(named=True):
        assert {"AP", "PA"} & set(views[row["study_id"]])
        start, end = window[row["stay_id"]]
        assert start <= row["study_datetime"] <= end


def test_ed_studies_later_admitted(warehouse: Path) -> None:
    with cxr_sql.connect(warehouse) as con:
        studies = ed_studies_later_admitted(con)
    assert studies.height > 0
    assert (studies["study_datetime"] < studies["admittime"]).all()
    assert (studies["hours_before_admission"] > 0).all()


def test_many_readers_at_once(warehouse: Path) -> None:
    script = (
        "import cxr_sql, sys; con = cxr_sql.connect(sys.argv[1]); "
        "print(con.sql('SELECT count(*) FROM mimic_cxr_derived.study_admission').fetchone()[0])"
    )
    readers = [
        subprocess.Popen([sys.executable, "-c", script, str(warehouse)], stdout=subprocess.PIPE)
        for _ in range(4)
    ]
    outputs = {reader.communicate(timeout=60)[0] for reader in readers}
    assert all(reader.returncode == 0 for reader in readers)
    assert len(outputs) == 1 and int(outputs.pop()) > 0


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("pneumothorax_first_icu_xray.py", "ICU stays with a frontal x-ray in their first 24 h:"),
        ("ed_xrays_later_admitted.py", "ED x-rays of patients later admitted:"),
        ("sections_labels_by_split.py", "train:"),
    ],
)
def test_example_scripts_run(warehouse: Path, tmp_path: Path, script: str, expected: str) -> None:
    out = tmp_path / "exports" / "splits"
    extra = ["--out", str(out)] if script.startswith("sections") else []
    done = run_example(script, "--warehouse", str(warehouse), *extra, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout
    count = int(done.stdout.split(expected)[1].split()[0])
    assert count > 0
    if script.startswith("sections"):
        written = sorted(out.iterdir())
        assert out / "train.parquet" in written
        assert all(path.stat().st_mode & 0o777 == 0o600 for path in written)
        assert out.stat().st_mode & 0o777 == 0o700
        assert [p.name for p in tmp_path.iterdir()] == ["exports"]  # nothing else in the cwd


def test_example_writes_nowhere_unless_told(warehouse: Path, tmp_path: Path) -> None:
    done = run_example("sections_labels_by_split.py", "--warehouse", str(warehouse), cwd=tmp_path)
    assert done.returncode == 2 and "--out" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_example_replaces_a_readable_file_with_an_owner_only_one(
    warehouse: Path, tmp_path: Path
) -> None:
    earlier = tmp_path / "train.parquet"
    earlier.write_text("an earlier run")
    earlier.chmod(0o644)
    done = run_example(
        "sections_labels_by_split.py", "--warehouse", str(warehouse), "--out", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    assert earlier.stat().st_mode & 0o777 == 0o600
    assert earlier.read_bytes()[:4] == b"PAR1"


def run_example(script: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """An example script as a researcher runs it, with the common umask 022."""
    return subprocess.run(
        [sys.executable, str(REPO / "examples" / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: os.umask(0o022),
    )
