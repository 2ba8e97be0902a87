"""Accuracy against an 80-digit mpmath reference over generated case families.

The bound is 1e-12 relative for every measure and case, wherever the float64
inputs determine the value to that precision (they do in every family here:
the reference reads the same float64 inputs exactly).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tests import reference
from xent_cli import cross_entropy, entropy, js_divergence, kl_divergence

BOUND = 1e-12
MEASURES = {
    "entropy": lambda case: entropy(case.p, kind=case.kind),
    "kl": lambda case: kl_divergence(case.p, case.q, kind=case.kind),
    "cross_entropy": lambda case: cross_entropy(case.p, case.q, kind=case.kind),
    "js": lambda case: js_divergence(case.p, case.q, kind=case.kind),
}
CASES = list(reference.cases(per_family=2))


def _exact(name: str, case: reference.Case) -> reference.Mpf:
    p = reference.distribution(case.p, case.kind)
    if name == "entropy":
        return reference.entropy(p)
    return reference.REFERENCES[name](p, reference.distribution(case.q, case.kind))


@pytest.mark.parametrize("name", list(MEASURES))
@pytest.mark.parametrize("case", CASES, ids=[f"{c.family}#{i}" for i, c in enumerate(CASES)])
def test_relative_error_against_mpmath(name: str, case: reference.Case) -> None:
    value = MEASURES[name](case)
    assert reference.relative_error(value, _exact(name, case)) <= BOUND


@given(
    st.integers(2, 30).flatmap(lambda k: arrays(np.float64, k, elements=st.floats(0.01, 1.0))),
    st.integers(1, 15),
    st.integers(0, 2**32 - 1),
)
@settings(max_examples=60, deadline=None)
def test_nearly_equal_pairs_at_every_scale(weights: np.ndarray, exponent: int, seed: int) -> None:
    p = weights / weights.sum()
    noise = np.random.default_rng(seed).standard_normal(p.shape[0])
    q = p * (1 + 10.0**-exponent * noise)
    q = q / q.sum()
    exact = reference.kl(reference.distribution(p, "probs"), reference.distribution(q, "probs"))
    value = kl_divergence(p, q)
    assert value >= 0
    assert reference.relative_error(value, exact) <= BOUND


def test_never_negative_where_scipy_is() -> None:
    from scipy.special import rel_entr

    rng = np.random.default_rng(1)
    negative = 0
    for _ in range(200):
        p, q = reference._near_equal(rng, 1e-9, 20)
        negative += float(rel_entr(p, q).sum()) < 0
        assert kl_divergence(p, q) > 0
    assert negative > 0  # the competitor does go negative on these inputs


def test_many_outcomes_sum_without_growing_error() -> None:
    k = 1_000_000
    # A uniform distribution over 1e6 outcomes has entropy log K exactly.
    assert entropy(np.full(k, 1.0), kind="weights") == pytest.approx(math.log(k), rel=4e-16)
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(k))
    q = np.roll(p, 1)
    # Reference by exactly rounded summation of the same float64 terms.
    terms = p * (np.log(p) - np.log(q))
    expected = math.fsum(terms.tolist())
    assert kl_divergence(p, q) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("offset", [5e-7, -5e-7, 1e-12])
def test_rows_within_tolerance_are_renormalized_without_losing_accuracy(offset: float) -> None:
    rng = np.random.default_rng(8)
    p, q = reference._near_equal(rng, 1e-9, 12)
    p = p * (1 + offset)  # sums to 1 + offset: inside the default tolerance
    exact = reference.kl(reference.distribution(p, "probs"), reference.distribution(q, "probs"))
    assert reference.relative_error(kl_divergence(p, q), exact) <= BOUND
    assert (
        reference.relative_error(
            js_divergence(p, q),
            reference.js(reference.distribution(p, "probs"), reference.distribution(q, "probs")),
        )
        <= BOUND
    )
