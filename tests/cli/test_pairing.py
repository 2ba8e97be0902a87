"""Predictions and labels whose ids disagree: the error shows both, --pair position pairs in order.

The common case: ``train_test_split`` keeps the original index, so ``y_test.to_csv()``
writes shuffled ids while ``pd.DataFrame(proba).to_csv()`` writes 0…n−1.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from tests.conftest import CliEnv


@pytest.fixture
def split(tmp_path: Path) -> tuple[Path, Path, float]:
    rng = np.random.default_rng(5)
    y = pd.Series(rng.integers(0, 3, size=200), name="target")
    proba_all = rng.dirichlet(np.ones(3), size=200)
    _, proba, _, y_test = train_test_split(proba_all, y, random_state=0)
    pred, labels = tmp_path / "pred.csv", tmp_path / "y.csv"
    pd.DataFrame(proba).to_csv(pred)
    y_test.to_csv(labels)
    return pred, labels, float(log_loss(y_test, proba))


def test_shuffled_ids_are_an_error_naming_pair_position(env: CliEnv, split: tuple[Path, Path, float]) -> None:
    pred, labels, _ = split
    ids = pd.read_csv(labels, index_col=0).index[:3].tolist()
    result = env.run(["loss", str(pred), "--target", str(labels)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.endswith(
        f"xent: error: {pred}: row 1 (line 2): ids differ from {labels}: {pred} has '0', '1', '2', …, "
        f"{labels} has {', '.join(repr(str(i)) for i in ids)}, … (if they are the same rows in the same "
        "order (a shuffled index beside 0…n−1), pair them in order with --pair position)\n"
    )


def test_pair_position_pairs_in_order_with_a_note(env: CliEnv, split: tuple[Path, Path, float]) -> None:
    pred, labels, expected = split
    result = env.run(["loss", str(pred), "--target", str(labels), "--pair", "position", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["summary"]["log_loss"]["mean"] == pytest.approx(expected, rel=1e-12)
    ids = pd.read_csv(labels, index_col=0).index[:3].tolist()
    assert (
        f"xent: note: {pred} and {labels}: ids differ from row 1 ('0', '1', '2', … beside "
        f"{', '.join(repr(str(i)) for i in ids)}, …); rows paired in order (--pair position)\n"
    ) in result.stderr
    # the labels file gets the inference notes the predictions get, and JSON layout describes both
    assert (
        f"xent: note: {labels}: first column (no header name) taken as the row id (pandas index); "
        "--id to choose another\n"
    ) in result.stderr
    assert doc["layout"]["target"]["labels"] == ["target"]
    assert doc["layout"]["target"]["id"] == "column 1"
    assert doc["layout"]["pred"]["outcomes"] == ["0", "1", "2"]


def test_same_ids_in_another_order_suggest_the_id_join(env: CliEnv, tmp_path: Path) -> None:
    pred, labels = tmp_path / "p.csv", tmp_path / "l.csv"
    pred.write_text("id,a,b\nx,0.7,0.3\ny,0.4,0.6\n")
    labels.write_text("id,label\ny,b\nx,a\n")
    result = env.run(["loss", str(pred), "--target", str(labels)])
    assert result.stderr.endswith(
        "(the same ids in another order: join them with --id id, or pair rows in order with --pair position)\n"
    )
    joined = env.run(["loss", str(pred), "--target", str(labels), "--id", "id", "--value"])
    assert float(joined.stdout) == pytest.approx(-(np.log(0.7) + np.log(0.6)) / 2, rel=1e-15)


def test_compare_targets_pair_position(env: CliEnv, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    p, q = rng.dirichlet(np.ones(4), size=6), rng.dirichlet(np.ones(4), size=6)
    tokens = pd.Series(rng.integers(0, 4, size=6), index=[50, 7, 31, 2, 11, 9], name="token")
    p_path, q_path, t_path = tmp_path / "p.csv", tmp_path / "q.csv", tmp_path / "t.csv"
    pd.DataFrame(p).to_csv(p_path)
    pd.DataFrame(q).to_csv(q_path)
    tokens.to_csv(t_path)
    refused = env.run(["compare", str(p_path), str(q_path), "--target", str(t_path)])
    assert refused.exit_code == 2 and "--pair position" in refused.stderr
    result = env.run(
        ["compare", str(p_path), str(q_path), "--target", str(t_path), "--pair", "position", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = np.arange(6)
    expected = -np.log(p[rows, tokens.to_numpy()]).mean()
    assert json.loads(result.stdout)["panel"]["nll_p"] == pytest.approx(expected, rel=1e-12)
    assert "rows paired in order (--pair position)" in result.stderr


# --- two distribution sources (kl, cross-entropy, js, compare) --------------------------------


@pytest.fixture
def two_models(tmp_path: Path) -> tuple[Path, Path, pd.DataFrame, pd.DataFrame]:
    """Two models' predictions written by pandas with their index: Q's rows in another order."""
    rng = np.random.default_rng(11)
    ids = [f"r{k}" for k in range(6)]
    p = pd.DataFrame(
        rng.dirichlet(np.ones(3), size=6), index=pd.Index(ids, name="id"), columns=["a", "b", "c"]
    )
    q = pd.DataFrame(
        rng.dirichlet(np.ones(3), size=6), index=pd.Index(ids, name="id"), columns=["a", "b", "c"]
    )
    shuffled = q.iloc[[3, 0, 5, 1, 4, 2]]
    p_path, q_path = tmp_path / "p.csv", tmp_path / "q.csv"
    p.to_csv(p_path)
    shuffled.to_csv(q_path)
    return p_path, q_path, p, shuffled


@pytest.mark.parametrize("command", ["kl", "cross-entropy", "js", "compare"])
def test_two_sources_whose_ids_differ_are_an_error(
    env: CliEnv, command: str, two_models: tuple[Path, Path, pd.DataFrame, pd.DataFrame]
) -> None:
    p, q, _, _ = two_models
    result = env.run([command, str(p), str(q)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.endswith(
        f"xent: error: {p}: row 1 (line 2): ids differ from {q}: {p} has 'r0', 'r1', 'r2', …, "
        f"{q} has 'r3', 'r0', 'r5', … (to pair rows by id, join them with --id id; if they are the "
        "same rows in the same order (a shuffled index beside 0…n−1), pair them in order with "
        "--pair position)\n"
    )


def test_two_sources_join_by_id_or_pair_in_order_with_a_note(
    env: CliEnv, two_models: tuple[Path, Path, pd.DataFrame, pd.DataFrame]
) -> None:
    from scipy.stats import entropy

    p_path, q_path, p, q = two_models
    joined = env.run(["kl", str(p_path), str(q_path), "--id", "id", "--json", "--rows", "6"])
    assert joined.exit_code == 0, joined.output
    rows = json.loads(joined.stdout)["rows"]
    by_id = q.loc[p.index]
    assert [r["value"] for r in rows] == pytest.approx(
        [entropy(p.loc[i], by_id.loc[i]) for i in p.index], rel=1e-13
    )
    in_order = env.run(["kl", str(p_path), str(q_path), "--pair", "position", "--value"])
    assert in_order.exit_code == 0, in_order.output
    expected = np.mean([entropy(a, b) for a, b in zip(p.to_numpy(), q.to_numpy(), strict=True)])
    assert float(in_order.stdout) == pytest.approx(expected, rel=1e-13)
    assert (
        f"xent: note: {p_path} and {q_path}: ids differ from row 1 ('r0', 'r1', 'r2', … beside "
        "'r3', 'r0', 'r5', …); rows paired in order (--pair position)\n"
    ) in in_order.stderr


def test_two_sources_with_equal_ids_pair_without_a_note(env: CliEnv, tmp_path: Path) -> None:
    # pandas' default index 0…n−1 on both sides: the usual case, unchanged
    rng = np.random.default_rng(12)
    pd.DataFrame(rng.dirichlet(np.ones(3), size=4)).to_csv(tmp_path / "p.csv")
    pd.DataFrame(rng.dirichlet(np.ones(3), size=4)).to_csv(tmp_path / "q.csv")
    result = env.run(["kl", str(tmp_path / "p.csv"), str(tmp_path / "q.csv"), "--value"])
    assert result.exit_code == 0, result.output
    assert "ids differ" not in result.stderr


def test_class_index_names_out_of_order_beside_no_names_say_how_columns_pair(
    env: CliEnv, tmp_path: Path
) -> None:
    """pandas ``DataFrame(P)[[2, 0, 1]].to_csv()`` beside a ``.npy`` Q: the columns pair by position
    (Q has no names to match), and a note says so, since P's names say otherwise."""
    from scipy.stats import entropy

    rng = np.random.default_rng(3)
    p, q = rng.dirichlet(np.ones(3), 4), rng.dirichlet(np.ones(3), 4)
    pd.DataFrame(p)[[2, 0, 1]].to_csv(tmp_path / "p.csv", index=False)
    np.save(tmp_path / "q.npy", q)
    result = env.run(["kl", str(tmp_path / "p.csv"), str(tmp_path / "q.npy"), "--value"])
    assert result.exit_code == 0
    assert float(result.stdout) == pytest.approx(entropy(p[:, [2, 0, 1]], q, axis=1).mean(), rel=1e-14)
    assert result.stderr.splitlines()[1] == (
        f"xent: note: {tmp_path / 'p.csv'} names its outcomes 2, 0, 1 and {tmp_path / 'q.npy'} names none: "
        "outcome columns paired by position (give both the same names to pair by name)"
    )
    pd.DataFrame(q).to_csv(tmp_path / "q.csv", index=False)  # named 0, 1, 2: paired by name, no note
    by_name = env.run(["kl", str(tmp_path / "p.csv"), str(tmp_path / "q.csv"), "--value"])
    assert float(by_name.stdout) == pytest.approx(entropy(p, q, axis=1).mean(), rel=1e-14)
    assert "paired by position" not in by_name.stderr


