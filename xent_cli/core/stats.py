"""Exact, mergeable statistics of per-row values: the partials every engine merges.

A command computes one value per row (a KL divergence, a log loss, ...) block by
block, possibly on many Dask workers, and then summarizes them. Everything here
is a *partial*: built from blocks with ``add``, combined with ``merge`` (or
``+``), small to pickle, and giving the same result, bit for bit, however the
rows were split into blocks and parts and in whatever order the parts were
merged. NumPy only.

Contents
--------
:class:`ExactSum`
    The correctly rounded sum of float64 values (what ``math.fsum`` returns),
    vectorized: more than ten times faster than ``math.fsum(x.tolist())``.
:class:`Moments`
    count, exact sum, mean, variance, standard error, min, max, counts of
    infinite and nan rows. The second moment is an *exact* sum of squares, so
    the variance is the exact sample variance rounded once: no cancellation for
    nearly constant data, and no dependence on blocking (see the class notes
    for why this beats Chan et al.'s pairwise update here).
:class:`Comoments`
    Mergeable covariance and Pearson correlation of two variables, exact in
    the same way.
:func:`percentiles`, :class:`PercentilePlan`, :func:`answer`, :func:`exact_percentiles`
    ``np.percentile``'s linear interpolation, locally and as an exact two-pass
    selection protocol over parts that keep their own values (client memory
    bounded by the number of percentiles, not the number of rows).
:class:`WorstRows`
    The N largest values with their row numbers and ids.
:class:`Summary`
    The bundle for one per-row measure, with ``to_dict`` giving the summary
    fields ``count, mean, min, p50, p90, p99, max, sum`` (and more on request).

Conventions for non-finite rows
-------------------------------
* **Sums and moments** follow IEEE arithmetic on the exact sum, like
  ``math.fsum``: any nan row, or both ``+inf`` and ``-inf`` rows, make the sum
  and mean nan; ``+inf`` rows make them ``+inf`` (``-inf`` likewise). Where
  ``math.fsum`` raises (``inf - inf``: ValueError; a finite sum beyond the
  float range: OverflowError) the result is nan, or the exact sum correctly
  rounded, which is ``±inf`` only if the exact sum itself is out of range
  (``[1e308, 1e308, -1e308]`` sums to ``1e308``). A zero sum is ``+0.0``.
  The variance, standard deviation and standard error are nan with a nan
  row, ``inf`` with an infinite row, and nan for fewer than two rows.
* **Order statistics** (min, max, percentiles, worst rows) describe the rows
  that have a value: nan rows are left out and counted (``nan_count``).
  Percentiles that interpolate towards an infinite row are that infinity (the
  limit), not nan (only between a ``-inf`` and a ``+inf`` row, which has no
  limit). So a summary of rows with a nan has a nan mean, which fails any
  gate on it, and still tells where the other rows lie; a gate on a
  percentile should also look at ``nan_count``.
* Negative zero is reported as ``+0.0`` by the order statistics.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
KeyArray = NDArray[np.uint64]

__all__ = [
    "DEFAULT_PERCENTILES",
    "EXTRA_PERCENTILES",
    "Comoments",
    "ExactSum",
    "KeyHistogram",
    "Moments",
    "PercentilePlan",
    "PercentileRequest",
    "PercentileResponse",
    "Summary",
    "WorstRows",
    "answer",
    "bucket_range",
    "exact_percentiles",
    "key_histogram",
    "order_keys",
    "percentile_name",
    "percentiles",
    "values_in",
]

# The summary's percentiles, and the ones added on request (issue 14's panel).
DEFAULT_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0)
EXTRA_PERCENTILES: tuple[float, ...] = (0.1, 1.0, 5.0, 10.0, 95.0, 99.9)


def _as_float_vector(values: ArrayLike) -> FloatArray:
    """A C-contiguous 1-D float64 array (float16/32 widened exactly)."""
    array = np.asarray(values, dtype=np.float64)
    return np.ascontiguousarray(array.reshape(-1))


def _float_or_nan(value: float | None) -> float:
    return math.nan if value is None else value


# --- exact sums --------------------------------------------------------------------
#
# A finite double is s * M * 2**(max(E, 1) - 1075) with E its biased exponent
# field and M < 2**53 its integer significand. Values with the same sign and
# exponent are integers in the same unit, so within one (sign, E) bucket a
# float64 sum is exact as long as it stays below 2**53 units. Each value is
# split into a high part (the low 26 significand bits cleared) and a low part
# (those bits): a bucket sum of up to 2**26 high parts, or of low parts, cannot
# round. np.bincount forms the 4096 bucket sums of a block in two passes; the
# sums of up to 2**26 values ("an epoch") are then moved, as int64 multiples of
# the bucket's unit, into slot ``max(E, 1) - 1`` (unit 2**(slot - 1074)) of an
# int64 accumulator, with carries between slots 32 apart keeping every slot
# small. ``value()`` adds the slots as Python integers and rounds once.
#
# Blocks are cache-sized and their temporaries are reused (per thread): fresh
# multi-MB temporaries cost more in page faults than the arithmetic.

_BUCKETS = 4096  # sign bit and 11 exponent bits
_LOW_BITS = 26
_HIGH_MASK = np.int64(-(1 << _LOW_BITS))  # clears the low 26 bits
_BLOCK = 1 << 15  # values per bincount
_EPOCH = (1 << 26) - _BLOCK  # values per bucket sum: keeps it exact
_CARRY_BITS = 32
# Slots hold units 2**-1074 ... ; the exact sum of 2**63 doubles is below
# 2**1088, i.e. slot 2162, and huge values land up to slot 2271 (see below).
# Carries into the top _CARRY_BITS slots stay there.
_SLOTS = 2304
_SLOT_OF_EXPONENT = np.maximum(np.arange(2047), 1) - 1
_LOW_SCALE = (1074 - _SLOT_OF_EXPONENT).astype(np.int32)
_HIGH_SCALE = (_LOW_SCALE - _LOW_BITS).astype(np.int32)
# Bucket sums of |x| >= 2**990 (exponent fields from 2013) could overflow: such
# values are scaled by 2**-200 (exact) and deposited 200 slots up.
_HUGE = 2.0**990
_HUGE_BUCKETS = np.r_[2013:2047, 2048 + 2013 : 2048 + 2047]
_HUGE_SHIFT = 200

_THREAD = threading.local()


def _scratch() -> list[FloatArray]:
    """This thread's reusable block-sized temporaries."""
    pool: list[FloatArray] | None = getattr(_THREAD, "pool", None)
    if pool is None:
        pool = [np.empty(_BLOCK, dtype=np.float64) for _ in range(10)]
        _THREAD.pool = pool
    return pool


