"""Per-row values appended a block at a time: held once in memory, or spilled to disk.

:class:`RowBuffer` collects one measure's values as a task computes them;
:func:`consolidate` joins per-block arrays into one without holding both.
"""

from __future__ import annotations

import contextlib
import mmap
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.columns.spill import SpillFile


_PRIVATE_MAP = getattr(mmap, "MAP_PRIVATE", 0) | getattr(mmap, "MAP_ANONYMOUS", 0)


class RowBuffer:
    """Per-row values appended a block at a time, in memory that grows without copying.

    The values live in an anonymous memory map that is enlarged with
    ``mremap`` (``mmap.resize``): no copy is made, and the pages reserved but not
    yet written cost no memory, so holding N values costs 8N bytes, not the 16N
    of a list of blocks joined by ``np.concatenate`` (whose freed blocks the
    allocator keeps). Where a map cannot be resized, a NumPy array that doubles
    is used instead. Past ``spill.SPILL_VALUES`` values they go to a temporary
    file instead (:mod:`xent_cli.columns.spill`), and ``finish`` maps it.
    """

    _FIRST_BYTES = 1 << 20

    def __init__(self) -> None:
        import numpy as np

        self._dtype = np.dtype(np.float64)
        self._count = 0
        self._map: mmap.mmap | None = None
        self._array: NDArray[np.float64] | None = None
        self._spill: SpillFile | None = None
        self._may_spill = True

    def __len__(self) -> int:
        return self._count

    def append(self, values: NDArray[Any]) -> None:
        import numpy as np

        from xent_cli.columns import spill

        block = np.asarray(values, dtype=self._dtype).reshape(-1)
        if self._spill is None and self._may_spill and self._count + block.shape[0] > spill.SPILL_VALUES:
            self._start_spill()  # millions of rows: from here on, to a temporary file
        if self._spill is not None:
            try:
                self._spill.write(block)
            except OSError:  # the disk is full, say: back to memory, nothing lost
                self._stop_spill()
            else:
                self._count += int(block.shape[0])
                return
        end = self._count + block.shape[0]
        self._reserve(end * self._dtype.itemsize)
        if self._map is not None:
            view = np.frombuffer(self._map, dtype=self._dtype, count=end)
            view[self._count :] = block
            del view  # a live view would stop the map from being resized
        else:
            assert self._array is not None
            self._array[self._count : end] = block
        self._count = end

    def _reserve(self, size: int) -> None:
        import numpy as np

        if self._array is not None:
            if size > self._array.nbytes:
                grown = np.empty(max(size, 2 * self._array.nbytes) // self._dtype.itemsize, dtype=self._dtype)
                grown[: self._count] = self._array[: self._count]
                self._array = grown
            return
        if self._map is None:
            # Private: a shared anonymous map cannot grow (its pages past the first size fault).
            self._map = mmap.mmap(-1, max(size, self._FIRST_BYTES), flags=_PRIVATE_MAP)
            return
        if size > len(self._map):
            try:
                self._map.resize(max(size, 2 * len(self._map)))
            except (OSError, ValueError, SystemError, TypeError):
                array = np.empty(max(size, 2 * len(self._map)) // self._dtype.itemsize, dtype=self._dtype)
                array[: self._count] = np.frombuffer(self._map, dtype=self._dtype, count=self._count)
                self._map.close()
                self._map, self._array = None, array

    def _start_spill(self) -> None:
        from xent_cli.columns.spill import SpillFile

        try:
            spilled = SpillFile()
        except OSError:  # no writable temporary directory: the values stay in memory
            self._may_spill = False
            return
        try:
            if self._count:
                spilled.write(self._held())
        except OSError:
            spilled.close()
            self._may_spill = False
            return
        self._spill, self._map, self._array = spilled, None, None

    def _stop_spill(self) -> None:
        """The values written so far back in memory; no more spilling."""
        assert self._spill is not None
        self._array = self._spill.read()
        self._spill.close()
        self._spill, self._may_spill = None, False

    def _held(self) -> NDArray[np.float64]:
        import numpy as np

        if self._map is not None:
            return np.frombuffer(self._map, dtype=self._dtype, count=self._count)
        assert self._array is not None
        return self._array[: self._count]

    def finish(self, divisor: float = 1.0) -> NDArray[np.float64]:
        """The values (divided by ``divisor``, in place); the buffer is not used after this."""
        import numpy as np

        from xent_cli.columns.spill import scale_in_place

        if self._count == 0:
            return np.empty(0)
        if self._spill is not None:
            values = self._spill.array()
        else:
            if self._map is not None:
                with contextlib.suppress(OSError, ValueError, SystemError, TypeError):
                    self._map.resize(self._count * self._dtype.itemsize)
            values = self._held()
        if divisor != 1.0:
            scale_in_place(values, divisor)  # a spilled column a chunk of pages at a time
        return values


def consolidate(blocks: list[NDArray[Any]]) -> NDArray[Any]:
    """One array from per-block arrays, emptying ``blocks`` as it goes.

    ``np.concatenate`` holds every block and the result at once (twice the
    per-row memory); here each block is copied into the result and released,
    and the result's pages are only touched as they are filled, so the peak
    stays near one copy of the values plus one block.
    """
    import numpy as np

    if len(blocks) == 1:
        return blocks.pop()
    if not blocks:
        return np.empty(0)
    total = sum(int(b.shape[0]) for b in blocks)
    out = np.empty((total, *blocks[0].shape[1:]), dtype=np.result_type(*blocks))
    position = 0
    blocks.reverse()
    while blocks:
        block = blocks.pop()
        out[position : position + block.shape[0]] = block
        position += block.shape[0]
        del block
    return out
