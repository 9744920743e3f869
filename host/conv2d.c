/* Convolution launchers: the direct kernel (cl/conv2d_direct.cl), im2col
 * (cl/im2col.cl) followed by a GEMM, and 1x1 convolutions as a plain GEMM;
 * the last two with the fusions of clnet_conv_fusion. On CPUs the first two
 * hand 3x3 stride-2 layers to the stride-2 kernel (cl/conv2d_stride2.cl). */
#include "kernels.h"

#include <limits.h>
#include <stdio.h>

/* Register blocks of cl/conv2d_direct.cl: output channels x output columns
 * per work-item. GPUs: 4 x 2, few registers per work-item so that many stay
 * resident. CPUs: 8 columns (one AVX vector) by 8, 12 or 16 channels,
 * whichever wastes the fewest padded channels (the networks' filter counts
 * are 12, 16, 24, 32, 48, 64, ...); on PoCL (AVX2) 16 x 8 runs about twice
 * as fast as 4 x 8 on ResNet layers. */
static int direct_oc_block(const clnet_context *ctx, int out_c) {
    if (ctx->info.type != CLNET_DEVICE_TYPE_CPU)
        return 4;
    static const int blocks[] = {16, 12, 8};
    int best = blocks[0], best_padded = INT_MAX;
    for (int i = 0; i < 3; i++) {
        int padded = (out_c + blocks[i] - 1) / blocks[i] * blocks[i];
        if (padded < best_padded) {
            best = blocks[i];
            best_padded = padded;
        }
    }
    return best;
}
static int direct_px_block(const clnet_context *ctx) {
    return ctx->info.type == CLNET_DEVICE_TYPE_CPU ? 8 : 2;
}

/* Output columns and rows per im2col work-item: CPUs run blocks of up to
 * 32 columns by 16 rows (whole planes of CIFAR-sized layers), GPUs one
 * pixel so that neighbouring work-items write neighbouring floats. On PoCL
 * (2 Zen 3 cores), 16 rows per work-item in place of 1 made im2col and its
 * GEMM up to 1.3x faster on ResNets' 1x1 stride-2 layers (64 -> 64
 * channels on 32x32 at batch 32), and slower on none. */
static int im2col_run(const clnet_context *ctx) {
    return ctx->info.type == CLNET_DEVICE_TYPE_CPU ? 32 : 1;
}
static int im2col_rows(const clnet_context *ctx) {
    return ctx->info.type == CLNET_DEVICE_TYPE_CPU ? 16 : 1;
}

/* Prefixes a failure of a step with the launcher's name. */
static clnet_status prefixed(clnet_status status, const char *op) {
    return status == CLNET_STATUS_OK ? status : clnet_fail_context(status, "%s: ", op);
}

/* Validates everything a convolution launch reads and writes. */
static clnet_status check_conv(const char *op, const clnet_context *ctx,
                               const clnet_conv_geometry *g, int batch, clnet_dview in,
                               clnet_dview out, cl_mem weight, cl_mem bias) {
    if (!ctx || !g)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: context or geometry is NULL", op);
    if (batch <= 0 || g->in_c <= 0 || g->in_h <= 0 || g->in_w <= 0 || g->out_c <= 0 ||
        g->out_h <= 0 || g->out_w <= 0 || g->kh <= 0 || g->kw <= 0 || g->sh <= 0 || g->sw <= 0 ||
        g->dh <= 0 || g->dw <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: batch %d, input %dx%dx%d, output %dx%dx%d, kernel %dx%d, stride "
                          "%dx%d and dilation %dx%d must all be positive",
                          op, batch, g->in_c, g->in_h, g->in_w, g->out_c, g->out_h, g->out_w, g->kh,
                          g->kw, g->sh, g->sw, g->dh, g->dw);
    if (g->pad_top < 0 || g->pad_left < 0 || g->pad_bottom < 0 || g->pad_right < 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: padding top %d, left %d, bottom %d, right %d must be non-negative",
                          op, g->pad_top, g->pad_left, g->pad_bottom, g->pad_right);
    CLNET_TRY(clnet_check_view(op, "input", in, batch, (long long)g->in_c * g->in_h * g->in_w));
    CLNET_TRY(clnet_check_view(op, "output", out, batch, (long long)g->out_c * g->out_h * g->out_w));
    CLNET_TRY(clnet_check_extent(op, "weight", weight, (long long)g->out_c * g->in_c * g->kh * g->kw));
    if (bias)
        CLNET_TRY(clnet_check_extent(op, "bias", bias, g->out_c));
    return CLNET_STATUS_OK;
}