def _block_sums(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Exact float64 sums of the high and low parts of ``x`` per (sign, exponent) bucket.

    ``len(x) <= _BLOCK``; uses scratch buffers 0-2.
    """
    n = x.shape[0]
    if n == 0:  # np.bincount of nothing is int64, even with float weights
        return np.zeros(_BUCKETS), np.zeros(_BUCKETS)
    pool = _scratch()
    key = pool[0][:n].view(np.uint64)
    np.right_shift(x.view(np.uint64), np.uint64(52), out=key)
    high_bits = pool[1][:n].view(np.int64)
    np.bitwise_and(x.view(np.int64), _HIGH_MASK, out=high_bits)
    high = high_bits.view(np.float64)
    low = pool[2][:n]
    with np.errstate(invalid="ignore"):  # inf - inf in the non-finite buckets, counted apart
        np.subtract(x, high, out=low)  # exact: the low bits of the significand
    buckets = key.view(np.int64)
    high_sums: FloatArray = np.bincount(buckets, weights=high, minlength=_BUCKETS)  # type: ignore[assignment]
    low_sums: FloatArray = np.bincount(buckets, weights=low, minlength=_BUCKETS)  # type: ignore[assignment]
    return high_sums, low_sums


class _Epoch:
    """Exact bucket sums of up to 2**26 values on their way into an :class:`ExactSum`.

    It also notes the smallest and largest exponent field of the nonzero
    finite values it saw (``lowest``, ``highest``), which tells the second
    moments whether every square can be formed exactly without scaling.
    """

    __slots__ = ("fed", "high", "highest", "low", "lowest", "target")

    def __init__(self, target: ExactSum) -> None:
        self.target = target
        self.high: FloatArray | None = None
        self.low: FloatArray | None = None
        self.fed = 0
        self.lowest = 2047
        self.highest = -1

    def feed(self, x: FloatArray) -> None:
        """Add one block (``len(x) <= _BLOCK``); counts its nan and infinite values."""
        high, low = _block_sums(x)
        if high[2047] != 0 or high[4095] != 0:  # an inf or nan is in this block
            target = self.target
            target.nan_count += int(np.count_nonzero(np.isnan(x)))
            target.posinf_count += int(np.count_nonzero(x == math.inf))
            target.neginf_count += int(np.count_nonzero(x == -math.inf))
            x = x[np.isfinite(x)]
            high, low = _block_sums(x)
        if high[_HUGE_BUCKETS].any():
            huge = np.abs(x) >= _HUGE
            big_high, big_low = _block_sums(np.ldexp(x[huge], -_HUGE_SHIFT))
            self.target._deposit(big_high, big_low, _HUGE_SHIFT)
            self.highest = 2046
            x = x[~huge]
            high, low = _block_sums(x)
        if self.high is None or self.low is None:
            self.high, self.low = high, low
        else:
            self.high += high
            self.low += low
        self.fed += x.shape[0]
        if self.fed >= _EPOCH:
            self.flush()

    def flush(self) -> None:
        if self.high is None or self.low is None:
            return
        span = self.target._deposit(self.high, self.low, 0)
        if span is not None:
            self.lowest = min(self.lowest, span[0])
            self.highest = max(self.highest, span[1])
        self.high = self.low = None
        self.fed = 0

    def span(self) -> tuple[int, int] | None:
        """(lowest, highest) exponent field of the nonzero finite values fed; None if there were none."""
        return None if self.highest < 0 else (min(self.lowest, self.highest), self.highest)


class ExactSum:
    """The exact sum of float64 values, correctly rounded by :meth:`value`.

    ``value()`` equals ``math.fsum`` of every value added, in any order and
    however the values were split between ``add`` calls and merged partials
    (see the module notes for infinities, nan and overflow, where ``math.fsum``
    raises). Vectorized with ``np.bincount`` over sign-and-exponent buckets,
    10 to 15 times faster than ``math.fsum(x.tolist())``; the state is an
    int64 accumulator while adding and one Python integer when pickled (a few
    hundred bytes).

    Examples
    --------
    >>> ExactSum().add([1e308, 1.0, -1e308]).value()
    1.0
    >>> (ExactSum().add([0.1] * 10) + ExactSum().add([-1.0])).value()
    5.551115123125783e-17
    """

    __slots__ = ("_acc", "_calls", "_exact", "count", "nan_count", "neginf_count", "posinf_count")

    def __init__(self) -> None:
        self._acc: IntArray | None = None
        self._calls = 0
        self._exact = 0  # in units of 2**-1074, from merges and unpickling
        self.count = 0
        self.nan_count = 0
        self.posinf_count = 0
        self.neginf_count = 0

    # -- building
    def add(self, values: ArrayLike) -> ExactSum:
        """Add every value of ``values`` (any shape); returns ``self``."""
        self._add_vector(_as_float_vector(values))
        return self

    def _add_vector(self, x: FloatArray) -> tuple[int, int] | None:
        """Add a 1-D float64 array; the exponent fields (min, max) of its nonzero finite values."""
        self.count += int(x.shape[0])
        epoch = _Epoch(self)
        for start in range(0, x.shape[0], _BLOCK):
            epoch.feed(x[start : start + _BLOCK])
        epoch.flush()
        return epoch.span()

    def _deposit(self, high: FloatArray, low: FloatArray, shift: int) -> tuple[int, int] | None:
        """Move exact bucket sums into the slots (``shift``: the values were scaled by 2**-shift).

        Returns the smallest and largest exponent field present (None if none).
        """
        # Within one sign the values of a bucket cannot cancel: a bucket sum is
        # nonzero exactly when the bucket holds a nonzero value.
        buckets = np.flatnonzero((high != 0) | (low != 0))
        if buckets.shape[0] == 0:
            return None
        if self._acc is None:
            self._acc = np.zeros(_SLOTS, dtype=np.int64)
        exponent = buckets & 2047
        slots = _SLOT_OF_EXPONENT[exponent] + shift
        # Each bucket sum is below 2**53 of its unit: exact as an int64.
        np.add.at(self._acc, slots, np.ldexp(low[buckets], _LOW_SCALE[exponent]).astype(np.int64))
        np.add.at(
            self._acc, slots + _LOW_BITS, np.ldexp(high[buckets], _HIGH_SCALE[exponent]).astype(np.int64)
        )
        self._calls += 1
        if self._calls >= 32:  # a deposit adds < 2**56 to a slot; int64 holds 2**63
            self._normalize()
        return int(exponent.min()), int(exponent.max())

    def _normalize(self) -> None:
        acc = self._acc
        if acc is None:
            return
        carry = acc[:-_CARRY_BITS] >> _CARRY_BITS
        acc[:-_CARRY_BITS] -= carry << _CARRY_BITS
        acc[_CARRY_BITS:] += carry
        self._calls = 0

    # -- combining
    def merge(self, other: ExactSum) -> ExactSum:
        """A new partial holding the values of both."""
        result = ExactSum()
        result._exact = self.exact_units() + other.exact_units()
        result.count = self.count + other.count
        result.nan_count = self.nan_count + other.nan_count
        result.posinf_count = self.posinf_count + other.posinf_count
        result.neginf_count = self.neginf_count + other.neginf_count
        return result

    def __add__(self, other: ExactSum) -> ExactSum:
        return self.merge(other)

    # -- reading
    def exact_units(self) -> int:
        """The exact sum of the finite values, in units of ``2**-1074``."""
        total = self._exact
        acc = self._acc
        if acc is not None:
            for slot in np.flatnonzero(acc).tolist():
                total += int(acc[slot]) << slot
        return total

    def exact(self) -> Fraction:
        """The exact sum of the finite values, as a fraction."""
        return Fraction(self.exact_units(), 1 << 1074)

    @property
    def finite_count(self) -> int:
        return self.count - self.nan_count - self.posinf_count - self.neginf_count

    def special(self) -> float | None:
        """The IEEE result forced by non-finite values (nan, ±inf), or None if there are none."""
        if self.nan_count or (self.posinf_count and self.neginf_count):
            return math.nan
        if self.posinf_count:
            return math.inf
        if self.neginf_count:
            return -math.inf
        return None

    def value(self) -> float:
        """The sum, correctly rounded (``math.fsum`` of every value added)."""
        special = self.special()
        if special is not None:
            return special
        return _round_fraction(Fraction(self.exact_units(), 1 << 1074))

    def mean(self) -> float:
        """The exact mean of everything added, rounded once; nan for no values.

        It can differ in the last bit from ``value() / count``, which rounds twice.
        """
        if self.count == 0:
            return math.nan
        special = self.special()
        if special is not None:
            return special
        return _round_fraction(Fraction(self.exact_units(), self.count << 1074))

    # -- pickling: one integer instead of the accumulator
    def __getstate__(self) -> tuple[int, int, int, int, int]:
        return (self.exact_units(), self.count, self.nan_count, self.posinf_count, self.neginf_count)

    def __setstate__(self, state: tuple[int, int, int, int, int]) -> None:
        self._acc = None
        self._calls = 0
        self._exact, self.count, self.nan_count, self.posinf_count, self.neginf_count = state

    def __repr__(self) -> str:
        return f"ExactSum(value={self.value()!r}, count={self.count})"


def _round_fraction(value: Fraction) -> float:
    """A fraction correctly rounded to float64; ``±inf`` beyond the range, ``+0.0`` for zero."""
    if value == 0:
        return 0.0
    try:
        # int / int is correctly rounded in CPython, subnormal results included.
        return value.numerator / value.denominator
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _sqrt_fraction(value: Fraction) -> float:
    """``sqrt(value)`` for a fraction ``>= 0``, correctly rounded to float64."""
    if value <= 0:
        return 0.0
    num, den = value.numerator, value.denominator
    # Scale so the integer square root has >= 56 bits, then make its last bit
    # sticky: rounding that to 53 bits is the rounding of the exact root.
    shift = max(0, 120 - (num.bit_length() - den.bit_length()))
    shift += shift & 1
    scaled = num << shift
    root = math.isqrt(scaled // den)
    exact = root * root * den == scaled
    root = (root << 1) | (0 if exact else 1)
    return _round_fraction(Fraction(root, 1 << (shift // 2 + 1)))


# --- exact sums of products (second moments) -------------------------------------
#
# Dekker's TwoProduct writes x*y = p + e exactly, p = fl(x*y) and e another
# double, from Veltkamp's splits of x and y into 26-bit halves, as long as
# nothing overflows or underflows: true for |x|, |y| in [2**-480, 2**500)
# (and 0). So the exact sum of products is the exact sum of the p and the e.
# Values outside that window are first scaled by 2**∓600 (exact) and their
# products summed in a separate ExactSum per total scale.

_SPLITTER = 134217729.0  # 2**27 + 1
_WINDOW = (543, 1522)  # exponent fields of |x| in [2**-480, 2**500)
_WINDOW_LOW = 2.0**-480
_WINDOW_HIGH = 2.0**500
_WINDOW_SHIFT = 600


def _in_window(span: tuple[int, int] | None) -> bool:
    return span is None or (span[0] >= _WINDOW[0] and span[1] <= _WINDOW[1])


def _two_products(x: FloatArray, y: FloatArray | None, epoch: _Epoch) -> None:
    """Feed ``p`` and ``e`` of ``x*y = p + e`` (``x*x`` if ``y`` is None) into ``epoch``, blockwise.

    Every value must lie in the exact-product window. Uses scratch buffers 3-9.
    """
    pool = _scratch()
    for start in range(0, x.shape[0], _BLOCK):
        a = x[start : start + _BLOCK]
        n = a.shape[0]
        p, t, ah, al, err = (pool[i][:n] for i in range(3, 8))
        # Veltkamp: ah = t - (t - a) with t = (2**27 + 1) a; al = a - ah
        np.multiply(a, _SPLITTER, out=t)
        np.subtract(t, a, out=ah)
        np.subtract(t, ah, out=ah)
        np.subtract(a, ah, out=al)
        if y is None:
            np.multiply(a, a, out=p)
            # e = al*al - ((p - ah*ah) - 2*ah*al)
            np.multiply(ah, ah, out=err)
            np.subtract(p, err, out=err)
            np.multiply(ah, al, out=t)
            t += t
            err -= t
            np.multiply(al, al, out=t)
            np.subtract(t, err, out=err)
        else:
            b = y[start : start + _BLOCK]
            bh, bl = pool[8][:n], pool[9][:n]
            np.multiply(b, _SPLITTER, out=t)
            np.subtract(t, b, out=bh)
            np.subtract(t, bh, out=bh)
            np.subtract(b, bh, out=bl)
            np.multiply(a, b, out=p)
            # e = al*bl - (((p - ah*bh) - al*bh) - ah*bl)
            np.multiply(ah, bh, out=err)
            np.subtract(p, err, out=err)
            np.multiply(al, bh, out=t)
            err -= t
            np.multiply(ah, bl, out=t)
            err -= t
            np.multiply(al, bl, out=t)
            np.subtract(t, err, out=err)
        epoch.feed(p)
        epoch.feed(err)


def _window_shifts(x: FloatArray) -> IntArray:
    """Per value, the power of two that brings it into the exact-product window."""
    magnitude = np.abs(x)
    shifts = np.zeros(x.shape, dtype=np.int64)
    shifts[(magnitude < _WINDOW_LOW) & (magnitude > 0)] = _WINDOW_SHIFT
    shifts[magnitude >= _WINDOW_HIGH] = -_WINDOW_SHIFT
    return shifts


class _ProductSum:
    """The exact sum of ``x * y`` over pairs of finite doubles."""

    __slots__ = ("_sums",)

    def __init__(self) -> None:
        # the sum of the products of values scaled by 2**k, keyed by k
        self._sums: dict[int, ExactSum] = {}

    def _target(self, scale: int) -> ExactSum:
        target = self._sums.get(scale)
        if target is None:
            target = self._sums[scale] = ExactSum()
        return target

    def add(self, x: FloatArray, y: FloatArray | None, in_window: bool) -> None:
        """Add ``x*y`` (``x*x`` if ``y`` is None); ``in_window``: every value is known to be in the window."""
        if x.shape[0] == 0:
            return
        if in_window:
            epoch = _Epoch(self._target(0))
            _two_products(x, y, epoch)
            epoch.flush()
            return
        shift_x = _window_shifts(x)
        shift_y = shift_x if y is None else _window_shifts(y)
        total = shift_x + shift_y
        for k in np.unique(total).tolist():
            rows = total == k
            xs = np.ldexp(x[rows], shift_x[rows])
            ys = None if y is None else np.ldexp(y[rows], shift_y[rows])
            epoch = _Epoch(self._target(int(k)))
            _two_products(xs, ys, epoch)
            epoch.flush()

    def merge(self, other: _ProductSum) -> _ProductSum:
        result = _ProductSum()
        for source in (self, other):
            for scale, partial in source._sums.items():
                mine = result._sums.get(scale)
                result._sums[scale] = partial + ExactSum() if mine is None else mine + partial
        return result

    def exact(self) -> Fraction:
        total = Fraction(0)
        for scale, partial in self._sums.items():
            total += partial.exact() / Fraction(2) ** scale
        return total

    def __getstate__(self) -> dict[int, ExactSum]:
        return self._sums

    def __setstate__(self, state: dict[int, ExactSum]) -> None:
        self._sums = state


# --- moments -------------------------------------------------------------------------


class Moments:
    """Count, exact sum, mean, variance, standard error, min and max of float64 values.

    Mergeable: ``a.merge(b)`` (or ``a + b``) describes the values of both, and
    every result is identical, bit for bit, however the values were split.

    Parameters
    ----------
    second_moment : bool
        Track the sum of squares (for ``variance``, ``std``,
        ``standard_error``, ``root_mean_square``). It makes ``add`` about
        four times as costly as the exact sum alone (still about 30 ns a
        value); without it those raise.

    Notes
    -----
    The variance is computed from the exact sums ``S1 = sum x`` and
    ``S2 = sum x**2`` (each square as the exact pair of doubles of Dekker's
    TwoProduct) as the exact rational ``(n*S2 - S1**2) / (n*(n - 1))``,
    rounded once. The usual objection to power sums, cancellation in
    ``n*S2 - S1**2`` for nearly constant data, does not apply when both are
    exact. So this is more accurate than Chan et al.'s parallel update of the
    mean and M2 (which rounds at every merge, so its last digits depend on how
    the rows were split), and it makes the standard error merge-invariant,
    which the Dask engine's "same numbers as the local engine" needs.

    ``standard_error`` is ``std(ddof=1) / sqrt(n)``, the standard error of the
    mean, as ``sqrt(var / n)`` correctly rounded. It is nan for fewer than two
    values or with a nan value, and ``inf`` with an infinite value.

    Examples
    --------
    >>> m = Moments().add([1.0, 2.0, 3.0, 4.0])
    >>> m.mean(), m.variance(), m.standard_error()
    (2.5, 1.6666666666666667, 0.6454972243679028)
    >>> (Moments().add([1e9 + 1, 1e9 + 2]) + Moments().add([1e9 + 3])).variance()
    1.0
    """

    __slots__ = ("_squares", "_sum", "max", "min")

    def __init__(self, *, second_moment: bool = True) -> None:
        self._sum = ExactSum()
        self._squares: _ProductSum | None = _ProductSum() if second_moment else None
        self.min: float | None = None  # over the non-nan values; None before any
        self.max: float | None = None

    def add(self, values: ArrayLike) -> Moments:
        """Add a block of values; returns ``self``."""
        x = _as_float_vector(values)
        if x.shape[0] == 0:
            return self
        special_before = self._sum.count - self._sum.finite_count
        span = self._sum._add_vector(x)
        finite = x
        if self._sum.count - self._sum.finite_count > special_before:
            finite = x[np.isfinite(x)]
            valid = x[~np.isnan(x)]
            bounds = (float(np.min(valid)), float(np.max(valid))) if valid.shape[0] else None
        else:
            bounds = (float(np.min(x)), float(np.max(x)))
        if bounds is not None:
            lo, hi = bounds[0] + 0.0, bounds[1] + 0.0
            self.min = lo if self.min is None else min(self.min, lo)
            self.max = hi if self.max is None else max(self.max, hi)
        if self._squares is not None:
            self._squares.add(finite, None, _in_window(span))
        return self

    def merge(self, other: Moments) -> Moments:
        result = Moments(second_moment=False)
        result._sum = self._sum + other._sum
        if self._squares is not None and other._squares is not None:
            result._squares = self._squares.merge(other._squares)
        result.min = _combine(self.min, other.min, min)
        result.max = _combine(self.max, other.max, max)
        return result

    def __add__(self, other: Moments) -> Moments:
        return self.merge(other)

    # -- counts
    @property
    def count(self) -> int:
        """Values added, nan and infinite ones included."""
        return self._sum.count

    @property
    def nan_count(self) -> int:
        return self._sum.nan_count

    @property
    def posinf_count(self) -> int:
        return self._sum.posinf_count

    @property
    def neginf_count(self) -> int:
        return self._sum.neginf_count

    @property
    def finite_count(self) -> int:
        return self._sum.finite_count

    @property
    def has_second_moment(self) -> bool:
        return self._squares is not None

    # -- results
    def sum(self) -> float:
        """The correctly rounded sum (``math.fsum``)."""
        return self._sum.value()

    def exact_sum(self) -> ExactSum:
        return self._sum

    def mean(self) -> float:
        """The exact mean rounded once (nan for no values; IEEE rules for non-finite values)."""
        return self._sum.mean()

    def _sum_of_squares(self) -> Fraction:
        if self._squares is None:
            raise ValueError("these moments were built with second_moment=False")
        return self._squares.exact()

    def _special_spread(self) -> float | None:
        if self._squares is None:
            raise ValueError("these moments were built with second_moment=False")
        if self.nan_count:
            return math.nan
        if self.posinf_count or self.neginf_count:
            return math.inf
        if self.count < 2:
            return math.nan
        return None

    def _variance_fraction(self, ddof: int) -> Fraction:
        n = self.count
        s1 = self._sum.exact()
        return (n * self._sum_of_squares() - s1 * s1) / (n * (n - ddof))

    def variance(self, ddof: int = 1) -> float:
        """``sum (x - mean)**2 / (n - ddof)``, exact and rounded once."""
        special = self._special_spread()
        if special is not None:
            return special
        return _round_fraction(self._variance_fraction(ddof))

    def std(self, ddof: int = 1) -> float:
        """The standard deviation, ``sqrt(variance(ddof))`` correctly rounded."""
        special = self._special_spread()
        if special is not None:
            return special
        return _sqrt_fraction(self._variance_fraction(ddof))

    def standard_error(self) -> float:
        """The standard error of the mean, ``std(ddof=1) / sqrt(n)``, correctly rounded."""
        special = self._special_spread()
        if special is not None:
            return special
        return _sqrt_fraction(self._variance_fraction(1) / self.count)

    def mean_square(self) -> float:
        """``sum x**2 / n``, exact and rounded once (nan for no values or a nan; inf with an inf)."""
        squares = self._sum_of_squares()
        if self.count == 0 or self.nan_count:
            return math.nan
        if self.posinf_count or self.neginf_count:
            return math.inf
        return _round_fraction(squares / self.count)

    def root_mean_square(self) -> float:
        """``sqrt(sum x**2 / n)``, correctly rounded."""
        squares = self._sum_of_squares()
        if self.count == 0 or self.nan_count:
            return math.nan
        if self.posinf_count or self.neginf_count:
            return math.inf
        return _sqrt_fraction(squares / self.count)

    def __getstate__(self) -> tuple[ExactSum, _ProductSum | None, float | None, float | None]:
        return (self._sum, self._squares, self.min, self.max)

    def __setstate__(self, state: tuple[ExactSum, _ProductSum | None, float | None, float | None]) -> None:
        self._sum, self._squares, self.min, self.max = state


def _combine(a: float | None, b: float | None, pick: Callable[[float, float], float]) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return pick(a, b)


class Comoments:
    """Mergeable covariance and Pearson correlation of paired values ``(x, y)``.

    Exact like :class:`Moments`: the sums of ``x``, ``y``, ``x**2``, ``y**2``
    and ``x*y`` are exact, and the correlation
    ``(n Sxy - Sx Sy) / sqrt((n Sxx - Sx**2)(n Syy - Sy**2))`` is evaluated in
    rational arithmetic and rounded once, so it is always in [-1, 1]. Pairs
    where either value is not finite are counted in ``nonfinite_count``; any
    such pair makes the covariance and correlation nan, as they are then
    undefined. Fewer than two pairs, or a constant variable, give nan (NumPy's
    ``corrcoef`` warns and gives nan too).

    Examples
    --------
    >>> c = Comoments().add([1.0, 2.0, 3.0], [2.0, 4.0, 7.0])
    >>> round(c.correlation(), 12), c.covariance()
    (0.993399267799, 2.5)
    """

    __slots__ = ("_xx", "_xy", "_yy", "count", "nonfinite_count", "sum_x", "sum_y")

    def __init__(self) -> None:
        self.count = 0
        self.nonfinite_count = 0
        self.sum_x = ExactSum()
        self.sum_y = ExactSum()
        self._xx = _ProductSum()
        self._yy = _ProductSum()
        self._xy = _ProductSum()

    def add(self, x: ArrayLike, y: ArrayLike) -> Comoments:
        xv = _as_float_vector(x)
        yv = _as_float_vector(y)
        if xv.shape != yv.shape:
            raise ValueError(f"x has {xv.shape[0]} values but y has {yv.shape[0]}")
        self.count += int(xv.shape[0])
        finite = np.isfinite(xv) & np.isfinite(yv)
        if not finite.all():
            self.nonfinite_count += int(xv.shape[0] - np.count_nonzero(finite))
            xv, yv = xv[finite], yv[finite]
        in_x = _in_window(self.sum_x._add_vector(xv))
        in_y = _in_window(self.sum_y._add_vector(yv))
        self._xx.add(xv, None, in_x)
        self._yy.add(yv, None, in_y)
        self._xy.add(xv, yv, in_x and in_y)
        return self

    def merge(self, other: Comoments) -> Comoments:
        result = Comoments()
        result.count = self.count + other.count
        result.nonfinite_count = self.nonfinite_count + other.nonfinite_count
        result.sum_x = self.sum_x + other.sum_x
        result.sum_y = self.sum_y + other.sum_y
        result._xx = self._xx.merge(other._xx)
        result._yy = self._yy.merge(other._yy)
        result._xy = self._xy.merge(other._xy)
        return result

    def __add__(self, other: Comoments) -> Comoments:
        return self.merge(other)

    def _centered(self) -> tuple[int, Fraction, Fraction, Fraction] | None:
        n = self.count
        if self.nonfinite_count or n < 2:
            return None
        sx, sy = self.sum_x.exact(), self.sum_y.exact()
        cxy = n * self._xy.exact() - sx * sy
        cxx = n * self._xx.exact() - sx * sx
        cyy = n * self._yy.exact() - sy * sy
        return n, cxy, cxx, cyy

    def covariance(self, ddof: int = 1) -> float:
        """``sum (x - mean x)(y - mean y) / (n - ddof)``, exact and rounded once."""
        centered = self._centered()
        if centered is None:
            return math.nan
        n, cxy, _, _ = centered
        return _round_fraction(cxy / (n * (n - ddof)))

    def correlation(self) -> float:
        """Pearson's correlation coefficient, correctly rounded."""
        centered = self._centered()
        if centered is None:
            return math.nan
        _, cxy, cxx, cyy = centered
        if cxx == 0 or cyy == 0:
            return math.nan
        magnitude = _sqrt_fraction(cxy * cxy / (cxx * cyy))
        return 0.0 if cxy == 0 else magnitude if cxy > 0 else -magnitude

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.count, self.nonfinite_count, self.sum_x, self.sum_y, self._xx, self._yy, self._xy)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        (self.count, self.nonfinite_count, self.sum_x, self.sum_y, self._xx, self._yy, self._xy) = state


