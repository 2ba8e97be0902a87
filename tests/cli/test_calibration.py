"""xent calibration through the CLI: scikit-learn models' predictions written by pandas, every
statistic against scikit-learn, bins, classwise ECE, gates, the diagram at 60/80/120 columns, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB

from tests.conftest import CliEnv


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.4, random_state=0)
    probs = GaussianNB().fit(x_train, y_train).predict_proba(x_test)
    root = tmp_path_factory.mktemp("digits")
    frame = pd.DataFrame(probs, columns=[f"c{k}" for k in range(10)])
    frame["label"] = y_test
    frame.to_csv(root / "pred.csv")  # pandas defaults: the index as an unnamed first column
    frame.to_parquet(root / "pred.parquet")
    pd.DataFrame({"label": y_test}).to_csv(root / "labels.csv")
    return {"root": root, "probs": probs, "y": y_test}


def _reference(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> dict[str, float]:
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(int)
    prob_true, prob_pred = calibration_curve(correct, confidence, n_bins=n_bins, pos_label=1)
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, n_bins + 1)[1:-1], confidence), minlength=n_bins)
    counts = counts[counts > 0]
    gaps = np.abs(prob_true - prob_pred)
    return {
        "ece": float(np.sum(counts / counts.sum() * gaps)),
        "mce": float(gaps.max()),
        "rmsce": float(np.sqrt(np.sum(counts / counts.sum() * gaps**2))),
        "accuracy": float(correct.mean()),
        "confidence": float(confidence.mean()),
    }


def test_every_statistic_matches_sklearn(env: CliEnv, digits: dict[str, object]) -> None:
    root, probs, y = digits["root"], digits["probs"], digits["y"]
    expected = _reference(probs, y)  # type: ignore[arg-type]
    expected["brier"] = brier_score_loss(y, probs)  # type: ignore[arg-type]
    for args in (
        [f"{root}/pred.csv", "--target", "label"],
        [f"{root}/pred.parquet", "--target", "label"],
        [
            f"{root}/pred.csv",
            "--target",
            f"{root}/labels.csv",
            "--columns",
            ",".join(f"c{k}" for k in range(10)),
        ],
    ):
        doc = env.json(["calibration", *args])
        summary = doc["summary"]
        assert summary["count"] == len(y)  # type: ignore[arg-type]
        for key, value in expected.items():
            assert summary[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key
        assert len(doc["bins"]) == 15
        assert set(doc["bins"][0]) == {
            "lower",
            "upper",
            "count",
            "weight",
            "confidence",
            "accuracy",
        }


def test_binary_one_column_as_sklearn(env: CliEnv, tmp_path: Path) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.4, random_state=0)
    p1 = GaussianNB().fit(x_train, y_train).predict_proba(x_test)[:, 1]
    pd.DataFrame({"p": p1, "y": y_test}).to_csv(tmp_path / "p.csv", index=False)
    doc = env.json(["calibration", str(tmp_path / "p.csv"), "--target", "y", "--bins", "10"])
    assert doc["summary"]["brier"] == pytest.approx(brier_score_loss(y_test, p1), rel=1e-12)
    two = np.stack([1 - p1, p1], axis=1)
    expected = _reference(two, y_test, 10)
    for key, value in expected.items():
        assert doc["summary"][key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


def test_quantile_bins_and_classwise(env: CliEnv, digits: dict[str, object]) -> None:
    root, probs, y = digits["root"], digits["probs"], digits["y"]
    doc = env.json(
        ["calibration", f"{root}/pred.csv", "--target", "label", "--strategy", "quantile", "--bins", "5"]
    )
    confidence = probs.max(axis=1)  # type: ignore[union-attr]
    edges = np.percentile(confidence, [0, 20, 40, 60, 80, 100])
    # xent renormalizes each row exactly, so the confidences may differ from the file's in the last bit
    assert [b["lower"] for b in doc["bins"]] + [doc["bins"][-1]["upper"]] == pytest.approx(edges, rel=1e-14)
    shown = np.array([row["confidence"] for row in doc["rows"]])
    np.testing.assert_allclose(shown, confidence, rtol=1e-13)
    exact_edges = np.percentile(shown, [0, 20, 40, 60, 80, 100])
    assert [b["lower"] for b in doc["bins"]] == exact_edges[:-1].tolist()
    counts = np.bincount(np.searchsorted(exact_edges[1:-1], shown), minlength=5)
    assert [b["count"] for b in doc["bins"]] == counts.tolist()
    doc = env.json(["calibration", f"{root}/pred.csv", "--target", "label", "--classwise", "--bins", "10"])
    classwise = doc["calibration"]["classwise"]
    assert list(classwise) == [f"c{k}" for k in range(10)]
    for k in range(10):
        positive = (y == k).astype(int)  # type: ignore[operator]
        prob_true, prob_pred = calibration_curve(positive, probs[:, k], n_bins=10, pos_label=1)  # type: ignore[index]
        counts = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], probs[:, k]), minlength=10)  # type: ignore[index]
        counts = counts[counts > 0]
        assert classwise[f"c{k}"] == pytest.approx(
            np.sum(counts / counts.sum() * np.abs(prob_true - prob_pred)), rel=1e-12
        )
    assert doc["summary"]["classwise_ece"] == pytest.approx(np.mean(list(classwise.values())), rel=1e-15)


def test_gates_on_every_statistic(env: CliEnv, digits: dict[str, object]) -> None:
    base = ["calibration", f"{digits['root']}/pred.csv", "--target", "label"]
    value = float(env.run([*base, "--value"]).stdout)
    assert value == pytest.approx(_reference(digits["probs"], digits["y"])["ece"], rel=1e-12)  # type: ignore[arg-type]
    assert env.run([*base, "--fail-above", str(value * 1.01)]).exit_code == 0
    failed = env.run([*base, "--fail-above", "ece=0.01"])
    assert failed.exit_code == 1
    assert "ece" in failed.stderr
    for name in ("mce", "rmsce", "brier", "accuracy", "confidence", "brier.p99"):
        assert env.run([*base, "--fail-above", f"{name}=100"]).exit_code == 0, name
    assert env.run([*base, "--fail-below", "accuracy=0.99"]).exit_code == 1
    unknown = env.run([*base, "--fail-above", "classwise_ece=1"])
    assert unknown.exit_code == 2
    assert env.run([*base, "--classwise", "--fail-above", "classwise_ece=1"]).exit_code == 0


def test_errors_are_one_line(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("a,b\n0.2,0.8\n0.6,0.4\n")
    bins = env.run(["calibration", str(path), "--target", "1,0", "--bins", "0"])
    assert bins.exit_code == 2
    assert "--bins" in bins.stderr and bins.stderr.count("\n") == 1
    # The bins' sums are kept (and listed) whatever the rows: an absurd count is refused at parse time.
    for absurd in ("10001", "100000000"):
        for extra in ([], ["--classwise"], ["--strategy", "quantile"], ["--engine", "dask"]):
            refused = env.run(["calibration", str(path), "--target", "1,0", "--bins", absurd, *extra])
            assert (refused.exit_code, refused.stderr) == (
                2,
                f"xent: error: --bins {absurd}: must be a whole number from 1 to 10000\n",
            )
    most = env.json(["calibration", str(path), "--target", "1,0", "--bins", "10000", "--classwise"])
    assert len(most["bins"]) == 10000 and sum(b["count"] for b in most["bins"]) == 2
    label = env.run(["calibration", str(path), "--target", "1,2"])
    assert label.exit_code == 2
    assert label.stderr == (
        "xent: error: --target 1,2: row 2: target 2 is out of range (class indices run from 0 to 1)\n"
    )
    missing = env.run(["calibration", str(path)])
    assert missing.exit_code == 2
    assert missing.stderr.startswith("xent: error: --target is required")
    count = env.run(["calibration", str(path), "--target", "1,0,1"])
    assert count.exit_code == 2 and count.stderr.count("\n") == 1


def test_reliability_diagram_fits_every_width(digits: dict[str, object]) -> None:
    from tests.terminal import XENT, run_in_terminal

    ece = _reference(digits["probs"], digits["y"])["ece"]  # type: ignore[arg-type]
    for columns in (60, 80, 120):
        status, screen = run_in_terminal(
            [str(XENT), "calibration", f"{digits['root']}/pred.csv", "--target", "label"], columns
        )
        assert status == 0
        lines = [line for line in screen.splitlines() if not line.startswith("xent: note:")]
        assert "Reliability diagram (15 uniform bins)" in screen
        assert all(len(line) <= columns for line in lines), screen
        assert f"  ECE         {ece:.6g}" in lines
        assert any("█" in line for line in lines)


def test_quantile_bins_need_the_local_engine(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("a,b\n0.9,0.1\n0.3,0.7\n")
    result = env.run(
        ["calibration", str(path), "--target", "0,1", "--strategy", "quantile", "--engine", "dask"]
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "xent: error: --strategy quantile needs every confidence in one process "
        "(use --strategy uniform on Dask, or the local engine)\n"
    )


def test_every_gate_name_the_help_lists_works(env: CliEnv, digits: dict[str, object]) -> None:
    """Each name in `xent calibration --help`'s gate paragraph gates, with the value the JSON reports."""
    import json
    import re

    from xent_cli.cli.measure_names import SUMMARY_STATISTICS

    text = " ".join(env.run(["calibration", "--help"], COLUMNS="100").stdout.split())
    paragraph = text.split("Gate names (", 1)[1]
    bare = re.findall(
        r"\b(ece|mce|rmsce|brier|accuracy|confidence|classwise_ece)\b", paragraph.split("MEASURE.STAT")[0]
    )
    assert set(bare) == {"ece", "mce", "rmsce", "brier", "accuracy", "confidence", "classwise_ece"}
    stats = SUMMARY_STATISTICS.split(", ")
    names = [*dict.fromkeys(bare)] + [f"{m}.{s}" for m in ("brier", "confidence", "correct") for s in stats]
    for name in names:
        assert re.search(rf"(?<![\w.]){re.escape(name.split('.')[0])}(?![\w])", paragraph), name
    base = ["calibration", f"{digits['root']}/pred.csv", "--target", "label", "--classwise"]
    probs, y = np.asarray(digits["probs"]), np.asarray(digits["y"])
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(float)
    per_row = {"confidence": confidence, "correct": correct}
    gates = [arg for name in names for arg in ("--fail-above", f"{name}=1e300")]
    result = env.run([*base, *gates, "--json"])
    assert result.exit_code == 0, result.stderr
    checks = {
        check["option"].split()[1].split("=")[0]: check["value"]
        for check in json.loads(result.stdout)["gate"]["checks"]
    }
    assert set(checks) == set(names)
    summary = json.loads(result.stdout)["summary"]
    for name in ("ece", "mce", "rmsce", "brier", "accuracy", "confidence", "classwise_ece"):
        assert checks[name] == summary[name], name
    for measure, values in per_row.items():  # independent: NumPy on the model's own probabilities
        assert checks[f"{measure}.mean"] == pytest.approx(values.mean(), rel=1e-14)
        assert checks[f"{measure}.max"] == values.max()
        assert checks[f"{measure}.p50"] == pytest.approx(np.percentile(values, 50), rel=1e-14)
    assert checks["brier.mean"] == pytest.approx(brier_score_loss(y, probs), rel=1e-12)
    assert env.run([*base, "--fail-below", "ece=1e300"]).exit_code == 1


