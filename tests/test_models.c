/* The built-in networks against the figures of MODELS.md: parameter counts, multiply-accumulates,
 * shapes, Keras layer names and padding, weight initialisation, and argument errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "graph.h" /* node geometry and layer weights */

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

static clnet_graph *resnet(int version, int depth) {
    clnet_graph *g = NULL;
    if (version == 1)
        TEST_OK(clnet_model_resnet_v1(depth, 3, 32, 32, 10, &g));
    else
        TEST_OK(clnet_model_resnet_v2(depth, 3, 32, 32, 10, &g));
    return g;
}

static clnet_densenet_desc densenet_bc(int depth, int growth_rate) {
    clnet_densenet_desc d = {depth, growth_rate, 3, 0.5f, 10, 3, 32, 32};
    return d;
}

static clnet_graph *densenet(int depth, int growth_rate) {
    clnet_densenet_desc d = densenet_bc(depth, growth_rate);
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_densenet(&d, &g));
    return g;
}

static int node_count_of(const clnet_graph *g, clnet_op op) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += g->nodes[i].op == op;
    return n;
}

/* The node of the index-th call of an op in graph order. */
static const clnet_node *nth_node(const clnet_graph *g, clnet_op op, int index) {
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == op && index-- == 0)
            return &g->nodes[i];
    fail_msg("the graph has no %s node number %d", clnet_op_name(op), index);
    return NULL;
}

static const clnet_node *node_of_layer(const clnet_graph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].layer && strcmp(g->nodes[i].layer->name, name) == 0)
            return &g->nodes[i];
    fail_msg("the graph has no layer named '%s'", name);
    return NULL;
}

static void assert_shape(clnet_shape s, int rank, int c, int h, int w) {
    if (s.rank != rank || s.c != c || s.h != h || s.w != w)
        fail_msg("shape is rank %d (%d, %d, %d), expected rank %d (%d, %d, %d)", s.rank, s.c, s.h,
                 s.w, rank, c, h, w);
}

static void assert_output_is_classes(const clnet_graph *g, int classes) {
    assert_int_equal(clnet_graph_output_count(g), 1);
    clnet_shape s;
    TEST_OK(clnet_tensor_shape(g, clnet_graph_output_at(g, 0), &s));
    assert_shape(s, 1, classes, 1, 1);
}

static void assert_params(const clnet_graph *g, const char *what, uint64_t expected) {
    uint64_t got = clnet_graph_param_count(g);
    if (got != expected)
        fail_msg("%s has %llu parameters, MODELS.md says %llu", what, (unsigned long long)got,
                 (unsigned long long)expected);
}

/* MODELS.md's forward costs count the multiply-accumulates of convolutions and dense layers
 * only (batch norm, additions and pooling are left out): for ResNet20v1 the convs give
 * 40,812,544 and the dense layer 640, 40,813,184 in all, "40.8 M". The test checks the exact
 * sum and its rounding to the figure MODELS.md states with one decimal. */
static void assert_macs(const clnet_graph *g, const char *what, uint64_t exact,
                        double stated_millions) {
    uint64_t got = clnet_graph_macs_per_image(g);
    if (got != exact)
        fail_msg("%s: %llu MACs per image, expected %llu", what, (unsigned long long)got,
                 (unsigned long long)exact);
    double rounded = floor((double)got / 1e5 + 0.5) / 10.0;
    if (fabs(rounded - stated_millions) > 1e-9)
        fail_msg("%s: %.1f M MACs per image, MODELS.md says %.1f M", what, rounded,
                 stated_millions);

    /* Nothing but convolutions and dense layers may contribute. */
    uint64_t conv_dense = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == CLNET_OP_CONV2D || g->nodes[i].op == CLNET_OP_DENSE)
            conv_dense += clnet_node_macs(g, i);
    assert_true(conv_dense == got);
}

static const clnet_weight *weight_of(const clnet_graph *g, const char *layer, const char *name) {
    clnet_layer *l = NULL;
    TEST_OK(clnet_graph_find_layer(g, layer, &l));
    const clnet_weight *w = clnet_layer_find_weight(l, name);
    if (!w)
        fail_msg("layer '%s' has no weight '%s'", layer, name);
    return w;
}