# --- percentiles ---------------------------------------------------------------------


def _check_quantiles(qs: ArrayLike) -> FloatArray:
    q = np.asarray(qs, dtype=np.float64).reshape(-1)
    if not np.all((q >= 0) & (q <= 100)):
        raise ValueError("percentiles must be in the range [0, 100]")
    return q


def _positions(n: int, qs: FloatArray) -> tuple[IntArray, IntArray, FloatArray]:
    """0-based ranks below and above each percentile and the weight between them.

    The same arithmetic as ``np.percentile(..., method='linear')``:
    ``(n - 1) * (q / 100)``, floor, fraction; at or beyond the last rank both
    are the last rank.
    """
    quantiles = np.true_divide(qs, 100)
    virtual = (n - 1) * quantiles
    below = np.floor(virtual)
    weight = virtual - below
    last = virtual >= n - 1
    below_rank = np.where(last, n - 1, below).astype(np.int64)
    above_rank = np.where(last, n - 1, below_rank + 1).astype(np.int64)
    weight = np.where(last, 0.0, weight)
    return below_rank, above_rank, weight


def _interpolate(a: FloatArray, b: FloatArray, t: FloatArray) -> FloatArray:
    """NumPy's ``_lerp`` where it is finite; the limit where ``a`` or ``b`` is infinite.

    ``a <= b`` are neighbouring order statistics and ``0 <= t < 1``. Equal
    neighbours, and ``t == 0``, give ``a``; a finite ``a`` below ``+inf`` gives
    ``+inf`` (``-inf`` below a finite ``b`` gives ``-inf``); ``-inf`` below
    ``+inf`` has no limit and gives nan. If ``b - a`` overflows, the
    interpolation is done on ``a/2`` and ``b/2`` and doubled.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        diff = b - a
        result = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)
        overflow = np.isinf(diff) & np.isfinite(a) & np.isfinite(b)
        if overflow.any():
            half_a, half_b = a * 0.5, b * 0.5
            half_diff = half_b - half_a
            halves = np.where(t >= 0.5, half_b - half_diff * (1 - t), half_a + half_diff * t)
            result = np.where(overflow, 2.0 * halves, result)
        infinite = np.isinf(a) | np.isinf(b)
        limit = np.where(np.isneginf(a) & np.isposinf(b), math.nan, np.where(np.isneginf(a), a, b))
        result = np.where(infinite, limit, result)
        result = np.where((a == b) | (t == 0), a, result)
    return result + 0.0


def percentiles(values: ArrayLike, qs: ArrayLike) -> FloatArray:
    """Percentiles of the non-nan values, as ``np.percentile`` (linear interpolation).

    Parameters
    ----------
    values : array_like
        Any shape; flattened. nan values are left out (count them with
        ``np.isnan`` or :class:`Moments`).
    qs : array_like of float
        Percentiles in [0, 100].

    Returns
    -------
    ndarray of float64, one value per percentile (nan if there are no non-nan values).

    Notes
    -----
    Identical, bit for bit, to ``np.percentile(values, qs)`` for finite values
    (zeros are ``+0.0``), and to :func:`exact_percentiles` over any split of
    the values into parts. Where NumPy's interpolation meets an infinite
    value it gives nan (``inf - inf``, or ``inf * 0``); here the result is the
    limit: the infinity the interpolation moves towards, or the finite
    neighbour when the weight on the infinity is 0. ``-inf`` and ``+inf`` as
    neighbours (no limit) give nan.

    Examples
    --------
    >>> percentiles([1.0, 2.0, 3.0, 4.0], [50, 90])
    array([2.5, 3.7])
    >>> percentiles([1.0, 2.0, np.inf], [0, 50, 75, 100])
    array([ 1.,  2., inf, inf])
    """
    q = _check_quantiles(qs)
    x = _as_float_vector(values) + 0.0  # a copy, with -0.0 made +0.0
    n = int(x.shape[0]) - int(np.count_nonzero(np.isnan(x)))
    if n == 0:
        return np.full(q.shape, math.nan)
    below, above, weight = _positions(n, q)
    ranks = np.unique(np.concatenate([below, above[weight > 0]]))
    # nan sorts after every number, so the ranks below n are those of the non-nan values
    x.partition(ranks)
    return _interpolate(x[below], x[above], weight)


# Held values from which Summary.percentiles leaves them in place (see there).
COPY_PERCENTILES_BELOW = 1 << 20

_SIGN = np.uint64(1 << 63)
_DIGIT_BITS = 16
_DIGITS = 1 << _DIGIT_BITS
_DEPTHS = 64 // _DIGIT_BITS


def order_keys(values: ArrayLike) -> KeyArray:
    """uint64 keys that sort like the float64 values (nan excluded; ``-0.0`` keyed as ``+0.0``).

    The usual trick: flip every bit of a negative number, only the sign bit of
    a positive one.

    Examples
    --------
    >>> keys = order_keys([-1.0, -0.0, 0.0, 1e-300, np.inf])
    >>> bool(np.all(np.diff(keys.astype(object)) >= 0)), keys[1] == keys[2]
    (True, np.True_)
    """
    x = _as_float_vector(values) + 0.0
    bits = x.view(np.uint64)
    flip = (x.view(np.int64) >> 63).view(np.uint64) | _SIGN
    keys: KeyArray = bits ^ flip
    return keys


def _key_value(key: int) -> float:
    bits = key ^ (1 << 63) if key >> 63 else key ^ ((1 << 64) - 1)
    return float(np.array(bits, dtype=np.uint64).view(np.float64))


def bucket_range(depth: int, prefix: int) -> tuple[int, int]:
    """The inclusive key range of the bucket ``prefix`` (its first ``16 * depth`` bits)."""
    shift = 64 - _DIGIT_BITS * depth
    return prefix << shift, ((prefix + 1) << shift) - 1


@dataclass(frozen=True)
class KeyHistogram:
    """Counts of order keys by one 16-bit digit, within some buckets: pass 1 of the protocol.

    ``depth`` digits of every counted key were fixed by the request (none at
    depth 0, where every non-nan value is counted). ``buckets`` are the counted
    keys' first ``16 * (depth + 1)`` bits, sorted and unique, and ``counts``
    how many keys fell in each: sparse, so a part's histogram is small (a few
    KB for typical data, at most 65,536 entries per refined bucket).
    ``nan_count`` is the number of nan values seen (depth 0 only).
    """

    depth: int
    buckets: KeyArray
    counts: IntArray
    nan_count: int = 0

    @property
    def total(self) -> int:
        """Values counted."""
        return int(self.counts.sum())

    def merge(self, other: KeyHistogram) -> KeyHistogram:
        if other.depth != self.depth:
            raise ValueError("cannot merge key histograms of different depths")
        unique, where = np.unique(np.concatenate([self.buckets, other.buckets]), return_inverse=True)
        counts = np.zeros(unique.shape[0], dtype=np.int64)
        np.add.at(counts, where.reshape(-1), np.concatenate([self.counts, other.counts]))
        return KeyHistogram(self.depth, unique, counts, self.nan_count + other.nan_count)

    def __add__(self, other: KeyHistogram) -> KeyHistogram:
        return self.merge(other)


def key_histogram(values: ArrayLike, prefixes: Sequence[int] | None = None, depth: int = 0) -> KeyHistogram:
    """Count the non-nan values by one 16-bit digit of their :func:`order_keys`.

    At ``depth`` 0 the digit is the top 16 bits (sign, exponent and 4
    significand bits) and every value counts; at ``depth`` d > 0 it is digit
    d + 1, counted only for the values whose first d digits are one of
    ``prefixes``.
    """
    x = _as_float_vector(values)
    nan = np.isnan(x)
    nan_count = int(np.count_nonzero(nan))
    if nan_count:
        x = x[~nan]
    return _key_histogram(order_keys(x), prefixes, depth, nan_count)


def _key_histogram(
    keys: KeyArray, prefixes: Sequence[int] | None, depth: int, nan_count: int
) -> KeyHistogram:
    if not 0 <= depth < _DEPTHS:
        raise ValueError(f"depth must be in 0..{_DEPTHS - 1}")
    shift = np.uint64(64 - _DIGIT_BITS * (depth + 1))
    digits = ((keys >> shift) & np.uint64(_DIGITS - 1)).astype(np.int64)
    if depth == 0:
        counts = np.bincount(digits, minlength=_DIGITS)
        present = np.flatnonzero(counts)
        return KeyHistogram(0, present.astype(np.uint64), counts[present].astype(np.int64), nan_count)
    if not prefixes:
        raise ValueError("a histogram below depth 0 needs the buckets it refines")
    wanted = np.unique(np.asarray(prefixes, dtype=np.uint64))
    heads = keys >> np.uint64(64 - _DIGIT_BITS * depth)
    where = np.searchsorted(wanted, heads)
    inside = where < wanted.shape[0]
    inside[inside] = wanted[where[inside]] == heads[inside]
    combined = where[inside] * _DIGITS + digits[inside]
    counts = np.bincount(combined, minlength=wanted.shape[0] * _DIGITS)
    present = np.flatnonzero(counts)
    parents = wanted[present // _DIGITS]
    buckets = (parents << np.uint64(_DIGIT_BITS)) | (present % _DIGITS).astype(np.uint64)
    return KeyHistogram(depth, buckets, counts[present].astype(np.int64), nan_count)


def values_in(values: ArrayLike, ranges: Sequence[tuple[int, int]]) -> list[FloatArray]:
    """The non-nan values whose order keys lie in each inclusive key range (pass 2).

    ``ranges`` must not overlap; one array per range, in no particular order.
    """
    x = _as_float_vector(values)
    x = x[~np.isnan(x)]
    return _values_in(x, order_keys(x), ranges)


def _values_in(x: FloatArray, keys: KeyArray, ranges: Sequence[tuple[int, int]]) -> list[FloatArray]:
    if not ranges:
        return []
    order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
    lows = np.array([ranges[i][0] for i in order], dtype=np.uint64)
    highs = np.array([ranges[i][1] for i in order], dtype=np.uint64)
    where = np.searchsorted(lows, keys, side="right") - 1
    inside = where >= 0
    inside[inside] = keys[inside] <= highs[where[inside]]
    picked = x[inside] + 0.0
    picked_slot = where[inside]
    grouped = np.argsort(picked_slot, kind="stable")
    bounds = np.searchsorted(picked_slot[grouped], np.arange(len(ranges) + 1))
    result: list[FloatArray] = [np.empty(0)] * len(ranges)
    for slot, original in enumerate(order):
        result[original] = picked[grouped[bounds[slot] : bounds[slot + 1]]]
    return result


@dataclass(frozen=True)
class PercentileRequest:
    """What the client asks every part in one round of the protocol.

    ``histogram``: whether to count (a :func:`key_histogram` at ``depth``
    within the buckets ``prefixes``, every value at depth 0); ``ranges``:
    inclusive key ranges whose values to return (:func:`values_in`).
    """

    depth: int = 0
    prefixes: tuple[int, ...] = ()
    ranges: tuple[tuple[int, int], ...] = ()
    histogram: bool = True


@dataclass(frozen=True)
class PercentileResponse:
    """One part's answer to a :class:`PercentileRequest`: its histogram and its values per range."""

    histogram: KeyHistogram | None
    values: tuple[FloatArray, ...] = ()


