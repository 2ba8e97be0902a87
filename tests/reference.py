"""Arbitrary-precision references (mpmath) and the case families used to judge accuracy.

The float64 inputs are taken as exact binary numbers and every measure is
computed with 80 significant digits, enough for a KL of 1e-30 between nearly
equal distributions. Shared by ``tests/core/test_accuracy.py`` and
``benchmarks/accuracy.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import mpmath
import numpy as np

mpmath.mp.dps = 80
Mpf = mpmath.mpf
_MIN_NORMAL = 2.2250738585072014e-308
_MIN_SUBNORMAL = 5e-324


def distribution(row: np.ndarray, kind: str) -> list[Mpf]:
    """Exact probabilities of one row of floats read as ``kind``."""
    values = [Mpf(float(v)) for v in row]
    if kind in ("probs", "weights"):
        total = mpmath.fsum(values)
        return [v / total for v in values]
    finite = [v for v in values if v != -mpmath.inf]
    peak = max(finite)
    exps = [mpmath.exp(v - peak) if v != -mpmath.inf else Mpf(0) for v in values]
    total = mpmath.fsum(exps)
    return [e / total for e in exps]


def entropy(p: list[Mpf]) -> Mpf:
    return -mpmath.fsum(x * mpmath.log(x) for x in p if x > 0)


def kl(p: list[Mpf], q: list[Mpf]) -> Mpf:
    if any(a > 0 and b == 0 for a, b in zip(p, q, strict=True)):
        return mpmath.inf
    return mpmath.fsum(a * mpmath.log(a / b) for a, b in zip(p, q, strict=True) if a > 0)


def cross_entropy(p: list[Mpf], q: list[Mpf]) -> Mpf:
    return entropy(p) + kl(p, q)


def js(p: list[Mpf], q: list[Mpf]) -> Mpf:
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]
    return (kl(p, m) + kl(q, m)) / 2


REFERENCES: dict[str, Callable[..., Mpf]] = {
    "entropy": entropy,
    "kl": kl,
    "cross_entropy": cross_entropy,
    "js": js,
}


def relative_error(value: float, exact: Mpf) -> float:
    """|value - exact| / |exact|; 0 when both are the same infinity or both 0."""
    if mpmath.isinf(exact):
        return 0.0 if value == math.inf else math.inf
    if not math.isfinite(value):
        return math.inf
    if abs(exact) < _MIN_NORMAL:
        # Below the normal range a relative error means nothing: the best
        # float64 answer is within a few subnormal steps (often it is 0).
        return 0.0 if abs(Mpf(value) - exact) <= 4 * _MIN_SUBNORMAL else math.inf
    return float(abs((Mpf(value) - exact) / exact))


@dataclass(frozen=True)
class Case:
    """A pair of float64 rows, read as ``kind``, in a named family."""

    family: str
    kind: str
    p: np.ndarray
    q: np.ndarray


def _near_equal(rng: np.random.Generator, scale: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    p = rng.dirichlet(np.ones(k))
    q = p * (1 + scale * rng.standard_normal(k))
    return p / p.sum(), q / q.sum()


def cases(seed: int = 2024, per_family: int = 4) -> Iterator[Case]:
    """Every case family; deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    for k in (2, 10, 1000):
        for _ in range(per_family):
            yield Case(
                f"Dirichlet pairs, K={k}", "probs", rng.dirichlet(np.ones(k)), rng.dirichlet(np.full(k, 0.3))
            )
    for exponent in (2, 4, 6, 8, 10, 12, 14):
        for _ in range(per_family):
            p, q = _near_equal(rng, 10.0**-exponent, 20)
            yield Case(f"nearly equal, q = p(1 ± 1e-{exponent})", "probs", p, q)
    for exponent in (3, 6, 9, 12):
        for _ in range(per_family):
            a = 3 * rng.standard_normal(50)
            b = a + 10.0**-exponent * rng.standard_normal(50)
            yield Case(f"nearly equal logits, ±1e-{exponent}", "logits", a, b)
    for _ in range(per_family):
        a = 1e4 * rng.standard_normal(30)
        a[:2] = a.max() + np.array([1.0, 0.25])  # two outcomes share the mass
        yield Case("logits of magnitude 1e4", "logits", a, a + rng.standard_normal(30))
    for _ in range(per_family):
        p = rng.dirichlet(np.ones(6))
        p[:3] = [1e-300, 5e-324, 1e-200]
        q = rng.dirichlet(np.ones(6))
        q[:3] = [1e-310, 1e-300, 2e-200]
        yield Case("probabilities down to 1e-300 and subnormals", "probs", p / p.sum(), q / q.sum())
    for _ in range(per_family):
        p = rng.dirichlet(np.ones(8))
        p[[1, 4]] = 0.0
        with np.errstate(divide="ignore"):
            log_p = np.log(p / p.sum())
        yield Case("log-probabilities with -inf", "logprobs", log_p, np.log(rng.dirichlet(np.ones(8))))
    yield Case("one-hot rows", "probs", np.eye(5)[2], np.full(5, 0.2))
    yield Case("one-hot rows", "probs", np.eye(5)[2], np.eye(5)[2])
    yield Case("K = 1", "probs", np.array([1.0]), np.array([1.0]))
    yield Case("a single non-zero in q", "probs", np.full(4, 0.25), np.eye(4)[0])
