/* Batched GEMM with bias, residual and ReLU (and, with clnet's own kernels,
 * a prologue on B): clnet's kernels (cl/gemm.cl) or CLBlast's
 * strided-batched SGEMM followed by cl/elementwise.cl's bias_relu. */
#include "kernels.h"
#include "tuning.h"

#include <clblast_c.h>
#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP "gemm"

/* Candidate tile shapes of cl/gemm.cl's gemm_tiled (see its defines):
 * {tile_m, tile_n, tile_k, wpt_m, vw}. The default is the first whose
 * work-group fits the device: on GPUs, 64x64 tiles over 256 work-items of
 * 4x4 results amortise the local memory traffic; the smaller ones serve
 * devices with smaller work-groups. The rest are for the tuner.
 * Limitation: the tests run every one of them (on PoCL, as the other kind
 * of device's kernel), but none has been timed on a GPU yet. */
static const int gpu_tiles[][CLNET_GEMM_CONFIG_PARAMS] = {
    {64, 64, 16, 4, 4}, {32, 32, 16, 4, 4}, {8, 8, 8, 2, 2},   {64, 64, 16, 8, 4},
    {32, 64, 16, 4, 4}, {64, 32, 16, 4, 4}, {128, 64, 16, 8, 4},
};
#define GPU_TILE_CHOICES ((int)(sizeof gpu_tiles / sizeof gpu_tiles[0]))

/* Candidate register blockings of cl/gemm.cl's gemm_block on CPUs:
 * {vw, block_m, block_n, tail_m}. Each work-item first copies a slice of B
 * of at most CPU_PANEL_FLOATS floats into local memory.
 *
 * The default on CPUs with 8-float vectors (AVX2) is the first: blocks of
 * 6 rows by 2 vectors of 8 columns, 12 accumulator registers of AVX2's 16,
 * leaving room for the two B vectors and the broadcast A value; a last
 * block of at most 4 rows uses 4 rows of registers. Measured on PoCL (2
 * Zen 3 cores, AVX2) in GFLOP per CPU-second, so that other load on the
 * machine does not count, on the 1x1 convolutions of ResNet-56 v2 and
 * DenseNet-100 (M = 16 to 256, K = 16 to 342, N = 64 to 1024) at batch 32:
 * reading B in place, 6 x 2 x 8 blocks over 64 columns per work-item ran
 * 16-63 (N = 1024 worst: B's rows 4 KiB apart); copying B first ran
 * 1.1-1.8x faster on every shape with a panel of 16K or 32K floats (16K:
 * up to 10 % slower than 32K at N = 1024), the same with 64K; prefetching
 * the copy's rows 4 ahead gained up to 10 % more at K >= 120.
 *
 * The default on CPUs with 16-float vectors (AVX-512) is CPU_WIDE_DEFAULT:
 * 8 rows by one vector of 16, 8 of the 32 registers. Timed alone by the
 * tuner on 2 Zen 4 cores, it ran every 1x1 GEMM of ResNet-56 v2 at batch
 * 32 1.09-1.75x faster than 8 x 6 x 2. The others are for the tuner. */
static const int cpu_blocks[][4] = {
    {8, 6, 2, 4}, {16, 8, 1, 4}, {16, 6, 2, 4}, {8, 4, 3, 4}, {8, 8, 1, 4}, {4, 6, 2, 4},
};
#define CPU_BLOCK_CHOICES ((int)(sizeof cpu_blocks / sizeof cpu_blocks[0]))
#define CPU_WIDE_DEFAULT  1
#define CPU_PANEL_FLOATS  32768
/* When K is deeper than a panel holds with CPU_DEEP_STRIPS strips of
 * columns, gemm_block goes through K in steps of that depth, keeping the
 * partial sums in C. */
