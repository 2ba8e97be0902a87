"""Hostile output and process conditions, in real processes: devices, descriptors, pipes, signals.

Each output, process and core condition a CI job can meet, kept as a test. Device
nodes are made with ``mknod`` in a temporary folder (as root). The literal
``/dev/stdout``, ``/dev/null``, ``/dev/full`` run in a private mount namespace
with a scratch ``/dev`` (``unshare -m``), so that a regression could never
replace the machine's own device nodes. Both are skipped, with the reason,
where the platform cannot.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

XENT = shutil.which("xent", path=str(Path(sys.executable).parent)) or shutil.which("xent")
pytestmark = pytest.mark.skipif(XENT is None, reason="the xent command is not installed")

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="making device nodes needs root")

P_CSV = "a,b\n0.5,0.5\n0.2,0.8\n"
P_TSV_RESULT = "row\tid\tentropy_nats\n1\t\t0.6931471805599453\n2\t\t0.5004024235381879\n"


def run(
    *args: str, input: bytes | None = None, env: dict[str, str] | None = None, **kwargs: object
) -> subprocess.CompletedProcess[bytes]:
    assert XENT is not None
    return subprocess.run(
        [XENT, *args],
        input=input,
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
        **kwargs,  # type: ignore[call-overload]
    )


def shell(script: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    """A bash script with ``$XENT`` set, under ``set -o pipefail``."""
    assert XENT is not None
    return subprocess.run(
        ["bash", "-c", f"set -o pipefail\n{script}"],
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "XENT": XENT, **env},
    )


@pytest.fixture
def p_csv(tmp_path: Path) -> Path:
    path = tmp_path / "p.csv"
    path.write_text(P_CSV)
    return path


def _can_unshare() -> bool:
    if not IS_ROOT or shutil.which("unshare") is None:
        return False
    try:
        done = subprocess.run(
            ["unshare", "-m", "sh", "-c", "mount -t tmpfs tmpfs /mnt"], capture_output=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


CAN_UNSHARE = _can_unshare()
needs_namespace = pytest.mark.skipif(
    not CAN_UNSHARE, reason="needs root and a private mount namespace (unshare -m)"
)

_SCRATCH_DEV = (
    "mount -t tmpfs tmpfs /dev && ln -s /proc/self/fd/0 /dev/stdin && ln -s /proc/self/fd/1 /dev/stdout"
    " && ln -s /proc/self/fd/2 /dev/stderr && ln -s /proc/self/fd /dev/fd"
    " && mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/full c 1 7 && mknod -m 666 /dev/zero c 1 5"
)


def in_private_dev(script: str) -> subprocess.CompletedProcess[bytes]:
    """``script`` in a private mount namespace whose /dev is a scratch copy (never the machine's)."""
    assert XENT is not None
    return subprocess.run(
        ["unshare", "-m", "bash", "-c", f"{_SCRATCH_DEV}\n{script}"],
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "XENT": XENT},
    )


# --- 1. -o onto devices, FIFOs, descriptors and links ---------------------------------------------


@needs_namespace
def test_o_onto_the_dev_nodes_writes_through_and_leaves_them(p_csv: Path) -> None:
    done = in_private_dev(
        f'"$XENT" entropy {p_csv} -o /dev/stdout; echo "stdout rc=$?"\n'
        f'"$XENT" entropy {p_csv} -o /dev/stderr 2>/dev/fd/1 | head -1; echo "stderr rc=$?"\n'
        f'"$XENT" entropy {p_csv} -o /dev/null; echo "null rc=$?"\n'
        f'"$XENT" entropy {p_csv} -o /dev/full; echo "full rc=$?"\n'
        "stat -c '%n %F %t,%T' /dev/stdout /dev/stderr /dev/null /dev/full"
    )
    assert done.stdout.decode().splitlines() == [
        *P_TSV_RESULT.splitlines(),
        "stdout rc=0",
        "row\tid\tentropy_nats",
        "stderr rc=0",
        "null rc=0",
        "full rc=2",
        "/dev/stdout symbolic link 0,0",
        "/dev/stderr symbolic link 0,0",
        "/dev/null character special file 1,3",
        "/dev/full character special file 1,7",
    ]
    assert done.stderr.decode() == "xent: error: -o /dev/full: cannot write: No space left on device\n"


def test_dev_stdout_appended_to_a_file_keeps_what_was_there(tmp_path: Path, p_csv: Path) -> None:
    log = tmp_path / "log.txt"
    log.write_text("before\n")
    # -o /proc/self/fd/1 is written through descriptor 1, opened by the shell for appending.
    done = shell(f'"$XENT" entropy {p_csv} -o /proc/self/fd/1 >> {log}')
    assert done.returncode == 0, done.stderr
    assert log.read_text() == "before\n" + P_TSV_RESULT


