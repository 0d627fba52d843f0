"""Fused one-pass kernels for full covariances.

Component ``k`` has mean ``means[k]`` and an upper-triangular precision Cholesky
factor ``U_k`` (precision = ``U_k U_k^T``, scikit-learn's convention), so

    log N(x | k) = sum(log diag U_k) - d/2 log(2 pi) - 1/2 ||(x - mu_k) U_k||^2.

``log_norm[k]`` carries everything but the quadratic term, plus ``log pi_k``.

How the work is done, per block of ``BLOCK`` rows (stored transposed, one feature
per row):

- E-step: the projections ``U_k^T (x - ref)`` of all components come from a few
  matrix products (BLAS ``dgemm`` through ``np.dot``), with ``ref`` the mean of
  the component means. The columns of each ``U_k`` are cut into slices so that
  the products skip most of the zero lower triangle. Subtracting
  ``U_k^T (mu_k - ref)`` gives ``U_k^T (x - mu_k)``; centering on ``ref`` keeps
  that subtraction from cancelling badly.
- M-step: ``x - mu_k`` is formed exactly and the scatter about ``mu_k`` is
  accumulated with 2 x 4 tiles of vectorised reductions over the block's rows.

BLAS runs single-threaded inside the parallel loop (the caller holds
:func:`fastem._config.single_threaded_blas`); each chunk's arithmetic then does
not depend on the number of threads. The pass itself is
:func:`._pass.em_pass`; this module gives it the family's density and
statistics.
"""

from collections import namedtuple

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401 - load the BLAS np.dot calls

from .._config import jit
from ._pass import register_family

#: Rows per block: the row dimension of the E-step matrix products.
BLOCK = 128
#: Target number of output rows (component x column) per E-step product: the
#: 128 x 128 product (128 KiB) stays in L2 next to the block's other work arrays.
PRODUCT_ROWS = 128
#: Features per column slice of the precision factors. With ``s`` slices the
#: products do ``(1 + 1/s) / 2`` of the multiply-adds of full ``d x d`` factors.
SLICE_FEATURES = 8


