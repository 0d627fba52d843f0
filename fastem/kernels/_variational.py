"""Variational Gaussian mixture: the conjugate update and the ELBO from statistics.

The model of scikit-learn's ``BayesianGaussianMixture`` (Bishop 2006, *Pattern
Recognition and Machine Learning*, section 10.2; Blei and Jordan 2006 for the
stick-breaking Dirichlet process). The approximate posterior is a Dirichlet (or,
for the Dirichlet process, one Beta per stick) over the weights and a
Normal-Wishart per component: ``mu_k | Lambda_k ~ N(m_k, (beta_k Lambda_k)^-1)``,
``Lambda_k ~ Wishart(W_k, nu_k)``. As in scikit-learn, ``covariances`` holds
``W_k^-1 / nu_k`` (so its inverse is ``E[Lambda_k]``), ``degrees_of_freedom`` is
``nu_k`` and ``mean_precision`` is ``beta_k``.

Everything here is small math on a :class:`SuffStats`; the O(n) work is the
compiled pass of :func:`fastem.kernels.suff_stats`, which the variational E-step
reuses unchanged with per-component constants (:func:`log_prob_constant`) in
``log_norm``. Statistics are centred on their means, so the sample covariances
``S_k`` the update needs carry no cancellation (scikit-learn's tied covariance is
the raw ``X^T X - sum nk m m^T``).
"""

import math
from typing import NamedTuple

import numpy as np
from scipy.special import betaln, digamma, gammaln

from .._config import slabs
from ._gaussian import log_det_cholesky
from ._mstep import check_update_input, covariances, new_means, precisions_cholesky
from ._stats import NK_EPS, SuffStats

WEIGHT_PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")


class VariationalPrior(NamedTuple):
    """Prior of a variational Gaussian mixture (scikit-learn's ``*_prior_``).

    Attributes
    ----------
    weight_concentration_prior_type : {'dirichlet_process', \
'dirichlet_distribution'}
        Stick-breaking Beta priors or one symmetric Dirichlet on the weights.
    weight_concentration : float
        The concentration ``alpha_0`` (``gamma`` for the Dirichlet process).
    mean_precision : float
        ``beta_0``.
    mean : ndarray of shape (n_features,)
        ``m_0``.
    degrees_of_freedom : float
        ``nu_0``, greater than ``n_features - 1``.
    covariance : ndarray or float
        ``W_0^-1``: (n_features, n_features) for 'full' and 'tied',
        (n_features,) for 'diag', a number for 'spherical'.
    """

    weight_concentration_prior_type: str
    weight_concentration: float
    mean_precision: float
    mean: np.ndarray
    degrees_of_freedom: float
    covariance: np.ndarray


class VariationalParameters(NamedTuple):
    """Posterior of a variational Gaussian mixture, as scikit-learn names it.

    Attributes
    ----------
    weight_concentration : ndarray of shape (n_components,) or tuple of two
        The Dirichlet's parameters, or for the Dirichlet process the two
        parameters of each stick's Beta.
    mean_precision : ndarray of shape (n_components,)
        ``beta_k``.
    means : ndarray of shape (n_components, n_features)
        ``m_k``.
    degrees_of_freedom : ndarray of shape (n_components,) or float
        ``nu_k`` (one number for 'tied').
    covariances : ndarray
        ``W_k^-1 / nu_k``, shaped by the covariance type.
    precisions_cholesky : ndarray
        Upper-triangular Cholesky factors of the inverses of ``covariances``.
    """

    weight_concentration: object
    mean_precision: np.ndarray
    means: np.ndarray
    degrees_of_freedom: object
    covariances: np.ndarray
    precisions_cholesky: np.ndarray


def _weighted_slabs(X, sample_weight):
    """Yield float64 slabs of rows of ``X`` and their weights (or None)."""
    n_samples, n_features = X.shape
    for start, stop in slabs(n_samples, 8 * n_features):
        weights = None if sample_weight is None else sample_weight[start:stop]
        yield np.asarray(X[start:stop], dtype=np.float64), weights


