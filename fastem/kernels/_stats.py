"""Sufficient statistics of a Gaussian mixture: an additive type.

What one E-step over a block of rows leaves behind (Bishop 2006, *Pattern
Recognition and Machine Learning*, eq. 9.17-9.19, written about given means):

- ``nk[k] = sum_i w_i r_ik``
- ``sum_dev[k] = sum_i w_i r_ik (x_i - m_k)``
- ``scatter = sum_i w_i r_ik (x_i - m_k)(x_i - m_k)^T`` (per component for
  'full', summed over components for 'tied', its diagonal for 'diag' and
  'spherical')
- ``log_likelihood = sum_i w_i log p(x_i)``, ``weight = sum_i w_i`` and, when
  asked for, ``entropy = sum_i w_i sum_k r_ik log r_ik``

all taken about the same means ``m`` (the parameters of the E-step). Every one
of them is a plain sum over rows, so the statistics of two blocks of rows taken
about the same means add: ``a + b`` (and :func:`merge` of a list, in order) is
what one pass over both blocks gives, bit for bit when the blocks are the
kernel's own chunks merged in chunk order. Statistics about different means are
made comparable with :meth:`SuffStats.about`, which moves them exactly (Chan,
Golub and LeVeque 1979's update of centered sums):

    sum r (x - m')(x - m')^T = S - d s^T - s d^T + nk d d^T,    d = m' - m,

with ``s = sum_dev``; the M-step is that same move to the new means. Keeping the
moments centered (never the raw ``sum r x x^T``) is what keeps the digits of data
far from the origin and of float32 data.
"""

import functools
import operator

import numpy as np

from .._config import slabs

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

#: Added to every component's total, as scikit-learn does, so no component
#: divides by zero.
NK_EPS = 10 * np.finfo(np.float64).eps


def check_covariance_type(covariance_type):
    """Raise ``ValueError`` unless ``covariance_type`` is a known family."""
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type must be one of {COVARIANCE_TYPES}, "
            f"got {covariance_type!r}."
        )


