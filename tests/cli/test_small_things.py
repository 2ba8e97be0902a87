"""Small things users hit: negative and JSON inline lists, spaced numbers, NMI of constants,
``compare --measures``, ``--rows 0``, and ``--explain`` showing the arithmetic."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.special import log_softmax, rel_entr
from sklearn.metrics import normalized_mutual_info_score

from tests.conftest import CliEnv


def _json(env: CliEnv, args: list[str]) -> dict[str, Any]:
    result = env.run([*args, "--json"])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


# --- inline lists ---------------------------------------------------------------------------------


def test_negative_inline_logits(env: CliEnv) -> None:
    result = env.run(["kl", "-1,2,0.5", "0,0,0", "--as", "logits", "--value"])
    assert result.exit_code == 0, result.output
    p = np.exp(log_softmax([-1.0, 2.0, 0.5]))
    assert float(result.stdout) == pytest.approx(float(np.sum(rel_entr(p, np.full(3, 1 / 3)))), rel=1e-14)


@pytest.mark.parametrize(
    "args",
    [
        ["kl", "0,0,0", "-1,2,0.5", "--as", "logits"],
        ["kl", "--as", "logits", "-1,2,0.5", "-0.5,-0.5,0"],
        ["kl", "-1,2,0.5", "--as", "logits", "-0.5,-0.5,0", "--bits"],
        ["entropy", "-inf,0", "--as", "logprobs"],
    ],
)
def test_negative_lists_anywhere_keep_their_order(env: CliEnv, args: list[str]) -> None:
    result = env.run([*args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    values = [a for a in args if a[0].isdigit() or (a[0] == "-" and (a[1:2].isdigit() or a[1:4] == "inf"))]
    assert list(doc["sources"].values()) == values


def test_a_negative_option_value_stays_an_option_value(env: CliEnv) -> None:
    result = env.run(["loss", "0.2,0.8", "--target", "1", "--ignore-label", "-100", "--value"])
    assert result.exit_code == 0, result.output
    assert float(result.stdout) == pytest.approx(-math.log(0.8), rel=1e-15)
    above = env.run(["kl", "-1,2", "0,0", "--as", "logits", "--fail-above", "-1", "--value"])
    assert above.exit_code == 1


def test_unknown_option_is_still_an_error(env: CliEnv) -> None:
    result = env.run(["kl", "-1,2", "0,0", "--as", "logits", "--frobnicate"])
    assert result.exit_code == 2
    assert "No such option: --frobnicate" in result.stderr


@pytest.mark.parametrize("text", ["[0.5,0.5]", "[0.25, 0.75]", " [ 1e-1 , 0.9 ] "])
def test_json_list_inline(env: CliEnv, text: str) -> None:
    values = json.loads(text)
    result = env.run(["entropy", text, "--value"])
    assert result.exit_code == 0, result.output
    expected = -sum(v * math.log(v) for v in values)
    assert float(result.stdout) == pytest.approx(expected, rel=1e-15)


def test_json_list_inline_ignores_decimal_comma(env: CliEnv) -> None:
    result = env.run(["entropy", "[0.5,0.5]", "--decimal", ",", "--bits", "--value"])
    assert (result.exit_code, result.stdout) == (0, "1.0\n")


def test_json_list_next_to_a_plain_list(env: CliEnv) -> None:
    result = env.run(["kl", "[0.5, 0.5]", "0.9,0.1", "--value"])
    assert float(result.stdout) == pytest.approx(math.log(5 / 3), rel=1e-15)


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["entropy", "0.3", "0.7"], "xent entropy 0.3,0.7"),
        (["entropy", "0.3,", "0.7"], "xent entropy 0.3,0.7"),
        (["entropy", "0.2", "0.3", "0.5", "--bits"], "xent entropy 0.2,0.3,0.5"),
        (["kl", "0.5", "0.5", "0.9", "0.1"], "xent kl 0.5,0.5 0.9,0.1"),
    ],
)
def test_numbers_with_spaces_get_a_hint(env: CliEnv, args: list[str], hint: str) -> None:
    result = env.run(args)
    assert result.exit_code == 2
    assert result.stderr.startswith("xent: error: ")
    assert result.stderr.count("\n") == 1
    assert hint in result.stderr


# --- NMI of constants ------------------------------------------------------------------------------


def test_nmi_of_two_constant_labelings_is_one_as_in_sklearn(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "constant.csv"
    path.write_text("x,y\n" + "a,b\n" * 5)
    doc = _json(env, ["info", str(path), "--x", "x", "--y", "y"])
    assert doc["info"]["nmi"] == 1.0 == normalized_mutual_info_score(["a"] * 5, ["b"] * 5)
    assert doc["info"]["mi"] == 0


def test_nmi_with_one_constant_labeling_is_zero_as_in_sklearn(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("x,y\na,b\na,c\na,b\na,c\n")
    doc = _json(env, ["info", str(path), "--x", "x", "--y", "y", "--correction", "miller-madow"])
    plug_in = _json(env, ["info", str(path), "--x", "x", "--y", "y"])
    assert plug_in["info"]["nmi"] == 0.0 == normalized_mutual_info_score(["a"] * 4, ["b", "c", "b", "c"])
    assert doc["info"]["nmi"] == 0.0


# --- compare --measures ----------------------------------------------------------------------------


def test_compare_measures_computes_only_those(
    env: CliEnv, examples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xent_cli.core.measures as measures

    def never(*args: object) -> None:
        raise AssertionError("computed a measure that was not asked for")

    for name in ("hellinger_rows", "max_abs_diff_rows", "js_terms", "total_variation_terms"):
        monkeypatch.setattr(measures, name, never)
    args = ["compare", str(examples / "model_a.csv"), str(examples / "model_b.csv")]
    doc = _json(env, [*args, "--measures", "kl,ce,top1"])
    assert list(doc["summary"]) == ["kl", "cross_entropy", "top1_agreement"]
    assert set(doc["rows"][0]) == {"row", "id", "kl", "cross_entropy", "top1_agreement"}
    monkeypatch.undo()
    full = _json(env, args)
    assert doc["summary"]["kl"] == full["summary"]["kl"]


def test_compare_measures_order_sets_the_headline(env: CliEnv, examples: Path) -> None:
    args = ["compare", str(examples / "model_a.csv"), str(examples / "model_b.csv"), "--measures", "js,kl"]
    js = _json(env, ["js", str(examples / "model_a.csv"), str(examples / "model_b.csv")])
    value = env.run([*args, "--value"])
    assert float(value.stdout) == js["summary"]["js"]["mean"]


@pytest.mark.parametrize(
    ("measures", "message"),
    [
        ("kl,bogus", "'bogus' is not a measure"),
        ("kl,kl", "names kl more than once"),
        (",", "names no measure"),
    ],
)
def test_compare_measures_are_checked_when_parsed(env: CliEnv, measures: str, message: str) -> None:
    # The sources do not exist: the option is rejected before anything is read.
    result = env.run(["compare", "nope.csv", "nope.csv", "--measures", measures])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"xent: error: --measures {measures!r}: {message}")


def test_gates_follow_the_measures(env: CliEnv) -> None:
    result = env.run(["compare", "0.5,0.5", "0.9,0.1", "--measures", "kl,js", "--fail-above", "tv=0.1"])
    assert result.exit_code == 2
    assert "compare has no statistic 'tv'" in result.stderr
    held = env.run(["compare", "0.5,0.5", "0.9,0.1", "--measures", "kl,js", "--fail-above", "js=1"])
    assert held.exit_code == 0


def test_explain_needs_a_measure_with_terms_first(env: CliEnv) -> None:
    result = env.run(["compare", "0.5,0.5", "0.9,0.1", "--measures", "hellinger,kl", "--explain"])
    assert result.exit_code == 2
    assert "--explain: hellinger has no per-outcome contributions" in result.stderr


# --- --rows 0 --------------------------------------------------------------------------------------


def test_rows_zero_table_has_no_more_rows_line(env: CliEnv, examples: Path) -> None:
    out = env.run(
        ["kl", str(examples / "model_a.csv"), str(examples / "model_b.csv"), "-f", "table", "--rows", "0"]
    )
    assert out.exit_code == 0
    assert "more rows" not in out.stdout and "img-001" not in out.stdout
    assert "Summary over 12 rows" in out.stdout


# --- --explain: the arithmetic ---------------------------------------------------------------------


def _by_outcome(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["outcome"]: o for o in doc["explain"]["outcomes"]}


def test_entropy_explain_lists_information_and_contribution_in_bits(env: CliEnv) -> None:
    doc = _json(env, ["entropy", "a=0.5,b=0.25,c=0.125,d=0.125", "--bits", "--explain"])
    outcomes = _by_outcome(doc)
    for name, p, information in [("a", 0.5, 1.0), ("b", 0.25, 2.0), ("c", 0.125, 3.0), ("d", 0.125, 3.0)]:
        assert outcomes[name]["p"] == p
        assert outcomes[name]["neg_log_p"] == pytest.approx(information, rel=1e-15)
        assert outcomes[name]["contribution"] == pytest.approx(p * information, rel=1e-15)
        assert outcomes[name]["term"] == outcomes[name]["contribution"]
    assert doc["explain"]["total"] == pytest.approx(1.75, rel=1e-15) == doc["summary"]["mean"]
    assert doc["explain"]["formulas"] == {
        "contribution": "−p·log p",
        "term": "−p·log p",
        "neg_log_p": "−log p",
    }


def test_entropy_explain_of_a_zero_outcome(env: CliEnv) -> None:
    doc = _json(env, ["entropy", "0.5,0.5,0", "--explain"])
    zero = _by_outcome(doc)["2"]
    assert (zero["p"], zero["contribution"], zero["neg_log_p"]) == (0, 0, "inf")
    assert doc["explain"]["infinite_outcomes"] == 0


def test_entropy_explain_of_a_label_column(env: CliEnv, examples: Path) -> None:
    doc = _json(env, ["entropy", str(examples / "labels.csv"), "--column", "label", "--explain"])
    outcomes = doc["explain"]["outcomes"]
    assert math.fsum(o["p"] for o in outcomes) == pytest.approx(1.0, rel=1e-15)
    assert doc["explain"]["total"] == pytest.approx(doc["summary"]["mean"], rel=1e-14)


def test_cross_entropy_explain_shows_minus_log_q(env: CliEnv) -> None:
    doc = _json(env, ["cross-entropy", "a=0.7,b=0.2,c=0.1", "a=0.5,b=0.3,c=0.2", "--explain"])
    outcomes = _by_outcome(doc)
    for name, p, q in [("a", 0.7, 0.5), ("b", 0.2, 0.3), ("c", 0.1, 0.2)]:
        assert (outcomes[name]["p"], outcomes[name]["q"]) == (
            pytest.approx(p, rel=1e-15),
            pytest.approx(q, rel=1e-15),
        )
        assert outcomes[name]["neg_log_q"] == pytest.approx(-math.log(q), rel=1e-15)
        assert outcomes[name]["contribution"] == pytest.approx(-p * math.log(q), rel=1e-15)
    assert doc["explain"]["total"] == pytest.approx(doc["summary"]["mean"], rel=1e-14)
    assert [o["outcome"] for o in doc["explain"]["outcomes"]] == ["a", "b", "c"]


def test_kl_explain_carries_the_textbook_term(env: CliEnv) -> None:
    p, q = np.array([0.7, 0.2, 0.1]), np.array([0.5, 0.3, 0.2])
    doc = _json(env, ["kl", "a=0.7,b=0.2,c=0.1", "a=0.5,b=0.3,c=0.2", "--explain"])
    outcomes = _by_outcome(doc)
    for name, term, p_i, q_i in zip("abc", rel_entr(p, q), p, q, strict=True):
        assert outcomes[name]["term"] == pytest.approx(term, rel=1e-14)
        assert outcomes[name]["contribution"] == pytest.approx(term - p_i + q_i, rel=1e-13)
        assert outcomes[name]["contribution"] >= 0
    assert outcomes["b"]["term"] < 0
    explain = doc["explain"]
    assert explain["term_total"] == pytest.approx(explain["total"], rel=1e-13)
    assert explain["formulas"] == {"contribution": "q·φ(p/q)", "term": "p·log(p/q)"}


def test_explain_of_an_infinite_kl_says_which_outcomes(env: CliEnv, examples: Path) -> None:
    args = ["kl", str(examples / "model_a.csv"), "cat=0.5,dog=0.5,bird=0", "--explain"]
    doc = _json(env, args)
    explain = doc["explain"]
    assert explain["total"] == "inf" and explain["infinite_outcomes"] == 1
    bird = _by_outcome(doc)["bird"]
    assert (bird["contribution"], bird["share"], bird["infinite_rows"]) == ("inf", None, 12)
    assert all(o["share"] is None for o in explain["outcomes"])
    table = env.run([*args, "-f", "table", "--rows", "0"]).stdout
    assert "nan%" not in table
    flat = " ".join(table.split())
    assert "D(P‖Q) is infinite: p > 0 where q = 0, for outcome bird (in 12 of 12 rows)" in flat


def test_explain_of_a_batch_counts_the_rows_that_are_infinite(env: CliEnv, tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    q = tmp_path / "q.csv"
    p.write_text("a,b\n0.5,0.5\n0.5,0.5\n0.5,0.5\n")
    q.write_text("a,b\n0.5,0.5\n1,0\n0,1\n")
    explain = _json(env, ["kl", str(p), str(q), "--explain"])["explain"]
    assert {o["outcome"]: o["infinite_rows"] for o in explain["outcomes"]} == {"a": 1, "b": 1}
    assert explain["infinite_outcomes"] == 2


def test_entropy_explain_table(env: CliEnv) -> None:
    out = env.run(["entropy", "0.5,0.25,0.25", "--bits", "--explain", "-f", "table"]).stdout
    assert "−log p" in out and "−p·log p" in out
    assert " ".join(["0", "0.5", "1", "0.5", "33.3%"]) in " ".join(out.split())
