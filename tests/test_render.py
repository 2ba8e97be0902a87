"""The width logic of render.py, through Rich consoles of a chosen width."""

from __future__ import annotations

import io
import math
import re

import numpy as np
import pytest
from rich.console import Console

from xent_cli.columns.histogram import histogram
from xent_cli.render import (
    Column,
    fit_tables,
    histogram_lines,
    natural_width,
    table_number,
    wrap_label,
    write_table,
)
from xent_cli.results import Contribution, ExplainFormulas, Explanation, Measure, Result, Unit

NATS = Unit(math.e, "nats")
LABELS = ["D(P‖Q)", "D(Q‖P)", "H(P, Q)", "JS(P, Q)", "TV", "Hellinger", "max|P−Q|", "top-1 agree"]


def console(width: int) -> Console:
    return Console(file=io.StringIO(), width=width, color_system=None, highlight=False)


def rendered(result: Result, width: int, rows: int = 20) -> str:
    out = console(width)
    write_table(result, out, rows)
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(text, str)
    return text


def panel(n_rows: int = 5, ids: bool = True, seed: int = 3) -> Result:
    rng = np.random.default_rng(seed)
    measures = [Measure(label.lower(), label, rng.lognormal(-6, 2, n_rows)) for label in LABELS[:-1]] + [
        Measure("top1_agreement", "top-1 agree", np.ones(n_rows), "none")
    ]
    return Result(
        command="compare",
        title="Comparison of P and Q",
        unit=NATS,
        sources={"p": "p.csv", "q": "q.csv"},
        measures=measures,
        ids=[f"img-{i:03d}" for i in range(n_rows)] if ids else None,
    )


def all_lines_fit(text: str, width: int) -> bool:
    return all(len(line) <= width for line in text.splitlines())


# --- numbers and tables --------------------------------------------------------------------------


def test_table_number_digits() -> None:
    assert table_number(0.000130389123, 6) == "0.000130389"
    assert table_number(0.000130389123, 4) == "0.0001304"
    assert (table_number(math.inf), table_number(-math.inf), table_number(math.nan)) == ("inf", "-inf", "nan")
    assert table_number(0.0) == "0"


def test_fit_tables_keeps_six_digits_when_they_fit() -> None:
    values = [Column("x", lambda d: [table_number(0.123456789, d)])]
    tables = fit_tables(console(80), [], values)
    assert tables is not None and len(tables) == 1
    out = console(80)
    out.print(tables[0])
    assert "0.123457" in out.file.getvalue()  # type: ignore[attr-defined]


def test_fit_tables_uses_fewer_digits_then_more_tables() -> None:
    columns = [Column(f"m{i}", lambda d: [table_number(0.000123456789, d)]) for i in range(8)]
    one = fit_tables(console(200), [], columns)
    assert one is not None and len(one) == 1
    # 8 columns of 11-character numbers take 111 columns; with 4 digits (9 characters), 95.
    fewer = fit_tables(console(100), [], columns)
    assert fewer is not None and len(fewer) == 1
    out = console(100)
    out.print(fewer[0])
    assert "0.0001235" in out.file.getvalue() and "0.000123457" not in out.file.getvalue()  # type: ignore[attr-defined]
    split = fit_tables(console(60), [], columns)
    assert split is not None and len(split) == 2
    assert all(natural_width(console(60), t) <= 60 for t in split)


def test_fit_tables_gives_up_when_one_column_cannot_fit() -> None:
    assert fit_tables(console(20), [], [Column("a-very-long-header-indeed", lambda d: ["1"])]) is None


def test_wrap_label_breaks_between_numbers() -> None:
    text = "P: " + ",".join(["0.123456"] * 12)
    lines = wrap_label(text, 30)
    assert all(len(line) <= 30 for line in lines)
    assert "".join(lines) == text
    assert all(re.fullmatch(r"(P: )?(0\.123456,?)+", line) for line in lines)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_compare_panel_fits_and_shows_every_number_whole(width: int) -> None:
    result = panel()
    text = rendered(result, width)
    assert all_lines_fit(text, width)
    assert "…" not in text
    for m in result.measures:
        assert text.count(m.label) >= 2  # per-row table and summary
        for v in m.values:
            assert any(table_number(float(v), d) in text for d in (6, 5, 4)), (m.label, v)


