/* Compiled networks against the CPU reference: every op through the whole
 * pipeline with each algorithm, folding and fusion, in-place
 * concatenation, memory reuse, several inputs and outputs, shared layers,
 * and every built-in network end to end. */
#include "test_util.h"

#include "net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tolerance for a few layers: float32 accumulation over at most a few
 * thousand products keeps the error near 1e-6 of the largest value; 2e-5
 * leaves room for folded weights rounding differently. */
#define TOL_LAYER 2e-5
/* Whole networks: dozens of layers, each adding its rounding. */
#define TOL_NETWORK 1e-4

/* Random weights everywhere, with batch-norm statistics away from the
 * identity so that folding is actually exercised. */
static void randomize_weights(clnet_graph *g, uint64_t seed) {
    test_rng rng = {seed};
    for (int l = 0; l < clnet_graph_layer_count(g); l++) {
        clnet_layer *layer = clnet_graph_layer_at(g, l);
        for (int w = 0; w < clnet_layer_weight_count(layer); w++) {
            clnet_weight_info info;
            TEST_OK(clnet_layer_weight(layer, w, &info));
            float lo = -0.5f, hi = 0.5f;
            if (!strcmp(info.name, "gamma") || !strcmp(info.name, "moving_variance")) {
                lo = 0.5f;
                hi = 1.5f;
            }
            test_fill_uniform(&rng, info.data, info.count, lo, hi);
        }
    }
}

/* Runs g on the device with options and on the reference for `batch`
 * random images, and compares every output. */
static void check_graph(clnet_graph *g, const clnet_net_options *options, int batch,
                        double tolerance, const char *what) {
    clnet_context *ctx = test_context();
    int n_in = clnet_graph_input_count(g), n_out = clnet_graph_output_count(g);
    float *inputs[8], *outputs[8], *expected[8];
    size_t out_sizes[8];
    assert_true(n_in <= 8 && n_out <= 8);
    test_rng rng = {1234};
    for (int i = 0; i < n_in; i++) {
        clnet_shape s;
        TEST_OK(clnet_tensor_shape(g, clnet_graph_input_at(g, i), &s));
        size_t n = clnet_shape_size(s) * (size_t)batch;
        inputs[i] = test_alloc(n);
        test_fill_uniform(&rng, inputs[i], n, -1.0f, 1.0f);
    }
    for (int i = 0; i < n_out; i++) {
        clnet_shape s;
        TEST_OK(clnet_tensor_shape(g, clnet_graph_output_at(g, i), &s));
        out_sizes[i] = clnet_shape_size(s) * (size_t)batch;
        outputs[i] = test_alloc_poisoned(out_sizes[i]);
        expected[i] = test_alloc_poisoned(out_sizes[i]);
    }

    clnet_net_options opt = options ? *options : clnet_net_options_default();
    opt.poison_activations = 1;
    clnet_net *net;
    TEST_OK(clnet_net_create(ctx, g, &opt, &net));
    TEST_OK(clnet_net_run(net, batch, (const float *const *)inputs, outputs));
    TEST_OK(clnet_graph_run_reference(g, batch, (const float *const *)inputs, expected));
    for (int i = 0; i < n_out; i++) {
        char label[256];
        snprintf(label, sizeof label, "%s, output %d, batch %d", what, i, batch);
        test_assert_close(label, expected[i], outputs[i], out_sizes[i], tolerance);
    }
    clnet_net_destroy(net);
    for (int i = 0; i < n_in; i++)
        free(inputs[i]);
    for (int i = 0; i < n_out; i++) {
        free(outputs[i]);
        free(expected[i]);
    }
}

/* A graph of one input and one layer called on it. */
static clnet_graph *single_layer_graph(int c, int h, int w, clnet_layer **layer,
                                       clnet_status (*make)(clnet_graph *, clnet_layer **,
                                                            const void *),
                                       const void *desc) {
    clnet_graph *g;
    clnet_tensor x, y;
    TEST_OK(clnet_graph_create(&g));
    TEST_OK(clnet_graph_input(g, NULL, c, h, w, &x));
    TEST_OK(make(g, layer, desc));
    TEST_OK(clnet_layer_call1(*layer, x, &y));
    TEST_OK(clnet_graph_set_outputs(g, &y, 1));
    randomize_weights(g, 99);
    return g;
}

static clnet_status make_conv(clnet_graph *g, clnet_layer **out, const void *desc) {
    return clnet_layer_conv2d(g, NULL, desc, out);
}

typedef struct conv_case {
    int c, h, w, filters, k, stride, dilation;
    clnet_padding padding;
    int pads[4];
} conv_case;

static const conv_case conv_cases[] = {
    {3, 7, 7, 7, 3, 1, 1, CLNET_PADDING_SAME, {0}},
    {5, 13, 13, 16, 3, 2, 1, CLNET_PADDING_SAME, {0}},
    {13, 31, 31, 7, 3, 1, 2, CLNET_PADDING_SAME, {0}},
    {6, 13, 7, 9, 5, 2, 1, CLNET_PADDING_VALID, {0}},
    {7, 13, 13, 24, 1, 1, 1, CLNET_PADDING_SAME, {0}},
    {7, 13, 13, 10, 1, 2, 1, CLNET_PADDING_SAME, {0}},
    {4, 12, 9, 5, 3, 2, 1, CLNET_PADDING_EXPLICIT, {1, 0, 2, 1}},
    {17, 8, 8, 33, 3, 1, 1, CLNET_PADDING_SAME, {0}},
    {6, 11, 9, 10, 3, 1, 1, CLNET_PADDING_EXPLICIT, {2, 0, 1, 2}},
    {24, 16, 13, 12, 3, 1, 1, CLNET_PADDING_VALID, {0}},
};

