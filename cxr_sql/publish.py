"""Generations of a warehouse: build beside the live data, publish with one rename.

    <warehouse>/mimic.duckdb               the catalog readers open
    <warehouse>/build.json                 the published generation and what built it
    <warehouse>/parquet/g000007/...        the data of one generation
    <warehouse>/.build.lock                held by the build that is running

A build starts a new generation as hard links to the files of the current one
(no data is copied), rewrites only what changed (always into new files, never
into a linked one), then writes the catalog for it beside the old one and
renames it into place, and build.json after it. The previous generation is kept
until the next publish, so a reader that opened the old catalog keeps working
through one more build.

Publishing is one step whatever fails. Before it, the new catalog has been
checkpointed (no data left in a WAL), reopened and found to hold every view
(catalog.py), and the new build record has been written beside build.json as
`.build.next.json`. The rename of the catalog over `mimic.duckdb` is the commit
point; build.json is then replaced by the pending record. Both name the same
generation (the catalog in every schema's `_metadata`, build.json as
`generation`), so a kill between the two renames is seen by the next build or
open (recovery.py) and completed. Generation numbers are never reused: a new
one is numbered past every generation folder, published or left over.

CXR_SQL_FAULT=<action>:<point> (fault_point) is a test-only hook that kills,
stops or fails the build at one named step; tests/test_fault_publish.py uses it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BUILD_JSON = "build.json"
PENDING = ".build.next.json"  # the record of a build being published
CATALOG = "mimic.duckdb"
LOCK = ".build.lock"
PARQUET = "parquet"
KEEP = 2  # generations kept: the published one and the one before it
# Tables whose builder resumes: the parts a killed build finished are kept for the next.
RESUMABLE = ("mimic_cxr/dicom_metadata",)
FAULT_VARIABLE = "CXR_SQL_FAULT"
FAULT_ACTIONS = ("kill", "stop", "raise", "enospc")


class BuildBusy(Exception):
    """Another build holds the warehouse's lock."""


class InjectedFault(RuntimeError):
    """Raised at a fault point by CXR_SQL_FAULT=raise:<point> (tests only)."""


def fault_point(point: str) -> None:
    """Test-only hook: CXR_SQL_FAULT=<action>:<point> acts when the build reaches `point`.

    Actions: kill (SIGKILL this process), stop (SIGSTOP it, so that a test can fill
    the disk before it goes on with SIGCONT), raise (an exception), enospc (an
    OSError ENOSPC, where a test cannot mount a small tmpfs). Points:
    generation-started, stage:<name>, stages-done, catalog-written, record-written,
    catalog-renamed, published. Unset, this does nothing.
    """
    chosen = os.environ.get(FAULT_VARIABLE, "")
    action, _, where = chosen.partition(":")
    if where != point or action not in FAULT_ACTIONS:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
    elif action == "raise":
        raise InjectedFault(f"fault injected at {point}")
    else:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"(injected at {point})")


@contextmanager
def owner_only() -> Iterator[None]:
    """Files and folders created meanwhile are readable by their owner only (umask 077):
    the warehouse holds credentialed data, whoever writes into it (a build, a relink)."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


@contextmanager
def idle_lock(warehouse: Path) -> Iterator[bool]:
    """Hold the build lock if no build is running: yields whether it is held.

    For readers that repair a warehouse on open; a read-only warehouse yields False.
    """
    try:
        handle = os.fdopen(os.open(warehouse / LOCK, os.O_RDWR | os.O_CREAT, 0o600), "r+")
    except OSError:
        yield False
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True


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


def generation_folders(warehouse: Path) -> list[Path]:
    root = warehouse / PARQUET
    return sorted(p for p in root.glob("g[0-9]*") if p.is_dir()) if root.is_dir() else []


def _number(generation: str | None) -> int:
    return int(generation[1:]) if generation else 0


def start_generation(warehouse: Path, current: str | None) -> Path:
    """A new generation folder holding hard links to every file of the current one.

    It is numbered past every generation folder there is, published or left over,
    so a number is never used twice.
    Leftovers of killed builds (generations newer than the current one) go after the
    new folder exists, but for the parts of resumable tables, which the new generation
    keeps. Small non-Parquet files are copied, not linked, since builders rewrite them.
    """
    existing = generation_folders(warehouse)
    leftovers = [g for g in existing if current is None or g.name > current]
    number = max(_number(name) for name in [current, *(g.name for g in existing)]) + 1
    target = warehouse / PARQUET / f"g{number:06d}"
    target.mkdir(parents=True)
    salvage = warehouse / PARQUET / f".salvage-{os.getpid()}"
    for generation in leftovers:
        for table in RESUMABLE:
            for part in (generation / table).glob("*.parquet"):
                (salvage / table).mkdir(parents=True, exist_ok=True)
                os.replace(part, salvage / table / part.name)
        shutil.rmtree(generation)
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def scratch_catalog(warehouse: Path) -> Path:
    """Where this process writes a catalog before renaming it into place."""
    return warehouse / f".{CATALOG}.{os.getpid()}.tmp"


def remove_scratch_catalog(scratch: Path) -> None:
    scratch.unlink(missing_ok=True)
    Path(f"{scratch}.wal").unlink(missing_ok=True)


def remove_leftovers(warehouse: Path) -> list[Path]:
    """Scratch files of processes that died (catalogs and their WAL, build records),
    and salvage folders of dead builds; returns what was removed."""
    removed = []
    patterns = (f".{CATALOG}.*.tmp", f".{CATALOG}.*.tmp.wal", f".{BUILD_JSON}.*.tmp")
    for path in (p for pattern in patterns for p in warehouse.glob(pattern)):
        pid = path.name.removesuffix(".wal").removesuffix(".tmp").rpartition(".")[2]
        if not (pid.isdigit() and _pid_alive(int(pid))):
            path.unlink(missing_ok=True)
            removed.append(path)
    for folder in (warehouse / PARQUET).glob(".salvage-*"):
        pid = folder.name.removeprefix(".salvage-")
        if not (pid.isdigit() and _pid_alive(int(pid))):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _write_durably(path: Path, text: str) -> None:
    """Write a file and flush it to disk, so that a rename naming it survives a crash."""
    with open(path, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_pending_record(warehouse: Path) -> dict | None:
    """The record of a build that was being published (None if absent or half written)."""
    try:
        return json.loads((warehouse / PENDING).read_text())
    except (OSError, ValueError):
        return None


def complete_publish(warehouse: Path) -> None:
    """The second half of publishing: the pending record becomes build.json."""
    os.replace(warehouse / PENDING, warehouse / BUILD_JSON)
    _sync_folder(warehouse)


def publish(warehouse: Path, catalog: Path, record: dict) -> None:
    """Publish a generation: its checkpointed, verified catalog and its build record.

    The record is written first as `.build.next.json`; renaming the catalog over
    mimic.duckdb commits; the record then replaces build.json. A failure before the
    catalog rename leaves the published warehouse as it was (the pending record is
    removed); a kill after it is completed by the next build or open (recovery.py).
    """
    pending = warehouse / PENDING
    try:
        _write_durably(pending, json.dumps(record, indent=2) + "\n")
        fault_point("record-written")
        os.replace(catalog, warehouse / CATALOG)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    _sync_folder(warehouse)
    fault_point("catalog-renamed")
    complete_publish(warehouse)
    fault_point("published")


def prune_generations(warehouse: Path, published: str) -> None:
    """Drop generations older than the one before the published one."""
    kept = [g for g in generation_folders(warehouse) if g.name <= published]
    for generation in kept[:-KEEP]:
        shutil.rmtree(generation)
