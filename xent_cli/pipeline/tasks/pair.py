"""The two-distribution task (kl, cross-entropy, js, compare): P and Q paired block by block."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

from xent_cli.columns.buffer import RowBuffer
from xent_cli.errors import DistributionError, InputError, UsageError, option
from xent_cli.io.readers import Block, Labels, Table
from xent_cli.io.sources import Source
from xent_cli.pipeline.align import (
    InputSpec,
    PairBlock,
    Side,
    paired_blocks,
    two_columns,
)
from xent_cli.pipeline.partials import MeasurePart, Partial
from xent_cli.pipeline.tasks.common import (
    _big,
    _expected_elements,
    _for_kernels,
    _layout_of,
)
from xent_cli.pipeline.tasks.pair_measures import (
    KL,
    P_OUTSIDE,
    PAIR_COMMANDS,
    TOP1,
    OutcomeSums,
    PairCommand,
    PairContext,
    _at_targets,
    _delta_p,
    _nll_p,
    _nll_q,
)
from xent_cli.pipeline.tasks.targets import (
    TargetMapper,
    _block_targets,
    target_source,
)
from xent_cli.progress import RowCounter
from xent_cli.results import Unit

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.core.distributions import Kind
    from xent_cli.core.kernels import KernelResult
    from xent_cli.core.lm import LMPanel, LMRows
    from xent_cli.core.measures import PairTerms


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
    # compare: the language-model panel; with ``target``, each row's actual next token
    # (a column of P, a labels file or an inline list).
    panel: bool = False
    target: str | None = None
    # Targets from a labels source pair with P's rows in order even when their ids differ.
    pair_position: bool = False
    # Both sources are top-k lists of log-probabilities (an LLM API's), compared coarsened.
    top_logprobs: bool = False

    # compare --measures: compute only these (keys of PAIR_MEASURES).
    measures: tuple[str, ...] | None = None
    # --weights: each row's sample weight, a column of P or a source of its own.
    weights: str | None = None

    @property
    def pair_command(self) -> PairCommand:
        command = PAIR_COMMANDS[self.command].only(self.measures)
        if self.top_logprobs:
            return PairCommand(command.command, command.title, (*command.measures, P_OUTSIDE))
        return command.with_targets() if self.target else command


def pair_task(
    p_spec: InputSpec,
    q_spec: InputSpec | None,
    settings: PairSettings,
    *,
    on_rows: RowCounter | None = None,
) -> Partial:
    """Every measure of the command over every aligned pair of rows.

    Without ``q_spec``, P's source must be one table with two numeric columns.
    With ``settings.explain``, the per-outcome contributions to the headline
    measure are summed too.
    """

    command = settings.pair_command
    columns = {m.key: RowBuffer() for m in command.measures}
    ids: list[str] = []
    headline = command.measures[0]
    explainer = OutcomeSums() if settings.explain else None
    sources: dict[str, str] | None = None
    panel = _new_panel() if settings.panel else None
    kernel = _pair_kernel(settings)
    family = _family_rows(settings, panel_kernel=kernel is not None)
    if kernel is not None or family:
        p_spec = _for_kernels(p_spec)
        q_spec = None if q_spec is None else _for_kernels(q_spec)
    if settings.target is not None:
        p_spec = replace(p_spec, options=replace(p_spec.options, label_column=settings.target))
    from xent_cli.pipeline.weights import task_weights, weighted_note

    # Values of the whole input, when known: it chooses the kernels' backend.
    expected: int | None = None
    with ExitStack() as closer:
        sample_weights, p_spec = task_weights(
            settings.weights, p_spec, closer, pair_position=settings.pair_position
        )
        pairs: Iterator[PairBlock]
        targets = None
        pairing_notes: list[str] = []
        if settings.top_logprobs:
            assert q_spec is not None
            notes = [TOPK_NOTE]
            pairs = _topk_pairs(p_spec, q_spec, settings.tolerance, notes)
            layouts: dict[str, dict[str, object]] = {
                side: {"format": "top-logprobs", "compared": TOPK_METHOD} for side in ("p", "q")
            }
            outcomes = None
        elif q_spec is None:
            table, pair, sources = two_columns(
                p_spec, settings.q_kind or p_spec.kind, settings.tolerance, closer
            )
            pairs = iter([pair])
            notes = list(table.notes)
            layouts = {"p": _layout_of(table)}
            outcomes = pair.outcomes
        else:
            p_table, q_table, pairs = paired_blocks(
                p_spec,
                q_spec,
                tolerance=settings.tolerance,
                join_ids=settings.join_ids,
                closer=closer,
                pair_position=settings.pair_position,
                notes=pairing_notes,
            )
            notes = p_table.notes + q_table.notes
            layouts = {"p": _layout_of(p_table), "q": _layout_of(q_table)}
            outcomes = p_table.outcomes or q_table.outcomes
            if kernel is not None or family:
                from xent_cli.core import kernels

                sizes = [_expected_elements(p_table), _expected_elements(q_table)]
                expected = None if None in sizes else max(n for n in sizes if n is not None)
                if kernel is not None and _big(p_spec, q_spec):
                    width = p_table.n_outcomes or q_table.n_outcomes or 0
                    kernels.warm_up(settings.command, width, p_spec.kind, q_spec.kind, n_elements=expected)
            if settings.target is not None:
                targets = TargetReader(p_table, settings.target, p_spec, settings.pair_position)
        for pair in pairs:
            block_targets = None if targets is None else targets.block(pair.p_block, pair.n_rows)
            context = PairContext(pair, smoothing=settings.smoothing, targets=block_targets)
            if kernel is not None:
                context._cache.update(_fast_rows(kernel, pair, block_targets, settings.tolerance, expected))
            if family:
                context._cache.update(_fast_family_rows(family, pair, settings.tolerance))
            for m in command.measures:
                columns[m.key].append(context.rows(m))
            if panel is not None:
                panel.add(_lm_rows(context, with_kl=KL in command.measures))
            if explainer is not None:
                explainer.add_pair(headline, context)
            if sample_weights is not None:
                # The rows' ids are P's, or Q's where one row of P is compared with each of Q.
                side = pair.p_side if len(pair.p_block) == context.n_rows else pair.q_side
                sample_weights.check_ids(side.table, side.block, side.block.start)
                sample_weights.collect(pair.p_block, context.n_rows)
            ids.extend(pair.ids or [])
            if on_rows is not None:
                on_rows(context.n_rows)
    measures = [
        MeasurePart(m.key, m.label, columns[m.key].finish(m.divisor(settings.unit)), m.scaling)
        for m in command.measures
    ]
    count = int(measures[0].values.shape[0])
    explain = None
    if explainer is not None:
        explain = explainer.part(headline.key, headline.label, outcomes, settings.unit, headline.divisor)
        explain.formulas = headline.formulas
    notes = notes + pairing_notes
    if targets is not None:
        targets.finish(count)
        notes = notes + targets.notes
    if sample_weights is not None:
        sample_weights.finish(count, p_spec.label)
        notes = [*notes, *sample_weights.notes, weighted_note(sample_weights)]
    return Partial(
        measures=measures,
        rows_read=count,
        ids=ids if len(ids) == count else None,
        notes=notes,
        layouts=layouts,
        explain=explain,
        sources=sources,
        panel=panel,
        weights=None if sample_weights is None else sample_weights.values,
    )


TOPK_METHOD = "coarsened: the tokens in both lists plus one bucket for the rest (a lower bound)"


TOPK_NOTE = (
    "top-k lists are compared on the tokens both lists hold plus one bucket for the rest of the mass: "
    "a lower bound of the full divergence"
)


def _topk_pairs(
    p_spec: InputSpec, q_spec: InputSpec, tolerance: float, notes: list[str]
) -> Iterator[PairBlock]:
    """Top-k lists of P and Q, row by row, coarsened to the shared tokens plus one bucket for the rest.

    Each block carries the per-row values that only the lists know (top-1
    agreement of the lists' own first tokens, P's mass outside its list). Once the
    lists are read, ``notes`` gets one note per side whose API placeholders
    ("not in the list") were left out.
    """
    import numpy as np

    from xent_cli.core.distributions import prepare
    from xent_cli.core.lm import coarsened_pair, coarsened_rows
    from xent_cli.io.toplogprobs import dropped_note, read_top_logprobs

    if p_spec.source.is_stdin and q_spec.source.is_stdin:
        raise UsageError("only one source can be stdin ('-')")

    def pairs() -> Iterator[PairBlock]:
        p_blocks = read_top_logprobs(p_spec.source)
        q_blocks = read_top_logprobs(q_spec.source)
        p_rows = q_rows = 0
        dropped = {p_spec.label: 0, q_spec.label: 0}
        for p_block in p_blocks:
            q_block = next(q_blocks, None)
            if q_block is None or len(q_block) != len(p_block):
                q_total = q_rows + (len(q_block) if q_block else 0) + sum(len(b) for b in q_blocks)
                p_total = p_rows + len(p_block) + sum(len(b) for b in p_blocks)
                raise InputError(
                    f"{p_spec.label} has {p_total} token positions but {q_spec.label} has {q_total}",
                    hint="top-k rows pair by position",
                )
            coarse = []
            for i in range(len(p_block)):
                try:
                    coarse.append(
                        coarsened_pair(
                            p_block.tokens[i], p_block.logprobs[i], q_block.tokens[i], q_block.logprobs[i],
                            tolerance=tolerance, row=p_block.start + i,
                        )
                    )  # fmt: skip
                except DistributionError as exc:
                    side = p_block if exc.name == "p" else q_block
                    label = p_spec.label if exc.name == "p" else q_spec.label
                    where = f"{label}: {side.places[i]}"
                    if exc.column is not None:
                        where += f", top_logprobs[{exc.column + 1}]"
                    raise InputError(f"{where}: {exc.message}") from None
            rows = coarsened_rows(coarse)
            p = prepare(rows.p_log, "logprobs", tolerance=tolerance, name="p")
            q = prepare(rows.q_log, "logprobs", tolerance=tolerance, name="q")
            known = {
                "rows:top1_agreement": rows.same_top1.astype(np.float64),
                "rows:p_outside_topk": rows.p_outside,
            }
            values = np.empty((len(p_block), 0))
            start = p_block.start
            sides = Side.of(None, Block(values, start), p), Side.of(None, Block(values, start), q)
            # The ids are the tokens P's source says were sampled (--worst shows them), when it says.
            sampled = [t for t in p_block.actual if t is not None]
            yield PairBlock(*sides, sampled if len(sampled) == len(p_block) else None, known=known)
            p_rows += len(p_block)
            q_rows += len(q_block)
            dropped[p_spec.label] += p_block.dropped
            dropped[q_spec.label] += q_block.dropped
        extra = sum(len(b) for b in q_blocks)
        if extra:
            raise InputError(
                f"{p_spec.label} has {p_rows} token positions but {q_spec.label} has {q_rows + extra}",
                hint="top-k rows pair by position",
            )
        note = dropped_note(dropped)
        if note is not None:
            notes.append(note)

    return pairs()


def _pair_kernel(settings: PairSettings) -> Callable[..., KernelResult | None] | None:
    """The fused kernel that computes every measure of this task, or None when one cannot."""
    from xent_cli.core import kernels

    if _careful_only(settings):
        return None
    if (
        settings.command == "compare"
        and not settings.target
        and not any(m.key in kernels.PANEL_MEASURES for m in settings.pair_command.measures)
    ):
        return None  # only measures the panel does not hold (the divergence family)
    return {
        "kl": kernels.kl_rows_fast,
        "cross-entropy": kernels.cross_entropy_rows_fast,
        "js": kernels.js_rows_fast,
        "compare": kernels.compare_rows_fast,
    }[settings.command]


def _careful_only(settings: PairSettings) -> bool:
    """Smoothed Q, per-outcome terms and top-k lists come from the careful path alone."""
    return bool(settings.smoothing or settings.explain or settings.top_logprobs)


def _family_rows(
    settings: PairSettings, *, panel_kernel: bool
) -> dict[str, Callable[[PairTerms], NDArray[np.float64]]]:
    """The requested measures computed from the pair's terms on row ranges (the divergence family).

    Without the panel kernel, the language-model panel's top-1 agreement is computed with them.
    """
    if _careful_only(settings):
        return {}
    family = {m.key: m.from_terms for m in settings.pair_command.measures if m.from_terms is not None}
    if family and settings.panel and not panel_kernel:
        family[TOP1.key] = _top1_from_terms
    return family


def _top1_from_terms(t: PairTerms) -> NDArray[np.float64]:
    from xent_cli.core.measures import top1_agreement

    return top1_agreement(t.p, t.q)


def _fast_family_rows(
    family: dict[str, Callable[[PairTerms], NDArray[np.float64]]], pair: PairBlock, tolerance: float
) -> dict[str, NDArray[np.float64]]:
    """The family's rows, as ``rows:<key>``; nothing when the block is invalid (the careful path says why)."""
    from xent_cli.core.kernels_family import family_rows_fast

    p, q = pair.p_side, pair.q_side
    result = family_rows_fast(p.values, q.values, family, kind_p=p.kind, kind_q=q.kind, tolerance=tolerance)
    return {} if result is None else {f"rows:{key}": values for key, values in result.items()}


