"""MIMIC-IV modules into typed Parquet and versioned schemas, on the real demo and on
generated 2.2 and 3.1 sources side by side."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import pytest

from cxr_sql.build import BuildOptions, run_build
from cxr_sql.mimiciv_ddl import duckdb_types
from tests.helpers import REPO, run_cli, synth

DEMO = REPO.parent / "shared" / "data" / "mimic-iv-demo-2.2"
needs_demo = pytest.mark.skipif(not DEMO.is_dir(), reason="../shared/data demo not present")


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The real demo built with --all by the command: the warehouse and what it printed."""
    warehouse = tmp_path_factory.mktemp("demo") / "warehouse"
    done = run_cli("build", "--warehouse", str(warehouse), "--mimiciv", str(DEMO), "--all")
    assert done.returncode == 0, done.stdout + done.stderr
    return warehouse, done.stdout + done.stderr


@pytest.fixture(scope="module")
def demo_warehouse(demo_build: tuple[Path, str]) -> Path:
    return demo_build[0]


@needs_demo
def test_real_demo_row_counts(demo_warehouse: Path) -> None:
    counts = {
        "mimiciv_hosp.patients": 100,
        "mimiciv_hosp.admissions": 275,
        "mimiciv_hosp.transfers": 1190,
        "mimiciv_icu.icustays": 140,
        "mimiciv_2_2_hosp.patients": 100,
    }
    for table, expected in counts.items():
        assert query(demo_warehouse, f"SELECT count(*) FROM {table}") == [(expected,)], table


@needs_demo
def test_real_demo_every_column_has_its_ddl_type(demo_build: tuple[Path, str]) -> None:
    warehouse, printed = demo_build
    found: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, data_type in query(
        warehouse,
        "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema IN ('mimiciv_2_2_hosp', 'mimiciv_2_2_icu') "
        "AND NOT starts_with(table_name, '_') ORDER BY table_schema, table_name, ordinal_position",
    ):
        found.setdefault((schema.rsplit("_", 1)[1], table), {})[column] = data_type
    files = {(p.parent.name, p.name.removesuffix(".csv.gz")) for p in DEMO.glob("*/*.csv.gz")}
    assert set(found) == files and len(files) == 30  # every demo table (icu/chartevents is absent)
    for (module, table), columns in found.items():
        expected = duckdb_types(module, table)
        assert list(columns.items()) == list(expected.items()), (module, table)
    assert list(found[("icu", "procedureevents")])[-2:] == ["originalamount", "originalrate"]
    for module in ("hosp", "icu"):
        inferred = query(
            warehouse,
            f"SELECT value FROM mimiciv_{module}._metadata "
            "WHERE attribute = 'tables_typed_by_inference'",
        )
        assert inferred == [("",)]
    assert "inferred" not in printed


def test_two_releases_side_by_side(tmp_path: Path) -> None:
    old = synth(tmp_path / "v22", "tiny", mimiciv_version="2.2")
    new = synth(tmp_path / "v31", "tiny", mimiciv_version="3.1", seed=5)
    warehouse = tmp_path / "warehouse"
    for sources in (new, old):  # the older one built last: the alias still picks the newest
        report = run_build(BuildOptions(warehouse, mimiciv=sources / "mimiciv"))
        assert report.exit_code == 0
    assert [s.name for s in report.stages][:2] == ["hosp 2.2", "icu 2.2"]
    for release, sources in (("2_2", old), ("3_1", new)):
        with gzip.open(sources / "mimiciv/hosp/patients.csv.gz", "rt") as handle:
            expected = sum(1 for _ in handle) - 1
        assert query(warehouse, f"SELECT count(*) FROM mimiciv_{release}_hosp.patients") == [
            (expected,)
        ]
    assert query(
        warehouse, "SELECT value FROM mimiciv_hosp._metadata WHERE attribute = 'points_to'"
    ) == [("mimiciv_3_1_hosp",)]
    assert query(warehouse, "SELECT count(*) FROM mimiciv_hosp.patients") == query(
        warehouse, "SELECT count(*) FROM mimiciv_3_1_hosp.patients"
    )


