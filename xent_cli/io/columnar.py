"""Parquet, Feather (Arrow IPC file) and Arrow IPC streams, through pyarrow.

Column types say how each value was written (integers, floating point, text), and
pandas' metadata names the index, so the layout rule has little to infer. Rows are
read a record batch at a time (Parquet: by row group, only the columns needed), so
memory stays bounded.

Parquet and the Arrow IPC *file* format keep their footer at the end and need random
access: a regular file is read in place, while stdin, a pipe or a compressed file is
first spooled to a temporary file (on disk, not in memory), then read the same way.
An Arrow IPC *stream* is read as it arrives.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from xent_cli.errors import InputError, option
from xent_cli.io import layout as rule
from xent_cli.io.jsonrows import label_text
from xent_cli.io.layout_types import ID_SEPARATOR
from xent_cli.io.sources import OpenedSource
from xent_cli.io.table import READ_AHEAD, Block, ReadOptions, Table, checked_weights, read_ahead
from xent_cli.tuning import prefer_parquet_allocator

if TYPE_CHECKING:
    import pyarrow as pa
    from numpy.typing import NDArray


def _pyarrow() -> Any:
    prefer_parquet_allocator()
    try:
        import pyarrow
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        raise InputError(
            "reading Parquet and Arrow files needs pyarrow", hint="pip install pyarrow"
        ) from None
    return pyarrow


def seekable(opened: OpenedSource) -> Any:
    """A path or a seekable file holding the whole data (spooled to disk when it is a stream)."""
    if opened.plain and opened.source.path is not None:
        return str(opened.source.path)
    spool: IO[bytes] = tempfile.TemporaryFile(prefix="xent-")  # noqa: SIM115 - closed with the table
    stream = opened.stream
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        spool.write(chunk)
    spool.seek(0)
    return spool


def _kind_of(arrow_type: Any) -> int:
    """The layout kind of a column, from its values' type: an encoding never decides a role.

    A dictionary-encoded column (pandas ``category``) is what its values are; a list of
    numbers (variable, large or fixed size) is a LIST; a struct, a map, a union or a list
    of anything else is NESTED, which can be neither an outcome, an id nor a label.
    """
    pa = _pyarrow()
    types = pa.types
    if types.is_dictionary(arrow_type):
        return _kind_of(arrow_type.value_type)
    if types.is_integer(arrow_type):
        return rule.INT
    if types.is_floating(arrow_type) or types.is_decimal(arrow_type):
        return rule.DEC
    if types.is_null(arrow_type):
        return rule.EMPTY
    if types.is_list(arrow_type) or types.is_large_list(arrow_type) or types.is_fixed_size_list(arrow_type):
        return rule.LIST if _kind_of(arrow_type.value_type) in (rule.INT, rule.DEC) else rule.NESTED
    if isinstance(arrow_type, pa.ExtensionType):  # a uuid, a pandas period: what it stores
        return _kind_of(arrow_type.storage_type)
    if types.is_nested(arrow_type) or types.is_union(arrow_type):
        return rule.NESTED
    return rule.TEXT


# Rows sampled for the layout of a table with a list column.
_LIST_SAMPLE_ROWS = 64


def _list_lengths(column: Any) -> Any:
    """Each row's list length (null for a missing list)."""
    import pyarrow.compute as pc

    return pc.list_value_length(column)


def _pandas_index(schema: Any) -> list[str]:
    """The index columns pandas recorded in the schema metadata (none for a RangeIndex)."""
    metadata = schema.metadata or {}
    raw = metadata.get(b"pandas")
    if not raw:
        return []
    try:
        index = json.loads(raw).get("index_columns", [])
    except (ValueError, AttributeError):
        return []
    return [c for c in index if isinstance(c, str)]


def _display_name(name: str) -> str:
    # pandas stores an unnamed index as "__index_level_0__".
    return "" if name.startswith("__index_level_") and name.endswith("__") else name