# --- 2. -o never names an input --------------------------------------------------------------------


def _refused(done: subprocess.CompletedProcess[bytes], name: str) -> None:
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.decode() == (
        f"xent: error: -o {name} is one of the inputs; xent never overwrites an input "
        "(write the result to another file)\n"
    )


def test_o_the_file_on_stdin(tmp_path: Path, p_csv: Path) -> None:
    with p_csv.open("rb") as stdin:
        done = run("entropy", "-o", str(p_csv), stdin=stdin)
    _refused(done, str(p_csv))
    assert p_csv.read_text() == P_CSV


def test_the_check_comes_before_any_work(tmp_path: Path, p_csv: Path) -> None:
    # P is a FIFO nobody writes to: reading it would wait for ever, so an answer at
    # once shows the -o check came first.
    fifo = tmp_path / "never.fifo"
    os.mkfifo(fifo)
    _refused(run("kl", str(fifo), str(p_csv), "-o", str(p_csv)), str(p_csv))


# --- 4 and 11. stderr and stdout that fail ------------------------------------------------------


def test_a_failed_gate_survives_a_broken_stderr() -> None:
    done = shell('"$XENT" kl 0.5,0.5 0.9,0.1 --fail-above 0.1 2>&1 | head -c 3')
    assert (done.returncode, done.stdout) == (1, b"row")


def test_an_error_survives_a_full_stderr() -> None:
    done = shell('"$XENT" entropy missing.csv 2>/dev/full; echo "rc=$?"')
    assert done.stdout == b"rc=2\n"


def test_with_stderr_closed_errors_never_reach_stdout() -> None:
    done = shell('"$XENT" entropy missing.csv 2>&-; echo "rc=$?"')
    assert done.stdout == b"rc=2\n"


def test_stdout_closed() -> None:
    done = shell('"$XENT" entropy 0.5,0.5 >&-')
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "xent: error: stdout is closed (>&-), so the result has nowhere to go "
        "(redirect stdout, or write to a file with -o FILE)\n"
    )


def test_stdout_closed_with_o_is_fine(tmp_path: Path) -> None:
    out = tmp_path / "out.tsv"
    done = shell(f'"$XENT" entropy 0.5,0.5 -o {out} >&-')
    assert (done.returncode, done.stderr) == (0, b"")
    assert out.read_text() == "row\tid\tentropy_nats\n1\t\t0.6931471805599453\n"


def test_stdout_full() -> None:
    done = shell('"$XENT" entropy 0.5,0.5 --json >/dev/full')
    assert (done.returncode, done.stderr.decode()) == (
        2,
        "xent: error: stdout: cannot write: No space left on device\n",
    )