static void conv_through_net(clnet_conv_algo algo, clnet_gemm_backend backend) {
    for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++) {
        const conv_case *cc = &conv_cases[i];
        clnet_conv2d_desc d = clnet_conv2d_defaults(cc->filters, cc->k);
        d.stride_h = d.stride_w = cc->stride;
        d.dilation_h = d.dilation_w = cc->dilation;
        d.padding = cc->padding;
        d.pad_top = cc->pads[0];
        d.pad_bottom = cc->pads[1];
        d.pad_left = cc->pads[2];
        d.pad_right = cc->pads[3];
        d.use_bias = i % 2 == 0;
        d.activation = i % 3 == 1 ? CLNET_ACT_RELU : CLNET_ACT_LINEAR;
        clnet_layer *layer;
        clnet_graph *g = single_layer_graph(cc->c, cc->h, cc->w, &layer, make_conv, &d);
        clnet_net_options o = clnet_net_options_default();
        o.conv_algo = algo;
        o.gemm_backend = backend;
        char what[128];
        snprintf(what, sizeof what, "conv case %zu (%s, %s)", i, clnet_conv_algo_name(algo),
                 clnet_gemm_backend_name(backend));
        check_graph(g, &o, 1, TOL_LAYER, what);
        check_graph(g, &o, 3, TOL_LAYER, what);
        if (algo == CLNET_CONV_WINOGRAD_2X2 || algo == CLNET_CONV_WINOGRAD_4X4) {
            /* Winograd where it applies (3x3, stride 1, dilation 1), another
             * algorithm elsewhere. */
            clnet_net *net;
            TEST_OK(clnet_net_create(test_context(), g, &o, &net));
            clnet_step_info info;
            TEST_OK(clnet_net_step_info(net, 0, &info));
            int applies = cc->k == 3 && cc->stride == 1 && cc->dilation == 1;
            if (applies != (strstr(info.kernel, clnet_conv_algo_name(algo)) != NULL))
                fail_msg("%s: step kernel '%s'", what, info.kernel);
            clnet_net_destroy(net);
        }
        clnet_graph_destroy(g);
    }
}

static void conv2d_direct_matches_reference(void **state) {
    (void)state;
    conv_through_net(CLNET_CONV_DIRECT, CLNET_GEMM_AUTO);
}

static void conv2d_im2col_gemm_matches_reference(void **state) {
    (void)state;
    conv_through_net(CLNET_CONV_IM2COL_GEMM, CLNET_GEMM_CLNET);
}

static void conv2d_winograd_2x2_matches_reference(void **state) {
    (void)state;
    conv_through_net(CLNET_CONV_WINOGRAD_2X2, CLNET_GEMM_CLNET);
}

static void conv2d_winograd_4x4_matches_reference(void **state) {
    (void)state;
    conv_through_net(CLNET_CONV_WINOGRAD_4X4, CLNET_GEMM_CLNET);
}

static void conv2d_auto_choice_matches_reference(void **state) {
    (void)state;
    conv_through_net(CLNET_CONV_AUTO, CLNET_GEMM_CLNET);
}

/* Conv -> BN -> ReLU, with folding and fusion on and off. */
static clnet_graph *conv_bn_relu_graph(int shared_twice) {
    clnet_graph *g;
    clnet_tensor x, y;
    clnet_layer *conv, *bn, *relu;
    TEST_OK(clnet_graph_create(&g));
    TEST_OK(clnet_graph_input(g, NULL, 5, 11, 9, &x));
    clnet_conv2d_desc d = clnet_conv2d_defaults(6, 3);
    TEST_OK(clnet_layer_conv2d(g, NULL, &d, &conv));
    TEST_OK(clnet_layer_batchnorm(g, NULL, 1e-3f, &bn));
    TEST_OK(clnet_layer_activation(g, NULL, CLNET_ACT_RELU, &relu));
    TEST_OK(clnet_layer_call1(conv, x, &y));
    TEST_OK(clnet_layer_call1(bn, y, &y));
    TEST_OK(clnet_layer_call1(relu, y, &y));
    if (shared_twice) {
        /* The same conv and BN applied again: shared weights, 6 -> 6
         * needs a second conv for the channel count, so use a 6-channel
         * conv twice. */
        clnet_layer *conv6;
        clnet_conv2d_desc d6 = clnet_conv2d_defaults(6, 3);
        TEST_OK(clnet_layer_conv2d(g, "shared", &d6, &conv6));
        TEST_OK(clnet_layer_call1(conv6, y, &y));
        TEST_OK(clnet_layer_call1(relu, y, &y));
        TEST_OK(clnet_layer_call1(conv6, y, &y));
    }
    TEST_OK(clnet_graph_set_outputs(g, &y, 1));
    randomize_weights(g, 5);
    return g;
}

static void folding_and_fusion_match_reference(void **state) {
    (void)state;
    for (int variant = 0; variant < 4; variant++) {
        clnet_graph *g = conv_bn_relu_graph(variant >= 2);
        clnet_net_options o = clnet_net_options_default();
        o.fold_batchnorm = variant % 2;
        o.fuse_activations = variant % 2;
        check_graph(g, &o, 2, TOL_LAYER, "conv-bn-relu");
        clnet_graph_destroy(g);
    }
}

static void folding_and_fusion_reduce_steps(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    clnet_graph *g = conv_bn_relu_graph(0);
    clnet_net *fused, *plain;
    clnet_net_options o = clnet_net_options_default();
    TEST_OK(clnet_net_create(ctx, g, &o, &fused));
    o.fold_batchnorm = o.fuse_activations = 0;
    TEST_OK(clnet_net_create(ctx, g, &o, &plain));
    assert_int_equal(clnet_net_step_count(fused), 1);
    assert_int_equal(clnet_net_step_count(plain), 3);
    clnet_step_info info;
    TEST_OK(clnet_net_step_info(fused, 0, &info));
    assert_string_equal(info.label, "conv2d+batch_normalization+activation");
    clnet_net_destroy(fused);
    clnet_net_destroy(plain);
    clnet_graph_destroy(g);
}

/* Graphs whose batch norms and residual adds fuse into convolutions.
 * Pre-activation: x -> batchnorm (or channel affine) -> [ReLU] -> conv. */
static clnet_graph *preact_graph(int k, int stride, int relu, int affine) {
    clnet_graph *g;
    clnet_tensor x, y;
    clnet_layer *norm, *act, *conv;
    TEST_OK(clnet_graph_create(&g));
    /* 17 channels: enough that AUTO unfolds patches for strided layers
     * rather than taking the direct kernel, which fuses nothing. */
    TEST_OK(clnet_graph_input(g, NULL, 17, 13, 11, &x));
    if (affine)
        TEST_OK(clnet_layer_channel_affine(g, NULL, &norm));
    else
        TEST_OK(clnet_layer_batchnorm(g, NULL, 1e-3f, &norm));
    TEST_OK(clnet_layer_call1(norm, x, &y));
    if (relu) {
        TEST_OK(clnet_layer_activation(g, NULL, CLNET_ACT_RELU, &act));
        TEST_OK(clnet_layer_call1(act, y, &y));
    }
    clnet_conv2d_desc d = clnet_conv2d_defaults(9, k);
    d.stride_h = d.stride_w = stride;
    TEST_OK(clnet_layer_conv2d(g, NULL, &d, &conv));
    TEST_OK(clnet_layer_call1(conv, y, &y));
    TEST_OK(clnet_graph_set_outputs(g, &y, 1));
    randomize_weights(g, 17);
    return g;
}

