"""Per-command tasks: one source (or shard, or pair of shards) in, one :class:`Partial` out.

Each task reads through ``xent_cli.pipeline.align``, computes with
``xent_cli.core`` and returns what its rows contribute. Tasks are top-level
functions with plain-data arguments, so a Dask worker can run them as they
are; the local engine runs the same functions in this process.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from xent_cli import progress
from xent_cli.errors import DistributionError, InputError, UsageError
from xent_cli.io.readers import Block, Labels, Table
from xent_cli.io.sources import Source
from xent_cli.pipeline.align import (
    InputSpec,
    PairBlock,
    Stream,
    block_rows_for,
    distribution_table,
    joined,
    open_table,
    paired_blocks,
    stream_distributions,
    to_distributions,
    two_columns,
)
from xent_cli.pipeline.partials import ExplainPart, LossPart, MeasurePart, Partial, RowBuffer
from xent_cli.results import InfoSummary, JointTable, SampleSummary, Scaling, Unit

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.core.distributions import Distributions, Kind
    from xent_cli.core.information import Information


def _layout_of(table: Table) -> dict[str, object]:
    layout = getattr(table, "layout", None)
    return dict(layout) if isinstance(layout, dict) else {}


def entropy_task(spec: InputSpec, *, unit: Unit, tolerance: float) -> Partial:
    """Entropy of every row of one source."""

    from xent_cli.core.measures import entropy_rows

    values = RowBuffer()
    ids: list[str] = []
    with ExitStack() as closer:
        table = distribution_table(spec, closer)
        size = block_rows_for(table.n_outcomes, spec.options)
        for block, dist in stream_distributions(table, spec.kind, tolerance, size):
            values.append(entropy_rows(dist))
            ids.extend(block.ids or [])
            progress.advance(len(block))
    if not len(values):
        raise InputError(f"{spec.label}: has no rows")
    per_row = values.finish(unit.scale)
    return Partial(
        measures=[MeasurePart("entropy", "H(P)", per_row)],
        rows_read=int(per_row.shape[0]),
        ids=ids if len(ids) == per_row.shape[0] else None,
        notes=list(table.notes),
        layouts={"p": _layout_of(table)},
    )


# --- two-distribution commands ------------------------------------------------------


class PairContext:
    """One aligned block of P and Q, with the per-outcome terms computed once.

    ``compare`` asks for many measures of the same pair; each is derived from
    the same cancellation-free ``p - q`` and ``log(p/q)``.
    """

    def __init__(self, p: Distributions, q: Distributions) -> None:
        from xent_cli.core.measures import pair_terms

        self.p = p
        self.q = q
        self.terms = pair_terms(p, q)
        self.n_rows = max(p.n_rows, q.n_rows)
        self._cache: dict[str, NDArray[np.float64]] = {}

    def cached(self, key: str, compute: Callable[[], NDArray[np.float64]]) -> NDArray[np.float64]:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def broadcast(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        import numpy as np

        return np.broadcast_to(values, (self.n_rows,))


def _kl_terms(c: PairContext) -> NDArray[np.float64]:
    from xent_cli.core.measures import kl_terms

    return c.cached("kl_terms", lambda: kl_terms(c.terms))


def _reverse_kl_terms(c: PairContext) -> NDArray[np.float64]:
    from xent_cli.core.measures import kl_terms, swapped

    return c.cached("kl_reverse_terms", lambda: kl_terms(swapped(c.terms)))


def _cross_entropy_terms(c: PairContext) -> NDArray[np.float64]:
    from xent_cli.core.measures import entropy_terms

    # -p log p + q phi(p/q) >= 0 per outcome; the row sums are H(p) + KL(p||q).
    return c.cached("ce_terms", lambda: entropy_terms(c.p) + _kl_terms(c))


def _js_terms(c: PairContext) -> NDArray[np.float64]:
    from xent_cli.core.measures import js_terms

    return c.cached("js_terms", lambda: js_terms(c.terms))


def _tv_terms(c: PairContext) -> NDArray[np.float64]:
    from xent_cli.core.measures import total_variation_terms

    return total_variation_terms(c.terms)


def _tv(c: PairContext) -> NDArray[np.float64]:
    from xent_cli.core.measures import total_variation_rows

    return total_variation_rows(c.terms)


def _summed(
    terms: Callable[[PairContext], NDArray[np.float64]],
) -> Callable[[PairContext], NDArray[np.float64]]:
    from xent_cli.core.measures import row_sum

    return lambda c: row_sum(terms(c))


def _js_distance(c: PairContext) -> NDArray[np.float64]:
    import numpy as np

    return np.sqrt(_summed(_js_terms)(c))


def _hellinger(c: PairContext) -> NDArray[np.float64]:
    from xent_cli.core.measures import hellinger_rows

    return hellinger_rows(c.terms)


def _max_abs_diff(c: PairContext) -> NDArray[np.float64]:
    from xent_cli.core.measures import max_abs_diff_rows

    return max_abs_diff_rows(c.terms)


def _top1(c: PairContext) -> NDArray[np.float64]:
    from xent_cli.core.measures import top1_agreement_rows

    return top1_agreement_rows(c.p, c.q)


@dataclass(frozen=True)
class PairMeasure:
    """A per-row measure of two distributions.

    ``rows`` gives it in nats; ``scaling`` says how it changes with the unit
    (``unit``: divided by log(base); ``root``: by its square root; ``none``:
    unitless). ``terms`` gives non-negative per-outcome contributions that sum
    to the measure, for ``--explain``.
    """

    key: str
    label: str
    rows: Callable[[PairContext], NDArray[np.float64]]
    scaling: Scaling = "unit"
    terms: Callable[[PairContext], NDArray[np.float64]] | None = None

    def divisor(self, unit: Unit) -> float:
        return {"unit": unit.scale, "root": math.sqrt(unit.scale), "none": 1.0}[self.scaling]


KL = PairMeasure("kl", "D(P‖Q)", _summed(_kl_terms), terms=_kl_terms)
KL_REVERSE = PairMeasure("kl_reverse", "D(Q‖P)", _summed(_reverse_kl_terms), terms=_reverse_kl_terms)
CROSS_ENTROPY = PairMeasure(
    "cross_entropy", "H(P, Q)", _summed(_cross_entropy_terms), terms=_cross_entropy_terms
)
JS = PairMeasure("js", "JS(P, Q)", _summed(_js_terms), terms=_js_terms)
JS_DISTANCE = PairMeasure("js_distance", "√JS", _js_distance, scaling="root")
TOTAL_VARIATION = PairMeasure("tv", "TV", _tv, scaling="none", terms=_tv_terms)
HELLINGER = PairMeasure("hellinger", "Hellinger", _hellinger, scaling="none")
MAX_ABS_DIFF = PairMeasure("max_abs_diff", "max|P−Q|", _max_abs_diff, scaling="none")
TOP1 = PairMeasure("top1_agreement", "top-1 agree", _top1, scaling="none")


@dataclass(frozen=True)
class PairCommand:
    """A two-distribution command: its measures (the first is the headline)."""

    command: str
    title: str
    measures: tuple[PairMeasure, ...]

    @property
    def keys(self) -> list[str]:
        return [m.key for m in self.measures]


PAIR_COMMANDS = {
    "kl": PairCommand("kl", "KL divergence D(P‖Q)", (KL,)),
    "cross-entropy": PairCommand("cross-entropy", "Cross-entropy H(P, Q)", (CROSS_ENTROPY,)),
    "js": PairCommand("js", "Jensen–Shannon divergence JS(P, Q)", (JS, JS_DISTANCE)),
    "compare": PairCommand(
        "compare",
        "Comparison of P and Q",
        (KL, KL_REVERSE, CROSS_ENTROPY, JS, TOTAL_VARIATION, HELLINGER, MAX_ABS_DIFF, TOP1),
    ),
}


@dataclass(frozen=True)
class PairSettings:
    """How a two-distribution task computes, beside its sources."""

    command: str
    unit: Unit
    tolerance: float
    smoothing: float | None = None
    join_ids: bool = False
    explain: bool = False
    # The kind of Q when P and Q are two columns of one table.
    q_kind: Kind | None = None


def pair_task(p_spec: InputSpec, q_spec: InputSpec | None, settings: PairSettings) -> Partial:
    """Every measure of the command over every aligned pair of rows.

    Without ``q_spec``, P's source must be one table with two numeric columns.
    With ``settings.explain``, the per-outcome contributions to the headline
    measure are summed too.
    """
    import numpy as np

    from xent_cli.core.distributions import smooth

    command = PAIR_COMMANDS[settings.command]
    columns = {m.key: RowBuffer() for m in command.measures}
    ids: list[str] = []
    headline = command.measures[0]
    explain_sums: NDArray[np.float64] | None = None
    explained_rows = 0
    sources: dict[str, str] | None = None
    with ExitStack() as closer:
        pairs: Iterator[PairBlock]
        if q_spec is None:
            table, pair, sources = two_columns(
                p_spec, settings.q_kind or p_spec.kind, settings.tolerance, closer
            )
            pairs = iter([pair])
            notes = list(table.notes)
            layouts = {"p": _layout_of(table)}
            outcomes = pair.outcomes
        else:
            p_table, q_table, pairs = paired_blocks(
                p_spec, q_spec, tolerance=settings.tolerance, join_ids=settings.join_ids, closer=closer
            )
            notes = p_table.notes + q_table.notes
            layouts = {"p": _layout_of(p_table), "q": _layout_of(q_table)}
            outcomes = p_table.outcomes or q_table.outcomes
        for pair in pairs:
            q = smooth(pair.q, settings.smoothing) if settings.smoothing else pair.q
            context = PairContext(pair.p, q)
            for m in command.measures:
                columns[m.key].append(context.broadcast(m.rows(context)))
            if settings.explain:
                assert headline.terms is not None
                terms = np.broadcast_to(headline.terms(context), (context.n_rows, context.terms.p.shape[1]))
                block_sums = np.sum(terms, axis=0)
                explain_sums = block_sums if explain_sums is None else explain_sums + block_sums
                explained_rows += context.n_rows
            ids.extend(pair.ids or [])
            progress.advance(context.n_rows)
    measures = [
        MeasurePart(m.key, m.label, columns[m.key].finish(m.divisor(settings.unit)), m.scaling)
        for m in command.measures
    ]
    count = int(measures[0].values.shape[0])
    explain = None
    if explain_sums is not None:
        explain = ExplainPart(
            headline.key,
            headline.label,
            explain_sums / headline.divisor(settings.unit),
            explained_rows,
            outcomes,
        )
    return Partial(
        measures=measures,
        rows_read=count,
        ids=ids if len(ids) == count else None,
        notes=notes,
        layouts=layouts,
        explain=explain,
        sources=sources,
    )


# --- loss ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossSettings:
    """``xent loss`` options beyond the predictions' own."""

    target: str
    unit: Unit
    tolerance: float
    label_smoothing: float = 0.0
    ignore_label: str | None = None
    join_ids: bool = False