/* Whether a fusion asks for a prologue and for a residual. */
static int wants_prologue(const clnet_conv_fusion *f) {
    return f && (f->pre_scale || f->pre_shift || f->pre_relu);
}
static int wants_residual(const clnet_conv_fusion *f) {
    return f && f->residual.buf;
}

/* Validates the fusion of a convolution: the prologue's per-channel arrays
 * (in_c floats each) and the residual view (the output's shape). Call after
 * check_conv, which validated g and batch. */
static clnet_status check_fusion(const char *op, const clnet_conv_geometry *g, int batch,
                                 const clnet_conv_fusion *f) {
    if (wants_prologue(f)) {
        if (!f->pre_scale || !f->pre_shift)
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                              "%s: the prologue needs both pre_scale and pre_shift (%s is NULL)",
                              op, f->pre_scale ? "pre_shift" : "pre_scale");
        CLNET_TRY(clnet_check_extent(op, "prologue scale", f->pre_scale, g->in_c));
        CLNET_TRY(clnet_check_extent(op, "prologue shift", f->pre_shift, g->in_c));
    }
    if (wants_residual(f))
        CLNET_TRY(clnet_check_view(op, "residual", f->residual, batch,
                                   (long long)g->out_c * g->out_h * g->out_w));
    return CLNET_STATUS_OK;
}

/* The GEMM's residual: a view with the output's layout is, per image, an
 * out_c x (out_h * out_w) matrix. */
static void gemm_residual(clnet_gemm_args *gemm, const clnet_conv_geometry *g,
                          const clnet_conv_fusion *f) {
    if (!wants_residual(f))
        return;
    gemm->residual = f->residual.buf;
    gemm->r_off = f->residual.offset;
    gemm->ldr = g->out_h * g->out_w;
    gemm->r_stride = f->residual.batch_stride;
}

/* Output channels per work-item of cl/conv2d_stride2.cl, by 8 pixels: 8
 * accumulator vectors leave AVX2's other 8 registers to the taps, the
 * weight and the loads. Measured on PoCL (2 Zen 3 cores, AVX2), CPU time on
 * one core, on ResNets' 3x3 stride-2 layers: 8 ran 1.1-1.4x faster than 6,
 * 10 or 12, and than two vectors of pixels by 4 or 6 channels (their
 * shuffled taps spill registers); running 2 or 4 blocks of channels per
 * work-item gained nothing. */
#define STRIDE2_OC_BLOCK 8

/* Whether cl/conv2d_stride2.cl runs a convolution in place of the direct
 * kernel or of im2col and a GEMM: on CPUs, for 3x3 kernels with a
 * horizontal stride of 2 and no dilation across. Measured as above, on
 * ResNets' 3x3 stride-2 layers at batches 1 and 32, it ran 1.3-2.0x faster
 * than im2col (which unfolds 2.25x the input) and the GEMM. Its 1x1
 * variant ran up to 1.6x slower than subsampling with im2col and the GEMM:
 * with one tap per input vector, half of every vector loaded is wasted and
 * the loads outnumber the multiply-adds, so 1x1 kernels stay with im2col. */
static int stride2_applies(const clnet_context *ctx, const clnet_conv_geometry *g) {
    return ctx->info.type == CLNET_DEVICE_TYPE_CPU && g->kh == 3 && g->kw == 3 && g->sw == 2 &&
           g->dw == 1;
}

