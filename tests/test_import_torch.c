/* PyTorch state dicts: small ResNet-8s saved by PyTorch in both torch.save formats, the
 * pretrained CIFAR-10 ResNets of the shared data against PyTorch's logits, and truncated,
 * corrupted and hostile files built here byte by byte. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "test_util.h"

#include "import.h"

#define CIFAR_IMAGE (3 * 32 * 32)
#define CLASSES     10

/* ------------------------------------------------------------------------ */
/* Scratch files                                                            */

static int make_scratch_dir(void **state) {
    (void)state;
    return test_scratch_create("import-torch");
}

static int remove_scratch_dir(void **state) {
    (void)state;
    test_scratch_remove();
    test_context_release();
    return 0;
}

/* Copies a committed file of tests/data/torch to the scratch folder. */
static const char *scratch_copy(const char *data_name, const char *scratch_name) {
    size_t size;
    uint8_t *bytes = test_read_file(test_data_path(data_name), &size);
    const char *path = test_scratch_path(scratch_name);
    test_write_file(path, bytes, size);
    free(bytes);
    return path;
}

/* ------------------------------------------------------------------------ */
/* Running a loaded network                                                 */

static void run_on_device(const clnet_graph *g, int n, const float *x, float *y) {
    const float *inputs[1] = {x};
    float *outputs[1] = {y};
    test_run_on_device(g, NULL, n, inputs, outputs);
}

/* Loads a small file made by tools/make_test_torch_models.py and compares its logits on the
 * committed input with PyTorch's, on the host reference and on the device. */
static void check_small_model(const char *path, const char *arch, const char *logits_name) {
    enum { N = 2 };
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_load(path, arch, &g));
    float *x = test_read_floats(test_data_path("torch/input.bin"), N * CIFAR_IMAGE);
    float *expected = test_read_floats(test_data_path(logits_name), N * CLASSES);
    float *got = test_alloc_poisoned(N * CLASSES);

    const float *inputs[1] = {x};
    float *outputs[1] = {got};
    TEST_OK(clnet_graph_run_reference(g, N, inputs, outputs));
    test_assert_close("host reference logits vs PyTorch", expected, got, N * CLASSES, 1e-5);
    for (int i = 0; i < N * CLASSES; i++)
        got[i] = TEST_POISON;
    run_on_device(g, N, x, got);
    test_assert_close("device logits vs PyTorch", expected, got, N * CLASSES, 1e-5);

    free(x);
    free(expected);
    free(got);
    clnet_graph_destroy(g);
}

static void option_a_legacy_file_with_module_prefix_matches_pytorch(void **state) {
    (void)state;
    check_small_model(test_data_path("torch/resnet8a_legacy.th"), "resnet8a",
                      "torch/resnet8a_logits.bin");
}

static void option_b_zip_file_matches_pytorch(void **state) {
    (void)state;
    check_small_model(test_data_path("torch/resnet8b.pth"), "resnet8b",
                      "torch/resnet8b_logits.bin");
}

/* ------------------------------------------------------------------------ */
/* Architectures                                                            */

static int has_layer(const clnet_graph *g, const char *name) {
    clnet_layer *layer;
    return clnet_graph_find_layer(g, name, &layer) == CLNET_STATUS_OK;
}

static void builtin_torch_resnets_are_named_like_state_dicts(void **state) {
    (void)state;
    clnet_graph *a = NULL, *b = NULL;
    TEST_OK(clnet_model_builtin("resnet20a", 1, &a));
    TEST_OK(clnet_model_builtin("resnet20b", 1, &b));
    const char *both[] = {"conv1",          "bn1",         "layer1.0.conv1", "layer1.2.bn2",
                          "layer2.0.conv1", "layer3.2.bn2"};
    for (size_t i = 0; i < sizeof both / sizeof both[0]; i++) {
        assert_true(has_layer(a, both[i]));
        assert_true(has_layer(b, both[i]));
    }
    assert_true(has_layer(a, "linear"));
    assert_false(has_layer(a, "layer2.0.downsample.0"));
    assert_true(has_layer(b, "fc"));
    assert_true(has_layer(b, "layer2.0.downsample.0"));
    assert_true(has_layer(b, "layer3.0.downsample.1"));
    assert_false(has_layer(b, "layer1.0.downsample.0"));

    /* PyTorch counts 0.27M parameters for ResNet-20 A, plus BN statistics counted here. */
    clnet_shape shape;
    TEST_OK(clnet_tensor_shape(a, clnet_graph_output_at(a, 0), &shape));
    assert_int_equal(shape.c, CLASSES);
    assert_int_equal(clnet_graph_param_count(a), 271098);
    assert_int_equal(clnet_graph_param_count(b), 274042);
    clnet_graph_destroy(a);
    clnet_graph_destroy(b);

    clnet_graph *g = NULL;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "6n+2", clnet_model_torch_resnet(21, 0, 10, &g));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "classes", clnet_model_torch_resnet(20, 1, 0, &g));
    assert_null(g);
}

