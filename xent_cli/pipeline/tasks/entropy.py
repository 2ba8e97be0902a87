"""``xent entropy``: the entropy of every row of one source."""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING

from xent_cli.columns.buffer import RowBuffer
from xent_cli.errors import InputError
from xent_cli.pipeline.align import (
    InputSpec,
    Stream,
    distribution_table,
    to_distributions,
)
from xent_cli.pipeline.partials import MeasurePart, Partial
from xent_cli.pipeline.tasks.common import (
    _big,
    _expected_elements,
    _for_kernels,
    _layout_of,
)
from xent_cli.pipeline.tasks.pair_measures import (
    OutcomeSums,
)
from xent_cli.progress import RowCounter
from xent_cli.results import ExplainFormulas, Unit

if TYPE_CHECKING:
    pass


ENTROPY_FORMULAS = ExplainFormulas("−p·log p", "−p·log p", information="−log p")


def entropy_task(
    spec: InputSpec,
    *,
    unit: Unit,
    tolerance: float,
    explain: bool = False,
    weights: str | None = None,
    pair_position: bool = False,
    on_rows: RowCounter | None = None,
) -> Partial:
    """Entropy of every row of one source (and, with ``explain``, each outcome's part of it).

    ``weights``: ``--weights``, each row's sample weight (the summaries are weighted); a
    file of them whose ids differ from the rows' is an error, or with ``pair_position``
    (``--pair position``) a note.
    ``on_rows`` is called with the rows of each block as they are computed (a progress bar).
    """

    from xent_cli.core import kernels
    from xent_cli.core.measures import entropy_terms, row_sum
    from xent_cli.pipeline.weights import task_weights, weighted_note

    if not explain:
        spec = _for_kernels(spec)
    values = RowBuffer()
    ids: list[str] = []
    explainer = OutcomeSums() if explain else None
    with ExitStack() as closer:
        sample_weights, spec = task_weights(weights, spec, closer, pair_position=pair_position)
        table = distribution_table(spec, closer)
        size = spec.options.rows_per_block(table.n_outcomes)
        expected = _expected_elements(table)
        if explainer is None and _big(spec):
            kernels.warm_up("entropy", table.n_outcomes or 0, spec.kind, n_elements=expected)
        for block in Stream.open(table, size):
            fast = None
            if explainer is None:
                fast = kernels.entropy_rows_fast(
                    block.values, kind=spec.kind, tolerance=tolerance, expected=expected
                )
            if fast is not None:
                nats = fast.values
            else:  # per-outcome terms, or an invalid block: the careful path names the row and column
                dist = to_distributions(table, block, spec.kind, tolerance)
                terms = entropy_terms(dist)
                nats = row_sum(terms)
                if explainer is not None:
                    explainer.add_terms(terms, terms.shape, p=dist.probs, information=-dist.log_probs)
            values.append(nats)
            if sample_weights is not None:
                sample_weights.check_ids(table, block, block.start)
                sample_weights.collect(block, len(block))
            ids.extend(block.ids or [])
            if on_rows is not None:
                on_rows(len(block))
    if not len(values):
        raise InputError(f"{spec.label}: has no rows")
    per_row = values.finish(unit.scale)
    explained = None
    if explainer is not None:
        explained = explainer.part("entropy", "H(P)", table.outcomes, unit, lambda u: u.scale)
        explained.formulas = ENTROPY_FORMULAS
    notes = list(table.notes)
    if sample_weights is not None:
        sample_weights.finish(int(per_row.shape[0]), spec.label)
        notes += [*sample_weights.notes, weighted_note(sample_weights)]
    return Partial(
        measures=[MeasurePart("entropy", "H(P)", per_row)],
        rows_read=int(per_row.shape[0]),
        ids=ids if len(ids) == per_row.shape[0] else None,
        notes=notes,
        layouts={"p": _layout_of(table)},
        explain=explained,
        weights=None if sample_weights is None else sample_weights.values,
    )
