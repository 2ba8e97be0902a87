"""xent_cli.writers: streamed JSON, JSON Lines, CSV and TSV, checked against the json and csv modules."""

from __future__ import annotations

import csv
import io
import json
import math
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd
import pytest

from xent_cli import writers
from xent_cli.errors import OutputError
from xent_cli.results import GateReport, Measure, Result, Unit


def _result(
    values: dict[str, list[float]], ids: list[str] | None = None, numbers: list[int] | None = None
) -> Result:
    measures = [
        Measure(key, key.upper(), np.array(column, dtype=np.float64)) for key, column in values.items()
    ]
    return Result(
        "kl",
        "KL",
        Unit.parse("2"),
        {"p": "p.csv", "q": "é.csv"},
        measures,
        ids=ids,
        row_numbers=None if numbers is None else np.array(numbers, dtype=np.int64),
    )


def _spelled(value: float) -> Any:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _expected_rows(result: Result) -> list[dict[str, Any]]:
    """The rows as the writers document them, one dict per row, built apart from the writers."""
    rows = []
    for i in range(result.count):
        row: dict[str, Any] = {"row": result.row_number(i), "id": result.ids[i] if result.ids else None}
        if len(result.measures) == 1:
            row["value"] = _spelled(float(result.measures[0].values[i]))
        else:
            for m in result.measures:
                row[m.key] = _spelled(float(m.values[i]))
        rows.append(row)
    return rows


CASES = [
    _result({"kl": [0.1, math.inf, math.nan, 5e-324, 1e300]}),
    _result({"kl": [0.25, 1.0]}, ids=["a", 'é\t"\\\n']),
    _result(
        {"kl": [0.1, 0.2, -math.inf], "js": [1.0, 2.5, 3.0]}, ids=["=1+1", "@x", "-3"], numbers=[2, 5, 9]
    ),
    _result({"kl": []}),
]


@pytest.mark.parametrize("result", CASES)
@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_json_is_exactly_what_json_dump_writes(result: Result, ensure_ascii: bool) -> None:
    report = GateReport([])
    out = io.StringIO()
    writers.write_json(result, report, out, ensure_ascii=ensure_ascii)
    document = writers.to_document(result, report, rows=False)
    keys = list(document)
    position = keys.index("summary") + 1
    items = list(document.items())
    expected = dict([*items[:position], ("rows", _expected_rows(result)), *items[position:]])
    assert out.getvalue() == json.dumps(expected, indent=2, allow_nan=False, ensure_ascii=ensure_ascii) + "\n"


@pytest.mark.parametrize("result", CASES)
def test_json_lines_are_what_json_dumps_writes(result: Result) -> None:
    out = io.StringIO()
    writers.write_jsonl(result, out)
    expected = "".join(
        json.dumps(row, allow_nan=False, ensure_ascii=False) + "\n" for row in _expected_rows(result)
    )
    assert out.getvalue() == expected


def test_json_without_rows() -> None:
    out = io.StringIO()
    writers.write_json(CASES[0], None, out, rows=False)
    document = json.loads(out.getvalue())
    assert "rows" not in document
    assert document["summary"]["count"] == 5


def test_rows_span_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writers, "CHUNK_ROWS", 3)
    result = _result({"kl": [float(i) for i in range(10)]}, ids=[f"r{i}" for i in range(10)])
    out = io.StringIO()
    writers.write_json(result, None, out)
    assert json.loads(out.getvalue())["rows"] == _expected_rows(result)
    lines = io.StringIO()
    writers.write_jsonl(result, lines)
    assert [json.loads(line) for line in lines.getvalue().splitlines()] == _expected_rows(result)
    tsv = io.StringIO()
    writers.write_delimited(result, tsv, "\t")
    assert tsv.getvalue().splitlines()[1:] == [f"{i + 1}\tr{i}\t{float(i)!r}" for i in range(10)]