def _fast_rows(
    kernel: Callable[..., KernelResult | None],
    pair: PairBlock,
    targets: NDArray[np.intp] | None,
    tolerance: float,
    expected: int | None,
) -> dict[str, NDArray[np.float64]]:
    """Every measure's rows from one kernel pass, as ``rows:<key>``; nothing when the block is invalid."""
    from xent_cli.core.lm import delta_p_rows

    p, q = pair.p_side, pair.q_side
    extra = {"targets": targets} if targets is not None else {}
    result = kernel(
        p.values, q.values, kind_p=p.kind, kind_q=q.kind, tolerance=tolerance, expected=expected, **extra
    )
    if result is None:
        return {}  # the careful path validates, and names the bad row and column
    rows = {f"rows:{key}": values for key, values in result.measures.items()}
    if targets is not None:
        log_p, log_q = result["log_p_target"], result["log_q_target"]
        rows["rows:nll_p"] = -log_p + 0.0
        rows["rows:nll_q"] = -log_q + 0.0
        rows["rows:delta_p"] = delta_p_rows(log_p, log_q)
        rows["target:log_ratio"] = log_p - log_q
    return rows


def _new_panel() -> LMPanel:
    from xent_cli.core.lm import LMPanel

    # Percentiles come from the per-row measures, which the partial holds anyway.
    return LMPanel(hold_values=False)


