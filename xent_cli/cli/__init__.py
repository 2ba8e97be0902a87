"""The ``xent`` command line: a thin layer over ``xent_cli.pipeline``, ``render`` and ``output``.

``app`` is the Typer application with every command registered; ``main`` is
the console-script entry point.
"""

from __future__ import annotations

from xent_cli.cli import commands as _commands  # noqa: F401  # registers the commands
from xent_cli.cli.app import app, main

__all__ = ["app", "main"]
