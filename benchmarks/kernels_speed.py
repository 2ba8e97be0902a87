"""Speed and memory of the fused kernels (xent_cli.core.kernels) against the scripts they must beat.

Run from the repository root with the test extras (SciPy, numba) installed::

    python -m benchmarks.kernels_speed            # 4,096 x 32,000 logits, 1M x 10 probabilities
    python -m benchmarks.kernels_speed --quick    # a tenth of the rows
    python -m benchmarks.kernels_speed --repeat 5

Logits: two float32 ``.npy`` files (a model's logits ``3*randn`` and a perturbed
copy ``+ 0.05*randn``, as ``benchmarks/speed.py`` writes them). Each command
runs in a fresh process; the runs are interleaved (one of each command, then
again) and the table shows the median wall time and the largest peak resident
memory. Reading is included: ``benchmarks/kernels_driver.py`` reads the files
block by block, as the CLI will.

CSV-shaped blocks (1,000,000 x 10 float64 probabilities, in the blocks the
CSV reader delivers) are timed in this process, compute only, next to the time
pandas takes to parse the same numbers from a CSV file.

numba: the cost of importing it, and of the first call with an empty cache
(compiling) and with a warm one, each in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.speed import DATA, write_csv, write_logits

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "baselines" / "numpy_blockwise_logits_kl.py"


# Runs a command in a child process: wall time, CPU time (user + system) and peak RSS (KiB).
_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_kib": usage.ru_maxrss,
                  "code": done.returncode, "out": done.stdout.decode().strip()[-200:],
                  "err": done.stderr.decode()[-500:]}))
"""


def run_once(command: list[str], env: dict[str, str] | None = None) -> dict[str, float | str]:
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    result: dict[str, float | str] = json.loads(done.stdout)
    if result["code"] != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result['err']}")
    return result


