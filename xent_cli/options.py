"""Command-line options shared between commands, as ``Annotated`` aliases.

Each alias carries its own help text, so every command documents an option the
same way.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class KindChoice(str, Enum):
    probs = "probs"
    weights = "weights"
    logits = "logits"
    logprobs = "logprobs"


class FormatChoice(str, Enum):
    auto = "auto"
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    tsv = "tsv"


class InputFormatChoice(str, Enum):
    csv = "csv"
    tsv = "tsv"
    json = "json"
    jsonl = "jsonl"
    npy = "npy"
    parquet = "parquet"
    feather = "feather"


_INPUT = "Input"
_NUMBERS = "What the numbers are"
_OUTPUT = "Output"
_GATES = "Gates (exit 1 when a bound breaks)"

SourceArg = Annotated[
    str | None,
    typer.Argument(
        help="A file (.csv .tsv .json .jsonl .npy .parquet .feather; .gz/.bz2/.xz too), '-' for stdin, "
        "or an inline list like 0.5,0.5. Omitted: stdin.",
        show_default=False,
    ),
]
PArg = Annotated[
    str | None,
    typer.Argument(
        help="P: a file, '-' for stdin, or an inline list like 0.5,0.5. Omitted: stdin.",
        show_default=False,
    ),
]
QArg = Annotated[
    str | None,
    typer.Argument(
        help="Q: a file, '-' for stdin, or an inline list. Omitted: P must be one table "
        "with exactly two numeric columns (P and Q).",
        show_default=False,
    ),
]

PredArg = Annotated[
    str | None,
    typer.Argument(
        help="Predictions: a file, '-' for stdin, or an inline list. Omitted: stdin.", show_default=False
    ),
]
Target = Annotated[
    str,
    typer.Option(
        "--target",
        "-t",
        help="True labels: a column of PRED, a file, or an inline list like 2,0,1.",
        show_default=False,
    ),
]
LabelSmoothing = Annotated[
    float,
    typer.Option(
        "--label-smoothing",
        help="Target (1-ε)·onehot + ε/K, as in PyTorch's cross_entropy.",
        metavar="ε",
        rich_help_panel=_NUMBERS,
    ),
]
IgnoreLabel = Annotated[
    str | None,
    typer.Option(
        "--ignore-label",
        help="Leave out rows whose target is VALUE (e.g. -100); they are counted.",
        metavar="VALUE",
        show_default=False,
    ),
]


class CorrectionChoice(str, Enum):
    none = "none"
    miller_madow = "miller-madow"


Correction = Annotated[
    CorrectionChoice,
    typer.Option(
        "--correction",
        help="Bias correction of entropies estimated from samples: none (plug-in) or miller-madow, "
        "which adds (m - 1) / 2N nats (m distinct values, N samples).",
        rich_help_panel=_NUMBERS,
    ),
]
SampleColumn = Annotated[
    str | None,
    typer.Option(
        "--column",
        help="Entropy of this column's labels, estimated from samples (one row per sample).",
        show_default=False,
    ),
]
XColumn = Annotated[
    str | None,
    typer.Option("--x", help="Column of X labels (samples mode; needs --y).", show_default=False),
]
YColumn = Annotated[
    str | None,
    typer.Option("--y", help="Column of Y labels (samples mode; needs --x).", show_default=False),
]


class EngineChoice(str, Enum):
    local = "local"
    dask = "dask"


_SCALE = "Scale"
EngineOption = Annotated[
    EngineChoice,
    typer.Option(
        "--engine",
        help="local: this process. dask: shard by shard on a Dask cluster (pip install 'xent[dask]').",
        rich_help_panel=_SCALE,
    ),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="A running Dask scheduler (tcp://HOST:PORT) for --engine dask; default: start a local "
        "cluster of worker processes on this machine.",
        envvar="XENT_SCHEDULER",
        rich_help_panel=_SCALE,
        show_default=False,
    ),
]

InputFormat = Annotated[
    InputFormatChoice | None,
    typer.Option(
        "--input-format",
        help="Read every source as this format instead of going by extension or content.",
        rich_help_panel=_INPUT,
        show_default=False,
    ),
]
Encoding = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="Text encoding of the sources (default UTF-8, with or without BOM; UTF-16 with a BOM "
        "is recognised). E.g. latin-1, cp1252.",
        rich_help_panel=_INPUT,
        show_default=False,
    ),
]
Delimiter = Annotated[
    str | None,
    typer.Option(
        "--delimiter",
        help="CSV delimiter (default: sniffed among , ; tab |). 'tab' or '\\t' for tab.",
        rich_help_panel=_INPUT,
        show_default=False,
    ),
]
Header = Annotated[
    bool | None,
    typer.Option(
        "--header/--no-header",
        help="The first line is column names (--header) or data (--no-header). Default: inferred "
        "(see the README's layout rule).",
        rich_help_panel=_INPUT,
        show_default=False,
    ),
]
Columns = Annotated[
    str | None,
    typer.Option(
        "--columns",
        help="Comma-separated outcome columns (names, or 1-based numbers).",
        rich_help_panel=_INPUT,
        show_default=False,
    ),
]
IdColumn = Annotated[
    str | None,
    typer.Option(
        "--id",
        help="The row-id column. With two sources, rows are joined by it (this holds Q in memory).",
        rich_help_panel=_INPUT,
        show_default=False,
    ),
]
Decimal = Annotated[
    str,
    typer.Option(
        "--decimal",
        help="Decimal separator in CSV: '.' or ','.",
        rich_help_panel=_INPUT,
    ),
]

AsKind = Annotated[
    KindChoice | None,
    typer.Option(
        "--as",
        help="probs: rows sum to 1; weights: rescaled to sum 1; logits: softmax; "
        "logprobs: log-probabilities.",
        rich_help_panel=_NUMBERS,
        show_default="probs",
    ),
]
Normalize = Annotated[
    bool,
    typer.Option(
        "--normalize", help="Short for --as weights: divide each row by its sum.", rich_help_panel=_NUMBERS
    ),
]
PAs = Annotated[
    KindChoice | None,
    typer.Option("--p-as", help="--as for P only.", rich_help_panel=_NUMBERS, show_default=False),
]
QAs = Annotated[
    KindChoice | None,
    typer.Option("--q-as", help="--as for Q only.", rich_help_panel=_NUMBERS, show_default=False),
]
Tolerance = Annotated[
    float,
    typer.Option(
        "--tolerance",
        help="How far a probs row's sum may be from 1 (absolute) before it is an error.",
        rich_help_panel=_NUMBERS,
    ),
]
Smooth = Annotated[
    float | None,
    typer.Option(
        "--smooth",
        help="Additive smoothing of Q: q' = (q + ALPHA) / (1 + K*ALPHA).",
        metavar="ALPHA",
        rich_help_panel=_NUMBERS,
        show_default=False,
    ),
]
Base = Annotated[
    str,
    typer.Option(
        "--base",
        help="Logarithm base: e (nats), 2 (bits), 10 (hartleys) or a number.",
        rich_help_panel=_NUMBERS,
    ),
]
Bits = Annotated[bool, typer.Option("--bits", help="Short for --base 2.", rich_help_panel=_NUMBERS)]

Format = Annotated[
    FormatChoice,
    typer.Option(
        "--format",
        "-f",
        help="auto: a table on a terminal, TSV in a pipe (or by -o's extension).",
        rich_help_panel=_OUTPUT,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Short for --format json.", rich_help_panel=_OUTPUT)]
Csv = Annotated[bool, typer.Option("--csv", help="Short for --format csv.", rich_help_panel=_OUTPUT)]
ValueOnly = Annotated[
    bool,
    typer.Option(
        "--value",
        help="Print only the headline number (the mean over rows).",
        rich_help_panel=_OUTPUT,
    ),
]
Rows = Annotated[
    int,
    typer.Option("--rows", help="Rows shown in a table before the summary.", min=0, rich_help_panel=_OUTPUT),
]
Output = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write the result to FILE (atomically) instead of stdout.",
        rich_help_panel=_OUTPUT,
        show_default=False,
        dir_okay=False,
    ),
]
FailAbove = Annotated[
    list[str] | None,
    typer.Option(
        "--fail-above",
        help="Exit 1 if the mean of the headline measure is above X; MEASURE=X checks another "
        "measure (repeatable).",
        metavar="[MEASURE=]X",
        rich_help_panel=_GATES,
        show_default=False,
    ),
]
FailBelow = Annotated[
    list[str] | None,
    typer.Option(
        "--fail-below",
        help="Exit 1 if the mean is below X (e.g. accuracy=0.9); repeatable.",
        metavar="[MEASURE=]X",
        rich_help_panel=_GATES,
        show_default=False,
    ),
]
Explain = Annotated[
    bool,
    typer.Option(
        "--explain",
        help="Rank the outcomes by their contribution to the measure (for a batch, the mean per row).",
        rich_help_panel=_OUTPUT,
    ),
]
Top = Annotated[
    int,
    typer.Option("--top", help="Outcomes shown by --explain.", min=1, rich_help_panel=_OUTPUT),
]
