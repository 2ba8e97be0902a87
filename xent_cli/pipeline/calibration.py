"""``xent calibration``: the task that bins one source's predictions, and the merge of its partials.

The task reads predictions and labels as ``loss`` does
(:class:`~xent_cli.pipeline.tasks.LabelledReader`) and returns, beside the
per-row Brier terms, confidences and correctness, a :class:`CalibrationPart`:
exact per-bin sums (equal-width bins) that merge across blocks, shards and
Dask workers. Quantile bins need every confidence first, so they are made at
the merge from the per-row values (one process: the local engine).
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xent_cli.columns.buffer import RowBuffer
from xent_cli.errors import InputError, UsageError, option
from xent_cli.pipeline.partials import MeasurePart, Partial
from xent_cli.progress import RowCounter
from xent_cli.results import CALIBRATION_STATISTICS, CalibrationSummary

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.core.calibration import ClasswiseBins, ReliabilityBins
    from xent_cli.core.distributions import Kind
    from xent_cli.core.stats import ExactSum
    from xent_cli.io.readers import Block, Table
    from xent_cli.pipeline.align import InputSpec
    from xent_cli.pipeline.plan import Plan
    from xent_cli.results import Measure


# The statistics of a calibration result (gates name them; JSON ``summary`` holds them).


@dataclass(frozen=True)
class CalibrationSettings:
    """``xent calibration`` options beyond the predictions' own."""

    target: str
    tolerance: float
    bins: int = 15
    strategy: str = "uniform"
    classwise: bool = False
    join_ids: bool = False
    weights: str | None = None
    # --pair position: labels and weights pair with the rows in order even when their ids differ.
    pair_position: bool = False


@dataclass
class CalibrationPart:
    """What one task's rows add to the calibration: exact sums, and the bins when they are fixed."""

    n_bins: int
    strategy: str
    weight: ExactSum
    brier: ExactSum
    bins: ReliabilityBins | None
    classwise: ClasswiseBins | None
    classes: list[str]
    binary: bool
    weighted: bool = False

    def merge(self, other: CalibrationPart) -> CalibrationPart:
        return CalibrationPart(
            self.n_bins,
            self.strategy,
            self.weight + other.weight,
            self.brier + other.brier,
            None if self.bins is None or other.bins is None else self.bins.merge(other.bins),
            None
            if self.classwise is None or other.classwise is None
            else self.classwise.merge(other.classwise),
            self.classes,
            self.binary,
            self.weighted,
        )


def calibration_task(
    pred_spec: InputSpec, settings: CalibrationSettings, *, on_rows: RowCounter | None = None
) -> Partial:
    """Top-label reliability bins, Brier terms and accuracy of predictions against true labels."""
    import numpy as np

    from xent_cli.core.calibration import ClasswiseBins, ReliabilityBins, uniform_edges
    from xent_cli.core.stats import ExactSum
    from xent_cli.pipeline.tasks import LabelledReader
    from xent_cli.pipeline.tasks.common import _layout_of

    reader = LabelledReader(
        pred_spec,
        settings.target,
        join_ids=settings.join_ids,
        weights=settings.weights,
        pair_position=settings.pair_position,
        on_rows=on_rows,
    )
    weight_parts = RowBuffer() if settings.weights is not None else None
    edges = uniform_edges(settings.bins)
    bins = ReliabilityBins(edges) if settings.strategy == "uniform" else None
    classwise: ClasswiseBins | None = None
    weight, brier_sum = ExactSum(), ExactSum()
    brier_parts, confidence_parts, correct_parts = RowBuffer(), RowBuffer(), RowBuffer()
    ids: list[str] = []
    n_classes = 0
    with ExitStack() as closer:
        for table, block, targets, _ in reader.blocks(closer):
            probs = _block_probs(table, block, pred_spec.kind, settings.tolerance, reader.binary)
            brier, confidence, correct = _block_rows(probs, targets)
            n_classes = probs.shape[1]
            weights = reader.block_weights(block)
            if settings.classwise:
                if classwise is None:
                    classwise = ClasswiseBins(edges, n_classes)
                classwise.add(probs, targets, weights)
            if bins is not None:
                bins.add(confidence, correct, weights)
            weight.add(np.ones(len(block)) if weights is None else weights)
            brier_sum.add(brier if weights is None else brier * weights)
            if weight_parts is not None and weights is not None:
                weight_parts.append(weights)
            brier_parts.append(brier)
            confidence_parts.append(confidence)
            correct_parts.append(correct)
            if block.ids is not None:
                ids.extend(block.ids)
    if reader.seen == 0:
        raise InputError(f"{pred_spec.label}: has no rows")
    table = reader.table
    classes = ["0", "1"] if reader.binary else list(table.outcomes or [str(k) for k in range(n_classes)])
    return Partial(
        measures=[
            MeasurePart("brier", "Brier", brier_parts.finish(), scaling="none"),
            MeasurePart("confidence", "confidence", confidence_parts.finish(), scaling="none"),
            MeasurePart("correct", "correct", correct_parts.finish(), scaling="none"),
            *(
                [MeasurePart("weight", "weight", weight_parts.finish(), scaling="none")]
                if weight_parts
                else []
            ),
        ],
        rows_read=reader.seen,
        ids=ids if len(ids) == reader.seen else None,
        notes=reader.notes,
        layouts={"pred": _layout_of(table)},
        sources={"pred": pred_spec.label, "target": reader.target_label},
        calibration=CalibrationPart(
            settings.bins,
            settings.strategy,
            weight,
            brier_sum,
            bins,
            classwise,
            classes,
            reader.binary,
            settings.weights is not None,
        ),
    )


