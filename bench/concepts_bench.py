"""mimic-code's concepts for `make bench`: the time to build all of them on the real
MIMIC-IV demo.

Needs a mimic-code checkout in MIMIC_CODE_DIR and the demo's CSVs in
MIMICIV_DEMO_DIR (default ../shared/data/mimic-iv-demo-2.2); without them the
steps are skipped, and the reason is printed and kept in results.json. The demo
is built once (`--all`), as is, and with an empty chartevents (the demo has
none, and 34 concepts need it), then each step runs as its own process:

- every concept from nothing (translate, run, write Parquet), on each warehouse;
- `cxr-sql build --concepts` when nothing changed (the no-op).

Run by bench/run.py (`make bench`, `make bench-quick`).
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
from measure import measure

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
CXR_SQL = str(BIN / "cxr-sql")
PYTHON = str(BIN / "python")
DEMO = Path(
    os.environ.get("MIMICIV_DEMO_DIR", HERE.parent.parent / "shared/data/mimic-iv-demo-2.2")
)
CHARTEVENTS_HEADER = (
    "subject_id,hadm_id,stay_id,caregiver_id,charttime,storetime,itemid,value,valuenum,"
    "valueuom,warning\n"
)  # MIMIC-IV's DDL
FROM_NOTHING = (  # argv: concepts folder, the warehouse's mimiciv Parquet folder, output
    "import shutil, sys; from pathlib import Path; "
    "from cxr_sql.bigquery.concept_files import concepts_folder; "
    "from cxr_sql.bigquery.concepts import build_concepts; "
    "root, out = Path(sys.argv[2]), Path(sys.argv[3]); shutil.rmtree(out, True); "
    "build_concepts(concepts_folder(Path(sys.argv[1])), out, "
    "{f'mimiciv_{m}': root / m / '2.2' for m in ('hosp', 'icu')})"
)


def _demo_with_empty_chartevents(scratch: Path) -> Path:
    folder = scratch / "demo-chartevents"
    for module in ("hosp", "icu"):
        (folder / module).mkdir(parents=True, exist_ok=True)
        for source in (DEMO / module).glob("*.csv.gz"):
            if not (folder / module / source.name).exists():
                (folder / module / source.name).symlink_to(source.resolve())
    with gzip.open(folder / "icu" / "chartevents.csv.gz", "wt") as empty:
        empty.write(CHARTEVENTS_HEADER)
    return folder


def _warehouse(mimiciv: Path, target: Path, concepts: Path) -> list[str]:
    """Build it (not measured); the build command, for the no-op step."""
    build = [CXR_SQL, "build", "--warehouse", str(target), "--mimiciv", str(mimiciv)]
    build += ["--mimiciv-version", "2.2", "--all", "--concepts", str(concepts), "--quiet"]
    subprocess.run(build, check=False, stdout=subprocess.DEVNULL)
    return build


def concept_steps(scratch: Path, repeats: int) -> tuple[list[dict], list[str]]:
    """The results, and the steps skipped with their reason."""
    mimic_code = os.environ.get("MIMIC_CODE_DIR")
    if not mimic_code or not (DEMO / "hosp").is_dir():
        why = "set MIMIC_CODE_DIR to a mimic-code checkout" if not mimic_code else f"no {DEMO}"
        return [], [f"concepts: skipped ({why})"]
    results = []
    for label, mimiciv in (
        ("the real MIMIC-IV demo", DEMO),
        ("the demo with an empty chartevents", _demo_with_empty_chartevents(scratch)),
    ):
        warehouse = scratch / f"concepts-{mimiciv.name}" / "warehouse"
        build = _warehouse(mimiciv, warehouse, Path(mimic_code))
        generation = sorted((warehouse / "parquet").glob("g*"))[-1]
        out = scratch / f"concepts-{mimiciv.name}" / "from-nothing"
        argv = [PYTHON, "-c", FROM_NOTHING, mimic_code, str(generation / "mimiciv"), str(out)]
        result = measure(f"concepts: every concept from nothing, {label}", argv, 1, repeats)
        record = pl.read_parquet(out / "_concepts" / "*.parquet")
        built = record.filter(pl.col("status") == "built")
        result["rows"] = int(built["rows"].sum())
        result["rows_per_s"] = round(result["rows"] / result["wall_s"])
        result["step"] += f" ({built.height} built, {record.height - built.height} skipped)"
        results.append(result)
        results.append(measure(f"build: no-op rebuild with --concepts, {label}", build, 1, repeats))
    return results, []
