"""--fail-above / --fail-below: exit 1 with the result still printed, the JSON gate document,
gates on named measures, and names that are no statistic as usage errors.

Gates on one command's own statistics are with that command (loss accuracy, info nmi, compare
--measures, the compare panel)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from tests.conftest import LN_5_3, CliEnv


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


def test_compare_gates(env: CliEnv, examples: Path) -> None:
    a, b = str(examples / "model_a.csv"), str(examples / "model_b.csv")
    held = env.run(["compare", a, b, "--fail-above", "kl=0.01", "--fail-above", "js=0.001", "--json"])
    assert held.exit_code == 0
    gate = json.loads(held.stdout)["gate"]
    assert gate["held"] is True
    assert [c["measure"] for c in gate["checks"]] == ["kl", "js"]
    broken = env.run(["compare", a, b, "--fail-above", "kl=0.01", "--fail-above", "js=0.0001", "--value"])
    assert broken.exit_code == 1
    assert broken.stderr.startswith("xent: gate failed: js mean 0.000635")
    assert broken.stderr.endswith("> 0.0001 (--fail-above js=0.0001)\n")
    assert broken.stdout.strip() != ""


def test_gate_that_names_no_measure_is_a_usage_error(env: CliEnv) -> None:
    result = env.run(["compare", "0.5,0.5", "0.9,0.1", "--fail-above", "kld=0.1"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "xent: error: --fail-above kld=…: compare has no statistic 'kld' (known: kl, kl_reverse, "
        "cross_entropy, js, tv, hellinger, max_abs_diff, top1_agreement, same_top1, same_top1_std_error, "
        "MEASURE.{count,mean,std_error,min,p0.1,p1,p5,p10,p50,p90,p95,p99,p99.9,max,sum,inf_count,ci_low,ci_high})\n"
    )
    assert env.run(["kl", "0.5,0.5", "0.9,0.1", "--fail-above", "x=y"]).exit_code == 2


def test_a_failed_gate_quotes_the_bound_as_typed(env: CliEnv) -> None:
    # H(0.9, 0.1) = 0.3250829733914482 nats: a bound typed to 7 places must come back as typed,
    # not as 0.325083 (which would make the line read as false).
    expected = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))
    broken = env.run(["entropy", "0.9,0.1", "--fail-above", "0.3250829", "--json"])
    assert broken.exit_code == 1
    assert broken.stderr == (
        f"xent: gate failed: entropy mean {expected!r} > 0.3250829 (--fail-above 0.3250829)\n"
    )
    check = json.loads(broken.stdout)["gate"]["checks"][0]
    assert check["option"] == "--fail-above 0.3250829"
    assert check["bound_text"] == "0.3250829"
    assert check["bound"] == 0.3250829
    assert check["held"] is False
    typed = env.run(["entropy", "0.9,0.1", "--fail-below", "kl=1E-3".replace("kl", "entropy"), "--value"])
    assert typed.exit_code == 0
    below = env.run(["entropy", "0.9,0.1", "--fail-below", "entropy.max=0.33000", "--value"])
    assert below.stderr == (
        f"xent: gate failed: entropy max {expected!r} < 0.33000 (--fail-below entropy.max=0.33000)\n"
    )


def test_a_gate_may_name_a_measure_by_its_short_name(env: CliEnv, tmp_path: Path) -> None:
    """``--measures top1`` is accepted, so ``--fail-below top1=…`` is too: it gates top1_agreement."""
    args = ["compare", "0.6,0.4", "0.3,0.7", "--value"]
    failed = env.run([*args, "--fail-below", "top1=0.5"])
    assert failed.exit_code == 1
    assert failed.stderr == (
        "xent: gate failed: top1_agreement mean 0.0 < 0.5 (--fail-below top1_agreement=0.5)\n"
    )
    assert env.run([*args, "--fail-above", "ce.max=10"]).exit_code == 0


def test_a_gate_on_a_statistic_of_the_whole_input_says_no_mean(env: CliEnv, examples: Path) -> None:
    """perplexity is not a mean of rows: the line read "perplexity mean 1.33 > 1.01"."""
    args = ["loss", str(examples / "model_a.csv"), "--target", str(examples / "labels.csv")]
    failed = env.run([*args, "--fail-above", "perplexity=1.01", "--value"])
    assert failed.exit_code == 1
    assert failed.stderr.startswith("xent: gate failed: perplexity 1.33")
    assert failed.stderr.endswith(" > 1.01 (--fail-above perplexity=1.01)\n")
    both = env.run([*args, "--fail-above", "perplexity=1.01", "--fail-above", "accuracy.p50=2", "--json"])
    checks = json.loads(both.stdout)["gate"]["checks"]
    assert [c["statistic"] for c in checks] == ["value", "p50"]
