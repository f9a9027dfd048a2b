"""`make bench` steps for the source checks: what verifying a gzip costs, and a no-op
rebuild that stats every report and image file.

chartevents: a chartevents-shaped `icu/chartevents.csv.gz` (40 million rows at full
scale, about 0.7 GB of gzip) goes through `cxr-sql build` beside DuckDB's own
`COPY (SELECT * FROM read_csv(...)) TO ... (FORMAT parquet)` of the same file and
beside the gzip check alone; the ratio build / COPY is the cost of everything the
build adds (types, rejects, the check, the catalog). The file is made by DuckDB
(a block of distinct rows written once as CSV) and compressed by ISA-L, the
block repeated to the row count: fast to make, and every row is parsed all the same.

no-op with images: an empty file at every record-list image path (a no-op stats
files and never reads them, so their content does not matter), then what a no-op
rebuild computes before it knows nothing changed: every stage's fingerprint.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from measure import measure, run

BIN = Path(sys.executable).parent
PYTHON = str(BIN / "python")
CXR_SQL = str(BIN / "cxr-sql")
BLOCK_ROWS = 2_000_000

CHARTEVENTS_BLOCK = """
COPY (
  SELECT 10000000 + i // 2000 AS subject_id, 20000000 + i // 500 AS hadm_id,
         30000000 + i // 400 AS stay_id, (i * 7919) % 99991 AS caregiver_id,
         TIMESTAMP '2110-01-01' + to_minutes(i // 3) AS charttime,
         TIMESTAMP '2110-01-01' + to_minutes(i // 3 + (i * 13) % 90) AS storetime,
         220000 + (i * 31) % 3000 AS itemid,
         CASE WHEN i % 5 = 0 THEN 'Normal <3 secs'
              ELSE ((i * 2654435761) % 2000 / 10.0)::VARCHAR END AS value,
         CASE WHEN i % 5 = 0 THEN NULL ELSE (i * 2654435761) % 2000 / 10.0 END AS valuenum,
         CASE WHEN i % 5 = 0 THEN NULL WHEN i % 3 = 0 THEN 'bpm' ELSE 'mmHg' END AS valueuom,
         (i % 97 = 0)::INT AS warning
  FROM range({rows}) t(i)
) TO '{out}' (FORMAT csv, HEADER)
"""
CHECK = (
    "import sys; from pathlib import Path; "
    "from cxr_sql.ingest.source_files import verify_gzip; verify_gzip(Path(sys.argv[1]))"
)
SOURCES = ("mimic-cxr", "mimic-cxr-jpg", "mimiciv")
PLAN = (  # the fingerprints a build computes before it knows there is nothing to do
    "import sys; from pathlib import Path; from cxr_sql.build import BuildOptions, _Build; "
    "w, cxr, jpg, iv = map(Path, sys.argv[1:]); "
    "_Build(BuildOptions(w, mimic_cxr=cxr, mimic_cxr_jpg=jpg, mimiciv=iv)).plan()"
)
DUCKDB_COPY = (
    "import sys, duckdb; con = duckdb.connect(); con.execute('SET threads = 2'); "
    "con.execute(f\"COPY (SELECT * FROM read_csv('{sys.argv[1]}')) TO '{sys.argv[2]}' "
    '(FORMAT parquet, COMPRESSION zstd)")'
)


def chartevents_file(work: Path, rows: int) -> Path:
    """work/chartevents-<rows>/icu/chartevents.csv.gz, made on first use."""
    import duckdb
    from isal import igzip_threaded

    target = work / f"chartevents-{rows}" / "icu" / "chartevents.csv.gz"
    if target.exists():
        return target
    print(f"generating {rows:,} chartevents rows once into {target} ...", flush=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    block_rows = min(rows, BLOCK_ROWS)
    block = target.with_name("block.csv")
    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        con.execute(CHARTEVENTS_BLOCK.format(rows=block_rows, out=block))
    header, body = block.read_bytes().split(b"\n", 1)
    block.unlink()
    partial = target.with_name(".chartevents.csv.gz.partial")
    with igzip_threaded.open(partial, "wb", compresslevel=2, threads=2) as packed:
        packed.write(header + b"\n")
        for _ in range(rows // block_rows):
            packed.write(body)
    partial.rename(target)
    return target


def chartevents_steps(work: Path, rows: int, repeats: int) -> list[dict]:
    """cxr-sql build of the file, DuckDB's COPY of it, and the gzip check alone."""
    source = chartevents_file(work, rows)
    mimiciv = source.parent.parent
    warehouse, copied = work / "scratch-chartevents", work / "chartevents-copy.parquet"
    build = (
        f"rm -rf {warehouse} && {CXR_SQL} build --warehouse {warehouse} --mimiciv {mimiciv} "
        f"--tables icu.chartevents --quiet"
    )
    run([PYTHON, "-c", CHECK, str(source)])  # warm the page cache
    results = [
        measure("chartevents: baseline DuckDB COPY of chartevents.csv.gz to Parquet",
                [PYTHON, "-c", DUCKDB_COPY, str(source), str(copied)], rows, repeats),
        measure("chartevents: cxr-sql build (typed, gzip verified, catalog)", [build], rows,
                repeats, shell=True),
        measure("chartevents: the gzip check alone (CRC-32 and length, ISA-L)",
                [PYTHON, "-c", CHECK, str(source)], rows, repeats),
    ]  # fmt: skip
    shutil.rmtree(warehouse, ignore_errors=True)
    copied.unlink(missing_ok=True)
    ratio = results[1]["wall_s"] / results[0]["wall_s"]
    results[1]["ratio_to_duckdb_copy"] = round(ratio, 3)
    results[2]["share_of_duckdb_copy"] = round(results[2]["wall_s"] / results[0]["wall_s"], 3)
    return results


def with_images(sources: Path, work: Path) -> Path:
    """A hard-linked copy of the sources with an empty file at every listed image path."""
    import polars as pl

    target = work / f"{sources.name}-with-images"
    if (target / ".images-placed").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(["cp", "-al", str(sources), str(target)], check=True)
    cxr = target / "mimic-cxr"
    for path in pl.read_csv(cxr / "cxr-record-list.csv.gz", columns=["path"])["path"]:
        image = cxr / path
        image.parent.mkdir(parents=True, exist_ok=True)
        image.touch()
    (target / ".images-placed").touch()
    return target


def noop_with_images_steps(sources: Path, work: Path, repeats: int) -> list[dict]:
    """What a no-op rebuild spends deciding that nothing changed: every stage's fingerprint
    (one stat per report and per image file), with the image files in place. (A build
    cannot be the measure here: the DICOM stage rejects the empty files and, as for any
    rejected file, reads them again at every build.)"""
    import polars as pl

    tree = with_images(sources, work)
    n_images = pl.read_csv(tree / "mimic-cxr" / "cxr-record-list.csv.gz", columns=["path"]).height
    argv = [PYTHON, "-c", PLAN, str(work / "scratch-plan"), *(str(tree / f) for f in SOURCES)]
    name = f"build: no-op's fingerprints, every report and {n_images:,} image files stat()ed"
    return [measure(name, argv, n_images, repeats)]
