"""``--help`` of every command at 60 and 80 columns: nothing wider, no word cut, no type noise."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CliEnv
from xent_cli import __version__, cli

COMMANDS = ["", "entropy", "kl", "cross-entropy", "js", "compare", "loss", "info"]


def _help(env: CliEnv, command: str, width: int) -> str:
    """The help as the installed command prints it for a terminal ``width`` columns wide."""
    args = [command, "--help"] if command else ["--help"]
    done = subprocess.run(
        [sys.executable, "-m", "xent_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": str(width)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _texts(command: str) -> list[str]:
    """Every help text of the command's parameters, as written in the code."""
    import typer.main

    group = typer.main.get_command(cli.app)
    if not command:
        return [c.short_help or "" for c in group.commands.values() if not c.hidden]  # type: ignore[attr-defined]
    params = group.commands[command].params  # type: ignore[attr-defined]
    return [p.help or "" for p in params if getattr(p, "help", None) and not _scale(p)]


def _scale(param: object) -> bool:
    """A Scale option: one line in each command's help, in full in ``xent --help-scale``."""
    return getattr(param, "rich_help_panel", None) == "Scale"


def _scale_page(width: int) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "xent_cli", "--help-scale"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": str(width)},
    )
    assert (done.returncode, done.stderr) == (0, "")
    return done.stdout


@pytest.mark.parametrize("width", [60, 80])
@pytest.mark.parametrize("command", COMMANDS)
def test_help_fits_and_cuts_no_word(env: CliEnv, command: str, width: int) -> None:
    text = _help(env, command, width)
    too_wide = [line for line in text.splitlines() if len(line) > width]
    assert not too_wide, too_wide
    words = set(text.split())
    for help_text in _texts(command):
        for word in help_text.split():
            assert word in words, f"{word!r} of {help_text!r} is cut in:\n{text}"
    assert "<bool>" not in text and "<str>" not in text
    assert "[default: (" not in text
    assert "..." not in text.replace("[ARGS]...", "")  # no cut command summaries


@pytest.mark.parametrize("width", [60, 80])
def test_every_command_is_listed_whole(env: CliEnv, width: int) -> None:
    text = _help(env, "", width)
    for name, summary in [
        ("entropy", "Entropy H(P) of each row, or of labels."),
        ("compare", "Every measure of P and Q in one panel."),
        ("info", "Mutual information, conditional entropy."),
    ]:
        assert re.search(rf"^  {re.escape(name)}\s+{re.escape(summary)}$", text, flags=re.M), text


def test_arguments_are_shown_by_name(env: CliEnv) -> None:
    text = _help(env, "kl", 80)
    assert re.search(r"^  P  P: a file", text, flags=re.M), text
    assert re.search(r"^  Q  Q: a file", text, flags=re.M), text


def test_choices_are_listed_between_spaces(env: CliEnv) -> None:
    text = _help(env, "kl", 60)
    assert "auto, table, json, jsonl, csv, tsv" in " ".join(text.split())


@pytest.mark.parametrize("width", [60, 80])
def test_scale_options_are_one_line_in_each_command_and_whole_in_help_scale(env: CliEnv, width: int) -> None:
    import typer.main

    group = typer.main.get_command(cli.app)
    page = _scale_page(width)
    assert not [line for line in page.splitlines() if len(line) > width]
    page_words = set(page.split())
    scale_options = ["--engine", "--scheduler", "--scheduler-file", "--worker-timeout"]
    pointer = (
        "Scale: --engine, --scheduler, --scheduler-file, --worker-timeout: run the work shard by shard "
        "on a Dask cluster; see 'xent --help-scale'."
    )
    for command in ["entropy", "kl", "cross-entropy", "js", "compare", "loss", "calibration"]:
        params = [p for p in group.commands[command].params if _scale(p)]  # type: ignore[attr-defined]
        assert [max(p.opts, key=len) for p in params] == scale_options
        for param in params:  # every word of every Scale option's help is on the page, uncut
            for word in (param.help or "").split():
                assert word in page_words, word
        text = _help(env, command, width)
        assert pointer in " ".join(text.split())
        assert "Dask's scheduler-address setting" not in " ".join(text.split())
    assert "Scale" not in _help(env, "info", width)
    for option in scale_options:
        assert re.search(rf"^  {option} [A-Z]+ ", page, flags=re.M), page


