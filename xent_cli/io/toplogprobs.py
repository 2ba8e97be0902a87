"""Top-k log-probabilities as language-model APIs return them, one token position per row.

Accepted shapes (``--as top-logprobs``):

* JSON Lines, one token position a line, each either an API ``content`` item,
  ``{"token": "a", "logprob": -0.1, "top_logprobs": [{"token": "a", "logprob": -0.1}, …]}``
  (only ``top_logprobs`` is required), or a flat ``{"a": -0.1, "b": -2.3}`` object;
* a whole API response, ``{"choices": [{"logprobs": {"content": [item, …]}}]}``
  (chat completions), or the legacy completions form
  ``{"choices": [{"logprobs": {"tokens": […], "top_logprobs": [{tok: lp}, …]}}]}``,
  as one JSON document or one response per line (their positions follow each other);
* a JSON list of content items.

Rows pair by position. Each row is the tokens and their natural-log
probabilities, as given; validation of the values (log-probabilities <= 0, a
top-k mass of at most 1) is the core's job.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from xent_cli.errors import InputError
from xent_cli.io.sources import OpenedSource, Source, open_source

DEFAULT_BLOCK_ROWS = 4096


@dataclass
class TopLogprobBlock:
    """Consecutive token positions: each row's tokens and log-probabilities, as given."""

    start: int
    tokens: list[list[str]] = field(default_factory=list)
    logprobs: list[list[float]] = field(default_factory=list)
    # The token the model actually produced at this position, when the line says.
    actual: list[str | None] = field(default_factory=list)
    # Where each row came from: "row 3 (line 3)", for messages.
    places: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tokens)


def read_top_logprobs(source: Source, *, block_rows: int = DEFAULT_BLOCK_ROWS) -> Iterator[TopLogprobBlock]:
    """The token positions of ``source`` in blocks of up to ``block_rows`` rows."""
    if source.inline is not None:
        raise InputError(
            f"{source.label}: top-logprobs come from a JSON or JSON Lines file, not an inline list"
        )
    opened = open_source(source, None, None)
    return _blocks(opened, block_rows)


def _blocks(opened: OpenedSource, block_rows: int) -> Iterator[TopLogprobBlock]:
    label = opened.label
    text = io.TextIOWrapper(opened.stream, encoding="utf-8-sig", newline=None)
    block = TopLogprobBlock(start=0)
    row = 0
    try:
        if opened.format == "json":
            items = _positions(_load(text.read(), label, None), label, "document")
            numbered: Iterator[tuple[str, Any]] = ((f"row {i + 1}", item) for i, item in enumerate(items))
        else:
            numbered = _jsonl_positions(text, label)
        for place, item in numbered:
            row += 1
            tokens, logprobs, actual = _position(item, label, place)
            block.tokens.append(tokens)
            block.logprobs.append(logprobs)
            block.actual.append(actual)
            block.places.append(place)
            if len(block) >= block_rows:
                yield block
                block = TopLogprobBlock(start=row)
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: is not UTF-8 text ({exc.reason})") from None
    finally:
        text.close()
    if row == 0:
        raise InputError(f"{label}: holds no token positions", hint="expected top_logprobs per line")
    if len(block):
        yield block


def _jsonl_positions(text: io.TextIOWrapper, label: str) -> Iterator[tuple[str, Any]]:
    row = 0
    for line_number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        document = _load(line, label, line_number)
        positions = _positions(document, label, f"line {line_number}")
        for item in positions:
            row += 1
            yield f"row {row} (line {line_number})", item


def _load(text: str, label: str, line: int | None) -> Any:
    where = f"line {line}" if line is not None else "document"

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise InputError(
                    f"{label}: {where}: key {key!r} appears twice", hint="JSON keys must be unique"
                )
            result[key] = value
        return result

    try:
        return json.loads(text, object_pairs_hook=unique)
    except RecursionError:
        raise InputError(f"{label}: {where}: JSON nested too deeply") from None
    except ValueError as exc:
        raise InputError(f"{label}: {where}: invalid JSON: {exc}") from None


def _positions(document: Any, label: str, where: str) -> list[Any]:
    """The token positions in one JSON value: itself, an API response's, or a list's items."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and "choices" in document:
        try:
            logprobs = document["choices"][0]["logprobs"]
        except (KeyError, IndexError, TypeError):
            raise InputError(
                f"{label}: {where}: an API response without choices[0].logprobs",
                hint="request log-probabilities (logprobs=true, top_logprobs=K)",
            ) from None
        if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
            return list(logprobs["content"])
        if isinstance(logprobs, dict) and isinstance(logprobs.get("top_logprobs"), list):
            tokens = logprobs.get("tokens")
            tops = logprobs["top_logprobs"]
            if isinstance(tokens, list) and len(tokens) == len(tops):
                return [{"token": t, "top_logprobs": top} for t, top in zip(tokens, tops, strict=True)]
            return list(tops)
        raise InputError(
            f"{label}: {where}: choices[0].logprobs holds neither content nor top_logprobs",
            hint="request log-probabilities (logprobs=true, top_logprobs=K)",
        )
    return [document]


def _position(item: Any, label: str, place: str) -> tuple[list[str], list[float], str | None]:
    where = f"{label}: {place}"
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected an object with top_logprobs, got {json.dumps(item)[:40]}")
    if "top_logprobs" in item:
        top = item["top_logprobs"]
        actual = item.get("token")
        actual_text = actual if isinstance(actual, str) else None
        if isinstance(top, dict):  # the legacy completions form: {token: logprob}
            return _flat(top, where), [float(v) for v in top.values()], actual_text
        if not isinstance(top, list):
            raise InputError(f"{where}: 'top_logprobs' must be a list of {{token, logprob}} objects")
        tokens, logprobs = [], []
        for i, entry in enumerate(top, start=1):
            if not isinstance(entry, dict) or "token" not in entry or "logprob" not in entry:
                raise InputError(f"{where}, top_logprobs[{i}]: expected an object with 'token' and 'logprob'")
            tokens.append(str(entry["token"]))
            logprobs.append(_number(entry["logprob"], f"{where}, top_logprobs[{i}] 'logprob'"))
        if not tokens:
            raise InputError(f"{where}: 'top_logprobs' is empty", hint="request top_logprobs=K with K >= 1")
        return tokens, logprobs, actual_text
    if "token" in item or "logprob" in item or "choices" in item:
        raise InputError(
            f"{where}: has no 'top_logprobs'",
            hint="request log-probabilities with top_logprobs=K (K >= 1)",
        )
    if not item:
        raise InputError(f"{where}: is an empty object", hint="expected {token: logprob, …}")
    tokens = _flat(item, where)
    return tokens, [_number(v, f"{where}, {k!r}") for k, v in item.items()], None


def _flat(item: dict[str, Any], where: str) -> list[str]:
    for key, value in item.items():
        _number(value, f"{where}, {key!r}")
    return [str(k) for k in item]


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: {json.dumps(value)[:40]} is not a number")
    return float(value)
