/* ONNX import: small models made by tools/make_test_onnx_models.py against onnxruntime,
 * rejection of unsupported, truncated, corrupted and hostile files, and the pretrained
 * CIFAR-10 ResNets of the shared data against PyTorch. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

#include "import.h"

#define CLASSES 10

/* ------------------------------------------------------------------------ */
/* Files                                                                    */

static int make_scratch_dir(void **state) {
    (void)state;
    return test_scratch_create("import-onnx");
}

static int remove_scratch_dir(void **state) {
    (void)state;
    test_scratch_remove();
    test_context_release();
    return 0;
}

/* A committed file of tests/data/onnx, which tools/make_test_onnx_models.py writes. */
static uint8_t *read_onnx_data(const char *path, size_t *size) {
    if (access(path, R_OK) != 0)
        fail_msg("cannot open '%s' (run tools/make_test_onnx_models.py?)", path);
    return test_read_file(path, size);
}

static const char *onnx_path(const char *name, const char *suffix) {
    char relative[256];
    snprintf(relative, sizeof relative, "onnx/%s%s", name, suffix);
    return test_data_path(relative);
}

/* ------------------------------------------------------------------------ */
/* Small models against onnxruntime                                         */

static void run_on_device(const clnet_graph *g, int n, const float *const *x, float *const *y) {
    clnet_net_options o = clnet_net_options_default();
    o.poison_activations = 1;
    test_run_on_device(g, &o, n, x, y);
}

/* Loads NAME.onnx, runs it on NAME.input.bin on the host reference and on the device, and
 * compares every output with onnxruntime's (NAME.expected.bin, outputs one after the other). */
static void check_small_model(const char *name) {
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_load(onnx_path(name, ".onnx"), NULL, &g));
    assert_int_equal(clnet_graph_input_count(g), 1);
    clnet_shape in_shape;
    TEST_OK(clnet_tensor_shape(g, clnet_graph_input_at(g, 0), &in_shape));

    size_t in_bytes, expected_bytes;
    float *x = (float *)read_onnx_data(onnx_path(name, ".input.bin"), &in_bytes);
    float *expected = (float *)read_onnx_data(onnx_path(name, ".expected.bin"), &expected_bytes);
    size_t per_image = clnet_shape_size(in_shape);
    int n = (int)(in_bytes / sizeof(float) / per_image);
    assert_int_equal((size_t)n * per_image * sizeof(float), in_bytes);

    int n_out = clnet_graph_output_count(g);
    float *outputs[16];
    size_t sizes[16], total = 0;
    assert_true(n_out <= 16);
    for (int k = 0; k < n_out; k++) {
        clnet_shape s;
        TEST_OK(clnet_tensor_shape(g, clnet_graph_output_at(g, k), &s));
        sizes[k] = (size_t)n * clnet_shape_size(s);
        total += sizes[k];
        outputs[k] = test_alloc_poisoned(sizes[k]);
    }
    assert_int_equal(total * sizeof(float), expected_bytes);

    const float *inputs[1] = {x};
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            TEST_OK(clnet_graph_run_reference(g, n, inputs, outputs));
        else
            run_on_device(g, n, inputs, outputs);
        size_t at = 0;
        for (int k = 0; k < n_out; k++) {
            char what[160];
            snprintf(what, sizeof what, "%s output %d (%s) vs onnxruntime", name, k,
                     pass ? "device" : "host reference");
            test_assert_close(what, expected + at, outputs[k], sizes[k], 1e-5);
            at += sizes[k];
            for (size_t j = 0; j < sizes[k]; j++)
                outputs[k][j] = TEST_POISON;
        }
    }
    for (int k = 0; k < n_out; k++)
        free(outputs[k]);
    free(x);
    free(expected);
    clnet_graph_destroy(g);
}

static void convolutions_with_pads_strides_dilations_and_auto_pad_match_onnxruntime(void **s) {
    (void)s;
    check_small_model("conv");
}

static void batchnorm_matches_onnxruntime(void **state) {
    (void)state;
    check_small_model("batchnorm");
}

static void arithmetic_with_constants_and_tensors_in_shuffled_order_matches_onnxruntime(
    void **state) {
    (void)state;
    check_small_model("arith");
}

static void pooling_concat_and_flatten_match_onnxruntime(void **state) {
    (void)state;
    check_small_model("pool");
}

static void gemm_after_a_computed_reshape_matches_onnxruntime(void **state) {
    (void)state;
    check_small_model("gemm_shape");
}

