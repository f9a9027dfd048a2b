"""`make bench-quick` runs every benchmark step end to end (a smoke run: no timings checked)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.helpers import REPO


def test_bench_quick_runs_every_step(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "bench-quick",
            f"BENCH_WORK={tmp_path}",
            f"BENCH_OUT={out}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads(out.read_text())
    steps = [r["step"] for r in results["results"]]
    for expected in (
        "reports: baseline bare read of the files (find | xargs cat)",
        "reports: read, section, write Parquet from mimic-cxr-reports.zip",
        "mimiciv: baseline DuckDB COPY of transfers.csv.gz to Parquet",
        "build: no-op rebuild (nothing changed)",
        "derived: SELECT count(*) FROM study_admission",
        "chartevents: baseline DuckDB COPY of chartevents.csv.gz to Parquet",
        "chartevents: the gzip check alone (CRC-32 and length, ISA-L)",
    ):
        assert expected in steps
    assert any(step.startswith("build: no-op's fingerprints, every report and") for step in steps)
    assert all(r["wall_s"] > 0 and r["rows"] > 0 for r in results["results"])
    assert results["machine"]["scale"] == "small"
    assert "build: no-op rebuild" in done.stdout
