"""A vectorisable ``exp`` and ``log`` for the log-sum-exp of the fused pass.

:func:`exp_nonpositive` takes the arguments a log-sum-exp produces (``<= 0``):
LLVM cannot vectorise calls to libm's ``exp``, and with one ``exp`` per row and
component it otherwise dominates the cheaper kernels. It flushes what would be
subnormal to 0 (see :data:`FLUSH_BELOW`): a responsibility under 3.3e-308 moves
no statistic (scikit-learn's ``N_k`` alone carries ``10 eps``), and the row's
log-sum-exp, whose largest term is 1, not at all.

:func:`log_at_least_one` takes the sums a log-sum-exp produces (``>= 1``: the
largest term is ``exp(0)``): one libm ``log`` per row was 9% of the diag pass.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .._config import jit

_SHIFTER = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer
_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238  # ln 2 with trailing zero bits: n * _LN2_HI is exact
_LN2_LO = 1.9082149292705877e-10  # ln 2 - _LN2_HI
#: Below it, ``exp`` returns 0: ``np.exp`` is under 3.3e-308 there, and its
#: subnormal results cost the multiplications that make them (and any product of
#: them later) a slow microcode assist: well-separated clusters put most far
#: components there, and the whole pass measured slower by 40% (diag), 18%
#: (tied) and 6-13% (full) at n=1e6, d=16, k=16.
FLUSH_BELOW = -708.0


@intrinsic
def _as_float(typingctx, bits):
    """Reinterpret the bits of an int64 as a float64."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _as_int(typingctx, value):
    """Reinterpret the bits of a float64 as an int64."""
    if value != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


# Only contraction: reassociation would undo the rounding trick and the split of
# ln 2 that keep the result within 1 ulp of ``np.exp``.
@jit(fastmath={"contract"})
def exp_nonpositive(x):
    """``exp(x)`` for ``x <= 0``, within 1 ulp of ``np.exp``, or 0; branch-free.

    ``x = n ln 2 + r`` with ``|r| <= ln 2 / 2``; ``exp(r)`` is its Taylor
    polynomial of degree 13 (truncation error below 1e-17, evaluated by Estrin's
    scheme) and ``2**n`` is built from its exponent bits. Below
    :data:`FLUSH_BELOW` (and for ``-inf``) the result is 0 where ``np.exp`` is
    under 3.3e-308, and no step computes a subnormal number. NaN stays NaN.
    Positive arguments up to about 709 are also exact.
    """
    # The argument clamped to FLUSH_BELOW (NaN kept), so that 2**n is normal:
    # n >= -1021, and p 2**n >= 2**-1022 since p >= 1/sqrt(2).
    z = FLUSH_BELOW if x < FLUSH_BELOW else x
    t = z * _LOG2E + _SHIFTER
    n = t - _SHIFTER
    r = z - n * _LN2_HI
    r = r - n * _LN2_LO
    # q(r) = sum_i r^i / (i + 2)! for i = 0..11 by Estrin's scheme (pairs, then
    # powers r^2 and r^4): five dependent multiply-adds instead of Horner's
    # twelve, so the vectorised loop is not held up by one long chain of
    # latencies (22% faster per value). r^2 q is below 0.07 next to 1 + r, so
    # the order of its terms moves only bits that the final sums round away
    # (still within 1 ulp of np.exp: test_exp_nonpositive_within_one_ulp_of_numpy).
    r2 = r * r
    r4 = r2 * r2
    q01 = 1.0 / 2.0 + r * (1.0 / 6.0)
    q23 = 1.0 / 24.0 + r * (1.0 / 120.0)
    q45 = 1.0 / 720.0 + r * (1.0 / 5040.0)
    q67 = 1.0 / 40320.0 + r * (1.0 / 362880.0)
    q89 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0)
    qab = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0)
    q03 = q01 + r2 * q23
    q47 = q45 + r2 * q67
    q8b = q89 + r2 * qab
    q = q03 + r4 * (q47 + r4 * q8b)
    p = 1.0 + (r + r2 * q)
    n_int = _as_int(t) - _as_int(_SHIFTER)
    value = p * _as_float((n_int + 1023) << 52)
    return 0.0 if x < FLUSH_BELOW else value


