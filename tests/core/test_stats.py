"""The statistics core against independent references: math.fsum, Fraction, mpmath, NumPy.

Every partial is also checked for merge invariance: any split into blocks and
parts, merged in any order, gives the same result bit for bit.
"""

from __future__ import annotations

import itertools
import math
import pickle
import random
from collections.abc import Callable, Sequence
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xent_cli.core import stats
from xent_cli.core.stats import (
    Comoments,
    ExactSum,
    KeyHistogram,
    Moments,
    PercentilePlan,
    PercentileRequest,
    PercentileResponse,
    Summary,
    WorstRows,
    answer,
    exact_percentiles,
    key_histogram,
    order_keys,
    percentiles,
    quantiles,
    sums,
    values_in,
)

FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
MODERATE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=64)
PANEL_QS = [0, 0.1, 1, 5, 10, 50, 90, 95, 99, 99.9, 100]


def bits(x: float) -> int:
    """The float's bit pattern: equality that tells -0.0 from 0.0 and matches nan with nan."""
    return int(np.array(x, dtype=np.float64).view(np.uint64))


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or bits(a) == bits(b)


def same_arrays(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and all(same(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True))


def exact(values: Sequence[float]) -> Fraction:
    return sum((Fraction(v) for v in values), Fraction(0))


def rounded(value: Fraction) -> float:
    """A fraction to the nearest double (ties to even), inf beyond the range."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def split_points(data: st.DataObject, n: int, max_parts: int = 6) -> list[int]:
    cuts = data.draw(st.lists(st.integers(0, n), max_size=max_parts))
    return sorted(cuts)


def pieces(values: np.ndarray, cuts: list[int]) -> list[np.ndarray]:
    bounds = [0, *cuts, values.shape[0]]
    return [values[a:b] for a, b in itertools.pairwise(bounds)]


def merge_in_order(
    parts: list[object], order: list[int], combine: Callable[[object, object], object]
) -> object:
    items = [parts[i] for i in order]
    result = items[0]
    for item in items[1:]:
        result = combine(result, item)
    return result


# --- ExactSum ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1e308, 1.0, -1e308], 1.0),
        ([1e308, 1e308, -1e308], 1e308),  # math.fsum raises OverflowError here
        ([0.1] * 10, 1.0),
        ([5e-324, 5e-324, 5e-324], 1.5e-323),
        ([2.0**-1074, -(2.0**-1074)], 0.0),
        ([1.0, 2.0**-53], 1.0),  # a tie, rounded to even
        ([1.0, 2.0**-53, 2.0**-1074], 1.0000000000000002),  # just above the tie
        ([], 0.0),
        ([-0.0, -0.0], 0.0),  # a zero sum is +0.0
        ([1.7976931348623157e308, 1.7976931348623157e308], math.inf),
        ([-1.7976931348623157e308] * 2, -math.inf),
    ],
)
def test_exact_sum_by_hand(values: list[float], expected: float) -> None:
    assert same(ExactSum().add(values).value(), expected)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1.0, math.nan], math.nan),
        ([math.inf, 1.0], math.inf),
        ([-math.inf, 1.0], -math.inf),
        ([math.inf, -math.inf], math.nan),  # math.fsum raises ValueError
        ([math.inf, math.nan], math.nan),
        ([math.inf, math.inf], math.inf),
    ],
)
def test_exact_sum_of_non_finite_values_follows_ieee(values: list[float], expected: float) -> None:
    total = ExactSum().add(values)
    assert same(total.value(), expected)
    try:
        assert same(total.value(), math.fsum(values))
    except ValueError:
        assert math.isnan(expected)


def test_exact_sum_counts_non_finite_values() -> None:
    total = ExactSum().add([1.0, math.nan, math.inf, -math.inf, math.inf, 2.0])
    assert (total.count, total.nan_count, total.posinf_count, total.neginf_count) == (6, 1, 2, 1)
    assert total.exact() == 3


def test_nan_payloads_are_counted_as_nan() -> None:
    # a nan whose payload is only in the low 26 bits would become inf if masked
    odd_nan = np.array([0x7FF0000000000001, 0xFFF0000000000003], dtype=np.uint64).view(np.float64)
    total = ExactSum().add(np.concatenate([odd_nan, [1.0]]))
    assert total.nan_count == 2 and total.posinf_count == 0 and math.isnan(total.value())


@settings(max_examples=150, deadline=None)
@given(st.lists(FINITE, max_size=60), st.data())
def test_exact_sum_is_fsum_whatever_the_blocking(values: list[float], data: st.DataObject) -> None:
    array = np.array(values, dtype=np.float64)
    parts = [ExactSum().add(p) for p in pieces(array, split_points(data, len(values)))]
    order = data.draw(st.permutations(range(len(parts))))
    total = merge_in_order(parts, order, lambda a, b: a + b)  # type: ignore[operator]
    assert isinstance(total, ExactSum)
    assert total.exact() == exact(values)
    assert same(total.value(), rounded(exact(values)))
    try:
        reference = math.fsum(values)
    except OverflowError:  # fsum overflows on its way; the exact sum is still rounded
        return
    assert same(total.value(), reference)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(min_value=-(2.0**-1000), max_value=2.0**-1000, width=64),  # subnormals and tiny
            st.floats(min_value=2.0**1000, max_value=1.7976931348623157e308, width=64),
            st.floats(min_value=-1.7976931348623157e308, max_value=-(2.0**1000), width=64),
            st.sampled_from([1.0, -1.0, 0.0, -0.0]),
        ),
        max_size=40,
    )
)
def test_exact_sum_of_huge_and_tiny_values(values: list[float]) -> None:
    assert ExactSum().add(values).exact() == exact(values)


def test_exact_sum_over_many_epochs_and_carries(monkeypatch: pytest.MonkeyPatch) -> None:
    # Small blocks and epochs exercise every flush and the carry normalization.
    monkeypatch.setattr(sums, "_BLOCK", 16)
    monkeypatch.setattr(sums, "_EPOCH", 40)
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            np.full(3000, np.nextafter(2.0, 0)),  # every significand bit set, one bucket
            rng.normal(size=3000) * 10.0 ** rng.integers(-300, 300, size=3000),
            np.full(500, -1.7976931348623157e308),
            np.full(500, 1.7976931348623157e308),
        ]
    )
    rng.shuffle(values)
    total = ExactSum()
    for block in np.array_split(values, 97):
        total.add(block)
    assert total.exact() == exact(values.tolist())


def test_exact_sum_of_a_million_values_is_fsum() -> None:
    rng = np.random.default_rng(3)
    values = rng.standard_cauchy(1_000_000)
    assert ExactSum().add(values).value() == math.fsum(values.tolist())


def test_exact_sum_pickles_to_a_few_hundred_bytes() -> None:
    values = np.random.default_rng(0).exponential(size=200_000)
    total = ExactSum().add(values)
    data = pickle.dumps(total)
    assert len(data) < 1000
    back = pickle.loads(data)
    assert back.value() == total.value() == math.fsum(values.tolist())
    assert back.add([1.0]).exact() == total.exact() + 1


def test_exact_sum_mean_is_the_exact_mean_rounded_once() -> None:
    values = [1e308, 1e308, 1e308]  # the sum overflows; the mean does not
    assert ExactSum().add(values).mean() == 1e308
    assert math.isnan(ExactSum().mean())
    rng = np.random.default_rng(5)
    x = rng.normal(size=1001)
    assert ExactSum().add(x).mean() == rounded(exact(x.tolist()) / 1001)


# --- Moments -------------------------------------------------------------------------------


def exact_variance(values: Sequence[float], ddof: int = 1) -> Fraction:
    n = len(values)
    mean = exact(values) / n
    return sum(((Fraction(v) - mean) ** 2 for v in values), Fraction(0)) / (n - ddof)


def rounded_sqrt(value: Fraction) -> float:
    with mpmath.workprec(400):
        return float(mpmath.sqrt(mpmath.mpf(value.numerator) / value.denominator))


@settings(max_examples=80, deadline=None)
@given(st.lists(FINITE, min_size=2, max_size=30), st.data())
def test_moments_are_exact_whatever_the_split(values: list[float], data: st.DataObject) -> None:
    array = np.array(values)
    parts = [Moments().add(p) for p in pieces(array, split_points(data, len(values)))]
    order = data.draw(st.permutations(range(len(parts))))
    m = merge_in_order(parts, order, lambda a, b: a + b)  # type: ignore[operator]
    assert isinstance(m, Moments)
    variance = exact_variance(values)
    assert same(m.variance(), rounded(variance))
    assert same(m.std(), rounded_sqrt(variance))
    assert same(m.standard_error(), rounded_sqrt(variance / len(values)))
    assert same(m.mean(), rounded(exact(values) / len(values)))
    assert m.min == min(values) + 0.0 and m.max == max(values) + 0.0
    squares = sum((Fraction(v) ** 2 for v in values), Fraction(0)) / len(values)
    assert same(m.mean_square(), rounded(squares))
    assert same(m.root_mean_square(), rounded_sqrt(squares))


def test_standard_error_matches_numpy_and_scipy() -> None:
    from scipy.stats import sem

    x = np.random.default_rng(11).gamma(2.0, size=10_000)
    m = Moments().add(x)
    assert m.standard_error() == pytest.approx(np.std(x, ddof=1) / math.sqrt(x.shape[0]), rel=1e-13)
    assert m.standard_error() == pytest.approx(sem(x), rel=1e-13)
    assert m.variance() == pytest.approx(np.var(x, ddof=1), rel=1e-13)


def test_variance_of_nearly_constant_data_is_exact() -> None:
    # A naive sum of squares loses everything here; the exact sums lose nothing.
    x = 1e9 + np.arange(1000) * 1e-6
    m = Moments().add(x)
    assert m.variance() == rounded(exact_variance(x.tolist()))
    x = np.full(1000, 0.1)
    assert Moments().add(x).variance() == 0.0


def test_moments_of_values_outside_the_exact_product_window() -> None:
    values = [1e300, -1e300, 3e-310, 1e-200, 2.5, -1e-160, 1e154]
    m = Moments().add(values)
    assert m.variance() == math.inf  # the exact variance is ~6.7e599
    assert m.std() == rounded_sqrt(exact_variance(values))  # but its root is finite
    tiny = [1e-320, 3e-321, 5e-324, 0.0]
    assert Moments().add(tiny).variance() == rounded(exact_variance(tiny))
    # every square of a block >= 2**990: the block's ordinary bucket sums are empty
    big = [2.0**497, -1.5 * 2.0**498, 2.0**499]
    assert Moments().add(big).variance() == rounded(exact_variance(big))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1.0, math.nan, 2.0], (math.nan, math.nan)),
        ([1.0, math.inf, 2.0], (math.inf, math.inf)),
        ([1.0, -math.inf], (-math.inf, math.inf)),
        ([1.0], (1.0, math.nan)),
        ([], (math.nan, math.nan)),
    ],
)
def test_moments_of_special_values(values: list[float], expected: tuple[float, float]) -> None:
    m = Moments().add(values)
    assert same(m.mean(), expected[0])
    assert same(m.standard_error(), expected[1])


def test_min_and_max_leave_nan_out() -> None:
    m = Moments().add([math.nan, 3.0, -0.0, math.inf])
    assert (m.min, m.max, m.nan_count, m.posinf_count) == (0.0, math.inf, 1, 1)
    assert m.min is not None and bits(m.min) == bits(0.0)
    assert Moments().add([math.nan]).min is None


def test_moments_without_the_second_moment() -> None:
    m = Moments(second_moment=False).add([1.0, 2.0])
    assert m.mean() == 1.5 and not m.has_second_moment
    with pytest.raises(ValueError, match="second_moment"):
        m.variance()


def test_moments_pickle_small() -> None:
    m = Moments().add(np.random.default_rng(1).normal(size=100_000))
    data = pickle.dumps(m)
    assert len(data) < 2000
    assert pickle.loads(data).standard_error() == m.standard_error()


# --- Comoments ------------------------------------------------------------------------------


def exact_correlation(x: Sequence[float], y: Sequence[float]) -> float:
    n = len(x)
    mx, my = exact(x) / n, exact(y) / n
    cxy = sum(((Fraction(a) - mx) * (Fraction(b) - my) for a, b in zip(x, y, strict=True)), Fraction(0))
    cxx = sum(((Fraction(a) - mx) ** 2 for a in x), Fraction(0))
    cyy = sum(((Fraction(b) - my) ** 2 for b in y), Fraction(0))
    magnitude = rounded_sqrt(cxy * cxy / (cxx * cyy))
    return magnitude if cxy > 0 else -magnitude


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(MODERATE, MODERATE), min_size=3, max_size=25), st.data())
def test_correlation_is_exact_whatever_the_split(
    pairs: list[tuple[float, float]], data: st.DataObject
) -> None:
    x = np.array([p[0] for p in pairs])
    y = np.array([p[1] for p in pairs])
    cuts = split_points(data, len(pairs))
    parts = [Comoments().add(a, b) for a, b in zip(pieces(x, cuts), pieces(y, cuts), strict=True)]
    order = data.draw(st.permutations(range(len(parts))))
    c = merge_in_order(parts, order, lambda a, b: a + b)  # type: ignore[operator]
    assert isinstance(c, Comoments)
    if len(set(x.tolist())) < 2 or len(set(y.tolist())) < 2:
        assert math.isnan(c.correlation())
        return
    assert c.correlation() == exact_correlation(x.tolist(), y.tolist())
    n = len(pairs)
    mx, my = exact(x.tolist()) / n, exact(y.tolist()) / n
    cov = sum(((Fraction(a) - mx) * (Fraction(b) - my) for a, b in pairs), Fraction(0)) / (n - 1)
    assert c.covariance() == rounded(cov)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(FINITE, FINITE), min_size=3, max_size=12))
def test_correlation_of_any_finite_values_is_exact(pairs: list[tuple[float, float]]) -> None:
    x, y = [p[0] for p in pairs], [p[1] for p in pairs]
    c = Comoments().add(x, y)
    if len(set(x)) < 2 or len(set(y)) < 2:
        assert math.isnan(c.correlation())
    else:
        assert c.correlation() == exact_correlation(x, y)


def test_correlation_against_numpy() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=5000)
    y = 0.3 * x + rng.normal(size=5000)
    c = Comoments().add(x, y)
    from scipy.stats import pearsonr

    assert c.correlation() == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-13)
    assert c.correlation() == pytest.approx(pearsonr(x, y).statistic, rel=1e-13)
    assert c.covariance() == pytest.approx(np.cov(x, y)[0, 1], rel=1e-13)
    # An exact linear relation is a correlation of exactly 1 (NumPy may give 0.9999999999999998).
    assert Comoments().add(x, 2.0 * x + 1.0).correlation() == 1.0
    assert Comoments().add(x, -x).correlation() == -1.0


def test_correlation_of_tiny_and_huge_values() -> None:
    x = [1e-200, 2e-200, 4e-200, 3e-310]
    y = [1e200, 3e200, 2e200, 1e250]
    assert Comoments().add(x, y).correlation() == exact_correlation(x, y)


def test_correlation_undefined_cases() -> None:
    assert math.isnan(Comoments().add([1.0, 2.0], [3.0, 3.0]).correlation())
    assert math.isnan(Comoments().add([1.0], [3.0]).correlation())
    c = Comoments().add([1.0, 2.0, -math.inf], [1.0, 2.0, 3.0])
    assert c.nonfinite_count == 1 and math.isnan(c.correlation())
    with pytest.raises(ValueError, match="values"):
        Comoments().add([1.0], [1.0, 2.0])


# --- percentiles ------------------------------------------------------------------------------

QS = st.lists(st.floats(min_value=0, max_value=100), min_size=1, max_size=6).map(
    lambda qs: [*qs, 0.0, 50.0, 100.0, 99.9, 0.1]
)


def canonical(x: np.ndarray) -> np.ndarray:
    return x + 0.0  # -0.0 -> 0.0


@settings(max_examples=150, deadline=None)
@given(st.lists(FINITE, min_size=1, max_size=50), QS)
def test_percentiles_are_numpys_bit_for_bit(values: list[float], qs: list[float]) -> None:
    x = np.array(values)
    with np.errstate(over="ignore", invalid="ignore"):
        reference = canonical(np.percentile(x, qs))
    ours = percentiles(x, qs)
    # where b - a overflows NumPy gives ±inf or nan; we interpolate the halves instead
    finite = np.isfinite(reference)
    assert same_arrays(ours[finite], reference[finite])
    assert np.all(np.isfinite(ours))


def test_percentiles_at_infinity_are_the_limit() -> None:
    inf = math.inf
    cases = [
        ([1.0, inf], [0, 50, 100], [1.0, inf, inf]),
        ([inf, inf], [0, 50, 100], [inf, inf, inf]),
        ([1.0, 2.0, inf], [50, 60, 75], [2.0, inf, inf]),
        ([-inf, 1.0], [0, 50, 100], [-inf, -inf, 1.0]),
        ([-inf, -inf, 3.0], [25, 50, 100], [-inf, -inf, 3.0]),
        ([-inf, inf], [0, 50, 100], [-inf, math.nan, inf]),  # no limit between -inf and inf
    ]
    for values, qs, expected in cases:
        assert same_arrays(percentiles(values, qs), np.array(expected)), (values, qs)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.one_of(MODERATE, st.just(math.inf), st.just(-math.inf)), min_size=1, max_size=30),
    st.lists(st.integers(0, 1000).map(lambda k: k / 10), min_size=1, max_size=8),
)
def test_percentiles_with_infinities_are_the_limit_of_huge_values(
    values: list[float], qs: list[float]
) -> None:
    # Replace ±inf by ±L: NumPy's result for large L tends to the limit we report.
    # (Percentiles in steps of 0.1 keep the weight on an infinite neighbour
    # 0 or far above 1/L.)
    x = np.array(values)
    ours = percentiles(x, qs)
    big = np.where(np.isposinf(x), 1e300, np.where(np.isneginf(x), -1e300, x))
    approx = np.percentile(big, qs)
    for value, near in zip(ours.tolist(), approx.tolist(), strict=True):
        if math.isinf(value):
            assert abs(near) > 1e280 and math.copysign(1, near) == math.copysign(1, value)
        elif math.isnan(value):
            assert np.isneginf(x).any() and np.isposinf(x).any()
        else:
            assert abs(near - value) <= 1e-9 * max(1.0, abs(value))


def test_percentiles_leave_nan_out() -> None:
    x = np.array([3.0, math.nan, 1.0, 2.0, math.nan])
    assert same_arrays(percentiles(x, [0, 50, 100]), np.nanpercentile(x, [0, 50, 100]))
    assert np.isnan(percentiles([math.nan], [50])).all()
    assert np.isnan(percentiles([], [50, 99])).all()
    with pytest.raises(ValueError, match="range"):
        percentiles([1.0], [101])


def test_order_keys_sort_like_the_values() -> None:
    x = np.array([-math.inf, -1e308, -1.0, -5e-324, -0.0, 0.0, 5e-324, 1.0, 1e308, math.inf])
    keys = order_keys(x)
    assert np.all(keys[1:] >= keys[:-1]) and keys[4] == keys[5]
    assert sum(int(k != j) for k, j in zip(keys[1:], keys[:-1], strict=True)) == len(x) - 2
    for value, key in zip(x.tolist(), keys.tolist(), strict=True):
        assert same(quantiles._key_value(key), value + 0.0)


ELEMENT = st.one_of(
    MODERATE,
    st.sampled_from([0.0, -0.0, 1.0, 1.0, 2.5, -3.0, math.inf, -math.inf, math.nan, 5e-324, -1e300]),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(ELEMENT, max_size=60), st.data(), st.integers(1, 6), QS)
def test_protocol_equals_local_percentiles(
    values: list[float], data: st.DataObject, max_values: int, qs: list[float]
) -> None:
    x = np.array(values, dtype=np.float64)
    parts = pieces(x, split_points(data, len(values), max_parts=8))
    expected = percentiles(x, qs)
    assert same_arrays(exact_percentiles(parts, qs, max_values=max_values), expected)
    seed = key_histogram(parts[0])
    for part in parts[1:]:
        seed = seed + key_histogram(part)
    assert same_arrays(exact_percentiles(parts, qs, max_values=max_values, histogram=seed), expected)


def test_protocol_against_numpy_on_a_large_split_sample() -> None:
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.lognormal(sigma=3, size=200_000), np.zeros(1000), np.full(5000, 0.25)])
    rng.shuffle(x)
    parts = np.array_split(x, 13)
    ours = exact_percentiles(parts, PANEL_QS, max_values=256)
    assert same_arrays(ours, np.percentile(x, PANEL_QS))


class CountingPart:
    """A part that answers requests and records how many values it sent."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.sent = 0
        self.rounds = 0

    def __call__(self, request: PercentileRequest) -> PercentileResponse:
        response = answer(self.values, request)
        self.sent += sum(v.shape[0] for v in response.values)
        self.rounds += 1
        return response


def test_protocol_sends_few_values_to_the_client() -> None:
    rng = np.random.default_rng(9)
    parts = [CountingPart(rng.exponential(size=50_000)) for _ in range(8)]
    qs = [50, 90, 99]
    result = exact_percentiles(parts, qs, max_values=1000)
    assert same_arrays(result, percentiles(np.concatenate([p.values for p in parts]), qs))
    assert sum(p.sent for p in parts) <= 2 * len(qs) * 1000
    assert all(p.rounds <= 4 for p in parts)


def test_protocol_on_a_billion_equal_values_sends_none() -> None:
    # A part standing for 10**9 copies of 1.5: it answers from the count alone.
    value, count = 1.5, 10**9
    key = int(order_keys([value])[0])

    def billion(request: PercentileRequest) -> PercentileResponse:
        assert not any(low <= key <= high for low, high in request.ranges), "a single key needs no values"
        values = tuple(np.empty(0) for _ in request.ranges)
        if not request.histogram:
            return PercentileResponse(None, values)
        shift = 64 - 16 * (request.depth + 1)
        if request.depth and (key >> (shift + 16)) not in request.prefixes:
            nothing = KeyHistogram(request.depth, np.empty(0, np.uint64), np.empty(0, np.int64))
            return PercentileResponse(nothing, values)
        hist = KeyHistogram(request.depth, np.array([key >> shift], np.uint64), np.array([count], np.int64))
        return PercentileResponse(hist, values)

    assert exact_percentiles([billion, np.array([1.0])], [0, 50, 100]).tolist() == [1.0, 1.5, 1.5]


def test_plan_rejects_answers_to_another_question() -> None:
    plan = PercentilePlan([50])
    with pytest.raises(ValueError, match="does not answer"):
        plan.add(PercentileResponse(None, (np.array([1.0]),)))
    plan.add(answer(np.array([1.0, 2.0]), plan.request() or PercentileRequest()))
    plan.advance()
    assert plan.count == 2
    with pytest.raises(RuntimeError, match="not finished"):
        plan.result()


def test_values_in_ranges() -> None:
    x = np.array([1.0, -2.0, 3.0, math.nan, -0.0])
    keys = order_keys([-2.0, 0.0, 1.0, 3.0])
    found = values_in(x, [(int(keys[2]), int(keys[3])), (int(keys[0]), int(keys[1]))])
    assert sorted(found[0].tolist()) == [1.0, 3.0]
    assert sorted(found[1].tolist()) == [-2.0, 0.0]
    assert bits(next(v for v in found[1].tolist() if v == 0)) == bits(0.0)


def test_key_histogram_counts_and_merges() -> None:
    x = np.array([1.0, 1.0, 2.0, math.nan, -1.0])
    h = key_histogram(x)
    assert h.total == 4 and h.nan_count == 1
    merged = h + key_histogram([2.0, 7.0])
    assert merged.total == 6 and merged.nan_count == 1
    assert sorted(merged.counts.tolist()) == [1, 1, 2, 2]


# --- worst rows ---------------------------------------------------------------------------------


def reference_worst(values: list[float], n: int) -> list[tuple[int, float]]:
    rows = [(i, v) for i, v in enumerate(values) if not math.isnan(v)]
    return sorted(rows, key=lambda rv: (-rv[1], rv[0]))[:n]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.one_of(st.integers(-3, 3).map(float), st.just(math.nan), st.just(math.inf)), max_size=40),
    st.integers(0, 8),
    st.data(),
)
def test_worst_rows_with_ties_whatever_the_split(values: list[float], n: int, data: st.DataObject) -> None:
    x = np.array(values, dtype=np.float64)
    cuts = split_points(data, len(values))
    bounds = [0, *cuts, len(values)]
    parts = []
    for a, b in itertools.pairwise(bounds):
        ids = [f"id{i}" for i in range(a, b)]
        parts.append(WorstRows(n).add(x[a:b], start_row=a, ids=ids))
    order = data.draw(st.permutations(range(len(parts))))
    worst = merge_in_order(parts, order, lambda a, b: a + b)  # type: ignore[operator]
    assert isinstance(worst, WorstRows)
    expected = reference_worst(values, n)
    assert [(r, v) for r, v, _ in worst.rows()] == expected
    assert [i for _, _, i in worst.rows()] == [f"id{r}" for r, _ in expected]


