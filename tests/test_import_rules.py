"""The import rules between the rooms of xent_cli (CONTRIBUTING.md), checked by parsing every module.

Each module's imports, at the top or inside functions (lazy ones count: they run too),
``TYPE_CHECKING`` blocks left out (annotations only).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "xent_cli"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports at run time (``from a import b`` counts as ``a`` and ``a.b``)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


MODULES = {_module_name(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _within(name: str, room: str) -> bool:
    return name == room or name.startswith(room + ".")


# (importer room, forbidden room, why)
RULES = [
    ("xent_cli.results", "xent_cli.pipeline", "results are plain data"),
    ("xent_cli.render", "xent_cli.pipeline", "rendering knows results, not the pipeline"),
    ("xent_cli.output", "xent_cli.pipeline", "output knows results, not the pipeline"),
    ("xent_cli.writers", "xent_cli.pipeline", "output knows results, not the pipeline"),
    ("xent_cli.pipeline", "xent_cli.render", "the pipeline renders nothing"),
    ("xent_cli.pipeline", "xent_cli.output", "the pipeline writes nothing"),
    ("xent_cli.pipeline", "xent_cli.cli", "option spellings stop at the CLI"),
    ("xent_cli.io", "xent_cli.cli", "option spellings stop at the CLI"),
    ("xent_cli.core", "xent_cli.cli", "the core knows no options"),
    *[
        ("xent_cli.columns", room, "columns are at the ground")
        for room in (
            "xent_cli.results",
            "xent_cli.render",
            "xent_cli.output",
            "xent_cli.writers",
            "xent_cli.pipeline",
            "xent_cli.io",
            "xent_cli.cli",
        )
    ],
    *[
        ("xent_cli.core", room, "the core knows arrays, not files, results or terminals")
        for room in (
            "xent_cli.results",
            "xent_cli.render",
            "xent_cli.output",
            "xent_cli.pipeline",
            "xent_cli.io",
            "xent_cli.columns",
            "pandas",
            "rich",
            "typer",
            "click",
        )
    ],
]


@pytest.mark.parametrize(("importer", "forbidden", "why"), RULES, ids=[f"{a}-x-{b}" for a, b, _ in RULES])
def test_import_rule(importer: str, forbidden: str, why: str) -> None:
    broken = sorted(
        f"{module} imports {name}"
        for module, names in MODULES.items()
        if _within(module, importer)
        for name in names
        if _within(name, forbidden)
    )
    assert not broken, f"{why}: {broken}"


def test_no_private_typer_or_click_module_is_imported() -> None:
    private = sorted(
        f"{module} imports {name}"
        for module, names in MODULES.items()
        for name in names
        if name.split(".")[0] in ("typer", "click") and any(part.startswith("_") for part in name.split("."))
    )
    assert not private, private


def test_the_rules_see_the_modules() -> None:
    assert "xent_cli.columns.histogram" in MODULES
    assert "xent_cli.columns.spill" in MODULES["xent_cli.columns.buffer"]
