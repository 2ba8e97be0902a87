"""What the CLI will do with two big ``.npy`` files: read them block by block and run a kernel.

Used by ``benchmarks/kernels_speed.py`` (one fresh process per run)::

    python -m benchmarks.kernels_driver kl A.npy B.npy --as logits
    python -m benchmarks.kernels_driver compare A.npy B.npy --as logits
    python -m benchmarks.kernels_driver kl A.npy B.npy --as logits --careful

Blocks are read with ``readinto`` into buffers that are reused (no memory map,
so resident memory stays a few blocks, not the files' pages), and the next
block is read on a thread while the kernels work on this one. Prints the mean
of the headline measure over rows.
"""

from __future__ import annotations

import argparse
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray


def npy_layout(path: Path) -> tuple[tuple[int, ...], np.dtype[Any], int]:
    """(shape, dtype, data offset) of a C-ordered ``.npy`` file, from its header."""
    with path.open("rb") as handle:
        major, _ = np.lib.format.read_magic(handle)
        if major == 1:
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        if fortran:
            raise SystemExit(f"{path}: Fortran order is not supported here")
        return tuple(shape), np.dtype(dtype), handle.tell()


def blocks(path: Path, rows: int, *, prefetch: bool = True) -> Iterator[NDArray[Any]]:
    """Row blocks of a 2-D ``.npy`` file, read into two reused buffers (one being filled ahead)."""
    shape, dtype, offset = npy_layout(path)
    n, k = shape[0], int(np.prod(shape[1:]))
    buffers = [np.empty((rows, k), dtype=dtype) for _ in range(2 if prefetch else 1)]
    handle = path.open("rb", buffering=0)
    handle.seek(offset)

    def fill(buffer: NDArray[Any], count: int) -> NDArray[Any]:
        view = memoryview(buffer[:count]).cast("B")
        done = 0
        while done < view.nbytes:
            got = handle.readinto(view[done:])
            if not got:
                raise SystemExit(f"{path}: ends early")
            done += got
        return buffer[:count]

    try:
        starts = list(range(0, n, rows))
        if not prefetch:
            for start in starts:
                yield fill(buffers[0], min(rows, n - start))
            return
        result: dict[str, NDArray[Any]] = {}

        def ahead(index: int) -> threading.Thread:
            count = min(rows, n - starts[index])
            buffer = buffers[index % 2]
            thread = threading.Thread(target=lambda: result.__setitem__("next", fill(buffer, count)))
            thread.start()
            return thread

        pending = ahead(0)
        for index in range(len(starts)):
            pending.join()
            block = result.pop("next")
            if index + 1 < len(starts):
                pending = ahead(index + 1)
            yield block
    finally:
        handle.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("measure", choices=["kl", "compare", "entropy"])
    parser.add_argument("p", type=Path)
    parser.add_argument("q", type=Path, nargs="?")
    parser.add_argument("--as", dest="kind", default="logits")
    parser.add_argument("--rows", type=int, default=256, help="rows per block (default 256)")
    parser.add_argument("--careful", action="store_true", help="the careful path (measures.py)")
    parser.add_argument("--no-prefetch", action="store_true")
    args = parser.parse_args()

    from xent_cli.core import kernel_backend, kernels
    from xent_cli.core.distributions import prepare
    from xent_cli.core.measures import entropy_rows, kl_rows

    if args.careful:
        kernel_backend.set_backend("careful")
    total = 0.0
    count = 0
    p_blocks = blocks(args.p, args.rows, prefetch=not args.no_prefetch)
    q_blocks = blocks(args.q, args.rows, prefetch=not args.no_prefetch) if args.q else None
    for p_block in p_blocks:
        q_block = next(q_blocks) if q_blocks is not None else None
        values: NDArray[np.float64]
        if args.careful:
            pd = prepare(p_block, args.kind)
            values = entropy_rows(pd) if q_block is None else kl_rows(pd, prepare(q_block, args.kind))
        elif args.measure == "entropy":
            result = kernels.entropy_rows_fast(p_block, kind=args.kind)
            assert result is not None
            values = result.values
        else:
            fast = kernels.kl_rows_fast if args.measure == "kl" else kernels.compare_rows_fast
            result = fast(p_block, q_block, kind_p=args.kind)
            assert result is not None, "invalid block"
            values = result.values
        total += math.fsum(values.tolist())
        count += values.shape[0]
    print(total / count)


if __name__ == "__main__":
    main()
