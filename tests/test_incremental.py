"""Scheduled builds: nothing to do twice, only what changed, atomic publish, one build at a
time, readers undisturbed, owner-only files."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import VENV_BIN, cli_value, duckdb_cli, run_cli, synth


@pytest.fixture
def sources(tiny_sources: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "sources"
    shutil.copytree(tiny_sources, copy, ignore=shutil.ignore_patterns("*.dcm", "*.dcm.gz"))
    return copy


def build_args(sources: Path, warehouse: Path, *extra: str) -> list[str]:
    return [
        "build", "--warehouse", str(warehouse), "--mimic-cxr", str(sources / "mimic-cxr"),
        "--mimic-cxr-jpg", str(sources / "mimic-cxr-jpg"), "--mimiciv", str(sources / "mimiciv"),
        *extra,
    ]  # fmt: skip


def build_json(sources: Path, warehouse: Path) -> list[dict]:
    done = run_cli(*build_args(sources, warehouse, "--json"))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def ran(stages: list[dict]) -> set[str]:
    return {stage["name"] for stage in stages if stage["ran"]}


def test_second_build_does_nothing_and_says_so(sources: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    first = build_json(sources, warehouse)
    assert {"lists", "reports", "jpg", "hosp 3.1", "catalog"} <= ran(first)
    record = json.loads((warehouse / "build.json").read_text())
    again = run_cli(*build_args(sources, warehouse))
    assert again.returncode == 0
    assert "nothing to do" in again.stdout and "published" not in again.stdout
    assert json.loads((warehouse / "build.json").read_text()) == record


def test_touching_one_input_reruns_only_its_stage(sources: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    build_json(sources, warehouse)
    transfers = sources / "mimiciv" / "hosp" / "transfers.csv.gz"
    os.utime(transfers, (time.time() + 5, time.time() + 5))
    assert ran(build_json(sources, warehouse)) == {"hosp 3.1", "catalog"}
    os.utime(sources / "mimic-cxr-jpg" / "mimic-cxr-2.0.0-chexpert.csv.gz")
    assert ran(build_json(sources, warehouse)) == {"jpg", "catalog"}


def test_new_reports_are_added_without_reading_the_old_ones(sources: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    build_json(sources, warehouse)
    reports = sorted((sources / "mimic-cxr" / "files").glob("p*/p*/s*.txt"))
    for number in range(3):
        (reports[number].parent / f"s5999999{number}.txt").write_text(" IMPRESSION:  New.\n")
    stages = {s["name"]: s for s in build_json(sources, warehouse)}
    assert stages["reports"]["ran"] and not stages["lists"]["ran"]
    assert stages["reports"]["notes"][0] == f"3 files read, {len(reports)} reused"
    assert stages["reports"]["rows"]["reports"] == len(reports) + 3
    assert (
        cli_count(warehouse, "SELECT count(*) FROM mimic_cxr.reports WHERE study_id >= 59999990")
        == "3"
    )


def test_killed_build_leaves_the_old_warehouse_and_the_next_one_recovers(
    tmp_path: Path,
) -> None:
    sources = synth(tmp_path / "sources", "small")
    warehouse = tmp_path / "warehouse"
    assert run_cli(*build_args(sources, warehouse)).returncode == 0
    before = cli_count(warehouse)
    for report in (sources / "mimic-cxr" / "files").glob("p1[0-4]/p*/s*.txt"):
        os.utime(report, (time.time() + 10, time.time() + 10))
        os.utime(report.parent, (time.time() + 10, time.time() + 10))
    process = subprocess.Popen(
        [str(VENV_BIN / "cxr-sql"), *build_args(sources, warehouse)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (warehouse / "parquet" / "g000002").exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.4)  # into the reports stage, which re-reads half the groups
    assert process.poll() is None, "the build finished before the kill"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (warehouse / "parquet" / "g000002").exists()
    assert json.loads((warehouse / "build.json").read_text())["generation"] == "g000001"
    assert cli_count(warehouse) == before
    done = run_cli(*build_args(sources, warehouse))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "published g000003" in done.stdout  # the leftover's number is not reused
    assert not (warehouse / "parquet" / "g000002").exists()
    assert cli_count(warehouse) == before


def cli_count(warehouse: Path, sql: str = "SELECT count(*) FROM mimic_cxr.report_sections") -> str:
    """One number, read by the real DuckDB CLI."""
    return cli_value(warehouse, sql)


def test_a_second_build_refuses_or_waits(sources: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    with open(warehouse / ".build.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write("pid 4242")
        lock.flush()
        refused = run_cli(*build_args(sources, warehouse))
        assert refused.returncode == 4
        assert "a build is already running (pid 4242)" in refused.stderr
        waiting = subprocess.Popen(
            [str(VENV_BIN / "cxr-sql"), *build_args(sources, warehouse, "--wait")],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)
        assert waiting.poll() is None  # still queued behind the lock
        fcntl.flock(lock, fcntl.LOCK_UN)
    output, _ = waiting.communicate(timeout=120)
    assert waiting.returncode == 0 and "published g000001" in output


def test_a_reader_keeps_working_through_a_rebuild(sources: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    assert run_cli(*build_args(sources, warehouse)).returncode == 0
    reader = subprocess.Popen(
        [duckdb_cli(), "-readonly", "-csv", "-noheader", str(warehouse / "mimic.duckdb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    query = "SELECT count(*) FROM mimiciv_hosp.transfers;\n"
    assert reader.stdin is not None
    reader.stdin.write(query)
    os.utime(sources / "mimiciv" / "hosp" / "transfers.csv.gz")
    rebuilt = run_cli(*build_args(sources, warehouse))
    assert rebuilt.returncode == 0 and "published g000002" in rebuilt.stdout
    reader.stdin.write(query)
    output, errors = reader.communicate(query, timeout=30)
    counts = output.split()
    assert len(counts) == 3 and len(set(counts)) == 1, errors
    assert (warehouse / "parquet" / "g000001").exists()  # kept for readers like this one


def test_files_are_readable_by_the_owner_only(sources: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    assert run_cli(*build_args(sources, warehouse)).returncode == 0
    checked = 0
    for path in [warehouse, *warehouse.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"
        checked += 1
    assert checked > 20


def test_config_file_and_environment(sources: Path, tmp_path: Path) -> None:
    config = tmp_path / "cxr-sql.toml"
    config.write_text(
        f'warehouse = "{tmp_path / "from-config"}"\n'
        f'mimiciv = "{sources / "mimiciv"}"\n'
        "link_window_hours = 36\n"
    )
    env = {**os.environ, "MIMIC_CXR_JPG_DIR": str(sources / "mimic-cxr-jpg")}
    done = subprocess.run(
        [str(VENV_BIN / "cxr-sql"), "build", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {"jpg", "hosp 3.1"} <= ran(json.loads(done.stdout))
    bad = tmp_path / "bad.toml"
    bad.write_text("warehuose = 'x'\n")
    refused = run_cli("build", "--config", str(bad))
    assert refused.returncode == 2 and "unknown setting(s) warehuose" in refused.stderr


@pytest.mark.parametrize(
    "setting",
    ['jobs = "x"', 'dicom = "maybe"', "jobs = 0", "all = 1", "mimiciv_version = 3.1",
     'reports_from = "disk"', "tables = [1]", "link_window_hours = -1", "mimiciv = 7"],
)  # fmt: skip
def test_config_values_are_checked(setting: str, tmp_path: Path) -> None:
    bad = tmp_path / "cxr-sql.toml"
    bad.write_text(f"{setting}\n")
    refused = run_cli("build", "--config", str(bad), "--mimiciv", str(tmp_path))
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert f"{bad}: {setting.split(' = ')[0]} = " in refused.stderr


def test_a_changed_dicom_is_the_only_one_read_again(tiny_sources: Path, tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    shutil.copytree(tiny_sources, sources)
    warehouse = tmp_path / "warehouse"
    first = {s["name"]: s for s in build_json(sources, warehouse)}
    images = sorted((sources / "mimic-cxr" / "files").glob("p*/p*/s*/*.dcm"))
    assert first["dicom"]["notes"] == [f"{len(images)} files read, 0 reused"]
    os.utime(images[0], (time.time() + 5, time.time() + 5))
    again = {s["name"]: s for s in build_json(sources, warehouse)}
    assert ran(list(again.values())) == {"dicom", "catalog"}
    assert again["dicom"]["notes"] == [f"1 files read, {len(images) - 1} reused"]


def test_a_killed_builds_dicom_parts_are_kept_for_the_next(tmp_path: Path) -> None:
    """The DICOM builder resumes: parts a killed build finished move into the next
    generation instead of being deleted with the rest of the leftover."""
    from cxr_sql.publish import start_generation

    warehouse = tmp_path / "warehouse"
    current = warehouse / "parquet" / "g000001" / "mimic_cxr" / "reports"
    current.mkdir(parents=True)
    (current / "p10.parquet").write_bytes(b"published")
    leftover = warehouse / "parquet" / "g000002"
    (leftover / "mimic_cxr" / "dicom_metadata").mkdir(parents=True)
    (leftover / "mimic_cxr" / "dicom_metadata" / "part-a.parquet").write_bytes(b"read")
    (leftover / "mimic_cxr" / "reports").mkdir(parents=True)
    (leftover / "mimic_cxr" / "reports" / "p10.parquet").write_bytes(b"half written")
    generation = start_generation(warehouse, "g000001")
    assert generation.name == "g000003"  # numbers are never reused, not even a leftover's
    assert (generation / "mimic_cxr/dicom_metadata/part-a.parquet").read_bytes() == b"read"
    assert (generation / "mimic_cxr/reports/p10.parquet").read_bytes() == b"published"
    assert sorted(p.name for p in (warehouse / "parquet").iterdir()) == ["g000001", "g000003"]
