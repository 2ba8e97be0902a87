"""What the task families share: layouts for the JSON, when to warm the kernels up, per-outcome sums."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from xent_cli.io.readers import Table
from xent_cli.pipeline.align import (
    InputSpec,
)

if TYPE_CHECKING:
    pass


def _layout_of(table: Table) -> dict[str, object]:
    layout = getattr(table, "layout", None)
    return dict(layout) if isinstance(layout, dict) else {}


# Inputs from this size on (bytes of one file) start loading the compiled kernels while
# they are opened and read: a block that big will use them (see kernels.warm_up).
WARM_UP_BYTES = 16 << 20


def _big(*specs: InputSpec | None) -> bool:
    """Whether one of the sources is a file of at least ``WARM_UP_BYTES``."""
    import os

    for spec in specs:
        path = None if spec is None else spec.source.path
        if path is None:
            continue
        try:
            if os.stat(path).st_size >= WARM_UP_BYTES:
                return True
        except OSError:
            continue
    return False


def _expected_elements(table: Table) -> int | None:
    """Values the table is expected to hold (rows x outcomes), or None when unknown."""
    rows, width = table.expected_rows, table.n_outcomes
    return None if rows is None or not width else rows * width


# Values per block for the fast kernels: about one parsed text block (2 MB of CSV is about
# 260,000 values), so that computing one block overlaps parsing the next ones, and the
# blocks stay in the cache; but at least 128 rows, so that a block of wide rows (logits)
# still amortizes the per-block work. Blocks of 4 million values made the parse threads
# wait for each block's computation (KL of two 1M-row CSVs: 1.3 s against 1.1 s).
KERNEL_BLOCK_ELEMENTS = 1 << 18


KERNEL_MIN_BLOCK_ROWS = 128


def _for_kernels(spec: InputSpec) -> InputSpec:
    return replace(
        spec,
        options=replace(
            spec.options, block_elements=KERNEL_BLOCK_ELEMENTS, min_block_rows=KERNEL_MIN_BLOCK_ROWS
        ),
    )


def _natural(text: str) -> tuple[int, float, str]:
    """Sort numbers numerically, then text."""
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)
