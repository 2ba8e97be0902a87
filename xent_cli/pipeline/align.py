"""Reading sources into validated blocks of distributions, and aligning two sources.

This layer knows about files, so it can say where a bad value is ("q.csv: row 17
(line 18), column 3"), but nothing about the command line or rendering.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from xent_cli.errors import DistributionError, InputError, UsageError, option, spelled
from xent_cli.io.readers import Block, Labels, ReadOptions, Table, read
from xent_cli.io.sources import Source

if TYPE_CHECKING:
    from xent_cli.core.distributions import Distributions, Kind


_HINTS = {
    "sum": f"use {option('normalize')} to rescale",
    "logprob_sum": f"use {option('as_')} logits to renormalize",
    "logprob_positive": "a placeholder for a missing value? give it as -inf (probability 0) or leave "
    f"the row out; if the file holds raw scores, not log-probabilities, use {option('as_')} logits",
    "negative": f"probabilities and weights must be >= 0; for raw scores use {option('as_')} logits",
    "nonfinite": "values must be finite numbers",
    "all_zero": "a row of weights needs at least one positive value",
    "all_neg_inf": "at least one outcome needs a finite value",
}


@dataclass(frozen=True)
class InputSpec:
    """One source and how to read and interpret it."""

    source: Source
    options: ReadOptions
    kind: Kind = "probs"

    @property
    def label(self) -> str:
        return self.source.label


# --- reading and validating --------------------------------------------------------


def open_table(spec: InputSpec, closer: ExitStack) -> Table:
    """Open a source; ``closer`` closes it when the command is done, however it ends."""
    table = read(spec.source, spec.options)
    closer.callback(table.close)
    return table


def to_distributions(
    table: Table, block: Block, kind: Kind, tolerance: float, values: Any = None
) -> Distributions:
    """Validate one block, turning a core error into a message that names the file row."""
    from xent_cli.core.distributions import prepare

    try:
        return prepare(block.values if values is None else values, kind, tolerance=tolerance)
    except DistributionError as exc:
        where = table.where(block, exc.row, exc.column)
        hint = _HINTS.get(exc.reason)
        if exc.reason == "sum" and table.sum_hint:
            # A column looks like labels or an index: name it, never suggest --normalize.
            hint = table.sum_hint
        if exc.reason == "negative" and kind == "logprobs":
            hint = None
        raise InputError(f"{where}: {exc.message}", hint=hint) from None


def rechunk(blocks: Iterator[Block], size: int) -> Iterator[Block]:
    """Regroup blocks into blocks of exactly ``size`` rows (the last may be shorter)."""
    pending: list[Block] = []
    held = 0
    start = 0
    for block in blocks:
        if len(block) == 0:
            continue
        pending.append(block)
        held += len(block)
        while held >= size:
            merged = _concat(pending, start)
            yield _slice(merged, 0, size)
            rest = _slice(merged, size, len(merged))
            start += size
            pending = [rest] if len(rest) else []
            held = len(rest)
    if held:
        yield _concat(pending, start)


def joined(blocks: list[Block], name: str) -> Any:
    """The ``ids``/``labels``/``lines`` of several blocks as one list (None if any lacks them)."""
    import numpy as np

    parts: list[Any] = [getattr(b, name) for b in blocks]
    if parts and all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts)
    result: list[Any] = []
    for part in parts:
        if part is None:
            return None
        result.extend(part)
    return result


def _concat(blocks: list[Block], start: int) -> Block:
    import numpy as np

    if len(blocks) == 1:
        return replace(blocks[0], start=start)
    return Block(
        values=np.concatenate([b.values for b in blocks]),
        start=start,
        ids=joined(blocks, "ids"),
        labels=joined(blocks, "labels"),
        lines=joined(blocks, "lines"),
        weights=joined(blocks, "weights"),
    )


def _slice(block: Block, lo: int, hi: int) -> Block:
    def cut(items: list[Any] | None) -> list[Any] | None:
        return None if items is None else items[lo:hi]

    return Block(
        values=block.values[lo:hi],
        start=block.start + lo,
        ids=cut(block.ids),
        labels=cut(block.labels),
        lines=cut(block.lines),
        weights=None if block.weights is None else block.weights[lo:hi],
    )


@dataclass
class Stream:
    """A table's rows in blocks of a fixed size, with a look at the first."""

    table: Table
    first: Block | None
    rest: Iterator[Block]
    size: int

    @classmethod
    def open(cls, table: Table, size: int) -> Stream:
        blocks = rechunk(table.blocks(), size)
        first = next(blocks, None)
        return cls(table, first, blocks, size)

    @property
    def single_row(self) -> bool:
        return self.first is not None and len(self.first) == 1 and self.size > 1

    def __iter__(self) -> Iterator[Block]:
        if self.first is not None:
            yield self.first
        yield from self.rest


