"""xent cross-entropy (alias ce) through the CLI: the alias, two-column tables, --explain."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.conftest import CliEnv, outcomes_by_name


def test_cross_entropy_alias_and_two_column_table(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("outcome,p,q\na,0.5,0.25\nb,0.5,0.75\n")
    full = env.run(["cross-entropy", str(path), "--value"])
    alias = env.run(["ce", str(path), "--value"])
    assert full.stdout == alias.stdout
    assert float(full.stdout) == pytest.approx(-0.5 * math.log(0.25) - 0.5 * math.log(0.75), rel=1e-15)


def test_cross_entropy_explain_shows_minus_log_q(env: CliEnv) -> None:
    doc = env.json(["cross-entropy", "a=0.7,b=0.2,c=0.1", "a=0.5,b=0.3,c=0.2", "--explain"])
    outcomes = outcomes_by_name(doc)
    for name, p, q in [("a", 0.7, 0.5), ("b", 0.2, 0.3), ("c", 0.1, 0.2)]:
        assert (outcomes[name]["p"], outcomes[name]["q"]) == (
            pytest.approx(p, rel=1e-15),
            pytest.approx(q, rel=1e-15),
        )
        assert outcomes[name]["neg_log_q"] == pytest.approx(-math.log(q), rel=1e-15)
        assert outcomes[name]["contribution"] == pytest.approx(-p * math.log(q), rel=1e-15)
    assert doc["explain"]["total"] == pytest.approx(doc["summary"]["mean"], rel=1e-14)
    assert [o["outcome"] for o in doc["explain"]["outcomes"]] == ["a", "b", "c"]
