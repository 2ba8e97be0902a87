"""The measures of the two-distribution commands (kl, cross-entropy, js, compare) and their catalogue."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from xent_cli.errors import UsageError, option
from xent_cli.pipeline.align import (
    PairBlock,
)
from xent_cli.pipeline.partials import ExplainPart
from xent_cli.results import ExplainFormulas, Scaling, Unit

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.core.distributions import Distributions
    from xent_cli.core.measures import PairTerms


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
    # The rows from the terms of the pair alone (the divergence family): big blocks compute them on
    # row ranges over the kernels' threads (``xent_cli.core.kernels_family``).
    from_terms: Callable[[PairTerms], NDArray[np.float64]] | None = None

    def divisor(self, unit: Unit) -> float:
        return {"unit": unit.scale, "root": math.sqrt(unit.scale), "none": 1.0}[self.scaling]


_SMOOTH_HINT = f"{option('smooth')} ALPHA avoids it"


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


def _from_terms(
    rows: Callable[[PairTerms], NDArray[np.float64]],
) -> Callable[[PairContext], NDArray[np.float64]]:
    return lambda c: rows(c.terms)


def _chi2_rows(t: PairTerms) -> NDArray[np.float64]:
    from xent_cli.core.measures import chi2_rows

    return chi2_rows(t)


def _bhattacharyya_rows(t: PairTerms) -> NDArray[np.float64]:
    from xent_cli.core.measures import bhattacharyya_rows

    return bhattacharyya_rows(t)


def _jeffreys_rows(t: PairTerms) -> NDArray[np.float64]:
    from xent_cli.core.measures import jeffreys_rows

    return jeffreys_rows(t)


def _family_measure(
    key: str, label: str, rows: Callable[[PairTerms], NDArray[np.float64]], scaling: Scaling
) -> PairMeasure:
    return PairMeasure(key, label, _from_terms(rows), scaling=scaling, from_terms=rows)


CHI2 = _family_measure("chi2", "χ²(P‖Q)", _chi2_rows, "none")


BHATTACHARYYA = _family_measure("bhattacharyya", "Bhattacharyya", _bhattacharyya_rows, "unit")


JEFFREYS = _family_measure("jeffreys", "Jeffreys", _jeffreys_rows, "unit")


PAIR_MEASURES.update({m.key: m for m in (CHI2, BHATTACHARYYA, JEFFREYS)})


def pair_measure(key: str) -> PairMeasure:
    """The measure ``compare --measures`` names ``key``: a fixed one, or ``renyi:α`` / ``tsallis:q``."""
    if key in PAIR_MEASURES:
        return PAIR_MEASURES[key]
    family, _, order_text = key.partition(":")
    order = float(order_text)
    if family == "renyi":

        def renyi(t: PairTerms) -> NDArray[np.float64]:
            from xent_cli.core.measures import renyi_rows

            return renyi_rows(t, order)

        return _family_measure(key, f"D_{order_text}(P‖Q)", renyi, "unit")
    if family == "tsallis":

        def tsallis(t: PairTerms) -> NDArray[np.float64]:
            from xent_cli.core.measures import tsallis_rows

            return tsallis_rows(t, order)

        return _family_measure(key, f"Tsallis_{order_text}", tsallis, "none")
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
            raise UsageError(f"{option('explain')}: {measure.key} has no per-outcome contributions")
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
