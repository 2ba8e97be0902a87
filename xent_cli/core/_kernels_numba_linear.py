"""Compiled one-pass kernels of probabilities and weights (numba); see :mod:`xent_cli.core._kernels_numba`.

Imported by that module (which re-exports ``entropy_linear``, ``kl_linear`` and
``compare_linear``), with its decorators and scalar helpers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from xent_cli.core._kernels_numba import (
    _EPS,
    INVALID,
    OK,
    PROBS,
    RECOMPUTE,
    WEIGHTS,
    _scalar,
    phi_series,
    psi5_series,
)


@_scalar
def _linear_row(x: Any, kind: int, tolerance: float) -> tuple[float, float, int]:
    """(scale, total of the scaled row, status) for one row of probs or weights.

    Weights are scaled by a power of two so the largest is in [0.5, 1), exactly
    as ``prepare()`` does; probabilities are used as given.
    """
    k = x.shape[0]
    largest = 0.0
    for j in range(k):
        v = np.float64(x[j])
        if not (v >= 0.0 and v < math.inf):  # NaN, inf or negative
            return 1.0, math.nan, INVALID
        largest = max(largest, v)
    scale = 1.0
    if kind == WEIGHTS:
        if largest == 0.0:
            return 1.0, math.nan, INVALID
        scale = math.ldexp(1.0, -math.frexp(largest)[1])
    total = 0.0
    for j in range(k):
        total += np.float64(x[j]) * scale
    state = OK
    if kind == PROBS:
        off = abs(total - 1.0)
        margin = 1e-15 + 4.0 * k * _EPS * total
        if off > tolerance + margin:
            state = INVALID
        elif off > tolerance - margin:
            state = RECOMPUTE
    return scale, total, state


@_scalar
def _ratio(x: float, y: float) -> float:
    """``x / y`` with NumPy's answers for ``y == 0`` (``nan`` for 0/0, signed inf otherwise)."""
    if y != 0.0:
        return x / y
    return math.nan if x == 0.0 else math.copysign(math.inf, x)


@_scalar
def _linear_terms(
    p: float, q: float, sp: float, sq: float, gap: float, close: bool
) -> tuple[float, float, float, float, float]:
    """(p_hat, q_hat, p - q, u = (p - q)/q_hat, log(p/q)) as in ``measures._pair_terms_linear``."""
    ph = p / sp
    qh = q / sq
    # p/Sp - q/Sq = (d S - s D) / (Sp Sq): no rounded normalized values are subtracted
    diff = ((p - q) * (0.5 * (sp + sq)) - (0.5 * (p + q)) * gap) / (sp * sq) if close else ph - qh
    u = _ratio(diff, qh)
    if ph == 0.0 and qh == 0.0:
        log_ratio = 0.0
    elif abs(u) < 0.5:
        log_ratio = math.log1p(u)
    elif ph == 0.0:
        log_ratio = -math.inf
    elif qh == 0.0:
        log_ratio = math.inf
    else:
        ratio = ph / qh  # one log, not two, unless the ratio leaves the normal range
        log_ratio = math.log(ratio) if 1e-300 < ratio < 1e300 else math.log(ph) - math.log(qh)
    return ph, qh, diff, u, log_ratio


@_scalar
def _linear_kl_term(ph: float, qh: float, diff: float, u: float, log_ratio: float) -> float:
    if abs(u) < 1e-2:
        return max(qh * u * u * phi_series(u), 0.0)
    if ph == 0.0:
        return qh
    return max(ph * log_ratio - diff, 0.0)


@_scalar
def _linear_js_term(ph: float, qh: float, diff: float) -> float:
    m = 0.5 * (ph + qh)
    v = min(max(0.5 * diff / m, -1.0), 1.0) if m > 0.0 else 0.0
    if abs(v) < 1e-2:
        return max(m * v * v * psi5_series(v * v), 0.0)
    left = 0.0 if 1.0 + v == 0.0 else (1.0 + v) * math.log1p(v)
    right = 0.0 if 1.0 - v == 0.0 else (1.0 - v) * math.log1p(-v)
    return max(0.5 * m * (left + right), 0.0)