@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
@pytest.mark.parametrize("n_bins", [15, 10])
def test_bins_are_sklearns_on_rows_summing_to_1_within_rounding(
    env: CliEnv, tmp_path: Path, strategy: str, n_bins: int
) -> None:
    """docs/evaluation.md's GaussianNB on digits: rows sum to 1 ± 7e-15, and the confidence is max p
    as given (as scikit-learn takes it), not renormalized: on quantile edges an ulp moves a row."""
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0)
    probs = GaussianNB().fit(x_train, y_train).predict_proba(x_test)
    assert np.abs(probs.sum(axis=1) - 1).max() > 1e-15  # the case: sums off by a few ulps
    pd.DataFrame(probs).assign(label=y_test).to_csv(tmp_path / "nb.csv")
    doc = env.json(
        [
            "calibration",
            str(tmp_path / "nb.csv"),
            "--target",
            "label",
            "--strategy",
            strategy,
            "--bins",
            str(n_bins),
        ]
    )
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_test).astype(int)
    if strategy == "quantile":
        edges = np.percentile(confidence, np.linspace(0, 1, n_bins + 1) * 100)  # calibration_curve's
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.searchsorted(edges[1:-1], confidence)
    counts = np.bincount(index, minlength=n_bins)
    assert [b["count"] for b in doc["bins"]] == counts.tolist()
    prob_true, prob_pred = calibration_curve(correct, confidence, n_bins=n_bins, strategy=strategy)
    filled = [b for b in doc["bins"] if b["count"]]
    assert [b["accuracy"] for b in filled] == pytest.approx(prob_true.tolist(), rel=1e-14, abs=1e-15)
    assert [b["confidence"] for b in filled] == pytest.approx(prob_pred.tolist(), rel=1e-14)
    weights = counts[counts > 0] / len(y_test)
    rmsce = np.sqrt(np.sum(weights * (prob_true - prob_pred) ** 2))
    assert doc["summary"]["rmsce"] == pytest.approx(rmsce, rel=1e-13)


