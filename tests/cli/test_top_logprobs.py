"""--as top-logprobs: LLM API top-k lists, compared on their coarsening (a lower bound of the full KL)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CliEnv


def _content_item(tokens: list[str], probs: list[float]) -> dict[str, object]:
    top = [{"token": t, "logprob": math.log(p)} for t, p in zip(tokens, probs, strict=True)]
    return {"token": tokens[0], "logprob": math.log(probs[0]), "top_logprobs": top}


def _coarsened_kl(p: dict[str, float], q: dict[str, float]) -> float:
    """By hand: the tokens in both lists, then one bucket for everything else."""
    shared = [t for t in p if t in q]
    p_vec = [p[t] for t in shared] + [1 - sum(p[t] for t in shared)]
    q_vec = [q[t] for t in shared] + [1 - sum(q[t] for t in shared)]
    return sum(a * math.log(a / b) for a, b in zip(p_vec, q_vec, strict=True) if a > 0)


ROWS_P = [
    {"a": 0.6, "b": 0.2, "c": 0.1},
    {"x": 0.5, "y": 0.3},  # shares only x
    {"m": 0.7, "n": 0.2},  # disjoint from Q's list
]
ROWS_Q = [
    {"a": 0.5, "c": 0.3, "d": 0.1},
    {"y": 0.6, "x": 0.2, "z": 0.1},
    {"u": 0.8, "v": 0.1},
]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    p, q = tmp_path / "p.jsonl", tmp_path / "q.jsonl"
    p.write_text("".join(json.dumps(_content_item(list(r), list(r.values()))) + "\n" for r in ROWS_P))
    # Q as one whole chat-completions response, on one line
    response = {
        "choices": [{"logprobs": {"content": [_content_item(list(r), list(r.values())) for r in ROWS_Q]}}]
    }
    q.write_text(json.dumps(response) + "\n")
    return p, q


def test_kl_of_the_coarsened_pair(env: CliEnv, files: tuple[Path, Path]) -> None:
    p, q = files
    result = env.run(["kl", str(p), str(q), "--as", "top-logprobs", "--json"])
    assert result.exit_code == 0, result.stderr
    assert "lower bound" in result.stderr  # said once, as a note
    doc = json.loads(result.stdout)
    got = [row["kl"] for row in doc["rows"]]
    expected = [_coarsened_kl(a, b) for a, b in zip(ROWS_P, ROWS_Q, strict=True)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[2] == 0.0  # disjoint lists: nothing is known jointly
    outside = [row["p_outside_topk"] for row in doc["rows"]]
    np.testing.assert_allclose(outside, [1 - sum(r.values()) for r in ROWS_P], rtol=1e-12)
    assert doc["layout"]["p"]["format"] == "top-logprobs"


def test_compare_reports_top1_agreement_of_the_lists(env: CliEnv, files: tuple[Path, Path]) -> None:
    p, q = files
    doc = json.loads(env.run(["compare", str(p), str(q), "--as", "top-logprobs", "--json"]).stdout)
    assert [row["top1_agreement"] for row in doc["rows"]] == [1.0, 0.0, 0.0]
    assert doc["panel"]["same_top1"] == pytest.approx(1 / 3)
    assert doc["panel"]["p_outside_topk.mean"] == pytest.approx(
        np.mean([1 - sum(r.values()) for r in ROWS_P])
    )


def test_flat_objects_per_line(env: CliEnv, tmp_path: Path) -> None:
    p, q = tmp_path / "p.jsonl", tmp_path / "q.jsonl"
    p.write_text("".join(json.dumps({t: math.log(v) for t, v in r.items()}) + "\n" for r in ROWS_P))
    q.write_text("".join(json.dumps({t: math.log(v) for t, v in r.items()}) + "\n" for r in ROWS_Q))
    doc = json.loads(env.run(["kl", str(p), str(q), "--as", "top-logprobs", "--json"]).stdout)
    expected = [_coarsened_kl(a, b) for a, b in zip(ROWS_P, ROWS_Q, strict=True)]
    np.testing.assert_allclose([row["kl"] for row in doc["rows"]], expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"token": "a", "logprob": -0.1}', "row 1 (line 1): has no 'top_logprobs'"),
        ('{"top_logprobs": [{"token": "a", "logprob": 0.5}]}', "row 1 (line 1)"),
        ('{"a": -0.1, "b": -0.2}', "row 1 (line 1): top-k probabilities sum to 1.72"),
        ('{"top_logprobs": [{"token": "a"}]}', "row 1 (line 1), top_logprobs[1]: expected an object"),
    ],
)
def test_bad_lines_are_one_error_line(env: CliEnv, tmp_path: Path, line: str, message: str) -> None:
    p, q = tmp_path / "p.jsonl", tmp_path / "q.jsonl"
    p.write_text(line + "\n")
    q.write_text('{"a": -0.1}\n')
    result = env.run(["kl", str(p), str(q), "--as", "top-logprobs"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"xent: error: {p}: {message}")
    assert result.stderr.count("\n") == 1


def test_positions_must_pair(env: CliEnv, files: tuple[Path, Path], tmp_path: Path) -> None:
    p, _ = files
    short = tmp_path / "short.jsonl"
    short.write_text('{"a": -0.1}\n')
    result = env.run(["kl", str(p), str(short), "--as", "top-logprobs"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"xent: error: {p} has 3 token positions but {short} has 1 (top-k rows pair by position)\n"
    )


def test_top_logprobs_need_two_sources(env: CliEnv, files: tuple[Path, Path]) -> None:
    p, _ = files
    result = env.run(["entropy", str(p), "--as", "top-logprobs"])
    assert result.exit_code == 2
    assert result.stderr.startswith("xent: error: --as top-logprobs compares two sources' top-k lists")


# --- API placeholders, read limits and numbers --------------------------------------------------


def test_openai_placeholders_are_not_in_the_list(env: CliEnv, tmp_path: Path) -> None:
    """OpenAI writes -9999.0 for a token it has no log-probability for: "not in the list"."""
    listed_p = [{"a": 0.6, "b": 0.3}, {"x": 0.9, "y": 0.05}]
    listed_q = [{"a": 0.5, "b": 0.4}, {"x": 0.8, "y": 0.1}]

    def with_placeholder(row: dict[str, float], token: str) -> dict[str, object]:
        item = _content_item(list(row), list(row.values()))
        top = item["top_logprobs"]
        assert isinstance(top, list)
        top.append({"token": token, "logprob": -9999.0})
        return item

    p, q = tmp_path / "p.json", tmp_path / "q.jsonl"
    response = {"choices": [{"logprobs": {"content": [with_placeholder(listed_p[0], "zz"), _content_item(
        list(listed_p[1]), list(listed_p[1].values()))]}}]}  # fmt: skip
    p.write_text(json.dumps(response))
    q.write_text(
        "".join(json.dumps(with_placeholder(r, t)) + "\n" for r, t in zip(listed_q, "cq", strict=True))
    )
    result = env.run(["kl", str(p), str(q), "--as", "top-logprobs", "--json"])
    assert result.exit_code == 0, result.stderr
    got = [row["kl"] for row in json.loads(result.stdout)["rows"]]
    # Taken literally, -9999.0 would enter the KL as a log-probability (820 nats here).
    expected = [_coarsened_kl(a, b) for a, b in zip(listed_p, listed_q, strict=True)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert result.stderr.splitlines()[1] == (
        "xent: note: top_logprobs entries below -1000 left out as not in the list (APIs write such "
        f"values, OpenAI -9999.0, for a token they do not list): 1 in {p}, 2 in {q}"
    )
    assert len(result.stderr.splitlines()) == 2
    assert env.run(["kl", str(p), str(q), "--as", "top-logprobs", "-q"]).stderr == ""


def test_a_position_with_only_placeholders_is_an_error(env: CliEnv, tmp_path: Path) -> None:
    p, q = tmp_path / "p.jsonl", tmp_path / "q.jsonl"
    p.write_text('{"a": -9999.0, "b": -1e308}\n')
    q.write_text('{"a": -0.1}\n')
    result = env.run(["kl", str(p), str(q), "--as", "top-logprobs"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: {p}: row 1 (line 1): every top_logprobs entry is below -1000, an API's placeholder "
        "for 'not in the list' (this position has no top-k list)\n"
    )


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ('{"top_logprobs": [{"token": "a", "logprob": -' + "9" * 400 + "}]}", "top_logprobs[1] 'logprob'"),
        ('{"a": -' + "9" * 400 + "}", "'a'"),
        ('{"top_logprobs": {"a": -' + "9" * 400 + "}}", "'a'"),  # the legacy completions form
    ],
)
def test_a_number_too_large_for_a_float_is_an_error_naming_it(
    env: CliEnv, tmp_path: Path, line: str, where: str
) -> None:
    """A 400-digit integer overflows float(): it must be an input error, not an internal one."""
    p, q = tmp_path / "p.jsonl", tmp_path / "q.jsonl"
    p.write_text(line + "\n")
    q.write_text('{"a": -0.1}\n')
    result = env.run(["kl", str(p), str(q), "--as", "top-logprobs"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: {p}: row 1 (line 1), {where}: -{'9' * 38}… is too large for a float64\n"
    )


def test_the_json_read_limits_hold(env: CliEnv, files: tuple[Path, Path], tmp_path: Path) -> None:
    p, q = files
    document = tmp_path / "q.json"
    document.write_text(q.read_text())
    result = env.run(["kl", str(p), str(document), "--as", "top-logprobs"], XENT_MAX_DOCUMENT_BYTES="200")
    assert (result.exit_code, result.stderr) == (
        2,
        f"xent: error: {document}: is larger than 200 bytes, the most one JSON document may hold "
        "(set XENT_MAX_DOCUMENT_BYTES to raise it, or use JSON Lines (read in blocks))\n",
    )
    result = env.run(["kl", str(p), str(q), "--as", "top-logprobs"], XENT_MAX_LINE_BYTES="100")
    assert (result.exit_code, result.stderr) == (
        2,
        f"xent: error: {p}: line 1 is longer than 100 bytes (set XENT_MAX_LINE_BYTES to read longer lines)\n",
    )


@pytest.mark.parametrize("command", [["entropy"], ["kl", "0.5,0.5"], ["loss", "--target", "0"]])
def test_api_output_read_as_a_table_says_to_use_top_logprobs(
    env: CliEnv, files: tuple[Path, Path], tmp_path: Path, command: list[str]
) -> None:
    """An API response read without --as top-logprobs says to add it, not that it is "a pandas orient"."""
    p, q = files
    document = tmp_path / "response.json"
    document.write_text(q.read_text())
    for source, said in (
        (document, f"{document}: is an API response with log-probabilities"),
        (p, f"{p}: line 1: holds a token position with top_logprobs"),
    ):
        args = [command[0], str(source), *command[1:]]
        result = env.run(args)
        assert (result.exit_code, result.stdout) == (2, ""), args
        assert result.stderr == (
            f"xent: error: {said}, not a table of distributions (read it with --as top-logprobs)\n"
        )


# --- loss of the sampled tokens, and the tokens as row ids ---------------------------------------


def _sampled(row: dict[str, float], token: str) -> dict[str, object]:
    """An API content item for a position that sampled ``token`` (not necessarily the top one)."""
    item = _content_item(list(row), list(row.values()))
    item["token"], item["logprob"] = token, math.log(row[token])
    return item


SAMPLED = ["a", "y", "n"]  # P's rows: the top token, then two that are not the top


def test_loss_is_the_nll_and_perplexity_of_the_sampled_tokens(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "sampled.json"
    items = [_sampled(row, token) for row, token in zip(ROWS_P, SAMPLED, strict=True)]
    path.write_text(json.dumps({"choices": [{"logprobs": {"content": items}}]}))
    result = env.run(["loss", str(path), "--as", "top-logprobs", "--json"])
    assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    doc = json.loads(result.stdout)
    nll = [-math.log(row[token]) for row, token in zip(ROWS_P, SAMPLED, strict=True)]
    assert [row["log_loss"] for row in doc["rows"]] == pytest.approx(nll, rel=1e-15)
    assert [row["id"] for row in doc["rows"]] == SAMPLED
    assert [row["accuracy"] for row in doc["rows"]] == [1.0, 0.0, 0.0]
    assert doc["loss"]["log_loss"] == pytest.approx(np.mean(nll), rel=1e-15)
    assert doc["loss"]["perplexity"] == pytest.approx(math.exp(np.mean(nll)), rel=1e-15)
    assert doc["sources"] == {"pred": str(path), "target": f"{path} (sampled tokens)"}
    bits = env.run(["loss", str(path), "--as", "top-logprobs", "--bits", "--value"])
    assert float(bits.stdout) == pytest.approx(np.mean(nll) / math.log(2), rel=1e-15)


def test_loss_reads_the_legacy_completions_form(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "legacy.jsonl"
    logprobs = {
        "tokens": SAMPLED,
        "token_logprobs": [math.log(row[t]) for row, t in zip(ROWS_P, SAMPLED, strict=True)],
        "top_logprobs": [{t: math.log(p) for t, p in row.items()} for row in ROWS_P],
    }
    path.write_text(json.dumps({"choices": [{"logprobs": logprobs}]}) + "\n")
    result = env.run(["loss", str(path), "--as", "top-logprobs", "--value"])
    nll = [-math.log(row[token]) for row, token in zip(ROWS_P, SAMPLED, strict=True)]
    assert result.exit_code == 0, result.stderr
    assert float(result.stdout) == pytest.approx(np.mean(nll), rel=1e-15)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"a": -0.1}', "row 1 (line 1): does not say which token was sampled (loss --as top-logprobs reads "
         "API items: {token, logprob, top_logprobs})"),
        ('{"token": "z", "top_logprobs": [{"token": "a", "logprob": -0.1}]}',
         "row 1 (line 1): the sampled token 'z' has no log-probability (no 'logprob', and it is not in its "
         "top_logprobs)"),
        ('{"token": "a", "logprob": 0.5, "top_logprobs": [{"token": "a", "logprob": -0.1}]}',
         "row 1 (line 1), 'logprob': 0.5 is not a sampled token's log-probability"),
    ],
)  # fmt: skip
def test_loss_of_sampled_tokens_errors(env: CliEnv, tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(line + "\n")
    result = env.run(["loss", str(path), "--as", "top-logprobs"])
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"xent: error: {path}: {message}\n")


def test_loss_of_sampled_tokens_takes_no_target(env: CliEnv, files: tuple[Path, Path]) -> None:
    p, _ = files
    result = env.run(["loss", str(p), "--as", "top-logprobs", "--target", "0", "--label-smoothing", "0.1"])
    assert (result.exit_code, result.stderr) == (
        2,
        "xent: error: loss --as top-logprobs takes each position's sampled token from the source; "
        "--target, --label-smoothing do not apply\n",
    )


def test_worst_rows_of_top_k_lists_show_the_sampled_tokens(env: CliEnv, tmp_path: Path) -> None:
    p, q = tmp_path / "p.jsonl", tmp_path / "q.jsonl"
    p.write_text("".join(json.dumps(_sampled(r, t)) + "\n" for r, t in zip(ROWS_P, SAMPLED, strict=True)))
    q.write_text("".join(json.dumps({t: math.log(v) for t, v in r.items()}) + "\n" for r in ROWS_Q))
    doc = json.loads(env.run(["kl", str(p), str(q), "--as", "top-logprobs", "--json", "--worst", "1"]).stdout)
    assert [row["id"] for row in doc["rows"]] == SAMPLED
    kl = [_coarsened_kl(a, b) for a, b in zip(ROWS_P, ROWS_Q, strict=True)]
    worst = int(np.argmax(kl))
    assert doc["worst"][0]["id"] == SAMPLED[worst]
