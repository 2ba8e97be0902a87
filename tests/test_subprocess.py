"""The installed ``xent`` command in real processes, with real pipes and a real terminal."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

XENT = shutil.which("xent", path=str(Path(sys.executable).parent)) or shutil.which("xent")
pytestmark = pytest.mark.skipif(XENT is None, reason="the xent command is not installed")


def run(*args: str, input: bytes | None = None, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    assert XENT is not None
    return subprocess.run(
        [XENT, *args],
        input=input,
        capture_output=True,
        timeout=60,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )


def test_pipe_in_and_tsv_out() -> None:
    data = (EXAMPLES / "model_a.csv").read_bytes()
    result = run("entropy", input=data)
    assert result.returncode == 0
    lines = result.stdout.decode().splitlines()
    assert lines[0].split("\t") == ["row", "id", "entropy_nats"]
    assert len(lines) == 13
    assert all(len(line.split("\t")) == 3 for line in lines)


def test_dash_for_q_and_json_parsed_back() -> None:
    data = (EXAMPLES / "model_b.jsonl").read_bytes()
    result = run("kl", str(EXAMPLES / "model_a.csv"), "-", "--json", input=data)
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    assert doc["summary"]["count"] == 12


def test_gzip_on_stdin_is_sniffed() -> None:
    import gzip

    data = gzip.compress((EXAMPLES / "model_a.csv").read_bytes())
    plain = run("entropy", str(EXAMPLES / "model_a.csv"), "--value")
    piped = run("entropy", "--value", input=data)
    assert piped.stdout == plain.stdout


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "tsv", "table"])
def test_every_output_format(fmt: str) -> None:
    result = run("kl", str(EXAMPLES / "model_a.csv"), str(EXAMPLES / "model_b.csv"), "--format", fmt)
    assert result.returncode == 0
    text = result.stdout.decode()
    if fmt == "json":
        assert json.loads(text)["command"] == "kl"
    elif fmt == "jsonl":
        assert len([json.loads(line) for line in text.splitlines()]) == 12
    elif fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        assert text.splitlines()[0].split(sep) == ["row", "id", "kl_nats"]
    else:
        assert "Summary over 12 rows" in text


def test_exit_codes() -> None:
    assert run("kl", "0.5,0.5", "0.9,0.1").returncode == 0
    assert run("kl", "0.5,0.5", "0.9,0.1", "--fail-above", "0.1").returncode == 1
    bad = run("kl", "0.5,0.5", "0.9,0.2")
    assert bad.returncode == 2
    assert bad.stdout == b""
    assert bad.stderr.decode().count("\n") == 1
    assert b"Traceback" not in bad.stderr


def test_python_dash_m() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "xent_cli", "entropy", "0.5,0.5", "--bits", "--value"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, b"1.0\n")


def test_terminal_on_stdin_without_a_source_exits_at_once() -> None:
    primary, secondary = pty.openpty()
    try:
        result = run("entropy", stdin=secondary)
    finally:
        os.close(primary)
        os.close(secondary)
    assert result.returncode == 2
    assert result.stderr.startswith(b"xent: error: no input")


@pytest.mark.parametrize("fmt", ["tsv", "csv", "json", "jsonl", "table"])
def test_broken_pipe_is_quiet(fmt: str) -> None:
    # 4,000 rows: more than a pipe buffers (64 KiB), so xent writes into a closed pipe.
    rows = "".join(f"{i / 4000},{1 - i / 4000}\n" for i in range(4000))
    script = f'set -o pipefail; "{XENT}" entropy - --format {fmt} --rows 4000 | head -1'
    result = subprocess.run(
        ["bash", "-c", script], input=rows.encode(), capture_output=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(b"\n") == 1
    assert result.stderr == b""


def test_broken_pipe_keeps_a_failed_gate_status() -> None:
    script = f'set -o pipefail; "{XENT}" kl 0.5,0.5 0.9,0.1 --format table --fail-above 0.1 | head -1'
    result = subprocess.run(["bash", "-c", script], capture_output=True, timeout=60, check=False)
    assert result.returncode == 1


@pytest.mark.parametrize("args", [["kl", "--help"], ["--help-scale"]])
def test_help_imports_neither_numpy_nor_pandas(args: list[str]) -> None:
    code = (
        "import sys; from xent_cli.cli import app; from typer.testing import CliRunner; "
        f"r = CliRunner().invoke(app, {args!r}); "
        "print(r.exit_code, 'numpy' in sys.modules, 'pandas' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, timeout=60)
    assert result.stdout.split() == [b"0", b"False", b"False"]


def test_inline_and_json_inputs_do_not_import_pandas(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("[[0.5, 0.5]]")
    code = (
        "import sys; from xent_cli.cli import app; from typer.testing import CliRunner; "
        f"r = CliRunner().invoke(app, ['kl', '0.5,0.5', {str(path)!r}, '--value']); "
        "print(r.exit_code, 'pandas' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, timeout=60)
    assert result.stdout.split() == [b"0", b"False"]


def _wait_until_read(fd: int, timeout: float = 60.0) -> None:
    """Until the reader has taken every byte written to the pipe ``fd`` (Linux FIONREAD)."""
    import array
    import fcntl
    import termios
    import time

    unread = array.array("i", [0])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fcntl.ioctl(fd, termios.FIONREAD, unread)
        if unread[0] == 0:
            return
        time.sleep(0.05)


def test_ctrl_c_exits_130_quietly_and_leaves_no_output_file(tmp_path: Path) -> None:
    import signal
    import time

    assert XENT is not None
    out = tmp_path / "result.json"
    process = subprocess.Popen(
        [XENT, "entropy", "-", "-o", str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write(b"a,b\n" + b"0.5,0.5\n" * 1000)
    process.stdin.flush()
    _wait_until_read(process.stdin.fileno())
    time.sleep(0.5)  # xent has read what there is and waits for more on the open pipe
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert stdout == b""
    assert stderr == b"xent: interrupted\n"
    assert list(tmp_path.iterdir()) == []


def test_the_core_imports_no_cli_pandas_or_rich() -> None:
    code = (
        "import sys; import xent_cli.core.measures, xent_cli.core.loss, xent_cli.core.information; "
        "print(sorted(m for m in ('pandas', 'rich', 'typer', 'xent_cli.cli') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, timeout=60)
    assert result.stdout.strip() == b"[]"
