"""Mergeable moments (count, exact sum, variance, min, max) and co-moments of two variables.

See :mod:`xent_cli.core.stats` for the conventions every partial here follows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from xent_cli.core.stats.sums import (
    ExactSum,
    _as_float_vector,
    _in_window,
    _ProductSum,
    _round_fraction,
    _sqrt_fraction,
)

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
