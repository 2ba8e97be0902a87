"""What every reader returns: read options, tables of rows delivered in blocks, labels.

Kept free of NumPy and pandas imports at module level, like the rest of ``xent_cli.io``'s
entry points, so that resolving options costs nothing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from xent_cli.errors import option

if TYPE_CHECKING:
    from numpy.typing import NDArray

DEFAULT_BLOCK_ROWS = 65_536

Role = Literal["distributions", "predictions", "joint", "samples", "labels"]


@dataclass(frozen=True)
class ReadOptions:
    """How to read a source; one of these per source.

    ``header``: None infers it (see :mod:`xent_cli.io.layout`), True forces a header line,
    False forces none. ``no_header=True`` is the older spelling of ``header=False``.
    ``kind`` is how the numbers will be read (``probs``, ``weights``, ``logits``,
    ``logprobs``): the layout rule uses it for the row-sum test. ``role`` is what the
    table is for: ``distributions`` (rows of distributions), ``predictions`` (``xent loss``
    input: label columns are ``--target`` candidates, and a 1-D array is binary P(y=1)),
    ``joint`` (``xent info`` joint table: the first column may name the rows), ``samples``
    (label columns of samples) or ``labels`` (a file of true labels).
    """

    input_format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    no_header: bool = False
    header: bool | None = None
    columns: tuple[str, ...] | None = None
    id_column: str | None = None
    decimal: str = "."
    label_column: str | None = None
    # ``--weights`` naming a column of this table: readers that can carry it in each block's
    # ``weights`` (delimited text, Parquet/Arrow) read it in the same pass as the outcomes.
    weight_column: str | None = None
    kind: str = "probs"
    role: Role = "distributions"
    block_rows: int = DEFAULT_BLOCK_ROWS
    # Values per block for computing: small enough for the careful path's temporaries,
    # larger for the fused kernels (see xent_cli.pipeline.tasks).
    block_elements: int = 1 << 18
    # Rows per block for computing, at least (wide rows: a block of a few rows costs more in
    # per-block overhead than it saves in cache).
    min_block_rows: int = 1

    def rows_per_block(self, n_outcomes: int | None) -> int:
        """Rows per block for computing on rows of ``n_outcomes`` values.

        Readers that batch by rows (Parquet, Arrow) read batches of this size, so the
        blocks reach the computation without being cut and joined again.
        """
        if not n_outcomes:
            return self.block_rows
        return max(1, self.min_block_rows, min(self.block_rows, self.block_elements // n_outcomes))

    @property
    def header_choice(self) -> bool | None:
        """``header``, with ``no_header`` honoured as ``header=False``."""
        if self.header is not None:
            return self.header
        return False if self.no_header else None


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
    # Each row's sample weight, when ``ReadOptions.weight_column`` named a column the reader
    # carries (validated: finite and >= 0; see :func:`checked_weights`).
    weights: NDArray[Any] | None = None

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
    # One short text per inference that changed what is computed (printed as
    # ``xent: note: <text>``).
    notes: list[str] = field(default_factory=list)
    # Releases the open file, whether or not the blocks were read.
    close: Callable[[], None] = lambda: None
    # Number of outcome columns, for tables whose outcomes have no names.
    width: int | None = None
    # What the layout rule decided, JSON-ready: format, header, id, outcomes, labels, ignored.
    layout: dict[str, Any] = field(default_factory=dict)
    # The hint for a row whose sum is not 1, when a column looks like an index or
    # labels (None: every column is plausibly an outcome, so --normalize is the hint).
    sum_hint: str | None = None
    # How many rows the source holds: exact for binary formats, estimated from the file
    # size for text (None: unknown). Only for choosing how to compute, never for results.
    expected_rows: int | None = None
    # The file line of a 0-based row, found on demand for a message (None: unknown), for
    # readers that do not track lines as they read.
    line_of: Callable[[int], int | None] | None = None

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
                elif self.line_of is not None and (line := self.line_of(column)) is not None:
                    text += f" (line {line})"
            return text
        if row is not None:
            text += f": row {block.start + row + 1}"
            line = block.lines[row] if block.lines is not None else None
            if line is None and self.line_of is not None:
                line = self.line_of(block.start + row)
            if line is not None:
                text += f" (line {line})"
        if column is not None:
            position = self.outcome_positions[column] if self.outcome_positions else column + 1
            text += (", " if row is not None else ": ") + f"column {position}"
            if self.outcomes is not None:
                text += f" ({self.outcomes[column]!r})"
        return text


@dataclass
class Labels:
    """True labels from a source of their own, held in memory (one string per row)."""

    label: str
    values: list[str]
    ids: list[str] | None = None
    lines: list[int] | None = None
    notes: list[str] = field(default_factory=list)
    # (st_dev, st_ino) of every file the labels were read from.
    identities: list[tuple[int, int]] = field(default_factory=list)
    # What the layout rule decided (format, id, labels column), JSON-ready, as for a Table.
    layout: dict[str, Any] = field(default_factory=dict)

    # The file line of a 0-based row, found on demand (see ``Table.line_of``).
    line_of: Callable[[int], int | None] | None = None

    def where(self, index: int) -> str:
        if self.lines is None and self.line_of is not None:
            line = self.line_of(index)
            return row_where(self.label, index, None) + ("" if line is None else f" (line {line})")
        return row_where(self.label, index, self.lines)


WEIGHTS_HINT = f"{option('weights')}: finite numbers >= 0, not all 0, one per row of the predictions"


def checked_weights(
    values: Any, label: str, column: str, start: int, text_of: Callable[[int], str] | None = None
) -> NDArray[Any]:
    """A block's weights column as float64, or the error naming the first weight not finite and >= 0.

    ``text_of(row)`` gives a bad row's cell as written (None: the cell was read as a number,
    and a NaN there is a missing cell or a NaN alike).
    """
    import numpy as np

    from xent_cli.errors import InputError

    weights = np.asarray(values, dtype=np.float64)
    bad = ~(np.isfinite(weights) & (weights >= 0))
    if bad.any():
        row = int(np.argmax(bad))
        where = f"{label} column {column!r}: row {start + row + 1}"
        value = float(weights[row])
        if text_of is not None:
            shown = repr(text_of(row))
        elif math.isnan(value):
            raise InputError(f"{where}: weight is missing or NaN", hint=WEIGHTS_HINT)
        else:
            shown = repr(_number_text(value))
        raise InputError(f"{where}: weight {shown} is not a finite number >= 0", hint=WEIGHTS_HINT)
    return weights


def _number_text(value: float) -> str:
    """A number read as float the way it was most likely written: ``-1``, not ``-1.0``."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def row_where(label: str, index: int, lines: list[int] | None) -> str:
    """``label: row 3 (line 4)`` for the 0-based row ``index``; the line when known."""
    text = f"{label}: row {index + 1}"
    if lines is not None:
        text += f" (line {lines[index]})"
    return text


def clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short(text: object, limit: int = 40) -> str:
    """Offending text for a message: quoted, and cut short if long."""
    return repr(clip(str(text), limit))


def _size_from_env(name: str, default: int) -> int:
    text = os.environ.get(name)
    if not text:
        return default
    from xent_cli.errors import UsageError

    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    stripped = text.strip().lower().removesuffix("b").removesuffix("i")
    scale = units.get(stripped[-1:], 1)
    digits = stripped[:-1] if stripped[-1:] in units else stripped
    try:
        value = int(float(digits) * scale)
    except ValueError:
        raise UsageError(f"{name}={text!r}: give a number of bytes, like 64M") from None
    if value <= 0:
        raise UsageError(f"{name}={text!r}: must be a positive number of bytes")
    return value


# Bounds on what one read may hold, so /dev/zero or a file without newlines cannot
# take all memory. Both are overridable through the environment.
DEFAULT_MAX_LINE_BYTES = 64 << 20
DEFAULT_MAX_DOCUMENT_BYTES = 512 << 20


def max_line_bytes() -> int:
    """The longest line of text (CSV/TSV row, JSON Lines line) xent reads: ``XENT_MAX_LINE_BYTES``."""
    return _size_from_env("XENT_MAX_LINE_BYTES", DEFAULT_MAX_LINE_BYTES)


def max_document_bytes() -> int:
    """The largest whole document (JSON, a labels file) xent reads: ``XENT_MAX_DOCUMENT_BYTES``."""
    return _size_from_env("XENT_MAX_DOCUMENT_BYTES", DEFAULT_MAX_DOCUMENT_BYTES)


def size_text(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


# Blocks read ahead of the computation, on a thread of their own.
READ_AHEAD = 2


def read_ahead(items: Iterator[Block], depth: int, name: str) -> Iterator[Block]:
    """``items``, produced on a thread of their own up to ``depth`` ahead of the consumer.

    Parsing (pandas and NumPy release the GIL while they tokenize and convert) then runs
    beside the computation. An exception in the producer is raised here, in order, after
    the items before it.
    """
    import contextlib
    import queue
    import threading
    import time

    channel: queue.Queue[tuple[bool, Any]] = queue.Queue(depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                channel.put((True, item))
                if stop.is_set():
                    return
            channel.put((True, done))
        except BaseException as exc:  # handed to the consumer, which raises it
            channel.put((False, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            ok, item = channel.get()
            if not ok:
                raise item
            if item is done:
                return
            yield item
    finally:
        stop.set()
        # Make room for a producer waiting to put, and give it a moment to notice the stop; one
        # still blocked reading a pipe is left behind (a daemon thread ends with the process).
        deadline = time.monotonic() + 5
        while thread.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                channel.get_nowait()
            thread.join(0.02)