class _Reader:
    """Record batches of one Parquet/Arrow source, readable twice (sample, then data) where possible."""

    def __init__(self, opened: OpenedSource) -> None:
        pa = _pyarrow()
        self.label = opened.label
        self.spool: Any = None
        self._stream_batches: Iterator[Any] | None = None
        self._first_stream_batch: Any = None
        fmt = opened.format
        try:
            if fmt == "parquet":
                import pyarrow.parquet as pq

                source = seekable(opened)
                self.spool = None if isinstance(source, str) else source
                # Column chunks are read through small buffers, not pre-buffered whole: a
                # row group of a million rows would otherwise sit in memory (80 MB for ten
                # float64 columns) while it is decoded a batch at a time.
                self.parquet = pq.ParquetFile(source, pre_buffer=False, buffer_size=1 << 16)
                self.schema = self.parquet.schema_arrow
                self.kind = "parquet"
            elif opened.head.startswith(b"ARROW1"):
                source = seekable(opened)
                self.spool = None if isinstance(source, str) else source
                self.ipc_file = pa.ipc.open_file(source)
                self.schema = self.ipc_file.schema
                self.kind = "file"
            else:
                self.ipc_stream = pa.ipc.open_stream(opened.stream)
                self.schema = self.ipc_stream.schema
                self.kind = "stream"
        except (pa.ArrowException, OSError, ValueError) as exc:
            self.close()  # the spooled copy of a stream: no table will close it
            what = "Parquet" if fmt == "parquet" else "Arrow IPC (Feather)"
            raise InputError(f"{self.label}: is not a valid {what} file: {_first_line(exc)}") from None

    def batches(self, columns: list[str] | None, size: int) -> Iterator[Any]:
        pa = _pyarrow()
        try:
            if self.kind == "parquet":
                # pyarrow decodes the columns of a batch on its threads.
                yield from self.parquet.iter_batches(batch_size=size, columns=columns, use_threads=True)
            elif self.kind == "file":
                for i in range(self.ipc_file.num_record_batches):
                    batch = self.ipc_file.get_batch(i)
                    if columns is not None:
                        batch = batch.select(columns)
                    for lo in range(0, batch.num_rows, size):
                        yield batch.slice(lo, size)
            else:
                if self._first_stream_batch is not None:
                    first, self._first_stream_batch = self._first_stream_batch, None
                    yield from _sliced(first, columns, size)
                for batch in self.ipc_stream:
                    yield from _sliced(batch, columns, size)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{self.label}: cannot read: {_first_line(exc)}") from None

    def rows(self) -> int | None:
        """The number of rows, where the file's metadata says it."""
        return int(self.parquet.metadata.num_rows) if self.kind == "parquet" else None

    def sample(self, rows: int = rule.SAMPLE_ROWS) -> Any:
        """The first rows (up to ``rows``) as one record batch, or None."""
        pa = _pyarrow()
        try:
            if self.kind == "stream":
                for batch in self.ipc_stream:
                    if batch.num_rows:
                        self._first_stream_batch = batch
                        return batch.slice(0, rows)
                return None
            for batch in self.batches(None, rows):
                if batch.num_rows:
                    return batch
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{self.label}: cannot read: {_first_line(exc)}") from None
        return None

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


