"""--ci: bootstrap intervals of the mean in JSON, tables and gates; the paired interval of the change
from a baseline, which tells a noisy change from a real regression; bad levels and gates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import CliEnv
from xent_cli.core.bootstrap import DEFAULT_SEED, poisson_weights


def _reference(values: np.ndarray, level: float, seed: int, resamples: int) -> list[float]:
    """The percentile interval by hand, from the explicit weight matrix."""
    weights = poisson_weights(seed, 0, values.size, resamples).astype(float)
    counts = weights.sum(axis=0)
    means = (values @ weights)[counts > 0] / counts[counts > 0]
    tail = (1 - level) / 2
    return list(np.quantile(means, [tail, 1 - tail]))


def _entropies(p: np.ndarray) -> np.ndarray:
    return -(p * np.log(p)).sum(axis=1)


@pytest.fixture
def batch(tmp_path: Path) -> tuple[Path, np.ndarray]:
    p = np.random.default_rng(4).dirichlet(np.ones(5), size=300)
    frame = pd.DataFrame(p, columns=list("abcde"))
    frame.insert(0, "id", [f"r{i}" for i in range(300)])
    path = tmp_path / "p.csv"
    frame.to_csv(path, index=False)
    return path, p


def test_json_interval_of_the_mean(env: CliEnv, batch: tuple[Path, np.ndarray]) -> None:
    path, p = batch
    doc = env.json(["entropy", str(path), "--ci", "0.9", "--bootstrap", "300", "--seed", "12"])
    expected = _reference(_entropies(p), 0.9, 12, 300)
    np.testing.assert_allclose(doc["summary"]["ci"], expected, rtol=1e-12)
    assert doc["bootstrap"] == {
        "level": 0.9,
        "resamples": 300,
        "seed": 12,
        "method": "percentile",
        "weights": "Poisson(1) per row",
    }
    low, high = doc["summary"]["ci"]
    assert low < doc["summary"]["mean"] < high
    # The fixed default seed: two runs give the same interval.
    first = env.json(["entropy", str(path), "--ci", "0.95"])
    assert first == env.json(["entropy", str(path), "--ci", "0.95"])
    np.testing.assert_allclose(
        first["summary"]["ci"], _reference(_entropies(p), 0.95, DEFAULT_SEED, 1000), rtol=1e-12
    )


def test_gate_on_the_interval(env: CliEnv, batch: tuple[Path, np.ndarray]) -> None:
    path, _ = batch
    doc = env.json(["entropy", str(path), "--ci", "0.95"])
    low, high = doc["summary"]["ci"]
    between = repr((low + doc["summary"]["mean"]) / 2)
    base = ["entropy", str(path), "--value"]
    assert env.run([*base, "--fail-above", between]).exit_code == 1  # the mean is above it
    held = env.run([*base, "--ci", "0.95", "--fail-above", f"entropy.ci_low={between}"])
    assert held.exit_code == 0  # not all of the interval is
    broken = env.run([*base, "--ci", "0.95", "--fail-below", f"entropy.ci_high={high + 1e-9!r}"])
    assert broken.exit_code == 1
    assert broken.stderr == (
        f"xent: gate failed: entropy ci_high {high!r} < {high + 1e-9!r} "
        f"(--fail-below entropy.ci_high={high + 1e-9!r})\n"
    )


def test_table_and_markdown_show_the_interval(env: CliEnv, batch: tuple[Path, np.ndarray]) -> None:
    path, _ = batch
    table = env.run(["entropy", str(path), "--ci", "0.95", "-f", "table", "--rows", "0"])
    (line,) = [line for line in table.stdout.splitlines() if "interval of the mean" in line]
    assert line.startswith(
        f"0.95 interval of the mean (percentile bootstrap, 1000 resamples, seed {DEFAULT_SEED}): H(P) ["
    )
    markdown = env.run(["entropy", str(path), "--ci", "0.95", "-f", "markdown"]).stdout
    assert "| interval of the mean |" in markdown.splitlines()[4]


def _binary(folder: Path, name: str, nll: np.ndarray) -> None:
    """Predictions whose per-row log loss is ``nll`` (P(y=1) = exp(-nll), every label 1)."""
    pd.DataFrame({"p": np.exp(-nll)}).to_csv(folder / f"{name}.csv", index=False)


def test_noise_passes_and_a_regression_fails(
    env: CliEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(8)
    old = rng.uniform(0.2, 1.0, 500)
    noise = rng.normal(0, 0.3, 500)
    noise -= noise.mean()
    noisy = np.clip(old * 1.012 + noise, 1e-3, None)
    worse = np.clip(old * 1.10 + noise, 1e-3, None)
    for name, values in (("old", old), ("noisy", noisy), ("worse", worse)):
        _binary(tmp_path, name, values)
    pd.DataFrame({"y": np.ones(500, dtype=int)}).to_csv("y.csv", index=False)
    assert env.run(["loss", "old.csv", "--target", "y.csv", "--json", "-o", "old.json"]).exit_code == 0
    gate = ["--baseline", "old.json", "--fail-increase", "1%", "--value"]
    assert noisy.mean() > old.mean() * 1.01
    assert (
        env.run(["loss", "noisy.csv", "--target", "y.csv", *gate]).exit_code == 1
    )  # a plain threshold fails
    # A second gate against the baseline: still one note about the pairing.
    calm = env.run(
        ["loss", "noisy.csv", "--target", "y.csv", *gate, "--ci", "0.95", "--fail-decrease", "accuracy=50%"]
    )
    assert calm.exit_code == 0, calm.stderr
    assert calm.stderr == "xent: note: rows of this run and of old.json paired by position (no ids)\n"
    regression = env.run(["loss", "worse.csv", "--target", "y.csv", *gate[:-1], "--ci", "0.95", "--json"])
    assert regression.exit_code == 1
    (check,) = json.loads(regression.stdout)["gate"]["checks"]
    expected = _reference(worse - old, 0.95, DEFAULT_SEED, 1000)
    np.testing.assert_allclose(check["baseline"]["ci"], expected, rtol=1e-9)
    assert check["baseline"]["paired_by"] == "position"
    assert check["value"] == check["baseline"]["ci"][0]  # the end nearest to passing
    assert "; the bootstrap interval of the change [" in regression.stderr
    assert regression.stderr.endswith(f" lies wholly above {check['limit']!r} (1%) (--fail-increase 1%)\n")


def test_rows_pair_by_id(env: CliEnv, batch: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, p = batch
    baseline = tmp_path / "old.json"
    assert env.run(["entropy", str(path), "--json", "-o", str(baseline)]).exit_code == 0
    order = np.random.default_rng(0).permutation(300)
    q = np.random.default_rng(5).dirichlet(np.ones(5), size=300)
    frame = pd.DataFrame(q[order], columns=list("abcde"))
    frame.insert(0, "id", [f"r{i}" for i in order])
    new = tmp_path / "new.csv"
    frame.to_csv(new, index=False)
    run = env.run(["entropy", str(new), "--baseline", str(baseline), "--ci", "0.9", "--json"])
    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""
    comparison = json.loads(run.stdout)["baseline"]
    assert comparison["paired_by"] == "id"
    change = _entropies(q[order]) - _entropies(p)[order]  # each new row against its own old row
    np.testing.assert_allclose(comparison["ci"], _reference(change, 0.9, DEFAULT_SEED, 1000), rtol=1e-9)
    assert comparison["change"] == pytest.approx(change.mean(), abs=1e-13)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--ci", "1.5"],
            "xent: error: --ci 1.5: a confidence level is a number between 0 and 1 (e.g. 0.95)\n",
        ),
        (
            ["--ci", "0"],
            "xent: error: --ci 0.0: a confidence level is a number between 0 and 1 (e.g. 0.95)\n",
        ),
        (
            ["--ci", "0.9", "--bootstrap", "5"],
            "xent: error: --bootstrap 5: needs at least 10 resamples (1000 is the default)\n",
        ),
        (
            ["--fail-above", "kl.ci_low=0.1"],
            "xent: error: --fail-above kl.ci_low=0.1: needs --ci LEVEL (the bootstrap interval of the mean) (e.g. --ci 0.95)\n",
        ),
    ],
)
def test_bad_intervals(env: CliEnv, args: list[str], message: str) -> None:
    run = env.run(["kl", "0.5,0.5", "0.9,0.1", *args])
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr == message


def test_info_has_no_rows_to_resample(env: CliEnv, examples: Path) -> None:
    run = env.run(
        ["info", str(examples / "forecasts.csv"), "--x", "forecast", "--y", "actual", "--ci", "0.9"]
    )
    assert run.exit_code == 2
    assert (
        run.stderr == "xent: error: --ci resamples per-row values; info computes one table (leave out --ci)\n"
    )


def test_a_paired_baseline_needs_the_same_rows(
    env: CliEnv, batch: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    path, _ = batch
    baseline = tmp_path / "old.json"
    assert env.run(["entropy", "0.5,0.5", "--json", "-o", str(baseline)]).exit_code == 0
    run = env.run(["entropy", str(path), "--baseline", str(baseline), "--ci", "0.9"])
    assert run.exit_code == 2
    assert run.stderr.startswith(
        f"xent: error: --baseline {baseline}: 1 rows, but this run has 300; --ci pairs"
    )
    # Without --ci the means alone are compared.
    assert env.run(["entropy", str(path), "--baseline", str(baseline), "--value"]).exit_code == 0


def _resample_means(values: np.ndarray, seed: int, resamples: int) -> np.ndarray:
    """Each resample's mean by hand, from the explicit weight matrix (empty resamples left out)."""
    weights = poisson_weights(seed, 0, values.size, resamples).astype(float)
    counts = weights.sum(axis=0)
    return (values @ weights)[counts > 0] / counts[counts > 0]


