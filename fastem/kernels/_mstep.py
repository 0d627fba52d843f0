"""M-step: parameters from sufficient statistics (small NumPy/SciPy math).

Everything here is O(n_components * n_features^2) or less; the O(n) work is in
the kernels. The statistics are centered on the E-step's means, so the new
covariance is those statistics moved to the new means (:meth:`SuffStats.about`),
with no large cancellation (unlike the raw ``E[x x^T] - mu mu^T``). The update
is Bishop (2006), *Pattern Recognition and Machine Learning*, eq. 9.24-9.26,
with scikit-learn's ``10 eps`` added to every ``nk`` and ``reg_covar`` to every
covariance diagonal.
"""

import numbers
from typing import NamedTuple

import numpy as np

from .._triangles import inverse_transpose
from ._stats import NK_EPS, SuffStats


class GaussianParameters(NamedTuple):
    """Parameters of a Gaussian mixture, as scikit-learn names them.

    Attributes
    ----------
    weights : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray
        Shaped as ``GaussianMixture.covariances_``.
    precisions_cholesky : ndarray
        Shaped as ``GaussianMixture.precisions_cholesky_``.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray


def ill_defined_message(float32_input=False):
    """Return scikit-learn's error text for a non positive-definite covariance."""
    message = (
        "Fitting the mixture model failed because some components have "
        "ill-defined empirical covariance (for instance caused by singleton "
        "or collapsed samples). Try to decrease the number of components, "
        "increase reg_covar, or scale the input data."
    )
    if float32_input:
        message += (
            " The numerical accuracy can also be improved by passing float64"
            " data instead of float32."
        )
    return message


def check_update_input(stats, reg_covar):
    """Raise unless ``stats`` is a :class:`SuffStats` and ``reg_covar`` >= 0.

    The checks every update from statistics (EM's, the variational one) makes
    before any arithmetic.
    """
    if not isinstance(stats, SuffStats):
        raise TypeError(f"stats must be a SuffStats, got {type(stats).__name__}.")
    if not isinstance(reg_covar, numbers.Real) or not reg_covar >= 0:
        raise ValueError(f"reg_covar must be a non-negative number, got {reg_covar!r}.")


def new_means(stats):
    """``sum_i w_i r_ik x_i / (nk_k + 10 eps)``, written about the stats' means.

    ``m_k + (sum_dev_k - 10 eps m_k) / (nk_k + 10 eps)``: the ``10 eps m_k`` term
    is negligible for a live component, but one that has lost all its rows
    (``nk_k`` ~ 0) moves to the origin, as in scikit-learn.
    """
    nk_eps = stats.nk + NK_EPS
    return stats.means + (stats.sum_dev - NK_EPS * stats.means) / nk_eps[:, None]


def covariances(stats, reg_covar):
    """Covariances from statistics taken about the means they describe.

    Parameters
    ----------
    stats : SuffStats
        Usually ``stats.about(new_means(stats))``.
    reg_covar : float
        Added to the covariance diagonals.

    Returns
    -------
    ndarray
        Shaped as ``GaussianMixture.covariances_``.
    """
    nk_eps = stats.nk + NK_EPS
    scatter = stats.scatter
    covariance_type = stats.covariance_type
    if covariance_type == "full":
        result = scatter / nk_eps[:, None, None]
        idx = np.arange(stats.n_features)
        result[:, idx, idx] += reg_covar
        return result
    if covariance_type == "tied":
        result = scatter / nk_eps.sum()
        result.flat[:: stats.n_features + 1] += reg_covar
        return result
    result = scatter / nk_eps[:, None] + reg_covar
    if covariance_type == "spherical":
        result = result.mean(axis=1)
    return result