/* Option A's shortcut is x[:, :, ::2, ::2] with planes / 4 zero channels on each side. */
static void option_a_shortcut_subsamples_and_pads_channels(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_torch_resnet(8, 0, 10, &g));
    clnet_layer *pad_layer;
    TEST_OK(clnet_graph_find_layer(g, "layer2.0.shortcut.pad", &pad_layer));
    int pad_node = -1;
    for (int i = 0; i < clnet_graph_node_count(g); i++) {
        clnet_node_info info;
        TEST_OK(clnet_graph_node_info(g, i, &info));
        if (info.layer == pad_layer)
            pad_node = i;
    }
    assert_true(pad_node >= 0);
    clnet_node_info info;
    TEST_OK(clnet_graph_node_info(g, pad_node, &info));
    assert_int_equal(info.output_shape.c, 32);
    assert_int_equal(info.output_shape.h, 16);
    clnet_graph_destroy(g);
}

/* ------------------------------------------------------------------------ */
/* Pretrained networks of the shared data                                   */

typedef struct real_model {
    const char *file;
    const char *arch;
    const char *logits;
    int imagenet_normalisation;
    int images;
} real_model;

static void check_real_model(const real_model *m) {
    const char *found = test_shared_data(m->file);
    if (!found)
        skip();
    char path[4096];
    snprintf(path, sizeof path, "%s", found);

    /* Normalisation as in the README of the shared data. */
    const float imagenet[2][3] = {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
    const float cifar[2][3] = {{0.4914f, 0.4822f, 0.4465f}, {0.2023f, 0.1994f, 0.2010f}};
    const float(*norm)[3] = m->imagenet_normalisation ? imagenet : cifar;
    const clnet_preprocess p = test_preprocess_mean_std(norm[0], norm[1]);
    test_cifar b;
    test_cifar_load(m->images, &p, &b);
    int n = b.n;

    const char *logits = test_shared_data(m->logits);
    assert_non_null(logits);
    float *expected = test_read_leading_floats(logits, (size_t)n * CLASSES);

    clnet_graph *g = NULL;
    TEST_OK(clnet_model_load(path, m->arch, &g));
    float *got = test_alloc_poisoned((size_t)n * CLASSES);
    run_on_device(g, n, b.x, got);
    test_assert_close(m->file, expected, got, (size_t)n * CLASSES, 1e-4);

    test_cifar_free(&b);
    free(expected);
    free(got);
    clnet_graph_destroy(g);
}

#define AKAMASTER(depth, hash, count)                                                              \
    {                                                                                              \
        "weights/akamaster_pytorch_resnet_cifar10/resnet" #depth "-" hash ".th",                   \
            "resnet" #depth "a",                                                                   \
            "reference_outputs/logits_akamaster_resnet" #depth "-" hash ".f32", 1, count           \
    }

static void akamaster_resnet20_matches_pytorch(void **state) {
    (void)state;
    const real_model m = AKAMASTER(20, "12fca82f", 100);
    check_real_model(&m);
}

static void akamaster_resnet32_matches_pytorch(void **state) {
    (void)state;
    const real_model m = AKAMASTER(32, "d509ac18", 100);
    check_real_model(&m);
}

static void akamaster_resnet44_matches_pytorch(void **state) {
    (void)state;
    const real_model m = AKAMASTER(44, "014dd654", 100);
    check_real_model(&m);
}

static void akamaster_resnet56_matches_pytorch(void **state) {
    (void)state;
    const real_model m = AKAMASTER(56, "4bfd9763", 50);
    check_real_model(&m);
}

static void chenyaofo_resnet20_matches_pytorch(void **state) {
    (void)state;
    const real_model m = {"weights/scailable_sclbl-tutorials/cifar10-resnet20.pth", "resnet20b",
                          "reference_outputs/logits_chenyaofo_resnet20_sclbl.f32", 0, 100};
    check_real_model(&m);
}

/* The logits published with the tutorial, from the PNG file itself. */
static void chenyaofo_resnet20_reproduces_published_horse5_logits(void **state) {
    (void)state;
    const char *found = test_shared_data("weights/scailable_sclbl-tutorials/cifar10-resnet20.pth");
    if (!found)
        skip();
    char model[4096];
    snprintf(model, sizeof model, "%s", found);
    const char *png = test_shared_data("cifar10/samples_sclbl_tutorials/horse5.png");
    if (!png)
        skip();
    uint8_t *pixels = NULL;
    int h = 0, w = 0;
    TEST_OK(clnet_image_read(png, &pixels, &h, &w));
    assert_int_equal(h, 32);
    assert_int_equal(w, 32);
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.2023f, 0.1994f, 0.2010f};
    const clnet_preprocess p = test_preprocess_mean_std(mean, std);
    float x[CIFAR_IMAGE];
    TEST_OK(clnet_preprocess_images(&p, pixels, 1, 3, 32, 32, x));
    free(pixels);

    const float published[CLASSES] = {-6.317009f, 0.40259752f, -3.2693486f, -2.8926182f,
                                      6.9177303f, -2.1800907f, -4.8414507f, 20.078842f,
                                      -5.91668f,  -1.9814433f};
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_load(model, "resnet20b", &g));
    float got[CLASSES];
    run_on_device(g, 1, x, got);
    test_assert_close("horse5.png logits", published, got, CLASSES, 1e-4);
    clnet_graph_destroy(g);
}

