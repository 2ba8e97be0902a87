"""Differential fuzz: on every generated file, xent reads exactly the rows pandas reads, or errors.

The files put every construct of CSV's grammar that has lost rows before (blank and
whitespace-only lines, CRLF and lone CR line ends, quoted fields, a quote inside an
unquoted field, quoted line breaks, a byte-order mark, NUL bytes, comment-like lines,
a repeated header, very long fields) anywhere in the file, and the blocks are made a
few rows long so that each construct also falls at and around every block boundary.
Each file is read by xent's reader and by ``pandas.read_csv`` with its defaults
(``header=None`` where xent found no header): either xent's rows, ids and values are
pandas' (the values bit for bit), or xent refuses the file with one ``InputError``.
Never a different row count without an error.

A longer run: ``XENT_FUZZ_EXAMPLES=5000 XENT_FUZZ_RANDOM=1 python -m pytest tests/io/test_csv_differential.py``
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xent_cli.errors import InputError, UsageError
from xent_cli.io import csvparse
from xent_cli.io.delimited import describe
from xent_cli.io.readers import ReadOptions, read
from xent_cli.io.sources import open_source, resolve

EXAMPLES = int(os.environ.get("XENT_FUZZ_EXAMPLES", "400"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("XENT_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

LINE_ENDS = ["\n", "\r\n", "\r"]
# Inserted between lines: each is a line of its own (its line end comes after it).
INSERTS = ["", "   ", "\t", "#comment", "# 0.5,0.5", "HEADER", "\x00", "\ufeff", ",", '""']
IDS = ["r1", "r2", 'r5"x', '"a,b"', '"two\nlines"', '"cr\rline"', "x" * 3000, "", "NA", "7"]


def _number(draw: st.DrawFn) -> str:
    value = draw(st.floats(0, 1, allow_nan=False))
    style = draw(st.sampled_from(["repr", "g", "quoted", "int"]))
    if style == "g":
        return f"{value:.3g}"
    if style == "quoted":
        return f'"{value!r}"'
    if style == "int":
        return str(round(value))
    return repr(value)


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, int]:
    """A CSV file as bytes, and the rows per block to read it with."""
    return draw(delimited_files(",")), draw(st.integers(1, 5))


@st.composite
def delimited_files(draw: st.DrawFn, delimiter: str) -> bytes:
    """A file of rows separated by ``delimiter``, with CSV's hazards anywhere in it."""
    columns = draw(st.integers(1, 3))
    with_id = draw(st.booleans())
    header_cells = (["id"] if with_id else []) + [f"c{i}" for i in range(columns)]
    lines: list[str] = []
    header = draw(st.booleans())
    if header:
        lines.append(delimiter.join(header_cells))
    for _ in range(draw(st.integers(1, 14))):
        cells = [_number(draw) for _ in range(columns)]
        if with_id:
            cells.insert(0, draw(st.sampled_from(IDS)))
        lines.append(delimiter.join(cells))
        if draw(st.integers(0, 3)) == 0:
            insert = draw(st.sampled_from(INSERTS))
            lines.append(delimiter.join(header_cells) if insert == "HEADER" else insert)
    text = "".join(line + draw(st.sampled_from(LINE_ENDS)) for line in lines)
    if draw(st.booleans()):
        text = text.rstrip("\r\n")  # no line end after the last row
    if draw(st.integers(0, 4)) == 0:
        text = draw(st.sampled_from(["\n", "\r\n\r\n", "\r"])) + text  # blank lines before it all
    data = text.encode()
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data


@pytest.fixture(autouse=True)
def _pieces_of_a_few_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pieces as small as the blocks (a few rows), so that every construct falls at a piece's end.
    monkeypatch.setattr(csvparse, "MIN_PIECE_BYTES", 1)


