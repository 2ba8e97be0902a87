"""What CI systems read: GitHub's ::error workflow commands and job summary, --format markdown and
--junit FILE, each parsed as GitHub, GitLab and JUnit readers would; stdout never changes."""

from __future__ import annotations

import math
import re
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.conftest import LN_5_3, CliEnv
from xent_cli.reports import escape_data, escape_property

KL_ARGS = ["kl", "0.5,0.5", "0.9,0.1", "--fail-above", "0.5", "--fail-below", "kl.max=0.6000"]


def _unescape(text: str) -> str:
    """What the Actions runner does to a command's escaped text (the inverse of the toolkit's escaping)."""
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


def test_escaping_follows_the_actions_toolkit() -> None:
    assert escape_data("50% done\r\nnext: a, b") == "50%25 done%0D%0Anext: a, b"
    assert escape_property("50% done\r\nnext: a, b") == "50%25 done%0D%0Anext%3A a%2C b"
    assert _unescape(escape_property("a%3A:b,%")) == "a%3A:b,%"


def test_github_annotations_on_stderr_and_stdout_unchanged(
    env: CliEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = env.run([*KL_ARGS, "--json"])
    actions = env.run([*KL_ARGS, "--json"], GITHUB_ACTIONS="true")
    assert plain.exit_code == actions.exit_code == 1
    assert actions.stdout == plain.stdout
    gate_lines = [
        f"kl mean {LN_5_3!r} > 0.5 (--fail-above 0.5)",
        f"kl max {LN_5_3!r} < 0.6000 (--fail-below kl.max=0.6000)",
    ]
    assert plain.stderr == "".join(f"xent: gate failed: {line}\n" for line in gate_lines)
    commands = [line for line in actions.stderr.splitlines() if line.startswith("::")]
    assert len(commands) == 2
    options = ["--fail-above 0.5", "--fail-below kl.max=0.6000"]
    for command, line, option in zip(commands, gate_lines, options, strict=True):
        found = re.fullmatch(r"::error title=([^:]*)::(.*)", command)
        assert found is not None, command
        assert _unescape(found.group(1)) == f"xent kl gate failed: {option}"
        assert _unescape(found.group(2)) == line
    # Only "true" means GitHub Actions; nothing is added when every gate held.
    assert "::error" not in env.run([*KL_ARGS, "--json"], GITHUB_ACTIONS="1").stderr
    held = env.run(["kl", "0.5,0.5", "0.9,0.1", "--fail-above", "1"], GITHUB_ACTIONS="true")
    assert held.exit_code == 0 and held.stderr == ""


def test_an_annotation_escapes_percent_signs(
    env: CliEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert env.run(["kl", "0.5,0.5", "0.9,0.1", "--json", "-o", "old.json"]).exit_code == 0
    run = env.run(
        ["kl", "0.5,0.5", "0.8,0.2", "--baseline", "old.json", "--fail-decrease", "5%"], GITHUB_ACTIONS="true"
    )
    assert run.exit_code == 1
    (gate_line,) = [line for line in run.stderr.splitlines() if line.startswith("xent: gate failed: ")]
    (command,) = [line for line in run.stderr.splitlines() if line.startswith("::error ")]
    title, message = command.removeprefix("::error title=").split("::", 1)
    assert "%" not in message.replace("%25", "")
    assert _unescape(title) == "xent kl gate failed: --fail-decrease 5%"
    assert _unescape(message) == gate_line.removeprefix("xent: gate failed: ")


def _tables(markdown: str) -> list[list[list[str]]]:
    """The GFM tables of a Markdown text, as rows of cells (delimiter rows checked and left out)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            assert line.endswith("|"), line
            current.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line[1:-1])])
            continue
        if current:
            header, delimiter, *rows = current
            assert all(re.fullmatch(r"-{3,}:?", cell) for cell in delimiter), delimiter
            assert all(len(row) == len(header) for row in [delimiter, *rows])
            tables.append([header, *rows])
            current = []
    return tables


def test_markdown_format(env: CliEnv, examples: Path) -> None:
    a, b = str(examples / "model_a.csv"), str(examples / "model_b.csv")
    run = env.run(
        ["compare", a, b, "--measures", "kl,js", "--fail-above", "kl=0.001", "--format", "markdown"]
    )
    assert run.exit_code == 1
    document = env.json(["compare", a, b, "--measures", "kl,js"])
    text = run.stdout
    assert text.startswith("### xent compare: ")
    summary, *_, gates = _tables(text)
    assert summary[0] == ["measure", "count", "mean", "min", "p50", "p90", "p99", "max", "sum"]
    kl_row = summary[1]
    assert kl_row[1] == "12"
    assert float(kl_row[2]) == pytest.approx(document["summary"]["kl"]["mean"], rel=1e-5)
    assert gates[0] == ["gate", "statistic", "value", "bound", "verdict"]
    assert gates[1] == [
        "`--fail-above kl=0.001`",
        "kl mean",
        repr(document["summary"]["kl"]["mean"]),
        "≤ 0.001",
        "❌ failed",
    ]
    assert "**Gates: 1 of 1 failed**" in text


def test_markdown_by_extension(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "result.md"
    assert env.run(["entropy", "0.5,0.5", "--fail-below", "0.6", "-o", str(path)]).exit_code == 0
    assert path.read_text() == (
        "### xent entropy: Entropy H(P) · nats\n\n"
        "Sources: P `0.5,0.5`\n\n"
        "| measure | count | mean | min | p50 | p90 | p99 | max | sum |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        "| H(P) | 1 | 0.693147 | 0.693147 | 0.693147 | 0.693147 | 0.693147 | 0.693147 | 0.693147 |\n\n"
        "**Gates: all 1 held**\n\n"
        "| gate | statistic | value | bound | verdict |\n"
        "|---|---|---:|---|---|\n"
        f"| `--fail-below 0.6` | entropy mean | {math.log(2)!r} | ≥ 0.6 | ✅ held |\n"
    )


def test_step_summary_is_appended(env: CliEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    summary = tmp_path / "summary.md"
    summary.write_text("## earlier step\n")
    assert env.run(["kl", "0.5,0.5", "0.9,0.1", "--json", "-o", "old.json"]).exit_code == 0
    args = ["kl", "0.5,0.5", "0.8,0.2", "--baseline", "old.json", "--fail-increase", "1e-2", "--value"]
    plain = env.run(args)
    run = env.run(args, GITHUB_STEP_SUMMARY=str(summary))
    assert run.stdout == plain.stdout and run.exit_code == plain.exit_code == 0
    text = summary.read_text()
    assert text.startswith("## earlier step\n### xent kl: ")
    _, gates, baseline = _tables(text.split("\n", 1)[1])
    assert gates[1][0] == "`--fail-increase 1e-2`"
    assert gates[1][-1] == "✅ held"
    assert gates[1][3] == "≤ 1e-2"
    old, new = math.log(5 / 3), 0.5 * math.log(25 / 16)
    assert baseline[0] == ["statistic", "baseline", "this run", "change", "relative change"]
    assert baseline[1][0] == "kl"
    assert [float(cell) for cell in baseline[1][1:4]] == pytest.approx([old, new, new - old], rel=1e-5)
    assert baseline[1][4] == f"{(new - old) / old * 100:+.3g}%"


def test_unwritable_step_summary(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "missing" / "summary.md"
    run = env.run(["kl", "0.5,0.5", "0.9,0.1", "--value"], GITHUB_STEP_SUMMARY=str(path))
    assert run.exit_code == 2
    assert run.stdout == f"{LN_5_3!r}\n"  # the result is still printed
    assert run.stderr == (
        f"xent: error: GITHUB_STEP_SUMMARY {path}: cannot write: No such file or directory "
        "(the result was written; check the path GitHub gave)\n"
    )


def test_junit_file(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "gates.xml"
    run = env.run([*KL_ARGS, "--fail-above", "kl=1", "--junit", str(path), "--value"])
    assert run.exit_code == 1
    assert run.stdout == f"{LN_5_3!r}\n"
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "xent kl"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "2", "0")
    cases = suite.findall("testcase")
    # Upper bounds first, then lower ones (each in the order given).
    assert [c.get("name") for c in cases] == [
        "--fail-above 0.5",
        "--fail-above kl=1",
        "--fail-below kl.max=0.6000",
    ]
    assert all(c.get("classname") == "xent.kl" for c in cases)
    failures = [c.find("failure") for c in cases]
    assert failures[1] is None
    assert (
        failures[0] is not None
        and failures[0].get("message") == f"kl mean {LN_5_3!r} > 0.5 (--fail-above 0.5)"
    )
    assert (
        failures[2] is not None
        and failures[2].text == f"kl max {LN_5_3!r} < 0.6000 (--fail-below kl.max=0.6000)"
    )
    # No gates: an empty suite, still valid.
    assert env.run(["kl", "0.5,0.5", "0.9,0.1", "--junit", str(path)]).exit_code == 0
    assert ET.parse(path).getroot().find("testsuite").get("tests") == "0"  # type: ignore[union-attr]


def test_unwritable_junit_file(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "missing" / "gates.xml"
    run = env.run(["kl", "0.5,0.5", "0.9,0.1", "--fail-above", "0.5", "--junit", str(path), "--value"])
    assert run.exit_code == 2
    assert run.stdout == f"{LN_5_3!r}\n"
    assert run.stderr == (
        f"xent: gate failed: kl mean {LN_5_3!r} > 0.5 (--fail-above 0.5)\n"
        f"xent: error: --junit {path}: cannot write: No such file or directory\n"
    )


def test_markdown_cells_escape_pipes(env: CliEnv, tmp_path: Path) -> None:
    from xent_cli.reports import _table

    assert _table(["name", "value"], [["a|b", "`x|y`"]], {1}) == [
        "| name | value |",
        "|---|---:|",
        "| a\\|b | `x\\|y` |",
    ]
    assert _tables("\n".join(_table(["name"], [["a|b"]], set()))) == [[["name"], ["a\\|b"]]]
    path = tmp_path / "a|b.csv"
    path.write_text("a,b\n0.5,0.5\n0.9,0.1\n")
    text = env.run(["entropy", str(path), "--fail-above", "1", "-f", "markdown"]).stdout
    assert f"Sources: P `{tmp_path}/a|b.csv`" in text  # outside a table a pipe is text


def test_calibration_markdown_and_step_summary_lead_with_ece(env: CliEnv, tmp_path: Path) -> None:
    from sklearn.metrics import brier_score_loss

    pred = tmp_path / "c.csv"
    pred.write_text("a,b,label\n.9,.1,a\n.3,.7,b\n.6,.4,b\n.2,.8,a\n")
    # Top-label confidences .9 .7 .6 .8, correct 1 1 0 0, one row per bin: ECE = mean |gap|.
    gaps = [0.1, 0.3, 0.6, 0.8]
    ece, mce, rmsce = sum(gaps) / 4, max(gaps), math.sqrt(sum(g * g for g in gaps) / 4)
    brier = brier_score_loss([0, 1, 1, 0], [0.1, 0.7, 0.4, 0.8])
    run = env.run(["calibration", str(pred), "--target", "label", "--format", "markdown"])
    assert run.exit_code == 0, run.output
    statistics = _tables(run.stdout)[0]
    assert statistics[0] == ["statistic", "value"]
    assert [row[0] for row in statistics[1:]] == [
        "ECE", "MCE", "RMSCE", "Brier", "accuracy", "confidence", "rows",
    ]  # fmt: skip
    values = [float(row[1]) for row in statistics[1:]]
    assert values == pytest.approx([ece, mce, rmsce, brier, 0.5, 0.75, 4], rel=1e-5)
    summary = tmp_path / "summary.md"
    plain = env.run(["calibration", str(pred), "--target", "label", "--value"])
    with_summary = env.run(
        ["calibration", str(pred), "--target", "label", "--value"], GITHUB_STEP_SUMMARY=str(summary)
    )
    assert with_summary.stdout == plain.stdout and with_summary.exit_code == 0
    assert summary.read_text() == run.stdout + "\n"