/* ------------------------------------------------------------------------ */
/* Parameter counts (Keras model.summary(), moving statistics included)      */

static void resnet_v1_param_counts_match_keras(void **state) {
    (void)state;
    static const struct {
        int depth;
        uint64_t params;
    } cases[] = {{20, 274442}, {32, 470218}, {44, 665994}, {56, 861770}, {110, 1742762}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clnet_graph *g = resnet(1, cases[i].depth);
        char what[32];
        snprintf(what, sizeof what, "ResNet%dv1", cases[i].depth);
        assert_params(g, what, cases[i].params);
        clnet_graph_destroy(g);
    }
}

static void resnet_v2_param_counts_match_keras(void **state) {
    (void)state;
    static const struct {
        int depth;
        uint64_t params;
    } cases[] = {{20, 574090}, {56, 1673738}, {110, 3323210}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clnet_graph *g = resnet(2, cases[i].depth);
        char what[32];
        snprintf(what, sizeof what, "ResNet%dv2", cases[i].depth);
        assert_params(g, what, cases[i].params);
        clnet_graph_destroy(g);
    }
}

static void densenet_bc_100_12_has_797788_params(void **state) {
    (void)state;
    clnet_graph *g = densenet(100, 12);
    assert_params(g, "DenseNet-BC-100-12", 797788);
    clnet_graph_destroy(g);
}

static void ynet_params_match_keras_per_layer(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_ynet(10, &g));
    assert_params(g, "Y-network", 208394);

    static const char *const convs[6] = {"conv2d",   "conv2d_1", "conv2d_2",
                                         "conv2d_3", "conv2d_4", "conv2d_5"};
    static const uint64_t conv_params[3] = {320, 18496, 73856};
    for (int i = 0; i < 6; i++) {
        clnet_node_info info;
        TEST_OK(clnet_graph_node_info(g, (int)(node_of_layer(g, convs[i]) - g->nodes), &info));
        assert_int_equal(info.params, conv_params[i % 3]);
    }
    clnet_node_info info;
    TEST_OK(clnet_graph_node_info(g, (int)(node_of_layer(g, "dense") - g->nodes), &info));
    assert_int_equal(info.params, 23050);
    clnet_graph_destroy(g);
}

/* ------------------------------------------------------------------------ */
/* Forward cost                                                              */

static void resnet_macs_match_models_md(void **state) {
    (void)state;
    static const struct {
        int version, depth;
        uint64_t exact;
        double millions;
    } cases[] = {{1, 20, 40813184, 40.8},   {1, 56, 125747840, 125.7}, {1, 110, 253149824, 253.1},
                 {2, 56, 193120768, 193.1}, {2, 110, 383437312, 383.4}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clnet_graph *g = resnet(cases[i].version, cases[i].depth);
        char what[32];
        snprintf(what, sizeof what, "ResNet%dv%d", cases[i].depth, cases[i].version);
        assert_macs(g, what, cases[i].exact, cases[i].millions);
        clnet_graph_destroy(g);
    }
}

static void densenet_bc_100_12_macs_match_models_md(void **state) {
    (void)state;
    clnet_graph *g = densenet(100, 12);
    assert_macs(g, "DenseNet-BC-100-12", 290620764, 290.6);
    clnet_graph_destroy(g);
}

/* ------------------------------------------------------------------------ */
/* Shapes, names and padding                                                 */

static void resnet_v1_maps_shrink_32_16_8(void **state) {
    (void)state;
    clnet_graph *g = resnet(1, 20);
    int adds = node_count_of(g, CLNET_OP_ADD);
    assert_int_equal(adds, 9);
    assert_shape(nth_node(g, CLNET_OP_CONV2D, 0)->shape, 3, 16, 32, 32);
    assert_shape(nth_node(g, CLNET_OP_ADD, 2)->shape, 3, 16, 32, 32);
    assert_shape(nth_node(g, CLNET_OP_ADD, 3)->shape, 3, 32, 16, 16);
    assert_shape(nth_node(g, CLNET_OP_ADD, 5)->shape, 3, 32, 16, 16);
    assert_shape(nth_node(g, CLNET_OP_ADD, 6)->shape, 3, 64, 8, 8);
    assert_shape(nth_node(g, CLNET_OP_ADD, 8)->shape, 3, 64, 8, 8);
    assert_shape(nth_node(g, CLNET_OP_AVGPOOL, 0)->shape, 3, 64, 1, 1);
    assert_shape(nth_node(g, CLNET_OP_FLATTEN, 0)->shape, 1, 64, 1, 1);
    assert_output_is_classes(g, 10);
    assert_int_equal(clnet_graph_input_count(g), 1);
    clnet_graph_destroy(g);
}