/* The direct stride-2 kernel (cl/conv2d_stride2.cl) with its fusions. */
static clnet_status conv2d_stride2(clnet_context *ctx, const clnet_conv_geometry *g, int batch,
                                   clnet_dview in, clnet_dview out, cl_mem weight, cl_mem bias,
                                   int relu, const clnet_conv_fusion *fusion,
                                   clnet_events *events) {
    int has_pre = wants_prologue(fusion);
    int pre_relu = has_pre && fusion->pre_relu;
    const char *name = !has_pre ? "conv2d_stride2_3x3"
                       : pre_relu ? "conv2d_stride2_3x3_pre_relu"
                                  : "conv2d_stride2_3x3_pre";
    char options[32];
    snprintf(options, sizeof options, "-DOC_BLOCK=%d", STRIDE2_OC_BLOCK);
    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "conv2d_stride2", options, name, &kernel));

    cl_mem pre_scale = has_pre ? fusion->pre_scale : NULL;
    cl_mem pre_shift = has_pre ? fusion->pre_shift : NULL;
    int has_residual = wants_residual(fusion);
    clnet_dview res = has_residual ? fusion->residual : (clnet_dview){NULL, 0, 0};
    int has_bias = bias != NULL;
    clnet_kernel_arg args[] = {
        CLNET_ARG(in.buf),           CLNET_ARG(in.offset),    CLNET_ARG(in.batch_stride),
        CLNET_ARG(out.buf),          CLNET_ARG(out.offset),   CLNET_ARG(out.batch_stride),
        CLNET_ARG(weight),           CLNET_ARG(bias),         CLNET_ARG(has_bias),
        CLNET_ARG(relu),             CLNET_ARG(g->in_c),      CLNET_ARG(g->in_h),
        CLNET_ARG(g->in_w),          CLNET_ARG(g->out_c),     CLNET_ARG(g->out_h),
        CLNET_ARG(g->out_w),         CLNET_ARG(g->sh),        CLNET_ARG(g->dh),
        CLNET_ARG(g->pad_top),       CLNET_ARG(g->pad_left),  CLNET_ARG(pre_scale),
        CLNET_ARG(pre_shift),        CLNET_ARG(res.buf),      CLNET_ARG(res.offset),
        CLNET_ARG(res.batch_stride), CLNET_ARG(has_residual),
    };
    /* One work-item per work-group, as for the CPU GEMM: nothing is shared,
     * and PoCL compiles one group size once. */
    size_t global[3] = {(size_t)((g->out_c + STRIDE2_OC_BLOCK - 1) / STRIDE2_OC_BLOCK),
                        (size_t)((g->out_w + 7) / 8), (size_t)batch * (size_t)g->out_h};
    size_t local[3] = {1, 1, 1};
    return clnet_launch(ctx, kernel, "conv2d_stride2", (int)(sizeof args / sizeof args[0]), args,
                        3, global, local, events);
}

clnet_status clnet_conv2d_direct(clnet_context *ctx, const clnet_conv_geometry *g, int batch,
                                 clnet_dview in, clnet_dview out, cl_mem weight, cl_mem bias,
                                 int relu, clnet_events *events) {
    const char *op = "conv2d_direct";
    CLNET_TRY(check_conv(op, ctx, g, batch, in, out, weight, bias));
    /* 3x3 stride-2 stems (1 and 3 input channels, batches 1 and 32) ran
     * 1.7-3.3x faster with the stride-2 kernel than with this one. */
    if (stride2_applies(ctx, g))
        return conv2d_stride2(ctx, g, batch, in, out, weight, bias, relu, NULL, events);

    int oc_block = direct_oc_block(ctx, g->out_c);
    int px = direct_px_block(ctx);
    char options[64];
    snprintf(options, sizeof options, "-DOC_BLOCK=%d -DPX_BLOCK=%d", oc_block, px);
    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "conv2d_direct", options, "conv2d_direct", &kernel));
    int has_bias = bias != NULL;
    clnet_kernel_arg args[] = {
        CLNET_ARG(in.buf),   CLNET_ARG(in.offset),  CLNET_ARG(in.batch_stride),
        CLNET_ARG(out.buf),  CLNET_ARG(out.offset), CLNET_ARG(out.batch_stride),
        CLNET_ARG(weight),   CLNET_ARG(bias),       CLNET_ARG(has_bias),
        CLNET_ARG(relu),     CLNET_ARG(g->in_c),    CLNET_ARG(g->in_h),
        CLNET_ARG(g->in_w),  CLNET_ARG(g->out_c),   CLNET_ARG(g->out_h),
        CLNET_ARG(g->out_w), CLNET_ARG(g->kh),      CLNET_ARG(g->kw),
        CLNET_ARG(g->sh),    CLNET_ARG(g->sw),      CLNET_ARG(g->dh),
        CLNET_ARG(g->dw),    CLNET_ARG(g->pad_top), CLNET_ARG(g->pad_left),
    };
    size_t global[3] = {(size_t)((g->out_w + px - 1) / px), (size_t)g->out_h,
                        (size_t)batch * (size_t)((g->out_c + oc_block - 1) / oc_block)};
    return clnet_launch(ctx, kernel, op, (int)(sizeof args / sizeof args[0]), args, 3, global,
                        NULL, events);
}

