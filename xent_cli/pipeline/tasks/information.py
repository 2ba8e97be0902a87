"""``xent info`` and ``xent entropy --column``: joint tables and label samples."""

from __future__ import annotations

import math
from contextlib import ExitStack
from typing import TYPE_CHECKING

from xent_cli.errors import DistributionError, InputError, UsageError, option, spelled
from xent_cli.io.readers import Block
from xent_cli.pipeline.align import (
    InputSpec,
    joined,
    open_table,
)
from xent_cli.pipeline.partials import MeasurePart, Partial
from xent_cli.pipeline.tasks.common import (
    _layout_of,
    _natural,
)
from xent_cli.pipeline.tasks.entropy import (
    ENTROPY_FORMULAS,
)
from xent_cli.pipeline.tasks.pair_measures import (
    OutcomeSums,
)
from xent_cli.progress import RowCounter
from xent_cli.results import InfoSummary, JointTable, SampleSummary, Scaling, Unit

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.core.information import Average, Information


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
            if math.isnan(ami):
                mean = AVERAGE_FORMULAS[average]
                mean = mean[1:-1] if mean.startswith("((") else mean
                notes = [
                    *notes,
                    f"ami is nan: it is 0/0 here (the expected mutual information equals {mean}: "
                    "every labeling with these class sizes has the same MI)",
                ]
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
        average_method=average,
    )
    # NMI and AMI depend on the mean of H(X) and H(Y) that normalizes them: the label names it
    # when it is not scikit-learn's default (arithmetic); the JSON's info.average_method always does.
    averaged = {"nmi", "ami"} if average != "arithmetic" else set()
    return Partial(
        measures=[
            MeasurePart(
                key,
                f"{label} ({average})" if key in averaged else label,
                np.array([getattr(scaled, key)]),
                scaling,
            )
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
    spec: InputSpec,
    *,
    unit: Unit,
    tolerance: float,
    average: Average = "arithmetic",
    on_rows: RowCounter | None = None,
) -> Partial:
    """Information measures of a joint table: X values are row ids, Y values the column names.

    ``on_rows`` is accepted as by every task; a joint table is read whole, with nothing to count.
    """
    import numpy as np

    from xent_cli.core.information import information, joint_distribution

    if spec.kind not in ("probs", "weights"):
        raise UsageError(
            f"{option('as_')} {spec.kind}: a joint table holds probabilities, or counts with "
            f"{option('as_')} weights"
        )
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
        hint = _sum_hint(values, table.outcomes) if exc.reason == "sum" else None
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


def _sum_hint(values: NDArray[np.float64], names: list[str] | None) -> str:
    """The hint for a joint table that does not sum to 1.

    Two columns of whole numbers that each repeat a value are more likely two label
    columns of samples than a table of counts (``--as weights`` would then give a wrong
    number without complaint): the hint names ``--x``/``--y`` first.
    """
    import numpy as np

    counts = f"{option('as_')} weights"
    if values.shape[1] == 2 and values.shape[0] > 2 and bool(np.all(values == np.round(values))):
        repeats = all(np.unique(values[:, c]).shape[0] < values.shape[0] for c in range(2))
        if repeats:
            x, y = names if names is not None and len(names) == 2 else ("1", "2")
            return (
                f"for samples, name the two label columns: {option('x')} {x} {option('y')} {y}; "
                f"for a table of counts, {counts}"
            )
    return f"use {counts} for counts"


def count_samples(
    spec: InputSpec, columns: list[str], flags: list[str], on_rows: RowCounter | None = None
) -> tuple[dict[tuple[str, ...], int], int]:
    """How often each combination of the columns' values occurs, and the number of samples.

    ``on_rows`` is called with the samples of each block as they are counted.
    """
    from collections import Counter

    from xent_cli.io.labels import read_sample_columns

    if spec.source.inline is not None:
        raise UsageError("samples come from a table (a file or stdin), not an inline list")
    counts: Counter[tuple[str, ...]] = Counter()
    total = 0
    for block in read_sample_columns(spec.source, spec.options, columns, flags):
        counts.update(zip(*block, strict=True))
        total += len(block[0])
        if on_rows is not None:
            on_rows(len(block[0]))
    if total == 0:
        raise InputError(f"{spec.label}: has no samples")
    return dict(counts), total


def info_samples_task(
    spec: InputSpec,
    x: str,
    y: str,
    *,
    unit: Unit,
    correction: str,
    average: Average = "arithmetic",
    on_rows: RowCounter | None = None,
) -> Partial:
    """Plug-in information estimates from two label columns of samples.

    The contingency table is sparse: the counts of the pairs observed, so its
    size is that of the pairs seen, not (X values) x (Y values).
    """
    import numpy as np

    from xent_cli.core.information import information_from_counts

    counts, total = count_samples(spec, [x, y], [option("x"), option("y")], on_rows)
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
    spec: InputSpec,
    column: str,
    *,
    unit: Unit,
    correction: str,
    explain: bool = False,
    on_rows: RowCounter | None = None,
) -> Partial:
    """Entropy of the empirical distribution of one label column (plug-in, or Miller–Madow)."""
    import numpy as np

    from xent_cli.core.distributions import prepare
    from xent_cli.core.measures import entropy_terms, row_sum

    counts, total = count_samples(spec, [column], [option("column")], on_rows)
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
            spelled(
                f"{option('explain')} shows the plug-in terms; H({column}) adds the Miller–Madow correction "
                f"(m - 1) / 2N = {(len(names) - 1) / (2 * total) / unit.scale:.6g} {unit.name} to their sum"
            )
        )
    return Partial(
        measures=[MeasurePart("entropy", f"H({column})", np.array([h / unit.scale]))],
        rows_read=1,
        notes=notes,
        samples=SampleSummary(count=total, distinct=len(names), correction=correction),
        explain=explained,
    )
