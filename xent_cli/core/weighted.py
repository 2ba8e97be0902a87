"""The summary of per-row values under sample weights (``--weights``): weighted mean, spread, percentiles.

Definitions, for values :math:`x_i` with weights :math:`w_i \\ge 0` (rows of weight 0 count
for nothing, as in scikit-learn):

* mean :math:`\\bar x_w = \\sum_i w_i x_i / \\sum_i w_i`, the products rounded once each and
  summed exactly (so it does not depend on how the rows were blocked or sharded);
* sum :math:`\\sum_i w_i x_i`;
* standard error of the weighted mean, with :math:`n` the rows of positive weight,
  :math:`\\sqrt{\\tfrac{n}{n-1} \\sum_i w_i^2 (x_i - \\bar x_w)^2} / \\sum_i w_i`; with equal
  weights it is the unweighted :math:`s / \\sqrt n`;
* percentile :math:`q` by the **inverted weighted CDF**: the smallest value :math:`x_{(k)}`
  (in sorted order) whose cumulative weight reaches :math:`q/100` of the total,
  :math:`\\sum_{j \\le k} w_{(j)} / \\sum_j w_j \\ge q/100` (no interpolation), computed as
  ``numpy.percentile(x, q, weights=w, method="inverted_cdf")`` does, but with the cumulative
  weights summed exactly and their ratio to the total rounded once (the two agree whenever
  NumPy's running sums are exact; the exact sums merge over shards); with equal weights it
  is NumPy's ``inverted_cdf`` percentile, not the interpolated ``linear`` one;
* min and max over the rows of positive weight.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from xent_cli.core.distributions import FloatArray
from xent_cli.core.stats import DEFAULT_PERCENTILES, EXTRA_PERCENTILES, ExactSum, percentile_name


def weighted_percentiles(values: FloatArray, weights: FloatArray, qs: FloatArray) -> FloatArray:
    """Percentiles ``qs`` (0 to 100) of ``values`` by the inverted weighted CDF (see the module notes).

    The cumulative weights are exact (:func:`~xent_cli.core.weighted_merge.reached`): NumPy's
    float running sums find each percentile's row, and exact sums confirm it (moving a row
    or two where NumPy's rounding crossed the threshold), so that parts merged by
    :class:`~xent_cli.core.weighted_merge.WeightedPercentilePlan` give the same values.

    Examples
    --------
    >>> weighted_percentiles(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0]), np.array([20.0, 50.0]))
    array([1., 3.])
    """
    from fractions import Fraction

    from xent_cli.core.weighted_merge import reached

    positive = weights > 0
    x, w = values[positive], weights[positive]
    n = x.shape[0]
    if n == 0:
        return np.full(np.shape(qs), math.nan)
    # Any order of equal values gives the same percentiles (the exact cumulative weight of a
    # value counts all its ties), so the faster unstable sort does.
    order = np.argsort(x)
    xs, ws = x[order], w[order]
    cdf = np.cumsum(ws, dtype=np.float64)
    total = ExactSum().add(ws).exact()
    quantiles = np.true_divide(np.asarray(qs, dtype=np.float64), 100).reshape(-1)
    guesses = np.minimum(np.searchsorted(cdf / cdf[-1], quantiles, side="left"), n - 1)
    found = np.empty(quantiles.shape[0], dtype=np.float64)
    prefix, summed = ExactSum(), 0  # the exact weight of the first `summed` rows
    for i in np.argsort(guesses, kind="stable").tolist():
        k, quantile = int(guesses[i]), float(quantiles[i])
        if k < summed:
            prefix, summed = ExactSum(), 0
        prefix.add(ws[summed:k])
        summed = k
        below = prefix.exact()
        while k < n - 1 and not reached(below + Fraction(float(ws[k])), total, quantile):
            below += Fraction(float(ws[k]))
            k += 1
        while k > 0 and reached(below, total, quantile):
            k -= 1
            below -= Fraction(float(ws[k]))
        found[i] = xs[k]
    return found.reshape(np.shape(qs))


def weighted_summary(values: FloatArray, weights: FloatArray, *, extended: bool = False) -> dict[str, float]:
    """``count, mean, [std_error], min, percentiles, max, sum, inf_count`` under ``weights``.

    The fields and their order are those of the unweighted summary
    (``xent_cli.results.summarize``); ``count`` counts every row, ``inf_count``
    the rows of positive weight whose value is infinite.

    Examples
    --------
    >>> s = weighted_summary(np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 2.0]))
    >>> s["mean"], s["p50"], s["sum"]
    (2.75, 2.0, 11.0)
    """
    x = np.asarray(values, dtype=np.float64)
    xp, wp, total, weighted, mean = _weighted_sums(x, weights)
    n = int(xp.shape[0])
    qs = sorted(DEFAULT_PERCENTILES + (EXTRA_PERCENTILES if extended else ()))
    result: dict[str, float] = {"count": int(x.shape[0]), "mean": mean}
    if extended:
        result["std_error"] = _standard_error(xp, wp, mean, float(total))
    result["min"] = float(np.min(xp)) if n else math.nan
    found = weighted_percentiles(xp, wp, np.array(qs))
    for q, value in zip(qs, found.tolist(), strict=True):
        result[percentile_name(q)] = value
    result["max"] = float(np.max(xp)) if n else math.nan
    result["sum"] = weighted.value() if n else math.nan
    result["inf_count"] = int(np.count_nonzero(np.isinf(xp)))
    return result


def weighted_mean(values: FloatArray, weights: FloatArray) -> float:
    """The weighted mean alone, as :func:`weighted_summary` gives it (no percentiles sorted).

    Examples
    --------
    >>> weighted_mean(np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 2.0]))
    2.75
    """
    return _weighted_sums(np.asarray(values, dtype=np.float64), weights)[4]


def _weighted_sums(
    x: FloatArray, weights: FloatArray
) -> tuple[FloatArray, FloatArray, Fraction, ExactSum, float]:
    """The rows of positive weight (values, weights), the exact total weight, the exact sum of
    weight x value, and the mean from them (inf or nan where the products say so)."""
    w = np.asarray(weights, dtype=np.float64)
    positive = w > 0
    xp, wp = x[positive], w[positive]
    total = ExactSum().add(wp).exact()
    with np.errstate(invalid="ignore", over="ignore"):
        products = wp * xp
    weighted = ExactSum().add(products)
    special = weighted.special()
    n = int(xp.shape[0])
    mean = special if special is not None else (float(weighted.exact() / total) if n else math.nan)
    return xp, wp, total, weighted, mean


def _standard_error(x: FloatArray, w: FloatArray, mean: float, total: float) -> float:
    r"""``sqrt(n / (n - 1) * Σ w² (x - mean)²) / Σ w``: nan for one row or non-finite values.

    The sum is exact, so that parts merged on the Dask engine give the same digits.
    """
    from xent_cli.core.weighted_merge import deviation_sum, standard_error

    n = int(x.shape[0])
    if n < 2 or not math.isfinite(mean):
        return math.nan
    return standard_error(n, deviation_sum(x, w, mean), mean, total)
