"""The numpy backend of the kernels: the plain formulas and the careful method on row ranges.

The public kernels run on this backend (``XENT_KERNELS=numpy``) must give the careful
path's numbers; the helpers are checked against SciPy and exact sums.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr
from scipy.stats import entropy as scipy_entropy

from tests import reference
from tests.core.test_kernels import (
    _reset_backend,  # noqa: F401 - autouse: each test's backend undone
    _use,
    assert_close,
)
from xent_cli.core import kernel_backend, kernels, kernels_numpy
from xent_cli.core.distributions import prepare
from xent_cli.core.measures import entropy_rows, kl_rows


@pytest.mark.parametrize("k", [1, 5, 32, 33, 200])
def test_row_sums_depend_on_the_row_alone(k: int) -> None:
    """The same row gives the same bits wherever it sits in a block, within 2K ulp of the exact sum."""
    rng = np.random.default_rng(k)
    block = rng.random((50, k)) * 10.0 ** rng.integers(-5, 5, size=(50, k))
    sums = kernels_numpy._row_sums(block)
    for lo in (0, 1, 7):
        assert np.array_equal(kernels_numpy._row_sums(block[lo:].copy()), sums[lo:])
        assert np.array_equal(kernels_numpy._row_sums(block[lo : lo + 3]), sums[lo : lo + 3])
    exact = np.array([math.fsum(row) for row in block])
    assert np.all(np.abs(sums - exact) <= 2 * k * np.spacing(exact))


def test_plain_entropy_and_kl_against_scipy() -> None:
    rng = np.random.default_rng(11)
    p = rng.dirichlet(np.full(6, 0.5), size=300)
    q = rng.dirichlet(np.full(6, 0.5), size=300)
    p[::7, 2] = 0.0
    p /= p.sum(axis=1, keepdims=True)
    entropy = kernels_numpy._plain_entropy(p, "probs", 1e-6)
    kl = kernels_numpy._plain_kl(p, q, "probs", "probs", 1e-6)
    assert entropy is not None and kl is not None
    np.testing.assert_allclose(entropy[0], scipy_entropy(p, axis=1), rtol=1e-13, atol=0)
    np.testing.assert_allclose(kl[0], rel_entr(p, q).sum(axis=1), rtol=1e-12, atol=0)
    # Weights are normalized first; one row of q broadcasts against every row of p.
    weights = kernels_numpy._plain_kl(p * 40.0, q[:1] * 3.0, "weights", "weights", 1e-6)
    assert weights is not None
    np.testing.assert_allclose(weights[0], rel_entr(p, q[:1]).sum(axis=1), rtol=1e-12, atol=0)
    # A negative value, a bad total, an empty block: left to prepare().
    assert kernels_numpy._plain_entropy(-p, "probs", 1e-6) is None
    assert kernels_numpy._plain_entropy(p * 1.01, "probs", 1e-6) is None
    assert kernels_numpy._plain_entropy(np.empty((0, 3)), "probs", 1e-6) is None


def test_nearly_one_hot_rows_are_left_to_the_careful_method() -> None:
    p = np.array([[1 - 1e-12, 1e-12], [0.5, 0.5], [0.25, 0.75]])
    entropy = kernels_numpy._plain_entropy(p, "probs", 1e-6)
    assert entropy is not None
    assert entropy[1] == 2  # the rows past 1/2
    assert_close(entropy[0], entropy_rows(prepare(p)))


def test_numpy_pair_block_matches_the_careful_panel_and_scipy() -> None:
    rng = np.random.default_rng(4)
    p = rng.dirichlet(np.ones(5), size=5_000)
    q = rng.dirichlet(np.ones(5), size=5_000)
    targets = rng.integers(0, 5, size=5_000).astype(np.intp)
    panel = kernels_numpy._numpy_pair_block(
        kernels_numpy._careful_panel, p, q, "probs", "probs", 1e-6, targets
    )
    assert panel is not None
    np.testing.assert_allclose(panel["js_distance"], jensenshannon(p, q, axis=1), rtol=1e-10, atol=0)
    np.testing.assert_allclose(panel["kl"], rel_entr(p, q).sum(axis=1), rtol=1e-12, atol=0)
    np.testing.assert_allclose(panel["tv"], 0.5 * np.abs(p - q).sum(axis=1), rtol=1e-12, atol=0)
    np.testing.assert_allclose(
        panel["log_q_target"], np.log(q[np.arange(5_000), targets]), rtol=1e-14, atol=0
    )
    bad = p.copy()
    bad[4_321, 0] = np.nan
    assert (
        kernels_numpy._numpy_pair_block(kernels_numpy._careful_kl, bad, q, "probs", "probs", 1e-6, None)
        is None
    )


@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.sampled_from([2, 10, 37]),
    near_share=st.sampled_from([0.0, 0.05, 0.4, 0.9, 1.0]),
    kind=st.sampled_from(["probs", "weights"]),
)
@settings(max_examples=25, deadline=None)
def test_the_plain_numpy_formulas_keep_the_careful_digits_on_big_mixed_blocks(
    seed: int, k: int, near_share: float, kind: str
) -> None:
    """Blocks of thousands of rows (several passes) mixing rows the plain formulas vouch for and rows
    they leave to the careful method: near-equal pairs, nearly one-hot rows, zeros on either side."""
    _use("numpy")
    rng = np.random.default_rng(seed)
    n = 9_000
    p = rng.dirichlet(np.full(k, 0.7), size=n)
    q = rng.dirichlet(np.full(k, 0.7), size=n)
    near = rng.random(n) < near_share
    scale = 10.0 ** -rng.integers(2, 15, size=(n, 1))
    q[near] = (p * (1 + scale * rng.standard_normal(p.shape)))[near]
    q /= q.sum(axis=1, keepdims=True)
    hot = rng.random(n) < 0.05
    p[hot] = np.eye(k)[rng.integers(0, k, int(hot.sum()))] * (1 - 1e-9) + 1e-9 / k
    zeros = rng.random(p.shape) < 0.02
    p[zeros & ~hot[:, None]] = 0.0
    q[rng.random(q.shape) < 0.01] = 0.0
    p[p.sum(axis=1) == 0, 0] = 1.0
    q[q.sum(axis=1) == 0, 0] = 1.0
    p /= p.sum(axis=1, keepdims=True)
    q /= q.sum(axis=1, keepdims=True)
    if kind == "weights":
        p, q = p * 1e30, q * 3e-20
    pd, qd = prepare(p, kind), prepare(q, kind)  # type: ignore[arg-type]
    kl = kernels.kl_rows_fast(p, q, kind_p=kind)  # type: ignore[arg-type]
    entropy = kernels.entropy_rows_fast(p, kind=kind)  # type: ignore[arg-type]
    assert kl is not None and entropy is not None
    assert kl.backend == entropy.backend == "numpy"
    careful = kl_rows(pd, qd)
    assert_close(kl.values, careful)
    assert_close(entropy.values, entropy_rows(pd))
    # The bound sends every near-equal pair (a KL far below its terms) to the careful method.
    assert kl.recomputed >= np.count_nonzero(careful < 1e-4)
    # A row's value depends on that row alone, bit for bit, not on the rows read with it or
    # where it sits in memory (KL: unless most rows of the block are near-equal pairs).
    for rows in (slice(0, 1), slice(17, 4_000), slice(n - 3, n)):
        alone = kernels.entropy_rows_fast(p[rows].copy(), kind=kind)  # type: ignore[arg-type]
        assert alone is not None and np.array_equal(alone.values, entropy.values[rows])
        if near_share in (0.0, 0.05):
            pair = kernels.kl_rows_fast(p[rows].copy(), q[rows].copy(), kind_p=kind)  # type: ignore[arg-type]
            assert pair is not None and np.array_equal(pair.values, kl.values[rows])


def test_the_plain_formulas_leave_bad_blocks_to_prepare() -> None:
    """A block the careful path rejects gives None on the plain path too, wherever the bad row is."""
    _use("numpy")
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(10), size=20_000)
    q = rng.dirichlet(np.ones(10), size=20_000)
    for bad in (np.nan, -1e-300, np.inf):
        broken = p.copy()
        broken[19_999, 4] = bad
        assert kernels.kl_rows_fast(broken, q) is None
        assert kernels.kl_rows_fast(q, broken) is None
        assert kernels.entropy_rows_fast(broken) is None
    off = p.copy()
    off[12_345] *= 1 + 3e-6  # sums to 1 + 3e-6: outside the default tolerance
    assert kernels.kl_rows_fast(off, q) is None and kernels.entropy_rows_fast(off) is None
    edge = p.copy()
    edge[7] *= 1 + 1e-6 * (1 - 1e-12)  # at the tolerance's edge: the careful path decides (accepts)
    result = kernels.entropy_rows_fast(edge)
    assert result is not None and result.recomputed >= 1
    assert_close(result.values, entropy_rows(prepare(edge)))
    zero_row = rng.dirichlet(np.ones(10), size=20_000)
    zero_row[5] = 0.0
    assert kernels.entropy_rows_fast(zero_row, kind="weights") is None


# --- the plain KL and cross-entropy of logits --------------------------------------------


def _logit_rows(
    seed: int, n: int, k: int, noise: float, dtype: type = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """A language model's logits and a nearby model's (what distillation compares)."""
    rng = np.random.default_rng(seed)
    a = (3 * rng.standard_normal((n, k))).astype(dtype)
    return a, (a + noise * rng.standard_normal((n, k))).astype(dtype)


@pytest.mark.parametrize("which", ["kl", "cross_entropy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_logits_against_mpmath_on_nearly_equal_rows(which: str, dtype: type) -> None:
    """Rows from far apart to equal within 1e-12: every value within 1e-12 of the 50-digit one."""
    _use("numpy")
    rows = [
        _logit_rows(seed, 1, 500, noise, dtype)
        for seed, noise in enumerate([3.0, 0.5, 0.05, 1e-3, 1e-6, 1e-9, 1e-12])
    ]
    a = np.concatenate([pair[0] for pair in rows])
    b = np.concatenate([pair[1] for pair in rows])
    kernel = kernels.kl_rows_fast if which == "kl" else kernels.cross_entropy_rows_fast
    result = kernel(a, b, kind_p="logits")
    assert result is not None and result.backend == "numpy"
    for row in range(a.shape[0]):
        p, q = reference.distribution(a[row], "logits"), reference.distribution(b[row], "logits")
        exact = reference.kl(p, q) if which == "kl" else reference.cross_entropy(p, q)
        assert reference.relative_error(float(result.values[row]), exact) <= 1e-12, row
    # Far-apart rows take a second pass shifted by the first one's normalizers, nearly equal
    # ones the series: none is left to the careful method.
    assert result.recomputed == 0


def test_plain_logits_keep_distillation_sized_rows_without_recomputing() -> None:
    """The benchmark's rows (32,000 logits, noise 0.05, KL about 1e-3) all keep the plain value."""
    _use("numpy")
    a, b = _logit_rows(7, 12, 32_000, 0.05)
    careful = kl_rows(prepare(a, "logits"), prepare(b, "logits"))
    result = kernels.kl_rows_fast(a, b, kind_p="logits")
    assert result is not None and (result.backend, result.recomputed) == ("numpy", 0)
    assert_close(result.values, careful)
    ce = kernels.cross_entropy_rows_fast(a, b, kind_p="logits")
    assert ce is not None and ce.recomputed == 0
    assert_close(ce.values, careful + entropy_rows(prepare(a, "logits")))
    assert np.all(careful > 5e-4) and np.all(careful < 3e-3)  # what the bound was judged on


