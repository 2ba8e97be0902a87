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
  ``numpy.percentile(x, q, weights=w, method="inverted_cdf")`` does; with equal weights it
  is NumPy's ``inverted_cdf`` percentile, not the interpolated ``linear`` one;
* min and max over the rows of positive weight.
"""

from __future__ import annotations

import math

import numpy as np

from xent_cli.core.distributions import FloatArray
from xent_cli.core.stats import DEFAULT_PERCENTILES, EXTRA_PERCENTILES, ExactSum, percentile_name


def weighted_percentiles(values: FloatArray, weights: FloatArray, qs: FloatArray) -> FloatArray:
    """Percentiles ``qs`` (0 to 100) of ``values`` by the inverted weighted CDF (see the module notes).

    Examples
    --------
    >>> weighted_percentiles(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0]), np.array([20.0, 50.0]))
    array([1., 3.])
    """
    positive = weights > 0
    x, w = values[positive], weights[positive]
    if x.shape[0] == 0:
        return np.full(np.shape(qs), math.nan)
    order = np.argsort(x, kind="stable")
    cdf = np.cumsum(w[order], dtype=np.float64)
    cdf /= cdf[-1]
    quantiles = np.true_divide(np.asarray(qs, dtype=np.float64), 100)
    index = np.minimum(np.searchsorted(cdf, quantiles, side="left"), x.shape[0] - 1)
    found: FloatArray = x[order][index]
    return found


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
    w = np.asarray(weights, dtype=np.float64)
    positive = w > 0
    xp, wp = x[positive], w[positive]
    n = int(xp.shape[0])
    qs = sorted(DEFAULT_PERCENTILES + (EXTRA_PERCENTILES if extended else ()))
    total = ExactSum().add(wp).exact()
    with np.errstate(invalid="ignore", over="ignore"):
        products = wp * xp
    weighted = ExactSum().add(products)
    special = weighted.special()
    mean = special if special is not None else (float(weighted.exact() / total) if n else math.nan)
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


def _standard_error(x: FloatArray, w: FloatArray, mean: float, total: float) -> float:
    r"""``sqrt(n / (n - 1) * Σ w² (x - mean)²) / Σ w``: nan for one row or non-finite values."""
    n = int(x.shape[0])
    if n < 2 or not math.isfinite(mean):
        return math.nan
    deviations = w * (x - mean)
    return math.sqrt(n / (n - 1) * float(np.sum(deviations * deviations))) / total
