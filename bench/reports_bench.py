"""The report build beside mimic-code's create_section_files.py, in the same run.

Three measurements on the same files/ tree: a bare read of every report
(`find | xargs cat`), `cxr-sql build --mimic-cxr ... --dicom no` from nothing (lists,
reports with both sectioners, catalog) and, when MIMIC_CODE_DIR points at a
mimic-code checkout, its mimic-iv-cxr/txt/create_section_files.py as its README runs
it. The goals: the build's wall time at most half of mimic-code's, its CPU time at
most mimic-code's, its wall time at most 1.6 times the bare read.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from measure import measure, run

GOALS = {"wall_vs_mimic_code": 0.5, "cpu_vs_mimic_code": 1.0, "wall_vs_bare_read": 1.6}


def mimic_code_script() -> Path | None:
    folder = os.environ.get("MIMIC_CODE_DIR")
    if not folder:
        return None
    script = Path(folder) / "mimic-iv-cxr" / "txt" / "create_section_files.py"
    if not script.is_file():
        raise SystemExit(f"MIMIC_CODE_DIR={folder}: no {script}")
    return script


def reports_steps(
    cxr: Path, n_reports: int, scratch: Path, repeats: int, python: str, cxr_sql: str
) -> tuple[list[dict], dict[str, float] | None]:
    """The steps, and the ratios to the goals (None when mimic-code was not run)."""
    files = shlex.quote(str(cxr / "files"))
    bare_read = f"find {files} -name 's*.txt' -print0 | xargs -0 cat > /dev/null"
    run([bare_read], shell=True)  # warm the page cache
    bare = measure("reports: baseline bare read of the files (find | xargs cat)", [bare_read],
                   n_reports, repeats, shell=True)  # fmt: skip
    warehouse = shlex.quote(str(scratch / "reports-warehouse"))
    build = measure(
        "reports: cxr-sql build --mimic-cxr --dicom no, from nothing",
        [f"rm -rf {warehouse} && {shlex.quote(cxr_sql)} build --quiet "
         f"--warehouse {warehouse} "
         f"--mimic-cxr {shlex.quote(str(cxr))} --dicom no"],
        n_reports, repeats, shell=True,
    )  # fmt: skip
    steps = [bare, build]
    script = mimic_code_script()
    if script is None:
        return steps, None
    output = scratch / "mimic-code-sections"
    output.mkdir(parents=True, exist_ok=True)
    mimic_code = measure(
        "reports: mimic-code create_section_files.py (baseline)",
        [python, str(script), "--reports_path", str(cxr / "files"), "--output_path", str(output)],
        n_reports,
        repeats,
    )
    steps.append(mimic_code)
    ratios = {
        "wall_vs_mimic_code": round(build["wall_s"] / mimic_code["wall_s"], 2),
        "cpu_vs_mimic_code": round(build["cpu_s"] / mimic_code["cpu_s"], 2),
        "wall_vs_bare_read": round(build["wall_s"] / bare["wall_s"], 2),
    }
    return steps, ratios
