"""Shared fixtures: a CLI environment that fakes terminals and pipes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from xent_cli import cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclass
class CliEnv:
    """Runs the app in-process with a chosen stdin: a pipe with data, or a terminal."""

    monkeypatch: pytest.MonkeyPatch
    stdin_is_terminal: bool = False

    def run(self, args: Sequence[str], input: str | bytes | None = None, **env: str) -> Result:
        self.monkeypatch.setattr(cli, "stdin_is_terminal", lambda: self.stdin_is_terminal)
        runner = CliRunner()
        return runner.invoke(cli.app, list(args), input=input, env=env or None)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> CliEnv:
    return CliEnv(monkeypatch)


@pytest.fixture
def examples() -> Path:
    return EXAMPLES
