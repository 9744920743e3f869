/* Winograd convolution F(2x2,3x3) and F(4x4,3x3): the filter transform done
 * once on the host, and the launchers of cl/winograd.cl: the input and
 * output transforms around a batched GEMM in the transformed domain, or the
 * fused kernel that CPUs run instead. */
#include "kernels.h"

#include <limits.h>
#include <stdio.h>

#define OP "conv2d_winograd"

/* Floats of V and M (the transformed input and the GEMM's result) that one
 * pass of the GEMM path over a chunk of the batch may use. The three
 * launches of a pass hand V and M from one to the next, so a chunk that
 * stays in the caches saves trips to memory; a larger one saves launches.
 * Limitation: a single image larger than this still runs, in one chunk. */
#define CHUNK_FLOATS (1024 * 1024)

/* Output channels per pass of the fused kernel (its CO_BLOCK): the fused
 * filter layout pads out_c to a multiple of it, and the padding's zero
 * filters are computed and thrown away. 8 accumulator vectors keep the
 * FMA units busy; 12 (14 of AVX2's 16 registers with the input vector and
 * the broadcast filter value) serve out_c that 12 divides better, such as
 * DenseNet's growth rate of 12, where 8 would compute 16 channels. */
#define FUSED_CO_BLOCK      8
#define FUSED_CO_BLOCK_WIDE 12

static size_t round_up(int n, int block) {
    return ((size_t)n + (size_t)block - 1) / (size_t)block * (size_t)block;
}

/* The fused kernel's CO_BLOCK for a layer: the one that pads out_c least,
 * FUSED_CO_BLOCK on a tie. */
static int fused_co_block(int out_c) {
    return round_up(out_c, FUSED_CO_BLOCK_WIDE) < round_up(out_c, FUSED_CO_BLOCK)
               ? FUSED_CO_BLOCK_WIDE
               : FUSED_CO_BLOCK;
}

/* Work-items per compute unit below which the fused kernel splits the
 * output channels between work-items (small images at batch 1), so that
 * every core gets work. Each split repeats the input transform, so one
 * work-item per unit is the aim: on PoCL (2 cores) 8x8 images at batch 1
 * ran 1.7x faster split in two, and slower split in eight. */
#define FUSED_ITEMS_PER_UNIT 1

/* Tiles per work-item of cl/winograd.cl, one per vector lane: CPUs run the
 * transforms' arithmetic and their accesses to V and M as 8-wide (AVX)
 * vectors, about 3 times faster on PoCL than one tile per work-item; GPUs
 * keep one tile per work-item, neighbouring work-items on neighbouring
 * floats. */
static int tiles_per_item(const clnet_context *ctx) {
    return ctx->info.type == CLNET_DEVICE_TYPE_CPU ? 8 : 1;
}

/* Work-group size of the transforms on CPUs: one work-item (of 8 tiles) per
 * group, a fixed size so that PoCL compiles each kernel once rather than
 * once per work-group size it would pick for each layer's NDRange. GPUs
 * choose. */
static const size_t *transform_group(const clnet_context *ctx) {
    static const size_t one[2] = {1, 1};
    return ctx->info.type == CLNET_DEVICE_TYPE_CPU ? one : NULL;
}

/* G of F(m, 3) in double: U = G g G^T, alpha x 3, alpha = m + 2. The
 * interpolation points are 0, 1, -1 (and 2, -2 for m = 4) and infinity,
 * matching cl/winograd.cl's B^T and A^T. */
static const double g2[4][3] = {
    {1.0, 0.0, 0.0},
    {0.5, 0.5, 0.5},
    {0.5, -0.5, 0.5},
    {0.0, 0.0, 1.0},
};
static const double g4[6][3] = {
    {1.0 / 4, 0.0, 0.0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0.0, 0.0, 1.0},
};

int clnet_conv2d_winograd_applies(const clnet_conv_geometry *g) {
    return g && g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 &&
           g->dw == 1;
}

/* Bytes of local memory a fused work-item needs: its tiles' transformed
 * input over every input channel. */
static size_t fused_local_bytes(const clnet_context *ctx, const clnet_conv_geometry *g,
                                int tile) {
    size_t alpha = (size_t)tile + 2;
    return alpha * alpha * (size_t)g->in_c * (size_t)tiles_per_item(ctx) * sizeof(float);
}

