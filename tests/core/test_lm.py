"""The language-model panel against independent NumPy/SciPy/mpmath references.

The data are generated logits: a reference model P, a perturbed copy Q, and
target tokens sampled from P, as a quantized model would be compared with its
original.
"""

from __future__ import annotations

import itertools
import math
import pickle
from collections.abc import Sequence

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import log_softmax, rel_entr, softmax

from xent_cli.core.distributions import prepare
from xent_cli.core.lm import (
    PANEL_PERCENTILES,
    LMPanel,
    coarsened_pair,
    coarsened_rows,
    delta_p_rows,
    lm_rows,
    target_logprobs,
    topk_lm_rows,
)
from xent_cli.core.stats import exact_percentiles, percentile_name
from xent_cli.errors import DistributionError

PANEL_QS = [0, *PANEL_PERCENTILES, 100]


def generated(n: int, k: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logits of a reference model, a perturbed copy, and tokens sampled from the reference."""
    rng = np.random.default_rng(seed)
    p_logits = rng.normal(scale=2.5, size=(n, k))
    q_logits = p_logits + rng.normal(scale=noise, size=(n, k))
    p = softmax(p_logits, axis=1)
    targets = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return p_logits, q_logits, np.minimum(targets, k - 1)


def panel_of(
    p_logits: np.ndarray, q_logits: np.ndarray, targets: np.ndarray | None, **options: bool
) -> LMPanel:
    p, q = prepare(p_logits, "logits"), prepare(q_logits, "logits", name="q")
    return LMPanel(**options).add(lm_rows(p, q, targets))


def sem(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1) / math.sqrt(x.shape[0]))


def same_dicts(a: dict[str, float | int], b: dict[str, float | int]) -> bool:
    if list(a) != list(b):
        return False
    return all(
        (isinstance(x, float) and math.isnan(x) and math.isnan(y)) or x == y
        for x, y in zip(a.values(), b.values(), strict=True)
    )


# --- the panel against NumPy ------------------------------------------------------------------


def test_panel_against_numpy_on_generated_logits() -> None:
    p_logits, q_logits, y = generated(3000, 64, noise=0.1, seed=1)
    fields = panel_of(p_logits, q_logits, y).to_dict()
    n = y.shape[0]
    rows = np.arange(n)
    p, q = softmax(p_logits, axis=1), softmax(q_logits, axis=1)
    lp, lq = log_softmax(p_logits, axis=1), log_softmax(q_logits, axis=1)
    kl = rel_entr(p, q).sum(axis=1)
    same = (p.argmax(axis=1) == q.argmax(axis=1)).astype(float)
    nll_p, nll_q = -lp[rows, y], -lq[rows, y]
    delta = q[rows, y] - p[rows, y]
    expected = {
        "count": n,
        "kl.mean": kl.mean(),
        "kl.std_error": sem(kl),
        **{
            f"kl.{percentile_name(q_)}": v
            for q_, v in zip(PANEL_PERCENTILES, np.percentile(kl, PANEL_PERCENTILES), strict=True)
        },
        "kl.min": kl.min(),
        "kl.max": kl.max(),
        "same_top1": same.mean(),
        "same_top1_std_error": sem(same),
        "nll_p": nll_p.mean(),
        "nll_p_std_error": sem(nll_p),
        "nll_q": nll_q.mean(),
        "nll_q_std_error": sem(nll_q),
        "ppl_p": math.exp(nll_p.mean()),
        "ppl_q": math.exp(nll_q.mean()),
        "ppl_p_std_error": math.exp(nll_p.mean()) * sem(nll_p),
        "ln_ppl_ratio": (nll_q - nll_p).mean(),
        "ln_ppl_ratio_std_error": sem(nll_q - nll_p),
        "ppl_ratio": math.exp((nll_q - nll_p).mean()),
        "logprob_correlation": np.corrcoef(lp[rows, y], lq[rows, y])[0, 1],
        "delta_p.mean": delta.mean(),
        "delta_p.std_error": sem(delta),
        "delta_p.rms": math.sqrt(np.mean(delta**2)),
        **{
            f"delta_p.{percentile_name(q_)}": v
            for q_, v in zip(PANEL_PERCENTILES, np.percentile(delta, PANEL_PERCENTILES), strict=True)
        },
        "delta_p.min": delta.min(),
        "delta_p.max": delta.max(),
    }
    for key, value in expected.items():
        assert fields[key] == pytest.approx(value, rel=1e-9, abs=1e-15), key
    assert 0.5 < fields["same_top1"] < 1 and fields["ppl_ratio"] > 1


def test_ln_ppl_ratio_error_equals_the_covariance_formula() -> None:
    # llama.cpp: sqrt(se_q^2 + se_p^2 - 2 cov(mean nll_q, mean nll_p)); the same in exact arithmetic.
    p_logits, q_logits, y = generated(2000, 32, noise=0.3, seed=2)
    fields = panel_of(p_logits, q_logits, y).to_dict()
    rows = np.arange(y.shape[0])
    nll_p = -log_softmax(p_logits, axis=1)[rows, y]
    nll_q = -log_softmax(q_logits, axis=1)[rows, y]
    n = y.shape[0]
    cov_of_means = np.cov(nll_q, nll_p)[0, 1] / n
    llama = math.sqrt(sem(nll_q) ** 2 + sem(nll_p) ** 2 - 2 * cov_of_means)
    assert fields["ln_ppl_ratio_std_error"] == pytest.approx(llama, rel=1e-9)


def test_same_top1_error_is_the_binomial_formula() -> None:
    p_logits, q_logits, _ = generated(999, 8, noise=1.0, seed=3)
    fields = panel_of(p_logits, q_logits, None).to_dict()
    share = fields["same_top1"]
    assert fields["same_top1_std_error"] == pytest.approx(math.sqrt(share * (1 - share) / 998), rel=1e-14)
    assert "nll_p" not in fields and "delta_p.mean" not in fields


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, 400), max_size=5), st.randoms(use_true_random=False))
def test_panel_merge_is_bit_for_bit(cuts: list[int], rnd: object) -> None:
    p_logits, q_logits, y = generated(400, 16, noise=0.2, seed=4)
    p, q = prepare(p_logits, "logits"), prepare(q_logits, "logits")
    rows = lm_rows(p, q, y)
    whole = LMPanel(worst=4).add(rows).to_dict()
    bounds = [0, *sorted(cuts), 400]
    parts = []
    for a, b in itertools.pairwise(bounds):
        pa, qa = prepare(p_logits[a:b], "logits"), prepare(q_logits[a:b], "logits")
        parts.append(LMPanel(worst=4).add(lm_rows(pa, qa, y[a:b]), start_row=a))
    rnd.shuffle(parts)  # type: ignore[attr-defined]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged + part
    assert same_dicts(merged.to_dict(), whole)
    assert merged.kl.worst is not None
    order = np.lexsort((np.arange(400), -rows.kl))[:4]
    assert [r for r, _, _ in merged.kl.worst.rows()] == order.tolist()


def test_panel_percentiles_from_the_distributed_protocol() -> None:
    p_logits, q_logits, y = generated(1200, 16, noise=0.2, seed=5)
    blocks = np.array_split(np.arange(1200), 4)
    partials, kl_parts, dp_parts = [], [], []
    for rows_in in blocks:
        p = prepare(p_logits[rows_in], "logits")
        q = prepare(q_logits[rows_in], "logits")
        rows = lm_rows(p, q, y[rows_in])
        partials.append(LMPanel(hold_values=False, key_histogram=True).add(rows, start_row=int(rows_in[0])))
        kl_parts.append(rows.kl)
        assert rows.delta_p is not None
        dp_parts.append(rows.delta_p)
    merged = partials[0]
    for part in partials[1:]:
        merged = merged + part
    assert len(pickle.dumps(partials[0])) < 60_000
    with pytest.raises(ValueError, match="percentiles"):
        merged.to_dict()
    found = {}
    for name, parts in (("kl", kl_parts), ("delta_p", dp_parts)):
        seed = merged.summaries()[name].key_histogram()
        values = exact_percentiles(parts, PANEL_PERCENTILES, histogram=seed)
        found[name] = dict(zip(PANEL_PERCENTILES, values.tolist(), strict=True))
    local = panel_of(p_logits, q_logits, y).to_dict()
    assert same_dicts(merged.to_dict(percentile_values=found), local)


def test_panel_in_bits() -> None:
    p_logits, q_logits, y = generated(300, 8, noise=0.2, seed=6)
    nats = panel_of(p_logits, q_logits, y).to_dict()
    bits = panel_of(p_logits, q_logits, y).to_dict(log_base=2)
    ln2 = math.log(2)
    for key in ("kl.mean", "kl.p99", "kl.std_error", "nll_p", "ln_ppl_ratio", "ln_ppl_ratio_std_error"):
        assert bits[key] == pytest.approx(nats[key] / ln2, rel=1e-15), key
    for key in ("ppl_p", "ppl_ratio", "same_top1", "delta_p.mean", "logprob_correlation"):
        assert bits[key] == nats[key], key


def test_panel_refuses_mixed_blocks() -> None:
    p_logits, q_logits, y = generated(10, 4, noise=0.2, seed=7)
    p, q = prepare(p_logits, "logits"), prepare(q_logits, "logits")
    panel = LMPanel().add(lm_rows(p, q, y))
    with pytest.raises(ValueError, match="targets"):
        panel.add(lm_rows(p, q))
    with pytest.raises(ValueError, match="targets"):
        panel.merge(LMPanel().add(lm_rows(p, q)))


def test_empty_and_single_row_panels() -> None:
    fields = LMPanel().to_dict()
    assert fields["count"] == 0 and math.isnan(fields["kl.mean"]) and math.isnan(fields["same_top1"])
    one = LMPanel().add(lm_rows(prepare([[0.0, 1.0]], "logits"), prepare([[1.0, 0.0]], "logits"), [1]))
    fields = one.to_dict()
    assert fields["same_top1"] == 0.0 and math.isnan(fields["same_top1_std_error"])
    assert math.isnan(fields["kl.std_error"]) and fields["kl.p50"] == fields["kl.max"]


def test_panel_with_an_impossible_target() -> None:
    # Q gives the actual token probability 0: its NLL and perplexity are inf.
    p = prepare([[0.5, 0.5], [0.25, 0.75]])
    q = prepare([[1.0, 0.0], [0.5, 0.5]], name="q")
    fields = LMPanel().add(lm_rows(p, q, [1, 0])).to_dict()
    assert fields["nll_q"] == math.inf and fields["ppl_q"] == math.inf
    assert fields["ln_ppl_ratio"] == math.inf and fields["kl.max"] == math.inf
    assert math.isnan(fields["logprob_correlation"])
    assert fields["delta_p.min"] == -0.5


# --- per-row accuracy -------------------------------------------------------------------------


def mp_softmax(row: Sequence[float], index: int) -> mpmath.mpf:
    values = [mpmath.mpf(v) for v in row]
    return mpmath.exp(values[index]) / mpmath.fsum(mpmath.exp(v) for v in values)


def test_delta_p_of_nearly_equal_models_keeps_its_digits() -> None:
    rng = np.random.default_rng(8)
    p_logits = rng.normal(size=(20, 12))
    q_logits = p_logits + rng.normal(scale=1e-9, size=(20, 12))
    y = rng.integers(0, 12, size=20)
    rows = lm_rows(prepare(p_logits, "logits"), prepare(q_logits, "logits"), y)
    assert rows.delta_p is not None and rows.log_ratio_target is not None
    with mpmath.workdps(60):
        for i in range(20):
            p_y = mp_softmax(p_logits[i], int(y[i]))
            q_y = mp_softmax(q_logits[i], int(y[i]))
            assert float(rows.delta_p[i]) == pytest.approx(float(q_y - p_y), rel=1e-9)
            assert float(rows.log_ratio_target[i]) == pytest.approx(float(mpmath.log(p_y / q_y)), rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.floats(-700, 0), st.floats(-1e-3, 1e-3))
def test_delta_p_from_logprobs_against_mpmath(log_p: float, gap: float) -> None:
    log_q = min(log_p + gap, 0.0)
    ours = float(delta_p_rows([log_p], [log_q])[0])
    with mpmath.workdps(400):  # enough digits to survive the cancellation of a gap down to 1e-320
        exact = float(mpmath.exp(mpmath.mpf(log_q)) - mpmath.exp(mpmath.mpf(log_p)))
    assert ours == pytest.approx(exact, rel=4e-16, abs=1e-320)


def test_delta_p_with_zero_probabilities() -> None:
    result = delta_p_rows([-math.inf, -math.inf, math.log(0.5)], [math.log(0.25), -math.inf, -math.inf])
    assert result.tolist() == [0.25, 0.0, -0.5]


def test_target_logprobs_and_their_errors() -> None:
    log_probs = np.log([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    assert target_logprobs(log_probs, [1, 0, 1]).tolist() == [math.log(0.8), math.log(0.6), math.log(0.5)]
    with pytest.raises(DistributionError) as info:
        target_logprobs(log_probs, [1, 2, 0])
    assert (info.value.reason, info.value.row, info.value.name) == ("target", 1, "target")
    assert "out of range 0..1" in str(info.value)
    with pytest.raises(DistributionError, match="expected 3 target tokens") as info:
        target_logprobs(log_probs, [1, 0])
    assert info.value.reason == "shape"
    with pytest.raises(DistributionError) as info:
        target_logprobs(log_probs, [1.0, 0.0, 1.0])
    assert info.value.reason == "target_type"


# --- top-k coarsening -------------------------------------------------------------------------


def top_list(probs: np.ndarray, k: int, names: list[str]) -> tuple[list[str], np.ndarray]:
    order = np.argsort(-probs, kind="stable")[:k]
    return [names[i] for i in order], np.log(probs[order])


def direct_coarsened_kl(p: np.ndarray, q: np.ndarray, shared: list[int]) -> float:
    p_coarse = np.append(p[shared], 1 - p[shared].sum())
    q_coarse = np.append(q[shared], 1 - q[shared].sum())
    return float(rel_entr(p_coarse, q_coarse).sum())


def test_coarsening_against_a_direct_computation() -> None:
    rng = np.random.default_rng(9)
    names = [f"t{i}" for i in range(40)]
    pairs, expected, full, outside = [], [], [], []
    disjoint_seen = one_sided_seen = False
    for _ in range(200):
        logits = rng.normal(scale=2, size=40)
        p = softmax(logits)
        q = softmax(logits + rng.normal(scale=rng.choice([0.05, 1.0, 5.0]), size=40))
        k_p, k_q = int(rng.integers(1, 8)), int(rng.integers(1, 8))
        p_tokens, p_logs = top_list(p, k_p, names)
        q_tokens, q_logs = top_list(q, k_q, names)
        pair = coarsened_pair(p_tokens, p_logs, q_tokens, q_logs)
        shared = [names.index(t) for t in p_tokens if t in q_tokens]
        assert [names[i] for i in shared] == list(pair.tokens)
        disjoint_seen |= not shared
        one_sided_seen |= len(shared) < max(k_p, k_q)
        pairs.append(pair)
        expected.append(direct_coarsened_kl(p, q, shared))
        full.append(float(rel_entr(p, q).sum()))
        outside.append(1 - p[[names.index(t) for t in p_tokens]].sum())
        assert pair.same_top1 == (p.argmax() == q.argmax())
    rows = topk_lm_rows(coarsened_rows(pairs))
    assert disjoint_seen and one_sided_seen
    np.testing.assert_allclose(rows.kl, expected, rtol=1e-9, atol=1e-15)
    assert np.all(rows.kl <= np.array(full) * (1 + 1e-12) + 1e-15)  # the data-processing inequality
    assert rows.p_outside is not None
    np.testing.assert_allclose(rows.p_outside, outside, rtol=1e-9, atol=1e-15)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(-8, 8), min_size=2, max_size=12),
    st.lists(st.floats(-8, 8), min_size=2, max_size=12),
    st.integers(1, 12),
    st.integers(1, 12),
)
def test_coarsened_kl_is_a_lower_bound(p_logits: list[float], shift: list[float], k_p: int, k_q: int) -> None:
    n = min(len(p_logits), len(shift))
    p = softmax(np.array(p_logits[:n]))
    q = softmax(np.array(p_logits[:n]) + np.array(shift[:n]))
    names = [str(i) for i in range(n)]
    pair = coarsened_pair(*top_list(p, k_p, names), *top_list(q, k_q, names))
    coarse = float(topk_lm_rows(coarsened_rows([pair])).kl[0])
    with mpmath.workdps(40):  # the full KL of p and q normalized exactly, free of cancellation
        p_mp, q_mp = [mpmath.mpf(v) for v in p], [mpmath.mpf(v) for v in q]
        p_total, q_total = mpmath.fsum(p_mp), mpmath.fsum(q_mp)
        full = float(
            mpmath.fsum(
                a / p_total * mpmath.log((a / p_total) / (b / q_total))
                for a, b in zip(p_mp, q_mp, strict=True)
            )
        )
    # Equality (up to rounding) when the coarsening loses nothing, e.g. both
    # lists hold all but one token. The rest bucket's masses are rebuilt as
    # 1 - (listed mass) from inputs that sum to 1 only within a few ulps, so
    # allow for that rounding through the rest term's sensitivity.
    listed_p = {names.index(t) for t in pair.tokens}
    p_rest = float(sum(p[i] for i in range(n) if i not in listed_p))
    q_rest = float(sum(q[i] for i in range(n) if i not in listed_p))
    slack = (
        1e-15 * (1 + p_rest / q_rest + abs(math.log(p_rest / q_rest))) if p_rest > 0 and q_rest > 0 else 0.0
    )
    assert 0 <= coarse <= full * (1 + 1e-9) + 1e-15 + slack


def test_disjoint_lists_give_zero_and_full_lists_the_full_kl() -> None:
    pair = coarsened_pair(["a", "b"], np.log([0.5, 0.4]), ["c", "d"], np.log([0.7, 0.2]))
    assert pair.tokens == () and float(topk_lm_rows(coarsened_rows([pair])).kl[0]) == 0.0
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    pair = coarsened_pair(list("abc"), np.log(p), list("cab"), np.log(q[[2, 0, 1]]))
    assert float(topk_lm_rows(coarsened_rows([pair])).kl[0]) == pytest.approx(rel_entr(p, q).sum(), rel=1e-14)
    assert pair.p_outside == 0.0


def test_lists_of_every_token_give_the_full_kl_despite_rounding() -> None:
    # Both lists hold all tokens; their outside masses are rounding noise, not mass.
    p, q = softmax(np.array([0.0, 0.75])), softmax(np.array([0.0, 1.75]))
    pair = coarsened_pair(["a", "b"], np.log(p), ["a", "b"], np.log(q))
    assert pair.p_outside == pair.q_outside == 0.0
    kl = float(topk_lm_rows(coarsened_rows([pair])).kl[0])
    assert kl == pytest.approx(float(rel_entr(p, q).sum()), rel=1e-12)


def test_a_small_tail_is_kept_and_an_empty_one_is_infinite() -> None:
    # P leaves 5e-7 outside its list, Q 1e-9: far below the tolerance, but the
    # tail is where a quantized model's divergence can sit.
    pair = coarsened_pair(["a"], [math.log1p(-5e-7)], ["a"], [math.log1p(-1e-9)])
    kl = float(topk_lm_rows(coarsened_rows([pair])).kl[0])
    exact = (1 - 5e-7) * math.log((1 - 5e-7) / (1 - 1e-9)) + 5e-7 * math.log(5e-7 / 1e-9)
    assert kl == pytest.approx(exact, rel=1e-6)
    # Q's list holds all its mass (within the tolerance) but P puts mass elsewhere.
    pair = coarsened_pair(["a", "b"], np.log([0.5, 0.5]), ["a"], [0.0])
    assert float(topk_lm_rows(coarsened_rows([pair])).kl[0]) == math.inf


def test_outside_mass_has_no_cancellation() -> None:
    pair = coarsened_pair(["a"], [-1e-12], ["a"], [-2e-12])
    assert pair.p_outside == pytest.approx(1e-12, rel=1e-11)  # 1 - exp(-1e-12) would lose 4 digits
    kl = float(topk_lm_rows(coarsened_rows([pair])).kl[0])
    with mpmath.workdps(50):
        p_rest, q_rest = -mpmath.expm1(mpmath.mpf(-1e-12)), -mpmath.expm1(mpmath.mpf(-2e-12))
        p_a, q_a = 1 - p_rest, 1 - q_rest
        exact = p_a * mpmath.log(p_a / q_a) + p_rest * mpmath.log(p_rest / q_rest)
    assert kl == pytest.approx(float(exact), rel=1e-6)


def test_rounded_api_logprobs_of_zero_stay_finite() -> None:
    # An API rounds a near-certain token to logprob 0.0; its other listed
    # tokens still put mass in Q's rest bucket, so the KL stays finite.
    pair = coarsened_pair(["a", "b"], [-1e-5, -12.0], ["a", "c"], [0.0, -20.0])
    assert pair.q_outside == 0.0
    kl = float(topk_lm_rows(coarsened_rows([pair])).kl[0])
    assert 0 < kl < math.inf
    within = coarsened_pair(["a", "b"], [1e-9, math.log(1e-9)], ["a"], [-1e-3])
    assert float(np.exp(within.p_log).sum()) == pytest.approx(1.0, abs=1e-15)


def test_ties_for_the_top_take_the_first_listed() -> None:
    assert coarsened_pair(["a", "b"], [-0.7, -0.7], ["a", "b"], [-0.7, -0.7]).same_top1
    assert not coarsened_pair(["a", "b"], [-0.7, -0.7], ["b", "a"], [-0.7, -0.7]).same_top1


@pytest.mark.parametrize(
    ("p", "q", "reason", "name", "column"),
    [
        ((["a", "b"], [-0.1, -3.0]), (["a", "b"], [-0.1, 0.5]), "logprob_positive", "q", 1),
        ((["a", "b"], [math.log(0.7), math.log(0.6)]), (["a"], [-1.0]), "topk_mass", "p", None),
        ((["a", "b", "a"], [-1.0, -2.0, -3.0]), (["a"], [-1.0]), "duplicate_token", "p", 2),
        ((["a"], [math.nan]), (["a"], [-1.0]), "nonfinite", "p", 0),
        (([], []), (["a"], [-1.0]), "empty", "p", None),
        ((["a", "b"], [-1.0]), (["a"], [-1.0]), "shape", "p", None),
    ],
)
def test_top_lists_are_validated(
    p: tuple[list[str], list[float]],
    q: tuple[list[str], list[float]],
    reason: str,
    name: str,
    column: int | None,
) -> None:
    with pytest.raises(DistributionError) as info:
        coarsened_pair(*p, *q, row=7)
    error = info.value
    assert (error.reason, error.name, error.row, error.column) == (reason, name, 7, column)
    assert str(error).startswith(f"{name}: row 7")


def test_panel_of_top_logprob_rows() -> None:
    pairs = [
        coarsened_pair(["a", "b"], np.log([0.6, 0.3]), ["a", "c"], np.log([0.5, 0.4])),
        coarsened_pair(["x", "y"], np.log([0.9, 0.05]), ["y", "x"], np.log([0.5, 0.45])),
    ]
    fields = LMPanel().add(topk_lm_rows(coarsened_rows(pairs))).to_dict()
    assert fields["same_top1"] == 0.5
    assert fields["p_outside_topk.mean"] == pytest.approx(0.075, rel=1e-12)
    assert fields["p_outside_topk.max"] == pytest.approx(0.1, rel=1e-12)
    assert fields["kl.max"] == pytest.approx(
        direct_coarsened_kl(np.array([0.9, 0.05]), np.array([0.45, 0.5]), [0, 1]), rel=1e-12
    )
