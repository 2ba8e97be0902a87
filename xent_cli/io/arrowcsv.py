"""The fast path for delimited text: pyarrow's CSV parser on blocks of lines, with a careful fallback.

:mod:`xent_cli.io.delimited` samples the text, lets :mod:`xent_cli.io.layout` decide what
each column is and cuts the text into blocks of whole lines (never inside a quoted field);
this module only parses such blocks faster than pandas does. Each block is parsed by
``pyarrow.csv.read_csv`` on a worker thread (without the GIL, so two blocks are parsed at
once on two cores); the outcome columns go straight to float64, and pandas is never imported.

It is used only where its result is provably the pandas path's:

- an uncompressed UTF-8 regular file (the stream can be repositioned for the fallback),
- a single-character delimiter (not runs of whitespace) and rows no wider than
  :data:`~xent_cli.io.delimited.WIDE_COLUMNS`,
- every row with exactly the layout's number of fields (pyarrow is given the column
  names, and rejects any other count, as the pandas path does).

Every block is checked: a cell pyarrow cannot convert, a missing value (pandas' own list
of NA spellings), a blank line (a row of nulls), an infinite value (pandas reads some
overflowing numbers as text), or a line break inside a quoted id or
label (which would make row and line numbers differ) stops the fast path. Every row
delivered before that block was a single, non-blank line, so the row, line and byte
offset of the block are known exactly, and the pandas path takes over from there: it
either reads the rest (blank lines, exotic spellings) or names the source, row, line and
column of the bad cell, with the same message as without the fast path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from xent_cli.io.layout import MISSING_TEXTS
from xent_cli.io.table import Block, ReadOptions

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from xent_cli.io.delimited import DelimitedLayout
    from xent_cli.io.sources import OpenedSource

# pandas' default NA spellings (pandas._libs.parsers.STR_NA_VALUES): a cell written so is
# missing for pandas, so it must be missing here too (and then the careful path names it).
PANDAS_NA_VALUES = ("", "NaN", "nan", *sorted(MISSING_TEXTS))
ENGINES = ("auto", "arrow", "pandas")


def engine() -> str:
    """``XENT_CSV_ENGINE``: ``auto`` (pyarrow where it applies), ``arrow`` (the same) or ``pandas``."""
    value = os.environ.get("XENT_CSV_ENGINE", "auto").strip().lower() or "auto"
    if value not in ENGINES:
        from xent_cli.errors import UsageError

        raise UsageError(f"XENT_CSV_ENGINE={value!r}: use one of {', '.join(ENGINES)}")
    return value


def data_offset(opened: OpenedSource, shape: DelimitedLayout) -> int | None:
    """The byte offset of the first data line, when the fast path applies to this source; else None."""
    from xent_cli.io.delimited import WHITESPACE, WIDE_COLUMNS

    if engine() == "pandas" or not opened.plain or shape.delimiter == WHITESPACE:
        return None
    if len(shape.layout.outcomes) > WIDE_COLUMNS or len(shape.delimiter) != 1:
        return None
    head = opened.head
    offset = 0
    for _ in range(shape.skip_lines):
        newline = head.find(b"\n", offset)
        if newline < 0:
            return None
        offset = newline + 1
    end = head.find(b"\n", offset)
    if end < 0:
        return None
    try:
        first = head[offset:end].decode("utf-8-sig").rstrip("\r")
    except UnicodeDecodeError:
        return None
    if not first.strip():
        return None
    try:
        import pyarrow.csv  # noqa: F401
    except ImportError:  # pragma: no cover - pyarrow is a dependency; the pandas path still works
        return None
    return offset


def block_parser(
    shape: DelimitedLayout,
    options: ReadOptions,
    derive: Callable[[NDArray[Any]], NDArray[Any] | None] | None = None,
) -> Callable[[bytes | memoryview], Block | None]:
    """A function from a block of whole lines to its rows (``start`` 0, no lines), or None.

    None means the fast path cannot vouch for the block (see the module docstring): the
    careful reader must read it. Runs on a worker thread: pyarrow parses without the GIL
    (one thread per block; blocks are parsed side by side), and NumPy copies the columns
    into one row-major float64 array. ``derive``, if given, is applied to that array on
    the same thread, into ``Block.derived``.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    decided = shape.layout
    text_columns = [c for c in (decided.id, decided.label) if c is not None]
    wanted = sorted({*decided.outcomes, *text_columns})
    names = [f"f{c}" for c in range(shape.width)]
    types = {names[c]: pa.float64() for c in decided.outcomes}
    types.update({names[c]: pa.string() for c in text_columns})
    parse_options = pacsv.ParseOptions(
        delimiter=shape.delimiter, ignore_empty_lines=False, newlines_in_values=False
    )
    convert_options = pacsv.ConvertOptions(
        column_types=types,
        include_columns=[names[c] for c in wanted],
        null_values=list(PANDAS_NA_VALUES),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        decimal_point=options.decimal,
    )
    n_outcomes = len(decided.outcomes)

    def parse(data: bytes | memoryview) -> Block | None:
        try:
            table = pacsv.read_csv(
                pa.BufferReader(pa.py_buffer(data)),
                # Named columns: pyarrow then insists on exactly this many fields in every row.
                read_options=pacsv.ReadOptions(
                    column_names=names, use_threads=False, block_size=max(1 << 16, len(data) + 1)
                ),
                parse_options=parse_options,
                convert_options=convert_options,
            )
        except (pa.ArrowInvalid, UnicodeDecodeError):
            return None
        rows = table.num_rows
        values = np.empty((rows, n_outcomes), dtype=np.float64)
        for j, column in enumerate(decided.outcomes):
            array = table.column(names[column])
            if array.null_count:
                return None  # a missing value, or a blank line
            position = 0
            for chunk in array.chunks:
                n = len(chunk)
                # The data buffer itself (Array.to_numpy would import pandas, about 0.5 s).
                data_buffer = chunk.buffers()[1]
                values[position : position + n, j] = np.frombuffer(
                    data_buffer, dtype=np.float64, count=n, offset=chunk.offset * 8
                )
                position += n
        if not np.isfinite(values).all():
            # pandas reads some overflowing numbers as text: let it decide what they are.
            return None
        texts: dict[int, list[str]] = {}
        for column in text_columns:
            items = table.column(names[column]).to_pylist()
            if any(item is not None and ("\n" in item or "\r" in item) for item in items):
                return None  # a quoted line break: a row spans lines
            # A missing id or label is "", as the pandas path's fillna("") makes it.
            texts[column] = ["" if item is None else item for item in items]
        return Block(
            values=values,
            start=0,
            ids=texts.get(decided.id) if decided.id is not None else None,
            labels=texts.get(decided.label) if decided.label is not None else None,
            derived=None if derive is None else derive(values),
        )

    return parse
