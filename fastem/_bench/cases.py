"""The named benchmark cases, the defaults of each profile and their selection."""

import fnmatch
from dataclasses import dataclass, replace
from pathlib import Path

from .data import load_dataset, make_blobs

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
REAL_DATASETS = ("cover", "http", "shuttle")


@dataclass(frozen=True)
class Case:
    """One benchmark problem.

    ``data`` is ``"blobs"`` (generated, ``n`` x ``d``) or a real dataset name
    (``n`` and ``d`` are then taken from the file). ``measures`` lists what to
    run: ``time`` (fit, per-iteration, predict, E-step, quality), ``memory``.
    """

    name: str
    model: str  # "gmm", "bgmm" (BayesianGaussianMixture) or "kmeans"
    k: int
    covariance_type: str = "full"
    n: int = 0
    d: int = 0
    data: str = "blobs"
    dtype: str = "float64"
    measures: tuple = ("time", "memory")


def _size(n):
    """Return ``n`` as a case-name token: ``2e4``, ``1e6``."""
    mantissa, exponent = f"{n:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _mixture_case(model, cov, n, d, k, dtype, measures, data):
    token = data if data else f"{_size(n)}x{d}"
    suffix = "" if dtype == "float64" else "-f32"
    return Case(
        name=f"{model}-{cov}-{token}-k{k}{suffix}",
        model=model,
        k=k,
        covariance_type=cov,
        n=n,
        d=d,
        data=data or "blobs",
        dtype=dtype,
        measures=measures,
    )


def gmm_case(cov, n, d, k, dtype="float64", measures=("time", "memory"), data=None):
    """Return a GaussianMixture case named ``gmm-<cov>-<n>x<d>-k<k>[-f32]``.

    Examples
    --------
    >>> gmm_case("diag", 20_000, 8, 4).name
    'gmm-diag-2e4x8-k4'
    """
    return _mixture_case("gmm", cov, n, d, k, dtype, measures, data)


def bgmm_case(cov, n, d, k, dtype="float64", measures=("time", "memory"), data=None):
    """Return a BayesianGaussianMixture case named ``bgmm-<cov>-<n>x<d>-k<k>[-f32]``.

    Examples
    --------
    >>> bgmm_case("full", 1_000_000, 16, 16).name
    'bgmm-full-1e6x16-k16'
    """
    return _mixture_case("bgmm", cov, n, d, k, dtype, measures, data)


def kmeans_case(n, d, k, dtype="float32", measures=("time",)):
    """Return a KMeans case named ``kmeans-<n>x<d>-k<k>[-f32]`` (float32 default).

    Examples
    --------
    >>> kmeans_case(20_000, 8, 8).name
    'kmeans-2e4x8-k8-f32'
    """
    suffix = "" if dtype == "float64" else "-f32"
    return Case(
        name=f"kmeans-{_size(n)}x{d}-k{k}{suffix}",
        model="kmeans",
        k=k,
        covariance_type="",
        n=n,
        d=d,
        dtype=dtype,
        measures=measures,
    )


def default_cases(quick=False, real_data=False):
    """Return the cases run when ``--cases`` is not given.

    The regular set holds the foundation issue's target sizes: n=1e6, d=16, k=16
    for the four covariance types, n=2e5, d=64, k=32 full, peak memory at n=1e6,
    d=16, k=64 full, and the two k-means sizes (float32, so that faiss can run the
    same work); BayesianGaussianMixture at n=1e6, d=16, k=16 full and diag, n=2e5,
    d=64, k=32 full and peak memory at n=1e6, d=16, k=64 full. ``quick`` shrinks
    everything for a smoke run.
    """
    if quick:
        cases = [gmm_case(cov, 20_000, 8, 4) for cov in COVARIANCE_TYPES]
        cases.append(gmm_case("full", 20_000, 8, 4, "float32", ("time",)))
        cases += [bgmm_case(cov, 20_000, 8, 4) for cov in ("full", "diag")]
        cases.append(kmeans_case(20_000, 8, 8))
        if real_data:
            cases.append(gmm_case("full", 0, 0, 4, data="shuttle"))
        return cases
    cases = [gmm_case(cov, 1_000_000, 16, 16) for cov in COVARIANCE_TYPES]
    cases.append(gmm_case("full", 200_000, 64, 32))
    cases.append(gmm_case("full", 1_000_000, 16, 64, measures=("memory",)))
    cases += [bgmm_case(cov, 1_000_000, 16, 16) for cov in ("full", "diag")]
    cases.append(bgmm_case("full", 200_000, 64, 32))
    cases.append(bgmm_case("full", 1_000_000, 16, 64, measures=("memory",)))
    cases.append(kmeans_case(1_000_000, 16, 64))
    cases.append(kmeans_case(1_000_000, 2, 8))
    if real_data:
        cases.append(gmm_case("full", 0, 0, 16, data="cover"))
        cases.append(gmm_case("full", 0, 0, 8, data="http"))
        cases.append(gmm_case("full", 0, 0, 8, data="shuttle"))
    return cases


