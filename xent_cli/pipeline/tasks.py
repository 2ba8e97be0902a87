"""Per-command tasks: one source (or shard, or pair of shards) in, one :class:`Partial` out.

Each task reads through ``xent_cli.pipeline.align``, computes with
``xent_cli.core`` and returns what its rows contribute. Tasks are top-level
functions with plain-data arguments, so a Dask worker can run them as they
are; the local engine runs the same functions in this process.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from xent_cli import progress
from xent_cli.columns.buffer import RowBuffer
from xent_cli.errors import DistributionError, InputError, UsageError
from xent_cli.io.readers import Block, Labels, Table
from xent_cli.io.sources import Source
from xent_cli.pipeline.align import (
    InputSpec,
    PairBlock,
    Side,
    Stream,
    distribution_table,
    joined,
    open_table,
    paired_blocks,
    to_distributions,
    two_columns,
)
from xent_cli.pipeline.partials import ExplainPart, LossPart, MeasurePart, Partial
from xent_cli.results import ExplainFormulas, InfoSummary, JointTable, SampleSummary, Scaling, Unit

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.core.distributions import Distributions, Kind
    from xent_cli.core.information import Average, Information
    from xent_cli.core.kernels import KernelResult
    from xent_cli.core.lm import LMPanel, LMRows
    from xent_cli.core.measures import PairTerms


def _layout_of(table: Table) -> dict[str, object]:
    layout = getattr(table, "layout", None)
    return dict(layout) if isinstance(layout, dict) else {}


ENTROPY_FORMULAS = ExplainFormulas("−p·log p", "−p·log p", information="−log p")


def entropy_task(spec: InputSpec, *, unit: Unit, tolerance: float, explain: bool = False) -> Partial:
    """Entropy of every row of one source (and, with ``explain``, each outcome's part of it)."""

    from xent_cli.core import kernels
    from xent_cli.core.measures import entropy_terms, row_sum

    if not explain:
        spec = _for_kernels(spec)
    values = RowBuffer()
    ids: list[str] = []
    explainer = OutcomeSums() if explain else None
    with ExitStack() as closer:
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
            ids.extend(block.ids or [])
            progress.advance(len(block))
    if not len(values):
        raise InputError(f"{spec.label}: has no rows")
    per_row = values.finish(unit.scale)
    explained = None
    if explainer is not None:
        explained = explainer.part("entropy", "H(P)", table.outcomes, unit, lambda u: u.scale)
        explained.formulas = ENTROPY_FORMULAS
    return Partial(
        measures=[MeasurePart("entropy", "H(P)", per_row)],
        rows_read=int(per_row.shape[0]),
        ids=ids if len(ids) == per_row.shape[0] else None,
        notes=list(table.notes),
        layouts={"p": _layout_of(table)},
        explain=explained,
    )


# Inputs from this size on (bytes of one file) start loading the compiled kernels while
# they are opened and read: a block that big will use them (see kernels.warm_up).
WARM_UP_BYTES = 16 << 20


def _big(*specs: InputSpec | None) -> bool:
    """Whether one of the sources is a file of at least ``WARM_UP_BYTES``."""
    import os

    for spec in specs:
        path = None if spec is None else spec.source.path
        if path is None:
            continue
        try:
            if os.stat(path).st_size >= WARM_UP_BYTES:
                return True
        except OSError:
            continue
    return False


def _expected_elements(table: Table) -> int | None:
    """Values the table is expected to hold (rows x outcomes), or None when unknown."""
    rows, width = table.expected_rows, table.n_outcomes
    return None if rows is None or not width else rows * width


# Values per block for the fast kernels: about one parsed text block (2 MB of CSV is about
# 260,000 values), so that computing one block overlaps parsing the next ones, and the
# blocks stay in the cache; but at least 128 rows, so that a block of wide rows (logits)
# still amortizes the per-block work. Blocks of 4 million values made the parse threads
# wait for each block's computation (KL of two 1M-row CSVs: 1.3 s against 1.1 s).
KERNEL_BLOCK_ELEMENTS = 1 << 18
KERNEL_MIN_BLOCK_ROWS = 128


def _for_kernels(spec: InputSpec) -> InputSpec:
    return replace(
        spec,
        options=replace(
            spec.options, block_elements=KERNEL_BLOCK_ELEMENTS, min_block_rows=KERNEL_MIN_BLOCK_ROWS
        ),
    )


# --- two-distribution commands ------------------------------------------------------


class PairContext:
    """One aligned block of P and Q; everything about it is computed once, when first needed.

    ``compare`` asks for many measures of the same pair; each is derived from
    the same cancellation-free ``p - q`` and ``log(p/q)``. When a fused kernel
    has computed a measure's rows, they are set as ``rows:<key>`` and nothing
    else (not even the validated distributions) is computed for it.
    """

    def __init__(
        self, pair: PairBlock, *, smoothing: float | None = None, targets: NDArray[np.intp] | None = None
    ) -> None:
        self.pair = pair
        self.smoothing = smoothing
        self.n_rows = pair.n_rows
        # The actual next token of each row (compare --target), as outcome indices.
        self.targets = targets
        self._cache: dict[str, NDArray[np.float64]] = dict(pair.known or {})

    @functools.cached_property
    def p(self) -> Distributions:
        return self.pair.p

    @functools.cached_property
    def q(self) -> Distributions:
        from xent_cli.core.distributions import smooth

        return smooth(self.pair.q, self.smoothing) if self.smoothing else self.pair.q

    @functools.cached_property
    def terms(self) -> PairTerms:
        from xent_cli.core.measures import pair_terms

        return pair_terms(self.p, self.q)

    def cached(self, key: str, compute: Callable[[], NDArray[np.float64]]) -> NDArray[np.float64]:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def rows(self, measure: PairMeasure) -> NDArray[np.float64]:
        """A measure's per-row values in nats, broadcast to the block's rows."""
        import numpy as np

        values = self.cached(f"rows:{measure.key}", lambda: measure.rows(self))
        return np.broadcast_to(values, (self.n_rows,))

    def broadcast(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        import numpy as np

        return np.broadcast_to(values, (self.n_rows,))


def _kl_terms(c: PairContext) -> NDArray[np.float64]:
    from xent_cli.core.measures import kl_terms

    return c.cached("kl_terms", lambda: kl_terms(c.terms))


def _kl_rows(c: PairContext) -> NDArray[np.float64]:
    from xent_cli.core.measures import row_sum

    return c.cached("rows:kl", lambda: row_sum(_kl_terms(c)))


def _at_targets(c: PairContext, values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each row's value at its target outcome."""
    import numpy as np

    assert c.targets is not None
    full = np.broadcast_to(values, (c.n_rows, c.terms.p.shape[1]))
    result: NDArray[np.float64] = full[np.arange(c.n_rows), c.targets] + 0.0
    return result


def _nll_p(c: PairContext) -> NDArray[np.float64]:
    return c.cached("rows:nll_p", lambda: -_at_targets(c, c.p.log_probs))


def _nll_q(c: PairContext) -> NDArray[np.float64]:
    return c.cached("rows:nll_q", lambda: -_at_targets(c, c.q.log_probs))


def _delta_p(c: PairContext) -> NDArray[np.float64]:
    # q(y) - p(y) from the accurate p - q: no cancellation when the models nearly agree.
    return c.cached("rows:delta_p", lambda: -_at_targets(c, c.terms.diff))


def _reverse_kl_terms(c: PairContext) -> NDArray[np.float64]:
    from xent_cli.core.measures import kl_terms, swapped

    return c.cached("kl_reverse_terms", lambda: kl_terms(swapped(c.terms)))


def _kl_textbook(c: PairContext) -> NDArray[np.float64]:
    """``p·log(p/q)`` per outcome (0 where p = 0): the terms of the textbook sum, of either sign."""
    import numpy as np

    with np.errstate(invalid="ignore"):
        return np.where(c.terms.p > 0, c.terms.p * c.terms.log_ratio, 0.0)


def _reverse_kl_textbook(c: PairContext) -> NDArray[np.float64]:
    import numpy as np

    with np.errstate(invalid="ignore"):
        return np.where(c.terms.q > 0, -c.terms.q * c.terms.log_ratio, 0.0)


def _neg_log_q(c: PairContext) -> NDArray[np.float64]:
    """``−log q`` per outcome (inf where q = 0): the information content of each outcome under Q."""
    import numpy as np

    return np.broadcast_to(-c.q.log_probs, c.terms.q.shape)


def _cross_entropy_terms(c: PairContext) -> NDArray[np.float64]:
    import numpy as np

    # -p log q >= 0 per outcome, 0 where p = 0: the textbook terms, which cannot cancel.
    # (The per-row values are H(p) + KL(p||q), the same sum computed without log q.)
    def compute() -> NDArray[np.float64]:
        with np.errstate(invalid="ignore"):
            return np.where(c.terms.p > 0, c.terms.p * _neg_log_q(c), 0.0)

    return c.cached("ce_terms", compute)


def _cross_entropy_rows(c: PairContext) -> NDArray[np.float64]:
    from xent_cli.core.measures import entropy_terms, row_sum

    # -p log p + q phi(p/q) >= 0 per outcome, summed: H(p) + KL(p||q) with no log q.
    return row_sum(entropy_terms(c.p) + _kl_terms(c))


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

    return c.cached("rows:top1_agreement", lambda: top1_agreement_rows(c.p, c.q))


@dataclass(frozen=True)
class PairMeasure:
    """A per-row measure of two distributions.

    ``rows`` gives it in nats; ``scaling`` says how it changes with the unit
    (``unit``: divided by log(base); ``root``: by its square root; ``none``:
    unitless). ``terms`` gives non-negative per-outcome contributions that sum
    to the measure, for ``--explain``; ``textbook`` the textbook per-outcome
    terms where they differ (KL's ``p·log(p/q)``), and ``information`` the
    information content shown beside them (``−log q``).
    """

    key: str
    label: str
    rows: Callable[[PairContext], NDArray[np.float64]]
    scaling: Scaling = "unit"
    terms: Callable[[PairContext], NDArray[np.float64]] | None = None
    textbook: Callable[[PairContext], NDArray[np.float64]] | None = None
    information: Callable[[PairContext], NDArray[np.float64]] | None = None
    formulas: ExplainFormulas | None = None

    def divisor(self, unit: Unit) -> float:
        return {"unit": unit.scale, "root": math.sqrt(unit.scale), "none": 1.0}[self.scaling]


_SMOOTH_HINT = "--smooth ALPHA avoids it"
KL = PairMeasure(
    "kl", "D(P‖Q)", _kl_rows, terms=_kl_terms, textbook=_kl_textbook,
    formulas=ExplainFormulas(
        "q·φ(p/q)", "p·log(p/q)", infinite_when="p > 0 where q = 0", infinite_hint=_SMOOTH_HINT
    ),
)  # fmt: skip
KL_REVERSE = PairMeasure(
    "kl_reverse", "D(Q‖P)", _summed(_reverse_kl_terms), terms=_reverse_kl_terms,
    textbook=_reverse_kl_textbook,
    formulas=ExplainFormulas("p·φ(q/p)", "q·log(q/p)", infinite_when="q > 0 where p = 0"),
)  # fmt: skip
CROSS_ENTROPY = PairMeasure(
    "cross_entropy", "H(P, Q)", _cross_entropy_rows, terms=_cross_entropy_terms, information=_neg_log_q,
    formulas=ExplainFormulas(
        "−p·log q", "−p·log q", information="−log q", infinite_when="p > 0 where q = 0",
        infinite_hint=_SMOOTH_HINT,
    ),
)  # fmt: skip
JS = PairMeasure(
    "js", "JS(P, Q)", _summed(_js_terms), terms=_js_terms,
    formulas=ExplainFormulas("½p·log(p/m) + ½q·log(q/m)", "½p·log(p/m) + ½q·log(q/m)"),
)  # fmt: skip
JS_DISTANCE = PairMeasure("js_distance", "√JS", _js_distance, scaling="root")
TOTAL_VARIATION = PairMeasure(
    "tv", "TV", _tv, scaling="none", terms=_tv_terms, formulas=ExplainFormulas("½|p − q|", "½|p − q|"),
)  # fmt: skip
HELLINGER = PairMeasure("hellinger", "Hellinger", _hellinger, scaling="none")
MAX_ABS_DIFF = PairMeasure("max_abs_diff", "max|P−Q|", _max_abs_diff, scaling="none")
TOP1 = PairMeasure("top1_agreement", "top-1 agree", _top1, scaling="none")
# Every measure ``compare --measures`` may name, in the panel's order.
PAIR_MEASURES = {
    m.key: m
    for m in (KL, KL_REVERSE, CROSS_ENTROPY, JS, JS_DISTANCE, TOTAL_VARIATION, HELLINGER, MAX_ABS_DIFF, TOP1)
}


def _chi2(c: PairContext) -> NDArray[np.float64]:
    from xent_cli.core.measures import chi2_rows

    return chi2_rows(c.terms)


def _bhattacharyya(c: PairContext) -> NDArray[np.float64]:
    from xent_cli.core.measures import bhattacharyya_rows

    return bhattacharyya_rows(c.terms)


def _jeffreys(c: PairContext) -> NDArray[np.float64]:
    from xent_cli.core.measures import row_sum

    return c.rows(KL) + row_sum(_reverse_kl_terms(c))


CHI2 = PairMeasure("chi2", "χ²(P‖Q)", _chi2, scaling="none")
BHATTACHARYYA = PairMeasure("bhattacharyya", "Bhattacharyya", _bhattacharyya)
JEFFREYS = PairMeasure("jeffreys", "Jeffreys", _jeffreys)
PAIR_MEASURES.update({m.key: m for m in (CHI2, BHATTACHARYYA, JEFFREYS)})


def pair_measure(key: str) -> PairMeasure:
    """The measure ``compare --measures`` names ``key``: a fixed one, or ``renyi:α`` / ``tsallis:q``."""
    if key in PAIR_MEASURES:
        return PAIR_MEASURES[key]
    family, _, order_text = key.partition(":")
    order = float(order_text)
    if family == "renyi":

        def renyi(c: PairContext) -> NDArray[np.float64]:
            from xent_cli.core.measures import renyi_rows

            return renyi_rows(c.terms, order)

        return PairMeasure(key, f"D_{order_text}(P‖Q)", renyi)
    if family == "tsallis":

        def tsallis(c: PairContext) -> NDArray[np.float64]:
            from xent_cli.core.measures import tsallis_rows

            return tsallis_rows(c.terms, order)

        return PairMeasure(key, f"Tsallis_{order_text}", tsallis, scaling="none")
    raise KeyError(key)


# With the actual next tokens (compare --target): per-row quantities of the language-model panel.
NLL_P = PairMeasure("nll_p", "NLL(P)", _nll_p)
NLL_Q = PairMeasure("nll_q", "NLL(Q)", _nll_q)
DELTA_P = PairMeasure("delta_p", "Δp", _delta_p, scaling="none")
TARGET_MEASURES = (NLL_P, NLL_Q, DELTA_P)


def _p_outside(c: PairContext) -> NDArray[np.float64]:
    return c.cached("rows:p_outside_topk", lambda: _missing("p_outside"))


def _missing(name: str) -> NDArray[np.float64]:  # pragma: no cover - set by the top-k reader
    raise AssertionError(f"{name} is known only for top-k lists")


# From top-k lists: the reference's probability mass outside its own list.
P_OUTSIDE = PairMeasure("p_outside_topk", "P outside top-k", _p_outside, scaling="none")


@dataclass(frozen=True)
class PairCommand:
    """A two-distribution command: its measures (the first is the headline)."""

    command: str
    title: str
    measures: tuple[PairMeasure, ...]

    @property
    def keys(self) -> list[str]:
        return [m.key for m in self.measures]

    def with_targets(self) -> PairCommand:
        """The command with the per-row quantities that need each row's actual next token."""
        return PairCommand(self.command, self.title, self.measures + TARGET_MEASURES)

    def only(self, keys: tuple[str, ...] | None) -> PairCommand:
        """The command computing only ``keys`` (in that order; the first is the headline)."""
        if keys is None:
            return self
        return replace(self, measures=tuple(pair_measure(key) for key in keys))


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

    @property
    def pair_command(self) -> PairCommand:
        command = PAIR_COMMANDS[self.command].only(self.measures)
        if self.top_logprobs:
            return PairCommand(command.command, command.title, (*command.measures, P_OUTSIDE))
        return command.with_targets() if self.target else command


class OutcomeSums:
    """Per-outcome sums over rows for ``--explain``: contributions, textbook terms, p, q, −log p|q."""

    def __init__(self) -> None:
        self.rows = 0
        self.sums: dict[str, NDArray[np.float64]] = {}
        self.infinite: NDArray[np.int64] | None = None

    def add(self, name: str, values: NDArray[np.float64] | None, shape: tuple[int, int]) -> None:
        import numpy as np

        if values is None:
            return
        total = np.sum(np.broadcast_to(values, shape), axis=0)
        self.sums[name] = total if name not in self.sums else self.sums[name] + total

    def add_terms(
        self,
        contributions: NDArray[np.float64],
        shape: tuple[int, int],
        *,
        term: NDArray[np.float64] | None = None,
        p: NDArray[np.float64] | None = None,
        q: NDArray[np.float64] | None = None,
        information: NDArray[np.float64] | None = None,
    ) -> None:
        import numpy as np

        contributions = np.broadcast_to(contributions, shape)
        self.add("contribution", contributions, shape)
        self.add("term", term, shape)
        self.add("p", p, shape)
        self.add("q", q, shape)
        self.add("information", information, shape)
        infinite: NDArray[np.int64] = np.count_nonzero(np.isinf(contributions), axis=0).astype(np.int64)
        self.infinite = infinite if self.infinite is None else self.infinite + infinite
        self.rows += shape[0]

    def add_pair(self, measure: PairMeasure, context: PairContext) -> None:
        if measure.terms is None:
            raise UsageError(f"--explain: {measure.key} has no per-outcome contributions")
        shape = (context.n_rows, context.terms.p.shape[1])
        self.add_terms(
            measure.terms(context),
            shape,
            term=measure.textbook(context) if measure.textbook else None,
            p=context.terms.p,
            q=context.terms.q,
            information=measure.information(context) if measure.information else None,
        )

    def part(
        self,
        key: str,
        label: str,
        outcomes: list[str] | None,
        unit: Unit,
        divisor: Callable[[Unit], float],
    ) -> ExplainPart:
        scale = divisor(unit)
        sums = self.sums

        def scaled(name: str) -> NDArray[np.float64] | None:
            return sums[name] / scale if name in sums else None

        contributions = scaled("contribution")
        assert contributions is not None
        return ExplainPart(
            key,
            label,
            contributions,
            self.rows,
            outcomes,
            term_sums=scaled("term"),
            p_sums=sums.get("p"),
            q_sums=sums.get("q"),
            information_sums=sums["information"] / unit.scale if "information" in sums else None,
            infinite_rows=self.infinite,
        )


def pair_task(p_spec: InputSpec, q_spec: InputSpec | None, settings: PairSettings) -> Partial:
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
    if kernel is not None:
        p_spec = _for_kernels(p_spec)
        q_spec = None if q_spec is None else _for_kernels(q_spec)
    if settings.target is not None:
        p_spec = replace(p_spec, options=replace(p_spec.options, label_column=settings.target))
    # Values of the whole input, when known: it chooses the kernels' backend.
    expected: int | None = None
    with ExitStack() as closer:
        pairs: Iterator[PairBlock]
        targets = None
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
                p_spec, q_spec, tolerance=settings.tolerance, join_ids=settings.join_ids, closer=closer
            )
            notes = p_table.notes + q_table.notes
            layouts = {"p": _layout_of(p_table), "q": _layout_of(q_table)}
            outcomes = p_table.outcomes or q_table.outcomes
            if kernel is not None:
                from xent_cli.core import kernels

                sizes = [_expected_elements(p_table), _expected_elements(q_table)]
                expected = None if None in sizes else max(n for n in sizes if n is not None)
                if _big(p_spec, q_spec):
                    width = p_table.n_outcomes or q_table.n_outcomes or 0
                    kernels.warm_up(settings.command, width, p_spec.kind, q_spec.kind, n_elements=expected)
            if settings.target is not None:
                targets = TargetReader(p_table, settings.target, p_spec, settings.pair_position)
        for pair in pairs:
            block_targets = None if targets is None else targets.block(pair.p_block, pair.n_rows)
            context = PairContext(pair, smoothing=settings.smoothing, targets=block_targets)
            if kernel is not None:
                context._cache.update(_fast_rows(kernel, pair, block_targets, settings.tolerance, expected))
            for m in command.measures:
                columns[m.key].append(context.rows(m))
            if panel is not None:
                panel.add(_lm_rows(context))
            if explainer is not None:
                explainer.add_pair(headline, context)
            ids.extend(pair.ids or [])
            progress.advance(context.n_rows)
    measures = [
        MeasurePart(m.key, m.label, columns[m.key].finish(m.divisor(settings.unit)), m.scaling)
        for m in command.measures
    ]
    count = int(measures[0].values.shape[0])
    explain = None
    if explainer is not None:
        explain = explainer.part(headline.key, headline.label, outcomes, settings.unit, headline.divisor)
        explain.formulas = headline.formulas
    if targets is not None:
        targets.finish(count)
        notes = notes + targets.notes
    return Partial(
        measures=measures,
        rows_read=count,
        ids=ids if len(ids) == count else None,
        notes=notes,
        layouts=layouts,
        explain=explain,
        sources=sources,
        panel=panel,
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

    if settings.smoothing or settings.explain or settings.top_logprobs:
        return None  # smoothed Q and per-outcome terms come from the careful path
    return {
        "kl": kernels.kl_rows_fast,
        "cross-entropy": kernels.cross_entropy_rows_fast,
        "js": kernels.js_rows_fast,
        "compare": kernels.compare_rows_fast,
    }[settings.command]


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


def _lm_rows(c: PairContext) -> LMRows:
    """The panel's per-row quantities from the block's cached terms (nothing computed twice)."""
    from xent_cli.core.lm import LMRows

    same = c.rows(TOP1) > 0
    kl = c.rows(KL)
    if "rows:p_outside_topk" in c._cache:
        return LMRows(kl, same, p_outside=c._cache["rows:p_outside_topk"])
    if c.targets is None:
        return LMRows(kl, same)
    log_ratio = c.cached("target:log_ratio", lambda: _at_targets(c, c.terms.log_ratio))
    return LMRows(kl, same, -_nll_p(c), -_nll_q(c), log_ratio, _delta_p(c))


class TargetReader:
    """Each row's actual next token (``compare --target``): a column of P, or a labels source by position."""

    def __init__(self, table: Table, target: str, spec: InputSpec, pair_position: bool = False) -> None:
        from xent_cli.io.readers import read_labels

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
            raise UsageError("--target needs one row of P per row: P cannot be a single row here")
        if self.mapper is None:
            self.mapper = TargetMapper(self.table.outcomes, block.values.shape[1], binary=False)
        texts, wheres = _block_targets(
            self.table, block, self.labels, self.seen, None, set(), pair_position=self.pair_position
        )
        self.seen += len(block)
        return np.array([self.mapper(t, wheres(i)) for i, t in enumerate(texts)], dtype=np.intp)

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
        raise InputError(f"--target {target!r} is not a column of {spec.label} nor a file", hint=hint)
    if source.is_stdin and spec.source.is_stdin:
        raise UsageError("only one source can be stdin ('-')")
    return source


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
    # Labels pair with the predictions in order even when their ids differ (``--pair position``).
    pair_position: bool = False
    # --as top-logprobs: the sampled tokens come from the source itself, no --target.
    top_logprobs: bool = False
    # --clip: probabilities clipped to [clip, 1 - clip] (sklearn's log_loss); --smooth ALPHA.
    clip: float | None = None
    smooth: float = 0.0
    # --weights: a column of PRED, a file or an inline list (one weight per row).
    weights: str | None = None


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
    from xent_cli.io.sources import archive_member, path_kind, resolve

    if target == "-" or path_kind(target) is not None or archive_member(target) is not None:
        return resolve(target, stdin_is_terminal=False)
    if "," in target or pred.inline is not None:
        return Source(label=f"--target {target}", inline=target)
    return None


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
    ) -> None:
        from xent_cli.pipeline.weights import Weights, read_weights

        self.pred_spec = pred_spec
        self.target = target
        self.join_ids = join_ids
        self.ignore_label = ignore_label
        self.pair_position = pair_position
        self.spec = replace(pred_spec, options=replace(pred_spec.options, label_column=target))
        self.labels: Labels | None = None
        self.seen = 0
        self.ignored = 0
        self.binary = False
        self.weights: Weights | None = None
        if weights is not None:
            if join_ids:
                raise UsageError(
                    "--weights pairs with the predictions by position; it cannot be used with --id"
                )
            self.weights = read_weights(weights, pred_spec)

    def block_weights(self, rows: int) -> NDArray[np.float64] | None:
        """The weights of the block being read (None: unweighted)."""
        if self.weights is None:
            return None
        return self.weights.block(self.seen, rows, self.pred_spec.label)

    def blocks(self, closer: ExitStack) -> Iterator[tuple[Table, Block, NDArray[np.intp], NDArray[np.bool_]]]:
        """Each block with its rows' class indices (0 where not kept) and which rows are kept."""
        import numpy as np

        from xent_cli.io.readers import read_labels

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
                mapper = TargetMapper(table.outcomes, block.values.shape[1], self.binary)
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
                [mapper(t, wheres(i)) if keep[i] else 0 for i, t in enumerate(texts)], dtype=np.intp
            )
            yield table, block, targets, keep
            self.seen += n
            progress.advance(n)
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
        return list(self.table.notes) + (self.labels.notes if self.labels is not None else [])

    @property
    def target_label(self) -> str:
        if self.labels is not None:
            return self.labels.label
        return f"{self.pred_spec.label} column {self.target!r}"


def loss_task(pred_spec: InputSpec, settings: LossSettings) -> Partial:
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
    )
    weighted = settings.weights is not None
    weight_sum, weighted_nll, weighted_correct = ExactSum(), ExactSum(), ExactSum()
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
            weights = reader.block_weights(len(block))
            if weights is not None:
                kept_weights = weights[keep]
                weight_sum.add(kept_weights)
                with np.errstate(invalid="ignore"):
                    weighted_nll.add(np.where(kept_weights > 0, kept_weights * nll[keep], 0.0))
                weighted_correct.add(kept_weights * correct[keep])
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
            "some rows put probability 0 on the true class (NLL inf): --clip auto clips probabilities "
            "to [eps, 1 - eps] as scikit-learn's log_loss does; --smooth ALPHA smooths them"
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
    )


