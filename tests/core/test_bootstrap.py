"""The Poisson bootstrap: weights against Poisson(1) and SplitMix64's published outputs, the compiled
kernel against the NumPy form, sums that do not depend on blocking, and intervals against theory
and scipy.stats.bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from xent_cli.core import bootstrap


def test_splitmix64_matches_the_reference_generator() -> None:
    # Vigna's splitmix64.c: x += 0x9e3779b97f4a7c15, then the mix; seed 0's first outputs.
    expected = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    outputs = bootstrap.splitmix64(0, np.arange(3, dtype=np.uint64))
    assert [int(v) for v in outputs] == expected


def _weight_by_the_definition(seed: int, row: int, resample: int, resamples: int) -> int:
    """The module docstring's weight, in Python integers: SplitMix64 output k = row·⌈B/4⌉ + ⌊b/4⌋,
    its 16-bit piece b mod 4 (lowest bits first), the Poisson(1) inverse CDF to 2**-16."""
    mask = (1 << 64) - 1
    k = row * -(-resamples // 4) + resample // 4
    z = (seed + (k + 1) * 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z ^= z >> 31
    u = (z >> (16 * (resample % 4))) & 0xFFFF
    cdf = 0.0
    for weight in range(8):
        cdf += math.exp(-1) / math.factorial(weight)
        if u < round(cdf * 65536):
            return weight
    return 8


@pytest.mark.parametrize("resamples", [1, 3, 4, 37, 1000])
def test_numpy_weights_follow_the_definition(resamples: int) -> None:
    rng = np.random.default_rng(resamples)
    weights = bootstrap.poisson_weights(20261207, 5000, 300, resamples)
    for row, resample in zip(rng.integers(0, 300, 400), rng.integers(0, resamples, 400), strict=True):
        expected = _weight_by_the_definition(20261207, 5000 + int(row), int(resample), resamples)
        assert weights[row, resample] == expected, (row, resample)
    assert weights.max() <= 8


def test_weights_are_poisson_one() -> None:
    weights = bootstrap.poisson_weights(11, 0, 2000, 1000).ravel()
    observed = np.bincount(weights, minlength=9)
    pmf = stats.poisson.pmf(np.arange(9), 1)
    pmf[-1] += stats.poisson.sf(8, 1)
    # Pool the sparse tail (expected counts above 5 only) for the chi-square test.
    expected = pmf * weights.size
    observed_pooled = [*observed[:6], observed[6:].sum()]
    expected_pooled = [*expected[:6], expected[6:].sum()]
    assert stats.chisquare(observed_pooled, expected_pooled).pvalue > 1e-3
    assert weights.mean() == pytest.approx(1, abs=3e-3)
    assert weights.var() == pytest.approx(1, abs=5e-3)


def test_weights_depend_on_the_row_not_the_block() -> None:
    whole = bootstrap.poisson_weights(3, 100, 50, 37)
    assert np.array_equal(bootstrap.poisson_weights(3, 120, 10, 37), whole[20:30])
    assert not np.array_equal(bootstrap.poisson_weights(4, 100, 50, 37), whole)


def test_compiled_kernel_equals_the_numpy_form(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    columns = [rng.random(3000), rng.exponential(size=3000)]
    compiled = bootstrap.resample_sums(columns, 500, seed=9, resamples=101)
    monkeypatch.setattr(bootstrap, "_compiled", lambda: None)
    reference = bootstrap.resample_sums(columns, 500, seed=9, resamples=101)
    assert np.array_equal(compiled.counts, reference.counts)
    np.testing.assert_allclose(compiled.sums, reference.sums, rtol=1e-12)
    weights = bootstrap.poisson_weights(9, 500, 3000, 101).astype(float)
    np.testing.assert_allclose(compiled.sums[1], columns[1] @ weights, rtol=1e-12)


def test_compiled_kernel_draws_every_weight_of_the_numpy_form() -> None:
    # One measure per row, 1 on that row and 0 elsewhere: sums[i, b] is row i's weight in
    # resample b, so the kernel's 16-bit comparisons are checked weight by weight, the rare
    # ones up to 8 included (1.2M draws: about 100 of 7 and above).
    rows, resamples = 300, 4001
    reference = bootstrap.poisson_weights(7, 12345, rows, resamples)
    assert reference.max() >= 7
    sums = bootstrap.resample_sums(list(np.eye(rows)), 12345, seed=7, resamples=resamples)
    assert np.array_equal(sums.sums, reference.astype(float))
    assert np.array_equal(sums.counts, reference.sum(axis=0))


def test_compiled_counts_past_the_uint16_tally() -> None:
    # The kernel tallies weights in 16-bit lanes and flushes them every TALLY_ROWS rows: a
    # chunk of 20,000 rows flushes twice and ends with a partial tally.
    from xent_cli.core import _bootstrap_numba

    if bootstrap._compiled() is None:
        pytest.skip("numba kernel not available")
    rows = 20_000
    assert rows > 2 * _bootstrap_numba.TALLY_ROWS
    values = np.random.default_rng(4).random(rows)
    sums = bootstrap.resample_sums([values], 77, seed=2, resamples=45)
    weights = bootstrap.poisson_weights(2, 77, rows, 45)
    assert np.array_equal(sums.counts, weights.sum(axis=0, dtype=np.int64))
    # Row by row in order, as the kernel adds (w·x is the same product in any width): bit for bit.
    expected = np.zeros(45)
    for row in range(rows):
        expected += weights[row].astype(float) * values[row]
    np.testing.assert_allclose(sums.sums[0], expected, rtol=1e-15)  # inf exactly where drawn


def test_sums_do_not_depend_on_chunks_or_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    values = np.random.default_rng(2).random(5000)
    whole = bootstrap.resample_sums([values], 0, seed=1, resamples=64)
    monkeypatch.setattr(bootstrap, "CHUNK_ROWS", 333)
    monkeypatch.setattr(bootstrap, "THREADS", 1)
    chunked = bootstrap.resample_sums([values], 0, seed=1, resamples=64)
    assert np.array_equal(whole.sums, chunked.sums)  # bit for bit
    assert np.array_equal(whole.counts, chunked.counts)
    # Two runs of rows add up to the whole (to rounding: each run starts from zero).
    parts = bootstrap.resample_sums([values[:1234]], 0, 1, 64).add(
        bootstrap.resample_sums([values[1234:]], 1234, 1, 64)
    )
    assert np.array_equal(parts.counts, whole.counts)
    np.testing.assert_allclose(parts.sums, whole.sums, rtol=1e-13)


def test_interval_agrees_with_theory_and_scipy() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(2.0, 3.0, 4000)
    sums = bootstrap.resample_sums([values], 0, seed=5, resamples=2000)
    low, high = bootstrap.percentile_interval(sums.means(), 0.95)
    half = 1.959963984540054 * values.std(ddof=1) / math.sqrt(values.size)
    assert low == pytest.approx(values.mean() - half, abs=0.1 * half)
    assert high == pytest.approx(values.mean() + half, abs=0.1 * half)
    scipy_ci = stats.bootstrap((values,), np.mean, n_resamples=2000, method="percentile", random_state=0)
    assert low == pytest.approx(scipy_ci.confidence_interval.low, abs=0.1 * half)
    assert high == pytest.approx(scipy_ci.confidence_interval.high, abs=0.1 * half)
    # By hand: the quantiles of the resample means, linear interpolation.
    weights = bootstrap.poisson_weights(5, 0, 4000, 2000).astype(float)
    means = (values @ weights) / weights.sum(axis=0)
    np.testing.assert_allclose([low, high], np.quantile(means, [0.025, 0.975]), rtol=1e-12)


def test_empty_resamples_are_left_out() -> None:
    sums = bootstrap.resample_sums([np.array([1.5])], 0, seed=0, resamples=500)
    means = sums.means()
    assert 0 < means.size < 500  # about e^-1 of one-row resamples are empty
    assert np.all(means == 1.5)
    assert bootstrap.percentile_interval(means, 0.9) == (1.5, 1.5)


def test_an_infinite_row_counts_only_in_the_resamples_that_draw_it() -> None:
    # a weight of 0 times inf would be nan: every resample is inf if it drew the row, else the
    # mean of the finite rows it drew (the same weights as any other column)
    from xent_cli.core.bootstrap import DEFAULT_SEED, percentile_interval, poisson_weights, resample_sums

    x = np.array([np.inf, 0.1, 0.2, 0.3, -np.inf, 0.4])
    sums = resample_sums([x[:4]], 0, resamples=300)
    weights = poisson_weights(DEFAULT_SEED, 0, 4, 300).astype(np.int64)
    drawn = weights[0] > 0
    finite = weights[1:4].T @ x[1:4]
    expected = np.where(drawn, np.inf, finite)
    np.testing.assert_allclose(sums.sums[0], expected, rtol=1e-15)  # inf exactly where drawn
    assert np.array_equal(sums.counts, weights.sum(axis=0))
    means = sums.means(0)
    low, high = percentile_interval(means, 0.95)
    assert high == np.inf and np.isfinite(low)
    assert low == np.quantile(np.where(np.isinf(means), 1e300, means), 0.025)
    both = resample_sums([x], 0, resamples=300).sums[0]
    w = poisson_weights(DEFAULT_SEED, 0, 6, 300)
    assert np.array_equal(np.isnan(both), (w[0] > 0) & (w[4] > 0))
