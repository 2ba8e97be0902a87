"""The Dask engine on a cluster of this machine: per-shard cost, and the client's peak memory.

Run from the repository root (Dask installed)::

    python -m benchmarks.dask_scale                    # 8M, 32M and 64M rows
    python -m benchmarks.dask_scale --sizes 8 32       # millions of rows
    python -m benchmarks.dask_scale --skip-shard-cost
    python -m benchmarks.dask_scale --many-shards 10000  # only part 3

It starts a ``dask scheduler`` and two standard ``dask worker`` processes (each
with its nanny, one thread) on 127.0.0.1, in another folder than the data.

1. **Per-shard cost.** One shard (2M rows × 8 outcomes, ``.npy``) run by
   ``xent entropy``'s task: in this process (``--engine local``), on a
   standard worker, and on a worker with ``XENT_MALLOC_TUNING=0``, which
   leaves glibc as the nanny's ``MALLOC_TRIM_THRESHOLD_=65536`` sets it.
   Each is timed on the worker itself, the median of a few runs.
2. **Client memory.** ``xent entropy SHARDS --value --scheduler …`` over
   8M/32M/64M rows (2M-row shards, hard links to one file, so the page cache
   holds one copy): the xent process's wall time and peak resident memory.
   The summary's client memory stays flat: only digests and a few KB per
   percentile round travel; the per-row values stay on the workers.
3. **Many shards** (``--many-shards N``). N tiny CSV shards (100 rows × 4
   outcomes each) in one folder, ``xent entropy 'DIR/*.csv' --value`` and
   ``--json --rows 0`` with ``--scheduler …`` and with ``--engine local``:
   wall time and peak memory of the xent process, and whether the outputs
   are equal byte for byte. The engine submits every shard in one
   ``client.map`` and lists the glob once, on the client.
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
from pathlib import Path
from typing import Any

import numpy as np

SHARD_ROWS = 2_000_000
K = 8


def start_cluster(folder: Path, workers: list[dict[str, str]]) -> tuple[list[subprocess.Popen[bytes]], str]:
    file = folder / "scheduler.json"
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(file)],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    while not file.exists() or not file.read_text().strip():
        time.sleep(0.2)
    time.sleep(0.3)
    address = json.loads(file.read_text())["address"]
    processes = [scheduler]
    for i, extra in enumerate(workers):
        command = [sys.executable, "-m", "dask", "worker", address, "--nthreads", "1", "--no-dashboard"]
        command += ["--name", f"w{i}", "--memory-limit", "0"]
        env = {**os.environ, **extra}
        quiet = subprocess.DEVNULL
        processes.append(subprocess.Popen(command, cwd=folder, env=env, stdout=quiet, stderr=quiet))
    return processes, address


def timed_task(task: Any) -> float:
    """Runs on a worker: the seconds one task takes there (its partial is not sent back)."""
    from xent_cli.tuning import tune_allocator

    tune_allocator()
    start = time.perf_counter()
    task()
    return time.perf_counter() - start


def shard_cost(path: Path, address: str, repeat: int) -> dict[str, float]:
    from distributed import Client

    from xent_cli.io.readers import ReadOptions
    from xent_cli.io.sources import resolve
    from xent_cli.pipeline.align import InputSpec
    from xent_cli.pipeline.plan import entropy_plan
    from xent_cli.results import Unit

    spec = InputSpec(resolve(str(path), stdin_is_terminal=True), ReadOptions())
    [task] = entropy_plan(spec, unit=Unit.parse("e"), tolerance=1e-6).tasks
    task()  # warm up (numba compiles, the file is cached)
    local = statistics.median(timed_task(task) for _ in range(repeat))
    result = {"local": local}
    with Client(address, timeout="30s") as client:
        client.wait_for_workers(2, timeout=60)
        workers = client.scheduler_info(n_workers=-1)["workers"]
        names = {info["name"]: worker for worker, info in workers.items()}
        labels = (("worker (tuned)", "w0"), ("worker (MALLOC_TRIM_THRESHOLD_ as Dask sets it)", "w1"))
        for label, name in labels:
            runs = [
                client.submit(timed_task, task, workers=[names[name]], pure=False).result()
                for _ in range(repeat + 1)
            ]
            result[label] = statistics.median(runs[1:])  # the first compiles
    return result


_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, timeout=3600)
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall": wall, "peak_kib": peak, "code": done.returncode, "out": done.stdout.decode(),
                  "err": done.stderr.decode()[-500:]}))
"""