static void matmul_with_bias_gemm_and_softmax_match_onnxruntime(void **state) {
    (void)state;
    check_small_model("matmul");
}

static void opset7_batch1_with_typed_initializers_as_inputs_matches_onnxruntime(void **state) {
    (void)state;
    check_small_model("reshape_batch1");
}

static void pad_and_slice_with_steps_match_onnxruntime(void **state) {
    (void)state;
    check_small_model("pad_slice");
}

static void pad_and_slice_attributes_of_opset9_match_onnxruntime(void **state) {
    (void)state;
    check_small_model("pad_slice_old");
}

static void clip_attributes_and_sigmoid_of_opset9_match_onnxruntime(void **state) {
    (void)state;
    check_small_model("clip_old");
}

static void clip_inputs_of_opset13_match_onnxruntime(void **state) {
    (void)state;
    check_small_model("clip_new");
}

static void one_network_in_opsets_7_to_17_matches_onnxruntime(void **state) {
    (void)state;
    static const char *const names[] = {"opset7", "opset9", "opset11", "opset13", "opset17"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        check_small_model(names[k]);
}

/* ------------------------------------------------------------------------ */
/* The graphs built                                                         */

static clnet_layer *find(const clnet_graph *g, const char *name) {
    clnet_layer *layer = NULL;
    if (clnet_graph_find_layer(g, name, &layer) != CLNET_STATUS_OK)
        return NULL;
    return layer;
}

static void layers_take_unique_node_names_or_op_and_index(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_import_onnx(onnx_path("conv", ".onnx"), &g));
    assert_non_null(find(g, "conv_sym"));
    assert_non_null(find(g, "conv_asym"));
    assert_non_null(find(g, "relu1"));
    /* The eighth node has no name. */
    assert_non_null(find(g, "Conv_7"));
    assert_int_equal(clnet_layer_op(find(g, "conv_dilated")), CLNET_OP_CONV2D);
    clnet_graph_destroy(g);
}

static void shape_arithmetic_is_folded_away(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_import_onnx(onnx_path("gemm_shape", ".onnx"), &g));
    /* conv, relu, gap, fc, softmax: Shape ... Reshape leave no layer behind, the
     * flat output of the global pool needing no flatten. */
    assert_int_equal(clnet_graph_layer_count(g), 5);
    assert_int_equal(clnet_layer_op(find(g, "fc")), CLNET_OP_DENSE);
    assert_null(find(g, "reshape"));
    clnet_graph_destroy(g);
}

static void matmul_and_bias_add_become_one_dense_layer(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_import_onnx(onnx_path("matmul", ".onnx"), &g));
    clnet_layer *dense = find(g, "matmul");
    assert_non_null(dense);
    assert_int_equal(clnet_layer_op(dense), CLNET_OP_DENSE);
    assert_int_equal(clnet_layer_weight_count(dense), 2); /* kernel and bias */
    assert_null(find(g, "bias"));
    /* Without an Add after it, a MatMul has no bias. */
    assert_int_equal(clnet_layer_weight_count(find(g, "matmul_nobias")), 1);
    clnet_graph_destroy(g);
}

static void arithmetic_with_constants_becomes_channel_affine(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_import_onnx(onnx_path("arith", ".onnx"), &g));
    assert_int_equal(clnet_layer_op(find(g, "div_by_scalar")), CLNET_OP_CHANNEL_AFFINE);
    assert_int_equal(clnet_layer_op(find(g, "sub_from_scalar")), CLNET_OP_CHANNEL_AFFINE);
    assert_int_equal(clnet_layer_op(find(g, "sub_tensors")), CLNET_OP_SUBTRACT);
    assert_int_equal(clnet_layer_op(find(g, "mul_tensors")), CLNET_OP_MULTIPLY);
    assert_int_equal(clnet_layer_op(find(g, "add_tensors")), CLNET_OP_ADD);
    /* 2 * 1.7 was folded; only its use remains. */
    assert_null(find(g, "fold_mul"));
    clnet_graph_destroy(g);
}

/* ------------------------------------------------------------------------ */
/* Rejections                                                               */