def test_worst_rows_of_a_big_block_match_a_sort() -> None:
    x = np.random.default_rng(1).integers(0, 50, size=100_000).astype(np.float64)
    worst = WorstRows(10).add(x, start_row=1)
    order = np.lexsort((np.arange(x.shape[0]), -x))[:10]
    assert worst.rows() == [(int(i) + 1, float(x[i]), None) for i in order]


def test_worst_rows_checks_ids() -> None:
    with pytest.raises(ValueError, match="ids"):
        WorstRows(2).add([1.0, 2.0], start_row=0, ids=["a"])
    assert WorstRows(0).add([1.0], start_row=0).rows() == []


# --- Summary ------------------------------------------------------------------------------------


def reference_summary(x: np.ndarray, extra: bool = False) -> dict[str, float]:
    qs = sorted([50, 90, 99] + ([0.1, 1, 5, 10, 95, 99.9] if extra else []))
    result: dict[str, float] = {"count": x.shape[0], "mean": math.fsum(x.tolist()) / x.shape[0]}
    if extra:
        result["std_error"] = float(np.std(x, ddof=1) / math.sqrt(x.shape[0]))
    result["min"] = float(x.min())
    for q, v in zip(qs, np.percentile(x, qs).tolist(), strict=True):
        result[stats.percentile_name(q)] = v
    result["max"] = float(x.max())
    result["sum"] = math.fsum(x.tolist())
    return result


