"""Sharded inputs on the local engine and on a real Dask cluster (2 worker processes, loopback)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CliEnv
from tests.plans import write_rows_csv

K = 4


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("shards")
    rng = np.random.default_rng(5)
    sizes = [300, 1, 700, 250]
    p_parts = [rng.dirichlet(np.ones(K), size=n) for n in sizes]
    q_parts = [rng.dirichlet(np.ones(K), size=n) for n in sizes]
    for i, (p, q) in enumerate(zip(p_parts, q_parts, strict=True)):
        write_rows_csv(root / f"p-{i}.csv", p, f"s{i}-", label=True)
        write_rows_csv(root / f"q-{i}.csv", q, f"s{i}-")
        (root / f"p-{i}.jsonl").write_text("".join(json.dumps(list(map(float, r))) + "\n" for r in p))
        np.save(root / f"q-{i}.npy", q)
    p_all, q_all = np.concatenate(p_parts), np.concatenate(q_parts)
    write_rows_csv(root / "p-all.txt", p_all, "x", label=True)
    (root / "wrong").mkdir()
    write_rows_csv(root / "wrong" / "q-0.csv", q_parts[0][:-1], "w")
    return {"root": root, "p": p_all, "q": q_all}


def _doc(env: CliEnv, args: list[str]) -> dict:  # type: ignore[type-arg]
    result = env.run([*args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_local_shards_equal_one_file(env: CliEnv, shards: dict[str, object]) -> None:
    root = shards["root"]
    sharded = _doc(env, ["entropy", f"{root}/p-*.csv"])
    whole = _doc(env, ["entropy", f"{root}/p-all.txt", "--input-format", "csv"])
    assert sharded["summary"] == whole["summary"]
    assert sharded["rows"][-1]["id"] == "s3-249"
    assert sharded["sources"] == {"p": f"{root}/p-*.csv"}


def test_pairs_of_shards_in_every_format(env: CliEnv, shards: dict[str, object]) -> None:
    from xent_cli import kl_divergence

    root = shards["root"]
    expected = kl_divergence(shards["p"], shards["q"])  # type: ignore[arg-type]
    for p, q in ((f"{root}/p-*.csv", f"{root}/q-*.csv"), (f"{root}/p-*.jsonl", f"{root}/q-*.npy")):
        doc = _doc(env, ["kl", p, q])
        np.testing.assert_array_equal([r["value"] for r in doc["rows"]], expected)


def test_a_folder_is_its_shards(env: CliEnv, shards: dict[str, object], tmp_path: Path) -> None:
    root = shards["root"]
    for i in range(4):
        (tmp_path / f"part-{i}.npy").write_bytes((root / f"q-{i}.npy").read_bytes())
    by_folder = _doc(env, ["entropy", str(tmp_path)])
    by_glob = _doc(env, ["entropy", f"{root}/q-*.npy"])
    assert by_folder["summary"] == by_glob["summary"]


def test_shard_mismatches_are_named(env: CliEnv, shards: dict[str, object]) -> None:
    root = shards["root"]
    count = env.run(["kl", f"{root}/p-*.csv", f"{root}/q-[0-2].csv"])
    assert count.exit_code == 2
    assert count.stderr == (
        f"xent: error: {root}/p-*.csv has 4 shards but {root}/q-[0-2].csv has 3 "
        "(shards pair in order: give both the same number)\n"
    )
    rows = env.run(["kl", f"{root}/p-0.csv", f"{root}/wrong/*.csv"])
    assert rows.exit_code == 2
    assert rows.stderr.startswith(
        f"xent: error: {root}/p-0.csv has 300 rows but {root}/wrong/q-0.csv has 299"
    )


def test_sharded_loss_needs_a_column(env: CliEnv, shards: dict[str, object]) -> None:
    root = shards["root"]
    sharded = _doc(env, ["loss", f"{root}/p-*.csv", "--target", "label"])
    whole = _doc(env, ["loss", f"{root}/p-all.txt", "--input-format", "csv", "--target", "label"])
    assert sharded["loss"] == whole["loss"]
    result = env.run(["loss", f"{root}/p-*.csv", "--target", "0,1"])
    assert result.exit_code == 2
    assert "must name a column" in result.stderr


def test_sharded_calibration_equals_one_file(env: CliEnv, shards: dict[str, object]) -> None:
    root = shards["root"]
    sharded = _doc(env, ["calibration", f"{root}/p-*.csv", "--target", "label"])
    whole = _doc(env, ["calibration", f"{root}/p-all.txt", "--input-format", "csv", "--target", "label"])
    assert sharded["summary"] == whole["summary"]
    assert sharded["bins"] == whole["bins"]


def test_commands_that_read_one_file_say_so(env: CliEnv, shards: dict[str, object]) -> None:
    result = env.run(["info", f"{shards['root']}/p-*.csv"])
    assert result.exit_code == 2
    assert "is 4 shards; xent info reads one file" in result.stderr


def test_missing_dask_is_an_exit_2_with_the_install_command(shards: dict[str, object]) -> None:
    code = (
        "import sys; sys.modules['distributed'] = None; sys.argv = ['xent', 'entropy', "
        f"{str(shards['root'] / 'p-0.csv')!r}, '--engine', 'dask']; "
        "from xent_cli.cli import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2
    assert done.stderr == (
        "xent: error: --engine dask needs Dask's distributed scheduler "
        "(pip install 'dask[distributed]', or pip install '.[dask]' from a checkout of xent)\n"
    )


# --- a real cluster ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    # No dashboard, and the scheduler's HTTP server on a free port: the tests must not depend
    # on what else listens on this machine (8787, the default, is often taken).
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        scheduler_kwargs={"dashboard": False},
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.mark.parametrize(
    "args",
    [
        ["entropy", "{root}/p-*.csv"],
        ["kl", "{root}/p-*.jsonl", "{root}/q-*.npy"],
        ["compare", "{root}/p-*.csv", "{root}/q-*.csv", "--explain"],
        ["loss", "{root}/p-*.csv", "--target", "label"],
        # Bootstrap sums from each shard's rows, keyed by their global row numbers: the same interval.
        ["compare", "{root}/p-*.csv", "{root}/q-*.csv", "--ci", "0.9", "--bootstrap", "200", "--seed", "3"],
        ["loss", "{root}/p-*.csv", "--target", "label", "--ci", "0.95", "--fail-above", "log_loss.ci_low=9"],
        # Intervals of gated statistics other than the means: from the same merged sums.
        [
            "loss",
            "{root}/p-*.csv",
            "--target",
            "label",
            "--ci",
            "0.9",
            "--fail-above",
            "perplexity.ci_high=1e9",
            "--fail-below",
            "log_loss.sum.ci_low=0",
        ],
        ["calibration", "{root}/p-*.csv", "--target", "label", "--classwise"],
        [
            "calibration",
            "{root}/p-*.csv",
            "--target",
            "label",
            "--ci",
            "0.9",
            "--fail-above",
            "brier.ci_high=2",
        ],
    ],
)
def test_dask_equals_local(env: CliEnv, shards: dict[str, object], scheduler: str, args: list[str]) -> None:
    args = [a.format(root=shards["root"]) for a in args]
    local = _doc(env, args)
    on_dask = _doc(env, [*args, "--engine", "dask", "--scheduler", scheduler])
    assert on_dask == local


@pytest.fixture(scope="module")
def weighted_shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shards written by pandas (defaults: the index as a first column) with a label and a weight column."""
    import pandas as pd

    root = tmp_path_factory.mktemp("weighted")
    rng = np.random.default_rng(11)
    for i, n in enumerate([300, 1, 700, 250]):
        frame = pd.DataFrame(rng.dirichlet(np.ones(K), size=n), columns=[f"c{k}" for k in range(K)])
        frame["label"] = [f"c{k}" for k in rng.integers(0, K, n)]
        frame["w"] = rng.integers(0, 4, n) * rng.random(n)  # zeros among them
        frame.to_csv(root / f"pw-{i}.csv")
        frame.drop(columns="label").to_csv(root / f"ew-{i}.csv")
        q = pd.DataFrame(rng.dirichlet(np.ones(K), size=n), columns=[f"c{k}" for k in range(K)])
        q.to_csv(root / f"qw-{i}.csv")
    return root


