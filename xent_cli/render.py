"""Rendering results for people: Rich tables, the summary, histograms, explanations.

Programs get ``xent_cli.writers`` instead.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from xent_cli.results import SUMMARY_KEYS, Explanation, JointTable, Result

if TYPE_CHECKING:
    from rich.console import Console


def table_number(value: float, digits: int = 6) -> str:
    """A number for people: ``digits`` significant digits (JSON/TSV keep them all)."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    return f"{value:.{digits}g}"


def write_table(result: Result, console: Console, max_rows: int, *, worst: int = 0) -> None:
    """Per-row values (up to ``max_rows``), the summary, and a histogram for batches."""
    from rich import box
    from rich.table import Table as RichTable
    from rich.text import Text

    sources = "  ".join(f"{k.upper()}: {v}" for k, v in result.sources.items())
    console.print(Text(f"{result.title} · {result.unit.name}", style="bold"))
    console.print(Text(sources, style="dim"))
    if result.count == 1:
        table = RichTable(box=box.SIMPLE_HEAD, show_header=False)
        table.add_column("measure")
        table.add_column("value", justify="right")
        for m in result.measures:
            table.add_row(m.label, table_number(float(m.values[0])))
        console.print(table)
    else:
        rows = RichTable(box=box.SIMPLE_HEAD, pad_edge=False)
        rows.add_column("row", justify="right", style="dim")
        if result.ids:
            rows.add_column(result.id_name or "id")
        for m in result.measures:
            rows.add_column(m.label, justify="right")
        shown = min(result.count, max_rows)
        # Many measures side by side: fewer digits so the panel fits a terminal.
        digits = 6 if len(result.measures) <= 2 else 4
        for i in range(shown):
            cells = [str(result.row_number(i))]
            if result.ids:
                cells.append(result.ids[i])
            cells.extend(table_number(float(m.values[i]), digits) for m in result.measures)
            rows.add_row(*cells)
        if shown:
            console.print(rows)
        if shown < result.count:
            console.print(Text(f"  … {result.count - shown} more rows (--rows N shows more)", style="dim"))
        summary = RichTable(
            title=f"Summary over {result.count} rows",
            box=box.SIMPLE_HEAD,
            title_justify="left",
        )
        summary.add_column("measure")
        hidden = ("count", "inf_count") if digits == 6 else ("count", "inf_count", "sum")
        stat_keys = [k for k in SUMMARY_KEYS if k not in hidden]
        for key in stat_keys:
            summary.add_column(key, justify="right")
        for m in result.measures:
            stats = result.summary(m.key)
            summary.add_row(m.label, *(table_number(stats[k], digits) for k in stat_keys))
        console.print(summary)
        histogram = _histogram(result.headline.values)
        if histogram:
            console.print(Text(f"Distribution of {result.headline.label} over rows", style="bold"))
            console.print(Text(histogram))
    info = result.info
    if info is not None and info.joint is not None and len(info.joint.x) <= 12 and len(info.joint.y) <= 12:
        write_joint(info.joint, console)
    if result.samples is not None:
        samples = result.samples
        console.print(Text(f"{samples.count} samples, {samples.distinct} distinct values", style="dim"))
    elif info is not None and info.samples:
        console.print(Text(f"{info.samples} samples", style="dim"))
    loss = result.loss
    if loss is not None:
        lines = [
            f"log loss    {table_number(loss.log_loss)} {result.unit.name}",
            f"perplexity  {table_number(loss.perplexity)}",
            f"accuracy    {table_number(loss.accuracy)} (top-1)",
        ]
        if loss.ignored_rows:
            lines.append(f"ignored     {loss.ignored_rows} rows")
        console.print(Text("\n".join(lines)))
    if worst and result.count > 1:
        write_worst(result, worst, console)
    if result.panel is not None:
        write_panel(result.panel, result.unit.name, console)
    if result.explanation is not None:
        write_explanation(result.explanation, result.unit.name, console)
    if result.smoothing is not None:
        alpha = result.smoothing.alpha
        console.print(Text(f"Q smoothed: q' = (q + {alpha:g}) / (1 + K*{alpha:g})", style="dim"))