/* Residual: out = relu(x + bn(conv(x))), operands in either order, the
 * convolution k x k (stride 1, 'same'), optionally pre-activated itself
 * (ResNet v2: relu(bn(x)) feeds the convolution, x the sum, no final
 * ReLU). */
static clnet_graph *residual_graph(int k, int swap, int preact) {
    clnet_graph *g;
    clnet_tensor x, y, sum, pair[2];
    clnet_layer *conv, *bn, *add, *relu, *pre_bn;
    TEST_OK(clnet_graph_create(&g));
    TEST_OK(clnet_graph_input(g, NULL, 8, 12, 10, &x));
    y = x;
    TEST_OK(clnet_layer_activation(g, NULL, CLNET_ACT_RELU, &relu));
    if (preact) {
        TEST_OK(clnet_layer_batchnorm(g, NULL, 1e-3f, &pre_bn));
        TEST_OK(clnet_layer_call1(pre_bn, y, &y));
        TEST_OK(clnet_layer_call1(relu, y, &y));
    }
    clnet_conv2d_desc d = clnet_conv2d_defaults(8, k);
    TEST_OK(clnet_layer_conv2d(g, NULL, &d, &conv));
    TEST_OK(clnet_layer_batchnorm(g, NULL, 1e-3f, &bn));
    TEST_OK(clnet_layer_add(g, NULL, &add));
    TEST_OK(clnet_layer_call1(conv, y, &y));
    TEST_OK(clnet_layer_call1(bn, y, &y));
    pair[0] = swap ? y : x;
    pair[1] = swap ? x : y;
    TEST_OK(clnet_layer_call(add, pair, 2, &sum));
    if (!preact)
        TEST_OK(clnet_layer_call1(relu, sum, &sum));
    TEST_OK(clnet_graph_set_outputs(g, &sum, 1));
    randomize_weights(g, 23);
    return g;
}

/* A projection block: relu(conv3x3/2(x) + conv1x1/2(x)). The second
 * convolution runs last, so the sum fuses into it with the first one's
 * result as the residual. */
static clnet_graph *projection_graph(void) {
    clnet_graph *g;
    clnet_tensor x, a, b, sum, pair[2];
    clnet_layer *c3, *c1, *add, *relu;
    TEST_OK(clnet_graph_create(&g));
    TEST_OK(clnet_graph_input(g, NULL, 17, 15, 13, &x));
    clnet_conv2d_desc d3 = clnet_conv2d_defaults(10, 3), d1 = clnet_conv2d_defaults(10, 1);
    d3.stride_h = d3.stride_w = d1.stride_h = d1.stride_w = 2;
    TEST_OK(clnet_layer_conv2d(g, NULL, &d3, &c3));
    TEST_OK(clnet_layer_conv2d(g, NULL, &d1, &c1));
    TEST_OK(clnet_layer_add(g, NULL, &add));
    TEST_OK(clnet_layer_activation(g, NULL, CLNET_ACT_RELU, &relu));
    TEST_OK(clnet_layer_call1(c3, x, &a));
    TEST_OK(clnet_layer_call1(c1, x, &b));
    pair[0] = a;
    pair[1] = b;
    TEST_OK(clnet_layer_call(add, pair, 2, &sum));
    TEST_OK(clnet_layer_call1(relu, sum, &sum));
    TEST_OK(clnet_graph_set_outputs(g, &sum, 1));
    randomize_weights(g, 29);
    return g;
}

/* What must not fuse: a normalised tensor read by two convolutions, and a
 * convolution whose ReLU comes before the sum. */
static clnet_graph *unfusable_graph(void) {
    clnet_graph *g;
    clnet_tensor x, y, a, b, sum, pair[2];
    clnet_layer *bn, *relu, *ca, *cb, *add;
    TEST_OK(clnet_graph_create(&g));
    TEST_OK(clnet_graph_input(g, NULL, 5, 9, 9, &x));
    TEST_OK(clnet_layer_batchnorm(g, NULL, 1e-3f, &bn));
    TEST_OK(clnet_layer_activation(g, NULL, CLNET_ACT_RELU, &relu));
    clnet_conv2d_desc d = clnet_conv2d_defaults(5, 3);
    d.activation = CLNET_ACT_RELU;
    TEST_OK(clnet_layer_conv2d(g, NULL, &d, &ca));
    clnet_conv2d_desc d1 = clnet_conv2d_defaults(5, 1);
    TEST_OK(clnet_layer_conv2d(g, NULL, &d1, &cb));
    TEST_OK(clnet_layer_add(g, NULL, &add));
    TEST_OK(clnet_layer_call1(bn, x, &y));
    TEST_OK(clnet_layer_call1(relu, y, &y));
    TEST_OK(clnet_layer_call1(ca, y, &a));
    TEST_OK(clnet_layer_call1(cb, y, &b));
    /* b is written last, but a (with its ReLU) is complete by then: the
     * sum can still fuse into cb. */
    pair[0] = a;
    pair[1] = b;
    TEST_OK(clnet_layer_call(add, pair, 2, &sum));
    TEST_OK(clnet_graph_set_outputs(g, &sum, 1));
    randomize_weights(g, 31);
    return g;
}

static int step_count(clnet_graph *g, const clnet_net_options *o) {
    clnet_net *net;
    TEST_OK(clnet_net_create(test_context(), g, o, &net));
    int n = clnet_net_step_count(net);
    clnet_net_destroy(net);
    return n;
}

/* Runs g fused and unfused under an algorithm and backend: both match the
 * reference, and fusion leaves `fused_steps` steps where the algorithm
 * takes every part of the fusion, more (up to the unfused count) where it
 * takes some: CLBlast cannot run a prologue. */
