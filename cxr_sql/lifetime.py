"""Worker processes die with the build that started them, however it dies.

A worker of a ProcessPoolExecutor whose parent was killed with SIGKILL waits on
its task queue for ever, reparented to init. On Linux the kernel ends it
(prctl PR_SET_PDEATHSIG); elsewhere a thread of the worker watches its parent.
Call `die_with_parent(parent_pid)` first thing in a worker's initializer.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCH_SECONDS = 1.0


def die_with_parent(parent_pid: int) -> None:
    """End this process when `parent_pid` (the process that started it) ends."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            _watch(parent_pid)
    else:
        _watch(parent_pid)
    if os.getppid() != parent_pid:  # it died before the kernel was told to watch
        os._exit(1)


def _watch(parent_pid: int) -> None:
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()