def _sliced(batch: Any, columns: list[str] | None, size: int) -> Iterator[Any]:
    if columns is not None:
        batch = batch.select(columns)
    for lo in range(0, batch.num_rows, size):
        yield batch.slice(lo, size)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _layout_sample(reader: _Reader, opened: OpenedSource) -> rule.Sample:
    """What the layout rule needs: each sampled cell's kind (from its column's type) and value.

    A list column's value is each row's list length.
    """
    import numpy as np

    schema = reader.schema
    raw_names = list(schema.names)
    # A list column may hold a vocabulary per row: a few rows say all the layout needs.
    has_lists = any(_kind_of(field.type) == rule.LIST for field in schema)
    first = reader.sample(_LIST_SAMPLE_ROWS if has_lists else rule.SAMPLE_ROWS)
    if first is None:
        raise InputError(f"{opened.label}: has no rows")
    rows, width = first.num_rows, len(raw_names)
    kinds = np.zeros((rows, width), dtype=np.int8)
    values = np.full((rows, width), np.nan)
    for c, field in enumerate(schema):
        kind = _kind_of(field.type)
        column = first.column(c)
        valid = np.ones(rows, dtype=bool) if column.null_count == 0 else ~np.asarray(column.is_null())
        kinds[:, c] = np.where(valid, kind, rule.EMPTY)
        if kind in (rule.INT, rule.DEC):
            values[:, c] = _floats(column)
        elif kind == rule.LIST:
            lengths = _list_lengths(column).fill_null(-1)
            values[:, c] = np.where(valid, np.asarray(lengths, dtype=np.float64), np.nan)
    index_names = _pandas_index(schema)
    return rule.Sample(
        label=opened.label,
        format=opened.format,
        kinds=kinds,
        values=values,
        names=[_display_name(n) for n in raw_names],
        index=tuple(raw_names.index(n) for n in index_names if n in raw_names),
        complete=False,
        types=[str(field.type) for field in schema],
    )


def read_columnar(opened: OpenedSource, options: ReadOptions) -> Table:
    label = opened.label
    reader = _Reader(opened)
    try:
        raw_names = list(reader.schema.names)
        decided = rule.decide(_layout_sample(reader, opened), options)
    except BaseException:
        reader.close()
        raise
    wanted = [raw_names[c] for c in decided.outcomes]
    id_names = [raw_names[c] for c in decided.id_columns]
    label_name = raw_names[decided.label] if decided.label is not None else None
    weight_name = None
    if options.weight_column is not None:
        try:
            index = rule._find(options.weight_column, raw_names, len(raw_names), label, option("weights"))
        except BaseException:
            reader.close()
            raise
        weight_name = raw_names[index]
    extra = (n for n in (*id_names, label_name, weight_name) if n is not None)
    needed = list(dict.fromkeys([*wanted, *extra]))
    # The computation's block size: a batch is a block, never cut and joined (which held
    # two copies of each side's rows, 40 MB of a Parquet KL's peak).
    batch_rows = options.rows_per_block(decided.n_outcomes)

    def blocks() -> Iterator[Block]:
        # Decoded on a thread of their own, beside the computation.
        return read_ahead(decoded(), READ_AHEAD, f"xent-read {label}")

    def decoded() -> Iterator[Block]:
        start = 0
        try:
            for batch in reader.batches(needed, batch_rows):
                if batch.num_rows == 0:
                    continue
                block = _block(batch, wanted, id_names, label_name, start, label, decided)
                if weight_name is not None:
                    block.weights = _weights(batch, weight_name, start, label)
                start += len(block)
                yield block
        finally:
            reader.close()
        if start == 0:
            raise InputError(f"{label}: has no rows")

    return Table(
        label=label,
        outcomes=decided.outcome_names,
        id_name=decided.id_name,
        make_blocks=blocks,
        outcome_positions=None if decided.list_column is not None else [i + 1 for i in decided.outcomes],
        has_labels=decided.label is not None,
        width=decided.n_outcomes,
        notes=list(decided.notes),
        close=reader.close,
        layout=decided.record(opened.format),
        sum_hint=decided.sum_hint,
        expected_rows=reader.rows(),
    )


def _floats(column: Any) -> NDArray[Any]:
    import numpy as np

    pa = _pyarrow()
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if column.null_count:
        column = (
            column.fill_null(math.nan) if pa.types.is_floating(column.type) else column.cast(pa.float64())
        )
    try:
        return np.asarray(_numbers(column), dtype=np.float64)
    except (pa.ArrowException, TypeError, ValueError):
        return np.full(len(column), np.nan)