def answer(values: ArrayLike, request: PercentileRequest) -> PercentileResponse:
    """One part's answer to a round; run it where the part's values are (a Dask worker)."""
    x = _as_float_vector(values)
    nan = np.isnan(x)
    nan_count = int(np.count_nonzero(nan))
    if nan_count:
        x = x[~nan]
    keys = order_keys(x)
    hist = None
    if request.histogram:
        prefixes = request.prefixes if request.depth else None
        hist = _key_histogram(keys, prefixes, request.depth, nan_count if request.depth == 0 else 0)
    return PercentileResponse(hist, tuple(_values_in(x, keys, request.ranges)))


@dataclass
class _Rank:
    """Where one wanted order statistic (0-based ``rank``) is known to be."""

    rank: int
    depth: int = 0  # digits of the bucket fixed so far
    prefix: int = 0  # the bucket: the first 16 * depth bits of its keys
    below: int = 0  # values with keys below the bucket
    count: int = 0  # values in the bucket
    value: float | None = None


class PercentilePlan:
    """The client side of the exact distributed percentile protocol.

    Parts keep their values. Each round the plan asks every part the same
    :meth:`request`; their :class:`PercentileResponse` s are merged one at a
    time with :meth:`add` (client memory bounded by the number of
    percentiles, not of rows), then :meth:`advance` chooses the next round.

    1. Every part counts its values by the top 16 bits of their order keys
       (a sparse histogram of at most 65,536 buckets; the merged one can also
       come from the parts' :class:`Summary` partials: ``histogram=``).
    2. The merged counts locate the bucket holding each wanted rank. A bucket
       of at most ``max_values`` values is fetched whole and sorted on the
       client; a bigger one is refined by a histogram of its next 16 bits,
       and so on. After four digits a bucket is one key, that is one value,
       so even 10**9 equal values need no transfer. Two rounds suffice unless
       a bucket holds more than ``max_values`` values.
    3. The two order statistics next to each percentile are interpolated
       exactly as :func:`percentiles` does.

    The result equals ``percentiles(np.concatenate(parts), qs)`` bit for bit.

    Examples
    --------
    >>> parts = [np.array([3.0, 1.0]), np.array([]), np.array([2.0, np.inf])]
    >>> plan = PercentilePlan([50, 100])
    >>> while (request := plan.request()) is not None:
    ...     for part in parts:
    ...         plan.add(answer(part, request))
    ...     plan.advance()
    >>> plan.result()
    array([2.5, inf])
    """

    def __init__(self, qs: ArrayLike, *, max_values: int = 1 << 16, histogram: KeyHistogram | None = None):
        if max_values < 1:
            raise ValueError("max_values must be at least 1")
        self._q = _check_quantiles(qs)
        self.max_values = max_values
        self._n: int | None = None
        self._nan_count = 0
        self._ranks: dict[int, _Rank] = {}
        self._counts: dict[int, IntArray] = {}
        self._fetched: list[list[FloatArray]] = []
        self._request: PercentileRequest | None = PercentileRequest(depth=0)
        self.rounds = 0
        if histogram is not None:
            if histogram.depth != 0:
                raise ValueError("the seed histogram must be a depth-0 histogram of every value")
            self._merge_histogram(histogram)
            self._start()

    @property
    def count(self) -> int | None:
        """Non-nan values in all parts, once the depth-0 histogram is in."""
        return self._n

    @property
    def nan_count(self) -> int:
        return self._nan_count

    def request(self) -> PercentileRequest | None:
        """What to ask every part this round; None when the result is ready."""
        return self._request

    def add(self, response: PercentileResponse) -> None:
        """Merge one part's response to the current request."""
        request = self._request
        if request is None:
            raise RuntimeError("the protocol is complete; nothing was asked")
        if request.histogram != (response.histogram is not None) or len(response.values) != len(
            request.ranges
        ):
            raise ValueError("the response does not answer the current request")
        if response.histogram is not None:
            self._merge_histogram(response.histogram)
        for slot, found in enumerate(response.values):
            if found.shape[0]:
                self._fetched[slot].append(found)

    def _merge_histogram(self, hist: KeyHistogram) -> None:
        assert self._request is not None
        if hist.depth != self._request.depth:
            raise ValueError("the histogram does not answer the current request")
        self._nan_count += hist.nan_count
        if hist.buckets.shape[0] == 0:
            return
        parents = hist.buckets >> np.uint64(_DIGIT_BITS)
        digits = (hist.buckets & np.uint64(_DIGITS - 1)).astype(np.int64)
        for parent in np.unique(parents).tolist():
            rows = parents == np.uint64(parent)
            dense = self._counts.setdefault(int(parent), np.zeros(_DIGITS, dtype=np.int64))
            np.add.at(dense, digits[rows], hist.counts[rows])

    def advance(self) -> None:
        """After every part answered the current request: use the answers, choose the next."""
        request = self._request
        if request is None:
            return
        self.rounds += 1
        if self._n is None:
            self._start()
            return
        if request.histogram:
            self._descend(request.depth, set(request.prefixes))
        for slot, (low, _) in enumerate(request.ranges):
            found = np.sort(np.concatenate(self._fetched[slot])) if self._fetched[slot] else np.empty(0)
            for rank in self._ranks.values():
                if rank.value is None and bucket_range(rank.depth, rank.prefix)[0] == low:
                    rank.value = float(found[rank.rank - rank.below])
        self._next()

    def _start(self) -> None:
        dense = self._counts.get(0)
        self._n = 0 if dense is None else int(dense.sum())
        if self._n:
            below, above, weight = _positions(self._n, self._q)
            wanted = set(below.tolist()) | set(above[weight > 0].tolist())
            self._ranks = {r: _Rank(r, count=self._n) for r in sorted(wanted)}
            self._descend(0, {0})
        self._next()

    def _descend(self, depth: int, refined: set[int]) -> None:
        """Move each rank of a refined bucket into the child bucket (one more digit) holding it."""
        for rank in self._ranks.values():
            if rank.value is not None or rank.depth != depth or rank.prefix not in refined:
                continue
            dense = self._counts.get(rank.prefix)
            if dense is None or int(dense.sum()) != rank.count:
                raise RuntimeError("the parts' answers disagree with their earlier counts")
            cumulative = np.cumsum(dense)
            digit = int(np.searchsorted(cumulative, rank.rank - rank.below, side="right"))
            rank.below += int(cumulative[digit - 1]) if digit else 0
            rank.count = int(dense[digit])
            rank.prefix = (rank.prefix << _DIGIT_BITS) | digit
            rank.depth = depth + 1
            if rank.depth == _DEPTHS:  # every bit fixed: one key, one value
                rank.value = _key_value(rank.prefix)

    def _next(self) -> None:
        self._counts = {}
        pending = [r for r in self._ranks.values() if r.value is None]
        if not pending:
            self._request = None
            self._fetched = []
            return
        # Every pending rank has been refined the same number of times.
        depth = pending[0].depth
        refine = sorted({r.prefix for r in pending if r.count > self.max_values})
        fetch = sorted({r.prefix for r in pending if r.count <= self.max_values})
        self._request = PercentileRequest(
            depth=depth,
            prefixes=tuple(refine),
            ranges=tuple(bucket_range(depth, p) for p in fetch),
            histogram=bool(refine),
        )
        self._fetched = [[] for _ in fetch]

    def result(self) -> FloatArray:
        """The percentiles, once :meth:`request` is None."""
        if self._request is not None:
            raise RuntimeError("the protocol has not finished")
        if not self._n:
            return np.full(self._q.shape, math.nan)
        below, above, weight = _positions(self._n, self._q)
        value = {r: rank.value for r, rank in self._ranks.items()}
        a = np.array([value[r] for r in below.tolist()], dtype=np.float64)
        b = np.array(
            [
                value[hi] if w > 0 else value[lo]
                for lo, hi, w in zip(below.tolist(), above.tolist(), weight.tolist(), strict=True)
            ],
            dtype=np.float64,
        )
        return _interpolate(a, b, weight)


