/* Single-precision GEMM with fused bias and ReLU, batched over A, B and C:
 * C[b] = A[b] x B'[b] (+ bias[row]) (+ R[b]) (relu), all row-major with
 * arbitrary leading dimensions and offsets, for any M, N and K. A[b] starts
 * at a_off + b * a_stride (a_stride 0 shares one A, as convolutions do; the
 * Winograd domain has one A per transformed tap).
 *
 * Two optional fusions:
 * - a prologue on B: B'[k][n] = B[k][n] * pre_scale[k] + pre_shift[k], then
 *   max(., 0) when pre_relu (a batch norm, and its ReLU, on the input of a
 *   1x1 convolution); without it B' = B.
 * - a residual R[b] (M x N at r_off + b * r_stride, row stride ldr), added
 *   after the bias and before the ReLU. Each element of R is read by the
 *   work-item that writes the same element of C, just before it writes it,
 *   so R may be C itself (an in-place sum).
 *
 * Two kernels for two kinds of device:
 * - gemm_tiled (GPUs): each work-group computes a TILE_M x TILE_N block of C,
 *   staging TILE_K-deep slices of A and B in local memory, which many
 *   work-items then share.
 * - gemm_block (CPUs): no local memory and no barriers. On a CPU local memory
 *   is ordinary memory, so staging is a copy, and a barrier makes the
 *   compiler keep every work-item's accumulators in memory between the
 *   regions it splits the kernel into. Instead each work-item holds a
 *   BLOCK_M x (BLOCK_N * VW) block of C in registers and streams A and B
 *   from the caches: per k, BLOCK_N vector loads of B, BLOCK_M scalar loads
 *   of A and BLOCK_M * BLOCK_N vector multiply-adds. The loops over the
 *   register block carry `#pragma unroll`: PoCL does not unroll them by
 *   itself, and rolled loops keep the accumulators in memory (5x slower).
 *
 * Index arithmetic is in int: the host guarantees every buffer holds fewer
 * than 2^31 floats. */

#ifndef VW
#define VW 4 /* columns of C per vector: each A value feeds VW lanes */
#endif
#if VW != 2 && VW != 4 && VW != 8 && VW != 16
#error "VW must be an OpenCL vector width: 2, 4, 8 or 16"
#endif

#define PASTE(a, b) a##b
#define JOIN(a, b) PASTE(a, b)
#define floatv JOIN(float, VW)
#define vloadv JOIN(vload, VW)
#define vstorev JOIN(vstore, VW)

/* The prologue on one vector of a row k of B: v * scale + shift, then
 * max(., 0) when relu. */
static inline floatv prologue(floatv v, float scale, float shift, int relu) {
    v = fma(v, (floatv)(scale), (floatv)(shift));
    return relu ? fmax(v, (floatv)(0.0f)) : v;
}

/* Adds the bias of a row and, when has_residual, the VW columns from col on
 * of the residual's row rrow; applies ReLU and stores the VW columns from
 * col on of C's row crow (fewer at the right edge of C). */
static void store_row(__global float *crow, const __global float *rrow, int has_residual, int col,
                      int n, floatv v, float bias, int relu) {
    const int full = col + VW <= n;
    v += bias;
    if (has_residual) {
        if (full) {
            v += vloadv(0, rrow + col);
        } else {
            float lanes[VW];
            for (int j = 0; j < VW; j++)
                lanes[j] = col + j < n ? rrow[col + j] : 0.0f;
            v += vloadv(0, lanes);
        }
    }
    if (relu)
        v = fmax(v, (floatv)(0.0f));
    if (full) {
        vstorev(v, 0, crow + col);
    } else {
        float lanes[VW];
        vstorev(v, 0, lanes);
        for (int j = 0; j < VW && col + j < n; j++)
            crow[col + j] = lanes[j];
    }
}

