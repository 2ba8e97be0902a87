"""Calibration of classifiers: reliability bins, ECE, MCE, RMSCE and the Brier score.

Top-label calibration asks whether a model's confidence ``c = max_k p_k`` is
the probability that its prediction ``argmax_k p_k`` is right. The rows are
put in bins by their confidence; in bin ``b`` (total weight ``W_b``; the number
of rows when unweighted) the accuracy ``acc_b = A_b / W_b`` (``A_b`` the weight
of the correct rows) is compared with the mean confidence ``conf_b = C_b / W_b``
(``C_b`` the weighted sum of confidences):

.. math::

    \\mathrm{ECE} = \\sum_b \\frac{W_b}{W} |acc_b - conf_b| = \\frac{1}{W}\\sum_b |A_b - C_b|,\\qquad
    \\mathrm{MCE} = \\max_{W_b > 0} |acc_b - conf_b|,\\qquad
    \\mathrm{RMSCE} = \\sqrt{\\sum_b \\frac{W_b}{W} (acc_b - conf_b)^2}.

Bins are ``(lo, hi]`` (a confidence of exactly 0 goes in the first bin), with
edges ``linspace(0, 1, N + 1)`` (``uniform``) or the ``k/N`` quantiles of the
confidences (``quantile``), found with ``np.searchsorted(edges[1:-1], c)`` —
exactly the binning of ``sklearn.calibration.calibration_curve``.

The sums ``W_b, A_b, C_b`` are exact (:class:`~xent_cli.core.stats.ExactSum`),
so the statistics do not depend on how the rows were split into blocks or
shards, and ``A_b - C_b`` is formed exactly before it is rounded once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xent_cli.core.distributions import DEFAULT_TOLERANCE, Distributions, FloatArray, Kind, prepare
from xent_cli.core.stats import ExactSum
from xent_cli.errors import DistributionError

IntArray = NDArray[np.intp]
Strategy = Literal["uniform", "quantile"]
DEFAULT_BINS = 15
# Every bin's sums are kept (and listed in the output, empty or not), and --classwise keeps
# bins × classes of them: an absurd count would cost memory whatever the rows.
MAX_BINS = 10_000


def uniform_edges(n_bins: int) -> FloatArray:
    """``n_bins + 1`` equal-width edges over [0, 1] (``1 <= n_bins <= MAX_BINS``)."""
    if n_bins < 1:
        raise DistributionError("the number of bins must be at least 1", reason="bins", name="bins")
    if n_bins > MAX_BINS:
        raise DistributionError(f"the number of bins must be at most {MAX_BINS}", reason="bins", name="bins")
    edges: FloatArray = np.linspace(0.0, 1.0, n_bins + 1)
    return edges


def quantile_edges(confidences: FloatArray, n_bins: int) -> FloatArray:
    """Edges at the ``k / n_bins`` quantiles of ``confidences`` (linear interpolation), as scikit-learn."""
    uniform_edges(n_bins)  # checks n_bins
    edges: FloatArray = np.percentile(confidences, np.linspace(0.0, 1.0, n_bins + 1) * 100)
    return edges


def bin_index(values: FloatArray, edges: FloatArray) -> IntArray:
    """The bin ``(edges[b], edges[b + 1]]`` of each value (values at or below ``edges[1]``: bin 0)."""
    index: IntArray = np.searchsorted(edges[1:-1], values, side="left").astype(np.intp)
    return index


def given_probs(dist: Distributions) -> FloatArray:
    """The probabilities to bin: as given for ``probs`` (each row already sums to 1 within the
    tolerance), normalized for the other kinds.

    scikit-learn bins ``max p`` as given: dividing a row that sums to ``1 ± 7e-15`` by
    its sum moves its confidence by an ulp, which moves a row sitting on a quantile
    edge (the edges are confidences themselves) into the next bin.
    """
    probs: FloatArray = dist.raw if dist.kind == "probs" else dist.probs
    return probs


def top_label(probs: FloatArray) -> tuple[FloatArray, IntArray]:
    """Each row's confidence ``max_k p_k`` and predicted class ``argmax_k p_k`` (ties: the first)."""
    predicted: IntArray = np.argmax(probs, axis=-1).astype(np.intp)
    confidence: FloatArray = np.take_along_axis(probs, predicted[:, None], axis=-1)[:, 0]
    return confidence, predicted


def binary_probs(scores: FloatArray, kind: Kind) -> FloatArray:
    """Two columns ``(1 - p, p)`` from one column of P(y = 1) or of its logit.

    From a logit ``z``, ``p = exp(-softplus(-z))`` and ``1 - p = exp(-softplus(z))``,
    so neither side rounds to 0 or 1 before it must.
    """
    column = scores[:, 0] if scores.ndim == 2 else scores
    if kind == "logits":
        return np.stack([np.exp(-np.logaddexp(0.0, column)), np.exp(-np.logaddexp(0.0, -column))], axis=1)
    return np.stack([1.0 - column, column], axis=1)


