"""True labels (``xent loss --target FILE``) and sample columns (``xent info --x/--y``).

Both follow the same layout rule as every table.

A labels file is read whole (labels are held in memory, one string per row). Its
label column is the one named like labels, else the last column that is not the id;
its id is found as for any table: ``Series.to_csv()``'s index (header ``,0``), R's
``write.csv`` row names (``""``), an ``id`` column. A 1-D integer ``.npy``, a JSON list
or ``Series.to_json()`` work too.
"""

from __future__ import annotations

from collections.abc import Iterator

from xent_cli.errors import InputError, UsageError, option
from xent_cli.io import layout as rule
from xent_cli.io.csvparse import WHITESPACE, frames, parser_error
from xent_cli.io.delimited import describe, frame_ids, line_of_row
from xent_cli.io.jsonrows import Frame, frame_of, json_items, label_text, load_json, read_document
from xent_cli.io.layout_types import ID_SEPARATOR
from xent_cli.io.sources import OpenedSource, Source, open_source
from xent_cli.io.table import Labels, ReadOptions, row_where

# Kept for callers that listed the names; the rule's own list is longer.
LABEL_NAMES = tuple(sorted(rule.LABEL_NAMES))


def read_labels(source: Source, options: ReadOptions) -> Labels:
    """Labels from an inline list, a CSV/TSV column, JSON (Lines), Parquet/Feather, or a ``.npy``.

    With ``options.id_column`` (a join by id), ids must be unique.
    """
    if source.inline is not None:
        return Labels(
            source.label, [item.strip() for item in source.inline.split(",")], layout={"format": "inline"}
        )
    label_options = ReadOptions(
        input_format=options.input_format,
        encoding=options.encoding,
        delimiter=options.delimiter,
        no_header=options.no_header,
        header=options.header,
        id_column=options.id_column,
        decimal=options.decimal,
        label_column=None,
        role="labels",
    )
    opened = open_source(source, options.input_format, options.encoding)  # type: ignore[arg-type]
    try:
        if opened.format == "npy":
            from xent_cli.io.npy import npy_values

            labels = Labels(source.label, [label_text(v) for v in npy_values(opened).tolist()])
        elif opened.format in ("npz", "safetensors"):
            labels = Labels(source.label, _archive_labels(opened), layout={"format": opened.format})
        elif opened.format == "llama":
            raise InputError(
                f"{source.label}: holds distributions (llama.cpp saved logits), not labels",
                hint=f"its own tokens are the targets: {option('target')} tokens",
            )
        elif opened.format in ("parquet", "feather"):
            from xent_cli.io.columnar import columnar_labels

            labels = columnar_labels(opened, label_options)
        elif opened.format in ("json", "jsonl"):
            labels = _json_labels(opened, label_options)
        else:
            labels = _delimited_labels(opened, label_options)
    finally:
        opened.close()
    labels.identities = source.identities()
    if not labels.layout:  # a plain list: no columns to decide
        labels.layout = {"format": opened.format, "id": None, "labels": None, "index": labels.ids is not None}
    if not labels.values:
        raise InputError(f"{source.label}: holds no labels")
    if options.id_column is not None and labels.ids is not None:
        seen: dict[str, int] = {}
        for index, row_id in enumerate(labels.ids):
            if row_id in seen:
                raise InputError(
                    f"{labels.where(index)}: id {row_id!r} appears more than once "
                    f"(first at row {seen[row_id] + 1})",
                    hint="ids must be unique to join on",
                )
            seen[row_id] = index
    return labels


def _archive_labels(opened: OpenedSource) -> list[str]:
    """Every value of one array of a ``.npz`` or ``.safetensors`` file, flattened, as labels."""
    from xent_cli.io.arrays import read_npz, read_safetensors

    reader = read_npz if opened.format == "npz" else read_safetensors
    table = reader(opened, ReadOptions())
    try:
        return [label_text(v) for block in table.blocks() for v in block.values.ravel().tolist()]
    finally:
        table.close()