static void check_fusion(clnet_graph *g, const char *name, clnet_conv_algo algo,
                         clnet_gemm_backend backend, int fused_steps, int unfused_steps) {
    char what[160];
    snprintf(what, sizeof what, "%s (%s, %s)", name, clnet_conv_algo_name(algo),
             clnet_gemm_backend_name(backend));
    clnet_net_options o = clnet_net_options_default();
    o.conv_algo = algo;
    o.gemm_backend = backend;
    check_graph(g, &o, 1, TOL_LAYER, what);
    check_graph(g, &o, 3, TOL_LAYER, what);
    int fused = step_count(g, &o);
    o.fuse_into_conv = 0;
    check_graph(g, &o, 2, TOL_LAYER, what);
    int plain = step_count(g, &o);
    if (plain != unfused_steps || fused < fused_steps || fused > unfused_steps)
        fail_msg("%s: %d steps fused, %d unfused; expected %d and %d", what, fused, plain,
                 fused_steps, unfused_steps);
    /* The direct kernel fuses nothing; every other algorithm on the
     * device's own GEMM takes both parts. */
    if (algo == CLNET_CONV_DIRECT && fused != unfused_steps)
        fail_msg("%s: the direct kernel fused (%d steps)", what, fused);
    if (algo != CLNET_CONV_DIRECT && backend == CLNET_GEMM_CLNET && fused != fused_steps)
        fail_msg("%s: %d steps where fusion leaves %d", what, fused, fused_steps);
}

static void batchnorm_prologue_matches_reference(void **state) {
    (void)state;
    static const clnet_conv_algo algos[] = {CLNET_CONV_AUTO, CLNET_CONV_IM2COL_GEMM,
                                            CLNET_CONV_WINOGRAD_2X2, CLNET_CONV_DIRECT};
    static const struct { int k, stride, relu, affine; } cases[] = {
        {1, 1, 1, 0}, {1, 1, 0, 0}, {1, 2, 1, 0}, {3, 1, 1, 0}, {3, 1, 0, 1}, {3, 2, 1, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        clnet_graph *g = preact_graph(cases[c].k, cases[c].stride, cases[c].relu, cases[c].affine);
        char name[96];
        snprintf(name, sizeof name, "%s%s -> %dx%d/%d conv", cases[c].affine ? "affine" : "bn",
                 cases[c].relu ? "+relu" : "", cases[c].k, cases[c].k, cases[c].stride);
        for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++)
            check_fusion(g, name, algos[a], CLNET_GEMM_CLNET, 1, 2);
        check_fusion(g, name, CLNET_CONV_AUTO, CLNET_GEMM_CLBLAST, 1, 2);
        clnet_graph_destroy(g);
    }
}

static void residual_epilogue_matches_reference(void **state) {
    (void)state;
    static const clnet_conv_algo algos[] = {CLNET_CONV_AUTO, CLNET_CONV_IM2COL_GEMM,
                                            CLNET_CONV_WINOGRAD_4X4, CLNET_CONV_DIRECT};
    for (int k = 1; k <= 3; k += 2)
        for (int swap = 0; swap < 2; swap++)
            for (int preact = 0; preact < 2; preact++) {
                clnet_graph *g = residual_graph(k, swap, preact);
                char name[96];
                snprintf(name, sizeof name, "%s residual %dx%d%s", preact ? "v2" : "v1", k, k,
                         swap ? " (swapped)" : "");
                /* Unfused: [bn+relu,] conv+bn, add+relu (v1) or add (v2). */
                int unfused = preact ? 3 : 2;
                for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++)
                    check_fusion(g, name, algos[a], CLNET_GEMM_CLNET, 1, unfused);
                for (size_t a = 0; a < 2; a++)
                    check_fusion(g, name, algos[a], CLNET_GEMM_CLBLAST, 1, unfused);
                clnet_graph_destroy(g);
            }
    clnet_graph *g = projection_graph();
    check_fusion(g, "projection", CLNET_CONV_AUTO, CLNET_GEMM_CLNET, 2, 3);
    check_fusion(g, "projection", CLNET_CONV_AUTO, CLNET_GEMM_CLBLAST, 2, 3);
    clnet_graph_destroy(g);
}

static void fusion_leaves_shared_tensors_alone(void **state) {
    (void)state;
    clnet_graph *g = unfusable_graph();
    /* bn+relu stays (two readers); the sum fuses into the 1x1 conv. */
    check_fusion(g, "shared bn, conv+relu before add", CLNET_CONV_AUTO, CLNET_GEMM_CLNET, 3, 4);
    clnet_net *net;
    TEST_OK(clnet_net_create(test_context(), g, NULL, &net));
    clnet_step_info info;
    TEST_OK(clnet_net_step_info(net, 0, &info));
    assert_string_equal(info.kernel, "batchnorm+relu");
    TEST_OK(clnet_net_step_info(net, 2, &info));
    assert_non_null(strstr(info.kernel, "+add"));
    clnet_net_destroy(net);
    clnet_graph_destroy(g);
}

/* An average pooling after a linear 1x1 convolution (with folded batch
 * norm) runs first, on the convolution's input; with a ReLU in between it
 * cannot. Windows with padding (excluded from the count) and without. */
static void pooling_moves_before_linear_1x1_convolutions(void **state) {
    (void)state;
    for (int variant = 0; variant < 3; variant++) {
        clnet_graph *g;
        clnet_tensor x, y;
        clnet_layer *conv, *bn, *pool;
        TEST_OK(clnet_graph_create(&g));
        TEST_OK(clnet_graph_input(g, NULL, 11, 15, 14, &x));
        clnet_conv2d_desc d = clnet_conv2d_defaults(7, 1);
        TEST_OK(clnet_layer_conv2d(g, NULL, &d, &conv));
        TEST_OK(clnet_layer_batchnorm(g, NULL, 1e-3f, &bn));
        clnet_pool2d_desc pd = clnet_pool2d_defaults(variant == 1 ? 3 : 2);
        if (variant == 1)
            pd.padding = CLNET_PADDING_SAME;
        TEST_OK(clnet_layer_avgpool(g, NULL, &pd, &pool));
        TEST_OK(clnet_layer_call1(conv, x, &y));
        TEST_OK(clnet_layer_call1(bn, y, &y));
        if (variant == 2) {
            clnet_layer *relu;
            TEST_OK(clnet_layer_activation(g, NULL, CLNET_ACT_RELU, &relu));
            TEST_OK(clnet_layer_call1(relu, y, &y));
        }
        TEST_OK(clnet_layer_call1(pool, y, &y));
        TEST_OK(clnet_graph_set_outputs(g, &y, 1));
        randomize_weights(g, 37);
        check_graph(g, NULL, 1, TOL_LAYER, "avgpool after a 1x1 convolution");
        check_graph(g, NULL, 3, TOL_LAYER, "avgpool after a 1x1 convolution");
        clnet_net *net;
        TEST_OK(clnet_net_create(test_context(), g, NULL, &net));
        clnet_step_info info;
        TEST_OK(clnet_net_step_info(net, 0, &info));
        assert_int_equal(clnet_net_step_count(net), 2);
        if (variant < 2)
            assert_string_equal(info.kernel, "pool2d");
        else
            assert_non_null(strstr(info.kernel, "conv2d"));
        clnet_net_destroy(net);
        clnet_graph_destroy(g);
    }
}

