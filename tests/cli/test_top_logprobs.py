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