static void resnet_v2_bottlenecks_widen_64_128_256(void **state) {
    (void)state;
    clnet_graph *g = resnet(2, 20);
    assert_int_equal(node_count_of(g, CLNET_OP_ADD), 6);
    assert_shape(nth_node(g, CLNET_OP_ADD, 0)->shape, 3, 64, 32, 32);
    assert_shape(nth_node(g, CLNET_OP_ADD, 2)->shape, 3, 128, 16, 16);
    assert_shape(nth_node(g, CLNET_OP_ADD, 4)->shape, 3, 256, 8, 8);
    /* The first unit of stage 0 starts with a bare conv on the stem's ReLU: stem conv, BN,
     * ReLU, then two convs in a row (the unit's 1x1 is not preceded by a BN). */
    assert_int_equal(g->nodes[4].op, CLNET_OP_CONV2D);
    assert_int_equal(g->nodes[3].op, CLNET_OP_ACTIVATION);
    /* The stride 2 sits on the first 1x1 conv of stages 1 and 2. */
    const clnet_node *first_of_stage1 = node_of_layer(g, "conv2d_8");
    assert_int_equal(first_of_stage1->geom.conv.kh, 1);
    assert_int_equal(first_of_stage1->geom.conv.sh, 2);
    assert_shape(first_of_stage1->shape, 3, 64, 16, 16);
    assert_shape(nth_node(g, CLNET_OP_AVGPOOL, 0)->shape, 3, 256, 1, 1);
    assert_output_is_classes(g, 10);
    clnet_graph_destroy(g);
}

static void densenet_channels_grow_27_219_108_300_150_342(void **state) {
    (void)state;
    clnet_graph *g = densenet(100, 12);
    /* One concat joins the stem to the input, then one per bottleneck layer. */
    assert_int_equal(node_count_of(g, CLNET_OP_CONCAT), 1 + 3 * 16);
    assert_shape(nth_node(g, CLNET_OP_CONCAT, 0)->shape, 3, 27, 32, 32);
    assert_shape(nth_node(g, CLNET_OP_CONCAT, 16)->shape, 3, 219, 32, 32);
    assert_shape(nth_node(g, CLNET_OP_AVGPOOL, 0)->shape, 3, 108, 16, 16);
    assert_shape(nth_node(g, CLNET_OP_CONCAT, 32)->shape, 3, 300, 16, 16);
    assert_shape(nth_node(g, CLNET_OP_AVGPOOL, 1)->shape, 3, 150, 8, 8);
    assert_shape(nth_node(g, CLNET_OP_CONCAT, 48)->shape, 3, 342, 8, 8);
    assert_shape(nth_node(g, CLNET_OP_AVGPOOL, 2)->shape, 3, 342, 1, 1);
    assert_output_is_classes(g, 10);

    /* The stem's BN normalises the raw input, and the first concat joins [input, conv]. */
    const clnet_node *first_concat = nth_node(g, CLNET_OP_CONCAT, 0);
    assert_int_equal(first_concat->inputs[0], clnet_graph_input_at(g, 0).id);
    assert_int_equal(g->nodes[1].op, CLNET_OP_BATCHNORM);
    assert_int_equal(g->nodes[1].inputs[0], clnet_graph_input_at(g, 0).id);
    /* Transitions have no ReLU: BN feeds the 1x1 conv directly. */
    const clnet_node *pool = nth_node(g, CLNET_OP_AVGPOOL, 0);
    const clnet_node *conv = &g->nodes[pool->inputs[0]];
    assert_int_equal(conv->op, CLNET_OP_CONV2D);
    assert_int_equal(g->nodes[conv->inputs[0]].op, CLNET_OP_BATCHNORM);
    clnet_graph_destroy(g);
}