def _delimited_labels(opened: OpenedSource, options: ReadOptions) -> Labels:
    label = opened.label
    shape, _ = describe(opened, options)
    decided = shape.layout
    if decided.label is None:
        raise InputError(f"{label}: has no column of labels")
    values: list[str] = []
    ids: list[str] = []
    text_columns = {i: str for i in (decided.label, *decided.id_columns) if i is not None}
    rows = options.rows_per_block(shape.width)
    for frame in frames(opened, shape, options, rows=rows, text_columns=text_columns):
        if frame.shape[1] != shape.width:
            raise InputError(
                f"{label}: row {len(values) + 1}: has {frame.shape[1]} fields, expected {shape.width}",
                hint="every row needs the same number of columns",
            )
        values.extend(frame[decided.label].fillna("").str.strip().tolist())
        ids.extend(frame_ids(frame, decided.id_columns, strip=True) or [])
    if not values:
        raise InputError(f"{label}: has a header but no labels")
    return Labels(
        label,
        values,
        ids if decided.id is not None else None,
        None,
        notes=list(decided.notes),
        line_of=lambda row: line_of_row(opened, shape, row),
        layout=decided.record(opened.format),
    )


def _json_labels(opened: OpenedSource, options: ReadOptions) -> Labels:
    label = opened.label
    if opened.format == "json":
        text = read_document(opened)
        if not text.strip():
            raise InputError(f"{label}: is empty", hint="expected a list of labels")
        document = load_json(text, label)
        if (
            isinstance(document, dict)
            and document
            and all(not isinstance(v, (list, dict)) for v in document.values())
        ):
            # Series.to_json(): the index is the id.
            return Labels(label, [label_text(v) for v in document.values()], list(document))
        if isinstance(document, list) and all(not isinstance(v, (list, dict)) for v in document):
            return Labels(label, [label_text(v) for v in document])
        frame = frame_of(document, label, "probs")
        numbers = None
    else:
        items, numbers = json_items(opened)
        if items and all(not isinstance(v, (list, dict)) for v in items):
            return Labels(label, [label_text(v) for v in items], None, numbers)
        frame = Frame(items, list(items[0]) if items and isinstance(items[0], dict) else None, objects=True)
    if not frame.objects and frame.index is not None and frame.names is not None and len(frame.names) == 1:
        values = [label_text(row[0]) for row in frame.rows]
        return Labels(label, values, [label_text(i) for i in frame.index], numbers)
    if not frame.objects:
        for number, item in enumerate(frame.rows, start=1):
            if isinstance(item, (list, dict)):
                raise InputError(
                    f"{row_where(label, number - 1, numbers)}: expected a label (a string or an integer)"
                )
    from xent_cli.io.jsonrows import _sample_of

    sample, names = _sample_of(frame, label, opened.format, complete=True)
    decided = rule.decide(sample, options)
    if decided.label is None or names is None:
        raise InputError(f"{label}: has no labels")
    offset = 1 if frame.index is not None else 0
    label_key = names[decided.label]
    # The id's keys: one, or a MultiIndex's levels (``orient="table"``'s primaryKey), joined.
    id_keys = (
        [names[c] for c in decided.id_columns] if decided.id is not None and decided.id >= offset else []
    )
    values, ids = [], []
    for index, item in enumerate(frame.rows):
        if not isinstance(item, dict):
            raise InputError(f"{row_where(label, index, numbers)}: expected an object")
        if label_key not in item:
            raise InputError(f"{row_where(label, index, numbers)}: has no key {label_key!r}")
        values.append(label_text(item[label_key]))
        if id_keys:
            ids.append(ID_SEPARATOR.join(label_text(item.get(key)) for key in id_keys))
        elif frame.index is not None:
            ids.append(label_text(frame.index[index]))
    has_ids = bool(id_keys) or frame.index is not None
    return Labels(
        label,
        values,
        ids if has_ids else None,
        numbers,
        notes=list(decided.notes),
        layout=decided.record(opened.format),
    )


