"""The commands' computations: from input specs to results, block by block.

Each ``run_*`` function reads through ``xent_cli.align``, computes with
``xent_cli.core`` and returns a ``xent_cli.results.Result``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from xent_cli.align import (
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
from xent_cli.errors import DistributionError, InputError, UsageError
from xent_cli.io.readers import Block, Labels, Table
from xent_cli.io.sources import Source
from xent_cli.progress import RowProgress, wanted
from xent_cli.results import Contribution, Explanation, Measure, Result, Unit

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.core.distributions import Distributions, Kind


def run_entropy(spec: InputSpec, *, unit: Unit, tolerance: float) -> Result:
    """Entropy of every row of one source."""
    import numpy as np

    from xent_cli.core.measures import entropy_rows

    values: list[NDArray[np.float64]] = []
    ids: list[str] = []
    with ExitStack() as closer:
        table = distribution_table(spec, closer)
        size = block_rows_for(table.n_outcomes, spec.options)
        progress = closer.enter_context(RowProgress("entropy", wanted([spec.source.path])))
        for block, dist in stream_distributions(table, spec.kind, tolerance, size):
            values.append(entropy_rows(dist) / unit.scale)
            ids.extend(block.ids or [])
            progress.advance(len(block))
    if not values:
        raise InputError(f"{spec.label}: has no rows")
    per_row = np.concatenate(values)
    return Result(
        command="entropy",
        title="Entropy H(P)",
        unit=unit,
        sources={"p": spec.label},
        measures=[Measure("entropy", "H(P)", per_row)],
        ids=ids if len(ids) == per_row.shape[0] else None,
        notes=list(table.notes),
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

    ``in_unit`` measures are in nats and divided by the unit's scale; the
    others (distances, agreement) are unitless. ``terms`` gives non-negative
    per-outcome contributions that sum to the measure, for ``--explain``.
    """

    key: str
    label: str
    rows: Callable[[PairContext], NDArray[np.float64]]
    in_unit: bool = True
    terms: Callable[[PairContext], NDArray[np.float64]] | None = None
    # sqrt of an in-unit measure: scaled by sqrt(scale)
    root_of_unit: bool = False


KL = PairMeasure("kl", "D(P‖Q)", _summed(_kl_terms), terms=_kl_terms)
KL_REVERSE = PairMeasure("kl_reverse", "D(Q‖P)", _summed(_reverse_kl_terms), terms=_reverse_kl_terms)
CROSS_ENTROPY = PairMeasure(
    "cross_entropy", "H(P, Q)", _summed(_cross_entropy_terms), terms=_cross_entropy_terms
)
JS = PairMeasure("js", "JS(P, Q)", _summed(_js_terms), terms=_js_terms)
JS_DISTANCE = PairMeasure("js_distance", "√JS", _js_distance, in_unit=False, root_of_unit=True)
TOTAL_VARIATION = PairMeasure("tv", "TV", _summed(_tv_terms), in_unit=False, terms=_tv_terms)
HELLINGER = PairMeasure("hellinger", "Hellinger", _hellinger, in_unit=False)
MAX_ABS_DIFF = PairMeasure("max_abs_diff", "max|P−Q|", _max_abs_diff, in_unit=False)
TOP1 = PairMeasure("top1_agreement", "top-1 agree", _top1, in_unit=False)


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


class ExplainAccumulator:
    """Sums per-outcome contributions over every block, for the mean per outcome."""

    def __init__(self, measure: PairMeasure) -> None:
        self.measure = measure
        self.sums: NDArray[np.float64] | None = None
        self.rows = 0

    def add(self, context: PairContext) -> None:
        import numpy as np

        assert self.measure.terms is not None
        terms = np.broadcast_to(self.measure.terms(context), (context.n_rows, context.terms.p.shape[1]))
        block_sums = np.sum(terms, axis=0)
        self.sums = block_sums if self.sums is None else self.sums + block_sums
        self.rows += context.n_rows

    def explanation(self, outcomes: list[str] | None, unit: Unit, top: int) -> Explanation:
        import numpy as np

        assert self.sums is not None
        means = self.sums / self.rows / (unit.scale if self.measure.in_unit else 1.0)
        total = float(np.sum(means))
        names = outcomes or [str(i) for i in range(means.shape[0])]
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = means / total if total > 0 else np.zeros_like(means)
        order = np.argsort(-means, kind="stable")[: max(0, top)]
        return Explanation(
            measure=self.measure.key,
            label=self.measure.label,
            total=total,
            outcomes=[Contribution(names[i], float(means[i]), float(shares[i])) for i in order],
            rows=self.rows,
        )


