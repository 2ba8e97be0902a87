"""Shared fixtures: a CLI environment that fakes terminals and pipes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from xent_cli import cli, messages
from xent_cli.cli import env as cli_env

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclass
class CliEnv:
    """Runs the app in-process with a chosen stdin: a pipe with data, or a terminal."""

    monkeypatch: pytest.MonkeyPatch
    stdin_is_terminal: bool = False

    def run(
        self, args: Sequence[str], input: str | bytes | None = None, charset: str = "utf-8", **env: str
    ) -> Result:
        """Run ``xent ARGS``; ``charset`` is the encoding of the faked stdout and stderr."""
        for name, value in env.items():
            self.monkeypatch.setenv(name, value)
        environment = cli_env.Environment.from_process()
        environment.stdin_isatty = self.stdin_is_terminal
        environment.stdout_isatty = environment.stderr_isatty = False
        environment.stdout_closed = False
        cli_env.use(environment)
        messages.reset()
        try:
            return CliRunner(charset=charset).invoke(cli.app, list(args), input=input)
        finally:
            cli_env.use(None)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> CliEnv:
    return CliEnv(monkeypatch)


@pytest.fixture
def examples() -> Path:
    return EXAMPLES
