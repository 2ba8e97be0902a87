"""Comparing a language model P (the reference) with a candidate Q: the quantization panel.

One row per token position, one outcome per vocabulary entry. Per row:
``KL(P‖Q)``, whether the two models' most probable tokens agree and, given the
actual next token ``y`` of each row, ``ln p(y)``, ``ln q(y)`` and
``Δp = q(y) - p(y)``. :class:`LMPanel` summarizes them as a mergeable partial
(built from :mod:`xent_cli.core.stats`), so shards and blocks can be combined
in any order with the same result, bit for bit.

Fields of :meth:`LMPanel.to_dict` (stable names; gates use them)
------------------------------------------------------------------
Log quantities are in nats unless ``to_dict(log_base=...)`` converts them
(the ``kl.*``, ``nll_*`` and ``ln_ppl_ratio*`` fields); the others are unitless.

``count``
    Rows (token positions).
``kl.mean``, ``kl.std_error``
    Mean of KL(P‖Q) over the rows and its standard error,
    ``std(ddof=1) / sqrt(n)``.
``kl.min``, ``kl.p0.1``, ``kl.p1``, ``kl.p5``, ``kl.p10``, ``kl.p50``, ``kl.p90``, ``kl.p95``, ``kl.p99``,
``kl.p99.9``, ``kl.max``
    Exact percentiles of the per-row KL (``np.percentile``'s linear
    interpolation).
``same_top1``, ``same_top1_std_error``
    The share of rows whose most probable token is the same under P and Q
    (ties: the first), and its standard error ``sqrt(s (1 - s) / (n - 1))``
    (the ``std(ddof=1) / sqrt(n)`` of the 0/1 rows).

With targets:

``nll_p``, ``nll_p_std_error``, ``nll_q``, ``nll_q_std_error``
    Mean negative log-likelihood ``-ln p(y)`` (``-ln q(y)``) and its standard error.
``ppl_p``, ``ppl_p_std_error``, ``ppl_q``, ``ppl_q_std_error``
    Perplexities ``exp(nll)``; their standard errors by the delta method,
    ``ppl * nll_std_error`` (as llama.cpp reports them).
``ln_ppl_ratio``, ``ln_ppl_ratio_std_error``
    ``ln(PPL(Q) / PPL(P))`` as the mean of the per-row ``nll_q - nll_p``
    (``= ln p(y) - ln q(y)``, taken from the accurate log-ratio of the two
    distributions, not from two rounded log-probabilities), and the standard
    error of that mean.
``ppl_ratio``, ``ppl_ratio_std_error``
    ``exp(ln_ppl_ratio)``, and ``ppl_ratio * ln_ppl_ratio_std_error``.
``logprob_correlation``
    Pearson's correlation of ``ln p(y)`` and ``ln q(y)`` over the rows (nan if
    any of them is ``-inf``). It equals llama.cpp's ``Cor(ln(PPL(Q)),
    ln(PPL(base)))``, which correlates the per-row NLLs.
``delta_p.mean``, ``delta_p.std_error``, ``delta_p.rms``, ``delta_p.min``, ``delta_p.p0.1`` ...
``delta_p.p99.9``, ``delta_p.max``
    ``Δp = q(y) - p(y)``: mean, its standard error, root mean square and
    the same percentiles as ``kl``.

From top-k log-probabilities (``--as top-logprobs``):

``kl.*`` and ``same_top1`` are those of the coarsened pairs (see
:func:`coarsened_pair`: a lower bound of the full KL), and

``p_outside_topk.mean``, ``p_outside_topk.max``
    The reference's probability mass outside its own top-k list.

How this differs from llama.cpp's ``perplexity --kl-divergence``
----------------------------------------------------------------
Its statistics are the same in name and formula where they are sound; the
differences are in numerics, all deliberate:

* Uncertainties there come from running sums of ``x`` and ``x**2`` in double
  (``sqrt((sum2/n - mean**2) / (n - 1))``), which cancels for nearly constant
  values (a KL of 1e-6 ± 1e-9 loses every digit) and is reported as 0 below 11
  rows. Here the sums are exact (:class:`xent_cli.core.stats.Moments`) and
  the standard error is the exact one rounded once, for any n >= 2.
* ``ln(PPL(Q)/PPL(base))`` there is a difference of two means with the
  uncertainty ``sqrt(se_q**2 + se_p**2 - 2 cov)``: the same quantity in exact
  arithmetic, but a difference of nearly equal numbers in floating point. Here
  it is the mean of the per-row differences and its own standard error.
* Δp there is ``expf(-nll) - expf(-nll_base)`` in single precision, which
  cancels exactly when p(y) ≈ q(y), the common case; here it is computed from
  the accurate ``p - q`` of the two distributions (:func:`delta_p_rows` from
  log-probabilities uses ``exp(ln p) * expm1(ln q - ln p)``). Its RMS is
  reported without llama.cpp's delta-method uncertainty.
* Its KL skips base probabilities below ``e**-16`` and reads 16-bit quantized
  base log-probabilities; here every outcome counts, in float64, with the
  cancellation-free terms of :mod:`xent_cli.core.measures`.
* The percentiles are the same linear interpolation, exact over all rows.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xent_cli.core.distributions import DEFAULT_TOLERANCE, Distributions, FloatArray, prepare
from xent_cli.core.measures import kl_rows, kl_terms, pair_terms, row_sum, top1_agreement_rows
from xent_cli.core.stats import Comoments, Moments, Summary, percentile_name
from xent_cli.core.stats.sums import _round_fraction, _sqrt_fraction
from xent_cli.errors import DistributionError

__all__ = [
    "PANEL_PERCENTILES",
    "CoarsenedPair",
    "CoarsenedRows",
    "LMPanel",
    "LMRows",
    "coarsened_pair",
    "coarsened_rows",
    "delta_p_rows",
    "lm_rows",
    "target_logprobs",
    "topk_lm_rows",
]

# min and max are reported as such; these are the percentiles between them.
PANEL_PERCENTILES: tuple[float, ...] = (0.1, 1.0, 5.0, 10.0, 50.0, 90.0, 95.0, 99.0, 99.9)


# --- per-row quantities ------------------------------------------------------------


def _targets(targets: ArrayLike, n_rows: int, n_outcomes: int) -> NDArray[np.intp]:
    labels = np.asarray(targets)
    if labels.ndim == 0:
        labels = labels[None]
    if labels.ndim != 1 or labels.shape[0] != n_rows:
        raise DistributionError(
            f"expected {n_rows} target tokens, one per row, got {labels.shape[0] if labels.ndim else 1}",
            reason="shape",
            name="target",
        )
    if labels.dtype.kind not in "iu":
        raise DistributionError("target tokens must be integer ids", reason="target_type", name="target")
    bad = (labels < 0) | (labels >= n_outcomes)
    if bad.any():
        row = int(np.argmax(bad))
        raise DistributionError(
            f"token id {int(labels[row])} is out of range 0..{n_outcomes - 1}",
            reason="target",
            row=row,
            name="target",
        )
    return labels.astype(np.intp)


def target_logprobs(log_probs: ArrayLike, targets: ArrayLike) -> FloatArray:
    """``ln p(y)`` of each row's target token ``y``.

    Parameters
    ----------
    log_probs : array_like, shape (n, K)
        Normalized log-probabilities (``Distributions.log_probs``).
    targets : array_like of int, shape (n,)
        0-based token ids.

    Raises
    ------
    DistributionError
        ``reason='shape'`` for a wrong number of targets, ``'target_type'``
        for non-integers, ``'target'`` (with the row) for an id out of range.

    Examples
    --------
    >>> target_logprobs(np.log([[0.25, 0.75], [0.5, 0.5]]), [1, 0]).round(6)
    array([-0.287682, -0.693147])
    """
    values = np.asarray(log_probs, dtype=np.float64)
    if values.ndim != 2:
        raise DistributionError("log-probabilities must be a 2-D (rows, tokens) array", reason="shape")
    labels = _targets(targets, values.shape[0], values.shape[1])
    result: FloatArray = values[np.arange(values.shape[0]), labels]
    return result


def delta_p_rows(log_p_target: ArrayLike, log_q_target: ArrayLike) -> FloatArray:
    """``Δp = q(y) - p(y)`` from the two log-probabilities, without cancellation.

    Where ``|ln q - ln p| < 1``, ``Δp = p * expm1(ln q - ln p)``: the
    difference of the log-probabilities is exact when they are close
    (Sterbenz), and expm1 keeps its digits, where ``exp(ln q) - exp(ln p)``
    would subtract two nearly equal numbers. Farther apart the subtraction
    cannot cancel. ``-inf`` means probability 0.

    Examples
    --------
    >>> f"{delta_p_rows([-1.0], [-1.0 + 2**-40])[0]:.12e}"  # exp(-1) * expm1(2**-40)
    '3.345844026368e-13'
    >>> f"{np.exp(-1.0 + 2**-40) - np.exp(-1.0):.12e}"  # the subtraction keeps 4 digits
    '3.345657084708e-13'
    """
    a = np.asarray(log_p_target, dtype=np.float64)
    b = np.asarray(log_q_target, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        d = b - a
        near = np.abs(d) < 1.0
        result = np.where(near, np.exp(a) * np.expm1(np.where(near, d, 0.0)), np.exp(b) - np.exp(a))
    both_zero = np.isneginf(a) & np.isneginf(b)
    out: FloatArray = np.where(both_zero, 0.0, result) + 0.0
    return out


@dataclass(frozen=True)
class LMRows:
    """The per-row quantities of one block, ready for :meth:`LMPanel.add`.

    Attributes
    ----------
    kl : ndarray
        KL(P‖Q) per row, in nats.
    same_top1 : ndarray of bool
        The most probable tokens of P and Q agree.
    log_p_target, log_q_target : ndarray or None
        ``ln p(y)``, ``ln q(y)`` with targets.
    log_ratio_target : ndarray or None
        ``ln p(y) - ln q(y) = nll_q - nll_p``, accurate when the two are close.
    delta_p : ndarray or None
        ``q(y) - p(y)``.
    p_outside : ndarray or None
        From top-k lists: the reference's mass outside its own list.
    """

    kl: FloatArray
    same_top1: NDArray[np.bool_]
    log_p_target: FloatArray | None = None
    log_q_target: FloatArray | None = None
    log_ratio_target: FloatArray | None = None
    delta_p: FloatArray | None = None
    p_outside: FloatArray | None = None

    @property
    def n_rows(self) -> int:
        return int(self.kl.shape[0])

    @property
    def has_targets(self) -> bool:
        return self.log_p_target is not None


def lm_rows(p: Distributions, q: Distributions, targets: ArrayLike | None = None) -> LMRows:
    """Every per-row quantity of the panel for one block of prepared distributions.

    ``q`` may be a single row (broadcast against every row of ``p``). The
    target quantities use the accurate ``p - q`` and ``log(p/q)`` of
    :func:`xent_cli.core.measures.pair_terms`, so Δp and the per-row log-ratio
    keep their digits when the models nearly agree.

    Examples
    --------
    >>> rows = lm_rows(prepare([[0.0, 1.0]], "logits"), prepare([[0.0, 1.1]], "logits"), [1])
    >>> round(float(rows.kl[0]), 10), bool(rows.same_top1[0]), round(float(rows.delta_p[0]), 10)
    (0.0009677797, True, 0.019201527)
    """
    terms = pair_terms(p, q)
    kl = row_sum(kl_terms(terms))
    same = top1_agreement_rows(p, q) > 0
    if targets is None:
        return LMRows(kl, same)
    n, k = terms.p.shape
    labels = _targets(targets, n, k)
    rows = np.arange(n)
    log_p = np.broadcast_to(p.log_probs, (n, k))[rows, labels]
    log_q = np.broadcast_to(q.log_probs, (n, k))[rows, labels]
    log_ratio = terms.log_ratio[rows, labels] + 0.0
    delta_p = -terms.diff[rows, labels] + 0.0
    return LMRows(kl, same, log_p, log_q, log_ratio, delta_p)


# --- the panel ---------------------------------------------------------------------


class LMPanel:
    """The mergeable summary of a P-vs-Q comparison (see the module notes for its fields).

    Parameters
    ----------
    worst : int
        Keep the rows with the largest KL (:attr:`kl` ``.worst``).
    hold_values : bool
        Keep the per-row KL and Δp for exact local percentiles (one float64
        per row each). Without it, ``to_dict`` needs ``percentile_values``
        from :func:`xent_cli.core.stats.exact_percentiles`.
    key_histogram : bool
        Keep the depth-0 key histograms that seed that protocol.

    Examples
    --------
    >>> p = prepare([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "logits")
    >>> q = prepare([[2.0, 0.1, 0.0], [0.0, 0.0, 1.0]], "logits")
    >>> panel = LMPanel().add(lm_rows(p, q, [0, 1]))
    >>> fields = panel.to_dict()
    >>> fields["same_top1"], round(fields["kl.max"], 6), round(fields["ppl_ratio"], 6)
    (0.5, 0.364175, 1.65793)
    """

    def __init__(self, *, worst: int = 0, hold_values: bool = True, key_histogram: bool = False) -> None:
        self._options = {"hold_values": hold_values, "key_histogram": key_histogram}
        self.kl = Summary(worst=worst, hold_values=hold_values, key_histogram=key_histogram)
        self.same_top1_count = 0
        self.rows = 0
        self.targets: bool | None = None  # unknown until a block says
        self.nll_p = Moments()
        self.nll_q = Moments()
        self.ln_ratio = Moments()
        self.logprobs = Comoments()
        self.delta_p = Summary(hold_values=hold_values, key_histogram=key_histogram)
        self.p_outside: Moments | None = None

    def add(self, rows: LMRows, *, start_row: int | None = None, ids: Sequence[Any] | None = None) -> LMPanel:
        """Add one block's rows; ``start_row``/``ids`` number them for the worst rows."""
        if self.targets is not None and self.targets != rows.has_targets:
            raise ValueError("every block of a panel must have targets, or none")
        self.targets = rows.has_targets
        self.kl.add(rows.kl, start_row=self.rows if start_row is None else start_row, ids=ids)
        self.same_top1_count += int(np.count_nonzero(rows.same_top1))
        self.rows += rows.n_rows
        if rows.has_targets:
            assert rows.log_p_target is not None and rows.log_q_target is not None
            assert rows.log_ratio_target is not None and rows.delta_p is not None
            with np.errstate(over="ignore"):
                self.nll_p.add(-rows.log_p_target + 0.0)
                self.nll_q.add(-rows.log_q_target + 0.0)
            self.ln_ratio.add(rows.log_ratio_target)
            self.logprobs.add(rows.log_p_target, rows.log_q_target)
            self.delta_p.add(rows.delta_p)
        if rows.p_outside is not None:
            self.p_outside = (self.p_outside or Moments(second_moment=False)).add(rows.p_outside)
        return self

    def merge(self, other: LMPanel) -> LMPanel:
        if None not in (self.targets, other.targets) and self.targets != other.targets:
            raise ValueError("cannot merge a panel with targets and one without")
        result = LMPanel()
        result._options = self._options
        result.kl = self.kl + other.kl
        result.same_top1_count = self.same_top1_count + other.same_top1_count
        result.rows = self.rows + other.rows
        result.targets = self.targets if self.targets is not None else other.targets
        result.nll_p = self.nll_p + other.nll_p
        result.nll_q = self.nll_q + other.nll_q
        result.ln_ratio = self.ln_ratio + other.ln_ratio
        result.logprobs = self.logprobs + other.logprobs
        result.delta_p = self.delta_p + other.delta_p
        if self.p_outside is not None and other.p_outside is not None:
            result.p_outside = self.p_outside + other.p_outside
        else:
            result.p_outside = self.p_outside or other.p_outside
        return result

    def __add__(self, other: LMPanel) -> LMPanel:
        return self.merge(other)

    def summaries(self) -> dict[str, Summary]:
        """The per-row measures whose percentiles are reported, by field prefix."""
        result = {"kl": self.kl}
        if self.targets:
            result["delta_p"] = self.delta_p
        return result

    def same_top1(self) -> tuple[float, float]:
        """The share of rows with the same top-1 token and its standard error.

        The standard error ``sqrt(s (1 - s) / (n - 1))`` is computed exactly
        from the counts and rounded once; nan for fewer than two rows.
        """
        n, k = self.rows, self.same_top1_count
        if n == 0:
            return math.nan, math.nan
        share = _round_fraction(Fraction(k, n))
        if n < 2:
            return share, math.nan
        return share, _sqrt_fraction(Fraction(k * (n - k), n * n * (n - 1)))

    def to_dict(
        self,
        *,
        percentile_values: Mapping[str, Mapping[float, float]] | None = None,
        log_base: float | None = None,
    ) -> dict[str, float | int]:
        """The panel's fields (named in the module notes), in display order.

        ``percentile_values`` maps ``"kl"`` (and ``"delta_p"``) to the
        percentiles found by the distributed protocol, when the values were
        not held. ``log_base`` converts the log quantities from nats.
        """
        scale = 1.0 if log_base is None else math.log(log_base)
        found = percentile_values or {}
        result: dict[str, float | int] = {"count": self.rows}
        result.update(_measure_fields("kl", self.kl, found.get("kl"), scale))
        share, share_error = self.same_top1()
        result["same_top1"] = share
        result["same_top1_std_error"] = share_error
        if self.targets:
            for name, moments in (("nll_p", self.nll_p), ("nll_q", self.nll_q)):
                result[name] = moments.mean() / scale
                result[f"{name}_std_error"] = moments.standard_error() / scale
            for name, moments in (("ppl_p", self.nll_p), ("ppl_q", self.nll_q)):
                ppl, error = _exp_with_error(moments.mean(), moments.standard_error())
                result[name] = ppl
                result[f"{name}_std_error"] = error
            ln_ratio, ln_ratio_error = self.ln_ratio.mean(), self.ln_ratio.standard_error()
            result["ln_ppl_ratio"] = ln_ratio / scale
            result["ln_ppl_ratio_std_error"] = ln_ratio_error / scale
            ratio, ratio_error = _exp_with_error(ln_ratio, ln_ratio_error)
            result["ppl_ratio"] = ratio
            result["ppl_ratio_std_error"] = ratio_error
            result["logprob_correlation"] = self.logprobs.correlation()
            delta = _measure_fields("delta_p", self.delta_p, found.get("delta_p"), 1.0)
            delta["delta_p.rms"] = self.delta_p.moments.root_mean_square()
            order = ["delta_p.mean", "delta_p.std_error", "delta_p.rms"]
            result.update({key: delta[key] for key in order})
            result.update({key: value for key, value in delta.items() if key not in order})
        if self.p_outside is not None:
            result["p_outside_topk.mean"] = self.p_outside.mean()
            result["p_outside_topk.max"] = math.nan if self.p_outside.max is None else self.p_outside.max
        return result

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _PANEL_STATE}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)