def run_pair(
    command: PairCommand,
    p_spec: InputSpec,
    q_spec: InputSpec | None,
    *,
    unit: Unit,
    tolerance: float,
    smoothing: float | None,
    join_ids: bool,
    q_kind: Kind | None = None,
    explain_top: int | None = None,
) -> Result:
    """Every measure of ``command`` over every aligned pair of rows.

    Without ``q_spec``, P's source must be one table with two numeric columns.
    With ``explain_top``, the outcomes are also ranked by their mean contribution
    to the headline measure.
    """
    import numpy as np

    from xent_cli.core.distributions import smooth

    notes: list[str] = []
    columns: dict[str, list[NDArray[np.float64]]] = {m.key: [] for m in command.measures}
    ids: list[str] = []
    explainer = ExplainAccumulator(command.measures[0]) if explain_top is not None else None
    outcomes: list[str] | None
    with ExitStack() as closer:
        paths = [p_spec.source.path, q_spec.source.path if q_spec else None]
        progress = closer.enter_context(RowProgress(command.command, wanted(paths)))
        pairs: Iterator[PairBlock]
        if q_spec is None:
            table, pair, sources = two_columns(p_spec, q_kind or p_spec.kind, tolerance, closer)
            pairs = iter([pair])
            notes.extend(table.notes)
            outcomes = pair.outcomes
        else:
            p_table, q_table, pairs = paired_blocks(
                p_spec, q_spec, tolerance=tolerance, join_ids=join_ids, closer=closer
            )
            sources = {"p": p_spec.label, "q": q_spec.label}
            notes.extend(p_table.notes + q_table.notes)
            outcomes = p_table.outcomes or q_table.outcomes
        for pair in pairs:
            q = smooth(pair.q, smoothing) if smoothing else pair.q
            context = PairContext(pair.p, q)
            for m in command.measures:
                columns[m.key].append(context.broadcast(m.rows(context)))
            if explainer is not None:
                explainer.add(context)
            ids.extend(pair.ids or [])
            progress.advance(context.n_rows)
    measures = []
    for m in command.measures:
        values = np.concatenate(columns[m.key])
        if m.in_unit:
            values = values / unit.scale
        elif m.root_of_unit:
            values = values / np.sqrt(unit.scale)
        measures.append(Measure(m.key, m.label, values, in_unit=m.in_unit or m.root_of_unit))
    details: dict[str, Any] = {}
    if smoothing:
        details["smoothing"] = {"alpha": smoothing, "applied_to": "q"}
        notes.append(f"Q smoothed: q' = (q + {smoothing:g}) / (1 + K*{smoothing:g})")
    count = measures[0].values.shape[0]
    return Result(
        command=command.command,
        title=command.title,
        unit=unit,
        sources=sources,
        measures=measures,
        ids=ids if len(ids) == count else None,
        notes=notes,
        details=details,
        explanation=None if explainer is None else explainer.explanation(outcomes, unit, explain_top or 0),
    )


# --- loss ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossSettings:
    """``xent loss`` options beyond the predictions' own."""

    target: str
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