#define CPU_DEEP_STRIPS 4
/* Work-groups wanted per compute unit: with fewer (small batches), panels
 * get narrower, then rows are split. PoCL deals a kernel's work-groups to
 * its threads in chunks, half of them to the first thread that asks, so a
 * thread that wakes late can only help with what is left. */
#define CPU_GROUPS_PER_UNIT 4

clnet_gemm_backend clnet_gemm_auto_backend(const clnet_context *ctx) {
    return ctx && ctx->info.type != CLNET_DEVICE_TYPE_CPU ? CLNET_GEMM_CLBLAST : CLNET_GEMM_CLNET;
}

/* Checks that a matrix (rows x cols, row stride ld, `batch` copies stride
 * apart from off) lies inside its buffer, and within int indexing. */
static clnet_status check_matrix(const char *name, cl_mem buf, int off, int ld, int stride,
                                 int rows, int cols, int batch) {
    if (!buf)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, OP ": matrix %s buffer is NULL", name);
    if (off < 0 || stride < 0 || ld < cols)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          OP ": matrix %s has offset %d, batch stride %d and row stride %d; "
                             "offsets and strides must be non-negative and the row stride at "
                             "least its %d columns",
                          name, off, stride, ld, cols);
    long long end = off + (long long)(batch - 1) * stride + (long long)(rows - 1) * ld + cols;
    size_t bytes = 0;
    cl_int err = clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL);
    if (err != CL_SUCCESS)
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR, OP ": querying the size of matrix %s: %s",
                          name, clnet_cl_error_name(err));
    if ((unsigned long long)end > bytes / sizeof(float))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          OP ": matrix %s (%d x %d) ends at float %lld, past the end of its "
                             "buffer of %zu floats",
                          name, rows, cols, end, bytes / sizeof(float));
    /* Limitation: kernels index with int, so a matrix must end below 2^31 floats. */
    if (end > INT_MAX)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          OP ": matrix %s ends at float %lld, beyond int indexing", name, end);
    return CLNET_STATUS_OK;
}

static clnet_status check_args(const clnet_gemm_args *p, int a_stride) {
    if (!p)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, OP ": arguments are NULL");
    if (p->m <= 0 || p->n <= 0 || p->k <= 0 || p->batch <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          OP ": sizes M=%d, N=%d, K=%d and batch %d must be positive", p->m, p->n,
                          p->k, p->batch);
    CLNET_TRY(
        check_matrix("A", p->a, p->a_off, p->lda, a_stride, p->m, p->k, a_stride ? p->batch : 1));
    CLNET_TRY(check_matrix("B", p->b, p->b_off, p->ldb, p->b_stride, p->k, p->n, p->batch));
    CLNET_TRY(check_matrix("C", p->c, p->c_off, p->ldc, p->c_stride, p->m, p->n, p->batch));
    if (p->bias)
        CLNET_TRY(check_matrix("bias", p->bias, 0, p->m, 0, 1, p->m, 1));
    if (p->pre_scale || p->pre_shift) {
        if (!p->pre_scale || !p->pre_shift)
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                              OP ": the prologue needs both pre_scale and pre_shift (%s is NULL)",
                              p->pre_scale ? "pre_shift" : "pre_scale");
        CLNET_TRY(check_matrix("pre_scale", p->pre_scale, 0, p->k, 0, 1, p->k, 1));
        CLNET_TRY(check_matrix("pre_shift", p->pre_shift, 0, p->k, 0, 1, p->k, 1));
    } else if (p->pre_relu) {
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          OP ": pre_relu is set without a prologue (pre_scale and pre_shift "
                             "are NULL)");
    }
    /* Limitation: a residual that overlaps C without being C itself (same
     * offset and strides) gives undefined results; it is not detected. */
    if (p->residual)
        CLNET_TRY(check_matrix("residual", p->residual, p->r_off, p->ldr, p->r_stride, p->m, p->n,
                               p->batch));
    return CLNET_STATUS_OK;
}

