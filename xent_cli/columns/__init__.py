"""Per-row columns, at the ground: everything that holds or walks one measure's values per row.

* :mod:`~xent_cli.columns.buffer`: :class:`RowBuffer` (values appended a block at a time,
  held once) and ``consolidate``.
* :mod:`~xent_cli.columns.spill`: past a million values, a column lives in a temporary
  file, read back a chunk of pages at a time.
* :mod:`~xent_cli.columns.statistics`: the exact mean, the summary and the worst rows of
  a column, chunk by chunk.
* :mod:`~xent_cli.columns.histogram`: the one histogram rule (bins, counts, merged parts).

Results, rendering and the pipeline all use these; this package imports none of them
(only :mod:`xent_cli.core` and NumPy).
"""
