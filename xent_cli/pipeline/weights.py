"""``--weights W``: one weight per row of the predictions, from a column of them, a file or a list.

The weights are held in memory (8 bytes a row), as labels from a file of their own are.
A column of the predictions is read in the same pass as the outcomes where the reader
carries it in each block (delimited text, Parquet, Arrow: ``ReadOptions.weight_column``,
``Block.weights``), else in a second pass over the file (JSON); either way it is left out of the
outcomes, so PRED is opened twice: stdin or a pipe is first copied to a temporary file
(:func:`~xent_cli.io.sources.reopenable`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from xent_cli.errors import InputError, UsageError, option
from xent_cli.io.table import WEIGHTS_HINT

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import ExitStack

    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.io.sources import Source
    from xent_cli.io.table import Block, Labels, Table
    from xent_cli.pipeline.align import InputSpec

HINT = WEIGHTS_HINT


@dataclass
class Weights:
    """Every row's weight, where they came from, and whether they are a column of the predictions.

    ``values`` is None for a column until it is known: taken from the blocks as they are
    read (:meth:`take`), or read by ``load`` (a second pass) when the reader does not carry it.
    """

    values: NDArray[np.float64] | None
    label: str
    column: str | None
    load: Callable[[], NDArray[np.float64]] | None = None
    # The blocks' own weights, in order (a column the reader carries).
    carried: list[NDArray[np.float64]] = field(default_factory=list)
    # Some block did not carry its weights: every weight comes from ``values`` or ``load``.
    uncarried: bool = False
    # Weights from a file of their own, with its ids (if any) and the notes of their pairing.
    file: Labels | None = None
    # ``--pair position``: a file's ids that differ from the predictions' are a note, not an error.
    pair_position: bool = False
    # A column: the predictions' source, copied to a file when it can be read only once.
    source: Source | None = None

    @property
    def notes(self) -> list[str]:
        """What pairing the weights with the rows noted (``--pair position`` over differing ids)."""
        return [] if self.file is None else self.file.notes

    def check_ids(self, table: Table | None, block: Block, start: int) -> None:
        """A weights file pairs with the rows by position: where both have ids, they must agree.

        The same check, error and ``--pair position`` note as for ``--target``'s labels
        (:func:`~xent_cli.pipeline.align.check_same_ids`); ``start`` is the block's first row.
        """
        if self.file is None or self.file.ids is None or block.ids is None or table is None:
            return
        from xent_cli.pipeline.align import check_same_ids

        check_same_ids(table, block, self.file, start, pair_position=self.pair_position, joinable=False)

    def take(
        self, table: Table | None, block: Block | None, start: int, rows: int, pred_label: str
    ) -> NDArray[np.float64]:
        """The weights of rows ``start`` to ``start + rows``: ``block``'s own when it carries them."""
        if block is not None:
            self.check_ids(table, block, start)
        if self.collect(block, rows):
            assert block is not None and block.weights is not None
            return block.weights
        return self.block(start, rows, pred_label)

    def collect(self, block: Block | None, rows: int) -> bool:
        """Keep ``block``'s own weights for :meth:`finish`, if it carries them for its ``rows``."""
        if block is not None and block.weights is not None and block.weights.shape[0] == rows:
            if self.values is None:
                self.carried.append(block.weights)
            return True
        self.uncarried = True
        return False

    def block(self, start: int, rows: int, pred_label: str) -> NDArray[np.float64]:
        """The weights of rows ``start`` to ``start + rows``; too few is an error."""
        values = self.loaded()
        if start + rows > values.shape[0]:
            raise InputError(
                f"{self.label} has {values.shape[0]} weights but {pred_label} has more rows",
                hint=HINT,
            )
        return values[start : start + rows]

    def loaded(self) -> NDArray[np.float64]:
        """Every weight, read now by the second pass if they are not known yet."""
        if self.values is None:
            assert self.load is not None
            self.values = self.load()
            self.carried.clear()
        return self.values

    def finish(self, rows: int, pred_label: str) -> None:
        """Every weight known, and as many as the rows read (``values`` is set from here on)."""
        if self.values is None and not self.uncarried and (self.carried or rows == 0):
            import numpy as np

            self.values = np.concatenate(self.carried) if self.carried else np.empty(0)
            self.carried.clear()
        values = self.loaded()
        if values.shape[0] != rows:
            raise InputError(
                f"{self.label} has {values.shape[0]} weights but {pred_label} has {rows} rows",
                hint=HINT,
            )

    def spec(self, spec: InputSpec) -> InputSpec:
        """``spec`` with the weights column (if any) named for the reader to carry.

        Its source is then the one the column is read from: a copy of stdin or a pipe.
        """
        if self.column is None:
            return spec
        source = spec.source if self.source is None else self.source
        return replace(spec, source=source, options=replace(spec.options, weight_column=self.column))


