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
from dataclasses import dataclass, replace
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
    # Adjusted for chance (needs counts: nan for a table of probabilities).
    ami: float = math.nan

    def __post_init__(self) -> None:
        # 0 <= H(X|Y) <= H(X), 0 <= H(Y|X) <= H(Y) and 0 <= I <= min(H(X), H(Y)) hold exactly;
        # each is summed on its own, so rounding could step past a bound by an ulp or two
        # (I = H(Y) printed above H(Y) when Y is a function of X).
        object.__setattr__(self, "h_x_given_y", _within(self.h_x_given_y, self.h_x))
        object.__setattr__(self, "h_y_given_x", _within(self.h_y_given_x, self.h_y))
        object.__setattr__(self, "mi", _within(self.mi, min(self.h_x, self.h_y)))
        # I = H(X) - H(X|Y): when H(X|Y) is exactly 0 (X a function of Y: one non-zero cell in
        # each column of the table), I is H(X) itself, not a separately rounded sum an ulp
        # below it; likewise for H(Y|X). Two labelings that determine each other (identical,
        # or relabeled) then have I = H(X) = H(Y) exactly, so NMI and AMI are exactly 1.
        if self.h_x_given_y == 0 and self.h_y_given_x == 0:
            # Both hold: H(X) = H(Y) = I, equal up to the order their terms were summed in.
            object.__setattr__(self, "h_y", self.h_x)
            object.__setattr__(self, "mi", self.h_x)
        elif self.h_x_given_y == 0:
            object.__setattr__(self, "mi", self.h_x)
        elif self.h_y_given_x == 0:
            object.__setattr__(self, "mi", self.h_y)

    @classmethod
    def of(
        cls, h_x: float, h_y: float, h_xy: float, h_x_given_y: float, h_y_given_x: float, mi: float
    ) -> Information:
        """The measures from their sums, with ``nmi`` (arithmetic mean) from the mutual
        information as :meth:`__post_init__` settled it (clamped, or H(X) exactly), not as summed."""
        info = cls(h_x, h_y, h_xy, h_x_given_y, h_y_given_x, mi, math.nan)
        return replace(info, nmi=normalized_mi(info.mi, info.h_x, info.h_y))

    @property
    def vi(self) -> float:
        """Variation of information ``H(X) + H(Y) − 2I = H(X|Y) + H(Y|X)``, summed from the latter."""
        return self.h_x_given_y + self.h_y_given_x

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
            self.ami,
        )


def _within(value: float, high: float) -> float:
    """``value`` clamped to ``[0, high]`` (nan stays nan)."""
    if math.isnan(value) or math.isnan(high):
        return value
    return min(max(value, 0.0), high)


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
    return Information.of(h_x, h_y, h_xy, h_x_given_y, h_y_given_x, mi)


Average = Literal["arithmetic", "geometric", "min", "max"]
AVERAGES: tuple[Average, ...] = ("arithmetic", "geometric", "min", "max")
# How NMI and AMI are normalized, written for people.
AVERAGE_FORMULAS = {
    "arithmetic": "((H(X) + H(Y)) / 2)",
    "geometric": "sqrt(H(X) H(Y))",
    "min": "min(H(X), H(Y))",
    "max": "max(H(X), H(Y))",
}


def generalized_mean(h_x: float, h_y: float, average: Average = "arithmetic") -> float:
    """The mean of two entropies that normalizes NMI and AMI (scikit-learn's ``average_method``)."""
    if average == "arithmetic":
        return (h_x + h_y) / 2
    if average == "geometric":
        return math.sqrt(h_x * h_y)
    if average == "min":
        return min(h_x, h_y)
    if average == "max":
        return max(h_x, h_y)
    raise DistributionError(
        f"unknown average {average!r}; expected arithmetic, geometric, min or max",
        reason="average",
        name="average",
    )


def normalized_mi(mi: float, h_x: float, h_y: float, average: Average = "arithmetic") -> float:
    """``I / mean(H(X), H(Y))``, clipped to 1 against rounding; 1 for two constants (0/0).

    ``average`` is the mean (arithmetic by default, as scikit-learn's
    ``normalized_mutual_info_score``); ``I = 0`` gives 0 whatever the mean.

    Examples
    --------
    >>> normalized_mi(0.0, 0.0, 0.0)  # both constant: scikit-learn's convention
    1.0
    >>> normalized_mi(0.0, 0.0, 0.6931471805599453)  # one constant: independent
    0.0
    >>> normalized_mi(0.5, 1.0, 0.5, "geometric")
    0.7071067811865475
    """
    mean_h = generalized_mean(h_x, h_y, average)
    if h_x == 0 and h_y == 0:
        return 1.0
    if mi == 0:
        return 0.0
    return min(1.0, mi / mean_h) if mean_h > 0 else 1.0


