"""``xent loss``: predictions against true labels (log loss, accuracy), and top-k token lists."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

from xent_cli.columns.buffer import RowBuffer
from xent_cli.errors import InputError, UsageError, option, spelled
from xent_cli.io.readers import Block, Labels, Table
from xent_cli.pipeline.align import (
    InputSpec,
    Stream,
    open_table,
    to_distributions,
)
from xent_cli.pipeline.partials import LossPart, MeasurePart, Partial
from xent_cli.pipeline.tasks.common import (
    _layout_of,
)
from xent_cli.pipeline.tasks.pair import (
    _labels_source,
)
from xent_cli.pipeline.tasks.targets import (
    TargetMapper,
    _block_targets,
    _same_label,
)
from xent_cli.progress import RowCounter
from xent_cli.results import Unit

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.core.distributions import Kind


@dataclass(frozen=True)
class LossSettings:
    """``xent loss`` options beyond the predictions' own."""

    target: str
    unit: Unit
    tolerance: float
    label_smoothing: float = 0.0
    ignore_label: str | None = None
    join_ids: bool = False
    # Labels pair with the predictions in order even when their ids differ (``--pair position``).
    pair_position: bool = False
    # --as top-logprobs: the sampled tokens come from the source itself, no --target.
    top_logprobs: bool = False
    # --clip: probabilities clipped to [clip, 1 - clip] (sklearn's log_loss); --smooth ALPHA.
    clip: float | None = None
    smooth: float = 0.0
    # --weights: a column of PRED, a file or an inline list (one weight per row).
    weights: str | None = None


class LabelledReader:
    """Blocks of predictions with each row's class index: what ``loss`` and ``calibration`` read.

    ``target`` is a column of the predictions when one has that name, else a
    labels source (a file, or an inline list like ``cat,dog,cat``), which is
    held in memory and paired by position (or by id with ``join_ids``). Rows
    whose label is ``ignore_label`` are marked as not kept.
    """

    def __init__(
        self,
        pred_spec: InputSpec,
        target: str,
        *,
        join_ids: bool = False,
        ignore_label: str | None = None,
        weights: str | None = None,
        pair_position: bool = False,
        on_rows: RowCounter | None = None,
    ) -> None:
        from xent_cli.pipeline.weights import Weights

        self.on_rows = on_rows

        self.pred_spec = pred_spec
        self.target = target
        self.join_ids = join_ids
        self.ignore_label = ignore_label
        self.pair_position = pair_position
        self.spec = replace(pred_spec, options=replace(pred_spec.options, label_column=target))
        self.labels: Labels | None = None
        self.mapper: TargetMapper | None = None
        self.seen = 0
        self.ignored = 0
        self.binary = False
        # --weights: read when the blocks are (a column of stdin or a pipe is copied to a file then).
        self.weights_text = weights
        self.weights: Weights | None = None
        if weights is not None and join_ids:
            raise UsageError(
                f"{option('weights')} pairs with the predictions by position; it cannot be used with --id"
            )

    def block_weights(self, block: Block) -> NDArray[np.float64] | None:
        """The weights of the block being read (None: unweighted)."""
        if self.weights is None:
            return None
        return self.weights.take(self.table, block, self.seen, len(block), self.pred_spec.label)

    def blocks(self, closer: ExitStack) -> Iterator[tuple[Table, Block, NDArray[np.intp], NDArray[np.bool_]]]:
        """Each block with its rows' class indices (0 where not kept) and which rows are kept."""
        import numpy as np

        from xent_cli.io.labels import read_labels
        from xent_cli.pipeline.weights import read_weights

        if self.weights_text is not None:
            self.weights = read_weights(
                self.weights_text, self.pred_spec, closer, pair_position=self.pair_position
            )
            self.spec = self.weights.spec(self.spec)
        table = open_table(self.spec, closer)
        if self.weights is not None and self.weights.column is not None:
            from xent_cli.pipeline.weights import without_column

            narrower = without_column(self.spec, table.outcomes, self.weights.column)
            if narrower is not None:  # the weights column is not an outcome: read the others
                self.spec = narrower
                table = open_table(self.spec, closer)
        self.table = table
        label_by_id: dict[str, str] | None = None
        if not table.has_labels:
            source = _labels_source(table, self.target, self.pred_spec)
            labels = read_labels(source, replace(self.pred_spec.options, label_column=None))
            self.labels = labels
            if self.join_ids:
                if labels.ids is None:
                    raise UsageError(f"--id: {labels.label} has no id column to join on")
                label_by_id = {}
                for row_id, value in zip(labels.ids, labels.values, strict=True):
                    if row_id in label_by_id:  # as for --id joins of two sources
                        raise InputError(
                            f"{labels.label}: id {row_id!r} appears more than once",
                            hint="ids must be unique to join on",
                        )
                    label_by_id[row_id] = value
        self.binary = table.n_outcomes == 1
        size = self.spec.options.rows_per_block(table.n_outcomes)
        mapper: TargetMapper | None = None
        joined_ids: set[str] = set()
        for block in Stream.open(table, size):
            n = len(block)
            if mapper is None:
                mapper = self.mapper = TargetMapper(table.outcomes, block.values.shape[1], self.binary)
            texts, wheres = _block_targets(
                table,
                block,
                self.labels,
                self.seen,
                label_by_id,
                joined_ids,
                pair_position=self.pair_position,
            )
            keep = np.ones(n, dtype=bool)
            if self.ignore_label is not None:
                ignore = self.ignore_label
                keep = np.array([not _same_label(t, ignore) for t in texts], dtype=bool)
                self.ignored += int(n - keep.sum())
            targets = np.array(
                [mapper(t, partial(wheres, i)) if keep[i] else 0 for i, t in enumerate(texts)], dtype=np.intp
            )
            yield table, block, targets, keep
            self.seen += n
            if self.on_rows is not None:
                self.on_rows(n)
        if self.labels is not None and self.seen != len(self.labels.values) and not self.join_ids:
            raise InputError(
                f"{self.pred_spec.label} has {self.seen} rows but {self.labels.label} has "
                f"{len(self.labels.values)} labels",
                hint="labels pair with predictions by position (or by --id)",
            )
        if self.weights is not None:
            self.weights.finish(self.seen, self.pred_spec.label)

    @property
    def notes(self) -> list[str]:
        notes = list(self.table.notes) + (self.labels.notes if self.labels is not None else [])
        notes += self.weights.notes if self.weights is not None else []
        if self.mapper is not None and self.mapper.index_note is not None:
            notes.append(self.mapper.index_note)
        return notes

    @property
    def target_label(self) -> str:
        if self.labels is not None:
            return self.labels.label
        return f"{self.pred_spec.label} column {self.target!r}"


