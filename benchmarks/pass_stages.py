"""Print the cycles per row of each stage of the fused pass, one thread, in cache.

The family's two hooks (``_log_density``, ``_accumulate`` of
``fastem/_kernels/{full,tied,diag}.py``) and the exp of the log-sum-exp are
timed on their own, on one block of rows repeated (so the block stays in
cache), in a compiled loop with the pass's vector width: where each part of
the pass stands against the machine's limits, before the block's
transposition, the log-sum-exp's sweeps and the threads. Cycles assume
``--ghz`` (default 3.6); medians of 5 runs of about ``--rows`` rows.
``--dtype float32`` times the hooks as float32 data gets them (full's scatter
in float32, see ``fastem/_kernels/_single.py``).

The first line is the machine's float64 bound, measured in the same run
(``benchmarks/machine_bounds.py``: 16 independent FMA chains, each a vector as
wide as the tiles', nothing loaded). The full and tied families' stages are
then also given in GFLOP/s and as a share of it, from the multiply-adds they
must do (:func:`multiply_adds`; an FMA counts as 2 FLOPs). diag's operations
are subtractions and products, not multiply-adds, and get no share; nor does
``--dtype float32`` (full's scatter then multiplies in float32, against a bound
measured in float64).

Usage::

    python -m benchmarks.pass_stages --kinds full,tied,diag --d 16 --k 16
"""

import argparse
import statistics
import time

import numpy as np

STAGES = ("density", "exp", "statistics", "all three")


def multiply_adds(kind, d, k):
    """Return the multiply-adds per row of ``kind``'s density and statistics.

    full: per component, the triangular product and the squares (``d (d + 1) /
    2 + d``), and the scatter's lower triangle and first moments (the same
    count). tied: the shared triangular product and the ``k d`` distances; the
    first moments, the deviations from the weighted means (``k d`` each), and
    the within and between scatters' lower triangles. ``None`` for diag.
    """
    triangle = d * (d + 1) // 2
    if kind == "full":
        return k * (triangle + d), k * (triangle + d)
    if kind == "tied":
        return triangle + k * d, 2 * k * d + triangle + k * (k + 1) // 2
    return None


def _model(kind, d, k, dtype):
    from fastem._kernels import diag, full, tied

    rng = np.random.default_rng(0)
    means = rng.normal(size=(k, d)) * 3.0

    def factor():
        a = rng.normal(size=(d, d))
        covariance = a @ a.T / d + np.eye(d)
        return np.linalg.inv(np.linalg.cholesky(covariance)).T

    if kind == "diag":
        return diag, diag.prepare_model(means, rng.uniform(0.5, 1.5, size=(k, d)))
    if kind == "tied":
        return tied, tied.prepare_model(means, np.ascontiguousarray(factor()))
    chol = np.ascontiguousarray(np.stack([factor() for _ in range(k)]))
    return full, full.prepare_model(means, chol, dtype)


def _timer(module):
    """Compile the stage loop for one family (its hooks are globals of it)."""
    from fastem._config import jit
    from fastem._kernels._exp import exp_nonpositive
    from fastem._kernels._tile import aligned_zeros, prefer_wide_vectors

    density = module._log_density
    statistics_ = module._accumulate
    block = module.BLOCK

    @jit(cache=False)
    def run(model, n_features, log_norm, stats_size, stage, repeats):
        prefer_wide_vectors()
        n_components = log_norm.shape[0]
        xt = aligned_zeros(n_features, block)
        for j in range(n_features):
            for b in range(block):
                xt[j, b] = 3.0 * np.sin(7.0 * j + 0.37 * b)
        logp = aligned_zeros(n_components, block)
        prob = aligned_zeros(n_components, block)
        work = aligned_zeros(model.work_rows, block)
        lse = np.zeros(block)
        wt = np.ones(block)
        buffer = np.zeros(stats_size)
        for _ in range(repeats):
            if stage == 0 or stage == 3:
                density(model, xt, log_norm, work, logp)
            if stage == 1 or stage == 3:
                for c in range(n_components):
                    for b in range(block):
                        prob[c, b] = exp_nonpositive(logp[c, b] - lse[b])
            if stage == 2 or stage == 3:
                statistics_(model, xt, prob, prob, wt, work, buffer)
        return buffer[0] + prob[0, 0]

    return run, block


def _stage_flops(counts, stage):
    """FLOPs per row of a stage (0 for the exp, or without counts)."""
    if counts is None or STAGES[stage] == "exp":
        return 0
    density, statistics_ = counts
    chosen = {"density": density, "statistics": statistics_}
    return 2 * chosen.get(STAGES[stage], density + statistics_)


def main(argv=None):
    """Print one line per family and stage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="full,tied,diag")
    parser.add_argument("--d", type=int, default=16)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--rows", type=float, default=2e6)
    parser.add_argument("--ghz", type=float, default=3.6)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    args = parser.parse_args(argv)
    kinds = args.kinds.split(",")
    if unknown := set(kinds) - {"full", "tied", "diag"}:
        parser.error(f"--kinds: unknown {', '.join(sorted(unknown))}")
    if min(args.d, args.k) < 1 or args.rows < 1 or args.ghz <= 0:
        parser.error("--d, --k and --rows must be at least 1, --ghz positive")
    from benchmarks.machine_bounds import fma_bound

    bound = fma_bound()
    print(f"FMA bound: {bound:.1f} GFLOP/s on one core", flush=True)
    for kind in kinds:
        counts = (
            multiply_adds(kind, args.d, args.k) if args.dtype == "float64" else None
        )
        module, model = _model(kind, args.d, args.k, args.dtype)
        run, block = _timer(module)
        log_norm = np.zeros(args.k)
        size = module.stats_size(args.k, args.d)
        repeats = max(1, int(args.rows / block))
        for stage in range(len(STAGES)):
            run(model, args.d, log_norm, size, stage, 1)
        for stage, name in enumerate(STAGES):
            times = []
            for _ in range(5):
                start = time.perf_counter()
                run(model, args.d, log_norm, size, stage, repeats)
                times.append(time.perf_counter() - start)
            per_row = statistics.median(times) / (repeats * block)
            line = (
                f"{kind:4s} {args.dtype} d={args.d} k={args.k} {name:10s}: "
                f"{per_row * args.ghz * 1e9:7.1f} cycles/row ({per_row * 1e9:6.2f} ns)"
            )
            flops = _stage_flops(counts, stage)
            if flops:
                rate = flops / per_row / 1e9
                share = 100 * rate / bound
                line += f", {rate:5.1f} GFLOP/s ({share:.0f}% of the bound)"
            print(line, flush=True)


if __name__ == "__main__":
    main()
