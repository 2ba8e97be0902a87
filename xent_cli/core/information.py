r"""Entropies of a joint distribution, conditional entropy and mutual information.

For a joint table :math:`p(x, y)` with marginals :math:`p(x)`, :math:`p(y)`:

* :math:`H(X, Y) = -\sum p(x,y) \log p(x,y)`
* :math:`H(X \mid Y) = -\sum p(x,y) \log p(x \mid y) = H(X,Y) - H(Y)`
* :math:`I(X;Y) = \sum p(x,y) \log \frac{p(x,y)}{p(x)p(y)} = D(p_{XY} \| p_X p_Y) = H(X) - H(X \mid Y)`

Each is computed as a sum of non-negative terms, never as a difference of
entropies, so a nearly independent table gives a small, accurate, non-negative
mutual information instead of rounding noise.

Two ways in: a dense joint table (:func:`information` of
:func:`joint_distribution`), or the counts of the pairs that were observed
(:func:`information_from_counts`), a sparse contingency table whose size is
that of the pairs seen, not the product of the numbers of values: two label
columns of 40,000 distinct values each never build a 40,000 x 40,000 table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xent_cli.core.distributions import DEFAULT_TOLERANCE, FloatArray, Kind, as_array, prepare
from xent_cli.core.measures import PairTerms, entropy_rows, kl_rows, kl_terms, row_sum
from xent_cli.errors import DistributionError

Correction = Literal["none", "miller-madow"]


@dataclass(frozen=True)
class Information:
    """The information measures of one joint distribution, in nats.

    ``nmi`` is the mutual information normalized by the arithmetic mean of the
    marginal entropies, ``I / ((H(X) + H(Y)) / 2)`` (scikit-learn's default).
    When both marginals are constant it is 0/0, and taken to be 1, as
    scikit-learn's ``normalized_mutual_info_score`` does: two labelings that
    never split the data agree perfectly. (When only one is constant, I = 0
    and so is NMI.)
    """

    h_x: float
    h_y: float
    h_xy: float
    h_x_given_y: float
    h_y_given_x: float
    mi: float
    nmi: float

    def scaled(self, scale: float) -> Information:
        """The same measures in another unit (divide by ``log(base)``); nmi is unitless."""
        return Information(
            self.h_x / scale,
            self.h_y / scale,
            self.h_xy / scale,
            self.h_x_given_y / scale,
            self.h_y_given_x / scale,
            self.mi / scale,
            self.nmi,
        )


def joint_distribution(
    table: ArrayLike, kind: Kind = "probs", *, tolerance: float = DEFAULT_TOLERANCE
) -> FloatArray:
    """A joint table as probabilities summing to 1 over all cells.

    ``probs``: finite, ``>= 0``, the whole table sums to 1 within ``tolerance``.
    ``weights`` (counts): finite, ``>= 0``, divided by the total.
    """
    if kind not in ("probs", "weights"):
        raise DistributionError(
            "a joint table holds probabilities or weights (counts)", reason="kind", name="joint"
        )
    array = as_array(table, "joint")
    if array.ndim != 2 or array.size == 0:
        raise DistributionError("a joint table must be a non-empty 2-D array", reason="shape", name="joint")
    # Validate cell by cell (rows keep their positions for messages) ...
    flat = prepare(array.reshape(1, -1), "weights", name="joint")
    assert flat.totals is not None
    if kind == "probs":
        total = _scaled_total(float(flat.totals[0]), array)
        if not abs(total - 1.0) <= tolerance:
            shown = f"{total:.6g}" if math.isfinite(total) else "more than 1.8e308"
            raise DistributionError(f"the table sums to {shown}, not 1", reason="sum", name="joint")
    # ... and normalize the whole table at once.
    result: FloatArray = flat.probs.reshape(array.shape)
    return result


def _scaled_total(scaled: float, array: FloatArray) -> float:
    """The table's sum: ``prepare(..., 'weights')`` divided it by a power of two; inf past float64."""
    _, exponent = np.frexp(np.max(array))
    try:
        return math.ldexp(scaled, int(exponent))
    except OverflowError:
        return math.inf


def information(joint: FloatArray) -> Information:
    """Every information measure of a normalized joint table ``p[x, y]``."""
    p_x = row_sum(joint)
    p_y = row_sum(np.ascontiguousarray(joint.T))
    as_row = prepare(joint.reshape(1, -1), "probs", tolerance=1e-9, name="joint")
    h_xy = float(entropy_rows(as_row)[0])
    h_x = float(entropy_rows(prepare(p_x[None, :], "probs", tolerance=1e-9))[0])
    h_y = float(entropy_rows(prepare(p_y[None, :], "probs", tolerance=1e-9))[0])
    product = np.outer(p_x, p_y)
    if np.any((product == 0) & (joint > 0)):
        # p(x) p(y) underflowed where p(x, y) > 0: work with logs instead.
        with np.errstate(divide="ignore"):
            log_joint = np.log(joint).reshape(1, -1)
            log_product = np.add.outer(np.log(p_x), np.log(p_y)).reshape(1, -1)
        mi = float(
            kl_rows(
                prepare(log_joint, "logprobs", tolerance=1e-9),
                prepare(log_product, "logprobs", tolerance=1e-9),
            )[0]
        )
    else:
        independent = prepare(product.reshape(1, -1), "probs", tolerance=1e-9)
        mi = float(kl_rows(as_row, independent)[0])
    h_x_given_y = _conditional(joint, p_y[None, :])
    h_y_given_x = _conditional(joint, p_x[:, None])
    return Information(h_x, h_y, h_xy, h_x_given_y, h_y_given_x, mi, normalized_mi(mi, h_x, h_y))


def normalized_mi(mi: float, h_x: float, h_y: float) -> float:
    """``I / ((H(X) + H(Y)) / 2)``, clipped to 1 against rounding; 1 for two constants (0/0).

    Examples
    --------
    >>> normalized_mi(0.0, 0.0, 0.0)  # both constant: scikit-learn's convention
    1.0
    >>> normalized_mi(0.0, 0.0, 0.6931471805599453)  # one constant: independent
    0.0
    """
    mean_h = (h_x + h_y) / 2
    return min(1.0, mi / mean_h) if mean_h > 0 else 1.0


def _conditional(joint: FloatArray, given: FloatArray) -> float:
    """``-sum p(x,y) log(p(x,y) / p(given))``: every term >= 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, -joint * np.log(joint / given), 0.0)
    return float(row_sum(np.maximum(terms, 0.0).reshape(1, -1))[0])


def miller_madow(joint_counts: FloatArray) -> Information:
    """Plug-in estimates from counts with the Miller–Madow bias correction.

    Each entropy gets ``(m - 1) / (2N)`` added (``m`` the number of non-empty
    cells or values, ``N`` the number of samples); the conditional entropies and
    the mutual information follow from the corrected entropies.
    """
    joint = joint_distribution(joint_counts, "weights")
    counts = np.asarray(joint_counts, dtype=np.float64)
    try:
        n = math.fsum(counts.ravel().tolist())
    except OverflowError:  # counts past float64's range: no bias left worth correcting
        n = math.inf
    return _corrected(
        information(joint),
        n,
        cells=int(np.count_nonzero(counts)),
        x_values=int(np.count_nonzero(np.sum(joint, axis=1))),
        y_values=int(np.count_nonzero(np.sum(joint, axis=0))),
    )


def _corrected(plug_in: Information, n: float, *, cells: int, x_values: int, y_values: int) -> Information:
    """Miller–Madow: ``(m - 1) / (2N)`` added to each entropy, the rest derived from them."""

    def bias(m: int) -> float:
        return (m - 1) / (2 * n) if math.isfinite(n) else 0.0

    h_x = plug_in.h_x + bias(x_values)
    h_y = plug_in.h_y + bias(y_values)
    h_xy = plug_in.h_xy + bias(cells)
    mi = max(0.0, h_x + h_y - h_xy)
    return Information(h_x, h_y, h_xy, h_xy - h_y, h_xy - h_x, mi, normalized_mi(mi, h_x, h_y))


# --- a sparse contingency table: the counts of the pairs observed --------------------------

# Up to this total, every product of two counts fits in an int64 (N**2 < 2**63).
_INT64_PRODUCTS_BELOW = 3_037_000_499


def information_from_counts(
    x: ArrayLike, y: ArrayLike, counts: ArrayLike, *, correction: Correction = "none"
) -> Information:
    r"""Every information measure from the counts of the observed pairs (a sparse contingency table).

    Parameters
    ----------
    x, y : array_like of int, shape (n,)
        0-based codes of the X and Y values of each observed pair. A pair listed
        more than once has its counts added.
    counts : array_like, shape (n,)
        How often each pair was seen: whole numbers ``>= 0``, not all 0.
    correction : {'none', 'miller-madow'}
        ``miller-madow`` adds ``(m - 1) / (2N)`` to each entropy (``m`` non-empty
        cells or values, ``N`` the number of samples).

    Notes
    -----
    With :math:`c_{xy}` the counts, :math:`c_x, c_y` the marginals and
    :math:`N` the total, only observed pairs are visited:

    * :math:`H(X,Y)`, :math:`H(X)`, :math:`H(Y)` are entropies of the count vectors;
    * :math:`H(X \mid Y) = -\sum (c_{xy}/N) \log(c_{xy}/c_y)`, every term ``>= 0``;
    * :math:`I(X;Y) = \sum_{\text{observed}} q\,\phi(p/q) + \sum_{\text{unobserved}} q`
      with :math:`p = c_{xy}/N`, :math:`q = c_x c_y / N^2` and
      :math:`\phi(t) = t \log t - t + 1 \ge 0`, the form the dense path uses
      over every cell. Here ``p - q`` comes from the exact integer
      :math:`c_{xy} N - c_x c_y`, and the unobserved mass
      :math:`\sum_x c_x (N - \sum_{y \text{ seen with } x} c_y) / N^2` is exact
      too, so the result is at least as accurate as the dense table's, in memory
      proportional to the pairs seen.

    Examples
    --------
    >>> info = information_from_counts([0, 1], [0, 1], [5, 5])
    >>> round(info.mi / math.log(2), 12), info.h_x_given_y
    (1.0, 0.0)
    >>> information_from_counts([0, 0, 1, 1], [0, 1, 0, 1], [1, 1, 1, 1]).mi
    0.0
    """
    if correction not in ("none", "miller-madow"):
        raise DistributionError(
            f"unknown correction {correction!r}; expected 'none' or 'miller-madow'",
            reason="correction",
            name="correction",
        )
    x_codes, y_codes, cell_counts = _cells(x, y, counts)
    n_x, n_y = int(x_codes.max()) + 1, int(y_codes.max()) + 1
    total = int(cell_counts.sum(dtype=object))
    exact: Any = np.int64 if total <= _INT64_PRODUCTS_BELOW else object
    c = cell_counts.astype(exact)
    c_x = np.zeros(n_x, dtype=exact)
    c_y = np.zeros(n_y, dtype=exact)
    np.add.at(c_x, x_codes, c)
    np.add.at(c_y, y_codes, c)
    if exact is object:
        c_x, c_y = c_x + 0, c_y + 0  # zeros of object arrays start as int 0 either way

    def entropy_of(values: NDArray[Any]) -> float:
        positive = np.asarray(values[values > 0], dtype=np.float64)
        return float(entropy_rows(prepare(positive[None, :], "weights", name="counts"))[0])

    h_xy, h_x, h_y = entropy_of(c), entropy_of(c_x), entropy_of(c_y)
    n = float(total)
    p = np.asarray(c, dtype=np.float64) / n
    cy_of_cell = c_y[y_codes]
    cx_of_cell = c_x[x_codes]
    with np.errstate(divide="ignore"):
        h_x_given_y = _conditional_terms(p, c, cy_of_cell)
        h_y_given_x = _conditional_terms(p, c, cx_of_cell)
    mi = _mi_from_counts(c, cx_of_cell, cy_of_cell, c_x, x_codes, total, exact)
    plug_in = Information(h_x, h_y, h_xy, h_x_given_y, h_y_given_x, mi, normalized_mi(mi, h_x, h_y))
    if correction == "none":
        return plug_in
    return _corrected(
        plug_in,
        n,
        cells=int(np.count_nonzero(np.asarray(c, dtype=np.float64))),
        x_values=int(np.count_nonzero(np.asarray(c_x, dtype=np.float64))),
        y_values=int(np.count_nonzero(np.asarray(c_y, dtype=np.float64))),
    )


def _cells(
    x: ArrayLike, y: ArrayLike, counts: ArrayLike
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[Any]]:
    """Validated codes and counts, pairs listed twice added up, cells with count 0 dropped."""
    x_codes = np.asarray(x)
    y_codes = np.asarray(y)
    raw = as_array(counts, "counts")
    if not (x_codes.ndim == y_codes.ndim == raw.ndim == 1 and x_codes.shape == y_codes.shape == raw.shape):
        raise DistributionError(
            "x, y and counts must be 1-D arrays of one length", reason="shape", name="counts"
        )
    if raw.size == 0:
        raise DistributionError("no pairs were observed", reason="empty", name="counts")
    for name, codes in (("x", x_codes), ("y", y_codes)):
        if codes.dtype.kind not in "iu" or np.any(codes < 0):
            raise DistributionError(f"{name} must hold 0-based integer codes", reason="codes", name=name)
    values = np.asarray(raw, dtype=np.float64)
    bad = ~np.isfinite(values) | (values < 0) | (values != np.floor(values))
    if bad.any():
        index = int(np.argmax(bad))
        raise DistributionError(
            f"count {float(values[index])!r} at position {index} is not a whole number >= 0",
            reason="counts",
            name="counts",
            hint="for weighted or fractional tables use information(joint_distribution(table, 'weights'))",
        )
    # Whole numbers of any size, exactly: Python ints past what int64 holds.
    whole: NDArray[Any] = (
        values.astype(np.int64)
        if values.max() < 2.0**62
        else np.array([int(v) for v in values], dtype=object)
    )
    keep = values > 0
    if not keep.any():
        raise DistributionError("all counts are 0", reason="all_zero", name="counts")
    x_codes, y_codes, whole = x_codes[keep].astype(np.intp), y_codes[keep].astype(np.intp), whole[keep]
    # Add up pairs listed more than once.
    order = np.lexsort((y_codes, x_codes))
    x_codes, y_codes, whole = x_codes[order], y_codes[order], whole[order]
    starts = np.flatnonzero(np.r_[True, (np.diff(x_codes) != 0) | (np.diff(y_codes) != 0)])
    if starts.size != x_codes.size:
        whole = np.add.reduceat(whole, starts)
        x_codes, y_codes = x_codes[starts], y_codes[starts]
    return x_codes, y_codes, whole


def _conditional_terms(p: FloatArray, c: NDArray[Any], given: NDArray[Any]) -> float:
    """``-sum p log(c / c_given)`` over observed cells (``c <= c_given``, so every term is >= 0)."""
    ratio = np.asarray(c, dtype=np.float64) / np.asarray(given, dtype=np.float64)
    terms = np.maximum(-p * np.log(ratio), 0.0)
    return float(row_sum(terms[None, :])[0])


def _mi_from_counts(
    c: NDArray[Any],
    cx_of_cell: NDArray[Any],
    cy_of_cell: NDArray[Any],
    c_x: NDArray[Any],
    x_codes: NDArray[np.intp],
    total: int,
    exact: Any,
) -> float:
    """``sum_observed q phi(p/q) + sum_unobserved q``, from exact integer differences."""
    n = float(total)
    n_squared = total * total
    numerator = c * total - cx_of_cell * cy_of_cell  # N^2 (p - q), exact
    product = cx_of_cell * cy_of_cell  # N^2 q, exact
    p = np.asarray(c, dtype=np.float64) / n
    q = np.asarray(product, dtype=np.float64) / n / n
    diff = np.asarray(numerator, dtype=np.float64) / n / n
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.asarray(numerator, dtype=np.float64) / np.asarray(product, dtype=np.float64)
        near = np.abs(u) < 0.5
        log_ratio = np.where(
            near,
            np.log1p(np.where(near, u, 0.0)),
            np.log(np.asarray(c * total, dtype=np.float64)) - np.log(np.asarray(product, dtype=np.float64)),
        )
    terms = kl_terms(PairTerms(p[None, :], q[None, :], diff[None, :], log_ratio[None, :]))
    observed = float(row_sum(terms)[0])
    # The product mass on cells never observed: sum_x c_x (N - sum of c_y over the y seen with x).
    seen_y_mass = np.zeros(c_x.shape[0], dtype=exact)
    np.add.at(seen_y_mass, x_codes, cy_of_cell)
    unobserved = int(np.sum(c_x * (total - seen_y_mass), dtype=object))
    return observed + unobserved / n_squared


def _measure(name: str, joint: ArrayLike, base: float | None, kind: Kind, tolerance: float) -> float:
    """One field of :class:`Information` for a joint table, in the given base."""
    scale = 1.0 if base is None else math.log(base)
    value: float = getattr(information(joint_distribution(joint, kind, tolerance=tolerance)), name)
    return value / scale


def mutual_information(
    joint: ArrayLike, *, base: float | None = None, kind: Kind = "probs", tolerance: float = DEFAULT_TOLERANCE
) -> float:
    r"""Mutual information :math:`I(X;Y)` of a joint table ``joint[x, y]``.

    Parameters
    ----------
    joint : array_like, shape (nx, ny)
        Joint probabilities (``kind='probs'``) or counts (``kind='weights'``).
    base : float, optional
        Logarithm base (default e).

    Examples
    --------
    >>> round(mutual_information([[0.5, 0.0], [0.0, 0.5]], base=2), 12)
    1.0
    >>> mutual_information([[1, 1], [1, 1]], kind="weights")
    0.0
    """
    return _measure("mi", joint, base, kind, tolerance)


def conditional_entropy(
    joint: ArrayLike, *, base: float | None = None, kind: Kind = "probs", tolerance: float = DEFAULT_TOLERANCE
) -> float:
    r"""Conditional entropy :math:`H(X \mid Y)` of a joint table ``joint[x, y]``.

    Examples
    --------
    >>> conditional_entropy([[0.25, 0.25], [0.25, 0.25]], base=2)
    1.0
    >>> conditional_entropy([[0.5, 0.0], [0.0, 0.5]])
    0.0
    """
    return _measure("h_x_given_y", joint, base, kind, tolerance)


def joint_entropy(
    joint: ArrayLike, *, base: float | None = None, kind: Kind = "probs", tolerance: float = DEFAULT_TOLERANCE
) -> float:
    r"""Joint entropy :math:`H(X, Y)` of a joint table.

    Examples
    --------
    >>> joint_entropy([[0.25, 0.25], [0.25, 0.25]], base=2)
    2.0
    """
    return _measure("h_xy", joint, base, kind, tolerance)
