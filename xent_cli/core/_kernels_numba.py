"""Compiled one-pass kernels (numba); imported only by ``xent_cli.core.kernels``.

Importing this module imports numba (about 0.3 s) and it is done lazily, on the
first block big enough to need it. Every kernel is compiled once per input
dtype (float32 or float64) and cached on disk (``cache=True``: next to this
file when that is writable, else in numba's per-user cache directory, else in a
private folder under the temporary directory; see :mod:`xent_cli.core.numba_cache`).

The numerical method is that of ``xent_cli.core.measures``, fused per row; see
``xent_cli.core.kernels`` for the derivations. Each kernel writes per-row
values and a per-row status: ``OK``, ``RECOMPUTE`` (the fast form may have lost
digits on this row, or its validation is too close to the tolerance to call:
the caller recomputes the row with the careful method) or ``INVALID`` (the row
breaks the rules of its kind for certain: the caller runs the careful
``prepare()`` on the block, which raises the precise error).

Only plain arithmetic, ``max``/``abs``/``sqrt`` and selects appear in the inner
loops of the logit kernels, so LLVM vectorizes them (AVX2: four float64 lanes);
``exp`` is the branch-free one below, within 2 ulp of the correctly rounded
value, subnormals included. ``reassoc`` is allowed only in the small loops that
accumulate (``_kernel``); the per-element helpers and the per-row code around
them are compiled without it, and LLVM keeps flags per instruction when it
inlines, so no ``(a - b) - kappa`` or ``(x - peak) - log S`` is ever
re-associated into a form that cancels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np

from xent_cli.core import numba_cache

try:
    import numba  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from llvmlite import ir  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from numba import types  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from numba.extending import intrinsic  # type: ignore[import-untyped,import-not-found,unused-ignore]
except ImportError:  # the module stays importable (for doctest collection); AVAILABLE says no
    numba = None  # type: ignore[assignment,unused-ignore]
    AVAILABLE = False
else:
    AVAILABLE = True

F = TypeVar("F", bound=Callable[..., Any])


# Where the kernels are cached (and whether anywhere can be): xent_cli.core.numba_cache.
if AVAILABLE and not numba_cache.CACHE_USABLE:
    AVAILABLE = False
_njit = numba_cache.njit


OK = 0
RECOMPUTE = 1
INVALID = 2

# kind codes, as in kernels.KIND_CODES
PROBS, WEIGHTS, LOGITS, LOGPROBS = 0, 1, 2, 3

_ACCUMULATE = {"reassoc", "contract", "nsz"}  # sums may be re-ordered (and vectorized)
_EXACT = {"contract"}  # elementwise formulas: FMA allowed, nothing re-associated


def _kernel(function: F) -> F:
    """A cached, GIL-free kernel whose loops may be vectorized."""
    if not AVAILABLE:
        return function
    return cast(F, _njit(function, fastmath=_ACCUMULATE))


def _elementwise(function: F) -> F:
    """A helper inlined by LLVM into the kernels, with its own (strict) float flags."""
    if not AVAILABLE:
        return function
    return cast(F, _njit(function, fastmath=_EXACT))


def _inlined(function: F) -> F:
    """Inlined into its caller by numba itself, taking the caller's float flags.

    Used only inside ``_elementwise`` map loops (no ``reassoc``), where LLVM's
    own inliner might leave a large helper as a call and so stop vectorization.
    """
    if not AVAILABLE:
        return function
    return cast(F, _njit(function, inline="always"))


def _scalar(function: F) -> F:
    """A helper with IEEE semantics throughout (no contraction: formulas as written)."""
    if not AVAILABLE:
        return function
    return cast(F, _njit(function))


def _bitcasts() -> tuple[Callable[[int], float], Callable[[float], int]]:
    """Reinterpret int64 <-> float64 bits inside compiled code (an LLVM ``bitcast``)."""
    if not AVAILABLE:

        def as_float(bits: int) -> float:
            return float(np.int64(bits).view(np.float64))

        def as_bits(value: float) -> int:
            return int(np.float64(value).view(np.int64))

        return as_float, as_bits

    @intrinsic  # type: ignore[misc,unused-ignore]
    def bits_as_float(typingctx: Any, bits: Any) -> Any:
        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            return builder.bitcast(args[0], ir.DoubleType())

        return types.float64(types.int64), codegen

    @intrinsic  # type: ignore[misc,unused-ignore]
    def float_as_bits(typingctx: Any, value: Any) -> Any:
        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            return builder.bitcast(args[0], ir.IntType(64))

        return types.int64(types.float64), codegen

    return cast(Callable[[int], float], bits_as_float), cast(Callable[[float], int], float_as_bits)


_bits_as_float, _float_as_bits = _bitcasts()


_LOG2E = 1.4426950408889634
_SHIFTER = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer held in the low bits
_SHIFTER_BITS = int(np.float64(_SHIFTER).view(np.int64))
_LN2_HI = 6.93147180369123816490e-01  # 32 significant bits: k * _LN2_HI is exact for |k| < 2**11
_LN2_LO = 1.90821492927058770002e-10
_TWO_M600 = 2.0**-600


@_elementwise
def exp_nonpositive(x: float) -> float:
    """``exp(x)`` for ``x <= 0`` (``-inf`` gives 0), branch-free, within 2 ulp.

    ``x = k ln2 + r`` with ``|r| <= ln2/2`` (Cody–Waite), ``exp(r)`` by its
    Taylor polynomial of degree 13 (truncation below 1e-17), then ``2**k`` made
    from bits. Below the normal range the scaling is done in two steps, so
    subnormal results are rounded once, like the libm ``exp``.
    """
    x = max(x, -746.0)
    shifted = x * _LOG2E + _SHIFTER
    k = shifted - _SHIFTER
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    exponent = _float_as_bits(shifted) - _SHIFTER_BITS
    normal = p * _bits_as_float((max(exponent, -1022) + 1023) << 52)
    tiny = (p * _bits_as_float((max(exponent, -1100) + 1623) << 52)) * _TWO_M600
    return normal if exponent >= -1022 else tiny


@_elementwise
def expm1_tail(r: float) -> float:
    """``W(r)`` with ``expm1(r) = r + r**2 W(r)``, for ``|r| < 0.5`` (Taylor to 1e-18)."""
    w = 1.0 / 6402373705728000.0
    w = w * r + 1.0 / 355687428096000.0
    w = w * r + 1.0 / 20922789888000.0
    w = w * r + 1.0 / 1307674368000.0
    w = w * r + 1.0 / 87178291200.0
    w = w * r + 1.0 / 6227020800.0
    w = w * r + 1.0 / 479001600.0
    w = w * r + 1.0 / 39916800.0
    w = w * r + 1.0 / 3628800.0
    w = w * r + 1.0 / 362880.0
    w = w * r + 1.0 / 40320.0
    w = w * r + 1.0 / 5040.0
    w = w * r + 1.0 / 720.0
    w = w * r + 1.0 / 120.0
    w = w * r + 1.0 / 24.0
    w = w * r + 1.0 / 6.0
    w = w * r + 0.5
    return w


_expm1_tail_inlined = _inlined(getattr(expm1_tail, "py_func", expm1_tail))


@_elementwise
def psi_series(z: float) -> float:
    """``Psi(z)`` with ``psi(v) = v**2 Psi(v**2)``, ``Psi(z) = sum z**k / ((2k+1)(2k+2))``; ``z <= 0.06``."""
    s = 1.0 / (25.0 * 26.0)
    s = s * z + 1.0 / (23.0 * 24.0)
    s = s * z + 1.0 / (21.0 * 22.0)
    s = s * z + 1.0 / (19.0 * 20.0)
    s = s * z + 1.0 / (17.0 * 18.0)
    s = s * z + 1.0 / (15.0 * 16.0)
    s = s * z + 1.0 / (13.0 * 14.0)
    s = s * z + 1.0 / (11.0 * 12.0)
    s = s * z + 1.0 / (9.0 * 10.0)
    s = s * z + 1.0 / (7.0 * 8.0)
    s = s * z + 1.0 / (5.0 * 6.0)
    s = s * z + 1.0 / (3.0 * 4.0)
    s = s * z + 0.5
    return s


_psi_series_inlined = _inlined(getattr(psi_series, "py_func", psi_series))


# The careful path's series (measures._PHI_COEFFS, _PSI_COEFFS), for the linear kernels.
@_scalar
def phi_series(u: float) -> float:
    s = -1.0 / 110.0
    s = s * u + 1.0 / 90.0
    s = s * u - 1.0 / 72.0
    s = s * u + 1.0 / 56.0
    s = s * u - 1.0 / 42.0
    s = s * u + 1.0 / 30.0
    s = s * u - 1.0 / 20.0
    s = s * u + 1.0 / 12.0
    s = s * u - 1.0 / 6.0
    s = s * u + 0.5
    return s


@_scalar
def psi5_series(z: float) -> float:
    s = 1.0 / 90.0
    s = s * z + 1.0 / 56.0
    s = s * z + 1.0 / 30.0
    s = s * z + 1.0 / 12.0
    s = s * z + 0.5
    return s


_SERIES_BELOW = 0.5  # |log(p/q)| below which the logit kernels use their series
_EPS = 2.220446049250313e-16


@_scalar
def normalization_gap(u: float) -> float:
    """``log1p(u) - u/(1+u) >= 0``: what a normalization error ``u`` adds to a KL sum."""
    if abs(u) < 1e-3:
        return u * u * (0.5 - u * (2.0 / 3.0 - u * 0.75))
    return math.log1p(u) - u / (1.0 + u)


@_scalar
def reverse_normalization_gap(u: float) -> float:
    """``u - log1p(u) >= 0``."""
    if abs(u) < 1e-3:
        return u * u * (0.5 - u * (1.0 / 3.0 - u * 0.25))
    return u - math.log1p(u)


# --- log-space rows ------------------------------------------------------------


@_elementwise
def _order_key(v: float) -> int:
    """An int64 that orders like the float ``v`` (so max reductions vectorize without fast-math)."""
    bits = _float_as_bits(v)
    return bits ^ ((bits >> 63) & 0x7FFFFFFFFFFFFFFF)


@_elementwise
def _from_order_key(key: int) -> float:
    return _bits_as_float(key ^ ((key >> 63) & 0x7FFFFFFFFFFFFFFF))


@_kernel
def _row_peak(x: Any) -> tuple[float, int, int]:
    """(max, first index of the max, count of NaN/+inf) of one row."""
    key = _order_key(-math.inf)
    bad = 0
    for j in range(x.shape[0]):
        v = np.float64(x[j])
        key = max(key, _order_key(v))
        bad += 1 if (v != v or v == math.inf) else 0
    peak = _from_order_key(key)
    first = 0
    for j in range(x.shape[0]):
        if np.float64(x[j]) == peak:
            first = j
            break
    return peak, first, bad


@_kernel
def _row_exp(x: Any, peak: float, first: int, out: Any) -> tuple[float, float]:
    """``out = exp(x - peak)``; returns (sum of out without the ``first`` max, sum of out * (peak - x))."""
    rest = 0.0
    spread = 0.0
    for j in range(x.shape[0]):
        shifted = np.float64(x[j]) - peak
        e = exp_nonpositive(shifted)
        out[j] = e
        rest += 0.0 if j == first else e
        spread += 0.0 if e == 0.0 else e * -shifted
    return rest, spread


@_scalar
def _logprob_status(kind: int, normalizer: float, tolerance: float) -> int:
    if kind != LOGPROBS:
        return OK
    off = abs(normalizer)
    margin = 1e-9 + 64 * _EPS * abs(normalizer)
    if off > tolerance + margin:
        return INVALID
    if off > tolerance - margin:
        return RECOMPUTE
    return OK


@_scalar
def entropy_log(x: Any, kind: int, tolerance: float, out: Any, status: Any) -> None:
    """Entropy of rows of logits/logprobs: ``H = log S + sum p (peak - x)``, two sums of terms >= 0."""
    n, k = x.shape
    buffer = np.empty(k)
    for i in range(n):
        peak, first, bad = _row_peak(x[i])
        if bad or peak == -math.inf:
            status[i] = INVALID
            out[i] = math.nan
            continue
        rest, spread = _row_exp(x[i], peak, first, buffer)
        log_total = math.log1p(rest)
        status[i] = _logprob_status(kind, peak + log_total, tolerance)
        out[i] = log_total + spread / (1.0 + rest)


@_elementwise
def _log_pair_term(
    a: float, b: float, ea: float, eb: float, inv_sa: float, inv_sb: float, kappa: float, c: float
) -> tuple[float, float]:
    """(``q phi(p/q)``, ``p - q``) for one outcome, with ``r = (a - b) - kappa - c``."""
    p = ea * inv_sa
    q = eb * inv_sb
    r = ((a - b) - kappa) - c
    near = abs(r) < _SERIES_BELOW
    rs = r if near else 0.0
    w = rs * rs * expm1_tail(rs)
    a_zero = a == -math.inf
    b_zero = b == -math.inf
    closed = p * r - p + q
    closed = q if a_zero else closed
    closed = math.inf if (b_zero and not a_zero) else closed
    closed = 0.0 if (a_zero and b_zero) else closed
    term = q * (rs * rs + (rs - 1.0) * w) if near else closed
    gap = q * (rs + w) if near else (0.0 if (a_zero and b_zero) else p - q)
    return max(term, 0.0), gap


@_kernel
def _kl_log_sums(
    a: Any, b: Any, ea: Any, eb: Any, inv_sa: float, inv_sb: float, kappa: float, c: float
) -> tuple[float, float]:
    total = 0.0
    gap = 0.0
    for j in range(a.shape[0]):
        t, g = _log_pair_term(np.float64(a[j]), np.float64(b[j]), ea[j], eb[j], inv_sa, inv_sb, kappa, c)
        total += t
        gap += g
    return total, gap


@_scalar
def kl_log(
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
    """KL(P‖Q) and H(P) for rows of logits/logprobs; one row of either side broadcasts.

    ``with_entropy`` is ignored: H(P) is one more sum of what is computed anyway.

    ``log(p/q) = (a - b) - kappa - c`` with ``kappa = max a - max b`` and
    ``c = log(S_a / S_b)``; each outcome adds ``q phi(p/q)`` (series in
    ``r = log(p/q)`` near 0, ``p r - p + q`` elsewhere) and ``p - q`` (``q
    expm1(r)`` near 0). Their sums ``T`` and ``U`` give the divergence of the
    exactly normalized pair, ``T / (1 + U) - g(U)``: an error in ``c`` changes
    ``T`` only by ``O(err * KL + err**2)``, and ``g`` takes the second-order part
    out. Rows where ``g`` is not small next to ``T`` are flagged.
    """
    n = max(a.shape[0], b.shape[0])
    k = a.shape[1]
    ea = np.empty(k)
    eb = np.empty(k)
    for i in range(n):
        ra = a[i if a.shape[0] > 1 else 0]
        rb = b[i if b.shape[0] > 1 else 0]
        peak_a, first_a, bad_a = _row_peak(ra)
        peak_b, first_b, bad_b = _row_peak(rb)
        if bad_a or bad_b or peak_a == -math.inf or peak_b == -math.inf:
            status[i] = INVALID
            out_kl[i] = math.nan
            out_entropy[i] = math.nan
            continue
        rest_a, spread_a = _row_exp(ra, peak_a, first_a, ea)
        rest_b, _ = _row_exp(rb, peak_b, first_b, eb)
        log_sa = math.log1p(rest_a)
        log_sb = math.log1p(rest_b)
        state = max(
            _logprob_status(kind_a, peak_a + log_sa, tolerance),
            _logprob_status(kind_b, peak_b + log_sb, tolerance),
        )
        sa = 1.0 + rest_a
        sb = 1.0 + rest_b
        total, gap = _kl_log_sums(ra, rb, ea, eb, 1.0 / sa, 1.0 / sb, peak_a - peak_b, log_sa - log_sb)
        correction = normalization_gap(gap)
        kl = total / (1.0 + gap) - correction
        if not (abs(gap) < 0.5 and correction <= 0.25 * total):
            state = max(state, RECOMPUTE)
        if 0.0 < kl < 1e-280:  # terms may have underflowed: the careful path works in logs
            state = max(state, RECOMPUTE)
        status[i] = state
        out_kl[i] = max(kl, 0.0)
        out_entropy[i] = log_sa + spread_a / sa


@_elementwise
def _log_gap(
    a: float, b: float, ea: float, eb: float, inv_sa: float, inv_sb: float, kappa: float, c: float
) -> float:
    """``p - q`` for one outcome, as in ``_log_pair_term``."""
    r = ((a - b) - kappa) - c
    near = abs(r) < _SERIES_BELOW
    rs = r if near else 0.0
    q = eb * inv_sb
    both_zero = a == -math.inf and b == -math.inf
    return q * (rs + rs * rs * expm1_tail(rs)) if near else (0.0 if both_zero else ea * inv_sa - q)


@_kernel
def _log_gap_sum(
    a: Any, b: Any, ea: Any, eb: Any, inv_sa: float, inv_sb: float, kappa: float, c: float
) -> float:
    gap = 0.0
    for j in range(a.shape[0]):
        gap += _log_gap(np.float64(a[j]), np.float64(b[j]), ea[j], eb[j], inv_sa, inv_sb, kappa, c)
    return gap


@_inlined
def _log_ratio_parts(
    a: float, b: float, ea: float, eb: float, inv_sa: float, inv_sb: float, kappa: float, c: float
) -> tuple[float, float, float, float, float, bool, bool, bool]:
    """(p, q, r, w, p - q, near, a is -inf, b is -inf) for one outcome; ``w = expm1(r) - r`` near 0."""
    p = ea * inv_sa
    q = eb * inv_sb
    r = ((a - b) - kappa) - c
    near = abs(r) < _SERIES_BELOW
    rs = r if near else 0.0
    w = rs * rs * _expm1_tail_inlined(rs)
    a_zero = a == -math.inf
    b_zero = b == -math.inf
    diff = q * (rs + w) if near else (0.0 if (a_zero and b_zero) else p - q)
    return p, q, r, w, diff, near, a_zero, b_zero


@_inlined
def _log_panel_terms(
    a: float, b: float, ea: float, eb: float, inv_sa: float, inv_sb: float, kappa: float, c: float
) -> tuple[float, float, float, float, float, float]:
    """Per outcome: (KL(p‖q), KL(q‖p), p − q, r, JS where ``|r|`` is small else 0, ``(√p − √q)²``)."""
    p, q, r, w, diff, near, a_zero, b_zero = _log_ratio_parts(a, b, ea, eb, inv_sa, inv_sb, kappa, c)
    both = a_zero and b_zero
    rs = r if near else 0.0
    closed = p * r - diff
    closed = q if a_zero else closed
    closed = math.inf if (b_zero and not a_zero) else closed
    closed = 0.0 if both else closed
    forward = q * (rs * rs + (rs - 1.0) * w) if near else closed
    # KL(q||p) = sum p phi(q/p); near 0 it is q (expm1(r) - r) = q w.
    closed_r = diff - q * r
    closed_r = p if b_zero else closed_r
    closed_r = math.inf if (a_zero and not b_zero) else closed_r
    closed_r = 0.0 if both else closed_r
    reverse = q * w if near else closed_r
    u = rs + w  # p/q - 1 near 0
    # JS near 0: m psi(v) with m = q (1 + u/2), v = u / (2 + u); the rest in a scalar pass.
    v = u / (2.0 + u)
    js = q * (1.0 + 0.5 * u) * v * v * _psi_series_inlined(v * v) if near else 0.0
    # (sqrt p - sqrt q)**2: q u**2 / (sqrt(1 + u) + 1)**2 near 0 (no cancellation),
    # hi (1 - sqrt(lo/hi))**2 elsewhere (lo/hi < e**-0.5, so no cancellation, and
    # nothing under- or overflows); one square root either way.
    hi = max(p, q)
    lo = min(p, q)
    root = math.sqrt(1.0 + u if near else (lo / hi if hi > 0.0 else 0.0))
    hellinger = q * (u / (root + 1.0)) * (u / (root + 1.0)) if near else hi * (1.0 - root) * (1.0 - root)
    return max(forward, 0.0), max(reverse, 0.0), diff, r, js, hellinger


_PANEL_CHUNK = 1024  # outcomes per map step: the term buffers stay in L1/L2


@_elementwise
def _log_panel_map(
    a: Any, b: Any, ea: Any, eb: Any, inv_sa: float, inv_sb: float, kappa: float, c: float, terms: Any
) -> None:
    """Per-outcome terms into ``terms`` rows: KL(p‖q), KL(q‖p), p − q, r, JS (near part), Hellinger²·2.

    A map without reductions and with everything inlined: it vectorizes under
    strict float flags; the sums are taken by ``_sum`` / ``_max_nonnegative``.
    """
    for j in range(a.shape[0]):
        x = np.float64(a[j])
        y = np.float64(b[j])
        f, rv, d, r, s, h = _log_panel_terms(x, y, ea[j], eb[j], inv_sa, inv_sb, kappa, c)
        terms[0, j] = f
        terms[1, j] = rv
        terms[2, j] = d
        terms[3, j] = r
        terms[4, j] = s
        terms[5, j] = h


@_kernel
def _sum(x: Any) -> float:
    total = 0.0
    for j in range(x.shape[0]):
        total += x[j]
    return total


@_kernel
def _sum_abs(x: Any) -> float:
    total = 0.0
    for j in range(x.shape[0]):
        total += abs(x[j])
    return total


@_kernel
def _max_abs(x: Any) -> float:
    largest = 0  # bit patterns of values >= 0 order like the values
    for j in range(x.shape[0]):
        largest = max(largest, _float_as_bits(abs(x[j])))
    return _bits_as_float(largest)


@_scalar
def _js_closed(p: float, q: float) -> float:
    """``m psi(v)`` by the careful path's closed form (``|v|`` is not small here)."""
    m = 0.5 * (p + q)
    if m <= 0.0:
        return 0.0
    v = min(max(0.5 * (p - q) / m, -1.0), 1.0)
    left = 0.0 if 1.0 + v == 0.0 else (1.0 + v) * math.log1p(v)
    right = 0.0 if 1.0 - v == 0.0 else (1.0 - v) * math.log1p(-v)
    return max(0.5 * m * (left + right), 0.0)


