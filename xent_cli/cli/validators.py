"""The command line's parsers and callbacks: each option's value checked where it is parsed.

A bad value is a ``typer.BadParameter`` naming what was given and what is
expected; Typer adds the option's spelling, so the layers below never see it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import typer

from xent_cli.cli.measure_names import COMPARE_MEASURES, MEASURE_ALIASES
from xent_cli.errors import UsageError
from xent_cli.results import Gate, GateDirection, Unit


def _bad(message: str) -> typer.BadParameter:
    return typer.BadParameter(message)


def parse_unit(text: str | Unit) -> Unit:
    if isinstance(text, Unit):
        return text
    try:
        return Unit.parse(text)
    except UsageError as exc:
        raise _bad(f"{text!r} is not a valid base (use e, 2, 10 or a positive number other than 1)") from exc


def parse_delimiter(text: str | None) -> str | None:
    if text is None:
        return None
    delimiter = {"tab": "\t", "\\t": "\t"}.get(text.lower(), text)
    if len(delimiter) != 1:
        raise _bad(f"{text!r}: give one character, or 'tab'")
    return delimiter


def parse_columns(text: str | tuple[str, ...] | None) -> tuple[str, ...] | None:
    if text is None or isinstance(text, tuple):
        return text
    columns = tuple(c.strip() for c in text.split(",") if c.strip())
    if not columns:
        raise _bad(f"{text!r}: needs at least one column name")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise _bad(f"{text!r}: names {', '.join(map(repr, repeated))} more than once")
    return columns


def check_tolerance(value: float) -> float:
    if not value >= 0:
        raise _bad(f"{value}: must be a number >= 0")
    return value


def check_count(value: int) -> int:
    if value < 0:
        raise _bad(f"{value}: must be a whole number >= 0")
    return value


def check_positive(value: int) -> int:
    if value < 1:
        raise _bad(f"{value}: must be a whole number >= 1")
    return value


def check_bins(value: int) -> int:
    from xent_cli.core.calibration import MAX_BINS

    if not 1 <= value <= MAX_BINS:
        raise _bad(f"{value}: must be a whole number from 1 to {MAX_BINS}")
    return value


def check_smoothing(value: float | None) -> float | None:
    if value is not None and not (0 <= value < float("inf")):
        raise _bad(f"{value}: must be a finite number >= 0")
    return value


def check_label_smoothing(value: float) -> float:
    if not 0 <= value < 1:
        raise _bad(f"{value}: must be in [0, 1)")
    return value


def check_level(value: float | None) -> float | None:
    if value is not None and not 0 < value < 1:
        raise _bad(f"{value}: a confidence level is a number between 0 and 1 (e.g. 0.95)")
    return value


def check_resamples(value: int) -> int:
    if value < 10:
        raise _bad(f"{value}: needs at least 10 resamples (1000 is the default)")
    if value > 1_000_000:
        raise _bad(f"{value}: at most 1000000 resamples")
    return value


def check_seed(value: int) -> int:
    if not 0 <= value < 2**64:
        raise _bad(f"{value}: a seed is a whole number from 0 to 2**64 - 1")
    return value


def gate_parser(direction: GateDirection) -> Callable[[str | Gate], Gate]:
    def parse(text: str | Gate) -> Gate:
        if isinstance(text, Gate):
            return text
        try:
            return Gate.parse(direction, text)
        except UsageError as exc:
            if direction in ("increase", "decrease"):
                raise _bad(
                    f"{text!r}: expected a number >= 0 or a percentage, optionally NAME= before it "
                    "(e.g. 0.01, 1%, log_loss=1%)"
                ) from exc
            raise _bad(f"{text!r}: expected a number, or NAME=NUMBER (e.g. js=0.001, kl.p99=0.5)") from exc

    return parse


def parse_measures(text: str | tuple[str, ...] | None) -> tuple[str, ...] | None:
    """``kl,js,top1`` as measure keys, in the order given; unknown or repeated names are errors."""
    if text is None or isinstance(text, tuple):
        return text
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    keys = [MEASURE_ALIASES.get(name, name) for name in names]
    unknown = [
        name
        for name, key in zip(names, keys, strict=True)
        if key not in COMPARE_MEASURES and not _family_measure(key)
    ]
    if unknown or not keys:
        what = f"{', '.join(map(repr, unknown))} is not a measure" if unknown else "names no measure"
        raise _bad(
            f"{text!r}: {what} (known: {', '.join(COMPARE_MEASURES)}, renyi:ALPHA, tsallis:Q; "
            "top1 and ce for short)"
        )
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise _bad(f"{text!r}: names {', '.join(repeated)} more than once")
    return tuple(keys)


def _family_measure(key: str) -> bool:
    """Whether ``key`` is ``renyi:ALPHA`` or ``tsallis:Q`` with a valid order (else a one-line error)."""
    family, colon, order_text = key.partition(":")
    if not colon or family not in ("renyi", "tsallis"):
        return False
    try:
        order = float(order_text)
    except ValueError:
        raise _bad(f"{key}: the order after ':' must be a number, e.g. {family}:0.5") from None
    if order == 1:
        same = "the KL divergence: use kl" if family == "renyi" else "the KL divergence in nats: use kl"
        raise _bad(f"{key}: order 1 is {same}")
    if not (0 < order < math.inf):
        raise _bad(f"{key}: the order must be a finite number > 0")
    return True


# What Dask accepts as a scheduler address: SCHEME://HOST:PORT (or HOST:PORT, which is tcp).
_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "ucxx", "inproc")
_HOST_PORT = re.compile(r"^(?:\[[0-9A-Fa-f:.%\w]+\]|[^\s/:\[\]@]+):(\d{1,5})$")


def check_scheduler(value: str | None) -> str | None:
    """A Dask scheduler address, checked before anything is started (a bad one is a usage error)."""
    if value is None:
        return None
    text = value.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    scheme = scheme.lower()
    if scheme in ("http", "https"):
        raise _bad(
            f"{value!r}: is a web address; a Dask scheduler listens at tcp://HOST:PORT "
            "(8786 by default; the dashboard's http:// address is not it)"
        )
    if scheme not in _SCHEMES:
        raise _bad(f"{value!r}: unknown protocol {scheme}:// (Dask speaks {', '.join(_SCHEMES)})")
    if scheme == "inproc":
        return text
    found = _HOST_PORT.match(rest)
    if found is None or not 0 < int(found.group(1)) < 65536:
        raise _bad(f"{value!r}: expected {scheme}://HOST:PORT, e.g. {scheme}://10.0.0.5:8786")
    return text if sep else f"tcp://{text}"


def check_worker_timeout(value: float) -> float:
    if not (value > 0 and math.isfinite(value)):
        raise _bad(f"{value}: must be a positive number of seconds")
    return value


def parse_clip(text: str | float | None) -> float | None:
    """``auto`` (float64's eps, as scikit-learn's log_loss) or a number in (0, 0.5)."""
    if text is None or isinstance(text, float):
        return text
    if text.strip().lower() == "auto":
        import sys

        return sys.float_info.epsilon
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 0.5:
        raise _bad(f"{text}: expected auto or a number in (0, 0.5)")
    return value
