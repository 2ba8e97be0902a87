"""The environment xent runs in: terminals, colour, CI and ``XENT_*`` settings, read once.

Everything the command line learns from the process environment comes from
one :class:`Environment`; tests replace it (httpie's pattern) to fake
terminals and pipes without touching ``os.environ`` or ``sys``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import IO

from xent_cli.cli import process

# Inputs at least this large get a progress bar on a terminal.
DEFAULT_PROGRESS_MIN_BYTES = 64 << 20


def _isatty(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):  # closed
        return False


@dataclass
class Environment:
    """What xent may know about where it runs."""

    stdin_isatty: bool = False
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    # stdout was closed when xent started (``>&-``): a result for it is an error.
    stdout_closed: bool = False
    # NO_COLOR (https://no-color.org) set to anything.
    no_color: bool = False
    # A CI system (CI=...): no progress bars, whatever the terminal says.
    ci: bool = False
    # GITHUB_ACTIONS=true: broken gates are also ::error workflow commands on stderr.
    github_actions: bool = False
    # GITHUB_STEP_SUMMARY: the file GitHub renders as the job summary (Markdown is appended).
    step_summary: str | None = None
    # XENT_DEBUG: show tracebacks instead of one-line errors.
    debug: bool = False
    # XENT_NO_PROGRESS, XENT_PROGRESS_MIN_BYTES.
    progress_disabled: bool = False
    progress_min_bytes: int = DEFAULT_PROGRESS_MIN_BYTES
    # The terminal's width when stdout is one (COLUMNS or the tty's size).
    columns: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_process(cls) -> Environment:
        environ = os.environ
        try:
            min_bytes = int(environ.get("XENT_PROGRESS_MIN_BYTES", DEFAULT_PROGRESS_MIN_BYTES))
        except ValueError:
            min_bytes = DEFAULT_PROGRESS_MIN_BYTES
        return cls(
            stdin_isatty=sys.stdin is None or _isatty(sys.stdin),
            stdout_isatty=_isatty(sys.stdout),
            stderr_isatty=_isatty(sys.stderr),
            stdout_closed=sys.stdout is None or 1 in process.closed_at_start,
            no_color="NO_COLOR" in environ,
            ci=bool(environ.get("CI")),
            github_actions=environ.get("GITHUB_ACTIONS") == "true",
            step_summary=environ.get("GITHUB_STEP_SUMMARY") or None,
            debug=bool(environ.get("XENT_DEBUG")),
            progress_disabled=bool(environ.get("XENT_NO_PROGRESS")),
            progress_min_bytes=min_bytes,
            columns=_columns(environ),
        )

    @property
    def progress_allowed(self) -> bool:
        return self.stderr_isatty and not self.ci and not self.progress_disabled


def _columns(environ: os._Environ[str]) -> int | None:
    text = environ.get("COLUMNS")
    if text and text.isdigit() and int(text) > 0:
        return int(text)
    return None


_current: Environment | None = None


def current() -> Environment:
    """The environment of this run (read from the process the first time)."""
    global _current
    if _current is None:
        _current = Environment.from_process()
    return _current


def use(environment: Environment | None) -> None:
    """Replace the environment (tests); None reads the process's again on next use."""
    global _current
    _current = environment