def write_explanation(explanation: Explanation, unit: str, console: Console, width: int = 24) -> None:
    """Outcomes ranked by contribution, with bars."""
    from rich import box
    from rich.table import Table as RichTable

    per = "mean contribution per row" if explanation.rows > 1 else "contribution"
    table = RichTable(
        title=f"What drives {explanation.label}: {per}, {unit}",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    table.add_column("outcome")
    table.add_column(explanation.label, justify="right")
    table.add_column("share", justify="right")
    table.add_column("")
    top = max((c.value for c in explanation.outcomes), default=0.0)
    for c in explanation.outcomes:
        bar = "█" * round(width * c.value / top) if top > 0 else ""
        table.add_row(c.outcome, table_number(c.value), f"{100 * c.share:.1f}%", bar)
    console.print(table)


def _histogram(values: Any, bins: int = 8, width: int = 30) -> str:
    """A few lines of text bars of how per-row values are spread."""
    import numpy as np

    finite = values[np.isfinite(values)]
    if finite.size < 2 or np.min(finite) == np.max(finite):
        return ""
    counts, edges = np.histogram(finite, bins=bins)
    peak = max(1, int(counts.max()))
    lows = [table_number(x) for x in edges[:-1]]
    highs = [table_number(x) for x in edges[1:]]
    lo_width, hi_width = max(map(len, lows)), max(map(len, highs))
    lines = []
    for count, lo, hi in zip(counts, lows, highs, strict=True):
        bar = "█" * round(width * int(count) / peak)
        lines.append(f"  {lo:>{lo_width}} – {hi:<{hi_width}}  {bar} {int(count)}")
    infinite = int(values.size - finite.size)
    if infinite:
        lines.append(f"  {'inf':>{lo_width}}   {'':<{hi_width}}  {infinite}")
    return "\n".join(lines)


def write_joint(joint: JointTable, console: Console) -> None:
    """The joint table p(x, y) with its marginals."""
    from rich import box
    from rich.table import Table as RichTable

    table = RichTable(title="Joint p(x, y) with marginals", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("x \\ y")
    for name in joint.y:
        table.add_column(str(name), justify="right")
    table.add_column("p(x)", justify="right", style="bold")
    for name, row, p_x in zip(joint.x, joint.p, joint.p_x, strict=True):
        table.add_row(str(name), *(table_number(v, 4) for v in row), table_number(p_x, 4))
    table.add_row("p(y)", *(table_number(v, 4) for v in joint.p_y), "1", style="bold")
    console.print(table)


# The panel's percentiles, in the order shown: min, p0.1, ..., p99.9, max.
_PANEL_ORDER = ("min", "p0.1", "p1", "p5", "p10", "p50", "p90", "p95", "p99", "p99.9", "max")


def write_panel(panel: dict[str, float], unit: str, console: Console) -> None:
    """The language-model panel: estimates with their standard errors, then the percentiles.

    Both tables are narrow (one statistic per line), so they fit a 60-column terminal.
    """
    from rich import box
    from rich.table import Table as RichTable

    estimates = RichTable(
        title=f"P (reference) vs Q (candidate), {int(panel['count'])} rows, {unit}",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    estimates.add_column("statistic")
    estimates.add_column("value", justify="right")
    estimates.add_column("± std. error", justify="right")

    def add(label: str, key: str, error: str | None = None) -> None:
        if key in panel:
            estimates.add_row(
                label, table_number(panel[key]), "" if error is None else table_number(panel[error])
            )

    add("mean D(P‖Q)", "kl.mean", "kl.std_error")
    if "same_top1" in panel:
        estimates.add_row(
            "same top-1",
            f"{100 * panel['same_top1']:.4g}%",
            f"{100 * panel['same_top1_std_error']:.3g}%"
            if math.isfinite(panel["same_top1_std_error"])
            else "nan",
        )
    add("PPL(P)", "ppl_p", "ppl_p_std_error")
    add("PPL(Q)", "ppl_q", "ppl_q_std_error")
    add("PPL(Q)/PPL(P)", "ppl_ratio", "ppl_ratio_std_error")
    add("ln PPL ratio", "ln_ppl_ratio", "ln_ppl_ratio_std_error")
    add("corr(ln p, ln q)", "logprob_correlation")
    add("mean Δp", "delta_p.mean", "delta_p.std_error")
    add("RMS Δp", "delta_p.rms")
    add("mass outside top-k", "p_outside_topk.mean")
    console.print(estimates)
    spread = RichTable(box=box.SIMPLE_HEAD, title="Percentiles over rows", title_justify="left")
    spread.add_column("")
    prefixes = [prefix for prefix in ("kl", "delta_p") if f"{prefix}.p50" in panel]
    for prefix in prefixes:
        spread.add_column("D(P‖Q)" if prefix == "kl" else "Δp = q(y) − p(y)", justify="right")
    for stat in _PANEL_ORDER:
        spread.add_row(stat, *(table_number(panel[f"{prefix}.{stat}"]) for prefix in prefixes))
    console.print(spread)


def write_worst(result: Result, n: int, console: Console) -> None:
    """The rows with the largest headline value."""
    from rich import box
    from rich.table import Table as RichTable

    table = RichTable(
        title=f"Worst {min(n, result.count)} rows by {result.headline.label}",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    table.add_column("row", justify="right")
    if result.ids:
        table.add_column(result.id_name or "id", overflow="fold")
    table.add_column(result.headline.label, justify="right", no_wrap=True)
    for row in result.worst_rows(n):
        cells = [str(row.row), *([row.id or ""] if result.ids else []), table_number(row.value)]
        table.add_row(*cells)
    console.print(table)