int clnet_conv2d_winograd_fuses(const clnet_context *ctx, const clnet_conv_geometry *g,
                                int tile) {
    /* Measured on PoCL (2 Zen 3 cores, AVX2; CPU time per batch of 32, so
     * that other load on the machine does not count), the fused kernel
     * beat the three launches around the GEMM on every 3x3 layer shape of
     * the built-in networks, by 1.05x (128 channels at 8x8) to 1.8x
     * (16 channels at 32x32, where the transforms dominate). On GPUs the
     * GEMM path keeps the work-groups full. */
    return ctx && clnet_conv2d_winograd_applies(g) && ctx->info.type == CLNET_DEVICE_TYPE_CPU &&
           fused_local_bytes(ctx, g, tile) <= ctx->info.local_mem_bytes / 2;
}

static size_t fused_stride(int out_c) {
    return round_up(out_c, fused_co_block(out_c));
}

/* Where U's value for output channel o, input channel i and point xi lies
 * in the fused kernel's layout [out_c / co_block][alpha^2][in_c][co_block]:
 * a work-item's pass over one block of output channels reads its filters
 * as one contiguous stream, which the CPU's prefetchers follow, every
 * cache line used whole. */
static size_t fused_index(int alpha, int in_c, int co_block, int o, int i, size_t xi) {
    size_t block = (size_t)(o / co_block);
    return ((block * (size_t)(alpha * alpha) + xi) * (size_t)in_c + (size_t)i) *
               (size_t)co_block +
           (size_t)(o % co_block);
}

size_t clnet_winograd_filter_floats(const clnet_conv_geometry *g, int tile, int fused) {
    size_t alpha = (size_t)tile + 2;
    size_t out_c = fused ? fused_stride(g->out_c) : (size_t)g->out_c;
    return alpha * alpha * out_c * (size_t)g->in_c;
}

void clnet_winograd_transform_filters(int tile, int fused, int out_c, int in_c,
                                      const double *kernel, float *u) {
    const int alpha = tile + 2;
    const double *gm = tile == 2 ? &g2[0][0] : &g4[0][0];
    const size_t stride = fused ? fused_stride(out_c) : (size_t)out_c;
    const int co_block = fused_co_block(out_c);
    const size_t plane = stride * (size_t)in_c;
    if (fused)
        for (size_t i = 0; i < (size_t)alpha * alpha * plane; i++)
            u[i] = 0.0f;
    for (int o = 0; o < out_c; o++) {
        for (int i = 0; i < in_c; i++) {
            const double *k = kernel + ((size_t)o * in_c + i) * 9;
            /* t = G k (alpha x 3), then U = t G^T (alpha x alpha). */
            double t[6][3];
            for (int r = 0; r < alpha; r++)
                for (int c = 0; c < 3; c++)
                    t[r][c] = gm[r * 3] * k[c] + gm[r * 3 + 1] * k[3 + c] +
                              gm[r * 3 + 2] * k[6 + c];
            for (int r = 0; r < alpha; r++)
                for (int c = 0; c < alpha; c++) {
                    double sum = t[r][0] * gm[c * 3] + t[r][1] * gm[c * 3 + 1] +
                                 t[r][2] * gm[c * 3 + 2];
                    size_t xi = (size_t)(r * alpha + c);
                    size_t at = fused ? fused_index(alpha, in_c, co_block, o, i, xi)
                                      : xi * plane + (size_t)o * in_c + (size_t)i;
                    u[at] = (float)sum;
                }
        }
    }
}

/* Tiles per image along each axis. */
static int tiles_along(int out, int tile) {
    return (out + tile - 1) / tile;
}

/* Floats of V and M per image. */
static size_t floats_per_image(const clnet_conv_geometry *g, int tile) {
    size_t alpha = (size_t)tile + 2;
    size_t tiles = (size_t)tiles_along(g->out_h, tile) * (size_t)tiles_along(g->out_w, tile);
    return alpha * alpha * ((size_t)g->in_c + (size_t)g->out_c) * tiles;
}

/* Images per pass: as many as fit in CHUNK_FLOATS, at least one. */
static int chunk_images(const clnet_conv_geometry *g, int tile, int batch) {
    size_t per_image = floats_per_image(g, tile);
    size_t fit = per_image > 0 ? CHUNK_FLOATS / per_image : 0;
    if (fit < 1)
        fit = 1;
    return fit < (size_t)batch ? (int)fit : batch;
}

