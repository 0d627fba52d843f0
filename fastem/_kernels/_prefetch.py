"""A software prefetch of one row of a 2-d array, for rows read out of order.

Hamerly's bounds leave an irregular subset of the rows to be read; the hardware
prefetcher does not foresee that pattern, so the kernel asks for each such row a
few rows ahead of using it. A prefetch is only a hint: it never changes a
result, and it cannot fault.
"""

from llvmlite import ir
from numba.core import cgutils, types
from numba.core.extending import intrinsic

from .._config import jit

#: Bytes of a cache line on the x86-64 and arm64 cores fastem targets.
CACHE_LINE = 64


@intrinsic
def _prefetch_element(typingctx, array, row, column):
    """Prefetch the cache line holding ``array[row, column]`` (for reading)."""
    if not (
        isinstance(array, types.Array)
        and array.ndim == 2
        and isinstance(row, types.Integer)
        and isinstance(column, types.Integer)
    ):
        return None

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        indices = [
            context.cast(builder, value, kind, types.intp)
            for value, kind in zip(args[1:], signature.args[1:], strict=True)
        ]
        pointer = cgutils.get_item_pointer(
            context, builder, array_type, view, indices, wraparound=False
        )
        byte_pointer = ir.IntType(8).as_pointer()
        int32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32]),
            "llvm.prefetch.p0i8",
        )
        # read, high temporal locality, data cache
        builder.call(
            function,
            [
                builder.bitcast(pointer, byte_pointer),
                int32(0),
                int32(3),
                int32(1),
            ],
        )
        return context.get_dummy_value()

    return types.void(array, row, column), codegen


@jit
def prefetch_row(array, row):
    """Prefetch every cache line of ``array[row]`` (C-contiguous ``array``)."""
    n_columns = array.shape[1]
    step = max(1, CACHE_LINE // array.itemsize)
    for column in range(0, n_columns, step):
        _prefetch_element(array, row, column)
    _prefetch_element(array, row, n_columns - 1)