/* Launches one of clnet's GEMM kernels, which share their arguments up to
 * has_residual; the `extra` arguments follow (gemm_tiled: the prologue's
 * flags; gemm_block: its work split). */
static clnet_status launch_gemm(clnet_context *ctx, cl_kernel kernel, const char *name,
                                const clnet_gemm_args *p, int a_stride, int n_extra,
                                const clnet_kernel_arg *extra, const size_t *global,
                                const size_t *local, clnet_events *events) {
    cl_mem bias = p->bias, pre_scale = p->pre_scale, pre_shift = p->pre_shift;
    cl_mem residual = p->residual;
    int has_bias = bias != NULL, has_residual = residual != NULL;
    clnet_kernel_arg args[32] = {
        CLNET_ARG(p->m),         CLNET_ARG(p->n),        CLNET_ARG(p->k),
        CLNET_ARG(p->a),         CLNET_ARG(p->a_off),    CLNET_ARG(p->lda),
        CLNET_ARG(a_stride),     CLNET_ARG(p->b),        CLNET_ARG(p->b_off),
        CLNET_ARG(p->ldb),       CLNET_ARG(p->b_stride), CLNET_ARG(p->c),
        CLNET_ARG(p->c_off),     CLNET_ARG(p->ldc),      CLNET_ARG(p->c_stride),
        CLNET_ARG(bias),         CLNET_ARG(has_bias),    CLNET_ARG(p->relu),
        CLNET_ARG(pre_scale),    CLNET_ARG(pre_shift),   CLNET_ARG(residual),
        CLNET_ARG(p->r_off),     CLNET_ARG(p->ldr),      CLNET_ARG(p->r_stride),
        CLNET_ARG(has_residual),
    };
    const int n_common = 25;
    assert(n_common + n_extra <= (int)(sizeof args / sizeof args[0]));
    for (int i = 0; i < n_extra; i++)
        args[n_common + i] = extra[i];
    return clnet_launch(ctx, kernel, name, n_common + n_extra, args, 3, global, local, events);
}

/* ------------------------------------------------------------------------ */
/* Configurations                                                           */

clnet_gemm_kernel clnet_gemm_native_kernel(const clnet_context *ctx) {
    return ctx->info.type == CLNET_DEVICE_TYPE_CPU ? CLNET_GEMM_KERNEL_BLOCK
                                                   : CLNET_GEMM_KERNEL_TILED;
}

static size_t tile_threads(const int *t) {
    return (size_t)(t[0] / t[3]) * (size_t)(t[1] / t[4]);
}

int clnet_gemm_candidates(const clnet_context *ctx, clnet_gemm_kernel kernel,
                          clnet_gemm_config *out, int capacity) {
    int count = 0;
    if (kernel == CLNET_GEMM_KERNEL_BLOCK) {
        /* The device's default first, then the rest in their order. */
        int first = ctx->info.native_float_width >= 16 ? CPU_WIDE_DEFAULT : 0;
        for (int j = 0; j < CPU_BLOCK_CHOICES; j++, count++) {
            int i = j == 0 ? first : j <= first ? j - 1 : j;
            if (count >= capacity)
                continue;
            out[count].kernel = kernel;
            memcpy(out[count].p, cpu_blocks[i], sizeof cpu_blocks[i]);
            out[count].p[4] = 0;
        }
        return count;
    }
    for (int i = 0; i < GPU_TILE_CHOICES; i++) {
        if (tile_threads(gpu_tiles[i]) > ctx->info.max_work_group_size)
            continue;
        if (count < capacity) {
            out[count].kernel = kernel;
            memcpy(out[count].p, gpu_tiles[i], sizeof gpu_tiles[i]);
        }
        count++;
    }
    return count;
}