/* ------------------------------------------------------------------------ */
/* Mismatched architectures                                                 */

static void option_b_weights_into_option_a_name_the_extra_key(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_FAILS(CLNET_STATUS_FORMAT_ERROR, "layer2.0.downsample.0.weight",
               clnet_model_load(test_data_path("torch/resnet8b.pth"), "resnet8a", &g));
    assert_null(g);
}

static void deeper_architecture_names_the_missing_key(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_FAILS(CLNET_STATUS_FORMAT_ERROR, "layer1.1.conv1.weight",
               clnet_model_load(test_data_path("torch/resnet8a_legacy.th"), "resnet14a", &g));
    assert_null(g);
}

static void state_dict_needs_an_architecture_that_exists(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    const char *path = test_data_path("torch/resnet8b.pth");
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "architecture", clnet_model_load(path, NULL, &g));
    TEST_FAILS(CLNET_STATUS_NOT_FOUND, "resnet8c", clnet_model_load(path, "resnet8c", &g));
    TEST_FAILS(CLNET_STATUS_NOT_FOUND, NULL,
               clnet_import_torch(test_scratch_path("no-such-file.pth"), "resnet8b", &g));
    assert_null(g);
}

/* ------------------------------------------------------------------------ */
/* Pickles written byte by byte                                             */

typedef struct pk {
    uint8_t data[16384];
    size_t n;
} pk;

static void pk_bytes(pk *p, const void *bytes, size_t n) {
    assert_true(p->n + n <= sizeof p->data);
    memcpy(p->data + p->n, bytes, n);
    p->n += n;
}

static void pk_op(pk *p, uint8_t op) {
    pk_bytes(p, &op, 1);
}

static void pk_le(pk *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++)
        pk_op(p, (uint8_t)(v >> (8 * i)));
}

static void pk_str(pk *p, const char *s) {
    pk_op(p, 'X');
    pk_le(p, strlen(s), 4);
    pk_bytes(p, s, strlen(s));
}

static void pk_int(pk *p, int64_t v) {
    pk_op(p, 0x8a); /* LONG1 of 8 bytes */
    pk_op(p, 8);
    pk_le(p, (uint64_t)v, 8);
}

static void pk_global(pk *p, const char *module, const char *name) {
    pk_op(p, 'c');
    pk_bytes(p, module, strlen(module));
    pk_op(p, '\n');
    pk_bytes(p, name, strlen(name));
    pk_op(p, '\n');
}

static void pk_ints_tuple(pk *p, int rank, const int64_t *v) {
    pk_op(p, '(');
    for (int i = 0; i < rank; i++)
        pk_int(p, v[i]);
    pk_op(p, 't');
}

/* torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()). */
typedef struct tensor_spec {
    const char *storage_class; /* "FloatStorage" */
    const char *key;
    int64_t numel, offset;
    int rank;
    int64_t sizes[4], strides[4];
} tensor_spec;

static void pk_tensor(pk *p, const tensor_spec *t) {
    pk_global(p, "torch._utils", "_rebuild_tensor_v2");
    pk_op(p, '(');
    pk_op(p, '(');
    pk_str(p, "storage");
    pk_global(p, "torch", t->storage_class);
    pk_str(p, t->key);
    pk_str(p, "cpu");
    pk_int(p, t->numel);
    pk_op(p, 't');
    pk_op(p, 'Q');
    pk_int(p, t->offset);
    pk_ints_tuple(p, t->rank, t->sizes);
    pk_ints_tuple(p, t->rank, t->strides);
    pk_op(p, 0x89);
    pk_global(p, "collections", "OrderedDict");
    pk_op(p, ')');
    pk_op(p, 'R');
    pk_op(p, 't');
    pk_op(p, 'R');
}

/* conv1.weight of the torch ResNets: [16, 3, 3, 3], contiguous, in storage key. */
static tensor_spec conv1_spec(const char *key) {
    tensor_spec t = {"FloatStorage", key, 432, 0, 4, {16, 3, 3, 3}, {27, 9, 3, 1}};
    return t;
}

