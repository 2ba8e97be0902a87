"""The rows of delimited text as pandas' C parser reads them: one stream, or pieces side by side.

:mod:`xent_cli.io.delimited` samples the text and decides its layout
(:class:`DelimitedLayout`); this module hands the text to ``pandas.read_csv`` and
turns its failures into one-line messages. pandas alone decides where a row starts
and ends, so the rows are exactly those ``pandas.read_csv`` reads.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, cast

from xent_cli.errors import InputError, option
from xent_cli.io import layout as rule
from xent_cli.io.sources import OpenedSource, WrappedStream
from xent_cli.io.table import ReadOptions, max_line_bytes, size_text

if TYPE_CHECKING:
    from concurrent.futures import Future

# Sniffed when no single-character delimiter splits the lines: runs of spaces (np.savetxt's default).
WHITESPACE = " "

LONG_LINE_HINT = (
    "set XENT_MAX_LINE_BYTES to read longer lines (a quoted field that never closes "
    "makes one endless line: check for a stray '\"')"
)


@dataclass
class DelimitedLayout:
    """A layout applied to delimited text: what the block parser needs."""

    delimiter: str
    layout: rule.Layout
    width: int
    # Records before the data that the parser skips: comment and blank lines, and the header.
    skip_records: int
    # The file line of the first data row when nothing between the rows is blank or quoted.
    first_data_line: int
    prepended_id: bool = False
    # Physical lines the skipped records span (a quoted header cell may hold a line break).
    skip_lines: int = 0
    # The column ReadOptions.weight_column names (each block carries its weights), if any.
    weights: int | None = None

    @property
    def header(self) -> list[str] | None:
        return self.layout.names if self.layout.header else None

    @property
    def lines_before_stream(self) -> int:
        """File lines before the text the parser reads (the blank prefix dropped from it)."""
        return self.first_data_line - self.skip_records - 1


# --- rows -------------------------------------------------------------------------------------------


def parser_error(label: str, exc: Exception, line_offset: int = 0) -> InputError:
    """A pandas parser failure as a message; ``line_offset`` lines precede the parsed text."""
    import re

    text = str(exc)
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if match:
        expected, line, saw = match.groups()
        return InputError(
            f"{label}: line {int(line) + line_offset}: has {saw} fields, expected {expected}",
            hint="every row needs the same number of columns",
        )
    match = re.search(r"EOF inside string starting at row (\d+)", text)
    if match:
        return InputError(
            f"{label}: line {int(match.group(1)) + line_offset + 1}: a quoted field never closes",
            hint="check for a stray '\"'",
        )
    if isinstance(exc, UnicodeDecodeError):
        return decode_error(label, exc)
    return InputError(f"{label}: cannot parse: {text.splitlines()[0] if text else exc!r}")


def decode_error(label: str, exc: UnicodeDecodeError) -> InputError:
    byte = exc.object[exc.start : exc.start + 1].hex() if exc.object else "?"
    return InputError(
        f"{label}: is not UTF-8 text (byte 0x{byte})",
        hint=f"name its encoding, e.g. {option('encoding')} latin-1 (or cp1252), or convert it with iconv",
    )


class LineLimitedStream(WrappedStream):
    """A byte stream that refuses a line longer than ``limit`` (``XENT_MAX_LINE_BYTES``).

    A parser holds a whole line (a row) in memory; without a newline in sight (``/dev/zero``,
    a quoted field that never closes) that would be the whole input.
    """

    def __init__(self, inner: IO[bytes], limit: int, label: str) -> None:
        super().__init__(inner, label)
        self._limit = limit
        self._run = 0  # bytes since the last line end

    def read(self, size: int | None = -1) -> bytes:
        data = self._inner.read(-1 if size is None else size)
        end = max(data.rfind(b"\n"), data.rfind(b"\r"))
        self._run = self._run + len(data) if end < 0 else len(data) - end - 1
        if self._run > self._limit:
            raise InputError(
                f"{self._label}: a line is longer than {size_text(self._limit)}", hint=LONG_LINE_HINT
            )
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def frames(
    opened: OpenedSource,
    shape: DelimitedLayout,
    options: ReadOptions,
    *,
    rows: int,
    text_columns: dict[int, Any],
) -> Iterator[Any]:
    """The data rows as pandas frames of at most ``rows`` rows, columns numbered from 0.

    pandas' C parser reads the whole stream, so it alone decides where a row starts and
    ends (quotes, blank lines, CRLF or a lone CR, the byte-order mark): the rows are
    exactly those ``pandas.read_csv`` reads. ``text_columns`` maps columns to the dtype
    they are read as (ids and labels as text); the rest are inferred per frame.
    """
    stream = LineLimitedStream(opened.raw_stream(), max_line_bytes(), opened.label)
    return _stream_frames(
        stream,
        opened.label,
        shape,
        options,
        rows=rows,
        text_columns=text_columns,
        skip=shape.skip_records,
        line_offset=shape.lines_before_stream,
    )


def _stream_frames(
    stream: io.RawIOBase,
    label: str,
    shape: DelimitedLayout,
    options: ReadOptions,
    *,
    rows: int,
    text_columns: dict[int, Any],
    skip: int,
    line_offset: int,
    lead_row: bool = False,
) -> Iterator[Any]:
    """:func:`frames` of ``stream``, which starts ``line_offset`` lines into the file (closed at the end).

    With ``lead_row``, the stream's first row is :func:`_lead_row`'s, and is dropped.
    """
    import pandas as pd

    try:
        reader = pd.read_csv(stream, chunksize=rows, **_read_csv_options(shape, options, text_columns, skip))
        with reader:
            for frame in reader:
                if lead_row:
                    frame, lead_row = frame.iloc[1:], False
                yield frame
    except pd.errors.EmptyDataError:
        return
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise parser_error(label, exc, line_offset) from None
    finally:
        stream.close()


def _read_csv_options(
    shape: DelimitedLayout, options: ReadOptions, text_columns: dict[int, Any], skip: int
) -> dict[str, Any]:
    """``pandas.read_csv``'s arguments for the data rows: one spelling for every way xent calls it."""
    return {
        "sep": r"\s+" if shape.delimiter == WHITESPACE else shape.delimiter,
        "header": None,
        "skiprows": skip,
        "dtype": text_columns or None,
        "decimal": options.decimal,
        "encoding": "utf-8",
        "engine": "c",
    }


