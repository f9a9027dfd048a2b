"""Reports: read every report file, section it, write `reports` and `report_sections`.

Work is split by pNN group across processes: each process lists the groups
itself (for a zip, listing means parsing the central directory, which would
otherwise be done once more in the parent) and takes every n-th. Each group
becomes one Parquet part of each table, written by the process that read it, so
report text never crosses a process boundary. Parts are sorted by path: the
tree and the zip give identical files, whatever the number of processes.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cxr_sql.ingest.problems import KEPT, REPLACED, Reject
from cxr_sql.ingest.report_sources import ReportFile, ReportSource, list_groups, read_group
from cxr_sql.ingest.sections import SECTIONER_VERSION, section_report
from cxr_sql.progress import Progress

REPORTS_SCHEMA = pa.schema(
    [
        ("subject_id", pa.int32()),
        ("study_id", pa.int32()),
        ("path", pa.string()),
        ("text", pa.string()),
        ("n_bytes", pa.int32()),
        ("n_sections", pa.int16()),
        ("has_addendum", pa.bool_()),
        ("empty", pa.bool_()),
        ("n_replaced", pa.int32()),
    ],
    metadata={"sectioner_version": SECTIONER_VERSION},
)
SECTIONS_SCHEMA = pa.schema(
    [
        ("subject_id", pa.int32()),
        ("study_id", pa.int32()),
        ("ordinal", pa.int16()),
        ("header", pa.string()),
        ("section", pa.string()),
        ("text", pa.string()),
        ("char_start", pa.int32()),
        ("char_end", pa.int32()),
        ("in_addendum", pa.bool_()),
    ],
    metadata={"sectioner_version": SECTIONER_VERSION},
)
PROGRESS_EVERY = 2000  # reports between updates of the shared counter


@dataclass
class GroupResult:
    group: str
    n_reports: int = 0
    n_sections: int = 0
    rejects: list[Reject] = field(default_factory=list)


def decode(data: bytes) -> tuple[str, int]:
    """UTF-8 text and the number of undecodable byte sequences replaced by U+FFFD."""
    try:
        return data.decode("utf-8"), 0
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        return text, text.count("\ufffd")


class _Columns:
    """Column lists of one group's two tables."""

    def __init__(self) -> None:
        self.reports: dict[str, list] = {name: [] for name in REPORTS_SCHEMA.names}
        self.sections: dict[str, list] = {name: [] for name in SECTIONS_SCHEMA.names}

    def add(self, report: ReportFile, text: str, n_replaced: int) -> int:
        sections = section_report(text)
        r = self.reports
        r["subject_id"].append(report.subject_id)
        r["study_id"].append(report.study_id)
        r["path"].append(report.path)
        r["text"].append(text)
        r["n_bytes"].append(len(report.data))
        r["n_sections"].append(len(sections))
        r["has_addendum"].append(any(s.in_addendum for s in sections))
        r["empty"].append(not text.strip())
        r["n_replaced"].append(n_replaced)
        s = self.sections
        for section in sections:
            s["subject_id"].append(report.subject_id)
            s["study_id"].append(report.study_id)
            s["ordinal"].append(section.ordinal)
            s["header"].append(section.header)
            s["section"].append(section.name)
            s["text"].append(text[section.char_start : section.char_end])
            s["char_start"].append(section.char_start)
            s["char_end"].append(section.char_end)
            s["in_addendum"].append(section.in_addendum)
        return len(sections)


_counter = None  # shared count of reports read, set in each worker


def _init_worker(counter) -> None:
    global _counter
    _counter = counter


def section_group(source: ReportSource, group: str, out: Path) -> GroupResult:
    """Read, decode and section one group; write its part of both tables."""
    result = GroupResult(group)
    columns = _Columns()
    pending = 0
    for item in read_group(source, group):
        if isinstance(item, Reject):
            result.rejects.append(item)
            continue
        text, n_replaced = decode(item.data)
        where = f"{source.label}/{item.path[len('files/') :]}"
        if n_replaced:
            reason = f"{n_replaced} undecodable byte sequence(s) replaced by U+FFFD"
            result.rejects.append(Reject(where, None, reason, REPLACED))
        if not text.strip():
            result.rejects.append(Reject(where, None, "empty report", KEPT))
        result.n_sections += columns.add(item, text, n_replaced)
        result.n_reports += 1
        pending += 1
        if pending == PROGRESS_EVERY and _counter is not None:
            with _counter.get_lock():
                _counter.value += pending
            pending = 0
    if _counter is not None:
        with _counter.get_lock():
            _counter.value += pending
    _write(columns.reports, REPORTS_SCHEMA, out / "reports" / f"{group}.parquet")
    _write(columns.sections, SECTIONS_SCHEMA, out / "report_sections" / f"{group}.parquet")
    return result


def _write(columns: dict[str, list], schema: pa.Schema, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(columns, schema=schema)
    pq.write_table(table, path, compression="zstd", compression_level=1)


def section_shard(source: ReportSource, shard: int, n_shards: int, out: Path) -> list[GroupResult]:
    """Every n_shards-th group, from the shard-th; shard 0 also reports stray entries."""
    groups, stray = list_groups(source)
    results = [section_group(source, group, out) for group in groups[shard::n_shards]]
    if shard == 0:
        results.append(GroupResult("(outside the groups)", rejects=stray))
    return results


@dataclass
class ReportsResult:
    n_reports: int
    n_sections: int
    rejects: list[Reject]


def build_reports(
    source: ReportSource, out: Path, jobs: int, expected: int | None = None
) -> ReportsResult:
    """Section every report of the source into out/reports and out/report_sections."""
    for table in ("reports", "report_sections"):
        (out / table).mkdir(parents=True, exist_ok=True)
        for stale in (out / table).glob("*.parquet"):
            stale.unlink()
    context = multiprocessing.get_context("spawn")
    counter = context.Value("q", 0)
    progress = Progress("reports", expected)
    n_shards = max(1, jobs)
    with ProcessPoolExecutor(
        max_workers=n_shards, mp_context=context, initializer=_init_worker, initargs=(counter,)
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
        n_reports=sum(r.n_reports for r in results),
        n_sections=sum(r.n_sections for r in results),
        rejects=[reject for r in results for reject in r.rejects],
    )
