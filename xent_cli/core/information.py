r"""Entropies of a joint distribution, conditional entropy and mutual information.

For a joint table :math:`p(x, y)` with marginals :math:`p(x)`, :math:`p(y)`:

* :math:`H(X, Y) = -\sum p(x,y) \log p(x,y)`
* :math:`H(X \mid Y) = -\sum p(x,y) \log p(x \mid y) = H(X,Y) - H(Y)`
* :math:`I(X;Y) = \sum p(x,y) \log \frac{p(x,y)}{p(x)p(y)} = D(p_{XY} \| p_X p_Y) = H(X) - H(X \mid Y)`

Each is computed as a sum of non-negative terms, never as a difference of
entropies, so a nearly independent table gives a small, accurate, non-negative
mutual information instead of rounding noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from xent_cli.core.distributions import DEFAULT_TOLERANCE, FloatArray, Kind, prepare
from xent_cli.core.measures import entropy_rows, kl_rows, row_sum
from xent_cli.errors import DistributionError


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
    array = np.asarray(table, dtype=np.float64)
    if array.ndim != 2 or array.size == 0:
        raise DistributionError("a joint table must be a non-empty 2-D array", reason="shape", name="joint")
    # Validate cell by cell (rows keep their positions for messages) ...
    flat = prepare(array.reshape(1, -1), "weights", name="joint")
    assert flat.totals is not None
    total = float(flat.totals[0]) * _power_of_two(array)
    if kind == "probs" and abs(total - 1.0) > tolerance:
        raise DistributionError(f"the table sums to {total:.6g}, not 1", reason="sum", name="joint")
    # ... and normalize the whole table at once.
    result: FloatArray = flat.probs.reshape(array.shape)
    return result


def _power_of_two(array: FloatArray) -> float:
    """The factor ``prepare(..., 'weights')`` divided a row by (it rescales by a power of two)."""
    _, exponent = np.frexp(np.max(array))
    return math.ldexp(1.0, int(exponent))


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
    n = float(np.sum(joint_counts))
    plug_in = information(joint_distribution(joint_counts, "weights"))

    def bias(counts: FloatArray) -> float:
        return (int(np.count_nonzero(counts)) - 1) / (2 * n)

    h_x = plug_in.h_x + bias(np.sum(joint_counts, axis=1))
    h_y = plug_in.h_y + bias(np.sum(joint_counts, axis=0))
    h_xy = plug_in.h_xy + bias(joint_counts)
    mi = max(0.0, h_x + h_y - h_xy)
    return Information(h_x, h_y, h_xy, h_xy - h_y, h_xy - h_x, mi, normalized_mi(mi, h_x, h_y))


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
