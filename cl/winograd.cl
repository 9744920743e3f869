/* Winograd convolution F(m x m, 3 x 3) for 3x3, stride-1, dilation-1 layers.
 * With alpha = m + 2, every m x m block of output pixels (a tile) comes from
 * an alpha x alpha input patch:
 *   Y = A^T [ sum over ci of (G g G^T) .* (B^T d B) ] A,
 * where g is a 3x3 filter (transformed once, on the host, at load time) and
 * d a patch. The sum over input channels is, for each of the alpha^2
 * positions xi of the transformed domain, a matrix product
 *   M[xi] (out_c x cols) = U[xi] (out_c x in_c) x V[xi] (in_c x cols),
 * cols being the tiles of every image, image after image.
 *
 * Two ways to run it:
 * - winograd_input, the batched GEMM of cl/gemm.cl, winograd_output: V and
 *   M live in scratch space between the three launches (any device).
 * - winograd_fused (CPUs): one work-item transforms its tiles' patches of
 *   every input channel into local memory, multiplies, and transforms the
 *   result back, so that V and M never leave the caches.
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
 * A work-item handles TILES consecutive tiles (consecutive columns of V and
 * M), one per vector lane, so that the transforms' arithmetic and the
 * accesses to V and M are whole vectors. CPUs use 8 lanes (one AVX
 * register): each lane reads its patch rows as vectors, which an 8 x 8
 * transpose turns into vectors of tiles, and whole output tiles leave the
 * same way. GPUs use 1 lane: one tile per work-item, neighbouring
 * work-items on neighbouring tiles.
 *
 * Fusion, chosen at compile time so that the plain kernels carry none of it:
 * - PROLOGUE=1: every input value x of channel c is read as
 *   x * pre_scale[c] + pre_shift[c], then max(., 0) when pre_relu (a batch
 *   norm and ReLU ahead of the convolution). Padding stays zero: it pads the
 *   normalised tensor.
 * - RESIDUAL=1: a tensor of the output's layout (element (n, c, y, x) at
 *   res_off + n * res_bstride + (c * out_h + y) * out_w + x) is added after
 *   the bias and before the ReLU. It may be the output itself: the
 *   work-item that writes an element reads its residual first.
 * The kernels take the fusion arguments whatever the options; without the
 * option they are not read.
 *
 * NDRange of winograd_input and winograd_output: dim 0 = ceil(cols / TILES),
 * dim 1 = channels (input or output); winograd_fused: see below. */

#ifndef WINO_M
#define WINO_M 4 /* output tile side: 2 or 4 */
#endif
#ifndef TILES
#define TILES 8 /* tiles per work-item, one per vector lane: 1, 2, 4, 8 or 16 */
#endif
#ifndef PROLOGUE
#define PROLOGUE 0 /* 1: scale, shift (and ReLU) on the input; see above */
#endif
#ifndef RESIDUAL
#define RESIDUAL 0 /* 1: a residual added to the output; see above */
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

#if TILES == 8
/* c[k] = (r[0][k], r[1][k], ..., r[7][k]): three rounds of two-vector
 * shuffles written as vector literals of components, which compilers turn
 * into the unpack, shuffle and lane-permute instructions of AVX (a library
 * shuffle2() with a constant mask may not be). */
static void transpose8(const float8 *r, float8 *c) {
    float8 a[8], b[8];
#pragma unroll
    for (int i = 0; i < 8; i += 2) {
        const float8 x = r[i], y = r[i + 1];
        a[i] = (float8)(x.s0, y.s0, x.s1, y.s1, x.s4, y.s4, x.s5, y.s5);
        a[i + 1] = (float8)(x.s2, y.s2, x.s3, y.s3, x.s6, y.s6, x.s7, y.s7);
    }
#pragma unroll
    for (int i = 0; i < 8; i += 4) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const float8 x = a[i + h], y = a[i + h + 2];
            b[i + 2 * h] = (float8)(x.s0, x.s1, y.s0, y.s1, x.s4, x.s5, y.s4, y.s5);
            b[i + 2 * h + 1] = (float8)(x.s2, x.s3, y.s2, y.s3, x.s6, x.s7, y.s6, y.s7);
        }
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        c[i] = (float8)(b[i].lo, b[i + 4].lo);
        c[i + 4] = (float8)(b[i].hi, b[i + 4].hi);
    }
}
#endif

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

