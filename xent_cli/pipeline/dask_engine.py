"""The Dask engine: tasks on a Dask cluster, and the diagnosis of a connection that fails.

The Dask engine leaves each partial on the worker that computed it and brings
back its digest (exact sums, counts, min/max, key histograms, worst rows):
percentiles take a round or two in which every worker answers about its own
values, and per-row values, when the output shows them, come back shard
after shard while they are written. The client's memory does not grow with
the number of rows, and the numbers are the local engine's, bit for bit.

``dask`` connects the way Dask users do: ``--scheduler ADDRESS`` (any address
Dask accepts: ``tcp://``, ``tls://`` with the certificates of Dask's
``distributed.comm.tls`` configuration, ``ws://``…), ``--scheduler-file``,
or Dask's own ``scheduler-address`` setting (``DASK_SCHEDULER_ADDRESS``);
otherwise it starts a local cluster of worker processes. Dask is imported
only then (this module is imported by :meth:`Engine.session` for ``dask``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from xent_cli.columns.histogram import Histogram, HistogramBins, count_bins, histogram_bins, histogram_of
from xent_cli.errors import InputError, OpenError, UsageError, option
from xent_cli.pipeline.dask_connect import (
    check_scheduler_file,
    exception_chain,
    scheme_of,
    security_for,
    spoke_first,
    ssl_error,
    tls_failure,
)
from xent_cli.pipeline.engine import (
    Engine,
    Needs,
    Session,
    Task,
    merged_result,
    resample_partial,
)
from xent_cli.pipeline.partials import (
    SUMMARY_PERCENTILES,
    Digest,
    Partial,
    ResultSpec,
    digest,
    merge_digests,
    row_offsets,
)
from xent_cli.system import usable_cpus
from xent_cli.tuning import tune_allocator

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.core.bootstrap import ResampleSums
    from xent_cli.core.stats import PercentileRequest, PercentileResponse
    from xent_cli.results import Result, RowBlock

SHARED_FILES_HINT = (
    "every Dask worker must see the same files at the same paths: a shared filesystem, "
    "or object storage such as s3://bucket/path (pip install fsspec s3fs)"
)
# How long to wait for a peer to answer as a Dask scheduler.
CONNECT_SECONDS = 10.0


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "?"


def _run_task(task: Task) -> Partial:
    tune_allocator()
    try:
        return task()
    except OpenError as exc:
        raise InputError(
            f"worker {_worker_address()} cannot open {exc.path}: {exc.reason}", hint=SHARED_FILES_HINT
        ) from None


def _digest(partial: Partial, worst: int) -> Digest:
    return digest(partial, worst)


def _answer(partial: Partial, requests: dict[int, PercentileRequest]) -> dict[int, PercentileResponse]:
    from xent_cli.core.stats import answer

    return {i: answer(partial.measures[i].values, request) for i, request in requests.items()}


def _count_bins(partial: Partial, bins: HistogramBins) -> NDArray[np.int64]:
    return count_bins(partial.measures[0].values, bins)


def _head(partial: Partial, n: int) -> Partial:
    """The first ``n`` rows of a partial (its per-row parts only)."""
    from xent_cli.pipeline.partials import MeasurePart

    return Partial(
        measures=[MeasurePart(m.key, m.label, m.values[:n].copy(), m.scaling) for m in partial.measures],
        rows_read=partial.rows_read,
        ids=partial.ids[:n] if partial.ids is not None else None,
        kept=partial.kept[:n].copy() if partial.kept is not None else None,
    )


# --- on the client ---------------------------------------------------------------------------------


def anchored(task: Task) -> Task:
    """The task with every local path absolute: workers may run in another folder.

    Sources (and a ``--target`` labels file) keep the labels they were given,
    for messages. Stdin cannot be read by a worker: that is a usage error.
    """
    from dataclasses import fields, is_dataclass, replace

    from xent_cli.io.sources import Source, path_kind
    from xent_cli.pipeline.align import InputSpec

    def fix(value: Any) -> Any:
        if isinstance(value, InputSpec):
            if value.source.is_stdin:
                raise UsageError(
                    f"{option('engine')} dask: Dask workers cannot read this process's stdin",
                    hint="give a file",
                )
            return replace(value, source=value.source.anchored())
        if isinstance(value, Source):
            return value.anchored()
        if is_dataclass(value) and not isinstance(value, type):
            names = {f.name for f in fields(value)}
            target = getattr(value, "target", None)
            if "target" in names and isinstance(target, str) and path_kind(target) == "file":
                return replace(value, target=os.path.abspath(target))
        return value

    return Task(task.function, tuple(fix(a) for a in task.args), {k: fix(v) for k, v in task.kwargs.items()})


@contextlib.contextmanager
def _quiet_dask(debug: bool) -> Iterator[None]:
    """Keep Dask's warnings and log lines off stderr (XENT_DEBUG shows them).

    Every logger is silenced while Dask runs, not only ``distributed``'s (whose
    children have levels of their own): asyncio's "Task exception was never
    retrieved" after Ctrl-C, tornado's errors of a lost connection. xent itself
    writes its messages without ``logging``.
    """
    if debug:
        yield
        return
    previous = logging.root.manager.disable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        try:
            yield
        finally:
            logging.disable(previous)


def _described(address: str | None, scheduler_file: str | None) -> str:
    if scheduler_file:
        return f"{option('scheduler_file')} {scheduler_file}"
    return f"{option('scheduler')} {address}"


def _connect(address: str | None, scheduler_file: str | None) -> Any:
    """A client of the scheduler, or one ``xent:`` line saying why not.

    The attempt runs in a thread with a deadline: a peer that accepts the
    connection but does not speak Dask's protocol would otherwise hold the
    client for minutes (or make it allocate what its garbage claims to be a length).
    """
    from distributed import Client

    what = _described(address, scheduler_file)
    target = check_scheduler_file(scheduler_file) if scheduler_file is not None else address
    security = security_for(target or "", what)
    box: dict[str, Any] = {}

    def attempt() -> None:
        try:
            box["client"] = Client(
                address,
                scheduler_file=scheduler_file,
                timeout=f"{CONNECT_SECONDS}s",
                security=security,
            )
        except BaseException as exc:  # reported below, in the calling thread
            box["error"] = exc

    thread = threading.Thread(target=attempt, name="xent-connect", daemon=True)
    thread.start()
    thread.join(CONNECT_SECONDS + 2)
    if thread.is_alive():
        raise UsageError(
            f"{what}: no answer from a Dask scheduler within {CONNECT_SECONDS:g} s",
            hint="give the scheduler's address, e.g. tcp://HOST:8786 (not its dashboard's http:// address)",
        )
    error = box.get("error")
    if error is None:
        return box["client"]
    scheme = scheme_of(target or "")
    if scheme == "tls" and (ssl_error(error) is not None or spoke_first(error)):
        raise tls_failure(what, error, security) from None
    if isinstance(error, OSError | TimeoutError) and "handshake" not in str(error).lower():
        reason = " ".join(str(error).split()) or type(error).__name__
        hint = None
        if scheme == "tcp" and any(isinstance(e, ConnectionResetError) for e in exception_chain(error)):
            hint = "if the scheduler listens with TLS, give its tls:// address"
        raise UsageError(f"{what}: cannot connect: {reason}", hint=hint) from None
    raise UsageError(
        f"{what}: the peer does not answer as a Dask scheduler ({type(error).__name__})",
        hint="give the scheduler's address, e.g. tcp://HOST:8786 (not its dashboard's http:// address)",
    ) from None


def _local_cluster(debug: bool) -> Any:
    from distributed import LocalCluster

    # No dashboard, and its HTTP server (health checks) on a free port: a taken 8787 is
    # no reason for a warning. Workers keep their warnings to themselves too.
    return LocalCluster(
        n_workers=usable_cpus(),
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        scheduler_kwargs={"dashboard": False},
        silence_logs=logging.DEBUG if debug else logging.CRITICAL,
        env={} if debug else {"PYTHONWARNINGS": "ignore"},
    )


def check_versions(client: Any) -> None:
    """Refuse, in one line, workers that run another xent (or none)."""
    from importlib import metadata

    from xent_cli import DISTRIBUTION, __version__

    try:
        here = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        here = __version__
    found = client.run(metadata.version, DISTRIBUTION, on_error="return")
    for worker, version in sorted(found.items()):
        if isinstance(version, BaseException):
            raise UsageError(
                f"Dask worker {worker} has no xent installed",
                hint=f"install xent {here} on every worker (pip install '{DISTRIBUTION}[dask]=={here}')",
            )
        if version != here:
            raise UsageError(
                f"Dask worker {worker} runs xent {version}, this is xent {here}",
                hint=f"install xent {here} on every worker, so that they compute what this one would",
            )


def _wait_for_workers(client: Any, timeout: float, where: str) -> None:
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise UsageError(
            f"no Dask worker joined {where} within {timeout:g} s",
            hint="start workers with: dask worker ADDRESS, or wait longer with "
            f"{option('worker_timeout')} SECONDS",
        ) from None


@contextlib.contextmanager
def dask_session(engine: Engine) -> Iterator[DaskSession]:
    debug = bool(os.environ.get("XENT_DEBUG"))
    with _quiet_dask(debug):
        try:
            import dask
            import distributed
        except ImportError:
            raise UsageError(
                f"{option('engine')} dask needs Dask's distributed scheduler",
                hint="pip install 'dask[distributed]', or pip install '.[dask]' from a checkout of xent",
            ) from None
        address = engine.scheduler
        if address is None and engine.scheduler_file is None:
            address = dask.config.get("scheduler-address", None) or None
        cluster = None
        client = None
        session = None
        try:
            if address is not None or engine.scheduler_file is not None:
                where = f"the scheduler at {address or engine.scheduler_file}"
                client = _connect(address, engine.scheduler_file)
                _wait_for_workers(client, engine.worker_timeout, where)
                check_versions(client)
            else:
                where = "the local cluster"
                cluster = _local_cluster(debug)
                client = distributed.Client(cluster)
            session = DaskSession(client, engine, where)
            yield session
        finally:
            if session is not None:
                session.cancel()
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close(timeout=5)
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close(timeout=10)


class DaskSession(Session):
    """Tasks on a Dask cluster: their partials stay on the workers until the session ends."""

    # Per-row values fetched at a time when streaming rows (in shards, at least one).
    ROWS_PER_FETCH = 1 << 20
    # The largest key bucket fetched whole by the percentile protocol (values per percentile).
    BUCKET_VALUES = 1 << 12
    # How often to look for finished tasks while none is ready.
    POLL_SECONDS = 0.01
    # Futures per cancel request (see cancel).
    CANCEL_BATCH = 256

    def __init__(self, client: Any, engine: Engine, where: str) -> None:
        self.client = client
        self.engine = engine
        self.where = where
        self._futures: list[Any] = []  # the partials, kept on the workers until the session ends
        self._applied: list[Any] = []  # the results of the _apply under way

    def cancel(self) -> None:
        """Stop the tasks still pending (an error or Ctrl-C ended the session early).

        Finished ones are left to the client's closing, which releases them all at once:
        the scheduler answers one cancel request in time quadratic in its keys (distributed
        2026.8 releases all of them again for each key), and cancelling 40,000 finished
        futures held its event loop for 25 s. What still runs is cancelled in small batches.
        """
        futures, self._futures, self._applied = [*self._futures, *self._applied], [], []
        pending = [future for future in futures if not future.done()]
        for start in range(0, len(pending), self.CANCEL_BATCH):
            if self.client.status != "running":
                break
            try:
                self.client.cancel(pending[start : start + self.CANCEL_BATCH])
            except Exception:
                break

    def _submit(self, tasks: Sequence[Task]) -> list[Any]:
        # One batch, however many shards; a task lost with its worker is re-run elsewhere
        # by the scheduler, and retries cover errors that may pass on another try.
        futures = self.client.map(_run_task, [anchored(t) for t in tasks], pure=False, retries=1)
        self._futures.extend(futures)
        return list(futures)

    def _apply(
        self,
        function: Callable[..., Any],
        futures: list[Any],
        fold: Callable[[Any], Any] | None = None,
        **kwargs: Any,
    ) -> list[Any]:
        """``function(partial, **kwargs)`` for each future's partial, on its worker, gathered in order.

        Only the partials stay on the workers: these results are released once gathered.
        """
        self._applied = list(self.client.map(function, futures, pure=False, **kwargs))
        found = self.gather(self._applied, fold=fold)
        self._applied = []
        return found

    def gather(self, futures: list[Any], fold: Callable[[Any], Any] | None = None) -> list[Any]:
        """The futures' results in order, collected as they complete, with one line for any failure.

        ``fold`` is called on each result as it arrives, and what it returns is kept instead
        (so that big parts of results are merged and dropped at once, not held for every shard).
        """
        from concurrent.futures import CancelledError  # what Dask's cancelled futures raise

        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        position = {future.key: i for i, future in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        # One watcher for all the futures, set up once: distributed.wait(pending, FIRST_COMPLETED)
        # in a loop makes a waiting asyncio task per pending future on every call and leaves them
        # waiting (at 10,000 shards, 1.2 GB of client memory instead of 0.2).
        completed = as_completed(futures, loop=self.client.loop)
        idle_since = time.monotonic()
        alone_since: float | None = None
        try:
            while not completed.is_empty():
                finished = completed.next_batch(block=False)
                if finished:
                    idle_since, alone_since = time.monotonic(), None
                    for future, value in zip(finished, self.client.gather(finished), strict=True):
                        results[position[future.key]] = value if fold is None else fold(value)
                    continue
                time.sleep(self.POLL_SECONDS)
                if time.monotonic() - idle_since < 1.0:
                    continue
                # A second without a result: is anyone still there to compute one?
                idle_since = time.monotonic()
                if self.client.status in ("closed", "closing"):
                    raise self._lost()
                if self.client.nthreads():
                    alone_since = None
                    continue
                alone_since = alone_since or time.monotonic()
                if time.monotonic() - alone_since > self.engine.worker_timeout:
                    raise InputError(
                        f"every Dask worker left {self.where}, and none joined within "
                        f"{self.engine.worker_timeout:g} s; no result was computed",
                        hint="check the workers' memory and logs; "
                        f"{option('worker_timeout')} SECONDS waits longer",
                    )
        except KilledWorker as exc:
            raise InputError(
                f"a Dask worker died while running a shard ({exc}); no result was computed",
                hint="check the workers' memory and logs",
            ) from None
        except CancelledError as exc:
            if self.client.status == "running" and "connection" not in str(exc):
                raise InputError(f"a Dask task was cancelled: {exc}") from None
            raise self._lost() from None
        except (OSError, TimeoutError) as exc:
            if self.client.status == "running" and not _comm_error(exc):
                raise
            raise self._lost() from None
        return results

    def _lost(self) -> InputError:
        return InputError(
            f"lost the connection to {self.where}; no result was computed",
            hint="check that the scheduler is running and reachable",
        )

    def partials(self, tasks: Sequence[Task]) -> list[Partial]:
        return self.gather(self._submit(tasks))

    def result(self, tasks: Sequence[Task], spec: ResultSpec, needs: Needs) -> Result:
        futures = self._submit(tasks)
        digests: list[Digest]
        if spec.weighted:  # merged from the shards' exact sums and answers (pipeline.dask_weighted)
            from xent_cli.pipeline.dask_weighted import weighted_result

            weighted = weighted_result(self, futures, spec, needs.worst)
            if weighted is None:  # NaN values: the partials merge here, as on the local engine
                return merged_result(self.gather(futures), spec, needs)
            result, digests = weighted
        else:
            merged = _Merged()
            digests = self._apply(_digest, futures, fold=merged.add, worst=needs.worst)
            percentiles = self._percentiles(futures, merged)
            result = merge_digests(digests, spec, merged.summaries, percentiles, worst=needs.worst)
        remote = result.remote
        assert remote is not None  # a merged digest's rows stay on the workers
        offsets = row_offsets(digests)
        numbered = any(d.has_kept for d in digests)
        with_ids = all(d.has_ids for d in digests)
        if needs.histogram:
            remote.histogram = self._histogram(futures, digests)
        if needs.head:
            self._fill_head(result, futures, digests, needs.head, numbered, with_ids)
        if needs.resamples:
            result.resample_sums = self._resample(futures, digests, needs)
        if needs.rows:
            remote.fetch = lambda: self._rows(futures, digests, offsets, numbered, with_ids)
        return result

    def _resample(self, futures: list[Any], digests: list[Digest], needs: Needs) -> ResampleSums:
        """Every shard's bootstrap sums, from its own rows, added in shard order (as the local engine)."""
        starts = [0]
        for d in digests[:-1]:
            starts.append(starts[-1] + d.count)
        self._applied = list(
            self.client.map(
                resample_partial, futures, starts, pure=False, resamples=needs.resamples, seed=needs.seed
            )
        )
        found: list[ResampleSums] = self.gather(self._applied)
        self._applied = []
        total = found[0]
        for sums in found[1:]:
            total.add(sums)
        return total

    def _percentiles(self, futures: list[Any], merged: _Merged) -> list[dict[float, float]]:
        """Every measure's summary percentiles, exactly: the workers answer about their own values."""
        from xent_cli.core.stats import PercentilePlan

        plans = [
            PercentilePlan(SUMMARY_PERCENTILES, max_values=self.BUCKET_VALUES, histogram=histogram)
            for histogram in merged.histograms()
        ]

        def add(responses: dict[int, PercentileResponse]) -> None:
            for i, response in responses.items():
                plans[i].add(response)

        while True:
            requests = {i: plan.request() for i, plan in enumerate(plans) if plan.request() is not None}
            if not requests:
                break
            self._apply(_answer, futures, fold=add, requests=requests)
            for i in requests:
                plans[i].advance()
        return [dict(zip(SUMMARY_PERCENTILES, plan.result().tolist(), strict=True)) for plan in plans]

    def _histogram(self, futures: list[Any], digests: list[Digest]) -> Histogram | None:
        import numpy as np

        spread = digests[0].spread
        for d in digests[1:]:
            spread = spread.merge(d.spread)
        bins = histogram_bins(spread)
        if bins is None:
            return None
        counts = np.sum(self._apply(_count_bins, futures, bins=bins), axis=0)
        return histogram_of(spread, bins, counts.astype(np.int64))

    def _fill_head(
        self,
        result: Result,
        futures: list[Any],
        digests: list[Digest],
        n: int,
        numbered: bool,
        with_ids: bool,
    ) -> None:
        """The first ``n`` rows into the result's measures (a table shows them)."""
        import numpy as np

        from xent_cli.columns.buffer import consolidate

        values: list[list[NDArray[np.float64]]] = [[] for _ in result.measures]
        ids: list[str] = []
        numbers: list[NDArray[np.int64]] = []
        taken, offset = 0, 0
        for future, d in zip(futures, digests, strict=True):
            if taken >= n:
                break
            if d.count:
                [part] = self._apply(_head, [future], n=n - taken)
                for i, m in enumerate(part.measures):
                    values[i].append(m.values)
                ids.extend(part.ids or [])
                kept = part.kept if part.kept is not None else np.arange(part.count, dtype=np.int64)
                numbers.append(kept + offset + 1)
                taken += part.count
            offset += d.meta.rows_read if numbered else d.count
        for measure, blocks in zip(result.measures, values, strict=True):
            measure.values = consolidate(blocks) if blocks else np.empty(0)
        result.ids = ids if with_ids else None
        result.row_numbers = np.concatenate(numbers) if numbered and numbers else None

    def _rows(
        self,
        futures: list[Any],
        digests: list[Digest],
        offsets: list[int],
        numbered: bool,
        with_ids: bool,
    ) -> Iterator[RowBlock]:
        """Every row, shard after shard, a few shards' worth at a time; each shard released when written."""
        from xent_cli.results import RowBlock

        index, limit = 0, self.ROWS_PER_FETCH
        while index < len(futures):
            stop, rows = index, 0
            while stop < len(futures) and (stop == index or rows + digests[stop].count <= limit):
                rows += digests[stop].count
                stop += 1
            batch = futures[index:stop]
            parts: list[Partial] = self.gather(batch)
            for offset, part in zip(offsets[index:stop], parts, strict=True):
                numbers = part.kept + offset + 1 if numbered and part.kept is not None else None
                if numbered and numbers is None:
                    import numpy as np

                    numbers = np.arange(part.count, dtype=np.int64) + offset + 1
                yield RowBlock(
                    offset, [m.values for m in part.measures], part.ids if with_ids else None, numbers
                )
            for future in batch:
                future.release()
            del parts
            index = stop


