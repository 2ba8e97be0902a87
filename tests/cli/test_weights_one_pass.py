"""--weights naming a column of the predictions: read with the rows, the same from every reader.

Delimited text and Parquet/Arrow carry the column in each block (one pass over the file);
JSON reads it in a second pass. Either way the weights, and so the numbers, are the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.special import rel_entr
from scipy.stats import entropy as scipy_entropy
from sklearn.metrics import log_loss

from tests.conftest import CliEnv
from xent_cli.io import csvparse, delimited, labels

COLUMNS = ["c0", "c1", "c2", "c3"]
ROWS = 3000


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(8)
    p = rng.dirichlet(np.ones(len(COLUMNS)), size=ROWS)
    q = rng.dirichlet(np.ones(len(COLUMNS)), size=ROWS)
    frame = pd.DataFrame(p, columns=COLUMNS)
    frame["label"] = rng.choice(COLUMNS, ROWS)
    frame["w"] = rng.integers(0, 3, ROWS) * rng.uniform(0.5, 2, ROWS)
    return frame, pd.DataFrame(q, columns=COLUMNS)


WRITERS = {
    "csv": lambda f, path: f.to_csv(path),
    "tsv": lambda f, path: f.to_csv(path, sep="\t"),
    "parquet": lambda f, path: f.to_parquet(path),
    "feather": lambda f, path: f.to_feather(path),
    "jsonl": lambda f, path: f.to_json(path, orient="records", lines=True),
}
# The readers that carry the column in their blocks (no second pass).
ONE_PASS = {"csv", "tsv", "parquet", "feather"}


def _written(frame: pd.DataFrame, fmt: str, path: Path) -> pd.DataFrame:
    """The frame as the file holds it (JSON keeps 10 significant digits by default)."""
    WRITERS[fmt](frame, path)
    if fmt == "jsonl":
        return pd.read_json(path, lines=True)
    return frame


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_every_reader_gives_the_same_weighted_results(
    env: CliEnv,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    frames: tuple[pd.DataFrame, pd.DataFrame],
    fmt: str,
) -> None:
    frame, q_frame = frames
    path = tmp_path / f"p.{fmt}"
    held = _written(frame, fmt, path)
    q_path = tmp_path / "q.csv"
    q_frame.to_csv(q_path)
    p, w = held[COLUMNS].to_numpy(), held["w"].to_numpy()
    second_passes: list[Any] = []
    real = labels.read_sample_columns

    def counted(*args: Any, **kwargs: Any) -> Any:
        second_passes.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(labels, "read_sample_columns", counted)
    # Many small pieces, so that the rows come in many frames and blocks.
    monkeypatch.setattr(csvparse, "MIN_PIECE_BYTES", 1)
    monkeypatch.setattr(csvparse, "PIECE_BYTES", 8192)

    doc = env.json(["entropy", str(path), "--columns", ",".join(COLUMNS), "--weights", "w"])
    assert doc["summary"]["mean"] == pytest.approx(np.average(scipy_entropy(p, axis=1), weights=w), rel=1e-12)
    assert doc["weights"]["total"] == pytest.approx(w.sum(), rel=1e-14)
    assert doc["weights"]["zero_rows"] == int((w == 0).sum())

    doc = env.json(["loss", str(path), "--target", "label", "--weights", "w", "--rows", "0"])
    expected = log_loss(held["label"], p / p.sum(axis=1, keepdims=True), sample_weight=w, labels=COLUMNS)
    assert doc["loss"]["weighted"] is True
    assert doc["loss"]["log_loss"] == pytest.approx(expected, rel=1e-12)

    doc = env.json(["kl", str(path), str(q_path), "--columns", ",".join(COLUMNS), "--weights", "w"])
    kl = rel_entr(p / p.sum(axis=1, keepdims=True), q_frame.to_numpy()).sum(axis=1)
    assert doc["summary"]["mean"] == pytest.approx(np.average(kl, weights=w), rel=1e-12)

    assert (len(second_passes) == 0) == (fmt in ONE_PASS)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (-1, "weight '-1' is not a finite number >= 0"),
        (-0.5, "weight '-0.5' is not a finite number >= 0"),
        (np.inf, "weight 'inf' is not a finite number >= 0"),
        (None, "weight is missing or NaN"),
        ("x", "weight 'x' is not a finite number >= 0"),
    ],
)
def test_a_bad_weight_in_a_carried_column_names_file_column_and_row(
    env: CliEnv, tmp_path: Path, fmt: str, cell: object, message: str
) -> None:
    frame = pd.DataFrame({"a": [0.9, 0.2, 0.6], "b": [0.1, 0.8, 0.4], "w": [1.0, 2.0, 3.0]}).astype(object)
    frame.loc[2, "w"] = cell
    if fmt == "parquet" and isinstance(cell, str):
        frame["w"] = frame["w"].astype(str)
    path = tmp_path / f"p.{fmt}"
    WRITERS[fmt](frame, path)
    for command in (["entropy", str(path)], ["loss", str(path), "--target", "0,1,0"]):
        result = env.run([*command, "--weights", "w"])
        assert result.exit_code == 2, result.output
        first = result.stderr.splitlines()[0]
        assert first.startswith(f"xent: error: {path} column 'w': row 3: {message} (--weights: ")
        assert result.stderr.count("\n") == 1


def test_weights_of_wide_rows_are_carried(env: CliEnv, tmp_path: Path) -> None:
    """Rows wider than delimited.WIDE_COLUMNS are parsed line by line: their weights too."""
    width = delimited.WIDE_COLUMNS + 4
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(width), size=5)
    w = np.array([0.5, 0.0, 2.0, 1.0, 3.0])
    frame = pd.DataFrame(p, columns=[f"o{k}" for k in range(width)])
    frame["w"] = w
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    doc = env.json(["entropy", str(path), "--weights", "w"])
    assert doc["summary"]["mean"] == pytest.approx(np.average(scipy_entropy(p, axis=1), weights=w), rel=1e-12)
    frame.loc[3, "w"] = -2.0
    frame.to_csv(path, index=False)
    result = env.run(["entropy", str(path), "--weights", "w"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"xent: error: {path} column 'w': row 4: weight '-2.0' is not a finite")


def test_a_weights_column_of_stdin_is_read_from_a_copy(env: CliEnv) -> None:
    # PRED is opened twice for a weights column: stdin is copied to a temporary file first.
    result = env.run(
        ["entropy", "-", "--weights", "w", "--value", "-q"], input="a,b,w\n0.5,0.5,1\n0.9,0.1,3\n"
    )
    assert (result.exit_code, result.stderr) == (0, "")
    expected = np.average([scipy_entropy([0.5, 0.5]), scipy_entropy([0.9, 0.1])], weights=[1, 3])
    assert float(result.stdout) == pytest.approx(expected, rel=1e-14)
