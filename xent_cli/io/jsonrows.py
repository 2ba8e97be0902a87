"""JSON and JSON Lines: every shape pandas' ``to_json`` writes, as rows for the layout rule.

A JSON document is read whole (at most ``XENT_MAX_DOCUMENT_BYTES``); JSON Lines are
read a block of lines at a time (each at most ``XENT_MAX_LINE_BYTES``). Shapes:

- ``[0.2, 0.8]``: one distribution; ``[[…], […]]``: rows (``orient="values"``);
- ``{"cat": 0.2, "dog": 0.8}``: one named distribution (also ``Series.to_json()``);
- ``[{"cat": …}, …]``: named rows (``orient="records"``, and ``lines=True`` as JSON Lines);
- ``{"columns": […], "index": […], "data": […]}``: ``orient="split"`` (the index is the id);
- ``{"schema": {…, "primaryKey": […]}, "data": […]}``: ``orient="table"``;
- ``{"0": {"cat": …}, …}`` (``orient="index"``) and ``{"cat": {"0": …}, …}``
  (``orient="columns"``, the DataFrame default): an object of objects. Which key level
  names the rows is decided by the keys that count 0, 1, 2, … (a RangeIndex), else by
  the row-sum test, else as pandas' default (``columns``), with a note;
- ``{"cat": [0.2, 0.5], "dog": [0.8, 0.5]}``: columns as lists (``to_dict("list")``).

Duplicate keys in an object are an error, as duplicate CSV header names are.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from xent_cli.errors import InputError, UsageError, option
from xent_cli.io import layout as rule
from xent_cli.io.layout_types import ID_SEPARATOR
from xent_cli.io.sources import OpenedSource
from xent_cli.io.table import (
    Block,
    ReadOptions,
    Table,
    clip,
    max_document_bytes,
    max_line_bytes,
    size_text,
)


class HugeInt(str):
    """An integer literal too long to convert (Python refuses over 4,300 digits): kept as text."""


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _constant(name: str) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def _integer(text: str) -> int | HugeInt:
    # Anything past 309 digits overflows a float64 anyway; very long ones are not converted at all.
    return HugeInt(text) if len(text) > 4000 else int(text)


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def load_json(text: str | bytes, label: str, line: int | None = None) -> Any:
    """Parse one JSON value; every failure is one InputError naming the line (and column)."""
    try:
        return json.loads(
            text, parse_constant=_constant, parse_int=_integer, object_pairs_hook=_unique_object
        )
    except RecursionError:
        where = f"line {line}" if line is not None else "document"
        raise InputError(f"{label}: {where}: JSON nested too deeply") from None
    except _DuplicateKey as exc:
        where = f"line {line}: " if line is not None else ""
        raise InputError(
            f"{label}: {where}key {clip(exc.key)!r} appears twice in one object", hint="keys must be unique"
        ) from None
    except json.JSONDecodeError as exc:
        where = f"line {line}" if line is not None else f"line {exc.lineno}, column {exc.colno}"
        raise InputError(f"{label}: {where}: invalid JSON: {exc.msg}") from None
    except UnicodeDecodeError as exc:
        from xent_cli.io.csvparse import decode_error

        raise decode_error(label, exc) from None
    except ValueError as exc:  # e.g. an integer string conversion limit
        where = f"line {line}" if line is not None else "document"
        raise InputError(f"{label}: {where}: invalid JSON: {exc}") from None


_JSON_STARTS = frozenset(b' \t\r\n[{"-0123456789tfnNI')


def read_document(opened: OpenedSource) -> str:
    """The whole document as text, at most ``XENT_MAX_DOCUMENT_BYTES``.

    Data that cannot start a JSON value (``/dev/zero``, binary junk) is refused at
    once, without reading on.
    """
    label = opened.label
    limit = max_document_bytes()
    stream = opened.raw_stream()
    chunks: list[bytes] = []
    total = 0
    try:
        while True:
            chunk = stream.read(min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            if not chunks:
                _check_start(chunk, label)
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise InputError(
                    f"{label}: is larger than {size_text(limit)}, the most one JSON document may hold",
                    hint="set XENT_MAX_DOCUMENT_BYTES to raise it, or use JSON Lines (read in blocks)",
                )
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(f"{label}: cannot read: {exc}") from None
    finally:
        stream.close()
    data = b"".join(chunks)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        from xent_cli.io.csvparse import decode_error

        raise decode_error(label, exc) from None


def _check_start(chunk: bytes, label: str) -> None:
    text = chunk.removeprefix(b"\xef\xbb\xbf")
    for byte in text[:4096]:
        if byte in b" \t\r\n":
            continue
        if byte not in _JSON_STARTS:
            raise InputError(
                f"{label}: is not JSON (it starts with byte 0x{byte:02x})",
                hint=f"check {option('input_format')}",
            )
        return


def bounded_lines(stream: IO[bytes], label: str) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` of a byte stream, each line at most ``XENT_MAX_LINE_BYTES``."""
    limit = max_line_bytes()
    number = 0
    first = True
    try:
        while True:
            line = stream.readline(limit + 1)
            if not line:
                return
            number += 1
            if first:
                _check_start(line, label)
                first = False
            if len(line) > limit and not line.endswith(b"\n"):
                raise InputError(
                    f"{label}: line {number} is longer than {size_text(limit)}",
                    hint="set XENT_MAX_LINE_BYTES to read longer lines",
                )
            yield number, line
    except (OSError, EOFError) as exc:
        raise InputError(f"{label}: cannot read: {exc}") from None


