"""Fault injection on the publish side: a full disk at each write, a kill at each publish
step, an exception in a stage, SIGKILL of the build while its workers run, a failed
relink. Each test builds a real warehouse, breaks a real rebuild of it, and checks the
exit code, the one-line message, the rows the real DuckDB CLI reads from the published
catalog before and after, and that the next build recovers and leaves no leftover.

Where the faults come from:
- a full disk is real: the warehouse lives on a small tmpfs the test mounts (root, as
  here and in CI). The build is stopped at a step (CXR_SQL_FAULT=stop:<point>), the
  tmpfs filled to its last byte, and the build continued, so the next write meets the
  kernel's ENOSPC. Where no tmpfs can be mounted (not root), the same tests run with
  an OSError(ENOSPC) raised at that step instead (CXR_SQL_FAULT=enospc:<point>);
- kills are real SIGKILLs, sent by the build to itself at a named step
  (CXR_SQL_FAULT=kill:<point>, publish.fault_point), or by the test while workers run.
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from cxr_sql.build import BuildOptions, run_build
from cxr_sql.catalog import write_scratch_catalog
from cxr_sql.publish import start_generation
from cxr_sql.warehouse import relink
from tests.helpers import VENV_BIN, cli_value, run_cli

SPLIT = "mimic-cxr-2.0.0-split.csv.gz"
ROWS = (
    "SELECT (SELECT count(*) FROM mimic_cxr.split) || ' ' || "
    "(SELECT count(*) FROM mimiciv_hosp.admissions)"
)
GENERATION = "SELECT value FROM mimic_cxr._metadata WHERE attribute = 'generation'"
PUBLISHED_FILES = {".build.lock", "build.json", "mimic.duckdb", "parquet"}
DROPPED_ROWS = 10


# -- helpers -------------------------------------------------------------------------------


def build_args(sources: Path, warehouse: Path, *more: str) -> list[str]:
    return [
        "build", "--warehouse", str(warehouse), "--mimic-cxr-jpg", str(sources / "mimic-cxr-jpg"),
        "--mimiciv", str(sources / "mimiciv"), "--quiet", *more,
    ]  # fmt: skip


def start(
    args: list[str], fault: str | None = None, output: int = subprocess.PIPE
) -> subprocess.Popen:
    env = {**os.environ}
    env.pop("CXR_SQL_FAULT", None)
    if fault:
        env["CXR_SQL_FAULT"] = fault
    return subprocess.Popen(
        [str(VENV_BIN / "cxr-sql"), *args], stdout=output, stderr=output, text=True, env=env
    )


def drop_split_rows(sources: Path) -> None:
    """A source change the next build must publish: the split file loses rows."""
    path = sources / "mimic-cxr-jpg" / SPLIT
    lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
    path.write_bytes(gzip.compress("".join(lines[:-DROPPED_ROWS]).encode()))


def generation(warehouse: Path) -> str:
    return json.loads((warehouse / "build.json").read_text())["generation"]


def assert_one_line(stderr: str, *words: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for word in words:
        assert word in lines[0], lines[0]


def assert_recovered(warehouse: Path, sources: Path, rows: str, seen: set[str]) -> None:
    """The next build succeeds, publishes `rows` under a generation number never used
    before, with catalog and build.json agreeing, and leaves nothing else behind."""
    report = run_build(options(sources, warehouse))
    assert report.exit_code == 0, [s.line() for s in report.stages]
    assert cli_value(warehouse, ROWS) == rows
    published = generation(warehouse)
    assert cli_value(warehouse, GENERATION) == published
    assert published in seen or published > max(seen)  # kept (after a commit) or new
    assert {p.name for p in warehouse.iterdir()} == PUBLISHED_FILES
    folders = sorted(p.name for p in (warehouse / "parquet").iterdir())
    assert folders[-1] == published and len(folders) <= 2, folders
    for folder, dirs, files in os.walk(warehouse):
        assert not [f for f in files if f.endswith(".wal") or f.endswith(".tmp")]
        for name in dirs:
            assert (Path(folder) / name).stat().st_mode & 0o077 == 0
        for name in files:
            assert (Path(folder) / name).stat().st_mode & 0o077 == 0, name


def options(sources: Path, warehouse: Path) -> BuildOptions:
    """The options of build_args, for builds run in this process."""
    return BuildOptions(
        warehouse,
        mimic_cxr_jpg=sources / "mimic-cxr-jpg",
        mimiciv=sources / "mimiciv",
        show_progress=False,
    )


@pytest.fixture(scope="module")
def built(tiny_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse of the tiny sources' JPG files and MIMIC-IV, built once."""
    warehouse = tmp_path_factory.mktemp("published") / "warehouse"
    assert run_build(options(tiny_sources, warehouse)).exit_code == 0
    return warehouse


