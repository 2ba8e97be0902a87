"""Which kernels run a block: the backend choice, apart from the formulas in ``kernels``.

Backends, chosen once from ``XENT_KERNELS`` (``auto`` by default): ``numba``
(the compiled kernels, imported on first use, None where numba is missing: it is
the optional extra ``xent-cli[fast]``),
``numpy`` (the careful method on row ranges, on up to two threads) or
``careful``; see :mod:`xent_cli.core.kernels` for what each computes. This
module also holds the thread pool the numpy and numba backends share.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType

from xent_cli.errors import UsageError
from xent_cli.system import usable_cpus

BACKENDS = ("auto", "numba", "numpy", "careful")
# Blocks smaller than this go the careful way under ``auto``: importing numba
# (about 0.3 s) would cost more than it saves.
MIN_FAST_ELEMENTS = 1 << 16
# Elements below which one thread does.
THREADED_ELEMENTS = 1 << 17


@dataclass
class _State:
    requested: str | None = None  # None: not read from the environment yet
    compiled: ModuleType | None = None
    numba_missing: bool = False
    pool: ThreadPoolExecutor | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_state = _State()


def _after_fork() -> None:  # a forked child has none of the parent's pool threads
    _state.pool = None
    _state.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def set_backend(name: str | None) -> None:
    """Force a backend (one of ``BACKENDS``); ``None`` reads ``XENT_KERNELS`` again on next use."""
    if name is not None and name not in BACKENDS:
        raise UsageError(f"unknown kernel backend {name!r}; expected one of {', '.join(BACKENDS)}")
    _state.requested = name


def requested_backend() -> str:
    if _state.requested is None:
        value = os.environ.get("XENT_KERNELS", "auto").strip().lower() or "auto"
        if value not in BACKENDS:
            raise UsageError(
                f"XENT_KERNELS={value!r} is not a kernel backend; use one of {', '.join(BACKENDS)}"
            )
        _state.requested = value
    return _state.requested


def compiled_module() -> ModuleType | None:
    """The numba kernels, imported on first use; None where numba is missing."""
    if _state.compiled is None and not _state.numba_missing:
        with _state.lock:
            if _state.compiled is None and not _state.numba_missing:
                from xent_cli.core import _kernels_numba

                if _kernels_numba.AVAILABLE:
                    _state.compiled = _kernels_numba
                else:
                    _state.numba_missing = True
    return _state.compiled


def numba_available() -> bool:
    """Whether the compiled kernels can be used here."""
    return compiled_module() is not None


# Values in a whole input (one side's rows x outcomes) from which, under ``auto``, the
# compiled kernels pay for importing numba and setting it up (0.5-1 s of CPU, and about
# 100 MB of memory) over the numpy backend. From the per-value costs in
# benchmarks/KERNELS.md (numpy backend minus numba, two threads): entropy of probabilities
# saves about 10 ns a value, KL and cross-entropy 60 ns, JS and the compare panel 190 ns,
# anything on logits several hundred.
# The entropy and KL of probabilities have plain NumPy formulas (see the module docstring)
# that are as fast as the compiled kernels: numba never pays for them.
NUMBA_PAYS_FROM: dict[tuple[str, bool], int] = {
    ("entropy", False): 1 << 62,
    ("kl", False): 1 << 62,
    ("cross_entropy", False): 1 << 24,
    ("js", False): 1 << 22,
    ("compare", False): 1 << 22,
}
NUMBA_PAYS_FROM_LOG = 1 << 20


def numba_pays(measure: str, log: bool, n_elements: int | None) -> bool:
    """Whether compiled kernels pay for an input of ``n_elements`` values (None: assume so)."""
    threshold = NUMBA_PAYS_FROM_LOG if log else NUMBA_PAYS_FROM.get((measure, False), 1 << 24)
    if n_elements is None:
        return threshold < 1 << 62
    return n_elements >= threshold


def backend(
    n_elements: int | None = None, measure: str = "kl", log: bool = False, *, expected: int | None = None
) -> str:
    """The backend a block of ``n_elements`` values would use (``None``: a big block).

    ``expected``: how many values the whole input holds (rows x outcomes of one side),
    when known. Under ``auto``, a ``measure`` (``log``: of log-space kinds) whose input
    is smaller than its ``NUMBA_PAYS_FROM`` uses the numpy backend (the careful method,
    threaded) even on big blocks: numba would cost more to start than it saves.
    ``None`` (unknown) decides by block size alone.
    """
    requested = requested_backend()
    if requested == "careful" or requested == "numpy":
        return requested
    if requested == "numba":
        if compiled_module() is None:
            raise _numba_unusable()
        return "numba"
    if n_elements is not None and n_elements < MIN_FAST_ELEMENTS:
        return "careful"
    if not numba_pays(measure, log, expected):
        return "numpy"
    return "numba" if compiled_module() is not None else "numpy"


def _numba_unusable() -> UsageError:
    """Why ``XENT_KERNELS=numba`` cannot be honoured: numba missing (an extra), or nowhere to cache."""
    from xent_cli.core import numba_cache

    if not numba_cache.INSTALLED:
        return UsageError(
            "XENT_KERNELS=numba but numba is not installed",
            hint="pip install 'xent-cli[fast]' for the compiled kernels, or unset XENT_KERNELS: "
            "the NumPy kernels give the same digits",
        )
    return UsageError(
        "XENT_KERNELS=numba but numba cannot be used here",
        hint="it needs a writable folder to cache its kernels in: NUMBA_CACHE_DIR, "
        "or a private one under TMPDIR",
    )


def threads() -> int:
    """Threads for the kernels: at most two."""
    return min(2, usable_cpus())


def pool() -> ThreadPoolExecutor:
    if _state.pool is None:
        with _state.lock:
            if _state.pool is None:
                _state.pool = ThreadPoolExecutor(threads(), thread_name_prefix="xent-kernel")
    return _state.pool


def _row_ranges(n_rows: int, n_elements: int, parts: int) -> list[tuple[int, int]]:
    parts = max(1, min(parts, n_rows))
    bounds = [round(i * n_rows / parts) for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(parts) if bounds[i] < bounds[i + 1]]


def in_parallel(task: Callable[[int, int], None], n_rows: int, n_elements: int, parts: int) -> None:
    """Run ``task(lo, hi)`` over row ranges, on the pool when the block is big enough."""
    ranges = _row_ranges(n_rows, n_elements, parts)
    if len(ranges) == 1 or n_elements < THREADED_ELEMENTS or threads() == 1:
        for lo, hi in ranges:
            task(lo, hi)
        return
    for future in [pool().submit(task, lo, hi) for lo, hi in ranges]:
        future.result()
