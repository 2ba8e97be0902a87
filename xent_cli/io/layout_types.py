"""What a reader saw of a table (:class:`Sample`) and what the layout rule decided (:class:`Layout`).

Apart from the rule itself (:mod:`xent_cli.io.layout`), which re-exports both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.typing import NDArray

# Joins the values of a several-column id (a pandas MultiIndex) into one id: "10|0".
ID_SEPARATOR = "|"


@dataclass
class Sample:
    """What a reader saw of a table, for :func:`decide`.

    ``kinds`` and ``values`` are ``(rows, columns)`` arrays of the sampled data rows;
    for text formats they start *after* ``first_line``, the header candidate, whose
    cells are given as text. ``names`` are column names the format itself knows (JSON
    keys, Arrow schema); ``index`` the columns its metadata names as the index.
    ``cells`` are the sampled rows' raw text (text formats), ``lines`` their lines.
    """

    label: str
    format: str
    kinds: NDArray[Any]
    values: NDArray[Any]
    names: list[str] | None = None
    first_line: list[str] | None = None
    cells: Sequence[Sequence[str]] | None = None
    comment: list[str] | None = None
    index: tuple[int, ...] = ()
    complete: bool = False
    decimal: str = "."
    # Each column's type as the format names it (``struct<a: int64>``), for messages.
    types: list[str] | None = None

    @property
    def width(self) -> int:
        return int(self.kinds.shape[1])


@dataclass
class Layout:
    """What each column of a table is.

    Column numbers are 0-based positions in the file (or in ``names``). ``label`` is
    the column ``--target`` named (``ReadOptions.label_column``); ``labels`` lists every
    column that holds labels (``label`` among them).
    """

    header: bool
    names: list[str] | None
    width: int
    id: int | None
    outcomes: list[int]
    labels: list[int] = field(default_factory=list)
    label: int | None = None
    ignored: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sum_hint: str | None = None
    header_source: str = "none"
    binary: bool = False
    # The outcomes are one column of lists (``outcomes == [list_column]``), each row's list
    # a distribution of ``list_width`` values.
    list_column: int | None = None
    list_width: int | None = None
    # A pandas MultiIndex (several index columns in Parquet/Feather metadata): the id is all of
    # them together, ``id`` the first; each row's id is their values joined by ``|`` ("10|0").
    id_parts: tuple[int, ...] = ()

    @property
    def n_outcomes(self) -> int:
        """Values per row: the list's length for a list column, else the outcome columns."""
        return self.list_width if self.list_width is not None else len(self.outcomes)

    def name(self, column: int) -> str:
        if self.names is not None and self.names[column] != "":
            return self.names[column]
        return f"column {column + 1}"

    @property
    def outcome_names(self) -> list[str] | None:
        if self.list_column is not None:
            return None  # a list's values have no names
        return [self.names[i] for i in self.outcomes] if self.names is not None else None

    @property
    def id_name(self) -> str | None:
        if self.id_parts:
            return ID_SEPARATOR.join(self.name(c) for c in self.id_parts)
        return None if self.id is None else self.name(self.id)

    @property
    def id_columns(self) -> tuple[int, ...]:
        """The columns the id is made of: ``id_parts``, or the id column alone (none without an id)."""
        return self.id_parts or (() if self.id is None else (self.id,))

    def record(self, fmt: str) -> dict[str, Any]:
        """The JSON-ready summary of the decision, for ``sources`` in the JSON output."""
        header: Any = self.header if self.header_source != "comment" else "comment"
        record: dict[str, Any] = {
            "format": fmt,
            "header": header,
            "id": self.id_name,
            "outcomes": self.outcome_names if self.outcome_names is not None else self.n_outcomes,
            "labels": [self.name(i) for i in self.labels],
            "ignored": [self.name(i) for i in self.ignored],
        }
        if self.list_column is not None:
            record["list"] = self.name(self.list_column)
        return record
