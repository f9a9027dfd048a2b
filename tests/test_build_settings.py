"""Builds remember their settings in build.json; a table leaves the warehouse only when
dropped by name; an unknown table name is refused. Real warehouses built by the command
from tables of the real MIMIC-IV demo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.helpers import REPO, run_cli

DEMO = REPO.parent / "shared" / "data" / "mimic-iv-demo-2.2"
TABLES = ("hosp/patients", "hosp/admissions", "hosp/transfers", "hosp/diagnoses_icd")
TABLES += ("hosp/d_labitems", "icu/icustays")
pytestmark = pytest.mark.skipif(not DEMO.is_dir(), reason="../shared/data demo not present")


@pytest.fixture
def place(tmp_path: Path) -> Path:
    """A working folder with mimiciv/ holding some tables of the real demo."""
    for table in TABLES:
        target = tmp_path / "mimiciv" / f"{table}.csv.gz"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEMO / f"{table}.csv.gz", target)
    return tmp_path


def build(place: Path, *flags: str, cwd: Path | None = None):
    return run_cli("build", "--warehouse", str(place / "wh"), *flags, cwd=cwd or place)


def views(place: Path, schema: str = "mimiciv_hosp") -> set[str]:
    with duckdb.connect(str(place / "wh" / "mimic.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT view_name FROM duckdb_views() WHERE schema_name = ? AND NOT internal",
            [schema],
        ).fetchall()
    return {name for (name,) in rows if not name.startswith("_")}


def record(place: Path) -> dict:
    return json.loads((place / "wh" / "build.json").read_text())


def test_a_build_without_source_flags_reruns_the_recorded_settings(place: Path) -> None:
    first = build(place, "--mimiciv", "mimiciv", "--tables", "diagnoses_icd")
    assert first.returncode == 0, first.stderr
    settings = record(place)["settings"]
    assert settings["mimiciv"] == str((place / "mimiciv").resolve())  # absolute, resolved
    assert settings["tables"] == ["diagnoses_icd"] and settings["all_tables"] is False
    assert settings["link_window_hours"] is None and settings["reports_from"] == "auto"

    admissions = place / "mimiciv/hosp/admissions.csv.gz"
    shutil.copy(admissions, place / "admissions.bak")
    admissions.unlink()
    shutil.copy(place / "admissions.bak", admissions)  # a new file: a new fingerprint
    elsewhere = place / "elsewhere"
    elsewhere.mkdir()
    again = build(place, cwd=elsewhere)  # no source flag, another working directory
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == (
        f"settings from {place / 'wh' / 'build.json'}: "
        f"--mimiciv {(place / 'mimiciv').resolve()}, --tables diagnoses_icd"
    )
    assert "hosp 2.2  patients 100, admissions 275, transfers 1,190, diagnoses_icd 4,506" in (
        again.stdout
    )
    assert "published g000002" in again.stdout
    assert views(place) == {"patients", "admissions", "transfers", "diagnoses_icd"}

    override = build(place, "--link-window-hours", "36", "--tables", "d_labitems", cwd=elsewhere)
    assert override.returncode == 0, override.stderr
    assert "--link-window-hours" not in override.stdout.splitlines()[0]
    settings = record(place)["settings"]
    assert settings["link_window_hours"] == 36
    assert settings["tables"] == ["diagnoses_icd", "d_labitems"]  # added to, not replaced
    assert views(place) >= {"diagnoses_icd", "d_labitems"}


def test_a_table_is_dropped_only_by_name(place: Path) -> None:
    assert build(place, "--mimiciv", "mimiciv", "--all").returncode == 0
    assert "d_labitems" in views(place)
    kept = build(place, "--mimiciv", "mimiciv")  # the README's command without --all
    assert kept.returncode == 0 and views(place) >= {"d_labitems", "diagnoses_icd"}

    dropped = build(place, "--drop-tables", "hosp.d_labitems")
    assert dropped.returncode == 0, dropped.stderr
    assert views(place) == {"patients", "admissions", "transfers", "diagnoses_icd"}
    assert record(place)["settings"]["dropped_tables"] == ["hosp.d_labitems"]
    still = build(place, "--link-window-hours", "30")  # --all is remembered, the drop too
    assert still.returncode == 0 and "d_labitems" not in views(place)
    back = build(place, "--tables", "d_labitems")
    assert back.returncode == 0 and "d_labitems" in views(place)
    assert record(place)["settings"]["dropped_tables"] == []

    needed = build(place, "--drop-tables", "transfers")
    assert needed.returncode == 2
    assert "hosp.transfers is needed by the linking" in needed.stderr


@pytest.mark.parametrize("flags", [("--tables", "diagnoses_icd"), ("--all",)])
def test_a_missing_source_file_never_publishes_fewer_tables(place: Path, flags) -> None:
    assert build(place, "--mimiciv", "mimiciv", *flags).returncode == 0
    before = record(place)["generation"]
    (place / "mimiciv/hosp/diagnoses_icd.csv.gz").unlink()
    refused = build(place)
    assert refused.returncode == 2
    assert (
        "this build would drop 1 table(s) the warehouse holds: hosp.diagnoses_icd "
        f"(no file in {(place / 'mimiciv/hosp').resolve()})" in refused.stderr
    )
    assert "--drop-tables hosp.diagnoses_icd" in refused.stderr
    assert record(place)["generation"] == before and "diagnoses_icd" in views(place)

    shutil.move(place / "mimiciv", place / "moved")
    gone = build(place)
    assert gone.returncode == 2
    assert f"--mimiciv {(place / 'mimiciv').resolve()} (from build.json): no such folder" in (
        gone.stderr
    )

    dropped = build(place, "--mimiciv", "moved", "--drop-tables", "hosp.diagnoses_icd")
    assert dropped.returncode == 0, dropped.stderr
    assert "diagnoses_icd" not in views(place) and "patients" in views(place)


def test_an_unknown_table_name_is_refused_with_the_names_that_exist(place: Path) -> None:
    typo = build(place, "--mimiciv", "mimiciv", "--tables", "diagnoses_icd,labevnts")
    assert typo.returncode == 2
    assert "--tables labevnts: no such MIMIC-IV table. Did you mean labevents?" in typo.stderr
    assert "hosp: admissions, d_hcpcs," in typo.stderr and "icu: caregiver," in typo.stderr
    assert not (place / "wh" / "build.json").exists()

    module = build(place, "--mimiciv", "mimiciv", "--tables", "hosp.chartevents")
    assert module.returncode == 2 and "Did you mean icu.chartevents?" in module.stderr
    dropped = build(place, "--mimiciv", "mimiciv", "--drop-tables", "diagnoses_icds")
    assert dropped.returncode == 2 and "Did you mean diagnoses_icd?" in dropped.stderr

    own = place / "mimiciv/hosp/site_notes.csv.gz"  # a file present is a name that exists
    shutil.copy(place / "mimiciv/hosp/d_labitems.csv.gz", own)
    done = build(place, "--mimiciv", "mimiciv", "--tables", "site_notes")
    assert done.returncode == 0, done.stderr
    assert "site_notes" in views(place)
