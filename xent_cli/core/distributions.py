"""Turn raw numbers into validated, normalized distributions.

Every measure starts here. A block of rows (shape ``(n, K)``) is read as one of
four kinds:

``probs``
    finite, ``>= 0``, each row sums to 1 within ``tolerance``; rows within the
    tolerance are renormalized exactly.
``weights``
    finite, ``>= 0``, not all zero; each row is divided by its sum.
``logits``
    finite reals (``-inf`` allowed as "impossible outcome"); softmax along the
    row, computed in log space.
``logprobs``
    finite or ``-inf``; the log-sum-exp of each row is 0 within ``tolerance``.

The raw values are kept next to the normalized ones because cancellation-free
differences between two nearly equal distributions need them (see
``xent_cli.core.measures``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xent_cli.errors import DistributionError

Kind = Literal["probs", "weights", "logits", "logprobs"]
KINDS: tuple[Kind, ...] = ("probs", "weights", "logits", "logprobs")
DEFAULT_TOLERANCE = 1e-6

FloatArray = NDArray[np.float64]


@dataclass(eq=False)
class Distributions:
    """A 2-D block of validated distributions, one per row.

    Attributes
    ----------
    raw : ndarray, shape (n, K)
        The values as given, in float64 (weights rows rescaled by a power of
        two, which is exact).
    kind : str
        How ``raw`` is to be read.
    totals : ndarray, shape (n,) or None
        Row sums of ``raw`` for linear kinds; None for log-space kinds.
    log_normalizer : ndarray, shape (n,) or None
        ``logsumexp(raw)`` per row for log-space kinds; None otherwise.
    """

    raw: FloatArray
    kind: Kind
    totals: FloatArray | None = None
    log_normalizer: FloatArray | None = None
    _probs: FloatArray | None = field(default=None, repr=False)
    _log_probs: FloatArray | None = field(default=None, repr=False)

    @property
    def log_space(self) -> bool:
        return self.kind in ("logits", "logprobs")

    @property
    def n_rows(self) -> int:
        return int(self.raw.shape[0])

    @property
    def n_outcomes(self) -> int:
        return int(self.raw.shape[1])

    @property
    def probs(self) -> FloatArray:
        """Normalized probabilities, each row summing to 1."""
        if self._probs is None:
            if self.log_space:
                self._probs = np.exp(self.log_probs)
            else:
                assert self.totals is not None
                self._probs = self.raw / self.totals[:, None]
        return self._probs

    @property
    def log_probs(self) -> FloatArray:
        """Natural logs of ``probs`` (``-inf`` where a probability is 0)."""
        if self._log_probs is None:
            if self.log_space:
                assert self.log_normalizer is not None
                self._log_probs = self.raw - self.log_normalizer[:, None]
            else:
                self._log_probs = _linear_log_probs(self.raw, self.totals, self.probs)
        return self._log_probs

    def linear(self) -> Distributions:
        """The same distributions as plain probabilities (``kind='probs'``)."""
        if not self.log_space:
            return self
        probs = self.probs
        return Distributions(raw=probs, kind="probs", totals=np.sum(probs, axis=-1), _probs=None)


def _linear_log_probs(raw: FloatArray, totals: FloatArray | None, probs: FloatArray) -> FloatArray:
    """``log(raw / total)``; a row's largest value past half its total as ``log1p(-rest / total)``.

    Near a one-hot row, ``p = raw / total`` keeps 16 digits but ``1 - p`` (what ``-p log p``
    is, to first order) keeps only as many as it has zeros fewer: the others' sum ``rest``
    holds them all.
    """
    assert totals is not None
    with np.errstate(divide="ignore"):
        log_probs = np.log(probs)
    if raw.size == 0:
        return log_probs
    top = np.argmax(raw, axis=-1)
    rows = np.arange(raw.shape[0])
    largest = raw[rows, top]
    dominant = largest > 0.5 * totals
    if dominant.any():
        rows, top = rows[dominant], top[dominant]
        others = raw[rows].copy()
        others[np.arange(rows.size), top] = 0.0
        log_probs[rows, top] = np.log1p(-np.sum(others, axis=-1) / totals[rows])
    return log_probs


def is_labelled(values: object) -> bool:
    """A pandas DataFrame or Series, recognised by its shape of API (the core imports no pandas)."""
    has_values = hasattr(values, "to_numpy") and (hasattr(values, "columns") or hasattr(values, "dtype"))
    return has_values and hasattr(values, "index")


def outcome_labels(values: object) -> list[Any] | None:
    """The outcome names of a labelled input: a DataFrame's columns, a Series' index."""
    if not is_labelled(values):
        return None
    labels = values.columns if hasattr(values, "columns") else values.index  # type: ignore[attr-defined]
    return list(labels)


def row_labels(values: object) -> list[Any] | None:
    """A DataFrame's row labels (its index); None for anything else."""
    if is_labelled(values) and hasattr(values, "columns"):
        return list(values.index)  # type: ignore[attr-defined]
    return None