class SuffStats:
    """Sufficient statistics of one E-step, about given means; they add.

    Parameters
    ----------
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The family, which fixes the shape of ``scatter``.
    means : ndarray of shape (n_components, n_features)
        The means the statistics are taken about.
    nk : ndarray of shape (n_components,)
        ``sum_i w_i r_ik``.
    sum_dev : ndarray of shape (n_components, n_features)
        ``sum_i w_i r_ik (x_i - m_k)``.
    scatter : ndarray
        ``sum_i w_i r_ik (x_i - m_k)(x_i - m_k)^T``: (k, d, d) for 'full', summed
        over components (d, d) for 'tied', the diagonal (k, d) for 'diag' and
        'spherical'. For 'tied' with ``between``, only the within-row part.
    log_likelihood : float
        ``sum_i w_i log p(x_i)``.
    weight : float
        ``sum_i w_i`` (the number of rows when unweighted).
    entropy : float or None, default=None
        ``sum_i w_i sum_k r_ik log r_ik`` if it was computed.
    between : ndarray of shape (n_components, n_components) or None
        'tied' only, as the kernel leaves it: the tied scatter is
        ``scatter + Mc^T between Mc`` with ``Mc`` the means minus their mean.
        Kept apart so that sums of blocks stay bit-identical to one pass.
    dtype : numpy dtype, default=float64
        The data's dtype (float32 data is accumulated in float64 too).

    Examples
    --------
    >>> import numpy as np
    >>> from fastem.kernels import SuffStats
    >>> a = SuffStats("diag", np.zeros((1, 1)), np.array([2.0]), np.array([[2.0]]),
    ...               np.array([[4.0]]), -3.0, 2.0)
    >>> (a + a).nk, (a + a).scatter
    (array([4.]), array([[8.]]))
    >>> a.about(np.ones((1, 1))).scatter  # 4 - 2*1*2 + 2*1
    array([[2.]])
    """

    __slots__ = (
        "covariance_type",
        "means",
        "nk",
        "sum_dev",
        "_scatter",
        "log_likelihood",
        "weight",
        "entropy",
        "_between",
        "dtype",
    )

    def __init__(
        self,
        covariance_type,
        means,
        nk,
        sum_dev,
        scatter,
        log_likelihood,
        weight,
        entropy=None,
        between=None,
        dtype=np.float64,
    ):
        check_covariance_type(covariance_type)
        self.covariance_type = covariance_type
        self.means = means
        self.nk = nk
        self.sum_dev = sum_dev
        self._scatter = scatter
        self.log_likelihood = float(log_likelihood)
        self.weight = float(weight)
        self.entropy = None if entropy is None else float(entropy)
        self._between = between
        self.dtype = np.dtype(dtype)

    @property
    def n_components(self):
        """Number of components."""
        return self.means.shape[0]

    @property
    def n_features(self):
        """Number of features."""
        return self.means.shape[1]

    @property
    def scatter(self):
        """``sum_i w_i r_ik (x_i - m_k)(x_i - m_k)^T``, shaped by the family."""
        if self._between is None:
            return self._scatter
        means_c = self.means - self.means.sum(axis=0) / self.n_components
        scatter = self._scatter + means_c.T @ self._between @ means_c
        return 0.5 * (scatter + scatter.T)

    def __repr__(self):
        return (
            f"SuffStats(covariance_type={self.covariance_type!r}, "
            f"n_components={self.n_components}, n_features={self.n_features}, "
            f"weight={self.weight!r}, log_likelihood={self.log_likelihood!r})"
        )

    def _check_addable(self, other):
        if self.covariance_type != other.covariance_type:
            raise ValueError(
                "Cannot add statistics of covariance_type "
                f"{self.covariance_type!r} and {other.covariance_type!r}."
            )
        if not np.array_equal(self.means, other.means):
            raise ValueError(
                "Statistics taken about different means do not add; move one to "
                "the other's means first with stats.about(other.means)."
            )
        if (self.entropy is None) != (other.entropy is None):
            raise ValueError(
                "Cannot add statistics with and without the entropy term; "
                "compute both with entropy=True or both without."
            )

    def __add__(self, other):
        if not isinstance(other, SuffStats):
            return NotImplemented
        self._check_addable(other)
        if (self._between is None) == (other._between is None):
            scatter = self._scatter + other._scatter
            between = None if self._between is None else self._between + other._between
        else:  # one was moved: add the assembled scatters
            scatter, between = self.scatter + other.scatter, None
        return SuffStats(
            self.covariance_type,
            self.means,
            self.nk + other.nk,
            self.sum_dev + other.sum_dev,
            scatter,
            self.log_likelihood + other.log_likelihood,
            self.weight + other.weight,
            None if self.entropy is None else self.entropy + other.entropy,
            between,
            np.promote_types(self.dtype, other.dtype),
        )

    def __radd__(self, other):
        # ``sum(list_of_stats)`` starts from 0.
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented

    def about(self, means):
        """Return the same statistics taken about other means (exact).

        Parameters
        ----------
        means : array-like of shape (n_components, n_features)
            The new means.

        Returns
        -------
        SuffStats
            ``sum_dev`` and ``scatter`` about ``means``; everything else as is.
        """
        means = np.asarray(means, dtype=np.float64)
        if means.shape != self.means.shape:
            raise ValueError(
                f"means must have shape {self.means.shape}, got {means.shape}."
            )
        delta = means - self.means
        nk = self.nk
        s1 = self.sum_dev
        scatter = self.scatter
        if self.covariance_type == "full":
            cross = delta[:, :, None] * s1[:, None, :]
            scatter = (
                scatter
                - cross
                - np.swapaxes(cross, 1, 2)
                + nk[:, None, None] * delta[:, :, None] * delta[:, None, :]
            )
        elif self.covariance_type == "tied":
            cross = delta.T @ s1
            scatter = scatter - cross - cross.T + (delta * nk[:, None]).T @ delta
            scatter = 0.5 * (scatter + scatter.T)
        else:
            scatter = scatter - 2 * delta * s1 + nk[:, None] * delta**2
        return SuffStats(
            self.covariance_type,
            means,
            nk.copy(),
            s1 - nk[:, None] * delta,
            scatter,
            self.log_likelihood,
            self.weight,
            self.entropy,
            None,
            self.dtype,
        )


def merge(stats):
    """Add a sequence of statistics in order (one fixed order, so reproducible).

    Parameters
    ----------
    stats : iterable of SuffStats
        Statistics of blocks of rows, all about the same means.

    Returns
    -------
    SuffStats
        Their sum, ``((s0 + s1) + s2) + ...``.
    """
    stats = list(stats)
    if not stats:
        raise ValueError("merge needs at least one SuffStats.")
    return functools.reduce(operator.add, stats)


