"""float32 arithmetic for float32 data, where a proven error bound allows it.

For float32 data the full family's scatter products run in float32:
``sqrt(r) (x - mu)`` is formed in float64 and rounded to float32 once, and the
register tiles of :mod:`._tile` multiply and add ``2 WIDTH`` float32 lanes (16
with AVX-512) where float64 fills ``WIDTH``. Each lane sums ``block / (2
WIDTH)`` products of a block's rows (8 for the 128-row blocks with AVX-512),
the lanes are folded pairwise in float32 (``log2(2 WIDTH)`` adds), and the
four sums of a tile are widened exactly: every further sum (over blocks,
chunks) is float64.

Error bound
-----------
With ``u = 2^-24`` (float32's unit roundoff) and ``v_b = sqrt(r_b) (x_b - mu)``
exact, the float32 values are ``v_bi (1 + d_bi)`` with ``|d_bi| <= u``. A term
``v_bi v_bj`` then meets at most ``m = block / (2 WIDTH) + log2(2 WIDTH)``
roundings on its way to the widened sum (one per fused multiply-add of its
lane, one per fold), so (Higham, *Accuracy and Stability of Numerical
Algorithms*, 2nd ed., SIAM, 2002, sec. 3.1, with ``gamma_n = n u / (1 - n
u)``) each entry of a block's scatter is off by at most

    (gamma_m + 2 u + u^2) (1 + gamma_m) sum_b |v_bi v_bj|,

plus float64 rounding (about ``1e-16`` relative, with the same terms). By
Cauchy-Schwarz ``sum_b |v_bi v_bj| <= sqrt(S_ii S_jj)``, with ``S`` the exact
scatter. With AVX-512 (``m = 12``) that is

    |S_ij (computed) - S_ij| <= 14.0 u sqrt(S_ii S_jj) = 8.4e-7 sqrt(S_ii S_jj)

for every block, and for their sum (Cauchy-Schwarz again, over the blocks;
the float64 sums add about ``1e-16`` per block, relative). Without AVX-512 (8
float32 lanes, ``m = 19``) the factor is ``21 u = 1.25e-6``;
:func:`scatter_error_factor` gives it for a block size and this machine's
width. That is the scatter about the current means; the covariance
``S / N - delta delta^T`` (``delta`` the mean's shift) has the same absolute
error over ``N``: within ``8.4e-7 (Sigma_ii + delta_i^2)^(1/2) (Sigma_jj +
delta_j^2)^(1/2)``, float32's rounding of the stored result being ``6e-8``.

Subnormal results are flushed to zero while the statistics run
(:func:`flush_subnormals`): operands ``|v_bi| < 2^-126`` become 0, and so do
sums that would fall below it, which adds at most ``2^-126 (|v_bi| + |v_bj| +
m)`` per row to the bound's absolute error. Overflow (``|v| >`` about ``1e18``,
where 16 products' sum passes float32's ``3.4e38``) is not bounded: the
caller (``fastem.kernels``) finds non-finite statistics and runs the pass
again in float64 arithmetic.

What stays float64, and why:

- the log-densities and responsibilities: a float32 Mahalanobis distance's
  proven bound is near ``1e-4`` in the log-density at d=16 (its products'
  rounding against the distance's size), too wide for the responsibilities'
  float32 tolerances;
- the counts and first moments (they cancel near the mean);
- the diag and spherical statistics and the tied family's: one product per
  value formed, where rounding each value to float32 costs what the float32
  products save (the full scatter forms ``d`` values for ``d (d + 1) / 2``
  products).
"""

import numpy as np
from llvmlite import binding, ir
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload

from .._config import hook_options
from ._tile import WIDTH

#: float32's unit roundoff.
UNIT_ROUNDOFF = 2.0**-24


def arithmetic(dtype):
    """Return the marker of the scatter's arithmetic for data of ``dtype``.

    A zero of type float32 for float32 data, float64 otherwise: a family's
    prepared parameters carry it, so that its type (not a value tested per
    block) selects the compiled code. A scalar, not an array: passing an array
    to a helper inside a loop costs reference counting that stops the loop
    from being vectorised.
    """
    single = np.dtype(dtype) == np.float32
    return np.float32(0.0) if single else np.float64(0.0)


def scatter_error_factor(block):
    """``c`` with ``|S_ij (float32 path) - S_ij| <= c sqrt(S_ii S_jj)``.

    Parameters
    ----------
    block : int
        Rows per block of the family's pass.
    """
    u = UNIT_ROUNDOFF
    lanes = 2 * WIDTH
    m = block // lanes + lanes.bit_length() - 1  # roundings on a term's path
    gamma = m * u / (1 - m * u)
    return (gamma + 2 * u + u * u) * (1 + gamma) + 1e-15


def product_rows(rows, marker):
    """``rows`` as the scatter's operand of ``marker``'s dtype (compiled code only).

    float64 rows as they are; for a float32 ``marker``, a float32 array of the
    same shape over the first half of ``rows``' memory (C-contiguous: its row
    ``i`` starts ``i`` float32 rows, half as many bytes as ``rows``' row
    ``i``, after the first), which the caller fills.
    """
    raise NotImplementedError


