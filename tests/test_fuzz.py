"""Fuzzing the CLI with corrupted inputs in every format.

Every case must end in one of two ways: exit 0 with a plausible result on
stdout, or exit 2 with exactly one line on stderr starting ``xent: error:`` and
nothing on stdout. Never a traceback, an internal error, or another exit code.

CI runs a bounded, derandomized number of examples per format. A longer run::

    XENT_FUZZ_EXAMPLES=5000 XENT_FUZZ_RANDOM=1 python -m pytest tests/test_fuzz.py
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import math
import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CliEnv

EXAMPLES = int(os.environ.get("XENT_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("XENT_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

WEIRD_CELLS = [
    "",
    " ",
    "NaN",
    "nan",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "1e-400",
    "-0.0",
    "-1",
    "abc",
    "1,5",
    "0,5",
    "0x10",
    "true",
    "null",
    "None",
    '"',
    '""',
    "\x00",
    "é",
    "1e308",
    "5e-324",
    "99999999999999999999999999999999",
    "+0.5",
    ".5",
    "5.",
    "1_000",
    "١",
]


@st.composite
def distributions(draw: st.DrawFn) -> np.ndarray:
    rows = draw(st.integers(1, 6))
    k = draw(st.integers(1, 5))
    weights = draw(st.lists(st.floats(0.01, 1.0), min_size=rows * k, max_size=rows * k))
    matrix = np.array(weights).reshape(rows, k)
    return matrix / matrix.sum(axis=1, keepdims=True)


def render(matrix: np.ndarray, fmt: str) -> bytes:
    names = [f"c{i}" for i in range(matrix.shape[1])]
    if fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        lines = [sep.join(["id", *names])]
        lines += [sep.join([f"r{i}", *(repr(float(v)) for v in row)]) for i, row in enumerate(matrix)]
        return ("\n".join(lines) + "\n").encode()
    if fmt == "json":
        return json.dumps([dict(zip(names, map(float, row), strict=True)) for row in matrix]).encode()
    if fmt == "jsonl":
        return "".join(json.dumps(list(map(float, row))) + "\n" for row in matrix).encode()
    buffer = io.BytesIO()
    np.save(buffer, matrix)
    return buffer.getvalue()


@st.composite
def corrupted(draw: st.DrawFn, fmt: str) -> bytes:
    data = render(draw(distributions()), fmt)
    kind = draw(
        st.sampled_from(
            [
                "none",
                "truncate",
                "insert_bytes",
                "weird_cell",
                "drop_header",
                "duplicate_header",
                "ragged",
                "junk_line",
                "bom_crlf",
                "empty",
                "header_only",
                "compress",
                "wrong_type",
            ]
        )
    )
    if kind == "truncate":
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if kind == "insert_bytes":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    if kind == "weird_cell" and fmt != "npy":
        text = data.decode()
        token = draw(st.sampled_from(WEIRD_CELLS))
        numbers = [i for i, ch in enumerate(text) if ch.isdigit()]
        at = draw(st.sampled_from(numbers))
        end = at
        while end < len(text) and (text[end].isdigit() or text[end] in ".e-"):
            end += 1
        replacement = json.dumps(token) if fmt in ("json", "jsonl") and draw(st.booleans()) else token
        return (text[:at] + replacement + text[end:]).encode("utf-8", "surrogatepass")
    lines = data.split(b"\n")
    if kind == "drop_header" and fmt in ("csv", "tsv"):
        return b"\n".join(lines[1:])
    if kind == "duplicate_header" and fmt in ("csv", "tsv", "jsonl"):
        return b"\n".join([lines[0], *lines])
    if kind == "ragged" and fmt in ("csv", "tsv", "jsonl"):
        row = draw(st.integers(0, max(0, len(lines) - 2)))
        lines[row] = lines[row] + (b",0.5" if draw(st.booleans()) else b"")
        lines[row] = lines[row].rsplit(b",", 1)[0] if draw(st.booleans()) else lines[row]
        return b"\n".join(lines)
    if kind == "junk_line":
        return data + draw(
            st.sampled_from([b"\n\n\n", b"# comment\n", b"1,2,3\n", b"{}\n", b"[]\n", b"\xff\xfe\n"])
        )
    if kind == "bom_crlf" and fmt != "npy":
        return b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n", b"   \n\n"]))
    if kind == "header_only" and fmt in ("csv", "tsv"):
        return lines[0] + b"\n"
    if kind == "compress":
        compressed = draw(st.sampled_from([gzip.compress, bz2.compress]))(data)
        cut = draw(st.integers(len(compressed) // 2, len(compressed)))
        return compressed[:cut]
    if kind == "wrong_type" and fmt == "npy":
        buffer = io.BytesIO()
        np.save(
            buffer,
            draw(st.sampled_from([np.array(["a", "b"]), np.zeros((0, 3)), np.array(3.0), np.ones(4, bool)])),
        )
        return buffer.getvalue()
    return data


def check(env: CliEnv, args: list[str], data: bytes) -> None:
    result = env.run(args, input=data)
    stderr = result.stderr
    assert "Traceback" not in result.output, result.output
    assert "internal error" not in stderr, stderr
    assert result.exit_code in (0, 2), (result.exit_code, stderr)
    if result.exit_code == 2:
        assert result.stdout == "", result.stdout
        assert stderr.startswith("xent: error: "), stderr
        assert stderr.count("\n") == 1 and stderr.endswith("\n"), stderr
        return
    document = json.loads(result.stdout)
    assert document["summary"]["count"] >= 1
    for row in document["rows"]:
        value = row["value"]
        assert isinstance(value, float) or value == 0
        assert 0 <= value <= math.log(64)


FORMATS = ["csv", "tsv", "json", "jsonl", "npy"]


@FUZZ
@given(data=st.data())
def test_fuzz_csv(env: CliEnv, data: st.DataObject) -> None:
    check(env, ["entropy", "--json"], data.draw(corrupted("csv")))


@FUZZ
@given(data=st.data())
def test_fuzz_tsv(env: CliEnv, data: st.DataObject) -> None:
    check(env, ["entropy", "--json", "--input-format", "tsv"], data.draw(corrupted("tsv")))


@FUZZ
@given(data=st.data())
def test_fuzz_json(env: CliEnv, data: st.DataObject) -> None:
    check(env, ["entropy", "--json"], data.draw(corrupted("json")))


@FUZZ
@given(data=st.data())
def test_fuzz_jsonl(env: CliEnv, data: st.DataObject) -> None:
    check(env, ["entropy", "--json", "--input-format", "jsonl"], data.draw(corrupted("jsonl")))


@FUZZ
@given(data=st.data())
def test_fuzz_npy(env: CliEnv, data: st.DataObject) -> None:
    check(env, ["entropy", "--json", "--input-format", "npy"], data.draw(corrupted("npy")))


@FUZZ
@given(data=st.binary(max_size=200))
def test_fuzz_random_bytes(env: CliEnv, data: bytes) -> None:
    check(env, ["entropy", "--json"], data)


@FUZZ
@given(p=st.data())
def test_fuzz_two_sources(env: CliEnv, p: st.DataObject) -> None:
    """A corrupted Q on stdin against a valid P: same contract for kl."""
    check_pair = p.draw(corrupted("csv"))
    result = env.run(["kl", "0.5,0.5", "-", "--json"], input=check_pair)
    assert result.exit_code in (0, 2), result.stderr
    assert "Traceback" not in result.output and "internal error" not in result.stderr
    if result.exit_code == 2:
        assert result.stdout == "" and result.stderr.count("\n") == 1