def _lm_rows(c: PairContext, *, with_kl: bool = True) -> LMRows:
    """The panel's per-row quantities from the block's cached terms (nothing computed twice).

    Without ``with_kl`` (KL is not a measure of the command) the KL is not computed: the
    panel's ``kl.*`` fields are left out then (``partials._panel``), so zeros stand in.
    """
    import numpy as np

    from xent_cli.core.lm import LMRows

    same = c.rows(TOP1) > 0
    kl = c.rows(KL) if with_kl else np.zeros(c.n_rows)
    if "rows:p_outside_topk" in c._cache:
        return LMRows(kl, same, p_outside=c._cache["rows:p_outside_topk"])
    if c.targets is None:
        return LMRows(kl, same)
    log_ratio = c.cached("target:log_ratio", lambda: _at_targets(c, c.terms.log_ratio))
    return LMRows(kl, same, -_nll_p(c), -_nll_q(c), log_ratio, _delta_p(c))


class TargetReader:
    """Each row's actual next token (``compare --target``): a column of P, or a labels source by position."""

    def __init__(self, table: Table, target: str, spec: InputSpec, pair_position: bool = False) -> None:
        from xent_cli.io.labels import read_labels

        self.table = table
        self.labels: Labels | None = None
        if not table.has_labels:
            source = _labels_source(table, target, spec)
            self.labels = read_labels(source, replace(spec.options, label_column=None))
        self.mapper: TargetMapper | None = None
        self.seen = 0
        self.pair_position = pair_position

    @property
    def notes(self) -> list[str]:
        return list(self.labels.notes) if self.labels is not None else []

    def block(self, block: Block, rows: int) -> NDArray[np.intp]:
        import numpy as np

        if len(block) != rows:
            raise UsageError(f"{option('target')} needs one row of P per row: P cannot be a single row here")
        if self.mapper is None:
            self.mapper = TargetMapper(self.table.outcomes, block.values.shape[1], binary=False)
        texts, wheres = _block_targets(
            self.table, block, self.labels, self.seen, None, set(), pair_position=self.pair_position
        )
        self.seen += len(block)
        return np.array([self.mapper(t, partial(wheres, i)) for i, t in enumerate(texts)], dtype=np.intp)

    def finish(self, rows: int) -> None:
        if self.labels is not None and len(self.labels.values) != rows:
            raise InputError(
                f"{self.table.label} has {rows} rows but {self.labels.label} has "
                f"{len(self.labels.values)} targets",
                hint="targets pair with the rows of P by position",
            )


def _labels_source(table: Table, target: str, spec: InputSpec) -> Source:
    """The labels source ``--target`` names when it is not a column of the table."""
    source = target_source(target, spec.source)
    if source is None:
        candidates = [str(n) for n in table.layout.get("labels", [])]
        columns = ", ".join([*(table.outcomes or []), *([table.id_name] if table.id_name else [])])
        hint = f"columns: {columns}" if columns else "give a labels file or a list like 0,2,1"
        if candidates:
            hint = f"label columns: {', '.join(candidates)}; " + hint
        raise InputError(
            f"{option('target')} {target!r} is not a column of {spec.label} nor a file", hint=hint
        )
    if source.is_stdin and spec.source.is_stdin:
        raise UsageError("only one source can be stdin ('-')")
    return source