# --- numbers and labels ---------------------------------------------------------------------------


def json_number(value: Any, where: str) -> float:
    if isinstance(value, HugeInt):
        raise InputError(f"{where}: {clip(str(value))} is too large for a float64")
    if isinstance(value, bool) or value is None:
        raise InputError(f"{where}: {json.dumps(value)} is not a number")
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            raise InputError(f"{where}: {clip(str(value))} is too large for a float64") from None
    if isinstance(value, str) and value.strip().lower() in (
        "inf",
        "-inf",
        "+inf",
        "nan",
        "infinity",
        "-infinity",
    ):
        return float(value.strip())
    raise InputError(f"{where}: {clip(json.dumps(value))} is not a number")


def label_text(value: Any) -> str:
    """A label as text: 2 and 2.0 are both "2"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _kind(value: Any) -> tuple[int, float]:
    """A cell's layout kind; a list of numbers is a LIST (its value: the length), other lists
    and objects are NESTED."""
    if isinstance(value, HugeInt):
        return rule.INT, math.inf
    if isinstance(value, list):
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        return (rule.LIST, float(len(value))) if numbers else (rule.NESTED, math.nan)
    if isinstance(value, dict):
        return rule.NESTED, math.nan
    return rule.value_kind(value)


# --- shapes -----------------------------------------------------------------------------------------


@dataclass
class Frame:
    """A JSON document as rows: lists (no names) or objects (names), with an optional index."""

    rows: list[Any]
    names: list[str] | None
    objects: bool
    index: list[Any] | None = None
    index_name: str | None = None
    index_columns: tuple[str, ...] = ()
    note: str | None = None


def _range_keys(keys: list[str]) -> bool:
    return keys == [str(i) for i in range(len(keys))]


def _refuse_top_logprobs(value: Any, label: str, where: str = "") -> None:
    """A language-model API's log-probabilities are read by --as top-logprobs, not as a table."""
    from xent_cli.io.toplogprobs import api_shape

    shape = api_shape(value)
    if shape is not None:
        raise InputError(
            f"{label}: {where}{'holds' if where else 'is'} {shape}, not a table of distributions",
            hint=f"read it with {option('as_')} top-logprobs",
        )


