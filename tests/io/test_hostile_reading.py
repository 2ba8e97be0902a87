"""Reading under stress: pipes given as paths, stray quotes, wide rows, unbounded inputs,
names too long for the system, huge JSON integers, duplicates, and layouts decided from many rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy

from tests.conftest import CliEnv
from xent_cli.io.sources import resolve

XENT = Path(sys.executable).parent / "xent"
needs_xent = pytest.mark.skipif(not XENT.exists(), reason="the xent command is not installed")


def shell(command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env, "XENT": str(XENT)},
    )


@pytest.fixture(scope="module")
def rows_100k(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(12)
    p = rng.dirichlet(np.ones(3), size=100_000)
    path = tmp_path_factory.mktemp("pipes") / "p.csv"
    path.write_text("a,b,c\n" + "".join(f"{x!r},{y!r},{z!r}\n" for x, y, z in p.tolist()))
    assert path.stat().st_size > 1 << 16
    return path, p


# --- 3. pipes as paths ------------------------------------------------------------------------------


@needs_xent
@pytest.mark.parametrize(
    "command",
    ['"$XENT" entropy <(cat "$FILE") --json', 'cat "$FILE" | "$XENT" entropy /dev/stdin --json'],
    ids=["process-substitution", "dev-stdin"],
)
def test_a_pipe_given_as_a_path_loses_no_row(rows_100k: tuple[Path, np.ndarray], command: str) -> None:
    path, p = rows_100k
    done = shell(command, FILE=str(path))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["summary"]["count"] == 100_000
    assert doc["summary"]["sum"] == pytest.approx(float(np.sum(scipy_entropy(p, axis=1))), rel=1e-12)


@needs_xent
def test_a_named_pipe_is_read_once_and_whole(rows_100k: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, _ = rows_100k
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as out:
            out.write(path.read_bytes())

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    done = subprocess.run(
        [str(XENT), "entropy", str(fifo), "--json"], capture_output=True, text=True, timeout=60, check=False
    )
    writer.join(timeout=10)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["count"] == 100_000


def test_identities_of_paths_shards_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "part-1.csv", tmp_path / "part-2.csv"
    a.write_text("0.5,0.5\n")
    b.write_text("0.5,0.5\n")
    stat_a, stat_b = os.stat(a), os.stat(b)
    assert resolve(str(a), stdin_is_terminal=True).identities() == [(stat_a.st_dev, stat_a.st_ino)]
    shards = resolve(str(tmp_path / "part-*.csv"), stdin_is_terminal=True)
    assert shards.identities() == [(stat_a.st_dev, stat_a.st_ino), (stat_b.st_dev, stat_b.st_ino)]
    assert resolve("0.5,0.5", stdin_is_terminal=True).identities() == []
    with open(a) as handle:
        monkeypatch.setattr(sys, "stdin", handle)
        assert resolve("-", stdin_is_terminal=False).identities() == [(stat_a.st_dev, stat_a.st_ino)]


# --- 6. linear quote scanning -------------------------------------------------------------------------


@needs_xent
def test_a_stray_quote_past_64kb_stays_linear(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    lines = ["a,b"] + ["0.25,0.75"] * 300_000
    lines[10_000] = '0.25,"0.75'
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 3 << 20 - 1
    # The subprocess timeout is a hang guard, not a speed assertion.
    done = subprocess.run(
        [str(XENT), "entropy", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert (
        done.stderr
        == f"xent: error: {path}: line 10001: a quoted field never closes (check for a stray '\"')\n"
    )


def test_quoted_fields_across_block_boundaries(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    body = "".join(f'"r{i}\nx",0.25,0.75\n' for i in range(3000))  # ids with a newline inside quotes
    path.write_text("id,a,b\n" + body)
    result = env.run(["entropy", str(path), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["count"] == 3000


def test_even_quote_cut() -> None:
    from xent_cli.io.delimited import even_quote_cut

    assert even_quote_cut(b"a,b\nc,d\n") == 8
    assert even_quote_cut(b'a,"b\nc",d\ne') == 10
    assert even_quote_cut(b'a,"b\nc,d\n') == 0
    assert even_quote_cut(b'"x"\n"y\n') == 4
    assert even_quote_cut(b'y\nz",1\nw\n', start=2, quotes_before=1) == 9


# --- 8. wide rows ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [20_000, 300_000])
def test_wide_rows_and_a_long_header(env: CliEnv, tmp_path: Path, width: int) -> None:
    rng = np.random.default_rng(width)
    p = rng.dirichlet(np.ones(width), size=2)
    path = tmp_path / "wide.csv"
    header = ",".join(f"tok{i}" for i in range(width))
    assert len(header) > 1 << 16
    path.write_text(header + "\n" + "".join(",".join(map(repr, row)) + "\n" for row in p.tolist()))
    result = env.run(["entropy", str(path), "--json"])
    assert result.exit_code == 0, result.stderr
    np.testing.assert_allclose(
        [r["value"] for r in json.loads(result.stdout)["rows"]], scipy_entropy(p, axis=1), rtol=1e-12
    )


def test_wide_rows_with_ids_and_errors(env: CliEnv, tmp_path: Path) -> None:
    width = 5000
    row = ",".join(["0.0002"] * width)
    path = tmp_path / "wide.csv"
    path.write_text("id," + ",".join(f"t{i}" for i in range(width)) + "\n" + f"a,{row}\nb,{row}\n")
    doc = json.loads(env.run(["entropy", str(path), "--json"]).stdout)
    assert [r["id"] for r in doc["rows"]] == ["a", "b"]
    bad = tmp_path / "bad.csv"
    bad.write_text(path.read_text() + f"c,{row[:-6]}oops\nd,{row},0.1\n")
    result = env.run(["entropy", str(bad)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"xent: error: {bad}: row 3 (line 4), column {width + 1} ('t{width - 1}'): 'oops' is not a number "
        "(outcome columns must hold only numbers)\n"
    )


# --- 9. bounded reads ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "jsonl", "npy"])
def test_dev_zero_forced_to_a_format_ends_at_once(env: CliEnv, fmt: str) -> None:
    result = env.run(["entropy", "/dev/zero", "--input-format", fmt])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    expected = "is not a valid .npy file" if fmt == "npy" else "is not JSON (it starts with byte 0x00)"
    assert expected in result.stderr


@pytest.mark.parametrize(
    ("fmt", "data", "variable", "message"),
    [
        (
            "json",
            b"[" + b" " * (3 << 20),
            "XENT_MAX_DOCUMENT_BYTES",
            "is larger than 1 MiB, the most one JSON document",
        ),
        ("jsonl", b"[" + b" " * (3 << 20), "XENT_MAX_LINE_BYTES", "line 1 is longer than 1 MiB"),
        ("csv", b"0.5," + b"1" * (3 << 20), "XENT_MAX_LINE_BYTES", "line 1 is longer than 1 MiB"),
    ],
)
def test_limits_are_named_and_overridable(
    env: CliEnv, fmt: str, data: bytes, variable: str, message: str
) -> None:
    result = env.run(["entropy", "--input-format", fmt], input=data, **{variable: "1M"})
    assert result.exit_code == 2
    assert message in result.stderr and variable in result.stderr
    assert result.stderr.count("\n") == 1


def test_labels_from_dev_zero(env: CliEnv) -> None:
    result = env.run(["loss", "0.5,0.5", "--target", "/dev/zero", "--input-format", "json"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


def test_a_bad_limit_setting_is_a_usage_error(env: CliEnv) -> None:
    result = env.run(["entropy", "-"], input="0.5,0.5\n", XENT_MAX_LINE_BYTES="lots")
    assert result.exit_code == 2
    assert result.stderr == "xent: error: XENT_MAX_LINE_BYTES='lots': give a number of bytes, like 64M\n"


# --- 11. names too long, huge integers ---------------------------------------------------------------------------


def test_inline_lists_longer_than_a_file_name(env: CliEnv) -> None:
    values = ",".join(["0.001"] * 1000)
    assert len(values) > 255
    result = env.run(["entropy", values, "--value"])
    assert result.exit_code == 0, result.stderr
    assert float(result.stdout) == pytest.approx(np.log(1000), rel=1e-12)
    target = ",".join(["1"] * 300)
    loss = env.run(["loss", ",".join(["0.5;0.5"] * 1), "--target", target])
    assert loss.exit_code == 2 and "File name too long" not in loss.stderr and "internal" not in loss.stderr


def test_json_integers_over_4300_digits(env: CliEnv) -> None:
    result = env.run(["entropy", "--input-format", "json"], input=b"[[1, " + b"9" * 5000 + b"]]")
    assert result.exit_code == 2
    assert result.stderr.startswith("xent: error: <stdin>: row 1, column 2: 9999")
    assert result.stderr.endswith("is too large for a float64\n")


# --- 14. duplicates ----------------------------------------------------------------------------------------------


def test_duplicate_json_keys(env: CliEnv) -> None:
    result = env.run(["entropy"], input='{"a": 0.5, "a": 0.5, "b": 0.5}')
    assert result.exit_code == 2
    assert (
        result.stderr == "xent: error: <stdin>: key 'a' appears twice in one object (keys must be unique)\n"
    )
    lines = env.run(
        ["entropy", "--input-format", "jsonl"], input='{"a": 0.5, "b": 0.5}\n{"a": 0.5, "a": 0.5}\n'
    )
    assert (
        lines.stderr
        == "xent: error: <stdin>: line 2: key 'a' appears twice in one object (keys must be unique)\n"
    )


def test_duplicate_columns_option(env: CliEnv) -> None:
    result = env.run(["entropy", "--columns", "a,a"], input="a,b\n0.5,0.5\n")
    assert result.exit_code == 2
    assert result.stderr == "xent: error: --columns 'a,a': names 'a' more than once\n"


def test_duplicate_label_ids_with_id(env: CliEnv, tmp_path: Path) -> None:
    pred, labels = tmp_path / "p.csv", tmp_path / "y.csv"
    pred.write_text("id,a,b\nx,0.7,0.3\ny,0.4,0.6\n")
    labels.write_text("id,label\nx,a\ny,b\nx,b\n")
    result = env.run(["loss", str(pred), "--target", str(labels), "--id", "id"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"xent: error: {labels}: row 3 (line 4): id 'x' appears more than once (first at row 1) "
        "(ids must be unique to join on)\n"
    )


# --- 15. layout from many rows ---------------------------------------------------------------------------------------


def test_a_word_in_the_first_data_row_is_an_error_not_an_id(env: CliEnv) -> None:
    result = env.run(["entropy"], input="a,b\noops,0.5\n0.3,0.5\n")
    assert result.exit_code == 2
    assert result.stderr == (
        "xent: error: <stdin>: row 1 (line 2), column 1 ('a'): 'oops' is not a number "
        "(outcome columns must hold only numbers)\n"
    )


def test_head_of_a_pandas_file_gives_the_same_numbers(env: CliEnv) -> None:
    text = ",cat,dog\n0,0.2,0.8\n1,0.5,0.5\n2,0.9,0.1\n"
    whole = json.loads(env.run(["entropy", "--json"], input=text).stdout)
    head = json.loads(env.run(["entropy", "--json"], input="".join(text.splitlines(True)[:2])).stdout)
    assert head["rows"][0]["value"] == whole["rows"][0]["value"] == pytest.approx(scipy_entropy([0.2, 0.8]))
