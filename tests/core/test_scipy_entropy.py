"""``xent_cli.entropy`` in SciPy's form: ``entropy(pk, qk=None, base=None, axis=...)`` against scipy.stats.entropy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from scipy.special import rel_entr
from scipy.stats import entropy as scipy_entropy

import xent_cli
from xent_cli.errors import DistributionError

# subnormal weights lose relative precision in any normalisation (SciPy's and ours differ there)
WEIGHTS = st.floats(
    min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False, allow_subnormal=False
)
BASES = st.sampled_from([None, 2, 10, math.e, 0.5, 3.7])


@st.composite
def case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int | None]:
    """Non-negative weights of 1 to 3 dimensions, a second array of the same shape, and an axis."""
    shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    axis = draw(st.sampled_from([None, *range(-len(shape), len(shape))]))
    pk = draw(arrays(np.float64, shape, elements=WEIGHTS))
    qk = draw(arrays(np.float64, shape, elements=WEIGHTS))
    # every distribution needs some weight (SciPy gives nan where xent raises): one positive entry each
    pk, qk = pk + 0.25, qk + 0.5 * draw(st.booleans())
    qk = np.where(qk == 0, 0.0, qk) + (qk.sum(axis=axis, keepdims=True) == 0)
    return pk, qk, axis


@settings(max_examples=300, deadline=None)
@given(case(), BASES)
def test_entropy_equals_scipy_on_any_shape_axis_and_base(
    found: tuple[np.ndarray, np.ndarray, int | None], base: float | None
) -> None:
    pk, _, axis = found
    expected = scipy_entropy(pk, base=base, axis=axis)
    np.testing.assert_allclose(xent_cli.entropy(pk, base=base, axis=axis), expected, rtol=1e-13, atol=1e-15)


@settings(max_examples=300, deadline=None)
@given(case(), BASES)
def test_entropy_with_qk_is_scipys_relative_entropy(
    found: tuple[np.ndarray, np.ndarray, int | None], base: float | None
) -> None:
    pk, qk, axis = found
    expected = scipy_entropy(pk, qk, base=base, axis=axis)
    got = xent_cli.entropy(pk, qk, base, axis)
    # SciPy adds terms of both signs; its own rounding is about eps times the sum of their sizes
    p = pk / pk.sum(axis=axis, keepdims=True) if axis is not None else pk / pk.sum()
    q = qk / qk.sum(axis=axis, keepdims=True) if axis is not None else qk / qk.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.sum(np.abs(rel_entr(p, q)) + p + q, axis=axis)
    scale = 1.0 if base is None else abs(math.log(base))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(expected))
    finite = np.isfinite(expected)
    assert np.all(
        np.abs(np.asarray(got)[finite] - np.asarray(expected)[finite])
        <= 1e-13 * (1 + size[finite] if np.ndim(size) else 1 + size) / scale
    )


def test_default_axis_is_the_last_one_as_every_xent_measure_and_axis_0_is_scipys() -> None:
    rows = np.array([[1.0, 3.0], [2.0, 2.0], [5.0, 0.0]])
    np.testing.assert_allclose(xent_cli.entropy(rows), scipy_entropy(rows, axis=1), rtol=1e-15)
    np.testing.assert_allclose(xent_cli.entropy(rows, axis=0), scipy_entropy(rows), rtol=1e-15)


def test_qk_broadcasts_one_row_against_many_as_scipy() -> None:
    pk = np.array([[1.0, 3.0], [2.0, 2.0]])
    qk = np.array([0.5, 0.5])
    np.testing.assert_allclose(xent_cli.entropy(pk, qk), scipy_entropy(pk, qk, axis=1), rtol=1e-14)
    np.testing.assert_allclose(xent_cli.entropy(qk, pk), scipy_entropy(qk, pk, axis=1), rtol=1e-14)


def test_hand_values() -> None:
    assert xent_cli.entropy([1, 1]) == math.log(2)
    assert xent_cli.entropy([1, 1, 1, 1], base=2) == 2.0
    assert xent_cli.entropy([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert xent_cli.entropy([0.2, 0.8], [2, 8]) == 0.0  # both normalised, as SciPy


def test_keyword_form_and_kind_still_work() -> None:
    assert xent_cli.entropy(pk=[0.5, 0.5], base=2) == 1.0
    assert xent_cli.entropy([0.0, 0.0], kind="logits") == pytest.approx(math.log(2), rel=1e-15)
    with pytest.raises(DistributionError, match="sum to 2"):
        xent_cli.entropy([1.0, 1.0], kind="probs")


def test_all_zero_weights_and_bad_axis_raise() -> None:
    with pytest.raises(DistributionError, match="all values are 0"):
        xent_cli.entropy([0.0, 0.0])
    with pytest.raises(DistributionError, match="axis 2 is out of bounds"):
        xent_cli.entropy([[1.0, 2.0]], axis=2)
