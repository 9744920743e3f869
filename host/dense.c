/* Launcher of the fully connected kernel of cl/dense.cl. */
#include "kernels.h"

#include <limits.h>
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

/* Checks that `floats` floats from the start of buf lie inside it and within
 * int indexing. */
static clnet_status check_extent(const char *op, const char *name, cl_mem buf, long long floats) {
    if (!buf)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: the %s buffer is NULL", op, name);
    size_t bytes = 0;
    cl_int err = clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL);
    if (err != CL_SUCCESS)
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR, "%s: querying the size of the %s buffer: %s",
                          op, name, clnet_cl_error_name(err));
    if ((unsigned long long)floats > bytes / sizeof(float))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: the %s needs %lld floats but its buffer holds %zu", op, name, floats,
                          bytes / sizeof(float));
    /* Limitation: kernels index with int, so data must end below 2^31 floats. */
    if (floats > INT_MAX)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "%s: the %s spans %lld floats, beyond int indexing", op, name, floats);
    return CLNET_STATUS_OK;
}

/* Checks a view of `batch` images of per_image floats. */
static clnet_status check_view(const char *op, const char *name, clnet_dview v, int batch,
                               long long per_image) {
    if (v.offset < 0 || v.batch_stride < 0 || (batch > 1 && v.batch_stride < per_image))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: the %s view (offset %d, batch stride %d) does not fit %d images of "
                          "%lld floats",
                          op, name, v.offset, v.batch_stride, batch, per_image);
    return check_extent(op, name, v.buf,
                        v.offset + (long long)(batch - 1) * v.batch_stride + per_image);
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
    CLNET_TRY(check_view(op, "input", in, batch, in_features));
    CLNET_TRY(check_view(op, "output", out, batch, units));
    CLNET_TRY(check_extent(op, "weight", weight, (long long)units * in_features));
    if (bias)
        CLNET_TRY(check_extent(op, "bias", bias, units));

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