def data_mean(X, sample_weight):
    """Return the (weighted) mean of the rows, scikit-learn's default ``mean_prior``.

    Summed over slabs in float64; with ``sample_weight`` an integer weight
    counts as that many copies of the row.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    ndarray of shape (n_features,)
    """
    from .. import _dask

    if isinstance(X, _dask.DaskData):  # unweighted: the column means
        return _dask.column_mean_var(X)[0]
    total = 0.0
    sums = np.zeros(X.shape[1])
    for rows, w in _weighted_slabs(X, sample_weight):
        total += rows.shape[0] if w is None else w.sum()
        sums += rows.sum(axis=0) if w is None else w @ rows
    return sums / total


def data_covariance(X, sample_weight, mean, covariance_type):
    """Return the unbiased covariance of the rows, the default ``covariance_prior``.

    scikit-learn's ``np.cov(X.T)``; for 'diag' the variances, for 'spherical'
    their mean. One pass over slabs accumulates the scatter about ``mean`` (the
    data's mean, :func:`data_mean`) in float64, so offset data keep their digits
    and no copy of ``X`` is made. With ``sample_weight`` an integer weight counts
    as that many copies of the row; the total weight must exceed 1.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None
    mean : ndarray of shape (n_features,)
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    ndarray or float
        Shaped as :attr:`VariationalPrior.covariance`.
    """
    from .. import _dask

    if isinstance(X, _dask.DaskData):  # unweighted, on the blocks
        return _dask.data_covariance(X, mean, covariance_type)
    n_features = X.shape[1]
    total = X.shape[0] if sample_weight is None else sample_weight.sum()
    full = covariance_type in ("full", "tied")
    scatter = np.zeros((n_features, n_features) if full else n_features)
    for rows, w in _weighted_slabs(X, sample_weight):
        dev = rows - mean
        weighted = dev if w is None else dev * w[:, None]
        scatter += weighted.T @ dev if full else np.einsum("ij,ij->j", weighted, dev)
    covariance = scatter / (total - 1.0)
    if covariance_type == "spherical":
        return float(covariance.mean())
    return covariance


def weight_concentration(nk, prior):
    """Posterior parameters of the weights' distribution.

    Parameters
    ----------
    nk : ndarray of shape (n_components,)
        Responsibility totals (with scikit-learn's ``10 eps``).
    prior : VariationalPrior

    Returns
    -------
    ndarray of shape (n_components,) or tuple of two such arrays
        ``alpha_0 + nk`` for the Dirichlet; for the Dirichlet process the Beta
        parameters ``(1 + nk, gamma + sum_{j > k} nk_j)``.
    """
    if prior.weight_concentration_prior_type == "dirichlet_process":
        tail = np.hstack((np.cumsum(nk[::-1])[-2::-1], 0))
        return 1.0 + nk, prior.weight_concentration + tail
    return prior.weight_concentration + nk


def expected_log_weights(concentration, prior_type):
    """``E[log pi_k]`` under the weights' posterior.

    Parameters
    ----------
    concentration : ndarray or tuple of two ndarrays
        As :func:`weight_concentration` returns it.
    prior_type : {'dirichlet_process', 'dirichlet_distribution'}

    Returns
    -------
    ndarray of shape (n_components,)
        ``psi(alpha_k) - psi(sum alpha)`` for the Dirichlet; for the stick
        breaking ``E[log v_k] + sum_{j < k} E[log (1 - v_j)]``.
    """
    if prior_type == "dirichlet_process":
        a, b = concentration
        digamma_sum = digamma(a + b)
        log_stick = digamma(a) - digamma_sum
        log_rest = digamma(b) - digamma_sum
        return log_stick + np.hstack((0, np.cumsum(log_rest)[:-1]))
    return digamma(concentration) - digamma(np.sum(concentration))


