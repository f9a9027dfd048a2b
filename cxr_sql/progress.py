"""Progress of a long stage, on stderr (the summaries go to stdout).

On a terminal, a tqdm bar with rate and time left, cleared when the stage ends.
Anywhere else (cron, a pipe, a log file) no bar and no carriage returns: plain
lines, formatted by tqdm, at most one per tenth of the work or per 30 seconds,
and one when the stage ends.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

PLAIN_EVERY_SECONDS = 30
PLAIN_WITH_TOTAL = (
    "{desc}: {n_fmt}/{total_fmt}{unit} ({percentage:.0f}%), {rate_fmt}, {remaining} left"
)
PLAIN_WITHOUT_TOTAL = "{desc}: {n_fmt}{unit}, {rate_fmt}"


class Progress:
    """Call update(done) as work is done, then finish()."""

    def __init__(
        self,
        label: str,
        total: int | None,
        stream: TextIO | None = None,
        enabled: bool = True,
        unit: str = " files",
    ) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.done = 0
        self.started = time.monotonic()
        self._bar = (
            tqdm(total=total, desc=label, unit=unit, file=self.stream, leave=False)
            if enabled and self.stream.isatty()
            else None
        )
        self._logged = (-1.0, -1, -1)  # elapsed seconds, tenth and count of the last plain line

    def update(self, done: int) -> None:
        self.done = done
        if self._bar is not None:
            self._bar.update(done - self._bar.n)
        elif self.enabled:
            elapsed = time.monotonic() - self.started
            tenth = 10 * done // self.total if self.total else -1
            if tenth > self._logged[1] or elapsed - self._logged[0] >= PLAIN_EVERY_SECONDS:
                self._log(elapsed, tenth)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and self.done != self._logged[2]:
            self._log(time.monotonic() - self.started, -1)

    def _log(self, elapsed: float, tenth: int) -> None:
        self._logged = (elapsed, tenth, self.done)
        line = tqdm.format_meter(
            self.done,
            self.total,
            elapsed,
            prefix=self.label,
            unit=self.unit,
            bar_format=PLAIN_WITH_TOTAL if self.total else PLAIN_WITHOUT_TOTAL,
        )
        self.stream.write(line + "\n")
        self.stream.flush()