Part = ArrayLike | Callable[[PercentileRequest], PercentileResponse]


def exact_percentiles(
    parts: Iterable[Part],
    qs: ArrayLike,
    *,
    max_values: int = 1 << 16,
    histogram: KeyHistogram | None = None,
) -> FloatArray:
    """Percentiles over parts that each hold their own values, exactly.

    Parameters
    ----------
    parts : iterable of array_like or callable
        Each part is its values, or a function answering a
        :class:`PercentileRequest` about them (one that runs :func:`answer`
        on the Dask worker holding them, say).
    qs : array_like of float
        Percentiles in [0, 100].
    max_values : int
        The largest bucket fetched whole; the client holds at most about
        ``2 * len(qs) * max_values`` floats.
    histogram : KeyHistogram, optional
        The merged depth-0 histogram of all parts if already known (from
        :class:`Summary` partials): it saves the first round.

    Returns
    -------
    ndarray
        Identical, bit for bit, to ``percentiles(np.concatenate(parts), qs)``.

    Examples
    --------
    >>> exact_percentiles([np.arange(5.0), np.arange(5.0, 10.0)], [10, 50])
    array([0.9, 4.5])
    """
    sources = list(parts)
    plan = PercentilePlan(qs, max_values=max_values, histogram=histogram)
    while (request := plan.request()) is not None:
        for part in sources:
            plan.add(part(request) if callable(part) else answer(part, request))
        plan.advance()
    return plan.result()


