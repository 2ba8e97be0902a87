"""The Dask engine on a real cluster: a ``dask scheduler`` and two ``dask worker`` processes.

They listen on 127.0.0.1 at ports the system picks, and the workers run in
another folder than the tests, as on a real deployment. One cluster serves
the whole module.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import CliEnv
from tests.pipeline.dask_processes import start_scheduler, start_worker, stop
from tests.plans import write_rows_csv

distributed = pytest.importorskip("distributed", reason="the Dask tests need dask[distributed]")

K = 5


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("dask-cluster")
    scheduler, file = start_scheduler(folder, "scheduler")
    address = json.loads(file.read_text())["address"]
    workers = [start_worker(folder, address, f"w{i}") for i in range(2)]
    try:
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield {"address": address, "file": str(file)}
    finally:
        for process in [*workers, scheduler]:
            stop(process)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shards with ties, zeros (infinite KL) and one empty-ish shard; more rows than a key bucket."""
    root = tmp_path_factory.mktemp("dask-data")
    rng = np.random.default_rng(11)
    for i, n in enumerate([2000, 1, 3000, 700]):
        p = rng.dirichlet(np.full(K, 0.3), size=n)
        q = rng.dirichlet(np.ones(K), size=n)
        p[: n // 50] = np.eye(K)[0]  # repeated rows: tied values
        q[:3, 0] = 0.0  # a few rows where KL is infinite
        q[:3] /= q[:3].sum(axis=1, keepdims=True)
        write_rows_csv(root / f"p-{i}.csv", p, f"s{i}-", label=True)
        write_rows_csv(root / f"q-{i}.csv", q, f"s{i}-")
        np.save(root / f"q-{i}.npy", q)
    return root


def _run(env: CliEnv, args: list[str]) -> str:
    result = env.run(args)
    assert result.exit_code in (0, 1), result.stderr
    return result.stdout


# Each command with two of the outputs (every output with several commands): summaries with
# percentiles and worst rows, the headline with a gate on p99.9, a table (first rows and the
# histogram), per-row CSV.
CASES = [
    ["entropy", "p-*.csv", "--json", "--rows", "0", "--worst", "4"],
    ["entropy", "p-*.csv", "--format", "table", "--rows", "3", "--worst", "2"],
    ["kl", "p-*.csv", "q-*.npy", "--value", "--fail-above", "kl.p99.9=0.5"],
    ["kl", "p-*.csv", "q-*.npy", "--csv"],
    ["js", "p-*.csv", "q-*.csv", "--format", "table", "--rows", "0"],
    ["compare", "p-*.csv", "q-*.csv", "--explain", "--json", "--rows", "0", "--worst", "3"],
    ["compare", "p-*.csv", "q-*.csv", "--format", "table"],
    ["loss", "p-*.csv", "--target", "label", "--json", "--rows", "0"],
    ["loss", "p-*.csv", "--target", "label", "--value", "--fail-below", "accuracy.p0.1=0.5"],
]


@pytest.mark.parametrize("args", CASES, ids=lambda c: "-".join(a.strip("-") for a in c if "*" not in a)[:40])
def test_commands_and_outputs_equal_the_local_engine(
    env: CliEnv, cluster: dict[str, str], data: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Relative globs, from the data's folder: the workers run elsewhere.
    monkeypatch.chdir(data)
    local = _run(env, args)
    on_dask = _run(env, [*args, "--scheduler", cluster["address"]])
    assert on_dask == local


def test_json_rows_stream_in_order_and_equal_local(env: CliEnv, cluster: dict[str, str], data: Path) -> None:
    args = ["kl", f"{data}/p-*.csv", f"{data}/q-*.csv", "--json", "--worst", "3"]
    local = json.loads(_run(env, args))
    on_dask = json.loads(_run(env, [*args, "--scheduler-file", cluster["file"]]))
    assert on_dask == local
    assert [r["row"] for r in on_dask["rows"]] == list(range(1, 5702))


def test_the_client_receives_no_per_row_values_for_a_summary(cluster: dict[str, str], data: Path) -> None:
    from xent_cli.io.readers import ReadOptions
    from xent_cli.io.sources import resolve
    from xent_cli.pipeline.align import InputSpec
    from xent_cli.pipeline.dask_engine import DaskSession
    from xent_cli.pipeline.engine import Engine, Needs
    from xent_cli.pipeline.plan import entropy_plan
    from xent_cli.results import Unit

    spec = InputSpec(resolve(f"{data}/p-*.csv", stdin_is_terminal=True), ReadOptions())
    plan = entropy_plan(spec, unit=Unit.parse("e"), tolerance=1e-6)
    received: list[int] = []
    original = DaskSession.gather

    def counting(self: DaskSession, futures: list[object], fold: Any = None) -> list[object]:
        def measured(item: object) -> object:
            received.append(len(pickle.dumps(item)))
            return item if fold is None else fold(item)

        return original(self, futures, fold=measured)  # type: ignore[arg-type]

    engine = Engine("dask", cluster["address"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DaskSession, "gather", counting)
        remote = engine.result(plan.tasks, plan.spec, Needs(rows=False, worst=2))
    local = Engine().result(plan.tasks, plan.spec)
    assert remote.count == local.count == 5701
    assert remote.headline.values.shape == (0,)
    for extended in (False, True):
        assert remote.summary("entropy", extended=extended) == local.summary("entropy", extended=extended)
    assert remote.worst_rows(2) == local.worst_rows(2)
    # 5701 float64 values would be 45 KB; every reply together is a fraction of that.
    assert sum(received) < 20_000, received


SHARDS = 300


def test_many_shards_one_batch_one_listing_and_no_work_that_grows_faster(
    env: CliEnv, cluster: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """300 tiny shards: each round is one client.map over every shard, the glob is listed once,
    the client's event loop creates a few tasks per Dask task (not one per pending future for
    every completion), and a finished run sends the scheduler no cancel request."""
    import asyncio
    import glob

    from xent_cli.pipeline.dask_engine import DaskSession

    rng = np.random.default_rng(8)
    for i in range(SHARDS):
        write_rows_csv(tmp_path / f"part-{i}.csv", rng.dirichlet(np.ones(3), size=20), f"s{i}-")
    args = ["entropy", f"{tmp_path}/part-*.csv", "--json", "--rows", "0"]
    local = _run(env, args)

    maps: list[tuple[str, int]] = []
    cancelled: list[int] = []
    listed: list[str] = []
    created = [0]
    original_map, original_cancel = distributed.Client.map, distributed.Client.cancel
    original_glob, original_init = glob.glob, DaskSession.__init__

    def counting_map(self: Any, function: Any, *iterables: Any, **kwargs: Any) -> Any:
        maps.append((function.__name__, len(iterables[0])))
        return original_map(self, function, *iterables, **kwargs)

    def counting_cancel(self: Any, futures: Any, *args: Any, **kwargs: Any) -> Any:
        cancelled.append(len(futures))
        return original_cancel(self, futures, *args, **kwargs)

    def counting_glob(pattern: str, *args: Any, **kwargs: Any) -> list[str]:
        listed.append(pattern)
        return original_glob(pattern, *args, **kwargs)

    def counting_init(self: DaskSession, client: Any, *args: Any) -> None:
        original_init(self, client, *args)
        loop = client.loop.asyncio_loop

        def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
            created[0] += 1
            return asyncio.Task(coro, loop=loop, **kwargs)

        loop.call_soon_threadsafe(loop.set_task_factory, factory)

    monkeypatch.setattr(distributed.Client, "map", counting_map)
    monkeypatch.setattr(distributed.Client, "cancel", counting_cancel)
    monkeypatch.setattr(glob, "glob", counting_glob)
    monkeypatch.setattr(DaskSession, "__init__", counting_init)
    on_dask = _run(env, [*args, "--scheduler", cluster["address"]])
    assert on_dask == local
    assert json.loads(on_dask)["summary"]["count"] == SHARDS * 20
    assert listed == [f"{tmp_path}/part-*.csv"]
    assert maps[0] == ("_run_task", SHARDS)
    assert all(count == SHARDS for _, count in maps), maps
    assert len(maps) <= 5, maps  # the shards, their digests, and a round or two of percentiles
    assert cancelled == []
    assert 0 < created[0] < 5 * SHARDS * len(maps), created


def test_fsspec_urls_are_read_by_the_workers(env: CliEnv, cluster: dict[str, str], data: Path) -> None:
    local = _run(env, ["kl", f"{data}/p-*.csv", f"{data}/q-*.npy", "--json"])
    urls = _run(env, ["kl", f"file://{data}/p-*.csv", f"file://{data}/q-*.npy", "--json"])
    on_dask = _run(
        env,
        [
            "kl",
            f"file://{data}/p-*.csv",
            f"file://{data}/q-*.npy",
            "--json",
            "--scheduler",
            cluster["address"],
        ],
    )
    strip = lambda text: {k: v for k, v in json.loads(text).items() if k != "sources"}  # noqa: E731
    assert strip(urls) == strip(local) == strip(on_dask)
    assert json.loads(urls)["sources"] == {"p": f"file://{data}/p-*.csv", "q": f"file://{data}/q-*.npy"}


def test_memory_urls_and_their_messages(env: CliEnv, data: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    for i in range(4):
        memory.pipe(f"/xent-test/p-{i}.csv", (data / f"p-{i}.csv").read_bytes())
    by_url = json.loads(_run(env, ["entropy", "memory:///xent-test/p-*.csv", "--json", "--rows", "0"]))
    by_folder = json.loads(_run(env, ["entropy", "memory:///xent-test", "--json", "--rows", "0"]))
    by_path = json.loads(_run(env, ["entropy", f"{data}/p-*.csv", "--json", "--rows", "0"]))
    assert by_url["summary"] == by_folder["summary"] == by_path["summary"]
    missing = env.run(["entropy", "memory:///xent-test/nothing-*.csv"])
    assert (missing.exit_code, missing.stderr) == (
        2,
        "xent: error: memory:///xent-test/nothing-*.csv: no file matches "
        "(check the pattern; quote it so the shell does not expand it)\n",
    )
    absent = env.run(["entropy", "memory:///xent-test/absent.csv"])
    assert (absent.exit_code, absent.stderr) == (
        2,
        "xent: error: memory:///xent-test/absent.csv: no such file\n",
    )
    unknown = env.run(["entropy", "nosuchfs://bucket/p.csv"])
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("xent: error: nosuchfs://bucket/p.csv: cannot read this kind of URL")


def test_a_file_a_worker_cannot_open_is_named_with_the_worker(
    cluster: dict[str, str], tmp_path: Path
) -> None:
    from xent_cli.errors import InputError
    from xent_cli.io.readers import ReadOptions
    from xent_cli.io.sources import resolve
    from xent_cli.pipeline.align import InputSpec
    from xent_cli.pipeline.engine import Engine, Task
    from xent_cli.pipeline.tasks import entropy_task
    from xent_cli.results import Unit

    path = tmp_path / "here-only.csv"
    path.write_text("0.5,0.5\n")
    spec = InputSpec(resolve(str(path), stdin_is_terminal=True), ReadOptions())
    path.unlink()  # seen by this process, gone for the workers
    task = Task(entropy_task, (spec,), {"unit": Unit.parse("e"), "tolerance": 1e-6})
    with pytest.raises(InputError) as caught:
        Engine("dask", cluster["address"]).run([task])
    text = str(caught.value)
    assert text.startswith("worker tcp://127.0.0.1:")
    assert (
        f" cannot open {path}: No such file or directory (every Dask worker must see the same files" in text
    )


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("http://127.0.0.1:8787", "is a web address; a Dask scheduler listens at tcp://HOST:PORT"),
        ("foo", "expected tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786"),
        ("tcp://host:99999", "expected tcp://HOST:PORT"),
        ("gopher://h:1", "unknown protocol gopher://"),
    ],
)
def test_bad_scheduler_addresses_are_usage_errors(env: CliEnv, address: str, message: str) -> None:
    result = env.run(["entropy", "0.5,0.5", "--scheduler", address])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"xent: error: --scheduler {address!r}: {message}")
    assert result.stderr.count("\n") == 1


def test_a_missing_scheduler_file_is_a_usage_error(env: CliEnv, tmp_path: Path) -> None:
    result = env.run(["entropy", "0.5,0.5", "--scheduler-file", str(tmp_path / "none.json")])
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"xent: error: --scheduler-file {tmp_path / 'none.json'}: cannot read: No such file or directory\n"
    )


class Peer:
    """A TCP server on a free port that is not Dask: it says nothing, or sends bytes first."""

    def __init__(self, behaviour: str) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"tcp://127.0.0.1:{self.server.getsockname()[1]}"
        self.behaviour = behaviour
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            while True:
                connection, _ = self.server.accept()
                self.connections.append(connection)
                if self.behaviour == "chatty":
                    connection.sendall(b"\xff" * 64 + b"HTTP/1.1 200 OK\r\n\r\nhello")
        except OSError:
            pass

    def __enter__(self) -> str:
        return self.address

    def __exit__(self, *exc: object) -> None:
        self.server.close()
        for connection in self.connections:
            connection.close()


def test_a_peer_that_is_not_dask_is_one_line(env: CliEnv) -> None:
    from xent_cli.pipeline import dask_engine

    with Peer("chatty") as address:
        started = time.monotonic()
        result = env.run(["entropy", "0.5,0.5", "--scheduler", address])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"xent: error: --scheduler {address}: ")
    assert result.stderr.count("\n") == 1
    assert time.monotonic() - started < dask_engine.CONNECT_SECONDS + 10


