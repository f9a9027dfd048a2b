"""The last-resort handler: no command ends with a raw traceback.

An error no command expected is reported in one line on stderr, with the path of
a log file holding its traceback. The log goes to a folder of the system's temp
directory readable by the user only (`$TMPDIR/cxr-sql-<uid>/`), not into the
warehouse, since the failure may be that the warehouse's disk is full.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import time
import traceback
from pathlib import Path

PROGRAM = "cxr-sql"


def _log_folder() -> Path:
    """The user's own log folder; a folder of that name owned by someone else (or a
    symlink) is not trusted and a fresh private one is made instead."""
    folder = Path(tempfile.gettempdir()) / f"{PROGRAM}-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        found = folder.lstat()
        if stat.S_ISDIR(found.st_mode) and found.st_uid == os.getuid():
            folder.chmod(0o700)
            return folder
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix=f"{PROGRAM}-"))


def write_log(error: BaseException) -> Path:
    """Write the error's traceback to a new owner-only log file; returns its path."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = _log_folder() / f"{stamp}-{os.getpid()}.log"
    text = "".join(traceback.format_exception(error))
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(f"{PROGRAM} {' '.join(sys.argv[1:])}\n{text}")
    return path


def report(message: str, error: BaseException) -> None:
    """Print `message` as one line on stderr with where the traceback was logged."""
    try:
        where = f"details in {write_log(error)}"
    except OSError as log_error:
        where = f"no log written: {log_error.strerror}"
    print(f"{PROGRAM}: error: {message} ({where})", file=sys.stderr)
