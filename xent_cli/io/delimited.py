"""CSV / TSV (and whitespace-separated text, as ``np.savetxt`` writes it): sample, layout, blocks.

The first lines (up to a few thousand, and always at least two data rows, however wide)
are sampled and described to :func:`xent_cli.io.layout.decide`, which says what each
column is. Then the text is cut into line-aligned blocks of about
``ReadOptions.block_bytes`` and parsed in order: by pandas' C parser on a small thread
pool, or, for rows wider than :data:`WIDE_COLUMNS` (vocabularies), by NumPy's
``loadtxt``, whose cost does not grow with the number of columns per row.
"""

from __future__ import annotations

import contextvars
import csv
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from xent_cli.errors import InputError
from xent_cli.io import layout as rule
from xent_cli.io.sources import OpenedSource
from xent_cli.io.table import Block, ReadOptions, Table, derive_per_row, max_line_bytes, short, size_text

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from numpy.typing import NDArray

DELIMITERS = (",", ";", "\t", "|")
# A wide row's line, split by a wrong candidate delimiter, is one huge field.
csv.field_size_limit(min(sys.maxsize, 1 << 62))
# Sniffed when no delimiter above splits the lines: runs of spaces (np.savetxt's default).
WHITESPACE = " "
# Rows wider than this are parsed by NumPy's loadtxt (pandas' cost grows with the columns).
WIDE_COLUMNS = 4096
# Bytes sampled for the layout, at most (more only to reach two data rows).
SAMPLE_BYTES = 1 << 20


def sniff_delimiter(lines: list[str], decimal: str = ".", fallback: str = ",") -> str:
    """The candidate delimiter that splits the first lines most consistently.

    Runs of whitespace (``np.savetxt``'s default) are chosen only when no candidate
    splits every line into two or more fields and whitespace splits them into numbers.
    """
    candidates = [d for d in DELIMITERS if d != decimal]
    best, best_score = fallback, 0
    sample = [line for line in lines[:50] if line.strip()]
    for delimiter in candidates:
        counts = [len(next(csv.reader([line], delimiter=delimiter))) for line in sample]
        if not counts or min(counts) < 2:
            continue
        # Prefer the delimiter that gives the same number of fields on every line.
        consistent = sum(1 for c in counts if c == counts[0])
        score = consistent * 1000 + counts[0]
        if score > best_score:
            best, best_score = delimiter, score
    if best_score == 0 and sample:
        fields = [line.split() for line in sample]
        counts = [len(f) for f in fields]
        body = [cell for row in fields[1:] for cell in row] or fields[0]
        numbers = sum(1 for cell in body if rule.cell_kind(cell, decimal) in (rule.INT, rule.DEC))
        if min(counts) >= 2 and len(set(counts)) == 1 and numbers * 2 > len(body):
            return WHITESPACE
    return best


def even_quote_cut(buffer: bytes | bytearray, start: int = 0, quotes_before: int = 0) -> int:
    """The end of the last whole line in ``buffer`` not inside a quoted field (0: none).

    A line ends at a newline preceded by an even number of ``"`` (``quotes_before``
    counts those before ``start``, where the scan begins). The scan visits each quote
    and each gap between quotes once, so it is linear in the buffer's length.
    """
    cut = buffer.rfind(b"\n", start) + 1
    if cut == 0:
        return 0
    total = quotes_before + buffer.count(b'"', start, cut)
    if total % 2 == 0:
        return cut
    # Walk back over the quotes: between the (i-1)-th and i-th quote, i quotes precede.
    position = cut
    count = total
    while count > quotes_before:
        quote = buffer.rfind(b'"', start, position)
        if quote < 0:
            break
        # The gap (quote, position) has `count` quotes before it.
        if count % 2 == 0:
            newline = buffer.rfind(b"\n", quote + 1, position)
            if newline >= 0:
                return newline + 1
        position = quote
        count -= 1
    if count % 2 == 0:
        newline = buffer.rfind(b"\n", start, position)
        if newline >= 0:
            return newline + 1
    return 0


