/* Direct convolution for CPUs of 3x3 layers with a horizontal stride of 2
 * and no dilation across (the strided convolutions of ResNets), with the
 * fusions of clnet_conv_fusion. It replaces im2col and a GEMM: no column
 * matrix is written, and every input row a work-item reads feeds all of its
 * output channels at once.
 *
 * A work-item computes OC_BLOCK output channels by 8 neighbouring output
 * pixels of one row (one vector). For every input channel and kernel row,
 * the 16 input columns under the vector move as two vector loads: their
 * even and odd lanes are the taps kx = 0 and 1, and the even lanes moved by
 * one, with the 17th column appended, the tap kx = 2. A left padding of one
 * column (PyTorch's stride-2 layers) shifts the roles: the odd lanes moved
 * the other way, with a zero in front, then the even and the odd ones.
 * Vectors whose columns otherwise leave the input row (other paddings,
 * narrow or odd-width images) gather their lanes one by one. Rows above or
 * below the input are read clamped and masked to zero. Weights are read as
 * stored (OIHW) and broadcast to the lanes.
 *
 * Fusion: the prologue (x * pre_scale[c] + pre_shift[c], then max(., 0)
 * when pre_relu) applies to every input value before the padding's zeros
 * come in; it is chosen by entry point, so that the plain kernel carries
 * none of it. The residual (a view of the output's shape, possibly the
 * output itself: the work-item that writes an element reads its residual
 * first) is added after the bias and before the ReLU.
 *
 * Layouts: input, output and residual are views (element (n, c, y, x) at
 * off + n * bstride + (c * h + y) * w + x); weights are OIHW. Index
 * arithmetic is in int: the host guarantees every buffer holds fewer than
 * 2^31 floats.
 *
 * Entry points: conv2d_stride2_3x3[_pre[_relu]]. NDRange: dim 0 =
 * ceil(out_c / OC_BLOCK), dim 1 = ceil(out_w / 8), dim 2 = batch * out_h.
 * The channel blocks vary fastest, so that the work-items that run one
 * after another on a core read the same input rows. */

#ifndef OC_BLOCK
#define OC_BLOCK 8 /* output channels per work-item: 8 accumulator vectors, 3 taps, 1 weight */
#endif
#if OC_BLOCK < 1 || OC_BLOCK > 12
#error "OC_BLOCK must be 1 to 12: the accumulators live in registers"
#endif

/* The kernel's height and width. */
#define K 3

/* x through the prologue (as is without one); T is x's type. */
#define NORMALISE(x, T, pre, pre_relu, scale, shift)                                               \
    ((pre) ? ((pre_relu) ? fmax(fma((x), (T)(scale), (T)(shift)), (T)(0.0f))                       \
                         : fma((x), (T)(scale), (T)(shift)))                                       \
           : (x))

/* acc[b] += tap[kx] * weight of channel b, for the K taps of one kernel row
 * (w: the row's first weight in each channel's filter). */
static inline __attribute__((always_inline)) void
multiply_row(const __global float *const *wrow, int w, const float8 *tap, float8 *acc) {
#pragma unroll
    for (int kx = 0; kx < K; kx++) {
#pragma unroll
        for (int b = 0; b < OC_BLOCK; b++)
            acc[b] = fma(tap[kx], (float8)(wrow[b][w + kx]), acc[b]);
    }
}

/* The vector's 16 input columns from `from` on lie inside the row: from =
 * first >= 0 (shifted 0) or from = 0 = first + 1 (shifted 1). Column
 * from + 16, which tap 2 needs without the shift, is read clamped and
 * zeroed past the row. */