def mixture_weights(concentration, prior_type):
    """``E[pi_k]``, normalised to sum to 1 (scikit-learn's ``weights_``).

    Parameters
    ----------
    concentration : ndarray or tuple of two ndarrays
        As :func:`weight_concentration` returns it.
    prior_type : {'dirichlet_process', 'dirichlet_distribution'}

    Returns
    -------
    ndarray of shape (n_components,)
    """
    if prior_type == "dirichlet_process":
        a, b = concentration
        total = a + b
        weights = a / total * np.hstack((1, np.cumprod(b[:-1] / total[:-1])))
        return weights / np.sum(weights)
    return concentration / np.sum(concentration)


def _check_prior(prior, n_features):
    """Raise unless ``prior`` is a :class:`VariationalPrior` fitting the data."""
    if not isinstance(prior, VariationalPrior):
        raise TypeError(
            f"prior must be a VariationalPrior, got {type(prior).__name__}."
        )
    if prior.weight_concentration_prior_type not in WEIGHT_PRIOR_TYPES:
        raise ValueError(
            f"weight_concentration_prior_type must be one of {WEIGHT_PRIOR_TYPES}, "
            f"got {prior.weight_concentration_prior_type!r}."
        )
    if np.shape(prior.mean) != (n_features,):
        raise ValueError(
            f"prior.mean must have shape ({n_features},), got {np.shape(prior.mean)}."
        )


def _wishart_scale(nk, xk, sk, mean_precision, prior, covariance_type):
    """``W_k^-1`` of the posterior (before dividing by ``nu_k``)."""
    beta0 = prior.mean_precision
    diff = xk - prior.mean
    if covariance_type == "full":
        shrink = nk * beta0 / mean_precision
        return (
            prior.covariance
            + nk[:, None, None] * sk
            + shrink[:, None, None] * (diff[:, :, None] * diff[:, None, :])
        )
    n_components = nk.shape[0]
    if covariance_type == "tied":
        return (
            prior.covariance
            + sk * nk.sum() / n_components
            + beta0 / n_components * ((nk / mean_precision) * diff.T) @ diff
        )
    shrink = (beta0 / mean_precision)[:, None] * np.square(diff)
    if covariance_type == "diag":
        return prior.covariance + nk[:, None] * (sk + shrink)
    return prior.covariance + nk * (sk + shrink.mean(axis=1))


def variational_m_step(stats: SuffStats, prior: VariationalPrior, reg_covar):
    """Update the posterior from one E-step's statistics (conjugate update).

    Bishop (2006) eq. 10.58-10.63 with scikit-learn's conventions: ``nk`` gets
    ``10 eps``, the sample covariances ``S_k`` get ``reg_covar`` on their
    diagonal, the Wishart scale is stored as the covariance ``W_k^-1 / nu_k``,
    and 'tied' shares one Wishart with ``nu = nu_0 + n / K``.

    Parameters
    ----------
    stats : SuffStats
        Statistics of one E-step (or a sum over blocks of rows).
    prior : VariationalPrior
    reg_covar : float
        Non-negative, added to the diagonals of the sample covariances.

    Returns
    -------
    VariationalParameters

    Raises
    ------
    ValueError
        When a covariance is not positive definite (scikit-learn's message).

    Examples
    --------
    >>> import numpy as np
    >>> from fastem.kernels import stats_from_resp
    >>> from fastem.kernels import VariationalPrior, variational_m_step
    >>> X = np.array([[0.0], [2.0], [10.0], [12.0]])
    >>> resp = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> prior = VariationalPrior("dirichlet_distribution", 0.5, 1.0,
    ...                          np.array([6.0]), 1.0, np.array([1.0]))
    >>> post = variational_m_step(stats_from_resp(X, resp, "diag"), prior, 0.0)
    >>> post.weight_concentration, post.mean_precision, post.means.ravel()
    (array([2.5, 2.5]), array([3., 3.]), array([2.66666667, 9.33333333]))
    """
    check_update_input(stats, reg_covar)
    _check_prior(prior, stats.n_features)
    covariance_type = stats.covariance_type
    nk = stats.nk + NK_EPS
    xk = new_means(stats)
    sk = covariances(stats.about(xk), reg_covar)
    concentration = weight_concentration(nk, prior)
    mean_precision = prior.mean_precision + nk
    means = (prior.mean_precision * prior.mean + nk[:, None] * xk) / mean_precision[
        :, None
    ]
    if covariance_type == "tied":
        dof = prior.degrees_of_freedom + nk.sum() / nk.shape[0]
    else:
        dof = prior.degrees_of_freedom + nk
    scale = _wishart_scale(nk, xk, sk, mean_precision, prior, covariance_type)
    # Unlike Bishop, scikit-learn stores the Wishart scale divided by nu.
    covs = scale / np.reshape(dof, np.shape(dof) + (1,) * (scale.ndim - np.ndim(dof)))
    chol = precisions_cholesky(
        covs, covariance_type, float32_input=stats.dtype == np.float32
    )
    return VariationalParameters(concentration, mean_precision, means, dof, covs, chol)


