"""fastem: Numba-compiled one-pass EM for mixture models, a drop-in for scikit-learn.

The estimators mirror scikit-learn's (:class:`GaussianMixture`, :class:`KMeans`);
the compiled kernels behind them are in :mod:`fastem.kernels`.
"""

from .gaussian_mixture import GaussianMixture
from .kmeans import KMeans

__all__ = ["GaussianMixture", "KMeans"]
__version__ = "0.1.0"
