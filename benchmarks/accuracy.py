"""Worst relative error per case family: xent, SciPy and the textbook formulas.

Every method gets the same float64 inputs; the reference is mpmath with 80
digits on those exact inputs (``tests/reference.py``). Run from the repository
root with the test extras installed::

    python -m benchmarks.accuracy            # markdown table on stdout
    python -m benchmarks.accuracy --cases 20 # more cases per family
"""

from __future__ import annotations

import argparse
import math
import warnings
from collections import defaultdict
from collections.abc import Callable

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr, softmax
from scipy.stats import entropy as scipy_entropy

from tests import reference
from xent_cli import cross_entropy, entropy, js_divergence, kl_divergence
from xent_cli.core import kernel_backend, kernels

Method = Callable[[reference.Case], float]


def _probs(row: np.ndarray, kind: str) -> np.ndarray:
    """How a SciPy user turns a row into probabilities."""
    if kind in ("logits", "logprobs"):
        return np.asarray(softmax(row))
    return row / row.sum()


def _naive_probs(row: np.ndarray, kind: str) -> np.ndarray:
    """The textbook softmax, exp(x) / sum(exp(x)), with no max shift."""
    if kind in ("logits", "logprobs"):
        e = np.exp(row)
        return np.asarray(e / e.sum())
    return row / row.sum()


def _kernel(measure: str, case: reference.Case) -> float:
    """What the command line computes for a big block: the numpy backend's kernels (the plain
    formulas with their error bound, for probabilities), on the case's row."""
    kernel_backend.set_backend("numpy")
    try:
        p = np.asarray(case.p, dtype=np.float64)[None, :]
        if measure == "entropy":
            result = kernels.entropy_rows_fast(p, kind=case.kind)
        else:
            result = kernels.kl_rows_fast(p, np.asarray(case.q, dtype=np.float64)[None, :], kind_p=case.kind)
    finally:
        kernel_backend.set_backend(None)
    return math.nan if result is None else float(result.values[0])


def _naive_kl(p: np.ndarray, q: np.ndarray) -> float:
    terms = np.where(p == 0, 0.0, p * np.log(p / q))  # NaN propagates
    return float(np.sum(terms))


def _naive_ce(p: np.ndarray, q: np.ndarray) -> float:
    return float(-np.sum(np.where(p == 0, 0.0, p * np.log(q))))


def _naive_h(p: np.ndarray) -> float:
    return float(-np.sum(np.where(p == 0, 0.0, p * np.log(p))))


def _naive_js(p: np.ndarray, q: np.ndarray) -> float:
    m = (p + q) / 2
    return 0.5 * _naive_kl(p, m) + 0.5 * _naive_kl(q, m)


METHODS: dict[str, dict[str, Method]] = {
    "kl": {
        "xent": lambda c: float(kl_divergence(c.p, c.q, kind=c.kind)),
        "xent kernels": lambda c: _kernel("kl", c),
        "SciPy rel_entr": lambda c: float(rel_entr(_probs(c.p, c.kind), _probs(c.q, c.kind)).sum()),
        "Σ p·log(p/q)": lambda c: _naive_kl(_naive_probs(c.p, c.kind), _naive_probs(c.q, c.kind)),
        "H(p,q) − H(p)": lambda c: (
            _naive_ce(_naive_probs(c.p, c.kind), _naive_probs(c.q, c.kind))
            - _naive_h(_naive_probs(c.p, c.kind))
        ),
    },
    "cross_entropy": {
        "xent": lambda c: float(cross_entropy(c.p, c.q, kind=c.kind)),
        "−Σ p·log q": lambda c: _naive_ce(_naive_probs(c.p, c.kind), _naive_probs(c.q, c.kind)),
    },
    "js": {
        "xent": lambda c: float(js_divergence(c.p, c.q, kind=c.kind)),
        "SciPy jensenshannon²": lambda c: float(jensenshannon(_probs(c.p, c.kind), _probs(c.q, c.kind)) ** 2),
        "naive": lambda c: _naive_js(_naive_probs(c.p, c.kind), _naive_probs(c.q, c.kind)),
    },
    "entropy": {
        "xent": lambda c: float(entropy(c.p, kind=c.kind)),
        "xent kernels": lambda c: _kernel("entropy", c),
        "SciPy entropy": lambda c: float(scipy_entropy(_probs(c.p, c.kind))),
        "−Σ p·log p": lambda c: _naive_h(_naive_probs(c.p, c.kind)),
    },
}
TITLES = {"kl": "KL(p‖q)", "cross_entropy": "H(p, q)", "js": "JS(p, q)", "entropy": "H(p)"}


def _exact(measure: str, case: reference.Case) -> reference.Mpf:
    p = reference.distribution(case.p, case.kind)
    if measure == "entropy":
        return reference.entropy(p)
    return reference.REFERENCES[measure](p, reference.distribution(case.q, case.kind))


def _shown(error: float) -> str:
    if error == 0:
        return "0"
    if math.isnan(error) or math.isinf(error):
        return "fails"
    if error >= 1:
        return "≥ 1"
    return f"{error:.0e}"


def worst_errors(per_family: int) -> dict[str, dict[str, dict[str, float]]]:
    """family -> measure -> method -> worst relative error (nan: crashed or NaN)."""
    worst: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for case in reference.cases(per_family=per_family):
        for measure, methods in METHODS.items():
            exact = _exact(measure, case)
            for name, method in methods.items():
                try:
                    with warnings.catch_warnings(), np.errstate(all="ignore"):
                        warnings.simplefilter("ignore")
                        value = method(case)
                    error = reference.relative_error(value, exact)
                    if math.isnan(value):
                        error = math.nan
                except (ValueError, ZeroDivisionError, OverflowError):
                    error = math.nan
                previous = worst[case.family][measure].get(name, 0.0)
                worst[case.family][measure][name] = (
                    math.nan if math.isnan(error) or math.isnan(previous) else max(previous, error)
                )
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=8, help="cases per family (default 8)")
    args = parser.parse_args()
    worst = worst_errors(args.cases)
    for measure, methods in METHODS.items():
        print(f"\n{TITLES[measure]}: worst relative error ({args.cases} cases per family)\n")
        print("| case family | " + " | ".join(methods) + " |")
        print("|---|" + "---:|" * len(methods))
        for family, by_measure in worst.items():
            cells = [_shown(by_measure[measure][name]) for name in methods]
            print(f"| {family} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
