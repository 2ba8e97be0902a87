"""The Dask engine over TLS, with real certificates: a throwaway CA made with ``openssl``.

A ``dask scheduler --protocol tls`` and one ``dask worker`` (in another folder)
authenticate with a certificate for 127.0.0.1/localhost; xent, run as a
command, reads the client's certificate from Dask's configuration
(``DASK_DISTRIBUTED__COMM__TLS__…`` variables). One cluster serves the module.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CliEnv
from tests.pipeline.dask_processes import start_scheduler, start_worker, stop
from tests.plans import write_rows_csv

distributed = pytest.importorskip("distributed", reason="the Dask tests need dask[distributed]")
dask = pytest.importorskip("dask")

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(
    OPENSSL is None, reason="the TLS tests make their certificates with the openssl command, not found"
)
TLS_VARIABLES = ("CA_FILE", "CLIENT__CERT", "CLIENT__KEY")
SETTINGS_HINT = (
    "set distributed.comm.tls.ca-file, distributed.comm.tls.client.cert and "
    "distributed.comm.tls.client.key in ~/.config/dask/*.yaml, or the variables "
    "DASK_DISTRIBUTED__COMM__TLS__CA_FILE, DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT and "
    "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY (PEM files)"
)


@dataclass(frozen=True)
class Credentials:
    """A CA's certificate and one certificate it signed, with its key (PEM files)."""

    ca: Path
    cert: Path
    key: Path

    def variables(self) -> dict[str, str]:
        """Dask's configuration for a client with this certificate, as environment variables."""
        values = (self.ca, self.cert, self.key)
        return {
            f"DASK_DISTRIBUTED__COMM__TLS__{n}": str(v) for n, v in zip(TLS_VARIABLES, values, strict=True)
        }

    def settings(self) -> dict[str, str]:
        """The same, as ``dask.config.set`` takes it."""
        return {
            "distributed.comm.tls.ca-file": str(self.ca),
            "distributed.comm.tls.client.cert": str(self.cert),
            "distributed.comm.tls.client.key": str(self.key),
        }


