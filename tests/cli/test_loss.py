"""xent loss through the CLI: against sklearn, targets in every form, smoothing, ignored labels,
gates and errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import log_loss as sklearn_log_loss

from tests.conftest import CliEnv


def test_loss_matches_sklearn(env: CliEnv, examples: Path) -> None:
    doc = env.json(["loss", str(examples / "model_a.csv"), "--target", str(examples / "labels.csv")])
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


@pytest.mark.parametrize("writer", ["to_csv", "to_parquet", "to_json"])
def test_binary_loss_of_a_boolean_target_column(env: CliEnv, tmp_path: Path, writer: str) -> None:
    """A pandas bool column (True/False in CSV and Parquet, true/false in JSON Lines) is 1/0, as
    scikit-learn's log_loss takes it; it was "target 'True' is not 0 or 1"."""
    import pandas as pd

    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 20)
    y = rng.uniform(size=20) < p
    frame = pd.DataFrame({"p": p, "y": y})
    path = tmp_path / {"to_csv": "b.csv", "to_parquet": "b.parquet", "to_json": "b.jsonl"}[writer]
    if writer == "to_json":
        frame.to_json(path, orient="records", lines=True, double_precision=15)
    else:
        getattr(frame, writer)(path, index=False)
    doc = env.json(["loss", str(path), "--target", "y"])
    assert doc["loss"]["binary"] is True
    assert doc["loss"]["log_loss"] == pytest.approx(sklearn_log_loss(y, p), rel=1e-13)


def test_label_smoothing_and_ignore_label(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("a,b,t\n0.2,0.8,1\n0.5,0.5,-100\n")
    doc = env.json(["loss", str(path), "--target", "t", "--ignore-label", "-100", "--label-smoothing", "0.1"])
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
    assert misaligned.stderr == (
        f"xent: error: {pred}: row 1 (line 2): ids differ from {labels}: {pred} has 'x', 'y', "
        f"{labels} has 'y', 'x' (the same ids in another order: join them with --id id, "
        "or pair rows in order with --pair position)\n"
    )
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


# --- --clip and --smooth ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def naive_bayes_digits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """GaussianNB on digits: probabilities of exactly 0 on some true classes, as real models give."""
    import pandas as pd
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.naive_bayes import GaussianNB

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.4, random_state=0)
    probs = GaussianNB().fit(x_train, y_train).predict_proba(x_test)
    assert (probs[np.arange(len(y_test)), y_test] == 0).any()
    path = tmp_path_factory.mktemp("nb") / "pred.csv"
    frame = pd.DataFrame(probs, columns=[f"c{k}" for k in range(10)])
    frame["label"] = y_test
    frame.to_csv(path)
    return path, probs, y_test


def test_zero_probability_gives_inf_and_one_note(
    env: CliEnv, naive_bayes_digits: tuple[Path, np.ndarray, np.ndarray]
) -> None:
    path = naive_bayes_digits[0]
    result = env.run(["loss", str(path), "--target", "label", "--value"])
    assert result.stdout == "inf\n"
    notes = [line for line in result.stderr.splitlines() if "--clip" in line]
    assert notes == [
        "xent: note: some rows put probability 0 on the true class (NLL inf): --clip auto clips "
        "probabilities to [eps, 1 - eps] as scikit-learn's log_loss does; --smooth ALPHA smooths them"
    ]


def test_clip_auto_equals_sklearn_log_loss(
    env: CliEnv, naive_bayes_digits: tuple[Path, np.ndarray, np.ndarray]
) -> None:
    path, probs, y = naive_bayes_digits
    doc = env.json(["loss", str(path), "--target", "label", "--clip", "auto", "--rows", "0"])
    assert doc["loss"]["clip"] == np.finfo(np.float64).eps
    assert doc["loss"]["log_loss"] == pytest.approx(sklearn_log_loss(y, probs), rel=1e-12)
    custom = env.json(["loss", str(path), "--target", "label", "--clip", "1e-15", "--rows", "0"])
    expected = np.mean(-np.log(np.clip(probs, 1e-15, 1 - 1e-15)[np.arange(len(y)), y]))
    assert custom["loss"]["log_loss"] == pytest.approx(expected, rel=1e-12)


def test_clip_binary_and_logits(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("p\n1.0\n0.0\n0.6\n")
    doc = env.json(["loss", str(path), "--target", "0,1,1", "--clip", "auto"])
    assert doc["loss"]["log_loss"] == pytest.approx(sklearn_log_loss([0, 1, 1], [1.0, 0.0, 0.6]), rel=1e-13)
    logits = env.run(["loss", "40,0,0", "--target", "1", "--as", "logits", "--clip", "auto", "--value"])
    expected = sklearn_log_loss([1], [np.exp([40, 0, 0]) / np.exp([40, 0, 0]).sum()], labels=[0, 1, 2])
    assert float(logits.stdout) == pytest.approx(expected, rel=1e-12)


def test_smooth_predictions(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("a,b,c\n1,0,0\n0.2,0.5,0.3\n")
    doc = env.json(["loss", str(path), "--target", "1,2", "--smooth", "0.1"])
    smoothed = (np.array([[1, 0, 0], [0.2, 0.5, 0.3]]) + 0.1) / 1.3
    assert doc["loss"]["smooth"] == 0.1
    assert doc["loss"]["log_loss"] == pytest.approx(
        sklearn_log_loss([1, 2], smoothed, labels=[0, 1, 2]), rel=1e-14
    )
    binary = tmp_path / "b.csv"
    binary.write_text("p\n1.0\n0.25\n")
    value = float(env.run(["loss", str(binary), "--target", "0,1", "--smooth", "0.5", "--value"]).stdout)
    assert value == pytest.approx(-(np.log(0.25) + np.log(0.75 / 2)) / 2, rel=1e-14)


def test_bad_clip_is_one_line(env: CliEnv) -> None:
    result = env.run(["loss", "0.5,0.5", "--target", "1", "--clip", "0.7"])
    assert result.exit_code == 2
    assert result.stderr == "xent: error: --clip 0.7: expected auto or a number in (0, 0.5)\n"


def test_number_targets_beside_named_columns_are_indices_with_a_note(env: CliEnv, tmp_path: Path) -> None:
    """Iris predictions whose columns are named, beside targets 0, 1, 2: the numbers are column
    indices, as scikit-learn takes them, and one note says which column each is."""
    (tmp_path / "p.csv").write_text("virginica,setosa,versicolor\n.1,.7,.2\n.1,.1,.8\n.6,.2,.2\n")
    (tmp_path / "y.csv").write_text("y\n0\n1\n2\n")
    result = env.run(["loss", str(tmp_path / "p.csv"), "--target", str(tmp_path / "y.csv"), "--value"])
    expected = sklearn_log_loss([0, 1, 2], [[0.1, 0.7, 0.2], [0.1, 0.1, 0.8], [0.6, 0.2, 0.2]])
    assert float(result.stdout) == pytest.approx(expected, rel=1e-14)
    assert result.stderr == (
        "xent: note: targets are numbers: taken as 0-based column indices (0 = virginica, 1 = setosa, "
        "2 = versicolor); give the class names as targets to match columns by name\n"
    )
