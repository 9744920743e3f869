/* Winograd convolution against the CPU reference: the filter transform, the
 * per-tap batched GEMM, every 3x3 stride-1 shape the built-in networks use
 * (random inputs, poisoned outputs, odd sizes, batches 1 and 3, views with
 * offsets), the fallback of other convolutions, and the rounding error of
 * whole deep networks in the Winograd domain. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "kernels.h"
#include "reference.h"

/* Tolerance of one layer, relative to the largest reference magnitude.
 * Beyond the float accumulation of a direct convolution (about 1e-7 here),
 * the transforms round every term a few times, and F(4x4,3x3)'s output
 * transform multiplies by up to 8: over the layers of the built-in
 * networks (up to 128 input channels) the worst error measured is 4e-7 for
 * F(2x2) and 8.5e-6 for F(4x4). */
#define TOL_F2 1e-5
#define TOL_F4 3e-5
/* Whole networks, as tests/test_net.c checks them. */
#define TOL_NETWORK 1e-4

/* ------------------------------------------------------------------------ */
/* The filter transform                                                     */

/* F(m, 3) computed the long way in double: the correlation of a 1-D signal
 * of m + 2 samples with a 3-tap filter, from the transformed filter and the
 * transforms that cl/winograd.cl applies to data (B^T, A^T below). */