def run_loss(pred_spec: InputSpec, settings: LossSettings, *, unit: Unit, tolerance: float) -> Result:
    """Log loss, perplexity and top-1 accuracy of predictions against true labels.

    ``settings.target`` is a column of the predictions when one has that name,
    else a labels source (a file, or an inline list like ``cat,dog,cat``), which
    is held in memory.
    """
    import numpy as np

    from xent_cli.io.readers import ReadOptions, read_labels
    from xent_cli.io.sources import path_kind, resolve

    if not 0 <= settings.label_smoothing < 1:
        raise UsageError(f"--label-smoothing {settings.label_smoothing}: must be in [0, 1)")
    options: ReadOptions = replace(pred_spec.options, label_column=settings.target)
    spec = replace(pred_spec, options=options)
    nll_parts: list[NDArray[np.float64]] = []
    correct_parts: list[NDArray[np.float64]] = []
    ids: list[str] = []
    row_numbers: list[int] = []
    ignored = 0
    with ExitStack() as closer:
        table = open_table(spec, closer)
        labels: Labels | None = None
        label_by_id: dict[str, str] | None = None
        if not table.has_labels:
            if path_kind(settings.target) is not None or settings.target == "-":
                source = resolve(settings.target, stdin_is_terminal=False)
            elif "," in settings.target or pred_spec.source.inline is not None:
                source = Source(label=f"--target {settings.target}", inline=settings.target)
            else:
                candidates = [str(n) for n in table.layout.get("labels", [])]
                columns = ", ".join([*(table.outcomes or []), *([table.id_name] if table.id_name else [])])
                hint = f"columns: {columns}" if columns else "give a labels file or a list like 0,2,1"
                if candidates:
                    hint = f"label columns: {', '.join(candidates)}; " + hint
                raise InputError(
                    f"--target {settings.target!r} is not a column of {pred_spec.label} nor a file",
                    hint=hint,
                )
            if source.is_stdin and pred_spec.source.is_stdin:
                raise UsageError("only one source can be stdin ('-')")
            labels = read_labels(source, replace(pred_spec.options, label_column=None))
            if settings.join_ids:
                if labels.ids is None:
                    raise UsageError(f"--id: {labels.label} has no id column to join on")
                label_by_id = dict(zip(labels.ids, labels.values, strict=True))
        binary = table.n_outcomes == 1
        size = block_rows_for(table.n_outcomes, options)
        progress = closer.enter_context(RowProgress("loss", wanted([pred_spec.source.path])))
        mapper: TargetMapper | None = None
        seen = 0
        for block in Stream.open(table, size):
            n = len(block)
            if mapper is None:
                mapper = TargetMapper(table.outcomes, block.values.shape[1], binary)
            texts, wheres = _block_targets(table, block, labels, seen, label_by_id)
            seen += n
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
                    table, block, targets, spec.kind, tolerance, settings.label_smoothing
                )
            nll_parts.append(nll[keep])
            correct_parts.append(correct[keep])
            if block.ids is not None:
                ids.extend(i for i, k in zip(block.ids, keep, strict=True) if k)
            row_numbers.extend(int(block.start + i + 1) for i in np.flatnonzero(keep))
            progress.advance(n)
        if labels is not None and seen != len(labels.values) and not settings.join_ids:
            raise InputError(
                f"{pred_spec.label} has {seen} rows but {labels.label} has {len(labels.values)} labels",
                hint="labels pair with predictions by position (or by --id)",
            )
    if not nll_parts or sum(len(p) for p in nll_parts) == 0:
        if ignored:
            raise InputError(f"every row's target is the ignored label {settings.ignore_label!r}")
        raise InputError(f"{pred_spec.label}: has no rows")
    nll_nats = np.concatenate(nll_parts)
    correct = np.concatenate(correct_parts)
    mean_nats = math.fsum(nll_nats.tolist()) / nll_nats.shape[0] if np.isfinite(nll_nats).all() else math.inf
    details: dict[str, Any] = {
        "loss": {
            "log_loss": mean_nats / unit.scale,
            "perplexity": math.exp(mean_nats) if mean_nats < 709 else math.inf,
            "accuracy": float(np.mean(correct)),
            "ignored_rows": ignored,
            "label_smoothing": settings.label_smoothing,
            "binary": binary,
        }
    }
    target_label = labels.label if labels else f"{pred_spec.label} column {settings.target!r}"
    sources = {"pred": pred_spec.label, "target": target_label}
    return Result(
        command="loss",
        title="Log loss (mean negative log-likelihood)",
        unit=unit,
        sources=sources,
        measures=[
            Measure("log_loss", "NLL", nll_nats / unit.scale),
            Measure("accuracy", "correct", correct, in_unit=False),
        ],
        ids=ids if len(ids) == nll_nats.shape[0] else None,
        notes=list(table.notes) + (labels.notes if labels is not None else []),
        details=details,
        row_numbers=row_numbers if ignored else None,
    )


