/* Launchers of the element-wise kernels of cl/elementwise.cl: batch
 * normalisation, ReLU, clip, sigmoid, binary arithmetic and copy into a slice. */
#include "kernels.h"

#include <math.h>

/* The checks every element-wise launch starts with: a context and positive
 * sizes. */
static clnet_status check_sizes(const char *op, const clnet_context *ctx, int c, int hw,
                                int batch) {
    if (!ctx)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: context is NULL", op);
    if (c <= 0 || hw <= 0 || batch <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: channels %d, pixels %d and batch %d must be positive", op, c, hw,
                          batch);
    return CLNET_STATUS_OK;
}

clnet_status clnet_batchnorm(clnet_context *ctx, int c, int hw, int batch, clnet_dview in,
                             clnet_dview out, cl_mem scale, cl_mem shift, int relu,
                             clnet_events *events) {
    const char *op = "batchnorm";
    CLNET_TRY(check_sizes(op, ctx, c, hw, batch));
    CLNET_TRY(clnet_check_view(op, "input", in, batch, (long long)c * hw));
    CLNET_TRY(clnet_check_view(op, "output", out, batch, (long long)c * hw));
    CLNET_TRY(clnet_check_extent(op, "scale", scale, c));
    CLNET_TRY(clnet_check_extent(op, "shift", shift, c));

    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "elementwise", "", "batchnorm_inference", &kernel));
    clnet_kernel_arg args[] = {
        CLNET_ARG(in.buf),  CLNET_ARG(in.offset),  CLNET_ARG(in.batch_stride),
        CLNET_ARG(out.buf), CLNET_ARG(out.offset), CLNET_ARG(out.batch_stride),
        CLNET_ARG(scale),   CLNET_ARG(shift),      CLNET_ARG(hw),
        CLNET_ARG(relu),
    };
    size_t global[3] = {(size_t)hw, (size_t)c, (size_t)batch};
    return clnet_launch(ctx, kernel, "batchnorm_inference", (int)(sizeof args / sizeof args[0]),
                        args, 3, global, NULL, events);
}

clnet_status clnet_relu(clnet_context *ctx, int c, int hw, int batch, clnet_dview in,
                        clnet_dview out, clnet_events *events) {
    const char *op = "relu";
    CLNET_TRY(check_sizes(op, ctx, c, hw, batch));
    CLNET_TRY(clnet_check_view(op, "input", in, batch, (long long)c * hw));
    CLNET_TRY(clnet_check_view(op, "output", out, batch, (long long)c * hw));

    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "elementwise", "", "relu", &kernel));
    int count = c * hw; /* below 2^31: check_view bounded the view's end */
    clnet_kernel_arg args[] = {
        CLNET_ARG(in.buf),  CLNET_ARG(in.offset),  CLNET_ARG(in.batch_stride),
        CLNET_ARG(out.buf), CLNET_ARG(out.offset), CLNET_ARG(out.batch_stride),
        CLNET_ARG(count),
    };
    size_t global[2] = {(size_t)count, (size_t)batch};
    return clnet_launch(ctx, kernel, op, (int)(sizeof args / sizeof args[0]), args, 2, global,
                        NULL, events);
}

/* A unary kernel over `count` elements per image, the launch clip and
 * sigmoid share; extra holds the kernel's arguments after count. */
static clnet_status launch_unary(clnet_context *ctx, const char *op, int count, int batch,
                                 clnet_dview in, clnet_dview out, int n_extra,
                                 const clnet_kernel_arg *extra, clnet_events *events) {
    CLNET_TRY(check_sizes(op, ctx, 1, count, batch));
    CLNET_TRY(clnet_check_view(op, "input", in, batch, count));
    CLNET_TRY(clnet_check_view(op, "output", out, batch, count));

    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "elementwise", "", op, &kernel));
    clnet_kernel_arg args[9] = {
        CLNET_ARG(in.buf),  CLNET_ARG(in.offset),  CLNET_ARG(in.batch_stride),
        CLNET_ARG(out.buf), CLNET_ARG(out.offset), CLNET_ARG(out.batch_stride),
        CLNET_ARG(count),
    };
    int n_args = 7;
    for (int k = 0; k < n_extra && n_args < (int)(sizeof args / sizeof args[0]); k++)
        args[n_args++] = extra[k];
    size_t global[2] = {(size_t)count, (size_t)batch};
    return clnet_launch(ctx, kernel, op, n_args, args, 2, global, NULL, events);
}