def _rows_as_outcomes(blocks: list[Block]) -> tuple[Any, list[str] | None, list[int]]:
    """A whole table read in, for layouts where each file row is an outcome.

    Returns the values, the outcome names (the ids, when they are unique) and
    each row's line in the file (for messages).
    """
    import numpy as np

    values = np.concatenate([b.values for b in blocks])
    ids = joined(blocks, "ids")
    lines = joined(blocks, "lines")
    names = ids if ids and len(set(ids)) == len(ids) else None
    return values, names, [] if lines is None else list(lines)


def column_layout(table: Table) -> Table:
    """A one-column table is one distribution: its rows are the outcomes.

    The outcome names come from the id column, when its values are unique.
    """
    blocks = list(table.blocks())
    values, names, lines = _rows_as_outcomes(blocks)
    if values.shape[0] <= 1:
        return replace(table, make_blocks=lambda: iter(blocks))
    row = Block(values=values[:, 0][None, :], start=0)
    return Table(
        label=table.label,
        outcomes=names,
        id_name=None,
        make_blocks=lambda: iter([row]),
        outcome_lines=lines,
        line_of=table.line_of,
        notes=table.notes,
        layout=table.layout,
        sum_hint=table.sum_hint,
    )


def distribution_table(spec: InputSpec, closer: ExitStack) -> Table:
    table = open_table(spec, closer)
    if table.n_outcomes == 1:
        table = column_layout(table)
    return table


def stream_distributions(
    table: Table, kind: Kind, tolerance: float, size: int
) -> Iterator[tuple[Block, Distributions]]:
    for block in Stream.open(table, size):
        yield block, to_distributions(table, block, kind, tolerance)


# --- alignment of two sources -------------------------------------------------------


def outcome_order(p: Table, q: Table) -> list[int] | None:
    """Column permutation that puts Q's outcomes in P's order (None: keep as is)."""
    if p.outcomes is not None and q.outcomes is not None:
        if p.outcomes == q.outcomes:
            return None
        only_p = [n for n in p.outcomes if n not in set(q.outcomes)]
        only_q = [n for n in q.outcomes if n not in set(p.outcomes)]
        if only_p or only_q:
            parts = []
            if only_p:
                parts.append(f"only in {p.label}: {_names(only_p)}")
            if only_q:
                parts.append(f"only in {q.label}: {_names(only_q)}")
            raise InputError(
                f"{p.label} and {q.label} have different outcomes ({'; '.join(parts)})",
                hint="outcome columns are matched by name",
            )
        index = {name: i for i, name in enumerate(q.outcomes)}
        return [index[name] for name in p.outcomes]
    named, other = (p, q) if q.outcomes is None else (q, p)
    if named.outcomes is not None and other.outcomes is None and _indices_out_of_order(named.outcomes):
        # pandas DataFrame(P)[[2, 0, 1]].to_csv(): the names say class 2 comes first, but the
        # other side has no names to match them with, so the columns pair by position.
        named.notes.append(
            f"{named.label} names its outcomes {', '.join(named.outcomes[:10])} and {other.label} "
            "names none: outcome columns paired by position (give both the same names to pair by name)"
        )
    return None


def _indices_out_of_order(names: list[str]) -> bool:
    """Distinct class indices 0..K−1 as names, not in that order."""
    return (
        all(n.isdigit() for n in names)
        and sorted(map(int, names)) == list(range(len(names)))
        and [int(n) for n in names] != list(range(len(names)))
    )