size_t clnet_conv2d_im2col_scratch(const clnet_conv_geometry *g, int batch) {
    if (!g || batch <= 0)
        return 0;
    return (size_t)g->in_c * (size_t)g->kh * (size_t)g->kw * (size_t)g->out_h *
           (size_t)g->out_w * (size_t)batch;
}

clnet_status clnet_conv2d_im2col_gemm(clnet_context *ctx, const clnet_conv_geometry *g, int batch,
                                      clnet_dview in, clnet_dview out, cl_mem weight,
                                      cl_mem bias, int relu, clnet_gemm_backend backend,
                                      cl_mem scratch, const clnet_conv_fusion *fusion,
                                      clnet_events *events) {
    const char *op = "conv2d_im2col_gemm";
    CLNET_TRY(check_conv(op, ctx, g, batch, in, out, weight, bias));
    CLNET_TRY(check_fusion(op, g, batch, fusion));
    CLNET_TRY(clnet_check_extent(op, "im2col scratch", scratch,
                           (long long)clnet_conv2d_im2col_scratch(g, batch)));
    /* The stride-2 kernel needs neither the scratch space, checked above so
     * that the contract is the same on every device, nor a GEMM backend. */
    if (stride2_applies(ctx, g))
        return conv2d_stride2(ctx, g, batch, in, out, weight, bias, relu, fusion, events);

    /* Columns: per image [K = in_c * kh * kw][P = out_h * out_w]. The
     * prologue is applied here, where each input value is read, so that
     * any GEMM backend can follow. */
    int run = im2col_run(ctx), rows = im2col_rows(ctx);
    char options[48];
    snprintf(options, sizeof options, "-DX_RUN=%d -DY_RUN=%d", run, rows);
    cl_kernel kernel;
    CLNET_TRY(clnet_context_kernel(ctx, "im2col", options, "im2col", &kernel));
    int has_pre = wants_prologue(fusion);
    cl_mem pre_scale = has_pre ? fusion->pre_scale : NULL;
    cl_mem pre_shift = has_pre ? fusion->pre_shift : NULL;
    int pre_relu = has_pre && fusion->pre_relu;
    clnet_kernel_arg args[] = {
        CLNET_ARG(in.buf),     CLNET_ARG(in.offset),   CLNET_ARG(in.batch_stride),
        CLNET_ARG(scratch),    CLNET_ARG(g->in_c),     CLNET_ARG(g->in_h),
        CLNET_ARG(g->in_w),    CLNET_ARG(g->out_h),    CLNET_ARG(g->out_w),
        CLNET_ARG(g->kh),      CLNET_ARG(g->kw),       CLNET_ARG(g->sh),
        CLNET_ARG(g->sw),      CLNET_ARG(g->dh),       CLNET_ARG(g->dw),
        CLNET_ARG(g->pad_top), CLNET_ARG(g->pad_left), CLNET_ARG(pre_scale),
        CLNET_ARG(pre_shift),  CLNET_ARG(has_pre),     CLNET_ARG(pre_relu),
    };
    int k = g->in_c * g->kh * g->kw;
    int pixels = g->out_h * g->out_w;
    size_t global[3] = {(size_t)((g->out_w + run - 1) / run),
                        (size_t)((g->out_h + rows - 1) / rows), (size_t)batch * (size_t)k};
    CLNET_TRY(clnet_launch(ctx, kernel, "im2col", (int)(sizeof args / sizeof args[0]), args, 3,
                           global, NULL, events));

    clnet_gemm_args gemm = {
        .m = g->out_c, .n = pixels, .k = k, .batch = batch,
        .a = weight, .a_off = 0, .lda = k,
        .b = scratch, .b_off = 0, .ldb = pixels, .b_stride = k * pixels,
        .c = out.buf, .c_off = out.offset, .ldc = pixels, .c_stride = out.batch_stride,
        .bias = bias, .relu = relu,
    };
    gemm_residual(&gemm, g, fusion);
    return prefixed(clnet_gemm(ctx, backend, &gemm, events), op);
}