def test_summary_fields_against_numpy() -> None:
    x = np.random.default_rng(8).exponential(size=10_001)
    ours = Summary(hold_values=True).add(x).to_dict(std_error=True, extra_percentiles=True)
    reference = reference_summary(x, extra=True)
    assert list(ours) == list(reference)
    for key, value in reference.items():
        assert ours[key] == pytest.approx(value, rel=1e-14), key
    for key in ("count", "min", "p0.1", "p50", "p99.9", "max", "sum"):
        assert ours[key] == reference[key], key


def test_summary_merge_is_bit_for_bit() -> None:
    x = np.random.default_rng(6).lognormal(size=5000)
    whole = Summary(hold_values=True, worst=5).add(x)
    parts = [
        Summary(hold_values=True, worst=5).add(p, start_row=i * 1000) for i, p in enumerate(np.split(x, 5))
    ]
    random.Random(1).shuffle(parts)
    merged = parts[0]
    for p in parts[1:]:
        merged = merged + p
    full = {"std_error": True, "extra_percentiles": True, "nonfinite_counts": True}
    assert merged.to_dict(**full) == whole.to_dict(**full)
    assert merged.worst is not None and whole.worst is not None
    assert merged.worst.rows() == whole.worst.rows()


def test_summary_without_values_is_small_and_takes_protocol_percentiles() -> None:
    rng = np.random.default_rng(10)
    parts = [rng.gamma(0.5, size=20_000) for _ in range(4)]
    partials = [
        Summary(key_histogram=True, worst=3).add(p, start_row=20_000 * i) for i, p in enumerate(parts)
    ]
    merged = partials[0]
    for p in partials[1:]:
        merged = merged + p
    assert max(len(pickle.dumps(p)) for p in partials) < 40_000
    assert len(pickle.dumps(Summary().add(parts[0]))) < 2000
    with pytest.raises(ValueError, match="percentile"):
        merged.to_dict()
    qs = [0.1, 1, 5, 10, 50, 90, 95, 99, 99.9]
    found = exact_percentiles(parts, qs, histogram=merged.key_histogram())
    ours = merged.to_dict(
        extra_percentiles=True, percentile_values=dict(zip(qs, found.tolist(), strict=True))
    )
    local = Summary(hold_values=True).add(np.concatenate(parts)).to_dict(extra_percentiles=True)
    assert ours == local