def m_step(stats: SuffStats, covariance_type, reg_covar):
    """Weights, means, covariances and precision factors from statistics.

    Parameters
    ----------
    stats : SuffStats
        Statistics of one E-step (or a sum of them over blocks of rows).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        Must be the statistics' own.
    reg_covar : float
        Non-negative, added to the covariance diagonals.

    Returns
    -------
    GaussianParameters
        ``weights`` (``nk + 10 eps``, normalised to sum to 1), ``means``,
        ``covariances`` and ``precisions_cholesky``.

    Raises
    ------
    ValueError
        When a covariance is not positive definite (scikit-learn's message).

    Examples
    --------
    >>> import numpy as np
    >>> from fastem.kernels import m_step, stats_from_resp
    >>> X = np.array([[0.0], [2.0], [10.0], [12.0]])
    >>> resp = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> params = m_step(stats_from_resp(X, resp, "diag"), "diag", 0.0)
    >>> params.means.round(6), params.covariances.round(6)
    (array([[ 1.],
           [11.]]), array([[1.],
           [1.]]))
    """
    check_update_input(stats, reg_covar)
    if covariance_type != stats.covariance_type:
        raise ValueError(
            f"covariance_type={covariance_type!r} does not match the statistics' "
            f"{stats.covariance_type!r}."
        )
    means = new_means(stats)
    covs = covariances(stats.about(means), reg_covar)
    chol = precisions_cholesky(
        covs, covariance_type, float32_input=stats.dtype == np.float32
    )
    weights = stats.nk + NK_EPS
    return GaussianParameters(weights / weights.sum(), means, covs, chol)


def precisions_cholesky(covariances, covariance_type, float32_input=False):
    """Upper-triangular Cholesky factors of the precisions (scikit-learn's).

    Parameters
    ----------
    covariances : ndarray
        Shaped as ``GaussianMixture.covariances_``.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    float32_input : bool, default=False
        Whether the data was float32 (only changes the error text).

    Returns
    -------
    ndarray
        Shaped as ``covariances``.

    Raises
    ------
    ValueError
        When a covariance is not positive definite.
    """
    if covariance_type in ("full", "tied"):
        # The factorisations in one batched LAPACK call (NumPy's stacked
        # linalg, faster than a loop from k=8 on), the triangular inverses
        # one raw LAPACK call each (2-6x faster than the batched LU inverse
        # at every d >= 8 and k tried; scipy.linalg's checked wrappers cost
        # ~0.1 ms a call, more than the E-step of a small problem).
        if not np.all(np.isfinite(covariances)):
            raise ValueError("array must not contain infs or NaNs")
        try:
            cov_chol = np.linalg.cholesky(covariances)
            return inverse_transpose(cov_chol)
        except np.linalg.LinAlgError:
            raise ValueError(ill_defined_message(float32_input)) from None
    if np.any(covariances <= 0.0):
        raise ValueError(ill_defined_message(float32_input))
    return 1.0 / np.sqrt(covariances)


def precisions_cholesky_from_precisions(precisions, covariance_type):
    """Upper-triangular ``U`` with ``U U^T = precision`` (for ``precisions_init``).

    Parameters
    ----------
    precisions : ndarray
        Shaped as ``GaussianMixture.precisions_``.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    ndarray
        Shaped as ``precisions``.
    """
    if covariance_type in ("full", "tied"):
        # Reversing rows and columns turns the lower Cholesky factor of the
        # reversed matrix into the upper factor we need.
        flip = precisions[..., ::-1, ::-1]
        lower = np.linalg.cholesky(flip)
        return np.ascontiguousarray(lower[..., ::-1, ::-1])
    return np.sqrt(precisions)


def precisions_from_cholesky(prec_chol, covariance_type):
    """``U U^T`` for each factor (scikit-learn's ``precisions_``)."""
    if covariance_type == "full":
        return prec_chol @ np.swapaxes(prec_chol, 1, 2)
    if covariance_type == "tied":
        return prec_chol @ prec_chol.T
    return prec_chol**2


def covariances_from_precisions(precisions, covariance_type):
    """Inverse of each precision (used when ``precisions_init`` is given)."""
    if covariance_type in ("full", "tied"):
        return np.linalg.inv(precisions)
    return 1.0 / precisions
