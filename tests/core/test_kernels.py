"""The fused kernels against the careful method and the 80-digit reference.

Every kernel is run on every backend available here (numba when it imports,
the threaded NumPy fallback, the careful path itself) and must give the careful
path's numbers to tight bounds, the exact reference's to 1e-12 relative, and
``None`` exactly where the careful ``prepare()`` raises.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import reference
from xent_cli.core import kernel_backend, kernels, kernels_numpy
from xent_cli.core.distributions import prepare
from xent_cli.core.measures import cross_entropy_rows, entropy_rows, js_rows, kl_rows
from xent_cli.errors import DistributionError, UsageError

NUMBA = kernel_backend.numba_available()
BACKENDS = ["numba", "numpy", "careful"] if NUMBA else ["numpy", "careful"]
FAST_BACKENDS = [b for b in BACKENDS if b != "careful"]
CLOSE = 1e-12  # fast against careful: both are within ~1e-15 of the truth
BOUND = 1e-12  # against mpmath, as tests/core/test_accuracy.py


@pytest.fixture(autouse=True)
def _reset_backend() -> Iterator[None]:
    yield
    kernel_backend.set_backend(None)


def _use(name: str) -> None:
    kernel_backend.set_backend(name)


def assert_close(fast: np.ndarray, careful: np.ndarray, rel: float = CLOSE) -> None:
    fast, careful = np.asarray(fast, dtype=np.float64), np.asarray(careful, dtype=np.float64)
    assert fast.shape == careful.shape
    same_inf = np.isinf(careful) & (fast == careful)
    tiny = np.abs(careful) < 1e-300  # below the normal range only absolute closeness means anything
    with np.errstate(invalid="ignore"):
        near = np.abs(fast - careful) <= rel * np.abs(careful)
    ok = same_inf | near | (tiny & (np.abs(fast) < 1e-290))
    bad = np.flatnonzero(~ok)
    assert bad.size == 0, f"rows {bad[:5]}: fast {fast[bad[:5]]} careful {careful[bad[:5]]}"


# --- generated blocks ---------------------------------------------------------------


@st.composite
def linear_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, str]:
    """(p, q, kind) blocks of probs or weights, with zeros, one-hots, near-equal pairs, broadcasting."""
    k = draw(st.sampled_from([1, 2, 3, 10, 257]))
    n = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["probs", "weights"]))
    alpha = draw(st.sampled_from([0.05, 0.5, 1.0, 10.0]))
    p = rng.dirichlet(np.full(k, alpha), size=n)
    shape = draw(st.sampled_from(["independent", "near", "one-hot", "zeros", "q-zero"]))
    if shape == "near":
        scale = 10.0 ** -draw(st.integers(1, 15))
        q = p * (1 + scale * rng.standard_normal(p.shape))
        q = q / q.sum(axis=1, keepdims=True)
    else:
        q = rng.dirichlet(np.full(k, alpha), size=n)
    if shape == "one-hot":
        p = np.eye(k)[rng.integers(0, k, n)]
    if shape in ("zeros", "q-zero") and k > 1:
        mask = rng.random(p.shape) < 0.3
        target = q if shape == "q-zero" else p
        target[mask] = 0.0
        target[target.sum(axis=1) == 0, 0] = 1.0
        target /= target.sum(axis=1, keepdims=True)
    if kind == "weights":
        # Nearly equal weights of different totals cancel in p/Sp - q/Sq on the
        # careful path too (the totals' own rounding): scale those alike.
        scale = 10.0 ** draw(st.integers(-200, 200))
        p = p * scale
        q = q * (scale if shape == "near" else 10.0 ** draw(st.integers(-200, 200)))
    if draw(st.booleans()):
        q = q[:1]
    elif draw(st.booleans()):
        p = p[:1]
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    if dtype == np.float32 and kind == "probs":
        p, q = p.astype(np.float32), q.astype(np.float32)
    return np.ascontiguousarray(p), np.ascontiguousarray(q), kind


@st.composite
def log_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, str]:
    """(a, b, kind) blocks of logits or logprobs: big magnitudes, -inf, near-equal pairs, float32."""
    k = draw(st.sampled_from([1, 2, 5, 50, 1000]))
    n = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    magnitude = draw(st.sampled_from([1e-3, 1.0, 3.0, 30.0, 1e4]))
    a = magnitude * rng.standard_normal((n, k))
    shape = draw(st.sampled_from(["independent", "near", "near", "offset", "same"]))
    if shape == "near":
        scale = 10.0 ** -draw(st.integers(1, 15))
        b = a + scale * max(1.0, magnitude) * rng.standard_normal((n, k))
    elif shape == "offset":  # a constant shift: the same distribution
        b = a + draw(st.sampled_from([-1e3, 5.0, 0.25]))
    elif shape == "same":
        b = a.copy()
    else:
        b = magnitude * rng.standard_normal((n, k))
    if k > 1 and draw(st.booleans()):
        # -inf at the same outcomes of p and q. (-inf in one of them alone is
        # left to test_impossible_outcomes_on_one_side: the careful path loses
        # accuracy there, so it is checked against the exact reference instead.)
        mask = rng.random(a.shape) < 0.2
        mask[:, 0] = False  # never a whole row
        mask[:] = mask[0]
        a[mask] = -np.inf
        b[:, mask[0]] = -np.inf
    kind = draw(st.sampled_from(["logits", "logprobs"]))
    if kind == "logprobs":
        a = a - _logsumexp(a)
        b = b - _logsumexp(b)
    if draw(st.booleans()):
        b = b[:1]
    if draw(st.booleans()):
        a, b = a.astype(np.float32), b.astype(np.float32)
    return np.ascontiguousarray(a), np.ascontiguousarray(b), kind


def _logsumexp(x: np.ndarray) -> np.ndarray:
    peak = np.max(x, axis=1, keepdims=True)
    return peak + np.log(np.sum(np.exp(x - peak), axis=1, keepdims=True))


pairs = st.one_of(linear_pairs(), log_pairs())
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _careful(p: np.ndarray, q: np.ndarray, kind: str) -> tuple:
    return prepare(p, kind, name="p"), prepare(q, kind, name="q")  # type: ignore[arg-type]


# --- equality with the careful path on generated blocks -----------------------------


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@given(case=pairs)
@SETTINGS
def test_pair_kernels_equal_the_careful_path(backend: str, case: tuple[np.ndarray, np.ndarray, str]) -> None:
    _use(backend)
    p, q, kind = case
    pd, qd = _careful(p, q, kind)
    n = max(pd.n_rows, qd.n_rows)
    for fast, careful in [
        (kernels.kl_rows_fast, kl_rows),
        (kernels.cross_entropy_rows_fast, cross_entropy_rows),
        (kernels.js_rows_fast, js_rows),
    ]:
        result = fast(p, q, kind_p=kind, tolerance=1e-6)  # type: ignore[arg-type]
        assert result is not None
        assert_close(result.values, np.broadcast_to(careful(pd, qd), (n,)))


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@given(case=pairs, data=st.data())
@SETTINGS
def test_compare_panel_equals_the_careful_path(
    backend: str, case: tuple[np.ndarray, np.ndarray, str], data: st.DataObject
) -> None:
    _use(backend)
    p, q, kind = case
    pd, qd = _careful(p, q, kind)
    n = max(pd.n_rows, qd.n_rows)
    targets = np.array(data.draw(st.lists(st.integers(0, p.shape[1] - 1), min_size=n, max_size=n)))
    result = kernels.compare_rows_fast(p, q, kind_p=kind, targets=targets)  # type: ignore[arg-type]
    assert result is not None
    expected = kernels_numpy._careful_panel(pd, qd, targets)
    assert set(result.measures) == set(kernels.PANEL_MEASURES) | set(kernels.TARGET_MEASURES)
    for key, values in expected.items():
        if key == "top1_agreement":
            continue  # ties decided by rounding may differ: checked below on tie-free rows
        assert_close(result[key], values)
    assert np.all(np.isin(result["top1_agreement"], [0.0, 1.0]))


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@given(case=st.one_of(linear_pairs(), log_pairs()))
@SETTINGS
def test_entropy_kernel_equals_the_careful_path(
    backend: str, case: tuple[np.ndarray, np.ndarray, str]
) -> None:
    _use(backend)
    p, _, kind = case
    result = kernels.entropy_rows_fast(p, kind=kind)  # type: ignore[arg-type]
    assert result is not None
    assert_close(result.values, entropy_rows(prepare(p, kind)))  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_top1_agreement_on_rows_without_ties(backend: str) -> None:
    _use(backend)
    rng = np.random.default_rng(4)
    a = rng.standard_normal((40, 300))
    b = a + 0.5 * rng.standard_normal(a.shape)
    for kind, p, q in [("logits", a, b), ("probs", _softmax(a), _softmax(b))]:
        result = kernels.compare_rows_fast(p, q, kind_p=kind)  # type: ignore[arg-type]
        assert result is not None
        expected = (np.argmax(a, axis=1) == np.argmax(b, axis=1)).astype(float)
        assert np.array_equal(result["top1_agreement"], expected)
        assert 0 < expected.sum() < 40


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --- the exact reference ------------------------------------------------------------

CASES = list(reference.cases(per_family=2))
FAST = {
    "entropy": lambda c: kernels.entropy_rows_fast(c.p[None, :], kind=c.kind),
    "kl": lambda c: kernels.kl_rows_fast(c.p[None, :], c.q[None, :], kind_p=c.kind),
    "cross_entropy": lambda c: kernels.cross_entropy_rows_fast(c.p[None, :], c.q[None, :], kind_p=c.kind),
    "js": lambda c: kernels.js_rows_fast(c.p[None, :], c.q[None, :], kind_p=c.kind),
    "compare.kl": lambda c: kernels.compare_rows_fast(c.p[None, :], c.q[None, :], kind_p=c.kind),
}


def _exact(name: str, case: reference.Case) -> reference.Mpf:
    p = reference.distribution(case.p, case.kind)
    if name == "entropy":
        return reference.entropy(p)
    return reference.REFERENCES[name.removeprefix("compare.")](p, reference.distribution(case.q, case.kind))


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("name", list(FAST))
def test_relative_error_against_mpmath(backend: str, name: str) -> None:
    _use(backend)
    for case in CASES:
        result = FAST[name](case)
        assert result is not None
        value = float(result.values[0])
        assert reference.relative_error(value, _exact(name, case)) <= BOUND, (case.family, value)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_panel_against_mpmath(backend: str) -> None:
    """KL both ways, JS and cross-entropy from one compare pass, on every reference family."""
    _use(backend)
    for case in CASES:
        result = kernels.compare_rows_fast(case.p[None, :], case.q[None, :], kind_p=case.kind)  # type: ignore[arg-type]
        assert result is not None
        p = reference.distribution(case.p, case.kind)
        q = reference.distribution(case.q, case.kind)
        for key, exact in [
            ("kl", reference.kl(p, q)),
            ("kl_reverse", reference.kl(q, p)),
            ("js", reference.js(p, q)),
            ("cross_entropy", reference.cross_entropy(p, q)),
        ]:
            assert reference.relative_error(float(result[key][0]), exact) <= BOUND, (case.family, key)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@given(
    exponent=st.integers(1, 15),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["probs", "logits"]),
    dtype=st.sampled_from([np.float64, np.float32]),
)
@settings(max_examples=40, deadline=None)
def test_nearly_equal_pairs_at_every_scale_against_mpmath(
    backend: str, exponent: int, seed: int, kind: str, dtype: type
) -> None:
    _use(backend)
    rng = np.random.default_rng(seed)
    if kind == "probs":
        p = rng.dirichlet(np.ones(30))
        q = p * (1 + 10.0**-exponent * rng.standard_normal(30))
        q = q / q.sum()
    else:
        p = 3 * rng.standard_normal(30)
        q = p + 10.0**-exponent * rng.standard_normal(30)
    p, q = p.astype(dtype), q.astype(dtype)
    if dtype == np.float32 and kind == "probs":
        q = q / q.sum(dtype=np.float32)
    exact_p, exact_q = reference.distribution(p, kind), reference.distribution(q, kind)
    result = kernels.compare_rows_fast(p[None, :], q[None, :], kind_p=kind)  # type: ignore[arg-type]
    assert result is not None
    if exact_p == exact_q:  # float32 rounding made them equal
        assert result["kl"][0] == 0.0
        return
    for key, exact in [("kl", reference.kl(exact_p, exact_q)), ("js", reference.js(exact_p, exact_q))]:
        assert reference.relative_error(float(result[key][0]), exact) <= BOUND, key


@pytest.mark.skipif(not NUMBA, reason="numba is not installed")
@given(seed=st.integers(0, 2**32 - 1), k=st.sampled_from([2, 3, 8, 300]), side=st.sampled_from("pq"))
@settings(max_examples=30, deadline=None)
def test_impossible_outcomes_on_one_side(seed: int, k: int, side: str) -> None:
    """A -inf logit in p alone or q alone: every panel measure against the exact reference.

    The careful path is not the judge here: its log-space normalizer leaves out
    p's mass where q is 0 (JS and TV come out wrong) and cancels in log1p near -1
    when p is 0 at q's mode (KL loses digits); the compiled kernels get both right.
    """
    _use("numba")
    rng = np.random.default_rng(seed)
    a = 8 * rng.standard_normal(k)
    b = 8 * rng.standard_normal(k)
    impossible = rng.random(k) < 0.5
    kept, dropped = rng.permutation(k)[:2]
    impossible[kept], impossible[dropped] = False, True
    (a if side == "p" else b)[impossible] = -np.inf
    p, q = reference.distribution(a, "logits"), reference.distribution(b, "logits")
    result = kernels.compare_rows_fast(a[None, :], b[None, :], kind_p="logits")
    assert result is not None
    tv = sum(abs(x - y) for x, y in zip(p, q, strict=True)) / 2
    for key, exact in [
        ("kl", reference.kl(p, q)),
        ("kl_reverse", reference.kl(q, p)),
        ("cross_entropy", reference.cross_entropy(p, q)),
        ("js", reference.js(p, q)),
        ("tv", tv),
    ]:
        assert reference.relative_error(float(result[key][0]), exact) <= BOUND, key
    kl = kernels.kl_rows_fast(a[None, :], b[None, :], kind_p="logits")
    assert kl is not None and reference.relative_error(float(kl.values[0]), reference.kl(p, q)) <= BOUND


# --- invalid blocks -------------------------------------------------------------------

GOOD_PROBS = np.array([[0.25, 0.75], [0.5, 0.5]])
GOOD_LOGITS = np.array([[0.0, 1.0], [2.0, -1.0]])
INVALID = [
    ("probs", np.array([[0.25, 0.75], [0.5, np.nan]])),
    ("probs", np.array([[0.25, 0.75], [np.inf, 0.5]])),
    ("probs", np.array([[0.25, 0.75], [-0.1, 1.1]])),
    ("probs", np.array([[0.25, 0.75], [0.5, 0.6]])),
    ("probs", np.array([[0.25, 0.75], [0.5, 0.5 + 1e-6]])),  # by a hair, at the tolerance
    ("weights", np.array([[1.0, 2.0], [0.0, 0.0]])),
    ("weights", np.array([[1.0, -2.0], [1.0, 1.0]])),
    ("logits", np.array([[0.0, 1.0], [-np.inf, -np.inf]])),
    ("logits", np.array([[0.0, np.inf], [1.0, 1.0]])),
    ("logits", np.array([[0.0, np.nan], [1.0, 1.0]])),
    ("logprobs", np.array([[np.log(0.25), np.log(0.75)], [0.0, 0.0]])),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("kind", "bad"), INVALID, ids=lambda x: str(x).replace("\n", ""))
def test_invalid_blocks_return_none_where_prepare_raises(backend: str, kind: str, bad: np.ndarray) -> None:
    _use(backend)
    with pytest.raises(DistributionError):
        prepare(bad, kind)  # type: ignore[arg-type]
    good = GOOD_LOGITS if kind in kernels.LOG_KINDS else GOOD_PROBS
    if kind == "logprobs":
        good = GOOD_LOGITS - _logsumexp(GOOD_LOGITS)
    for dtype in (np.float64, np.float32):
        b, g = bad.astype(dtype), good.astype(dtype)
        assert kernels.entropy_rows_fast(b, kind=kind) is None  # type: ignore[arg-type]
        for fast in (
            kernels.kl_rows_fast,
            kernels.cross_entropy_rows_fast,
            kernels.js_rows_fast,
            kernels.compare_rows_fast,
        ):
            assert fast(b, g, kind_p=kind) is None  # type: ignore[operator]
            assert fast(g, b, kind_p=kind) is None  # type: ignore[operator]


@pytest.mark.parametrize("backend", BACKENDS)
def test_shapes_that_do_not_broadcast_return_none(backend: str) -> None:
    _use(backend)
    assert kernels.kl_rows_fast(np.full((3, 2), 0.5), np.full((2, 2), 0.5)) is None
    assert kernels.kl_rows_fast(np.full((3, 2), 0.5), np.full((3, 4), 0.25)) is None


@pytest.mark.parametrize("backend", BACKENDS)
@given(offset=st.floats(-2e-6, 2e-6), tolerance=st.sampled_from([0.0, 1e-9, 1e-6]))
@settings(max_examples=40, deadline=None)
def test_rows_at_the_tolerance_are_decided_as_prepare_decides(
    backend: str, offset: float, tolerance: float
) -> None:
    _use(backend)
    p = np.array([[0.2, 0.3, 0.5 + offset], [0.1, 0.1, 0.8]])
    try:
        expected = kl_rows(prepare(p, tolerance=tolerance), prepare(GOOD_PROBS[:1, [0, 1, 1]] / 1.75))
    except DistributionError:
        expected = None
    q = GOOD_PROBS[:1, [0, 1, 1]] / 1.75
    result = kernels.kl_rows_fast(p, q, tolerance=tolerance)
    if expected is None:
        assert result is None
    else:
        assert result is not None
        assert_close(result.values, expected)


def test_unknown_kind_and_bad_tolerance_are_errors() -> None:
    with pytest.raises(DistributionError):
        kernels.kl_rows_fast(GOOD_PROBS, GOOD_PROBS, kind_p="counts")  # type: ignore[arg-type]
    with pytest.raises(DistributionError):
        kernels.entropy_rows_fast(GOOD_PROBS, tolerance=-1.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_targets_out_of_range_are_a_caller_error(backend: str) -> None:
    _use(backend)
    for targets in ([0, 2], [0, -1], [0]):
        with pytest.raises(ValueError, match="class indices"):
            kernels.compare_rows_fast(GOOD_PROBS, GOOD_PROBS, targets=targets)


# --- rows at risk, big blocks, dtypes ---------------------------------------------------


@pytest.mark.skipif(not NUMBA, reason="numba is not installed")
def test_rows_at_risk_are_recomputed_carefully() -> None:
    _use("numba")
    rng = np.random.default_rng(0)
    a = 3 * rng.standard_normal((4, 64))
    b = a.copy()
    b[1:, 3] = np.nextafter(b[1:, 3], np.inf)  # KL of ~1e-33: the correction holds, nothing redone
    b[2] = 1e-140 * rng.standard_normal(64)  # KL of ~1e-290: terms near underflow, redone
    a[2] = b[2] + 1e-146 * rng.standard_normal(64)
    result = kernels.kl_rows_fast(a, b, kind_p="logits")
    assert result is not None
    assert result.recomputed == 1
    assert_close(result.values, kl_rows(prepare(a, "logits"), prepare(b, "logits")))
    assert result.values[0] == 0.0 and 0 < result.values[1] < 1e-30
    # A log-sum-exp too close to the tolerance to call by a sum in another order.
    logprobs = a - _logsumexp(a)
    logprobs[3] += 1e-6 * (1 - 1e-9)
    panel = kernels.compare_rows_fast(logprobs, logprobs[::-1].copy(), kind_p="logprobs", tolerance=1e-6)
    assert panel is not None and panel.recomputed == 2
    expected = kernels_numpy._careful_panel(
        prepare(logprobs, "logprobs"), prepare(logprobs[::-1], "logprobs"), None
    )
    for key in ("kl", "js", "tv"):
        assert_close(panel[key], expected[key])


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_big_blocks_on_two_threads_and_wide_rows(backend: str) -> None:
    _use(backend)
    rng = np.random.default_rng(5)
    a = (3 * rng.standard_normal((24, 20_000))).astype(np.float32)
    b = a + (0.05 * rng.standard_normal(a.shape)).astype(np.float32)
    pd, qd = prepare(a, "logits"), prepare(b, "logits")
    result = kernels.compare_rows_fast(a, b, kind_p="logits")
    assert result is not None
    assert_close(result["kl"], kl_rows(pd, qd))
    assert_close(result["js"], js_rows(pd, qd))
    wide = rng.dirichlet(np.ones(256_000), size=2)
    shifted = np.roll(wide, 1, axis=1)
    kl = kernels.kl_rows_fast(wide, shifted)
    assert kl is not None
    assert_close(kl.values, kl_rows(prepare(wide), prepare(shifted)))


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_mixed_dtypes_and_kinds_and_integer_blocks(backend: str) -> None:
    _use(backend)
    rng = np.random.default_rng(6)
    logits = rng.standard_normal((3, 7))
    probs = rng.dirichlet(np.ones(7), size=3)
    expected = kl_rows(prepare(logits, "logits"), prepare(probs))
    result = kernels.kl_rows_fast(logits.astype(np.float32), probs, kind_p="logits", kind_q="probs")
    assert result is not None
    assert_close(result.values, kl_rows(prepare(logits.astype(np.float32), "logits"), prepare(probs)))
    assert_close(result.values, expected, rel=1e-6)  # float32 logits are a different input
    counts = rng.integers(1, 9, size=(3, 7))
    weights = kernels.entropy_rows_fast(counts, kind="weights")
    assert weights is not None
    assert_close(weights.values, entropy_rows(prepare(counts, "weights")))


@pytest.mark.skipif(not NUMBA, reason="numba is not installed")
def test_branch_free_exp_is_within_two_ulp_subnormals_included() -> None:
    from xent_cli.core import _kernels_numba

    rng = np.random.default_rng(7)
    x = -np.concatenate([np.abs(30 * rng.standard_normal(20_000)), np.linspace(700, 746, 5_000)])
    x = np.concatenate([x, [0.0, -0.0, -5e-324, -1e-300, -np.inf, -745.13, -745.14, -800.0]])
    values = np.array([_kernels_numba.exp_nonpositive(v) for v in x])
    exact = np.exp(x)
    assert np.all(np.abs(values - exact) <= 2 * np.spacing(np.maximum(exact, 5e-324)))
    assert values[-4] == 0.0 and values[-1] == 0.0


# --- backend choice -------------------------------------------------------------------------


def test_env_switch_forces_the_careful_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XENT_KERNELS", "careful")
    kernel_backend.set_backend(None)
    big = np.full((64, 2048), 1 / 2048)
    result = kernels.entropy_rows_fast(big)
    assert result is not None and result.backend == "careful"
    assert kernel_backend.backend() == "careful"
    monkeypatch.setenv("XENT_KERNELS", "sideways")
    kernel_backend.set_backend(None)
    with pytest.raises(UsageError, match="XENT_KERNELS"):
        kernel_backend.backend()
    with pytest.raises(UsageError):
        kernel_backend.set_backend("sideways")


def test_auto_keeps_small_blocks_on_the_careful_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XENT_KERNELS", "auto")
    kernel_backend.set_backend(None)
    assert kernel_backend.backend(100) == "careful"
    result = kernels.kl_rows_fast([[0.5, 0.5]], [[0.9, 0.1]])
    assert result is not None and result.backend == "careful"
    assert kernel_backend.backend(10**7, "cross_entropy") == ("numba" if NUMBA else "numpy")
    # The entropy and KL of probabilities have plain NumPy formulas: numba never pays there.
    assert kernel_backend.backend(10**7) == kernel_backend.backend(10**7, "entropy") == "numpy"


def test_without_numba_auto_falls_back_to_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernel_backend, "_state", kernel_backend._State(numba_missing=True))
    monkeypatch.setenv("XENT_KERNELS", "auto")
    assert not kernel_backend.numba_available()
    assert kernel_backend.backend(10**7) == "numpy"
    rng = np.random.default_rng(8)
    a = rng.standard_normal((64, 2048))
    result = kernels.kl_rows_fast(a, a[::-1].copy(), kind_p="logits")
    assert result is not None and result.backend == "numpy"
    assert_close(result.values, kl_rows(prepare(a, "logits"), prepare(a[::-1], "logits")))
    monkeypatch.setenv("XENT_KERNELS", "numba")
    kernel_backend._state.requested = None
    with pytest.raises(UsageError, match="numba"):
        kernel_backend.backend()


def test_the_compiled_module_imports_without_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    """With numba absent the module still imports (doctest collection), and says it is not available."""
    import importlib
    import sys

    for name in ("numba", "numba.extending", "llvmlite"):
        monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
    monkeypatch.delitem(sys.modules, "xent_cli.core._kernels_numba", raising=False)
    module = importlib.import_module("xent_cli.core._kernels_numba")
    assert module.AVAILABLE is False
    assert math.isclose(module.exp_nonpositive(-1.0), math.exp(-1.0), rel_tol=1e-15)
    monkeypatch.delitem(sys.modules, "xent_cli.core._kernels_numba")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_a_forked_child_gets_a_pool_of_its_own(backend: str) -> None:
    """After the parent's threads ran a big block, a forked child (Dask, multiprocessing) still can."""
    _use(backend)
    rng = np.random.default_rng(10)
    a = rng.standard_normal((64, 4096))
    b = a + 0.01 * rng.standard_normal(a.shape)
    expected = kl_rows(prepare(a, "logits"), prepare(b, "logits"))
    assert kernels.kl_rows_fast(a, b, kind_p="logits") is not None
    pid = os.fork()
    if pid == 0:  # the child: report by exit status only
        try:
            result = kernels.kl_rows_fast(a, b, kind_p="logits")
            ok = result is not None and bool(np.allclose(result.values, expected, rtol=1e-12, atol=0))
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_auto_uses_the_numpy_backend_where_numba_would_not_pay(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CSV-sized input stays on the numpy backend even in big blocks; the plain formulas at any size."""
    monkeypatch.setenv("XENT_KERNELS", "auto")
    kernel_backend.set_backend(None)
    rng = np.random.default_rng(11)
    p, q = rng.dirichlet(np.ones(10), size=7000), rng.dirichlet(np.ones(10), size=7000)
    csv = 10_000_000  # 1M rows x 10: below the pay-off for KL and entropy
    assert kernel_backend.backend(p.size, "kl", expected=csv) == "numpy"
    assert kernel_backend.backend(p.size, "entropy", expected=csv) == "numpy"
    assert kernel_backend.backend(p.size, "kl", log=True, expected=csv) == ("numba" if NUMBA else "numpy")
    result = kernels.kl_rows_fast(p, q, expected=csv)
    entropy = kernels.entropy_rows_fast(p, expected=csv)
    assert result is not None and result.backend == "numpy"
    assert entropy is not None and entropy.backend == "numpy"
    assert_close(result.values, kl_rows(prepare(p, "probs"), prepare(q, "probs")))
    assert_close(entropy.values, entropy_rows(prepare(p, "probs")))
    huge = 1 << 30
    assert kernel_backend.backend(p.size, "cross_entropy", expected=huge) == ("numba" if NUMBA else "numpy")
    assert kernel_backend.backend(p.size, "kl", expected=huge) == "numpy"  # the plain formula, at any size
    # unknown: by block size alone
    assert kernel_backend.backend(p.size, "cross_entropy", expected=None) == ("numba" if NUMBA else "numpy")
    assert kernel_backend.backend(p.size, "js") == ("numba" if NUMBA else "numpy")
    assert kernel_backend.backend(p.size, "entropy") == "numpy"


def test_warm_up_starts_only_where_numba_pays(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    monkeypatch.setenv("XENT_KERNELS", "auto")
    kernel_backend.set_backend(None)
    before = {t.ident for t in threading.enumerate()}
    kernels.warm_up("kl", 10, "probs", n_elements=10_000_000)
    started = [t for t in threading.enumerate() if t.ident not in before and t.name == "xent-kernel-warm-up"]
    assert not started
    kernels.warm_up("kl", 32, "logits", n_elements=1 << 30)
    for thread in threading.enumerate():
        if thread.name == "xent-kernel-warm-up":
            thread.join(timeout=120)
    if NUMBA:
        assert kernel_backend.numba_available()


@pytest.mark.parametrize("backend", [*FAST_BACKENDS, "careful"])
@pytest.mark.parametrize("kind", ["weights", "probs"])
def test_a_nearly_one_hot_row_keeps_its_digits(backend: str, kind: str) -> None:
    """-p log p of the largest outcome is about 1 - p: it comes from the others' sum, not from p.

    A row Hypothesis found: p = raw / total alone leaves the entropy 8e-13 off.
    """
    import mpmath

    row = [2.20651348e-18, 6.86277632e-25, 4.47272768e-05, 99.9995059, 2.67727348e-10]
    row += [4.25985431e-04, 1.72376644e-05, 1.69000547e-09, 2.86983722e-14, 6.19529441e-06]
    raw = np.array([row]) / (sum(row) if kind == "probs" else 1.0)
    with mpmath.workdps(50):
        exact = [mpmath.mpf(float(x)) for x in raw[0]]
        total = mpmath.fsum(exact)
        expected = float(-mpmath.fsum((x / total) * mpmath.log(x / total) for x in exact))
    if backend == "careful":
        value = entropy_rows(prepare(raw, kind))[0]  # type: ignore[arg-type]
    else:
        _use(backend)
        result = kernels.entropy_rows_fast(np.repeat(raw, 70_000, axis=0), kind=kind)  # type: ignore[arg-type]
        assert result is not None
        value = result.values[0]
    assert value == pytest.approx(expected, rel=1e-14)