static void shared_layer_matches_reference(void **state) {
    (void)state;
    clnet_graph *g = conv_bn_relu_graph(1);
    check_graph(g, NULL, 3, TOL_LAYER, "shared conv");
    clnet_graph_destroy(g);
}

/* Two inputs, two outputs, every remaining op: batchnorm alone, add,
 * concat, pools, global pooling, flatten, dense, softmax, dropout. */
static clnet_graph *all_ops_graph(void) {
    clnet_graph *g;
    clnet_tensor a, b, t, u, v, cat, flat, logits, prob, pooled;
    clnet_layer *l;
    TEST_OK(clnet_graph_create(&g));
    TEST_OK(clnet_graph_input(g, "left", 3, 13, 13, &a));
    TEST_OK(clnet_graph_input(g, "right", 3, 13, 13, &b));

    clnet_conv2d_desc d = clnet_conv2d_defaults(7, 3);
    TEST_OK(clnet_layer_conv2d(g, NULL, &d, &l));
    TEST_OK(clnet_layer_call1(l, a, &t));
    TEST_OK(clnet_layer_batchnorm(g, NULL, 1e-5f, &l));
    TEST_OK(clnet_layer_call1(l, b, &u)); /* BN straight on an input: not foldable */
    clnet_conv2d_desc d2 = clnet_conv2d_defaults(7, 1);
    TEST_OK(clnet_layer_conv2d(g, NULL, &d2, &l));
    TEST_OK(clnet_layer_call1(l, u, &u));
    clnet_tensor pair[2] = {t, u};
    TEST_OK(clnet_layer_add(g, NULL, &l));
    TEST_OK(clnet_layer_call(l, pair, 2, &v));
    TEST_OK(clnet_layer_activation(g, NULL, CLNET_ACT_RELU, &l));
    TEST_OK(clnet_layer_call1(l, v, &v));
    clnet_tensor three[3] = {v, t, b}; /* t is read twice; b is a graph input */
    TEST_OK(clnet_layer_concat(g, NULL, &l));
    TEST_OK(clnet_layer_call(l, three, 3, &cat));
    clnet_pool2d_desc mp = clnet_pool2d_defaults(2);
    TEST_OK(clnet_layer_maxpool(g, NULL, &mp, &l));
    TEST_OK(clnet_layer_call1(l, cat, &t));
    clnet_pool2d_desc ap = clnet_pool2d_defaults(3);
    ap.stride_h = ap.stride_w = 2;
    ap.padding = CLNET_PADDING_SAME;
    TEST_OK(clnet_layer_avgpool(g, NULL, &ap, &l));
    TEST_OK(clnet_layer_call1(l, t, &t));
    TEST_OK(clnet_layer_dropout(g, NULL, 0.4f, &l));
    TEST_OK(clnet_layer_call1(l, t, &t));
    TEST_OK(clnet_layer_flatten(g, NULL, &l));
    TEST_OK(clnet_layer_call1(l, t, &flat));
    clnet_dense_desc dd = {11, 1, CLNET_ACT_LINEAR, CLNET_INIT_GLOROT_UNIFORM};
    TEST_OK(clnet_layer_dense(g, NULL, &dd, &l));
    TEST_OK(clnet_layer_call1(l, flat, &logits));
    TEST_OK(clnet_layer_softmax(g, NULL, &l));
    TEST_OK(clnet_layer_call1(l, logits, &prob));
    TEST_OK(clnet_layer_global_avgpool(g, NULL, &l));
    TEST_OK(clnet_layer_call1(l, cat, &pooled));
    clnet_tensor outs[3] = {prob, pooled, logits};
    TEST_OK(clnet_graph_set_outputs(g, outs, 3));
    randomize_weights(g, 77);
    return g;
}

static void every_op_with_two_inputs_and_outputs_matches_reference(void **state) {
    (void)state;
    clnet_graph *g = all_ops_graph();
    check_graph(g, NULL, 1, TOL_LAYER, "all ops");
    check_graph(g, NULL, 3, TOL_LAYER, "all ops");
    clnet_net_options o = clnet_net_options_default();
    o.concat_in_place = 0;
    o.reuse_memory = 0;
    check_graph(g, &o, 2, TOL_LAYER, "all ops, copies, no reuse");
    clnet_graph_destroy(g);
}

/* The ops importers map other frameworks' graphs onto: pad, slice,
 * multiply, subtract, per-channel affine, clip and sigmoid, mixed with
 * concatenation and fusion. */
