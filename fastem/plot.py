"""Figures for fitted fastem models (needs the optional extra ``fastem[plot]``).

Every function returns a :class:`matplotlib.figure.Figure` built directly, not
through ``pyplot``: no GUI backend and no global state, so figures can be made
from several threads and saved headless (``fig.savefig("out.png")``). Each
takes an optional ``ax`` to draw into an existing figure instead.

- :func:`convergence`: the lower bound (or KMeans's center shift) per iteration.
- :func:`clusters`: the data coloured by ``predict``, with each component's
  mean and 1 and 2 standard-deviation ellipses, on the first two principal
  components when there are more than two features.
- :func:`selection`: BIC and AIC against the number of components for each
  covariance type, the chosen candidate marked.
- :func:`fit_summary`: convergence and clusters side by side, the figure
  ``fastem fit --plot out.png`` saves.

The estimators are read through scikit-learn's fitted attributes only, so
scikit-learn's own ``GaussianMixture``, ``BayesianGaussianMixture`` and
``KMeans`` can be drawn as well.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

try:
    from matplotlib import patheffects
    from matplotlib.colors import to_rgba_array
    from matplotlib.figure import Figure
    from matplotlib.patches import Ellipse
    from matplotlib.ticker import MaxNLocator
except ImportError as exc:
    raise ImportError(
        "fastem.plot needs matplotlib: pip install 'fastem[plot]'"
    ) from exc

__all__ = ["clusters", "convergence", "fit_summary", "selection"]

#: Components whose weight is below this are not drawn (a Bayesian mixture's
#: unused components).
MIN_WEIGHT = 1e-3
#: `clusters` narrows its view to leave out far outliers by at most this factor.
MAX_ZOOM = 1000.0
#: Ellipses are drawn at these numbers of standard deviations.
N_STD = (1.0, 2.0)
#: Colour of the lower bound and of the change per iteration in `convergence`.
_BOUND_COLOR, _CHANGE_COLOR = "tab:blue", "tab:red"
_COV_MARKERS = {"full": "o", "tied": "s", "diag": "^", "spherical": "D"}


# -- public figures -----------------------------------------------------------


def convergence(estimator, ax=None, history=None):
    """Plot the progress of a fit, iteration by iteration.

    For a Gaussian mixture: the lower bound of the kept initialisation
    (``lower_bounds_``) on the left axis and its absolute change per
    iteration on a log-scaled right axis, with the tolerance ``tol`` the fit
    stops at. For KMeans, which keeps no per-iteration record: ``history``,
    the total squared center shift of each iteration, on a log axis.

    Parameters
    ----------
    estimator : GaussianMixture, BayesianGaussianMixture or KMeans
        A fitted estimator (fastem's or scikit-learn's).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure is made when None. For a mixture a
        twin axes (``ax.twinx()``) is added for the change per iteration.
    history : sequence of float, optional
        Values to plot instead of ``lower_bounds_`` (mixtures); for KMeans,
        required: the total squared center shift at each iteration, the
        quantity KMeans compares with its tolerance.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    ValueError
        For KMeans without ``history``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastem import GaussianMixture
    >>> from fastem.plot import convergence
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> fig = convergence(gm)
    >>> np.array_equal(fig.axes[0].lines[0].get_ydata(), gm.lower_bounds_)
    True
    """
    check_is_fitted(estimator)
    fig, ax = _figure_and_axes(ax)
    name = type(estimator).__name__
    ax.set_xlabel("iteration")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if not _is_mixture(estimator):
        if history is None:
            raise ValueError(
                f"{name} keeps no per-iteration history (only n_iter_="
                f"{estimator.n_iter_}); pass history=, the total squared center "
                "shift at each iteration."
            )
        shifts = np.asarray(history, dtype=np.float64)
        ax.plot(np.arange(1, shifts.size + 1), shifts, "o-", color=_CHANGE_COLOR)
        ax.set_yscale("log", nonpositive="mask")
        ax.set_ylabel("total squared center shift")
        ax.set_title(f"{name}: {estimator.n_iter_} iterations (n_iter_)")
        return fig

    bounds = np.asarray(
        estimator.lower_bounds_ if history is None else history, dtype=np.float64
    )
    steps = np.arange(1, bounds.size + 1)
    marker = "." if bounds.size <= 60 else None
    ax.plot(steps, bounds, marker=marker, color=_BOUND_COLOR)
    ax.set_ylabel(_bound_label(estimator), color=_BOUND_COLOR)
    ax.tick_params(axis="y", colors=_BOUND_COLOR)
    # Plain values: an offset ("1e-9 - 1.03e1") is unreadable next to the title.
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)

    twin = ax.twinx()
    change = np.abs(np.diff(bounds))
    twin.plot(steps[1:], change, marker=marker, linestyle="--", color=_CHANGE_COLOR)
    change_label = "|change| per iteration"
    tol = getattr(estimator, "tol", 0)
    if history is None and tol > 0:
        twin.axhline(tol, color=_CHANGE_COLOR, linewidth=0.9, linestyle=":")
        change_label += f" (dotted: tol = {tol:g})"
    twin.set_yscale("log", nonpositive="mask")
    twin.set_ylabel(change_label, color=_CHANGE_COLOR)
    twin.tick_params(axis="y", colors=_CHANGE_COLOR)

    n_iter = estimator.n_iter_
    state = (
        f"converged in {n_iter} iterations"
        if estimator.converged_
        else f"not converged after {n_iter} iterations"
    )
    ax.set_title(f"{name}: {state}")
    return fig


def clusters(estimator, X, ax=None, max_points=20_000, random_state=0):
    """Scatter the data coloured by cluster, with the fitted components.

    With two features the axes are the features; with more, the first two
    principal components of a uniform subsample of at most ``max_points``
    rows (only those rows of ``X`` are read, so ``X`` may be a large
    memmap). With one feature the rows are spread on a random vertical jitter
    and the ellipses show the intervals mean +- 1 and 2 standard deviations
    (their height is arbitrary).

    A mixture's components are drawn as their means and their covariance
    ellipses at 1 (solid) and 2 (dashed) standard deviations, projected on
    the plotted plane, the line width growing with the component's weight;
    components of weight below 1e-3 (a Bayesian mixture's unused ones) are
    left out. KMeans's centers are drawn as large markers. The colours
    (tab10, or tab20 above ten components; they repeat above twenty) are the
    same for a component's points, mean and ellipses, and the component's
    index is written next to its mean.

    Parameters
    ----------
    estimator : GaussianMixture, BayesianGaussianMixture or KMeans
        A fitted estimator.
    X : array-like of shape (n_samples, n_features)
        Data, ``n_features`` equal to ``estimator.n_features_in_``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure is made when None.
    max_points : int, default=20_000
        Largest number of rows drawn (and used for the principal components).
    random_state : int or numpy.random.Generator, default=0
        Seed of the subsample (and of the jitter for one feature).

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    ValueError
        If ``X`` is not 2-D or its width is not ``n_features_in_``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastem import GaussianMixture
    >>> from fastem.plot import clusters
    >>> X = np.random.default_rng(0).normal(size=(300, 3))
    >>> fig = clusters(GaussianMixture(2, random_state=0).fit(X), X)
    >>> len(fig.axes[0].patches)  # two ellipses per component
    4
    """
    check_is_fitted(estimator)
    rng = np.random.default_rng(random_state)
    sample, n_samples = _sample_rows(estimator, X, max_points, rng)
    labels = np.asarray(estimator.predict(sample))
    sample = np.asarray(sample, dtype=np.float64)
    fig, ax = _figure_and_axes(ax)
    xy, origin, components, xlabel, ylabel = _plane(estimator, sample)
    if xy.shape[1] == 1:  # one feature: the rows on a random jitter
        xy = np.column_stack([xy[:, 0], rng.uniform(-1.0, 1.0, xy.shape[0])])
        ax.set_yticks([])
        ax.set_ylim(-1.6, 1.6)

    name = type(estimator).__name__
    mixture = _is_mixture(estimator)
    centers = estimator.means_ if mixture else estimator.cluster_centers_
    n_clusters = centers.shape[0]
    shown = np.arange(n_clusters)
    if mixture:
        shown = np.flatnonzero(np.asarray(estimator.weights_) >= MIN_WEIGHT)
    colors = _palette(n_clusters)
    ax.scatter(
        xy[:, 0],
        xy[:, 1],
        c=colors[labels],
        s=_point_size(xy.shape[0]),
        linewidths=0,
        alpha=0.6,
        rasterized=True,
    )
    centers_xy = (np.asarray(centers, dtype=np.float64)[shown] - origin) @ components
    if centers_xy.shape[1] == 1:
        centers_xy = np.column_stack([centers_xy[:, 0], np.zeros(shown.size)])
    if mixture:
        _draw_ellipses(ax, estimator, components, shown, centers_xy, colors)
        kind = f"{n_clusters} components"
        if shown.size < n_clusters:
            kind = f"{shown.size} of {kind} drawn\n(those of weight >= {MIN_WEIGHT:g})"
        name = f"{name} ({estimator.covariance_type})"
    else:
        kind = f"{n_clusters} clusters"
    ax.scatter(
        centers_xy[:, 0],
        centers_xy[:, 1],
        c=colors[shown],
        marker="X" if mixture else "o",
        s=90 if mixture else 160,
        edgecolors="black",
        linewidths=1.2,
        zorder=4,
    )
    halo = [patheffects.withStroke(linewidth=3, foreground="white")]
    for k, (cx, cy) in zip(shown, centers_xy, strict=True):
        ax.annotate(
            str(k),
            (cx, cy),
            xytext=(7, 7),
            textcoords="offset points",
            fontsize="small",
            fontweight="bold",
            path_effects=halo,
            zorder=5,
        )
    ax.autoscale_view()
    outside = _zoom_past_outliers(ax, xy, centers_xy, y_too=components.shape[1] > 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    m = xy.shape[0]
    points = f"all {n_samples:,} points"
    if m < n_samples:
        points = f"{m:,} of {n_samples:,} points shown"
    if outside:
        points += f", {outside:,} outside the view"
    ax.set_title(f"{name}, {kind}\n{points}", fontsize="medium")
    return fig


def selection(result, ax=None):
    """Plot BIC and AIC against the number of components per covariance type.

    Parameters
    ----------
    result : object or dict
        Either an object with attributes ``table`` (dict of column -> 1-D
        array, with columns ``n_components``, ``covariance_type``, ``bic`` and
        ``aic``), ``criterion`` (``'bic'`` or ``'aic'``) and ``best_index``
        (the row chosen), as :func:`fastem.select_model` returns; or such a
        ``table`` alone, the best row then being the one of lowest BIC. Rows
        with a NaN criterion (failed candidates) are left out.
    ax : matplotlib.axes.Axes or sequence of two Axes, optional
        Where to draw. None: a new figure with a BIC panel and an AIC panel
        side by side. Two Axes: the BIC and AIC panels in them. One Axes:
        only the criterion the best candidate was chosen by.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into.

    Examples
    --------
    >>> import numpy as np
    >>> from fastem.plot import selection
    >>> table = {
    ...     "n_components": np.array([1, 2, 3, 1, 2, 3]),
    ...     "covariance_type": np.array(["full"] * 3 + ["diag"] * 3),
    ...     "bic": np.array([30.0, 20.0, 25.0, 32.0, 24.0, np.nan]),
    ...     "aic": np.array([29.0, 18.0, 21.0, 31.0, 22.0, np.nan]),
    ... }
    >>> fig = selection(table)
    >>> [a.get_ylabel() for a in fig.axes]
    ['BIC (lower is better)', 'AIC (lower is better)']
    """
    if isinstance(result, dict):
        table, criterion = result, "bic"
        best = int(np.nanargmin(np.asarray(table["bic"], dtype=np.float64)))
    else:
        table, criterion, best = result.table, result.criterion, int(result.best_index)
    criterion = criterion.lower()
    if ax is None:
        fig = Figure(figsize=(10, 4.2), layout="constrained")
        axes = fig.subplots(1, 2, sharex=True)
        criteria = ("bic", "aic")
    elif np.iterable(ax):
        axes = list(ax)
        fig, criteria = axes[0].figure, ("bic", "aic")
    else:
        fig, axes, criteria = ax.figure, [ax], (criterion,)

    n_components = np.asarray(table["n_components"])
    cov_types = np.asarray(table["covariance_type"]).astype(str)
    order = list(dict.fromkeys(cov_types))  # the types in the table's order
    colors = _palette(max(len(order), 1))
    for axis, crit in zip(axes, criteria, strict=True):
        values = np.asarray(table[crit], dtype=np.float64)
        for i, cov in enumerate(order):
            rows = np.flatnonzero((cov_types == cov) & np.isfinite(values))
            rows = rows[np.argsort(n_components[rows], kind="stable")]
            axis.plot(
                n_components[rows],
                values[rows],
                marker=_COV_MARKERS.get(cov, "o"),
                color=colors[i],
                label=cov,
            )
        if np.isfinite(values[best]):
            axis.scatter(
                [n_components[best]],
                [values[best]],
                s=260,
                marker="*",
                color="gold",
                edgecolors="black",
                zorder=4,
                label=f"chosen (lowest {criterion.upper()})",
            )
        axis.set_xlabel("number of components")
        axis.set_ylabel(f"{crit.upper()} (lower is better)")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    axes[0].legend(title="covariance type", fontsize="small")
    chosen = f"{cov_types[best]}, {n_components[best]} components"
    if len(axes) > 1:
        fig.suptitle(f"Model selection: chosen {chosen} (lowest {criterion.upper()})")
    else:
        axes[0].set_title(f"chosen {chosen}")
    return fig


def fit_summary(estimator, X, history=None):
    """Draw :func:`convergence` and :func:`clusters` side by side.

    The figure ``fastem fit --plot out.png`` saves (11 x 4.5 inches). For
    KMeans without ``history`` the left panel says that KMeans keeps no
    per-iteration history instead of raising.

    Parameters
    ----------
    estimator : GaussianMixture, BayesianGaussianMixture or KMeans
        A fitted estimator.
    X : array-like of shape (n_samples, n_features)
        Data for the cluster panel (subsampled to 20,000 rows).
    history : sequence of float, optional
        Passed to :func:`convergence`.

    Returns
    -------
    matplotlib.figure.Figure
        A new figure with the convergence panel (and its twin axis for a
        mixture) and the cluster panel.
    """
    check_is_fitted(estimator)
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    left, right = fig.subplots(1, 2)
    if _is_mixture(estimator) or history is not None:
        convergence(estimator, ax=left, history=history)
    else:
        left.set_axis_off()
        left.text(
            0.5,
            0.5,
            f"{type(estimator).__name__}: {estimator.n_iter_} iterations\n"
            "(KMeans keeps no per-iteration history;\n"
            "pass history= to plot the center shifts)",
            ha="center",
            va="center",
            transform=left.transAxes,
        )
    clusters(estimator, X, ax=right)
    return fig


# -- helpers ------------------------------------------------------------------


def _figure_and_axes(ax):
    if ax is None:
        fig = Figure(figsize=(6, 4.5), layout="constrained")
        return fig, fig.add_subplot()
    return ax.figure, ax


def _is_mixture(estimator):
    return hasattr(estimator, "means_")


def _bound_label(estimator):
    if hasattr(estimator, "weight_concentration_"):
        # scikit-learn's variational bound is a sum over the rows, with the
        # constant terms dropped; it is not divided by n_samples.
        return "ELBO (sum over samples, up to a constant)"
    return "lower bound (mean log-likelihood per sample)"


def _feature_names(estimator, d):
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and len(names) == d:
        return [str(name) for name in names]
    return [f"x{j}" for j in range(d)]


def _palette(n_colors):
    """RGBA colours, shape (n_colors, 4): tab10, tab20 above ten (repeating).

    tab20's dark shades come first and its light ones after, so neighbouring
    indices never get two shades of one hue.
    """
    from matplotlib import colormaps

    if n_colors <= 10:
        base = colormaps["tab10"].colors
    else:
        tab20 = colormaps["tab20"].colors
        base = tab20[0::2] + tab20[1::2]
    return to_rgba_array([base[i % len(base)] for i in range(n_colors)])


def _point_size(n_points):
    """Marker area (points^2) shrinking as more rows are drawn."""
    return float(np.clip(3000.0 / max(n_points, 1), 1.0, 20.0))


def _sample_rows(estimator, X, max_points, rng):
    """Check ``X``'s shape; return a uniform sample of its rows and n_samples.

    Only the sampled rows are read (sorted, so a memmap is read front to
    back); with ``max_points`` rows or fewer, all of ``X``.
    """
    shape = getattr(X, "shape", None)
    if shape is None:
        X = np.asarray(X)
        shape = X.shape
    if len(shape) != 2:
        raise ValueError(
            f"X must be 2-D (n_samples, n_features); got shape {tuple(shape)}."
        )
    n_samples, n_features = shape
    if n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} was "
            f"fitted on {estimator.n_features_in_} (n_features_in_)."
        )
    if n_samples == 0:
        raise ValueError("X has no rows to plot.")
    if n_samples <= max_points:
        rows = np.arange(n_samples)
    else:
        rows = np.sort(rng.choice(n_samples, size=max_points, replace=False))
    sample = X.iloc[rows] if hasattr(X, "iloc") else X[rows]
    return sample, n_samples


def _plane(estimator, sample):
    """Where the rows are drawn: ``(xy, origin, components, xlabel, ylabel)``.

    ``xy = (sample - origin) @ components``: the features themselves for one
    or two features, else the first two principal components of the sample.
    """
    d = sample.shape[1]
    if d <= 2:
        names = _feature_names(estimator, d)
        ylabel = names[1] if d == 2 else "(random jitter)"
        return sample, np.zeros(d), np.eye(d), names[0], ylabel
    origin, components, ratio = _principal_axes(sample)
    xlabel, ylabel = (f"PC {i + 1} ({100 * ratio[i]:.0f}% of variance)" for i in (0, 1))
    return (sample - origin) @ components, origin, components, xlabel, ylabel


def _draw_ellipses(ax, estimator, components, shown, centers_xy, colors):
    """Draw the 1 (solid) and 2 (dashed) std ellipses of the ``shown`` components.

    Line widths grow with the weight, from 1 to 3 points; a white halo keeps
    them visible over points of the same colour.
    """
    covariances = _projected_covariances(estimator, components)[shown]
    if covariances.shape[1] == 1:  # one feature: the height spans the jitter strip
        variances = covariances[:, 0, 0]
        covariances = np.zeros((shown.size, 2, 2))
        covariances[:, 0, 0], covariances[:, 1, 1] = variances, 0.25
    weights = np.asarray(estimator.weights_)[shown]
    widths = 1.0 + 2.0 * weights / weights.max()
    for k, center, cov, lw in zip(shown, centers_xy, covariances, widths, strict=True):
        halo = [patheffects.withStroke(linewidth=lw + 2, foreground="white", alpha=0.8)]
        for n_std, style in zip(N_STD, ("-", "--"), strict=True):
            width, height, angle = _ellipse(cov, n_std)
            ellipse = Ellipse(
                center,
                width,
                height,
                angle=angle,
                fill=False,
                edgecolor=colors[k],
                linewidth=lw,
                linestyle=style,
                path_effects=halo,
                zorder=3,
            )
            ax.add_patch(ellipse)


def _zoom_past_outliers(ax, xy, centers_xy, y_too=True):
    """Narrow the view of ``ax`` to leave out far outliers; return how many.

    Per axis the view is kept within the 1st-99th percentile range of the
    points widened by that range on each side (and always holds the centers),
    so Gaussian-looking data keep their whole extent, but a few rows
    thousands of standard deviations away no longer shrink the clusters to
    a dot. The view is narrowed by at most ``MAX_ZOOM``: an ellipse many
    thousand times the view is too large for Agg to draw.
    """
    inside = np.ones(xy.shape[0], dtype=bool)
    axes = [(ax.get_xlim, ax.set_xlim), (ax.get_ylim, ax.set_ylim)]
    for j, (get, set_) in enumerate(axes[: 1 + y_too]):
        lo, hi = np.quantile(xy[:, j], [0.01, 0.99])
        lo, hi = lo - (hi - lo), hi + (hi - lo)
        if centers_xy.size:
            lo = min(lo, centers_xy[:, j].min())
            hi = max(hi, centers_xy[:, j].max())
        view_lo, view_hi = get()
        half_width = (view_hi - view_lo) / MAX_ZOOM / 2
        if hi - lo < 2 * half_width:
            middle = (lo + hi) / 2
            lo, hi = middle - half_width, middle + half_width
        if hi > lo and (view_lo < lo or view_hi > hi):
            margin = 0.05 * (hi - lo)
            set_(max(view_lo, lo - margin), min(view_hi, hi + margin))
            view_lo, view_hi = get()
        inside &= (xy[:, j] >= view_lo) & (xy[:, j] <= view_hi)
    return int(xy.shape[0] - np.count_nonzero(inside))


def _principal_axes(sample):
    """Return the first two principal axes of ``sample`` (rows x d, d >= 2).

    Returns ``(mean, components, ratio)``: the column mean, shape (d,); the
    two leading eigenvectors of the d x d covariance as columns, shape
    (d, 2), each signed so that its largest entry in absolute value is
    positive; and their fractions of the total variance, shape (2,).
    """
    mean = sample.mean(axis=0)
    centred = sample - mean
    cov = centred.T @ centred / max(sample.shape[0] - 1, 1)
    values, vectors = np.linalg.eigh(cov)
    values, vectors = values[::-1][:2], vectors[:, ::-1][:, :2]
    biggest = np.argmax(np.abs(vectors), axis=0)
    vectors = vectors * np.sign(vectors[biggest, [0, 1]])
    total = float(np.trace(cov))
    ratio = np.clip(values, 0.0, None) / total if total > 0 else np.zeros(2)
    return mean, vectors, ratio


def _projected_covariances(estimator, components):
    """Covariances of a mixture's components seen on the plotted plane.

    Parameters
    ----------
    estimator : fitted GaussianMixture or BayesianGaussianMixture
        Its ``covariances_`` are read by ``covariance_type``: full
        (k, d, d), tied (d, d), diag (k, d) or spherical (k,).
    components : ndarray of shape (n_features, p)
        The projection W (columns: the plotted directions).

    Returns
    -------
    ndarray of shape (n_components, p, p)
        ``W.T @ Sigma_k @ W`` for every component k.
    """
    W = np.asarray(components, dtype=np.float64)
    cov = np.asarray(estimator.covariances_, dtype=np.float64)
    k = estimator.means_.shape[0]
    kind = estimator.covariance_type
    if kind == "full":
        return np.einsum("di,kde,ej->kij", W, cov, W)
    if kind == "tied":
        return np.broadcast_to(W.T @ cov @ W, (k, W.shape[1], W.shape[1])).copy()
    if kind == "diag":
        return np.einsum("di,kd,dj->kij", W, cov, W)
    if kind == "spherical":
        return cov[:, None, None] * (W.T @ W)
    raise ValueError(
        f"covariance_type must be 'full', 'tied', 'diag' or 'spherical'; got {kind!r}."
    )


def _ellipse(cov, n_std):
    """Width, height and angle (degrees) of the ``n_std`` ellipse of a 2 x 2 cov.

    The axes are along the eigenvectors, of full lengths ``2 * n_std *
    sqrt(eigenvalue)``; the width is along the largest.
    """
    values, vectors = np.linalg.eigh(cov)
    values = np.clip(values, 0.0, None)
    angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
    return 2 * n_std * np.sqrt(values[1]), 2 * n_std * np.sqrt(values[0]), angle
