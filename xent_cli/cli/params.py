"""The command line's options, declared once, in groups, and converted in one place.

Each group is a frozen dataclass whose fields are ``Annotated`` Typer options;
:func:`command_options` adds a group's fields to a command's signature and
hands the command one instance of the group, built by name. Values are
checked where they are parsed (``parser=``/``callback=``, the functions of
:mod:`xent_cli.cli.validators`), so the layers below never see an option's
spelling. The commands' own arguments are in :mod:`xent_cli.cli.arguments`, the
names of measures and statistics in :mod:`xent_cli.cli.measure_names`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, get_args, get_type_hints

import typer

from xent_cli.cli.measure_names import COMPARE_MEASURES
from xent_cli.cli.validators import (
    check_count,
    check_level,
    check_positive,
    check_resamples,
    check_scheduler,
    check_seed,
    check_smoothing,
    check_tolerance,
    check_worker_timeout,
    gate_parser,
    parse_columns,
    parse_delimiter,
    parse_measures,
    parse_unit,
)
from xent_cli.errors import UsageError
from xent_cli.io.sources import Format as InputFormatName
from xent_cli.results import Gate, Unit

if TYPE_CHECKING:
    from xent_cli.io.readers import ReadOptions
    from xent_cli.io.table import Role

DenseKind = Literal["probs", "weights", "logits", "logprobs"]
KindName = Literal["probs", "weights", "logits", "logprobs", "top-logprobs"]
FormatName = Literal["auto", "table", "json", "jsonl", "csv", "tsv", "markdown"]
EngineName = Literal["local", "dask"]
CorrectionName = Literal["none", "miller-madow"]
DecimalMark = Literal[".", ","]
PairName = Literal["position"]

INPUT = "Input"
NUMBERS = "What the numbers are"
OUTPUT = "Output"
GATES = "Gates (exit 1 when a bound breaks)"
SCALE = "Scale"


def _choices(kind: Any) -> str:
    # Comma-separated, so that help wraps between choices, never inside one.
    return ", ".join(get_args(kind))


# xent_cli.core.bootstrap's defaults, repeated here so that --help does not import NumPy.
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20261207


# How predictions and labels from two sources pair when both have ids that disagree.
PAIR_HELP = (
    "position: pair each row with the label (and --weights' weight) in the same place even when "
    "their ids differ (e.g. a shuffled pandas index beside 0…n−1); a note says so."
)
# entropy: only --weights pairs with the rows.
PAIR_WEIGHTS_HELP = (
    "position: pair each row with --weights' weight in the same place even when their ids differ "
    "(e.g. a shuffled pandas index beside 0…n−1); a note says so."
)


# --- option groups ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputParams:
    """How sources are read."""

    input_format: Annotated[
        InputFormatName | None,
        typer.Option(
            "--input-format",
            help=f"Read every source as this format ({_choices(InputFormatName)}) instead of going by "
            "extension or content.",
            metavar="FORMAT",
            rich_help_panel=INPUT,
            show_default=False,
        ),
    ] = None
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            help="Text encoding of the sources (default UTF-8, with or without BOM; UTF-16 with a BOM "
            "is recognised), e.g. latin-1, cp1252.",
            metavar="NAME",
            rich_help_panel=INPUT,
            show_default=False,
        ),
    ] = None
    delimiter: Annotated[
        str | None,
        typer.Option(
            "--delimiter",
            help="CSV delimiter (default: sniffed among , ; tab |); 'tab' for tab.",
            metavar="CHAR",
            parser=parse_delimiter,
            rich_help_panel=INPUT,
            show_default=False,
        ),
    ] = None
    header: Annotated[
        bool | None,
        typer.Option(
            "--header/--no-header",
            help="The first line is (or is not) column names; default: inferred, with a note.",
            metavar="",
            rich_help_panel=INPUT,
            show_default=False,
        ),
    ] = None
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            help="Comma-separated outcome columns (names, or 1-based numbers).",
            metavar="A,B,…",
            rich_help_panel=INPUT,
            show_default=False,
            callback=parse_columns,
        ),
    ] = None
    id_column: Annotated[
        str | None,
        typer.Option(
            "--id",
            help="The row-id column. With two sources, rows are joined by it (this holds Q in memory). "
            "--id '' says there is none (no column is taken as the id).",
            metavar="COL",
            rich_help_panel=INPUT,
            show_default=False,
        ),
    ] = None
    decimal: Annotated[
        DecimalMark,
        typer.Option(
            "--decimal", help="Decimal separator in CSV: . or ,", metavar="MARK", rich_help_panel=INPUT
        ),
    ] = "."

    @property
    def joins_by_id(self) -> bool:
        """``--id COL`` names a column (``--id ''`` says there is none: rows pair by position)."""
        return self.id_column is not None and bool(self.id_column.strip())

    def read_options(self, *, kind: DenseKind, role: Role = "distributions") -> ReadOptions:
        """The reader's options for one source: how to read it, what its numbers are, what it is for."""
        from xent_cli.io.readers import ReadOptions

        if self.delimiter is not None and self.delimiter == self.decimal:
            raise UsageError("--delimiter and --decimal cannot be the same character")
        columns: Any = self.columns
        return ReadOptions(
            input_format=self.input_format,
            encoding=self.encoding,
            delimiter=self.delimiter,
            header=self.header,
            columns=columns,
            id_column=self.id_column,
            decimal=self.decimal,
            kind=kind,
            role=role,
        )


