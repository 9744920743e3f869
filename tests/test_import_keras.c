/* The Keras HDF5 importer: small tf.keras models (tools/make_test_keras_models.py) against
 * TensorFlow's outputs, malformed and hostile files, and the pretrained CIFAR-10 files of the
 * shared data against their reference logits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "import.h"

#define SMALL_BATCH     2    /* images per input in the .bin files of the small models */
#define SMALL_TOLERANCE 1e-5 /* device against TensorFlow, on the small models */
#define REAL_IMAGES     100  /* first images of test_batch.bin compared for real files */
#define REAL_TOLERANCE  1e-4 /* relative to the largest reference logit of the batch */
#define CIFAR_CLASSES   10
#define CIFAR_PIXELS    (3 * 32 * 32)

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

static char *copy_path(const char *path) {
    assert_non_null(path);
    char *p = malloc(strlen(path) + 1);
    assert_non_null(p);
    strcpy(p, path);
    return p;
}

static clnet_graph *load_small(const char *name) {
    char file[256];
    snprintf(file, sizeof file, "keras/%s.h5", name);
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_load(test_data_path(file), NULL, &g));
    return g;
}

/* Runs a small model's fixed inputs on the device and on the host reference, and compares
 * both with TensorFlow's outputs. */
static void check_small_model(const char *name) {
    test_context(); /* skips, without a device, before anything is allocated */
    clnet_graph *g = load_small(name);
    int n_in = clnet_graph_input_count(g), n_out = clnet_graph_output_count(g);
    assert_true(n_in >= 1 && n_in <= 4 && n_out >= 1 && n_out <= 4);

    float *inputs[4] = {NULL}, *expected[4] = {NULL}, *got[4] = {NULL}, *host[4] = {NULL};
    size_t out_count[4];
    char file[256];
    for (int i = 0; i < n_in; i++) {
        clnet_shape s;
        TEST_OK(clnet_tensor_shape(g, clnet_graph_input_at(g, i), &s));
        snprintf(file, sizeof file, "keras/%s.in%d.bin", name, i);
        inputs[i] = test_read_floats(test_data_path(file), SMALL_BATCH * clnet_shape_size(s));
    }
    for (int i = 0; i < n_out; i++) {
        clnet_shape s;
        TEST_OK(clnet_tensor_shape(g, clnet_graph_output_at(g, i), &s));
        out_count[i] = SMALL_BATCH * clnet_shape_size(s);
        snprintf(file, sizeof file, "keras/%s.out%d.bin", name, i);
        expected[i] = test_read_floats(test_data_path(file), out_count[i]);
        got[i] = test_alloc_poisoned(out_count[i]);
        host[i] = test_alloc_poisoned(out_count[i]);
    }

    TEST_OK(clnet_graph_run_reference(g, SMALL_BATCH, (const float *const *)inputs, host));
    test_run_on_device(g, NULL, SMALL_BATCH, (const float *const *)inputs, got);
    for (int i = 0; i < n_out; i++) {
        char what[300];
        snprintf(what, sizeof what, "%s output %d (host reference)", name, i);
        test_assert_close(what, expected[i], host[i], out_count[i], SMALL_TOLERANCE);
        snprintf(what, sizeof what, "%s output %d (device)", name, i);
        test_assert_close(what, expected[i], got[i], out_count[i], SMALL_TOLERANCE);
    }

    for (int i = 0; i < 4; i++) {
        free(inputs[i]);
        free(expected[i]);
        free(got[i]);
        free(host[i]);
    }
    clnet_graph_destroy(g);
}

/* How many nodes of the graph call the layer. */
static int call_count(const clnet_graph *g, const clnet_layer *layer) {
    int n = 0;
    for (int i = 0; i < clnet_graph_node_count(g); i++) {
        clnet_node_info info;
        TEST_OK(clnet_graph_node_info(g, i, &info));
        n += info.layer == layer;
    }
    return n;
}

static void expect_rejected(const char *file, clnet_status status, const char *needle) {
    char rel[256];
    snprintf(rel, sizeof rel, "keras/%s", file);
    clnet_graph *g = NULL;
    TEST_FAILS(status, needle, clnet_model_load(test_data_path(rel), NULL, &g));
    assert_null(g);
}

/* A real file of the shared data: the logits of the first images (the final softmax
 * stripped) against the reference, on the device. */
typedef struct real_case {
    const char *model;
    const char *arch;
    const char *reference;
    int raw;                /* 0-255 pixels */
    const char *mean_image; /* float32 [3][32][32] subtracted after scaling, or NULL */
    int images;
} real_case;

