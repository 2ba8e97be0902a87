"""Baseline: mean KL divergence between the rows of two CSVs with pandas + scipy.stats.entropy."""

import sys

import pandas as pd
import scipy.stats

p = pd.read_csv(sys.argv[1]).to_numpy()
q = pd.read_csv(sys.argv[2]).to_numpy()
print(scipy.stats.entropy(p, q, axis=1).mean())
