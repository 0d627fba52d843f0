"""Helpers shared by the fused kernels: block loading and the log-sum-exp.

The fused kernels work on blocks of rows stored transposed, ``xt[feature, row]``,
so that their inner loops run over rows: those loops vectorise whatever the number
of features. The helpers here take the row count from their arguments.

:func:`exp_nonpositive` is a vectorisable ``exp`` for the arguments a log-sum-exp
produces (``<= 0``): LLVM cannot vectorise calls to libm's ``exp``, and with one
``exp`` per row and component it otherwise dominates the cheaper kernels.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .._config import jit

_SHIFTER = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer
_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238  # ln 2 with trailing zero bits: n * _LN2_HI is exact
_LN2_LO = 1.9082149292705877e-10  # ln 2 - _LN2_HI
_MIN_ARG = -746.0  # exp(-746) rounds to 0


@intrinsic
def _as_float(typingctx, bits):
    """Reinterpret the bits of an int64 as a float64."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _as_int(typingctx, value):
    """Reinterpret the bits of a float64 as an int64."""
    if value != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


# Only contraction: reassociation would undo the rounding trick and the split of
# ln 2 that keep the result within 1 ulp of ``np.exp``.
@jit(fastmath={"contract"})
def exp_nonpositive(x):
    """``exp(x)`` for ``x <= 0``, within 1 ulp of ``np.exp``; branch-free.

    ``x = n ln 2 + r`` with ``|r| <= ln 2 / 2``; ``exp(r)`` is its Taylor
    polynomial of degree 13 (truncation error below 1e-17) and ``2**n`` is built
    from its exponent bits in two halves, so results in the subnormal range are
    right too and arguments below -746 (or ``-inf``) give 0. NaN stays NaN.
    Positive arguments up to about 709 are also exact.
    """
    x = max(x, _MIN_ARG)
    t = x * _LOG2E + _SHIFTER
    n = t - _SHIFTER
    r = x - n * _LN2_HI
    r = r - n * _LN2_LO
    q = 1.0 / 6227020800.0
    q = q * r + 1.0 / 479001600.0
    q = q * r + 1.0 / 39916800.0
    q = q * r + 1.0 / 3628800.0
    q = q * r + 1.0 / 362880.0
    q = q * r + 1.0 / 40320.0
    q = q * r + 1.0 / 5040.0
    q = q * r + 1.0 / 720.0
    q = q * r + 1.0 / 120.0
    q = q * r + 1.0 / 24.0
    q = q * r + 1.0 / 6.0
    q = q * r + 0.5
    p = 1.0 + (r + (r * r) * q)
    n_int = _as_int(t) - _as_int(_SHIFTER)
    half = n_int >> 1
    rest = n_int - half
    return p * _as_float((half + 1023) << 52) * _as_float((rest + 1023) << 52)


@jit
def load_block(X, sample_weight, start, stop, xt, wt):
    """Copy rows ``start:stop`` of ``X`` into ``xt`` (transposed, float64).

    ``xt`` has shape (n_features, n_rows). Rows past ``stop`` (the tail of the last
    block) repeat row ``start`` and get weight 0, so they are finite and contribute
    nothing. ``sample_weight`` of length 0 means unit weights.
    """
    n_features, n_rows = xt.shape
    count = stop - start
    weighted = sample_weight.shape[0] > 0
    for b in range(n_rows):
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
def center_block(xt, ref, xc):
    """``xc[j, b] = xt[j, b] - ref[j]`` for the features of ``ref``."""
    n_rows = xt.shape[1]
    for j in range(ref.shape[0]):
        r = ref[j]
        for b in range(n_rows):
            xc[j, b] = xt[j, b] - r


@jit
def log_sum_exp_block(logp, wt, resp, lse, scratch):
    """Normalise a block of weighted log-densities.

    Parameters
    ----------
    logp : ndarray of shape (n_components, n_rows)
        ``log pi_k + log N(x_b | k)``.
    wt : ndarray of shape (n_rows,)
        Row weights (0 for padding rows); they enter only the log-likelihood,
        never the responsibilities (a subnormal weight must not be divided out
        later).
    resp : ndarray of shape (n_components, n_rows)
        Output: responsibilities (each column sums to 1).
    lse : ndarray of shape (n_rows,)
        Output: ``log sum_k exp(logp[k, b])``.
    scratch : ndarray of shape (n_rows,)
        Work space.

    Returns
    -------
    float
        ``sum_b wt[b] * lse[b]``, the block's weighted log-likelihood.
    """
    n_components, n_rows = logp.shape
    for b in range(n_rows):
        lse[b] = logp[0, b]
        scratch[b] = 0.0
    for k in range(1, n_components):
        for b in range(n_rows):
            lse[b] = max(lse[b], logp[k, b])
    for k in range(n_components):
        for b in range(n_rows):
            e = exp_nonpositive(logp[k, b] - lse[b])
            resp[k, b] = e
            scratch[b] += e
    loglik = 0.0
    for b in range(n_rows):
        lse[b] += np.log(scratch[b])
        loglik += wt[b] * lse[b]
        scratch[b] = 1.0 / scratch[b]
    for k in range(n_components):
        for b in range(n_rows):
            resp[k, b] *= scratch[b]
    return loglik