@pytest.fixture
def setup(built: Path, tiny_sources: Path, tmp_path: Path) -> tuple[Path, Path, str, str]:
    """A copy of the sources and of the built warehouse (relinked to where it is now), the
    rows published now and the rows a rebuild after a source change will publish."""
    sources = tmp_path / "sources"
    shutil.copytree(tiny_sources / "mimic-cxr-jpg", sources / "mimic-cxr-jpg")
    shutil.copytree(tiny_sources / "mimiciv", sources / "mimiciv")
    warehouse = copy_warehouse(built, tmp_path / "warehouse")
    before = cli_value(warehouse, ROWS)
    drop_split_rows(sources)
    split, admissions = before.split()
    return sources, warehouse, before, f"{int(split) - DROPPED_ROWS} {admissions}"


def copy_warehouse(built: Path, target: Path) -> Path:
    shutil.copytree(built, target, symlinks=True)
    assert relink(target)
    return target


# -- kills at each publish step ------------------------------------------------------------

BEFORE_COMMIT = ("generation-started", "stages-done", "catalog-written", "record-written")
AFTER_COMMIT = ("catalog-renamed", "published")


@pytest.mark.parametrize("point", BEFORE_COMMIT + AFTER_COMMIT)
def test_a_kill_at_any_publish_step_leaves_one_consistent_warehouse(
    setup: tuple[Path, Path, str, str], point: str
) -> None:
    sources, warehouse, before, after = setup
    old = generation(warehouse)
    process = start(build_args(sources, warehouse), fault=f"kill:{point}")
    process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL
    seen = {p.name for p in (warehouse / "parquet").iterdir() if p.name.startswith("g")}
    committed = point in AFTER_COMMIT
    # readers see the old warehouse, or the new one whole: never a mixture
    assert cli_value(warehouse, ROWS) == (after if committed else before)
    if point == "catalog-renamed":  # build.json still names the old generation ...
        assert generation(warehouse) == old != cli_value(warehouse, GENERATION)
        check = run_cli("check", "--warehouse", str(warehouse))  # ... until the next open
        assert check.returncode == 0, check.stderr
        assert generation(warehouse) == cli_value(warehouse, GENERATION)
    assert_recovered(warehouse, sources, after, seen)


# -- an exception in a stage ---------------------------------------------------------------


def test_an_exception_in_a_stage_publishes_nothing(setup: tuple[Path, Path, str, str]) -> None:
    sources, warehouse, before, after = setup
    old = generation(warehouse)
    process = start(build_args(sources, warehouse), fault="raise:stage:jpg")
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert_one_line(stderr, "build failed in jpg", "InjectedFault", f"({old}) is unchanged")
    log = Path(stderr.rsplit("details in ", 1)[1].rstrip(")\n"))
    assert "Traceback" in log.read_text() and log.stat().st_mode & 0o077 == 0
    assert cli_value(warehouse, ROWS) == before and generation(warehouse) == old
    seen = {p.name for p in (warehouse / "parquet").iterdir()}
    assert_recovered(warehouse, sources, after, seen)


# -- a full disk at each write -------------------------------------------------------------


def _can_mount_tmpfs(folder: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m,mode=700", "tmpfs", str(folder)],
        capture_output=True, check=False,
    )  # fmt: skip
    return done.returncode == 0


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path | None]:
    """A 24 MB tmpfs (None where none can be mounted)."""
    folder = tmp_path / "disk"
    mounted = _can_mount_tmpfs(folder)
    yield folder if mounted else None
    if mounted:
        subprocess.run(["umount", str(folder)], check=True)