def test_plain_logits_masks_broadcasting_and_logprobs() -> None:
    """-inf outcomes, one row against many, log-probabilities and their tolerance: as the careful path."""
    _use("numpy")
    a, b = _logit_rows(11, 40, 300, 0.3, np.float64)
    a[3, :10] = -np.inf  # impossible in p only: finite KL
    b[4, 20] = -np.inf  # impossible in q only where p is not: KL = inf
    a[5, 30:40] = b[5, 30:40] = -np.inf  # impossible in both
    pd, qd = prepare(a, "logits"), prepare(b, "logits")
    result = kernels.kl_rows_fast(a, b, kind_p="logits")
    assert result is not None and result.recomputed == 3  # the masked rows are the careful method's
    assert_close(result.values, kl_rows(pd, qd))
    assert result.values[4] == np.inf
    one = kernels.cross_entropy_rows_fast(a[:1], b, kind_p="logits")
    assert one is not None
    assert_close(
        one.values, kl_rows(prepare(a[:1], "logits"), qd) + entropy_rows(prepare(a[:1], "logits"))[0]
    )
    other = kernels.kl_rows_fast(a, b[7:8], kind_p="logits")
    assert other is not None
    assert_close(other.values, kl_rows(pd, prepare(b[7:8], "logits")))
    logprobs = np.where(np.isinf(a), -np.inf, a - np.log(np.sum(np.exp(a), axis=1, keepdims=True)))
    mixed = kernels.kl_rows_fast(logprobs, b, kind_p="logprobs", kind_q="logits")
    assert mixed is not None
    assert_close(mixed.values, kl_rows(pd, qd))
    edge = logprobs.copy()
    edge[9] += 1e-6 * (1 - 1e-12)  # log-sum-exp at the tolerance's edge: the careful path accepts it
    accepted = kernels.kl_rows_fast(b, edge, kind_p="logits", kind_q="logprobs")
    assert accepted is not None and accepted.recomputed >= 1
    assert_close(accepted.values, kl_rows(qd, prepare(edge, "logprobs")))
    edge[9] += 3e-6  # past it: the careful path rejects the block
    assert kernels.kl_rows_fast(b, edge, kind_p="logits", kind_q="logprobs") is None


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_plain_logits_leave_bad_blocks_to_prepare(bad: float) -> None:
    _use("numpy")
    a, b = _logit_rows(13, 30, 100, 0.1)
    for side in (a, b):
        broken = side.copy()
        broken[29, 50] = bad
        pair = (broken, b) if side is a else (a, broken)
        assert kernels.kl_rows_fast(*pair, kind_p="logits") is None
        assert kernels.cross_entropy_rows_fast(*pair, kind_p="logits") is None
    all_masked = a.copy()
    all_masked[2] = -np.inf
    assert kernels.kl_rows_fast(all_masked, b, kind_p="logits") is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_entropy_of_logits_against_mpmath(dtype: type) -> None:
    """Spread-out rows keep the plain value; nearly one-hot ones are the careful method's."""
    _use("numpy")
    rng = np.random.default_rng(17)
    a = (3 * rng.standard_normal((6, 400))).astype(dtype)
    a[4, 7] = 60.0  # nearly one-hot: H about 1e-23
    a[5] = 0.0  # uniform: H = log 400
    result = kernels.entropy_rows_fast(a, kind="logits")
    assert result is not None and (result.backend, result.recomputed) == ("numpy", 1)
    for row in range(a.shape[0]):
        exact = reference.entropy(reference.distribution(a[row], "logits"))
        assert reference.relative_error(float(result.values[row]), exact) <= 1e-12, row
    logprobs = a.astype(np.float64) - np.log(np.sum(np.exp(a.astype(np.float64)), axis=1, keepdims=True))
    as_logprobs = kernels.entropy_rows_fast(logprobs, kind="logprobs")
    assert as_logprobs is not None
    assert_close(as_logprobs.values, result.values)
    logprobs[2] += 3e-6  # log-sum-exp past the tolerance: prepare() says why
    assert kernels.entropy_rows_fast(logprobs, kind="logprobs") is None
    masked = a.copy()
    masked[1, :50] = -np.inf
    with_mask = kernels.entropy_rows_fast(masked, kind="logits")
    assert with_mask is not None
    assert_close(with_mask.values, entropy_rows(prepare(masked, "logits")))
    for bad in (np.nan, np.inf):
        broken = a.copy()
        broken[3, 3] = bad
        assert kernels.entropy_rows_fast(broken, kind="logits") is None


