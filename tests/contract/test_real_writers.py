"""Files written by the real tools (pandas, NumPy, pyarrow, R's write.csv), read by the installed ``xent``.

Each case writes a small file with the writer people actually use, runs the installed
command in a subprocess, and compares the number with the one computed directly from the
arrays that were written (SciPy, scikit-learn). A refusal of an ordinary file fails the
test; a wrong number with exit 0 is the worst failure. The notes on stderr are checked
too: exactly the inferences that changed what is computed, and nothing for ordinary files.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.special import rel_entr
from scipy.stats import entropy as scipy_entropy
from sklearn.metrics import log_loss, mutual_info_score

XENT = Path(sys.executable).parent / "xent"
pytestmark = pytest.mark.skipif(not XENT.exists(), reason="the xent command is not installed")

RNG = np.random.default_rng(20240611)
P = RNG.dirichlet(np.ones(3), size=7)
Q = RNG.dirichlet(np.ones(3), size=7)
Y = np.array([0, 2, 1, 1, 0, 2, 2])
NAMES = ["cat", "dog", "bird"]


def xent(*args: str | Path, stdin: bytes | None = None) -> tuple[dict[str, Any], list[str]]:
    """Run the installed command with --json; the document and the note lines. Exit 0 is required."""
    done = subprocess.run(
        [str(XENT), *map(str, args), "--json"],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )
    stderr = done.stderr.decode()
    assert done.returncode == 0, f"exit {done.returncode}: {stderr}"
    notes = [line.removeprefix("xent: note: ") for line in stderr.splitlines()]
    return json.loads(done.stdout), notes


def rows(doc: dict[str, Any], key: str = "value") -> np.ndarray:
    return np.array([row[key] for row in doc["rows"]], dtype=float)


def check_entropy(doc: dict[str, Any], p: np.ndarray, rtol: float = 1e-12) -> None:
    np.testing.assert_allclose(rows(doc), scipy_entropy(p, axis=1), rtol=rtol)
    assert doc["summary"]["count"] == p.shape[0]


# --- pandas to_csv ---------------------------------------------------------------------------


def test_to_csv_with_its_index(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    pd.DataFrame(P, columns=NAMES).to_csv(path)
    doc, notes = xent("entropy", path)
    check_entropy(doc, P)
    assert [r["id"] for r in doc["rows"]] == [str(i) for i in range(7)]
    assert notes == [
        f"{path}: first column (no header name) taken as the row id (pandas index); --id to choose another"
    ]


def test_to_csv_without_index_is_read_with_no_note(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    pd.DataFrame(P, columns=NAMES).to_csv(path, index=False)
    doc, notes = xent("entropy", path)
    check_entropy(doc, P)
    assert notes == []


def test_integer_class_names_are_a_header(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    pd.DataFrame(P, columns=[0, 1, 2]).to_csv(path, index=False)
    doc, notes = xent("entropy", path)
    check_entropy(doc, P)
    assert notes == [
        f"{path}: first line (0,1,2) taken as the header (integer class names above decimal data); "
        "--no-header to read it as data"
    ]


def test_integer_class_names_in_another_order_are_a_header(tmp_path: Path) -> None:
    # pd.DataFrame(p, columns=[1, 0]) and a frame's columns picked as [2, 0, 1]: pandas reads
    # the first line as the header, and so must xent (read as data, it adds a wrong row)
    p2 = RNG.dirichlet(np.ones(2), size=5)
    two, three = tmp_path / "two.csv", tmp_path / "three.csv"
    pd.DataFrame(p2, columns=[1, 0]).to_csv(two, index=False)
    pd.DataFrame(P, columns=[0, 1, 2])[[2, 0, 1]].to_csv(three, index=False)
    doc, notes = xent("entropy", two)
    check_entropy(doc, p2[:, [0, 1]])
    assert doc["summary"]["count"] == len(pd.read_csv(two)) == 5
    assert notes == [
        f"{two}: first line (1,0) taken as the header (integer class names above decimal data); "
        "--no-header to read it as data"
    ]
    doc, _ = xent("entropy", three)
    check_entropy(doc, P[:, [2, 0, 1]])
    q_path = tmp_path / "q.csv"
    pd.DataFrame(Q, columns=[0, 1, 2]).to_csv(q_path, index=False)
    doc, _ = xent("kl", three, q_path)  # outcome columns pair by name
    np.testing.assert_allclose(rows(doc), rel_entr(P, Q).sum(axis=1), rtol=1e-11, atol=1e-15)


def test_integer_class_names_and_the_index(tmp_path: Path) -> None:
    p_path, q_path = tmp_path / "p.csv", tmp_path / "q.csv"
    pd.DataFrame(P, columns=[0, 1, 2]).to_csv(p_path)
    pd.DataFrame(Q, columns=[0, 1, 2]).to_csv(q_path)
    doc, _ = xent("kl", p_path, q_path)
    np.testing.assert_allclose(rows(doc), rel_entr(P, Q).sum(axis=1), rtol=1e-11, atol=1e-15)


def test_binary_model_with_header_0_1(tmp_path: Path) -> None:
    # The header 0,1 is itself a valid distribution: read as data it adds a wrong row.
    p2, q2 = RNG.dirichlet(np.ones(2), size=5), RNG.dirichlet(np.ones(2), size=5)
    p_path, q_path = tmp_path / "p.csv", tmp_path / "q.csv"
    pd.DataFrame(p2, columns=[0, 1]).to_csv(p_path, index=False)
    pd.DataFrame(q2, columns=[0, 1]).to_csv(q_path, index=False)
    doc, _ = xent("kl", p_path, q_path)
    np.testing.assert_allclose(rows(doc), rel_entr(p2, q2).sum(axis=1), rtol=1e-11, atol=1e-15)
    assert doc["summary"]["count"] == 5


def test_named_index_with_text_ids(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    frame = pd.DataFrame(P, columns=NAMES, index=pd.Index([f"img-{i}" for i in range(7)], name="image"))
    frame.to_csv(path)
    doc, notes = xent("entropy", path)
    check_entropy(doc, P)
    assert doc["rows"][0]["id"] == "img-0"
    assert notes == []


def test_named_range_index(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    frame = pd.DataFrame(P, columns=NAMES)
    frame.index.name = "img"
    frame.to_csv(path)
    doc, notes = xent("entropy", path)
    check_entropy(doc, P)
    assert len(notes) == 1 and "column 'img' taken as the row id" in notes[0]


def test_predict_proba_frame_with_y_true_column(tmp_path: Path) -> None:
    path = tmp_path / "pred.csv"
    frame = pd.DataFrame(P, columns=[0, 1, 2])
    frame.insert(0, "y_true", Y)
    frame.to_csv(path, index=False)
    doc, notes = xent("entropy", path)
    check_entropy(doc, P)
    assert notes == [
        f"{path}: column 'y_true' holds labels, not outcomes: left out (--columns to choose the outcomes)"
    ]
    loss, notes = xent("loss", path, "--target", "y_true")
    assert loss["loss"]["log_loss"] == pytest.approx(log_loss(Y, P, labels=[0, 1, 2]), rel=1e-12)
    assert notes == []


def test_predict_proba_frame_with_a_string_label_column(tmp_path: Path) -> None:
    path = tmp_path / "pred.csv"
    frame = pd.DataFrame(P, columns=NAMES)
    frame["label"] = [NAMES[i] for i in Y]
    frame.to_csv(path)
    loss, _ = xent("loss", path, "--target", "label")
    assert loss["loss"]["log_loss"] == pytest.approx(log_loss(Y, P, labels=[0, 1, 2]), rel=1e-12)


def test_crosstab_through_info(tmp_path: Path) -> None:
    y_true = RNG.integers(0, 3, 60)
    y_pred = np.where(RNG.random(60) < 0.6, y_true, RNG.integers(0, 3, 60))
    table = pd.crosstab(pd.Series(y_true, name="y_true"), pd.Series(y_pred, name="y_pred"))
    path = tmp_path / "ct.csv"
    table.to_csv(path)
    doc, notes = xent("info", path, "--as", "weights")
    assert doc["info"]["mi"] == pytest.approx(mutual_info_score(y_true, y_pred), rel=1e-12)
    assert doc["joint"]["x"] == ["0", "1", "2"]
    assert len(notes) == 1 and "column 'y_true' taken as the row labels" in notes[0]


def test_normalized_crosstab_of_text_labels(tmp_path: Path) -> None:
    x = RNG.choice(["sun", "rain"], 40)
    y = np.where(RNG.random(40) < 0.7, x, RNG.choice(["sun", "rain"], 40))
    path = tmp_path / "ct.csv"
    pd.crosstab(pd.Series(x, name="forecast"), pd.Series(y, name="actual"), normalize="all").to_csv(path)
    doc, notes = xent("info", path)
    assert doc["info"]["mi"] == pytest.approx(mutual_info_score(x, y), rel=1e-12)
    assert notes == []


# --- pandas to_json --------------------------------------------------------------------------


@pytest.mark.parametrize("orient", ["split", "records", "index", "columns", "values", "table"])
def test_every_to_json_orient(tmp_path: Path, orient: str) -> None:
    path = tmp_path / "a.json"
    pd.DataFrame(P, columns=NAMES).to_json(path, orient=orient, double_precision=15)
    doc, notes = xent("entropy", path)
    check_entropy(doc, P, rtol=1e-12)
    assert notes == []


def test_to_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    pd.DataFrame(P, columns=NAMES).to_json(path, orient="records", lines=True, double_precision=15)
    doc, _ = xent("entropy", path)
    check_entropy(doc, P)


@pytest.mark.parametrize("orient", ["index", "columns"])
def test_object_of_objects_with_integer_keys_on_both_levels(tmp_path: Path, orient: str) -> None:
    # Both key levels count 0, 1, 2: the row-sum test tells which level names the rows.
    path = tmp_path / "a.json"
    pd.DataFrame(P, columns=[0, 1, 2]).to_json(path, orient=orient, double_precision=15)
    doc, _ = xent("entropy", path)
    check_entropy(doc, P)


# --- Parquet, Feather, Arrow -------------------------------------------------------------------


@pytest.mark.parametrize("index", ["range", "named", "unnamed"])
def test_to_parquet(tmp_path: Path, index: str) -> None:
    frame = pd.DataFrame(P, columns=NAMES)
    if index == "named":
        frame.index = pd.Index([f"r{i}" for i in range(7)], name="row_name")
    elif index == "unnamed":
        frame.index = pd.Index([10, 11, 12, 13, 14, 15, 16])
    path = tmp_path / "a.parquet"
    frame.to_parquet(path)
    doc, notes = xent("entropy", path)
    check_entropy(doc, P)
    assert notes == []
    if index == "named":
        assert doc["rows"][0]["id"] == "r0"
    if index == "unnamed":
        assert doc["rows"][0]["id"] == "10"


def test_to_feather_against_csv(tmp_path: Path) -> None:
    p_path, q_path = tmp_path / "p.feather", tmp_path / "q.csv"
    pd.DataFrame(P, columns=NAMES).to_feather(p_path)
    pd.DataFrame(Q, columns=NAMES).to_csv(q_path, index=False)
    doc, _ = xent("kl", p_path, q_path)
    np.testing.assert_allclose(rows(doc), rel_entr(P, Q).sum(axis=1), rtol=1e-11, atol=1e-15)


def test_parquet_and_arrow_stream_on_stdin(tmp_path: Path) -> None:
    import pyarrow as pa

    buffer = io.BytesIO()
    pd.DataFrame(P, columns=NAMES).to_parquet(buffer)
    doc, _ = xent("entropy", "-", stdin=buffer.getvalue())
    check_entropy(doc, P)
    table = pa.Table.from_pandas(pd.DataFrame(Q, columns=NAMES))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    doc, _ = xent("entropy", stdin=sink.getvalue().to_pybytes())
    check_entropy(doc, Q)


# --- NumPy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["default", "header", "plain-header"])
def test_np_savetxt(tmp_path: Path, style: str) -> None:
    path = tmp_path / "p.txt"
    if style == "default":
        np.savetxt(path, P)
    elif style == "header":
        np.savetxt(path, P, delimiter=",", header=",".join(NAMES))
    else:
        np.savetxt(path, P, delimiter=",", header=",".join(NAMES), comments="")
    doc, notes = xent("entropy", path)
    check_entropy(doc, P)
    assert notes == []
    if style != "default":
        assert doc["sources"]["p"] == str(path)


@pytest.mark.parametrize("delimiter", [" ", ","])
def test_np_savetxt_footer_is_one_line_naming_the_comment(tmp_path: Path, delimiter: str) -> None:
    # np.loadtxt skips comment lines anywhere; pandas (and xent) only before the data
    path = tmp_path / "p.txt"
    np.savetxt(path, P, delimiter=delimiter, footer="end")
    done = subprocess.run([str(XENT), "entropy", str(path)], capture_output=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (2, b"")
    line = len(P) + 1
    assert done.stderr.decode() == (
        f"xent: error: {path}: row {line} (line {line}), column 1: "
        + ("'#'" if delimiter == " " else "'# end'")
        + " is not a number (a comment line? '#' lines are skipped only before the data: remove it "
        "(a np.savetxt footer))\n"
    )


def test_np_save_2d_and_integer_labels(tmp_path: Path) -> None:
    p_path, y_path = tmp_path / "p.npy", tmp_path / "y.npy"
    np.save(p_path, P)
    np.save(y_path, Y)
    doc, _ = xent("loss", p_path, "--target", y_path)
    assert doc["loss"]["log_loss"] == pytest.approx(log_loss(Y, P, labels=[0, 1, 2]), rel=1e-12)


def test_np_save_1d_is_binary_for_loss(tmp_path: Path) -> None:
    p1 = RNG.random(9)
    y = RNG.integers(0, 2, 9)
    p_path, y_path = tmp_path / "p.npy", tmp_path / "y.npy"
    np.save(p_path, p1)
    np.save(y_path, y)
    doc, notes = xent("loss", p_path, "--target", y_path)
    assert doc["loss"]["binary"] is True
    assert doc["loss"]["log_loss"] == pytest.approx(log_loss(y, p1), rel=1e-12)
    assert notes == [f"{p_path}: 1-D array read as 9 binary predictions P(y=1), one per element"]
    entropy, _ = xent("entropy", tmp_path / "p.npy", "--normalize")
    assert entropy["summary"]["count"] == 1  # for entropy a 1-D array stays one distribution


# --- labels files ------------------------------------------------------------------------------------


def test_series_to_csv_labels(tmp_path: Path) -> None:
    pred, labels = tmp_path / "pred.csv", tmp_path / "y.csv"
    pd.DataFrame(P, columns=NAMES).to_csv(pred)
    pd.Series(Y).to_csv(labels)  # index and a header "0"
    doc, _ = xent("loss", pred, "--target", labels)
    assert doc["loss"]["log_loss"] == pytest.approx(log_loss(Y, P, labels=[0, 1, 2]), rel=1e-12)


def test_series_to_json_labels(tmp_path: Path) -> None:
    pred, labels = tmp_path / "pred.parquet", tmp_path / "y.json"
    pd.DataFrame(P, columns=NAMES).to_parquet(pred)
    pd.Series([NAMES[i] for i in Y]).to_json(labels)
    doc, _ = xent("loss", pred, "--target", labels)
    assert doc["loss"]["log_loss"] == pytest.approx(log_loss(Y, P, labels=[0, 1, 2]), rel=1e-12)


# --- R -----------------------------------------------------------------------------------------------

# What write.csv(data.frame(cat=..., dog=..., bird=...), "p.csv") writes: a quoted empty first
# header cell, quoted row names, numbers with 15 significant digits, 0 and 1 without ".0".
R_PREDICTIONS = """\
"","cat","dog","bird"
"1",0.2,0.7,0.1
"2",0,1,0
"3",0.333333333333333,0.333333333333333,0.333333333333334
"4",0.05,0.05,0.9
"""
R_LABELS = """\
"","x"
"1",1
"2",1
"3",2
"4",2
"""


def test_r_write_csv(tmp_path: Path) -> None:
    pred, labels = tmp_path / "p.csv", tmp_path / "y.csv"
    pred.write_text(R_PREDICTIONS)
    labels.write_text(R_LABELS)
    p = np.array(
        [[0.2, 0.7, 0.1], [0, 1, 0], [0.333333333333333] * 2 + [0.333333333333334], [0.05, 0.05, 0.9]]
    )
    doc, notes = xent("entropy", pred)
    check_entropy(doc, p)
    assert [r["id"] for r in doc["rows"]] == ["1", "2", "3", "4"]
    # R's row names are written quoted, but they are the numbers 1..4: an unnamed index.
    assert notes == [
        f"{pred}: first column (no header name) taken as the row id (pandas index); --id to choose another"
    ]
    loss, _ = xent("loss", pred, "--target", labels)
    assert loss["loss"]["log_loss"] == pytest.approx(log_loss([1, 1, 2, 2], p, labels=[0, 1, 2]), rel=1e-12)
