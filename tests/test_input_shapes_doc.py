"""docs/input-shapes.md runs: its Python writes the files, and every ``$ xent …`` prints what it shows."""

from __future__ import annotations

from pathlib import Path

from tests.test_readme import run_page_with_setup

DOC = Path(__file__).resolve().parent.parent / "docs" / "input-shapes.md"


def test_every_example_of_the_page(tmp_path: Path) -> None:
    # the page's Python needs safetensors, a test extra
    run_page_with_setup(DOC, tmp_path, 8)