def frame_of(document: Any, label: str, kind: str) -> Frame:
    """The rows of any supported JSON shape (see the module docstring)."""
    if document == [] or document == {}:
        raise InputError(f"{label}: holds no rows")
    if isinstance(document, list):
        if all(not isinstance(v, (list, dict)) for v in document):
            return Frame([document], None, objects=False)
        if all(isinstance(v, dict) for v in document):
            return Frame(document, list(document[0]), objects=True)
        return Frame(document, None, objects=False)
    if not isinstance(document, dict):
        raise InputError(f"{label}: expected a JSON list or object of numbers, got {type(document).__name__}")
    keys = set(document)
    if "data" in keys and "columns" in keys and keys <= {"columns", "index", "data"}:
        names = [str(c) for c in document["columns"]]
        data = document["data"]
        if not isinstance(data, list):
            raise InputError(f"{label}: 'data' of a split-orient object must be a list of rows")
        return Frame(data, names, objects=False, index=document.get("index"))
    if "data" in keys and "index" in keys and keys <= {"name", "index", "data"}:
        # A Series, split orient: one column.
        name = document.get("name")
        data = document["data"]
        if not isinstance(data, list):
            raise InputError(f"{label}: 'data' of a split-orient object must be a list")
        return Frame(
            [[v] for v in data], ["0" if name is None else str(name)], objects=False, index=document["index"]
        )
    if keys == {"schema", "data"} and isinstance(document["schema"], dict):
        schema = document["schema"]
        fields = [str(f.get("name")) for f in schema.get("fields", []) if isinstance(f, dict)]
        primary = schema.get("primaryKey") or []
        if isinstance(primary, str):
            primary = [primary]
        data = document["data"]
        if not isinstance(data, list):
            raise InputError(f"{label}: 'data' of a table-orient object must be a list of rows")
        return Frame(data, fields or None, objects=True, index_columns=tuple(str(p) for p in primary))
    values = list(document.values())
    if all(not isinstance(v, (list, dict)) for v in values):
        return Frame([document], list(document), objects=True)
    if all(isinstance(v, list) for v in values):
        lengths = {len(v) for v in values}
        if len(lengths) != 1:
            raise InputError(f"{label}: columns given as lists must all have the same length")
        names = list(document)
        return Frame([list(row) for row in zip(*values, strict=True)], names, objects=False)
    if all(isinstance(v, dict) for v in values):
        return _object_of_objects(document, label, kind)
    raise InputError(f"{label}: expected an object of numbers, of lists or of objects (a pandas orient)")


def _object_of_objects(document: dict[str, Any], label: str, kind: str) -> Frame:
    outer = list(document)
    inner = list(next(iter(document.values())))
    for key, value in document.items():
        if list(value) != inner and set(value) != set(inner):
            raise InputError(
                f"{label}: {key!r}: has keys {', '.join(map(repr, list(value)[:5]))}, unlike the others"
            )
    as_index = Frame([document[k] for k in outer], inner, objects=True, index=outer)
    as_columns = Frame([{o: document[o][i] for o in outer} for i in inner], outer, objects=True, index=inner)
    # A list column (one list of numbers per row): lists sit under one key of the level
    # that names the columns, and under every key of the level that names the rows.
    outer_lists = {o for o in outer if any(isinstance(v, list) for v in document[o].values())}
    inner_lists = {i for o in outer for i, v in document[o].items() if isinstance(v, list)}
    if len(outer_lists) == 1 and len(inner_lists) > 1:
        return as_columns
    if len(inner_lists) == 1 and len(outer_lists) > 1:
        return as_index
    if _range_keys(inner) and not _range_keys(outer):
        return as_columns
    if _range_keys(outer) and not _range_keys(inner):
        return as_index
    tested = [_rows_sum_to_one(as_index, kind), _rows_sum_to_one(as_columns, kind)]
    if tested == [True, False]:
        as_index.note = (
            f"{label}: an object of objects read as pandas' 'index' orient (outer keys name the rows), "
            "since its rows sum to 1"
        )
        return as_index
    if tested == [False, True]:
        return as_columns
    as_columns.note = (
        f"{label}: an object of objects read as pandas' default 'columns' orient (outer keys are the "
        "outcomes, inner keys name the rows); write it with orient='split' or 'records' to be unambiguous"
    )
    return as_columns


