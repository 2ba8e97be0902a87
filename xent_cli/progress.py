"""A progress bar on stderr for long runs: only on a terminal, never in pipes or CI.

Results go to stdout and are never touched; the bar is transient and vanishes
when the work is done. The local engine hands each task the bar's
:meth:`RowProgress.advance` as its ``on_rows`` parameter (a :data:`RowCounter`), and
the task calls it with the rows it computed; on a Dask worker a task has none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

# Inputs smaller than this finish too fast for a bar to help.
LARGE_INPUT_BYTES = 64 << 20

# What a task calls with the number of rows it has just computed.
RowCounter = Callable[[int], None]


def large_input(paths: Iterable[Path | None], threshold: int = LARGE_INPUT_BYTES) -> bool:
    """True when one of the inputs is at least ``threshold`` bytes."""
    for path in paths:
        try:
            if path is not None and path.stat().st_size >= threshold:
                return True
        except OSError:
            continue
    return False


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