@pytest.mark.parametrize(
    "args",
    [
        ["loss", "{root}/pw-*.csv", "--target", "label", "--weights", "w", "--worst", "3"],
        ["entropy", "{root}/ew-*.csv", "--weights", "w", "--fail-above", "entropy.p90=9"],
        ["compare", "{root}/ew-*.csv", "{root}/qw-*.csv", "--weights", "w", "--measures", "kl,js"],
        ["calibration", "{root}/pw-*.csv", "--target", "label", "--weights", "w", "--classwise"],
    ],
)
def test_weighted_results_on_dask_equal_local(
    env: CliEnv, weighted_shards: Path, scheduler: str, args: list[str]
) -> None:
    """Weighted summaries (mean, std_error, percentiles), weighted loss and calibration: the same digits."""
    args = [a.format(root=weighted_shards) for a in args]
    local = _doc(env, args)
    assert "weights" in local or local["command"] == "calibration"
    on_dask = _doc(env, [*args, "--engine", "dask", "--scheduler", scheduler])
    assert on_dask == local


@pytest.mark.parametrize(
    "args",
    [
        ["loss", "{root}/pw-*.csv", "--target", "label", "--weights", "w", "--worst", "3", "--rows", "5"],
        ["entropy", "{root}/ew-*.csv", "--weights", "w", "--fail-above", "entropy.p99.9=9"],
        ["compare", "{root}/ew-*.csv", "{root}/qw-*.csv", "--weights", "w", "--measures", "kl,js"],
    ],
)
def test_weighted_summaries_on_dask_merge_from_shard_partials(
    env: CliEnv, weighted_shards: Path, scheduler: str, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No partial comes to the client, and the percentiles narrow over several rounds: the same digits."""
    from xent_cli.core.weighted_merge import WeightedPercentilePlan
    from xent_cli.pipeline import dask_engine

    args = [a.format(root=weighted_shards) for a in args]
    local = _doc(env, args)

    def refused(*_: object, **__: object) -> None:
        raise AssertionError("the partials were brought to the client")

    monkeypatch.setattr(dask_engine, "merged_result", refused)
    monkeypatch.setattr(WeightedPercentilePlan, "fetch_rows", 2)  # the client's plan: many rounds
    on_dask = _doc(env, [*args, "--engine", "dask", "--scheduler", scheduler])
    assert on_dask == local
    assert on_dask["weights"] == local["weights"]


def test_dask_errors_are_one_line(env: CliEnv, shards: dict[str, object], scheduler: str) -> None:
    root = shards["root"]
    result = env.run(
        ["kl", f"{root}/p-0.csv", f"{root}/wrong/*.csv", "--engine", "dask", "--scheduler", scheduler]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"xent: error: {root}/p-0.csv has 300 rows but")
    assert result.stderr.count("\n") == 1


def test_gates_on_dask(env: CliEnv, shards: dict[str, object], scheduler: str) -> None:
    root = shards["root"]
    base = [
        "kl",
        f"{root}/p-*.csv",
        f"{root}/q-*.csv",
        "--engine",
        "dask",
        "--scheduler",
        scheduler,
        "--value",
    ]
    assert env.run([*base, "--fail-above", "100"]).exit_code == 0
    assert env.run([*base, "--fail-above", "0.01"]).exit_code == 1


def test_unreachable_scheduler(env: CliEnv, shards: dict[str, object]) -> None:
    pytest.importorskip("distributed")
    result = env.run(
        ["entropy", f"{shards['root']}/p-0.csv", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("xent: error: --scheduler tcp://127.0.0.1:9: cannot connect")


def _die_once(marker: str, spec: object, unit: object, tolerance: float) -> object:
    """Kills its worker process the first time it runs, then computes normally."""
    import os

    from xent_cli.pipeline.tasks import entropy_task

    if not os.path.exists(marker):
        Path(marker).write_text("died")
        os._exit(1)
    return entropy_task(spec, unit=unit, tolerance=tolerance)  # type: ignore[arg-type]


def _always_die(*args: object) -> object:
    import os

    os._exit(1)


def test_a_task_whose_worker_dies_is_run_again(
    shards: dict[str, object], scheduler: str, tmp_path: Path
) -> None:
    from xent_cli.io.readers import ReadOptions
    from xent_cli.io.sources import resolve
    from xent_cli.pipeline.align import InputSpec
    from xent_cli.pipeline.engine import Engine, Task
    from xent_cli.pipeline.tasks import entropy_task
    from xent_cli.results import Unit

    spec = InputSpec(resolve(str(shards["root"] / "p-2.csv"), stdin_is_terminal=True), ReadOptions())
    unit = Unit.parse("e")
    marker = str(tmp_path / "marker")
    [part] = Engine("dask", scheduler).run([Task(_die_once, (marker, spec, unit, 1e-6))])
    assert Path(marker).exists()
    expected = entropy_task(spec, unit=unit, tolerance=1e-6)
    np.testing.assert_array_equal(part.measures[0].values, expected.measures[0].values)


def test_workers_that_keep_dying_end_the_run_with_one_error(
    shards: dict[str, object], scheduler: str
) -> None:
    from xent_cli.errors import InputError
    from xent_cli.pipeline.engine import Engine, Task

    with pytest.raises(InputError, match="a Dask worker died while running a shard"):
        Engine("dask", scheduler).run([Task(_always_die)])