def client_memory(folder: Path, shard: Path, millions: int, address: str) -> dict[str, Any]:
    shards = folder / f"rows-{millions}M"
    shards.mkdir(exist_ok=True)
    for i in range(millions * 1_000_000 // SHARD_ROWS):
        link = shards / f"part-{i:03d}.npy"
        if not link.exists():
            os.link(shard, link)
    run = measured(
        [sys.executable, "-m", "xent_cli", "entropy", str(shards), "--value", "--scheduler", address]
    )
    return {"rows": millions * 1_000_000, "wall": run["wall"], "peak_mib": run["peak_kib"] / 1024,
            "value": run["out"].strip()}  # fmt: skip


MANY_ROWS, MANY_K = 100, 4


def write_many_shards(folder: Path, count: int) -> Path:
    """``count`` CSV shards of MANY_ROWS rows x MANY_K outcomes (kept between runs: writing takes a while)."""
    shards = folder / f"many-{count}"
    done = shards / ".complete"
    if done.exists():
        return shards
    shards.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    header = ",".join(f"c{i}" for i in range(MANY_K))
    for i in range(count):
        rows = rng.dirichlet(np.full(MANY_K, 0.5), size=MANY_ROWS)
        lines = [header, *(",".join(repr(float(v)) for v in row) for row in rows)]
        (shards / f"part-{i:05d}.csv").write_text("\n".join(lines) + "\n")
    done.touch()
    return shards


def measured(command: list[str]) -> dict[str, Any]:
    """Wall time, peak resident memory, exit code and output of one run of ``command``."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, check=True
    )
    run: dict[str, Any] = json.loads(done.stdout)
    if run["code"] != 0:
        raise SystemExit(f"{' '.join(command[2:])} failed: {run['err']}")
    return run


def many_shards(folder: Path, count: int, address: str) -> None:
    start = time.perf_counter()
    shards = write_many_shards(folder, count)
    print(f"Many shards: {count:,} CSV shards of {MANY_ROWS} rows x {MANY_K} outcomes "
          f"({time.perf_counter() - start:.0f} s to write or find), 2 standard workers:")  # fmt: skip
    print(f"  {'command':<44} {'engine':<7} {'wall s':>8} {'peak MiB':>9}  equal")
    pattern = f"{shards}/*.csv"
    for output in (["--value"], ["--json", "--rows", "0"]):
        xent = [sys.executable, "-m", "xent_cli", "entropy", pattern, *output]
        runs = {
            "dask": measured([*xent, "--scheduler", address]),
            "local": measured([*xent, "--engine", "local"]),
        }
        same = runs["dask"]["out"] == runs["local"]["out"]
        for engine, run in runs.items():
            shown = f"entropy 'DIR/*.csv' {' '.join(output)}"
            print(f"  {shown:<44} {engine:<7} {run['wall']:8.1f} {run['peak_kib'] / 1024:9.0f}  {same}")
        if output == ["--value"]:
            print(f"  value: {runs['dask']['out'].strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[8, 32, 64], help="millions of rows")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-shard-cost", action="store_true")
    parser.add_argument(
        "--many-shards", type=int, metavar="N", help="only measure N tiny CSV shards (part 3)"
    )
    parser.add_argument(
        "--data", type=Path, help="keep the many shards in this folder (reused by the next run)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xent-dask-scale-") as temp:
        folder = Path(temp)
        data, cluster = folder / "data", folder / "cluster"
        data.mkdir()
        cluster.mkdir()
        if args.many_shards:
            processes, address = start_cluster(cluster, [{}, {}])
            try:
                many_shards(args.data or data, args.many_shards, address)
            finally:
                stop(processes)
            return
        shard = data / "shard.npy"
        rng = np.random.default_rng(1)
        np.save(shard, rng.dirichlet(np.ones(K), size=SHARD_ROWS))
        if not args.skip_shard_cost:
            processes, address = start_cluster(cluster, [{}, {"XENT_MALLOC_TUNING": "0"}])
            try:
                print(f"Per-shard cost: entropy, {SHARD_ROWS:,} rows x {K} outcomes, median of {args.repeat}")
                for label, seconds in shard_cost(shard, address, args.repeat).items():
                    print(f"  {label:<50} {seconds:7.3f} s")
            finally:
                stop(processes)
        processes, address = start_cluster(cluster, [{}, {}])
        try:
            print("Client (the xent process) with --value, 2 standard workers:")
            print(f"  {'rows':>12} {'wall s':>8} {'peak MiB':>9}  value")
            for millions in args.sizes:
                run = client_memory(folder, shard, millions, address)
                print(f"  {run['rows']:>12,} {run['wall']:8.1f} {run['peak_mib']:9.0f}  {run['value']}")
        finally:
            stop(processes)


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in reversed(processes):
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
