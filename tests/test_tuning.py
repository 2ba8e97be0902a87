"""Process tuning (xent_cli.tuning): what the entry point sets, each in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from xent_cli.tuning import PARQUET_ALLOCATOR


def _fresh(code: str, env_drop: tuple[str, ...] = ()) -> object:
    import os

    env = {k: v for k, v in os.environ.items() if k not in env_drop}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, timeout=120
    )
    return json.loads(done.stdout)


def test_tune_process_sets_blas_threads_and_the_collector() -> None:
    found = _fresh(
        "import gc, json, os; from xent_cli.tuning import tune_process; tune_process(); "
        "print(json.dumps([gc.get_threshold(), os.environ['OPENBLAS_NUM_THREADS']]))",
        env_drop=("OPENBLAS_NUM_THREADS",),
    )
    assert found == [[20_000, 20, 20], "1"]


def test_a_users_blas_threads_are_kept() -> None:
    import os

    code = (
        "import json, os; from xent_cli.tuning import tune_process; tune_process(); "
        "print(json.dumps(os.environ['OPENBLAS_NUM_THREADS']))"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "3"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert json.loads(done.stdout) == "3"


@pytest.mark.parametrize("pyarrow_first", [False, True])
def test_the_parquet_allocator_is_asked_for_only_before_pyarrow_loads(pyarrow_first: bool) -> None:
    load = "import pyarrow; " if pyarrow_first else ""
    found = _fresh(
        f"import json, os; {load}from xent_cli.tuning import prefer_parquet_allocator; "
        "prefer_parquet_allocator(); "
        f"print(json.dumps({{k: os.environ.get(k) for k in {sorted(PARQUET_ALLOCATOR)!r}}}))",
        env_drop=tuple(PARQUET_ALLOCATOR),
    )
    expected = {k: None for k in PARQUET_ALLOCATOR} if pyarrow_first else dict(PARQUET_ALLOCATOR)
    assert found == expected


_ARENAS = """
import ctypes, json, os, tempfile, threading
from xent_cli.tuning import tune_process
tune_process()
def churn():
    for _ in range(2000):
        blocks = [bytearray(4096) for _ in range(8)]
        del blocks
threads = [threading.Thread(target=churn) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.fclose.argtypes = [ctypes.c_void_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
path = tempfile.mktemp()
stream = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, stream)
libc.fclose(stream)
text = open(path).read()
os.unlink(path)
print(json.dumps(text.count("<heap nr=")))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
@pytest.mark.parametrize("user_setting", [None, "4"])
def test_threads_share_one_malloc_arena_unless_the_user_says(user_setting: str | None) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "XENT_MALLOC_TUNING")}
    if user_setting is not None:
        env["MALLOC_ARENA_MAX"] = user_setting
    done = subprocess.run(
        [sys.executable, "-c", _ARENAS], capture_output=True, text=True, env=env, check=True, timeout=120
    )
    arenas = json.loads(done.stdout)
    if user_setting is None:
        assert arenas == 1
    else:
        assert 1 < arenas <= 4  # each new thread gets an arena of its own up to the user's limit
