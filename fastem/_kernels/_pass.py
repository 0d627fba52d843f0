"""The one fused pass of every Gaussian family: chunks, blocks, densities, stats.

Chunks of rows -> blocks -> log-densities -> log-sum-exp -> statistics.

:func:`em_pass` is the only loop over rows of the mixture kernels. A covariance
family (``full.py``, ``tied.py``, ``diag.py``) contributes two compiled
functions and its block size, registered with :func:`register_family` for the
named tuple type that carries its prepared parameters (its *model*, whose
``work_rows`` field sizes the family's scratch):

``log_density(model, xt, log_norm, work, logp)``
    ``logp[k, b] = log_norm[k] - 1/2 (Mahalanobis distance of row b to k)^2``
    for a block of rows stored transposed, ``xt[feature, row]``. ``work`` is
    the family's scratch, zeros of shape (``model.work_rows``, block) made once
    per call of the pass.
``accumulate(model, xt, wresp, prob, wt, work, buffer)``
    Add the block's statistics into ``buffer``, the chunk's flat float64
    statistics (the family's layout, unpacked by :mod:`fastem.kernels`).
    ``prob`` holds the responsibilities, ``wresp = prob * wt`` (the same array
    when the rows are unweighted).

The pass calls them through :func:`log_density` and :func:`accumulate`, which
Numba's ``overload`` resolves at compile time from the model's type, so each
family gets its own specialisation of the loop (as fast as a hand-written copy)
and every specialisation is cached on disk like any other kernel. One compiled
pass serves the fit (statistics), ``predict_proba``/``score_samples`` (per-row
outputs) and ``predict`` (labels): what is computed is chosen per call by the
sizes of the output arrays, at the cost of a branch per block.

Vector width: the pass and every hook begin with
:func:`._tile.prefer_wide_vectors`, so that LLVM vectorises their plain loops
as wide as the register tiles (512 bits with AVX-512, where its tuning would
keep them at 256).

Compile time: Numba types, lowers and optimises every jitted function on its own
(and its code again inside each caller), which costs far more than the same
lines written inline. The block loading, the log-sum-exp, the entropy and the
per-row outputs are therefore written out in :func:`em_pass` itself, and each
family's two hooks are single flat functions.

The E-step is the one of Bishop (2006), *Pattern Recognition and Machine
Learning*, sec. 9.2.2 (responsibilities from the log-sum-exp of the weighted
log-densities); ``log_norm`` carries every per-component term that does not
depend on the row (``log pi_k`` and the density's normaliser for a plain mixture;
the variational expectations for a Bayesian one).
"""

import numpy as np
from numba import types
from numba.extending import overload

from .._config import hook_options, jit, readonly
from ._exp import exp_nonpositive, log_at_least_one
from ._reduce import chunk_bounds
from ._tile import aligned_zeros, prefer_wide_vectors, transpose_rows

#: Family hooks by model type: ``{model_class: {hook_name: py_func, "block": rows}}``.
_FAMILIES = {}

#: Columns of the per-chunk totals: weighted log-likelihood, weighted entropy
#: term ``sum w r log r`` and total row weight.
TOTALS = 3


def register_family(model_class, *, block, log_density, accumulate):
    """Register a covariance family's compiled pieces for :func:`em_pass`.

    Parameters
    ----------
    model_class : type
        The ``collections.namedtuple`` class of the family's prepared
        parameters; it has an int field ``work_rows``.
    block : int
        Rows per block. A compile-time constant of the family's loop, so that
        LLVM knows the trip count of every loop over a block's rows.
    log_density, accumulate : function
        The family's functions (see the module docstring): plain Python
        functions in Numba's subset, or dispatchers (their ``py_func`` is
        used). They are compiled inside each pass that calls them, and
        should begin with :func:`._tile.prefer_wide_vectors` (their loops
        are vectorised on their own before the pass inlines them).
    """
    hooks = {"log_density": log_density, "accumulate": accumulate}
    _FAMILIES[model_class] = {
        name: getattr(function, "py_func", function) for name, function in hooks.items()
    }
    _FAMILIES[model_class]["block"] = int(block)


def _family_hook(model, name):
    if isinstance(model, types.BaseNamedTuple) and model.instance_class in _FAMILIES:
        return _FAMILIES[model.instance_class][name]
    return None


def block_rows(model):
    """Return the family's rows per block (compiled code only)."""
    raise NotImplementedError


def log_density(model, xt, log_norm, work, logp):
    """Dispatch to the family's ``log_density`` (compiled code only)."""
    raise NotImplementedError


def accumulate(model, xt, wresp, prob, wt, work, buffer):
    """Dispatch to the family's ``accumulate`` (compiled code only)."""
    raise NotImplementedError


