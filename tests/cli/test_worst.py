"""--worst N: the rows with the largest headline value, in tables and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import CliEnv


def test_worst_rows_largest_first_ties_to_the_earlier_row(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    # entropies: row 1 and 3 tie (uniform), row 2 is one-hot (0), row 4 in between
    path.write_text("id,a,b\nr1,0.5,0.5\nr2,1,0\nr3,0.5,0.5\nr4,0.9,0.1\n")
    doc = json.loads(env.run(["entropy", str(path), "--worst", "3", "--json"]).stdout)
    assert [(w["row"], w["id"]) for w in doc["worst"]] == [(1, "r1"), (3, "r3"), (4, "r4")]
    assert doc["worst"][0]["value"] == doc["rows"][0]["value"]
    assert len(doc["rows"]) == 4  # --worst adds a list; it does not cut the rows


def test_worst_more_than_the_rows_lists_them_all(env: CliEnv, examples: Path) -> None:
    args = ["kl", str(examples / "model_a.csv"), str(examples / "model_b.csv"), "--worst", "50", "--json"]
    doc = json.loads(env.run(args).stdout)
    values = [w["value"] for w in doc["worst"]]
    assert len(values) == 12 and values == sorted(values, reverse=True)
    assert doc["worst"][0] == {"row": 11, "id": "img-011", "value": max(r["value"] for r in doc["rows"])}


def test_worst_in_a_table_and_for_compare_by_kl(env: CliEnv, examples: Path) -> None:
    args = ["compare", str(examples / "model_a.csv"), str(examples / "model_b.csv")]
    table = env.run([*args, "--worst", "2", "-f", "table", "--rows", "0"]).stdout
    assert "Worst 2 rows by D(P‖Q)" in table
    assert "img-011" in table and "img-004" in table
    doc = json.loads(env.run([*args, "--worst", "1", "--json"]).stdout)
    assert doc["worst"][0]["value"] == doc["summary"]["kl"]["max"]


def test_worst_must_be_a_count(env: CliEnv) -> None:
    result = env.run(["entropy", "0.5,0.5", "--worst", "-1"])
    assert (result.exit_code, result.stderr) == (2, "xent: error: --worst -1: must be a whole number >= 0\n")


def test_worst_with_one_row_per_line_output_says_where_it_is_shown(env: CliEnv, examples: Path) -> None:
    args = ["kl", str(examples / "model_a.csv"), str(examples / "model_b.csv"), "--worst", "2"]
    result = env.run([*args, "--csv"])
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 13  # every row, as without --worst
    assert result.stderr == (
        "xent: warning: --worst is shown in tables and JSON; csv lists every row (sort them, or use --json)\n"
    )
