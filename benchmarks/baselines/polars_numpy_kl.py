"""Baseline: mean KL divergence between the rows of two CSVs with polars + NumPy, by hand."""

import sys

import numpy as np
import polars as pl

p = pl.read_csv(sys.argv[1]).to_numpy()
q = pl.read_csv(sys.argv[2]).to_numpy()
p = p / p.sum(axis=1, keepdims=True)
q = q / q.sum(axis=1, keepdims=True)
with np.errstate(divide="ignore", invalid="ignore"):
    kl = np.sum(np.where(p > 0, p * np.log(p / q), 0.0), axis=1)
print(kl.mean())