def all_cases(real_data=False):
    """Return every named case (the defaults of both profiles plus extras).

    Returns
    -------
    dict
        Case name -> :class:`Case`, in a stable order.
    """
    cases = {c.name: c for c in default_cases(True, real_data)}
    cases.update({c.name: c for c in default_cases(False, real_data)})
    for cov in COVARIANCE_TYPES:
        for dtype in ("float64", "float32"):
            for case in (
                gmm_case(cov, 1_000_000, 16, 16, dtype),
                gmm_case(cov, 10_000_000, 16, 16, dtype),
                bgmm_case(cov, 1_000_000, 16, 16, dtype),
            ):
                cases.setdefault(case.name, case)
    for dtype in ("float64", "float32"):
        for case in (
            kmeans_case(1_000_000, 16, 64, dtype),
            kmeans_case(1_000_000, 2, 8, dtype),
        ):
            cases.setdefault(case.name, case)
    if real_data:
        for name in REAL_DATASETS:
            for cov in COVARIANCE_TYPES:
                case = gmm_case(cov, 0, 0, 8, data=name)
                cases.setdefault(case.name, case)
    return cases


def select_cases(patterns=None, quick=False, real_data=False, dtype=None):
    """Return the cases to run, in order and without repeats.

    Parameters
    ----------
    patterns : str, optional
        Comma-separated case names or shell patterns (``--cases``); the
        defaults of the profile when not given.
    quick : bool, default=False
        The quick profile's defaults.
    real_data : bool, default=False
        Whether the real datasets are available.
    dtype : {'float32', 'float64'}, optional
        Run every selected case in this dtype (its name follows).

    Raises
    ------
    SystemExit
        When a pattern matches no case.
    """
    if patterns:
        pool = all_cases(real_data)
        chosen = []
        for pattern in patterns.split(","):
            pattern = pattern.strip()
            hits = [c for name, c in pool.items() if fnmatch.fnmatch(name, pattern)]
            if not hits:
                raise SystemExit(
                    f"no case matches {pattern!r}; see `fastem bench --list-cases`"
                )
            chosen += [c for c in hits if c not in chosen]
    else:
        chosen = default_cases(quick, real_data)
    if dtype:
        chosen = [
            replace(
                c,
                dtype=dtype,
                name=c.name.removesuffix("-f32")
                + ("-f32" if dtype == "float32" else ""),
            )
            for c in chosen
        ]
    return chosen


def find_data_dir(data_dir=None):
    """Return the real-data folder, or ``None`` when there is none.

    ``data_dir`` when given (it must exist); otherwise ``../shared/data`` relative
    to the current directory or to the repository this module sits in.
    """
    if data_dir is not None:
        path = Path(data_dir)
        if not path.is_dir():
            raise FileNotFoundError(f"--data-dir {data_dir!r} is not a folder")
        return path
    here = Path(__file__).resolve().parents[2]
    for base in (Path.cwd(), here):
        path = base.parent / "shared" / "data"
        if (path / "cover.npz").is_file():
            return path
    return None


def load_case_data(case, data_dir=None):
    """Return the data of ``case`` as a C-contiguous array of ``case.dtype``."""
    if case.data == "blobs":
        return make_blobs(case.n, case.d, case.k, case.dtype)
    folder = find_data_dir(data_dir)
    if folder is None:
        raise FileNotFoundError(
            f"case {case.name!r} needs {case.data}.npz; pass --data-dir "
            "(the shared data folder, usually ../shared/data)"
        )
    return load_dataset(folder, case.data, case.dtype)
