r"""Poisson bootstrap of means, mergeable across blocks and shards.

Each row :math:`i` (0-based, in the result's order) gets, in resample :math:`b`,
a weight :math:`w_{bi} \sim \text{Poisson}(1)`; resample :math:`b`'s mean of a
per-row measure :math:`x` is

.. math::

    \bar x_b = \frac{\sum_i w_{bi} x_i}{\sum_i w_{bi}}

(Hanley & MacGibbon 2006; Chamandy et al. 2012). Unlike drawing rows with
replacement, the weights of one row do not depend on any other row, so any run
of rows contributes its own sums :math:`S_b = \sum w_{bi} x_i` and
:math:`N_b = \sum w_{bi}`, and runs merge by adding them: blocks on this machine
and shards on a Dask cluster give the same interval, in memory that does not
grow with the rows (``resamples`` sums per measure).

Weights are counter-based: :math:`w_{bi}` is a function of ``(seed, i, b)``
alone, so every process draws the same weight for the same row. Row :math:`i`'s
weights come from outputs :math:`k = i\lceil B/4\rceil + \lfloor b/4\rfloor` of
SplitMix64 (Steele, Lea & Flood 2014) seeded with ``seed``,

.. math::

    z_k = \text{mix}(\text{seed} + (k + 1)\,\gamma), \quad \gamma = \texttt{0x9E3779B97F4A7C15},

each 64-bit output giving four 16-bit uniforms :math:`u`, turned into a
Poisson(1) weight by the inverse of its distribution function tabulated to
:math:`2^{-16}` (:data:`THRESHOLDS`; weights above 8, probability 1e-6, are 8).

The interval is the percentile interval: the :math:`(1-L)/2` and
:math:`(1+L)/2` quantiles (linear interpolation) of the resample means.
Resamples in which every weight is 0 (likely only for a handful of rows)
are left out.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from xent_cli.system import usable_cpus

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from numpy.typing import NDArray

DEFAULT_RESAMPLES = 1000
# The fixed default seed: the same command on the same data gives the same interval.
DEFAULT_SEED = 20261207
METHOD = "percentile"
# Rows per call of the kernels: bounds the temporaries of the NumPy form (rows x resamples weights).
BLOCK_ROWS = 1024
# Rows copied out of the columns at a time.
CHUNK_ROWS = 1 << 16

GAMMA = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
_MASK = (1 << 64) - 1


def _thresholds() -> NDArray[np.int64]:
    """``T[k] = round(2^16 · P(W ≤ k))`` for W ~ Poisson(1); weight = #{k : u ≥ T[k]} (at most 8)."""
    cdf = np.cumsum([math.exp(-1) / math.factorial(k) for k in range(8)])
    return np.round(cdf * 65536).astype(np.int64)


THRESHOLDS = _thresholds()
# The compiled kernel compares each 16-bit uniform less 2**15 with them less 2**15, in signed
# 16-bit vector lanes (the only 16-bit comparison AVX2 has).
THRESHOLDS_INT16 = (THRESHOLDS - (1 << 15)).astype(np.int16)
# Threads per call of the compiled kernel (over resamples: a resample's sums never depend on them).
THREADS = 2


@dataclass
class ResampleSums:
    """Per-resample sums over a run of rows: ``sums[m, b]`` of measure m, ``counts[b]`` of the weights."""

    sums: NDArray[np.float64]
    counts: NDArray[np.int64]

    @classmethod
    def zeros(cls, measures: int, resamples: int) -> ResampleSums:
        return cls(np.zeros((measures, resamples)), np.zeros(resamples, dtype=np.int64))

    def add(self, other: ResampleSums) -> ResampleSums:
        """The sums of this run followed by ``other`` (in place)."""
        self.sums += other.sums
        self.counts += other.counts
        return self

    def means(self, measure: int = 0) -> NDArray[np.float64]:
        """Each resample's mean of a measure (resamples with no weight left out)."""
        kept = self.counts > 0
        means: NDArray[np.float64] = self.sums[measure, kept] / self.counts[kept]
        return means


