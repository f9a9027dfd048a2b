"""DICOM header figures for `make bench`: the builder against two pydicom baselines.

The sample is generated once, by the real command, into <sources>/dicom-dcm and
<sources>/dicom-gz (`cxr-sql synth --scale SAMPLE_SUBJECTS --dicom` / `--dicom-gz`):
a few thousand small DICOMs, the same images in both. Each step runs as its own
process `repeats` times after one warm-up read of the files; the figure is the
median wall time, with that run's CPU time and peak memory (from wait4), in the
shape of bench/run.py's results. Steps:

- the builder, typed columns, from .dcm and from .dcm.gz (all cores, and one process);
- the builder with every tag (--dicom-all-tags), from .dcm;
- mimic-code's export_metadata.py approach, written here from its description:
  one process, pydicom.dcmread(stop_before_pixels=True), every element converted
  into a dict (sequences recursed, look-up tables skipped, values longer than 100
  noted as None), sequences to JSON, the rest to a CSV-like table;
- a plain whole-file pydicom.dcmread of every file (pixels included), one process;

and, measured in this process, the bytes read from disk to get the header of
pydicom-data's RG1_UNCR.dcm (a 7 MB chest CR), as .dcm and as .dcm.gz.

Run by bench/run.py (`make bench`, `make bench-quick`).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from measure import measure

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SAMPLE_SUBJECTS = 1300  # about 7,500 images
JOBS = os.cpu_count() or 1

BUILDER = """
import shutil, sys
from pathlib import Path
import polars as pl
from cxr_sql.ingest.dicom_headers import build_dicom_metadata

if __name__ == "__main__":
    cxr, out = Path(sys.argv[1]), Path(sys.argv[2])
    shutil.rmtree(out, ignore_errors=True)
    listed = pl.read_csv(
        cxr / "cxr-record-list.csv.gz",
        schema_overrides={"subject_id": pl.Int32, "study_id": pl.Int32},
    )
    result = build_dicom_metadata(
        cxr, out, int(sys.argv[3]), record_list=listed, all_tags=sys.argv[4] == "1"
    )
    assert result.n_read == result.n_images == listed.height and not result.rejects
"""

EXPORT_METADATA_STYLE = """
import json, sys
from pathlib import Path
import pydicom
from pydicom.multival import MultiValue

LIMIT = 100  # longer values (look-up tables, images) are noted as None

def as_dict(ds):
    values = {}
    for elem in ds:  # iterating a Dataset converts every element
        key = elem.tag.group << 16 | elem.tag.element
        if elem.VR == "SQ":
            if "LUT" not in elem.name:
                values[key] = [as_dict(item) for item in elem.value]
        elif isinstance(elem.value, MultiValue):
            values[key] = list(elem.value)
        elif hasattr(elem.value, "__len__") and len(elem.value) > LIMIT:
            values[key] = None
        else:
            values[key] = elem.value
    return values

if __name__ == "__main__":
    files = sorted(Path(sys.argv[1]).rglob("*.dcm"))
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    table = []
    with open(out / "sequences.json", "w") as sequences:
        for path in files:
            with open(path, "rb") as fp:
                ds = pydicom.dcmread(fp, stop_before_pixels=True)
            values = as_dict(ds)
            nested = {k: v for k, v in values.items() if isinstance(v, list) and v
                      and isinstance(v[0], dict)}
            flat = {k: (len(v) if k in nested else v) for k, v in values.items()}
            flat["dicom"] = path.stem
            table.append(flat)
            sequences.write(json.dumps({path.stem: nested}, default=str) + "\\n")
    columns = sorted({k for row in table for k in row}, key=str)
    with open(out / "table.csv", "w") as csv:
        for row in table:
            csv.write(",".join(str(row.get(k, "")) for k in columns) + "\\n")
"""

WHOLE_FILE = """
import sys
from pathlib import Path
import pydicom

