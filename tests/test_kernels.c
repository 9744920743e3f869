/* Device kernels against the CPU reference: every launcher of kernels.h on
 * odd shapes, strides, dilation, asymmetric padding, batches and tensor views
 * (offsets and wide batch strides, as zero-copy concatenation uses them). */
#include "test_util.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "reference.h"

/* Tolerance relative to the largest reference magnitude. The reference
 * accumulates in double; the kernels accumulate sums of at most a few
 * thousand float products, whose rounding errors of 2^-24 each grow roughly
 * with the square root of the term count (well under 1e-6 here). 1e-5 leaves
 * room for unlucky cancellation, while an indexing or padding mistake gives
 * errors of order 1. */
#define TOLERANCE 1e-5

/* ------------------------------------------------------------------------ */
/* Device buffers and tensor views                                          */

static float *random_floats(test_rng *rng, size_t count, float lo, float hi) {
    float *p = test_alloc(count);
    test_fill_uniform(rng, p, count, lo, hi);
    return p;
}

/* Where a tensor of c channels x hw pixels sits in a wider buffer: `lead`
 * floats before the first image, and `before`/`after` foreign channels
 * around it in every image (a channel slice of a concatenation). */
typedef struct layout {
    int lead, before, after;
} layout;

static int layout_stride(layout l, int c, int hw) {
    return (l.before + c + l.after) * hw;
}

static size_t layout_floats(layout l, int c, int hw, int batch) {
    return (size_t)l.lead + (size_t)batch * (size_t)layout_stride(l, c, hw);
}

static clnet_dview layout_view(cl_mem buf, layout l, int c, int hw) {
    clnet_dview v = {buf, l.lead + l.before * hw, layout_stride(l, c, hw)};
    return v;
}

/* Copies the tensor out of the wide buffer into a dense NCHW array. */
static float *extract(const float *wide, layout l, int c, int hw, int batch) {
    float *dense = test_alloc((size_t)batch * c * hw);
    for (int n = 0; n < batch; n++)
        memcpy(dense + (size_t)n * c * hw,
               wide + l.lead + (size_t)n * layout_stride(l, c, hw) + (size_t)l.before * hw,
               (size_t)c * hw * sizeof(float));
    return dense;
}

/* Asserts that every float of the wide buffer outside the tensor is
 * bit-for-bit what it was before the launch. */
static void assert_outside_untouched(const char *what, const float *before_run,
                                     const float *after_run, layout l, int c, int hw,
                                     int batch) {
    size_t total = layout_floats(l, c, hw, batch);
    size_t stride = (size_t)layout_stride(l, c, hw);
    for (size_t i = 0; i < total; i++) {
        if (i >= (size_t)l.lead) {
            size_t within = (i - (size_t)l.lead) % stride;
            if (within >= (size_t)l.before * hw && within < (size_t)(l.before + c) * hw)
                continue;
        }
        if (memcmp(&before_run[i], &after_run[i], sizeof(float)) != 0)
            fail_msg("%s: float %zu outside the output view changed from %g to %g", what, i,
                     before_run[i], after_run[i]);
    }
}

static void relu_host(float *x, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (x[i] < 0)
            x[i] = 0;
}

/* Runs a launch whose output lives in a poisoned wide buffer: reads the
 * buffer back, checks the view against expected and the rest for poison. */
static void check_output(clnet_context *ctx, const char *what, cl_mem out_buf, layout l, int c,
                         int hw, int batch, const float *expected) {
    size_t total = layout_floats(l, c, hw, batch);
    float *wide = test_download(ctx, out_buf, total);
    float *got = extract(wide, l, c, hw, batch);
    test_assert_close(what, expected, got, (size_t)batch * c * hw, TOLERANCE);
    float *poison = test_alloc_poisoned(total);
    assert_outside_untouched(what, poison, wide, l, c, hw, batch);
    free(poison);
    free(got);
    free(wide);
}

/* ------------------------------------------------------------------------ */
/* Convolutions                                                             */

typedef struct conv_case {
    const char *name;
    int in_c, h, w, out_c, k, stride, dilation;
    clnet_padding padding;
    int pad_top, pad_bottom, pad_left, pad_right; /* for CLNET_PADDING_EXPLICIT */
    int batch, bias, relu;
    layout in_layout, out_layout;
} conv_case;

static const conv_case conv_cases[] = {
    {"3->7 13x13 k3 same", 3, 13, 13, 7, 3, 1, 1, CLNET_PADDING_SAME, 0, 0, 0, 0, 1, 1, 1,
     {0, 0, 0}, {0, 0, 0}},
    {"5->16 31x31 k5 stride 2 same (pads 1/2)", 5, 31, 31, 16, 5, 2, 1, CLNET_PADDING_SAME, 0,
     0, 0, 0, 3, 1, 0, {0, 0, 0}, {0, 0, 0}},
    {"13->24 7x7 k3 dilation 2 same, views", 13, 7, 7, 24, 3, 1, 2, CLNET_PADDING_SAME, 0, 0, 0,
     0, 3, 0, 1, {5, 2, 3}, {7, 4, 1}},
    {"3->16 13x7 k3 stride 2 same (pads 0/1)", 3, 13, 7, 16, 3, 2, 1, CLNET_PADDING_SAME, 0, 0,
     0, 0, 3, 1, 1, {0, 0, 0}, {3, 0, 2}},
    {"5->7 7x13 k3 stride 2 explicit pads 2/0/1/3", 5, 7, 13, 7, 3, 2, 1,
     CLNET_PADDING_EXPLICIT, 2, 0, 1, 3, 1, 1, 0, {1, 1, 0}, {0, 2, 0}},
    {"13->7 31x31 k5 valid", 13, 31, 31, 7, 5, 1, 1, CLNET_PADDING_VALID, 0, 0, 0, 0, 1, 0, 0,
     {0, 0, 0}, {0, 0, 0}},
    {"13->24 13x13 k1", 13, 13, 13, 24, 1, 1, 1, CLNET_PADDING_SAME, 0, 0, 0, 0, 3, 1, 1,
     {0, 0, 0}, {0, 0, 0}},
    {"5->7 7x7 k1 views", 5, 7, 7, 7, 1, 1, 1, CLNET_PADDING_VALID, 0, 0, 0, 0, 3, 1, 0,
     {2, 3, 1}, {1, 1, 5}},
    {"3->16 31x31 k1 stride 2", 3, 31, 31, 16, 1, 2, 1, CLNET_PADDING_SAME, 0, 0, 0, 0, 1, 1, 1,
     {0, 0, 0}, {0, 0, 0}},
    /* Wide enough for the vector paths of the stride-2 kernel, with
     * padding below and to the right (as in Keras ResNets), views. */
    {"6->13 18x32 k3 stride 2 same (pads 0/1), views", 6, 18, 32, 13, 3, 2, 1,
     CLNET_PADDING_SAME, 0, 0, 0, 0, 2, 1, 1, {3, 1, 2}, {2, 2, 1}},
    /* PyTorch's padding: one column and row on every side. */
    {"5->9 20x33 k3 stride 2 explicit pads 1/1/1/1", 5, 20, 33, 9, 3, 2, 1,
     CLNET_PADDING_EXPLICIT, 1, 1, 1, 1, 3, 1, 0, {0, 0, 0}, {0, 0, 0}},
    {"7->10 16x40 k1 stride 2, views", 7, 16, 40, 10, 1, 2, 1, CLNET_PADDING_VALID, 0, 0, 0, 0,
     2, 0, 1, {1, 2, 0}, {0, 0, 3}},
};
#define CONV_CASES (sizeof conv_cases / sizeof conv_cases[0])

static clnet_conv_geometry conv_geometry(const conv_case *cc) {
    clnet_conv_geometry g = {0};
    g.in_c = cc->in_c;
    g.in_h = cc->h;
    g.in_w = cc->w;
    g.out_c = cc->out_c;
    g.kh = g.kw = cc->k;
    g.sh = g.sw = cc->stride;
    g.dh = g.dw = cc->dilation;
    TEST_OK(clnet_window_axis("test height", cc->padding, cc->h, cc->k, cc->stride, cc->dilation,
                              cc->pad_top, cc->pad_bottom, &g.out_h, &g.pad_top, &g.pad_bottom));
    TEST_OK(clnet_window_axis("test width", cc->padding, cc->w, cc->k, cc->stride, cc->dilation,
                              cc->pad_left, cc->pad_right, &g.out_w, &g.pad_left, &g.pad_right));
    return g;
}

/* What a convolution test fuses: a prologue (random scale and shift of
 * both signs per input channel, with or without its ReLU) and a residual
 * read through a view wider than the output. */
typedef struct conv_fusion_case {
    int prologue, pre_relu, residual;
} conv_fusion_case;

static const conv_fusion_case fusion_cases[] = {
    {1, 0, 0}, {1, 1, 0}, {0, 0, 1}, {1, 1, 1}, {1, 0, 1},
};
#define FUSION_CASES (sizeof fusion_cases / sizeof fusion_cases[0])

/* Where the residual sits: 5 floats before it, 3 foreign channels before
 * and 2 after it in every image, so that its batch stride exceeds the
 * tensor. */
static const layout residual_layout = {5, 3, 2};

/* Applies the prologue to a dense NCHW tensor in place, in double. */
static void prologue_host(float *x, int c, int hw, int batch, const float *scale,
                          const float *shift, int relu) {
    for (int n = 0; n < batch; n++)
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < hw; i++) {
                float *v = &x[((size_t)n * c + ch) * hw + i];
                double y = (double)*v * scale[ch] + shift[ch];
                *v = (float)(relu && y < 0 ? 0 : y);
            }
}

/* Runs one case with one algorithm (and the fusion f, NULL: none) and
 * compares with clnet_ref_conv2d on the host-fused input and output. */
