"""Weighted summaries (xent_cli.core.weighted) against NumPy's weighted inverted-CDF percentiles and by hand."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from xent_cli.core.stats import DEFAULT_PERCENTILES, EXTRA_PERCENTILES, percentile_name
from xent_cli.core.weighted import weighted_percentiles, weighted_summary

QS = np.array(sorted(DEFAULT_PERCENTILES + EXTRA_PERCENTILES))


@st.composite
def rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 60))
    # few distinct values (ties) or any; integer weights hit the CDF's steps exactly
    values = draw(
        arrays(np.float64, n, elements=st.sampled_from([0.0, 0.5, 1.0, 2.0]) | st.floats(-1e6, 1e6))
    )
    weights = draw(arrays(np.float64, n, elements=st.sampled_from([0.0, 1.0, 2.0, 3.0]) | st.floats(0, 100)))
    if not (weights > 0).any():
        weights[0] = 1.0
    return values, weights


@settings(max_examples=150, deadline=None)
@given(rows())
def test_percentiles_are_numpys_inverted_cdf(found: tuple[np.ndarray, np.ndarray]) -> None:
    """Exactly NumPy's where its running sums are exact; always the definition with exact sums."""
    values, weights = found
    got = weighted_percentiles(values, weights, QS)
    assert got.tolist() == [_exact_percentile(values, weights, q) for q in QS]
    if _numpy_sums_are_exact(values, weights):
        np.testing.assert_array_equal(got, np.percentile(values, QS, weights=weights, method="inverted_cdf"))


def _exact_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The docs' definition, by hand: the smallest value whose exact cumulative weight, divided by
    the exact total and rounded once, reaches q/100."""
    rows = sorted((float(v), Fraction(float(w))) for v, w in zip(values, weights, strict=True) if w > 0)
    total = sum(w for _, w in rows)
    threshold = float(np.true_divide(q, 100))
    below = Fraction(0)
    for value, weight in rows:
        below += weight
        if float(below / total) >= threshold:
            return value
    return rows[-1][0]


def _numpy_sums_are_exact(values: np.ndarray, weights: np.ndarray) -> bool:
    """Whether NumPy's float running sums of the weights (in value order) are exact."""
    order = np.argsort(values, kind="stable")
    ordered = weights[order]
    running = np.cumsum(ordered)
    exact = Fraction(0)
    for w, r in zip(ordered.tolist(), running.tolist(), strict=True):
        exact += Fraction(w)
        if Fraction(r) != exact:
            return False
    return True


@settings(max_examples=100, deadline=None)
@given(rows())
def test_summary_by_hand(found: tuple[np.ndarray, np.ndarray]) -> None:
    values, weights = found
    summary = weighted_summary(values, weights, extended=True)
    keep = weights > 0
    x, w = values[keep], weights[keep]
    mean = math.fsum((x * w).tolist()) / math.fsum(w.tolist())
    assert math.isclose(summary["mean"], mean, rel_tol=1e-12, abs_tol=1e-9)
    assert summary["min"] == x.min() and summary["max"] == x.max()
    assert summary["count"] == len(values)
    for q in QS:
        assert summary[percentile_name(float(q))] == _exact_percentile(values, weights, q)
        if _numpy_sums_are_exact(values, weights):
            assert summary[percentile_name(float(q))] == np.percentile(
                values, q, weights=weights, method="inverted_cdf"
            )
    if len(x) > 1:
        m = float(np.average(x, weights=w))
        se = math.sqrt(len(x) / (len(x) - 1) * sum((wi * (xi - m)) ** 2 for xi, wi in zip(x, w, strict=True)))
        assert math.isclose(summary["std_error"], se / w.sum(), rel_tol=1e-9, abs_tol=1e-9)


def test_equal_weights_give_the_unweighted_standard_error() -> None:
    x = np.random.default_rng(1).normal(size=50)
    got = weighted_summary(x, np.full(50, 2.5), extended=True)["std_error"]
    assert math.isclose(got, np.std(x, ddof=1) / math.sqrt(50), rel_tol=1e-13)


def test_an_infinite_row_of_positive_weight_makes_the_mean_infinite_and_zero_weight_rows_count_for_nothing() -> (
    None
):
    s = weighted_summary(np.array([1.0, math.inf, 3.0]), np.array([1.0, 0.0, 1.0]))
    assert (s["mean"], s["max"], s["inf_count"], s["count"]) == (2.0, 3.0, 0, 3)
    s = weighted_summary(np.array([1.0, math.inf]), np.array([1.0, 1.0]))
    assert s["mean"] == math.inf and s["inf_count"] == 1 and s["p99"] == math.inf