_PANEL_STATE = (
    "_options",
    "kl",
    "same_top1_count",
    "rows",
    "targets",
    "nll_p",
    "nll_q",
    "ln_ratio",
    "logprobs",
    "delta_p",
    "p_outside",
)


def _exp_with_error(log_value: float, log_error: float) -> tuple[float, float]:
    """``exp(x)`` and its delta-method standard error ``exp(x) * se(x)``."""
    with np.errstate(over="ignore"):
        value = float(np.exp(log_value))
    with np.errstate(invalid="ignore", over="ignore"):
        return value, float(value * log_error)


def _measure_fields(
    prefix: str, summary: Summary, found: Mapping[float, float] | None, scale: float
) -> dict[str, float]:
    """``prefix.mean``, ``prefix.std_error``, ``prefix.min``, the panel percentiles and ``prefix.max``."""
    qs = PANEL_PERCENTILES
    m = summary.moments
    if summary.count == 0 or m.nan_count == summary.count:
        values = [math.nan] * len(qs)
    elif found is not None:
        missing = [q for q in qs if q not in found]
        if missing:
            names = ", ".join(f"{prefix}.{percentile_name(q)}" for q in missing)
            raise ValueError(f"percentile_values lacks {names}")
        values = [float(found[q]) for q in qs]
    elif summary.holds_values:
        values = summary.percentiles(qs).tolist()
    else:
        raise ValueError(f"the {prefix} percentiles need the values (hold_values=True) or percentile_values=")
    result = {
        f"{prefix}.mean": m.mean() / scale,
        f"{prefix}.std_error": m.standard_error() / scale,
        f"{prefix}.min": (math.nan if m.min is None else m.min) / scale,
    }
    for q, value in zip(qs, values, strict=True):
        result[f"{prefix}.{percentile_name(q)}"] = value / scale
    result[f"{prefix}.max"] = (math.nan if m.max is None else m.max) / scale
    return result


