"""Every line xent writes to stderr: notes, warnings, broken gates, errors, signals.

One place, so that a stderr that is closed (``2>&-``), broken (``2>&1 | head -c 3``)
or full (``2>/dev/full``) never changes what a run computed or the status it
earned: a failed write is swallowed, the rest of the run's messages are
dropped, and the descriptor is pointed at ``/dev/null`` so that the interpreter's
final flush cannot fail either (it would turn any status into 120).

Messages never go to stdout, whatever state stderr is in: with stderr closed
at start-up Python sets ``sys.stderr`` to None, and ``print(file=None)`` would
write to stdout; here a missing stderr means the message is dropped.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import sys
from typing import TextIO

from xent_cli.errors import spelled

PROG = "xent"

# Set once a write to stderr failed: later messages are dropped.
_broken = False


def note(text: str) -> None:
    """``xent: note: …``: what inference decided (silenced by ``-q``)."""
    write(f"{PROG}: note: {text}")


def warning(text: str) -> None:
    write(f"{PROG}: warning: {text}")


def gate_failed(text: str) -> None:
    write(f"{PROG}: gate failed: {text}")


def error(text: str) -> None:
    """``xent: error: …``: one line, whatever the message holds."""
    write(f"{PROG}: error: {' '.join(text.splitlines())}")


def internal_error(exc: BaseException, *, started: bool = True) -> None:
    """``xent: internal error: …``: a bug in xent or a broken install, on one line.

    ``started``: False when the failure came while the command line itself was being
    imported, where the likely cause is the install, not the input.
    """
    if not started or isinstance(exc, ImportError):
        hint = "a broken install? reinstall xent and its dependencies"
    else:
        hint = "please report it"
    text = f"{type(exc).__name__}: {exc} ({hint}; XENT_DEBUG=1 shows a traceback)"
    write(f"{PROG}: internal error: {' '.join(text.splitlines())}")


def signal_line(text: str) -> None:
    """``xent: interrupted`` (or ``terminated``, ``hangup``)."""
    write(f"{PROG}: {text}")


def write(line: str) -> None:
    """Write one line to stderr; a closed, broken or full stderr is not an error."""
    global _broken
    stream = sys.stderr
    if _broken or stream is None:
        return
    try:
        stream.write(_encodable(spelled(line), stream) + "\n")
        stream.flush()
    except (OSError, ValueError):  # EPIPE, ENOSPC, EBADF, EIO; ValueError: a closed file object
        _broken = True
        _point_at_devnull(stream)


def reset() -> None:
    """Forget an earlier failure (tests run many commands in one process)."""
    global _broken
    _broken = False


def _encodable(line: str, stream: TextIO) -> str:
    """The line as the stream's encoding can hold it (backslash escapes for the rest)."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        return line
    if codec.startswith("utf"):
        return line
    return line.encode(codec, "backslashreplace").decode(codec)


def _point_at_devnull(stream: TextIO) -> None:
    """After a failed write: send the descriptor's pending and future bytes to /dev/null."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)
