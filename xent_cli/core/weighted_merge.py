"""The weighted summary (:mod:`xent_cli.core.weighted`) merged from parts: shards that keep their rows.

Every statistic of the weighted summary is found from what each part answers about its
own rows, exactly, so the digits equal those of :func:`~xent_cli.core.weighted.weighted_summary`
over all the rows:

* :class:`WeightedMoments` holds exact sums (Σ w, Σ w·x), counts, min and max: they add;
* the standard error needs Σ (w·(x − mean))², an exact sum each part forms once the
  mean is known (:func:`deviation_sum`);
* percentile q is the smallest value v whose exact cumulative weight W(≤ v) reaches the
  threshold, ``float(W(≤ v) / W) >= q/100`` (:func:`reached`). :class:`WeightedPercentilePlan`
  finds it by **exact selection in rounds**: the candidates are a range of order keys
  (:func:`~xent_cli.core.stats.order_keys`); each round every part gives, for 256
  sub-ranges of it, its rows' count and exact weight (:func:`bracket_answer`), and the
  sub-range where the threshold is crossed is the next range. Once a range holds at most
  :attr:`WeightedPercentilePlan.fetch_rows` rows they are fetched and walked in order. A
  range of 2^64 keys narrows 256-fold a round: at most 8 rounds, usually 3 or 4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from xent_cli.core.distributions import FloatArray
from xent_cli.core.stats import ExactSum, order_keys
from xent_cli.core.stats.quantiles import _key_value

# Sub-ranges a candidate range is cut into per round.
SPLIT = 256


def reached(weight_below: Fraction, total: Fraction, quantile: float) -> bool:
    """Whether a cumulative weight reaches the ``quantile`` (q/100 as a float) of the total.

    The ratio is rounded once to float64, as ``numpy.percentile(..., weights=,
    method="inverted_cdf")`` rounds its cumulative sums divided by the total: the two
    agree whenever NumPy's running sums are exact (integer or dyadic weights, where ties
    with the threshold happen).
    """
    return float(weight_below / total) >= quantile


@dataclass
class WeightedMoments:
    """A part's rows under weights, in sums that add exactly: what every weighted statistic but the
    percentiles and the standard error needs."""

    count: int = 0
    positive: int = 0
    nan_count: int = 0
    inf_count: int = 0
    minimum: float = math.inf
    maximum: float = -math.inf
    total: ExactSum = field(default_factory=ExactSum)
    products: ExactSum = field(default_factory=ExactSum)

    def add(self, values: FloatArray, weights: FloatArray) -> WeightedMoments:
        x = np.asarray(values, dtype=np.float64)
        w = np.asarray(weights, dtype=np.float64)
        keep = w > 0
        xp, wp = x[keep], w[keep]
        self.count += int(x.shape[0])
        self.positive += int(xp.shape[0])
        self.nan_count += int(np.count_nonzero(np.isnan(xp)))
        self.inf_count += int(np.count_nonzero(np.isinf(xp)))
        if xp.shape[0]:
            self.minimum = min(self.minimum, float(np.min(xp)))
            self.maximum = max(self.maximum, float(np.max(xp)))
        self.total.add(wp)
        with np.errstate(invalid="ignore", over="ignore"):
            self.products.add(wp * xp)
        return self

    def __add__(self, other: WeightedMoments) -> WeightedMoments:
        return WeightedMoments(
            self.count + other.count,
            self.positive + other.positive,
            self.nan_count + other.nan_count,
            self.inf_count + other.inf_count,
            min(self.minimum, other.minimum),
            max(self.maximum, other.maximum),
            self.total + other.total,
            self.products + other.products,
        )

    def mean(self) -> float:
        """Σ w·x / Σ w, as :func:`~xent_cli.core.weighted.weighted_summary` rounds it."""
        special = self.products.special()
        if special is not None:
            return special
        return float(self.products.exact() / self.total.exact()) if self.positive else math.nan


def deviation_sum(values: FloatArray, weights: FloatArray, mean: float) -> ExactSum:
    """Σ (w·(x − mean))² over the rows of positive weight, exactly (the standard error's sum)."""
    keep = weights > 0
    deviations = weights[keep] * (values[keep] - mean)
    return ExactSum().add(deviations * deviations)


def standard_error(positive: int, deviations: ExactSum, mean: float, total: float) -> float:
    r"""``sqrt(n / (n - 1) * Σ w² (x - mean)²) / Σ w``: nan for one row or a mean that is not finite."""
    if positive < 2 or not math.isfinite(mean):
        return math.nan
    return math.sqrt(positive / (positive - 1) * deviations.value()) / total


@dataclass(frozen=True)
class Bracket:
    """Candidate keys ``lo < key <= hi`` (``lo`` may be -1); ``edges``: the sub-ranges' upper ends,
    or None to fetch the rows themselves."""

    lo: int
    hi: int
    edges: tuple[int, ...] | None


def bracket_answer(values: FloatArray, weights: FloatArray, bracket: Bracket) -> Any:
    """What a part's rows of positive weight say about ``bracket``.

    With edges: ``(counts, sums)``, each sub-range's rows and exact weight (a Fraction, 0
    when empty). Without: the rows' ``(values, weights)``.
    """
    keep = weights > 0
    x, w = values[keep], weights[keep]
    keys = order_keys(x)
    inside = keys <= np.uint64(bracket.hi)
    if bracket.lo >= 0:
        inside &= keys > np.uint64(bracket.lo)
    if bracket.edges is None:
        return x[inside], w[inside]
    edges = np.array(bracket.edges, dtype=np.uint64)
    index = np.searchsorted(edges, keys[inside], side="left")
    counts = np.bincount(index, minlength=len(edges))
    order = np.argsort(index, kind="stable")
    grouped = w[inside][order]
    sums: list[Fraction] = []
    start = 0
    for count in counts.tolist():
        sums.append(ExactSum().add(grouped[start : start + count]).exact() if count else Fraction(0))
        start += count
    return counts, sums


@dataclass
class _Search:
    quantile: float
    lo: int
    hi: int
    below: Fraction
    rows: int
    value: float | None = None


class WeightedPercentilePlan:
    """Exact weighted percentiles (the inverted weighted CDF) of rows spread over parts, in rounds.

    ``request()`` gives the brackets to ask every part about (None: done), ``add()`` takes
    each part's :func:`bracket_answer` for them, ``advance()`` ends the round.
    """

    fetch_rows = 4096

    def __init__(self, qs: list[float], moments: WeightedMoments) -> None:
        self.total = moments.total.exact()
        self.searches: list[_Search] = []
        positive = moments.positive
        lo, hi = -1, 0
        if positive:
            low, high = order_keys([moments.minimum, moments.maximum]).tolist()
            lo, hi = int(low) - 1, int(high)
        for q in qs:
            search = _Search(float(np.true_divide(q, 100)), lo, hi, Fraction(0), positive)
            if not positive:
                search.value = math.nan
            elif hi - lo == 1:
                search.value = _key_value(hi)
            self.searches.append(search)
        self._answers: dict[Bracket, list[Any]] = {}

    def _bracket(self, search: _Search) -> Bracket:
        if search.rows <= self.fetch_rows:
            return Bracket(search.lo, search.hi, None)
        parts = min(SPLIT, search.hi - search.lo)
        span = search.hi - search.lo
        edges = tuple(search.lo + -(-span * (j + 1) // parts) for j in range(parts))
        return Bracket(search.lo, search.hi, edges)

    def request(self) -> list[Bracket] | None:
        wanted = list(dict.fromkeys(self._bracket(s) for s in self.searches if s.value is None))
        return wanted or None

    def add(self, answers: dict[Bracket, Any]) -> None:
        for bracket, answer in answers.items():
            self._answers.setdefault(bracket, []).append(answer)

    def advance(self) -> None:
        for search in self.searches:
            if search.value is not None:
                continue
            bracket = self._bracket(search)
            answers = self._answers[bracket]
            if bracket.edges is None:
                search.value = self._walk(search, answers)
            else:
                self._narrow(search, bracket, answers)
        self._answers = {}

    def _walk(self, search: _Search, answers: list[tuple[FloatArray, FloatArray]]) -> float:
        values = np.concatenate([a[0] for a in answers])
        weights = np.concatenate([a[1] for a in answers])
        order = np.argsort(values, kind="stable")
        weight = search.below
        for value, w in zip(values[order].tolist(), weights[order].tolist(), strict=True):
            weight += Fraction(w)
            if reached(weight, self.total, search.quantile):
                return float(value)
        return float(values[order][-1])  # unreachable: the whole weight reaches any q <= 100

    def _narrow(self, search: _Search, bracket: Bracket, answers: list[tuple[Any, list[Fraction]]]) -> None:
        assert bracket.edges is not None
        counts = np.sum([a[0] for a in answers], axis=0)
        weight = search.below
        lo = bracket.lo
        for j, edge in enumerate(bracket.edges):
            part = sum((a[1][j] for a in answers), Fraction(0))
            if counts[j] and reached(weight + part, self.total, search.quantile):
                search.lo, search.hi, search.below, search.rows = lo, edge, weight, int(counts[j])
                if edge - lo == 1:
                    search.value = _key_value(edge)
                return
            weight += part
            lo = edge
        search.lo, search.rows = lo, 0  # pragma: no cover - the whole weight reaches any q <= 100
        search.value = math.nan

    def result(self) -> list[float]:
        return [math.nan if s.value is None else s.value for s in self.searches]
