"""Partials and digests: the Dask engine's summaries, computed without a cluster."""

from __future__ import annotations

import numpy as np
import pytest

# --- digests: the Dask engine's summaries, without a cluster ---------------------------------------


def _protocol_result(parts: list, spec: object, worst: int) -> object:  # type: ignore[type-arg]
    """What the Dask engine computes from ``parts``, with the workers' side run in this process."""
    from xent_cli.core.stats import PercentilePlan, answer
    from xent_cli.pipeline.dask_engine import DaskSession, _Merged
    from xent_cli.pipeline.partials import SUMMARY_PERCENTILES, digest, merge_digests

    merged = _Merged()
    digests = [merged.add(digest(p, worst)) for p in parts]
    plans = [
        PercentilePlan(SUMMARY_PERCENTILES, max_values=DaskSession.BUCKET_VALUES, histogram=h)
        for h in merged.histograms()
    ]
    for i, plan in enumerate(plans):
        while (request := plan.request()) is not None:
            for p in parts:
                plan.add(answer(p.measures[i].values, request))
            plan.advance()
    found = [dict(zip(SUMMARY_PERCENTILES, plan.result().tolist(), strict=True)) for plan in plans]
    return merge_digests(digests, spec, merged.summaries, found, worst=worst), digests  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_digests_give_the_merged_summaries_worst_rows_and_histogram(seed: int) -> None:
    from xent_cli.columns.histogram import count_bins, histogram, histogram_bins, histogram_of
    from xent_cli.pipeline.partials import MeasurePart, Partial, ResultSpec, merge
    from xent_cli.results import Unit

    rng = np.random.default_rng(seed)
    sizes = [5000, 0, 1, 9000, 300][: 3 + seed]
    parts, start = [], 0
    for n in sizes:
        kl = rng.exponential(size=n) * (10.0 ** rng.integers(-8, 3, size=n))
        kl[rng.random(n) < 0.02] = 0.0
        kl[rng.random(n) < 0.01] = np.inf
        kl[: n // 10] = 0.25  # ties, and a key bucket bigger than one fetch
        same = (rng.random(n) < 0.7).astype(np.float64)
        ids = [f"r{start + i}" for i in range(n)]
        parts.append(
            Partial([MeasurePart("kl", "KL", kl), MeasurePart("top1", "top-1", same, "none")], n, ids=ids)
        )
        start += n
    spec = ResultSpec("kl", "KL", Unit.parse("e"), {"p": "p"})
    whole = merge(list(parts), spec)
    remote, digests = _protocol_result(parts, spec, worst=5)
    assert remote.count == whole.count == sum(sizes)
    for key in ("kl", "top1"):
        for extended in (False, True):
            np.testing.assert_equal(
                remote.summary(key, extended=extended), whole.summary(key, extended=extended)
            )
    assert remote.worst_rows(5) == whole.worst_rows(5)
    spread = digests[0].spread
    for d in digests[1:]:
        spread = spread.merge(d.spread)
    bins = histogram_bins(spread)
    assert bins is not None
    counts = np.sum([count_bins(p.measures[0].values, bins) for p in parts], axis=0)
    assert histogram_of(spread, bins, counts) == histogram(whole.headline.values)
