"""xent entropy through the CLI: --value, tables, summaries, a label column, --explain."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy

from tests.conftest import CliEnv, outcomes_by_name


def test_value_prints_only_the_number(env: CliEnv) -> None:
    result = env.run(["entropy", "0.5,0.5", "--bits", "--value"])
    assert (result.exit_code, result.stdout) == (0, "1.0\n")


def test_table_rows_limit(env: CliEnv, examples: Path) -> None:
    out = env.run(["entropy", str(examples / "model_a.csv"), "-f", "table", "--rows", "3"]).stdout
    assert "img-003" in out and "img-004" not in out
    assert "9 more rows" in out


def test_percentiles_in_the_summary(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    rows = [[i / 100, 1 - i / 100] for i in range(1, 100)]
    path.write_text("".join(f"{a},{b}\n" for a, b in rows))
    doc = env.json(["entropy", str(path)])
    values = np.array([r["value"] for r in doc["rows"]])
    for key, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        assert doc["summary"][key] == pytest.approx(np.percentile(values, q), rel=1e-15)


def test_entropy_of_a_label_column(env: CliEnv, examples: Path, tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("label\n" + "cat\n" * 5 + "dog\n" * 3 + "bird\n" * 2)
    doc = json.loads(env.run(["entropy", str(path), "--column", "label", "--json"]).stdout)
    assert doc["summary"]["mean"] == pytest.approx(scipy_entropy([5, 3, 2]), rel=1e-15)
    assert doc["samples"] == {"count": 10, "distinct": 3, "correction": "none"}
    corrected = json.loads(
        env.run(["entropy", str(path), "--column", "label", "--correction", "miller-madow", "--json"]).stdout
    )
    assert corrected["summary"]["mean"] == pytest.approx(scipy_entropy([5, 3, 2]) + 2 / 20, rel=1e-15)


# --- --explain: the arithmetic ----------------------------------------------------------------


def test_entropy_explain_lists_information_and_contribution_in_bits(env: CliEnv) -> None:
    doc = env.json(["entropy", "a=0.5,b=0.25,c=0.125,d=0.125", "--bits", "--explain"])
    outcomes = outcomes_by_name(doc)
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
    doc = env.json(["entropy", "0.5,0.5,0", "--explain"])
    zero = outcomes_by_name(doc)["2"]
    assert (zero["p"], zero["contribution"], zero["neg_log_p"]) == (0, 0, "inf")
    assert doc["explain"]["infinite_outcomes"] == 0


def test_entropy_explain_of_a_label_column(env: CliEnv, examples: Path) -> None:
    doc = env.json(["entropy", str(examples / "labels.csv"), "--column", "label", "--explain"])
    outcomes = doc["explain"]["outcomes"]
    assert math.fsum(o["p"] for o in outcomes) == pytest.approx(1.0, rel=1e-15)
    assert doc["explain"]["total"] == pytest.approx(doc["summary"]["mean"], rel=1e-14)


def test_entropy_explain_table(env: CliEnv) -> None:
    out = env.run(["entropy", "0.5,0.25,0.25", "--bits", "--explain", "-f", "table"]).stdout
    assert "−log p" in out and "−p·log p" in out
    assert " ".join(["0", "0.5", "1", "0.5", "33.3%"]) in " ".join(out.split())


@pytest.mark.parametrize("rows", [2, 5000])  # the careful path, and the kernels' path
def test_a_logprob_placeholder_is_named_with_no_hint_towards_logits_alone(
    env: CliEnv, tmp_path: Path, rows: int
) -> None:
    from scipy.special import log_softmax

    x = log_softmax(np.random.default_rng(0).normal(size=(rows, 64)), axis=1)
    x[rows - 1, 7] = 1e30
    path = tmp_path / "logprobs.npy"
    np.save(path, x)
    result = env.run(["entropy", str(path), "--as", "logprobs"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: {path}: row {rows}, column 8: 1e+30 is above 0, so it is not a log-probability "
        "(its probability would be above 1) (a placeholder for a missing value? give it as -inf "
        "(probability 0) or leave the row out; if the file holds raw scores, not log-probabilities, "
        "use --as logits)\n"
    )
