"""Reports: read every report file, section it, write `reports` and `report_sections`.

Work is split by pNN group across processes: each process lists the groups
itself (for a zip, listing means parsing the central directory, which would
otherwise be done once more in the parent) and takes every n-th. Each group
becomes one Parquet part of each table, written by the process that read it, so
report text never crosses a process boundary. Parts are sorted by subject and
study: the tree and the zip give identical files, whatever the number of
processes.

Incremental: beside each part, `reports/_index/<group>.parquet` records every
file's key (see report_sources) and, for files that were not reports, why. A
rebuild reuses the rows of files whose key is unchanged and reads only the rest;
parts are always written as new files, never over the old ones, which may be
hard links into the previous generation of the warehouse.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cxr_sql.ingest.mimic_code_sections import (
    MIMIC_CODE_SECTIONER_VERSION,
    as_read,
    mimic_code_columns,
    study_rules,
)
from cxr_sql.ingest.problems import DROPPED, Reject
from cxr_sql.ingest.report_sources import (
    UNREADABLE_MEMBER,
    Entry,
    ReportSource,
    list_groups,
    parse_report_path,
    scan_group,
)
from cxr_sql.ingest.sections import SECTIONER_VERSION, section_rows
from cxr_sql.lifetime import die_with_parent
from cxr_sql.progress import Progress

# Parts written by another version of a sectioner are never reused.
VERSIONS = {
    "sectioner_version": SECTIONER_VERSION,
    "mimic_code_sectioner_version": MIMIC_CODE_SECTIONER_VERSION,
}
# Counts and offsets are 32-bit: no report is too long or has too many headers.
REPORTS_SCHEMA = pa.schema(
    [
        ("subject_id", pa.int32()),
        ("study_id", pa.int32()),
        ("path", pa.string()),
        ("text", pa.string()),
        ("n_bytes", pa.int32()),
        ("n_sections", pa.int32()),
        ("has_addendum", pa.bool_()),
        ("empty", pa.bool_()),
        ("n_replaced", pa.int32()),
    ],
    metadata=VERSIONS,
)
SECTIONS_SCHEMA = pa.schema(
    [
        ("subject_id", pa.int32()),
        ("study_id", pa.int32()),
        ("ordinal", pa.int32()),
        ("header", pa.string()),
        ("section", pa.string()),
        ("text", pa.string()),
        ("char_start", pa.int32()),
        ("char_end", pa.int32()),
        ("in_addendum", pa.bool_()),
        ("header_note", pa.string()),
    ],
    metadata=VERSIONS,
)
# What mimic-code's create_section_files.py gives each report (mimic_code_sections).
MIMIC_CODE_SCHEMA = pa.schema(
    [
        ("subject_id", pa.int32()),
        ("study_id", pa.int32()),
        ("impression", pa.string()),
        ("findings", pa.string()),
        ("last_paragraph", pa.string()),
        ("comparison", pa.string()),
        ("mimic_code_rule", pa.string()),  # a rule for this study id leaves it out
    ],
    metadata=VERSIONS,
)
INDEX_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("where", pa.string()),
        ("key", pa.string()),
        ("folder", pa.string()),
        ("reject", pa.string()),  # why the file is not in the tables; NULL for reports
    ],
    metadata=VERSIONS,
)
_index_row = itemgetter(*INDEX_SCHEMA.names)  # an index row as a tuple in schema order
INDEX = "_index"
PROGRESS_EVERY = 2000  # files between updates of the shared counter


@dataclass
class GroupResult:
    group: str
    n_read: int = 0
    n_reused: int = 0
    rejects: list[Reject] = field(default_factory=list)


def decode(data: bytes) -> tuple[str, int]:
    """UTF-8 text and the number of undecodable byte sequences replaced by U+FFFD."""
    try:
        return data.decode("utf-8"), 0
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        return text, text.count("\ufffd")


def _table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    """Rows (tuples in schema order) as a table, built column by column."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return _columns_table(columns, schema)


def _columns_table(columns: list, schema: pa.Schema) -> pa.Table:
    return pa.Table.from_arrays(
        [pa.array(column, type=f.type) for column, f in zip(columns, schema, strict=True)],
        schema=schema,
    )


