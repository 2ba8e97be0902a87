"""Where and how a result is written: format choice, gates, atomic ``-o``, broken pipes."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from xent_cli.errors import ExitStatus, UsageError
from xent_cli.render import write_table
from xent_cli.results import Gate, GateReport, Result, check_gates
from xent_cli.writers import (
    OutputFormat,
    text_number,
    write_delimited,
    write_json,
    write_jsonl,
    write_value,
)

_FORMAT_BY_EXTENSION: dict[str, OutputFormat] = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "table",
}


@dataclass
class OutputSettings:
    format: OutputFormat = "auto"
    value_only: bool = False
    max_rows: int = 20
    worst: int = 0
    path: Path | None = None
    gates: list[Gate] = field(default_factory=list)
    input_paths: list[Path] = field(default_factory=list)
    stdout_is_terminal: bool = False
    # None: colour on a terminal only.
    color: bool | None = None
    no_color_env: bool = False
    # The terminal's width, when known (a table in a pipe or a file is 120 wide).
    width: int | None = None

    @property
    def to_stdout(self) -> bool:
        return self.path is None or str(self.path) == "-"


def resolve_format(settings: OutputSettings, stdout_is_terminal: bool) -> OutputFormat:
    if settings.format != "auto":
        return settings.format
    if not settings.to_stdout:
        assert settings.path is not None
        return _FORMAT_BY_EXTENSION.get(settings.path.suffix.lower(), "tsv")
    return "table" if stdout_is_terminal else "tsv"


def emit(result: Result, settings: OutputSettings) -> ExitStatus:
    """Write the result, then report broken gates on stderr; return the exit status."""
    report = check_gates(result, settings.gates)
    if not settings.to_stdout:
        assert settings.path is not None
        _refuse_to_overwrite_inputs(settings.path, settings.input_paths)
        with atomic_writer(settings.path) as out:
            _write(result, report, settings, out, is_terminal=False)
    else:
        try:
            _write(result, report, settings, sys.stdout, is_terminal=settings.stdout_is_terminal)
            sys.stdout.flush()
        except BrokenPipeError:
            silence_stdout()
    for check in report.checks:
        if not check.held:
            relation = ">" if check.gate.direction == "above" else "<"
            print(
                f"xent: gate failed: {check.measure} {check.statistic} {text_number(check.value)} {relation} "
                f"{check.gate.bound:g} ({check.gate.option})",
                file=sys.stderr,
            )
    return ExitStatus.OK if report.held else ExitStatus.GATE_FAILED


def _write(
    result: Result, report: GateReport, settings: OutputSettings, out: TextIO, is_terminal: bool
) -> None:
    if settings.value_only:
        write_value(result, out)
        return
    fmt = resolve_format(settings, is_terminal)
    if fmt == "json":
        write_json(result, report, out, worst=settings.worst)
    elif fmt == "jsonl":
        write_jsonl(result, out)
    elif fmt in ("csv", "tsv"):
        write_delimited(result, out, "," if fmt == "csv" else "\t")
    else:
        color = settings.color if settings.color is not None else is_terminal and not settings.no_color_env
        console = _pipe_console(
            file=out,
            force_terminal=True if is_terminal or settings.color else None,
            no_color=not color,
            highlight=False,
            width=(settings.width if is_terminal else None) or (None if is_terminal else 120),
        )
        write_table(result, console, settings.max_rows, worst=settings.worst)


def _pipe_console(**options: Any) -> Any:
    """A Rich console that leaves a closed pipe to xent: Rich itself would exit with status 1."""
    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return PipeConsole(**options)


def silence_stdout() -> None:
    """After a reader closed the pipe: send the rest to /dev/null, quietly."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _refuse_to_overwrite_inputs(target: Path, inputs: list[Path]) -> None:
    for source in inputs:
        with contextlib.suppress(OSError):
            if target.exists() and os.path.samefile(target, source):
                raise UsageError(f"-o {target} is one of the inputs; xent never overwrites an input")


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[TextIO]:
    """Write to a temporary file beside ``path`` and rename it into place on success."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"-o {path}: cannot write: {exc.strerror or exc}") from None
    try:
        with open(fd, "w", encoding="utf-8") as handle:
            yield handle
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