def brier_rows(probs: FloatArray, targets: IntArray) -> FloatArray:
    r"""Per-row squared error :math:`\sum_k (p_k - [y = k])^2` of a probability row against its class.

    The one-hot target is subtracted before squaring (no ``Σp² − 2p_y + 1``
    cancellation for confident rows). ``sklearn.metrics.brier_score_loss``
    halves this for two classes (it then equals ``(p_1 - y)^2``): see
    :func:`brier_scale`.
    """
    error = np.array(probs, dtype=np.float64, copy=True)
    rows = np.arange(error.shape[0])
    error[rows, targets] -= 1.0
    result: FloatArray = np.einsum("ij,ij->i", error, error)
    return result


def brier_scale(n_classes: int) -> float:
    """scikit-learn's ``scale_by_half='auto'``: ½ for two classes (binary), 1 for more."""
    return 0.5 if n_classes == 2 else 1.0


@dataclass
class ReliabilityBins:
    """Exact per-bin sums of one binning: row counts, weights, correct weight and weighted confidence."""

    edges: FloatArray
    counts: NDArray[np.int64] = field(init=False)
    weight: list[ExactSum] = field(init=False)
    correct: list[ExactSum] = field(init=False)
    confidence: list[ExactSum] = field(init=False)

    def __post_init__(self) -> None:
        n = self.edges.shape[0] - 1
        self.counts = np.zeros(n, dtype=np.int64)
        self.weight = [ExactSum() for _ in range(n)]
        self.correct = [ExactSum() for _ in range(n)]
        self.confidence = [ExactSum() for _ in range(n)]

    @property
    def n_bins(self) -> int:
        return int(self.counts.shape[0])

    def add(
        self, confidence: FloatArray, correct: FloatArray, weights: FloatArray | None = None
    ) -> ReliabilityBins:
        """Add rows: their confidence, 1.0 where right (else 0.0), and their weights (None: 1 each)."""
        index = bin_index(confidence, self.edges)
        order = np.argsort(index, kind="stable")
        sizes = np.bincount(index, minlength=self.n_bins)
        self.counts += sizes.astype(np.int64)
        conf = confidence[order]
        right = correct[order]
        w = None if weights is None else weights[order]
        start = 0
        for b in np.flatnonzero(sizes).tolist():
            stop = start + int(sizes[b])
            if w is None:
                self.weight[b].add(np.ones(stop - start))
                self.correct[b].add(right[start:stop])
                self.confidence[b].add(conf[start:stop])
            else:
                ws = w[start:stop]
                self.weight[b].add(ws)
                self.correct[b].add(ws * right[start:stop])
                self.confidence[b].add(ws * conf[start:stop])
            start = stop
        return self

    def merge(self, other: ReliabilityBins) -> ReliabilityBins:
        """The bins of both sets of rows (same edges)."""
        if not np.array_equal(self.edges, other.edges):
            raise ValueError("bins with different edges cannot be merged")
        merged = ReliabilityBins(self.edges)
        merged.counts = self.counts + other.counts
        merged.weight = [a + b for a, b in zip(self.weight, other.weight, strict=True)]
        merged.correct = [a + b for a, b in zip(self.correct, other.correct, strict=True)]
        merged.confidence = [a + b for a, b in zip(self.confidence, other.confidence, strict=True)]
        return merged

    def statistics(self) -> dict[str, float]:
        """``ece``, ``mce``, ``rmsce`` (exact sums, each rounded once), ``accuracy`` and ``confidence``."""
        weights = [w.exact() for w in self.weight]
        total = sum(weights, Fraction(0))
        if total == 0:
            nan = math.nan
            return {"ece": nan, "mce": nan, "rmsce": nan, "accuracy": nan, "confidence": nan}
        gaps = [a.exact() - c.exact() for a, c in zip(self.correct, self.confidence, strict=True)]
        filled = [(g, w) for g, w in zip(gaps, weights, strict=True) if w > 0]
        ece = sum((abs(g) for g, _ in filled), Fraction(0)) / total
        mce = max(abs(g) / w for g, w in filled)
        mean_square = sum((g * g / w for g, w in filled), Fraction(0)) / total
        return {
            "ece": float(ece),
            "mce": float(mce),
            "rmsce": math.sqrt(float(mean_square)),
            "accuracy": float(sum((a.exact() for a in self.correct), Fraction(0)) / total),
            "confidence": float(sum((c.exact() for c in self.confidence), Fraction(0)) / total),
        }

    def rows(self) -> list[dict[str, Any]]:
        """One dict per bin: ``lower``, ``upper``, ``count``, ``weight``, ``confidence``, ``accuracy``.

        ``confidence`` and ``accuracy`` are None for an empty bin.
        """
        out = []
        for b in range(self.n_bins):
            weight = self.weight[b].exact()
            out.append(
                {
                    "lower": float(self.edges[b]),
                    "upper": float(self.edges[b + 1]),
                    "count": int(self.counts[b]),
                    "weight": float(weight),
                    "confidence": float(self.confidence[b].exact() / weight) if weight > 0 else None,
                    "accuracy": float(self.correct[b].exact() / weight) if weight > 0 else None,
                }
            )
        return out


