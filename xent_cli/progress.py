"""A progress bar on stderr for long runs: only on a terminal, never in pipes or CI.

Results go to stdout and are never touched; the bar is transient and vanishes
when the work is done. Tasks report the rows they computed with
:func:`advance`; the local engine shows them on the bar it was given (on a
Dask worker there is none, and :func:`advance` does nothing).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

# Inputs smaller than this finish too fast for a bar to help.
LARGE_INPUT_BYTES = 64 << 20

_active: RowProgress | None = None


def large_input(paths: Iterable[Path | None], threshold: int = LARGE_INPUT_BYTES) -> bool:
    """True when one of the inputs is at least ``threshold`` bytes."""
    for path in paths:
        try:
            if path is not None and path.stat().st_size >= threshold:
                return True
        except OSError:
            continue
    return False


def advance(rows: int) -> None:
    """Count ``rows`` more computed rows on the active bar, if any."""
    if _active is not None:
        _active.advance(rows)


@contextlib.contextmanager
def reporting(bar: RowProgress | None) -> Iterator[None]:
    """Make ``bar`` the one :func:`advance` reports to while the block runs."""
    global _active
    if bar is None:
        yield
        return
    previous, _active = _active, bar
    try:
        with bar:
            yield
    finally:
        _active = previous


class RowProgress:
    """Counts rows as blocks are computed; a no-op when not wanted."""

    def __init__(self, description: str, enabled: bool, total: int | None = None) -> None:
        self._progress: Any = None
        self._task: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("rows"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._task = self._progress.add_task(description, total=total)

    def __enter__(self) -> RowProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def advance(self, rows: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, rows)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