static void pk_begin_dict(pk *p) {
    pk_global(p, "collections", "OrderedDict");
    pk_op(p, ')');
    pk_op(p, 'R');
    pk_op(p, '(');
}

static void pk_begin_state_dict(pk *p) {
    pk_op(p, 0x80);
    pk_op(p, 2);
    pk_global(p, "collections", "OrderedDict");
    pk_op(p, ')');
    pk_op(p, 'R');
    pk_op(p, '(');
}

static void pk_end_state_dict(pk *p) {
    pk_op(p, 'u');
    pk_op(p, '.');
}

/* A legacy torch.save file around an object pickle: magic, protocol version, system
 * information, the object, the storage keys, then each storage: its count numels[i] and at
 * most MAX_WRITTEN elements of elem_size bytes (all 0x3f: about 0.75 as float32), so that a
 * giant count can be written without its data. */
#define MAX_WRITTEN 4096
static const char *write_legacy(const char *name, const pk *object, int n_keys,
                                const char *const *keys, const int64_t *numels, size_t elem_size) {
    static pk file;
    file.n = 0;
    static const uint8_t header[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                     0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, /* magic */
                                     0x80, 0x02, 'M',  0xe9, 0x03, '.'};       /* 1001 */
    pk_bytes(&file, header, sizeof header);
    pk_op(&file, 0x80);
    pk_op(&file, 2);
    pk_op(&file, '}');
    pk_str(&file, "little_endian");
    pk_op(&file, 0x88);
    pk_op(&file, 's');
    pk_op(&file, '.');
    pk_bytes(&file, object->data, object->n);
    pk_op(&file, 0x80);
    pk_op(&file, 2);
    pk_op(&file, ']');
    pk_op(&file, '(');
    for (int i = 0; i < n_keys; i++)
        pk_str(&file, keys[i]);
    pk_op(&file, 'e');
    pk_op(&file, '.');

    const char *path = test_scratch_path(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(file.data, 1, file.n, f), file.n);
    for (int i = 0; i < n_keys; i++) {
        uint8_t count[8];
        for (int b = 0; b < 8; b++)
            count[b] = (uint8_t)((uint64_t)numels[i] >> (8 * b));
        assert_int_equal(fwrite(count, 1, 8, f), 8);
        int64_t written = numels[i] < MAX_WRITTEN ? numels[i] : MAX_WRITTEN;
        for (int64_t e = 0; e < written * (int64_t)elem_size; e++)
            assert_int_equal(fputc(0x3f, f), 0x3f);
    }
    assert_int_equal(fclose(f), 0);
    return path;
}

/* A legacy file whose state dict holds the one tensor t under key. */
static const char *write_one_tensor(const char *name, const char *key, const tensor_spec *t,
                                    int64_t stored_numel) {
    pk object = {{0}, 0};
    pk_begin_state_dict(&object);
    pk_str(&object, key);
    pk_tensor(&object, t);
    pk_end_state_dict(&object);
    const char *keys[1] = {t->key};
    return write_legacy(name, &object, 1, keys, &stored_numel, 4);
}

static void expect_load_failure(const char *path, clnet_status status, const char *needle) {
    clnet_graph *g = NULL;
    TEST_FAILS(status, needle, clnet_model_load(path, "resnet8a", &g));
    assert_null(g);
}

static void hand_written_files_fail_only_for_the_missing_key(void **state) {
    (void)state;
    tensor_spec t = conv1_spec("0");
    expect_load_failure(write_one_tensor("missing.th", "conv1.weight", &t, 432),
                        CLNET_STATUS_FORMAT_ERROR, "no key 'bn1.weight'");

    /* A checkpoint {'acc': 1, 'net': {...}, ['opt': {...}]}: the one dict of tensors. */
    for (int dicts = 1; dicts <= 2; dicts++) {
        pk object = {{0}, 0};
        pk_op(&object, 0x80);
        pk_op(&object, 2);
        pk_op(&object, '}');
        pk_op(&object, '(');
        pk_str(&object, "acc");
        pk_int(&object, 1);
        for (int d = 0; d < dicts; d++) {
            pk_str(&object, d == 0 ? "net" : "opt");
            pk_begin_dict(&object);
            pk_str(&object, "conv1.weight");
            pk_tensor(&object, &t);
            pk_op(&object, 'u');
        }
        pk_op(&object, 'u');
        pk_op(&object, '.');
        const char *keys[1] = {"0"};
        const int64_t numels[1] = {432};
        const char *path = write_legacy("checkpoint.th", &object, 1, keys, numels, 4);
        if (dicts == 1)
            expect_load_failure(path, CLNET_STATUS_FORMAT_ERROR, "no key 'bn1.weight'");
        else
            expect_load_failure(path, CLNET_STATUS_UNSUPPORTED, "2 entries");
    }
}

