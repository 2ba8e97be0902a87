""".npy arrays: 1-D is one distribution (or, for ``xent loss``, a column of P(y=1)), 2-D or more is rows.

The header is parsed from the sniffed bytes, and the data is then read a block of rows
at a time: straight from a regular file (never through the memory map, so resident
memory stays one block), or from the stream for stdin, pipes and compressed files.
Either way, nothing is read that the header does not announce, so ``/dev/zero`` or a
truncated file ends with one clear error.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from xent_cli.errors import InputError
from xent_cli.io.sources import OpenedSource, read_up_to
from xent_cli.io.table import Block, ReadOptions, Table, clip, max_document_bytes, size_text

_MAGIC = b"\x93NUMPY"


@dataclass
class NpyHeader:
    dtype: Any
    shape: tuple[int, ...]
    fortran_order: bool
    offset: int  # bytes before the data


def read_header(opened: OpenedSource) -> NpyHeader:
    """The .npy header, from the head of the stream (read further if the header is long)."""
    import numpy as np

    label = opened.label
    head = opened.peek(10)
    if not head.startswith(_MAGIC) or len(head) < 10:
        raise InputError(f"{label}: is not a valid .npy file: it does not start with the .npy magic bytes")
    major = head[6]
    if major == 1:
        size, start = int.from_bytes(head[8:10], "little"), 10
    elif major in (2, 3):
        head = opened.peek(12)
        size, start = int.from_bytes(head[8:12], "little"), 12
    else:
        raise InputError(f"{label}: is not a valid .npy file: unknown format version {major}")
    if size > (1 << 24):
        raise InputError(f"{label}: is not a valid .npy file: its header claims {size} bytes")
    head = opened.peek(start + size)
    if len(head) < start + size:
        raise InputError(f"{label}: is not a valid .npy file: the header is cut short")
    text = head[start : start + size].decode("latin-1" if major < 3 else "utf-8", errors="replace")
    try:
        info = ast.literal_eval(text)
        dtype = np.dtype(np.lib.format.descr_to_dtype(info["descr"]))
        shape = tuple(int(n) for n in info["shape"])
        fortran = bool(info["fortran_order"])
    except Exception as exc:  # literal_eval and dtype parsing raise many types
        raise InputError(
            f"{label}: is not a valid .npy file: {clip(str(exc) or type(exc).__name__, 80)}"
        ) from None
    if any(n < 0 for n in shape):
        raise InputError(f"{label}: is not a valid .npy file: shape {shape}")
    return NpyHeader(dtype, shape, fortran, start + size)


def read_npy(opened: OpenedSource, options: ReadOptions) -> Table:
    header = read_header(opened)
    return array_table(
        opened,
        options,
        dtype=header.dtype,
        shape=header.shape,
        offset=header.offset,
        fortran=header.fortran_order,
        layout={"format": "npy"},
    )


def array_table(
    opened: OpenedSource,
    options: ReadOptions,
    *,
    dtype: Any,
    shape: tuple[int, ...],
    offset: int,
    layout: dict[str, Any],
    fortran: bool = False,
    convert: Callable[[Any], Any] | None = None,
) -> Table:
    """A table of an array stored raw at ``offset`` bytes into ``opened`` (.npy, .npz, safetensors).

    1-D is one distribution (for ``xent loss``, a column of P(y=1)); 2-D or more is rows of
    the last axis. Rows are read a block at a time; ``convert`` turns a block of the stored
    type into numbers (bfloat16).
    """
    import numpy as np

    label = opened.label
    if dtype.hasobject or dtype.names is not None or dtype.kind not in "fiu":
        raise InputError(f"{label}: holds {dtype} values, not numbers")
    if len(shape) == 0 or shape[-1] == 0:
        raise InputError(f"{label}: holds no outcome values (shape {shape})")
    notes: list[str] = []
    if len(shape) == 1 and options.role == "predictions":
        # P(y = 1) of one sample per element: a column, read as binary predictions.
        rows, width = shape[0], 1
        notes.append(f"{label}: 1-D array read as {rows} binary predictions P(y=1), one per element")
    elif len(shape) == 1:
        rows, width = 1, shape[0]
    else:
        width = shape[-1]
        rows = 1
        for n in shape[:-1]:
            rows *= n
    if rows == 0:
        raise InputError(f"{label}: holds no rows")
    step = options.rows_per_block(width)  # the computation's block: never cut and joined again
    row_bytes = width * dtype.itemsize
    if fortran and len(shape) > 1:
        values = _whole_fortran(opened, dtype, shape, offset, rows, width)
        if convert is not None:  # pragma: no cover - no Fortran order outside .npy
            values = convert(values)

        def blocks() -> Iterator[Block]:
            for start in range(0, rows, step):
                yield Block(values=values[start : start + step], start=start)

    else:

        def blocks() -> Iterator[Block]:
            stream = opened.raw_stream()
            try:
                _skip(stream, offset, label)
                for start in range(0, rows, step):
                    count = min(step, rows - start)
                    # float16/float32 stay compact until a block is widened for computing.
                    values = np.empty((count, width), dtype=dtype)
                    got = _read_into(stream, memoryview(values).cast("B"))  # type: ignore[arg-type]
                    if got < count * row_bytes:
                        raise InputError(
                            f"{label}: ends early, at row {start + got // row_bytes + 1} of {rows}",
                            hint="the file may be truncated",
                        )
                    yield Block(values=values if convert is None else convert(values), start=start)
            finally:
                stream.close()

    return Table(
        label=label,
        outcomes=None,
        id_name=None,
        make_blocks=blocks,
        width=width,
        notes=notes,
        expected_rows=rows,
        layout={
            **layout,
            "header": False,
            "id": None,
            "outcomes": width,
            "labels": [],
            "ignored": [],
            "shape": list(shape),
        },
    )


def _skip(stream: IO[bytes], size: int, label: str) -> None:
    """Move to byte ``size``: a seek, or reading (a megabyte at a time) what a stream cannot skip."""
    if stream.seekable():
        stream.seek(size)
        return
    left = size
    while left > 0:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            raise InputError(f"{label}: ends early, before its data", hint="the file may be truncated")
        left -= len(chunk)


def _read_into(stream: IO[bytes], buffer: memoryview) -> int:
    """Fill ``buffer`` from ``stream``; the number of bytes read (less only at the end of the data)."""
    done = 0
    total = len(buffer)
    while done < total:
        readinto = getattr(stream, "readinto", None)
        if readinto is not None:
            n = readinto(buffer[done:])
        else:  # pragma: no cover - every stream here has readinto
            data = stream.read(total - done)
            n = len(data)
            buffer[done : done + n] = data
        if not n:
            break
        done += n
    return done


def _data_bytes(opened: OpenedSource, offset: int, size: int) -> bytes:
    """The first ``size`` data bytes from ``offset``; an error if the file ends before."""
    stream = opened.raw_stream()
    try:
        _skip(stream, offset, opened.label)
        data = read_up_to(stream, size)
    finally:
        stream.close()
    if len(data) < size:
        raise InputError(f"{opened.label}: ends early ({len(data)} of {size} data bytes)")
    return data


def _whole_fortran(
    opened: OpenedSource, dtype: Any, shape: tuple[int, ...], offset: int, rows: int, width: int
) -> Any:
    """A Fortran-ordered array, which cannot be cut into rows without reading it all."""
    import numpy as np

    label = opened.label
    size = rows * width * dtype.itemsize
    limit = max_document_bytes()
    if size > limit:
        raise InputError(
            f"{label}: is a Fortran-ordered array of {size} bytes, more than {size_text(limit)}",
            hint="save it C-ordered (np.ascontiguousarray) to have it read in blocks, "
            "or set XENT_MAX_DOCUMENT_BYTES",
        )
    data = _data_bytes(opened, offset, size)
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F")
    return np.ascontiguousarray(array).reshape(rows, width)


def npy_values(opened: OpenedSource) -> Any:
    """Every value of a .npy source, flattened (for labels, held in memory)."""
    import numpy as np

    header = read_header(opened)
    label = opened.label
    if header.dtype.hasobject or header.dtype.names is not None:
        raise InputError(f"{label}: holds {header.dtype} values, not labels")
    count = 1
    for n in header.shape:
        count *= n
    size = count * header.dtype.itemsize
    limit = max_document_bytes()
    if size > limit:
        raise InputError(
            f"{label}: holds {size} bytes of labels, more than {size_text(limit)}",
            hint="set XENT_MAX_DOCUMENT_BYTES to raise the limit",
        )
    data = _data_bytes(opened, header.offset, size)
    array = np.frombuffer(data, dtype=header.dtype)
    return array.reshape(header.shape, order="F" if header.fortran_order else "C").reshape(-1)