def as_array(values: ArrayLike, name: str = "p", *, masked: float = 0.0) -> NDArray[Any]:
    """Values as a real NumPy array, whatever container they came in.

    * A NumPy masked array: masked entries are absent outcomes, read as
      ``masked`` (0 for probabilities and weights, ``-inf`` for logits and
      log-probabilities), whatever the data under the mask holds.
    * A pandas DataFrame or Series: its values (pairing by label is done by
      the callers that pair two inputs; see :func:`align_labelled`).
    * Complex numbers are refused: a distribution is real.
    """
    # numpy.ma is imported on first use (about 20 ms): a masked array exists only once it was.
    masked_module = sys.modules.get("numpy.ma")
    if masked_module is not None and isinstance(values, masked_module.MaskedArray):
        data = np.ma.getdata(values)
        if data.dtype.kind == "c":
            raise DistributionError("values are complex; distributions are real", reason="type", name=name)
        try:
            values = np.ma.filled(values.astype(np.float64), masked)
        except (ValueError, TypeError):
            raise DistributionError("values must be numbers", reason="type", name=name) from None
    elif is_labelled(values):
        dtypes = list(values.dtypes) if hasattr(values, "columns") else [values.dtype]  # type: ignore[union-attr]
        if any(getattr(dtype, "kind", "") == "c" for dtype in dtypes):
            raise DistributionError("values are complex; distributions are real", reason="type", name=name)
        try:
            values = values.to_numpy(dtype=np.float64, na_value=np.nan)  # type: ignore[union-attr]
        except (ValueError, TypeError):
            raise DistributionError("values must be numbers", reason="type", name=name) from None
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise DistributionError(f"cannot read as an array: {exc}", reason="shape", name=name) from None
    if array.dtype.kind == "c":
        raise DistributionError("values are complex; distributions are real", reason="type", name=name)
    if array.dtype.kind not in "biuf":
        try:
            array = array.astype(np.float64)
        except (ValueError, TypeError):
            raise DistributionError("values must be numbers", reason="type", name=name) from None
    return array


def align_labelled(p: ArrayLike, q: ArrayLike) -> tuple[ArrayLike, ArrayLike]:
    """Pair two inputs by label where both have labels: outcomes by name, a DataFrame's rows by index.

    Outcomes (DataFrame columns, Series index) of ``q`` are put in ``p``'s
    order; different sets of names are an error that lists the difference.
    Two DataFrames of more than one row with the same row labels in another
    order have ``q``'s rows put in ``p``'s order; different row labels are an
    error (pair by position with ``.to_numpy()``). Unlabelled inputs pair by
    position, as before.
    """
    p_names, q_names = outcome_labels(p), outcome_labels(q)
    if p_names is None or q_names is None:
        return p, q
    for names, side in ((p_names, "p"), (q_names, "q")):
        if len(set(names)) != len(names):
            raise DistributionError("outcome names must be unique", reason="outcomes", name=side)
    p_values = as_array(p, "p")
    q_values = as_array(q, "q")
    if p_names != q_names:
        only_p = [n for n in p_names if n not in set(q_names)]
        only_q = [n for n in q_names if n not in set(p_names)]
        if only_p or only_q:
            raise DistributionError(
                f"p and q have different outcomes "
                f"(only in p: {_listed(only_p)}; only in q: {_listed(only_q)})",
                reason="outcomes",
                name="q",
            )
        position = {name: i for i, name in enumerate(q_names)}
        q_values = q_values[..., [position[name] for name in p_names]]
    p_rows, q_rows = row_labels(p), row_labels(q)
    if p_rows is not None and q_rows is not None and len(p_rows) > 1 and len(q_rows) > 1 and p_rows != q_rows:
        if len(set(q_rows)) == len(q_rows) and set(p_rows) == set(q_rows) and len(p_rows) == len(q_rows):
            position = {label: i for i, label in enumerate(q_rows)}
            q_values = q_values[[position[label] for label in p_rows]]
        else:
            raise DistributionError(
                "p and q have different row labels (their index)",
                reason="rows",
                name="q",
                hint="align them first (q.reindex(p.index)), or pair rows by position with .to_numpy()",
            )
    return p_values, q_values


