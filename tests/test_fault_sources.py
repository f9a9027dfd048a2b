"""Fault injection on the sources: every damaged, swapped or misplaced source file is
noticed, stops its stage (exit 3) or is a reject, and never changes a published table.

Real warehouses are built from tiny synthetic sources with the real `cxr-sql`
command; counts are read back with the real DuckDB CLI. The damage is made
with Python's own gzip and zlib modules, which are also the oracle for which
damaged streams a gzip reader must refuse.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from cxr_sql.ingest.problems import SourceError
from cxr_sql.ingest.source_files import verify_gzip
from tests.helpers import duckdb_cli, run_cli

# source kind -> (file under the sources folder, published table, stage as the summary names it)
DAMAGED = {
    "cxr list": ("mimic-cxr/cxr-record-list.csv.gz", "mimic_cxr.record_list", "lists"),
    "jpg file": ("mimic-cxr-jpg/mimic-cxr-2.0.0-metadata.csv.gz", "mimic_cxr.metadata", "jpg"),
    "hosp table": ("mimiciv/hosp/admissions.csv.gz", "mimiciv_hosp.admissions", "hosp 3.1"),
    "ed table": ("mimiciv/ed/edstays.csv.gz", "mimiciv_ed.edstays", "ed 2.2"),
}
TABLES = [table for _, table, _ in DAMAGED.values()]


# -- damage, made with Python's own zlib ------------------------------------------------


def cut_at_line_boundary(data: bytes) -> bytes:
    """A gzip of the file's first half of lines, flushed so that the stream decodes to
    exactly those lines, then cut there: no trailer, nothing half-written."""
    lines = data.splitlines(keepends=True)
    packer = zlib.compressobj(wbits=31)
    head = packer.compress(b"".join(lines[: len(lines) // 2])) + packer.flush(zlib.Z_FULL_FLUSH)
    assert zlib.decompressobj(wbits=31).decompress(head) == b"".join(lines[: len(lines) // 2])
    return head


def flip(blob: bytes, at: int, n: int = 1) -> bytes:
    damaged = bytearray(blob)
    for i in range(at, at + n):
        damaged[i] ^= 0x5A
    return bytes(damaged)


DAMAGE: dict[str, Callable[[bytes, bytes], bytes]] = {  # (compressed, content) -> damaged
    "cut at a third": lambda packed, _: packed[: len(packed) // 3],
    "cut at a line boundary": lambda _, content: cut_at_line_boundary(content),
    "64 bytes flipped mid-file": lambda packed, _: flip(packed, len(packed) // 2, 64),
    "bad CRC": lambda packed, _: flip(packed, len(packed) - 6),
    "bad length": lambda packed, _: flip(packed, len(packed) - 2),
}


def counts(warehouse: Path) -> dict[str, int]:
    """Row counts of the published tables, read by the real DuckDB CLI."""
    sql = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in TABLES)
    return dict(published(warehouse, sql))


def build(sources: Path, warehouse: Path, *extra: str, cwd: Path | None = None):
    done = run_cli(
        "build",
        "--warehouse",
        str(warehouse),
        "--mimic-cxr",
        str(sources / "mimic-cxr"),
        "--mimic-cxr-jpg",
        str(sources / "mimic-cxr-jpg"),
        "--mimiciv",
        str(sources / "mimiciv"),
        *extra,
        cwd=cwd,
    )
    assert "Traceback" not in done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def built(tiny_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A writable copy of the tiny sources (no DICOMs), its warehouse, its counts."""
    root = tmp_path_factory.mktemp("faults")
    sources = root / "sources"
    for name in ("mimic-cxr", "mimic-cxr-jpg", "mimiciv"):
        shutil.copytree(tiny_sources / name, sources / name, ignore=shutil.ignore_patterns("*.dcm"))
    warehouse = root / "warehouse"
    assert build(sources, warehouse).returncode == 0
    return sources, warehouse, counts(warehouse)