def _names(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _check_width(p: Table, p_block: Block, q: Table, q_block: Block) -> None:
    kp, kq = p_block.values.shape[1], q_block.values.shape[1]
    if kp != kq and "llama" in (p.layout.get("format"), q.layout.get("format")):
        raise InputError(
            f"{p.label} has a vocabulary of {kp} but {q.label} has {kq}",
            hint="both must come from models with the same tokenizer",
        )
    if kp != kq:
        raise InputError(
            f"{p.label} has {kp} outcomes but {q.label} has {kq}",
            hint="both sources need the same outcomes",
        )


@dataclass
class Side:
    """One side of an aligned block: its raw values, validated into distributions only when asked.

    A fast kernel reads ``values`` directly and validates as it goes; the
    careful path (and every error message) goes through :meth:`distributions`.
    """

    table: Table | None
    block: Block
    kind: Kind
    tolerance: float
    # The block's values with the outcome columns in P's order.
    values: Any
    prepared: Distributions | None = None

    def distributions(self) -> Distributions:
        if self.prepared is None:
            assert self.table is not None
            self.prepared = to_distributions(self.table, self.block, self.kind, self.tolerance, self.values)
        return self.prepared

    @classmethod
    def of(cls, table: Table | None, block: Block, dist: Distributions) -> Side:
        """A side whose distributions are already known."""
        return cls(table, block, dist.kind, 0.0, dist.raw, dist)


@dataclass
class PairBlock:
    """Aligned rows of P and Q (one side may be a single row that broadcasts)."""

    p_side: Side
    q_side: Side
    ids: list[str] | None
    outcomes: list[str] | None = None
    # Per-row values the reader knows beside the distributions (from top-k lists: "top1", "p_outside").
    known: dict[str, Any] | None = None

    @property
    def p(self) -> Distributions:
        return self.p_side.distributions()

    @property
    def q(self) -> Distributions:
        return self.q_side.distributions()

    @property
    def p_block(self) -> Block:
        return self.p_side.block

    @property
    def q_block(self) -> Block:
        return self.q_side.block

    @property
    def n_rows(self) -> int:
        return max(len(self.p_side.block), len(self.q_side.block))


def paired_blocks(
    p_spec: InputSpec,
    q_spec: InputSpec,
    *,
    tolerance: float,
    join_ids: bool,
    closer: ExitStack,
    pair_position: bool = False,
    notes: list[str] | None = None,
) -> tuple[Table, Table, Iterator[PairBlock]]:
    """Open both sources and yield their rows aligned, validated, block by block.

    Rows pair by position; where both sources have ids, they must agree row by row
    (else an error naming ``--id`` and ``--pair position``), unless ``pair_position``:
    then the first disagreement is a note added to ``notes``.
    """
    if p_spec.source.is_stdin and q_spec.source.is_stdin:
        raise UsageError("only one source can be stdin ('-')")
    p_table = distribution_table(p_spec, closer)
    q_table = distribution_table(q_spec, closer)
    order = outcome_order(p_table, q_table)
    size = p_spec.options.rows_per_block(p_table.n_outcomes or q_table.n_outcomes)
    if join_ids:
        return p_table, q_table, _joined(p_table, q_table, p_spec, q_spec, order, tolerance, size)
    if not pair_position:
        _check_id_read_as_labels(p_table, q_table)
    ids = _IdCheck(p_table, q_table, pair_position, [] if notes is None else notes)
    return p_table, q_table, _lockstep(p_table, q_table, p_spec, q_spec, order, tolerance, size, ids)


def _reordered(block: Block, order: list[int] | None) -> Any:
    return block.values if order is None else block.values[:, order]


def _lockstep(
    p_table: Table,
    q_table: Table,
    p_spec: InputSpec,
    q_spec: InputSpec,
    order: list[int] | None,
    tolerance: float,
    size: int,
    ids: _IdCheck,
) -> Iterator[PairBlock]:
    p_stream = Stream.open(p_table, size)
    q_stream = Stream.open(q_table, size)
    if p_stream.first is None or q_stream.first is None:
        empty = p_table if p_stream.first is None else q_table
        raise InputError(f"{empty.label}: has no rows")
    _check_width(p_table, p_stream.first, q_table, q_stream.first)

    def p_side(block: Block) -> Side:
        return Side(p_table, block, p_spec.kind, tolerance, block.values)

    def q_side(block: Block) -> Side:
        return Side(q_table, block, q_spec.kind, tolerance, _reordered(block, order))

    if q_stream.single_row and not p_stream.single_row:
        q_only = q_side(q_stream.first)
        q_only.distributions()  # one row, checked once
        for p_block in p_stream:
            yield PairBlock(p_side(p_block), q_only, p_block.ids)
        return
    if p_stream.single_row and not q_stream.single_row:
        p_only = p_side(p_stream.first)
        p_only.distributions()
        for q_block in q_stream:
            yield PairBlock(p_only, q_side(q_block), q_block.ids or p_only.block.ids)
        return
    p_rows = q_rows = 0
    q_iter = iter(q_stream)
    same_text = _same_text_check(p_table, q_table)
    for p_block in p_stream:
        q_next = next(q_iter, None)
        p_rows += len(p_block)
        if q_next is None:
            raise _row_count_error(p_table, p_rows + _count(p_stream.rest), q_table, q_rows)
        q_block = q_next
        q_rows += len(q_block)
        if len(q_block) != len(p_block):
            raise _row_count_error(p_table, p_rows + _count(p_stream.rest), q_table, q_rows + _count(q_iter))
        if same_text:
            _check_same_tokens(p_table, p_block, q_table, q_block)
        ids.check(p_block, q_block)
        yield PairBlock(p_side(p_block), q_side(q_block), p_block.ids or q_block.ids)
    extra = _count(q_iter)
    if extra:
        raise _row_count_error(p_table, p_rows, q_table, q_rows + extra)


@dataclass
class _IdCheck:
    """Rows paired by position whose sources both have ids: the ids must agree.

    Two pandas frames written with their index pair row by row only if their indexes
    agree; the same ids in another order would otherwise pair wrong rows silently.
    """

    p: Table
    q: Table
    pair_position: bool
    notes: list[str]

    def check(self, p_block: Block, q_block: Block) -> None:
        if p_block.ids is None or q_block.ids is None:
            return
        differ = _id_difference(p_block.ids, q_block.ids)
        if differ is None:
            return
        if self.pair_position:
            _note_paired_in_order(self.notes, self.p.label, self.q.label, p_block.start, differ)
            return
        raise InputError(
            f"{self.p.where(p_block, differ.row)}: ids differ from {self.q.label}: {self.p.label} has "
            f"{differ.mine}, {self.q.label} has {differ.theirs}",
            hint=f"to pair rows by id, {_join_advice(self.p.id_name, self.q.id_name)}; "
            "if they are the same rows in the same order (a shuffled index beside 0…n−1), pair them "
            f"in order with {option('pair')} position",
        )


def _check_id_read_as_labels(p: Table, q: Table) -> None:
    """One source's id column left out as labels in the other, whose rows then have no ids.

    pandas ``to_csv`` of frames indexed by ``doc``: where the index counts up it is the id,
    where the rows are shuffled it reads as a labels column, and pairing by position would
    pair wrong rows with nothing to check them by.
    """
    for mine, other in ((p, q), (q, p)):
        name = mine.id_name
        if name is None or other.id_name is not None:
            continue
        if name in (other.layout.get("labels") or []) or name in (other.layout.get("ignored") or []):
            raise InputError(
                f"{mine.label} has row ids (column {name!r}), but {other.label}'s column {name!r} was "
                "left out as labels, so its rows have none to pair by",
                hint=f"join the rows by it with {option('id_column')} {name}, or pair them in order with "
                f"{option('pair')} position",
            )


@dataclass(frozen=True)
class _IdDifference:
    """The first row (0-based in the block) where two sides' ids differ, and a few ids of each from it."""

    row: int
    mine: str
    theirs: str


def _id_difference(mine: list[str], theirs: list[str]) -> _IdDifference | None:
    row = next((i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b), None)
    if row is None:
        return None

    def shown(ids: list[str]) -> str:
        return _names(ids[row : row + 3], 3) + (", …" if len(ids) > row + 3 else "")

    return _IdDifference(row, shown(mine), shown(theirs))


def _note_paired_in_order(
    notes: list[str], first: str, second: str, start: int, differ: _IdDifference
) -> None:
    """With ``--pair position``: one note, at the first disagreement, that rows were paired in order."""
    paired = spelled(f"({option('pair')} position)")
    if not any(paired in n for n in notes):
        notes.append(
            f"{first} and {second}: ids differ from row {start + differ.row + 1} "
            f"({differ.mine} beside {differ.theirs}); rows paired in order {paired}"
        )


def _join_advice(mine: str | None, theirs: str | None) -> str:
    """How to join two sides by id: ``--id NAME`` when both sides' id columns have that name,
    else ``--id COL``; a several-column id (a pandas MultiIndex, ``doc|pos``) cannot be joined
    on, so the advice is to write both sides in one order."""
    from xent_cli.io.layout_types import ID_SEPARATOR

    if any(name is not None and ID_SEPARATOR in name for name in (mine, theirs)):
        shown = mine if mine is not None and ID_SEPARATOR in mine else theirs
        return f"write both in the same order (their index {shown} sorted: df.sort_index())"
    if mine is not None and mine == theirs:
        return f"join them with --id {mine.removeprefix('column ')}"
    return "join them with --id COL"


def _same_text_check(p: Table, q: Table) -> bool:
    """Two llama.cpp logits files: their scored positions must be of one text."""
    return p.layout.get("format") == "llama" and q.layout.get("format") == "llama"


def _check_same_tokens(p: Table, p_block: Block, q: Table, q_block: Block) -> None:
    if p_block.labels == q_block.labels:
        return
    assert p_block.labels is not None and q_block.labels is not None
    row = next(i for i, (a, b) in enumerate(zip(p_block.labels, q_block.labels, strict=True)) if a != b)
    raise InputError(
        f"{p.where(p_block, row)}: token {p_block.labels[row]}, but {q.label} has token "
        f"{q_block.labels[row]} there: the two files were not saved from the same text",
        hint="run llama-perplexity on the same file with the same --ctx-size for both",
    )


def _count(blocks: Iterator[Block]) -> int:
    return sum(len(b) for b in blocks)


def _row_count_error(p: Table, p_rows: int, q: Table, q_rows: int) -> InputError:
    return InputError(
        f"{p.label} has {p_rows} rows but {q.label} has {q_rows}",
        hint="rows are paired by position; give one row to compare against every row, or "
        f"{option('id_column')} to join by id",
    )


def _joined(
    p_table: Table,
    q_table: Table,
    p_spec: InputSpec,
    q_spec: InputSpec,
    order: list[int] | None,
    tolerance: float,
    size: int,
) -> Iterator[PairBlock]:
    """Pair rows by id; Q is held in memory, P streams."""
    import numpy as np

    if p_table.id_name is None:
        raise UsageError(f"{option('id_column')}: {p_table.label} has no id column to join on")
    q_blocks = list(Stream.open(q_table, size))
    q_ids = [i for b in q_blocks for i in (b.ids or [])]
    if len(q_ids) != sum(len(b) for b in q_blocks):
        raise UsageError(f"{option('id_column')}: {q_table.label} has no id column to join on")
    q_index: dict[str, int] = {}
    for i, row_id in enumerate(q_ids):
        if row_id in q_index:
            raise InputError(
                f"{q_table.label}: id {row_id!r} appears more than once", hint="ids must be unique to join on"
            )
        q_index[row_id] = i
    q_values = np.concatenate([_reordered(b, order) for b in q_blocks])
    q_all = Block(values=q_values, start=0, ids=q_ids)
    seen: set[str] = set()
    for p_block in Stream.open(p_table, size):
        assert p_block.ids is not None
        _check_width(p_table, p_block, q_table, q_all)
        rows = []
        for r, row_id in enumerate(p_block.ids):
            j = q_index.get(row_id)
            if j is None:
                raise InputError(
                    f"{p_table.where(p_block, r)}: id {row_id!r} is not in {q_table.label}",
                    hint=f"with {option('id_column')} every row needs a partner with the same id",
                )
            if row_id in seen:
                raise InputError(
                    f"{p_table.label}: id {row_id!r} appears more than once",
                    hint="ids must be unique to join on",
                )
            seen.add(row_id)
            rows.append(j)
        index = np.asarray(rows, dtype=np.intp)
        q_block = Block(values=q_values[index], start=0, ids=[q_ids[j] for j in rows])
        p = Side(p_table, p_block, p_spec.kind, tolerance, p_block.values)
        q = Side(q_table, q_block, q_spec.kind, tolerance, q_block.values)
        yield PairBlock(p, q, p_block.ids)
    unmatched = [i for i in q_ids if i not in seen]
    if unmatched:
        raise InputError(
            f"{q_table.label}: {len(unmatched)} id(s) are not in {p_table.label}: {_names(unmatched)}",
            hint=f"with {option('id_column')} every row needs a partner with the same id",
        )


def check_same_ids(
    table: Table, block: Block, labels: Labels, seen: int, *, pair_position: bool, joinable: bool = True
) -> None:
    """Predictions and labels (or weights) paired by position: their ids, where both have them, must agree.

    The first disagreement is an error showing a few ids of each side (so that a shuffled
    pandas index beside ``0…n−1`` is plain to see) and naming ``--pair position``, or,
    with ``pair_position``, a note (once). ``joinable``: ``--id`` can join the two by id
    (labels can, ``--weights`` cannot: the error then says to write them in the rows' order).
    """
    assert block.ids is not None and labels.ids is not None
    differ = _id_difference(block.ids, labels.ids[seen : seen + len(block)])
    if differ is None:
        return
    if pair_position:
        _note_paired_in_order(labels.notes, table.label, labels.label, block.start, differ)
        return
    join = (
        _join_advice(table.id_name, labels.layout.get("id"))
        if joinable
        else f"write {labels.label} in the order of {table.label}'s rows"
    )
    hint = (
        f"the same ids in another order: {join}, or pair rows in order with {option('pair')} position"
        if set(labels.ids).issuperset(block.ids)
        else "if they are the same rows in the same order (a shuffled index beside 0…n−1), "
        f"pair them in order with {option('pair')} position"
    )
    raise InputError(
        f"{table.where(block, differ.row)}: ids differ from {labels.label}: {table.label} has "
        f"{differ.mine}, {labels.label} has {differ.theirs}",
        hint=hint,
    )


def two_columns(
    spec: InputSpec, q_kind: Kind, tolerance: float, closer: ExitStack
) -> tuple[Table, PairBlock, dict[str, str]]:
    """One source with exactly two numeric columns: P is the first, Q the second.

    Also returns the sources' labels, ``table.csv[p]`` and ``table.csv[q]``.
    """
    table = open_table(spec, closer)
    if table.n_outcomes != 2:
        raise UsageError(
            f"a second source Q is needed: {spec.label} is not a table with two numeric columns",
            hint="give P and Q as two sources, or one table with exactly two numeric columns",
        )
    values, names, lines = _rows_as_outcomes(list(table.blocks()))
    p_name, q_name = table.outcomes or ["1", "2"]
    # Each outcome is a row of the file: report positions as rows.
    p_table = Table(f"{spec.label} column {p_name!r}", names, None, lambda: iter(()), outcome_lines=lines)
    q_table = Table(f"{spec.label} column {q_name!r}", names, None, lambda: iter(()), outcome_lines=lines)
    p_block = Block(values=values[:, 0][None, :], start=0)
    q_block = Block(values=values[:, 1][None, :], start=0)
    p = Side(p_table, p_block, spec.kind, tolerance, p_block.values)
    q = Side(q_table, q_block, q_kind, tolerance, q_block.values)
    labels = {"p": f"{spec.label}[{p_name}]", "q": f"{spec.label}[{q_name}]"}
    return table, PairBlock(p, q, None, outcomes=names), labels