# --- top-k log-probabilities -------------------------------------------------------------


@dataclass(frozen=True)
class CoarsenedPair:
    """One row of two top-k lists, coarsened to the tokens in both lists plus one "rest" bucket.

    Attributes
    ----------
    tokens : tuple
        The tokens in both lists, in the reference's order.
    p_log, q_log : ndarray, shape (len(tokens) + 1,)
        Log-probabilities of those tokens, then of the rest bucket (``-inf``
        where its mass is 0), normalized to sum to 1.
    p_outside, q_outside : float
        Each list's mass outside itself, ``1 - sum(top-k probabilities)``,
        clipped at 0 within the tolerance.
    same_top1 : bool
        The first token of highest log-probability is the same in both lists.
    """

    tokens: tuple[Hashable, ...]
    p_log: FloatArray
    q_log: FloatArray
    p_outside: float
    q_outside: float
    same_top1: bool


def _check_top_list(
    tokens: Sequence[Hashable], logprobs: ArrayLike, tolerance: float, name: str, row: int | None
) -> tuple[list[Hashable], FloatArray]:
    tokens = list(tokens)
    values = np.asarray(logprobs, dtype=np.float64).reshape(-1)
    if len(tokens) != values.shape[0]:
        raise DistributionError(
            f"{len(tokens)} tokens but {values.shape[0]} log-probabilities",
            reason="shape",
            row=row,
            name=name,
        )
    if not tokens:
        raise DistributionError("the top-k list is empty", reason="empty", row=row, name=name)
    bad = np.isnan(values) | np.isposinf(values)
    if bad.any():
        column = int(np.argmax(bad))
        raise DistributionError(
            f"log-probability of {tokens[column]!r} is {values[column]}",
            reason="nonfinite",
            row=row,
            column=column,
            name=name,
        )
    above = values > tolerance
    if above.any():
        column = int(np.argmax(above))
        raise DistributionError(
            f"log-probability {values[column]:.6g} of {tokens[column]!r} is above 0 (a probability above 1)",
            reason="logprob_positive",
            row=row,
            column=column,
            name=name,
        )
    seen: dict[Hashable, int] = {}
    for column, token in enumerate(tokens):
        if token in seen:
            raise DistributionError(
                f"token {token!r} appears twice in one top-k list (at {seen[token]} and {column})",
                reason="duplicate_token",
                row=row,
                column=column,
                name=name,
            )
        seen[token] = column
    return tokens, np.minimum(values, 0.0)


