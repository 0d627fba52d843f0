"""The ``fastem bench`` command line (also ``python benchmarks/compare.py``).

One process runs every pair, alternating the backends inside each repeat so that
drift on a shared machine hits both alike, and prints a markdown table of medians
and speed-ups. Peak memory is measured in fresh subprocesses (peak RSS minus the
RSS after loading the data and warming up); compile time in fresh subprocesses
with numba's on-disk cache cold and warm.

The protocol makes both backends do the same work:

- the same data (seeded blobs, or the real datasets when a data folder is found);
- the same initial parameters (``weights_init``, ``means_init``,
  ``precisions_init``, or the same ``init`` centers for k-means; for
  BayesianGaussianMixture ``init_params='random_from_data'`` with the same
  ``random_state``, hence the same initial responsibilities), ``n_init=1``,
  ``tol=0`` and a fixed ``max_iter``;
- scikit-learn at its best setting (the faster of 1 and 2 BLAS/OpenMP threads,
  chosen per measurement), fastem on 2 numba threads;
- oneDAL (optional, GaussianMixture 'full' and 'diag') in its own interpreter,
  ``--onedal-python`` (see :mod:`fastem._bench.onedal`), on 2 threads;
- per-iteration times and k-means fits to convergence as described in
  :mod:`fastem._bench.timing`.

This needs neither the ``benchmarks/`` folder nor the shared data; the asv suite
in ``benchmarks/`` tracks the same pairs over the commit history.
"""

import argparse
import json
import shlex
import sys
from pathlib import Path

from .backends import FASTEM_NAMES, fastem_available
from .cases import all_cases, find_data_dir, load_case_data, select_cases
from .compile_time import run_compile
from .machine import machine_info
from .memory import MEMORY_ITER, measure_memory
from .onedal import ONEDAL_PYTHON_ENV, find_onedal
from .render import best_sklearn, fmt_mib, render_markdown
from .results import CaseResult, Run, from_json, to_json
from .timing import FASTEM_THREADS, run_case


def make_parser():
    """Return the argument parser of ``fastem bench``."""
    parser = argparse.ArgumentParser(
        prog="fastem bench",
        description=(
            "Time fastem against scikit-learn (and faiss for k-means, oneDAL for "
            "GaussianMixture) on the same work, in one process, and print a "
            "markdown table."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, one repeat, one iteration (a smoke run for CI)",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="repeats (default 3; quick: 1)"
    )
    parser.add_argument(
        "--cases",
        default=None,
        help="comma-separated case names or shell patterns (see --list-cases)",
    )
    parser.add_argument("--list-cases", action="store_true", help="list and exit")
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default=None,
        help="run every selected case in this dtype",
    )
    parser.add_argument(
        "--warmup-iters",
        type=int,
        default=1,
        help="a: iterations of the shorter fit (default 1)",
    )
    parser.add_argument(
        "--iters",
        type=int,
        default=None,
        help="m: extra iterations of the longer fit (default 3; quick: 1)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with cover.npz, http.npz, shuttle.npz "
        "(default: ../shared/data if present)",
    )
    parser.add_argument(
        "--sklearn-threads",
        choices=("probe", "both", "1", "2"),
        default="probe",
        help="scikit-learn's thread count: 'probe' (default) picks the faster of "
        "1 and 2 on a short fit of the first 200,000 rows; 'both' times both in "
        "every repeat and reports the faster",
    )
    parser.add_argument(
        "--onedal-python",
        default=None,
        metavar="PATH",
        help="a Python that imports daal4py, to time oneDAL's EM on the 'full' and "
        f"'diag' GaussianMixture cases (default: ${ONEDAL_PYTHON_ENV}, else this "
        "Python; skipped with the reason when it cannot import daal4py)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip peak memory")
    parser.add_argument("--no-compile", action="store_true", help="skip compile time")
    parser.add_argument(
        "--compile-repeats",
        type=int,
        default=None,
        help="fresh-process compile measurements (default 2; quick: 1)",
    )
    parser.add_argument("--markdown-out", default=None, help="also write the table")
    parser.add_argument("--json-out", default=None, help="write raw timings as JSON")
    parser.add_argument(
        "--render",
        default=None,
        metavar="JSON",
        help="print the report of an earlier --json-out file; measure nothing",
    )
    return parser


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


def _command_line(argv):
    """Return the command as typed, for the report."""
    program = "fastem bench"
    if argv is None and Path(sys.argv[0]).name == "compare.py":
        program = "python benchmarks/compare.py"
    args = sys.argv[1:] if argv is None else argv
    return (program + " " + " ".join(shlex.quote(arg) for arg in args)).strip()


def _measure(case, args, a, m, repeats, data_dir, onedal=None):
    """Run the measures of one case: timings, then peak memory per backend."""
    if "time" in case.measures:
        threads = args.sklearn_threads
        res = run_case(case, a, m, repeats, data_dir, _log, threads, onedal)
    else:
        res = CaseResult(case)
        n, d = load_case_data(case, data_dir).shape
        res.shape = (n, d, case.k)
    if "memory" in case.measures and not args.no_memory:
        what = FASTEM_NAMES[case.model]
        for backend in ("sklearn", "fastem"):
            if backend == "fastem" and fastem_available(what) is not None:
                continue
            count = FASTEM_THREADS
            if backend == "sklearn" and res.times.get("fit"):
                count = best_sklearn(res.times["fit"])[1]
            res.memory[backend] = measure_memory(
                case, backend, count, MEMORY_ITER, data_dir
            )
            _log(f"  memory {backend}: {fmt_mib(res.memory[backend]['delta'])}")
    return res


def _report(run, markdown_out=None, json_out=None):
    """Print the report; write it and the raw run where asked."""
    report = render_markdown(run)
    print(report)
    if markdown_out:
        Path(markdown_out).write_text(report)
    if json_out:
        Path(json_out).write_text(json.dumps(to_json(run), indent=1))


def main(argv=None):
    """Run the comparison and print the markdown report.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``); see
        ``fastem bench --help``.

    Returns
    -------
    int
        Exit status (0 on success).
    """
    args = make_parser().parse_args(argv)
    if args.render:
        run = from_json(json.loads(Path(args.render).read_text()))
        _report(run, args.markdown_out)
        return 0
    data_dir = find_data_dir(args.data_dir)
    cases = select_cases(args.cases, args.quick, data_dir is not None, args.dtype)
    if args.list_cases:
        for name, case in all_cases(data_dir is not None).items():
            print(f"{name:32s} {case.measures}")
        return 0
    repeats = args.repeats or (1 if args.quick else 3)
    m = args.iters or (1 if args.quick else 3)
    a = args.warmup_iters
    compile_repeats = args.compile_repeats or (1 if args.quick else 2)
    if fastem_available() is not None:
        _log(f"note: {fastem_available()}; timing scikit-learn only")
    onedal = None
    if any(c.model == "gmm" and "time" in c.measures for c in cases):
        onedal = find_onedal(args.onedal_python)
        _log(onedal.reason or f"oneDAL: daal4py {onedal.versions['daal4py']}")
    results = []
    for case in cases:
        _log(f"{case.name} ...")
        results.append(_measure(case, args, a, m, repeats, data_dir, onedal))
    compile_times = None
    if not args.no_compile:
        _log("compile time ...")
        compile_times = run_compile(compile_repeats, log=_log)
    run = Run(
        results,
        compile_times,
        machine_info(onedal),
        _command_line(argv),
        a,
        m,
        repeats,
    )
    _report(run, args.markdown_out, args.json_out)
    return 0