@overload(product_rows, jit_options=hook_options())
def _ol_product_rows(rows, marker):
    if marker == types.float32:

        def as_single(rows, marker):
            n_rows, n_columns = rows.shape
            return rows.view(np.float32).reshape(2 * n_rows, n_columns)[:n_rows]

        return as_single
    return lambda rows, marker: rows


#: MXCSR's flush-to-zero bit: subnormal results of SSE/AVX operations become 0.
FLUSH_TO_ZERO = 0x8000


def _x86():
    return binding.get_default_triple().startswith(("x86_64", "i686", "i386"))


#: Numba does not set up LLVM's assembly parser, which inline assembly needs,
#: and needs again whenever code holding it is linked into a new function (a
#: cached hook called from freshly compiled code), not only when it is first
#: emitted: it is set up at import, on x86 (idempotent, microseconds).
X86 = _x86()
if X86:
    binding.initialize_native_asmparser()


def _mxcsr(builder, instruction, slot):
    """Emit ``instruction`` (``ldmxcsr`` or ``stmxcsr``) on the i32 at ``slot``.

    Inline assembly with a memory clobber rather than LLVM's MXCSR intrinsics
    (which only touch their argument's memory): no load or store of the arrays
    moves across it, so the statistics' arithmetic, whose operands are all
    loaded after it, runs under the new state.
    """
    pointer = builder.bitcast(slot, ir.IntType(8).as_pointer())
    kind = ir.FunctionType(ir.VoidType(), [pointer.type])
    builder.asm(kind, f"{instruction} ($0)", "r,~{memory}", [pointer], True)


@intrinsic
def _swap_float_state(typingctx, flush):
    """Set MXCSR's flush-to-zero bit if ``flush``; return the old MXCSR.

    Emitted only on x86 (elsewhere it returns 0 and changes nothing).
    """
    if flush != types.boolean:
        raise TypingError(f"_swap_float_state takes a bool; got {flush}")

    def codegen(context, builder, sig, args):
        if not X86:
            return ir.Constant(ir.IntType(64), 0)
        i32 = ir.IntType(32)
        slot = cgutils.alloca_once(builder, i32)
        _mxcsr(builder, "stmxcsr", slot)
        old = builder.load(slot)
        bit = builder.select(args[0], i32(FLUSH_TO_ZERO), i32(0))
        builder.store(builder.or_(old, bit), slot)
        _mxcsr(builder, "ldmxcsr", slot)
        return builder.zext(old, ir.IntType(64))

    return types.int64(flush), codegen


@intrinsic
def _restore_float_state(typingctx, state):
    """Load MXCSR from ``state`` (from :func:`_swap_float_state`); x86 only."""
    if state != types.int64:
        raise TypingError(f"_restore_float_state takes an int64; got {state}")

    def codegen(context, builder, sig, args):
        if X86:
            slot = cgutils.alloca_once(builder, ir.IntType(32))
            builder.store(builder.trunc(args[0], ir.IntType(32)), slot)
            _mxcsr(builder, "ldmxcsr", slot)
        return context.get_dummy_value()

    return types.void(state), codegen


def _single_model(model):
    return (
        isinstance(model, types.BaseNamedTuple)
        and "arithmetic" in model.instance_class._fields
        and model[model.instance_class._fields.index("arithmetic")] == types.float32
    )


def flush_subnormals(model):
    """Flush subnormal results to zero if ``model`` has float32 arithmetic.

    Returns the state for :func:`restore_subnormals`, which the caller calls
    when its float32 products are done (compiled code only): the full family's
    statistics bracket their float32 part with the two, once per block, past 4
    features (up to 4 they are float64, and a switch per block for nothing had
    cost 1-6%). The float32 scatter's operands ``sqrt(r) (x - mu)`` of far
    components (``r`` down to 1e-300) and their products fall in float32's
    subnormal range, where every operation costs a microcoded assist (a block's
    statistics took 30 times as long); flushed, they are zeros, which changes
    each scatter entry by at most ``2^-126 (|v_bi| + |v_bj| + m)`` per row (see
    the module's bound). The float64 first moments summed alongside are flushed
    too below ``2.2e-308``. Only results are flushed: subnormal data are read
    exactly, and the densities, log-likelihood and weights are untouched. The
    hooks raise nothing (a Ctrl-C waits for the compiled pass to return); only
    an exception inside them, possible with ``NUMBA_BOUNDSCHECK=1``, would skip
    the restore and leave the thread flushing.
    """
    raise NotImplementedError


def restore_subnormals(model, state):
    """Restore the floating-point state saved by :func:`flush_subnormals`."""
    raise NotImplementedError


@overload(flush_subnormals, jit_options=hook_options())
def _ol_flush_subnormals(model):
    if _single_model(model):
        return lambda model: _swap_float_state(True)
    return lambda model: 0


@overload(restore_subnormals, jit_options=hook_options())
def _ol_restore_subnormals(model, state):
    if _single_model(model):
        return lambda model, state: _restore_float_state(state)
    return lambda model, state: None
