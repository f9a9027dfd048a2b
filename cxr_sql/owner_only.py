"""Files written outside the warehouse, readable by their owner only (600), whole or not at all.

What cxr-sql writes outside the warehouse (a QA page, exported rows, query results)
comes from credentialed data, so it gets the warehouse's modes. Each file is written
under a hidden scratch name beside its target and renamed over it only once it is
complete: a reader sees the old file or the new one, and a failure (a query error, a
full disk) leaves no partial file behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def replaced(path: Path) -> Iterator[Path]:
    """A scratch path beside `path`, renamed over it when the block ends without an
    error and removed otherwise. What is written there must be made mode 600."""
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield scratch
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


@contextmanager
def open_text(path: Path, newline: str | None = None) -> Iterator[IO[str]]:
    """`path` open for writing UTF-8 text, mode 600, replaced atomically at the end.

    Raises OSError (a missing folder, no permission, a full disk) with nothing left behind.
    """
    with replaced(path) as scratch:
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # a scratch file left by a dead process kept its mode
        with open(descriptor, "w", encoding="utf-8", newline=newline) as handle:
            yield handle


def write_text(path: Path, text: str) -> None:
    """Write text to path with mode 600, atomically."""
    with open_text(path) as handle:
        handle.write(text)
