"""Two probes behind the README's Dask section (not asv benchmarks).

``python -m benchmarks.dask_probes threads``
    Per-iteration time of a GaussianMixture fit on a Dask array (2e6 x 16,
    k=16, 8 blocks) with 1 and with 2 Numba threads per task, on three
    ``LocalCluster`` shapes (2 workers x 1 thread, 1 x 2, 1 x 1): the evidence
    for :func:`fastem._dask.task_threads`. Two rounds, interleaved; median.
``python -m benchmarks.dask_probes overhead``
    Dask's cost per pass: fastem's ``map_reduce`` of a no-op over 10, 100 and
    1,000 blocks on 2 workers x 1 thread, median of 7.
"""

import argparse
import statistics
import time
import warnings


def _cluster(n_workers, threads_per_worker):
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
    )


def _per_iteration(X, start, covariance_type, repeats=3):
    """Median of (fit with 6 iterations - fit with 1) / 5."""
    from fastem import GaussianMixture

    samples = []
    for _ in range(repeats):
        times = []
        for max_iter in (1, 6):
            model = GaussianMixture(
                16, covariance_type=covariance_type, tol=0, max_iter=max_iter, **start
            )
            began = time.perf_counter()
            model.fit(X)
            times.append(time.perf_counter() - began)
        samples.append((times[1] - times[0]) / 5)
    return statistics.median(samples)


def threads():
    import dask.array as da
    from distributed import Client

    import fastem._dask as fdask
    from fastem import GaussianMixture

    n, d, block = 2_000_000, 16, 250_000
    for shape in ((2, 1), (1, 2), (1, 1)):
        with _cluster(*shape) as cluster, Client(cluster):
            rows = da.random.RandomState(0).normal(size=(n, d), chunks=(block, d))
            X = (rows + (da.arange(n, chunks=block) % 4 * 3.0)[:, None]).persist()
            for covariance_type in ("full", "diag"):
                first = X[:50_000].compute()
                fitted = GaussianMixture(
                    16, covariance_type=covariance_type, max_iter=3, random_state=0
                ).fit(first)
                start = dict(
                    weights_init=fitted.weights_,
                    means_init=fitted.means_,
                    precisions_init=fitted.precisions_,
                )
                times = {1: [], 2: []}
                for _ in range(2):
                    for count in times:
                        fdask.TASK_THREADS = count
                        times[count].append(_per_iteration(X, start, covariance_type))
                fdask.TASK_THREADS = None
                print(
                    f"{shape[0]} worker(s) x {shape[1]} thread(s), {covariance_type}: "
                    f"1 Numba thread per task {1e3 * statistics.median(times[1]):.0f} "
                    f"ms/iter, 2: {1e3 * statistics.median(times[2]):.0f} ms/iter",
                    flush=True,
                )


def _noop(block, start):
    return 0.0


def overhead():
    import dask.array as da
    from distributed import Client

    import fastem._dask as fdask

    with _cluster(2, 1) as cluster, Client(cluster):
        for blocks in (10, 100, 1000):
            data = fdask.DaskData(da.zeros((blocks * 100, 4), chunks=(100, 4)))
            data.persist()
            fdask.map_reduce(data, _noop)
            samples = []
            for _ in range(7):
                began = time.perf_counter()
                fdask.map_reduce(data, _noop)
                samples.append(time.perf_counter() - began)
            took = statistics.median(samples)
            print(
                f"{blocks} blocks: {1e3 * took:.1f} ms per pass, "
                f"{1e3 * took / blocks:.2f} ms per block",
                flush=True,
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probe", choices=("threads", "overhead"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # ConvergenceWarning with tol=0
    {"threads": threads, "overhead": overhead}[args.probe]()


if __name__ == "__main__":
    main()
