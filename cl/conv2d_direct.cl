/* Direct 2-D convolution with fused bias and ReLU: each work-item computes a
 * register block of OC_BLOCK output channels by PX_BLOCK neighbouring pixels
 * of one output row, the pixels held as one vector. Shapes, strides,
 * dilation and padding are arguments, so one build serves every layer.
 *
 * Layouts: input and output are views (element (n, c, y, x) at
 * off + n * bstride + (c * h + y) * w + x); weights are OIHW. Index arithmetic
 * is in int: the host guarantees every buffer holds fewer than 2^31 floats.
 *
 * NDRange: dim 0 = ceil(out_w / PX_BLOCK), dim 1 = output rows,
 * dim 2 = batch * ceil(out_c / OC_BLOCK). */

#ifndef OC_BLOCK
#define OC_BLOCK 4 /* output channels per work-item: each input vector feeds OC_BLOCK FMAs */
#endif
#ifndef PX_BLOCK
#define PX_BLOCK 4 /* output columns per work-item, one vector: each weight feeds PX_BLOCK lanes */
#endif
#if OC_BLOCK < 1 || OC_BLOCK > 16
#error "OC_BLOCK must be between 1 and 16 (accumulators live in registers)"
#endif
#if PX_BLOCK != 2 && PX_BLOCK != 4 && PX_BLOCK != 8 && PX_BLOCK != 16
#error "PX_BLOCK must be an OpenCL vector width: 2, 4, 8 or 16"
#endif

#define PASTE(a, b) a##b
#define JOIN(a, b) PASTE(a, b)
#define floatv JOIN(float, PX_BLOCK)
#define vloadv JOIN(vload, PX_BLOCK)
#define vstorev JOIN(vstore, PX_BLOCK)

__kernel void conv2d_direct(__global const float *in, int in_off, int in_bstride,
                            __global float *out, int out_off, int out_bstride,
                            __global const float *weight, __global const float *bias,
                            int has_bias, int relu, int in_c, int in_h, int in_w, int out_c,
                            int out_h, int out_w, int kh, int kw, int sh, int sw, int dh, int dw,
                            int pad_top, int pad_left) {
    const int ox0 = (int)get_global_id(0) * PX_BLOCK;
    const int oy = (int)get_global_id(1);
    const int oc_blocks = (out_c + OC_BLOCK - 1) / OC_BLOCK;
    const int n = (int)get_global_id(2) / oc_blocks;
    const int oc0 = ((int)get_global_id(2) - n * oc_blocks) * OC_BLOCK;
    if (ox0 >= out_w || oy >= out_h)
        return;

    /* Channels past out_c in the last block read the last valid filter (so
     * that the loop stays branch-free) and are not stored. */
    const int kk = kh * kw;
    int wbase[OC_BLOCK];
    for (int b = 0; b < OC_BLOCK; b++)
        wbase[b] = min(oc0 + b, out_c - 1) * in_c * kk;

    floatv acc[OC_BLOCK];
    for (int b = 0; b < OC_BLOCK; b++)
        acc[b] = (floatv)(0.0f);

    const int in_hw = in_h * in_w;
    const __global float *image = in + in_off + n * in_bstride;
    const int iy0 = oy * sh - pad_top;
    const int ix_first = ox0 * sw - pad_left;
    /* Whether every column of the block reads inside the input for every
     * kx: then the inner loop needs no bounds checks, and with stride 1 it
     * reads one contiguous vector. */
    const int x_interior =
        ix_first >= 0 && ix_first + (PX_BLOCK - 1) * sw + (kw - 1) * dw < in_w;
    const int contiguous = x_interior && sw == 1;

    for (int ci = 0; ci < in_c; ci++) {
        const __global float *plane = image + ci * in_hw;
        const int wci = ci * kk;
        for (int ky = 0; ky < kh; ky++) {
            const int iy = iy0 + ky * dh;
            if (iy < 0 || iy >= in_h)
                continue;
            const __global float *row = plane + iy * in_w;
            for (int kx = 0; kx < kw; kx++) {
                const int ix0 = ix_first + kx * dw;
                floatv v;
                if (contiguous) {
                    v = vloadv(0, row + ix0);
                } else {
                    float lanes[PX_BLOCK];
                    for (int p = 0; p < PX_BLOCK; p++) {
                        const int ix = ix0 + p * sw;
                        const float x = row[clamp(ix, 0, in_w - 1)];
                        lanes[p] = (ix >= 0 && ix < in_w) ? x : 0.0f;
                    }
                    v = vloadv(0, lanes);
                }
                const int widx = wci + ky * kw + kx;
                for (int b = 0; b < OC_BLOCK; b++)
                    acc[b] += v * weight[wbase[b] + widx];
            }
        }
    }

    __global float *dst = out + out_off + n * out_bstride;
    const int out_hw = out_h * out_w;
    const int full = ox0 + PX_BLOCK <= out_w;
    for (int b = 0; b < OC_BLOCK; b++) {
        const int oc = oc0 + b;
        if (oc >= out_c)
            break;
        floatv r = acc[b] + (has_bias ? bias[oc] : 0.0f);
        if (relu)
            r = fmax(r, (floatv)(0.0f));
        __global float *orow = dst + oc * out_hw + oy * out_w + ox0;
        if (full) {
            vstorev(r, 0, orow);
        } else {
            float lanes[PX_BLOCK];
            vstorev(r, 0, lanes);
            for (int p = 0; p < PX_BLOCK && ox0 + p < out_w; p++)
                orow[p] = lanes[p];
        }
    }
}
