"""How a cell is written, for the layout rule: its kind, missing-value markers, id and label names.

Readers classify what they sampled with :func:`cell_kind`, :func:`classify` (text
cells) and :func:`value_kind` (parsed JSON values); :mod:`xent_cli.io.layout` decides
from those kinds (and re-exports these names, which the readers use through it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.typing import NDArray

# How a cell was written. LIST: a list of numbers (a Parquet/Arrow list column, a JSON array
# in a record), whose value in a sample is its length. NESTED: anything else that is neither a
# number nor a label (a struct, a map, a list of text, a JSON object): never an outcome, an id
# or a label.
EMPTY, INT, DEC, TEXT, LIST, NESTED = 0, 1, 2, 3, 4, 5

# Rows sampled to decide a layout, and the cell budget that limits them for wide rows
# (at least two data rows are always sampled when the source has them).
SAMPLE_ROWS = 2000
SAMPLE_CELLS = 1 << 18

_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_DECIMAL = re.compile(
    r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.ASCII | re.IGNORECASE
)
_NUMBER_CHARS = frozenset("0123456789.eE+-")
# What pandas reads as missing (its default na_values): empty for the layout.
MISSING_TEXTS = frozenset(
    [
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "None",
        "n/a",
        "null",
    ]
)

ID_NAMES = frozenset(
    ["id", "ids", "index", "idx", "key", "row", "rowid", "row_id", "rownames", "row_names", "uid", "uuid"]
)
LABEL_NAMES = frozenset(
    [
        "label",
        "labels",
        "target",
        "targets",
        "y",
        "y_true",
        "ytrue",
        "y_test",
        "true",
        "truth",
        "ground_truth",
        "groundtruth",
        "gt",
        "actual",
        "gold",
        "class",
        "true_class",
        "target_class",
        "answer",
    ]
)
UNNAMED = frozenset(["", "Unnamed: 0"])


def is_id_name(name: str | None) -> bool:
    if name is None:
        return False
    lower = name.strip().lower()
    return lower in ID_NAMES or lower.endswith(("_id", " id"))


def is_label_name(name: str | None) -> bool:
    if name is None:
        return False
    lower = name.strip().lower()
    return (
        lower in LABEL_NAMES or lower.endswith(("_label", "_labels", "_target")) or lower.startswith("true_")
    )


def cell_kind(text: str, decimal: str = ".") -> int:
    """How a text cell was written: EMPTY (or a missing-value marker), INT, DEC or TEXT."""
    cell = text.strip()
    if not cell or cell in MISSING_TEXTS:
        return EMPTY
    if _INTEGER.fullmatch(cell):
        return INT
    if decimal != ".":
        if "." in cell:
            return TEXT
        cell = cell.replace(decimal, ".")
    return DEC if _DECIMAL.fullmatch(cell) else TEXT


def classify(
    rows: Sequence[Sequence[str]], width: int, decimal: str = "."
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Kinds and values of text cells: two ``(rows, width)`` arrays (values NaN where not a number).

    Rows shorter than ``width`` are padded with EMPTY; longer ones are cut.
    """
    import numpy as np

    kinds = np.zeros((len(rows), width), dtype=np.int8)
    values = np.full((len(rows), width), np.nan)
    plain: list[int] = []
    if decimal == ".":
        # Fast path for rows of plain numbers (most rows of most files), converted together.
        plain = [
            r for r, row in enumerate(rows) if len(row) == width and _NUMBER_CHARS.issuperset("".join(row))
        ]
        try:
            numbers = np.array([rows[r] for r in plain], dtype=np.float64).reshape(len(plain), width)
        except ValueError:  # a cell such as "1-2" or "e": row by row, below
            plain = []
        else:
            values[plain] = numbers
            kinds[plain] = DEC
            # Whole numbers may be written as integers ("3") or as decimals ("3.0").
            for i, c in zip(*np.nonzero(numbers == np.floor(numbers)), strict=True):
                kinds[plain[i], c] = cell_kind(rows[plain[i]][c])
    done = set(plain)
    for r, row in enumerate(rows):
        if r in done:
            continue
        kind_row = kinds[r]
        value_row = values[r]
        for c, cell in enumerate(row[:width]):
            kind = cell_kind(cell, decimal)
            kind_row[c] = kind
            if kind in (INT, DEC):
                value_row[c] = float(cell.strip().replace(decimal, ".") if decimal != "." else cell)
    return kinds, values


def value_kind(value: Any) -> tuple[int, float]:
    """Kind and value of a parsed JSON value: ints are INT, floats DEC, strings TEXT, None EMPTY."""
    if value is None:
        return EMPTY, math.nan
    if isinstance(value, bool):
        # Not a number, but where numbers are: the column stays an outcome column and
        # the reader reports the value.
        return DEC, math.nan
    if isinstance(value, int):
        try:
            return INT, float(value)
        except OverflowError:
            return DEC, math.inf
    if isinstance(value, float):
        return DEC, value
    if isinstance(value, str):
        # A number written as a string is a number for the layout (the reader then
        # says it is quoted); "inf" and "nan" are how JSON writers spell those.
        kind = cell_kind(value)
        if kind in (INT, DEC):
            return DEC, float(value.strip())
        return (EMPTY if kind == EMPTY else TEXT), math.nan
    if isinstance(value, (int, float)):  # pragma: no cover - other numeric types
        return DEC, float(value)
    return TEXT, math.nan


def integers_of(cells: Sequence[str]) -> list[int] | None:
    """The cells as integers, when every one is written as an integer."""
    values = []
    for cell in cells:
        text = cell.strip()
        if not _INTEGER.fullmatch(text):
            return None
        values.append(int(text))
    return values


class ColumnKinds:
    """Per-column statistics of the data rows, computed once (as Python lists, for speed)."""

    def __init__(self, kinds: NDArray[Any]) -> None:
        import numpy as np

        n_int = np.count_nonzero(kinds == INT, axis=0)
        n_dec = np.count_nonzero(kinds == DEC, axis=0)
        n_text = np.count_nonzero(kinds == TEXT, axis=0)
        n_list = np.count_nonzero(kinds == LIST, axis=0)
        n_nested = np.count_nonzero(kinds == NESTED, axis=0)
        numbers = n_int + n_dec
        numeric = (numbers > 0) & (numbers >= n_text)
        self.n_rows = int(kinds.shape[0])
        self._numeric: list[bool] = numeric.tolist()
        self._textual: list[bool] = (n_text > numbers).tolist()
        self._integer: list[bool] = (numeric & (n_dec == 0)).tolist()
        self._decimal: list[bool] = (numeric & (n_dec > 0)).tolist()
        self._empty: list[bool] = ((numbers + n_text + n_list + n_nested) == 0).tolist()
        # Lists of numbers in most rows (a stray null or scalar is reported by the reader).
        self._listed: list[bool] = ((n_list > 0) & (n_list >= numbers + n_text + n_nested)).tolist()
        self._nested: list[bool] = ((n_nested > 0) & ~np.asarray(self._listed)).tolist()

    @classmethod
    def of(cls, kinds: NDArray[Any]) -> ColumnKinds:
        return cls(kinds)

    def numeric(self, c: int) -> bool:
        return self._numeric[c]

    def textual(self, c: int) -> bool:
        return self._textual[c]

    def integer(self, c: int) -> bool:
        return self._integer[c]

    def decimal(self, c: int) -> bool:
        return self._decimal[c]

    def empty(self, c: int) -> bool:
        return self._empty[c]

    def listed(self, c: int) -> bool:
        return self._listed[c]

    def nested(self, c: int) -> bool:
        return self._nested[c]