LONG_LINE_HINT = (
    "set XENT_MAX_LINE_BYTES to read longer lines (a quoted field that never closes "
    "makes one endless line: check for a stray '\"')"
)


def _lines_end(buffer: bytes | bytearray, scanned: int, quotes: int, quoted: bool) -> int:
    """Where the whole lines in ``buffer`` end (0: none yet), searching past ``scanned``."""
    return even_quote_cut(buffer, scanned, quotes) if quoted else buffer.rfind(b"\n", scanned) + 1


def _uncut(text: bytes, scanned: int, quotes: int, quoted: bool, limit: int, line: str) -> int:
    """No whole line in ``text`` yet: refused past ``limit`` (``line`` names it), else the quotes so far."""
    if len(text) > limit:
        raise InputError(f"{line} is longer than {size_text(limit)}", hint=LONG_LINE_HINT)
    return quotes + text.count(b'"', scanned) if quoted else quotes


@dataclass
class _Parsed:
    """The sampled text, split into records, and where the data starts."""

    delimiter: str
    comment: list[str] | None
    first: list[str]
    first_line: int  # 1-based file line of ``first``
    rows: list[list[str]]
    complete: bool
    lines_before_data: int  # physical lines up to and including ``first``


def _decoded(opened: OpenedSource, data: bytes, complete: bool) -> str:
    if b"\x00" in data[:4096]:
        raise InputError(
            f"{opened.label}: looks like binary data, not {opened.format.upper()} text",
            hint="use --input-format to say what it is",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if complete or exc.start < len(data) - 4 or "unexpected end" not in exc.reason:
            raise decode_error(opened.label, exc) from None
        return data[: exc.start].decode("utf-8-sig")


def _split(text: str, delimiter: str) -> list[list[str]]:
    if delimiter == WHITESPACE:
        return [line.split() for line in text.splitlines()]
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _sample(opened: OpenedSource, options: ReadOptions) -> _Parsed:
    """Enough whole lines from the start to decide the layout (see the module docstring)."""
    label = opened.label
    limit = max_line_bytes()
    while True:
        head = opened.head
        complete = opened.eof
        cut = len(head) if complete else even_quote_cut(head)
        text = _decoded(opened, head[:cut], complete)
        nonblank = sum(1 for line in text.splitlines()[: rule.SAMPLE_ROWS + 50] if line.strip())
        if complete or nonblank > rule.SAMPLE_ROWS or (cut >= SAMPLE_BYTES and nonblank >= 3):
            break
        if len(head) - cut > limit:
            raise InputError(
                f"{label}: line {text.count(chr(10)) + 1} is longer than {size_text(limit)}",
                hint=LONG_LINE_HINT,
            )
        opened.peek(max(2 * len(head), 1 << 16))
    lines = text.split("\n")
    # Leading blank lines, and comment lines (np.savetxt writes its header as "# a,b,c").
    skipped = 0
    comment: str | None = None
    while skipped < len(lines):
        stripped = lines[skipped].strip()
        if stripped and not stripped.startswith("#"):
            break
        if stripped:
            comment = stripped[1:].strip()
        skipped += 1
    if skipped == len(lines):
        raise InputError(f"{label}: is empty", hint="expected rows of numbers")
    if options.delimiter is not None:
        delimiter = options.delimiter
    elif opened.format == "tsv":
        delimiter = "\t"
    else:
        delimiter = sniff_delimiter(lines[skipped : skipped + 50], options.decimal)
    body = "\n".join(lines[skipped:])
    comment_cells = _split(comment, delimiter)[0] if comment else None
    if delimiter == WHITESPACE:
        records: Iterator[list[str]] = iter(line.split() for line in body.split("\n"))
        reader = None
    else:
        reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter)
        records = reader
    first = next(records)
    lines_before_data = skipped + (reader.line_num if reader is not None else 1)
    rows: list[list[str]] = []
    budget = max(2, min(rule.SAMPLE_ROWS, rule.SAMPLE_CELLS // max(1, len(first))))
    for record in records:
        if not record or not any(cell.strip() for cell in record):
            continue
        rows.append(record)
        if len(rows) >= budget:
            complete = False
            break
    return _Parsed(delimiter, comment_cells, first, skipped + 1, rows, complete, lines_before_data)


@dataclass
class DelimitedLayout:
    """A layout applied to delimited text: what the block parser needs."""

    delimiter: str
    layout: rule.Layout
    width: int
    skip_lines: int
    prepended_id: bool = False

    @property
    def header(self) -> list[str] | None:
        return self.layout.names if self.layout.header else None


def describe(opened: OpenedSource, options: ReadOptions) -> tuple[DelimitedLayout, rule.Sample]:
    """Sample the text and decide its layout."""
    parsed = _sample(opened, options)
    first = parsed.first
    rows = parsed.rows
    prepended = False
    data_width = len(rows[0]) if rows else len(first)
    if (
        options.header_choice is not False
        and rows
        and len(first) == data_width - 1
        and all(len(r) == data_width for r in rows[: rule.SAMPLE_ROWS])
    ):
        # R's write.table (and pandas' index_label=False): the header lacks the row-name cell.
        first = ["", *first]
        prepended = True
    width = len(first)
    kinds, values = rule.classify(rows, width, options.decimal)
    sample = rule.Sample(
        label=opened.label,
        format=opened.format,
        kinds=kinds,
        values=values,
        first_line=first,
        cells=rows,
        comment=parsed.comment,
        complete=parsed.complete,
        decimal=options.decimal,
    )
    decided = rule.decide(sample, options)
    if prepended and not decided.header:
        # The short first line was data after all: read it as it is.
        width = data_width
    skip = parsed.lines_before_data if decided.header else parsed.first_line - 1
    return DelimitedLayout(parsed.delimiter, decided, width, skip, prepended and decided.header), sample


def read_delimited(opened: OpenedSource, options: ReadOptions) -> Table:
    shape, _ = describe(opened, options)
    decided = shape.layout
    label = opened.label
    table = Table(
        label=label,
        outcomes=decided.outcome_names,
        id_name=decided.id_name,
        make_blocks=lambda: _blocks(opened, options, shape),
        outcome_positions=[i + 1 for i in decided.outcomes],
        has_labels=decided.label is not None,
        width=len(decided.outcomes),
        notes=list(decided.notes),
        layout=decided.record(opened.format),
        sum_hint=decided.sum_hint,
        expected_rows=_expected_rows(opened),
    )
    return table


def _expected_rows(opened: OpenedSource) -> int | None:
    """The file's size times the lines per byte of its head (a regular file; else None)."""
    size = opened.size()
    lines = opened.head.count(b"\n")
    if size is None or not lines:
        return None
    return int(size * lines / len(opened.head))


# --- blocks -------------------------------------------------------------------------------


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
        hint="name its encoding, e.g. --encoding latin-1 (or cp1252), or convert it with iconv",
    )


def text_blocks(
    stream: IO[bytes],
    skip_lines: int,
    size: int,
    label: str = "",
    limit: int | None = None,
    *,
    count_lines: bool = True,
    lines_before: int = 0,
) -> Iterator[tuple[int, bytes]]:
    """``(lines skipped before it, bytes)`` for whole lines of ``stream``, about ``size`` bytes at a time.

    The first ``skip_lines`` lines (a header) are dropped. A block never ends inside a
    quoted field (the number of quotes before its end is even). Each byte is scanned a
    bounded number of times, however the quotes fall (one stray quote makes the rest of
    the file one long line, found in linear time), and a line longer than ``limit``
    (``XENT_MAX_LINE_BYTES``) is an error rather than a growing buffer. Without
    ``count_lines`` the lines are not counted (a scan of every byte), and that error's
    line number counts only the skipped lines. ``lines_before`` lines of the file precede
    the stream (for that message).
    """
    limit = max_line_bytes() if limit is None else limit
    rest = b""
    # Of ``rest``: the bytes already scanned without finding a cut, and the quotes in them.
    scanned = 0
    quotes = 0
    quoted = False
    skipped = 0
    lines_done = lines_before
    while True:
        data = stream.read(size)
        if not data:
            if rest:
                yield skipped, bytes(rest)
            return
        # Bytes, not a bytearray: the common block is copied once. A long line costs at
        # most limit / size copies of itself.
        rest = rest + data if rest else data
        quoted = quoted or b'"' in data
        cut = _lines_end(rest, scanned, quotes, quoted)
        if cut == 0:
            where = f"{label}: line {lines_done + skip_lines + 1}"
            quotes = _uncut(rest, scanned, quotes, quoted, limit, where)
            scanned = len(rest)
            continue
        block, rest = rest[:cut], rest[cut:]
        scanned, quotes = 0, 0
        quoted = b'"' in rest
        if skip_lines and block:
            # Whole blocks of skipped lines at once (a fallback may skip most of a file).
            whole = block.count(b"\n")
            if whole <= skip_lines and block.endswith(b"\n"):
                skip_lines -= whole
                skipped += whole
                lines_done += whole
                block = b""
        while skip_lines and block:
            newline = block.find(b"\n")
            block = block[newline + 1 :] if newline >= 0 else b""
            skip_lines -= 1
            skipped += 1
            lines_done += 1
        if block:
            if count_lines:
                lines_done += block.count(b"\n")
            yield skipped, block
            skipped = 0


PARSE_AHEAD = 4


def line_views(
    stream: IO[bytes], size: int, label: str = "", limit: int | None = None
) -> Iterator[memoryview]:
    """Whole lines of ``stream``, about ``size`` bytes at a time, as views of buffers of their own.

    What :func:`text_blocks` yields without skipping or counting lines, with each
    byte copied once (read straight into a new ``bytes``, never zero-filled first):
    each view stays valid after the next is read, for a parser on another thread.
    ``stream`` must be seekable (a regular file): the partial line after a cut is
    read again with the next block instead of being copied over to it.
    """
    limit = max_line_bytes() if limit is None else limit
    position = stream.tell()
    scanned = 0  # bytes of the block at ``position`` searched without finding a cut
    quotes = 0  # and the quotes among them
    want = size
    while True:
        data = stream.read(want)
        # A short read is the end of the file, unless a read was cut short: read on to be sure.
        while len(data) < want and (more := stream.read(want - len(data))):
            data += more
        if not data:
            return
        if len(data) < want:  # the end of the file: the last line needs no newline
            yield memoryview(data)
            return
        quoted = data.find(b'"') >= 0
        cut = _lines_end(data, scanned, quotes, quoted)
        if cut == 0:
            quotes = _uncut(data, scanned, quotes, quoted, limit, f"{label}: a line")
            scanned, want = len(data), 2 * want
            stream.seek(position)
            continue
        position += cut
        if cut < len(data):
            stream.seek(position)
        scanned, quotes, want = 0, 0, size
        yield memoryview(data)[:cut]


def _blocks(opened: OpenedSource, options: ReadOptions, shape: DelimitedLayout) -> Iterator[Block]:
    """The rows: by pyarrow where :mod:`xent_cli.io.arrowcsv` vouches for them, else by pandas."""
    from xent_cli.io import arrowcsv

    offset = arrowcsv.data_offset(opened, shape)
    if offset is None:
        yield from _careful_blocks(opened, options, shape, opened.raw_stream(), 0, shape.skip_lines)
    else:
        yield from _arrow_blocks(opened, options, shape, offset)


def _arrow_blocks(
    opened: OpenedSource, options: ReadOptions, shape: DelimitedLayout, offset: int
) -> Iterator[Block]:
    """Blocks of lines parsed by pyarrow side by side, in order; the careful path from the first doubt.

    Every block before the first one pyarrow cannot vouch for held one row per line, so
    that block starts at a known row, line and byte: the careful reader resumes there.
    """
    from collections import deque

    import numpy as np

    from xent_cli.io import arrowcsv

    parse = arrowcsv.block_parser(shape, options, derive_per_row.get())
    # The worker threads see this thread's context (what the task set for its kernels).
    context = contextvars.copy_context()
    stream = opened.raw_stream()
    stream.seek(offset)
    first_line = shape.skip_lines + 1  # the file line of row 0
    done = 0  # rows delivered
    resume = offset  # the byte where the first block not delivered starts
    handed_over = False
    pending: deque[Any] = deque()
    try:
        with parse_threads(options) as (pool, workers):
            texts = line_views(stream, _text_block_bytes(opened.head[offset:], shape, options), opened.label)

            def parsed() -> Iterator[tuple[int, Block | None]]:
                try:
                    for data in texts:
                        pending.append((len(data), pool.submit(context.copy().run, parse, data)))
                        # Blocks queued ahead, four per thread: while a block is computed on
                        # (or, with two sources in lockstep, the other source's block is
                        # awaited), the threads keep parsing.
                        if len(pending) > PARSE_AHEAD * workers:
                            size, future = pending.popleft()
                            yield size, future.result()
                except InputError:  # a line too long: the careful reader says which
                    yield 0, None
                while pending:
                    size, future = pending.popleft()
                    yield size, future.result()

            for size, block in parsed():
                if block is None:
                    _cancel(pending)  # before the careful reader queues its blocks behind them
                    handed_over = True
                    break
                n = len(block)
                block.start = done
                block.lines = np.arange(first_line + done, first_line + done + n, dtype=np.int64)
                done += n
                resume += size
                if n:
                    yield from _split_rows(block, options.block_rows)
        if handed_over:
            stream.seek(resume)
            yield from _careful_blocks(opened, options, shape, stream, done, 0, first_line + done)
        elif done == 0:
            raise InputError(f"{opened.label}: has no data rows")
    finally:
        _cancel(pending)
        stream.close()


@contextmanager
def parse_threads(options: ReadOptions) -> Iterator[tuple[Executor, int]]:
    """The threads to parse blocks on, and how many: ``options.parse_pool`` if shared, else our own."""
    if options.parse_pool is not None:
        yield options.parse_pool, options.parse_thread_count
        return
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(options.parse_thread_count)
    try:
        yield pool, options.parse_thread_count
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _cancel(pending: Any) -> None:
    """Drop blocks queued but not started (on a shared pool they would otherwise still be parsed)."""
    for entry in pending:
        entry[-1].cancel()
    pending.clear()


def _text_block_bytes(sample: bytes, shape: DelimitedLayout, options: ReadOptions) -> int:
    """Bytes of text per parsed block: ``options.block_bytes``, or fewer for narrow rows.

    A block of short lines holds many values per byte (``0.1,0.2,0.7`` is 4 bytes a
    float64 of 8), and blocks are queued ahead on each thread: about one compute
    block's rows (from the sample's mean line length) is enough.
    """
    ceiling = max(1 << 16, options.block_bytes)
    lines = sample.count(b"\n")
    if lines < 16:
        return ceiling
    per_line = (sample.rfind(b"\n") + 1) / lines
    wanted = per_line * options.rows_per_block(len(shape.layout.outcomes))
    return int(min(ceiling, max(1 << 16, wanted)))


def _careful_blocks(
    opened: OpenedSource,
    options: ReadOptions,
    shape: DelimitedLayout,
    stream: IO[bytes],
    start: int,
    skip_lines: int,
    first_line: int = 1,
) -> Iterator[Block]:
    """Rows from ``start`` on: pandas' C parser on threads.

    ``stream`` is at file line ``first_line``; its first ``skip_lines`` lines are skipped.
    """
    from collections import deque

    label = opened.label
    decided = shape.layout
    wide = len(decided.outcomes) > WIDE_COLUMNS and options.decimal == "."
    parse = _wide_parser(shape, label) if wide else _pandas_parser(shape, options)
    line = first_line  # the file line of the next block's first line
    pending: deque[Any] = deque()
    try:
        with parse_threads(options) as (pool, workers):
            texts = text_blocks(
                stream, skip_lines, max(1 << 16, options.block_bytes), label, lines_before=first_line - 1
            )

            def results() -> Iterator[tuple[int, Any]]:
                # Parse ahead on the pool, a bounded number of blocks at a time, in order.
                for skipped, data in texts:
                    pending.append((skipped, pool.submit(parse, data)))
                    if len(pending) > workers:
                        yield_skipped, future = pending.popleft()
                        yield yield_skipped, future.result()
                while pending:
                    yield_skipped, future = pending.popleft()
                    yield yield_skipped, future.result()

            for skipped, chunk in results():
                line += skipped
                if isinstance(chunk, InputError):
                    raise _at_line(chunk, line - 1, start)
                if isinstance(chunk, Exception):
                    raise parser_error(label, chunk, line - 1)
                if chunk is None:
                    continue
                if wide:
                    block, n_lines = _wide_block(chunk, shape, label, start, line)
                else:
                    block = _chunk_block(chunk, label, shape, start, line)
                    n_lines = 0 if chunk.empty else len(chunk)  # skip_blank_lines=False: a row per line
                line += n_lines
                if block is not None:
                    start += len(block)
                    yield from _split_rows(block, options.block_rows)
        if start == 0:
            raise InputError(f"{label}: has no data rows")
    finally:
        _cancel(pending)
        stream.close()


def _at_line(error: InputError, line_offset: int, start: int) -> InputError:
    """An error found by a parser thread, positioned by the block it was in."""
    if not isinstance(error, _Located):
        return error
    row, line, rest = error.located
    where = (
        f"row {start + row + 1} (line {line_offset + line})"
        if row is not None
        else f"line {line_offset + line}"
    )
    return InputError(f"{error.label}: {where}{rest}", hint=error.hint)


def _pandas_parser(shape: DelimitedLayout, options: ReadOptions) -> Any:
    import pandas as pd

    decided = shape.layout
    text_columns = {i: str for i in (decided.id, decided.label) if i is not None}
    sep = r"\s+" if shape.delimiter == WHITESPACE else shape.delimiter

    def parse(data: bytes) -> Any:
        """A frame, or the exception to raise when this block's turn comes."""
        try:
            return pd.read_csv(
                io.BytesIO(data),
                sep=sep,
                header=None,
                # No usecols: with it pandas silently drops the extra fields of a
                # ragged row, and a ragged row must be an error.
                dtype=text_columns,
                decimal=options.decimal,
                encoding="utf-8",  # pandas drops a UTF-8 BOM itself
                skip_blank_lines=False,
                engine="c",
            )
        except pd.errors.EmptyDataError:
            return None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            return exc

    return parse


def _split_rows(block: Block, rows: int) -> Iterator[Block]:
    """A parsed block in pieces of at most ``rows`` rows."""
    if len(block) <= rows:
        yield block
        return
    for lo in range(0, len(block), rows):
        hi = lo + rows
        yield Block(
            values=block.values[lo:hi],
            start=block.start + lo,
            ids=None if block.ids is None else block.ids[lo:hi],
            labels=None if block.labels is None else block.labels[lo:hi],
            lines=None if block.lines is None else block.lines[lo:hi],
            derived=None if block.derived is None else block.derived[lo:hi],
        )


def _chunk_block(chunk: Any, label: str, shape: DelimitedLayout, start: int, first_line: int) -> Block | None:
    """One parsed piece of text as a block of validated numbers (None if it held only blank lines)."""
    decided = shape.layout
    if chunk.empty:
        return None
    if chunk.shape[1] > shape.width:
        extra = chunk.iloc[:, shape.width :].notna().any(axis=1).to_numpy()
        row = int(extra.argmax())
        fields = int(chunk.iloc[row].notna().sum())
        raise InputError(
            f"{label}: line {first_line + row}: has {fields} fields, expected {shape.width}",
            hint="every row needs the same number of columns",
        )
    if chunk.shape[1] < shape.width:
        raise InputError(
            f"{label}: line {first_line}: has {chunk.shape[1]} fields, expected {shape.width}",
            hint="every row needs the same number of columns",
        )
    values = _fast_values(chunk, decided.outcomes)
    if values is None:
        # Something is missing or not a number: blank lines arrive as all-empty
        # rows and are dropped (their line numbers are kept); anything else is
        # located and reported.
        blank = chunk.isna().all(axis=1).to_numpy()
        if blank.any():
            chunk = chunk[~blank]
        if chunk.empty:
            return None
        lines = chunk.index.to_numpy() + first_line
        values = _numeric_values(chunk[decided.outcomes], label, start, lines, decided)
    else:
        lines = chunk.index.to_numpy() + first_line
    ids = chunk[decided.id].fillna("").astype(str).tolist() if decided.id is not None else None
    labels = chunk[decided.label].fillna("").astype(str).tolist() if decided.label is not None else None
    return Block(values=values, start=start, ids=ids, labels=labels, lines=lines)


def _fast_values(chunk: Any, columns: list[int]) -> NDArray[Any] | None:
    """The outcome columns as float64 when every cell is a number (the common case), else None."""
    import numpy as np

    if not all(chunk[c].dtype.kind in "fiu" for c in columns):
        return None
    frame = chunk if list(chunk.columns) == columns else chunk[columns]
    values: NDArray[Any] = frame.to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        return None
    return values


def _where(label: str, decided: rule.Layout, column: int) -> str:
    where = f"{label}: row {{row}} (line {{line}}), column {column + 1}"
    if decided.header and decided.names is not None:
        where += f" ({decided.names[column]!r})"
    return where


def _numeric_values(
    frame: Any,
    label: str,
    start: int,
    lines: NDArray[Any],
    decided: rule.Layout,
) -> NDArray[Any]:
    """The outcome columns as a float64 matrix; the first bad cell is an error."""
    import numpy as np
    import pandas as pd

    columns = []
    for column in frame.columns:
        series = frame[column]
        where = _where(label, decided, column)
        if series.dtype.kind not in "fiu":
            numbers = pd.to_numeric(series, errors="coerce")
            bad = (numbers.isna() & series.notna()).to_numpy()
            if bad.any():
                row = int(np.argmax(bad))
                raise _not_a_number(where.format(row=start + row + 1, line=lines[row]), str(series.iloc[row]))
            series = numbers
        array = series.to_numpy(dtype=np.float64)
        missing = np.isnan(array)
        if missing.any():
            row = int(np.argmax(missing))
            raise InputError(
                where.format(row=start + row + 1, line=lines[row]) + ": value is missing or NaN",
                hint="fill it in or remove the row",
            )
        columns.append(array)
    return np.column_stack(columns)


def _not_a_number(where: str, text: str) -> InputError:
    hint = "outcome columns must hold only numbers"
    if "," in text:
        hint += "; for decimal commas use --decimal ,"
    return InputError(f"{where}: {short(text)} is not a number", hint=hint)


# --- wide rows ----------------------------------------------------------------------------------


class _Located(InputError):
    """An error found inside a block, positioned relative to it (row, line, rest of the message)."""

    def __init__(self, label: str, located: tuple[int | None, int, str], hint: str | None = None) -> None:
        super().__init__(f"{label}: line {located[1]}{located[2]}", hint)
        self.label = label
        self.located = located


def _wide_parser(shape: DelimitedLayout, label: str) -> Any:
    """Parse a block of wide rows with NumPy: ``(values, ids, labels, lines)`` or an error."""
    import numpy as np

    decided = shape.layout
    delimiter = None if shape.delimiter == WHITESPACE else shape.delimiter

    def cell(line: str, column: int) -> str:
        if delimiter is not None and '"' not in line[: line.find(delimiter, 0) + 1 or None]:
            parts = line.split(delimiter, column + 1)
            if len(parts) > column and '"' not in parts[column]:
                return parts[column].strip()
        fields = line.split() if delimiter is None else next(csv.reader([line], delimiter=delimiter))
        return fields[column].strip() if column < len(fields) else ""

    def parse(data: bytes) -> Any:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return exc
        physical = text.split("\n")
        if physical and physical[-1] == "":
            physical.pop()
        lines = [i + 1 for i, line in enumerate(physical) if line.strip()]
        rows = [physical[i - 1] for i in lines]
        if not rows:
            return None
        try:
            values = np.loadtxt(
                io.StringIO("\n".join(rows)),
                delimiter=delimiter,
                dtype=np.float64,
                ndmin=2,
                usecols=decided.outcomes,
                comments=None,
                quotechar='"' if delimiter is not None else None,
            )
            counts_ok = True
        except (ValueError, IndexError):
            values = None
            counts_ok = False
        if counts_ok:
            # loadtxt ignores fields beyond usecols: check every row's width.
            for row_index, line in enumerate(rows):
                n = (
                    len(line.split())
                    if delimiter is None
                    else line.count(delimiter) + 1
                    if '"' not in line
                    else len(next(csv.reader([line], delimiter=delimiter)))
                )
                if n != shape.width:
                    return _ragged(label, lines[row_index], n, shape.width)
        if values is None or np.isnan(values).any():
            return _locate_bad_cell(label, decided, rows, lines, delimiter, shape.width)
        ids = [cell(line, decided.id) for line in rows] if decided.id is not None else None
        labels = [cell(line, decided.label) for line in rows] if decided.label is not None else None
        return values, ids, labels, lines, len(physical)

    return parse


def _ragged(label: str, line: int, fields: int, width: int) -> _Located:
    return _Located(
        label,
        (None, line, f": has {fields} fields, expected {width}"),
        hint="every row needs the same number of columns",
    )


def _locate_bad_cell(
    label: str, decided: rule.Layout, rows: list[str], lines: list[int], delimiter: str | None, width: int
) -> _Located:
    for row_index, line in enumerate(rows):
        fields = line.split() if delimiter is None else next(csv.reader([line], delimiter=delimiter))
        if len(fields) != width:
            return _ragged(label, lines[row_index], len(fields), width)
        for column in decided.outcomes:
            text = fields[column]
            kind = rule.cell_kind(text)
            if kind in (rule.INT, rule.DEC) and text.strip().lower() not in ("nan", "-nan", "+nan"):
                continue
            name = f" ({decided.names[column]!r})" if decided.header and decided.names is not None else ""
            rest = f", column {column + 1}{name}: "
            if kind == rule.TEXT:
                error = _not_a_number("x", text)
                rest += error.message.split(": ", 1)[1]
                hint = error.hint
            else:
                rest += "value is missing or NaN"
                hint = "fill it in or remove the row"
            return _Located(label, (row_index, lines[row_index], rest), hint=hint)
    return _Located(label, (None, lines[0], ": cannot parse"))  # pragma: no cover


def _wide_block(
    parsed: Any, shape: DelimitedLayout, label: str, start: int, first_line: int
) -> tuple[Block | None, int]:
    import numpy as np

    values, ids, labels, lines, n_lines = parsed
    line_numbers = np.asarray(lines, dtype=np.int64) + (first_line - 1)
    return Block(values=values, start=start, ids=ids, labels=labels, lines=line_numbers), n_lines
