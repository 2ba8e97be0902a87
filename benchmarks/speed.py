"""xent against the scripts a user would write, in one interleaved run, plus a scaling table.

Run from the repository root with the test extras installed (SciPy)::

    python -m benchmarks.speed                # headline sizes, 5 rounds, and the scaling table
    python -m benchmarks.speed --quick        # a tenth of the rows (a smoke run, a minute or two)
    python -m benchmarks.speed --rounds 3 --no-scaling
    python -m benchmarks.speed --only csv-entropy,startup

Every command runs in a fresh process. The workloads are run in rounds; in each round
every command of every workload runs once, and within a workload the order of xent and
its baseline alternates from round to round, so that a change in the machine's load hits
both alike. The tables give medians over the rounds of the wall time and of the CPU time
(user + system, less disturbed by other jobs on a shared machine), the largest peak
resident memory of the child (``ru_maxrss`` from ``os.wait4``), and the ratio of xent's
median time to the baseline's (below 1: xent is faster), with each workload's goal.

Baselines (``benchmarks/baselines/``): pandas + NumPy whole-file scripts for CSV and
Parquet; for logits, the block-wise NumPy + ``scipy.special.log_softmax`` script (256 rows
at a time, float64); for start-up, ``python -c "import numpy"``.

Installing: a fresh ``python -m venv`` and ``pip install .`` (no extras) of this checkout, timed
(from the warm package cache), and the size on disk of what it installed; the ``logits-fresh``
row runs that install's xent (no numba: the NumPy kernels) as a CI job's first run does, and
``logits-fresh-fast`` this environment's (with the ``fast`` extra) with an empty numba cache.
``--no-install`` skips the fresh install (then ``logits-fresh`` runs this environment's xent
with numba made unimportable).

``logits-no-scipy`` runs this environment's xent with SciPy made unimportable: what
``pip install 'xent-cli[fast]'`` installs has no SciPy (the test extra brings it), and where
SciPy is importable numba's first compiled call also imports SciPy's BLAS bindings.

The floors table times, inside fresh processes, what the machine costs for the work any tool
must do here: parsing the 1M-row CSV with pandas, polars and pyarrow, and NumPy's ``exp`` per
float32 value (the start-up's floor is its baseline, ``import numpy``). Compare them with the
floors other runs printed before comparing times across runs.

The scaling table runs xent alone at growing sizes (1M, 4M, 16M CSV rows; 4k, 16k logit
rows) and reports time per row and peak memory. The bigger CSVs repeat the 1M-row file's
lines (the cost of parsing and computing does not depend on the values being new).
Data is generated into ``benchmarks/data/`` (ignored by git) and reused: about 9 GB for
the full run with scaling, 1.5 GB without.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
BASELINES = HERE / "baselines"


@dataclass
class Run:
    wall: float
    cpu: float
    peak_mib: float
    output: str


@dataclass
class Command:
    name: str
    argv: list[str]
    runs: list[Run] = field(default_factory=list)
    # Run each time with an empty numba cache, as the first run of a CI job's fresh environment.
    fresh_cache: bool = False
    # Added to the environment of each run.
    env: dict[str, str] = field(default_factory=dict)

    def median_wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    def median_cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    def peak(self) -> float:
        return max(r.peak_mib for r in self.runs)


@dataclass
class Workload:
    key: str
    title: str
    xent: Command
    baseline: Command
    goal_time: float | None  # xent time / baseline time, at most
    goal_peak_mib: float | None = None
    extra: list[Command] = field(default_factory=list)  # more xent commands, compared with `xent`


# Starts the command from a small, fresh process and reports that child's usage alone: on
# Linux a child's ru_maxrss starts from its parent's resident size at fork, so the parent
# must be small (this one is about 10 MB), not the benchmark with its data in memory.
_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
out, err = child.communicate()
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_kib": usage.ru_maxrss,
                  "code": child.returncode, "out": out.decode(errors="replace").strip()[-200:],
                  "err": err.decode(errors="replace")[-800:]}))
"""


def run_once(argv: list[str], *, fresh_cache: bool = False, extra_env: dict[str, str] | None = None) -> Run:
    """One fresh process: wall time, CPU time and peak RSS of that child alone."""
    env = {**os.environ, **(extra_env or {})}
    with tempfile.TemporaryDirectory(prefix="xent-bench-cache-") as cache:
        if fresh_cache:
            env["NUMBA_CACHE_DIR"] = cache
        done = subprocess.run(
            [sys.executable, "-S", "-c", _MEASURE, *argv], capture_output=True, text=True, check=True, env=env
        )
    run = json.loads(done.stdout)
    if run["code"] != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({run['code']}):\n{run['err']}")
    return Run(run["wall"], run["cpu"], run["peak_kib"] / 1024, run["out"])


