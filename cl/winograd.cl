/* Winograd convolution F(m x m, 3 x 3) for 3x3, stride-1, dilation-1 layers:
 * the input and output transforms around the batched GEMM that does the
 * multiplications (cl/gemm.cl). With alpha = m + 2, every m x m block of
 * output pixels (a tile) is computed from an alpha x alpha input patch:
 *   Y = A^T [ sum over ci of (G g G^T) .* (B^T d B) ] A,
 * where g is a 3x3 filter (transformed once, on the host, at load time),
 * d a patch, and the sum over input channels is, for each of the alpha^2
 * positions xi of the transformed domain, one GEMM
 *   M[xi] (out_c x cols) = U[xi] (out_c x in_c) x V[xi] (in_c x cols),
 * cols being the tiles of every image of the pass, image after image.
 *
 * Layouts: the input and output are views (element (n, c, y, x) at
 * off + n * bstride + (c * h + y) * w + x); V is [alpha^2][in_c][cols] and M
 * is [alpha^2][out_c][cols], both row-major. Padding is free: a patch reads
 * zeros outside the input, and output pixels past the edge are not stored.
 * Index arithmetic is in int: the host guarantees every buffer holds fewer
 * than 2^31 floats.
 *
 * The transforms use the interpolation points 0, 1, -1, 2, -2 and infinity
 * for m = 4 (0, 1, -1 and infinity for m = 2), whose data-side coefficients
 * are small integers; tests/test_winograd.c measures the rounding error.
 *
 * Each work-item handles TILES consecutive tiles (consecutive columns of V
 * and M) of one channel, the tiles in the lanes of a vector: the transforms'
 * arithmetic and every access to V and M are then whole vectors, and only
 * the reads of the patches and the writes of the output pixels go lane by
 * lane. CPUs use 8 lanes (one AVX register); GPUs 1, one tile per
 * work-item with neighbouring work-items on neighbouring tiles.
 *
 * NDRange of both kernels: dim 0 = ceil(cols / TILES), dim 1 = channels. */

#ifndef WINO_M
#define WINO_M 4 /* output tile side: 2 or 4 */
#endif
#ifndef TILES
#define TILES 8 /* tiles per work-item, one per vector lane: 1, 2, 4, 8 or 16 */
#endif

#if WINO_M == 2
#define ALPHA 4
#elif WINO_M == 4
#define ALPHA 6
#else
#error "WINO_M must be 2 or 4"
#endif

#define PASTE(a, b) a##b
#define JOIN(a, b) PASTE(a, b)
#if TILES == 1
#define floatv float
#define LOADV(i, p) ((p)[i])
#define STOREV(v, i, p) ((p)[i] = (v))
#elif TILES == 2 || TILES == 4 || TILES == 8 || TILES == 16
#define floatv JOIN(float, TILES)
#define LOADV(i, p) JOIN(vload, TILES)(i, p)
#define STOREV(v, i, p) JOIN(vstore, TILES)(v, i, p)
#else
#error "TILES must be 1, 2, 4, 8 or 16"
#endif

/* The vector of lane values p[0][c], p[1][c], ... */
#if TILES == 1
#define GATHER(p, c) (p[0][c])
#elif TILES == 2
#define GATHER(p, c) ((float2)(p[0][c], p[1][c]))
#elif TILES == 4
#define GATHER(p, c) ((float4)(p[0][c], p[1][c], p[2][c], p[3][c]))
#elif TILES == 8
#define GATHER(p, c)                                                                            \
    ((float8)(p[0][c], p[1][c], p[2][c], p[3][c], p[4][c], p[5][c], p[6][c], p[7][c]))
#else
#define GATHER(p, c)                                                                            \
    ((float16)(p[0][c], p[1][c], p[2][c], p[3][c], p[4][c], p[5][c], p[6][c], p[7][c],        \
               p[8][c], p[9][c], p[10][c], p[11][c], p[12][c], p[13][c], p[14][c], p[15][c]))
#endif