def fill(folder: Path) -> Path:
    """Fill the file system of `folder` to its last byte; returns the filler file."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    handle.write(b"\0" * size)
            except OSError as error:
                assert error.errno == errno.ENOSPC
    return filler


def wait_stopped(process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    raise AssertionError("the build never reached its fault point")


# write -> (the step the build is stopped at before it, what a real ENOSPC names,
#           the step an injected ENOSPC is raised at, what that names)
WRITES = {
    "parquet": ("generation-started", "build failed in jpg", "stage:jpg", "build failed in jpg"),
    "catalog": ("stages-done", "build failed in catalog", "stages-done", "build failed in"),
    "build.json": ("catalog-written", "build failed in publish", "record-written",
                   "build failed in publish"),
}  # fmt: skip


@pytest.mark.parametrize("write", WRITES)
def test_a_full_disk_at_any_write_publishes_nothing(
    setup: tuple[Path, Path, str, str], disk: Path | None, write: str
) -> None:
    sources, warehouse, before, after = setup
    if disk is not None:
        warehouse = copy_warehouse(warehouse, disk / "warehouse")
    old = generation(warehouse)
    stop_at, named, inject_at, injected_name = WRITES[write]
    if disk is None:
        process = start(build_args(sources, warehouse), fault=f"enospc:{inject_at}")
        named = injected_name
    else:
        process = start(build_args(sources, warehouse), fault=f"stop:{stop_at}")
        wait_stopped(process)
        filler = fill(disk)
        process.send_signal(signal.SIGCONT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert_one_line(stderr, named, "disk full", f"({old}) is unchanged")
    assert cli_value(warehouse, ROWS) == before and generation(warehouse) == old
    seen = {p.name for p in (warehouse / "parquet").iterdir()}
    if disk is not None:
        # a second build on the full disk fails the same way and still changes nothing
        again = run_cli(*build_args(sources, warehouse))
        assert again.returncode == 1 and "disk full" in again.stderr
        assert cli_value(warehouse, ROWS) == before
        seen |= {p.name for p in (warehouse / "parquet").iterdir()}
        filler.unlink()
    assert_recovered(warehouse, sources, after, seen)


def test_a_relink_on_a_full_disk_fails_cleanly(
    setup: tuple[Path, Path, str, str], disk: Path | None
) -> None:
    if disk is None:
        pytest.skip("needs a tmpfs: run as root")
    _, warehouse, before, _ = setup
    warehouse = copy_warehouse(warehouse, disk / "warehouse")
    moved = disk / "moved"
    warehouse.rename(moved)
    catalog = (moved / "mimic.duckdb").read_bytes()
    filler = fill(disk)
    done = run_cli("relink", "--warehouse", str(moved))
    assert done.returncode == 1
    assert_one_line(done.stderr, "relink", "disk full")
    assert (moved / "mimic.duckdb").read_bytes() == catalog  # the old catalog, untouched
    assert {p.name for p in moved.iterdir()} == PUBLISHED_FILES  # no scratch, no .wal
    filler.unlink()
    assert run_cli("relink", "--warehouse", str(moved)).returncode == 0
    assert cli_value(moved, ROWS) == before


# -- SIGKILL of the build while its workers run --------------------------------------------


def children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status is left


def test_workers_die_with_a_killed_build(tiny_sources: Path, tmp_path: Path) -> None:
    """The reports stage runs in worker processes; SIGKILL of the build ends them too
    (the DICOM stage's workers start the same way, lifetime.die_with_parent)."""
    warehouse = tmp_path / "warehouse"
    args = ["build", "--warehouse", str(warehouse), "--mimic-cxr",
            str(tiny_sources / "mimic-cxr"), "--dicom", "no", "--jobs", "2", "--quiet"]  # fmt: skip
    process = start(args, output=subprocess.DEVNULL)  # orphans would hold a pipe open
    workers: set[int] = set()
    deadline = time.monotonic() + 120
    while len(workers) < 2 and time.monotonic() < deadline and process.poll() is None:
        workers = children(process.pid)
        time.sleep(0.01)
    assert len(workers) >= 2, "the build ended before its workers started"
    time.sleep(0.3)  # let them start working
    workers |= children(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(5)
    survivors = [pid for pid in workers if alive(pid)]
    for pid in survivors:  # not left behind when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not survivors
    assert not (warehouse / "mimic.duckdb").exists()  # nothing was published
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    assert cli_value(warehouse, "SELECT count(*) FROM mimic_cxr.reports") == "42"
    assert {p.name for p in warehouse.iterdir()} == PUBLISHED_FILES
    # built without JPG metadata or DICOM headers: no study has a time, and both say so
    untimed = "42 of 42 studies have no time"
    assert untimed in done.stderr and "--mimic-cxr-jpg" in done.stderr
    check = run_cli("check", "--warehouse", str(warehouse))
    assert untimed in check.stdout and "--dicom" in check.stdout


def test_every_schema_has_a_rejects_view(built: Path) -> None:
    """Empty where nothing was rejected (MIMIC-IV here), so a query of it never fails."""
    schemas = cli_value(built, "SELECT string_agg(DISTINCT schema_name, ' ') FROM duckdb_tables() "
                  "WHERE table_name = '_metadata'").split()  # fmt: skip
    assert {"mimic_cxr", "mimiciv_hosp", "mimiciv_3_1_icu", "mimic_cxr_derived"} <= set(schemas)
    for schema in schemas:
        assert cli_value(built, f"SELECT count(*) FROM {schema}._rejects") == "0", schema


def test_a_view_that_fails_over_produced_data_stops_the_catalog(
    setup: tuple[Path, Path, str, str],
) -> None:
    """A view that cannot be created over the data the build produced (here the split's
    Parquet lost a column) is an error, not a catalog quietly without the view; the
    published catalog stays as it was and no scratch file is left."""
    _, warehouse, before, _ = setup
    root = start_generation(warehouse, generation(warehouse))  # as a build does
    part = root / "mimic_cxr" / "split" / "part-0.parquet"
    damaged = pq.read_table(part).drop_columns(["split"])
    part.unlink()  # a hard link to the published file: never written through
    pq.write_table(damaged, part)
    catalog = (warehouse / "mimic.duckdb").read_bytes()
    with pytest.raises(duckdb.BinderException, match='"split" not found'):
        write_scratch_catalog(warehouse, root)
    assert (warehouse / "mimic.duckdb").read_bytes() == catalog
    assert {p.name for p in warehouse.iterdir()} == PUBLISHED_FILES
    assert cli_value(warehouse, ROWS) == before