int clnet_gemm_config_is_candidate(const clnet_context *ctx, const clnet_gemm_config *c) {
    clnet_gemm_config all[GPU_TILE_CHOICES + CPU_BLOCK_CHOICES];
    int n = clnet_gemm_candidates(ctx, c->kernel, all, (int)(sizeof all / sizeof all[0]));
    for (int i = 0; i < n; i++)
        if (memcmp(all[i].p, c->p, sizeof c->p) == 0)
            return 1;
    return 0;
}

void clnet_gemm_config_text(const clnet_gemm_config *c, char *buf, size_t size) {
    if (c->kernel == CLNET_GEMM_KERNEL_BLOCK)
        snprintf(buf, size, "block %dx%dx%d/%d", c->p[0], c->p[1], c->p[2], c->p[3]);
    else
        snprintf(buf, size, "tiled %dx%dx%d/%dx%d", c->p[0], c->p[1], c->p[2], c->p[3], c->p[4]);
}

int clnet_gemm_config_parse(const char *s, clnet_gemm_config *out) {
    clnet_gemm_config c;
    memset(&c, 0, sizeof c);
    int used = 0;
    if (sscanf(s, "block %dx%dx%d/%d%n", &c.p[0], &c.p[1], &c.p[2], &c.p[3], &used) == 4 &&
        s[used] == '\0') {
        c.kernel = CLNET_GEMM_KERNEL_BLOCK;
    } else if (sscanf(s, "tiled %dx%dx%d/%dx%d%n", &c.p[0], &c.p[1], &c.p[2], &c.p[3], &c.p[4],
                      &used) == 5 &&
               s[used] == '\0') {
        c.kernel = CLNET_GEMM_KERNEL_TILED;
    } else {
        return 0;
    }
    *out = c;
    return 1;
}

/* The configuration of a call: the tuner's forced one, else the table's
 * for the call's shape, else the device's default (for gemm_tiled on a
 * device too small for every candidate, the smallest tiles). */
static clnet_gemm_config config_for(const clnet_context *ctx, const clnet_gemm_key *key) {
    clnet_gemm_config c;
    if (ctx->gemm_force && ctx->gemm_force->kernel == key->kernel)
        return *ctx->gemm_force;
    if (clnet_tuning_gemm_config(ctx, key, &c))
        return c;
    if (clnet_gemm_candidates(ctx, key->kernel, &c, 1) == 0) {
        c.kernel = key->kernel;
        memcpy(c.p, gpu_tiles[2], sizeof c.p);
    }
    return c;
}

/* Build options and local-memory panel of a configuration on ctx. */
static clnet_status config_options(const clnet_context *ctx, const clnet_gemm_config *c,
                                   char *options, size_t size, int *panel_floats) {
    if (c->kernel == CLNET_GEMM_KERNEL_TILED) {
        snprintf(options, size, "-DTILE_M=%d -DTILE_N=%d -DTILE_K=%d -DWPT_M=%d -DVW=%d", c->p[0],
                 c->p[1], c->p[2], c->p[3], c->p[4]);
        *panel_floats = 0;
        return CLNET_STATUS_OK;
    }
    /* Half the device's local memory at most (a GPU given this kernel has
     * little), in whole rows of a strip. */
    const int strip = c->p[2] * c->p[0];
    unsigned long long local_floats = ctx->info.local_mem_bytes / sizeof(float) / 2;
    int panel = local_floats < CPU_PANEL_FLOATS ? (int)local_floats : CPU_PANEL_FLOATS;
    panel = panel / strip * strip;
    if (panel < strip)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          OP ": the device's %llu bytes of local memory cannot hold a row of "
                             "gemm_block's panel of B",
                          (unsigned long long)ctx->info.local_mem_bytes);
    snprintf(options, size, "-DBLOCK_M=%d -DBLOCK_N=%d -DVW=%d -DTAIL_M=%d -DPANEL_FLOATS=%d",
             c->p[1], c->p[2], c->p[0], c->p[3], panel);
    *panel_floats = panel;
    return CLNET_STATUS_OK;
}