@dataclass
class ClasswiseBins:
    """One-vs-rest reliability bins of every class: class ``k``'s confidence is ``p_k``, right is ``y = k``.

    Per-bin sums are float64 (``K × N`` bins of exact sums would cost too much
    memory for wide outputs); they match a one-pass sum to rounding.
    """

    edges: FloatArray
    n_classes: int
    weight: FloatArray = field(init=False)
    correct: FloatArray = field(init=False)
    confidence: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        shape = (self.n_classes, self.edges.shape[0] - 1)
        self.weight = np.zeros(shape)
        self.correct = np.zeros(shape)
        self.confidence = np.zeros(shape)

    def add(self, probs: FloatArray, targets: IntArray, weights: FloatArray | None = None) -> ClasswiseBins:
        n_bins = self.edges.shape[0] - 1
        w = np.ones(probs.shape[0]) if weights is None else weights
        for k in range(self.n_classes):
            p = probs[:, k]
            index = bin_index(p, self.edges)
            self.weight[k] += np.bincount(index, weights=w, minlength=n_bins)
            self.correct[k] += np.bincount(index, weights=w * (targets == k), minlength=n_bins)
            self.confidence[k] += np.bincount(index, weights=w * p, minlength=n_bins)
        return self

    def merge(self, other: ClasswiseBins) -> ClasswiseBins:
        merged = ClasswiseBins(self.edges, self.n_classes)
        merged.weight = self.weight + other.weight
        merged.correct = self.correct + other.correct
        merged.confidence = self.confidence + other.confidence
        return merged

    def ece(self) -> FloatArray:
        """Each class's ECE, ``Σ_b |A_kb − C_kb| / W``."""
        total = self.weight.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            result: FloatArray = np.abs(self.correct - self.confidence).sum(axis=1) / total
        return result


def _as_probs(y_prob: ArrayLike, kind: Kind, tolerance: float) -> FloatArray:
    array = np.asarray(y_prob.to_numpy() if hasattr(y_prob, "to_numpy") else y_prob, dtype=np.float64)
    if array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1):
        column = array.reshape(-1)
        if kind == "probs" and (np.any(~np.isfinite(column)) or np.any((column < 0) | (column > 1))):
            raise DistributionError("binary y_prob must be P(y = 1) in [0, 1]", reason="value", name="y_prob")
        return binary_probs(column, kind)
    return given_probs(prepare(array, kind, tolerance=tolerance, name="y_prob"))


def _as_targets(y_true: ArrayLike, n_rows: int, n_classes: int, classes: ArrayLike | None = None) -> IntArray:
    from xent_cli.core.loss import class_indices

    if classes is not None or np.asarray(y_true).dtype.kind not in "iufb":
        # labels: as in ``classes``, or sorted; they name the columns (as log_loss)
        labels = class_indices(y_true, n_classes, classes)
    else:
        labels = np.asarray(y_true)
    if labels.ndim != 1 or labels.shape[0] != n_rows:
        raise DistributionError(
            f"y_prob has {n_rows} rows but y_true has {labels.size} labels", reason="shape", name="y_true"
        )
    if labels.dtype.kind == "b":
        labels = labels.astype(np.intp)
    if labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
        labels = labels.astype(np.intp)
    if labels.dtype.kind not in "iu" or np.any(labels < 0) or np.any(labels >= n_classes):
        raise DistributionError(
            f"y_true must hold class indices from 0 to {n_classes - 1}", reason="target", name="y_true"
        )
    return labels.astype(np.intp)


def _prepared(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    sample_weight: ArrayLike | None,
    kind: Kind,
    tolerance: float,
    labels: ArrayLike | None = None,
) -> tuple[FloatArray, IntArray, FloatArray | None]:
    """Probabilities, class indices and weights, paired (pandas objects by index) and validated."""
    from xent_cli.core.loss import paired_rows, sample_weights

    y_true, y_prob = paired_rows(y_true, y_prob, "y_prob")
    probs = _as_probs(y_prob, kind, tolerance)
    targets = _as_targets(y_true, probs.shape[0], probs.shape[1], labels)
    return probs, targets, sample_weights(sample_weight, probs.shape[0])


