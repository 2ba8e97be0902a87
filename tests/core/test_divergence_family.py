"""Rényi, Tsallis, χ², Bhattacharyya and Jeffreys against mpmath (80 digits), on random rows and on
nearly equal rows, where the textbook formulas cancel."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from tests import reference
from tests.reference import Mpf
from xent_cli.core.distributions import prepare
from xent_cli.core.measures import (
    bhattacharyya_rows,
    chi2_rows,
    jeffreys_rows,
    pair_terms,
    renyi_rows,
    tsallis_rows,
)

# Orders near 0, near 1 (where ψ's closed form cancels most, and 1/(α − 1) is large) and far past 1.
ORDERS = (0.01, 0.2, 0.5, 0.9, 0.999, 1.001, 1.1, 2.0, 3.0, 7.0)
# The subnormal row's floats do not sum to 1 exactly: 1/(α − 1) near 1 would magnify that beyond the bound.
SUBNORMAL_ORDERS = (0.5, 0.9, 1.1, 2.0, 3.0)


def _power_sum(p: list[Mpf], q: list[Mpf], alpha: float) -> Mpf:
    a = Mpf(alpha)
    if alpha > 1 and any(x > 0 and y == 0 for x, y in zip(p, q, strict=True)):
        return mpmath.inf
    return mpmath.fsum(x**a * y ** (1 - a) for x, y in zip(p, q, strict=True) if x > 0 and y > 0)


def _references(p: list[Mpf], q: list[Mpf]) -> dict[str, Mpf]:
    out: dict[str, Mpf] = {}
    for alpha in ORDERS:
        s = _power_sum(p, q, alpha)
        out[f"renyi:{alpha}"] = mpmath.log(s) / (alpha - 1) if s != mpmath.inf else mpmath.inf
        out[f"tsallis:{alpha}"] = (s - 1) / (alpha - 1) if s != mpmath.inf else mpmath.inf
    if any(x > 0 and y == 0 for x, y in zip(p, q, strict=True)):
        out["chi2"] = mpmath.inf
    else:
        out["chi2"] = mpmath.fsum((x - y) ** 2 / y for x, y in zip(p, q, strict=True) if y > 0)
    bc = mpmath.fsum(mpmath.sqrt(x * y) for x, y in zip(p, q, strict=True))
    out["bhattacharyya"] = -mpmath.log(bc) if bc > 0 else mpmath.inf
    out["jeffreys"] = reference.kl(p, q) + reference.kl(q, p)
    return out


def _computed(case: reference.Case) -> dict[str, float]:
    p = prepare(case.p, case.kind)  # type: ignore[arg-type]
    q = prepare(case.q, case.kind)  # type: ignore[arg-type]
    t = pair_terms(p, q)
    out = {}
    for alpha in ORDERS:
        out[f"renyi:{alpha}"] = float(renyi_rows(t, alpha)[0])
        out[f"tsallis:{alpha}"] = float(tsallis_rows(t, alpha)[0])
    out["chi2"] = float(chi2_rows(t)[0])
    out["bhattacharyya"] = float(bhattacharyya_rows(t)[0])
    out["jeffreys"] = float(jeffreys_rows(t)[0])
    return out


FAMILIES = sorted({c.family for c in reference.cases(per_family=1)})


@pytest.mark.parametrize("family", FAMILIES)
def test_within_1e12_of_mpmath(family: str) -> None:
    worst: dict[str, float] = {}
    for case in reference.cases(seed=11, per_family=3):
        if case.family != family:
            continue
        exact = _references(
            reference.distribution(case.p, case.kind), reference.distribution(case.q, case.kind)
        )
        for key, value in _computed(case).items():
            error = reference.relative_error(value, exact[key])
            worst[key] = max(worst.get(key, 0.0), error)
    bad = {key: error for key, error in worst.items() if error > 1e-12}
    assert not bad, bad


def test_identical_rows_give_exactly_zero() -> None:
    p = prepare(np.array([0.2, 0.3, 0.5]))
    t = pair_terms(p, p)
    for alpha in ORDERS:
        assert renyi_rows(t, alpha)[0] == 0.0
        assert tsallis_rows(t, alpha)[0] == 0.0
    assert chi2_rows(t)[0] == bhattacharyya_rows(t)[0] == jeffreys_rows(t)[0] == 0.0


def test_disjoint_supports() -> None:
    t = pair_terms(prepare(np.array([1.0, 0.0])), prepare(np.array([0.0, 1.0])))
    assert renyi_rows(t, 0.5)[0] == np.inf
    assert renyi_rows(t, 2.0)[0] == np.inf
    assert chi2_rows(t)[0] == np.inf
    assert bhattacharyya_rows(t)[0] == np.inf
    assert tsallis_rows(t, 0.5)[0] == pytest.approx(2.0)  # (0 - 1) / (0.5 - 1)


def test_a_subnormal_p_beside_a_small_q_stays_finite_and_exact() -> None:
    """A GaussianNB row (digits) with p = 1.5e-315 where logistic regression has q = 7.7e-7: log(q/p)
    is 700, e^L overflows, yet p·ψ is tiny; this row once gave renyi:0.5 = inf."""
    p = [1.22570275e-164, 1.39843979e-072, 1.20602122e-023, 2.52288117e-026, 5.79738293e-055,
         3.00583220e-018, 1.49442631e-315, 2.17469172e-013, 1.0, 5.61968661e-048]  # fmt: skip
    q = [1.55803282e-05, 1.37108582e-06, 3.93902974e-06, 2.05908679e-09, 4.77452888e-07,
         9.20301716e-09, 7.68081515e-07, 1.29259183e-06, 9.99902271e-01, 7.42896261e-05]  # fmt: skip
    pd, qd = prepare(np.array(p) / math.fsum(p)), prepare(np.array(q) / math.fsum(q))
    exact = _references([Mpf(x) for x in pd.probs[0]], [Mpf(x) for x in qd.probs[0]])
    for forward in (True, False):
        t = pair_terms(pd, qd) if forward else pair_terms(qd, pd)
        for alpha in SUBNORMAL_ORDERS:
            got = float(renyi_rows(t, alpha)[0])
            if forward:
                # The row's floats sum to 1 + 9e-17, not 1; the method takes Σp = Σq = 1 (the linear
                # terms it drops), the reference does not: 9e-17 beside S − 1 = −1e-5 is 1e-11.
                assert reference.relative_error(got, exact[f"renyi:{alpha}"]) < 2e-11, alpha
                assert (
                    reference.relative_error(float(tsallis_rows(t, alpha)[0]), exact[f"tsallis:{alpha}"])
                    < 2e-11
                )
            assert math.isfinite(got) or alpha > 1, (forward, alpha)


# Orders so large that S = Σ p^α q^(1−α) overflows float64 (α = 500 with p/q = 10 makes 10^500),
# and orders whose series coefficients (β^k − β)/k! overflow (|β| past about 1e14).
LARGE_ORDERS = (500.0, 1e5, 1e300)


def _rows(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(3), 5), rng.dirichlet(np.ones(3), 5)


@pytest.mark.parametrize("alpha", LARGE_ORDERS)
def test_renyi_of_a_large_order_is_finite_and_exact(alpha: float) -> None:
    """It was inf where S overflowed, and an internal error (OverflowError) past 1e14. D_α is at most
    log max(p/q) (D_∞), finite where q > 0 wherever p > 0."""
    p, q = _rows(1)
    got = renyi_rows(pair_terms(prepare(p), prepare(q)), alpha)
    with mpmath.workdps(60):
        for row, (pr, qr) in enumerate(zip(p, q, strict=True)):
            pm, qm = [Mpf(x) for x in pr], [Mpf(x) for x in qr]
            exact = mpmath.log(_power_sum(pm, qm, alpha)) / (Mpf(alpha) - 1)
            assert reference.relative_error(float(got[row]), exact) < 1e-13, (row, alpha)
            assert got[row] <= float(mpmath.log(max(x / y for x, y in zip(pm, qm, strict=True)))) * (
                1 + 1e-15
            )


def test_tsallis_of_a_large_order_is_inf_only_past_float64() -> None:
    """(S − 1)/(q − 1) where S overflows: the value itself, or inf where it is beyond 1.8e308."""
    p, q = _rows(1)
    got = tsallis_rows(pair_terms(prepare(p), prepare(q)), 500.0)
    with mpmath.workdps(60):
        for row, (pr, qr) in enumerate(zip(p, q, strict=True)):
            pm, qm = [Mpf(x) for x in pr], [Mpf(x) for x in qr]
            exact = (_power_sum(pm, qm, 500.0) - 1) / 499
            if exact > mpmath.mpf(np.finfo(np.float64).max):
                assert got[row] == np.inf
            else:
                assert reference.relative_error(float(got[row]), exact) < 1e-13, row


def test_a_large_order_keeps_infinity_where_q_is_zero() -> None:
    t = pair_terms(prepare(np.array([[0.5, 0.5], [0.5, 0.5]])), prepare(np.array([[1.0, 0.0], [0.4, 0.6]])))
    got = renyi_rows(t, 1e300)
    assert got[0] == np.inf
    assert got[1] == pytest.approx(math.log(0.5 / 0.4), rel=1e-12)
    assert (
        renyi_rows(pair_terms(prepare(np.array([0.2, 0.8])), prepare(np.array([0.2, 0.8]))), 1e300)[0] == 0.0
    )