def splitmix64(seed: int, counters: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """SplitMix64's outputs number ``counters`` (0-based) for ``seed``: a counter-based generator."""
    z: NDArray[np.uint64] = counters + np.uint64(1)
    _mix_in_place(seed, z)
    return z


def _mix_in_place(seed: int, z: NDArray[np.uint64]) -> None:
    """``z`` (counters plus one) becomes SplitMix64's outputs, in place (uint64 arithmetic wraps)."""
    shifted = np.empty_like(z)
    z *= np.uint64(GAMMA)
    z += np.uint64(seed & _MASK)
    for shift, multiplier in ((30, MIX1), (27, MIX2)):
        np.right_shift(z, np.uint64(shift), out=shifted)
        z ^= shifted
        z *= np.uint64(multiplier)
    np.right_shift(z, np.uint64(31), out=shifted)
    z ^= shifted


# The weight of each 16-bit uniform, #{k : u >= THRESHOLDS[k]}: the NumPy form looks weights up.
_WEIGHT_OF_UNIFORM = np.searchsorted(THRESHOLDS, np.arange(1 << 16), side="right").astype(np.uint8)


def poisson_weights(seed: int, start: int, rows: int, resamples: int) -> NDArray[np.uint8]:
    """The weights ``w[r, b]`` of rows ``start … start + rows − 1`` in every resample (NumPy form)."""
    groups = -(-resamples // 4)
    # Row i's group g is counter i·groups + g: the rows' counters are one run.
    words = np.arange(start * groups + 1, (start + rows) * groups + 1, dtype=np.uint64)
    _mix_in_place(seed, words)
    # Four 16-bit uniforms per word, lowest bits first.
    if sys.byteorder == "little":
        uniforms = words.view(np.uint16).reshape(rows, groups * 4)[:, :resamples]
    else:  # pragma: no cover - big-endian machines
        lanes = words.reshape(rows, groups)[:, :, None] >> (np.arange(4, dtype=np.uint64) * np.uint64(16))
        uniforms = (lanes & np.uint64(0xFFFF)).astype(np.uint16).reshape(rows, groups * 4)[:, :resamples]
    weights: NDArray[np.uint8] = np.take(_WEIGHT_OF_UNIFORM, uniforms)
    return weights


def resample_sums(
    columns: Sequence[NDArray[np.float64]],
    start: int,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
    release: Callable[[NDArray[np.float64]], None] | None = None,
) -> ResampleSums:
    """The per-resample sums of ``columns`` (one array per measure) for rows numbered from ``start``.

    Rows are taken in order and each resample's sum is accumulated row by row,
    so the sums do not depend on how the rows were cut into blocks; runs
    merge with :meth:`ResampleSums.add`. ``release(part)`` is called on each
    slice of a column once it is copied (a spilled column gives its pages back).
    """
    compiled = _compiled()
    count = int(columns[0].shape[0]) if columns else 0
    total = ResampleSums.zeros(len(columns), resamples)
    # A slice of rows at a time: memory stays flat however many rows (and spilled columns stay on disk).
    for offset in range(0, count, CHUNK_ROWS):
        slices = [c[offset : offset + CHUNK_ROWS] for c in columns]
        values = np.vstack([np.asarray(part, dtype=np.float64) for part in slices])
        if release is not None:
            for part in slices:  # e.g. a spilled column's pages, read once, back to the kernel
                release(part)
        infinite = np.isinf(values)
        if infinite.any():
            # A weight of 0 times inf is nan: an infinite row counts only in the resamples
            # that draw it, so it is summed apart, as how many times each resample drew one.
            _infinite_sums(values, infinite, start + offset, seed, resamples, total)
            continue
        if compiled is not None:
            _compiled_sums(compiled, values, start + offset, seed & _MASK, resamples, total)
            continue
        _numpy_sums(values, start + offset, seed, resamples, total)
    return total


def _infinite_sums(
    values: NDArray[np.float64],
    infinite: NDArray[np.bool_],
    start: int,
    seed: int,
    resamples: int,
    total: ResampleSums,
) -> None:
    """The sums of a slice holding ±inf: the finite values' sums, then ±inf where a resample drew one."""
    _numpy_sums(np.where(infinite, 0.0, values), start, seed, resamples, total)
    for sign in (1.0, -1.0):
        hits = ResampleSums.zeros(values.shape[0], resamples)
        _numpy_sums((values == sign * math.inf).astype(np.float64), start, seed, resamples, hits)
        with np.errstate(invalid="ignore"):  # drew both +inf and -inf: nan, as the mean is
            total.sums += np.where(hits.sums > 0, sign * math.inf, 0.0)


def _numpy_sums(
    values: NDArray[np.float64], start: int, seed: int, resamples: int, total: ResampleSums
) -> None:
    """The NumPy form: blocks of :data:`BLOCK_ROWS` rows on the kernels' threads, added in order."""
    from xent_cli.core.kernel_backend import pool, threads

    def block_sums(inner: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        block = values[:, inner : inner + BLOCK_ROWS]
        weights = poisson_weights(seed, start + inner, block.shape[1], resamples).astype(np.float64)
        # Whole numbers below 2**53: the float64 column sums are the counts exactly.
        return weights.sum(axis=0).astype(np.int64), block @ weights

    starts = range(0, values.shape[1], BLOCK_ROWS)
    parts = map(block_sums, starts) if threads() == 1 or len(starts) == 1 else pool().map(block_sums, starts)
    for counts, sums in parts:  # in the rows' order, whichever thread computed them
        total.counts += counts
        total.sums += sums


def _compiled_sums(
    compiled: Any, values: NDArray[np.float64], start: int, seed: int, resamples: int, total: ResampleSums
) -> None:
    """The compiled kernel on up to :data:`THREADS` threads, each over its own resamples."""
    groups = -(-resamples // 4)
    threads = max(1, min(THREADS, usable_cpus(), groups))
    cuts = [groups * k // threads for k in range(threads + 1)]

    counts = np.zeros(resamples)

    def run(k: int) -> None:
        compiled.poisson_sums(
            values, start, seed, resamples, THRESHOLDS_INT16, cuts[k], cuts[k + 1], total.sums, counts
        )

    if threads == 1:
        run(0)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            for done in [pool.submit(run, k) for k in range(threads)]:
                done.result()
    total.counts += counts.astype(np.int64)


def percentile_interval(means: NDArray[np.float64], level: float) -> tuple[float, float]:
    """The percentile interval: the (1 − level)/2 and (1 + level)/2 quantiles of the resample means."""
    if means.shape[0] == 0:
        return (math.nan, math.nan)
    tail = (1 - level) / 2
    if np.isinf(means).any():
        return (_quantile_with_inf(means, tail), _quantile_with_inf(means, 1 - tail))
    low, high = np.quantile(means, [tail, 1 - tail])
    return (float(low), float(high))


def _quantile_with_inf(means: NDArray[np.float64], q: float) -> float:
    """NumPy's linear quantile, where a step towards an infinite neighbour is infinite (not inf - inf)."""
    ordered = np.sort(means)
    position = float((len(ordered) - 1) * q)
    below, above = math.floor(position), math.ceil(position)
    a, b = float(ordered[below]), float(ordered[above])
    if below == above or a == b:
        return a
    if math.isinf(a) or math.isinf(b):
        return a if math.isinf(a) else b
    return a + (position - below) * (b - a)


def _compiled() -> object | None:
    """The numba kernel's module when numba (the ``fast`` extra) imports; else the NumPy form is used."""
    try:
        from xent_cli.core import _bootstrap_numba
    except ImportError:  # pragma: no cover - the module stays importable without numba (AVAILABLE)
        return None
    # The kernel reads each 64-bit word's uniforms through a uint16 view: lowest bits first on
    # little-endian machines only (elsewhere the NumPy form gives the same weights).
    return _bootstrap_numba if _bootstrap_numba.AVAILABLE and sys.byteorder == "little" else None
