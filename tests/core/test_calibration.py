"""Calibration statistics against scikit-learn (calibration_curve, brier_score_loss) on real models."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB

from xent_cli.core.calibration import (
    ClasswiseBins,
    ReliabilityBins,
    brier,
    calibration,
    quantile_edges,
    uniform_edges,
)
from xent_cli.errors import DistributionError


def _predictions(loader: object) -> tuple[np.ndarray, np.ndarray]:
    x, y = loader(return_X_y=True)  # type: ignore[operator]
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.4, random_state=0)
    return GaussianNB().fit(x_train, y_train).predict_proba(x_test), y_test


def _reference_ece(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int, strategy: str
) -> tuple[float, float]:
    """ECE and MCE from scikit-learn's calibration_curve (which drops empty bins) and the same binning."""
    prob_true, prob_pred = calibration_curve(
        correct, confidence, n_bins=n_bins, strategy=strategy, pos_label=1
    )
    if strategy == "quantile":
        edges = np.percentile(confidence, np.linspace(0, 1, n_bins + 1) * 100)
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], confidence), minlength=n_bins)
    counts = counts[counts > 0]
    gaps = np.abs(prob_true - prob_pred)
    return float(np.sum(counts / counts.sum() * gaps)), float(np.max(gaps))


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("n_bins", [15, 10, 3])
def test_top_label_ece_matches_calibration_curve_on_digits(strategy: str, n_bins: int) -> None:
    probs, y = _predictions(load_digits)
    result = calibration(y, probs, n_bins=n_bins, strategy=strategy)  # type: ignore[arg-type]
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(int)
    ece, mce = _reference_ece(confidence, correct, n_bins, strategy)
    assert result["ece"] == pytest.approx(ece, rel=1e-12, abs=1e-15)
    assert result["mce"] == pytest.approx(mce, rel=1e-12, abs=1e-15)
    assert result["accuracy"] == pytest.approx(correct.mean(), rel=1e-15)
    assert result["confidence"] == pytest.approx(confidence.mean(), rel=1e-14)
    assert result["brier"] == pytest.approx(brier_score_loss(y, probs), rel=1e-13)
    assert sum(b["count"] for b in result["bins"]) == len(y)


def test_binary_one_column_and_two_columns_match_sklearn_on_breast_cancer() -> None:
    probs, y = _predictions(load_breast_cancer)
    p1 = probs[:, 1]
    assert brier(y, p1) == pytest.approx(brier_score_loss(y, p1), rel=1e-13)
    assert brier(y, probs) == pytest.approx(brier_score_loss(y, probs), rel=1e-13)
    weights = np.random.default_rng(1).uniform(0, 3, size=len(y))
    assert brier(y, p1, sample_weight=weights) == pytest.approx(
        brier_score_loss(y, p1, sample_weight=weights), rel=1e-13
    )
    one, two = calibration(y, p1), calibration(y, probs)
    assert one["ece"] == pytest.approx(two["ece"], rel=1e-14)


def test_rmsce_and_bins_by_hand() -> None:
    # bins of 4: (0.5, 0.75] holds 0.6 (wrong) and 0.7 (right); (0.75, 1] 0.8 and 0.9 (both right)
    result = calibration([0, 1, 1, 0], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]], n_bins=4)
    assert result["ece"] == pytest.approx(0.15, abs=1e-16)
    assert result["mce"] == pytest.approx(0.15, abs=1e-16)
    assert result["rmsce"] == pytest.approx(np.sqrt(0.5 * 0.15**2 + 0.5 * 0.15**2), rel=1e-15)
    filled = [b for b in result["bins"] if b["count"]]
    assert [b["accuracy"] for b in filled] == [0.5, 1.0]
    assert [b["confidence"] for b in filled] == pytest.approx([0.65, 0.85], rel=1e-15)


def test_edges_are_sklearns_and_a_confidence_on_an_edge_goes_below() -> None:
    np.testing.assert_array_equal(uniform_edges(15), np.linspace(0, 1, 16))
    bins = ReliabilityBins(uniform_edges(4)).add(np.array([0.25, 0.5, 1.0]), np.ones(3))
    assert bins.counts.tolist() == [1, 1, 0, 1]
    confidences = np.random.default_rng(0).uniform(0.3, 1, 200)
    np.testing.assert_array_equal(
        quantile_edges(confidences, 5), np.percentile(confidences, [0, 20, 40, 60, 80, 100])
    )


