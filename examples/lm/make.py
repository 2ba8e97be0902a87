"""Writes the language-model examples: a reference model's logits, a perturbed ("quantized")
copy, the tokens that actually came next, and both models' top-5 log-probabilities as an LLM
API returns them. Run from the repository root: ``python examples/lm/make.py``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
rng = np.random.default_rng(2026)
positions, vocab = 256, 64
reference = (rng.standard_normal((positions, vocab)) * 2.5).astype(np.float32)
candidate = (reference + rng.standard_normal((positions, vocab)) * 0.15).astype(np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


p = softmax(reference.astype(np.float64))
tokens = np.array([rng.choice(vocab, p=row) for row in p], dtype=np.int64)
np.save(HERE / "reference.npy", reference)
np.save(HERE / "candidate.npy", candidate)
np.save(HERE / "tokens.npy", tokens)


def top_logprobs(logits: np.ndarray, k: int = 5) -> list[dict[str, object]]:
    logprobs = logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
    best = np.argsort(-logprobs, kind="stable")[:k]
    return [{"token": f"t{j}", "logprob": round(float(logprobs[j]), 6)} for j in best]


for name, logits in (("reference", reference), ("candidate", candidate)):
    lines = [json.dumps({"top_logprobs": top_logprobs(row.astype(np.float64))}) for row in logits[:8]]
    (HERE / f"{name}_top5.jsonl").write_text("\n".join(lines) + "\n")