def _rows_sum_to_one(frame: Frame, kind: str) -> bool | None:
    if kind != "probs":
        return None
    for row in frame.rows:
        total = 0.0
        for value in row.values():
            number = rule.value_kind(value)[1]
            if math.isnan(number):
                return None
            total += number
        if abs(total - 1.0) > 1e-2:
            return False
    return True


# --- rows to blocks -------------------------------------------------------------------------------


def _sample_of(frame: Frame, label: str, fmt: str, complete: bool) -> tuple[rule.Sample, list[str] | None]:
    """The layout sample of a frame's first rows, with the index (if any) as column 0."""
    import numpy as np

    names = frame.names
    rows = frame.rows[: rule.SAMPLE_ROWS]
    index_cols: tuple[int, ...] = ()
    if frame.objects:
        assert names is not None
        cells = [[row.get(n) if isinstance(row, dict) else None for n in names] for row in rows]
    else:
        width = max((len(r) for r in rows if isinstance(r, list)), default=0)
        if names is None:
            width = len(rows[0]) if rows and isinstance(rows[0], list) else width
        else:
            width = len(names)
        cells = [(list(r) + [None] * width)[:width] if isinstance(r, list) else [None] * width for r in rows]
    if frame.index is not None:
        index_values = frame.index[: len(rows)]
        cells = [[index_values[i] if i < len(index_values) else None, *row] for i, row in enumerate(cells)]
        names = [frame.index_name or "", *(names or [str(i + 1) for i in range(len(cells[0]) - 1)])]
        index_cols = (0,)
    elif frame.index_columns and names is not None:
        index_cols = tuple(names.index(c) for c in frame.index_columns if c in names)
    width = len(names) if names is not None else (len(cells[0]) if cells else 0)
    kinds = np.zeros((len(cells), width), dtype=np.int8)
    values = np.full((len(cells), width), np.nan)
    for r, row in enumerate(cells):
        for c, value in enumerate(row[:width]):
            kinds[r, c], values[r, c] = _kind(value)
    sample = rule.Sample(
        label=label,
        format=fmt,
        kinds=kinds,
        values=values,
        names=names,
        index=index_cols,
        complete=complete and len(frame.rows) <= rule.SAMPLE_ROWS,
    )
    return sample, names


