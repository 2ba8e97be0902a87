"""Plans: what a command will compute, as a list of tasks and how to merge their partials.

A plan is built from settings that are already validated; it splits sharded
sources into one task per shard (or pair of shards), so whoever runs the plan
never asks whether the input was sharded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from xent_cli.errors import InputError, UsageError, option
from xent_cli.io.sources import Source
from xent_cli.pipeline.align import InputSpec
from xent_cli.pipeline.engine import Engine, Task
from xent_cli.pipeline.partials import ResultSpec
from xent_cli.pipeline.tasks import (
    INFO_MEASURES,
    LossSettings,
    PairSettings,
    entropy_column_task,
    entropy_task,
    info_samples_task,
    info_table_task,
    loss_task,
    pair_task,
    target_source,
    topk_loss_task,
)
from xent_cli.results import Result, Smoothing, Unit, statistic_names


@dataclass(frozen=True)
class Plan:
    """Tasks to run, in order, and what merging their partials needs."""

    spec: ResultSpec
    tasks: list[Task]
    # The statistics a gate may name, known before any work is done.
    statistics: list[str]
    # Every source, for the -o check and the progress bar.
    inputs: list[Source] = field(default_factory=list)


def split(spec: InputSpec) -> list[InputSpec]:
    """One spec per shard (just ``spec`` when it is not sharded)."""
    return [replace(spec, source=source) for source in spec.source.shard_sources()]


def pair_shards(p_spec: InputSpec, q_spec: InputSpec) -> list[tuple[InputSpec, InputSpec]]:
    """P's shards with Q's, in order; a one-file Q (say an inline reference) goes with every P shard."""
    p_parts, q_parts = split(p_spec), split(q_spec)
    if q_spec.source.shards is None and p_spec.source.shards is not None:
        return [(p, q_spec) for p in p_parts]
    if p_spec.source.shards is None and q_spec.source.shards is not None:
        return [(p_spec, q) for q in q_parts]
    if len(p_parts) != len(q_parts):
        raise InputError(
            f"{p_spec.label} has {len(p_parts)} shards but {q_spec.label} has {len(q_parts)}",
            hint="shards pair in order: give both the same number",
        )
    return list(zip(p_parts, q_parts, strict=True))


def entropy_plan(
    spec: InputSpec,
    *,
    unit: Unit,
    tolerance: float,
    column: str | None = None,
    correction: str = "none",
    explain: bool = False,
    explain_top: int | None = None,
    weights: str | None = None,
    pair_position: bool = False,
) -> Plan:
    if column is None and correction != "none":
        raise UsageError(
            f"{option('correction')} applies to entropies estimated from samples ({option('column')} COL)"
        )
    if column is not None and weights is not None:
        raise UsageError(
            f"{option('weights')} weights rows of distributions; "
            f"with {option('column')} each row is one sample"
        )
    weight_inputs = _weights_source(weights, spec)
    if column is not None:
        _one_file(spec, option("column"))
        options = {"unit": unit, "correction": correction, "explain": explain}
        tasks = [Task(entropy_column_task, (spec, column), options)]
        title = f"Entropy of column {column!r}"
        sources = {"p": spec.label, "column": column}
    else:
        options = {
            "unit": unit,
            "tolerance": tolerance,
            "explain": explain,
            "weights": weights,
            "pair_position": pair_position,
        }
        tasks = [Task(entropy_task, (part,), options) for part in split(spec)]
        title = "Entropy H(P)"
        sources = {"p": spec.label}
    return Plan(
        ResultSpec(
            "entropy", title, unit, sources, explain_top if explain else None, weighted=weights is not None
        ),
        tasks,
        statistic_names(["entropy"]),
        [spec.source, *weight_inputs],
    )


def pair_plan(
    p_spec: InputSpec,
    q_spec: InputSpec | None,
    settings: PairSettings,
    *,
    explain_top: int | None = None,
) -> Plan:
    """A two-distribution command; without Q, P must be one table with two numeric columns."""
    command = settings.pair_command
    if settings.explain and command.measures[0].terms is None:
        headline = command.measures[0].key
        raise UsageError(
            f"{option('explain')}: {headline} has no per-outcome contributions",
            hint="list a measure that has (kl, kl_reverse, cross_entropy, js, tv) first in "
            + option("measures"),
        )
    smoothing = Smoothing(settings.smoothing) if settings.smoothing else None
    if settings.top_logprobs and (settings.target is not None or settings.join_ids or settings.explain):
        raise UsageError(
            f"{option('as_')} top-logprobs pairs rows by position; {option('target')}, {option('id_column')} "
            f"and {option('explain')} do not apply"
        )
    if settings.target is not None and q_spec is None:
        raise UsageError(f"{option('target')} needs two sources: P (the reference) and Q (the candidate)")
    if settings.weights is not None and settings.join_ids:
        raise UsageError(
            f"{option('weights')} pairs with P's rows by position; "
            f"it cannot be used with {option('id_column')}"
        )
    weight_inputs = _weights_source(settings.weights, p_spec)
    if q_spec is None:
        _one_file(p_spec, "one source read as P and Q")
        tasks = [Task(pair_task, (p_spec, None, settings))]
        sources = {"p": p_spec.label}
        inputs = [p_spec.source]
    else:
        if p_spec.source.is_stdin and q_spec.source.is_stdin:
            raise UsageError("only one source can be stdin ('-')")
        tasks = [Task(pair_task, (p, q, settings)) for p, q in pair_shards(p_spec, q_spec)]
        sources = {"p": p_spec.label, "q": q_spec.label}
        inputs = [p_spec.source, q_spec.source]
    title = (
        f"{command.title} of top-k lists (coarsened: a lower bound)"
        if settings.top_logprobs
        else command.title
    )
    spec = ResultSpec(
        command.command,
        title,
        settings.unit,
        sources,
        explain_top,
        smoothing,
        weighted=settings.weights is not None,
    )
    inputs += weight_inputs
    extra = PANEL_STATISTICS + (PANEL_TARGET_STATISTICS if settings.target else ()) if settings.panel else ()
    if settings.target is not None:
        labels = target_source(settings.target, p_spec.source)
        if labels is not None:
            inputs.append(labels)
            if p_spec.source.shards is not None:
                raise UsageError(f"with sharded P, {option('target')} must name a column of the shards")
    return Plan(spec, tasks, statistic_names(command.keys, extra), inputs)


# The panel's own statistics (compare), beside every measure's kl.mean, kl.p99, …
PANEL_STATISTICS = ("same_top1", "same_top1_std_error")
PANEL_TARGET_STATISTICS = (
    "nll_p_std_error", "nll_q_std_error", "ppl_p", "ppl_p_std_error", "ppl_q", "ppl_q_std_error",
    "ln_ppl_ratio", "ln_ppl_ratio_std_error", "ppl_ratio", "ppl_ratio_std_error", "logprob_correlation",
    "delta_p.rms",
)  # fmt: skip


def loss_plan(spec: InputSpec, settings: LossSettings) -> Plan:
    if settings.top_logprobs:
        # Each position says which token was sampled: the source is its own target.
        sources = {"pred": spec.label, "target": f"{spec.label} (sampled tokens)"}
        result = ResultSpec("loss", "Log loss of the sampled tokens", settings.unit, sources)
        tasks = [Task(topk_loss_task, (part, settings)) for part in split(spec)]
        return Plan(result, tasks, statistic_names(["log_loss", "accuracy"], ("perplexity",)), [spec.source])
    if not settings.target:
        raise UsageError(
            f"{option('target')} is required: a column of PRED, a labels file, or a list like 0,2,1"
        )
    labels = target_source(settings.target, spec.source)
    if spec.source.shards is not None and labels is not None:
        raise UsageError(f"with sharded predictions, {option('target')} must name a column of the shards")
    weight_inputs = _weights_source(settings.weights, spec)
    tasks = [Task(loss_task, (part, settings)) for part in split(spec)]
    target_label = labels.label if labels is not None else f"{spec.label} column {settings.target!r}"
    result = ResultSpec(
        "loss",
        "Log loss (mean negative log-likelihood)",
        settings.unit,
        {"pred": spec.label, "target": target_label},
        weighted=settings.weights is not None,
    )
    inputs = [spec.source, *([labels] if labels is not None else []), *weight_inputs]
    return Plan(result, tasks, statistic_names(["log_loss", "accuracy"], ("perplexity",)), inputs)


def info_plan(
    spec: InputSpec,
    *,
    unit: Unit,
    tolerance: float,
    x: str | None,
    y: str | None,
    correction: str,
    average: str = "arithmetic",
) -> Plan:
    if (x is None) != (y is None):
        given, missing = (option("x"), option("y")) if x is not None else (option("y"), option("x"))
        raise UsageError(f"{given} needs {missing}: samples mode names both label columns")
    if x is None and correction != "none":
        raise UsageError(
            f"{option('correction')} applies to estimates from samples ({option('x')} COL {option('y')} COL)"
        )
    _one_file(spec, "xent info")
    if x is not None and y is not None:
        options = {"unit": unit, "correction": correction, "average": average}
        task = Task(info_samples_task, (spec, x, y), options)
        sources = {"samples": spec.label, "x": x, "y": y}
    else:
        task = Task(info_table_task, (spec,), {"unit": unit, "tolerance": tolerance, "average": average})
        sources = {"joint": spec.label}
    keys = [key for key, _, _ in INFO_MEASURES]
    return Plan(
        ResultSpec("info", "Information of X and Y", unit, sources),
        [task],
        statistic_names(keys),
        [spec.source],
    )


def _weights_source(weights: str | None, spec: InputSpec) -> list[Source]:
    """The source ``--weights`` names beside ``spec`` (none for a column of it), checked against shards."""
    if weights is None:
        return []
    source = target_source(weights, spec.source)
    if source is None:
        return []
    if spec.source.shards is not None:
        raise UsageError(
            f"with sharded predictions, {option('weights')} must name a column of the shards",
            hint="each shard's rows are weighted by a column of its own",
        )
    return [] if source.inline is not None else [source]


def _one_file(spec: InputSpec, what: str) -> None:
    if spec.source.shards is not None:
        raise UsageError(
            f"{spec.label}: is {len(spec.source.shards)} shards; {what} reads one file",
            hint="shards work with entropy, cross-entropy, kl, js, compare and loss",
        )


def input_paths(plan: Plan) -> list[Path]:
    """Every file the plan reads (shards included), for the progress bar."""
    return [path for source in plan.inputs for path in source.local_paths]


def run(plan: Plan, engine: Engine | None = None) -> Result:
    """Run every task of ``plan`` (in this process by default) and merge their partials."""
    return (engine or Engine()).result(plan.tasks, plan.spec)
