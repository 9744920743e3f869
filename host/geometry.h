/* Window geometry of convolutions and pooling: output sizes and padding,
 * resolved from a layer's description and the input it is called on. */
#ifndef CLNET_GEOMETRY_H
#define CLNET_GEOMETRY_H

#include "error.h"

/* Everything a convolution kernel needs to know about one call. Padding
 * after the input (bottom/right) is implied by out_h/out_w. */
typedef struct clnet_conv_geometry {
    int in_c, in_h, in_w;
    int out_c, out_h, out_w;
    int kh, kw;
    int sh, sw;
    int dh, dw;
    int pad_top, pad_left, pad_bottom, pad_right;
} clnet_conv_geometry;

/* Pooling windows. dilation is always 1. */
typedef struct clnet_pool_geometry {
    int c, in_h, in_w;
    int out_h, out_w;
    int kh, kw;
    int sh, sw;
    int pad_top, pad_left, pad_bottom, pad_right;
} clnet_pool_geometry;

/* A strided window of a tensor, with a fill value outside it: output
 * element (c, y, x) is input element (c0 + c * sc, y0 + y * sy, x0 + x * sx)
 * when that lies inside the input, else `value`. Slicing uses positive
 * origins and steps; constant padding uses steps 1 and negative origins. */
typedef struct clnet_window_copy {
    int in_c, in_h, in_w;
    int out_c, out_h, out_w;
    int c0, y0, x0;
    int sc, sy, sx;
    float value;
} clnet_window_copy;

/* Output length and leading/trailing pads along one axis. k is the
 * undilated kernel size. Fails with CLNET_STATUS_SHAPE_MISMATCH (message
 * naming `what`) when the window does not fit or the output would be empty. */
clnet_status clnet_window_axis(const char *what, clnet_padding padding, int in, int k,
                               int stride, int dilation, int explicit_before,
                               int explicit_after, int *out, int *pad_before, int *pad_after);

clnet_status clnet_conv_geometry_make(const char *layer_name, const clnet_conv2d_desc *desc,
                                      int in_c, int in_h, int in_w, clnet_conv_geometry *out);
clnet_status clnet_pool_geometry_make(const char *layer_name, const clnet_pool2d_desc *desc,
                                      int c, int in_h, int in_w, clnet_pool_geometry *out);

#endif