int clnet_conv2d_is_pointwise(const clnet_conv_geometry *g) {
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pad_top == 0 &&
           g->pad_left == 0 && g->pad_bottom == 0 && g->pad_right == 0;
}

clnet_status clnet_conv2d_gemm1x1(clnet_context *ctx, const clnet_conv_geometry *g, int batch,
                                  clnet_dview in, clnet_dview out, cl_mem weight, cl_mem bias,
                                  int relu, clnet_gemm_backend backend,
                                  const clnet_conv_fusion *fusion, clnet_events *events) {
    const char *op = "conv2d_gemm1x1";
    CLNET_TRY(check_conv(op, ctx, g, batch, in, out, weight, bias));
    CLNET_TRY(check_fusion(op, g, batch, fusion));
    if (!clnet_conv2d_is_pointwise(g) || g->out_h != g->in_h || g->out_w != g->in_w)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: a %dx%d kernel with stride %dx%d and padding %d/%d/%d/%d is not a "
                          "pointwise convolution (1x1, stride 1, no padding)",
                          op, g->kh, g->kw, g->sh, g->sw, g->pad_top, g->pad_left, g->pad_bottom,
                          g->pad_right);

    /* Each input image is already the K x N matrix of the GEMM: channels by
     * pixels, so the prologue's channels are the GEMM's rows of B (which
     * only clnet's own GEMM kernels can transform). */
    int pixels = g->in_h * g->in_w;
    clnet_gemm_args gemm = {
        .m = g->out_c, .n = pixels, .k = g->in_c, .batch = batch,
        .a = weight, .a_off = 0, .lda = g->in_c,
        .b = in.buf, .b_off = in.offset, .ldb = pixels, .b_stride = in.batch_stride,
        .c = out.buf, .c_off = out.offset, .ldc = pixels, .c_stride = out.batch_stride,
        .bias = bias, .relu = relu,
    };
    if (wants_prologue(fusion)) {
        gemm.pre_scale = fusion->pre_scale;
        gemm.pre_shift = fusion->pre_shift;
        gemm.pre_relu = fusion->pre_relu;
    }
    gemm_residual(&gemm, g, fusion);
    return prefixed(clnet_gemm(ctx, backend, &gemm, events), op);
}

int clnet_conv2d_fusion_supported(const clnet_context *ctx, clnet_conv_algo algo,
                                  clnet_gemm_backend backend, int prologue, int residual) {
    switch (algo) {
    case CLNET_CONV_IM2COL_GEMM:
    case CLNET_CONV_WINOGRAD_2X2:
    case CLNET_CONV_WINOGRAD_4X4: return 1;
    case CLNET_CONV_GEMM_1X1:
        /* The prologue transforms B inside the GEMM, which CLBlast cannot. */
        if (backend == CLNET_GEMM_AUTO)
            backend = clnet_gemm_auto_backend(ctx);
        return !prologue || backend == CLNET_GEMM_CLNET;
    /* The direct kernel fuses only bias and ReLU; AUTO names no algorithm. */
    default: return !prologue && !residual;
    }
}

int clnet_conv_algo_applies(clnet_conv_algo algo, const clnet_conv_geometry *g) {
    switch (algo) {
    case CLNET_CONV_DIRECT:
    case CLNET_CONV_IM2COL_GEMM: return 1;
    case CLNET_CONV_GEMM_1X1: return clnet_conv2d_is_pointwise(g);
    case CLNET_CONV_WINOGRAD_2X2:
    case CLNET_CONV_WINOGRAD_4X4: return clnet_conv2d_winograd_applies(g);
    case CLNET_CONV_AUTO: break;
    }
    return 0;
}
