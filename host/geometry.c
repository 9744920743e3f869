/* Output sizes and padding of sliding windows, following TensorFlow's 'same'
 * rule so that Keras-trained weights see exactly the pixels they were
 * trained on. */
#include "geometry.h"

#include <limits.h>
#include <stdio.h>

clnet_status clnet_window_axis(const char *what, clnet_padding padding, int in, int k,
                               int stride, int dilation, int explicit_before,
                               int explicit_after, int *out, int *pad_before, int *pad_after) {
    if (in <= 0 || k <= 0 || stride <= 0 || dilation <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: input %d, kernel %d, stride %d and dilation %d must be positive",
                          what, in, k, stride, dilation);
    if (k > (INT_MAX - 1) / dilation + 1)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: kernel %d with dilation %d is too large",
                          what, k, dilation);
    int k_eff = (k - 1) * dilation + 1;

    int before = 0, after = 0, n = 0;
    switch (padding) {
    case CLNET_PADDING_SAME: {
        n = (in + stride - 1) / stride;
        long total = (long)(n - 1) * stride + k_eff - in;
        if (total < 0)
            total = 0;
        before = (int)(total / 2);
        after = (int)(total - before);
        break;
    }
    case CLNET_PADDING_VALID:
        if (k_eff > in)
            return clnet_fail(CLNET_STATUS_SHAPE_MISMATCH,
                              "%s: 'valid' window of extent %d does not fit an input of %d", what,
                              k_eff, in);
        n = (in - k_eff) / stride + 1;
        break;
    case CLNET_PADDING_EXPLICIT:
        if (explicit_before < 0 || explicit_after < 0)
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: negative padding %d/%d", what,
                              explicit_before, explicit_after);
        before = explicit_before;
        after = explicit_after;
        {
            long padded = (long)in + before + after;
            if (padded < k_eff)
                return clnet_fail(CLNET_STATUS_SHAPE_MISMATCH,
                                  "%s: window of extent %d does not fit a padded input of %ld",
                                  what, k_eff, padded);
            n = (int)((padded - k_eff) / stride + 1);
        }
        break;
    default:
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: unknown padding mode %d", what,
                          (int)padding);
    }
    *out = n;
    *pad_before = before;
    *pad_after = after;
    return CLNET_STATUS_OK;
}

clnet_status clnet_conv_geometry_make(const char *layer_name, const clnet_conv2d_desc *d,
                                      int in_c, int in_h, int in_w, clnet_conv_geometry *g) {
    char what[300];
    g->in_c = in_c;
    g->in_h = in_h;
    g->in_w = in_w;
    g->out_c = d->filters;
    g->kh = d->kernel_h;
    g->kw = d->kernel_w;
    g->sh = d->stride_h;
    g->sw = d->stride_w;
    g->dh = d->dilation_h;
    g->dw = d->dilation_w;
    snprintf(what, sizeof what, "conv2d '%s' (height)", layer_name);
    CLNET_TRY(clnet_window_axis(what, d->padding, in_h, d->kernel_h, d->stride_h, d->dilation_h,
                                d->pad_top, d->pad_bottom, &g->out_h, &g->pad_top,
                                &g->pad_bottom));
    snprintf(what, sizeof what, "conv2d '%s' (width)", layer_name);
    CLNET_TRY(clnet_window_axis(what, d->padding, in_w, d->kernel_w, d->stride_w, d->dilation_w,
                                d->pad_left, d->pad_right, &g->out_w, &g->pad_left,
                                &g->pad_right));
    return CLNET_STATUS_OK;
}

clnet_status clnet_pool_geometry_make(const char *layer_name, const clnet_pool2d_desc *d, int c,
                                      int in_h, int in_w, clnet_pool_geometry *g) {
    char what[300];
    g->c = c;
    g->in_h = in_h;
    g->in_w = in_w;
    g->kh = d->pool_h;
    g->kw = d->pool_w;
    g->sh = d->stride_h;
    g->sw = d->stride_w;
    snprintf(what, sizeof what, "pooling '%s' (height)", layer_name);
    CLNET_TRY(clnet_window_axis(what, d->padding, in_h, d->pool_h, d->stride_h, 1, d->pad_top,
                                d->pad_bottom, &g->out_h, &g->pad_top, &g->pad_bottom));
    snprintf(what, sizeof what, "pooling '%s' (width)", layer_name);
    CLNET_TRY(clnet_window_axis(what, d->padding, in_w, d->pool_w, d->stride_w, 1, d->pad_left,
                                d->pad_right, &g->out_w, &g->pad_left, &g->pad_right));
    if (g->pad_top >= g->kh || g->pad_bottom >= g->kh || g->pad_left >= g->kw ||
        g->pad_right >= g->kw)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "pooling '%s': padding (%d,%d,%d,%d) as large as the %dx%d window would "
                          "give windows with no input element",
                          layer_name, g->pad_top, g->pad_bottom, g->pad_left, g->pad_right, g->kh,
                          g->kw);
    return CLNET_STATUS_OK;
}
