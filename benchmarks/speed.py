"""Speed and memory of xent against plain pandas / NumPy / SciPy scripts, on generated data.

Run from the repository root with the test extras installed (SciPy)::

    python -m benchmarks.speed           # the full sizes (about 1.6 GB of data, a few minutes)
    python -m benchmarks.speed --quick   # a tenth of the rows, for a smoke run

Each command runs in a fresh process ``--repeat`` times; the table shows the median
wall time, the largest peak resident memory, and xent's ratios to each baseline
(time: baseline / xent, so > 1 means xent is faster; memory: xent / baseline).
Data is written to ``benchmarks/data/`` (ignored by git) and reused.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
BASELINES = HERE / "baselines"

# Runs a command in a child process and reports its wall time and peak RSS (KiB).
_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall": wall, "peak_kib": peak, "code": done.returncode,
                  "out": done.stdout.decode().strip()[-200:], "err": done.stderr.decode()[-500:]}))
"""


@dataclass
class Timing:
    wall: float
    peak_mib: float
    output: str


def measure(command: list[str], repeat: int) -> Timing:
    runs = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, check=True
        )
        run = json.loads(done.stdout)
        if run["code"] != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{run['err']}")
        runs.append(run)
    return Timing(
        wall=statistics.median(r["wall"] for r in runs),
        peak_mib=max(r["peak_kib"] for r in runs) / 1024,
        output=runs[0]["out"],
    )


def xent_command() -> list[str]:
    found = shutil.which("xent", path=str(Path(sys.executable).parent)) or shutil.which("xent")
    if found is None:
        raise SystemExit("the xent command is not installed (pip install .)")
    return [found]


def write_csv(path: Path, rows: int, k: int, seed: int) -> None:
    if path.exists():
        return
    rng = np.random.default_rng(seed)
    with path.open("w") as handle:
        handle.write(",".join(f"c{i}" for i in range(k)) + "\n")
        for start in range(0, rows, 100_000):
            block = rng.dirichlet(np.ones(k), size=min(100_000, rows - start))
            np.savetxt(handle, block, delimiter=",", fmt="%.17g")


def write_logits(path: Path, rows: int, k: int, seed: int, base: Path | None = None) -> None:
    if path.exists():
        return
    rng = np.random.default_rng(seed)
    if base is None:
        logits = (3 * rng.standard_normal((rows, k))).astype(np.float32)
    else:  # a slightly perturbed copy, as a quantized model would give
        logits = np.load(base) + (0.05 * rng.standard_normal((rows, k))).astype(np.float32)
    np.save(path, logits)


def write_shards(folder: Path, shards: int, rows: int, k: int) -> None:
    if folder.exists():
        return
    folder.mkdir()
    rng = np.random.default_rng(5)
    for i in range(shards):
        np.save(folder / f"part-{i:02d}.npy", rng.dirichlet(np.ones(k), size=rows // shards))


def main() -> None:
    parser = argparse.ArgumentParser(description="xent speed and memory benchmarks")
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (default 3)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    DATA.mkdir(exist_ok=True)
    suffix = "-quick" if args.quick else ""
    p_csv, q_csv = DATA / f"p-1M{suffix}.csv", DATA / f"q-1M{suffix}.csv"
    a_npy, b_npy = DATA / f"logits-a{suffix}.npy", DATA / f"logits-b{suffix}.npy"
    print("generating data (once) ...", file=sys.stderr)
    write_csv(p_csv, 1_000_000 // scale, 10, 1)
    write_csv(q_csv, 1_000_000 // scale, 10, 2)
    write_logits(a_npy, 4096 // scale, 32_000, 3)
    write_logits(b_npy, 4096 // scale, 32_000, 4, base=a_npy)

    shard_dir = DATA / f"shards{suffix}"
    write_shards(shard_dir, 20, 5_000_000 // scale, 10)

    xent = xent_command()
    python = [sys.executable]
    cases = [
        (
            f"entropy, {1_000_000 // scale:,} x 10 CSV",
            [*xent, "entropy", str(p_csv), "--value"],
            {
                "pandas + scipy.stats.entropy": [
                    *python,
                    str(BASELINES / "pandas_scipy_entropy.py"),
                    str(p_csv),
                ],
                "pandas + NumPy": [*python, str(BASELINES / "pandas_numpy_entropy.py"), str(p_csv)],
            },
        ),
        (
            f"kl, two {1_000_000 // scale:,} x 10 CSVs",
            [*xent, "kl", str(p_csv), str(q_csv), "--value"],
            {
                "pandas + scipy.stats.entropy": [
                    *python,
                    str(BASELINES / "pandas_scipy_kl.py"),
                    str(p_csv),
                    str(q_csv),
                ],
                "pandas + NumPy": [*python, str(BASELINES / "pandas_numpy_kl.py"), str(p_csv), str(q_csv)],
            },
        ),
        (
            f"kl --as logits, two {4096 // scale:,} x 32,000 float32 .npy",
            [*xent, "kl", str(a_npy), str(b_npy), "--as", "logits", "--value"],
            {
                "NumPy + scipy log_softmax": [
                    *python,
                    str(BASELINES / "numpy_logits_kl.py"),
                    str(a_npy),
                    str(b_npy),
                ]
            },
        ),
        (
            f"entropy, 20 .npy shards, {5_000_000 // scale:,} x 10",
            [*xent, "entropy", str(shard_dir), "--value"],
            {
                "xent --engine dask (local cluster, 2 workers)": [
                    *xent,
                    "entropy",
                    str(shard_dir),
                    "--value",
                    "--engine",
                    "dask",
                ]
            },
        ),
        (
            "start-up: xent entropy 0.5,0.5",
            [*xent, "entropy", "0.5,0.5", "--value"],
            {'python -c "import numpy"': [*python, "-c", "import numpy"]},
        ),
    ]
    print("| case | command | time (s) | peak memory (MiB) | xent speed-up | xent memory |")
    print("|---|---|---:|---:|---:|---:|")
    for title, xent_args, baselines in cases:
        mine = measure(xent_args, args.repeat)
        print(f"| {title} | xent | {mine.wall:.2f} | {mine.peak_mib:.0f} | | |")
        for name, command in baselines.items():
            theirs = measure(command, args.repeat)
            _check_same(title, mine.output, theirs.output)
            print(
                f"| | {name} | {theirs.wall:.2f} | {theirs.peak_mib:.0f} | "
                f"{theirs.wall / mine.wall:.2f}x | {mine.peak_mib / theirs.peak_mib:.2f}x |"
            )


def _check_same(title: str, mine: str, theirs: str) -> None:
    """The baselines must compute the same number (to their own precision)."""
    try:
        a, b = float(mine.split()[-1]), float(theirs.split()[-1])
    except (ValueError, IndexError):
        return
    if title.startswith("start-up"):
        return
    if abs(a - b) > 1e-9 * max(1.0, abs(b)):
        print(f"warning: {title}: xent gives {a!r}, the baseline {b!r}", file=sys.stderr)


if __name__ == "__main__":
    main()
