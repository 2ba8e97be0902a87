"""The JSON and JSON Lines reader (xent_cli.io.jsonrows): shapes, blocks, and the messages for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.io.reading import load, write
from xent_cli.errors import InputError


@pytest.mark.parametrize(
    ("document", "outcomes", "ids", "values"),
    [
        ([0.2, 0.8], None, None, [[0.2, 0.8]]),
        ([[0.2, 0.8], [0.5, 0.5]], None, None, [[0.2, 0.8], [0.5, 0.5]]),
        ({"cat": 0.2, "dog": 0.8}, ["cat", "dog"], None, [[0.2, 0.8]]),
        (
            [{"id": "a", "cat": 0.2, "dog": 0.8}, {"dog": 0.5, "cat": 0.5, "id": "b"}],
            ["cat", "dog"],
            ["a", "b"],
            [[0.2, 0.8], [0.5, 0.5]],
        ),
        ([-1e999, 0.0], None, None, [[-np.inf, 0.0]]),
    ],
)
def test_json_shapes(
    tmp_path: Path,
    document: object,
    outcomes: list[str] | None,
    ids: list[str] | None,
    values: list[list[float]],
) -> None:
    text = json.dumps(document).replace("-Infinity", "-Infinity")
    table, array, got_ids, _ = load(write(tmp_path, "a.json", text))
    assert table.outcomes == outcomes
    assert got_ids == ids
    np.testing.assert_array_equal(array, values)


def test_json_accepts_inf_strings(tmp_path: Path) -> None:
    _, values, _, _ = load(write(tmp_path, "a.json", '[["-inf", 0]]'))
    assert values[0, 0] == -np.inf


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[0.2, 0.8,]", "line 1, column 11: invalid JSON"),
        ("[[0.2, 0.8], [0.5]]", "row 2: has 1 values, expected 2"),
        ('[{"a": 0.2, "b": 0.8}, {"a": 0.5}]', "row 2: lacks 'b'"),
        ('[{"a": 0.2, "b": 0.8}, {"a": 0.5, "b": 0.2, "c": 0.3}]', "row 2: has unexpected 'c'"),
        ("[[0.2, true]]", "row 1, column 2: true is not a number"),
        ('"hello"', "expected a JSON list or object of numbers"),
        ("[]", "holds no rows"),
        ("", "is empty"),
        ('[[0.2], {"a": 1}]', "row 2: is an object, but earlier rows are lists"),
    ],
)
def test_json_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load(write(tmp_path, "a.json", text))


def test_json_lines_with_ids_and_blank_lines(tmp_path: Path) -> None:
    text = '{"id": "a", "cat": 0.2, "dog": 0.8}\n\n{"id": "b", "cat": 0.5, "dog": 0.5}\n'
    table, values, ids, lines = load(write(tmp_path, "a.jsonl", text))
    assert table.outcomes == ["cat", "dog"]
    assert ids == ["a", "b"]
    assert lines == [1, 3]
    assert values.shape == (2, 2)


def test_json_lines_error_names_row_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", '[0.2, 0.8]\n\n[0.5, "x"]\n')
    with pytest.raises(InputError, match=r'row 2 \(line 3\), column 2: "x" is not a number'):
        load(path)


def test_json_lines_in_blocks(tmp_path: Path) -> None:
    text = "".join(f"[{i / 100}, {1 - i / 100}]\n" for i in range(100))
    _, values, _, lines = load(write(tmp_path, "a.jsonl", text), block_rows=7)
    assert values.shape == (100, 2)
    assert lines == list(range(1, 101))
