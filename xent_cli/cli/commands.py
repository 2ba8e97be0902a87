"""The commands: each turns its options into a plan, runs it, and writes the result.

Every command's docstring is its ``--help``. The two-distribution commands
(``kl``, ``cross-entropy``, ``js``, ``compare``) come from one factory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xent_cli.cli.app import XentCommand, app
from xent_cli.cli.arguments import (
    Average,
    Bins,
    BinStrategy,
    Classwise,
    Clip,
    Correction,
    IgnoreLabel,
    InfoWeights,
    LabelSmoothing,
    PairMode,
    PArg,
    PredArg,
    PredictionSmoothing,
    QArg,
    SampleColumn,
    SampleWeights,
    SourceArg,
    Target,
    WeightsPairMode,
    XColumn,
    YColumn,
)
from xent_cli.cli.measure_names import gate_names_help
from xent_cli.cli.params import (
    CompareParams,
    DenseKind,
    ExplainParams,
    GateParams,
    InputParams,
    KindName,
    NumberParams,
    OutputParams,
    PairingParams,
    PairKindParams,
    ScaleParams,
    SmoothParams,
    TokenParams,
    command_options,
)
from xent_cli.cli.run import execute, refuse_ci_with_weights, resolve_source
from xent_cli.errors import UsageError

if TYPE_CHECKING:
    from xent_cli.io.table import Role
    from xent_cli.pipeline.align import InputSpec

COMMON = {
    "inputs": InputParams,
    "numbers": NumberParams,
    "output": OutputParams,
    "gates": GateParams,
}


# --- the commands -----------------------------------------------------------------------------------


@app.command(
    cls=XentCommand, short_help="Entropy H(P) of each row, or of labels.", epilog=gate_names_help("entropy")
)
@command_options(**COMMON, explain=ExplainParams, scale=ScaleParams)
def entropy(
    source: SourceArg = None,
    column: SampleColumn = None,
    correction: Correction = "none",
    weights: SampleWeights = None,
    pair: WeightsPairMode = None,
    *,
    inputs: InputParams,
    numbers: NumberParams,
    output: OutputParams,
    explain: ExplainParams,
    gates: GateParams,
    scale: ScaleParams,
) -> int:
    """Entropy H(P) = -Σ p log p of each row of SRC, or of a column of labels.

    A one-column table is one distribution; otherwise each row is one.
    With --column COL, each row is a sample and the entropy is that of the
    column's empirical distribution (plug-in; --correction miller-madow).
    --explain lists each outcome's p, -log p and -p log p. --weights W
    weights the rows: the summary's mean, std_error and percentiles are
    weighted (percentiles by the inverted weighted CDF).

    Examples:

    \b
      xent entropy 0.5,0.25,0.25 --bits --explain
      xent entropy examples/model_a.csv --json \\
          | jq .summary.mean
      xent entropy examples/labels.csv --column label
    """
    from xent_cli.pipeline.align import InputSpec
    from xent_cli.pipeline.plan import entropy_plan

    kind = numbers.dense_kind("entropy")
    role: Role = "samples" if column is not None else "distributions"
    spec = InputSpec(resolve_source(source), inputs.read_options(kind=kind, role=role), kind)
    plan = entropy_plan(
        spec,
        unit=numbers.unit,
        tolerance=numbers.tolerance,
        column=column,
        correction=correction,
        explain=explain.explain,
        explain_top=explain.top,
        weights=weights,
        pair_position=pair == "position",
    )
    return execute(plan, output=output, gates=gates, scale=scale)


PAIR_HELP = {
    "kl": """KL divergence D(P‖Q) = Σ p log(p/q) of each row of P from Q.

    Rows pair by position (or by --id); where both sources have ids they must
    agree (--pair position pairs in order anyway); a one-row Q is compared with
    every row of P. Outcome columns pair by name when both sources name them.
    p > 0 where q = 0 gives inf; --smooth ALPHA avoids that.

    Examples:

    \b
      xent kl 0.5,0.5 0.9,0.1 --explain
      xent kl examples/model_a.csv examples/model_b.csv \\
          --fail-above 0.01
    """,
    "cross-entropy": """Cross-entropy H(P, Q) = -Σ p log q = H(P) + D(P‖Q) of each row (alias: ce).

    With one source, that table's two numeric columns are P and Q.
    --explain lists each outcome's p, q, -log q and -p log q.

    Examples:

    \b
      xent cross-entropy 1,0,0 0.7,0.2,0.1 --explain
      xent ce 2,1,0.1 0.5,0.3,0.2 --p-as logits
    """,
    "js": """Jensen–Shannon divergence JS(P, Q) = ½D(P‖M) + ½D(Q‖M), M = (P+Q)/2, and its square root.

    Symmetric, always finite, at most log 2 (1 bit). The square root,
    js_distance, is a metric (what scipy.spatial.distance.jensenshannon returns).

    Examples:

    \b
      xent js 1,0 0,1 --bits
      xent js examples/model_a.csv examples/model_b.csv \\
          --fail-above js_distance=0.05
    """,
    "compare": """Every two-distribution measure of P and Q in one panel.

    Per row and summarized: kl = D(P‖Q), kl_reverse = D(Q‖P), cross_entropy,
    js, tv (total variation), hellinger, max_abs_diff = max|p − q|, and
    top1_agreement (1 where argmax p = argmax q; its mean is the share of rows
    that agree). The headline (--value) is kl, or the first of --measures.
    Gate any of them.

    Examples:

    \b
      xent compare old.csv new.csv --fail-above kl=0.01 \\
          --fail-above js=0.001 \\
          --fail-below top1_agreement=0.99
      xent compare old.csv new.csv --measures kl,js,top1
    """,
}


def _dense(kind: KindName) -> DenseKind:
    """Top-k lists are read as log-probabilities (and coarsened pair by pair)."""
    return "logprobs" if kind == "top-logprobs" else kind


PAIR_SHORT_HELP = {
    "kl": "KL divergence D(P‖Q).",
    "cross-entropy": "Cross-entropy H(P, Q).",
    "js": "Jensen–Shannon divergence and distance.",
    "compare": "Every measure of P and Q in one panel.",
}
NO_COMPARE = CompareParams()
NO_SMOOTHING = SmoothParams()
NO_TOKENS = TokenParams()


def _tokens_in_file(name: str, p_spec: InputSpec, q_spec: InputSpec | None) -> str | None:
    """``compare`` of a llama.cpp saved-logits file: its own tokens are the targets."""
    if name != "compare" or q_spec is None:
        return None
    from xent_cli.io.llama import TOKENS, is_llama_logits

    return TOKENS if is_llama_logits(p_spec.source) else None


def _pair_command(name: str, *, smoothing: bool = True, tokens: bool = False) -> None:
    """Register the two-distribution command ``name``: all share their options and their body."""
    groups: dict[str, type] = {
        **COMMON,
        "kinds": PairKindParams,
        "explain": ExplainParams,
        "scale": ScaleParams,
        "pairing": PairingParams,
    }
    if smoothing:
        groups["smoothing"] = SmoothParams
    if tokens:
        groups["tokens"] = TokenParams
    if name == "compare":
        groups["compare"] = CompareParams

    def command(
        p: PArg = None,
        q: QArg = None,
        weights: SampleWeights = None,
        *,
        inputs: InputParams,
        numbers: NumberParams,
        kinds: PairKindParams,
        output: OutputParams,
        explain: ExplainParams,
        gates: GateParams,
        scale: ScaleParams,
        pairing: PairingParams,
        smoothing: SmoothParams = NO_SMOOTHING,
        tokens: TokenParams = NO_TOKENS,
        compare: CompareParams = NO_COMPARE,
    ) -> int:
        from xent_cli.pipeline.align import InputSpec
        from xent_cli.pipeline.plan import pair_plan
        from xent_cli.pipeline.tasks import PairSettings

        p_kind, q_kind = numbers.kind(kinds.p_as), numbers.kind(kinds.q_as)
        top_k = "top-logprobs" in (p_kind, q_kind)
        if top_k and (p_kind != q_kind or q is None):
            raise UsageError("--as top-logprobs compares two sources that both hold top-k lists")
        p_options = inputs.read_options(kind=_dense(p_kind))
        p_spec = InputSpec(resolve_source(p), p_options, _dense(p_kind))
        q_options = inputs.read_options(kind=_dense(q_kind))
        q_spec = None if q is None else InputSpec(resolve_source(q), q_options, _dense(q_kind))
        settings = PairSettings(
            command=name,
            unit=numbers.unit,
            tolerance=numbers.tolerance,
            smoothing=smoothing.smooth,
            join_ids=inputs.joins_by_id and q_spec is not None,
            explain=explain.explain,
            q_kind=_dense(q_kind),
            panel=name == "compare",
            target=tokens.target or _tokens_in_file(name, p_spec, q_spec),
            pair_position=pairing.pair == "position",
            top_logprobs=top_k,
            measures=compare.keys,
            weights=weights,
        )
        plan = pair_plan(p_spec, q_spec, settings, explain_top=explain.top)
        return execute(plan, output=output, gates=gates, scale=scale)

    command.__name__ = name.replace("-", "_")
    command.__doc__ = PAIR_HELP[name]
    registered = command_options(**groups)(command)
    app.command(name, cls=XentCommand, short_help=PAIR_SHORT_HELP[name], epilog=gate_names_help(name))(
        registered
    )
    if name == "cross-entropy":
        app.command("ce", cls=XentCommand, help="Alias of cross-entropy.", hidden=True)(registered)


for _name in ("kl", "cross-entropy", "js", "compare"):
    _pair_command(_name, smoothing=_name != "js", tokens=_name == "compare")


@app.command(cls=XentCommand, short_help="Log loss, perplexity and accuracy.", epilog=gate_names_help("loss"))
@command_options(**COMMON, scale=ScaleParams)
def loss(
    pred: PredArg = None,
    target: Target = "",
    label_smoothing: LabelSmoothing = 0.0,
    ignore_label: IgnoreLabel = None,
    pair: PairMode = None,
    clip: Clip = None,
    smooth: PredictionSmoothing = None,
    weights: SampleWeights = None,
    *,
    inputs: InputParams,
    numbers: NumberParams,
    output: OutputParams,
    gates: GateParams,
    scale: ScaleParams,
) -> int:
    """Log loss (mean negative log-likelihood of the true class), perplexity and top-1 accuracy.

    --target is a column of PRED, or a labels source (a file, or an inline
    list like cat,dog,cat), which is read into memory. Labels are class names
    matching PRED's outcome names, or 0-based class indices. One probability
    column with 0/1 targets is binary log loss. Per-row values are the NLL;
    the headline (--value) is their mean; gate accuracy with
    --fail-below accuracy=0.9. A probability of 0 on the true class gives
    inf; --clip auto clips to [eps, 1 - eps] as scikit-learn's log_loss
    does, --smooth ALPHA smooths the predictions. --weights W gives
    sklearn's log_loss with sample_weight=W: the log loss and accuracy (loss.*,
    the headline and their gates) are weighted means; the per-row summary is
    not. With --as top-logprobs (an LLM API's log-probabilities), no --target:
    each position's sampled token is the target, and accuracy is the share
    that topped their list.

    Examples:

    \b
      xent loss examples/model_a.csv \\
          --target examples/labels.csv
      xent loss logits.npy --target labels.csv \\
          --as logits --label-smoothing 0.1
    """
    from xent_cli.pipeline.align import InputSpec
    from xent_cli.pipeline.plan import loss_plan
    from xent_cli.pipeline.tasks import LossSettings

    if numbers.kind() == "top-logprobs":
        refused = {
            "--target": bool(target),
            "--label-smoothing": bool(label_smoothing),
            "--ignore-label": ignore_label is not None,
            "--id": inputs.joins_by_id,
            "--pair": pair is not None,
            "--clip": clip is not None,
            "--smooth": smooth is not None,
            "--weights": weights is not None,
        }
        return _loss_of_sampled_tokens(pred, refused, inputs, numbers, output, gates, scale)
    kind = numbers.dense_kind("loss")
    spec = InputSpec(resolve_source(pred), inputs.read_options(kind=kind, role="predictions"), kind)
    settings = LossSettings(
        target=target,
        unit=numbers.unit,
        tolerance=numbers.tolerance,
        label_smoothing=label_smoothing,
        ignore_label=ignore_label,
        join_ids=inputs.joins_by_id,
        pair_position=pair == "position",
        clip=clip,
        smooth=smooth or 0.0,
        weights=weights,
    )
    return execute(loss_plan(spec, settings), output=output, gates=gates, scale=scale)


def _loss_of_sampled_tokens(
    pred: str | None,
    refused: dict[str, bool],
    inputs: InputParams,
    numbers: NumberParams,
    output: OutputParams,
    gates: GateParams,
    scale: ScaleParams,
) -> int:
    """``loss --as top-logprobs``: the NLL and perplexity of the tokens each position sampled."""
    from xent_cli.pipeline.align import InputSpec
    from xent_cli.pipeline.plan import loss_plan
    from xent_cli.pipeline.tasks import LossSettings

    given = [name for name, used in refused.items() if used]  # options about labels beside PRED
    if given:
        raise UsageError(
            f"loss --as top-logprobs takes each position's sampled token from the source; "
            f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply"
        )
    spec = InputSpec(resolve_source(pred), inputs.read_options(kind="logprobs"), "logprobs")
    settings = LossSettings(target="", unit=numbers.unit, tolerance=numbers.tolerance, top_logprobs=True)
    return execute(loss_plan(spec, settings), output=output, gates=gates, scale=scale)


@app.command(
    cls=XentCommand,
    short_help="Calibration: ECE, Brier score, reliability diagram.",
    epilog=gate_names_help("calibration"),
)
@command_options(**COMMON, scale=ScaleParams)
def calibration(
    pred: PredArg = None,
    target: Target = "",
    bins: Bins = 15,
    strategy: BinStrategy = "uniform",
    classwise: Classwise = False,
    weights: SampleWeights = None,
    pair: PairMode = None,
    *,
    inputs: InputParams,
    numbers: NumberParams,
    output: OutputParams,
    gates: GateParams,
    scale: ScaleParams,
) -> int:
    """Expected calibration error (ECE), MCE, RMSCE, Brier score and the reliability diagram.

    Top-label: a row's confidence is max p, and it is correct when argmax p is
    the --target class (labels as for xent loss). Rows go in --bins bins
    (lo, hi] by confidence; ECE = Σ (n_b/n)·|accuracy_b − confidence_b|,
    MCE its largest bin gap, RMSCE the root mean square gap. The Brier score
    is scikit-learn's brier_score_loss (one column of P(y=1): mean (p − y)²).
    The headline (--value, a bare --fail-above) is ECE; gate any statistic:
    --fail-above brier=0.1. --weights W weights the rows (bins sum weights;
    brier_score_loss's sample_weight).

    Examples:

    \b
      xent calibration examples/model_a.csv \\
          --target examples/labels.csv
      xent calibration preds.parquet --target label \\
          --bins 10 --fail-above ece=0.05
    """
    from xent_cli.pipeline.align import InputSpec
    from xent_cli.pipeline.calibration import CalibrationSettings, calibration_plan

    if strategy == "quantile" and scale.uses_dask:
        raise UsageError(
            "--strategy quantile needs every confidence in one process",
            hint="use --strategy uniform on Dask, or the local engine",
        )
    if weights is not None and gates.ci is not None:
        # The weights are read per row by the calibration task, not as a weighted plan: refused here.
        refuse_ci_with_weights()
    kind = numbers.dense_kind("calibration")
    spec = InputSpec(resolve_source(pred), inputs.read_options(kind=kind, role="predictions"), kind)
    settings = CalibrationSettings(
        target=target,
        tolerance=numbers.tolerance,
        bins=bins,
        strategy=strategy,
        classwise=classwise,
        join_ids=inputs.joins_by_id,
        weights=weights,
        pair_position=pair == "position",
    )
    return execute(calibration_plan(spec, settings), output=output, gates=gates, scale=scale)


@app.command(
    cls=XentCommand, short_help="Mutual information, conditional entropy.", epilog=gate_names_help("info")
)
@command_options(**COMMON)
def info(
    source: SourceArg = None,
    x: XColumn = None,
    y: YColumn = None,
    correction: Correction = "none",
    average: Average = "arithmetic",
    weights: InfoWeights = None,
    *,
    inputs: InputParams,
    numbers: NumberParams,
    output: OutputParams,
    gates: GateParams,
) -> int:
    """H(X), H(Y), H(X,Y), H(X|Y), H(Y|X), I(X;Y), NMI, AMI and VI.

    From a joint table: X values are the row ids, Y values the column names;
    cells are probabilities (summing to 1 over the table) or counts with
    --as weights. From samples: --x COL --y COL name two label columns and the
    plug-in estimate comes from their contingency table (--correction
    miller-madow corrects its bias). NMI = I / ((H(X) + H(Y)) / 2) (--average
    geometric|min|max for another mean), and 1 when X and Y are both
    constant (0/0; scikit-learn's convention). AMI is adjusted for chance, as
    adjusted_mutual_info_score; it needs counts (samples, or whole numbers
    with --as weights) and is nan for a table of probabilities. VI = H(X) +
    H(Y) − 2I, the variation of information. The headline (--value, a bare
    --fail-above) is I(X;Y). Holds the whole table in memory.

    Examples:

    \b
      xent info joint.csv --bits
      xent info examples/forecasts.csv --x forecast \\
          --y actual --fail-below nmi=0.1
    """
    if weights is not None:
        raise UsageError(
            "--weights: info has no per-row summary to weight (it computes one set of measures from the "
            "whole joint or contingency table)",
            hint="for weighted samples, give the weighted counts as a joint table with --as weights",
        )
    from xent_cli.pipeline.align import InputSpec
    from xent_cli.pipeline.plan import info_plan

    kind = numbers.dense_kind("info")
    role: Role = "samples" if x is not None else "joint"
    spec = InputSpec(resolve_source(source), inputs.read_options(kind=kind, role=role), kind)
    plan = info_plan(
        spec, unit=numbers.unit, tolerance=numbers.tolerance, x=x, y=y, correction=correction, average=average
    )
    return execute(plan, output=output, gates=gates)
