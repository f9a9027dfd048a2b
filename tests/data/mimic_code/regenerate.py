"""Regenerate the expected outputs in this folder by running mimic-code itself.

    MIMIC_CODE_DIR=/path/to/mimic-code .venv/bin/python tests/data/mimic_code/regenerate.py

Runs MIT-LCP mimic-code's mimic-iv-cxr/txt/create_section_files.py (not part of this
project) on each corpus and keeps its mimic_cxr_sectioned.csv:

- handwritten/: MIMIC-style reports written for the cases where the two sectioners
  part (wet reads, mixed case, CRLF, tabs, addenda, the studies mimic-code
  special-cases by id, ...);
- synth-tiny/: the report tree of `cxr-sql synth --scale tiny`, generated here.

mimic-code lists a patient's reports with os.listdir, whose order depends on the
file system; it is run with os.listdir sorted, the order cxr-sql writes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SORTED_LISTDIR_RUN = (
    "import os, runpy, sys; listdir = os.listdir; "
    "os.listdir = lambda path='.': sorted(listdir(path)); "
    "sys.argv = sys.argv[1:]; sys.path.insert(0, os.path.dirname(sys.argv[0])); "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def run_mimic_code(script: Path, files: Path, out: Path) -> None:
    """mimic_cxr_sectioned.csv of one report tree, written to `out`."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-c", SORTED_LISTDIR_RUN, str(script), "--reports_path",
                   str(files), "--output_path", scratch, "--no_split"]  # fmt: skip
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.copyfile(Path(scratch) / "mimic_cxr_sectioned.csv", out)


def main() -> None:
    script = Path(os.environ["MIMIC_CODE_DIR"]) / "mimic-iv-cxr" / "txt" / "create_section_files.py"
    run_mimic_code(script, HERE / "handwritten" / "files", HERE / "handwritten.sectioned.csv")
    with tempfile.TemporaryDirectory() as scratch:
        cxr_sql = Path(sys.executable).parent / "cxr-sql"
        subprocess.run([cxr_sql, "synth", "--out", scratch, "--scale", "tiny", "--force"],
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        files = Path(scratch) / "mimic-cxr" / "files"
        run_mimic_code(script, files, HERE / "synth-tiny.sectioned.csv")


if __name__ == "__main__":
    main()