# The overloads return the family's own Python functions (``py_func``), compiled
# once as the overload's implementation, inside the pass that calls them, with
# fastem's options. Calling the family's dispatchers from forwarding lambdas
# compiled both (twice the compile time). No ``cache=True`` here: the passes that
# use them are cached whole, and an overload's own cache would be read by Numba's
# plain cache, where a damaged file breaks the fit instead of recompiling (see
# fastem._cache).
_HOOK_OPTIONS = hook_options()


@overload(block_rows, jit_options=_HOOK_OPTIONS)
def _ol_block_rows(model):
    size = _family_hook(model, "block")
    if size is not None:
        return lambda model: size
    return None


@overload(log_density, jit_options=_HOOK_OPTIONS)
def _ol_log_density(model, xt, log_norm, work, logp):
    return _family_hook(model, "log_density")


@overload(accumulate, jit_options=_HOOK_OPTIONS)
def _ol_accumulate(model, xt, wresp, prob, wt, work, buffer):
    return _family_hook(model, "accumulate")


def pass_arguments(
    X,
    sample_weight,
    model,
    log_norm,
    *,
    n_chunks=1,
    stats_size=0,
    with_entropy=False,
    lse_out=None,
    resp_out=None,
    labels_out=None,
):
    """Return the arguments of :func:`em_pass` after its chunk range.

    The data and weights go read-only and the outputs not asked for as empty
    arrays, so every call of one family and data dtype has the same argument
    types (one compiled pass). ``stats`` (``n_chunks x stats_size``) and
    ``totals`` are new zeros; see :func:`em_pass` for the rest.
    """
    k = log_norm.shape[0]
    return (
        readonly(X),
        readonly(sample_weight),
        model,
        log_norm,
        np.zeros((n_chunks, stats_size)),
        np.zeros((n_chunks, TOTALS)),
        with_entropy,
        np.empty(0) if lse_out is None else lse_out,
        np.empty((0, k)) if resp_out is None else resp_out,
        np.empty(0, dtype=np.int64) if labels_out is None else labels_out,
    )


