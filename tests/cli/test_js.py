"""xent js through the CLI: against SciPy, its bound, --explain over a batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from tests.conftest import CliEnv


def test_js_matches_scipy_and_reports_the_distance(env: CliEnv, examples: Path) -> None:
    doc = env.json(["js", str(examples / "model_a.csv"), str(examples / "model_b.csv"), "--bits"])
    a = np.loadtxt(examples / "model_a.csv", delimiter=",", skiprows=1, usecols=(1, 2, 3))
    b = np.loadtxt(examples / "model_b.csv", delimiter=",", skiprows=1, usecols=(1, 2, 3))
    distance = jensenshannon(a / a.sum(1, keepdims=True), b / b.sum(1, keepdims=True), axis=1, base=2)
    np.testing.assert_allclose([r["js_distance"] for r in doc["rows"]], distance, rtol=1e-12)
    np.testing.assert_allclose([r["js"] for r in doc["rows"]], distance**2, rtol=1e-12)
    assert doc["unit"] == "bits"


def test_js_is_bounded_by_one_bit(env: CliEnv) -> None:
    assert env.run(["js", "1,0", "0,1", "--bits", "--value"]).stdout == "1.0\n"


def test_explain_batch_is_the_mean_per_row(env: CliEnv, examples: Path) -> None:
    doc = env.json(["js", str(examples / "model_a.csv"), str(examples / "model_b.csv"), "--explain"])
    explain = doc["explain"]
    assert explain["rows"] == 12
    assert {o["outcome"] for o in explain["outcomes"]} == {"cat", "dog", "bird"}
    assert sum(o["share"] for o in explain["outcomes"]) == pytest.approx(1.0)
    assert explain["total"] == pytest.approx(doc["summary"]["js"]["mean"], rel=1e-13)
    table = env.run(
        ["js", str(examples / "model_a.csv"), str(examples / "model_b.csv"), "--explain", "-f", "table"]
    )
    assert "What drives JS(P, Q)" in table.stdout
    assert "█" in table.stdout
