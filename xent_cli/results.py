"""What a command computed: units, per-row measures, summaries, gates and typed extras.

Plain data, no I/O; ``xent_cli.render`` and ``xent_cli.output`` turn a
:class:`Result` into tables, JSON or TSV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from xent_cli.columns.histogram import Histogram
from xent_cli.columns.statistics import mean, summarize, worst_of
from xent_cli.errors import UsageError, option, spelled

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.core.bootstrap import ResampleSums

SUMMARY_KEYS = ("count", "mean", "min", "p50", "p90", "p99", "max", "sum", "inf_count")
# Every statistic of a per-row measure that a gate may name (``kl.p99.9``, ``kl.std_error``).
STATISTICS = (
    "count", "mean", "std_error", "min", "p0.1", "p1", "p5", "p10", "p50", "p90", "p95", "p99", "p99.9",
    "max", "sum", "inf_count",
)  # fmt: skip
# The ends of a measure's bootstrap interval of the mean (--ci), as gates name them.
INTERVAL_STATISTICS = ("ci_low", "ci_high")
# How a measure's per-row values depend on the logarithm base.
Scaling = Literal["unit", "root", "none"]


@dataclass(frozen=True)
class Unit:
    """The logarithm base and its name."""

    base: float
    name: str

    @property
    def scale(self) -> float:
        return math.log(self.base)

    @classmethod
    def parse(cls, text: str) -> Unit:
        """``e``, ``2``, ``10`` or any positive number other than 1."""
        named = {"e": (math.e, "nats"), "2": (2.0, "bits"), "10": (10.0, "hartleys")}
        key = text.strip().lower()
        if key in named:
            return cls(*named[key])
        try:
            base = float(key)
        except ValueError:
            base = math.nan
        if not (math.isfinite(base) and base > 0 and base != 1):
            raise UsageError(
                f"{option('base')} {text!r} is not a valid base",
                hint="use e, 2, 10 or a positive number other than 1",
            )
        for value, name in named.values():
            if base == value:
                return cls(value, name)
        return cls(base, f"log-base-{text.strip()}")


@dataclass
class Measure:
    """One per-row quantity of a result, already in the result's unit."""

    key: str
    label: str
    values: NDArray[np.float64]
    scaling: Scaling = "unit"

    @property
    def in_unit(self) -> bool:
        """False for unitless quantities (distances, agreement)."""
        return self.scaling != "none"


