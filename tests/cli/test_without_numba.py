"""numba is an optional extra (``xent-cli[fast]``): without it every command gives the same numbers.

Each command runs as a user runs it, through the installed ``xent``, twice: as installed here
(with numba, which the ``test`` extra keeps) and with numba made unimportable by a
``sitecustomize`` that puts ``None`` in ``sys.modules["numba"]`` (what Python does for a
package that is not installed: ``import numba`` raises ImportError). The inputs are big enough
that ``auto`` takes the compiled kernels when it can.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from xent_cli.core import kernel_backend

XENT = str(Path(sys.executable).parent / "xent")
# Values a side from which auto compiles the logits kernels (kernel_backend.NUMBA_PAYS_FROM_LOG).
ROWS, WIDTH = 1100, 1000
assert ROWS * WIDTH >= kernel_backend.NUMBA_PAYS_FROM_LOG


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("without-numba")
    shim = root / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text('import sys\n\nsys.modules["numba"] = None\n')
    rng = np.random.default_rng(28)
    a = (3 * rng.standard_normal((ROWS, WIDTH))).astype(np.float32)
    b = a + (0.05 * rng.standard_normal((ROWS, WIDTH))).astype(np.float32)
    np.save(root / "a.npy", a)
    np.save(root / "b.npy", b)
    return {"shim": shim, "a": root / "a.npy", "b": root / "b.npy"}


def _xent(args: list[str], *, shim: Path | None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("XENT_KERNELS", "PYTHONPATH")}
    if shim is not None:
        environ["PYTHONPATH"] = str(shim)
    environ.update(env)
    return subprocess.run(
        [XENT, *args], capture_output=True, text=True, env=environ, timeout=600, check=False
    )


def _assert_same_numbers(with_numba: Any, without: Any, path: str = "") -> None:
    """Equal documents, their numbers within 1e-12 relative (the kernels' shared accuracy bound)."""
    if isinstance(with_numba, float) and isinstance(without, float):
        assert without == pytest.approx(with_numba, rel=1e-12, abs=1e-300), path
    elif isinstance(with_numba, dict):
        assert isinstance(without, dict) and with_numba.keys() == without.keys(), path
        for key in with_numba:
            _assert_same_numbers(with_numba[key], without[key], f"{path}.{key}")
    elif isinstance(with_numba, list):
        assert isinstance(without, list) and len(with_numba) == len(without), path
        for i, (x, y) in enumerate(zip(with_numba, without, strict=True)):
            _assert_same_numbers(x, y, f"{path}[{i}]")
    else:
        assert with_numba == without, path


def test_numba_is_really_missing_under_the_shim(files: dict[str, Path]) -> None:
    """The shim works, and asking for the compiled kernels without them is one line and exit 2."""
    done = _xent(
        ["kl", str(files["a"]), str(files["b"]), "--as", "logits", "--value"],
        shim=files["shim"],
        XENT_KERNELS="numba",
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "xent: error: XENT_KERNELS=numba but numba is not installed (pip install 'xent-cli[fast]' "
        "for the compiled kernels, or unset XENT_KERNELS: the NumPy kernels give the same digits)\n"
    )


@pytest.mark.skipif(not kernel_backend.numba_available(), reason="numba is not installed")
@pytest.mark.parametrize(
    "command",
    [
        ["kl", "{a}", "{b}", "--as", "logits"],
        ["cross-entropy", "{a}", "{b}", "--as", "logits"],
        ["js", "{a}", "{b}", "--as", "logits"],
        ["entropy", "{a}", "--as", "logits"],
        ["compare", "{a}", "{b}", "--as", "logits"],
        ["kl", "{a}", "{b}", "--as", "logits", "--ci", "0.95"],
    ],
    ids=["kl", "cross-entropy", "js", "entropy", "compare", "kl-ci"],
)
def test_the_same_numbers_without_numba(files: dict[str, Path], command: list[str]) -> None:
    args = [part.format(a=files["a"], b=files["b"]) for part in command] + ["--json"]
    with_numba = _xent(args, shim=None)
    without = _xent(args, shim=files["shim"])
    assert (with_numba.returncode, with_numba.stderr) == (0, ""), with_numba.stderr
    assert (without.returncode, without.stderr) == (0, ""), without.stderr
    _assert_same_numbers(json.loads(with_numba.stdout), json.loads(without.stdout))
