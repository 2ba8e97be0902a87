"""llama.cpp's saved logits: the file ``llama-perplexity --kl-divergence-base FILE`` writes.

The layout (checked against ``tools/perplexity/perplexity.cpp``, which writes it while
computing perplexity, and reads it back for ``--kl-divergence``), all little-endian:

- the 8 bytes ``_logits_``; int32 ``n_ctx``, int32 ``n_vocab``, int32 ``n_chunk``;
- the ``n_chunk * n_ctx`` int32 tokens of the text;
- for each chunk, the positions ``j = n_ctx/2 … n_ctx-2`` it scores (the first half of each
  context only gives the model something to read: ``n_ctx - 1 - n_ctx/2`` positions), each
  ``nv = 2*((n_vocab+1)/2) + 4`` uint16 words: the float32 ``scale`` and float32 ``min`` (four
  words), then ``n_vocab`` quantized log-probabilities ``q`` (padded to an even count), with
  ``log p = scale*q + min``. Logits more than 16 below the row's maximum are stored as 0,
  i.e. at ``min``.

Position ``j`` of chunk ``c`` predicts the token at ``c*n_ctx + j + 1``: that token is the
row's target (``compare`` and ``loss`` use it), and its index in the text is the row's id.

A row's values are the stored distribution, renormalized exactly (quantization leaves
the stored log-probabilities summing to 1 only within about 1e-4): probabilities for
``--as probs``/``weights``, ``log p`` minus its log-sum-exp for ``logprobs``, ``log p``
itself for ``logits``. Rows are read a block at a time, so memory stays bounded.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import IO, Any

from xent_cli.errors import InputError
from xent_cli.io.npy import _read_into, _skip
from xent_cli.io.sources import LLAMA_MAGIC, OpenedSource, Source, read_once
from xent_cli.io.table import Block, ReadOptions, Table

# The labels column name under which a llama.cpp file offers its tokens (``--target tokens``).
TOKENS = "tokens"
_HEADER = 20


class LlamaLayout:
    """Sizes of a llama.cpp saved-logits file, from its header."""

    def __init__(self, n_ctx: int, n_vocab: int, n_chunk: int) -> None:
        self.n_ctx = n_ctx
        self.n_vocab = n_vocab
        self.n_chunk = n_chunk
        self.first = n_ctx // 2
        self.per_chunk = n_ctx - 1 - self.first
        self.words = 2 * ((n_vocab + 1) // 2) + 4
        self.rows = n_chunk * self.per_chunk
        self.data_offset = _HEADER + 4 * n_chunk * n_ctx
        self.size = self.data_offset + 2 * self.words * self.rows

    def target_index(self, row: int) -> int:
        """The index in the text of the token row ``row`` predicts."""
        chunk, j = divmod(row, self.per_chunk)
        return chunk * self.n_ctx + self.first + j + 1


def is_llama_logits(source: Source) -> bool:
    """Whether a local file starts with llama.cpp's ``_logits_`` (for choosing targets early).

    Only a file that can be opened again is looked at: a pipe given as a path (a FIFO,
    ``<(…)``) would lose the bytes read here, so, like stdin, it is not (its tokens are
    then the targets only with ``--target tokens``).
    """
    if source.path is None or read_once(source):
        return False
    try:
        with open(source.path, "rb") as file:
            return file.read(len(LLAMA_MAGIC)) == LLAMA_MAGIC
    except (OSError, ValueError):
        return False


def read_header(opened: OpenedSource) -> LlamaLayout:
    label = opened.label
    head = opened.peek(_HEADER)
    if not head.startswith(LLAMA_MAGIC):
        raise InputError(f"{label}: is not a llama.cpp logits file: it does not start with '_logits_'")
    if len(head) < _HEADER:
        raise InputError(f"{label}: is not a llama.cpp logits file: it ends inside its header")
    n_ctx, n_vocab, n_chunk = struct.unpack("<3i", head[8:_HEADER])
    if n_ctx < 2 or n_vocab < 1 or n_chunk < 1 or n_ctx > (1 << 24) or n_chunk > (1 << 24):
        raise InputError(
            f"{label}: is not a valid llama.cpp logits file: "
            f"n_ctx {n_ctx}, n_vocab {n_vocab}, n_chunk {n_chunk}"
        )
    layout = LlamaLayout(n_ctx, n_vocab, n_chunk)
    if layout.per_chunk < 1:
        raise InputError(f"{label}: scores no positions (n_ctx {n_ctx})")
    size = opened.size()
    if size is not None and size != layout.size:
        raise InputError(
            f"{label}: its size does not match its header: n_ctx {n_ctx}, n_vocab {n_vocab} and "
            f"n_chunk {n_chunk} make {layout.size} bytes, the file has {size}",
            hint="the file may be truncated, or still being written",
        )
    return layout


def read_tokens(opened: OpenedSource, layout: LlamaLayout) -> Any:
    """The text's tokens (held in memory: 4 bytes a token, a small part of the file)."""
    import numpy as np

    head = opened.peek(layout.data_offset)
    if len(head) < layout.data_offset:
        raise InputError(f"{opened.label}: ends early, inside its tokens", hint="the file may be truncated")
    return np.frombuffer(head, dtype="<i4", count=layout.n_chunk * layout.n_ctx, offset=_HEADER)