def test_intervals_of_gated_statistics_that_are_functions_of_means(env: CliEnv, tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    p = rng.dirichlet(np.ones(3), size=400)
    labels = rng.integers(0, 3, size=400)
    pred, target = tmp_path / "pred.csv", tmp_path / "labels.csv"
    pd.DataFrame(p, columns=["a", "b", "c"]).to_csv(pred, index=False)
    pd.DataFrame({"label": np.array(["a", "b", "c"])[labels]}).to_csv(target, index=False)
    args = ["loss", str(pred), "--target", str(target), "--ci", "0.9", "--bootstrap", "500", "--seed", "3"]
    doc = env.json([*args, "--fail-above", "perplexity.ci_high=100", "--fail-above", "log_loss.sum=1e9"])
    nll = -np.log(p[np.arange(400), labels])
    # perplexity = exp(mean NLL): its interval from the same resamples' means.
    expected = np.quantile(np.exp(_resample_means(nll, 3, 500)), [0.05, 0.95])
    np.testing.assert_allclose(doc["bootstrap"]["intervals"]["perplexity"], expected, rtol=1e-12)
    # A sum's interval: Σ w·x over every resample (an empty one sums to 0).
    weights = poisson_weights(3, 0, 400, 500).astype(float)
    np.testing.assert_allclose(
        doc["bootstrap"]["intervals"]["log_loss.sum"], np.quantile(nll @ weights, [0.05, 0.95]), rtol=1e-12
    )
    # In bits, perplexity is still exp of the mean in nats.
    bits = env.json([*args, "--base", "2", "--fail-above", "perplexity.ci_low=100"])
    np.testing.assert_allclose(bits["bootstrap"]["intervals"]["perplexity"], expected, rtol=1e-12)
    # The gate compares the interval's end, and its line names it.
    run = env.run([*args, "--fail-above", f"perplexity.ci_low={expected[0] * 0.99}"])
    assert run.exit_code == 1
    assert "xent: gate failed: perplexity ci_low " in run.stderr
    assert env.run([*args, "--fail-above", f"perplexity.ci_low={expected[0] * 1.01}"]).exit_code == 0


def test_calibration_intervals_of_brier_and_accuracy(env: CliEnv, tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    p = rng.dirichlet(np.ones(3) * 2, size=300)
    labels = rng.integers(0, 3, size=300)
    pred, target = tmp_path / "pred.csv", tmp_path / "labels.csv"
    pd.DataFrame(p, columns=["a", "b", "c"]).to_csv(pred, index=False)
    pd.DataFrame({"label": np.array(["a", "b", "c"])[labels]}).to_csv(target, index=False)
    gates = ["--fail-above", "brier.ci_high=2", "--fail-below", "accuracy.ci_low=0"]
    doc = env.json(["calibration", str(pred), "--target", str(target), "--ci", "0.95", *gates])
    onehot = np.eye(3)[labels]
    brier = ((p - onehot) ** 2).sum(axis=1)  # scikit-learn's multiclass Brier, per row
    correct = (p.argmax(axis=1) == labels).astype(float)
    intervals = doc["bootstrap"]["intervals"]
    tails = [0.025, 0.975]
    np.testing.assert_allclose(
        intervals["brier"], np.quantile(_resample_means(brier, DEFAULT_SEED, 1000), tails), rtol=1e-12
    )
    np.testing.assert_allclose(
        intervals["accuracy"], np.quantile(_resample_means(correct, DEFAULT_SEED, 1000), tails), rtol=1e-12
    )
    assert intervals["brier"][0] < doc["summary"]["brier"] < intervals["brier"][1]


@pytest.mark.parametrize(
    ("command", "gate", "message"),
    [
        (
            ["kl", "0.5,0.5", "0.9,0.1"],
            "kl.p99.ci_low=0.1",
            "xent: error: --fail-above kl.p99.ci_low=0.1: --ci gives no interval of kl.p99 (the bootstrap "
            "keeps one sum per resample, not the rows a percentile, extreme or binned statistic needs) "
            "(intervals: kl, MEASURE.{mean,sum})\n",
        ),
        (
            ["kl", "0.5,0.5", "0.9,0.1"],
            "kl.max.ci_high=0.1",
            "xent: error: --fail-above kl.max.ci_high=0.1: --ci gives no interval of kl.max (the bootstrap "
            "keeps one sum per resample, not the rows a percentile, extreme or binned statistic needs) "
            "(intervals: kl, MEASURE.{mean,sum})\n",
        ),
        (
            ["kl", "0.5,0.5", "0.9,0.1"],
            "nope.ci_high=0.1",
            "xent: error: --fail-above nope.ci_high=…: kl has no statistic 'nope.ci_high' (known: kl, "
            "MEASURE.{count,mean,std_error,min,p0.1,p1,p5,p10,p50,p90,p95,p99,p99.9,max,sum,inf_count,"
            "ci_low,ci_high})\n",
        ),
    ],
)
def test_statistics_without_an_interval(env: CliEnv, command: list[str], gate: str, message: str) -> None:
    run = env.run([*command, "--ci", "0.9", "--fail-above", gate])
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr == message


def test_calibration_names_its_intervals_and_refuses_ece(env: CliEnv, examples: Path) -> None:
    pred, target = examples / "model_a.csv", examples / "labels.csv"
    run = env.run(
        ["calibration", str(pred), "--target", str(target), "--ci", "0.9", "--fail-above", "ece.ci_low=0.1"]
    )
    assert run.exit_code == 2
    assert run.stderr.endswith("(intervals: confidence, correct, brier, accuracy, MEASURE.{mean,sum})\n")


def test_weights_and_an_interval_are_refused_together(env: CliEnv, examples: Path) -> None:
    # The bootstrap resamples unweighted rows: no weighted statistic gets an interval.
    args = ["loss", str(examples / "model_a.csv"), "--target", str(examples / "labels.csv")]
    weights = ",".join(["1"] * 11 + ["3"])
    run = env.run([*args, "--weights", weights, "--ci", "0.9", "--fail-above", "perplexity.ci_low=3"])
    assert run.exit_code == 2
    assert run.stderr == (
        "xent: error: --ci resamples the rows unweighted; it cannot be combined with --weights "
        "(leave out --ci, or --weights)\n"
    )


def test_a_baseline_without_rows_is_compared_without_an_interval(
    env: CliEnv, batch: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    path, _ = batch
    baseline = tmp_path / "old.json"
    assert env.run(["entropy", str(path), "--json", "--rows", "0", "-o", str(baseline)]).exit_code == 0
    assert "rows" not in json.loads(baseline.read_text())
    run = env.run(
        ["entropy", str(path), "--baseline", str(baseline), "--ci", "0.9", "--fail-increase", "1%", "--json"]
    )
    assert run.exit_code == 0, run.stderr
    assert run.stderr == (
        f"xent: note: --baseline {baseline} holds no per-row values of entropy (written with --rows 0?): "
        "its change is compared without an interval\n"
    )
    comparison = json.loads(run.stdout)["baseline"]
    assert "ci" not in comparison
    assert comparison["change"] == 0


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (
            [f"r{i}" for i in range(299)] + ["r0"],
            "ids repeat, so rows cannot be paired by id (give every row a distinct id)",
        ),
        (
            [f"s{i}" for i in range(300)],
            "has no row with id 's0' (300 ids of this run lack one) (--ci pairs the rows of both results by id)",
        ),
    ],
)
def test_rows_that_cannot_pair_by_id(
    env: CliEnv, batch: tuple[Path, np.ndarray], tmp_path: Path, ids: list[str], message: str
) -> None:
    path, p = batch
    baseline = tmp_path / "old.json"
    assert env.run(["entropy", str(path), "--json", "-o", str(baseline)]).exit_code == 0
    frame = pd.DataFrame(p, columns=list("abcde"))
    frame.insert(0, "id", ids)
    new = tmp_path / "new.csv"
    frame.to_csv(new, index=False)
    run = env.run(["entropy", str(new), "--baseline", str(baseline), "--ci", "0.9", "--fail-increase", "1%"])
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr == f"xent: error: --baseline {baseline}: {message}\n"


@pytest.mark.parametrize("command", ["calibration", "loss"])
def test_calibration_refuses_weights_with_an_interval_as_loss_does(
    env: CliEnv, examples: Path, command: str
) -> None:
    weights = ",".join(["1"] * 11 + ["3"])
    args = [command, str(examples / "model_a.csv"), "--target", str(examples / "labels.csv")]
    run = env.run([*args, "--weights", weights, "--ci", "0.95"])
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == (
        "xent: error: --ci resamples the rows unweighted; it cannot be combined with --weights "
        "(leave out --ci, or --weights)\n"
    )


def test_calibration_intervals_are_named_as_its_summary(env: CliEnv, examples: Path) -> None:
    pred, target = examples / "model_a.csv", examples / "labels.csv"
    doc = env.json(["calibration", str(pred), "--target", str(target), "--ci", "0.9"])
    intervals = doc["bootstrap"]["intervals"]
    assert sorted(intervals) == ["accuracy", "brier", "confidence"]
    assert set(intervals) <= set(doc["summary"])
    assert intervals["accuracy"][0] <= doc["summary"]["accuracy"] <= intervals["accuracy"][1]
