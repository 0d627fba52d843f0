"""``fastem demo``: fit real and generated data, and compare with scikit-learn."""

import argparse
import time
import warnings

import numpy as np

from fastem._bench.data import make_blobs

DEMO_ITERATIONS = 10


def _load_image_pixels():
    """RGB pixels of scikit-learn's bundled 'china.jpg' in [0, 1], or None."""
    try:
        from sklearn.datasets import load_sample_image

        image = load_sample_image("china.jpg")
    except ImportError:
        return None, None
    pixels = np.asarray(image, dtype=np.float64).reshape(-1, 3) / 255.0
    return pixels, f"china.jpg pixels (scikit-learn sample image, {image.shape})"


def _load_demo_data():
    pixels, name = _load_image_pixels()
    if pixels is not None:
        return pixels, name, "color quantization"
    from sklearn.datasets import load_digits

    print("(Pillow is not installed, so the sample image cannot be decoded;")
    print(" using scikit-learn's bundled digits instead: pip install pillow)")
    return load_digits().data, "scikit-learn digits (1797 x 64)", "digit clusters"


def _progress_fit(X, n_components, covariance_type, max_iter, seed):
    """Fit fastem, printing the lower bound and its change at each iteration."""
    from fastem import GaussianMixture

    gm = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        max_iter=max_iter,
        random_state=seed,
        verbose=3,
        verbose_interval=1,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X)
    return gm, time.perf_counter() - start


def _summary(gm, X):
    print(f"  converged: {gm.converged_} after {gm.n_iter_} iterations")
    print(f"  lower bound (mean log-likelihood): {gm.lower_bound_:.6f}")
    print(f"  BIC: {gm.bic(X):.1f}")
    order = np.argsort(-gm.weights_)
    print("  heaviest components (weight: mean):")
    for k in order[:5]:
        mean = np.array2string(gm.means_[k][:6], precision=3, suppress_small=True)
        more = " ..." if gm.means_.shape[1] > 6 else ""
        print(f"    {gm.weights_[k]:.3f}: {mean}{more}")


def _time_fit(make, X, repeats=1):
    times = []
    for _ in range(repeats):
        model = make()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), model


def _compare(X, reference, max_iter):
    """Time fastem and scikit-learn on the same work (same start, tol=0)."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture
    from threadpoolctl import threadpool_limits

    from fastem import GaussianMixture

    params = dict(
        n_components=reference.n_components,
        covariance_type=reference.covariance_type,
        weights_init=reference.weights_,
        means_init=reference.means_,
        precisions_init=reference.precisions_,
        max_iter=max_iter,
        tol=0.0,
    )
    t_fastem, fitted = _time_fit(lambda: GaussianMixture(**params), X, repeats=3)
    best = None
    for threads in (1, 2):
        with threadpool_limits(threads):
            t_sk, sk = _time_fit(lambda: SkGaussianMixture(**params), X)
        if best is None or t_sk < best[0]:
            best = (t_sk, threads, sk)
    t_sk, threads, sk = best
    agree = float(np.max(np.abs(fitted.means_ - sk.means_)))
    print(
        f"  {max_iter} EM iterations from the same start, tol=0:\n"
        f"    fastem        {t_fastem:8.3f} s"
        f"  ({t_fastem / max_iter * 1e3:.1f} ms/iter)\n"
        f"    scikit-learn  {t_sk:8.3f} s  ({t_sk / max_iter * 1e3:.1f} ms/iter,"
        f" best of 1 and 2 BLAS threads: {threads})\n"
        f"    speed-up      {t_sk / t_fastem:8.1f} x"
        f"   (largest difference between the fitted means: {agree:.1e})"
    )


def _demo_parser():
    parser = argparse.ArgumentParser(
        prog="fastem demo",
        description="Fit Gaussian mixtures with fastem on real and generated data "
        "and compare with scikit-learn on the same work.",
    )
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-features", type=int, default=8)
    parser.add_argument("--n-components", type=int, default=8)
    parser.add_argument("--max-iter", type=int, default=DEMO_ITERATIONS)
    parser.add_argument(
        "--no-sklearn", action="store_true", help="skip the timing comparison"
    )
    return parser


def demo(argv=None):
    """Run the demo: real data, then a generated million-point dataset.

    Parameters
    ----------
    argv : list of str, optional
        Options (see ``fastem demo --help``): the size of the generated data,
        the number of iterations compared, ``--no-sklearn``.

    Returns
    -------
    int
        Exit status (0 on success).
    """
    args = _demo_parser().parse_args(argv)
    import numba

    import fastem

    print(
        f"fastem {fastem.__version__}, numba {numba.__version__}, "
        f"{numba.get_num_threads()} threads"
    )
    start = time.perf_counter()
    X, name, task = _load_demo_data()
    print(f"\n== Real data: {name}, {X.shape[0]} x {X.shape[1]} ({task}) ==")
    gm, elapsed = _progress_fit(X, 16, "full", 100, 0)
    print(f"  fit took {elapsed:.2f} s (includes compilation on a first run)")
    _summary(gm, X)
    if not args.no_sklearn:
        _compare(X, gm, args.max_iter)

    n, d, k = args.n_samples, args.n_features, args.n_components
    print(f"\n== Generated data: {n} x {d}, {k} blobs, full covariances ==")
    X = make_blobs(n, d, k)
    gm, elapsed = _progress_fit(X, k, "full", 100, 0)
    print(f"  fit took {elapsed:.2f} s")
    _summary(gm, X)
    if not args.no_sklearn:
        _compare(X, gm, args.max_iter)
    print(f"\nDemo finished in {time.perf_counter() - start:.1f} s.")
    return 0
