"""The .npy reader (xent_cli.io.npy): shapes, blocks, compression, and the messages for bad files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from tests.io.reading import load
from xent_cli.errors import InputError
from xent_cli.io.readers import ReadOptions, read
from xent_cli.io.sources import resolve


@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 3, 4)])
def test_npy_shapes(tmp_path: Path, shape: tuple[int, ...]) -> None:
    array = np.full(shape, 0.25, dtype=np.float32)
    path = tmp_path / "a.npy"
    np.save(path, array)
    _, values, _, _ = load(path)
    assert values.shape == (int(np.prod(shape[:-1])), 4)
    assert values.dtype == np.float32  # kept compact until computed


def test_npy_in_blocks(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.full((1000, 4), 0.25))
    table = read(resolve(str(path), stdin_is_terminal=True), ReadOptions(block_rows=300))
    assert [len(b) for b in table.blocks()] == [300, 300, 300, 100]


def test_gzipped_npy(tmp_path: Path) -> None:
    raw = tmp_path / "a.npy"
    np.save(raw, np.full((2, 2), 0.5))
    path = tmp_path / "a.npy.gz"
    path.write_bytes(gzip.compress(raw.read_bytes()))
    _, values, _, _ = load(path)
    assert values.shape == (2, 2)


def test_npy_of_strings_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.array(["a", "b"]))
    with pytest.raises(InputError, match="not numbers"):
        load(path)


def test_truncated_npy_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.full((10, 10), 0.1))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(InputError, match="is not a valid .npy file"):
        load(path)
