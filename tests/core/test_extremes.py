"""Extreme numbers through every measure: finite answers (or inf where the limit is), never a warning.

pytest turns warnings into errors, so any NumPy RuntimeWarning (overflow,
invalid value, divide by zero) in the core fails these tests: the core must
handle the extremes itself, not leave them to a process-wide filter.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xent_cli import cross_entropy, entropy, hellinger_distance, js_divergence, kl_divergence, total_variation
from xent_cli.core.distributions import prepare, smooth
from xent_cli.core.loss import nll_rows
from xent_cli.core.measures import kl_rows, pair_terms

LOGITS = [1.7976931348623157e308, 1e308, 1e300, 700.0, 1.0, 0.0, -1.0, -745.0, -1e300, -1e308, -math.inf]
WEIGHTS = [1.7976931348623157e308, 1e308, 1e300, 1.0, 1e-300, 5e-324, 0.0]


def _rows(pool: list[float], k: int) -> st.SearchStrategy[list[list[float]]]:
    return st.lists(st.lists(st.sampled_from(pool), min_size=k, max_size=k), min_size=1, max_size=4)


@st.composite
def logit_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    k = draw(st.integers(1, 4))
    p = np.array(draw(_rows(LOGITS, k)))
    q = np.array(draw(_rows(LOGITS, k)))[: p.shape[0]]
    n = min(p.shape[0], q.shape[0])
    p, q = p[:n], q[:n]
    # every row needs a finite logit (an all -inf row is an error, tested elsewhere)
    p[:, 0] = np.where(np.all(np.isneginf(p), axis=1), 0.0, p[:, 0])
    q[:, 0] = np.where(np.all(np.isneginf(q), axis=1), 0.0, q[:, 0])
    return p, q


@st.composite
def weight_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    k = draw(st.integers(1, 4))
    n = draw(st.integers(1, 4))
    p = np.array(
        draw(st.lists(st.lists(st.sampled_from(WEIGHTS), min_size=k, max_size=k), min_size=n, max_size=n))
    )
    q = np.array(
        draw(st.lists(st.lists(st.sampled_from(WEIGHTS), min_size=k, max_size=k), min_size=n, max_size=n))
    )
    p[:, 0] = np.where(~(p > 0).any(axis=1), 1.0, p[:, 0])
    q[:, 0] = np.where(~(q > 0).any(axis=1), 1.0, q[:, 0])
    return p, q


def _check_pair(p: np.ndarray, q: np.ndarray, kind: str) -> None:
    for measure in (kl_divergence, cross_entropy):
        values = np.atleast_1d(measure(p, q, kind=kind))
        assert not np.isnan(values).any(), (measure.__name__, p, q)
        assert (values >= 0).all()
    js = np.atleast_1d(js_divergence(p, q, kind=kind))
    assert not np.isnan(js).any() and (js >= 0).all() and (js <= math.log(2) * (1 + 1e-15)).all()
    for distance in (total_variation, hellinger_distance):
        values = np.atleast_1d(distance(p, q, kind=kind))
        assert not np.isnan(values).any() and (values >= 0).all() and (values <= 1).all()
    h = np.atleast_1d(entropy(p, kind=kind))
    assert not np.isnan(h).any() and (h >= 0).all()


@given(logit_pairs())
@settings(max_examples=150, deadline=None)
def test_extreme_logits(pair: tuple[np.ndarray, np.ndarray]) -> None:
    _check_pair(*pair, kind="logits")


@given(weight_pairs())
@settings(max_examples=150, deadline=None)
def test_extreme_weights(pair: tuple[np.ndarray, np.ndarray]) -> None:
    _check_pair(*pair, kind="weights")


def test_logits_past_float64_range_fall_back_to_log_probabilities() -> None:
    # log p = [0, -1e308], log q = [-1e308, 0]: KL = 1e308 exactly (the 1e308-1 of phi's terms + 1).
    assert kl_divergence([1e308, 0.0], [0.0, 1e308], kind="logits") == 1e308
    assert kl_divergence([0.0, -1e308], [-1e308, 0.0], kind="logprobs") == 1e308
    # a difference of 2e308 overflows to inf, as float64 must
    assert kl_divergence([1e308, -1e308], [-1e308, 1e308], kind="logits") == math.inf
    # rows that do not overflow keep the careful path, bit for bit
    p = np.array([[1e308, 0.0], [0.3, 0.1]])
    q = np.array([[0.0, 1e308], [0.1, 0.3]])
    both = kl_rows(prepare(p, "logits"), prepare(q, "logits"))
    alone = kl_rows(prepare(p[1:], "logits"), prepare(q[1:], "logits"))
    assert both[1] == alone[0]


def test_pair_terms_of_far_logits_are_finite() -> None:
    terms = pair_terms(prepare([[1e308, 0.0]], "logits"), prepare([[0.0, 1e308]], "logits"))
    np.testing.assert_array_equal(terms.log_ratio, [[1e308, -1e308]])


@pytest.mark.parametrize("alpha", [1e-320, 1e-3, 1.0, 7.5, 1e300, 1.7976931348623157e308])
def test_smoothing_any_finite_alpha(alpha: float) -> None:
    q = smooth(prepare([[1.0, 0.0, 0.0]]), alpha)
    assert np.isfinite(q.probs).all()
    assert q.probs.sum() == pytest.approx(1.0, rel=1e-15)
    assert not np.isnan(kl_divergence([0.2, 0.3, 0.5], [1.0, 0.0, 0.0], smoothing=alpha))


def test_nll_of_huge_logits() -> None:
    nll = nll_rows(prepare([[1e308, -1e308], [-1e308, 1e308]], "logits"), np.array([1, 1]))
    np.testing.assert_array_equal(nll, [math.inf, 0.0])  # 2e308 overflows; a sure hit costs nothing