class _Merged:
    """The digests' summaries merged as they arrive: each shard's key histogram is added and dropped.

    Client memory is then one dense 65,536-bucket count per measure, however many shards.
    """

    def __init__(self) -> None:
        self.summaries: list[Any] = []
        self._counts: list[NDArray[np.int64]] = []
        self._nan_counts: list[int] = []

    def add(self, found: Digest) -> Digest:
        import numpy as np

        from xent_cli.core.stats import Summary

        lean = []
        for i, summary in enumerate(found.summaries):
            histogram = summary.key_histogram()
            moments_only = Summary()
            moments_only.moments = summary.moments
            lean.append(moments_only)
            if i == len(self._counts):
                self._counts.append(np.zeros(1 << 16, dtype=np.int64))
                self._nan_counts.append(0)
            if histogram is not None:
                np.add.at(self._counts[i], histogram.buckets.astype(np.int64), histogram.counts)
                self._nan_counts[i] += histogram.nan_count
        self.summaries = (
            lean if not self.summaries else [a + b for a, b in zip(self.summaries, lean, strict=True)]
        )
        found.summaries = []
        return found

    def histograms(self) -> list[Any]:
        import numpy as np

        from xent_cli.core.stats import KeyHistogram

        found = []
        for counts, nan_count in zip(self._counts, self._nan_counts, strict=True):
            present = np.flatnonzero(counts)
            found.append(KeyHistogram(0, present.astype(np.uint64), counts[present], nan_count))
        return found


def _comm_error(exc: BaseException) -> bool:
    """A failure of the connection to the scheduler (not an error raised by a task)."""
    from distributed.comm.core import CommClosedError

    return isinstance(exc, CommClosedError)
