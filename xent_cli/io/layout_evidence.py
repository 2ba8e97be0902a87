"""What the layout rule reads off a sample: whether the first line is a header (rule 1),
which column is the row id (rule 2), and the tests on sampled columns the other rules ask
(does a column count rows, are its values distinct, do rows sum to one).

The rule itself, one step per numbered rule, is :func:`xent_cli.io.layout.decide`;
its module docstring states the rule.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from xent_cli.errors import InputError, option, spelled
from xent_cli.io.cells import (
    DEC,
    EMPTY,
    INT,
    TEXT,
    UNNAMED,
    ColumnKinds,
    cell_kind,
    integers_of,
    is_id_name,
    is_label_name,
)
from xent_cli.io.layout_types import Sample

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from xent_cli.io.table import ReadOptions


# --- 1. header ----------------------------------------------------------------------------


def _header(sample: Sample, options: ReadOptions) -> tuple[bool, str | None]:
    """Whether the first line is a header, and the note when integers were taken as names."""
    first = sample.first_line
    assert first is not None
    forced = options.header_choice
    if forced is not None:
        return forced, None
    width = len(first)
    if sample.kinds.shape[0] == 0:
        # A single line: a header only if nothing in it is a number.
        return not any(cell_kind(c, sample.decimal) in (INT, DEC) for c in first), None
    columns = ColumnKinds.of(sample.kinds)
    numeric = [c for c in range(width) if c < sample.width and columns.numeric(c)]
    first_kinds = [cell_kind(c, sample.decimal) for c in first]
    if any(first_kinds[c] in (TEXT, EMPTY) for c in numeric):
        return True, None
    if not numeric:
        # Text above text: a header when no cell of it recurs in its column.
        if sample.cells is None or len(set(first)) != len(first) or not all(c.strip() for c in first):
            return False, None
        for c, name in enumerate(first):
            if any(len(row) > c and row[c] == name for row in sample.cells):
                return False, None
        return True, None
    integers = integers_of([first[c] for c in numeric])
    if integers is None:
        return False, None
    # Distinct integers above decimal data are class names in any order (pandas writes a
    # frame's integer column names as they stand, e.g. [1, 0] or [2, 0, 1]); a row of data
    # there would be a one-hot row, which repeats a 0 from three outcomes on.
    distinct = len(set(integers)) == len(integers)
    shown = ",".join(c.strip() for c in first)
    if len(shown) > 40:
        shown = shown[:39] + "…"
    if distinct and any(columns.decimal(c) for c in numeric):
        return True, spelled(
            f"{sample.label}: first line ({shown}) taken as the header (integer class names above "
            f"decimal data); {option('header', negative=True)} to read it as data"
        )
    if any(b <= a for a, b in itertools.pairwise(integers)):
        return False, None
    consecutive = integers == list(range(integers[0], integers[0] + len(integers)))
    if consecutive and (integers[0] == 0 or (integers[0] == 1 and len(integers) > 1)):
        if options.role == "labels":
            # Labels pair with rows by count, so the plain reading cannot give a wrong
            # number: a header read as a label is reported as one label too many.
            return False, None
        raise InputError(
            f"{sample.label}: the first line ({shown}) may be a header of class names or a row of data, "
            "and every value below it is an integer too",
            hint=f"say which: {option('header')}, or {option('header', negative=True)}",
        )
    return False, None


# --- 2. id ---------------------------------------------------------------------------------


def _infer_id(
    sample: Sample,
    names: list[str] | None,
    columns: ColumnKinds,
    values: NDArray[Any],
    cells: Sequence[Sequence[str]] | None,
    taken: set[int],
    role: str,
    label: str,
) -> tuple[int | None, str | None]:
    """The id column by rule 2, and the note when choosing it changed what is computed."""
    width = values.shape[1]

    def named(c: int) -> str:
        return names[c] if names is not None and names[c] else f"column {c + 1}"

    def note(c: int, why: str) -> str | None:
        if columns.textual(c) or columns.empty(c):
            return None  # a text column was never an outcome: nothing changed
        return f"{label}: {why}; --id to choose another"

    if sample.index:
        return sample.index[0], None
    if names is not None and 0 not in taken:
        if names[0].strip() in UNNAMED:
            return 0, note(0, "first column (no header name) taken as the row id (pandas index)")
        others = integers_of(names[1:]) if width > 1 else None
        if (
            others is not None
            and integers_of(names[:1]) is None
            and not columns.decimal(0)
            and _distinct(sample, values, 0, cells)
            and not (role == "predictions" and is_label_name(names[0]))
        ):
            return 0, note(
                0,
                f"column {named(0)!r} taken as the row labels "
                "(the other header cells are integers, as in a crosstab)",
            )
        if role == "joint" and others is None and width > 2:
            row_labels = _crosstab_row_labels(sample, names, columns, values, cells, taken, label)
            if row_labels is not None:
                return 0, note(0, f"column {named(0)!r} taken as the row labels ({row_labels})")
        for c in range(width):
            if c not in taken and is_id_name(names[c]) and not columns.decimal(c):
                return c, note(c, f"column {named(c)!r} taken as the row id (by its name)")
    for c in range(width):
        if c not in taken and columns.textual(c) and not (names is not None and is_label_name(names[c])):
            return c, None
    if 0 not in taken and columns.integer(0) and _index_like(values[:, 0]):
        decimals = any(columns.decimal(c) for c in range(1, width))
        if decimals and role != "labels":
            start = int(values[0, 0])
            return 0, note(
                0, f"column {named(0)!r} taken as the row id (it counts rows: {start}, {start + 1}, …)"
            )
    return None, None


def _crosstab_row_labels(
    sample: Sample,
    names: list[str],
    columns: ColumnKinds,
    values: NDArray[Any],
    cells: Sequence[Sequence[str]] | None,
    taken: set[int],
    label: str,
) -> str | None:
    """Why the first column of a joint table of counts is its row labels, or None when it is a count.

    pandas writes a crosstab's (or pivot's, or ``groupby().size().unstack()``'s) index as the
    first column, named after the row variable, its values distinct and in ascending order.
    Its cells are integers like the counts beside it, so the evidence is the column itself:
    distinct values under a label-like name (``truth``, ``y_true``, …), or values counting
    up by one from 0 or 1, are row labels; distinct values in ascending order otherwise could
    be either, and reading them wrongly changes the number silently: exit 2, asking which.
    """
    import numpy as np

    rest = [c for c in range(1, len(names)) if c not in taken]
    if (
        0 in taken
        or not columns.integer(0)
        or not rest
        or not all(columns.integer(c) for c in rest)
        or integers_of(names[:1]) is not None
        or values.shape[0] < 2
        or not _distinct(sample, values, 0, cells)
    ):
        return None
    column = values[:, 0]
    first = int(column[0])
    if is_label_name(names[0]):
        return "a label name over distinct values, as in a crosstab"
    if not bool(np.all(np.diff(column) > 0)):
        return None  # distinct counts in no order: a column of counts
    if _index_like(column) and first in (0, 1):
        return f"distinct values {first}, {first + 1}, … as pandas writes a crosstab's index"
    raise InputError(
        f"{label}: column {names[0]!r} may be the row labels (distinct values in ascending order, "
        "as pandas writes a crosstab's index) or a column of counts",
        hint=f"say which: {option('id_column')} {names[0]} for row labels, "
        f"or {option('id_column')} '' to read it as counts",
    )


# --- the tests on sampled columns the rules ask --------------------------------------------


def _index_like(values: NDArray[Any]) -> bool:
    """Integers counting up by one in every sampled row (a row number)."""
    import numpy as np

    if values.shape[0] < 2 or not np.all(np.isfinite(values)):
        return False
    return bool(np.all(np.diff(values) == 1))


def _distinct(
    sample: Sample, rows_values: NDArray[Any], c: int, cells: Sequence[Sequence[str]] | None
) -> bool:
    import numpy as np

    column = rows_values[:, c]
    if np.all(np.isfinite(column)):
        return bool(len(np.unique(column)) == column.shape[0])
    if cells is not None:
        texts = [row[c] if len(row) > c else "" for row in cells]
        return len(set(texts)) == len(texts)
    return False


def _sums_to_one(
    values: NDArray[Any], columns: list[int], kind: str, role: str, complete: bool
) -> bool | None:
    """The row-sum test on the sample: True/False, or None when it cannot tell."""
    import numpy as np

    if not columns:
        return None
    part = values[:, columns]
    rows = np.all(np.isfinite(part), axis=1) if kind != "logprobs" else ~np.any(np.isnan(part), axis=1)
    part = part[rows]
    if part.shape[0] == 0:
        return None
    if role == "joint":
        if not complete or kind != "probs":
            return None
        with np.errstate(over="ignore"):  # numbers near float64's limit sum to inf: not 1
            return bool(abs(float(np.sum(part)) - 1.0) <= 1e-2)
    if kind == "probs":
        with np.errstate(over="ignore"):
            return bool(np.all(np.abs(np.sum(part, axis=1) - 1.0) <= 1e-2))
    if kind == "logprobs":
        with np.errstate(all="ignore"):
            top = np.max(part, axis=1, keepdims=True)
            total = np.log(np.sum(np.exp(part - top), axis=1)) + top[:, 0]
        return bool(np.all(np.abs(total) <= 1e-2))
    return None
