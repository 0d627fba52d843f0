"""The markdown report of a run: tables of medians, speed-ups and the machine."""

import statistics

from .backends import BGMM_INIT_PARAMS, CONVERGED_MAX_ITER, CONVERGED_TOL
from .data import REG_COVAR
from .memory import MEMORY_ITER
from .timing import (
    AGREEMENT_RTOL,
    FASTEM_THREADS,
    PROBE_ROWS,
    SKLEARN_THREADS,
    lower_bounds_difference,
)

_GMM_MEASURES = {
    "fit": "fit (max_iter={am})",
    "iteration": "one EM iteration",
    "predict_proba": "predict_proba",
    "score_samples": "score_samples",
    "estep": "fused E-step + statistics",
}
_BGMM_MEASURES = {
    "fit": "fit (max_iter={am})",
    "iteration": "one variational iteration",
    "predict_proba": "predict_proba",
    "score_samples": "score_samples",
}


def fmt_time(seconds):
    """Return seconds as ``12 us``, ``3.4 ms`` or ``5.67 s`` (``n/a`` for None).

    Examples
    --------
    >>> fmt_time(0.0123), fmt_time(2.5), fmt_time(None)
    ('12.3 ms', '2.50 s', 'n/a')
    """
    if seconds is None:
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_mib(nbytes):
    """Return bytes as ``1,234 MiB`` (``< 1 MiB``, ``n/a`` for None)."""
    if nbytes is None:
        return "n/a"
    if nbytes < 2**20:
        return "< 1 MiB"
    return f"{nbytes / 2**20:,.0f} MiB"


def _fmt_memory(measured):
    """Return a peak-memory cell: ``12 MiB (9.4% of X)`` (``n/a`` if missing).

    ``measured`` is a :func:`~.memory.measure_memory` result; the share of the
    data's size is shown when it holds ``data_bytes``.
    """
    delta = measured.get("delta")
    text = fmt_mib(delta)
    size = measured.get("data_bytes")
    if delta is not None and size:
        text += f" ({100 * max(delta, 0) / size:.1f}% of X)"
    return text


def _memory_ratio(sklearn_bytes, fastem_bytes):
    if sklearn_bytes is None or fastem_bytes is None:
        return "n/a"
    if fastem_bytes < 2**20:  # below the resolution of a ratio worth printing
        return f"> {max(sklearn_bytes, 0) / 2**20:,.0f}x less"
    return f"{sklearn_bytes / fastem_bytes:,.1f}x less"


def _median(values):
    return statistics.median(values) if values else None


def best_sklearn(per_config):
    """Return ``(median, threads)`` of the faster scikit-learn thread setting.

    ``per_config`` maps ``(backend, threads)`` to seconds; ``(None, None)`` when
    scikit-learn did not run.
    """
    best = None
    for (backend, count), values in per_config.items():
        if backend == "sklearn" and values:
            med = _median(values)
            if best is None or med < best[0]:
                best = (med, count)
    return best or (None, None)


def _speedup(slow, fast):
    if slow is None or fast is None or fast <= 0:
        return "n/a"
    return f"{slow / fast:.1f}x"


def _onedal_time(result, measure):
    """Return oneDAL's median seconds of ``measure`` in ``result`` (or ``None``)."""
    return _median(result.times.get(measure, {}).get(("onedal", FASTEM_THREADS), []))


def _onedal_cells(onedal=None, fastem=None):
    """Return a row's oneDAL cells: its time and fastem's speed-up (blank: none)."""
    if onedal is None:
        return "  |  |"
    return f" {fmt_time(onedal)} | {_speedup(onedal, fastem)} |"


def _has_onedal(results):
    return any(_onedal_time(r, "iteration") is not None for r in results)


def _case_label(result):
    case = result.case
    n, d, k = result.shape or (case.n, case.d, case.k)
    data = "" if case.data == "blobs" else f"{case.data} "
    kind = "k-means" if case.model == "kmeans" else case.covariance_type
    dtype = "f32" if case.dtype == "float32" else "f64"
    return f"{kind}, {data}n={n:,} d={d} k={k}, {dtype}"