# --- worst rows ----------------------------------------------------------------------


class WorstRows:
    """The ``n`` rows with the largest values, with their row numbers and ids; mergeable.

    Order: value descending, and among equal values the lower row number
    first, so the result does not depend on blocking or merge order. nan rows
    are never among the worst (they have no value to rank; count them with
    :class:`Moments`); ``+inf`` rows are the worst of all.

    Examples
    --------
    >>> w = WorstRows(2).add([0.5, 2.0, 2.0], start_row=1, ids=["a", "b", "c"])
    >>> w.add([np.nan, 3.0], start_row=4).rows()
    [(5, 3.0, None), (2, 2.0, 'b')]
    """

    __slots__ = ("_ids", "_rows", "_values", "n")

    def __init__(self, n: int) -> None:
        if n < 0:
            raise ValueError("the number of worst rows must be >= 0")
        self.n = n
        self._rows: IntArray = np.empty(0, dtype=np.int64)
        self._values: FloatArray = np.empty(0, dtype=np.float64)
        self._ids: list[Any] = []

    def add(self, values: ArrayLike, start_row: int, ids: Sequence[Any] | None = None) -> WorstRows:
        """Offer a block whose first value is row ``start_row``; ``ids[i]`` belongs to value ``i``."""
        x = _as_float_vector(values)
        if ids is not None and len(ids) != x.shape[0]:
            raise ValueError(f"{len(ids)} ids for {x.shape[0]} values")
        if self.n == 0 or x.shape[0] == 0:
            return self
        if x.shape[0] > self.n:
            # The n-th largest value; nan sorts last, so it is nan only when
            # fewer than n values are not nan.
            threshold = -np.partition(-x, self.n - 1)[self.n - 1]
            if math.isnan(threshold):
                chosen = np.flatnonzero(~np.isnan(x))
            else:
                above = np.flatnonzero(x > threshold)
                ties = np.flatnonzero(x == threshold)[: self.n - above.shape[0]]
                chosen = np.concatenate([above, ties])
        else:
            chosen = np.flatnonzero(~np.isnan(x))
        block_ids = [None] * chosen.shape[0] if ids is None else [ids[i] for i in chosen.tolist()]
        self._keep(
            np.concatenate([self._rows, chosen.astype(np.int64) + start_row]),
            np.concatenate([self._values, x[chosen]]),
            self._ids + block_ids,
        )
        return self

    def _keep(self, rows: IntArray, values: FloatArray, ids: list[Any]) -> None:
        order = np.lexsort((rows, -values))[: self.n]
        self._rows = rows[order]
        self._values = values[order]
        self._ids = [ids[i] for i in order.tolist()]

    def merge(self, other: WorstRows) -> WorstRows:
        """The worst rows of both (keeping the larger ``n``)."""
        result = WorstRows(max(self.n, other.n))
        result._keep(
            np.concatenate([self._rows, other._rows]),
            np.concatenate([self._values, other._values]),
            self._ids + other._ids,
        )
        return result

    def __add__(self, other: WorstRows) -> WorstRows:
        return self.merge(other)

    def rows(self) -> list[tuple[int, float, Any]]:
        """``(row, value, id)`` for the worst rows, the worst first."""
        return list(zip(self._rows.tolist(), self._values.tolist(), self._ids, strict=True))

    def __getstate__(self) -> tuple[int, IntArray, FloatArray, list[Any]]:
        return (self.n, self._rows, self._values, self._ids)

    def __setstate__(self, state: tuple[int, IntArray, FloatArray, list[Any]]) -> None:
        self.n, self._rows, self._values, self._ids = state