static void check_conv_fused(const conv_case *cc, clnet_conv_algo algo, clnet_gemm_backend backend,
                             const conv_fusion_case *f, uint64_t seed) {
    clnet_context *ctx = test_context();
    clnet_conv_geometry g = conv_geometry(cc);
    int in_hw = g.in_h * g.in_w, out_hw = g.out_h * g.out_w;
    size_t out_count = (size_t)cc->batch * g.out_c * out_hw;
    test_rng rng = {seed};

    size_t in_total = layout_floats(cc->in_layout, g.in_c, in_hw, cc->batch);
    size_t w_count = (size_t)g.out_c * g.in_c * g.kh * g.kw;
    size_t r_total = layout_floats(residual_layout, g.out_c, out_hw, cc->batch);
    float *in_wide = random_floats(&rng, in_total, -1, 1);
    float *weight = random_floats(&rng, w_count, -1, 1);
    float *bias = random_floats(&rng, (size_t)g.out_c, -1, 1);
    float *scale = random_floats(&rng, (size_t)g.in_c, -1.5f, 1.5f);
    float *shift = random_floats(&rng, (size_t)g.in_c, -1, 1);
    float *r_wide = random_floats(&rng, r_total, -2, 2);

    cl_mem in_buf = test_upload(ctx, in_wide, in_total);
    cl_mem w_buf = test_upload(ctx, weight, w_count);
    cl_mem b_buf = cc->bias ? test_upload(ctx, bias, (size_t)g.out_c) : NULL;
    cl_mem out_buf = test_poisoned_buffer(ctx, layout_floats(cc->out_layout, g.out_c, out_hw, cc->batch));
    clnet_dview in = layout_view(in_buf, cc->in_layout, g.in_c, in_hw);
    clnet_dview out = layout_view(out_buf, cc->out_layout, g.out_c, out_hw);
    clnet_conv_fusion fusion = {0};
    if (f && f->prologue) {
        fusion.pre_scale = test_upload(ctx, scale, (size_t)g.in_c);
        fusion.pre_shift = test_upload(ctx, shift, (size_t)g.in_c);
        fusion.pre_relu = f->pre_relu;
    }
    if (f && f->residual)
        fusion.residual =
            layout_view(test_upload(ctx, r_wide, r_total), residual_layout, g.out_c, out_hw);

    cl_mem scratch = NULL;
    char what[200];
    switch (algo) {
    case CLNET_CONV_DIRECT:
        assert_null(f);
        TEST_OK(clnet_conv2d_direct(ctx, &g, cc->batch, in, out, w_buf, b_buf, cc->relu, NULL));
        break;
    case CLNET_CONV_IM2COL_GEMM: {
        size_t floats = clnet_conv2d_im2col_scratch(&g, cc->batch);
        scratch = test_poisoned_buffer(ctx, floats);
        TEST_OK(clnet_conv2d_im2col_gemm(ctx, &g, cc->batch, in, out, w_buf, b_buf, cc->relu,
                                         backend, scratch, f ? &fusion : NULL, NULL));
        break;
    }
    case CLNET_CONV_GEMM_1X1:
        assert_true(clnet_conv2d_is_pointwise(&g));
        TEST_OK(clnet_conv2d_gemm1x1(ctx, &g, cc->batch, in, out, w_buf, b_buf, cc->relu, backend,
                                     f ? &fusion : NULL, NULL));
        break;
    default:
        fail_msg("unknown algorithm %d", (int)algo);
    }

    /* Expected: prologue on the input, the convolution, the residual, ReLU. */
    float *in_dense = extract(in_wide, cc->in_layout, g.in_c, in_hw, cc->batch);
    if (f && f->prologue)
        prologue_host(in_dense, g.in_c, in_hw, cc->batch, scale, shift, f->pre_relu);
    float *expected = test_alloc(out_count);
    clnet_ref_conv2d(&g, cc->batch, in_dense, weight, cc->bias ? bias : NULL, expected);
    if (f && f->residual) {
        float *r_dense = extract(r_wide, residual_layout, g.out_c, out_hw, cc->batch);
        for (size_t i = 0; i < out_count; i++)
            expected[i] = (float)((double)expected[i] + r_dense[i]);
        free(r_dense);
    }
    if (cc->relu)
        relu_host(expected, out_count);
    snprintf(what, sizeof what, "%s (%s, %s%s%s%s)", cc->name, clnet_conv_algo_name(algo),
             clnet_gemm_backend_name(backend), f && f->prologue ? ", prologue" : "",
             f && f->pre_relu ? "+relu" : "", f && f->residual ? ", residual" : "");
    check_output(ctx, what, out_buf, cc->out_layout, g.out_c, out_hw, cc->batch, expected);

    free(expected);
    free(in_dense);
    clnet_buffer_release(fusion.residual.buf);
    clnet_buffer_release(fusion.pre_shift);
    clnet_buffer_release(fusion.pre_scale);
    clnet_buffer_release(scratch);
    clnet_buffer_release(out_buf);
    clnet_buffer_release(b_buf);
    clnet_buffer_release(w_buf);
    clnet_buffer_release(in_buf);
    free(r_wide);
    free(shift);
    free(scale);
    free(bias);
    free(weight);
    free(in_wide);
}

static void check_conv_case(const conv_case *cc, clnet_conv_algo algo, clnet_gemm_backend backend,
                            uint64_t seed) {
    check_conv_fused(cc, algo, backend, NULL, seed);
}

static void conv2d_direct_matches_reference(void **state) {
    (void)state;
    for (size_t i = 0; i < CONV_CASES; i++)
        check_conv_case(&conv_cases[i], CLNET_CONV_DIRECT, CLNET_GEMM_CLNET, 100 + i);
}

static void conv2d_im2col_gemm_matches_reference(void **state) {
    (void)state;
    for (size_t i = 0; i < CONV_CASES; i++)
        check_conv_case(&conv_cases[i], CLNET_CONV_IM2COL_GEMM, CLNET_GEMM_CLNET, 200 + i);
}

static void conv2d_gemm1x1_matches_reference(void **state) {
    (void)state;
    int tested = 0;
    for (size_t i = 0; i < CONV_CASES; i++) {
        clnet_conv_geometry g = conv_geometry(&conv_cases[i]);
        if (!clnet_conv2d_is_pointwise(&g))
            continue;
        check_conv_case(&conv_cases[i], CLNET_CONV_GEMM_1X1, CLNET_GEMM_CLNET, 300 + i);
        tested++;
    }
    assert_int_equal(tested, 2);
}

/* CLBlast compiles each kernel variant for tens of seconds on PoCL, so only
 * two small shapes go through it. */
static void conv2d_with_clblast_matches_reference(void **state) {
    (void)state;
    check_conv_case(&conv_cases[0], CLNET_CONV_IM2COL_GEMM, CLNET_GEMM_CLBLAST, 400);
    check_conv_case(&conv_cases[7], CLNET_CONV_GEMM_1X1, CLNET_GEMM_CLBLAST, 401);
}

/* Every case (strides 1 and 2, padding, dilation, batches 1 and 3, relu on
 * and off, views) with every fusion: prologue with and without its ReLU,
 * residual, both. */
static void conv2d_im2col_gemm_fused_matches_reference(void **state) {
    (void)state;
    for (size_t i = 0; i < CONV_CASES; i++)
        for (size_t j = 0; j < FUSION_CASES; j++)
            check_conv_fused(&conv_cases[i], CLNET_CONV_IM2COL_GEMM, CLNET_GEMM_CLNET,
                             &fusion_cases[j], 2000 + 10 * i + j);
}

static void conv2d_gemm1x1_fused_matches_reference(void **state) {
    (void)state;
    int tested = 0;
    for (size_t i = 0; i < CONV_CASES; i++) {
        clnet_conv_geometry g = conv_geometry(&conv_cases[i]);
        if (!clnet_conv2d_is_pointwise(&g))
            continue;
        for (size_t j = 0; j < FUSION_CASES; j++)
            check_conv_fused(&conv_cases[i], CLNET_CONV_GEMM_1X1, CLNET_GEMM_CLNET,
                             &fusion_cases[j], 3000 + 10 * i + j);
        tested++;
    }
    assert_int_equal(tested, 2);
}

/* CLBlast takes the residual in its bias_relu pass; im2col applies the
 * prologue before it. The shapes are those of
 * conv2d_with_clblast_matches_reference, whose kernels are then built. */
static void conv2d_fused_with_clblast_matches_reference(void **state) {
    (void)state;
    static const conv_fusion_case residual = {0, 0, 1};
    check_conv_fused(&conv_cases[0], CLNET_CONV_IM2COL_GEMM, CLNET_GEMM_CLBLAST, &fusion_cases[3],
                     4000);
    check_conv_fused(&conv_cases[7], CLNET_CONV_IM2COL_GEMM, CLNET_GEMM_CLBLAST, &fusion_cases[0],
                     4001);
    check_conv_fused(&conv_cases[7], CLNET_CONV_GEMM_1X1, CLNET_GEMM_CLBLAST, &residual, 4002);
}

static void conv2d_fusion_support_matches_the_launchers(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    static const clnet_conv_algo everything[] = {CLNET_CONV_IM2COL_GEMM, CLNET_CONV_WINOGRAD_2X2,
                                                 CLNET_CONV_WINOGRAD_4X4};
    for (int bi = CLNET_GEMM_AUTO; bi <= CLNET_GEMM_CLBLAST; bi++) {
        clnet_gemm_backend b = (clnet_gemm_backend)bi;
        for (int pro = 0; pro <= 1; pro++) {
            for (int res = 0; res <= 1; res++) {
                int none = !pro && !res;
                for (size_t a = 0; a < sizeof everything / sizeof everything[0]; a++)
                    assert_true(clnet_conv2d_fusion_supported(ctx, everything[a], b, pro, res));
                assert_int_equal(clnet_conv2d_fusion_supported(ctx, CLNET_CONV_DIRECT, b, pro, res),
                                 none);
                assert_int_equal(clnet_conv2d_fusion_supported(ctx, CLNET_CONV_AUTO, b, pro, res),
                                 none);
                clnet_gemm_backend resolved =
                    b == CLNET_GEMM_AUTO ? clnet_gemm_auto_backend(ctx) : b;
                assert_int_equal(
                    clnet_conv2d_fusion_supported(ctx, CLNET_CONV_GEMM_1X1, b, pro, res),
                    !pro || resolved == CLNET_GEMM_CLNET);
            }
        }
    }
}