def xent_command() -> list[str]:
    found = shutil.which("xent", path=str(Path(sys.executable).parent)) or shutil.which("xent")
    if found is None:
        raise SystemExit("the xent command is not installed (pip install -e .)")
    return [found]


# --- data ------------------------------------------------------------------------------


def write_csv(path: Path, rows: int, k: int, seed: int) -> None:
    if path.exists():
        return
    rng = np.random.default_rng(seed)
    partial = path.with_suffix(".part")
    with partial.open("w") as handle:
        handle.write(",".join(f"c{i}" for i in range(k)) + "\n")
        for start in range(0, rows, 100_000):
            block = rng.dirichlet(np.ones(k), size=min(100_000, rows - start))
            np.savetxt(handle, block, delimiter=",", fmt="%.17g")
    partial.rename(path)


def repeat_csv(path: Path, base: Path, times: int) -> None:
    """``base``'s header, then its data lines ``times`` over."""
    if path.exists():
        return
    partial = path.with_suffix(".part")
    with base.open("rb") as source:
        header = source.readline()
        body = source.read()
    with partial.open("wb") as handle:
        handle.write(header)
        for _ in range(times):
            handle.write(body)
    partial.rename(path)


def write_parquet(path: Path, csv: Path) -> None:
    """The CSV's table as Parquet, as ``DataFrame.to_parquet`` writes it."""
    if path.exists():
        return
    import pandas as pd

    partial = path.with_suffix(".part")
    pd.read_csv(csv, engine="pyarrow").to_parquet(partial, index=False)
    partial.rename(path)


def write_logits(path: Path, rows: int, k: int, seed: int, base: Path | None = None) -> None:
    if path.exists():
        return
    rng = np.random.default_rng(seed)
    partial = path.with_suffix(".part.npy")
    if base is None:
        logits = (3 * rng.standard_normal((rows, k))).astype(np.float32)
    else:  # a slightly perturbed copy, as a quantized model would give
        logits = np.load(base) + (0.05 * rng.standard_normal((rows, k))).astype(np.float32)
    np.save(partial, logits)
    partial.rename(path)


# --- the run ---------------------------------------------------------------------------


