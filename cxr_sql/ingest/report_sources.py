"""Where report files come from: the `files/` tree or `mimic-cxr-reports.zip`.

Both are read in groups, one per `pNN` folder, so that processes can share the
work and each group becomes one Parquet part. A zip is read in place, member by
member; nothing is unpacked to disk.

Each file has a key that changes when it does: in the tree its identity (size,
mtime, ctime and inode, so that a report rewritten in place, restored with
`cp -p`, or made readable again is noticed), in the zip CRC and size. A rebuild
reads only files whose key changed. In the tree, a symlink leading out of the
MIMIC-CXR folder and anything that is not a regular file (a FIFO would block
the reader) is rejected, never opened.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cxr_sql.fingerprint import file_identity
from cxr_sql.ingest.problems import SourceError

REPORTS_ZIP = "mimic-cxr-reports.zip"
GROUP_RE = re.compile(r"p\d\d")
# files/pNN/p<subject>/s<study>.txt, captured loosely so that each fault gets its own reason
REPORT_PATH_RE = re.compile(r"files/(p[^/]*)/(p[^/]*)/([^/]*)")
REPORT_NAME_RE = re.compile(r"s(\d{8})\.txt")
SUBJECT_FOLDER_RE = re.compile(r"p(1\d{7})")


@dataclass(frozen=True)
class ReportSource:
    """A files/ tree (kind 'tree', location = the MIMIC-CXR folder) or a reports zip."""

    kind: str
    location: Path

    @property
    def label(self) -> str:
        return str(self.location / "files") if self.kind == "tree" else str(self.location)

    def where(self, path: str) -> str:
        """How a report is named in messages: its file, or zip!member."""
        if self.kind == "tree":
            return str(self.location / path)
        return f"{self.location}!{path}"


@dataclass(frozen=True)
class Entry:
    """One file of a group, before it is read."""

    path: str  # as in the study list: files/pNN/p<subject>/s<study>.txt (or what it was)
    where: str  # for messages
    key: str  # changes when the file does
    folder: str  # files/pNN/p<subject>
    load: Callable[[], bytes]
    problem: str | None = None  # why the file must not be opened (tree only)


def parse_report_path(path: str) -> tuple[int, int] | str:
    """(subject_id, study_id) of a report path, or the reason it is not a report path."""
    match = REPORT_PATH_RE.fullmatch(path)
    if match is None:
        return "not at files/pNN/p<subject_id>/s<study_id>.txt"
    group, folder, name = match.groups()
    name_match = REPORT_NAME_RE.fullmatch(name)
    if name_match is None:
        return f"report name {name!r} is not s<8 digits>.txt"
    if not name_match.group(1).startswith("5"):
        return f"study_id {name_match.group(1)} does not start with 5"
    subject_match = SUBJECT_FOLDER_RE.fullmatch(folder)
    if subject_match is None:
        return f"patient folder {folder!r} is not p<8 digits starting with 1>"
    if group != folder[:3]:
        return f"patient folder {folder} is not under {folder[:3]}"
    return int(subject_match.group(1)), int(name_match.group(1))


def list_groups(source: ReportSource) -> tuple[list[str], list[str]]:
    """The pNN groups of a source, and what sits beside them (where-strings)."""
    if source.kind == "tree":
        files = source.location / "files"
        if not files.is_dir():
            raise SourceError(str(files), "no files/ folder of reports")
        groups, stray = [], []
        for entry in sorted(os.scandir(files), key=lambda e: e.name):
            if entry.is_dir() and GROUP_RE.fullmatch(entry.name):
                groups.append(entry.name)
            else:
                stray.append(entry.path)
        return groups, stray
    names = _open_zip(source.location)[1]
    stray = [source.where(name) for name in names.get(None, [])]
    return sorted(group for group in names if group is not None), stray


def group_fingerprint(source: ReportSource, group: str) -> str:
    """The identity of every file of a tree group (one stat per file, nothing read); for
    a zip, the archive's identity."""
    if source.kind == "zip":
        return file_identity(source.location.stat())
    parts = []
    for patient in os.scandir(source.location / "files" / group):
        if not patient.is_dir():
            parts.append(f"{patient.name}:{_identity(patient)}")
            continue
        for entry in os.scandir(patient.path):
            if not entry.is_dir():
                parts.append(f"{patient.name}/{entry.name}:{_identity(entry)}")
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:16]


