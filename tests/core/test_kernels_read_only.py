"""A read-only install with a read-only HOME (Docker --read-only, Kubernetes, a user with no home).

numba refuses to compile a ``cache=True`` function when neither the package folder nor the
user's cache folder is writable ("cannot cache function ...: no locator available"). xent then
caches its kernels in a folder of its own under the temporary directory, and when even that
is read-only it takes the NumPy path; either way the number is right and nothing is said.

The folders are made read-only by a read-only bind mount in a private mount namespace
(``unshare -m``): the tests run as root, for whom permission bits do not stop a write.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.special import log_softmax

from xent_cli.core.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, poisson_weights

pytest.importorskip("numba")

PACKAGE = Path(__file__).resolve().parent.parent.parent / "xent_cli"
# Mount each argument read-only in a private mount namespace, then run the command after "--".
READ_ONLY = (
    'while [ "$1" != -- ]; do mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 97; '
    'shift; done; shift; exec "$@"'
)


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", READ_ONLY, "sh", "/tmp", "--", "true"], capture_output=True, check=False
    )
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not _namespaces_work(), reason="needs root and unshare -m for read-only mounts"
)


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | float]:
    """A copy of the package with no compiled cache, a HOME, and logits big enough for numba."""
    root = tmp_path_factory.mktemp("readonly")
    shutil.copytree(PACKAGE, root / "site" / "xent_cli", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "home").mkdir()
    rng = np.random.default_rng(23)
    p = rng.standard_normal((1200, 1000))
    q = p + 0.3 * rng.standard_normal(p.shape)
    np.save(root / "p.npy", p)
    np.save(root / "q.npy", q)
    log_p, log_q = log_softmax(p, axis=1), log_softmax(q, axis=1)
    kl_rows = np.sum(np.exp(log_p) * (log_p - log_q), axis=1)
    # --ci 0.95: the percentile interval of the Poisson bootstrap means, by its NumPy form.
    weights = poisson_weights(DEFAULT_SEED, 0, kl_rows.size, DEFAULT_RESAMPLES).astype(float)
    low, high = np.quantile((kl_rows @ weights) / weights.sum(axis=0), [0.025, 0.975])
    return {"root": root, "kl": float(np.mean(kl_rows)), "ci_low": float(low), "ci_high": float(high)}


def _run(
    install: dict[str, Path | float],
    read_only: list[Path],
    tmpdir: Path,
    kernels: str,
    options: tuple[str, ...] = ("--value",),
):
    root = install["root"]
    assert isinstance(root, Path)
    environ = {
        "PATH": os.environ["PATH"],
        "HOME": str(root / "home"),
        "PYTHONPATH": str(root / "site"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "TMPDIR": str(tmpdir),
        "XENT_KERNELS": kernels,
    }
    command = [sys.executable, "-m", "xent_cli", "kl", str(root / "p.npy"), str(root / "q.npy")]
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", READ_ONLY, "sh", *map(str, read_only), "--",
         *command, "--as", "logits", *options],
        capture_output=True, text=True, env=environ, cwd=root / "site", timeout=600, check=False,
    )  # fmt: skip


def test_kernels_are_cached_in_a_private_temporary_folder(
    install: dict[str, Path | float], tmp_path: Path
) -> None:
    root = install["root"]
    assert isinstance(root, Path)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    # XENT_KERNELS=numba: an error unless the compiled kernels ran.
    done = _run(install, [root / "site", root / "home"], tmpdir, "numba")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert float(done.stdout) == pytest.approx(install["kl"], rel=1e-12)
    cache = tmpdir / f"xent-numba-{os.getuid()}"
    assert any(cache.rglob("*.nbi")), "the kernels were not cached in the temporary folder"
    assert cache.stat().st_mode & 0o777 == 0o700


def test_with_nowhere_to_cache_the_numpy_path_is_taken_silently(
    install: dict[str, Path | float], tmp_path: Path
) -> None:
    root = install["root"]
    assert isinstance(root, Path)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    everywhere = [root / "site", root / "home", tmpdir, Path("/tmp"), Path("/var/tmp")]
    done = _run(install, [p for p in everywhere if p.is_dir()], tmpdir, "auto")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert float(done.stdout) == pytest.approx(install["kl"], rel=1e-12)


def test_a_temporary_folder_someone_else_could_write_is_not_used(
    install: dict[str, Path | float], tmp_path: Path
) -> None:
    root = install["root"]
    assert isinstance(root, Path)
    tmpdir = tmp_path / "tmp"
    shared = tmpdir / f"xent-numba-{os.getuid()}"
    shared.mkdir(parents=True)
    shared.chmod(0o777)  # planted: cached machine code from here would run as this user
    done = _run(install, [root / "site", root / "home"], tmpdir, "numba")
    assert done.returncode == 2
    assert "XENT_KERNELS=numba but numba cannot" in done.stderr
    assert not any(shared.iterdir())


def _interval(done: subprocess.CompletedProcess[str]) -> list[float]:
    interval: list[float] = json.loads(done.stdout)["summary"]["ci"]
    return interval


def test_the_bootstrap_kernel_is_cached_in_the_private_temporary_folder(
    install: dict[str, Path | float], tmp_path: Path
) -> None:
    root = install["root"]
    assert isinstance(root, Path)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    done = _run(install, [root / "site", root / "home"], tmpdir, "numba", ("--ci", "0.95", "--json"))
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert _interval(done) == pytest.approx([install["ci_low"], install["ci_high"]], rel=1e-9)
    cache = tmpdir / f"xent-numba-{os.getuid()}"
    assert any(cache.rglob("_bootstrap_numba*.nbi")), "the bootstrap kernel was not cached there"


def test_with_nowhere_to_cache_the_bootstrap_takes_the_numpy_path_silently(
    install: dict[str, Path | float], tmp_path: Path
) -> None:
    root = install["root"]
    assert isinstance(root, Path)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    everywhere = [root / "site", root / "home", tmpdir, Path("/tmp"), Path("/var/tmp")]
    done = _run(install, [p for p in everywhere if p.is_dir()], tmpdir, "auto", ("--ci", "0.95", "--json"))
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert _interval(done) == pytest.approx([install["ci_low"], install["ci_high"]], rel=1e-9)
