"""What one task contributes, and the merge of consecutive tasks' contributions into a result.

A task reads one source (or one shard, or one pair of shards) and returns a
:class:`Partial`: its per-row values, ids, notes and the accumulators of
anything that is summed over rows (explanations, loss counts). Merging
partials in task order gives the same :class:`~xent_cli.results.Result`
whether one task read everything or many tasks read a shard each, on this
machine or on a cluster: sums are exactly rounded, percentiles exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xent_cli.columns.buffer import consolidate
from xent_cli.columns.histogram import Spread, spread_of
from xent_cli.columns.statistics import mean, summary_fields
from xent_cli.results import (
    Contribution,
    ExplainFormulas,
    Explanation,
    InfoSummary,
    LossSummary,
    Measure,
    Result,
    SampleSummary,
    Scaling,
    Smoothing,
    Unit,
)

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.core.lm import LMPanel


@dataclass
class MeasurePart:
    """One measure's per-row values from one task, in the result's unit."""

    key: str
    label: str
    values: NDArray[np.float64]
    scaling: Scaling = "unit"


@dataclass
class ExplainPart:
    """Per-outcome sums over a task's rows, for ``--explain``.

    ``sums`` are the non-negative contributions to the headline measure,
    ``term_sums`` the textbook terms, ``p_sums``/``q_sums`` the probabilities,
    ``information_sums`` the information content (``−log p`` or ``−log q``), all
    in the result's unit; ``infinite_rows`` counts, per outcome, the rows where
    the contribution is infinite.
    """

    measure: str
    label: str
    sums: NDArray[np.float64]
    rows: int
    outcomes: list[str] | None
    term_sums: NDArray[np.float64] | None = None
    p_sums: NDArray[np.float64] | None = None
    q_sums: NDArray[np.float64] | None = None
    information_sums: NDArray[np.float64] | None = None
    infinite_rows: NDArray[np.int64] | None = None
    formulas: ExplainFormulas | None = None


@dataclass
class LossPart:
    """What ``loss`` counts beside its per-row values."""

    ignored_rows: int
    label_smoothing: float
    binary: bool
    clip: float | None = None
    smooth: float = 0.0
    # --weights: exact sums of the weights, of weight x NLL (in nats) and of weight x correct.
    weights: tuple[Any, Any, Any] | None = None


@dataclass
class Partial:
    """The contribution of one task."""

    measures: list[MeasurePart]
    rows_read: int
    ids: list[str] | None = None
    # 0-based rows of this task's input that were kept, when some were left out.
    kept: NDArray[np.int64] | None = None
    notes: list[str] = field(default_factory=list)
    layouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    id_name: str | None = None
    explain: ExplainPart | None = None
    loss: LossPart | None = None
    # A task may name its sources itself (one table read as P and Q).
    sources: dict[str, str] | None = None
    # Whole-input results that are not per row: computed inside one task.
    info: InfoSummary | None = None
    samples: SampleSummary | None = None
    # compare: the language-model panel's mergeable sums (its percentiles come from the measures).
    panel: LMPanel | None = None
    # calibration: exact per-bin sums (xent_cli.pipeline.calibration.CalibrationPart).
    calibration: Any = None
    # --weights: each kept row's sample weight (the summaries are weighted; xent_cli.core.weighted).
    weights: NDArray[np.float64] | None = None

    @property
    def count(self) -> int:
        return int(self.measures[0].values.shape[0])


@dataclass(frozen=True)
class ResultSpec:
    """What the merge needs to know about the command, beside the partials."""

    command: str
    title: str
    unit: Unit
    sources: dict[str, str]
    explain_top: int | None = None
    smoothing: Smoothing | None = None
    # --weights: the partials carry per-row weights and every summary is weighted.
    weighted: bool = False


def merge(parts: list[Partial], spec: ResultSpec) -> Result:
    """One result from the partials of consecutive tasks, as if computed in one pass."""
    import numpy as np

    first = parts[0]
    measures = [
        Measure(m.key, m.label, _concat([p.measures[i].values for p in parts]), m.scaling)
        for i, m in enumerate(first.measures)
    ]
    ids = [i for p in parts for i in (p.ids or [])] if all(p.ids is not None for p in parts) else None
    row_numbers = None
    if any(p.kept is not None for p in parts):
        numbers, offset = [], 0
        for p in parts:
            kept = p.kept if p.kept is not None else np.arange(p.rows_read, dtype=np.int64)
            numbers.append(kept + offset + 1)
            offset += p.rows_read
        row_numbers = np.concatenate(numbers)
    result = _assemble(parts, spec, measures)
    result.ids = ids
    result.row_numbers = row_numbers
    if first.weights is not None:
        from xent_cli.pipeline.weights import check_not_all_zero

        result.weights = consolidate([p.weights for p in parts if p.weights is not None])
        check_not_all_zero(result.weights)
    if first.loss is not None:
        result.loss = _loss(parts, mean(measures[0].values), mean(measures[1].values), spec.unit)
    if first.panel is not None:
        result.panel = _panel([p.panel for p in parts if p.panel is not None], result)
    if first.calibration is not None:
        from xent_cli.pipeline.calibration import summarize as calibration_summary

        result.calibration = calibration_summary([p.calibration for p in parts], measures)
    return result


def _assemble(parts: list[Partial], spec: ResultSpec, measures: list[Measure]) -> Result:
    """The result's parts that do not depend on where the per-row values are."""
    first = parts[0]
    layouts: dict[str, dict[str, Any]] = {}
    for p in parts:
        for key, layout in p.layouts.items():
            if layout:
                layouts.setdefault(key, layout)
    result = Result(
        command=spec.command,
        title=spec.title,
        unit=spec.unit,
        sources=first.sources or spec.sources,
        measures=measures,
        notes=list(dict.fromkeys(note for p in parts for note in p.notes)),
        layouts=layouts,
        id_name=first.id_name,
        smoothing=spec.smoothing,
        info=first.info,
        samples=first.samples,
    )
    if first.explain is not None:
        result.explanation = _explanation([p.explain for p in parts if p.explain], spec)
    return result