def xent_rows(
    path: Path, block_rows: int
) -> tuple[np.ndarray, list[str] | None, bool, list[int], int | None]:
    """Values, ids, whether a header was read, outcome positions (0-based) and id position."""
    source = resolve(str(path), stdin_is_terminal=True)
    options = ReadOptions(block_rows=block_rows)
    opened = open_source(source)
    try:
        shape, _ = describe(opened, options)
    finally:
        opened.close()
    table = read(source, options)
    try:
        blocks = list(table.blocks())
    finally:
        table.close()
    values = np.concatenate([b.values for b in blocks])
    ids = None if blocks[0].ids is None else [i for b in blocks for i in (b.ids or [])]
    return values, ids, shape.layout.header, shape.layout.outcomes, shape.layout.id


@FUZZ
@given(case=csv_files())
def test_xent_reads_the_rows_pandas_reads_or_errors(case: tuple[bytes, int], tmp_path: Path) -> None:
    data, block_rows = case
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    try:
        values, ids, header, outcomes, id_column = xent_rows(path, block_rows)
    except (InputError, UsageError):
        return  # refused in one line: allowed
    # pandas' defaults; the id column read as text, as xent reads it.
    text = {id_column: str} if id_column is not None else None
    frame = pd.read_csv(io.BytesIO(data), header=0 if header else None, dtype=text)
    assert len(values) == len(frame), "xent read a different number of rows than pandas, without an error"
    expected = frame.iloc[:, outcomes].to_numpy(dtype=np.float64)
    np.testing.assert_array_equal(values, expected, strict=True)
    assert values.tobytes() == expected.tobytes()  # bit for bit (-0.0 included)
    if id_column is not None:
        assert ids == frame.iloc[:, id_column].fillna("").astype(str).tolist()


