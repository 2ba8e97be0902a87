"""The delimited-text reader (xent_cli.io.delimited): CSV and TSV layouts, sniffing, and the messages for bad files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from tests.io.reading import load, write
from xent_cli.errors import InputError, UsageError
from xent_cli.io.delimited import sniff_delimiter


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


def test_gzipped_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv.gz", gzip.compress(b"a,b\n0.5,0.5\n"))
    table, values, _, _ = load(path)
    assert table.outcomes == ["a", "b"]
    np.testing.assert_array_equal(values, [[0.5, 0.5]])