class RowAssembler:
    """Turns JSON rows into blocks of numbers by a decided layout."""

    def __init__(self, label: str, frame: Frame, decided: rule.Layout, names: list[str] | None) -> None:
        self.label = label
        self.objects = frame.objects
        self.indexed = frame.index is not None
        self.decided = decided
        self.names = names
        # Keys (objects) or positions (lists) of the outcome, id and label columns.
        offset = 1 if self.indexed else 0
        self.keys: list[Any] = []
        for c in decided.outcomes:
            self.keys.append(names[c] if self.objects and names is not None else c - offset)
        # The id's keys: one, or a MultiIndex's levels (``orient="table"``'s primaryKey), joined.
        self.id_keys: list[Any] = []
        if decided.id is not None and not (self.indexed and decided.id == 0):
            self.id_keys = [
                names[c] if self.objects and names is not None else c - offset for c in decided.id_columns
            ]
        self.label_key: Any = None
        if decided.label is not None:
            self.label_key = (
                names[decided.label] if self.objects and names is not None else decided.label - offset
            )
        # A list column: each row's list (of ``list_width`` numbers) is its distribution.
        self.list_key: Any = self.keys[0] if decided.list_column is not None else None
        self.list_width = decided.list_width
        self.all_keys = set(names[offset:]) if self.objects and names is not None else None
        self.width = (len(names) - offset) if names is not None else None
        self.rows: list[list[float]] = []
        self.ids: list[str] = []
        self.labels: list[str] = []
        self.lines: list[int] = []
        self.index: list[Any] | None = frame.index
        self.count = 0

    def _where(self, number: int, line: int | None) -> str:
        text = f"{self.label}: row {number}"
        return text + (f" (line {line})" if line is not None else "")

    def add(self, item: Any, number: int, line: int | None = None) -> None:
        """Append row ``number`` (1-based); every message about it names it."""
        where = self._where(number, line)
        if self.objects:
            if not isinstance(item, dict):
                if isinstance(item, list):
                    raise InputError(f"{where}: is a list, but earlier rows are objects")
                raise InputError(f"{where}: expected an object of numbers, got {clip(json.dumps(item))}")
            assert self.all_keys is not None
            if item.keys() != self.all_keys:
                missing = [n for n in self.all_keys if n not in item]
                extra = [k for k in item if k not in self.all_keys]
                order = [n for n in (self.names or []) if n in missing]
                detail = (
                    f"lacks {', '.join(map(repr, order))}"
                    if missing
                    else f"has unexpected {', '.join(map(repr, extra))}"
                )
                raise InputError(f"{where}: {detail}", hint="every row needs the same keys")
            if self.list_key is not None:
                self.rows.append(self._listed(item[self.list_key], where))
            else:
                self.rows.append([json_number(item[k], f"{where}, {k!r}") for k in self.keys])
        else:
            if not isinstance(item, list):
                if isinstance(item, dict):
                    raise InputError(f"{where}: is an object, but earlier rows are lists")
                raise InputError(
                    f"{where}: expected a list or an object of numbers, got {clip(json.dumps(item))}"
                )
            if self.width is None:
                self.width = len(item)
            if len(item) != self.width:
                raise InputError(
                    f"{where}: has {len(item)} values, expected {self.width}",
                    hint="every row needs the same number of outcomes",
                )
            if self.list_key is not None:
                self.rows.append(self._listed(item[self.list_key], where))
            else:
                self.rows.append([json_number(item[k], f"{where}, column {k + 1}") for k in self.keys])
        if self.indexed:
            assert self.index is not None
            self.ids.append(label_text(self.index[number - 1]) if number - 1 < len(self.index) else "")
        elif self.id_keys:
            self.ids.append(ID_SEPARATOR.join(label_text(item[key]) for key in self.id_keys))
        if self.label_key is not None:
            self.labels.append(label_text(item[self.label_key]))
        if line is not None:
            self.lines.append(line)
        self.count += 1

    def _listed(self, value: Any, where: str) -> list[float]:
        """One row's list of numbers, of the same length as row 1's."""
        key = self.list_key if isinstance(self.list_key, str) else f"column {self.list_key + 1}"
        shown = repr(key) if isinstance(self.list_key, str) else key
        if not isinstance(value, list):
            raise InputError(f"{where}: {shown} is {clip(json.dumps(value))}, not a list of numbers")
        if len(value) != self.list_width:
            raise InputError(
                f"{where}: {shown} holds {len(value)} values, but row 1's holds {self.list_width}",
                hint="every row's list needs one value per outcome",
            )
        return [json_number(v, f"{where}, {shown} item {i + 1}") for i, v in enumerate(value)]

    def __len__(self) -> int:
        return len(self.rows)

    def take_block(self, start: int) -> Block:
        """The rows collected so far as a block; the assembler starts afresh."""
        import numpy as np

        block = Block(
            values=np.array(self.rows, dtype=np.float64).reshape(len(self.rows), self.decided.n_outcomes),
            start=start,
            ids=self.ids or None,
            labels=self.labels or None,
            lines=self.lines or None,
        )
        self.rows, self.ids, self.labels, self.lines = [], [], [], []
        return block

    def table(self, make_blocks: Callable[[], Iterator[Block]], fmt: str, notes: list[str]) -> Table:
        decided = self.decided
        return Table(
            label=self.label,
            outcomes=decided.outcome_names,
            id_name=decided.id_name,
            make_blocks=make_blocks,
            outcome_positions=[i + 1 for i in decided.outcomes]
            if not self.objects and decided.list_column is None
            else None,
            has_labels=decided.label is not None,
            width=decided.n_outcomes,
            notes=notes + decided.notes,
            layout=decided.record(fmt),
            sum_hint=decided.sum_hint,
        )