static clnet_graph *import_ops_graph(void) {
    clnet_graph *g;
    clnet_tensor x, a, b, c, d, y, pair[2], three[3];
    clnet_layer *l;
    TEST_OK(clnet_graph_create(&g));
    TEST_OK(clnet_graph_input(g, NULL, 6, 13, 11, &x));
    clnet_slice_desc sd = clnet_slice_defaults();
    sd.step[1] = sd.step[2] = 2; /* x[:, :, ::2, ::2], PyTorch's option-A shortcut */
    TEST_OK(clnet_layer_slice(g, NULL, &sd, &l));
    TEST_OK(clnet_layer_call1(l, x, &a));
    clnet_pad_desc pd = {0, 0, 0, 0, 3, 2, 0.0f};
    TEST_OK(clnet_layer_pad(g, NULL, &pd, &l));
    TEST_OK(clnet_layer_call1(l, a, &a)); /* 11 x 7 x 6 */
    clnet_conv2d_desc cd = clnet_conv2d_defaults(11, 3);
    cd.stride_h = cd.stride_w = 2;
    cd.activation = CLNET_ACT_SIGMOID;
    TEST_OK(clnet_layer_conv2d(g, NULL, &cd, &l));
    TEST_OK(clnet_layer_call1(l, x, &b)); /* 11 x 7 x 6 */
    pair[0] = a;
    pair[1] = b;
    TEST_OK(clnet_layer_multiply(g, NULL, &l));
    TEST_OK(clnet_layer_call(l, pair, 2, &c));
    TEST_OK(clnet_layer_subtract(g, NULL, &l));
    TEST_OK(clnet_layer_call(l, pair, 2, &d));
    TEST_OK(clnet_layer_activation(g, NULL, CLNET_ACT_RELU, &l));
    TEST_OK(clnet_layer_call1(l, d, &d)); /* fused into the subtraction */
    TEST_OK(clnet_layer_channel_affine(g, NULL, &l));
    TEST_OK(clnet_layer_call1(l, c, &c));
    TEST_OK(clnet_layer_clip(g, NULL, -0.25f, 0.3f, &l));
    TEST_OK(clnet_layer_call1(l, c, &c));
    three[0] = c;
    three[1] = d;
    three[2] = a;
    TEST_OK(clnet_layer_multiply(g, NULL, &l));
    TEST_OK(clnet_layer_call(l, three, 3, &y));
    pd = (clnet_pad_desc){1, 2, 0, 1, 0, 0, -0.5f};
    TEST_OK(clnet_layer_pad(g, NULL, &pd, &l));
    TEST_OK(clnet_layer_call1(l, y, &y));
    TEST_OK(clnet_layer_activation(g, NULL, CLNET_ACT_SIGMOID, &l));
    TEST_OK(clnet_layer_call1(l, y, &y));
    pair[0] = y;
    TEST_OK(clnet_layer_global_avgpool(g, NULL, &l));
    TEST_OK(clnet_layer_call1(l, b, &pair[1]));
    TEST_OK(clnet_layer_channel_affine(g, NULL, &l));
    TEST_OK(clnet_layer_call1(l, pair[1], &pair[1])); /* on a flat tensor */
    TEST_OK(clnet_graph_set_outputs(g, pair, 2));
    randomize_weights(g, 21);
    return g;
}

static void import_ops_match_reference(void **state) {
    (void)state;
    clnet_graph *g = import_ops_graph();
    check_graph(g, NULL, 1, TOL_LAYER, "import ops");
    check_graph(g, NULL, 3, TOL_LAYER, "import ops");
    clnet_net_options o = clnet_net_options_default();
    o.fuse_activations = 0;
    o.reuse_memory = 0;
    check_graph(g, &o, 2, TOL_LAYER, "import ops, unfused");
    clnet_graph_destroy(g);
}

/* DenseNet-style nested concatenations, written in place. */
static void nested_concat_in_place_matches_reference(void **state) {
    (void)state;
    clnet_graph *g;
    clnet_tensor x, y;
    clnet_layer *l;
    TEST_OK(clnet_graph_create(&g));
    TEST_OK(clnet_graph_input(g, NULL, 3, 9, 9, &x));
    clnet_conv2d_desc stem = clnet_conv2d_defaults(6, 3);
    TEST_OK(clnet_layer_conv2d(g, NULL, &stem, &l));
    TEST_OK(clnet_layer_call1(l, x, &x));
    for (int i = 0; i < 4; i++) {
        clnet_layer *bn, *relu, *conv, *cat;
        clnet_conv2d_desc d = clnet_conv2d_defaults(5, 3);
        TEST_OK(clnet_layer_batchnorm(g, NULL, 1e-3f, &bn));
        TEST_OK(clnet_layer_activation(g, NULL, CLNET_ACT_RELU, &relu));
        TEST_OK(clnet_layer_conv2d(g, NULL, &d, &conv));
        TEST_OK(clnet_layer_concat(g, NULL, &cat));
        TEST_OK(clnet_layer_call1(bn, x, &y));
        TEST_OK(clnet_layer_call1(relu, y, &y));
        TEST_OK(clnet_layer_call1(conv, y, &y));
        clnet_tensor pair[2] = {x, y};
        TEST_OK(clnet_layer_call(cat, pair, 2, &x));
    }
    TEST_OK(clnet_graph_set_outputs(g, &x, 1));
    randomize_weights(g, 3);
    check_graph(g, NULL, 2, TOL_LAYER, "nested concat");

    /* In place, the concatenations need no copy steps. */
    clnet_net *net;
    TEST_OK(clnet_net_create(test_context(), g, NULL, &net));
    for (int i = 0; i < clnet_net_step_count(net); i++) {
        clnet_step_info info;
        TEST_OK(clnet_net_step_info(net, i, &info));
        assert_string_not_equal(info.kernel, "copy");
    }
    clnet_net_destroy(net);
    clnet_graph_destroy(g);
}

static void batch_size_changes_between_runs(void **state) {
    (void)state;
    clnet_graph *g = all_ops_graph();
    clnet_context *ctx = test_context();
    clnet_net *net;
    clnet_net_options o = clnet_net_options_default();
    o.poison_activations = 1;
    TEST_OK(clnet_net_create(ctx, g, &o, &net));
    const int batches[] = {2, 5, 1, 3};
    test_rng rng = {8};
    for (size_t k = 0; k < 4; k++) {
        int n = batches[k];
        float *in[2], *out[3], *ref[3];
        size_t out_size[3] = {11, 0, 11};
        clnet_shape s;
        TEST_OK(clnet_tensor_shape(g, clnet_graph_output_at(g, 1), &s));
        out_size[1] = clnet_shape_size(s);
        for (int i = 0; i < 2; i++) {
            in[i] = test_alloc(3 * 13 * 13 * (size_t)n);
            test_fill_uniform(&rng, in[i], 3 * 13 * 13 * (size_t)n, -1, 1);
        }
        for (int i = 0; i < 3; i++) {
            out[i] = test_alloc_poisoned(out_size[i] * n);
            ref[i] = test_alloc(out_size[i] * n);
        }
        TEST_OK(clnet_net_run(net, n, (const float *const *)in, out));
        TEST_OK(clnet_graph_run_reference(g, n, (const float *const *)in, ref));
        for (int i = 0; i < 3; i++) {
            test_assert_close("changing batch", ref[i], out[i], out_size[i] * n, TOL_LAYER);
            free(out[i]);
            free(ref[i]);
        }
        free(in[0]);
        free(in[1]);
    }
    clnet_net_destroy(net);
    clnet_graph_destroy(g);
}