static void check_real_file(const real_case *rc) {
    const char *p = test_shared_data(rc->model);
    if (!p)
        skip();
    char *model = copy_path(p);
    p = test_shared_data(rc->reference);
    if (!p)
        skip();
    char *reference = copy_path(p);
    float *mean = NULL;
    if (rc->mean_image) {
        p = test_shared_data(rc->mean_image);
        if (!p)
            skip();
        mean = test_read_floats(p, CIFAR_PIXELS);
    }
    clnet_preprocess pre = clnet_preprocess_defaults();
    pre.raw = rc->raw;
    pre.mean_image = mean;
    test_cifar b;
    test_cifar_load(rc->images, &pre, &b);
    int n = b.n;
    test_context(); /* skips, without a device, before the model is loaded */

    clnet_graph *g = NULL;
    TEST_OK(clnet_model_load(model, rc->arch, &g));
    int removed = 0;
    TEST_OK(clnet_graph_strip_final_softmax(g, &removed));
    assert_int_equal(removed, 1);

    /* The reference file holds all 10,000 images; only the first n are compared. */
    float *expected = test_read_leading_floats(reference, (size_t)n * CIFAR_CLASSES);

    float *got = test_alloc_poisoned((size_t)n * CIFAR_CLASSES);
    const float *in[1] = {b.x};
    float *out[1] = {got};
    test_run_on_device(g, NULL, n, in, out);
    test_assert_close(rc->model, expected, got, (size_t)n * CIFAR_CLASSES, REAL_TOLERANCE);

    clnet_graph_destroy(g);
    free(got);
    free(expected);
    test_cifar_free(&b);
    free(mean);
    free(reference);
    free(model);
}

/* ------------------------------------------------------------------------ */
/* Small models against TensorFlow                                           */

static void keras3_functional_model_with_shared_layers_matches_tensorflow(void **state) {
    (void)state;
    check_small_model("functional_shared");
}

static void keras2_list_format_of_the_same_model_matches_tensorflow(void **state) {
    (void)state;
    check_small_model("functional_shared_keras2");
}

static void sequential_model_matches_tensorflow(void **state) {
    (void)state;
    check_small_model("sequential");
}

static void every_supported_layer_matches_tensorflow(void **state) {
    (void)state;
    check_small_model("every_layer");
}

static void channels_first_model_matches_tensorflow(void **state) {
    (void)state;
    check_small_model("channels_first");
}

static void weights_are_found_by_name_without_a_weight_names_list(void **state) {
    (void)state;
    check_small_model("tiny");
    check_small_model("tiny_no_weight_names");
}

static void shared_keras_layers_become_one_clnet_layer_called_twice(void **state) {
    (void)state;
    const char *names[2] = {"functional_shared", "functional_shared_keras2"};
    for (int i = 0; i < 2; i++) {
        clnet_graph *g = load_small(names[i]);
        clnet_layer *conv = NULL, *bn = NULL;
        TEST_OK(clnet_graph_find_layer(g, "shared_conv", &conv));
        TEST_OK(clnet_graph_find_layer(g, "shared_bn", &bn));
        assert_int_equal(clnet_layer_op(conv), CLNET_OP_CONV2D);
        assert_int_equal(call_count(g, conv), 2);
        assert_int_equal(call_count(g, bn), 2);
        clnet_graph_destroy(g);
    }
}

static void inputs_outputs_and_layer_names_follow_the_keras_model(void **state) {
    (void)state;
    clnet_graph *g = load_small("functional_shared");
    assert_int_equal(clnet_graph_input_count(g), 2);
    assert_int_equal(clnet_graph_output_count(g), 2);
    clnet_node_info info;
    TEST_OK(clnet_graph_node_info(g, clnet_graph_input_at(g, 0).id, &info));
    assert_string_equal(info.name, "image_a");
    assert_int_equal(info.output_shape.c, 3);
    assert_int_equal(info.output_shape.h, 8);
    TEST_OK(clnet_graph_node_info(g, clnet_graph_input_at(g, 1).id, &info));
    assert_string_equal(info.name, "image_b");
    TEST_OK(clnet_graph_node_info(g, clnet_graph_output_at(g, 0).id, &info));
    assert_string_equal(info.name, "head_a");
    TEST_OK(clnet_graph_node_info(g, clnet_graph_output_at(g, 1).id, &info));
    assert_string_equal(info.name, "head_b");

    /* A Sequential model without names of its own gets Keras' automatic ones. */
    clnet_graph_destroy(g);
    g = load_small("sequential");
    clnet_layer *layer = NULL;
    TEST_OK(clnet_graph_find_layer(g, "zero_padding2d", &layer));
    assert_int_equal(clnet_layer_op(layer), CLNET_OP_PAD);
    TEST_OK(clnet_graph_find_layer(g, "re_lu", &layer));
    assert_int_equal(clnet_layer_op(layer), CLNET_OP_CLIP);
    clnet_graph_destroy(g);
}