# Below this, log k! comes from math.lgamma; from it on, from Stirling's series (truncation < 1e-17).
_STIRLING_FROM = 100
_SMALL_LOG_FACTORIALS = np.array([math.lgamma(k + 1.0) for k in range(_STIRLING_FROM)])
# The expected MI sums this many terms at most (AMI is nan beyond: see :func:`ami_cost`).
AMI_MAX_TERMS = 50_000_000
AMI_MAX_PAIRS = 250_000
# AMI's denominator mean(H(X), H(Y)) − E[I] within this fraction of the mean is rounding
# (E[I] sums up to AMI_MAX_TERMS terms): AMI is then 0/0 (see :func:`adjusted_mi`).
AMI_ROUNDING = 1e-10


def _log_factorial(k: NDArray[Any]) -> FloatArray:
    """``log k!`` of whole numbers ``k >= 0``, vectorized: as ``lgamma(k + 1)``."""
    k = np.asarray(k, dtype=np.int64)
    result = np.empty(k.shape)
    small = k < _STIRLING_FROM
    result[small] = _SMALL_LOG_FACTORIALS[k[small]]
    x = k[~small].astype(np.float64)
    inverse = 1.0 / x
    series = inverse * (1 / 12 - inverse * inverse * (1 / 360 - inverse * inverse / 1260))
    result[~small] = x * np.log(x) - x + 0.5 * np.log(2 * math.pi * x) + series
    return result


def ami_cost(a: ArrayLike, b: ArrayLike) -> tuple[int, int]:
    """How many (class, class) pairs and terms the expected MI of these class sizes sums."""
    rows = np.asarray(a, dtype=np.int64)
    columns = np.sort(np.asarray(b, dtype=np.int64))
    rows, columns = rows[rows > 0], columns[columns > 0]
    if rows.size == 0 or columns.size == 0:
        return 0, 0
    # sum over i of sum over j of min(a_i, b_j), from the sorted column sizes
    prefix = np.concatenate([[0], np.cumsum(columns)])
    below = np.searchsorted(columns, rows, side="right")
    terms = prefix[below] + rows * (columns.size - below)
    return int(rows.size * columns.size), int(terms.sum())


def expected_mutual_info(a: ArrayLike, b: ArrayLike) -> float:
    r"""The expected mutual information (nats) of two labelings with these class sizes, under chance.

    With row sums :math:`a_i`, column sums :math:`b_j` and :math:`N` samples,
    under the hypergeometric model of random labelings with those sizes
    (Vinh, Epps and Bailey, 2010):

    .. math::

        E[I] = \sum_{i,j} \sum_{n=\max(1, a_i+b_j-N)}^{\min(a_i, b_j)} rac{n}{N}
        \lograc{N n}{a_i b_j}
        rac{a_i!\, b_j!\, (N-a_i)!\, (N-b_j)!}{N!\, n!\, (a_i-n)!\, (b_j-n)!\, (N-a_i-b_j+n)!}

    the probability from log-factorials (``lgamma``), as scikit-learn's
    ``expected_mutual_information``. Empty classes are left out.

    Examples
    --------
    >>> expected_mutual_info([5], [2, 3])  # one class: nothing to expect
    0.0
    >>> round(expected_mutual_info([2, 2], [2, 2]), 12)
    0.231049060187
    """
    rows = np.asarray(a, dtype=np.int64)
    columns = np.asarray(b, dtype=np.int64)
    rows, columns = rows[rows > 0], columns[columns > 0]
    n = int(rows.sum())
    if rows.size <= 1 or columns.size <= 1:
        return 0.0
    total = 0.0
    log_n = math.log(n)
    log_fact_n = float(_log_factorial(np.array([n]))[0])
    table = _log_factorial(np.arange(n + 1)) if n <= 20_000_000 else None
    log_factorial = (lambda k: table[k]) if table is not None else _log_factorial
    fact_rows, fact_rest_rows = _log_factorial(rows), _log_factorial(n - rows)
    fact_columns, fact_rest_columns = _log_factorial(columns), _log_factorial(n - columns)
    for i, a_i in enumerate(rows.tolist()):
        for j, b_j in enumerate(columns.tolist()):
            start, stop = max(1, a_i + b_j - n), min(a_i, b_j)
            if start > stop:
                continue
            nij = np.arange(start, stop + 1)
            log_p = (
                fact_rows[i] + fact_columns[j] + fact_rest_rows[i] + fact_rest_columns[j] - log_fact_n
                - log_factorial(nij) - log_factorial(a_i - nij) - log_factorial(b_j - nij)
                - log_factorial(n - a_i - b_j + nij)
            )  # fmt: skip
            terms = nij / n * (log_n + np.log(nij) - math.log(a_i) - math.log(b_j)) * np.exp(log_p)
            total += float(np.sum(terms))
    return total


