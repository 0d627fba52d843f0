"""The ``fastem`` command line: fit, predict, select, info, warmup, bench and demo.

Every command reads its inputs and checks that its outputs can be written
before any work, writes each output atomically (a temporary file renamed over
the target once complete) and reports a problem as one line on standard error
with a non-zero exit status: 1 for a bad file or value, 2 for a usage error,
130 when interrupted. Progress goes to standard error (see
:mod:`fastem._terminal`), results to standard output.
"""

import argparse
import contextlib
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import _datafiles, _progress, _terminal
from ._atomic import atomic_path

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
MODELS = {
    "gmm": "GaussianMixture",
    "bayes": "BayesianGaussianMixture",
    "kmeans": "KMeans",
}
PLOT_FORMATS = (".png", ".pdf", ".svg")
MODEL_FORMATS = (".npz",)
TABLE_FORMATS = (".csv",)


class CommandError(Exception):
    """A problem to report in one line (exit status 1)."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


# -- fit --------------------------------------------------------------------------


FIT_EPILOG = """\
examples:
  fastem fit data.csv -k 5 -o model.npz
  fastem fit data.npy -k 8 --covariance-type diag --n-init 3 --seed 0 -o model.npz
  fastem fit data.parquet -k 20 --model bayes -o model.npz --plot fit.png
  fastem fit data.npz --key x -k 4 --model kmeans -o centers.npz

DATA is .npy (memory-mapped: larger than memory is fine), .npz, .csv (comma-
separated, a header line allowed) or .parquet (needs pyarrow). Parameters
left out take scikit-learn's defaults. The model file is read back by
`fastem predict`, `fastem info` and fastem.load().
"""


def _add_data(parser):
    parser.add_argument("data", metavar="DATA", help="data file, one row per sample")
    parser.add_argument(
        "--key", metavar="NAME", help="the array to read from an .npz holding several"
    )


def _add_quiet(parser):
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print no progress and no summary"
    )


def _fit_parser(commands):
    parser = commands.add_parser(
        "fit",
        help="fit a mixture or k-means model to a data file",
        description="Fit a Gaussian mixture, a Bayesian (variational) Gaussian "
        "mixture or k-means to DATA and save the model.",
        epilog=FIT_EPILOG,
        formatter_class=_formatter,
    )
    _add_data(parser)
    parser.add_argument(
        "-k",
        "--n-components",
        type=int,
        required=True,
        metavar="K",
        help="number of components (clusters for kmeans)",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="MODEL", help="model file (.npz)"
    )
    parser.add_argument(
        "--model", choices=tuple(MODELS), default="gmm", help="(default: gmm)"
    )
    parser.add_argument(
        "--covariance-type",
        choices=COVARIANCE_TYPES,
        help="gmm and bayes only (default: full)",
    )
    parser.add_argument("--max-iter", type=int, metavar="N", help="EM/Lloyd iterations")
    parser.add_argument("--tol", type=float, metavar="T", help="convergence threshold")
    parser.add_argument("--n-init", type=int, metavar="N", help="initialisations")
    parser.add_argument(
        "--init",
        metavar="METHOD",
        help="gmm/bayes: kmeans, k-means++, random, random_from_data; "
        "kmeans: k-means++, random",
    )
    parser.add_argument("--reg-covar", type=float, metavar="R", help="gmm and bayes")
    parser.add_argument("--seed", type=int, metavar="S", help="random seed")
    parser.add_argument(
        "--plot",
        metavar="FILE",
        help="also save a figure (.png, .pdf, .svg): the convergence curve and "
        "the clusters (needs matplotlib: pip install 'fastem[plot]')",
    )
    _add_quiet(parser)
    parser.set_defaults(run=fit)
    return parser


def _estimator(args):
    """Build the estimator ``args`` ask for; options that do not apply are errors."""
    import fastem

    kmeans = args.model == "kmeans"
    if kmeans:
        for option, value in (
            ("--covariance-type", args.covariance_type),
            ("--reg-covar", args.reg_covar),
        ):
            if value is not None:
                raise CommandError(f"{option} does not apply to --model kmeans.")
    params = {
        "max_iter": args.max_iter,
        "tol": args.tol,
        "n_init": args.n_init,
        "random_state": args.seed,
    }
    if kmeans:
        params.update(n_clusters=args.n_components, init=args.init)
    else:
        params.update(
            n_components=args.n_components,
            covariance_type=args.covariance_type,
            init_params=args.init,
            reg_covar=args.reg_covar,
        )
    params = {name: value for name, value in params.items() if value is not None}
    estimator = getattr(fastem, MODELS[args.model])(**params)
    estimator._validate_params()  # scikit-learn's checks, before reading the data
    return estimator


def _check_plot_output(path):
    _datafiles.check_output(path, PLOT_FORMATS, "--plot")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CommandError(
            "--plot needs matplotlib: pip install 'fastem[plot]'."
        ) from None


def _run_fit(estimator, X, mode):
    """Fit under a progress display; return the seconds and the warnings."""
    progress = _terminal.FitProgress(estimator, mode)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _progress.observe(progress):
                estimator.fit(X)
        finally:
            progress.close()
    return time.perf_counter() - start, caught, progress


def _kept_history(estimator, progress):
    """KMeans's center shifts of the run it kept (the last of its length)."""
    runs = [run for run in progress.histories if len(run) == estimator.n_iter_]
    return runs[-1] if runs else None


