"""`cxr-sql build`: bring the warehouse up to date with its sources, then publish it.

Stages: MIMIC-CXR lists, reports, MIMIC-CXR-JPG files, one per MIMIC-IV module
(hosp, icu, ed, note), catalog. Each stage has a fingerprint of its inputs
(names, sizes, mtimes), of the options that shape its output and of the code
version; build.json keeps the fingerprints of the published build. A stage
whose fingerprint is unchanged does no work; when none changed the build says
so and publishes nothing.

A build holds the warehouse lock, first repairs what an earlier build left
(recovery.py), works in a new generation (publish.py), and publishes it at the
end with one rename of the catalog. Any other error (a full disk, a bug) stops
the build before it publishes: BuildFailed names the step, the published
warehouse stays as it was, and the next build removes the leftovers. A stage that meets
unreadable input (SourceError) stops, leaving its previous output in place and
its fingerprint unrecorded (so the next build retries it); the other stages go
on; the build exits with the bad-input code. Rows that fail validation are
rejects, in the `_rejects` table of their schema and counted per stage.
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq

from cxr_sql import __version__
from cxr_sql.bigquery.concept_files import ConceptError, concepts_folder, folder_digest
from cxr_sql.bigquery.concepts import (
    BUILT,
    DERIVED_MODULE,
    FAILED,
    NOT_HERE,
    REUSED,
    SKIPPED,
    ConceptsResult,
    build_concepts,
    code_digest,
)
from cxr_sql.catalog import DERIVED, METADATA_JSON, MIMICIV, SQL_DIR, write_scratch_catalog
from cxr_sql.check import untimed_warning
from cxr_sql.fingerprint import files_fingerprint, text_fingerprint
from cxr_sql.ingest import cxr_lists
from cxr_sql.ingest.csv_source import LINE
from cxr_sql.ingest.dicom_headers import build_dicom_metadata, has_images, images_fingerprint
from cxr_sql.ingest.jpg_files import read_jpg_tables
from cxr_sql.ingest.mimic_code_sections import MIMIC_CODE_SECTIONER_VERSION
from cxr_sql.ingest.mimiciv import build_module, table_file
from cxr_sql.ingest.mimiciv_schema import DEFAULT_TABLES, release_from_path, release_from_patients
from cxr_sql.ingest.problems import KEPT, REPLACED, Reject, SourceError, rejects_table
from cxr_sql.ingest.report_sources import (
    REPORTS_ZIP,
    ReportSource,
    group_fingerprint,
    list_groups,
)
from cxr_sql.ingest.reports import build_reports
from cxr_sql.ingest.sections import SECTIONER_VERSION
from cxr_sql.ingest.source_files import csv_file
from cxr_sql.mimic_ids import IMAGE_PATH_RE
from cxr_sql.publish import (
    CATALOG,
    build_lock,
    data_root,
    fault_point,
    owner_only,
    prune_generations,
    publish,
    read_build_record,
    remove_leftovers,
    remove_scratch_catalog,
    start_generation,
)
from cxr_sql.recovery import reconcile
from cxr_sql.table_choice import lost_tables, published_tables, refuse_losses, requested_tables

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BAD_INPUT, EXIT_BUSY = 0, 1, 2, 3, 4
MIMIC_CXR = "mimic_cxr"
CXR_STAGES = ("lists", "reports", "dicom", "jpg")  # their rejects go to mimic_cxr._rejects
IMAGE_PROBE = 50  # record-list paths looked at to tell whether images are there
SEPARATE_RELEASE = {"ed": "2.2", "note": "2.2"}  # MIMIC-IV-ED and -Note have their own
CODE_VERSION = f"{__version__}/{SECTIONER_VERSION}/{MIMIC_CODE_SECTIONER_VERSION}"
REMEMBERED = (
    "mimic_cxr", "mimic_cxr_jpg", "mimiciv", "mimiciv_ed", "mimiciv_note", "mimiciv_version",
    "tables", "all_tables", "dropped_tables", "reports_from", "dicom", "dicom_all_tags",
    "link_window_hours", "concepts",
)  # fmt: skip
FULL_BELOW = 64 * 1024  # bytes free under which a failed write is put down to a full disk


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
    dropped_tables: tuple[str, ...] = ()  # tables to leave out (and drop if published)
    reports_from: str = "auto"  # auto, tree or zip
    jobs: int = 2
    link_window_hours: int | None = None  # study_link_candidates reach; None keeps the last
    wait: bool = False  # queue behind a running build instead of refusing
    show_progress: bool = True
    dicom: str = "auto"  # read DICOM headers: auto (when images are there), yes or no
    dicom_all_tags: bool = False
    concepts: Path | None = None  # mimic-code checkout (or its mimic-iv/concepts folder)
    remembered: tuple[str, ...] = ()  # the settings above taken from build.json


@dataclass
class StageSummary:
    name: str
    rows: dict[str, int] = field(default_factory=dict)
    rejects: int = 0
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # one line each, under the summary
    warnings: list[str] = field(default_factory=list)  # go to the build's warnings
    ran: bool = True

    def line(self) -> str:
        if not self.ran:
            return f"{self.name:9} unchanged; nothing to do"
        rows = ", ".join(f"{table} {n:,}" for table, n in self.rows.items()) or "no rows"
        status = f"FAILED: {self.error}" if self.error else f"{self.rejects:,} rejects"
        notes = "".join(f"; {note}" for note in self.notes)
        details = "".join(f"\n  {detail}" for detail in self.details)
        return f"{self.name:9} {rows}; {status}{notes}; {self.seconds:.1f} s{details}"


@dataclass
class BuildReport:
    stages: list[StageSummary]
    exit_code: int
    published: str | None = None  # the generation published, None when nothing changed
    warnings: list[str] = field(default_factory=list)  # what a researcher should know now


class BuildFailed(Exception):
    """A build stopped before publishing by an error that is not bad input (a full
    disk, a bug): `step` names where. The published warehouse is unchanged."""

    def __init__(
        self, step: str, error: BaseException, published: str | None, folder: Path | None = None
    ) -> None:
        self.step, self.error, self.published = step, error, published
        unchanged = (
            f"the published warehouse ({published}) is unchanged"
            if published
            else ("nothing was published")
        )
        super().__init__(f"build failed in {step}: {describe(error, folder)}; {unchanged}")


def describe(error: BaseException, folder: Path | None = None) -> str:
    """One line saying what went wrong, without a traceback. Libraries do not always say
    that a write failed for want of space (polars: "Invalid thrift"), so when `folder`'s
    file system is full, that is said first."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        where = f" writing {error.filename}" if error.filename else ""
        return f"disk full{where} (No space left on device)"
    text = str(error).strip().splitlines()
    first = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    if "No space left on device" in str(error) or (folder is not None and _disk_full(folder)):
        return f"disk full ({first})"
    return first


