"""Fused kernels for big blocks: the careful method's numbers, in one pass per row.

The functions in ``xent_cli.core.measures`` are the reference: each is exact to
about 1e-15 relative, and each makes some twenty passes over a block. The
kernels here take raw blocks as the readers deliver them (float32 or float64,
shape ``(n, K)``, C-contiguous), validate them as they go, and return the same
per-row values in nats, to the same accuracy bounds::

    result = kl_rows_fast(p_block, q_block, kind_p="logits", kind_q="logits", tolerance=1e-6)
    if result is None:          # the block breaks a rule of its kind:
        prepare(p_block, ...)   # the careful path raises the precise error
    values = result.values

Contract
--------
* A result, or ``None``. ``None`` means the block is invalid (a NaN, an inf, a
  negative probability, a row sum or log-sum-exp outside ``tolerance``, a row
  of ``-inf``, a shape that does not broadcast): the caller runs the careful
  ``prepare()`` on the block, which raises the error naming row and column.
  A kernel never raises for bad data and never returns a number for a block
  that ``prepare()`` would reject.
* Values are float64 per-row arrays in nats, with the careful path's
  conventions (``0 log 0 = 0``, ``p > 0`` where ``q = 0`` gives ``inf``).
* Broadcasting: ``p`` and ``q`` have the same ``K``; either has one row, or
  both have the same number of rows.
* dtypes: float32 and float64 blocks of logits or log-probabilities are read
  as they are by the entropy, KL and cross-entropy kernels (widened exactly,
  element by element, so a float32 block is not copied); the JS and compare
  kernels, probabilities and weights, and any other numeric dtype are widened
  to float64 first; a pair of different float dtypes is computed in float64.
* Rows at risk are recomputed with the careful method, row by row: where a
  fast closed form could lose digits (the normalization correction is not
  small next to the divergence, a sum may have underflowed) or where a row's
  sum is too close to the tolerance for a sum in another order to decide.
  ``KernelResult.recomputed`` counts them.

Backends, chosen once from ``XENT_KERNELS`` (``auto`` by default):

``numba``
    compiled kernels (``xent_cli.core._kernels_numba``), on up to two threads
    over row ranges. ``auto`` uses them when numba can be imported and the
    block has at least ``MIN_FAST_ELEMENTS`` values (smaller blocks do not
    repay importing numba).
``numpy``
    what ``auto`` uses without numba (a default install: numba is the ``fast``
    extra). For the entropy and KL of probabilities and weights, and the KL,
    cross-entropy and entropy of logits and log-probabilities, plain formulas
    (``xent_cli.core.kernels_numpy``) with a per-row error bound, and the
    careful method for the rows they cannot vouch for; for JS and the compare
    panel, the careful method itself on cache-sized row ranges, on two threads.
``careful``
    the careful method on the whole block, as ``measures`` does: the
    reference, for tests and debugging.

Method (logits and log-probabilities)
-------------------------------------
With ``kappa = max a - max b``, ``S_a = sum exp(a - max a)`` and
``c = log(S_a / S_b)``, ``r = log(p/q) = (a - b) - kappa - c`` for every
outcome, from the difference of the inputs (exact when they are close). Each
outcome adds ``q phi(p/q)``, ``phi(t) = t log t - t + 1 >= 0``: near ``r = 0``
as ``q (r**2 + (r - 1) w)`` with ``w = expm1(r) - r`` from its Taylor series,
elsewhere as ``p r - p + q``. The rounding error ``e`` of ``c`` scales every
``p`` by ``exp(-e)``; the sum of ``p - q`` measures it (``U = exp(-e) - 1``) and
the exact identity ``KL = T / (1 + U) - (log1p(U) - U / (1 + U))`` removes it,
so ``T`` needs no second pass. The compare panel first refines ``c`` by
``log1p(U)``, so ``p - q`` (TV, max |p - q|, Hellinger) comes from normalized
values. ``exp`` is a branch-free polynomial within 2 ulp, so the inner loops
vectorize.

Method (probabilities and weights)
----------------------------------
The careful path's formulas, outcome by outcome, fused into one loop per row:
``p - q`` from the raw difference and the row totals' gap, ``log(p/q)`` by
``log1p`` near 1, the same series for ``phi`` and ``psi``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xent_cli.core.distributions import DEFAULT_TOLERANCE, FloatArray, Kind, prepare
from xent_cli.core.kernel_backend import (
    MIN_FAST_ELEMENTS,
    backend,
    compiled_module,
    in_parallel,
    numba_pays,
    requested_backend,
    threads,
)
from xent_cli.core.kernels_numpy import (
    _SUB_BLOCK_ELEMENTS,
    PairMeasures,
    _careful_cross_entropy,
    _careful_js_panel,
    _careful_kl,
    _careful_pair_block,
    _careful_panel,
    _numpy_pair_block,
    _plain_entropy,
    _plain_kl,
    _plain_log_entropy,
    _plain_log_pair,
    _recompute_rows,
)
from xent_cli.core.measures import entropy_rows
from xent_cli.errors import DistributionError

KIND_CODES: dict[str, int] = {"probs": 0, "weights": 1, "logits": 2, "logprobs": 3}
LINEAR_KINDS = ("probs", "weights")
LOG_KINDS = ("logits", "logprobs")
# Column order of the compiled panel kernels.
_PANEL_COLUMNS = (
    "kl",
    "kl_reverse",
    "entropy",
    "js",
    "tv",
    "hellinger",
    "max_abs_diff",
    "top1_agreement",
    "log_p_target",
    "log_q_target",
)
PANEL_MEASURES = (
    "kl",
    "kl_reverse",
    "cross_entropy",
    "js",
    "js_distance",
    "tv",
    "hellinger",
    "max_abs_diff",
    "top1_agreement",
)
TARGET_MEASURES = ("log_p_target", "log_q_target")

IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class KernelResult:
    """Per-row values of one block.

    Attributes
    ----------
    measures : mapping of str to ndarray, shape (n,)
        Every measure computed, in nats where it has a unit. The single-measure
        kernels hold one entry; ``compare_rows_fast`` holds ``PANEL_MEASURES``
        (and ``TARGET_MEASURES`` with targets).
    headline : str
        The key of ``values``.
    backend : str
        ``'numba'``, ``'numpy'`` or ``'careful'``: what computed the block.
    recomputed : int
        Rows recomputed with the careful method after the fast pass flagged them.
    """

    measures: Mapping[str, FloatArray]
    headline: str
    backend: str
    recomputed: int = 0

    @property
    def values(self) -> FloatArray:
        """The headline measure's per-row values."""
        return self.measures[self.headline]

    def __getitem__(self, key: str) -> FloatArray:
        return self.measures[key]


