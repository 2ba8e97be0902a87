"""xent kl through the CLI: exact output in every format, smoothing, --id, --rows 0, --explain."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.special import rel_entr

from tests.conftest import LN_5_3, CliEnv, outcomes_by_name


def test_kl_inline_to_a_pipe_is_tsv(env: CliEnv) -> None:
    result = env.run(["kl", "0.5,0.5", "0.9,0.1"])
    assert result.exit_code == 0
    assert result.stdout == f"row\tid\tkl_nats\n1\t\t{LN_5_3!r}\n"
    assert result.stderr == ""


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


def test_rows_zero_table_has_no_more_rows_line(env: CliEnv, examples: Path) -> None:
    out = env.run(
        ["kl", str(examples / "model_a.csv"), str(examples / "model_b.csv"), "-f", "table", "--rows", "0"]
    )
    assert out.exit_code == 0
    assert "more rows" not in out.stdout and "img-001" not in out.stdout
    assert "Summary over 12 rows" in out.stdout


def test_smoothing_is_reported(env: CliEnv) -> None:
    result = env.run(["kl", "0.5,0.5", "1,0", "--smooth", "0.01", "--json"])
    doc = json.loads(result.stdout)
    assert doc["smoothing"] == {"alpha": 0.01, "applied_to": "q"}
    assert math.isfinite(doc["summary"]["mean"])
    table = env.run(["kl", "0.5,0.5", "1,0", "--smooth", "0.01", "-f", "table"]).stdout
    assert "Q smoothed" in table


def test_id_join_through_the_cli(env: CliEnv, examples: Path) -> None:
    by_id = env.run(
        ["kl", str(examples / "model_a.csv"), str(examples / "model_b.jsonl"), "--id", "id", "--value"]
    )
    by_position = env.run(["kl", str(examples / "model_a.csv"), str(examples / "model_b.csv"), "--value"])
    assert by_id.exit_code == 0
    assert by_id.stdout == by_position.stdout


# --- --explain --------------------------------------------------------------------------------


def test_explain_ranks_outcomes(env: CliEnv) -> None:
    doc = env.json(["kl", "a=0.7,b=0.2,c=0.1", "a=0.5,b=0.3,c=0.2", "--explain", "--top", "2"])
    explain = doc["explain"]
    assert explain["measure"] == "kl"
    assert [o["outcome"] for o in explain["outcomes"]] == ["a", "c"]
    # contributions q*phi(p/q) are >= 0 and sum to the KL
    p, q = np.array([0.7, 0.2, 0.1]), np.array([0.5, 0.3, 0.2])
    terms = p * np.log(p / q) - p + q
    assert explain["outcomes"][0]["contribution"] == pytest.approx(terms[0], rel=1e-13)
    assert explain["total"] == pytest.approx(doc["summary"]["mean"], rel=1e-14)


def test_kl_explain_carries_the_textbook_term(env: CliEnv) -> None:
    p, q = np.array([0.7, 0.2, 0.1]), np.array([0.5, 0.3, 0.2])
    doc = env.json(["kl", "a=0.7,b=0.2,c=0.1", "a=0.5,b=0.3,c=0.2", "--explain"])
    outcomes = outcomes_by_name(doc)
    for name, term, p_i, q_i in zip("abc", rel_entr(p, q), p, q, strict=True):
        assert outcomes[name]["term"] == pytest.approx(term, rel=1e-14)
        assert outcomes[name]["contribution"] == pytest.approx(term - p_i + q_i, rel=1e-13)
        assert outcomes[name]["contribution"] >= 0
    assert outcomes["b"]["term"] < 0
    explain = doc["explain"]
    assert explain["term_total"] == pytest.approx(explain["total"], rel=1e-13)
    assert explain["formulas"] == {"contribution": "q·φ(p/q)", "term": "p·log(p/q)"}


def test_explain_of_an_infinite_kl_says_which_outcomes(env: CliEnv, examples: Path) -> None:
    args = ["kl", str(examples / "model_a.csv"), "cat=0.5,dog=0.5,bird=0", "--explain"]
    doc = env.json(args)
    explain = doc["explain"]
    assert explain["total"] == "inf" and explain["infinite_outcomes"] == 1
    bird = outcomes_by_name(doc)["bird"]
    assert (bird["contribution"], bird["share"], bird["infinite_rows"]) == ("inf", None, 12)
    assert all(o["share"] is None for o in explain["outcomes"])
    table = env.run([*args, "-f", "table", "--rows", "0"]).stdout
    assert "nan%" not in table
    flat = " ".join(table.split())
    assert "D(P‖Q) is infinite: p > 0 where q = 0, for outcome bird (in 12 of 12 rows)" in flat


def test_explain_of_a_batch_counts_the_rows_that_are_infinite(env: CliEnv, tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    q = tmp_path / "q.csv"
    p.write_text("a,b\n0.5,0.5\n0.5,0.5\n0.5,0.5\n")
    q.write_text("a,b\n0.5,0.5\n1,0\n0,1\n")
    explain = env.json(["kl", str(p), str(q), "--explain"])["explain"]
    assert {o["outcome"]: o["infinite_rows"] for o in explain["outcomes"]} == {"a": 1, "b": 1}
    assert explain["infinite_outcomes"] == 2


def test_id_empty_says_there_is_no_id_column(env: CliEnv, tmp_path: Path) -> None:
    from scipy.stats import entropy

    path = tmp_path / "w.csv"
    path.write_text("id,a,b\n0,1,3\n1,2,2\n")
    inferred = env.run(["entropy", str(path), "--as", "weights", "--json"])
    assert inferred.stderr == (
        f"xent: note: {path}: column 'id' taken as the row id (by its name); --id to choose another\n"
    )
    none = env.run(["entropy", str(path), "--as", "weights", "--id", "", "--json"])
    assert (none.exit_code, none.stderr) == (0, "")
    values = [row["value"] for row in json.loads(none.stdout)["rows"]]
    assert values == pytest.approx([entropy([0, 1, 3]), entropy([1, 2, 2])], rel=1e-15)
    # Two sources: --id '' joins by nothing, the rows pair by position.
    kl = env.run(["kl", str(path), str(path), "--as", "weights", "--id", "", "--value"])
    assert (kl.exit_code, kl.stdout, kl.stderr) == (0, "0.0\n", "")
