"""The console entry point (xent_cli.__main__): a crash is exit 3 and one line, never a verdict.

Exit 0 and 1 are what a CI script acts on ("held", "a gate failed"); a broken install or a
bug in xent must never produce them, nor a traceback, whichever dependency breaks and when.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CliEnv

XENT = shutil.which("xent", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.skipif(XENT is None, reason="the xent command is not installed")

INTERNAL = re.compile(
    r"xent: internal error: \w+: .+ \(.+; XENT_DEBUG=1 shows a traceback\)\n",
)


def run_poisoned(
    tmp_path: Path, poison: str, *args: str, debug: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``xent`` with ``poison`` executed at interpreter start (sitecustomize)."""
    assert XENT is not None
    (tmp_path / "sitecustomize.py").write_text(poison)
    environ = {k: v for k, v in os.environ.items() if k != "XENT_DEBUG"}
    environ["PYTHONPATH"] = str(tmp_path)
    if debug:
        environ["XENT_DEBUG"] = "1"
    return subprocess.run(
        [XENT, *args], capture_output=True, text=True, env=environ, timeout=120, check=False
    )


@pytest.mark.parametrize(
    "module",
    [
        "typer",  # imported by the command line itself
        "typer.core",
        "numpy",  # imported when the command computes
    ],
)
def test_a_dependency_that_fails_to_import_is_exit_3_in_one_line(tmp_path: Path, module: str) -> None:
    poison = f"import sys; sys.modules[{module!r}] = None\n"
    (tmp_path / "a.csv").write_text("a,b\n0.5,0.5\n")
    (tmp_path / "b.csv").write_text("a,b\n0.9,0.1\n")
    done = run_poisoned(
        tmp_path, poison, "kl", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--fail-above", "0.1"
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == ""
    assert INTERNAL.fullmatch(done.stderr), done.stderr
    assert f"import of {module} halted" in done.stderr
    assert "a broken install? reinstall xent" in done.stderr


def test_a_dependency_that_raises_something_else_at_import_is_exit_3(tmp_path: Path) -> None:
    # A Typer upgrade that renamed a name xent imports: AttributeError, not ImportError.
    poison = (
        "import sys, importlib.abc\n"
        "class Broken(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'typer.core':\n"
        "            raise AttributeError(\"module 'typer' has no attribute 'renamed'\")\n"
        "sys.meta_path.insert(0, Broken())\n"
    )
    done = run_poisoned(tmp_path, poison, "entropy", "0.5,0.5")
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr == (
        "xent: internal error: AttributeError: module 'typer' has no attribute 'renamed' "
        "(a broken install? reinstall xent and its dependencies; XENT_DEBUG=1 shows a traceback)\n"
    )


def test_xent_debug_shows_the_traceback_and_still_exits_3(tmp_path: Path) -> None:
    done = run_poisoned(tmp_path, "import sys; sys.modules['typer'] = None\n", "--help", debug=True)
    assert done.returncode == 3
    assert done.stderr.startswith("Traceback (most recent call last):\n")
    assert done.stderr.splitlines()[-1].startswith("xent: internal error: ModuleNotFoundError")


def test_python_dash_m_is_the_same_entry_point(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text("import sys; sys.modules['typer.core'] = None\n")
    environ = {**os.environ, "PYTHONPATH": str(tmp_path)}
    environ.pop("XENT_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "xent_cli", "entropy", "0.5,0.5"],
        capture_output=True, text=True, env=environ, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 3 and INTERNAL.fullmatch(done.stderr), done.stderr


def test_the_entry_point_still_gives_0_1_2_from_results(tmp_path: Path) -> None:
    assert run_poisoned(tmp_path, "", "kl", "0.5,0.5", "0.9,0.1").returncode == 0
    assert run_poisoned(tmp_path, "", "kl", "0.5,0.5", "0.9,0.1", "--fail-above", "0.1").returncode == 1
    bad = run_poisoned(tmp_path, "", "kl", "0.5,0.5", "0.9,0.2")
    assert bad.returncode == 2 and bad.stderr.startswith("xent: error: ")


def test_a_bug_inside_a_command_is_exit_3(env: CliEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    from xent_cli.cli import commands

    def broken(*args: object, **kwargs: object) -> int:
        raise KeyError("kl")

    monkeypatch.setattr(commands, "execute", broken)
    result = env.run(["entropy", "0.5,0.5"])
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == (
        "xent: internal error: KeyError: 'kl' (please report it; XENT_DEBUG=1 shows a traceback)\n"
    )


def test_xent_alone_prints_the_help_on_stderr_and_exits_2(tmp_path: Path) -> None:
    done = run_poisoned(tmp_path, "")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("Usage: xent [OPTIONS] COMMAND [ARGS]...\n")
    assert "Commands:\n  entropy" in done.stderr


def test_no_private_module_of_typer_or_click_is_imported() -> None:
    """A Typer release may rename its private modules; xent uses public names only."""
    package = Path(__file__).resolve().parent.parent / "xent_cli"
    private = re.compile(r"(typer|click)\._")
    found = [
        f"{path.relative_to(package)}:{number}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if private.search(line)
    ]
    assert found == []
