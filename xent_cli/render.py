"""Rendering results for people: Rich tables that fit the terminal, histograms, explanations.

Every table is laid out for ``console.width`` and never cuts a number. A layout
is tried with 6, then 5, then 4 significant digits; when even 4 is too wide, the
measures are split over several tables (each repeating the row numbers and
ids), and the summary turns to one row per statistic. Ids and outcome names
wrap onto more lines (folded, never abbreviated); column headers are never cut.
When nothing fits (a very narrow terminal), each row is printed as a list of
``label  value`` lines.

Programs get ``xent_cli.writers`` instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from xent_cli.columns.histogram import Histogram, histogram
from xent_cli.errors import option, spelled
from xent_cli.results import SUMMARY_KEYS, CalibrationSummary, Explanation, JointTable, Result

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

# Significant digits, most preferred first.
DIGITS = (6, 5, 4)
# The longest bar of a histogram or an explanation.
HISTOGRAM_BAR = 30
EXPLAIN_BAR = 24
# Statistics of the summary table (the count is in its title).
# The summary a table shows (the count is in its title; inf rows show as inf values).
SHOWN_STATISTICS = tuple(key for key in SUMMARY_KEYS if key not in ("count", "inf_count"))


def table_number(value: float, digits: int = 6) -> str:
    """A number for people: ``digits`` significant digits (JSON/TSV keep them all)."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    return f"{value:.{digits}g}"


# --- layout: columns that fit the width ----------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A table column whose cells depend on the number of significant digits.

    ``fold`` marks text (ids, outcome names) that may wrap onto more lines, at
    most a third of the width; every other column keeps each cell on one line.
    """

    header: str
    cells: Callable[[int], Sequence[str]]
    justify: Literal["left", "right"] = "right"
    style: str = ""
    fold: bool = False


def _fold_width(console: Console) -> int:
    return max(10, console.width // 3)


def _build(
    console: Console,
    columns: Sequence[Column],
    digits: int,
    *,
    show_header: bool = True,
    last_row_style: str = "",
) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_header=show_header, pad_edge=False)
    cells = [column.cells(digits) for column in columns]
    for column in columns:
        if column.fold:
            table.add_column(
                column.header,
                justify=column.justify,
                style=column.style or None,
                overflow="fold",
                max_width=_fold_width(console),
            )
        else:
            table.add_column(column.header, justify=column.justify, style=column.style or None, no_wrap=True)
    n_rows = max((len(c) for c in cells), default=0)
    for i in range(n_rows):
        style = last_row_style if i == n_rows - 1 else ""
        table.add_row(*(c[i] if i < len(c) else "" for c in cells), style=style or None)
    return table


def natural_width(console: Console, renderable: Any) -> int:
    """The width ``renderable`` takes when nothing is squeezed."""
    from rich.measure import Measurement

    return Measurement.get(console, console.options.update_width(10_000), renderable).maximum


def _fits(console: Console, table: Table) -> bool:
    return natural_width(console, table) <= console.width


def fit_tables(
    console: Console,
    key: Sequence[Column],
    values: Sequence[Column],
    *,
    max_tables: int | None = None,
    digits: Sequence[int] = DIGITS,
    show_header: bool = True,
    last_row_style: str = "",
) -> list[Table] | None:
    """The fewest tables (then the most digits) that show ``values`` beside ``key`` within the width.

    Each table repeats the ``key`` columns and shows a run of the value
    columns, in order. None when even one value column per table is too wide.
    """
    n = len(values)
    limit = n if max_tables is None else min(n, max_tables)
    tried: set[int] = set()
    for wanted in range(1, max(limit, 1) + 1):
        size = max(1, -(-n // wanted))
        if size in tried:
            continue
        tried.add(size)
        groups = [values[i : i + size] for i in range(0, n, size)] or [[]]
        for d in digits:
            tables = [
                _build(console, [*key, *group], d, show_header=show_header, last_row_style=last_row_style)
                for group in groups
            ]
            if all(_fits(console, t) for t in tables):
                return tables
    return None


def print_records(console: Console, records: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> None:
    """The layout for any width: a heading per record, then one ``label  value`` line per field."""
    from rich.text import Text

    for heading, fields in records:
        if heading:
            console.print(Text(heading, style="bold"))
        label_width = max((len(label) for label, _ in fields), default=0)
        for label, value in fields:
            if 2 + label_width + 2 + len(value) <= console.width:
                console.print(Text(f"  {label:<{label_width}}  {value}"), no_wrap=True, overflow="ignore")
            else:  # the value on a line of its own, whole
                console.print(Text(f"  {label}"), overflow="fold")
                console.print(Text(f"    {value}"), no_wrap=True, overflow="ignore")


def wrap_label(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` characters, broken after ``,`` or ``/`` or at spaces where needed.

    Inline sources (``P: 0.1,0.2,…``) are broken between numbers, never inside one.
    """
    lines: list[str] = []
    rest = text
    while len(rest) > width:
        cut = max(rest.rfind(sep, 0, width) for sep in (", ", ",", "/", " "))
        cut = width - 1 if cut <= 0 else cut
        lines.append(rest[: cut + 1].rstrip())
        rest = rest[cut + 1 :].lstrip()
    lines.append(rest)
    return lines