def workloads(scale: int, xent: list[str], default: DefaultInstall) -> list[Workload]:
    python = [sys.executable]
    tag = "" if scale == 1 else f"-{scale}"
    rows, logit_rows = 1_000_000 // scale, 4096 // scale
    p_csv, q_csv = DATA / f"p-1M{tag}.csv", DATA / f"q-1M{tag}.csv"
    p_pq, q_pq = DATA / f"p-1M{tag}.parquet", DATA / f"q-1M{tag}.parquet"
    a_npy, b_npy = DATA / f"logits-a{tag}.npy", DATA / f"logits-b{tag}.npy"
    write_csv(p_csv, rows, 10, 1)
    write_csv(q_csv, rows, 10, 2)
    write_parquet(p_pq, p_csv)
    write_parquet(q_pq, q_csv)
    write_logits(a_npy, logit_rows, 32_000, 3)
    write_logits(b_npy, logit_rows, 32_000, 4, base=a_npy)

    def script(name: str, *paths: Path) -> list[str]:
        return [*python, str(BASELINES / name), *map(str, paths)]

    logits_argv = [*xent, "kl", str(a_npy), str(b_npy), "--as", "logits", "--value"]
    logits_kl = Command("xent kl --as logits", logits_argv)
    blockwise = script("numpy_blockwise_logits_kl.py", a_npy, b_npy)
    polars = []
    if importlib.util.find_spec("polars") is not None:
        polars = [
            Workload(
                "csv-entropy-polars",
                f"entropy, {rows:,} x 10 CSV",
                Command("xent", [*xent, "entropy", str(p_csv), "--value"]),
                Command("polars + NumPy", script("polars_numpy_entropy.py", p_csv)),
                0.8,
                200,
            ),
            Workload(
                "csv-kl-polars",
                f"kl, two {rows:,} x 10 CSVs",
                Command("xent", [*xent, "kl", str(p_csv), str(q_csv), "--value"]),
                Command("polars + NumPy", script("polars_numpy_kl.py", p_csv, q_csv)),
                0.8,
                200,
            ),
        ]
    else:
        print("polars is not installed: its rows are left out (pip install polars)", file=sys.stderr)
    return [
        Workload(
            "csv-entropy",
            f"entropy, {rows:,} x 10 CSV",
            Command("xent", [*xent, "entropy", str(p_csv), "--value"]),
            Command("pandas + NumPy", script("pandas_numpy_entropy.py", p_csv)),
            0.8,
            200,
        ),
        Workload(
            "csv-kl",
            f"kl, two {rows:,} x 10 CSVs",
            Command("xent", [*xent, "kl", str(p_csv), str(q_csv), "--value"]),
            Command("pandas + NumPy", script("pandas_numpy_kl.py", p_csv, q_csv)),
            0.8,
            200,
        ),
        Workload(
            "parquet-entropy",
            f"entropy, {rows:,} x 10 Parquet",
            Command("xent", [*xent, "entropy", str(p_pq), "--value"]),
            Command("pd.read_parquet + NumPy", script("parquet_numpy_entropy.py", p_pq)),
            0.8,
            200,
        ),
        Workload(
            "parquet-kl",
            f"kl, two {rows:,} x 10 Parquet",
            Command("xent", [*xent, "kl", str(p_pq), str(q_pq), "--value"]),
            Command("pd.read_parquet + NumPy", script("parquet_numpy_kl.py", p_pq, q_pq)),
            0.8,
            200,
        ),
        Workload(
            "logits",
            f"kl --as logits, two {logit_rows:,} x 32,000 float32 .npy",
            logits_kl,
            Command("NumPy + scipy log_softmax, 256 rows a block", blockwise),
            0.3,
            400,
            extra=[
                Command(
                    "xent compare --as logits",
                    [*xent, "compare", str(a_npy), str(b_npy), "--as", "logits", "--value"],
                )
            ],
        ),
        Workload(
            "logits-no-scipy",
            f"kl --as logits, two {logit_rows:,} x 32,000 float32 .npy, warm, SciPy not importable",
            Command(
                "xent kl --as logits, as the [fast] extra installs it (no SciPy)",
                logits_argv,
                env={"PYTHONPATH": str(_no_scipy_folder())},
            ),
            Command("NumPy + scipy log_softmax, 256 rows a block", blockwise),
            0.3,
            400,
        ),
        Workload(
            "logits-fresh",
            f"kl --as logits, first run of a fresh default install (no numba: NumPy kernels), "
            f"{logit_rows:,} rows",
            Command(
                f"xent kl --as logits, {default.label}",
                [*default.xent, *logits_argv[1:]],
                fresh_cache=True,
                env=default.env,
            ),
            Command("NumPy + scipy log_softmax, 256 rows a block", blockwise),
            1.0,
            400,
        ),
        Workload(
            "logits-fresh-fast",
            f"kl --as logits, first run with the [fast] extra (numba, empty cache), {logit_rows:,} rows",
            Command("xent[fast] kl --as logits, empty numba cache", logits_argv, fresh_cache=True),
            Command("NumPy + scipy log_softmax, 256 rows a block", blockwise),
            None,
            400,
        ),
        *polars,
        Workload(
            "startup",
            "start-up: xent entropy 0.5,0.5",
            Command("xent", [*xent, "entropy", "0.5,0.5", "--value"]),
            Command('python -c "import numpy"', [*python, "-c", "import numpy"]),
            1.5,
        ),
    ]


def interleaved(chosen: list[Workload], rounds: int) -> None:
    for r in range(rounds):
        print(f"round {r + 1}/{rounds} (load {os.getloadavg()[0]:.1f})", file=sys.stderr)
        for work in chosen:
            commands = [work.xent, work.baseline, *work.extra]
            if r % 2:
                commands.reverse()
            for command in commands:
                command.runs.append(
                    run_once(command.argv, fresh_cache=command.fresh_cache, extra_env=command.env)
                )


def check_same(work: Workload) -> None:
    """The baselines must compute the same number (to their own precision)."""
    if work.key == "startup":
        return
    try:
        mine = float(work.xent.runs[0].output.split()[-1])
        theirs = float(work.baseline.runs[0].output.split()[-1])
    except (ValueError, IndexError):
        return
    if abs(mine - theirs) > 1e-9 * max(1.0, abs(theirs)):
        print(f"warning: {work.title}: xent gives {mine!r}, the baseline {theirs!r}", file=sys.stderr)


