"""Engines run a plan's tasks: ``local`` in this process, ``dask`` on a Dask cluster.

Both run the same task functions (``xent_cli.pipeline.tasks``) and return their
partials in task order; :func:`xent_cli.pipeline.partials.merge` turns them into
one result, identical whichever engine ran them.

``dask`` uses ``dask.distributed``: a local cluster of worker processes, or an
existing one named by ``--scheduler`` (or ``XENT_SCHEDULER``). Dask is imported
only then.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from xent_cli import progress
from xent_cli.errors import InputError, UsageError
from xent_cli.pipeline.partials import Partial

EngineName = Literal["local", "dask"]


@dataclass(frozen=True)
class Task:
    """One unit of work: a top-level function and its arguments (both picklable)."""

    function: Callable[..., Partial]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> Partial:
        return self.function(*self.args, **self.kwargs)


@dataclass(frozen=True)
class Engine:
    """Where tasks run: ``local`` (this process, in order) or ``dask``."""

    name: EngineName = "local"
    scheduler: str | None = None

    def run(
        self, tasks: Sequence[Task], *, progress_bar: progress.RowProgress | None = None
    ) -> list[Partial]:
        if self.name == "local":
            with progress.reporting(progress_bar):
                return [task() for task in tasks]
        return _run_on_dask(tasks, self.scheduler)


def _run_task(task: Task) -> Partial:
    return task()


def local_workers() -> int:
    """The CPUs this process may run on (its affinity mask), not all the machine has."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def _quiet_dask(debug: bool) -> Iterator[None]:
    """Keep Dask's warnings and log lines off stderr (XENT_DEBUG shows them)."""
    if debug:
        yield
        return
    loggers = [logging.getLogger(name) for name in ("distributed", "tornado", "bokeh")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.CRITICAL)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def _run_on_dask(tasks: Sequence[Task], scheduler: str | None) -> list[Partial]:
    debug = bool(os.environ.get("XENT_DEBUG"))
    with _quiet_dask(debug):
        try:
            from distributed import Client, LocalCluster
            from distributed.client import FutureCancelledError
            from distributed.scheduler import KilledWorker
        except ImportError:
            raise UsageError(
                "--engine dask needs Dask's distributed scheduler",
                hint="pip install 'dask[distributed]', or pip install '.[dask]' from a checkout of xent",
            ) from None
        cluster = None
        try:
            if scheduler:
                try:
                    client = Client(scheduler, timeout="10s")
                except OSError as exc:
                    raise UsageError(f"--scheduler {scheduler}: cannot connect: {exc}") from None
            else:
                # No dashboard, and its HTTP server (health checks) on a free port: a
                # taken 8787 is no reason for a warning. Workers keep their warnings to
                # themselves too.
                cluster = LocalCluster(
                    n_workers=local_workers(),
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=":0",
                    scheduler_kwargs={"dashboard": False},
                    silence_logs=logging.DEBUG if debug else logging.CRITICAL,
                    env={} if debug else {"PYTHONWARNINGS": "ignore"},
                )
                client = Client(cluster)
            with client:
                # A task lost with its worker is re-run elsewhere by the scheduler;
                # retries cover errors inside a task that may pass on another try.
                futures = client.map(_run_task, list(tasks), pure=False, retries=1)
                try:
                    return list(client.gather(futures))
                except KilledWorker as exc:
                    raise InputError(
                        f"a Dask worker died while running a shard ({exc}); no result was computed",
                        hint="check the workers' memory and logs",
                    ) from None
                except FutureCancelledError as exc:
                    raise InputError(f"a Dask task was cancelled: {exc}") from None
        finally:
            if cluster is not None:
                cluster.close()