def _panel(parts: list[LMPanel], result: Result) -> dict[str, float]:
    """The panel's fields; every ``kl.*`` and ``delta_p.*`` statistic is that of the per-row measure."""
    from functools import reduce

    from xent_cli.core.lm import PANEL_PERCENTILES

    panel = reduce(lambda a, b: a + b, parts)
    per_row = {"kl": "kl"} if not panel.targets else {"kl": "kl", "delta_p": "delta_p"}
    # Only the measures that were computed (compare --measures js has no kl column): the
    # panel's kl.* and delta_p.* fields are those columns' statistics, so without the column
    # they are left out, not invented.
    computed = {m.key for m in result.measures}
    measured = {prefix: key for prefix, key in per_row.items() if key in computed}
    scale = {"kl": result.unit.scale, "delta_p": 1.0}
    wanted = {prefix: dict.fromkeys(PANEL_PERCENTILES, math.nan) for prefix in per_row}
    for prefix, key in measured.items():
        summary = result.summary(key, extended=True)
        wanted[prefix] = {q: summary[_percentile_name(q)] * scale[prefix] for q in PANEL_PERCENTILES}
    fields: dict[str, float] = {
        name: value
        for name, value in panel.to_dict(percentile_values=wanted, log_base=result.unit.base).items()
        if name.split(".", 1)[0] not in per_row or name.split(".", 1)[0] in measured
    }
    for prefix, key in measured.items():
        summary = result.summary(key, extended=True)
        for stat in ("mean", "std_error", "min", *(_percentile_name(q) for q in PANEL_PERCENTILES), "max"):
            fields[f"{prefix}.{stat}"] = summary[stat]
    return fields


def _percentile_name(q: float) -> str:
    from xent_cli.core.stats import percentile_name

    return percentile_name(q)


