"""True labels and sample columns (xent_cli.io.labels), on files written by pandas and NumPy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xent_cli.errors import InputError
from xent_cli.io.labels import read_labels, read_sample_columns
from xent_cli.io.sources import resolve
from xent_cli.io.table import ReadOptions


def _labels(spec: str, **options: object) -> tuple[list[str], list[str] | None]:
    found = read_labels(resolve(spec, stdin_is_terminal=True), ReadOptions(**options))  # type: ignore[arg-type]
    return found.values, found.ids


def test_an_inline_list() -> None:
    assert _labels("2, 0,1") == (["2", "0", "1"], None)


def test_a_pandas_series_to_csv_keeps_its_index_as_ids(tmp_path: Path) -> None:
    path = tmp_path / "y.csv"
    pd.Series([2, 0, 1], index=[10, 11, 12]).to_csv(path)  # header ",0"
    values, ids = _labels(str(path))
    assert values == ["2", "0", "1"]
    assert ids == ["10", "11", "12"]


def test_the_column_named_like_labels_wins_over_the_last(tmp_path: Path) -> None:
    path = tmp_path / "y.csv"
    pd.DataFrame({"id": ["a", "b"], "label": ["cat", "dog"], "note": ["x", "y"]}).to_csv(path, index=False)
    values, ids = _labels(str(path))
    assert values == ["cat", "dog"]
    assert ids == ["a", "b"]


def test_an_integer_npy_and_a_json_list(tmp_path: Path) -> None:
    np.save(tmp_path / "y.npy", np.array([3, 1, 4], dtype=np.int64))
    (tmp_path / "y.json").write_text(json.dumps([3, 1, 4]))
    assert _labels(str(tmp_path / "y.npy"))[0] == ["3", "1", "4"]
    assert _labels(str(tmp_path / "y.json"))[0] == ["3", "1", "4"]


def test_a_series_to_json_keeps_its_index(tmp_path: Path) -> None:
    path = tmp_path / "y.json"
    pd.Series(["b", "a"], index=["r1", "r2"]).to_json(path)
    values, ids = _labels(str(path))
    assert values == ["b", "a"]
    assert ids == ["r1", "r2"]


def test_duplicate_ids_cannot_be_joined_on(tmp_path: Path) -> None:
    path = tmp_path / "y.csv"
    pd.DataFrame({"id": ["a", "b", "a"], "y": [1, 0, 1]}).to_csv(path, index=False)
    with pytest.raises(
        InputError, match=r"row 3 \(line 4\): id 'a' appears more than once \(first at row 1\)"
    ):
        _labels(str(path), id_column="id")


def test_a_file_of_no_labels_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "y.json"
    path.write_text("[]")
    with pytest.raises(InputError, match="holds no"):
        _labels(str(path))


def test_sample_columns_come_in_blocks_of_columns(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    frame = pd.DataFrame({"x": ["a", "b", "a", "c"], "y": [1, 2, 2, 1], "z": [0.1, 0.2, 0.3, 0.4]})
    frame.to_csv(path, index=False)
    source = resolve(str(path), stdin_is_terminal=True)
    blocks = list(read_sample_columns(source, ReadOptions(block_rows=3), ["x", "y"]))
    x = [value for block in blocks for value in block[0]]
    y = [value for block in blocks for value in block[1]]
    assert (x, y) == (["a", "b", "a", "c"], ["1", "2", "2", "1"])


def test_a_named_column_missing_from_short_rows_is_one_error(tmp_path: Path) -> None:
    # The header names three columns, the rows hold two: an InputError, never pandas' ValueError.
    path = tmp_path / "short.csv"
    path.write_text("a,b,w\n0.5,0.5\n0.2,0.8\n")
    source = resolve(str(path), stdin_is_terminal=True)
    with pytest.raises(InputError, match=r"short.csv: has no column 'w'"):
        list(read_sample_columns(source, ReadOptions(), ["w"], ["--weights"]))
