"""xent_cli.results: units, summaries, named statistics, worst rows and gates, on hand-made results.

Expected values are worked out by hand or come from NumPy and math.fsum, never from xent itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from xent_cli.columns.statistics import summarize
from xent_cli.errors import UsageError
from xent_cli.gates import evaluate as check_gates
from xent_cli.results import (
    STATISTICS,
    SUMMARY_KEYS,
    Gate,
    GateCheck,
    GateReport,
    LossSummary,
    Measure,
    Result,
    Unit,
    WorstRow,
    statistic_names,
)


def result(
    values: Sequence[float],
    *,
    ids: list[str] | None = None,
    row_numbers: Sequence[int] | None = None,
    loss: LossSummary | None = None,
    panel: dict[str, float] | None = None,
    js: Sequence[float] | None = None,
) -> Result:
    """A kl result over ``values`` (and a second measure, js, when given)."""
    measures = [Measure("kl", "D(P‖Q)", np.array(values, dtype=np.float64))]
    if js is not None:
        measures.append(Measure("js", "JS(P, Q)", np.array(js, dtype=np.float64)))
    return Result(
        "kl",
        "KL divergence",
        Unit.parse("e"),
        {"p": "p.csv", "q": "q.csv"},
        measures,
        ids=ids,
        row_numbers=None if row_numbers is None else np.array(row_numbers, dtype=np.int64),
        loss=loss,
        panel=panel,
    )


# --- units ---------------------------------------------------------------------------------------


def test_units() -> None:
    assert Unit.parse("e").name == "nats"
    assert Unit.parse("2").name == "bits"
    assert Unit.parse("10").name == "hartleys"
    assert Unit.parse("3").name == "log-base-3"
    assert Unit.parse("2.0").name == "bits"
    for bad in ("1", "0", "-2", "x", "inf", "nan"):
        with pytest.raises(UsageError):
            Unit.parse(bad)


def test_unit_bases_and_scales() -> None:
    assert Unit.parse(" E ") == Unit(math.e, "nats")
    assert Unit.parse("10.0") == Unit(10.0, "hartleys")
    assert Unit.parse("2").scale == math.log(2)
    assert Unit.parse("e").scale == 1.0
    # a base below 1 is a base too: log_0.5 x = -log_2 x
    half = Unit.parse("0.5")
    assert (half.base, half.name, half.scale) == (0.5, "log-base-0.5", -math.log(2))


def test_a_bad_base_names_the_option_and_the_fix() -> None:
    with pytest.raises(UsageError) as info:
        Unit.parse("1")
    assert (
        str(info.value) == "--base '1' is not a valid base (use e, 2, 10 or a positive number other than 1)"
    )


# --- summaries -----------------------------------------------------------------------------------


def test_summary_is_exact_and_handles_inf() -> None:
    values = np.array([1e16, 1.0, -1e16, 1.0])
    assert summarize(values)["sum"] == 2.0  # a naive sum gives 0 or 1
    assert summarize(np.array([1.0, math.inf]))["mean"] == math.inf


def test_summary_of_one_to_four_by_hand() -> None:
    summary = summarize(np.array([4.0, 1.0, 3.0, 2.0]))
    assert list(summary) == list(SUMMARY_KEYS)
    # linear interpolation at position q/100·(n−1): p90 at 2.7 is 3 + 0.7·(4 − 3)
    expected = {"count": 4, "mean": 2.5, "min": 1.0, "p50": 2.5, "p90": 3.7, "p99": 3.97, "max": 4.0}
    for key, value in expected.items():
        assert summary[key] == pytest.approx(value, rel=1e-15), key
    assert (summary["sum"], summary["inf_count"]) == (10.0, 0)


def test_extended_summary_has_every_statistic_a_gate_may_name() -> None:
    summary = summarize(np.array([1.0, 2.0, 3.0, 4.0]), extended=True)
    assert set(summary) == set(STATISTICS)
    # the sample variance (n − 1) is 5/3, so the standard error is sqrt(5/3 / 4)
    assert summary["std_error"] == pytest.approx(math.sqrt(5 / 12), rel=1e-15)
    assert summary["p0.1"] == pytest.approx(1.003, rel=1e-15)
    assert summary["p99.9"] == pytest.approx(3.997, rel=1e-15)


def test_percentiles_next_to_infinite_rows_are_infinite_and_counted() -> None:
    summary = summarize(np.array([1.0, math.inf, math.inf]))
    # p90 lies between the two inf rows: inf, where inf − inf arithmetic would give nan
    assert (summary["p50"], summary["p90"], summary["max"]) == (math.inf, math.inf, math.inf)
    assert (summary["min"], summary["inf_count"]) == (1.0, 2)
    below = summarize(np.array([-math.inf, 1.0]))
    assert (below["mean"], below["min"], below["inf_count"]) == (-math.inf, -math.inf, 1)


# --- named statistics ----------------------------------------------------------------------------


def test_every_statistic_of_a_measure_against_numpy() -> None:
    values = np.random.default_rng(5).exponential(size=101)
    r = result(values.tolist())
    n = len(values)
    expected = {
        "count": n,
        "mean": math.fsum(values) / n,
        "std_error": float(np.std(values, ddof=1)) / math.sqrt(n),
        "min": float(values.min()),
        "max": float(values.max()),
        "sum": math.fsum(values),
        "inf_count": 0,
    }
    for stat in STATISTICS:
        if stat.startswith("p"):
            expected[stat] = float(np.percentile(values, float(stat[1:])))
    assert set(expected) == set(STATISTICS)
    for stat, value in expected.items():
        assert r.statistic(f"kl.{stat}") == pytest.approx(value, rel=1e-12), stat
    assert r.statistic("kl") == r.statistic("kl.mean")


def test_statistics_of_a_second_measure() -> None:
    r = result([0.1, 0.2], js=[0.5, 0.25])
    assert r.statistic("js") == 0.375
    assert r.statistic("js.min") == 0.25
    assert r.headline.key == "kl"


def test_unknown_statistics_are_key_errors() -> None:
    r = result([0.1, 0.2])
    for name in ("kl.p42", "kl.median", "tv", "perplexity", "same_top1"):
        with pytest.raises(KeyError):
            r.statistic(name)


def test_perplexity_and_panel_statistics_come_from_the_extras() -> None:
    loss = LossSummary(
        log_loss=2.0,
        perplexity=math.exp(2.0),
        accuracy=0.5,
        ignored_rows=0,
        label_smoothing=0.0,
        binary=False,
    )
    assert result([1.0, 3.0], loss=loss).statistic("perplexity") == math.exp(2.0)
    panel = result([1.0, 3.0], panel={"same_top1": 0.75, "delta_p.rms": 0.125})
    assert panel.statistic("same_top1") == 0.75
    # a dotted panel name that is no measure's statistic (rms is not in STATISTICS)
    assert panel.statistic("delta_p.rms") == 0.125
    assert panel.statistic("kl.max") == 3.0
    with pytest.raises(KeyError):
        result([1.0, 3.0]).statistic("delta_p.rms")


def test_headline_value_is_the_exact_mean() -> None:
    # exact sum 2, over 4 rows; a float running sum loses both 1s
    assert result([1e16, 1.0, -1e16, 1.0]).headline_value() == 0.5
    assert math.isnan(result([]).headline_value())


def test_statistic_names() -> None:
    names = statistic_names(["kl", "js"], ("same_top1",))
    assert len(names) == 2 + 2 * (16 + 2) + 1  # 16 summary statistics and the ends of --ci's interval
    assert names[:4] == ["kl", "js", "kl.count", "kl.mean"]
    assert "kl.ci_low" in names and "js.ci_high" in names
    assert "kl.p99.9" in names and "js.std_error" in names and "js.inf_count" in names
    assert names[-1] == "same_top1"
    assert "perplexity" not in statistic_names(["log_loss"])


# --- worst rows ----------------------------------------------------------------------------------


def test_worst_rows_largest_first_ties_to_the_earlier_row() -> None:
    r = result([0.2, 0.9, 0.5, 0.9], ids=["a", "b", "c", "d"])
    assert r.worst_rows(2) == [WorstRow(2, "b", 0.9), WorstRow(4, "d", 0.9)]
    assert r.worst_rows(10) == [
        WorstRow(2, "b", 0.9),
        WorstRow(4, "d", 0.9),
        WorstRow(3, "c", 0.5),
        WorstRow(1, "a", 0.2),
    ]
    assert r.worst_rows(0) == []


def test_worst_rows_without_ids_and_with_rows_left_out() -> None:
    assert result([1.0, math.inf, 3.0]).worst_rows(2) == [WorstRow(2, None, math.inf), WorstRow(3, None, 3.0)]
    # loss --ignore-label: the kept rows are input rows 2, 5 and 6
    kept = result([0.3, 0.1, 0.2], row_numbers=[2, 5, 6])
    assert kept.worst_rows(2) == [WorstRow(2, None, 0.3), WorstRow(6, None, 0.2)]
    assert [kept.row_number(i) for i in range(3)] == [2, 5, 6]


# --- gates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "text", "gate"),
    [
        ("above", "0.01", Gate("above", 0.01, None)),
        ("above", "kl=0.01", Gate("above", 0.01, "kl")),
        ("below", "kl.p99.9=0.5", Gate("below", 0.5, "kl.p99.9")),
        ("above", " js = 1e-3 ", Gate("above", 0.001, "js")),
        ("above", "-1", Gate("above", -1.0, None)),
        ("below", "=2", Gate("below", 2.0, None)),
    ],
)
def test_gate_parsing(direction: str, text: str, gate: Gate) -> None:
    assert Gate.parse(direction, text) == gate  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["x=y", "kl=", "", "nan", "kl=nan", "0.1=kl"])
def test_a_gate_without_a_number_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as info:
        Gate.parse("above", text)
    assert str(info.value) == (
        f"--fail-above {text!r}: expected a number, or NAME=NUMBER "
        "(e.g. --fail-above 0.01 or --fail-above js=0.001)"
    )


def test_gate_option_is_what_the_user_wrote() -> None:
    assert Gate("above", 0.01, "kl").option == "--fail-above kl=0.01"
    assert Gate("below", 0.5).option == "--fail-below 0.5"
    assert Gate("above", 1e-5, "js.p99").option == "--fail-above js.p99=1e-05"


@pytest.mark.parametrize(
    ("gate", "value", "held"),
    [
        (Gate("above", 0.5), 0.4, True),
        (Gate("above", 0.5), 0.5, True),  # the bound itself passes: the gate fails *above* it
        (Gate("above", 0.5), 0.5000000000000001, False),
        (Gate("above", 0.5), math.inf, False),
        (Gate("above", 0.5), math.nan, False),
        (Gate("below", 0.5), 0.6, True),
        (Gate("below", 0.5), 0.5, True),
        (Gate("below", 0.5), 0.49, False),
        (Gate("below", 0.5), math.inf, True),
        (Gate("below", 0.5), -math.inf, False),
        (Gate("below", 0.5), math.nan, False),  # nan never passes a gate
    ],
)
def test_gate_holds(gate: Gate, value: float, held: bool) -> None:
    assert gate.holds(value) is held
    assert GateCheck(gate, "kl", "mean", value).held is held


def test_check_gates_reads_each_named_statistic() -> None:
    r = result([0.1, 0.2, 0.3, 0.4])
    report = check_gates(r, [Gate("above", 0.3), Gate("above", 0.35, "kl.max"), Gate("below", 4, "kl.count")])
    assert [(c.measure, c.statistic) for c in report.checks] == [
        ("kl", "mean"),
        ("kl", "max"),
        ("kl", "count"),
    ]
    assert [c.value for c in report.checks] == [pytest.approx(0.25, rel=1e-15), 0.4, 4]
    assert [c.held for c in report.checks] == [True, False, True]
    assert report.held is False
    assert report.to_dict()["checks"][1] == {
        "option": "--fail-above kl.max=0.35",
        "measure": "kl",
        "statistic": "max",
        "fail_if": "above",
        "bound": 0.35,
        "bound_text": "0.35",
        "value": 0.4,
        "held": False,
    }


def test_a_report_holds_when_every_check_holds() -> None:
    assert GateReport([]).to_dict() == {"held": True, "checks": []}
    assert check_gates(result([0.1]), []) == GateReport([])
    r = result([0.1, 0.2])
    assert check_gates(r, [Gate("above", 1.0), Gate("below", 0.0, "kl.min")]).held is True


def test_a_gate_on_a_statistic_the_result_lacks_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as info:
        check_gates(result([0.1]), [Gate("above", 0.1), Gate("below", 1.0, "kld")])
    assert str(info.value) == "--fail-below kld=…: kl has no statistic 'kld'"


def test_an_infinite_mean_has_no_interval_of_its_change() -> None:
    """Resampled changes of an infinite mean are nan: the comparison goes without an interval."""
    from xent_cli.baseline import Baseline

    asked: list[str] = []

    def interval(measure: str) -> tuple[tuple[float, float], str]:
        asked.append(measure)
        return (math.nan, math.nan), "position"

    gates = [Gate("increase", 1.0, relative=True), Gate("decrease", 0.5)]
    for before, values in (("inf", [0.2, math.inf]), (0.1, [0.2, math.inf]), ("inf", [0.2, 0.4])):
        baseline = Baseline("old.json", {"summary": {"mean": before}})
        report = check_gates(result(values), gates, baseline, interval)
        assert report.baseline is not None and report.baseline.ci is None
        assert not any(math.isnan(c.value) for c in report.checks)
    assert asked == []
    finite = check_gates(
        result([0.2, 0.4]), gates, Baseline("old.json", {"summary": {"mean": 0.3}}), interval
    )
    assert asked == ["kl"] and finite.baseline is not None and finite.baseline.ci is not None
