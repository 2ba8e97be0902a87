"""Readers: every format and layout, and the messages for bad files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from xent_cli.errors import InputError, UsageError
from xent_cli.io.readers import ReadOptions, Table, read, sniff_delimiter
from xent_cli.io.sources import resolve


def load(path: Path, **options: object) -> tuple[Table, np.ndarray, list[str] | None, list[int] | None]:
    table = read(resolve(str(path), stdin_is_terminal=True), ReadOptions(**options))  # type: ignore[arg-type]
    blocks = list(table.blocks())
    values = np.concatenate([b.values for b in blocks])
    ids = None if blocks[0].ids is None else [i for b in blocks for i in (b.ids or [])]
    if blocks[0].lines is not None:
        lines = [int(x) for b in blocks for x in b.lines]
    elif table.line_of is not None:  # text read by pandas: lines found on demand, for messages
        found = [table.line_of(row) for row in range(len(values))]
        lines = None if None in found else [int(x) for x in found if x is not None]
    else:
        lines = None
    return table, values, ids, lines


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_csv_with_header_and_ids(tmp_path: Path) -> None:
    table, values, ids, lines = load(write(tmp_path, "a.csv", "id,cat,dog\nr1,0.2,0.8\nr2,0.5,0.5\n"))
    assert table.outcomes == ["cat", "dog"]
    assert table.id_name == "id"
    assert ids == ["r1", "r2"]
    assert lines == [2, 3]
    np.testing.assert_array_equal(values, [[0.2, 0.8], [0.5, 0.5]])


def test_csv_without_header(tmp_path: Path) -> None:
    table, values, ids, _ = load(write(tmp_path, "a.csv", "0.2,0.8\n0.5,0.5\n"))
    assert table.outcomes is None
    assert ids is None
    assert values.shape == (2, 2)


def test_no_header_forces_the_first_row_to_be_data(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "r1,0.2,0.8\nr2,0.5,0.5\n")
    _, values, ids, _ = load(path, no_header=True)
    assert ids == ["r1", "r2"]
    assert values.shape == (2, 2)


def test_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", b"\xef\xbb\xbfid,cat,dog\r\nr1,0.2,0.8\r\n\r\nr2,0.5,0.5\r\n\r\n")
    table, values, ids, lines = load(path)
    assert table.outcomes == ["cat", "dog"]
    assert ids == ["r1", "r2"]
    assert lines == [2, 4]  # the blank line is skipped but still counted
    np.testing.assert_array_equal(values, [[0.2, 0.8], [0.5, 0.5]])


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiters_are_sniffed(tmp_path: Path, delimiter: str) -> None:
    text = f"a{delimiter}b\n0.25{delimiter}0.75\n"
    table, values, _, _ = load(write(tmp_path, "a.txt", text))
    assert table.outcomes == ["a", "b"]
    np.testing.assert_array_equal(values, [[0.25, 0.75]])


def test_sniff_prefers_consistent_field_counts() -> None:
    assert sniff_delimiter(["a;b,c", "1;2,3"]) in (";", ",")
    assert sniff_delimiter(["0,25;0,75", "0,5;0,5"], decimal=",") == ";"


def test_decimal_comma(tmp_path: Path) -> None:
    _, values, _, _ = load(write(tmp_path, "a.csv", "a;b\n0,25;0,75\n"), decimal=",")
    np.testing.assert_array_equal(values, [[0.25, 0.75]])


def test_columns_and_id_options(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "name,x,cat,dog,extra\nr1,9,0.2,0.8,7\n")
    table, values, ids, _ = load(path, columns=("dog", "cat"), id_column="name")
    assert table.outcomes == ["dog", "cat"]
    assert ids == ["r1"]
    np.testing.assert_array_equal(values, [[0.8, 0.2]])


def test_columns_by_position_without_header(tmp_path: Path) -> None:
    _, values, _, _ = load(write(tmp_path, "a.csv", "9,0.2,0.8\n"), no_header=True, columns=("2", "3"))
    np.testing.assert_array_equal(values, [[0.2, 0.8]])


def test_unknown_column_lists_the_columns(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--columns 'cow' names no column") as info:
        load(write(tmp_path, "a.csv", "cat,dog\n0.2,0.8\n"), columns=("cow",))
    assert "cat, dog" in (info.value.hint or "")


def test_outcome_and_id_cannot_be_the_same_column(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="both an outcome and the id"):
        load(write(tmp_path, "a.csv", "cat,dog\n0.2,0.8\n"), columns=("cat", "dog"), id_column="cat")


def test_extra_text_columns_are_ignored_with_a_note(tmp_path: Path) -> None:
    table, _, ids, _ = load(write(tmp_path, "a.csv", "id,comment,cat,dog\nr1,fine,0.2,0.8\n"))
    assert ids == ["r1"]
    assert table.notes == [f"{tmp_path / 'a.csv'}: ignoring non-numeric column(s) comment"]


def test_a_label_column_is_left_out_with_a_note(tmp_path: Path) -> None:
    table, values, ids, _ = load(write(tmp_path, "a.csv", "id,label,cat,dog\nr1,cat,0.2,0.8\n"))
    assert ids == ["r1"]
    np.testing.assert_array_equal(values, [[0.2, 0.8]])
    assert table.notes == [
        f"{tmp_path / 'a.csv'}: column 'label' holds labels, not outcomes: left out "
        "(--columns to choose the outcomes)"
    ]
    assert table.layout["labels"] == ["label"]


def test_bad_cell_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", "id,cat,dog\nr1,0.2,0.8\nr2,abc,0.5\n")
    with pytest.raises(InputError) as info:
        load(path)
    assert str(info.value) == (
        f"{path}: row 2 (line 3), column 2 ('cat'): 'abc' is not a number "
        "(outcome columns must hold only numbers)"
    )


def test_stray_header_in_the_middle(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", "cat,dog\n0.2,0.8\ncat,dog\n0.5,0.5\n")
    with pytest.raises(InputError, match=r"row 2 \(line 3\), column 1 \('cat'\): 'cat' is not a number"):
        load(path)


def test_missing_value_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", "cat,dog\n0.2,0.8\n0.5,\n")
    with pytest.raises(InputError, match=r"row 2 \(line 3\), column 2 \('dog'\): value is missing or NaN"):
        load(path)


def test_ragged_row_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", "cat,dog\n0.2,0.8\n0.5,0.5,0.1\n")
    with pytest.raises(InputError, match=r"line 3: has 3 fields, expected 2"):
        load(path)


def test_decimal_comma_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", 'a,b\n"0,2","0,8"\n')
    with pytest.raises(InputError) as info:
        load(path)
    assert "--decimal ," in (info.value.hint or "")


def test_latin1_is_rejected_with_a_conversion_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", "id,p\ncaf\xe9,1\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"is not UTF-8 text \(byte 0xe9\)") as info:
        load(path)
    assert "iconv" in (info.value.hint or "")


@pytest.mark.parametrize("content", ["", "\n\n", "a,b\n"])
def test_empty_inputs(tmp_path: Path, content: str) -> None:
    with pytest.raises(InputError, match="empty|no data rows"):
        load(write(tmp_path, "e.csv", content))


def test_text_only_table_has_no_numeric_columns(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="has no numeric columns"):
        load(write(tmp_path, "e.csv", "a,b\nx,y\n"))


def test_blocks_span_the_file(tmp_path: Path) -> None:
    rows = "\n".join(f"r{i},{i / 1000},{1 - i / 1000}" for i in range(1000))
    _, values, ids, lines = load(write(tmp_path, "big.csv", "id,a,b\n" + rows + "\n"), block_rows=64)
    assert values.shape == (1000, 2)
    assert ids is not None and ids[-1] == "r999"
    assert lines is not None and lines[-1] == 1001


# --- JSON -------------------------------------------------------------------------


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


# --- NumPy and compression ---------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 3, 4)])
def test_npy_shapes(tmp_path: Path, shape: tuple[int, ...]) -> None:
    array = np.full(shape, 0.25, dtype=np.float32)
    path = tmp_path / "a.npy"
    np.save(path, array)
    _, values, _, _ = load(path)
    assert values.shape == (int(np.prod(shape[:-1])), 4)
    assert values.dtype == np.float32  # kept compact until computed


def test_npy_in_blocks(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.full((1000, 4), 0.25))
    table = read(resolve(str(path), stdin_is_terminal=True), ReadOptions(block_rows=300))
    assert [len(b) for b in table.blocks()] == [300, 300, 300, 100]


def test_gzipped_npy(tmp_path: Path) -> None:
    raw = tmp_path / "a.npy"
    np.save(raw, np.full((2, 2), 0.5))
    path = tmp_path / "a.npy.gz"
    path.write_bytes(gzip.compress(raw.read_bytes()))
    _, values, _, _ = load(path)
    assert values.shape == (2, 2)


def test_npy_of_strings_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.array(["a", "b"]))
    with pytest.raises(InputError, match="not numbers"):
        load(path)


def test_truncated_npy_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.full((10, 10), 0.1))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(InputError, match="is not a valid .npy file"):
        load(path)


def test_gzipped_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv.gz", gzip.compress(b"a,b\n0.5,0.5\n"))
    table, values, _, _ = load(path)
    assert table.outcomes == ["a", "b"]
    np.testing.assert_array_equal(values, [[0.5, 0.5]])
