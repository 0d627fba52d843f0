"""Speed-ups measured side by side: scikit-learn's time over fastem's, one call.

Read these rows first. Absolute times on a shared machine move by 1.3-1.6x
between asv rounds (scikit-learn's own, unchanged rows included), so
``asv continuous`` flags noise on them; a ratio of two times taken in the same
call, interleaved, cancels the drift both backends see alike. It cannot cancel
load that hurts one backend more than the other: with default threads on 2
shared cores, small fits of both libraries wait on their thread pools whenever
the other core is busy, each to its own degree, so the n=1e3 ratios still moved
up to 3x between two runs here while n=1e6 moved 0.3%.

Every ``track_speedup_*`` call runs scikit-learn and fastem alternately
(sklearn, fastem, sklearn, fastem, ...; ``time.perf_counter``, garbage collected
before each run), takes the median time of each backend and returns
``sklearn / fastem`` (unit ``x``: above 1, fastem is faster). asv assumes lower
is better for every ``track_`` value: on these rows ``asv compare`` and
``asv continuous`` list a *rise* of the speed-up under "got worse" and a fall
under "improved" (see benchmarks/README.md). Data: the suite's generated blobs
with d=8 features and k=8 clusters; default thread settings on both backends
(nothing limits either: what a user gets); JIT compilation in ``setup``.

- ``SpeedupIteration.track_speedup_em_iteration``: fixed work from the same
  start (``tol=0``, ``n_init=1``, ``max_iter`` iterations from the suite's
  common initial parameters or k-means centers; ``ITERATION_PLAN``), at n=1e3
  and 1e5 for every family and at n=1e6 for ``full``.
- ``SpeedupDefaultFit.track_speedup_fit_default``: a whole fit with default
  parameters (``random_state`` fixed) at n=1e3, initialisation included; each
  backend draws its own start (``bench_small.SmallFit.track_n_iter`` at the same
  size gives the iteration counts).

``python -m benchmarks.bench_speedup`` prints the same rows as a table, with
each backend's median time.
"""

import gc
import time

import numpy as np

from . import common

N_FEATURES = 8
N_COMPONENTS = 8
#: (max_iter of the fixed-work fit, alternating repeats per backend) by n. On a
#: busy 2-core machine scikit-learn's full fit at default threads took 0.6 s an
#: iteration at n=1e5 and 5.5 s at n=1e6: these keep a call under ~20 s there.
ITERATION_PLAN = {1_000: (10, 11), 100_000: (5, 3), 1_000_000: (1, 3)}
DEFAULT_FIT_REPEATS = 9


def alternate(run_sklearn, run_fastem, repeats):
    """Time the two callables alternately; return the medians (sklearn, fastem)."""
    times = ([], [])
    for _ in range(repeats):
        for run, samples in zip((run_sklearn, run_fastem), times, strict=True):
            gc.collect()
            start = time.perf_counter()
            run()
            samples.append(time.perf_counter() - start)
    return float(np.median(times[0])), float(np.median(times[1]))


class _Speedup:
    unit = "x"
    # The repeats happen inside the call; one asv process per row.
    rounds = 1
    repeat = 1
    number = 1
    warmup_time = 0.0
    timeout = 600.0

    def _prepare(self, family, n):
        common.require("fastem", common.family_name(family))
        self.family = family
        self.X = common.blobs(n, N_FEATURES, N_COMPONENTS)
        self.start = common.common_start(family, self.X, N_COMPONENTS)

    def speedup(self):
        """Return (sklearn median, fastem median) seconds of :meth:`run`."""
        return alternate(
            lambda: self.run("sklearn"), lambda: self.run("fastem"), self.repeats
        )


class SpeedupIteration(_Speedup):
    """Fixed iterations from the same start: scikit-learn time / fastem time."""

    params = (common.FAMILIES, list(ITERATION_PLAN))
    param_names = ["family", "n"]

    def setup(self, family, n):
        if n >= 1_000_000 and family != "full":
            raise NotImplementedError("n=1e6: full only (time per call)")
        self._prepare(family, n)
        self.max_iter, self.repeats = ITERATION_PLAN[n]
        small = self.X[:4096]
        for backend in ("sklearn", "fastem"):  # JIT compilation, first touch
            common.fit_fixed(backend, family, small, self.start, 2)

    def run(self, backend):
        common.fit_fixed(backend, self.family, self.X, self.start, self.max_iter)

    def track_speedup_em_iteration(self, family, n):
        sklearn_time, fastem_time = self.speedup()
        return sklearn_time / fastem_time


class SpeedupDefaultFit(_Speedup):
    """A whole default fit at n=1000: scikit-learn time / fastem time."""

    params = (common.FAMILIES, [1_000])
    param_names = ["family", "n"]
    repeats = DEFAULT_FIT_REPEATS

    def setup(self, family, n):
        self._prepare(family, n)
        for backend in ("sklearn", "fastem"):  # JIT compilation, first touch
            self.run(backend)

    def run(self, backend):
        common.fit_default(backend, self.family, self.X, N_COMPONENTS)

    def track_speedup_fit_default(self, family, n):
        sklearn_time, fastem_time = self.speedup()
        return sklearn_time / fastem_time


def main():
    """Print every row as a markdown table (one process; no asv needed)."""
    print("| benchmark | family | n | sklearn | fastem | speed-up |")
    print("|---|---|---|---|---|---|")
    for cls, what in (
        (SpeedupIteration, "em_iteration"),
        (SpeedupDefaultFit, "fit_default"),
    ):
        for family in cls.params[0]:
            for n in cls.params[1]:
                bench = cls()
                try:
                    bench.setup(family, n)
                except NotImplementedError:
                    continue
                sklearn_time, fastem_time = bench.speedup()
                print(
                    f"| {what} | {family} | {n} | {sklearn_time * 1e3:.1f} ms "
                    f"| {fastem_time * 1e3:.1f} ms "
                    f"| {sklearn_time / fastem_time:.2f}x |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