@dataclass(frozen=True)
class NumberParams:
    """What the numbers are and the unit of the result."""

    as_: Annotated[
        KindName | None,
        typer.Option(
            "--as",
            help="probs (rows sum to 1; the default), weights (rescaled to sum 1), logits (softmax), "
            "logprobs, or top-logprobs (an LLM API's top-k lists, JSON Lines; two-source commands).",
            metavar="KIND",
            rich_help_panel=NUMBERS,
            show_default=False,
        ),
    ] = None
    normalize: Annotated[
        bool,
        typer.Option(
            "--normalize",
            help="Short for --as weights: divide each row by its sum.",
            metavar="",
            rich_help_panel=NUMBERS,
        ),
    ] = False
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance",
            help="How far a probs row's sum may be from 1 (absolute) before it is an error.",
            metavar="X",
            rich_help_panel=NUMBERS,
            callback=check_tolerance,
        ),
    ] = 1e-6
    base: Annotated[
        Unit,
        typer.Option(
            "--base",
            help="Logarithm base: e (nats), 2 (bits), 10 (hartleys) or a number.",
            metavar="B",
            parser=parse_unit,
            rich_help_panel=NUMBERS,
        ),
    ] = "e"  # type: ignore[assignment]  # parsed into a Unit
    bits: Annotated[
        bool, typer.Option("--bits", help="Short for --base 2.", metavar="", rich_help_panel=NUMBERS)
    ] = False

    def dense_kind(self, command: str) -> DenseKind:
        """The kind of a single source (top-k lists need two sources to compare)."""
        kind = self.kind()
        if kind == "top-logprobs":
            raise UsageError(
                f"--as top-logprobs compares two sources' top-k lists; {command} reads one",
                hint="use it with kl, js, cross-entropy or compare",
            )
        return kind

    def kind(self, specific: KindName | None = None) -> KindName:
        """The kind of a source: ``specific`` (--p-as/--q-as) if given, else --as / --normalize."""
        if self.normalize and self.as_ not in (None, "weights"):
            raise UsageError(f"--normalize means --as weights; it cannot be combined with --as {self.as_}")
        if specific is not None:
            return specific
        if self.normalize:
            return "weights"
        return self.as_ or "probs"

    @property
    def unit(self) -> Unit:
        base = parse_unit(self.base)
        if self.bits:
            if base.name not in ("nats", "bits"):
                raise UsageError("--bits means --base 2; it cannot be combined with another --base")
            return Unit.parse("2")
        return base


@dataclass(frozen=True)
class PairKindParams:
    """The kind of each of two sources, where they differ."""

    p_as: Annotated[
        KindName | None,
        typer.Option(
            "--p-as", help="--as for P only.", metavar="KIND", rich_help_panel=NUMBERS, show_default=False
        ),
    ] = None
    q_as: Annotated[
        KindName | None,
        typer.Option(
            "--q-as", help="--as for Q only.", metavar="KIND", rich_help_panel=NUMBERS, show_default=False
        ),
    ] = None