def _log_sum_exp(values: FloatArray) -> float:
    """``log(sum(exp(values)))`` of a short vector; ``-inf`` for no mass.

    As ``peak + log1p(sum of the others)``: when one token holds nearly all
    the mass, ``log(1 + small)`` would round ``small`` and with it the mass
    outside the list, which is then computed from this value.
    """
    if values.shape[0] == 0:
        return -math.inf
    top = int(np.argmax(values))
    peak = float(values[top])
    if peak == -math.inf:
        return -math.inf
    others = np.delete(values, top) - peak
    return peak + math.log1p(float(np.sum(np.exp(others))))


def _outside(total_log: float, listed: int) -> float:
    """``1 - exp(total_log)`` without cancellation (``-expm1``), for a list of ``listed`` tokens.

    Below ``listed * 2**-50``, the rounding error of summing that many
    probabilities, it is noise and taken as 0 (as is a negative remainder, a
    list summing to 1 within the tolerance). Anything larger is kept, however
    small: a candidate's tail can hold most of a small divergence.
    """
    outside = -math.expm1(total_log)
    return outside if outside > listed * 2.0**-50 else 0.0


def _coarsen_side(
    values: FloatArray, shared_columns: list[int], other_columns: list[int], outside: float
) -> FloatArray:
    # The rest bucket holds the mass outside the list plus the listed tokens
    # that are not shared: a sum of non-negative terms, so it neither cancels
    # nor goes negative, and a list whose mass was clipped at 1 still puts
    # its known non-shared tokens there.
    rest = outside + (float(np.sum(np.exp(values[other_columns]))) if other_columns else 0.0)
    coarse = np.append(values[shared_columns], math.log(rest) if rest > 0 else -math.inf)
    return coarse - _log_sum_exp(coarse)  # exactly normalized (it was within the tolerance of 1)


