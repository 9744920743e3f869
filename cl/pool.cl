/* Pooling over windows and over whole images: max pooling (padding never
 * wins), average pooling (padding excluded from the count) and global
 * average pooling.
 *
 * Views: element (n, c, y, x) at off + n * bstride + (c * h + y) * w + x.
 * Index arithmetic is in int: the host guarantees every buffer holds fewer
 * than 2^31 floats. */

/* The window of output (oy, ox) clipped to the input: rows [y0, y1), columns
 * [x0, x1). Shared by both window kernels. */
#define POOL_WINDOW()                                                                           \
    const int ox = (int)get_global_id(0);                                                       \
    const int oy = (int)get_global_id(1);                                                       \
    const int n = (int)get_global_id(2) / c;                                                    \
    const int ch = (int)get_global_id(2) - n * c;                                               \
    if (ox >= out_w || oy >= out_h)                                                             \
        return;                                                                                 \
    const int ys = oy * sh - pad_top;                                                           \
    const int xs = ox * sw - pad_left;                                                          \
    const int y0 = max(ys, 0), y1 = min(ys + kh, in_h);                                         \
    const int x0 = max(xs, 0), x1 = min(xs + kw, in_w);                                         \
    const __global float *plane = in + in_off + n * in_bstride + ch * in_h * in_w;              \
    const int dst = out_off + n * out_bstride + (ch * out_h + oy) * out_w + ox

/* NDRange for both: dim 0 = output columns, dim 1 = output rows,
 * dim 2 = batch * channels. */
__kernel void maxpool2d(__global const float *in, int in_off, int in_bstride, __global float *out,
                        int out_off, int out_bstride, int c, int in_h, int in_w, int out_h,
                        int out_w, int kh, int kw, int sh, int sw, int pad_top, int pad_left) {
    POOL_WINDOW();
    /* Padded positions are skipped, which is the same as padding with -inf. */
    float best = -INFINITY;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            best = fmax(best, plane[y * in_w + x]);
    /* A window entirely in padding (only from hand-made geometry) gives 0,
     * as in the host reference. */
    out[dst] = (y1 > y0 && x1 > x0) ? best : 0.0f;
}

__kernel void avgpool2d(__global const float *in, int in_off, int in_bstride, __global float *out,
                        int out_off, int out_bstride, int c, int in_h, int in_w, int out_h,
                        int out_w, int kh, int kw, int sh, int sw, int pad_top, int pad_left) {
    POOL_WINDOW();
    float sum = 0.0f;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            sum += plane[y * in_w + x];
    /* A window entirely in padding has no elements; it gives 0, as above. */
    const int count = max(y1 - y0, 0) * max(x1 - x0, 0);
    out[dst] = count > 0 ? sum / (float)count : 0.0f;
}

/* 2x2 windows with stride 2 and no padding, the usual downsampling (and
 * DenseNet's transitions): a work-item pools one output row, reading its
 * two input rows 8 floats at a time, so that the loads and the arithmetic
 * are vectors rather than one scalar window per work-item.
 * NDRange: dim 0 = output rows, dim 1 = batch * channels. */
#define POOL2X2_KERNEL(name, PAIR, HALVES, ONE)                                                \
    __kernel void name(__global const float *in, int in_off, int in_bstride,                   \
                       __global float *out, int out_off, int out_bstride, int c, int in_h,     \
                       int in_w, int out_h, int out_w) {                                        \
        const int oy = (int)get_global_id(0);                                                   \
        const int n = (int)get_global_id(1) / c;                                                \
        const int ch = (int)get_global_id(1) - n * c;                                           \
        if (oy >= out_h)                                                                        \
            return;                                                                             \
        const __global float *r0 = in + in_off + n * in_bstride + (ch * in_h + 2 * oy) * in_w;  \
        const __global float *r1 = r0 + in_w;                                                   \
        __global float *dst = out + out_off + n * out_bstride + (ch * out_h + oy) * out_w;      \
        int ox = 0;                                                                             \
        for (; ox + 4 <= out_w; ox += 4) {                                                      \
            const float8 v = PAIR(vload8(0, r0 + 2 * ox), vload8(0, r1 + 2 * ox));              \
            vstore4(HALVES(v.even, v.odd), 0, dst + ox);                                        \
        }                                                                                       \
        for (; ox < out_w; ox++)                                                                \
            dst[ox] = ONE(r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]);              \
    }

#define AVG_PAIR(a, b) ((a) + (b))
#define AVG_HALVES(a, b) (((a) + (b)) * 0.25f)
#define AVG_ONE(a, b, c, d) ((((a) + (c)) + ((b) + (d))) * 0.25f)
#define MAX_PAIR(a, b) fmax(a, b)
#define MAX_HALVES(a, b) fmax(a, b)
#define MAX_ONE(a, b, c, d) fmax(fmax(a, c), fmax(b, d))
POOL2X2_KERNEL(avgpool2x2, AVG_PAIR, AVG_HALVES, AVG_ONE)
POOL2X2_KERNEL(maxpool2x2, MAX_PAIR, MAX_HALVES, MAX_ONE)

#ifndef GAP_LANES
#define GAP_LANES 4 /* partial sums per work-item: shorter chains round less and pipeline better */
#endif
#if GAP_LANES < 1 || GAP_LANES > 16
#error "GAP_LANES must be between 1 and 16"
#endif

/* out[n][c] = mean of the hw pixels of channel c. Output is a flat view
 * (element (n, c) at out_off + n * out_bstride + c).
 * NDRange: dim 0 = channels, dim 1 = batch. */
__kernel void global_avgpool(__global const float *in, int in_off, int in_bstride,
                             __global float *out, int out_off, int out_bstride, int c, int hw) {
    const int ch = (int)get_global_id(0);
    const int n = (int)get_global_id(1);
    if (ch >= c)
        return;
    const __global float *plane = in + in_off + n * in_bstride + ch * hw;
    float lane[GAP_LANES];
    for (int l = 0; l < GAP_LANES; l++)
        lane[l] = 0.0f;
    int i = 0;
    for (; i + GAP_LANES <= hw; i += GAP_LANES)
        for (int l = 0; l < GAP_LANES; l++)
            lane[l] += plane[i + l];
    for (; i < hw; i++)
        lane[0] += plane[i];
    float sum = 0.0f;
    for (int l = 0; l < GAP_LANES; l++)
        sum += lane[l];
    out[out_off + n * out_bstride + ch] = sum / (float)hw;
}