def _listed(names: list[Any]) -> str:
    shown = ", ".join(repr(n) for n in names[:5])
    return (shown + ", …") if len(names) > 5 else (shown or "none")


def as_2d(values: ArrayLike, name: str = "p", *, masked: float = 0.0) -> FloatArray:
    """Values as a C-contiguous float64 array of shape ``(n, K)`` (see :func:`as_array`).

    float16/float32 inputs are widened here, so every sum downstream is
    accumulated in float64.
    """
    array = as_array(values, name, masked=masked)
    if array.ndim == 0:
        raise DistributionError(
            "expected a vector of outcome values, got a scalar", reason="shape", name=name
        )
    if array.ndim == 1:
        array = array[None, :]
    elif array.ndim > 2:
        array = array.reshape(-1, array.shape[-1])
    if array.shape[-1] == 0:
        raise DistributionError("a distribution needs at least one outcome", reason="empty", name=name)
    return np.ascontiguousarray(array, dtype=np.float64)


def _first(mask: NDArray[np.bool_]) -> tuple[int, int]:
    flat = int(np.argmax(mask))
    row, column = divmod(flat, mask.shape[1])
    return row, column


def _check_finite(raw: FloatArray, name: str, allow_neg_inf: bool) -> None:
    bad = ~np.isfinite(raw)
    if allow_neg_inf:
        bad &= ~np.isneginf(raw)
    if bad.any():
        row, column = _first(bad)
        value = raw[row, column]
        raise DistributionError(
            f"value is {_spell(value)}",
            reason="nonfinite",
            row=row,
            column=column,
            name=name,
        )


def _spell(value: float) -> str:
    if np.isnan(value):
        return "NaN"
    return "inf" if value > 0 else "-inf"


def _check_nonnegative(raw: FloatArray, name: str) -> None:
    negative = raw < 0
    if negative.any():
        row, column = _first(negative)
        raise DistributionError(
            f"value {raw[row, column]:.6g} is negative",
            reason="negative",
            row=row,
            column=column,
            name=name,
        )


