"""What a command computed: units, per-row measures, summaries, gates and explanations.

Plain data, no I/O; the renderers turn a :class:`Result` into tables or JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xent_cli.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

PERCENTILES = (50, 90, 99)
SUMMARY_KEYS = ("count", "mean", "min", "p50", "p90", "p99", "max", "sum")


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
    """One per-row quantity of a result."""

    key: str
    label: str
    values: NDArray[np.float64]
    in_unit: bool = True  # False for unitless quantities (distances, agreement)


@dataclass
class Contribution:
    """How much one outcome contributes to a measure (the mean over rows)."""

    outcome: str
    value: float
    share: float


@dataclass
class Explanation:
    """Outcomes ranked by their contribution to ``measure``."""

    measure: str
    label: str
    total: float
    outcomes: list[Contribution]
    rows: int


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
    details: dict[str, Any] = field(default_factory=dict)
    explanation: Explanation | None = None
    # 1-based row numbers in the input, when some rows were left out (loss --ignore-label)
    row_numbers: list[int] | None = None

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
        return mean(self.headline.values)


def exact_sum(values: NDArray[np.float64]) -> float:
    """``math.fsum`` of the values, fed in slices so no list of every value is built."""
    import numpy as np

    if np.isposinf(values).any():
        return math.inf
    step = 1 << 16
    return math.fsum(
        x for start in range(0, values.shape[0], step) for x in values[start : start + step].tolist()
    )


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
    """A bound on a measure's mean: fail if it is above (or below) ``bound``.

    ``measure`` None means the command's headline measure.
    """

    direction: str  # "above" | "below"
    bound: float
    measure: str | None = None

    @classmethod
    def parse(cls, direction: str, text: str) -> Gate:
        """``X`` (the headline measure) or ``MEASURE=X``."""
        name, _, number = text.rpartition("=")
        try:
            bound = float(number)
        except ValueError:
            bound = math.nan
        if math.isnan(bound):
            raise UsageError(
                f"--fail-{direction} {text!r}: expected a number, or MEASURE=NUMBER",
                hint="e.g. --fail-above 0.01 or --fail-above js=0.001",
            )
        return cls(direction, bound, name.strip() or None)

    def holds(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return value <= self.bound if self.direction == "above" else value >= self.bound


def check_gates(result: Result, gates: list[Gate]) -> dict[str, Any]:
    """What was checked and whether it held; raises for a gate that names no measure."""
    checks = []
    for gate in gates:
        key = gate.measure or result.headline.key
        try:
            measure = result.measure(key)
        except KeyError:
            known = ", ".join(m.key for m in result.measures)
            raise UsageError(
                f"--fail-{gate.direction} {key}=…: {result.command} has no measure {key!r}",
                hint=f"measures: {known}",
            ) from None
        value = mean(measure.values)
        named = f"{gate.measure}=" if gate.measure else ""
        checks.append(
            {
                "option": f"--fail-{gate.direction} {named}{gate.bound:g}",
                "measure": measure.key,
                "statistic": "mean",
                "fail_if": gate.direction,
                "bound": gate.bound,
                "value": value,
                "held": gate.holds(value),
            }
        )
    return {"held": all(c["held"] for c in checks), "checks": checks}