# --- the summary of one per-row measure ----------------------------------------------------


def percentile_name(q: float) -> str:
    """The summary field of a percentile: ``p50``, ``p99.9``, ``p0.1``.

    >>> [percentile_name(q) for q in (50, 99.9, 0.1)]
    ['p50', 'p99.9', 'p0.1']
    """
    return f"p{q:g}"


class Summary:
    """The mergeable partial behind the summary of one per-row measure.

    Holds :class:`Moments` (count, exact sum, mean, min, max, inf and nan
    counts, and the standard error unless ``std_error=False``, which makes
    ``add`` about 2.5 times faster), and on request the :class:`WorstRows` (``worst=N``),
    the values themselves (``hold_values``: exact percentiles locally) and/or
    the depth-0 :class:`KeyHistogram` (``key_histogram``: it seeds
    :func:`exact_percentiles` when the values stay on Dask workers). Without
    values it pickles to a few hundred bytes (plus N worst rows and, if kept,
    the sparse histogram, typically a few KB).

    ``to_dict`` gives ``count, mean, min, p50, p90, p99, max, sum``, plus
    ``std_error`` and the percentiles 0.1, 1, 5, 10, 95 and 99.9 when asked.
    The percentiles come from the held values, or from ``percentile_values``
    (what :func:`exact_percentiles` found); without either, asking for them is
    an error, never a silent nan.

    Examples
    --------
    >>> s = Summary(hold_values=True).add([1.0, 2.0]) + Summary(hold_values=True).add([3.0, 4.0])
    >>> s.to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'count': 4, 'mean': 2.5, 'min': 1.0, 'p50': 2.5, 'p90': 3.7, 'p99': 3.9699999999999998,
     'max': 4.0, 'sum': 10.0}
    """

    __slots__ = ("_held", "_key_histogram", "_release", "moments", "worst")

    def __init__(
        self,
        *,
        worst: int = 0,
        hold_values: bool = False,
        key_histogram: bool = False,
        std_error: bool = True,
        release: Callable[[FloatArray], None] | None = None,
    ) -> None:
        # ``release(part)``: called after each part of the held values has answered a
        # percentile round (the command line hands spilled pages back to the kernel).
        self._release = release
        self.moments = Moments(second_moment=std_error)
        self.worst: WorstRows | None = WorstRows(worst) if worst else None
        self._held: list[FloatArray] | None = [] if hold_values else None
        self._key_histogram: KeyHistogram | None = (
            KeyHistogram(0, np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64))
            if key_histogram
            else None
        )

    def add(
        self, values: ArrayLike, *, start_row: int | None = None, ids: Sequence[Any] | None = None
    ) -> Summary:
        """Add a block of per-row values; returns ``self``.

        ``start_row`` numbers the block's first row for the worst rows
        (default: the rows this partial has seen so far, right for blocks
        added in order; partials built in parallel must pass the global row).
        """
        x = _as_float_vector(values)
        if self.worst is not None:
            self.worst.add(x, self.moments.count if start_row is None else start_row, ids)
        self.moments.add(x)
        if self._held is not None:
            self._held.append(x)
        if self._key_histogram is not None:
            self._key_histogram = self._key_histogram + key_histogram(x)
        return self

    def merge(self, other: Summary) -> Summary:
        result = Summary()
        result.moments = self.moments + other.moments
        if self.worst is not None or other.worst is not None:
            result.worst = (self.worst or WorstRows(0)) + (other.worst or WorstRows(0))
        if self._held is not None and other._held is not None:
            result._held = self._held + other._held
        if self._key_histogram is not None and other._key_histogram is not None:
            result._key_histogram = self._key_histogram + other._key_histogram
        return result

    def __add__(self, other: Summary) -> Summary:
        return self.merge(other)

    @property
    def count(self) -> int:
        return self.moments.count

    @property
    def holds_values(self) -> bool:
        return self._held is not None

    def values(self) -> FloatArray:
        """The held values, in the order added and merged."""
        if self._held is None:
            raise ValueError("this summary was built without hold_values=True")
        return np.concatenate(self._held) if self._held else np.empty(0)

    def key_histogram(self) -> KeyHistogram | None:
        """The merged depth-0 key histogram, if kept (``key_histogram=True``)."""
        return self._key_histogram

    def percentiles(self, qs: ArrayLike) -> FloatArray:
        """Exact percentiles of the held values (see :func:`percentiles`).

        Up to ``COPY_PERCENTILES_BELOW`` values, from a copy partitioned in place
        (fastest: 18 ms for a million); above, by :func:`exact_percentiles` over
        slices of 262,144 held values, which copies none of them, so memory does
        not grow with the values (about 50 ns a value; each slice is handed to
        ``release`` once it has answered a round). Both give the same bits.
        """
        if self._held is None:
            raise ValueError("this summary was built without hold_values=True")
        if sum(int(x.shape[0]) for x in self._held) < COPY_PERCENTILES_BELOW:
            return percentiles(self.values(), qs)
        step = 1 << 18  # a slice's temporaries (keys, digits, indices) stay a few MB
        slices = [x[i : i + step] for x in self._held for i in range(0, int(x.shape[0]), step)]
        if self._release is None:
            return exact_percentiles(slices, qs)
        parts = [functools.partial(_answer_then_release, x, self._release) for x in slices]
        return exact_percentiles(parts, qs)

    def to_dict(
        self,
        *,
        std_error: bool = False,
        extra_percentiles: bool = False,
        percentile_values: Mapping[float, float] | None = None,
        nonfinite_counts: bool = False,
    ) -> dict[str, float | int]:
        """The summary fields, in display order (see the class notes)."""
        m = self.moments
        qs = sorted(DEFAULT_PERCENTILES + (EXTRA_PERCENTILES if extra_percentiles else ()))
        n = m.count
        if n == 0 or m.nan_count == n:
            found = {q: math.nan for q in qs}
        elif percentile_values is not None:
            missing = [q for q in qs if q not in percentile_values]
            if missing:
                raise ValueError(f"percentile_values lacks {', '.join(percentile_name(q) for q in missing)}")
            found = {q: float(percentile_values[q]) for q in qs}
        elif self._held is not None:
            found = dict(zip(qs, self.percentiles(qs).tolist(), strict=True))
        else:
            raise ValueError("percentiles need the values (hold_values=True) or percentile_values=")
        result: dict[str, float | int] = {"count": n, "mean": m.mean()}
        if std_error:
            result["std_error"] = m.standard_error()
        result["min"] = _float_or_nan(m.min)
        for q in qs:
            result[percentile_name(q)] = found[q]
        result["max"] = _float_or_nan(m.max)
        result["sum"] = m.sum() if n else math.nan
        if nonfinite_counts:
            result["nan_count"] = m.nan_count
            result["posinf_count"] = m.posinf_count
            result["neginf_count"] = m.neginf_count
        return result

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.moments, self.worst, self._held, self._key_histogram)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.moments, self.worst, self._held, self._key_histogram = state
        self._release = None


def _answer_then_release(
    values: FloatArray, release: Callable[[FloatArray], None], request: PercentileRequest
) -> PercentileResponse:
    response = answer(values, request)
    release(values)
    return response
