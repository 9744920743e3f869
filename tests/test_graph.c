/* The graph API: Keras-style construction, shape inference at each call,
 * naming, shared layers, weights, and clear errors for bad graphs. */
#include "test_util.h"

#include <string.h>

static clnet_graph *new_graph(void) {
    clnet_graph *g;
    TEST_OK(clnet_graph_create(&g));
    return g;
}

static void shape_is(clnet_graph *g, clnet_tensor t, int rank, int c, int h, int w) {
    clnet_shape s;
    TEST_OK(clnet_tensor_shape(g, t, &s));
    assert_int_equal(s.rank, rank);
    assert_int_equal(s.c, c);
    assert_int_equal(s.h, h);
    assert_int_equal(s.w, w);
}

static void conv_shapes_follow_tensorflow_same_and_valid(void **state) {
    (void)state;
    clnet_graph *g = new_graph();
    clnet_tensor x, y;
    clnet_layer *l;
    TEST_OK(clnet_graph_input(g, NULL, 3, 31, 13, &x));

    clnet_conv2d_desc d = clnet_conv2d_defaults(8, 3);
    d.stride_h = d.stride_w = 2;
    TEST_OK(clnet_layer_conv2d(g, NULL, &d, &l));
    TEST_OK(clnet_layer_call1(l, x, &y));
    shape_is(g, y, 3, 8, 16, 7); /* ceil(31/2), ceil(13/2) */

    d = clnet_conv2d_defaults(4, 5);
    d.padding = CLNET_PADDING_VALID;
    TEST_OK(clnet_layer_conv2d(g, NULL, &d, &l));
    TEST_OK(clnet_layer_call1(l, x, &y));
    shape_is(g, y, 3, 4, 27, 9);

    d = clnet_conv2d_defaults(4, 3);
    d.dilation_h = d.dilation_w = 2;
    d.padding = CLNET_PADDING_VALID;
    TEST_OK(clnet_layer_conv2d(g, NULL, &d, &l));
    TEST_OK(clnet_layer_call1(l, x, &y));
    shape_is(g, y, 3, 4, 27, 9); /* effective kernel 5 */

    d = clnet_conv2d_defaults(4, 3);
    d.padding = CLNET_PADDING_EXPLICIT;
    d.pad_top = 2;
    d.pad_left = 1;
    TEST_OK(clnet_layer_conv2d(g, NULL, &d, &l));
    TEST_OK(clnet_layer_call1(l, x, &y));
    shape_is(g, y, 3, 4, 31, 12);
    clnet_graph_destroy(g);
}

static void flatten_pooling_and_dense_shapes(void **state) {
    (void)state;
    clnet_graph *g = new_graph();
    clnet_tensor x, y, z;
    clnet_layer *l;
    TEST_OK(clnet_graph_input(g, NULL, 5, 7, 7, &x));
    clnet_pool2d_desc p = clnet_pool2d_defaults(2);
    TEST_OK(clnet_layer_maxpool(g, NULL, &p, &l));
    TEST_OK(clnet_layer_call1(l, x, &y));
    shape_is(g, y, 3, 5, 3, 3); /* floor */
    TEST_OK(clnet_layer_flatten(g, NULL, &l));
    TEST_OK(clnet_layer_call1(l, y, &z));
    shape_is(g, z, 1, 45, 1, 1);
    clnet_dense_desc dd = {10, 1, CLNET_ACT_SOFTMAX, CLNET_INIT_HE_NORMAL};
    TEST_OK(clnet_layer_dense(g, NULL, &dd, &l));
    TEST_OK(clnet_layer_call1(l, z, &z));
    shape_is(g, z, 1, 10, 1, 1);
    TEST_OK(clnet_layer_global_avgpool(g, NULL, &l));
    TEST_OK(clnet_layer_call1(l, x, &z));
    shape_is(g, z, 1, 5, 1, 1);
    assert_int_equal(clnet_graph_param_count(g), 45 * 10 + 10);
    clnet_graph_destroy(g);
}