def pristine(path: Path) -> Path:
    """The file as generated, kept aside the first time a test changes it."""
    kept = path.with_name(f".{path.name}.pristine")
    if not kept.exists():
        shutil.copy2(path, kept)
    return kept


def replace(path: Path, data: bytes | None) -> None:
    """A new file (a new inode, as an editor or a download writes it), or none."""
    pristine(path)
    path.unlink(missing_ok=True)
    if data is not None:
        path.write_bytes(data)


def restore(sources: Path) -> None:
    """Every changed file back as it was generated; no plain .csv beside it."""
    for kept in sources.rglob(".*.pristine"):
        target = kept.with_name(kept.name[1:].removesuffix(".pristine"))
        target.with_suffix("").unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        shutil.copy2(kept, target)


# -- the gzip check itself, against Python's gzip as the oracle -------------------------


def test_every_damaged_gzip_python_refuses_is_refused(tmp_path: Path) -> None:
    content = b"".join(b"%d,1%07d,5%07d,text\n" % (i, i, i) for i in range(20_000))
    packed = gzip.compress(content)
    cases = {f"cut at {n}": packed[:n] for n in range(1, len(packed), len(packed) // 40)}
    cases |= {f"cut {n} from the end": packed[:-n] for n in range(1, 9)}
    cases |= {f"flip at {n}": flip(packed, n) for n in range(10, len(packed), len(packed) // 40)}
    cases |= {f"{name}": make(packed, content) for name, make in DAMAGE.items()}
    cases |= {"trailing garbage": packed + b"garbage", "empty": b"", "not gzip": content}
    refused = 0
    for name, blob in cases.items():
        path = tmp_path / "t.csv.gz"
        path.write_bytes(blob)
        try:
            gzip.decompress(blob)
            python_refuses = not blob
        except (EOFError, OSError, zlib.error):
            python_refuses = True
        if python_refuses:
            with pytest.raises(SourceError, match=r"t\.csv\.gz") as error:
                verify_gzip(path)
            assert "gzip" in error.value.reason, name
            refused += 1
        else:
            verify_gzip(path)
    assert refused > 90


def test_multi_member_and_zero_padded_gzips_are_complete(tmp_path: Path) -> None:
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n") + gzip.compress(b"3,4\n") + b"\0" * 16)
    verify_gzip(path)


# -- damaged sources in real builds ----------------------------------------------------


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_gzip_stops_its_stage_and_keeps_the_published_tables(built, damage) -> None:
    """The four kinds at once, each stage stopping on its own file with its own line."""
    sources, warehouse, before = built
    for file, _, _ in DAMAGED.values():
        packed = pristine(sources / file).read_bytes()
        replace(sources / file, DAMAGE[damage](packed, gzip.decompress(packed)))
    done = build(sources, warehouse)
    assert done.returncode == 3, done.stdout
    for file, _, stage in DAMAGED.values():
        (line,) = [line for line in done.stdout.splitlines() if line.startswith(f"{stage} ")]
        assert f"FAILED: {sources / file}: not a complete gzip file" in line, line
    assert counts(warehouse) == before


def test_plain_csv_is_read_and_named_and_both_at_once_is_an_error(built) -> None:
    sources, warehouse, before = built
    restore(sources)
    for file, _, _ in DAMAGED.values():
        content = gzip.decompress(pristine(sources / file).read_bytes())
        (sources / file).with_suffix("").write_bytes(content)
    done = build(sources, warehouse)
    assert done.returncode == 3
    for file, _, stage in DAMAGED.values():
        (line,) = [line for line in done.stdout.splitlines() if line.startswith(f"{stage} ")]
        plain = Path(file).with_suffix("").name
        assert f"{sources / file}: {plain} is there too" in line, line
    assert counts(warehouse) == before
    for file, _, _ in DAMAGED.values():
        replace(sources / file, None)
    done = build(sources, warehouse)
    assert done.returncode == 0, done.stdout
    for file, _, stage in DAMAGED.values():
        (line,) = [line for line in done.stdout.splitlines() if line.startswith(f"{stage} ")]
        assert f"read {Path(file).with_suffix('').name}" in line and "(not gzipped)" in line
    assert counts(warehouse) == before


def published(warehouse: Path, sql: str) -> list[tuple]:
    done = subprocess.run(
        [duckdb_cli(), "-readonly", "-json", str(warehouse / "mimic.duckdb"), "-c", sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return [tuple(row.values()) for row in json.loads(done.stdout or "[]")]


def report_rejects(warehouse: Path) -> list[tuple]:
    return published(
        warehouse, "SELECT file, reason, action FROM mimic_cxr._rejects WHERE stage = 'reports'"
    )


def test_reports_rewritten_in_place_or_made_safe_again_are_read_again(built) -> None:
    sources, warehouse, _ = built
    restore(sources)
    assert build(sources, warehouse).returncode == 0
    reports = sorted((sources / "mimic-cxr/files").glob("p*/p*/s*.txt"))
    edited, piped, linked = reports[0], reports[1], reports[2]
    n_reports = published(warehouse, "SELECT count(*) FROM mimic_cxr.reports")[0][0]
    # 1. rewritten in place, mtime put back (as cp -p or touch -r would): the folder's
    # mtime and the file's size and mtime are all as they were
    folder_mtime, stat = edited.parent.stat().st_mtime_ns, edited.stat()
    text = edited.read_bytes()
    edited.write_bytes(text.replace(b"FINDINGS", b"FINDINGZ", 1))
    os.utime(edited, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert edited.parent.stat().st_mtime_ns == folder_mtime and b"FINDINGS" in text
    # 2. a FIFO named like a report (opening it would block), 3. a symlink leaving the root
    piped_text = piped.read_bytes()
    piped.unlink()
    os.mkfifo(piped)
    outside = sources.parent / "outside.txt"
    outside.write_bytes(b" FINDINGS: not a MIMIC-CXR report.\n")
    linked_text = linked.read_bytes()
    linked.unlink()
    linked.symlink_to(outside)
    done = run_cli_with_timeout(sources, warehouse)
    assert done.returncode == 0, done.stdout
    study = int(edited.stem[1:])
    (new_text,) = published(
        warehouse, f"SELECT text FROM mimic_cxr.reports WHERE study_id = {study}"
    )
    assert "FINDINGZ" in new_text[0]
    found = {file: (reason, action) for file, reason, action in report_rejects(warehouse)}
    assert found[str(piped)] == ("not a regular file (a FIFO, device or socket)", "dropped")
    assert found[str(linked)][0].startswith(f"symlink to {outside.resolve()}, outside")
    assert published(warehouse, "SELECT count(*) FROM mimic_cxr.reports")[0][0] == n_reports - 2
    # fixed: both files back as regular files, with their old mtimes
    piped.unlink()
    piped.write_bytes(piped_text)
    linked.unlink()
    linked.write_bytes(linked_text)
    done = build(sources, warehouse)
    assert done.returncode == 0, done.stdout
    assert report_rejects(warehouse) == []
    assert published(warehouse, "SELECT count(*) FROM mimic_cxr.reports")[0][0] == n_reports


def run_cli_with_timeout(sources: Path, warehouse: Path) -> subprocess.CompletedProcess:
    """The build, which must finish (a FIFO opened by mistake would block it forever)."""
    argv = [str(Path(duckdb_cli()).parent / "cxr-sql"), "build", "--warehouse", str(warehouse)]
    for flag in ("mimic-cxr", "mimic-cxr-jpg", "mimiciv"):
        argv += [f"--{flag}", str(sources / flag)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert "Traceback" not in done.stdout + done.stderr
    return done


def test_special_files_bom_and_quotes_in_csv_sources(built) -> None:
    """A FIFO as a MIMIC-IV table, a BOM on a CXR list and an ED table, an unterminated
    quote in a JPG file: exit 3 naming file and line for the quote and the FIFO, the BOM
    read as if absent."""
    sources, warehouse, before = built
    restore(sources)
    for file in ("mimic-cxr/cxr-study-list.csv.gz", "mimiciv/ed/edstays.csv.gz"):
        content = gzip.decompress((sources / file).read_bytes())
        replace(sources / file, gzip.compress(b"\xef\xbb\xbf" + content))
    transfers = sources / "mimiciv/hosp/transfers.csv.gz"
    replace(transfers, None)
    os.mkfifo(transfers)
    metadata = sources / "mimic-cxr-jpg/mimic-cxr-2.0.0-metadata.csv.gz"
    lines = gzip.decompress(metadata.read_bytes()).split(b"\n")
    lines[5] = lines[5].replace(b",", b',"', 1)
    replace(metadata, gzip.compress(b"\n".join(lines)))
    done = run_cli_with_timeout(sources, warehouse)
    assert done.returncode == 3, done.stdout
    out = done.stdout
    assert f"FAILED: {transfers}: not a regular file" in out
    assert f"FAILED: {metadata}:6: unterminated quote" in out
    assert "\\ufeff" not in out and "lists     study_list" in out and "ed 2.2    edstays" in out
    assert counts(warehouse) == before
    restore(sources)


def test_record_list_paths_are_validated_before_any_file_is_looked_at(built) -> None:
    """A listed path outside the tree that exists must not make the build look for images
    (before: the DICOM stage ran and failed with "no .dcm images")."""
    sources, warehouse, _ = built
    restore(sources)
    outside = sources.parent / "elsewhere.dcm"
    outside.write_bytes(b"not looked at")
    record_list = sources / "mimic-cxr/cxr-record-list.csv.gz"
    lines = gzip.decompress(record_list.read_bytes()).decode().splitlines()
    subject, study, dicom, _ = lines[1].split(",")
    lines.insert(1, f"{subject},{study},{dicom.replace('a', 'b')},{outside}")
    replace(record_list, gzip.compress(("\n".join(lines) + "\n").encode()))
    done = build(sources, warehouse)
    assert done.returncode == 0, done.stdout
    assert "dicom" not in done.stdout
    (reason,) = published(
        warehouse, "SELECT reason FROM mimic_cxr._rejects WHERE stage = 'lists' AND line = 2"
    )
    assert reason[0].startswith(f"path {outside} does not agree with the IDs")
    restore(sources)


def test_the_same_sources_spelled_otherwise_are_the_same_build(built, tmp_path: Path) -> None:
    sources, warehouse, _ = built
    restore(sources)
    assert build(sources, warehouse).returncode == 0
    via_link = tmp_path / "link"
    via_link.symlink_to(sources)
    for spelled, cwd in ((Path(sources.name), sources.parent), (via_link, None)):
        done = build(spelled, warehouse, cwd=cwd)
        assert done.returncode == 0 and "nothing to do" in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("flag", "given", "hint"),
    [
        ("--mimiciv", "mimiciv/hosp", "{s}/mimiciv/hosp holds the hosp module's CSV files: "
         "give its parent, {s}/mimiciv"),
        ("--mimiciv", ".", "{s}/mimiciv holds them: give --mimiciv {s}/mimiciv"),
        ("--mimic-cxr", "mimic-cxr/files", "its parent holds them: give {s}/mimic-cxr"),
        ("--mimic-cxr-jpg", ".", "{s}/mimic-cxr-jpg holds them: give --mimic-cxr-jpg"),
    ],
)  # fmt: skip
def test_a_source_folder_at_the_wrong_level_is_a_usage_error(built, flag, given, hint) -> None:
    sources, warehouse, before = built
    done = run_cli("build", "--warehouse", str(warehouse), flag, str(sources / given))
    assert done.returncode == 2
    assert hint.format(s=sources) in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and counts(warehouse) == before
