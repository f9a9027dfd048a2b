"""Generations of a warehouse: build beside the live data, publish with one rename.

    <warehouse>/mimic.duckdb               the catalog readers open
    <warehouse>/build.json                 the published generation and what built it
    <warehouse>/parquet/g000007/...        the data of one generation
    <warehouse>/.build.lock                held by the build that is running

A build starts a new generation as hard links to the files of the current one
(no data is copied), rewrites only what changed (always into new files, never
into a linked one), then writes the catalog for it beside the old one and
renames it into place, and build.json after it. A killed build leaves the old
catalog and generation untouched; the next one deletes the leftover and starts
again. The previous generation is kept until the next publish, so a reader that
opened the old catalog keeps working through one more build.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BUILD_JSON = "build.json"
LOCK = ".build.lock"
PARQUET = "parquet"
KEEP = 2  # generations kept: the published one and the one before it
# Tables whose builder resumes: the parts a killed build finished are kept for the next.
RESUMABLE = ("mimic_cxr/dicom_metadata",)


class BuildBusy(Exception):
    """Another build holds the warehouse's lock."""


@contextmanager
def build_lock(warehouse: Path, wait: bool) -> Iterator[None]:
    """Hold the warehouse's build lock; refuse at once (or wait) if another build has it.

    An flock is released by the kernel when its process dies, so a killed build
    never leaves a stale lock behind.
    """
    warehouse.mkdir(parents=True, exist_ok=True)
    with open(warehouse / LOCK, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise BuildBusy(
                f"{warehouse}: a build is already running ({holder}); "
                "wait for it, or use --wait to queue behind it"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()


def read_build_record(warehouse: Path) -> dict:
    path = warehouse / BUILD_JSON
    return json.loads(path.read_text()) if path.is_file() else {}


def data_root(warehouse: Path, record: dict | None = None) -> Path:
    """The published generation's Parquet folder (warehouse/parquet before generations)."""
    record = read_build_record(warehouse) if record is None else record
    generation = record.get("generation")
    return warehouse / PARQUET / generation if generation else warehouse / PARQUET


def _generations(warehouse: Path) -> list[Path]:
    root = warehouse / PARQUET
    return sorted(p for p in root.glob("g[0-9]*") if p.is_dir()) if root.is_dir() else []


def start_generation(warehouse: Path, current: str | None) -> Path:
    """A new generation folder holding hard links to every file of the current one.

    Leftovers of killed builds (generations newer than the current one) go, but for
    the parts of resumable tables, which the new generation keeps. Small non-Parquet
    files are copied, not linked, since builders rewrite them.
    """
    leftovers = [g for g in _generations(warehouse) if current is None or g.name > current]
    number = int(current[1:]) + 1 if current else 1
    target = warehouse / PARQUET / f"g{number:06d}"
    salvage = warehouse / PARQUET / f".salvage-{os.getpid()}"
    for generation in leftovers:
        for table in RESUMABLE:
            for part in (generation / table).glob("*.parquet"):
                (salvage / table).mkdir(parents=True, exist_ok=True)
                os.replace(part, salvage / table / part.name)
        shutil.rmtree(generation)
    target.mkdir(parents=True)
    if current:
        source = warehouse / PARQUET / current
        for folder, _, files in os.walk(source):
            destination = target / Path(folder).relative_to(source)
            destination.mkdir(exist_ok=True)
            for name in files:
                if name.endswith(".parquet"):
                    os.link(Path(folder) / name, destination / name)
                else:
                    shutil.copy2(Path(folder) / name, destination / name)
    for table in RESUMABLE:
        for part in (salvage / table).glob("*.parquet"):
            (target / table).mkdir(parents=True, exist_ok=True)
            if not (target / table / part.name).exists():
                os.replace(part, target / table / part.name)
    shutil.rmtree(salvage, ignore_errors=True)
    return target


def write_atomically(path: Path, text: str) -> None:
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    scratch.write_text(text)
    os.replace(scratch, path)


def finish_publish(warehouse: Path, record: dict) -> None:
    """Record the published generation; drop generations older than the previous one."""
    write_atomically(warehouse / BUILD_JSON, json.dumps(record, indent=2) + "\n")
    generations = _generations(warehouse)
    keep = {g.name for g in generations if g.name <= record["generation"]}
    for generation in sorted(keep)[:-KEEP]:
        shutil.rmtree(warehouse / PARQUET / generation)
