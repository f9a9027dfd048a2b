"""Fingerprints of inputs: cheap hashes that change when the inputs do."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path


def files_fingerprint(files: Iterable[Path], *, ctime: bool = True) -> str:
    """Names and identities of the files (size, mtime, ctime, inode: what a rewrite in place
    or a copy with `cp -p` changes); no content is read, no folder name taken in.

    ctime=False for the warehouse's own Parquet: hard-linking a part into a new generation
    changes its ctime, never its content."""
    digest = hashlib.sha256()
    for path in sorted(files):
        stat = path.stat()
        identity = file_identity(stat) if ctime else f"{stat.st_size}:{stat.st_mtime_ns}"
        digest.update(f"{path.name}\0{identity}\n".encode())
    return digest.hexdigest()[:16]


def file_identity(stat: os.stat_result) -> str:
    """What changes whenever a file's content can have: size, mtime, ctime and inode
    (`cp -p` or `touch -r` restore an mtime, never a ctime or an inode)."""
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}"


def text_fingerprint(*parts: object) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:16]