static void conv2d_is_pointwise_only_for_1x1_stride1_unpadded(void **state) {
    (void)state;
    clnet_conv_geometry g = {.in_c = 4,
                             .in_h = 5,
                             .in_w = 5,
                             .out_c = 4,
                             .out_h = 5,
                             .out_w = 5,
                             .kh = 1,
                             .kw = 1,
                             .sh = 1,
                             .sw = 1,
                             .dh = 1,
                             .dw = 1};
    assert_true(clnet_conv2d_is_pointwise(&g));
    g.sh = 2;
    assert_false(clnet_conv2d_is_pointwise(&g));
    g.sh = 1;
    g.pad_bottom = 1;
    assert_false(clnet_conv2d_is_pointwise(&g));
    g.pad_bottom = 0;
    g.kw = 3;
    assert_false(clnet_conv2d_is_pointwise(&g));
}

/* ------------------------------------------------------------------------ */
/* GEMM                                                                     */

typedef struct gemm_case {
    int m, n, k, batch;
    int lda_extra, ldb_extra, ldc_extra; /* row padding beyond K, N, N */
    int a_off, b_off, c_off;
    int b_gap, c_gap; /* floats between consecutive batch entries */
    int bias, relu;
    int pre;      /* prologue on B: 0 none, 1 scale and shift, 2 with ReLU */
    int residual; /* 0 none, 1 a matrix of its own (padded rows, gaps), 2 C itself */
} gemm_case;

/* Which of clnet's own kernels clnet_gemm runs: the one of this kind of
 * device, or the one of the other kind (gemm_tiled on a CPU, gemm_block on
 * a GPU), reached by presenting the device as the other kind for the
 * call. */
typedef enum gemm_kernel { GEMM_NATIVE, GEMM_OTHER_KERNEL } gemm_kernel;

static clnet_status run_gemm(clnet_context *ctx, clnet_gemm_backend backend, gemm_kernel which,
                             const clnet_gemm_args *args) {
    if (which == GEMM_NATIVE)
        return clnet_gemm(ctx, backend, args, NULL);
    clnet_device_type saved = ctx->info.type;
    ctx->info.type = saved == CLNET_DEVICE_TYPE_CPU ? CLNET_DEVICE_TYPE_GPU : CLNET_DEVICE_TYPE_CPU;
    clnet_status s = clnet_gemm(ctx, backend, args, NULL);
    ctx->info.type = saved;
    return s;
}

static void check_gemm_run(const gemm_case *gc, clnet_gemm_backend backend, gemm_kernel which,
                           uint64_t seed) {
    clnet_context *ctx = test_context();
    test_rng rng = {seed};
    int lda = gc->k + gc->lda_extra, ldb = gc->n + gc->ldb_extra, ldc = gc->n + gc->ldc_extra;
    int b_stride = gc->k * ldb + gc->b_gap, c_stride = gc->m * ldc + gc->c_gap;
    int r_off = 4, ldr = gc->n + 3, r_stride = gc->m * ldr + 6;
    if (gc->residual == 2) {
        r_off = gc->c_off;
        ldr = ldc;
        r_stride = c_stride;
    }
    size_t a_total = (size_t)gc->a_off + (size_t)gc->m * lda;
    size_t b_total = (size_t)gc->b_off + (size_t)gc->batch * b_stride;
    size_t c_total = (size_t)gc->c_off + (size_t)gc->batch * c_stride;
    size_t r_total = (size_t)r_off + (size_t)gc->batch * r_stride;
    float *a = random_floats(&rng, a_total, -1, 1);
    float *b = random_floats(&rng, b_total, -1, 1);
    float *bias = random_floats(&rng, (size_t)gc->m, -1, 1);
    float *scale = random_floats(&rng, (size_t)gc->k, -1.5f, 1.5f);
    float *shift = random_floats(&rng, (size_t)gc->k, -1, 1);
    float *r = random_floats(&rng, r_total, -2, 2);

    /* C starts poisoned; with an in-place residual, its elements hold R. */
    float *c_init = test_alloc_poisoned(c_total);
    if (gc->residual == 2)
        for (int bi = 0; bi < gc->batch; bi++)
            for (int i = 0; i < gc->m; i++)
                for (int j = 0; j < gc->n; j++) {
                    size_t at = (size_t)gc->c_off + (size_t)bi * c_stride + (size_t)i * ldc + j;
                    c_init[at] = r[at];
                }

    cl_mem a_buf = test_upload(ctx, a, a_total), b_buf = test_upload(ctx, b, b_total);
    cl_mem bias_buf = gc->bias ? test_upload(ctx, bias, (size_t)gc->m) : NULL;
    cl_mem c_buf = test_upload(ctx, c_init, c_total);
    clnet_gemm_args args = {
        .m = gc->m, .n = gc->n, .k = gc->k, .batch = gc->batch,
        .a = a_buf, .a_off = gc->a_off, .lda = lda,
        .b = b_buf, .b_off = gc->b_off, .ldb = ldb, .b_stride = b_stride,
        .c = c_buf, .c_off = gc->c_off, .ldc = ldc, .c_stride = c_stride,
        .bias = bias_buf, .relu = gc->relu,
    };
    if (gc->pre) {
        args.pre_scale = test_upload(ctx, scale, (size_t)gc->k);
        args.pre_shift = test_upload(ctx, shift, (size_t)gc->k);
        args.pre_relu = gc->pre == 2;
    }
    if (gc->residual) {
        args.residual = gc->residual == 2 ? c_buf : test_upload(ctx, r, r_total);
        args.r_off = r_off;
        args.ldr = ldr;
        args.r_stride = r_stride;
    }
    TEST_OK(run_gemm(ctx, backend, which, &args));
    float *c = test_download(ctx, c_buf, c_total);

    /* Expected values in double; every float outside C's rows must stay poisoned. */
    size_t count = (size_t)gc->batch * gc->m * gc->n;
    float *expected = test_alloc(count), *got = test_alloc(count);
    char *written = calloc(c_total, 1);
    assert_non_null(written);
    size_t e = 0;
    for (int bi = 0; bi < gc->batch; bi++) {
        for (int i = 0; i < gc->m; i++) {
            for (int j = 0; j < gc->n; j++, e++) {
                double sum = gc->bias ? bias[i] : 0.0;
                for (int p = 0; p < gc->k; p++) {
                    double bv = b[gc->b_off + bi * b_stride + p * ldb + j];
                    if (gc->pre) {
                        bv = (double)(float)(bv * scale[p] + shift[p]);
                        if (gc->pre == 2 && bv < 0)
                            bv = 0;
                    }
                    sum += (double)a[gc->a_off + i * lda + p] * bv;
                }
                if (gc->residual)
                    sum += r[r_off + bi * r_stride + i * ldr + j];
                expected[e] = (float)(gc->relu && sum < 0 ? 0 : sum);
                size_t at = (size_t)gc->c_off + (size_t)bi * c_stride + (size_t)i * ldc + j;
                got[e] = c[at];
                written[at] = 1;
            }
        }
    }
    static const char *const pre_names[] = {"", ", prologue", ", prologue+relu"};
    static const char *const residual_names[] = {"", ", residual", ", residual in C"};
    char what[160];
    snprintf(what, sizeof what, "gemm %dx%dx%d batch %d (%s%s%s%s)", gc->m, gc->n, gc->k, gc->batch,
             clnet_gemm_backend_name(backend),
             which == GEMM_OTHER_KERNEL ? ", other device kind's kernel" : "", pre_names[gc->pre],
             residual_names[gc->residual]);
    test_assert_close(what, expected, got, count, TOLERANCE);
    for (size_t i = 0; i < c_total; i++)
        if (!written[i] && !isnan(c[i]))
            fail_msg("%s: float %zu outside C was overwritten with %g", what, i, c[i]);

    free(written);
    free(got);
    free(expected);
    free(c);
    if (gc->residual == 1)
        clnet_buffer_release(args.residual);
    clnet_buffer_release(args.pre_shift);
    clnet_buffer_release(args.pre_scale);
    clnet_buffer_release(c_buf);
    clnet_buffer_release(bias_buf);
    clnet_buffer_release(b_buf);
    clnet_buffer_release(a_buf);
    free(c_init);
    free(r);
    free(shift);
    free(scale);
    free(bias);
    free(b);
    free(a);
}

static void check_gemm_case(const gemm_case *gc, clnet_gemm_backend backend, uint64_t seed) {
    check_gemm_run(gc, backend, GEMM_NATIVE, seed);
}

