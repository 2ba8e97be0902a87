"""Real Dask processes for the tests: a ``dask scheduler`` and ``dask worker`` s on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest


def dask_command(*args: str) -> list[str]:
    """``dask ARGS`` with this interpreter (the virtual environment's Dask and xent)."""
    return [sys.executable, "-m", "dask", *args]


def start_scheduler(folder: Path, name: str, *options: str) -> tuple[subprocess.Popen[bytes], Path]:
    """A scheduler on a port the system picks; its address is in the scheduler file returned."""
    file = folder / f"{name}.json"
    process = subprocess.Popen(
        dask_command(
            "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(file),
            *options,
        ),
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not file.exists() or not file.read_text().strip():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("the Dask scheduler did not start")
        time.sleep(0.1)
    time.sleep(0.2)  # the file is written whole, but give it a moment
    return process, file


def start_worker(folder: Path, address: str, name: str, *options: str) -> subprocess.Popen[bytes]:
    """A standard worker (with its nanny, one thread) running in ``folder``."""
    return subprocess.Popen(
        dask_command("worker", address, "--nthreads", "1", "--no-dashboard", "--name", name, *options),
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
