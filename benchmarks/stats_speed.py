"""Speed of the statistics core (``xent_cli.core.stats``) against what it replaces.

Run from the repository root::

    python -m benchmarks.stats_speed            # 1M and 10M values
    python -m benchmarks.stats_speed --quick    # 1M only, fewer repeats

Every case runs ``--repeat`` times, interleaved with its baselines; the table
shows the median CPU time of this process (less disturbed by other load on the
machine than wall time) and the ratio baseline / ours (> 1: ours is faster).
The sizes in bytes are those of a pickled partial, what a Dask worker sends.
"""

from __future__ import annotations

import argparse
import math
import pickle
import statistics
import time
from collections.abc import Callable

import numpy as np

from xent_cli.columns.statistics import mean as exact_mean  # what results use
from xent_cli.core.stats import (
    ExactSum,
    Moments,
    PercentileRequest,
    PercentileResponse,
    Summary,
    WorstRows,
    answer,
    exact_percentiles,
    percentiles,
)

PANEL_QS = [0, 0.1, 1, 5, 10, 50, 90, 95, 99, 99.9, 100]


def cpu_ms(function: Callable[[], object]) -> float:
    start = time.process_time()
    function()
    return (time.process_time() - start) * 1e3


def compare(
    label: str, ours: Callable[[], object], baselines: dict[str, Callable[[], object]], repeat: int
) -> None:
    times: dict[str, list[float]] = {"ours": [], **{name: [] for name in baselines}}
    for _ in range(repeat):
        times["ours"].append(cpu_ms(ours))
        for name, baseline in baselines.items():
            times[name].append(cpu_ms(baseline))
    mine = statistics.median(times["ours"])
    parts = [f"{label:<44} {mine:9.1f} ms"]
    for name in baselines:
        other = statistics.median(times[name])
        parts.append(f"{name} {other:8.1f} ms ({other / mine:5.1f}x)")
    print("  ".join(parts), flush=True)


def top_n_by_sort(x: np.ndarray, n: int) -> list[tuple[int, float]]:
    order = np.lexsort((np.arange(x.shape[0]), -x))[:n]
    return [(int(i), float(x[i])) for i in order]


def run(size: int, repeat: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.lognormal(sigma=2.0, size=size)  # KL-like: positive, spanning decades
    print(f"\n{size:,} values (lognormal), median of {repeat}")

    compare(
        "ExactSum().add(x).value()",
        lambda: ExactSum().add(x).value(),
        {
            "math.fsum(x.tolist())": lambda: math.fsum(x.tolist()),
            "columns.statistics.mean": lambda: exact_mean(x),
            "np.sum (inexact)": lambda: np.sum(x),
        },
        repeat,
    )
    compare(
        "Moments().add(x).standard_error()",
        lambda: Moments().add(x).standard_error(),
        {"np.std(ddof=1)/sqrt(n) (rounds)": lambda: np.std(x, ddof=1) / math.sqrt(size)},
        repeat,
    )
    compare(
        "Moments(second_moment=False).add(x).mean()",
        lambda: Moments(second_moment=False).add(x).mean(),
        {"math.fsum(x.tolist())/n": lambda: math.fsum(x.tolist()) / size},
        repeat,
    )
    compare(
        f"percentiles(x, {len(PANEL_QS)} qs)",
        lambda: percentiles(x, PANEL_QS),
        {"np.percentile": lambda: np.percentile(x, PANEL_QS)},
        repeat,
    )
    parts = np.array_split(x, 16)
    compare(
        "exact_percentiles(16 parts, 11 qs)",
        lambda: exact_percentiles(parts, PANEL_QS),
        {"np.percentile(np.concatenate)": lambda: np.percentile(np.concatenate(parts), PANEL_QS)},
        repeat,
    )
    compare(
        "WorstRows(20).add(x, 0).rows()",
        lambda: WorstRows(20).add(x, 0).rows(),
        {"np.lexsort top 20": lambda: top_n_by_sort(x, 20)},
        repeat,
    )
    compare(
        "Summary().add(x) in 16 blocks, merged",
        lambda: _summary_in_blocks(parts),
        {"math.fsum + np.percentile": lambda: (math.fsum(x.tolist()), np.percentile(x, [50, 90, 99]))},
        repeat,
    )

    # What the protocol moves between parts and client, and the partials' sizes.
    sent = {"rounds": 0, "values": 0, "bytes": 0}

    def counted(part: np.ndarray) -> Callable[[PercentileRequest], PercentileResponse]:
        def reply(request: PercentileRequest) -> PercentileResponse:
            response = answer(part, request)
            sent["values"] += sum(v.shape[0] for v in response.values)
            sent["bytes"] += len(pickle.dumps(response))
            return response

        return reply

    plan_parts = [counted(p) for p in parts]
    exact_percentiles(plan_parts, PANEL_QS)
    seed = Summary(key_histogram=True).add(parts[0]).key_histogram()
    print(
        f"  protocol over 16 parts: {sent['values']:,} values and {sent['bytes'] / 1024:.0f} KiB "
        f"sent to the client in all (the rows: {size * 8 / 1024**2:.0f} MiB)"
    )
    sizes = {
        "ExactSum": len(pickle.dumps(ExactSum().add(parts[0]))),
        "Moments": len(pickle.dumps(Moments().add(parts[0]))),
        "Summary(worst=20)": len(pickle.dumps(Summary(worst=20).add(parts[0]))),
        "depth-0 key histogram": len(pickle.dumps(seed)),
    }
    print("  pickled partial of one part: " + ", ".join(f"{k} {v:,} B" for k, v in sizes.items()))


def _summary_in_blocks(parts: list[np.ndarray]) -> dict[str, float | int]:
    partials = [Summary().add(p) for p in parts]
    merged = partials[0]
    for p in partials[1:]:
        merged = merged + p
    return merged.to_dict(percentile_values={50.0: 0.0, 90.0: 0.0, 99.0: 0.0})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1M values only, 3 repeats")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = [1_000_000] if args.quick else [1_000_000, 10_000_000]
    for size in sizes:
        run(size, 3 if args.quick else args.repeat)


if __name__ == "__main__":
    main()