def _layout(
    frame: Frame, label: str, fmt: str, options: ReadOptions, complete: bool
) -> tuple[rule.Layout, list[str] | None]:
    if not frame.objects and options.id_column is not None and frame.names is None:
        raise UsageError(f"{label}: rows are lists, so --id cannot name a key")
    if frame.objects and frame.rows and not isinstance(frame.rows[0], dict):
        raise InputError(f"{label}: row 1: expected an object")
    sample, names = _sample_of(frame, label, fmt, complete)
    if sample.width == 0:
        raise InputError(f"{label}: rows hold no values")
    decided = rule.decide(sample, options)
    return decided, names


def read_json(opened: OpenedSource, options: ReadOptions) -> Table:
    label = opened.label
    text = read_document(opened)
    if not text.strip():
        raise InputError(f"{label}: is empty", hint="expected a JSON list or object of numbers")
    document = load_json(text, label)
    _refuse_top_logprobs(document, label)
    frame = frame_of(document, label, options.kind)
    decided, names = _layout(frame, label, "json", options, complete=True)
    assembler = RowAssembler(label, frame, decided, names)
    for number, item in enumerate(frame.rows, start=1):
        assembler.add(item, number)
    if not len(assembler):
        raise InputError(f"{label}: holds no rows")
    block = assembler.take_block(0)
    return assembler.table(lambda: iter([block]), "json", [frame.note] if frame.note else [])


def read_jsonl(opened: OpenedSource, options: ReadOptions) -> Table:
    label = opened.label
    lines = bounded_lines(opened.stream, label)

    def items() -> Iterator[tuple[int, Any]]:
        for number, line in lines:
            if line.strip():
                yield number, load_json(line, label, number)

    source = items()
    head: list[tuple[int, Any]] = []
    cells = 0
    complete = True  # the sample holds every row
    for pair in source:
        head.append(pair)
        cells += _cells(pair[1])
        # As many rows as the layout samples, fewer when rows are wide (a vocabulary-long
        # list per line), but at least two.
        if len(head) >= rule.SAMPLE_ROWS or (len(head) >= 2 and cells >= rule.SAMPLE_CELLS):
            complete = False
            break
    if not head:
        opened.stream.close()
        raise InputError(f"{label}: is empty", hint="expected one JSON list or object per line")
    first = head[0][1]
    _refuse_top_logprobs(first, label, f"line {head[0][0]}: ")
    objects = isinstance(first, dict)
    if not isinstance(first, (dict, list)):
        raise InputError(
            f"{label}: row 1 (line {head[0][0]}): expected a list or an object of numbers, "
            f"got {clip(json.dumps(first))}"
        )
    rows = [item for _, item in head]
    frame = Frame(rows, list(first) if objects else None, objects=objects)
    decided, names = _layout(frame, label, "jsonl", options, complete)
    block_rows = options.rows_per_block(decided.n_outcomes)
    assembler = RowAssembler(label, frame, decided, names)

    def blocks() -> Iterator[Block]:
        start = 0
        number = 0
        try:
            for line_number, item in [*head, *source]:
                number += 1
                assembler.add(item, number, line_number)
                if len(assembler) >= block_rows:
                    block = assembler.take_block(start)
                    start += len(block)
                    yield block
        finally:
            opened.stream.close()
        if len(assembler):
            yield assembler.take_block(start)

    return assembler.table(blocks, "jsonl", [])


def _cells(item: Any) -> int:
    """How many values a JSON row holds (a list counts its items)."""
    values = item.values() if isinstance(item, dict) else item if isinstance(item, list) else [item]
    return sum(len(v) if isinstance(v, list) else 1 for v in values)


def json_items(opened: OpenedSource) -> tuple[list[Any], list[int] | None]:
    """The rows of a JSON document (or one value), or of JSON Lines with their line numbers."""
    label = opened.label
    if opened.format == "json":
        text = read_document(opened)
        if not text.strip():
            raise InputError(f"{label}: is empty")
        document = load_json(text, label)
        return (document if isinstance(document, list) else [document]), None
    pairs = []
    try:
        for number, line in bounded_lines(opened.stream, label):
            if line.strip():
                pairs.append((number, load_json(line, label, number)))
    finally:
        opened.stream.close()
    return [item for _, item in pairs], [n for n, _ in pairs]
