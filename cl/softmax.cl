/* Softmax over the channels of each pixel, numerically stable: the channel
 * maximum is subtracted before exponentiating, so exp never overflows and
 * the largest term is exactly 1.
 *
 * Views: element (n, c, p) at off + n * bstride + c * hw + p. Index
 * arithmetic is in int: the host guarantees every buffer holds fewer than
 * 2^31 floats.
 *
 * NDRange: dim 0 = pixels (hw), dim 1 = batch. */

__kernel void softmax_channels(__global const float *in, int in_off, int in_bstride,
                               __global float *out, int out_off, int out_bstride, int c, int hw) {
    const int p = (int)get_global_id(0);
    const int n = (int)get_global_id(1);
    if (p >= hw)
        return;
    const __global float *x = in + in_off + n * in_bstride + p;
    __global float *y = out + out_off + n * out_bstride + p;

    float peak = x[0];
    for (int ch = 1; ch < c; ch++)
        peak = fmax(peak, x[ch * hw]);
    float sum = 0.0f;
    for (int ch = 0; ch < c; ch++)
        sum += exp(x[ch * hw] - peak);
    /* Reading x again rather than caching the exponentials keeps any c in
     * registers; the input may alias the output, so x is read before y[ch]
     * is written for each channel. */
    const float inv = 1.0f / sum;
    for (int ch = 0; ch < c; ch++)
        y[ch * hw] = exp(x[ch * hw] - peak) * inv;
}
