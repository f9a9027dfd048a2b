"""Progress of `cxr-sql build`: bars on a terminal only, plain lines otherwise, on stderr.

The real command builds the tiny sources (reports and DICOM headers, the stages
with progress) twice: once with stderr on a pseudo-terminal, as a person sees
it, once with stderr on a pipe, as cron's log gets it. stdout is a pipe both
times and must hold the summaries and nothing of the progress.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
from pathlib import Path

from tests.helpers import VENV_BIN

BAR = re.compile(r"\r(reports|dicom): +\d+%\|")  # tqdm: "\rreports:  40%|####      | 17/42"
PLAIN = re.compile(r"^(reports|dicom): (\d+)/(\d+) files \((\d+)%\), .* left$")
SUMMARY = re.compile(r"^(lists|reports|dicom|catalog) +\S")


def build_command(sources: Path, warehouse: Path) -> list[str]:
    return [
        str(VENV_BIN / "cxr-sql"), "build", "--warehouse", str(warehouse),
        "--mimic-cxr", str(sources / "mimic-cxr"), "--dicom", "yes", "--jobs", "2",
    ]  # fmt: skip


def check_stdout(stdout: str) -> None:
    """Summaries, one line per stage, and no trace of progress."""
    assert {m.group(1) for m in map(SUMMARY.match, stdout.splitlines()) if m} == {
        "lists",
        "reports",
        "dicom",
        "catalog",
    }
    assert "published g000001" in stdout
    assert "\r" not in stdout and "\x1b" not in stdout and "%|" not in stdout
    assert not any(PLAIN.match(line) for line in stdout.splitlines())


def test_on_a_terminal_progress_is_a_bar_on_stderr(tiny_sources: Path, tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    build = subprocess.Popen(
        build_command(tiny_sources, tmp_path / "warehouse"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
    )
    os.close(terminal)
    screen = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: every process holding the terminal has ended
            break
        if not chunk:
            break
        screen += chunk
    os.close(controller)
    stdout = build.stdout.read().decode()
    assert build.wait(timeout=120) == 0, screen.decode(errors="replace")
    shown = screen.decode()
    assert {m.group(1) for m in BAR.finditer(shown)} == {"reports", "dicom"}, shown
    assert re.search(r"\| \d+/42 \[", shown), "the reports bar shows no count of 42"
    assert not any(PLAIN.match(line) for line in shown.replace("\r", "\n").splitlines())
    check_stdout(stdout)


def test_off_a_terminal_progress_is_plain_lines_on_stderr(
    tiny_sources: Path, tmp_path: Path
) -> None:
    done = subprocess.run(
        build_command(tiny_sources, tmp_path / "warehouse"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "\x1b" not in done.stderr and "%|" not in done.stderr
    progress = [line for line in done.stderr.splitlines() if line.startswith(("reports", "dicom"))]
    lines = [PLAIN.match(line) for line in progress]
    assert lines and all(lines), done.stderr
    by_stage: dict[str, list[tuple[int, int, int]]] = {}
    for line in lines:
        by_stage.setdefault(line.group(1), []).append(tuple(map(int, line.group(2, 3, 4))))
    assert set(by_stage) == {"reports", "dicom"}
    for stage, seen in by_stage.items():
        assert len(seen) <= 12, f"{stage}: more than one line per tenth"
        done_now, total, percent = seen[-1]
        assert done_now == total and percent == 100, f"{stage} did not end at 100 %"
    check_stdout(done.stdout)
