"""What a builder found wrong with its input: fatal source errors and per-row rejects.

A SourceError stops the stage that met it (a truncated file, a missing column);
a Reject records one row or file that failed validation and what was done with
it, so that nothing is dropped without being counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

DROPPED = "dropped"  # left out of the output
KEPT = "kept"  # in the output, with the problem recorded
REPLACED = "replaced"  # in the output, with undecodable bytes replaced


class SourceError(Exception):
    """An input the stage cannot read safely: named file, line where known, reason."""

    def __init__(self, file: str, reason: str, line: int | None = None) -> None:
        self.file, self.reason, self.line = file, reason, line
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):  # raised in worker processes: must survive pickling
        return SourceError, (self.file, self.reason, self.line)


@dataclass(frozen=True, slots=True)
class Reject:
    file: str
    line: int | None
    reason: str
    action: str  # DROPPED, KEPT or REPLACED


REJECTS_SCHEMA = pa.schema(
    [
        ("stage", pa.string()),
        ("file", pa.string()),
        ("line", pa.int64()),
        ("reason", pa.string()),
        ("action", pa.string()),
    ]
)


def rejects_table(stage: str, rejects: list[Reject]) -> pa.Table:
    return pa.table(
        {
            "stage": [stage] * len(rejects),
            "file": [r.file for r in rejects],
            "line": [r.line for r in rejects],
            "reason": [r.reason for r in rejects],
            "action": [r.action for r in rejects],
        },
        schema=REJECTS_SCHEMA,
    )