size_t clnet_conv2d_winograd_gemm_scratch(const clnet_conv_geometry *g, int tile, int batch) {
    if (!clnet_conv2d_winograd_applies(g) || (tile != 2 && tile != 4) || batch <= 0)
        return 0;
    return floats_per_image(g, tile) * (size_t)chunk_images(g, tile, batch);
}

size_t clnet_conv2d_winograd_scratch(const clnet_context *ctx, const clnet_conv_geometry *g,
                                     int tile, int batch) {
    if (clnet_conv2d_winograd_fuses(ctx, g, tile))
        return 0;
    return clnet_conv2d_winograd_gemm_scratch(g, tile, batch);
}

/* Validates what every path reads and writes, but the scratch space. */
static clnet_status check_winograd(const char *op, const clnet_context *ctx,
                                   const clnet_conv_geometry *g, int tile, int fused, int batch,
                                   clnet_dview in, clnet_dview out, cl_mem u, cl_mem bias) {
    if (!ctx || !g)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: context or geometry is NULL", op);
    if (tile != 2 && tile != 4)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: output tile %d is not one of the implemented 2 and 4", op, tile);
    if (!clnet_conv2d_winograd_applies(g))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: a %dx%d kernel with stride %dx%d and dilation %dx%d is not a "
                          "3x3 stride-1 dilation-1 convolution",
                          op, g->kh, g->kw, g->sh, g->sw, g->dh, g->dw);
    if (batch <= 0 || g->in_c <= 0 || g->in_h <= 0 || g->in_w <= 0 || g->out_c <= 0 ||
        g->out_h <= 0 || g->out_w <= 0 || g->pad_top < 0 || g->pad_left < 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: batch %d, input %dx%dx%d, output %dx%dx%d and padding %d/%d "
                          "must be positive (padding non-negative)",
                          op, batch, g->in_c, g->in_h, g->in_w, g->out_c, g->out_h, g->out_w,
                          g->pad_top, g->pad_left);
    if (g->out_h != g->in_h + g->pad_top + g->pad_bottom - 2 ||
        g->out_w != g->in_w + g->pad_left + g->pad_right - 2)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: output %dx%d does not follow from input %dx%d and padding "
                          "%d/%d/%d/%d",
                          op, g->out_h, g->out_w, g->in_h, g->in_w, g->pad_top, g->pad_bottom,
                          g->pad_left, g->pad_right);
    CLNET_TRY(clnet_check_view(op, "input", in, batch, (long long)g->in_c * g->in_h * g->in_w));
    CLNET_TRY(
        clnet_check_view(op, "output", out, batch, (long long)g->out_c * g->out_h * g->out_w));
    CLNET_TRY(clnet_check_extent(op, "transformed filters", u,
                                 (long long)clnet_winograd_filter_floats(g, tile, fused)));
    if (bias)
        CLNET_TRY(clnet_check_extent(op, "bias", bias, g->out_c));
    return CLNET_STATUS_OK;
}

/* The fusion a call asks for, with NULL read as none. */
typedef struct fusion_parts {
    cl_mem pre_scale, pre_shift;
    int pre_relu;
    clnet_dview residual; /* residual.buf NULL: none */
} fusion_parts;

/* Validates the fusion arguments of a call; *parts receives them. */
static clnet_status check_fusion(const char *op, const clnet_conv_geometry *g, int batch,
                                 const clnet_conv_fusion *fusion, fusion_parts *parts) {
    *parts = (fusion_parts){0};
    if (!fusion)
        return CLNET_STATUS_OK;
    if (!fusion->pre_scale != !fusion->pre_shift)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: the prologue needs both pre_scale and pre_shift (only %s given)",
                          op, fusion->pre_scale ? "pre_scale" : "pre_shift");
    if (fusion->pre_relu && !fusion->pre_scale)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: pre_relu is set without a prologue (pre_scale and pre_shift)", op);
    if (fusion->pre_scale) {
        CLNET_TRY(clnet_check_extent(op, "prologue scale", fusion->pre_scale, g->in_c));
        CLNET_TRY(clnet_check_extent(op, "prologue shift", fusion->pre_shift, g->in_c));
        parts->pre_scale = fusion->pre_scale;
        parts->pre_shift = fusion->pre_shift;
        parts->pre_relu = fusion->pre_relu != 0;
    }
    if (fusion->residual.buf) {
        CLNET_TRY(clnet_check_view(op, "residual", fusion->residual, batch,
                                   (long long)g->out_c * g->out_h * g->out_w));
        parts->residual = fusion->residual;
    }
    return CLNET_STATUS_OK;
}