if __name__ == "__main__":
    for path in sorted(Path(sys.argv[1]).rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        ds.StudyDate, ds.StudyTime, ds.Rows, ds.PixelData
"""


def _sample(sources: Path, kind: str, subjects: int) -> Path:
    """<sources>/dicom-<kind>/mimic-cxr, generated once by `cxr-sql synth`."""
    folder = sources / f"dicom-{kind}"
    manifest = folder / "synth.json"
    wanted = {"subjects": subjects, "dicom": "dcm.gz" if kind == "gz" else "dcm"}
    if not manifest.exists() or any(
        json.loads(manifest.read_text()).get(k) != v for k, v in wanted.items()
    ):
        print(f"generating the DICOM sample once into {folder} ...", flush=True)
        flag = "--dicom-gz" if kind == "gz" else "--dicom"
        command = [BIN / "cxr-sql", "synth", "--out", folder, "--scale", str(subjects)]
        subprocess.run([*command, flag, "--force"], check=True, stdout=subprocess.DEVNULL)
    return folder / "mimic-cxr"


def _warm(tree: Path) -> int:
    """Read every image once (page cache), and count them."""
    n = 0
    for path in (tree / "files").rglob("*.dcm*"):
        path.read_bytes()
        n += 1
    return n


def bytes_read_steps(scratch: Path) -> list[dict]:
    """Bytes read from disk for the header of RG1_UNCR.dcm (7 MB), .dcm and .dcm.gz."""
    try:
        from pydicom.data import get_testdata_file

        rg1 = Path(get_testdata_file("RG1_UNCR.dcm"))
    except Exception:  # pydicom-data is a test extra
        print("pydicom-data not installed: no bytes-read figure", file=sys.stderr)
        return []
    from cxr_sql.ingest.dicom_headers import read_image

    class Counting(io.FileIO):
        count = 0

        def readinto(self, buffer):
            n = super().readinto(buffer)
            Counting.count += n or 0
            return n

    packed = scratch / "RG1_UNCR.dcm.gz"
    if not packed.exists():
        packed.write_bytes(gzip.compress(rg1.read_bytes(), 6))
    results = []
    for source in (rg1, packed):
        Counting.count = 0
        entry = (source.name, source.stat().st_size, 0, 0, 0)
        started = time.perf_counter()
        row = read_image(
            source.parent, entry, False, opener=lambda p: io.BufferedReader(Counting(str(p)))
        )
        wall = time.perf_counter() - started
        assert not row["rejected"], row["problems"]
        results.append(
            {
                "step": f"dicom: bytes read for the header of {source.name} (7.2 MB image)",
                "rows": 1,
                "wall_s": round(wall, 4),
                "cpu_s": round(wall, 4),
                "peak_rss_mb": 0.0,
                "rows_per_s": round(1 / wall),
                "wall_s_all": [round(wall, 4)],
                "bytes_read": Counting.count,
                "file_size": entry[1],
                "header_bytes": row["header_bytes"],
            }
        )
    return results


def dicom_steps(sources: Path, repeats: int, subjects: int = SAMPLE_SUBJECTS) -> list[dict]:
    """The DICOM bench steps; the sample trees are kept under `sources`."""
    sources.mkdir(parents=True, exist_ok=True)
    dcm, gz = _sample(sources, "dcm", subjects), _sample(sources, "gz", subjects)
    n = _warm(dcm)
    assert _warm(gz) == n
    python = str(BIN / "python")
    out = sources / "dicom-out"
    steps = [
        (f"dicom: typed headers from .dcm ({JOBS} processes)", [dcm, JOBS, 0]),
        (f"dicom: typed headers from .dcm.gz ({JOBS} processes)", [gz, JOBS, 0]),
        (f"dicom: every tag, --dicom-all-tags, from .dcm ({JOBS} processes)", [dcm, JOBS, 1]),
        ("dicom: typed headers from .dcm (1 process)", [dcm, 1, 0]),
        # one process each: the CPU seconds of .dcm.gz against .dcm hold on a busy machine
        ("dicom: typed headers from .dcm.gz (1 process)", [gz, 1, 0]),
    ]
    results = [
        measure(
            name, [python, "-c", BUILDER, str(tree), str(out), str(jobs), str(tags)], n, repeats
        )
        for name, (tree, jobs, tags) in steps
    ]
    results.append(
        measure(
            "dicom: baseline, export_metadata.py approach (1 process)",
            [python, "-c", EXPORT_METADATA_STYLE, str(dcm / "files"), str(out / "export")],
            n,
            repeats,
        )
    )
    results.append(
        measure(
            "dicom: baseline, whole-file pydicom.dcmread (1 process)",
            [python, "-c", WHOLE_FILE, str(dcm / "files")],
            n,
            repeats,
        )
    )
    return results + bytes_read_steps(sources)