def _log_softmax_parts(values: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(values - peak, log1p(rest), peak)`` per row, where ``logsumexp = peak + log1p(rest)``.

    The largest term contributes exactly 1 and is left out of ``rest``, so rows
    dominated by one outcome keep the digits of a small remainder (1 + 1e-20
    would round them away). Rows that are all ``-inf`` get ``peak = -inf``.
    """
    peak = np.max(values, axis=-1)
    safe_peak = np.where(np.isfinite(peak), peak, 0.0)
    # values <= peak, so a difference past float64's range is -inf, and its exp is 0 as it
    # should be (the outcome's log-probability is below -1.8e308).
    with np.errstate(over="ignore"):
        shifted = values - safe_peak[:, None]
    terms = np.exp(shifted)
    terms[np.arange(values.shape[0]), np.argmax(values, axis=-1)] = 0.0
    log_rest = np.log1p(np.sum(terms, axis=-1))
    return shifted, log_rest, peak


def log_sum_exp(values: FloatArray) -> FloatArray:
    """``log(sum(exp(values)))`` along the last axis, without overflow; ``-inf`` for all ``-inf``."""
    _, log_rest, peak = _log_softmax_parts(values)
    with np.errstate(invalid="ignore"):
        result = peak + log_rest
    return np.where(np.isneginf(peak), -np.inf, result)


def prepare(
    values: ArrayLike,
    kind: Kind = "probs",
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    name: str = "p",
) -> Distributions:
    """Validate ``values`` as distributions of ``kind`` and normalize them.

    Parameters
    ----------
    values : array_like, shape (K,) or (n, K)
        One distribution, or one per row. Leading axes beyond two are flattened.
    kind : {'probs', 'weights', 'logits', 'logprobs'}
        How the numbers are to be read.
    tolerance : float
        Absolute tolerance on a row's sum (probs) or log-sum-exp (logprobs).
    name : str
        The parameter name used in error messages.

    Raises
    ------
    DistributionError
        With ``row`` and ``column`` set to the first offending entry.

    Examples
    --------
    >>> prepare([[1, 3]], "weights").probs
    array([[0.25, 0.75]])
    >>> prepare([0.0, 0.0], "logits").probs
    array([[0.5, 0.5]])
    """
    if kind not in KINDS:
        raise DistributionError(
            f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}", reason="kind", name=name
        )
    if not tolerance >= 0:
        raise DistributionError("tolerance must be >= 0", reason="tolerance", name=name)
    raw = as_2d(values, name, masked=-np.inf if kind in ("logits", "logprobs") else 0.0)

    if kind in ("logits", "logprobs"):
        _check_finite(raw, name, allow_neg_inf=True)
        shifted, log_rest, peak = _log_softmax_parts(raw)
        impossible = np.isneginf(peak)
        if impossible.any():
            row = int(np.argmax(impossible))
            raise DistributionError(
                "every value in the row is -inf", reason="all_neg_inf", row=row, name=name
            )
        normalizer = peak + log_rest
        if kind == "logprobs":
            off = np.abs(normalizer) > tolerance
            if off.any():
                row = int(np.argmax(off))
                if peak[row] > tolerance:
                    # A log-probability above 0 is a probability above 1: a placeholder
                    # (an API's 1e30) or raw scores. Renormalizing as logits would hand the
                    # placeholder all the probability, so the message names the value.
                    column = int(np.argmax(raw[row]))
                    raise DistributionError(
                        f"{raw[row, column]:.6g} is above 0, so it is not a log-probability "
                        "(its probability would be above 1)",
                        reason="logprob_positive",
                        row=row,
                        column=column,
                        name=name,
                    )
                raise DistributionError(
                    f"probabilities sum to {np.exp(normalizer[row]):.6g}, not 1",
                    reason="logprob_sum",
                    row=row,
                    name=name,
                )
        # (x - peak) - log1p(rest) rather than x - logsumexp: the latter cancels
        # for the largest logits and loses their relative precision.
        log_probs = shifted - log_rest[:, None]
        return Distributions(raw=raw, kind=kind, log_normalizer=normalizer, _log_probs=log_probs)

    _check_finite(raw, name, allow_neg_inf=False)
    _check_nonnegative(raw, name)
    if kind == "weights":
        # Scale each row by a power of two so its largest weight is in [0.5, 1):
        # exact in binary floating point, and it keeps sums of huge weights from
        # overflowing and products of tiny totals from underflowing.
        _, exponent = np.frexp(np.max(raw, axis=-1))
        raw = np.ldexp(raw, -exponent[:, None])
    totals = np.sum(raw, axis=-1)
    if kind == "probs":
        off = np.abs(totals - 1.0) > tolerance
        if off.any():
            row = int(np.argmax(off))
            raise DistributionError(
                f"values sum to {totals[row]:.6g}, not 1", reason="sum", row=row, name=name
            )
    else:
        zero = totals == 0
        if zero.any():
            row = int(np.argmax(zero))
            raise DistributionError("all values are 0", reason="all_zero", row=row, name=name)
    return Distributions(raw=raw, kind=kind, totals=totals)


def smooth(dist: Distributions, alpha: float) -> Distributions:
    """Additive smoothing ``q' = (q + alpha) / (1 + K * alpha)``.

    For ``alpha > 1`` it is computed as ``(q / alpha + 1) / (1 / alpha + K)``,
    the same number without overflow: any finite ``alpha`` works, and a huge
    one gives the uniform distribution, its limit.

    Examples
    --------
    >>> smooth(prepare([1.0, 0.0]), 0.5).probs
    array([[0.75, 0.25]])
    >>> smooth(prepare([1.0, 0.0]), 1e308).probs
    array([[0.5, 0.5]])
    """
    if not (alpha >= 0 and np.isfinite(alpha)):
        raise DistributionError("smoothing alpha must be a finite number >= 0", reason="smooth")
    if alpha == 0:
        return dist
    k = dist.n_outcomes
    if alpha <= 1:
        smoothed = (dist.probs + alpha) / (1.0 + k * alpha)
    else:
        smoothed = (dist.probs / alpha + 1.0) / (1.0 / alpha + k)
    return Distributions(raw=smoothed, kind="probs", totals=np.sum(smoothed, axis=-1))
