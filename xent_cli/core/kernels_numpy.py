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

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xent_cli.core.distributions import Distributions, FloatArray, Kind, prepare
from xent_cli.core.kernel_backend import THREADED_ELEMENTS, pool, threads
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
        parts[index] = _careful_pair_block(
            compute,
            a[lo:hi] if a.shape[0] > 1 else a,
            b[lo:hi] if b.shape[0] > 1 else b,
            kind_p,
            kind_q,
            tolerance,
            None if targets is None else targets[lo:hi],
        )

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
    redone = _careful_pair_block(
        compute,
        a[rows] if a.shape[0] > 1 else a,
        b[rows] if b.shape[0] > 1 else b,
        kind_p,
        kind_q,
        tolerance,
        None if targets is None else targets[rows],
    )
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