def _save_figure(figure, path):
    suffix = Path(path).suffix.lower()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format=suffix[1:], dpi=120)


def fit(args):
    """``fastem fit``: fit DATA, save the model (and a figure)."""
    estimator = _estimator(args)
    _datafiles.check_output(args.output, MODEL_FORMATS, "-o")
    if args.plot:
        _check_plot_output(args.plot)
    X = _read(args)
    mode = _terminal.display_mode(sys.stderr, args.quiet)
    seconds, caught, progress = _run_fit(estimator, X, mode)
    figure = None
    if args.plot:
        from . import plot

        history = None
        if args.model == "kmeans":
            history = _kept_history(estimator, progress)
        figure = plot.fit_summary(estimator, X, history=history)
    sizes = None
    if args.model == "kmeans":
        # labels_ is 4 bytes a row: the file keeps the centers only, and
        # `fastem predict` gives the labels.
        sizes = np.bincount(estimator.labels_, minlength=estimator.n_clusters)
        del estimator.labels_
    estimator.save(args.output)
    if figure is not None:
        _save_figure(figure, args.plot)
    _warn(caught, "fit")
    if not args.quiet:
        _fit_summary(estimator, X, args, seconds, sizes)
    return 0


def _fit_summary(estimator, X, args, seconds, sizes):
    name = type(estimator).__name__
    n, d = X.shape
    print(f"{name} on {args.data} ({n} x {d}), fitted in {seconds:.2f} s")
    if args.model == "kmeans":
        print(f"  iterations: {estimator.n_iter_}, inertia: {estimator.inertia_:.6g}")
        print(f"  cluster sizes: {_first(sizes, '{:d}')}")
    else:
        state = "converged" if estimator.converged_ else "did not converge"
        bound = (
            "the ELBO, summed over rows, up to a constant"
            if args.model == "bayes"
            else "mean log-likelihood per row"
        )
        print(
            f"  {state} after {estimator.n_iter_} iterations; lower bound "
            f"{estimator.lower_bound_:.6f} ({bound})"
        )
        if args.model == "gmm":
            from .select import criteria

            bic, aic = criteria(estimator, estimator.score(X), X.shape[0])
            print(f"  BIC {bic:.1f}, AIC {aic:.1f}")
        else:
            used = int(np.sum(estimator.weights_ > 1e-2))
            print(
                f"  components with weight > 0.01: {used} of {estimator.n_components}"
            )
        print(f"  weights: {_first(np.sort(estimator.weights_)[::-1], '{:.3f}')}")
    size = Path(args.output).stat().st_size
    print(f"  saved to {args.output} ({size / 1024:.1f} KiB)")
    if args.plot:
        print(f"  figure saved to {args.plot}")


def _first(values, fmt, count=10):
    text = " ".join(fmt.format(value) for value in values[:count])
    return text + (f" ... ({len(values)} in all)" if len(values) > count else "")


# -- predict ------------------------------------------------------------------------


PREDICT_EPILOG = """\
examples:
  fastem predict model.npz data.csv -o labels.npy
  fastem predict model.npz data.npy --proba -o proba.npy
  fastem predict model.npz data.parquet --score -o loglik.csv

The output is .npy or .csv, one row per row of DATA: the component index
(int32), the k membership probabilities (--proba) or the log-likelihood of
the row (--score). It is written slab by slab, so memory stays small for any
number of rows.
"""


def _predict_parser(commands):
    parser = commands.add_parser(
        "predict",
        help="labels, probabilities or log-likelihoods of rows under a model",
        description="Apply a model file to DATA and write one result per row.",
        epilog=PREDICT_EPILOG,
        formatter_class=_formatter,
    )
    parser.add_argument("model", metavar="MODEL", help="model file from fastem fit")
    _add_data(parser)
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output (.npy or .csv)"
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--proba", action="store_true", help="membership probabilities (mixtures)"
    )
    what.add_argument(
        "--score", action="store_true", help="per-row log-likelihood (mixtures)"
    )
    _add_quiet(parser)
    parser.set_defaults(run=predict)
    return parser


