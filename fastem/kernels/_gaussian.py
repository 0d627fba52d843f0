"""Gaussian families on the fused pass: E-step, statistics, per-row outputs.

The public functions validate shapes and dtypes (not the values: pass finite
data), prepare the family's parameters once, run :func:`fastem._kernels._pass.
em_pass` under fastem's thread policy and merge its per-chunk buffers in chunk
order.

Every function takes the per-component additive constant ``log_norm``
explicitly, so one compiled pass serves any model whose log-density is
``log_norm[k] - 1/2 ||(x - mu_k) U_k||^2``: for a plain mixture
``log_norm = log pi_k + log det U_k - d/2 log(2 pi)`` (:func:`log_norm`); a
variational E-step adds its expectations (``E[log pi_k]``, the digamma and
degrees-of-freedom terms, ``-d / (2 beta_k)``) to the same vector.
"""

import math

import numba
import numpy as np

from .. import _ahead
from .._config import run_chunks
from .._kernels import diag as _diag
from .._kernels import full as _full
from .._kernels import tied as _tied
from .._kernels._pass import em_pass, pass_arguments
from .._kernels._reduce import merge, n_chunks_for
from .._triangles import symmetric_from_lower
from ._stats import SuffStats, check_covariance_type, stats_from_source

_NO_WEIGHTS = np.empty(0)


def _as_f64(array):
    return np.ascontiguousarray(array, dtype=np.float64)


def check_X(X):
    """Return ``X`` as a C-contiguous float32/float64 2-D array, or raise."""
    if not isinstance(X, np.ndarray) or X.ndim != 2:
        raise ValueError(
            "X must be a 2-D NumPy array of shape (n_samples, n_features)."
        )
    if X.dtype not in (np.float32, np.float64):
        raise TypeError(f"X must be float32 or float64, got {X.dtype}.")
    return np.ascontiguousarray(X)


def _expected_chol_shape(covariance_type, n_components, n_features):
    return {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[covariance_type]


def _check_parameters(X, means, precisions_cholesky, log_norm, covariance_type):
    check_covariance_type(covariance_type)
    means = _as_f64(means)
    chol = _as_f64(precisions_cholesky)
    norm = _as_f64(log_norm)
    n_features = X.shape[1]
    if means.ndim != 2 or means.shape[1] != n_features or means.shape[0] < 1:
        raise ValueError(
            f"means must have shape (n_components, {n_features}), got {means.shape}."
        )
    k = means.shape[0]
    expected = _expected_chol_shape(covariance_type, k, n_features)
    if chol.shape != expected:
        raise ValueError(
            f"precisions_cholesky for covariance_type={covariance_type!r} must have "
            f"shape {expected}, got {chol.shape}."
        )
    if norm.shape != (k,):
        raise ValueError(f"log_norm must have shape ({k},), got {norm.shape}.")
    return means, chol, norm


def _check_sample_weight(sample_weight, n_samples):
    if sample_weight is None:
        return _NO_WEIGHTS
    weights = _as_f64(sample_weight)
    if weights.shape != (n_samples,):
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), got {weights.shape}."
        )
    return weights


def log_det_cholesky(precisions_cholesky, covariance_type, n_features):
    """``log det U_k``: the sum of the logs of each factor's diagonal.

    Parameters
    ----------
    precisions_cholesky : ndarray
        As ``GaussianMixture.precisions_cholesky_``.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_features : int

    Returns
    -------
    ndarray of shape (n_components,) or float
        A scalar for 'tied' (one shared factor).
    """
    check_covariance_type(covariance_type)
    chol = np.asarray(precisions_cholesky, dtype=np.float64)
    if covariance_type == "full":
        return np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    if covariance_type == "tied":
        return np.log(np.diag(chol)).sum()
    if covariance_type == "diag":
        return np.log(chol).sum(axis=1)
    return n_features * np.log(chol)


def log_norm(precisions_cholesky, weights, covariance_type, n_features):
    """``log pi_k + log det U_k - d/2 log(2 pi)``: a plain mixture's ``log_norm``.

    Parameters
    ----------
    precisions_cholesky : ndarray
        As ``GaussianMixture.precisions_cholesky_``.
    weights : ndarray of shape (n_components,)
        Mixture weights (a weight of 0 gives ``-inf``: that component takes no
        responsibility).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_features : int

    Returns
    -------
    ndarray of shape (n_components,)
    """
    log_det = log_det_cholesky(precisions_cholesky, covariance_type, n_features)
    with np.errstate(divide="ignore"):
        log_weights = np.log(np.asarray(weights, dtype=np.float64))
    return log_weights + log_det - 0.5 * n_features * math.log(2 * math.pi)


# -- the families: prepared parameters, buffer size and unpacking --------------


def _model(covariance_type, means, chol, dtype=np.float64):
    if covariance_type == "full":
        return _full.prepare_model(means, chol, dtype)
    if covariance_type == "tied":
        return _tied.prepare_model(means, chol, dtype)
    if covariance_type == "spherical":
        chol = np.ascontiguousarray(np.repeat(chol[:, None], means.shape[1], axis=1))
    return _diag.prepare_model(means, chol, dtype)