@dataclass(frozen=True)
class Contribution:
    """What one outcome contributes to a measure (for a batch, the mean over rows).

    ``value`` is the non-negative contribution the measure is computed from
    (for KL, ``q·φ(p/q) = p·log(p/q) − p + q``); ``term`` the textbook term
    (``p·log(p/q)``, which can be negative); both sum to the measure over all
    outcomes. ``information`` is ``−log p`` (entropy) or ``−log q``
    (cross-entropy) of one distribution, None otherwise. ``share`` is None when
    the measure is infinite; ``infinite_rows`` counts the rows where this
    outcome's contribution is infinite.
    """

    outcome: str
    value: float
    share: float | None
    term: float = math.nan
    p: float = math.nan
    q: float | None = None
    information: float | None = None
    infinite_rows: int = 0

    def to_dict(self, information_key: str | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {
            "outcome": self.outcome,
            "contribution": self.value,
            "share": self.share,
            "term": self.term,
            "p": self.p,
        }
        if self.q is not None:
            item["q"] = self.q
        if information_key is not None and self.information is not None:
            item[information_key] = self.information
        item["infinite_rows"] = self.infinite_rows
        return item


@dataclass(frozen=True)
class ExplainFormulas:
    """How a measure splits into per-outcome parts, written for people."""

    # The non-negative contribution, e.g. "q·φ(p/q)" (φ(t) = t·log t − t + 1).
    contribution: str
    # The textbook term, e.g. "p·log(p/q)".
    term: str
    # The information content shown per outcome ("−log p", "−log q"), if any.
    information: str | None = None
    # Why the measure can be infinite, e.g. "p > 0 where q = 0".
    infinite_when: str | None = None
    # A hint for the infinite case, e.g. "--smooth ALPHA avoids it".
    infinite_hint: str | None = None

    @property
    def information_key(self) -> str | None:
        """The JSON key of the information column: ``neg_log_p`` or ``neg_log_q``."""
        if self.information is None:
            return None
        return "neg_log_" + self.information.rsplit(" ", 1)[-1]


@dataclass(frozen=True)
class Explanation:
    """Outcomes ranked by their contribution to ``measure``."""

    measure: str
    label: str
    total: float
    outcomes: list[Contribution]
    rows: int
    formulas: ExplainFormulas = field(default_factory=lambda: ExplainFormulas("contribution", "contribution"))
    # The sum of the textbook terms over every outcome (equal to ``total`` up to rounding).
    term_total: float = math.nan
    # How many outcomes there are, and how many of them make the measure infinite.
    n_outcomes: int = 0
    infinite_outcomes: int = 0
    # A second distribution (Q) takes part.
    pair: bool = True

    @property
    def infinite(self) -> bool:
        return math.isinf(self.total)

    @property
    def shows_term(self) -> bool:
        """The textbook term differs from the contribution (KL's p·log(p/q))."""
        return self.formulas.term != self.formulas.contribution

    def to_dict(self) -> dict[str, Any]:
        """The ``explain`` object of the JSON document."""
        key = self.formulas.information_key if self.rows == 1 else None
        document: dict[str, Any] = {
            "measure": self.measure,
            "statistic": "mean contribution per row" if self.rows > 1 else "contribution",
            "rows": self.rows,
            "total": self.total,
            "term_total": self.term_total,
            "formulas": {
                "contribution": self.formulas.contribution,
                "term": self.formulas.term,
                **({key: self.formulas.information} if key else {}),
            },
            "outcomes_total": self.n_outcomes,
            "infinite_outcomes": self.infinite_outcomes,
            "outcomes": [c.to_dict(key) for c in self.outcomes],
        }
        return document


@dataclass(frozen=True)
class Smoothing:
    """Additive smoothing applied to one source."""

    alpha: float
    applied_to: str = "q"


@dataclass(frozen=True)
class LossSummary:
    """What ``xent loss`` reports beside its per-row values."""

    log_loss: float
    perplexity: float
    accuracy: float
    ignored_rows: int
    label_smoothing: float
    binary: bool
    # --clip EPS: probabilities clipped to [EPS, 1 - EPS] (scikit-learn's log_loss); --smooth ALPHA.
    clip: float | None = None
    smooth: float = 0.0
    # --weights: log_loss and accuracy are weighted means (the per-row summaries are not).
    weighted: bool = False


# The statistics of a calibration result, in the order the JSON summary lists them.
CALIBRATION_STATISTICS = ("ece", "mce", "rmsce", "brier", "accuracy", "confidence")


@dataclass(frozen=True)
class CalibrationSummary:
    """What ``xent calibration`` reports: its statistics and the reliability diagram's bins.

    ``bins`` are dicts ``{lower, upper, count, weight, confidence, accuracy}``
    (confidence and accuracy None for an empty bin); ``classwise`` maps each
    class to its one-vs-rest ECE (``--classwise``).
    """

    ece: float
    mce: float
    rmsce: float
    brier: float
    accuracy: float
    confidence: float
    count: int
    n_bins: int
    strategy: str
    bins: list[dict[str, Any]]
    binary: bool = False
    classwise: dict[str, float] | None = None
    classwise_ece: float | None = None
    weighted: bool = False

    def statistic(self, name: str) -> float | None:
        """A statistic by its name (``ece``, ``brier``, ``classwise_ece``, …), or None."""
        if name in ("ece", "mce", "rmsce", "brier", "accuracy", "confidence"):
            return float(getattr(self, name))
        if name == "classwise_ece" and self.classwise_ece is not None:
            return self.classwise_ece
        return None


@dataclass(frozen=True)
class JointTable:
    """A joint distribution small enough to show, with its marginals."""

    x: list[str]
    y: list[str]
    p: list[list[float]]
    p_x: list[float]
    p_y: list[float]


def summary_document(summary: CalibrationSummary) -> dict[str, Any]:
    """The JSON ``summary`` of a calibration result: every statistic as a number."""
    document: dict[str, Any] = {"count": summary.count}
    document.update({key: getattr(summary, key) for key in CALIBRATION_STATISTICS})
    if summary.classwise_ece is not None:
        document["classwise_ece"] = summary.classwise_ece
    return document


@dataclass(frozen=True)
class InfoSummary:
    """What ``xent info`` reports: every information measure, in the result's unit."""

    mi: float
    h_x: float
    h_y: float
    h_xy: float
    h_x_given_y: float
    h_y_given_x: float
    nmi: float
    ami: float
    vi: float
    samples: int | None
    x_values: int
    y_values: int
    correction: str
    joint: JointTable | None = None
    nmi_normalization: str = "arithmetic: I / ((H(X) + H(Y)) / 2)"
    # The mean of H(X) and H(Y) that normalizes NMI and AMI (scikit-learn's average_method).
    average_method: str = "arithmetic"


@dataclass(frozen=True)
class SampleSummary:
    """The samples behind an entropy estimated from a label column."""

    count: int
    distinct: int
    correction: str


@dataclass(frozen=True)
class WorstRow:
    """One of the rows with the largest headline value."""

    row: int
    id: str | None
    value: float


@dataclass
class RowBlock:
    """Consecutive per-row values of a result: ``values[i]`` is measure ``i``'s.

    Row numbers are ``numbers`` (1-based, when some rows were left out) or
    ``start + 1, start + 2, …``.
    """

    start: int
    values: list[NDArray[np.float64]]
    ids: list[str] | None = None
    numbers: NDArray[np.int64] | None = None

    @property
    def count(self) -> int:
        return int(self.values[0].shape[0])


@dataclass
class RemoteRows:
    """Where a result's per-row values are when they stayed where they were computed
    (the Dask engine's workers), and what was learnt of them there.

    ``count`` rows; ``fetch`` streams them in order (None: not fetched); the rows with
    the largest headline value and the table's histogram (None: none) were found where
    the rows are. A local result holds its rows in its measures instead.
    """

    count: int
    fetch: Callable[[], Iterator[RowBlock]] | None = field(default=None, repr=False)
    worst: list[WorstRow] | None = None
    histogram: Histogram | None = None


@dataclass
class Result:
    """What a command computed: per-row measures, ready to summarize and render."""

    command: str
    title: str
    unit: Unit
    sources: dict[str, str]
    measures: list[Measure]
    ids: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    # What the layout rule decided for each source (columns used as outcomes, id, labels).
    layouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # 1-based row numbers in the input, when some rows were left out (loss --ignore-label)
    row_numbers: NDArray[np.int64] | None = None
    id_name: str | None = None
    explanation: Explanation | None = None
    smoothing: Smoothing | None = None
    loss: LossSummary | None = None
    info: InfoSummary | None = None
    samples: SampleSummary | None = None
    calibration: CalibrationSummary | None = None
    # compare: the language-model panel (kl.*, same_top1, ppl_ratio, delta_p.*, …), in the unit.
    panel: dict[str, float] | None = None
    # When the per-row values stay where they were computed (the Dask engine): where they
    # are. ``measures`` then hold no values (or only the first rows, for a table), and every
    # summary is known.
    remote: RemoteRows | None = None
    # --ci: every measure's Poisson bootstrap sums (merged over blocks and shards), and the
    # interval of each measure's mean found from them (by measure key), with how it was found.
    resample_sums: ResampleSums | None = field(default=None, repr=False)
    intervals: dict[str, tuple[float, float]] | None = None
    bootstrap: dict[str, Any] | None = None
    # --weights: each row's sample weight; every summary (mean, std_error, percentiles) is then
    # weighted (xent_cli.core.weighted defines them).
    weights: NDArray[np.float64] | None = field(default=None, repr=False)
    # --weights on the Dask engine, where the weights stay on the workers: the JSON's
    # ``weights`` object (total, zero_rows, percentiles), found from their exact sums.
    weight_facts: dict[str, Any] | None = None
    # summarize() of each measure, computed once (gates, JSON and tables all ask).
    _summaries: dict[tuple[str, bool], dict[str, float]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def headline(self) -> Measure:
        return self.measures[0]

    @property
    def by_measure(self) -> bool:
        """Whether the output names each measure (JSON ``summary.NAME``, a column per measure):
        a ``compare`` panel, whatever ``--measures`` picks, or any result of several measures."""
        return self.command == "compare" or len(self.measures) > 1

    @property
    def count(self) -> int:
        if self.remote is not None:
            return self.remote.count
        return int(self.headline.values.shape[0])

    def row_blocks(self) -> Iterator[RowBlock]:
        """The per-row values in order, a block at a time (from the workers, for a Dask result)."""
        if self.remote is not None and self.remote.fetch is not None:
            yield from self.remote.fetch()
            return
        if self.remote is not None and self.remote.count != self.headline.values.shape[0]:
            raise RuntimeError("this result holds no per-row values (they stayed on the workers)")
        yield RowBlock(0, [m.values for m in self.measures], self.ids, self.row_numbers)

    def measure(self, key: str) -> Measure:
        for m in self.measures:
            if m.key == key:
                return m
        raise KeyError(key)

    @property
    def headline_key(self) -> str:
        """The statistic a bare gate and ``--value`` report: the headline measure's mean, or ECE."""
        return "ece" if self.calibration is not None else self.headline.key

    def headline_value(self) -> float:
        if self.calibration is not None:
            return self.calibration.ece
        if self.loss is not None and self.loss.weighted:
            return self.loss.log_loss
        for extended in (False, True):
            if (self.headline.key, extended) in self._summaries:
                return self._summaries[(self.headline.key, extended)]["mean"]
        if self.weights is not None:  # the mean alone: --value needs no percentiles sorted
            from xent_cli.core.weighted import weighted_mean

            return weighted_mean(self.headline.values, self.weights)
        if self.weighted:
            return self.summary(self.headline.key)["mean"]
        return mean(self.headline.values)

    @property
    def weighted(self) -> bool:
        """Whether every summary is weighted (``--weights``)."""
        return self.weights is not None or self.weight_facts is not None

    def row_number(self, index: int) -> int:
        return int(self.row_numbers[index]) if self.row_numbers is not None else index + 1

    def summary(self, key: str, *, extended: bool = False) -> dict[str, float]:
        """The summary of one measure (``extended``: with the standard error and more percentiles)."""
        cache_key = (key, extended)
        if cache_key not in self._summaries:
            if self.remote is not None:
                raise RuntimeError(f"the summary of {key} was not computed with the result")
            values = self.measure(key).values
            if self.weights is not None:
                from xent_cli.core.weighted import weighted_summary

                self._summaries[cache_key] = weighted_summary(values, self.weights, extended=extended)
            else:
                self._summaries[cache_key] = summarize(values, extended=extended)
        return self._summaries[cache_key]

    def worst_rows(self, n: int) -> list[WorstRow]:
        """The ``n`` rows with the largest headline value, largest first (ties: the earlier row)."""
        if n <= 0:
            return []
        if self.remote is not None and self.remote.worst is not None:
            return self.remote.worst[:n]
        return [
            WorstRow(self.row_number(index), self.ids[index] if self.ids else None, value)
            for index, value in worst_of(self.headline.values, n)
        ]

    def statistic(self, name: str) -> float:
        """A named statistic: ``kl`` (its mean), ``kl.p99``, ``kl.std_error``, ``perplexity``, …

        Raises KeyError for a name this result does not have. ``NAME.ci_low`` and
        ``NAME.ci_high`` are the ends of NAME's bootstrap interval (``--ci``).
        """
        base, _, end = name.rpartition(".")
        if base and end in INTERVAL_STATISTICS:
            key, stat = self.split_statistic(base)
            interval_key = key if stat == "mean" and any(m.key == key for m in self.measures) else base
            if self.intervals is None or interval_key not in self.intervals:
                raise KeyError(name)
            return self.intervals[interval_key][INTERVAL_STATISTICS.index(end)]
        if self.loss is not None and name == "perplexity":
            return self.loss.perplexity
        if self.loss is not None and self.loss.weighted and name in ("log_loss", "accuracy"):
            return float(getattr(self.loss, name))
        if self.calibration is not None:
            found = self.calibration.statistic(name)
            if found is not None:
                return found
        if self.panel is not None and name in self.panel:
            return self.panel[name]
        key, stat = self.split_statistic(name)
        if stat not in STATISTICS:
            raise KeyError(name)
        summary = self.summary(key, extended=stat not in SUMMARY_KEYS)
        return float(summary[stat])

    def split_statistic(self, name: str) -> tuple[str, str]:
        """``kl.p99`` as ``("kl", "p99")``, ``kl`` as ``("kl", "mean")``; keys may hold dots (renyi:0.5)."""
        for m in sorted(self.measures, key=lambda m: -len(m.key)):
            if name == m.key:
                return m.key, "mean"
            if name.startswith(m.key + "."):
                return m.key, name[len(m.key) + 1 :]
        key, _, stat = name.partition(".")
        return key, stat or "mean"


def statistic_names(measure_keys: list[str], extra: tuple[str, ...] = ()) -> list[str]:
    """The statistics a gate may name for a command with these measures."""
    names = list(measure_keys)
    names += [f"{key}.{stat}" for key in measure_keys for stat in (*STATISTICS, *INTERVAL_STATISTICS)]
    return names + list(extra)


GateDirection = Literal["above", "below", "increase", "decrease"]


@dataclass(frozen=True)
class Gate:
    """A bound on a named statistic: fail if it is above (or below) ``bound``.

    ``statistic`` None means the command's headline measure's mean. ``increase``
    and ``decrease`` bound the change from a baseline (``--baseline``): by
    ``bound`` itself, or, ``relative``, by ``bound`` percent of the baseline's
    value. ``text`` is the bound as the user typed it (``0.3250829``, ``1%``),
    quoted back in every report so that a failed gate's line reads true.
    """

    direction: GateDirection
    bound: float
    statistic: str | None = None
    relative: bool = False
    text: str = field(default="", compare=False)

    @classmethod
    def parse(cls, direction: GateDirection, text: str) -> Gate:
        """``X`` (the headline measure's mean) or ``NAME=X`` (``kl=0.01``, ``kl.p99=0.5``).

        ``--fail-increase`` and ``--fail-decrease`` also take ``X%`` (of the baseline's value).
        """
        name, _, number = text.rpartition("=")
        typed = number.strip()
        relative = direction in ("increase", "decrease") and typed.endswith("%")
        try:
            bound = float(typed[:-1] if relative else typed)
        except ValueError:
            bound = math.nan
        if math.isnan(bound) or (direction in ("increase", "decrease") and not bound >= 0):
            example = "1%" if direction in ("increase", "decrease") else "js=0.001"
            raise UsageError(
                f"{option(f'fail_{direction}')} {text!r}: expected a number, or NAME=NUMBER",
                hint=f"e.g. {option(f'fail_{direction}')} 0.01 or {option(f'fail_{direction}')} {example}",
            )
        return cls(direction, bound, name.strip() or None, relative, typed)

    @property
    def bound_text(self) -> str:
        """The bound as typed (``%`` included), or, for a gate built in code, its shortest form."""
        if self.text:
            return self.text
        return f"{self.bound:g}%" if self.relative else f"{self.bound:g}"

    @property
    def option(self) -> str:
        named = f"{self.statistic}=" if self.statistic else ""
        return spelled(f"{option('fail_' + self.direction)} {named}{self.bound_text}")

    @property
    def against_baseline(self) -> bool:
        return self.direction in ("increase", "decrease")

    def holds(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return value <= self.bound if self.direction == "above" else value >= self.bound


@dataclass(frozen=True)
class Comparison:
    """A statistic of this run beside the same statistic of a baseline result (``--baseline``).

    ``ci`` is the bootstrap interval of the change (paired rows, ``--ci``), and
    ``paired`` how rows were paired for it: ``id`` or ``position``.
    """

    file: str
    statistic: str
    value: float
    current: float
    ci: tuple[float, float] | None = None
    paired: str | None = None

    @property
    def change(self) -> float:
        """``current − value``; 0 when they are equal, an infinite value that stayed included."""
        if self.current == self.value:
            return 0.0  # inf − inf would be nan, but inf to inf is no change
        return self.current - self.value

    @property
    def relative_change(self) -> float:
        """The change as a fraction of ``|value|``: 0 when nothing changed, ``±inf`` from 0.

        From an infinite baseline to a finite value, the limit of ``(current − v) / |v|``
        as ``v → ±inf``: ``−1`` from ``+inf`` (a fall of 100%), ``+1`` from ``−inf``.
        """
        change = self.change
        if change == 0 or math.isnan(change):
            return change
        if self.value == 0 or math.isinf(self.current):
            return math.copysign(math.inf, change)
        if math.isinf(self.value):
            return -math.copysign(1.0, self.value)
        return change / abs(self.value)

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "file": self.file,
            "statistic": self.statistic,
            "value": self.value,
            "current": self.current,
            "change": self.change,
            "relative_change": self.relative_change,
        }
        if self.ci is not None:
            document["ci"] = list(self.ci)
            document["paired_by"] = self.paired
        return document


@dataclass(frozen=True)
class GateCheck:
    """One gate, the value it saw and whether it held.

    For a gate against a baseline, ``value`` is the change from the baseline
    (with an interval, the end of it nearest to passing), ``limit`` the largest
    change allowed (the bound, or its percentage of the baseline's value), and
    ``baseline`` the comparison.
    """

    gate: Gate
    measure: str
    statistic: str
    value: float
    limit: float | None = None
    baseline: Comparison | None = None

    @property
    def held(self) -> bool:
        if not self.gate.against_baseline:
            return self.gate.holds(self.value)
        if math.isnan(self.value) or self.limit is None or math.isnan(self.limit):
            return False
        comparison = self.baseline
        if self.gate.relative and comparison is not None and math.isinf(comparison.value):
            # X% of an infinite baseline is an infinite limit, which no change could break:
            # the relative change (0, or a 100% fall to a finite value) is bounded instead.
            percent = comparison.relative_change * 100
            bound = self.gate.bound
            return percent <= bound if self.gate.direction == "increase" else percent >= -bound
        return self.value <= self.limit if self.gate.direction == "increase" else self.value >= -self.limit

    def to_dict(self) -> dict[str, Any]:
        document = {
            "option": self.gate.option,
            "measure": self.measure,
            "statistic": self.statistic,
            "fail_if": self.gate.direction,
            "bound": self.gate.bound,
            "bound_text": self.gate.bound_text,
            "value": self.value,
            "held": self.held,
        }
        if self.gate.against_baseline:
            document["relative"] = self.gate.relative
            document["limit"] = self.limit
        if self.baseline is not None:
            document["baseline"] = self.baseline.to_dict()
        return document


@dataclass(frozen=True)
class GateReport:
    """Every gate's verdict, and the headline's comparison with a baseline when one was given."""

    checks: list[GateCheck]
    baseline: Comparison | None = None

    @property
    def held(self) -> bool:
        return all(c.held for c in self.checks)

    @property
    def failed(self) -> list[GateCheck]:
        return [c for c in self.checks if not c.held]

    def to_dict(self) -> dict[str, Any]:
        return {"held": self.held, "checks": [c.to_dict() for c in self.checks]}