@dataclass(frozen=True)
class SmoothParams:
    smooth: Annotated[
        float | None,
        typer.Option(
            "--smooth",
            help="Additive smoothing of Q: q' = (q + ALPHA) / (1 + K*ALPHA).",
            metavar="ALPHA",
            rich_help_panel=NUMBERS,
            show_default=False,
            callback=check_smoothing,
        ),
    ] = None


@dataclass(frozen=True)
class OutputParams:
    """Where and how the result is written."""

    format: Annotated[
        FormatName,
        typer.Option(
            "--format",
            "-f",
            help=f"One of {_choices(FormatName)}. auto: a table on a terminal, TSV in a pipe (or "
            "by -o's extension). markdown: GitHub-flavoured tables of the summary, gates and baseline.",
            metavar="FORMAT",
            rich_help_panel=OUTPUT,
        ),
    ] = "auto"
    json: Annotated[
        bool, typer.Option("--json", help="Short for --format json.", metavar="", rich_help_panel=OUTPUT)
    ] = False
    csv: Annotated[
        bool, typer.Option("--csv", help="Short for --format csv.", metavar="", rich_help_panel=OUTPUT)
    ] = False
    value: Annotated[
        bool,
        typer.Option(
            "--value",
            help="Print only the headline number (the mean over rows).",
            metavar="",
            rich_help_panel=OUTPUT,
        ),
    ] = False
    rows: Annotated[
        int,
        typer.Option(
            "--rows",
            help="Rows shown in a table before the summary; 0: the summary alone.",
            metavar="N",
            callback=check_count,
            rich_help_panel=OUTPUT,
        ),
    ] = 20
    worst: Annotated[
        int,
        typer.Option(
            "--worst",
            help="Also list the N rows with the largest headline value (for compare, by KL).",
            metavar="N",
            callback=check_count,
            rich_help_panel=OUTPUT,
        ),
    ] = 0
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the result to FILE (a regular file is replaced atomically) instead of stdout.",
            metavar="FILE",
            rich_help_panel=OUTPUT,
            show_default=False,
        ),
    ] = None
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="No notes on stderr.", metavar="", rich_help_panel=OUTPUT),
    ] = False
    color: Annotated[
        bool | None,
        typer.Option(
            "--color/--no-color",
            help="Colour in tables (default: on a terminal, unless NO_COLOR is set).",
            metavar="",
            rich_help_panel=OUTPUT,
            show_default=False,
        ),
    ] = None

    def format_name(self) -> FormatName:
        shorthands: tuple[tuple[FormatName, bool], ...] = (("json", self.json), ("csv", self.csv))
        chosen = [name for name, flag in shorthands if flag]
        if len(chosen) > 1 or (chosen and self.format != "auto"):
            raise UsageError("choose one output format: --format, --json or --csv")
        if self.value and (chosen or self.format != "auto"):
            raise UsageError(
                "--value prints one number; it cannot be combined with --format, --json or --csv"
            )
        return chosen[0] if chosen else self.format