/* ------------------------------------------------------------------------ */
/* Malformed and hostile files                                               */

static void rejects_a_truncated_file(void **state) {
    (void)state;
    expect_rejected("hostile_truncated.h5", CLNET_STATUS_FORMAT_ERROR, "hostile_truncated.h5");
}

static void rejects_an_unknown_layer_class_naming_layer_and_class(void **state) {
    (void)state;
    expect_rejected("hostile_unknown_class.h5", CLNET_STATUS_UNSUPPORTED,
                    "layer 'conv2' is of class 'LocallyConnected2D'");
}

static void rejects_a_missing_weight_dataset_naming_its_path(void **state) {
    (void)state;
    expect_rejected("hostile_missing_weight.h5", CLNET_STATUS_FORMAT_ERROR,
                    "/model_weights/conv/conv/kernel");
}

static void rejects_a_weight_of_the_wrong_shape(void **state) {
    (void)state;
    expect_rejected("hostile_wrong_shape.h5", CLNET_STATUS_FORMAT_ERROR,
                    "has shape (3, 3, 2, 4), expected (3, 3, 2, 3)");
}

static void rejects_cyclic_inbound_nodes(void **state) {
    (void)state;
    expect_rejected("hostile_cycle.h5", CLNET_STATUS_FORMAT_ERROR, "cycle");
}

static void rejects_malformed_json(void **state) {
    (void)state;
    expect_rejected("hostile_bad_json.h5", CLNET_STATUS_FORMAT_ERROR, "not valid JSON");
}

static void rejects_a_reference_to_an_unknown_layer(void **state) {
    (void)state;
    expect_rejected("hostile_unknown_ref.h5", CLNET_STATUS_FORMAT_ERROR, "unknown layer 'nowhere'");
}

static void rejects_an_input_too_large_to_hold(void **state) {
    (void)state;
    expect_rejected("hostile_huge_input.h5", CLNET_STATUS_FORMAT_ERROR, "too large");
}

static void rejects_an_unsupported_activation_naming_it(void **state) {
    (void)state;
    expect_rejected("hostile_unknown_activation.h5", CLNET_STATUS_UNSUPPORTED,
                    "layer 'conv' (Conv2D): activation 'tanh' is not supported");
}

static void rejects_a_flatten_feeding_other_layers_than_dense(void **state) {
    (void)state;
    expect_rejected("hostile_flatten_into_bn.h5", CLNET_STATUS_UNSUPPORTED,
                    "layer 'dense' (BatchNormalization) takes features flattened");
}

static void rejects_a_kernel_too_large_to_allocate(void **state) {
    (void)state;
    expect_rejected("hostile_huge_conv.h5", CLNET_STATUS_INVALID_ARGUMENT, "too large");
}

static void weights_only_file_needs_an_architecture(void **state) {
    (void)state;
    expect_rejected("weights_only_mismatch.h5", CLNET_STATUS_INVALID_ARGUMENT,
                    "name its architecture");
}

static void weights_of_another_architecture_are_rejected_naming_both_layers(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_FAILS(
        CLNET_STATUS_SHAPE_MISMATCH,
        "the file's layer 'conv2d_1' has a kernel of shape (3, 3, 3, 8), but layer "
        "'conv2d' of 'resnet20v1' needs (3, 3, 3, 16)",
        clnet_import_hdf5(test_data_path("keras/weights_only_mismatch.h5"), "resnet20v1", &g));
    assert_null(g);
    TEST_FAILS(
        CLNET_STATUS_NOT_FOUND, "resnet21q",
        clnet_import_hdf5(test_data_path("keras/weights_only_mismatch.h5"), "resnet21q", &g));
    assert_null(g);
}

static void real_keras_files_of_other_architectures_are_rejected(void **state) {
    (void)state;
    const char *p =
        test_shared_data("weights/schoyc_blackbox-detection/cifar10_ResNet20v1_model.h5");
    if (!p)
        skip();
    char *path = copy_path(p);
    clnet_graph *g = NULL;
    TEST_FAILS(CLNET_STATUS_SHAPE_MISMATCH, "layer 'conv2d_8' has a kernel of shape",
               clnet_model_load(path, "resnet32v1", &g));
    TEST_FAILS(CLNET_STATUS_SHAPE_MISMATCH, "resnet20v2", clnet_model_load(path, "resnet20v2", &g));
    assert_null(g);
    free(path);
}

/* ------------------------------------------------------------------------ */
/* The pretrained CIFAR-10 files                                             */

static void schoyc_keras_resnet20v1_matches_reference_logits(void **state) {
    (void)state;
    real_case rc = {"weights/schoyc_blackbox-detection/cifar10_ResNet20v1_model.h5",
                    NULL,
                    "reference_outputs/logits_keras_schoyc_ResNet20v1.f32",
                    0,
                    NULL,
                    REAL_IMAGES};
    check_real_file(&rc);
}

