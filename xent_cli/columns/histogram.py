"""The one histogram rule of per-row values: which bins, and how they are counted.

The table's histogram of a column is the same whether the values are here
(:func:`histogram`) or spread over parts that are counted apart and added (the
Dask engine: :func:`spread_of` each part, :meth:`Spread.merge`, :func:`histogram_bins`
once, :func:`count_bins` each part, :func:`histogram_of` the sums).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


@dataclass(frozen=True)
class Histogram:
    """Counts of per-row values in bins (linear, or logarithmic when they span decades)."""

    lows: list[float]
    highs: list[float]
    counts: list[int]
    log_scale: bool
    # Rows outside the bins: exact zeros (log scale only) and infinities.
    zeros: int = 0
    infinite: int = 0


# Positive values spanning at least this ratio get logarithmic bins.
LOG_SCALE_RATIO = 1000.0


@dataclass(frozen=True)
class Spread:
    """What the table's histogram needs to know of some values before counting them."""

    size: int
    finite: int
    finite_min: float
    finite_max: float
    positive: int
    positive_min: float
    positive_max: float

    def merge(self, other: Spread) -> Spread:
        return Spread(
            self.size + other.size,
            self.finite + other.finite,
            _fmin(self.finite_min, other.finite_min),
            _fmax(self.finite_max, other.finite_max),
            self.positive + other.positive,
            _fmin(self.positive_min, other.positive_min),
            _fmax(self.positive_max, other.positive_max),
        )


def _fmin(a: float, b: float) -> float:
    return b if math.isnan(a) else a if math.isnan(b) else min(a, b)


def _fmax(a: float, b: float) -> float:
    return b if math.isnan(a) else a if math.isnan(b) else max(a, b)


def spread_of(values: NDArray[np.float64]) -> Spread:
    import numpy as np

    finite = values[np.isfinite(values)]
    positive = finite[finite > 0]

    def extreme(x: NDArray[np.float64], pick: Any) -> float:
        return float(pick(x)) if x.size else math.nan

    return Spread(
        int(values.size),
        int(finite.size),
        extreme(finite, np.min),
        extreme(finite, np.max),
        int(positive.size),
        extreme(positive, np.min),
        extreme(positive, np.max),
    )


@dataclass(frozen=True)
class HistogramBins:
    """The bins of the table's histogram: geometric ``edges``, or ``bins`` equal bins over ``span``."""

    log_scale: bool
    edges: NDArray[np.float64] | None = None
    span: tuple[float, float] = (0.0, 0.0)
    bins: int = 8


def histogram_bins(spread: Spread, bins: int = 8) -> HistogramBins | None:
    """The bins of the values behind ``spread``: geometric when they span decades, else equal.

    None when there is nothing to show (fewer than two finite values, or one value).
    Positive values spanning at least ``LOG_SCALE_RATIO`` (and no negative one) get
    geometric bins, with the extremes as the outer edges exactly (so both are counted);
    exact zeros are then counted apart.
    """
    import numpy as np

    if spread.finite < 2 or spread.finite_min == spread.finite_max:
        return None
    low = spread.positive_min if spread.positive else 0.0
    if spread.finite_min >= 0 and spread.positive >= 2 and spread.positive_max >= LOG_SCALE_RATIO * low:
        edges = np.geomspace(low, spread.positive_max, bins + 1)
        edges[0], edges[-1] = low, spread.positive_max
        return HistogramBins(True, edges, bins=bins)
    return HistogramBins(False, span=(spread.finite_min, spread.finite_max), bins=bins)


def count_bins(values: NDArray[np.float64], bins: HistogramBins) -> NDArray[np.int64]:
    """Counts of ``values`` in ``bins``: summed over parts, those of all the values at once.

    Equal bins are counted with ``range=`` the whole data's extremes, which is
    exactly what ``np.histogram(all_values, bins=n)`` does value by value.
    """
    import numpy as np

    finite = values[np.isfinite(values)]
    if bins.log_scale:
        assert bins.edges is not None
        counts, _ = np.histogram(finite[finite > 0], bins=bins.edges)
    else:
        counts, _ = np.histogram(finite, bins=bins.bins, range=bins.span)
    return counts.astype(np.int64)


def histogram_of(spread: Spread, bins: HistogramBins, counts: NDArray[np.int64]) -> Histogram:
    """The :class:`Histogram` of the values, from their spread and their counts in ``bins``."""
    import numpy as np

    if bins.log_scale:
        assert bins.edges is not None
        edges = bins.edges
        zeros = spread.finite - spread.positive
    else:
        edges = np.histogram_bin_edges(np.array(bins.span), bins=bins.bins, range=bins.span)
        zeros = 0
    return Histogram(
        edges[:-1].tolist(),
        edges[1:].tolist(),
        counts.tolist(),
        bins.log_scale,
        zeros,
        spread.size - spread.finite,
    )


def histogram(values: Any, bins: int = 8) -> Histogram | None:
    """How per-row values are spread; None when there is nothing to show (one value)."""
    spread = spread_of(values)
    chosen = histogram_bins(spread, bins)
    if chosen is None:
        return None
    return histogram_of(spread, chosen, count_bins(values, chosen))
