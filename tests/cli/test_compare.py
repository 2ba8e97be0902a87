"""xent compare through the CLI: every measure, top-1 agreement, --measures.

The language-model panel is in test_compare_panel.py."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from scipy.spatial.distance import jensenshannon

from tests.conftest import CliEnv


def test_compare_has_every_measure(env: CliEnv) -> None:
    doc = env.json(["compare", "0.5,0.5", "0.9,0.1"])
    row = doc["rows"][0]
    assert set(row) == {
        "row",
        "id",
        "kl",
        "kl_reverse",
        "cross_entropy",
        "js",
        "tv",
        "hellinger",
        "max_abs_diff",
        "top1_agreement",
    }
    assert row["kl"] == pytest.approx(math.log(5 / 3), rel=1e-15)
    assert row["kl_reverse"] == pytest.approx(
        0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5), rel=1e-14
    )
    assert row["cross_entropy"] == pytest.approx(-0.5 * math.log(0.9) - 0.5 * math.log(0.1), rel=1e-15)
    assert row["js"] == pytest.approx(jensenshannon([0.5, 0.5], [0.9, 0.1]) ** 2, rel=1e-13)
    assert row["tv"] == pytest.approx(0.4, rel=1e-15)
    assert row["max_abs_diff"] == pytest.approx(0.4, rel=1e-15)
    assert row["top1_agreement"] == 1.0
    assert set(doc["summary"]) == set(row) - {"row", "id"}


def test_compare_top1_agreement_share(env: CliEnv, tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    q = tmp_path / "q.csv"
    p.write_text("a,b\n0.9,0.1\n0.2,0.8\n0.6,0.4\n0.3,0.7\n")
    q.write_text("a,b\n0.8,0.2\n0.7,0.3\n0.6,0.4\n0.1,0.9\n")
    doc = env.json(["compare", str(p), str(q)])
    assert doc["summary"]["top1_agreement"]["mean"] == 0.75


# --- --measures -------------------------------------------------------------------------------


def test_compare_measures_computes_only_those(
    env: CliEnv, examples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xent_cli.core.measures as measures

    def never(*args: object) -> None:
        raise AssertionError("computed a measure that was not asked for")

    for name in ("hellinger_rows", "max_abs_diff_rows", "js_terms", "total_variation_terms"):
        monkeypatch.setattr(measures, name, never)
    args = ["compare", str(examples / "model_a.csv"), str(examples / "model_b.csv")]
    doc = env.json([*args, "--measures", "kl,ce,top1"])
    assert list(doc["summary"]) == ["kl", "cross_entropy", "top1_agreement"]
    assert set(doc["rows"][0]) == {"row", "id", "kl", "cross_entropy", "top1_agreement"}
    monkeypatch.undo()
    full = env.json(args)
    assert doc["summary"]["kl"] == full["summary"]["kl"]


def test_compare_measures_order_sets_the_headline(env: CliEnv, examples: Path) -> None:
    args = ["compare", str(examples / "model_a.csv"), str(examples / "model_b.csv"), "--measures", "js,kl"]
    js = env.json(["js", str(examples / "model_a.csv"), str(examples / "model_b.csv")])
    value = env.run([*args, "--value"])
    assert float(value.stdout) == js["summary"]["js"]["mean"]


@pytest.mark.parametrize(
    ("measures", "message"),
    [
        ("kl,bogus", "'bogus' is not a measure"),
        ("kl,kl", "names kl more than once"),
        (",", "names no measure"),
    ],
)
def test_compare_measures_are_checked_when_parsed(env: CliEnv, measures: str, message: str) -> None:
    # The sources do not exist: the option is rejected before anything is read.
    result = env.run(["compare", "nope.csv", "nope.csv", "--measures", measures])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"xent: error: --measures {measures!r}: {message}")


def test_gates_follow_the_measures(env: CliEnv) -> None:
    result = env.run(["compare", "0.5,0.5", "0.9,0.1", "--measures", "kl,js", "--fail-above", "tv=0.1"])
    assert result.exit_code == 2
    assert "compare has no statistic 'tv'" in result.stderr
    held = env.run(["compare", "0.5,0.5", "0.9,0.1", "--measures", "kl,js", "--fail-above", "js=1"])
    assert held.exit_code == 0


def test_explain_needs_a_measure_with_terms_first(env: CliEnv) -> None:
    result = env.run(["compare", "0.5,0.5", "0.9,0.1", "--measures", "hellinger,kl", "--explain"])
    assert result.exit_code == 2
    assert "--explain: hellinger has no per-outcome contributions" in result.stderr
