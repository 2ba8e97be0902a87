"""Readers: turn a source into a :class:`Table` that yields blocks of rows.

A table knows its outcome names (if any), its row ids (if any) and how to say
where a row came from ("row 17 (line 18)"). Its rows arrive in blocks, so a
file larger than memory can be processed block by block.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from xent_cli.errors import InputError, UsageError
from xent_cli.io.sources import SNIFF_BYTES, Format, OpenedSource, Source, open_source

if TYPE_CHECKING:
    from numpy.typing import NDArray

DEFAULT_BLOCK_ROWS = 65_536
_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class ReadOptions:
    """How to read a source; one of these per source."""

    input_format: Format | None = None
    encoding: str | None = None
    delimiter: str | None = None
    no_header: bool = False
    columns: tuple[str, ...] | None = None
    id_column: str | None = None
    decimal: str = "."
    label_column: str | None = None
    block_rows: int = DEFAULT_BLOCK_ROWS
    # Text is cut into blocks of about this many bytes, each parsed by pandas'
    # C parser on a small thread pool (the tokenizer releases the GIL), in order.
    block_bytes: int = 2 << 20
    # Threads parsing text blocks ahead of the computation.
    parse_workers: int = 2


@dataclass
class Block:
    """Consecutive rows of a table.

    ``start`` is the 0-based index of the first row in the table; ``lines``
    holds the 1-based line of each row in a text file, where known.
    """

    values: NDArray[Any]
    start: int
    ids: list[str] | None = None
    labels: list[str] | None = None
    # A list, or an integer array for large text files.
    lines: Any = None

    def __len__(self) -> int:
        return int(self.values.shape[0])


@dataclass
class Table:
    """Rows of numbers from one source, delivered in blocks."""

    label: str
    outcomes: list[str] | None
    id_name: str | None
    make_blocks: Callable[[], Iterator[Block]]
    # 1-based positions of the outcome columns in the file, for messages.
    outcome_positions: list[int] | None = None
    # True when ReadOptions.label_column named a column of this table.
    has_labels: bool = False
    # Set when each outcome is a row of the file (a one-column table): the
    # line each came from, or an empty list when lines are unknown.
    outcome_lines: list[int] | None = None
    notes: list[str] = field(default_factory=list)
    # Releases the open file, whether or not the blocks were read.
    close: Callable[[], None] = lambda: None
    # Number of outcome columns, for tables whose outcomes have no names.
    width: int | None = None

    def blocks(self) -> Iterator[Block]:
        return self.make_blocks()

    @property
    def n_outcomes(self) -> int | None:
        return len(self.outcomes) if self.outcomes is not None else self.width

    def where(self, block: Block, row: int | None, column: int | None = None) -> str:
        """Describe a position for a message: ``q.csv: row 17 (line 18), column 3 ('dog')``."""
        text = self.label
        if self.outcome_lines is not None:
            # Outcomes are file rows here, so an outcome is reported as a row.
            if column is not None:
                text += f": row {column + 1}"
                if len(self.outcome_lines):
                    text += f" (line {self.outcome_lines[column]})"
            return text
        if row is not None:
            text += f": row {block.start + row + 1}"
            if block.lines is not None:
                text += f" (line {block.lines[row]})"
        if column is not None:
            position = self.outcome_positions[column] if self.outcome_positions else column + 1
            text += (", " if row is not None else ": ") + f"column {position}"
            if self.outcomes is not None:
                text += f" ({self.outcomes[column]!r})"
        return text


def read(source: Source, options: ReadOptions) -> Table:
    """Open ``source`` and return its table; validation of values comes later."""
    if source.inline is not None:
        return _read_inline(source, options)
    if source.shards is not None:
        raise UsageError(
            f"{source.label}: is {len(source.shards)} shards; this reads one file",
            hint="shards work with entropy, cross-entropy, kl, js, compare and loss",
        )
    opened = open_source(source, options.input_format, options.encoding)
    readers = {
        "csv": _read_delimited,
        "tsv": _read_delimited,
        "json": _read_json,
        "jsonl": _read_jsonl,
        "npy": _read_npy,
    }
    try:
        table = readers[opened.format](opened, options)
    except BaseException:
        opened.stream.close()
        raise
    table.close = opened.stream.close
    return table


# --- numbers -------------------------------------------------------------------


def _parse_number(text: str, decimal: str = ".") -> float | None:
    """A float from a cell, or None when it is not a number."""
    text = text.strip()
    if decimal != ".":
        text = text.replace(decimal, ".")
    try:
        return float(text)
    except ValueError:
        return None


def _is_number(text: str, decimal: str = ".") -> bool:
    return _parse_number(text, decimal) is not None


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(text: object, limit: int = 40) -> str:
    """Offending text for a message: quoted, and cut short if long."""
    return repr(_clip(str(text), limit))


# --- inline --------------------------------------------------------------------


def _read_inline(source: Source, options: ReadOptions) -> Table:
    import numpy as np

    assert source.inline is not None
    text = source.inline.strip()
    decimal = options.decimal
    if text.startswith("[") and text.endswith("]"):  # a JSON list: [0.5, 0.5], whatever --decimal says
        text, decimal = text[1:-1], "."
    separator = ";" if decimal == "," or ";" in text else ","
    items = [item.strip() for item in text.split(separator)]
    names: list[str] | None = None
    if "=" in text:
        pairs = [item.split("=", 1) for item in items]
        names = [name.strip() for name, _ in pairs]
        items = [value for _, value in pairs]
        _check_unique(names, source.label)
    values = []
    for item in items:
        number = _parse_number(item, decimal)
        if number is None:  # pragma: no cover - the inline pattern admits only numbers
            raise InputError(f"{source.label}: {_short(item)} is not a number")
        values.append(number)
    array = np.array([values], dtype=np.float64)
    return Table(
        label=source.label,
        outcomes=names,
        id_name=None,
        make_blocks=lambda: iter([Block(values=array, start=0)]),
        width=len(values),
    )


def _check_unique(names: Sequence[str], label: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(f"{label}: outcome {name!r} appears twice", hint="outcome names must be unique")
        seen.add(name)


# --- CSV / TSV -------------------------------------------------------------------


def _decode_sample(opened: OpenedSource) -> str:
    head = opened.head
    if b"\x00" in head[:4096]:
        raise InputError(
            f"{opened.label}: looks like binary data, not {opened.format.upper()} text",
            hint="use --input-format to say what it is",
        )
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        cut_by_sample_end = len(head) >= SNIFF_BYTES and "unexpected end" in exc.reason
        if not cut_by_sample_end:
            raise _decode_error(opened.label, exc) from None
        text = head[: exc.start].decode("utf-8-sig")
    # Drop a possibly cut last line; keep it when it is the whole sample.
    if len(head) >= SNIFF_BYTES and "\n" in text:
        text = text[: text.rindex("\n")]
    return text


def sniff_delimiter(lines: list[str], decimal: str = ".", fallback: str = ",") -> str:
    """The candidate delimiter that splits the first lines most consistently."""
    candidates = [d for d in _DELIMITERS if d != decimal]
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
    return best


@dataclass
class _Layout:
    delimiter: str
    header: list[str] | None
    outcome_indices: list[int]
    id_index: int | None
    label_index: int | None
    ignored: list[str]
    width: int


def _column_index(spec: str, header: list[str] | None, label: str, option: str) -> int:
    if header is not None and spec in header:
        return header.index(spec)
    if spec.isdigit() and 1 <= int(spec) <= (len(header) if header else 10**9):
        return int(spec) - 1
    known = ", ".join(header) if header else "none (the file has no header)"
    raise InputError(
        f"{label}: {option} {spec!r} names no column",
        hint=f"columns are: {known}; or give a 1-based column number",
    )


def _layout(opened: OpenedSource, options: ReadOptions) -> _Layout:
    label = opened.label
    text = _decode_sample(opened)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputError(f"{label}: is empty", hint="expected rows of numbers")
    if options.delimiter is not None:
        delimiter = options.delimiter
    elif opened.format == "tsv":
        delimiter = "\t"
    else:
        delimiter = sniff_delimiter(lines, options.decimal)
    rows = list(csv.reader(lines[:3], delimiter=delimiter))
    first = rows[0]
    second = rows[1] if len(rows) > 1 else None
    header: list[str] | None = None
    if not options.no_header:
        # A header: some cell of the first row is not a number where the next
        # row's is (or, with a single line, no cell is a number).
        if second is not None:
            is_header = any(
                not _is_number(a, options.decimal) and _is_number(b, options.decimal)
                for a, b in zip(first, second, strict=False)
            )
        else:
            is_header = not any(_is_number(a, options.decimal) for a in first)
        if is_header:
            header = [name.strip() for name in first]
    data = second if header is not None else first
    if data is None:
        raise InputError(f"{label}: has a header but no data rows")
    width = len(header) if header is not None else len(data)
    if header is not None:
        _check_unique([h for h in header if h], label)

    id_index = _column_index(options.id_column, header, label, "--id") if options.id_column else None
    # A --target that names no column is not an error here: it may be a source.
    label_index = (
        header.index(options.label_column)
        if options.label_column and header is not None and options.label_column in header
        else None
    )
    reserved = {i for i in (id_index, label_index) if i is not None}
    if options.columns:
        outcome_indices = [_column_index(c, header, label, "--columns") for c in options.columns]
        clash = reserved.intersection(outcome_indices)
        if clash:
            raise UsageError(f"{label}: column {min(clash) + 1} is both an outcome and the id or target")
    else:
        outcome_indices = [
            i
            for i in range(width)
            if i not in reserved
            and i < len(data)
            and (data[i].strip() == "" or _is_number(data[i], options.decimal))
        ]
    textual = [i for i in range(width) if i not in outcome_indices and i not in reserved]
    if id_index is None and textual and not options.columns:
        id_index = textual.pop(0)
    elif id_index is None and textual and options.columns:
        id_index = None
    if not outcome_indices:
        raise InputError(
            f"{label}: has no numeric columns",
            hint="check --delimiter, or --decimal , for decimal commas",
        )
    ignored = [header[i] if header else f"column {i + 1}" for i in textual]
    return _Layout(delimiter, header, outcome_indices, id_index, label_index, ignored, width)


def _read_delimited(opened: OpenedSource, options: ReadOptions) -> Table:
    layout = _layout(opened, options)
    label = opened.label
    header = layout.header
    outcomes = [header[i] for i in layout.outcome_indices] if header else None
    id_name = header[layout.id_index] if header and layout.id_index is not None else None
    table = Table(
        label=label,
        outcomes=outcomes,
        id_name=id_name,
        make_blocks=lambda: _delimited_blocks(opened, options, layout),
        outcome_positions=[i + 1 for i in layout.outcome_indices],
        has_labels=layout.label_index is not None,
        width=len(layout.outcome_indices),
    )
    if layout.ignored:
        table.notes.append(f"{label}: ignoring non-numeric column(s) {', '.join(layout.ignored)}")
    return table


def _parser_error(label: str, exc: Exception, line_offset: int = 0) -> InputError:
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
    if isinstance(exc, UnicodeDecodeError):
        return _decode_error(label, exc)
    return InputError(f"{label}: cannot parse: {text.splitlines()[0] if text else exc!r}")


def _decode_error(label: str, exc: UnicodeDecodeError) -> InputError:
    byte = exc.object[exc.start : exc.start + 1].hex() if exc.object else "?"
    return InputError(
        f"{label}: is not UTF-8 text (byte 0x{byte})",
        hint="name its encoding, e.g. --encoding latin-1 (or cp1252), or convert it with iconv",
    )


def _text_blocks(stream: IO[bytes], skip_lines: int, size: int) -> Iterator[tuple[int, bytes]]:
    """``(lines skipped before it, bytes)`` for whole lines of ``stream``, about ``size`` bytes at a time.

    The first ``skip_lines`` lines (a header) are dropped. A block never ends
    inside a quoted field (the number of quotes in it is even).
    """
    rest = b""
    skipped = 0
    while True:
        data = stream.read(size)
        buffer = rest + data if rest else data
        if not data:
            if buffer:
                yield skipped, buffer
            return
        cut = buffer.rfind(b"\n") + 1
        if cut and b'"' in buffer:
            while cut and buffer.count(b'"', 0, cut) % 2:
                cut = buffer.rfind(b"\n", 0, cut - 1) + 1
        if cut == 0:
            rest = buffer
            continue
        block, rest = buffer[:cut], buffer[cut:]
        while skip_lines and block:
            block = block[block.find(b"\n") + 1 :]
            skip_lines -= 1
            skipped += 1
        if block:
            yield skipped, block
            skipped = 0


def _delimited_blocks(opened: OpenedSource, options: ReadOptions, layout: _Layout) -> Iterator[Block]:
    import os
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    import pandas as pd

    label = opened.label
    text_columns = {i: str for i in (layout.id_index, layout.label_index) if i is not None}

    def parse(data: bytes) -> Any:
        """A frame, or the exception to raise when this block's turn comes."""
        try:
            return pd.read_csv(
                io.BytesIO(data),
                sep=layout.delimiter,
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

    workers = max(1, min(options.parse_workers, os.cpu_count() or 1))
    stream = opened.raw_stream()
    start = 0
    line = 1  # the file line of the next block's first line
    try:
        with ThreadPoolExecutor(workers) as pool:
            pending: deque[Any] = deque()
            texts = _text_blocks(
                stream, 1 if layout.header is not None else 0, max(1 << 16, options.block_bytes)
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
                if isinstance(chunk, Exception):
                    raise _parser_error(label, chunk, line - 1)
                if chunk is None or chunk.empty:
                    continue
                block = _chunk_block(chunk, label, layout, start, line)
                line += len(chunk)  # with skip_blank_lines=False, one row per line
                if block is not None:
                    start += len(block)
                    yield from _split_rows(block, options.block_rows)
        if start == 0:
            raise InputError(f"{label}: has no data rows")
    finally:
        stream.close()


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
        )


def _chunk_block(chunk: Any, label: str, layout: _Layout, start: int, first_line: int) -> Block | None:
    """One parsed piece of text as a block of validated numbers (None if it held only blank lines)."""
    if chunk.shape[1] > layout.width:
        extra = chunk.iloc[:, layout.width :].notna().any(axis=1).to_numpy()
        row = int(extra.argmax())
        fields = int(chunk.iloc[row].notna().sum())
        raise InputError(
            f"{label}: line {first_line + row}: has {fields} fields, expected {layout.width}",
            hint="every row needs the same number of columns",
        )
    if chunk.shape[1] < layout.width:
        raise InputError(
            f"{label}: line {first_line}: has {chunk.shape[1]} fields, expected {layout.width}",
            hint="every row needs the same number of columns",
        )
    values = _fast_values(chunk, layout)
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
        values = _numeric_values(chunk[layout.outcome_indices], label, start, lines, layout)
    else:
        lines = chunk.index.to_numpy() + first_line
    ids = chunk[layout.id_index].fillna("").astype(str).tolist() if layout.id_index is not None else None
    labels = (
        chunk[layout.label_index].fillna("").astype(str).tolist() if layout.label_index is not None else None
    )
    return Block(values=values, start=start, ids=ids, labels=labels, lines=lines)


def _fast_values(chunk: Any, layout: _Layout) -> NDArray[Any] | None:
    """The outcome columns as float64 when every cell is a number (the common case), else None."""
    import numpy as np

    columns = layout.outcome_indices
    if not all(chunk[c].dtype.kind in "fiu" for c in columns):
        return None
    frame = chunk if list(chunk.columns) == columns else chunk[columns]
    values: NDArray[Any] = frame.to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        return None
    return values


def _numeric_values(
    frame: Any,
    label: str,
    start: int,
    lines: NDArray[Any],
    layout: _Layout,
) -> NDArray[Any]:
    """The outcome columns as a float64 matrix; the first bad cell is an error."""
    import numpy as np
    import pandas as pd

    columns = []
    for column in frame.columns:
        series = frame[column]
        where = f"{label}: row {{row}} (line {{line}}), column {column + 1}"
        if layout.header is not None:
            where += f" ({layout.header[column]!r})"
        if series.dtype.kind not in "fiu":
            numbers = pd.to_numeric(series, errors="coerce")
            bad = (numbers.isna() & series.notna()).to_numpy()
            if bad.any():
                row = int(np.argmax(bad))
                text = str(series.iloc[row])
                hint = "outcome columns must hold only numbers"
                if "," in text:
                    hint += "; for decimal commas use --decimal ,"
                raise InputError(
                    where.format(row=start + row + 1, line=lines[row]) + f": {_short(text)} is not a number",
                    hint=hint,
                )
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


# --- JSON ------------------------------------------------------------------------


def _json_constant(name: str) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def _load_json(text: str, label: str, line: int | None = None) -> Any:
    try:
        return json.loads(text, parse_constant=_json_constant)
    except RecursionError:
        where = f"line {line}" if line is not None else "document"
        raise InputError(f"{label}: {where}: JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        where = f"line {line}" if line is not None else f"line {exc.lineno}, column {exc.colno}"
        raise InputError(f"{label}: {where}: invalid JSON: {exc.msg}") from None


def _json_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or value is None:
        raise InputError(f"{where}: {json.dumps(value)} is not a number")
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            raise InputError(f"{where}: {_clip(str(value))} is too large for a float64") from None
    if isinstance(value, str):
        number = _parse_number(value)
        if number is not None and value.strip().lower() in (
            "inf",
            "-inf",
            "+inf",
            "nan",
            "infinity",
            "-infinity",
        ):
            return number
    raise InputError(f"{where}: {_clip(json.dumps(value))} is not a number")


class _RowBuilder:
    """Collects JSON rows (lists or objects) into consistent blocks.

    For objects, the outcome names come from the first row; a key given as
    ``id_key`` (or else the first string-valued key) is the row id, and
    ``label_key`` (``--target``) is a label column.
    """

    def __init__(self, label: str, options: ReadOptions) -> None:
        self.label = label
        self.id_key = options.id_column
        self.label_key = options.label_column
        self.names: list[str] | None = None
        self.width: int | None = None
        self.objects: bool | None = None
        self.rows: list[list[float]] = []
        self.ids: list[str] = []
        self.labels: list[str] = []
        self.lines: list[int] = []

    def add(self, item: Any, where: str, line: int | None = None) -> None:
        """Append one row; ``where`` starts every message about it."""
        if isinstance(item, list):
            self._add_list(item, where)
        elif isinstance(item, dict):
            self._add_object(item, where)
        else:
            raise InputError(
                f"{where}: expected a list or an object of numbers, got {_clip(json.dumps(item))}"
            )
        if line is not None:
            self.lines.append(line)

    def _add_list(self, item: list[Any], where: str) -> None:
        if self.objects:
            raise InputError(f"{where}: is a list, but earlier rows are objects")
        if self.id_key is not None:
            raise UsageError(f"{self.label}: rows are lists, so --id cannot name a key")
        self.label_key = None
        self.objects = False
        if self.width is None:
            self.width = len(item)
        if len(item) != self.width:
            raise InputError(
                f"{where}: has {len(item)} values, expected {self.width}",
                hint="every row needs the same number of outcomes",
            )
        self.rows.append([_json_number(v, f"{where}, column {i + 1}") for i, v in enumerate(item)])

    def _add_object(self, item: dict[str, Any], where: str) -> None:
        if self.objects is False:
            raise InputError(f"{where}: is an object, but earlier rows are lists")
        if self.objects is None:
            self.objects = True
            if self.id_key is None:
                texts = [
                    k
                    for k, v in item.items()
                    if isinstance(v, str) and _parse_number(v) is None and k != self.label_key
                ]
                self.id_key = texts[0] if texts else None
            if self.label_key is not None and self.label_key not in item:
                self.label_key = None  # not a key here: the caller treats --target as a source
            reserved = {self.id_key, self.label_key}
            for key in reserved - {None}:
                if key not in item:
                    raise InputError(f"{where}: has no key {key!r}", hint=f"keys are: {', '.join(item)}")
            self.names = [k for k in item if k not in reserved]
            self.width = len(self.names)
        assert self.names is not None
        keys = [k for k in item if k not in (self.id_key, self.label_key)]
        if set(keys) != set(self.names) or any(k not in item for k in (self.id_key, self.label_key) if k):
            missing = [n for n in [*self.names, self.id_key, self.label_key] if n and n not in item]
            extra = [k for k in keys if k not in self.names]
            detail = (
                f"lacks {', '.join(map(repr, missing))}"
                if missing
                else f"has unexpected {', '.join(map(repr, extra))}"
            )
            raise InputError(f"{where}: {detail}", hint="every row needs the same keys")
        self.rows.append([_json_number(item[n], f"{where}, {n!r}") for n in self.names])
        if self.id_key is not None:
            self.ids.append("" if item[self.id_key] is None else str(item[self.id_key]))
        if self.label_key is not None:
            self.labels.append(_label_text(item[self.label_key]))

    def __len__(self) -> int:
        return len(self.rows)

    def take_block(self, start: int) -> Block:
        """The rows collected so far as a block; the builder starts afresh."""
        import numpy as np

        if self.width == 0:
            raise InputError(f"{self.label}: rows hold no values")
        block = Block(
            values=np.array(self.rows, dtype=np.float64).reshape(len(self.rows), self.width or 0),
            start=start,
            ids=self.ids or None,
            labels=self.labels or None,
            lines=self.lines or None,
        )
        self.rows, self.ids, self.labels, self.lines = [], [], [], []
        return block

    def table(self, make_blocks: Callable[[], Iterator[Block]]) -> Table:
        return Table(
            label=self.label,
            outcomes=self.names,
            id_name=self.id_key if self.objects else None,
            make_blocks=make_blocks,
            has_labels=self.label_key is not None,
            width=self.width,
        )


def _label_text(value: Any) -> str:
    """A label as text: 2 and 2.0 are both "2"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _read_text(opened: OpenedSource) -> str:
    try:
        data = opened.stream.read()
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(f"{opened.label}: cannot read: {exc}") from None
    finally:
        opened.stream.close()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _decode_error(opened.label, exc) from None


def _read_json(opened: OpenedSource, options: ReadOptions) -> Table:
    label = opened.label
    text = _read_text(opened)
    if not text.strip():
        raise InputError(f"{label}: is empty", hint="expected a JSON list or object of numbers")
    document = _load_json(text, label)
    builder = _RowBuilder(label, options)
    if document == [] or document == {}:
        raise InputError(f"{label}: holds no rows")
    if isinstance(document, dict) or (
        isinstance(document, list) and all(not isinstance(v, (list, dict)) for v in document)
    ):
        builder.add(document, f"{label}: row 1")  # [0.2, 0.8] or {"cat": 0.2, "dog": 0.8}: one distribution
    elif isinstance(document, list):
        for number, item in enumerate(document, start=1):
            builder.add(item, f"{label}: row {number}")
    else:
        raise InputError(f"{label}: expected a JSON list or object of numbers, got {type(document).__name__}")
    block = builder.take_block(0)
    return builder.table(lambda: iter([block]))


def _read_jsonl(opened: OpenedSource, options: ReadOptions) -> Table:
    label = opened.label
    builder = _RowBuilder(label, options)
    stream = io.TextIOWrapper(opened.stream, encoding="utf-8-sig", newline=None)
    numbered_lines = enumerate(stream, start=1)

    def add(line_number: int, line: str, row_number: int) -> None:
        item = _load_json(line, label, line_number)
        builder.add(item, f"{label}: row {row_number} (line {line_number})", line_number)

    def next_line() -> tuple[int, str] | None:
        try:
            for line_number, line in numbered_lines:
                if line.strip():
                    return line_number, line
        except UnicodeDecodeError as exc:
            raise _decode_error(label, exc) from None
        return None

    # Read the first row now so the outcome names are known before any block.
    first = next_line()
    if first is None:
        stream.close()
        raise InputError(f"{label}: is empty", hint="expected one JSON list or object per line")
    add(first[0], first[1], 1)

    def blocks() -> Iterator[Block]:
        start = 0
        try:
            while (item := next_line()) is not None:
                add(item[0], item[1], start + len(builder) + 1)
                if len(builder) >= options.block_rows:
                    block = builder.take_block(start)
                    start += len(block)
                    yield block
        finally:
            stream.close()
        if len(builder):
            yield builder.take_block(start)

    return builder.table(blocks)


# --- NumPy -------------------------------------------------------------------------


def _read_npy(opened: OpenedSource, options: ReadOptions) -> Table:
    import numpy as np

    label = opened.label
    path = opened.source.path
    try:
        if path is not None and opened.head[:2] != b"\x1f\x8b" and _plain_file(path):
            opened.stream.close()
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        else:
            data = opened.stream.read()
            opened.stream.close()
            array = np.load(io.BytesIO(data), allow_pickle=False)
    except InputError:
        raise
    except Exception as exc:  # NumPy raises many types for a damaged header
        raise InputError(f"{label}: is not a valid .npy file: {_clip(str(exc), 80)}") from None
    if array.dtype.kind not in "fiu":
        raise InputError(f"{label}: holds {array.dtype} values, not numbers")
    if array.ndim == 0 or array.shape[-1] == 0:
        raise InputError(f"{label}: holds no outcome values (shape {array.shape})")
    matrix = array.reshape(1, -1) if array.ndim == 1 else array.reshape(-1, array.shape[-1])
    if matrix.shape[0] == 0:
        raise InputError(f"{label}: holds no rows")

    width = int(matrix.shape[1])
    step = max(1, min(options.block_rows, (1 << 18) // width))
    offset = getattr(array, "offset", None)
    direct = path is not None and offset is not None and matrix.flags.c_contiguous

    def blocks() -> Iterator[Block]:
        # float16/float32 stay compact until a block is widened for computing.
        if not direct:
            for start in range(0, matrix.shape[0], step):
                yield Block(values=np.asarray(matrix[start : start + step]), start=start)
            return
        # Read each block from the file rather than through the memory map, so
        # resident memory stays one block, not the whole file's pages.
        assert path is not None and offset is not None
        row_bytes = width * matrix.dtype.itemsize
        with open(path, "rb") as handle:
            for start in range(0, matrix.shape[0], step):
                rows = min(step, matrix.shape[0] - start)
                handle.seek(int(offset) + start * row_bytes)
                values = np.fromfile(handle, dtype=matrix.dtype, count=rows * width)
                if values.size != rows * width:
                    raise InputError(f"{label}: ends early, at row {start + values.size // width + 1}")
                yield Block(values=values.reshape(rows, width), start=start)

    return Table(label=label, outcomes=None, id_name=None, make_blocks=blocks, width=width)


def _plain_file(path: Any) -> bool:
    with open(path, "rb") as handle:
        magic = handle.read(6)
    return magic == b"\x93NUMPY"


# --- labels (targets for `xent loss`) --------------------------------------------------

LABEL_NAMES = ("label", "labels", "target", "targets", "y", "class", "truth")


@dataclass
class Labels:
    """True labels from a source of their own, held in memory (one string per row)."""

    label: str
    values: list[str]
    ids: list[str] | None = None
    lines: list[int] | None = None

    def where(self, index: int) -> str:
        return _row_where(self.label, index, self.lines)


def _row_where(label: str, index: int, lines: list[int] | None) -> str:
    """``label: row 3 (line 4)`` for the 0-based row ``index``; the line when known."""
    text = f"{label}: row {index + 1}"
    if lines is not None:
        text += f" (line {lines[index]})"
    return text


def read_labels(source: Source, options: ReadOptions) -> Labels:
    """Labels from an inline list, a CSV/TSV column, JSON (Lines) values or objects, or a 1-D ``.npy``.

    In a table, the label column is the one named label/target/y/class/truth
    (else the last column) and ``--id`` (or a column named ``id``) gives ids.
    """
    if source.inline is not None:
        return Labels(source.label, [item.strip() for item in source.inline.split(",")])
    opened = open_source(source, options.input_format, options.encoding)
    try:
        if opened.format == "npy":
            table = _read_npy(opened, options)
            values = [v for b in table.blocks() for v in b.values.reshape(-1).tolist()]
            return Labels(source.label, [_label_text(v) for v in values])
        text = _read_text(opened)
    finally:
        opened.stream.close()
    if not text.strip():
        raise InputError(f"{source.label}: is empty", hint="expected one label per row")
    if opened.format in ("json", "jsonl"):
        return _json_labels(source.label, text, opened.format, options)
    return _delimited_labels(source.label, text, options)


def _pick_label_columns(names: list[str], options: ReadOptions) -> tuple[int, int | None]:
    lowered = [n.strip().lower() for n in names]
    id_name = (options.id_column or "id").lower()
    id_index = lowered.index(id_name) if id_name in lowered else None
    label_index = next((lowered.index(n) for n in LABEL_NAMES if n in lowered), None)
    if label_index is None:
        label_index = len(names) - 1 if len(names) - 1 != id_index or len(names) == 1 else 0
    return label_index, id_index


def _delimited_labels(label: str, text: str, options: ReadOptions) -> Labels:
    lines = text.splitlines()
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    delimiter = options.delimiter or sniff_delimiter([line for _, line in numbered[:50]], options.decimal)
    rows = [(n, next(csv.reader([line], delimiter=delimiter))) for n, line in numbered]
    first = [cell.strip().lower() for cell in rows[0][1]]
    known = {*LABEL_NAMES, "id", (options.id_column or "id").lower()}
    has_header = not options.no_header and any(cell in known for cell in first)
    names = rows[0][1] if has_header else [str(i + 1) for i in range(len(rows[0][1]))]
    body = rows[1:] if has_header else rows
    if not body:
        raise InputError(f"{label}: has a header but no labels")
    label_index, id_index = _pick_label_columns(names, options) if len(names) > 1 else (0, None)
    values, ids, numbers = [], [], []
    for line_number, cells in body:
        if len(cells) != len(names):
            raise InputError(
                f"{label}: line {line_number}: has {len(cells)} fields, expected {len(names)}",
                hint="every row needs the same number of columns",
            )
        values.append(cells[label_index].strip())
        if id_index is not None:
            ids.append(cells[id_index].strip())
        numbers.append(line_number)
    return Labels(label, values, ids if id_index is not None else None, numbers)


def _json_items(label: str, text: str, fmt: str) -> tuple[list[Any], list[int] | None]:
    """The rows of a JSON list (or one document), or of JSON Lines with their line numbers."""
    if fmt == "json":
        document = _load_json(text, label)
        return (document if isinstance(document, list) else [document]), None
    pairs = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip()]
    return [_load_json(line, label, n) for n, line in pairs], [n for n, _ in pairs]


def _json_labels(label: str, text: str, fmt: str, options: ReadOptions) -> Labels:
    items, numbers = _json_items(label, text, fmt)
    if not items:
        raise InputError(f"{label}: holds no labels")
    if all(isinstance(item, dict) for item in items):
        keys = list(items[0])
        label_index, id_index = _pick_label_columns(keys, options)
        label_key, id_key = keys[label_index], (keys[id_index] if id_index is not None else None)
        values, ids = [], []
        for number, item in enumerate(items, start=1):
            if label_key not in item:
                raise InputError(f"{label}: row {number}: has no key {label_key!r}")
            values.append(_label_text(item[label_key]))
            if id_key is not None:
                ids.append(_label_text(item.get(id_key)))
        return Labels(label, values, ids if id_key is not None else None, numbers)
    for number, item in enumerate(items, start=1):
        if isinstance(item, (list, dict)):
            raise InputError(f"{label}: row {number}: expected a label (a string or an integer)")
    return Labels(label, [_label_text(item) for item in items], None, numbers)


# --- samples: label columns (for `xent info --x/--y` and `xent entropy --column`) ------------


def read_sample_columns(
    source: Source, options: ReadOptions, names: list[str], flags: list[str] | None = None
) -> Iterator[list[list[str]]]:
    """Blocks of label columns, each block a list of columns of strings.

    ``flags`` are the options that named the columns, for messages (``--x``).

    CSV/TSV columns by header name (or 1-based number with --no-header); JSON
    (Lines) objects by key. Missing values are an error naming the row.
    """
    if source.inline is not None:
        raise UsageError(f"{source.label}: samples come from a table, not an inline list")
    opened = open_source(source, options.input_format, options.encoding)
    if opened.format in ("csv", "tsv"):
        return _csv_sample_columns(opened, options, names, flags or ["--column"] * len(names))
    if opened.format in ("json", "jsonl"):
        return _json_sample_columns(opened, options, names)
    opened.stream.close()
    raise InputError(f"{source.label}: samples need a CSV, TSV, JSON or JSON Lines table with named columns")


def _csv_sample_columns(
    opened: OpenedSource, options: ReadOptions, names: list[str], flags: list[str]
) -> Iterator[list[list[str]]]:
    import pandas as pd

    label = opened.label
    text = _decode_sample(opened)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        opened.stream.close()
        raise InputError(f"{label}: is empty", hint="expected a header and rows of samples")
    delimiter = options.delimiter or (
        "\t" if opened.format == "tsv" else sniff_delimiter(lines, options.decimal)
    )
    header = (
        None if options.no_header else [h.strip() for h in next(csv.reader(lines[:1], delimiter=delimiter))]
    )
    try:
        indices = [_column_index(name, header, label, flag) for name, flag in zip(names, flags, strict=True)]
    except InputError:
        opened.stream.close()
        raise

    def blocks() -> Iterator[list[list[str]]]:
        try:
            reader = pd.read_csv(
                opened.stream,
                sep=delimiter,
                header=None,
                skiprows=0 if header is None else 1,
                dtype=str,
                keep_default_na=False,
                encoding="utf-8-sig",
                chunksize=options.block_rows,
                engine="c",
            )
            start = 0
            for chunk in reader:
                columns = []
                for name, index in zip(names, indices, strict=True):
                    if index >= chunk.shape[1]:
                        raise InputError(f"{label}: has no column {name!r}")
                    values = chunk[index].str.strip().tolist()
                    if "" in values:
                        row = values.index("")
                        line = int(chunk.index[row]) + (2 if header is not None else 1)
                        raise InputError(
                            f"{label}: row {start + row + 1} (line {line}): {name!r} is empty",
                            hint="every sample needs a value in each column",
                        )
                    columns.append(values)
                start += chunk.shape[0]
                yield columns
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise _parser_error(label, exc) from None
        except pd.errors.EmptyDataError:
            raise InputError(f"{label}: has no data rows") from None
        finally:
            opened.stream.close()

    return blocks()


def _json_sample_columns(
    opened: OpenedSource, options: ReadOptions, names: list[str]
) -> Iterator[list[list[str]]]:
    label = opened.label
    items, numbers = _json_items(label, _read_text(opened), opened.format)
    wheres = [_row_where(label, i, numbers) for i in range(len(items))]
    columns: list[list[str]] = [[] for _ in names]
    for item, where in zip(items, wheres, strict=True):
        if not isinstance(item, dict):
            raise InputError(f"{where}: expected an object with keys {', '.join(map(repr, names))}")
        for column, name in zip(columns, names, strict=True):
            if name not in item or item[name] is None:
                raise InputError(f"{where}: has no {name!r}", hint=f"keys are: {', '.join(item)}")
            column.append(_label_text(item[name]))
    return iter([columns])
