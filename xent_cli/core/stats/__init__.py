"""Exact, mergeable statistics of per-row values: the partials every engine merges.

A command computes one value per row (a KL divergence, a log loss, ...) block by
block, possibly on many Dask workers, and then summarizes them. Everything here
is a *partial*: built from blocks with ``add``, combined with ``merge`` (or
``+``), small to pickle, and giving the same result, bit for bit, however the
rows were split into blocks and parts and in whatever order the parts were
merged. NumPy only.

Contents (``sums``, ``moments``, ``quantiles`` and ``summaries``; all importable from here)
--------------------------------------------------------------------------------------------
:class:`ExactSum`
    The correctly rounded sum of float64 values (what ``math.fsum`` returns),
    vectorized: more than ten times faster than ``math.fsum(x.tolist())``.
:class:`Moments`
    count, exact sum, mean, variance, standard error, min, max, counts of
    infinite and nan rows. The second moment is an *exact* sum of squares, so
    the variance is the exact sample variance rounded once: no cancellation for
    nearly constant data, and no dependence on blocking (see the class notes
    for why this beats Chan et al.'s pairwise update here).
:class:`Comoments`
    Mergeable covariance and Pearson correlation of two variables, exact in
    the same way.
:func:`percentiles`, :class:`PercentilePlan`, :func:`answer`, :func:`exact_percentiles`
    ``np.percentile``'s linear interpolation, locally and as an exact two-pass
    selection protocol over parts that keep their own values (client memory
    bounded by the number of percentiles, not the number of rows).
:class:`WorstRows`
    The N largest values with their row numbers and ids.
:class:`Summary`
    The bundle for one per-row measure, with ``to_dict`` giving the summary
    fields ``count, mean, min, p50, p90, p99, max, sum`` (and more on request).

Conventions for non-finite rows
-------------------------------
* **Sums and moments** follow IEEE arithmetic on the exact sum, like
  ``math.fsum``: any nan row, or both ``+inf`` and ``-inf`` rows, make the sum
  and mean nan; ``+inf`` rows make them ``+inf`` (``-inf`` likewise). Where
  ``math.fsum`` raises (``inf - inf``: ValueError; a finite sum beyond the
  float range: OverflowError) the result is nan, or the exact sum correctly
  rounded, which is ``±inf`` only if the exact sum itself is out of range
  (``[1e308, 1e308, -1e308]`` sums to ``1e308``). A zero sum is ``+0.0``.
  The variance, standard deviation and standard error are nan with a nan
  row, ``inf`` with an infinite row, and nan for fewer than two rows.
* **Order statistics** (min, max, percentiles, worst rows) describe the rows
  that have a value: nan rows are left out and counted (``nan_count``).
  Percentiles that interpolate towards an infinite row are that infinity (the
  limit), not nan (only between a ``-inf`` and a ``+inf`` row, which has no
  limit). So a summary of rows with a nan has a nan mean, which fails any
  gate on it, and still tells where the other rows lie; a gate on a
  percentile should also look at ``nan_count``.
* Negative zero is reported as ``+0.0`` by the order statistics.
"""

from __future__ import annotations

from xent_cli.core.stats.moments import Comoments, Moments
from xent_cli.core.stats.quantiles import (
    KeyHistogram,
    PercentilePlan,
    PercentileRequest,
    PercentileResponse,
    answer,
    bucket_range,
    exact_percentiles,
    key_histogram,
    order_keys,
    percentiles,
    values_in,
)
from xent_cli.core.stats.summaries import (
    DEFAULT_PERCENTILES,
    EXTRA_PERCENTILES,
    Summary,
    WorstRows,
    percentile_name,
)
from xent_cli.core.stats.sums import ExactSum

__all__ = [
    "DEFAULT_PERCENTILES",
    "EXTRA_PERCENTILES",
    "Comoments",
    "ExactSum",
    "KeyHistogram",
    "Moments",
    "PercentilePlan",
    "PercentileRequest",
    "PercentileResponse",
    "Summary",
    "WorstRows",
    "answer",
    "bucket_range",
    "exact_percentiles",
    "key_histogram",
    "order_keys",
    "percentile_name",
    "percentiles",
    "values_in",
]
