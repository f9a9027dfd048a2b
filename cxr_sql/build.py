"""`cxr-sql build`: run the builders, then write the catalog and build.json.

Stages: MIMIC-CXR lists, reports, MIMIC-CXR-JPG files, one stage per MIMIC-IV
module (hosp, icu, ed, note), catalog. A stage that meets unreadable input
(SourceError) stops and leaves what it would have replaced as it was; the
other stages go on; the build then exits with the bad-input code. Rows that
fail validation are rejects, written to the `_rejects` table of their schema
and counted in each stage's summary line.
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
from cxr_sql.catalog import DERIVED, METADATA_JSON, MIMICIV, PARQUET, write_catalog
from cxr_sql.ingest import cxr_lists
from cxr_sql.ingest.csv_source import LINE
from cxr_sql.ingest.jpg_files import read_jpg_tables
from cxr_sql.ingest.mimiciv import available_tables, build_module, fingerprint
from cxr_sql.ingest.mimiciv_schema import (
    DEFAULT_TABLES,
    release_from_path,
    release_from_patients,
)
from cxr_sql.ingest.problems import KEPT, Reject, SourceError, rejects_table
from cxr_sql.ingest.report_sources import REPORTS_ZIP, ReportSource
from cxr_sql.ingest.reports import build_reports
from cxr_sql.ingest.sections import SECTIONER_VERSION

BUILD_JSON = "build.json"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BAD_INPUT = 0, 1, 2, 3
MIMIC_CXR = "mimic_cxr"
SEPARATE_RELEASE = {"ed": "2.2", "note": "2.2"}  # MIMIC-IV-ED and -Note have their own


@dataclass(frozen=True)
class BuildOptions:
    warehouse: Path
    mimic_cxr: Path | None = None
    mimic_cxr_jpg: Path | None = None
    mimiciv: Path | None = None
    mimiciv_ed: Path | None = None
    mimiciv_note: Path | None = None
    mimiciv_version: str | None = None  # of hosp and icu; found from the files when None
    tables: tuple[str, ...] = ()  # more MIMIC-IV tables: 'labevents' or 'hosp.labevents'
    all_tables: bool = False
    reports_from: str = "auto"  # auto, tree or zip
    jobs: int = 2
    link_window_hours: int | None = None  # study_link_candidates reach; None keeps the last


@dataclass
class StageSummary:
    name: str
    rows: dict[str, int] = field(default_factory=dict)
    rejects: int = 0
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        rows = ", ".join(f"{table} {n:,}" for table, n in self.rows.items()) or "no rows"
        status = f"FAILED: {self.error}" if self.error else f"{self.rejects:,} rejects"
        notes = "".join(f"; {note}" for note in self.notes)
        return f"{self.name:9} {rows}; {status}{notes}; {self.seconds:.1f} s"


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


def module_folder(options: BuildOptions, module: str) -> Path | None:
    """Where a MIMIC-IV module's CSVs are: its own flag's folder (or its ed/, note/
    subfolder), else <--mimiciv>/<module>."""
    own = {"ed": options.mimiciv_ed, "note": options.mimiciv_note}.get(module)
    for candidate in (own / module if own else None, own, _under(options.mimiciv, module)):
        if candidate is not None and candidate.is_dir() and any(candidate.glob("*.csv*")):
            return candidate
    return None


def _under(folder: Path | None, module: str) -> Path | None:
    return folder / module if folder is not None else None


def module_release(options: BuildOptions, module: str, folder: Path) -> str:
    """The flag; else a release in the folder's path; else what the files show."""
    if module in SEPARATE_RELEASE:
        return release_from_path(folder) or SEPARATE_RELEASE[module]
    if options.mimiciv_version:
        return options.mimiciv_version
    named = release_from_path(folder)
    if named:
        return named
    patients = options.mimiciv / "hosp" if options.mimiciv else folder
    found = sorted(patients.glob("patients.csv*"))
    return release_from_patients(found[0]) if found else "3.1"


def requested_tables(options: BuildOptions, module: str, folder: Path) -> list[str]:
    if options.all_tables:
        return available_tables(folder)
    wanted = list(DEFAULT_TABLES[module])
    present = set(available_tables(folder))
    for name in options.tables:
        owner, _, table = name.rpartition(".")
        if (owner == module or (not owner and table in present)) and table not in wanted:
            wanted.append(table)
    return wanted


