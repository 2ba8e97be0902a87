"""Archives of named arrays: NumPy's ``.npz`` and Hugging Face's ``.safetensors``.

One array is read (``FILE.npz:NAME`` or ``FILE.safetensors:NAME`` picks it; a file
of one array needs no name), a block of rows at a time, as a ``.npy`` is.

- ``.npz`` is a zip archive of ``NAME.npy`` members, stored (``np.savez``) or deflated
  (``np.savez_compressed``). The archive needs random access, so stdin or a pipe is
  first spooled to a temporary file; the member is then decompressed as it is read.
- ``.safetensors``: an 8-byte little-endian header size N, N bytes of JSON
  (``{NAME: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}``,
  plus an optional ``__metadata__``), then the data; offsets count from the end of
  the header. It is parsed here (the ``safetensors`` package is not needed), and the
  tensor is read from its offset (seeking in a file, reading on in a stream).
"""

from __future__ import annotations

import io
import json
import math
import zipfile
import zlib
from typing import IO, Any, cast

from xent_cli.errors import InputError
from xent_cli.io.npy import array_table, read_header
from xent_cli.io.sources import OpenedSource, Source, WrappedStream
from xent_cli.io.table import ReadOptions, Table, clip

# safetensors dtypes xent reads: the NumPy type of their little-endian bytes (BF16 widened below).
_SAFETENSORS_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "BF16": "<u2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U64": "<u8",
    "U32": "<u4",
    "U16": "<u2",
    "U8": "u1",
}
# The most header a safetensors file may claim (the format itself caps it at 100 MB).
_MAX_HEADER = 100 << 20


def _pick(names: list[str], member: str | None, label: str, what: str, spec: str) -> str:
    """The array to read: the one named, or the only one; else an error listing the names."""
    listed = ", ".join(repr(n) for n in names[:10])
    if len(names) > 10:
        listed += f" and {len(names) - 10} more"
    if member is not None:
        if member not in names:
            raise InputError(
                f"{label}: has no {what} {member!r}", hint=f"its {what}s are: {listed or 'none'}"
            )
        return member
    if not names:
        raise InputError(f"{label}: holds no {what}s")
    if len(names) > 1:
        raise InputError(
            f"{label}: holds {len(names)} {what}s ({listed})",
            hint=f"pick one as {spec}:NAME, e.g. {spec}:{names[0]}",
        )
    return names[0]


def _path_spec(opened: OpenedSource) -> str:
    source = opened.source
    return str(source.path) if source.path is not None else "FILE"


# --- .npz ---------------------------------------------------------------------------------------


class _GuardedMember(WrappedStream):
    """A zip member's stream whose failures (bad CRC, corrupt deflate data) are one InputError."""

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(len(buffer))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise InputError(
                f"{self._label}: is a corrupt or truncated .npz archive: {clip(str(exc), 80)}"
            ) from None
        buffer[: len(data)] = data
        return len(data)


def read_npz(opened: OpenedSource, options: ReadOptions) -> Table:
    """One array of an ``.npz`` archive, read as a ``.npy``."""
    from xent_cli.io.columnar import seekable

    label = opened.label
    where = seekable(opened)
    spool = None if isinstance(where, str) else where
    try:
        try:
            archive = zipfile.ZipFile(where)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise InputError(
                f"{label}: is not a valid .npz archive: {clip(str(exc), 80)}",
                hint="the file may be truncated or corrupt",
            ) from None
        try:
            members = {
                info.filename.removesuffix(".npy"): info
                for info in archive.infolist()
                if info.filename.endswith(".npy")
            }
            name = _pick(list(members), opened.source.member, label, "array", _path_spec(opened))
            try:
                stream = archive.open(members[name])
            except (zipfile.BadZipFile, NotImplementedError, OSError, RuntimeError) as exc:
                raise InputError(f"{label}: cannot read array {name!r}: {clip(str(exc), 80)}") from None
            member = cast("IO[bytes]", io.BufferedReader(_GuardedMember(stream, label), 1 << 16))
            inner = OpenedSource(Source(label=label), member, b"", "npy", None, plain=False)
            header = read_header(inner)
            table = array_table(
                inner,
                options,
                dtype=header.dtype,
                shape=header.shape,
                offset=header.offset,
                fortran=header.fortran_order,
                layout={"format": "npz", "array": name},
            )
        except BaseException:
            archive.close()
            raise
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    inner_close = table.close

    def close() -> None:
        inner_close()
        inner.close()
        archive.close()
        if spool is not None:
            spool.close()

    table.close = close
    return table


# --- .safetensors ---------------------------------------------------------------------------------


def read_safetensors(opened: OpenedSource, options: ReadOptions) -> Table:
    """One tensor of a ``.safetensors`` file, read from its offset a block of rows at a time."""
    import numpy as np

    label = opened.label
    head = opened.peek(8)
    if len(head) < 8:
        raise InputError(f"{label}: is not a valid safetensors file: it ends inside the header size")
    size = int.from_bytes(head[:8], "little")
    if size < 2 or size > _MAX_HEADER:
        raise InputError(f"{label}: is not a valid safetensors file: its header claims {size} bytes")
    head = opened.peek(8 + size)
    if len(head) < 8 + size:
        raise InputError(
            f"{label}: is not a valid safetensors file: the header is cut short "
            f"({len(head) - 8} of {size} bytes)",
            hint="the file may be truncated",
        )
    try:
        header = json.loads(head[8 : 8 + size])
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{label}: is not a valid safetensors file: its header is not JSON ({clip(str(exc), 80)})"
        ) from None
    if not isinstance(header, dict):
        raise InputError(f"{label}: is not a valid safetensors file: its header is not a JSON object")
    names = [n for n in header if n != "__metadata__"]
    name = _pick(names, opened.source.member, label, "tensor", _path_spec(opened))
    info = header[name]
    try:
        dtype_name = info["dtype"]
        shape = tuple(int(n) for n in info["shape"])
        begin, end = (int(n) for n in info["data_offsets"])
    except (KeyError, TypeError, ValueError):
        raise InputError(
            f"{label}: is not a valid safetensors file: tensor {name!r} lacks dtype, shape or data_offsets"
        ) from None
    if dtype_name not in _SAFETENSORS_DTYPES:
        raise InputError(
            f"{label}: tensor {name!r} holds {dtype_name} values, which xent does not read",
            hint="save it as F32, F16, BF16 or F64",
        )
    dtype = np.dtype(_SAFETENSORS_DTYPES[dtype_name])
    needed = math.prod(shape) * dtype.itemsize
    if any(n < 0 for n in shape) or begin < 0 or end - begin != needed:
        raise InputError(
            f"{label}: is not a valid safetensors file: tensor {name!r} ({dtype_name}, shape "
            f"{list(shape)}) needs {needed} bytes, but its offsets span {end - begin}"
        )
    offset = 8 + size + begin
    total = opened.size()
    if total is not None and 8 + size + end > total:
        raise InputError(
            f"{label}: ends early: tensor {name!r} needs bytes up to {8 + size + end}, the file has {total}",
            hint="the file may be truncated",
        )
    return array_table(
        opened,
        options,
        dtype=dtype,
        shape=shape,
        offset=offset,
        layout={"format": "safetensors", "tensor": name, "dtype": dtype_name},
        convert=_bfloat16 if dtype_name == "BF16" else None,
    )


def _bfloat16(values: Any) -> Any:
    """bfloat16 bits (the top half of a float32) as float32."""
    import numpy as np

    return (values.astype(np.uint32) << 16).view(np.float32)
