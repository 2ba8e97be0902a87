"""A writer of llama.cpp's saved-logits layout (``llama-perplexity --kl-divergence-base``), for tests.

Written from the layout as ``tools/perplexity/perplexity.cpp`` lays it out: ``_logits_``,
int32 n_ctx, n_vocab, n_chunk, the n_chunk*n_ctx int32 tokens, then for each chunk the
positions n_ctx/2 … n_ctx-2, each ``2*((n_vocab+1)/2) + 4`` uint16 words: float32 scale,
float32 min, the quantized log-probabilities (logits more than 16 below the maximum at 0),
zero padding. The arithmetic is float32, as there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def quantize(logits: np.ndarray) -> np.ndarray:
    """One position's logits as its uint16 words (scale, min, q…, padding)."""
    n_vocab = logits.shape[0]
    logits = logits.astype(np.float32)
    top = np.float32(logits.max())
    low = np.float32(max(np.float32(logits.min()), top - np.float32(16)))
    log_sum_exp = np.float32(np.log(np.sum(np.exp((logits - top).astype(np.float32)), dtype=np.float64)))
    min_log_prob = np.float32(low - top - log_sum_exp)
    scale = np.float32((top - low) / np.float32(65535))
    words = np.zeros(2 * ((n_vocab + 1) // 2) + 4, dtype="<u2")
    words[:4] = np.array([scale, min_log_prob], dtype="<f4").view("<u2")
    if scale:
        inverse = np.float32(1) / scale
        q = np.rint(inverse * (logits - low)).astype(np.int64)
        words[4 : 4 + n_vocab] = np.where(logits > low, q, 0)
    return words


def scored(n_ctx: int) -> range:
    return range(n_ctx // 2, n_ctx - 1)


def write_llama_logits(path: Path, tokens: np.ndarray, logits: np.ndarray, n_ctx: int) -> None:
    """``tokens``: n_chunk*n_ctx ints; ``logits``: (n_chunk*n_ctx, n_vocab), one row per position."""
    n_vocab = logits.shape[1]
    n_chunk = len(tokens) // n_ctx
    with open(path, "wb") as out:
        out.write(b"_logits_")
        out.write(np.array([n_ctx, n_vocab, n_chunk], dtype="<i4").tobytes())
        out.write(np.asarray(tokens[: n_chunk * n_ctx], dtype="<i4").tobytes())
        for chunk in range(n_chunk):
            for j in scored(n_ctx):
                out.write(quantize(logits[chunk * n_ctx + j]).tobytes())


def stored_log_probs(logits: np.ndarray, n_ctx: int) -> np.ndarray:
    """What the file stores for every scored position, dequantized (scale*q + min), float64."""
    rows = []
    n_chunk = logits.shape[0] // n_ctx
    for chunk in range(n_chunk):
        for j in scored(n_ctx):
            words = quantize(logits[chunk * n_ctx + j])
            scale, low = words[:4].view("<f4").astype(np.float64)
            rows.append(words[4 : 4 + logits.shape[1]] * scale + low)
    return np.array(rows)


def targets(tokens: np.ndarray, n_ctx: int) -> np.ndarray:
    n_chunk = len(tokens) // n_ctx
    return np.array([tokens[c * n_ctx + j + 1] for c in range(n_chunk) for j in scored(n_ctx)])
