"""RowBuffer and consolidate (xent_cli.columns.buffer): per-row values held once, whatever the blocks."""

from __future__ import annotations

import mmap

import numpy as np
import pytest

from xent_cli.columns import buffer as row_buffer
from xent_cli.columns.buffer import RowBuffer, consolidate


def _blocks(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random(int(n)) for n in rng.integers(0, 70_000, 40)]


def test_row_buffer_holds_what_concatenate_would() -> None:
    blocks = _blocks()
    buffer = RowBuffer()
    for block in blocks:
        buffer.append(block)
    assert len(buffer) == sum(b.shape[0] for b in blocks)
    np.testing.assert_array_equal(buffer.finish(2.0), np.concatenate(blocks) / 2.0)


def test_row_buffer_takes_broadcast_views_and_starts_empty() -> None:
    buffer = RowBuffer()
    assert buffer.finish().shape == (0,)
    buffer = RowBuffer()
    buffer.append(np.broadcast_to(np.array([0.25]), (5,)))
    buffer.append(np.array([1.0]))
    np.testing.assert_array_equal(buffer.finish(), [0.25] * 5 + [1.0])


def test_row_buffer_falls_back_where_a_map_cannot_grow(monkeypatch: pytest.MonkeyPatch) -> None:
    class Fixed(mmap.mmap):
        def resize(self, newsize: int) -> None:
            raise SystemError("mremap unavailable")

    monkeypatch.setattr(row_buffer.mmap, "mmap", Fixed)
    blocks = _blocks(1)
    buffer = RowBuffer()
    for block in blocks:
        buffer.append(block)
    np.testing.assert_array_equal(buffer.finish(), np.concatenate(blocks))


def test_consolidate_empties_the_list() -> None:
    blocks = _blocks(2)
    expected = np.concatenate(blocks)
    np.testing.assert_array_equal(consolidate(blocks), expected)
    assert blocks == []
    single = [np.arange(3.0)]
    assert consolidate(single).tolist() == [0.0, 1.0, 2.0]
