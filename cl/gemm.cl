/* Tiled single-precision GEMM with fused bias and ReLU, batched over B and C:
 * C[b] = A x B[b] (+ bias[row]) (relu), all row-major with arbitrary leading
 * dimensions and offsets, for any M, N and K (edges are zero-filled).
 *
 * Each work-group computes a TILE_M x TILE_N block of C, staging TILE_K-deep
 * slices of A and B in local memory. Each work-item keeps a register block
 * of WPT_M rows by VW contiguous columns of C as WPT_M vectors of width VW:
 * every step of the inner loop is one vector load of B, WPT_M scalar loads of
 * A and WPT_M vector multiply-adds. A work-item's rows are strided by
 * TILE_M / WPT_M so that its A reads spread over the tile.
 *
 * Index arithmetic is in int: the host guarantees every buffer holds fewer
 * than 2^31 floats.
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
#ifndef VW
#define VW 4 /* columns of C per work-item, as one vector: each A value feeds VW lanes */
#endif

#if VW != 2 && VW != 4 && VW != 8 && VW != 16
#error "VW must be an OpenCL vector width: 2, 4, 8 or 16"
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

#define PASTE(a, b) a##b
#define JOIN(a, b) PASTE(a, b)
#define floatv JOIN(float, VW)
#define vloadv JOIN(vload, VW)
#define vstorev JOIN(vstore, VW)

/* Lane j of a vector, for the edges where a whole vector does not fit. */
static float lane(floatv v, int j) {
    float lanes[VW];
    vstorev(v, 0, lanes);
    return lanes[j];
}

__kernel __attribute__((reqd_work_group_size(THREADS_N, THREADS_M, 1))) void
gemm_tiled(int m, int n, int k, __global const float *a, int a_off, int lda,
           __global const float *b, int b_off, int ldb, int b_stride, __global float *c,
           int c_off, int ldc, int c_stride, __global const float *bias, int has_bias, int relu) {
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
    const __global float *aa = a + a_off;
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
         * consecutive vectors of one row. */
        for (int e = tid; e < TILE_K * THREADS_N; e += THREADS) {
            const int vn = e % THREADS_N;
            const int kk = e / THREADS_N;
            const int kr = k0 + kk;
            const int col = col0 + vn * VW;
            if (full_n && full_k) {
                vstorev(vloadv(0, bb + kr * ldb + col), 0, &b_tile[kk][vn * VW]);
            } else {
                for (int j = 0; j < VW; j++)
                    b_tile[kk][vn * VW + j] =
                        (kr < k && col + j < n) ? bb[kr * ldb + col + j] : 0.0f;
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
    const int col = col0 + tx * VW;
    for (int i = 0; i < WPT_M; i++) {
        const int r = row0 + ty + i * THREADS_M;
        if (r >= m)
            break;
        floatv v = acc[i] + (has_bias ? bias[r] : 0.0f);
        if (relu)
            v = fmax(v, (floatv)(0.0f));
        if (col + VW <= n) {
            vstorev(v, 0, cc + r * ldc + col);
        } else {
            for (int j = 0; j < VW; j++)
                if (col + j < n)
                    cc[r * ldc + col + j] = lane(v, j);
        }
    }
}