static const gemm_case odd_gemm_cases[] = {
    {7, 13, 31, 3, 2, 1, 3, 5, 7, 11, 4, 2, 1, 1, 0, 0},
    {1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {70, 101, 33, 2, 0, 5, 0, 0, 3, 1, 0, 9, 1, 0, 0, 0},
    {33, 65, 200, 1, 1, 0, 2, 1, 0, 0, 0, 0, 0, 1, 0, 0},
    /* Deeper than one panel of B: K goes in steps, partial sums in C. */
    {37, 45, 1100, 2, 1, 2, 3, 5, 7, 11, 4, 2, 0, 0, 0, 0},
    /* Many rows, few columns, batch 1: work-groups split the rows. */
    {200, 20, 40, 1, 0, 1, 0, 2, 0, 1, 0, 0, 1, 1, 0, 0},
    /* Wider than one panel: several panels of columns. */
    {9, 1030, 100, 1, 3, 0, 1, 0, 4, 0, 0, 0, 1, 0, 0, 0},
};
#define ODD_GEMM_CASES (sizeof odd_gemm_cases / sizeof odd_gemm_cases[0])

/* 13 x 37 x 29 and a larger shape with right and bottom edges in both
 * kernels' blocks, batched, offsets and padded rows; relu on and off. */
static const gemm_case fused_gemm_cases[] = {
    {13, 37, 29, 3, 2, 1, 3, 5, 7, 11, 4, 2, 1, 1, 1, 0},
    {13, 37, 29, 3, 2, 1, 3, 5, 7, 11, 4, 2, 0, 0, 2, 0},
    {13, 37, 29, 3, 2, 1, 3, 5, 7, 11, 4, 2, 1, 0, 0, 1},
    {13, 37, 29, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 2},
    {13, 37, 29, 3, 2, 1, 3, 5, 7, 11, 4, 2, 1, 1, 2, 1},
    {70, 101, 33, 2, 0, 5, 0, 0, 3, 1, 0, 9, 1, 0, 2, 2},
    {70, 101, 33, 2, 0, 5, 0, 0, 3, 1, 0, 9, 0, 1, 1, 1},
    /* K in several steps: the prologue applies at every step, bias,
     * residual and ReLU once, after the last (also with R in C). */
    {37, 45, 1100, 2, 1, 2, 3, 5, 7, 11, 4, 2, 1, 1, 2, 1},
    {37, 45, 1100, 2, 1, 2, 3, 5, 7, 11, 4, 2, 1, 1, 1, 2},
};
#define FUSED_GEMM_CASES (sizeof fused_gemm_cases / sizeof fused_gemm_cases[0])

static void gemm_odd_sizes_batched_matches_host(void **state) {
    (void)state;
    for (size_t i = 0; i < ODD_GEMM_CASES; i++)
        check_gemm_case(&odd_gemm_cases[i], CLNET_GEMM_CLNET, 500 + i);
}

static void gemm_with_prologue_and_residual_matches_host(void **state) {
    (void)state;
    for (size_t i = 0; i < FUSED_GEMM_CASES; i++)
        check_gemm_case(&fused_gemm_cases[i], CLNET_GEMM_CLNET, 520 + i);
}

/* The kernel the device does not run by itself (gemm_tiled here on a CPU),
 * plain and fused. */
static void gemm_other_device_kinds_kernel_matches_host(void **state) {
    (void)state;
    for (size_t i = 0; i < ODD_GEMM_CASES; i++)
        check_gemm_run(&odd_gemm_cases[i], CLNET_GEMM_CLNET, GEMM_OTHER_KERNEL, 540 + i);
    for (size_t i = 0; i < FUSED_GEMM_CASES; i++)
        check_gemm_run(&fused_gemm_cases[i], CLNET_GEMM_CLNET, GEMM_OTHER_KERNEL, 560 + i);
}

/* Every configuration the tuner may choose, of both kernels, forced on
 * edge-heavy cases: odd sizes with offsets and padded rows, rows split over
 * work-groups, K deeper than one panel with the prologue and a residual,
 * and a residual in C. */
static void gemm_every_tuning_candidate_matches_host(void **state) {
    (void)state;
    static const gemm_case cases[] = {
        {7, 13, 31, 3, 2, 1, 3, 5, 7, 11, 4, 2, 1, 1, 0, 0},
        {200, 20, 40, 1, 0, 1, 0, 2, 0, 1, 0, 0, 1, 1, 0, 0},
        {37, 45, 1100, 2, 1, 2, 3, 5, 7, 11, 4, 2, 1, 1, 2, 1},
        {70, 101, 33, 2, 0, 5, 0, 0, 3, 1, 0, 9, 1, 0, 1, 2},
    };
    clnet_context *ctx = test_context();
    const clnet_gemm_kernel native = clnet_gemm_native_kernel(ctx);
    const clnet_gemm_kernel kernels[] = {CLNET_GEMM_KERNEL_BLOCK, CLNET_GEMM_KERNEL_TILED};
    for (int kk = 0; kk < 2; kk++) {
        gemm_kernel which = kernels[kk] == native ? GEMM_NATIVE : GEMM_OTHER_KERNEL;
        clnet_gemm_config configs[16];
        /* The candidates as the kernel's own kind of device lists them. */
        clnet_device_type saved = ctx->info.type;
        if (which == GEMM_OTHER_KERNEL)
            ctx->info.type = saved == CLNET_DEVICE_TYPE_CPU ? CLNET_DEVICE_TYPE_GPU
                                                            : CLNET_DEVICE_TYPE_CPU;
        int n = clnet_gemm_candidates(ctx, kernels[kk], configs, 16);
        for (int i = 0; i < n && i < 16; i++)
            assert_true(clnet_gemm_config_is_candidate(ctx, &configs[i]));
        ctx->info.type = saved;
        assert_true(n >= 3);
        for (int i = 0; i < n && i < 16; i++) {
            char text[64];
            clnet_gemm_config_text(&configs[i], text, sizeof text);
            print_message("  %s\n", text);
            ctx->gemm_force = &configs[i];
            for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
                check_gemm_run(&cases[c], CLNET_GEMM_CLNET, which, 700 + 10 * (uint64_t)i + c);
            ctx->gemm_force = NULL;
        }
    }
}

/* Configuration names read back as written; anything else is refused. */
static void gemm_config_names_round_trip(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    clnet_gemm_config configs[16], back;
    int n = clnet_gemm_candidates(ctx, CLNET_GEMM_KERNEL_BLOCK, configs, 16);
    int m = clnet_gemm_candidates(ctx, CLNET_GEMM_KERNEL_TILED, configs + n, 16 - n);
    for (int i = 0; i < n + m && i < 16; i++) {
        char text[64];
        clnet_gemm_config_text(&configs[i], text, sizeof text);
        assert_true(clnet_gemm_config_parse(text, &back));
        assert_int_equal(back.kernel, configs[i].kernel);
        assert_memory_equal(back.p, configs[i].p, sizeof back.p);
    }
    static const char *const junk[] = {"",
                                       "block",
                                       "block 8x6x2",
                                       "block 8x6x2/4 ",
                                       "tiled 64x64x16/4",
                                       "blocks 8x6x2/4",
                                       "block 8x6x2/4x1"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        assert_false(clnet_gemm_config_parse(junk[i], &back));
    clnet_gemm_config odd = {CLNET_GEMM_KERNEL_BLOCK, {8, 7, 2, 4, 0}};
    assert_false(clnet_gemm_config_is_candidate(ctx, &odd));
}

/* One small odd case through CLBlast: offsets, padded rows, bias and ReLU
 * (its strided-batched call plus clnet's bias_relu kernel); then with a
 * residual of its own and with C as the residual (beta = 1). */
static void gemm_with_clblast_matches_host(void **state) {
    (void)state;
    static const gemm_case odd = {7, 13, 31, 3, 2, 1, 3, 5, 7, 11, 4, 2, 1, 1, 0, 0};
    static const gemm_case residual = {7, 13, 31, 3, 2, 1, 3, 5, 7, 11, 4, 2, 1, 0, 0, 1};
    static const gemm_case in_place = {7, 13, 31, 3, 2, 1, 3, 5, 7, 11, 4, 2, 0, 1, 0, 2};
    check_gemm_case(&odd, CLNET_GEMM_CLBLAST, 510);
    check_gemm_case(&residual, CLNET_GEMM_CLBLAST, 511);
    check_gemm_case(&in_place, CLNET_GEMM_CLBLAST, 512);
}

static void gemm_auto_backend_is_clnet_on_cpus(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    clnet_gemm_backend expected = clnet_context_device(ctx)->type == CLNET_DEVICE_TYPE_CPU
                                      ? CLNET_GEMM_CLNET
                                      : CLNET_GEMM_CLBLAST;
    assert_int_equal(clnet_gemm_auto_backend(ctx), expected);
}

/* ------------------------------------------------------------------------ */
/* Element-wise operations                                                  */

static void batchnorm_matches_reference(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    const int c = 13, hw = 7 * 7, batch = 3;
    const float eps = 1e-3f;
    const layout in_l = {3, 2, 1}, out_l = {1, 0, 4};
    test_rng rng = {600};
    float *gamma = random_floats(&rng, c, 0.5f, 1.5f), *beta = random_floats(&rng, c, -0.5f, 0.5f);
    float *mean = random_floats(&rng, c, -0.5f, 0.5f), *var = random_floats(&rng, c, 0.5f, 1.5f);
    float scale[13], shift[13];
    for (int i = 0; i < c; i++) {
        double s = gamma[i] / sqrt((double)var[i] + eps);
        scale[i] = (float)s;
        shift[i] = (float)(beta[i] - mean[i] * s);
    }
    size_t in_total = layout_floats(in_l, c, hw, batch);
    float *in_wide = random_floats(&rng, in_total, -2, 2);
    float *in_dense = extract(in_wide, in_l, c, hw, batch);
    float *expected = test_alloc((size_t)batch * c * hw);
    clnet_ref_batchnorm(c, hw, batch, in_dense, gamma, beta, mean, var, eps, expected);

    cl_mem in_buf = test_upload(ctx, in_wide, in_total);
    cl_mem scale_buf = test_upload(ctx, scale, c), shift_buf = test_upload(ctx, shift, c);
    for (int relu = 0; relu <= 1; relu++) {
        cl_mem out_buf = test_poisoned_buffer(ctx, layout_floats(out_l, c, hw, batch));
        TEST_OK(clnet_batchnorm(ctx, c, hw, batch, layout_view(in_buf, in_l, c, hw),
                                layout_view(out_buf, out_l, c, hw), scale_buf, shift_buf, relu,
                                NULL));
        if (relu)
            relu_host(expected, (size_t)batch * c * hw);
        check_output(ctx, relu ? "batchnorm+relu" : "batchnorm", out_buf, out_l, c, hw, batch,
                     expected);
        clnet_buffer_release(out_buf);
    }
    clnet_buffer_release(shift_buf);
    clnet_buffer_release(scale_buf);
    clnet_buffer_release(in_buf);
    free(expected);
    free(in_dense);
    free(in_wide);
    free(var);
    free(mean);
    free(beta);
    free(gamma);
}

static void relu_matches_reference_on_views(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    const int c = 5, hw = 13, batch = 3;
    const layout in_l = {2, 1, 2}, out_l = {0, 3, 0};
    test_rng rng = {700};
    size_t in_total = layout_floats(in_l, c, hw, batch);
    float *in_wide = random_floats(&rng, in_total, -1, 1);
    float *in_dense = extract(in_wide, in_l, c, hw, batch);
    float *expected = test_alloc((size_t)batch * c * hw);
    clnet_ref_relu((size_t)batch * c * hw, in_dense, expected);

    cl_mem in_buf = test_upload(ctx, in_wide, in_total);
    cl_mem out_buf = test_poisoned_buffer(ctx, layout_floats(out_l, c, hw, batch));
    TEST_OK(clnet_relu(ctx, c, hw, batch, layout_view(in_buf, in_l, c, hw),
                       layout_view(out_buf, out_l, c, hw), NULL));
    check_output(ctx, "relu", out_buf, out_l, c, hw, batch, expected);
    clnet_buffer_release(out_buf);
    clnet_buffer_release(in_buf);
    free(expected);
    free(in_dense);
    free(in_wide);
}

static void binary_ops_with_and_without_relu_match_reference(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    static const clnet_op ops[3] = {CLNET_OP_ADD, CLNET_OP_MULTIPLY, CLNET_OP_SUBTRACT};
    static const struct {
        int count, batch;
        layout a_l, b_l, out_l;
    } cases[] = {
        {7 * 13 * 3, 3, {1, 0, 2}, {0, 4, 0}, {5, 1, 1}},
        {31, 1, {0, 0, 0}, {3, 0, 0}, {0, 0, 0}},
        {5 * 7, 3, {0, 0, 0}, {0, 0, 0}, {2, 3, 0}},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        int count = cases[ci].count, batch = cases[ci].batch;
        layout a_l = cases[ci].a_l, b_l = cases[ci].b_l, out_l = cases[ci].out_l;
        test_rng rng = {1600 + ci};
        size_t a_total = layout_floats(a_l, count, 1, batch);
        size_t b_total = layout_floats(b_l, count, 1, batch);
        size_t n = (size_t)batch * count;
        float *a_wide = random_floats(&rng, a_total, -2, 2);
        float *b_wide = random_floats(&rng, b_total, -2, 2);
        float *a = extract(a_wide, a_l, count, 1, batch);
        float *b = extract(b_wide, b_l, count, 1, batch);
        float *expected = test_alloc(n);
        cl_mem a_buf = test_upload(ctx, a_wide, a_total), b_buf = test_upload(ctx, b_wide, b_total);
        for (int k = 0; k < 3; k++) {
            for (int relu = 0; relu <= 1; relu++) {
                if (ops[k] == CLNET_OP_ADD)
                    clnet_ref_add(n, a, b, expected);
                else if (ops[k] == CLNET_OP_MULTIPLY)
                    clnet_ref_multiply(n, a, b, expected);
                else
                    clnet_ref_subtract(n, a, b, expected);
                if (relu)
                    relu_host(expected, n);
                cl_mem out_buf = test_poisoned_buffer(ctx, layout_floats(out_l, count, 1, batch));
                TEST_OK(clnet_binary(ctx, ops[k], count, batch, layout_view(a_buf, a_l, count, 1),
                                     layout_view(b_buf, b_l, count, 1),
                                     layout_view(out_buf, out_l, count, 1), relu, NULL));
                char what[80];
                snprintf(what, sizeof what, "%s%s, %d x %d", clnet_op_name(ops[k]),
                         relu ? "+relu" : "", batch, count);
                check_output(ctx, what, out_buf, out_l, count, 1, batch, expected);
                clnet_buffer_release(out_buf);
            }
        }
        clnet_buffer_release(b_buf);
        clnet_buffer_release(a_buf);
        free(expected);
        free(b);
        free(a);
        free(b_wide);
        free(a_wide);
    }
}

static void clip_matches_reference_on_views(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    static const struct {
        int count, batch;
        float lo, hi;
        layout in_l, out_l;
    } cases[] = {
        {5 * 13, 3, 0.0f, 6.0f, {2, 1, 2}, {0, 3, 0}},   /* ReLU6 */
        {7 * 7, 1, -0.25f, 0.5f, {0, 0, 0}, {1, 0, 2}},
        {31, 3, -INFINITY, 1.0f, {0, 0, 0}, {0, 0, 0}},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        int count = cases[ci].count, batch = cases[ci].batch;
        layout in_l = cases[ci].in_l, out_l = cases[ci].out_l;
        test_rng rng = {1700 + ci};
        size_t in_total = layout_floats(in_l, count, 1, batch);
        float *in_wide = random_floats(&rng, in_total, -8, 8);
        float *in_dense = extract(in_wide, in_l, count, 1, batch);
        float *expected = test_alloc((size_t)batch * count);
        clnet_ref_clip((size_t)batch * count, in_dense, cases[ci].lo, cases[ci].hi, expected);

        cl_mem in_buf = test_upload(ctx, in_wide, in_total);
        cl_mem out_buf = test_poisoned_buffer(ctx, layout_floats(out_l, count, 1, batch));
        TEST_OK(clnet_clip(ctx, count, batch, layout_view(in_buf, in_l, count, 1),
                           layout_view(out_buf, out_l, count, 1), cases[ci].lo, cases[ci].hi,
                           NULL));
        /* Clipping selects values; it is exact. */
        size_t total = layout_floats(out_l, count, 1, batch);
        float *wide = test_download(ctx, out_buf, total);
        float *got = extract(wide, out_l, count, 1, batch);
        test_assert_close("clip", expected, got, (size_t)batch * count, 0.0);
        float *poison = test_alloc_poisoned(total);
        assert_outside_untouched("clip", poison, wide, out_l, count, 1, batch);
        free(poison);
        free(got);
        free(wide);
        clnet_buffer_release(out_buf);
        clnet_buffer_release(in_buf);
        free(expected);
        free(in_dense);
        free(in_wide);
    }
}

static void sigmoid_is_accurate_and_finite_for_large_inputs(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    /* Values across [-120, 120] (exp(-x) overflows float beyond 88.7 and
     * underflows to subnormals below -87), then the extremes. */
    const int count = 7 * 13, batch = 3;
    const layout in_l = {3, 1, 0}, out_l = {1, 2, 3};
    test_rng rng = {1800};
    size_t in_total = layout_floats(in_l, count, 1, batch);
    float *in_wide = random_floats(&rng, in_total, -120, 120);
    float *in_dense = extract(in_wide, in_l, count, 1, batch);
    static const float extremes[8] = {0, -1000, 1000, 88.75f, -88.75f, 20, -20, -FLT_MAX};
    for (int i = 0; i < 8; i++) {
        in_wide[in_l.lead + in_l.before + i] = extremes[i];
        in_dense[i] = extremes[i];
    }
    size_t n = (size_t)batch * count;
    float *expected = test_alloc(n);
    clnet_ref_sigmoid(n, in_dense, expected);

    cl_mem in_buf = test_upload(ctx, in_wide, in_total);
    cl_mem out_buf = test_poisoned_buffer(ctx, layout_floats(out_l, count, 1, batch));
    TEST_OK(clnet_sigmoid(ctx, count, batch, layout_view(in_buf, in_l, count, 1),
                          layout_view(out_buf, out_l, count, 1), NULL));
    check_output(ctx, "sigmoid", out_buf, out_l, count, 1, batch, expected);

    /* Relative accuracy in the tails too, where values are far below the
     * largest one: within 1e-5 of each expected value down to 1e-30. */
    float *wide = test_download(ctx, out_buf, layout_floats(out_l, count, 1, batch));
    float *got = extract(wide, out_l, count, 1, batch);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]) || got[i] < 0 || got[i] > 1)
            fail_msg("sigmoid(%g) gave %g", in_dense[i], got[i]);
        if (expected[i] > 1e-30f && fabs(got[i] - expected[i]) > 1e-5 * expected[i])
            fail_msg("sigmoid(%g): expected %.9g, got %.9g", in_dense[i], expected[i], got[i]);
    }
    assert_true(got[0] == 0.5f && got[1] == 0.0f && got[2] == 1.0f && got[7] == 0.0f);
    free(got);
    free(wide);
    clnet_buffer_release(out_buf);
    clnet_buffer_release(in_buf);
    free(expected);
    free(in_dense);
    free(in_wide);
}

