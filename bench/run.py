"""`make bench` (full scale) and `make bench-quick` (small): every stage against its baseline.

Generates the sources of the scale once (cached in the work folder), then runs
each step as its own process, `--repeats` times after a warm-up read of the
files; the figures are the median wall time with that run's CPU time and peak
memory (wait4). Beside the builders run their baselines on the same input: a
bare read of the report files, DuckDB's own CSV to Parquet COPY, a whole-file
pydicom.dcmread. Results go to results.json and a table on stdout. Timings are
reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from concepts_bench import concept_steps
from dicom_bench import dicom_steps
from measure import measure, run
from reports_bench import GOALS, reports_steps
from source_bench import chartevents_steps, noop_with_images_steps

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
PYTHON = str(BIN / "python")
CXR_SQL = str(BIN / "cxr-sql")

# Small programs run as the measured process; argv[1:] are paths.
REPORTS = (  # from nothing: the output folder is emptied first, so nothing is reused
    "import shutil, sys; from pathlib import Path; shutil.rmtree(sys.argv[3], True); "
    "from cxr_sql.ingest.report_sources import ReportSource; "
    "from cxr_sql.ingest.reports import build_reports; "
    "build_reports(ReportSource(sys.argv[1], Path(sys.argv[2])), Path(sys.argv[3]), 2, "
    "show_progress=False)"
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
DERIVED_VIEWS = (
    "study_times", "study_admission", "study_edstay", "study_icustay", "study_transfer",
    "study_link_candidates", "study_prior", "qa_studies_without_report",
    "qa_reports_without_findings_or_impression", "qa_images_without_view_position",
    "qa_subjects_missing_from_mimiciv", "qa_study_time_spread", "qa_ambiguous_links",
)  # fmt: skip
NEW_REPORTS = 1000
DICOM_SAMPLE = {"full": 1300, "small": 60}  # subjects: about 7,500 and 350 images
CHARTEVENTS_ROWS = {"full": 40_000_000, "small": 200_000}


def sources_for(scale: str, work: Path) -> Path:
    """The cached generated sources of this scale, generated on first use."""
    sources = work / f"sources-{scale}"
    if not (sources / "synth.json").exists():
        print(f"generating {scale} sources once into {sources} ...", flush=True)
        subprocess.run(
            [CXR_SQL, "synth", "--out", sources, "--scale", scale, "--force"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return sources


def ingest_steps(sources: Path, scratch: Path, repeats: int) -> list[dict]:
    counts = json.loads((sources / "synth.json").read_text())["counts"]
    cxr, jpg, iv = sources / "mimic-cxr", sources / "mimic-cxr-jpg", sources / "mimiciv"
    n_reports = counts["mimic-cxr/cxr-study-list.csv.gz"]
    n_images = counts["mimic-cxr/cxr-record-list.csv.gz"]
    transfers = counts["mimiciv/hosp/transfers.csv.gz"]
    linking = sum(
        counts[f"mimiciv/{t}.csv.gz"]
        for t in ("hosp/patients", "hosp/admissions", "hosp/transfers")
    )
    bare_read = f"find {cxr / 'files'} -name 's*.txt' -print0 | xargs -0 cat > /dev/null"
    run([bare_read], shell=True)  # warm the page cache
    (scratch / "jpg").mkdir(parents=True, exist_ok=True)
    return [
        measure("lists: record and study lists, validated", [PYTHON, "-c", LISTS, str(cxr)],
                n_images + n_reports, repeats),
        measure("reports: read, section, write Parquet from the files/ tree",
                [PYTHON, "-c", REPORTS, "tree", str(cxr), str(scratch / "tree")],
                n_reports, repeats),
        measure("reports: read, section, write Parquet from mimic-cxr-reports.zip",
                [PYTHON, "-c", REPORTS, "zip", str(cxr / "mimic-cxr-reports.zip"),
                 str(scratch / "zip")], n_reports, repeats),
        measure("jpg: metadata, chexpert, negbio, split", [PYTHON, "-c", JPG, str(jpg),
                str(scratch / "jpg")], n_images * 2 + n_reports * 2, repeats),
        measure("mimiciv: transfers.csv.gz to typed Parquet (cxr-sql)",
                [PYTHON, "-c", MODULE, "hosp", str(iv / "hosp"), "transfers", str(scratch / "iv")],
                transfers, repeats),
        measure("mimiciv: baseline DuckDB COPY of transfers.csv.gz to Parquet",
                [PYTHON, "-c", DUCKDB_COPY, str(iv / "hosp/transfers.csv.gz"),
                 str(scratch / "copy.parquet")], transfers, repeats),
        measure("mimiciv: linking tables (patients, admissions, transfers)",
                [PYTHON, "-c", MODULE, "hosp", str(iv / "hosp"), "patients,admissions,transfers",
                 str(scratch / "iv")], linking, repeats),
    ]  # fmt: skip


def warehouse_steps(sources: Path, scratch: Path, repeats: int) -> list[dict]:
    """A whole build, then catalog, derived views, no-op and incremental rebuilds."""
    n_reports = json.loads((sources / "synth.json").read_text())["counts"][
        "mimic-cxr/cxr-study-list.csv.gz"
    ]
    warehouse = scratch / "warehouse"
    shutil.rmtree(warehouse, ignore_errors=True)
    build = [CXR_SQL, "build", "--warehouse", str(warehouse), "--quiet"]
    for flag in ("mimic-cxr", "mimic-cxr-jpg", "mimiciv"):
        build += [f"--{flag}", str(sources / flag)]
    results = [measure("build: whole warehouse from nothing (all stages)", build, n_reports, 1)]
    results.append(measure("build: no-op rebuild (nothing changed)", build, n_reports, repeats))
    results.append(
        measure(
            "catalog: regenerate every view (as relink does)",
            [PYTHON, "-c", CATALOG, str(warehouse)],
            1,
            repeats,
        )
    )
    for view in DERIVED_VIEWS:
        query = f"SELECT count(*) FROM mimic_cxr_derived.{view}"
        cli = [str(BIN / "duckdb"), "-readonly", str(warehouse / "mimic.duckdb"), "-c", query]
        results.append(measure(f"derived: SELECT count(*) FROM {view}", cli, n_reports, repeats))
    added = _add_reports(sources / "mimic-cxr", NEW_REPORTS)
    try:
        results.append(
            measure(f"build: after adding {len(added):,} new reports", build, len(added), 1)
        )
    finally:
        for path in added:
            path.unlink()
    return results


def _add_reports(cxr: Path, n: int) -> list[Path]:
    """n new report files beside existing ones, under new study ids."""
    existing = sorted((cxr / "files").glob("p1*/p*/s*.txt"))[: n * 7 : 7]
    added = []
    for number, report in enumerate(existing):
        target = report.parent / f"s5999{number:04d}.txt"
        shutil.copyfile(report, target)
        added.append(target)
    return added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="full", help="synth scale of the cached sources")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=HERE, help="cache and scratch folder")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument(
        "--only-reports",
        action="store_true",
        help="only the report build beside its baselines (bare read, mimic-code)",
    )
    args = parser.parse_args()
    sources = sources_for(args.scale, args.work)
    scratch = args.work / f"scratch-{args.scale}"
    results: list[dict] = []
    skipped: list[str] = []
    if not args.only_reports:
        results += ingest_steps(sources, scratch, args.repeats)
        results += warehouse_steps(sources, scratch, args.repeats)
        results += dicom_steps(scratch, args.repeats, DICOM_SAMPLE.get(args.scale, 60))
        concept_results, skipped = concept_steps(scratch, args.repeats)
        results += concept_results
    n_reports = json.loads((sources / "synth.json").read_text())["counts"][
        "mimic-cxr/cxr-study-list.csv.gz"
    ]
    steps, ratios = reports_steps(
        sources / "mimic-cxr", n_reports, scratch, args.repeats, PYTHON, CXR_SQL
    )
    results += steps
    if ratios is None:
        skipped.append(
            "reports: MIMIC_CODE_DIR not set; mimic-code's create_section_files.py skipped"
        )
    if not args.only_reports:
        chartevents = CHARTEVENTS_ROWS.get(args.scale, 200_000)
        results += chartevents_steps(args.work, chartevents, min(args.repeats, 2))
        results += noop_with_images_steps(sources, args.work, args.repeats)
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "scale": args.scale,
    }
    record = {
        "machine": machine,
        "results": results,
        "skipped": skipped,
        "reports_vs_mimic_code": ratios,
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"{'step':72} {'wall s':>7} {'cpu s':>7} {'MB':>7} {'rows/s':>10}")
    for r in results:
        extra = f"  {r['bytes_read']:,} of {r['file_size']:,} bytes" if "bytes_read" in r else ""
        if "ratio_to_duckdb_copy" in r:
            extra += f"  {r['ratio_to_duckdb_copy']}x DuckDB's COPY"
        if "share_of_duckdb_copy" in r:
            extra += f"  {r['share_of_duckdb_copy']}x of DuckDB's COPY"
        print(
            f"{r['step']:72} {r['wall_s']:7.2f} {r['cpu_s']:7.2f} {r['peak_rss_mb']:7.0f} "
            f"{r['rows_per_s']:10,}{extra}"
        )
    for line in skipped:
        print(line)
    for name, ratio in (ratios or {}).items():
        print(f"reports {name}: {ratio:.2f} (goal <= {GOALS[name]})")


if __name__ == "__main__":
    main()