def test_an_index_counting_up_in_one_file_and_shuffled_in_the_other_is_not_paired_by_position(
    env: CliEnv, tmp_path: Path
) -> None:
    """pandas to_csv of frames indexed by 'doc': P's index counts up (taken as the id), Q's is
    shuffled (left out as labels). Pairing by position gave 0.788 where the rows' KL is 1.067."""
    from scipy.stats import entropy

    rng = np.random.default_rng(9)
    p, q = rng.dirichlet(np.ones(3), 6), rng.dirichlet(np.ones(3), 6)
    index = pd.Index([10, 11, 12, 13, 14, 15], name="doc")
    pd.DataFrame(p, columns=list("xyz"), index=index).to_csv(tmp_path / "P.csv")
    pd.DataFrame(q, columns=list("xyz"), index=index).iloc[[2, 0, 1, 5, 3, 4]].to_csv(tmp_path / "Q.csv")
    args = ["kl", str(tmp_path / "P.csv"), str(tmp_path / "Q.csv"), "--value"]
    refused = env.run(args)
    assert refused.exit_code == 2
    assert refused.stderr.splitlines()[-1] == (
        f"xent: error: {tmp_path / 'P.csv'} has row ids (column 'doc'), but {tmp_path / 'Q.csv'}'s column "
        "'doc' was left out as labels, so its rows have none to pair by (join the rows by it with "
        "--id doc, or pair them in order with --pair position)"
    )
    joined = env.run([*args, "--id", "doc"])
    assert float(joined.stdout) == pytest.approx(entropy(p, q, axis=1).mean(), rel=1e-14)