class _NewRows:
    """Rows of the reports read in this run: reports and mimic-code's sections as tuples
    in schema order; sections as columns (a report's sections are appended column by
    column, their subject and study ids repeated once at the end), which is several
    times cheaper than a tuple per section transposed at the end."""

    def __init__(self) -> None:
        self.reports: list[tuple] = []
        self.mimic_code: list[tuple] = []
        self.section_columns: list[list] = [[] for _ in SECTIONS_SCHEMA.names[2:]]
        self.rules = study_rules()

    def add(self, subject_id: int, study_id: int, path: str, data: bytes) -> None:
        text, n_replaced = decode(data)
        sections = section_rows(text)
        in_addendum = False
        if sections:
            by_column = list(zip(*sections, strict=True))
            for column, values in zip(self.section_columns, by_column, strict=True):
                column += values
            in_addendum = True in by_column[6]
        self.reports.append(
            (
                subject_id,
                study_id,
                path,
                text,
                len(data),
                len(sections),
                in_addendum,
                not sections,
                n_replaced,
            )
        )
        self.mimic_code.append(
            (subject_id, study_id, *mimic_code_columns(as_read(text)), self.rules.get(study_id))
        )

    def sections_table(self) -> pa.Table:
        def column(index: int) -> np.ndarray:
            values = (r[index] for r in self.reports)
            return np.fromiter(values, dtype=np.int64, count=len(self.reports))

        counts = column(5)  # n_sections
        ids = [np.repeat(column(0), counts), np.repeat(column(1), counts)]
        return _columns_table([*ids, *self.section_columns], SECTIONS_SCHEMA)


_counter = None  # shared count of files done, set in each worker


def _init_worker(counter, parent_pid: int) -> None:
    global _counter
    die_with_parent(parent_pid)
    _counter = counter


def _count(n: int) -> None:
    if _counter is not None and n:
        with _counter.get_lock():
            _counter.value += n


def _read_parquet(path: Path, schema: pa.Schema) -> pa.Table:
    return pq.read_table(path, schema=schema) if path.exists() else schema.empty_table()


# Each group's parts: table folder -> schema; rows sorted by these columns.
TABLES = {
    "reports": REPORTS_SCHEMA,
    "report_sections": SECTIONS_SCHEMA,
    "sectioned_mimic_code": MIMIC_CODE_SCHEMA,
}
_ORDER = {
    "reports": ("subject_id", "study_id"),
    "report_sections": ("subject_id", "study_id", "ordinal"),
    "sectioned_mimic_code": ("subject_id", "study_id"),
}


def _same_versions(path: Path) -> bool:
    metadata = pq.read_schema(path).metadata or {}
    return all(metadata.get(k.encode()) == v.encode() for k, v in VERSIONS.items())


class _Previous:
    """What the last build knew of one group: its index and its rows (none when the
    last build sectioned with other versions of the sectioners: all is read again)."""

    def __init__(self, out: Path, group: str) -> None:
        index_path = out / "reports" / INDEX / f"{group}.parquet"
        self.paths = {table: out / table / f"{group}.parquet" for table in TABLES}
        reusable = index_path.exists() and _same_versions(index_path)
        self.index = (
            _read_parquet(index_path, INDEX_SCHEMA) if reusable else INDEX_SCHEMA.empty_table()
        )
        self.by_path = {row["path"]: row for row in self.index.to_pylist()}

    def reused_tables(self, paths: list[str]) -> dict[str, pa.Table]:
        """The previous rows of the reports at these paths, in every table."""
        if not paths:
            return {table: schema.empty_table() for table, schema in TABLES.items()}
        reports = _read_parquet(self.paths["reports"], REPORTS_SCHEMA)
        reports = reports.filter(pc.is_in(reports["path"], pa.array(paths)))
        reused = {"reports": reports}
        for table, schema in TABLES.items():
            if table != "reports":
                rows = _read_parquet(self.paths[table], schema)
                reused[table] = rows.filter(pc.is_in(rows["study_id"], reports["study_id"]))
        return reused


