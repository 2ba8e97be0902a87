"""Time and peak memory of writing per-row results: JSON, JSON Lines, TSV, CSV and --value.

Run from the repository root::

    python -m benchmarks.output_speed            # 5,000,000 rows (entropy) and 1,000,000 (compare)
    python -m benchmarks.output_speed --quick    # a tenth of the rows

Inputs are ``.npy`` files (read in blocks, cheap), so the cost measured is that of
computing and writing the per-row output. Each command runs in a fresh process with
stdout to ``/dev/null``; the table shows the median wall time, the largest peak
resident memory, and the peak memory beyond a bare ``--value`` run of one row,
divided by the number of rows and the number of measures (the help promises about
8 bytes per row per measure, plus the ids).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

# Runs a command in a child process (stdout to /dev/null) and reports its wall time and peak RSS (KiB).
_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=900)
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
err = done.stderr.decode()[-500:]
print(json.dumps({"wall": wall, "peak_kib": peak, "code": done.returncode, "err": err}))
"""


def measure(command: list[str], repeat: int) -> tuple[float, float]:
    """Median wall time (s) and largest peak RSS (MiB) of ``command``."""
    walls, peaks = [], []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, check=True
        )
        run = json.loads(done.stdout)
        if run["code"] not in (0, 1):
            raise SystemExit(f"{' '.join(command)} failed:\n{run['err']}")
        walls.append(run["wall"])
        peaks.append(run["peak_kib"] / 1024)
    return statistics.median(walls), max(peaks)


def write_probs(path: Path, rows: int, k: int, seed: int) -> None:
    if path.exists():
        return
    rng = np.random.default_rng(seed)
    np.save(path, rng.dirichlet(np.ones(k), size=rows))


def main() -> None:
    parser = argparse.ArgumentParser(description="xent output speed and memory")
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows")
    parser.add_argument("--repeat", type=int, default=1, help="runs per command (default 1)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    DATA.mkdir(exist_ok=True)
    big, pair = 5_000_000 // scale, 1_000_000 // scale
    p_big = DATA / f"out-p-{big}.npy"
    p_pair, q_pair = DATA / f"out-p-{pair}.npy", DATA / f"out-q-{pair}.npy"
    print("generating data (once) ...", file=sys.stderr)
    write_probs(p_big, big, 4, 1)
    write_probs(p_pair, pair, 4, 2)
    write_probs(q_pair, pair, 4, 3)
    found = shutil.which("xent", path=str(Path(sys.executable).parent)) or shutil.which("xent")
    if found is None:
        raise SystemExit("the xent command is not installed (pip install .)")
    xent = [found]
    _, floor = measure([*xent, "entropy", "0.5,0.5", "--value"], args.repeat)
    cases = [
        (f"entropy --value, {big:,} rows", [*xent, "entropy", str(p_big), "--value"], big, 1),
        (
            f"entropy --value --fail-above 9, {big:,} rows",
            [*xent, "entropy", str(p_big), "--value", "--fail-above", "9"],
            big,
            1,
        ),
        (f"entropy --json, {big:,} rows", [*xent, "entropy", str(p_big), "--json"], big, 1),
        (
            f"entropy --json --rows 0, {big:,} rows",
            [*xent, "entropy", str(p_big), "--json", "--rows", "0"],
            big,
            1,
        ),
        (
            f"entropy --format jsonl, {big:,} rows",
            [*xent, "entropy", str(p_big), "--format", "jsonl"],
            big,
            1,
        ),
        (f"entropy --format tsv, {big:,} rows", [*xent, "entropy", str(p_big), "--format", "tsv"], big, 1),
        (f"entropy --csv, {big:,} rows", [*xent, "entropy", str(p_big), "--csv"], big, 1),
        (f"compare --value, {pair:,} rows", [*xent, "compare", str(p_pair), str(q_pair), "--value"], pair, 8),
        (f"compare --json, {pair:,} rows", [*xent, "compare", str(p_pair), str(q_pair), "--json"], pair, 8),
        (
            f"compare --format tsv, {pair:,} rows",
            [*xent, "compare", str(p_pair), str(q_pair), "--format", "tsv"],
            pair,
            8,
        ),
    ]
    print(f"start-up floor (entropy 0.5,0.5 --value): {floor:.0f} MiB")
    print("| case | time (s) | peak memory (MiB) | beyond the floor, bytes per row per measure |")
    print("|---|---:|---:|---:|")
    for title, command, rows, measures in cases:
        wall, peak = measure(command, args.repeat)
        per_row = (peak - floor) * (1 << 20) / rows / measures
        print(f"| {title} | {wall:.2f} | {peak:.0f} | {per_row:.1f} |", flush=True)


if __name__ == "__main__":
    main()
