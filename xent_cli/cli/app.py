"""The Typer app, and the one place where failures become exit statuses.

Every user error is caught once, in :class:`XentGroup`, and becomes one line
on stderr and exit status 2. NumPy and pandas are imported only by the code
that reads or computes, so ``xent --help`` and shell completion stay fast.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from xent_cli import messages
from xent_cli.cli import env, process
from xent_cli.errors import (
    ExitStatus,
    Terminated,
    UsageError,
    XentError,
    conventional_spelling,
    spell_options_as,
)

PROG = "xent"

_NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|infinity|nan)"
# An inline list of numbers (``-1,2,0.5``), which click would take for an option when it starts with -.
_NUMBER_LIST = re.compile(rf"{_NUMBER}(?:[,;]{_NUMBER})*", re.IGNORECASE)
# A number or list typed with spaces between the items: ``0.3`` ``0.3,`` ``,0.7``.
_NUMBER_PIECE = re.compile(rf"[,;]?(?:{_NUMBER}(?:[,;]{_NUMBER})*)?[,;]?", re.IGNORECASE)


def error_line(message: str) -> None:
    messages.error(message)


def _click_exception_class(name: str) -> type[Exception]:
    """Click's exception class ``name`` (``UsageError``, ``ClickException``), found through
    Typer's public ``BadParameter``, which derives from both: Typer bundles its own click
    and exports only that one of its exceptions."""
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == name and issubclass(cls, Exception):
            return cls
    return typer.BadParameter  # a Typer whose BadParameter has other bases: at least that one


_CLICK_USAGE_ERROR = _click_exception_class("UsageError")
_CLICK_EXCEPTION = _click_exception_class("ClickException")


class XentContext(typer.Context):
    """A context whose help is laid out by :class:`~xent_cli.cli.helptext.HelpFormatter`."""

    def make_formatter(self) -> Any:
        from xent_cli.cli.helptext import HelpFormatter

        return HelpFormatter(width=self.terminal_width, max_width=self.max_content_width)


# --- commands -----------------------------------------------------------------------------------


class XentCommand(TyperCommand):
    """A command whose help lists its options in sections (Input, Output, …), in plain text.

    It also reads inline lists that start with a minus (``xent kl -1,2,0.5 0,0,0 --as
    logits``) as arguments, where click would take them for options.
    """

    context_class = XentContext

    def format_options(self, ctx: Any, formatter: Any) -> None:
        from xent_cli.cli.params import SCALE

        sections: dict[str, list[tuple[str, str]]] = {}
        arguments: list[tuple[str, str]] = []
        scale: list[str] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                # The name alone: no <str> after it.
                name = param.metavar or param.human_readable_name  # type: ignore[attr-defined]
                arguments.append((name, getattr(param, "help", None) or ""))
            elif getattr(param, "rich_help_panel", None) == SCALE:
                # The same on every command: one line here, the options in full in xent --help-scale.
                scale.append(max(param.opts, key=len))
            else:
                panel = getattr(param, "rich_help_panel", None) or "Options"
                sections.setdefault(panel, []).append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        for title, records in sections.items():
            with formatter.section(title):
                formatter.write_dl(records)
        if scale:
            with formatter.section(SCALE):
                formatter.write_text(
                    f"{', '.join(scale)}: run the work shard by shard on a Dask cluster; "
                    f"see '{PROG} --help-scale'."
                )

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        from xent_cli.cli import coercion

        coercion.install(self.get_params(ctx))
        return super().parse_args(ctx, self._arguments_last(ctx, list(args)))

    def _arguments_last(self, ctx: Any, args: list[str]) -> list[str]:
        """Options first, then ``--`` and the arguments, when an argument starts with a minus.

        Only then: any other command line reaches click unchanged. Also turns
        numbers typed with spaces (``xent entropy 0.3 0.7``) into an error that
        shows the list to write.
        """
        takes_value: set[str] = set()
        arguments = 0
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                arguments += 1
            elif not (getattr(param, "is_flag", False) or getattr(param, "count", False)):
                takes_value.update(param.opts)
        options: list[str] = []
        positional: list[str] = []
        index = 0
        while index < len(args):
            token = args[index]
            if token == "--":
                positional.extend(args[index + 1 :])
                break
            if token in takes_value:
                options.extend(args[index : index + 2])
                index += 2
                continue
            if token.startswith("-") and token != "-" and not _NUMBER_LIST.fullmatch(token):
                options.append(token)
            else:
                positional.append(token)
            index += 1
        if "--help" in options or "-h" in options:
            return args
        if len(positional) > arguments and all(_NUMBER_PIECE.fullmatch(t) for t in positional):
            raise _spaced_numbers_error(self.name or "", arguments, positional)
        if not any(t.startswith("-") and t != "-" for t in positional) or "--" in args:
            return args
        return [*options, "--", *positional]


def _spaced_numbers_error(command: str, arguments: int, tokens: list[str]) -> UsageError:
    """``xent entropy 0.3 0.7``: say how to write the list."""
    numbers = [item for token in tokens for item in re.split(r"[,;]", token) if item]
    given = " ".join(tokens)
    if arguments == 1:
        hint = f"one distribution is one argument, without spaces: xent {command} {','.join(numbers)}"
    elif len(numbers) % 2 == 0 and len(numbers) >= 4:
        half = len(numbers) // 2
        lists = f"{','.join(numbers[:half])} {','.join(numbers[half:])}"
        hint = f"each distribution is one argument, without spaces, e.g. xent {command} {lists}"
    else:
        hint = f"each distribution is one argument, without spaces, e.g. xent {command} 0.5,0.5 0.9,0.1"
    sources = "one source" if arguments == 1 else f"{arguments} sources"
    return UsageError(f"{command} takes {sources}, but got {len(tokens)}: {given}", hint=hint)


class XentGroup(TyperGroup):
    """The command group: runs a command and turns every failure into an exit status."""

    context_class = XentContext

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        from xent_cli.cli import coercion

        if not args and not ctx.resilient_parsing:  # ``xent`` alone: the help, as a usage error
            messages.write(ctx.get_help())
            raise typer.Exit(ExitStatus.ERROR)
        coercion.install(self.get_params(ctx))
        return super().parse_args(ctx, args)

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            status = super().main(
                args=args,
                prog_name=prog_name or PROG,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except typer.BadParameter as exc:
            error_line(_bad_parameter(exc))
            status = ExitStatus.ERROR
        except _CLICK_USAGE_ERROR as exc:
            command = exc.ctx.command_path if exc.ctx else PROG  # type: ignore[attr-defined]
            error_line(f"{exc.format_message()} (see '{command} --help')")  # type: ignore[attr-defined]
            status = ExitStatus.ERROR
        except _CLICK_EXCEPTION as exc:
            error_line(exc.format_message())  # type: ignore[attr-defined]
            status = ExitStatus.ERROR
        except typer.Abort:
            messages.signal_line("interrupted")
            status = ExitStatus.INTERRUPTED
        except Terminated as exc:  # before a command started
            messages.signal_line(exc.name)
            status = exc.exit_status
        if status is None:
            status = ExitStatus.OK
        if standalone_mode:
            sys.exit(int(status))
        return int(status)

    def invoke(self, ctx: Any) -> Any:
        debug = env.current().debug

        # Asked when a text is written: the subcommand is known only once click resolved it.
        def spelling(name: str) -> str:
            return _spelling(self, ctx)(name)

        try:
            with spell_options_as(spelling):
                return super().invoke(ctx)
        except (_CLICK_EXCEPTION, typer.Exit, typer.Abort):
            raise  # usage errors and exits are handled in main()
        except XentError as exc:
            if debug:
                raise
            error_line(exc.render(spelling))
            return exc.exit_status
        except KeyboardInterrupt:
            messages.signal_line("interrupted")
            return ExitStatus.INTERRUPTED
        except Terminated as exc:
            messages.signal_line(exc.name)
            return exc.exit_status
        except BrokenPipeError:  # stdout closed by its reader before the result was written
            from xent_cli.output import silence_stdout

            silence_stdout()
            return ExitStatus.OK
        except MemoryError:
            error_line("out of memory (try a smaller input, or a .npy file, which is read in blocks)")
            return ExitStatus.ERROR
        except Exception as exc:  # a bug: still one line, with a way to see more
            if debug:
                raise  # the entry point (xent_cli.__main__) prints the traceback and exits 3
            messages.internal_error(exc)
            return ExitStatus.INTERNAL


def _spelling(group: Any, ctx: Any) -> Callable[[str], str]:
    """How the running command spells each parameter's option (``as_`` is ``--as``), for messages.

    The layers below name options by their parameters (:func:`xent_cli.errors.option`);
    one that is not the command's keeps the conventional spelling.
    """
    name = ctx.invoked_subcommand
    command = group.get_command(ctx, name) if name else None
    spellings: dict[str, str] = {}
    for param in getattr(command, "params", []):
        long_names = [opt for opt in getattr(param, "opts", []) if opt.startswith("--")]
        if param.name and long_names:
            spellings[param.name] = long_names[0]
        negative = [opt for opt in getattr(param, "secondary_opts", []) if opt.startswith("--")]
        if param.name and negative:  # option(name, negative=True): the flag's off form
            spellings[f"no_{param.name}"] = negative[0]
    return lambda name: spellings.get(name) or conventional_spelling(name)


def _bad_parameter(exc: Any) -> str:
    """``--base '1' is not a valid base (…)``: the option, then what is wrong with its value."""
    param = exc.param
    names = [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])] if param else []
    name = max(names, key=len) if names else (exc.param_hint or "a value")
    if param is not None and getattr(param, "param_type_name", "") == "argument":
        name = param.human_readable_name
    message = str(exc.message).removeprefix("Value error, ").rstrip(".")
    return f"{name} {message}"


def _show_version(value: bool) -> None:
    if value:
        from xent_cli import __version__

        print(f"{PROG} {__version__}")
        raise typer.Exit()


app = typer.Typer(
    cls=XentGroup,
    name=PROG,
    help="Entropy, cross-entropy, KL divergence and their relatives, from files.\n\n"
    "Inputs stream in blocks. Per-row results past a million rows go to a temporary file "
    "(8 bytes per row per measure, in TMPDIR). Held in memory: row ids, Q for --id joins, a "
    "separate --target labels file, joint tables, and .json documents (use .jsonl for big inputs).",
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_scale_help(value: bool) -> None:
    if value:
        from xent_cli.cli.helptext import scale_page

        print(scale_page(), end="")
        raise typer.Exit()


@app.callback()
def _main(
    help_scale: Annotated[
        bool,
        typer.Option(
            "--help-scale",
            help="Show the options that run a command on a Dask cluster (--engine, --scheduler, …) and exit.",
            callback=_show_scale_help,
            is_eager=True,
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the version and exit.",
            callback=_show_version,
            is_eager=True,
            metavar="",
        ),
    ] = False,
) -> None:
    """Entropy, cross-entropy, KL divergence and their relatives, from files."""


def main() -> None:
    """Console-script entry point (``xent_cli.cli`` has registered the commands).

    Sets up the process (closed standard descriptors, SIGTERM/SIGHUP), and, as a
    last line of defence, keeps Python warnings off stderr unless XENT_DEBUG is
    set: the numeric core raises none for any input the tests know (they run
    with warnings as errors), and a library's warning is no message for users.
    """
    process.prepare_process()
    if not os.environ.get("XENT_DEBUG"):
        warnings.simplefilter("ignore")
    _register_only(sys.argv[1:])
    app()


def _register_only(args: Sequence[str]) -> None:
    """Keep only the command being run registered, when the first argument names one.

    Typer builds a click command, with every parameter, for each registered
    command before it runs any (about 30 ms for all eight); running one needs
    only its own. ``xent``, ``xent --help``, a mistyped name and shell
    completion (``_XENT_COMPLETE``) keep them all.
    """
    if not args or args[0].startswith("-") or any(k.endswith("_COMPLETE") for k in os.environ):
        return
    chosen = [
        info
        for info in app.registered_commands
        if (info.name or (info.callback.__name__.replace("_", "-") if info.callback else None)) == args[0]
    ]
    if chosen:
        app.registered_commands[:] = chosen