def _disk_full(folder: Path) -> bool:
    try:
        found = os.statvfs(folder)
    except OSError:
        return False
    return found.f_bavail * found.f_frsize < FULL_BELOW


@dataclass(frozen=True)
class Stage:
    name: str
    fingerprint: str
    work: Callable[[StageSummary], list[Reject]]


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


def _images_present(cxr: Path) -> bool:
    """Whether the MIMIC-CXR folder holds images: the first record-list paths (as .dcm or
    .dcm.gz) tell at once; without a record list, the tree is walked to the first one."""
    try:
        record_list = csv_file(cxr, cxr_lists.RECORD_LIST)
    except SourceError:  # the lists stage says why
        record_list = None
    if record_list is None or not record_list.is_file():
        return has_images(cxr)
    try:
        head = pl.read_csv(record_list, n_rows=IMAGE_PROBE, columns=["path"], infer_schema=False)
    except (pl.exceptions.PolarsError, OSError):
        return has_images(cxr)
    paths = [path for path in head["path"] if path and IMAGE_PATH_RE.fullmatch(path)]
    if not paths:  # never stat() what the list says unless it is an image path
        return has_images(cxr)
    return any((cxr / path).exists() or (cxr / f"{path}.gz").exists() for path in paths)


def module_folder(options: BuildOptions, module: str) -> Path | None:
    """Where a MIMIC-IV module's CSVs are: its own flag's folder (or its ed/, note/
    subfolder), else <--mimiciv>/<module>."""
    own = {"ed": options.mimiciv_ed, "note": options.mimiciv_note}.get(module)
    under = options.mimiciv / module if options.mimiciv is not None else None
    for candidate in (own / module if own else None, own, under):
        if candidate is not None and candidate.is_dir() and any(candidate.glob("*.csv*")):
            return candidate
    return None


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


