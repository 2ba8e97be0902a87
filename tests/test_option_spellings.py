"""Option spellings stop at the CLI: the modules below it name options by parameter.

``errors.option("id_column")`` in a message or hint, written as the command spells it
(``--id``) by the CLI, conventionally for ``import xent_cli`` users. Checked by parsing
every string constant outside ``xent_cli/cli`` (docstrings left out: they are not output).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from xent_cli.errors import UsageError, option, spell_options_as, spelled

PACKAGE = Path(__file__).resolve().parent.parent / "xent_cli"
SPELLING = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")

# (module, spelling): why the literal stays.
ALLOWED = {
    (
        "pipeline/dask_connect.py",
        "--scheduler-file",
    ): "Dask's own command line: dask scheduler --scheduler-file",
    ("pipeline/dask_connect.py", "--tls-ca-file"): "Dask's own scheduler option",
    ("pipeline/align.py", "--ctx-size"): "llama-perplexity's option, not xent's",
    ("io/sources.py", "--help"): "a command line to run (xent --help), not an option of the command",
    ("pipeline/tasks/targets.py", "--target"): "a source's label, which JSON results carry in 'sources'",
    ("pipeline/weights.py", "--weights"): "a source's label, which JSON results carry in 'sources'",
    # id_column is spelled --id (errors.DECLARED_SPELLINGS), also without the CLI; these
    # literals are correct and left as they are.
    ("errors.py", "--id"): "id_column's declared spelling, for texts written without the CLI",
    ("io/jsonrows.py", "--id"): "id_column's spelling",
    ("io/layout.py", "--id"): "id_column's spelling",
    ("io/layout_evidence.py", "--id"): "id_column's spelling",
    ("pipeline/align.py", "--id"): "id_column's spelling",
    ("pipeline/tasks/loss.py", "--id"): "id_column's spelling",
    ("pipeline/tasks/targets.py", "--id"): "id_column's spelling",
}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _literal_spellings() -> set[tuple[str, str, int]]:
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        if module.startswith("cli/"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                found.update((module, spelling, node.lineno) for spelling in SPELLING.findall(node.value))
    return found


def test_no_module_below_the_cli_spells_an_option() -> None:
    found = _literal_spellings()
    assert any(module == "io/layout.py" for module, _, _ in found), "the scan is broken"
    spelled_here = sorted(f"{m}:{line}: {s}" for m, s, line in found if (m, s) not in ALLOWED)
    assert spelled_here == [], "name the option by its parameter: errors.option(...)"


def test_the_allow_list_has_no_stale_entries() -> None:
    found = {(module, spelling) for module, spelling, _ in _literal_spellings()}
    assert set(ALLOWED) <= found, sorted(set(ALLOWED) - found)


def test_texts_leaving_without_the_cli_are_spelled_conventionally() -> None:
    """``import xent_cli`` users, notes and tables: ``spelled`` with no command running."""
    error = UsageError(f"{option('id_column')} x", hint=f"or {option('header', negative=True)}")
    assert str(error) == "--id x (or --no-header)"
    assert spelled(f"use {option('as_')} weights") == "use --as weights"
    assert spelled(f"{option('id_column')} joins by id") == "--id joins by id"  # as the CLI spells it
    with spell_options_as(lambda name: {"id_column": "--id"}.get(name, "?")):
        assert str(error) == "--id x (or ?)"
        assert spelled(option("id_column")) == "--id"
    assert spelled(option("id_column")) == "--id"  # the CLI's spelling, not --id-column
