"""What a command computed: units, per-row measures, summaries, gates and typed extras.

Plain data, no I/O; ``xent_cli.render`` and ``xent_cli.output`` turn a
:class:`Result` into tables, JSON or TSV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from xent_cli.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

PERCENTILES = (50, 90, 99)
SUMMARY_KEYS = ("count", "mean", "min", "p50", "p90", "p99", "max", "sum")
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
                f"--base {text!r} is not a valid base",
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
    """How much one outcome contributes to a measure (the mean over rows)."""

    outcome: str
    value: float
    share: float


@dataclass(frozen=True)
class Explanation:
    """Outcomes ranked by their contribution to ``measure``."""

    measure: str
    label: str
    total: float
    outcomes: list[Contribution]
    rows: int


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


@dataclass(frozen=True)
class JointTable:
    """A joint distribution small enough to show, with its marginals."""

    x: list[str]
    y: list[str]
    p: list[list[float]]
    p_x: list[float]
    p_y: list[float]


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
    samples: int | None
    x_values: int
    y_values: int
    correction: str
    joint: JointTable | None = None
    nmi_normalization: str = "arithmetic: I / ((H(X) + H(Y)) / 2)"


@dataclass(frozen=True)
class SampleSummary:
    """The samples behind an entropy estimated from a label column."""

    count: int
    distinct: int
    correction: str


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
    # summarize() of each measure, computed once (gates, JSON and tables all ask).
    _summaries: dict[str, dict[str, float]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def headline(self) -> Measure:
        return self.measures[0]

    @property
    def count(self) -> int:
        return int(self.headline.values.shape[0])

    def measure(self, key: str) -> Measure:
        for m in self.measures:
            if m.key == key:
                return m
        raise KeyError(key)

    def headline_value(self) -> float:
        if self.headline.key in self._summaries:
            return self._summaries[self.headline.key]["mean"]
        return mean(self.headline.values)

    def summary(self, key: str) -> dict[str, float]:
        """:func:`summarize` of the measure ``key``'s values (computed once)."""
        if key not in self._summaries:
            self._summaries[key] = summarize(self.measure(key).values)
        return dict(self._summaries[key])

    def row_number(self, index: int) -> int:
        return int(self.row_numbers[index]) if self.row_numbers is not None else index + 1

    def statistics(self) -> dict[str, float]:
        """Every named statistic a gate can check: ``kl`` (its mean), ``kl.p99``, ``perplexity``, …"""
        stats: dict[str, float] = {}
        for m in self.measures:
            summary = self.summary(m.key)
            stats[m.key] = summary["mean"]
            for key, value in summary.items():
                stats[f"{m.key}.{key}"] = float(value)
        if self.loss is not None:
            stats["perplexity"] = self.loss.perplexity
        return stats


def statistic_names(measure_keys: list[str], extra: tuple[str, ...] = ()) -> list[str]:
    """The names :meth:`Result.statistics` gives for a command with these measures."""
    names = list(measure_keys)
    names += [f"{key}.{stat}" for key in measure_keys for stat in SUMMARY_KEYS]
    return names + list(extra)


def exact_sum(values: NDArray[np.float64]) -> float:
    """``math.fsum`` of the values, fed in slices so no list of every value is built."""
    import numpy as np

    step = 1 << 16
    # Checked a slice at a time too: np.isposinf of every value at once would hold a few
    # temporaries of the values' size.
    n = values.shape[0]
    if any(np.isposinf(values[start : start + step]).any() for start in range(0, n, step)):
        return math.inf
    return math.fsum(x for start in range(0, n, step) for x in values[start : start + step].tolist())


def mean(values: NDArray[np.float64]) -> float:
    """The mean via an exactly rounded sum (``math.fsum``): independent of how rows were blocked."""
    n = int(values.shape[0])
    return exact_sum(values) / n if n else math.nan


def summarize(values: NDArray[np.float64]) -> dict[str, float]:
    """count, mean, min, percentiles (linear interpolation), max and exactly rounded sum.

    The sum uses ``math.fsum``, so the mean does not depend on how rows were
    split into blocks. Percentiles need every value, which results keep anyway.
    """
    import numpy as np

    n = int(values.shape[0])
    if n == 0:
        return {key: (0 if key == "count" else math.nan) for key in SUMMARY_KEYS}
    total = exact_sum(values)
    with np.errstate(invalid="ignore"):
        p50, p90, p99 = (float(x) for x in np.percentile(values, PERCENTILES))
    return {
        "count": n,
        "mean": total / n,
        "min": float(np.min(values)),
        "p50": p50,
        "p90": p90,
        "p99": p99,
        "max": float(np.max(values)),
        "sum": total,
    }


@dataclass(frozen=True)
class Gate:
    """A bound on a named statistic: fail if it is above (or below) ``bound``.

    ``statistic`` None means the command's headline measure's mean.
    """

    direction: Literal["above", "below"]
    bound: float
    statistic: str | None = None

    @classmethod
    def parse(cls, direction: Literal["above", "below"], text: str) -> Gate:
        """``X`` (the headline measure's mean) or ``NAME=X`` (``kl=0.01``, ``kl.p99=0.5``)."""
        name, _, number = text.rpartition("=")
        try:
            bound = float(number)
        except ValueError:
            bound = math.nan
        if math.isnan(bound):
            raise UsageError(
                f"--fail-{direction} {text!r}: expected a number, or NAME=NUMBER",
                hint="e.g. --fail-above 0.01 or --fail-above js=0.001",
            )
        return cls(direction, bound, name.strip() or None)

    @property
    def option(self) -> str:
        named = f"{self.statistic}=" if self.statistic else ""
        return f"--fail-{self.direction} {named}{self.bound:g}"

    def holds(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return value <= self.bound if self.direction == "above" else value >= self.bound


@dataclass(frozen=True)
class GateCheck:
    """One gate, the value it saw and whether it held."""

    gate: Gate
    measure: str
    statistic: str
    value: float

    @property
    def held(self) -> bool:
        return self.gate.holds(self.value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "option": self.gate.option,
            "measure": self.measure,
            "statistic": self.statistic,
            "fail_if": self.gate.direction,
            "bound": self.gate.bound,
            "value": self.value,
            "held": self.held,
        }


@dataclass(frozen=True)
class GateReport:
    checks: list[GateCheck]

    @property
    def held(self) -> bool:
        return all(c.held for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"held": self.held, "checks": [c.to_dict() for c in self.checks]}


def check_gates(result: Result, gates: list[Gate]) -> GateReport:
    """What was checked and whether it held; a gate naming no statistic is a usage error."""
    if not gates:
        return GateReport([])  # nothing to summarize (percentiles would copy every row)
    stats = result.statistics()
    checks = []
    for gate in gates:
        name = gate.statistic or result.headline.key
        if name not in stats:
            raise UsageError(
                f"--fail-{gate.direction} {name}=…: {result.command} has no statistic {name!r}",
                hint=f"known: {', '.join(stats)}",
            )
        measure, _, statistic = name.partition(".")
        checks.append(GateCheck(gate, measure, statistic or "mean", stats[name]))
    return GateReport(checks)
