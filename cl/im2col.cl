/* Unfolds convolution patches into a matrix so that a GEMM computes the
 * convolution. Per image the columns are [K = in_c * kh * kw][P = out_h * out_w]
 * row-major, images one after another: row (ci, ky, kx) holds, for every
 * output pixel, the input value that kernel tap multiplies (0 in padding).
 * The GEMM is then out[n] (out_c x P) = weight (out_c x K) x columns[n].
 *
 * With has_pre, every input value x of channel ci is unfolded as
 * x * pre_scale[ci] + pre_shift[ci], then max(., 0) when pre_relu: the
 * batch norm (+ ReLU) before a convolution. Padding stays 0: it pads the
 * normalised tensor. The flags are tested per value; this kernel is bound
 * by memory, not arithmetic.
 *
 * Index arithmetic is in int: the host guarantees every buffer holds fewer
 * than 2^31 floats.
 *
 * NDRange: dim 0 = ceil(out_w / X_RUN), dim 1 = ceil(out_h / Y_RUN), dim 2 = batch * K. */

#ifndef X_RUN
#define X_RUN 1 /* output columns per work-item: runs amortise the index arithmetic on CPUs */
#endif
#ifndef Y_RUN
#define Y_RUN 1 /* output rows per work-item: CPUs unfold whole planes per work-item */
#endif
#if X_RUN < 1 || Y_RUN < 1
#error "X_RUN and Y_RUN must be positive"
#endif

/* Unfolds, for the kernel tap (ky, kx) of one input plane, the X_RUN
 * columns from ox0 on of output row oy into dst, that row of the column
 * matrix. */
static inline void unfold_row(const __global float *plane, __global float *dst, int in_h, int in_w,
                              int out_w, int oy, int ox0, int sh, int sw, int dh, int dw,
                              int pad_top, int pad_left, int ky, int kx, float scale, float shift,
                              int has_pre, int pre_relu) {
    const int iy = oy * sh - pad_top + ky * dh;
    const int count = min(X_RUN, out_w - ox0);
    if (iy < 0 || iy >= in_h) {
        for (int p = 0; p < count; p++)
            dst[ox0 + p] = 0.0f;
        return;
    }

    const __global float *src = plane + iy * in_w;
    const int ix0 = ox0 * sw - pad_left + kx * dw;
    int p = 0;
#if X_RUN >= 8
    /* Runs of 8 columns that lie inside the input row move as vectors:
     * contiguous with stride 1, every other float of two vectors with
     * stride 2 (8-wide halves: 16-wide vectors change the calling
     * convention on AVX2 CPUs, and PoCL warns about it). */
    if (sw <= 2) {
        for (; p + 8 <= count; p += 8) {
            const int ix = ix0 + p * sw;
            if (ix < 0 || ix + 8 * sw > in_w)
                break;
            const float8 a = vload8(0, src + ix);
            float8 v = sw == 1 ? a : (float8)(a.even, vload8(1, src + ix).even);
            if (has_pre) {
                v = fma(v, (float8)(scale), (float8)(shift));
                if (pre_relu)
                    v = fmax(v, (float8)(0.0f));
            }
            vstore8(v, 0, dst + ox0 + p);
        }
    }
#endif
    /* The rest one by one: clamped columns keep the loads in bounds; the
     * select zeroes padding. */
    for (; p < count; p++) {
        const int ix = ix0 + p * sw;
        float v = src[clamp(ix, 0, in_w - 1)];
        if (has_pre) {
            v = fma(v, scale, shift);
            if (pre_relu)
                v = fmax(v, 0.0f);
        }
        dst[ox0 + p] = (ix >= 0 && ix < in_w) ? v : 0.0f;
    }
}

__kernel void im2col(__global const float *in, int in_off, int in_bstride, __global float *columns,
                     int in_c, int in_h, int in_w, int out_h, int out_w, int kh, int kw, int sh,
                     int sw, int dh, int dw, int pad_top, int pad_left,
                     __global const float *pre_scale, __global const float *pre_shift, int has_pre,
                     int pre_relu) {
    const int ox0 = (int)get_global_id(0) * X_RUN;
    const int oy0 = (int)get_global_id(1) * Y_RUN;
    const int kk = kh * kw;
    const int rows = in_c * kk;
    const int n = (int)get_global_id(2) / rows;
    const int row = (int)get_global_id(2) - n * rows;
    if (ox0 >= out_w || oy0 >= out_h)
        return;

    const int ci = row / kk;
    const int tap = row - ci * kk;
    const int ky = tap / kw;
    const int kx = tap - ky * kw;
    __global float *dst = columns + (n * rows + row) * (out_h * out_w);
    const __global float *plane = in + in_off + n * in_bstride + ci * in_h * in_w;
    const float scale = has_pre ? pre_scale[ci] : 1.0f;
    const float shift = has_pre ? pre_shift[ci] : 0.0f;
    const int oy_end = min(oy0 + Y_RUN, out_h);
    for (int oy = oy0; oy < oy_end; oy++)
        unfold_row(plane, dst + oy * out_w, in_h, in_w, out_w, oy, ox0, sh, sw, dh, dw, pad_top,
                   pad_left, ky, kx, scale, shift, has_pre, pre_relu);
}
