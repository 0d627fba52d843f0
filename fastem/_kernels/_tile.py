"""A register-blocked multiply-add tile, written in LLVM IR.

LLVM vectorises Numba's loops one innermost loop at a time. For a small matrix
product that means either memory-resident partial sums (a load and a store per
multiply-add) or, when the reduction loop is innermost, vectorising that loop
with gathers. :func:`squared_tile` writes the tile that a BLAS micro-kernel would
use instead: eight 4-wide float64 accumulators held in registers across the
whole reduction, fed per step by two vector loads and four broadcasts, so that
the two FMA units stay busy (8 multiply-adds per cycle per core). The tile ends in
the full family's E-step: the squared distances it needs are added into the
log-densities straight from the registers (:func:`squared_tile`).

It is an ``@intrinsic``: its IR goes straight into the calling kernel, compiled
and cached with it.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

_F64 = ir.DoubleType()
_V4 = ir.VectorType(_F64, 4)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_ZERO4 = ir.Constant(_V4, [0.0] * 4)
#: Columns of the tile (two vectors) and rows (broadcast scalars).
TILE_COLUMNS = 8
TILE_ROWS = 4


def _splat(builder, value):
    """Return a 4-vector of ``value``."""
    vector = builder.insert_element(ir.Constant(_V4, ir.Undefined), value, _I32(0))
    mask = ir.Constant(ir.VectorType(_I32, 4), [0, 0, 0, 0])
    return builder.shuffle_vector(vector, ir.Constant(_V4, ir.Undefined), mask)


def _load4(builder, pointer):
    return builder.load(builder.bitcast(pointer, _V4.as_pointer()), align=8)


def _store4(builder, value, pointer):
    builder.store(value, builder.bitcast(pointer, _V4.as_pointer()), align=8)


def _row_pointer(context, builder, array_type, array, row):
    """Pointer to ``array[row, 0]`` (C-contiguous rows; strides are in bytes)."""
    view = context.make_array(array_type)(context, builder, array)
    stride = cgutils.unpack_tuple(builder, view.strides)[0]
    step = builder.sdiv(stride, _I64(8))
    return builder.gep(view.data, [builder.mul(row, step)]), step


def _c_float64(array, ndim):
    return (
        isinstance(array, types.Array)
        and array.dtype == types.float64
        and array.ndim == ndim
        and array.layout == "C"
    )


def _tile_sums(context, builder, columns, first, factors, depth):
    """Emit the tile's loop; return its 8 sums (``2 j``, ``2 j + 1``: 4 + 4 columns).

    The sums are zero when ``depth <= 0``.

    ``columns`` and ``factors`` are ``(type, value)`` pairs of 2-D arrays.
    """
    column_base, column_step = _row_pointer(context, builder, *columns, _I64(0))
    column_base = builder.gep(column_base, [first])
    factor_base, factor_step = _row_pointer(context, builder, *factors, _I64(0))
    fma = _fma(builder)
    entry = builder.block
    loop = builder.append_basic_block("tile.loop")
    done = builder.append_basic_block("tile.done")
    builder.cbranch(builder.icmp_signed(">", depth, _I64(0)), loop, done)
    builder.position_at_end(loop)
    i = builder.phi(_I64)
    i.add_incoming(_I64(0), entry)
    sums = []
    for _ in range(2 * TILE_ROWS):
        phi = builder.phi(_V4)
        phi.add_incoming(_ZERO4, entry)
        sums.append(phi)
    column = builder.gep(column_base, [builder.mul(i, column_step)])
    low = _load4(builder, column)
    high = _load4(builder, builder.gep(column, [_I64(4)]))
    factor = builder.gep(factor_base, [builder.mul(i, factor_step)])
    updated = []
    for j in range(TILE_ROWS):
        u = _splat(builder, builder.load(builder.gep(factor, [_I64(j)])))
        updated.append(builder.call(fma, [low, u, sums[2 * j]]))
        updated.append(builder.call(fma, [high, u, sums[2 * j + 1]]))
    i_next = builder.add(i, _I64(1))
    i.add_incoming(i_next, loop)
    for phi, value in zip(sums, updated, strict=True):
        phi.add_incoming(value, loop)
    builder.cbranch(builder.icmp_signed("<", i_next, depth), loop, done)
    builder.position_at_end(done)
    totals = []
    for value in updated:  # zero when the loop did not run (depth <= 0)
        phi = builder.phi(_V4)
        phi.add_incoming(_ZERO4, entry)
        phi.add_incoming(value, loop)
        totals.append(phi)
    return totals


def _fma(builder):
    return cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(_V4, [_V4, _V4, _V4]), "llvm.fma.v4f64"
    )


@intrinsic
def squared_tile(typingctx, columns, first, factors, depth, offsets, out):
    """Add ``sum_j (sum_i columns[i, c] factors[i, j] - offsets[j])^2`` into ``out``.

    For the 8 consecutive columns ``c = first .. first + 7`` of ``columns`` and
    the 4 columns ``j`` of ``factors``, with ``i`` over the first ``depth`` rows
    (none when ``depth <= 0``): ``out[c - first] += ...``. Compiled code only.
    Nothing is bounds-checked: the caller guarantees the sizes below.

    Parameters
    ----------
    columns : ndarray of shape (>= depth, >= first + 8), float64, C-contiguous
    first : int64
    factors : ndarray of shape (>= depth, 4), float64, C-contiguous
        ``factors[i, j]``.
    depth : int64
    offsets : ndarray of shape (4,), float64, C-contiguous
    out : ndarray of shape (8,), float64, C-contiguous
    """
    arrays = (columns, 2), (factors, 2), (offsets, 1), (out, 1)
    if not all(_c_float64(array, ndim) for array, ndim in arrays):
        raise TypingError(
            "squared_tile takes C-contiguous float64 arrays: columns and factors "
            f"2-D, offsets and out 1-D; got {columns}, {factors}, {offsets}, {out}"
        )
    if first != types.int64 or depth != types.int64:
        raise TypingError(
            f"squared_tile takes int64 first, depth; got {first}, {depth}"
        )
    signature = types.void(columns, first, factors, depth, offsets, out)

    def codegen(context, builder, sig, args):
        columns_v, first_v, factors_v, depth_v, offsets_v, out_v = args
        sums = _tile_sums(
            context,
            builder,
            (sig.args[0], columns_v),
            first_v,
            (sig.args[2], factors_v),
            depth_v,
        )
        fma = _fma(builder)
        offsets_ptr = context.make_array(sig.args[4])(context, builder, offsets_v).data
        out_ptr = context.make_array(sig.args[5])(context, builder, out_v).data
        total_low = _load4(builder, out_ptr)
        total_high = _load4(builder, builder.gep(out_ptr, [_I64(4)]))
        for j in range(TILE_ROWS):
            offset = _splat(builder, builder.load(builder.gep(offsets_ptr, [_I64(j)])))
            y_low = builder.fsub(sums[2 * j], offset)
            y_high = builder.fsub(sums[2 * j + 1], offset)
            total_low = builder.call(fma, [y_low, y_low, total_low])
            total_high = builder.call(fma, [y_high, y_high, total_high])
        _store4(builder, total_low, out_ptr)
        _store4(builder, total_high, builder.gep(out_ptr, [_I64(4)]))
        return context.get_dummy_value()

    return signature, codegen