/* ------------------------------------------------------------------------ */
/* Windows: slicing and constant padding                                    */

typedef struct window_case {
    const char *name;
    clnet_window_copy w;
    int batch;
    layout in_layout, out_layout;
} window_case;

/* Fields: in c, h, w; out c, h, w; origin c, y, x; steps c, y, x; value. */
static const window_case window_cases[] = {
    {"pad 1/0/0/2, one channel before, value -1",
     {3, 7, 5, 4, 8, 7, -1, -1, 0, 1, 1, 1, -1.0f}, 3, {2, 1, 0}, {3, 0, 1}},
    {"zero padding 2 all round (ZeroPadding2D)",
     {5, 13, 13, 5, 17, 17, 0, -2, -2, 1, 1, 1, 0.0f}, 1, {0, 0, 0}, {0, 0, 0}},
    {"x[:, :, ::2, ::2] on odd sizes", {7, 13, 7, 7, 7, 4, 0, 0, 0, 1, 2, 2, 0.0f}, 3,
     {0, 0, 0}, {0, 0, 0}},
    {"x[1::3, 2:11, 1:6]", {13, 13, 7, 4, 9, 5, 1, 2, 1, 3, 1, 1, 0.0f}, 3, {1, 2, 3},
     {4, 1, 2}},
    {"strided window reaching into padding", {3, 7, 7, 5, 5, 5, -1, -2, -1, 1, 3, 2, 0.5f}, 3,
     {0, 0, 0}, {2, 0, 0}},
    {"window entirely outside the input", {2, 3, 3, 2, 2, 2, 5, 0, 0, 1, 1, 1, 7.0f}, 1,
     {0, 0, 0}, {0, 1, 1}},
};
#define WINDOW_CASES (sizeof window_cases / sizeof window_cases[0])