static void disallowed_globals_are_never_called(void **state) {
    (void)state;
    /* os.system('touch <file>') as the object: refused before anything could run it. */
    char witness[600];
    snprintf(witness, sizeof witness, "%s", test_scratch_path("witness"));
    char command[700];
    snprintf(command, sizeof command, "touch %s", witness);
    pk object = {{0}, 0};
    pk_op(&object, 0x80);
    pk_op(&object, 2);
    pk_global(&object, "os", "system");
    pk_str(&object, command);
    pk_op(&object, 0x85);
    pk_op(&object, 'R');
    pk_op(&object, '.');
    expect_load_failure(write_legacy("os_system.th", &object, 0, NULL, NULL, 4),
                        CLNET_STATUS_UNSUPPORTED, "'os.system'");
    assert_int_not_equal(access(witness, F_OK), 0);

    /* builtins.eval through STACK_GLOBAL, inside a state dict. */
    object.n = 0;
    pk_begin_state_dict(&object);
    pk_str(&object, "conv1.weight");
    pk_str(&object, "builtins");
    pk_str(&object, "eval");
    pk_op(&object, 0x93);
    pk_str(&object, "1 + 1");
    pk_op(&object, 0x85);
    pk_op(&object, 'R');
    pk_end_state_dict(&object);
    expect_load_failure(write_legacy("eval.th", &object, 0, NULL, NULL, 4),
                        CLNET_STATUS_UNSUPPORTED, "'builtins.eval'");

    /* A whole pickled module names its own class. */
    object.n = 0;
    pk_op(&object, 0x80);
    pk_op(&object, 2);
    pk_global(&object, "__main__", "ResNet");
    pk_op(&object, ')');
    pk_op(&object, 0x81);
    pk_op(&object, '.');
    expect_load_failure(write_legacy("module.th", &object, 0, NULL, NULL, 4),
                        CLNET_STATUS_UNSUPPORTED, "state_dict()");
}

static void tensor_larger_than_its_storage_is_rejected(void **state) {
    (void)state;
    tensor_spec t = conv1_spec("0");
    t.numel = 10;
    expect_load_failure(write_one_tensor("short_storage.th", "conv1.weight", &t, 10),
                        CLNET_STATUS_FORMAT_ERROR, "past the end of its storage");
    t = conv1_spec("0");
    t.offset = 1;
    expect_load_failure(write_one_tensor("offset.th", "conv1.weight", &t, 432),
                        CLNET_STATUS_FORMAT_ERROR, "past the end of its storage");
    t = conv1_spec("0");
    t.offset = INT64_MAX;
    expect_load_failure(write_one_tensor("giant_offset.th", "conv1.weight", &t, 432),
                        CLNET_STATUS_FORMAT_ERROR, "past the end of its storage");
    /* A storage whose stored count disagrees with the persistent id. */
    t = conv1_spec("0");
    expect_load_failure(write_one_tensor("count.th", "conv1.weight", &t, 431),
                        CLNET_STATUS_FORMAT_ERROR, "holds 431 elements");
}

static void giant_sizes_are_rejected_without_overflow(void **state) {
    (void)state;
    tensor_spec t = conv1_spec("0");
    t.sizes[0] = t.sizes[1] = INT64_C(1) << 62;
    expect_load_failure(write_one_tensor("giant_size.th", "conv1.weight", &t, 432),
                        CLNET_STATUS_SHAPE_MISMATCH, "[16, 3, 3, 3]");
    t = conv1_spec("0");
    t.numel = INT64_C(1) << 61;
    expect_load_failure(write_one_tensor("giant_numel.th", "conv1.weight", &t, 432),
                        CLNET_STATUS_FORMAT_ERROR, "holds 432 elements");
    /* The stored count matches, but the file does not hold that many bytes. */
    expect_load_failure(write_one_tensor("giant_both.th", "conv1.weight", &t, t.numel),
                        CLNET_STATUS_FORMAT_ERROR, "truncated in storage '0'");

    /* A string length beyond the file and a memo index beyond the bound. */
    pk object = {{0}, 0};
    pk_op(&object, 0x80);
    pk_op(&object, 2);
    pk_op(&object, 0x8d); /* BINUNICODE8 */
    pk_le(&object, UINT64_MAX - 3, 8);
    pk_op(&object, '.');
    expect_load_failure(write_legacy("giant_string.th", &object, 0, NULL, NULL, 4),
                        CLNET_STATUS_FORMAT_ERROR, "bytes where");
    object.n = 0;
    pk_op(&object, 0x80);
    pk_op(&object, 2);
    pk_op(&object, '}');
    pk_op(&object, 'r'); /* LONG_BINPUT */
    pk_le(&object, 0xffffffffu, 4);
    pk_op(&object, '.');
    expect_load_failure(write_legacy("giant_memo.th", &object, 0, NULL, NULL, 4),
                        CLNET_STATUS_FORMAT_ERROR, "memo index");
}

