"""docs/evaluation.md runs: its Python writes the files, and every ``$ xent …`` prints what it shows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.test_readme import XENT_DIR, _examples_in, assert_same_output

DOC = Path(__file__).resolve().parent.parent / "docs" / "evaluation.md"


def test_every_example_of_the_page(tmp_path: Path) -> None:
    assert shutil.which("xent", path=str(XENT_DIR)), "xent is not installed beside this Python"
    text = DOC.read_text()
    (setup,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    subprocess.run([sys.executable, "-c", setup], cwd=tmp_path, check=True)
    env = {**os.environ, "PATH": f"{XENT_DIR}{os.pathsep}{os.environ['PATH']}"}
    env.pop("COLUMNS", None)
    examples = _examples_in(text)
    assert len(examples) == 11
    for command, expected, _ in examples:
        done = subprocess.run(
            command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        # stderr first: notes and errors come before a --value's number
        assert_same_output((done.stderr + done.stdout).rstrip("\n"), expected.rstrip("\n"))
