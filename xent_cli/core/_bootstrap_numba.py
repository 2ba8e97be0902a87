"""The compiled Poisson bootstrap kernel (numba); imported only by ``xent_cli.core.bootstrap``.

The weights are those of :func:`xent_cli.core.bootstrap.poisson_weights` (the
test suite checks both give the same), drawn and summed in one pass over the
rows, without a rows x resamples array. Sums accumulate row by row in order:
no re-association, so the sums of a run of rows do not depend on blocking.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    import numba  # type: ignore[import-untyped,import-not-found,unused-ignore]
except ImportError:
    numba = None  # type: ignore[assignment,unused-ignore]
    AVAILABLE = False
else:
    AVAILABLE = True


def _poisson_sums(
    values: Any,
    start: int,
    seed: int,
    resamples: int,
    table: Any,
    first_group: int,
    last_group: int,
    sums: Any,
    counts: Any,
) -> None:  # pragma: no cover - compiled
    """Add rows ``start …`` of ``values`` (measures x rows) to resamples ``4·first_group … 4·last_group − 1``.

    ``table[u]`` is the weight of the 16-bit uniform ``u``; ``counts`` are float64 (whole
    numbers, exact below 2**53). Each resample's sums
    are its own: threads given different group ranges never share one.
    """
    gamma = np.uint64(0x9E3779B97F4A7C15)
    mix1 = np.uint64(0xBF58476D1CE4E5B9)
    mix2 = np.uint64(0x94D049BB133111EB)
    low16 = np.uint64(0xFFFF)
    groups = (resamples + 3) // 4
    measures, rows = values.shape
    base = np.uint64(seed)
    lo = first_group * 4
    hi = min(last_group * 4, resamples)
    weights = np.zeros(groups * 4, dtype=np.float64)
    for r in range(rows):
        first = np.uint64(start + r) * np.uint64(groups)
        for g in range(first_group, last_group):
            z = base + (first + np.uint64(g + 1)) * gamma
            z = (z ^ (z >> np.uint64(30))) * mix1
            z = (z ^ (z >> np.uint64(27))) * mix2
            z = z ^ (z >> np.uint64(31))
            weights[g * 4] = table[z & low16]
            weights[g * 4 + 1] = table[(z >> np.uint64(16)) & low16]
            weights[g * 4 + 2] = table[(z >> np.uint64(32)) & low16]
            weights[g * 4 + 3] = table[z >> np.uint64(48)]
        for b in range(lo, hi):
            counts[b] += weights[b]  # float64: exact below 2**53, and the loop vectorizes (int casts do not)
        for m in range(measures):
            x = values[m, r]
            for b in range(lo, hi):
                sums[m, b] += weights[b] * x


poisson_sums = (
    numba.njit(cache=True, nogil=True, error_model="numpy")(_poisson_sums) if AVAILABLE else _poisson_sums
)