/* x86 CPUs with AVX2 (PoCL's clang defines __AVX2__ for such targets) move
 * the lanes of a patch row by a run-time amount with one variable permute
 * (vpermps). Elsewhere the row goes through memory: stored between zeros
 * and loaded back unaligned, which costs a failed store-to-load forwarding
 * (some 20 cycles) per row. On PoCL (Zen 4) the permute ran 64-channel 8x8
 * layers at batch 1 1.3-1.4x and 16-channel 32x32 layers at batch 32
 * 1.25-1.5x faster. OpenCL's own shuffle() with a run-time mask compiles
 * to a store and eight scalar loads. */
#if TILES == 8 && defined(__AVX2__) && defined(__clang__)
#define SHIFT_BY_PERMUTE 1
#else
#define SHIFT_BY_PERMUTE 0
#endif

/* Where a work-item reads its patches (lanes: tiles). Every patch row is
 * read as one vector of 8 floats that lies inside its image row; where the
 * patch overhangs the left or right edge, the vector is shifted by `shift`
 * lanes with zeros coming in, and rows above or below the input are
 * masked to zeros. */
typedef struct patch_map {
    int row[TILES][ALPHA];      /* float offset of each row's vector in the plane */
    int row_mask[TILES][ALPHA]; /* all ones when the row lies inside the input */
    int shift[TILES]; /* patch's first column minus the vector's (0 inside the input) */
#if SHIFT_BY_PERMUTE
    int8 perm[TILES]; /* lane l of the shifted vector is lane perm[l] of the read one */
    int8 keep[TILES]; /* ... where keep[l] is all ones; zero where it comes from outside */
#endif
} patch_map;

/* Whether the vector reads apply: images at least 8 pixels wide (narrower
 * rows are read float by float). */
static int vector_rows(int in_w) {
    return TILES == 8 && in_w >= 8;
}

static void map_patches(const int *base, const int *y0, const int *x0, int in_h, int in_w,
                        patch_map *pm) {
#pragma unroll
    for (int j = 0; j < TILES; j++) {
        const int xs = vector_rows(in_w) ? clamp(x0[j], 0, in_w - 8) : 0;
#pragma unroll
        for (int r = 0; r < ALPHA; r++) {
            const int iy = y0[j] + r;
            pm->row[j][r] = base[j] + clamp(iy, 0, in_h - 1) * in_w + xs;
            pm->row_mask[j][r] = -((iy >= 0) & (iy < in_h));
        }
        /* Beyond 8 lanes everything is padding: the shift saturates. */
        pm->shift[j] = clamp(x0[j] - xs, -8, 8);
#if SHIFT_BY_PERMUTE
        const int8 from = (int8)(0, 1, 2, 3, 4, 5, 6, 7) + pm->shift[j];
        pm->perm[j] = from & 7;
        pm->keep[j] = (from >= 0) & (from < 8);
#endif
    }
}

/* The prologue of one input channel: x * scale + shift, then max(., 0)
 * when relu. */
typedef struct channel_prologue {
    float scale, shift;
    int relu;
} channel_prologue;

/* v read through the prologue (as stored without PROLOGUE); T is v's type. */
#if PROLOGUE
#define NORMALISE(v, T, pro)                                                                    \
    ((pro)->relu ? fmax(fma((v), (T)((pro)->scale), (T)((pro)->shift)), (T)(0.0f))              \
                 : fma((v), (T)((pro)->scale), (T)((pro)->shift)))
#else
#define NORMALISE(v, T, pro) (v)
#endif

/* res[r * ALPHA + c] = (B^T d B)[r][c] for the patches d of a work-item's
 * tiles in one input plane, read through the channel's prologue. The
 * generic path (x0: per lane, the patch's first column) serves images
 * narrower than 8 pixels and other lane counts. */
