"""`make bench`: measure the builders at full scale against named baselines.

Each step runs as its own process, several times after a warm-up read of the
files; the figures are the median wall time, with that run's CPU time and peak
memory (from wait4). Beside each builder runs its baseline on the same input:
a bare read of the report files, DuckDB's own CSV to Parquet COPY. Results go to
bench/results.json and a table on stdout. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
PYTHON = str(BIN / "python")

# Small programs run as the measured process; argv[1:] are paths.
REPORTS = (
    "import sys; from pathlib import Path; "
    "from cxr_sql.ingest.report_sources import ReportSource; "
    "from cxr_sql.ingest.reports import build_reports; "
    "build_reports(ReportSource(sys.argv[1], Path(sys.argv[2])), Path(sys.argv[3]), 2)"
)
LISTS = (
    "import sys; from pathlib import Path; from cxr_sql.ingest import cxr_lists as c; "
    "s = c.read_study_list(Path(sys.argv[1])); c.read_record_list(Path(sys.argv[1]), s.rows)"
)
JPG = (
    "import sys; from pathlib import Path; from cxr_sql.ingest.jpg_files import read_jpg_tables; "
    "[t.rows.write_parquet(Path(sys.argv[2]) / f'{n}.parquet') "
    "for n, t in read_jpg_tables(Path(sys.argv[1])).items()]"
)
MODULE = (
    "import sys; from pathlib import Path; from cxr_sql.ingest.mimiciv import build_module; "
    "build_module(sys.argv[1], Path(sys.argv[2]), sys.argv[3].split(','), '3.1', Path(sys.argv[4]))"
)
DUCKDB_COPY = (
    "import sys, duckdb; con = duckdb.connect(); con.execute('SET threads = 2'); "
    "con.execute(f\"COPY (SELECT * FROM read_csv('{sys.argv[1]}')) TO '{sys.argv[2]}' "
    '(FORMAT parquet, COMPRESSION zstd)")'
)
CATALOG = (
    "import sys; from pathlib import Path; from cxr_sql.catalog import write_catalog; "
    "write_catalog(Path(sys.argv[1]))"
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


def sources_for(scale: str) -> Path:
    """The cached generated sources of this scale, generated on first use."""
    sources = HERE / f"sources-{scale}"
    if not (sources / "synth.json").exists():
        print(f"generating {scale} sources once into {sources} ...", flush=True)
        subprocess.run(
            [BIN / "cxr-sql", "synth", "--out", sources, "--scale", scale, "--force"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return sources


def steps(sources: Path, scratch: Path, repeats: int) -> list[dict]:
    counts = json.loads((sources / "synth.json").read_text())["counts"]
    cxr, jpg, iv = sources / "mimic-cxr", sources / "mimic-cxr-jpg", sources / "mimiciv"
    n_reports = counts["mimic-cxr/cxr-study-list.csv.gz"]
    n_images = counts["mimic-cxr/cxr-record-list.csv.gz"]
    transfers = counts["mimiciv/hosp/transfers.csv.gz"]
    linking = sum(
        counts[f"mimiciv/{t}.csv.gz"]
        for t in ("hosp/patients", "hosp/admissions", "hosp/transfers", "icu/icustays")
    )
    bare_read = f"find {cxr / 'files'} -name 's*.txt' -print0 | xargs -0 cat > /dev/null"
    run([bare_read], shell=True)  # warm the page cache
    (scratch / "jpg").mkdir(parents=True, exist_ok=True)
    results = [
        measure(
            "lists: record and study lists, validated",
            [PYTHON, "-c", LISTS, str(cxr)],
            n_images + n_reports,
            repeats,
        ),
        measure(
            "reports: baseline bare read of the files (find | xargs cat)",
            [bare_read],
            n_reports,
            repeats,
            shell=True,
        ),
        measure(
            "reports: read, section, write Parquet from the files/ tree",
            [PYTHON, "-c", REPORTS, "tree", str(cxr), str(scratch / "tree")],
            n_reports,
            repeats,
        ),
        measure(
            "reports: read, section, write Parquet from mimic-cxr-reports.zip",
            [
                PYTHON,
                "-c",
                REPORTS,
                "zip",
                str(cxr / "mimic-cxr-reports.zip"),
                str(scratch / "zip"),
            ],
            n_reports,
            repeats,
        ),
        measure(
            "jpg: metadata, chexpert, negbio, split",
            [PYTHON, "-c", JPG, str(jpg), str(scratch / "jpg")],
            n_images * 2 + n_reports * 2,
            repeats,
        ),
        measure(
            "mimiciv: transfers.csv.gz to typed Parquet (cxr-sql)",
            [PYTHON, "-c", MODULE, "hosp", str(iv / "hosp"), "transfers", str(scratch / "iv")],
            transfers,
            repeats,
        ),
        measure(
            "mimiciv: baseline DuckDB COPY of transfers.csv.gz to Parquet",
            [
                PYTHON,
                "-c",
                DUCKDB_COPY,
                str(iv / "hosp/transfers.csv.gz"),
                str(scratch / "copy.parquet"),
            ],
            transfers,
            repeats,
        ),
        measure(
            "mimiciv: linking tables (patients, admissions, transfers, icustays)",
            [
                PYTHON,
                "-c",
                MODULE,
                "hosp",
                str(iv / "hosp"),
                "patients,admissions,transfers",
                str(scratch / "iv"),
            ],
            linking,
            repeats,
        ),
    ]
    warehouse = scratch / "warehouse"
    shutil.rmtree(warehouse, ignore_errors=True)
    subprocess.run(
        [
            BIN / "cxr-sql",
            "build",
            "--warehouse",
            warehouse,
            "--mimic-cxr",
            cxr,
            "--mimic-cxr-jpg",
            jpg,
            "--mimiciv",
            iv,
            "--quiet",
        ],
        check=True,
    )
    results.append(
        measure(
            "catalog: regenerate every view (as relink does)",
            [PYTHON, "-c", CATALOG, str(warehouse)],
            1,
            repeats,
        )
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="full", help="synth scale of the cached sources")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    scratch = HERE / "scratch"
    results = steps(sources_for(args.scale), scratch, args.repeats)
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "scale": args.scale,
    }
    (HERE / "results.json").write_text(
        json.dumps({"machine": machine, "results": results}, indent=2) + "\n"
    )
    print(f"{'step':70} {'wall s':>7} {'cpu s':>7} {'MB':>7} {'rows/s':>10}")
    for r in results:
        print(
            f"{r['step']:70} {r['wall_s']:7.2f} {r['cpu_s']:7.2f} {r['peak_rss_mb']:7.0f} "
            f"{r['rows_per_s']:10,}"
        )


if __name__ == "__main__":
    main()
