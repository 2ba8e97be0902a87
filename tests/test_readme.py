"""Every ``$ xent …`` example in README.md runs and prints exactly what the README shows.

Commands run in a pipe, with stderr and stdout in one stream, so lines come in the
order a shell shows them. A block marked ``<!-- terminal: N columns -->`` runs in
a real pseudo-terminal N columns wide instead, and shows what a person sees there.
``python -m tests.test_readme`` rewrites the README's outputs after a deliberate change.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.terminal import run_in_terminal

ROOT = Path(__file__).resolve().parent.parent
XENT_DIR = Path(sys.executable).parent


_BLOCK = re.compile(r"(?:<!-- terminal: (\d+) columns -->\n)?```console\n(.*?)```", flags=re.S)


def examples() -> list[tuple[str, str, int | None]]:
    """(command, expected output, terminal columns or None) for each ``$ `` line of the console blocks."""
    return _examples_in((ROOT / "README.md").read_text())


def _examples_in(text: str) -> list[tuple[str, str, int | None]]:
    found = []
    for columns, block in _BLOCK.findall(text):
        width = int(columns) if columns else None
        current: tuple[str, list[str]] | None = None
        for line in block.splitlines():
            if line.startswith("$ "):
                if current:
                    found.append((current[0], "\n".join(current[1]), width))
                current = (line[2:], [])
            elif current is not None:
                current[1].append(line)
        if current:
            found.append((current[0], "\n".join(current[1]), width))
    return found


@pytest.mark.skipif(shutil.which("xent", path=str(XENT_DIR)) is None, reason="xent is not installed")
@pytest.mark.parametrize(("command", "expected", "columns"), examples(), ids=[c for c, _, _ in examples()])
def test_readme_example(command: str, expected: str, columns: int | None) -> None:
    if "| jq" in command and shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    assert_same_output(_run(command, columns), expected.rstrip("\n"))


_NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def assert_same_output(actual: str, expected: str) -> None:
    """Exact text, except that long decimals may differ in their last digits.

    NumPy's vectorized log and exp differ by an ulp between CPUs (AVX2 vs AVX-512),
    so a 17-digit number is compared to 1e-13 relative; everything else is exact.
    """
    if actual == expected:
        return
    actual_numbers, expected_numbers = _NUMBER.findall(actual), _NUMBER.findall(expected)
    assert _NUMBER.sub("#", actual) == _NUMBER.sub("#", expected), (actual, expected)
    for a, e in zip(actual_numbers, expected_numbers, strict=True):
        if a != e:
            assert len(e.split("e")[0]) >= 15, (a, e)  # table numbers (6 digits) stay exact
            assert float(a) == pytest.approx(float(e), rel=1e-13), (a, e)


def _run(command: str, columns: int | None = None) -> str:
    env = {**os.environ, "PATH": f"{XENT_DIR}{os.pathsep}{os.environ['PATH']}"}
    env.pop("NO_COLOR", None)
    env.pop("COLUMNS", None)  # a pipe's tables are 120 wide unless COLUMNS says otherwise
    if columns is not None:
        env["NO_COLOR"] = "1"
        _, output = run_in_terminal(["bash", "-c", command], columns, cwd=ROOT, env=env)
        return "\n".join(line.rstrip() for line in output.rstrip("\n").splitlines())
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream: lines in the order a shell shows them
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    return result.stdout.rstrip("\n")


def update() -> None:
    """Rewrite the README's console blocks with what the commands print now."""
    path = ROOT / "README.md"

    def fill(match: re.Match[str]) -> str:
        columns = int(match.group(1)) if match.group(1) else None
        marker = f"<!-- terminal: {columns} columns -->\n" if columns else ""
        old = dict((c, e) for c, e, _ in _examples_in(match.group(0)))
        body = ""
        for command in old:
            output = _run(command, columns)
            try:  # keep what the README shows when it differs only in the last digits (CPU ulps)
                assert_same_output(output, old[command].rstrip("\n"))
                output = old[command].rstrip("\n")
            except AssertionError:
                pass
            body += f"$ {command}\n{output}\n"
        return f"{marker}```console\n{body}```"

    path.write_text(_BLOCK.sub(fill, path.read_text()))


if __name__ == "__main__":
    update()