def test_summary_of_nothing_and_of_nan() -> None:
    empty = Summary().to_dict()
    assert empty["count"] == 0 and all(math.isnan(v) for k, v in empty.items() if k != "count")
    s = Summary(hold_values=True).add([1.0, math.nan, 3.0]).to_dict(nonfinite_counts=True)
    assert math.isnan(s["mean"]) and math.isnan(s["sum"])
    assert (s["min"], s["p50"], s["max"], s["nan_count"]) == (1.0, 2.0, 3.0, 1)


def test_summary_numbers_worst_rows_in_order_by_default() -> None:
    s = Summary(worst=2).add([1.0, 5.0]).add([7.0, 0.0])
    assert s.worst is not None
    assert s.worst.rows() == [(2, 7.0, None), (1, 5.0, None)]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.floats(allow_nan=True), min_size=0, max_size=40), min_size=1, max_size=4),
    QS,
)
def test_a_summary_of_many_values_leaves_them_in_place_with_the_same_percentiles(
    blocks: list[list[float]], qs: list[float]
) -> None:
    """Above COPY_PERCENTILES_BELOW held values the percentiles come from slices, not a copy: same bits."""
    from xent_cli.core.stats import summaries as stats_module

    copied, in_place = Summary(hold_values=True), Summary(hold_values=True)
    for block in blocks:
        copied.add(np.array(block, dtype=np.float64))
        in_place.add(np.array(block, dtype=np.float64))
    if copied.count == 0:
        return
    held = in_place.values().copy()
    expected = copied.percentiles(qs)
    saved = stats_module.COPY_PERCENTILES_BELOW
    stats_module.COPY_PERCENTILES_BELOW = 0
    try:
        found = in_place.percentiles(qs)
    finally:
        stats_module.COPY_PERCENTILES_BELOW = saved
    assert same_arrays(found, expected)
    assert same_arrays(in_place.values(), held)  # nothing reordered
