"""Where report files come from: the `files/` tree or `mimic-cxr-reports.zip`.

Both are read in groups, one per `pNN` folder, so that two processes can share
the work and each group becomes one Parquet part. A zip is read in place, member
by member; nothing is unpacked to disk.
"""

from __future__ import annotations

import os
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cxr_sql.ingest.problems import DROPPED, Reject, SourceError

REPORTS_ZIP = "mimic-cxr-reports.zip"
GROUP_RE = re.compile(r"p\d\d")
# files/pNN/p<subject>/s<study>.txt, captured loosely so that each fault gets its own reason
REPORT_PATH_RE = re.compile(r"files/(p[^/]*)/(p[^/]*)/([^/]*)")
REPORT_NAME_RE = re.compile(r"s(\d{8})\.txt")
SUBJECT_FOLDER_RE = re.compile(r"p(1\d{7})")


@dataclass(frozen=True)
class ReportFile:
    path: str  # as in the study list: files/pNN/p<subject>/s<study>.txt
    subject_id: int
    study_id: int
    data: bytes


@dataclass(frozen=True)
class ReportSource:
    """A files/ tree (kind 'tree', root = the MIMIC-CXR folder) or a reports zip."""

    kind: str
    location: Path

    @property
    def label(self) -> str:
        return str(self.location / "files") if self.kind == "tree" else str(self.location)


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


def list_groups(source: ReportSource) -> tuple[list[str], list[Reject]]:
    """The pNN groups of a source, and rejects for anything beside them."""
    rejects: list[Reject] = []
    if source.kind == "tree":
        files = source.location / "files"
        if not files.is_dir():
            raise SourceError(str(files), "no files/ folder of reports")
        groups = []
        for entry in sorted(os.scandir(files), key=lambda e: e.name):
            if entry.is_dir() and GROUP_RE.fullmatch(entry.name):
                groups.append(entry.name)
            else:
                rejects.append(Reject(entry.path, None, "not a pNN group folder", DROPPED))
        return groups, rejects
    names = _zip_names(source.location)
    return sorted({group for group in names if group is not None}), [
        Reject(f"{source.location}!{name}", None, "not under files/pNN/", DROPPED)
        for name in names.get(None, [])
    ]


def read_group(source: ReportSource, group: str) -> Iterator[ReportFile | Reject]:
    """Every report of one group in path order, or a reject for what is not a report."""
    if source.kind == "tree":
        yield from _tree_group(source.location, group)
    else:
        yield from _zip_group(source.location, group)


def _checked(path: str, where: str, data: bytes) -> ReportFile | Reject:
    ids = parse_report_path(path)
    if isinstance(ids, str):
        return Reject(where, None, ids, DROPPED)
    return ReportFile(path, ids[0], ids[1], data)


def _tree_group(root: Path, group: str) -> Iterator[ReportFile | Reject]:
    group_dir = root / "files" / group
    for patient in sorted(os.scandir(group_dir), key=lambda e: e.name):
        if not patient.is_dir():
            yield Reject(patient.path, None, "not a patient folder", DROPPED)
            continue
        for entry in sorted(os.scandir(patient.path), key=lambda e: e.name):
            if entry.is_dir():
                continue  # a study's image folder
            path = f"files/{group}/{patient.name}/{entry.name}"
            with open(entry.path, "rb") as handle:
                yield _checked(path, entry.path, handle.read())


# One open archive per process: opening parses the whole central directory.
_open_zips: dict[Path, tuple[zipfile.ZipFile, dict[str | None, list[str]]]] = {}


def _zip_names(location: Path) -> dict[str | None, list[str]]:
    return _open_zip(location)[1]


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
            by_group.setdefault(group if group and GROUP_RE.fullmatch(group) else None, []).append(
                name
            )
        _open_zips[location] = (archive, by_group)
    return _open_zips[location]


def _zip_group(location: Path, group: str) -> Iterator[ReportFile | Reject]:
    archive, by_group = _open_zip(location)
    for name in sorted(by_group.get(group, [])):
        where = f"{location}!{name}"
        try:
            data = archive.read(name)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
            yield Reject(where, None, f"unreadable zip member ({error})", DROPPED)
            continue
        yield _checked(name[name.find("files/") :], where, data)