def predict(args):
    """``fastem predict``: write labels, probabilities or scores of DATA's rows."""
    import fastem

    _datafiles.check_output(args.output, _datafiles.ROW_FORMATS, "-o")
    model = fastem.load(args.model)
    mixture = hasattr(model, "predict_proba")
    if (args.proba or args.score) and not mixture:
        option = "--proba" if args.proba else "--score"
        raise CommandError(
            f"{option} needs a mixture model; {args.model} holds a "
            f"{type(model).__name__}."
        )
    X = _read(args)
    n_features = model.n_features_in_
    if X.shape[1] != n_features:
        raise CommandError(
            f"{args.data} has {X.shape[1]} columns; the model in {args.model} "
            f"was fitted on {n_features}."
        )
    if args.proba:
        k = model.n_components
        columns, dtype, header = k, np.float64, [f"p{j}" for j in range(k)]
        rows = model.predict_proba
    elif args.score:
        columns, dtype, header = None, np.float64, ["log_likelihood"]
        rows = model.score_samples
    else:
        columns, dtype, header = None, np.int32, ["label"]
        rows = model.predict
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _datafiles.write_rows(
            args.output,
            X.shape[0],
            columns,
            dtype,
            lambda start, stop: rows(X[start:stop]),
            header=header,
        )
    _warn(caught, "predict")
    if not args.quiet:
        what = "probabilities" if args.proba else "scores" if args.score else "labels"
        print(f"wrote the {what} of {X.shape[0]} rows to {args.output}")
    return 0


# -- select -------------------------------------------------------------------------


SELECT_EPILOG = """\
examples:
  fastem select data.csv -k 1:10
  fastem select data.npy -k 2:20:2 --covariance-type diag,spherical --criterion aic
  fastem select data.parquet -k 1:8 -o best.npz --table table.csv --plot select.png

Every (K, covariance type) candidate is a GaussianMixture fit; candidates
run side by side on all cores. The table goes to standard output, the best
candidate (smallest criterion) marked with '*'.
"""


def _components(text):
    """``'1:10'`` (inclusive), ``'2:20:2'``, ``'3'`` or ``'2,4,8'`` -> ints."""
    try:
        if ":" in text:
            parts = [int(part) for part in text.split(":")]
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] < 1):
                raise ValueError
            start, stop = parts[:2]
            step = parts[2] if len(parts) == 3 else 1
            values = list(range(start, stop + 1, step))
        else:
            values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected K, K1:K2, K1:K2:STEP or K1,K2,...; got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"the numbers of components must be >= 1; got {text!r}"
        )
    return values


def _covariance_types(text):
    if text == "all":
        return COVARIANCE_TYPES
    kinds = tuple(part.strip() for part in text.split(","))
    unknown = [kind for kind in kinds if kind not in COVARIANCE_TYPES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown covariance type {unknown[0]!r}; expected 'all' or a "
            f"comma-separated list of {', '.join(COVARIANCE_TYPES)}"
        )
    return kinds


def _select_parser(commands):
    parser = commands.add_parser(
        "select",
        help="choose the number of components and covariance type by BIC or AIC",
        description="Fit a GaussianMixture for every K and covariance type and "
        "rank them by BIC or AIC.",
        epilog=SELECT_EPILOG,
        formatter_class=_formatter,
    )
    _add_data(parser)
    parser.add_argument(
        "-k",
        "--n-components",
        type=_components,
        default=_components("1:10"),
        metavar="RANGE",
        help="K1:K2 (inclusive), K1:K2:STEP or K1,K2,... (default: 1:10)",
    )
    parser.add_argument(
        "--covariance-type",
        type=_covariance_types,
        default=COVARIANCE_TYPES,
        metavar="TYPES",
        help="'all' or a comma-separated list (default: all)",
    )
    parser.add_argument("--criterion", choices=("bic", "aic"), default="bic")
    parser.add_argument("--n-init", type=int, default=1, metavar="N")
    parser.add_argument("--max-iter", type=int, default=100, metavar="N")
    parser.add_argument("--seed", type=int, metavar="S", help="random seed")
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="candidates fitted at once (default: cores)",
    )
    parser.add_argument("-o", "--output", metavar="MODEL", help="save the best model")
    parser.add_argument("--table", metavar="FILE", help="save the table (.csv)")
    parser.add_argument(
        "--plot", metavar="FILE", help="save BIC and AIC against K (.png, .pdf, .svg)"
    )
    _add_quiet(parser)
    parser.set_defaults(run=select)
    return parser