def _print_lines(console: Console, text: str, style: str = "") -> None:
    from rich.text import Text

    for line in wrap_label(text, max(console.width, 20)):
        console.print(Text(line, style=style or ""))


# --- the result ----------------------------------------------------------------------------------


def write_table(result: Result, console: Console, max_rows: int, *, worst: int = 0) -> None:
    """Per-row values (up to ``max_rows``), the summary, and a histogram for batches."""
    sources = "  ".join(f"{k.upper()}: {v}" for k, v in result.sources.items())
    _print_lines(console, f"{result.title} · {result.unit.name}", "bold")
    _print_lines(console, sources, "dim")
    if result.calibration is not None:
        write_calibration(result.calibration, console)
        return
    if result.count == 1:
        _write_single(result, console)
    else:
        shown = min(result.count, max_rows)
        if shown:
            _write_rows(result, console, shown)
        if 0 < shown < result.count:
            _print_lines(
                console,
                spelled(f"  {result.count - shown} more rows not shown ({option('rows')} N shows more)"),
                "dim",
            )
        write_summary(result, console)
        write_histogram(result.headline.values, result.headline.label, console, result)
    info = result.info
    if info is not None and info.joint is not None and len(info.joint.x) <= 12 and len(info.joint.y) <= 12:
        write_joint(info.joint, console)
    if result.samples is not None:
        samples = result.samples
        _print_lines(console, f"{samples.count} samples, {samples.distinct} distinct values", "dim")
    elif info is not None and info.samples:
        _print_lines(console, f"{info.samples} samples", "dim")
    loss = result.loss
    if loss is not None:
        lines = [
            ("log loss", f"{table_number(loss.log_loss)} {result.unit.name}"),
            ("perplexity", table_number(loss.perplexity)),
            ("accuracy", f"{table_number(loss.accuracy)} (top-1)"),
        ]
        if loss.ignored_rows:
            lines.append(("ignored", f"{loss.ignored_rows} rows"))
        if loss.smooth:
            lines.append(("smoothed", f"p' = (p + {loss.smooth:g}) / (1 + K*{loss.smooth:g})"))
        if loss.clip is not None:
            lines.append(("clipped", f"p to [{loss.clip:.6g}, 1 - {loss.clip:.6g}] (as sklearn's log_loss)"))
        for label, value in lines:
            _print_lines(console, f"{label:<10}  {value}")
    if worst and result.count > 1:
        write_worst(result, worst, console)
    if result.panel is not None:
        write_panel(result.panel, result.unit.name, console)
    if result.explanation is not None:
        write_explanation(result.explanation, result.unit.name, console)
    if result.smoothing is not None:
        alpha = result.smoothing.alpha
        _print_lines(console, f"Q smoothed: q' = (q + {alpha:g}) / (1 + K*{alpha:g})", "dim")


def _write_single(result: Result, console: Console) -> None:
    """One distribution: a measure per line."""
    labels = Column("measure", lambda d: [m.label for m in result.measures], justify="left", fold=True)
    values = Column("value", lambda d: [table_number(float(m.values[0]), d) for m in result.measures])
    tables = fit_tables(console, [labels], [values], show_header=False)
    if tables is None:
        print_records(console, [("", [(m.label, table_number(float(m.values[0]))) for m in result.measures])])
        return
    for table in tables:
        console.print(table)