def section_group(source: ReportSource, group: str, out: Path) -> GroupResult:
    """Bring one group's parts up to date: reuse unchanged files, read the rest."""
    result = GroupResult(group)
    previous = _Previous(out, group)
    fresh = _NewRows()
    index: list[tuple] = []
    reused: list[str] = []
    pending = 0

    def note(row: dict) -> None:
        index.append(_index_row(row))
        if row["reject"] is not None:
            result.rejects.append(Reject(row["where"], None, row["reject"], DROPPED))
        elif row["path"] not in fresh_paths:
            reused.append(row["path"])

    fresh_paths: set[str] = set()
    for item in scan_group(source, group):
        if isinstance(item, str):
            result.rejects.append(Reject(item, None, "not a patient folder", DROPPED))
            continue
        known = previous.by_path.get(item.path)
        if known is not None and known["key"] == item.key:
            note(known | {"where": item.where})
            continue
        note(_read_entry(item, fresh, fresh_paths))
        result.n_read += 1
        pending += 1
        if pending == PROGRESS_EVERY:
            _count(pending)
            pending = 0
    _count(pending + len(reused))
    result.n_reused = len(reused)
    old = previous.reused_tables(reused)
    new = {
        "reports": _table(fresh.reports, REPORTS_SCHEMA),
        "report_sections": fresh.sections_table(),
        "sectioned_mimic_code": _table(fresh.mimic_code, MIMIC_CODE_SCHEMA),
    }
    for table, rows in new.items():
        if reused:  # fresh rows come in path order, which is subject and study order
            rows = pa.concat_tables([old[table], rows])
            rows = rows.sort_by([(column, "ascending") for column in _ORDER[table]])
        _replace(rows, previous.paths[table])
    _replace(_table(index, INDEX_SCHEMA), out / "reports" / INDEX / f"{group}.parquet")
    return result


def _read_entry(item: Entry, fresh: _NewRows, fresh_paths: set[str]) -> dict:
    """Read and section one file; its index row (with the reason if it is no report)."""
    row = {
        "path": item.path,
        "where": item.where,
        "key": item.key,
        "folder": item.folder,
        "reject": None,
    }
    ids = parse_report_path(item.path)
    if isinstance(ids, str):
        return row | {"reject": ids}
    if item.problem is not None:
        return row | {"reject": item.problem}
    try:
        data = item.load()
    except UNREADABLE_MEMBER as error:
        return row | {"reject": f"unreadable ({error})"}
    fresh.add(ids[0], ids[1], item.path, data)
    fresh_paths.add(item.path)
    return row


def _replace(table: pa.Table, path: Path) -> None:
    """Write a new file and rename it over the old one (which may be a hard link)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, scratch, compression="zstd", compression_level=1)
    os.replace(scratch, path)


def section_shard(source: ReportSource, shard: int, n_shards: int, out: Path) -> list[GroupResult]:
    """Every n_shards-th group, from the shard-th; shard 0 also reports stray entries."""
    groups, stray = list_groups(source)
    results = [section_group(source, group, out) for group in groups[shard::n_shards]]
    if shard == 0:
        rejects = [Reject(where, None, "not a pNN group folder", DROPPED) for where in stray]
        results.append(GroupResult("(outside the groups)", rejects=rejects))
        _drop_parts_of_lost_groups(out, set(groups))
    return results


def _drop_parts_of_lost_groups(out: Path, groups: set[str]) -> None:
    for folder in (*(out / table for table in TABLES), out / "reports" / INDEX):
        for part in folder.glob("*.parquet"):
            if part.stem not in groups:
                part.unlink()


@dataclass
class ReportsResult:
    n_read: int
    n_reused: int
    rejects: list[Reject]


def build_reports(
    source: ReportSource,
    out: Path,
    jobs: int,
    expected: int | None = None,
    show_progress: bool = True,
) -> ReportsResult:
    """Bring out/reports and out/report_sections up to date with the source."""
    context = multiprocessing.get_context("spawn")
    counter = context.Value("q", 0)
    progress = Progress("reports", expected, enabled=show_progress)
    n_shards = max(1, jobs)
    with ProcessPoolExecutor(
        max_workers=n_shards,
        mp_context=context,
        initializer=_init_worker,
        initargs=(counter, os.getpid()),
    ) as pool:
        futures = [
            pool.submit(section_shard, source, shard, n_shards, out) for shard in range(n_shards)
        ]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.2)
            progress.update(counter.value)
        results = [result for future in futures for result in future.result()]
    progress.finish()
    return ReportsResult(
        n_read=sum(r.n_read for r in results),
        n_reused=sum(r.n_reused for r in results),
        rejects=[reject for r in results for reject in r.rejects],
    )