def loss_task(pred_spec: InputSpec, settings: LossSettings, *, on_rows: RowCounter | None = None) -> Partial:
    """Log loss, perplexity and top-1 accuracy of predictions against true labels.

    ``settings.target`` is a column of the predictions when one has that name,
    else a labels source (a file, or an inline list like ``cat,dog,cat``), which
    is held in memory.
    """
    import numpy as np

    from xent_cli.core.stats import ExactSum

    reader = LabelledReader(
        pred_spec,
        settings.target,
        join_ids=settings.join_ids,
        ignore_label=settings.ignore_label,
        weights=settings.weights,
        pair_position=settings.pair_position,
        on_rows=on_rows,
    )
    weighted = settings.weights is not None
    weight_sum, weighted_nll, weighted_correct = ExactSum(), ExactSum(), ExactSum()
    kept_weight_parts = RowBuffer()
    spec = reader.spec
    nll_parts = RowBuffer()
    correct_parts = RowBuffer()
    ids: list[str] = []
    kept_rows: list[NDArray[np.int64]] = []
    with ExitStack() as closer:
        for table, block, targets, keep in reader.blocks(closer):
            if reader.binary:
                nll, correct = _binary_block(table, block, targets, spec.kind, settings.clip, settings.smooth)
            else:
                nll, correct = _multiclass_block(table, block, targets, spec.kind, settings)
            weights = reader.block_weights(block)
            if weights is not None:
                kept_weights = weights[keep]
                weight_sum.add(kept_weights)
                with np.errstate(invalid="ignore"):
                    weighted_nll.add(np.where(kept_weights > 0, kept_weights * nll[keep], 0.0))
                weighted_correct.add(kept_weights * correct[keep])
                kept_weight_parts.append(kept_weights)
            nll_parts.append(nll[keep])
            correct_parts.append(correct[keep])
            if block.ids is not None:
                ids.extend(i for i, k in zip(block.ids, keep, strict=True) if k)
            kept_rows.append(np.flatnonzero(keep).astype(np.int64) + reader.seen)
    ignored = reader.ignored
    if len(nll_parts) == 0:
        if ignored:
            raise InputError(f"every row's target is the ignored label {settings.ignore_label!r}")
        raise InputError(f"{pred_spec.label}: has no rows")
    count = len(nll_parts)
    nll_values = nll_parts.finish(settings.unit.scale)
    notes = reader.notes
    if settings.clip is None and not settings.smooth and _any_inf(nll_values):
        notes.append(
            spelled(
                f"some rows put probability 0 on the true class (NLL inf): {option('clip')} auto clips "
                "probabilities to [eps, 1 - eps] as scikit-learn's log_loss does; "
                f"{option('smooth')} ALPHA smooths them"
            )
        )
    layouts = {"pred": _layout_of(reader.table)}
    if reader.labels is not None:
        layouts["target"] = dict(reader.labels.layout)
    return Partial(
        measures=[
            MeasurePart("log_loss", "NLL", nll_values),
            MeasurePart("accuracy", "correct", correct_parts.finish(), scaling="none"),
        ],
        rows_read=reader.seen,
        ids=ids if len(ids) == count else None,
        kept=np.concatenate(kept_rows) if ignored else None,
        notes=notes,
        layouts=layouts,
        loss=LossPart(
            ignored_rows=ignored,
            label_smoothing=settings.label_smoothing,
            binary=reader.binary,
            clip=settings.clip,
            smooth=settings.smooth,
            weights=(weight_sum, weighted_nll, weighted_correct) if weighted else None,
        ),
        sources={"pred": pred_spec.label, "target": reader.target_label},
        weights=kept_weight_parts.finish() if weighted else None,
    )