static void window_matches_reference_for_slices_and_pads(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    for (size_t i = 0; i < WINDOW_CASES; i++) {
        const window_case *wc = &window_cases[i];
        const clnet_window_copy *w = &wc->w;
        int in_hw = w->in_h * w->in_w, out_hw = w->out_h * w->out_w;
        test_rng rng = {1900 + i};
        size_t in_total = layout_floats(wc->in_layout, w->in_c, in_hw, wc->batch);
        float *in_wide = random_floats(&rng, in_total, -1, 1);
        float *in_dense = extract(in_wide, wc->in_layout, w->in_c, in_hw, wc->batch);
        float *expected = test_alloc((size_t)wc->batch * w->out_c * out_hw);
        clnet_ref_window(w, wc->batch, in_dense, expected);

        cl_mem in_buf = test_upload(ctx, in_wide, in_total);
        cl_mem out_buf =
            test_poisoned_buffer(ctx, layout_floats(wc->out_layout, w->out_c, out_hw, wc->batch));
        TEST_OK(clnet_window(ctx, w, wc->batch, layout_view(in_buf, wc->in_layout, w->in_c, in_hw),
                             layout_view(out_buf, wc->out_layout, w->out_c, out_hw), NULL));
        /* A copy is exact, the fill value included. */
        size_t total = layout_floats(wc->out_layout, w->out_c, out_hw, wc->batch);
        float *wide = test_download(ctx, out_buf, total);
        float *got = extract(wide, wc->out_layout, w->out_c, out_hw, wc->batch);
        test_assert_close(wc->name, expected, got, (size_t)wc->batch * w->out_c * out_hw, 0.0);
        float *poison = test_alloc_poisoned(total);
        assert_outside_untouched(wc->name, poison, wide, wc->out_layout, w->out_c, out_hw,
                                 wc->batch);
        free(poison);
        free(got);
        free(wide);
        clnet_buffer_release(out_buf);
        clnet_buffer_release(in_buf);
        free(expected);
        free(in_dense);
        free(in_wide);
    }
}

/* Concatenation in place: two tensors copied into their channel slices of a
 * wider tensor whose other values must survive. */
static void copy_into_slice_keeps_the_rest_of_the_tensor(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    const int hw = 5 * 5, batch = 3, c1 = 3, c2 = 7, total_c = 13;
    test_rng rng = {900};
    size_t wide_total = (size_t)batch * total_c * hw + 4;
    float *original = random_floats(&rng, wide_total, -1, 1);
    float *x1 = random_floats(&rng, (size_t)batch * c1 * hw, -1, 1);
    float *x2 = random_floats(&rng, (size_t)batch * c2 * hw, -1, 1);
    cl_mem wide = test_upload(ctx, original, wide_total);
    cl_mem b1 = test_upload(ctx, x1, (size_t)batch * c1 * hw);
    cl_mem b2 = test_upload(ctx, x2, (size_t)batch * c2 * hw);

    /* x1 at channel 1, x2 at channel 5, after 4 leading floats. */
    clnet_dview v1 = {b1, 0, c1 * hw}, v2 = {b2, 0, c2 * hw};
    clnet_dview s1 = {wide, 4 + 1 * hw, total_c * hw}, s2 = {wide, 4 + 5 * hw, total_c * hw};
    TEST_OK(clnet_copy(ctx, c1 * hw, batch, v1, s1, NULL));
    TEST_OK(clnet_copy(ctx, c2 * hw, batch, v2, s2, NULL));
    float *got = test_download(ctx, wide, wide_total);

    float *expected = test_alloc(wide_total);
    memcpy(expected, original, wide_total * sizeof(float));
    for (int n = 0; n < batch; n++) {
        memcpy(expected + 4 + ((size_t)n * total_c + 1) * hw, x1 + (size_t)n * c1 * hw,
               (size_t)c1 * hw * sizeof(float));
        memcpy(expected + 4 + ((size_t)n * total_c + 5) * hw, x2 + (size_t)n * c2 * hw,
               (size_t)c2 * hw * sizeof(float));
    }
    /* A copy is exact. */
    test_assert_close("copy into slices", expected, got, wide_total, 0.0);

    free(expected);
    free(got);
    clnet_buffer_release(b2);
    clnet_buffer_release(b1);
    clnet_buffer_release(wide);
    free(x2);
    free(x1);
    free(original);
}

/* ------------------------------------------------------------------------ */
/* Pooling                                                                  */

typedef struct pool_case {
    clnet_op op;
    int c, h, w, k, stride;
    clnet_padding padding;
    int pad_top, pad_bottom, pad_left, pad_right;
    int batch;
    float lo, hi; /* input range: all negative shows whether padding wins a max */
    layout in_layout, out_layout;
} pool_case;

static void check_pool_case(const pool_case *pc, uint64_t seed) {
    clnet_context *ctx = test_context();
    clnet_pool_geometry g = {0};
    g.c = pc->c;
    g.in_h = pc->h;
    g.in_w = pc->w;
    g.kh = g.kw = pc->k;
    g.sh = g.sw = pc->stride;
    TEST_OK(clnet_window_axis("test height", pc->padding, pc->h, pc->k, pc->stride, 1,
                              pc->pad_top, pc->pad_bottom, &g.out_h, &g.pad_top, &g.pad_bottom));
    TEST_OK(clnet_window_axis("test width", pc->padding, pc->w, pc->k, pc->stride, 1,
                              pc->pad_left, pc->pad_right, &g.out_w, &g.pad_left, &g.pad_right));
    int in_hw = g.in_h * g.in_w, out_hw = g.out_h * g.out_w;
    test_rng rng = {seed};
    size_t in_total = layout_floats(pc->in_layout, g.c, in_hw, pc->batch);
    float *in_wide = random_floats(&rng, in_total, pc->lo, pc->hi);
    float *in_dense = extract(in_wide, pc->in_layout, g.c, in_hw, pc->batch);
    float *expected = test_alloc((size_t)pc->batch * g.c * out_hw);
    if (pc->op == CLNET_OP_MAXPOOL)
        clnet_ref_maxpool(&g, pc->batch, in_dense, expected);
    else
        clnet_ref_avgpool(&g, pc->batch, in_dense, expected);

    cl_mem in_buf = test_upload(ctx, in_wide, in_total);
    cl_mem out_buf = test_poisoned_buffer(ctx, layout_floats(pc->out_layout, g.c, out_hw, pc->batch));
    TEST_OK(clnet_pool2d(ctx, pc->op, &g, pc->batch, layout_view(in_buf, pc->in_layout, g.c, in_hw),
                         layout_view(out_buf, pc->out_layout, g.c, out_hw), NULL));
    char what[120];
    snprintf(what, sizeof what, "%s %dx%d/%d on %dx%d pads %d/%d/%d/%d", clnet_op_name(pc->op),
             g.kh, g.kw, g.sh, g.in_h, g.in_w, g.pad_top, g.pad_bottom, g.pad_left, g.pad_right);
    check_output(ctx, what, out_buf, pc->out_layout, g.c, out_hw, pc->batch, expected);

    clnet_buffer_release(out_buf);
    clnet_buffer_release(in_buf);
    free(expected);
    free(in_dense);
    free(in_wide);
}

