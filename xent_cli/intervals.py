"""``--ci``: bootstrap intervals of each measure's mean, of every gated statistic, and of a change.

The resampling itself (Poisson weights per row, sums merged over blocks and
shards) is :mod:`xent_cli.core.bootstrap`; the engines hand the merged sums over
in ``Result.resample_sums``. Here they become intervals: of each measure's
mean, and of every gated statistic that is a function of means or sums, from
the same resamples (``perplexity`` = exp(mean log loss in nats), calibration's
``brier``, ``accuracy`` and ``confidence``, ``NAME.sum``). Percentiles, extremes
and binned statistics (ECE) would need every row in every resample: they get
no interval, and a gate on their ``ci_low``/``ci_high`` is refused. With a baseline
that holds per-row values, the paired interval of the change: the baseline's
rows get the weights of the rows they pair with (by id when both results have
ids, else by position), so each resample's change is

.. math::

    \\Delta_b = \\frac{\\sum_i w_{bi} (x_i - x^{\\text{baseline}}_{\\pi(i)})}{\\sum_i w_{bi}}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from xent_cli.errors import UsageError, option, spelled

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.baseline import Baseline
    from xent_cli.results import Result


@dataclass(frozen=True)
class IntervalSettings:
    level: float
    resamples: int
    seed: int


# Statistics that are a measure's mean under another name (with a transform, see _resampled).
_MEAN_ALIASES: dict[str, dict[str, str]] = {
    "loss": {"perplexity": "log_loss"},
    "calibration": {"brier": "brier", "accuracy": "correct", "confidence": "confidence"},
}
_ENDS = ("ci_low", "ci_high")


def interval_base(name: str) -> str | None:
    """``kl.p99`` for ``kl.p99.ci_low``; None for a name without an interval end."""
    base, _, end = name.rpartition(".")
    return base if base and end in _ENDS else None


def interval_statistics(command: str, statistics: Sequence[str]) -> list[str]:
    """The statistics (of a plan's ``statistics``) that ``--ci`` gives an interval: means, sums, aliases."""
    ends = [interval_base(name) for name in statistics]
    measures = list(dict.fromkeys(base for base in ends if base is not None and "." not in base))
    names = [*measures, *(f"{key}.{stat}" for key in measures for stat in ("mean", "sum"))]
    names += [alias for alias in _MEAN_ALIASES.get(command, {}) if alias in statistics]
    return [name for name in dict.fromkeys(names) if name in statistics]


def attach(result: Result, settings: IntervalSettings, gated: Sequence[str] = ()) -> None:
    """Each measure's percentile interval of the mean, and of each ``gated`` statistic it can serve.

    Intervals are in ``result.intervals``: by measure key for the means, by name for the others.
    """
    from xent_cli.core.bootstrap import METHOD, percentile_interval

    sums = result.resample_sums
    assert sums is not None
    keys = [m.key for m in result.measures]
    result.intervals = {key: percentile_interval(sums.means(i), settings.level) for i, key in enumerate(keys)}
    for name in gated:
        key, stat = result.split_statistic(name)
        if stat == "mean" and key in result.intervals:
            continue
        resampled = _resampled(result, name)
        if resampled is not None:
            result.intervals[name] = percentile_interval(resampled, settings.level)
    result.bootstrap = {
        "level": settings.level,
        "resamples": settings.resamples,
        "seed": settings.seed,
        "method": METHOD,
        "weights": "Poisson(1) per row",
    }
    # The means' intervals are in summary[…].ci, but calibration's summary is of the whole input.
    in_summary = keys if result.calibration is None else []
    # Under the summary's names (calibration's mean of ``correct`` is its ``accuracy``).
    summary_name = {key: alias for alias, key in _MEAN_ALIASES.get(result.command, {}).items()}
    others: dict[str, list[float]] = {}
    for name, bounds in result.intervals.items():
        if name not in in_summary:
            others.setdefault(summary_name.get(name, name) if name in keys else name, list(bounds))
    if others:
        result.bootstrap["intervals"] = others


def _resampled(result: Result, name: str) -> NDArray[np.float64] | None:
    """Each resample's value of statistic ``name``, or None when the resample sums cannot give it."""
    import numpy as np

    sums = result.resample_sums
    assert sums is not None
    keys = [m.key for m in result.measures]
    alias = _MEAN_ALIASES.get(result.command, {}).get(name)
    if alias is not None and alias in keys:
        if (result.loss is not None and result.loss.weighted) or (
            result.calibration is not None and result.calibration.weighted
        ):
            return None  # a weighted mean: the sums are of the unweighted rows
        means = sums.means(keys.index(alias))
        if name == "perplexity":  # exp of the mean log loss in nats, as LossSummary
            with np.errstate(over="ignore"):
                found: NDArray[np.float64] = np.exp(means * result.unit.scale)
            return found
        return means
    key, stat = result.split_statistic(name)
    if key in keys and stat == "sum":
        # A resample with no rows sums to 0: kept, as Σ w·x is.
        total: NDArray[np.float64] = sums.sums[keys.index(key)].copy()
        return total
    return None


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
                spelled(
                    f"{option('baseline')} {baseline.file} holds no per-row values of {measure} "
                    f"(written with {option('rows')} 0?): its change is compared without an interval"
                )
            )
            return None
        values, ids = found
        if values.shape[0] != result.count:
            raise UsageError(
                f"{option('baseline')} {baseline.file}: {values.shape[0]} rows, but this run has "
                f"{result.count}; "
                f"{option('ci')} pairs the rows of both",
                hint=f"compare results of the same rows, or leave out {option('ci')} to compare the "
                "means alone",
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
            f"{option('baseline')} {file}: ids repeat, so rows cannot be paired by id",
            hint="give every row a distinct id",
        )
    missing = [row_id for row_id in current if row_id not in position]
    if missing:
        raise UsageError(
            f"{option('baseline')} {file}: has no row with id {missing[0]!r} ({len(missing)} ids of "
            "this run lack one)",
            hint=f"{option('ci')} pairs the rows of both results by id",
        )
    order = np.array([position[row_id] for row_id in current], dtype=np.int64)
    return values[order]
