"""Option values converted without pydantic.

Typer 0.29 converts every parameter of the command being run through a pydantic
``TypeAdapter`` built at parse time, the ones left at their defaults included: about a
quarter of a second of xent's start-up, most of it importing pydantic. xent's parameters are
strings, whole numbers, numbers, flags, ``Literal`` choices, paths with no checks and values
with their own ``parser=``; :func:`install` makes each of those a :class:`PlainOption` or
:class:`PlainArgument`, whose ``process_value`` (click's public hook for turning a parsed
string into a value) does what Typer's adapter does, with the same messages for choices and
parsers and a plain one for a bad number. Anything else keeps Typer's own conversion, as does
every parameter of a Typer that does not describe its parameters' types (``type_descriptor``).
Only public names of Typer are used: ``typer.core``'s parameter classes and
``typer.BadParameter``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import typer
from typer.core import TyperArgument, TyperOption

Convert = Callable[[Any], Any]


def install(params: Iterable[Any]) -> None:
    """Make each parameter whose type xent converts a :class:`PlainOption` or :class:`PlainArgument`."""
    for param in params:
        plain = _PLAIN.get(type(param))
        if plain is None or param.required:
            continue  # not Typer's (--help), already plain, or required: Typer's own checks
        descriptor = getattr(param, "type_descriptor", None)
        info = getattr(descriptor, "parameter_info", None)
        if info is None:
            continue
        convert = _converter(descriptor.annotation, info)  # type: ignore[union-attr]
        if convert is not None:
            param.__class__ = plain
            param.xent_convert = convert


def _process_value(param: Any, ctx: Any, value: Any) -> Any:
    """Click's ``process_value``: the parsed value converted, then the parameter's callback.

    What Typer does first, too: a missing value is None (an empty tuple for a list), and a
    list option given one string is an error.
    """
    many = param.multiple or param.nargs == -1
    if value is None:
        value = () if many else None
    elif many and isinstance(value, str):
        raise typer.BadParameter("Value must be an iterable.", ctx=ctx, param=param)
    else:
        try:
            value = param.xent_convert(value)
        except typer.BadParameter as exc:  # a parser's own message; name the parameter
            exc.ctx = exc.ctx or ctx
            exc.param = exc.param or param
            raise
        except ValueError as exc:  # Typer shows these as "Value error, …"
            raise typer.BadParameter(_escape_control_characters(str(exc)), ctx=ctx, param=param) from exc
    if param.callback is not None:
        value = param.callback(ctx, param, value)
    return value


class PlainOption(TyperOption):
    """A Typer option converted by xent's :data:`xent_convert` function."""

    xent_convert: Convert

    def process_value(self, ctx: Any, value: Any) -> Any:
        return _process_value(self, ctx, value)


class PlainArgument(TyperArgument):
    """A Typer argument converted by xent's :data:`xent_convert` function."""

    xent_convert: Convert

    def process_value(self, ctx: Any, value: Any) -> Any:
        return _process_value(self, ctx, value)


_PLAIN: dict[type, type] = {TyperOption: PlainOption, TyperArgument: PlainArgument}


def _escape_control_characters(text: str) -> str:
    """What Typer does to every message it shows: terminal control characters escaped."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", lambda match: f"\\x{ord(match[0]):02x}", text)


def _converter(annotation: Any, info: Any) -> Convert | None:
    """How to convert one value of ``annotation``; None: leave it to Typer."""
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        convert_item = _converter(item, info)
        if convert_item is None:
            return None
        return lambda values: [
            convert_item(v) for v in (values if isinstance(values, (list, tuple)) else [values])
        ]
    if info.parser is not None:
        return info.parser  # type: ignore[no-any-return]
    if getattr(info, "min", None) is not None or getattr(info, "max", None) is not None:
        return None  # ranges and clamping: Typer's
    if get_origin(annotation) is Literal:
        return _choice(get_args(annotation), case_sensitive=info.case_sensitive)
    if annotation is str:
        return _text
    if annotation is bool:
        return _flag
    if annotation is int:
        return _whole_number
    if annotation is float:
        return _number
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return _path(annotation, info)
    return None


def _path(annotation: type[Path], info: Any) -> Convert:
    """Typer's path checks (exists, file_okay, dir_okay, readable, writable), with its messages."""
    wanted = getattr(info, "path_type", None) or annotation
    kind = "file" if info.file_okay and not info.dir_okay else "dir" if not info.file_okay else "path"

    def as_wanted(value: Any) -> Any:
        if wanted in (str, bytes) or isinstance(value, wanted):
            return value
        return wanted(value)

    def convert(value: Any) -> Any:
        path = as_wanted(value)
        if info.file_okay and info.allow_dash and os.fspath(path) in ("-", b"-"):
            return path
        if info.resolve_path:
            path = as_wanted(os.path.realpath(path))
        shown = repr(os.fsdecode(value))
        try:
            mode = os.stat(path).st_mode
        except OSError:
            if info.exists:
                raise typer.BadParameter(f"{kind} {shown} does not exist.") from None
            return path
        if not info.file_okay and stat.S_ISREG(mode):
            raise typer.BadParameter(f"{kind} {shown} is a file.")
        if not info.dir_okay and stat.S_ISDIR(mode):
            raise typer.BadParameter(f"{kind} {shown} is a directory.")
        if info.readable and not os.access(path, os.R_OK):
            raise typer.BadParameter(f"{kind} {shown} is not readable.")
        if info.writable and not os.access(path, os.W_OK):
            raise typer.BadParameter(f"{kind} {shown} is not writable.")
        return path

    return convert


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "t", "yes", "y", "on"):
        return True
    if text in ("0", "false", "f", "no", "n", "off"):
        return False
    raise ValueError(f"{value!r} is not a valid boolean (use true or false)")


def _whole_number(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    # int() also reads other scripts' digits (int('١٢') == 12): a command line gets ASCII only.
    if text.isascii():
        try:
            return int(text)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a whole number")


def _number(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value)
    if text.isascii():
        try:
            return float(text)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a number")


def _choice(choices: tuple[Any, ...], *, case_sensitive: bool) -> Convert:
    def convert(value: Any) -> Any:
        def normal(text: Any) -> Any:
            return text if case_sensitive or not isinstance(text, str) else text.casefold()

        for choice in choices:
            if normal(choice) == normal(value):
                return choice
        raise ValueError(f"{value!r} is not one of {', '.join(map(repr, choices))}.")

    return convert
