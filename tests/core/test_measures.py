"""Measures against hand values, identities, SciPy, and Hypothesis properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr, softmax
from scipy.stats import entropy as scipy_entropy

from xent_cli import cross_entropy, entropy, js_divergence, kl_divergence
from xent_cli.errors import DistributionError

LN2 = math.log(2)


# --- hand-computed values --------------------------------------------------------


def test_entropy_of_a_fair_coin_is_ln2() -> None:
    assert entropy([0.5, 0.5]) == LN2
    assert entropy([0.5, 0.5], base=2) == 1.0


def test_entropy_of_uniform_is_log_k() -> None:
    for k in (1, 2, 3, 10, 1000):
        assert entropy(np.full(k, 1 / k)) == pytest.approx(math.log(k), rel=1e-15, abs=0)


def test_entropy_by_hand() -> None:
    # 1/2, 1/4, 1/8, 1/8 -> 1/2*1 + 1/4*2 + 2 * 1/8*3 = 1.75 bits
    assert entropy([0.5, 0.25, 0.125, 0.125], base=2) == 1.75


def test_kl_by_hand_to_many_digits() -> None:
    # 0.5 ln(0.5/0.9) + 0.5 ln(0.5/0.1) = 0.5 ln(25/9) = ln(5/3)
    assert kl_divergence([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.5108256237659907, rel=2e-16)


def test_cross_entropy_by_hand() -> None:
    assert cross_entropy([1, 0], [0.25, 0.75], base=2) == 2.0
    assert cross_entropy([0.5, 0.5], [0.25, 0.75]) == pytest.approx(
        -0.5 * math.log(0.25) - 0.5 * math.log(0.75), rel=1e-15
    )


def test_js_of_disjoint_distributions_is_one_bit() -> None:
    assert js_divergence([1, 0], [0, 1], base=2) == 1.0


def test_other_bases() -> None:
    assert entropy([0.1] * 10, base=10) == pytest.approx(1.0, rel=1e-15)
    assert kl_divergence([0.5, 0.5], [0.9, 0.1], base=3) == pytest.approx(
        0.5108256237659907 / math.log(3), rel=1e-15
    )


@pytest.mark.parametrize("base", [0, 1, -2, math.inf, math.nan])
def test_bad_base_is_an_error(base: float) -> None:
    with pytest.raises(DistributionError, match="base must be"):
        entropy([0.5, 0.5], base=base)


# --- conventions for zeros and infinities ------------------------------------------


def test_zero_log_zero_is_zero() -> None:
    assert entropy([1.0, 0.0]) == 0.0
    assert kl_divergence([1.0, 0.0], [0.5, 0.5]) == LN2


def test_p_positive_where_q_is_zero_gives_inf() -> None:
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert cross_entropy([0.5, 0.5], [1.0, 0.0]) == math.inf


def test_both_zero_contributes_nothing() -> None:
    assert kl_divergence([0.5, 0.5, 0.0], [0.5, 0.5, 0.0]) == 0.0


def test_js_is_finite_where_kl_is_not() -> None:
    assert js_divergence([0.5, 0.5], [1.0, 0.0]) == pytest.approx(
        jensenshannon([0.5, 0.5], [1.0, 0.0]) ** 2, rel=1e-14
    )


def test_smoothing_makes_kl_finite() -> None:
    value = kl_divergence([0.5, 0.5], [1.0, 0.0], smoothing=0.5)
    q = np.array([1.5, 0.5]) / 2
    assert value == pytest.approx(np.sum(rel_entr([0.5, 0.5], q)), rel=1e-14)


def test_one_outcome() -> None:
    assert entropy([1.0]) == 0.0
    assert kl_divergence([1.0], [1.0]) == 0.0


# --- shapes ----------------------------------------------------------------------------


def test_rows_along_last_axis_and_broadcasting() -> None:
    p = np.array([[0.5, 0.5], [0.9, 0.1]])
    result = kl_divergence(p, [0.5, 0.5])
    assert isinstance(result, np.ndarray)
    assert result.shape == (2,)
    assert result[0] == 0.0
    np.testing.assert_allclose(result, rel_entr(p, [0.5, 0.5]).sum(axis=1), rtol=1e-14)
    # one-row P against many Q
    assert kl_divergence([0.5, 0.5], p).shape == (2,)


def test_leading_axes_are_kept() -> None:
    p = np.full((2, 3, 4), 0.25)
    assert entropy(p).shape == (2, 3)


def test_mismatched_shapes_are_errors() -> None:
    with pytest.raises(DistributionError, match="p has 2 outcomes but q has 3"):
        kl_divergence([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(DistributionError, match="p has 2 rows but q has 3"):
        kl_divergence([[0.5, 0.5]] * 2, [[0.5, 0.5]] * 3)


# --- SciPy cross-checks in every kind --------------------------------------------------


@pytest.fixture
def pairs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    return rng.dirichlet(np.ones(8), size=40), rng.dirichlet(np.full(8, 0.5), size=40)


def _as_kind(p: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "probs":
        return p
    if kind == "weights":
        return p * rng.uniform(0.5, 50, size=(p.shape[0], 1))
    if kind == "logits":
        return np.log(p) + rng.normal(size=(p.shape[0], 1))
    return np.log(p)


@pytest.mark.parametrize("kind", ["probs", "weights", "logits", "logprobs"])
def test_against_scipy_in_every_kind(pairs: tuple[np.ndarray, np.ndarray], kind: str) -> None:
    p, q = pairs
    rng = np.random.default_rng(5)
    pk, qk = _as_kind(p, kind, rng), _as_kind(q, kind, rng)
    np.testing.assert_allclose(entropy(pk, kind=kind), scipy_entropy(p, axis=1), rtol=1e-13)
    np.testing.assert_allclose(kl_divergence(pk, qk, kind=kind), rel_entr(p, q).sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(
        cross_entropy(pk, qk, kind=kind), scipy_entropy(p, axis=1) + rel_entr(p, q).sum(axis=1), rtol=1e-12
    )
    np.testing.assert_allclose(js_divergence(pk, qk, kind=kind), jensenshannon(p, q, axis=1) ** 2, rtol=1e-10)


def test_mixed_kinds() -> None:
    logits = np.array([1.0, 2.0, 3.0])
    q = softmax(logits)
    p = np.array([0.2, 0.3, 0.5])
    assert kl_divergence(p, logits, q_kind="logits") == pytest.approx(rel_entr(p, q).sum(), rel=1e-13)


# --- properties -------------------------------------------------------------------------

_weights = st.integers(1, 12).flatmap(
    lambda k: st.tuples(
        arrays(np.float64, k, elements=st.floats(0, 1e6, allow_subnormal=True)),
        arrays(np.float64, k, elements=st.floats(0, 1e6, allow_subnormal=True)),
    )
)


def _usable(w: np.ndarray) -> bool:
    return bool(w.sum() > 0 and np.isfinite(w.sum()))


@given(_weights)
@settings(max_examples=300, deadline=None)
def test_gibbs_inequality_and_identities(pair: tuple[np.ndarray, np.ndarray]) -> None:
    w1, w2 = pair
    if not (_usable(w1) and _usable(w2)):
        return
    kl = kl_divergence(w1, w2, kind="weights")
    h = entropy(w1, kind="weights")
    ce = cross_entropy(w1, w2, kind="weights")
    js = js_divergence(w1, w2, kind="weights")
    assert kl >= 0
    assert 0 <= h <= math.log(len(w1)) * (1 + 1e-15)
    assert kl_divergence(w1, w1, kind="weights") == 0.0
    assert js_divergence(w1, w1, kind="weights") == 0.0
    if math.isfinite(kl):
        assert ce == pytest.approx(h + kl, rel=1e-14, abs=1e-300)
    else:
        assert ce == math.inf
    assert 0 <= js <= LN2 * (1 + 1e-15)
    assert js == js_divergence(w2, w1, kind="weights")


@given(
    st.integers(1, 10).flatmap(
        lambda k: arrays(np.float64, (2, k), elements=st.floats(-1e4, 1e4, allow_subnormal=True))
    )
)
@settings(max_examples=300, deadline=None)
def test_logit_properties(logits: np.ndarray) -> None:
    a, b = logits
    kl = kl_divergence(a, b, kind="logits")
    assert kl >= 0
    assert kl_divergence(a, a, kind="logits") == 0.0
    # softmax is shift-invariant, and so is every measure (on a grid where the
    # shift is exact in float64)
    grid = np.round(a * 1024) / 1024
    assert kl_divergence(grid, grid + 4.0, kind="logits") == 0.0
    h = entropy(a, kind="logits")
    assert 0 <= h <= math.log(len(a)) * (1 + 1e-15)


# --- distances -------------------------------------------------------------------------


def test_total_variation_and_hellinger_by_hand() -> None:
    from xent_cli.core.measures import hellinger_distance, total_variation

    assert total_variation([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.4, rel=1e-15)
    assert total_variation([1, 0], [0, 1]) == 1.0
    expected = math.sqrt(
        0.5 * ((math.sqrt(0.5) - math.sqrt(0.9)) ** 2 + (math.sqrt(0.5) - math.sqrt(0.1)) ** 2)
    )
    assert hellinger_distance([0.5, 0.5], [0.9, 0.1]) == pytest.approx(expected, rel=1e-14)
    assert hellinger_distance([1, 0], [0, 1]) == 1.0
    assert hellinger_distance([0.3, 0.7], [0.3, 0.7]) == 0.0


@given(_weights)
@settings(max_examples=200, deadline=None)
def test_distance_properties(pair: tuple[np.ndarray, np.ndarray]) -> None:
    from xent_cli.core.measures import hellinger_distance, total_variation

    w1, w2 = pair
    if not (_usable(w1) and _usable(w2)):
        return
    tv = total_variation(w1, w2, kind="weights")
    h = hellinger_distance(w1, w2, kind="weights")
    assert 0 <= tv <= 1 + 1e-15
    assert 0 <= h <= 1
    assert tv == total_variation(w2, w1, kind="weights")
    # Le Cam: H^2 <= TV <= sqrt(2) H
    assert h * h <= tv * (1 + 1e-12) + 1e-300
    assert tv <= math.sqrt(2) * h * (1 + 1e-12) + 1e-300