/* r[k * rs] = (B^T x)[k] for one line x[k * xs] of a patch. */
#define INPUT_LINE(x, xs, r, rs)                                                                \
    do {                                                                                        \
        if (WINO_M == 2) {                                                                      \
            const floatv x0_ = x[0], x1_ = x[xs], x2_ = x[2 * (xs)], x3_ = x[3 * (xs)];        \
            r[0] = x0_ - x2_;                                                                   \
            r[rs] = x1_ + x2_;                                                                  \
            r[2 * (rs)] = x2_ - x1_;                                                            \
            r[3 * (rs)] = x1_ - x3_;                                                            \
        } else {                                                                                \
            const floatv x0_ = x[0], x1_ = x[xs], x2_ = x[2 * (xs)];                            \
            const floatv x3_ = x[3 * (xs)], x4_ = x[4 * (xs)], x5_ = x[5 * (xs)];               \
            r[0] = 4.0f * x0_ - 5.0f * x2_ + x4_;                                               \
            r[rs] = x3_ + x4_ - 4.0f * (x1_ + x2_);                                             \
            r[2 * (rs)] = x4_ - x3_ + 4.0f * (x1_ - x2_);                                       \
            r[3 * (rs)] = x4_ - x2_ + 2.0f * (x3_ - x1_);                                       \
            r[4 * (rs)] = x4_ - x2_ + 2.0f * (x1_ - x3_);                                       \
            r[5 * (rs)] = 4.0f * x1_ - 5.0f * x3_ + x5_;                                        \
        }                                                                                       \
    } while (0)

/* y[k * ys] = (A^T x)[k] for one line x[k * xs] of a transformed tile. */
#define OUTPUT_LINE(x, xs, y, ys)                                                               \
    do {                                                                                        \
        if (WINO_M == 2) {                                                                      \
            y[0] = x[0] + x[xs] + x[2 * (xs)];                                                  \
            y[ys] = x[xs] - x[2 * (xs)] - x[3 * (xs)];                                          \
        } else {                                                                                \
            const floatv s12_ = x[xs] + x[2 * (xs)], d12_ = x[xs] - x[2 * (xs)];                \
            const floatv s34_ = x[3 * (xs)] + x[4 * (xs)], d34_ = x[3 * (xs)] - x[4 * (xs)];    \
            y[0] = x[0] + s12_ + s34_;                                                          \
            y[ys] = d12_ + 2.0f * d34_;                                                         \
            y[2 * (ys)] = s12_ + 4.0f * s34_;                                                   \
            y[3 * (ys)] = d12_ + 8.0f * d34_ + x[5 * (xs)];                                     \
        }                                                                                       \
    } while (0)

/* c[k] = (r[0][k], r[1][k], ..., r[7][k]): three rounds of two-vector
 * shuffles, which compilers map onto the unpack and lane-permute
 * instructions of AVX. */
static void transpose8(const float8 *r, float8 *c) {
    const uint8 pair_lo = (uint8)(0, 8, 1, 9, 4, 12, 5, 13);
    const uint8 pair_hi = (uint8)(2, 10, 3, 11, 6, 14, 7, 15);
    const uint8 quad_lo = (uint8)(0, 1, 8, 9, 4, 5, 12, 13);
    const uint8 quad_hi = (uint8)(2, 3, 10, 11, 6, 7, 14, 15);
    const uint8 half_lo = (uint8)(0, 1, 2, 3, 8, 9, 10, 11);
    const uint8 half_hi = (uint8)(4, 5, 6, 7, 12, 13, 14, 15);
    float8 a[8], b[8];
#pragma unroll
    for (int i = 0; i < 8; i += 2) {
        a[i] = shuffle2(r[i], r[i + 1], pair_lo);
        a[i + 1] = shuffle2(r[i], r[i + 1], pair_hi);
    }
#pragma unroll
    for (int i = 0; i < 8; i += 4) {
        b[i] = shuffle2(a[i], a[i + 2], quad_lo);
        b[i + 1] = shuffle2(a[i], a[i + 2], quad_hi);
        b[i + 2] = shuffle2(a[i + 1], a[i + 3], quad_lo);
        b[i + 3] = shuffle2(a[i + 1], a[i + 3], quad_hi);
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        c[i] = shuffle2(b[i], b[i + 4], half_lo);
        c[i + 4] = shuffle2(b[i], b[i + 4], half_hi);
    }
}

/* Where the tiles of a work-item lie: per lane, the image and the first
 * output row and column. One division for the first lane; the others step
 * along the row of tiles, to the next row and the next image. Lanes past
 * the last tile repeat it. */
