"""Helpers of the reader tests: write a file, read it whole through xent_cli.io.readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xent_cli.io.readers import ReadOptions, Table, read
from xent_cli.io.sources import resolve


def load(path: Path, **options: object) -> tuple[Table, np.ndarray, list[str] | None, list[int] | None]:
    table = read(resolve(str(path), stdin_is_terminal=True), ReadOptions(**options))  # type: ignore[arg-type]
    blocks = list(table.blocks())
    values = np.concatenate([b.values for b in blocks])
    ids = None if blocks[0].ids is None else [i for b in blocks for i in (b.ids or [])]
    if blocks[0].lines is not None:
        lines = [int(x) for b in blocks for x in b.lines]
    elif table.line_of is not None:  # text read by pandas: lines found on demand, for messages
        found = [table.line_of(row) for row in range(len(values))]
        lines = None if None in found else [int(x) for x in found if x is not None]
    else:
        lines = None
    return table, values, ids, lines


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path