def test_a_silent_peer_is_given_up_on(env: CliEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    from xent_cli.pipeline import dask_engine

    monkeypatch.setattr(dask_engine, "CONNECT_SECONDS", 1.0)
    with Peer("silent") as address:
        result = env.run(["entropy", "0.5,0.5", "--scheduler", address])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"xent: error: --scheduler {address}: ")


def test_worker_versions_are_checked() -> None:
    from importlib import metadata

    from xent_cli.errors import UsageError
    from xent_cli.pipeline.dask_engine import check_versions

    class Stub:
        def __init__(self, found: dict[str, object]) -> None:
            self.found = found

        def run(self, *args: object, **kwargs: object) -> dict[str, object]:
            return self.found

    here = metadata.version("xent-cli")
    check_versions(Stub({"tcp://a:1": here}))
    with pytest.raises(UsageError) as older:
        check_versions(Stub({"tcp://a:1": here, "tcp://b:2": "0.0.1"}))
    assert older.value.message == f"Dask worker tcp://b:2 runs xent 0.0.1, this is xent {here}"
    with pytest.raises(UsageError) as none:
        check_versions(Stub({"tcp://c:3": metadata.PackageNotFoundError("xent-cli")}))
    assert none.value.message == "Dask worker tcp://c:3 has no xent installed"


