"""The divergence family over row ranges on the kernels' threads (``xent_cli.core.kernels_family``).

Every row's value must be the careful method's on the whole block, bit for bit: that method's digits
are held against mpmath by test_divergence_family.py, on random and on nearly equal rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from xent_cli.core import kernel_backend
from xent_cli.core.distributions import FloatArray, prepare
from xent_cli.core.kernel_backend import THREADED_ELEMENTS
from xent_cli.core.kernels_family import FamilyRows, family_rows_fast
from xent_cli.core.measures import (
    PairTerms,
    bhattacharyya_rows,
    chi2_rows,
    jeffreys_rows,
    pair_terms,
    renyi_rows,
    tsallis_rows,
)


def _order(rows: object, order: float) -> FamilyRows:
    return lambda t: rows(t, order)  # type: ignore[operator, no-any-return]


MEASURES: dict[str, FamilyRows] = {
    "renyi:0.5": _order(renyi_rows, 0.5),
    "renyi:2": _order(renyi_rows, 2.0),
    "renyi:1.001": _order(renyi_rows, 1.001),
    "tsallis:0.5": _order(tsallis_rows, 0.5),
    "tsallis:2": _order(tsallis_rows, 2.0),
    "chi2": chi2_rows,
    "bhattacharyya": bhattacharyya_rows,
    "jeffreys": jeffreys_rows,
}


@pytest.fixture(autouse=True)
def _reset_backend() -> Iterator[None]:
    yield
    kernel_backend.set_backend(None)


def _pair(rows: int = 30_000, k: int = 10) -> tuple[FloatArray, FloatArray]:
    """Random rows, nearly equal rows, identical rows, zeros on either side, and a subnormal p."""
    rng = np.random.default_rng(26)
    p = rng.dirichlet(np.full(k, 0.5), size=rows)
    q = rng.dirichlet(np.full(k, 0.5), size=rows)
    near = slice(rows // 3, 2 * rows // 3)
    q[near] = p[near] * (1 + 1e-9 * rng.standard_normal(p[near].shape))
    q[near] /= q[near].sum(axis=1, keepdims=True)
    q[100:200] = p[100:200]
    p[200:300, 0] = 0.0
    p[200:300] /= p[200:300].sum(axis=1, keepdims=True)
    q[300:400, 1] = 0.0
    q[300:400] /= q[300:400].sum(axis=1, keepdims=True)
    p[400, :] = [1.5e-315, *([(1 - 1.5e-315) / (k - 1)] * (k - 1))]
    return p, q


def _careful(p: FloatArray, q: FloatArray, kind: str) -> dict[str, FloatArray]:
    terms: PairTerms = pair_terms(prepare(p, kind), prepare(q, kind))  # type: ignore[arg-type]
    n = max(p.shape[0], q.shape[0])
    return {key: np.broadcast_to(rows(terms), (n,)) for key, rows in MEASURES.items()}


@pytest.mark.parametrize("backend", ["auto", "numpy", "careful"])
@pytest.mark.parametrize("kind", ["probs", "logits"])
def test_every_row_is_the_careful_methods_bit_for_bit(backend: str, kind: str) -> None:
    kernel_backend.set_backend(backend)
    p, q = _pair()
    if kind == "logits":
        with np.errstate(divide="ignore"):
            p, q = np.log(p) + 3.0, np.log(q) - 1.0
    assert p.size >= THREADED_ELEMENTS  # the threaded path, over many row ranges
    got = family_rows_fast(p, q, MEASURES, kind_p=kind, kind_q=kind, tolerance=1e-6)  # type: ignore[arg-type]
    assert got is not None
    expected = _careful(p, q, kind)
    for key in MEASURES:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert np.isinf(got["chi2"][300:400]).all()
    if kind == "probs":  # (shifted logits round: equal rows are equal only within rounding)
        assert (got["jeffreys"][100:200] == 0).all() and (got["renyi:0.5"][100:200] == 0).all()


def test_a_single_row_broadcasts_and_float32_is_read() -> None:
    p, _ = _pair()
    q = np.full((1, 10), 0.1)
    got = family_rows_fast(p.astype(np.float32), q, MEASURES, tolerance=1e-6)
    assert got is not None
    expected = _careful(p.astype(np.float32), q, "probs")
    for key in MEASURES:
        assert got[key].shape == (p.shape[0],)
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


@pytest.mark.parametrize("row", [0, 17_000, 29_999])
def test_an_invalid_row_anywhere_gives_none(row: int) -> None:
    p, q = _pair()
    p[row] *= 1.1
    assert family_rows_fast(p, q, MEASURES, tolerance=1e-6) is None
    p[row] = np.nan
    assert family_rows_fast(p, q, MEASURES, tolerance=1e-6) is None
