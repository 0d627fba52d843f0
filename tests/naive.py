"""Slow, obviously-correct references for the Gaussian-mixture code paths.

Everything here is written for clarity, not speed: one component at a time,
densities from ``scipy.stats.multivariate_normal``, normalisation with
``scipy.special.logsumexp``. The parameters use scikit-learn's conventions:
``prec_chol`` is ``precisions_cholesky_`` (upper-triangular ``U`` with precision
``U U^T``), shaped (k, d, d) 'full', (d, d) 'tied', (k, d) 'diag', (k,)
'spherical'. All computations are in float64 whatever the input dtype.
"""

import numpy as np
from scipy.special import digamma, logsumexp
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


# --- the variational (Bayesian) mixture ---------------------------------------


def variational_update(X, resp, covariance_type, reg_covar, prior, sample_weight=None):
    """The posterior's parameters after one update (Bishop 2006, eq. 10.58-10.63).

    ``prior`` is a dict: ``weight_type``, ``alpha0``, ``beta0``, ``m0`` (d,),
    ``nu0`` and ``cov0`` (the inverse Wishart scale ``W_0^-1`` as a full (d, d)
    matrix). scikit-learn's conventions: ``nk`` gets ``10 eps``, the sample
    covariances get ``reg_covar``, 'tied' shares one Wishart with ``nu = nu_0 +
    n / K`` and the averaged scatter, 'diag' and 'spherical' keep the diagonal
    (or its mean) of the full update, and the stored covariance is
    ``W_k^-1 / nu_k``.

    Returns
    -------
    dict
        ``concentration`` ((k,) or the stick Betas' ``(a, b)``), ``beta`` (k,),
        ``means`` (k, d), ``nu`` ((k,), a number for 'tied') and ``covariances``
        shaped as scikit-learn's.
    """
    X = np.asarray(X, dtype=np.float64)
    n_samples, n_features = X.shape
    n_components = resp.shape[1]
    w = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight)
    nk = np.zeros(n_components)
    xk = np.zeros((n_components, n_features))
    sk = np.zeros((n_components, n_features, n_features))
    for k in range(n_components):
        r = w * resp[:, k]
        nk[k] = r.sum() + NK_EPS
        xk[k] = r @ X / nk[k]
        for i in range(n_samples):
            dev = X[i] - xk[k]
            sk[k] += r[i] * np.outer(dev, dev)
        sk[k] = sk[k] / nk[k] + reg_covar * np.eye(n_features)
    alpha0, beta0, m0 = prior["alpha0"], prior["beta0"], prior["m0"]
    if prior["weight_type"] == "dirichlet_process":
        a = 1.0 + nk
        b = np.array([alpha0 + nk[k + 1 :].sum() for k in range(n_components)])
        concentration = (a, b)
    else:
        concentration = alpha0 + nk
    beta = beta0 + nk
    means = np.array([(beta0 * m0 + nk[k] * xk[k]) / beta[k] for k in range(len(nk))])
    scales = np.array(
        [
            prior["cov0"]
            + nk[k] * sk[k]
            + beta0 * nk[k] / (beta0 + nk[k]) * np.outer(xk[k] - m0, xk[k] - m0)
            for k in range(n_components)
        ]
    )
    nu = prior["nu0"] + nk
    if covariance_type == "tied":
        # One Wishart for all: the prior once, the data terms averaged over k.
        nu = prior["nu0"] + nk.sum() / n_components
        covariances = (prior["cov0"] + (scales - prior["cov0"]).mean(axis=0)) / nu
    elif covariance_type == "full":
        covariances = scales / nu[:, None, None]
    elif covariance_type == "diag":
        covariances = np.array([np.diag(s) for s in scales]) / nu[:, None]
    else:
        covariances = np.array([np.diag(s).mean() for s in scales]) / nu
    return {
        "concentration": concentration,
        "beta": beta,
        "means": means,
        "nu": nu,
        "covariances": covariances,
    }


def expected_log_weights(concentration, weight_type):
    """``E[log pi_k]``: Dirichlet digammas, or stick by stick."""
    if weight_type == "dirichlet_distribution":
        return digamma(concentration) - digamma(np.sum(concentration))
    a, b = concentration
    out = np.zeros(len(a))
    for k in range(len(a)):
        out[k] = digamma(a[k]) - digamma(a[k] + b[k])
        for j in range(k):
            out[k] += digamma(b[j]) - digamma(a[j] + b[j])
    return out