def _preamble(run):
    a, m = run.warmup_iters, run.iters
    bgmm = ""
    if any(r.case.model == "bgmm" for r in run.results):
        bgmm = (
            " BayesianGaussianMixture, which takes no initial parameters, starts "
            f"on both from `init_params='{BGMM_INIT_PARAMS}'` with the same "
            "`random_state` (the same initial responsibilities)."
        )
    onedal = ""
    if _has_onedal(run.results):
        onedal = (
            " oneDAL (daal4py's `em_gmm`, 'full' and 'diag' GaussianMixture only) "
            "runs the same pair of fits in its own interpreter, a fresh process per "
            "repeat after the other backends' fits, from the same weights, means "
            "and covariances, with `accuracyThreshold=0` and 2 threads; its fit "
            "has no final E-step (scikit-learn's and fastem's have one, for "
            "`fit_predict`), so its iteration row is the like-for-like one. Its "
            f"`regularizationFactor` (set to reg_covar={REG_COVAR:g}) acts only on "
            "ill-conditioned covariances, so from the second iteration on its "
            "fits drift from the others, more with every iteration (see its "
            "agreement table)."
        )
    return [
        "### fastem vs scikit-learn",
        "",
        f"Command: `{run.command}`",
        "",
        "Medians of "
        f"{run.repeats} repeat(s), backends alternating within each repeat. Both "
        "backends start from the same parameters with `tol=0`, `n_init=1` and a "
        f"fixed `max_iter`; one iteration = (time at max_iter={a + m} - time at "
        f"max_iter={a}) / {m}.{bgmm} scikit-learn runs at its faster of 1 and 2 "
        "BLAS/OpenMP threads (shown; picked by the best of two 2-iteration probe "
        f"fits on the first {PROBE_ROWS:,} rows at each count, unless "
        "`--sklearn-threads both`), fastem on 2 "
        "numba threads. Peak memory = peak RSS minus RSS after loading the data "
        f"and warming up, during a fit with max_iter={MEMORY_ITER}, in a fresh "
        "process (with its share of the data's size, X). The quality tables "
        "compare the final `lower_bound_` and the largest relative difference "
        "between the two fits' `lower_bounds_`. k-means also runs a whole fit "
        f"to convergence from the same start (`tol={CONVERGED_TOL:g}`, "
        f"scikit-learn's default; `max_iter={CONVERGED_MAX_ITER}`), its time per "
        f"iteration being its time over its number of iterations.{onedal}",
        "",
    ]


def _agreement(res):
    """Return the quality table's ``lower_bounds_`` cell of ``res``."""
    worst = lower_bounds_difference(res.lower_bounds)
    if worst is None:
        return "n/a"
    verdict = "agree" if worst <= AGREEMENT_RTOL else "DIFFER"
    return f"{worst:.1e} ({verdict})"