static void layers_get_keras_names(void **state) {
    (void)state;
    clnet_graph *g = new_graph();
    clnet_tensor x, y;
    clnet_layer *a, *b, *c, *bn;
    TEST_OK(clnet_graph_input(g, NULL, 3, 8, 8, &x));
    clnet_conv2d_desc d = clnet_conv2d_defaults(4, 3);
    TEST_OK(clnet_layer_conv2d(g, NULL, &d, &a));
    TEST_OK(clnet_layer_conv2d(g, NULL, &d, &b));
    TEST_OK(clnet_layer_conv2d(g, "mine", &d, &c));
    TEST_OK(clnet_layer_batchnorm(g, NULL, 1e-3f, &bn));
    assert_string_equal(clnet_layer_name(a), "conv2d");
    assert_string_equal(clnet_layer_name(b), "conv2d_1");
    assert_string_equal(clnet_layer_name(c), "mine");
    assert_string_equal(clnet_layer_name(bn), "batch_normalization");
    clnet_node_info info;
    TEST_OK(clnet_graph_node_info(g, x.id, &info));
    assert_string_equal(info.name, "input_1");
    clnet_layer *found;
    TEST_OK(clnet_graph_find_layer(g, "conv2d_1", &found));
    assert_ptr_equal(found, b);
    TEST_FAILS(CLNET_STATUS_NOT_FOUND, "nothere", clnet_graph_find_layer(g, "nothere", &found));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "mine", clnet_layer_conv2d(g, "mine", &d, &c));
    TEST_OK(clnet_layer_call1(a, x, &y));
    clnet_graph_destroy(g);
}

static void shared_layer_counts_weights_once(void **state) {
    (void)state;
    clnet_graph *g = new_graph();
    clnet_tensor x1, x2, y1, y2;
    clnet_layer *conv;
    TEST_OK(clnet_graph_input(g, NULL, 3, 9, 9, &x1));
    TEST_OK(clnet_graph_input(g, NULL, 3, 5, 5, &x2));
    clnet_conv2d_desc d = clnet_conv2d_defaults(4, 3);
    TEST_OK(clnet_layer_conv2d(g, NULL, &d, &conv));
    TEST_OK(clnet_layer_call1(conv, x1, &y1));
    TEST_OK(clnet_layer_call1(conv, x2, &y2));
    shape_is(g, y1, 3, 4, 9, 9);
    shape_is(g, y2, 3, 4, 5, 5);
    assert_int_equal(clnet_graph_param_count(g), 3 * 3 * 3 * 4 + 4);
    clnet_node_info i1, i2;
    TEST_OK(clnet_graph_node_info(g, y1.id, &i1));
    TEST_OK(clnet_graph_node_info(g, y2.id, &i2));
    assert_int_equal(i1.params, 112);
    assert_int_equal(i2.params, 0);
    assert_int_equal(i1.macs_per_image, 4ull * 81 * 27);
    clnet_graph_destroy(g);
}

static void shape_mismatch_names_layer_and_both_shapes(void **state) {
    (void)state;
    clnet_graph *g = new_graph();
    clnet_tensor a, b, y, pair[2];
    clnet_layer *add, *cat, *dense, *conv;
    TEST_OK(clnet_graph_input(g, NULL, 3, 8, 8, &a));
    TEST_OK(clnet_graph_input(g, NULL, 4, 8, 8, &b));
    pair[0] = a;
    pair[1] = b;
    TEST_OK(clnet_layer_add(g, "sum", &add));
    TEST_FAILS(CLNET_STATUS_SHAPE_MISMATCH, "'sum'", clnet_layer_call(add, pair, 2, &y));
    assert_non_null(strstr(clnet_last_error(), "(3, 8, 8)"));
    assert_non_null(strstr(clnet_last_error(), "(4, 8, 8)"));

    clnet_tensor c;
    TEST_OK(clnet_graph_input(g, NULL, 3, 7, 8, &c));
    pair[1] = c;
    TEST_OK(clnet_layer_concat(g, "join", &cat));
    TEST_FAILS(CLNET_STATUS_SHAPE_MISMATCH, "'join'", clnet_layer_call(cat, pair, 2, &y));

    clnet_dense_desc dd = {10, 1, CLNET_ACT_LINEAR, CLNET_INIT_HE_NORMAL};
    TEST_OK(clnet_layer_dense(g, "head", &dd, &dense));
    TEST_FAILS(CLNET_STATUS_SHAPE_MISMATCH, "flatten", clnet_layer_call1(dense, a, &y));

    clnet_conv2d_desc d = clnet_conv2d_defaults(4, 3);
    TEST_OK(clnet_layer_conv2d(g, "shared", &d, &conv));
    TEST_OK(clnet_layer_call1(conv, a, &y));
    TEST_FAILS(CLNET_STATUS_SHAPE_MISMATCH, "built for 3 input channels",
               clnet_layer_call1(conv, b, &y));

    d = clnet_conv2d_defaults(4, 9);
    d.padding = CLNET_PADDING_VALID;
    TEST_OK(clnet_layer_conv2d(g, "big", &d, &conv));
    TEST_FAILS(CLNET_STATUS_SHAPE_MISMATCH, "'big'", clnet_layer_call1(conv, a, &y));

    /* A failed call leaves the graph usable and unchanged. */
    int nodes = clnet_graph_node_count(g);
    TEST_FAILS(CLNET_STATUS_SHAPE_MISMATCH, NULL, clnet_layer_call(add, pair, 2, &y));
    assert_int_equal(clnet_graph_node_count(g), nodes);
    clnet_graph_destroy(g);
}

