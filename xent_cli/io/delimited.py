"""CSV / TSV (and whitespace-separated text, as ``np.savetxt`` writes it): sample, layout, rows.

The first lines (up to a few thousand, and always at least two data rows, however wide)
are sampled and described to :func:`xent_cli.io.layout.decide`, which says what each
column is. The rows are parsed by pandas' C parser, in pieces on two threads
(:func:`xent_cli.io.csvparse.parallel_frames`, which falls back to one stream where a
piece cannot stand on its own), or, for rows wider than :data:`WIDE_COLUMNS` (vocabularies), by NumPy's
``loadtxt``, whose cost does not grow with the number of columns per row.
"""

from __future__ import annotations

import csv
import io
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING, Any

from xent_cli.errors import InputError, option
from xent_cli.io import layout as rule
from xent_cli.io.csvparse import (
    LONG_LINE_HINT,
    PARSE_THREADS,
    WHITESPACE,
    DelimitedLayout,
    LineLimitedStream,
    decode_error,
    parallel_frames,
)
from xent_cli.io.layout_types import ID_SEPARATOR
from xent_cli.io.sources import OpenedSource
from xent_cli.io.table import (
    READ_AHEAD,
    Block,
    ReadOptions,
    Table,
    checked_weights,
    max_line_bytes,
    read_ahead,
    short,
    size_text,
)
from xent_cli.system import usable_cpus

if TYPE_CHECKING:
    from numpy.typing import NDArray

DELIMITERS = (",", ";", "\t", "|")
# A wide row's line, split by a wrong candidate delimiter, is one huge field.
csv.field_size_limit(min(sys.maxsize, 1 << 62))
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
    # Comment lines (a np.savetxt header or footer) say nothing of how the data split.
    sample = [line for line in sample if not line.lstrip().startswith("#")] or sample
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
    # Lines before ``first`` that the parser is told to skip (comments, blank lines), not
    # counting the blank prefix dropped from the stream itself.
    skipped_lines: int


