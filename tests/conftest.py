"""Shared fixtures: a CLI environment that fakes terminals and pipes."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from xent_cli import cli, messages
from xent_cli.cli import env as cli_env

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# The suite runs as outside GitHub Actions, also when it runs inside (commands run in subprocesses
# inherit this): a test that wants the annotations or the job summary sets these itself.
for _name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"):
    os.environ.pop(_name, None)

LN_5_3 = 0.5108256237659905  # ln(5/3) = D(0.5,0.5 ‖ 0.9,0.1), as xent computes it (within 1 ulp)


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

    def json(self, args: Sequence[str]) -> dict[str, Any]:
        """The JSON document of ``xent ARGS --json``, which must succeed."""
        result = self.run([*args, "--json"])
        assert result.exit_code == 0, result.output
        doc: dict[str, Any] = json.loads(result.stdout)
        return doc


def outcomes_by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``--explain`` outcomes of a JSON document, by outcome name."""
    return {o["outcome"]: o for o in doc["explain"]["outcomes"]}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> CliEnv:
    return CliEnv(monkeypatch)


@pytest.fixture
def examples() -> Path:
    return EXAMPLES