def test_real_workers_pass_the_version_check(cluster: dict[str, str]) -> None:
    from xent_cli.pipeline.dask_engine import check_versions

    with distributed.Client(cluster["address"], timeout="30s") as client:
        check_versions(client)


# --- signals and a lost scheduler: the installed command, in a process of its own ---------------------


def _slow_input(folder: Path) -> Path:
    rows = np.random.default_rng(3).dirichlet(np.ones(200), size=10_000)
    for i in range(8):
        np.save(folder / f"big-{i}.npy", rows)
    return folder


def _xent(args: list[str], **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "xent_cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "", **env},
    )


def _wait_until_busy(address: str, process: subprocess.Popen[str]) -> None:
    """Until some worker of the scheduler at ``address`` runs a task (``process`` started it)."""
    with distributed.Client(address, timeout="30s") as monitor:
        deadline = time.monotonic() + 60
        while not any(monitor.processing().values()):
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "no task started"
            time.sleep(0.2)


def test_no_workers_a_lost_scheduler_and_ctrl_c_are_one_line_each(
    cluster: dict[str, str], tmp_path: Path
) -> None:
    folder = _slow_input(tmp_path)
    slow = ["compare", f"{folder}/big-*.npy", f"{folder}/big-*.npy", "--json"]
    scheduler, file = start_scheduler(tmp_path, "doomed")
    address = json.loads(file.read_text())["address"]
    worker = None
    try:
        lonely = _xent(["entropy", "0.5,0.5", "--scheduler", address, "--worker-timeout", "1"])
        _, stderr = lonely.communicate(timeout=90)
        assert (lonely.returncode, stderr) == (
            2,
            f"xent: error: no Dask worker joined the scheduler at {address} within 1 s (start workers "
            "with: dask worker ADDRESS, or wait longer with --worker-timeout SECONDS)\n",
        )
        worker = start_worker(tmp_path, address, "lone")
        lost = _xent([*slow, "--scheduler", address])
        _wait_until_busy(address, lost)
        scheduler.kill()
        _, stderr = lost.communicate(timeout=90)
        assert (lost.returncode, stderr) == (
            2,
            f"xent: error: lost the connection to the scheduler at {address}; no result was computed "
            "(check that the scheduler is running and reachable)\n",
        )
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.kill()
                process.wait()
    interrupted = _xent([*slow, "--scheduler", cluster["address"]])
    _wait_until_busy(cluster["address"], interrupted)
    interrupted.send_signal(signal.SIGINT)
    _, stderr = interrupted.communicate(timeout=90)
    assert (interrupted.returncode, stderr) == (130, "xent: interrupted\n")