/* Build options of cl/winograd.cl: each fused part adds a define (see the
 * top of that file), so that layers without fusion run kernels that carry
 * none of it. co_block 0: no CO_BLOCK (the GEMM path's transforms). */
static void program_options(char *options, size_t size, int tile, int per_item, int prologue,
                            int residual, int co_block) {
    int n = snprintf(options, size, "-DWINO_M=%d -DTILES=%d", tile, per_item);
    if (co_block)
        n += snprintf(options + n, size - (size_t)n, " -DCO_BLOCK=%d", co_block);
    if (prologue)
        n += snprintf(options + n, size - (size_t)n, " -DPROLOGUE=1");
    if (residual)
        snprintf(options + n, size - (size_t)n, " -DRESIDUAL=1");
}

/* One pass of the GEMM path: `images` images from the views' starts. */
static clnet_status gemm_pass(clnet_context *ctx, const clnet_conv_geometry *g, int tile,
                              int images, clnet_dview in, clnet_dview out, cl_mem u, cl_mem bias,
                              int relu, const fusion_parts *fusion, clnet_gemm_backend backend,
                              cl_mem scratch, clnet_events *events) {
    const int alpha = tile + 2;
    const int tiles_h = tiles_along(g->out_h, tile), tiles_w = tiles_along(g->out_w, tile);
    const int cols = images * tiles_h * tiles_w;
    const int v_off = 0;
    const int m_off = alpha * alpha * g->in_c * cols;
    const int per_item = tiles_per_item(ctx);
    const size_t items = (size_t)(cols + per_item - 1) / (size_t)per_item;
    /* The input transform takes the prologue, the output transform the
     * residual: each program is built with its own part only. */
    char options[96];
    program_options(options, sizeof options, tile, per_item, fusion->pre_scale != NULL, 0, 0);

    cl_kernel input;
    CLNET_TRY(clnet_context_kernel(ctx, "winograd", options, "winograd_input", &input));
    clnet_kernel_arg in_args[] = {
        CLNET_ARG(in.buf),      CLNET_ARG(in.offset), CLNET_ARG(in.batch_stride),
        CLNET_ARG(scratch),     CLNET_ARG(v_off),     CLNET_ARG(g->in_c),
        CLNET_ARG(g->in_h),     CLNET_ARG(g->in_w),   CLNET_ARG(g->pad_top),
        CLNET_ARG(g->pad_left), CLNET_ARG(tiles_h),   CLNET_ARG(tiles_w),
        CLNET_ARG(cols),        CLNET_ARG(fusion->pre_scale),
        CLNET_ARG(fusion->pre_shift), CLNET_ARG(fusion->pre_relu),
    };
    size_t in_global[2] = {items, (size_t)g->in_c};
    CLNET_TRY(clnet_launch(ctx, input, "winograd_input", (int)(sizeof in_args / sizeof in_args[0]),
                           in_args, 2, in_global, transform_group(ctx), events));

    clnet_gemm_args gemm = {
        .m = g->out_c, .n = cols, .k = g->in_c, .batch = alpha * alpha,
        .a = u, .a_off = 0, .lda = g->in_c,
        .b = scratch, .b_off = v_off, .ldb = cols, .b_stride = g->in_c * cols,
        .c = scratch, .c_off = m_off, .ldc = cols, .c_stride = g->out_c * cols,
        .bias = NULL, .relu = 0,
    };
    CLNET_TRY(clnet_gemm_strided_a(ctx, backend, &gemm, g->out_c * g->in_c, events));

    cl_kernel output;
    program_options(options, sizeof options, tile, per_item, 0, fusion->residual.buf != NULL, 0);
    CLNET_TRY(clnet_context_kernel(ctx, "winograd", options, "winograd_output", &output));
    int has_bias = bias != NULL;
    clnet_kernel_arg out_args[] = {
        CLNET_ARG(scratch),    CLNET_ARG(m_off),    CLNET_ARG(out.buf),
        CLNET_ARG(out.offset), CLNET_ARG(out.batch_stride), CLNET_ARG(bias),
        CLNET_ARG(has_bias),   CLNET_ARG(relu),     CLNET_ARG(g->out_c),
        CLNET_ARG(g->out_h),   CLNET_ARG(g->out_w), CLNET_ARG(tiles_h),
        CLNET_ARG(tiles_w),    CLNET_ARG(cols),     CLNET_ARG(fusion->residual.buf),
        CLNET_ARG(fusion->residual.offset), CLNET_ARG(fusion->residual.batch_stride),
    };
    size_t out_global[2] = {items, (size_t)g->out_c};
    return clnet_launch(ctx, output, "winograd_output",
                        (int)(sizeof out_args / sizeof out_args[0]), out_args, 2, out_global,
                        transform_group(ctx), events);
}

