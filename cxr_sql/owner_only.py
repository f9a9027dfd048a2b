"""Files and folders readable by their owner only (600 and 700), whatever the umask.

What cxr-sql writes outside the warehouse (a QA page, exported rows) comes from
credentialed data, so it gets the warehouse's modes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text(path: Path, text: str) -> None:
    """Write text to path with mode 600, atomically: a reader sees the old file or the new.

    Raises OSError (a missing folder, no permission, a full disk) with nothing left behind.
    """
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # 600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