static void jyunmau_keras_resnet20v1_matches_reference_logits(void **state) {
    (void)state;
    real_case rc = {"weights/Jyunmau_IMG-REC/cifar10_ResNet20v1_model.045.h5",
                    NULL,
                    "reference_outputs/logits_keras_Jyunmau_ResNet20v1_045.f32",
                    0,
                    "cifar10/train_mean_from_jpeg_chw_f32.bin",
                    REAL_IMAGES};
    check_real_file(&rc);
}

static void keras_book_file_loads_into_the_builtin_resnet20v1(void **state) {
    (void)state;
    real_case rc = {"weights/schoyc_blackbox-detection/cifar10_ResNet20v1_model.h5",
                    "resnet20v1",
                    "reference_outputs/logits_keras_schoyc_ResNet20v1.f32",
                    0,
                    NULL,
                    REAL_IMAGES};
    check_real_file(&rc);
}

static void theano_densenet_fast_matches_reference_logits(void **state) {
    (void)state;
    real_case rc = {"weights/titu1994_DenseNet/DenseNet-Fast-40-12-CIFAR10.h5",
                    "densenet40fast",
                    "reference_outputs/logits_titu1994_DenseNet-Fast-40-12.f32",
                    1,
                    NULL,
                    REAL_IMAGES};
    check_real_file(&rc);
}

static void densenet_fast_builder_matches_the_keras1_model(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_densenet_fast(40, 12, 10, &g));
    /* Every stored value of the Keras 1 file, BN statistics included. */
    assert_int_equal(clnet_graph_param_count(g), 1003546);
    clnet_layer *layer = NULL;
    TEST_OK(clnet_graph_find_layer(g, "convolution2d_13", &layer));
    clnet_weight_info w;
    TEST_OK(clnet_layer_weight(layer, 0, &w));
    assert_int_equal(w.dims[0], 160);
    assert_int_equal(w.dims[1], 160);
    assert_int_equal(w.dims[2], 1);
    TEST_OK(clnet_graph_find_layer(g, "dense_1", &layer));
    TEST_OK(clnet_layer_weight(layer, 0, &w));
    assert_int_equal(w.dims[1], 448);
    clnet_shape s;
    TEST_OK(clnet_tensor_shape(g, clnet_graph_output_at(g, 0), &s));
    assert_int_equal(s.c, 10);
    clnet_graph_destroy(g);

    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "3n+4", clnet_model_densenet_fast(41, 12, 10, &g));
    assert_null(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keras3_functional_model_with_shared_layers_matches_tensorflow),
        cmocka_unit_test(keras2_list_format_of_the_same_model_matches_tensorflow),
        cmocka_unit_test(sequential_model_matches_tensorflow),
        cmocka_unit_test(every_supported_layer_matches_tensorflow),
        cmocka_unit_test(channels_first_model_matches_tensorflow),
        cmocka_unit_test(weights_are_found_by_name_without_a_weight_names_list),
        cmocka_unit_test(shared_keras_layers_become_one_clnet_layer_called_twice),
        cmocka_unit_test(inputs_outputs_and_layer_names_follow_the_keras_model),
        cmocka_unit_test(rejects_a_truncated_file),
        cmocka_unit_test(rejects_an_unknown_layer_class_naming_layer_and_class),
        cmocka_unit_test(rejects_a_missing_weight_dataset_naming_its_path),
        cmocka_unit_test(rejects_a_weight_of_the_wrong_shape),
        cmocka_unit_test(rejects_cyclic_inbound_nodes),
        cmocka_unit_test(rejects_malformed_json),
        cmocka_unit_test(rejects_a_reference_to_an_unknown_layer),
        cmocka_unit_test(rejects_an_input_too_large_to_hold),
        cmocka_unit_test(rejects_an_unsupported_activation_naming_it),
        cmocka_unit_test(rejects_a_flatten_feeding_other_layers_than_dense),
        cmocka_unit_test(rejects_a_kernel_too_large_to_allocate),
        cmocka_unit_test(weights_only_file_needs_an_architecture),
        cmocka_unit_test(weights_of_another_architecture_are_rejected_naming_both_layers),
        cmocka_unit_test(real_keras_files_of_other_architectures_are_rejected),
        cmocka_unit_test(densenet_fast_builder_matches_the_keras1_model),
        cmocka_unit_test(schoyc_keras_resnet20v1_matches_reference_logits),
        cmocka_unit_test(jyunmau_keras_resnet20v1_matches_reference_logits),
        cmocka_unit_test(keras_book_file_loads_into_the_builtin_resnet20v1),
        cmocka_unit_test(theano_densenet_fast_matches_reference_logits),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    test_context_release();
    return failed;
}