def _present(*paths: Path) -> list[Path]:
    return [p for p in paths if p.is_file()]


class _Build:
    """One build: its options, the generation it writes, what it found wrong."""

    def __init__(self, options: BuildOptions, published: Path | None = None) -> None:
        self.options = options
        self.published = published  # the Parquet folder of the published generation
        self.root = Path()  # the new generation's Parquet folder, set once one is started
        self.releases: dict[str, str] = {}  # MIMIC-IV module -> release built by this build
        self.losses: dict[str, Path] = {}  # published tables this build would not write again

    # -- stages ---------------------------------------------------------------------------

    def plan(self) -> list[Stage]:
        """Every stage the given sources allow, with its fingerprint."""
        options, stages = self.options, []
        cxr = options.mimic_cxr
        if cxr is not None:
            lists_print = text_fingerprint(
                CODE_VERSION,
                files_fingerprint(
                    _present(*(cxr / f"{n}{gz}" for n in cxr_lists.LISTS for gz in ("", ".gz")))
                ),
            )
            stages.append(Stage("lists", lists_print, self.lists))
            stages.append(
                Stage("reports", text_fingerprint(lists_print, self._reports_print()), self.reports)
            )
            if options.dicom == "yes" or (options.dicom == "auto" and _images_present(cxr)):
                dicom_print = text_fingerprint(
                    CODE_VERSION, lists_print, options.dicom_all_tags, images_fingerprint(cxr)
                )
                stages.append(Stage("dicom", dicom_print, self.dicom))
        if options.mimic_cxr_jpg is not None:
            jpg_files = sorted(options.mimic_cxr_jpg.glob("mimic-cxr-*.csv*"))
            stages.append(
                Stage("jpg", text_fingerprint(CODE_VERSION, files_fingerprint(jpg_files)), self.jpg)
            )
        if any((options.mimiciv, options.mimiciv_ed, options.mimiciv_note)):
            for module in DEFAULT_TABLES:
                stages.append(self._module_stage(module))
        if options.concepts is not None:
            stages.append(self._concepts_stage(options.concepts, stages))
        return stages

    def _reports_print(self) -> str:
        assert self.options.mimic_cxr is not None
        try:
            source = choose_report_source(self.options.mimic_cxr, self.options.reports_from)
            groups, stray = list_groups(source)
        except SourceError as error:
            return f"unreadable: {error}"  # the stage will run and report it
        prints = [f"{g}={group_fingerprint(source, g)}" for g in groups]
        # the resolved location: the same sources spelled another way are the same input
        inside = [where.removeprefix(str(source.location)) for where in stray]
        return text_fingerprint(source.kind, source.location.resolve(), *prints, *inside)

    def _module_stage(self, module: str) -> Stage:
        folder = module_folder(self.options, module)
        if folder is None:
            return Stage(module, "absent", self.missing_module(module))
        release = module_release(self.options, module, folder)
        options = self.options
        tables = requested_tables(
            module, folder, options.tables, options.all_tables, options.dropped_tables
        )
        if self.published is not None:
            published = published_tables(self.published / MIMICIV / module / release)
            for table in lost_tables(module, folder, tables, published, options.dropped_tables):
                self.losses[f"{module}.{table}"] = folder
        files = [p for t in tables for p in _present(folder / f"{t}.csv.gz", folder / f"{t}.csv")]
        name = f"{module} {release}"
        self.releases[module] = release
        print_ = text_fingerprint(CODE_VERSION, release, ",".join(tables), files_fingerprint(files))
        return Stage(name, print_, self.mimiciv_module(module, folder, release, tables))

    def write_table(self, table: str, frame: pl.DataFrame) -> int:
        """Replace one mimic_cxr table (unlinking first: the old file is shared)."""
        folder = self.root / MIMIC_CXR / table
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.parquet"):
            stale.unlink()
        frame.write_parquet(folder / "part-0.parquet", compression="zstd")
        return frame.height

    def write_rejects(self, stage: str, rejects: list[Reject]) -> None:
        """This stage's part of mimic_cxr._rejects, replacing its last one."""
        folder = self.root / MIMIC_CXR / "_rejects"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{stage}.parquet"
        target.unlink(missing_ok=True)
        pq.write_table(rejects_table(stage, rejects), target)

    def lists(self, summary: StageSummary) -> list[Reject]:
        folder = self.options.mimic_cxr
        assert folder is not None
        study = cxr_lists.read_study_list(folder)
        record = cxr_lists.read_record_list(folder, study.rows)
        provider = cxr_lists.read_provider_list(folder)
        summary.rows["study_list"] = self.write_table("study_list", study.rows)
        summary.rows["record_list"] = self.write_table("record_list", record.rows)
        rejects = study.rejects + record.rejects
        if provider is not None:
            summary.rows["provider_list"] = self.write_table("provider_list", provider.rows)
            rejects += provider.rejects
        _note_plain_csv(summary, [r.file for r in (study, record, provider) if r is not None])
        return rejects

    def reports(self, summary: StageSummary) -> list[Reject]:
        assert self.options.mimic_cxr is not None
        source = choose_report_source(self.options.mimic_cxr, self.options.reports_from)
        out = self.root / MIMIC_CXR
        study_list = self._study_list()
        expected = study_list.height if study_list is not None else None
        result = build_reports(source, out, self.options.jobs, expected, self.options.show_progress)
        reports = pl.read_parquet(
            out / "reports" / "*.parquet",
            columns=["study_id", "path", "n_replaced", "empty", "n_sections"],
        )
        summary.rows = {
            "reports": reports.height,
            "report_sections": int(reports["n_sections"].sum()),
        }
        summary.notes.append(f"{result.n_read:,} files read, {result.n_reused:,} reused")
        return result.rejects + _report_problems(source, reports, study_list, self.options)

    def _study_list(self) -> pl.DataFrame | None:
        path = self.root / MIMIC_CXR / "study_list"
        return pl.read_parquet(path / "*.parquet") if any(path.glob("*.parquet")) else None

    def dicom(self, summary: StageSummary) -> list[Reject]:
        cxr = self.options.mimic_cxr
        assert cxr is not None
        if not has_images(cxr):
            raise SourceError(str(cxr / "files"), "no .dcm or .dcm.gz images (--dicom yes)")
        listed = self.root / MIMIC_CXR / "record_list"
        record_list = (
            pl.read_parquet(listed / "*.parquet") if any(listed.glob("*.parquet")) else None
        )
        result = build_dicom_metadata(
            cxr,
            self.root / MIMIC_CXR,
            self.options.jobs,
            record_list=record_list,
            all_tags=self.options.dicom_all_tags,
            show_progress=self.options.show_progress,
        )
        summary.rows["dicom_metadata"] = result.n_images
        summary.notes.append(f"{result.n_read:,} files read, {result.n_reused:,} reused")
        return result.rejects

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
            summary.rows[name] = self.write_table(name, result.rows.drop(LINE))
            rejects += result.rejects
        _note_plain_csv(summary, [result.file for result in tables.values()])
        return rejects

    def missing_module(self, module: str) -> Callable[[StageSummary], list[Reject]]:
        def work(summary: StageSummary) -> list[Reject]:
            summary.notes.append(f"not built: no {module}/ folder of CSV files under the sources")
            return []

        return work

    def mimiciv_module(
        self, module: str, folder: Path, release: str, tables: list[str]
    ) -> Callable[[StageSummary], list[Reject]]:
        def work(summary: StageSummary) -> list[Reject]:
            result = build_module(module, folder, tables, release, self.root / MIMICIV)
            summary.rows = result.rows
            if result.missing:
                summary.notes.append(f"no file for {', '.join(result.missing)}")
            summary.warnings += [
                f"{module}.{table}: no published DDL lists this table; its types were inferred"
                for table in result.inferred
            ]
            _note_plain_csv(summary, [str(folder / f"{table}.csv") for table in result.plain])
            return result.rejects

        return work

    def _concepts_release(self) -> str | None:
        """The hosp release of this build, else the newest one the warehouse holds."""
        if "hosp" in self.releases:
            return self.releases["hosp"]
        built = data_root(self.options.warehouse) / MIMICIV / "hosp"
        releases = [d.name for d in built.glob("*") if (d / METADATA_JSON).is_file()]
        return max(releases, key=lambda r: tuple(map(int, r.split(".")))) if releases else None

    def _concepts_stage(self, given: Path, stages: list[Stage]) -> Stage:
        """mimic-code's concepts, after the MIMIC-IV modules they read: rerun when a concept
        file, the translator or a module changed (each concept then decides for itself)."""
        release = self._concepts_release()
        try:
            folder = concepts_folder(given)
            concepts_print = folder_digest(folder)
        except (ConceptError, OSError) as error:
            folder, concepts_print = given, f"unreadable: {error}"
        published = data_root(self.options.warehouse) / MIMICIV
        inputs = [s.fingerprint for s in stages if s.name.split()[0] in DEFAULT_TABLES]
        if release is not None and not any(
            s.name in (f"hosp {release}", f"icu {release}") for s in stages
        ):
            patterns = (f"hosp/{release}", f"icu/{release}", "ed/*", "note/*")
            parts = [p for pattern in patterns for p in published.glob(f"{pattern}/*/*.parquet")]
            inputs.append(files_fingerprint(parts, ctime=False))
        print_ = text_fingerprint(CODE_VERSION, release, concepts_print, code_digest(), *inputs)
        return Stage(f"concepts {release or ''}".strip(), print_, self.concepts(folder, release))

    def _concept_sources(self, release: str) -> dict[str, Path]:
        """Schema -> Parquet folder the concepts read: hosp and icu of their release,
        MIMIC-IV-ED and -Note of their newest."""
        sources = {}
        for module_dir in sorted((self.root / MIMICIV).glob("*")):
            module = module_dir.name
            if module == DERIVED_MODULE:
                continue
            found = [d for d in module_dir.iterdir() if (d / METADATA_JSON).is_file()]
            if module in SEPARATE_RELEASE and found:
                chosen = max(found, key=lambda d: tuple(map(int, d.name.split("."))))
                sources[f"mimiciv_{module}"] = chosen
            elif (module_dir / release / METADATA_JSON).is_file():
                sources[f"mimiciv_{module}"] = module_dir / release
        return sources

    def _unbuilt_source_tables(self, result: ConceptsResult) -> list[str]:
        """Tables concepts were skipped for that the MIMIC-IV folders have but this
        warehouse did not load."""
        found = set()
        for outcome in result.problems(SKIPPED):
            if not outcome.cause.endswith(NOT_HERE):
                continue
            for name in outcome.cause.removesuffix(NOT_HERE).split(","):
                schema, _, table = name.strip().partition(".")
                folder = module_folder(self.options, schema.removeprefix("mimiciv_"))
                if folder is not None and table_file(folder, table) is not None:
                    found.add(table)
        return sorted(found)

    def concepts(self, folder: Path, release: str | None) -> Callable[[StageSummary], list[Reject]]:
        def work(summary: StageSummary) -> list[Reject]:
            if release is None:
                raise SourceError(
                    str(folder), "no MIMIC-IV hosp tables to build the concepts from (--mimiciv)"
                )
            try:
                result = build_concepts(
                    concepts_folder(folder),
                    self.root / MIMICIV / DERIVED_MODULE / release,
                    self._concept_sources(release),
                    self.options.jobs,
                )
            except ConceptError as error:
                raise SourceError(str(folder), str(error)) from None
            summary.rows = {s: result.count(s) for s in (BUILT, REUSED, SKIPPED, FAILED)}
            failed = result.problems(FAILED)
            summary.details = result.lines()
            loadable = self._unbuilt_source_tables(result)
            if loadable:
                summary.notes.append(
                    f"--tables {','.join(loadable)} (or --all) builds the concepts that read them"
                )
            if failed:
                more = f" (and {len(failed) - 1} more failed)" if len(failed) > 1 else ""
                raise SourceError(str(folder / failed[0].file), failed[0].reason + more)
            return []

        return work

    # -- publishing -----------------------------------------------------------------------

    def write_cxr_metadata(self) -> None:
        """What mimic_cxr._metadata shows: dataset, sectioner version, sources."""
        sources = [p for p in (self.options.mimic_cxr, self.options.mimic_cxr_jpg) if p]
        inputs = [f for s in sources for f in (*s.glob("*.csv*"), *s.glob("*.zip"))]
        metadata = {
            "dataset": "MIMIC-CXR",
            "sectioner_version": SECTIONER_VERSION,
            "mimic_code_sectioner_version": MIMIC_CODE_SECTIONER_VERSION,
            "source": ", ".join(str(s.resolve()) for s in sources),
            "source_fingerprint": files_fingerprint(inputs),
            "build_time": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        target = self.root / MIMIC_CXR / METADATA_JSON
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(metadata, indent=2) + "\n")

    def write_settings(self) -> None:
        if self.options.link_window_hours is None:
            return
        derived = self.root / DERIVED
        derived.mkdir(parents=True, exist_ok=True)
        chosen = {"link_window_hours": self.options.link_window_hours}
        (derived / METADATA_JSON).write_text(json.dumps(chosen, indent=2) + "\n")


