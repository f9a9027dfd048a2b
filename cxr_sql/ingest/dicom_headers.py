"""DICOM headers: one typed row per MIMIC-CXR image, read without its pixel data.

Reading. Each file is parsed by pydicom up to its Pixel Data element and no
further: of a 7 MB image, a few KiB are read. A .dcm.gz is decompressed as a stream, only as
far as the header goes. Values longer than 64 KiB before the pixels (overlays,
look-up tables) are skipped, not read. The pixel element's length is checked
against the file size (for a .dcm.gz, against the size in the gzip trailer),
which finds files cut inside their pixel data without reading it; a .dcm.gz cut
there is not found (that would take decompressing all of it).

Bad input never stops the build: a file that yields no header (not DICOM, a
corrupt gzip, cut inside the file meta) gives a reject (dropped); a file that
yields a header gives a row, with NULL for each value missing or unparseable and
a reject (kept) saying why.

Resuming. Rows carry the path, size, mtime, ctime and inode of their file (a file
replaced with its mtime kept, cp -p, still has a new ctime). A rerun keeps the
rows whose file is unchanged, drops those of files that changed or went away
(rewriting the parts that held them) and reads only the rest. A file that gave
no header keeps a row too, flagged `rejected` and hidden by the views, so that it
is not read again and its reject is still reported. Parts are written under a
temporary name and renamed, so an interrupted run loses at most the batches in
flight.

Processes. Batches of paths are read by jobs - 1 spawned processes and by the
calling one, each writing its own Parquet part; only paths and counts cross
process boundaries. Small runs are read in the calling process alone: starting
interpreters would cost more than reading.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import multiprocessing
import os
import re
import struct
import time
import warnings
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_partial
from pydicom.uid import DeflatedExplicitVRLittleEndian
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

from cxr_sql.ingest.dicom_values import (
    ATTRIBUTES,
    CODE,
    DATE,
    DATETIME,
    DEFER_BYTES,
    INTEGER,
    NUMBERS,
    PIXEL_TAGS,
    STRING_COLUMNS,
    STRINGS,
    TEXT,
    TIME,
    TRANSFER_SYNTAX_UID,
    Decoder,
    Elements,
    acquisition_datetime,
    elements_json,
    elements_of,
    keyword_tags,
    read_attributes,
    top_level_strings,
)
from cxr_sql.ingest.problems import DROPPED, KEPT, Reject
from cxr_sql.lifetime import die_with_parent
from cxr_sql.mimic_ids import DICOM_ID_RE
from cxr_sql.progress import Progress

TABLE = "dicom_metadata"
DICOM_FORMAT = "cxr-sql-dicom/2"  # change when rows change: parts of another format are reread
FORMAT_KEY = b"cxr_sql_dicom"
STRINGS_KEY = "cxr_sql_dicom_strings"  # the keywords of header_strings in a part, with tags
RECOGNISED_TAGS = (0x00080016, 0x00080018, 0x0020000D, 0x00080060)  # SOP class/instance, ...
MAX_BATCH = 2000  # files per Parquet part
MIN_BATCH = 50
MIN_FILES_FOR_PROCESSES = 2000  # fewer are read here: a worker takes ~0.45 s to start
PROGRESS_EVERY = 100
SUFFIXES = (".dcm", ".dcm.gz")
IMAGE_PATH_RE = re.compile(
    rf"files/(p\d\d)/(p(1\d{{7}}))/s(5\d{{7}})/({DICOM_ID_RE.pattern})\.dcm(?:\.gz)?"
)

_ARROW = {
    TEXT: pa.string(),
    CODE: pa.string(),
    DATE: pa.date32(),
    TIME: pa.time64("us"),
    DATETIME: pa.timestamp("us"),
    INTEGER: pa.int32(),
    STRINGS: pa.list_(pa.string()),
    NUMBERS: pa.list_(pa.float64()),
}
TEXT_FIELDS = [name for name, _ in ATTRIBUTES] + ["TransferSyntaxUID"]
PROBLEM = pa.struct([("reason", pa.string()), ("action", pa.string())])
SCHEMA = pa.schema(
    [
        ("dicom_id", pa.string()),
        ("subject_id", pa.int32()),
        ("study_id", pa.int32()),
        ("path", pa.string()),
        *[(name, _ARROW[kind]) for name, kind in ATTRIBUTES],
        ("acquisition_datetime", pa.timestamp("us")),
        ("acquisition_datetime_source", pa.string()),
        ("transfer_syntax_uid", pa.string()),
        ("file_size", pa.int64()),
        ("gzipped", pa.bool_()),
        ("header_bytes", pa.int64()),
        ("header_text", pa.struct([(name, pa.string()) for name in TEXT_FIELDS])),
        ("header_strings", pa.map_(pa.string(), pa.string())),  # keyword -> text, every one
        ("tags", pa.string()),
        ("file_mtime_ns", pa.int64()),
        ("file_ctime_ns", pa.int64()),
        ("file_inode", pa.int64()),
        ("rejected", pa.bool_()),
        ("problems", pa.list_(PROBLEM)),
    ]
)

# path inside the MIMIC-CXR folder, size, mtime and ctime in ns, inode: what tells that a
# file changed, also when replaced with its mtime kept (cp -p): the ctime cannot be set back
Entry = tuple[str, int, int, int, int]
IDENTITY = ("path", "file_size", "file_mtime_ns", "file_ctime_ns", "file_inode")
Opener = Callable[[Path], BinaryIO]


@dataclass
class DicomResult:
    n_images: int  # rows now in dicom_metadata
    n_read: int  # files read this run
    n_reused: int  # files skipped because already read (same path, size, mtime, ctime, inode)
    rejects: list[Reject]


# ---------------------------------------------------------------- one file


@dataclass
class _Header:
    meta: Elements  # the file meta (group 0002), empty when there is none
    elements: Elements  # the dataset, up to the pixel data
    pixel_offset: int | None  # where the Pixel Data element starts, in the DICOM stream
    pixel_end: int | None  # where its value ends, if its length is defined
    bare: bool = False  # no preamble and file meta: read as a bare dataset


def _open(path: Path) -> BinaryIO:
    return open(str(path), "rb")  # a str name, which GzipFile and pydicom expect


def _parse(stream: BinaryIO) -> _Header:
    """The header of one DICOM stream, up to the pixel data; raises when there is none."""
    seen: list[tuple[str | None, int]] = []

    def at_pixels(tag: int, vr: str | None, length: int) -> bool:
        if tag in PIXEL_TAGS:
            seen.append((vr, length))
            return True
        return False

    bare = False
    try:
        ds = read_partial(stream, stop_when=at_pixels, defer_size=DEFER_BYTES)
    except InvalidDicomError:
        stream.seek(0)
        bare = True
        ds = read_partial(stream, stop_when=at_pixels, defer_size=DEFER_BYTES, force=True)
        if not any(tag in ds for tag in RECOGNISED_TAGS):
            raise InvalidDicomError("no DICM prefix and no recognisable data elements") from None
    if len(ds) == 0:
        raise InvalidDicomError("no data elements (the file ends inside the file meta?)")
    meta = elements_of(ds.file_meta) if getattr(ds, "file_meta", None) is not None else {}
    syntax = ds.file_meta.get("TransferSyntaxUID") if meta else None
    if not seen or syntax == DeflatedExplicitVRLittleEndian:
        # deflated: pydicom inflated the rest into a buffer of its own, offsets unknown
        return _Header(meta, elements_of(ds), None, None, bare)
    offset = stream.tell()
    vr, length = seen[0]
    element_header = 12 if vr in EXPLICIT_VR_LENGTH_32 else 8
    end = None if length == 0xFFFFFFFF else offset + element_header + length
    return _Header(meta, elements_of(ds), offset, end, bare)


def _gzip_size(raw: BinaryIO) -> int:
    """The uncompressed size modulo 2**32, from the gzip trailer (no decompression)."""
    raw.seek(-4, os.SEEK_END)
    return struct.unpack("<I", raw.read(4))[0]


def parse_image_path(path: str) -> tuple[int, int, str] | None:
    """(subject_id, study_id, dicom_id) of files/pNN/p<subject>/s<study>/<dicom_id>.dcm[.gz]."""
    match = IMAGE_PATH_RE.fullmatch(path)
    if match is None or match.group(1) != match.group(2)[:3]:
        return None
    return int(match.group(3)), int(match.group(4)), match.group(5)


def dicom_id_of(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name.removesuffix(".gz").removesuffix(".dcm")


def read_image(root: Path, entry: Entry, all_tags: bool, opener: Opener = _open) -> dict:
    """One row of dicom_metadata for the file at root/entry[0]; never raises."""
    path, size, mtime_ns, ctime_ns, inode = entry
    gzipped = path.endswith(".gz")
    ids = parse_image_path(path)
    row: dict = {
        "dicom_id": ids[2] if ids else dicom_id_of(path),
        "subject_id": ids[0] if ids else None,
        "study_id": ids[1] if ids else None,
        "path": path,
        "file_size": size,
        "gzipped": gzipped,
        "file_mtime_ns": mtime_ns,
        "file_ctime_ns": ctime_ns,
        "file_inode": inode,
        "rejected": False,
    }
    problems: list[dict] = []
    if ids is None:
        problems.append(_problem("path is not files/pNN/p<subject_id>/s<study_id>/<dicom_id>.dcm"))
    if size == 0:
        return row | {"rejected": True, "problems": [*problems, _problem("empty file", DROPPED)]}
    try:
        with opener(root / path) as raw:
            if gzipped:
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    header = _parse(stream)
                data_size = _gzip_size(raw)
            else:
                header = _parse(raw)
                data_size = size
        filled = row | {"problems": list(problems)}
        _fill(filled, header, data_size, gzipped, all_tags, filled["problems"])
    except Exception as error:  # one bad file is a reject, never the end of the build
        unreadable = _problem(_unreadable(error, gzipped), DROPPED)
        return row | {"rejected": True, "problems": [*problems, unreadable]}
    return filled


def _unreadable(error: Exception, gzipped: bool) -> str:
    if isinstance(error, InvalidDicomError):
        return f"not a DICOM file: {error}"
    if gzipped and isinstance(error, gzip.BadGzipFile | EOFError | zlib.error):
        return f"corrupt gzip: {error}"
    return f"unreadable DICOM header: {type(error).__name__}: {error}"


def _problem(reason: str, action: str = KEPT) -> dict:
    return {"reason": reason, "action": action}


def _fill(
    row: dict, header: _Header, data_size: int, gzipped: bool, all_tags: bool, problems: list
) -> None:
    elements = header.elements
    decoder = Decoder.for_elements(elements)
    strings, unreadable_sequences = top_level_strings(elements, decoder)
    typed, text, found = read_attributes(elements, decoder, strings)
    syntax = decoder.text(header.meta.get(TRANSFER_SYNTAX_UID)) or ""
    text["TransferSyntaxUID"] = syntax or None
    row.update(typed)
    row["acquisition_datetime"], row["acquisition_datetime_source"] = acquisition_datetime(typed)
    row["transfer_syntax_uid"] = syntax or None
    row["header_bytes"] = header.pixel_offset
    row["header_text"] = text
    row["header_strings"] = list(strings.items())
    problems += [_problem(p) for p in found + unreadable_sequences]
    if header.bare:
        problems.append(_problem("no preamble and file meta: read as a bare dataset"))
    for name in ("StudyDate", "StudyTime"):
        if not text.get(name):
            problems.append(_problem(f"no {name}"))
    if header.pixel_offset is None and syntax != DeflatedExplicitVRLittleEndian:
        problems.append(_problem("no pixel data: the file ends inside the header (truncated?)"))
    elif header.pixel_end is not None:
        expected = header.pixel_end % 2**32 if gzipped else header.pixel_end
        if data_size < expected:
            where = "the gzip trailer gives" if gzipped else "the file has"
            problems.append(
                _problem(f"truncated: pixel data ends at byte {expected} but {where} {data_size}")
            )
    patient = text.get("PatientID")
    if row["subject_id"] is not None and patient and patient != str(row["subject_id"]):
        reason = f"PatientID {patient!r} is not the subject_id of the path, {row['subject_id']}"
        problems.append(_problem(reason))
    if all_tags:
        unreadable: list[str] = []
        tags = elements_json(elements, decoder, unreadable)
        problems += [_problem(p) for p in unreadable]
        row["tags"] = json.dumps(tags, ensure_ascii=False, default=str)


# ------------------------------------------------------------- one batch

_counter = None  # shared count of files read, set in each worker


def _init_worker(counter, parent_pid: int) -> None:
    global _counter
    die_with_parent(parent_pid)
    _counter = counter


def read_batch(root: Path, entries: list[Entry], folder: Path, name: str, all_tags: bool) -> int:
    """Read a batch of files into one Parquet part, folder/name; returns rows written."""
    columns: dict[str, list] = {field: [] for field in SCHEMA.names}
    pending = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns on odd values; problems say it
        for entry in entries:
            row = read_image(root, entry, all_tags)
            for field, values in columns.items():
                values.append(row.get(field))
            pending += 1
            if pending == PROGRESS_EVERY and _counter is not None:
                with _counter.get_lock():
                    _counter.value += pending
                pending = 0
    if _counter is not None:
        with _counter.get_lock():
            _counter.value += pending
    table = pa.table(columns, schema=_schema(all_tags))
    _write_part(table, folder / name)
    return table.num_rows


def _schema(all_tags: bool) -> pa.Schema:
    stamp = json.dumps({"format": DICOM_FORMAT, "all_tags": all_tags})
    return SCHEMA.with_metadata({FORMAT_KEY: stamp.encode()})


def _write_part(table: pa.Table, path: Path) -> None:
    """Write under a hidden name, then rename: a part is whole or absent.

    The part's metadata names the keywords of its header_strings (and those every
    dicom_metadata_string has), with their tags: the catalog makes them columns."""
    keywords = set(STRING_COLUMNS)
    for chunk in table.column("header_strings").chunks:
        keywords.update(k for k in pc.unique(chunk.keys).to_pylist() if k is not None)
    metadata = {**(table.schema.metadata or {}), STRINGS_KEY: json.dumps(keyword_tags(keywords))}
    table = table.replace_schema_metadata(metadata)
    scratch = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, scratch, compression="zstd", compression_level=3)
    os.replace(scratch, path)


# ------------------------------------------------------------- listing


def _has_suffix(name: str) -> bool:
    return name.endswith(SUFFIXES)


def _walk(folder: Path) -> Iterator[os.DirEntry]:
    """Every .dcm and .dcm.gz file under folder, depth first, in name order."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.is_dir():
            yield from _walk(Path(entry.path))
        elif _has_suffix(entry.name) and entry.is_file():
            yield entry


