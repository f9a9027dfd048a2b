"""Progress of a long stage: a live bar with rate and ETA on a terminal, plain
log lines (at most one per 10 % or 30 s) anywhere else, such as cron."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(
        self, label: str, total: int | None, stream: TextIO | None = None, enabled: bool = True
    ) -> None:
        self.label = label
        self.total = total
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.enabled = enabled
        self.started = time.monotonic()
        self._last_log = (0.0, -1)  # time and tenth of the last plain line
        self.done = 0

    def update(self, done: int) -> None:
        self.done = done
        if not self.enabled:
            return
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = done / elapsed
        if self.live:
            self.stream.write("\r" + self._line(rate) + "\x1b[K")
            self.stream.flush()
            return
        tenth = int(10 * done / self.total) if self.total else -1
        if tenth > self._last_log[1] or elapsed - self._last_log[0] >= 30:
            self._last_log = (elapsed, tenth)
            self.stream.write(self._line(rate) + "\n")

    def finish(self) -> None:
        if self.live and self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _line(self, rate: float) -> str:
        text = f"{self.label}: {self.done:,}"
        if self.total:
            share = min(self.done / self.total, 1.0)
            filled = int(24 * share)
            bar = "#" * filled + "-" * (24 - filled)
            remaining = (self.total - self.done) / rate if rate > 0 else float("inf")
            eta = f"{remaining:.0f} s" if remaining != float("inf") else "?"
            text = f"{self.label} [{bar}] {self.done:,}/{self.total:,} {share:4.0%}"
            return f"{text}  {rate:,.0f}/s  ETA {eta}"
        return f"{text}  {rate:,.0f}/s"