def _note_plain_csv(summary: StageSummary, files: list[str]) -> None:
    """Name the files read as plain .csv: PhysioNet ships .csv.gz, so these are worth a word."""
    plain = [Path(file).name for file in files if file.endswith(".csv")]
    if plain:
        summary.notes.append(f"read {', '.join(plain)} (not gzipped)")


def _report_problems(
    source: ReportSource,
    reports: pl.DataFrame,
    study_list: pl.DataFrame | None,
    options: BuildOptions,
) -> list[Reject]:
    """Kept-with-a-note rejects read off the tables: replaced bytes, empty reports,
    reports missing from the study list and study-list rows with no report."""
    replaced = reports.filter(pl.col("n_replaced") > 0).select("path", "n_replaced")
    problems = [
        Reject(source.where(path), None, f"{n} undecodable byte sequence(s) replaced", REPLACED)
        for path, n in replaced.iter_rows()
    ]
    problems += [
        Reject(source.where(path), None, "empty report", KEPT)
        for path in reports.filter(pl.col("empty"))["path"]
    ]
    if study_list is None:
        return problems
    assert options.mimic_cxr is not None
    listed = str(cxr_lists.list_file(options.mimic_cxr, cxr_lists.STUDY_LIST))
    problems += [
        Reject(source.where(path), None, "no row in the study list", KEPT)
        for path in reports.join(study_list, on="study_id", how="anti")["path"]
    ]
    missing = study_list.join(reports, on="study_id", how="anti")
    problems += [
        Reject(listed, line, f"no report file for study {study}", KEPT)
        for line, study in missing.select(LINE, "study_id").iter_rows()
    ]
    return problems


