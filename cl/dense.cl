/* Fully connected layer with fused bias and ReLU:
 * out[n][u] = sum_i in[n][i] * weight[u][i] (+ bias[u]) (relu).
 *
 * One work-group per output element: its DENSE_WG work-items each sum a
 * strided share of the products, and a tree reduction in local memory adds
 * the partial sums. Every float sum thus has at most
 * in_features / DENSE_WG + log2(DENSE_WG) terms in a chain, which keeps the
 * rounding error small for the long rows of flattened feature maps.
 *
 * Views: element (n, i) at off + n * bstride + i. Index arithmetic is in int:
 * the host guarantees every buffer holds fewer than 2^31 floats.
 *
 * NDRange: dim 0 = units * DENSE_WG, dim 1 = batch; local (DENSE_WG, 1). */

#ifndef DENSE_WG
#define DENSE_WG 64 /* work-items per output: enough to hide memory latency on GPUs */
#endif
#if DENSE_WG < 1 || (DENSE_WG & (DENSE_WG - 1)) != 0
#error "DENSE_WG must be a power of two (tree reduction)"
#endif

__kernel __attribute__((reqd_work_group_size(DENSE_WG, 1, 1))) void
dense(__global const float *in, int in_off, int in_bstride, __global float *out, int out_off,
      int out_bstride, __global const float *weight, __global const float *bias, int has_bias,
      int relu, int in_features) {
    __local float partial[DENSE_WG];
    const int lid = (int)get_local_id(0);
    const int u = (int)get_group_id(0);
    const int n = (int)get_global_id(1);

    const __global float *x = in + in_off + n * in_bstride;
    const __global float *w = weight + u * in_features;
    float sum = 0.0f;
    for (int i = lid; i < in_features; i += DENSE_WG)
        sum += x[i] * w[i];
    partial[lid] = sum;
    barrier(CLK_LOCAL_MEM_FENCE);

    for (int span = DENSE_WG / 2; span > 0; span /= 2) {
        if (lid < span)
            partial[lid] += partial[lid + span];
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    if (lid == 0) {
        const float v = partial[0] + (has_bias ? bias[u] : 0.0f);
        out[out_off + n * out_bstride + u] = relu ? fmax(v, 0.0f) : v;
    }
}