static void bad_arguments_are_rejected_with_messages(void **state) {
    (void)state;
    clnet_graph *g = new_graph();
    clnet_tensor x, y;
    clnet_layer *l;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "shape", clnet_graph_input(g, NULL, 0, 8, 8, &x));
    TEST_OK(clnet_graph_input(g, NULL, 3, 8, 8, &x));
    clnet_conv2d_desc d = clnet_conv2d_defaults(0, 3);
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "filters", clnet_layer_conv2d(g, NULL, &d, &l));
    d = clnet_conv2d_defaults(4, 3);
    d.stride_h = 0;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "stride", clnet_layer_conv2d(g, NULL, &d, &l));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "epsilon", clnet_layer_batchnorm(g, NULL, 0, &l));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "rate", clnet_layer_dropout(g, NULL, 1.5f, &l));
    clnet_tensor bogus = {12345};
    TEST_OK(clnet_layer_flatten(g, NULL, &l));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "tensor id 12345", clnet_layer_call1(l, bogus, &y));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_graph_set_outputs(g, &bogus, 1));
    TEST_OK(clnet_layer_add(g, NULL, &l));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "two or more", clnet_layer_call1(l, x, &y));
    clnet_graph_destroy(g);
    clnet_graph_destroy(NULL);
}

static void weights_are_set_by_name_and_checked(void **state) {
    (void)state;
    clnet_graph *g = new_graph();
    clnet_tensor x, y;
    clnet_layer *conv, *bn;
    TEST_OK(clnet_graph_input(g, NULL, 2, 5, 5, &x));
    clnet_conv2d_desc d = clnet_conv2d_defaults(3, 3);
    TEST_OK(clnet_layer_conv2d(g, NULL, &d, &conv));
    float k[54];
    for (int i = 0; i < 54; i++)
        k[i] = (float)i;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "call it",
               clnet_layer_set_weight(conv, "kernel", k, 54));
    TEST_OK(clnet_layer_call1(conv, x, &y));
    assert_int_equal(clnet_layer_weight_count(conv), 2);
    TEST_OK(clnet_layer_set_weight(conv, "kernel", k, 54));
    TEST_FAILS(CLNET_STATUS_SHAPE_MISMATCH, "54", clnet_layer_set_weight(conv, "kernel", k, 53));
    TEST_FAILS(CLNET_STATUS_NOT_FOUND, "gamma", clnet_layer_set_weight(conv, "gamma", k, 3));
    clnet_weight_info info;
    TEST_OK(clnet_layer_weight(conv, 0, &info));
    assert_string_equal(info.name, "kernel");
    assert_int_equal(info.rank, 4);
    assert_int_equal(info.dims[0], 3);
    assert_int_equal(info.dims[1], 2);
    assert_true(info.data[53] == 53.0f);

    TEST_OK(clnet_layer_batchnorm(g, NULL, 1e-3f, &bn));
    TEST_OK(clnet_layer_call1(bn, y, &y));
    TEST_OK(clnet_layer_weight(bn, 3, &info));
    assert_string_equal(info.name, "moving_variance");
    assert_true(info.data[0] == 1.0f);
    assert_int_equal(clnet_graph_param_count(g), 54 + 3 + 4 * 3);
    clnet_graph_destroy(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_shapes_follow_tensorflow_same_and_valid),
        cmocka_unit_test(flatten_pooling_and_dense_shapes),
        cmocka_unit_test(layers_get_keras_names),
        cmocka_unit_test(shared_layer_counts_weights_once),
        cmocka_unit_test(shape_mismatch_names_layer_and_both_shapes),
        cmocka_unit_test(bad_arguments_are_rejected_with_messages),
        cmocka_unit_test(weights_are_set_by_name_and_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