def test_bins_merge_to_the_bins_of_all_rows_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    confidence, correct = rng.uniform(0.2, 1, 5000), (rng.uniform(size=5000) < 0.7).astype(float)
    weights = rng.uniform(0, 2, 5000)
    whole = ReliabilityBins(uniform_edges(15)).add(confidence, correct, weights)
    parts = [
        ReliabilityBins(uniform_edges(15)).add(confidence[s], correct[s], weights[s])
        for s in np.array_split(np.arange(5000), 7)
    ]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    assert merged.statistics() == whole.statistics()
    assert merged.rows() == whole.rows()


def test_classwise_ece_by_one_vs_rest_calibration_curves() -> None:
    probs, y = _predictions(load_digits)
    bins = ClasswiseBins(uniform_edges(10), probs.shape[1]).add(probs, y.astype(np.intp))
    for k, value in enumerate(bins.ece()):
        positive = (y == k).astype(int)
        ece, _ = _reference_ece(probs[:, k], positive, 10, "uniform")
        assert value == pytest.approx(ece, rel=1e-12, abs=1e-15)


def test_bad_arguments() -> None:
    with pytest.raises(DistributionError, match="at least 1"):
        calibration([0], [[1.0, 0.0]], n_bins=0)
    with pytest.raises(DistributionError, match="at most 10000"):
        calibration([0], [[1.0, 0.0]], n_bins=10**8)  # refused before any bin is allocated
    with pytest.raises(DistributionError, match="at most 10000"):
        calibration([0], [[1.0, 0.0]], n_bins=10**8, strategy="quantile")
    with pytest.raises(DistributionError, match="class indices from 0 to 1"):
        calibration([2], [[1.0, 0.0]])
    with pytest.raises(DistributionError, match="not all 0"):
        brier([0, 1], [0.1, 0.9], sample_weight=[0, 0])
    with pytest.raises(DistributionError, match="2 values for 1 rows"):
        brier([0], [0.1], sample_weight=[1, 1])


def test_class_names_with_labels_as_scikit_learn() -> None:
    """y_true of class names: the sorted names, or ``labels=``, name the columns (as log_loss)."""
    probs = np.array([[0.2, 0.3, 0.5], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.3, 0.3, 0.4]])
    names = ["b", "c", "a", "c"]
    with pytest.raises(DistributionError, match="2 classes but the predictions have 3 columns") as raised:
        calibration(names[:2], probs[:2])
    assert raised.value.hint == "pass labels=[...] naming the class of each column"
    for labels in (["a", "b", "c"], ["c", "a", "b"]):
        indices = [labels.index(name) for name in names]
        named = calibration(names, probs, labels=labels, n_bins=5)
        assert named == calibration(indices, probs, n_bins=5)
        # labels[k] names column k (as xent's log_loss; scikit-learn warns on unsorted labels and
        # reads the columns in sorted order): the reference gets the columns in sorted order.
        order = np.argsort(labels)
        for rows in (slice(None), slice(0, 2)):
            reference = brier_score_loss(np.array(names)[rows], probs[rows][:, order], labels=sorted(labels))
            assert brier(names[rows], probs[rows], labels=labels) == pytest.approx(reference, rel=1e-14)
    # Two classes, one column of P(y = labels[1]).
    binary = brier(["spam", "ham"], [0.8, 0.3], labels=["ham", "spam"])
    assert binary == pytest.approx(brier_score_loss(["spam", "ham"], [0.8, 0.3], pos_label="spam"), rel=1e-14)
    assert calibration(["spam", "ham"], [0.8, 0.3], labels=["ham", "spam"])["accuracy"] == 1.0


def test_quantile_bins_take_the_confidence_as_given() -> None:
    """Rows summing to 1 ± 7e-15 are binned by max p as given, as calibration_curve bins them."""
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0)
    probs = GaussianNB().fit(x_train, y_train).predict_proba(x_test)
    confidence = probs.max(axis=1)
    edges = np.percentile(confidence, np.linspace(0, 1, 16) * 100)
    expected = np.bincount(np.searchsorted(edges[1:-1], confidence), minlength=15)
    result = calibration(y_test, probs, strategy="quantile")
    assert [b["count"] for b in result["bins"]] == expected.tolist()