def brier(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    kind: Kind = "probs",
    tolerance: float = DEFAULT_TOLERANCE,
) -> float:
    r"""The Brier score, as ``sklearn.metrics.brier_score_loss``.

    .. math:: \mathrm{BS} = \frac{1}{\sum_i w_i} \sum_i w_i \, s \sum_k (p_{ik} - [y_i = k])^2

    with ``s = 1/2`` for two classes (then ``BS`` is the mean of ``(p_{i1} - y_i)^2``,
    the binary Brier score) and ``s = 1`` for more (scikit-learn's
    ``scale_by_half='auto'``).

    Parameters
    ----------
    y_true : array_like, shape (n,)
        0-based class indices (0/1 for one column of ``y_prob``), or labels
        (sorted, or as in ``labels``, they name the columns of ``y_prob``).
    y_prob : array_like, shape (n, K) or (n,)
        Predicted distributions, or one column of P(y = 1).
    sample_weight : array_like, shape (n,), optional
        Finite, non-negative weights, not all 0.
    labels : array_like, optional
        The class of each column of ``y_prob`` (as in :func:`~xent_cli.core.loss.log_loss`).
    kind : {'probs', 'weights', 'logits', 'logprobs'}
        What ``y_prob`` holds.

    Examples
    --------
    >>> round(brier([0, 1, 1], [0.2, 0.7, 0.4]), 12)
    0.163333333333
    >>> round(brier([0, 2], [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1]]), 12)
    0.66
    """
    probs, targets, weights = _prepared(y_true, y_prob, sample_weight, kind, tolerance, labels)
    rows = brier_rows(probs, targets) * brier_scale(probs.shape[1])
    if weights is None:
        return ExactSum().add(rows).mean()
    return float(ExactSum().add(rows * weights).exact() / ExactSum().add(weights).exact())


def calibration(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    n_bins: int = DEFAULT_BINS,
    strategy: Strategy = "uniform",
    sample_weight: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    kind: Kind = "probs",
    tolerance: float = DEFAULT_TOLERANCE,
) -> dict[str, Any]:
    r"""Top-label calibration: ECE, MCE, RMSCE, Brier score, accuracy, confidence and the bins.

    See the module documentation for the definitions. The confidence of a row
    is :math:`\max_k p_k`, and the row is right when :math:`\arg\max_k p_k = y`.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        0-based class indices (0/1 for one column of ``y_prob``), or labels
        (sorted, or as in ``labels``, they name the columns of ``y_prob``).
    y_prob : array_like, shape (n, K) or (n,)
        Predicted distributions, or one column of P(y = 1).
    n_bins : int
        Number of bins (default 15, at most ``MAX_BINS`` = 10000).
    strategy : {'uniform', 'quantile'}
        Equal-width bins over (0, 1], or bins of equal row counts.
    sample_weight : array_like, shape (n,), optional
        Weights of the rows.
    labels : array_like, optional
        The class of each column of ``y_prob`` (as in :func:`~xent_cli.core.loss.log_loss`).

    Returns
    -------
    dict
        ``ece``, ``mce``, ``rmsce``, ``brier``, ``accuracy``, ``confidence``,
        ``count`` and ``bins`` (a list of ``{lower, upper, count, weight,
        confidence, accuracy}``).

    Examples
    --------
    >>> result = calibration([0, 1, 1, 0], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]], n_bins=4)
    >>> round(result["ece"], 12), result["accuracy"]
    (0.15, 0.75)
    >>> [(b["lower"], b["upper"], b["count"]) for b in result["bins"] if b["count"]]
    [(0.5, 0.75, 2), (0.75, 1.0, 2)]
    """
    if strategy not in ("uniform", "quantile"):
        raise DistributionError(
            "strategy must be 'uniform' or 'quantile'", reason="strategy", name="strategy"
        )
    probs, targets, weights = _prepared(y_true, y_prob, sample_weight, kind, tolerance, labels)
    confidence, predicted = top_label(probs)
    edges = uniform_edges(n_bins) if strategy == "uniform" else quantile_edges(confidence, n_bins)
    bins = ReliabilityBins(edges).add(confidence, (predicted == targets).astype(np.float64), weights)
    result: dict[str, Any] = bins.statistics()
    result["brier"] = brier(targets, probs, sample_weight=weights)
    result["count"] = int(probs.shape[0])
    result["bins"] = bins.rows()
    return result
