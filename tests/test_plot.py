"""Tests of fastem.plot: what is drawn, checked through the figure's artists."""

import importlib
import io
import os
import subprocess
import sys
import threading
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from synthetic import blobs  # noqa: E402

import fastem  # noqa: E402
from fastem import plot  # noqa: E402

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def _quiet_fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


@pytest.fixture(scope="module")
def X2():
    """Three correlated 2-D blobs of different shapes and sizes."""
    rng = np.random.default_rng(0)
    covs = [[[2.0, 1.2], [1.2, 1.0]], [[0.5, -0.3], [-0.3, 1.5]], [[0.3, 0], [0, 0.3]]]
    means = [[0, 0], [6, 3], [-4, 5]]
    sizes = (600, 300, 150)
    return np.vstack(
        [
            rng.multivariate_normal(m, c, n)
            for m, c, n in zip(means, covs, sizes, strict=True)
        ]
    )


@pytest.fixture(scope="module")
def gm2(X2):
    return fastem.GaussianMixture(3, random_state=0).fit(X2)


@pytest.fixture(scope="module")
def X4():
    return blobs(800, 4, 3, std=0.8, seed=1)


@pytest.fixture(scope="module")
def bgm(X2):
    est = fastem.BayesianGaussianMixture(
        n_components=6,
        weight_concentration_prior_type="dirichlet_distribution",
        weight_concentration_prior=1e-3,
        max_iter=40,
        random_state=0,
    )
    return _quiet_fit(est, X2)


@pytest.fixture(scope="module")
def km(X2):
    return fastem.KMeans(3, n_init=1, random_state=0).fit(X2)


def _expanded_covariances(estimator):
    """(k, d, d) covariances, written out from covariance_type (reference)."""
    cov = estimator.covariances_
    k, d = estimator.means_.shape
    kind = estimator.covariance_type
    if kind == "full":
        return cov
    if kind == "tied":
        return np.array([cov] * k)
    if kind == "diag":
        return np.array([np.diag(c) for c in cov])
    return np.array([c * np.eye(d) for c in cov])


# -- import -------------------------------------------------------------------


def test_import_without_matplotlib_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "fastem.plot")
    with pytest.raises(ImportError) as excinfo:
        importlib.import_module("fastem.plot")
    assert str(excinfo.value) == (
        "fastem.plot needs matplotlib: pip install 'fastem[plot]'"
    )


def test_no_pyplot_and_png_headless(tmp_path):
    """A figure is made and saved without pyplot (so without a GUI backend)."""
    code = (
        "import sys, numpy as np, fastem.plot as p\n"
        "table = {'n_components': np.array([1, 2]), 'covariance_type':"
        " np.array(['full', 'full']), 'bic': np.array([2.0, 1.0]),"
        " 'aic': np.array([2.0, 1.5])}\n"
        f"p.selection(table).savefig({str(tmp_path / 'a.png')!r})\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    root = str(Path(__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": root}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    assert (tmp_path / "a.png").stat().st_size > 10_000


# -- convergence --------------------------------------------------------------


def test_convergence_mixture(gm2):
    fig = plot.convergence(gm2)
    assert isinstance(fig, Figure)
    ax, twin = fig.axes
    bound = ax.lines[0]
    np.testing.assert_array_equal(bound.get_ydata(), gm2.lower_bounds_)
    np.testing.assert_array_equal(bound.get_xdata(), np.arange(1, gm2.n_iter_ + 1))
    change = twin.lines[0]
    np.testing.assert_allclose(change.get_ydata(), np.abs(np.diff(gm2.lower_bounds_)))
    np.testing.assert_array_equal(change.get_xdata(), np.arange(2, gm2.n_iter_ + 1))
    assert twin.get_yscale() == "log"
    assert twin.lines[1].get_ydata()[0] == gm2.tol  # the tolerance line
    assert ax.get_ylabel() == "lower bound (mean log-likelihood per sample)"
    assert ax.get_xlabel() == "iteration"
    assert twin.get_ylabel().startswith("|change| per iteration")
    assert ax.get_title() == f"GaussianMixture: converged in {gm2.n_iter_} iterations"


def test_convergence_not_converged(X2):
    gm = _quiet_fit(fastem.GaussianMixture(3, max_iter=2, tol=0, random_state=0), X2)
    title = plot.convergence(gm).axes[0].get_title()
    assert title == "GaussianMixture: not converged after 2 iterations"


def test_convergence_bayesian_labels_the_elbo(bgm):
    ax = plot.convergence(bgm).axes[0]
    assert ax.get_ylabel().startswith("ELBO")
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), bgm.lower_bounds_)


