"""Run commands' plans in-process, as the local engine does, for tests below the CLI."""

from __future__ import annotations

from xent_cli.pipeline.align import InputSpec
from xent_cli.pipeline.plan import entropy_plan, pair_plan, run
from xent_cli.pipeline.tasks import PairSettings
from xent_cli.results import Result, Unit


def run_entropy(spec: InputSpec, *, unit: Unit, tolerance: float = 1e-6) -> Result:
    return run(entropy_plan(spec, unit=unit, tolerance=tolerance))


def run_pair(
    command: str,
    p: InputSpec,
    q: InputSpec | None,
    *,
    unit: Unit,
    tolerance: float = 1e-6,
    smoothing: float | None = None,
    join_ids: bool = False,
    explain: bool = False,
) -> Result:
    settings = PairSettings(command, unit, tolerance, smoothing=smoothing, join_ids=join_ids, explain=explain)
    return run(pair_plan(p, q, settings))
