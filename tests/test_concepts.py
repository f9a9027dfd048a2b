"""`cxr-sql build --concepts`: concept files of our own, in BigQuery's dialect, built
into mimiciv_derived over the real MIMIC-IV demo tables bundled with the package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cxr_sql.bigquery.concept_files import ConceptError, build_order, read_concepts
from cxr_sql.build import EXIT_BAD_INPUT, EXIT_OK, BuildOptions, run_build
from tests.helpers import BUNDLED_DEMO, REPO, VENV_BIN, duckdb_cli, run_cli

# Written for these tests (never copied from mimic-code), in BigQuery's dialect.
STAY_AGES = """
-- Age at the start of each ICU stay, and the hours spent in the unit.
SELECT
    ie.stay_id
    , ie.subject_id
    , pa.anchor_age
      + DATETIME_DIFF(ie.intime, DATETIME(pa.anchor_year, 1, 1, 0, 0, 0), YEAR) AS age
    , DATETIME_DIFF(ie.outtime, ie.intime, HOUR) AS hours_in_unit
FROM `physionet-data.mimiciv_icu.icustays` ie
INNER JOIN `physionet-data.mimiciv_hosp.patients` pa
    ON ie.subject_id = pa.subject_id
"""
LONG_STAYS = """
-- Adult stays of a day or more (reads a concept of another folder through a CTE).
WITH adults AS (
    SELECT stay_id, subject_id, hours_in_unit
    FROM `physionet-data.mimiciv_derived.stay_ages`
    WHERE age >= 18
)
SELECT stay_id, subject_id, hours_in_unit, IF(hours_in_unit > 48, 1, 0) AS over_two_days
FROM adults
WHERE hours_in_unit >= 24
"""
CREATININE = """
SELECT subject_id, charttime, valuenum AS creatinine
FROM `physionet-data.mimiciv_hosp.labevents`
WHERE itemid = 50912
"""
CREATININE_PEAK = """
SELECT subject_id, MAX(creatinine) AS peak
FROM `physionet-data.mimiciv_derived.creatinine`
GROUP BY subject_id
"""
BAD_COLUMN = """
SELECT hadm_id, no_such_column
FROM `physionet-data.mimiciv_hosp.admissions`
"""
AFTER_BAD = "SELECT COUNT(*) AS n FROM `physionet-data.mimiciv_derived.bad_column`\n"
CONCEPTS = {
    "demographics/stay_ages.sql": STAY_AGES,
    "scores/long_stays.sql": LONG_STAYS,
    "labs/creatinine.sql": CREATININE,
    "labs/creatinine_peak.sql": CREATININE_PEAK,
    "broken/bad_column.sql": BAD_COLUMN,
    "broken/after_bad.sql": AFTER_BAD,
}
# The same answer, written directly in DuckDB over the source tables.
EXPECTED_LONG_STAYS = """
SELECT ie.stay_id, ie.subject_id,
       CAST(epoch(date_trunc('hour', ie.outtime) - date_trunc('hour', ie.intime)) // 3600 AS INT)
FROM mimiciv_icu.icustays ie JOIN mimiciv_hosp.patients pa USING (subject_id)
WHERE pa.anchor_age + year(ie.intime) - pa.anchor_year >= 18
  AND date_trunc('hour', ie.outtime) >= date_trunc('hour', ie.intime) + INTERVAL 24 HOUR
ORDER BY ALL
"""


def write_concepts(folder: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    return folder


def cli_rows(warehouse: Path, sql: str) -> list[list[str]]:
    """Rows as the real DuckDB CLI prints them (CSV, no header)."""
    done = subprocess.run(
        [duckdb_cli(), "-readonly", "-csv", "-noheader", str(warehouse / "mimic.duckdb"), sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.split(",") for line in done.stdout.splitlines()]


def build(warehouse: Path, concepts: Path, mimiciv: Path = BUNDLED_DEMO, **options):
    return run_build(BuildOptions(warehouse, mimiciv=mimiciv, concepts=concepts, jobs=2, **options))


def stage(report, prefix: str):
    return next(s for s in report.stages if s.name.startswith(prefix))


def test_order_comes_from_the_sql(tmp_path: Path) -> None:
    folder = write_concepts(tmp_path, CONCEPTS)
    concepts = read_concepts(folder)
    order = build_order(concepts)
    assert order.index("stay_ages") < order.index("long_stays")
    assert order.index("creatinine") < order.index("creatinine_peak")
    assert concepts["long_stays"].concepts_read == {"stay_ages"}  # the CTE is not a table
    assert concepts["stay_ages"].sources_read == {"mimiciv_icu.icustays", "mimiciv_hosp.patients"}


def test_a_cycle_or_a_missing_concept_is_one_error(tmp_path: Path) -> None:
    cycle = write_concepts(
        tmp_path / "cycle",
        {
            "a/first.sql": "SELECT * FROM `physionet-data.mimiciv_derived.second`",
            "b/second.sql": "SELECT * FROM `physionet-data.mimiciv_derived.first`",
        },
    )
    with pytest.raises(ConceptError, match=r"cycle \(each reads the next\): a/first.sql -> b/se"):
        build_order(read_concepts(cycle))
    missing = write_concepts(tmp_path / "missing", {"x/lonely.sql": AFTER_BAD})
    with pytest.raises(ConceptError, match=r"x/lonely.sql reads mimiciv_derived.bad_column"):
        build_order(read_concepts(missing))
    twice = write_concepts(tmp_path / "twice", {"a/age.sql": BAD_COLUMN, "b/age.sql": BAD_COLUMN})
    with pytest.raises(ConceptError, match=r"a/age.sql and b/age.sql both make"):
        read_concepts(twice)


def test_builds_skips_and_fails_honestly(tmp_path: Path) -> None:
    folder = write_concepts(tmp_path / "concepts", CONCEPTS)
    warehouse = tmp_path / "warehouse"
    report = build(warehouse, folder)
    concepts = stage(report, "concepts 2.2")
    assert report.exit_code == EXIT_BAD_INPUT
    assert concepts.rows == {"built": 2, "reused": 0, "skipped": 3, "failed": 1}
    assert concepts.error.startswith(f"{folder / 'broken/bad_column.sql'}: Binder Error")
    assert concepts.details == [
        "skipped 1, needing mimiciv_derived.bad_column (failed): after_bad",
        "skipped 2, needing mimiciv_hosp.labevents (not in the warehouse): creatinine, "
        "creatinine_peak",
        f"failed broken/bad_column.sql: {concepts.error.split(': ', 1)[1]}",
    ]
    reasons = dict(cli_rows(warehouse, "SELECT concept, reason FROM mimiciv_derived._concepts"))
    assert reasons["creatinine_peak"] == (
        "needs mimiciv_hosp.labevents (not in the warehouse) through mimiciv_derived.creatinine"
    )
    rows = cli_rows(
        warehouse, "SELECT * EXCLUDE over_two_days FROM mimiciv_derived.long_stays ORDER BY ALL"
    )
    expected = cli_rows(warehouse, EXPECTED_LONG_STAYS)
    assert rows == expected and len(rows) > 50
    status = {
        concept: (state, cause)
        for concept, state, cause in cli_rows(
            warehouse, "SELECT concept, status, cause FROM mimiciv_derived._concepts"
        )
    }
    assert status["bad_column"] == ("failed", "mimiciv_derived.bad_column (failed)")
    assert status["stay_ages"] == ("built", "")
    tables = {
        name
        for (name,) in cli_rows(
            warehouse, "SELECT view_name FROM duckdb_views() WHERE schema_name = 'mimiciv_derived'"
        )
    }
    assert tables == {"stay_ages", "long_stays", "_concepts", "_rejects"}  # every schema has one


def test_incremental_rebuilds_what_changed_and_nothing_else(tmp_path: Path) -> None:
    mimiciv = tmp_path / "mimiciv"
    shutil.copytree(BUNDLED_DEMO, mimiciv)
    good = {k: v for k, v in CONCEPTS.items() if not k.startswith("broken/")}
    folder = write_concepts(tmp_path / "concepts", good)
    warehouse = tmp_path / "warehouse"
    assert stage(build(warehouse, folder, mimiciv), "concepts").rows["built"] == 2
    again = build(warehouse, folder, mimiciv)
    assert again.exit_code == EXIT_OK and again.published is None  # a no-op stays a no-op

    (folder / "scores/long_stays.sql").write_text(LONG_STAYS.replace(">= 24", ">= 12"))
    changed = stage(build(warehouse, folder, mimiciv), "concepts")
    assert changed.rows == {"built": 1, "reused": 1, "skipped": 2, "failed": 0}

    patients = mimiciv / "hosp/patients.csv.gz"  # a source the concepts read changes
    subprocess.run(
        f"zcat {patients} | head -n 60 | gzip > {tmp_path}/p.gz && mv {tmp_path}/p.gz {patients}",
        shell=True,
        check=True,
    )
    rebuilt = stage(build(warehouse, folder, mimiciv), "concepts")
    assert rebuilt.rows["built"] == 2
    (n,) = cli_rows(warehouse, "SELECT count(DISTINCT subject_id) FROM mimiciv_derived.stay_ages")
    assert int(n[0]) <= 59


def test_failed_concept_is_retried_and_others_reused(tmp_path: Path) -> None:
    folder = write_concepts(tmp_path / "concepts", CONCEPTS)
    warehouse = tmp_path / "warehouse"
    build(warehouse, folder)
    retried = build(warehouse, folder)
    assert retried.exit_code == EXIT_BAD_INPUT
    assert stage(retried, "concepts").rows == {"built": 0, "reused": 2, "skipped": 3, "failed": 1}
    (folder / "broken/bad_column.sql").write_text(
        BAD_COLUMN.replace("no_such_column", "hadm_id + 1 AS next_id")
    )
    fixed = build(warehouse, folder)
    assert fixed.exit_code == EXIT_OK
    assert stage(fixed, "concepts").rows == {"built": 2, "reused": 2, "skipped": 2, "failed": 0}


def test_releases_side_by_side(tmp_path: Path) -> None:
    charted = "SELECT stay_id FROM `physionet-data.mimiciv_icu.chartevents`"
    folder = write_concepts(
        tmp_path / "concepts", {"d/stay_ages.sql": STAY_AGES, "s/sofa.sql": charted}
    )
    warehouse = tmp_path / "warehouse"
    build(warehouse, folder)
    build(warehouse, folder, mimiciv_version="3.1")
    metadata = dict(cli_rows(warehouse, "SELECT * FROM mimiciv_derived._metadata"))
    assert metadata["points_to"] == "mimiciv_3_1_derived"
    assert metadata["source_fingerprint"] and metadata["dataset"].startswith("mimic-code")
    for schema in ("mimiciv_2_2_derived", "mimiciv_3_1_derived", "mimiciv_derived"):
        (n,) = cli_rows(warehouse, f"SELECT count(*) FROM {schema}.stay_ages")
        assert int(n[0]) == 140
    record = json.loads((warehouse / "build.json").read_text())
    assert {"concepts 2.2", "concepts 3.1"} <= set(record["fingerprints"])

    example = REPO / "examples" / "icu_xray_sofa_ventilation.py"
    done = subprocess.run(
        [sys.executable, str(example), "--warehouse", str(warehouse)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert (
        "mimiciv_derived.sofa: skipped: reads mimiciv_icu.chartevents (not in the warehouse)\n"
        "  mimiciv_derived.ventilation: not built; cxr-sql build --concepts DIR"
    ) in done.stderr


def test_cli_refuses_a_folder_without_concepts(tmp_path: Path) -> None:
    done = run_cli("build", "--warehouse", str(tmp_path / "w"), "--concepts", str(tmp_path))
    assert done.returncode == 2
    assert "neither a mimic-code checkout" in done.stderr and "Traceback" not in done.stderr


def test_concepts_from_the_config_file_or_the_environment(tmp_path: Path) -> None:
    folder = write_concepts(
        tmp_path / "concepts", {"d/stay_ages.sql": STAY_AGES, "d/_metadata.sql": BAD_COLUMN}
    )
    (tmp_path / "cxr-sql.toml").write_text(f'concepts = "{folder}"\nmimiciv = "{BUNDLED_DEMO}"\n')
    from_config = run_cli("build", "--warehouse", "w1", cwd=tmp_path)
    assert from_config.returncode == EXIT_BAD_INPUT, from_config.stderr
    assert "concepts 2.2 built 1, reused 0, skipped 0, failed 1" in from_config.stdout
    assert "failed d/_metadata.sql: its file name is not a table name" in from_config.stdout
    (tmp_path / "cxr-sql.toml").unlink()
    (folder / "d/_metadata.sql").unlink()
    environment = {**os.environ, "MIMIC_CODE_DIR": str(folder)}
    from_environment = subprocess.run(
        [str(VENV_BIN / "cxr-sql"), "build", "--warehouse", "w2", "--mimiciv", str(BUNDLED_DEMO)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert from_environment.returncode == EXIT_OK, from_environment.stderr
    assert "concepts 2.2 built 1, reused 0, skipped 0, failed 0" in from_environment.stdout