def _write_rows(result: Result, console: Console, shown: int) -> None:
    key = [Column("row", lambda d: [str(result.row_number(i)) for i in range(shown)], style="dim")]
    if result.ids:
        ids = result.ids[:shown]
        key.append(Column(result.id_name or "id", lambda d: ids, justify="left", fold=True))
    values = [_measure_column(m.label, m.values[:shown]) for m in result.measures]
    tables = fit_tables(console, key, values)
    if tables is None:
        records = []
        for i in range(shown):
            heading = f"row {result.row_number(i)}" + (f"  {result.ids[i]}" if result.ids else "")
            records.append((heading, [(m.label, table_number(float(m.values[i]))) for m in result.measures]))
        print_records(console, records)
        return
    for table in tables:
        console.print(table)


def _measure_column(label: str, values: Any) -> Column:
    numbers = [float(v) for v in values]
    return Column(label, lambda d: [table_number(v, d) for v in numbers])


def write_summary(result: Result, console: Console) -> None:
    """The summary of every measure: one row per measure if it fits, else one row per statistic."""
    from rich.text import Text

    stats = [result.summary(m.key) for m in result.measures]
    weighted = "Weighted summary" if result.weighted else "Summary"
    console.print(Text(f"{weighted} over {result.count} rows", style="bold"))
    measures = Column("measure", lambda d: [m.label for m in result.measures], justify="left")
    wide = [
        Column(key, lambda d, key=key: [table_number(s[key], d) for s in stats])  # type: ignore[misc]
        for key in SHOWN_STATISTICS
    ]
    tables = fit_tables(console, [measures], wide, max_tables=1)
    if tables is None:
        names = Column("", lambda d: list(SHOWN_STATISTICS), justify="left")
        tall = [
            Column(m.label, lambda d, s=s: [table_number(s[key], d) for key in SHOWN_STATISTICS])  # type: ignore[misc]
            for m, s in zip(result.measures, stats, strict=True)
        ]
        tables = fit_tables(console, [names], tall)
    if tables is None:
        print_records(
            console,
            [
                (m.label, [(key, table_number(s[key])) for key in SHOWN_STATISTICS])
                for m, s in zip(result.measures, stats, strict=True)
            ],
        )
        return
    for table in tables:
        console.print(table)


# --- histograms ----------------------------------------------------------------------------------


def histogram_lines(spread: Histogram, width: int) -> list[str]:
    """Text bars within ``width`` columns; every non-empty bin gets at least one block."""
    lows: list[str] = []
    highs: list[str] = []
    counts = [*spread.counts]
    extra = [("0", spread.zeros)] if spread.zeros else []
    extra += [("inf", spread.infinite)] if spread.infinite else []
    count_width = len(str(max([*counts, *(n for _, n in extra)])))
    for digits in (6, 5, 4, 3):
        lows = [table_number(x, digits) for x in spread.lows]
        highs = [table_number(x, digits) for x in spread.highs]
        fixed = 2 + max(map(len, lows)) + 3 + max(map(len, highs)) + 2 + 1 + count_width
        if width - fixed >= 10:
            break
    lo_width, hi_width = max(map(len, lows)), max(map(len, highs))
    bar_width = max(1, min(HISTOGRAM_BAR, width - (2 + lo_width + 3 + hi_width + 2 + 1 + count_width)))
    peak = max(1, *counts, *(n for _, n in extra))

    def bar(count: int) -> str:
        return "█" * max(1, round(bar_width * count / peak)) if count > 0 else ""

    lines = []
    if spread.zeros:
        lines.append(f"  {'0':>{lo_width}}   {'':<{hi_width}}  {bar(spread.zeros)} {spread.zeros}")
    for count, lo, hi in zip(counts, lows, highs, strict=True):
        lines.append(f"  {lo:>{lo_width}} – {hi:<{hi_width}}  {bar(count)} {count}")
    if spread.infinite:
        lines.append(f"  {'inf':>{lo_width}}   {'':<{hi_width}}  {bar(spread.infinite)} {spread.infinite}")
    return lines


