"""--weights in loss and calibration: scikit-learn's sample_weight, from a column, a file or a list."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB

from tests.conftest import CliEnv


@pytest.fixture(scope="module")
def weighted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=1)
    probs = GaussianNB(var_smoothing=1e-2).fit(x_train, y_train).predict_proba(x_test)
    weights = np.random.default_rng(0).uniform(0, 3, len(y_test))
    weights[:5] = 0.0
    root = tmp_path_factory.mktemp("weighted")
    frame = pd.DataFrame(probs, columns=[f"c{k}" for k in range(10)])
    frame["label"] = y_test
    frame["w"] = weights
    frame.to_csv(root / "pred.csv")
    frame.to_parquet(root / "pred.parquet")
    pd.DataFrame({"weight": weights}).to_csv(root / "weights.csv", index=False)
    return {"root": root, "probs": probs, "y": y_test, "w": weights}


def test_weighted_loss_equals_sklearn(env: CliEnv, weighted: dict[str, object]) -> None:
    root, probs, y, w = weighted["root"], weighted["probs"], weighted["y"], weighted["w"]
    expected = log_loss(y, probs, sample_weight=w)  # type: ignore[arg-type]
    accuracy = np.average(probs.argmax(axis=1) == y, weights=w)  # type: ignore[union-attr,operator]
    for pred, weights in (
        (f"{root}/pred.csv", "w"),
        (f"{root}/pred.parquet", "w"),
        (f"{root}/pred.csv", f"{root}/weights.csv"),
    ):
        extra = [] if weights == "w" else ["--columns", ",".join(f"c{k}" for k in range(10))]
        args = ["loss", pred, "--target", "label", "--weights", weights, "--clip", "auto", "--rows", "0"]
        doc = env.json([*args, *extra])
        assert doc["loss"]["weighted"] is True
        assert doc["loss"]["log_loss"] == pytest.approx(expected, rel=1e-12)
        assert doc["loss"]["accuracy"] == pytest.approx(accuracy, rel=1e-13)
        assert doc["layout"]["pred"]["outcomes"] == [f"c{k}" for k in range(10)]
    base = ["loss", f"{root}/pred.csv", "--target", "label", "--weights", "w", "--clip", "auto"]
    value = env.run([*base, "--value"])
    assert float(value.stdout) == pytest.approx(expected, rel=1e-12)
    gate = env.run([*base, "--fail-above", f"log_loss={expected * 0.999}"])
    assert gate.exit_code == 1


def test_weighted_calibration_equals_sklearn(env: CliEnv, weighted: dict[str, object]) -> None:
    root, probs, y, w = weighted["root"], weighted["probs"], weighted["y"], weighted["w"]
    doc = env.json(["calibration", f"{root}/pred.csv", "--target", "label", "--weights", "w", "--rows", "0"])
    summary = doc["summary"]
    assert summary["brier"] == pytest.approx(brier_score_loss(y, probs, sample_weight=w), rel=1e-12)  # type: ignore[arg-type]
    confidence = probs.max(axis=1)  # type: ignore[union-attr]
    correct = (probs.argmax(axis=1) == y).astype(float)  # type: ignore[union-attr,operator]
    bins = np.searchsorted(np.linspace(0, 1, 16)[1:-1], confidence)
    total = np.sum(w)  # type: ignore[call-overload]
    ece = (
        sum(
            abs(np.sum((w * correct)[bins == b]) - np.sum((w * confidence)[bins == b]))  # type: ignore[operator]
            for b in range(15)
        )
        / total
    )
    assert summary["ece"] == pytest.approx(ece, rel=1e-12)
    assert summary["accuracy"] == pytest.approx(np.average(correct, weights=w), rel=1e-13)  # type: ignore[arg-type]
    assert sum(b["weight"] for b in doc["bins"]) == pytest.approx(total, rel=1e-14)
    assert sum(b["count"] for b in doc["bins"]) == len(y)  # type: ignore[arg-type]


def test_binary_weighted_brier(env: CliEnv, tmp_path: Path) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    p1 = GaussianNB().fit(x[:300], y[:300]).predict_proba(x[300:])[:, 1]
    w = np.arange(len(p1)) % 4
    pd.DataFrame({"p": p1, "y": y[300:], "w": w}).to_csv(tmp_path / "b.csv", index=False)
    doc = env.json(["calibration", str(tmp_path / "b.csv"), "--target", "y", "--weights", "w", "--rows", "0"])
    assert doc["summary"]["brier"] == pytest.approx(brier_score_loss(y[300:], p1, sample_weight=w), rel=1e-12)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ("1,-2,0.5", "xent: error: --weights: row 2: weight '-2' is not a finite number >= 0"),
        ("1,nan,0.5", "xent: error: --weights: row 2: weight 'nan' is not a finite number >= 0"),
        ("0,0,0", "xent: error: --weights: every weight is 0"),
        ("1,2", "xent: error: --weights has 2 weights but {path} has more rows"),
        ("1,2,3,4", "xent: error: --weights has 4 weights but {path} has 3 rows"),
    ],
)
@pytest.mark.parametrize("command", ["loss", "calibration"])
def test_bad_weights_are_one_line(
    env: CliEnv, tmp_path: Path, command: str, weights: str, message: str
) -> None:
    path = tmp_path / "p.csv"
    path.write_text("a,b\n0.9,0.1\n0.2,0.8\n0.6,0.4\n")
    result = env.run([command, str(path), "--target", "0,1,1", "--weights", weights])
    assert result.exit_code == 2
    assert result.stderr.startswith(message.format(path=path))
    assert result.stderr.count("\n") == 1


def test_a_weights_column_read_as_an_outcome_is_named_instead_of_normalize(
    env: CliEnv, tmp_path: Path
) -> None:
    # docs/evaluation.md's file run without --weights: --normalize would fold the weights into
    # every distribution (1.40671 where log_loss gives 0.164252), so the hint names the column
    path = tmp_path / "pred.csv"
    pd.DataFrame({0: [0.2, 0.9], 1: [0.8, 0.1], "label": [1, 0], "w": [1.0, 5.0]}).to_csv(path)
    result = env.run(["loss", str(path), "--target", "label"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.endswith(
        f"xent: error: {path}: row 1 (line 2): values sum to 2, not 1 (without column 'w' every row "
        "sums to 1, so it is likely not an outcome: use --columns 0,1, or --weights w if it holds "
        "sample weights)\n"
    )
    chosen = env.run(["loss", str(path), "--target", "label", "--columns", "0,1", "--value"])
    assert chosen.exit_code == 0, chosen.output
    assert float(chosen.stdout) == pytest.approx(log_loss([1, 0], [[0.2, 0.8], [0.9, 0.1]]), rel=1e-14)
    weighted = env.run(["loss", str(path), "--target", "label", "--weights", "w", "--value"])
    assert weighted.exit_code == 0, weighted.output
    expected = log_loss([1, 0], [[0.2, 0.8], [0.9, 0.1]], sample_weight=[1.0, 5.0])
    assert float(weighted.stdout) == pytest.approx(expected, rel=1e-14)
