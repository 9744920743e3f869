/* Launcher of the channel softmax of cl/softmax.cl. */
#include "kernels.h"


clnet_status clnet_softmax(clnet_context *ctx, int c, int hw, int batch, clnet_dview in,
                           clnet_dview out, clnet_events *events) {
    const char *op = "softmax";
    if (!ctx)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: context is NULL", op);
    if (c <= 0 || hw <= 0 || batch <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: channels %d, pixels %d and batch %d must be positive", op, c, hw,
                          batch);
    CLNET_TRY(clnet_check_view(op, "input", in, batch, (long long)c * hw));
    CLNET_TRY(clnet_check_view(op, "output", out, batch, (long long)c * hw));

    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "softmax", "", "softmax_channels", &kernel));
    clnet_kernel_arg args[] = {
        CLNET_ARG(in.buf),  CLNET_ARG(in.offset),  CLNET_ARG(in.batch_stride),
        CLNET_ARG(out.buf), CLNET_ARG(out.offset), CLNET_ARG(out.batch_stride),
        CLNET_ARG(c),       CLNET_ARG(hw),
    };
    size_t global[2] = {(size_t)hw, (size_t)batch};
    return clnet_launch(ctx, kernel, "softmax_channels", (int)(sizeof args / sizeof args[0]), args,
                        2, global, NULL, events);
}