def test_every_command_still_takes_the_scale_options(env: CliEnv) -> None:
    run = env.run(["kl", "0.5,0.5", "0.9,0.1", "--engine", "local", "--worker-timeout", "5", "--value"])
    assert (run.exit_code, run.stdout) == (0, "0.5108256237659905\n")


def test_dask_install_hint_is_literal_and_real(env: CliEnv) -> None:
    text = " ".join(_scale_page(80).split())
    assert "pip install '.[dask]' from a checkout of xent" in text
    assert "pip install 'dask[distributed]'" in text
    assert "xent[dask]" not in text


@pytest.mark.parametrize("command", COMMANDS[1:])
def test_examples_paste_as_whole_commands(env: CliEnv, command: str) -> None:
    """Each example line is a command, or continues one with a trailing backslash."""
    text = _help(env, command, 60)
    block = text.split("Examples:", 1)[1].split("Arguments:", 1)[0]
    lines = [line for line in block.splitlines() if line.strip()]
    assert lines, text
    continued = False
    for line in lines:
        assert line.startswith("    xent ") or (continued and line.startswith("        ")), line
        continued = line.endswith(" \\")
    assert not continued


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(flag: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "xent_cli", flag], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (0, f"xent {__version__}\n")


def test_flags_take_no_value_in_help(env: CliEnv) -> None:
    text = _help(env, "compare", 80)
    for flag in ("--normalize", "--bits", "--json", "--csv", "--value", "--explain", "--quiet"):
        line = next(line for line in text.splitlines() if flag in line.split())
        after = line.split(flag, 1)[1].split()
        assert not after or not after[0].startswith("<"), line


def test_help_is_the_docstring(env: CliEnv) -> None:
    result = env.run(["kl", "--help"])
    assert result.exit_code == 0
    assert "KL divergence D(P‖Q)" in result.stdout
    assert "--fail-above" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["entropy", "0.5,0.5"],
        ["kl", "0.5,0.5", "0.9,0.1"],
        ["cross-entropy", "0.5,0.5", "0.9,0.1"],
        ["js", "0.5,0.5", "0.9,0.1"],
        [
            "compare",
            "0.5,0.5",
            "0.9,0.1",
            "--measures",
            "kl,js,js_distance,tv,hellinger,kl_reverse,ce,max_abs,top1",
        ],
        [
            "compare",
            "examples/lm/reference.npy",
            "examples/lm/candidate.npy",
            "--as",
            "logits",
            "--target",
            "examples/lm/tokens.npy",
        ],
        ["loss", "examples/model_a.csv", "--target", "examples/labels.csv"],
        ["info", "examples/forecasts.csv", "--x", "forecast", "--y", "actual"],
        ["calibration", "examples/model_a.csv", "--target", "examples/labels.csv", "--classwise"],
    ],
)
def test_help_lists_every_gate_name(env: CliEnv, args: list[str]) -> None:
    """Every name a command's gates accept (as its error lists them) is in its --help."""
    root = Path(__file__).resolve().parents[2]
    args = [str(root / a) if a.startswith("examples/") else a for a in args]
    error = env.run([*args, "--fail-above", "no_such_name=1"]).stderr
    known = error.split("(known: ", 1)[1].rsplit(")", 1)[0].split(", ")
    names = [name for name in known if not name.startswith("MEASURE.")]
    fields = known[-1].removeprefix("MEASURE.{").removesuffix("})").removesuffix("}").split(",")
    text = " ".join(_help(env, args[0], 100).split())
    gates = text.split("Gate names (", 1)[1]
    for name in names:
        assert re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", gates), name
    for field in fields:
        assert field in gates, field