@needs_namespace
def test_disk_full_names_the_output_and_leaves_the_old_file(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    rows = tmp_path / "rows.csv"
    rows.write_text("a,b\n" + "".join(f"{i / 50000},{1 - i / 50000}\n" for i in range(50_000)))
    done = subprocess.run(
        [
            "unshare",
            "-m",
            "bash",
            "-c",
            f"mount -t tmpfs -o size=64k tmpfs {small} && echo old > {small}/out.tsv && "
            f'"{XENT}" entropy {rows} -o {small}/out.tsv; echo "rc=$?"; cat {small}/out.tsv; ls -A {small}',
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.decode() == "rc=2\nold\nout.tsv\n"
    assert done.stderr.decode() == (
        f"xent: error: -o {small}/out.tsv: cannot write: No space left on device "
        f"({small}/out.tsv is unchanged)\n"
    )


# --- 5. signals ----------------------------------------------------------------------------------


def _start_waiting(out: Path, **kwargs: object) -> subprocess.Popen[bytes]:
    """xent reading stdin into -o OUT, with the pipe left open: it waits for more input."""
    assert XENT is not None
    process = subprocess.Popen(
        [XENT, "entropy", "-", "-o", str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,  # type: ignore[call-overload]
    )
    assert process.stdin is not None
    process.stdin.write(b"a,b\n" + b"0.5,0.5\n" * 1000)
    process.stdin.flush()
    _wait_until_reading_a_pipe(process.pid)
    return process


def _wait_until_reading_a_pipe(pid: int) -> None:
    """Until the process sleeps in a pipe read (its handlers are installed by then)."""
    wchan = Path(f"/proc/{pid}/wchan")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if "pipe" in wchan.read_text():
                time.sleep(0.05)
                return
        except OSError:
            break
        time.sleep(0.05)
    time.sleep(1.5)  # no /proc: give it time


@pytest.mark.parametrize(
    ("number", "status", "line"),
    [(signal.SIGTERM, 143, b"xent: terminated\n"), (signal.SIGHUP, 129, b"xent: hangup\n")],
)
def test_sigterm_and_sighup_leave_no_temporary_file(
    tmp_path: Path, number: int, status: int, line: bytes
) -> None:
    out = tmp_path / "result.json"
    # The default disposition, whatever this run inherited: under nohup SIGHUP is ignored, and
    # xent leaves an ignored SIGHUP ignored (the next test).
    process = _start_waiting(out, preexec_fn=lambda: signal.signal(number, signal.SIG_DFL))
    process.send_signal(number)
    stdout, stderr = process.communicate(timeout=30)
    assert (process.returncode, stdout, stderr) == (status, b"", line)
    assert list(tmp_path.iterdir()) == []


def test_an_ignored_sighup_stays_ignored(tmp_path: Path) -> None:
    out = tmp_path / "result.tsv"
    process = _start_waiting(out, preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    process.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    _, stderr = process.communicate(timeout=30)  # closes stdin: the input ends
    assert (process.returncode, stderr) == (0, b"")
    assert out.read_text().splitlines()[0] == "row\tid\tentropy_nats"


# --- 12. stdout that is not UTF-8 ---------------------------------------------------------------


@pytest.fixture
def named_csv(tmp_path: Path) -> Path:
    path = tmp_path / "named.csv"
    path.write_text("id,a,b\ncafé,0.5,0.5\n日本,0.2,0.8\n", encoding="utf-8")
    return path


ASCII = {"PYTHONIOENCODING": "ascii"}
C_LOCALE = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}


def test_a_stdout_that_is_not_utf8_gets_escapes_or_one_error(named_csv: Path) -> None:
    # (the other formats are tested in-process, with a faked ASCII stdout: tests/test_output.py)
    as_json = run("entropy", str(named_csv), "--json", env=ASCII)
    assert as_json.returncode == 0, as_json.stderr
    assert as_json.stdout.isascii()
    assert [r["id"] for r in json.loads(as_json.stdout)["rows"]] == ["café", "日本"]
    as_csv = run("entropy", str(named_csv), "--csv", env=C_LOCALE)
    assert (as_csv.returncode, as_csv.stdout) == (2, b"")
    assert as_csv.stderr.startswith(
        b"xent: error: stdout's encoding (ascii) cannot hold the id 'caf\\xe9' of row 1"
    )
    assert as_csv.stderr.count(b"\n") == 1


# --- 13. no NumPy warning reaches stderr, with the last-line guard off ------------------------------


def test_the_known_numeric_extremes_need_no_warning_guard() -> None:
    # XENT_DEBUG turns the process-wide warnings guard off: the core itself must be quiet.
    # (tests/test_output.py runs the other cases in-process, where warnings are errors.)
    done = run(
        "compare", "--as", "logprobs", "--value", "--", "0,-1e308", "-1e308,0", env={"XENT_DEBUG": "1"}
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"1e+308\n", b"")


# --- 7. info with 40,000 distinct values on each side -------------------------------------------------


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # a dense 40k x 40k table is 12.8 GB


def test_info_of_40000_distinct_values_each_is_sparse(tmp_path: Path) -> None:
    n = 40_000
    samples = tmp_path / "samples.csv"
    samples.write_text("x,y\n" + "".join(f"x{i},y{(i * 7919) % n}\n" for i in range(n)))
    done = run("info", str(samples), "--x", "x", "--y", "y", "--json", preexec_fn=_limit_memory)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    log_n = 10.596634733096073  # ln 40000
    assert document["info"]["mi"] == pytest.approx(log_n, rel=1e-14)
    assert document["info"]["h_x_given_y"] == 0.0
    assert document["info"]["x_values"] == document["info"]["y_values"] == n
    assert "joint" not in document  # 1.6e9 cells are not echoed


# --- 19. Dask: quiet whatever listens on 8787, and sized to this process's CPUs ----------------------


@pytest.fixture
def port_8787_taken() -> Iterator[None]:
    """Take 8787 if it is free (if it is not, someone else has taken it: the same case)."""
    holder = socket.socket()
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("", 8787))
        holder.listen()
    except OSError:
        pass
    try:
        yield
    finally:
        holder.close()


def test_dask_engine_is_quiet_when_8787_is_taken(tmp_path: Path, port_8787_taken: None) -> None:
    pytest.importorskip("distributed")
    for i in (1, 2):
        (tmp_path / f"part-{i}.csv").write_text(P_CSV)
    # One CPU for xent: the local cluster has one worker (and starts sooner).
    one_cpu = (
        (lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}))
        if hasattr(os, "sched_setaffinity")
        else None
    )
    done = run("entropy", str(tmp_path), "--engine", "dask", "--value", preexec_fn=one_cpu)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"0.5967748020490666\n", b"")


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_a_local_cluster_is_sized_to_the_cpus_this_process_may_use() -> None:
    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from xent_cli.system import usable_cpus; print(usable_cpus())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, check=True)
    assert done.stdout == b"1\n"