clnet_status clnet_clip(clnet_context *ctx, int count, int batch, clnet_dview in, clnet_dview out,
                        float lo, float hi, clnet_events *events) {
    if (isnan(lo) || isnan(hi) || lo > hi)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clip: bounds [%g, %g] must be ordered numbers", (double)lo,
                          (double)hi);
    clnet_kernel_arg bounds[2] = {CLNET_ARG(lo), CLNET_ARG(hi)};
    return launch_unary(ctx, "clip", count, batch, in, out, 2, bounds, events);
}

clnet_status clnet_sigmoid(clnet_context *ctx, int count, int batch, clnet_dview in,
                           clnet_dview out, clnet_events *events) {
    return launch_unary(ctx, "sigmoid", count, batch, in, out, 0, NULL, events);
}

clnet_status clnet_binary(clnet_context *ctx, clnet_op op_kind, int count, int batch,
                          clnet_dview a, clnet_dview b, clnet_dview out, int relu,
                          clnet_events *events) {
    /* The kernels of cl/elementwise.cl are named after the ops. */
    if (op_kind != CLNET_OP_ADD && op_kind != CLNET_OP_MULTIPLY && op_kind != CLNET_OP_SUBTRACT)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "binary: op %d (%s) is not add, multiply or subtract", (int)op_kind,
                          clnet_op_name(op_kind));
    const char *op = clnet_op_name(op_kind);
    CLNET_TRY(check_sizes(op, ctx, 1, count, batch));
    CLNET_TRY(clnet_check_view(op, "first input", a, batch, count));
    CLNET_TRY(clnet_check_view(op, "second input", b, batch, count));
    CLNET_TRY(clnet_check_view(op, "output", out, batch, count));

    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "elementwise", "", op, &kernel));
    clnet_kernel_arg args[] = {
        CLNET_ARG(a.buf),   CLNET_ARG(a.offset),   CLNET_ARG(a.batch_stride),
        CLNET_ARG(b.buf),   CLNET_ARG(b.offset),   CLNET_ARG(b.batch_stride),
        CLNET_ARG(out.buf), CLNET_ARG(out.offset), CLNET_ARG(out.batch_stride),
        CLNET_ARG(count),   CLNET_ARG(relu),
    };
    size_t global[2] = {(size_t)count, (size_t)batch};
    return clnet_launch(ctx, kernel, op, (int)(sizeof args / sizeof args[0]), args, 2, global,
                        NULL, events);
}

clnet_status clnet_copy(clnet_context *ctx, int count, int batch, clnet_dview in, clnet_dview out,
                        clnet_events *events) {
    const char *op = "copy";
    CLNET_TRY(check_sizes(op, ctx, 1, count, batch));
    CLNET_TRY(clnet_check_view(op, "input", in, batch, count));
    CLNET_TRY(clnet_check_view(op, "output", out, batch, count));

    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "elementwise", "", "copy", &kernel));
    clnet_kernel_arg args[] = {
        CLNET_ARG(in.buf),  CLNET_ARG(in.offset),  CLNET_ARG(in.batch_stride),
        CLNET_ARG(out.buf), CLNET_ARG(out.offset), CLNET_ARG(out.batch_stride),
        CLNET_ARG(count),
    };
    size_t global[2] = {(size_t)count, (size_t)batch};
    return clnet_launch(ctx, kernel, op, (int)(sizeof args / sizeof args[0]), args, 2, global,
                        NULL, events);
}