def test_plain_logits_of_unrelated_models() -> None:
    """Rows far apart (the shift's second-order guess, and the second pass where it is off)."""
    _use("numpy")
    rng = np.random.default_rng(23)
    a = (3 * rng.standard_normal((8, 5000))).astype(np.float32)
    b = (3 * rng.standard_normal((8, 5000))).astype(np.float32)
    b[5] = 9 * rng.standard_normal(5000)  # a far wider spread of b - a than the guess can follow
    b[6] = a[6] + 40.0  # shifted by a constant: the same distribution, but for float32 rounding
    pd, qd = prepare(a, "logits"), prepare(b, "logits")
    result = kernels.kl_rows_fast(a, b, kind_p="logits")
    # Only the shifted row is the careful method's: a KL of 5e-13 next to a rounding of b - a
    # (about 40) the bound must allow for.
    assert result is not None and result.recomputed == 1
    assert_close(result.values, kl_rows(pd, qd))
    assert result.values[6] < 1e-12
    ce = kernels.cross_entropy_rows_fast(a, b, kind_p="logits")
    assert ce is not None
    assert_close(ce.values, kl_rows(pd, qd) + entropy_rows(pd))
    for row in (0, 5):
        p, q = reference.distribution(a[row, :300], "logits"), reference.distribution(b[row, :300], "logits")
        small = kernels.kl_rows_fast(a[row : row + 1, :300], b[row : row + 1, :300], kind_p="logits")
        assert small is not None
        assert reference.relative_error(float(small.values[0]), reference.kl(p, q)) <= 1e-12


def test_logits_far_apart_whose_first_shift_leaves_u_near_minus_one() -> None:
    # Found by Hypothesis: the first pass's shift overshot, U = -0.99999955, and log1p(U)
    # magnified U's rounding 2e6 times (3.9e-11 relative) unflagged; now the row is flagged.
    import mpmath

    a = np.array([[-1.35794788, -0.64679149]])
    b = np.array([[6.12275736, -7.66699509]])
    mpmath.mp.dps = 50

    def softmax(x: np.ndarray) -> list[mpmath.mpf]:
        e = [mpmath.exp(mpmath.mpf(float(v))) for v in x]
        return [v / sum(e) for v in e]

    p, q = softmax(a[0]), softmax(b[0])
    exact = float(sum(pi * mpmath.log(pi / qi) for pi, qi in zip(p, q, strict=True)))
    kernel_backend.set_backend("numpy")
    try:
        result = kernels.kl_rows_fast(a, b, kind_p="logits", tolerance=1e-6)
    finally:
        kernel_backend.set_backend(None)
    assert result is not None
    assert abs(result.values[0] - exact) <= 1e-13 * exact
