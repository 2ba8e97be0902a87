"""Exit statuses and the one exception family whose messages are ready for users.

Kept free of heavy imports: the CLI imports it before it knows whether any
input will be read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum, unique
from typing import Any


@unique
class ExitStatus(IntEnum):
    """Exit codes a CI script can rely on (signals: 128 + the signal's number)."""

    OK = 0
    GATE_FAILED = 1
    ERROR = 2
    # A bug in xent or a broken install (a dependency that fails to import): never 0 or 1,
    # which a CI script reads as a verdict on its data.
    INTERNAL = 3
    HANGUP = 129
    INTERRUPTED = 130
    TERMINATED = 143


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C (temporary files removed), exit 128 + signal.

    A ``BaseException``, as ``KeyboardInterrupt`` is, so that no ``except Exception``
    on the way up mistakes it for an error.
    """

    def __init__(self, signal_number: int, name: str) -> None:
        super().__init__(name)
        self.signal_number = signal_number
        self.name = name

    @property
    def exit_status(self) -> int:
        return 128 + self.signal_number


# Marks an option named by its parameter in a message: the layers below the CLI know
# parameters (``scheduler_file``), the CLI knows how they are spelled (``--scheduler-file``).
_OPTION_MARK = "\0"
_OPTION = re.compile("\0([A-Za-z_]+)\0")


def option(name: str, *, negative: bool = False) -> str:
    """A reference to the option of parameter ``name``, for a message or hint.

    ``negative``: the flag's off form (``--no-header`` of ``header``), referenced as
    ``no_<name>``. The CLI writes it as the option is spelled (:meth:`XentError.render`,
    :func:`spell_options_as`); elsewhere :func:`conventional_spelling` stands in.
    """
    return f"{_OPTION_MARK}{'no_' if negative else ''}{name}{_OPTION_MARK}"


# Parameters whose every command spells them otherwise than the conventional rule does.
DECLARED_SPELLINGS = {"id_column": "--id"}


def conventional_spelling(name: str) -> str:
    """``--name-with-dashes``: how a parameter is spelled unless its command says otherwise."""
    return DECLARED_SPELLINGS.get(name) or "--" + name.rstrip("_").replace("_", "-")


def options_named(text: str) -> list[str]:
    """The parameters that :func:`option` references in ``text``, in order."""
    return _OPTION.findall(text)


def spelled(text: str, spelling: Callable[[str], str] | None = None) -> str:
    """``text`` with every :func:`option` reference written by ``spelling``.

    By default, as the running command spells its options (:func:`spell_options_as`),
    or conventionally when no command is running (``import xent_cli`` users).
    """
    write = spelling or _spelling
    return _OPTION.sub(lambda found: write(found.group(1)), text)


_spelling: Callable[[str], str] = conventional_spelling


@contextmanager
def spell_options_as(spelling: Callable[[str], str]) -> Iterator[None]:
    """While a command runs, every text written for the user spells options as ``spelling`` does.

    Notes, warnings and table footers leave the library through ``messages`` and the
    writers, which call :func:`spelled` with no spelling of their own: the CLI sets the
    command's here, once, and the default comes back afterwards.
    """
    global _spelling
    before = _spelling
    _spelling = spelling
    try:
        yield
    finally:
        _spelling = before


class XentError(Exception):
    """An error whose message is written for the person running xent.

    The CLI prints ``xent: error: <message>`` on one line and exits 2. Options are
    named in ``message`` and ``hint`` by :func:`option` (their parameters), and
    written as the command line spells them by :meth:`render`.
    """

    exit_status = ExitStatus.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(spelled(message))
        self.message = message
        self._hint = hint

    @property
    def hint(self) -> str | None:
        """The hint as written for the user (:func:`spelled`); ``render`` spells it as the command does."""
        return None if self._hint is None else spelled(self._hint)

    def render(self, spelling: Callable[[str], str] | None = None) -> str:
        """The one-line text, each option written by ``spelling`` (a parameter's name to its option)."""
        return spelled(self._text(), spelling)

    def _text(self) -> str:
        if self._hint:
            return f"{self.message} ({self._hint})"
        return self.message

    def __str__(self) -> str:
        return self.render()

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised on a Dask worker, re-raised on the client: keep the hint and every attribute.
        return (_rebuilt, (type(self), self.__dict__))


def _rebuilt(kind: type[XentError], state: dict[str, Any]) -> XentError:
    error = kind.__new__(kind)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class UsageError(XentError):
    """Options or arguments that cannot work together."""


class InputError(XentError):
    """A source that cannot be read or does not hold valid distributions."""


class OpenError(InputError):
    """A source file that cannot be opened: ``path`` and the system's ``reason``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: cannot open: {reason}")
        self.path = path
        self.reason = reason


class OutputError(XentError):
    """The result cannot be written where it was asked to go (``-o``, stdout)."""


class DistributionError(XentError, ValueError):
    """Values that are not valid distributions of the declared kind.

    Raised by the numeric core, which knows arrays but not files: ``row`` and
    ``column`` are 0-based positions in the array it was given, and ``reason``
    is a stable key the CLI maps to a hint that names its own options.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        row: int | None = None,
        column: int | None = None,
        hint: str | None = None,
        name: str = "p",
    ) -> None:
        super().__init__(message, hint)
        self.reason = reason
        self.row = row
        self.column = column
        self.name = name

    def _text(self) -> str:
        where = self.name
        if self.row is not None:
            where += f": row {self.row}"
        if self.column is not None:
            where += f", column {self.column}"
        text = f"{where}: {self.message}"
        return f"{text} ({self._hint})" if self._hint else text