def write_histogram(values: Any, label: str, console: Console, result: Result | None = None) -> None:
    from rich.text import Text

    # A Dask result counted its histogram on the workers.
    remote = result.remote if result is not None else None
    spread = remote.histogram if remote is not None else histogram(values)
    if spread is None:
        return
    scale = " (log scale)" if spread.log_scale else ""
    _print_lines(console, f"Distribution of {label} over rows{scale}", "bold")
    for line in histogram_lines(spread, console.width):
        console.print(Text(line), no_wrap=True, overflow="ignore")


# --- explanations --------------------------------------------------------------------------------


def _share(share: float | None, infinite: bool) -> str:
    if share is None:
        return "inf" if infinite else "–"
    return f"{100 * share:.1f}%"


def write_explanation(explanation: Explanation, unit: str, console: Console) -> None:
    """Each outcome's numbers, term and contribution, ranked, with bars; notes on infinities."""
    outcomes = explanation.outcomes
    single = explanation.rows == 1
    formulas = explanation.formulas
    total_label = "total" if len(outcomes) == explanation.n_outcomes else f"total ({explanation.n_outcomes})"

    def numbers(values: Sequence[float | None], total: float | None = None) -> Callable[[int], list[str]]:
        def cells(d: int) -> list[str]:
            shown = ["" if v is None else table_number(v, d) for v in values]
            return [*shown, "" if total is None else table_number(total, d)]

        return cells

    name = Column(
        "outcome", lambda d: [*(c.outcome for c in outcomes), total_label], justify="left", fold=True
    )
    inputs: list[Column] = []
    if single:
        inputs.append(Column("p", numbers([c.p for c in outcomes])))
        if explanation.pair:
            inputs.append(Column("q", numbers([c.q for c in outcomes])))
    information: list[Column] = []
    if single and formulas.information is not None:
        information.append(Column(formulas.information, numbers([c.information for c in outcomes])))
    terms: list[Column] = []
    if explanation.shows_term:
        terms.append(Column(formulas.term, numbers([c.term for c in outcomes], explanation.term_total)))
    header = formulas.contribution if len(formulas.contribution) <= 12 else explanation.label
    contribution = Column(header, numbers([c.value for c in outcomes], explanation.total))
    shares = [_share(c.share, c.infinite_rows > 0) for c in outcomes]
    share = Column("share", lambda d: [*shares, "" if explanation.infinite else "100%"])
    # Columns to leave out, in turn, when the table does not fit: the inputs, then the information.
    candidates = [
        [*inputs, *information, *terms, contribution, share],
        [*information, *terms, contribution, share],
        [*terms, contribution, share],
    ]
    per = "per outcome" if single else f"mean per row over {explanation.rows} rows"
    _print_lines(console, f"What drives {explanation.label}: {per}, {unit}", "bold")
    table = None
    for values in candidates:
        tables = fit_tables(console, [name], values, max_tables=1, last_row_style="bold")
        if tables is not None:
            table, chosen = tables[0], values
            break
    if table is None:
        print_records(
            console,
            [
                (c.outcome, [(formulas.contribution, table_number(c.value)), ("share", s)])
                for c, s in zip(outcomes, shares, strict=True)
            ],
        )
    else:
        room = console.width - natural_width(console, table) - 3
        if room >= 4 and not explanation.infinite:
            top = max((c.value for c in outcomes), default=0.0)
            width = min(EXPLAIN_BAR, room)
            bars = [
                "█" * max(1, round(width * c.value / top)) if top > 0 and c.value > 0 else ""
                for c in outcomes
            ]
            with_bars = fit_tables(
                console,
                [name],
                [*chosen, Column("", lambda d: [*bars, ""], justify="left")],
                max_tables=1,
                last_row_style="bold",
            )
            table = with_bars[0] if with_bars is not None else table
        console.print(table)
    for note in explanation_notes(explanation):
        _print_lines(console, note, "dim")