def report(chosen: list[Workload], rounds: int) -> None:
    print(f"\n{rounds} interleaved rounds, medians; ratio = xent time / baseline time (< 1: xent faster)\n")
    print("| workload | command | time (s) | CPU (s) | peak (MiB) | time ratio | goal | met |")
    print("|---|---|---:|---:|---:|---:|---|---|")
    for work in chosen:
        check_same(work)
        base = work.baseline.median_wall()
        ratio = work.xent.median_wall() / base
        goals = []
        met = []
        if work.goal_time is not None:
            goals.append(f"≤ {work.goal_time:g}x")
            met.append(ratio <= work.goal_time)
        if work.goal_peak_mib is not None:
            goals.append(f"≤ {work.goal_peak_mib:g} MB")
            met.append(work.xent.peak() <= work.goal_peak_mib * 1.048576)  # MB -> MiB
        verdict = ("yes" if all(met) else "no") if met else ""
        mine = work.xent
        print(
            f"| {work.title} | {mine.name} | {mine.median_wall():.2f} | {mine.median_cpu():.2f} "
            f"| {mine.peak():.0f} | **{ratio:.2f}** | {', '.join(goals)} | {verdict} |"
        )
        print(
            f"| | {work.baseline.name} | {base:.2f} | {work.baseline.median_cpu():.2f} "
            f"| {work.baseline.peak():.0f} | 1.00 | | |"
        )
        for extra in work.extra:
            to_xent = extra.median_wall() / work.xent.median_wall()
            wall = extra.median_wall()
            print(
                f"| | {extra.name} | {wall:.2f} | {extra.median_cpu():.2f} | {extra.peak():.0f} "
                f"| {wall / base:.2f} | ≤ 1.5x {work.xent.name}: {to_xent:.2f}x "
                f"| {'yes' if to_xent <= 1.5 else 'no'} |"
            )


def scaling(xent: list[str], quick: bool, rounds: int) -> None:
    scale = 10 if quick else 1
    tag = "" if scale == 1 else f"-{scale}"
    base_p, base_q = DATA / f"p-1M{tag}.csv", DATA / f"q-1M{tag}.csv"
    rows = 1_000_000 // scale
    print(f"\nScaling ({rounds} round(s) each, medians)\n")
    print("| workload | rows | time (s) | CPU (s) | µs per row | peak (MiB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for times in (1, 4, 16):
        p = base_p if times == 1 else DATA / f"p-{times}M{tag}.csv"
        q = base_q if times == 1 else DATA / f"q-{times}M{tag}.csv"
        repeat_csv(p, base_p, times)
        repeat_csv(q, base_q, times)
        n = rows * times
        for name, argv in (
            ("entropy, CSV x 10", [*xent, "entropy", str(p), "--value"]),
            ("kl, two CSVs x 10", [*xent, "kl", str(p), str(q), "--value"]),
        ):
            _scaling_row(name, n, argv, rounds)
    logit_base = 4096 // scale
    for times in (1, 4):
        n = logit_base * times
        a, b = DATA / f"logits-a-{n}.npy", DATA / f"logits-b-{n}.npy"
        if times == 1:
            a, b = DATA / f"logits-a{tag}.npy", DATA / f"logits-b{tag}.npy"
        write_logits(a, n, 32_000, 3)
        write_logits(b, n, 32_000, 4, base=a)
        _scaling_row(
            "kl --as logits, .npy x 32,000",
            n,
            [*xent, "kl", str(a), str(b), "--as", "logits", "--value"],
            rounds,
        )


def _scaling_row(name: str, n: int, argv: list[str], rounds: int) -> None:
    runs = [run_once(argv) for _ in range(rounds)]
    wall = statistics.median(r.wall for r in runs)
    cpu = statistics.median(r.cpu for r in runs)
    peak = max(r.peak_mib for r in runs)
    print(f"| {name} | {n:,} | {wall:.2f} | {cpu:.2f} | {wall / n * 1e6:.2f} | {peak:.0f} |", flush=True)


def compile_xent() -> None:
    """Byte-compile xent_cli, as ``pip install`` does: a development install run with
    PYTHONDONTWRITEBYTECODE set would otherwise compile every module on every start."""
    import compileall

    import xent_cli

    compileall.compile_dir(str(Path(xent_cli.__file__).parent), quiet=1)


def default_install(name: str = "xent-cli") -> dict[str, float]:
    """MiB on disk of each distribution a default ``pip install`` of ``name`` brings (no extras),
    as installed in this environment."""
    import re

    sizes: dict[str, float] = {}
    todo = [name]
    while todo:
        current = todo.pop()
        key = re.sub(r"[-_.]+", "-", current).lower()
        if key in sizes:
            continue
        try:
            dist = importlib.metadata.distribution(current)
        except importlib.metadata.PackageNotFoundError:
            continue
        total = 0
        for file in dist.files or []:
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                total += path.stat().st_size
        sizes[key] = total / 2**20
        for requirement in dist.requires or []:
            if "extra ==" in requirement:
                continue
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
            if match:
                todo.append(match.group(0))
    return sizes


# Makes `import scipy` fail, as in what `pip install 'xent-cli[fast]'` installs (xent does not
# depend on SciPy; the test extra brings it). Where SciPy is importable, numba's first compiled
# call imports its BLAS bindings (numba.np.arraymath), about 0.3 s of CPU here.
_NO_SCIPY = 'import sys\n\nsys.modules["scipy"] = None\n'


def _no_scipy_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="xent-bench-no-scipy-"))
    (folder / "sitecustomize.py").write_text(_NO_SCIPY)
    return folder


