"""Log loss (negative log-likelihood of the true class), as in classification.

Minimizing the mean log loss over a data set is maximum-likelihood estimation,
and with one-hot targets it equals the cross-entropy H(target, prediction).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xent_cli.core.distributions import (
    DEFAULT_TOLERANCE,
    Distributions,
    FloatArray,
    Kind,
    is_labelled,
    prepare,
)
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


def sample_weights(sample_weight: ArrayLike | None, n_rows: int) -> NDArray[np.float64] | None:
    """``sample_weight`` as a float64 vector of ``n_rows`` finite weights ``>= 0``, not all 0 (None: none)."""
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if weights.shape[0] != n_rows:
        raise DistributionError(
            f"sample_weight has {weights.shape[0]} values for {n_rows} rows",
            reason="shape",
            name="sample_weight",
        )
    if np.any(~np.isfinite(weights)) or np.any(weights < 0) or not np.any(weights > 0):
        raise DistributionError(
            "sample_weight must be finite, >= 0 and not all 0", reason="value", name="sample_weight"
        )
    return weights


def paired_rows(y_true: ArrayLike, y_pred: ArrayLike, pred_name: str = "y_pred") -> tuple[Any, Any]:
    """``y_true`` and ``y_pred`` with their rows paired: by index when both are pandas objects.

    A Series of labels beside a DataFrame (or Series) of predictions is reordered
    to the predictions' index when the two indexes hold the same labels; other
    differences raise, never a silent pairing by position.
    """
    if not (is_labelled(y_true) and is_labelled(y_pred)):
        return y_true, y_pred
    true_any: Any = y_true
    pred_any: Any = y_pred
    true_index, pred_index = list(true_any.index), list(pred_any.index)
    if true_index == pred_index:
        return np.asarray(true_any.to_numpy()), pred_any
    if len(set(true_index)) != len(true_index) or set(true_index) != set(pred_index):
        raise DistributionError(
            f"y_true and {pred_name} have different row labels (their index)",
            reason="rows",
            name="y_true",
            hint=f"align them first (y_true.reindex({pred_name}.index)), or pair by position "
            "with .to_numpy()",
        )
    position = {label: i for i, label in enumerate(true_index)}
    values = np.asarray(true_any.to_numpy())
    return values[[position[label] for label in pred_index]], pred_any


def class_indices(y_true: ArrayLike, n_classes: int, labels: ArrayLike | None = None) -> IntArray:
    """Class indices: 0-based integers, or labels mapped to ``labels`` (default: sorted unique).

    As scikit-learn: with string labels, column ``k`` of the predictions is the
    ``k``-th label in sorted order (or in ``labels``).
    """
    values = np.asarray(y_true)
    if values.ndim == 0:
        values = values[None]
    if labels is None and values.dtype.kind == "b":
        values = values.astype(np.intp)
    if (
        labels is None
        and values.dtype.kind == "f"
        and np.all(np.isfinite(values))
        and np.all(values == np.round(values))
    ):
        values = values.astype(np.intp)
    if labels is None and values.dtype.kind in "iu":
        if np.any(values < 0) or np.any(values >= n_classes):
            raise DistributionError(
                f"y_true must hold class indices from 0 to {n_classes - 1}", reason="target", name="y_true"
            )
        return values.astype(np.intp)
    classes = np.unique(values) if labels is None else np.asarray(labels)
    if classes.shape[0] != n_classes:
        raise DistributionError(
            f"y_true has {classes.shape[0]} classes but the predictions have {n_classes} columns",
            reason="target",
            name="y_true",
            hint="pass labels=[...] naming the class of each column",
        )
    order = np.argsort(classes, kind="stable")
    found = np.searchsorted(classes[order], values)
    found = np.minimum(found, n_classes - 1)
    if np.any(classes[order][found] != values):
        raise DistributionError("y_true holds a label that is not in labels", reason="target", name="y_true")
    result: IntArray = order[found].astype(np.intp)
    return result


def log_loss(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    clip: float | str | None = None,
    kind: Kind = "probs",
    label_smoothing: float = 0.0,
    tolerance: float = DEFAULT_TOLERANCE,
) -> float:
    r"""Mean log loss :math:`-\sum_i w_i \log p_i[y_i] / \sum_i w_i`, in scikit-learn's argument order.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        True labels: 0-based class indices, or labels (sorted, or as in ``labels``,
        name the columns of ``y_pred``, as scikit-learn does).
    y_pred : array_like, shape (n, K) or (n,)
        Predicted distributions (or logits, with ``kind='logits'``); a 1-D array
        is P(y = 1) of a binary problem.
    sample_weight : array_like, shape (n,), optional
        Finite weights ``>= 0``, not all 0.
    labels : array_like, optional
        The class of each column of ``y_pred``.
    clip : None, 'auto' or float
        Clip probabilities to ``[eps, 1 - eps]`` first, as ``sklearn.metrics.log_loss``
        does with ``eps`` = float64's machine epsilon (``'auto'``). None (the
        default): a probability of 0 on the true class gives ``inf``.
    label_smoothing : float
        ``eps`` in [0, 1): the target is ``(1 - eps) * onehot + eps / K``.

    Two pandas objects pair their rows by index (or raise).

    Examples
    --------
    >>> round(log_loss([0, 1], [[0.9, 0.1], [0.2, 0.8]]), 12)
    0.164252033486
    >>> log_loss([0], [[0.0, 1.0]])
    inf
    >>> round(log_loss([0], [[0.0, 1.0]], clip="auto"), 6)
    36.043653
    >>> round(log_loss(["spam", "ham", "ham", "spam"], [[.1, .9], [.9, .1], [.8, .2], [.35, .65]]), 5)
    0.21616
    >>> round(log_loss([1, 0], [0.8, 0.3], sample_weight=[1, 3]), 12)
    0.323292095783
    """
    if not 0 <= label_smoothing < 1:
        raise DistributionError(
            "label_smoothing must be in [0, 1)", reason="smoothing", name="label_smoothing"
        )
    y_true, y_pred = paired_rows(y_true, y_pred)
    eps = AUTO_CLIP if clip == "auto" else clip
    if isinstance(eps, str) or (eps is not None and not 0 < eps < 0.5):
        raise DistributionError(
            "clip must be None, 'auto' or a number in (0, 0.5)", reason="clip", name="clip"
        )
    values = np.asarray(y_pred, dtype=np.float64) if not is_labelled(y_pred) else y_pred
    binary = np.ndim(values) == 1
    if binary:
        column = np.asarray(values, dtype=np.float64)
        if kind == "probs" and (np.any(~np.isfinite(column)) or np.any((column < 0) | (column > 1))):
            raise DistributionError("binary y_pred must be P(y = 1) in [0, 1]", reason="value", name="y_pred")
        targets = class_indices(y_true, 2, labels)
        if targets.shape[0] != column.shape[0]:
            raise DistributionError(
                f"y_pred has {column.shape[0]} rows but y_true has {targets.shape[0]}",
                reason="shape",
                name="y_true",
            )
        nll = binary_nll_rows(column, targets, "logits" if kind == "logits" else "probs", eps)
    else:
        dist = prepare(values, kind, tolerance=tolerance, name="y_pred")
        targets = class_indices(y_true, dist.n_outcomes, labels)
        if targets.shape[0] != dist.n_rows:
            raise DistributionError(
                f"y_pred has {dist.n_rows} rows but y_true has {targets.shape[0]}",
                reason="shape",
                name="y_true",
            )
        nll = nll_rows(dist, targets, label_smoothing, eps)
    weights = sample_weights(sample_weight, nll.shape[0])
    if weights is None:
        return float(np.mean(nll))
    with np.errstate(invalid="ignore"):
        weighted = np.where(weights > 0, weights * nll, 0.0)
    return float(np.sum(weighted) / np.sum(weights))