def explanation_notes(explanation: Explanation) -> list[str]:
    """What a person needs to reconcile the table by hand."""
    notes = []
    formulas = explanation.formulas
    if explanation.infinite:
        infinite = [c for c in explanation.outcomes if c.infinite_rows]
        if explanation.rows > 1:
            names = ", ".join(
                f"{c.outcome} (in {c.infinite_rows} of {explanation.rows} rows)" for c in infinite
            )
        else:
            names = ", ".join(c.outcome for c in infinite)
        more = explanation.infinite_outcomes - len(infinite)
        names += f" and {more} more" if more > 0 else ""
        why = f": {formulas.infinite_when}" if formulas.infinite_when else ""
        count = explanation.infinite_outcomes
        outcome_word = f"outcome {names}" if count == 1 else f"{count} outcomes: {names}"
        hint = f"; {spelled(formulas.infinite_hint)}" if formulas.infinite_hint else ""
        notes.append(f"{explanation.label} is infinite{why}, for {outcome_word}{hint}.")
    if explanation.shows_term and formulas.contribution == "q·φ(p/q)":
        notes.append(
            "q·φ(p/q) = p·log(p/q) − p + q ≥ 0: over all outcomes it sums to the same total as "
            "p·log(p/q), whose terms can be negative."
        )
    elif explanation.shows_term:
        notes.append(
            f"{formulas.contribution} ≥ 0 sums to the same total as {formulas.term}, "
            "whose terms can be negative."
        )
    return notes


# --- joint tables --------------------------------------------------------------------------------


def write_joint(joint: JointTable, console: Console) -> None:
    """The joint table p(x, y) with its marginals; split into several tables by Y when too wide."""
    x_names = Column("x \\ y", lambda d: [*map(str, joint.x), "p(y)"], justify="left", fold=True)

    def column(name: str, cells: list[float], total: float) -> Column:
        return Column(name, lambda d: [*(table_number(v, d) for v in cells), table_number(total, d)])

    values = [column(str(name), [row[j] for row in joint.p], joint.p_y[j]) for j, name in enumerate(joint.y)]
    values.append(column("p(x)", joint.p_x, 1.0))
    _print_lines(console, "Joint p(x, y) with marginals", "bold")
    tables = fit_tables(console, [x_names], values, last_row_style="bold")
    if tables is None:
        print_records(
            console,
            [
                (f"x = {x}", [(f"y = {y}", table_number(v)) for y, v in zip(joint.y, row, strict=True)])
                for x, row in zip(joint.x, joint.p, strict=True)
            ],
        )
        return
    for table in tables:
        console.print(table)


# --- language models and worst rows ---------------------------------------------------------

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
    add("same top-1 share", "same_top1", "same_top1_std_error")
    add("PPL(P)", "ppl_p", "ppl_p_std_error")
    add("PPL(Q)", "ppl_q", "ppl_q_std_error")
    add("PPL(Q)/PPL(P)", "ppl_ratio", "ppl_ratio_std_error")
    add("ln PPL ratio", "ln_ppl_ratio", "ln_ppl_ratio_std_error")
    add("corr(ln p, ln q)", "logprob_correlation")
    add("mean Δp", "delta_p.mean", "delta_p.std_error")
    add("RMS Δp", "delta_p.rms")
    add("mass outside top-k", "p_outside_topk.mean")
    console.print(estimates)
    prefixes = [prefix for prefix in ("kl", "delta_p") if f"{prefix}.p50" in panel]
    if not prefixes:  # compare --measures without kl: no per-row column to take percentiles of
        return
    spread = RichTable(box=box.SIMPLE_HEAD, title="Percentiles over rows", title_justify="left")
    spread.add_column("")
    for prefix in prefixes:
        spread.add_column("D(P‖Q)" if prefix == "kl" else "Δp = q(y) − p(y)", justify="right")
    for stat in _PANEL_ORDER:
        spread.add_row(stat, *(table_number(panel[f"{prefix}.{stat}"]) for prefix in prefixes))
    console.print(spread)


def write_worst(result: Result, n: int, console: Console) -> None:
    """The rows with the largest headline value."""
    from rich import box
    from rich.table import Table as RichTable

    # The title is a line of its own: as a table title it would wrap at the narrow table's width.
    _print_lines(console, f"Worst {min(n, result.count)} rows by {result.headline.label}", "bold")
    table = RichTable(box=box.SIMPLE_HEAD)
    table.add_column("row", justify="right")
    if result.ids:
        table.add_column(result.id_name or "id", overflow="fold")
    table.add_column(result.headline.label, justify="right", no_wrap=True)
    for row in result.worst_rows(n):
        cells = [str(row.row), *([row.id or ""] if result.ids else []), table_number(row.value)]
        table.add_row(*cells)
    console.print(table)