def stats_from_source(
    X,
    sample_weight,
    source,
    covariance_type,
    *,
    n_components,
    rewind=None,
    tied_raw_rest=False,
):
    """Statistics of given responsibilities, read a slab of rows at a time.

    Two passes over ``X``: the responsibility-weighted means, then every
    statistic about them (no raw moments). Memory is O(``fastem._config.SLAB_ROWS`` x
    n_components) whatever the number of rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None
    source : callable
        ``source(start, stop)`` returns the (stop - start, n_components)
        responsibilities of those rows; called over the rows in order, twice.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_components : int
        Columns of the responsibilities (sizes the slabs: O(1 MiB) each).
    rewind : callable or None
        Called before each pass when the source is a random stream.
    tied_raw_rest : bool, default=False
        scikit-learn's tied initialisation (``X^T X - sum_k nk mu_k mu_k^T``)
        also counts ``(1 - sum_k r_ik) x_i x_i^T`` (the rows with no
        responsibility, for the one-hot starts with k rows): add that term to
        the tied scatter, so that the same seed gives the same start.

    Returns
    -------
    SuffStats
        About the means ``sum_i w_i r_ik x_i / (nk + 10 eps)`` (scikit-learn's).
        ``log_likelihood`` is 0 (there was no density).
    """
    n_samples, n_features = X.shape
    row_bytes = 8 * max(n_components, n_features)
    nk = sums = None
    if rewind is not None:
        rewind()
    for start, stop in slabs(n_samples, row_bytes):
        resp = _weighted(source(start, stop), sample_weight, start, stop)
        xs = np.asarray(X[start:stop], dtype=np.float64)
        nk = resp.sum(axis=0) if nk is None else nk + resp.sum(axis=0)
        sums = resp.T @ xs if sums is None else sums + resp.T @ xs
    means = sums / (nk + NK_EPS)[:, None]
    n_components = means.shape[0]
    sum_dev = np.zeros_like(means)
    if covariance_type in ("full", "tied"):
        scatter = np.zeros((n_components, n_features, n_features))
    else:
        scatter = np.zeros((n_components, n_features))
    if rewind is not None:
        rewind()
    for start, stop in slabs(n_samples, row_bytes):
        source_rows = source(start, stop)
        resp = _weighted(source_rows, sample_weight, start, stop)
        xs = np.asarray(X[start:stop], dtype=np.float64)
        for k in range(n_components):
            dev = xs - means[k]
            sum_dev[k] += resp[:, k] @ dev
            if covariance_type in ("full", "tied"):
                scatter[k] += (dev * resp[:, k, None]).T @ dev
            else:
                scatter[k] += resp[:, k] @ (dev * dev)
        if tied_raw_rest and covariance_type == "tied":
            weight = 1.0 if sample_weight is None else sample_weight[start:stop]
            rest = (1.0 - source_rows.sum(axis=1)) * weight
            if np.any(rest != 0.0):
                scatter[0] += (xs * rest[:, None]).T @ xs
    if covariance_type == "tied":
        scatter = scatter.sum(axis=0)
    total = n_samples if sample_weight is None else float(sample_weight.sum())
    return SuffStats(
        covariance_type, means, nk, sum_dev, scatter, 0.0, total, dtype=X.dtype
    )


def stats_from_rows(X, sample_weight, indices, covariance_type, *, tied_raw_rest=False):
    """Statistics of one-hot responsibilities on chosen rows, reading only them.

    Row ``indices[k]`` has responsibility 1 for component ``k``, every other row
    none (scikit-learn's 'random_from_data' and 'k-means++' starts). The same
    numbers as :func:`stats_from_source` with one-hot rows on the chosen rows
    and zeros elsewhere, without its passes over ``X``: only
    the k chosen rows are read, except for 'tied' with ``tied_raw_rest``, whose
    extra ``sum_i (1 - sum_k r_ik) w_i x_i x_i^T`` is one pass of ``X^T W X``
    products over slabs.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None
    indices : array-like of int, shape (n_components,)
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    tied_raw_rest : bool, default=False
        As for :func:`stats_from_source`.

    Returns
    -------
    SuffStats
    """
    n_samples, n_features = X.shape
    indices = np.asarray(indices, dtype=np.intp)
    rows = np.asarray(X[indices], dtype=np.float64)
    nk = np.ones(len(indices)) if sample_weight is None else sample_weight[indices]
    nk = np.array(nk, dtype=np.float64)
    means = (nk[:, None] * rows) / (nk + NK_EPS)[:, None]
    dev = rows - means
    sum_dev = nk[:, None] * dev
    if covariance_type in ("full", "tied"):
        scatter = (nk[:, None, None] * dev[:, :, None]) * dev[:, None, :]
    else:
        scatter = nk[:, None] * (dev * dev)
    if covariance_type == "tied":
        scatter = scatter.sum(axis=0)
        if tied_raw_rest:
            chosen = np.sort(indices)
            for start, stop in slabs(n_samples, 8 * n_features):
                rest = np.ones(stop - start)
                lo, hi = np.searchsorted(chosen, [start, stop])
                np.subtract.at(rest, chosen[lo:hi] - start, 1.0)
                if sample_weight is not None:
                    rest = rest * sample_weight[start:stop]
                xs = np.asarray(X[start:stop], dtype=np.float64)
                scatter += (xs * rest[:, None]).T @ xs
    total = n_samples if sample_weight is None else float(sample_weight.sum())
    return SuffStats(
        covariance_type, means, nk, sum_dev, scatter, 0.0, total, dtype=X.dtype
    )


def _weighted(resp, sample_weight, start, stop):
    if sample_weight is None:
        return resp
    return resp * sample_weight[start:stop, None]
