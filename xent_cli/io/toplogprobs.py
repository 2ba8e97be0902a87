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
top-k mass of at most 1) is the core's job. One exception: a log-probability
below :data:`NOT_LISTED_BELOW` (-1000) is an API's placeholder for "not in the
list" (OpenAI writes -9999.0 where it has no value), and the entry is dropped,
with a note. No real entry is lost: the smallest probability a float64 holds is
about e^-745, so anything below e^-1000 is zero however it is computed.

Read as the other JSON readers read (:mod:`xent_cli.io.jsonrows`): a document at
most ``XENT_MAX_DOCUMENT_BYTES``, each line at most ``XENT_MAX_LINE_BYTES``, and
the same number parser (a 400-digit value is an error naming it, not an overflow).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from xent_cli.errors import InputError
from xent_cli.io.jsonrows import bounded_lines, json_number, load_json, read_document
from xent_cli.io.sources import OpenedSource, Source, open_source
from xent_cli.io.table import clip

DEFAULT_BLOCK_ROWS = 4096

# Log-probabilities below this mean "not in the list" (OpenAI's -9999.0 placeholder, -inf).
NOT_LISTED_BELOW = -1000.0


@dataclass
class TopLogprobBlock:
    """Consecutive token positions: each row's tokens and log-probabilities, as given."""

    start: int
    tokens: list[list[str]] = field(default_factory=list)
    logprobs: list[list[float]] = field(default_factory=list)
    # The token the model actually produced at this position, and its log-probability
    # (the item's own "logprob", or the legacy form's token_logprobs), when the source says.
    actual: list[str | None] = field(default_factory=list)
    actual_logprob: list[float | None] = field(default_factory=list)
    # Where each row came from: "row 3 (line 3)", for messages.
    places: list[str] = field(default_factory=list)
    # Entries dropped as "not in the list" placeholders (below NOT_LISTED_BELOW).
    dropped: int = 0

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
    block = TopLogprobBlock(start=0)
    row = 0
    numbered: Iterator[tuple[str, Any]]
    if opened.format == "json":
        document = load_json(read_document(opened), label)
        items = _positions(document, label, "document")
        numbered = ((f"row {i + 1}", item) for i, item in enumerate(items))
    else:
        numbered = _jsonl_positions(opened, label)
    try:
        for place, item in numbered:
            row += 1
            tokens, logprobs, actual, dropped = _position(item, label, place)
            block.tokens.append(tokens)
            block.logprobs.append(logprobs)
            block.actual.append(actual)
            block.actual_logprob.append(_actual_logprob(item, actual, tokens, logprobs, label, place))
            block.places.append(place)
            block.dropped += dropped
            if len(block) >= block_rows:
                yield block
                block = TopLogprobBlock(start=row)
    finally:
        opened.stream.close()
    if row == 0:
        raise InputError(f"{label}: holds no token positions", hint="expected top_logprobs per line")
    if len(block):
        yield block


def _jsonl_positions(opened: OpenedSource, label: str) -> Iterator[tuple[str, Any]]:
    row = 0
    for line_number, line in bounded_lines(opened.stream, label):
        if not line.strip():
            continue
        document = load_json(line, label, line_number)
        positions = _positions(document, label, f"line {line_number}")
        for item in positions:
            row += 1
            yield f"row {row} (line {line_number})", item


def api_shape(value: Any) -> str | None:
    """What language-model API output ``value`` is, in words, or None when it is none.

    Used by the table readers, so that such a file read without ``--as top-logprobs``
    says so instead of failing as a table.
    """
    if isinstance(value, list) and value:
        value = value[0]
    if not isinstance(value, dict):
        return None
    choices = value.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict) and "logprobs" in choices[0]:
        return "an API response with log-probabilities"
    if "top_logprobs" in value:
        return "a token position with top_logprobs"
    return None


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
                chosen = logprobs.get("token_logprobs")
                if isinstance(chosen, list) and len(chosen) == len(tokens):
                    return [
                        {"token": t, "logprob": lp, "top_logprobs": top}
                        for t, lp, top in zip(tokens, chosen, tops, strict=True)
                    ]
                return [{"token": t, "top_logprobs": top} for t, top in zip(tokens, tops, strict=True)]
            return list(tops)
        raise InputError(
            f"{label}: {where}: choices[0].logprobs holds neither content nor top_logprobs",
            hint="request log-probabilities (logprobs=true, top_logprobs=K)",
        )
    return [document]


