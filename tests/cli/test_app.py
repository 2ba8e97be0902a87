"""The command line through CliRunner: exact output, error lines and exit codes."""

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
from scipy.special import rel_entr
from scipy.stats import entropy as scipy_entropy

from tests.conftest import CliEnv

LN_5_3 = 0.5108256237659905  # ln(5/3), as xent computes it (within 1 ulp)


def test_kl_inline_to_a_pipe_is_tsv(env: CliEnv) -> None:
    result = env.run(["kl", "0.5,0.5", "0.9,0.1"])
    assert result.exit_code == 0
    assert result.stdout == f"row\tid\tkl_nats\n1\t\t{LN_5_3!r}\n"
    assert result.stderr == ""


def test_value_prints_only_the_number(env: CliEnv) -> None:
    result = env.run(["entropy", "0.5,0.5", "--bits", "--value"])
    assert (result.exit_code, result.stdout) == (0, "1.0\n")


def test_json_document(env: CliEnv, examples: Path) -> None:
    result = env.run(["kl", str(examples / "model_a.csv"), str(examples / "model_b.csv"), "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1
    assert doc["command"] == "kl"
    assert doc["unit"] == "nats"
    assert doc["base"] == math.e
    assert doc["sources"] == {"p": str(examples / "model_a.csv"), "q": str(examples / "model_b.csv")}
    assert list(doc["summary"]) == ["count", "mean", "min", "p50", "p90", "p99", "max", "sum", "inf_count"]
    assert doc["summary"]["count"] == 12
    assert doc["rows"][0] == {"row": 1, "id": "img-001", "value": pytest.approx(0.0008488594441552987)}
    assert doc["gate"] == {"held": True, "checks": []}


def test_non_finite_values_are_strings_in_json(env: CliEnv) -> None:
    result = env.run(["kl", "0.5,0.5", "1,0", "--json"])
    doc = json.loads(result.stdout)
    assert doc["summary"]["mean"] == "inf"
    assert doc["rows"][0]["value"] == "inf"


def test_csv_and_jsonl_formats(env: CliEnv, examples: Path) -> None:
    p, q = str(examples / "model_a.csv"), str(examples / "model_b.csv")
    lines = env.run(["kl", p, q, "--csv"]).stdout.splitlines()
    assert lines[0] == "row,id,kl_nats"
    assert lines[1].startswith("1,img-001,0.000848859444155")
    assert len(lines) == 13
    rows = [json.loads(line) for line in env.run(["kl", p, q, "-f", "jsonl"]).stdout.splitlines()]
    assert rows[11]["id"] == "img-012"
    assert len(rows) == 12


def test_table_format_shows_title_ids_and_summary(env: CliEnv, examples: Path) -> None:
    result = env.run(["kl", str(examples / "model_a.csv"), str(examples / "model_b.csv"), "-f", "table"])
    out = result.stdout
    assert "KL divergence D(P‖Q) · nats" in out
    assert "img-012" in out
    assert "Summary over 12 rows" in out
    assert "\x1b[" not in out  # no colour when not a terminal


def test_table_rows_limit(env: CliEnv, examples: Path) -> None:
    out = env.run(["entropy", str(examples / "model_a.csv"), "-f", "table", "--rows", "3"]).stdout
    assert "img-003" in out and "img-004" not in out
    assert "9 more rows" in out


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


def test_an_input_file_is_never_modified(env: CliEnv, tmp_path: Path) -> None:
    q = tmp_path / "q.csv"
    q.write_text("0.5,0.5\n")
    before = q.read_bytes()
    result = env.run(["entropy", str(q), "-o", str(q)])
    assert result.exit_code == 2
    assert "is one of the inputs" in result.stderr
    assert q.read_bytes() == before


def test_output_file_is_written_atomically_in_the_format_of_its_extension(
    env: CliEnv, tmp_path: Path
) -> None:
    out = tmp_path / "result.json"
    result = env.run(["kl", "0.5,0.5", "0.9,0.1", "-o", str(out)])
    assert (result.exit_code, result.stdout) == (0, "")
    assert json.loads(out.read_text())["rows"][0]["value"] == LN_5_3
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temp file left


def test_failed_run_leaves_no_output_file(env: CliEnv, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = env.run(["kl", "0.5,0.5", "0.9,0.2", "-o", str(out)])
    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_gates(env: CliEnv) -> None:
    held = env.run(["kl", "0.5,0.5", "0.9,0.1", "--fail-above", "0.6", "--json"])
    assert held.exit_code == 0
    assert json.loads(held.stdout)["gate"]["held"] is True
    broken = env.run(["kl", "0.5,0.5", "0.9,0.1", "--fail-above", "0.5", "--value"])
    assert broken.exit_code == 1
    assert broken.stdout == f"{LN_5_3!r}\n"  # the result is still printed
    assert broken.stderr == f"xent: gate failed: kl mean {LN_5_3!r} > 0.5 (--fail-above 0.5)\n"
    below = env.run(["entropy", "0.5,0.5", "--fail-below", "0.7", "--value"])
    assert below.exit_code == 1
    assert "< 0.7 (--fail-below 0.7)" in below.stderr


def test_inf_fails_an_upper_gate(env: CliEnv) -> None:
    assert env.run(["kl", "0.5,0.5", "1,0", "--fail-above", "1e9"]).exit_code == 1


def test_smoothing_is_reported(env: CliEnv) -> None:
    result = env.run(["kl", "0.5,0.5", "1,0", "--smooth", "0.01", "--json"])
    doc = json.loads(result.stdout)
    assert doc["smoothing"] == {"alpha": 0.01, "applied_to": "q"}
    assert math.isfinite(doc["summary"]["mean"])
    table = env.run(["kl", "0.5,0.5", "1,0", "--smooth", "0.01", "-f", "table"]).stdout
    assert "Q smoothed" in table


def test_cross_entropy_alias_and_two_column_table(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("outcome,p,q\na,0.5,0.25\nb,0.5,0.75\n")
    full = env.run(["cross-entropy", str(path), "--value"])
    alias = env.run(["ce", str(path), "--value"])
    assert full.stdout == alias.stdout
    assert float(full.stdout) == pytest.approx(-0.5 * math.log(0.25) - 0.5 * math.log(0.75), rel=1e-15)


def test_id_join_through_the_cli(env: CliEnv, examples: Path) -> None:
    by_id = env.run(
        ["kl", str(examples / "model_a.csv"), str(examples / "model_b.jsonl"), "--id", "id", "--value"]
    )
    by_position = env.run(["kl", str(examples / "model_a.csv"), str(examples / "model_b.csv"), "--value"])
    assert by_id.exit_code == 0
    assert by_id.stdout == by_position.stdout


def test_notes_go_to_stderr(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,label,a,b\nr1,x,0.5,0.5\n")
    result = env.run(["entropy", str(path), "--value"])
    assert result.stdout == f"{math.log(2)!r}\n"
    assert result.stderr == (
        f"xent: note: {path}: column 'label' holds labels, not outcomes: left out "
        "(--columns to choose the outcomes)\n"
    )


def test_help_is_the_docstring(env: CliEnv) -> None:
    result = env.run(["kl", "--help"])
    assert result.exit_code == 0
    assert "KL divergence D(P‖Q)" in result.stdout
    assert "--fail-above" in result.stdout


# --- every input format and every --as kind against SciPy ---------------------------------

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