def select(args):
    """``fastem select``: rank the candidates, print the table, save the best."""
    from .select import select_model

    if args.output:
        _datafiles.check_output(args.output, MODEL_FORMATS, "-o")
    if args.table:
        _datafiles.check_output(args.table, TABLE_FORMATS, "--table")
    if args.plot:
        _check_plot_output(args.plot)
    X = _read(args)
    n_candidates = len(set(args.n_components)) * len(set(args.covariance_type))
    mode = _terminal.display_mode(sys.stderr, args.quiet)
    progress = _terminal.SelectProgress(n_candidates, args.criterion, mode)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = select_model(
                X,
                n_components=args.n_components,
                covariance_types=args.covariance_type,
                criterion=args.criterion,
                n_init=args.n_init,
                max_iter=args.max_iter,
                random_state=args.seed,
                n_jobs=args.jobs,
                callback=progress,
            )
        finally:
            progress.close()
    figure = None
    if args.plot:
        from . import plot

        figure = plot.selection(result)
    if args.output:
        result.best_estimator.save(args.output)
    if args.table:
        _write_table(result.table, args.table)
    if figure is not None:
        _save_figure(figure, args.plot)
    _warn(caught, "select")
    if not args.quiet:
        print(result.to_string())
    return 0


def _write_table(table, path):
    names = list(table)
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as stream:
            stream.write(",".join(names) + "\n")
            for row in zip(*(table[name] for name in names), strict=True):
                stream.write(",".join(_cell(value) for value in row) + "\n")


def _cell(value):
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    return str(value)


# -- info ---------------------------------------------------------------------------


def _info_parser(commands):
    parser = commands.add_parser(
        "info",
        help="print what a model file holds",
        description="Check a model file (as fastem.load does) and print its "
        "class, parameters and fitted values.",
        epilog="example:\n  fastem info model.npz",
        formatter_class=_formatter,
    )
    parser.add_argument("model", metavar="MODEL", help="model file from fastem fit")
    parser.set_defaults(run=info)
    return parser


def info(args):
    """``fastem info``: describe a model file after checking it."""
    from ._io import read_model

    model, meta = read_model(args.model)  # every check of fastem.load
    path = Path(args.model)
    print(
        f"{path}: fastem model file (format {meta['format_version']}, written by "
        f"fastem {meta['fastem_version']}, {path.stat().st_size / 1024:.1f} KiB)"
    )
    print(f"class: {type(model).__name__}")
    print("parameters:")
    for name, value in sorted(model.get_params(deep=False).items()):
        print(f"  {name} = {value!r}")
    print("fitted:")
    print(f"  n_features_in_ = {model.n_features_in_}")
    if hasattr(model, "cluster_centers_"):
        print(f"  n_iter_ = {model.n_iter_}, inertia_ = {model.inertia_:.6g}")
        print(f"  cluster_centers_: {model.cluster_centers_.shape}")
    else:
        print(f"  converged_ = {model.converged_}, n_iter_ = {model.n_iter_}")
        print(f"  lower_bound_ = {model.lower_bound_:.6f}")
        print(f"  weights_ = {_first(model.weights_, '{:.4f}')}")
        print(
            f"  means_: {model.means_.shape}, covariances_: {model.covariances_.shape}"
        )
    return 0


# -- warmup -------------------------------------------------------------------------


WARMUP_EPILOG = """\
examples:
  fastem warmup
  fastem warmup --family diag,spherical --dtype float64
  NUMBA_CACHE_DIR=/opt/numba-cache fastem warmup -q     (Dockerfile: RUN ...)

Small fits and predictions of each family and dtype run with the default
parameters, so Numba compiles every kernel they use and keeps it on disk;
later processes load it instead of compiling. The cache directory must stay
writable by the user who runs the fits: Numba skips a read-only one.
"""


def _names(allowed, what):
    """``'a,b'`` -> ``['a', 'b']``, each one of ``allowed``."""

    def parse(text):
        names = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {(unknown or [text])[0]!r}; expected one or more "
                f"of {', '.join(allowed)} (comma-separated or repeated)"
            )
        return names

    return parse