def warm_up(
    measure: str,
    width: int,
    kind_p: Kind = "probs",
    kind_q: Kind | None = None,
    n_elements: int | None = None,
) -> None:
    """Import numba and load ``measure``'s compiled kernel on a thread of its own, now.

    For a caller that knows a big input is coming (a large file): the import and
    numba's first-call set-up (together about 0.5-1 s of CPU, mostly Python) then overlap
    with reading, which runs on threads that do not hold the GIL. Nothing happens unless
    ``auto`` or ``numba`` would use the compiled kernels; errors are left to the real call.
    """
    log = kind_p in LOG_KINDS and (kind_q or kind_p) in LOG_KINDS
    key = measure.replace("-", "_")
    if requested_backend() not in ("auto", "numba") or width < 1:
        return
    if requested_backend() == "auto" and not numba_pays(key, log, n_elements):
        return
    rows = -(-MIN_FAST_ELEMENTS // width)

    def sample(kind: Kind) -> FloatArray:
        value = {"probs": 1.0 / width, "weights": 1.0, "logits": 0.0, "logprobs": -math.log(width)}[kind]
        return np.full((rows, width), value)

    def run() -> None:
        try:
            if measure == "entropy":
                entropy_rows_fast(sample(kind_p), kind=kind_p)
                return
            kernel = {
                "kl": kl_rows_fast,
                "cross-entropy": cross_entropy_rows_fast,
                "js": js_rows_fast,
                "compare": compare_rows_fast,
            }[measure]
            kernel(sample(kind_p), sample(kind_q or kind_p), kind_p=kind_p, kind_q=kind_q or kind_p)
        except Exception:
            return

    threading.Thread(target=run, name="xent-kernel-warm-up", daemon=True).start()


# --- input handling --------------------------------------------------------------------


def _as_block(values: ArrayLike) -> NDArray[Any] | None:
    """A C-contiguous float32/float64 (n, K) array, or None when the careful path must judge it."""
    array = np.asarray(values)
    if array.ndim != 2 or array.shape[1] == 0 or array.dtype.kind not in "biuf":
        return None
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    return np.ascontiguousarray(array)


def _as_pair(p: ArrayLike, q: ArrayLike) -> tuple[NDArray[Any], NDArray[Any]] | None:
    a, b = _as_block(p), _as_block(q)
    if a is None or b is None or a.shape[1] != b.shape[1]:
        return None
    if a.shape[0] != b.shape[0] and 1 not in (a.shape[0], b.shape[0]):
        return None
    if a.dtype != b.dtype:
        a, b = a.astype(np.float64), b.astype(np.float64)
    return a, b


def _check_kinds(*kinds: str) -> None:
    for kind in kinds:
        if kind not in KIND_CODES:
            raise DistributionError(
                f"unknown kind {kind!r}; expected one of {', '.join(KIND_CODES)}", reason="kind"
            )


def _check_tolerance(tolerance: float) -> None:
    if not tolerance >= 0:
        raise DistributionError("tolerance must be >= 0", reason="tolerance")


# --- the compiled path -------------------------------------------------------------------


def _run_compiled(
    kernel: Callable[..., None],
    a: NDArray[Any],
    b: NDArray[Any],
    extra: tuple[Any, ...],
    per_row: list[NDArray[Any]],
    status: NDArray[np.int8],
    *,
    widen: bool = False,
) -> None:
    """``kernel(a, b, *extra, *per_row, status)`` over row ranges (``per_row``: targets, outputs).

    With ``widen``, each range is widened to float64 a few rows at a time (for
    kernels compiled for float64 only), so no float64 copy of the block is made.
    """
    n = status.shape[0]
    step = max(1, _SUB_BLOCK_ELEMENTS // a.shape[1]) if widen else n

    def task(lo: int, hi: int) -> None:
        for start in range(lo, hi, max(1, step)):
            stop = min(hi, start + step)
            rows_a = a[start:stop] if a.shape[0] > 1 else a
            rows_b = b[start:stop] if b.shape[0] > 1 else b
            if widen:
                rows_a = rows_a.astype(np.float64, copy=False)
                rows_b = rows_b.astype(np.float64, copy=False)
            kernel(rows_a, rows_b, *extra, *[values[start:stop] for values in per_row], status[start:stop])

    in_parallel(task, n, a.size + b.size, threads())


def _pair_fast(
    which: str,
    p: ArrayLike,
    q: ArrayLike,
    kind_p: Kind,
    kind_q: Kind | None,
    tolerance: float,
    targets: ArrayLike | None = None,
    expected: int | None = None,
) -> KernelResult | None:
    kind_q = kind_q or kind_p
    _check_kinds(kind_p, kind_q)
    _check_tolerance(tolerance)
    compute, headline = _PAIR_MEASURES[which]
    target_rows = None if targets is None else np.asarray(targets, dtype=np.intp).reshape(-1)
    pair = _as_pair(p, q)
    if pair is not None and target_rows is not None:
        n, k = max(pair[0].shape[0], pair[1].shape[0]), pair[0].shape[1]
        if target_rows.shape[0] != n or np.any(target_rows < 0) or np.any(target_rows >= k):
            raise ValueError(f"targets must be {n} class indices in [0, {k})")
    log = kind_p in LOG_KINDS and kind_q in LOG_KINDS
    chosen = backend(None if pair is None else pair[0].size + pair[1].size, which, log, expected=expected)
    if pair is None or chosen == "careful":
        careful = _careful_pair_block(compute, p, q, kind_p, kind_q, tolerance, target_rows)
        return None if careful is None else KernelResult(careful, headline, "careful")
    a, b = pair
    n = max(a.shape[0], b.shape[0])
    linear = kind_p in LINEAR_KINDS and kind_q in LINEAR_KINDS
    logs = kind_p in LOG_KINDS and kind_q in LOG_KINDS
    if chosen == "numpy" and linear and which == "kl":
        wide_a, wide_b = a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)
        plain = _plain_kl(wide_a, wide_b, kind_p, kind_q, tolerance)
        return None if plain is None else KernelResult({"kl": plain[0]}, "kl", "numpy", plain[1])
    if chosen == "numpy" and logs and which in ("kl", "cross_entropy"):
        plain_log = _plain_log_pair(a, b, kind_p, kind_q, tolerance, which)
        if plain_log is None:
            return None
        return KernelResult({which: plain_log[0]}, headline, "numpy", plain_log[1])
    if chosen == "numpy" or not (linear or logs):
        numpy_result = _numpy_pair_block(compute, a, b, kind_p, kind_q, tolerance, target_rows)
        return None if numpy_result is None else KernelResult(numpy_result, headline, "numpy")
    compiled = compiled_module()
    assert compiled is not None
    # Compiled for float64 only: the linear kernels (rows of probabilities are short)
    # and the panel (widening costs it a few per cent, while a float32 variant costs
    # seconds of compiling the first time it runs anywhere).
    widen = linear or which in ("compare", "js")
    status = np.empty(n, dtype=np.int8)
    codes = (KIND_CODES[kind_p], KIND_CODES[kind_q], float(tolerance))
    measures: dict[str, FloatArray]
    if which in ("compare", "js"):
        panel = np.empty((n, len(_PANEL_COLUMNS)))
        wanted = np.full(n, -1, dtype=np.int64) if target_rows is None else target_rows.astype(np.int64)
        kernel = compiled.compare_log if logs else compiled.compare_linear
        _run_compiled(kernel, a, b, codes, [wanted, panel], status, widen=widen)
        measures = _panel_measures(panel, with_targets=target_rows is not None)
        if which == "js":
            measures = {"js": measures["js"], "js_distance": measures["js_distance"]}
    else:
        kl = np.empty(n)
        entropy = np.empty(n)
        kernel = compiled.kl_log if logs else compiled.kl_linear
        _run_compiled(kernel, a, b, (*codes, which == "cross_entropy"), [kl, entropy], status, widen=widen)
        measures = {"kl": kl} if which == "kl" else {"cross_entropy": entropy + kl}
    if np.any(status == compiled.INVALID):
        return None
    rows = np.flatnonzero(status == compiled.RECOMPUTE)
    if rows.size and not _recompute_rows(
        measures, rows, compute, a, b, kind_p, kind_q, tolerance, target_rows
    ):
        return None
    return KernelResult(measures, headline, "numba", int(rows.size))


def _panel_measures(panel: FloatArray, *, with_targets: bool) -> dict[str, FloatArray]:
    column = {key: panel[:, i] for i, key in enumerate(_PANEL_COLUMNS)}
    measures = {
        "kl": column["kl"].copy(),
        "kl_reverse": column["kl_reverse"].copy(),
        "cross_entropy": column["entropy"] + column["kl"],
        "js": column["js"].copy(),
        "js_distance": np.sqrt(column["js"]),
        "tv": column["tv"].copy(),
        "hellinger": column["hellinger"].copy(),
        "max_abs_diff": column["max_abs_diff"].copy(),
        "top1_agreement": column["top1_agreement"].copy(),
    }
    if with_targets:
        measures["log_p_target"] = column["log_p_target"].copy()
        measures["log_q_target"] = column["log_q_target"].copy()
    return measures


_PAIR_MEASURES: dict[str, tuple[PairMeasures, str]] = {
    "kl": (_careful_kl, "kl"),
    "cross_entropy": (_careful_cross_entropy, "cross_entropy"),
    "js": (_careful_js_panel, "js"),
    "compare": (_careful_panel, "kl"),
}


# --- the public kernels -------------------------------------------------------------------


def entropy_rows_fast(
    raw: ArrayLike,
    *,
    kind: Kind = "probs",
    tolerance: float = DEFAULT_TOLERANCE,
    expected: int | None = None,
) -> KernelResult | None:
    """Entropy ``H(p) = -sum p log p`` of every row of a raw block, in nats.

    Parameters
    ----------
    raw : array_like, shape (n, K)
        The values as read (float32 or float64; others are converted).
    kind : {'probs', 'weights', 'logits', 'logprobs'}
    tolerance : float
        As for ``prepare()``.
    expected : int, optional
        The values of the whole input, when known: it chooses the backend under
        ``auto`` (see :func:`xent_cli.core.kernel_backend.backend`).

    Returns
    -------
    KernelResult or None
        ``result.values`` holds ``entropy_rows(prepare(raw, kind))`` to within the
        careful path's accuracy; None when ``prepare()`` would reject the block.

    Examples
    --------
    >>> entropy_rows_fast([[0.5, 0.5], [1.0, 0.0]]).values
    array([0.69314718, 0.        ])
    >>> entropy_rows_fast([[0.5, 0.6]]) is None  # sums to 1.1: prepare() says why
    True
    """
    _check_kinds(kind)
    _check_tolerance(tolerance)
    maybe_block = _as_block(raw)
    size = None if maybe_block is None else maybe_block.size
    chosen = backend(size, "entropy", kind in LOG_KINDS, expected=expected)
    if maybe_block is None or chosen == "careful":
        try:
            values = entropy_rows(prepare(raw, kind, tolerance=tolerance))
        except DistributionError:
            return None
        return KernelResult({"entropy": values}, "entropy", "careful")
    block: NDArray[Any] = maybe_block
    n = block.shape[0]
    if chosen == "numpy" and kind in LINEAR_KINDS:
        plain = _plain_entropy(block.astype(np.float64, copy=False), kind, tolerance)
        return None if plain is None else KernelResult({"entropy": plain[0]}, "entropy", "numpy", plain[1])
    if chosen == "numpy":
        log_plain = _plain_log_entropy(block, kind, tolerance)
        if log_plain is None:
            return None
        return KernelResult({"entropy": log_plain[0]}, "entropy", "numpy", log_plain[1])
    compiled = compiled_module()
    assert compiled is not None
    if kind in LINEAR_KINDS:
        block = block.astype(np.float64, copy=False)
    out = np.empty(n)
    status = np.empty(n, dtype=np.int8)
    kernel = compiled.entropy_log if kind in LOG_KINDS else compiled.entropy_linear

    def task(lo: int, hi: int) -> None:
        kernel(block[lo:hi], KIND_CODES[kind], float(tolerance), out[lo:hi], status[lo:hi])

    in_parallel(task, n, block.size, threads())
    if np.any(status == compiled.INVALID):
        return None
    rows = np.flatnonzero(status == compiled.RECOMPUTE)
    if rows.size:
        try:
            out[rows] = entropy_rows(prepare(block[rows], kind, tolerance=tolerance))
        except DistributionError:
            return None
    return KernelResult({"entropy": out}, "entropy", "numba", int(rows.size))


def kl_rows_fast(
    p_raw: ArrayLike,
    q_raw: ArrayLike,
    *,
    kind_p: Kind = "probs",
    kind_q: Kind | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    expected: int | None = None,
) -> KernelResult | None:
    """``KL(P‖Q)`` per row of two raw blocks, in nats; ``kind_q`` defaults to ``kind_p``.

    Equal to ``kl_rows(prepare(p_raw, kind_p), prepare(q_raw, kind_q))`` to within
    the careful path's accuracy (1e-12 relative against an exact reference);
    None when either ``prepare()`` would reject its block or the shapes do not
    broadcast. A probability/log-space mix is computed by the careful method.

    Examples
    --------
    >>> kl_rows_fast([[0.5, 0.5]], [[0.9, 0.1]]).values
    array([0.51082562])
    >>> kl_rows_fast([[0.0, 2.0]], [[0.0, 2.0]], kind_p="logits").values
    array([0.])
    """
    return _pair_fast("kl", p_raw, q_raw, kind_p, kind_q, tolerance, expected=expected)


def cross_entropy_rows_fast(
    p_raw: ArrayLike,
    q_raw: ArrayLike,
    *,
    kind_p: Kind = "probs",
    kind_q: Kind | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    expected: int | None = None,
) -> KernelResult | None:
    """``H(P, Q) = H(P) + KL(P‖Q)`` per row, in nats (see ``kl_rows_fast``).

    Examples
    --------
    >>> cross_entropy_rows_fast([[1.0, 0.0]], [[0.25, 0.75]]).values
    array([1.38629436])
    """
    return _pair_fast("cross_entropy", p_raw, q_raw, kind_p, kind_q, tolerance, expected=expected)


def js_rows_fast(
    p_raw: ArrayLike,
    q_raw: ArrayLike,
    *,
    kind_p: Kind = "probs",
    kind_q: Kind | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    expected: int | None = None,
) -> KernelResult | None:
    """Jensen–Shannon divergence per row, in nats; ``measures`` also has ``js_distance``.

    Examples
    --------
    >>> js_rows_fast([[1.0, 0.0]], [[0.0, 1.0]]).values  # log 2
    array([0.69314718])
    """
    return _pair_fast("js", p_raw, q_raw, kind_p, kind_q, tolerance, expected=expected)


def compare_rows_fast(
    p_raw: ArrayLike,
    q_raw: ArrayLike,
    *,
    kind_p: Kind = "probs",
    kind_q: Kind | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    targets: ArrayLike | None = None,
    expected: int | None = None,
) -> KernelResult | None:
    """The ``compare`` panel per row, in one pass over the pair.

    ``measures`` holds ``PANEL_MEASURES``: ``kl``, ``kl_reverse``,
    ``cross_entropy``, ``js`` (nats), ``js_distance`` (sqrt of nats), ``tv``,
    ``hellinger``, ``max_abs_diff`` (unitless) and ``top1_agreement`` (1.0 where
    the first most probable outcome is the same; from logits, the first largest
    logit). With ``targets`` (one class index per row), also ``log_p_target``
    and ``log_q_target``: ``ln p(y)``, ``ln q(y)``.

    Examples
    --------
    >>> panel = compare_rows_fast([[0.4, 0.6]], [[0.9, 0.1]], targets=[0])
    >>> round(float(panel["tv"][0]), 12), float(panel["top1_agreement"][0])
    (0.5, 0.0)
    >>> round(float(panel["log_q_target"][0]), 12)
    -0.105360515658
    """
    return _pair_fast("compare", p_raw, q_raw, kind_p, kind_q, tolerance, targets, expected)