class TargetMapper:
    """Turns label text into class indices: an outcome name, or a 0-based index."""

    def __init__(self, outcomes: list[str] | None, n_classes: int, binary: bool) -> None:
        self.index = {name: i for i, name in enumerate(outcomes or [])}
        self.n_classes = 2 if binary else n_classes
        self.outcomes = outcomes
        self.binary = binary

    def __call__(self, text: str, where: str) -> int:
        if not self.binary and text in self.index:
            return self.index[text]
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if number.is_integer() and 0 <= number < self.n_classes:
            return int(number)
        if self.binary:
            raise InputError(f"{where}: target {text!r} is not 0 or 1", hint="binary targets are 0 or 1")
        if number == number:  # a number, but out of range
            raise InputError(
                f"{where}: target {text} is out of range",
                hint=f"class indices run from 0 to {self.n_classes - 1}",
            )
        classes = ", ".join(self.outcomes[:10]) if self.outcomes else "none named"
        raise InputError(
            f"{where}: target {text!r} is not a class",
            hint=f"classes: {classes}; or give 0-based class indices",
        )


def _same_label(text: str, ignore: str) -> bool:
    if text == ignore:
        return True
    try:
        return float(text) == float(ignore)
    except ValueError:
        return False


def target_source(target: str, pred: Source) -> Source | None:
    """The labels source ``--target`` names, or None when it must be a column of PRED."""
    from xent_cli.io.sources import resolve

    if target == "-" or Path(target).exists():
        return resolve(target, stdin_is_terminal=False)
    if "," in target or pred.inline is not None:
        return Source(label=f"--target {target}", inline=target)
    return None


