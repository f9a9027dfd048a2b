"""Building MIMIC-CXR lists and reports into Parquet and the DuckDB catalog."""

from __future__ import annotations

import csv
import gzip
import subprocess
from pathlib import Path

import duckdb
import pytest

from cxr_sql.build import BuildOptions, run_build
from cxr_sql.publish import data_root
from tests.helpers import duckdb_cli, run_cli


def build(
    sources: Path, warehouse: Path, reports_from: str = "auto", jobs: int = 2, jpg: bool = False
) -> Path:
    report = run_build(
        BuildOptions(
            warehouse,
            sources / "mimic-cxr",
            mimic_cxr_jpg=sources / "mimic-cxr-jpg" if jpg else None,
            reports_from=reports_from,
            jobs=jobs,
        )
    )
    assert report.exit_code == 0, [s.error for s in report.stages]
    return warehouse


@pytest.fixture(scope="module")
def tiny_warehouse(tiny_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tiny_sources, tmp_path_factory.mktemp("wh") / "warehouse")


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def csv_rows(path: Path) -> int:
    with gzip.open(path, "rt", newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def test_catalog_has_every_view_and_counts_match_the_sources(
    tiny_warehouse: Path, tiny_sources: Path
) -> None:
    tables = {
        name
        for (name,) in query(
            tiny_warehouse,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'mimic_cxr'",
        )
    }
    assert tables == {
        "record_list",
        "study_list",
        "reports",
        "report_sections",
        "sectioned",
        "sectioned_mimic_code",
        "dicom_metadata",  # the tiny sources have a DICOM per image: --dicom auto reads them
        "dicom_metadata_string",
        "_rejects",
        "_metadata",
    }
    cxr = tiny_sources / "mimic-cxr"
    records = csv_rows(cxr / "cxr-record-list.csv.gz")
    studies = csv_rows(cxr / "cxr-study-list.csv.gz")
    assert query(tiny_warehouse, "SELECT count(*) FROM mimic_cxr.record_list") == [(records,)]
    assert query(tiny_warehouse, "SELECT count(*) FROM mimic_cxr.reports") == [(studies,)]
    assert query(tiny_warehouse, "SELECT count(*) FROM mimic_cxr.sectioned") == [(studies,)]
    assert query(tiny_warehouse, "SELECT count(*) FROM mimic_cxr._rejects") == [(0,)]
    types = dict(
        query(
            tiny_warehouse,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'mimic_cxr' AND table_name = 'record_list'",
        )
    )
    assert types == {
        "subject_id": "INTEGER",
        "study_id": "INTEGER",
        "dicom_id": "VARCHAR",
        "path": "VARCHAR",
    }


def test_report_text_is_the_file_and_sections_round_trip(
    tiny_warehouse: Path, tiny_sources: Path
) -> None:
    rows = query(tiny_warehouse, "SELECT path, text, n_bytes FROM mimic_cxr.reports")
    for path, text, n_bytes in rows:
        data = (tiny_sources / "mimic-cxr" / path).read_bytes()
        assert text == data.decode("utf-8") and n_bytes == len(data)
    (mismatches,) = query(
        tiny_warehouse,
        """SELECT count(*)
           FROM mimic_cxr.report_sections s JOIN mimic_cxr.reports r USING (study_id)
           WHERE substr(r.text, s.char_start + 1, s.char_end - s.char_start) <> s.text""",
    )[0]
    assert mismatches == 0
    assert query(tiny_warehouse, "SELECT count(*) FROM mimic_cxr.report_sections")[0][0] > 100


def test_addenda_flagged_where_the_report_has_one(tiny_warehouse: Path) -> None:
    rows = query(
        tiny_warehouse,
        "SELECT has_addendum, text LIKE '%FINAL ADDENDUM%' FROM mimic_cxr.reports",
    )
    assert all(flag == has_title for flag, has_title in rows)


def test_sectioned_picks_sections_and_conclusion(tiny_warehouse: Path) -> None:
    rows = query(
        tiny_warehouse,
        """SELECT s.study_id, s.impression, s.findings, s.last_paragraph, s.comparison,
                  s.conclusion, r.text
           FROM mimic_cxr.sectioned s JOIN mimic_cxr.reports r USING (study_id)""",
    )
    with_impression = 0
    for _, impression, findings, last_paragraph, comparison, conclusion, text in rows:
        present = [v for v in (impression, findings, last_paragraph, comparison) if v is not None]
        assert conclusion == (present[0] if present else None)
        if impression is not None:
            with_impression += 1
            assert impression in text
    assert with_impression > len(rows) / 2


def test_zip_and_tree_give_identical_parquet(tiny_sources: Path, tmp_path: Path) -> None:
    tree = build(tiny_sources, tmp_path / "tree", "tree", jobs=2)
    zipped = build(tiny_sources, tmp_path / "zip", "zip", jobs=1)
    for table in ("reports", "report_sections"):
        parts = sorted((data_root(tree) / "mimic_cxr" / table).glob("*.parquet"))
        assert parts
        for part in parts:
            other = data_root(zipped) / "mimic_cxr" / table / part.name
            assert other.read_bytes() == part.read_bytes(), part.name


def test_duckdb_cli_reads_the_catalog_from_another_directory(
    tiny_warehouse: Path, tmp_path: Path
) -> None:
    done = subprocess.run(
        [
            duckdb_cli(),
            "-readonly",
            "-csv",
            str(tiny_warehouse / "mimic.duckdb"),
            "-c",
            "SELECT count(*) FROM mimic_cxr.sectioned WHERE conclusion IS NOT NULL",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    (count,) = query(tiny_warehouse, "SELECT count(*) FROM mimic_cxr.reports")[0]
    assert done.stdout.splitlines() == ["count_star()", str(count)]


def test_build_and_query_commands(tiny_sources: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    done = run_cli(
        "build", "--warehouse", str(warehouse), "--mimic-cxr", str(tiny_sources / "mimic-cxr")
    )
    assert done.returncode == 0, done.stderr
    assert "reports 42" in done.stdout and "0 rejects" in done.stdout
    assert (warehouse.stat().st_mode & 0o777) == 0o700
    assert ((warehouse / "mimic.duckdb").stat().st_mode & 0o777) == 0o600
    shown = run_cli(
        "query", "--warehouse", str(warehouse), "SELECT count(*) AS n FROM mimic_cxr.reports"
    )
    assert shown.returncode == 0 and "42" in shown.stdout
    bad = run_cli("query", "--warehouse", str(warehouse), "SELECT * FROM nowhere")
    assert bad.returncode == 2 and "nowhere" in bad.stderr and "Traceback" not in bad.stderr


def test_build_without_sources_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("build", "--warehouse", str(tmp_path / "w"))
    assert done.returncode == 2 and "--mimic-cxr" in done.stderr


def test_dicom_headers_are_built_and_time_the_studies(tiny_sources: Path, tmp_path: Path) -> None:
    tiny_warehouse = build(tiny_sources, tmp_path / "warehouse", jpg=True)
    records = csv_rows(tiny_sources / "mimic-cxr" / "cxr-record-list.csv.gz")
    assert query(tiny_warehouse, "SELECT count(*) FROM mimic_cxr.dicom_metadata") == [(records,)]
    assert query(
        tiny_warehouse, "SELECT DISTINCT time_source FROM mimic_cxr_derived.study_times"
    ) == [("dicom",)]
    (disagreeing,) = query(
        tiny_warehouse,
        "SELECT count(*) FROM mimic_cxr.dicom_metadata d JOIN mimic_cxr.metadata j "
        "USING (dicom_id) WHERE d.study_datetime <> j.study_datetime "
        "OR d.ViewPosition IS DISTINCT FROM nullif(j.ViewPosition, '')",
    )[0]
    assert disagreeing == 0


def test_dicom_no_skips_the_headers(tiny_sources: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    done = run_cli(
        "build", "--warehouse", str(warehouse), "--mimic-cxr", str(tiny_sources / "mimic-cxr"),
        "--dicom", "no",
    )  # fmt: skip
    assert done.returncode == 0
    assert not [line for line in done.stdout.splitlines() if line.startswith("dicom")]
