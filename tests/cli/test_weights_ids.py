"""A weights file with a pandas index: its ids are checked against the predictions' as --target's are.

Rows pair by position; a weights file whose ids differ (``w.sort_index().to_csv()``
beside predictions in another order) is an error naming both files' ids and the fix,
or with ``--pair position`` a note. Never a silent pairing of the wrong rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy
from sklearn.metrics import log_loss

from tests.conftest import CliEnv

ORDER = [5, 2, 7, 0, 3, 6, 1, 4]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, object]:
    probs = pd.DataFrame(np.random.default_rng(0).dirichlet([1, 1, 1], 8), columns=list("abc"), index=ORDER)
    labels = pd.Series(list("abcabcab"), index=probs.index, name="label")
    weights = pd.Series(np.arange(1.0, 9.0), index=probs.index, name="w")
    probs.to_csv(tmp_path / "p.csv")
    labels.to_csv(tmp_path / "y.csv")
    weights.sort_index().to_csv(tmp_path / "w_sorted.csv")  # ids 0…7: not the rows' order
    weights.to_csv(tmp_path / "w.csv")  # the rows' own order
    return {"root": tmp_path, "probs": probs, "y": labels, "w": weights}


def _error(root: Path) -> str:
    return (
        f"xent: error: {root}/p.csv: row 1 (line 2): ids differ from {root}/w_sorted.csv: "
        f"{root}/p.csv has '5', '2', '7', …, {root}/w_sorted.csv has '0', '1', '2', … "
        f"(the same ids in another order: write {root}/w_sorted.csv in the order of {root}/p.csv's rows, "
        "or pair rows in order with --pair position)\n"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["loss", "{root}/p.csv", "--target", "{root}/y.csv"],
        ["calibration", "{root}/p.csv", "--target", "{root}/y.csv"],
        ["entropy", "{root}/p.csv"],
        ["kl", "{root}/p.csv", "{root}/p.csv"],
    ],
)
def test_weights_whose_ids_differ_are_an_error(
    env: CliEnv, files: dict[str, object], command: list[str]
) -> None:
    root = files["root"]
    args = [a.format(root=root) for a in command]
    result = env.run([*args, "--weights", f"{root}/w_sorted.csv", "--value"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.endswith(_error(root))  # type: ignore[arg-type]


def test_weights_in_the_rows_order_equal_sklearn(env: CliEnv, files: dict[str, object]) -> None:
    root, probs, y, w = files["root"], files["probs"], files["y"], files["w"]
    loss = env.run(
        ["loss", f"{root}/p.csv", "--target", f"{root}/y.csv", "--weights", f"{root}/w.csv", "--value"]
    )
    assert loss.exit_code == 0, loss.output
    expected = log_loss(y, probs, sample_weight=w)  # type: ignore[arg-type]
    assert expected == pytest.approx(1.626162753082436, rel=1e-14)
    assert float(loss.stdout) == pytest.approx(expected, rel=1e-14)
    doc = env.json(
        ["calibration", f"{root}/p.csv", "--target", f"{root}/y.csv", "--weights", f"{root}/w.csv"]
    )
    onehot = (np.asarray(y)[:, None] == np.array(list("abc"))).astype(float)
    brier = np.average(((np.asarray(probs) - onehot) ** 2).sum(axis=1), weights=w)  # type: ignore[arg-type]
    assert doc["summary"]["brier"] == pytest.approx(brier, rel=1e-14)
    h = env.run(["entropy", f"{root}/p.csv", "--weights", f"{root}/w.csv", "--value"])
    assert float(h.stdout) == pytest.approx(np.average(entropy(probs, axis=1), weights=w), rel=1e-14)  # type: ignore[arg-type]


def test_pair_position_pairs_weights_in_order_with_a_note(env: CliEnv, files: dict[str, object]) -> None:
    root, probs, y, w = files["root"], files["probs"], files["y"], files["w"]
    in_file_order = np.asarray(w.sort_index())  # type: ignore[union-attr]
    note = (
        f"xent: note: {root}/p.csv and {root}/w_sorted.csv: ids differ from row 1 ('5', '2', '7', … beside "
        "'0', '1', '2', …); rows paired in order (--pair position)\n"
    )
    base = ["--weights", f"{root}/w_sorted.csv", "--pair", "position", "--value"]
    loss = env.run(["loss", f"{root}/p.csv", "--target", f"{root}/y.csv", *base])
    assert loss.exit_code == 0, loss.output
    assert float(loss.stdout) == pytest.approx(log_loss(y, probs, sample_weight=in_file_order), rel=1e-14)  # type: ignore[arg-type]
    assert note in loss.stderr
    calibration = env.run(["calibration", f"{root}/p.csv", "--target", f"{root}/y.csv", *base])
    assert calibration.exit_code == 0 and note in calibration.stderr
    h = env.run(["entropy", f"{root}/p.csv", *base])
    assert h.exit_code == 0 and note in h.stderr
    assert float(h.stdout) == pytest.approx(
        np.average(entropy(probs, axis=1), weights=in_file_order), rel=1e-14
    )  # type: ignore[arg-type]


def test_weights_without_ids_pair_by_position(env: CliEnv, files: dict[str, object]) -> None:
    root, probs, y, w = files["root"], files["probs"], files["y"], files["w"]
    pd.DataFrame({"w": np.asarray(w)}).to_csv(root / "plain.csv", index=False)  # type: ignore[operator]
    loss = env.run(
        ["loss", f"{root}/p.csv", "--target", f"{root}/y.csv", "--weights", f"{root}/plain.csv", "--value"]
    )
    assert float(loss.stdout) == pytest.approx(log_loss(y, probs, sample_weight=w), rel=1e-14)  # type: ignore[arg-type]