def expected_log_gaussian(X, means, precisions, beta, nu):
    """``E[log N(x | mu_k, Lambda_k^-1)]`` under the Normal-Wishart posterior.

    Bishop (2006) eq. 10.64-10.65 with ``W_k = precisions[k] / nu_k``:
    ``(1/2) E[log |Lambda|] - (d/2) log 2 pi - (1/2)(d / beta_k + nu_k (x -
    m_k)^T W_k (x - m_k))``, ``E[log |Lambda|] = sum_i psi((nu + 1 - i)/2) + d
    log 2 + log |W|``. ``precisions`` is a list of (d, d) matrices.
    """
    X = np.asarray(X, dtype=np.float64)
    n_features = X.shape[1]
    out = np.zeros((X.shape[0], len(means)))
    for k in range(len(means)):
        W = precisions[k] / nu[k]
        e_log_det = (
            sum(digamma((nu[k] + 1 - i) / 2) for i in range(1, n_features + 1))
            + n_features * np.log(2.0)
            + np.linalg.slogdet(W)[1]
        )
        for i, x in enumerate(X):
            dev = x - means[k]
            quad = n_features / beta[k] + nu[k] * dev @ W @ dev
            out[i, k] = 0.5 * e_log_det - 0.5 * n_features * np.log(2 * np.pi)
            out[i, k] -= 0.5 * quad
    return out


# --- online (stepwise) EM -------------------------------------------------------


def stepwise_em(
    batches,
    weights,
    means,
    covariances,
    covariance_type,
    reg_covar,
    learning_decay,
    learning_offset,
    sample_weights=None,
):
    """Stepwise online EM (Cappe and Moulines 2009) with raw moments.

    The running per-sample statistics of component ``k`` are ``s0 = E[w r_k]``,
    ``s1 = E[w r_k x]`` and ``s2 = E[w r_k x x^T]`` (full (d, d) for every
    family). They start from the parameters: ``s0 = weights``, ``s1 = s0 mu``,
    ``s2 = s0 (Sigma - reg_covar I + mu mu^T)`` (``Sigma`` the full matrix of
    the family, shared for 'tied'), whose M-step gives the parameters back.
    Batch ``t = 1, 2, ...`` (responsibilities under the current parameters)
    mixes in with ``g = (t + learning_offset) ** -learning_decay`` its sums
    divided by its total weight: ``s <- (1 - g) s + g s_batch``. The M-step:
    ``nk = s0 + 10 eps``, ``pi = nk / sum(nk)``, ``mu = s1 / nk``, ``Sigma = (s2
    - mu s1^T - s1 mu^T + s0 mu mu^T) / nk + reg_covar I`` ('tied': the scatters
    summed over ``k`` over ``sum(nk)``; 'diag' its diagonal; 'spherical' the
    mean of the diagonal).

    Returns
    -------
    list of (dict, float)
        After each batch: ``weights``, ``means``, ``covariances``,
        ``precisions_cholesky``, and the batch's weighted mean log-likelihood
        under the parameters before its update.
    """
    weights = np.asarray(weights, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    covariances = np.asarray(covariances, dtype=np.float64)
    n_components, n_features = means.shape
    eye = np.eye(n_features)

    def full_matrices(covariances):
        if covariance_type == "full":
            return list(covariances)
        if covariance_type == "tied":
            return [covariances] * n_components
        if covariance_type == "diag":
            return [np.diag(c) for c in covariances]
        return [c * eye for c in covariances]

    s0 = weights.copy()
    s1 = s0[:, None] * means
    s2 = np.array(
        [
            s0[k] * (cov - reg_covar * eye + np.outer(means[k], means[k]))
            for k, cov in enumerate(full_matrices(covariances))
        ]
    )
    steps = []
    for t, X in enumerate(batches, start=1):
        X = np.asarray(X, dtype=np.float64)
        n_samples = X.shape[0]
        if sample_weights is None or sample_weights[t - 1] is None:
            w = np.ones(n_samples)
        else:
            w = np.asarray(sample_weights[t - 1], dtype=np.float64)
        prec_chol = precisions_cholesky(covariances, covariance_type)
        log_prob_norm, resp = log_resp(X, means, prec_chol, weights, covariance_type)
        lower_bound = float(w @ log_prob_norm / w.sum())
        g = (t + learning_offset) ** -learning_decay
        r = resp * w[:, None] / w.sum()
        b0 = r.sum(axis=0)
        b1 = r.T @ X
        b2 = np.array([(X * r[:, k, None]).T @ X for k in range(n_components)])
        s0 = (1 - g) * s0 + g * b0
        s1 = (1 - g) * s1 + g * b1
        s2 = (1 - g) * s2 + g * b2
        nk = s0 + NK_EPS
        weights = nk / nk.sum()
        means = s1 / nk[:, None]
        scatter = np.array(
            [
                s2[k]
                - np.outer(means[k], s1[k])
                - np.outer(s1[k], means[k])
                + s0[k] * np.outer(means[k], means[k])
                for k in range(n_components)
            ]
        )
        if covariance_type == "full":
            covariances = scatter / nk[:, None, None] + reg_covar * eye
        elif covariance_type == "tied":
            covariances = scatter.sum(axis=0) / nk.sum() + reg_covar * eye
        elif covariance_type == "diag":
            covariances = (
                np.array([np.diag(s) for s in scatter]) / nk[:, None] + reg_covar
            )
        else:
            covariances = (
                np.array([np.diag(s).mean() for s in scatter]) / nk + reg_covar
            )
        params = {
            "weights": weights,
            "means": means,
            "covariances": covariances,
            "precisions_cholesky": precisions_cholesky(covariances, covariance_type),
        }
        steps.append((params, lower_bound))
    return steps
