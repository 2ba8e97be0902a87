"""Reports of a result and its gates for people and CI systems.

* :func:`markdown`: GitHub-flavoured Markdown (``--format markdown``, and the job
  summary appended to ``$GITHUB_STEP_SUMMARY``): the statistics, every gate with
  its verdict, and the comparison with a baseline.
* :func:`github_annotation`: a ``::error`` workflow command per broken gate, on
  stderr, when ``GITHUB_ACTIONS=true``.
* :func:`junit_xml`: ``--junit FILE``, a testsuite with one testcase per gate and
  a ``<failure>`` for each broken one (the JUnit XML that Jenkins, GitLab,
  GitHub test-report actions and CircleCI read).

Every report quotes a gate's bound as the user typed it (:attr:`Gate.bound_text`).
Nothing here runs unless a report is asked for: the start-up path never imports it.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from xent_cli import messages
from xent_cli.errors import ExitStatus, OutputError, option
from xent_cli.gates import failure_line, percent
from xent_cli.render import SHOWN_STATISTICS, calibration_fields, table_number
from xent_cli.results import Comparison, GateCheck, GateReport, Result

# --- the line under a table ----------------------------------------------------------------------


def baseline_line(comparison: Comparison) -> str:
    """One line under a table: the baseline's value, this run's, the change and the relative change."""
    change = (
        "unchanged"
        if comparison.change == 0
        else f"change {_signed(table_number(comparison.change))} ({percent(comparison.relative_change)})"
    )
    line = (
        f"baseline {comparison.file}: {comparison.statistic} {table_number(comparison.value)} -> "
        f"{table_number(comparison.current)}, {change}"
    )
    if comparison.ci is not None:
        low, high = comparison.ci
        line += f", interval [{table_number(low)}, {table_number(high)}] (rows paired by {comparison.paired})"
    return line


def interval_line(result: Result) -> str:
    """One line under a table: each measure's bootstrap interval of the mean, and how it was found."""
    assert result.intervals is not None and result.bootstrap is not None
    settings = result.bootstrap
    parts = [
        f"{m.label} {_interval(result.intervals[m.key])}"
        for m in result.measures
        if m.key in result.intervals
    ]
    others = _other_intervals(result, result.intervals)
    parts += [f"{name} {_interval(bounds)}" for name, bounds in others]
    what = "intervals of the means and gated statistics" if others else "interval of the mean"
    return (
        f"{settings['level']:.4g} {what} ({settings['method']} bootstrap, "
        f"{settings['resamples']} resamples, seed {settings['seed']}): " + "; ".join(parts)
    )


def _other_intervals(result: Result, intervals: Intervals | None) -> list[tuple[str, tuple[float, float]]]:
    """The intervals of gated statistics other than the measures' means, by name."""
    keys = {m.key for m in result.measures}
    return [(name, bounds) for name, bounds in (intervals or {}).items() if name not in keys]


def _signed(text: str) -> str:
    return text if text.startswith("-") or text == "nan" else f"+{text}"


# --- Markdown ------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """Text for a GFM table cell: pipes escaped (inside code spans too, as GFM asks), no line breaks."""
    return " ".join(text.replace("|", "\\|").splitlines())