clnet_status clnet_conv2d_winograd_gemm(clnet_context *ctx, const clnet_conv_geometry *g,
                                        int tile, int batch, clnet_dview in, clnet_dview out,
                                        cl_mem u, cl_mem bias, int relu,
                                        clnet_gemm_backend backend, cl_mem scratch,
                                        const clnet_conv_fusion *fusion, clnet_events *events) {
    const char *op = OP "(gemm)";
    CLNET_TRY(check_winograd(op, ctx, g, tile, 0, batch, in, out, u, bias));
    fusion_parts parts;
    CLNET_TRY(check_fusion(op, g, batch, fusion, &parts));
    CLNET_TRY(clnet_check_extent(op, "Winograd scratch", scratch,
                                 (long long)clnet_conv2d_winograd_gemm_scratch(g, tile, batch)));
    const int chunk = chunk_images(g, tile, batch);
    for (int n0 = 0; n0 < batch; n0 += chunk) {
        int images = batch - n0 < chunk ? batch - n0 : chunk;
        clnet_dview in_part = in, out_part = out;
        fusion_parts parts_part = parts;
        /* In range: check_winograd and check_fusion verified the last
         * image's end below 2^31. */
        in_part.offset += n0 * in.batch_stride;
        out_part.offset += n0 * out.batch_stride;
        if (parts.residual.buf)
            parts_part.residual.offset += n0 * parts.residual.batch_stride;
        clnet_status st = gemm_pass(ctx, g, tile, images, in_part, out_part, u, bias, relu,
                                    &parts_part, backend, scratch, events);
        if (st != CLNET_STATUS_OK)
            return clnet_fail_context(st, "%s F(%dx%d,3x3), images %d to %d: ", op, tile, tile,
                                      n0, n0 + images - 1);
    }
    return CLNET_STATUS_OK;
}