ALL_ZERO = f"{option('weights')}: every weight is 0"


def check_not_all_zero(weights: NDArray[np.float64]) -> None:
    """Some weight must be positive: checked over every row at the merge (one shard may be all 0)."""
    if not (weights > 0).any():
        raise InputError(ALL_ZERO, hint=HINT)


def read_weights(
    text: str, pred_spec: InputSpec, closer: ExitStack, *, pair_position: bool = False
) -> Weights:
    """The weights ``--weights`` names: a labels-like source (file or inline list), else a column of PRED.

    A file's ids (a pandas index) must agree with the predictions' row by row, unless
    ``pair_position`` (see :meth:`Weights.check_ids`). A column is read later, with the rows
    (see :class:`Weights`). That they are not all 0 is checked over every shard's rows, when
    the partials merge. PRED is opened more than once for a column: stdin or a pipe is
    copied to a temporary file first, which ``closer`` removes.
    """
    from xent_cli.io.labels import read_labels
    from xent_cli.io.sources import Source, reopenable
    from xent_cli.pipeline.tasks import target_source

    source = target_source(text, pred_spec.source)
    if source is None:
        pred_spec = replace(pred_spec, source=reopenable(pred_spec.source, closer))
        label = f"{pred_spec.label} column {text!r}"
        return Weights(
            None, label, text, load=lambda: _second_pass(text, pred_spec, label), source=pred_spec.source
        )
    if source.inline is not None:
        source = Source(label="--weights", inline=source.inline)
    if source.is_stdin and pred_spec.source.is_stdin:
        raise UsageError("only one source can be stdin ('-')")
    labels = read_labels(source, replace(pred_spec.options, label_column=None))
    # Only the pairing's notes are shown (the file's layout notes are not, as before).
    file = replace(labels, notes=[])
    return Weights(
        _checked(labels.values, labels.where), labels.label, None, file=file, pair_position=pair_position
    )


def _second_pass(text: str, pred_spec: InputSpec, label: str) -> NDArray[np.float64]:
    """A weights column of a source whose reader does not carry it, read again on its own."""
    from xent_cli.io.labels import read_sample_columns

    blocks = read_sample_columns(pred_spec.source, pred_spec.options, [text], ["--weights"])
    texts = [value for block in blocks for value in block[0]]

    def where(index: int) -> str:
        return f"{label}: row {index + 1}"

    return _checked(texts, where)


def _checked(texts: list[str], where: Callable[[int], str]) -> NDArray[np.float64]:
    """Weights written as text, as numbers; the first that is not a finite number >= 0 is an error."""
    import numpy as np

    try:  # NumPy parses the texts in C; a text that is no number is found below, by its row
        values = np.asarray(texts, dtype=np.float64)
    except ValueError:
        values = np.array([_number(item) for item in texts], dtype=np.float64)
    bad = ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{where(i)}: weight {texts[i]!r} is not a finite number >= 0", hint=HINT)
    return values


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


def task_weights(
    text: str | None, spec: InputSpec, closer: ExitStack, *, pair_position: bool = False
) -> tuple[Weights | None, InputSpec]:
    """The weights ``--weights`` names for one task's source, and the spec that reads its outcomes.

    A weights column of the source is left out of its outcomes (the source is opened once
    to see them).
    """
    if text is None:
        return None, spec
    from xent_cli.pipeline.align import open_table

    weights = read_weights(text, spec, closer, pair_position=pair_position)
    if weights.column is not None:
        spec = weights.spec(spec)
        narrower = without_column(spec, open_table(spec, closer).outcomes, weights.column)
        if narrower is not None:
            spec = narrower
    return weights, spec