static void densenet_takes_blocks_growth_and_compression(void **state) {
    (void)state;
    /* Four blocks of two bottleneck layers on 32x32: maps 32, 16, 8, 4. */
    clnet_densenet_desc d = {20, 8, 4, 1.0f, 7, 3, 32, 32};
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_densenet(&d, &g));
    assert_int_equal(node_count_of(g, CLNET_OP_CONCAT), 1 + 4 * 2);
    /* nf: 16 -> 16 + 16 = 32 -> 48 -> 64 (compression 1 keeps the running count). */
    assert_shape(nth_node(g, CLNET_OP_AVGPOOL, 2)->shape, 3, 64, 4, 4);
    assert_shape(nth_node(g, CLNET_OP_AVGPOOL, 3)->shape, 3, 64 + 16, 1, 1);
    assert_output_is_classes(g, 7);
    clnet_graph_destroy(g);
}

static void resnet_v1_uses_keras_auto_names_in_keras_order(void **state) {
    (void)state;
    clnet_graph *g = resnet(1, 20);
    /* tf.keras numbering: the first layer of a kind is "conv2d", the next "conv2d_1".
     * Standalone Keras 2.2 files number from "conv2d_1"; their conv2d_10 is our conv2d_9. */
    assert_string_equal(clnet_layer_name(clnet_graph_layer_at(g, 0)), "conv2d");
    const clnet_node *first_of_stack1 = node_of_layer(g, "conv2d_7");
    assert_int_equal(first_of_stack1->geom.conv.kh, 3);
    assert_int_equal(first_of_stack1->geom.conv.sh, 2);
    /* The 1x1 projection is created after the two 3x3 convs of its block. */
    const clnet_node *projection = node_of_layer(g, "conv2d_9");
    assert_int_equal(projection->geom.conv.kh, 1);
    assert_int_equal(projection->geom.conv.sh, 2);
    assert_shape(node_of_layer(g, "conv2d_8")->shape, 3, 32, 16, 16);
    assert_string_equal(clnet_layer_name(clnet_graph_layer_at(g, clnet_graph_layer_count(g) - 1)),
                        "dense");
    clnet_layer *layer = NULL;
    TEST_OK(clnet_graph_find_layer(g, "conv2d_20", &layer));
    TEST_OK(clnet_graph_find_layer(g, "batch_normalization_18", &layer));
    TEST_OK(clnet_graph_find_layer(g, "activation_18", &layer));
    TEST_OK(clnet_graph_find_layer(g, "add_8", &layer));
    TEST_OK(clnet_graph_find_layer(g, "average_pooling2d", &layer));
    TEST_OK(clnet_graph_find_layer(g, "flatten", &layer));
    TEST_FAILS(CLNET_STATUS_NOT_FOUND, NULL, clnet_graph_find_layer(g, "conv2d_21", &layer));
    TEST_FAILS(CLNET_STATUS_NOT_FOUND, NULL,
               clnet_graph_find_layer(g, "batch_normalization_19", &layer));

    /* Keras semantics of the layers themselves. */
    TEST_OK(clnet_graph_find_layer(g, "batch_normalization", &layer));
    assert_true(layer->u.bn.epsilon == 1e-3f);
    TEST_OK(clnet_graph_find_layer(g, "dense", &layer));
    assert_int_equal(layer->u.dense.activation, CLNET_ACT_SOFTMAX);
    assert_int_equal(layer->u.dense.kernel_initializer, CLNET_INIT_HE_NORMAL);
    assert_int_equal(layer->u.dense.use_bias, 1);
    clnet_graph_destroy(g);
}