def _concat(arrays: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    return consolidate(list(arrays))


def _explanation(parts: list[ExplainPart], spec: ResultSpec) -> Explanation:
    import numpy as np

    first = parts[0]
    rows = sum(p.rows for p in parts)

    def mean_of(name: str) -> NDArray[np.float64] | None:
        arrays = [getattr(p, name) for p in parts]
        if any(a is None for a in arrays):
            return None
        total: NDArray[np.float64] = np.sum(arrays, axis=0) if len(arrays) > 1 else arrays[0]
        return total / rows

    means = mean_of("sums")
    assert means is not None
    terms = mean_of("term_sums")
    terms = means if terms is None else terms
    p_means, q_means, information = mean_of("p_sums"), mean_of("q_sums"), mean_of("information_sums")
    counts = [p.infinite_rows for p in parts if p.infinite_rows is not None]
    infinite = np.sum(counts, axis=0) if len(counts) == len(parts) else np.isinf(means).astype(np.int64)
    total = _total(means)
    names = first.outcomes or [str(i) for i in range(means.shape[0])]
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = means / total if 0 < total < math.inf else np.zeros_like(means)
    order = np.argsort(-means, kind="stable")
    if spec.explain_top is not None:
        order = order[: spec.explain_top]

    def at(values: NDArray[np.float64] | None, i: int) -> float | None:
        return None if values is None else float(values[i])

    outcomes = [
        Contribution(
            names[i],
            float(means[i]),
            None if math.isinf(total) else float(shares[i]),
            term=float(terms[i]),
            p=math.nan if p_means is None else float(p_means[i]),
            q=at(q_means, i),
            information=at(information, i) if rows == 1 else None,
            infinite_rows=int(infinite[i]),
        )
        for i in order
    ]
    return Explanation(
        measure=first.measure,
        label=first.label,
        total=total,
        outcomes=outcomes,
        rows=rows,
        formulas=first.formulas or ExplainFormulas("contribution", "contribution"),
        term_total=_total(terms),
        n_outcomes=int(means.shape[0]),
        infinite_outcomes=int(np.count_nonzero(infinite)),
        pair=q_means is not None,
    )


def _total(values: NDArray[np.float64]) -> float:
    """``math.fsum`` of per-outcome values, which may hold ``inf``."""
    import numpy as np

    if np.isposinf(values).any():
        return math.inf if not np.isneginf(values).any() else math.nan
    return math.fsum(values.tolist())


def _loss(parts: list[Partial], mean_nll: float, accuracy: float, unit: Unit) -> LossSummary:
    first = parts[0].loss
    assert first is not None
    if first.weights is not None:  # sklearn's log_loss(..., sample_weight=): weighted means
        from functools import reduce

        sums = [p.loss.weights for p in parts if p.loss is not None and p.loss.weights is not None]
        total, nll, correct = (reduce(lambda a, b: a + b, column) for column in zip(*sums, strict=True))
        weight = total.exact()
        if weight == 0:
            from xent_cli.errors import InputError
            from xent_cli.pipeline.weights import ALL_ZERO, HINT

            raise InputError(ALL_ZERO, hint=HINT)
        mean_nll = nll.special() or float(nll.exact() / weight) / unit.scale
        accuracy = float(correct.exact() / weight)
    nll_nats = mean_nll * unit.scale
    return LossSummary(
        log_loss=nll_nats / unit.scale,
        perplexity=math.exp(nll_nats) if nll_nats < 709 else math.inf,
        accuracy=accuracy,
        ignored_rows=sum(p.loss.ignored_rows for p in parts if p.loss),
        label_smoothing=first.label_smoothing,
        binary=first.binary,
        clip=first.clip,
        smooth=first.smooth,
        weighted=first.weights is not None,
    )


# --- digests: what a task's rows contribute, without the rows --------------------------------------
#
# The Dask engine keeps each task's partial on the worker that computed it and brings back
# only its digest (exact sums and counts, min/max, the depth-0 key histogram that starts the
# exact percentile protocol, the worst rows, what the table's histogram needs): a few KB
# whatever the number of rows. Percentiles then take one or two more rounds in which each
# worker answers about its own values (xent_cli.core.stats.PercentilePlan); per-row output,
# if any, is fetched shard after shard. Same numbers, bit for bit, as merge().

# The percentiles every summary reports (the extended ones too: gates, the compare panel).
SUMMARY_PERCENTILES: tuple[float, ...] = (0.1, 1.0, 5.0, 10.0, 50.0, 90.0, 95.0, 99.0, 99.9)


@dataclass
class Digest:
    """A task's partial without its per-row values: what the client needs to summarize them.

    ``meta`` is the partial with empty per-row arrays (notes, layouts,
    explanations, loss counts, the compare panel's sums); ``summaries`` hold
    each measure's exact moments and depth-0 key histogram; ``worst`` the
    rows with the largest headline value, as 1-based row numbers of this
    task's input.
    """

    meta: Partial
    count: int
    summaries: list[Any]
    worst: list[tuple[int, float, str | None]]
    spread: Spread
    has_ids: bool
    has_kept: bool


def digest(partial: Partial, worst: int = 0, *, summaries: bool = True) -> Digest:
    """The digest of one task's partial (run where the partial is).

    ``summaries=False`` leaves out the unweighted summaries (a weighted result has its own).
    """
    import numpy as np

    from xent_cli.core.stats import Summary, WorstRows

    found_summaries = (
        [Summary(key_histogram=True).add(m.values) for m in partial.measures] if summaries else []
    )
    headline = partial.measures[0].values
    found: list[tuple[int, float, str | None]] = []
    if worst:
        for index, value, row_id in WorstRows(worst).add(headline, 0, partial.ids).rows():
            number = int(partial.kept[index]) + 1 if partial.kept is not None else index + 1
            found.append((number, value, row_id))
    meta = Partial(
        measures=[MeasurePart(m.key, m.label, np.empty(0), m.scaling) for m in partial.measures],
        rows_read=partial.rows_read,
        notes=partial.notes,
        layouts=partial.layouts,
        id_name=partial.id_name,
        explain=partial.explain,
        loss=partial.loss,
        sources=partial.sources,
        info=partial.info,
        samples=partial.samples,
        panel=partial.panel,
        calibration=partial.calibration,
    )
    return Digest(
        meta,
        partial.count,
        found_summaries,
        found,
        spread_of(headline),
        partial.ids is not None,
        partial.kept is not None,
    )


def row_offsets(digests: list[Digest]) -> list[int]:
    """The row number (0-based) before each task's first row, as :func:`merge` numbers them.

    Tasks that left rows out count every row they read; otherwise rows are
    numbered by position.
    """
    by_rows_read = any(d.has_kept for d in digests)
    offsets, total = [], 0
    for d in digests:
        offsets.append(total)
        total += d.meta.rows_read if by_rows_read else d.count
    return offsets


def merge_digests(
    digests: list[Digest],
    spec: ResultSpec,
    summaries: list[Any],
    percentiles: list[dict[float, float]],
    worst: int = 0,
    fields: list[dict[bool, dict[str, float]]] | None = None,
) -> Result:
    """The result of :func:`merge` without the per-row values: every summary, worst row and extra.

    ``summaries[i]`` is measure ``i``'s :class:`~xent_cli.core.stats.Summary`
    merged over every digest, and ``percentiles[i]`` its
    :data:`SUMMARY_PERCENTILES`, found by the exact protocol over the parts;
    the result's ``remote`` rows are counted and its measures hold no values. ``fields``, when
    given, are each measure's summary fields already found (plain and extended, by
    ``extended``): a weighted result's (:mod:`xent_cli.pipeline.dask_weighted`).
    """
    import numpy as np

    from xent_cli.results import RemoteRows, WorstRow

    metas = [d.meta for d in digests]
    first = metas[0]
    measures = [Measure(m.key, m.label, np.empty(0), m.scaling) for m in first.measures]
    result = _assemble(metas, spec, measures)
    result.remote = remote = RemoteRows(sum(d.count for d in digests))
    if fields is None:
        means = [summary.moments.mean() for summary in summaries]
        fields = [
            {
                extended: summary_fields(summary, extended=extended, percentile_values=found)
                for extended in (False, True)
            }
            for summary, found in zip(summaries, percentiles, strict=True)
        ]
    else:
        means = [known[False]["mean"] for known in fields]
    for measure, known in zip(measures, fields, strict=True):
        for extended in (False, True):
            result._summaries[(measure.key, extended)] = known[extended]
    if worst:
        candidates = [
            (number + offset, value, row_id)
            for d, offset in zip(digests, row_offsets(digests), strict=True)
            for number, value, row_id in d.worst
        ]
        candidates.sort(key=lambda row: (-row[1], row[0]))
        remote.worst = [
            WorstRow(number, row_id if all(d.has_ids for d in digests) else None, value)
            for number, value, row_id in candidates[:worst]
        ]
    if first.loss is not None:
        result.loss = _loss(metas, means[0], means[1], spec.unit)
    if first.panel is not None:
        result.panel = _panel([m.panel for m in metas if m.panel is not None], result)
    if first.calibration is not None:
        from xent_cli.pipeline.calibration import summarize as calibration_summary

        result.calibration = calibration_summary([m.calibration for m in metas], None)
    return result
