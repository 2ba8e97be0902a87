"""The numpy backend of the kernels: the careful method over row ranges and for rows at risk,
and plain formulas for the entropy and KL of probabilities and weights.

The careful method here is ``xent_cli.core.measures`` itself, run on cache-sized
row ranges (on the kernels' thread pool) or on the rows a fast pass flagged; the
compiled path (``xent_cli.core.kernels``) calls it for those rows too.

Entropy, numpy backend: ``H = -sum p log p`` with ``p = x / sum x``, in four
passes. Where no ``p`` exceeds 1/2, ``H >= log 2`` (``H`` is at least the
min-entropy ``-log max p``) and every term is non-negative, so the sum keeps
its relative precision (about ``(K + 6)`` ulp): no term cancels, and a
rounding of ``log p`` by one ulp of ``p`` is small next to ``|log p| >= log 2``
summed over the row. A row with an outcome past 1/2 may be nearly one-hot,
where ``1 - p`` holds the digits: the careful method recomputes those rows,
and any row whose sum is within rounding of the tolerance. Each row's value
depends on that row alone, whatever block it is read in.

KL, numpy backend: ``D = sum p log(p/q)`` with ``p = x / sum x``, ``q = y / sum y``
and ``log(p/q)`` from their ratio. Its rounding error is at most about
``(4K + 16) eps (1 + S)`` with ``S = sum p |log(p/q)|`` (each total's rounding
shifts every ``log(p/q)`` by up to ``K`` ulp, each term adds a few ulp of
itself, the sum ``K`` ulp of ``S``). A row whose ``D`` exceeds ``1e13`` times
that bound keeps 13 digits; every other row (near-equal pairs, whose
divergence is small next to its terms) is recomputed by the careful method,
and a block whose first rows are mostly such is computed by it throughout.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xent_cli.core.distributions import Distributions, FloatArray, Kind, prepare
from xent_cli.core.kernel_backend import THREADED_ELEMENTS, in_parallel, pool, threads
from xent_cli.core.measures import (
    entropy_rows,
    entropy_terms,
    hellinger_rows,
    js_terms,
    kl_rows,
    kl_terms,
    max_abs_diff_rows,
    pair_terms,
    row_sum,
    swapped,
    top1_agreement_rows,
    total_variation_terms,
)
from xent_cli.errors import DistributionError

IntArray = NDArray[np.intp]
# Rows per task of the numpy backend.
_SUB_BLOCK_ELEMENTS = 1 << 15


# --- the careful method, as the reference and for rows at risk ----------------------


def _careful_pair(
    p: ArrayLike, q: ArrayLike, kind_p: Kind, kind_q: Kind, tolerance: float
) -> tuple[Distributions, Distributions]:
    pd = prepare(p, kind_p, tolerance=tolerance, name="p")
    qd = prepare(q, kind_q, tolerance=tolerance, name="q")
    if pd.n_outcomes != qd.n_outcomes or (pd.n_rows != qd.n_rows and 1 not in (pd.n_rows, qd.n_rows)):
        raise DistributionError("p and q do not broadcast", reason="shape", name="q")
    return pd, qd


def _careful_panel(pd: Distributions, qd: Distributions, targets: IntArray | None) -> dict[str, FloatArray]:
    """Every compare measure by the careful method, defined as ``compute.py`` defines them."""
    terms = pair_terms(pd, qd)
    forward = kl_terms(terms)
    n = terms.p.shape[0]
    js = row_sum(js_terms(terms))
    measures = {
        "kl": row_sum(forward),
        "kl_reverse": row_sum(kl_terms(swapped(terms))),
        "cross_entropy": row_sum(np.broadcast_to(entropy_terms(pd), forward.shape) + forward),
        "js": js,
        "js_distance": np.sqrt(js),
        "tv": row_sum(total_variation_terms(terms)),
        "hellinger": hellinger_rows(terms),
        "max_abs_diff": max_abs_diff_rows(terms),
        "top1_agreement": np.broadcast_to(top1_agreement_rows(pd, qd), (n,)).astype(np.float64),
    }
    if targets is not None:
        rows = np.arange(n)
        for key, dist in (("log_p_target", pd), ("log_q_target", qd)):
            log_probs = np.broadcast_to(dist.log_probs, terms.p.shape)
            measures[key] = log_probs[rows, targets] + 0.0
    return measures


PairMeasures = Callable[[Distributions, Distributions, "IntArray | None"], dict[str, FloatArray]]


def _careful_kl(pd: Distributions, qd: Distributions, targets: IntArray | None) -> dict[str, FloatArray]:
    return {"kl": kl_rows(pd, qd)}


def _careful_cross_entropy(
    pd: Distributions, qd: Distributions, targets: IntArray | None
) -> dict[str, FloatArray]:
    n = max(pd.n_rows, qd.n_rows)
    return {"cross_entropy": np.broadcast_to(entropy_rows(pd), (n,)) + kl_rows(pd, qd)}


def _careful_pair_block(
    compute: PairMeasures,
    p: ArrayLike,
    q: ArrayLike,
    kind_p: Kind,
    kind_q: Kind,
    tolerance: float,
    targets: IntArray | None,
) -> dict[str, FloatArray] | None:
    try:
        pd, qd = _careful_pair(p, q, kind_p, kind_q, tolerance)
    except DistributionError:
        return None
    n = max(pd.n_rows, qd.n_rows)
    return {
        key: np.ascontiguousarray(np.broadcast_to(v, (n,))) for key, v in compute(pd, qd, targets).items()
    }


def _careful_rows(
    compute: PairMeasures,
    a: NDArray[Any],
    b: NDArray[Any],
    kind_p: Kind,
    kind_q: Kind,
    tolerance: float,
    targets: IntArray | None,
    rows: slice | IntArray,
) -> dict[str, FloatArray] | None:
    """The careful method on ``rows`` of the pair (a single-row side broadcasts whole)."""
    return _careful_pair_block(
        compute,
        a[rows] if a.shape[0] > 1 else a,
        b[rows] if b.shape[0] > 1 else b,
        kind_p,
        kind_q,
        tolerance,
        None if targets is None else targets[rows],
    )


def _numpy_pair_block(
    compute: PairMeasures,
    a: NDArray[Any],
    b: NDArray[Any],
    kind_p: Kind,
    kind_q: Kind,
    tolerance: float,
    targets: IntArray | None,
) -> dict[str, FloatArray] | None:
    """The careful method over cache-sized row ranges, on the thread pool."""
    n = max(a.shape[0], b.shape[0])
    step = max(1, _SUB_BLOCK_ELEMENTS // a.shape[1])
    ranges = [(lo, min(n, lo + step)) for lo in range(0, n, step)]
    parts: list[dict[str, FloatArray] | None] = [None] * len(ranges)

    def run(index: int) -> None:
        lo, hi = ranges[index]
        parts[index] = _careful_rows(compute, a, b, kind_p, kind_q, tolerance, targets, slice(lo, hi))

    if a.size + b.size < THREADED_ELEMENTS or threads() == 1 or len(ranges) == 1:
        for index in range(len(ranges)):
            run(index)
    else:
        list(pool().map(run, range(len(ranges))))
    if any(part is None for part in parts):
        return None
    done = [part for part in parts if part is not None]
    return {key: np.concatenate([part[key] for part in done]) for key in done[0]}


def _recompute_rows(
    measures: dict[str, FloatArray],
    rows: IntArray,
    compute: PairMeasures,
    a: NDArray[Any],
    b: NDArray[Any],
    kind_p: Kind,
    kind_q: Kind,
    tolerance: float,
    targets: IntArray | None,
) -> bool:
    """Replace ``rows`` of ``measures`` by their careful values; False if the careful path rejects them."""
    if rows.size == 0:
        return True
    redone = _careful_rows(compute, a, b, kind_p, kind_q, tolerance, targets, rows)
    if redone is None:
        return False
    for key, values in measures.items():
        values[rows] = np.broadcast_to(redone[key], (rows.shape[0],))
    return True


def _careful_js_panel(
    pd: Distributions, qd: Distributions, targets: IntArray | None
) -> dict[str, FloatArray]:
    js = row_sum(js_terms(pair_terms(pd, qd)))
    return {"js": js, "js_distance": np.sqrt(js)}


# --- the plain entropy of probabilities (numpy backend) --------------------------------------

# Rows per pass of the plain entropy: its four temporaries stay in the cache.
_PLAIN_ROWS_ELEMENTS = 1 << 16
_SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)
# A total this close to the tolerance's edge might be decided the other way by the
# careful path's summation order: that row is the careful path's to judge.
_SUM_DOUBT = 64 * float(np.finfo(np.float64).eps)


# Rows up to this many values are summed column after column (NumPy's reduction along a
# short row costs more per value than the values do); longer ones by np.sum.
_COLUMN_SUM_WIDTH = 32


def _row_sums(x: FloatArray) -> FloatArray:
    """Each row's sum, in an order fixed by the row alone (never by where the row sits in memory).

    ``np.einsum`` and BLAS would be faster, but their SIMD loops start at an aligned
    address, so a row's rounding would depend on the block it is read in.
    """
    k = x.shape[1]
    if k > _COLUMN_SUM_WIDTH:
        result: FloatArray = np.sum(x, axis=1)
        return result
    total = x[:, 0].copy()
    for j in range(1, k):
        total += x[:, j]
    return total


def _plain_totals(
    block: FloatArray, kind: Kind, tolerance: float
) -> tuple[FloatArray, NDArray[np.bool_]] | None:
    """Row totals of probs or weights, and the rows too near the tolerance to call; None if invalid."""
    if not block.min() >= 0:  # a negative value or a NaN: the careful path names it
        return None
    with np.errstate(over="ignore"):  # a total past float64's range is inf: the careful path's to judge
        totals = _row_sums(block)
    if not (np.isfinite(totals).all() and totals.min() >= 1e-300):
        return None  # an infinity, a row of zeros, or totals too small to divide by cleanly
    if kind != "probs":
        return totals, np.zeros(totals.shape[0], dtype=bool)
    off = np.abs(totals - 1.0)
    if not off.max() <= tolerance + _SUM_DOUBT:
        return None
    return totals, off > tolerance - _SUM_DOUBT


def _plain_entropy(block: FloatArray, kind: Kind, tolerance: float) -> tuple[FloatArray, int] | None:
    """Entropies of rows of probabilities or weights, and how many the careful method redid; None if invalid.

    See "Entropy, numpy backend" in the module docstring for why the plain
    formula keeps every digit where it is used.
    """
    n, k = block.shape
    checked = None if n == 0 or k == 0 else _plain_totals(block, kind, tolerance)
    if checked is None:
        return None
    totals, doubtful = checked
    entropies = np.empty(n)
    step = max(1, _PLAIN_ROWS_ELEMENTS // k)
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        probs = block[lo:hi] / totals[lo:hi, None]
        # 0 log 0 = 0: log of the smallest normal instead of -inf (an outcome below it adds
        # less than 1e-305 to an entropy of at least log 2).
        logs = np.log(np.maximum(probs, _SMALLEST_NORMAL))
        logs *= probs
        entropies[lo:hi] = _row_sums(logs)
        doubtful[lo:hi] |= _rows_over_half(probs, k)
    np.negative(entropies, out=entropies)
    redo = np.flatnonzero(doubtful)
    if redo.size:
        try:
            entropies[redo] = entropy_rows(prepare(block[redo], kind, tolerance=tolerance))
        except DistributionError:
            return None
    return entropies, int(redo.size)


# A plain result is kept where the bound on its error is below this share of it.
_PLAIN_RELATIVE_ERROR = 1e-13


def _plain_kl(
    a: FloatArray, b: FloatArray, kind_p: Kind, kind_q: Kind, tolerance: float
) -> tuple[FloatArray, int] | None:
    """KL(P‖Q) of rows of probabilities or weights, and how many the careful method redid; None if invalid.

    See "KL, numpy backend" in the module docstring for the bound that decides
    which rows keep the plain value. ``a`` or ``b`` may have one row.
    """
    n, k = max(a.shape[0], b.shape[0]), a.shape[1]
    if n == 0 or k == 0:
        return None
    p_checked = _plain_totals(a, kind_p, tolerance)
    q_checked = _plain_totals(b, kind_q, tolerance)
    if p_checked is None or q_checked is None:
        return None
    (p_totals, p_doubtful), (q_totals, q_doubtful) = p_checked, q_checked
    doubtful = np.zeros(n, dtype=bool) | p_doubtful | q_doubtful
    bound_factor = (4 * k + 16) * float(np.finfo(np.float64).eps) / _PLAIN_RELATIVE_ERROR
    divergences = np.empty(n)
    step = max(1, _PLAIN_ROWS_ELEMENTS // k)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            p_rows = slice(lo, hi) if a.shape[0] > 1 else slice(0, 1)
            q_rows = slice(lo, hi) if b.shape[0] > 1 else slice(0, 1)
            probs_p = a[p_rows] / p_totals[p_rows, None]
            probs_q = b[q_rows] / q_totals[q_rows, None]
            # p = 0 gives 0 (0/q, 0/0 and their log clamped to log of the smallest normal, times 0);
            # q = 0 < p gives inf. A ratio below the smallest normal moves its term by < 1e-305.
            logs = np.log(np.fmax(probs_p / probs_q, _SMALLEST_NORMAL))
            terms = logs * probs_p
            divergence = _row_sums(terms)
            spread = _row_sums(np.abs(terms, out=terms))
            divergences[lo:hi] = divergence
            # Infinite rows are exact (some q = 0 < p); nan never passes the test.
            doubtful[lo:hi] |= ~((divergence >= bound_factor * (1.0 + spread)) | (divergence == np.inf))
            if lo == 0 and hi < n and 2 * np.count_nonzero(doubtful[:hi]) > hi:
                # Mostly near-equal pairs: the careful method for the whole block, on the threads.
                careful = _numpy_pair_block(_careful_kl, a, b, kind_p, kind_q, tolerance, None)
                return None if careful is None else (careful["kl"], n)
    redo = np.flatnonzero(doubtful)
    if not _recompute_rows({"kl": divergences}, redo, _careful_kl, a, b, kind_p, kind_q, tolerance, None):
        return None
    return divergences, int(redo.size)


def _rows_over_half(probs: FloatArray, k: int) -> NDArray[np.bool_]:
    """Rows holding an outcome above 1/2 (a flat search: a reduction along short rows is slow)."""
    over = np.zeros(probs.shape[0], dtype=bool)
    over[np.flatnonzero(probs.ravel() > 0.5) // k] = True
    return over


# --- the plain KL and cross-entropy of logits and log-probabilities (numpy backend) ------

# Values per pass of the plain log-space pair: one row of a 32,000-word vocabulary, so the
# five float64 buffers of a thread stay in its core's cache.
_LOG_PASS_ELEMENTS = 1 << 15
# Rows whose log-ratios reach this far are left to the careful method: exp(600) and the
# products with exp(-745) stay inside float64's range (see _log_pair_rows).
_MAX_LOG_RATIO = 600.0
_UNIT_ROUNDOFF = float(np.finfo(np.float64).eps) / 2
# At most this much is added to the first pass's shift for the spread of b - a: far past it the
# second-order guess is no guess, and log-ratios must stay within _MAX_LOG_RATIO.
_MAX_SHIFT_CORRECTION = 30.0


def _pairwise_sum_error(k: int) -> float:
    """A bound, in units of the unit roundoff, on NumPy's pairwise sum of ``k`` values of one sign.

    NumPy sums blocks of 128 values with eight accumulators (up to 16 + 3 roundings
    deep) and halves longer runs recursively (one more level per halving).
    """
    return 20.0 + max(0.0, math.ceil(math.log2(max(k, 128) / 128)))


# Rows whose log-ratios all lie within this of 0 may take the series for expm1(t) - t.
_SERIES_REACH = 0.125
# 1/(j + 2)! for j = 0..10: expm1(t) - t = t**2 (1/2! + t/3! + ... + t**10/12!) + O(t**13),
# the remainder below 1e-19 of the sum where |t| <= 1/8.
_SERIES = tuple(1.0 / math.factorial(j + 2) for j in range(11))
# Roundings of the series by Horner's rule, in units of the unit roundoff, relative to its value.
_SERIES_ERROR = 26.0


@dataclass
class _LogPairRows:
    """What one pass of ``_log_pair_rows`` found, per row."""

    kl: FloatArray
    entropy: FloatArray  # zeros unless asked for
    doubtful: NDArray[np.bool_]
    valid: NDArray[np.bool_]  # finite, and log-ratios within _MAX_LOG_RATIO
    shift: FloatArray  # the difference of log-normalizers, to start a second pass from
    reach: FloatArray  # max |nr|


def _log_pair_rows(
    a: NDArray[Any],
    b: NDArray[Any],
    kind_p: Kind,
    kind_q: Kind,
    tolerance: float,
    with_entropy: bool,
    buffers: tuple[FloatArray, ...],
    shift: FloatArray | None = None,
    series: bool = False,
) -> _LogPairRows:
    """KL(P‖Q), H(P) (or zeros) and the rows to recompute, for rows of logits or log-probabilities.

    With ``x = a - max a``, ``S = sum exp(x)``, ``p = exp(x) / S`` and a shift ``L``
    (by default the mean of ``b - a`` under ``p`` plus half its variance; any value
    would do, the nearer the difference of the log-normalizers the better),
    ``nr = (b - a) - L`` is ``-log(p/q')`` for ``q' = p exp(nr)``, a multiple ``(1 + U)``
    of ``q`` with ``U = sum p expm1(nr)``.
    Every outcome adds ``t = p (expm1(nr) - nr) >= 0`` (the generalized KL of ``p``
    and ``q'``), and exactly

        KL(P‖Q) = sum t - (U - log1p(U)),

    so neither log-normalizer of ``q`` is needed: two transcendental calls a value
    (``exp``, ``expm1``), against three in a block-wise ``log_softmax`` script. The
    terms have no cancellation: rounding ``nr`` by ``delta`` moves the sum by
    ``sum (p - q) delta``, at most ``|p - q| = p |expm1(nr)|`` times the rounding of
    ``nr`` and of ``b - a``; each ``exp`` rounding scales an outcome's ``p`` and ``q'``
    together, so only its ``t``. Summed with NumPy's pairwise sum (``gamma`` units
    of roundoff ``u``), the error is at most

        u [(c + 2R + |L| + gamma U) A + (4 + 2 gamma + s + X) T + sum t |x| + 2 (1 + gamma) U]

    with ``A = sum p |expm1(nr)|``, ``T = sum t``, ``X = sum p |x|``, ``R = max |nr|``,
    plus ``K exp(R - 708)`` for outcomes whose ``p`` is subnormal; ``c = 2`` (the
    rounding of ``expm1``, which ``expm1(nr) - nr`` keeps) and ``s = 0``, or with
    ``series`` (``R <= 1/8``) ``expm1(nr) - nr`` from its Taylor series, good to
    ``s = 26`` roundings of itself, and ``c = 0``: the bound is then relative to
    ``T`` for pairs however near. A row keeps its value where the bound is below
    ``_PLAIN_RELATIVE_ERROR`` of it; other rows (and any row with a NaN, an
    infinity or ``R > _MAX_LOG_RATIO``) are flagged.

    ``H(P) = log S + X``, a sum of non-negative terms, within
    ``u [(gamma + 2)(1 + log S) + (gamma + 8) X + sum p x**2]``; with
    ``with_entropy`` the flag judges ``H + KL`` (cross-entropy) by both bounds.
    Log-probabilities are also flagged where their log-sum-exp is within rounding
    of ``tolerance`` or past it (the careful method decides or rejects them).
    """
    m, k = max(a.shape[0], b.shape[0]), a.shape[1]
    x, e, w, v, em = (buffer[:m] for buffer in buffers)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        peak = np.max(a, axis=1).astype(np.float64)
        np.subtract(a, peak[:, None], out=x, dtype=np.float64)
        np.exp(x, out=e)
        total = np.sum(e, axis=1)
        np.subtract(b, a, out=w, dtype=np.float64)
        if shift is None:
            # log sum p exp(b - a) to second order (mean + variance / 2 under p, exact for a
            # normal b - a): U stays small for pairs far apart too, so few rows need a second pass.
            np.multiply(e, w, out=v)
            mean = np.sum(v, axis=1) / total
            v *= w
            variance = np.maximum(np.sum(v, axis=1) / total - mean * mean, 0.0)
            shift = mean + np.minimum(variance / 2, _MAX_SHIFT_CORRECTION)
        w -= shift[:, None]  # nr
        reach = np.maximum(np.max(w, axis=1), -np.min(w, axis=1))
        valid = reach <= _MAX_LOG_RATIO  # False for a NaN or an infinity anywhere in the row
        if not valid.all():
            w[~valid] = 0.0  # their values are the careful method's; keep exp quiet
            x[~valid] = 0.0
        np.negative(x, out=x)  # |x|
        np.multiply(e, x, out=v)
        spread = np.sum(v, axis=1) / total  # X = sum p |x|
        if with_entropy:
            v *= x
            square = np.sum(v, axis=1) / total  # sum p x**2
        if series:
            em.fill(_SERIES[-1])
            for coefficient in _SERIES[-2::-1]:
                em *= w
                em += coefficient
            np.multiply(w, w, out=v)
            em *= v  # expm1(nr) - nr
            np.add(em, w, out=v)  # expm1(nr)
            v *= e
        else:
            np.expm1(w, out=em)
            np.multiply(e, em, out=v)
            np.subtract(em, w, out=em)  # expm1(nr) - nr
        correction = np.sum(v, axis=1) / total  # U
        np.abs(v, out=v)
        reach_term = np.sum(v, axis=1) / total  # A
        np.multiply(e, em, out=v)
        terms = np.sum(v, axis=1) / total  # T
        v *= x
        weighted_depth = np.sum(v, axis=1) / total  # sum t |x|
        kl = terms - (correction - np.log1p(correction))
        gamma = _pairwise_sum_error(k)
        rounding, series_error = (0.0, _SERIES_ERROR) if series else (2.0, 0.0)
        bound = _UNIT_ROUNDOFF * (
            (rounding + 2 * reach + np.abs(shift) + gamma * np.abs(correction)) * reach_term
            + (4 + 2 * gamma + series_error + spread) * terms
            + weighted_depth
            + 2 * (1 + gamma) * np.abs(correction)
        ) + k * np.exp(np.minimum(reach, _MAX_LOG_RATIO) - 708.0)
        # log1p(U) turns an error in U into one 1/(1 + U) times larger: a shift far past the
        # log-normalizers' difference leaves U near -1 (p and q far apart), and the row is
        # then left to the second pass, whose exact shift keeps U near 0.
        amplified = np.abs(correction) / np.maximum(1.0 + correction, 0.0)
        bound += _UNIT_ROUNDOFF * (rounding + 2 * reach + np.abs(shift) + gamma + 2) * reach_term * amplified
        # reach 0: every log-ratio is 0 and so is the KL, exactly.
        bound[reach == 0] = 0.0
        if with_entropy:
            log_total = np.log(total)
            entropy = log_total + spread
            bound += _UNIT_ROUNDOFF * ((gamma + 2) * (1 + log_total) + (gamma + 8) * spread + square)
            judged = entropy + kl
        else:
            entropy = np.zeros(m)
            judged = kl
        if series:
            valid &= reach <= _SERIES_REACH
        doubtful = ~(valid & ((bound <= _PLAIN_RELATIVE_ERROR * judged) | (bound == 0)))
        log_normalizer_p = peak + np.log(total)
        for kind, normalizer in (
            (kind_p, log_normalizer_p),
            (kind_q, log_normalizer_p + shift + np.log1p(correction)),
        ):
            if kind == "logprobs":
                doubt = _SUM_DOUBT * (1 + np.abs(peak) + np.abs(shift))
                doubtful |= ~(np.abs(normalizer) <= tolerance - doubt)
    return _LogPairRows(kl, entropy, doubtful, valid, shift + np.log1p(correction), reach)


def _plain_log_pair(
    a: NDArray[Any],
    b: NDArray[Any],
    kind_p: Kind,
    kind_q: Kind,
    tolerance: float,
    which: str,
) -> tuple[FloatArray, int] | None:
    """KL or cross-entropy of rows of logits or log-probabilities, and how many rows the careful
    method redid; None if invalid.

    The plain formula of ``_log_pair_rows`` on row ranges, on the kernels' threads
    (NumPy releases the GIL inside each pass). A row it flags gets a second pass
    shifted by the first pass's difference of log-normalizers (so ``U`` is about 0:
    rows far apart), by the series where its log-ratios are small (rows nearly
    equal); what is still flagged goes to the careful method, cache-sized and
    threaded too. ``a`` or ``b`` may have one row.
    """
    n, k = max(a.shape[0], b.shape[0]), a.shape[1]
    if n == 0 or k == 0:
        return None
    with_entropy = which == "cross_entropy"
    values = np.empty(n)
    doubtful = np.zeros(n, dtype=bool)
    valid = np.zeros(n, dtype=bool)
    shift = np.empty(n)
    reach = np.empty(n)
    step = max(1, _LOG_PASS_ELEMENTS // k)

    def rows_of(side: NDArray[Any], rows: slice | IntArray, count: int) -> NDArray[Any]:
        return side[rows] if side.shape[0] > 1 else np.broadcast_to(side, (count, k))

    def task(lo: int, hi: int) -> None:
        # Five float64 buffers a thread, reused pass after pass: no temporaries of a whole block.
        buffers = tuple(np.empty((min(step, hi - lo), k)) for _ in range(5))
        for start in range(lo, hi, step):
            stop = min(hi, start + step)
            rows = slice(start, stop)
            found = _log_pair_rows(
                rows_of(a, rows, stop - start),
                rows_of(b, rows, stop - start),
                kind_p,
                kind_q,
                tolerance,
                with_entropy,
                buffers,
            )
            values[rows] = found.kl + found.entropy
            doubtful[rows], valid[rows], shift[rows], reach[rows] = (
                found.doubtful,
                found.valid,
                found.shift,
                found.reach,
            )

    # Several ranges a thread, so a thread slowed by other work leaves the rest to the other.
    in_parallel(task, n, a.size + b.size, 4 * threads())
    second = np.flatnonzero(doubtful & valid)
    if second.size:
        near = reach[second] <= _SERIES_REACH / 2
        # Nearly equal rows by the series, the others by expm1 again; the second pass's own
        # reach decides whether the series holds (it flags rows where it does not).
        for group, series in ((second[near], True), (second[~near], False)):

            def again(lo: int, hi: int, group: IntArray = group, series: bool = series) -> None:
                buffers = tuple(np.empty((min(step, hi - lo), k)) for _ in range(5))
                for start in range(lo, hi, step):
                    rows = group[start : min(hi, start + step)]
                    found = _log_pair_rows(
                        rows_of(a, rows, rows.size),
                        rows_of(b, rows, rows.size),
                        kind_p,
                        kind_q,
                        tolerance,
                        with_entropy,
                        buffers,
                        shift=shift[rows],
                        series=series,
                    )
                    values[rows] = found.kl + found.entropy
                    doubtful[rows] = found.doubtful

            if group.size:
                in_parallel(again, group.size, 2 * group.size * k, 4 * threads())
    redo = np.flatnonzero(doubtful)
    if redo.size:
        compute = _careful_cross_entropy if with_entropy else _careful_kl
        careful = _numpy_pair_block(
            compute, rows_of(a, redo, redo.size), rows_of(b, redo, redo.size), kind_p, kind_q, tolerance, None
        )
        if careful is None:
            return None
        values[redo] = careful[which]
    return values, int(redo.size)


def _plain_log_entropy(block: NDArray[Any], kind: Kind, tolerance: float) -> tuple[FloatArray, int] | None:
    """Entropies of rows of logits or log-probabilities, and how many the careful method redid;
    None if invalid.

    ``H = log S + sum p |x|`` with ``x = a - max a``, ``S = sum exp(x)``, ``p = exp(x) / S``:
    non-negative terms, within ``u [(gamma + 2)(1 + log S) + (gamma + 8) X + sum p x**2]``
    (``X = sum p |x|``; see ``_log_pair_rows``). A row keeps its value where that is below
    ``_PLAIN_RELATIVE_ERROR`` of it; the others (nearly one-hot rows, whose entropy is
    small next to the rounding of ``S`` near 1; rows with a NaN or an infinity;
    log-probabilities whose log-sum-exp is near or past ``tolerance``) are recomputed by
    the careful method.
    """
    n, k = block.shape
    if n == 0 or k == 0:
        return None
    entropies = np.empty(n)
    doubtful = np.zeros(n, dtype=bool)
    step = max(1, _LOG_PASS_ELEMENTS // k)
    gamma = _pairwise_sum_error(k)

    def task(lo: int, hi: int) -> None:
        x, e = (np.empty((min(step, hi - lo), k)) for _ in range(2))
        for start in range(lo, hi, step):
            stop = min(hi, start + step)
            rows = block[start:stop]
            m = stop - start
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                peak = np.max(rows, axis=1).astype(np.float64)
                np.subtract(rows, peak[:, None], out=x[:m], dtype=np.float64)
                np.exp(x[:m], out=e[:m])
                total = np.sum(e[:m], axis=1)
                np.negative(x[:m], out=x[:m])
                e[:m] *= x[:m]
                spread = np.sum(e[:m], axis=1) / total  # X
                e[:m] *= x[:m]
                square = np.sum(e[:m], axis=1) / total  # sum p x**2
                log_total = np.log(total)
                entropy = log_total + spread
                bound = _UNIT_ROUNDOFF * ((gamma + 2) * (1 + log_total) + (gamma + 8) * spread + square)
                # NaN anywhere fails the test; so does +inf (the spread is NaN) and -inf (x = inf).
                flagged = ~((bound <= _PLAIN_RELATIVE_ERROR * entropy) & np.isfinite(spread + square))
                if kind == "logprobs":
                    doubt = _SUM_DOUBT * (1 + np.abs(peak))
                    flagged |= ~(np.abs(peak + log_total) <= tolerance - doubt)
            entropies[start:stop] = entropy
            doubtful[start:stop] = flagged

    in_parallel(task, n, block.size, 4 * threads())
    redo = np.flatnonzero(doubtful)
    for start in range(0, redo.size, step):
        rows = redo[start : start + step]
        try:
            entropies[rows] = entropy_rows(prepare(block[rows], kind, tolerance=tolerance))
        except DistributionError:
            return None
    return entropies, int(redo.size)