def coarsened_pair(
    p_tokens: Sequence[Hashable],
    p_logprobs: ArrayLike,
    q_tokens: Sequence[Hashable],
    q_logprobs: ArrayLike,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    row: int | None = None,
) -> CoarsenedPair:
    """Coarsen one row of top-k log-probabilities of P (reference) and Q (candidate).

    The partition is {each token in *both* lists} ∪ {everything else}; both
    distributions are mapped through it, and :func:`coarsened_rows` computes
    the KL of the coarsened pair. By the data-processing inequality (a
    divergence cannot grow when both distributions go through the same map),
    that KL is a **lower bound** of the full KL(P‖Q). It is 0 when the lists
    share no token (nothing is known about the two distributions jointly).

    The rest bucket's mass, ``1 - sum of the shared probabilities``, is
    computed as (mass outside the list, ``-expm1(logsumexp(list))``) +
    (probabilities of the listed tokens not shared): a sum of non-negative
    terms, with no cancellation. The mass outside a list is clipped at 0 when
    the list sums to 1 within the tolerance, and taken as 0 below the rounding
    error of the sum (``k * 2**-50``), so lists that hold every token give the
    full KL. If Q's rest bucket is empty while P's is not (Q's list holds all
    its mass, P puts mass elsewhere), the KL is ``inf``, as for full
    distributions where ``q = 0 < p``. Each coarsened pair is renormalized
    exactly.

    Parameters
    ----------
    p_tokens, q_tokens : sequence of hashable
        Token strings (or ids) of each top-k list.
    p_logprobs, q_logprobs : array_like of float
        Their natural-log probabilities, each ``<= 0`` (``-inf`` allowed).
    tolerance : float
        Log-probabilities in ``(0, tolerance]`` are taken as 0 and a list's
        mass may exceed 1 by ``tolerance`` (then it is renormalized).
    row : int, optional
        Named in errors.

    Raises
    ------
    DistributionError
        ``name`` 'p' or 'q', ``column`` the list position, and ``reason``:
        ``'logprob_positive'`` (a log-probability above the tolerance),
        ``'topk_mass'`` (a list's mass above ``1 + tolerance``),
        ``'duplicate_token'``, ``'nonfinite'`` (nan or ``+inf``), ``'empty'``,
        ``'shape'`` (as many tokens as log-probabilities).

    Examples
    --------
    >>> p_tokens, q_tokens = ["a", "b", "c"], ["b", "a", "d"]
    >>> pair = coarsened_pair(p_tokens, np.log([0.5, 0.3, 0.1]), q_tokens, np.log([0.4, 0.4, 0.1]))
    >>> pair.tokens, np.exp(pair.p_log).round(6), np.exp(pair.q_log).round(6)
    (('a', 'b'), array([0.5, 0.3, 0.2]), array([0.4, 0.4, 0.2]))
    >>> round(pair.p_outside, 12), pair.same_top1
    (0.1, False)
    """
    p_list, p_values = _check_top_list(p_tokens, p_logprobs, tolerance, "p", row)
    q_list, q_values = _check_top_list(q_tokens, q_logprobs, tolerance, "q", row)
    totals = []
    for name, values in (("p", p_values), ("q", q_values)):
        total = _log_sum_exp(values)
        if total > math.log1p(tolerance):
            raise DistributionError(
                f"top-k probabilities sum to {math.exp(total):.6g}, more than 1",
                reason="topk_mass",
                row=row,
                name=name,
            )
        totals.append(total)
    q_position = {token: column for column, token in enumerate(q_list)}
    shared = [token for token in p_list if token in q_position]
    shared_set = set(shared)
    p_shared = [column for column, token in enumerate(p_list) if token in shared_set]
    p_other = [column for column, token in enumerate(p_list) if token not in shared_set]
    q_shared = [q_position[token] for token in shared]
    q_other = [column for column, token in enumerate(q_list) if token not in shared_set]
    p_outside, q_outside = _outside(totals[0], len(p_list)), _outside(totals[1], len(q_list))
    return CoarsenedPair(
        tokens=tuple(shared),
        p_log=_coarsen_side(p_values, p_shared, p_other, p_outside),
        q_log=_coarsen_side(q_values, q_shared, q_other, q_outside),
        p_outside=p_outside,
        q_outside=q_outside,
        same_top1=p_list[int(np.argmax(p_values))] == q_list[int(np.argmax(q_values))],
    )