clnet_status clnet_gemm_build_config(clnet_context *ctx, const clnet_gemm_config *c) {
    char options[160];
    int panel_floats;
    CLNET_TRY(config_options(ctx, c, options, sizeof options, &panel_floats));
    cl_kernel kernel;
    return clnet_context_kernel(ctx, "gemm", options,
                                c->kernel == CLNET_GEMM_KERNEL_BLOCK ? "gemm_block" : "gemm_tiled",
                                &kernel);
}

/* ------------------------------------------------------------------------ */
/* clnet's kernels                                                          */

/* The GPU kernel: local-memory tiles. */
static clnet_status gemm_tiled(clnet_context *ctx, const clnet_gemm_args *p, int a_stride,
                               const clnet_gemm_config *c, clnet_events *events) {
    char options[160];
    int unused;
    CLNET_TRY(config_options(ctx, c, options, sizeof options, &unused));
    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "gemm", options, "gemm_tiled", &kernel));

    const int tile_m = c->p[0], tile_n = c->p[1], wpt_m = c->p[3], vw = c->p[4];
    size_t threads_n = (size_t)(tile_n / vw);
    size_t threads_m = (size_t)(tile_m / wpt_m);
    size_t local[3] = {threads_n, threads_m, 1};
    size_t global[3] = {(size_t)((p->n + tile_n - 1) / tile_n) * threads_n,
                        (size_t)((p->m + tile_m - 1) / tile_m) * threads_m, (size_t)p->batch};
    int has_pre = p->pre_scale != NULL;
    clnet_kernel_arg extra[] = {CLNET_ARG(has_pre), CLNET_ARG(p->pre_relu)};
    return launch_gemm(ctx, kernel, "gemm_tiled", p, a_stride, 2, extra, global, local, events);
}

/* How gemm_block splits a GEMM over work-items (see cl/gemm.cl). */
typedef struct block_split {
    int group_rows;  /* rows of C per work-item, a multiple of block_m */
    int panel_cols;  /* columns per work-item, a multiple of the strip width */
    int panel_depth; /* rows of B packed per step of K */
    size_t global[3];
} block_split;

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

/* The widest panels that fit panel_floats (all of K when that leaves
 * CPU_DEEP_STRIPS strips), narrowed, then split over rows, until there are
 * `wanted` work-groups or nothing left to split; strip = block_n * vw. */
static block_split split_block(const clnet_gemm_args *p, int block_m, int strip, int panel_floats,
                               long wanted) {
    const int n_cols = ceil_div(p->n, strip) * strip;
    block_split s;
    s.panel_depth = p->k;
    if (s.panel_depth > panel_floats / (strip * CPU_DEEP_STRIPS))
        s.panel_depth = panel_floats / (strip * CPU_DEEP_STRIPS);
    if (s.panel_depth < 1)
        s.panel_depth = 1;
    s.panel_cols = panel_floats / s.panel_depth / strip * strip;
    if (s.panel_cols > n_cols)
        s.panel_cols = n_cols;
    int chunks = ceil_div(p->n, s.panel_cols);
    while ((long)chunks * p->batch < wanted && s.panel_cols > strip) {
        s.panel_cols -= strip;
        chunks = ceil_div(p->n, s.panel_cols);
    }
    int row_blocks = ceil_div(p->m, block_m), groups = 1;
    if ((long)chunks * p->batch < wanted) {
        long more = (wanted + (long)chunks * p->batch - 1) / ((long)chunks * p->batch);
        groups = more < row_blocks ? (int)more : row_blocks;
    }
    s.group_rows = ceil_div(row_blocks, groups) * block_m;
    s.global[0] = (size_t)ceil_div(p->m, s.group_rows);
    s.global[1] = (size_t)chunks;
    s.global[2] = (size_t)p->batch;
    return s;
}