def adjusted_mi(
    mi: float, h_x: float, h_y: float, a: ArrayLike, b: ArrayLike, average: Average = "arithmetic"
) -> float:
    r"""Mutual information adjusted for chance, as scikit-learn's ``adjusted_mutual_info_score``.

    .. math:: \mathrm{AMI} = rac{I - E[I]}{\mathrm{mean}(H(X), H(Y)) - E[I]}

    ``mi``, ``h_x``, ``h_y`` in nats; ``a``, ``b`` the class sizes of X and Y
    (counts). 1 when both labelings are constant, 0 when one is; numerator and
    denominator are kept at least float64's eps away from 0, with their sign,
    as scikit-learn does.

    When the denominator is within rounding of 0 (``|mean − E[I]| <= 1e-10 · mean``),
    every labeling with these class sizes has the same MI (e.g. X all singletons
    and ``average='min'``: ``I = E[I] = H(Y)``), and AMI is 0/0: nan, where
    scikit-learn returns the ratio of two rounding errors.

    Examples
    --------
    >>> round(adjusted_mi(math.log(2), math.log(2), math.log(2), [2, 2], [2, 2]), 12)
    1.0
    >>> adjusted_mi(math.log(3), math.log(15), math.log(3), [1] * 15, [5, 5, 5], "min")
    nan
    """
    sizes_x = np.asarray(a)
    sizes_y = np.asarray(b)
    k_x, k_y = int(np.count_nonzero(sizes_x)), int(np.count_nonzero(sizes_y))
    if k_x == k_y == 1 or k_x == k_y == 0:
        return 1.0
    if k_x == 1 or k_y == 1:
        return 0.0
    emi = expected_mutual_info(sizes_x, sizes_y)
    eps = float(np.finfo(np.float64).eps)
    mean_h = generalized_mean(h_x, h_y, average)
    denominator = mean_h - emi
    if abs(denominator) <= AMI_ROUNDING * mean_h:
        return math.nan
    denominator = min(denominator, -eps) if denominator < 0 else max(denominator, eps)
    numerator = mi - emi
    numerator = min(numerator, -eps) if numerator < 0 else max(numerator, eps)
    return numerator / denominator


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
    return Information.of(h_x, h_y, h_xy, h_xy - h_y, h_xy - h_x, mi)


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
    plug_in = Information.of(h_x, h_y, h_xy, h_x_given_y, h_y_given_x, mi)
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


# --- from two label arrays (scikit-learn's clustering metrics) ---------------------------------


def _paired_labels(labels_true: ArrayLike, labels_pred: ArrayLike) -> tuple[NDArray[Any], NDArray[Any]]:
    """Two 1-D label arrays of one length; two pandas Series pair by their index (or raise)."""
    from xent_cli.core.distributions import is_labelled

    true_values, pred_values = np.asarray(labels_true), np.asarray(labels_pred)
    if is_labelled(labels_true) and is_labelled(labels_pred):
        true_series: Any = labels_true
        pred_series: Any = labels_pred
        true_index, pred_index = list(true_series.index), list(pred_series.index)
        if true_index != pred_index:
            if len(set(pred_index)) != len(pred_index) or set(true_index) != set(pred_index):
                raise DistributionError(
                    "labels_true and labels_pred have different row labels (their index)",
                    reason="rows",
                    name="labels_pred",
                    hint="align them first (labels_pred.reindex(labels_true.index)), or pair by position "
                    "with .to_numpy()",
                )
            position = {label: i for i, label in enumerate(pred_index)}
            pred_values = pred_values[[position[label] for label in true_index]]
    if true_values.ndim != 1 or pred_values.ndim != 1:
        raise DistributionError("labels must be 1-D arrays", reason="shape", name="labels_true")
    if true_values.shape[0] != pred_values.shape[0]:
        raise DistributionError(
            f"labels_true has {true_values.shape[0]} labels but labels_pred has {pred_values.shape[0]}",
            reason="shape",
            name="labels_pred",
        )
    if true_values.shape[0] == 0:
        raise DistributionError("no labels", reason="shape", name="labels_true")
    return true_values, pred_values