# --- rows parsed in pieces, side by side ------------------------------------------------------------
#
# pandas parses one stream on one thread. To use more, the text is handed to pandas in
# pieces that end at a line end, parsed side by side, and taken in order. A piece's end
# is a row's end only when no quoted field spans it; pandas' tokenizer says so itself:
# a piece that ends inside a quoted field fails ("EOF inside string"). Every piece
# starts where the one before ended cleanly, the first where the data starts, so by
# induction the rows of clean pieces are exactly the rows of one stream. The first piece
# that fails for any reason (a quoted line break at its end, a ragged row, bad UTF-8),
# or whose width is not the layout's, is read again together with everything after it
# as one stream (:func:`_stream_frames`): the rows, and any error with its line, are
# then those of the serial read.
#
# What pandas does at the start of a stream differs from the middle of one: a byte-order
# mark there is dropped, and the first row sets the number of fields (a shorter row
# after it is padded, a longer one refused). So every piece after the first, and a
# serial read that starts in the middle, is parsed behind a made-up first row of the
# layout's width (:func:`_lead_row`), which is dropped again.

# Bytes of text per piece, at most (pandas holds several times a piece while it parses one:
# the KL of two 1M x 10 CSVs peaked at 204 MB with 2 MiB pieces, 184 MB with 1 MiB, for a
# few per cent more CPU in pandas' per-call set-up).
PIECE_BYTES = 1 << 20
# Bytes of text per piece, at least (a call to pandas costs about a millisecond; tests set 1).
MIN_PIECE_BYTES = 1 << 16
# Threads parsing pieces, at most (beside the thread that computes).
PARSE_THREADS = 2
# Pieces parsed or waiting beyond one per thread (each holds its text and its frame: two
# readers of 1M x 10 rows held 10 MB more with 2 than with 1, for no measurable speed).
PIECES_AHEAD = 1


def parallel_frames(
    opened: OpenedSource,
    shape: DelimitedLayout,
    options: ReadOptions,
    *,
    rows: int,
    text_columns: dict[int, Any],
    workers: int,
) -> Iterator[Any]:
    """:func:`frames`, parsed by ``workers`` threads a piece each (see the comment above)."""
    import collections

    label = opened.label
    stream = LineLimitedStream(opened.raw_stream(), max_line_bytes(), label)
    lead = _lead_row(shape)
    cutter = _LinePieces(stream, _piece_bytes(opened, rows), first_lines=shape.skip_lines, lead=lead)
    pool = _parse_pool(workers)
    # Pieces handed out and not yet taken: (text, its number, its frame and line ends);
    # every piece but the first comes behind the lead row.
    pending: collections.deque[tuple[bytes, int, Future[tuple[Any, int]]]] = collections.deque()
    lines_before = 0  # line ends in the pieces taken
    serial = False
    try:
        while True:
            while len(pending) < workers + PIECES_AHEAD:
                piece = cutter.next_piece()
                if piece is None:
                    break
                number = cutter.pieces - 1
                future = pool.submit(_parse_piece, piece, number, shape, options, text_columns)
                pending.append((piece, number, future))
            if not pending:
                return
            frame, lines = pending[0][2].result()
            if frame is None:
                break
            pending.popleft()
            lines_before += lines
            for start in range(0, len(frame), rows):
                yield frame if len(frame) <= rows else frame.iloc[start : start + rows]
        # Serial from the first piece that did not parse cleanly on its own.
        serial = True
        number = pending[0][1]
        held: list[bytes | memoryview] = [pending[0][0]]
        held += [memoryview(p)[len(lead) :] for p, _, _ in list(pending)[1:]]
        tail = _ChainedStream(held, cutter.rest, stream, label)
        for *_, future in pending:
            future.cancel()
        pending.clear()
        yield from _stream_frames(
            tail,
            label,
            shape,
            options,
            rows=rows,
            text_columns=text_columns,
            skip=0 if number else shape.skip_records,
            line_offset=shape.lines_before_stream + lines_before - (1 if number else 0),
            lead_row=bool(number),
        )
    finally:
        for *_, future in pending:
            future.cancel()
        if not serial:
            stream.close()