def _numbers(column: Any) -> NDArray[Any]:
    """A numeric Arrow array as NumPy: a view of its data buffer when it has no nulls.

    ``Array.to_numpy`` imports pandas (about half a second); fixed-width integers and
    floats without nulls need no conversion at all, so only other types take that path.
    """
    import numpy as np

    pa = _pyarrow()
    kind = column.type
    if isinstance(column, pa.ChunkedArray):
        parts = [_numbers(chunk) for chunk in column.chunks]
        return np.concatenate(parts) if parts else np.empty(0)
    if column.null_count == 0 and (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
        code = "f" if pa.types.is_floating(kind) else "i" if pa.types.is_signed_integer(kind) else "u"
        dtype = np.dtype(f"{code}{kind.bit_width // 8}")
        buffer = column.buffers()[1]
        return np.frombuffer(buffer, dtype=dtype, count=len(column), offset=column.offset * dtype.itemsize)
    return np.asarray(column.to_numpy(zero_copy_only=False))


def _block(
    batch: pa.RecordBatch,
    wanted: list[str],
    id_names: list[str],
    label_name: str | None,
    start: int,
    label: str,
    decided: rule.Layout,
) -> Block:
    import numpy as np

    pa = _pyarrow()
    if decided.list_column is not None:
        values = _list_block(
            batch.column(batch.schema.get_field_index(wanted[0])), wanted[0], start, label, decided
        )
    else:
        values = np.empty((batch.num_rows, len(wanted)), dtype=np.float64)
    for position, name in enumerate(wanted if decided.list_column is None else ()):
        column = batch.column(batch.schema.get_field_index(name))
        if column.null_count:
            row = int(np.argmax(np.asarray(column.is_null())))
            shown = decided.outcome_names[position] if decided.outcome_names else name
            raise InputError(
                f"{label}: row {start + row + 1}, column {decided.outcomes[position] + 1} ({shown!r}): "
                "value is missing",
                hint="fill it in or remove the row",
            )
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if not (
            pa.types.is_integer(column.type)
            or pa.types.is_floating(column.type)
            or pa.types.is_decimal(column.type)
        ):
            shown = decided.outcome_names[position] if decided.outcome_names else name
            raise InputError(
                f"{label}: column {decided.outcomes[position] + 1} ({shown!r}) holds {column.type} values, "
                "not numbers",
                hint=f"choose the outcome columns with {option('columns')}",
            )
        values[:, position] = _numbers(column)
    ids = _ids(batch, id_names)
    labels = (
        [label_text(v) for v in batch.column(batch.schema.get_field_index(label_name)).to_pylist()]
        if label_name is not None
        else None
    )
    return Block(values=values, start=start, ids=ids, labels=labels)


def _ids(batch: pa.RecordBatch, names: list[str]) -> list[str] | None:
    """Each row's id: the id column's value as text, or a MultiIndex's values joined ("10|0")."""
    if not names:
        return None
    parts = [
        [label_text(v) for v in batch.column(batch.schema.get_field_index(n)).to_pylist()] for n in names
    ]
    if len(parts) == 1:
        return parts[0]
    return [ID_SEPARATOR.join(row) for row in zip(*parts, strict=True)]


def _weights(batch: pa.RecordBatch, name: str, start: int, label: str) -> NDArray[Any]:
    """A batch's weights column (``--weights``) as float64, checked; a column of text is parsed."""
    pa = _pyarrow()
    column = batch.column(batch.schema.get_field_index(name))
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return checked_weights(_floats(column), label, name, start)
    texts = [label_text(v) if v is not None else "" for v in column.to_pylist()]
    numbers = [_number(text) for text in texts]
    return checked_weights(numbers, label, name, start, lambda row: texts[row])


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _list_block(column: Any, name: str, start: int, label: str, decided: rule.Layout) -> NDArray[Any]:
    """A batch of a list column as a ``(rows, width)`` array; a row of another length is an error.

    float16 and float32 lists stay compact (widened for computing, as a .npy's are).
    """
    import numpy as np

    pa = _pyarrow()
    width = decided.n_outcomes
    rows = len(column)
    if column.null_count:
        row = int(np.argmax(np.asarray(column.is_null())))
        raise InputError(
            f"{label}: row {start + row + 1}, column {name!r}: the list is missing",
            hint="fill it in or remove the row",
        )
    if pa.types.is_fixed_size_list(column.type):
        size = column.type.list_size
        if size != width:  # pragma: no cover - one schema per file
            raise InputError(f"{label}: column {name!r} holds lists of {size} values, expected {width}")
    else:
        lengths = np.asarray(_list_lengths(column))
        bad = np.flatnonzero(lengths != width)
        if bad.size:
            row = int(bad[0])
            raise InputError(
                f"{label}: row {start + row + 1}, column {name!r}: the list holds {int(lengths[row])} "
                f"values, but row 1's holds {width}",
                hint="every row's list needs one value per outcome",
            )
    flat = column.flatten()
    if pa.types.is_dictionary(flat.type):
        flat = flat.cast(flat.type.value_type)
    if flat.null_count:
        at = int(np.argmax(np.asarray(flat.is_null())))
        raise InputError(
            f"{label}: row {start + at // width + 1}, column {name!r}: item {at % width + 1} is missing",
            hint="fill it in or remove the row",
        )
    numbers = _numbers(flat)
    dtype = numbers.dtype if numbers.dtype.kind == "f" else np.float64
    return np.array(numbers, dtype=dtype).reshape(rows, width)


def _described(opened: OpenedSource, options: ReadOptions) -> tuple[_Reader, rule.Layout, list[str]]:
    reader = _Reader(opened)
    try:
        raw_names = list(reader.schema.names)
        return reader, rule.decide(_layout_sample(reader, opened), options), raw_names
    except BaseException:
        reader.close()
        raise


def columnar_labels(opened: OpenedSource, options: ReadOptions) -> Any:
    """Labels (and ids) from a Parquet/Arrow table, by the layout rule's label column."""
    from xent_cli.io.table import Labels

    reader, decided, raw_names = _described(opened, options)
    if decided.label is None:
        reader.close()
        raise InputError(f"{opened.label}: has no column of labels")
    id_names = [raw_names[c] for c in decided.id_columns]
    wanted = list(dict.fromkeys([raw_names[decided.label], *id_names]))
    values: list[str] = []
    ids: list[str] = []
    try:
        for batch in reader.batches(wanted, 1 << 16):
            values.extend(label_text(v) for v in batch.column(0).to_pylist())
            ids.extend(_ids(batch, id_names) or [])
    finally:
        reader.close()
    return Labels(
        opened.label,
        values,
        ids if decided.id is not None else None,
        notes=list(decided.notes),
        layout=decided.record(opened.format),
    )


def columnar_samples(
    opened: OpenedSource, options: ReadOptions, names: list[str], flags: list[str]
) -> Iterator[list[list[str]]]:
    """Blocks of sample columns (as text) from a Parquet/Arrow table."""
    reader = _Reader(opened)
    raw_names = list(reader.schema.names)
    try:
        indices = [
            rule._find(n, raw_names, len(raw_names), opened.label, f)
            for n, f in zip(names, flags, strict=True)
        ]
    except BaseException:
        reader.close()
        raise
    wanted = [raw_names[i] for i in indices]

    def blocks() -> Iterator[list[list[str]]]:
        start = 0
        try:
            for batch in reader.batches(list(dict.fromkeys(wanted)), 1 << 16):
                columns = []
                for name in wanted:
                    column = batch.column(batch.schema.get_field_index(name))
                    if column.null_count:
                        import numpy as np

                        row = int(np.argmax(np.asarray(column.is_null())))
                        raise InputError(
                            f"{opened.label}: row {start + row + 1}: {name!r} is empty",
                            hint="every sample needs a value in each column",
                        )
                    columns.append([label_text(v) for v in column.to_pylist()])
                start += batch.num_rows
                yield columns
        finally:
            reader.close()

    return blocks()
