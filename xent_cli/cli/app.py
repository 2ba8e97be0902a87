"""The Typer app, and the one place where failures become exit statuses.

Every user error is caught once, in :class:`XentGroup`, and becomes one line
on stderr and exit status 2. NumPy and pandas are imported only by the code
that reads or computes, so ``xent --help`` and shell completion stay fast.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from xent_cli import messages
from xent_cli.cli import env, process
from xent_cli.errors import ExitStatus, Terminated, XentError

PROG = "xent"


def error_line(message: str) -> None:
    messages.error(message)


class XentCommand(TyperCommand):
    """A command whose help lists its options in sections (Input, Output, …), in plain text."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        arguments: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append(record)
            else:
                panel = getattr(param, "rich_help_panel", None) or "Options"
                sections.setdefault(panel, []).append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        for title, records in sections.items():
            with formatter.section(title):
                formatter.write_dl(records)


class XentGroup(TyperGroup):
    """The command group: runs a command and turns every failure into an exit status."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        from typer import exceptions as typer_exceptions
        from typer._click import exceptions as click_exceptions

        try:
            status = super().main(
                args=args,
                prog_name=prog_name or PROG,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except click_exceptions.NoArgsIsHelpError:
            status = ExitStatus.ERROR  # the help is already printed
        except click_exceptions.BadParameter as exc:
            error_line(_bad_parameter(exc))
            status = ExitStatus.ERROR
        except click_exceptions.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else PROG
            error_line(f"{exc.format_message()} (see '{command} --help')")
            status = ExitStatus.ERROR
        except click_exceptions.ClickException as exc:
            error_line(exc.format_message())
            status = ExitStatus.ERROR
        except typer_exceptions.Abort:
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
        from typer import exceptions as typer_exceptions
        from typer._click import exceptions as click_exceptions

        debug = env.current().debug
        try:
            return super().invoke(ctx)
        except (click_exceptions.ClickException, typer_exceptions.Exit, typer_exceptions.Abort):
            raise  # usage errors and exits are handled in main()
        except XentError as exc:
            if debug:
                raise
            error_line(str(exc))
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
                raise
            error_line(
                f"internal error: {type(exc).__name__}: {exc} "
                "(please report it; XENT_DEBUG=1 shows a traceback)"
            )
            return ExitStatus.ERROR


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
    "Inputs stream in blocks. Held in memory: the per-row results (8 bytes per row per "
    "measure, for the output and exact percentiles, and the row ids), Q for --id joins, a "
    "separate --target labels file, joint tables, and .json documents (use .jsonl for big inputs).",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _main(
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
    app()