static void stride2_same_conv_pads_bottom_right_only(void **state) {
    (void)state;
    clnet_graph *g = resnet(1, 20);
    /* TensorFlow 'same': 3x3 stride 2 on 32x32 pads 0 before and 1 after. */
    const clnet_conv_geometry *c = &node_of_layer(g, "conv2d_7")->geom.conv;
    assert_int_equal(c->in_h, 32);
    assert_int_equal(c->out_h, 16);
    assert_int_equal(c->out_w, 16);
    assert_int_equal(c->pad_top, 0);
    assert_int_equal(c->pad_left, 0);
    assert_int_equal(c->pad_bottom, 1);
    assert_int_equal(c->pad_right, 1);
    /* The 1x1 stride-2 projection needs no padding at all. */
    const clnet_conv_geometry *p = &node_of_layer(g, "conv2d_9")->geom.conv;
    assert_int_equal(p->pad_top + p->pad_left + p->pad_bottom + p->pad_right, 0);
    assert_int_equal(p->out_h, 16);
    /* Stride-1 3x3 convs pad 1 on every side. */
    const clnet_conv_geometry *s = &node_of_layer(g, "conv2d_8")->geom.conv;
    assert_int_equal(s->pad_top, 1);
    assert_int_equal(s->pad_bottom, 1);
    clnet_graph_destroy(g);
}

static void ynet_has_two_branches_joined_at_3x3x256(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_ynet(10, &g));
    assert_int_equal(clnet_graph_input_count(g), 2);
    clnet_shape s;
    TEST_OK(clnet_tensor_shape(g, clnet_graph_input_at(g, 1), &s));
    assert_shape(s, 3, 1, 28, 28);
    assert_output_is_classes(g, 10);

    /* Left branch plain, right branch dilated 2 with 'same' padding of 2 on every side. */
    for (int i = 0; i < 6; i++) {
        const clnet_node *conv = nth_node(g, CLNET_OP_CONV2D, i);
        int dilation = i < 3 ? 1 : 2;
        assert_int_equal(conv->geom.conv.dh, dilation);
        assert_int_equal(conv->geom.conv.pad_top, dilation);
        assert_int_equal(conv->geom.conv.pad_bottom, dilation);
        assert_int_equal(conv->geom.conv.pad_left, dilation);
        assert_int_equal(conv->layer->u.conv.activation, CLNET_ACT_RELU);
        assert_int_equal(conv->layer->u.conv.kernel_initializer, CLNET_INIT_GLOROT_UNIFORM);
    }
    /* 28 -> 14 -> 7 -> 3 (floor) in each branch. */
    assert_shape(nth_node(g, CLNET_OP_MAXPOOL, 1)->shape, 3, 64, 7, 7);
    assert_shape(nth_node(g, CLNET_OP_MAXPOOL, 2)->shape, 3, 128, 3, 3);
    assert_shape(nth_node(g, CLNET_OP_MAXPOOL, 5)->shape, 3, 128, 3, 3);
    const clnet_node *concat = nth_node(g, CLNET_OP_CONCAT, 0);
    assert_shape(concat->shape, 3, 256, 3, 3);
    /* The left branch comes first in the concatenation. */
    assert_int_equal(concat->inputs[0], (int)(nth_node(g, CLNET_OP_MAXPOOL, 2) - g->nodes));
    assert_shape(nth_node(g, CLNET_OP_FLATTEN, 0)->shape, 1, 2304, 1, 1);
    assert_int_equal(node_count_of(g, CLNET_OP_DROPOUT), 7);
    clnet_layer *layer = NULL;
    TEST_OK(clnet_graph_find_layer(g, "dropout_6", &layer));
    assert_true(layer->u.dropout.rate == 0.4f);
    TEST_OK(clnet_graph_find_layer(g, "max_pooling2d_5", &layer));
    TEST_OK(clnet_graph_find_layer(g, "concatenate", &layer));
    TEST_OK(clnet_graph_find_layer(g, "dense", &layer));
    assert_int_equal(layer->u.dense.kernel_initializer, CLNET_INIT_GLOROT_UNIFORM);
    clnet_graph_destroy(g);
}

static void resnet_builders_accept_other_image_sizes(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_resnet_v1(8, 1, 28, 28, 5, &g));
    /* 28 -> 14 -> 7; the head still averages the whole remaining map. */
    assert_shape(nth_node(g, CLNET_OP_AVGPOOL, 0)->shape, 3, 64, 1, 1);
    assert_output_is_classes(g, 5);
    clnet_graph_destroy(g);
}

/* ------------------------------------------------------------------------ */
/* Built-in names                                                            */

