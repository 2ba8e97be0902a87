"""Run a command in a real pseudo-terminal of a given size and return what it printed.

What a person sees depends on the terminal: xent prints tables only when stdout
is one, and sizes them to its width. These helpers give a command a pty (stdin,
stdout and stderr) with the window size set, as a terminal emulator would.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Sequence
from pathlib import Path

XENT = Path(sys.executable).parent / "xent"
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_in_terminal(
    command: Sequence[str],
    columns: int,
    *,
    rows: int = 50,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> tuple[int, str]:
    """(exit status, output) of ``command`` run in a ``columns``-wide pty, escape codes removed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    environment = {**os.environ, "TERM": "xterm-256color", **(env or {})}
    environment.update(COLUMNS=str(columns), LINES=str(rows))
    for name in ("CI", "XENT_DEBUG"):
        environment.pop(name, None)
    process = subprocess.Popen(
        list(command), stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=environment, close_fds=True
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    status = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    text = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    return status, _ESCAPES.sub("", text)