def _tsv_unescape(field: str) -> str:
    """PostgreSQL text format: the inverse of writers.tsv_field."""
    out, i = [], 0
    while i < len(field):
        ch = field[i]
        if ch == "\\":
            nxt = field[i + 1]
            if nxt == "u":
                out.append(chr(int(field[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def test_tsv_escapes_tabs_newlines_and_backslashes() -> None:
    ids = [
        "plain",
        "tab\there",
        "two\nlines",
        "cr\rhere",
        "back\\slash",
        "\\t literally",
        "=cmd|' /C calc'!A0",
    ]
    result = _result({"kl": [0.5] * len(ids)}, ids=ids)
    out = io.StringIO()
    writers.write_delimited(result, out, "\t")
    lines = out.getvalue().split("\n")
    assert lines[-1] == ""
    body = lines[1:-1]
    assert len(body) == len(ids)  # one line per row, whatever the ids hold
    assert all(line.count("\t") == 2 for line in body)
    assert [_tsv_unescape(line.split("\t")[1]) for line in body] == ids
    assert body[1] == "2\ttab\\there\t0.5"


def test_tsv_unicode_escapes_only_for_an_encoding_that_cannot_hold_them() -> None:
    assert writers.tsv_field("café", None) == "café"
    assert writers.tsv_field("café", "latin-1") == "café"
    assert writers.tsv_field("café 😀", "ascii") == "caf\\u00e9 \\U0001f600"
    assert _tsv_unescape(writers.tsv_field("a\tcafé", "ascii")) == "a\tcafé"


def test_csv_quotes_as_rfc_4180_and_keeps_ids_exact() -> None:
    ids = ["comma,here", 'quote"here', "line\nbreak", "=1+1", "+cmd", "-2", "@SUM(A1)", "tab\t"]
    result = _result({"kl": [0.5] * len(ids), "js": [math.inf] * len(ids)}, ids=ids)
    out = io.StringIO()
    writers.write_delimited(result, out, ",")
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["row", "id", "kl_bits", "js_bits"]
    assert [r[1] for r in rows[1:]] == ids
    assert rows[1][2:] == ["0.5", "inf"]
    frame = pd.read_csv(io.StringIO(out.getvalue()), dtype={"id": str}, keep_default_na=False)
    assert frame["id"].tolist() == ids


def test_csv_refuses_ids_its_encoding_cannot_hold_before_writing() -> None:
    result = _result({"kl": [0.5, 0.5]}, ids=["ok", "café"])
    out = io.StringIO()
    with pytest.raises(OutputError, match=r"stdout's encoding \(ascii\) cannot hold the id 'café' of row 2"):
        writers.write_delimited(result, out, ",", encoding="ascii")
    assert out.getvalue() == ""


def test_numbers_are_shortest_round_trip() -> None:
    for value in (0.1, 1 / 3, 5e-324, 1.7976931348623157e308, 1e16, 123456789.0):
        assert float(writers.text_number(value)) == value
        assert writers.text_number(value) == repr(value)
    assert [writers.text_number(v) for v in (math.inf, -math.inf, math.nan)] == ["inf", "-inf", "nan"]


def test_writing_many_rows_holds_a_chunk_not_the_rows() -> None:
    n = 20_000
    result = _result({"kl": np.random.default_rng(0).random(n).tolist()}, ids=[f"row-{i}" for i in range(n)])

    class Discard:
        def write(self, text: str) -> int:
            return len(text)

    for write in (
        lambda: writers.write_json(result, None, Discard()),  # type: ignore[arg-type]
        lambda: writers.write_jsonl(result, Discard()),  # type: ignore[arg-type]
        lambda: writers.write_delimited(result, Discard(), "\t"),  # type: ignore[arg-type]
        lambda: writers.write_delimited(result, Discard(), ","),  # type: ignore[arg-type]
    ):
        result.summary("kl")  # computed once, outside the measurement
        tracemalloc.start()
        try:
            write()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # A dict and a string per row of the whole result hold ~8 MB here; a chunk, under 2 MB.
        assert peak < 4 << 20, peak


def test_csv_without_anything_to_quote_is_what_csv_writes() -> None:
    result = _result({"kl": [0.5, math.inf, 1e-300], "js": [1.0, 2.0, math.nan]}, ids=["a b", "é", "x;y"])
    out = io.StringIO()
    writers.write_delimited(result, out, ",")
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(["row", "id", "kl_bits", "js_bits"])
    writer.writerows([[1, "a b", "0.5", "1.0"], [2, "é", "inf", "2.0"], [3, "x;y", "1e-300", "nan"]])
    assert out.getvalue() == expected.getvalue()
