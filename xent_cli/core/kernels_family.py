"""The divergence family (Rényi, Tsallis, χ², Bhattacharyya, Jeffreys) of big blocks, on the kernels' pool.

``compare --measures renyi:0.5,chi2`` asks for measures the fused compare
kernels do not compute. They come from the careful method of
:mod:`xent_cli.core.measures` (the reference: 1e-12 of mpmath on random and
on nearly equal rows), run as the numpy backend runs it: on cache-sized row
ranges, on the kernels' two threads (NumPy releases the GIL in its ufuncs).
Each range is validated once, its cancellation-free ``p - q`` and
``log(p/q)`` (:class:`~xent_cli.core.measures.PairTerms`) computed once, and
every requested measure derived from them. Every row's value depends on that
row alone, so it is the same, bit for bit, as the careful method on the whole
block.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from numpy.typing import ArrayLike

from xent_cli.core.distributions import Distributions, FloatArray, Kind
from xent_cli.core.kernel_backend import requested_backend
from xent_cli.core.kernels import _as_pair
from xent_cli.core.kernels_numpy import IntArray, _careful_pair_block, _numpy_pair_block
from xent_cli.core.measures import PairTerms, pair_terms

# A measure's per-row values from the terms of a pair of blocks.
FamilyRows = Callable[[PairTerms], FloatArray]


def family_rows_fast(
    p_raw: ArrayLike,
    q_raw: ArrayLike,
    measures: Mapping[str, FamilyRows],
    *,
    kind_p: Kind = "probs",
    kind_q: Kind | None = None,
    tolerance: float,
) -> dict[str, FloatArray] | None:
    """Every measure of ``measures`` (key: rows from :class:`PairTerms`) per row of two raw blocks.

    Parameters
    ----------
    p_raw, q_raw : array_like, shape (n, K) or (1, K)
        The values as read; one side may be a single row that broadcasts.
    measures : mapping of str to callable
        Each measure's rows from the terms of a range of rows, e.g.
        ``{"chi2": chi2_rows, "renyi:0.5": lambda t: renyi_rows(t, 0.5)}``.
    kind_p, kind_q : {'probs', 'weights', 'logits', 'logprobs'}
        How each side is read (``kind_q`` defaults to ``kind_p``).
    tolerance : float
        As for ``prepare()``.

    Returns
    -------
    dict of str to ndarray, shape (n,), or None
        The rows of every measure, equal bit for bit to the measures on
        ``pair_terms(prepare(p_raw), prepare(q_raw))``; None when either
        ``prepare()`` rejects its block (the caller's careful path then names
        the row and column).

    Examples
    --------
    >>> from xent_cli.core.measures import chi2_rows
    >>> family_rows_fast([[0.5, 0.5]], [[0.9, 0.1]], {"chi2": chi2_rows}, tolerance=1e-6)["chi2"]
    array([1.77777778])
    """
    kind_q = kind_q or kind_p

    def compute(pd: Distributions, qd: Distributions, targets: IntArray | None) -> dict[str, FloatArray]:
        terms = pair_terms(pd, qd)
        return {key: rows(terms) for key, rows in measures.items()}

    pair = _as_pair(p_raw, q_raw)
    if pair is None or requested_backend() == "careful":
        return _careful_pair_block(compute, p_raw, q_raw, kind_p, kind_q, tolerance, None)
    a, b = pair
    return _numpy_pair_block(compute, a, b, kind_p, kind_q, tolerance, None)