@_scalar
def compare_log(
    a: Any,
    b: Any,
    kind_a: int,
    kind_b: int,
    tolerance: float,
    targets: Any,
    out: Any,
    status: Any,
) -> None:
    """The compare panel for rows of logits/logprobs; ``out`` has one column per measure.

    Columns: 0 KL(P‖Q), 1 KL(Q‖P), 2 H(P), 3 JS, 4 TV, 5 Hellinger, 6 max|p−q|,
    7 top-1 agreement, 8 ln p(y), 9 ln q(y) (8 and 9 only where ``targets`` has
    a class index, not -1; NaN otherwise).

    ``c`` is first ``log(S_a/S_b)``, then corrected once by ``log1p(U)`` (a
    Newton step on ``sum p = 1``), so that ``p - q`` and the distances come
    out of normalized values; the KL sums get the exact correction of ``kl_log``.
    """
    n = max(a.shape[0], b.shape[0])
    k = a.shape[1]
    ea = np.empty(k)
    eb = np.empty(k)
    terms = np.empty((6, _PANEL_CHUNK))
    for i in range(n):
        ra = a[i if a.shape[0] > 1 else 0]
        rb = b[i if b.shape[0] > 1 else 0]
        peak_a, first_a, bad_a = _row_peak(ra)
        peak_b, first_b, bad_b = _row_peak(rb)
        if bad_a or bad_b or peak_a == -math.inf or peak_b == -math.inf:
            status[i] = INVALID
            for m in range(out.shape[1]):
                out[i, m] = math.nan
            continue
        rest_a, spread_a = _row_exp(ra, peak_a, first_a, ea)
        rest_b, _ = _row_exp(rb, peak_b, first_b, eb)
        log_sa = math.log1p(rest_a)
        log_sb = math.log1p(rest_b)
        state = max(
            _logprob_status(kind_a, peak_a + log_sa, tolerance),
            _logprob_status(kind_b, peak_b + log_sb, tolerance),
        )
        sa = 1.0 + rest_a
        sb = 1.0 + rest_b
        kappa = peak_a - peak_b
        c = log_sa - log_sb
        first_gap = _log_gap_sum(ra, rb, ea, eb, 1.0 / sa, 1.0 / sb, kappa, c)
        if abs(first_gap) < 0.5:
            c = c + math.log1p(first_gap)
        else:
            state = max(state, RECOMPUTE)
        forward = reverse = gap = tv = js = hellinger = largest = 0.0
        for lo in range(0, k, _PANEL_CHUNK):
            hi = min(k, lo + _PANEL_CHUNK)
            m = hi - lo
            _log_panel_map(ra[lo:hi], rb[lo:hi], ea[lo:hi], eb[lo:hi], 1.0 / sa, 1.0 / sb, kappa, c, terms)
            forward += _sum(terms[0, :m])
            reverse += _sum(terms[1, :m])
            gap += _sum(terms[2, :m])
            tv += _sum_abs(terms[2, :m])
            largest = max(largest, _max_abs(terms[2, :m]))
            js += _sum(terms[4, :m])
            hellinger += _sum(terms[5, :m])
            if not _max_abs(terms[3, :m]) < _SERIES_BELOW:
                for j in range(m):  # JS where |log(p/q)| is not small: logs, so not vectorized
                    if not abs(terms[3, j]) < _SERIES_BELOW:
                        js += _js_closed(ea[lo + j] / sa, eb[lo + j] / sb)
        weight = _max_abs(eb) / sb
        kl = forward / (1.0 + gap) - normalization_gap(gap)
        kl_reverse = reverse - reverse_normalization_gap(gap)
        # What is left of the normalization error, with the rounding of its own sum.
        residual = abs(gap) + 8 * _EPS * tv
        if not (
            normalization_gap(gap) <= 0.25 * forward
            and reverse_normalization_gap(gap) <= 0.25 * reverse
            and residual <= 1e-14 * tv
            and residual * residual <= 1e-14 * js
            and residual * weight <= 1e-13 * largest
            and residual * math.sqrt(hellinger) <= 1e-14 * hellinger
        ):
            state = max(state, RECOMPUTE)
        if 0.0 < min(kl, kl_reverse) < 1e-280:
            state = max(state, RECOMPUTE)
        status[i] = state
        out[i, 0] = max(kl, 0.0)
        out[i, 1] = max(kl_reverse, 0.0)
        out[i, 2] = log_sa + spread_a / sa
        out[i, 3] = js
        out[i, 4] = 0.5 * tv
        out[i, 5] = min(math.sqrt(0.5 * hellinger), 1.0)
        out[i, 6] = largest
        out[i, 7] = 1.0 if first_a == first_b else 0.0
        y = targets[i]
        if y >= 0:
            out[i, 8] = (np.float64(ra[y]) - peak_a) - log_sa
            out[i, 9] = (np.float64(rb[y]) - peak_b) - log_sb
        else:
            out[i, 8] = math.nan
            out[i, 9] = math.nan


# The kernels of probabilities and weights are in a module of their own, which uses the
# helpers above: imported last, when they are all defined.
from xent_cli.core._kernels_numba_linear import (  # noqa: E402
    compare_linear as compare_linear,
)
from xent_cli.core._kernels_numba_linear import (  # noqa: E402
    entropy_linear as entropy_linear,
)
from xent_cli.core._kernels_numba_linear import (  # noqa: E402
    kl_linear as kl_linear,
)
