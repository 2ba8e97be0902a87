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

from dataclasses import dataclass, field
from typing import Literal

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
                with np.errstate(divide="ignore"):
                    self._log_probs = np.log(self.probs)
        return self._log_probs

    def linear(self) -> Distributions:
        """The same distributions as plain probabilities (``kind='probs'``)."""
        if not self.log_space:
            return self
        probs = self.probs
        return Distributions(raw=probs, kind="probs", totals=np.sum(probs, axis=-1), _probs=None)


def as_2d(values: ArrayLike, name: str = "p") -> FloatArray:
    """Values as a C-contiguous float64 array of shape ``(n, K)``.

    float16/float32 inputs are widened here, so every sum downstream is
    accumulated in float64.
    """
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise DistributionError(f"cannot read as an array: {exc}", reason="shape", name=name) from None
    if array.dtype.kind not in "biuf":
        try:
            array = array.astype(np.float64)
        except (ValueError, TypeError):
            raise DistributionError("values must be numbers", reason="type", name=name) from None
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
    raw = as_2d(values, name)

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

    Examples
    --------
    >>> smooth(prepare([1.0, 0.0]), 0.5).probs
    array([[0.75, 0.25]])
    """
    if not (alpha >= 0 and np.isfinite(alpha)):
        raise DistributionError("smoothing alpha must be a finite number >= 0", reason="smooth")
    if alpha == 0:
        return dist
    k = dist.n_outcomes
    smoothed = (dist.probs + alpha) / (1.0 + k * alpha)
    return Distributions(raw=smoothed, kind="probs", totals=np.sum(smoothed, axis=-1))