/* The CPU kernel: register blocks over a packed panel of B, one work-item
 * per work-group (the work-items share nothing, and a fixed group size
 * makes PoCL compile the kernel once rather than once per group size). The
 * prologue, if any, picks one of the kernel's compile-time variants. */
static clnet_status gemm_block(clnet_context *ctx, const clnet_gemm_args *p, int a_stride,
                               const clnet_gemm_config *c, clnet_events *events) {
    char options[160];
    int panel_floats;
    CLNET_TRY(config_options(ctx, c, options, sizeof options, &panel_floats));
    const char *name = !p->pre_scale ? "gemm_block"
                       : p->pre_relu ? "gemm_block_pre_relu"
                                     : "gemm_block_pre";
    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "gemm", options, name, &kernel));

    unsigned units = ctx->info.compute_units ? ctx->info.compute_units : 1;
    block_split s = split_block(p, c->p[1], c->p[2] * c->p[0], panel_floats,
                                (long)units * CPU_GROUPS_PER_UNIT);
    clnet_kernel_arg extra[] = {CLNET_ARG(s.group_rows), CLNET_ARG(s.panel_cols),
                                CLNET_ARG(s.panel_depth)};
    size_t local[3] = {1, 1, 1};
    return launch_gemm(ctx, kernel, name, p, a_stride, 3, extra, s.global, local, events);
}

/* Enters a call into the tuner's recorder, once per distinct call. */
static clnet_status record_call(clnet_gemm_recorder *r, const clnet_gemm_call *call) {
    for (int i = 0; i < r->count; i++)
        if (memcmp(&r->calls[i], call, sizeof *call) == 0)
            return CLNET_STATUS_OK;
    if (r->count == r->capacity) {
        int capacity = r->capacity ? 2 * r->capacity : 32;
        clnet_gemm_call *grown = realloc(r->calls, (size_t)capacity * sizeof *grown);
        if (!grown)
            return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, OP ": out of host memory recording calls");
        r->calls = grown;
        r->capacity = capacity;
    }
    r->calls[r->count++] = *call;
    return CLNET_STATUS_OK;
}

/* clnet's own kernel for this device, in the configuration of the call. */
static clnet_status gemm_clnet(clnet_context *ctx, const clnet_gemm_args *p, int a_stride,
                               clnet_events *events) {
    clnet_gemm_call call;
    memset(&call, 0, sizeof call); /* compared bytewise when recorded */
    call.key.kernel = clnet_gemm_native_kernel(ctx);
    call.key.m = p->m;
    call.key.n = p->n;
    call.key.k = p->k;
    call.key.batch = p->batch;
    call.key.prologue = !p->pre_scale ? 0 : p->pre_relu ? 2 : 1;
    call.bias = p->bias != NULL;
    call.relu = p->relu != 0;
    call.residual = p->residual != NULL;
    call.a_strided = a_stride != 0;
    if (ctx->gemm_record)
        CLNET_TRY(record_call(ctx->gemm_record, &call));
    clnet_gemm_config c = config_for(ctx, &call.key);
    return call.key.kernel == CLNET_GEMM_KERNEL_BLOCK ? gemm_block(ctx, p, a_stride, &c, events)
                                                      : gemm_tiled(ctx, p, a_stride, &c, events);
}

/* Whether the residual is C itself, element for element. */
static int residual_is_c(const clnet_gemm_args *p) {
    return p->residual == p->c && p->r_off == p->c_off && p->ldr == p->ldc &&
           (p->r_stride == p->c_stride || p->batch == 1);
}

