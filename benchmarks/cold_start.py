"""Time import plus a first default fit with an empty Numba cache, per family.

Each line runs in a fresh process with ``NUMBA_CACHE_DIR`` set to a new empty
directory, so every kernel the fit uses is compiled: what a new virtualenv,
container or CI job pays once (``fastem warmup`` pays it ahead of time). Give
several trees to compare them (``PYTHONPATH`` of each child), alternating.
asv's ``CompileTime`` rows (``fastem/_bench/compile_time.py``) time one family
at a time, two iterations, in the process of the commit under test; this
script times whole default fits with ``predict``, all five families in one
process too, and any trees side by side.

Usage::

    python -m benchmarks.cold_start --rounds 2 now=. before=/path/to/old/checkout
    python -m benchmarks.cold_start --kinds tied,all --rounds 3
"""

import argparse
import os
import statistics
import tempfile

from . import common

CHILD = r"""
import json, sys, time, warnings
t0 = time.perf_counter()
import numpy as np
kinds = sys.argv[1].split(",")
if "kmeans" in kinds:
    from fastem import KMeans
if set(kinds) - {"kmeans"}:
    from fastem import GaussianMixture
t1 = time.perf_counter()
rng = np.random.default_rng(0)
X = np.vstack([rng.normal(c, 1.0, (700, 4)) for c in (0, 4, 8)])
warnings.simplefilter("ignore")
for kind in kinds:
    if kind == "kmeans":
        model = KMeans(random_state=0)
    else:
        model = GaussianMixture(3, covariance_type=kind, random_state=0)
    model.fit(X)
    model.predict(X)
print(json.dumps({"import": t1 - t0, "fit": time.perf_counter() - t1}))
"""

FAMILIES = ["full", "tied", "diag", "spherical", "kmeans"]
KINDS = [*FAMILIES, ",".join(FAMILIES)]


def _run(path, kind):
    child = common.load_protocol("child")
    with tempfile.TemporaryDirectory() as cache:
        env = {"PYTHONPATH": os.path.abspath(path), "NUMBA_CACHE_DIR": cache}
        return child.run_child(["-c", CHILD, kind], env=env, cwd=tempfile.gettempdir())


def main(argv=None):
    """Print import, first fit and total per family and tree (medians)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--kinds",
        default=",".join(FAMILIES + ["all"]),
        help="comma-separated: any of full, tied, diag, spherical, kmeans, all",
    )
    parser.add_argument("trees", nargs="*", default=["now=."], help="LABEL=PATH")
    args = parser.parse_args(argv)
    chosen = args.kinds.split(",")
    if unknown := set(chosen) - {*FAMILIES, "all"}:
        parser.error(f"--kinds: unknown {', '.join(sorted(unknown))}")
    kinds = [KINDS[-1] if kind == "all" else kind for kind in chosen]
    trees = [tree.split("=", 1) for tree in args.trees]
    times = {}
    for round_ in range(args.rounds):
        for kind in kinds:
            for label, path in trees if round_ % 2 == 0 else trees[::-1]:
                result = _run(path, kind)
                times.setdefault((label, kind), []).append(
                    (result["import"], result["fit"])
                )
    for kind in kinds:
        line = f"{'all five' if ',' in kind else kind:10s}"
        for label, _ in trees:
            runs = times[(label, kind)]
            imported = statistics.median(run[0] for run in runs)
            fitted = statistics.median(run[1] for run in runs)
            line += (
                f" | {label}: import {imported:5.2f} + fit {fitted:6.2f}"
                f" = {imported + fitted:6.2f} s"
            )
        print(line)


if __name__ == "__main__":
    main()
