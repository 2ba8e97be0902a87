"""Pipes given as paths are read once: ``<(…)``, a FIFO and stdin, in real processes, with timeouts.

``compare`` used to look at P's first bytes (is it llama.cpp's saved logits?) by opening it,
and ``--weights COL`` opens the predictions twice (once to see the columns): a pipe then lost
its start ("is empty") or, a FIFO, waited for ever for a writer that was gone. Now nothing is
looked at before the one read of a pipe, and a source that must be opened twice is copied to
a temporary file first (stdin too, which used to be refused).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy
from sklearn.metrics import log_loss

XENT = shutil.which("xent", path=str(Path(sys.executable).parent)) or shutil.which("xent")
pytestmark = pytest.mark.skipif(XENT is None, reason="the xent command is not installed")
TIMEOUT = 60


def xent(*args: str, stdin: object = None) -> subprocess.CompletedProcess[str]:
    assert XENT is not None
    return subprocess.run(
        [XENT, *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        stdin=stdin,  # type: ignore[arg-type]
    )


def bash(script: str) -> subprocess.CompletedProcess[str]:
    """A bash command line (for ``<(…)``) with ``$XENT`` set."""
    assert XENT is not None
    return subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env={**os.environ, "XENT": XENT},
    )


@contextmanager
def fifo_of(path: Path, folder: Path, name: str = "fifo") -> Iterator[Path]:
    """A FIFO that a writer thread fills with ``path``'s bytes once (as ``cat path > fifo &``)."""
    fifo = folder / name
    os.mkfifo(fifo)
    data = path.read_bytes()

    def write() -> None:
        try:
            with open(fifo, "wb") as out:  # waits for a reader
                out.write(data)
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield fifo
    finally:
        if writer.is_alive():  # no reader came: open the FIFO once to release the writer
            with open(fifo, "rb") as release:
                release.read()
        writer.join(TIMEOUT)


@pytest.fixture
def pq(tmp_path: Path) -> tuple[Path, Path, float]:
    p = np.full((2, 2), 0.5)
    q = np.array([[0.9, 0.1], [0.2, 0.8]])
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "q.npy", q)
    return tmp_path / "p.npy", tmp_path / "q.npy", float(entropy(p, q, axis=1).mean())


def test_compare_reads_p_from_process_substitution(pq: tuple[Path, Path, float]) -> None:
    p, q, kl = pq
    done = bash(f'"$XENT" compare <(cat {shlex.quote(str(p))}) {shlex.quote(str(q))} --value')
    assert (done.returncode, done.stderr) == (0, "")
    assert float(done.stdout) == pytest.approx(kl, rel=1e-14)


def test_compare_reads_p_from_a_fifo(pq: tuple[Path, Path, float], tmp_path: Path) -> None:
    p, q, kl = pq
    with fifo_of(p, tmp_path) as fifo:
        done = xent("compare", str(fifo), str(q), "--value")
    assert (done.returncode, done.stderr) == (0, "")
    assert float(done.stdout) == pytest.approx(kl, rel=1e-14)


@pytest.fixture
def weighted(tmp_path: Path) -> tuple[Path, float, float]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.dirichlet([1, 1, 1], 10), columns=list("abc"))
    frame["y"] = list("abcabcabca")
    frame["w"] = rng.uniform(0, 2, 10)
    frame.to_csv(tmp_path / "pw.csv", index=False)
    loss = float(log_loss(frame["y"], frame[list("abc")], sample_weight=frame["w"]))
    h = float(np.average(entropy(frame[list("abc")], axis=1), weights=frame["w"]))
    return tmp_path / "pw.csv", loss, h


@pytest.mark.parametrize("command", ["loss", "calibration", "entropy"])
def test_a_weights_column_of_a_pipe(
    weighted: tuple[Path, float, float], tmp_path: Path, command: str
) -> None:
    path, loss, h = weighted
    target = [] if command == "entropy" else ["--target", "y"]
    source = path
    if command == "entropy":  # no label column
        source = tmp_path / "pw_entropy.csv"
        pd.read_csv(path).drop(columns="y").to_csv(source, index=False)
    args = [*target, "--weights", "w", "--value"]
    quoted = " ".join(shlex.quote(a) for a in args)
    substituted = bash(f'"$XENT" {command} <(cat {shlex.quote(str(source))}) {quoted}')
    with fifo_of(source, tmp_path) as fifo:
        from_fifo = xent(command, str(fifo), *args)
    with source.open("rb") as stdin:
        from_stdin = xent(command, "-", *args, stdin=stdin)
    from_file = xent(command, str(source), *args)
    for done in (substituted, from_fifo, from_stdin, from_file):
        assert done.returncode == 0, done.stderr
        assert "xent: error" not in done.stderr
        assert done.stdout == from_file.stdout
    if command == "loss":
        assert float(from_file.stdout) == pytest.approx(loss, rel=1e-14)
    if command == "entropy":
        assert float(from_file.stdout) == pytest.approx(h, rel=1e-14)


def test_the_copy_of_a_pipe_is_removed(weighted: tuple[Path, float, float], tmp_path: Path) -> None:
    path, loss, _ = weighted
    spool = tmp_path / "tmp"
    spool.mkdir()
    assert XENT is not None
    done = subprocess.run(
        ["bash", "-c", f'"$XENT" loss <(cat {shlex.quote(str(path))}) --target y --weights w --value'],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env={**os.environ, "XENT": XENT, "TMPDIR": str(spool)},
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) == pytest.approx(loss, rel=1e-14)
    assert list(spool.iterdir()) == []
