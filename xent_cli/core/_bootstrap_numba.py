"""The compiled Poisson bootstrap kernel (numba); imported only by ``xent_cli.core.bootstrap``.

The weights are those of :func:`xent_cli.core.bootstrap.poisson_weights` (the
test suite checks both give the same), drawn and summed in one pass over the
rows, without a rows x resamples array. Sums accumulate row by row in order:
no re-association, so the sums of a run of rows do not depend on blocking.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xent_cli.core import numba_cache

try:
    import numba  # type: ignore[import-untyped,import-not-found,unused-ignore]
except ImportError:
    numba = None  # type: ignore[assignment,unused-ignore]
    AVAILABLE = False
else:
    AVAILABLE = True

# Rows whose weights (at most 8 each) are tallied in uint16 lanes before they are added to the
# float64 counts: 8 x 8000 < 2**16.
TALLY_ROWS = 8000


def _poisson_sums(
    values: Any,
    start: int,
    seed: int,
    resamples: int,
    thresholds: Any,
    first_group: int,
    last_group: int,
    sums: Any,
    counts: Any,
) -> None:  # pragma: no cover - compiled
    """Add rows ``start …`` of ``values`` (measures x rows) to resamples ``4·first_group … 4·last_group − 1``.

    ``thresholds`` (int16) are :data:`xent_cli.core.bootstrap.THRESHOLDS_INT16`, the
    thresholds less 2**15: a 16-bit uniform ``u``'s weight is how many thresholds it
    reaches, 8 less how many lie above ``u − 2**15`` (AVX2 compares 16-bit lanes as
    signed numbers only: an unsigned ``u >= t`` costs three instructions, a signed
    ``t > u`` one). ``counts`` are float64 (whole numbers, exact below 2**53). Each
    resample's sums are its own: threads given different group ranges never share one.

    Each row goes through three loops over its resamples that the compiler turns
    into vector code: the SplitMix64 words (four 16-bit uniforms each, read as
    uint16 lowest bits first: a little-endian view), the weights (kept as uint16,
    and tallied in uint16 lanes that are added to ``counts`` every
    :data:`TALLY_ROWS` rows, before they can overflow), and the sums (the weight
    converted to float64 on the way: ``w·x`` is the same product either way).
    About 0.7 ns of CPU per row and resample.
    """
    gamma = np.uint64(0x9E3779B97F4A7C15)
    mix1 = np.uint64(0xBF58476D1CE4E5B9)
    mix2 = np.uint64(0x94D049BB133111EB)
    groups = (resamples + 3) // 4
    measures, rows = values.shape
    lo = first_group * 4
    hi = min(last_group * 4, resamples)
    width = hi - lo
    words = np.zeros(last_group - first_group, dtype=np.uint64)
    uniforms = words.view(np.uint16)
    levels = np.zeros(width, dtype=np.uint16)
    tally = np.zeros(width, dtype=np.uint16)
    totals = counts[lo:hi]
    pending = 0
    for r in range(rows):
        # Counter k = row·groups + g: z = seed + (k + 1)·gamma (mod 2**64), one gamma per group on.
        counter = np.uint64(start + r) * np.uint64(groups) + np.uint64(first_group + 1)
        first = np.uint64(seed) + counter * gamma
        for g in range(words.shape[0]):
            z = first + np.uint64(g) * gamma
            z = (z ^ (z >> np.uint64(30))) * mix1
            z = (z ^ (z >> np.uint64(27))) * mix2
            words[g] = z ^ (z >> np.uint64(31))
        for b in range(width):
            u = np.int16(uniforms[b] ^ np.uint16(0x8000))  # u − 2**15
            w = np.int16(8)
            for k in range(8):
                w -= np.int16(thresholds[k] > u)
            levels[b] = np.uint16(w)
            tally[b] += np.uint16(w)
        pending += 1
        if pending == TALLY_ROWS:
            for b in range(width):
                totals[b] += tally[b]
                tally[b] = 0
            pending = 0
        for m in range(measures):
            x = values[m, r]
            row_sums = sums[m, lo:hi]
            for b in range(width):
                row_sums[b] += np.float64(levels[b]) * x
    for b in range(width):
        totals[b] += tally[b]


# Where the kernel is cached (and whether anywhere can be): xent_cli.core.numba_cache. With
# nowhere to cache it, AVAILABLE is False and the NumPy form is used, with no message.
if AVAILABLE and not numba_cache.CACHE_USABLE:
    AVAILABLE = False
poisson_sums = numba_cache.njit(_poisson_sums) if AVAILABLE else _poisson_sums