def test_convergence_history_overrides_lower_bounds(gm2):
    history = [-5.0, -4.0, -3.5]
    fig = plot.convergence(gm2, history=history)
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_ydata(), history)
    assert len(fig.axes[1].lines) == 1  # no tolerance line for a foreign history


def test_convergence_kmeans_needs_history(km):
    with pytest.raises(ValueError, match="no per-iteration history.*pass history="):
        plot.convergence(km)


def test_convergence_kmeans_history(km):
    history = [3.0, 0.2, 1e-3, 0.0]
    fig = plot.convergence(km, history=history)
    (ax,) = fig.axes
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), history)
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "total squared center shift"


def test_draws_into_the_given_axes(gm2, X2):
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plot.convergence(gm2, ax=left) is fig
    assert plot.clusters(gm2, X2, ax=right) is fig
    assert len(right.patches) == 6


@pytest.mark.parametrize(
    "draw",
    [
        lambda est, X: plot.convergence(est),
        lambda est, X: plot.clusters(est, X),
        lambda est, X: plot.fit_summary(est, X),
    ],
)
@pytest.mark.parametrize(
    "estimator",
    [fastem.GaussianMixture, fastem.BayesianGaussianMixture, fastem.KMeans],
)
def test_unfitted_raises_not_fitted(draw, estimator, X2):
    with pytest.raises(NotFittedError):
        draw(estimator(), X2)


# -- clusters -----------------------------------------------------------------


def test_clusters_two_features(gm2, X2):
    fig = plot.clusters(gm2, X2)
    (ax,) = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x0", "x1")
    points = ax.collections[0]
    np.testing.assert_array_equal(points.get_offsets(), X2)
    colors = plot._palette(3)[gm2.predict(X2)]
    np.testing.assert_allclose(points.get_facecolors()[:, :3], colors[:, :3])
    assert ax.get_title().endswith(f"all {X2.shape[0]:,} points")
    means = ax.collections[1].get_offsets()
    np.testing.assert_allclose(means, gm2.means_)

    ellipses = ax.patches
    assert len(ellipses) == 2 * 3 and all(isinstance(e, Ellipse) for e in ellipses)
    for i, ellipse in enumerate(ellipses):
        k, n_std = divmod(i, 2)
        np.testing.assert_allclose(ellipse.center, gm2.means_[k])
        # points, mean and ellipses of a component share its colour
        palette = plot._palette(3)
        np.testing.assert_allclose(ellipse.get_edgecolor()[:3], palette[k, :3])
        # axes lengths: 2 * n_std * sqrt(eigenvalues of the covariance)
        axes = np.sort([ellipse.width, ellipse.height])
        expected = 2 * (n_std + 1) * np.sqrt(np.linalg.eigvalsh(gm2.covariances_[k]))
        np.testing.assert_allclose(axes, expected, rtol=1e-10)
    # heavier components get thicker lines
    widths = [e.get_linewidth() for e in ellipses[::2]]
    assert np.argmax(widths) == np.argmax(gm2.weights_)