static void builtin_names_build_initialised_networks(void **state) {
    (void)state;
    static const struct {
        const char *name;
        uint64_t params;
    } cases[] = {{"resnet20v1", 274442}, {"resnet56v2", 1673738}, {"densenet100", 797788},
                 {"ynet", 208394}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clnet_graph *g = NULL;
        TEST_OK(clnet_model_builtin(cases[i].name, 7, &g));
        assert_params(g, cases[i].name, cases[i].params);
        const clnet_weight *k = weight_of(g, "conv2d", "kernel");
        int nonzero = 0;
        for (size_t j = 0; j < k->count; j++)
            nonzero += k->data[j] != 0.0f;
        assert_true(nonzero > (int)(k->count * 9 / 10));
        clnet_graph_destroy(g);
    }
}

static void builtin_densenet_name_sets_growth_rate(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_builtin("densenet40k24", 1, &g));
    /* The stem conv has 2k filters; six bottleneck layers per block. */
    assert_shape(nth_node(g, CLNET_OP_CONV2D, 0)->shape, 3, 48, 32, 32);
    assert_int_equal(node_count_of(g, CLNET_OP_CONCAT), 1 + 3 * 6);
    clnet_graph_destroy(g);
}

static void model_open_prefers_builtin_names(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_open("resnet32v1", 3, &g));
    assert_params(g, "resnet32v1", 470218);
    clnet_graph_destroy(g);
}

static void model_open_reports_missing_file_and_builtin_names(void **state) {
    (void)state;
    clnet_graph *g = (clnet_graph *)&g;
    clnet_status s = clnet_model_open("no-such-dir/resnet20.clnet", 0, &g);
    assert_int_not_equal(s, CLNET_STATUS_OK);
    assert_null(g);
    assert_non_null(strstr(clnet_last_error(), "resnet20v1"));
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

static void bad_depths_are_rejected_with_valid_forms(void **state) {
    (void)state;
    clnet_graph *g = (clnet_graph *)&g;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "6n+2", clnet_model_resnet_v1(21, 3, 32, 32, 10, &g));
    assert_null(g);
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "6n+2", clnet_model_resnet_v1(2, 3, 32, 32, 10, &g));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "9n+2", clnet_model_resnet_v2(32, 3, 32, 32, 10, &g));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "9n+2", clnet_model_resnet_v2(-7, 3, 32, 32, 10, &g));
    clnet_densenet_desc d = densenet_bc(101, 12);
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "6n+4", clnet_model_densenet(&d, &g));
    d = densenet_bc(4, 12);
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "6n+4", clnet_model_densenet(&d, &g));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "6n+2", clnet_model_builtin("resnet21v1", 0, &g));
    assert_null(g);
}

static void non_positive_sizes_are_rejected(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "positive",
               clnet_model_resnet_v1(20, 0, 32, 32, 10, &g));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "positive",
               clnet_model_resnet_v2(20, 3, 32, -1, 10, &g));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "positive",
               clnet_model_resnet_v1(20, 3, 32, 32, 0, &g));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "positive", clnet_model_ynet(0, &g));
    clnet_densenet_desc d = densenet_bc(100, 0);
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "growth rate", clnet_model_densenet(&d, &g));
    d = densenet_bc(100, 12);
    d.compression = 0.0f;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "compression", clnet_model_densenet(&d, &g));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_model_densenet(NULL, &g));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_model_ynet(10, NULL));
}

static void unknown_builtin_names_list_the_forms(void **state) {
    (void)state;
    static const char *const names[] = {"vgg16", "resnet", "resnet20", "resnet20v3",
                                        "resnetv1", "densenet100k", "densenet100x", "ynet2", ""};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        clnet_graph *g = (clnet_graph *)&g;
        TEST_FAILS(CLNET_STATUS_NOT_FOUND, "resnet<depth>v1", clnet_model_builtin(names[i], 0, &g));
        assert_null(g);
        assert_non_null(strstr(clnet_last_error(), "densenet<depth>k<growth>"));
        assert_non_null(strstr(clnet_last_error(), "ynet"));
    }
}

/* ------------------------------------------------------------------------ */
/* Weight initialisation                                                     */

