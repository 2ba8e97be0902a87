"""The pyarrow fast path for CSV gives what the pandas path gives: rows, ids, labels, lines, errors.

Every test reads the same file twice, with ``XENT_CSV_ENGINE=pandas`` (the careful reader)
and with the default engine, and compares everything a block carries. The layout is
decided before either reader runs, so it cannot differ; what can differ is how cells are
parsed, which rows are blank, and where an error is found.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xent_cli.errors import InputError
from xent_cli.io import arrowcsv
from xent_cli.io.delimited import line_views, text_blocks
from xent_cli.io.readers import ReadOptions, read
from xent_cli.io.sources import resolve


def read_all(path: Path, engine: str, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Any:
    """(values, ids, labels, lines, starts) of every block, or the error message."""
    monkeypatch.setenv("XENT_CSV_ENGINE", engine)
    try:
        table = read(resolve(str(path), stdin_is_terminal=True), ReadOptions(**options))
        blocks = list(table.blocks())
    except InputError as exc:
        return f"error: {exc.message} | {exc.hint}"
    values = np.concatenate([b.values for b in blocks]) if blocks else np.empty((0, 0))
    ids = [i for b in blocks for i in (b.ids or [])]
    labels = [i for b in blocks for i in (b.labels or [])]
    lines = [int(x) for b in blocks for x in b.lines]
    starts = [b.start for b in blocks]
    assert starts == sorted(starts) and sum(len(b) for b in blocks) == len(values)
    return values, ids, labels, lines


def same(path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Any:
    careful = read_all(path, "pandas", monkeypatch, **options)
    fast = read_all(path, "auto", monkeypatch, **options)
    if isinstance(careful, str) or isinstance(fast, str):
        assert fast == careful
        return fast
    (cv, ci, cl, cn), (fv, fi, fl, fn) = careful, fast
    assert fv.shape == cv.shape
    # pyarrow rounds every decimal correctly; pandas' parser is within an ulp of that.
    np.testing.assert_array_max_ulp(fv, cv, maxulp=1)
    assert (fi, fl, fn) == (ci, cl, cn)
    return fast


def test_the_fast_path_is_taken_for_a_plain_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.csv"
    path.write_text("a,b\n0.25,0.75\n0.5,0.5\n")
    calls: list[int] = []
    real = arrowcsv.block_parser

    def counting(*args: Any) -> Any:
        parse = real(*args)

        def wrapped(data: bytes) -> Any:
            result = parse(data)
            calls.append(0 if result is None else len(result))
            return result

        return wrapped

    monkeypatch.setattr(arrowcsv, "block_parser", counting)
    values, _, _, lines = same(path, monkeypatch)
    assert calls == [2]  # pyarrow read both rows (and the careful reader none)
    assert lines == [2, 3]
    np.testing.assert_array_equal(values, [[0.25, 0.75], [0.5, 0.5]])


@pytest.mark.parametrize(
    "text",
    [
        "id,a,b\nr1,0.2,0.8\n\nr2,0.5,0.5\n",  # a blank line: the careful reader takes over
        "id,a,b\nr1,0.2,0.8\nr2,0.5,0.5\n\n\n",  # trailing blank lines
        '\ufeffid,a,b\r\n"r,1",0.2,0.8\r\nr2,0.5,0.5\r\n',  # BOM, CRLF, a quoted delimiter
        'id,a,b\n"r\n1",0.2,0.8\nr2,0.5,0.5\n',  # a line break inside a quoted id
        "id,a,b\nNA,0.2,0.8\n,0.5,0.5\nNone,0.1,0.9\n",  # pandas' NA spellings in the id column
        "a,b\n0.2,0.8\nNaN,0.5\n",  # a missing value is named
        "a,b\n0.2,0.8\n0.5,None\n",  # 'None' is missing for pandas too
        "a,b\n0.2,0.8\n0.5,0.5,0.1\n",  # a ragged row
        "a,b\n0.2,0.8\n0.5\n",  # a short row
        "a,b\n0.2,0.8\n0.5,dog\n",  # not a number
        "a,b\n0.2,0.8\n0x1,0.5\n",  # not a number to pandas either
        "a,b\n0.2,0.8\n 0.5 ,0.5\n",  # spaces around a number
        'a,b\n"0.2",0.8\n+0.5,.5\n1e-1,9E-1\n',  # quoted and signed numbers, exponents
        "a,b\n0.2,0.8\ninf,0.5\n",  # an infinity is read (and the measures reject it)
        "0.2,0.8\n0.5,0.5\n",  # no header
        "# a,b\n0.2,0.8\n0.5,0.5\n",  # np.savetxt's commented header
        "\n\na,b\n0.2,0.8\n",  # leading blank lines
        "a;b\n0,2;0,8\n0,5;0,5\n",  # decimal commas (with --decimal ,)
        "id,label,a,b\nx,cat,0.2,0.8\ny,,0.5,0.5\n",  # labels
    ],
)
def test_edge_cases_read_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(text.encode())
    options: dict[str, Any] = {"decimal": ","} if "0,2;" in text else {}
    if "label" in text:
        options["label_column"] = "label"
    same(path, monkeypatch, **options)


def test_a_bad_cell_deep_in_a_big_file_is_named_by_row_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = 200_000
    path = tmp_path / "big.csv"
    with path.open("w") as handle:
        handle.write("a,b,c\n")
        for i in range(rows):
            handle.write("x,0.5,0.5\n" if i == 134_511 else "0.25,0.25,0.5\n")
    message = same(path, monkeypatch, block_bytes=1 << 16)
    assert message.startswith("error: ")
    assert "row 134512 (line 134513), column 1 ('a'): 'x' is not a number" in message


def test_blank_lines_in_a_big_file_keep_the_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.csv"
    with path.open("w") as handle:
        handle.write("a,b\n")
        for i in range(30_000):
            handle.write("0.25,0.75\n")
            if i == 20_000:
                handle.write("\n")
    _, _, _, lines = same(path, monkeypatch, block_bytes=1 << 16)
    assert lines[20_000] == 20_002 and lines[20_001] == 20_004


def test_a_line_longer_than_the_limit_is_reported_by_the_careful_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XENT_MAX_LINE_BYTES", "64K")
    path = tmp_path / "p.csv"
    path.write_text("a,b\n" + "0.5,0.5\n" * 20_000 + "0.5," + "5" * 300_000 + "\n")
    message = same(path, monkeypatch, block_bytes=1 << 16)
    assert "line 20002 is longer than 64 KiB" in message


def test_the_engine_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XENT_CSV_ENGINE", "polars")
    with pytest.raises(Exception, match="XENT_CSV_ENGINE='polars'"):
        arrowcsv.engine()


_number = st.one_of(
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False).map(repr),
    st.integers(min_value=0, max_value=10**6).map(str),
    st.sampled_from(["0", "1", "0.5", "1e-300", "5e-324", "1.7976931348623157e308", ".5", "5.", "+1"]),
)
_cell = st.one_of(_number, _number, _number, st.sampled_from(["", "NA", "nan", "x", '"0.5"', " 1 "]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(_cell, min_size=3, max_size=3), min_size=1, max_size=40),
    ids=st.booleans(),
    blank=st.integers(min_value=-1, max_value=40),
    crlf=st.booleans(),
)
def test_generated_tables_read_the_same(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rows: list[list[str]],
    ids: bool,
    blank: int,
    crlf: bool,
) -> None:
    end = "\r\n" if crlf else "\n"
    lines = [("id," if ids else "") + "a,b,c"]
    for i, row in enumerate(rows):
        lines.append((f"r{i}," if ids else "") + ",".join(row))
        if i == blank:
            lines.append("")
    path = tmp_path / "g.csv"
    path.write_bytes((end.join(lines) + end).encode())
    # Small blocks, so that the fast path hands over in the middle of a file.
    same(path, monkeypatch, block_bytes=1 << 16, block_rows=7)


def test_numbers_parse_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    values = rng.dirichlet(np.ones(4), size=5000)
    path = tmp_path / "p.csv"
    np.savetxt(path, values, delimiter=",", fmt="%.17g", header="a,b,c,d", comments="")
    fast = read_all(path, "auto", monkeypatch)
    np.testing.assert_array_equal(fast[0], values)  # 17 digits round-trip: every value is exact
    assert math.isclose(float(fast[0].sum()), 5000.0)


@given(
    lines=st.lists(
        st.sampled_from(["0.5,0.5", '"a\nb",1', '"x",2', "", "1" * 300, '"un', 'closed"', "3,4\r"]),
        max_size=40,
    ),
    size=st.sampled_from([1, 7, 64, 4096]),
)
@settings(max_examples=200, deadline=None)
def test_line_views_cut_where_text_blocks_cut(lines: list[str], size: int) -> None:
    """The fast path's reader cuts only between whole lines, outside quotes, and loses no byte."""
    data = "\n".join(lines).encode()
    careful = b"".join(block for _, block in text_blocks(io.BytesIO(data), 0, size, count_lines=False))
    views = [bytes(view) for view in line_views(io.BytesIO(data), size)]
    assert b"".join(views) == careful == data
    done = b""
    for view in views[:-1]:
        done += view
        assert view and done.endswith(b"\n") and done.count(b'"') % 2 == 0


def test_line_views_refuse_an_endless_line() -> None:
    with pytest.raises(InputError, match="longer than 1 KiB"):
        list(line_views(io.BytesIO(b"1" * 5000), 256, "big.csv", limit=1024))
