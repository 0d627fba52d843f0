"""Peak memory of one fit, measured in a fresh process.

The child (``python -m fastem._bench.memory SPEC``) loads the data, warms up on
the first rows, then reports its peak RSS during one fit minus its RSS before
that fit: the memory the fit itself needs.
"""

import gc
import json
import sys
import threading
from dataclasses import asdict

from .backends import threads
from .cases import Case, load_case_data
from .child import run_child
from .timing import case_start, fit_case

#: max_iter of the fit whose peak memory is measured.
MEMORY_ITER = 2


def _proc_status():
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values


class PeakRSS:
    """Peak resident set size from now on.

    On Linux the kernel's high-water mark is reset (``/proc/self/clear_refs``);
    elsewhere a thread samples the RSS every millisecond (a lower bound).
    ``baseline`` is the RSS at construction, ``method`` ``"VmHWM"`` or
    ``"sampled"``.
    """

    def __init__(self):
        self.method = "VmHWM"
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.baseline = _proc_status()["VmRSS"]
        except OSError:
            import psutil

            self.method = "sampled"
            self._proc = psutil.Process()
            self.baseline = self._peak = self._proc.memory_info().rss
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _sample(self):
        while not self._stop.wait(0.001):
            self._peak = max(self._peak, self._proc.memory_info().rss)

    def peak(self):
        """Return the peak RSS in bytes since construction (stops sampling)."""
        if self.method == "VmHWM":
            return _proc_status()["VmHWM"]
        self._stop.set()
        self._thread.join()
        return max(self._peak, self._proc.memory_info().rss)


def memory_worker(spec):
    """Fit once and return the peak RSS increase; run in a fresh process.

    ``spec`` is the dict built by :func:`measure_memory`.
    """
    case = Case(**{**spec["case"], "measures": tuple(spec["case"]["measures"])})
    backend, count, max_iter = spec["backend"], spec["threads"], spec["max_iter"]
    X = load_case_data(case, spec["data_dir"])
    start = case_start(case, X)
    with threads(backend, count):
        fit_case(case, backend, X[:4096], start, 2)  # warm-up (JIT)
        gc.collect()
        meter = PeakRSS()
        fit_case(case, backend, X, start, max_iter)
        peak = meter.peak()
    return {
        "baseline": meter.baseline,
        "peak": peak,
        "delta": peak - meter.baseline,
        "method": meter.method,
        "data_bytes": X.nbytes,
    }


def measure_memory(case, backend, count, max_iter=MEMORY_ITER, data_dir=None):
    """Peak RSS increase of one fit of ``case`` in a fresh process.

    Returns
    -------
    dict
        ``baseline``, ``peak`` and ``delta`` (bytes), ``method`` (see
        :class:`PeakRSS`) and ``data_bytes`` (the size of the data).
    """
    spec = {
        "case": asdict(case),
        "backend": backend,
        "threads": count,
        "max_iter": max_iter,
        "data_dir": None if data_dir is None else str(data_dir),
    }
    return run_child(["-m", "fastem._bench.memory", json.dumps(spec)])


if __name__ == "__main__":
    print(json.dumps(memory_worker(json.loads(sys.argv[1]))))
