"""Log loss against scikit-learn and hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import log_softmax
from sklearn.metrics import log_loss as sklearn_log_loss

from xent_cli.core.distributions import prepare
from xent_cli.core.loss import binary_nll_rows, log_loss, nll_rows, top1_correct_rows
from xent_cli.errors import DistributionError


def test_matches_sklearn() -> None:
    rng = np.random.default_rng(4)
    pred = rng.dirichlet(np.ones(5), size=200)
    target = rng.integers(0, 5, size=200)
    assert log_loss(target, pred) == pytest.approx(sklearn_log_loss(target, pred, labels=range(5)), rel=1e-13)


def test_matches_sklearn_without_labels_when_every_class_occurs() -> None:
    pred = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]])
    target = np.array([0, 1, 2, 2])
    assert log_loss(target, pred) == pytest.approx(sklearn_log_loss(target, pred), rel=1e-14)


def test_from_logits_is_computed_in_log_space() -> None:
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    nll = nll_rows(prepare(logits, "logits"), np.array([0, 2]))
    assert nll[0] == 0.0  # exp(-1000) is below float64's reach; -log p = 0 exactly
    assert nll[1] == pytest.approx(math.log(3), rel=1e-15)
    mild = np.array([[2.0, 1.0, 0.1]])
    assert nll_rows(prepare(mild, "logits"), np.array([1]))[0] == pytest.approx(
        -log_softmax(mild, axis=1)[0, 1], rel=1e-15
    )


def test_label_smoothing_matches_the_pytorch_formula() -> None:
    p = np.array([[0.2, 0.8]])
    eps = 0.1
    expected = (1 - eps) * -math.log(0.8) + eps * -(math.log(0.2) + math.log(0.8)) / 2
    assert nll_rows(prepare(p), np.array([1]), eps)[0] == pytest.approx(expected, rel=1e-15)


def test_zero_probability_on_the_target_is_inf() -> None:
    assert log_loss([1], [[1.0, 0.0]]) == math.inf


def test_binary_matches_sklearn_and_logits_agree() -> None:
    rng = np.random.default_rng(9)
    p = rng.uniform(0.01, 0.99, size=100)
    y = rng.integers(0, 2, size=100)
    nll = binary_nll_rows(p, y, "probs")
    assert float(np.mean(nll)) == pytest.approx(sklearn_log_loss(y, p), rel=1e-13)
    logits = np.log(p) - np.log1p(-p)
    np.testing.assert_allclose(binary_nll_rows(logits, y, "logits"), nll, rtol=1e-12)


def test_binary_from_huge_logits_keeps_digits() -> None:
    # log(1 + e^-40) = e^-40 to full precision
    assert binary_nll_rows(np.array([40.0]), np.array([1]), "logits")[0] == pytest.approx(
        math.exp(-40), rel=1e-15
    )


def test_top1() -> None:
    pred = prepare([[0.1, 0.9], [0.6, 0.4]])
    np.testing.assert_array_equal(top1_correct_rows(pred, np.array([1, 1])), [1.0, 0.0])


@pytest.mark.parametrize(
    ("target", "message"),
    [([0, 2], "y_true must hold class indices from 0 to 1"), ([0], "y_pred has 2 rows but y_true has 1")],
)
def test_bad_targets(target: list[int], message: str) -> None:
    with pytest.raises(DistributionError, match=message):
        log_loss(target, [[0.5, 0.5], [0.5, 0.5]])


def test_sklearn_order_labels_weights_and_clip_on_digits() -> None:
    from sklearn.datasets import load_digits
    from sklearn.naive_bayes import GaussianNB

    x, y = load_digits(return_X_y=True)
    probs = GaussianNB().fit(x[:1000], y[:1000]).predict_proba(x[1000:])
    names = np.array(list("abcdefghij"))[y[1000:]]  # string labels name the columns in sorted order
    weights = np.random.default_rng(2).uniform(0, 2, len(names))
    assert log_loss(y[1000:], probs) == math.inf  # GaussianNB puts exactly 0 on some true classes
    expected = sklearn_log_loss(names, probs, sample_weight=weights)
    assert log_loss(names, probs, sample_weight=weights, clip="auto") == pytest.approx(expected, rel=1e-12)
    p1 = probs[:, 1] / (probs[:, 0] + probs[:, 1] + 1e-300)
    binary = (y[1000:] == 1).astype(int)
    assert log_loss(binary, p1, clip="auto") == pytest.approx(sklearn_log_loss(binary, p1), rel=1e-12)


def test_pandas_pair_by_index_or_raise() -> None:
    import pandas as pd

    pred = pd.DataFrame([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], index=["a", "b", "c"])
    truth = pd.Series([1, 0, 1], index=["c", "a", "b"])  # the labels of a, b, c are 0, 1, 1
    assert log_loss(truth, pred) == pytest.approx(sklearn_log_loss([0, 1, 1], pred.to_numpy()), rel=1e-14)
    with pytest.raises(DistributionError, match="different row labels"):
        log_loss(pd.Series([1, 0, 1], index=["x", "a", "b"]), pred)