@_scalar
def _entropy_term(ph: float) -> float:
    return max(-ph * math.log(ph), 0.0) if ph > 0.0 else 0.0


@_scalar
def _held_back(rest: float, top: float, v: float) -> tuple[float, float]:
    """A row's largest value so far (``top``) and the sum of the others (``rest``), with ``v`` added.

    Near a one-hot row ``1 - p`` of the largest outcome is ``rest / total`` to 16 digits,
    where ``1 - top / total`` keeps few: ``Distributions.log_probs`` uses it the same way.
    """
    if v > top:
        return rest + top, v
    return rest + v, top


@_scalar
def _log_share(v: float, rest: float, top: float, total: float) -> float:
    """``log(v / total)``: by ``log1p(-rest / total)`` for the row's largest value past half."""
    if v == top and top > 0.5 * total:
        return math.log1p(-rest / total)
    return math.log(v / total) if v > 0.0 else -math.inf


@_scalar
def _entropy_step(h: float, rest: float, top: float, v: float, total: float) -> tuple[float, float, float]:
    """Add outcome ``v`` (scaled raw value; ``p = v / total``) to a row's ``-sum p log p``.

    The largest value is held back (:func:`_held_back`) and added by :func:`_entropy_end`.
    """
    smaller = min(v, top)
    rest, top = _held_back(rest, top, v)
    return h + _entropy_term(smaller / total), rest, top


@_scalar
def _entropy_end(h: float, rest: float, top: float, total: float) -> float:
    """The row's entropy: the largest outcome's term, by ``log1p`` of the others' share past 1/2."""
    if top > 0.5 * total:
        return h + max(-(top / total) * math.log1p(-rest / total), 0.0)
    return h + _entropy_term(top / total)


@_scalar
def entropy_linear(x: Any, kind: int, tolerance: float, out: Any, status: Any) -> None:
    """Entropy of rows of probs/weights: ``sum -p log p`` with ``p = raw / total``."""
    n, k = x.shape
    for i in range(n):
        scale, total, state = _linear_row(x[i], kind, tolerance)
        status[i] = state
        if state == INVALID:
            out[i] = math.nan
            continue
        h, rest, top = 0.0, 0.0, 0.0
        for j in range(k):
            h, rest, top = _entropy_step(h, rest, top, np.float64(x[i, j]) * scale, total)
        out[i] = _entropy_end(h, rest, top, total)


@_scalar
def _linear_pair_setup(
    a: Any, b: Any, kind_a: int, kind_b: int, tolerance: float
) -> tuple[float, float, float, float, float, bool, int]:
    scale_a, sa, state_a = _linear_row(a, kind_a, tolerance)
    scale_b, sb, state_b = _linear_row(b, kind_b, tolerance)
    state = max(state_a, state_b)
    gap = 0.0
    if state != INVALID:
        for j in range(a.shape[0]):
            gap += np.float64(a[j]) * scale_a - np.float64(b[j]) * scale_b
    close = abs(gap) <= 1e-3 * min(sa, sb)
    return scale_a, scale_b, sa, sb, gap, close, state


