"""Engines run a plan's tasks: ``local`` in this process, ``dask`` on a Dask cluster.

Both run the same task functions (``xent_cli.pipeline.tasks``). The local
engine merges their partials (:func:`xent_cli.pipeline.partials.merge`). The
Dask engine (:mod:`xent_cli.pipeline.dask_engine`, imported only when asked
for) leaves each partial on the worker that computed it and brings back its
digest; the numbers are the local engine's, bit for bit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from xent_cli import progress
from xent_cli.pipeline.partials import (
    Partial,
    ResultSpec,
    merge,
)

if TYPE_CHECKING:
    from xent_cli.core.bootstrap import ResampleSums
    from xent_cli.results import Result

EngineName = Literal["local", "dask"]


@dataclass(frozen=True)
class Task:
    """One unit of work: a top-level function and its arguments (both picklable)."""

    function: Callable[..., Partial]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self, **extra: Any) -> Partial:
        """Run the task; ``extra`` keywords are added by the engine (``on_rows``, a progress counter)."""
        return self.function(*self.args, **self.kwargs, **extra)


@dataclass(frozen=True)
class Needs:
    """What the output shows beside the summaries (the Dask engine fetches nothing else).

    ``rows``: every per-row value, in order; ``head``: the first rows (a
    table); ``worst``: the rows with the largest headline value;
    ``histogram``: the table's histogram of the headline values.
    """

    rows: bool = True
    head: int = 0
    worst: int = 0
    histogram: bool = False
    # --ci: this many Poisson bootstrap resamples of every measure's mean (0: none), with this seed.
    resamples: int = 0
    seed: int = 0


@dataclass(frozen=True)
class Engine:
    """Where tasks run: ``local`` (this process, in order) or ``dask``."""

    name: EngineName = "local"
    scheduler: str | None = None
    scheduler_file: str | None = None
    # Seconds to wait for a first worker, or for another after every worker left.
    worker_timeout: float = 60.0

    def run(
        self, tasks: Sequence[Task], *, progress_bar: progress.RowProgress | None = None
    ) -> list[Partial]:
        """Every task's partial, in task order (the Dask engine brings the per-row values back)."""
        with self.session(progress_bar) as session:
            return session.partials(tasks)

    def result(self, tasks: Sequence[Task], spec: ResultSpec, needs: Needs | None = None) -> Result:
        """The merged result of ``tasks``; its per-row values stay on the workers unless ``needs`` asks."""
        with self.session() as session:
            result = session.result(tasks, spec, needs or Needs())
            remote = result.remote
            if remote is not None and remote.fetch is not None:  # the session closes here: fetch now
                blocks = list(result.row_blocks())
                remote.fetch = lambda: iter(blocks)
            return result

    @contextlib.contextmanager
    def session(self, progress_bar: progress.RowProgress | None = None) -> Iterator[Session]:
        """A place to run tasks; a Dask result's rows can be fetched until it closes."""
        if self.name == "local":
            yield LocalSession(progress_bar)
            return
        from xent_cli.pipeline.dask_engine import dask_session

        with dask_session(self) as session:
            yield session


class Session:
    """Runs tasks and merges what they return."""

    def partials(self, tasks: Sequence[Task]) -> list[Partial]:
        raise NotImplementedError

    def result(self, tasks: Sequence[Task], spec: ResultSpec, needs: Needs) -> Result:
        raise NotImplementedError


class LocalSession(Session):
    def __init__(self, progress_bar: progress.RowProgress | None = None) -> None:
        self.progress_bar = progress_bar

    def partials(self, tasks: Sequence[Task]) -> list[Partial]:
        bar = self.progress_bar
        if bar is None:
            return [task() for task in tasks]
        with bar:
            return [task(on_rows=bar.advance) for task in tasks]

    def result(self, tasks: Sequence[Task], spec: ResultSpec, needs: Needs) -> Result:
        return merged_result(self.partials(tasks), spec, needs)


def merged_result(parts: list[Partial], spec: ResultSpec, needs: Needs) -> Result:
    """The result of partials held here (every per-row value), with the resamples ``needs`` asks."""
    sums = None
    if needs.resamples:
        # Task by task, each from zero, added in task order: as the Dask engine adds its shards'.
        start = 0
        for part in parts:
            found = resample_partial(part, start, needs.resamples, needs.seed)
            sums = found if sums is None else sums.add(found)
            start += part.count
    result = merge(parts, spec)
    result.resample_sums = sums
    return result


def resample_partial(partial: Partial, start: int, resamples: int, seed: int) -> ResampleSums:
    """The Poisson bootstrap sums of a task's measures, its rows numbered from ``start``."""
    from xent_cli.columns.spill import release
    from xent_cli.core.bootstrap import resample_sums

    return resample_sums([m.values for m in partial.measures], start, seed, resamples, release)