/* A batch larger than the pass size runs pass by pass over one pass's
 * arena: every image of every output must match the reference, the last
 * pass shorter than the others included. */
static void batch_runs_in_passes(void **state) {
    (void)state;
    clnet_graph *g = all_ops_graph();
    clnet_net_options o = clnet_net_options_default();
    o.batch_chunk = 2;
    check_graph(g, &o, 5, TOL_LAYER, "all ops in passes of 2");
    clnet_net *net;
    TEST_OK(clnet_net_create(test_context(), g, &o, &net));
    assert_int_equal(clnet_net_pass_images(net, 5), 2);
    assert_int_equal(clnet_net_pass_images(net, 1), 1);
    assert_int_equal(clnet_net_pass_images(NULL, 5), 0);
    clnet_memory_report m2, m5;
    TEST_OK(clnet_net_memory(net, 2, &m2));
    TEST_OK(clnet_net_memory(net, 5, &m5));
    assert_true(m5.activation_bytes == m2.activation_bytes);
    clnet_net_destroy(net);
    clnet_graph_destroy(g);

    /* A whole network whose last pass of one image takes the small-batch
     * Winograd filters. */
    TEST_OK(clnet_model_builtin("resnet20v1", 7, &g));
    test_rng rng = {77};
    test_randomize_non_kernels(g, &rng);
    TEST_OK(clnet_graph_strip_final_softmax(g, NULL));
    o.batch_chunk = 2;
    check_graph(g, &o, 3, TOL_NETWORK, "resnet20v1 in passes of 2");

    /* The device's choice: passes of 32 images of ResNet-20 (0.2 MiB
     * each) on CPUs, the whole batch elsewhere, unless its activations
     * would pass the kernels' 2^31-float indexing: ResNet-20 keeps 48K
     * floats per image, so 2^31 floats hold fewer than 45,000 images. */
    TEST_OK(clnet_net_create(test_context(), g, NULL, &net));
    int cpu = clnet_context_device(test_context())->type == CLNET_DEVICE_TYPE_CPU;
    assert_int_equal(clnet_net_pass_images(net, 20), 20);
    assert_int_equal(clnet_net_pass_images(net, 256), cpu ? 32 : 256);
    int pass = clnet_net_pass_images(net, 1000000);
    assert_true(pass >= 1 && pass < 45000);
    clnet_memory_report m;
    TEST_OK(clnet_net_memory(net, 1000000, &m));
    assert_true(m.activation_bytes / sizeof(float) < 2147483648u);
    clnet_net_destroy(net);

    o.batch_chunk = -1;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "batch_chunk",
               clnet_net_create(test_context(), g, &o, &net));
    clnet_graph_destroy(g);
}

static void memory_reuse_shrinks_the_plan(void **state) {
    (void)state;
    clnet_graph *g;
    TEST_OK(clnet_model_builtin("resnet20v1", 1, &g));
    clnet_net *net;
    TEST_OK(clnet_net_create(test_context(), g, NULL, &net));
    clnet_memory_report m1, m32;
    TEST_OK(clnet_net_memory(net, 1, &m1));
    TEST_OK(clnet_net_memory(net, 32, &m32));
    assert_true(m1.activation_bytes > 0);
    assert_true(m1.activation_bytes * 3 < m1.activation_bytes_without_reuse);
    assert_true(m32.activation_bytes == 32 * m1.activation_bytes);
    /* Folded weights: everything but the BN statistics, which fold away. */
    assert_true(m1.weight_bytes > 200000 * sizeof(float));
    clnet_net_destroy(net);
    clnet_graph_destroy(g);
}

/* The step that runs a convolution adding the residual tensor `residual`. */
static const clnet_step *residual_step(const clnet_net *net, clnet_tensor residual) {
    for (int s = 0; s < net->n_steps; s++)
        if (net->steps[s].kind == CLNET_STEP_CONV2D && net->steps[s].n_in == 2 &&
            net->steps[s].in[1] == residual.id)
            return &net->steps[s];
    fail_msg("no convolution step adds tensor %d", residual.id);
    return NULL;
}

/* A convolution whose residual is read for the last time there writes its
 * result over the residual's memory; not when the residual is read later,
 * nor when it is also the convolution's input. Every variant matches the
 * reference, activations poisoned first. */
static void dying_residual_is_overwritten_in_place(void **state) {
    (void)state;
    clnet_graph *g;
    clnet_tensor x, t1, s1, s2, s3, t2, s4, y;
    clnet_layer *a, *b, *c, *d, *e, *add1, *add2, *add3, *add4, *relu1, *relu2;
    TEST_OK(clnet_graph_create(&g));
    TEST_OK(clnet_graph_input(g, "x", 5, 7, 6, &x));
    clnet_conv2d_desc k3 = clnet_conv2d_defaults(5, 3), k1 = clnet_conv2d_defaults(5, 1);
    TEST_OK(clnet_layer_conv2d(g, "a", &k3, &a));
    TEST_OK(clnet_layer_conv2d(g, "b", &k1, &b));
    TEST_OK(clnet_layer_conv2d(g, "c", &k1, &c));
    TEST_OK(clnet_layer_conv2d(g, "d", &k3, &d));
    TEST_OK(clnet_layer_conv2d(g, "e", &k3, &e));
    TEST_OK(clnet_layer_add(g, "add1", &add1));
    TEST_OK(clnet_layer_add(g, "add2", &add2));
    TEST_OK(clnet_layer_add(g, "add3", &add3));
    TEST_OK(clnet_layer_add(g, "add4", &add4));
    TEST_OK(clnet_layer_activation(g, "relu1", CLNET_ACT_RELU, &relu1));
    TEST_OK(clnet_layer_activation(g, "relu2", CLNET_ACT_RELU, &relu2));
    TEST_OK(clnet_layer_call1(a, x, &t1));
    TEST_OK(clnet_layer_call1(relu1, t1, &t1));
    TEST_OK(clnet_layer_call1(b, t1, &y));
    clnet_tensor p1[2] = {y, x}; /* x is read again below */
    TEST_OK(clnet_layer_call(add1, p1, 2, &s1));
    clnet_tensor p2[2] = {s1, x};
    TEST_OK(clnet_layer_call(add2, p2, 2, &s2));
    TEST_OK(clnet_layer_call1(c, s2, &y));
    clnet_tensor p3[2] = {y, s2}; /* s2 is also c's input */
    TEST_OK(clnet_layer_call(add3, p3, 2, &s3));
    TEST_OK(clnet_layer_call1(d, s3, &t2));
    TEST_OK(clnet_layer_call1(relu2, t2, &t2));
    TEST_OK(clnet_layer_call1(e, t2, &y));
    clnet_tensor p4[2] = {y, s3}; /* s3 dies here */
    TEST_OK(clnet_layer_call(add4, p4, 2, &s4));
    TEST_OK(clnet_graph_set_outputs(g, &s4, 1));
    randomize_weights(g, 77);

    const clnet_conv_algo algos[] = {CLNET_CONV_AUTO, CLNET_CONV_IM2COL_GEMM};
    for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++) {
        clnet_net_options o = clnet_net_options_default();
        o.conv_algo = algos[i];
        clnet_net *net;
        TEST_OK(clnet_net_create(test_context(), g, &o, &net));
        const clnet_step *sb = residual_step(net, x), *sc = residual_step(net, s2);
        const clnet_step *se = residual_step(net, s3);
        assert_int_not_equal(net->placement[sb->out].region, net->placement[x.id].region);
        assert_int_not_equal(net->placement[sc->out].region, net->placement[s2.id].region);
        assert_int_equal(net->placement[se->out].region, net->placement[s3.id].region);
        clnet_net_destroy(net);
        check_graph(g, &o, 1, TOL_NETWORK, "residual in place");
        check_graph(g, &o, 3, TOL_NETWORK, "residual in place");
    }
    /* Without memory reuse nothing is shared. */
    clnet_net_options o = clnet_net_options_default();
    o.reuse_memory = 0;
    clnet_net *net;
    TEST_OK(clnet_net_create(test_context(), g, &o, &net));
    const clnet_step *se = residual_step(net, s3);
    assert_int_not_equal(net->placement[se->out].region, net->placement[s3.id].region);
    clnet_net_destroy(net);
    check_graph(g, &o, 2, TOL_NETWORK, "residual, no reuse");
    clnet_graph_destroy(g);
}

