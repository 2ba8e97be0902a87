"""compare's language-model panel against an independent NumPy/SciPy reference, and its gates."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy.special import log_softmax

from tests.conftest import CliEnv
from tests.test_subprocess import XENT

PANEL_PERCENTILES = (0.1, 1, 5, 10, 50, 90, 95, 99, 99.9)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A reference model's logits, a perturbed copy (as quantization gives), tokens sampled from the reference."""
    root = tmp_path_factory.mktemp("lm")
    rng = np.random.default_rng(14)
    p = (3 * rng.standard_normal((400, 64))).astype(np.float32)
    q = p + (0.05 * rng.standard_normal(p.shape)).astype(np.float32)
    log_p = log_softmax(p.astype(np.float64), axis=1)
    log_q = log_softmax(q.astype(np.float64), axis=1)
    tokens = np.array([rng.choice(64, p=np.exp(row)) for row in log_p])
    np.save(root / "p.npy", p)
    np.save(root / "q.npy", q)
    np.save(root / "tokens.npy", tokens)
    return {"root": root, "log_p": log_p, "log_q": log_q, "tokens": tokens}


def _reference(models: dict[str, object]) -> dict[str, float]:
    log_p, log_q, y = models["log_p"], models["log_q"], models["tokens"]
    assert isinstance(log_p, np.ndarray) and isinstance(log_q, np.ndarray) and isinstance(y, np.ndarray)
    n = log_p.shape[0]
    rows = np.arange(n)
    kl = np.sum(np.exp(log_p) * (log_p - log_q), axis=1)
    same = (np.argmax(log_p, axis=1) == np.argmax(log_q, axis=1)).astype(float)
    lp, lq = log_p[rows, y], log_q[rows, y]
    ratio = lp - lq
    delta = np.exp(lq) - np.exp(lp)
    se = lambda x: float(np.std(x, ddof=1) / math.sqrt(n))  # noqa: E731
    ref = {
        "kl.mean": float(np.mean(kl)),
        "kl.std_error": se(kl),
        "kl.min": float(kl.min()),
        "kl.max": float(kl.max()),
        "same_top1": float(same.mean()),
        "same_top1_std_error": se(same),
        "nll_p": float(-lp.mean()),
        "nll_q": float(-lq.mean()),
        "ppl_p": math.exp(-lp.mean()),
        "ppl_q": math.exp(-lq.mean()),
        "ln_ppl_ratio": float(ratio.mean()),
        "ln_ppl_ratio_std_error": se(ratio),
        "ppl_ratio": math.exp(-lq.mean()) / math.exp(-lp.mean()),
        "logprob_correlation": float(np.corrcoef(lp, lq)[0, 1]),
        "delta_p.mean": float(delta.mean()),
        "delta_p.std_error": se(delta),
        "delta_p.rms": float(np.sqrt(np.mean(delta**2))),
    }
    for q, k, d in zip(
        PANEL_PERCENTILES,
        np.percentile(kl, PANEL_PERCENTILES),
        np.percentile(delta, PANEL_PERCENTILES),
        strict=True,
    ):
        name = f"p{q:g}"
        ref[f"kl.{name}"] = float(k)
        ref[f"delta_p.{name}"] = float(d)
    return ref


