"""The ``xent`` command line: thin commands over ``xent_cli.compute`` and ``xent_cli.render``.

Every user error is caught once, in :class:`XentGroup`, and becomes one line on
stderr and exit status 2. NumPy and pandas are imported only by the code that
reads or computes, so ``xent --help`` and shell completion stay fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import typer
from typer.core import TyperGroup

from xent_cli import options as opt
from xent_cli.errors import ExitStatus, UsageError, XentError

PROG = "xent"


def stdin_is_terminal() -> bool:
    """True when nobody is piping data in (tests replace this)."""
    stream = sys.stdin
    return stream is None or stream.isatty()


def _error_line(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


class XentGroup(TyperGroup):
    """The command group: runs a command and turns every failure into an exit status."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        from typer import exceptions as typer_exceptions
        from typer._click import exceptions as click_exceptions

        try:
            status = super().main(
                args=args,
                prog_name=prog_name or PROG,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except click_exceptions.NoArgsIsHelpError:
            status = ExitStatus.ERROR  # the help is already printed
        except click_exceptions.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else PROG
            _error_line(f"{exc.format_message()} (see '{command} --help')")
            status = ExitStatus.ERROR
        except click_exceptions.ClickException as exc:
            _error_line(exc.format_message())
            status = ExitStatus.ERROR
        except typer_exceptions.Abort:
            print(f"{PROG}: interrupted", file=sys.stderr)
            status = ExitStatus.INTERRUPTED
        if status is None:
            status = ExitStatus.OK
        if standalone_mode:
            sys.exit(int(status))
        return int(status)

    def invoke(self, ctx: Any) -> Any:
        from typer import exceptions as typer_exceptions
        from typer._click import exceptions as click_exceptions

        try:
            return super().invoke(ctx)
        except (click_exceptions.ClickException, typer_exceptions.Exit, typer_exceptions.Abort):
            raise  # usage errors and exits are handled in main()
        except XentError as exc:
            if os.environ.get("XENT_DEBUG"):
                raise
            _error_line(str(exc))
            return exc.exit_status
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted", file=sys.stderr)
            return ExitStatus.INTERRUPTED
        except BrokenPipeError:
            from xent_cli.output import silence_stdout

            silence_stdout()
            return ExitStatus.OK
        except MemoryError:
            _error_line("out of memory (try a smaller input, or a .npy file, which is read in blocks)")
            return ExitStatus.ERROR
        except Exception as exc:  # a bug: still one line, with a way to see more
            if os.environ.get("XENT_DEBUG"):
                raise
            _error_line(
                f"internal error: {type(exc).__name__}: {exc} "
                "(please report it; XENT_DEBUG=1 shows a traceback)"
            )
            return ExitStatus.ERROR


app = typer.Typer(
    cls=XentGroup,
    name=PROG,
    help="Entropy, cross-entropy, KL divergence and their relatives, from files.\n\n"
    "Inputs stream in blocks. Held in memory: the per-row results (8 bytes per row per "
    "measure, for the output and exact percentiles), Q for --id joins, a separate --target "
    "labels file, joint tables, and .json documents (use .jsonl for big inputs).",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass(frozen=True)
class ReadSettings:
    input_format: opt.InputFormatChoice | None
    encoding: str | None
    delimiter: str | None
    header: bool | None
    columns: str | None
    id_column: str | None
    decimal: str

    def options(
        self, label_column: str | None = None, kind: str = "probs", role: Any = "distributions"
    ) -> Any:
        from xent_cli.io.readers import ReadOptions

        if self.decimal not in (".", ","):
            raise UsageError(f"--decimal {self.decimal!r}: use '.' or ','")
        delimiter = self.delimiter
        if delimiter is not None:
            delimiter = {"tab": "\t", "\\t": "\t"}.get(delimiter.lower(), delimiter)
            if len(delimiter) != 1:
                raise UsageError(f"--delimiter {self.delimiter!r}: give one character, or 'tab'")
            if delimiter == self.decimal:
                raise UsageError("--delimiter and --decimal cannot be the same character")
        columns = None
        if self.columns is not None:
            columns = tuple(c.strip() for c in self.columns.split(",") if c.strip())
            if not columns:
                raise UsageError("--columns needs at least one column name")
        return ReadOptions(
            input_format=self.input_format.value if self.input_format else None,
            encoding=self.encoding,
            delimiter=delimiter,
            header=self.header,
            columns=columns,
            id_column=self.id_column,
            decimal=self.decimal,
            label_column=label_column,
            kind=kind,
            role=role,
        )


def _kind(as_: opt.KindChoice | None, normalize: bool, specific: opt.KindChoice | None = None) -> Any:
    if normalize and as_ is not None and as_ is not opt.KindChoice.weights:
        raise UsageError(f"--normalize means --as weights; it cannot be combined with --as {as_.value}")
    if specific is not None:
        return specific.value
    if normalize:
        return "weights"
    return as_.value if as_ is not None else "probs"


def _unit(base: str, bits: bool) -> Any:
    from xent_cli.results import Unit

    if bits:
        if base not in ("e", "2"):
            raise UsageError("--bits means --base 2; it cannot be combined with another --base")
        return Unit.parse("2")
    return Unit.parse(base)


def _check_tolerance(tolerance: float) -> None:
    if not tolerance >= 0:
        raise UsageError(f"--tolerance {tolerance}: must be a number >= 0")


class OutputArgs(NamedTuple):
    """The output and gate options every command shares."""

    format: opt.FormatChoice
    json: bool
    csv: bool
    value: bool
    rows: int
    output: Path | None
    fail_above: list[str] | None
    fail_below: list[str] | None


def _output_settings(args: OutputArgs, measure_keys: list[str], sources: list[Any]) -> Any:
    """Output settings, with every gate checked against the command's measures up front."""
    from xent_cli.output import OutputSettings
    from xent_cli.results import Gate

    chosen = [name for name, flag in (("json", args.json), ("csv", args.csv)) if flag]
    if len(chosen) > 1 or (chosen and args.format is not opt.FormatChoice.auto):
        raise UsageError("choose one output format: --format, --json or --csv")
    name = chosen[0] if chosen else args.format.value
    gates = [Gate.parse("above", text) for text in args.fail_above or []]
    gates += [Gate.parse("below", text) for text in args.fail_below or []]
    for gate in gates:
        if gate.measure is not None and gate.measure not in measure_keys:
            raise UsageError(
                f"--fail-{gate.direction} {gate.measure}=…: no measure {gate.measure!r}",
                hint=f"measures: {', '.join(measure_keys)}",
            )
    return OutputSettings(
        format=name,  # type: ignore[arg-type]  # one of OutputFormat by construction
        value_only=args.value,
        max_rows=args.rows,
        path=args.output,
        gates=gates,
        input_paths=[s.path for s in sources if s.path is not None],
    )


def _source(spec: str | None) -> Any:
    from xent_cli.io.sources import resolve

    return resolve(spec, stdin_is_terminal=stdin_is_terminal())


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        if note.startswith("Q smoothed"):
            continue  # shown with the result itself
        print(f"{PROG}: note: {note}", file=sys.stderr)


@app.command()
def entropy(
    source: opt.SourceArg = None,
    column: opt.SampleColumn = None,
    correction: opt.Correction = opt.CorrectionChoice.none,
    as_: opt.AsKind = None,
    normalize: opt.Normalize = False,
    tolerance: opt.Tolerance = 1e-6,
    base: opt.Base = "e",
    bits: opt.Bits = False,
    input_format: opt.InputFormat = None,
    encoding: opt.Encoding = None,
    delimiter: opt.Delimiter = None,
    header: opt.Header = None,
    columns: opt.Columns = None,
    id_column: opt.IdColumn = None,
    decimal: opt.Decimal = ".",
    format: opt.Format = opt.FormatChoice.auto,
    json: opt.Json = False,
    csv: opt.Csv = False,
    value: opt.ValueOnly = False,
    rows: opt.Rows = 20,
    output: opt.Output = None,
    fail_above: opt.FailAbove = None,
    fail_below: opt.FailBelow = None,
    engine: opt.EngineOption = opt.EngineChoice.local,
    scheduler: opt.Scheduler = None,
) -> int:
    """Entropy H(P) = -Σ p log p of each row of SRC, or of a column of labels.

    A one-column table is one distribution; otherwise each row is one.
    With --column COL, each row is a sample and the entropy is that of the
    column's empirical distribution (plug-in; --correction miller-madow).

    Examples:

      xent entropy 0.5,0.25,0.25 --bits

      xent entropy predictions.csv --json | jq .summary.mean

      xent entropy labels.csv --column label --bits
    """
    from xent_cli.align import InputSpec
    from xent_cli.compute import run_entropy, run_entropy_column
    from xent_cli.output import emit
    from xent_cli.shards import Engine, entropy_task, is_sharded, merge, split

    _check_tolerance(tolerance)
    if column is None and correction is not opt.CorrectionChoice.none:
        raise UsageError("--correction applies to entropies estimated from samples (--column COL)")
    read_settings = ReadSettings(input_format, encoding, delimiter, header, columns, id_column, decimal)
    kind = _kind(as_, normalize)
    role = "samples" if column is not None else "distributions"
    spec = InputSpec(_source(source), read_settings.options(kind=kind, role=role), kind)
    output_args = OutputArgs(format, json, csv, value, rows, output, fail_above, fail_below)
    settings = _output_settings(output_args, ["entropy"], [spec.source])
    unit = _unit(base, bits)
    if column is not None:
        result = run_entropy_column(spec, column, unit=unit, correction=correction.value)
    elif is_sharded(spec) or engine is not opt.EngineChoice.local:
        runner = Engine(engine.value, scheduler)
        results = runner.run([(entropy_task, (part, unit, tolerance)) for part in split(spec)])
        result = merge(results, {"p": spec.label})
    else:
        result = run_entropy(spec, unit=unit, tolerance=tolerance)
    _print_notes(result.notes)
    return emit(result, settings)


@dataclass(frozen=True)
class PairArgs:
    """What a two-distribution command was given."""

    p: str | None
    q: str | None
    as_: opt.KindChoice | None
    normalize: bool
    p_as: opt.KindChoice | None
    q_as: opt.KindChoice | None
    tolerance: float
    smooth: float | None
    base: str
    bits: bool
    explain: bool
    top: int
    engine: opt.EngineChoice = opt.EngineChoice.local
    scheduler: str | None = None


def _pair_command(name: str, args: PairArgs, read_settings: ReadSettings, output_args: OutputArgs) -> int:
    from xent_cli.align import InputSpec
    from xent_cli.compute import PAIR_COMMANDS, run_pair
    from xent_cli.output import emit
    from xent_cli.shards import Engine, is_sharded, merge, pair_shards, pair_task

    _check_tolerance(args.tolerance)
    if args.smooth is not None and not (args.smooth >= 0 and args.smooth != float("inf")):
        raise UsageError(f"--smooth {args.smooth}: must be a finite number >= 0")
    command = PAIR_COMMANDS[name]
    p_kind = _kind(args.as_, args.normalize, args.p_as)
    p_spec = InputSpec(_source(args.p), read_settings.options(kind=p_kind), p_kind)
    q_kind = _kind(args.as_, args.normalize, args.q_as)
    q_spec = (
        None if args.q is None else InputSpec(_source(args.q), read_settings.options(kind=q_kind), q_kind)
    )
    sources = [p_spec.source] + ([q_spec.source] if q_spec else [])
    settings = _output_settings(output_args, command.keys, sources)
    unit = _unit(args.base, args.bits)
    join_ids = read_settings.id_column is not None and q_spec is not None
    if q_spec is not None and (is_sharded(p_spec, q_spec) or args.engine is not opt.EngineChoice.local):
        runner = Engine(args.engine.value, args.scheduler)
        tasks = [
            (pair_task, (name, p, q, unit, args.tolerance, args.smooth, join_ids, args.explain))
            for p, q in pair_shards(p_spec, q_spec)
        ]
        sources_labels = {"p": p_spec.label, "q": q_spec.label}
        result = merge(runner.run(tasks), sources_labels, top=args.top)
    else:
        result = run_pair(
            command,
            p_spec,
            q_spec,
            unit=unit,
            tolerance=args.tolerance,
            smoothing=args.smooth,
            join_ids=join_ids,
            q_kind=q_kind,
            explain_top=args.top if args.explain else None,
        )
    _print_notes(result.notes)
    return emit(result, settings)


@app.command("kl")
def kl(
    p: opt.PArg = None,
    q: opt.QArg = None,
    as_: opt.AsKind = None,
    normalize: opt.Normalize = False,
    p_as: opt.PAs = None,
    q_as: opt.QAs = None,
    tolerance: opt.Tolerance = 1e-6,
    smooth: opt.Smooth = None,
    base: opt.Base = "e",
    bits: opt.Bits = False,
    input_format: opt.InputFormat = None,
    encoding: opt.Encoding = None,
    delimiter: opt.Delimiter = None,
    header: opt.Header = None,
    columns: opt.Columns = None,
    id_column: opt.IdColumn = None,
    decimal: opt.Decimal = ".",
    format: opt.Format = opt.FormatChoice.auto,
    json: opt.Json = False,
    csv: opt.Csv = False,
    value: opt.ValueOnly = False,
    rows: opt.Rows = 20,
    output: opt.Output = None,
    explain: opt.Explain = False,
    top: opt.Top = 10,
    fail_above: opt.FailAbove = None,
    fail_below: opt.FailBelow = None,
    engine: opt.EngineOption = opt.EngineChoice.local,
    scheduler: opt.Scheduler = None,
) -> int:
    """KL divergence D(P‖Q) = Σ p log(p/q) of each row of P from Q.

    Rows pair by position (or by --id); a one-row Q is compared with every row
    of P. Outcome columns pair by name when both sources name them.
    p > 0 where q = 0 gives inf; --smooth ALPHA avoids that.

    Examples:

      xent kl 0.5,0.5 0.9,0.1

      xent kl old.csv new.csv --fail-above 0.01 --explain
    """
    return _pair_command(
        "kl",
        PairArgs(
            p, q, as_, normalize, p_as, q_as, tolerance, smooth, base, bits, explain, top, engine, scheduler
        ),
        ReadSettings(input_format, encoding, delimiter, header, columns, id_column, decimal),
        OutputArgs(format, json, csv, value, rows, output, fail_above, fail_below),
    )


@app.command("cross-entropy")
def cross_entropy(
    p: opt.PArg = None,
    q: opt.QArg = None,
    as_: opt.AsKind = None,
    normalize: opt.Normalize = False,
    p_as: opt.PAs = None,
    q_as: opt.QAs = None,
    tolerance: opt.Tolerance = 1e-6,
    smooth: opt.Smooth = None,
    base: opt.Base = "e",
    bits: opt.Bits = False,
    input_format: opt.InputFormat = None,
    encoding: opt.Encoding = None,
    delimiter: opt.Delimiter = None,
    header: opt.Header = None,
    columns: opt.Columns = None,
    id_column: opt.IdColumn = None,
    decimal: opt.Decimal = ".",
    format: opt.Format = opt.FormatChoice.auto,
    json: opt.Json = False,
    csv: opt.Csv = False,
    value: opt.ValueOnly = False,
    rows: opt.Rows = 20,
    output: opt.Output = None,
    explain: opt.Explain = False,
    top: opt.Top = 10,
    fail_above: opt.FailAbove = None,
    fail_below: opt.FailBelow = None,
    engine: opt.EngineOption = opt.EngineChoice.local,
    scheduler: opt.Scheduler = None,
) -> int:
    """Cross-entropy H(P, Q) = -Σ p log q = H(P) + D(P‖Q) of each row (alias: ce).

    With one source, that table's two numeric columns are P and Q.

    Examples:

      xent cross-entropy 1,0,0 0.7,0.2,0.1

      xent ce labels.csv model.csv --q-as logits
    """
    return _pair_command(
        "cross-entropy",
        PairArgs(
            p, q, as_, normalize, p_as, q_as, tolerance, smooth, base, bits, explain, top, engine, scheduler
        ),
        ReadSettings(input_format, encoding, delimiter, header, columns, id_column, decimal),
        OutputArgs(format, json, csv, value, rows, output, fail_above, fail_below),
    )


app.command("ce", help="Alias of cross-entropy.", hidden=True)(cross_entropy)


@app.command("js")
def js(
    p: opt.PArg = None,
    q: opt.QArg = None,
    as_: opt.AsKind = None,
    normalize: opt.Normalize = False,
    p_as: opt.PAs = None,
    q_as: opt.QAs = None,
    tolerance: opt.Tolerance = 1e-6,
    base: opt.Base = "e",
    bits: opt.Bits = False,
    input_format: opt.InputFormat = None,
    encoding: opt.Encoding = None,
    delimiter: opt.Delimiter = None,
    header: opt.Header = None,
    columns: opt.Columns = None,
    id_column: opt.IdColumn = None,
    decimal: opt.Decimal = ".",
    format: opt.Format = opt.FormatChoice.auto,
    json: opt.Json = False,
    csv: opt.Csv = False,
    value: opt.ValueOnly = False,
    rows: opt.Rows = 20,
    output: opt.Output = None,
    explain: opt.Explain = False,
    top: opt.Top = 10,
    fail_above: opt.FailAbove = None,
    fail_below: opt.FailBelow = None,
    engine: opt.EngineOption = opt.EngineChoice.local,
    scheduler: opt.Scheduler = None,
) -> int:
    """Jensen–Shannon divergence JS(P, Q) = ½D(P‖M) + ½D(Q‖M), M = (P+Q)/2, and its square root.

    Symmetric, always finite, at most log 2 (1 bit). The square root,
    js_distance, is a metric (what scipy.spatial.distance.jensenshannon returns).

    Examples:

      xent js 1,0 0,1 --bits

      xent js old.csv new.csv --fail-above js_distance=0.05
    """
    return _pair_command(
        "js",
        PairArgs(
            p, q, as_, normalize, p_as, q_as, tolerance, None, base, bits, explain, top, engine, scheduler
        ),
        ReadSettings(input_format, encoding, delimiter, header, columns, id_column, decimal),
        OutputArgs(format, json, csv, value, rows, output, fail_above, fail_below),
    )


@app.command("compare")
def compare(
    p: opt.PArg = None,
    q: opt.QArg = None,
    as_: opt.AsKind = None,
    normalize: opt.Normalize = False,
    p_as: opt.PAs = None,
    q_as: opt.QAs = None,
    tolerance: opt.Tolerance = 1e-6,
    smooth: opt.Smooth = None,
    base: opt.Base = "e",
    bits: opt.Bits = False,
    input_format: opt.InputFormat = None,
    encoding: opt.Encoding = None,
    delimiter: opt.Delimiter = None,
    header: opt.Header = None,
    columns: opt.Columns = None,
    id_column: opt.IdColumn = None,
    decimal: opt.Decimal = ".",
    format: opt.Format = opt.FormatChoice.auto,
    json: opt.Json = False,
    csv: opt.Csv = False,
    value: opt.ValueOnly = False,
    rows: opt.Rows = 20,
    output: opt.Output = None,
    explain: opt.Explain = False,
    top: opt.Top = 10,
    fail_above: opt.FailAbove = None,
    fail_below: opt.FailBelow = None,
    engine: opt.EngineOption = opt.EngineChoice.local,
    scheduler: opt.Scheduler = None,
) -> int:
    """Every two-distribution measure of P and Q in one panel.

    Per row and summarized: kl = D(P‖Q), kl_reverse = D(Q‖P), cross_entropy,
    js, tv (total variation), hellinger, max_abs_diff = max|p − q|, and
    top1_agreement (1 where argmax p = argmax q; its mean is the share of rows
    that agree). The headline (--value) is kl. Gate any of them:

      xent compare old.csv new.csv --fail-above kl=0.01 --fail-above js=0.001
      --fail-below top1_agreement=0.99
    """
    return _pair_command(
        "compare",
        PairArgs(
            p, q, as_, normalize, p_as, q_as, tolerance, smooth, base, bits, explain, top, engine, scheduler
        ),
        ReadSettings(input_format, encoding, delimiter, header, columns, id_column, decimal),
        OutputArgs(format, json, csv, value, rows, output, fail_above, fail_below),
    )


@app.command("loss")
def loss(
    pred: opt.PredArg = None,
    target: opt.Target = "",
    as_: opt.AsKind = None,
    normalize: opt.Normalize = False,
    tolerance: opt.Tolerance = 1e-6,
    label_smoothing: opt.LabelSmoothing = 0.0,
    ignore_label: opt.IgnoreLabel = None,
    base: opt.Base = "e",
    bits: opt.Bits = False,
    input_format: opt.InputFormat = None,
    encoding: opt.Encoding = None,
    delimiter: opt.Delimiter = None,
    header: opt.Header = None,
    columns: opt.Columns = None,
    id_column: opt.IdColumn = None,
    decimal: opt.Decimal = ".",
    format: opt.Format = opt.FormatChoice.auto,
    json: opt.Json = False,
    csv: opt.Csv = False,
    value: opt.ValueOnly = False,
    rows: opt.Rows = 20,
    output: opt.Output = None,
    fail_above: opt.FailAbove = None,
    fail_below: opt.FailBelow = None,
    engine: opt.EngineOption = opt.EngineChoice.local,
    scheduler: opt.Scheduler = None,
) -> int:
    """Log loss (mean negative log-likelihood of the true class), perplexity and top-1 accuracy.

    --target is a column of PRED, or a labels source (a file, or an inline
    list like cat,dog,cat), which is read into memory. Labels are class names
    matching PRED's outcome names, or 0-based class indices. One probability
    column with 0/1 targets is binary log loss. Per-row values are the NLL;
    the headline (--value) is their mean; gate accuracy with
    --fail-below accuracy=0.9.

    Examples:

      xent loss examples/model_a.csv --target examples/labels.csv

      xent loss logits.npy --target labels.csv --as logits --label-smoothing 0.1
    """
    from xent_cli.align import InputSpec
    from xent_cli.compute import LossSettings, run_loss
    from xent_cli.output import emit
    from xent_cli.shards import Engine, is_sharded, loss_task, merge, split

    _check_tolerance(tolerance)
    if not target:
        raise UsageError("--target is required: a column of PRED, a labels file, or a list like 0,2,1")
    read_settings = ReadSettings(input_format, encoding, delimiter, header, columns, id_column, decimal)
    kind = _kind(as_, normalize)
    spec = InputSpec(_source(pred), read_settings.options(kind=kind, role="predictions"), kind)
    output_args = OutputArgs(format, json, csv, value, rows, output, fail_above, fail_below)
    settings = _output_settings(output_args, ["log_loss", "accuracy"], [spec.source])
    loss_settings = LossSettings(target, label_smoothing, ignore_label, join_ids=id_column is not None)
    unit = _unit(base, bits)
    if is_sharded(spec) or engine is not opt.EngineChoice.local:
        if is_sharded(spec) and ("," in target or Path(target).exists()):
            raise UsageError("with sharded predictions, --target must name a column of the shards")
        runner = Engine(engine.value, scheduler)
        results = runner.run([(loss_task, (part, loss_settings, unit, tolerance)) for part in split(spec)])
        result = merge(results, {"pred": spec.label, "target": f"{spec.label} column {target!r}"})
    else:
        result = run_loss(spec, loss_settings, unit=unit, tolerance=tolerance)
    _print_notes(result.notes)
    return emit(result, settings)


@app.command("info")
def info(
    source: opt.SourceArg = None,
    x: opt.XColumn = None,
    y: opt.YColumn = None,
    correction: opt.Correction = opt.CorrectionChoice.none,
    as_: opt.AsKind = None,
    normalize: opt.Normalize = False,
    tolerance: opt.Tolerance = 1e-6,
    base: opt.Base = "e",
    bits: opt.Bits = False,
    input_format: opt.InputFormat = None,
    encoding: opt.Encoding = None,
    delimiter: opt.Delimiter = None,
    header: opt.Header = None,
    columns: opt.Columns = None,
    id_column: opt.IdColumn = None,
    decimal: opt.Decimal = ".",
    format: opt.Format = opt.FormatChoice.auto,
    json: opt.Json = False,
    csv: opt.Csv = False,
    value: opt.ValueOnly = False,
    rows: opt.Rows = 20,
    output: opt.Output = None,
    fail_above: opt.FailAbove = None,
    fail_below: opt.FailBelow = None,
) -> int:
    """H(X), H(Y), H(X,Y), H(X|Y), H(Y|X), I(X;Y) and normalized MI.

    From a joint table: X values are the row ids, Y values the column names;
    cells are probabilities (summing to 1 over the table) or counts with
    --as weights. From samples: --x COL --y COL name two label columns and the
    plug-in estimate comes from their contingency table (--correction
    miller-madow corrects its bias). NMI = I / ((H(X) + H(Y)) / 2). The headline
    (--value, a bare --fail-above) is I(X;Y). Holds the whole table in memory.

    Examples:

      xent info joint.csv --bits

      xent info samples.csv --x label --y prediction --fail-below nmi=0.5
    """
    from xent_cli.align import InputSpec
    from xent_cli.compute import INFO_MEASURES, run_info_samples, run_info_table
    from xent_cli.output import emit

    _check_tolerance(tolerance)
    if (x is None) != (y is None):
        given, missing = ("--x", "--y") if x is not None else ("--y", "--x")
        raise UsageError(f"{given} needs {missing}: samples mode names both label columns")
    if x is None and correction is not opt.CorrectionChoice.none:
        raise UsageError("--correction applies to estimates from samples (--x COL --y COL)")
    read_settings = ReadSettings(input_format, encoding, delimiter, header, columns, id_column, decimal)
    kind = _kind(as_, normalize)
    role = "samples" if x is not None else "joint"
    spec = InputSpec(_source(source), read_settings.options(kind=kind, role=role), kind)
    output_args = OutputArgs(format, json, csv, value, rows, output, fail_above, fail_below)
    settings = _output_settings(output_args, [key for key, _, _ in INFO_MEASURES], [spec.source])
    unit = _unit(base, bits)
    if x is not None and y is not None:
        result = run_info_samples(spec, x, y, unit=unit, correction=correction.value)
    else:
        result = run_info_table(spec, unit=unit, tolerance=tolerance)
    _print_notes(result.notes)
    return emit(result, settings)


def main() -> None:
    """Console-script entry point."""
    app()