def _warmup_parser(commands):
    from .warmup import DTYPES, FAMILIES

    parser = commands.add_parser(
        "warmup",
        help="compile the kernels ahead of time (for Docker images and CI caches)",
        description="Compile the kernels that fits and predictions use, so "
        "that later processes load them from Numba's cache, and print where "
        "the cache is.",
        epilog=WARMUP_EPILOG,
        formatter_class=_formatter,
    )
    parser.add_argument(
        "--family",
        action="append",
        type=_names(FAMILIES, "family"),
        metavar="NAMES",
        help=f"{', '.join(FAMILIES)} (bayes: BayesianGaussianMixture, every "
        f"covariance type); repeat or separate by commas (default: all)",
    )
    parser.add_argument(
        "--dtype",
        action="append",
        type=_names(DTYPES, "dtype"),
        metavar="NAMES",
        help=f"{' or '.join(DTYPES)} (default: both)",
    )
    _add_quiet(parser)
    parser.set_defaults(run=warmup)
    return parser


def warmup(args):
    """``fastem warmup``: compile the kernels, then say where they are cached."""
    from . import warmup as compiler

    families = (
        [name for names in args.family for name in names] if args.family else None
    )
    dtypes = [name for names in args.dtype for name in names] if args.dtype else None
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiler.warmup(families, dtypes, verbose=not args.quiet)
    elapsed = time.perf_counter() - start
    _warn(caught, "warmup")
    rule, directories = compiler.cache_location()
    if rule is None:
        raise CommandError(
            "the kernels were compiled but Numba cannot cache them on disk; set "
            "NUMBA_CACHE_DIR to a directory this user can write"
        )
    if not args.quiet:
        print(f"  {'total':<10} {elapsed:6.1f} s")
        print(_cache_summary(rule, directories))
    return 0


def _cache_summary(rule, directories):
    paths = [Path(directory) for directory in directories]
    files = [
        path
        for directory in paths
        if directory.is_dir()
        for path in directory.iterdir()
        if path.suffix in (".nbi", ".nbc")
    ]
    size = sum(path.stat().st_size for path in files) / 2**20
    counts = f"{len(files)} files, {size:.1f} MiB"
    if rule in ("NUMBA_CACHE_DIR", "user-wide"):
        what = "NUMBA_CACHE_DIR" if rule == "NUMBA_CACHE_DIR" else "Numba's user-wide"
        return f"cache: {paths[0].parent} ({what}; {counts})"
    where = {"__pycache__": "the __pycache__ directories next to fastem's modules"}
    listing = "".join(f"\n  {path}" for path in paths)
    return f"cache: {where.get(rule, 'these directories')} ({counts}):{listing}"


# -- shared pieces -------------------------------------------------------------------


def _read(args):
    return _datafiles.read_data(args.data, key=args.key)


def _warn(caught, command):
    """Print each distinct warning of a command as one line on standard error."""
    seen = set()
    for warning in caught:
        message = " ".join(str(warning.message).split())
        if message not in seen:
            seen.add(message)
            print(f"fastem {command}: warning: {message}", file=sys.stderr)


def _one_line(error):
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _parser():
    import fastem

    parser = _Parser(
        prog="fastem",
        description="Fast EM for Gaussian mixtures and k-means, from the terminal.",
        epilog="Run 'fastem COMMAND --help' for a command's options.",
        formatter_class=_formatter,
    )
    parser.add_argument("--version", action="version", version=fastem.__version__)
    commands = parser.add_subparsers(
        title="commands", metavar="COMMAND", parser_class=_Parser
    )
    _fit_parser(commands)
    _predict_parser(commands)
    _select_parser(commands)
    _info_parser(commands)
    _warmup_parser(commands)
    commands.add_parser(
        "bench",
        help="print the fastem vs scikit-learn speed-up table",
        add_help=False,
    )
    commands.add_parser(
        "demo",
        help="fit real and generated data, compare with scikit-learn",
        add_help=False,
    )
    return parser


def main(argv=None):
    """Entry point of the ``fastem`` console script.

    Parameters
    ----------
    argv : list of str, optional
        A command and its options (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 1 for a bad file or value, 2 for a usage
        error, 130 when interrupted.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "demo":
        from ._demo import demo

        return demo(argv[1:])
    if argv and argv[0] == "bench":
        from ._bench.command import main as bench

        return bench(argv[1:])
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 2
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    command = argv[0]
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"fastem {command}: interrupted", file=sys.stderr)
        return 130
    except (CommandError, ValueError, TypeError, OSError, ImportError) as error:
        print(f"fastem {command}: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except Exception as error:  # a bug: still one line, with where to report it
        print(
            f"fastem {command}: internal error ({type(error).__name__}: "
            f"{_one_line(error)}); please report it with the command you ran",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
