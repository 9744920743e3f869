/* Element-wise kernels on tensor views: inference batch normalisation, ReLU,
 * clip, sigmoid, binary arithmetic (add, multiply, subtract), copy into a
 * slice, and bias + residual + ReLU on a GEMM result.
 *
 * A view is (pointer, off, bstride): element i of image n is at
 * off + n * bstride + i, images being contiguous runs. Index arithmetic is in
 * int: the host guarantees every buffer holds fewer than 2^31 floats. */

/* out = in * scale[c] + shift[c] (relu).
 * NDRange: dim 0 = pixels (hw), dim 1 = channels, dim 2 = batch. */
__kernel void batchnorm_inference(__global const float *in, int in_off, int in_bstride,
                                  __global float *out, int out_off, int out_bstride,
                                  __global const float *scale, __global const float *shift,
                                  int hw, int relu) {
    const int p = (int)get_global_id(0);
    const int ch = (int)get_global_id(1);
    const int n = (int)get_global_id(2);
    if (p >= hw)
        return;
    const int i = ch * hw + p;
    const float v = in[in_off + n * in_bstride + i] * scale[ch] + shift[ch];
    out[out_off + n * out_bstride + i] = relu ? fmax(v, 0.0f) : v;
}

/* out = max(in, 0). NDRange: dim 0 = elements per image, dim 1 = batch. */
__kernel void relu(__global const float *in, int in_off, int in_bstride, __global float *out,
                   int out_off, int out_bstride, int count) {
    const int i = (int)get_global_id(0);
    const int n = (int)get_global_id(1);
    if (i >= count)
        return;
    out[out_off + n * out_bstride + i] = fmax(in[in_off + n * in_bstride + i], 0.0f);
}

/* out = min(max(in, lo), hi), written as comparisons so that NaN passes
 * through as in the host reference (fmin/fmax would replace it).
 * NDRange: dim 0 = elements per image, dim 1 = batch. */
__kernel void clip(__global const float *in, int in_off, int in_bstride, __global float *out,
                   int out_off, int out_bstride, int count, float lo, float hi) {
    const int i = (int)get_global_id(0);
    const int n = (int)get_global_id(1);
    if (i >= count)
        return;
    const float v = in[in_off + n * in_bstride + i];
    out[out_off + n * out_bstride + i] = v < lo ? lo : (v > hi ? hi : v);
}

/* out = 1 / (1 + exp(-in)). exp(-|x|) lies in (0, 1], so neither branch can
 * overflow: large positive x gives 1, large negative x gives e ~ 0 (not
 * 1 / (1 + inf) computed through an infinity).
 * NDRange: dim 0 = elements per image, dim 1 = batch. */
__kernel void sigmoid(__global const float *in, int in_off, int in_bstride, __global float *out,
                      int out_off, int out_bstride, int count) {
    const int i = (int)get_global_id(0);
    const int n = (int)get_global_id(1);
    if (i >= count)
        return;
    const float x = in[in_off + n * in_bstride + i];
    const float e = exp(-fabs(x));
    const float r = 1.0f / (1.0f + e);
    out[out_off + n * out_bstride + i] = x >= 0.0f ? r : e * r;
}

/* out = a (op) b (relu), one kernel per operator from a single body.
 * NDRange: dim 0 = elements per image, dim 1 = batch. */
#define BINARY_KERNEL(name, OP)                                                                 \
    __kernel void name(__global const float *a, int a_off, int a_bstride,                       \
                       __global const float *b, int b_off, int b_bstride, __global float *out,  \
                       int out_off, int out_bstride, int count, int relu) {                     \
        const int i = (int)get_global_id(0);                                                    \
        const int n = (int)get_global_id(1);                                                    \
        if (i >= count)                                                                         \
            return;                                                                             \
        const float v = a[a_off + n * a_bstride + i] OP b[b_off + n * b_bstride + i];           \
        out[out_off + n * out_bstride + i] = relu ? fmax(v, 0.0f) : v;                          \
    }

BINARY_KERNEL(add, +)
BINARY_KERNEL(multiply, *)
BINARY_KERNEL(subtract, -)

/* out = in. NDRange: dim 0 = elements per image, dim 1 = batch. */
__kernel void copy(__global const float *in, int in_off, int in_bstride, __global float *out,
                   int out_off, int out_bstride, int count) {
    const int i = (int)get_global_id(0);
    const int n = (int)get_global_id(1);
    if (i >= count)
        return;
    out[out_off + n * out_bstride + i] = in[in_off + n * in_bstride + i];
}

/* In place on a batch of row-major matrices (rows x cols, row stride ld):
 * x = x + bias[row] + r (relu), r being the same element of a residual
 * batch (row stride ldr, r_bstride apart) when has_residual. Finishes GEMMs
 * of libraries without fused epilogues.
 * NDRange: dim 0 = columns, dim 1 = rows, dim 2 = batch. */
__kernel void bias_relu(__global float *x, int off, int ld, int bstride, int cols,
                        __global const float *bias, int has_bias, int relu, __global const float *r,
                        int r_off, int ldr, int r_bstride, int has_residual) {
    const int col = (int)get_global_id(0);
    const int row = (int)get_global_id(1);
    const int n = (int)get_global_id(2);
    if (col >= cols)
        return;
    const int i = off + n * bstride + row * ld + col;
    float v = x[i] + (has_bias ? bias[row] : 0.0f);
    if (has_residual)
        v += r[r_off + n * r_bstride + row * ldr + col];
    x[i] = relu ? fmax(v, 0.0f) : v;
}