static inline __attribute__((always_inline)) void
accumulate_fast(const __global float *image, const __global float *const *wrow, int in_c, int in_h,
                int in_w, int dh, int iy0, int from, __global const float *pre_scale,
                __global const float *pre_shift, const int shifted, const int pre,
                const int pre_relu, float8 *acc) {
    const int in_hw = in_h * in_w;
    /* Per kernel row: where the row's columns start (the row clamped inside
     * the input) and a mask of all ones when the row is inside. */
    int at[K], inside[K];
#pragma unroll
    for (int ky = 0; ky < K; ky++) {
        const int iy = iy0 + ky * dh;
        inside[ky] = -(iy >= 0 && iy < in_h);
        at[ky] = clamp(iy, 0, in_h - 1) * in_w + from;
    }
    const int next = min(from + 16, in_w - 1) - from;
    const int next_inside = -(from + 16 < in_w);

    for (int ci = 0; ci < in_c; ci++) {
        const __global float *plane = image + ci * in_hw;
        const float scale = pre ? pre_scale[ci] : 1.0f;
        const float shift = pre ? pre_shift[ci] : 0.0f;
#pragma unroll
        for (int ky = 0; ky < K; ky++) {
            const __global float *src = plane + at[ky];
            const int8 mask = (int8)(inside[ky]);
            float8 a = vload8(0, src), b = vload8(1, src);
            a = as_float8(as_int8(NORMALISE(a, float8, pre, pre_relu, scale, shift)) & mask);
            b = as_float8(as_int8(NORMALISE(b, float8, pre, pre_relu, scale, shift)) & mask);
            float8 tap[K];
            if (shifted) {
                const float8 odd = (float8)(a.odd, b.odd);
                tap[0] = (float8)(0.0f, odd.s012, odd.s3456);
                tap[1] = (float8)(a.even, b.even);
                tap[2] = odd;
            } else {
                float x = NORMALISE(src[next], float, pre, pre_relu, scale, shift);
                x = as_float(as_int(x) & inside[ky] & next_inside);
                tap[0] = (float8)(a.even, b.even);
                tap[1] = (float8)(a.odd, b.odd);
                tap[2] = (float8)(a.s246, b.s0246, x);
            }
            multiply_row(wrow, ci * K * K + ky * K, tap, acc);
        }
    }
}

/* Any other vector: every lane of every tap gathered on its own, clamped
 * inside the input and zeroed outside it. */
static inline __attribute__((always_inline)) void
accumulate_any(const __global float *image, const __global float *const *wrow, int in_c, int in_h,
               int in_w, int dh, int iy0, int first, __global const float *pre_scale,
               __global const float *pre_shift, const int pre, const int pre_relu, float8 *acc) {
    const int in_hw = in_h * in_w;
    for (int ci = 0; ci < in_c; ci++) {
        const __global float *plane = image + ci * in_hw;
        const float scale = pre ? pre_scale[ci] : 1.0f;
        const float shift = pre ? pre_shift[ci] : 0.0f;
        for (int ky = 0; ky < K; ky++) {
            const int iy = iy0 + ky * dh;
            const int row_inside = iy >= 0 && iy < in_h;
            const __global float *row = plane + clamp(iy, 0, in_h - 1) * in_w;
            float lanes[K][8];
#pragma unroll
            for (int p = 0; p < 8; p++) {
#pragma unroll
                for (int kx = 0; kx < K; kx++) {
                    const int ix = first + 2 * p + kx;
                    const float x = row[clamp(ix, 0, in_w - 1)];
                    lanes[kx][p] = row_inside && ix >= 0 && ix < in_w
                                       ? NORMALISE(x, float, pre, pre_relu, scale, shift)
                                       : 0.0f;
                }
            }
            float8 tap[K];
#pragma unroll
            for (int kx = 0; kx < K; kx++)
                tap[kx] = vload8(0, lanes[kx]);
            multiply_row(wrow, ci * K * K + ky * K, tap, acc);
        }
    }
}

/* Where a work-item writes, besides its position. */
typedef struct stride2_out {
    __global float *out;
    int out_bstride;
    __global const float *bias;
    int has_bias, relu;
    __global const float *residual;
    int res_bstride, has_residual;
} stride2_out;

/* Writes the vector v of channel oc at output pixel (n, oy, ox) on (fewer
 * lanes at the right edge): bias, residual, ReLU. */
static inline __attribute__((always_inline)) void
store_vector(const stride2_out *io, int n, int oc, int out_h, int out_w, int oy, int ox, float8 v) {
    const int count = min(8, out_w - ox);
    const int at = (oc * out_h + oy) * out_w + ox;
    __global float *dst = io->out + n * io->out_bstride + at;
    if (io->has_bias)
        v += io->bias[oc];
    if (io->has_residual) {
        const __global float *r = io->residual + n * io->res_bstride + at;
        if (count == 8) {
            v += vload8(0, r);
        } else {
            float lanes[8];
            for (int p = 0; p < 8; p++)
                lanes[p] = p < count ? r[p] : 0.0f;
            v += vload8(0, lanes);
        }
    }
    if (io->relu)
        v = fmax(v, (float8)(0.0f));
    if (count == 8) {
        vstore8(v, 0, dst);
    } else {
        float lanes[8];
        vstore8(v, 0, lanes);
        for (int p = 0; p < count; p++)
            dst[p] = lanes[p];
    }
}