def loss_task(pred_spec: InputSpec, settings: LossSettings) -> Partial:
    """Log loss, perplexity and top-1 accuracy of predictions against true labels.

    ``settings.target`` is a column of the predictions when one has that name,
    else a labels source (a file, or an inline list like ``cat,dog,cat``), which
    is held in memory.
    """
    import numpy as np

    from xent_cli.io.readers import ReadOptions, read_labels

    options: ReadOptions = replace(pred_spec.options, label_column=settings.target)
    spec = replace(pred_spec, options=options)
    nll_parts = RowBuffer()
    correct_parts = RowBuffer()
    ids: list[str] = []
    kept_rows: list[NDArray[np.int64]] = []
    ignored = 0
    with ExitStack() as closer:
        table = open_table(spec, closer)
        labels: Labels | None = None
        label_by_id: dict[str, str] | None = None
        if not table.has_labels:
            source = target_source(settings.target, pred_spec.source)
            if source is None:
                columns = ", ".join([*(table.outcomes or []), *([table.id_name] if table.id_name else [])])
                raise InputError(
                    f"--target {settings.target!r} is not a column of {pred_spec.label} nor a file",
                    hint=f"columns: {columns}" if columns else "give a labels file or a list like 0,2,1",
                )
            if source.is_stdin and pred_spec.source.is_stdin:
                raise UsageError("only one source can be stdin ('-')")
            labels = read_labels(source, replace(pred_spec.options, label_column=None))
            if settings.join_ids:
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
        binary = table.n_outcomes == 1
        size = block_rows_for(table.n_outcomes, options)
        mapper: TargetMapper | None = None
        seen = 0
        joined_ids: set[str] = set()
        for block in Stream.open(table, size):
            n = len(block)
            if mapper is None:
                mapper = TargetMapper(table.outcomes, block.values.shape[1], binary)
            texts, wheres = _block_targets(table, block, labels, seen, label_by_id, joined_ids)
            keep = np.ones(n, dtype=bool)
            if settings.ignore_label is not None:
                keep = np.array([not _same_label(t, settings.ignore_label) for t in texts], dtype=bool)
                ignored += int(n - keep.sum())
            targets = np.array(
                [mapper(t, wheres(i)) if keep[i] else 0 for i, t in enumerate(texts)], dtype=np.intp
            )
            if binary:
                nll, correct = _binary_block(table, block, targets, spec.kind)
            else:
                nll, correct = _multiclass_block(
                    table, block, targets, spec.kind, settings.tolerance, settings.label_smoothing
                )
            nll_parts.append(nll[keep])
            correct_parts.append(correct[keep])
            if block.ids is not None:
                ids.extend(i for i, k in zip(block.ids, keep, strict=True) if k)
            kept_rows.append(np.flatnonzero(keep).astype(np.int64) + seen)
            seen += n
            progress.advance(n)
        if labels is not None and seen != len(labels.values) and not settings.join_ids:
            raise InputError(
                f"{pred_spec.label} has {seen} rows but {labels.label} has {len(labels.values)} labels",
                hint="labels pair with predictions by position (or by --id)",
            )
    if len(nll_parts) == 0:
        if ignored:
            raise InputError(f"every row's target is the ignored label {settings.ignore_label!r}")
        raise InputError(f"{pred_spec.label}: has no rows")
    count = len(nll_parts)
    layouts = {"pred": _layout_of(table)}
    return Partial(
        measures=[
            MeasurePart("log_loss", "NLL", nll_parts.finish(settings.unit.scale)),
            MeasurePart("accuracy", "correct", correct_parts.finish(), scaling="none"),
        ],
        rows_read=seen,
        ids=ids if len(ids) == count else None,
        kept=np.concatenate(kept_rows) if ignored else None,
        notes=list(table.notes),
        layouts=layouts,
        loss=LossPart(ignored_rows=ignored, label_smoothing=settings.label_smoothing, binary=binary),
        sources={
            "pred": pred_spec.label,
            "target": labels.label if labels else f"{pred_spec.label} column {settings.target!r}",
        },
    )