static void run_rejects_bad_arguments(void **state) {
    (void)state;
    clnet_graph *g = conv_bn_relu_graph(0);
    clnet_net *net;
    TEST_OK(clnet_net_create(test_context(), g, NULL, &net));
    float in[5 * 11 * 9], out[6 * 11 * 9];
    const float *ins[1] = {in};
    float *outs[1] = {out};
    const float *no_ins[1] = {NULL};
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "batch", clnet_net_run(net, 0, ins, outs));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "input 0", clnet_net_run(net, 1, no_ins, outs));
    clnet_net_destroy(net);

    clnet_graph *empty;
    TEST_OK(clnet_graph_create(&empty));
    clnet_tensor x;
    TEST_OK(clnet_graph_input(empty, NULL, 1, 2, 2, &x));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "no outputs",
               clnet_net_create(test_context(), empty, NULL, &net));
    clnet_graph_destroy(empty);
    clnet_graph_destroy(g);
}

/* Every built-in network, end to end, with random weights and BN
 * statistics, against the reference. Logits are compared: with random
 * weights the final softmax saturates to one-hot vectors, which would hide
 * differences. */
static void check_builtin(const char *name, int batch) {
    clnet_graph *g;
    TEST_OK(clnet_model_builtin(name, 42, &g));
    test_rng rng = {42 + strlen(name)};
    test_randomize_non_kernels(g, &rng);
    int removed = 0;
    TEST_OK(clnet_graph_strip_final_softmax(g, &removed));
    assert_int_equal(removed, 1);
    check_graph(g, NULL, batch, TOL_NETWORK, name);
    clnet_graph_destroy(g);
}

static void resnet_v1_networks_match_reference(void **state) {
    (void)state;
    check_builtin("resnet20v1", 3);
    check_builtin("resnet32v1", 1);
    check_builtin("resnet44v1", 1);
    check_builtin("resnet56v1", 1);
    check_builtin("resnet110v1", 1);
}

static void resnet_v2_networks_match_reference(void **state) {
    (void)state;
    check_builtin("resnet20v2", 3);
    check_builtin("resnet56v2", 1);
    check_builtin("resnet110v2", 1);
}

static void densenet_and_ynet_match_reference(void **state) {
    (void)state;
    check_builtin("densenet100", 2);
    check_builtin("densenet40k24", 1);
    check_builtin("ynet", 3);
}

static void builtin_network_with_softmax_matches_reference(void **state) {
    (void)state;
    clnet_graph *g;
    TEST_OK(clnet_model_builtin("resnet20v1", 7, &g));
    check_graph(g, NULL, 3, TOL_NETWORK, "resnet20v1 with softmax");
    clnet_graph_destroy(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv2d_direct_matches_reference),
        cmocka_unit_test(conv2d_im2col_gemm_matches_reference),
        cmocka_unit_test(conv2d_winograd_2x2_matches_reference),
        cmocka_unit_test(conv2d_winograd_4x4_matches_reference),
        cmocka_unit_test(conv2d_auto_choice_matches_reference),
        cmocka_unit_test(folding_and_fusion_match_reference),
        cmocka_unit_test(folding_and_fusion_reduce_steps),
        cmocka_unit_test(batchnorm_prologue_matches_reference),
        cmocka_unit_test(residual_epilogue_matches_reference),
        cmocka_unit_test(fusion_leaves_shared_tensors_alone),
        cmocka_unit_test(pooling_moves_before_linear_1x1_convolutions),
        cmocka_unit_test(shared_layer_matches_reference),
        cmocka_unit_test(every_op_with_two_inputs_and_outputs_matches_reference),
        cmocka_unit_test(import_ops_match_reference),
        cmocka_unit_test(nested_concat_in_place_matches_reference),
        cmocka_unit_test(batch_size_changes_between_runs),
        cmocka_unit_test(batch_runs_in_passes),
        cmocka_unit_test(memory_reuse_shrinks_the_plan),
        cmocka_unit_test(run_rejects_bad_arguments),
        cmocka_unit_test(resnet_v1_networks_match_reference),
        cmocka_unit_test(resnet_v2_networks_match_reference),
        cmocka_unit_test(densenet_and_ynet_match_reference),
        cmocka_unit_test(builtin_network_with_softmax_matches_reference),
        cmocka_unit_test(dying_residual_is_overwritten_in_place),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    test_context_release();
    return failed;
}
