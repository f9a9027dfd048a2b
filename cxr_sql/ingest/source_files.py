"""Source CSV files: which one is read, that it is a regular file, and that it is complete.

PhysioNet ships `name.csv.gz`; a user may have gunzipped it to `name.csv`. Either
is read; both at once is an error naming both (which one is meant is not ours to
guess). A gzip is trusted only once it has been decompressed to its end with
every member's CRC-32 and length checked: a file cut anywhere (even exactly at a
line boundary) or with flipped bytes must stop its stage, never give a shorter
table. ISA-L (`isal`) decompresses three times faster than zlib, so the check
costs about a tenth of DuckDB's own read of the same file, and it runs in a
thread beside that read (both release the GIL).
"""

from __future__ import annotations

import os
import stat
import threading
import zlib
from pathlib import Path
from types import TracebackType

from isal import igzip, isal_zlib

from cxr_sql.fingerprint import file_identity
from cxr_sql.ingest.problems import SourceError

CHUNK = 1 << 20
BOM = b"\xef\xbb\xbf"
DAMAGED = (EOFError, igzip.BadGzipFile, isal_zlib.error, zlib.error)


def csv_file(folder: Path, name: str) -> Path | None:
    """`folder/name.gz` or `folder/name` (`name` ends in .csv), whichever is there; None
    when neither is. Both there: a SourceError naming both."""
    packed, plain = folder / f"{name}.gz", folder / name
    found = [path for path in (packed, plain) if os.path.lexists(path)]
    if len(found) == 2:
        raise SourceError(
            str(packed), f"{plain.name} is there too: keep one of them (which to read is unclear)"
        )
    return found[0] if found else None


def one_release(found: list[Path]) -> list[Path]:
    """Files of a glob such as `mimic-cxr-*-metadata.csv*`: a .csv and a .csv.gz of the same
    release together are an error naming both."""
    names = {path.name for path in found}
    for path in found:
        if path.name.endswith(".csv") and f"{path.name}.gz" in names:
            raise SourceError(
                str(path.with_name(f"{path.name}.gz")),
                f"{path.name} is there too: keep one of them (which to read is unclear)",
            )
    return found


def check_regular(path: Path) -> os.stat_result:
    """The file's stat; a SourceError for anything that is not a regular file (a FIFO
    would block the reader forever, a device never ends)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SourceError(str(path), "file not found") from None
    except OSError as error:
        raise SourceError(str(path), f"cannot be read ({error.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise SourceError(str(path), "not a regular file (a FIFO, device or folder)")
    return info


def verify_gzip(path: Path) -> None:
    """Decompress the whole file, checking each member's CRC-32 and length; SourceError
    naming the file when it is empty, cut short, or damaged."""
    try:
        with open(path, "rb") as raw:
            if not raw.read(1):
                raise SourceError(str(path), "empty file: not a gzip file")
            raw.seek(0)
            with igzip.GzipFile(fileobj=raw) as unpacked:
                while unpacked.read(CHUNK):
                    pass
    except EOFError:
        raise SourceError(
            str(path), "not a complete gzip file: it ends before its end-of-stream marker (cut?)"
        ) from None
    except DAMAGED as error:
        raise SourceError(str(path), f"not a complete gzip file: damaged ({error})") from None
    except OSError as error:
        raise SourceError(str(path), f"cannot be read ({error.strerror})") from None


def read_verified(path: Path) -> bytes:
    """The whole content of a (.csv or .csv.gz) file, verified complete, BOM removed."""
    check_regular(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SourceError(str(path), f"cannot be read ({error.strerror})") from None
    if path.name.endswith(".gz"):
        if not data:
            raise SourceError(str(path), "empty file: not a gzip file")
        try:
            data = igzip.decompress(data)
        except EOFError:
            raise SourceError(
                str(path),
                "not a complete gzip file: it ends before its end-of-stream marker (cut?)",
            ) from None
        except DAMAGED as error:
            raise SourceError(str(path), f"not a complete gzip file: damaged ({error})") from None
    return data.removeprefix(BOM)


class VerifiedWhileRead:
    """`with VerifiedWhileRead(path): <read it another way>`: the gzip check runs in a
    thread meanwhile; on leaving, a damaged file or one changed during the read raises
    SourceError, which takes precedence over whatever the other reader raised."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.before = file_identity(check_regular(path))
        self.problem: SourceError | None = None
        self.thread = threading.Thread(target=self._verify, daemon=True)

    def _verify(self) -> None:
        try:
            verify_gzip(self.path)
        except SourceError as error:
            self.problem = error

    def __enter__(self) -> VerifiedWhileRead:
        if self.path.name.endswith(".gz"):
            self.thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.thread.is_alive() or self.thread.ident is not None:
            self.thread.join()
        if self.problem is not None:
            raise self.problem from None
        if kind is None and file_identity(check_regular(self.path)) != self.before:
            raise SourceError(str(self.path), "changed while it was being read: build again")
