"""`cxr-sql query` run as a user runs it, its outputs read back by independent readers."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.helpers import VENV_BIN, build_warehouse, duckdb_cli, run_cli

REPORTS = "SELECT study_id, text, n_bytes, empty FROM mimic_cxr.reports ORDER BY study_id"
FAILS_WHILE_FETCHING = (
    "SELECT x FROM range(300000) t(x) WHERE x < 200000 OR error('boom at ' || x) IS NULL"
)


@pytest.fixture(scope="module")
def warehouse(tiny_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("query") / "warehouse"
    return build_warehouse(tiny_sources, target, mimiciv=None)


def expected(warehouse: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(warehouse / "mimic.duckdb"), read_only=True) as con:
        relation = con.sql(sql)
        return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def owner_only(path: Path) -> bool:
    return path.stat().st_mode & 0o777 == 0o600


def test_csv_json_parquet_files_read_back_the_rows(warehouse: Path, tmp_path: Path) -> None:
    rows = expected(warehouse, REPORTS)
    assert len(rows) == 42 and any("\n" in row["text"] for row in rows)
    for output_format in ("csv", "json", "parquet"):
        out = tmp_path / f"reports.{output_format}"
        done = run_cli(
            "query", "--warehouse", str(warehouse), "--format", output_format, "--out", str(out),
            REPORTS,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout == "" and owner_only(out)
    with open(tmp_path / "reports.csv", newline="", encoding="utf-8") as handle:
        from_csv = list(csv.DictReader(handle))
    assert [
        {"study_id": int(r["study_id"]), "text": r["text"], "n_bytes": int(r["n_bytes"]),
         "empty": r["empty"] == "true"}
        for r in from_csv
    ] == rows  # fmt: skip
    assert json.loads((tmp_path / "reports.json").read_text()) == rows
    assert pq.read_table(tmp_path / "reports.parquet").to_pylist() == rows
    total = sum(row["n_bytes"] for row in rows)
    for name in ("reports.csv", "reports.parquet", "reports.json"):
        cli = subprocess.run(
            [duckdb_cli(), "-csv", "-noheader", "-c",
             f"SELECT count(*), sum(n_bytes) FROM '{tmp_path / name}'"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert cli.stdout.strip() == f"42,{total}", name


def test_standard_output_stdin_and_file_give_the_same_csv(warehouse: Path, tmp_path: Path) -> None:
    by_argument = run_cli("query", "--warehouse", str(warehouse), "--format", "csv", REPORTS)
    assert by_argument.returncode == 0, by_argument.stderr
    sql_file = tmp_path / "reports.sql"
    sql_file.write_text(REPORTS + ";\n")
    by_file = run_cli(
        "query", "--warehouse", str(warehouse), "--format", "csv", "--file", str(sql_file)
    )
    by_stdin = subprocess.run(
        [str(VENV_BIN / "cxr-sql"), "query", "--warehouse", str(warehouse), "--format", "csv", "-"],
        input=REPORTS, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert by_argument.stdout == by_file.stdout == by_stdin.stdout
    with open(tmp_path / "out.csv", "w", encoding="utf-8", newline="") as handle:
        handle.write(by_stdin.stdout)
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 42
    neither = run_cli("query", "--warehouse", str(warehouse))
    assert neither.returncode == 2 and "--file" in neither.stderr


def test_several_statements_each_shown_or_refused(warehouse: Path, tmp_path: Path) -> None:
    sql = "SET threads = 1; SELECT 1 AS first_result; SELECT 2 AS second_result"
    shown = run_cli("query", "--warehouse", str(warehouse), sql)
    assert shown.returncode == 0, shown.stderr
    assert "first_result" in shown.stdout and "second_result" in shown.stdout
    assert "-- statement 2 of 3" in shown.stdout and "-- statement 3 of 3" in shown.stdout
    out = tmp_path / "two.csv"
    refused = run_cli(
        "query", "--warehouse", str(warehouse), "--format", "csv", "--out", str(out), sql
    )
    assert refused.returncode == 2 and "statements 2, 3 return rows" in refused.stderr
    assert not out.exists()
    one = run_cli(
        "query", "--warehouse", str(warehouse), "--format", "json", "SET threads = 1; SELECT 7 AS n"
    )
    assert one.returncode == 0 and json.loads(one.stdout) == [{"n": 7}]


def test_wide_tables_are_not_cut_and_left_out_rows_are_counted(warehouse: Path) -> None:
    columns = [f"column_with_a_long_name_{i:02d}" for i in range(30)]
    long_value = "v" * 300
    sql = "SELECT " + ", ".join(f"'{long_value}' AS {c}" for c in columns) + " FROM range(50)"
    shown = run_cli("query", "--warehouse", str(warehouse), "--max-rows", "6", sql)
    assert shown.returncode == 0, shown.stderr
    for column in columns:
        assert column in shown.stdout
    assert long_value in shown.stdout and "…" not in shown.stdout
    assert "50 rows" in shown.stdout and "6 shown" in shown.stdout


def test_table_to_a_file_is_owner_only(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "table.txt"
    done = run_cli("query", "--warehouse", str(warehouse), "--out", str(out), "SELECT 42 AS answer")
    assert done.returncode == 0 and done.stdout == ""
    assert owner_only(out) and "answer" in out.read_text() and "42" in out.read_text()


def test_errors_while_fetching_are_one_line_and_keep_the_old_file(
    warehouse: Path, tmp_path: Path
) -> None:
    out = tmp_path / "kept.parquet"
    out.write_bytes(b"previous result")
    late, early = FAILS_WHILE_FETCHING, FAILS_WHILE_FETCHING.replace("200000", "5")
    for output_format, target, sql, message in (
        ("parquet", ["--out", str(out)], late, "boom at 200000"),
        ("csv", [], late, "boom at 200000"),
        ("table", [], early, "boom at 5"),  # a table reads the first rows only
    ):
        failed = run_cli(
            "query", "--warehouse", str(warehouse), "--format", output_format, *target, sql
        )
        assert failed.returncode == 1, output_format
        assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
        assert message in failed.stderr and "arrow_scan" not in failed.stderr
    assert out.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.parquet"]
    wrong = run_cli("query", "--warehouse", str(warehouse), "SELECT * FROM nowhere")
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1


def test_the_catalog_file_is_accepted_and_a_moved_warehouse_relinked(
    warehouse: Path, tmp_path: Path
) -> None:
    count = "SELECT count(*) AS n FROM mimic_cxr.reports"
    by_file = run_cli(
        "query", "--warehouse", str(warehouse / "mimic.duckdb"), "--format", "csv", count
    )
    assert by_file.returncode == 0 and by_file.stdout.splitlines() == ["n", "42"]
    moved = tmp_path / "moved"
    shutil.copytree(warehouse, tmp_path / "copy", symlinks=True)
    (tmp_path / "copy").rename(moved)  # the recorded folder (copy) no longer exists
    done = run_cli("query", "--warehouse", str(moved), "--format", "csv", count)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["n", "42"]
    where = "SELECT value FROM mimic_cxr._metadata WHERE attribute = 'warehouse'"
    relinked = run_cli("query", "--warehouse", str(moved), "--format", "csv", where)
    assert relinked.stdout.splitlines() == ["value", str(moved.resolve())]
    other = tmp_path / "not-a-warehouse.txt"
    other.write_text("x")
    refused = run_cli("query", "--warehouse", str(other), count)
    assert refused.returncode == 2 and "give the warehouse folder" in refused.stderr


def test_help_shows_every_default() -> None:
    shown = run_cli("query", "--help")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    for default in ("(default: ./warehouse)", "(default: table)", "(default: 40)",
                    "(default: standard output)", "(default: none)"):  # fmt: skip
        assert default in text