static void input_tile(const __global float *plane, const patch_map *pm, const int *x0,
                       int in_w, const channel_prologue *pro, floatv *res) {
    /* Rows first: t[r][k] = (d B)[r][k]. */
    floatv t[ALPHA * ALPHA];
#pragma unroll
    for (int r = 0; r < ALPHA; r++) {
        floatv d[ALPHA];
#if TILES == 8
        if (vector_rows(in_w)) {
            /* Each lane's patch row as one vector (the first ALPHA floats),
             * then an 8 x 8 transpose turns lanes of rows into lanes of
             * tiles. */
            float8 rows[8], columns[8];
#pragma unroll
            for (int j = 0; j < 8; j++) {
                /* Normalised before the shift and the mask bring in the
                 * padding's zeros. */
                float8 v = NORMALISE(vload8(0, plane + pm->row[j][r]), float8, pro);
#if SHIFT_BY_PERMUTE
                /* Branch-free: an unshifted row permutes to itself. */
                v = __builtin_ia32_permvarsf256(v, pm->perm[j]);
                rows[j] = as_float8(as_int8(v) & pm->keep[j] & (int8)(pm->row_mask[j][r]));
#else
                if (pm->shift[j] != 0) {
                    /* Shifted through memory: an unaligned load from the
                     * vector stored between zeros. */
                    float pad[24];
                    vstore8((float8)(0.0f), 0, pad);
                    vstore8(v, 1, pad);
                    vstore8((float8)(0.0f), 2, pad);
                    v = vload8(0, pad + 8 + pm->shift[j]);
                }
                rows[j] = as_float8(as_int8(v) & (int8)(pm->row_mask[j][r]));
#endif
            }
            transpose8(rows, columns);
#pragma unroll
            for (int c = 0; c < ALPHA; c++)
                d[c] = columns[c];
        } else
#endif
        {
            float p[TILES][ALPHA];
#pragma unroll
            for (int j = 0; j < TILES; j++) {
                const __global float *row = plane + pm->row[j][r];
#pragma unroll
                for (int c = 0; c < ALPHA; c++) {
                    const int ix = x0[j] + c;
                    const int mask = pm->row_mask[j][r] & -((ix >= 0) & (ix < in_w));
                    const float x = NORMALISE(row[clamp(ix, 0, in_w - 1)], float, pro);
                    p[j][c] = as_float(as_int(x) & mask);
                }
            }
#pragma unroll
            for (int c = 0; c < ALPHA; c++)
                d[c] = GATHER(p, c);
        }
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
 * (lanes: tiles), as floats per lane: y[r * WINO_M + c][lane]. With a
 * residual the ReLU waits for it: store_tiles applies it after the sum;
 * without one it runs here, on whole vectors of tiles. */
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
            if (!RESIDUAL && relu)
                value = fmax(value, (floatv)(0.0f));
#if TILES == 1
            y[r * WINO_M + c][0] = value;
#else
            STOREV(value, 0, y[r * WINO_M + c]);
#endif
        }
    }
}

/* Where store_tiles finds the residual of one output plane: element (n, y,
 * x) at plane[n * bstride + y * out_w + x]. */
typedef struct residual_plane {
    const __global float *plane;
    int bstride;
} residual_plane;

/* Writes the pixels of the first `lanes` tiles of y that lie inside the
 * output plane (n, oy, ox: per lane, the image and the tile's first output
 * row and column), each plus its residual and then through the ReLU when
 * RESIDUAL (output_tile applied the ReLU otherwise). */
static void store_tiles(__global float *plane, int out_bstride, int out_h, int out_w,
                        const int *n, const int *oy, const int *ox, int lanes,
                        const residual_plane *res, int relu,
                        float y[WINO_M * WINO_M][TILES]) {
#if TILES == 8 && WINO_M == 4
    /* Whole tiles in every lane: two rows of each tile at a time, 8 x 8
     * transposed so that each lane's rows are two vectors of 4 pixels. */
    int whole = lanes == 8;
#pragma unroll
    for (int j = 0; j < 8; j++)
        whole &= (oy[j] + 4 <= out_h) & (ox[j] + 4 <= out_w);
    if (whole) {
#pragma unroll
        for (int r = 0; r < 4; r += 2) {
            float8 rows[8], lanes8[8];
#pragma unroll
            for (int c = 0; c < 4; c++) {
                rows[c] = vload8(0, y[r * 4 + c]);
                rows[4 + c] = vload8(0, y[(r + 1) * 4 + c]);
            }
            transpose8(rows, lanes8);
#pragma unroll
            for (int j = 0; j < 8; j++) {
                const int at = (oy[j] + r) * out_w + ox[j];
                float8 value = lanes8[j];
#if RESIDUAL
                const __global float *q = res->plane + n[j] * res->bstride + at;
                value += (float8)(vload4(0, q), vload4(0, q + out_w));
                if (relu)
                    value = fmax(value, (float8)(0.0f));
#endif
                __global float *p = plane + n[j] * out_bstride + at;
                vstore4(value.lo, 0, p);
                vstore4(value.hi, 0, p + out_w);
            }
        }
        return;
    }
#elif TILES == 8 && WINO_M == 2
    /* Whole tiles in every lane: the 4 pixels of each tile, 8 x 8
     * transposed (half of it zeros) so that each lane's tile is one vector:
     * two rows of 2 pixels. */
    int whole = lanes == 8;
#pragma unroll
    for (int j = 0; j < 8; j++)
        whole &= (oy[j] + 2 <= out_h) & (ox[j] + 2 <= out_w);
    if (whole) {
        float8 rows[8], lanes8[8];
#pragma unroll
        for (int k = 0; k < 4; k++) {
            rows[k] = vload8(0, y[k]);
            rows[4 + k] = (float8)(0.0f);
        }
        transpose8(rows, lanes8);
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const int at = oy[j] * out_w + ox[j];
            float4 value = lanes8[j].lo;
#if RESIDUAL
            const __global float *q = res->plane + n[j] * res->bstride + at;
            value += (float4)(vload2(0, q), vload2(0, q + out_w));
            if (relu)
                value = fmax(value, (float4)(0.0f));
#endif
            __global float *p = plane + n[j] * out_bstride + at;
            vstore2(value.lo, 0, p);
            vstore2(value.hi, 0, p + out_w);
        }
        return;
    }