@settings(FUZZ, max_examples=max(1, EXAMPLES // 2))
@given(data=delimited_files("\t"), block_rows=st.integers(1, 5))
def test_xent_reads_the_tsv_rows_pandas_reads_or_errors(data: bytes, block_rows: int, tmp_path: Path) -> None:
    path = tmp_path / "f.tsv"
    path.write_bytes(data)
    try:
        values, ids, header, outcomes, id_column = xent_rows(path, block_rows)
    except (InputError, UsageError):
        return
    text = {id_column: str} if id_column is not None else None
    frame = pd.read_csv(io.BytesIO(data), sep="\t", header=0 if header else None, dtype=text)
    assert len(values) == len(frame), "xent read a different number of rows than pandas, without an error"
    expected = frame.iloc[:, outcomes].to_numpy(dtype=np.float64)
    assert values.tobytes() == expected.tobytes()
    if id_column is not None:
        assert ids == frame.iloc[:, id_column].fillna("").astype(str).tolist()


def _lines(count: int, end: str = "\n") -> str:
    return "".join(f"{i % 7 / 10!r},{1 - i % 7 / 10!r}{end}" for i in range(count))


@pytest.mark.parametrize("end", LINE_ENDS)
@pytest.mark.parametrize("prefix", ["a,b\n\n", "a,b\r\n\r\n", "\n\n\na,b\n", "\ufeffa,b\n\n  \n"])
@pytest.mark.parametrize("block_rows", [1, 3, 997])
def test_a_blank_line_after_the_header_loses_no_row(
    tmp_path: Path, prefix: str, end: str, block_rows: int
) -> None:
    # The file that lost half its rows: a blank line right after the header.
    path = tmp_path / "f.csv"
    path.write_bytes((prefix + _lines(600, end)).encode())
    values, _, header, _, _ = xent_rows(path, block_rows)
    frame = pd.read_csv(path)
    assert header
    assert len(values) == len(frame) == 600
    assert values.tobytes() == frame.to_numpy(dtype=np.float64).tobytes()


@pytest.mark.parametrize("block_rows", [1, 2, 5])
def test_a_blank_line_after_every_row_loses_no_row(tmp_path: Path, block_rows: int) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(("a,b\r\n" + _lines(500, "\r\n\r\n")).encode())
    values, *_ = xent_rows(path, block_rows)
    assert len(values) == len(pd.read_csv(path)) == 500


def test_a_quote_inside_an_unquoted_id_is_literal_as_in_pandas(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text('id,a,b\nr178037 5"x,0.5,0.5\nr2,0.25,0.75\n')
    values, ids, *_ = xent_rows(path, 1)
    assert ids == ['r178037 5"x', "r2"]
    assert values.tolist() == [[0.5, 0.5], [0.25, 0.75]]


def test_a_million_blank_lines_before_the_header_keep_memory_bounded(tmp_path: Path) -> None:
    # The blank prefix is dropped as it is read, never held: only the data is sampled.
    path = tmp_path / "f.csv"
    with path.open("wb") as file:
        file.write(b"\n" * (8 << 20))
        file.write(("a,b\n" + _lines(10)).encode())
    source = resolve(str(path), stdin_is_terminal=True)
    opened = open_source(source)
    try:
        shape, _ = describe(opened, ReadOptions())
        assert len(opened.head) < 1 << 20
        assert shape.first_data_line == (8 << 20) + 2
    finally:
        opened.close()
    values, *_ = xent_rows(path, 4)
    assert len(values) == 10


def _read_all(path: Path, block_rows: int) -> tuple[np.ndarray, list[str] | None]:
    values, ids, *_ = xent_rows(path, block_rows)
    return values, ids


@pytest.mark.parametrize("block_rows", [1, 3, 64, 4096])
def test_a_quoted_line_break_in_a_later_piece_reads_as_pandas_reads_it(
    tmp_path: Path, block_rows: int
) -> None:
    # Pieces end at line ends; the one whose end falls inside the quoted field is read again,
    # with everything after it, as one stream.
    rows = [f"r{i},{i % 7 / 10!r},{1 - i % 7 / 10!r}" for i in range(600)]
    rows[170] = '"two\nlines",0.5,0.5'
    rows[250] = '"a ""quoted"" id",0.25,0.75'
    path = tmp_path / "f.csv"
    path.write_text("id,a,b\n" + "\n".join(rows) + "\n")
    values, ids = _read_all(path, block_rows)
    frame = pd.read_csv(path, dtype={"id": str})
    assert values.tobytes() == frame[["a", "b"]].to_numpy(dtype=np.float64).tobytes()
    assert ids == frame["id"].tolist()


def test_a_byte_order_mark_at_the_start_of_a_piece_is_data_as_in_pandas(tmp_path: Path) -> None:
    # pandas drops a byte-order mark only at the start of the file; a piece that starts with one
    # is parsed behind a made-up first row so that pandas sees it where it is.
    # pandas reads the cell as text ("\ufeff0.5"), so xent must refuse it, not read 0.5.
    path = tmp_path / "f.csv"
    path.write_bytes(("a,b\n" + _lines(50) + "\ufeff0.5,0.5\n" + _lines(50)).encode())
    assert pd.read_csv(path)["a"].dtype.kind not in "fiu"
    for block_rows in (1, 2, 7, 50):
        message = "row 51 (line 52), column 1 ('a'): '\\ufeff0.5' is not a number"
        with pytest.raises(InputError, match=re.escape(message)):
            _read_all(path, block_rows)


def test_a_ragged_row_in_a_later_piece_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a,b\n" + _lines(500) + "0.5,0.25,0.25\n" + _lines(10))
    with pytest.raises(InputError, match=r": line 502: has 3 fields, expected 2"):
        _read_all(path, 7)


def test_integer_columns_keep_their_exact_values_in_every_piece(tmp_path: Path) -> None:
    # The made-up first row is of zeros, so an integer column stays an integer column.
    big = [str(2**62 + 2 * i + 1) for i in range(200)]
    path = tmp_path / "f.csv"
    path.write_text("a,b\n" + "".join(f"{v},1\n" for v in big))
    values, _ = _read_all(path, 3)
    assert values[:, 0].tolist() == pd.read_csv(path)["a"].to_numpy(dtype=np.float64).tolist()
