"""Running a command's plan: check the gates and the output target, run the tasks, write the result.

The one execution path of every command: :func:`execute` takes the plan a command built,
picks the engine (local, or Dask when ``--engine dask`` or a scheduler is given), runs the
plan's tasks, and emits the merged result where ``-o`` or stdout says.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from xent_cli.cli import env
from xent_cli.cli.params import GateParams, OutputParams, ScaleParams
from xent_cli.errors import UsageError

if TYPE_CHECKING:
    from xent_cli.io.sources import Source
    from xent_cli.output import OutputSettings
    from xent_cli.output import Target as OutputTarget
    from xent_cli.pipeline.engine import Needs
    from xent_cli.pipeline.plan import Plan
    from xent_cli.results import Gate


def refuse_ci_with_weights() -> None:
    """``--ci`` with ``--weights``: the bootstrap resamples rows unweighted; no weighted mean gets one."""
    raise UsageError(
        "--ci resamples the rows unweighted; it cannot be combined with --weights",
        hint="leave out --ci, or --weights",
    )


def resolve_source(spec: str | None) -> Source:
    from xent_cli.io.sources import resolve

    return resolve(spec, stdin_is_terminal=env.current().stdin_isatty)


def _unaliased(gate: Gate, statistics: list[str]) -> Gate:
    """A gate on a measure's short name (``top1``, ``ce``, ``max_abs``, as ``--measures`` takes
    them) names the measure's own statistic (``top1_agreement``)."""
    from xent_cli.cli.measure_names import MEASURE_ALIASES

    if gate.statistic is None or gate.statistic in statistics:
        return gate
    measure, dot, rest = gate.statistic.partition(".")
    full = MEASURE_ALIASES.get(measure)
    if full is None or full not in statistics:
        return gate
    return replace(gate, statistic=full + dot + rest)


def execute(plan: Plan, *, output: OutputParams, gates: GateParams, scale: ScaleParams | None = None) -> int:
    """Check the gates and the output target, run the plan's tasks, merge, and write the result."""
    from xent_cli import messages, progress
    from xent_cli.gates import evaluate
    from xent_cli.output import OutputSettings, emit, prepare_target
    from xent_cli.pipeline.engine import Engine
    from xent_cli.pipeline.plan import input_paths

    environment = env.current()
    from xent_cli.intervals import interval_base, interval_statistics

    checks = [_unaliased(gate, plan.statistics) for gate in gates.gates]
    for gate in checks:
        if gate.statistic is None:
            continue
        base = interval_base(gate.statistic)
        if gate.statistic not in plan.statistics and (base is None or base not in plan.statistics):
            raise UsageError(
                f"--fail-{gate.direction} {gate.statistic}=…: {plan.spec.command} has no statistic "
                f"{gate.statistic!r}",
                hint=f"known: {', '.join(_shown_statistics(plan.statistics))}",
            )
        served = interval_statistics(plan.spec.command, plan.statistics)
        if base is not None and base not in served:
            raise UsageError(
                f"{gate.option}: --ci gives no interval of {base} (the bootstrap keeps one sum per "
                "resample, not the rows a percentile, extreme or binned statistic needs)",
                hint=f"intervals: {', '.join(_shown_statistics(served))}",
            )
    baseline = None
    if gates.baseline is not None:
        from xent_cli import baseline as baselines

        baseline = baselines.load(gates.baseline, plan.spec.command, plan.spec.unit)
    for gate in checks:
        if gate.against_baseline and baseline is None:
            raise UsageError(
                f"{gate.option} needs --baseline FILE",
                hint=f"a JSON result of an earlier run: xent {plan.spec.command} … --json -o FILE",
            )
    intervals = None
    if gates.ci is not None:
        from xent_cli.intervals import IntervalSettings

        if plan.spec.command == "info":
            raise UsageError("--ci resamples per-row values; info computes one table", hint="leave out --ci")
        if plan.spec.weighted:
            refuse_ci_with_weights()
        intervals = IntervalSettings(gates.ci, gates.bootstrap, gates.seed)
    for gate in checks:
        if gate.statistic is not None and gate.statistic.endswith((".ci_low", ".ci_high")):
            if intervals is None:
                raise UsageError(
                    f"{gate.option}: needs --ci LEVEL (the bootstrap interval of the mean)",
                    hint="e.g. --ci 0.95",
                )
            if gate.against_baseline:
                raise UsageError(
                    f"{gate.option}: compare the mean with the baseline (NAME=X); --ci gives it an interval"
                )
    paths = input_paths(plan)
    settings = OutputSettings(
        format=output.format_name(),
        value_only=output.value,
        max_rows=output.rows,
        worst=output.worst,
        path=output.output,
        gates=checks,
        inputs=plan.inputs,
        stdout_is_terminal=environment.stdout_isatty,
        stdout_closed=environment.stdout_closed,
        color=output.color,
        no_color_env=environment.no_color,
        width=environment.columns,
    )
    # Where the result goes is checked before any work: a bad -o fails at once.
    target = prepare_target(settings)
    engine = Engine("local")
    if scale is not None and scale.uses_dask:
        scheduler_file = str(scale.scheduler_file) if scale.scheduler_file is not None else None
        engine = Engine("dask", scale.scheduler, scheduler_file, scale.worker_timeout)
    bar = None
    if environment.progress_allowed and progress.large_input(paths, environment.progress_min_bytes):
        bar = progress.RowProgress(plan.spec.command, True)
    with engine.session(bar) as session:
        # On Dask, only what the output shows travels to this process: the summaries always,
        # the per-row values only when they are written.
        needs = _needs(settings, target)
        if intervals is not None:
            needs = replace(needs, resamples=intervals.resamples, seed=intervals.seed)
        result = session.result(plan.tasks, plan.spec, needs)
        paired = None
        if intervals is not None:
            from xent_cli.intervals import PairedChange, attach

            gated = [gate.statistic or result.headline_key for gate in checks]
            attach(result, intervals, [interval_base(name) or name for name in gated])
            settings.intervals = result.intervals
            if baseline is not None:
                paired = PairedChange(result, baseline, intervals)
        report = evaluate(result, checks, baseline, paired)
        if not output.quiet:
            for note in [*result.notes, *(paired.notes if paired is not None else [])]:
                messages.note(note)
        status = emit(result, settings, target, report)
        if gates.junit is None and not environment.github_actions and not environment.step_summary:
            return status
        from xent_cli.reports import publish

        return publish(
            result,
            report,
            status,
            junit=gates.junit,
            github_actions=environment.github_actions,
            step_summary=environment.step_summary,
            intervals=settings.intervals,
        )


def _needs(settings: OutputSettings, target: OutputTarget) -> Needs:
    """What the output shows beside the summaries."""
    from xent_cli.output import resolve_format
    from xent_cli.pipeline.engine import Needs

    if settings.value_only:
        return Needs(rows=False)
    fmt = resolve_format(settings, settings.stdout_is_terminal and target.kind == "stdout", target)
    if fmt == "table":
        return Needs(rows=False, head=max(settings.max_rows, 1), worst=settings.worst, histogram=True)
    if fmt == "markdown" or (fmt == "json" and settings.max_rows == 0):
        return Needs(rows=False, worst=settings.worst)
    return Needs(rows=True, worst=settings.worst)


def _shown_statistics(names: list[str]) -> list[str]:
    """The names to list in an error: every measure, and the summary fields once, as a pattern."""
    measures = [n for n in names if "." not in n]
    fields = list(dict.fromkeys(n.split(".", 1)[1] for n in names if "." in n))
    return [*measures, f"MEASURE.{{{','.join(fields)}}}"] if fields else measures
