/* Launcher of the fully connected kernel of cl/dense.cl. */
#include "kernels.h"

#include <stdio.h>

/* Work-items per output element; a power of two no larger than the device's
 * work-group limit. 64 lets GPUs hide memory latency; CPUs run work-items
 * one after another, so a smaller group saves reduction steps there. */
static int dense_work_group(const clnet_context *ctx) {
    size_t wg = ctx->info.type == CLNET_DEVICE_TYPE_CPU ? 16 : 64;
    while (wg > 1 && wg > ctx->info.max_work_group_size)
        wg /= 2;
    return (int)wg;
}

/* Limitation: every backend runs cl/dense.cl; the classifier heads of the
 * supported networks are a few thousand multiply-adds per image, too small
 * for a GEMM library to pay off, so `backend` is accepted and ignored. */
clnet_status clnet_dense(clnet_context *ctx, int in_features, int units, int batch,
                         clnet_dview in, clnet_dview out, cl_mem weight, cl_mem bias, int relu,
                         clnet_gemm_backend backend, clnet_events *events) {
    const char *op = "dense";
    if (!ctx)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: context is NULL", op);
    if (in_features <= 0 || units <= 0 || batch <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: input features %d, units %d and batch %d must be positive", op,
                          in_features, units, batch);
    CLNET_TRY(clnet_check_view(op, "input", in, batch, in_features));
    CLNET_TRY(clnet_check_view(op, "output", out, batch, units));
    CLNET_TRY(clnet_check_extent(op, "weight", weight, (long long)units * in_features));
    if (bias)
        CLNET_TRY(clnet_check_extent(op, "bias", bias, units));

    int wg = dense_work_group(ctx);
    char options[32];
    snprintf(options, sizeof options, "-DDENSE_WG=%d", wg);
    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "dense", options, "dense", &kernel));
    int has_bias = bias != NULL;
    clnet_kernel_arg args[] = {
        CLNET_ARG(in.buf),  CLNET_ARG(in.offset),  CLNET_ARG(in.batch_stride),
        CLNET_ARG(out.buf), CLNET_ARG(out.offset), CLNET_ARG(out.batch_stride),
        CLNET_ARG(weight),  CLNET_ARG(bias),       CLNET_ARG(has_bias),
        CLNET_ARG(relu),    CLNET_ARG(in_features),
    };
    size_t global[2] = {(size_t)units * (size_t)wg, (size_t)batch};
    size_t local[2] = {(size_t)wg, 1};
    return clnet_launch(ctx, kernel, op, (int)(sizeof args / sizeof args[0]), args, 2, global,
                        local, events);
}
