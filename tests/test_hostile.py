"""Hostile input, by name: each gets one precise line and exit 2, or is read correctly."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CliEnv


def run_file(env: CliEnv, tmp_path: Path, name: str, data: bytes, *args: str) -> tuple[int, str, str]:
    path = tmp_path / name
    path.write_bytes(data)
    result = env.run(["entropy", str(path), *args])
    return result.exit_code, result.stdout, result.stderr.replace(str(path), name)


def test_deeply_nested_json(env: CliEnv, tmp_path: Path) -> None:
    code, out, err = run_file(env, tmp_path, "deep.json", b"[" * 100_000 + b"]" * 100_000)
    assert (code, out, err) == (2, "", "xent: error: deep.json: document: JSON nested too deeply\n")


def test_integer_too_large_for_float64(env: CliEnv, tmp_path: Path) -> None:
    code, _, err = run_file(env, tmp_path, "big.json", b"[[1, " + b"9" * 400 + b"]]")
    assert code == 2
    assert err.startswith("xent: error: big.json: row 1, column 2: 9999")
    assert err.endswith("is too large for a float64\n")


def test_gzip_truncated_past_the_sniffed_head(env: CliEnv, tmp_path: Path) -> None:
    rows = "".join(f"{i / 200000},{1 - i / 200000}\n" for i in range(200_000)).encode()
    code, out, err = run_file(env, tmp_path, "t.csv.gz", gzip.compress(rows)[:300_000])
    assert (code, out) == (2, "")
    assert err == (
        "xent: error: t.csv.gz: cannot decompress: Compressed file ended before the end-of-stream marker "
        "was reached (the file may be truncated or corrupt)\n"
    )


def test_utf16_with_bom_is_read(env: CliEnv, tmp_path: Path) -> None:
    data = "a,b\n0.5,0.5\n".encode("utf-16")
    code, out, _ = run_file(env, tmp_path, "u16.csv", data, "--value")
    assert (code, out) == (0, "0.6931471805599453\n")


def test_latin1_needs_its_encoding_named(env: CliEnv, tmp_path: Path) -> None:
    data = "id,p\ncafé,0.5\nthé,0.5\n".encode("latin-1")
    code, out, err = run_file(env, tmp_path, "l1.csv", data)
    assert (code, out) == (2, "")
    assert err == (
        "xent: error: l1.csv: is not UTF-8 text (byte 0xe9) "
        "(name its encoding, e.g. --encoding latin-1 (or cp1252), or convert it with iconv)\n"
    )
    code, out, _ = run_file(env, tmp_path, "l1.csv", data, "--encoding", "latin-1", "--json")
    assert code == 0
    assert json.loads(out)["summary"]["mean"] == pytest.approx(0.6931471805599453)


def test_unknown_encoding(env: CliEnv) -> None:
    result = env.run(["entropy", "-", "--encoding", "bogus"], input="0.5,0.5\n")
    assert result.exit_code == 2
    assert (
        result.stderr == "xent: error: --encoding 'bogus': unknown encoding (e.g. latin-1, cp1252, utf-16)\n"
    )


def test_damaged_npy_header(env: CliEnv, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.full((3, 4), 0.25))
    code, out, err = run_file(env, tmp_path, "a.npy", buffer.getvalue()[:70])
    assert (code, out) == (2, "")
    assert err.startswith("xent: error: a.npy: is not a valid .npy file: ")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a,b\n0.5,0.5\n0.5,NaN\n", "row 2 (line 3), column 2 ('b'): value is missing or NaN"),
        (b"a,b\n0.5,0.5\n0.5,\n", "row 2 (line 3), column 2 ('b'): value is missing or NaN"),
        (b"a,b\n0.5,0.5\n0.5,1e999\n", "row 2 (line 3), column 2 ('b'): value is inf"),
        (b"a,b\n0.5,0.5\na,b\n0.5,0.5\n", "row 2 (line 3), column 1 ('a'): 'a' is not a number"),
        (b"a,b\n0.5,0.5\n0.5,0.5,0.1\n", "line 3: has 3 fields, expected 2"),
        (b"a,a\n0.5,0.5\n", "outcome 'a' appears twice"),
        (b"a,b\n", "has a header but no data rows"),
    ],
)
def test_csv_messages(env: CliEnv, data: bytes, message: str) -> None:
    result = env.run(["entropy"], input=data)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"xent: error: <stdin>: {message}")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[[0.5, 0.5],]", "<stdin>: line 1, column 13: invalid JSON: Expecting value"),
        (b'[[0.5, "0.5"]]', '<stdin>: row 1, column 2: "0.5" is not a number'),
        (b"[[0.5, NaN]]", "<stdin>: row 1, column 2: value is NaN"),
        (b"[[0.5, null]]", "<stdin>: row 1, column 2: null is not a number"),
    ],
)
def test_json_messages(env: CliEnv, data: bytes, message: str) -> None:
    result = env.run(["entropy"], input=data)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"xent: error: {message}")
