/* Launchers of cl/pool.cl: max and average pooling over windows, and
 * global average pooling. */
#include "kernels.h"


clnet_status clnet_pool2d(clnet_context *ctx, clnet_op op_kind, const clnet_pool_geometry *g,
                          int batch, clnet_dview in, clnet_dview out, clnet_events *events) {
    const char *op = op_kind == CLNET_OP_MAXPOOL ? "maxpool2d" : "avgpool2d";
    if (!ctx || !g)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: context or geometry is NULL", op);
    if (op_kind != CLNET_OP_MAXPOOL && op_kind != CLNET_OP_AVGPOOL)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "pool2d: op %d is neither max nor average pooling", (int)op_kind);
    if (batch <= 0 || g->c <= 0 || g->in_h <= 0 || g->in_w <= 0 || g->out_h <= 0 ||
        g->out_w <= 0 || g->kh <= 0 || g->kw <= 0 || g->sh <= 0 || g->sw <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: batch %d, input %dx%dx%d, output %dx%d, window %dx%d and stride "
                          "%dx%d must all be positive",
                          op, batch, g->c, g->in_h, g->in_w, g->out_h, g->out_w, g->kh, g->kw,
                          g->sh, g->sw);
    if (g->pad_top < 0 || g->pad_left < 0 || g->pad_bottom < 0 || g->pad_right < 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: padding top %d, left %d, bottom %d, right %d must be non-negative",
                          op, g->pad_top, g->pad_left, g->pad_bottom, g->pad_right);
    CLNET_TRY(clnet_check_view(op, "input", in, batch, (long long)g->c * g->in_h * g->in_w));
    CLNET_TRY(clnet_check_view(op, "output", out, batch, (long long)g->c * g->out_h * g->out_w));

    cl_kernel kernel;
    if (g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->pad_top == 0 &&
        g->pad_left == 0 && 2 * g->out_h <= g->in_h && 2 * g->out_w <= g->in_w) {
        /* Whole 2x2 windows: the row kernel. */
        const char *name = op_kind == CLNET_OP_MAXPOOL ? "maxpool2x2" : "avgpool2x2";
        CLNET_TRY(clnet_context_kernel(ctx, "pool", "", name, &kernel));
        clnet_kernel_arg args[] = {
            CLNET_ARG(in.buf),  CLNET_ARG(in.offset),  CLNET_ARG(in.batch_stride),
            CLNET_ARG(out.buf), CLNET_ARG(out.offset), CLNET_ARG(out.batch_stride),
            CLNET_ARG(g->c),    CLNET_ARG(g->in_h),    CLNET_ARG(g->in_w),
            CLNET_ARG(g->out_h), CLNET_ARG(g->out_w),
        };
        size_t global[2] = {(size_t)g->out_h, (size_t)batch * (size_t)g->c};
        return clnet_launch(ctx, kernel, name, (int)(sizeof args / sizeof args[0]), args, 2,
                            global, NULL, events);
    }
    CLNET_TRY(clnet_context_kernel(ctx, "pool", "", op, &kernel));
    clnet_kernel_arg args[] = {
        CLNET_ARG(in.buf),     CLNET_ARG(in.offset),   CLNET_ARG(in.batch_stride),
        CLNET_ARG(out.buf),    CLNET_ARG(out.offset),  CLNET_ARG(out.batch_stride),
        CLNET_ARG(g->c),       CLNET_ARG(g->in_h),     CLNET_ARG(g->in_w),
        CLNET_ARG(g->out_h),   CLNET_ARG(g->out_w),    CLNET_ARG(g->kh),
        CLNET_ARG(g->kw),      CLNET_ARG(g->sh),       CLNET_ARG(g->sw),
        CLNET_ARG(g->pad_top), CLNET_ARG(g->pad_left),
    };
    size_t global[3] = {(size_t)g->out_w, (size_t)g->out_h, (size_t)batch * (size_t)g->c};
    return clnet_launch(ctx, kernel, op, (int)(sizeof args / sizeof args[0]), args, 3, global,
                        NULL, events);
}

clnet_status clnet_global_avgpool(clnet_context *ctx, int c, int hw, int batch, clnet_dview in,
                                  clnet_dview out, clnet_events *events) {
    const char *op = "global_avgpool";
    if (!ctx)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: context is NULL", op);
    if (c <= 0 || hw <= 0 || batch <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: channels %d, pixels %d and batch %d must be positive", op, c, hw,
                          batch);
    CLNET_TRY(clnet_check_view(op, "input", in, batch, (long long)c * hw));
    CLNET_TRY(clnet_check_view(op, "output", out, batch, c));

    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "pool", "", op, &kernel));
    clnet_kernel_arg args[] = {
        CLNET_ARG(in.buf),  CLNET_ARG(in.offset),  CLNET_ARG(in.batch_stride),
        CLNET_ARG(out.buf), CLNET_ARG(out.offset), CLNET_ARG(out.batch_stride),
        CLNET_ARG(c),       CLNET_ARG(hw),
    };
    size_t global[2] = {(size_t)c, (size_t)batch};
    return clnet_launch(ctx, kernel, op, (int)(sizeof args / sizeof args[0]), args, 2, global,
                        NULL, events);
}