static void locate(int col0, int cols, int tiles_w, int tiles, int *n, int *oy, int *ox) {
    int img = col0 / tiles;
    const int t = col0 - img * tiles;
    int ty = t / tiles_w;
    int tx = t - ty * tiles_w;
#pragma unroll
    for (int j = 0; j < TILES; j++) {
        n[j] = img;
        oy[j] = ty * WINO_M;
        ox[j] = tx * WINO_M;
        if (col0 + j + 1 < cols && ++tx == tiles_w) {
            tx = 0;
            if (++ty * tiles_w == tiles) {
                ty = 0;
                img++;
            }
        }
    }
}

/* res[r * ALPHA + c] = (B^T d B)[r][c] for the patches d of a work-item's
 * tiles in one input plane (lanes: tiles). base, y0 and x0 give, per lane,
 * the image's offset and the patch's first row and column (negative in the
 * padding). */
static void input_tile(const __global float *plane, const int *base, const int *y0,
                       const int *x0, int in_h, int in_w, floatv *res) {
    /* Rows first: t[r][k] = (d B)[r][k]. Each lane reads its patch row
     * with vector loads when the row lies inside the input; rows that
     * touch the padding are read at clamped indices, which keep every load
     * inside the plane, and masked: the masks are all ones inside the input
     * and zero in the padding. */
    floatv t[ALPHA * ALPHA];
#pragma unroll
    for (int r = 0; r < ALPHA; r++) {
        floatv d[ALPHA];
#if TILES == 8
        /* Each lane's patch row as one vector (the first ALPHA floats), then
         * an 8 x 8 transpose turns lanes of rows into lanes of tiles. */
        float8 rows[8], columns[8];
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const int iy = y0[j] + r;
            const __global float *row = plane + base[j] + clamp(iy, 0, in_h - 1) * in_w;
            if (iy >= 0 && iy < in_h && x0[j] >= 0 && x0[j] + 8 <= in_w) {
                rows[j] = vload8(0, row + x0[j]);
            } else {
                const int row_mask = -((iy >= 0) & (iy < in_h));
                int lanes[8];
#pragma unroll
                for (int c = 0; c < 8; c++) {
                    const int ix = x0[j] + c;
                    const int mask = row_mask & -((ix >= 0) & (ix < in_w));
                    lanes[c] = as_int(row[clamp(ix, 0, in_w - 1)]) & mask;
                }
                rows[j] = as_float8(vload8(0, lanes));
            }
        }
        transpose8(rows, columns);
#pragma unroll
        for (int c = 0; c < ALPHA; c++)
            d[c] = columns[c];
#else
        float p[TILES][ALPHA];
#pragma unroll
        for (int j = 0; j < TILES; j++) {
            const int iy = y0[j] + r;
            const __global float *row = plane + base[j] + clamp(iy, 0, in_h - 1) * in_w;
            const int row_mask = -((iy >= 0) & (iy < in_h));
#pragma unroll
            for (int c = 0; c < ALPHA; c++) {
                const int ix = x0[j] + c;
                const int mask = row_mask & -((ix >= 0) & (ix < in_w));
                p[j][c] = as_float(as_int(row[clamp(ix, 0, in_w - 1)]) & mask);
            }
        }
#pragma unroll
        for (int c = 0; c < ALPHA; c++)
            d[c] = GATHER(p, c);
#endif
        INPUT_LINE(d, 1, (t + r * ALPHA), 1);
    }

    /* Then columns: B^T (d B). */
#pragma unroll
    for (int c = 0; c < ALPHA; c++) {
        floatv col[ALPHA];
        INPUT_LINE((t + c), ALPHA, col, 1);
#pragma unroll
        for (int r = 0; r < ALPHA; r++)
            res[r * ALPHA + c] = col[r];
    }
}

/* y[r][c] = (A^T x A)[r][c] (+ bias) (relu) for a transformed tile x
 * (lanes: tiles), as floats per lane: y[r * WINO_M + c][lane]. */
static void output_tile(const floatv *x, float bias, int relu, float y[WINO_M * WINO_M][TILES]) {
    /* Columns first: t = A^T x, then rows: (A^T x) A. */
    floatv t[WINO_M * ALPHA];
#pragma unroll
    for (int c = 0; c < ALPHA; c++)
        OUTPUT_LINE((x + c), ALPHA, (t + c), ALPHA);
#pragma unroll
    for (int r = 0; r < WINO_M; r++) {
        floatv yr[WINO_M];
        OUTPUT_LINE((t + r * ALPHA), 1, yr, 1);
#pragma unroll
        for (int c = 0; c < WINO_M; c++) {
            floatv value = yr[c] + bias;
            if (relu)
                value = fmax(value, (floatv)(0.0f));
#if TILES == 1
            y[r * WINO_M + c][0] = value;
#else
            STOREV(value, 0, y[r * WINO_M + c]);
#endif
        }
    }
}

