r"""Writers for programs: JSON, JSON Lines, CSV, TSV and the bare headline number.

Machine formats are stable: JSON follows ``schema_version`` 1, numbers are
written with Python's shortest round-trip repr, and non-finite values are the
strings ``"inf"``, ``"-inf"`` and ``"nan"`` so that strict parsers (jq) accept them.

Per-row output streams: rows are formatted a chunk at a time straight from
the result's per-row arrays, so writing a million rows holds a chunk's worth
of text, never a dict or a string per row of the whole result.

Cells
-----
* CSV quotes as RFC 4180 does (a field holding ``,`` ``"`` or a line break is
  quoted, ``"`` doubled); nothing else is changed.
* TSV escapes as PostgreSQL's text format does: ``\\`` for a backslash,
  ``\t``, ``\n`` and ``\r`` for a tab, line feed and carriage return inside a
  field, so every line is one row and every tab a field boundary.
* Ids starting with ``=``, ``+``, ``-`` or ``@`` are written as they are, in
  both: these files are data for programs, and an id must come back exactly
  as it went in (a spreadsheet should import them as text).
* For an output stream whose encoding is not UTF (``PYTHONIOENCODING=ascii``,
  a C locale), JSON and JSON Lines escape non-ASCII characters (``\u00e9``,
  still exact JSON), TSV writes ``\uXXXX`` (``\UXXXXXXXX``) for a character
  the encoding cannot hold, and CSV, which has no escapes, refuses before
  writing anything (:class:`~xent_cli.errors.OutputError`).
"""

from __future__ import annotations

import codecs
import csv
import json
import math
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any, Literal, TextIO

from xent_cli.errors import OutputError, option
from xent_cli.results import Explanation, GateReport, Result

OutputFormat = Literal["auto", "table", "json", "jsonl", "csv", "tsv", "markdown"]
SCHEMA_VERSION = 1
# Rows formatted at a time: large enough to amortize Python's per-call cost.
CHUNK_ROWS = 1 << 12


def json_number(value: float) -> float | str:
    """A float as JSON allows it: non-finite values become strings."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def text_number(value: float) -> str:
    """Full precision for CSV/TSV/--value: shortest repr that round-trips (``inf``, ``-inf``, ``nan``)."""
    return repr(float(value))


def jsonable(value: Any) -> Any:
    """Nested data with every non-finite float spelled as a string (small documents only)."""
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def is_unicode(encoding: str | None) -> bool:
    """True for UTF-8/16/32 (and unknown encodings' absence): every character can be written."""
    if not encoding:
        return True
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False


# --- the JSON document ------------------------------------------------------------------------


def _summary(result: Result) -> dict[str, Any]:
    """Every summary statistic, always (for one row, min = max = mean = sum); ``ci`` with --ci."""
    if result.calibration is not None:  # calibration's statistics are of the whole input
        from xent_cli.results import summary_document

        return summary_document(result.calibration)
    intervals = result.intervals or {}

    def fields(key: str) -> dict[str, Any]:
        found: dict[str, Any] = dict(result.summary(key))
        if key in intervals:
            found["ci"] = list(intervals[key])
        return found

    if not result.by_measure:
        return fields(result.headline.key)
    return {m.key: fields(m.key) for m in result.measures}


def _weights(weights: Any) -> dict[str, Any]:
    """What the JSON says of ``--weights``: their total, the rows they leave out, the percentile method."""
    return {
        "total": math.fsum(weights.tolist()),
        "zero_rows": int((weights == 0).sum()),
        "percentiles": "inverted_cdf",
    }


def _explanation(explanation: Explanation) -> dict[str, Any]:
    return explanation.to_dict()


def _document(result: Result, report: GateReport | None, rows: object, worst: int = 0) -> dict[str, Any]:
    """The JSON document (schema version 1) with ``rows`` as given (None: left out)."""
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "command": result.command,
        "unit": result.unit.name,
        "base": result.unit.base,
        "sources": result.sources,
    }
    document["summary"] = _summary(result)
    if result.weights is not None:
        document["weights"] = _weights(result.weights)
    elif result.weight_facts is not None:
        document["weights"] = dict(result.weight_facts)
    if result.bootstrap is not None:
        document["bootstrap"] = result.bootstrap
    if rows is not None:
        document["rows"] = rows
    if worst:
        document["worst"] = [asdict(row) for row in result.worst_rows(worst)]
    if result.panel is not None:
        document["panel"] = result.panel
    if result.smoothing is not None:
        document["smoothing"] = asdict(result.smoothing)
    if result.loss is not None:
        document["loss"] = asdict(result.loss)
    if result.info is not None:
        info = asdict(result.info)
        joint = info.pop("joint")
        document["info"] = info
        if joint is not None:
            document["joint"] = joint
    if result.samples is not None:
        document["samples"] = asdict(result.samples)
    if result.calibration is not None:
        calibration = result.calibration
        document["bins"] = calibration.bins
        document["calibration"] = {
            "top_label": "confidence = max p; correct = (argmax p = y)",
            "n_bins": calibration.n_bins,
            "strategy": calibration.strategy,
            "brier": "as sklearn.metrics.brier_score_loss (two classes: (p1 - y)^2)",
            **({"classwise": calibration.classwise} if calibration.classwise is not None else {}),
        }
    if result.layouts:
        document["layout"] = result.layouts
    if report is not None:
        document["gate"] = report.to_dict()
        if report.baseline is not None:
            document["baseline"] = report.baseline.to_dict()
    if result.explanation is not None:
        document["explain"] = _explanation(result.explanation)
    return jsonable(document)  # type: ignore[no-any-return]


