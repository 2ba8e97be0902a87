"""Run commands' plans in-process, as the local engine does, for tests below the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xent_cli.io.readers import ReadOptions
from xent_cli.io.sources import resolve
from xent_cli.pipeline.align import InputSpec
from xent_cli.pipeline.plan import entropy_plan, pair_plan, run
from xent_cli.pipeline.tasks import PairSettings
from xent_cli.results import Result, Unit

NATS = Unit.parse("e")


def spec(source: str | Path, kind: str = "probs", **options: object) -> InputSpec:
    """An input as the CLI builds it: a path or inline list, read with ``ReadOptions(**options)``."""
    return InputSpec(resolve(str(source), stdin_is_terminal=True), ReadOptions(**options), kind)  # type: ignore[arg-type]


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


def kl(
    p: InputSpec, q: InputSpec | None, join_ids: bool = False, smoothing: float | None = None
) -> np.ndarray:
    """KL per row in nats, by the kl plan."""
    result = run_pair("kl", p, q, unit=NATS, tolerance=1e-6, smoothing=smoothing, join_ids=join_ids)
    return result.headline.values


def write_rows_csv(path: Path, rows: np.ndarray, prefix: str, label: bool = False) -> None:
    """A CSV of ``rows`` (columns c0, c1, …) with ids PREFIX0, PREFIX1, …; ``label``: each row's argmax."""
    names = [f"c{i}" for i in range(rows.shape[1])]
    lines = ["id," + ",".join(names) + (",label" if label else "")]
    for i, row in enumerate(rows):
        extra = f",c{int(np.argmax(row))}" if label else ""
        lines.append(f"{prefix}{i}," + ",".join(repr(float(v)) for v in row) + extra)
    path.write_text("\n".join(lines) + "\n")