_MANTISSA = (1 << 52) - 1
_ONE_BITS = 1023 << 52
_SQRT2 = 1.4142135623730951
_HUGE = 1.7976931348623157e308


@intrinsic
def log_at_least_one(typingctx, s):
    """Return ``log(s)`` for ``s >= 1``, within 2 ulp of ``np.log``; branch-free.

    ``s = 2**e m`` with ``m`` in ``[1/sqrt(2), sqrt(2))`` (from the exponent
    and mantissa bits), and ``log(m) = 2 atanh(t)``, ``t = (m - 1) / (m + 1)``,
    ``|t| <= 0.1716``: the odd series ``2 t sum_i t^(2i) / (2i + 1)`` to
    ``t^21`` (the next term is below ``1e-18`` of the sum), evaluated by
    Estrin's scheme in ``t^2``. Then ``e ln 2`` is added in two parts, as the
    exp splits it. Valid for every positive normal ``s``; the pass calls it
    on ``s >= 1`` only. ``inf`` and NaN come back as they are. Below ``s = 2``
    the rounding of ``t`` (a division) and, from ``sqrt(2)``, the cancellation
    of ``ln 2 + log(m)`` reach 2 ulp; from 2 on, 1 ulp (measured on 900,000
    values).

    An intrinsic (its IR goes into the caller, every multiply-add an explicit
    fused one), not a jitted helper: a helper is compiled on its own and again
    inside each pass, which cost every family's pass 0.28 s of cold compile.
    Compiled code only.
    """
    if s != types.float64:
        return None

    def codegen(context, builder, signature, args):
        (value,) = args
        f64 = ir.DoubleType()
        i64 = ir.IntType(64)
        fma_type = ir.FunctionType(f64, [f64] * 3)
        fma_function = cgutils.get_or_insert_function(
            builder.module, fma_type, "llvm.fma.f64"
        )

        def fma(a, b, c):
            return builder.call(fma_function, [a, b, c])

        def const(x):
            return ir.Constant(f64, x)

        bits = builder.bitcast(value, i64)
        e = builder.sub(builder.ashr(bits, i64(52)), i64(1023))
        mantissa = builder.or_(builder.and_(bits, i64(_MANTISSA)), i64(_ONE_BITS))
        m = builder.bitcast(mantissa, f64)
        big = builder.fcmp_ordered(">", m, const(_SQRT2))
        m = builder.select(big, builder.fmul(m, const(0.5)), m)
        e = builder.select(big, builder.add(e, i64(1)), e)
        t = builder.fdiv(builder.fsub(m, const(1.0)), builder.fadd(m, const(1.0)))
        z = builder.fmul(t, t)
        z2 = builder.fmul(z, z)
        z4 = builder.fmul(z2, z2)
        # q = sum_{i=0..9} z^i / (2i + 3), by pairs, then powers of z: the
        # series is 1 + z q, and 2 t + 2 t z q keeps the small part apart.
        q01 = fma(z, const(1.0 / 5.0), const(1.0 / 3.0))
        q23 = fma(z, const(1.0 / 9.0), const(1.0 / 7.0))
        q45 = fma(z, const(1.0 / 13.0), const(1.0 / 11.0))
        q67 = fma(z, const(1.0 / 17.0), const(1.0 / 15.0))
        q89 = fma(z, const(1.0 / 21.0), const(1.0 / 19.0))
        q03 = fma(z2, q23, q01)
        q47 = fma(z2, q67, q45)
        q = fma(z4, fma(z4, q89, q47), q03)
        two_t = builder.fmul(const(2.0), t)
        log_m = fma(two_t, builder.fmul(z, q), two_t)
        n = builder.sitofp(e, f64)
        result = fma(n, const(_LN2_HI), fma(n, const(_LN2_LO), log_m))
        finite = builder.fcmp_ordered("<=", value, const(_HUGE))
        return builder.select(finite, result, value)

    return types.float64(types.float64), codegen