def _block_targets(
    table: Table,
    block: Block,
    labels: Labels | None,
    seen: int,
    label_by_id: dict[str, str] | None,
    joined_ids: set[str],
) -> tuple[list[str], Callable[[int], str]]:
    """The target text of each row of a block, and how to name a row in a message."""
    if labels is None:
        assert block.labels is not None
        return block.labels, lambda i: table.where(block, i)
    if label_by_id is not None:
        if block.ids is None:
            raise UsageError(f"--id: {table.label} has no id column to join on")
        texts = []
        for i, row_id in enumerate(block.ids):
            if row_id not in label_by_id:
                raise InputError(f"{table.where(block, i)}: id {row_id!r} has no label in {labels.label}")
            if row_id in joined_ids:
                raise InputError(
                    f"{table.label}: id {row_id!r} appears more than once",
                    hint="ids must be unique to join on",
                )
            joined_ids.add(row_id)
            texts.append(label_by_id[row_id])
        return texts, lambda i: table.where(block, i)
    texts = labels.values[seen : seen + len(block)]
    if len(texts) < len(block):
        raise InputError(
            f"{table.label} has more rows than {labels.label} has labels ({len(labels.values)})",
            hint="labels pair with predictions by position (or by --id)",
        )
    if labels.ids is not None and block.ids is not None:
        for i, (a, b) in enumerate(zip(block.ids, labels.ids[seen : seen + len(block)], strict=True)):
            if a != b:
                raise InputError(
                    f"{table.where(block, i)}: id {a!r}, but {labels.where(seen + i)} has id {b!r}",
                    hint="rows pair by position; use --id ID to join them by id",
                )
    return texts, lambda i: labels.where(seen + i)


