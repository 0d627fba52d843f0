"""The kernel layer: one pass over the data, arrays in, additive statistics out.

What the estimators run each iteration, exposed so that other drivers (a
streaming fit, a distributed one, a Bayesian M-step) use fastem's compiled
passes directly. The contract:

- :func:`suff_stats`, :func:`log_resp` and :func:`labels` take the means, the
  precision Cholesky factors (scikit-learn's ``precisions_cholesky_``: shapes
  (k, d, d) 'full', (d, d) 'tied', (k, d) 'diag', (k,) 'spherical') and the
  per-component additive constant ``log_norm`` of the log-densities
  (:func:`log_norm` computes it for a plain mixture from the weights).
- :func:`suff_stats` returns :class:`SuffStats`, statistics taken about the
  given means that add: ``a + b`` or :func:`merge` over blocks of rows equals one
  pass over all of them. :meth:`SuffStats.about` moves them to other means.
- :func:`m_step` turns statistics into weights, means, covariances and
  precision factors; :func:`stats_from_resp` gives the statistics of given
  responsibilities (to initialise).
- :func:`variational_m_step` is the variational (Bayesian) model's conjugate
  update from the same statistics; :func:`log_prob_constant` and
  :func:`expected_log_weights` give its E-step's ``log_norm`` for the same
  pass, and :func:`lower_bound` its ELBO from the entropy statistic.
- :func:`lloyd_step` is k-means' hard-assignment pass; :func:`lloyd_pass` with a
  :class:`LloydState` runs a whole k-means fit pass by pass, skipping the rows
  whose Hamerly bounds prove their label.

The functions check shapes and dtypes, not the data's values: pass finite
float32/float64 arrays (the estimators check the data for you). Results do not
depend on the number of threads.

Examples
--------
Fit on two blocks of rows by adding their statistics:

>>> import numpy as np
>>> from fastem import kernels
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(0, 1, (500, 2)), rng.normal(6, 1, (500, 2))])
>>> weights, means = np.array([0.5, 0.5]), np.array([[1.0, 1.0], [5.0, 5.0]])
>>> chol = np.ones((2, 2))                      # 'diag': unit variances
>>> for _ in range(5):
...     norm = kernels.log_norm(chol, weights, "diag", n_features=2)
...     first = kernels.suff_stats(X[:300], means, chol, norm, "diag")
...     second = kernels.suff_stats(X[300:], means, chol, norm, "diag")
...     stats = first + second
...     weights, means, covariances, chol = kernels.m_step(stats, "diag", 1e-6)
>>> bool(np.allclose(means, [[0, 0], [6, 6]], atol=0.2))
True
"""

from ._gaussian import (
    labels,
    log_det_cholesky,
    log_norm,
    log_resp,
    stats_from_resp,
    suff_stats,
)
from ._lloyd import LloydState, LloydStep, lloyd_pass, lloyd_step
from ._mstep import GaussianParameters, m_step
from ._stats import COVARIANCE_TYPES, SuffStats, merge
from ._variational import (
    VariationalParameters,
    VariationalPrior,
    expected_log_weights,
    log_prob_constant,
    lower_bound,
    variational_m_step,
)

__all__ = [
    "COVARIANCE_TYPES",
    "GaussianParameters",
    "LloydState",
    "LloydStep",
    "SuffStats",
    "VariationalParameters",
    "VariationalPrior",
    "expected_log_weights",
    "labels",
    "lloyd_pass",
    "lloyd_step",
    "log_det_cholesky",
    "log_norm",
    "log_prob_constant",
    "log_resp",
    "lower_bound",
    "m_step",
    "merge",
    "stats_from_resp",
    "suff_stats",
    "variational_m_step",
]