static void unknown_and_misused_opcodes_are_rejected(void **state) {
    (void)state;
    struct {
        uint8_t bytes[8];
        size_t n;
        clnet_status status;
        const char *needle;
    } cases[] = {
        {{0x80, 2, 0xff, '.'}, 4, CLNET_STATUS_UNSUPPORTED, "opcode 0xff"},
        {{0x80, 2, 'I', '1', '\n', '.'}, 6, CLNET_STATUS_UNSUPPORTED, "opcode 0x49"},
        {{0x80, 2, 's', '.'}, 4, CLNET_STATUS_FORMAT_ERROR, "underflow"},
        {{0x80, 2, 'h', 7, '.'}, 5, CLNET_STATUS_FORMAT_ERROR, "never set"},
        {{0x80, 2, 'N', 'N', '.'}, 5, CLNET_STATUS_FORMAT_ERROR, "2 values"},
        {{0x80, 2, '(', 'N', '.'}, 5, CLNET_STATUS_FORMAT_ERROR, "MARK"},
        {{0x80, 2, 'N', 'e', '.'}, 5, CLNET_STATUS_FORMAT_ERROR, "MARK"},
        {{0x80, 9, '}', '.'}, 4, CLNET_STATUS_UNSUPPORTED, "protocol 9"},
        {{0x80, 2, 0x8a, 9, 1, 2, 3}, 7, CLNET_STATUS_UNSUPPORTED, "9 bytes"},
        {{0x80, 2, 'X', 0xff, 0xff, 0, 0}, 7, CLNET_STATUS_FORMAT_ERROR, "bytes where"},
        {{0x80, 2, 'N', ')', 'R', '.'}, 6, CLNET_STATUS_FORMAT_ERROR, "calling a None"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pk object = {{0}, 0};
        pk_bytes(&object, cases[i].bytes, cases[i].n);
        expect_load_failure(write_legacy("opcode.th", &object, 0, NULL, NULL, 4), cases[i].status,
                            cases[i].needle);
    }
}

static void cycles_and_wrong_values_are_rejected(void **state) {
    (void)state;
    /* d = {}; d['conv1.weight'] = d: a cycle through the memo. */
    pk object = {{0}, 0};
    pk_op(&object, 0x80);
    pk_op(&object, 2);
    pk_op(&object, '}');
    pk_op(&object, 'q');
    pk_op(&object, 0);
    pk_str(&object, "conv1.weight");
    pk_op(&object, 'h');
    pk_op(&object, 0);
    pk_op(&object, 's');
    pk_op(&object, '.');
    expect_load_failure(write_legacy("cycle.th", &object, 0, NULL, NULL, 4),
                        CLNET_STATUS_FORMAT_ERROR, "not a tensor");

    /* A list that holds itself, as the whole object. */
    object.n = 0;
    pk_op(&object, 0x80);
    pk_op(&object, 2);
    pk_op(&object, ']');
    pk_op(&object, 0x94); /* MEMOIZE */
    pk_op(&object, 'h');
    pk_op(&object, 0);
    pk_op(&object, 'a');
    pk_op(&object, '.');
    expect_load_failure(write_legacy("list_cycle.th", &object, 0, NULL, NULL, 4),
                        CLNET_STATUS_UNSUPPORTED, "not a state dict");

    /* A transposed weight, a float64 weight and a weight given twice. */
    tensor_spec t = conv1_spec("0");
    t.strides[0] = 1;
    t.strides[3] = 16;
    expect_load_failure(write_one_tensor("strided.th", "conv1.weight", &t, 432),
                        CLNET_STATUS_UNSUPPORTED, "not contiguous");
    t = conv1_spec("0");
    t.storage_class = "DoubleStorage";
    pk one = {{0}, 0};
    pk_begin_state_dict(&one);
    pk_str(&one, "conv1.weight");
    pk_tensor(&one, &t);
    pk_end_state_dict(&one);
    const char *keys[2] = {"0", "1"};
    const int64_t numels[2] = {432, 432};
    expect_load_failure(write_legacy("double.th", &one, 1, keys, numels, 8),
                        CLNET_STATUS_UNSUPPORTED, "float64");

    pk twice = {{0}, 0};
    tensor_spec t0 = conv1_spec("0"), t1 = conv1_spec("1");
    pk_begin_state_dict(&twice);
    pk_str(&twice, "module.conv1.weight");
    pk_tensor(&twice, &t0);
    pk_str(&twice, "conv1.weight");
    pk_tensor(&twice, &t1);
    pk_end_state_dict(&twice);
    expect_load_failure(write_legacy("twice.th", &twice, 2, keys, numels, 4),
                        CLNET_STATUS_FORMAT_ERROR, "given twice");

    /* A key for a weight the layer lacks (the torch convs have no bias). */
    tensor_spec bias = {"FloatStorage", "0", 16, 0, 1, {16}, {1}};
    expect_load_failure(write_one_tensor("bias.th", "conv1.bias", &bias, 16),
                        CLNET_STATUS_FORMAT_ERROR, "conv1.bias");
    /* A storage listed but used by no tensor, and trailing bytes. */
    pk empty = {{0}, 0};
    pk_begin_state_dict(&empty);
    pk_end_state_dict(&empty);
    expect_load_failure(write_legacy("unused.th", &empty, 1, keys, numels, 4),
                        CLNET_STATUS_FORMAT_ERROR, "no tensor uses it");
}

/* Every cut of the committed legacy file within its pickles, and a spread of cuts through its
 * storages, fails cleanly. */
static void truncated_legacy_files_are_rejected(void **state) {
    (void)state;
    size_t size;
    uint8_t *bytes = test_read_file(test_data_path("torch/resnet8a_legacy.th"), &size);
    const char *path = test_scratch_path("truncated.th");
    for (size_t cut = 0; cut < size; cut += cut < 4096 ? 7 : 4999) {
        test_write_file(path, bytes, cut);
        clnet_graph *g = NULL;
        clnet_status status = clnet_model_load(path, "resnet8a", &g);
        if (status != CLNET_STATUS_FORMAT_ERROR)
            fail_msg("cut at %zu of %zu bytes: %s: %s", cut, size, clnet_status_string(status),
                     clnet_last_error());
        assert_null(g);
    }
    test_write_file(path, bytes, size - 1);
    expect_load_failure(path, CLNET_STATUS_FORMAT_ERROR, "truncated");
    free(bytes);
}

static void truncated_zip_files_are_rejected(void **state) {
    (void)state;
    size_t size;
    uint8_t *bytes = test_read_file(test_data_path("torch/resnet8b.pth"), &size);
    const char *path = test_scratch_path("truncated.pth");
    for (size_t cut = 4; cut < size; cut += 2999) {
        test_write_file(path, bytes, cut);
        clnet_graph *g = NULL;
        TEST_FAILS(CLNET_STATUS_FORMAT_ERROR, NULL, clnet_model_load(path, "resnet8b", &g));
        assert_null(g);
    }
    free(bytes);
}

/* Random bytes overwritten in the pickles: every result is a load or a clean failure. */
static void random_damage_to_pickles_fails_cleanly(void **state) {
    (void)state;
    size_t size;
    uint8_t *bytes = test_read_file(test_data_path("torch/resnet8a_legacy.th"), &size);
    uint8_t *damaged = malloc(size);
    assert_non_null(damaged);
    const size_t pickles = 6000; /* the five pickles end a little before this byte */
    assert_true(size > pickles);
    const char *path = test_scratch_path("damaged.th");
    test_rng rng = {2024};
    int loaded = 0;
    for (int trial = 0; trial < 300; trial++) {
        memcpy(damaged, bytes, size);
        int flips = 1 + (int)(test_rng_next(&rng) % 3);
        for (int i = 0; i < flips; i++)
            damaged[test_rng_next(&rng) % pickles] = (uint8_t)test_rng_next(&rng);
        test_write_file(path, damaged, size);
        clnet_graph *g = NULL;
        clnet_status status = clnet_model_load(path, "resnet8a", &g);
        if (status == CLNET_STATUS_OK) {
            loaded++;
            assert_non_null(g);
            clnet_graph_destroy(g);
        } else {
            assert_null(g);
            assert_true(clnet_last_error()[0] != '\0');
        }
    }
    /* Most damage is caught; a changed digit in a memo index or a float may not be. */
    assert_true(loaded < 150);
    free(damaged);
    free(bytes);
}

/* ------------------------------------------------------------------------ */
/* Zip archives edited with libzip                                          */

static zip_t *open_zip_copy(const char *scratch_name) {
    const char *path = scratch_copy("torch/resnet8b.pth", scratch_name);
    int error = 0;
    zip_t *z = zip_open(path, 0, &error);
    assert_non_null(z);
    return z;
}

static const char *closed_path(zip_t *z, const char *scratch_name) {
    assert_int_equal(zip_close(z), 0);
    return test_scratch_path(scratch_name);
}

static void zip_archive_folder_may_have_any_name(void **state) {
    (void)state;
    zip_t *z = open_zip_copy("renamed.pth");
    zip_int64_t n = zip_get_num_entries(z, 0);
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(z, (zip_uint64_t)i, 0);
        assert_non_null(name);
        char renamed[512];
        assert_int_equal(strncmp(name, "resnet8b/", 9), 0);
        snprintf(renamed, sizeof renamed, "exported model/%s", name + 9);
        assert_int_equal(zip_file_rename(z, (zip_uint64_t)i, renamed, 0), 0);
    }
    const char *path = closed_path(z, "renamed.pth");
    check_small_model(path, "resnet8b", "torch/resnet8b_logits.bin");
}

