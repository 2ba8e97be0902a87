"""URLs that cannot be read are the user's error (exit 2, one line), never an internal error."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tests.conftest import CliEnv

pytest.importorskip("fsspec")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens there once the probe is closed


@pytest.fixture
def ftp_that_refuses_logins() -> Iterator[int]:
    """A server that speaks just enough FTP to reject every login (ftplib.error_perm: no OSError)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(30)

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.sendall(b"220 ready\r\n")
            conn.recv(1024)  # USER ...
            conn.sendall(b"530 Login incorrect.\r\n")
            conn.recv(1024)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    thread.join(5)


def test_ftp_with_nothing_listening(env: CliEnv) -> None:
    url = f"ftp://127.0.0.1:{_closed_port()}/x.csv"
    result = env.run(["entropy", url])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: {url}: cannot connect: Connection refused "
        "(check the host, port and login in the URL)\n"
    )


def test_ftp_glob_with_nothing_listening(env: CliEnv) -> None:
    url = f"ftp://127.0.0.1:{_closed_port()}/*.csv"
    result = env.run(["entropy", url])
    assert result.exit_code == 2 and result.stderr.startswith(f"xent: error: {url}: cannot connect: ")


def test_ftp_that_rejects_the_login(env: CliEnv, ftp_that_refuses_logins: int) -> None:
    url = f"ftp://127.0.0.1:{ftp_that_refuses_logins}/x.csv"
    result = env.run(["entropy", url])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: {url}: cannot connect: error_perm: 530 Login incorrect. "
        "(check the host, port and login in the URL)\n"
    )


@pytest.mark.parametrize("scheme", ["nosuch", "gopher"])
def test_an_unknown_scheme(env: CliEnv, scheme: str) -> None:
    result = env.run(["entropy", f"{scheme}://host/x.csv"])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"xent: error: {scheme}://host/x.csv: cannot read this kind of URL: Protocol not known: {scheme} "
    )