def _identity(entry: os.DirEntry) -> str:
    """The identity of what the entry leads to (of the link itself when that is broken)."""
    try:
        return file_identity(entry.stat())
    except OSError:
        return "link:" + file_identity(entry.stat(follow_symlinks=False))


def scan_group(source: ReportSource, group: str) -> Iterator[Entry | str]:
    """The group's entries in path order; a where-string for anything that is not a
    patient folder."""
    if source.kind == "tree":
        yield from _scan_tree(source, group)
    else:
        yield from _scan_zip(source, group)


def _read_file(path: str) -> Callable[[], bytes]:
    def load() -> bytes:
        # os.read: a third of the cost of open() and its buffered reader per small file
        descriptor = os.open(path, os.O_RDONLY)
        try:
            chunks = [os.read(descriptor, 1 << 16)]
            while chunks[-1]:
                chunks.append(os.read(descriptor, 1 << 20))
        finally:
            os.close(descriptor)
        return b"".join(chunks)

    return load


def _scan_tree(source: ReportSource, group: str) -> Iterator[Entry | str]:
    root = source.location.resolve()
    group_folder = source.location / "files" / group
    outside = _leaves_root(str(group_folder), root)
    for patient in sorted(os.scandir(group_folder), key=lambda e: e.name):
        if not patient.is_dir():
            yield patient.path
            continue
        folder = f"files/{group}/{patient.name}"
        folder_outside = outside or (
            _leaves_root(patient.path, root) if patient.is_symlink() else None
        )
        for entry in sorted(os.scandir(patient.path), key=lambda e: e.name):
            if entry.is_dir():
                continue  # a study's image folder
            yield Entry(
                path=f"{folder}/{entry.name}",
                where=entry.path,
                key=_identity(entry),
                folder=folder,
                load=_read_file(entry.path),
                problem=folder_outside or unsafe_file(entry, root),
            )


def _leaves_root(path: str, root: Path) -> str | None:
    """Why a path (through its symlinks) is outside the source root; None when inside."""
    target = Path(os.path.realpath(path))
    if target.is_relative_to(root):
        return None
    return f"symlink to {target}, outside the source folder {root}"


def unsafe_file(entry: os.DirEntry, root: Path) -> str | None:
    """Why a tree entry must not be opened: a symlink leading out of the source root (or
    nowhere), or something other than a regular file; None for a file safe to read."""
    if entry.is_symlink() and (outside := _leaves_root(entry.path, root)):
        return outside
    try:
        mode = entry.stat().st_mode
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    if not stat.S_ISREG(mode):
        return "not a regular file (a FIFO, device or socket)"
    return None


# One open archive per process: opening parses the whole central directory.
_open_zips: dict[Path, tuple[zipfile.ZipFile, dict[str | None, list[str]]]] = {}


def _open_zip(location: Path) -> tuple[zipfile.ZipFile, dict[str | None, list[str]]]:
    if location not in _open_zips:
        try:
            archive = zipfile.ZipFile(location)
        except FileNotFoundError:
            raise SourceError(str(location), "file not found") from None
        except (zipfile.BadZipFile, OSError) as error:
            raise SourceError(str(location), f"not a readable zip archive ({error})") from None
        by_group: dict[str | None, list[str]] = {}
        for name in archive.namelist():
            if name.endswith("/"):
                continue
            at = name.find("files/")
            group = name[at + 6 : at + 9] if at >= 0 else None
            if group is None or not GROUP_RE.fullmatch(group):
                group = None
            by_group.setdefault(group, []).append(name)
        _open_zips[location] = (archive, by_group)
    return _open_zips[location]


def _read_member(archive: zipfile.ZipFile, name: str) -> Callable[[], bytes]:
    def load() -> bytes:
        return archive.read(name)

    return load


def _scan_zip(source: ReportSource, group: str) -> Iterator[Entry]:
    archive, by_group = _open_zip(source.location)
    for name in sorted(by_group.get(group, [])):
        info = archive.getinfo(name)
        path = name[name.find("files/") :]
        yield Entry(
            path=path,
            where=source.where(name),
            key=f"{info.CRC}:{info.file_size}",
            folder=path.rsplit("/", 1)[0],
            load=_read_member(archive, name),
        )


UNREADABLE_MEMBER = (zipfile.BadZipFile, zlib.error, EOFError, OSError)
