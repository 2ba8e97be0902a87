"""Validation and normalization of the four kinds of input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import log_softmax, softmax

from xent_cli.core.distributions import log_sum_exp, prepare, smooth
from xent_cli.errors import DistributionError


def test_probs_within_tolerance_are_renormalized_exactly() -> None:
    d = prepare([[0.2, 0.8 + 5e-7]])
    assert d.probs.sum() == pytest.approx(1.0, abs=1e-15)
    assert d.probs[0, 0] == 0.2 / (1.0 + 5e-7)


@pytest.mark.parametrize(
    ("values", "reason", "row", "column", "message"),
    [
        ([[0.5, 0.5], [0.5, 0.6]], "sum", 1, None, "values sum to 1.1, not 1"),
        ([[0.5, 0.5], [1.5, -0.5]], "negative", 1, 1, "value -0.5 is negative"),
        ([[0.5, np.nan]], "nonfinite", 0, 1, "value is NaN"),
        ([[np.inf, 0.5]], "nonfinite", 0, 0, "value is inf"),
    ],
)
def test_probs_errors_name_row_and_column(
    values: list[list[float]], reason: str, row: int, column: int | None, message: str
) -> None:
    with pytest.raises(DistributionError) as info:
        prepare(values)
    error = info.value
    assert (error.reason, error.row, error.column, error.message) == (reason, row, column, message)


def test_library_error_names_the_parameter() -> None:
    with pytest.raises(ValueError, match=r"^q: row 0: values sum to 0.5, not 1$"):
        prepare([0.25, 0.25], name="q")


def test_weights_are_divided_by_their_sum() -> None:
    np.testing.assert_array_equal(prepare([[1, 3], [2, 2]], "weights").probs, [[0.25, 0.75], [0.5, 0.5]])


def test_weights_all_zero_is_an_error() -> None:
    with pytest.raises(DistributionError, match="all values are 0") as info:
        prepare([[1, 0], [0, 0]], "weights")
    assert info.value.row == 1


def test_logits_match_scipy_softmax() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(scale=20, size=(50, 7))
    d = prepare(logits, "logits")
    np.testing.assert_allclose(d.probs, softmax(logits, axis=1), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(d.log_probs, log_softmax(logits, axis=1), rtol=1e-12, atol=1e-15)


def test_log_probs_keep_relative_precision_where_scipy_loses_it() -> None:
    mpmath = pytest.importorskip("mpmath")
    logits = np.array([[0.0, -62.0, -70.0], [3.0, 3.0 - 1e-9, -5.0]])
    d = prepare(logits, "logits")
    with mpmath.workdps(40):  # not mp.dps = 40: that leaked into every later test's reference
        for i, row in enumerate(logits):
            lse = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(v)) for v in row))
            for j, value in enumerate(row):
                exact = mpmath.mpf(value) - lse
                assert abs((d.log_probs[i, j] - exact) / exact) < 1e-12
    # SciPy rounds the top log-probability of the first row (-1.2e-27) to 0.
    assert log_softmax(logits, axis=1)[0, 0] == 0.0
    assert d.log_probs[0, 0] < 0


def test_huge_logits_do_not_overflow() -> None:
    d = prepare([[1e4, 0.0, -1e4]], "logits")
    assert d.probs[0, 0] == 1.0
    assert d.log_probs[0, 1] == -1e4


def test_logits_accept_minus_inf_as_impossible() -> None:
    d = prepare([[0.0, -np.inf]], "logits")
    np.testing.assert_array_equal(d.probs, [[1.0, 0.0]])


def test_logits_reject_plus_inf_and_nan() -> None:
    with pytest.raises(DistributionError, match="value is inf"):
        prepare([[0.0, np.inf]], "logits")
    with pytest.raises(DistributionError, match="value is NaN"):
        prepare([[0.0, np.nan]], "logits")


def test_all_minus_inf_row_is_an_error() -> None:
    with pytest.raises(DistributionError, match="every value in the row is -inf"):
        prepare([[-np.inf, -np.inf]], "logprobs")


def test_logprobs_must_normalize() -> None:
    prepare(np.log([[0.25, 0.75]]), "logprobs")
    with pytest.raises(DistributionError, match="probabilities sum to 0.5, not 1"):
        prepare(np.log([[0.25, 0.25]]), "logprobs")


@pytest.mark.parametrize("value", [1e30, 0.3])
def test_a_logprob_above_0_is_named_not_renormalized(value: float) -> None:
    # an API's placeholder: --as logits would give it all the probability
    with pytest.raises(DistributionError) as info:
        prepare([list(np.log([0.2, 0.3, 0.5])), [-0.5, -1.2, value]], "logprobs")
    error = info.value
    assert (error.reason, error.row, error.column) == ("logprob_positive", 1, 2)
    assert str(error).startswith(
        f"p: row 1, column 2: {value:.6g} is above 0, so it is not a log-probability"
    )


def test_log_sum_exp_keeps_small_remainders() -> None:
    # log(1 + e^-40) = e^-40 to full precision; a naive sum would round it away.
    result = log_sum_exp(np.array([[0.0, -40.0]]))
    assert result[0] == pytest.approx(np.exp(-40.0), rel=1e-15)


def test_float32_is_widened() -> None:
    d = prepare(np.array([[0.25, 0.75]], dtype=np.float32))
    assert d.raw.dtype == np.float64


def test_three_dimensional_input_is_flattened_to_rows() -> None:
    assert prepare(np.full((2, 3, 4), 0.25)).raw.shape == (6, 4)


@pytest.mark.parametrize("values", [[], [[]], 0.5])
def test_empty_or_scalar_input_is_an_error(values: object) -> None:
    with pytest.raises(DistributionError):
        prepare(values)  # type: ignore[arg-type]


def test_ragged_input_is_an_error() -> None:
    with pytest.raises(DistributionError, match="cannot read as an array"):
        prepare([[0.5, 0.5], [1.0]])


def test_smoothing_formula() -> None:
    q = smooth(prepare([[1.0, 0.0, 0.0]]), 0.1)
    np.testing.assert_allclose(q.probs, [[1.1 / 1.3, 0.1 / 1.3, 0.1 / 1.3]], rtol=1e-15)


def test_unknown_kind() -> None:
    with pytest.raises(DistributionError, match="unknown kind"):
        prepare([1.0], "counts")  # type: ignore[arg-type]


def test_smoothing_with_a_huge_alpha_is_the_uniform_distribution() -> None:
    q = prepare([[0.9, 0.1, 0.0]])
    for alpha in (2.0, 1e6, 1e300, 1e308, 1.7976931348623157e308):
        smoothed = smooth(q, alpha).probs
        exact = (np.array([0.9, 0.1, 0.0]) / alpha + 1) / (1 / alpha + 3)
        np.testing.assert_allclose(smoothed, [exact], rtol=1e-15)
    np.testing.assert_array_equal(smooth(q, 1e308).probs, [[1 / 3, 1 / 3, 1 / 3]])
    # alpha <= 1 keeps the textbook form
    np.testing.assert_allclose(smooth(q, 0.5).probs, [[1.4 / 2.5, 0.6 / 2.5, 0.5 / 2.5]], rtol=1e-15)


def test_logits_further_apart_than_float64_spans() -> None:
    d = prepare([[1e308, -1e308, 0.0]], "logits")
    np.testing.assert_array_equal(d.probs, [[1.0, 0.0, 0.0]])
    assert d.log_probs[0, 1] == -np.inf  # below -1.8e308: not representable, probability 0
    assert d.log_probs[0, 2] == -1e308