# --- samples: label columns (for `xent info --x/--y` and `xent entropy --column`) ------------


def read_sample_columns(
    source: Source, options: ReadOptions, names: list[str], flags: list[str] | None = None
) -> Iterator[list[list[str]]]:
    """Blocks of label columns, each block a list of columns of strings.

    ``flags`` are the options that named the columns, for messages (``--x``).

    CSV/TSV columns by header name (or 1-based number with --no-header); JSON
    (Lines) objects by key; Parquet/Feather columns by name. Missing values are an
    error naming the row.
    """
    if source.inline is not None:
        raise UsageError(f"{source.label}: samples come from a table, not an inline list")
    opened = open_source(source, options.input_format, options.encoding)  # type: ignore[arg-type]
    flags = flags or [option("column")] * len(names)
    try:
        if opened.format in ("csv", "tsv"):
            return _csv_sample_columns(opened, options, names, flags)
        if opened.format in ("json", "jsonl"):
            return _json_sample_columns(opened, names)
        if opened.format in ("parquet", "feather"):
            from xent_cli.io.columnar import columnar_samples

            return columnar_samples(opened, options, names, flags)
    except BaseException:
        opened.close()
        raise
    opened.close()
    raise InputError(f"{source.label}: samples need a table with named columns (CSV, TSV, JSON, Parquet)")


def _csv_sample_columns(
    opened: OpenedSource, options: ReadOptions, names: list[str], flags: list[str]
) -> Iterator[list[list[str]]]:
    import pandas as pd

    from xent_cli.io.delimited import _sample

    label = opened.label
    parsed = _sample(opened, options)
    header = None if options.header_choice is False else [h.strip() for h in parsed.first]
    width = len(parsed.first)
    indices = [rule._find(name, header, width, label, flag) for name, flag in zip(names, flags, strict=True)]
    skip = parsed.skipped_lines + (1 if header is not None else 0)
    sep = r"\s+" if parsed.delimiter == WHITESPACE else parsed.delimiter

    def blocks() -> Iterator[list[list[str]]]:
        try:
            reader = pd.read_csv(
                opened.raw_stream(),
                sep=sep,
                header=None,
                skiprows=skip,
                dtype=str,
                keep_default_na=False,
                encoding="utf-8-sig",
                chunksize=options.block_rows,
                engine="c",
            )
            start = 0
            for chunk in reader:
                columns = []
                for name, index in zip(names, indices, strict=True):
                    if index >= chunk.shape[1]:
                        raise InputError(f"{label}: has no column {name!r}")
                    values = chunk[index].str.strip().tolist()
                    if "" in values:
                        row = values.index("")
                        line = int(chunk.index[row]) + skip + 1
                        raise InputError(
                            f"{label}: row {start + row + 1} (line {line}): {name!r} is empty",
                            hint="every sample needs a value in each column",
                        )
                    columns.append(values)
                start += chunk.shape[0]
                yield columns
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise parser_error(label, exc, skip) from None
        except pd.errors.EmptyDataError:
            raise InputError(f"{label}: has no data rows") from None
        finally:
            opened.close()

    return blocks()


def _json_sample_columns(opened: OpenedSource, names: list[str]) -> Iterator[list[list[str]]]:
    label = opened.label
    items, numbers = json_items(opened)
    wheres = [row_where(label, i, numbers) for i in range(len(items))]
    columns: list[list[str]] = [[] for _ in names]
    for item, where in zip(items, wheres, strict=True):
        if not isinstance(item, dict):
            raise InputError(f"{where}: expected an object with keys {', '.join(map(repr, names))}")
        for column, name in zip(columns, names, strict=True):
            if name not in item or item[name] is None:
                raise InputError(f"{where}: has no {name!r}", hint=f"keys are: {', '.join(item)}")
            column.append(label_text(item[name]))
    return iter([columns])