/* Loading must fail with `status` and a message holding every needle. */
static void expect_rejection(const char *path, clnet_status status, const char *needle1,
                             const char *needle2) {
    clnet_graph *g = NULL;
    clnet_status got = clnet_import_onnx(path, &g);
    const char *message = clnet_last_error();
    if (got != status || g != NULL || !strstr(message, needle1) ||
        (needle2 && !strstr(message, needle2)))
        fail_msg("loading '%s': expected status '%s' with '%s'%s%s%s, got '%s': %s", path,
                 clnet_status_string(status), needle1, needle2 ? " and '" : "",
                 needle2 ? needle2 : "", needle2 ? "'" : "", clnet_status_string(got), message);
    clnet_graph_destroy(g);
}

static void grouped_convolution_is_unsupported_naming_node_and_attribute(void **state) {
    (void)state;
    expect_rejection(onnx_path("bad_group2", ".onnx"), CLNET_STATUS_UNSUPPORTED, "'grouped'",
                     "'group' = 3");
}

static void unknown_operator_is_unsupported_naming_it(void **state) {
    (void)state;
    expect_rejection(onnx_path("bad_unknown_op", ".onnx"), CLNET_STATUS_UNSUPPORTED, "'Foo'",
                     "'mystery'");
}

static void cycle_is_a_format_error_naming_a_node_on_it(void **state) {
    (void)state;
    expect_rejection(onnx_path("bad_cycle", ".onnx"), CLNET_STATUS_FORMAT_ERROR,
                     "cycle through node", NULL);
    const char *message = clnet_last_error();
    assert_true(strstr(message, "'first'") || strstr(message, "'second'"));
}

static void missing_initializer_is_a_format_error_naming_it(void **state) {
    (void)state;
    expect_rejection(onnx_path("bad_missing_initializer", ".onnx"), CLNET_STATUS_FORMAT_ERROR,
                     "node 'conv' reads 'conv.weight', which no node or initializer produces",
                     NULL);
}

static void raw_data_of_wrong_length_is_a_format_error(void **state) {
    (void)state;
    expect_rejection(onnx_path("bad_raw_length", ".onnx"), CLNET_STATUS_FORMAT_ERROR,
                     "initializer 'w'", "raw_data holds 428 bytes");
}

static void giant_dimensions_are_a_format_error(void **state) {
    (void)state;
    expect_rejection(onnx_path("bad_giant_dims", ".onnx"), CLNET_STATUS_FORMAT_ERROR,
                     "initializer 'w'", "more than 2^31 elements");
}

static void layout_changing_transpose_is_unsupported_naming_perm(void **state) {
    (void)state;
    expect_rejection(onnx_path("bad_transpose", ".onnx"), CLNET_STATUS_UNSUPPORTED,
                     "'to_nhwc'", "perm (0, 2, 3, 1)");
}

static void reflect_padding_is_unsupported(void **state) {
    (void)state;
    expect_rejection(onnx_path("bad_pad_reflect", ".onnx"), CLNET_STATUS_UNSUPPORTED,
                     "pad mode 'reflect'", NULL);
}

static void average_pool_counting_padding_is_unsupported(void **state) {
    (void)state;
    expect_rejection(onnx_path("bad_avgpool_include_pad", ".onnx"), CLNET_STATUS_UNSUPPORTED,
                     "count_include_pad", NULL);
}

static void missing_file_is_not_found(void **state) {
    (void)state;
    expect_rejection(test_scratch_path("absent.onnx"), CLNET_STATUS_NOT_FOUND, "absent.onnx", NULL);
}

static void every_truncation_is_a_format_error(void **state) {
    (void)state;
    size_t size;
    uint8_t *data = read_onnx_data(onnx_path("clip_new", ".onnx"), &size);
    const char *path = test_scratch_path("truncated.onnx");
    for (size_t cut = 1; cut < size; cut++) {
        test_write_file(path, data, cut);
        clnet_graph *g = NULL;
        clnet_status s = clnet_import_onnx(path, &g);
        if (s != CLNET_STATUS_FORMAT_ERROR || g)
            fail_msg("the first %zu of %zu bytes: status '%s': %s", cut, size,
                     clnet_status_string(s), clnet_last_error());
    }
    test_write_file(path, data, 0);
    expect_rejection(path, CLNET_STATUS_FORMAT_ERROR, "empty", NULL);
    free(data);
}

