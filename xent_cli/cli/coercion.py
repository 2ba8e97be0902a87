"""Option values converted without pydantic.

Typer 0.29 converts every parameter of the command being run through a pydantic
``TypeAdapter`` built at parse time, the ones left at their defaults included: about a
quarter of a second of xent's start-up, most of it importing pydantic. xent's parameters are
strings, whole numbers, numbers, flags, ``Literal`` choices and values with their own
``parser=``; :func:`install` gives each of those a converter that does what Typer's adapter
does, with the same messages for choices and parsers and a plain one for a bad number.
Anything else (paths, say) keeps Typer's own conversion. With a Typer that converts values
another way (0.28 and older), :func:`install` changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

try:  # Typer >= 0.29
    from typer._coercion import RuntimeParam as _RuntimeParam
except ImportError:  # pragma: no cover - older Typer converts without pydantic
    _RuntimeParam = None  # type: ignore[assignment,misc]

Convert = Callable[[Any], Any]


def install(params: Iterable[Any]) -> None:
    """Give each parameter that Typer would convert through pydantic a plain converter."""
    if _RuntimeParam is None:
        return
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "_runtime_param", "absent") is not None:
            continue  # not a Typer 0.29 parameter, or already converted once
        convert = _converter(descriptor.annotation, descriptor.parameter_info)
        if convert is not None:
            param._runtime_param = _PlainRuntimeParam(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation, convert=convert
            )


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
    from typer._param_types import coerce_cli_path

    def convert(value: Any) -> Any:
        # Typer's own checks (existence, readability, ...), given a Path so that it needs no pydantic.
        path_type = info.path_type or annotation
        if isinstance(path_type, type) and issubclass(path_type, Path) and not isinstance(value, path_type):
            value = path_type(value)
        return coerce_cli_path(value, info, path_type=path_type)

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


if _RuntimeParam is not None:
    from dataclasses import dataclass

    from typer import _display
    from typer._click.exceptions import BadParameter

    # What Typer does to every message it shows: terminal control characters escaped.
    _escape_control_characters: Callable[[str], str] = _display._escape_control_characters  # type: ignore[attr-defined]

    @dataclass(frozen=True)
    class _PlainRuntimeParam(_RuntimeParam):
        """Typer's runtime conversion contract, fulfilled by a plain function."""

        convert: Convert

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return self.convert(value)
            except ValueError as exc:  # what pydantic turns into "Value error, …"
                raise BadParameter(_escape_control_characters(str(exc)), ctx=ctx, param=param) from exc
            except BadParameter as exc:  # Typer's path checks name no parameter
                exc.ctx = exc.ctx or ctx
                exc.param = exc.param or param
                raise