@_scalar
def kl_linear(
    a: Any,
    b: Any,
    kind_a: int,
    kind_b: int,
    tolerance: float,
    with_entropy: bool,
    out_kl: Any,
    out_entropy: Any,
    status: Any,
) -> None:
    """KL(P‖Q), and H(P) if ``with_entropy`` (else 0), for rows of probs/weights, as ``kl_terms``."""
    n = max(a.shape[0], b.shape[0])
    k = a.shape[1]
    for i in range(n):
        ra = a[i if a.shape[0] > 1 else 0]
        rb = b[i if b.shape[0] > 1 else 0]
        scale_a, scale_b, sa, sb, gap, close, state = _linear_pair_setup(ra, rb, kind_a, kind_b, tolerance)
        status[i] = state
        if state == INVALID:
            out_kl[i] = math.nan
            out_entropy[i] = math.nan
            continue
        kl = 0.0
        h, rest, top = 0.0, 0.0, 0.0
        for j in range(k):
            va = np.float64(ra[j]) * scale_a
            ph, qh, diff, u, log_ratio = _linear_terms(va, np.float64(rb[j]) * scale_b, sa, sb, gap, close)
            kl += _linear_kl_term(ph, qh, diff, u, log_ratio)
            if with_entropy:
                h, rest, top = _entropy_step(h, rest, top, va, sa)
        out_kl[i] = kl
        out_entropy[i] = _entropy_end(h, rest, top, sa) if with_entropy else 0.0


@_scalar
def compare_linear(
    a: Any,
    b: Any,
    kind_a: int,
    kind_b: int,
    tolerance: float,
    targets: Any,
    out: Any,
    status: Any,
) -> None:
    """The compare panel for rows of probs/weights (columns as in ``compare_log``)."""
    n = max(a.shape[0], b.shape[0])
    k = a.shape[1]
    for i in range(n):
        ra = a[i if a.shape[0] > 1 else 0]
        rb = b[i if b.shape[0] > 1 else 0]
        scale_a, scale_b, sa, sb, gap, close, state = _linear_pair_setup(ra, rb, kind_a, kind_b, tolerance)
        status[i] = state
        if state == INVALID:
            for m in range(out.shape[1]):
                out[i, m] = math.nan
            continue
        forward = 0.0
        reverse = 0.0
        h, rest, top = 0.0, 0.0, 0.0
        rest_q, top_q_raw = 0.0, 0.0
        js = 0.0
        tv = 0.0
        hellinger = 0.0
        largest = 0.0
        top_p = -1.0
        top_q = -1.0
        arg_p = 0
        arg_q = 0
        for j in range(k):
            va = np.float64(ra[j]) * scale_a
            vb = np.float64(rb[j]) * scale_b
            ph, qh, diff, u, log_ratio = _linear_terms(va, vb, sa, sb, gap, close)
            forward += _linear_kl_term(ph, qh, diff, u, log_ratio)
            u_reverse = (
                -diff / ph if ph != 0.0 else (math.nan if diff == 0.0 else math.copysign(math.inf, -diff))
            )
            reverse += _linear_kl_term(qh, ph, -diff, u_reverse, -log_ratio)
            h, rest, top = _entropy_step(h, rest, top, va, sa)
            rest_q, top_q_raw = _held_back(rest_q, top_q_raw, vb)
            js += _linear_js_term(ph, qh, diff)
            tv += 0.5 * abs(diff)
            root = math.sqrt(ph) + math.sqrt(qh)
            if root > 0.0:
                hellinger += 0.5 * (diff / root) ** 2
            largest = max(largest, abs(diff))
            if ph > top_p:
                top_p = ph
                arg_p = j
            if qh > top_q:
                top_q = qh
                arg_q = j
        out[i, 0] = forward
        out[i, 1] = reverse
        out[i, 2] = _entropy_end(h, rest, top, sa)
        out[i, 3] = js
        out[i, 4] = tv
        out[i, 5] = min(math.sqrt(hellinger), 1.0)
        out[i, 6] = largest
        out[i, 7] = 1.0 if arg_p == arg_q else 0.0
        y = targets[i]
        if y >= 0:
            out[i, 8] = _log_share(np.float64(ra[y]) * scale_a, rest, top, sa)
            out[i, 9] = _log_share(np.float64(rb[y]) * scale_b, rest_q, top_q_raw, sb)
        else:
            out[i, 8] = math.nan
            out[i, 9] = math.nan