static clnet_status gemm_clblast(clnet_context *ctx, const clnet_gemm_args *p, int a_stride,
                                 clnet_events *events) {
    /* Limitation: CLBlast reads B as stored, so it cannot apply a prologue. */
    if (p->pre_scale)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          OP ": the CLBlast backend cannot apply a prologue (pre_scale, "
                             "pre_shift, pre_relu) to B; use the clnet backend");

    /* A residual that is C itself enters as beta = 1: SGEMM overwrites C,
     * so bias_relu could no longer read it. */
    int in_place = p->residual && residual_is_c(p);
    cl_mem residual = in_place ? NULL : p->residual;

    /* Limitation: CLBlast returns the event of its last kernel only, so the
     * profiled time of its indirect path leaves out its padding and
     * transposition kernels. */
    cl_event done = NULL;
    CLBlastStatusCode status = CLBlastSgemmStridedBatched(
        CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, (size_t)p->m, (size_t)p->n,
        (size_t)p->k, 1.0f, p->a, (size_t)p->a_off, (size_t)p->lda, (size_t)a_stride, p->b,
        (size_t)p->b_off, (size_t)p->ldb, (size_t)p->b_stride, in_place ? 1.0f : 0.0f, p->c,
        (size_t)p->c_off, (size_t)p->ldc, (size_t)p->c_stride, (size_t)p->batch, &ctx->queue,
        events ? &done : NULL);
    if (status != CLBlastSuccess)
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR,
                          OP ": CLBlastSgemmStridedBatched (M=%d, N=%d, K=%d, batch %d) failed "
                             "with CLBlast status %d",
                          p->m, p->n, p->k, p->batch, (int)status);
    if (events && done) {
        cl_event *slot;
        clnet_status s = clnet_events_slot(events, &slot);
        if (s != CLNET_STATUS_OK) {
            clReleaseEvent(done);
            return s;
        }
        *slot = done;
    }
    if (!p->bias && !p->relu && !residual)
        return CLNET_STATUS_OK;

    /* CLBlast has no epilogue: add the bias and the residual and apply ReLU
     * in place. */
    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "elementwise", "", "bias_relu", &kernel));
    cl_mem bias = p->bias;
    int has_bias = bias != NULL, has_residual = residual != NULL;
    clnet_kernel_arg args[] = {
        CLNET_ARG(p->c),         CLNET_ARG(p->c_off), CLNET_ARG(p->ldc),   CLNET_ARG(p->c_stride),
        CLNET_ARG(p->n),         CLNET_ARG(bias),     CLNET_ARG(has_bias), CLNET_ARG(p->relu),
        CLNET_ARG(residual),     CLNET_ARG(p->r_off), CLNET_ARG(p->ldr),   CLNET_ARG(p->r_stride),
        CLNET_ARG(has_residual),
    };
    size_t global[3] = {(size_t)p->n, (size_t)p->m, (size_t)p->batch};
    return clnet_launch(ctx, kernel, "bias_relu", (int)(sizeof args / sizeof args[0]), args, 3,
                        global, NULL, events);
}

static clnet_status gemm_run(clnet_context *ctx, clnet_gemm_backend backend,
                             const clnet_gemm_args *args, int a_stride, clnet_events *events) {
    if (!ctx)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, OP ": context is NULL");
    CLNET_TRY(check_args(args, a_stride));
    if (backend == CLNET_GEMM_AUTO)
        backend = clnet_gemm_auto_backend(ctx);
    switch (backend) {
    case CLNET_GEMM_CLNET: return gemm_clnet(ctx, args, a_stride, events);
    case CLNET_GEMM_CLBLAST: return gemm_clblast(ctx, args, a_stride, events);
    default:
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, OP ": unknown backend %d", (int)backend);
    }
}

clnet_status clnet_gemm(clnet_context *ctx, clnet_gemm_backend backend, const clnet_gemm_args *args,
                        clnet_events *events) {
    return gemm_run(ctx, backend, args, 0, events);
}

clnet_status clnet_gemm_strided_a(clnet_context *ctx, clnet_gemm_backend backend,
                                  const clnet_gemm_args *args, int a_stride, clnet_events *events) {
    return gemm_run(ctx, backend, args, a_stride, events);
}