static void moments(const float *data, size_t count, double *mean, double *std, double *max_abs) {
    double sum = 0, sum2 = 0, top = 0;
    for (size_t i = 0; i < count; i++) {
        sum += data[i];
        sum2 += (double)data[i] * data[i];
        if (fabs(data[i]) > top)
            top = fabs(data[i]);
    }
    *mean = sum / (double)count;
    *std = sqrt(sum2 / (double)count - *mean * *mean);
    *max_abs = top;
}

static void he_normal_is_truncated_at_two_std_with_target_std(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_builtin("resnet20v1", 42, &g));
    /* The last 3x3 conv: 64 x 64 x 3 x 3 = 36,864 values, fan-in 576. */
    const clnet_weight *k = weight_of(g, "conv2d_20", "kernel");
    assert_int_equal(k->count, 36864);
    double target = sqrt(2.0 / 576.0);
    double bound = 2.0 * target / 0.87962566103423978;
    double mean, std, max_abs;
    moments(k->data, k->count, &mean, &std, &max_abs);
    if (fabs(std / target - 1.0) > 0.03)
        fail_msg("he_normal std %g, target %g", std, target);
    assert_true(fabs(mean) < 0.05 * target);
    assert_true(max_abs <= bound * (1.0 + 1e-6));
    assert_true(max_abs > 0.98 * bound); /* cut at two std, not earlier */

    /* The dense head: fan-in 64. */
    const clnet_weight *dk = weight_of(g, "dense", "kernel");
    moments(dk->data, dk->count, &mean, &std, &max_abs);
    assert_true(max_abs <= 2.0 * sqrt(2.0 / 64.0) / 0.87962566103423978 * (1.0 + 1e-6));
    clnet_graph_destroy(g);
}

static void glorot_uniform_stays_within_its_limit(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_builtin("ynet", 5, &g));
    /* Dense 2304 -> 10: l = sqrt(6 / 2314), 23,040 values. */
    const clnet_weight *k = weight_of(g, "dense", "kernel");
    double limit = sqrt(6.0 / (2304.0 + 10.0));
    double mean, std, max_abs;
    moments(k->data, k->count, &mean, &std, &max_abs);
    assert_true(max_abs <= limit);
    assert_true(max_abs > 0.99 * limit);
    if (fabs(std / (limit / sqrt(3.0)) - 1.0) > 0.03)
        fail_msg("glorot_uniform std %g, expected %g", std, limit / sqrt(3.0));
    assert_true(fabs(mean) < 0.05 * limit);

    /* A conv kernel: fans count the receptive field, 3*3*32 in and 3*3*64 out. */
    const clnet_weight *c = weight_of(g, "conv2d_1", "kernel");
    double conv_limit = sqrt(6.0 / (288.0 + 576.0));
    moments(c->data, c->count, &mean, &std, &max_abs);
    assert_true(max_abs <= conv_limit);
    assert_true(max_abs > 0.99 * conv_limit);
    clnet_graph_destroy(g);
}

static void biases_and_batchnorm_start_at_keras_values(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_builtin("densenet40", 9, &g));
    int checked = 0;
    for (int i = 0; i < clnet_graph_layer_count(g); i++) {
        clnet_layer *layer = clnet_graph_layer_at(g, i);
        for (int j = 0; j < layer->n_weights; j++) {
            const clnet_weight *w = &layer->weights[j];
            float expected;
            if (strcmp(w->name, "gamma") == 0 || strcmp(w->name, "moving_variance") == 0)
                expected = 1.0f;
            else if (strcmp(w->name, "kernel") == 0)
                continue;
            else
                expected = 0.0f;
            for (size_t e = 0; e < w->count; e++)
                if (w->data[e] != expected)
                    fail_msg("%s/%s[%zu] = %g, expected %g", layer->name, w->name, e,
                             (double)w->data[e], (double)expected);
            checked++;
        }
    }
    assert_true(checked > 100);
    clnet_graph_destroy(g);
}

