/* Launchers of the element-wise kernels of cl/elementwise.cl: batch
 * normalisation, ReLU, addition and copy into a slice. */
#include "kernels.h"

#include <limits.h>

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
    CLNET_TRY(check_view(op, "input", in, batch, (long long)c * hw));
    CLNET_TRY(check_view(op, "output", out, batch, (long long)c * hw));
    CLNET_TRY(check_extent(op, "scale", scale, c));
    CLNET_TRY(check_extent(op, "shift", shift, c));

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
    CLNET_TRY(check_view(op, "input", in, batch, (long long)c * hw));
    CLNET_TRY(check_view(op, "output", out, batch, (long long)c * hw));

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

clnet_status clnet_add(clnet_context *ctx, int count, int batch, clnet_dview a, clnet_dview b,
                       clnet_dview out, int relu, clnet_events *events) {
    const char *op = "add";
    CLNET_TRY(check_sizes(op, ctx, 1, count, batch));
    CLNET_TRY(check_view(op, "first input", a, batch, count));
    CLNET_TRY(check_view(op, "second input", b, batch, count));
    CLNET_TRY(check_view(op, "output", out, batch, count));

    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "elementwise", "", "add", &kernel));
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
    CLNET_TRY(check_view(op, "input", in, batch, count));
    CLNET_TRY(check_view(op, "output", out, batch, count));

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