def _openssl(folder: Path, *args: str) -> None:
    assert OPENSSL is not None
    done = subprocess.run([OPENSSL, *args], cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def make_credentials(folder: Path) -> Credentials:
    """A CA and a certificate it signed for 127.0.0.1 and localhost, good for a day (EC keys: fast)."""
    folder.mkdir()
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        folder, "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
        "-subj", "/CN=xent test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    _openssl(folder, "req", *ec, "-keyout", "node.key", "-out", "node.csr", "-subj", "/CN=localhost")
    (folder / "node.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n"
    )
    _openssl(
        folder, "x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "node.pem", "-days", "1", "-extfile", "node.ext",
    )  # fmt: skip
    return Credentials(folder / "ca.pem", folder / "node.pem", folder / "node.key")


@dataclass(frozen=True)
class TlsCluster:
    address: str
    good: Credentials  # what the scheduler and its worker use
    other: Credentials  # another CA's: neither side trusts the other


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCluster]:
    root = tmp_path_factory.mktemp("dask-tls")
    good, other = make_credentials(root / "good"), make_credentials(root / "other")
    options = ("--tls-ca-file", str(good.ca), "--tls-cert", str(good.cert), "--tls-key", str(good.key))
    scheduler, file = start_scheduler(root, "scheduler", "--protocol", "tls", *options)
    address = json.loads(file.read_text())["address"]
    (root / "worker").mkdir()
    worker = start_worker(root / "worker", address, "w0", *options)
    try:
        security = distributed.Security(
            tls_ca_file=str(good.ca), tls_client_cert=str(good.cert), tls_client_key=str(good.key)
        )
        with distributed.Client(address, security=security, timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
        yield TlsCluster(address, good, other)
    finally:
        for process in (worker, scheduler):
            stop(process)


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dask-tls-data")
    rng = np.random.default_rng(5)
    for i, n in enumerate([300, 1, 200]):
        write_rows_csv(root / f"p-{i}.csv", rng.dirichlet(np.full(4, 0.5), size=n), f"s{i}-")
    return root


def _xent(args: list[str], variables: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed command, with Dask's TLS settings only from ``variables``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DASK_DISTRIBUTED__COMM__")}
    return subprocess.run(
        [sys.executable, "-m", "xent_cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**environment, **variables},
    )


def test_tls_with_certificates_from_dask_variables_equals_local(
    env: CliEnv, tls_cluster: TlsCluster, shards: Path
) -> None:
    args = ["entropy", f"{shards}/p-*.csv", "--format", "json", "--worst", "2"]
    local = env.run([*args, "--engine", "local"])
    assert local.exit_code == 0, local.stderr
    on_tls = _xent([*args, "--scheduler", tls_cluster.address], tls_cluster.good.variables())
    assert (on_tls.returncode, on_tls.stderr) == (0, "")
    assert on_tls.stdout == local.stdout
    assert len(json.loads(on_tls.stdout)["rows"]) == 501


def test_tls_without_certificates_is_one_line(tls_cluster: TlsCluster) -> None:
    done = _xent(["entropy", "0.5,0.5", "--scheduler", tls_cluster.address], {})
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        f"xent: error: --scheduler {tls_cluster.address}: a tls:// scheduler needs a CA file and a "
        "client certificate, and Dask's configuration sets no distributed.comm.tls.ca-file and no "
        f"distributed.comm.tls.client.cert ({SETTINGS_HINT})\n",
    )


def _in_process(env: CliEnv, address: str, settings: dict[str, object]) -> tuple[int, str]:
    """``xent entropy 0.5,0.5 --scheduler ADDRESS`` here, with Dask's configuration set to ``settings``."""
    with dask.config.set(settings):
        result = env.run(["entropy", "0.5,0.5", "--scheduler", address, "--worker-timeout", "5"])
    assert result.stderr.count("\n") <= 1, result.stderr
    return result.exit_code, result.stderr


def test_tls_settings_that_cannot_work_are_one_line_each(env: CliEnv, tls_cluster: TlsCluster) -> None:
    address, good, other = tls_cluster.address, tls_cluster.good, tls_cluster.other
    where = f"xent: error: --scheduler {address}: "
    absent = good.cert.parent / "absent.pem"
    assert _in_process(
        env, address, {**good.settings(), "distributed.comm.tls.client.cert": str(absent)}
    ) == (
        2,
        f"{where}distributed.comm.tls.client.cert {absent}: cannot read: No such file or directory "
        f"({SETTINGS_HINT})\n",
    )
    code, text = _in_process(env, address, {**good.settings(), "distributed.comm.tls.ca-file": str(good.key)})
    assert code == 2
    assert text.startswith(f"{where}distributed.comm.tls.ca-file {good.key}: not a PEM CA certificate (")
    code, text = _in_process(env, address, {**good.settings(), "distributed.comm.tls.client.key": None})
    assert code == 2
    assert text.startswith(
        f"{where}cannot load the TLS client certificate {good.cert} (key none: expected in the "
        "certificate file): "
    )
    # A CA that did not sign the scheduler's certificate; a client certificate the scheduler does not trust.
    code, text = _in_process(env, address, {**good.settings(), "distributed.comm.tls.ca-file": str(other.ca)})
    assert code == 2
    assert text.startswith(f"{where}cannot connect: the scheduler's TLS certificate fails verification (")
    assert text.endswith(
        f"(distributed.comm.tls.ca-file ({other.ca}) must be the CA that signed the scheduler's certificate)\n"
    )
    refused = {**good.settings(), **{k: v for k, v in other.settings().items() if ".client." in k}}
    code, text = _in_process(env, address, refused)
    assert code == 2
    # Refused by the scheduler: an alert (unknown CA) or an EOF, depending on timing.
    assert text.startswith(f"{where}cannot connect: the scheduler refused the TLS connection (")
    assert text.endswith(
        f"(check that it trusts distributed.comm.tls.client.cert ({other.cert}): that certificate must be "
        "signed by the CA of the scheduler's --tls-ca-file)\n"
    )
    # With those settings right, the same process connects.
    assert _in_process(env, address, good.settings()) == (0, "")


def test_required_encryption_refuses_tcp_before_connecting(env: CliEnv, tls_cluster: TlsCluster) -> None:
    plain = tls_cluster.address.replace("tls://", "tcp://")
    code, text = _in_process(env, plain, {"distributed.comm.require-encryption": True})
    assert (code, text) == (
        2,
        f"xent: error: --scheduler {plain}: Dask's configuration requires encryption "
        "(distributed.comm.require-encryption), and tcp:// is not encrypted (give the scheduler's "
        "tls:// address, or set distributed.comm.require-encryption to false)\n",
    )
