"""Same seed, same bytes: whatever the number of worker processes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.helpers import synth


def checksums(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_two_runs_give_identical_files(tmp_path: Path, tiny_sources: Path) -> None:
    again = synth(tmp_path / "again", "tiny", dicom=True)
    first, second = checksums(tiny_sources), checksums(again)
    assert len(first) > 100
    assert first == second


def test_one_process_or_two_give_identical_files(tmp_path: Path, small_sources: Path) -> None:
    serial = synth(tmp_path / "serial", "small", jobs=1, chunk_subjects=80)
    assert checksums(serial) == checksums(small_sources)


def test_another_seed_gives_other_files(tmp_path: Path, tiny_sources: Path) -> None:
    other = synth(tmp_path / "other", "tiny", seed=1, dicom=True)
    first, second = checksums(tiny_sources), checksums(other)
    assert first["mimic-cxr/cxr-record-list.csv.gz"] != second["mimic-cxr/cxr-record-list.csv.gz"]
