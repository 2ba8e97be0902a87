"""Weighted summaries (``--weights``) on the Dask engine, merged from the shards' partials.

Each shard's partial (values and weights) stays on its worker, as for an unweighted
result. The client gets each shard's digest and :class:`~xent_cli.core.weighted_merge.WeightedMoments`
(exact sums: total weight, Σ w·x, counts, min, max), then asks every shard, in rounds,
about its own rows: the exact Σ (w·(x − mean))² of the standard error once the mean is
known, and for each percentile the count and exact weight of its rows in 256 sub-ranges
of the candidate range, until the range holds few enough rows to fetch (exact selection,
:class:`~xent_cli.core.weighted_merge.WeightedPercentilePlan`). Client memory does not grow
with the rows, and the digits are the local engine's. Rows of positive weight whose value
is NaN (which the exact protocol does not order) bring the partials to the client instead.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from xent_cli.core.stats import DEFAULT_PERCENTILES, EXTRA_PERCENTILES, ExactSum, percentile_name
from xent_cli.core.weighted_merge import (
    Bracket,
    WeightedMoments,
    WeightedPercentilePlan,
    bracket_answer,
    deviation_sum,
    standard_error,
)
from xent_cli.pipeline.partials import Digest, Partial, ResultSpec, digest, merge_digests

if TYPE_CHECKING:
    from xent_cli.results import Result


# --- on the workers --------------------------------------------------------------------------------


def weighted_digest(partial: Partial, worst: int) -> tuple[Digest, list[WeightedMoments]]:
    """A shard's digest (without unweighted summaries) and each measure's weighted moments."""
    assert partial.weights is not None
    moments = [WeightedMoments().add(m.values, partial.weights) for m in partial.measures]
    return digest(partial, worst, summaries=False), moments


def weighted_answer(
    partial: Partial, requests: dict[int, list[Bracket]], means: dict[int, float]
) -> tuple[dict[int, dict[Bracket, Any]], dict[int, ExactSum]]:
    """A shard's answers about its own rows: each requested bracket, and Σ (w·(x − mean))² per mean."""
    weights = partial.weights
    assert weights is not None
    answers = {
        i: {bracket: bracket_answer(partial.measures[i].values, weights, bracket) for bracket in brackets}
        for i, brackets in requests.items()
    }
    deviations = {i: deviation_sum(partial.measures[i].values, weights, mean) for i, mean in means.items()}
    return answers, deviations


# --- on the client ---------------------------------------------------------------------------------


def weighted_result(
    session: Any, futures: list[Any], spec: ResultSpec, worst: int
) -> tuple[Result, list[Digest]] | None:
    """The weighted result of the shards' partials (``futures``), or None when a NaN value needs them here.

    ``session`` is the :class:`~xent_cli.pipeline.dask_engine.DaskSession` that runs the rounds.
    """
    found: list[tuple[Digest, list[WeightedMoments]]] = session._apply(weighted_digest, futures, worst=worst)
    digests = [d for d, _ in found]
    moments = [sum((m[i] for _, m in found[1:]), found[0][1][i]) for i in range(len(found[0][1]))]
    if any(m.nan_count for m in moments):
        return None
    if not moments[0].positive:
        from xent_cli.errors import InputError
        from xent_cli.pipeline.weights import ALL_ZERO, HINT

        raise InputError(ALL_ZERO, hint=HINT)
    qs = sorted(DEFAULT_PERCENTILES + EXTRA_PERCENTILES)
    plans = [WeightedPercentilePlan(qs, m) for m in moments]
    means = {i: m.mean() for i, m in enumerate(moments)}
    wanted_means: dict[int, float] = {i: mean for i, mean in means.items() if math.isfinite(mean)}
    deviations: dict[int, ExactSum] = {i: ExactSum() for i in wanted_means}

    def add(answer: tuple[dict[int, dict[Bracket, Any]], dict[int, ExactSum]]) -> None:
        brackets, sums = answer
        for i, answers in brackets.items():
            plans[i].add(answers)
        for i, value in sums.items():
            deviations[i] = deviations[i] + value

    while True:
        requests = {i: wanted for i, plan in enumerate(plans) if (wanted := plan.request()) is not None}
        if not requests and not wanted_means:
            break
        session._apply(weighted_answer, futures, fold=add, requests=requests, means=wanted_means)
        wanted_means = {}
        for i in requests:
            plans[i].advance()
    fields = [
        _fields(m, plan.result(), qs, deviations.get(i), means[i])
        for i, (m, plan) in enumerate(zip(moments, plans, strict=True))
    ]
    result = merge_digests(digests, spec, [], [], worst=worst, fields=fields)
    result.weight_facts = {
        "total": moments[0].total.value(),
        "zero_rows": moments[0].count - moments[0].positive,
        "percentiles": "inverted_cdf",
    }
    return result, digests


def _fields(
    moments: WeightedMoments, found: list[float], qs: list[float], deviations: ExactSum | None, mean: float
) -> dict[bool, dict[str, float]]:
    """A measure's weighted summary fields, plain and extended, in ``weighted_summary``'s order."""
    by_q = dict(zip(qs, found, strict=True))
    n = moments.positive
    total = float(moments.total.exact())
    fields: dict[bool, dict[str, float]] = {}
    for extended in (False, True):
        wanted = sorted(DEFAULT_PERCENTILES + (EXTRA_PERCENTILES if extended else ()))
        result: dict[str, float] = {"count": moments.count, "mean": mean}
        if extended:
            result["std_error"] = (
                math.nan if deviations is None else standard_error(n, deviations, mean, total)
            )
        result["min"] = moments.minimum if n else math.nan
        for q in wanted:
            result[percentile_name(q)] = by_q[q]
        result["max"] = moments.maximum if n else math.nan
        result["sum"] = moments.products.value() if n else math.nan
        result["inf_count"] = moments.inf_count
        fields[extended] = result
    return fields
