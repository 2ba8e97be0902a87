"""Gate policy: which bounds a result broke, against fixed numbers or against a baseline.

The execution path evaluates the gates once, after the result is merged, and hands
the :class:`~xent_cli.results.GateReport` to every writer (JSON, tables, Markdown,
JUnit, GitHub's annotations and job summary), so that all of them say the same.

* ``--fail-above [NAME=]X`` / ``--fail-below [NAME=]X``: NAME's value is compared with X.
  ``NAME.ci_low`` and ``NAME.ci_high`` are the ends of NAME's bootstrap interval (``--ci``).
* ``--fail-increase [NAME=]X`` / ``--fail-decrease [NAME=]X`` with ``--baseline FILE``:
  the change of NAME from the baseline's value, ``current − baseline``, may not exceed
  X (or X % of ``|baseline|``) upwards (or downwards). With ``--ci`` and per-row values
  in the baseline, the change's paired bootstrap interval is compared instead: the gate
  fails only when the whole interval lies past the limit.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from xent_cli.errors import UsageError, option
from xent_cli.results import Comparison, Gate, GateCheck, GateReport, Result

if TYPE_CHECKING:
    from collections.abc import Callable

    from xent_cli.baseline import Baseline

# The change of a statistic and its interval, for a gate or the headline (see xent_cli.core.bootstrap).
PairedInterval = tuple[tuple[float, float], str]


def evaluate(
    result: Result,
    gates: list[Gate],
    baseline: Baseline | None = None,
    paired_interval: Callable[[str], PairedInterval | None] | None = None,
) -> GateReport:
    """Every gate's verdict, and the headline's comparison with ``baseline``.

    ``paired_interval(measure)`` gives the bootstrap interval of the change of a
    measure's mean from the baseline and how rows were paired (None: no interval).
    """
    checks = []
    comparisons: dict[str, Comparison] = {}

    def compare(name: str) -> Comparison:
        if name not in comparisons:
            assert baseline is not None
            comparisons[name] = _comparison(result, name, baseline, paired_interval)
        return comparisons[name]

    per_row = {m.key for m in result.measures}
    for gate in gates:
        name = gate.statistic or result.headline_key
        measure, statistic = result.split_statistic(name)
        if measure not in per_row and statistic == "mean" and "." not in name:
            statistic = "value"  # a statistic of the whole input (perplexity, ece, nmi): no mean of rows
        if not gate.against_baseline:
            checks.append(GateCheck(gate, measure, statistic, _statistic(result, gate, name)))
            continue
        if baseline is None:
            raise UsageError(
                f"{option('fail_' + gate.direction)} needs {option('baseline')} FILE",
                hint=f"a JSON result of an earlier run: xent {result.command} … {option('json')} -o FILE",
            )
        comparison = compare(name)
        limit = gate.bound
        if gate.relative:
            # 0% of an infinite baseline is 0, not nan.
            limit = gate.bound * abs(comparison.value) / 100 if gate.bound else 0.0
        value = comparison.change
        if comparison.ci is not None:
            # The end of the interval nearest to passing: the gate fails only if all of it is past.
            value = comparison.ci[0] if gate.direction == "increase" else comparison.ci[1]
        checks.append(GateCheck(gate, measure, statistic, value, limit, comparison))
    headline = compare(result.headline_key) if baseline is not None else None
    return GateReport(checks, headline)


def _statistic(result: Result, gate: Gate, name: str) -> float:
    try:
        return result.statistic(name)
    except KeyError:
        raise UsageError(
            f"{option('fail_' + gate.direction)} {name}=…: {result.command} has no statistic {name!r}"
        ) from None


def _comparison(
    result: Result,
    name: str,
    baseline: Baseline,
    paired_interval: Callable[[str], PairedInterval | None] | None,
) -> Comparison:
    keys = [m.key for m in result.measures]
    try:
        value = baseline.value(name, keys)
    except (KeyError, ValueError):
        raise UsageError(
            f"{option('baseline')} {baseline.file}: has no statistic {name!r}",
            hint=f"the baseline must be the JSON result of the same command with the same "
            f"{option('measures')}",
        ) from None
    current = result.statistic(name)
    interval = None
    measure, statistic = result.split_statistic(name)
    # An infinite mean's change has no bootstrap interval (its resamples' changes are nan).
    finite = math.isfinite(value) and math.isfinite(current)
    if paired_interval is not None and statistic == "mean" and measure in keys and finite:
        interval = paired_interval(measure)
    if interval is None:
        return Comparison(baseline.file, name, value, current)
    return Comparison(baseline.file, name, value, current, interval[0], interval[1])


def failure_line(check: GateCheck) -> str:
    """What a broken gate says on stderr (after ``xent: gate failed:``), quoting the bound as typed."""
    gate = check.gate
    subject = check.measure if check.statistic == "value" else f"{check.measure} {check.statistic}"
    if not gate.against_baseline:
        relation = ">" if gate.direction == "above" else "<"
        return f"{subject} {_number(check.value)} {relation} {gate.bound_text} ({gate.option})"
    comparison = check.baseline
    assert comparison is not None and check.limit is not None
    verb = "rose" if comparison.change > 0 else "fell" if comparison.change < 0 else "changed"
    moved = (
        f"{subject} {verb} from {_number(comparison.value)} ({comparison.file}) to "
        f"{_number(comparison.current)} ({_signed(comparison.change)}, {percent(comparison.relative_change)})"
    )
    allowed = gate.bound_text
    if gate.relative and math.isfinite(comparison.value):
        allowed += f" = {_number(check.limit)}"
    if comparison.ci is None:
        more = "more than" if gate.direction == "increase" else "a fall of more than"
        return f"{moved}, {more} {allowed} ({gate.option})"
    low, high = comparison.ci
    side = "above" if gate.direction == "increase" else "below"
    edge = check.limit if gate.direction == "increase" else -check.limit
    bound = _number(edge) + (f" ({gate.bound_text})" if gate.relative else "")
    return (
        f"{moved}; the bootstrap interval of the change [{_number(low)}, {_number(high)}] lies wholly "
        f"{side} {bound} ({gate.option})"
    )


def percent(fraction: float) -> str:
    """A relative change as a signed percentage, to 3 significant digits (``+1.23%``)."""
    if math.isnan(fraction):
        return "nan%"
    if math.isinf(fraction):
        return "+inf%" if fraction > 0 else "-inf%"
    return f"{fraction * 100:+.3g}%"


def _signed(value: float) -> str:
    text = _number(value)
    return text if text.startswith("-") or text == "nan" else f"+{text}"


def _number(value: float) -> str:
    from xent_cli.writers import text_number

    return text_number(value)
