"""mimic-code's concepts built here against mimic-code's own DuckDB version of them,
on the real MIMIC-IV demo. Runs only with a mimic-code checkout in MIMIC_CODE_DIR
(nothing of mimic-code is in this project)."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cxr_sql.bigquery.concepts_compare import Comparison, compare, compare_rows
from cxr_sql.build import BuildOptions, run_build
from tests.helpers import REPO

SHARED_DEMO = REPO.parent / "shared" / "data" / "mimic-iv-demo-2.2"
MIMIC_CODE = Path(os.environ.get("MIMIC_CODE_DIR", "/nonexistent"))
needs_mimic_code = pytest.mark.skipif(
    not (MIMIC_CODE / "mimic-iv" / "concepts_duckdb").is_dir() or not SHARED_DEMO.is_dir(),
    reason="needs a mimic-code checkout in MIMIC_CODE_DIR (git clone "
    "https://github.com/MIT-LCP/mimic-code) and the real demo in ../shared/data",
)
# chartevents as in MIMIC-IV's DDL (the demo has none): header only.
CHARTEVENTS_HEADER = (
    "subject_id,hadm_id,stay_id,caregiver_id,charttime,storetime,itemid,value,valuenum,"
    "valueuom,warning\n"
)
# itemids of the vasopressors in inputevents (MIMIC-IV d_items): norepinephrine,
# epinephrine, dopamine, phenylephrine, vasopressin.
VASOPRESSORS = (221906, 221289, 221662, 221749, 222315)
CREATININE = 50912  # labevents itemid


def report(results: list[Comparison]) -> str:
    return "\n".join(r.line() for r in results)


def test_rows_compare_as_multisets_within_the_tolerance() -> None:
    ours = [(1, "a", 0.1234567), (2, "b", None), (2, "b", None)]
    assert compare_rows(ours, [(2, "b", None), (1, "a", 0.1234571), (2, "b", None)])[0] == 0
    differing, columns, _ = compare_rows(ours, [(1, "a", 0.1235), (2, "b", None), (2, "b", None)])
    assert (differing, columns) == (1, [2])
    assert compare_rows(ours, ours[:2])[0] == 1  # a duplicate row counts


@pytest.fixture(scope="module")
def demo_as_is(tmp_path_factory: pytest.TempPathFactory) -> Path:
    warehouse = tmp_path_factory.mktemp("concepts-demo") / "warehouse"
    run_build(BuildOptions(warehouse, mimiciv=SHARED_DEMO, all_tables=True, concepts=MIMIC_CODE))
    return warehouse


@pytest.fixture(scope="module")
def demo_with_chartevents(tmp_path_factory: pytest.TempPathFactory, demo_sources: Path) -> Path:
    """The demo with an empty chartevents, so that every concept runs; with the
    synthetic studies placed on its timeline."""
    mimiciv = tmp_path_factory.mktemp("demo-chartevents") / "mimiciv"
    shutil.copytree(SHARED_DEMO, mimiciv, copy_function=os.symlink)
    with gzip.open(mimiciv / "icu" / "chartevents.csv.gz", "wt") as empty:
        empty.write(CHARTEVENTS_HEADER)
    warehouse = mimiciv.parent / "warehouse"
    run_build(
        BuildOptions(
            warehouse,
            mimic_cxr=demo_sources / "mimic-cxr",
            mimic_cxr_jpg=demo_sources / "mimic-cxr-jpg",
            mimiciv=mimiciv,
            mimiciv_ed=demo_sources / "mimiciv",
            mimiciv_version="2.2",
            all_tables=True,
            concepts=MIMIC_CODE,
        )
    )
    return warehouse


@needs_mimic_code
def test_demo_concepts_equal_mimic_code_duckdb(demo_as_is: Path) -> None:
    results = compare(demo_as_is, MIMIC_CODE)
    print(report(results))
    outcomes = {r.concept: r.outcome for r in results}
    assert set(outcomes.values()) <= {"equal", "skipped"}, report(results)
    skipped = [r for r in results if r.outcome == "skipped"]
    assert skipped and all("mimiciv_icu.chartevents" in r.detail for r in skipped)


@needs_mimic_code
def test_every_concept_equal_with_an_empty_chartevents(demo_with_chartevents: Path) -> None:
    results = compare(demo_with_chartevents, MIMIC_CODE)
    print(report(results))
    assert {r.outcome for r in results} == {"equal"}, report(results)
    assert len(results) == len(list((MIMIC_CODE / "mimic-iv" / "concepts").rglob("*.sql")))


@needs_mimic_code
def test_example_reads_the_concepts_at_each_xray(demo_with_chartevents: Path, tmp_path) -> None:
    out = tmp_path / "at_xray.csv"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples" / "icu_xray_sofa_ventilation.py"),
            "--warehouse",
            str(demo_with_chartevents),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "chest x-rays taken in an ICU stay" in done.stdout
    assert out.stat().st_mode & 0o777 == 0o600
    import duckdb

    with duckdb.connect(str(demo_with_chartevents / "mimic.duckdb"), read_only=True) as con:
        con.execute(f"CREATE TEMP TABLE x AS SELECT * FROM read_csv('{out}')")
        (studies,) = con.execute(
            "SELECT count(*) FROM mimic_cxr_derived.study_icustay WHERE stay_id IS NOT NULL"
        ).fetchone()
        rows = con.execute("SELECT count(*), count(DISTINCT study_id) FROM x").fetchone()
        # On vasopressors per the concept <=> a vasopressor infusion of inputevents running.
        disagree = con.execute(
            f"""
            SELECT x.study_id, x.norepinephrine_equivalent_dose, count(i.itemid) AS running
            FROM x LEFT JOIN mimiciv_icu.inputevents i
              ON i.stay_id = x.stay_id AND i.itemid IN {VASOPRESSORS}
             AND i.starttime <= x.study_datetime AND x.study_datetime < i.endtime
            GROUP BY ALL HAVING (x.norepinephrine_equivalent_dose > 0) <> (count(i.itemid) > 0)
            """
        ).fetchall()
        # The creatinine is the last one measured before the x-ray, from labevents.
        creatinine = con.execute(
            f"""
            WITH last AS (
                SELECT x.study_id, arg_max(l.valuenum, l.charttime) AS value
                FROM x JOIN mimiciv_icu.icustays s USING (stay_id)
                JOIN mimiciv_hosp.labevents l
                  ON l.subject_id = s.subject_id AND l.itemid = {CREATININE}
                 AND l.valuenum IS NOT NULL AND l.valuenum <= 150
                 AND l.charttime >= s.intime - INTERVAL 7 DAY
                 AND l.charttime <= x.study_datetime
                GROUP BY ALL
            )
            SELECT count(*) FILTER (WHERE x.creatinine IS NOT NULL),
                   count(*) FILTER (WHERE x.creatinine IS DISTINCT FROM last.value)
            FROM x LEFT JOIN last USING (study_id)
            """
        ).fetchone()
        on_pressors = con.execute(
            "SELECT count(*) FROM x WHERE norepinephrine_equivalent_dose > 0"
        ).fetchone()[0]
    assert rows == (studies, studies) and studies > 20
    assert disagree == [] and on_pressors > 0
    assert creatinine[0] > 20 and creatinine[1] == 0
