"""Reports of a result and its gates for people and CI systems: the baseline line of a table.

Every report quotes a gate's bound as the user typed it (:attr:`Gate.bound_text`).
"""

from __future__ import annotations

from xent_cli.gates import percent
from xent_cli.render import table_number
from xent_cli.results import Comparison


def baseline_line(comparison: Comparison) -> str:
    """One line under a table: the baseline's value, this run's, the change and the relative change."""
    line = (
        f"baseline {comparison.file}: {comparison.statistic} {table_number(comparison.value)} -> "
        f"{table_number(comparison.current)}, change {_signed(table_number(comparison.change))} "
        f"({percent(comparison.relative_change)})"
    )
    if comparison.ci is not None:
        low, high = comparison.ci
        line += f", interval [{table_number(low)}, {table_number(high)}] (rows paired by {comparison.paired})"
    return line


def _signed(text: str) -> str:
    return text if text.startswith(("-", "−")) or text == "nan" else f"+{text}"
