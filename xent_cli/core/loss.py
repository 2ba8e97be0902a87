"""Log loss (negative log-likelihood of the true class), as in classification.

Minimizing the mean log loss over a data set is maximum-likelihood estimation,
and with one-hot targets it equals the cross-entropy H(target, prediction).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xent_cli.core.distributions import DEFAULT_TOLERANCE, Distributions, FloatArray, Kind, prepare
from xent_cli.errors import DistributionError

IntArray = NDArray[np.intp]

# scikit-learn's log_loss clips probabilities to [eps, 1 - eps] with eps that of float64.
AUTO_CLIP = float(np.finfo(np.float64).eps)


def clipped_log(log_probs: FloatArray, clip: float | None) -> FloatArray:
    """``log(clip(p, eps, 1 - eps))`` from ``log p``: the logarithm is monotone, so clip in log space."""
    if clip is None:
        return log_probs
    result: FloatArray = np.clip(log_probs, np.log(clip), np.log(1.0 - clip))
    return result


def nll_rows(
    pred: Distributions, targets: IntArray, label_smoothing: float = 0.0, clip: float | None = None
) -> FloatArray:
    """``-log p[target]`` per row; with smoothing ``eps``, ``H((1-eps) onehot + eps/K, p)``.

    From logits the log-probabilities come from a stable log-softmax, so a
    confident correct prediction gives a tiny loss, not 0 or a rounding error.
    A probability of 0 on the target gives ``inf``, unless ``clip`` (``eps``)
    clips every probability to ``[eps, 1 - eps]`` first, as
    ``sklearn.metrics.log_loss`` does (with ``eps`` = :data:`AUTO_CLIP`).
    """
    log_probs = clipped_log(pred.log_probs, clip)
    rows = np.arange(log_probs.shape[0])
    nll = -log_probs[rows, targets]
    if label_smoothing:
        # mean of -log p over all outcomes; -inf entries make it inf, as they should
        uniform = -np.mean(log_probs, axis=-1)
        nll = (1.0 - label_smoothing) * nll + label_smoothing * uniform
    result: FloatArray = nll + 0.0  # turns -0.0 into 0.0
    return result


def binary_nll_rows(
    scores: FloatArray, targets: IntArray, kind: Kind, clip: float | None = None, smooth: float = 0.0
) -> FloatArray:
    """Binary log loss from one column: P(y = 1) (``probs``) or its logit (``logits``).

    ``-[y log p + (1 - y) log(1 - p)]``, with ``log(1 - p)`` as ``log1p(-p)`` and,
    from logits, ``log sigmoid(z) = -softplus(-z)``. ``smooth`` (α) makes each
    of ``p`` and ``1 - p`` into ``(· + α) / (1 + 2α)``; ``clip`` clips them to
    ``[eps, 1 - eps]`` as ``sklearn.metrics.log_loss`` does (it forms ``1 - p``,
    then clips).
    """
    column = scores[:, 0] if scores.ndim == 2 else scores
    if kind == "logits" and not smooth:
        nll = np.where(targets == 1, np.logaddexp(0.0, -column), np.logaddexp(0.0, column))
        return nll if clip is None else -clipped_log(-nll, clip)
    if kind == "logits":
        column = np.exp(-np.logaddexp(0.0, -column))
    if smooth or clip is not None:
        chosen = np.where(targets == 1, column, 1.0 - column)
        if smooth:
            chosen = (
                (chosen + smooth) / (1.0 + 2.0 * smooth)
                if smooth <= 1
                else (chosen / smooth + 1.0) / (1.0 / smooth + 2.0)
            )
        with np.errstate(divide="ignore"):
            return -clipped_log(np.log(chosen), clip)
    with np.errstate(divide="ignore"):
        return np.where(targets == 1, -np.log(column), -np.log1p(-column))


def top1_correct_rows(pred: Distributions, targets: IntArray) -> FloatArray:
    """1.0 where the most probable class (ties: the first) is the target, else 0.0."""
    correct: FloatArray = (np.argmax(pred.probs, axis=-1) == targets).astype(np.float64)
    return correct


def log_loss(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    kind: Kind = "probs",
    label_smoothing: float = 0.0,
    tolerance: float = DEFAULT_TOLERANCE,
) -> float:
    r"""Mean log loss :math:`-\frac1n \sum_i \log p_i[y_i]` of predictions against class indices.

    Parameters
    ----------
    pred : array_like, shape (n, K)
        Predicted distributions (or logits, with ``kind='logits'``).
    target : array_like of int, shape (n,)
        0-based class indices.
    label_smoothing : float
        ``eps`` in [0, 1): the target is ``(1 - eps) * onehot + eps / K``.

    Examples
    --------
    >>> round(log_loss([[0.9, 0.1], [0.2, 0.8]], [0, 1]), 12)
    0.164252033486
    >>> log_loss([[0.0, 1.0]], [0])
    inf
    """
    if not 0 <= label_smoothing < 1:
        raise DistributionError(
            "label_smoothing must be in [0, 1)", reason="smoothing", name="label_smoothing"
        )
    dist = prepare(pred, kind, tolerance=tolerance, name="pred")
    labels = np.asarray(target)
    if labels.ndim == 0:
        labels = labels[None]
    if labels.shape[0] != dist.n_rows:
        raise DistributionError(
            f"pred has {dist.n_rows} rows but target has {labels.shape[0]}", reason="shape", name="target"
        )
    if labels.dtype.kind not in "iu" or np.any(labels < 0) or np.any(labels >= dist.n_outcomes):
        raise DistributionError(
            f"targets must be class indices from 0 to {dist.n_outcomes - 1}", reason="target", name="target"
        )
    return float(np.mean(nll_rows(dist, labels.astype(np.intp), label_smoothing)))