static const double bt2[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const double at2[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
static const double bt4[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0},
                                 {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0},
                                 {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
static const double at4[4][6] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

/* Y = A^T [U .* (B^T d B)] A for one alpha x alpha patch d and one filter,
 * U taken from clnet_winograd_transform_filters. */
static void winograd_tile_double(int tile, const float *u, const double *d, double *y) {
    int alpha = tile + 2;
    const double *bt = tile == 2 ? &bt2[0][0] : &bt4[0][0];
    const double *at = tile == 2 ? &at2[0][0] : &at4[0][0];
    double v[36], tmp[36], m[36], t2[24];
    for (int r = 0; r < alpha; r++)
        for (int c = 0; c < alpha; c++) {
            double s = 0;
            for (int k = 0; k < alpha; k++)
                s += bt[r * alpha + k] * d[k * alpha + c];
            tmp[r * alpha + c] = s;
        }
    for (int r = 0; r < alpha; r++)
        for (int c = 0; c < alpha; c++) {
            double s = 0;
            for (int k = 0; k < alpha; k++)
                s += tmp[r * alpha + k] * bt[c * alpha + k];
            v[r * alpha + c] = s;
        }
    for (int i = 0; i < alpha * alpha; i++)
        m[i] = v[i] * u[i];
    for (int r = 0; r < tile; r++)
        for (int c = 0; c < alpha; c++) {
            double s = 0;
            for (int k = 0; k < alpha; k++)
                s += at[r * alpha + k] * m[k * alpha + c];
            t2[r * alpha + c] = s;
        }
    for (int r = 0; r < tile; r++)
        for (int c = 0; c < tile; c++) {
            double s = 0;
            for (int k = 0; k < alpha; k++)
                s += t2[r * alpha + k] * at[c * alpha + k];
            y[r * tile + c] = s;
        }
}

static void filter_transform_gives_the_correlation(void **state) {
    (void)state;
    test_rng rng = {11};
    for (int tile = 2; tile <= 4; tile += 2) {
        int alpha = tile + 2;
        /* Two output channels by three input channels; check each pair. */
        double kernel[2 * 3 * 9];
        for (int i = 0; i < 2 * 3 * 9; i++)
            kernel[i] = test_rng_uniform(&rng, -1, 1);
        /* The GEMM layout [xi][o][i] and the fused one [o / 8][xi][i][o % 8],
         * out_c padded to 8 (a single block here). */
        float u[36 * 6], uf[36 * 24];
        clnet_winograd_transform_filters(tile, 0, 2, 3, kernel, u);
        clnet_winograd_transform_filters(tile, 1, 2, 3, kernel, uf);
        for (int k = 0; k < alpha * alpha; k++)
            for (int i = 0; i < 3; i++)
                for (int o = 0; o < 8; o++) {
                    float want = o < 2 ? u[(size_t)k * 6 + (size_t)o * 3 + i] : 0.0f;
                    assert_true(uf[(size_t)k * 24 + (size_t)i * 8 + o] == want);
                }
        for (int o = 0; o < 2; o++) {
            for (int i = 0; i < 3; i++) {
                double d[36], y[16];
                float uu[36];
                for (int k = 0; k < alpha * alpha; k++) {
                    d[k] = test_rng_uniform(&rng, -1, 1);
                    uu[k] = u[(size_t)k * 6 + (size_t)o * 3 + i];
                }
                winograd_tile_double(tile, uu, d, y);
                const double *g = kernel + (o * 3 + i) * 9;
                for (int r = 0; r < tile; r++)
                    for (int c = 0; c < tile; c++) {
                        double want = 0;
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                                want += d[(r + ky) * alpha + c + kx] * g[ky * 3 + kx];
                        /* U is rounded to float once: 1e-6 of values near 1. */
                        if (fabs(y[r * tile + c] - want) > 1e-5)
                            fail_msg("F(%dx%d): output channel %d, input %d, pixel (%d, %d): "
                                     "%.9f, expected %.9f",
                                     tile, tile, o, i, r, c, y[r * tile + c], want);
                    }
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* The batched GEMM with one A per batch entry                              */

static void gemm_strided_a_matches_host(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    const int m = 13, n = 37, k = 11, batch = 5, lda = 12, ldb = 41, ldc = 39;
    const int a_off = 3, a_stride = m * lda + 2, b_off = 7, b_stride = k * ldb + 1;
    const int c_off = 5, c_stride = m * ldc + 3;
    size_t a_total = (size_t)a_off + (size_t)batch * a_stride;
    size_t b_total = (size_t)b_off + (size_t)batch * b_stride;
    size_t c_total = (size_t)c_off + (size_t)batch * c_stride;
    test_rng rng = {21};
    float *a = test_alloc(a_total), *b = test_alloc(b_total);
    test_fill_uniform(&rng, a, a_total, -1, 1);
    test_fill_uniform(&rng, b, b_total, -1, 1);
    cl_mem a_buf = test_upload(ctx, a, a_total), b_buf = test_upload(ctx, b, b_total);
    cl_mem c_buf = test_poisoned_buffer(ctx, c_total);
    clnet_gemm_args args = {
        .m = m, .n = n, .k = k, .batch = batch,
        .a = a_buf, .a_off = a_off, .lda = lda,
        .b = b_buf, .b_off = b_off, .ldb = ldb, .b_stride = b_stride,
        .c = c_buf, .c_off = c_off, .ldc = ldc, .c_stride = c_stride,
        .bias = NULL, .relu = 0,
    };
    TEST_OK(clnet_gemm_strided_a(ctx, CLNET_GEMM_CLNET, &args, a_stride, NULL));
    float *c = test_download(ctx, c_buf, c_total);

    size_t count = (size_t)batch * m * n, e = 0;
    float *want = test_alloc(count), *got = test_alloc(count);
    for (int bi = 0; bi < batch; bi++)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++, e++) {
                double sum = 0;
                for (int p = 0; p < k; p++)
                    sum += (double)a[a_off + bi * a_stride + i * lda + p] *
                           b[b_off + bi * b_stride + p * ldb + j];
                want[e] = (float)sum;
                got[e] = c[c_off + bi * c_stride + i * ldc + j];
            }
    test_assert_close("gemm with one A per batch entry", want, got, count, 1e-5);

    /* A running past its buffer is refused before anything is enqueued. */
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "matrix A",
               clnet_gemm_strided_a(ctx, CLNET_GEMM_CLNET, &args, a_stride + 1000, NULL));
    free(want);
    free(got);
    free(c);
    clnet_buffer_release(c_buf);
    clnet_buffer_release(b_buf);
    clnet_buffer_release(a_buf);
    free(a);
    free(b);
}

/* ------------------------------------------------------------------------ */
/* Every 3x3 stride-1 shape of the built-in networks                        */

#define MAX_SHAPES 128

typedef struct shape_list {
    int count;
    clnet_conv_geometry shapes[MAX_SHAPES];
    const char *from[MAX_SHAPES];
} shape_list;

static int same_shape(const clnet_conv_geometry *a, const clnet_conv_geometry *b) {
    return a->in_c == b->in_c && a->in_h == b->in_h && a->in_w == b->in_w &&
           a->out_c == b->out_c && a->pad_top == b->pad_top && a->pad_left == b->pad_left &&
           a->pad_bottom == b->pad_bottom && a->pad_right == b->pad_right;
}

static void collect_shapes(const char *model, shape_list *list) {
    clnet_graph *g;
    TEST_OK(clnet_model_builtin(model, 1, &g));
    for (int i = 0; i < g->n_nodes; i++) {
        const clnet_node *node = &g->nodes[i];
        if (node->op != CLNET_OP_CONV2D || !clnet_conv2d_winograd_applies(&node->geom.conv))
            continue;
        int seen = 0;
        for (int k = 0; k < list->count && !seen; k++)
            seen = same_shape(&list->shapes[k], &node->geom.conv);
        if (seen)
            continue;
        assert_true(list->count < MAX_SHAPES);
        list->shapes[list->count] = node->geom.conv;
        list->from[list->count] = model;
        list->count++;
    }
    clnet_graph_destroy(g);
}

/* The networks whose 3x3 stride-1 convolutions must all be covered. */
static const char *const networks[] = {"resnet20v1",     "resnet56v2", "densenet100",
                                       "densenet100k24", "densenet40k24", "ynet"};

typedef struct error_record {
    double worst[2]; /* per tile size (2, 4), both paths */
} error_record;

/* Work fused into a convolution under test: a prologue (random scale of
 * both signs and shift per input channel, with or without its ReLU), a
 * residual (random values through a view with an offset and a batch
 * stride wider than the tensor, or in_place: the output view itself, which
 * holds the residual before the call), and the ReLU that follows. */
typedef struct fusion_case {
    int prologue, pre_relu, residual, relu, in_place;
} fusion_case;

/* The data of a fusion case: the prologue's arrays and the residual on the
 * host, and their device buffers. */
typedef struct fusion_data {
    float *scale, *shift, *residual;
    cl_mem scale_buf, shift_buf, residual_buf;
    int r_lead, r_stride;
} fusion_data;

/* x * scale[c] + shift[c] (then max(., 0)) in double over a dense batch. */
static void apply_prologue(const clnet_conv_geometry *g, int batch, const fusion_case *fc,
                           const fusion_data *fd, float *in) {
    const size_t hw = (size_t)g->in_h * g->in_w;
    for (int n = 0; n < batch; n++)
        for (int c = 0; c < g->in_c; c++) {
            float *plane = in + ((size_t)n * g->in_c + c) * hw;
            for (size_t i = 0; i < hw; i++) {
                double v = (double)plane[i] * fd->scale[c] + fd->shift[c];
                plane[i] = (float)(fc->pre_relu && v < 0 ? 0 : v);
            }
        }
}

/* The residual lies at r_lead + n * r_stride; in place, only on the host
 * (the caller puts it into the output buffer). */
static void make_fusion_data(clnet_context *ctx, const clnet_conv_geometry *g, int batch,
                             const fusion_case *fc, int r_lead, int r_stride, test_rng *rng,
                             fusion_data *fd) {
    memset(fd, 0, sizeof *fd);
    if (fc->prologue) {
        fd->scale = test_alloc((size_t)g->in_c);
        fd->shift = test_alloc((size_t)g->in_c);
        test_fill_uniform(rng, fd->scale, (size_t)g->in_c, -1.5f, 1.5f);
        test_fill_uniform(rng, fd->shift, (size_t)g->in_c, -0.5f, 0.5f);
        fd->scale_buf = test_upload(ctx, fd->scale, (size_t)g->in_c);
        fd->shift_buf = test_upload(ctx, fd->shift, (size_t)g->in_c);
    }
    if (fc->residual) {
        fd->r_lead = r_lead;
        fd->r_stride = r_stride;
        size_t total = (size_t)r_lead + (size_t)batch * r_stride;
        fd->residual = test_alloc(total);
        test_fill_uniform(rng, fd->residual, total, -1, 1);
        if (!fc->in_place)
            fd->residual_buf = test_upload(ctx, fd->residual, total);
    }
}

static void free_fusion_data(fusion_data *fd) {
    clnet_buffer_release(fd->residual_buf);
    clnet_buffer_release(fd->shift_buf);
    clnet_buffer_release(fd->scale_buf);
    free(fd->residual);
    free(fd->shift);
    free(fd->scale);
}

/* Runs one geometry with one tile size on one path (fused or GEMM),
 * skipping the fused path where the device lacks the local memory: batch 3
 * through views with offsets
 * and foreign channels around them (as a concatenation slice is written),
 * and batch 1 on a dense tensor; compares with the reference and checks
 * that nothing outside the output view was written. fc: the fusion to run
 * (NULL: none, the ReLU on for odd input channel counts). */
static void check_shape(const clnet_conv_geometry *g, const char *from, int tile, int fused,
                        const fusion_case *fc, error_record *errors) {
    clnet_context *ctx = test_context();
    const char *path = fused ? "fused" : "gemm";
    if (fused && (size_t)(tile + 2) * (tile + 2) * g->in_c * 8 * sizeof(float) >
                     clnet_context_device(ctx)->local_mem_bytes)
        return; /* the fused kernel refuses it, as tested below */
    const int batch = 3, in_hw = g->in_h * g->in_w, out_hw = g->out_h * g->out_w;
    const int in_lead = 5, in_before = 2, in_after = 1, out_lead = 3, out_before = 1,
              out_after = 2;
    const int in_stride = (in_before + g->in_c + in_after) * in_hw;
    const int out_stride = (out_before + g->out_c + out_after) * out_hw;
    size_t in_total = (size_t)in_lead + (size_t)batch * in_stride;
    size_t out_total = (size_t)out_lead + (size_t)batch * out_stride;
    size_t w_count = (size_t)g->out_c * g->in_c * 9;
    test_rng rng = {(uint64_t)(g->in_c * 1000 + g->in_h * 10 + tile)};

    float *in_wide = test_alloc(in_total);
    test_fill_uniform(&rng, in_wide, in_total, -1, 1);
    float *weight = test_alloc(w_count), *bias = test_alloc((size_t)g->out_c);
    /* He-scaled weights, as the networks have: outputs of order 1. */
    float scale = (float)sqrt(6.0 / (g->in_c * 9));
    test_fill_uniform(&rng, weight, w_count, -scale, scale);
    test_fill_uniform(&rng, bias, (size_t)g->out_c, -1, 1);
    double *weight_d = malloc(w_count * sizeof *weight_d);
    assert_non_null(weight_d);
    for (size_t i = 0; i < w_count; i++)
        weight_d[i] = weight[i];
    size_t u_count = clnet_winograd_filter_floats(g, tile, fused);
    float *u = test_alloc(u_count);
    clnet_winograd_transform_filters(tile, fused, g->out_c, g->in_c, weight_d, u);
    const fusion_case none = {0, 0, 0, g->in_c % 2, 0}; /* both epilogues over the shapes */
    if (!fc)
        fc = &none;
    fusion_data fd;
    if (fc->in_place)
        make_fusion_data(ctx, g, batch, fc, out_lead + out_before * out_hw, out_stride, &rng,
                         &fd);
    else
        make_fusion_data(ctx, g, batch, fc, 7, g->out_c * out_hw + 5, &rng, &fd);

    /* The reference on the dense input, normalised first when the
     * prologue is on (the reference pads that with zeros); then the
     * residual and the ReLU. */
    float *in_dense = test_alloc((size_t)batch * g->in_c * in_hw);
    for (int n = 0; n < batch; n++)
        memcpy(in_dense + (size_t)n * g->in_c * in_hw,
               in_wide + in_lead + (size_t)n * in_stride + (size_t)in_before * in_hw,
               (size_t)g->in_c * in_hw * sizeof(float));
    if (fc->prologue)
        apply_prologue(g, batch, fc, &fd, in_dense);
    size_t out_count = (size_t)batch * g->out_c * out_hw;
    float *want = test_alloc(out_count);
    clnet_ref_conv2d(g, batch, in_dense, weight, bias, want);
    if (fc->residual)
        for (int n = 0; n < batch; n++)
            for (size_t i = 0; i < (size_t)g->out_c * out_hw; i++)
                want[(size_t)n * g->out_c * out_hw + i] =
                    (float)((double)want[(size_t)n * g->out_c * out_hw + i] +
                            fd.residual[(size_t)fd.r_lead + (size_t)n * fd.r_stride + i]);
    const int relu = fc->relu;
    if (relu)
        for (size_t i = 0; i < out_count; i++)
            want[i] = want[i] < 0 ? 0 : want[i];

    cl_mem in_buf = test_upload(ctx, in_wide, in_total);
    cl_mem u_buf = test_upload(ctx, u, u_count), b_buf = test_upload(ctx, bias, (size_t)g->out_c);
    cl_mem out_buf;
    if (fc->in_place) {
        /* The residual inside the output view, NaN around it. */
        float *start = test_alloc_poisoned(out_total);
        for (int n = 0; n < batch; n++)
            memcpy(start + fd.r_lead + (size_t)n * out_stride,
                   fd.residual + fd.r_lead + (size_t)n * out_stride,
                   (size_t)g->out_c * out_hw * sizeof(float));
        out_buf = test_upload(ctx, start, out_total);
        free(start);
    } else {
        out_buf = test_poisoned_buffer(ctx, out_total);
    }
    cl_mem scratch = NULL;
    clnet_dview in = {in_buf, in_lead + in_before * in_hw, in_stride};
    clnet_dview out = {out_buf, out_lead + out_before * out_hw, out_stride};
    clnet_conv_fusion fusion = {fd.scale_buf, fd.shift_buf, fc->pre_relu,
                                {fd.residual_buf, fd.r_lead, fd.r_stride}};
    if (fc->in_place)
        fusion.residual = out;
    const clnet_conv_fusion *fusion_arg = fc->prologue || fc->residual ? &fusion : NULL;
    if (fused) {
        TEST_OK(clnet_conv2d_winograd_fused(ctx, g, tile, batch, in, out, u_buf, b_buf, relu,
                                            fusion_arg, NULL));
    } else {
        scratch = test_poisoned_buffer(ctx, clnet_conv2d_winograd_gemm_scratch(g, tile, batch));
        TEST_OK(clnet_conv2d_winograd_gemm(ctx, g, tile, batch, in, out, u_buf, b_buf, relu,
                                           CLNET_GEMM_CLNET, scratch, fusion_arg, NULL));
    }
    float *wide = test_download(ctx, out_buf, out_total);
    float *got = test_alloc(out_count);
    char what[224], fusion_name[64];
    snprintf(fusion_name, sizeof fusion_name, "%s%s%s%s%s", fc->prologue ? ", prologue" : "",
             fc->prologue && fc->pre_relu ? "+relu" : "", fc->residual ? ", residual" : "",
             fc->in_place ? " in place" : "", relu ? ", relu" : "");
    for (size_t i = 0; i < out_total; i++) {
        size_t within = i < (size_t)out_lead ? 0 : (i - out_lead) % (size_t)out_stride;
        int inside = i >= (size_t)out_lead && within >= (size_t)out_before * out_hw &&
                     within < (size_t)(out_before + g->out_c) * out_hw;
        if (inside) {
            size_t n = (i - out_lead) / (size_t)out_stride;
            got[n * g->out_c * out_hw + within - (size_t)out_before * out_hw] = wide[i];
        } else if (!isnan(wide[i])) {
            fail_msg("%s F(%dx%d) %s%s %dx%dx%d -> %d: float %zu outside the output view was "
                     "written (%g)",
                     from, tile, tile, path, fusion_name, g->in_c, g->in_h, g->in_w, g->out_c,
                     i, wide[i]);
        }
    }
    snprintf(what, sizeof what,
             "%s F(%dx%d,3x3) %s%s %dx%dx%d -> %d pads %d/%d/%d/%d, batch 3 views", from, tile,
             tile, path, fusion_name, g->in_c, g->in_h, g->in_w, g->out_c, g->pad_top,
             g->pad_bottom, g->pad_left, g->pad_right);
    double tolerance = tile == 2 ? TOL_F2 : TOL_F4;
    test_assert_close(what, want, got, out_count, tolerance);
    double err = test_max_relative_error(want, got, out_count);
    if (err > errors->worst[tile / 4])
        errors->worst[tile / 4] = err;

    /* Batch 1, dense views: the first image (the residual view keeps its
     * offset). */
    clnet_buffer_release(out_buf);
    size_t one = (size_t)g->out_c * out_hw;
    out_buf = fc->in_place ? test_upload(ctx, fd.residual + fd.r_lead, one)
                           : test_poisoned_buffer(ctx, one);
    clnet_dview in1 = {in_buf, in.offset, in_stride};
    clnet_dview out1 = {out_buf, 0, (int)one};
    if (fc->in_place)
        fusion.residual = out1;
    if (fused)
        TEST_OK(clnet_conv2d_winograd_fused(ctx, g, tile, 1, in1, out1, u_buf, b_buf, relu,
                                            fusion_arg, NULL));
    else
        TEST_OK(clnet_conv2d_winograd_gemm(ctx, g, tile, 1, in1, out1, u_buf, b_buf, relu,
                                           CLNET_GEMM_CLNET, scratch, fusion_arg, NULL));
    float *got1 = test_download(ctx, out_buf, one);
    snprintf(what, sizeof what, "%s F(%dx%d,3x3) %s%s %dx%dx%d -> %d, batch 1", from, tile,
             tile, path, fusion_name, g->in_c, g->in_h, g->in_w, g->out_c);
    test_assert_close(what, want, got1, one, tolerance);

    free(got1);
    free(got);
    free(wide);
    clnet_buffer_release(scratch);
    clnet_buffer_release(out_buf);
    clnet_buffer_release(b_buf);
    clnet_buffer_release(u_buf);
    clnet_buffer_release(in_buf);
    free_fusion_data(&fd);
    free(want);
    free(in_dense);
    free(u);
    free(weight_d);
    free(bias);
    free(weight);
    free(in_wide);
}

static void every_network_shape_matches_reference(void **state) {
    (void)state;
    shape_list *list = calloc(1, sizeof *list);
    assert_non_null(list);
    for (size_t i = 0; i < sizeof networks / sizeof networks[0]; i++)
        collect_shapes(networks[i], list);
    assert_true(list->count >= 10);
    error_record errors = {{0, 0}};
    for (int i = 0; i < list->count; i++)
        for (int fused = 0; fused <= 1; fused++) {
            check_shape(&list->shapes[i], list->from[i], 2, fused, NULL, &errors);
            check_shape(&list->shapes[i], list->from[i], 4, fused, NULL, &errors);
        }
    print_message("winograd: %d layer shapes; worst relative error F(2x2,3x3) %.2e, "
                  "F(4x4,3x3) %.2e\n",
                  list->count, errors.worst[0], errors.worst[1]);
    free(list);
}

/* A 3x3 stride-1 geometry from in_c, h, w, out_c and the paddings top,
 * bottom, left, right. */
static clnet_conv_geometry geometry_of(const int c[8]) {
    clnet_conv_geometry g = {0};
    g.in_c = c[0];
    g.in_h = c[1];
    g.in_w = c[2];
    g.out_c = c[3];
    g.kh = g.kw = 3;
    g.sh = g.sw = g.dh = g.dw = 1;
    g.pad_top = c[4];
    g.pad_bottom = c[5];
    g.pad_left = c[6];
    g.pad_right = c[7];
    g.out_h = g.in_h + g.pad_top + g.pad_bottom - 2;
    g.out_w = g.in_w + g.pad_left + g.pad_right - 2;
    return g;
}

/* Sizes that leave partial tiles on both axes, asymmetric, 'valid' and
 * wide padding (tiles wholly in the padding), one channel, and images
 * smaller than a tile. */
static const int odd_cases[][8] = {
    /* in_c, h, w, out_c, pad top, bottom, left, right */
    {1, 7, 5, 3, 1, 1, 1, 1},   {5, 13, 11, 7, 1, 1, 1, 1}, {3, 9, 10, 17, 0, 0, 0, 0},
    {7, 6, 9, 5, 2, 0, 0, 2},   {2, 1, 1, 4, 1, 1, 1, 1},   {9, 3, 17, 33, 1, 1, 1, 1},
    {16, 31, 29, 9, 1, 1, 1, 1}, {2, 8, 9, 3, 9, 10, 11, 9},  {3, 12, 16, 4, 3, 0, 5, 3},
};

static void odd_sizes_and_paddings_match_reference(void **state) {
    (void)state;
    error_record errors = {{0, 0}};
    for (size_t i = 0; i < sizeof odd_cases / sizeof odd_cases[0]; i++) {
        clnet_conv_geometry g = geometry_of(odd_cases[i]);
        for (int fused = 0; fused <= 1; fused++) {
            check_shape(&g, "odd", 2, fused, NULL, &errors);
            check_shape(&g, "odd", 4, fused, NULL, &errors);
        }
    }
}

/* The prologue, the residual and both, each with and without the ReLUs,
 * and the residual added in place, on both paths and tile sizes: the odd
 * shapes above (the prologue's shift would show in any padding it
 * reached), whole-tile shapes of the networks, and one large enough that
 * the GEMM path runs its batch in several passes. */
static void fused_prologue_and_residual_match_reference(void **state) {
    (void)state;
    static const int network_cases[][8] = {
        {16, 32, 32, 16, 1, 1, 1, 1}, {48, 8, 8, 12, 1, 1, 1, 1}, {16, 79, 81, 13, 1, 1, 1, 1},
    };
    static const fusion_case cases[] = {
        /* prologue, pre_relu, residual, relu, in place */
        {1, 1, 0, 0, 0}, {1, 0, 0, 1, 0}, {0, 0, 1, 0, 0}, {0, 0, 1, 1, 0}, {1, 1, 1, 1, 0},
        {1, 0, 1, 0, 0}, {1, 1, 1, 0, 0}, {1, 0, 1, 1, 0}, {0, 0, 1, 1, 1}, {1, 1, 1, 0, 1},
    };
    const size_t n_odd = sizeof odd_cases / sizeof odd_cases[0];
    const size_t n_network = sizeof network_cases / sizeof network_cases[0];
    error_record errors = {{0, 0}};
    for (size_t i = 0; i < n_odd + n_network; i++) {
        clnet_conv_geometry g =
            geometry_of(i < n_odd ? odd_cases[i] : network_cases[i - n_odd]);
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
            for (int fused = 0; fused <= 1; fused++) {
                check_shape(&g, "fusion", 2, fused, &cases[k], &errors);
                check_shape(&g, "fusion", 4, fused, &cases[k], &errors);
            }
    }
    print_message("winograd: fusion, worst relative error F(2x2,3x3) %.2e, F(4x4,3x3) %.2e\n",
                  errors.worst[0], errors.worst[1]);
}

/* Bad fusion arguments are refused with a message naming the operation and
 * the argument, on both paths, before anything is enqueued. */
static void bad_fusion_arguments_are_refused(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    const int c[8] = {4, 6, 7, 5, 1, 1, 1, 1};
    const clnet_conv_geometry g = geometry_of(c);
    const int batch = 2, in_image = 4 * 6 * 7, out_image = 5 * 6 * 7;
    cl_mem in_buf = test_poisoned_buffer(ctx, (size_t)batch * in_image);
    cl_mem out_buf = test_poisoned_buffer(ctx, (size_t)batch * out_image);
    cl_mem small = test_poisoned_buffer(ctx, 3); /* fewer floats than in_c */
    cl_mem four = test_poisoned_buffer(ctx, 4);
    cl_mem res_buf = test_poisoned_buffer(ctx, (size_t)batch * out_image);
    clnet_dview in = {in_buf, 0, in_image}, out = {out_buf, 0, out_image};
    for (int fused = 0; fused <= 1; fused++) {
        cl_mem u = test_poisoned_buffer(ctx, clnet_winograd_filter_floats(&g, 4, fused));
        cl_mem scratch =
            test_poisoned_buffer(ctx, clnet_conv2d_winograd_gemm_scratch(&g, 4, batch));
        const char *op = fused ? "conv2d_winograd(fused)" : "conv2d_winograd(gemm)";
        static const struct {
            const char *needle;
            int scale, shift, pre_relu, residual, offset, stride;
        } bad[] = {
            {"pre_shift", 4, 0, 0, 0, 0, 0},      /* a scale without a shift */
            {"pre_scale", 0, 4, 1, 0, 0, 0},      /* a shift without a scale */
            {"pre_relu", 0, 0, 1, 0, 0, 0},       /* a ReLU without a prologue */
            {"prologue scale", 3, 4, 0, 0, 0, 0}, /* fewer scales than channels */
            {"prologue shift", 4, 3, 0, 0, 0, 0}, /* fewer shifts than channels */
            {"residual", 0, 0, 0, 1, 1, 0},       /* past the buffer's end */
            {"residual", 0, 0, 0, 1, 0, 1},       /* images overlapping */
            {"residual", 0, 0, 0, 1, -1, 0},      /* a negative offset */
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            clnet_conv_fusion f = {0};
            f.pre_scale = bad[i].scale == 4 ? four : bad[i].scale == 3 ? small : NULL;
            f.pre_shift = bad[i].shift == 4 ? four : bad[i].shift == 3 ? small : NULL;
            f.pre_relu = bad[i].pre_relu;
            if (bad[i].residual)
                f.residual = (clnet_dview){res_buf, bad[i].offset,
                                           bad[i].stride ? out_image - 1 : out_image};
            clnet_status st =
                fused ? clnet_conv2d_winograd_fused(ctx, &g, 4, batch, in, out, u, NULL, 1, &f,
                                                    NULL)
                      : clnet_conv2d_winograd_gemm(ctx, &g, 4, batch, in, out, u, NULL, 1,
                                                   CLNET_GEMM_CLNET, scratch, &f, NULL);
            TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, bad[i].needle, st);
            if (!strstr(clnet_last_error(), op))
                fail_msg("the message for a bad %s does not name %s: %s", bad[i].needle, op,
                         clnet_last_error());
        }
        clnet_buffer_release(scratch);
        clnet_buffer_release(u);
    }
    /* Nothing was written. */
    float *o = test_download(ctx, out_buf, (size_t)batch * out_image);
    for (int i = 0; i < batch * out_image; i++)
        assert_true(isnan(o[i]));
    free(o);
    clnet_buffer_release(res_buf);
    clnet_buffer_release(four);
    clnet_buffer_release(small);
    clnet_buffer_release(out_buf);
    clnet_buffer_release(in_buf);
}

static void other_convolutions_are_refused_and_fall_back(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    clnet_conv_geometry g = {.in_c = 4, .in_h = 8, .in_w = 8, .out_c = 4, .out_h = 4,
                             .out_w = 4, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1, .dw = 1,
                             .pad_top = 0, .pad_left = 0, .pad_bottom = 1, .pad_right = 1};
    assert_false(clnet_conv2d_winograd_applies(&g));
    assert_false(clnet_conv2d_winograd_fuses(ctx, &g, 4));
    assert_int_equal(clnet_conv2d_winograd_scratch(ctx, &g, 4, 2), 0);
    assert_int_equal(clnet_conv2d_winograd_gemm_scratch(&g, 4, 2), 0);
    cl_mem buf = test_poisoned_buffer(ctx, 4096);
    clnet_dview v = {buf, 0, 256};
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "stride",
               clnet_conv2d_winograd(ctx, &g, 4, 1, v, v, buf, NULL, 0, CLNET_GEMM_CLNET, buf,
                                     NULL, NULL));
    g.sh = g.sw = 1;
    g.out_h = g.out_w = 7;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "tile",
               clnet_conv2d_winograd(ctx, &g, 3, 1, v, v, buf, NULL, 0, CLNET_GEMM_CLNET, buf,
                                     NULL, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "scratch",
               clnet_conv2d_winograd_gemm(ctx, &g, 4, 1, v, v, buf, NULL, 0, CLNET_GEMM_CLNET,
                                          NULL, NULL, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "transformed filters",
               clnet_conv2d_winograd_fused(ctx, &g, 4, 1, v, v, NULL, NULL, 0, NULL, NULL));
    /* Too many input channels for the fused kernel's local memory. */
    clnet_conv_geometry wide = g;
    wide.in_c = (int)(clnet_context_device(ctx)->local_mem_bytes / (36 * 8 * sizeof(float))) + 1;
    wide.in_h = wide.in_w = 1;
    wide.out_h = wide.out_w = 1;
    wide.pad_top = wide.pad_left = wide.pad_bottom = wide.pad_right = 1;
    assert_false(clnet_conv2d_winograd_fuses(ctx, &wide, 4));
    cl_mem big = test_poisoned_buffer(ctx, (size_t)wide.in_c * 4 * 36 * 8);
    clnet_dview vb = {big, 0, wide.in_c};
    TEST_FAILS(CLNET_STATUS_UNSUPPORTED, "local memory",
               clnet_conv2d_winograd_fused(ctx, &wide, 4, 1, vb, vb, big, NULL, 0, NULL, NULL));
    clnet_buffer_release(big);
    clnet_buffer_release(buf);

    /* In a net, forcing Winograd leaves the stride-2, 1x1 and dilated
     * convolutions to other algorithms. */
    clnet_graph *graph;
    TEST_OK(clnet_model_builtin("resnet20v1", 3, &graph));
    for (int tile = 2; tile <= 4; tile += 2) {
        clnet_net_options o = clnet_net_options_default();
        o.conv_algo = tile == 2 ? CLNET_CONV_WINOGRAD_2X2 : CLNET_CONV_WINOGRAD_4X4;
        clnet_net *net;
        TEST_OK(clnet_net_create(ctx, graph, &o, &net));
        int winograd = 0, other = 0;
        for (int i = 0; i < clnet_net_step_count(net); i++) {
            clnet_step_info info;
            TEST_OK(clnet_net_step_info(net, i, &info));
            if (strncmp(info.kernel, "conv2d_", 7) != 0)
                continue;
            if (strstr(info.kernel, tile == 2 ? "winograd2x2" : "winograd4x4"))
                winograd++;
            else
                other++;
        }
        /* ResNet-20: 19 3x3 stride-1 convolutions (the stem included), two
         * stride-2 ones and two 1x1 shortcuts. */
        assert_int_equal(winograd, 17);
        assert_int_equal(other, 4);
        clnet_net_destroy(net);
    }
    clnet_graph_destroy(graph);
}

/* On a CPU, by default, the 3x3 layers on 8x8 images switch to F(2x2) at
 * batch 1 (their F(4x4) tiles cannot fill a work-item), and their steps say
 * so; the larger images keep F(4x4) at every batch. */
static void small_batch_tile_shows_in_step_names(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    if (clnet_context_device(ctx)->type != CLNET_DEVICE_TYPE_CPU)
        skip();
    clnet_graph *graph;
    TEST_OK(clnet_model_builtin("resnet20v1", 3, &graph));
    clnet_net *net;
    TEST_OK(clnet_net_create(ctx, graph, NULL, &net));
    int small = 0, large = 0;
    for (int i = 0; i < clnet_net_step_count(net); i++) {
        clnet_step_info info;
        TEST_OK(clnet_net_step_info(net, i, &info));
        if (!strstr(info.kernel, "winograd4x4"))
            continue;
        if (strstr(info.kernel, "[2x2 to batch 1]"))
            small++;
        else
            large++;
    }
    /* Stage three: two blocks of two and the first block's second. */
    assert_int_equal(small, 5);
    assert_int_equal(large, 12);
    clnet_net_destroy(net);
    clnet_graph_destroy(graph);
}

/* ------------------------------------------------------------------------ */
/* Whole networks                                                           */

/* Runs a built-in network (logits) with each Winograd tile size forced
 * everywhere it applies; errors[i] receives the largest error relative to
 * the largest logit for F(2x2) and F(4x4). */
static void network_errors(const char *model, int batch, double errors[2]) {
    clnet_context *ctx = test_context();
    clnet_graph *g;
    TEST_OK(clnet_model_builtin(model, 42, &g));
    test_rng rng = {77};
    test_randomize_non_kernels(g, &rng);
    TEST_OK(clnet_graph_strip_final_softmax(g, NULL));
    size_t in_n = 3 * 32 * 32 * (size_t)batch, out_n = 10 * (size_t)batch;
    float *in = test_alloc(in_n), *out = test_alloc(out_n), *want = test_alloc(out_n);
    test_fill_uniform(&rng, in, in_n, 0, 1);
    TEST_OK(clnet_graph_run_reference(g, batch, (const float *const *)&in, &want));
    for (int i = 0; i < 2; i++) {
        clnet_net_options o = clnet_net_options_default();
        o.conv_algo = i == 0 ? CLNET_CONV_WINOGRAD_2X2 : CLNET_CONV_WINOGRAD_4X4;
        o.poison_activations = 1;
        clnet_net *net;
        for (size_t k = 0; k < out_n; k++)
            out[k] = TEST_POISON;
        TEST_OK(clnet_net_create(ctx, g, &o, &net));
        TEST_OK(clnet_net_run(net, batch, (const float *const *)&in, &out));
        errors[i] = test_max_relative_error(want, out, out_n);
        char what[96];
        snprintf(what, sizeof what, "%s logits (%s)", model, clnet_conv_algo_name(o.conv_algo));
        test_assert_close(what, want, out, out_n, TOL_NETWORK);
        clnet_net_destroy(net);
    }
    clnet_graph_destroy(g);
    free(in);
    free(out);
    free(want);
}

static void deep_networks_stay_within_float_tolerance(void **state) {
    (void)state;
    static const char *const models[] = {"resnet56v1", "resnet110v1", "resnet56v2",
                                         "densenet100"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        double errors[2];
        network_errors(models[i], 1, errors);
        print_message("winograd: %s logits, max relative error F(2x2,3x3) %.2e, "
                      "F(4x4,3x3) %.2e\n",
                      models[i], errors[0], errors[1]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(filter_transform_gives_the_correlation),
        cmocka_unit_test(gemm_strided_a_matches_host),
        cmocka_unit_test(every_network_shape_matches_reference),
        cmocka_unit_test(odd_sizes_and_paddings_match_reference),
        cmocka_unit_test(fused_prologue_and_residual_match_reference),
        cmocka_unit_test(bad_fusion_arguments_are_refused),
        cmocka_unit_test(other_convolutions_are_refused_and_fall_back),
        cmocka_unit_test(small_batch_tile_shows_in_step_names),
        cmocka_unit_test(deep_networks_stay_within_float_tolerance),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    test_context_release();
    return failed;
}
