"""A pandas MultiIndex (doc, pos) is the row id as a whole ("10|0"), never one level plus "labels".

Parquet/Feather record it in the pandas metadata (several ``index_columns``), JSON's
``orient="table"`` in ``primaryKey``. Before, the second level was left out as labels and
the first alone was the id, so rows shuffled within a document paired wrongly, silently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy
from sklearn.metrics import log_loss

from tests.conftest import CliEnv


@pytest.fixture
def frames(tmp_path: Path) -> dict[str, object]:
    rng = np.random.default_rng(9)
    p, q = rng.dirichlet(np.ones(3), 6), rng.dirichlet(np.ones(3), 6)
    index = pd.MultiIndex.from_product([[10, 20], [0, 1, 2]], names=["doc", "pos"])
    pf = pd.DataFrame(p, columns=list("xyz"), index=index)
    qf = pd.DataFrame(q, columns=list("xyz"), index=index)
    shuffled = qf.iloc[[2, 0, 1, 5, 3, 4]]
    pf.to_parquet(tmp_path / "P.parquet")
    qf.to_parquet(tmp_path / "Q.parquet")
    shuffled.to_parquet(tmp_path / "Qshuffled.parquet")
    pf.to_csv(tmp_path / "P.csv")  # doc,pos,x,y,z: the levels as ordinary named columns
    qf.to_csv(tmp_path / "Q.csv")
    shuffled.to_csv(tmp_path / "Qshuffled.csv")
    pf.to_json(tmp_path / "P.json", orient="table")
    shuffled.to_json(tmp_path / "Qshuffled.json", orient="table")
    qf.to_json(tmp_path / "Q.json", orient="table")
    return {"root": tmp_path, "p": p, "q": q, "kl": float(entropy(p, q, axis=1).mean())}


def test_shuffled_multiindex_rows_are_an_error(env: CliEnv, frames: dict[str, object]) -> None:
    root = frames["root"]
    for ext in ("parquet", "json", "csv"):
        p, q = f"{root}/P.{ext}", f"{root}/Qshuffled.{ext}"
        result = env.run(["kl", p, q, "--value"])
        assert (result.exit_code, result.stdout) == (2, "")
        line = " (line 2)" if ext == "csv" else ""
        assert result.stderr.endswith(
            f"xent: error: {p}: row 1{line}: ids differ from {q}: {p} has '10|0', '10|1', '10|2', …, "
            f"{q} has '10|2', '10|0', '10|1', … (to pair rows by id, write both in the same order "
            "(their index doc|pos sorted: df.sort_index()); if they are the same rows in the same order "
            "(a shuffled index beside 0…n−1), pair them in order with --pair position)\n"
        )


def test_multiindex_rows_in_one_order_equal_scipy(env: CliEnv, frames: dict[str, object]) -> None:
    root, kl = frames["root"], frames["kl"]
    assert kl == pytest.approx(1.0668955086487777, rel=1e-14)
    for ext, rel in (("parquet", 1e-14), ("json", 1e-9), ("csv", 1e-14)):  # to_json keeps 10 digits
        result = env.run(["kl", f"{root}/P.{ext}", f"{root}/Q.{ext}", "--value"])
        assert result.exit_code == 0, result.output
        csv_note = (
            f"xent: note: {root}/P.csv: columns 'doc', 'pos' taken together as the row id "
            "(a pandas MultiIndex, as to_csv writes it); --id to choose another\n"
        )
        assert (csv_note in result.stderr) == (ext == "csv")
        assert float(result.stdout) == pytest.approx(kl, rel=rel)
    doc = env.json(["kl", f"{root}/P.parquet", f"{root}/Q.parquet"])
    assert [row["id"] for row in doc["rows"]] == ["10|0", "10|1", "10|2", "20|0", "20|1", "20|2"]
    assert doc["layout"]["p"]["id"] == "doc|pos"
    assert doc["layout"]["p"]["outcomes"] == ["x", "y", "z"]
    assert doc["layout"]["p"]["labels"] == []


def test_multiindex_labels_are_checked_by_their_whole_id(env: CliEnv, frames: dict[str, object]) -> None:
    root, p = frames["root"], frames["p"]
    index = pd.MultiIndex.from_product([[10, 20], [0, 1, 2]], names=["doc", "pos"])
    labels = pd.DataFrame({"label": list("xyzzyx")}, index=index)
    labels.iloc[[1, 0, 2, 3, 4, 5]].to_parquet(root / "y_shuffled.parquet")  # type: ignore[operator]
    labels.to_parquet(root / "y.parquet")  # type: ignore[operator]
    wrong = env.run(["loss", f"{root}/P.parquet", "--target", f"{root}/y_shuffled.parquet"])
    assert wrong.exit_code == 2
    assert "ids differ from" in wrong.stderr and "'10|1', '10|0', '10|2'" in wrong.stderr
    right = env.run(["loss", f"{root}/P.parquet", "--target", f"{root}/y.parquet", "--value"])
    assert right.exit_code == 0, right.output
    assert float(right.stdout) == pytest.approx(log_loss(labels["label"], p, labels=list("xyz")), rel=1e-14)


def test_multiindex_csv_labels(env: CliEnv, frames: dict[str, object]) -> None:
    root, p = frames["root"], frames["p"]
    index = pd.MultiIndex.from_product([[10, 20], [0, 1, 2]], names=["doc", "pos"])
    labels = pd.Series(list("xyzzyx"), index=index, name="label")
    labels.to_csv(root / "y.csv")  # type: ignore[operator]
    labels.iloc[[1, 0, 2, 3, 4, 5]].to_csv(root / "y_shuffled.csv")  # type: ignore[operator]
    right = env.run(["loss", f"{root}/P.csv", "--target", f"{root}/y.csv", "--value", "-q"])
    assert right.exit_code == 0, right.output
    assert float(right.stdout) == pytest.approx(log_loss(labels, p, labels=list("xyz")), rel=1e-14)
    wrong = env.run(["loss", f"{root}/P.csv", "--target", f"{root}/y_shuffled.csv", "--value"])
    assert wrong.exit_code == 2
    assert "ids differ from" in wrong.stderr and "'10|1', '10|0', '10|2'" in wrong.stderr


def test_two_leading_integer_columns_that_repeat_stay_labels(env: CliEnv, tmp_path: Path) -> None:
    # Not distinct together: no MultiIndex, so the columns are labels as before.
    path = tmp_path / "p.csv"
    path.write_text("a,b,x,y\n1,0,0.5,0.5\n1,0,0.9,0.1\n")
    doc = env.json(["entropy", str(path)])
    assert doc["layout"]["p"]["id"] is None
    assert doc["layout"]["p"]["labels"] == ["a", "b"]
    assert doc["summary"]["mean"] == pytest.approx(
        np.mean(entropy([[0.5, 0.5], [0.9, 0.1]], axis=1)), rel=1e-14
    )


def test_multiindex_beside_a_list_column(env: CliEnv, frames: dict[str, object]) -> None:
    root, p, q, kl = frames["root"], frames["p"], frames["q"], frames["kl"]
    index = pd.MultiIndex.from_product([[10, 20], [0, 1, 2]], names=["doc", "pos"])
    pd.DataFrame({"probs": list(p)}, index=index).to_parquet(root / "LP.parquet")  # type: ignore[call-overload,operator]
    listed = pd.DataFrame({"probs": list(q)}, index=index)  # type: ignore[call-overload]
    listed.to_parquet(root / "LQ.parquet")  # type: ignore[operator]
    listed.iloc[[2, 0, 1, 5, 3, 4]].to_parquet(root / "LQshuffled.parquet")  # type: ignore[operator]
    wrong = env.run(["kl", f"{root}/LP.parquet", f"{root}/LQshuffled.parquet", "--value"])
    assert wrong.exit_code == 2 and "ids differ from" in wrong.stderr
    right = env.run(["kl", f"{root}/LP.parquet", f"{root}/LQ.parquet", "--value", "-q"])
    assert (right.exit_code, right.stderr) == (0, "")
    assert float(right.stdout) == pytest.approx(kl, rel=1e-14)
