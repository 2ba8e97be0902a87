"""The summary of one per-row measure, and its worst rows.

See :mod:`xent_cli.core.stats` for the conventions every partial here follows.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from xent_cli.core.stats.moments import Moments
from xent_cli.core.stats.quantiles import (
    KeyHistogram,
    PercentileRequest,
    PercentileResponse,
    answer,
    exact_percentiles,
    key_histogram,
    percentiles,
)
from xent_cli.core.stats.sums import FloatArray, IntArray, _as_float_vector, _float_or_nan

# Held values from which Summary.percentiles leaves them in place (see there).
COPY_PERCENTILES_BELOW = 1 << 20

# The summary's percentiles, and the ones the compare panel adds on request.
DEFAULT_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0)
EXTRA_PERCENTILES: tuple[float, ...] = (0.1, 1.0, 5.0, 10.0, 95.0, 99.9)


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
