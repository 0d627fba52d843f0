"""Slow, obviously-correct references for the Gaussian-mixture code paths.

Everything here is written for clarity, not speed: one component at a time,
densities from ``scipy.stats.multivariate_normal``, normalisation with
``scipy.special.logsumexp``. The parameters use scikit-learn's conventions:
``prec_chol`` is ``precisions_cholesky_`` (upper-triangular ``U`` with precision
``U U^T``), shaped (k, d, d) 'full', (d, d) 'tied', (k, d) 'diag', (k,)
'spherical'. All computations are in float64 whatever the input dtype.
"""

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

#: scikit-learn adds this to every component total.
NK_EPS = 10 * np.finfo(np.float64).eps


def precision_matrices(prec_chol, covariance_type, n_components, n_features):
    """The full (d, d) precision matrix of every component, as a list."""
    prec_chol = np.asarray(prec_chol, dtype=np.float64)
    out = []
    for k in range(n_components):
        if covariance_type == "full":
            u = prec_chol[k]
        elif covariance_type == "tied":
            u = prec_chol
        elif covariance_type == "diag":
            u = np.diag(prec_chol[k])
        else:
            u = np.eye(n_features) * prec_chol[k]
        out.append(u @ u.T)
    return out


def covariance_matrices(prec_chol, covariance_type, n_components, n_features):
    """The full (d, d) covariance matrix of every component, as a list."""
    return [
        np.linalg.inv(p)
        for p in precision_matrices(
            prec_chol, covariance_type, n_components, n_features
        )
    ]


def precisions_cholesky(covariances, covariance_type):
    """``inv(cholesky(cov)).T`` for each covariance (scikit-learn's factor)."""
    covariances = np.asarray(covariances, dtype=np.float64)
    if covariance_type == "full":
        return np.array(
            [np.linalg.inv(np.linalg.cholesky(cov)).T for cov in covariances]
        )
    if covariance_type == "tied":
        return np.linalg.inv(np.linalg.cholesky(covariances)).T
    return 1.0 / np.sqrt(covariances)


def log_gaussian(X, means, prec_chol, covariance_type):
    """``log N(x_i | mu_k, Sigma_k)``, shape (n_samples, n_components)."""
    X = np.asarray(X, dtype=np.float64)
    n_components, n_features = np.shape(means)
    covariances = covariance_matrices(
        prec_chol, covariance_type, n_components, n_features
    )
    columns = []
    for k in range(n_components):
        density = multivariate_normal(mean=means[k], cov=covariances[k])
        columns.append(np.atleast_1d(density.logpdf(X)).reshape(X.shape[0]))
    return np.stack(columns, axis=1)


def log_resp(X, means, prec_chol, weights, covariance_type):
    """Per-row ``log p(x_i)`` and responsibilities ``p(k | x_i)``."""
    weighted = log_gaussian(X, means, prec_chol, covariance_type)
    weighted = weighted + np.log(np.asarray(weights, dtype=np.float64))
    log_prob_norm = logsumexp(weighted, axis=1)
    resp = np.exp(weighted - log_prob_norm[:, None])
    return log_prob_norm, resp


def suff_stats(X, means, prec_chol, weights, covariance_type, sample_weight=None):
    """Sufficient statistics about the given ``means``.

    Returns
    -------
    nk : (k,) ``sum_i w_i r_ik``
    sum_dev : (k, d) ``sum_i w_i r_ik (x_i - mu_k)``
    scatter : ``sum_i w_i r_ik (x_i - mu_k)(x_i - mu_k)^T``: (k, d, d) 'full',
        summed over k (d, d) 'tied', its diagonal (k, d) 'diag'/'spherical'
    log_likelihood : ``sum_i w_i log p(x_i)``
    """
    X = np.asarray(X, dtype=np.float64)
    n_samples, n_features = X.shape
    n_components = len(means)
    w = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight)
    log_prob_norm, resp = log_resp(X, means, prec_chol, weights, covariance_type)
    nk = np.zeros(n_components)
    sum_dev = np.zeros((n_components, n_features))
    scatter = np.zeros((n_components, n_features, n_features))
    for k in range(n_components):
        r = w * resp[:, k]
        dev = X - means[k]
        nk[k] = r.sum()
        sum_dev[k] = r @ dev
        for i in range(n_samples):
            scatter[k] += r[i] * np.outer(dev[i], dev[i])
    if covariance_type == "tied":
        scatter = scatter.sum(axis=0)
    elif covariance_type in ("diag", "spherical"):
        scatter = np.array([np.diag(s) for s in scatter])
    return nk, sum_dev, scatter, float(w @ log_prob_norm)


def m_step(X, resp, covariance_type, reg_covar, sample_weight=None):
    """Weights, means and covariances from responsibilities (textbook EM)."""
    X = np.asarray(X, dtype=np.float64)
    n_samples, n_features = X.shape
    n_components = resp.shape[1]
    w = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight)
    nk = np.zeros(n_components)
    means = np.zeros((n_components, n_features))
    covariances = np.zeros((n_components, n_features, n_features))
    for k in range(n_components):
        r = w * resp[:, k]
        nk[k] = r.sum() + NK_EPS
        means[k] = r @ X / nk[k]
        dev = X - means[k]
        covariances[k] = (dev * r[:, None]).T @ dev / nk[k]
    reg = reg_covar * np.eye(n_features)
    if covariance_type == "full":
        covariances = covariances + reg
    elif covariance_type == "tied":
        covariances = (nk[:, None, None] * covariances).sum(axis=0) / nk.sum() + reg
    elif covariance_type == "diag":
        covariances = np.array([np.diag(c) for c in covariances]) + reg_covar
    else:
        covariances = np.array([np.diag(c).mean() for c in covariances]) + reg_covar
    return nk / nk.sum(), means, covariances


def em_step(
    X, weights, means, prec_chol, covariance_type, reg_covar, sample_weight=None
):
    """One EM iteration: E-step from the given parameters, then the M-step.

    Returns
    -------
    params : dict
        ``weights``, ``means``, ``covariances``, ``precisions_cholesky`` after
        the M-step.
    lower_bound : float
        The (weighted) mean log-likelihood under the *given* parameters.
    """
    n_samples = np.shape(X)[0]
    w = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight)
    log_prob_norm, resp = log_resp(X, means, prec_chol, weights, covariance_type)
    new_weights, new_means, covariances = m_step(
        X, resp, covariance_type, reg_covar, sample_weight
    )
    params = {
        "weights": new_weights,
        "means": new_means,
        "covariances": covariances,
        "precisions_cholesky": precisions_cholesky(covariances, covariance_type),
    }
    return params, float(w @ log_prob_norm / w.sum())
