"""Helpers that move a block of rows into a transposed float64 scratch buffer.

The fused kernels work on blocks of ``BLOCK`` rows stored transposed,
``xt[feature, row]``, so that their inner loops run over rows with a trip count
known at compile time: those loops vectorise without remainder handling whatever
the number of features.
"""

import numpy as np

from .._config import jit

#: Rows per block. A compile-time constant of every kernel that uses it.
BLOCK = 32


@jit
def load_block(X, sample_weight, start, stop, xt, wt):
    """Copy rows ``start:stop`` of ``X`` into ``xt`` (transposed, float64).

    Rows past ``stop`` (the tail of the last block) repeat row ``start`` and get
    weight 0, so they are finite and contribute nothing. ``sample_weight`` of
    length 0 means unit weights.
    """
    n_features = X.shape[1]
    count = stop - start
    weighted = sample_weight.shape[0] > 0
    for b in range(BLOCK):
        row = start + b if b < count else start
        for j in range(n_features):
            xt[j, b] = X[row, j]
        if b >= count:
            wt[b] = 0.0
        elif weighted:
            wt[b] = sample_weight[row]
        else:
            wt[b] = 1.0


@jit
def log_sum_exp_block(logp, wt, resp, lse, scratch):
    """Normalise a block of weighted log-densities.

    Parameters
    ----------
    logp : ndarray of shape (n_components, BLOCK)
        ``log pi_k + log N(x_b | k)``.
    wt : ndarray of shape (BLOCK,)
        Row weights (0 for padding rows).
    resp : ndarray of shape (n_components, BLOCK)
        Output: responsibilities times the row weight.
    lse : ndarray of shape (BLOCK,)
        Output: ``log sum_k exp(logp[k, b])``.
    scratch : ndarray of shape (BLOCK,)
        Work space.

    Returns
    -------
    float
        ``sum_b wt[b] * lse[b]``, the block's weighted log-likelihood.
    """
    n_components = logp.shape[0]
    for b in range(BLOCK):
        lse[b] = logp[0, b]
        scratch[b] = 0.0
    for k in range(1, n_components):
        for b in range(BLOCK):
            lse[b] = max(lse[b], logp[k, b])
    for k in range(n_components):
        for b in range(BLOCK):
            e = np.exp(logp[k, b] - lse[b])
            resp[k, b] = e
            scratch[b] += e
    loglik = 0.0
    for b in range(BLOCK):
        lse[b] += np.log(scratch[b])
        loglik += wt[b] * lse[b]
        scratch[b] = wt[b] / scratch[b]
    for k in range(n_components):
        for b in range(BLOCK):
            resp[k, b] *= scratch[b]
    return loglik
