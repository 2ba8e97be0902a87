"""Readers: turn a source into a :class:`Table` that yields blocks of rows.

The entry points the rest of xent calls. Each format has its own module
(:mod:`~xent_cli.io.delimited`, :mod:`~xent_cli.io.jsonrows`,
:mod:`~xent_cli.io.columnar`, :mod:`~xent_cli.io.npy`, :mod:`~xent_cli.io.labels`), and
every one of them asks :mod:`xent_cli.io.layout` what each column is.

A table knows its outcome names (if any), its row ids (if any) and how to say
where a row came from ("row 17 (line 18)"). Its rows arrive in blocks, so a
file larger than memory can be processed block by block.
"""

from __future__ import annotations

from collections.abc import Callable

from xent_cli.errors import InputError, UsageError
from xent_cli.io.sources import ARCHIVE_FORMATS, OpenedSource, Source, open_source
from xent_cli.io.table import DEFAULT_BLOCK_ROWS, Block, Labels, ReadOptions, Table

# The readers of text formats (pandas and the layout rule behind them) are imported on
# first use: inline numbers (``xent entropy 0.5,0.5``) need none of them.
__all__ = [
    "DEFAULT_BLOCK_ROWS",
    "Block",
    "Labels",
    "ReadOptions",
    "Table",
    "read",
]


def _reader(fmt: str) -> Callable[[OpenedSource, ReadOptions], Table]:
    if fmt in ("csv", "tsv"):
        from xent_cli.io.delimited import read_delimited

        return read_delimited
    if fmt == "json":
        from xent_cli.io.jsonrows import read_json

        return read_json
    if fmt == "jsonl":
        from xent_cli.io.jsonrows import read_jsonl

        return read_jsonl
    if fmt == "npy":
        from xent_cli.io.npy import read_npy

        return read_npy
    if fmt == "npz":
        from xent_cli.io.arrays import read_npz

        return read_npz
    if fmt == "safetensors":
        from xent_cli.io.arrays import read_safetensors

        return read_safetensors
    if fmt == "llama":
        from xent_cli.io.llama import read_llama

        return read_llama
    from xent_cli.io.columnar import read_columnar

    return read_columnar


def read(source: Source, options: ReadOptions) -> Table:
    """Open ``source`` and return its table; validation of values comes later."""
    if source.inline is not None:
        return _read_inline(source, options)
    if source.shards is not None:
        raise UsageError(
            f"{source.label}: is {len(source.shards)} shards; this reads one file",
            hint="shards work with entropy, cross-entropy, kl, js, compare and loss",
        )
    opened = open_source(source, options.input_format, options.encoding)  # type: ignore[arg-type]
    try:
        if source.member is not None and opened.format not in ARCHIVE_FORMATS:
            raise UsageError(
                f"{source.label}: only .npz and .safetensors files hold named arrays",
                hint="give the file's path alone",
            )
        table = _reader(opened.format)(opened, options)
    except BaseException:
        opened.close()
        raise
    inner_close = table.close

    def close() -> None:
        inner_close()
        opened.close()

    table.close = close
    return table


def _read_inline(source: Source, options: ReadOptions) -> Table:
    import numpy as np

    from xent_cli.io.layout import DEC, INT, cell_kind

    assert source.inline is not None
    text = source.inline.strip()
    decimal = options.decimal
    if text.startswith("[") and text.endswith("]"):  # a JSON list: [0.5, 0.5], whatever --decimal says
        text, decimal = text[1:-1], "."
    separator = ";" if decimal == "," or ";" in text else ","
    items = [item.strip() for item in text.split(separator)]
    names: list[str] | None = None
    if "=" in text:
        pairs = [item.split("=", 1) for item in items]
        names = [name.strip() for name, _ in pairs]
        items = [value for _, value in pairs]
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise InputError(
                    f"{source.label}: outcome {name!r} appears twice", hint="outcome names must be unique"
                )
            seen.add(name)
    values = []
    for item in items:
        if cell_kind(item, decimal) not in (INT, DEC):  # pragma: no cover - the pattern admits numbers
            raise InputError(f"{source.label}: {item!r} is not a number")
        values.append(float(item.strip().replace(decimal, ".")))
    array = np.array([values], dtype=np.float64)
    return Table(
        label=source.label,
        outcomes=names,
        id_name=None,
        make_blocks=lambda: iter([Block(values=array, start=0)]),
        width=len(values),
        layout={
            "format": "inline",
            "header": names is not None,
            "id": None,
            "outcomes": names if names is not None else len(values),
            "labels": [],
            "ignored": [],
        },
    )
