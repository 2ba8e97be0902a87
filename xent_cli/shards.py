"""Sharded inputs and engines: run a per-row command shard by shard, locally or on Dask.

A source given as a glob or a folder is a list of shards read as one batch, in
order. Each shard (or pair of shards) is one task that runs the ordinary
command on it; the per-row results are then concatenated in shard order, so the
summary (an exactly rounded sum, exact percentiles) and the gates are the same
whichever engine ran the tasks and however the work was split.

``--engine dask`` runs the tasks on a Dask cluster (``dask.distributed``): a
local cluster of worker processes, or an existing one named by ``--scheduler``
or ``XENT_SCHEDULER``. Dask is imported only then.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from xent_cli.align import InputSpec
from xent_cli.errors import InputError, UsageError
from xent_cli.results import Contribution, Explanation, Measure, Result, Unit

if TYPE_CHECKING:
    from xent_cli.compute import LossSettings

# Explanations are merged from every outcome's contribution, then cut to --top.
_ALL_OUTCOMES = 1 << 30


@dataclass(frozen=True)
class Engine:
    """Where tasks run: ``local`` (this process, in order) or ``dask``."""

    name: str = "local"
    scheduler: str | None = None

    def run(self, tasks: Sequence[tuple[Callable[..., Result], tuple[Any, ...]]]) -> list[Result]:
        if self.name == "local":
            return [function(*args) for function, args in tasks]
        return _run_on_dask(tasks, self.scheduler or os.environ.get("XENT_SCHEDULER"))


def _run_on_dask(
    tasks: Sequence[tuple[Callable[..., Result], tuple[Any, ...]]], scheduler: str | None
) -> list[Result]:
    try:
        from distributed import Client, LocalCluster
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker
    except ImportError:
        raise UsageError(
            "--engine dask needs Dask's distributed scheduler",
            hint="pip install 'xent[dask]'",
        ) from None
    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout="10s")
            except OSError as exc:
                raise UsageError(f"--scheduler {scheduler}: cannot connect: {exc}") from None
        else:
            cluster = LocalCluster(
                n_workers=os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            client = Client(cluster)
        with client:
            # A task lost with its worker is re-run elsewhere by the scheduler;
            # retries cover errors inside a task that may pass on another try.
            futures = [client.submit(function, *args, pure=False, retries=1) for function, args in tasks]
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


# --- tasks: one shard (or a pair of shards) each; top-level so they pickle -----------------


def entropy_task(spec: InputSpec, unit: Unit, tolerance: float) -> Result:
    from xent_cli.compute import run_entropy

    return run_entropy(spec, unit=unit, tolerance=tolerance)


def pair_task(
    command: str,
    p_spec: InputSpec,
    q_spec: InputSpec,
    unit: Unit,
    tolerance: float,
    smoothing: float | None,
    join_ids: bool,
    explain: bool,
) -> Result:
    from xent_cli.compute import PAIR_COMMANDS, run_pair

    return run_pair(
        PAIR_COMMANDS[command],
        p_spec,
        q_spec,
        unit=unit,
        tolerance=tolerance,
        smoothing=smoothing,
        join_ids=join_ids,
        explain_top=_ALL_OUTCOMES if explain else None,
    )


def loss_task(spec: InputSpec, settings: LossSettings, unit: Unit, tolerance: float) -> Result:
    from xent_cli.compute import run_loss

    return run_loss(spec, settings, unit=unit, tolerance=tolerance)


# --- planning and merging ------------------------------------------------------------------------


def is_sharded(*specs: InputSpec | None) -> bool:
    return any(spec is not None and spec.source.shards is not None for spec in specs)


def split(spec: InputSpec) -> list[InputSpec]:
    return [replace(spec, source=source) for source in spec.source.shard_sources()]


def pair_shards(p_spec: InputSpec, q_spec: InputSpec) -> list[tuple[InputSpec, InputSpec]]:
    """P's shards with Q's, in order; a one-file Q (say an inline reference) goes with every P shard."""
    p_parts, q_parts = split(p_spec), split(q_spec)
    if q_spec.source.shards is None and p_spec.source.shards is not None:
        return [(p, q_spec) for p in p_parts]
    if p_spec.source.shards is None and q_spec.source.shards is not None:
        return [(p_spec, q) for q in q_parts]
    if len(p_parts) != len(q_parts):
        raise InputError(
            f"{p_spec.label} has {len(p_parts)} shards but {q_spec.label} has {len(q_parts)}",
            hint="shards pair in order: give both the same number",
        )
    return list(zip(p_parts, q_parts, strict=True))


def merge(results: list[Result], sources: dict[str, str], top: int | None = None) -> Result:
    """One result from the results of consecutive shards, as if computed in one pass."""
    import numpy as np

    first = results[0]
    measures = [
        Measure(m.key, m.label, np.concatenate([r.measures[i].values for r in results]), m.in_unit)
        for i, m in enumerate(first.measures)
    ]
    ids = None
    if all(r.ids is not None for r in results):
        ids = [i for r in results for i in (r.ids or [])]
    row_numbers: list[int] | None = None
    if any(r.row_numbers is not None for r in results):
        row_numbers, offset = [], 0
        for r in results:
            row_numbers.extend(offset + n for n in (r.row_numbers or range(1, r.count + 1)))
            offset += _rows_read(r)
    notes = list(dict.fromkeys(note for r in results for note in r.notes))
    details = dict(first.details)
    if "loss" in details:
        details["loss"] = _merged_loss(results, measures, first.unit)
    explanation = None
    if first.explanation is not None:
        explanation = _merged_explanation([r.explanation for r in results if r.explanation], top)
    return Result(
        command=first.command,
        title=first.title,
        unit=first.unit,
        sources=sources,
        measures=measures,
        ids=ids,
        notes=notes,
        details=details,
        explanation=explanation,
        row_numbers=row_numbers,
    )


def _rows_read(result: Result) -> int:
    loss = result.details.get("loss")
    ignored = int(loss["ignored_rows"]) if loss else 0
    return result.count + ignored


def _merged_loss(results: list[Result], measures: list[Measure], unit: Unit) -> dict[str, Any]:
    from xent_cli.results import mean

    nll = mean(measures[0].values) * unit.scale  # back to nats for the perplexity
    loss = dict(results[0].details["loss"])
    loss.update(
        log_loss=nll / unit.scale,
        perplexity=math.exp(nll) if nll < 709 else math.inf,
        accuracy=mean(measures[1].values),
        ignored_rows=sum(int(r.details["loss"]["ignored_rows"]) for r in results),
    )
    return loss


def _merged_explanation(parts: list[Explanation], top: int | None) -> Explanation:
    rows = sum(p.rows for p in parts)
    totals: dict[str, float] = {}
    for part in parts:
        for c in part.outcomes:
            totals[c.outcome] = totals.get(c.outcome, 0.0) + c.value * part.rows
    means = {name: value / rows for name, value in totals.items()}
    total = math.fsum(means.values())
    ranked = sorted(means.items(), key=lambda item: -item[1])[: top or len(means)]
    return Explanation(
        measure=parts[0].measure,
        label=parts[0].label,
        total=total,
        outcomes=[Contribution(name, value, value / total if total > 0 else 0.0) for name, value in ranked],
        rows=rows,
    )