def has_images(mimic_cxr: Path) -> bool:
    """True when mimic_cxr/files holds any .dcm or .dcm.gz (stops at the first)."""
    return next(_walk(mimic_cxr / "files"), None) is not None


def _entry(path: str, stat: os.stat_result) -> Entry:
    return (path, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def images_fingerprint(mimic_cxr: Path) -> str:
    """A hash of the path, size, mtime, ctime and inode of every image under
    mimic_cxr/files: what decides whether a build must run this stage (one stat per
    image, nothing read)."""
    digest = hashlib.sha256(DICOM_FORMAT.encode())
    inside = len(os.fspath(mimic_cxr)) + 1  # paths inside the folder: it may move
    for item in _walk(mimic_cxr / "files"):
        line = "\t".join(str(field) for field in _entry(item.path[inside:], item.stat()))
        digest.update(f"{line}\n".encode())
    return digest.hexdigest()[:16]


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def list_images(
    mimic_cxr: Path, record_list: pl.DataFrame | None
) -> tuple[list[Entry], list[Reject]]:
    """The image files to have rows for, with size and mtime, and what is wrong with the list."""
    entries: list[Entry] = []
    rejects: list[Reject] = []
    if record_list is None:
        found: dict[str, Entry] = {}
        for item in _walk(mimic_cxr / "files"):
            path = Path(item.path).relative_to(mimic_cxr).as_posix()
            found[path] = _entry(path, item.stat())
        for path, entry in found.items():
            if path.endswith(".gz") and path[:-3] in found:
                reason = f"the same image as {path[:-3].rsplit('/', 1)[-1]}, which was read instead"
                rejects.append(Reject(str(mimic_cxr / path), None, reason, DROPPED))
            else:
                entries.append(entry)
        return entries, rejects
    seen: set[str] = set()
    columns = record_list.select("subject_id", "study_id", "dicom_id", "path").iter_rows()
    for subject_id, study_id, dicom_id, listed in columns:
        if not listed:
            rejects.append(Reject(str(mimic_cxr), None, f"no path for {dicom_id}", DROPPED))
            continue
        if listed in seen:
            rejects.append(Reject(str(mimic_cxr / listed), None, "listed twice", DROPPED))
            continue
        seen.add(listed)
        path, stat = listed, _stat(mimic_cxr / listed)
        if stat is None:  # listed .dcm, gzipped beside it; or listed .dcm.gz, gunzipped
            other = listed.removesuffix(".gz") if listed.endswith(".gz") else f"{listed}.gz"
            path, stat = other, _stat(mimic_cxr / other)
        if stat is None:
            rejects.append(Reject(str(mimic_cxr / listed), None, "image file not found", DROPPED))
            continue
        entries.append(_entry(path, stat))
        if parse_image_path(path) != (subject_id, study_id, dicom_id):
            reason = f"the record list gives subject {subject_id}, study {study_id}, {dicom_id}"
            rejects.append(Reject(str(mimic_cxr / path), None, reason, KEPT))
    return entries, rejects


# ------------------------------------------------------------- resuming


def _part_format(part: Path) -> dict:
    try:
        metadata = pq.read_schema(part).metadata or {}
        return json.loads(metadata.get(FORMAT_KEY, b"{}"))
    except (OSError, ValueError, pa.ArrowInvalid):
        return {}


def _reuse(folder: Path, entries: list[Entry], all_tags: bool) -> tuple[list[Entry], int]:
    """Keep the rows of unchanged files, drop the others; returns the entries to read.

    Parts of another format or mode are deleted whole; a part that lost some rows
    is rewritten without them.
    """
    for scratch in folder.glob(".*.tmp"):
        scratch.unlink()
    wanted = {"format": DICOM_FORMAT, "all_tags": all_tags}
    frames = []
    for part in sorted(folder.glob("*.parquet")):
        if _part_format(part) != wanted:
            part.unlink()
            continue
        table = pq.read_table(part, columns=list(IDENTITY))
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        frames.append(frame.with_columns(part=pl.lit(part.name)))
    if not frames:
        return entries, 0
    existing = pl.concat(frames)
    current = pl.DataFrame(
        entries,
        schema={name: pl.String if name == "path" else pl.Int64 for name in IDENTITY},
        orient="row",
    )
    keep = existing.join(current, on=list(IDENTITY), how="semi").unique(
        "path", keep="first", maintain_order=True
    )
    kept_by_part = keep.group_by("part").agg("path")
    kept = dict(zip(kept_by_part["part"], kept_by_part["path"].to_list(), strict=True))
    for part, n_rows in existing.group_by("part").len().iter_rows():
        paths = kept.get(part, [])
        if not paths:
            (folder / part).unlink()
        elif len(paths) < n_rows:
            table = pq.read_table(folder / part)
            mask = pc.is_in(table["path"], value_set=pa.array(paths, pa.string()))
            _write_part(table.filter(mask), folder / part)
    done = set(keep["path"])
    return [entry for entry in entries if entry[0] not in done], keep.height


def _collect(mimic_cxr: Path, folder: Path) -> tuple[int, list[Reject]]:
    """Rows in the table, and the rejects recorded in them."""
    parts = sorted(folder.glob("*.parquet"))
    if not parts:
        return 0, []
    table = pq.read_table(parts, columns=["path", "rejected", "problems"])
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    n_images = frame.filter(~pl.col("rejected")).height
    problems = (
        frame.filter(pl.col("problems").list.len() > 0)
        .explode("problems")
        .unnest("problems")
        .sort("path", maintain_order=True)
    )
    rejects = [
        Reject(str(mimic_cxr / path), None, reason, action)
        for path, reason, action in problems.select("path", "reason", "action").iter_rows()
    ]
    return n_images, rejects


# ------------------------------------------------------------- the builder


def _batches(entries: list[Entry], jobs: int) -> list[list[Entry]]:
    size = max(MIN_BATCH, min(MAX_BATCH, math.ceil(len(entries) / (4 * max(jobs, 1)))))
    ordered = sorted(entries)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def build_dicom_metadata(
    mimic_cxr: Path,
    out: Path,
    jobs: int,
    *,
    record_list: pl.DataFrame | None = None,
    all_tags: bool = False,
    show_progress: bool = True,
) -> DicomResult:
    """Read the header of every image into out/dicom_metadata, rereading only changed files.

    The images are those of `record_list` (its .dcm path, else the same path with
    .gz), or with no record list every .dcm and .dcm.gz under mimic_cxr/files.
    """
    folder = out / TABLE
    folder.mkdir(parents=True, exist_ok=True)
    entries, rejects = list_images(mimic_cxr, record_list)
    to_read, n_reused = _reuse(folder, entries, all_tags)
    run = f"part-{time.time_ns():x}"
    tasks = deque(
        (batch, f"{run}-{i:05d}.parquet") for i, batch in enumerate(_batches(to_read, jobs))
    )
    progress = Progress("dicom", len(to_read), enabled=show_progress)
    if jobs <= 1 or len(to_read) < MIN_FILES_FOR_PROCESSES:
        done = 0
        for batch, name in tasks:
            read_batch(mimic_cxr, batch, folder, name, all_tags)
            done += len(batch)
            progress.update(done)
    else:
        _read_in_processes(mimic_cxr, tasks, folder, all_tags, jobs, progress)
    progress.finish()
    n_images, recorded = _collect(mimic_cxr, folder)
    return DicomResult(n_images, len(to_read), n_reused, rejects + recorded)


def _read_in_processes(
    root: Path,
    tasks: deque[tuple[list[Entry], str]],
    folder: Path,
    all_tags: bool,
    jobs: int,
    progress: Progress,
) -> None:
    """Read the batches in jobs - 1 spawned processes and in this one.

    This process reads a batch whenever each worker has another queued, instead of
    waiting: one interpreter fewer to start (its imports cost about 0.4 s), which
    counts on two cores and a few thousand files.
    """
    context = multiprocessing.get_context("spawn")
    counter = context.Value("q", 0)
    workers, done_here = jobs - 1, 0
    in_flight: set[Future] = set()
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(counter, os.getpid()),
    ) as pool:
        while tasks or in_flight:
            while tasks and len(in_flight) < 2 * workers:
                batch, name = tasks.popleft()
                in_flight.add(pool.submit(read_batch, root, batch, folder, name, all_tags))
            if tasks:
                batch, name = tasks.pop()
                read_batch(root, batch, folder, name, all_tags)
                done_here += len(batch)
            else:
                wait(in_flight, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in [f for f in in_flight if f.done()]:
                future.result()  # a worker's exception (not a bad file: those are rows) stops here
                in_flight.remove(future)
            progress.update(counter.value + done_here)