def _label_counts(
    labels_true: ArrayLike, labels_pred: ArrayLike
) -> tuple[Information, FloatArray, FloatArray]:
    """The plug-in information of two labelings, and their class sizes."""
    true_values, pred_values = _paired_labels(labels_true, labels_pred)
    _, x = np.unique(true_values, return_inverse=True)
    _, y = np.unique(pred_values, return_inverse=True)
    n_y = int(y.max()) + 1
    cells, counts = np.unique(x.astype(np.int64) * n_y + y, return_counts=True)
    info = information_from_counts(cells // n_y, cells % n_y, counts)
    sizes_x = np.bincount(x).astype(np.float64)
    sizes_y = np.bincount(y).astype(np.float64)
    return info, sizes_x, sizes_y


def mutual_info(labels_true: ArrayLike, labels_pred: ArrayLike, *, base: float | None = None) -> float:
    r"""Mutual information :math:`I(X;Y)` of two labelings of the same samples (plug-in).

    As ``sklearn.metrics.mutual_info_score(labels_true, labels_pred)`` (nats by
    default; ``base`` another unit). Two pandas Series pair by their index.

    Examples
    --------
    >>> round(mutual_info([0, 0, 1, 1], ["a", "a", "b", "b"], base=2), 12)
    1.0
    >>> mutual_info([0, 1, 0, 1], [0, 0, 1, 1])
    0.0
    """
    info, _, _ = _label_counts(labels_true, labels_pred)
    return info.mi / (1.0 if base is None else math.log(base))


def nmi(
    labels_true: ArrayLike,
    labels_pred: ArrayLike,
    *,
    average_method: Average | None = None,
    average: Average | None = None,
) -> float:
    r"""Normalized mutual information :math:`I / \mathrm{mean}(H(X), H(Y))`.

    As ``sklearn.metrics.normalized_mutual_info_score``, with its ``average_method``
    (arithmetic, the default, geometric, min or max; ``average`` is the same, as the
    command line's ``--average`` spells it).

    Examples
    --------
    >>> round(nmi([0, 0, 1, 1], [1, 1, 0, 0]), 12)
    1.0
    >>> round(nmi([0, 0, 1, 1], [0, 0, 0, 1], average_method="max"), 12)
    0.311278124459
    """
    info, _, _ = _label_counts(labels_true, labels_pred)
    return normalized_mi(info.mi, info.h_x, info.h_y, _average_of(average_method, average))


def _average_of(average_method: Average | None, average: Average | None) -> Average:
    if average_method is not None and average is not None and average_method != average:
        raise ValueError("give average_method or average (the same parameter), not both")
    return average_method or average or "arithmetic"


def ami(
    labels_true: ArrayLike,
    labels_pred: ArrayLike,
    *,
    average_method: Average | None = None,
    average: Average | None = None,
) -> float:
    r"""Adjusted mutual information :math:`(I - E[I]) / (\mathrm{mean}(H(X), H(Y)) - E[I])`.

    As ``sklearn.metrics.adjusted_mutual_info_score``, with its ``average_method``
    (or ``average``, see :func:`nmi`): 0 for labelings as alike as chance makes them,
    1 for identical ones (see :func:`expected_mutual_info`, :func:`adjusted_mi`).

    Examples
    --------
    >>> round(ami([0, 0, 1, 1], [1, 1, 0, 0]), 12)
    1.0
    >>> round(ami([0, 0, 1, 1, 2, 2], [0, 0, 1, 2, 2, 2]), 12)
    0.50236070272
    """
    info, sizes_x, sizes_y = _label_counts(labels_true, labels_pred)
    return adjusted_mi(info.mi, info.h_x, info.h_y, sizes_x, sizes_y, _average_of(average_method, average))