@pytest.fixture
def tiny_mimiciv(tiny_sources: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "mimiciv"
    shutil.copytree(tiny_sources / "mimiciv", copy)
    return copy


def rewrite(path: Path, edit) -> None:
    lines = gzip.decompress(path.read_bytes()).decode().split("\n")
    path.write_bytes(gzip.compress("\n".join(edit(lines)).encode()))


def test_missing_module_builds_the_rest_and_says_so(tiny_mimiciv: Path) -> None:
    shutil.rmtree(tiny_mimiciv / "ed")
    warehouse = tiny_mimiciv.parent / "warehouse"
    done = run_cli("build", "--warehouse", str(warehouse), "--mimiciv", str(tiny_mimiciv))
    assert done.returncode == 0, done.stderr
    assert "ed        no rows; 0 rejects; not built: no ed/ folder" in done.stdout
    assert query(warehouse, "SELECT count(*) FROM mimiciv_icu.icustays")[0][0] > 0


def test_bad_timestamp_is_a_reject_with_its_line(tiny_mimiciv: Path) -> None:
    admissions = tiny_mimiciv / "hosp/admissions.csv.gz"

    def spoil(lines: list[str]) -> list[str]:
        fields = lines[2].split(",")
        fields[2] = "2180-13-45 25:00:00"
        lines[2] = ",".join(fields)
        return lines

    rewrite(admissions, spoil)
    warehouse = tiny_mimiciv.parent / "warehouse"
    done = run_cli("build", "--warehouse", str(warehouse), "--mimiciv", str(tiny_mimiciv))
    assert done.returncode == 0
    assert "hosp 3.1  patients" in done.stdout and "1 rejects" in done.stdout
    ((file, line, reason, action),) = query(
        warehouse, "SELECT file, line, reason, action FROM mimiciv_hosp._rejects"
    )
    assert file == str(admissions) and line == 3 and action == "dropped"
    assert reason.startswith("admittime:")


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda lines: [lines[0] + ",extra", *lines[1:]], ":1: unexpected column(s) extra"),
        (
            lambda lines: [",".join(line.split(",")[:-1]) for line in lines],
            ":1: missing column(s) hospital_expire_flag",
        ),
        (
            lambda lines: [
                *lines[:3],
                lines[3]
                .replace(",URGENT,", ',"URGENT,', 1)
                .replace(",EW EMER.,", ',"EW EMER.,', 1)
                .replace(",ELECTIVE,", ',"ELECTIVE,', 1)
                .replace(",OBSERVATION ADMIT,", ',"OBSERVATION ADMIT,', 1)
                .replace(",EU OBSERVATION,", ',"EU OBSERVATION,', 1),
                *lines[4:],
            ],
            ":4: unterminated quote",
        ),
    ],
)
def test_broken_csv_stops_the_module_and_keeps_the_previous_build(
    tiny_mimiciv: Path, spoil, message: str
) -> None:
    warehouse = tiny_mimiciv.parent / "warehouse"
    first = run_cli("build", "--warehouse", str(warehouse), "--mimiciv", str(tiny_mimiciv))
    assert first.returncode == 0
    before = query(warehouse, "SELECT count(*) FROM mimiciv_hosp.admissions")
    admissions = tiny_mimiciv / "hosp/admissions.csv.gz"
    rewrite(admissions, spoil)
    again = run_cli("build", "--warehouse", str(warehouse), "--mimiciv", str(tiny_mimiciv))
    assert again.returncode == 3
    assert f"{admissions}{message}" in again.stdout
    assert "Traceback" not in again.stdout + again.stderr
    assert query(warehouse, "SELECT count(*) FROM mimiciv_hosp.admissions") == before
    assert query(warehouse, "SELECT count(*) FROM mimiciv_icu.icustays")[0][0] > 0