/* Single corrupted bytes must never crash or leak; most are rejected. */
static void corrupted_bytes_never_crash(void **state) {
    (void)state;
    size_t size;
    uint8_t *data = read_onnx_data(onnx_path("matmul", ".onnx"), &size);
    const char *path = test_scratch_path("corrupted.onnx");
    test_rng rng = {12345};
    static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x12, 0x3a};
    for (int trial = 0; trial < 600; trial++) {
        size_t at = (size_t)(test_rng_next(&rng) % size);
        uint8_t saved = data[at];
        data[at] = trial % 2 ? values[test_rng_next(&rng) % sizeof values]
                             : (uint8_t)test_rng_next(&rng);
        test_write_file(path, data, size);
        clnet_graph *g = NULL;
        clnet_status s = clnet_import_onnx(path, &g);
        assert_true(s == CLNET_STATUS_OK || clnet_last_error()[0] != '\0');
        assert_true((s == CLNET_STATUS_OK) == (g != NULL));
        clnet_graph_destroy(g);
        data[at] = saved;
    }
    free(data);
}

/* Protobuf helpers for hand-made files. */
typedef struct pb {
    uint8_t *data;
    size_t size, cap;
} pb;

static void pb_raw(pb *p, const void *bytes, size_t n) {
    if (n == 0)
        return;
    if (p->size + n > p->cap) {
        p->cap = 2 * (p->size + n) + 64;
        p->data = realloc(p->data, p->cap);
        assert_non_null(p->data);
    }
    memcpy(p->data + p->size, bytes, n);
    p->size += n;
}

static void pb_varint(pb *p, uint64_t v) {
    do {
        uint8_t b = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b |= 0x80;
        pb_raw(p, &b, 1);
    } while (v);
}

/* Wraps p's contents as length-delimited field `field` of a new message. */
static void pb_wrap(pb *p, int field) {
    pb outer = {0};
    pb_varint(&outer, (uint64_t)field << 3 | 2);
    pb_varint(&outer, p->size);
    pb_raw(&outer, p->data, p->size);
    free(p->data);
    *p = outer;
}

static void deeply_nested_subgraphs_are_a_format_error(void **state) {
    (void)state;
    /* graph { node { attribute { g { node { attribute { g ... } } } } } }, 2000 deep: a few
     * kilobytes that unpacked recursively would run deep into the stack. */
    pb p = {0};
    for (int level = 0; level < 2000; level++) {
        pb_wrap(&p, 6); /* AttributeProto.g */
        pb_wrap(&p, 5); /* NodeProto.attribute */
        pb_wrap(&p, 1); /* GraphProto.node */
    }
    pb_wrap(&p, 7); /* ModelProto.graph */
    pb model = {0};
    pb_varint(&model, 1 << 3); /* ir_version 8 */
    pb_varint(&model, 8);
    pb_raw(&model, p.data, p.size);
    const char *path = test_scratch_path("nested.onnx");
    test_write_file(path, model.data, model.size);
    expect_rejection(path, CLNET_STATUS_FORMAT_ERROR, "nests protobuf messages", NULL);
    free(p.data);
    free(model.data);
}

static void files_that_are_not_protobuf_are_a_format_error(void **state) {
    (void)state;
    const char *path = test_scratch_path("text.onnx");
    const char text[] = "\x08\x07 this is not a protobuf message at all";
    test_write_file(path, text, sizeof text - 1);
    expect_rejection(path, CLNET_STATUS_FORMAT_ERROR, "text.onnx", NULL);
}

/* ------------------------------------------------------------------------ */
/* Pretrained networks of the shared data                                   */

static float *run_real_model(const char *relative, const test_cifar *b) {
    const char *found = test_shared_data(relative);
    if (!found)
        return NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s", found);
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_load(path, NULL, &g));
    assert_int_equal(clnet_graph_output_count(g), 1);
    float *logits = test_alloc_poisoned((size_t)b->n * CLASSES);
    const float *inputs[1] = {b->x};
    float *outputs[1] = {logits};
    run_on_device(g, b->n, inputs, outputs);
    clnet_graph_destroy(g);
    return logits;
}

/* chenyaofo's ResNet-20 exported with batch 1 baked in, BN folded, opset 7. */
static void chenyaofo_resnet20_onnx_matches_pytorch_logits(void **state) {
    (void)state;
    enum { N = 100 };
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.2023f, 0.1994f, 0.2010f};
    const char *found = test_shared_data("reference_outputs/logits_chenyaofo_resnet20_sclbl.f32");
    if (!found)
        skip();
    /* test_shared_data reuses its buffer. */
    char ref[4096];
    snprintf(ref, sizeof ref, "%s", found);
    test_cifar b;
    const clnet_preprocess p = test_preprocess_mean_std(mean, std);
    test_cifar_load(N, &p, &b);
    float *expected = test_read_leading_floats(ref, N * CLASSES);
    float *got = run_real_model("weights/scailable_sclbl-tutorials/cifar10-resnet20.onnx", &b);
    if (!got) {
        free(expected);
        test_cifar_free(&b);
        skip();
    }
    test_assert_close("cifar10-resnet20.onnx vs PyTorch", expected, got, N * CLASSES, 1e-4);
    free(expected);
    free(got);
    test_cifar_free(&b);
}

