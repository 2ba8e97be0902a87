"""Time and peak memory of writing per-row results: JSON, JSON Lines, TSV, CSV and --value.

Run from the repository root::

    python -m benchmarks.output_speed            # 5,000,000 rows (entropy) and 1,000,000 (compare)
    python -m benchmarks.output_speed --quick    # a tenth of the rows

Inputs are ``.npy`` files (read in blocks, cheap), so the cost measured is that of
computing and writing the per-row output. Each command runs in a fresh process with
stdout to ``/dev/null``; the table shows the median wall time and the largest
peak resident memory at the full size, and the memory each row adds: the
difference of the peaks at the full size and at a fifth of it, divided by the
rows between them and by the number of measures (the help promises 8 bytes per
row per measure, plus the ids).
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
    parser.add_argument("--xent", help="the xent command to measure (default: the one installed here)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    DATA.mkdir(exist_ok=True)
    big, pair = 5_000_000 // scale, 1_000_000 // scale
    print("generating data (once) ...", file=sys.stderr)
    files = {}
    for rows in (big, big // 5, pair, pair // 5):
        files[("p", rows)] = DATA / f"out-p-{rows}.npy"
        write_probs(files[("p", rows)], rows, 4, 1)
    for rows in (pair, pair // 5):
        files[("q", rows)] = DATA / f"out-q-{rows}.npy"
        write_probs(files[("q", rows)], rows, 4, 3)
    found = args.xent or shutil.which("xent", path=str(Path(sys.executable).parent)) or shutil.which("xent")
    if found is None:
        raise SystemExit("the xent command is not installed (pip install .)")
    xent = [found]

    def entropy(rows: int, *options: str) -> list[str]:
        return [*xent, "entropy", str(files[("p", rows)]), *options]

    def compare(rows: int, *options: str) -> list[str]:
        return [*xent, "compare", str(files[("p", rows)]), str(files[("q", rows)]), *options]

    cases = [
        ("entropy --value", entropy, big, ("--value",), 1),
        ("entropy --value --fail-above 9", entropy, big, ("--value", "--fail-above", "9"), 1),
        ("entropy --json", entropy, big, ("--json",), 1),
        ("entropy --json --rows 0", entropy, big, ("--json", "--rows", "0"), 1),
        ("entropy --format jsonl", entropy, big, ("--format", "jsonl"), 1),
        ("entropy --format tsv", entropy, big, ("--format", "tsv"), 1),
        ("entropy --csv", entropy, big, ("--csv",), 1),
        ("compare --value", compare, pair, ("--value",), 8),
        ("compare --json", compare, pair, ("--json",), 8),
        ("compare --format tsv", compare, pair, ("--format", "tsv"), 8),
    ]
    print("| case | rows | time (s) | peak memory (MiB) | memory per row per measure (bytes) |")
    print("|---|---:|---:|---:|---:|")
    for title, command, rows, options, measures in cases:
        wall, peak = measure(command(rows, *options), args.repeat)
        _, small_peak = measure(command(rows // 5, *options), args.repeat)
        per_row = (peak - small_peak) * (1 << 20) / (rows - rows // 5) / measures
        print(f"| {title} | {rows:,} | {wall:.2f} | {peak:.0f} | {per_row:.1f} |", flush=True)


if __name__ == "__main__":
    main()