def _plan(n_features, n_components):
    """Slices of the factor columns and components per E-step product."""
    n_slices = max(1, n_features // SLICE_FEATURES)
    slice_width = -(-n_features // n_slices)
    group = max(1, min(n_components, PRODUCT_ROWS // slice_width))
    return n_slices, group


def _prepare(means, prec_chol, n_slices, group):
    """Compute the reference point, projected offsets and gathered factor slices.

    Returns ``ref`` (the mean of the means), ``offsets[k, j] = ((mu_k - ref)
    U_k)[j]`` and ``gathered``: for each group of components and each column
    slice ``[lo, hi)``, the matrix of shape (group * (hi - lo), hi) whose row
    ``(q, jj)`` is column ``lo + jj`` of ``U_{g group + q}`` cut at row ``hi``
    (the rows below are zero), stored one after the other. Small K x D x D
    NumPy work, once per call (compiling it cost more than it ever saved).
    """
    n_components, n_features = means.shape
    upper = np.triu(prec_chol)
    ref = means.sum(axis=0) / n_components
    offsets = np.matmul((means - ref)[:, None, :], upper)[:, 0, :]
    columns = np.swapaxes(upper, 1, 2)  # columns[k, j] is column j of U_k
    pieces = []
    for first in range(0, n_components, group):
        members = columns[first : first + group]
        for s in range(n_slices):
            lo = s * n_features // n_slices
            hi = (s + 1) * n_features // n_slices
            pieces.append(members[:, lo:hi, :hi].ravel())
    return ref, np.ascontiguousarray(offsets), np.concatenate(pieces)


#: Prepared parameters of the full family (see :func:`prepare_model`).
FullModel = namedtuple(
    "FullModel",
    ["means", "ref", "offsets", "gathered", "n_slices", "group", "work_rows"],
)


def _padded(n_features):
    return -(-n_features // 4) * 4


def prepare_model(means, prec_chol):
    """Return the :class:`FullModel` of float64 C-contiguous parameters.

    Parameters
    ----------
    means : ndarray of shape (n_components, n_features)
    prec_chol : ndarray of shape (n_components, n_features, n_features)
        Upper-triangular precision Cholesky factors (scikit-learn's
        ``precisions_cholesky_``).

    The scratch (``work_rows`` rows) holds ``dev`` and ``wdev`` (``p`` rows
    each, ``p`` = d rounded up to 4; the rows past d stay zero), ``xc`` (d rows)
    and the E-step products' output.
    """
    n_features = means.shape[1]
    n_slices, group = _plan(n_features, means.shape[0])
    ref, offsets, gathered = _prepare(means, prec_chol, n_slices, group)
    proj_rows = group * -(-n_features // n_slices)
    work_rows = 2 * _padded(n_features) + n_features + proj_rows
    return FullModel(means, ref, offsets, gathered, n_slices, group, work_rows)


@jit
def _log_density(model, xt, log_norm, work, logp):
    """``logp[k, b] = log_norm[k] - 1/2 ||U_k^T (x_b - mu_k)||^2`` for a block."""
    offsets = model.offsets
    gathered = model.gathered
    n_slices = model.n_slices
    group = model.group
    ref = model.ref
    n_components, n_features = offsets.shape
    n_rows = xt.shape[1]
    n_padded = -(-n_features // 4) * 4
    xc = work[2 * n_padded : 2 * n_padded + n_features]
    proj = work[2 * n_padded + n_features :]
    for j in range(n_features):
        r = ref[j]
        for b in range(n_rows):
            xc[j, b] = xt[j, b] - r
    for k in range(n_components):
        for b in range(n_rows):
            logp[k, b] = 0.0
    n_groups = -(-n_components // group)
    pos = 0
    for g in range(n_groups):
        members = min(group, n_components - g * group)
        for s in range(n_slices):
            lo = s * n_features // n_slices
            hi = (s + 1) * n_features // n_slices
            width = hi - lo
            n_out = members * width
            factors = gathered[pos : pos + n_out * hi].reshape((n_out, hi))
            pos += n_out * hi
            out = proj[:n_out]
            np.dot(factors, xc[:hi], out)
            for q in range(members):
                k = g * group + q
                for jj in range(width):
                    c = offsets[k, lo + jj]
                    for b in range(n_rows):
                        y = out[q * width + jj, b] - c
                        logp[k, b] += y * y
    for k in range(n_components):
        for b in range(n_rows):
            logp[k, b] = log_norm[k] - 0.5 * logp[k, b]


def stats_size(n_components, n_features):
    """Length of one chunk's buffer: ``nk``, ``s1`` and the padded ``s2``."""
    n_padded = _padded(n_features)
    return n_components * (1 + n_features + n_padded * n_padded)


@jit
def _accumulate(model, xt, wresp, prob, wt, work, buffer):
    """Add each component's block statistics about its mean.

    ``buffer`` holds ``nk`` (k), ``s1`` (k, d) and ``s2`` (k, p, p), ``p`` = d
    rounded up to 4, one after the other, C order: ``nk += sum_b r_b``,
    ``s1 += sum_b r_b (x_b - mu)`` and the lower triangle (in 2 x 4 tiles, so a
    little past the diagonal) of ``s2 += sum_b r_b (x_b - mu)(x_b - mu)^T``.
    """
    means = model.means
    n_components, n_features = means.shape
    n_rows = xt.shape[1]
    n_padded = -(-n_features // 4) * 4
    dev = work[:n_padded]
    wdev = work[n_padded : 2 * n_padded]
    s1_at = n_components
    s2_at = n_components + n_components * n_features
    for k in range(n_components):
        r = wresp[k]
        total = 0.0
        for b in range(n_rows):
            total += r[b]
        buffer[k] += total
        for j in range(n_features):
            m = means[k, j]
            t = 0.0
            for b in range(n_rows):
                d = xt[j, b] - m
                w = r[b] * d
                dev[j, b] = d
                wdev[j, b] = w
                t += w
            buffer[s1_at + k * n_features + j] += t
        s2 = s2_at + k * n_padded * n_padded
        for j in range(0, n_features, 2):
            w0 = wdev[j]
            w1 = wdev[j + 1]
            row0 = s2 + j * n_padded
            row1 = row0 + n_padded
            for i in range(0, j + 1, 4):
                d0 = dev[i]
                d1 = dev[i + 1]
                d2 = dev[i + 2]
                d3 = dev[i + 3]
                a00 = 0.0
                a01 = 0.0
                a02 = 0.0
                a03 = 0.0
                a10 = 0.0
                a11 = 0.0
                a12 = 0.0
                a13 = 0.0
                for b in range(n_rows):
                    x0 = w0[b]
                    x1 = w1[b]
                    y0 = d0[b]
                    y1 = d1[b]
                    y2 = d2[b]
                    y3 = d3[b]
                    a00 += x0 * y0
                    a01 += x0 * y1
                    a02 += x0 * y2
                    a03 += x0 * y3
                    a10 += x1 * y0
                    a11 += x1 * y1
                    a12 += x1 * y2
                    a13 += x1 * y3
                buffer[row0 + i] += a00
                buffer[row0 + i + 1] += a01
                buffer[row0 + i + 2] += a02
                buffer[row0 + i + 3] += a03
                buffer[row1 + i] += a10
                buffer[row1 + i + 1] += a11
                buffer[row1 + i + 2] += a12
                buffer[row1 + i + 3] += a13


register_family(
    FullModel, block=BLOCK, log_density=_log_density, accumulate=_accumulate
)
