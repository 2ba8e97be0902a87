"""Baseline: mean KL divergence between two .npy files of logits, 256 rows at a time.

What a careful user writes when the files do not fit in memory twice over: a
memory map, blocks of rows widened to float64, and SciPy's ``log_softmax``.
"""

import sys

import numpy as np
from scipy.special import log_softmax

a = np.load(sys.argv[1], mmap_mode="r")
b = np.load(sys.argv[2], mmap_mode="r")
total = 0.0
for start in range(0, a.shape[0], 256):
    la = log_softmax(np.asarray(a[start : start + 256], dtype=np.float64), axis=1)
    lb = log_softmax(np.asarray(b[start : start + 256], dtype=np.float64), axis=1)
    total += float(np.sum(np.exp(la) * (la - lb)))
print(total / a.shape[0])