static void init_is_deterministic_in_the_seed(void **state) {
    (void)state;
    clnet_graph *a = NULL, *b = NULL, *c = NULL;
    TEST_OK(clnet_model_builtin("resnet20v1", 1234, &a));
    TEST_OK(clnet_model_builtin("resnet20v1", 1234, &b));
    TEST_OK(clnet_model_builtin("resnet20v1", 1235, &c));
    for (int i = 0; i < a->n_layers; i++)
        for (int j = 0; j < a->layers[i]->n_weights; j++) {
            const clnet_weight *wa = &a->layers[i]->weights[j];
            const clnet_weight *wb = &b->layers[i]->weights[j];
            assert_int_equal(wa->count, wb->count);
            assert_memory_equal(wa->data, wb->data, wa->count * sizeof *wa->data);
        }
    const clnet_weight *ka = weight_of(a, "conv2d", "kernel");
    const clnet_weight *kc = weight_of(c, "conv2d", "kernel");
    size_t same = 0;
    for (size_t e = 0; e < ka->count; e++)
        same += ka->data[e] == kc->data[e];
    assert_true(same < ka->count / 10);

    /* Re-initialising restores the values after a change. */
    clnet_weight *kw = clnet_layer_find_weight(a->layers[0], "kernel");
    float first = kw->data[0];
    kw->data[0] = 100.0f;
    TEST_OK(clnet_graph_init_weights(a, 1234));
    assert_true(kw->data[0] == first);
    clnet_graph_destroy(a);
    clnet_graph_destroy(b);
    clnet_graph_destroy(c);
}

static void init_skips_layers_never_called(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_graph_create(&g));
    clnet_conv2d_desc desc = clnet_conv2d_defaults(4, 3);
    clnet_layer *unused = NULL, *used = NULL;
    TEST_OK(clnet_layer_conv2d(g, NULL, &desc, &unused));
    TEST_OK(clnet_layer_conv2d(g, NULL, &desc, &used));
    clnet_tensor x;
    TEST_OK(clnet_graph_input(g, NULL, 2, 5, 5, &x));
    TEST_OK(clnet_layer_call1(used, x, &x));
    TEST_OK(clnet_graph_init_weights(g, 3));
    assert_int_equal(clnet_layer_weight_count(unused), 0);
    assert_true(clnet_layer_find_weight(used, "kernel")->data[0] != 0.0f);
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_graph_init_weights(NULL, 3));
    clnet_graph_destroy(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resnet_v1_param_counts_match_keras),
        cmocka_unit_test(resnet_v2_param_counts_match_keras),
        cmocka_unit_test(densenet_bc_100_12_has_797788_params),
        cmocka_unit_test(ynet_params_match_keras_per_layer),
        cmocka_unit_test(resnet_macs_match_models_md),
        cmocka_unit_test(densenet_bc_100_12_macs_match_models_md),
        cmocka_unit_test(resnet_v1_maps_shrink_32_16_8),
        cmocka_unit_test(resnet_v2_bottlenecks_widen_64_128_256),
        cmocka_unit_test(densenet_channels_grow_27_219_108_300_150_342),
        cmocka_unit_test(densenet_takes_blocks_growth_and_compression),
        cmocka_unit_test(resnet_v1_uses_keras_auto_names_in_keras_order),
        cmocka_unit_test(stride2_same_conv_pads_bottom_right_only),
        cmocka_unit_test(ynet_has_two_branches_joined_at_3x3x256),
        cmocka_unit_test(resnet_builders_accept_other_image_sizes),
        cmocka_unit_test(builtin_names_build_initialised_networks),
        cmocka_unit_test(builtin_densenet_name_sets_growth_rate),
        cmocka_unit_test(model_open_prefers_builtin_names),
        cmocka_unit_test(model_open_reports_missing_file_and_builtin_names),
        cmocka_unit_test(bad_depths_are_rejected_with_valid_forms),
        cmocka_unit_test(non_positive_sizes_are_rejected),
        cmocka_unit_test(unknown_builtin_names_list_the_forms),
        cmocka_unit_test(he_normal_is_truncated_at_two_std_with_target_std),
        cmocka_unit_test(glorot_uniform_stays_within_its_limit),
        cmocka_unit_test(biases_and_batchnorm_start_at_keras_values),
        cmocka_unit_test(init_is_deterministic_in_the_seed),
        cmocka_unit_test(init_skips_layers_never_called),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