/* Writes the pixels of the first `lanes` tiles of y that lie inside the
 * output plane (n, oy, ox: per lane, the image and the tile's first output
 * row and column). */
static void store_tiles(__global float *plane, int out_bstride, int out_h, int out_w,
                        const int *n, const int *oy, const int *ox, int lanes,
                        float y[WINO_M * WINO_M][TILES]) {
    for (int j = 0; j < lanes; j++) {
        __global float *tile = plane + n[j] * out_bstride + oy[j] * out_w + ox[j];
        const int rows = min(WINO_M, out_h - oy[j]), columns = min(WINO_M, out_w - ox[j]);
        if (rows == WINO_M && columns == WINO_M) {
#pragma unroll
            for (int r = 0; r < WINO_M; r++)
#pragma unroll
                for (int c = 0; c < WINO_M; c++)
                    tile[r * out_w + c] = y[r * WINO_M + c][j];
        } else {
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < columns; c++)
                    tile[r * out_w + c] = y[r * WINO_M + c][j];
        }
    }
}

/* V[xi][ci][col] = (B^T d B)[xi] for the patch d of tile col in channel ci. */
__kernel void winograd_input(__global const float *in, int in_off, int in_bstride,
                             __global float *v, int v_off, int in_c, int in_h, int in_w,
                             int pad_top, int pad_left, int tiles_h, int tiles_w, int cols) {
    const int col0 = (int)get_global_id(0) * TILES;
    const int ci = (int)get_global_id(1);
    if (col0 >= cols)
        return;

    int base[TILES], y0[TILES], x0[TILES];
    locate(col0, cols, tiles_w, tiles_h * tiles_w, base, y0, x0);
#pragma unroll
    for (int j = 0; j < TILES; j++) {
        base[j] *= in_bstride;
        y0[j] -= pad_top;
        x0[j] -= pad_left;
    }
    floatv res[ALPHA * ALPHA];
    input_tile(in + in_off + ci * in_h * in_w, base, y0, x0, in_h, in_w, res);

    /* Stored a vector of tiles at a time. */
    __global float *dst = v + v_off + ci * cols + col0;
    const int plane_stride = in_c * cols;
    const int full = col0 + TILES <= cols;
#pragma unroll
    for (int xi = 0; xi < ALPHA * ALPHA; xi++) {
        __global float *p = dst + xi * plane_stride;
        if (full) {
            STOREV(res[xi], 0, p);
        } else {
            float lanes[TILES];
#if TILES == 1
            lanes[0] = res[xi];
#else
            STOREV(res[xi], 0, lanes);
#endif
            for (int j = 0; j < cols - col0; j++)
                p[j] = lanes[j];
        }
    }
}

/* Output tile col of channel co = A^T M[.][co][col] A (+ bias) (relu). */
__kernel void winograd_output(__global const float *mm, int m_off, __global float *out,
                              int out_off, int out_bstride, __global const float *bias,
                              int has_bias, int relu, int out_c, int out_h, int out_w,
                              int tiles_h, int tiles_w, int cols) {
    const int col0 = (int)get_global_id(0) * TILES;
    const int co = (int)get_global_id(1);
    if (col0 >= cols)
        return;

    /* Read a vector of tiles at a time (past the last tile, lanes repeat
     * it). */
    const __global float *src = mm + m_off + co * cols + col0;
    const int plane_stride = out_c * cols;
    const int full = col0 + TILES <= cols;
    floatv x[ALPHA * ALPHA];
#pragma unroll
    for (int xi = 0; xi < ALPHA * ALPHA; xi++) {
        const __global float *p = src + xi * plane_stride;
        if (full) {
            x[xi] = LOADV(0, p);
        } else {
            float lanes[TILES];
            for (int j = 0; j < TILES; j++)
                lanes[j] = p[min(j, cols - 1 - col0)];
#if TILES == 1
            x[xi] = lanes[0];
#else
            x[xi] = LOADV(0, lanes);
#endif
        }
    }
    float y[WINO_M * WINO_M][TILES];
    output_tile(x, has_bias ? bias[co] : 0.0f, relu, y);

    int n[TILES], oy[TILES], ox[TILES];
    locate(col0, cols, tiles_w, tiles_h * tiles_w, n, oy, ox);
    store_tiles(out + out_off + co * out_h * out_w, out_bstride, out_h, out_w, n, oy, ox,
                min(TILES, cols - col0), y);
}

