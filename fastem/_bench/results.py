"""The record of a ``fastem bench`` run and its JSON form (``--json-out``)."""

from dataclasses import asdict, dataclass, field

from .cases import Case


@dataclass
class CaseResult:
    """Raw timings and quality numbers of one case.

    ``times[measure][(backend, threads)]`` is the list of seconds of each repeat;
    ``quality`` the final ``lower_bound_`` (Gaussian mixtures) or inertia (k-means)
    per backend, after ``n_iter`` iterations; ``lower_bounds`` (Gaussian
    mixtures) the ``lower_bounds_`` of that fit per backend; ``memory`` per
    backend, the result
    of :func:`~.memory.measure_memory`; ``probe`` the seconds of the scikit-learn
    thread probe per thread count; ``converged_n_iter`` (k-means) the iterations
    of the fit to convergence per backend; ``means_difference`` the largest
    absolute difference of a backend's final means from fastem's (oneDAL, whose
    fits give no ``lower_bounds_``).
    """

    case: Case
    shape: tuple = ()
    times: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)
    n_iter: dict = field(default_factory=dict)
    memory: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    probe: dict = field(default_factory=dict)
    converged_n_iter: dict = field(default_factory=dict)
    lower_bounds: dict = field(default_factory=dict)
    means_difference: dict = field(default_factory=dict)


@dataclass
class Run:
    """One run of ``fastem bench``: everything its report shows.

    ``warmup_iters`` and ``iters`` are ``a`` and ``m`` of the per-iteration time;
    ``compile_times`` is ``(times, reason)`` of :func:`~.compile_time.run_compile`,
    or ``None`` when compile time was not measured.
    """

    results: list
    compile_times: tuple | None
    machine: dict
    command: str
    warmup_iters: int
    iters: int
    repeats: int


def to_json(run):
    """Return ``run`` as JSON-ready data; :func:`from_json` inverts it."""
    out = {
        "command": run.command,
        "warmup_iters": run.warmup_iters,
        "iters": run.iters,
        "repeats": run.repeats,
        "machine": run.machine,
        "cases": [],
    }
    for res in run.results:
        out["cases"].append(
            {
                "case": asdict(res.case),
                "shape": list(res.shape),
                "times": {
                    measure: {f"{b}@{t}": v for (b, t), v in per.items()}
                    for measure, per in res.times.items()
                },
                "quality": res.quality,
                "n_iter": res.n_iter,
                "memory": res.memory,
                "notes": res.notes,
                "probe": res.probe,
                "converged_n_iter": res.converged_n_iter,
                "lower_bounds": res.lower_bounds,
                "means_difference": res.means_difference,
            }
        )
    if run.compile_times:
        out["compile"], out["compile_skipped"] = run.compile_times
    return out


def from_json(data):
    """Rebuild the :class:`Run` saved by :func:`to_json` (after a JSON round trip).

    Files written before ``converged_n_iter``, ``lower_bounds`` or
    ``means_difference`` were saved read back without them.
    """
    results = []
    for item in data["cases"]:
        case = dict(item["case"])
        case["measures"] = tuple(case["measures"])
        res = CaseResult(Case(**case), shape=tuple(item["shape"]))
        for measure, per in item["times"].items():
            for key, values in per.items():
                backend, _, count = key.partition("@")
                res.times.setdefault(measure, {})[(backend, int(count))] = values
        res.quality = item["quality"]
        res.n_iter = item["n_iter"]
        res.memory = item["memory"]
        res.notes = item["notes"]
        res.probe = {int(k): v for k, v in item.get("probe", {}).items()}
        res.converged_n_iter = item.get("converged_n_iter", {})
        res.lower_bounds = item.get("lower_bounds", {})
        res.means_difference = item.get("means_difference", {})
        results.append(res)
    compile_times = None
    if "compile" in data:
        compile_times = (data["compile"], data.get("compile_skipped"))
    return Run(
        results,
        compile_times,
        data["machine"],
        data["command"],
        data["warmup_iters"],
        data["iters"],
        data["repeats"],
    )