def _decoded(opened: OpenedSource, data: bytes, complete: bool) -> str:
    if b"\x00" in data[:4096]:
        raise InputError(
            f"{opened.label}: looks like binary data, not {opened.format.upper()} text",
            hint=f"use {option('input_format')} to say what it is",
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
    """Enough whole lines from the start to decide the layout (see the module docstring).

    Only the layout is decided from this sample; the rows themselves are parsed by pandas
    from the start of the data (:func:`frames`), so nothing here can lose or change a row.
    """
    label = opened.label
    limit = max_line_bytes()
    prefix_lines = opened.drop_blank_prefix()
    if opened.lone_cr_before_data and opened.head[:1] in (b",", b";", b"\t", b"|"):
        # pandas reads a lone CR before a delimiter its own way (the empty field after it
        # vanishes): refused rather than read differently.
        raise InputError(
            f"{label}: line {prefix_lines + 1} starts with a delimiter right after a lone carriage return",
            hint="convert the line ends first, e.g. tr '\\r' '\\n'",
        )
    while True:
        head = opened.head
        complete = opened.eof
        if b"\r" in head:
            # Line ends as pandas reads them: CRLF, a lone CR and LF each end a line.
            head = head.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if not complete and head.endswith(b"\n") and opened.head.endswith(b"\r"):
                head = head[:-1]  # its LF may come with the next read
        cut = len(head) if complete else even_quote_cut(head)
        text = _decoded(opened, head[:cut], complete)
        nonblank = sum(1 for line in text.splitlines()[: rule.SAMPLE_ROWS + 50] if line.strip())
        if complete or nonblank > rule.SAMPLE_ROWS or (cut >= SAMPLE_BYTES and nonblank >= 3):
            break
        if len(head) - cut > limit:
            raise InputError(
                f"{label}: line {prefix_lines + text.count(chr(10)) + 1} is longer than {size_text(limit)}",
                hint=LONG_LINE_HINT,
            )
        opened.peek(max(2 * len(opened.head), 1 << 16))
    lines = text.split("\n")
    # Blank lines, and comment lines (np.savetxt writes its header as "# a,b,c").
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
    lines_before_data = prefix_lines + skipped + (reader.line_num if reader is not None else 1)
    rows: list[list[str]] = []
    budget = max(2, min(rule.SAMPLE_ROWS, rule.SAMPLE_CELLS // max(1, len(first))))
    for record in records:
        if not record or not any(cell.strip() for cell in record):
            continue
        rows.append(record)
        if len(rows) >= budget:
            complete = False
            break
    return _Parsed(
        delimiter,
        comment_cells,
        first,
        prefix_lines + skipped + 1,
        rows,
        complete,
        lines_before_data,
        skipped,
    )


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
    skip = parsed.skipped_lines + (1 if decided.header else 0)
    first_data_line = parsed.lines_before_data + 1 if decided.header else parsed.first_line
    prefix_lines = parsed.first_line - 1 - parsed.skipped_lines
    skip_lines = parsed.lines_before_data - prefix_lines if decided.header else parsed.skipped_lines
    shape = DelimitedLayout(
        parsed.delimiter, decided, width, skip, first_data_line, prepended and decided.header, skip_lines
    )
    return shape, sample


def read_delimited(opened: OpenedSource, options: ReadOptions) -> Table:
    shape, _ = describe(opened, options)
    decided = shape.layout
    if options.weight_column is not None:
        names = decided.names if decided.header else None
        index = rule._find(options.weight_column, names, shape.width, opened.label, option("weights"))
        shape = replace(shape, weights=index)
    label = opened.label
    table = Table(
        label=label,
        outcomes=decided.outcome_names,
        id_name=decided.id_name,
        make_blocks=lambda: _blocks(opened, options, shape),
        line_of=lambda row: line_of_row(opened, shape, row),
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


def line_of_row(opened: OpenedSource, shape: DelimitedLayout, row: int) -> int | None:
    """The file line where data row ``row`` (0-based) starts, for a message; None if unknown.

    Found after the fact, on the way to an error, by reading the file again (a regular
    file, or data small enough to be held whole; only its first few million lines).
    """
    path = opened.source.path
    if opened.plain and path is not None:
        try:
            file: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed below
            file.seek(opened.dropped)
        except OSError:
            return None
    elif opened.eof:  # a pipe or compressed data held whole in the sample
        file = io.BytesIO(opened.head)
    else:
        return None
    try:
        with file:
            text = io.TextIOWrapper(file, encoding="utf-8", errors="replace", newline="")
            if shape.delimiter == WHITESPACE:
                records: Iterator[list[str]] = (line.split() for line in text)
                reader = None
            else:
                reader = csv.reader(text, delimiter=shape.delimiter)
                records = reader
            skip = shape.skip_records
            found = -1
            line = 0  # the physical lines read so far
            for record in records:
                start = line + 1
                line = reader.line_num if reader is not None else line + 1
                if line > LINE_SEARCH_LIMIT:
                    return None
                if skip:
                    skip -= 1
                    continue
                if len(record) <= 1 and not any(cell.strip() for cell in record):
                    continue  # a blank line, which pandas skips
                found += 1
                if found == row:
                    return shape.lines_before_stream + start
    except (OSError, csv.Error):
        return None
    return None


# Lines read again, at most, to name the line of a bad row.
LINE_SEARCH_LIMIT = 4_000_000


def _blocks(opened: OpenedSource, options: ReadOptions, shape: DelimitedLayout) -> Iterator[Block]:
    """The rows, parsed on a thread of their own a few blocks ahead of the computation."""
    wide = len(shape.layout.outcomes) > WIDE_COLUMNS and options.decimal == "."
    rows = _wide_rows(opened, options, shape) if wide else _pandas_rows(opened, options, shape)
    return read_ahead(rows, READ_AHEAD, f"xent-read {opened.label}")


def _pandas_rows(opened: OpenedSource, options: ReadOptions, shape: DelimitedLayout) -> Iterator[Block]:
    decided = shape.layout
    # The weights column is inferred like the outcomes (numbers, parsed in C); a column
    # of text is read as text and its first bad cell named.
    text_columns = {i: str for i in (*decided.id_columns, decided.label) if i is not None}
    rows = options.rows_per_block(len(decided.outcomes))
    workers = min(PARSE_THREADS, usable_cpus())
    start = 0
    for frame in parallel_frames(
        opened, shape, options, rows=rows, text_columns=text_columns, workers=workers
    ):
        if frame.empty:
            continue
        block = _frame_block(frame, opened, shape, start)
        start += len(block)
        yield block
    if start == 0:
        raise InputError(f"{opened.label}: has no data rows")


def _frame_block(frame: Any, opened: OpenedSource, shape: DelimitedLayout, start: int) -> Block:
    """One frame of rows as a block of validated numbers."""
    decided = shape.layout
    label = opened.label

    def where(row: int, column: int | None = None) -> str:
        text = f"{label}: row {start + row + 1}"
        line = line_of_row(opened, shape, start + row)
        if line is not None:
            text += f" (line {line})"
        if column is not None:
            text += f", column {column + 1}"
            if decided.header and decided.names is not None:
                text += f" ({decided.names[column]!r})"
        return text

    if frame.shape[1] != shape.width:
        raise InputError(
            f"{where(0)}: has {frame.shape[1]} fields, expected {shape.width}",
            hint="every row needs the same number of columns",
        )
    values = _fast_values(frame, decided.outcomes)
    if values is None:
        values = _numeric_values(frame, decided.outcomes, where)
    ids = frame_ids(frame, decided.id_columns)
    labels = frame[decided.label].fillna("").astype(str).tolist() if decided.label is not None else None
    weights = None if shape.weights is None else _frame_weights(frame[shape.weights], opened, shape, start)
    return Block(values=values, start=start, ids=ids, labels=labels, weights=weights)


def frame_ids(frame: Any, id_columns: tuple[int, ...], strip: bool = False) -> list[str] | None:
    """Each row's id as text: the id column's cell, or a MultiIndex's cells joined ("10|0")."""
    if not id_columns:
        return None
    parts = []
    for c in id_columns:
        texts = frame[c].fillna("").astype(str)
        parts.append((texts.str.strip() if strip else texts).tolist())
    if len(parts) == 1:
        return list(parts[0])
    return [ID_SEPARATOR.join(row) for row in zip(*parts, strict=True)]


def _frame_weights(series: Any, opened: OpenedSource, shape: DelimitedLayout, start: int) -> NDArray[Any]:
    """A frame's weights column (``--weights``), checked; pandas read numbers as numbers already."""
    import pandas as pd

    column = _weights_name(shape)
    if series.dtype.kind in "fiu":
        return checked_weights(series.to_numpy(), opened.label, column, start)
    texts = series.astype(object).where(series.notna(), "").astype(str)
    numbers = pd.to_numeric(texts.str.strip(), errors="coerce").to_numpy(dtype="float64")
    return checked_weights(numbers, opened.label, column, start, lambda row: str(texts.iloc[row]).strip())


def _weights_name(shape: DelimitedLayout) -> str:
    """The weights column as ``--weights`` named it: by its header, else by its 1-based number."""
    assert shape.weights is not None
    names = shape.layout.names if shape.layout.header else None
    return names[shape.weights].strip() if names is not None else str(shape.weights + 1)


def _fast_values(frame: Any, columns: list[int]) -> NDArray[Any] | None:
    """The outcome columns as float64 when every cell is a number (the common case), else None."""
    import numpy as np

    if not all(frame[c].dtype.kind in "fiu" for c in columns):
        return None
    # Row-major, as the kernels take them (pandas' to_numpy gives the transpose of its
    # column blocks, which cost a second copy later), filled a column at a time.
    values: NDArray[Any] = np.empty((len(frame), len(columns)))
    for j, c in enumerate(columns):
        values[:, j] = frame[c].to_numpy()
    if np.isnan(values).any():
        return None
    return values


def _numeric_values(frame: Any, columns: list[int], where: Callable[[int, int], str]) -> NDArray[Any]:
    """The outcome columns as a float64 matrix; the first bad cell is an error."""
    import numpy as np
    import pandas as pd

    arrays = []
    for column in columns:
        series = frame[column]
        if series.dtype.kind == "b":  # pandas reads True/False as booleans: text here
            series = series.astype(object).astype(str)
        if series.dtype.kind not in "fiu":
            numbers = pd.to_numeric(series, errors="coerce")
            bad = (numbers.isna() & series.notna()).to_numpy()
            if bad.any():
                row = int(np.argmax(bad))
                raise _not_a_number(where(row, column), str(series.iloc[row]))
            series = numbers
        array = series.to_numpy(dtype=np.float64)
        missing = np.isnan(array)
        if missing.any():
            row = int(np.argmax(missing))
            raise InputError(
                where(row, column) + ": value is missing or NaN", hint="fill it in or remove the row"
            )
        arrays.append(array)
    return np.column_stack(arrays)


def _not_a_number(where: str, text: str) -> InputError:
    hint = "outcome columns must hold only numbers"
    if text.lstrip().startswith("#"):
        # np.savetxt(footer=...): np.loadtxt skips comment lines anywhere, pandas (and xent)
        # only the ones before the data.
        hint = "a comment line? '#' lines are skipped only before the data: remove it (a np.savetxt footer)"
    elif "," in text:
        hint += f"; for decimal commas use {option('decimal')} ,"
    return InputError(f"{where}: {short(text)} is not a number", hint=hint)


# --- wide rows ----------------------------------------------------------------------------------


def _wide_rows(opened: OpenedSource, options: ReadOptions, shape: DelimitedLayout) -> Iterator[Block]:
    """Rows wider than :data:`WIDE_COLUMNS`, parsed by NumPy's ``loadtxt`` a block of lines at a time.

    pandas' cost grows with the columns of each frame; ``loadtxt``'s does not. Lines come
    from Python's text layer, which ends them where pandas does (LF, CRLF, a lone CR);
    blank lines are skipped as pandas skips them. A quoted field that spans lines is
    refused rather than guessed at.
    """
    import numpy as np

    decided = shape.layout
    label = opened.label
    delimiter = None if shape.delimiter == WHITESPACE else shape.delimiter
    stream = LineLimitedStream(opened.raw_stream(), max_line_bytes(), label)
    text = io.TextIOWrapper(io.BufferedReader(stream), encoding="utf-8", newline=None)
    rows_per_block = options.rows_per_block(len(decided.outcomes))
    line_offset = shape.lines_before_stream
    start = 0
    physical = 0
    lines: list[str] = []
    numbers: list[int] = []

    def block() -> Block:
        values = _wide_values(lines, numbers, decided, delimiter, shape.width, label, start)
        ids = (
            [ID_SEPARATOR.join(_cell(line, c, delimiter) for c in decided.id_columns) for line in lines]
            if decided.id is not None
            else None
        )
        labels = (
            [_cell(line, decided.label, delimiter) for line in lines] if decided.label is not None else None
        )
        weights = None
        if shape.weights is not None:
            texts = [_cell(line, shape.weights, delimiter) for line in lines]
            numbers_of = [_weight_number(text) for text in texts]
            weights = checked_weights(
                np.asarray(numbers_of), label, _weights_name(shape), start, lambda row: texts[row]
            )
        return Block(
            values=values,
            start=start,
            ids=ids,
            labels=labels,
            lines=np.asarray(numbers, dtype=np.int64),
            weights=weights,
        )

    try:
        for line in text:
            physical += 1
            if physical <= shape.skip_records or not line.strip():
                continue
            if line.count('"') % 2:
                raise InputError(
                    f"{label}: line {line_offset + physical}: a quoted field spans lines in a row of "
                    f"{shape.width} columns",
                    hint="rows this wide are read a line at a time: remove the line break from the field",
                )
            lines.append(line)
            numbers.append(line_offset + physical)
            if len(lines) >= rows_per_block:
                yield block()
                start += len(lines)
                lines, numbers = [], []
        if lines:
            yield block()
            start += len(lines)
    except UnicodeDecodeError as exc:
        raise decode_error(label, exc) from None
    finally:
        text.close()
    if start == 0:
        raise InputError(f"{label}: has no data rows")


def _weight_number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _cell(line: str, column: int, delimiter: str | None) -> str:
    """The text of one cell of a line (cheaply, when nothing before it is quoted)."""
    if delimiter is not None and '"' not in line[: line.find(delimiter, 0) + 1 or None]:
        parts = line.split(delimiter, column + 1)
        if len(parts) > column and '"' not in parts[column]:
            return parts[column].strip()
    fields = line.split() if delimiter is None else next(csv.reader([line], delimiter=delimiter))
    return fields[column].strip() if column < len(fields) else ""


def _fields(line: str, delimiter: str | None) -> list[str]:
    return line.split() if delimiter is None else next(csv.reader([line], delimiter=delimiter))


def _wide_values(
    lines: list[str],
    numbers: list[int],
    decided: rule.Layout,
    delimiter: str | None,
    width: int,
    label: str,
    start: int,
) -> NDArray[Any]:
    """The outcome columns of whole lines as float64; a ragged row or bad cell is an error."""
    import numpy as np

    try:
        values = np.loadtxt(
            lines,
            delimiter=delimiter,
            dtype=np.float64,
            ndmin=2,
            usecols=decided.outcomes,
            comments=None,
            quotechar='"' if delimiter is not None else None,
        )
    except (ValueError, IndexError):
        values = None
    clean = values is not None and not np.isnan(values).any()
    for index, line in enumerate(lines):
        # loadtxt ignores fields beyond usecols: every row's width is checked here; the
        # first row with a problem, in file order, is the one reported.
        if clean and delimiter is not None and '"' not in line:
            n = line.count(delimiter) + 1
            fields = None
        else:
            fields = _fields(line, delimiter)
            n = len(fields)
        if n != width:
            raise InputError(
                f"{label}: line {numbers[index]}: has {n} fields, expected {width}",
                hint="every row needs the same number of columns",
            )
        if clean or fields is None:
            continue
        for column in decided.outcomes:
            cell = fields[column]
            kind = rule.cell_kind(cell)
            if kind in (rule.INT, rule.DEC) and cell.strip().lower() not in ("nan", "-nan", "+nan"):
                continue
            name = f" ({decided.names[column]!r})" if decided.header and decided.names is not None else ""
            where = f"{label}: row {start + index + 1} (line {numbers[index]}), column {column + 1}{name}"
            if kind == rule.TEXT:
                raise _not_a_number(where, cell)
            raise InputError(where + ": value is missing or NaN", hint="fill it in or remove the row")
    if clean:
        assert values is not None
        return values
    raise InputError(f"{label}: line {numbers[0]}: cannot parse")  # pragma: no cover