@dataclass(frozen=True)
class CoarsenedRows:
    """A block of coarsened pairs as padded arrays (``-inf`` in both where a row has fewer buckets)."""

    p_log: FloatArray
    q_log: FloatArray
    p_outside: FloatArray
    q_outside: FloatArray
    same_top1: NDArray[np.bool_]
    shared: NDArray[np.int64]


def coarsened_rows(pairs: Sequence[CoarsenedPair]) -> CoarsenedRows:
    """Stack coarsened pairs into padded ``(n, width)`` arrays for vectorized measures."""
    n = len(pairs)
    width = max((pair.p_log.shape[0] for pair in pairs), default=1)
    p_log = np.full((n, width), -np.inf)
    q_log = np.full((n, width), -np.inf)
    for i, pair in enumerate(pairs):
        p_log[i, : pair.p_log.shape[0]] = pair.p_log
        q_log[i, : pair.q_log.shape[0]] = pair.q_log
    return CoarsenedRows(
        p_log=p_log,
        q_log=q_log,
        p_outside=np.array([pair.p_outside for pair in pairs], dtype=np.float64),
        q_outside=np.array([pair.q_outside for pair in pairs], dtype=np.float64),
        same_top1=np.array([pair.same_top1 for pair in pairs], dtype=bool),
        shared=np.array([len(pair.tokens) for pair in pairs], dtype=np.int64),
    )


def topk_lm_rows(rows: CoarsenedRows, *, tolerance: float = DEFAULT_TOLERANCE) -> LMRows:
    """The panel's rows for a block of coarsened top-k pairs: KL (a lower bound), top-1, outside mass.

    Examples
    --------
    >>> pair = coarsened_pair(["a", "b"], np.log([0.6, 0.3]), ["a", "c"], np.log([0.5, 0.4]))
    >>> rows = topk_lm_rows(coarsened_rows([pair]))
    >>> round(float(rows.kl[0]), 12), bool(rows.same_top1[0]), round(float(rows.p_outside[0]), 12)
    (0.020135513551, True, 0.1)
    """
    if rows.p_log.shape[0] == 0:
        empty = np.empty(0)
        return LMRows(empty, np.empty(0, dtype=bool), p_outside=empty)
    p = prepare(rows.p_log, "logprobs", tolerance=tolerance, name="p")
    q = prepare(rows.q_log, "logprobs", tolerance=tolerance, name="q")
    return LMRows(kl_rows(p, q), rows.same_top1, p_outside=rows.p_outside)
