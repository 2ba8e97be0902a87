"""The progress bar: on a terminal's stderr only, never on stdout, never in CI."""

from __future__ import annotations

import contextlib
import os
import pty
import subprocess
import threading
from pathlib import Path

import pytest

from tests.test_subprocess import XENT
from xent_cli import progress


def test_large_input_by_size(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("0.5,0.5\n")
    assert progress.large_input([path, None], threshold=8) is True
    assert progress.large_input([path], threshold=9) is False
    assert progress.large_input([tmp_path / "missing.csv"], threshold=0) is False


def test_no_bar_without_a_terminal() -> None:
    from xent_cli.cli.env import Environment

    assert not Environment(stderr_isatty=False).progress_allowed
    assert not Environment(stderr_isatty=True, ci=True).progress_allowed
    assert Environment(stderr_isatty=True).progress_allowed


@pytest.mark.skipif(XENT is None, reason="the xent command is not installed")
@pytest.mark.parametrize("ci", [False, True])
def test_bar_goes_to_a_terminal_stderr_and_never_to_stdout(tmp_path: Path, ci: bool) -> None:
    assert XENT is not None
    path = tmp_path / "p.csv"
    path.write_text("a,b\n" + "0.25,0.75\n" * 50_000)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "XENT_NO_PROGRESS")}
    env["XENT_PROGRESS_MIN_BYTES"] = "0"
    if ci:
        env["CI"] = "true"
    primary, secondary = pty.openpty()
    drawn = bytearray()

    def drain() -> None:
        # Read the terminal as it is drawn on: a full pty buffer would block xent's stderr.
        with contextlib.suppress(OSError):
            while chunk := os.read(primary, 65536):
                drawn.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        done = subprocess.run(
            [XENT, "entropy", str(path), "--value"],
            stdout=subprocess.PIPE,
            stderr=secondary,
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        os.close(secondary)  # the reader sees EOF (EIO) once the terminal has no writer
        reader.join(timeout=10)
        os.close(primary)
    assert done.returncode == 0
    assert done.stdout == b"0.5623351446188083\n"
    if ci:
        assert bytes(drawn) == b""
    else:
        assert drawn  # something was drawn on the terminal, and only there


class _Counting(progress.RowProgress):
    """A bar that counts what the tasks report, and whether it was running then."""

    def __init__(self) -> None:
        super().__init__("test", enabled=False)
        self.reported: list[int] = []
        self.running = False

    def __enter__(self) -> progress.RowProgress:
        self.running = True
        return self

    def __exit__(self, *args: object) -> None:
        self.running = False

    def advance(self, rows: int) -> None:
        assert self.running
        self.reported.append(rows)


def test_the_local_engine_hands_each_task_the_bar_as_a_parameter(tmp_path: Path) -> None:
    """Every computed row is reported once, through on_rows; without a bar a task gets none."""
    from tests.plans import NATS, spec
    from xent_cli.pipeline.engine import Engine
    from xent_cli.pipeline.plan import entropy_plan

    path = tmp_path / "p.csv"
    path.write_text("a,b\n" + "0.25,0.75\n" * 1000)
    plan = entropy_plan(spec(path, block_rows=300), unit=NATS, tolerance=1e-6)
    bar = _Counting()
    [part] = Engine().run(plan.tasks, progress_bar=bar)
    assert sum(bar.reported) == part.count == 1000 and len(bar.reported) > 1
    assert not bar.running
    [again] = Engine().run(plan.tasks)
    assert again.count == 1000