def test_panel_matches_an_independent_reference(env: CliEnv, models: dict[str, object]) -> None:
    root = models["root"]
    assert isinstance(root, Path)
    result = env.run(
        [
            "compare",
            str(root / "p.npy"),
            str(root / "q.npy"),
            "--as",
            "logits",
            "--target",
            str(root / "tokens.npy"),
            "--json",
        ]
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    panel = doc["panel"]
    assert panel["count"] == 400
    for name, expected in _reference(models).items():
        # The reference rounds its own way (float64 log-softmax, plain sums); 1e-9 is far inside
        # any difference a wrong formula would make.
        assert panel[name] == pytest.approx(expected, rel=1e-9, abs=1e-15), name
    # The per-row quantities are in the rows too.
    row = doc["rows"][0]
    assert set(row) >= {"kl", "nll_p", "nll_q", "delta_p", "top1_agreement"}
    log_p = models["log_p"]
    y = models["tokens"]
    assert isinstance(log_p, np.ndarray) and isinstance(y, np.ndarray)
    assert row["nll_p"] == pytest.approx(-log_p[0, y[0]], rel=1e-12)


def test_panel_without_targets(env: CliEnv, models: dict[str, object]) -> None:
    root = models["root"]
    assert isinstance(root, Path)
    doc = json.loads(
        env.run(["compare", str(root / "p.npy"), str(root / "q.npy"), "--as", "logits", "--json"]).stdout
    )
    assert "ppl_ratio" not in doc["panel"] and "nll_p" not in doc["rows"][0]
    ref = _reference(models)
    for name in ("kl.mean", "kl.std_error", "kl.p99.9", "same_top1", "same_top1_std_error"):
        assert doc["panel"][name] == pytest.approx(ref[name], rel=1e-9), name


def test_panel_statistics_agree_with_the_summary(env: CliEnv, models: dict[str, object]) -> None:
    root = models["root"]
    assert isinstance(root, Path)
    doc = json.loads(
        env.run(["compare", str(root / "p.npy"), str(root / "q.npy"), "--as", "logits", "--json"]).stdout
    )
    for stat in ("mean", "min", "p50", "p90", "p99", "max"):
        assert doc["panel"][f"kl.{stat}"] == doc["summary"]["kl"][stat]


@pytest.mark.skipif(XENT is None, reason="the xent command is not installed")
@pytest.mark.parametrize(
    ("gate", "code"),
    [
        (["--fail-above", "kl.p99=0.5"], 0),
        (["--fail-above", "kl.p99=1e-9"], 1),
        (["--fail-below", "same_top1=0.5"], 0),
        (["--fail-below", "same_top1=0.9999"], 1),
        (["--fail-above", "ppl_ratio=1.5"], 0),
        (["--fail-above", "ppl_ratio=0.5"], 1),
        (["--fail-above", "delta_p.rms=1"], 0),
        (["--fail-above", "perplexity_ratio=1.01"], 2),
    ],
)
def test_gates_on_panel_statistics(models: dict[str, object], gate: list[str], code: int) -> None:
    assert XENT is not None
    root = models["root"]
    assert isinstance(root, Path)
    done = subprocess.run(
        [XENT, "compare", str(root / "p.npy"), str(root / "q.npy"), "--as", "logits", "--target",
         str(root / "tokens.npy"), "--value", *gate],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    if code == 2:
        assert done.stdout == ""
        assert done.stderr.startswith(
            "xent: error: --fail-above perplexity_ratio=…: compare has no statistic"
        )
        assert "ppl_ratio" in done.stderr
    if code == 1:
        assert done.stderr.startswith("xent: gate failed: ")


def test_target_errors_are_one_line(env: CliEnv, models: dict[str, object], tmp_path: Path) -> None:
    root = models["root"]
    assert isinstance(root, Path)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.full(400, 64))
    result = env.run(
        ["compare", str(root / "p.npy"), str(root / "q.npy"), "--as", "logits", "--target", str(bad)]
    )
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"xent: error: {bad}: row 1: target 64 is out of range (class indices run from 0 to 63)\n"
    )
    short = tmp_path / "short.npy"
    np.save(short, np.zeros(399, dtype=int))
    result = env.run(
        ["compare", str(root / "p.npy"), str(root / "q.npy"), "--as", "logits", "--target", str(short)]
    )
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "399" in result.stderr


@pytest.mark.parametrize("measures", ["js", "tv", "hellinger,js", "top1"])
def test_measures_without_kl_leave_the_kl_fields_out(
    env: CliEnv, models: dict[str, object], measures: str
) -> None:
    """Any --measures list works, also one without kl (the panel's headline)."""
    root = models["root"]
    assert isinstance(root, Path)
    args = ["compare", str(root / "p.npy"), str(root / "q.npy"), "--as", "logits", "--measures", measures]
    result = env.run([*args, "--target", str(root / "tokens.npy"), "--json"])
    assert result.exit_code == 0, result.stderr
    panel = json.loads(result.stdout)["panel"]
    reference = _reference(models)
    # kl.* are the kl column's statistics: with no kl column there are none, the rest is unchanged.
    assert not any(name.startswith("kl.") for name in panel)
    for name in ("same_top1", "ppl_ratio", "logprob_correlation", "delta_p.mean", "delta_p.p99"):
        assert panel[name] == pytest.approx(reference[name], rel=1e-9, abs=1e-15), name
    table = env.run([*args, "-f", "table"])
    assert table.exit_code == 0, table.stderr
    assert "same top-1 share" in table.stdout and "mean D(P‖Q)" not in table.stdout
    assert "Percentiles over rows" not in table.stdout
    gate = env.run([*args, "--fail-above", "kl.p99=1"])
    assert gate.exit_code == 2 and "compare has no statistic 'kl.p99'" in gate.stderr
