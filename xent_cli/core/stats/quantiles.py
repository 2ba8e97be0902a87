"""Percentiles: NumPy's linear interpolation, locally and as an exact protocol over parts.

See :mod:`xent_cli.core.stats` for the conventions every partial here follows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from xent_cli.core.stats.sums import FloatArray, IntArray, KeyArray, _as_float_vector

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
