"""Per-row results of big inputs kept in a temporary file, so that memory does not grow with rows.

A :class:`~xent_cli.columns.buffer.RowBuffer` holds its first ``SPILL_VALUES``
values in memory; past that it writes them to an unlinked temporary file (in
``TMPDIR``), which the kernel keeps in its page cache and writes back as it
needs the memory. The values are then read through a shared map of that file:
an array like any other. Whatever walks over all of them (the summary, the
mean, the worst rows) does so :func:`in_chunks`, which hands each chunk's pages
back to the kernel once it is done with them (``madvise(MADV_DONTNEED)``: the
data stays in the file, a later read maps it in again), so the process's
resident memory stays at a chunk, not the whole column. The per-row writers
:func:`release` each chunk of rows once written.
"""

from __future__ import annotations

import mmap
import tempfile
import weakref
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

# Values a buffer keeps in memory before it spills (8 MB of float64): a million rows
# stay in memory; past that, memory no longer grows with rows.
SPILL_VALUES = 1 << 20
# Values per chunk for the passes over a spilled column.
CHUNK_VALUES = 1 << 20

# The maps of spilled columns, with the address of their first byte: release() acts only
# on these (on an anonymous map, MADV_DONTNEED would zero the values). Weak keys: a map
# (and its file) goes when the last array over it does (a Dask worker runs many tasks).
_SPILLED: weakref.WeakKeyDictionary[mmap.mmap, int] = weakref.WeakKeyDictionary()
_PAGE = mmap.PAGESIZE


class SpillFile:
    """float64 values appended to an unlinked temporary file, then mapped as one array."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = tempfile.TemporaryFile(prefix="xent-rows-")  # noqa: SIM115
        self.count = 0

    def write(self, values: NDArray[np.float64]) -> None:
        import numpy as np

        assert self._file is not None
        block = np.ascontiguousarray(values, dtype=np.float64)
        self._file.write(block.data)
        self.count += int(block.shape[0])

    def read(self) -> NDArray[np.float64]:
        """The values written (a failed write's part excluded), copied into memory."""
        import numpy as np

        assert self._file is not None
        self._file.seek(0)
        values = np.fromfile(self._file, dtype=np.float64, count=self.count)
        if values.shape[0] != self.count:
            raise OSError(f"the temporary file of per-row values holds {values.shape[0]} of {self.count}")
        return values

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def array(self) -> NDArray[np.float64]:
        """The values written, as an array over a shared map of the file (the file is closed)."""
        import numpy as np

        assert self._file is not None
        self._file.flush()
        size = self.count * 8
        mapped = mmap.mmap(self._file.fileno(), size, access=mmap.ACCESS_WRITE)
        self._file.close()  # the map keeps the (unlinked) file's pages
        self._file = None
        values = np.frombuffer(mapped, dtype=np.float64, count=self.count)
        _SPILLED[mapped] = int(values.ctypes.data)
        return values


def _spilled_map(values: Any) -> tuple[mmap.mmap, int] | None:
    base = values
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "obj", None) if isinstance(base, memoryview) else getattr(base, "base", None)
    if base is None:
        return None
    first = _SPILLED.get(base)
    return None if first is None else (base, first)


def is_spilled(values: Any) -> bool:
    """Whether ``values`` lies in a spilled column's map."""
    return _spilled_map(values) is not None


def release(values: NDArray[Any]) -> None:
    """Give the pages under ``values`` back to the kernel, if they are a spilled column's (else nothing)."""
    found = _spilled_map(values)
    if found is None or values.size == 0:
        return
    mapped, first = found
    start = int(values.ctypes.data) - first
    end = start + int(values.nbytes)
    lo = start - start % _PAGE
    hi = min(len(mapped), end + (-end) % _PAGE)
    if hi > lo and hasattr(mapped, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        mapped.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


def in_chunks(values: NDArray[Any], size: int = CHUNK_VALUES) -> Iterator[NDArray[Any]]:
    """Consecutive slices of ``values``; a spilled column's pages are released after each."""
    if not is_spilled(values):
        yield values
        return
    for lo in range(0, int(values.shape[0]), size):
        chunk = values[lo : lo + size]
        yield chunk
        release(chunk)


def scale_in_place(values: NDArray[Any], divisor: float) -> None:
    """``values /= divisor``, a chunk at a time for a spilled column."""
    for chunk in in_chunks(values):
        chunk /= divisor
