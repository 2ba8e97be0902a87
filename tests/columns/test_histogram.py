"""The one histogram rule (xent_cli.columns.histogram): bins, counts, and parts counted apart."""

from __future__ import annotations

import math

import numpy as np

from xent_cli.columns.histogram import count_bins, histogram, histogram_bins, histogram_of, spread_of


def test_histogram_is_linear_for_a_narrow_range() -> None:
    spread = histogram(np.linspace(1.0, 2.0, 50))
    assert spread is not None and not spread.log_scale
    assert sum(spread.counts) == 50


def test_histogram_is_logarithmic_across_decades_and_counts_every_value() -> None:
    values = np.concatenate([np.geomspace(1e-8, 1e-1, 40), [0.0, 0.0, math.inf]])
    spread = histogram(values)
    assert spread is not None and spread.log_scale
    assert sum(spread.counts) == 40 and spread.zeros == 2 and spread.infinite == 1
    assert spread.lows[0] == 1e-8 and spread.highs[-1] == 1e-1


def test_histograms_on_a_linear_scale_count_as_one_array_does() -> None:
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


# Formerly the cases of core.stats.histogram, a second copy of the rule that only tests used.


def test_linear_histogram_is_numpys() -> None:
    x = np.random.default_rng(3).normal(size=1000)
    h = histogram(np.concatenate([x, [math.nan, math.inf]]), bins=8)
    counts, edges = np.histogram(x, bins=8)
    assert h is not None and not h.log_scale and h.counts == counts.tolist()
    assert h.lows == edges[:-1].tolist() and h.highs == edges[1:].tolist()
    assert h.infinite == 2  # the nan and the inf row: in no bin


def test_log_histogram_for_values_spanning_decades() -> None:
    x = np.concatenate([10.0 ** np.arange(-8, 1), [0.0, 0.0]])
    h = histogram(x, bins=4)
    assert h is not None and h.log_scale and h.zeros == 2
    assert h.lows[0] == 1e-8 and h.highs[-1] == 1.0 and sum(h.counts) == 9
    negative = histogram(np.array([-1.0, 1e-8, 1.0]))
    assert negative is not None and not negative.log_scale  # negative values: linear
    narrow = histogram(np.array([1.0, 999.0]))
    assert narrow is not None and not narrow.log_scale  # under three decades
    wide = histogram(np.array([1.0, 1000.0]))
    assert wide is not None and wide.log_scale  # three decades exactly: log (the table's rule)


def test_nothing_to_show_for_fewer_than_two_distinct_values() -> None:
    assert histogram(np.array([])) is None
    assert histogram(np.array([2.0, 2.0, math.inf])) is None
