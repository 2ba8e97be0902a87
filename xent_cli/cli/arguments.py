"""The commands' own arguments and options (those outside the option groups of ``params``).

Declared here, apart from the commands, so that ``commands.py`` holds only the commands.
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from xent_cli.cli.params import (
    NUMBERS,
    PAIR_HELP,
    PAIR_WEIGHTS_HELP,
    CorrectionName,
    DenseKind,
    PairName,
)
from xent_cli.cli.validators import (
    check_bins,
    check_label_smoothing,
    check_smoothing,
    parse_clip,
)

SourceArg = Annotated[
    str | None,
    typer.Argument(
        help="A file (.csv .tsv .json .jsonl .npy .parquet .feather, optionally .gz/.bz2/.xz/.zst), "
        "a glob or folder of shards, '-' for stdin, or an inline list like 0.5,0.5. Omitted: stdin.",
        metavar="SRC",
        show_default=False,
    ),
]
PArg = Annotated[
    str | None,
    typer.Argument(
        help="P: a file, shards, '-' for stdin, or an inline list like 0.5,0.5. Omitted: stdin.",
        metavar="P",
        show_default=False,
    ),
]
QArg = Annotated[
    str | None,
    typer.Argument(
        help="Q: a file, shards, '-' for stdin, or an inline list. Omitted: P must be one table "
        "with exactly two numeric columns (P and Q).",
        metavar="Q",
        show_default=False,
    ),
]
PredArg = Annotated[
    str | None,
    typer.Argument(
        help="Predictions: a file, shards, '-' for stdin, or an inline list. Omitted: stdin.",
        metavar="PRED",
        show_default=False,
    ),
]
Target = Annotated[
    str,
    typer.Option(
        "--target",
        "-t",
        help="True labels: a column of PRED, a file, or an inline list like 2,0,1.",
        metavar="T",
        show_default=False,
    ),
]
LabelSmoothing = Annotated[
    float,
    typer.Option(
        "--label-smoothing",
        help="Target (1-ε)·onehot + ε/K, as in PyTorch's cross_entropy.",
        metavar="ε",
        rich_help_panel=NUMBERS,
        callback=check_label_smoothing,
    ),
]
PairMode = Annotated[
    PairName | None,
    typer.Option("--pair", help=PAIR_HELP, metavar="position", show_default=False),
]
WeightsPairMode = Annotated[
    PairName | None,
    typer.Option("--pair", help=PAIR_WEIGHTS_HELP, metavar="position", show_default=False),
]
IgnoreLabel = Annotated[
    str | None,
    typer.Option(
        "--ignore-label",
        help="Leave out rows whose target is VALUE (e.g. --ignore-label=-100); they are counted.",
        metavar="VALUE",
        show_default=False,
    ),
]
Correction = Annotated[
    CorrectionName,
    DenseKind,
    typer.Option(
        "--correction",
        help="Bias correction of entropies estimated from samples: none (plug-in) or miller-madow, "
        "which adds (m - 1) / 2N nats (m distinct values, N samples).",
        metavar="NAME",
        rich_help_panel=NUMBERS,
    ),
]
SampleColumn = Annotated[
    str | None,
    typer.Option(
        "--column",
        help="Entropy of this column's labels, estimated from samples (one row per sample).",
        metavar="COL",
        show_default=False,
    ),
]
XColumn = Annotated[
    str | None,
    typer.Option(
        "--x", help="Column of X labels (samples mode; needs --y).", metavar="COL", show_default=False
    ),
]
YColumn = Annotated[
    str | None,
    typer.Option(
        "--y", help="Column of Y labels (samples mode; needs --x).", metavar="COL", show_default=False
    ),
]

# --- calibration ---------------------------------------------------------------------------------

CALIBRATION = "Calibration"
StrategyName = Literal["uniform", "quantile"]
Bins = Annotated[
    int,
    typer.Option(
        "--bins",
        help="Number of confidence bins of the reliability diagram (1 to 10000).",
        metavar="N",
        rich_help_panel=CALIBRATION,
        callback=check_bins,
    ),
]
BinStrategy = Annotated[
    StrategyName,
    typer.Option(
        "--strategy",
        help="uniform: equal-width bins (lo, hi] over (0, 1]; quantile: bins of equal row counts "
        "(edges at the confidences' quantiles, as scikit-learn's calibration_curve).",
        metavar="NAME",
        rich_help_panel=CALIBRATION,
    ),
]
Classwise = Annotated[
    bool,
    typer.Option(
        "--classwise",
        help="Also the one-vs-rest ECE of each class (its p_k against y = k), and their mean, classwise_ece.",
        metavar="",
        rich_help_panel=CALIBRATION,
    ),
]

# --- loss: clipping and smoothing of the predictions -------------------------------------------


Clip = Annotated[
    float | None,
    typer.Option(
        "--clip",
        help="Clip probabilities to [EPS, 1 - EPS] before the log, as scikit-learn's log_loss does; "
        "auto: EPS = 2.22e-16, float64's machine epsilon (sklearn's value).",
        metavar="auto|EPS",
        parser=parse_clip,
        rich_help_panel=NUMBERS,
        show_default=False,
    ),
]
PredictionSmoothing = Annotated[
    float | None,
    typer.Option(
        "--smooth",
        help="Additive smoothing of the predictions: p' = (p + ALPHA) / (1 + K*ALPHA).",
        metavar="ALPHA",
        rich_help_panel=NUMBERS,
        show_default=False,
        callback=check_smoothing,
    ),
]

# --- info: how NMI and AMI are normalized -------------------------------------------------------

AverageName = Literal["arithmetic", "geometric", "min", "max"]
Average = Annotated[
    AverageName,
    typer.Option(
        "--average",
        help="The mean of H(X) and H(Y) that normalizes NMI and AMI (scikit-learn's average_method).",
        metavar="NAME",
        rich_help_panel=NUMBERS,
    ),
]


# --- sample weights --------------------------------------------------------------------------------

SampleWeights = Annotated[
    str | None,
    typer.Option(
        "--weights",
        help="A weight per row (scikit-learn's sample_weight): a column of PRED (or P), a file (its last "
        "column, or one named label/target/y), or an inline list like 1,2,0.5. Finite, >= 0, not all 0.",
        metavar="W",
        show_default=False,
    ),
]

# `info` computes one set of measures from a table, not a summary over rows: --weights is
# refused there with the reason (hidden from its help, which would otherwise offer it).
InfoWeights = Annotated[
    str | None,
    typer.Option("--weights", metavar="W", hidden=True, show_default=False),
]
