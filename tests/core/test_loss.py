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
    assert log_loss(pred, target) == pytest.approx(sklearn_log_loss(target, pred, labels=range(5)), rel=1e-13)


def test_matches_sklearn_without_labels_when_every_class_occurs() -> None:
    pred = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]])
    target = np.array([0, 1, 2, 2])
    assert log_loss(pred, target) == pytest.approx(sklearn_log_loss(target, pred), rel=1e-14)


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
    assert log_loss([[1.0, 0.0]], [1]) == math.inf


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
    [([0, 2], "targets must be class indices from 0 to 1"), ([0], "pred has 2 rows but target has 1")],
)
def test_bad_targets(target: list[int], message: str) -> None:
    with pytest.raises(DistributionError, match=message):
        log_loss([[0.5, 0.5], [0.5, 0.5]], target)


# --- pandas objects pair by index (issue 23) -----------------------------------------------------


@pytest.fixture
def shuffled() -> tuple[object, object, float]:
    """Predictions indexed by sample id, and the labels in another order (as train_test_split leaves them)."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(23)
    ids = rng.permutation(np.arange(1000, 1300))[:120]
    probs = rng.dirichlet(np.ones(4), size=120)
    labels = np.array([rng.choice(4, p=row) for row in probs])
    pred = pd.DataFrame(probs, index=ids)
    order = rng.permutation(120)
    target = pd.Series(labels[order], index=ids[order])
    # The reference pairs by hand, row by row by id: sklearn's log loss of the aligned arrays.
    reference = sklearn_log_loss(labels, probs, labels=range(4))
    return pred, target, reference


def test_a_series_of_labels_pairs_with_the_frame_by_index(shuffled: tuple[object, object, float]) -> None:
    pred, target, reference = shuffled
    assert log_loss(pred, target) == pytest.approx(reference, rel=1e-13)  # type: ignore[arg-type]
    # By position the same objects give another number: what was returned before (issue 23).
    positional = sklearn_log_loss(target.to_numpy(), pred.to_numpy(), labels=range(4))  # type: ignore[attr-defined]
    assert abs(positional - reference) > 0.1


def test_labels_whose_index_differs_as_a_set_are_an_error(shuffled: tuple[object, object, float]) -> None:
    pred, target, _ = shuffled
    renumbered = pred.reset_index(drop=True)  # type: ignore[attr-defined]
    with pytest.raises(DistributionError, match=r"target: pred and target have different row labels"):
        log_loss(renumbered, target)
    with pytest.raises(DistributionError, match="different row labels"):
        log_loss(pred, target.iloc[:-1])  # type: ignore[attr-defined]


def test_arrays_on_either_side_pair_by_position(shuffled: tuple[object, object, float]) -> None:
    pred, target, _ = shuffled
    by_position = sklearn_log_loss(target.to_numpy(), pred.to_numpy(), labels=range(4))  # type: ignore[attr-defined]
    assert log_loss(pred.to_numpy(), target) == pytest.approx(by_position, rel=1e-13)  # type: ignore[attr-defined]
    assert log_loss(pred, target.to_numpy()) == pytest.approx(by_position, rel=1e-13)  # type: ignore[attr-defined]
