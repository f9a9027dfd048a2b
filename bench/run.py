"""`make bench`: measure the builders at full scale against named baselines.

Each step runs as its own process, three times after a warm-up read of the same
files; the figures are the median wall time, with that run's CPU time and peak
memory (from wait4). Results go to bench/results.json and a table on stdout.
Timings are only reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
REPORTS_STAGE = (
    "import sys; from pathlib import Path; "
    "from cxr_sql.ingest.report_sources import ReportSource; "
    "from cxr_sql.ingest.reports import build_reports; "
    "r = build_reports(ReportSource(sys.argv[1], Path(sys.argv[2])), Path(sys.argv[3]), 2); "
    "print(r.n_reports)"
)


def run(argv: list[str], shell: bool = False) -> dict[str, float]:
    """Wall seconds, CPU seconds and peak resident memory of one run of argv."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, shell=shell, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"bench step failed: {argv}")
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def measure(name: str, argv: list[str], rows: int, repeats: int, shell: bool = False) -> dict:
    runs = [run(argv, shell) for _ in range(repeats)]
    median = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
    return {
        "step": name,
        "rows": rows,
        **median,
        "rows_per_s": round(rows / median["wall_s"]),
        "wall_s_all": [r["wall_s"] for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="full", help="synth scale of the cached sources")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sources = HERE / f"sources-{args.scale}"
    if not (sources / "synth.json").exists():
        print(f"generating {args.scale} sources once into {sources} ...", flush=True)
        subprocess.run(
            [BIN / "cxr-sql", "synth", "--out", sources, "--scale", args.scale, "--force"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    cxr = sources / "mimic-cxr"
    n_reports = json.loads((sources / "synth.json").read_text())["counts"][
        "mimic-cxr/cxr-study-list.csv.gz"
    ]
    scratch = HERE / "scratch"
    bare_read = f"find {cxr / 'files'} -name 's*.txt' -print0 | xargs -0 cat > /dev/null"
    run([bare_read], shell=True)  # warm the page cache
    python = str(BIN / "python")
    results = [
        measure(
            "reports: bare read of the files (find | xargs cat)",
            [bare_read],
            n_reports,
            args.repeats,
            shell=True,
        ),
        measure(
            "reports: read, section, write Parquet from the files/ tree",
            [python, "-c", REPORTS_STAGE, "tree", str(cxr), str(scratch / "tree")],
            n_reports,
            args.repeats,
        ),
        measure(
            "reports: read, section, write Parquet from mimic-cxr-reports.zip",
            [
                python,
                "-c",
                REPORTS_STAGE,
                "zip",
                str(cxr / "mimic-cxr-reports.zip"),
                str(scratch / "zip"),
            ],
            n_reports,
            args.repeats,
        ),
    ]
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "scale": args.scale,
    }
    (HERE / "results.json").write_text(
        json.dumps({"machine": machine, "results": results}, indent=2) + "\n"
    )
    print(f"{'step':66} {'wall s':>7} {'cpu s':>7} {'MB':>7} {'rows/s':>9}")
    for r in results:
        print(
            f"{r['step']:66} {r['wall_s']:7.2f} {r['cpu_s']:7.2f} {r['peak_rss_mb']:7.0f} "
            f"{r['rows_per_s']:9,}"
        )


if __name__ == "__main__":
    main()