/* ------------------------------------------------------------------------ */
/* gemm_tiled: local-memory tiles for GPUs.
 *
 * Each work-item keeps a register block of WPT_M rows by VW contiguous
 * columns. A work-item's rows are strided by TILE_M / WPT_M so that its A
 * reads spread over the tile.
 *
 * NDRange: dim 0 = ceil(N / TILE_N) * (TILE_N / VW),
 *          dim 1 = ceil(M / TILE_M) * (TILE_M / WPT_M), dim 2 = batch;
 * local size (TILE_N / VW, TILE_M / WPT_M, 1). */

#ifndef TILE_M
#define TILE_M 32 /* rows of C per work-group */
#endif
#ifndef TILE_N
#define TILE_N 64 /* columns of C per work-group */
#endif
#ifndef TILE_K
#define TILE_K 16 /* depth of the A and B slices staged in local memory per step */
#endif
#ifndef WPT_M
#define WPT_M 4 /* rows of C per work-item: each B vector read feeds WPT_M multiply-adds */
#endif

#if TILE_M % WPT_M != 0
#error "TILE_M must be a multiple of WPT_M"
#endif
#if TILE_N % VW != 0
#error "TILE_N must be a multiple of VW"
#endif

#define THREADS_M (TILE_M / WPT_M)
#define THREADS_N (TILE_N / VW)
#define THREADS (THREADS_M * THREADS_N)

#if (TILE_M * TILE_K) % THREADS != 0
#error "the work-group must load the A tile in whole rounds: TILE_M * TILE_K % threads != 0"
#endif
#if (TILE_K * THREADS_N) % THREADS != 0
#error "the work-group must load the B tile in whole rounds: TILE_K * TILE_N / VW % threads != 0"
#endif

