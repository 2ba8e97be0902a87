"""The names the options accept for measures and statistics, and the gate names each --help lists.

Plain data, for ``--help`` without imports: the plan (:mod:`xent_cli.pipeline.plan`) is the
authority on gate names, and tests/cli/test_help.py checks that these agree with it.
"""

from __future__ import annotations

# compare --measures: the names it accepts (each a key of xent_cli.pipeline.tasks.PAIR_MEASURES,
# or an alias), in the panel's order.
COMPARE_MEASURES = (
    "kl",
    "kl_reverse",
    "cross_entropy",
    "js",
    "js_distance",
    "tv",
    "hellinger",
    "max_abs_diff",
    "top1_agreement",
    "chi2",
    "bhattacharyya",
    "jeffreys",
)
MEASURE_ALIASES = {"ce": "cross_entropy", "top1": "top1_agreement", "max_abs": "max_abs_diff"}


# The statistics each command's gates may name, for its --help. The plan's list
# (xent_cli.pipeline.plan) is the authority; tests/cli/test_help.py checks that they agree.
GATE_MEASURES: dict[str, tuple[str, ...]] = {
    "entropy": ("entropy",),
    "kl": ("kl",),
    "cross-entropy": ("cross_entropy",),
    "js": ("js", "js_distance"),
    "compare": COMPARE_MEASURES,
    "loss": ("log_loss", "accuracy"),
    "info": ("mi", "h_x", "h_y", "h_xy", "h_x_given_y", "h_y_given_x", "nmi", "ami", "vi"),
}
GATE_EXTRAS = {
    "compare": "Also the panel's same_top1 and same_top1_std_error; with --target the measures nll_p, "
    "nll_q and delta_p, and nll_p_std_error, nll_q_std_error, ppl_p, ppl_p_std_error, ppl_q, "
    "ppl_q_std_error, ln_ppl_ratio, ln_ppl_ratio_std_error, ppl_ratio, ppl_ratio_std_error, "
    "logprob_correlation and delta_p.rms.",
    "loss": "Also perplexity (exp of the log_loss mean in nats; perplexity.ci_low/ci_high with --ci).",
}
SUMMARY_STATISTICS = (
    "count, mean, std_error, min, p0.1, p1, p5, p10, p50, p90, p95, p99, p99.9, max, sum, inf_count"
)


# calibration's statistics are not the means of its per-row measures (ECE is made from bins):
# its names are listed apart. xent_cli.pipeline.calibration.calibration_plan is the authority.
CALIBRATION_GATE_STATISTICS = ("ece", "mce", "rmsce", "brier", "accuracy", "confidence")
CALIBRATION_ROW_MEASURES = ("brier", "confidence", "correct")


def gate_names_help(command: str) -> str:
    """The paragraph of ``command``'s --help that lists the names its gates take."""
    if command == "calibration":
        return (
            f"Gate names (--fail-above NAME=X, …): {', '.join(CALIBRATION_GATE_STATISTICS)} (ECE is the "
            "headline), and classwise_ece with --classwise; or MEASURE.STAT for a per-row measure, "
            f"{', '.join(CALIBRATION_ROW_MEASURES)} (1 when the top class is the target), with STAT one "
            f"of {SUMMARY_STATISTICS}. With --ci, brier, accuracy, confidence and MEASURE.sum take "
            ".ci_low and .ci_high (ECE, MCE and RMSCE, binned, have no interval). "
            "E.g. --fail-above ece=0.05, --fail-below accuracy=0.9, --fail-above brier.p99=0.8."
        )
    measures = GATE_MEASURES[command]
    first = measures[0]
    text = (
        f"Gate names (--fail-above NAME=X, …): a measure, {', '.join(measures)}, for its mean, or "
        f"MEASURE.STAT with STAT one of {SUMMARY_STATISTICS}; with --ci, NAME.ci_low and NAME.ci_high "
        "for a mean or a sum (MEASURE, MEASURE.sum). "
        f"E.g. --fail-above {first}.p99=0.5, --fail-increase {first}=1% with --baseline."
    )
    extra = GATE_EXTRAS.get(command)
    return f"{text} {extra}" if extra else text
