"""RowBuffer and consolidate: per-row values held once, whatever the blocks."""

from __future__ import annotations

import mmap

import numpy as np
import pytest

from xent_cli.pipeline import partials
from xent_cli.pipeline.partials import RowBuffer, consolidate


def _blocks(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random(int(n)) for n in rng.integers(0, 70_000, 40)]


def test_row_buffer_holds_what_concatenate_would() -> None:
    blocks = _blocks()
    buffer = RowBuffer()
    for block in blocks:
        buffer.append(block)
    assert len(buffer) == sum(b.shape[0] for b in blocks)
    np.testing.assert_array_equal(buffer.finish(2.0), np.concatenate(blocks) / 2.0)


def test_row_buffer_takes_broadcast_views_and_starts_empty() -> None:
    buffer = RowBuffer()
    assert buffer.finish().shape == (0,)
    buffer = RowBuffer()
    buffer.append(np.broadcast_to(np.array([0.25]), (5,)))
    buffer.append(np.array([1.0]))
    np.testing.assert_array_equal(buffer.finish(), [0.25] * 5 + [1.0])


def test_row_buffer_falls_back_where_a_map_cannot_grow(monkeypatch: pytest.MonkeyPatch) -> None:
    class Fixed(mmap.mmap):
        def resize(self, newsize: int) -> None:
            raise SystemError("mremap unavailable")

    monkeypatch.setattr(partials.mmap, "mmap", Fixed)
    blocks = _blocks(1)
    buffer = RowBuffer()
    for block in blocks:
        buffer.append(block)
    np.testing.assert_array_equal(buffer.finish(), np.concatenate(blocks))


def test_consolidate_empties_the_list() -> None:
    blocks = _blocks(2)
    expected = np.concatenate(blocks)
    np.testing.assert_array_equal(consolidate(blocks), expected)
    assert blocks == []
    single = [np.arange(3.0)]
    assert consolidate(single).tolist() == [0.0, 1.0, 2.0]


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
    from xent_cli.pipeline.partials import (
        MeasurePart,
        Partial,
        ResultSpec,
        count_bins,
        histogram_bins,
        histogram_of,
        merge,
    )
    from xent_cli.render import histogram
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


def test_histograms_on_a_linear_scale_count_as_one_array_does() -> None:
    from xent_cli.pipeline.partials import count_bins, histogram_bins, histogram_of, spread_of
    from xent_cli.render import histogram

    rng = np.random.default_rng(9)
    blocks = [rng.normal(size=n) for n in (700, 1, 2500)] + [np.array([np.nan, -np.inf, 3.0])]
    spreads = [spread_of(b) for b in blocks]
    spread = spreads[0]
    for other in spreads[1:]:
        spread = spread.merge(other)
    bins = histogram_bins(spread)
    assert bins is not None and not bins.log_scale
    counts = np.sum([count_bins(b, bins) for b in blocks], axis=0)
    assert histogram_of(spread, bins, counts) == histogram(np.concatenate(blocks))