def test_summary_is_one_row_per_measure_when_wide_and_one_row_per_statistic_when_narrow() -> None:
    result = panel(ids=False)
    wide = rendered(result, 160, rows=0)
    assert re.search(r"measure\s+mean\s+min\s+p50\s+p90\s+p99\s+max\s+sum", wide)
    narrow = rendered(result, 60, rows=0)
    assert "measure" not in narrow
    for stat in ("mean", "min", "p50", "p90", "p99", "max", "sum"):
        assert re.search(rf"^ {stat}\s+\S", narrow, flags=re.M), stat


def test_rows_zero_has_no_more_rows_line() -> None:
    text = rendered(panel(), 80, rows=0)
    assert "more rows" not in text
    assert "img-000" not in text
    assert "Summary over 5 rows" in text
    assert "2 more rows not shown" in rendered(panel(), 80, rows=3)


def test_long_ids_wrap_instead_of_numbers() -> None:
    result = panel(n_rows=3)
    result.ids = [f"a-remarkably-long-identifier-for-row-{i}-of-a-batch" for i in range(3)]
    text = rendered(result, 60)
    assert all_lines_fit(text, 60)
    for m in result.measures:
        for v in m.values:
            assert any(table_number(float(v), d) in text for d in (6, 5, 4))
    # The id's characters are all there, over several lines.
    flat = re.sub(r"\s+", "", text)
    assert "a-remarkably-long" in flat


def test_very_narrow_falls_back_to_label_value_lines() -> None:
    result = panel(n_rows=2)
    text = rendered(result, 24)
    assert "row 1  img-000" in text
    for m in result.measures:
        number = re.escape(table_number(float(m.values[0])))
        # On the label's line when both fit, else whole on the next line.
        assert re.search(rf"^  {re.escape(m.label)}( +|\n    ){number}$", text, re.M), m.label


# --- histograms ---------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_every_non_empty_bin_has_a_bar(width: int) -> None:
    # One huge bin and a few rows elsewhere: a proportional bar would round to nothing.
    values = np.concatenate([np.full(10_000, 1.0), [1.5, 2.0], [math.inf]])
    spread = histogram(values)
    assert spread is not None
    lines = histogram_lines(spread, width)
    assert all(len(line) <= width for line in lines)
    for line in lines:
        count = int(line.split()[-1])
        assert ("█" in line) == (count > 0), line


# --- explanations ---------------------------------------------------------------------------------


def _kl_result(total: float, outcomes: list[Contribution], rows: int = 1) -> Result:
    explanation = Explanation(
        measure="kl",
        label="D(P‖Q)",
        total=total,
        outcomes=outcomes,
        rows=rows,
        formulas=ExplainFormulas(
            "q·φ(p/q)",
            "p·log(p/q)",
            infinite_when="p > 0 where q = 0",
            infinite_hint="--smooth ALPHA avoids it",
        ),
        term_total=total,
        n_outcomes=len(outcomes),
        infinite_outcomes=sum(1 for c in outcomes if c.infinite_rows),
    )
    result = Result(
        "kl", "KL divergence D(P‖Q)", NATS, {"p": "p", "q": "q"}, [Measure("kl", "D(P‖Q)", np.array([total]))]
    )
    result.explanation = explanation
    return result


def test_explanation_of_an_infinite_measure_names_the_outcomes() -> None:
    result = _kl_result(
        math.inf,
        [
            Contribution("bird", math.inf, None, term=math.inf, p=0.2, q=0.0, infinite_rows=1),
            Contribution("dog", 0.0467523, None, term=-0.153248, p=0.3, q=0.5),
        ],
    )
    text = rendered(result, 60)
    assert "nan" not in text
    assert "D(P‖Q) is infinite: p > 0 where q = 0, for outcome bird" in " ".join(text.split())
    assert re.search(r"bird\s+0\.2\s+0\s+inf\s+inf\s+inf", text)


@pytest.mark.parametrize("width", [60, 80])
def test_explanation_shows_both_terms_and_the_total(width: int) -> None:
    p, q = np.array([0.7, 0.2, 0.1]), np.array([0.5, 0.3, 0.2])
    terms = p * np.log(p / q)
    contributions = terms - p + q
    total = float(np.sum(terms))
    outcomes = [
        Contribution(name, float(c), float(c / total), term=float(t), p=float(a), q=float(b))
        for name, c, t, a, b in sorted(
            zip("abc", contributions, terms, p, q, strict=True), key=lambda x: -x[1]
        )
    ]
    text = rendered(_kl_result(total, outcomes), width)
    assert all_lines_fit(text, width)
    for t in terms:
        assert table_number(float(t)) in text
    assert re.search(
        rf"total\s+{re.escape(table_number(total))}\s+{re.escape(table_number(total))}\s+100%", text
    )