clnet_status clnet_conv2d_winograd_fused(clnet_context *ctx, const clnet_conv_geometry *g,
                                         int tile, int batch, clnet_dview in, clnet_dview out,
                                         cl_mem u, cl_mem bias, int relu,
                                         const clnet_conv_fusion *fusion, clnet_events *events) {
    const char *op = OP "(fused)";
    CLNET_TRY(check_winograd(op, ctx, g, tile, 1, batch, in, out, u, bias));
    fusion_parts parts;
    CLNET_TRY(check_fusion(op, g, batch, fusion, &parts));
    size_t local_bytes = fused_local_bytes(ctx, g, tile);
    /* Limitation: the fused kernel keeps every input channel's transformed
     * tiles in local memory; wider layers take the GEMM path. */
    if (local_bytes > ctx->info.local_mem_bytes)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "%s: %d input channels need %zu bytes of local memory; the device "
                          "has %llu",
                          op, g->in_c, local_bytes,
                          (unsigned long long)ctx->info.local_mem_bytes);
    const int tiles_h = tiles_along(g->out_h, tile), tiles_w = tiles_along(g->out_w, tile);
    if ((double)batch * tiles_h * tiles_w > INT_MAX)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "%s: %d images of %d x %d tiles exceed int "
                          "indexing", op, batch, tiles_h, tiles_w);
    const int cols = batch * tiles_h * tiles_w;
    const int per_item = tiles_per_item(ctx);
    const int co_block = fused_co_block(g->out_c);
    char options[128];
    program_options(options, sizeof options, tile, per_item, parts.pre_scale != NULL,
                    parts.residual.buf != NULL, co_block);
    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "winograd", options, "winograd_fused", &kernel));
    /* Output channels per work-item: all, unless the tiles alone give
     * fewer than FUSED_ITEMS_PER_UNIT work-items per compute unit. */
    const size_t items = (size_t)(cols + per_item - 1) / (size_t)per_item;
    const size_t want =
        (size_t)FUSED_ITEMS_PER_UNIT * (ctx->info.compute_units ? ctx->info.compute_units : 1);
    const int co_blocks = (int)fused_stride(g->out_c) / co_block;
    int groups = items >= want ? 1 : (int)((want + items - 1) / items);
    if (groups > co_blocks)
        groups = co_blocks;
    const int co_per_item = (co_blocks + groups - 1) / groups * co_block;
    groups = (g->out_c + co_per_item - 1) / co_per_item;
    int has_bias = bias != NULL;
    clnet_kernel_arg args[] = {
        CLNET_ARG(in.buf),   CLNET_ARG(in.offset),  CLNET_ARG(in.batch_stride),
        CLNET_ARG(out.buf),  CLNET_ARG(out.offset), CLNET_ARG(out.batch_stride),
        CLNET_ARG(u),        CLNET_ARG(bias),
        CLNET_ARG(has_bias), CLNET_ARG(relu),       CLNET_ARG(g->in_c),
        CLNET_ARG(g->in_h),  CLNET_ARG(g->in_w),    CLNET_ARG(g->out_c),
        CLNET_ARG(g->out_h), CLNET_ARG(g->out_w),   CLNET_ARG(g->pad_top),
        CLNET_ARG(g->pad_left), CLNET_ARG(tiles_h), CLNET_ARG(tiles_w),
        CLNET_ARG(cols),     CLNET_ARG(co_per_item), {local_bytes, NULL},
        CLNET_ARG(parts.pre_scale), CLNET_ARG(parts.pre_shift), CLNET_ARG(parts.pre_relu),
        CLNET_ARG(parts.residual.buf), CLNET_ARG(parts.residual.offset),
        CLNET_ARG(parts.residual.batch_stride),
    };
    size_t global[2] = {items, (size_t)groups}, local[2] = {1, 1};
    return clnet_launch(ctx, kernel, "winograd_fused", (int)(sizeof args / sizeof args[0]), args,
                        2, global, local, events);
}

clnet_status clnet_conv2d_winograd(clnet_context *ctx, const clnet_conv_geometry *g, int tile,
                                   int batch, clnet_dview in, clnet_dview out, cl_mem u,
                                   cl_mem bias, int relu, clnet_gemm_backend backend,
                                   cl_mem scratch, const clnet_conv_fusion *fusion,
                                   clnet_events *events) {
    if (clnet_conv2d_winograd_fuses(ctx, g, tile))
        return clnet_conv2d_winograd_fused(ctx, g, tile, batch, in, out, u, bias, relu, fusion,
                                           events);
    return clnet_conv2d_winograd_gemm(ctx, g, tile, batch, in, out, u, bias, relu, backend,
                                      scratch, fusion, events);
}

clnet_status clnet_conv2d_winograd_build_variants(clnet_context *ctx) {
    if (!ctx)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, OP ": context is NULL");
    const int per_item = tiles_per_item(ctx);
    for (int tile = 2; tile <= 4; tile += 2) {
        char options[128];
        cl_kernel kernel;
        /* The GEMM path: the input transform with and without a prologue,
         * the output transform with and without a residual. */
        for (int part = 0; part < 3; part++) {
            program_options(options, sizeof options, tile, per_item, part == 1, part == 2, 0);
            CLNET_TRY(clnet_context_kernel(ctx, "winograd", options,
                                           part == 2 ? "winograd_output" : "winograd_input",
                                           &kernel));
        }
        /* The fused kernel, on the devices that take it, with every
         * combination of the two. */
        if (ctx->info.type != CLNET_DEVICE_TYPE_CPU)
            continue;
        for (int parts = 0; parts < 8; parts++) {
            program_options(options, sizeof options, tile, per_item, parts & 1, parts & 2,
                            parts & 4 ? FUSED_CO_BLOCK_WIDE : FUSED_CO_BLOCK);
            CLNET_TRY(clnet_context_kernel(ctx, "winograd", options, "winograd_fused", &kernel));
        }
    }
    return CLNET_STATUS_OK;
}