static void maxpool_with_padding_matches_reference(void **state) {
    (void)state;
    static const pool_case cases[] = {
        {CLNET_OP_MAXPOOL, 5, 13, 13, 3, 2, CLNET_PADDING_SAME, 0, 0, 0, 0, 3, -2, -1,
         {0, 0, 0}, {0, 0, 0}},
        {CLNET_OP_MAXPOOL, 7, 7, 7, 2, 2, CLNET_PADDING_VALID, 0, 0, 0, 0, 3, -1, 1,
         {3, 1, 2}, {2, 2, 1}},
        {CLNET_OP_MAXPOOL, 3, 13, 7, 3, 1, CLNET_PADDING_EXPLICIT, 1, 2, 2, 0, 1, -2, -1,
         {0, 0, 0}, {0, 0, 0}},
        /* 2x2 windows, stride 2: the row kernel, vectors of 4 outputs and
         * a tail, in views. */
        {CLNET_OP_MAXPOOL, 5, 21, 19, 2, 2, CLNET_PADDING_VALID, 0, 0, 0, 0, 2, -1, 1,
         {2, 1, 3}, {1, 2, 2}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_pool_case(&cases[i], 1000 + i);
}

static void avgpool_excludes_padding_from_the_count(void **state) {
    (void)state;
    static const pool_case cases[] = {
        {CLNET_OP_AVGPOOL, 5, 13, 13, 2, 2, CLNET_PADDING_SAME, 0, 0, 0, 0, 3, 0.5f, 1.5f,
         {0, 0, 0}, {0, 0, 0}},
        {CLNET_OP_AVGPOOL, 7, 7, 7, 3, 1, CLNET_PADDING_EXPLICIT, 1, 1, 1, 1, 1, 0.5f, 1.5f,
         {1, 2, 0}, {0, 1, 3}},
        {CLNET_OP_AVGPOOL, 3, 31, 31, 2, 2, CLNET_PADDING_VALID, 0, 0, 0, 0, 3, -1, 1,
         {0, 0, 0}, {0, 0, 0}},
        {CLNET_OP_AVGPOOL, 6, 16, 18, 2, 2, CLNET_PADDING_VALID, 0, 0, 0, 0, 2, -1, 1,
         {1, 3, 2}, {2, 1, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_pool_case(&cases[i], 1100 + i);
}

static void global_avgpool_matches_reference(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    static const struct {
        int c, hw, batch;
        layout in_l, out_l;
    } cases[] = {
        {13, 7 * 7, 3, {2, 1, 3}, {1, 2, 3}},
        {5, 31 * 31, 1, {0, 0, 0}, {0, 0, 0}},
        {64, 8 * 8, 3, {0, 0, 0}, {0, 0, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int c = cases[i].c, hw = cases[i].hw, batch = cases[i].batch;
        layout in_l = cases[i].in_l, out_l = cases[i].out_l;
        test_rng rng = {1200 + i};
        size_t in_total = layout_floats(in_l, c, hw, batch);
        float *in_wide = random_floats(&rng, in_total, -1, 2);
        float *in_dense = extract(in_wide, in_l, c, hw, batch);
        float *expected = test_alloc((size_t)batch * c);
        clnet_ref_global_avgpool(c, hw, batch, in_dense, expected);

        cl_mem in_buf = test_upload(ctx, in_wide, in_total);
        cl_mem out_buf = test_poisoned_buffer(ctx, layout_floats(out_l, c, 1, batch));
        TEST_OK(clnet_global_avgpool(ctx, c, hw, batch, layout_view(in_buf, in_l, c, hw),
                                     layout_view(out_buf, out_l, c, 1), NULL));
        check_output(ctx, "global_avgpool", out_buf, out_l, c, 1, batch, expected);
        clnet_buffer_release(out_buf);
        clnet_buffer_release(in_buf);
        free(expected);
        free(in_dense);
        free(in_wide);
    }
}

/* ------------------------------------------------------------------------ */
/* Dense and softmax                                                        */

static void dense_with_and_without_bias_and_relu_matches_reference(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    static const struct {
        int in_features, units, batch, bias, relu;
        layout in_l, out_l;
    } cases[] = {
        {2304, 10, 3, 1, 0, {0, 0, 0}, {0, 0, 0}},
        {13, 7, 1, 0, 0, {0, 0, 0}, {0, 0, 0}},
        {342, 10, 3, 1, 1, {3, 5, 2}, {1, 2, 3}},
        {64, 31, 3, 0, 1, {0, 0, 0}, {2, 0, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int in_f = cases[i].in_features, units = cases[i].units, batch = cases[i].batch;
        layout in_l = cases[i].in_l, out_l = cases[i].out_l;
        test_rng rng = {1300 + i};
        size_t in_total = layout_floats(in_l, in_f, 1, batch);
        float *in_wide = random_floats(&rng, in_total, -1, 1);
        float *weight = random_floats(&rng, (size_t)units * in_f, -1, 1);
        float *bias = random_floats(&rng, (size_t)units, -1, 1);
        float *in_dense = extract(in_wide, in_l, in_f, 1, batch);
        float *expected = test_alloc((size_t)batch * units);
        clnet_ref_dense(in_f, units, batch, in_dense, weight, cases[i].bias ? bias : NULL,
                        expected);
        if (cases[i].relu)
            relu_host(expected, (size_t)batch * units);

        cl_mem in_buf = test_upload(ctx, in_wide, in_total);
        cl_mem w_buf = test_upload(ctx, weight, (size_t)units * in_f);
        cl_mem b_buf = cases[i].bias ? test_upload(ctx, bias, (size_t)units) : NULL;
        cl_mem out_buf = test_poisoned_buffer(ctx, layout_floats(out_l, units, 1, batch));
        TEST_OK(clnet_dense(ctx, in_f, units, batch, layout_view(in_buf, in_l, in_f, 1),
                            layout_view(out_buf, out_l, units, 1), w_buf, b_buf, cases[i].relu,
                            CLNET_GEMM_AUTO, NULL));
        char what[80];
        snprintf(what, sizeof what, "dense %d->%d batch %d bias %d relu %d", in_f, units, batch,
                 cases[i].bias, cases[i].relu);
        check_output(ctx, what, out_buf, out_l, units, 1, batch, expected);
        clnet_buffer_release(out_buf);
        clnet_buffer_release(b_buf);
        clnet_buffer_release(w_buf);
        clnet_buffer_release(in_buf);
        free(expected);
        free(in_dense);
        free(bias);
        free(weight);
        free(in_wide);
    }
}

static void softmax_over_channels_matches_reference(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    /* Logits up to +-60 would overflow exp() without subtracting the maximum. */
    static const struct {
        int c, hw, batch;
        float range;
        layout in_l, out_l;
    } cases[] = {
        {10, 1, 3, 5, {0, 0, 0}, {0, 0, 0}},
        {10, 1, 1, 60, {1, 2, 0}, {3, 0, 1}},
        {7, 13 * 13, 3, 60, {2, 1, 1}, {0, 0, 2}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int c = cases[i].c, hw = cases[i].hw, batch = cases[i].batch;
        layout in_l = cases[i].in_l, out_l = cases[i].out_l;
        test_rng rng = {1400 + i};
        size_t in_total = layout_floats(in_l, c, hw, batch);
        float *in_wide = random_floats(&rng, in_total, -cases[i].range, cases[i].range);
        float *in_dense = extract(in_wide, in_l, c, hw, batch);
        float *expected = test_alloc((size_t)batch * c * hw);
        clnet_ref_softmax(c, hw, batch, in_dense, expected);

        cl_mem in_buf = test_upload(ctx, in_wide, in_total);
        cl_mem out_buf = test_poisoned_buffer(ctx, layout_floats(out_l, c, hw, batch));
        TEST_OK(clnet_softmax(ctx, c, hw, batch, layout_view(in_buf, in_l, c, hw),
                              layout_view(out_buf, out_l, c, hw), NULL));
        check_output(ctx, hw == 1 ? "softmax rank 1" : "softmax rank 3", out_buf, out_l, c, hw,
                     batch, expected);
        clnet_buffer_release(out_buf);
        clnet_buffer_release(in_buf);
        free(expected);
        free(in_dense);
        free(in_wide);
    }
}

/* ------------------------------------------------------------------------ */
/* Events and argument validation                                           */

static void launchers_append_one_event_per_kernel(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    const conv_case *cc = &conv_cases[0];
    clnet_conv_geometry g = conv_geometry(cc);
    size_t in_n = (size_t)g.in_c * g.in_h * g.in_w, out_n = (size_t)g.out_c * g.out_h * g.out_w;
    size_t w_n = (size_t)g.out_c * g.in_c * g.kh * g.kw;
    test_rng rng = {1500};
    float *host = random_floats(&rng, in_n + w_n, -1, 1);
    cl_mem in_buf = test_upload(ctx, host, in_n), w_buf = test_upload(ctx, host + in_n, w_n);
    cl_mem out_buf = test_poisoned_buffer(ctx, out_n);
    cl_mem scratch = test_poisoned_buffer(ctx, clnet_conv2d_im2col_scratch(&g, 1));
    clnet_dview in = {in_buf, 0, (int)in_n}, out = {out_buf, 0, (int)out_n};

    clnet_events events = {0};
    TEST_OK(clnet_conv2d_direct(ctx, &g, 1, in, out, w_buf, NULL, 1, &events));
    assert_int_equal(events.count, 1);
    TEST_OK(clnet_conv2d_im2col_gemm(ctx, &g, 1, in, out, w_buf, NULL, 0, CLNET_GEMM_CLNET,
                                     scratch, NULL, &events));
    assert_int_equal(events.count, 3);
    for (int i = 0; i < events.count; i++)
        assert_non_null(events.events[i]);
    clnet_window_copy wc = {g.in_c, g.in_h, g.in_w, 1, 3, 3, 0, -1, 2, 1, 2, 3, 0.0f};
    TEST_OK(clnet_window(ctx, &wc, 1, in, out, &events));
    TEST_OK(clnet_binary(ctx, CLNET_OP_MULTIPLY, (int)in_n, 1, in, in, out, 0, &events));
    TEST_OK(clnet_clip(ctx, (int)in_n, 1, in, out, -0.5f, 0.5f, &events));
    TEST_OK(clnet_sigmoid(ctx, (int)in_n, 1, in, out, &events));
    assert_int_equal(events.count, 7);
    for (int i = 0; i < events.count; i++)
        assert_non_null(events.events[i]);
    TEST_OK(clnet_context_finish(ctx));
    clnet_events_free(&events);

    clnet_buffer_release(scratch);
    clnet_buffer_release(out_buf);
    clnet_buffer_release(w_buf);
    clnet_buffer_release(in_buf);
    free(host);
}

static void launchers_reject_bad_arguments_naming_the_op(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    cl_mem buf;
    TEST_OK(clnet_buffer_create(ctx, 1024 * sizeof(float), "test buffer", &buf));
    clnet_dview v = {buf, 0, 16};
    clnet_dview null_view = {NULL, 0, 16};
    clnet_conv_geometry g = {.in_c = 1, .in_h = 4, .in_w = 4, .out_c = 1, .out_h = 4,
                             .out_w = 4, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1};

    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "conv2d_direct",
               clnet_conv2d_direct(ctx, &g, 1, v, v, NULL, NULL, 0, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "conv2d_direct",
               clnet_conv2d_direct(ctx, &g, 0, v, v, buf, NULL, 0, NULL));
    g.sh = 0;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "conv2d_im2col_gemm",
               clnet_conv2d_im2col_gemm(ctx, &g, 1, v, v, buf, NULL, 0, CLNET_GEMM_CLNET, buf,
                                        NULL, NULL));
    g.sh = 1;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "conv2d_im2col_gemm",
               clnet_conv2d_im2col_gemm(ctx, &g, 1, v, v, buf, NULL, 0, CLNET_GEMM_CLNET, NULL,
                                        NULL, NULL));
    g.kh = g.kw = 3;
    g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 1;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "conv2d_gemm1x1",
               clnet_conv2d_gemm1x1(ctx, &g, 1, v, v, buf, NULL, 0, CLNET_GEMM_CLNET, NULL, NULL));
    /* 3 images of 16 floats 400 apart end past the 1024-float buffer. */
    clnet_dview far = {buf, 300, 400};
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "conv2d_direct",
               clnet_conv2d_direct(ctx, &g, 3, far, v, buf, NULL, 0, NULL));

    clnet_gemm_args args = {.m = 4, .n = 0, .k = 4, .batch = 1, .a = buf, .lda = 4, .b = buf,
                            .ldb = 4, .c = buf, .ldc = 4};
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "gemm", clnet_gemm(ctx, CLNET_GEMM_CLNET, &args,
                                                                 NULL));
    args.n = 4;
    args.b = NULL;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "gemm", clnet_gemm(ctx, CLNET_GEMM_CLNET, &args,
                                                                 NULL));

    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "batchnorm",
               clnet_batchnorm(ctx, 4, 4, 1, v, v, buf, NULL, 0, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "relu", clnet_relu(ctx, 0, 4, 1, v, v, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "add",
               clnet_binary(ctx, CLNET_OP_ADD, 16, 1, v, null_view, v, 0, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "copy", clnet_copy(ctx, -1, 1, v, v, NULL));
    clnet_dview negative = {buf, -1, 16};
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "copy", clnet_copy(ctx, 16, 1, negative, v, NULL));

    clnet_pool_geometry pg = {.c = 1, .in_h = 4, .in_w = 4, .out_h = 2, .out_w = 2, .kh = 2,
                              .kw = 2, .sh = 0, .sw = 2};
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "maxpool2d",
               clnet_pool2d(ctx, CLNET_OP_MAXPOOL, &pg, 1, v, v, NULL));
    pg.sh = 2;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "avgpool2d",
               clnet_pool2d(ctx, CLNET_OP_AVGPOOL, &pg, 1, null_view, v, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "global_avgpool",
               clnet_global_avgpool(ctx, 4, 0, 1, v, v, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "dense",
               clnet_dense(ctx, 16, 4, 1, v, v, NULL, NULL, 0, CLNET_GEMM_AUTO, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "softmax",
               clnet_softmax(ctx, 4, 4, 1, v, null_view, NULL));

    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "add, multiply or subtract",
               clnet_binary(ctx, CLNET_OP_CONCAT, 16, 1, v, v, v, 0, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "multiply",
               clnet_binary(ctx, CLNET_OP_MULTIPLY, 16, 3, far, v, v, 0, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "subtract",
               clnet_binary(ctx, CLNET_OP_SUBTRACT, 0, 1, v, v, v, 0, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "clip",
               clnet_clip(ctx, 16, 1, v, v, 1.0f, -1.0f, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "clip",
               clnet_clip(ctx, 16, 1, v, v, NAN, 1.0f, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "clip",
               clnet_clip(ctx, 16, 1, null_view, v, 0.0f, 6.0f, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "sigmoid",
               clnet_sigmoid(ctx, 16, 1, v, negative, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "sigmoid",
               clnet_sigmoid(NULL, 16, 1, v, v, NULL));

    clnet_window_copy w = {1, 4, 4, 1, 2, 2, 0, 0, 0, 1, 2, 2, 0.0f};
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "window", clnet_window(ctx, NULL, 1, v, v, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "window",
               clnet_window(ctx, &w, 1, null_view, v, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "window", clnet_window(ctx, &w, 3, far, v, NULL));
    w.sy = 0;
    TEST_FAILS(CLNET_STATUS_UNSUPPORTED, "steps", clnet_window(ctx, &w, 1, v, v, NULL));
    w.sy = 2;
    w.out_w = 0;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "window", clnet_window(ctx, &w, 1, v, v, NULL));
    /* Source coordinates past int: 0x40000000 * 2 on the last of 3 columns. */
    w.out_w = 3;
    w.sx = 0x40000000;
    TEST_FAILS(CLNET_STATUS_UNSUPPORTED, "int indexing", clnet_window(ctx, &w, 1, v, v, NULL));
    w.sx = 1;
    w.value = INFINITY;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "fill value",
               clnet_window(ctx, &w, 1, v, v, NULL));
    /* The output of 1x2x3 floats does not fit in 4 floats. */
    w.value = 0;
    clnet_dview tiny = {buf, 1020, 6};
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "output", clnet_window(ctx, &w, 1, v, tiny, NULL));
    clnet_buffer_release(buf);
}

static void fusion_rejects_bad_arguments_naming_the_op(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    cl_mem buf, tiny;
    TEST_OK(clnet_buffer_create(ctx, 1024 * sizeof(float), "test buffer", &buf));
    TEST_OK(clnet_buffer_create(ctx, 2 * sizeof(float), "tiny test buffer", &tiny));

    /* GEMM: the prologue's arrays hold K = 4 floats each; the residual
     * matrix must fit its buffer. */
    clnet_gemm_args args = {.m = 4,
                            .n = 4,
                            .k = 4,
                            .batch = 1,
                            .a = buf,
                            .lda = 4,
                            .b = buf,
                            .ldb = 4,
                            .c = buf,
                            .ldc = 4,
                            .pre_scale = tiny,
                            .pre_shift = buf};
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "pre_scale",
               clnet_gemm(ctx, CLNET_GEMM_CLNET, &args, NULL));
    args.pre_scale = buf;
    args.pre_shift = NULL;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "pre_shift",
               clnet_gemm(ctx, CLNET_GEMM_CLNET, &args, NULL));
    args.pre_scale = NULL;
    args.pre_relu = 1;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "pre_relu",
               clnet_gemm(ctx, CLNET_GEMM_CLNET, &args, NULL));
    args.pre_scale = args.pre_shift = buf;
    TEST_FAILS(CLNET_STATUS_UNSUPPORTED, "CLBlast",
               clnet_gemm(ctx, CLNET_GEMM_CLBLAST, &args, NULL));
    args.pre_scale = args.pre_shift = NULL;
    args.pre_relu = 0;
    args.residual = buf;
    args.r_off = 1020;
    args.ldr = 4;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "residual",
               clnet_gemm(ctx, CLNET_GEMM_CLNET, &args, NULL));
    args.r_off = 0;
    args.ldr = 3;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "residual",
               clnet_gemm(ctx, CLNET_GEMM_CLNET, &args, NULL));

    /* Convolutions: 3 input channels, so the prologue needs 3 floats. */
    clnet_conv_geometry g = {.in_c = 3,
                             .in_h = 4,
                             .in_w = 4,
                             .out_c = 2,
                             .out_h = 4,
                             .out_w = 4,
                             .kh = 1,
                             .kw = 1,
                             .sh = 1,
                             .sw = 1,
                             .dh = 1,
                             .dw = 1};
    clnet_dview in = {buf, 0, 48}, out = {buf, 100, 32};
    clnet_conv_fusion f = {.pre_scale = tiny, .pre_shift = buf};
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "conv2d_im2col_gemm: the prologue scale",
               clnet_conv2d_im2col_gemm(ctx, &g, 1, in, out, buf, NULL, 0, CLNET_GEMM_CLNET, buf,
                                        &f, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "conv2d_gemm1x1: the prologue scale",
               clnet_conv2d_gemm1x1(ctx, &g, 1, in, out, buf, NULL, 0, CLNET_GEMM_CLNET, &f, NULL));
    f.pre_scale = NULL;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "pre_scale",
               clnet_conv2d_gemm1x1(ctx, &g, 1, in, out, buf, NULL, 0, CLNET_GEMM_CLNET, &f, NULL));
    f.pre_scale = buf;
    TEST_FAILS(
        CLNET_STATUS_UNSUPPORTED, "conv2d_gemm1x1",
        clnet_conv2d_gemm1x1(ctx, &g, 1, in, out, buf, NULL, 0, CLNET_GEMM_CLBLAST, &f, NULL));
    /* 3 images of 32 floats 400 apart end past the 1024-float buffer. */
    clnet_conv_fusion r = {.residual = {buf, 300, 400}};
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "conv2d_gemm1x1: the residual",
               clnet_conv2d_gemm1x1(ctx, &g, 3, (clnet_dview){buf, 0, 48},
                                    (clnet_dview){buf, 200, 32}, buf, NULL, 0, CLNET_GEMM_CLNET, &r,
                                    NULL));
    r.residual = (clnet_dview){buf, 0, 31};
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "conv2d_im2col_gemm: the residual",
               clnet_conv2d_im2col_gemm(ctx, &g, 2, in, out, buf, NULL, 0, CLNET_GEMM_CLNET, buf,
                                        &r, NULL));
    clnet_buffer_release(tiny);
    clnet_buffer_release(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv2d_direct_matches_reference),
        cmocka_unit_test(conv2d_im2col_gemm_matches_reference),
        cmocka_unit_test(conv2d_gemm1x1_matches_reference),
        cmocka_unit_test(conv2d_with_clblast_matches_reference),
        cmocka_unit_test(conv2d_im2col_gemm_fused_matches_reference),
        cmocka_unit_test(conv2d_gemm1x1_fused_matches_reference),
        cmocka_unit_test(conv2d_fused_with_clblast_matches_reference),
        cmocka_unit_test(conv2d_fusion_support_matches_the_launchers),
        cmocka_unit_test(conv2d_is_pointwise_only_for_1x1_stride1_unpadded),
        cmocka_unit_test(gemm_odd_sizes_batched_matches_host),
        cmocka_unit_test(gemm_with_prologue_and_residual_matches_host),
        cmocka_unit_test(gemm_other_device_kinds_kernel_matches_host),
        cmocka_unit_test(gemm_every_tuning_candidate_matches_host),
        cmocka_unit_test(gemm_config_names_round_trip),
        cmocka_unit_test(gemm_with_clblast_matches_host),
        cmocka_unit_test(gemm_auto_backend_is_clnet_on_cpus),
        cmocka_unit_test(launchers_append_one_event_per_kernel),
        cmocka_unit_test(batchnorm_matches_reference),
        cmocka_unit_test(relu_matches_reference_on_views),
        cmocka_unit_test(binary_ops_with_and_without_relu_match_reference),
        cmocka_unit_test(clip_matches_reference_on_views),
        cmocka_unit_test(sigmoid_is_accurate_and_finite_for_large_inputs),
        cmocka_unit_test(copy_into_slice_keeps_the_rest_of_the_tensor),
        cmocka_unit_test(window_matches_reference_for_slices_and_pads),
        cmocka_unit_test(maxpool_with_padding_matches_reference),
        cmocka_unit_test(avgpool_excludes_padding_from_the_count),
        cmocka_unit_test(global_avgpool_matches_reference),
        cmocka_unit_test(dense_with_and_without_bias_and_relu_matches_reference),
        cmocka_unit_test(softmax_over_channels_matches_reference),
        cmocka_unit_test(launchers_reject_bad_arguments_naming_the_op),
        cmocka_unit_test(fusion_rejects_bad_arguments_naming_the_op),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    test_context_release();
    return failed;
}