def topk_loss_task(spec: InputSpec, settings: LossSettings, *, on_rows: RowCounter | None = None) -> Partial:
    """``loss --as top-logprobs``: each position's sampled token's NLL, and whether it topped the list.

    The NLL is ``-logprob`` of the token the model produced (the API item's own
    ``logprob``, or the token's entry in its list); ``accuracy`` is 1 where that token
    is the list's most probable one. The per-row ids are the sampled tokens.
    """
    import numpy as np

    from xent_cli.io.toplogprobs import NOT_LISTED_BELOW, dropped_note, read_top_logprobs

    label = spec.label
    nll_parts = RowBuffer()
    correct_parts = RowBuffer()
    tokens: list[str] = []
    dropped = 0
    for block in read_top_logprobs(spec.source):
        nll = np.empty(len(block))
        correct = np.empty(len(block))
        for i in range(len(block)):
            actual, logprob = block.actual[i], block.actual_logprob[i]
            where = f"{label}: {block.places[i]}"
            if actual is None:
                raise InputError(
                    f"{where}: does not say which token was sampled",
                    hint=f"loss {option('as_')} top-logprobs reads API items: "
                    f"{{token, logprob, top_logprobs}}",
                )
            if logprob is None:
                raise InputError(
                    f"{where}: the sampled token {actual!r} has no log-probability "
                    "(no 'logprob', and it is not in its top_logprobs)"
                )
            if not NOT_LISTED_BELOW <= logprob <= settings.tolerance:  # nan fails too
                raise InputError(f"{where}, 'logprob': {logprob!r} is not a sampled token's log-probability")
            nll[i] = -min(logprob, 0.0) + 0.0
            top = block.tokens[i][int(np.argmax(block.logprobs[i]))]
            correct[i] = 1.0 if top == actual else 0.0
            tokens.append(actual)
        dropped += block.dropped
        nll_parts.append(nll)
        correct_parts.append(correct)
        if on_rows is not None:
            on_rows(len(block))
    note = dropped_note({label: dropped})
    return Partial(
        measures=[
            MeasurePart("log_loss", "NLL", nll_parts.finish(settings.unit.scale)),
            MeasurePart("accuracy", "correct", correct_parts.finish(), scaling="none"),
        ],
        rows_read=len(tokens),
        ids=tokens,
        notes=[note] if note is not None else [],
        layouts={"pred": {"format": "top-logprobs", "target": "the sampled token of each position"}},
        loss=LossPart(ignored_rows=0, label_smoothing=0.0, binary=False),
        sources={"pred": label, "target": f"{label} (sampled tokens)"},
    )


def _any_inf(values: NDArray[np.float64]) -> bool:
    """Whether some value is infinite (a spilled column is read a chunk of pages at a time)."""
    import numpy as np

    from xent_cli.columns.spill import in_chunks

    return any(bool(np.isinf(chunk).any()) for chunk in in_chunks(values))


def _multiclass_block(
    table: Table, block: Block, targets: NDArray[np.intp], kind: Kind, settings: LossSettings
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    from xent_cli.core.distributions import smooth
    from xent_cli.core.loss import nll_rows, top1_correct_rows

    dist = to_distributions(table, block, kind, settings.tolerance)
    if settings.smooth:
        dist = smooth(dist, settings.smooth)
    nll = nll_rows(dist, targets, settings.label_smoothing, settings.clip)
    return nll, top1_correct_rows(dist, targets)


def binary_scores(table: Table, block: Block, kind: Kind) -> NDArray[np.float64]:
    """One column of P(y = 1) (``--as probs``) or of its logit (``--as logits``), checked."""
    import numpy as np

    scores = np.asarray(block.values[:, 0], dtype=np.float64)
    if kind not in ("probs", "logits"):
        raise UsageError(
            f"binary predictions are one column read as {option('as_')} probs (P(y=1)) or "
            f"{option('as_')} logits"
        )
    bad = ~np.isfinite(scores) | ((scores < 0) | (scores > 1) if kind == "probs" else False)
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(
            f"{table.where(block, row)}: {scores[row]:.6g} is not a probability",
            hint=f"binary predictions are P(y=1) in [0, 1]; for raw scores use {option('as_')} logits",
        )
    return scores


def _binary_block(
    table: Table,
    block: Block,
    targets: NDArray[np.intp],
    kind: Kind,
    clip: float | None = None,
    smooth: float = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """One column: P(y = 1), or its logit with ``--as logits``."""
    import numpy as np

    from xent_cli.core.loss import binary_nll_rows

    scores = binary_scores(table, block, kind)
    nll = binary_nll_rows(scores, targets, kind, clip, smooth)
    predicted = scores >= (0.0 if kind == "logits" else 0.5)
    return nll, (predicted == (targets == 1)).astype(np.float64)