static inline __attribute__((always_inline)) void
stride2_body(__global const float *in, int in_bstride, __global const float *weight,
             const stride2_out *io, int in_c, int in_h, int in_w, int out_c, int out_h, int out_w,
             int sh, int dh, int pad_top, int pad_left, __global const float *pre_scale,
             __global const float *pre_shift, const int pre, const int pre_relu) {
    const int oc0 = (int)get_global_id(0) * OC_BLOCK;
    const int ox = (int)get_global_id(1) * 8;
    const int n = (int)get_global_id(2) / out_h;
    const int oy = (int)get_global_id(2) - n * out_h;
    if (oc0 >= out_c || ox >= out_w)
        return;

    /* Filters past out_c in the last block repeat the last one. */
    const __global float *wrow[OC_BLOCK];
#pragma unroll
    for (int b = 0; b < OC_BLOCK; b++)
        wrow[b] = weight + min(oc0 + b, out_c - 1) * in_c * K * K;

    float8 acc[OC_BLOCK];
#pragma unroll
    for (int b = 0; b < OC_BLOCK; b++)
        acc[b] = (float8)(0.0f);

    const __global float *image = in + n * in_bstride;
    const int iy0 = oy * sh - pad_top;
    const int first = ox * 2 - pad_left;
    const int from = max(first, 0);
    /* The fast paths: first >= -1, and the 16 columns from `from` on. */
    if (first >= 0 && from + 16 <= in_w)
        accumulate_fast(image, wrow, in_c, in_h, in_w, dh, iy0, from, pre_scale, pre_shift, 0, pre,
                        pre_relu, acc);
    else if (first == -1 && from + 16 <= in_w)
        accumulate_fast(image, wrow, in_c, in_h, in_w, dh, iy0, from, pre_scale, pre_shift, 1, pre,
                        pre_relu, acc);
    else
        accumulate_any(image, wrow, in_c, in_h, in_w, dh, iy0, first, pre_scale, pre_shift, pre,
                       pre_relu, acc);

#pragma unroll
    for (int b = 0; b < OC_BLOCK; b++) {
        if (oc0 + b < out_c)
            store_vector(io, n, oc0 + b, out_h, out_w, oy, ox, acc[b]);
    }
}

#define STRIDE2_KERNEL(name, PRE, PRE_RELU)                                                        \
    __kernel void name(__global const float *in, int in_off, int in_bstride, __global float *out,  \
                       int out_off, int out_bstride, __global const float *weight,                 \
                       __global const float *bias, int has_bias, int relu, int in_c, int in_h,     \
                       int in_w, int out_c, int out_h, int out_w, int sh, int dh, int pad_top,     \
                       int pad_left, __global const float *pre_scale,                              \
                       __global const float *pre_shift, __global const float *residual,            \
                       int res_off, int res_bstride, int has_residual) {                           \
        const stride2_out io = {.out = out + out_off,                                              \
                                .out_bstride = out_bstride,                                        \
                                .bias = bias,                                                      \
                                .has_bias = has_bias,                                              \
                                .relu = relu,                                                      \
                                .residual = residual + (has_residual ? res_off : 0),               \
                                .res_bstride = res_bstride,                                        \
                                .has_residual = has_residual};                                     \
        stride2_body(in + in_off, in_bstride, weight, &io, in_c, in_h, in_w, out_c, out_h, out_w,  \
                     sh, dh, pad_top, pad_left, pre_scale, pre_shift, PRE, PRE_RELU);              \
    }

STRIDE2_KERNEL(conv2d_stride2_3x3, 0, 0)
STRIDE2_KERNEL(conv2d_stride2_3x3_pre, 1, 0)
STRIDE2_KERNEL(conv2d_stride2_3x3_pre_relu, 1, 1)
