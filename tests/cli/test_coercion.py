"""Option values converted without pydantic (xent_cli/cli/coercion.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CliEnv


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rows", "abc"], "--rows 'abc' is not a whole number"),
        (["--rows", "1.5"], "--rows '1.5' is not a whole number"),
        (["--rows", "١٢"], "--rows '١٢' is not a whole number"),  # other scripts' digits
        (["--tolerance", "x"], "--tolerance 'x' is not a number"),
        (
            ["--format", "bad"],
            "--format 'bad' is not one of 'auto', 'table', 'json', 'jsonl', 'csv', 'tsv', 'markdown'",
        ),
        (
            ["--as", "counts"],
            "--as 'counts' is not one of 'probs', 'weights', 'logits', 'logprobs', 'top-logprobs'",
        ),
        (["--base", "1"], "--base '1' is not a valid base (use e, 2, 10 or a positive number other than 1)"),
        (
            ["--fail-above", "kl=y"],
            "--fail-above 'kl=y': expected a number, or NAME=NUMBER (e.g. js=0.001, kl.p99=0.5)",
        ),
        (["--worst", "-1"], "--worst -1: must be a whole number >= 0"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_option(env: CliEnv, args: list[str], message: str) -> None:
    result = env.run(["entropy", "0.5,0.5", *args])
    assert (result.exit_code, result.stderr) == (2, f"xent: error: {message}\n")


@pytest.mark.parametrize(
    ("args", "rows_shown"),
    [(["--rows", "1"], 1), (["--rows", "+2"], 2), (["--rows", " 3 "], 3), (["--rows", "1_0"], 10)],
)
def test_whole_numbers_read_as_python_reads_them(
    env: CliEnv, tmp_path: Path, args: list[str], rows_shown: int
) -> None:
    path = tmp_path / "p.csv"
    path.write_text("a,b\n" + "0.5,0.5\n" * 12)
    result = env.run(["entropy", str(path), "-f", "table", *args])
    assert result.exit_code == 0, result.stderr
    assert f"{12 - rows_shown} more rows not shown" in result.stdout


def test_repeated_gates_and_numbers_keep_their_values(env: CliEnv) -> None:
    result = env.run(
        [
            "kl",
            "0.5,0.5",
            "0.9,0.1",
            "--value",
            "--fail-above",
            "0.1",
            "--fail-above",
            "kl=1e-3",
            "--tolerance",
            "1e-9",
        ]
    )
    assert result.exit_code == 1
    assert result.stderr.count("xent: gate failed:") == 2


def test_an_output_path_is_checked_by_typer_without_pydantic(env: CliEnv, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    assert env.run(["entropy", "0.5,0.5", "-o", str(target)]).exit_code == 0
    assert target.read_text().startswith("{")


def test_a_run_imports_no_pydantic() -> None:
    code = (
        "import sys; from xent_cli.cli import app; from typer.testing import CliRunner; "
        "r = CliRunner().invoke(app, ['kl', '0.5,0.5', '0.9,0.1', '--value', '--rows', '3', '-o', '-', '--fail-above', '9']); "
        "print(r.exit_code, 'pydantic' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, timeout=60)
    assert result.stdout.split() == [b"0", b"False"]