def test_ellipse_is_the_covariance_contour(gm2):
    """Points on the drawn ellipse are at Mahalanobis distance n_std."""
    cov = gm2.covariances_[0]
    width, height, angle = plot._ellipse(cov, 2.0)
    t = np.linspace(0, 2 * np.pi, 13)
    a = np.radians(angle)
    rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    boundary = rotation @ np.array([width / 2 * np.cos(t), height / 2 * np.sin(t)])
    distances = np.einsum("in,ij,jn->n", boundary, np.linalg.inv(cov), boundary)
    np.testing.assert_allclose(distances, 4.0, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_projected_covariances_match_reference(covariance_type, X4):
    gm = fastem.GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    gm.fit(X4)
    W = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 2)))[0]
    expected = np.array([W.T @ c @ W for c in _expanded_covariances(gm)])
    got = plot._projected_covariances(gm, W)
    assert got.shape == (3, 2, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_principal_axes_match_svd(X4):
    mean, components, ratio = plot._principal_axes(X4)
    centred = X4 - X4.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(mean, X4.mean(axis=0))
    for j in range(2):
        sign = np.sign(components[:, j] @ vt[j])
        np.testing.assert_allclose(components[:, j], sign * vt[j], atol=1e-10)
    np.testing.assert_allclose(ratio, s[:2] ** 2 / np.sum(s**2), rtol=1e-10)


def test_clusters_pca_path(X4):
    gm = fastem.GaussianMixture(3, covariance_type="diag", random_state=0).fit(X4)
    ax = plot.clusters(gm, X4).axes[0]
    mean, components, ratio = plot._principal_axes(X4)
    assert ax.get_xlabel() == f"PC 1 ({100 * ratio[0]:.0f}% of variance)"
    assert ax.get_ylabel() == f"PC 2 ({100 * ratio[1]:.0f}% of variance)"
    assert ax.get_xlabel().startswith("PC 1 (") and "% of variance" in ax.get_xlabel()
    np.testing.assert_allclose(
        ax.collections[0].get_offsets(), (X4 - mean) @ components, atol=1e-10
    )
    projected = plot._projected_covariances(gm, components)
    for k in range(3):
        ellipse = ax.patches[2 * k]
        np.testing.assert_allclose(ellipse.center, (gm.means_[k] - mean) @ components)
        expected = 2 * np.sqrt(np.linalg.eigvalsh(projected[k]))
        np.testing.assert_allclose(np.sort([ellipse.width, ellipse.height]), expected)


def test_clusters_skips_unused_bayesian_components(bgm, X2):
    used = int(np.sum(bgm.weights_ >= 1e-3))
    assert 0 < used < bgm.n_components  # the fixture has unused components
    ax = plot.clusters(bgm, X2).axes[0]
    assert len(ax.patches) == 2 * used
    assert len(ax.collections[1].get_offsets()) == used
    assert f"{used} of {bgm.n_components} components drawn" in ax.get_title()


def test_clusters_kmeans_has_centers_and_no_ellipses(km, X2):
    ax = plot.clusters(km, X2).axes[0]
    assert len(ax.patches) == 0
    np.testing.assert_allclose(ax.collections[1].get_offsets(), km.cluster_centers_)
    assert ax.get_title().startswith("KMeans, 3 clusters")


def test_clusters_subsamples_and_says_so(gm2, X2):
    ax = plot.clusters(gm2, X2, max_points=400, random_state=1).axes[0]
    shown = np.asarray(ax.collections[0].get_offsets())
    assert shown.shape == (400, 2)
    rows = [int(np.flatnonzero((X2 == row).all(axis=1))[0]) for row in shown]
    assert len(set(rows)) == 400  # distinct rows of X
    colors = plot._palette(3)[gm2.predict(X2[rows])]
    np.testing.assert_allclose(ax.collections[0].get_facecolors()[:, :3], colors[:, :3])
    assert f"400 of {X2.shape[0]:,} points shown" in ax.get_title()
    again = plot.clusters(gm2, X2, max_points=400, random_state=1).axes[0]
    np.testing.assert_array_equal(again.collections[0].get_offsets(), shown)


def test_clusters_memmap(tmp_path, X4):
    gm = fastem.GaussianMixture(3, random_state=0).fit(X4)
    np.save(tmp_path / "x.npy", X4)
    X = np.load(tmp_path / "x.npy", mmap_mode="r")
    from_memmap = plot.clusters(gm, X, max_points=300).axes[0]
    in_memory = plot.clusters(gm, X4, max_points=300).axes[0]
    np.testing.assert_array_equal(
        from_memmap.collections[0].get_offsets(), in_memory.collections[0].get_offsets()
    )
    assert len(from_memmap.patches) == 6


def test_clusters_wrong_width(gm2, X4):
    with pytest.raises(ValueError, match="X has 4 features.*fitted on 2"):
        plot.clusters(gm2, X4)
    with pytest.raises(ValueError, match="2-D"):
        plot.clusters(gm2, X4[:, 0])


def test_clusters_one_feature():
    X = np.concatenate([np.random.default_rng(0).normal(m, 1, 200) for m in (0, 8)])
    X = X[:, None]
    gm = fastem.GaussianMixture(2, random_state=0).fit(X)
    ax = plot.clusters(gm, X).axes[0]
    assert ax.get_xlabel() == "x0"
    np.testing.assert_array_equal(ax.collections[0].get_offsets()[:, 0], X[:, 0])
    widths = sorted(e.width for e in ax.patches[::2])  # the 1-std intervals
    np.testing.assert_allclose(widths, sorted(2 * np.sqrt(gm.covariances_[:, 0, 0])))


def test_clusters_zooms_past_far_outliers(gm2, X2):
    X = np.vstack([X2, [[1e4, 1e4], [-1e4, 5.0]]])
    ax = plot.clusters(gm2, X).axes[0]
    assert ax.get_xlim()[1] < 100 and ax.get_xlim()[0] > -100
    assert "2 outside the view" in ax.get_title()
    # without outliers the whole data stays in view
    ax = plot.clusters(gm2, X2).axes[0]
    lo, hi = ax.get_xlim()
    assert lo < X2[:, 0].min() and hi > X2[:, 0].max()
    assert "outside" not in ax.get_title()


def test_figures_from_two_threads(gm2, X2):
    images = [None, None]

    def draw(i):
        buffer = io.BytesIO()
        plot.clusters(gm2, X2).savefig(buffer, format="png")
        images[i] = buffer.getvalue()

    threads = [threading.Thread(target=draw, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert images[0] is not None and images[0] == images[1]


# -- selection ----------------------------------------------------------------


@pytest.fixture(scope="module")
def selection_result(X4):
    rows = {c: [] for c in ("n_components", "covariance_type", "bic", "aic")}
    for covariance_type in COVARIANCE_TYPES:
        for k in (1, 2, 3):
            gm = fastem.GaussianMixture(
                k, covariance_type=covariance_type, random_state=0
            )
            _quiet_fit(gm, X4)
            rows["n_components"].append(k)
            rows["covariance_type"].append(covariance_type)
            rows["bic"].append(gm.bic(X4))
            rows["aic"].append(gm.aic(X4))
    table = {c: np.array(v) for c, v in rows.items()}
    table["bic"][4] = table["aic"][4] = np.nan  # a failed candidate (tied, k=2)
    best = int(np.nanargmin(table["aic"]))
    return types.SimpleNamespace(table=table, criterion="aic", best_index=best)


def test_selection(selection_result):
    table, best = selection_result.table, selection_result.best_index
    fig = plot.selection(selection_result)
    bic_ax, aic_ax = fig.axes
    assert bic_ax.get_ylabel().startswith("BIC") and aic_ax.get_ylabel().startswith(
        "AIC"
    )
    for ax, column in ((bic_ax, "bic"), (aic_ax, "aic")):
        assert [line.get_label() for line in ax.lines] == list(COVARIANCE_TYPES)
        for line, cov in zip(ax.lines, COVARIANCE_TYPES, strict=True):
            rows = np.flatnonzero(
                (table["covariance_type"] == cov) & np.isfinite(table[column])
            )
            np.testing.assert_array_equal(line.get_xdata(), table["n_components"][rows])
            np.testing.assert_array_equal(line.get_ydata(), table[column][rows])
        (star,) = ax.collections
        np.testing.assert_allclose(
            star.get_offsets(), [[table["n_components"][best], table[column][best]]]
        )
    assert len(bic_ax.lines[1].get_xdata()) == 2  # the NaN candidate is left out
    chosen = f"{table['covariance_type'][best]}, {table['n_components'][best]}"
    assert chosen in fig._suptitle.get_text() and "AIC" in fig._suptitle.get_text()


def test_selection_from_a_plain_table(selection_result):
    table = selection_result.table
    fig = plot.selection(table)
    best = int(np.nanargmin(table["bic"]))
    star = fig.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(
        star, [[table["n_components"][best], table["bic"][best]]]
    )
    assert "BIC" in fig._suptitle.get_text()


def test_selection_into_one_axes(selection_result):
    fig = Figure()
    ax = fig.add_subplot()
    assert plot.selection(selection_result, ax=ax) is fig
    assert fig.axes == [ax] and ax.get_ylabel().startswith("AIC")


# -- fit_summary --------------------------------------------------------------


def test_fit_summary_saves_png(gm2, X2, tmp_path):
    fig = plot.fit_summary(gm2, X2)
    assert tuple(fig.get_size_inches()) == (11, 4.5)
    assert len(fig.axes) == 3  # convergence, clusters, the twin of convergence
    assert len(fig.axes[1].patches) == 6
    path = tmp_path / "summary.png"
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 20_000


def test_fit_summary_kmeans(km, X2):
    fig = plot.fit_summary(km, X2)  # no history: a note instead of a plot
    assert (
        len(fig.axes) == 2
        and "no per-iteration history" in fig.axes[0].texts[0].get_text()
    )
    fig = plot.fit_summary(km, X2, history=[1.0, 0.1, 0.01])
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_ydata(), [1.0, 0.1, 0.01])


def test_clusters_of_nearly_constant_data_renders():
    """Points 1e-9 apart, ellipses of reg_covar's 1e-3: the view is not narrowed
    past what Agg can draw."""
    X = np.ones((200, 2))
    X[:, 0] += np.random.default_rng(0).normal(size=200) * 1e-9
    gm = fastem.GaussianMixture(1, reg_covar=1e-6).fit(X)
    fig = plot.clusters(gm, X)
    fig.savefig(io.BytesIO(), format="png")
    lo, hi = fig.axes[0].get_xlim()
    assert hi - lo >= 4e-3 / plot.MAX_ZOOM
