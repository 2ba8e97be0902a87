"""xent compare through the CLI: every measure, top-1 agreement, --measures.

The language-model panel is in test_compare_panel.py."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
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


# --- the divergence family -----------------------------------------------------------------------


def test_divergence_family_through_the_cli(env: CliEnv, tmp_path: Path) -> None:
    import mpmath

    from tests import reference

    rng = np.random.default_rng(4)
    p = rng.dirichlet(np.ones(6), size=3)
    q = p * (1 + 1e-9 * rng.standard_normal(p.shape))
    q /= q.sum(axis=1, keepdims=True)
    np.savetxt(tmp_path / "p.csv", p, delimiter=",", fmt="%.17g")
    np.savetxt(tmp_path / "q.csv", q, delimiter=",", fmt="%.17g")
    measures = "renyi:0.5,tsallis:2,chi2,bhattacharyya,jeffreys"
    doc = env.json(["compare", str(tmp_path / "p.csv"), str(tmp_path / "q.csv"), "--measures", measures])
    assert list(doc["summary"]) == measures.split(",")
    for row, p_row, q_row in zip(doc["rows"], p, q, strict=True):
        exact_p, exact_q = reference.distribution(p_row, "probs"), reference.distribution(q_row, "probs")
        s = mpmath.fsum(mpmath.sqrt(a * b) for a, b in zip(exact_p, exact_q, strict=True))
        assert reference.relative_error(row["renyi:0.5"], -2 * mpmath.log(s)) < 1e-12
        assert reference.relative_error(row["bhattacharyya"], -mpmath.log(s)) < 1e-12
        chi2 = mpmath.fsum((a - b) ** 2 / b for a, b in zip(exact_p, exact_q, strict=True))
        assert reference.relative_error(row["chi2"], chi2) < 1e-12
        assert reference.relative_error(row["tsallis:2"], chi2) < 1e-12  # Tsallis q = 2 is χ²
        jeffreys = reference.kl(exact_p, exact_q) + reference.kl(exact_q, exact_p)
        assert reference.relative_error(row["jeffreys"], jeffreys) < 1e-12


def test_one_measure_keeps_the_panel_schema(env: CliEnv, tmp_path: Path) -> None:
    """``compare --measures chi2`` names its measure like two measures do: it was a ``compare_nats``
    column (χ² has no unit) and a flat JSON summary, so scripts reading ``.summary.chi2`` broke."""
    np.save(tmp_path / "p.npy", np.array([[0.5, 0.5], [0.2, 0.8]]))
    np.save(tmp_path / "q.npy", np.array([[0.9, 0.1], [0.2, 0.8]]))
    args = ["compare", str(tmp_path / "p.npy"), str(tmp_path / "q.npy")]
    result = env.run([*args, "--measures", "chi2", "--format", "tsv"])
    assert result.stdout.splitlines()[0] == "row\tid\tchi2"
    doc = env.json([*args, "--measures", "kl"])
    assert list(doc["summary"]) == ["kl"]
    assert list(doc["rows"][0]) == ["row", "id", "kl"]
    assert doc["summary"]["kl"]["mean"] == pytest.approx((0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(5)) / 2)


def test_renyi_of_a_huge_order_through_the_cli(env: CliEnv, tmp_path: Path) -> None:
    """renyi:1e300 was an internal error (exit 3) and renyi:500 gave inf; both are finite, near D_∞."""
    rng = np.random.default_rng(1)
    np.save(tmp_path / "p.npy", rng.dirichlet([1, 1, 1], 5))
    np.save(tmp_path / "q.npy", rng.dirichlet([1, 1, 1], 5))
    doc = env.json(
        ["compare", str(tmp_path / "p.npy"), str(tmp_path / "q.npy"), "--measures", "renyi:500,renyi:1e300"]
    )
    assert doc["summary"]["renyi:500"]["mean"] == pytest.approx(1.6523963395248784, rel=1e-13)
    d_infinity = np.log(np.max(np.load(tmp_path / "p.npy") / np.load(tmp_path / "q.npy"), axis=1))
    assert [row["renyi:1e300"] for row in doc["rows"]] == pytest.approx(list(d_infinity), rel=1e-13)


def _big_pair(tmp_path: Path, rows: int = 20_000) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """P and Q of ``rows`` x 6 (random rows, then nearly equal ones) as pandas writes Parquet."""
    import pandas as pd

    rng = np.random.default_rng(8)
    p = rng.dirichlet(np.full(6, 0.5), size=rows)
    q = rng.dirichlet(np.full(6, 0.5), size=rows)
    q[rows // 2 :] = p[rows // 2 :] * (1 + 1e-9 * rng.standard_normal((rows - rows // 2, 6)))
    q /= q.sum(axis=1, keepdims=True)
    columns = [f"c{k}" for k in range(6)]
    pd.DataFrame(p, columns=columns).to_parquet(tmp_path / "p.parquet")
    pd.DataFrame(q, columns=columns).to_parquet(tmp_path / "q.parquet")
    return tmp_path / "p.parquet", tmp_path / "q.parquet", p, q


@pytest.mark.parametrize("kernels", ["numpy", "auto"])
def test_divergence_family_of_a_big_file_is_the_careful_method(
    env: CliEnv, tmp_path: Path, kernels: str
) -> None:
    """Big blocks compute the family on row ranges over the kernel threads: each row is the careful
    method's value (held against mpmath in tests/core/test_divergence_family.py), bit for bit, and
    the panel's top-1 agreement is that of the rows; kl.* is left out as kl is not a measure."""
    from xent_cli.core.distributions import prepare
    from xent_cli.core.measures import (
        bhattacharyya_rows,
        chi2_rows,
        jeffreys_rows,
        pair_terms,
        renyi_rows,
        tsallis_rows,
    )

    p_path, q_path, p, q = _big_pair(tmp_path)
    env.monkeypatch.setenv("XENT_KERNELS", kernels)
    measures = "renyi:0.5,tsallis:2,chi2,bhattacharyya,jeffreys"
    doc = env.json(["compare", str(p_path), str(q_path), "--measures", measures])
    terms = pair_terms(prepare(p), prepare(q))
    expected = {
        "renyi:0.5": renyi_rows(terms, 0.5),
        "tsallis:2": tsallis_rows(terms, 2.0),
        "chi2": chi2_rows(terms),
        "bhattacharyya": bhattacharyya_rows(terms),
        "jeffreys": jeffreys_rows(terms),
    }
    for key, values in expected.items():
        np.testing.assert_array_equal([row[key] for row in doc["rows"]], values, err_msg=key)
    same = np.argmax(p, axis=1) == np.argmax(q, axis=1)
    assert doc["panel"] == {
        "count": 20_000,
        "same_top1": float(same.mean()),
        "same_top1_std_error": pytest.approx(float(np.std(same, ddof=1) / math.sqrt(20_000)), rel=1e-9),
    }


