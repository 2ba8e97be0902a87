"""Where the compiled kernels are cached on disk, and whether anywhere can be (the read-only fallback).

Imported by the compiled kernels (:mod:`xent_cli.core._kernels_numba`) only: importing
it imports numba and probes a cache folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

try:
    import numba  # type: ignore[import-untyped,import-not-found,unused-ignore]
except ImportError:  # not installed: it is the optional extra xent-cli[fast]
    numba = None  # type: ignore[assignment,unused-ignore]

INSTALLED = numba is not None

# numba caches next to this file when that is writable, else in the user's cache folder
# (~/.cache/numba or NUMBA_CACHE_DIR), and refuses to compile at all ("cannot cache function
# ...: no locator available") when neither is: a read-only install with a read-only HOME
# (Docker --read-only, Kubernetes, a --user with no home). Then the kernels are cached in a
# folder of this user's own under the temporary directory; when even that cannot be had,
# CACHE_USABLE is False: the compiled kernels are then not available, and their callers take
# the NumPy path, with no message.


def _private_temp_cache() -> str | None:
    """``$TMPDIR/xent-numba-<uid>``, made if missing; None unless it is this user's alone.

    numba's cache files hold machine code that is loaded and run: a folder another user
    could have made, or could write to, would let them run code as this user.
    """
    import stat
    import tempfile

    uid = os.getuid() if hasattr(os, "getuid") else None
    try:
        path = os.path.join(tempfile.gettempdir(), f"xent-numba-{uid if uid is not None else 'user'}")
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError:
        return None
    private = stat.S_ISDIR(info.st_mode) and not info.st_mode & 0o077
    if not private or (uid is not None and info.st_uid != uid) or not os.access(path, os.W_OK | os.X_OK):
        return None
    return path


def _cache_dir_override() -> str | bool | None:
    """None: numba's own cache folders work. A path: cache there. False: nowhere to cache."""

    def probe() -> int:
        return 0

    try:
        numba.njit(cache=True)(probe)  # finds a cache folder (no compilation)
        return None
    except RuntimeError:  # "cannot cache function 'probe': no locator available for file ..."
        pass
    path = _private_temp_cache()
    if path is None:
        return False
    with _numba_cache_dir(path):
        try:
            numba.njit(cache=True)(probe)
        except RuntimeError:
            return False
    return path


@contextmanager
def _numba_cache_dir(path: str | None) -> Iterator[None]:
    """numba's CACHE_DIR set to ``path`` while kernels are declared (each finds its cache folder
    then), and restored after: the process's other numba code keeps its own setting."""
    if path is None:
        yield
        return
    config: Any = numba.config
    before = config.CACHE_DIR
    config.CACHE_DIR = path
    try:
        yield
    finally:
        config.CACHE_DIR = before


_CACHE_DIR: str | None = None
CACHE_USABLE = numba is not None
if CACHE_USABLE:
    _override = _cache_dir_override()
    if _override is False:
        CACHE_USABLE = False
    elif isinstance(_override, str):
        _CACHE_DIR = _override


def njit(function: Callable[..., Any], **options: Any) -> Any:
    """``numba.njit(cache=True, nogil=True, error_model="numpy", **options)``, cached where chosen above."""
    with _numba_cache_dir(_CACHE_DIR):
        return numba.njit(cache=True, nogil=True, error_model="numpy", **options)(function)
