"""js, compare and loss through the CLI: values, gates, --explain and errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from sklearn.metrics import log_loss as sklearn_log_loss

from tests.conftest import CliEnv


def _json(env: CliEnv, args: list[str]) -> dict:  # type: ignore[type-arg]
    result = env.run([*args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_js_matches_scipy_and_reports_the_distance(env: CliEnv, examples: Path) -> None:
    doc = _json(env, ["js", str(examples / "model_a.csv"), str(examples / "model_b.csv"), "--bits"])
    a = np.loadtxt(examples / "model_a.csv", delimiter=",", skiprows=1, usecols=(1, 2, 3))
    b = np.loadtxt(examples / "model_b.csv", delimiter=",", skiprows=1, usecols=(1, 2, 3))
    distance = jensenshannon(a / a.sum(1, keepdims=True), b / b.sum(1, keepdims=True), axis=1, base=2)
    np.testing.assert_allclose([r["js_distance"] for r in doc["rows"]], distance, rtol=1e-12)
    np.testing.assert_allclose([r["js"] for r in doc["rows"]], distance**2, rtol=1e-12)
    assert doc["unit"] == "bits"


def test_js_is_bounded_by_one_bit(env: CliEnv) -> None:
    assert env.run(["js", "1,0", "0,1", "--bits", "--value"]).stdout == "1.0\n"


def test_compare_has_every_measure(env: CliEnv) -> None:
    doc = _json(env, ["compare", "0.5,0.5", "0.9,0.1"])
    row = doc["rows"][0]
    assert set(row) == {
        "row",
        "id",
        "kl",
        "kl_reverse",
        "cross_entropy",
        "js",
        "tv",
        "hellinger",
        "max_abs_diff",
        "top1_agreement",
    }
    assert row["kl"] == pytest.approx(math.log(5 / 3), rel=1e-15)
    assert row["kl_reverse"] == pytest.approx(
        0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5), rel=1e-14
    )
    assert row["cross_entropy"] == pytest.approx(-0.5 * math.log(0.9) - 0.5 * math.log(0.1), rel=1e-15)
    assert row["js"] == pytest.approx(jensenshannon([0.5, 0.5], [0.9, 0.1]) ** 2, rel=1e-13)
    assert row["tv"] == pytest.approx(0.4, rel=1e-15)
    assert row["max_abs_diff"] == pytest.approx(0.4, rel=1e-15)
    assert row["top1_agreement"] == 1.0
    assert set(doc["summary"]) == set(row) - {"row", "id"}


def test_compare_top1_agreement_share(env: CliEnv, tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    q = tmp_path / "q.csv"
    p.write_text("a,b\n0.9,0.1\n0.2,0.8\n0.6,0.4\n0.3,0.7\n")
    q.write_text("a,b\n0.8,0.2\n0.7,0.3\n0.6,0.4\n0.1,0.9\n")
    doc = _json(env, ["compare", str(p), str(q)])
    assert doc["summary"]["top1_agreement"]["mean"] == 0.75


def test_compare_gates(env: CliEnv, examples: Path) -> None:
    a, b = str(examples / "model_a.csv"), str(examples / "model_b.csv")
    held = env.run(["compare", a, b, "--fail-above", "kl=0.01", "--fail-above", "js=0.001", "--json"])
    assert held.exit_code == 0
    gate = json.loads(held.stdout)["gate"]
    assert gate["held"] is True
    assert [c["measure"] for c in gate["checks"]] == ["kl", "js"]
    broken = env.run(["compare", a, b, "--fail-above", "kl=0.01", "--fail-above", "js=0.0001", "--value"])
    assert broken.exit_code == 1
    assert broken.stderr.startswith("xent: gate failed: js mean 0.000635")
    assert broken.stderr.endswith("> 0.0001 (--fail-above js=0.0001)\n")
    assert broken.stdout.strip() != ""


def test_gate_that_names_no_measure_is_a_usage_error(env: CliEnv) -> None:
    result = env.run(["compare", "0.5,0.5", "0.9,0.1", "--fail-above", "kld=0.1"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "xent: error: --fail-above kld=…: compare has no statistic 'kld' (known: kl, kl_reverse, "
        "cross_entropy, js, tv, hellinger, max_abs_diff, top1_agreement, same_top1, same_top1_std_error, "
        "MEASURE.{count,mean,std_error,min,p0.1,p1,p5,p10,p50,p90,p95,p99,p99.9,max,sum,inf_count})\n"
    )
    assert env.run(["kl", "0.5,0.5", "0.9,0.1", "--fail-above", "x=y"]).exit_code == 2


def test_percentiles_in_the_summary(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    rows = [[i / 100, 1 - i / 100] for i in range(1, 100)]
    path.write_text("".join(f"{a},{b}\n" for a, b in rows))
    doc = _json(env, ["entropy", str(path)])
    values = np.array([r["value"] for r in doc["rows"]])
    for key, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        assert doc["summary"][key] == pytest.approx(np.percentile(values, q), rel=1e-15)


def test_explain_ranks_outcomes(env: CliEnv) -> None:
    doc = _json(env, ["kl", "a=0.7,b=0.2,c=0.1", "a=0.5,b=0.3,c=0.2", "--explain", "--top", "2"])
    explain = doc["explain"]
    assert explain["measure"] == "kl"
    assert [o["outcome"] for o in explain["outcomes"]] == ["a", "c"]
    # contributions q*phi(p/q) are >= 0 and sum to the KL
    p, q = np.array([0.7, 0.2, 0.1]), np.array([0.5, 0.3, 0.2])
    terms = p * np.log(p / q) - p + q
    assert explain["outcomes"][0]["contribution"] == pytest.approx(terms[0], rel=1e-13)
    assert explain["total"] == pytest.approx(doc["summary"]["mean"], rel=1e-14)


def test_explain_batch_is_the_mean_per_row(env: CliEnv, examples: Path) -> None:
    doc = _json(env, ["js", str(examples / "model_a.csv"), str(examples / "model_b.csv"), "--explain"])
    explain = doc["explain"]
    assert explain["rows"] == 12
    assert {o["outcome"] for o in explain["outcomes"]} == {"cat", "dog", "bird"}
    assert sum(o["share"] for o in explain["outcomes"]) == pytest.approx(1.0)
    assert explain["total"] == pytest.approx(doc["summary"]["js"]["mean"], rel=1e-13)
    table = env.run(
        ["js", str(examples / "model_a.csv"), str(examples / "model_b.csv"), "--explain", "-f", "table"]
    )
    assert "What drives JS(P, Q)" in table.stdout
    assert "█" in table.stdout


# --- loss ---------------------------------------------------------------------------------


def test_loss_matches_sklearn(env: CliEnv, examples: Path) -> None:
    doc = _json(env, ["loss", str(examples / "model_a.csv"), "--target", str(examples / "labels.csv")])
    a = np.loadtxt(examples / "model_a.csv", delimiter=",", skiprows=1, usecols=(1, 2, 3))
    names = ["cat", "dog", "bird"]
    labels = [names.index(line.split(",")[1]) for line in (examples / "labels.csv").read_text().split()[1:]]
    expected = sklearn_log_loss(labels, a / a.sum(1, keepdims=True), labels=[0, 1, 2])
    assert doc["summary"]["log_loss"]["mean"] == pytest.approx(expected, rel=1e-13)
    assert doc["loss"]["log_loss"] == pytest.approx(expected, rel=1e-13)
    assert doc["loss"]["perplexity"] == pytest.approx(math.exp(expected), rel=1e-13)
    predicted = np.argmax(a, axis=1)
    assert doc["loss"]["accuracy"] == pytest.approx(np.mean(predicted == np.array(labels)))
    assert doc["sources"] == {"pred": str(examples / "model_a.csv"), "target": str(examples / "labels.csv")}


def test_loss_target_column_indices_and_inline(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "pred.csv"
    path.write_text("id,cat,dog,y\na,0.7,0.3,cat\nb,0.4,0.6,1\n")
    by_column = env.run(["loss", str(path), "--target", "y", "--value"])
    inline = env.run(["loss", str(path), "--target", "0,1", "--value"])
    expected = (-math.log(0.7) - math.log(0.6)) / 2
    assert float(by_column.stdout) == pytest.approx(expected, rel=1e-15)
    assert by_column.stdout == inline.stdout


def test_loss_from_logits_and_in_bits(env: CliEnv) -> None:
    result = env.run(["loss", "0,0,0,0", "--target", "2", "--as", "logits", "--bits", "--value"])
    assert result.stdout == "2.0\n"


def test_binary_loss(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("p\n0.9\n0.2\n0.6\n")
    result = env.run(["loss", str(path), "--target", "1,0,0", "--json"])
    doc = json.loads(result.stdout)
    assert doc["loss"]["binary"] is True
    assert doc["loss"]["log_loss"] == pytest.approx(sklearn_log_loss([1, 0, 0], [0.9, 0.2, 0.6]), rel=1e-14)
    assert doc["loss"]["accuracy"] == pytest.approx(2 / 3)


def test_label_smoothing_and_ignore_label(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("a,b,t\n0.2,0.8,1\n0.5,0.5,-100\n")
    doc = _json(
        env, ["loss", str(path), "--target", "t", "--ignore-label", "-100", "--label-smoothing", "0.1"]
    )
    expected = 0.9 * -math.log(0.8) + 0.1 * -(math.log(0.2) + math.log(0.8)) / 2
    assert doc["loss"]["log_loss"] == pytest.approx(expected, rel=1e-15)
    assert doc["loss"]["ignored_rows"] == 1
    assert [r["row"] for r in doc["rows"]] == [1]


def test_all_rows_ignored_is_an_error_not_nan(env: CliEnv) -> None:
    result = env.run(["loss", "0.5,0.5", "--target=-100", "--ignore-label=-100"])
    assert result.exit_code == 2
    assert "ignored label" in result.stderr


def test_loss_gate_on_accuracy(env: CliEnv, examples: Path) -> None:
    args = ["loss", str(examples / "model_a.csv"), "--target", str(examples / "labels.csv"), "--value"]
    assert env.run([*args, "--fail-below", "accuracy=0.9"]).exit_code == 0
    failed = env.run([*args, "--fail-below", "accuracy=0.95"])
    assert failed.exit_code == 1
    assert "accuracy mean 0.9166666666666666 < 0.95" in failed.stderr


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "cow,dog",
            "xent: error: --target cow,dog: row 1: target 'cow' is not a class (classes: cat, dog; or give 0-based class indices)\n",
        ),
        (
            "0,5",
            "xent: error: --target 0,5: row 2: target 5 is out of range (class indices run from 0 to 1)\n",
        ),
        (
            "0,1,1",
            "xent: error: PRED has 2 rows but --target 0,1,1 has 3 labels (labels pair with predictions by position (or by --id))\n",
        ),
        ("0", "xent: error: --target '0' is not a column of PRED nor a file (columns: cat, dog)\n"),
    ],
)
def test_bad_targets_are_one_line(
    env: CliEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("PRED").write_text("cat,dog\n0.7,0.3\n0.4,0.6\n")
    result = env.run(["loss", "PRED", "--target", target])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == message


def test_labels_with_ids_must_line_up(env: CliEnv, tmp_path: Path) -> None:
    pred = tmp_path / "p.csv"
    labels = tmp_path / "l.csv"
    pred.write_text("id,a,b\nx,0.7,0.3\ny,0.4,0.6\n")
    labels.write_text("id,label\ny,b\nx,a\n")
    misaligned = env.run(["loss", str(pred), "--target", str(labels)])
    assert misaligned.exit_code == 2
    assert "id 'x', but" in misaligned.stderr and "--id" in misaligned.stderr
    joined = env.run(["loss", str(pred), "--target", str(labels), "--id", "id", "--value"])
    assert float(joined.stdout) == pytest.approx((-math.log(0.7) - math.log(0.6)) / 2, rel=1e-15)


def test_loss_id_join_refuses_duplicate_ids(env: CliEnv, tmp_path: Path) -> None:
    pred = tmp_path / "pred.csv"
    pred.write_text("id,a,b\nr1,0.5,0.5\nr2,0.2,0.8\n")
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\nr1,a\nr2,b\nr1,b\n")
    twice = env.run(["loss", str(pred), "--target", str(labels), "--id", "id"])
    assert (twice.exit_code, twice.stdout) == (2, "")
    assert (
        twice.stderr
        == f"xent: error: {labels}: row 3 (line 4): id 'r1' appears more than once (first at row 1) "
        "(ids must be unique to join on)\n"
    )
    # as for a --id join of two sources: a prediction id twice is an error too
    labels.write_text("id,label\nr1,a\nr2,b\n")
    pred.write_text("id,a,b\nr1,0.5,0.5\nr1,0.2,0.8\n")
    repeated = env.run(["loss", str(pred), "--target", str(labels), "--id", "id"])
    assert (
        repeated.stderr
        == f"xent: error: {pred}: id 'r1' appears more than once (ids must be unique to join on)\n"
    )
    kl = env.run(["kl", str(pred), str(pred), "--id", "id"])
    assert "id 'r1' appears more than once (ids must be unique to join on)" in kl.stderr