def read_llama(opened: OpenedSource, options: ReadOptions) -> Table:
    import numpy as np

    label = opened.label
    layout = read_header(opened)
    tokens = read_tokens(opened, layout)
    targets = tokens[[layout.target_index(r) for r in range(layout.rows)]] if layout.rows else tokens[:0]
    bad = np.flatnonzero((targets < 0) | (targets >= layout.n_vocab))
    if bad.size:
        row = int(bad[0])
        raise InputError(
            f"{label}: row {row + 1}: token {int(targets[row])} is outside the vocabulary of {layout.n_vocab}"
        )
    step = options.rows_per_block(layout.n_vocab)
    kind = options.kind
    with_targets = options.label_column == TOKENS

    def blocks() -> Iterator[Block]:
        stream: IO[bytes] = opened.raw_stream()
        try:
            _skip(stream, layout.data_offset, label)
            for start in range(0, layout.rows, step):
                count = min(step, layout.rows - start)
                words = np.empty((count, layout.words), dtype="<u2")
                got = _read_into(stream, memoryview(words).cast("B"))  # type: ignore[arg-type]
                if got < words.nbytes:
                    raise InputError(
                        f"{label}: ends early, at row {start + got // (2 * layout.words) + 1} "
                        f"of {layout.rows}",
                        hint="the file may be truncated",
                    )
                values = dequantize(words, layout.n_vocab, kind)
                rows = range(start, start + count)
                yield Block(
                    values=values,
                    start=start,
                    ids=[str(layout.target_index(r)) for r in rows],
                    labels=[str(int(t)) for t in targets[start : start + count]],
                )
        finally:
            stream.close()

    return Table(
        label=label,
        outcomes=None,
        id_name="token_index",
        make_blocks=blocks,
        width=layout.n_vocab,
        has_labels=with_targets,
        notes=[
            f"{label}: llama.cpp saved log-probabilities: {layout.rows} positions "
            f"({layout.n_chunk} chunks of {layout.n_ctx}, the last {layout.per_chunk} of each scored), "
            f"vocabulary {layout.n_vocab}"
        ],
        expected_rows=layout.rows,
        layout={
            "format": "llama",
            "header": False,
            "id": "token_index",
            "outcomes": layout.n_vocab,
            "labels": [TOKENS],
            "ignored": [],
            "n_ctx": layout.n_ctx,
            "n_chunk": layout.n_chunk,
        },
    )


def dequantize(words: Any, n_vocab: int, kind: str) -> Any:
    """Rows of uint16 words as the stored distributions, in the representation ``kind`` reads.

    ``log p = scale*q + min`` (scale and min: the float32s in each row's first four
    words); then renormalized: ``log p - logsumexp(log p)``.
    """
    import numpy as np

    header = np.ascontiguousarray(words[:, :4]).view("<f4").astype(np.float64)
    scale, low = header[:, :1], header[:, 1:2]
    log_p = words[:, 4 : 4 + n_vocab] * scale + low
    if kind == "logits":
        return log_p
    top = np.max(log_p, axis=1, keepdims=True)
    shifted = log_p - top
    log_total = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    log_p = shifted - log_total
    return log_p if kind == "logprobs" else np.exp(log_p)