def _code(text: str) -> str:
    """Inline code that holds any backticks the text has (CommonMark: a longer fence)."""
    longest = 0
    current = 0
    for ch in text:
        current = current + 1 if ch == "`" else 0
        longest = max(longest, current)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _table(header: list[str], rows: list[list[str]], numeric: set[int]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    lines.append("|" + "|".join("---:" if i in numeric else "---" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


Intervals = Mapping[str, tuple[float, float]]


def markdown(result: Result, report: GateReport, intervals: Intervals | None = None) -> str:
    """The result as GitHub-flavoured Markdown: title, statistics, gates and baseline.

    ``intervals`` are bootstrap intervals (``--ci``): of measures' means by measure key, of
    other gated statistics by name.
    """
    lines = [f"### xent {result.command}: {result.title} · {result.unit.name}", ""]
    sources = ", ".join(f"{name.upper()} {_code(path)}" for name, path in result.sources.items())
    if sources:
        lines += [f"Sources: {sources}", ""]
    if result.calibration is not None:
        # The statistics of the whole input (the headline ECE first), before the per-row measures.
        lines += [
            *_table(["statistic", "value"], [list(f) for f in calibration_fields(result.calibration)], {1}),
            "",
        ]
    lines += _statistics(result, intervals)
    others = _other_intervals(result, intervals)
    if others:
        rows = [[name, table_number(result.statistic(name)), _interval(bounds)] for name, bounds in others]
        lines += ["", *_table(["statistic", "value", "interval"], rows, {1, 2})]
    if result.loss is not None:
        loss = result.loss
        lines += ["", f"Perplexity {table_number(loss.perplexity)}, accuracy {table_number(loss.accuracy)}."]
    if result.panel is not None:
        panel = [[key, table_number(value)] for key, value in result.panel.items()]
        lines += ["", *_table(["statistic", "value"], panel, {1})]
    if report.checks:
        failed = len(report.failed)
        verdict = f"{failed} of {len(report.checks)} failed" if failed else f"all {len(report.checks)} held"
        lines += ["", f"**Gates: {verdict}**", ""]
        rows = [_gate_row(check) for check in report.checks]
        lines += _table(["gate", "statistic", "value", "bound", "verdict"], rows, {2})
    if report.baseline is not None:
        lines += ["", f"**Baseline** {_code(report.baseline.file)}", ""]
        lines += _comparisons([report.baseline, *(c.baseline for c in report.checks if c.baseline)])
    return "\n".join(lines) + "\n"


def _statistics(result: Result, intervals: Intervals | None) -> list[str]:
    header = ["measure", "count", *SHOWN_STATISTICS]
    rows = []
    for m in result.measures:
        summary = result.summary(m.key)
        rows.append(
            [m.label, str(int(summary["count"])), *(table_number(summary[k]) for k in SHOWN_STATISTICS)]
        )
    if intervals:
        header.append("interval of the mean")
        for row, m in zip(rows, result.measures, strict=True):
            found = intervals.get(m.key)
            row.append(_interval(found) if found else "")
    return _table(header, rows, set(range(1, len(header))))


def _interval(bounds: tuple[float, float]) -> str:
    return f"[{table_number(bounds[0])}, {table_number(bounds[1])}]"


def _comparisons(comparisons: list[Comparison]) -> list[str]:
    """One row per statistic compared with the baseline (the headline first)."""
    rows, seen = [], set()
    for comparison in comparisons:
        if comparison.statistic in seen:
            continue
        seen.add(comparison.statistic)
        interval = ""
        if comparison.ci is not None:
            interval = f"{_interval(comparison.ci)} (paired by {comparison.paired})"
        rows.append(
            [
                comparison.statistic,
                table_number(comparison.value),
                table_number(comparison.current),
                _signed(table_number(comparison.change)),
                percent(comparison.relative_change),
                interval,
            ]
        )
    if not any(row[-1] for row in rows):
        rows = [row[:-1] for row in rows]
    header = ["statistic", "baseline", "this run", "change", "relative change", "interval of the change"]
    return _table(header[: len(rows[0])], rows, {1, 2, 3, 4})


def _gate_row(check: GateCheck) -> list[str]:
    gate = check.gate
    subject = f"{check.measure} {check.statistic}"
    if gate.against_baseline:
        subject += " change"
        bound = gate.bound_text
        comparison = check.baseline
        if gate.relative and check.limit is not None and comparison and math.isfinite(comparison.value):
            bound += f" ({table_number(check.limit)})"
        bound = ("≤ " if gate.direction == "increase" else "≥ -") + bound
    else:
        bound = ("≤ " if gate.direction == "above" else "≥ ") + gate.bound_text
    value = repr(float(check.value))
    return [_code(gate.option), subject, value, bound, "✅ held" if check.held else "❌ failed"]


# --- GitHub Actions ------------------------------------------------------------------------------


def escape_data(text: str) -> str:
    """A workflow command's message, escaped as GitHub's toolkit does (``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (``title=…``), escaped as ``escapeProperty`` does."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(result: Result, check: GateCheck) -> str:
    """``::error title=…::…`` for a broken gate: GitHub shows it on the run's summary page."""
    title = f"xent {result.command} gate failed: {check.gate.option}"
    return f"::error title={escape_property(title)}::{escape_data(failure_line(check))}"


def append_step_summary(path: str, text: str) -> None:
    """Append to ``$GITHUB_STEP_SUMMARY`` (the file GitHub renders as the job summary)."""
    try:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(text + "\n")
    except OSError as exc:
        raise OutputError(
            f"GITHUB_STEP_SUMMARY {path}: cannot write: {exc.strerror or exc}",
            hint="the result was written; check the path GitHub gave",
        ) from None


# --- JUnit XML -----------------------------------------------------------------------------------


def junit_xml(result: Result, report: GateReport) -> bytes:
    """JUnit XML: a ``testsuite`` of the command, a ``testcase`` per gate, a ``failure`` per broken one."""
    from xml.etree import ElementTree as ET

    failures = len(report.failed)
    counts = {"tests": str(len(report.checks)), "failures": str(failures), "errors": "0", "skipped": "0"}
    suites = ET.Element("testsuites", {"name": "xent", **counts, "time": "0"})
    suite = ET.SubElement(suites, "testsuite", {"name": f"xent {result.command}", **counts, "time": "0"})
    properties = ET.SubElement(suite, "properties")
    for name, path in result.sources.items():
        ET.SubElement(properties, "property", {"name": f"source.{name}", "value": path})
    ET.SubElement(properties, "property", {"name": "unit", "value": result.unit.name})
    for check in report.checks:
        case = ET.SubElement(
            suite,
            "testcase",
            {"name": check.gate.option, "classname": f"xent.{result.command}", "time": "0"},
        )
        line = failure_line(check)
        if not check.held:
            failure = ET.SubElement(case, "failure", {"message": line, "type": "GateFailed"})
            failure.text = line
        else:
            out = ET.SubElement(case, "system-out")
            out.text = f"held: {check.measure} {check.statistic} {float(check.value)!r}"
    ET.indent(suites)
    text: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return text + b"\n"


def write_file(option: str, path: Path, data: bytes) -> None:
    """``data`` into ``path``, atomically (a temporary file beside it, renamed into place)."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"{option} {path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise OutputError(f"{option} {path}: cannot write: {exc.strerror or exc}") from None


def _umask() -> int:
    from xent_cli.output import current_umask

    return current_umask()


# --- after the result is written ------------------------------------------------------------------


def publish(
    result: Result,
    report: GateReport,
    status: ExitStatus,
    *,
    junit: Path | None = None,
    github_actions: bool = False,
    step_summary: str | None = None,
    intervals: Mapping[str, tuple[float, float]] | None = None,
) -> ExitStatus:
    """The CI reports of a run whose result is written: annotations, JUnit file, job summary.

    A report that cannot be written is one error line and exit status 2; the
    others are still written.
    """
    if github_actions:
        for check in report.failed:
            messages.write(github_annotation(result, check))
    outcome = status
    if junit is not None:
        try:
            write_file(option("junit"), junit, junit_xml(result, report))
        except OutputError as exc:
            messages.error(str(exc))
            outcome = ExitStatus.ERROR
    if step_summary:
        try:
            append_step_summary(step_summary, markdown(result, report, intervals))
        except OutputError as exc:
            messages.error(str(exc))
            outcome = ExitStatus.ERROR
    return outcome
