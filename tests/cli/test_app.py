"""What every command shares: sources (stdin, inline lists, every format and --as kind), usage and
input errors as one line with exit 2, unknown options and choices, notes on stderr."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import math
import zlib
from pathlib import Path

import numpy as np
import pytest
from scipy.special import log_softmax, rel_entr
from scipy.stats import entropy as scipy_entropy

from tests.conftest import CliEnv

# --- stdin ------------------------------------------------------------------------------------


def test_stdin_is_read_when_piped(env: CliEnv, examples: Path) -> None:
    text = (examples / "model_a.csv").read_text()
    piped = env.run(["entropy", "--value"], input=text)
    dash = env.run(["entropy", "-", "--value"], input=text)
    from_file = env.run(["entropy", str(examples / "model_a.csv"), "--value"])
    assert piped.stdout == dash.stdout == from_file.stdout
    assert piped.exit_code == 0


def test_stdin_as_q(env: CliEnv, examples: Path) -> None:
    text = (examples / "model_b.jsonl").read_text()
    result = env.run(["kl", str(examples / "model_a.csv"), "-", "--value"], input=text)
    assert result.exit_code == 0
    assert float(result.stdout) == pytest.approx(0.0024102138714277173, rel=1e-15)


def test_no_source_on_a_terminal_exits_2_at_once(env: CliEnv) -> None:
    env.stdin_is_terminal = True
    result = env.run(["entropy"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "xent: error: no input: give a file, an inline list like 0.5,0.5, or pipe data on stdin "
        "(see xent --help)\n"
    )


# --- inline lists -----------------------------------------------------------------------------


def test_negative_inline_logits(env: CliEnv) -> None:
    result = env.run(["kl", "-1,2,0.5", "0,0,0", "--as", "logits", "--value"])
    assert result.exit_code == 0, result.output
    p = np.exp(log_softmax([-1.0, 2.0, 0.5]))
    assert float(result.stdout) == pytest.approx(float(np.sum(rel_entr(p, np.full(3, 1 / 3)))), rel=1e-14)


@pytest.mark.parametrize(
    "args",
    [
        ["kl", "0,0,0", "-1,2,0.5", "--as", "logits"],
        ["kl", "--as", "logits", "-1,2,0.5", "-0.5,-0.5,0"],
        ["kl", "-1,2,0.5", "--as", "logits", "-0.5,-0.5,0", "--bits"],
        ["entropy", "-inf,0", "--as", "logprobs"],
    ],
)
def test_negative_lists_anywhere_keep_their_order(env: CliEnv, args: list[str]) -> None:
    result = env.run([*args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    values = [a for a in args if a[0].isdigit() or (a[0] == "-" and (a[1:2].isdigit() or a[1:4] == "inf"))]
    assert list(doc["sources"].values()) == values


def test_a_negative_option_value_stays_an_option_value(env: CliEnv) -> None:
    result = env.run(["loss", "0.2,0.8", "--target", "1", "--ignore-label", "-100", "--value"])
    assert result.exit_code == 0, result.output
    assert float(result.stdout) == pytest.approx(-math.log(0.8), rel=1e-15)
    above = env.run(["kl", "-1,2", "0,0", "--as", "logits", "--fail-above", "-1", "--value"])
    assert above.exit_code == 1


@pytest.mark.parametrize("text", ["[0.5,0.5]", "[0.25, 0.75]", " [ 1e-1 , 0.9 ] "])
def test_json_list_inline(env: CliEnv, text: str) -> None:
    values = json.loads(text)
    result = env.run(["entropy", text, "--value"])
    assert result.exit_code == 0, result.output
    expected = -sum(v * math.log(v) for v in values)
    assert float(result.stdout) == pytest.approx(expected, rel=1e-15)


def test_json_list_inline_ignores_decimal_comma(env: CliEnv) -> None:
    result = env.run(["entropy", "[0.5,0.5]", "--decimal", ",", "--bits", "--value"])
    assert (result.exit_code, result.stdout) == (0, "1.0\n")


def test_json_list_next_to_a_plain_list(env: CliEnv) -> None:
    result = env.run(["kl", "[0.5, 0.5]", "0.9,0.1", "--value"])
    assert float(result.stdout) == pytest.approx(math.log(5 / 3), rel=1e-15)


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["entropy", "0.3", "0.7"], "xent entropy 0.3,0.7"),
        (["entropy", "0.3,", "0.7"], "xent entropy 0.3,0.7"),
        (["entropy", "0.2", "0.3", "0.5", "--bits"], "xent entropy 0.2,0.3,0.5"),
        (["kl", "0.5", "0.5", "0.9", "0.1"], "xent kl 0.5,0.5 0.9,0.1"),
    ],
)
def test_numbers_with_spaces_get_a_hint(env: CliEnv, args: list[str], hint: str) -> None:
    result = env.run(args)
    assert result.exit_code == 2
    assert result.stderr.startswith("xent: error: ")
    assert result.stderr.count("\n") == 1
    assert hint in result.stderr


# --- usage and input errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (
            ["entropy", "0.5,0.6"],
            "xent: error: 0.5,0.6: row 1: values sum to 1.1, not 1 (use --normalize to rescale)\n",
        ),
        (
            ["entropy", "0.5,-0.5"],
            "xent: error: 0.5,-0.5: row 1, column 2: value -0.5 is negative "
            "(probabilities and weights must be >= 0; for raw scores use --as logits)\n",
        ),
        (
            ["entropy", "nothere.csv"],
            "xent: error: nothere.csv: no such file "
            "(an inline distribution is written like 0.25,0.75 or cat=0.25,dog=0.75)\n",
        ),
        (
            ["kl", "0.5,0.5", "0.2,0.3,0.5"],
            "xent: error: 0.5,0.5 has 2 outcomes but 0.2,0.3,0.5 has 3 (both sources need the same outcomes)\n",
        ),
        (
            ["kl", "a=0.5,b=0.5", "a=0.5,c=0.5"],
            "xent: error: a=0.5,b=0.5 and a=0.5,c=0.5 have different outcomes "
            "(only in a=0.5,b=0.5: 'b'; only in a=0.5,c=0.5: 'c') (outcome columns are matched by name)\n",
        ),
        (["kl", "-", "-"], "xent: error: only one source can be stdin ('-')\n"),
        (
            ["entropy", "0.5,0.5", "--base", "1"],
            "xent: error: --base '1' is not a valid base (use e, 2, 10 or a positive number other than 1)\n",
        ),
        (
            ["entropy", "0.5,0.5", "--normalize", "--as", "logits"],
            "xent: error: --normalize means --as weights; it cannot be combined with --as logits\n",
        ),
        (
            ["entropy", "0.5,0.5", "--json", "--csv"],
            "xent: error: choose one output format: --format, --json or --csv\n",
        ),
        (
            ["kl", "0.5,0.5", "1,0", "--smooth", "-1"],
            "xent: error: --smooth -1.0: must be a finite number >= 0\n",
        ),
        (
            ["entropy", "0.5,0.5", "--tolerance", "-1"],
            "xent: error: --tolerance -1.0: must be a number >= 0\n",
        ),
        (["entropy", "0.5,0.5", "--decimal", ";"], "xent: error: --decimal ';' is not one of '.', ','\n"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(env: CliEnv, args: list[str], stderr: str) -> None:
    result = env.run(args)
    assert result.exit_code == 2
    assert result.stderr == stderr
    assert result.stdout == ""


def test_unknown_option_is_one_line(env: CliEnv) -> None:
    result = env.run(["entropy", "0.5,0.5", "--bogus"])
    assert result.exit_code == 2
    assert result.stderr.startswith("xent: error: No such option: --bogus")
    assert result.stderr.endswith("(see 'xent entropy --help')\n")
    assert result.stderr.count("\n") == 1


def test_unknown_option_is_still_an_error(env: CliEnv) -> None:
    result = env.run(["kl", "-1,2", "0,0", "--as", "logits", "--frobnicate"])
    assert result.exit_code == 2
    assert "No such option: --frobnicate" in result.stderr


def test_bad_choice_is_one_line(env: CliEnv) -> None:
    result = env.run(["entropy", "0.5,0.5", "--as", "counts"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "'counts' is not one of" in result.stderr


def test_file_errors_name_file_row_and_column(env: CliEnv, tmp_path: Path) -> None:
    q = tmp_path / "q.csv"
    q.write_text("id,cat,dog\nr1,0.5,0.5\nr2,0.6,0.33\n")
    result = env.run(["kl", "0.5,0.5", str(q)])
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"xent: error: {q}: row 2 (line 3): values sum to 0.93, not 1 (use --normalize to rescale)\n"
    )


def test_notes_go_to_stderr(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,label,a,b\nr1,x,0.5,0.5\n")
    result = env.run(["entropy", str(path), "--value"])
    assert result.stdout == f"{math.log(2)!r}\n"
    assert result.stderr == (
        f"xent: note: {path}: column 'label' holds labels, not outcomes: left out "
        "(--columns to choose the outcomes)\n"
    )


# --- every input format and every --as kind against SciPy -------------------------------------


KINDS = ["probs", "weights", "logits", "logprobs"]


FORMATS = ["csv", "tsv", "json", "jsonl", "npy", "csv.gz", "json.bz2", "jsonl.xz"]


def _encode(values: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "weights":
        return values * rng.uniform(1, 100, size=(values.shape[0], 1))
    if kind == "logits":
        return np.log(values) + rng.normal(size=(values.shape[0], 1))
    if kind == "logprobs":
        return np.log(values)
    return values


def _write(path: Path, array: np.ndarray, fmt: str) -> None:
    base = fmt.split(".")[0]
    names = ["a", "b", "c", "d"]
    if base == "npy":
        np.save(path, array)
        return
    if base in ("csv", "tsv"):
        sep = "," if base == "csv" else "\t"
        text = sep.join(names) + "\n" + "".join(sep.join(repr(float(v)) for v in row) + "\n" for row in array)
    elif base == "json":
        text = json.dumps([dict(zip(names, map(float, row), strict=True)) for row in array])
    else:
        text = "".join(json.dumps(list(map(float, row))) + "\n" for row in array)
    data = text.encode()
    compress = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}
    suffix = fmt.split(".")[1] if "." in fmt else None
    path.write_bytes(compress[suffix](data) if suffix else data)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_and_kind_matches_scipy(env: CliEnv, tmp_path: Path, fmt: str, kind: str) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{fmt}/{kind}".encode()))
    p = rng.dirichlet(np.ones(4), size=6)
    q = rng.dirichlet(np.ones(4), size=6)
    p_path, q_path = tmp_path / f"p.{fmt}", tmp_path / f"q.{fmt}"
    _write(p_path, _encode(p, kind, rng), fmt)
    _write(q_path, _encode(q, kind, rng), fmt)

    def values(*args: str) -> list[float]:
        result = env.run([*args, "--as", kind, "--json"])
        assert result.exit_code == 0, result.stderr
        return [row["value"] for row in json.loads(result.stdout)["rows"]]

    np.testing.assert_allclose(values("entropy", str(p_path)), scipy_entropy(p, axis=1), rtol=1e-12)
    kl = rel_entr(p, q).sum(axis=1)
    np.testing.assert_allclose(values("kl", str(p_path), str(q_path)), kl, rtol=1e-11)
    np.testing.assert_allclose(
        values("cross-entropy", str(p_path), str(q_path)), scipy_entropy(p, axis=1) + kl, rtol=1e-12
    )
