"""M-step: parameters from sufficient statistics (small NumPy/SciPy math).

Everything here is O(n_components * n_features^2) or less; the O(n) work is in
the kernels. The statistics are centred on the current means, so the new
covariance is the centred scatter minus the mean-shift correction, with no
large cancellation (unlike the raw ``E[x x^T] - mu mu^T``).
"""

import numpy as np
from scipy import linalg

from .kernels import SuffStats

#: Added to every component's total, as scikit-learn does, so no component
#: divides by zero.
NK_EPS = 10 * np.finfo(np.float64).eps


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


def _shifted(nk, sum_dev, means):
    """Mean shifts ``delta_k`` and the regularised totals ``nk_k + 10 eps``.

    The new mean ``means + delta`` is scikit-learn's
    ``sum_i r_ik x_i / (nk_k + 10 eps)``, written about the current mean:
    ``delta_k = (sum_dev_k - 10 eps mu_k) / (nk_k + 10 eps)``. The ``10 eps mu_k``
    term is negligible for a live component, but a component that has lost all
    its rows (``nk_k`` ~ 0) moves to the origin, as in scikit-learn, instead of
    staying where it was.
    """
    nk_eps = nk + NK_EPS
    return nk_eps, (sum_dev - NK_EPS * means) / nk_eps[:, None]


def update(stats: SuffStats, means, covariance_type, reg_covar):
    """Weights, means and covariances from one E-step's statistics.

    Parameters
    ----------
    stats : SuffStats
        Statistics about ``means``.
    means : ndarray of shape (n_components, n_features)
        The means the statistics were centred on.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    reg_covar : float
        Added to the covariance diagonals.

    Returns
    -------
    weights : ndarray of shape (n_components,)
        ``nk`` (plus scikit-learn's ``10 * eps``), not normalised.
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray
        Shaped as ``GaussianMixture.covariances_``.
    """
    nk_eps, delta = _shifted(stats.nk, stats.sum_dev, means)
    new_means = means + delta
    # sum_i r (x - mu - delta)^2 = S2 - 2 delta s1 + N delta^2, N = nk (no eps).
    nk = stats.nk
    if covariance_type == "full":
        cross = delta[:, :, None] * stats.sum_dev[:, None, :]
        scatter = (
            stats.scatter
            - cross
            - np.swapaxes(cross, 1, 2)
            + nk[:, None, None] * delta[:, :, None] * delta[:, None, :]
        )
        covariances = scatter / nk_eps[:, None, None]
        idx = np.arange(means.shape[1])
        covariances[:, idx, idx] += reg_covar
    elif covariance_type == "tied":
        correction = (
            delta.T @ stats.sum_dev
            + stats.sum_dev.T @ delta
            - (delta * nk[:, None]).T @ delta
        )
        covariances = (stats.scatter - correction) / nk_eps.sum()
        covariances = 0.5 * (covariances + covariances.T)
        covariances.flat[:: means.shape[1] + 1] += reg_covar
    else:
        scatter = stats.scatter - 2 * delta * stats.sum_dev + nk[:, None] * delta**2
        covariances = scatter / nk_eps[:, None] + reg_covar
        if covariance_type == "spherical":
            covariances = covariances.mean(axis=1)
    return nk_eps, new_means, covariances


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
        stack = covariances if covariance_type == "full" else covariances[None]
        n_features = stack.shape[-1]
        eye = np.eye(n_features)
        out = np.empty_like(stack)
        for k, cov in enumerate(stack):
            try:
                cov_chol = linalg.cholesky(cov, lower=True)
            except linalg.LinAlgError:
                raise ValueError(ill_defined_message(float32_input)) from None
            out[k] = linalg.solve_triangular(cov_chol, eye, lower=True).T
        return out if covariance_type == "full" else out[0]
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
