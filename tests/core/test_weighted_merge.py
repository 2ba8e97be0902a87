"""The weighted summary merged from parts (the Dask engine's protocol) equals the one of all the rows."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from xent_cli.core.stats import DEFAULT_PERCENTILES, EXTRA_PERCENTILES
from xent_cli.core.weighted import weighted_percentiles, weighted_summary
from xent_cli.core.weighted_merge import (
    WeightedMoments,
    WeightedPercentilePlan,
    bracket_answer,
    deviation_sum,
    standard_error,
)

QS = sorted(DEFAULT_PERCENTILES + EXTRA_PERCENTILES)


def _merged_percentiles(
    parts: list[tuple[np.ndarray, np.ndarray]], fetch_rows: int
) -> tuple[list[float], int]:
    """The plan run over ``parts`` as the Dask engine runs it; and the rounds it took."""
    moments = WeightedMoments()
    for values, weights in parts:
        moments = moments + WeightedMoments().add(values, weights)
    plan = WeightedPercentilePlan(QS, moments)
    plan.fetch_rows = fetch_rows
    rounds = 0
    while (brackets := plan.request()) is not None:
        for values, weights in parts:
            plan.add({b: bracket_answer(values, weights, b) for b in brackets})
        plan.advance()
        rounds += 1
    return plan.result(), rounds


def _data(kind: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "integer weights, ties":  # NumPy's running sums are exact: it must agree exactly
        return rng.integers(0, 20, n).astype(float) / 4, rng.integers(0, 4, n).astype(float)
    if kind == "uniform":
        return rng.standard_normal(n) * 3, rng.uniform(0, 2, n) * rng.integers(0, 2, n)
    # heavy tails and a few infinite values: keys over the whole float range
    values = rng.standard_cauchy(n) * 10.0 ** rng.integers(-200, 200, n)
    values[rng.integers(0, n, 3)] = np.inf
    return values, rng.exponential(1, n)


@pytest.mark.parametrize("kind", ["integer weights, ties", "uniform", "wide"])
@pytest.mark.parametrize("fetch_rows", [1, 64, 100_000])
def test_merged_percentiles_equal_those_of_all_rows(kind: str, fetch_rows: int) -> None:
    values, weights = _data(kind, 5000, seed=len(kind) + fetch_rows)
    cuts = [0, 1, 1, 1700, 3100, 5000]  # an empty part and a part of one row among them
    parts = [(values[a:b], weights[a:b]) for a, b in itertools.pairwise(cuts)]
    merged, rounds = _merged_percentiles(parts, fetch_rows)
    local = weighted_percentiles(values, weights, np.array(QS)).tolist()
    assert merged == local
    assert rounds <= 9
    if fetch_rows == 1 and kind != "integer weights, ties":
        assert rounds > 1  # the exact selection narrowed the range before fetching
    if kind != "wide":
        assert local == np.percentile(values, QS, weights=weights, method="inverted_cdf").tolist()


def test_the_threshold_is_exact_where_numpy_running_sums_are() -> None:
    """1000 rows of weight 1: the 0.1th percentile is the first value (1/1000 rounds to 0.001)."""
    values = np.arange(1000, dtype=float)
    weights = np.ones(1000)
    merged, _ = _merged_percentiles([(values[:500], weights[:500]), (values[500:], weights[500:])], 1)
    numpy = np.percentile(values, QS, weights=weights, method="inverted_cdf").tolist()
    assert merged == numpy == weighted_percentiles(values, weights, np.array(QS)).tolist()


def test_merged_moments_and_standard_error_equal_the_summary_of_all_rows() -> None:
    values, weights = _data("uniform", 3000, seed=5)
    parts = [(values[:1000], weights[:1000]), (values[1000:], weights[1000:])]
    moments = WeightedMoments().add(*parts[0]) + WeightedMoments().add(*parts[1])
    whole = weighted_summary(values, weights, extended=True)
    mean = moments.mean()
    assert mean == whole["mean"]
    spread = deviation_sum(*parts[0], mean) + deviation_sum(*parts[1], mean)
    total = float(moments.total.exact())
    assert standard_error(moments.positive, spread, mean, total) == whole["std_error"]
    # and both equal the definition, summed exactly by Python
    keep = weights > 0
    x, w = values[keep], weights[keep]
    # each product w·x rounded once, then summed exactly
    exact_mean = float(sum(Fraction(float(a * b)) for a, b in zip(x, w, strict=True)) / sum(map(Fraction, w)))
    assert mean == exact_mean
    squares = math.fsum(float(wi * (xi - mean)) ** 2 for xi, wi in zip(x, w, strict=True))
    assert whole["std_error"] == pytest.approx(
        math.sqrt(len(x) / (len(x) - 1) * squares) / math.fsum(w), rel=1e-15
    )
    assert (moments.minimum, moments.maximum) == (whole["min"], whole["max"])
    assert moments.products.value() == whole["sum"]
    assert moments.count == 3000 and moments.count - moments.positive == int((weights == 0).sum())
