/* Strided windows of tensors with a fill value: slicing (positive origins,
 * steps >= 1) and constant padding (negative origins, steps 1).
 *
 * Views: element (n, c, y, x) at off + n * bstride + (c * h + y) * w + x.
 * Index arithmetic is in int: the host guarantees every buffer holds fewer
 * than 2^31 floats and every source coordinate fits in int. */

/* out(c, y, x) = in(c0 + c * sc, y0 + y * sy, x0 + x * sx) when inside the
 * input, else value.
 * NDRange: dim 0 = output columns, dim 1 = output rows,
 * dim 2 = batch * output channels. */
__kernel void window_copy(__global const float *in, int in_off, int in_bstride,
                          __global float *out, int out_off, int out_bstride, int in_c, int in_h,
                          int in_w, int out_c, int out_h, int out_w, int c0, int y0, int x0,
                          int sc, int sy, int sx, float value) {
    const int x = (int)get_global_id(0);
    const int y = (int)get_global_id(1);
    const int n = (int)get_global_id(2) / out_c;
    const int c = (int)get_global_id(2) - n * out_c;
    if (x >= out_w || y >= out_h)
        return;
    const int ic = c0 + c * sc;
    const int iy = y0 + y * sy;
    const int ix = x0 + x * sx;
    const bool inside = ic >= 0 && ic < in_c && iy >= 0 && iy < in_h && ix >= 0 && ix < in_w;
    out[out_off + n * out_bstride + (c * out_h + y) * out_w + x] =
        inside ? in[in_off + n * in_bstride + (ic * in_h + iy) * in_w + ix] : value;
}
