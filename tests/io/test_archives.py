""".npz (np.savez, np.savez_compressed) and .safetensors: one array, or FILE:NAME, with any --as.

Files are written by NumPy and by the safetensors package when it is installed (else by
a writer of the documented layout); numbers are checked against SciPy.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from scipy.special import log_softmax, softmax
from scipy.stats import entropy

from tests.conftest import CliEnv
from xent_cli.io.readers import ReadOptions, read
from xent_cli.io.sources import Source, resolve, sniff_format

RNG = np.random.default_rng(2024)
P = RNG.dirichlet(np.ones(7), size=30)
Q = RNG.dirichlet(np.ones(7), size=30)
Z = RNG.normal(size=(3, 10, 7)).astype(np.float32) * 2  # (batch, sequence, vocabulary) logits


def _entropy_of_logits(logits: np.ndarray) -> float:
    rows = logits.astype(np.float64).reshape(-1, logits.shape[-1])
    return float(entropy(softmax(rows, axis=1), axis=1).mean())


def _save_safetensors(tensors: dict[str, np.ndarray], path: Path) -> None:
    """The safetensors package's writer when installed; else the documented layout, by hand."""
    try:
        from safetensors.numpy import save_file
    except ImportError:
        codes = {np.dtype("float64"): "F64", np.dtype("float32"): "F32", np.dtype("float16"): "F16"}
        header: dict[str, object] = {}
        data = b""
        for name, array in tensors.items():
            raw = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
            header[name] = {
                "dtype": codes[array.dtype],
                "shape": list(array.shape),
                "data_offsets": [len(data), len(data) + len(raw)],
            }
            data += raw
        text = json.dumps(header).encode()
        path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    else:
        save_file(tensors, str(path))


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_one_array(env: CliEnv, tmp_path: Path, save: object) -> None:
    path = tmp_path / "p.npz"
    save(path, probs=P)  # type: ignore[operator]
    result = env.run(["entropy", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    np.testing.assert_allclose([r["value"] for r in doc["rows"]], entropy(P, axis=1), rtol=1e-13)


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_named_array_with_any_as(env: CliEnv, tmp_path: Path, save: object) -> None:
    path = tmp_path / "many.npz"
    save(path, probs=P, logits=Z, logprobs=log_softmax(Z.astype(np.float64), axis=-1))  # type: ignore[operator]
    got = env.run(["entropy", f"{path}:logits", "--as", "logits", "--value"])
    assert got.exit_code == 0, got.output
    assert float(got.stdout) == pytest.approx(_entropy_of_logits(Z), rel=1e-12)
    got = env.run(["entropy", f"{path}:logprobs", "--as", "logprobs", "--value"])
    assert float(got.stdout) == pytest.approx(_entropy_of_logits(Z), rel=1e-12)
    np.save(tmp_path / "q.npy", Q)
    kl = env.run(["kl", f"{path}:probs", str(tmp_path / "q.npy"), "--value"])
    assert kl.exit_code == 0, kl.output
    assert float(kl.stdout) == pytest.approx(entropy(P, Q, axis=1).mean(), rel=1e-12)


def test_npz_with_several_arrays_and_no_name_lists_them(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "many.npz"
    np.savez(path, probs=P, logits=Z)
    result = env.run(["entropy", str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: {path}: holds 2 arrays ('probs', 'logits') (pick one as {path}:NAME, e.g. {path}:probs)\n"
    )
    missing = env.run(["entropy", f"{path}:nope"])
    assert missing.stderr == (
        f"xent: error: {path}:nope: has no array 'nope' (its arrays are: 'probs', 'logits')\n"
    )


def test_npz_from_stdin_is_sniffed(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "p.npz"
    np.savez_compressed(path, probs=P)
    result = env.run(["entropy", "--value"], input=path.read_bytes())
    assert result.exit_code == 0, result.output
    assert float(result.stdout) == pytest.approx(entropy(P, axis=1).mean(), rel=1e-12)


def test_truncated_or_corrupt_npz_is_one_line(env: CliEnv, tmp_path: Path) -> None:
    good = tmp_path / "p.npz"
    np.savez_compressed(good, probs=RNG.dirichlet(np.ones(50), size=2000))
    data = good.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[:300])
    result = env.run(["entropy", str(cut)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: {cut}: is not a valid .npz archive: File is not a zip file "
        "(the file may be truncated or corrupt)\n"
    )
    corrupt = bytearray(data)
    for i in range(2000, 2100):
        corrupt[i] ^= 0x55
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(corrupt))
    result = env.run(["entropy", str(bad)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"xent: error: {bad}: is a corrupt or truncated .npz archive: ")
    assert result.stderr.count("\n") == 1


def test_safetensors_one_tensor_as_logits(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "z.safetensors"
    _save_safetensors({"logits": Z}, path)
    result = env.run(["entropy", str(path), "--as", "logits", "--value"])
    assert result.exit_code == 0, result.output
    assert float(result.stdout) == pytest.approx(_entropy_of_logits(Z), rel=1e-12)


def test_safetensors_named_tensor_and_list_of_names(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "two.safetensors"
    _save_safetensors({"logits": Z, "probs": P}, path)
    result = env.run(["entropy", f"{path}:probs", "--value"])
    assert result.exit_code == 0, result.output
    assert float(result.stdout) == pytest.approx(entropy(P, axis=1).mean(), rel=1e-12)
    both = env.run(["entropy", str(path)])
    assert both.exit_code == 2
    assert both.stderr.startswith(f"xent: error: {path}: holds 2 tensors (")
    assert f"pick one as {path}:NAME" in both.stderr


def test_safetensors_read_in_blocks_with_the_package_absent_at_run_time(tmp_path: Path) -> None:
    """The reader parses the format itself and reads a block of rows at a time."""
    values = RNG.normal(size=(3000, 16)).astype(np.float16)
    path = tmp_path / "h.safetensors"
    _save_safetensors({"scores": values}, path)
    table = read(Source(label=str(path), path=path), ReadOptions(block_rows=256, kind="logits"))
    try:
        blocks = list(table.blocks())
    finally:
        table.close()
    assert max(len(b) for b in blocks) == 256
    np.testing.assert_array_equal(np.concatenate([b.values for b in blocks]), values)
    assert table.layout["tensor"] == "scores" and table.layout["format"] == "safetensors"


def test_bfloat16_tensor(env: CliEnv, tmp_path: Path) -> None:
    logits = RNG.normal(size=(5, 4)).astype(np.float32)
    bits = (logits.view(np.uint32) >> 16).astype("<u2")  # bfloat16: the top half of a float32
    widened = (bits.astype(np.uint32) << 16).view(np.float32)
    text = json.dumps({"z": {"dtype": "BF16", "shape": [5, 4], "data_offsets": [0, bits.nbytes]}}).encode()
    path = tmp_path / "b.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + bits.tobytes())
    result = env.run(["entropy", str(path), "--as", "logits", "--value"])
    assert result.exit_code == 0, result.output
    assert float(result.stdout) == pytest.approx(_entropy_of_logits(widened), rel=1e-12)


def test_safetensors_from_stdin(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "z.safetensors"
    _save_safetensors({"logits": Z}, path)
    assert sniff_format(path.read_bytes()[:4096]) == "safetensors"
    result = env.run(["entropy", "--as", "logits", "--value"], input=path.read_bytes())
    assert result.exit_code == 0, result.output
    assert float(result.stdout) == pytest.approx(_entropy_of_logits(Z), rel=1e-12)


def test_truncated_and_corrupt_safetensors(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "z.safetensors"
    _save_safetensors({"logits": Z}, path)
    data = path.read_bytes()
    size = struct.unpack("<Q", data[:8])[0]
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[:-10])
    result = env.run(["entropy", str(cut), "--as", "logits"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: {cut}: ends early: tensor 'logits' needs bytes up to {len(data)}, "
        f"the file has {len(data) - 10} (the file may be truncated)\n"
    )
    piped = env.run(["entropy", "--as", "logits"], input=data[:-10])
    assert piped.exit_code == 2
    assert piped.stderr == "xent: error: <stdin>: ends early, at row 30 of 30 (the file may be truncated)\n"
    header_cut = tmp_path / "h.safetensors"
    header_cut.write_bytes(data[: 8 + size // 2])
    result = env.run(["entropy", str(header_cut)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"xent: error: {header_cut}: is not a valid safetensors file: the header is cut short "
        f"({size // 2} of {size} bytes) (the file may be truncated)\n"
    )


def test_member_of_a_file_that_is_not_an_archive(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "p.npz"
    np.savez(path, probs=P)
    source = resolve(f"{path}:probs", stdin_is_terminal=True)
    assert (source.path, source.member) == (path, "probs")
    plain = tmp_path / "p.csv"
    plain.write_text("a,b\n0.5,0.5\n")
    result = env.run(["entropy", f"{plain}:x"])  # a CSV holds no named arrays: no such file
    assert (result.exit_code, result.stdout) == (2, "")
    assert "no such file" in result.stderr


def test_labels_from_an_npz_array(env: CliEnv, tmp_path: Path) -> None:
    labels = RNG.integers(0, 7, size=30)
    np.savez(tmp_path / "y.npz", y=labels, other=labels)
    np.save(tmp_path / "p.npy", P)
    expected = -np.log(P[np.arange(30), labels]).mean()
    result = env.run(["loss", str(tmp_path / "p.npy"), "--target", f"{tmp_path / 'y.npz'}:y", "--value"])
    assert result.exit_code == 0, result.output
    assert float(result.stdout) == pytest.approx(expected, rel=1e-12)
