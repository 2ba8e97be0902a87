"""``--weights W``: one weight per row of the predictions, from a column of them, a file or a list.

The weights are held in memory (8 bytes a row), as labels from a file of their own are.
A column of the predictions is read in a second pass over the file (it must be a file, not
stdin) and is left out of the outcomes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from xent_cli.errors import InputError, UsageError, option

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import ExitStack

    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.pipeline.align import InputSpec

HINT = f"{option('weights')}: finite numbers >= 0, not all 0, one per row of the predictions"


@dataclass
class Weights:
    """Every row's weight, where they came from, and whether they are a column of the predictions."""

    values: NDArray[np.float64]
    label: str
    column: str | None

    def block(self, start: int, rows: int, pred_label: str) -> NDArray[np.float64]:
        """The weights of rows ``start`` to ``start + rows``; too few is an error."""
        if start + rows > self.values.shape[0]:
            raise InputError(
                f"{self.label} has {self.values.shape[0]} weights but {pred_label} has more rows",
                hint=HINT,
            )
        return self.values[start : start + rows]

    def finish(self, rows: int, pred_label: str) -> None:
        if self.values.shape[0] != rows:
            raise InputError(
                f"{self.label} has {self.values.shape[0]} weights but {pred_label} has {rows} rows",
                hint=HINT,
            )


ALL_ZERO = f"{option('weights')}: every weight is 0"


def check_not_all_zero(weights: NDArray[np.float64]) -> None:
    """Some weight must be positive: checked over every row at the merge (one shard may be all 0)."""
    if not (weights > 0).any():
        raise InputError(ALL_ZERO, hint=HINT)


def read_weights(text: str, pred_spec: InputSpec) -> Weights:
    """The weights ``--weights`` names: a labels-like source (file or inline list), else a column of PRED.

    That they are not all 0 is checked over every shard's rows, when the partials merge.
    """
    import numpy as np

    from xent_cli.io.labels import read_labels
    from xent_cli.io.sources import Source
    from xent_cli.pipeline.tasks import target_source

    source = target_source(text, pred_spec.source)
    if source is not None and source.inline is not None:
        source = Source(label="--weights", inline=source.inline)
    texts: list[str]
    if source is not None:
        if source.is_stdin and pred_spec.source.is_stdin:
            raise UsageError("only one source can be stdin ('-')")
        labels = read_labels(source, replace(pred_spec.options, label_column=None))
        texts, label = labels.values, labels.label
        where: Callable[[int], str] = labels.where
        column = None
    else:
        from xent_cli.io.labels import read_sample_columns

        if pred_spec.source.is_stdin:
            raise UsageError(
                f"{option('weights')} {text}: a column of the predictions is read in a second pass, "
                "so PRED must be a "
                "file, not stdin",
                hint="save the predictions to a file, or give the weights as a file of their own",
            )
        blocks = read_sample_columns(pred_spec.source, pred_spec.options, [text], [option("weights")])
        texts = [value for block in blocks for value in block[0]]
        label = f"{pred_spec.label} column {text!r}"
        column = text

        def where(index: int) -> str:
            return f"{label}: row {index + 1}"

    try:  # NumPy parses the texts in C; a text that is no number is found below, by its row
        values = np.asarray(texts, dtype=np.float64)
    except ValueError:
        values = np.array([_number(item) for item in texts], dtype=np.float64)
    bad = ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{where(i)}: weight {texts[i]!r} is not a finite number >= 0", hint=HINT)
    return Weights(values, label, column)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def without_column(spec: InputSpec, outcomes: list[str] | None, column: str) -> InputSpec | None:
    """``spec`` reading every outcome but the weights column, or None when it is not an outcome."""
    if not outcomes or column not in outcomes:
        return None
    kept = tuple(name for name in outcomes if name != column)
    return replace(spec, options=replace(spec.options, columns=kept))


def weighted_note(weights: Weights) -> str:
    """The note a weighted result carries: what the weights are and what they change."""
    return (
        f"weighted by {weights.label}: the summary's mean, std_error and percentiles are weighted "
        "(percentiles by the inverted weighted CDF), sum is Σ w·x"
    )


def task_weights(text: str | None, spec: InputSpec, closer: ExitStack) -> tuple[Weights | None, InputSpec]:
    """The weights ``--weights`` names for one task's source, and the spec that reads its outcomes.

    A weights column of the source is left out of its outcomes (the source is opened once
    to see them).
    """
    if text is None:
        return None, spec
    from xent_cli.pipeline.align import open_table

    weights = read_weights(text, spec)
    if weights.column is not None:
        narrower = without_column(spec, open_table(spec, closer).outcomes, weights.column)
        if narrower is not None:
            spec = narrower
    return weights, spec