def interleaved(commands: dict[str, list[str]], repeat: int) -> dict[str, dict[str, float | str]]:
    """Median wall time, largest peak memory and the printed value of each command."""
    runs: dict[str, list[dict[str, float | str]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            runs[name].append(run_once(command))
    summary = {}
    for name, results in runs.items():
        summary[name] = {
            "wall": statistics.median(float(r["wall"]) for r in results),
            "spread": max(float(r["wall"]) for r in results) - min(float(r["wall"]) for r in results),
            "cpu": statistics.median(float(r["cpu"]) for r in results),
            "peak_mib": max(float(r["peak_kib"]) for r in results) / 1024,
            "out": str(results[0]["out"]),
        }
    return summary


def logits_table(rows: int, repeat: int, *, slow: bool = True) -> None:
    suffix = "" if rows == 4096 else f"-{rows}"
    a, b = DATA / f"logits-a{suffix}.npy", DATA / f"logits-b{suffix}.npy"
    write_logits(a, rows, 32_000, 3)
    write_logits(b, rows, 32_000, 4, base=a)
    python = [sys.executable]
    driver = [*python, "-m", "benchmarks.kernels_driver"]
    commands = {
        "NumPy + scipy log_softmax, 256 rows a block (baseline)": [*python, str(BASELINE), str(a), str(b)],
        "kernels: kl": [*driver, "kl", str(a), str(b)],
        "kernels: compare panel": [*driver, "compare", str(a), str(b)],
        "kernels: kl, XENT_KERNELS=numpy (no numba)": [
            *python,
            "-c",
            _WITH_ENV,
            "numpy",
            "kl",
            str(a),
            str(b),
        ],
        "careful path (measures.py): kl": [*driver, "kl", str(a), str(b), "--careful"],
    }
    if not slow:
        commands = {
            name: command
            for name, command in commands.items()
            if "careful" not in name and "numpy" not in name
        }
    summary = interleaved(commands, repeat)
    base = float(summary[next(iter(commands))]["wall"])
    kl = float(summary["kernels: kl"]["wall"])
    print(f"\n### KL of two {rows:,} x 32,000 float32 logit files ({repeat} interleaved runs, medians)\n")
    print(
        "| command | time (s) | spread (s) | CPU time (s) | peak memory (MiB) "
        "| time / baseline | time / kernels kl | mean |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, s in summary.items():
        wall = float(s["wall"])
        print(
            f"| {name} | {wall:.2f} | {float(s['spread']):.2f} | {float(s['cpu']):.2f} | "
            f"{float(s['peak_mib']):.0f} | {wall / base:.2f} | {wall / kl:.2f} | {s['out']} |"
        )
    values = [float(str(s["out"]).split()[-1]) for s in summary.values()]
    if max(values) - min(values) > 1e-9 * abs(values[0]):
        print(f"warning: the commands disagree: {values}", file=sys.stderr)


# Runs the driver with XENT_KERNELS set (argv[1]), in the measured child process.
_WITH_ENV = """
import os, runpy, sys
os.environ["XENT_KERNELS"] = sys.argv[1]
sys.argv = ["kernels_driver", *sys.argv[2:]]
runpy.run_module("benchmarks.kernels_driver", run_name="__main__")
"""


def _best(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def csv_table(rows: int, repeat: int) -> None:
    from xent_cli.core import kernel_backend, kernels
    from xent_cli.core.distributions import prepare
    from xent_cli.core.measures import entropy_rows, kl_rows

    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(10), size=rows)
    q = rng.dirichlet(np.ones(10), size=rows)
    step = (1 << 18) // 10  # the rows per block the CSV reader delivers (align.BLOCK_ELEMENTS / K)
    starts = range(0, rows, step)

    def careful_entropy() -> None:
        for s in starts:
            entropy_rows(prepare(p[s : s + step]))

    def careful_kl() -> None:
        for s in starts:
            kl_rows(prepare(p[s : s + step]), prepare(q[s : s + step]))

    def kernel(measure: str) -> Callable[[], None]:
        def run() -> None:
            for s in starts:
                if measure == "entropy":
                    result = kernels.entropy_rows_fast(p[s : s + step])
                elif measure == "kl":
                    result = kernels.kl_rows_fast(p[s : s + step], q[s : s + step])
                else:
                    result = kernels.compare_rows_fast(p[s : s + step], q[s : s + step])
                assert result is not None

        return run

    timings: dict[str, float] = {}
    timings["careful: entropy"] = _best(careful_entropy, repeat)
    timings["careful: kl"] = _best(careful_kl, repeat)
    for backend in (["numba"] if kernel_backend.numba_available() else []) + ["numpy"]:
        kernel_backend.set_backend(backend)
        kernel("kl")()  # compile or load once
        for measure in ("entropy", "kl", "compare"):
            timings[f"kernels ({backend}): {measure}"] = _best(kernel(measure), repeat)
    kernel_backend.set_backend(None)

    csv = DATA / ("p-1M.csv" if rows == 1_000_000 else f"p-{rows}.csv")
    write_csv(csv, rows, 10, 1)
    import pandas as pd

    parse = _best(lambda: pd.read_csv(csv), max(1, repeat // 2))
    timings["parse the CSV: pandas.read_csv (C engine)"] = parse
    print(f"\n### {rows:,} x 10 float64 probabilities, compute only, blocks of {step:,} rows (medians)\n")
    print("| what | time (s) | ns per row |")
    print("|---|---:|---:|")
    for name, seconds in timings.items():
        print(f"| {name} | {seconds:.3f} | {seconds / rows * 1e9:.0f} |")


_FIRST_CALL = """
import time
start = time.perf_counter()
import numpy as np
numpy_done = time.perf_counter()
from xent_cli.core import kernel_backend, kernels
kernel_backend.set_backend("numba")
a = (3 * np.random.default_rng(0).standard_normal((4, 1000))).astype(np.float32)
kernels_done = time.perf_counter()
kernels.kl_rows_fast(a, a[::-1].copy(), kind_p="logits")
first = time.perf_counter()
kernels.compare_rows_fast(a, a[::-1].copy(), kind_p="logits")
kernels.entropy_rows_fast(a, kind="logits")
p = np.full((4, 10), 0.1)
kernels.compare_rows_fast(p, p)
kernels.kl_rows_fast(p, p)
kernels.entropy_rows_fast(p)
rest = time.perf_counter()
print(numpy_done - start, kernels_done - numpy_done, first - kernels_done, rest - first)
"""


def numba_costs(repeat: int) -> None:
    python = sys.executable

    def seconds(code: str, env: dict[str, str] | None = None) -> list[float]:
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, env=env)
        return [float(x) for x in done.stdout.split()]

    def timed(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([python, "-c", code], check=True)
        return time.perf_counter() - start

    rows = [
        (
            f"python -c 'import {name}' (whole process)",
            statistics.median(timed(f"import {name}") for _ in range(repeat)),
        )
        for name in ("numpy", "numba")
    ]
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        cold = seconds(_FIRST_CALL, env)  # compiles every kernel used
        warm = [seconds(_FIRST_CALL, env) for _ in range(repeat)]
    names = [
        "import numpy",
        "import the kernels module (numba not yet)",
        "first kernel call (imports numba)",
        "five more kernels, first calls",
    ]
    for i, name in enumerate(names):
        if i == 0:
            continue
        rows.append((f"{name}: empty cache (compile)", cold[i]))
        rows.append((f"{name}: warm cache", statistics.median(w[i] for w in warm)))
    print("\n### numba: import and compile costs (fresh processes)\n")
    print("| what | time (s) |")
    print("|---|---:|")
    for name, value in rows:
        print(f"| {name} | {value:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (default 3)")
    parser.add_argument("--only", choices=["logits", "csv", "numba"], help="one table")
    parser.add_argument("--no-slow", action="store_true", help="leave out the careful-path runs (minutes)")
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    scale = 10 if args.quick else 1
    if args.only in (None, "numba"):
        numba_costs(args.repeat)
    if args.only in (None, "logits"):
        logits_table(4096 // scale, args.repeat, slow=not args.no_slow)
    if args.only in (None, "csv"):
        csv_table(1_000_000 // scale, args.repeat)


if __name__ == "__main__":
    main()
