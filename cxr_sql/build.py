"""`cxr-sql build`: run the builders, then write the catalog and build.json.

Stages so far: MIMIC-CXR lists (record, study, provider), reports, catalog. A
stage that meets unreadable input (SourceError) stops; the others go on; the
build then exits with the bad-input code. Rows that fail validation are
rejects: written to mimic_cxr._rejects and counted in each stage's summary.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from cxr_sql import __version__
from cxr_sql.catalog import PARQUET, write_catalog
from cxr_sql.ingest import cxr_lists
from cxr_sql.ingest.csv_source import LINE
from cxr_sql.ingest.problems import KEPT, Reject, SourceError, rejects_table
from cxr_sql.ingest.report_sources import REPORTS_ZIP, ReportSource
from cxr_sql.ingest.reports import build_reports
from cxr_sql.ingest.sections import SECTIONER_VERSION

BUILD_JSON = "build.json"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BAD_INPUT = 0, 1, 2, 3


@dataclass(frozen=True)
class BuildOptions:
    warehouse: Path
    mimic_cxr: Path | None
    reports_from: str = "auto"  # auto, tree or zip
    jobs: int = 2


@dataclass
class StageSummary:
    name: str
    rows: dict[str, int] = field(default_factory=dict)
    rejects: int = 0
    seconds: float = 0.0
    error: str | None = None

    def line(self) -> str:
        rows = ", ".join(f"{table} {n:,}" for table, n in self.rows.items()) or "no rows"
        status = f"FAILED: {self.error}" if self.error else f"{self.rejects:,} rejects"
        return f"{self.name:9} {rows}; {status}; {self.seconds:.1f} s"


@dataclass
class BuildReport:
    stages: list[StageSummary]
    exit_code: int


def choose_report_source(mimic_cxr: Path, reports_from: str) -> ReportSource:
    """The files/ tree when it holds reports (or when asked), else the reports zip."""
    zip_path = mimic_cxr / REPORTS_ZIP
    if reports_from == "zip":
        return ReportSource("zip", zip_path)
    if reports_from == "tree" or _tree_has_reports(mimic_cxr / "files"):
        return ReportSource("tree", mimic_cxr)
    if zip_path.exists():
        return ReportSource("zip", zip_path)
    raise SourceError(
        str(mimic_cxr), f"no reports: neither files/pNN/p*/s*.txt nor {REPORTS_ZIP} (--mimic-cxr)"
    )


def _tree_has_reports(files: Path) -> bool:
    if not files.is_dir():
        return False
    for group in sorted(files.iterdir()):
        for patient in sorted(group.iterdir()) if group.is_dir() else []:
            return any(patient.glob("s*.txt"))
    return False


class _Build:
    """One build's state: where it writes, what it found wrong."""

    def __init__(self, options: BuildOptions) -> None:
        self.options = options
        self.parquet = options.warehouse / PARQUET
        self.stages: list[StageSummary] = []
        self.rejects: list[tuple[str, Reject]] = []
        self.study_list: pl.DataFrame | None = None

    def stage(self, name: str, work: Callable[[StageSummary], list[Reject]]) -> None:
        summary = StageSummary(name)
        started = time.monotonic()
        try:
            found = work(summary)
        except SourceError as error:
            summary.error = str(error)
            found = []
        summary.seconds = time.monotonic() - started
        summary.rejects = len(found)
        self.rejects += [(name, reject) for reject in found]
        self.stages.append(summary)

    def write_table(self, table: str, frame: pl.DataFrame) -> int:
        folder = self.parquet / "mimic_cxr" / table
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.parquet"):
            stale.unlink()
        frame.drop(LINE, strict=False).write_parquet(folder / "part-0.parquet", compression="zstd")
        return frame.height

    def lists(self, summary: StageSummary) -> list[Reject]:
        folder = self.options.mimic_cxr
        assert folder is not None
        study = cxr_lists.read_study_list(folder)
        self.study_list = study.rows
        summary.rows["study_list"] = self.write_table("study_list", study.rows)
        record = cxr_lists.read_record_list(folder, study.rows)
        summary.rows["record_list"] = self.write_table("record_list", record.rows)
        rejects = study.rejects + record.rejects
        provider = cxr_lists.read_provider_list(folder)
        if provider is not None:
            summary.rows["provider_list"] = self.write_table("provider_list", provider.rows)
            rejects += provider.rejects
        return rejects

    def reports(self, summary: StageSummary) -> list[Reject]:
        assert self.options.mimic_cxr is not None
        source = choose_report_source(self.options.mimic_cxr, self.options.reports_from)
        expected = self.study_list.height if self.study_list is not None else None
        out = self.parquet / "mimic_cxr"
        result = build_reports(source, out, self.options.jobs, expected)
        summary.rows = {"reports": result.n_reports, "report_sections": result.n_sections}
        return result.rejects + self._cross_check(source, out)

    def _cross_check(self, source: ReportSource, out: Path) -> list[Reject]:
        """Reports missing from the study list, and study-list rows with no report."""
        if self.study_list is None:
            return []
        found = pl.from_arrow(pq.read_table(out / "reports", columns=["study_id", "path"]))
        listed = self.study_list
        assert isinstance(found, pl.DataFrame)
        study_list = str(self.options.mimic_cxr / cxr_lists.STUDY_LIST)  # type: ignore[operator]
        unlisted = found.join(listed, on="study_id", how="anti")
        missing = listed.join(found, on="study_id", how="anti")
        return [
            Reject(
                f"{source.label}/{path[len('files/') :]}", None, "no row in the study list", KEPT
            )
            for path in unlisted["path"]
        ] + [
            Reject(study_list, line, f"no report file for study {study}", KEPT)
            for line, study in missing.select(LINE, "study_id").iter_rows()
        ]

    def write_rejects(self) -> None:
        folder = self.parquet / "mimic_cxr" / "_rejects"
        folder.mkdir(parents=True, exist_ok=True)
        by_stage: dict[str, list[Reject]] = {}
        for stage, reject in self.rejects:
            by_stage.setdefault(stage, []).append(reject)
        for stale in folder.glob("*.parquet"):
            stale.unlink()
        tables = [rejects_table(stage, rejects) for stage, rejects in by_stage.items()]
        combined = pa.concat_tables(tables) if tables else rejects_table("none", [])
        pq.write_table(combined, folder / "part-0.parquet")

    def catalog(self, summary: StageSummary) -> list[Reject]:
        built = datetime.now(UTC).isoformat(timespec="seconds")
        metadata = {
            "mimic_cxr": {
                "dataset": "MIMIC-CXR",
                "sectioner_version": SECTIONER_VERSION,
                "build_time": built,
                "source": str(self.options.mimic_cxr),
            }
        }
        result = write_catalog(self.options.warehouse, metadata)
        summary.rows["views"] = len(result.views)
        return []


def run_build(options: BuildOptions) -> BuildReport:
    """Build every stage the given sources allow; returns the summaries and exit code."""
    warehouse = options.warehouse
    warehouse.mkdir(parents=True, exist_ok=True)
    os.chmod(warehouse, 0o700)  # the warehouse holds credentialed data: owner only
    build = _Build(options)
    if options.mimic_cxr is not None:
        build.stage("lists", build.lists)
        build.stage("reports", build.reports)
        build.write_rejects()
    build.stage("catalog", build.catalog)
    failed = any(stage.error for stage in build.stages)
    report = BuildReport(build.stages, EXIT_BAD_INPUT if failed else EXIT_OK)
    _write_build_json(options, report)
    return report


def _write_build_json(options: BuildOptions, report: BuildReport) -> None:
    record = {
        "cxr_sql_version": __version__,
        "sectioner_version": SECTIONER_VERSION,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": {"mimic_cxr": str(options.mimic_cxr) if options.mimic_cxr else None},
        "stages": [asdict(stage) for stage in report.stages],
        "exit_code": report.exit_code,
    }
    (options.warehouse / BUILD_JSON).write_text(json.dumps(record, indent=2) + "\n")