__kernel __attribute__((reqd_work_group_size(THREADS_N, THREADS_M, 1))) void
gemm_tiled(int m, int n, int k, __global const float *a, int a_off, int lda, int a_stride,
           __global const float *b, int b_off, int ldb, int b_stride, __global float *c, int c_off,
           int ldc, int c_stride, __global const float *bias, int has_bias, int relu,
           __global const float *pre_scale, __global const float *pre_shift,
           __global const float *residual, int r_off, int ldr, int r_stride, int has_residual,
           int has_pre, int pre_relu) {
    /* A is stored transposed ([k][m]) so that a work-item's row values for
     * one k are a short strided walk through one local row. */
    __local float a_tile[TILE_K][TILE_M];
    __local float b_tile[TILE_K][TILE_N];

    const int tx = (int)get_local_id(0);
    const int ty = (int)get_local_id(1);
    const int tid = ty * THREADS_N + tx;
    const int row0 = (int)get_group_id(1) * TILE_M;
    const int col0 = (int)get_group_id(0) * TILE_N;
    const int batch = (int)get_global_id(2);
    const __global float *bb = b + b_off + batch * b_stride;
    const __global float *aa = a + a_off + batch * a_stride;
    /* Whether this work-group's columns are all inside N: then B moves in
     * whole vectors. */
    const int full_n = col0 + TILE_N <= n;

    floatv acc[WPT_M];
    for (int i = 0; i < WPT_M; i++)
        acc[i] = (floatv)(0.0f);

    for (int k0 = 0; k0 < k; k0 += TILE_K) {
        const int full_k = k0 + TILE_K <= k;
        /* Consecutive work-items load consecutive k of one row of A. */
        for (int e = tid; e < TILE_M * TILE_K; e += THREADS) {
            const int kk = e % TILE_K;
            const int mm = e / TILE_K;
            const int r = row0 + mm;
            const int kc = k0 + kk;
            a_tile[kk][mm] = (r < m && kc < k) ? aa[r * lda + kc] : 0.0f;
        }
        /* B moves as vectors of VW columns; consecutive work-items load
         * consecutive vectors of one row. The prologue is applied here, once
         * per element and work-group, outside the multiply-add loop; the
         * zeros past K and N stay zeros. */
        for (int e = tid; e < TILE_K * THREADS_N; e += THREADS) {
            const int vn = e % THREADS_N;
            const int kk = e / THREADS_N;
            const int kr = k0 + kk;
            const int col = col0 + vn * VW;
            const float scale = has_pre && kr < k ? pre_scale[kr] : 1.0f;
            const float shift = has_pre && kr < k ? pre_shift[kr] : 0.0f;
            if (full_n && full_k) {
                floatv v = vloadv(0, bb + kr * ldb + col);
                if (has_pre)
                    v = prologue(v, scale, shift, pre_relu);
                vstorev(v, 0, &b_tile[kk][vn * VW]);
            } else {
                for (int j = 0; j < VW; j++) {
                    float v = 0.0f;
                    if (kr < k && col + j < n) {
                        v = bb[kr * ldb + col + j];
                        if (has_pre) {
                            v = fma(v, scale, shift);
                            v = pre_relu ? fmax(v, 0.0f) : v;
                        }
                    }
                    b_tile[kk][vn * VW + j] = v;
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int kk = 0; kk < TILE_K; kk++) {
            const floatv bv = vloadv(tx, &b_tile[kk][0]);
            for (int i = 0; i < WPT_M; i++)
                acc[i] += a_tile[kk][ty + i * THREADS_M] * bv;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    __global float *cc = c + c_off + batch * c_stride;
    const __global float *rr = has_residual ? residual + r_off + batch * r_stride : residual;
    const int col = col0 + tx * VW;
    if (col >= n)
        return;
    for (int i = 0; i < WPT_M; i++) {
        const int r = row0 + ty + i * THREADS_M;
        if (r >= m)
            break;
        store_row(cc + r * ldc, has_residual ? rr + r * ldr : rr, has_residual, col, n, acc[i],
                  has_bias ? bias[r] : 0.0f, relu);
    }
}

/* ------------------------------------------------------------------------ */
/* gemm_block: register blocks over a packed panel of B, for CPUs.
 *
 * A work-group is one work-item. It owns the rows [row0, row0 + group_rows)
 * of C over panel_cols columns from col0 (one image), and works through K
 * in steps of panel_depth rows:
 * 1. it copies that slice of B (prologue applied) into local memory as
 *    strips of STRIP = BLOCK_N * VW columns, each strip depth x STRIP
 *    contiguous floats;
 * 2. for each BLOCK_M rows of its C, for each strip, it accumulates a
 *    BLOCK_M x STRIP block in registers (per k: BLOCK_N vector loads from
 *    the strip, BLOCK_M scalar loads of A, BLOCK_M * BLOCK_N vector
 *    multiply-adds) and stores it.
 * Read in place, B's rows are ldb floats apart: 4 KiB for 32x32 images,
 * so the rows a block streams all fall into the same L1 set, each on a
 * page of its own where the hardware prefetchers stop. The copy reads B
 * along its rows instead, once per work-group rather than once per block
 * of rows, and the blocks then stream contiguous strips; the prologue runs
 * once per element of B rather than once per block of rows.
 *
 * When K exceeds panel_depth, C holds the partial sums between the steps:
 * the first step adds the residual (so that R may be C itself), the last
 * the bias and the ReLU. Rows past M in the last block of rows repeat row
 * M - 1 (so that the loops stay branch-free) and are not stored; columns
 * past N are packed as zeros and not stored. A block of rows of at most
 * TAIL_M rows runs with TAIL_M rows of registers, so that M = 16 or 32 do
 * not pay for 18 or 36 rows.
 *
 * The loops over the register block carry `#pragma unroll`: PoCL does not
 * unroll them by itself, and rolled loops keep the accumulators in memory
 * (5x slower). The prologue sits in the copy, so it is chosen at compile
 * time rather than tested there: three entry points share one body,
 * gemm_block (no prologue), gemm_block_pre and gemm_block_pre_relu, each
 * passing constant flags that the compiler folds once it inlines the body.
 *
 * No barriers: a barrier makes the compiler keep every work-item's
 * accumulators in memory between the regions it splits the kernel into,
 * and one work-item per group needs none.
 *
 * NDRange: dim 0 = ceil(M / group_rows), dim 1 = ceil(N / panel_cols),
 *          dim 2 = batch; local size (1, 1, 1). group_rows is a multiple of
 *          BLOCK_M, panel_cols of STRIP, and panel_cols * panel_depth is at
 *          most PANEL_FLOATS. */

#ifndef BLOCK_M
#define BLOCK_M 6 /* rows of C per register block: each B vector feeds BLOCK_M multiply-adds */
#endif
#ifndef BLOCK_N
#define BLOCK_N 2 /* vectors of C per row and block: each A value feeds BLOCK_N vectors */
#endif
#ifndef TAIL_M
#define TAIL_M 4 /* rows of the narrower register block for a short last block of rows */
#endif
#ifndef PANEL_FLOATS
#define PANEL_FLOATS 4096 /* floats of local memory holding the packed slice of B */
#endif
#ifndef PACK_PREFETCH
#define PACK_PREFETCH 4 /* rows of B ahead whose cache lines the copy prefetches */
#endif
#if BLOCK_M < 1 || BLOCK_M > 8 || BLOCK_N < 1 || BLOCK_N > 4
#error "BLOCK_M must be 1 to 8 and BLOCK_N 1 to 4: the accumulators must fit in registers"
#endif
#if TAIL_M < 1 || TAIL_M > BLOCK_M
#error "TAIL_M must be 1 to BLOCK_M"
#endif
#define STRIP (BLOCK_N * VW)
#if PANEL_FLOATS < STRIP
#error "PANEL_FLOATS must hold at least one row of a strip"
#endif

/* A software prefetch where the compiler has one for CPUs (PoCL's own
 * prefetch() does nothing); elsewhere nothing. */
#if defined(CLNET_DEVICE_CPU) && defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define PREFETCH(p) ((void)0)
#endif

/* What a work-item of gemm_block reads besides A and B, and where it
 * writes; pointers already moved to its batch entry. */
typedef struct block_io {
    __global float *c;
    int ldc;
    __global const float *bias;
    int has_bias, relu;
    __global const float *residual; /* NULL when has_residual is 0 */
    int ldr, has_residual;
} block_io;

/* Copies rows [k0, k0 + depth) of B's columns [col0, col0 + cols) (bb at
 * column col0 of row 0) into panel: strip s, row p at panel + (s * depth +
 * p) * STRIP. The strips cover `strips` * STRIP columns; those past cols
 * are zeros. pre and pre_relu are compile-time constants. */
static inline __attribute__((always_inline)) void
pack_panel(__local float *panel, const __global float *bb, int ldb, int k0, int depth, int cols,
           int strips, __global const float *pre_scale, __global const float *pre_shift,
           const int pre, const int pre_relu) {
    const int full = cols == strips * STRIP;
    for (int p = 0; p < depth; p++) {
        const __global float *brow = bb + (k0 + p) * ldb;
        const __global float *ahead = bb + (k0 + min(p + PACK_PREFETCH, depth - 1)) * ldb;
        float scale = 1.0f, shift = 0.0f;
        if (pre) {
            scale = pre_scale[k0 + p];
            shift = pre_shift[k0 + p];
        }
        __local float *dst = panel + p * STRIP;
        if (full) {
            for (int s = 0; s < strips; s++) {
                PREFETCH(ahead + s * STRIP);
#pragma unroll
                for (int j = 0; j < BLOCK_N; j++) {
                    floatv v = vloadv(j, brow + s * STRIP);
                    if (pre)
                        v = prologue(v, scale, shift, pre_relu);
                    vstorev(v, j, dst + s * depth * STRIP);
                }
            }
        } else {
            for (int s = 0; s < strips; s++) {
                for (int l = 0; l < STRIP; l++) {
                    const int col = s * STRIP + l;
                    float v = 0.0f;
                    if (col < cols) {
                        v = brow[col];
                        if (pre) {
                            v = fma(v, scale, shift);
                            v = pre_relu ? fmax(v, 0.0f) : v;
                        }
                    }
                    dst[s * depth * STRIP + l] = v;
                }
            }
        }
    }
}

/* Stores one vector of C's row crow from column col on (fewer lanes at
 * the right edge): the step's sum v, plus what C already holds (later
 * steps of K) or the residual (first step), plus the bias and ReLU on the
 * last step. */
static inline __attribute__((always_inline)) void
store_block_row(__global float *crow, const __global float *rrow, const block_io *io, int col,
                int n, floatv v, float bias, int first, int last) {
    if (col + VW <= n) {
        if (first) {
            if (last)
                v += bias;
            if (io->has_residual)
                v += vloadv(0, rrow + col);
        } else {
            v += vloadv(0, crow + col);
            if (last)
                v += bias;
        }
        if (last && io->relu)
            v = fmax(v, (floatv)(0.0f));
        vstorev(v, 0, crow + col);
    } else {
        float lanes[VW];
        vstorev(v, 0, lanes);
        for (int l = 0; l < VW && col + l < n; l++) {
            float x = lanes[l];
            if (first) {
                if (last)
                    x += bias;
                if (io->has_residual)
                    x += rrow[col + l];
            } else {
                x += crow[col + l];
                if (last)
                    x += bias;
            }
            if (last && io->relu)
                x = fmax(x, 0.0f);
            crow[col + l] = x;
        }
    }
}

/* One rows x STRIP block of C at (row0, col0) from one packed strip of
 * depth rows; arow[i] points at row row0 + i of A, at the step's first k.
 * rows, first and last are compile-time constants at every call. */
static inline __attribute__((always_inline)) void
block(const int rows, int m, int n, int depth, const __global float *const *arow,
      const __local float *strip, int row0, int col0, const block_io *io, const int first,
      const int last) {
    floatv acc[BLOCK_M][BLOCK_N];
#pragma unroll
    for (int i = 0; i < rows; i++)
#pragma unroll
        for (int j = 0; j < BLOCK_N; j++)
            acc[i][j] = (floatv)(0.0f);

    for (int p = 0; p < depth; p++) {
        floatv bv[BLOCK_N];
#pragma unroll
        for (int j = 0; j < BLOCK_N; j++)
            bv[j] = vloadv(j, strip + p * STRIP);
#pragma unroll
        for (int i = 0; i < rows; i++) {
            const floatv av = (floatv)(arow[i][p]);
#pragma unroll
            for (int j = 0; j < BLOCK_N; j++)
                acc[i][j] = fma(av, bv[j], acc[i][j]);
        }
    }

#pragma unroll
    for (int i = 0; i < rows; i++) {
        const int r = row0 + i;
        if (r < m) {
            const float bias_r = last && io->has_bias ? io->bias[r] : 0.0f;
            __global float *crow = io->c + r * io->ldc;
            const __global float *rrow =
                io->has_residual ? io->residual + r * io->ldr : io->residual;
#pragma unroll
            for (int j = 0; j < BLOCK_N; j++) {
                const int col = col0 + j * VW;
                if (col < n)
                    store_block_row(crow, rrow, io, col, n, acc[i][j], bias_r, first, last);
            }
        }
    }
}

/* The blocks of one step of K over the work-item's rows and strips. */
static inline __attribute__((always_inline)) void
step_blocks(int m, int n, int k0, int depth, __global const float *aa, int lda, int row_begin,
            int row_end, int col0, int strips, const __local float *panel, const block_io *io,
            const int first, const int last) {
    for (int row0 = row_begin; row0 < row_end; row0 += BLOCK_M) {
        const int rows = row_end - row0;
        const __global float *arow[BLOCK_M];
#pragma unroll
        for (int i = 0; i < BLOCK_M; i++)
            arow[i] = aa + min(row0 + i, m - 1) * lda + k0;
        if (rows <= TAIL_M) {
            for (int s = 0; s < strips; s++)
                block(TAIL_M, m, n, depth, arow, panel + s * depth * STRIP, row0,
                      col0 + s * STRIP, io, first, last);
        } else {
            for (int s = 0; s < strips; s++)
                block(BLOCK_M, m, n, depth, arow, panel + s * depth * STRIP, row0,
                      col0 + s * STRIP, io, first, last);
        }
    }
}

/* The work of one work-item (see the NDRange above). */
static inline __attribute__((always_inline)) void
block_panel(int m, int n, int k, __global const float *a, int a_off, int lda, int a_stride,
            __global const float *b, int b_off, int ldb, int b_stride, __global float *c,
            int c_off, int ldc, int c_stride, __global const float *bias, int has_bias, int relu,
            __global const float *pre_scale, __global const float *pre_shift,
            __global const float *residual, int r_off, int ldr, int r_stride, int has_residual,
            int group_rows, int panel_cols, int panel_depth, __local float *panel, const int pre,
            const int pre_relu) {
    const int row_begin = (int)get_global_id(0) * group_rows;
    const int col0 = (int)get_global_id(1) * panel_cols;
    const int batch = (int)get_global_id(2);
    if (row_begin >= m || col0 >= n)
        return;
    const int row_end = min(row_begin + group_rows, m);
    const int cols = min(panel_cols, n - col0);
    const int strips = (cols + STRIP - 1) / STRIP;

    const __global float *aa = a + a_off + batch * a_stride;
    const __global float *bb = b + b_off + batch * b_stride + col0;
    const block_io io = {
        c + c_off + batch * c_stride,
        ldc,
        bias,
        has_bias,
        relu,
        has_residual ? residual + r_off + batch * r_stride : residual,
        ldr,
        has_residual,
    };

    for (int k0 = 0; k0 < k; k0 += panel_depth) {
        const int depth = min(panel_depth, k - k0);
        pack_panel(panel, bb, ldb, k0, depth, cols, strips, pre_scale, pre_shift, pre, pre_relu);
        const int first = k0 == 0, last = k0 + depth >= k;
        if (first && last)
            step_blocks(m, n, k0, depth, aa, lda, row_begin, row_end, col0, strips, panel, &io, 1,
                        1);
        else if (first)
            step_blocks(m, n, k0, depth, aa, lda, row_begin, row_end, col0, strips, panel, &io, 1,
                        0);
        else if (last)
            step_blocks(m, n, k0, depth, aa, lda, row_begin, row_end, col0, strips, panel, &io, 0,
                        1);
        else
            step_blocks(m, n, k0, depth, aa, lda, row_begin, row_end, col0, strips, panel, &io, 0,
                        0);
    }
}

#define GEMM_BLOCK_KERNEL(name, PRE, PRE_RELU)                                                     \
    __kernel __attribute__((reqd_work_group_size(1, 1, 1))) void name(                             \
        int m, int n, int k, __global const float *a, int a_off, int lda, int a_stride,            \
        __global const float *b, int b_off, int ldb, int b_stride, __global float *c, int c_off,   \
        int ldc, int c_stride, __global const float *bias, int has_bias, int relu,                 \
        __global const float *pre_scale, __global const float *pre_shift,                          \
        __global const float *residual, int r_off, int ldr, int r_stride, int has_residual,        \
        int group_rows, int panel_cols, int panel_depth) {                                         \
        __local float panel[PANEL_FLOATS];                                                         \
        block_panel(m, n, k, a, a_off, lda, a_stride, b, b_off, ldb, b_stride, c, c_off, ldc,      \
                    c_stride, bias, has_bias, relu, pre_scale, pre_shift, residual, r_off, ldr,    \
                    r_stride, has_residual, group_rows, panel_cols, panel_depth, panel, PRE,       \
                    PRE_RELU);                                                                     \
    }

GEMM_BLOCK_KERNEL(gemm_block, 0, 0)
GEMM_BLOCK_KERNEL(gemm_block_pre, 1, 0)
GEMM_BLOCK_KERNEL(gemm_block_pre_relu, 1, 1)