/* Amandashi95's ResNet-20: BN not folded, a computed flatten, opset 9. No reference logits
 * exist; its accuracy on the whole set is 81.39 %. */
static void amandashi95_resnet20_onnx_reaches_its_accuracy(void **state) {
    (void)state;
    enum { N = 500 };
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.2470f, 0.2435f, 0.2616f};
    test_cifar b;
    const clnet_preprocess p = test_preprocess_mean_std(mean, std);
    test_cifar_load(N, &p, &b);
    float *got = run_real_model("weights/Amandashi95_onnc/resnet20.onnx", &b);
    if (!got) {
        test_cifar_free(&b);
        skip();
    }
    int correct = 0;
    for (int i = 0; i < N; i++) {
        int best = 0;
        for (int c = 1; c < CLASSES; c++)
            if (got[i * CLASSES + c] > got[i * CLASSES + best])
                best = c;
        correct += best == b.labels[i];
    }
    double accuracy = 100.0 * correct / N;
    print_message("resnet20.onnx (Amandashi95): %.1f %% on the first %d images\n", accuracy, N);
    assert_true(accuracy > 81.4 - 3.0 && accuracy < 81.4 + 3.0);
    free(got);
    test_cifar_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(convolutions_with_pads_strides_dilations_and_auto_pad_match_onnxruntime),
        cmocka_unit_test(batchnorm_matches_onnxruntime),
        cmocka_unit_test(
            arithmetic_with_constants_and_tensors_in_shuffled_order_matches_onnxruntime),
        cmocka_unit_test(pooling_concat_and_flatten_match_onnxruntime),
        cmocka_unit_test(gemm_after_a_computed_reshape_matches_onnxruntime),
        cmocka_unit_test(matmul_with_bias_gemm_and_softmax_match_onnxruntime),
        cmocka_unit_test(opset7_batch1_with_typed_initializers_as_inputs_matches_onnxruntime),
        cmocka_unit_test(pad_and_slice_with_steps_match_onnxruntime),
        cmocka_unit_test(pad_and_slice_attributes_of_opset9_match_onnxruntime),
        cmocka_unit_test(clip_attributes_and_sigmoid_of_opset9_match_onnxruntime),
        cmocka_unit_test(clip_inputs_of_opset13_match_onnxruntime),
        cmocka_unit_test(one_network_in_opsets_7_to_17_matches_onnxruntime),
        cmocka_unit_test(layers_take_unique_node_names_or_op_and_index),
        cmocka_unit_test(shape_arithmetic_is_folded_away),
        cmocka_unit_test(matmul_and_bias_add_become_one_dense_layer),
        cmocka_unit_test(arithmetic_with_constants_becomes_channel_affine),
        cmocka_unit_test(grouped_convolution_is_unsupported_naming_node_and_attribute),
        cmocka_unit_test(unknown_operator_is_unsupported_naming_it),
        cmocka_unit_test(cycle_is_a_format_error_naming_a_node_on_it),
        cmocka_unit_test(missing_initializer_is_a_format_error_naming_it),
        cmocka_unit_test(raw_data_of_wrong_length_is_a_format_error),
        cmocka_unit_test(giant_dimensions_are_a_format_error),
        cmocka_unit_test(layout_changing_transpose_is_unsupported_naming_perm),
        cmocka_unit_test(reflect_padding_is_unsupported),
        cmocka_unit_test(average_pool_counting_padding_is_unsupported),
        cmocka_unit_test(missing_file_is_not_found),
        cmocka_unit_test(every_truncation_is_a_format_error),
        cmocka_unit_test(corrupted_bytes_never_crash),
        cmocka_unit_test(deeply_nested_subgraphs_are_a_format_error),
        cmocka_unit_test(files_that_are_not_protobuf_are_a_format_error),
        cmocka_unit_test(chenyaofo_resnet20_onnx_matches_pytorch_logits),
        cmocka_unit_test(amandashi95_resnet20_onnx_reaches_its_accuracy),
    };
    return cmocka_run_group_tests(tests, make_scratch_dir, remove_scratch_dir);
}
