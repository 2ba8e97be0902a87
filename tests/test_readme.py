"""Every ``$ xent …`` example in README.md runs and prints exactly what the README shows.

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

ROOT = Path(__file__).resolve().parent.parent
XENT_DIR = Path(sys.executable).parent


def examples() -> list[tuple[str, str]]:
    """(command, expected output) for each ``$ `` line of the README's console blocks."""
    text = (ROOT / "README.md").read_text()
    found = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        current: tuple[str, list[str]] | None = None
        for line in block.splitlines():
            if line.startswith("$ "):
                if current:
                    found.append((current[0], "\n".join(current[1])))
                current = (line[2:], [])
            elif current is not None:
                current[1].append(line)
        if current:
            found.append((current[0], "\n".join(current[1])))
    return found


@pytest.mark.skipif(shutil.which("xent", path=str(XENT_DIR)) is None, reason="xent is not installed")
@pytest.mark.parametrize(("command", "expected"), examples(), ids=[c for c, _ in examples()])
def test_readme_example(command: str, expected: str) -> None:
    if "| jq" in command and shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    assert_same_output(_run(command), expected.rstrip("\n"))


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


def _run(command: str) -> str:
    env = {**os.environ, "PATH": f"{XENT_DIR}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    result = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    return (result.stdout + result.stderr).rstrip("\n")


def update() -> None:
    """Rewrite the README's console blocks with what the commands print now."""
    path = ROOT / "README.md"

    def fill(match: re.Match[str]) -> str:
        lines = [line[2:] for line in match.group(1).splitlines() if line.startswith("$ ")]
        body = "".join(f"$ {command}\n{_run(command)}\n" for command in lines)
        return f"```console\n{body}```"

    path.write_text(re.sub(r"```console\n(.*?)```", fill, path.read_text(), flags=re.S))


if __name__ == "__main__":
    update()
