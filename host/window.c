/* Launcher of cl/window.cl: strided slicing and constant padding of tensor
 * views, described by a clnet_window_copy. */
#include "kernels.h"

#include <limits.h>
#include <math.h>

/* Whether i * step and origin + i * step, i in [0, out), fit in int, so
 * that the kernel's index arithmetic cannot overflow. */
static int axis_fits_int(int origin, int step, int out) {
    long long span = (long long)(out - 1) * step;
    return span <= INT_MAX && (long long)origin + span <= INT_MAX;
}

clnet_status clnet_window(clnet_context *ctx, const clnet_window_copy *w, int batch,
                          clnet_dview in, clnet_dview out, clnet_events *events) {
    const char *op = "window";
    if (!ctx || !w)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: context or window is NULL", op);
    if (batch <= 0 || w->in_c <= 0 || w->in_h <= 0 || w->in_w <= 0 || w->out_c <= 0 ||
        w->out_h <= 0 || w->out_w <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: batch %d, input %dx%dx%d and output %dx%dx%d must be positive", op,
                          batch, w->in_c, w->in_h, w->in_w, w->out_c, w->out_h, w->out_w);
    /* Limitation: steps are positive; reversed slices are not supported. */
    if (w->sc < 1 || w->sy < 1 || w->sx < 1)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "%s: steps (%d, %d, %d) must be at least 1", op, w->sc, w->sy, w->sx);
    if (!axis_fits_int(w->c0, w->sc, w->out_c) || !axis_fits_int(w->y0, w->sy, w->out_h) ||
        !axis_fits_int(w->x0, w->sx, w->out_w))
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "%s: origins (%d, %d, %d) and steps (%d, %d, %d) over %dx%dx%d outputs "
                          "reach beyond int indexing",
                          op, w->c0, w->y0, w->x0, w->sc, w->sy, w->sx, w->out_c, w->out_h,
                          w->out_w);
    if (!isfinite(w->value))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: fill value %g is not finite", op,
                          (double)w->value);
    CLNET_TRY(clnet_check_view(op, "input", in, batch, (long long)w->in_c * w->in_h * w->in_w));
    CLNET_TRY(
        clnet_check_view(op, "output", out, batch, (long long)w->out_c * w->out_h * w->out_w));

    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "window", "", "window_copy", &kernel));
    clnet_kernel_arg args[] = {
        CLNET_ARG(in.buf),  CLNET_ARG(in.offset),  CLNET_ARG(in.batch_stride),
        CLNET_ARG(out.buf), CLNET_ARG(out.offset), CLNET_ARG(out.batch_stride),
        CLNET_ARG(w->in_c), CLNET_ARG(w->in_h),    CLNET_ARG(w->in_w),
        CLNET_ARG(w->out_c), CLNET_ARG(w->out_h),  CLNET_ARG(w->out_w),
        CLNET_ARG(w->c0),   CLNET_ARG(w->y0),      CLNET_ARG(w->x0),
        CLNET_ARG(w->sc),   CLNET_ARG(w->sy),      CLNET_ARG(w->sx),
        CLNET_ARG(w->value),
    };
    size_t global[3] = {(size_t)w->out_w, (size_t)w->out_h, (size_t)batch * (size_t)w->out_c};
    return clnet_launch(ctx, kernel, "window_copy", (int)(sizeof args / sizeof args[0]), args, 3,
                        global, NULL, events);
}