def _expected_log_det_precision(dof, n_features):
    """``E[log |Lambda|] - log |W|`` = ``d log 2 + sum_i psi((nu - i) / 2)``."""
    offsets = np.arange(n_features)[:, None]
    return n_features * math.log(2.0) + np.sum(
        digamma(0.5 * (np.atleast_1d(dof) - offsets)), axis=0
    )


def log_prob_constant(params: VariationalParameters, covariance_type):
    """Per-component constant of ``E[log N(x | mu_k, Lambda_k^-1)]``.

    With the precision factors of ``params.covariances`` (``U_k U_k^T = nu_k
    W_k``) the expected log-density is ``-0.5 ||U_k^T (x - m_k)||^2`` plus

    ``log |U_k| - (d/2) log(2 pi) - (d/2) log nu_k
    + (1/2) (d log 2 + sum_i psi((nu_k - i)/2)) - d / (2 beta_k)``,

    the constant this returns, so the variational E-step is the Gaussian pass
    with ``log_norm = E[log pi] + constant`` (as scikit-learn's
    ``_estimate_log_prob``).

    Parameters
    ----------
    params : VariationalParameters
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    ndarray of shape (n_components,)
    """
    n_components, n_features = params.means.shape
    log_det = log_det_cholesky(params.precisions_cholesky, covariance_type, n_features)
    dof = params.degrees_of_freedom
    constant = (
        log_det
        - 0.5 * n_features * math.log(2 * math.pi)
        - 0.5 * n_features * np.log(dof)
        + 0.5
        * (
            _expected_log_det_precision(dof, n_features)
            - n_features / params.mean_precision
        )
    )
    return np.broadcast_to(constant, (n_components,))


def _log_wishart_norm(dof, log_det_chol, n_features):
    """``-log B(W, nu)`` of the Wishart, without its ``log pi`` term."""
    offsets = np.arange(n_features)[:, None]
    return -(
        dof * log_det_chol
        + dof * n_features * 0.5 * math.log(2.0)
        + np.sum(gammaln(0.5 * (np.atleast_1d(dof) - offsets)), axis=0)
    )