def recorded_settings(options: BuildOptions) -> dict[str, object]:
    """What build.json keeps for the next build: sources as absolute paths, the tables,
    the options that shape the warehouse (not jobs, wait or progress)."""
    settings: dict[str, object] = {}
    for name in REMEMBERED:
        value = getattr(options, name)
        if isinstance(value, Path):
            value = str(value.resolve())
        elif isinstance(value, tuple):
            value = list(value)
        settings[name] = value
    return settings


def _catalog_print(stages: list[Stage], options: BuildOptions) -> str:
    templates = sorted(SQL_DIR.glob("*/*.sql"))
    return text_fingerprint(
        CODE_VERSION,
        options.link_window_hours,
        files_fingerprint(templates),
        *(s.fingerprint for s in stages),
    )


def run_build(options: BuildOptions) -> BuildReport:
    """Bring the warehouse up to date; returns the summaries and the exit code.

    Raises BuildFailed when the build stopped before publishing (not for bad input:
    that is a failed stage and exit code 3).
    """
    with owner_only():  # the warehouse holds credentialed data: owner only
        warehouse = options.warehouse
        warehouse.mkdir(parents=True, exist_ok=True)
        warehouse.chmod(0o700)
        with build_lock(warehouse, options.wait):
            return _build_locked(options)


