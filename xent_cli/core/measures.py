"""Entropy, cross-entropy, KL and Jensen–Shannon divergences, and their relatives.

Every measure is computed per row (along the last axis) in float64, with the
conventions ``0 * log 0 = 0`` and ``p > 0`` where ``q = 0`` giving ``inf``.

Numerical method
----------------
Comparing two nearly equal distributions is the common case (a refactor, a
quantized copy) and the one where textbook formulas fail: ``sum p*log(p/q)``
adds terms of both signs that cancel, and ``H(p, q) - H(p)`` subtracts two
nearly equal numbers. Here every divergence is a sum of terms that are each
non-negative and computed to full relative accuracy:

* For each outcome we compute ``diff = p - q`` and ``r = log(p/q)`` directly
  from the inputs (differences of the raw values are exact when they are close,
  by Sterbenz's lemma; from logits, ``r`` comes from the difference of logits
  and a ``log1p``/``expm1`` normalizer, never from two rounded log-softmaxes).
* ``KL(p||q) = sum q * phi(p/q)`` with ``phi(t) = t*log(t) - t + 1 >= 0``,
  evaluated by its Taylor series near ``t = 1`` and as ``p*r - diff`` elsewhere.
* ``JS(p, q) = sum m * psi(v)`` with ``m = (p+q)/2``, ``v = (p-q)/(p+q)`` and
  ``psi(v) = ((1+v)log(1+v) + (1-v)log(1-v))/2 >= 0``, likewise.
* ``H(p, q) = H(p) + KL(p||q)``: two sums of non-negative terms.

So a divergence is never negative, ``KL(p||p)`` is exactly 0, and a KL of
1e-14 keeps its leading digits.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xent_cli.core.distributions import (
    DEFAULT_TOLERANCE,
    Distributions,
    FloatArray,
    Kind,
    align_labelled,
    prepare,
    smooth,
)
from xent_cli.errors import DistributionError

# Below these magnitudes the series are used; above them the closed forms lose
# at most a factor 2/threshold of relative accuracy to cancellation (< 1e-13).
_PHI_SERIES_BELOW = 1e-2
_PSI_SERIES_BELOW = 1e-2
# phi(1+u) = u**2 * sum_k (-1)**k u**k / ((k+1)(k+2)); 10 terms reach 1e-20 at |u| = 1e-2.
_PHI_COEFFS = tuple((-1.0) ** k / ((k + 1) * (k + 2)) for k in range(10))
# psi(v) = v**2 * sum_k v**(2k) / ((2k+1)(2k+2)); 5 terms reach 1e-20 at |v| = 1e-2.
_PSI_COEFFS = tuple(1.0 / ((2 * k + 1) * (2 * k + 2)) for k in range(5))


def _horner(x: FloatArray, coeffs: tuple[float, ...]) -> FloatArray:
    result = np.full_like(x, coeffs[-1])
    for c in coeffs[-2::-1]:
        result *= x
        result += c
    return result


@dataclass(frozen=True)
class PairTerms:
    """Per-outcome quantities for a pair of distributions, computed without cancellation.

    Attributes
    ----------
    p, q : ndarray, shape (n, K)
        The normalized probabilities (broadcast to a common shape).
    diff : ndarray
        ``p - q``, accurate to relative precision even when ``p ~= q``.
    log_ratio : ndarray
        ``log(p / q)``; ``+inf`` where only ``q`` is 0, ``-inf`` where only ``p``
        is 0, and 0 where both are.
    """

    p: FloatArray
    q: FloatArray
    diff: FloatArray
    log_ratio: FloatArray


def pair_terms(p: Distributions, q: Distributions) -> PairTerms:
    """Accurate ``p - q`` and ``log(p/q)`` for every outcome of every row."""
    if p.log_space and q.log_space:
        return _pair_terms_log(p, q)
    return _pair_terms_linear(p.linear(), q.linear())


def _pair_terms_linear(p: Distributions, q: Distributions) -> PairTerms:
    assert p.totals is not None and q.totals is not None
    p_hat, q_hat = np.broadcast_arrays(p.probs, q.probs)
    sp, sq = p.totals[:, None], q.totals[:, None]
    d = p.raw - q.raw  # exact where the two are within a factor 2 (Sterbenz)
    gap = np.sum(d, axis=-1, keepdims=True)  # Sp - Sq, without rounding Sp and Sq first
    # p/Sp - q/Sq = (d*S - s*D) / (Sp*Sq) with s, S the means of (p, q), (Sp, Sq)
    # and D = Sp - Sq: no rounded normalized values are subtracted, so a tiny
    # difference keeps its digits, and swapping p and q negates it exactly.
    # It needs Sp ~ Sq (true for probs); otherwise normalize first.
    close_totals = np.abs(gap) <= 1e-3 * np.minimum(sp, sq)
    with np.errstate(invalid="ignore", over="ignore"):
        exact = (d * (0.5 * (sp + sq)) - (0.5 * (p.raw + q.raw)) * gap) / (sp * sq)
    diff = np.where(close_totals, exact, p_hat - q_hat)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u = diff / q_hat
        near = np.abs(u) < 0.5
        log_ratio = np.where(near, np.log1p(np.where(near, u, 0.0)), np.log(p_hat) - np.log(q_hat))
    log_ratio = np.where((p_hat == 0) & (q_hat == 0), 0.0, log_ratio)
    return PairTerms(p_hat, q_hat, diff, log_ratio)


def _pair_terms_log(p: Distributions, q: Distributions) -> PairTerms:
    log_q = q.log_probs
    p_hat, q_hat = np.broadcast_arrays(p.probs, q.probs)
    # Logits far apart (a difference past float64's range) overflow here; such rows
    # are redone below from the log-probabilities, so the warning says nothing.
    with np.errstate(invalid="ignore", over="ignore"):
        delta = p.raw - q.raw  # exact where the logits are close
    delta, log_q = np.broadcast_arrays(delta, log_q)
    # Softmax is shift-invariant: measure delta from its value at q's mode so a
    # constant offset between the logits cancels exactly.
    rows = np.arange(delta.shape[0])
    anchor = delta[rows, np.argmax(log_q, axis=-1)]
    anchor = np.where(np.isfinite(anchor), anchor, 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = delta - anchor[:, None]
    # Zero means log = -inf; exp() of a very negative log may underflow to 0
    # while the outcome still counts (p log(p/q) with q ~ 1e-330 is finite).
    p_zero = np.broadcast_to(np.isneginf(p.log_probs), delta.shape)
    q_zero = np.isneginf(log_q)
    live = ~q_zero
    s = np.where(live, shifted, 0.0)
    # log(p/q) = shifted - c with c = log(sum q * exp(shifted)) = log1p(sum q * expm1(shifted)).
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        terms = np.where(s > 1.0, np.exp(log_q + s) - q_hat, q_hat * np.expm1(s))
        terms = np.where(live, terms, 0.0)
        c = np.log1p(np.sum(terms, axis=-1))
    bad = ~np.isfinite(c)
    if bad.any():  # overflow in the fast form: fall back to log-sum-exp
        from xent_cli.core.distributions import log_sum_exp

        with np.errstate(invalid="ignore", over="ignore"):  # still inf: handled just below
            c[bad] = log_sum_exp(np.where(live[bad], log_q[bad] + s[bad], -np.inf))
    with np.errstate(invalid="ignore", over="ignore"):
        log_ratio = shifted - c[:, None]
    # Rows where a difference of logits left float64 (past 1.8e308) or the normalizer is
    # still not finite: log(p/q) from the two log-probabilities, which are finite there;
    # precision is no issue so far from p = q.
    either_zero = p_zero | q_zero
    overflowed = ~np.all((np.isfinite(shifted) & np.isfinite(log_ratio)) | either_zero, axis=-1)
    overflowed |= ~np.isfinite(c)
    if overflowed.any():
        p_log, q_log = np.broadcast_arrays(p.log_probs, log_q)
        with np.errstate(invalid="ignore"):
            log_ratio[overflowed] = p_log[overflowed] - q_log[overflowed]
    both_zero = p_zero & q_zero
    log_ratio = np.where(both_zero, 0.0, log_ratio)
    log_ratio = np.where(p_zero & ~both_zero, -np.inf, log_ratio)
    log_ratio = np.where(q_zero & ~both_zero, np.inf, log_ratio)
    with np.errstate(invalid="ignore", over="ignore"):
        # Near 1 the ratio gives the digits; far from it p - q cannot cancel, and
        # expm1 of a huge ratio would overflow.
        near = np.abs(log_ratio) < 1.0
        diff = np.where(near, q_hat * np.expm1(np.where(near, log_ratio, 0.0)), p_hat - q_hat)
    return PairTerms(p_hat, q_hat, diff, log_ratio)


def kl_terms(t: PairTerms) -> FloatArray:
    """Per-outcome contributions ``q * phi(p/q)`` to ``KL(p||q)``, each ``>= 0``.

    They differ from ``p*log(p/q)`` outcome by outcome (by ``p - q``) but have the
    same row sum, and unlike those they never cancel.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u = t.diff / t.q
        near = np.abs(u) < _PHI_SERIES_BELOW
        u_near = np.where(near, u, 0.0)
        series = t.q * u_near * u_near * _horner(u_near, _PHI_COEFFS)
        closed = t.p * t.log_ratio - t.diff
        # p == 0 gives 0*(-inf): the limit is q.
        closed = np.where(t.p == 0, t.q, closed)
        result = np.where(near, series, closed)
    return np.maximum(result, 0.0)