def _multiclass_block(
    table: Table, block: Block, targets: NDArray[np.intp], kind: Kind, tolerance: float, smoothing: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    from xent_cli.core.loss import nll_rows, top1_correct_rows

    dist = to_distributions(table, block, kind, tolerance)
    return nll_rows(dist, targets, smoothing), top1_correct_rows(dist, targets)


def _binary_block(
    table: Table, block: Block, targets: NDArray[np.intp], kind: Kind
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """One column: P(y = 1), or its logit with ``--as logits``."""
    import numpy as np

    from xent_cli.core.loss import binary_nll_rows

    scores = np.asarray(block.values[:, 0], dtype=np.float64)
    if kind not in ("probs", "logits"):
        raise UsageError("binary log loss reads one column as --as probs (P(y=1)) or --as logits")
    bad = ~np.isfinite(scores) | ((scores < 0) | (scores > 1) if kind == "probs" else False)
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(
            f"{table.where(block, row)}: {scores[row]:.6g} is not a probability",
            hint="binary predictions are P(y=1) in [0, 1]; for raw scores use --as logits",
        )
    nll = binary_nll_rows(scores, targets, kind)
    predicted = scores >= (0.0 if kind == "logits" else 0.5)
    return nll, (predicted == (targets == 1)).astype(np.float64)


# --- information: joint tables and samples ---------------------------------------------------

INFO_MEASURES: tuple[tuple[str, str, Scaling], ...] = (
    ("mi", "I(X;Y)", "unit"),
    ("h_x", "H(X)", "unit"),
    ("h_y", "H(Y)", "unit"),
    ("h_xy", "H(X,Y)", "unit"),
    ("h_x_given_y", "H(X|Y)", "unit"),
    ("h_y_given_x", "H(Y|X)", "unit"),
    ("nmi", "NMI", "none"),
)
# Joint tables up to this many cells are echoed in the output.
_JOINT_ECHO_CELLS = 10_000


def _information_partial(
    info: Information,
    x_names: list[str],
    y_names: list[str],
    *,
    unit: Unit,
    samples: int | None,
    correction: str,
    notes: list[str],
    echo: JointTable | None,
    layouts: dict[str, dict[str, object]] | None = None,
) -> Partial:
    import numpy as np

    scaled = info.scaled(unit.scale)
    summary = InfoSummary(
        **{key: getattr(scaled, key) for key, _, _ in INFO_MEASURES},
        samples=samples,
        x_values=len(x_names),
        y_values=len(y_names),
        correction=correction,
        joint=echo,
    )
    return Partial(
        measures=[
            MeasurePart(key, label, np.array([getattr(scaled, key)]), scaling)
            for key, label, scaling in INFO_MEASURES
        ],
        rows_read=1,
        notes=notes,
        layouts=dict(layouts or {}),
        info=summary,
    )


def _joint_echo(joint: NDArray[np.float64], x_names: list[str], y_names: list[str]) -> JointTable | None:
    """The joint table and its marginals, for the output, when it is small enough to show."""
    import numpy as np

    if joint.size > _JOINT_ECHO_CELLS:
        return None
    return JointTable(
        x=x_names,
        y=y_names,
        p=joint.tolist(),
        p_x=np.sum(joint, axis=1).tolist(),
        p_y=np.sum(joint, axis=0).tolist(),
    )


def info_table_task(spec: InputSpec, *, unit: Unit, tolerance: float) -> Partial:
    """Information measures of a joint table: X values are row ids, Y values the column names."""
    import numpy as np

    from xent_cli.core.information import information, joint_distribution

    if spec.kind not in ("probs", "weights"):
        raise UsageError(f"--as {spec.kind}: a joint table holds probabilities, or counts with --as weights")
    with ExitStack() as closer:
        table = open_table(spec, closer)
        blocks = list(table.blocks())
    if not blocks:
        raise InputError(f"{spec.label}: has no rows")
    values = np.concatenate([b.values for b in blocks]).astype(np.float64)
    try:
        joint_distribution(values, spec.kind, tolerance=tolerance)
    except DistributionError as exc:
        # Find the cell for the message: the first bad value, by row and column.
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            row, column = divmod(int(np.argmax(bad)), values.shape[1])
            block = Block(values=values, start=0, lines=joined(blocks, "lines"))
            raise InputError(
                f"{table.where(block, row, column)}: {values[row, column]:.6g} is not a valid "
                f"{'probability' if spec.kind == 'probs' else 'count'}",
                hint="cells of a joint table are probabilities or counts, >= 0",
            ) from None
        hint = "use --as weights for counts" if exc.reason == "sum" else None
        raise InputError(f"{spec.label}: {exc.message}", hint=hint) from None
    ids = joined(blocks, "ids")
    x_names = ids if ids is not None else [str(i) for i in range(values.shape[0])]
    y_names = table.outcomes or [str(i) for i in range(values.shape[1])]
    joint = joint_distribution(values, "weights")
    return _information_partial(
        information(joint), x_names, y_names, unit=unit, samples=None, correction="none",
        notes=list(table.notes), echo=_joint_echo(joint, x_names, y_names),
        layouts={"joint": _layout_of(table)},
    )  # fmt: skip


def count_samples(
    spec: InputSpec, columns: list[str], flags: list[str]
) -> tuple[dict[tuple[str, ...], int], int]:
    """How often each combination of the columns' values occurs, and the number of samples."""
    from collections import Counter

    from xent_cli.io.readers import read_sample_columns

    if spec.source.inline is not None:
        raise UsageError("samples come from a table (a file or stdin), not an inline list")
    counts: Counter[tuple[str, ...]] = Counter()
    total = 0
    for block in read_sample_columns(spec.source, spec.options, columns, flags):
        counts.update(zip(*block, strict=True))
        total += len(block[0])
    if total == 0:
        raise InputError(f"{spec.label}: has no samples")
    return dict(counts), total


def info_samples_task(spec: InputSpec, x: str, y: str, *, unit: Unit, correction: str) -> Partial:
    """Plug-in information estimates from two label columns of samples.

    The contingency table is sparse: the counts of the pairs observed, so its
    size is that of the pairs seen, not (X values) x (Y values).
    """
    import numpy as np

    from xent_cli.core.information import information_from_counts

    counts, total = count_samples(spec, [x, y], ["--x", "--y"])
    x_names = sorted({key[0] for key in counts}, key=_natural)
    y_names = sorted({key[1] for key in counts}, key=_natural)
    x_index = {name: i for i, name in enumerate(x_names)}
    y_index = {name: i for i, name in enumerate(y_names)}
    x_codes = np.fromiter((x_index[a] for a, _ in counts), dtype=np.intp, count=len(counts))
    y_codes = np.fromiter((y_index[b] for _, b in counts), dtype=np.intp, count=len(counts))
    cell_counts = np.fromiter(counts.values(), dtype=np.int64, count=len(counts))
    info = information_from_counts(
        x_codes,
        y_codes,
        cell_counts,
        correction="miller-madow" if correction == "miller-madow" else "none",
    )
    echo = None
    if len(x_names) * len(y_names) <= _JOINT_ECHO_CELLS:
        joint = np.zeros((len(x_names), len(y_names)))
        joint[x_codes, y_codes] = cell_counts / total
        echo = _joint_echo(joint, x_names, y_names)
    return _information_partial(
        info, x_names, y_names, unit=unit, samples=total, correction=correction, notes=[], echo=echo
    )


def entropy_column_task(spec: InputSpec, column: str, *, unit: Unit, correction: str) -> Partial:
    """Entropy of the empirical distribution of one label column (plug-in, or Miller–Madow)."""
    import numpy as np

    from xent_cli.core.distributions import prepare
    from xent_cli.core.measures import entropy_rows

    counts, total = count_samples(spec, [column], ["--column"])
    names = sorted((key[0] for key in counts), key=_natural)
    weights = np.array([[counts[(name,)] for name in names]], dtype=np.float64)
    h = float(entropy_rows(prepare(weights, "weights"))[0])  # the plug-in estimate
    if correction == "miller-madow":
        h += (len(names) - 1) / (2 * total)
    return Partial(
        measures=[MeasurePart("entropy", f"H({column})", np.array([h / unit.scale]))],
        rows_read=1,
        samples=SampleSummary(count=total, distinct=len(names), correction=correction),
    )


def _natural(text: str) -> tuple[int, float, str]:
    """Sort numbers numerically, then text."""
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)