def to_document(
    result: Result, report: GateReport | None = None, *, rows: bool = True, worst: int = 0
) -> dict[str, Any]:
    """The JSON document as Python data (for small results and tests; :func:`write_json` streams)."""
    listed = None
    if rows:
        listed = [json.loads(line) for chunk in _jsonl_chunks(result, ensure_ascii=False) for line in chunk]
    return _document(result, report, listed, worst)


def write_json(
    result: Result,
    report: GateReport | None,
    out: TextIO,
    *,
    rows: bool = True,
    ensure_ascii: bool = False,
    worst: int = 0,
) -> None:
    """The JSON document, indented; ``rows`` False leaves the per-row list out (``--rows 0``).

    The document around the rows is small and written by ``json``; the rows
    stream in chunks into the place a marker holds, laid out exactly as
    ``json.dump(..., indent=2)`` would lay them out.
    """
    if not rows:
        text = json.dumps(
            _document(result, report, None, worst), indent=2, allow_nan=False, ensure_ascii=ensure_ascii
        )
        out.write(text + "\n")
        return
    marker = f"xent-rows-{uuid.uuid4().hex}"
    text = json.dumps(
        _document(result, report, marker, worst), indent=2, allow_nan=False, ensure_ascii=ensure_ascii
    )
    head, tail = text.split(f'"{marker}"', 1)
    out.write(head)
    if result.count == 0:
        out.write("[]")
    else:
        out.write("[\n")
        first = True
        for chunk in _json_row_chunks(result, ensure_ascii):
            if not first:
                out.write(",\n")
            out.write(",\n".join(chunk))
            first = False
        out.write("\n  ]")
    out.write(tail + "\n")


def write_jsonl(result: Result, out: TextIO, *, ensure_ascii: bool = False) -> None:
    """One JSON object per row: ``{"row": 1, "id": …, "value": …}``."""
    for chunk in _jsonl_chunks(result, ensure_ascii):
        out.write("\n".join(chunk))
        out.write("\n")


# --- rows, a chunk at a time -------------------------------------------------------------------


def _row_chunks(
    result: Result, size: int = CHUNK_ROWS
) -> Iterator[tuple[Sequence[int], list[str] | None, list[list[str]], list[list[bool]]]]:
    """Row numbers, ids (or None), each measure's values as text, and where they are not finite.

    ``size`` rows at a time. Values are ``repr`` (shortest round trip: ``inf``,
    ``-inf`` and ``nan`` for the non-finite); the flags say which those are, for
    JSON, which quotes them.
    """
    import numpy as np

    from xent_cli.columns.spill import release

    # One block for a result held here; shard after shard as they arrive from Dask workers.
    for rows in result.row_blocks():
        n = rows.count
        for start in range(0, n, size):
            stop = min(n, start + size)
            if rows.numbers is not None:
                numbers: Sequence[int] = rows.numbers[start:stop].tolist()
            else:
                numbers = range(rows.start + start + 1, rows.start + stop + 1)
            ids = rows.ids[start:stop] if rows.ids else None
            texts, odd = [], []
            for values in rows.values:
                block = values[start:stop]
                texts.append(list(map(repr, block.tolist())))
                finite = np.isfinite(block)
                odd.append([] if finite.all() else (~finite).tolist())
                release(block)  # a spilled column's pages go back to the kernel as they are written
            yield numbers, ids, texts, odd


def _value_keys(result: Result) -> list[str]:
    return [m.key for m in result.measures] if result.by_measure else ["value"]


def _json_values(texts: list[list[str]], odd: list[list[bool]]) -> list[list[str]]:
    """Value texts as JSON: the non-finite ones quoted."""
    for column, flags in zip(texts, odd, strict=True):
        if flags:
            for i, flag in enumerate(flags):
                if flag:
                    column[i] = f'"{column[i]}"'
    return texts