@dataclass(frozen=True)
class GateParams:
    """Bounds on named statistics: exit 1 when one breaks."""

    fail_above: Annotated[
        list[Gate] | None,
        typer.Option(
            "--fail-above",
            help="Exit 1 if the headline measure's mean is above X; NAME=X checks another "
            "statistic (kl=0.01, kl.p99=0.5); repeatable.",
            metavar="[NAME=]X",
            parser=gate_parser("above"),
            rich_help_panel=GATES,
            show_default=False,
        ),
    ] = None
    fail_below: Annotated[
        list[Gate] | None,
        typer.Option(
            "--fail-below",
            help="Exit 1 if the mean is below X (e.g. accuracy=0.9); repeatable.",
            metavar="[NAME=]X",
            parser=gate_parser("below"),
            rich_help_panel=GATES,
            show_default=False,
        ),
    ] = None

    fail_increase: Annotated[
        list[Gate] | None,
        typer.Option(
            "--fail-increase",
            help="With --baseline: exit 1 if the mean rose by more than X since the baseline, or by "
            "more than X% of the baseline's value (e.g. 1%, log_loss=0.01); repeatable.",
            metavar="[NAME=]X[%]",
            parser=gate_parser("increase"),
            rich_help_panel=GATES,
            show_default=False,
        ),
    ] = None
    fail_decrease: Annotated[
        list[Gate] | None,
        typer.Option(
            "--fail-decrease",
            help="With --baseline: exit 1 if the mean fell by more than X (or X%) since the baseline "
            "(e.g. accuracy=0.5%); repeatable.",
            metavar="[NAME=]X[%]",
            parser=gate_parser("decrease"),
            rich_help_panel=GATES,
            show_default=False,
        ),
    ] = None
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="An earlier JSON result of the same command (xent … --json -o FILE) to compare with: "
            "the output shows its value, the change and the relative change.",
            metavar="FILE",
            rich_help_panel=GATES,
            show_default=False,
        ),
    ] = None

    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit",
            help="Also write the gates as JUnit XML to FILE (a testcase per gate, a failure per broken "
            "one), for CI systems' test reports.",
            metavar="FILE",
            rich_help_panel=GATES,
            show_default=False,
        ),
    ] = None

    ci: Annotated[
        float | None,
        typer.Option(
            "--ci",
            help="A bootstrap interval at this level (e.g. 0.95) for each measure's mean and each gated "
            "mean, sum or perplexity: percentile method, Poisson(1) row weights; JSON summary.ci = "
            "[low, high] (others: bootstrap.intervals); gates on NAME.ci_low and NAME.ci_high; "
            "with --baseline, the paired interval of the change, and --fail-increase / "
            "--fail-decrease fail only when all of it is past X.",
            metavar="LEVEL",
            callback=check_level,
            rich_help_panel=GATES,
            show_default=False,
        ),
    ] = None
    bootstrap: Annotated[
        int,
        typer.Option(
            "--bootstrap",
            help="Resamples for --ci.",
            metavar="N",
            callback=check_resamples,
            rich_help_panel=GATES,
        ),
    ] = DEFAULT_RESAMPLES
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            help="Seed of --ci's resampling (fixed by default: the same data give the same interval).",
            metavar="S",
            callback=check_seed,
            rich_help_panel=GATES,
        ),
    ] = DEFAULT_SEED

    @property
    def gates(self) -> list[Gate]:
        return [
            *(self.fail_above or []),
            *(self.fail_below or []),
            *(self.fail_increase or []),
            *(self.fail_decrease or []),
        ]


@dataclass(frozen=True)
class ExplainParams:
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Show the arithmetic: each outcome's probabilities, its term and its contribution to "
            "the measure, ranked (for a batch, the mean per row).",
            metavar="",
            rich_help_panel=OUTPUT,
        ),
    ] = False
    top: Annotated[
        int,
        typer.Option(
            "--top",
            help="Outcomes shown by --explain (at least 1).",
            metavar="N",
            callback=check_positive,
            rich_help_panel=OUTPUT,
        ),
    ] = 10


@dataclass(frozen=True)
class CompareParams:
    measures: Annotated[
        str | None,
        typer.Option(
            "--measures",
            help="Compute only these measures, comma-separated, the first being the headline: "
            f"{', '.join(COMPARE_MEASURES)}, renyi:ALPHA, tsallis:Q (top1 and ce for short). "
            "Default: kl to top1_agreement, but js_distance.",
            metavar="A,B,…",
            callback=parse_measures,
            rich_help_panel=NUMBERS,
            show_default=False,
        ),
    ] = None

    @property
    def keys(self) -> tuple[str, ...] | None:
        value: Any = self.measures
        return value  # type: ignore[no-any-return]  # parsed into a tuple of keys


@dataclass(frozen=True)
class TokenParams:
    """compare: each row's actual next token, for the language-model panel."""

    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            "-t",
            help="The actual next token of each row: a column of P, a file (an integer .npy, a "
            "labels CSV), or an inline list like 5,0,2; adds NLL, perplexity and Δp of both models.",
            metavar="T",
            show_default=False,
        ),
    ] = None