def topk_loss_task(spec: InputSpec, settings: LossSettings) -> Partial:
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
                    hint="loss --as top-logprobs reads API items: {token, logprob, top_logprobs}",
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
        progress.advance(len(block))
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


def _block_targets(
    table: Table,
    block: Block,
    labels: Labels | None,
    seen: int,
    label_by_id: dict[str, str] | None,
    joined_ids: set[str],
    *,
    pair_position: bool = False,
) -> tuple[list[str], Callable[[int], str]]:
    """The target text of each row of a block, and how to name a row in a message.

    Labels from a source of their own pair by position; when both sides have ids, they
    must agree, unless ``pair_position`` (``--pair position``), which notes the first
    disagreement instead.
    """
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
        from xent_cli.pipeline.align import check_same_ids

        check_same_ids(table, block, labels, seen, pair_position=pair_position)
    return texts, lambda i: labels.where(seen + i)


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
        raise UsageError("binary predictions are one column read as --as probs (P(y=1)) or --as logits")
    bad = ~np.isfinite(scores) | ((scores < 0) | (scores > 1) if kind == "probs" else False)
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(
            f"{table.where(block, row)}: {scores[row]:.6g} is not a probability",
            hint="binary predictions are P(y=1) in [0, 1]; for raw scores use --as logits",
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


# --- information: joint tables and samples ---------------------------------------------------

INFO_MEASURES: tuple[tuple[str, str, Scaling], ...] = (
    ("mi", "I(X;Y)", "unit"),
    ("h_x", "H(X)", "unit"),
    ("h_y", "H(Y)", "unit"),
    ("h_xy", "H(X,Y)", "unit"),
    ("h_x_given_y", "H(X|Y)", "unit"),
    ("h_y_given_x", "H(Y|X)", "unit"),
    ("nmi", "NMI", "none"),
    ("ami", "AMI", "none"),
    ("vi", "VI", "unit"),
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
    average: Average = "arithmetic",
    sizes: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
    plug_in: Information | None = None,
) -> Partial:
    """``sizes``: the class sizes of X and Y when the table holds counts (else AMI is nan);
    ``plug_in``: the uncorrected measures AMI is made from (default ``info``)."""
    import dataclasses
    import math

    import numpy as np

    from xent_cli.core.information import (
        AMI_MAX_PAIRS,
        AMI_MAX_TERMS,
        AVERAGE_FORMULAS,
        adjusted_mi,
        ami_cost,
        normalized_mi,
    )

    base = plug_in or info
    ami = math.nan
    if sizes is not None:
        pairs, terms = ami_cost(*sizes)
        if pairs <= AMI_MAX_PAIRS and terms <= AMI_MAX_TERMS:
            ami = adjusted_mi(base.mi, base.h_x, base.h_y, *sizes, average)
        else:
            notes = [*notes, f"ami is nan: its expected mutual information would sum {terms:,} terms"]
    info = dataclasses.replace(info, nmi=normalized_mi(info.mi, info.h_x, info.h_y, average), ami=ami)
    scaled = info.scaled(unit.scale)
    summary = InfoSummary(
        **{key: getattr(scaled, key) for key, _, _ in INFO_MEASURES},
        samples=samples,
        x_values=len(x_names),
        y_values=len(y_names),
        correction=correction,
        joint=echo,
        nmi_normalization=f"{average}: I / {AVERAGE_FORMULAS[average]}",
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


def info_table_task(
    spec: InputSpec, *, unit: Unit, tolerance: float, average: Average = "arithmetic"
) -> Partial:
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
    sizes = None
    # Counts (whole numbers, exactly summed in float64): AMI is defined.
    with np.errstate(over="ignore"):
        total = float(values.sum())
    if spec.kind == "weights" and np.all(values == np.round(values)) and total < 2.0**53:
        sizes = (values.sum(axis=1), values.sum(axis=0))
    return _information_partial(
        information(joint), x_names, y_names, unit=unit, samples=None, correction="none",
        notes=list(table.notes), echo=_joint_echo(joint, x_names, y_names),
        layouts={"joint": _layout_of(table)}, average=average, sizes=sizes,
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


def info_samples_task(
    spec: InputSpec, x: str, y: str, *, unit: Unit, correction: str, average: Average = "arithmetic"
) -> Partial:
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
    plug_in = info if correction == "none" else information_from_counts(x_codes, y_codes, cell_counts)
    sizes = (
        np.bincount(x_codes, weights=cell_counts, minlength=len(x_names)).astype(np.float64),
        np.bincount(y_codes, weights=cell_counts, minlength=len(y_names)).astype(np.float64),
    )
    echo = None
    if len(x_names) * len(y_names) <= _JOINT_ECHO_CELLS:
        joint = np.zeros((len(x_names), len(y_names)))
        joint[x_codes, y_codes] = cell_counts / total
        echo = _joint_echo(joint, x_names, y_names)
    return _information_partial(
        info, x_names, y_names, unit=unit, samples=total, correction=correction, notes=[], echo=echo,
        average=average, sizes=sizes, plug_in=plug_in,
    )  # fmt: skip


def entropy_column_task(
    spec: InputSpec, column: str, *, unit: Unit, correction: str, explain: bool = False
) -> Partial:
    """Entropy of the empirical distribution of one label column (plug-in, or Miller–Madow)."""
    import numpy as np

    from xent_cli.core.distributions import prepare
    from xent_cli.core.measures import entropy_terms, row_sum

    counts, total = count_samples(spec, [column], ["--column"])
    names = sorted((key[0] for key in counts), key=_natural)
    weights = np.array([[counts[(name,)] for name in names]], dtype=np.float64)
    dist = prepare(weights, "weights")
    terms = entropy_terms(dist)
    h = float(row_sum(terms)[0])  # the plug-in estimate
    if correction == "miller-madow":
        h += (len(names) - 1) / (2 * total)
    explained = None
    if explain:
        explainer = OutcomeSums()
        explainer.add_terms(terms, terms.shape, p=dist.probs, information=-dist.log_probs)
        explained = explainer.part("entropy", f"H({column})", names, unit, lambda u: u.scale)
        explained.formulas = ENTROPY_FORMULAS
    notes = []
    if explain and correction == "miller-madow":
        notes.append(
            f"--explain shows the plug-in terms; H({column}) adds the Miller–Madow correction "
            f"(m - 1) / 2N = {(len(names) - 1) / (2 * total) / unit.scale:.6g} {unit.name} to their sum"
        )
    return Partial(
        measures=[MeasurePart("entropy", f"H({column})", np.array([h / unit.scale]))],
        rows_read=1,
        notes=notes,
        samples=SampleSummary(count=total, distinct=len(names), correction=correction),
        explain=explained,
    )


def _natural(text: str) -> tuple[int, float, str]:
    """Sort numbers numerically, then text."""
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)