# Makes `import numba` fail as it does where numba is not installed (the default install):
# the stand-in for a fresh default install when --no-install skips making one.
_NO_NUMBA = 'import sys\n\nsys.modules["numba"] = None\n'


@dataclass
class DefaultInstall:
    """A fresh ``pip install .`` (no extras) in a new virtual environment, or its stand-in."""

    xent: list[str]
    label: str
    env: dict[str, str]
    folder: Path
    seconds: float | None = None  # venv + pip install, from the warm package cache
    sizes: dict[str, float] | None = None  # MiB a distribution, as installed there


def make_default_install(skip: bool) -> DefaultInstall:
    """A new venv with ``pip install .`` of this checkout, timed; with ``skip``, this environment's
    xent with numba made unimportable (the code path a default install runs, not its start-up)."""
    folder = Path(tempfile.mkdtemp(prefix="xent-bench-install-"))
    if skip:
        (folder / "sitecustomize.py").write_text(_NO_NUMBA)
        return DefaultInstall(xent_command(), "numba made unimportable", {"PYTHONPATH": str(folder)}, folder)
    print("a fresh default install (python -m venv && pip install .) ...", file=sys.stderr)
    venv = folder / "venv"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-input", str(HERE.parent)],
        check=True,
    )
    seconds = time.perf_counter() - start
    sizes = json.loads(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", _SIZES, str(HERE)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    return DefaultInstall([str(venv / "bin" / "xent")], "fresh default install", {}, folder, seconds, sizes)


# Run by the fresh install's Python: default_install() there (this file, without its imports).
_SIZES = """
import importlib.metadata, json, re, sys
from pathlib import Path
source = (Path(sys.argv[1]) / "speed.py").read_text()
start = source.index("def default_install(")
namespace = {"importlib": importlib, "re": re, "Path": Path}
exec(source[start : source.index("\\n\\n\\n", start)], namespace)
print(json.dumps(namespace["default_install"]()))
"""


# The floors: what the machine itself costs for the work every tool must do, timed inside a
# fresh process (the seconds printed), so that a slow or loaded machine shows as such.
_FLOORS = {
    "pandas.read_csv, the 1M x 10 CSV (parse only)": (
        "pandas",
        "import sys, time, pandas as pd\n"
        "t = time.perf_counter(); pd.read_csv(sys.argv[1]); print(time.perf_counter() - t)",
    ),
    "polars.read_csv, the same (parse only)": (
        "polars",
        "import sys, time, polars as pl\n"
        "t = time.perf_counter(); pl.read_csv(sys.argv[1]); print(time.perf_counter() - t)",
    ),
    "pyarrow.csv.read_csv, the same (parse only)": (
        "pyarrow",
        "import sys, time, pyarrow.csv as pc\n"
        "t = time.perf_counter(); pc.read_csv(sys.argv[1]); print(time.perf_counter() - t)",
    ),
    "NumPy exp, ns per float32 value (one thread)": (
        "numpy",
        "import time, numpy as np\n"
        "x = np.random.default_rng(0).standard_normal(1 << 24).astype(np.float32); y = np.exp(x)\n"
        "t = time.perf_counter()\n"
        "for _ in range(5): np.exp(x, out=y)\n"
        "print((time.perf_counter() - t) / 5 / x.size * 1e9)",
    ),
}


def floors(csv: Path, rounds: int) -> None:
    """The floors' medians over ``rounds`` fresh processes each, beside the start-up's baseline."""
    print(f"\nFloors ({rounds} runs each, medians; timed inside the process)\n")
    print("| floor | median | spread |")
    print("|---|---:|---:|")
    for name, (module, code) in _FLOORS.items():
        if importlib.util.find_spec(module) is None:
            continue
        values = sorted(float(run_once([sys.executable, "-c", code, str(csv)]).output) for _ in range(rounds))
        unit = "ns" if name.startswith("NumPy exp") else "s"
        print(f"| {name} | {statistics.median(values):.2f} {unit} | {values[0]:.2f}–{values[-1]:.2f} |")


def print_install_size(default: DefaultInstall) -> None:
    if default.sizes is None or default.seconds is None:
        sizes = default_install()
        where = "as installed here, extras left out; --no-install skipped the fresh install"
        seconds = ""
    else:
        sizes = default.sizes
        where = "a fresh venv"
        fast_enough = "yes" if default.seconds < 20 else "no"
        seconds = f", installed in {default.seconds:.1f} s (goal < 20 s: {fast_enough})"
    total = sum(sizes.values())
    verdict = "yes" if total <= 400 / 1.048576 else "no"
    print(f"\nA default install (pip install ., no extras; {where}): {total:.0f} MiB{seconds}")
    print(f"(goal ≤ 400 MB: {verdict})\n")
    print("| distribution | MiB |")
    print("|---|---:|")
    for key, mib in sorted(sizes.items(), key=lambda item: -item[1]):
        print(f"| {key} | {mib:.1f} |")


def print_versions() -> None:
    names = ["numpy", "pandas", "pyarrow", "numba", "polars", "scipy", "typer"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    print(f"Python {sys.version.split()[0]}; " + ", ".join(found))


def main() -> None:
    parser = argparse.ArgumentParser(description="xent speed and memory against hand-written scripts")
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--scaling-rounds", type=int, default=1, help="runs per scaling size (default 1)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling table")
    parser.add_argument(
        "--only",
        help="comma-separated workload keys (csv-entropy, csv-kl, parquet-entropy, parquet-kl, "
        "logits, logits-no-scipy, logits-fresh, logits-fresh-fast, csv-entropy-polars, csv-kl-polars, "
        "startup)",
    )
    parser.add_argument("--json", type=Path, help="also write the raw runs here")
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="skip the fresh default install (its size and time); logits-fresh then runs this "
        "environment's xent with numba made unimportable",
    )
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    xent = xent_command()
    compile_xent()
    default = make_default_install(args.no_install)
    try:
        run_all(args, xent, default)
    finally:
        shutil.rmtree(default.folder, ignore_errors=True)


def run_all(args: argparse.Namespace, xent: list[str], default: DefaultInstall) -> None:
    print("generating data (once) ...", file=sys.stderr)
    everything = workloads(10 if args.quick else 1, xent, default)
    chosen = [w for w in everything if args.only is None or w.key in args.only.split(",")]
    loads = [os.getloadavg()]
    started = time.strftime("%Y-%m-%d %H:%M")
    interleaved(chosen, args.rounds)
    loads.append(os.getloadavg())
    print(
        f"machine: {os.cpu_count()} cores; started {started}; load average (1, 5, 15 min) "
        f"at start {loads[0][0]:.1f} {loads[0][1]:.1f} {loads[0][2]:.1f}, "
        f"at end {loads[1][0]:.1f} {loads[1][1]:.1f} {loads[1][2]:.1f}"
    )
    print_versions()
    report(chosen, args.rounds)
    print_install_size(default)
    floors(DATA / f"p-1M{'-10' if args.quick else ''}.csv", args.rounds)
    if args.json is not None:
        raw = {
            w.key: {c.name: [r.__dict__ for r in c.runs] for c in (w.xent, w.baseline, *w.extra)}
            for w in chosen
        }
        args.json.write_text(json.dumps(raw, indent=1))
    if not args.no_scaling:
        scaling(xent, args.quick, args.scaling_rounds)
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