def _row_template(result: Result, quote: Any, *, indented: bool) -> str:
    """A %-template of one row: row number, id, then each value."""
    keys = [quote(key).replace("%", "%%") for key in _value_keys(result)]
    if indented:  # as json.dump(indent=2) lays out a row inside the document
        fields = ['"row": %d', '"id": %s', *(f"{key}: %s" for key in keys)]
        return "    {\n      " + ",\n      ".join(fields) + "\n    }"
    fields = ['"row": %d', '"id": %s', *(f"{key}: %s" for key in keys)]
    return "{" + ", ".join(fields) + "}"


def _json_row_chunks(result: Result, ensure_ascii: bool, *, indented: bool = True) -> Iterator[list[str]]:
    """Rows as JSON text, one string per row."""
    quote = encode_basestring_ascii if ensure_ascii else encode_basestring
    template = _row_template(result, quote, indented=indented)
    for numbers, ids, texts, odd in _row_chunks(result):
        values = _json_values(texts, odd)
        id_texts = list(map(quote, ids)) if ids is not None else ["null"] * len(numbers)
        yield [template % row for row in zip(numbers, id_texts, *values, strict=True)]


def _jsonl_chunks(result: Result, ensure_ascii: bool) -> Iterator[list[str]]:
    """Rows as ``json.dumps`` writes them on one line each."""
    return _json_row_chunks(result, ensure_ascii, indented=False)


# --- CSV and TSV ---------------------------------------------------------------------------------


def column_name(result: Result, index: int) -> str:
    measure = result.measures[index]
    if not result.by_measure:
        return f"{result.command.replace('-', '_')}_{_unit_slug(result)}"
    return f"{measure.key}_{_unit_slug(result)}" if measure.in_unit else measure.key


def _unit_slug(result: Result) -> str:
    return result.unit.name.replace("-", "_")


# What makes csv quote a field (QUOTE_MINIMAL with "," and "\n").
_CSV_SPECIAL = re.compile(r'[,"\r\n]')
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def tsv_field(text: str, encoding: str | None = None) -> str:
    r"""A TSV field: ``\\``, ``\t``, ``\n``, ``\r`` escaped (PostgreSQL's text format).

    With an ``encoding`` that cannot hold a character, that character is written
    as ``\uXXXX`` (or ``\UXXXXXXXX``).

    >>> tsv_field("a\tb\\c")
    'a\\tb\\\\c'
    >>> tsv_field("café", "ascii")
    'caf\\u00e9'
    """
    escaped = text.translate(_TSV_ESCAPES)
    if encoding is None or escaped.isascii():
        return escaped
    try:
        escaped.encode(encoding)
    except UnicodeEncodeError:
        return "".join(ch if _encodable(ch, encoding) else _unicode_escape(ch) for ch in escaped)
    return escaped


def _encodable(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _unicode_escape(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def check_encodable(result: Result, encoding: str) -> None:
    """Refuse, before anything is written, ids that ``encoding`` cannot hold (CSV has no escapes)."""
    for index, text in enumerate(result.ids or []):
        if text.isascii():
            continue
        try:
            text.encode(encoding)
        except UnicodeEncodeError as exc:
            raise OutputError(
                f"stdout's encoding ({encoding}) cannot hold the id {text!r} of row "
                f"{result.row_number(index)} ({exc.reason})",
                hint=f"use {option('format')} tsv or json, which escape it, -o FILE (always UTF-8), "
                "or set PYTHONIOENCODING=utf-8",
            ) from None


def write_delimited(result: Result, out: TextIO, delimiter: str, *, encoding: str | None = None) -> None:
    """A header line, then one line per row: ``row``, ``id``, then each measure.

    ``delimiter`` ``,`` is CSV (RFC 4180 quoting), a tab is TSV (escapes, see the
    module). ``encoding``: the output's, when it is not UTF.
    """
    header = ["row", "id"] + [column_name(result, i) for i in range(len(result.measures))]
    if delimiter == "\t":
        out.write("\t".join(header) + "\n")
        for numbers, ids, texts, _ in _row_chunks(result):
            id_texts = [tsv_field(i, encoding) for i in ids] if ids is not None else [""] * len(numbers)
            lines = map("\t".join, zip(map(str, numbers), id_texts, *texts, strict=True))
            out.write("\n".join(lines) + "\n")
        return
    if encoding is not None:
        check_encodable(result, encoding)
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    for numbers, ids, texts, _ in _row_chunks(result):
        id_cells = ids if ids is not None else [""] * len(numbers)
        if ids is None or not any(_CSV_SPECIAL.search(i) for i in ids):
            # Nothing to quote (numbers never need it): joined directly, as csv would write them.
            lines = map(delimiter.join, zip(map(str, numbers), id_cells, *texts, strict=True))
            out.write("\n".join(lines) + "\n")
        else:
            writer.writerows(zip(numbers, id_cells, *texts, strict=True))


def write_value(result: Result, out: TextIO) -> None:
    out.write(text_number(result.headline_value()) + "\n")