# How the rows of P and Q pair when both have ids that disagree.
PAIR_ROWS_HELP = (
    "position: pair rows in order even when the ids of P and Q (or of P and --target's labels or "
    "--weights' file) differ (e.g. a shuffled pandas index beside 0…n−1); a note says so."
)


@dataclass(frozen=True)
class PairingParams:
    """How rows of two sources pair (by position; by id with --id)."""

    pair: Annotated[
        PairName | None,
        typer.Option("--pair", help=PAIR_ROWS_HELP, metavar="position", show_default=False),
    ] = None


@dataclass(frozen=True)
class ScaleParams:
    """Where the work runs."""

    engine: Annotated[
        EngineName,
        typer.Option(
            "--engine",
            help="local: this process; dask: shard by shard on a Dask cluster (install Dask with "
            "pip install '.[dask]' from a checkout of xent, or pip install 'dask[distributed]').",
            metavar="ENGINE",
            rich_help_panel=SCALE,
        ),
    ] = "local"
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="A running Dask scheduler: tcp://HOST:PORT, tls://HOST:PORT (certificates from Dask's "
            "configuration), …; implies --engine dask. Default: Dask's scheduler-address setting "
            "(DASK_SCHEDULER_ADDRESS), else a local cluster of worker processes on this machine.",
            envvar="XENT_SCHEDULER",
            metavar="ADDRESS",
            rich_help_panel=SCALE,
            show_default=False,
            callback=check_scheduler,
        ),
    ] = None
    scheduler_file: Annotated[
        Path | None,
        typer.Option(
            "--scheduler-file",
            help="The JSON file a Dask scheduler wrote (dask scheduler --scheduler-file PATH); "
            "implies --engine dask.",
            metavar="PATH",
            rich_help_panel=SCALE,
            show_default=False,
        ),
    ] = None
    worker_timeout: Annotated[
        float,
        typer.Option(
            "--worker-timeout",
            help="Seconds to wait for a first Dask worker (or for another, when every worker left) "
            "before giving up.",
            metavar="SECONDS",
            rich_help_panel=SCALE,
            callback=check_worker_timeout,
        ),
    ] = 60.0

    @property
    def uses_dask(self) -> bool:
        return self.engine == "dask" or self.scheduler is not None or self.scheduler_file is not None


# --- adding groups to a command ---------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


@functools.cache
def group_hints(group: type) -> dict[str, Any]:
    # Each group serves several commands: its hints are evaluated once (a few ms of start-up each).
    return get_type_hints(group, include_extras=True)


def command_options(**groups: type) -> Callable[[F], F]:
    """Add each group's options to the decorated command, and pass the command one group object each.

    The command declares its own arguments and options as usual, then, after
    ``*``, one keyword-only parameter per group (``inputs: InputParams``).
    Typer sees the command's own parameters followed by every given group's
    fields; a keyword-only parameter with no group given keeps its default.
    """

    def decorate(command: F) -> F:
        signature = inspect.signature(command)
        hints = get_type_hints(command, include_extras=True)
        own = [
            p.replace(annotation=hints[p.name])
            for p in signature.parameters.values()
            if p.kind is not inspect.Parameter.KEYWORD_ONLY
        ]
        added: list[inspect.Parameter] = []
        members: dict[str, list[str]] = {}
        for name, group in groups.items():
            hints_of_group = group_hints(group)
            members[name] = []
            for item in dataclasses.fields(group):
                added.append(
                    inspect.Parameter(
                        item.name, inspect.Parameter.KEYWORD_ONLY, default=item.default,
                        annotation=hints_of_group[item.name],
                    )
                )  # fmt: skip
                members[name].append(item.name)

        @functools.wraps(command)
        def run(**values: Any) -> Any:
            for name, group in groups.items():
                values[name] = group(**{field: values.pop(field) for field in members[name]})
            return command(**values)

        parameters = own + added
        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        del run.__wrapped__  # Typer must see this signature
        return run  # type: ignore[return-value]

    return decorate
