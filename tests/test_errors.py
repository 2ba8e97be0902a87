"""Errors name options by their parameters; the CLI alone spells them (xent_cli.errors.option)."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest

from tests.conftest import CliEnv
from xent_cli.errors import (
    DistributionError,
    UsageError,
    conventional_spelling,
    option,
    options_named,
    spelled,
)

PACKAGE = Path(__file__).resolve().parent.parent / "xent_cli"


def test_an_option_reference_is_spelled_when_written() -> None:
    error = UsageError(f"{option('as_')} top-logprobs: no {option('id_column')}", hint=f"see {option('x')}")
    assert options_named(error.message) == ["as_", "id_column"]
    assert str(error) == "--as top-logprobs: no --id (see --x)"
    spellings = {"as_": "--as", "id_column": "--id"}
    assert error.render(lambda name: spellings.get(name, "?")) == "--as top-logprobs: no --id (see ?)"
    assert conventional_spelling("worker_timeout") == "--worker-timeout"
    assert spelled("no option here {x}") == "no option here {x}"


def test_a_reference_survives_pickling_and_rewrapping() -> None:
    """A Dask worker's error is re-raised on the client; align.py wraps the core's messages."""
    error = pickle.loads(pickle.dumps(UsageError(f"{option('scheduler_file')} f: bad", hint="h")))
    assert error.render(lambda name: "--S") == "--S f: bad (h)"
    core = DistributionError(f"see {option('tolerance')}", reason="sum", row=3, name="p")
    assert str(core) == "p: row 3: see --tolerance"
    assert str(UsageError(f"x.csv: {core.message}")) == "x.csv: see --tolerance"


def test_the_cli_spells_options_as_the_command_declares_them(env: CliEnv) -> None:
    """``as_`` is ``--as`` and ``id_column`` ``--id``: the conventional spelling would be wrong."""
    result = env.run(["kl", "0.5,0.5", "0.5,0.5", "--as", "top-logprobs", "--id", "x"])
    assert result.exit_code == 2
    assert result.stderr == (
        "xent: error: --as top-logprobs pairs rows by position; --target, --id and --explain do not apply\n"
    )


def _referenced_parameters() -> set[str]:
    """Every name passed to ``option("...")`` in the package (f-string parts included)."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "option"
                and node.args
            ):
                argument = node.args[0]
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    found.add(argument.value)
                elif isinstance(argument, ast.JoinedStr):  # option(f"fail_{direction}")
                    found.update(f"fail_{d}" for d in ("above", "below", "increase", "decrease"))
    return found


def test_every_referenced_option_is_a_parameter_of_some_command() -> None:
    import typer.main

    from xent_cli.cli import app

    group = typer.main.get_command(app)
    parameters = {
        param.name
        for command in group.commands.values()  # type: ignore[attr-defined]
        for param in command.params
    }
    referenced = _referenced_parameters()
    assert referenced, "no option() reference found: the scan is broken"
    assert referenced <= parameters, sorted(referenced - parameters)


@pytest.mark.parametrize("name", ["as_", "id_column"])
def test_the_spellings_that_differ_from_the_convention_are_known(name: str) -> None:
    assert name in _referenced_parameters()
