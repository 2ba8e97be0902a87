"""--baseline with --fail-increase / --fail-decrease: the change from an earlier JSON result,
absolute or relative, in the gate line, the JSON document and the table; bad baselines."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss as sklearn_log_loss

from tests.conftest import LN_5_3, CliEnv


def _models(folder: Path, n: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two models' predictions (old.csv, new.csv, written by pandas) and the labels (y.csv)."""
    rng = np.random.default_rng(7)
    y = rng.integers(0, 3, n)
    out = []
    for name, signal in (("old", 1.5), ("new", 1.2)):
        logits = rng.normal(0, 1, (n, 3))
        logits[np.arange(n), y] += signal
        p = np.exp(logits)
        p /= p.sum(1, keepdims=True)
        pd.DataFrame(p, columns=["a", "b", "c"]).to_csv(folder / f"{name}.csv", index=False)
        out.append(p)
    pd.DataFrame({"label": y}).to_csv(folder / "y.csv", index=False)
    return out[0], out[1], y


@pytest.fixture
def models(env: CliEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[float, float]:
    """old.json written by xent itself; returns sklearn's log loss of the old and new models."""
    monkeypatch.chdir(tmp_path)
    old, new, y = _models(tmp_path)
    written = env.run(["loss", "old.csv", "--target", "y.csv", "--json", "-o", "old.json"])
    assert written.exit_code == 0, written.output
    return sklearn_log_loss(y, old, labels=[0, 1, 2]), sklearn_log_loss(y, new, labels=[0, 1, 2])


def test_one_percent_regression_gate_is_one_command(env: CliEnv, models: tuple[float, float]) -> None:
    old, new = models
    assert new > old * 1.01  # the new model is really worse
    run = env.run(["loss", "new.csv", "--target", "y.csv", "--baseline", "old.json", "--fail-increase", "1%"])
    assert run.exit_code == 1
    assert run.stdout.startswith("row\tid\tlog_loss_nats\taccuracy\n")  # the result is still printed
    doc = env.run(
        ["loss", "new.csv", "--target", "y.csv", "--baseline", "old.json", "--fail-increase", "1%", "--json"]
    )
    document = json.loads(doc.stdout)
    baseline = document["baseline"]
    assert baseline["file"] == "old.json"
    assert baseline["statistic"] == "log_loss"
    assert baseline["value"] == pytest.approx(old, rel=1e-13)
    assert baseline["current"] == pytest.approx(new, rel=1e-13)
    assert baseline["change"] == pytest.approx(new - old, rel=1e-11)
    assert baseline["relative_change"] == pytest.approx((new - old) / old, rel=1e-11)
    (check,) = document["gate"]["checks"]
    assert check["option"] == "--fail-increase 1%"
    assert check["fail_if"] == "increase"
    assert check["relative"] is True
    assert check["limit"] == pytest.approx(old / 100, rel=1e-13)
    assert check["held"] is False
    value, current, change = baseline["value"], baseline["current"], baseline["change"]
    assert run.stderr == (
        "xent: note: targets are numbers: taken as 0-based column indices (0 = a, 1 = b, 2 = c); give the "
        "class names as targets to match columns by name\n"
        f"xent: gate failed: log_loss mean rose from {value!r} (old.json) to {current!r} "
        f"(+{change!r}, +{(new - old) / old * 100:.3g}%), more than 1% = {check['limit']!r} "
        "(--fail-increase 1%)\n"
    )


def test_a_change_within_the_bound_holds(env: CliEnv, models: tuple[float, float]) -> None:
    old, new = models
    allowed = math.ceil((new - old) / old * 100) + 1
    args = ["loss", "new.csv", "--target", "y.csv", "--baseline", "old.json", "--value"]
    assert env.run([*args, "--fail-increase", f"{allowed}%"]).exit_code == 0
    assert env.run([*args, "--fail-increase", f"log_loss={new - old + 1e-3}"]).exit_code == 0
    assert env.run([*args, "--fail-increase", f"log_loss={new - old - 1e-3}"]).exit_code == 1
    # The same model against itself: no change, whatever the bound.
    same = env.run(["loss", "old.csv", "--target", "y.csv", "--baseline", "old.json", "--fail-increase", "0"])
    assert same.exit_code == 0


def test_fail_decrease_on_another_statistic(env: CliEnv, models: tuple[float, float], tmp_path: Path) -> None:
    y = pd.read_csv(tmp_path / "y.csv")["label"].to_numpy()
    accuracy = [np.mean(pd.read_csv(tmp_path / f"{m}.csv").to_numpy().argmax(1) == y) for m in ("old", "new")]
    assert accuracy[1] < accuracy[0]
    args = ["loss", "new.csv", "--target", "y.csv", "--baseline", "old.json", "--json"]
    run = env.run([*args, "--fail-decrease", "accuracy=0.5%"])
    assert run.exit_code == 1
    check = json.loads(run.stdout)["gate"]["checks"][0]
    assert check["baseline"]["value"] == pytest.approx(accuracy[0], rel=1e-15)
    assert check["baseline"]["current"] == pytest.approx(accuracy[1], rel=1e-15)
    assert check["value"] == pytest.approx(accuracy[1] - accuracy[0], rel=1e-12)
    assert "xent: gate failed: accuracy mean fell from" in run.stderr
    assert "a fall of more than 0.5% = " in run.stderr
    # A decrease gate never fails on a rise, however large.
    assert env.run([*args, "--fail-decrease", "log_loss=0"]).exit_code == 0


def test_the_table_shows_the_baseline(env: CliEnv, models: tuple[float, float]) -> None:
    run = env.run(
        ["loss", "new.csv", "--target", "y.csv", "--baseline", "old.json", "-f", "table", "--rows", "0"]
    )
    assert run.exit_code == 0
    (line,) = [line for line in run.stdout.splitlines() if line.startswith("baseline old.json:")]
    old, new = models
    assert f"({(new - old) / old * 100:+.3g}%)" in line
    assert line.startswith("baseline old.json: log_loss 0.")


def test_kl_against_a_baseline(env: CliEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert env.run(["kl", "0.5,0.5", "0.9,0.1", "--json", "-o", "old.json"]).exit_code == 0
    run = env.run(["kl", "0.5,0.5", "0.8,0.2", "--baseline", "old.json", "--fail-decrease", "0.01", "--json"])
    assert run.exit_code == 1  # KL fell from ln(5/3) to 0.5 ln(25/16)
    baseline = json.loads(run.stdout)["baseline"]
    assert baseline["value"] == pytest.approx(math.log(5 / 3), rel=1e-15)
    assert baseline["current"] == pytest.approx(0.5 * math.log(25 / 16), rel=1e-15)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "a,b\n1,2\n",
            "--baseline old.json: not a xent JSON result (not JSON: Expecting value: line 1 column 1 (char 0))",
        ),
        (
            '{"rows": []}',
            "--baseline old.json: not a xent JSON result (it has no schema_version, command, unit and summary)",
        ),
        (
            '{"schema_version": 1}',  # it said "it has no schema_version, …"
            "--baseline old.json: not a xent JSON result (it has no command, unit and summary)",
        ),
        (
            '{"schema_version": 2, "command": "loss", "unit": "nats", "base": 2.718281828459045, "summary": {}}',
            "--baseline old.json: JSON schema version 2; this xent reads version 1",
        ),
        (
            '{"schema_version": 1, "command": "kl", "unit": "nats", "base": 2.718281828459045, "summary": {}}',
            "--baseline old.json: a result of xent kl, not of xent loss",
        ),
        (
            '{"schema_version": 1, "command": "loss", "unit": "bits", "base": 2.0, "summary": {}}',
            "--baseline old.json: in bits, but this run is in nats",
        ),
    ],
)
def test_bad_baselines(
    env: CliEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _models(tmp_path, 10)
    (tmp_path / "old.json").write_text(content)
    run = env.run(["loss", "new.csv", "--target", "y.csv", "--baseline", "old.json", "--fail-increase", "1%"])
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr.startswith(f"xent: error: {message} (")
    assert run.stderr.count("\n") == 1


def test_gate_usage_errors(env: CliEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    missing = env.run(["kl", "0.5,0.5", "0.9,0.1", "--fail-increase", "1%"])
    assert missing.exit_code == 2
    assert missing.stderr.startswith("xent: error: --fail-increase 1% needs --baseline FILE (")
    bad = env.run(["kl", "0.5,0.5", "0.9,0.1", "--fail-increase", "x%"])
    assert bad.exit_code == 2
    assert "expected a number >= 0 or a percentage" in bad.stderr
    assert env.run(["kl", "0.5,0.5", "0.9,0.1", "--baseline", "nowhere.json"]).exit_code == 2
    assert env.run(["kl", "0.5,0.5", "0.9,0.1", "--json", "-o", "old.json"]).exit_code == 0
    unknown = env.run(
        ["kl", "0.5,0.5", "0.9,0.1", "--baseline", "old.json", "--fail-increase", "kl.std_error=1"]
    )
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("xent: error: --baseline old.json: has no statistic 'kl.std_error' (")


def test_an_infinite_baseline_gives_coherent_verdicts(
    env: CliEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """inf -> inf is no change; finite -> inf an infinite rise; inf -> finite a fall of 100%: never nan."""
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"a": [0.5], "b": [0.5]}).to_csv("p.csv", index=False)
    pd.DataFrame({"a": [1.0], "b": [0.0]}).to_csv("q_inf.csv", index=False)  # KL(p‖q) = inf
    pd.DataFrame({"a": [0.9], "b": [0.1]}).to_csv("q.csv", index=False)  # KL(p‖q) = 0.5 ln(25/9)
    finite = LN_5_3  # 0.5 ln(25/9), as xent computes it
    assert env.run(["kl", "p.csv", "q_inf.csv", "--json", "-o", "inf.json"]).exit_code == 0
    assert env.run(["kl", "p.csv", "q.csv", "--json", "-o", "finite.json"]).exit_code == 0

    def gate(q: str, baseline: str, *bound: str) -> tuple[int, str]:
        run = env.run(["kl", "p.csv", q, "--baseline", baseline, *bound, "--rows", "0", "-f", "table"])
        return run.exit_code, run.stderr

    for bound in (
        ["--fail-increase", "1%"],
        ["--fail-decrease", "1%"],
        ["--fail-increase", "0"],
        ["--fail-decrease", "0%"],
    ):
        assert gate("q_inf.csv", "inf.json", *bound) == (0, ""), bound  # inf -> inf: unchanged
    unchanged = env.run(["kl", "p.csv", "q_inf.csv", "--baseline", "inf.json", "-f", "table", "--rows", "0"])
    assert "baseline inf.json: kl inf -> inf, unchanged\n" in unchanged.stdout
    document = env.json(["kl", "p.csv", "q_inf.csv", "--baseline", "inf.json", "--fail-increase", "1%"])
    assert document["baseline"]["change"] == 0 and document["baseline"]["relative_change"] == 0
    assert document["gate"]["held"] is True

    rise = f"kl mean rose from {finite!r} (finite.json) to inf (+inf, +inf%)"
    assert gate("q_inf.csv", "finite.json", "--fail-increase", "1%") == (
        1,
        f"xent: gate failed: {rise}, more than 1% = {finite / 100!r} (--fail-increase 1%)\n",
    )
    assert gate("q_inf.csv", "finite.json", "--fail-increase", "5") == (
        1,
        f"xent: gate failed: {rise}, more than 5 (--fail-increase 5)\n",
    )
    assert gate("q_inf.csv", "finite.json", "--fail-decrease", "1%") == (0, "")

    fall = f"kl mean fell from inf (inf.json) to {finite!r} (-inf, -100%)"
    assert gate("q.csv", "inf.json", "--fail-decrease", "1%") == (
        1,
        f"xent: gate failed: {fall}, a fall of more than 1% (--fail-decrease 1%)\n",
    )
    assert gate("q.csv", "inf.json", "--fail-decrease", "0.1") == (
        1,
        f"xent: gate failed: {fall}, a fall of more than 0.1 (--fail-decrease 0.1)\n",
    )
    assert gate("q.csv", "inf.json", "--fail-decrease", "100%") == (0, "")  # a fall of 100% is allowed
    assert gate("q.csv", "inf.json", "--fail-increase", "1%") == (0, "")
    annotation = env.run(
        ["kl", "p.csv", "q.csv", "--baseline", "inf.json", "--fail-decrease", "1%", "--value"],
        GITHUB_ACTIONS="true",
    )
    assert "nan" not in annotation.output
    assert (
        "::error title=xent kl gate failed%3A --fail-decrease 1%25::kl mean fell from inf"
        in annotation.output
    )