def lower_bound(stats: SuffStats, params: VariationalParameters, prior):
    """Return the ELBO as scikit-learn computes it (constant terms dropped).

    ``-sum_i w_i sum_k r_ik log r_ik`` (the kernel's entropy statistic) minus
    the log-normalisers of the posterior's Wisharts and weight distribution,
    minus ``(d/2) sum_k log beta_k``, with ``params`` the update of ``stats``.

    Parameters
    ----------
    stats : SuffStats
        Statistics of the E-step, taken with ``entropy=True``.
    params : VariationalParameters
        The posterior after the M-step on ``stats``.
    prior : VariationalPrior

    Returns
    -------
    float
    """
    if not isinstance(stats, SuffStats):
        raise TypeError(f"stats must be a SuffStats, got {type(stats).__name__}.")
    if stats.entropy is None:
        raise ValueError("The lower bound needs statistics taken with entropy=True.")
    covariance_type = stats.covariance_type
    n_components, n_features = params.means.shape
    dof = params.degrees_of_freedom
    log_det_chol = log_det_cholesky(
        params.precisions_cholesky, covariance_type, n_features
    ) - 0.5 * n_features * np.log(dof)
    log_wishart = _log_wishart_norm(dof, log_det_chol, n_features)
    if covariance_type == "tied":
        log_wishart = n_components * float(log_wishart[0])
    else:
        log_wishart = float(np.sum(log_wishart))
    concentration = params.weight_concentration
    if prior.weight_concentration_prior_type == "dirichlet_process":
        log_norm_weight = -np.sum(betaln(*concentration))
    else:
        log_norm_weight = gammaln(np.sum(concentration)) - np.sum(
            gammaln(concentration)
        )
    return float(
        -stats.entropy
        - log_wishart
        - log_norm_weight
        - 0.5 * n_features * np.sum(np.log(params.mean_precision))
    )


def log_predictive_density(X, params, weights, covariance_type):
    """Log of the posterior predictive density: a mixture of Student-t.

    Bishop (2006) eq. 10.81-10.82: integrating a new point's Gaussian over the
    posterior gives ``sum_k E[pi_k] St(x | m_k, L_k, nu_k + 1 - d)`` with
    precision ``L_k = (nu_k + 1 - d) beta_k / (1 + beta_k) W_k``, where
    ``W_k = precisions_k / nu_k``; 'tied', 'diag' and 'spherical' use the same
    formula with their shared, diagonal or scalar ``W``. Computed in slabs, so
    the (n_samples, n_components) intermediate is never whole.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    params : VariationalParameters
    weights : ndarray of shape (n_components,)
        ``E[pi_k]``.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    ndarray of shape (n_samples,), float64
    """
    n_samples, n_features = X.shape
    n_components = params.means.shape[0]
    dof = np.broadcast_to(params.degrees_of_freedom, (n_components,))
    beta = params.mean_precision
    t_dof = dof + 1.0 - n_features
    # L_k = scale_k * precisions_k, and the factor of L_k is sqrt(scale_k) U_k.
    scale = t_dof * beta / ((1.0 + beta) * dof)
    chol = params.precisions_cholesky
    log_det_u = log_det_cholesky(chol, covariance_type, n_features)
    log_det_u = np.broadcast_to(log_det_u, (n_components,))
    constant = (
        np.log(weights)
        + gammaln(0.5 * (t_dof + n_features))
        - gammaln(0.5 * t_dof)
        - 0.5 * n_features * np.log(t_dof * math.pi)
        + log_det_u
        + 0.5 * n_features * np.log(scale)
    )
    out = np.empty(n_samples)
    for start, stop in slabs(n_samples, 8 * max(n_components, n_features)):
        rows = np.asarray(X[start:stop], dtype=np.float64)
        log_t = np.empty((stop - start, n_components))
        for k in range(n_components):
            dev = rows - params.means[k]
            if covariance_type == "full":
                y = dev @ chol[k]
            elif covariance_type == "tied":
                y = dev @ chol
            else:
                y = dev * chol[k]
            mahal = scale[k] * np.einsum("ij,ij->i", y, y)
            log_t[:, k] = constant[k] - 0.5 * (t_dof[k] + n_features) * np.log1p(
                mahal / t_dof[k]
            )
        top = log_t.max(axis=1)
        out[start:stop] = top + np.log(np.exp(log_t - top[:, None]).sum(axis=1))
    return out
