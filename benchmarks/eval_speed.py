"""The evaluator's costs (issue 26): calibration vs loss, weighted vs unweighted, the divergence family vs kl.

Run from the repository root::

    python -m benchmarks.eval_speed                 # 1M rows x 10 classes, 5 rounds
    python -m benchmarks.eval_speed --rows 20000 --rounds 1   # a smoke run

Every command runs in a fresh process (the installed ``xent`` beside this Python) and prints
only its headline (``--value``), so the time is reading, computing and summarizing, not
writing a million rows. The pairs run in rounds, each pair's order alternating from round to
round, so that a change in the machine's load hits both alike. The table gives the medians
over the rounds of the CPU time (user + system: less disturbed by other jobs on a shared
machine) and of the wall time, and the ratio of the CPU times with the issue's goal:

* ``calibration`` of 1M x 10 predictions within 1.5x ``loss`` on the same file;
* a weighted summary (``--weights w``, a column of the file) within 1.2x the unweighted one;
* each divergence of the family (``compare --measures renyi:0.5`` ...) within 2x ``kl``;
* ``kl --ci 0.95`` (1,000 bootstrap resamples, issue 27) within 3x ``kl``, on Parquet and on
  ``.npy`` (where reading is fastest, so the bootstrap's share is largest).

Data (Parquet written by pandas, the same P and Q by ``np.save``) goes to ``benchmarks/data/``
(ignored by git) and is reused.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
CLASSES = 10
FAMILY = ("renyi:0.5", "tsallis:2", "chi2", "bhattacharyya", "jeffreys")


@dataclass
class Timed:
    argv: list[str]
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)

    def run(self) -> None:
        start = time.perf_counter()
        process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        self.wall.append(time.perf_counter() - start)
        assert process.stdout is not None and process.stderr is not None
        out, err = process.stdout.read(), process.stderr.read()
        process.stdout.close()
        process.stderr.close()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(self.argv)} failed: {err.decode()}{out.decode()}")
        self.cpu.append(usage.ru_utime + usage.ru_stime)


@dataclass
class Pair:
    title: str
    xent: Timed
    reference: Timed
    goal: float

    def row(self) -> str:
        cpu, ref_cpu = statistics.median(self.xent.cpu), statistics.median(self.reference.cpu)
        wall, ref_wall = statistics.median(self.xent.wall), statistics.median(self.reference.wall)
        ratio = cpu / ref_cpu
        verdict = "met" if ratio <= self.goal else "NOT met"
        return (
            f"| {self.title} | {cpu:.2f} s | {ref_cpu:.2f} s | {wall:.2f} s | {ref_wall:.2f} s "
            f"| {ratio:.2f}x | <= {self.goal}x ({verdict}) |"
        )


def make_data(rows: int) -> dict[str, Path]:
    """P (with a label and a weight column) and Q, ``rows`` x ``CLASSES`` probabilities each."""
    import numpy as np
    import pandas as pd

    DATA.mkdir(exist_ok=True)
    paths = {
        "p": DATA / f"eval-p-{rows}.parquet",
        "q": DATA / f"eval-q-{rows}.parquet",
        "p_npy": DATA / f"eval-p-{rows}.npy",
        "q_npy": DATA / f"eval-q-{rows}.npy",
    }
    if all(path.exists() for path in paths.values()):
        return paths
    rng = np.random.default_rng(26)
    columns = [f"c{k}" for k in range(CLASSES)]
    p = rng.dirichlet(np.full(CLASSES, 0.5), size=rows)
    q = 0.9 * p + 0.1 * rng.dirichlet(np.ones(CLASSES), size=rows)
    frame = pd.DataFrame(p, columns=columns)
    # the true class: drawn from P itself, so the model is calibrated up to noise
    frame["label"] = [columns[k] for k in (p.cumsum(axis=1) > rng.random((rows, 1))).argmax(axis=1)]
    frame["w"] = rng.uniform(0, 2, rows)
    frame.to_parquet(paths["p"])
    pd.DataFrame(q, columns=columns).to_parquet(paths["q"])
    np.save(paths["p_npy"], p)
    np.save(paths["q_npy"], q)
    return paths


def pairs(xent: str, paths: dict[str, Path]) -> list[Pair]:
    p, q = str(paths["p"]), str(paths["q"])
    outcomes = ",".join(f"c{k}" for k in range(CLASSES))

    def cmd(*args: str) -> Timed:
        return Timed([xent, *args, "--value"])

    found = [
        Pair(
            "calibration vs loss",
            cmd("calibration", p, "--target", "label", "--weights", "w"),
            cmd("loss", p, "--target", "label", "--weights", "w"),
            1.5,
        ),
        Pair(
            "calibration vs loss (unweighted)",
            cmd("calibration", p, "--target", "label", "--columns", outcomes),
            cmd("loss", p, "--target", "label", "--columns", outcomes),
            1.5,
        ),
        Pair(
            "kl --weights w vs kl",
            cmd("kl", p, q, "--weights", "w"),
            cmd("kl", p, q, "--columns", outcomes),
            1.2,
        ),
        Pair(
            "entropy --weights w vs entropy",
            cmd("entropy", p, "--weights", "w", "--columns", outcomes),
            cmd("entropy", p, "--columns", outcomes),
            1.2,
        ),
    ]
    for name, (p_ci, q_ci) in {"Parquet": (p, q), ".npy": (str(paths["p_npy"]), str(paths["q_npy"]))}.items():
        columns = ["--columns", outcomes] if name == "Parquet" else []
        found.append(
            Pair(
                f"kl --ci 0.95 vs kl ({name})",
                cmd("kl", p_ci, q_ci, *columns, "--ci", "0.95"),
                cmd("kl", p_ci, q_ci, *columns),
                3.0,
            )
        )
    for measure in FAMILY:
        found.append(
            Pair(
                f"compare --measures {measure} vs kl",
                cmd("compare", p, q, "--columns", outcomes, "--measures", measure),
                cmd("kl", p, q, "--columns", outcomes),
                2.0,
            )
        )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    xent = shutil.which("xent", path=str(Path(sys.executable).parent)) or shutil.which("xent")
    if xent is None:
        raise SystemExit("the xent command is not installed beside this Python")
    paths = make_data(args.rows)
    found = pairs(xent, paths)
    for round_number in range(args.rounds):
        for pair in found:
            order = (pair.xent, pair.reference) if round_number % 2 == 0 else (pair.reference, pair.xent)
            for timed in order:
                timed.run()
    print(f"{args.rows:,} rows x {CLASSES} classes, {args.rounds} rounds (medians)\n")
    print("| pair | CPU | reference CPU | wall | reference wall | CPU ratio | goal |")
    print("|---|---|---|---|---|---|---|")
    for pair in found:
        print(pair.row())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