def _build_locked(options: BuildOptions) -> BuildReport:
    warehouse = options.warehouse
    try:
        repaired = reconcile(warehouse)
        remove_leftovers(warehouse)
        record = read_build_record(warehouse)
        published = record.get("generation")
        if published:
            prune_generations(warehouse, published)
    except Exception as error:
        raise BuildFailed("recovery of the last build", error, None, warehouse) from error
    done = record.get("fingerprints", {})
    build = _Build(options, data_root(warehouse, record) if record else None)
    stages = build.plan()
    refuse_losses(build.losses)
    catalog_print = _catalog_print(stages, options)
    changed = {s.name for s in stages if done.get(s.name) != s.fingerprint}
    if not changed and done.get("catalog") == catalog_print and (warehouse / CATALOG).exists():
        summaries = [StageSummary(name, ran=False) for name in [s.name for s in stages]]
        notes = [f"recovered: {repaired}"] if repaired else []
        return BuildReport([*summaries, StageSummary("catalog", ran=False)], EXIT_OK, None, notes)
    step = "start of a new generation"
    scratch = None
    try:
        build.root = start_generation(warehouse, published)
        fault_point("generation-started")
        fingerprints = dict(done)
        summaries = []
        for stage in stages:
            step = stage.name
            summaries.append(_run_stage(build, stage, stage.name in changed, fingerprints))
        step = "metadata"
        if any(s.ran and s.name in CXR_STAGES for s in summaries):
            build.write_cxr_metadata()
        build.write_settings()
        fault_point("stages-done")
        step = "catalog"
        catalog = StageSummary("catalog")
        started = time.monotonic()
        scratch, result = write_scratch_catalog(warehouse, build.root)
        catalog.rows["views"] = len(result.views)
        catalog.seconds = time.monotonic() - started
        summaries.append(catalog)
        fault_point("catalog-written")
        warnings = [f"recovered: {repaired}"] if repaired else []
        warnings += untimed_studies(scratch)
        warnings += [f"warning: {warning}" for s in summaries for warning in s.warnings]
        fingerprints["catalog"] = catalog_print
        failed = any(s.error for s in summaries)
        report = BuildReport(
            summaries, EXIT_BAD_INPUT if failed else EXIT_OK, build.root.name, warnings
        )
        step = "publish"
        publish(warehouse, scratch, _build_record(options, build, fingerprints, report))
    except BuildFailed:
        raise
    except Exception as error:
        raise BuildFailed(step, error, published, warehouse) from error
    finally:
        if scratch is not None:
            remove_scratch_catalog(scratch)  # gone already once published
    _prune(warehouse, report)
    return report


