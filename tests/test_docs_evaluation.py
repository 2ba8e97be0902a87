"""docs/evaluation.md runs: its Python writes the files, and every ``$ xent …`` prints what it shows."""

from __future__ import annotations

from pathlib import Path

from tests.test_readme import run_page_with_setup

DOC = Path(__file__).resolve().parent.parent / "docs" / "evaluation.md"


def test_every_example_of_the_page(tmp_path: Path) -> None:
    run_page_with_setup(DOC, tmp_path, 12)