# --- calibration ---------------------------------------------------------------------------------


def _edge(value: float) -> str:
    """A bin edge for people, to 3 significant digits (JSON keeps every digit)."""
    return f"{value:.3g}"


def reliability_lines(summary: CalibrationSummary, width: int) -> list[str]:
    """The reliability diagram as text lines of at most ``width`` characters (bars shrink, numbers never).

    One line per non-empty bin: its range, row count, mean confidence and
    accuracy, then a bar as long as the accuracy with ``│`` where the
    confidence is; a calibrated bin's bar ends at its ``│``.
    """
    filled = [b for b in summary.bins if b["count"]]
    ranges = [f"({_edge(b['lower'])}, {_edge(b['upper'])}]" for b in filled]
    counts = [str(b["count"]) for b in filled]
    conf = [f"{b['confidence']:.3f}" for b in filled]
    acc = [f"{b['accuracy']:.3f}" for b in filled]
    headers = ("confidence bin", "rows", "conf", "acc")
    widths = [
        max(len(h), *(len(c) for c in col))
        for h, col in zip(headers, (ranges, counts, conf, acc), strict=True)
    ]
    lead = 2 + widths[0] + 2 + widths[1] + 2 + widths[2] + 2 + widths[3]
    bar = min(HISTOGRAM_BAR, width - lead - 3)

    def line(cells: Sequence[str], diagram: str) -> str:
        first = f"  {cells[0]:<{widths[0]}}"
        text = first + "".join(f"  {cell:>{w}}" for cell, w in zip(cells[1:], widths[1:], strict=True))
        return f"{text}  {diagram}" if bar >= 8 else text

    lines = [line(headers, "accuracy █, confidence │" if bar >= 24 else "acc █ conf │")]
    for i, b in enumerate(filled):
        cells = [" "] * bar if bar >= 8 else []
        if cells:
            for j in range(min(bar, round(b["accuracy"] * bar))):
                cells[j] = "█"
            mark = min(bar - 1, max(0, round(b["confidence"] * bar) - 1))
            cells[mark] = "│" if cells[mark] == " " else "┃"
        lines.append(line((ranges[i], counts[i], conf[i], acc[i]), "".join(cells).rstrip()))
    return lines


def calibration_fields(summary: CalibrationSummary) -> list[tuple[str, str]]:
    """Calibration's statistics as (label, shown value), the headline ECE first."""
    brier = "Brier" + (" (binary)" if summary.binary else "")
    fields = [
        ("ECE", table_number(summary.ece)),
        ("MCE", table_number(summary.mce)),
        ("RMSCE", table_number(summary.rmsce)),
        (brier, table_number(summary.brier)),
        ("accuracy", table_number(summary.accuracy)),
        ("confidence", table_number(summary.confidence)),
        ("rows", str(summary.count)),
    ]
    if summary.classwise_ece is not None:
        fields.append(("classwise ECE", table_number(summary.classwise_ece)))
    return fields


def write_calibration(summary: CalibrationSummary, console: Console) -> None:
    """The reliability diagram, then every statistic (``--classwise``: each class's ECE)."""
    from rich.text import Text

    bins = f"{summary.n_bins} {summary.strategy} bins" + (", weighted" if summary.weighted else "")
    console.print(Text(f"Reliability diagram ({bins})", style="bold"))
    for text in reliability_lines(summary, console.width):
        console.print(Text(text), no_wrap=True, overflow="ignore")
    print_records(console, [("Summary", calibration_fields(summary))])
    if summary.classwise is not None:
        shown = list(summary.classwise.items())[:CLASSWISE_SHOWN]
        print_records(console, [("One-vs-rest ECE per class", [(k, table_number(v)) for k, v in shown])])
        if len(summary.classwise) > CLASSWISE_SHOWN:
            _print_lines(
                console,
                spelled(f"  {len(summary.classwise) - CLASSWISE_SHOWN} more classes in {option('json')}"),
                "dim",
            )


# Classes listed in the table (every class is in the JSON).
CLASSWISE_SHOWN = 20
