"""Software prefetch of one row of a 2-D array from numba kernels (LLVM ``llvm.prefetch``).

On a 10^6-ES lattice the per-ES records do not fit in cache; an active process writes the record of
the selected ES and the pool-row index of the ES moved within its rate bin.  Both addresses are
known right after the selection, so :func:`prefetch_row` starts their loads (for writing) while the
new state is drawn, instead of stalling the store queue later.  A hint only: no effect on results.
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def prefetch_row(typingctx, arr, row):
    """Prefetch, for writing, the cache line holding ``arr[row, 0]`` (2-D array, no bounds check)."""
    sig = types.void(arr, row)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        ptr = cgutils.get_item_pointer2(context, builder, ary.data, cgutils.unpack_tuple(builder, ary.shape),
                                        cgutils.unpack_tuple(builder, ary.strides), aryty.layout,
                                        [args[1], zero])
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(1), i32(3), i32(1)])   # write, keep, data
        return context.get_dummy_value()

    return sig, codegen