/* ------------------------------------------------------------------------ */
/* winograd_fused: the whole convolution of a work-item's tiles, for CPUs.
 *
 * The transformed input of all input channels (vt, ALPHA^2 x in_c vectors
 * of tiles in local memory, which a CPU keeps in its caches) feeds the
 * multiplications by U directly, CO_BLOCK output channels at a time, and the
 * output transform follows at once: V and M never travel through memory.
 * u is [ALPHA^2][out_c][in_c], as the GEMM path has it.
 *
 * NDRange: dim 0 = ceil(cols / TILES); one work-item per work-group. */

#ifndef NOGEMM
#define NOGEMM 0
#endif
#ifndef CO_BLOCK
#define CO_BLOCK 8 /* output channels per pass: CO_BLOCK accumulator vectors */
#endif

__kernel void winograd_fused(__global const float *in, int in_off, int in_bstride,
                             __global float *out, int out_off, int out_bstride,
                             __global const float *u, __global const float *bias, int has_bias,
                             int relu, int in_c, int in_h, int in_w, int out_c, int out_h,
                             int out_w, int pad_top, int pad_left, int tiles_h, int tiles_w,
                             int cols, __local floatv *vt) {
    const int col0 = (int)get_global_id(0) * TILES;
    if (col0 >= cols)
        return;

    int n[TILES], oy[TILES], ox[TILES], base[TILES], y0[TILES], x0[TILES];
    locate(col0, cols, tiles_w, tiles_h * tiles_w, n, oy, ox);
#pragma unroll
    for (int j = 0; j < TILES; j++) {
        base[j] = n[j] * in_bstride;
        y0[j] = oy[j] - pad_top;
        x0[j] = ox[j] - pad_left;
    }

    /* vt[xi * in_c + ci]: the transformed patches of every input channel. */
    const __global float *image = in + in_off;
    const int in_hw = in_h * in_w;
    for (int ci = 0; ci < in_c; ci++) {
        floatv res[ALPHA * ALPHA];
        input_tile(image + ci * in_hw, base, y0, x0, in_h, in_w, res);
#pragma unroll
        for (int xi = 0; xi < ALPHA * ALPHA; xi++)
            vt[xi * in_c + ci] = res[xi];
    }

    const int lanes = min(TILES, cols - col0);
    const int out_hw = out_h * out_w;
    for (int co0 = 0; co0 < out_c; co0 += CO_BLOCK) {
        /* Channels past out_c in the last block repeat the last one and
         * are not stored. */
        const __global float *urow[CO_BLOCK];
#pragma unroll
        for (int b = 0; b < CO_BLOCK; b++)
            urow[b] = u + min(co0 + b, out_c - 1) * in_c;
        floatv mt[CO_BLOCK][ALPHA * ALPHA];
        for (int xi = 0; xi < ALPHA * ALPHA; xi++) {
            floatv acc[CO_BLOCK];
#pragma unroll
            for (int b = 0; b < CO_BLOCK; b++)
                acc[b] = (floatv)(0.0f);
            const __local floatv *vx = vt + xi * in_c;
            const int uoff = xi * out_c * in_c;
            for (int ci = 0; ci < (NOGEMM ? 1 : in_c); ci++) {
                const floatv x = vx[ci];
#pragma unroll
                for (int b = 0; b < CO_BLOCK; b++)
                    acc[b] = fma((floatv)(urow[b][uoff + ci]), x, acc[b]);
            }
#pragma unroll
            for (int b = 0; b < CO_BLOCK; b++)
                mt[b][xi] = acc[b];
        }
        for (int b = 0; b < CO_BLOCK && co0 + b < out_c; b++) {
            float y[WINO_M * WINO_M][TILES];
            output_tile(mt[b], has_bias ? bias[co0 + b] : 0.0f, relu, y);
            store_tiles(out + out_off + (co0 + b) * out_hw, out_bstride, out_h, out_w, n, oy,
                        ox, lanes, y);
        }
    }
}