static void zip_without_storage_or_pickle_is_rejected(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    zip_t *z = open_zip_copy("no_storage.pth");
    assert_int_equal(zip_delete(z, (zip_uint64_t)zip_name_locate(z, "resnet8b/data/0", 0)), 0);
    TEST_FAILS(CLNET_STATUS_FORMAT_ERROR, "resnet8b/data/0",
               clnet_model_load(closed_path(z, "no_storage.pth"), "resnet8b", &g));

    z = open_zip_copy("no_pickle.pth");
    assert_int_equal(zip_delete(z, (zip_uint64_t)zip_name_locate(z, "resnet8b/data.pkl", 0)), 0);
    TEST_FAILS(CLNET_STATUS_FORMAT_ERROR, "data.pkl",
               clnet_model_load(closed_path(z, "no_pickle.pth"), "resnet8b", &g));

    /* A storage entry shorter than its persistent id says. */
    static const uint8_t few[12] = {0};
    z = open_zip_copy("short_entry.pth");
    zip_source_t *src = zip_source_buffer(z, few, sizeof few, 0);
    assert_non_null(src);
    assert_true(zip_file_add(z, "resnet8b/data/0", src, ZIP_FL_OVERWRITE) >= 0);
    TEST_FAILS(CLNET_STATUS_FORMAT_ERROR, "has 12 bytes",
               clnet_model_load(closed_path(z, "short_entry.pth"), "resnet8b", &g));

    /* data.pkl replaced by a pickle that names os.system. */
    static pk object;
    object.n = 0;
    pk_op(&object, 0x80);
    pk_op(&object, 2);
    pk_global(&object, "os", "system");
    pk_str(&object, "true");
    pk_op(&object, 0x85);
    pk_op(&object, 'R');
    pk_op(&object, '.');
    z = open_zip_copy("os_system.pth");
    src = zip_source_buffer(z, object.data, object.n, 0);
    assert_non_null(src);
    assert_true(zip_file_add(z, "resnet8b/data.pkl", src, ZIP_FL_OVERWRITE) >= 0);
    TEST_FAILS(CLNET_STATUS_UNSUPPORTED, "'os.system'",
               clnet_model_load(closed_path(z, "os_system.pth"), "resnet8b", &g));

    /* A byte order other than little-endian. */
    z = open_zip_copy("big_endian.pth");
    src = zip_source_buffer(z, "big", 3, 0);
    assert_non_null(src);
    assert_true(zip_file_add(z, "resnet8b/byteorder", src, ZIP_FL_OVERWRITE) >= 0);
    TEST_FAILS(CLNET_STATUS_UNSUPPORTED, "byte order",
               clnet_model_load(closed_path(z, "big_endian.pth"), "resnet8b", &g));
    assert_null(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtin_torch_resnets_are_named_like_state_dicts),
        cmocka_unit_test(option_a_shortcut_subsamples_and_pads_channels),
        cmocka_unit_test(option_a_legacy_file_with_module_prefix_matches_pytorch),
        cmocka_unit_test(option_b_zip_file_matches_pytorch),
        cmocka_unit_test(zip_archive_folder_may_have_any_name),
        cmocka_unit_test(option_b_weights_into_option_a_name_the_extra_key),
        cmocka_unit_test(deeper_architecture_names_the_missing_key),
        cmocka_unit_test(state_dict_needs_an_architecture_that_exists),
        cmocka_unit_test(hand_written_files_fail_only_for_the_missing_key),
        cmocka_unit_test(disallowed_globals_are_never_called),
        cmocka_unit_test(tensor_larger_than_its_storage_is_rejected),
        cmocka_unit_test(giant_sizes_are_rejected_without_overflow),
        cmocka_unit_test(unknown_and_misused_opcodes_are_rejected),
        cmocka_unit_test(cycles_and_wrong_values_are_rejected),
        cmocka_unit_test(truncated_legacy_files_are_rejected),
        cmocka_unit_test(truncated_zip_files_are_rejected),
        cmocka_unit_test(random_damage_to_pickles_fails_cleanly),
        cmocka_unit_test(zip_without_storage_or_pickle_is_rejected),
        cmocka_unit_test(akamaster_resnet20_matches_pytorch),
        cmocka_unit_test(akamaster_resnet32_matches_pytorch),
        cmocka_unit_test(akamaster_resnet44_matches_pytorch),
        cmocka_unit_test(akamaster_resnet56_matches_pytorch),
        cmocka_unit_test(chenyaofo_resnet20_matches_pytorch),
        cmocka_unit_test(chenyaofo_resnet20_reproduces_published_horse5_logits),
    };
    return cmocka_run_group_tests(tests, make_scratch_dir, remove_scratch_dir);
}