_POOL: list[Any] = []  # the one parse pool, made on first use
_POOL_LOCK = threading.Lock()


def _parse_pool(workers: int) -> Any:
    """The threads that parse pieces, one set for the process: two files read side by side
    (``xent kl p.csv q.csv``) share them rather than each bringing its own."""
    from concurrent.futures import ThreadPoolExecutor

    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(workers, thread_name_prefix="xent-parse"))
        return _POOL[0]


def _parse_piece(
    piece: bytes, number: int, shape: DelimitedLayout, options: ReadOptions, text_columns: dict[int, Any]
) -> tuple[Any, int]:
    """Piece ``number``'s rows as a frame (empty when it holds none; None when it must be read
    serially), and its line ends (counted here, off the thread that hands out the pieces;
    the lead row's one line end not among them)."""
    frame = _piece_frame(piece, number, shape, options, text_columns)
    return frame, (_line_ends(piece) - (1 if number else 0) if frame is not None else 0)


def _piece_frame(
    piece: bytes, number: int, shape: DelimitedLayout, options: ReadOptions, text_columns: dict[int, Any]
) -> Any:
    import pandas as pd

    skip = 0 if number else shape.skip_records
    try:
        frame = pd.read_csv(io.BytesIO(piece), **_read_csv_options(shape, options, text_columns, skip))
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError):
        return None
    if len(frame) and frame.shape[1] != shape.width:
        return None
    return frame.iloc[1:] if number else frame


def _lead_row(shape: DelimitedLayout) -> bytes:
    """A made-up first row of the layout's width, of zeros (they keep an integer column integer)."""
    separator = " " if shape.delimiter == WHITESPACE else shape.delimiter
    return (separator.join(["0"] * shape.width) + "\n").encode()


def _piece_bytes(opened: OpenedSource, rows: int) -> int:
    """Bytes of text for about ``rows`` rows, judged from the sampled head."""
    head = opened.head
    per_row = len(head) / max(1, head.count(b"\n"))
    return int(min(PIECE_BYTES, max(MIN_PIECE_BYTES, rows * per_row)))


def _line_ends(text: bytes) -> int:
    """Line ends as pandas counts them: LF, CRLF and a lone CR, one each."""
    import numpy as np

    # NumPy counts without holding the GIL (bytes.count holds it, a byte at a time).
    view = np.frombuffer(text, dtype=np.uint8)
    newlines = int(np.count_nonzero(view == ord("\n")))
    if b"\r" not in text:
        return newlines
    return newlines + int(np.count_nonzero(view == ord("\r"))) - text.count(b"\r\n")


class _LinePieces:
    """A byte stream in pieces of about ``size`` bytes, each ending at a line end.

    The first piece holds more than ``first_lines`` line ends (the records the parser
    skips before the data are in it); every later one comes behind ``lead`` (joined
    once, here). The bytes after the last piece's end wait in :attr:`rest`.
    """

    def __init__(self, stream: io.RawIOBase, size: int, *, first_lines: int, lead: bytes = b"") -> None:
        self._stream = stream
        self._size = size
        self._first_lines = first_lines
        self._lead = lead
        self.rest = b""
        self.pieces = 0

    def next_piece(self) -> bytes | None:
        head = [self._lead] if self.pieces and self._lead else []
        chunks = [self.rest] if self.rest else []
        self.rest = b""
        while True:
            data = self._stream.read(self._size)
            if not data:
                if not chunks:
                    return None
                self.pieces += 1
                return b"".join([*head, *chunks])
            cut = _last_line_end(data)
            if cut and (self.pieces or _line_ends(b"".join([*chunks, data[:cut]])) > self._first_lines):
                self.rest = data[cut:]
                self.pieces += 1
                return b"".join([*head, *chunks, memoryview(data)[:cut]])
            chunks.append(data)


def _last_line_end(data: bytes) -> int:
    """Where the last whole line of ``data`` ends (0: none); a CR at its end may be half a CRLF."""
    end = data.rfind(b"\n") + 1
    cr = data.rfind(b"\r", end)
    if 0 <= cr < len(data) - 1:
        return cr + 1  # a lone CR: the byte after it is not LF
    return end


class _ChainedStream(WrappedStream):
    """``pieces``, then ``rest``, then what is left of ``inner``: one stream again."""

    def __init__(
        self, pieces: list[bytes | memoryview], rest: bytes, inner: io.RawIOBase, label: str
    ) -> None:
        super().__init__(cast("IO[bytes]", inner), label)
        self._held = [memoryview(p) for p in [*pieces, rest] if p]

    def readinto(self, buffer: Any) -> int:
        if self._held:
            head = self._held[0]
            n = min(len(buffer), len(head))
            buffer[:n] = head[:n]
            if n == len(head):
                self._held.pop(0)
            else:
                self._held[0] = head[n:]
            return n
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
