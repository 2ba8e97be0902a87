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
    pf.to_json(tmp_path / "P.json", orient="table")
    shuffled.to_json(tmp_path / "Qshuffled.json", orient="table")
    qf.to_json(tmp_path / "Q.json", orient="table")
    return {"root": tmp_path, "p": p, "q": q, "kl": float(entropy(p, q, axis=1).mean())}


def test_shuffled_multiindex_rows_are_an_error(env: CliEnv, frames: dict[str, object]) -> None:
    root = frames["root"]
    for ext in ("parquet", "json"):
        p, q = f"{root}/P.{ext}", f"{root}/Qshuffled.{ext}"
        result = env.run(["kl", p, q, "--value"])
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr.endswith(
            f"xent: error: {p}: row 1: ids differ from {q}: {p} has '10|0', '10|1', '10|2', …, "
            f"{q} has '10|2', '10|0', '10|1', … (to pair rows by id, write both in the same order "
            "(their index doc|pos sorted: df.sort_index()); if they are the same rows in the same order "
            "(a shuffled index beside 0…n−1), pair them in order with --pair position)\n"
        )


def test_multiindex_rows_in_one_order_equal_scipy(env: CliEnv, frames: dict[str, object]) -> None:
    root, kl = frames["root"], frames["kl"]
    assert kl == pytest.approx(1.0668955086487777, rel=1e-14)
    for ext, rel in (("parquet", 1e-14), ("json", 1e-9)):  # to_json keeps 10 digits
        result = env.run(["kl", f"{root}/P.{ext}", f"{root}/Q.{ext}", "--value", "-q"])
        assert (result.exit_code, result.stderr) == (0, "")
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
