"""The layout rule: one decision, for every tabular format, of what each column is.

A reader describes what it saw in a :class:`Sample` (format-neutral: the candidate
header cells or the column names the format knows, and for many rows the kind of every
cell, as written: an integer, a decimal, text, or empty; plus any index columns the
format's metadata names). :func:`decide` returns a :class:`Layout`: whether the first
line is a header, which column is the row id, which are the outcomes, which hold
labels, which are ignored, the notes to print and the hint for a bad row sum. Readers
hold no heuristics of their own.

The rule (the README's "Layout: how xent reads a table" says the same for users):

1. **Header** (text formats). ``--header`` / ``--no-header`` force it. Otherwise the first
   line is a header when one of its cells is text or empty above a column of numbers,
   or when it is strictly increasing integers (``0,1,2``; pandas' integer class
   names) above data holding decimals. When it is ``0..K-1`` or ``1..K`` above data
   that are all integers too (one-hot rows or counts under ``0,1``), both readings are
   plausible: exit 2, naming ``--header`` and ``--no-header``. A first line of text above
   text-only columns is a header when none of its cells recurs in its column.
2. **Id.** ``--id COL``; else the index named by metadata (Parquet/Feather pandas
   metadata, JSON ``split``/``index``/``table`` orients; several of them, a pandas MultiIndex,
   are the id together, :attr:`Layout.id_parts`); else the pandas index written
   by ``to_csv`` (a first column with no header name: empty, R's ``""``, ``Unnamed: 0``);
   else a first column named while every other header cell is an integer (a crosstab
   or pivot: ``y_true,0,1,2``), when its values are distinct; for ``role="joint"`` on
   integers only, else a first column of distinct values named like labels or counting up
   from 0 or 1 (a crosstab's index: ``truth,p,q``), and an error naming ``--id`` when
   distinct ascending values could be either row labels or counts (``--id ''``: no id
   column at all); else a column named like
   an id (``id``, ``index``, ``key``, ``row``, ``*_id``, …) holding integers or text; else
   the first text column not named like labels; else a first column of integers that
   count up by one (a row number) beside decimal columns.
3. **Labels** are never outcomes: columns named like labels (``label``, ``target``, ``y``,
   ``y_true``, ``class``, ``truth``, ``actual``, ``gold``, …) holding integers or text
   beside decimal columns, and (weaker evidence) other integer-only columns beside
   decimal columns. For ``probs`` the row-sum test on the sample decides the weak
   cases: when every numeric column sums to 1 they are all outcomes; when they do not
   but the columns without the label-like ones do, those are labels (with a note);
   otherwise the suspects stay and the error for the bad sum names them instead of
   suggesting ``--normalize``. For other kinds a weak candidate is a label only when its
   values are class indices (0 ≤ v < number of decimal columns). Tables of integers
   only (counts) keep every numeric column but the id as outcomes. Other text columns
   are ignored with a note (for ``xent loss`` they are ``--target`` candidates too).
4. Everything is decided from many rows (up to a few thousand, or the sniff window of
   a wide file), never from the first data row alone: a column of numbers with a stray
   word is an outcome column, and the word is reported as not a number.
5. ``role="joint"`` (``xent info``): the first column of a crosstab names the rows; text
   columns beyond it mean the file holds samples, which is an error naming ``--x``/``--y``.
6. ``role="labels"``: the label column is the one named like labels, else the last
   column that is not the id.
7. **Lists and types.** Readers give each cell the kind of its values' type, never of
   its encoding (a dictionary of floats is DEC). One column of lists of numbers (LIST) is
   the outcomes, each row's list one distribution (:attr:`Layout.list_column`); beside
   it the id is found as above, label-named columns (and, for ``xent loss``, text columns)
   are labels, and the rest is left out with a note. Several list columns need
   ``--columns``. A NESTED column (struct, map, JSON object, list of text) is never an
   outcome, an id or a label: without a list column or ``--columns`` it is an error
   naming it.

Whenever an inference changed what is computed compared with reading every numeric
column as an outcome, :attr:`Layout.notes` holds one short note about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xent_cli.errors import InputError, UsageError, option, spelled
from xent_cli.io.cells import (
    DEC,
    EMPTY,
    INT,
    LABEL_NAMES,
    LIST,
    NESTED,
    SAMPLE_CELLS,
    SAMPLE_ROWS,
    TEXT,
    UNNAMED,
    ColumnKinds,
    cell_kind,
    classify,
    is_label_name,
    value_kind,
)
from xent_cli.io.layout_evidence import _header, _index_like, _infer_id, _sums_to_one
from xent_cli.io.layout_types import Layout, Sample

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from xent_cli.io.table import ReadOptions

# The cell names are re-exported: readers use them through this module.
__all__ = [
    "DEC",
    "EMPTY",
    "INT",
    "LABEL_NAMES",
    "LIST",
    "NESTED",
    "SAMPLE_CELLS",
    "SAMPLE_ROWS",
    "TEXT",
    "Layout",
    "Sample",
    "cell_kind",
    "classify",
    "decide",
    "value_kind",
]


def _quoted(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


# --- 2.-3. id, labels, outcomes ----------------------------------------------------------------


def _find(spec: str, names: list[str] | None, width: int, label: str, option: str) -> int:
    if names is not None and spec in names:
        return names.index(spec)
    if names is not None:
        stripped = [n.strip() for n in names]
        if spec.strip() in stripped:
            return stripped.index(spec.strip())
    if spec.isdigit() and 1 <= int(spec) <= width:
        return int(spec) - 1
    known = ", ".join(n if n else "''" for n in names) if names else "none (the file has no header)"
    if names is not None and len(names) > 30:
        known = ", ".join(names[:30]) + f" and {len(names) - 30} more"
    raise InputError(
        f"{label}: {option} {spec!r} names no column",
        hint=f"columns are: {known}; or give a 1-based column number",
    )


def _check_unique(names: Sequence[str], label: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(f"{label}: outcome {name!r} appears twice", hint="outcome names must be unique")
        seen.add(name)


@dataclass
class _Frame:
    """The sampled table as the steps of the rule see it, once rule 1 decided the header."""

    sample: Sample
    names: list[str] | None
    header: bool
    header_source: str
    kinds: NDArray[Any]
    values: NDArray[Any]
    cells: Sequence[Sequence[str]] | None
    notes: list[str]
    # The columns of a several-level index (a pandas MultiIndex): together, the id.
    id_parts: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        return self.sample.label

    @property
    def width(self) -> int:
        return len(self.names) if self.names is not None else int(self.kinds.shape[1])

    def name(self, c: int) -> str:
        if self.names is not None and self.names[c] != "":
            return self.names[c]
        return f"column {c + 1}"

    def named_like_labels(self, c: int) -> bool:
        return is_label_name(self.names[c] if self.names else None)


@dataclass
class _Choice:
    """What the options chose: the ``--target`` column, ``--id``, ``--columns``."""

    label_col: int | None
    id_col: int | None
    chosen: list[int] | None
    # ``--id ''``: the table has no id column (none is inferred).
    no_id: bool = False


@dataclass
class _Split:
    """Which columns are outcomes, labels and ignored (the id and label column as settled)."""

    outcomes: list[int]
    labels: list[int]
    ignored: list[int]
    label_col: int | None
    id_col: int | None
    sum_hint: str | None = None
    # Columns left out as labels by inference (each gets a note).
    label_notes: list[int] = field(default_factory=list)


def decide(sample: Sample, options: ReadOptions) -> Layout:
    """Apply the layout rule to what a reader saw (see the module docstring), one step per rule."""
    role = options.role
    frame = _frame(sample, options)  # 1. the header
    columns = ColumnKinds.of(frame.kinds)
    choice = _explicit_choice(frame, options)  # what --target, --id and --columns name
    taken = _taken(frame, columns, choice)
    listed = _list_outcomes(frame, columns, choice, role)  # 7. lists and nested values
    if listed is not None:
        return listed
    id_col = choice.id_col
    if id_col is None and len(sample.index) > 1 and not choice.no_id:
        # A pandas MultiIndex: the id is every level together, never one level and labels.
        frame.id_parts = tuple(sample.index)
    if id_col is None and frame.width > 1 and not choice.no_id:  # 2. the id
        id_col, id_note = _infer_id(
            sample, frame.names, columns, frame.values, frame.cells, taken, role, frame.label
        )
        if id_note:
            frame.notes.append(id_note)
    if id_col is None and choice.id_col is None and not frame.id_parts:
        id_col = _written_multiindex(frame, columns, taken, role)
    if choice.chosen is not None:
        split = _beside_chosen(frame, columns, choice, taken, id_col, role)
    elif role == "labels":
        split = _label_column(frame, choice, taken, id_col)  # 6. the label column
    else:
        split = _infer_outcomes(frame, columns, choice, taken, id_col, options.kind, role)  # 3.-5.
    if choice.chosen is None:
        _require_outcomes(frame, split, role)
        _note_left_out(frame, columns, split, role)
    return Layout(
        header=frame.header,
        names=frame.names,
        width=frame.width,
        id=split.id_col,
        outcomes=split.outcomes,
        labels=split.labels,
        label=split.label_col,
        ignored=split.ignored,
        notes=frame.notes,
        sum_hint=split.sum_hint,
        header_source=frame.header_source,
        id_parts=frame.id_parts if split.id_col is not None else (),
    )


def _written_multiindex(frame: _Frame, columns: ColumnKinds, taken: set[int], role: str) -> int | None:
    """A pandas MultiIndex as ``to_csv`` writes it: the id (its first column), or None.

    ``to_csv`` writes the levels as ordinary named columns (``doc,pos,x,y,z``). Taken for
    one when a text table's header starts with two or more named columns of integers, not
    named like labels, that come before every decimal column and together are distinct on
    every sampled row; :attr:`_Frame.id_parts` then holds them all. Left out as labels
    instead, rows shuffled within one level would pair wrongly without a word.
    """
    import numpy as np

    names = frame.names
    if frame.sample.first_line is None or names is None or role in ("joint", "samples"):
        return None
    run: list[int] = []
    for c in range(frame.width - 1):  # at least one column is left for the data
        if c in taken or not names[c] or names[c] in UNNAMED or frame.named_like_labels(c):
            break
        if not columns.integer(c):
            break
        run.append(c)
    if len(run) < 2:
        return None
    rest = range(len(run), frame.width)
    if role != "labels" and not any(columns.decimal(c) for c in rest):
        return None
    part = frame.values[:, run]
    if part.shape[0] < 2 or not np.all(np.isfinite(part)):
        return None
    if np.unique(part, axis=0).shape[0] != part.shape[0]:
        return None
    frame.id_parts = tuple(run)
    frame.notes.append(
        f"{frame.label}: columns {_quoted([names[c] for c in run])} taken together as the row id "
        "(a pandas MultiIndex, as to_csv writes it); --id to choose another"
    )
    return run[0]


def _frame(sample: Sample, options: ReadOptions) -> _Frame:
    """Rule 1: the header and the names; the first line joins the data when it is no header."""
    import numpy as np

    role = options.role
    label = sample.label
    names: list[str] | None
    header = False
    header_source = "none"
    notes: list[str] = []
    kinds, values = sample.kinds, sample.values
    cells = sample.cells
    if sample.first_line is not None:
        header, header_note = _header(sample, options)
        if header_note:
            notes.append(header_note)
        if header:
            names = [c.strip() for c in sample.first_line]
            header_source = "line"
        else:
            first_kinds, first_values = classify([sample.first_line], len(sample.first_line), sample.decimal)
            if kinds.shape[1] < first_kinds.shape[1]:
                pad = first_kinds.shape[1] - kinds.shape[1]
                kinds = np.pad(kinds, ((0, 0), (0, pad)))
                values = np.pad(values, ((0, 0), (0, pad)), constant_values=np.nan)
            kinds = np.concatenate([first_kinds[:, : kinds.shape[1]], kinds])
            values = np.concatenate([first_values[:, : values.shape[1]], values])
            cells = [sample.first_line, *(cells or [])] if cells is not None else None
            names = None
            if sample.comment is not None and len(sample.comment) == kinds.shape[1]:
                names = [c.strip() for c in sample.comment]
                header_source = "comment"
    else:
        names = list(sample.names) if sample.names is not None else None
        header = names is not None
        header_source = "names" if header else "none"
    width = len(names) if names is not None else int(kinds.shape[1])
    if kinds.shape[1] < width:
        pad = width - kinds.shape[1]
        kinds = np.pad(kinds, ((0, 0), (0, pad)))
        values = np.pad(values, ((0, 0), (0, pad)), constant_values=np.nan)
    if header and role not in ("labels", "samples"):
        _check_unique([n for n in (names or []) if n], label)
    if header and kinds.shape[0] == 0 and sample.complete and role not in ("labels", "samples"):
        raise InputError(f"{label}: has a header but no data rows")
    return _Frame(sample, names, header, header_source, kinds, values, cells, notes)


def _explicit_choice(frame: _Frame, options: ReadOptions) -> _Choice:
    """The columns the options name: ``--target`` (a label column), ``--id``, ``--columns``."""
    names, width, label = frame.names, frame.width, frame.label
    label_col: int | None = None
    if options.label_column is not None:
        target = options.label_column
        if names is not None and target in names:
            label_col = names.index(target)
        elif options.role == "labels" and target.isdigit() and 1 <= int(target) <= width:
            label_col = int(target) - 1
    id_col: int | None = None
    no_id = options.id_column is not None and not options.id_column.strip()
    if options.id_column is not None and not no_id:
        id_col = _find(options.id_column, names, width, label, "--id")
    chosen: list[int] | None = None
    if options.columns:
        chosen = []
        for spec in options.columns:
            index = _find(spec, names, width, label, option("columns"))
            if index in chosen:
                raise UsageError(
                    f"{option('columns')}: {spec!r} is given twice", hint="name each outcome column once"
                )
            chosen.append(index)
        reserved = {i for i in (id_col, label_col) if i is not None}
        clash = reserved.intersection(chosen)
        if clash:
            raise UsageError(f"{label}: column {min(clash) + 1} is both an outcome and the id or target")
    return _Choice(label_col, id_col, chosen, no_id)


def _taken(frame: _Frame, columns: ColumnKinds, choice: _Choice) -> set[int]:
    """Columns that cannot be the inferred id: chosen ones, and lists and nested values (rule 7)."""
    taken = {i for i in (choice.label_col,) if i is not None}
    if choice.chosen is not None:
        taken.update(choice.chosen)
    taken.update(c for c in range(frame.width) if columns.listed(c))
    taken.update(c for c in range(frame.width) if columns.nested(c))
    if choice.id_col is not None:
        taken.add(choice.id_col)
    return taken


def _list_outcomes(frame: _Frame, columns: ColumnKinds, choice: _Choice, role: str) -> Layout | None:
    """Rule 7: the layout of a table whose outcomes are one list column; None for other tables.

    A nested column without a list column or ``--columns`` is an error naming it.
    """
    sample, label, name, chosen = frame.sample, frame.label, frame.name, choice.chosen
    listed = [c for c in range(frame.width) if columns.listed(c)]
    nested = [c for c in range(frame.width) if columns.nested(c)]

    def kind_of_column(c: int) -> str:
        what = sample.types[c] if sample.types is not None and c < len(sample.types) else None
        return f"{what} values" if what else "nested values (objects, lists of text)"

    listed_chosen = [c for c in chosen or () if c in set(listed)]
    if listed and role not in ("labels", "samples") and (chosen is None or listed_chosen):
        if role == "joint":
            raise InputError(
                f"{label}: column {name(listed[0])!r} holds lists, so this is not a joint table",
                hint="a joint table has one numeric column per outcome",
            )
        if chosen is not None and len(chosen) > 1:
            raise UsageError(
                f"{option('columns')}: {name(listed_chosen[0])!r} is a list column, which holds "
                "every outcome",
                hint=f"give it alone: {option('columns')} {name(listed_chosen[0])}",
            )
        if chosen is None and len(listed) > 1:
            raise InputError(
                f"{label}: has {len(listed)} list columns ({_quoted([name(c) for c in listed])}); "
                "any of them could be the outcomes",
                hint=f"choose one: {option('columns')} {name(listed[0])}",
            )
        return _list_layout(
            sample,
            frame.names,
            columns,
            frame.values,
            frame.cells,
            (listed_chosen or listed)[0],
            choice.id_col,
            choice.label_col,
            role,
            frame.notes,
            explicit=chosen is not None,
            no_id=choice.no_id,
        )
    if nested and chosen is None and role not in ("labels", "samples"):
        c = nested[0]
        raise InputError(
            f"{label}: column {name(c)!r} holds {kind_of_column(c)}, neither numbers nor labels",
            hint=f"choose the outcome columns with {option('columns')}",
        )
    return None


def _free(frame: _Frame, choice: _Choice, id_col: int | None) -> list[int]:
    """The columns that are neither the id, the label column nor a chosen outcome."""
    reserved_cols = {i for i in (id_col, choice.label_col) if i is not None}
    if id_col is not None:
        reserved_cols.update(frame.id_parts)
    chosen_set = set(choice.chosen or ())
    return [c for c in range(frame.width) if c not in reserved_cols and c not in chosen_set]


def _beside_chosen(
    frame: _Frame, columns: ColumnKinds, choice: _Choice, taken: set[int], id_col: int | None, role: str
) -> _Split:
    """``--columns`` chose the outcomes: the others are labels (by name, or text for loss) or ignored."""
    label_col = choice.label_col
    labels: list[int] = [label_col] if label_col is not None else []
    ignored: list[int] = []
    for c in _free(frame, choice, id_col):
        if c in taken and c != label_col:  # a list or nested column beside chosen outcomes
            ignored.append(c)
        elif frame.named_like_labels(c) or (role == "predictions" and columns.textual(c)):
            labels.append(c)
        else:
            ignored.append(c)
    return _Split(list(choice.chosen or ()), labels, ignored, label_col, id_col)


def _label_column(frame: _Frame, choice: _Choice, taken: set[int], id_col: int | None) -> _Split:
    """Rule 6 (``role="labels"``): the column named like labels, else the last that is not the id."""
    label_col = choice.label_col
    labels: list[int] = [label_col] if label_col is not None else []
    free = _free(frame, choice, id_col)
    if label_col is None:
        usable = [c for c in free if c not in taken]
        candidates = [c for c in usable if frame.named_like_labels(c)] or usable
        if candidates:
            label_col = candidates[0] if frame.named_like_labels(candidates[0]) else candidates[-1]
            labels = [label_col]
            if (len(usable) > 1 or id_col is not None) and not is_label_name(frame.name(label_col)):
                # Which column holds the labels was inferred: say so, as for predictions.
                frame.notes.append(f"{frame.label}: labels taken from column {frame.name(label_col)!r}")
    ignored = [c for c in free if c != label_col]
    return _Split([], labels, ignored, label_col, id_col)


def _infer_outcomes(
    frame: _Frame,
    columns: ColumnKinds,
    choice: _Choice,
    taken: set[int],
    id_col: int | None,
    kind: str,
    role: str,
) -> _Split:
    """Rules 3-5: numeric columns are outcomes, but for labels among them; text is labels or ignored."""
    import numpy as np

    values, name, label, label_col = frame.values, frame.name, frame.label, choice.label_col
    free = _free(frame, choice, id_col)
    labels: list[int] = [label_col] if label_col is not None else []
    ignored: list[int] = []
    numeric = [c for c in free if columns.numeric(c)]
    empty = [c for c in free if columns.empty(c)]
    text = [c for c in free if not columns.numeric(c) and not columns.empty(c) and c not in taken]
    ignored.extend(c for c in free if c in taken)  # lists and nested values, left out
    decimals = [c for c in numeric if columns.decimal(c)]
    strong = [c for c in numeric if columns.integer(c) and frame.named_like_labels(c)]
    strong_set = set(strong)
    weak = [
        c
        for c in numeric
        if columns.integer(c) and c not in strong_set and decimals and bool(np.nanmin(values[:, c]) >= 0)
    ]
    weak_set = set(weak)
    outcomes = _without_label_columns(frame, numeric, strong, weak, decimals, kind, role)
    kept = set(outcomes)
    removed = [c for c in numeric if c not in kept]
    if role == "joint" and removed and id_col is None and removed[0] == 0 and not choice.no_id:
        # The first column of a joint table, left out as labels: the row labels.
        id_col = 0
        removed = removed[1:]
        frame.notes.append(
            f"{label}: column {name(0)!r} taken as the row labels (X values); --id to choose another"
        )
    labels.extend(removed)
    label_notes = list(removed)
    if role == "joint":
        _refuse_samples_as_joint(frame, columns, text, id_col)
    for c in text:
        if frame.named_like_labels(c) or role == "predictions":
            labels.append(c)
            if label_col != c:
                label_notes.append(c)
        else:
            ignored.append(c)
    # An empty column with no name (a trailing delimiter on every line) is ignored;
    # any other empty column is an outcome, whose first missing value is reported.
    text_format = frame.sample.first_line is not None
    blank = [c for c in empty if text_format and (frame.names is None or frame.names[c] in UNNAMED)]
    ignored.extend(blank)
    blank_set = set(blank)
    outcomes.extend(c for c in empty if c not in blank_set)
    outcomes.sort()
    sum_hint = _sum_hint(frame, columns, outcomes, strong_set | weak_set, id_col, role)
    return _Split(outcomes, labels, ignored, label_col, id_col, sum_hint, label_notes)


def _without_label_columns(
    frame: _Frame,
    numeric: list[int],
    strong: list[int],
    weak: list[int],
    decimals: list[int],
    kind: str,
    role: str,
) -> list[int]:
    """Rule 3: the numeric columns that are outcomes, the label-like integer columns decided.

    For ``probs`` the row-sum test on the sample decides; for other kinds a weak
    candidate is a label only when its values are class indices.
    """
    import numpy as np

    values = frame.values
    strong_set, weak_set = set(strong), set(weak)
    outcomes = list(numeric)
    if kind == "probs" and (strong or weak):
        order = [
            numeric,
            [c for c in numeric if c not in strong_set],
            [c for c in numeric if c not in strong_set and c not in weak_set],
        ]
        verdicts = [_sums_to_one(values, cols, kind, role, frame.sample.complete) for cols in order]
        if verdicts[0]:
            pass
        elif verdicts[1] and strong:
            outcomes = order[1]
        elif verdicts[2]:
            outcomes = order[2]
        elif decimals:
            outcomes = order[1]  # label-named integers beside decimals are labels regardless
    elif strong or weak:
        bound = len(decimals)
        weak_labels = {
            c
            for c in weak
            if bool(np.nanmax(values[:, c]) < bound) and kind in ("weights", "logits", "logprobs")
        }
        outcomes = [c for c in numeric if not ((decimals and c in strong_set) or c in weak_labels)]
    return outcomes


def _refuse_samples_as_joint(
    frame: _Frame, columns: ColumnKinds, text: list[int], id_col: int | None
) -> None:
    """Rule 5: text columns beyond the row labels mean a table of samples, not a joint table."""
    name = frame.name
    extra = [c for c in text if c != id_col]
    if extra:
        if id_col is not None and columns.textual(id_col):
            extra = sorted([id_col, *extra])
        raise InputError(
            f"{frame.label}: {_plural(len(extra), 'column', 'columns')} "
            f"{_quoted([name(c) for c in extra])} "
            f"{_plural(len(extra), 'holds', 'hold')} text, "
            "so this is not a joint table of numbers",
            hint=f"for samples, name two label columns: {option('x')} {name(extra[0])} {option('y')} "
            f"{name(extra[1] if len(extra) > 1 else extra[0])}",
        )


def _sum_hint(
    frame: _Frame,
    columns: ColumnKinds,
    outcomes: list[int],
    suspected: set[int],
    id_col: int | None,
    role: str,
) -> str | None:
    """The hint for a bad row sum when an outcome looks like labels or a row index (rule 3)."""
    values = frame.values
    suspects = [c for c in outcomes if c in suspected]
    if id_col is None and outcomes and _index_like(values[:, outcomes[0]]) and columns.integer(outcomes[0]):
        suspects.insert(0, outcomes[0])
    if not suspects:
        return _extra_column_hint(frame, outcomes, role)
    return _suspect_hint(
        suspects[0], frame.name, outcomes, role, index_like=_index_like(values[:, suspects[0]])
    )


def _extra_column_hint(frame: _Frame, outcomes: list[int], role: str) -> str | None:
    """The hint for a bad row sum when the sampled rows sum to 1 without exactly one column.

    A float column beside the probabilities (sample weights, a score) is read as an outcome;
    --normalize would then fold it into every distribution and give a wrong number.
    """
    import numpy as np

    if role not in ("distributions", "predictions") or len(outcomes) < 3:
        return None
    values = np.asarray(frame.values[:, outcomes], dtype=np.float64)
    rows = values[np.isfinite(values).all(axis=1)]
    if rows.shape[0] == 0:
        return None
    totals = rows.sum(axis=1)
    if np.all(np.abs(totals - 1.0) <= 1e-6):
        return None
    without = [k for k in range(len(outcomes)) if np.all(np.abs(totals - rows[:, k] - 1.0) <= 1e-6)]
    if len(without) != 1:
        return None
    extra = outcomes[without[0]]
    others = [frame.name(o) for o in outcomes if o != extra]
    columns = option("columns")
    choose = f"{columns} {','.join(others)}" if len(",".join(others)) <= 60 else columns
    return spelled(
        f"without column {frame.name(extra)!r} every row sums to 1, so it is likely not an outcome: "
        f"use {choose}, or {option('weights')} {frame.name(extra)} if it holds sample weights"
    )


def _require_outcomes(frame: _Frame, split: _Split, role: str) -> None:
    if not split.outcomes and role not in ("labels", "samples"):
        # Only delimited text has a delimiter and a decimal separator to get wrong.
        raise InputError(
            f"{frame.label}: has no numeric columns",
            hint=f"check {option('delimiter')}, or {option('decimal')} , for decimal commas"
            if frame.sample.format in ("csv", "tsv")
            else "a table needs columns of numbers, or one column of lists of numbers",
        )


def _note_left_out(frame: _Frame, columns: ColumnKinds, split: _Split, role: str) -> None:
    """One note for each kind of column an inference left out of the outcomes."""
    label, name, notes = frame.label, frame.name, frame.notes
    if split.label_notes:
        count = len(split.label_notes)
        quoted = _quoted([name(c) for c in split.label_notes])
        if role == "predictions":
            notes.append(
                spelled(
                    f"{label}: {_plural(count, 'column', 'columns')} {quoted} "
                    f"{_plural(count, 'holds', 'hold')} labels ({option('target')} candidates), not outcomes"
                )
            )
        else:
            notes.append(
                spelled(
                    f"{label}: {_plural(count, 'column', 'columns')} {quoted} "
                    f"{_plural(count, 'holds', 'hold')} labels, not outcomes: left out "
                    f"({option('columns')} to choose the outcomes)"
                )
            )
    text_ignored = [c for c in split.ignored if not columns.empty(c)]
    if text_ignored:
        notes.append(f"{label}: ignoring non-numeric column(s) {', '.join(name(c) for c in text_ignored)}")
    empty_ignored = [c for c in split.ignored if columns.empty(c)]
    if empty_ignored and role not in ("labels",):
        notes.append(
            f"{label}: ignoring empty, unnamed column(s) {', '.join(str(c + 1) for c in empty_ignored)}"
        )


def _list_layout(
    sample: Sample,
    names: list[str] | None,
    columns: ColumnKinds,
    values: NDArray[Any],
    cells: Sequence[Sequence[str]] | None,
    outcome: int,
    id_col: int | None,
    label_col: int | None,
    role: str,
    notes: list[str],
    *,
    explicit: bool,
    no_id: bool = False,
) -> Layout:
    """One column of lists of numbers is the outcomes: each row's list is its distribution.

    Beside it, the id is found as for any table; label-named columns (and, for
    ``xent loss``, text columns) hold labels; every other column (weights, scores,
    nested values) is left out, with a note when it holds numbers.
    """
    import numpy as np

    label = sample.label
    width = values.shape[1]

    def name(c: int) -> str:
        return names[c] if names is not None and names[c] != "" else f"column {c + 1}"

    taken = {outcome} | {c for c in range(width) if columns.listed(c) or columns.nested(c)}
    if label_col is not None:
        taken.add(label_col)
    # A pandas MultiIndex in the metadata: the id is every level together (see decide()).
    id_parts = tuple(sample.index) if id_col is None and not no_id and len(sample.index) > 1 else ()
    if id_col is None and not no_id:
        id_col, id_note = _infer_id(sample, names, columns, values, cells, taken, role, label)
        if id_note:
            notes.append(id_note)
    labels = [label_col] if label_col is not None else []
    ignored: list[int] = []
    for c in range(width):
        if c in (outcome, id_col, label_col) or c in id_parts:
            continue
        labelish = is_label_name(names[c] if names else None) and (columns.integer(c) or columns.textual(c))
        if labelish or (role == "predictions" and columns.textual(c)):
            labels.append(c)
        else:
            ignored.append(c)
    left_out = [c for c in ignored if not columns.textual(c) and not columns.empty(c)]
    if left_out and not explicit:
        notes.append(
            spelled(
                f"{label}: the outcomes are the lists in column {name(outcome)!r}; "
                f"{_plural(len(left_out), 'column', 'columns')} {_quoted([name(c) for c in left_out])} "
                f"left out ({option('columns')} to choose)"
            )
        )
    lengths = values[:, outcome]
    known = lengths[np.isfinite(lengths)]
    list_width = int(known[0]) if known.size else 0
    return Layout(
        header=names is not None,
        names=names,
        width=width,
        id=id_col,
        outcomes=[outcome],
        labels=labels,
        label=label_col,
        ignored=ignored,
        notes=notes,
        header_source="names" if names is not None else "none",
        list_column=outcome,
        list_width=list_width,
        id_parts=id_parts,
    )


def _suspect_hint(c: int, name: Any, outcomes: list[int], role: str, *, index_like: bool) -> str:
    others = [name(o) for o in outcomes if o != c]
    columns = option("columns")
    choose = f"{columns} {','.join(others)}" if others and len(",".join(others)) <= 60 else columns
    what = "a row index" if index_like else "labels"
    text = f"column {name(c)!r} holds integers and looks like {what}: use {choose}"
    if role == "predictions" and not index_like:
        text += f" or {option('target')} {name(c)}"
    elif index_like or role == "joint":
        text += f" or --id {name(c)}"
    return spelled(text)
