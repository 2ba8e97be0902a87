"""Every example in README.md and docs/*.md runs and prints exactly what the page shows.

Each ``$ …`` line of a ``console`` block is run from the repository's root in a pipe, with
stderr and stdout in one stream, so lines come in the order a shell shows them. A block
marked ``<!-- terminal: N columns -->`` runs in a real pseudo-terminal N columns wide
instead, and shows what a person sees there. A command shown on several pages with the
same output runs once. Python examples (``>>>`` lines) run as doctests.
``python -m tests.test_readme`` rewrites the pages' outputs after a deliberate change.
"""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.terminal import run_in_terminal

ROOT = Path(__file__).resolve().parent.parent
XENT_DIR = Path(sys.executable).parent

# Pages whose commands need files that their own test writes first, in a folder of its own.
PAGES_WITH_OWN_TEST = {
    "docs/input-shapes.md": "tests/test_input_shapes_doc.py",
    "docs/evaluation.md": "tests/test_docs_evaluation.py",
}

_BLOCK = re.compile(r"(?:<!-- terminal: (\d+) columns -->\n)?```console\n(.*?)```", flags=re.S)


class Example(NamedTuple):
    page: str
    command: str
    expected: str
    columns: int | None


def pages() -> list[str]:
    """README.md and every page in docs/, as paths relative to the repository's root."""
    return ["README.md", *sorted(f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md"))]


def examples() -> list[Example]:
    """The console examples of every page run from the root, each distinct one once."""
    found: dict[tuple[str, str, int | None], Example] = {}
    for page in pages():
        if page in PAGES_WITH_OWN_TEST:
            continue
        for command, expected, columns in _examples_in((ROOT / page).read_text()):
            found.setdefault(
                (command, expected.rstrip("\n"), columns), Example(page, command, expected, columns)
            )
    return list(found.values())


def _examples_in(text: str) -> list[tuple[str, str, int | None]]:
    """(command, expected output, terminal columns or None) for each ``$ `` line of the console blocks."""
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


def _require_xent() -> None:
    # Fail, never skip: a documentation test that skips itself checks nothing and looks green.
    assert shutil.which("xent", path=str(XENT_DIR)) is not None, (
        f"the xent command is not installed beside {sys.executable} (pip install -e .)"
    )


def run_page_with_setup(doc: Path, tmp_path: Path, count: int) -> None:
    """A page whose one Python block writes the files its ``$ xent …`` examples read (in
    ``tmp_path``): run the block, then each of the ``count`` examples, against what the page shows."""
    _require_xent()
    text = doc.read_text()
    (setup,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    subprocess.run([sys.executable, "-c", setup], cwd=tmp_path, check=True)
    env = {**os.environ, "PATH": f"{XENT_DIR}{os.pathsep}{os.environ['PATH']}"}
    env.pop("COLUMNS", None)
    found = _examples_in(text)
    assert len(found) == count
    for command, expected, _ in found:
        done = subprocess.run(
            command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        # stderr first: notes and errors come before a --value's number
        assert_same_output((done.stderr + done.stdout).rstrip("\n"), expected.rstrip("\n"))


@pytest.mark.parametrize("example", examples(), ids=[f"{e.page}: {e.command}" for e in examples()])
def test_example(example: Example) -> None:
    _require_xent()
    if "| jq" in example.command and shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    assert_same_output(_run(example.command, example.columns), example.expected.rstrip("\n"))


@pytest.mark.parametrize("page", [p for p in pages() if ">>> " in (ROOT / p).read_text()])
def test_python_examples(page: str) -> None:
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner()
    test = parser.get_doctest((ROOT / page).read_text(), {}, page, str(ROOT / page), 0)
    report: list[str] = []
    runner.run(test, out=report.append)
    assert test.examples
    assert runner.failures == 0, "".join(report)


def test_every_page_is_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    assert [p for p in pages()[1:] if f"]({p})" not in readme] == []


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("page", pages())
def test_links_of_the_page_lead_somewhere(page: str) -> None:
    text = re.sub(r"```.*?```", "", (ROOT / page).read_text(), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        path = (ROOT / page).parent / file if file else ROOT / page
        if not path.exists():
            broken.append(target)
        elif anchor:
            headings = re.findall(r"^#+ (.*)$", re.sub(r"```.*?```", "", path.read_text(), flags=re.S), re.M)
            if anchor not in {_anchor(h) for h in headings}:
                broken.append(target)
    assert broken == []


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
    """Rewrite the pages' console blocks with what the commands print now."""
    for page in pages():
        if page in PAGES_WITH_OWN_TEST:
            continue
        path = ROOT / page

        def fill(match: re.Match[str]) -> str:
            columns = int(match.group(1)) if match.group(1) else None
            marker = f"<!-- terminal: {columns} columns -->\n" if columns else ""
            old = dict((c, e) for c, e, _ in _examples_in(match.group(0)))
            body = ""
            for command in old:
                output = _run(command, columns)
                try:  # keep what the page shows when it differs only in the last digits (CPU ulps)
                    assert_same_output(output, old[command].rstrip("\n"))
                    output = old[command].rstrip("\n")
                except AssertionError:
                    pass
                body += f"$ {command}\n{output}\n"
            return f"{marker}```console\n{body}```"

        path.write_text(_BLOCK.sub(fill, path.read_text()))


if __name__ == "__main__":
    update()
