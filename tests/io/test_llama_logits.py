"""llama.cpp saved logits (``llama-perplexity --kl-divergence-base``): two files compared by xent.

Files are written by tests/io/llama_writer.py, which follows the layout of llama.cpp's
tools/perplexity/perplexity.cpp; every number is checked against NumPy on the stored
(dequantized, renormalized) distributions, and against llama.cpp's own formulas.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from scipy.special import log_softmax

from tests.conftest import CliEnv
from tests.io.llama_writer import scored, stored_log_probs, targets, write_llama_logits
from xent_cli.io.readers import ReadOptions, read
from xent_cli.io.sources import Source

N_CTX, N_VOCAB, N_CHUNK = 16, 51, 3  # an odd vocabulary: each position is padded by one word
RNG = np.random.default_rng(8)
TOKENS = RNG.integers(0, N_VOCAB, N_CTX * N_CHUNK)
BASE = RNG.normal(size=(N_CTX * N_CHUNK, N_VOCAB)) * 3
BASE[:, :5] -= 30  # some logits far below the maximum: stored at the floor
QUANT = BASE + RNG.normal(size=BASE.shape) * 0.3
POSITIONS = [c * N_CTX + j for c in range(N_CHUNK) for j in scored(N_CTX)]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    base, quant = tmp_path / "base.kld", tmp_path / "quant.kld"
    write_llama_logits(base, TOKENS, BASE, N_CTX)
    write_llama_logits(quant, TOKENS, QUANT, N_CTX)
    return base, quant


def _stored(logits: np.ndarray) -> np.ndarray:
    """The stored distribution, renormalized: log-probabilities."""
    return log_softmax(stored_log_probs(logits, N_CTX), axis=1)


def test_layout_sizes_follow_llama_cpp(files: tuple[Path, Path]) -> None:
    base, _ = files
    words = 2 * ((N_VOCAB + 1) // 2) + 4
    positions = N_CHUNK * (N_CTX - 1 - N_CTX // 2)
    assert base.stat().st_size == 8 + 12 + 4 * N_CHUNK * N_CTX + 2 * words * positions
    assert len(POSITIONS) == positions == 21


def test_stored_log_probs_are_the_model_log_softmax_within_a_quantization_step() -> None:
    exact = log_softmax(BASE[POSITIONS], axis=1)
    stored = stored_log_probs(BASE, N_CTX)
    above_floor = exact > exact.max(axis=1, keepdims=True) - 16
    step = 16 / 65535
    assert np.all(np.abs(stored - exact)[above_floor] <= step)


def test_kl_of_two_files(env: CliEnv, files: tuple[Path, Path]) -> None:
    base, quant = files
    result = env.run(["kl", str(base), str(quant), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    lp, lq = _stored(BASE), _stored(QUANT)
    expected = np.sum(np.exp(lp) * (lp - lq), axis=1)
    np.testing.assert_allclose([r["value"] for r in doc["rows"]], expected, rtol=1e-10, atol=1e-15)
    assert [r["id"] for r in doc["rows"]][:3] == [str(POSITIONS[i] + 1) for i in range(3)]
    # llama.cpp's own sum (base log p above -16, unnormalized, against the exact log-softmax) agrees
    llama = []
    for row, stored in enumerate(stored_log_probs(BASE, N_CTX)):
        keep = stored > -16
        log_q = log_softmax(QUANT[POSITIONS[row]])
        llama.append(np.sum(np.exp(stored[keep]) * (stored[keep] - log_q[keep])))
    assert doc["summary"]["mean"] == pytest.approx(np.mean(llama), abs=2e-3)
    assert (
        f"xent: note: {base}: llama.cpp saved log-probabilities: 21 positions (3 chunks of 16, the last 7 "
        "of each scored), vocabulary 51\n"
    ) in result.stderr


def test_compare_uses_the_tokens_in_the_file(env: CliEnv, files: tuple[Path, Path]) -> None:
    base, quant = files
    result = env.run(["compare", str(base), str(quant), "--json"])
    assert result.exit_code == 0, result.output
    panel = json.loads(result.stdout)["panel"]
    lp, lq = _stored(BASE), _stored(QUANT)
    rows = np.arange(len(POSITIONS))
    tokens = targets(TOKENS, N_CTX)
    nll_p, nll_q = -lp[rows, tokens], -lq[rows, tokens]
    assert panel["nll_p"] == pytest.approx(nll_p.mean(), rel=1e-12)
    assert panel["nll_q"] == pytest.approx(nll_q.mean(), rel=1e-12)
    assert panel["ppl_p"] == pytest.approx(np.exp(nll_p.mean()), rel=1e-12)
    assert panel["ppl_ratio"] == pytest.approx(np.exp(nll_q.mean() - nll_p.mean()), rel=1e-12)
    # Δp as llama.cpp defines it: p(token) under Q minus under the base
    assert panel["delta_p.mean"] == pytest.approx(np.mean(np.exp(-nll_q) - np.exp(-nll_p)), rel=1e-10)
    assert panel["same_top1"] == pytest.approx(np.mean(lp.argmax(axis=1) == lq.argmax(axis=1)), rel=1e-15)
    # llama.cpp's base NLL is -(scale*q[token] + min), unnormalized: within the quantization error
    raw = stored_log_probs(BASE, N_CTX)
    assert panel["nll_p"] == pytest.approx(-raw[rows, tokens].mean(), abs=1e-3)


def test_a_file_against_logits_of_the_same_positions(
    env: CliEnv, files: tuple[Path, Path], tmp_path: Path
) -> None:
    base, _ = files
    npy = tmp_path / "quant_logits.npy"
    np.save(npy, QUANT[POSITIONS].astype(np.float32))
    result = env.run(["kl", str(base), str(npy), "--q-as", "logits", "--value"])
    assert result.exit_code == 0, result.output
    lp = _stored(BASE)
    lq = log_softmax(QUANT[POSITIONS].astype(np.float32).astype(np.float64), axis=1)
    assert float(result.stdout) == pytest.approx(np.mean(np.sum(np.exp(lp) * (lp - lq), axis=1)), rel=1e-10)


def test_any_as_gives_the_same_distribution(env: CliEnv, files: tuple[Path, Path]) -> None:
    base, _ = files
    expected = float(np.mean(-np.sum(np.exp(_stored(BASE)) * _stored(BASE), axis=1)))
    for kind in ("probs", "logits", "logprobs", "weights"):
        result = env.run(["entropy", str(base), "--as", kind, "--value"])
        assert result.exit_code == 0, (kind, result.output)
        assert float(result.stdout) == pytest.approx(expected, rel=1e-10), kind


def test_loss_with_the_files_tokens(env: CliEnv, files: tuple[Path, Path]) -> None:
    base, _ = files
    result = env.run(["loss", str(base), "--target", "tokens", "--value"])
    assert result.exit_code == 0, result.output
    lp = _stored(BASE)
    expected = -lp[np.arange(len(POSITIONS)), targets(TOKENS, N_CTX)].mean()
    assert float(result.stdout) == pytest.approx(expected, rel=1e-12)


def test_read_a_block_of_positions_at_a_time(files: tuple[Path, Path]) -> None:
    base, _ = files
    table = read(Source(label=str(base), path=base), ReadOptions(block_rows=4))
    try:
        blocks = list(table.blocks())
    finally:
        table.close()
    assert [len(b) for b in blocks] == [4, 4, 4, 4, 4, 1]
    np.testing.assert_allclose(np.concatenate([b.values for b in blocks]), np.exp(_stored(BASE)), rtol=1e-12)


def test_stdin_is_sniffed(env: CliEnv, files: tuple[Path, Path]) -> None:
    base, quant = files
    result = env.run(["kl", "-", str(quant), "--value"], input=base.read_bytes())
    assert result.exit_code == 0, result.output
    lp, lq = _stored(BASE), _stored(QUANT)
    assert float(result.stdout) == pytest.approx(np.mean(np.sum(np.exp(lp) * (lp - lq), axis=1)), rel=1e-10)


def test_bad_files_are_one_line(env: CliEnv, files: tuple[Path, Path], tmp_path: Path) -> None:
    base, quant = files
    data = base.read_bytes()
    wrong = tmp_path / "wrong.kld"
    wrong.write_bytes(b"_logitz_" + data[8:])
    result = env.run(["kl", str(wrong), str(quant)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: {wrong}: is not a llama.cpp logits file: it does not start with '_logits_'\n"
    )
    cut = tmp_path / "cut.kld"
    cut.write_bytes(data[:-100])
    result = env.run(["kl", str(cut), str(quant)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: {cut}: its size does not match its header: n_ctx 16, n_vocab 51 and n_chunk 3 make "
        f"{len(data)} bytes, the file has {len(data) - 100} (the file may be truncated, or still being written)\n"
    )
    piped = env.run(["kl", "-", str(quant)], input=data[:-100])
    assert piped.exit_code == 2
    assert piped.stderr == "xent: error: <stdin>: ends early, at row 21 of 21 (the file may be truncated)\n"
    other_vocab = tmp_path / "other.kld"
    write_llama_logits(other_vocab, TOKENS % 40, QUANT[:, :40], N_CTX)
    result = env.run(["kl", str(base), str(other_vocab)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"xent: error: {base} has a vocabulary of 51 but {other_vocab} has 40 "
        "(both must come from models with the same tokenizer)\n"
    )
    other_text = tmp_path / "text.kld"
    shuffled = TOKENS.copy()
    shuffled[POSITIONS[2] + 1] = (shuffled[POSITIONS[2] + 1] + 1) % N_VOCAB
    write_llama_logits(other_text, shuffled, QUANT, N_CTX)
    result = env.run(["kl", str(base), str(other_text)])
    assert result.exit_code == 2
    token = TOKENS[POSITIONS[2] + 1]
    assert result.stderr == (
        f"xent: error: {base}: row 3: token {token}, but {other_text} has token {shuffled[POSITIONS[2] + 1]} "
        "there: the two files were not saved from the same text "
        "(run llama-perplexity on the same file with the same --ctx-size for both)\n"
    )


def test_header_fields_are_little_endian_int32(files: tuple[Path, Path]) -> None:
    base, _ = files
    head = base.read_bytes()[:20]
    assert head[:8] == b"_logits_"
    assert struct.unpack("<3i", head[8:]) == (N_CTX, N_VOCAB, N_CHUNK)


def test_a_llama_file_is_not_labels(env: CliEnv, files: tuple[Path, Path], tmp_path: Path) -> None:
    base, _ = files
    np.save(tmp_path / "p.npy", np.full((21, N_VOCAB), 1 / N_VOCAB))
    result = env.run(["loss", str(tmp_path / "p.npy"), "--target", str(base)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: {base}: holds distributions (llama.cpp saved logits), not labels "
        "(its own tokens are the targets: --target tokens)\n"
    )