def js_terms(t: PairTerms) -> FloatArray:
    """Per-outcome contributions ``m * psi(v)`` to the Jensen–Shannon divergence."""
    m = 0.5 * (t.p + t.q)
    with np.errstate(divide="ignore", invalid="ignore"):
        # |v| <= 1 exactly in theory; rounding can overshoot where p or q is 0.
        v = np.clip(np.where(m > 0, 0.5 * t.diff / m, 0.0), -1.0, 1.0)
        near = np.abs(v) < _PSI_SERIES_BELOW
        v_near = np.where(near, v, 0.0)
        series = m * v_near * v_near * _horner(v_near * v_near, _PSI_COEFFS)
        closed = 0.5 * m * (_xlog1py(1.0 + v, v) + _xlog1py(1.0 - v, -v))
        result = np.where(near, series, closed)
    return np.maximum(result, 0.0)


def _xlog1py(x: FloatArray, y: FloatArray) -> FloatArray:
    """``x * log1p(y)`` with ``0 * log 0 = 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log1p(y))


def entropy_terms(p: Distributions) -> FloatArray:
    """Per-outcome contributions ``-p log p``, each ``>= 0``."""
    probs = p.probs
    with np.errstate(invalid="ignore"):
        terms = np.where(probs > 0, -probs * p.log_probs, 0.0)
    return np.maximum(terms, 0.0)


def row_sum(terms: FloatArray) -> FloatArray:
    """Sum along the last axis; pairwise in NumPy, so the error grows as log K.

    The terms are non-negative, so a sum past float64's range is inf, its correct
    rounding: no overflow warning.
    """
    with np.errstate(over="ignore"):
        result: FloatArray = np.sum(np.ascontiguousarray(terms), axis=-1)
    return result


# --- per-row measures over prepared blocks -----------------------------------


def entropy_rows(p: Distributions) -> FloatArray:
    return row_sum(entropy_terms(p))


def kl_rows(p: Distributions, q: Distributions) -> FloatArray:
    return row_sum(kl_terms(pair_terms(p, q)))


def cross_entropy_rows(p: Distributions, q: Distributions) -> FloatArray:
    return entropy_rows(p) + kl_rows(p, q)


def js_rows(p: Distributions, q: Distributions) -> FloatArray:
    return row_sum(js_terms(pair_terms(p, q)))


def swapped(t: PairTerms) -> PairTerms:
    """The terms of ``(q, p)`` from those of ``(p, q)``: exact, nothing recomputed."""
    return PairTerms(t.q, t.p, -t.diff, -t.log_ratio)


def total_variation_terms(t: PairTerms) -> FloatArray:
    """Per-outcome ``|p - q| / 2``; they sum to the total variation distance."""
    return 0.5 * np.abs(t.diff)


def total_variation_rows(t: PairTerms) -> FloatArray:
    """Total variation distance per row, in [0, 1] (rounding can put a disjoint pair's sum 1 ulp past 1)."""
    return np.minimum(row_sum(total_variation_terms(t)), 1.0)


def hellinger_terms(t: PairTerms) -> FloatArray:
    """Per-outcome ``(sqrt p - sqrt q)**2 / 2``, as ``(p-q)**2 / (2 (sqrt p + sqrt q)**2)``.

    The second form has no cancellation when ``p ~= q``, unlike ``1 - sum sqrt(p q)``.
    """
    root_sum = np.sqrt(t.p) + np.sqrt(t.q)
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = 0.5 * (t.diff / root_sum) ** 2
    return np.where(root_sum > 0, terms, 0.0)


def hellinger_rows(t: PairTerms) -> FloatArray:
    """Hellinger distance ``sqrt(sum (sqrt p - sqrt q)**2 / 2)``, in [0, 1]."""
    return np.minimum(np.sqrt(row_sum(hellinger_terms(t))), 1.0)


# --- the divergence family: Rényi, Tsallis, χ², Bhattacharyya, Jeffreys ------------------------

# psi_beta(L) = g(beta L) - beta g(L) = sum_{k>=2} (beta**k - beta) L**k / k!, g(x) = e^x - 1 - x.
# Taken where |L| < 1 and |beta L| < 1: there the k-th term is at most 2(k-1)/k! of the first, so
# 19 terms (k <= 20) leave less than 2e-17 of it out.
_PSI_BETA_SERIES_BELOW = 1.0
_PSI_BETA_SERIES_TERMS = 19


@functools.lru_cache(maxsize=64)
def _psi_beta_coeffs(beta: float) -> tuple[float, ...] | None:
    """``(β^k − β)/k!`` for k = 2, 3, ..., each correctly rounded; None past float64's range.

    Computed in exact rational arithmetic: ``β^k − β`` cancels for β near 1 (α near 0)
    and near 0 (α near 1), so in floating point it would lose the digits the series keeps.
    For an order beyond about 1e14 the last coefficients overflow; the series would then
    serve only ``|L| < 1/|β|``, below 1e-14, and is not used.
    """
    b = Fraction(beta)
    try:
        return tuple(float((b**k - b) / math.factorial(k)) for k in range(2, 2 + _PSI_BETA_SERIES_TERMS))
    except OverflowError:
        return None


def _psi_beta(x: FloatArray, beta: float) -> FloatArray:
    r"""``ψ_β(L) = g(βL) − β g(L)`` with ``g(x) = e^x − 1 − x``, to full relative accuracy.

    For ``|L| < 1/max(1, |β|)`` its Taylor series :math:`\sum_{k \ge 2} (\beta^k - \beta) L^k / k!`
    (exact coefficients: ``g(βL)`` and ``βg(L)``, which cancel by up to a factor ``1/α`` for
    0 < α < 1, are never subtracted). Elsewhere (``|L| >= 1`` or ``|βL| >= 1``) the closed form
    ``expm1(βL) − βL − β(expm1(L) − L)``: the larger of its two parts keeps a few ulp, and their
    difference at most a factor ``1/α`` of that. The series is evaluated only where it is
    taken: on nearly equal rows that is every value.
    """
    coeffs = _psi_beta_coeffs(beta)
    if coeffs is None:  # an order past 1e14: the closed form, and ψ(0) = 0 exactly
        near = x == 0
        coeffs = (0.0,)
    else:
        near = np.abs(x) < _PSI_BETA_SERIES_BELOW / max(1.0, abs(beta))
    if near.all():
        return x * x * _horner(x, coeffs)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = beta * x
        result: FloatArray = (np.expm1(scaled) - scaled) - beta * (np.expm1(x) - x)
    if near.any():
        x_near = x[near]
        result[near] = x_near * x_near * _horner(x_near, coeffs)
    return result


def power_sum_minus_one(t: PairTerms, alpha: float) -> FloatArray:
    r"""``S − 1`` per row, ``S = Σ p^α q^(1−α)``, without the cancellation of ``S − 1`` near ``S = 1``.

    With :math:`\beta = 1 - \alpha` and :math:`L = \log(q/p)`, each outcome with
    ``p > 0`` contributes :math:`p\,\psi_\beta(L)` where

    .. math:: \psi_\beta(L) = (q/p)^\beta - 1 - \beta (q/p - 1) = g(\beta L) - \beta\, g(L),
              \qquad g(x) = e^x - 1 - x \ge 0,

    and those with ``p = 0`` contribute :math:`-\beta q`; the linear terms
    :math:`\beta(q - p)` that were taken out sum to 0 over a row. For α > 1
    (β < 0) every term is ≥ 0; for 0 < α < 1 every term is ≤ 0. ``ψ_β`` comes
    from its Taylor series in ``L`` with exact coefficients near 0 (see
    :func:`_psi_beta`; ``g(βL)`` and ``βg(L)``, which cancel by up to a factor
    ``1/α``, are never subtracted there) and ``log(q/p)`` from the cancellation-free
    ``log_ratio`` of :class:`PairTerms`, so nearly equal rows keep full accuracy.
    Where ``q = 0 < p``: ``ψ = β − 1`` (α < 1), or ``inf`` (α > 1).
    """
    beta = 1.0 - alpha
    log_q_over_p = -t.log_ratio
    positive = t.p > 0
    with np.errstate(invalid="ignore", over="ignore"):
        finite = positive & np.isfinite(log_q_over_p)
        l_finite = np.where(finite, log_q_over_p, 0.0)
        psi = _psi_beta(l_finite, beta)
        psi = np.where(finite, psi, (beta - 1.0) if beta > 0 else math.inf)  # q = 0 < p
        terms = np.where(positive, t.p * psi, -beta * t.q)
        # Far apart (|L| > 30: q/p beyond e^30 or below e^-30), g(L) overflows for a tiny p
        # (p = 1e-315 beside q = 1e-6: e^L = 1e309) though p·ψ is small: there it is
        # p^α q^β − p − β(q − p) = e^(log p + βL) − p − β(q − p), whose terms are dominated by
        # one side and do not cancel.
        far = finite & (np.abs(l_finite) > 30.0)
        if far.any():
            log_p = np.log(np.where(far, t.p, 1.0))
            direct = np.exp(log_p + beta * l_finite) - t.p - beta * (t.q - t.p)
            terms = np.where(far, direct, terms)
    return row_sum_signed(terms)


def row_sum_signed(terms: FloatArray) -> FloatArray:
    """Sum along the last axis (pairwise); ``inf`` terms give ``inf``, without a warning."""
    with np.errstate(over="ignore", invalid="ignore"):
        result: FloatArray = np.sum(np.ascontiguousarray(terms), axis=-1)
    return result


def renyi_rows(t: PairTerms, alpha: float) -> FloatArray:
    r"""Rényi divergence :math:`D_\alpha = \frac{1}{\alpha - 1} \log \sum p^\alpha q^{1-\alpha}` (nats).

    Computed as ``log1p(S − 1) / (α − 1)`` with ``S − 1`` from
    :func:`power_sum_minus_one`, so nearly equal rows (S near 1, and α near 1)
    keep their digits. α > 0, α ≠ 1 (α = 1 is the KL divergence).
    """
    s_minus_one = power_sum_minus_one(t, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        result: FloatArray = np.log1p(np.maximum(s_minus_one, -1.0)) / (alpha - 1.0)
    overflowed = _overflowed_power_sums(t, alpha, s_minus_one)
    if overflowed.any():
        result = np.atleast_1d(result)
        result[overflowed] = _log_power_sum(t, alpha, overflowed) / (alpha - 1.0)
        result = result.reshape(np.shape(s_minus_one))
    return np.maximum(result, 0.0)


def tsallis_rows(t: PairTerms, q: float) -> FloatArray:
    r"""Tsallis relative entropy :math:`\frac{\sum p^q r^{1-q} - 1}{q - 1}` (``r`` the second distribution).

    ``S − 1`` from :func:`power_sum_minus_one`; unitless. q > 0, q ≠ 1 (q = 1 is KL in nats).
    """
    s_minus_one = power_sum_minus_one(t, q)
    with np.errstate(invalid="ignore"):
        result: FloatArray = s_minus_one / (q - 1.0)
    overflowed = _overflowed_power_sums(t, q, s_minus_one)
    if overflowed.any():
        # S past float64's range: S/(q − 1), the 1 long lost, from log S (inf where it is).
        result = np.atleast_1d(result)
        with np.errstate(over="ignore"):
            result[overflowed] = np.exp(_log_power_sum(t, q, overflowed) - math.log(q - 1.0))
        result = result.reshape(np.shape(s_minus_one))
    return np.maximum(result, 0.0)


def _overflowed_power_sums(t: PairTerms, alpha: float, s_minus_one: FloatArray) -> NDArray[np.bool_]:
    """Rows whose ``S = Σ p^α q^(1−α)`` overflowed (α > 1) though no ``q = 0 < p`` makes it infinite."""
    rows = np.atleast_1d(~np.isfinite(s_minus_one))
    if alpha <= 1.0 or not rows.any():
        return np.zeros(rows.shape, dtype=bool)
    infinite: NDArray[np.bool_] = np.atleast_1d(np.any((t.p > 0) & (t.q == 0), axis=-1))
    return rows & ~infinite


def _log_power_sum(t: PairTerms, alpha: float, rows: NDArray[np.bool_]) -> FloatArray:
    """``log S = log Σ exp(log p + (1 − α) log(q/p))`` over ``p > 0`` on ``rows``, by log-sum-exp.

    For the rows where ``S`` itself overflows (a large order α and some ``p/q`` above 1):
    there ``S`` is far above 1, so taking its log loses nothing to cancellation.
    """
    p = np.atleast_2d(t.p)[rows]
    log_q_over_p = -np.atleast_2d(t.log_ratio)[rows]
    positive = p > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        exponents = np.where(
            positive, np.log(np.where(positive, p, 1.0)) + (1.0 - alpha) * log_q_over_p, -np.inf
        )
    top = np.max(exponents, axis=-1, keepdims=True)
    with np.errstate(over="ignore"):
        log_s: FloatArray = top[:, 0] + np.log(np.sum(np.exp(exponents - top), axis=-1))
    return log_s


def chi2_terms(t: PairTerms) -> FloatArray:
    """Per-outcome ``(p − q)² / q`` (Pearson): 0 where both are 0, ``inf`` where only q is."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(
            t.q > 0, t.diff * t.diff / np.where(t.q > 0, t.q, 1.0), np.where(t.p > 0, math.inf, 0.0)
        )
    return terms


def chi2_rows(t: PairTerms) -> FloatArray:
    """Pearson's χ² divergence ``Σ (p − q)² / q`` per row."""
    return row_sum(chi2_terms(t))


def bhattacharyya_rows(t: PairTerms) -> FloatArray:
    r"""Bhattacharyya distance :math:`-\log \sum \sqrt{pq}`, as ``−log1p(−H²)``.

    ``H² = ½ Σ (√p − √q)² = 1 − Σ √(pq)`` is summed from the cancellation-free
    terms of :func:`hellinger_terms`, so nearly equal rows keep their digits.
    """
    h2 = np.minimum(row_sum(hellinger_terms(t)), 1.0)
    with np.errstate(divide="ignore"):
        result: FloatArray = -np.log1p(-h2)
    return result


def jeffreys_rows(t: PairTerms) -> FloatArray:
    """Jeffreys divergence ``D(P‖Q) + D(Q‖P) = Σ (p − q) log(p/q)``: two sums of non-negative terms."""
    return row_sum(kl_terms(t)) + row_sum(kl_terms(swapped(t)))


def max_abs_diff_rows(t: PairTerms) -> FloatArray:
    """``max |p - q|`` over the outcomes of each row."""
    result: FloatArray = np.max(np.abs(t.diff), axis=-1)
    return result


def top1_agreement_rows(p: Distributions, q: Distributions) -> FloatArray:
    """1.0 where the most probable outcome of p and q is the same (ties: the first), else 0.0."""
    return top1_agreement(p.probs, q.probs)


def top1_agreement(p_probs: FloatArray, q_probs: FloatArray) -> FloatArray:
    """:func:`top1_agreement_rows` of rows of probabilities (e.g. :class:`PairTerms`' ``p`` and ``q``)."""
    agree: FloatArray = (np.argmax(p_probs, axis=-1) == np.argmax(q_probs, axis=-1)).astype(np.float64)
    return agree


# --- the library API -----------------------------------------------------------


def _log_base(base: float | None) -> float:
    if base is None:
        return 1.0
    if not (isinstance(base, (int, float)) and math.isfinite(base) and base > 0 and base != 1):
        raise DistributionError(
            f"base must be a positive number other than 1, got {base!r}", reason="base", name="base"
        )
    return math.log(base)


def _shape_out(values: FloatArray, *inputs: ArrayLike) -> FloatArray | float:
    """Reshape per-row results back to the inputs' leading shape (scalar for 1-D)."""
    shapes = [np.shape(x) for x in inputs]
    lead = np.broadcast_shapes(*(s[:-1] for s in shapes))
    if lead == ():
        return float(values[0])
    return values.reshape(lead)


def _prepare_pair(
    p: ArrayLike,
    q: ArrayLike,
    kind: Kind,
    q_kind: Kind | None,
    tolerance: float,
    alpha: float | None,
) -> tuple[Distributions, Distributions]:
    # DataFrames and Series pair by label (outcomes by name), not by position.
    p, q = align_labelled(p, q)
    pd = prepare(p, kind, tolerance=tolerance, name="p")
    qd = prepare(q, q_kind or kind, tolerance=tolerance, name="q")
    if pd.n_outcomes != qd.n_outcomes:
        raise DistributionError(
            f"p has {pd.n_outcomes} outcomes but q has {qd.n_outcomes}", reason="shape", name="q"
        )
    if pd.n_rows != qd.n_rows and 1 not in (pd.n_rows, qd.n_rows):
        raise DistributionError(f"p has {pd.n_rows} rows but q has {qd.n_rows}", reason="shape", name="q")
    if alpha:
        qd = smooth(qd, alpha)
    return pd, qd


def entropy(
    pk: ArrayLike,
    qk: ArrayLike | None = None,
    base: float | None = None,
    axis: int | None = -1,
    *,
    kind: Kind | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> FloatArray | float:
    r"""Shannon entropy :math:`H(p) = -\sum_i p_i \log p_i`, or with ``qk`` the KL divergence, as SciPy.

    The arguments are those of ``scipy.stats.entropy(pk, qk=None, base=None, axis=0)``:
    ``pk`` (and ``qk``) are normalised to sum to 1 along ``axis``, and with ``qk``
    the result is :math:`D(p\|q) = \sum_i p_i \log(p_i / q_i)`
    (:func:`kl_divergence`, computed without cancellation).

    Parameters
    ----------
    pk : array_like
        One distribution, or many (along ``axis``): weights ``>= 0``, normalised
        as SciPy does, unless ``kind`` says how else to read them.
    qk : array_like, optional
        A second distribution (broadcasts against ``pk``, as in SciPy).
    base : float, optional
        Logarithm base; natural log (nats) by default, 2 gives bits.
    axis : int or None
        The axis holding the outcomes. **The default is the last axis** (-1), as
        for every xent measure (one distribution per row); SciPy's default is 0,
        so pass ``axis=0`` for SciPy's result on a 2-D array. None: the whole
        array, flattened.
    kind : {'probs', 'weights', 'logits', 'logprobs'}, optional
        How the numbers are to be read (see ``xent_cli.core.distributions``); None
        (the default) is ``'weights'``: normalised, as SciPy. ``'probs'`` instead
        checks that each distribution sums to 1 within ``tolerance``.
    tolerance : float
        Absolute tolerance on each row's sum for ``probs`` and ``logprobs``.

    Returns
    -------
    float or ndarray
        A float for one distribution, else an array of the other axes' shape.

    Notes
    -----
    ``0 * log 0 = 0``, so ``0 <= H(p) <= log K``; ``p > 0`` where ``q = 0`` gives
    ``inf``. Unlike SciPy, a distribution whose weights are all 0 is an error
    (:class:`~xent_cli.errors.DistributionError`), not ``nan``.

    Examples
    --------
    >>> round(entropy([0.5, 0.5], base=2), 12)
    1.0
    >>> entropy([[1, 0], [0.5, 0.5]])
    array([0.        , 0.69314718])
    >>> round(entropy([1, 1, 2]), 12)  # normalised, as scipy.stats.entropy
    1.03972077084
    >>> round(entropy([0.5, 0.5], [0.9, 0.1]), 12)  # with qk: the KL divergence
    0.510825623766
    >>> entropy([[1, 0], [1, 1]], axis=0)  # SciPy's axis
    array([0.69314718, 0.        ])
    >>> round(entropy([0.0, 0.0], kind="logits"), 12)  # uniform over 2
    0.69314718056
    """
    read: Kind = "weights" if kind is None else kind
    pk, qk = _outcomes_last(pk, qk, axis)
    if qk is not None:
        return kl_divergence(pk, qk, base=base, kind=read, q_kind=read, tolerance=tolerance)
    scale = _log_base(base)
    dist = prepare(pk, read, tolerance=tolerance, name="p")
    return _shape_out(entropy_rows(dist) / scale, pk)


def _outcomes_last(
    pk: ArrayLike, qk: ArrayLike | None, axis: int | None
) -> tuple[ArrayLike, ArrayLike | None]:
    """``pk`` and ``qk`` with the outcomes on the last axis (``axis`` None: flattened), as SciPy reads."""
    if axis == -1 and (qk is None or np.ndim(qk) == np.ndim(pk)):
        return pk, qk  # pandas objects and masked arrays pass as they are
    arrays = [np.asarray(pk)] if qk is None else list(np.broadcast_arrays(np.asarray(pk), np.asarray(qk)))
    if axis is None:
        arrays = [a.reshape(-1) for a in arrays]
    else:
        if not -arrays[0].ndim <= axis < max(arrays[0].ndim, 1):
            raise DistributionError(
                f"axis {axis} is out of bounds for an array of {arrays[0].ndim} dimensions",
                reason="shape",
                name="axis",
            )
        arrays = [np.moveaxis(a, axis, -1) if a.ndim else a for a in arrays]
    return arrays[0], None if qk is None else arrays[1]


def kl_divergence(
    p: ArrayLike,
    q: ArrayLike,
    *,
    base: float | None = None,
    kind: Kind = "probs",
    q_kind: Kind | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    smoothing: float | None = None,
) -> FloatArray | float:
    r"""Kullback–Leibler divergence :math:`D(p\|q) = \sum_i p_i \log(p_i / q_i)`.

    Parameters
    ----------
    p, q : array_like
        Distributions along the last axis; a single row broadcasts against many.
    base : float, optional
        Logarithm base (default e, nats).
    kind, q_kind : {'probs', 'weights', 'logits', 'logprobs'}
        How ``p`` (and ``q``, if ``q_kind`` is given) are to be read.
    tolerance : float
        Absolute tolerance on row sums.
    smoothing : float, optional
        Additive smoothing applied to ``q``: ``q' = (q + a) / (1 + K a)``.

    Notes
    -----
    ``0 * log(0/q) = 0``; ``p > 0`` where ``q = 0`` gives ``inf``. The result is
    computed as a sum of non-negative terms, so it is never negative and keeps
    its relative accuracy when ``p`` and ``q`` are nearly equal.

    Examples
    --------
    >>> round(kl_divergence([0.5, 0.5], [0.9, 0.1]), 15)
    0.51082562376599
    >>> kl_divergence([0.5, 0.5], [1.0, 0.0])
    inf
    >>> kl_divergence([0.2, 0.8], [0.2, 0.8])
    0.0
    """
    scale = _log_base(base)
    pd, qd = _prepare_pair(p, q, kind, q_kind, tolerance, smoothing)
    return _shape_out(kl_rows(pd, qd) / scale, p, q)


def cross_entropy(
    p: ArrayLike,
    q: ArrayLike,
    *,
    base: float | None = None,
    kind: Kind = "probs",
    q_kind: Kind | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    smoothing: float | None = None,
) -> FloatArray | float:
    r"""Cross-entropy :math:`H(p, q) = -\sum_i p_i \log q_i = H(p) + D(p\|q)`.

    Parameters are those of :func:`kl_divergence`.

    Examples
    --------
    >>> round(cross_entropy([1, 0], [0.25, 0.75], base=2), 12)
    2.0
    >>> round(cross_entropy([0.0, 2.0], [0.0, 2.0], kind="logits"), 12)  # = H(p)
    0.365333855087
    """
    scale = _log_base(base)
    pd, qd = _prepare_pair(p, q, kind, q_kind, tolerance, smoothing)
    return _shape_out(cross_entropy_rows(pd, qd) / scale, p, q)


def js_divergence(
    p: ArrayLike,
    q: ArrayLike,
    *,
    base: float | None = None,
    kind: Kind = "probs",
    q_kind: Kind | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> FloatArray | float:
    r"""Jensen–Shannon divergence :math:`\tfrac12 D(p\|m) + \tfrac12 D(q\|m)`, :math:`m = (p+q)/2`.

    Symmetric, finite, and at most ``log 2`` (1 bit). Its square root is a
    metric, the Jensen–Shannon distance (what ``scipy.spatial.distance.jensenshannon``
    returns).

    Examples
    --------
    >>> round(js_divergence([1, 0], [0, 1], base=2), 12)
    1.0
    >>> js_divergence([0.3, 0.7], [0.3, 0.7])
    0.0
    """
    scale = _log_base(base)
    pd, qd = _prepare_pair(p, q, kind, q_kind, tolerance, None)
    return _shape_out(js_rows(pd, qd) / scale, p, q)


def _distance(
    rows: Callable[[PairTerms], FloatArray],
    p: ArrayLike,
    q: ArrayLike,
    kind: Kind,
    q_kind: Kind | None,
    tolerance: float,
) -> FloatArray | float:
    """A unitless per-row distance of two array-likes, shaped like the inputs."""
    pd, qd = _prepare_pair(p, q, kind, q_kind, tolerance, None)
    return _shape_out(rows(pair_terms(pd, qd)), p, q)


def total_variation(
    p: ArrayLike,
    q: ArrayLike,
    *,
    kind: Kind = "probs",
    q_kind: Kind | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> FloatArray | float:
    r"""Total variation distance :math:`\tfrac12 \sum_i |p_i - q_i|`, in [0, 1].

    Examples
    --------
    >>> total_variation([0.5, 0.5], [0.9, 0.1])
    0.4
    """
    return _distance(total_variation_rows, p, q, kind, q_kind, tolerance)


def hellinger_distance(
    p: ArrayLike,
    q: ArrayLike,
    *,
    kind: Kind = "probs",
    q_kind: Kind | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> FloatArray | float:
    r"""Hellinger distance :math:`\sqrt{\tfrac12 \sum_i (\sqrt{p_i} - \sqrt{q_i})^2}`, in [0, 1].

    Examples
    --------
    >>> hellinger_distance([1, 0], [0, 1])
    1.0
    >>> round(hellinger_distance([0.5, 0.5], [0.9, 0.1]), 12)
    0.324919696233
    """
    return _distance(hellinger_rows, p, q, kind, q_kind, tolerance)
