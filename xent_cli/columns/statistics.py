"""Statistics of one per-row column, a chunk at a time: the exact mean, the summary, the worst rows.

A spilled column (:mod:`xent_cli.columns.spill`) is walked :func:`~xent_cli.columns.spill.in_chunks`,
so that memory holds a chunk of it, not the whole column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.core.stats import Summary


def mean(values: NDArray[np.float64]) -> float:
    """The exact mean, rounded once: independent of how rows were blocked or sharded."""
    from xent_cli.columns.spill import in_chunks
    from xent_cli.core.stats import ExactSum

    if not values.shape[0]:
        return math.nan
    total = ExactSum()
    for chunk in in_chunks(values):
        total.add(chunk)
    return total.mean()


def summarize(values: NDArray[np.float64], *, extended: bool = False) -> dict[str, float]:
    """count, mean, min, percentiles (linear interpolation), max, exact sum and the number of inf rows.

    Sums and means are exact, rounded once, so they do not depend on how rows
    were split into blocks or shards; percentiles are exact too (those next
    to an infinite row are that infinity, not nan). ``extended`` adds the
    standard error of the mean and the percentiles 0.1, 1, 5, 10, 95 and 99.9.
    """
    from xent_cli.columns.spill import in_chunks, release
    from xent_cli.core.stats import Summary

    summary = Summary(hold_values=True, std_error=extended, release=release)
    for chunk in in_chunks(values):  # a spilled column a chunk of pages at a time
        summary.add(chunk)
    return summary_fields(summary, extended=extended)


def summary_fields(
    partial: Summary, *, extended: bool = False, percentile_values: Mapping[float, float] | None = None
) -> dict[str, float]:
    """What :func:`summarize` reports, from a merged partial (and percentiles found elsewhere)."""
    fields = partial.to_dict(
        std_error=extended,
        extra_percentiles=extended,
        nonfinite_counts=True,
        percentile_values=percentile_values,
    )
    summary = {key: value for key, value in fields.items() if not key.endswith("inf_count")}
    summary.pop("nan_count", None)
    summary["inf_count"] = int(fields["posinf_count"]) + int(fields["neginf_count"])
    return summary


def worst_of(values: NDArray[np.float64], n: int) -> list[tuple[int, float]]:
    """The ``n`` largest values with their 0-based rows, largest first (ties: the earlier row)."""
    from xent_cli.columns.spill import in_chunks
    from xent_cli.core.stats import WorstRows

    worst, start = WorstRows(n), 0
    for chunk in in_chunks(values):
        worst.add(chunk, start)
        start += int(chunk.shape[0])
    return [(index, value) for index, value, _ in worst.rows()]