def _build_record(
    options: BuildOptions, build: _Build, fingerprints: dict[str, str], report: BuildReport
) -> dict:
    return {
        "generation": build.root.name,
        "cxr_sql_version": __version__,
        "sectioner_version": SECTIONER_VERSION,
        "mimic_code_sectioner_version": MIMIC_CODE_SECTIONER_VERSION,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": {
            name: str(value) if value else None
            for name, value in asdict(options).items()
            if name.startswith("mimic")
        },
        "settings": recorded_settings(options),
        "fingerprints": fingerprints,
        "stages": [asdict(s) for s in report.stages],
        "warnings": report.warnings,
        "exit_code": report.exit_code,
    }


def untimed_studies(catalog: Path) -> list[str]:
    """The warning about studies with no time, read from a written catalog."""
    with duckdb.connect(str(catalog), read_only=True) as con:
        warning = untimed_warning(con)
    return [warning] if warning else []


def _prune(warehouse: Path, report: BuildReport) -> None:
    """Drop old generations; published already, so a failure here is only a warning."""
    assert report.published is not None
    try:
        prune_generations(warehouse, report.published)
    except OSError as error:
        report.warnings.append(f"old generations not removed: {describe(error)}")


def _run_stage(
    build: _Build, stage: Stage, changed: bool, fingerprints: dict[str, str]
) -> StageSummary:
    """Run one stage if its inputs changed; record its fingerprint if it succeeded."""
    summary = StageSummary(stage.name, ran=changed)
    if not changed:
        return summary
    started = time.monotonic()
    try:
        fault_point(f"stage:{stage.name}")
        rejects = stage.work(summary)
    except SourceError as error:
        if "No space left on device" in str(error):  # DuckDB's write error, not bad input
            raise
        summary.error = str(error)
        rejects = []
    else:
        fingerprints[stage.name] = stage.fingerprint
        if stage.name in CXR_STAGES:
            build.write_rejects(stage.name, rejects)
    summary.seconds = time.monotonic() - started
    summary.rejects = len(rejects)
    return summary
