"""The `cxr-sql` command as a user runs it, and the DuckDB CLI it installs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb

from tests.helpers import BUNDLED_DEMO, duckdb_cli, run_cli


def test_help_reads_well() -> None:
    top = run_cli("--help")
    assert top.returncode == 0 and "synth" in top.stdout
    sub = run_cli("synth", "--help")
    assert sub.returncode == 0
    for flag in ("--out", "--seed", "--scale", "--mimiciv-demo", "--mimiciv-version", "--dicom"):
        assert flag in sub.stdout


def test_synth_command_writes_sources_and_manifest(tmp_path: Path) -> None:
    done = run_cli("synth", "--out", str(tmp_path), "--scale", "tiny", "--seed", "7")
    assert done.returncode == 0, done.stderr
    assert "cxr-record-list.csv.gz" in done.stdout
    manifest = json.loads((tmp_path / "synth.json").read_text())
    assert manifest["seed"] == 7 and manifest["mimiciv_version"] == "3.1"
    assert manifest["counts"]["mimic-cxr/cxr-study-list.csv.gz"] == 42


def test_bad_arguments_give_one_clear_line(tmp_path: Path) -> None:
    bad_scale = run_cli("synth", "--out", str(tmp_path), "--scale", "huge")
    assert bad_scale.returncode == 2
    assert "--scale 'huge'" in bad_scale.stderr and "Traceback" not in bad_scale.stderr
    demo_release = run_cli(
        "synth",
        "--out",
        str(tmp_path),
        "--mimiciv-demo",
        str(BUNDLED_DEMO),
        "--mimiciv-version",
        "3.1",
    )
    assert demo_release.returncode == 2 and "release 2.2" in demo_release.stderr
    missing = run_cli("synth", "--out", str(tmp_path), "--mimiciv-demo", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no such folder" in missing.stderr


def test_existing_output_needs_force(tmp_path: Path) -> None:
    assert run_cli("synth", "--out", str(tmp_path), "--scale", "tiny").returncode == 0
    again = run_cli("synth", "--out", str(tmp_path), "--scale", "tiny", "--seed", "3")
    assert again.returncode == 2 and "--force" in again.stderr
    forced = run_cli("synth", "--out", str(tmp_path), "--scale", "tiny", "--seed", "3", "--force")
    assert forced.returncode == 0
    assert json.loads((tmp_path / "synth.json").read_text())["seed"] == 3


def test_duckdb_cli_opens_a_database_written_by_the_python_package(tmp_path: Path) -> None:
    database = tmp_path / "written.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE TABLE answer AS SELECT 42 AS value, 'x-ray' AS kind")
    cli = duckdb_cli()
    version = subprocess.run([cli, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.split()[0] == f"v{duckdb.__version__}"
    query = subprocess.run(
        [cli, "-readonly", "-csv", str(database), "-c", "SELECT value, kind FROM answer"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert query.stdout.splitlines() == ["value,kind", "42,x-ray"]
