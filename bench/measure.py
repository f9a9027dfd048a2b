"""Measuring one step of `make bench`: a process run several times, median kept."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time


def run(argv: list[str], shell: bool = False) -> dict[str, float]:
    """Wall seconds, CPU seconds and peak resident memory of one run of argv (wait4).

    MIMIC_CODE_DIR is left out of the step's environment: `cxr-sql build` would take it
    for --concepts, so a step that wants the concepts says --concepts itself.
    """
    environment = {k: v for k, v in os.environ.items() if k != "MIMIC_CODE_DIR"}
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, shell=shell, stdout=subprocess.DEVNULL, stderr=errors, env=environment
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if status != 0:
            errors.seek(0)
            raise SystemExit(f"bench step failed: {argv}\n{errors.read().decode()[-3000:]}")
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def measure(name: str, argv: list[str], rows: int, repeats: int, shell: bool = False) -> dict:
    """The median run of `repeats` (by wall time), with every run's wall time."""
    runs = [run(argv, shell) for _ in range(repeats)]
    median = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
    return {
        "step": name,
        "rows": rows,
        **median,
        "rows_per_s": round(rows / median["wall_s"]) if median["wall_s"] else 0,
        "wall_s_all": [r["wall_s"] for r in runs],
    }