def test_divergence_family_beside_panel_measures_of_a_big_file(env: CliEnv, tmp_path: Path) -> None:
    """kl from the compare kernel, renyi from the row ranges: both as the careful method gives them."""
    from xent_cli.core.distributions import prepare
    from xent_cli.core.measures import kl_rows, pair_terms, renyi_rows

    p_path, q_path, p, q = _big_pair(tmp_path)
    doc = env.json(["compare", str(p_path), str(q_path), "--measures", "kl,renyi:2"])
    pd_, qd = prepare(p), prepare(q)
    np.testing.assert_array_equal([r["renyi:2"] for r in doc["rows"]], renyi_rows(pair_terms(pd_, qd), 2.0))
    np.testing.assert_allclose([r["kl"] for r in doc["rows"]], kl_rows(pd_, qd), rtol=1e-12, atol=0)
    assert doc["panel"]["kl.mean"] == doc["summary"]["kl"]["mean"]


def test_a_bad_row_of_a_big_file_is_named_by_the_divergence_family(env: CliEnv, tmp_path: Path) -> None:
    p = np.random.default_rng(3).dirichlet(np.ones(6), size=20_000)
    p[15_000] *= 1.1
    np.save(tmp_path / "p.npy", p)
    result = env.run(["compare", str(tmp_path / "p.npy"), str(tmp_path / "p.npy"), "--measures", "renyi:0.5"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"xent: error: {tmp_path / 'p.npy'}: row 15001: values sum to 1.1, not 1 (use --normalize to rescale)\n"
    )


def test_divergence_family_gates_and_bits(env: CliEnv) -> None:
    base = ["compare", "0.5,0.3,0.2", "0.4,0.4,0.2", "--measures", "renyi:2,chi2"]
    assert env.run([*base, "--fail-above", "renyi:2=1"]).exit_code == 0
    failed = env.run([*base, "--fail-above", "renyi:2.p99=0.001"])
    assert failed.exit_code == 1
    assert "(--fail-above renyi:2.p99=0.001)" in failed.stderr
    nats = float(env.run([*base, "--value"]).stdout)
    bits = float(env.run([*base, "--value", "--bits"]).stdout)
    assert bits == pytest.approx(nats / math.log(2), rel=1e-15)
    assert nats == pytest.approx(math.log(0.5**2 / 0.4 + 0.3**2 / 0.4 + 0.2), rel=1e-14)


@pytest.mark.parametrize(
    ("measures", "message"),
    [
        ("renyi:1", "--measures renyi:1: order 1 is the KL divergence: use kl"),
        ("renyi:0", "--measures renyi:0: the order must be a finite number > 0"),
        ("tsallis:-2", "--measures tsallis:-2: the order must be a finite number > 0"),
        ("renyi:two", "--measures renyi:two: the order after ':' must be a number, e.g. renyi:0.5"),
    ],
)
def test_bad_orders_are_one_line(env: CliEnv, measures: str, message: str) -> None:
    result = env.run(["compare", "0.5,0.5", "0.9,0.1", "--measures", measures])
    assert result.exit_code == 2
    assert result.stderr == f"xent: error: {message}\n"