class _Build:
    """One build's state: where it writes, what it found wrong."""

    def __init__(self, options: BuildOptions) -> None:
        self.options = options
        self.parquet = options.warehouse / PARQUET
        self.stages: list[StageSummary] = []
        self.cxr_rejects: list[tuple[str, Reject]] = []
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
        if not name.startswith(MIMICIV):
            self.cxr_rejects += [(name, reject) for reject in found]
        self.stages.append(summary)

    def write_table(self, table: str, frame: pl.DataFrame) -> int:
        folder = self.parquet / MIMIC_CXR / table
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
        out = self.parquet / MIMIC_CXR
        result = build_reports(source, out, self.options.jobs, expected)
        summary.rows = {"reports": result.n_reports, "report_sections": result.n_sections}
        return result.rejects + self._cross_check(source, out)

    def _cross_check(self, source: ReportSource, out: Path) -> list[Reject]:
        """Reports missing from the study list, and study-list rows with no report."""
        if self.study_list is None:
            return []
        found = pl.from_arrow(pq.read_table(out / "reports", columns=["study_id", "path"]))
        listed = self.study_list
        assert isinstance(found, pl.DataFrame) and self.options.mimic_cxr is not None
        study_list = str(self.options.mimic_cxr / cxr_lists.STUDY_LIST)
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

    def jpg(self, summary: StageSummary) -> list[Reject]:
        assert self.options.mimic_cxr_jpg is not None
        tables = read_jpg_tables(self.options.mimic_cxr_jpg)
        if not tables:
            raise SourceError(
                str(self.options.mimic_cxr_jpg),
                "no MIMIC-CXR-JPG files (mimic-cxr-*-metadata.csv.gz, ...) (--mimic-cxr-jpg)",
            )
        rejects: list[Reject] = []
        for name, result in tables.items():
            summary.rows[name] = self.write_table(name, result.rows)
            rejects += result.rejects
        return rejects

    def mimiciv_module(self, module: str, folder: Path) -> Callable[[StageSummary], list[Reject]]:
        def work(summary: StageSummary) -> list[Reject]:
            release = module_release(self.options, module, folder)
            summary.name = f"{module} {release}"
            tables = requested_tables(self.options, module, folder)
            result = build_module(module, folder, tables, release, self.parquet / MIMICIV)
            summary.rows = result.rows
            if result.missing:
                summary.notes.append(f"no file for {', '.join(result.missing)}")
            if result.inferred:
                summary.notes.append(f"typed by inference: {', '.join(result.inferred)}")
            return result.rejects

        return work

    def write_cxr_outputs(self) -> None:
        """mimic_cxr._rejects and the metadata the catalog shows in mimic_cxr._metadata."""
        folder = self.parquet / MIMIC_CXR / "_rejects"
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.parquet"):
            stale.unlink()
        by_stage: dict[str, list[Reject]] = {}
        for stage, reject in self.cxr_rejects:
            by_stage.setdefault(stage, []).append(reject)
        tables = [rejects_table(stage, rejects) for stage, rejects in by_stage.items()]
        combined = pa.concat_tables(tables) if tables else rejects_table("none", [])
        pq.write_table(combined, folder / "part-0.parquet")
        sources = [p for p in (self.options.mimic_cxr, self.options.mimic_cxr_jpg) if p]
        inputs = [f for s in sources for f in s.glob("*.csv*")]
        inputs += [f for s in sources for f in s.glob("*.zip")]
        metadata = {
            "dataset": "MIMIC-CXR",
            "sectioner_version": SECTIONER_VERSION,
            "source": ", ".join(str(s.resolve()) for s in sources),
            "source_fingerprint": fingerprint(inputs),
            "build_time": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (self.parquet / MIMIC_CXR / METADATA_JSON).write_text(json.dumps(metadata, indent=2))

    def catalog(self, summary: StageSummary) -> list[Reject]:
        if self.options.link_window_hours is not None:
            derived = self.parquet / DERIVED
            derived.mkdir(parents=True, exist_ok=True)
            chosen = {"link_window_hours": self.options.link_window_hours}
            (derived / METADATA_JSON).write_text(json.dumps(chosen, indent=2) + "\n")
        result = write_catalog(self.options.warehouse)
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
    if options.mimic_cxr_jpg is not None:
        build.stage("jpg", build.jpg)
    if options.mimic_cxr is not None or options.mimic_cxr_jpg is not None:
        build.write_cxr_outputs()
    if any((options.mimiciv, options.mimiciv_ed, options.mimiciv_note)):
        for module in DEFAULT_TABLES:
            folder = module_folder(options, module)
            if folder is None:
                build.stages.append(
                    StageSummary(
                        module,
                        notes=[f"not built: no {module}/ folder of CSV files under the sources"],
                    )
                )
                continue
            build.stage(f"{MIMICIV} {module}", build.mimiciv_module(module, folder))
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
        "sources": {
            name: str(value) if value else None
            for name, value in asdict(options).items()
            if name.startswith("mimic")
        },
        "stages": [asdict(stage) for stage in report.stages],
        "exit_code": report.exit_code,
    }
    (options.warehouse / BUILD_JSON).write_text(json.dumps(record, indent=2) + "\n")