@jit
def em_pass(
    first,
    last,
    X,
    sample_weight,
    model,
    log_norm,
    stats,
    totals,
    with_entropy,
    lse_out,
    resp_out,
    labels_out,
):
    """E-step, statistics and per-row outputs of chunks ``first .. last - 1``.

    A serial, ``nogil`` kernel: :func:`fastem._config.run_chunks` runs it on
    ranges of chunks from several threads at once. Each chunk writes only its
    own rows of the outputs and its own row of ``stats`` and ``totals``.

    Parameters
    ----------
    first, last : int
        The half-open range of chunks to run.
    X : ndarray of shape (n_samples, n_features), float32 or float64
        C-contiguous data.
    sample_weight : ndarray of shape (n_samples,) or (0,), float64
        Row weights; length 0 means unit weights.
    model : named tuple
        A registered family's prepared parameters.
    log_norm : ndarray of shape (n_components,)
        Per-component additive constant of the log-densities.
    stats : ndarray of shape (n_chunks, stats_size), float64
        Zero on entry; each chunk's statistics buffer. ``stats_size`` 0 skips
        the statistics.
    totals : ndarray of shape (n_chunks, 3), float64
        Output, per chunk: ``sum_i w_i log p(x_i)``, the entropy term (0 unless
        ``with_entropy``) and ``sum_i w_i``. ``n_chunks`` (its length) is the
        number of chunks of the whole call (see :func:`._reduce.n_chunks_for`).
    with_entropy : bool
        Also accumulate ``sum_i w_i sum_k r_ik log r_ik``.
    lse_out : ndarray of shape (n_samples,) or (0,)
        Filled with ``log sum_k exp(logp_k)`` per row, unless it has no rows.
    resp_out : ndarray of shape (n_samples, n_components) or (0, n_components)
        Filled with the responsibilities, unless it has no rows.
    labels_out : ndarray of shape (n_samples,) or (0,), int64
        Filled with the index of the largest ``logp_k`` per row, unless empty.
    """
    prefer_wide_vectors()
    n_samples, n_features = X.shape
    n_fours = n_features - n_features % 4
    n_components = log_norm.shape[0]
    n_chunks = totals.shape[0]
    stats_size = stats.shape[1]
    weighted = sample_weight.shape[0] > 0
    block = block_rows(model)
    xt = aligned_zeros(n_features, block)
    wt = np.empty(block)
    lse = np.empty(block)
    scratch = np.empty(block)
    logp = aligned_zeros(n_components, block)
    prob = aligned_zeros(n_components, block)
    wresp = aligned_zeros(n_components, block) if weighted else prob
    work = aligned_zeros(model.work_rows, block)
    for chunk in range(first, last):
        start, stop = chunk_bounds(n_samples, n_chunks, chunk)
        buffer = stats[chunk]
        loglik = 0.0
        entropy = 0.0
        weight = 0.0
        for row in range(start, stop, block):
            count = min(block, stop - row)
            # The block, transposed, in float64: 4 x 4 blocks of whole rows,
            # the features past the last 4 of those rows, then the rows past
            # the last 4. Rows past the chunk's end repeat its first row with
            # weight 0: finite, contributing nothing.
            whole = count - count % 4
            for b in range(0, whole, 4):
                transpose_rows(X, row + b, xt, b)
            if n_fours < n_features:
                for b in range(whole):
                    for j in range(n_fours, n_features):
                        xt[j, b] = X[row + b, j]
            for b in range(whole, block):
                source = row + b if b < count else row
                for j in range(n_features):
                    xt[j, b] = X[source, j]
            for b in range(block):
                if b >= count:
                    wt[b] = 0.0
                elif weighted:
                    wt[b] = sample_weight[row + b]
                else:
                    wt[b] = 1.0
            log_density(model, xt, log_norm, work, logp)
            # Log-sum-exp and responsibilities. The row weights enter only the
            # log-likelihood, never the responsibilities (a subnormal weight
            # must not be divided out later).
            # The rows' largest log-density, ping-ponged between lse and
            # scratch: a maximum kept in place (stored back where it was read)
            # becomes masked vector stores, microcoded on AMD Zen (1.6 cycles
            # per value against about 0.3).
            for b in range(block):
                lse[b] = logp[0, b]
            top = lse
            out = scratch
            for k in range(1, n_components):
                for b in range(block):
                    value = logp[k, b]
                    out[b] = value if value > top[b] else top[b]
                top, out = out, top
            if n_components % 2 == 0:  # an odd number of sweeps: it is in scratch
                for b in range(block):
                    lse[b] = scratch[b]
            for b in range(block):
                scratch[b] = 0.0
            # Two components per sweep: two independent exp evaluations share
            # the polynomial's constants (15% faster per value than one).
            n_pairs = n_components - n_components % 2
            for k in range(0, n_pairs, 2):
                for b in range(block):
                    e0 = exp_nonpositive(logp[k, b] - lse[b])
                    e1 = exp_nonpositive(logp[k + 1, b] - lse[b])
                    prob[k, b] = e0
                    prob[k + 1, b] = e1
                    scratch[b] += e0 + e1
            for k in range(n_pairs, n_components):
                for b in range(block):
                    e = exp_nonpositive(logp[k, b] - lse[b])
                    prob[k, b] = e
                    scratch[b] += e
            block_loglik = 0.0
            for b in range(block):
                lse[b] += log_at_least_one(scratch[b])  # sum >= 1: exp(0) in it
                block_loglik += wt[b] * lse[b]
                scratch[b] = 1.0 / scratch[b]
            for k in range(n_components):
                for b in range(block):
                    prob[k, b] *= scratch[b]
            loglik += block_loglik
            for b in range(count):
                weight += wt[b]
            if count < block:  # padding rows take no responsibility
                for k in range(n_components):
                    for b in range(count, block):
                        prob[k, b] = 0.0
            if with_entropy:  # sum_b wt[b] sum_k prob log prob (0 log 0 = 0)
                # Each term is computed, then dropped where prob is 0 (where it
                # may be 0 * -inf): plain loads, where a branch gave masked ones.
                block_entropy = 0.0
                for k in range(n_components):
                    for b in range(block):
                        p = prob[k, b]
                        term = wt[b] * p * (logp[k, b] - lse[b])
                        block_entropy += term if p > 0.0 else 0.0
                entropy += block_entropy
            if stats_size > 0:
                if weighted:
                    for k in range(n_components):
                        for b in range(block):
                            wresp[k, b] = prob[k, b] * wt[b]
                accumulate(model, xt, wresp, prob, wt, work, buffer)
            if lse_out.shape[0] > 0:
                for b in range(count):
                    lse_out[row + b] = lse[b]
            if resp_out.shape[0] > 0:
                for b in range(count):
                    for k in range(n_components):
                        resp_out[row + b, k] = prob[k, b]
            if labels_out.shape[0] > 0:
                for b in range(count):
                    best = 0
                    for k in range(1, n_components):
                        if logp[k, b] > logp[best, b]:
                            best = k
                    labels_out[row + b] = best
        totals[chunk, 0] = loglik
        totals[chunk, 1] = entropy
        totals[chunk, 2] = weight
