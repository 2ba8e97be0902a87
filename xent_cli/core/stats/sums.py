"""Exact sums: the correctly rounded sum of float64 values, and exact sums of products.

See :mod:`xent_cli.core.stats` for the conventions every partial here follows.
"""

from __future__ import annotations

import math
import threading
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
KeyArray = NDArray[np.uint64]


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
