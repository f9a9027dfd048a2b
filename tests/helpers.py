"""Helpers shared by the tests: generate sources, find and run the real commands."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from cxr_sql.build import BuildOptions, run_build
from cxr_sql.synth.generate import SynthOptions, generate
from cxr_sql.synth.scale import parse_scale

REPO = Path(__file__).resolve().parent.parent
BUNDLED_DEMO = REPO / "cxr_sql" / "data" / "mimic-iv-demo-2.2"
VENV_BIN = Path(sys.executable).parent
# the columns of BigQuery's mimic_cxr.dicom_metadata_string a public query selects (issue 15)
BIGQUERY_DICOM_COLUMNS = (
    "ImageType", "DistanceSourceToDetector", "DistanceSourceToPatient", "Exposure",
    "ExposureTime", "XRayTubeCurrent", "FieldOfViewRotation", "FieldOfViewOrigin",
    "FieldOfViewHorizontalFlip", "BurnedInAnnotation", "RequestingService",
    "DetectorPrimaryAngle", "DetectorElementPhysicalSize", "StudyID",
)  # fmt: skip


def synth(out: Path, scale: str = "tiny", **options) -> Path:
    generate(SynthOptions(out=out, scale=parse_scale(scale), **options))
    return out


def duckdb_cli() -> str:
    """The DuckDB CLI the package installs beside its Python (duckdb-cli wheel)."""
    path = VENV_BIN / "duckdb"
    found = str(path) if path.exists() else shutil.which("duckdb")
    assert found, "the duckdb CLI from the duckdb-cli wheel is not installed"
    return found


def cli_value(warehouse: Path, sql: str) -> str:
    """One value, read from a warehouse's catalog by the real DuckDB CLI."""
    done = subprocess.run(
        [duckdb_cli(), "-readonly", "-csv", "-noheader", str(warehouse / "mimic.duckdb"), "-c",
         sql],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real `cxr-sql` command in a subprocess."""
    return subprocess.run(
        [str(VENV_BIN / "cxr-sql"), *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def build_warehouse(sources: Path, target: Path, **options) -> Path:
    """A warehouse built from every source of a synth folder (options override them)."""
    chosen = {
        "mimic_cxr": sources / "mimic-cxr",
        "mimic_cxr_jpg": sources / "mimic-cxr-jpg",
        "mimiciv": sources / "mimiciv",
        **options,
    }
    report = run_build(BuildOptions(target, **chosen))
    assert report.exit_code == 0, [s.line() for s in report.stages]
    return target