def _mixture_tables(results, max_iter, estimator="GaussianMixture"):
    """Return a Gaussian mixture's timing table, then its quality table.

    GaussianMixture's get oneDAL's columns and agreement table when oneDAL ran.
    """
    measures = _GMM_MEASURES if estimator == "GaussianMixture" else _BGMM_MEASURES
    onedal = estimator == "GaussianMixture" and _has_onedal(results)
    lines = [
        f"| {estimator} | measure | scikit-learn | fastem | speed-up |"
        + (" oneDAL | fastem / oneDAL speed-up |" if onedal else ""),
        "|---|---|---:|---:|---:|" + ("---:|---:|" if onedal else ""),
    ]
    for res in results:
        label = _case_label(res)
        for measure, title in measures.items():
            per = res.times.get(measure)
            if not per:
                continue
            sk, sk_threads = best_sklearn(per)
            fe = _median(per.get(("fastem", FASTEM_THREADS), []))
            extra = _onedal_cells(_onedal_time(res, measure), fe) if onedal else ""
            lines.append(
                f"| {label} | {title.format(am=max_iter)} | "
                f"{fmt_time(sk)} ({sk_threads} thr) | {fmt_time(fe)} | "
                f"{_speedup(sk, fe)} |{extra}"
            )
            label = ""
        mem = res.memory
        if mem:
            sk_m = mem.get("sklearn", {})
            fe_m = mem.get("fastem", {})
            ratio = _memory_ratio(sk_m.get("delta"), fe_m.get("delta"))
            lines.append(
                f"| {label} | peak memory of fit | {_fmt_memory(sk_m)} | "
                f"{_fmt_memory(fe_m)} | {ratio} |" + (_onedal_cells() if onedal else "")
            )
    lines.append("")
    quality = [r for r in results if r.quality]
    if quality:
        lines += [
            "| quality | n_iter (sklearn / fastem) | lower_bound_ scikit-learn "
            "| lower_bound_ fastem | difference | lower_bounds_ max rel. diff "
            f"(rtol {AGREEMENT_RTOL:g}) | sklearn probe 1 / 2 thr |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for res in quality:
            sk, fe = res.quality.get("sklearn"), res.quality.get("fastem")
            diff = "n/a" if fe is None or sk is None else f"{fe - sk:+.2e}"
            fe_s = "n/a" if fe is None else f"{fe:.10f}"
            sk_s = "n/a" if sk is None else f"{sk:.10f}"
            probe = " / ".join(fmt_time(res.probe.get(t)) for t in SKLEARN_THREADS)
            lines.append(
                f"| {_case_label(res)} | {res.n_iter.get('sklearn', 'n/a')} / "
                f"{res.n_iter.get('fastem', 'n/a')} | {sk_s} | {fe_s} "
                f"| {diff} | {_agreement(res)} | {probe if res.probe else 'n/a'} |"
            )
        lines.append("")
    if estimator == "GaussianMixture":
        lines += _onedal_agreement([r for r in results if "onedal" in r.quality])
    return lines


def _onedal_agreement(results):
    """Return the table of oneDAL's fits against fastem's (empty: no oneDAL)."""
    if not results:
        return []
    lines = [
        "| oneDAL agreement | n_iter | oneDAL mean log-likelihood | minus fastem's "
        "lower_bound_ | means: max abs difference from fastem |",
        "|---|---|---:|---:|---:|",
    ]
    for res in results:
        ll, fe = res.quality["onedal"], res.quality.get("fastem")
        diff = "n/a" if fe is None else f"{ll - fe:+.2e}"
        means = res.means_difference.get("onedal")
        means = "n/a" if means is None else f"{means:.1e}"
        lines.append(
            f"| {_case_label(res)} | {res.n_iter['onedal']} | {ll:.10f} | {diff} "
            f"| {means} |"
        )
    lines.append("")
    return lines


def _kmeans_table(results, max_iter):
    lines = [
        "| KMeans | measure | scikit-learn | fastem | speed-up | faiss |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for res in results:
        label = _case_label(res)
        its = res.converged_n_iter
        titles = {
            "fit": f"fit (max_iter={max_iter})",
            "iteration": "one Lloyd iteration",
            "converged": (
                f"fit to convergence (tol={CONVERGED_TOL:g}; "
                f"{its.get('sklearn', 'n/a')} / {its.get('fastem', 'n/a')} it)"
            ),
            "converged iteration": "per iteration of that fit",
        }
        for measure, title in titles.items():
            per = res.times.get(measure, {})
            if not per:
                continue
            sk, sk_threads = best_sklearn(per)
            fe = _median(per.get(("fastem", FASTEM_THREADS), []))
            fa = _median(per.get(("faiss", FASTEM_THREADS), []))
            lines.append(
                f"| {label} | {title} | {fmt_time(sk)} ({sk_threads} thr) | "
                f"{fmt_time(fe)} | {_speedup(sk, fe)} | {fmt_time(fa)} |"
            )
            label = ""
        q = res.quality
        parts = [
            f"{b} {q[b]:.6e} ({res.n_iter[b]} it)"
            for b in ("sklearn", "fastem", "faiss")
            if b in q
        ]
        lines.append(f"| | inertia | {' / '.join(parts)} | | | |")
    lines.append("")
    return lines


def _compile_table(compile_times):
    times, reason = compile_times
    lines = [
        "| first use in a fresh process | import | first fit (2,000 x 4, full) "
        "| total |",
        "|---|---:|---:|---:|",
    ]
    for key, label in (
        ("fastem cold", "fastem, numba cache cold"),
        ("fastem warm", "fastem, numba cache warm"),
        ("sklearn", "scikit-learn"),
    ):
        runs = times.get(key) or []
        if not runs:
            lines.append(f"| {label} | n/a | n/a | n/a |")
            continue
        cells = [
            fmt_time(_median([r[p] for r in runs]))
            for p in ("import", "first_fit", "total")
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if reason:
        lines.append(f"\n({reason})")
    lines.append("")
    return lines


def render_markdown(run):
    """Return the report of ``run`` (a :class:`~.results.Run`) as markdown.

    Medians over repeats, scikit-learn at its faster thread count, speed-ups,
    peak memory, quality (lower bounds and their agreement, inertia), oneDAL
    where it ran, compile time, the backends skipped and the machine.
    """
    max_iter = run.warmup_iters + run.iters
    gmm = [r for r in run.results if r.case.model == "gmm"]
    bgmm = [r for r in run.results if r.case.model == "bgmm"]
    km = [r for r in run.results if r.case.model == "kmeans"]
    lines = _preamble(run)
    if gmm:
        lines += _mixture_tables(gmm, max_iter)
    if bgmm:
        lines += _mixture_tables(bgmm, max_iter, "BayesianGaussianMixture")
    if km:
        lines += _kmeans_table(km, max_iter)
    if run.compile_times:
        lines += _compile_table(run.compile_times)
    notes = sorted({n for r in run.results for n in r.notes})
    if notes:
        lines += ["Skipped: " + "; ".join(notes), ""]
    lines += ["Machine:", ""]
    lines += [f"- {key}: {value}" for key, value in run.machine.items()]
    lines.append("")
    return "\n".join(lines)