def _block_targets(
    table: Table,
    block: Block,
    labels: Labels | None,
    seen: int,
    label_by_id: dict[str, str] | None,
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

INFO_MEASURES = (
    ("mi", "I(X;Y)", True),
    ("h_x", "H(X)", True),
    ("h_y", "H(Y)", True),
    ("h_xy", "H(X,Y)", True),
    ("h_x_given_y", "H(X|Y)", True),
    ("h_y_given_x", "H(Y|X)", True),
    ("nmi", "NMI", False),
)
# Joint tables up to this many cells are echoed in the output.
_JOINT_ECHO_CELLS = 10_000


def _information_result(
    joint_values: NDArray[np.float64],
    x_names: list[str],
    y_names: list[str],
    *,
    unit: Unit,
    sources: dict[str, str],
    samples: int | None,
    correction: str,
    notes: list[str],
) -> Result:
    import numpy as np

    from xent_cli.core.information import information, joint_distribution, miller_madow

    joint = joint_distribution(joint_values, "weights")
    info = (miller_madow(joint_values) if correction == "miller-madow" else information(joint)).scaled(
        unit.scale
    )
    measures = [
        Measure(key, label, np.array([getattr(info, key)]), in_unit=in_unit)
        for key, label, in_unit in INFO_MEASURES
    ]
    details: dict[str, Any] = {
        "info": {
            **{key: getattr(info, key) for key, _, _ in INFO_MEASURES},
            "nmi_normalization": "arithmetic: I / ((H(X) + H(Y)) / 2)",
            "samples": samples,
            "x_values": len(x_names),
            "y_values": len(y_names),
            "correction": correction,
        }
    }
    if joint.size <= _JOINT_ECHO_CELLS:
        details["joint"] = {
            "x": x_names,
            "y": y_names,
            "p": joint.tolist(),
            "p_x": np.sum(joint, axis=1).tolist(),
            "p_y": np.sum(joint, axis=0).tolist(),
        }
    return Result(
        command="info",
        title="Information of X and Y",
        unit=unit,
        sources=sources,
        measures=measures,
        notes=notes,
        details=details,
    )


def run_info_table(spec: InputSpec, *, unit: Unit, tolerance: float) -> Result:
    """Information measures of a joint table: X values are row ids, Y values the column names."""
    import numpy as np

    from xent_cli.core.information import joint_distribution

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
    return _information_result(
        values, x_names, y_names, unit=unit, sources={"joint": spec.label},
        samples=None, correction="none", notes=list(table.notes),
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


def run_info_samples(spec: InputSpec, x: str, y: str, *, unit: Unit, correction: str) -> Result:
    """Plug-in information estimates from two label columns of samples."""
    import numpy as np

    counts, total = count_samples(spec, [x, y], ["--x", "--y"])
    x_names = sorted({key[0] for key in counts}, key=_natural)
    y_names = sorted({key[1] for key in counts}, key=_natural)
    x_index = {name: i for i, name in enumerate(x_names)}
    y_index = {name: i for i, name in enumerate(y_names)}
    joint = np.zeros((len(x_names), len(y_names)))
    for (a, b), n in counts.items():
        joint[x_index[a], y_index[b]] = n
    return _information_result(
        joint, x_names, y_names, unit=unit, sources={"samples": spec.label, "x": x, "y": y},
        samples=total, correction=correction, notes=[],
    )  # fmt: skip


def run_entropy_column(spec: InputSpec, column: str, *, unit: Unit, correction: str) -> Result:
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
    return Result(
        command="entropy",
        title=f"Entropy of column {column!r}",
        unit=unit,
        sources={"p": spec.label, "column": column},
        measures=[Measure("entropy", f"H({column})", np.array([h / unit.scale]))],
        details={"samples": {"count": total, "distinct": len(names), "correction": correction}},
    )


def _natural(text: str) -> tuple[int, float, str]:
    """Sort numbers numerically, then text."""
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)
