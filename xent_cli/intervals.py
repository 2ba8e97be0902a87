"""``--ci``: bootstrap intervals of each measure's mean, and of its change from a baseline.

The resampling itself (Poisson weights per row, sums merged over blocks and
shards) is :mod:`xent_cli.core.bootstrap`; the engines hand the merged sums over
in ``Result.resample_sums``. Here they become intervals, and, with a baseline
that holds per-row values, the paired interval of the change: the baseline's
rows get the weights of the rows they pair with (by id when both results have
ids, else by position), so each resample's change is

.. math::

    \\Delta_b = \\frac{\\sum_i w_{bi} (x_i - x^{\\text{baseline}}_{\\pi(i)})}{\\sum_i w_{bi}}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from xent_cli.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.baseline import Baseline
    from xent_cli.results import Result


@dataclass(frozen=True)
class IntervalSettings:
    level: float
    resamples: int
    seed: int


def attach(result: Result, settings: IntervalSettings) -> None:
    """Each measure's percentile interval of the mean, into ``result.intervals``."""
    from xent_cli.core.bootstrap import METHOD, percentile_interval

    sums = result.resample_sums
    assert sums is not None
    result.intervals = {
        m.key: percentile_interval(sums.means(i), settings.level) for i, m in enumerate(result.measures)
    }
    result.bootstrap = {
        "level": settings.level,
        "resamples": settings.resamples,
        "seed": settings.seed,
        "method": METHOD,
        "weights": "Poisson(1) per row",
    }


@dataclass
class PairedChange:
    """The paired bootstrap interval of the change of a measure's mean from a baseline's."""

    result: Result
    baseline: Baseline
    settings: IntervalSettings
    notes: list[str] = field(default_factory=list)

    def __call__(self, measure: str) -> tuple[tuple[float, float], str] | None:
        from xent_cli.core.bootstrap import percentile_interval, resample_sums

        result, baseline = self.result, self.baseline
        keys = [m.key for m in result.measures]
        found = baseline.rows(measure, keys)
        if found is None:
            self._note(
                f"--baseline {baseline.file} holds no per-row values of {measure} (written with --rows 0?): "
                "its change is compared without an interval"
            )
            return None
        values, ids = found
        if values.shape[0] != result.count:
            raise UsageError(
                f"--baseline {baseline.file}: {values.shape[0]} rows, but this run has {result.count}; "
                "--ci pairs the rows of both",
                hint="compare results of the same rows, or leave out --ci to compare the means alone",
            )
        aligned, paired = values, "position"
        if ids is not None and result.ids is not None:
            aligned, paired = _by_id(values, ids, result.ids, baseline.file), "id"
        else:
            why = "ids on one side" if ids is not None or result.ids is not None else "no ids"
            self._note(f"rows of this run and of {baseline.file} paired by position ({why})")
        sums = result.resample_sums
        assert sums is not None
        base = resample_sums([aligned], 0, self.settings.seed, self.settings.resamples)
        index = keys.index(measure)
        kept = sums.counts > 0
        change = (sums.sums[index, kept] - base.sums[0, kept]) / sums.counts[kept]
        return percentile_interval(change, self.settings.level), paired

    def _note(self, text: str) -> None:
        if text not in self.notes:  # once, however many gates compare with the baseline
            self.notes.append(text)


def _by_id(values: NDArray[np.float64], ids: list[str], current: list[str], file: str) -> NDArray[np.float64]:
    """The baseline's values in this run's row order, paired by id (each id once on both sides)."""
    import numpy as np

    position = {row_id: i for i, row_id in enumerate(ids)}
    if len(position) != len(ids) or len(set(current)) != len(current):
        raise UsageError(
            f"--baseline {file}: ids repeat, so rows cannot be paired by id",
            hint="give every row a distinct id",
        )
    missing = [row_id for row_id in current if row_id not in position]
    if missing:
        raise UsageError(
            f"--baseline {file}: has no row with id {missing[0]!r} ({len(missing)} ids of this run lack one)",
            hint="--ci pairs the rows of both results by id",
        )
    order = np.array([position[row_id] for row_id in current], dtype=np.int64)
    return values[order]
