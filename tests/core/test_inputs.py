"""What the library accepts: masked arrays, pandas DataFrames and Series (by label), and not complex.

The core imports no pandas: labelled inputs are recognised by their API
(``columns``/``index``/``to_numpy``), so these tests use real pandas objects.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from xent_cli import cross_entropy, entropy, js_divergence, kl_divergence, log_loss, mutual_information
from xent_cli.core.distributions import prepare
from xent_cli.errors import DistributionError

# --- masked arrays: a masked entry is an absent outcome ------------------------------------------


def test_a_masked_probability_is_an_absent_outcome() -> None:
    masked = np.ma.array([0.5, 0.3, 0.5], mask=[False, True, False])
    assert entropy(masked) == entropy([0.5, 0.0, 0.5]) == math.log(2)
    with_nan_under_the_mask = np.ma.array([0.5, np.nan, 0.5], mask=[False, True, False])
    assert entropy(with_nan_under_the_mask) == math.log(2)


def test_a_masked_weight_is_left_out_of_the_normalization() -> None:
    masked = np.ma.array([[1.0, 100.0, 3.0]], mask=[[False, True, False]])
    np.testing.assert_array_equal(prepare(masked, "weights").probs, [[0.25, 0.0, 0.75]])


def test_a_masked_logit_is_minus_infinity() -> None:
    logits = np.ma.array([2.0, 50.0, 2.0], mask=[False, True, False])
    np.testing.assert_array_equal(prepare(logits, "logits").probs, [[0.5, 0.0, 0.5]])
    assert kl_divergence(logits, [0.5, 0.0, 0.5], q_kind="probs", kind="logits") == 0.0


def test_masks_on_both_sides_of_a_pair() -> None:
    p = np.ma.array([[0.5, 0.5, 0.2]], mask=[[False, False, True]])
    q = np.ma.array([[0.9, 0.1, 0.7]], mask=[[False, False, True]])
    assert kl_divergence(p, q) == kl_divergence([0.5, 0.5, 0.0], [0.9, 0.1, 0.0])


def test_a_fully_masked_row_is_an_error() -> None:
    with pytest.raises(DistributionError, match="values sum to 0, not 1"):
        entropy(np.ma.array([0.5, 0.5], mask=[True, True]), kind="probs")
    with pytest.raises(
        DistributionError, match="all values are 0"
    ):  # normalised as SciPy: nothing to normalise
        entropy(np.ma.array([0.5, 0.5], mask=[True, True]))


# --- pandas: labelled axes pair by name ---------------------------------------------------------


@pytest.fixture
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(3)
    columns = ["cat", "dog", "bird", "fish"]
    p = pd.DataFrame(rng.dirichlet(np.ones(4), size=5), columns=columns, index=[f"r{i}" for i in range(5)])
    q = pd.DataFrame(rng.dirichlet(np.ones(4), size=5), columns=columns, index=p.index)
    return p, q


def test_a_dataframe_with_its_columns_reordered_gives_the_same_kl(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    p, q = frames
    assert kl_divergence(p, p[["fish", "bird", "dog", "cat"]]).tolist() == [0.0] * 5
    expected = kl_divergence(p.to_numpy(), q.to_numpy())
    for measure in (kl_divergence, cross_entropy, js_divergence):
        np.testing.assert_array_equal(
            measure(p, q[["dog", "fish", "cat", "bird"]]), measure(p.to_numpy(), q.to_numpy())
        )
    np.testing.assert_array_equal(kl_divergence(p, q), expected)


def test_rows_pair_by_index(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    p, q = frames
    np.testing.assert_array_equal(kl_divergence(p, q.iloc[::-1]), kl_divergence(p, q))


def test_different_labels_are_errors(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    p, q = frames
    with pytest.raises(
        DistributionError, match=r"q: p and q have different outcomes \(only in p: 'cat'; only in q: 'cow'\)"
    ):
        kl_divergence(p, q.rename(columns={"cat": "cow"}))
    with pytest.raises(DistributionError, match="different row labels"):
        kl_divergence(p, q.set_axis([f"s{i}" for i in range(5)]))


def test_a_one_row_frame_broadcasts(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    p, q = frames
    reference = q.iloc[[0]][["fish", "cat", "dog", "bird"]]
    np.testing.assert_array_equal(kl_divergence(p, reference), kl_divergence(p.to_numpy(), q.to_numpy()[[0]]))


def test_a_series_is_one_distribution_with_its_index_as_outcomes() -> None:
    p = pd.Series({"heads": 0.5, "tails": 0.5})
    q = pd.Series({"tails": 0.9, "heads": 0.1})
    assert kl_divergence(p, q) == kl_divergence([0.5, 0.5], [0.1, 0.9])
    assert entropy(p, base=2) == 1.0
    frame = pd.DataFrame({"tails": [0.9, 0.5], "heads": [0.1, 0.5]})
    np.testing.assert_array_equal(
        kl_divergence(frame, p), kl_divergence([[0.1, 0.9], [0.5, 0.5]], [0.5, 0.5])
    )


def test_unlabelled_inputs_still_pair_by_position(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    p, q = frames
    np.testing.assert_array_equal(kl_divergence(p, q.to_numpy()), kl_divergence(p.to_numpy(), q.to_numpy()))


def test_pandas_values_that_are_not_numbers() -> None:
    with pytest.raises(DistributionError, match="values must be numbers"):
        entropy(pd.DataFrame({"a": ["x"], "b": [0.5]}))
    with pytest.raises(DistributionError, match="value is NaN"):
        entropy(pd.DataFrame({"a": pd.array([pd.NA, 1], dtype="Float64"), "b": [0.5, 0.0]}))


def test_joint_tables_and_losses_take_frames() -> None:
    joint = pd.DataFrame([[0.5, 0.0], [0.0, 0.5]], index=["x0", "x1"], columns=["y0", "y1"])
    assert mutual_information(joint, base=2) == pytest.approx(1.0, rel=1e-15)
    pred = pd.DataFrame({"a": [0.9, 0.2], "b": [0.1, 0.8]})
    assert log_loss(pd.Series([0, 1]), pred) == log_loss([0, 1], [[0.9, 0.1], [0.2, 0.8]])


# --- complex numbers are refused ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: entropy(np.array([0.5 + 0j, 0.5])), "p"),
        (lambda: kl_divergence([0.5, 0.5], np.array([0.5, 0.5 + 1j])), "q"),
        (lambda: entropy(np.ma.array([0.5 + 0j, 0.5], mask=[False, False])), "p"),
        (lambda: kl_divergence(pd.Series([0.5, 0.5]), pd.Series([0.5 + 0j, 0.5])), "q"),
        (lambda: mutual_information(np.array([[0.5, 0], [0, 0.5 + 0j]])), "joint"),
    ],
)
def test_complex_input_is_refused_naming_the_parameter(call: object, name: str) -> None:
    with pytest.raises(DistributionError, match=f"^{name}: values are complex; distributions are real$"):
        call()  # type: ignore[operator]