_STATS_SIZE = {
    "full": _full.stats_size,
    "tied": _tied.stats_size,
    "diag": _diag.stats_size,
    "spherical": _diag.stats_size,
}


def _unpack(covariance_type, means, flat):
    """Cut a merged chunk buffer into ``nk``, ``sum_dev``, scatter, between."""
    k, d = means.shape
    nk = flat[:k]
    sum_dev = flat[k : k + k * d].reshape(k, d)
    rest = flat[k + k * d :]
    between = None
    if covariance_type == "full":
        padded = -(-d // 4) * 4
        scatter = symmetric_from_lower(rest.reshape(k, padded, padded)[:, :d, :d])
    elif covariance_type == "tied":
        scatter = symmetric_from_lower(rest[: d * d].reshape(d, d))
        between = symmetric_from_lower(rest[d * d :].reshape(k, k))
    else:
        scatter = rest.reshape(k, d)
    return nk, sum_dev, scatter, between


def _run(
    X,
    sample_weight,
    means,
    chol,
    norm,
    covariance_type,
    *,
    n_chunks=None,
    stats_size=0,
    **outputs,
):
    k = means.shape[0]
    if n_chunks is None:
        n_chunks = n_chunks_for(X.shape[0], max(stats_size, 1))
    # Work units (about a multiply-add each) for the serial-or-parallel choice
    # (fastem._config.threads_for): the family's arithmetic per row and
    # component, plus the exp and log-sum-exp share.
    d = X.shape[1]
    per_component = (d * d if covariance_type in ("full", "tied") else 2 * d) + 32
    work = X.shape[0] * k * per_component

    def run(model):
        arguments = pass_arguments(
            X,
            sample_weight,
            model,
            norm,
            n_chunks=n_chunks,
            stats_size=stats_size,
            **outputs,
        )
        run_chunks(em_pass, n_chunks, *arguments, work=work)
        return arguments[4:6]  # stats, totals

    model = _model(covariance_type, means, chol, X.dtype)
    _ahead.wait(covariance_type, X.dtype)  # a child compiling this pass, if any
    stats, totals = run(model)
    single = isinstance(getattr(model, "arithmetic", None), np.float32)
    if single and stats_size and not np.isfinite(stats).all():
        # The float32 products overflowed (|sqrt(r) (x - mu)| beyond about
        # 1e18; float32 holds 3.4e38): the same pass in float64 arithmetic, a
        # pass compiled only for this (or non-finite data, which stays so).
        stats, totals = run(_model(covariance_type, means, chol))
    return stats, totals


#: Bytes of chunk buffers one call of the compiled pass may hold. Above it the
#: chunks run in waves: consecutive groups of chunks, one parallel call each,
#: added to the running total in chunk order. The chunks and the order of the
#: additions are those of one call, so the statistics are the same bit for bit;
#: only fewer buffers are alive (full, d=16, k=64, two threads: 8 MiB and a
#: small second wave instead of 9 MiB at once; d=64, k=32: 6 MiB instead of 15).
WAVE_BYTES = 1 << 23


def _chunk_start(n_samples, n_chunks, chunk):
    """First row of ``chunk`` (as :func:`fastem._kernels._reduce.chunk_bounds`)."""
    base, extra = divmod(n_samples, n_chunks)
    return chunk * base + min(chunk, extra)


def _stats_in_waves(X, weights, means, chol, norm, covariance_type, size, entropy):
    """Return the merged statistics and totals of one pass, run in waves.

    A wave of consecutive chunks is the pass over their rows split into as many
    chunks: the row counts of ``chunk_bounds`` (the first ``n % n_chunks``
    chunks one row longer) come out the same for any group of consecutive
    chunks, so every chunk is the one-call chunk.
    """
    n_samples = X.shape[0]
    n_chunks = n_chunks_for(n_samples, max(size, 1))
    per_wave = max(1, WAVE_BYTES // (8 * max(size, 1)))
    if per_wave < n_chunks:
        # A multiple of the thread count, so that every thread has chunks in
        # every wave; the statistics do not depend on the wave size.
        threads = numba.get_num_threads()
        per_wave = max(threads, per_wave // threads * threads)
    merged = totals = None
    for first in range(0, n_chunks, per_wave):
        last = min(first + per_wave, n_chunks)
        start = _chunk_start(n_samples, n_chunks, first)
        stop = _chunk_start(n_samples, n_chunks, last)
        stats, wave_totals = _run(
            X[start:stop],
            weights[start:stop] if weights.shape[0] else weights,
            means,
            chol,
            norm,
            covariance_type,
            n_chunks=last - first,
            stats_size=size,
            with_entropy=entropy,
        )
        merged = merge(stats, into=merged)
        totals = merge(wave_totals, into=totals)
        del stats, wave_totals  # free this wave's buffers before the next
    return merged, totals


def suff_stats(
    X,
    means,
    precisions_cholesky,
    log_norm,
    covariance_type,
    sample_weight=None,
    *,
    entropy=False,
):
    """Run one fused E-step and return the sufficient statistics.

    One parallel pass over ``X`` computes every component's log-density, the
    log-sum-exp, the responsibilities and their weighted sums; nothing of size
    n_samples x n_components is allocated. The result does not depend on the
    number of threads, and statistics of blocks of rows add up
    (:class:`SuffStats`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        The data (float32 is read as float32 and accumulated in float64).
    means : ndarray of shape (n_components, n_features)
    precisions_cholesky : ndarray
        As ``GaussianMixture.precisions_cholesky_``.
    log_norm : ndarray of shape (n_components,)
        Per-component additive constant of the log-densities, e.g.
        :func:`log_norm` for a plain mixture.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    sample_weight : ndarray of shape (n_samples,), default=None
        Non-negative row weights; None for unit weights.
    entropy : bool, default=False
        Also accumulate ``sum_i w_i sum_k r_ik log r_ik`` (costs one more
        multiply-add per row and component; nothing when false).

    Returns
    -------
    SuffStats
        ``nk``, ``sum_dev``, ``scatter`` about ``means``, the weighted
        ``log_likelihood`` sum, the total ``weight`` and ``entropy`` (or None).
    """
    X = check_X(X)
    means, chol, norm = _check_parameters(
        X, means, precisions_cholesky, log_norm, covariance_type
    )
    weights = _check_sample_weight(sample_weight, X.shape[0])
    if not isinstance(entropy, (bool, np.bool_)):
        raise TypeError(f"entropy must be True or False, got {entropy!r}.")
    size = _STATS_SIZE[covariance_type](*means.shape)
    merged, totals = _stats_in_waves(
        X, weights, means, chol, norm, covariance_type, size, bool(entropy)
    )
    nk, sum_dev, scatter, between = _unpack(covariance_type, means, merged)
    log_likelihood, entropy_sum, weight = totals
    return SuffStats(
        covariance_type,
        means,
        nk,
        sum_dev,
        scatter,
        log_likelihood,
        weight,
        entropy_sum if entropy else None,
        between,
        X.dtype,
    )


def log_resp(
    X, means, precisions_cholesky, log_norm, covariance_type, *, return_resp=True
):
    """Per-row log-likelihood and responsibilities in one compiled pass.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    means, precisions_cholesky, log_norm, covariance_type
        As in :func:`suff_stats`.
    return_resp : bool, default=True
        Also return the (n_samples, n_components) responsibilities.

    Returns
    -------
    log_prob_norm : ndarray of shape (n_samples,)
        ``log sum_k exp(logp_k(x_i))`` (``log p(x_i)`` for a plain mixture),
        float64.
    resp : ndarray of shape (n_samples, n_components) or None
        Responsibilities, float64, or None when ``return_resp`` is false.
    """
    X = check_X(X)
    means, chol, norm = _check_parameters(
        X, means, precisions_cholesky, log_norm, covariance_type
    )
    lse = np.empty(X.shape[0])
    resp = np.empty((X.shape[0] if return_resp else 0, means.shape[0]))
    _run(X, _NO_WEIGHTS, means, chol, norm, covariance_type, lse_out=lse, resp_out=resp)
    return lse, (resp if return_resp else None)


def labels(X, means, precisions_cholesky, log_norm, covariance_type):
    """Most likely component of each row (the largest weighted log-density).

    Memory is one int64 per row: no (n_samples, n_components) array.

    Parameters
    ----------
    X, means, precisions_cholesky, log_norm, covariance_type
        As in :func:`log_resp`.

    Returns
    -------
    ndarray of shape (n_samples,), int64
        The first component of the largest ``logp_k`` on ties.
    """
    X = check_X(X)
    means, chol, norm = _check_parameters(
        X, means, precisions_cholesky, log_norm, covariance_type
    )
    out = np.empty(X.shape[0], dtype=np.int64)
    _run(X, _NO_WEIGHTS, means, chol, norm, covariance_type, labels_out=out)
    return out


def stats_from_resp(X, resp, covariance_type, sample_weight=None):
    """Sufficient statistics of given responsibilities (e.g. to initialise).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    resp : array-like of shape (n_samples, n_components)
        Non-negative responsibilities (rows usually sum to 1; one-hot labels
        work too).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    sample_weight : ndarray of shape (n_samples,), default=None

    Returns
    -------
    SuffStats
        About the responsibility-weighted means; ``m_step`` of it gives the
        parameters scikit-learn's ``_estimate_gaussian_parameters`` gives.
    """
    X = check_X(X)
    check_covariance_type(covariance_type)
    resp = np.asarray(resp, dtype=np.float64)
    if resp.ndim != 2 or resp.shape[0] != X.shape[0] or resp.shape[1] < 1:
        raise ValueError(
            f"resp must have shape ({X.shape[0]}, n_components), got {resp.shape}."
        )
    weights = _check_sample_weight(sample_weight, X.shape[0])
    return stats_from_source(
        X,
        weights if weights.shape[0] else None,
        lambda start, stop: resp[start:stop],
        covariance_type,
        n_components=resp.shape[1],
    )