def _block_probs(
    table: Table, block: Block, kind: Kind, tolerance: float, binary: bool
) -> NDArray[np.float64]:
    """The block's rows as probabilities; one column of P(y = 1) (or its logit) as two, ``(1 − p, p)``."""
    from xent_cli.core.calibration import binary_probs, given_probs
    from xent_cli.pipeline.align import to_distributions
    from xent_cli.pipeline.tasks import binary_scores

    if binary:
        return binary_probs(binary_scores(table, block, kind), kind)
    return given_probs(to_distributions(table, block, kind, tolerance))


def _block_rows(
    probs: NDArray[np.float64], targets: NDArray[np.intp]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Per row: the Brier term (as scikit-learn scales it), the confidence, and 1.0 where right."""
    import numpy as np

    from xent_cli.core.calibration import brier_rows, brier_scale, top_label

    confidence, predicted = top_label(probs)
    brier = brier_rows(probs, targets)
    scale = brier_scale(probs.shape[1])
    if scale != 1.0:
        brier *= scale
    return brier, confidence, (predicted == targets).astype(np.float64)


def summarize(parts: list[CalibrationPart], measures: list[Measure] | None) -> CalibrationSummary:
    """The calibration of every task's rows together.

    ``measures`` are the merged per-row values (brier, confidence, correct):
    quantile bins are made from them; the Dask engine, which leaves them on the
    workers, passes None (the command refuses ``--strategy quantile`` there).
    """
    from functools import reduce

    import numpy as np

    from xent_cli.core.calibration import ReliabilityBins, quantile_edges

    part = reduce(lambda a, b: a.merge(b), parts)
    bins = part.bins
    if bins is None:
        if measures is None:
            raise UsageError(
                f"{option('strategy')} quantile needs every row in one process: use the local engine"
            )
        confidence, correct = measures[1].values, measures[2].values
        weights = np.asarray(measures[3].values) if len(measures) > 3 else None
        bins = ReliabilityBins(quantile_edges(np.asarray(confidence), part.n_bins))
        bins.add(np.asarray(confidence), np.asarray(correct), weights)
    total = part.weight.exact()
    if total == 0:
        from xent_cli.pipeline.weights import ALL_ZERO, HINT

        raise InputError(ALL_ZERO, hint=HINT)
    stats = bins.statistics()
    classwise: dict[str, float] | None = None
    classwise_ece = None
    if part.classwise is not None:
        eces = part.classwise.ece()
        classwise = {name: float(value) for name, value in zip(part.classes, eces.tolist(), strict=True)}
        classwise_ece = float(np.mean(eces))
    return CalibrationSummary(
        ece=stats["ece"],
        mce=stats["mce"],
        rmsce=stats["rmsce"],
        brier=float(part.brier.exact() / total) if total else math.nan,
        accuracy=stats["accuracy"],
        confidence=stats["confidence"],
        count=int(bins.counts.sum()),
        n_bins=part.n_bins,
        strategy=part.strategy,
        bins=bins.rows(),
        binary=part.binary,
        classwise=classwise,
        classwise_ece=classwise_ece,
        weighted=part.weighted,
    )


def calibration_statistics(classwise: bool) -> tuple[str, ...]:
    """The names a gate may use: every statistic, and ``classwise_ece`` with ``--classwise``."""
    return CALIBRATION_STATISTICS + (("classwise_ece",) if classwise else ())


def calibration_plan(spec: InputSpec, settings: CalibrationSettings) -> Plan:
    """One task per shard of the predictions; the labels are a column of them or one source."""
    from xent_cli.pipeline.engine import Task
    from xent_cli.pipeline.partials import ResultSpec
    from xent_cli.pipeline.plan import Plan, split
    from xent_cli.pipeline.tasks import target_source
    from xent_cli.results import Unit, statistic_names

    if not settings.target:
        raise UsageError(
            f"{option('target')} is required: a column of PRED, a labels file, or a list like 0,2,1"
        )
    if spec.kind not in ("probs", "weights", "logits", "logprobs"):
        raise UsageError(
            f"{option('as_')} {spec.kind}: calibration reads probabilities, weights, logits or logprobs"
        )
    labels = target_source(settings.target, spec.source)
    if spec.source.shards is not None and labels is not None:
        raise UsageError(f"with sharded predictions, {option('target')} must name a column of the shards")
    target_label = labels.label if labels is not None else f"{spec.label} column {settings.target!r}"
    result = ResultSpec(
        "calibration",
        f"Calibration (top-label, {settings.bins} {settings.strategy} bins)",
        Unit(1.0, "probability"),
        {"pred": spec.label, "target": target_label},
    )
    tasks = [Task(calibration_task, (part, settings)) for part in split(spec)]
    statistics = [*calibration_statistics(settings.classwise), *statistic_names(["confidence", "correct"])]
    statistics += [name for name in statistic_names(["brier"]) if "." in name]
    statistics = list(dict.fromkeys(statistics))  # confidence is both a statistic and a measure
    inputs = [spec.source, *([labels] if labels is not None else [])]
    return Plan(result, tasks, statistics, inputs)
