"""Process-wide tuning: the memory allocators, BLAS threads and the garbage collector.

All of it lives here. The ``xent`` command calls :func:`tune_process` once, before
any command runs (:func:`xent_cli.cli.process.prepare_process`); a Dask worker,
which ``xent`` does not start, runs :func:`tune_allocator` with its first task;
the Parquet reader calls :func:`prefer_parquet_allocator` before pyarrow is first
loaded (it depends on which reader comes first: see there). Nothing here is read
back by the rest of xent: no setting travels through a global or a context variable.
This module imports only the standard library.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys


def tune_process() -> None:
    """Set up the ``xent`` process for short, allocation-heavy runs (once, from the entry point).

    NumPy's OpenBLAS starts one spinning thread per core at import, which burns
    a core for tens of milliseconds and competes with xent's parse threads; xent
    does no matrix products, so one BLAS thread is asked for (unless the user set
    ``OPENBLAS_NUM_THREADS``). The cyclic garbage collector runs less often: a
    short-lived command creates few cycles, and collecting during imports and
    block loops cost about 3% of a run's CPU; nor is anything collected at exit.
    glibc's allocator is tuned by :func:`tune_allocator`.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    gc.set_threshold(20_000, 20, 20)
    # Registered first, so run last: every object is then exempt from the collection Python
    # makes as it exits (40-50 ms of start-up's 200, for objects the process is about to drop).
    atexit.register(gc.freeze)
    tune_allocator()
    _one_malloc_arena()


_TUNED = False


def tune_allocator() -> None:
    """Let glibc reuse the memory of big NumPy temporaries instead of mapping them afresh.

    Called by :func:`tune_process` (the ``xent`` command, before any command runs) and by
    every Dask task (a worker process is not started by ``xent``).
    glibc maps each allocation above its mmap threshold (128 KiB at first) on
    its own and unmaps it when freed, so a block's temporaries are faulted in
    again for every block; on a VM a page fault is dear (the plain entropy of
    a block took 10 ns a value instead of 4). Its dynamic threshold adapts
    only partly, and not at all under Dask's nanny, which starts workers with
    ``MALLOC_TRIM_THRESHOLD_=65536`` (setting any threshold turns the dynamic
    one off; xent's per-shard cost rose 2-4x). Raising the mmap threshold to
    its maximum (32 MiB) and the trim threshold above it makes freed blocks
    reused; the memory stays with the process (for Dask: unmanaged memory),
    bounded by the largest set of temporaries alive at once. Linux with glibc
    only; elsewhere, or with ``XENT_MALLOC_TUNING=0``, nothing is done.
    """
    global _TUNED
    if _TUNED:
        return
    _TUNED = True
    m_trim_threshold, m_mmap_threshold = -1, -3
    _mallopt((m_mmap_threshold, 32 << 20), (m_trim_threshold, 256 << 20))


def _one_malloc_arena() -> None:
    """Let glibc serve every thread from one arena (unless ``MALLOC_ARENA_MAX`` says otherwise).

    glibc gives each new thread that allocates an arena of its own, up to eight per
    core, and each keeps the memory freed in it. xent's parse
    threads and reader threads allocate a block's text, tokens and columns and free
    them in another thread, so every arena grew to its own high-water mark: the
    entropy of a 1M x 10 CSV peaked at 215 MiB with the default and 184 MiB with one
    arena, at the same CPU time.
    Only the ``xent`` process: a Dask worker's threads are Dask's to arrange.
    """
    if "MALLOC_ARENA_MAX" not in os.environ:
        m_arena_max = -8
        _mallopt((m_arena_max, 1))


def _mallopt(*settings: tuple[int, int]) -> None:
    """glibc's ``mallopt(param, value)`` for each setting; nothing elsewhere or with
    ``XENT_MALLOC_TUNING=0``."""
    if os.environ.get("XENT_MALLOC_TUNING", "1") == "0":
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        for param, value in settings:
            libc.mallopt(param, value)
    except (OSError, AttributeError):
        pass


# pyarrow's allocator (mimalloc) keeps freed pages for a while and commits its arenas
# eagerly; a Parquet reader holds a dictionary and a data page per column, compressed
# and decoded, and their turnover left KL of two 1M-row files at 232 MB instead of 198.
# Read when pyarrow is first loaded (not if a CSV source loaded it first); CSV parsing
# is faster with the defaults, since it reuses the same pages block after block.
PARQUET_ALLOCATOR = {"MIMALLOC_PURGE_DELAY": "0", "MIMALLOC_ARENA_EAGER_COMMIT": "0"}


def prefer_parquet_allocator() -> None:
    """Ask mimalloc for :data:`PARQUET_ALLOCATOR`, unless pyarrow is loaded already (or the user chose).

    Called by the Parquet and Arrow reader just before it first imports pyarrow:
    set for every run, these settings would slow CSV parsing, and which reader
    loads pyarrow first is known only once the sources are opened.
    """
    if "pyarrow" not in sys.modules:
        for name, value in PARQUET_ALLOCATOR.items():
            os.environ.setdefault(name, value)
