"""Spilled per-row values: the same numbers as in memory, and memory that does not grow with rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CliEnv
from xent_cli.columns import spill, statistics
from xent_cli.columns.buffer import RowBuffer


def _blocks(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    blocks = [rng.random(int(n)) * 10.0 for n in rng.integers(0, 3_000, 30)]
    blocks[3][:5] = [np.inf, 0.0, -0.0, 1e-300, np.inf]  # order keys at the edges
    return blocks


def _buffered(blocks: list[np.ndarray], divisor: float) -> np.ndarray:
    buffer = RowBuffer()
    for block in blocks:
        buffer.append(block)
    return buffer.finish(divisor)


@pytest.mark.parametrize("divisor", [1.0, 3.0])
def test_a_spilled_buffer_holds_what_memory_would(monkeypatch: pytest.MonkeyPatch, divisor: float) -> None:
    blocks = _blocks(0)
    in_memory = _buffered(blocks, divisor)
    assert not spill.is_spilled(in_memory)
    monkeypatch.setattr(spill, "SPILL_VALUES", 5_000)
    spilled = _buffered(blocks, divisor)
    assert spill.is_spilled(spilled) and spill.is_spilled(spilled[10:20])
    np.testing.assert_array_equal(spilled, in_memory)
    np.testing.assert_array_equal(spilled, np.concatenate(blocks) / divisor)


def test_a_full_disk_keeps_the_values_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _blocks(4)
    monkeypatch.setattr(spill, "SPILL_VALUES", 5_000)
    writes = 0
    real_write = spill.SpillFile.write

    def write(self: spill.SpillFile, values: np.ndarray) -> None:
        nonlocal writes
        writes += 1
        if writes == 4:
            self._file.write(b"\0" * 12)  # type: ignore[union-attr]  # part of a block, then ENOSPC
            raise OSError(28, "No space left on device")
        real_write(self, values)

    monkeypatch.setattr(spill.SpillFile, "write", write)
    kept = _buffered(blocks, 3.0)
    assert writes == 4 and not spill.is_spilled(kept)
    np.testing.assert_array_equal(kept, np.concatenate(blocks) / 3.0)


def test_no_temporary_directory_keeps_the_values_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(**_: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(spill.tempfile, "TemporaryFile", refuse)
    monkeypatch.setattr(spill, "SPILL_VALUES", 5_000)
    blocks = _blocks(5)
    np.testing.assert_array_equal(_buffered(blocks, 1.0), np.concatenate(blocks))


def test_released_pages_keep_their_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill, "SPILL_VALUES", 100)
    blocks = _blocks(1)
    spilled = _buffered(blocks, 1.0)
    chunks = list(spill.in_chunks(spilled, size=1_000))  # each released as the next is asked for
    assert sum(c.shape[0] for c in chunks) == spilled.shape[0]
    spill.release(spilled)
    np.testing.assert_array_equal(spilled, np.concatenate(blocks))


def test_release_leaves_memory_that_is_not_spilled_alone() -> None:
    values = np.arange(10_000.0)
    spill.release(values)
    assert list(spill.in_chunks(values)) == [values]  # one chunk, not copied
    np.testing.assert_array_equal(values, np.arange(10_000.0))


def test_summaries_of_a_spilled_column_equal_the_in_memory_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _blocks(2)
    in_memory = _buffered(blocks, 7.0)
    expected = (statistics.summarize(in_memory, extended=True), statistics.mean(in_memory))
    monkeypatch.setattr(spill, "SPILL_VALUES", 1_000)
    monkeypatch.setattr(spill, "CHUNK_VALUES", 4_096)
    spilled = _buffered(blocks, 7.0)
    assert spill.is_spilled(spilled)
    assert (statistics.summarize(spilled, extended=True), statistics.mean(spilled)) == expected


def test_the_command_line_gives_the_same_document_when_it_spills(
    env: CliEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(3)
    p, q = (rng.dirichlet(np.ones(4), 20_000) for _ in range(2))
    np.savetxt(tmp_path / "p.csv", p, delimiter=",", header="a,b,c,d", comments="")
    np.savetxt(tmp_path / "q.csv", q, delimiter=",", header="a,b,c,d", comments="")
    commands = [
        ["entropy", str(tmp_path / "p.csv"), "--worst", "5"],
        ["kl", str(tmp_path / "p.csv"), str(tmp_path / "q.csv"), "--worst", "5"],
    ]
    expected = [env.json(args) for args in commands]
    monkeypatch.setattr(spill, "SPILL_VALUES", 3_000)
    monkeypatch.setattr(spill, "CHUNK_VALUES", 1_024)
    assert [env.json(args) for args in commands] == expected


# --- memory that does not grow with rows ------------------------------------------------------------

_ROWS = "import sys; sys.stdout.write('0.125,0.25,0.625\\n' * {n})"


def _peak_kib(rows: int) -> int:
    """Peak resident memory of ``xent entropy -`` over ``rows`` generated rows, in KiB."""
    generator = subprocess.Popen([sys.executable, "-c", _ROWS.format(n=rows)], stdout=subprocess.PIPE)
    xent = subprocess.Popen(
        [sys.executable, "-m", "xent_cli", "entropy", "-", "--json", "--rows", "0"],
        stdin=generator.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert generator.stdout is not None
    generator.stdout.close()
    out, err = xent.communicate()
    generator.wait()
    assert xent.returncode == 0, err
    assert json.loads(out)["summary"]["count"] == rows
    # communicate() has reaped it; ru_maxrss of children is the largest child's, so
    # read this child's own peak from the kernel's accounting instead.
    return _child_peaks.pop(xent.pid)


_child_peaks: dict[int, int] = {}


@pytest.fixture
def reap_with_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    real_waitpid = os.waitpid

    def waitpid(pid: int, options: int) -> tuple[int, int]:
        if pid <= 0:
            return real_waitpid(pid, options)
        got, status, usage = os.wait4(pid, options)
        if got:
            _child_peaks[got] = usage.ru_maxrss
        return got, status

    monkeypatch.setattr(os, "waitpid", waitpid)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB and MADV_DONTNEED: Linux")
@pytest.mark.usefixtures("reap_with_usage")
def test_memory_does_not_grow_with_rows() -> None:
    # 8 million rows hold 64 MB of per-row entropies; in memory, the peak would grow by
    # about 48 MB from 2 million rows. Spilled, it grows by much less than that.
    small, large = _peak_kib(2_000_000), _peak_kib(8_000_000)
    assert large - small < 24 * 1024, (small, large)