def test_a_calibration_baseline_gates_each_statistic(env: CliEnv, tmp_path: Path) -> None:
    """The summary of calibration holds plain numbers (not {mean: …}): a baseline reads them."""
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_text("a,b,label\n.9,.1,a\n.3,.7,b\n.6,.4,b\n.2,.8,a\n")
    new.write_text("a,b,label\n.1,.9,a\n.3,.7,b\n.6,.4,b\n.2,.8,a\n")  # row 1 now wrong, confidently
    baseline = tmp_path / "cb.json"
    assert (
        env.run(["calibration", str(old), "--target", "label", "--json", "-o", str(baseline)]).exit_code == 0
    )
    y = np.array([0, 1, 1, 0])
    before = _reference(np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]]), y, 15)
    after = _reference(np.array([[0.1, 0.9], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]]), y, 15)
    assert before["ece"] == pytest.approx(0.45) and after["ece"] == pytest.approx(0.65)
    same = env.run(["calibration", str(old), "--target", "label", "--baseline", str(baseline), "--value"])
    assert (same.exit_code, same.stderr) == (0, "")
    assert float(same.stdout) == pytest.approx(before["ece"], rel=1e-12)
    args = ["calibration", str(new), "--target", "label", "--baseline", str(baseline), "--json"]
    holds = env.run([*args, "--fail-increase", "ece=0.25", "--fail-decrease", "accuracy=0.3"])
    assert holds.exit_code == 0, holds.output
    doc = json.loads(holds.stdout)
    assert doc["baseline"]["value"] == pytest.approx(before["ece"], rel=1e-12)
    assert doc["baseline"]["current"] == pytest.approx(after["ece"], rel=1e-12)
    fails = env.run([*args, "--fail-increase", "ece=0.01"])
    assert fails.exit_code == 1
    assert fails.stderr == (
        f"xent: gate failed: ece rose from 0.45 ({baseline}) to 0.65 (+0.2, +44.4%), "
        "more than 0.01 (--fail-increase ece=0.01)\n"
    )
    brier_before = brier_score_loss(y, [0.1, 0.7, 0.4, 0.8])
    brier_after = brier_score_loss(y, [0.9, 0.7, 0.4, 0.8])
    brier = env.run([*args, "--fail-increase", "brier=0.1"])
    assert brier.exit_code == 1
    assert brier.stderr.startswith(
        f"xent: gate failed: brier mean rose from {brier_before:.6g} ({baseline}) to {brier_after:.6g}"
    )
    assert env.run([*args, "--fail-increase", "brier=1"]).exit_code == 0