def _position(item: Any, label: str, place: str) -> tuple[list[str], list[float], str | None, int]:
    """One position's tokens, log-probabilities, actual token, and how many placeholders were dropped."""
    where = f"{label}: {place}"
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected an object with top_logprobs, got {clip(json.dumps(item))}")
    if "top_logprobs" in item:
        top = item["top_logprobs"]
        actual = item.get("token")
        actual_text = actual if isinstance(actual, str) else None
        if isinstance(top, dict):  # the legacy completions form: {token: logprob}
            tokens, logprobs = _flat(top, where)
            return (*_listed(tokens, logprobs, where), actual_text, _unlisted_count(logprobs))
        if not isinstance(top, list):
            raise InputError(f"{where}: 'top_logprobs' must be a list of {{token, logprob}} objects")
        tokens, logprobs = [], []
        for i, entry in enumerate(top, start=1):
            if not isinstance(entry, dict) or "token" not in entry or "logprob" not in entry:
                raise InputError(f"{where}, top_logprobs[{i}]: expected an object with 'token' and 'logprob'")
            tokens.append(str(entry["token"]))
            logprobs.append(json_number(entry["logprob"], f"{where}, top_logprobs[{i}] 'logprob'"))
        if not tokens:
            raise InputError(f"{where}: 'top_logprobs' is empty", hint="request top_logprobs=K with K >= 1")
        return (*_listed(tokens, logprobs, where), actual_text, _unlisted_count(logprobs))
    if "token" in item or "logprob" in item or "choices" in item:
        raise InputError(
            f"{where}: has no 'top_logprobs'",
            hint="request log-probabilities with top_logprobs=K (K >= 1)",
        )
    if not item:
        raise InputError(f"{where}: is an empty object", hint="expected {token: logprob, …}")
    tokens, logprobs = _flat(item, where)
    return (*_listed(tokens, logprobs, where), None, _unlisted_count(logprobs))


def _actual_logprob(
    item: Any, actual: str | None, tokens: list[str], logprobs: list[float], label: str, place: str
) -> float | None:
    """The sampled token's log-probability: the item's own ``logprob``, else its entry in the list."""
    if actual is None:
        return None
    if isinstance(item, dict) and item.get("logprob") is not None:
        return json_number(item["logprob"], f"{label}: {place}, 'logprob'")
    for token, logprob in zip(tokens, logprobs, strict=True):
        if token == actual:
            return logprob
    return None


def _flat(item: dict[str, Any], where: str) -> tuple[list[str], list[float]]:
    """``{token: logprob, …}``: the tokens and their log-probabilities."""
    return [str(k) for k in item], [json_number(v, f"{where}, {clip(str(k))!r}") for k, v in item.items()]


def _not_listed(logprob: float) -> bool:
    return logprob < NOT_LISTED_BELOW  # nan compares False: left for the core to reject


def _unlisted_count(logprobs: list[float]) -> int:
    return sum(1 for lp in logprobs if _not_listed(lp))


def _listed(tokens: list[str], logprobs: list[float], where: str) -> tuple[list[str], list[float]]:
    """The entries that are in the list: placeholders below NOT_LISTED_BELOW left out."""
    kept = [(t, lp) for t, lp in zip(tokens, logprobs, strict=True) if not _not_listed(lp)]
    if not kept:
        raise InputError(
            f"{where}: every top_logprobs entry is below {NOT_LISTED_BELOW:g}, an API's placeholder "
            "for 'not in the list'",
            hint="this position has no top-k list",
        )
    return [t for t, _ in kept], [lp for _, lp in kept]


def dropped_note(counts: dict[str, int]) -> str | None:
    """One note for the placeholder entries left out of each source (None: none were)."""
    found = [f"{count} in {label}" for label, count in counts.items() if count]
    if not found:
        return None
    return (
        f"top_logprobs entries below {NOT_LISTED_BELOW:g} left out as not in the list "
        f"(APIs write such values, OpenAI -9999.0, for a token they do not list): {', '.join(found)}"
    )