#endif
    for (int j = 0; j < lanes; j++) {
        __global float *tile = plane + n[j] * out_bstride + oy[j] * out_w + ox[j];
#if RESIDUAL
        const __global float *rt = res->plane + n[j] * res->bstride + oy[j] * out_w + ox[j];
#define STORE_PIXEL(r, c)                                                                       \
    do {                                                                                        \
        const float v_ = y[(r) * WINO_M + (c)][j] + rt[(r) * out_w + (c)];                      \
        tile[(r) * out_w + (c)] = relu ? fmax(v_, 0.0f) : v_;                                   \
    } while (0)
#else
#define STORE_PIXEL(r, c) (tile[(r) * out_w + (c)] = y[(r) * WINO_M + (c)][j])
#endif
        const int rows = min(WINO_M, out_h - oy[j]), columns = min(WINO_M, out_w - ox[j]);
        if (rows == WINO_M && columns == WINO_M) {
#pragma unroll
            for (int r = 0; r < WINO_M; r++)
#pragma unroll
                for (int c = 0; c < WINO_M; c++)
                    STORE_PIXEL(r, c);
        } else {
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < columns; c++)
                    STORE_PIXEL(r, c);
        }
#undef STORE_PIXEL
    }
}

/* V[xi][ci][col] = (B^T d B)[xi] for the patch d of tile col in channel ci. */
__kernel void winograd_input(__global const float *in, int in_off, int in_bstride,
                             __global float *v, int v_off, int in_c, int in_h, int in_w,
                             int pad_top, int pad_left, int tiles_h, int tiles_w, int cols,
                             __global const float *pre_scale, __global const float *pre_shift,
                             int pre_relu) {
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
    patch_map pm;
    map_patches(base, y0, x0, in_h, in_w, &pm);
    channel_prologue pro = {1.0f, 0.0f, 0};
#if PROLOGUE
    pro.scale = pre_scale[ci];
    pro.shift = pre_shift[ci];
    pro.relu = pre_relu;
#endif
    floatv res[ALPHA * ALPHA];
    input_tile(in + in_off + ci * in_h * in_w, &pm, x0, in_w, &pro, res);

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

/* Output tile col of channel co = A^T M[.][co][col] A (+ bias) (+ residual)
 * (relu). */
__kernel void winograd_output(__global const float *mm, int m_off, __global float *out,
                              int out_off, int out_bstride, __global const float *bias,
                              int has_bias, int relu, int out_c, int out_h, int out_w,
                              int tiles_h, int tiles_w, int cols,
                              __global const float *residual, int res_off, int res_bstride) {
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
    residual_plane res = {0, res_bstride};
#if RESIDUAL
    res.plane = residual + res_off + co * out_h * out_w;
#endif
    store_tiles(out + out_off + co * out_h * out_w, out_bstride, out_h, out_w, n, oy, ox,
                min(TILES, cols - col0), &res, relu, y);
}

/* ------------------------------------------------------------------------ */
/* winograd_fused: the whole convolution of a work-item's tiles, for CPUs.
 *
 * The transformed input of all input channels (vt, ALPHA^2 x in_c vectors
 * of tiles in local memory, which a CPU keeps in its caches) feeds the
 * multiplications by U directly, CO_BLOCK output channels at a time, and the
 * output transform follows at once: V and M never travel through memory.
 * Here u is [out_c / CO_BLOCK][ALPHA^2][in_c][CO_BLOCK]: the CO_BLOCK filter
 * values that multiply one vector of V are neighbours, a block of output
 * channels reads its filters front to back, and out_c is rounded up to a
 * multiple of CO_BLOCK with zero filters, which the last block computes and
 * does not store.
 *
 * A work-item computes co_per_item output channels (a multiple of
 * CO_BLOCK): all of them when there are enough tiles to keep every core
 * busy, fewer when a batch of small images has few tiles, each work-item
 * then transforming its tiles' input anew.
 *
 * NDRange: dim 0 = ceil(cols / TILES), dim 1 = ceil(out_c / co_per_item);
 * one work-item per work-group. */

#ifndef CO_BLOCK
#define CO_BLOCK 8 /* output channels per pass: CO_BLOCK accumulator vectors (host: 8 or 12) */
#endif

__kernel void winograd_fused(__global const float *in, int in_off, int in_bstride,
                             __global float *out, int out_off, int out_bstride,
                             __global const float *u, __global const float *bias,
                             int has_bias, int relu, int in_c, int in_h, int in_w, int out_c,
                             int out_h, int out_w, int pad_top, int pad_left, int tiles_h,
                             int tiles_w, int cols, int co_per_item, __local floatv *vt,
                             __global const float *pre_scale, __global const float *pre_shift,
                             int pre_relu, __global const float *residual, int res_off,
                             int res_bstride) {
    const int col0 = (int)get_global_id(0) * TILES;
    const int co_first = (int)get_global_id(1) * co_per_item;
    const int co_end = min(out_c, co_first + co_per_item);
    if (col0 >= cols || co_first >= out_c)
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
    patch_map pm;
    map_patches(base, y0, x0, in_h, in_w, &pm);
    for (int ci = 0; ci < in_c; ci++) {
        channel_prologue pro = {1.0f, 0.0f, 0};
#if PROLOGUE
        pro.scale = pre_scale[ci];
        pro.shift = pre_shift[ci];
        pro.relu = pre_relu;
#endif
        floatv res[ALPHA * ALPHA];
        input_tile(image + ci * in_hw, &pm, x0, in_w, &pro, res);
#pragma unroll
        for (int xi = 0; xi < ALPHA * ALPHA; xi++)
            vt[xi * in_c + ci] = res[xi];
    }

    const int lanes = min(TILES, cols - col0);
    const int out_hw = out_h * out_w;
    for (int co0 = co_first; co0 < co_end; co0 += CO_BLOCK) {
        floatv mt[CO_BLOCK][ALPHA * ALPHA];
        for (int xi = 0; xi < ALPHA * ALPHA; xi++) {
            floatv acc[CO_BLOCK];
#pragma unroll
            for (int b = 0; b < CO_BLOCK; b++)
                acc[b] = (floatv)(0.0f);
            const __local floatv *vx = vt + xi * in_c;
            const __global float *ux =
                u + ((co0 / CO_BLOCK) * ALPHA * ALPHA + xi) * in_c * CO_BLOCK;
            for (int ci = 0; ci < in_c; ci++) {
                const floatv x = vx[ci];
                const __global float *uc = ux + ci * CO_BLOCK;
#pragma unroll
                for (int b = 0; b < CO_BLOCK; b++)
                    acc[b] = fma((floatv)(uc[b]), x, acc[b]);
            }
#pragma unroll
            for (int b = 0; b < CO_BLOCK; b++)
                mt[b][xi] = acc[b];
        }
        for (int b = 0; b < CO_BLOCK && co0 + b < co_end; b++) {
            float y[WINO_M * WINO_M][TILES];
            output_tile(mt[b], has_bias ? bias[co0 + b] : 0.0f, relu, y);
            residual_plane res = {0, res_bstride};
#if RESIDUAL
            res.plane = residual + res_off + (co0 + b) * out_hw;
#endif
            store_tiles(out + out_off + (co0 + b) * out_hw, out_bstride, out_h, out_w, n, oy,
                        ox, lanes, &res, relu, y);
        }
    }
}
