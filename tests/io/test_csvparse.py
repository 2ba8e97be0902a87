"""The rows of delimited text as pandas parses them (xent_cli.io.csvparse): the piece cutter,
line counting and the parser's messages. The rows themselves are compared with pandas' in
tests/io/test_csv_differential.py."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from xent_cli.io import csvparse
from xent_cli.io.csvparse import _ChainedStream, _last_line_end, _line_ends, _LinePieces, parser_error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"", 0),
        (b"a,b", 0),
        (b"a,b\n1,2\n", 2),
        (b"a,b\r\n1,2\r\n", 2),
        (b"a,b\r1,2\r", 2),
        (b"a\r\n\r\rb\n", 4),
    ],
)
def test_line_ends_count_lf_crlf_and_a_lone_cr_once_each(text: bytes, expected: int) -> None:
    assert _line_ends(text) == expected
    # pandas' own count of the lines: as many records as line ends when every line holds a cell
    if expected and text.strip():
        assert _line_ends(text) == len(text.replace(b"\r\n", b"\n").replace(b"\r", b"\n").splitlines())


@pytest.mark.parametrize(
    ("data", "cut"),
    [
        (b"abc", 0),  # no whole line
        (b"a\nb", 2),
        (b"a\nb\n", 4),
        (b"a\rb", 2),  # a lone CR ends a line
        (b"a\nb\r", 2),  # a CR at the end may be half a CRLF: not a line end yet
        (b"a\r\nb", 3),
    ],
)
def test_the_last_line_end_never_splits_a_crlf(data: bytes, cut: int) -> None:
    assert _last_line_end(data) == cut


def test_pieces_end_at_line_ends_and_later_ones_come_behind_the_lead_row() -> None:
    text = b"h1,h2\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(100))
    cutter = _LinePieces(io.BytesIO(text), 64, first_lines=1, lead=b"0,0\n")
    pieces = []
    while (piece := cutter.next_piece()) is not None:
        pieces.append(piece)
    assert len(pieces) > 3 and cutter.pieces == len(pieces)
    assert not pieces[0].startswith(b"0,0\n") and pieces[0].startswith(b"h1,h2\n")
    assert all(p.startswith(b"0,0\n") and p.endswith(b"\n") for p in pieces[1:])
    assert pieces[0] + b"".join(p[4:] for p in pieces[1:]) == text


def test_the_first_piece_holds_every_line_the_parser_skips() -> None:
    # A header of three lines (comment-like records before it) longer than a piece's size.
    text = b"#x\n#y\nh1,h2\n1,2\n3,4\n"
    cutter = _LinePieces(io.BytesIO(text), 2, first_lines=3)
    first = cutter.next_piece()
    assert first is not None and _line_ends(first) > 3


def test_a_chained_stream_reads_pieces_then_the_rest_then_the_inner_stream() -> None:
    inner = io.BytesIO(b"tail\n")
    chained = _ChainedStream([b"a\n", memoryview(b"xxb\n")[2:]], b"re", inner, "f.csv")  # type: ignore[arg-type]
    assert chained.read() == b"a\nb\nretail\n"


def test_parser_errors_name_the_line_of_the_file() -> None:
    with pytest.raises(pd.errors.ParserError) as caught:
        pd.read_csv(io.StringIO("a,b\n1,2\n1,2,3\n"))
    error = parser_error("f.csv", caught.value, line_offset=10)
    assert (error.message, error.hint) == (
        "f.csv: line 13: has 3 fields, expected 2",
        "every row needs the same number of columns",
    )
    with pytest.raises(pd.errors.ParserError) as caught:
        pd.read_csv(io.StringIO('a,b\n"1,2\n'))
    assert "a quoted field never closes" in str(parser_error("f.csv", caught.value))


def test_the_lead_row_has_the_layout_width_of_zeros(tmp_path: Path) -> None:
    from xent_cli.io.delimited import describe
    from xent_cli.io.sources import open_source, resolve
    from xent_cli.io.table import ReadOptions

    path = tmp_path / "f.csv"
    path.write_text("id;a;b\nx;0,5;0,5\ny;0,25;0,75\n")
    opened = open_source(resolve(str(path), stdin_is_terminal=True))
    try:
        shape, _ = describe(opened, ReadOptions(decimal=","))
    finally:
        opened.close()
    assert (shape.delimiter, shape.width) == (";", 3)
    assert csvparse._lead_row(shape) == b"0;0;0\n"
