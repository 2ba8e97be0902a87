"""Help text laid out by xent: wrapped between words, never inside one.

:class:`HelpFormatter` does what click's help formatter does (the methods click's
commands call: ``write_usage``, ``write_heading``, ``write_text``, ``write_dl``,
``section`` ...), written here on the standard library's :mod:`textwrap` so that
the command line depends on no private module of Typer or click, and so that
words (``--fail-below``, ``a|b|c``) are never split at the margin.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

# Terminal control sequences (colour), which take no columns.
_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")


def term_len(text: str) -> int:
    """How many columns ``text`` takes on a terminal (escape sequences take none)."""
    return len(_ANSI.sub("", text))


class _Wrapper(textwrap.TextWrapper):
    @contextmanager
    def extra_indent(self, indent: str) -> Iterator[None]:
        initial, subsequent = self.initial_indent, self.subsequent_indent
        self.initial_indent += indent
        self.subsequent_indent += indent
        try:
            yield
        finally:
            self.initial_indent, self.subsequent_indent = initial, subsequent

    def indent_only(self, text: str) -> str:
        indents = [self.initial_indent] + [self.subsequent_indent] * len(text)
        return "\n".join(f"{indent}{line}" for indent, line in zip(indents, text.splitlines(), strict=False))


def wrap_text(
    text: str,
    width: int,
    initial_indent: str = "",
    subsequent_indent: str = "",
    paragraphs: bool = True,
    *,
    split_words: bool = False,
) -> str:
    """Fill ``text`` to ``width``, paragraph by paragraph, as click's ``wrap_text`` does.

    A paragraph that starts with a ``\\b`` line is kept as written (examples).
    Words are never split unless ``split_words`` (the usage line, as click does).
    """
    wrapper = _Wrapper(
        width,
        initial_indent=initial_indent,
        subsequent_indent=subsequent_indent,
        replace_whitespace=False,
        break_long_words=split_words,
        break_on_hyphens=split_words,
    )
    text = text.expandtabs()
    if not paragraphs:
        return wrapper.fill(text)
    blocks: list[tuple[int, bool, str]] = []
    lines: list[str] = []
    indent: int | None = None

    def flush() -> None:
        if lines:
            if lines[0].strip() == "\b":
                blocks.append((indent or 0, True, "\n".join(lines[1:])))
            else:
                blocks.append((indent or 0, False, " ".join(lines)))
            lines.clear()

    for line in text.splitlines():
        if not line:
            flush()
            indent = None
            continue
        if indent is None:
            stripped = line.lstrip()
            indent = term_len(line) - term_len(stripped)
            line = stripped
        lines.append(line)
    flush()
    out = []
    for extra, raw, block in blocks:
        with wrapper.extra_indent(" " * extra):
            out.append(wrapper.indent_only(block) if raw else wrapper.fill(block))
    return "\n\n".join(out)


class HelpFormatter:
    """Click's help formatter, with :func:`wrap_text`: no word is ever cut at the margin."""

    def __init__(
        self, indent_increment: int = 2, width: int | None = None, max_width: int | None = None
    ) -> None:
        self.indent_increment = indent_increment
        if width is None:
            # As click: the terminal's width (COLUMNS when set), at most max_width, less 2.
            width = max(min(shutil.get_terminal_size().columns, max_width or 80) - 2, 50)
        self.width = width
        self.current_indent = 0
        self.buffer: list[str] = []

    def write(self, text: str) -> None:
        self.buffer.append(text)

    def indent(self) -> None:
        self.current_indent += self.indent_increment

    def dedent(self) -> None:
        self.current_indent -= self.indent_increment

    @contextmanager
    def indentation(self) -> Iterator[None]:
        self.indent()
        try:
            yield
        finally:
            self.dedent()

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        prefix = "Usage: " if prefix is None else prefix
        usage_prefix = f"{prefix:>{self.current_indent}}{prog} "
        text_width = self.width - self.current_indent
        if text_width >= term_len(usage_prefix) + 20:
            indent = " " * term_len(usage_prefix)
            self.write(wrap_text(args, text_width, usage_prefix, indent, paragraphs=False, split_words=True))
        else:  # the arguments go on the next line
            self.write(f"{usage_prefix}\n")
            indent = " " * (max(self.current_indent, term_len(prefix)) + 4)
            self.write(wrap_text(args, text_width, indent, indent, paragraphs=False, split_words=True))
        self.write("\n")

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{heading}:\n")

    def write_paragraph(self) -> None:
        if self.buffer:
            self.write("\n")

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        self.write(wrap_text(text, self.width, initial_indent=indent, subsequent_indent=indent))
        self.write("\n")

    def write_dl(self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        rows = [(first, second) for first, second, *_ in ((*row, "") for row in rows)]
        if not rows:
            return
        first_col = min(max(term_len(first) for first, _ in rows), col_max) + col_spacing
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if term_len(first) <= first_col - col_spacing:
                self.write(" " * (first_col - term_len(first)))
            else:
                self.write("\n")
                self.write(" " * (first_col + self.current_indent))
            text_width = max(self.width - first_col - self.current_indent, 10)
            lines = wrap_text(second, text_width).splitlines() or [""]
            self.write(f"{lines[0]}\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n" if line else "\n")

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        self.write_paragraph()
        self.write_heading(name)
        self.indent()
        try:
            yield
        finally:
            self.dedent()

    def getvalue(self) -> str:
        return "".join(self.buffer)


# What xent --help-scale says before the options, and the examples after them.
_SCALE_INTRO = (
    "Run a command's work shard by shard on a Dask cluster. entropy, cross-entropy, kl, js, compare, "
    "loss and calibration take these options; their --help lists them in one line. A glob or a folder "
    "of shards is read shard by shard; the result, its intervals (--ci) and its gates are the same as "
    "with --engine local. Workers must see the input files at the same paths."
)
_SCALE_EXAMPLES = """\b
xent kl 'p/*.parquet' 'q/*.parquet' --engine dask
xent compare p/ q/ --scheduler tcp://10.0.0.5:8786 --json
xent loss preds/ --target label \\
    --scheduler-file sched.json"""


def scale_page(width: int | None = None) -> str:
    """``xent --help-scale``: the Scale options of every command, in full, with examples."""
    import dataclasses
    from typing import get_args

    import typer

    from xent_cli.cli.params import ScaleParams, group_hints

    formatter = HelpFormatter(width=width)
    formatter.write_usage("xent", "COMMAND [ARGS]... [--engine dask | --scheduler ADDRESS] [OPTIONS]")
    formatter.write_paragraph()
    with formatter.indentation():
        formatter.write_text(_SCALE_INTRO)
    records = []
    hints = group_hints(ScaleParams)
    for field in dataclasses.fields(ScaleParams):
        info = next(m for m in get_args(hints[field.name]) if isinstance(m, typer.models.OptionInfo))
        text = info.help or ""
        if info.envvar:
            text += f"  [env var: {info.envvar}]"
        if field.default is not None:
            text += f"  [default: {field.default}]"
        # In Annotated[..., typer.Option("--engine")], Typer keeps the first name as ``default``.
        declared = (info.default, *(info.param_decls or ()))
        names = [d for d in declared if isinstance(d, str) and d.startswith("-")]
        records.append((f"{', '.join(names)} {info.metavar}", text))
    with formatter.section("Scale"):
        formatter.write_dl(records)
    with formatter.section("Examples"):
        formatter.write_text(_SCALE_EXAMPLES)
    return formatter.getvalue()
