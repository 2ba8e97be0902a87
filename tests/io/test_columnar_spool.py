"""A Parquet or Arrow stream that fails to open leaves no spooled copy open (no ResourceWarning)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import CliEnv


@pytest.fixture
def unraisable() -> Iterator[list[str]]:
    found: list[str] = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda info: found.append(repr(info.exc_value))
    try:
        yield found
    finally:
        gc.collect()
        sys.unraisablehook = previous


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"PAR1" + b"\x00" * 50, "Parquet"),
        (b"ARROW1\x00\x00" + b"\x01" * 40, "Arrow IPC (Feather)"),
    ],
)
def test_a_corrupt_columnar_stream_closes_its_spool(
    env: CliEnv, unraisable: list[str], data: bytes, what: str
) -> None:
    result = env.run(["entropy", "--json"], input=data)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"xent: error: <stdin>: is not a valid {what} file: ")
    gc.collect()
    assert unraisable == []
