"""True labels beside predictions: where they come from and how they map to class indices."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from xent_cli.errors import InputError, UsageError
from xent_cli.io.readers import Block, Labels, Table
from xent_cli.io.sources import Source

if TYPE_CHECKING:
    pass


# A boolean column as pandas, pyarrow, polars and JSON write it, as scikit-learn's log_loss takes it.
_BOOLEAN = {"true": 1, "false": 0}


class TargetMapper:
    """Label text to class indices: an outcome name, or a 0-based index (binary: 0/1 or True/False)."""

    def __init__(self, outcomes: list[str] | None, n_classes: int, binary: bool) -> None:
        self.index = {name: i for i, name in enumerate(outcomes or [])}
        self.n_classes = 2 if binary else n_classes
        self.outcomes = outcomes
        self.binary = binary
        # Set when a number was taken as a column index though the columns have other names
        # (iris's "virginica, setosa, versicolor" beside targets 0, 1, 2): scikit-learn does the
        # same, but it is an inference that decides the number, so it is noted once.
        self.index_note: str | None = None

    def __call__(self, text: str, where_of: Callable[[], str]) -> int:
        """The class index of ``text``; ``where_of()`` names the row for an error (found only then:
        naming a line may read the file again)."""
        if not self.binary and text in self.index:
            return self.index[text]
        if self.binary and text.lower() in _BOOLEAN:
            return _BOOLEAN[text.lower()]
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if number.is_integer() and 0 <= number < self.n_classes:
            if (
                self.index_note is None
                and not self.binary
                and self.outcomes
                and not self.outcomes[0].isdigit()
            ):
                shown = ", ".join(f"{i} = {name}" for i, name in enumerate(self.outcomes[:4]))
                more = ", …" if len(self.outcomes) > 4 else ""
                self.index_note = (
                    f"targets are numbers: taken as 0-based column indices ({shown}{more}); "
                    "give the class names as targets to match columns by name"
                )
            return int(number)
        where = where_of()
        if self.binary:
            raise InputError(
                f"{where}: target {text!r} is not 0 or 1",
                hint="binary targets are 0 or 1 (or True and False)",
            )
        if number == number:  # a number, but out of range
            raise InputError(
                f"{where}: target {text} is out of range",
                hint=f"class indices run from 0 to {self.n_classes - 1}",
            )
        classes = ", ".join(self.outcomes[:10]) if self.outcomes else "none named"
        raise InputError(
            f"{where}: target {text!r} is not a class",
            hint=f"classes: {classes}; or give 0-based class indices",
        )


def _same_label(text: str, ignore: str) -> bool:
    if text == ignore:
        return True
    try:
        return float(text) == float(ignore)
    except ValueError:
        return False


def target_source(target: str, pred: Source) -> Source | None:
    """The labels source ``--target`` names, or None when it must be a column of PRED."""
    from xent_cli.io.sources import archive_member, path_kind, resolve

    if target == "-" or path_kind(target) is not None or archive_member(target) is not None:
        return resolve(target, stdin_is_terminal=False)
    if "," in target or pred.inline is not None:
        return Source(label=f"--target {target}", inline=target)
    return None


def _block_targets(
    table: Table,
    block: Block,
    labels: Labels | None,
    seen: int,
    label_by_id: dict[str, str] | None,
    joined_ids: set[str],
    *,
    pair_position: bool = False,
) -> tuple[list[str], Callable[[int], str]]:
    """The target text of each row of a block, and how to name a row in a message.

    Labels from a source of their own pair by position; when both sides have ids, they
    must agree, unless ``pair_position`` (``--pair position``), which notes the first
    disagreement instead.
    """
    if labels is None:
        assert block.labels is not None
        return block.labels, lambda i: table.where(block, i)
    if label_by_id is not None:
        if block.ids is None:
            raise UsageError(f"--id: {table.label} has no id column to join on")
        texts = []
        for i, row_id in enumerate(block.ids):
            if row_id not in label_by_id:
                raise InputError(f"{table.where(block, i)}: id {row_id!r} has no label in {labels.label}")
            if row_id in joined_ids:
                raise InputError(
                    f"{table.label}: id {row_id!r} appears more than once",
                    hint="ids must be unique to join on",
                )
            joined_ids.add(row_id)
            texts.append(label_by_id[row_id])
        return texts, lambda i: table.where(block, i)
    texts = labels.values[seen : seen + len(block)]
    if len(texts) < len(block):
        raise InputError(
            f"{table.label} has more rows than {labels.label} has labels ({len(labels.values)})",
            hint="labels pair with predictions by position (or by --id)",
        )
    if labels.ids is not None and block.ids is not None:
        from xent_cli.pipeline.align import check_same_ids

        check_same_ids(table, block, labels, seen, pair_position=pair_position)
    return texts, lambda i: labels.where(seen + i)
