/* Model files: save and load round trips, and rejection of missing, truncated, corrupted and
 * hostile files (hostile ones built here byte by byte, with a valid checksum). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "graph.h" /* layer configurations, node inputs, weights */

/* ------------------------------------------------------------------------ */
/* Scratch files                                                            */

static int make_scratch_dir(void **state) {
    (void)state;
    return test_scratch_create("model-file");
}

static int remove_scratch_dir(void **state) {
    (void)state;
    test_scratch_remove();
    return 0;
}

/* Loads path and expects a failure with this status and message fragment,
 * and that the message names the file. */
static void assert_load_fails(const char *path, clnet_status status, const char *needle) {
    static char sentinel;
    clnet_graph *g = (clnet_graph *)(void *)&sentinel; /* must be reset to NULL */
    TEST_FAILS(status, needle, clnet_graph_load(path, &g));
    assert_null(g);
    if (!strstr(clnet_last_error(), path))
        fail_msg("the message does not name %s: %s", path, clnet_last_error());
}

/* ------------------------------------------------------------------------ */
/* The format's checksum and integers, written independently of the library */

static uint32_t crc32_reference(const uint8_t *data, size_t size) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; i++) {
        crc ^= data[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void set_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le64(const uint8_t *p) {
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Recomputes the trailing CRC-32 after an edit. */
static void reseal(uint8_t *data, size_t size) {
    set_le32(data + size - 4, crc32_reference(data, size - 4));
}

/* ------------------------------------------------------------------------ */
/* Graphs to save                                                           */

static void randomize_weights(clnet_graph *g, uint64_t seed) {
    test_rng rng = {seed};
    for (int i = 0; i < clnet_graph_layer_count(g); i++) {
        clnet_layer *layer = clnet_graph_layer_at(g, i);
        for (int k = 0; k < clnet_layer_weight_count(layer); k++) {
            clnet_weight_info w;
            TEST_OK(clnet_layer_weight(layer, k, &w));
            int variance = strcmp(w.name, "moving_variance") == 0;
            test_fill_uniform(&rng, w.data, w.count, variance ? 0.5f : -1.0f, 1.5f);
        }
    }
}

/* Two inputs, two outputs, a layer called twice, and every op with
 * non-default settings where an op has them. */
static clnet_graph *every_op_graph(void) {
    clnet_graph *g = NULL;
    TEST_OK(clnet_graph_create(&g));
    clnet_tensor in_a, in_b;
    TEST_OK(clnet_graph_input(g, "image_a", 3, 8, 8, &in_a));
    TEST_OK(clnet_graph_input(g, NULL, 3, 8, 8, &in_b));

    clnet_conv2d_desc shared_desc = clnet_conv2d_defaults(4, 3);
    shared_desc.activation = CLNET_ACT_RELU;
    clnet_layer *shared;
    TEST_OK(clnet_layer_conv2d(g, "shared_conv", &shared_desc, &shared));
    clnet_tensor a, b;
    TEST_OK(clnet_layer_call1(shared, in_a, &a));
    TEST_OK(clnet_layer_call1(shared, in_b, &b));

    /* Explicit asymmetric padding, dilation, a non-square kernel, no bias. */
    clnet_conv2d_desc odd = clnet_conv2d_defaults(4, 3);
    odd.kernel_w = 2;
    odd.dilation_h = 2;
    odd.padding = CLNET_PADDING_EXPLICIT;
    odd.pad_top = 2;
    odd.pad_bottom = 2;
    odd.pad_left = 1;
    odd.pad_right = 0;
    odd.use_bias = 0;
    odd.kernel_initializer = CLNET_INIT_GLOROT_UNIFORM;
    clnet_layer *odd_conv, *bn, *relu, *add, *concat, *maxpool, *avgpool, *gap, *fc1, *drop,
        *fc2, *softmax, *flatten, *fc3;
    TEST_OK(clnet_layer_conv2d(g, NULL, &odd, &odd_conv));
    TEST_OK(clnet_layer_batchnorm(g, "bn", 0.0025f, &bn));
    TEST_OK(clnet_layer_activation(g, NULL, CLNET_ACT_RELU, &relu));
    TEST_OK(clnet_layer_add(g, NULL, &add));
    TEST_OK(clnet_layer_concat(g, "join", &concat));
    clnet_pool2d_desc mp = clnet_pool2d_defaults(2);
    TEST_OK(clnet_layer_maxpool(g, NULL, &mp, &maxpool));
    clnet_pool2d_desc ap = {3, 3, 1, 1, CLNET_PADDING_EXPLICIT, 1, 1, 1, 1};
    TEST_OK(clnet_layer_avgpool(g, NULL, &ap, &avgpool));
    TEST_OK(clnet_layer_global_avgpool(g, NULL, &gap));
    clnet_dense_desc d1 = {6, 1, CLNET_ACT_RELU, CLNET_INIT_HE_NORMAL};
    TEST_OK(clnet_layer_dense(g, "fc1", &d1, &fc1));
    TEST_OK(clnet_layer_dropout(g, NULL, 0.375f, &drop));
    clnet_dense_desc d2 = {3, 0, CLNET_ACT_LINEAR, CLNET_INIT_GLOROT_UNIFORM};
    TEST_OK(clnet_layer_dense(g, "fc2", &d2, &fc2));
    TEST_OK(clnet_layer_softmax(g, NULL, &softmax));
    TEST_OK(clnet_layer_flatten(g, NULL, &flatten));
    clnet_dense_desc d3 = {5, 1, CLNET_ACT_SOFTMAX, CLNET_INIT_HE_NORMAL};
    TEST_OK(clnet_layer_dense(g, "fc3", &d3, &fc3));

    clnet_tensor c, x, s, cat, m, p, v, h, dr, logits, out1, flat, out2;
    TEST_OK(clnet_layer_call1(odd_conv, b, &c));
    TEST_OK(clnet_layer_call1(bn, a, &x));
    TEST_OK(clnet_layer_call1(relu, x, &x));
    clnet_tensor pair[2] = {x, c};
    TEST_OK(clnet_layer_call(add, pair, 2, &s));
    clnet_tensor parts[3] = {s, b, a};
    TEST_OK(clnet_layer_call(concat, parts, 3, &cat));
    TEST_OK(clnet_layer_call1(maxpool, cat, &m));
    TEST_OK(clnet_layer_call1(avgpool, m, &p));
    TEST_OK(clnet_layer_call1(gap, p, &v));
    TEST_OK(clnet_layer_call1(fc1, v, &h));
    TEST_OK(clnet_layer_call1(drop, h, &dr));
    TEST_OK(clnet_layer_call1(fc2, dr, &logits));
    TEST_OK(clnet_layer_call1(softmax, logits, &out1));
    TEST_OK(clnet_layer_call1(flatten, p, &flat));
    TEST_OK(clnet_layer_call1(fc3, flat, &out2));

    /* The ops added after the first ones: pad with a value and channels,
     * strided slicing on every axis, multiply with three inputs, subtract,
     * channel affine on rank-3 and rank-1 tensors, clip, and sigmoid as an
     * activation layer and inside a convolution and a dense layer. */
    clnet_pad_desc pd = {1, 2, 0, 3, 1, 2, -0.75f};
    clnet_slice_desc sd = {{1, 0, 1}, {7, INT32_MAX, 9}, {2, 2, 3}};
    clnet_conv2d_desc sig_conv_desc = clnet_conv2d_defaults(3, 1);
    sig_conv_desc.activation = CLNET_ACT_SIGMOID;
    clnet_dense_desc d4 = {2, 1, CLNET_ACT_SIGMOID, CLNET_INIT_GLOROT_UNIFORM};
    clnet_layer *pad, *slice, *mul, *sub, *affine, *clip, *sigmoid, *sig_conv, *gap2, *affine1,
        *fc4;
    TEST_OK(clnet_layer_pad(g, "pad", &pd, &pad));
    TEST_OK(clnet_layer_slice(g, NULL, &sd, &slice));
    TEST_OK(clnet_layer_multiply(g, NULL, &mul));
    TEST_OK(clnet_layer_subtract(g, NULL, &sub));
    TEST_OK(clnet_layer_channel_affine(g, "affine", &affine));
    TEST_OK(clnet_layer_clip(g, "relu6", 0.0f, 6.0f, &clip));
    TEST_OK(clnet_layer_activation(g, NULL, CLNET_ACT_SIGMOID, &sigmoid));
    TEST_OK(clnet_layer_conv2d(g, NULL, &sig_conv_desc, &sig_conv));
    TEST_OK(clnet_layer_global_avgpool(g, NULL, &gap2));
    TEST_OK(clnet_layer_channel_affine(g, NULL, &affine1));
    TEST_OK(clnet_layer_dense(g, NULL, &d4, &fc4));

    clnet_tensor pt, sl, ml, sb, af, cl, sg, sc, gp, af1, out3;
    TEST_OK(clnet_layer_call1(pad, in_a, &pt));      /* 3x8x8 -> 6x11x11 */
    TEST_OK(clnet_layer_call1(slice, pt, &sl));      /* -> 3x6x3 */
    TEST_OK(clnet_layer_call1(affine, sl, &af));
    clnet_tensor factors[3] = {sl, af, sl};
    TEST_OK(clnet_layer_call(mul, factors, 3, &ml));
    clnet_tensor terms[2] = {ml, af};
    TEST_OK(clnet_layer_call(sub, terms, 2, &sb));
    TEST_OK(clnet_layer_call1(clip, sb, &cl));
    TEST_OK(clnet_layer_call1(sigmoid, cl, &sg));
    TEST_OK(clnet_layer_call1(sig_conv, sg, &sc));
    TEST_OK(clnet_layer_call1(gap2, sc, &gp));
    TEST_OK(clnet_layer_call1(affine1, gp, &af1));
    TEST_OK(clnet_layer_call1(fc4, af1, &out3));
    clnet_shape shape;
    TEST_OK(clnet_tensor_shape(g, sl, &shape));
    assert_true(shape.c == 3 && shape.h == 6 && shape.w == 3);

    clnet_tensor outs[3] = {out1, out2, out3};
    TEST_OK(clnet_graph_set_outputs(g, outs, 3));

    randomize_weights(g, 42);
    return g;
}

/* ------------------------------------------------------------------------ */
/* Comparison                                                               */

static void assert_same_config(const clnet_layer *a, const clnet_layer *b) {
    size_t size = 0;
    const void *pa = NULL, *pb = NULL;
    switch (a->op) {
    case CLNET_OP_CONV2D: pa = &a->u.conv, pb = &b->u.conv, size = sizeof a->u.conv; break;
    case CLNET_OP_BATCHNORM: pa = &a->u.bn, pb = &b->u.bn, size = sizeof a->u.bn; break;
    case CLNET_OP_ACTIVATION:
        pa = &a->u.activation, pb = &b->u.activation, size = sizeof a->u.activation;
        break;
    case CLNET_OP_AVGPOOL:
    case CLNET_OP_MAXPOOL: pa = &a->u.pool, pb = &b->u.pool, size = sizeof a->u.pool; break;
    case CLNET_OP_DENSE: pa = &a->u.dense, pb = &b->u.dense, size = sizeof a->u.dense; break;
    case CLNET_OP_DROPOUT:
        pa = &a->u.dropout, pb = &b->u.dropout, size = sizeof a->u.dropout;
        break;
    case CLNET_OP_PAD: pa = &a->u.pad, pb = &b->u.pad, size = sizeof a->u.pad; break;
    case CLNET_OP_SLICE: pa = &a->u.slice, pb = &b->u.slice, size = sizeof a->u.slice; break;
    case CLNET_OP_CLIP: pa = &a->u.clip, pb = &b->u.clip, size = sizeof a->u.clip; break;
    default: return;
    }
    if (memcmp(pa, pb, size) != 0)
        fail_msg("layer '%s': the configuration differs after loading", a->name);
}

/* Same layers, configurations, weights (bit for bit), nodes, shapes,
 * inputs and outputs. */
static void assert_same_graph(const clnet_graph *a, const clnet_graph *b) {
    assert_int_equal(clnet_graph_layer_count(a), clnet_graph_layer_count(b));
    for (int i = 0; i < a->n_layers; i++) {
        const clnet_layer *la = a->layers[i], *lb = b->layers[i];
        assert_string_equal(la->name, lb->name);
        assert_int_equal(la->op, lb->op);
        assert_same_config(la, lb);
        assert_int_equal(la->built, lb->built);
        assert_int_equal(la->in_channels, lb->in_channels);
        assert_int_equal(la->call_count, lb->call_count);
        assert_int_equal(la->n_weights, lb->n_weights);
        for (int k = 0; k < la->n_weights; k++) {
            const clnet_weight *wa = &la->weights[k], *wb = &lb->weights[k];
            assert_string_equal(wa->name, wb->name);
            assert_int_equal(wa->rank, wb->rank);
            assert_memory_equal(wa->dims, wb->dims, sizeof(int) * (size_t)wa->rank);
            assert_int_equal(wa->count, wb->count);
            if (memcmp(wa->data, wb->data, wa->count * sizeof(float)) != 0)
                fail_msg("layer '%s': weight '%s' is not bit-identical after loading",
                         la->name, wa->name);
        }
    }

    assert_int_equal(clnet_graph_node_count(a), clnet_graph_node_count(b));
    for (int i = 0; i < a->n_nodes; i++) {
        const clnet_node *na = &a->nodes[i], *nb = &b->nodes[i];
        assert_int_equal(na->op, nb->op);
        assert_int_equal(na->layer ? na->layer->index : -1, nb->layer ? nb->layer->index : -1);
        if (!na->layer)
            assert_string_equal(na->input_name, nb->input_name);
        assert_int_equal(na->n_inputs, nb->n_inputs);
        assert_memory_equal(na->inputs, nb->inputs, sizeof(int32_t) * (size_t)na->n_inputs);
        assert_memory_equal(&na->shape, &nb->shape, sizeof na->shape);
    }

    assert_int_equal(clnet_graph_input_count(a), clnet_graph_input_count(b));
    for (int i = 0; i < a->n_inputs; i++)
        assert_int_equal(clnet_graph_input_at(a, i).id, clnet_graph_input_at(b, i).id);
    assert_int_equal(clnet_graph_output_count(a), clnet_graph_output_count(b));
    for (int i = 0; i < a->n_outputs; i++)
        assert_int_equal(clnet_graph_output_at(a, i).id, clnet_graph_output_at(b, i).id);
    assert_int_equal(clnet_graph_param_count(a), clnet_graph_param_count(b));
    assert_int_equal(clnet_graph_macs_per_image(a), clnet_graph_macs_per_image(b));
}

static size_t tensor_size(const clnet_graph *g, clnet_tensor t) {
    clnet_shape s;
    TEST_OK(clnet_tensor_shape(g, t, &s));
    return clnet_shape_size(s);
}

/* Runs both graphs' references on the same random batch; the outputs must
 * match bit for bit. */
static void assert_same_reference_outputs(const clnet_graph *a, const clnet_graph *b, int batch) {
    int n_in = clnet_graph_input_count(a), n_out = clnet_graph_output_count(a);
    float **in = calloc((size_t)n_in, sizeof *in);
    float **out_a = calloc((size_t)n_out, sizeof *out_a);
    float **out_b = calloc((size_t)n_out, sizeof *out_b);
    assert_true(in && out_a && out_b);
    test_rng rng = {7};
    for (int i = 0; i < n_in; i++) {
        size_t n = (size_t)batch * tensor_size(a, clnet_graph_input_at(a, i));
        in[i] = test_alloc(n);
        test_fill_uniform(&rng, in[i], n, -1.0f, 1.0f);
    }
    for (int i = 0; i < n_out; i++) {
        size_t n = (size_t)batch * tensor_size(a, clnet_graph_output_at(a, i));
        out_a[i] = test_alloc_poisoned(n);
        out_b[i] = test_alloc_poisoned(n);
    }
    TEST_OK(clnet_graph_run_reference(a, batch, (const float *const *)in, out_a));
    TEST_OK(clnet_graph_run_reference(b, batch, (const float *const *)in, out_b));
    for (int i = 0; i < n_out; i++) {
        size_t n = (size_t)batch * tensor_size(a, clnet_graph_output_at(a, i));
        test_assert_close("output before saving (finite)", out_a[i], out_a[i], n, 0.0);
        if (memcmp(out_a[i], out_b[i], n * sizeof(float)) != 0)
            fail_msg("output %d of the loaded graph is not bit-identical", i);
    }
    for (int i = 0; i < n_in; i++)
        free(in[i]);
    for (int i = 0; i < n_out; i++) {
        free(out_a[i]);
        free(out_b[i]);
    }
    free(in);
    free(out_a);
    free(out_b);
}

/* No "<path>.tmp.<pid>" may stay behind in the scratch folder. */
static void assert_no_temporary_files(void) {
    DIR *d = opendir(test_scratch_dir());
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp."))
            fail_msg("temporary file %s was left behind", e->d_name);
    closedir(d);
}

/* ------------------------------------------------------------------------ */
/* Round trips                                                              */

static void every_op_graph_round_trips_bit_identically(void **state) {
    (void)state;
    clnet_graph *g = every_op_graph();
    const char *path = test_scratch_path("every_op.clnet");
    TEST_OK(clnet_graph_save(g, path));
    assert_no_temporary_files();

    clnet_graph *loaded = NULL;
    TEST_OK(clnet_graph_load(path, &loaded));
    assert_non_null(loaded);
    assert_same_graph(g, loaded);
    assert_int_equal(loaded->layers[0]->call_count, 2); /* the shared convolution */
    assert_same_reference_outputs(g, loaded, 2);

    /* Every op and every activation of clnet.h is in the file. */
    int seen_op[CLNET_OP_COUNT] = {0}, seen_act[4] = {0};
    for (int i = 0; i < loaded->n_nodes; i++)
        seen_op[loaded->nodes[i].op] = 1;
    for (int i = 0; i < loaded->n_layers; i++) {
        const clnet_layer *l = loaded->layers[i];
        if (l->op == CLNET_OP_ACTIVATION)
            seen_act[l->u.activation] = 1;
        if (l->op == CLNET_OP_CONV2D)
            seen_act[l->u.conv.activation] = 1;
        if (l->op == CLNET_OP_DENSE)
            seen_act[l->u.dense.activation] = 1;
    }
    for (int op = 0; op < CLNET_OP_COUNT; op++)
        if (!seen_op[op])
            fail_msg("the every-op graph has no %s node", clnet_op_name((clnet_op)op));
    for (int a = 0; a < 4; a++)
        if (!seen_act[a])
            fail_msg("the every-op graph does not use activation %d", a);

    /* Saving the loaded graph gives the same bytes. */
    const char *again = test_scratch_path("every_op_again.clnet");
    TEST_OK(clnet_graph_save(loaded, again));
    size_t n1, n2;
    uint8_t *b1 = test_read_file(path, &n1), *b2 = test_read_file(again, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    free(b1);
    free(b2);

    clnet_graph_destroy(loaded);
    clnet_graph_destroy(g);
}

static void saved_file_is_little_endian_with_length_and_crc32(void **state) {
    (void)state;
    /* The standard CRC-32 check value. */
    assert_int_equal(crc32_reference((const uint8_t *)"123456789", 9), 0xCBF43926u);

    clnet_graph *g = every_op_graph();
    const char *path = test_scratch_path("layout.clnet");
    TEST_OK(clnet_graph_save(g, path));
    size_t size;
    uint8_t *data = test_read_file(path, &size);
    assert_true(size > 28);
    assert_memory_equal(data, "CLNETMDL", 8);
    assert_memory_equal(data + 8, "\x01\x00\x00\x00", 4); /* version 1, little-endian */
    assert_int_equal(le32(data + 12), 0);                  /* flags */
    assert_int_equal(le64(data + 16), size);
    assert_int_equal(le32(data + size - 4), crc32_reference(data, size - 4));
    assert_int_equal(le32(data + 24), (uint32_t)g->n_layers);
    free(data);
    clnet_graph_destroy(g);
}

static void builtin_resnet20v1_round_trips(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_model_builtin("resnet20v1", 3, &g));
    randomize_weights(g, 99);
    const char *path = test_scratch_path("resnet20v1.clnet");
    TEST_OK(clnet_graph_save(g, path));

    clnet_graph *loaded = NULL;
    TEST_OK(clnet_graph_load(path, &loaded));
    assert_same_graph(g, loaded);
    assert_int_equal(clnet_graph_param_count(loaded), 274442);
    assert_same_reference_outputs(g, loaded, 1);
    clnet_graph_destroy(loaded);
    clnet_graph_destroy(g);
}

static void saving_replaces_an_existing_file(void **state) {
    (void)state;
    const char *path = test_scratch_path("replace.clnet");
    test_write_file(path, "old contents", 12);
    clnet_graph *g = every_op_graph();
    TEST_OK(clnet_graph_save(g, path));
    clnet_graph *loaded = NULL;
    TEST_OK(clnet_graph_load(path, &loaded));
    assert_same_graph(g, loaded);
    assert_no_temporary_files();
    clnet_graph_destroy(loaded);
    clnet_graph_destroy(g);
}

/* ------------------------------------------------------------------------ */
/* Rejection of missing, damaged and foreign files                          */

static void save_into_missing_folder_is_an_io_error(void **state) {
    (void)state;
    clnet_graph *g = every_op_graph();
    const char *path = test_scratch_path("no/such/folder/model.clnet");
    TEST_FAILS(CLNET_STATUS_IO_ERROR, "No such file or directory", clnet_graph_save(g, path));
    assert_non_null(strstr(clnet_last_error(), path));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_graph_save(NULL, path));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_graph_save(g, NULL));
    assert_no_temporary_files();
    clnet_graph_destroy(g);
}

static void load_rejects_missing_file_and_folder(void **state) {
    (void)state;
    assert_load_fails(test_scratch_path("missing.clnet"), CLNET_STATUS_NOT_FOUND,
                      "No such file or directory");
    assert_load_fails(test_scratch_dir(), CLNET_STATUS_IO_ERROR, "Is a directory");
    clnet_graph *g = NULL;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_graph_load(NULL, &g));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_graph_load("x.clnet", NULL));
}

static void load_rejects_empty_file(void **state) {
    (void)state;
    const char *path = test_scratch_path("empty.clnet");
    test_write_file(path, NULL, 0);
    assert_load_fails(path, CLNET_STATUS_FORMAT_ERROR, "empty file");
}

static void load_rejects_every_truncation(void **state) {
    (void)state;
    clnet_graph *g = every_op_graph();
    const char *path = test_scratch_path("whole.clnet");
    TEST_OK(clnet_graph_save(g, path));
    clnet_graph_destroy(g);
    size_t size;
    uint8_t *data = test_read_file(path, &size);

    const char *cut = test_scratch_path("cut.clnet");
    char expected[128];
    for (int k = 1; k <= 16; k++) {
        size_t n = k == 16 ? size - 1 : size * (size_t)k / 16;
        test_write_file(cut, data, n);
        if (n >= 24)
            snprintf(expected, sizeof expected, "truncated: header says %zu bytes, file has %zu",
                     size, n);
        else
            snprintf(expected, sizeof expected, "truncated: file has %zu bytes", n);
        assert_load_fails(cut, CLNET_STATUS_FORMAT_ERROR, expected);
    }
    free(data);
}

static void load_rejects_flipped_byte_by_checksum(void **state) {
    (void)state;
    clnet_graph *g = every_op_graph();
    const char *path = test_scratch_path("flip.clnet");
    TEST_OK(clnet_graph_save(g, path));
    clnet_graph_destroy(g);
    size_t size;
    uint8_t *data = test_read_file(path, &size);
    data[size / 2] ^= 0x10;
    test_write_file(path, data, size);
    assert_load_fails(path, CLNET_STATUS_FORMAT_ERROR, "checksum mismatch");

    /* A damaged checksum itself is caught the same way. */
    data[size / 2] ^= 0x10;
    data[size - 1] ^= 0x01;
    test_write_file(path, data, size);
    assert_load_fails(path, CLNET_STATUS_FORMAT_ERROR, "checksum mismatch");
    free(data);
}

static void load_rejects_wrong_magic_version_flags_and_length(void **state) {
    (void)state;
    clnet_graph *g = every_op_graph();
    const char *path = test_scratch_path("header.clnet");
    TEST_OK(clnet_graph_save(g, path));
    clnet_graph_destroy(g);
    size_t size;
    uint8_t *data = test_read_file(path, &size);
    uint8_t *copy = malloc(size + 8);
    assert_non_null(copy);
    const char *bad = test_scratch_path("bad_header.clnet");

    memcpy(copy, data, size);
    memcpy(copy, "PK\x03\x04", 4);
    test_write_file(bad, copy, size);
    assert_load_fails(bad, CLNET_STATUS_FORMAT_ERROR, "not a clnet model file");
    test_write_file(bad, "hello", 5);
    assert_load_fails(bad, CLNET_STATUS_FORMAT_ERROR, "not a clnet model file");

    memcpy(copy, data, size);
    set_le32(copy + 8, 2);
    reseal(copy, size);
    test_write_file(bad, copy, size);
    assert_load_fails(bad, CLNET_STATUS_UNSUPPORTED, "format version 2 is newer");
    assert_non_null(strstr(clnet_last_error(), "version 1"));

    set_le32(copy + 8, 0);
    reseal(copy, size);
    test_write_file(bad, copy, size);
    assert_load_fails(bad, CLNET_STATUS_FORMAT_ERROR, "format version 0");

    memcpy(copy, data, size);
    set_le32(copy + 12, 1);
    reseal(copy, size);
    test_write_file(bad, copy, size);
    assert_load_fails(bad, CLNET_STATUS_FORMAT_ERROR, "flags");

    /* Extra bytes after the declared length. */
    memcpy(copy, data, size);
    memset(copy + size, 0, 8);
    test_write_file(bad, copy, size + 8);
    assert_load_fails(bad, CLNET_STATUS_FORMAT_ERROR, "8 bytes of trailing data");

    free(copy);
    free(data);
}

/* ------------------------------------------------------------------------ */
/* Hostile content with a valid checksum                                    */

typedef struct byte_builder {
    uint8_t *data;
    size_t size, capacity;
} byte_builder;

static void put_raw(byte_builder *b, const void *p, size_t n) {
    if (b->size + n > b->capacity) {
        b->capacity = (b->size + n) * 2 + 64;
        b->data = realloc(b->data, b->capacity);
        assert_non_null(b->data);
    }
    memcpy(b->data + b->size, p, n);
    b->size += n;
}

static void put32(byte_builder *b, uint32_t v) {
    uint8_t bytes[4];
    set_le32(bytes, v);
    put_raw(b, bytes, 4);
}

static void put_float(byte_builder *b, float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    put32(b, bits);
}

static void put_str(byte_builder *b, const char *s) {
    put32(b, (uint32_t)strlen(s));
    put_raw(b, s, strlen(s));
}

/* What a tiny model looks like, with knobs that break one thing at a time.
 * Honest values: input "x" 1x2x2 -> flatten "flat" -> dense "fc" (3 units,
 * bias) -> output. */
typedef struct tiny_model {
    uint32_t dense_op_code;         /* 10 */
    uint32_t dense_name_length;     /* 0: the real length of "fc" */
    uint32_t flatten_input;         /* tensor id the flatten call reads: 0 */
    uint32_t dense_layer_index;     /* 1 */
    uint32_t kernel_dims[2];        /* 3 x 4 */
    int write_kernel_values;        /* whether the kernel's values are present */
    uint32_t input_channels;        /* 1 */
    uint32_t flatten_recorded_c;    /* 4 */
    uint32_t layer_count;           /* 2 */
    uint32_t output_id;             /* 2 */
    uint32_t dense_units;           /* 3 */
    const char *dense_name;         /* NULL: "fc" */
} tiny_model;

static tiny_model tiny_honest(void) {
    tiny_model t = {10, 0, 0, 1, {3, 4}, 1, 1, 4, 2, 2, 3, NULL};
    return t;
}

static void tiny_encode(const tiny_model *t, byte_builder *b) {
    b->size = 0;
    put_raw(b, "CLNETMDL", 8);
    put32(b, 1);
    put32(b, 0);
    put32(b, 0); /* length, patched below */
    put32(b, 0);

    put32(b, t->layer_count);
    /* layer 0: flatten */
    put32(b, 9);
    put_str(b, "flat");
    put32(b, 0); /* no configuration */
    put32(b, 0); /* no weights */
    /* layer 1: dense */
    put32(b, t->dense_op_code);
    const char *name = t->dense_name ? t->dense_name : "fc";
    if (t->dense_name_length) {
        put32(b, t->dense_name_length);
        put_raw(b, name, strlen(name));
    } else {
        put_str(b, name);
    }
    put32(b, 16);
    put32(b, t->dense_units);
    put32(b, 1); /* use_bias */
    put32(b, 0); /* linear */
    put32(b, 0); /* he_normal */
    put32(b, 2);
    put_str(b, "kernel");
    put32(b, 2);
    put32(b, t->kernel_dims[0]);
    put32(b, t->kernel_dims[1]);
    if (t->write_kernel_values)
        for (uint32_t i = 0; i < t->kernel_dims[0] * t->kernel_dims[1]; i++)
            put_float(b, 0.25f * (float)i);
    put_str(b, "bias");
    put32(b, 1);
    put32(b, 3);
    for (int i = 0; i < 3; i++)
        put_float(b, -1.0f + (float)i);

    put32(b, 3); /* nodes */
    put32(b, 0xFFFFFFFFu);
    put_str(b, "x");
    put32(b, 0);
    put32(b, 3);
    put32(b, t->input_channels);
    put32(b, 2);
    put32(b, 2);

    put32(b, 0); /* flatten call */
    put_str(b, "");
    put32(b, 1);
    put32(b, t->flatten_input);
    put32(b, 1);
    put32(b, t->flatten_recorded_c);
    put32(b, 1);
    put32(b, 1);

    put32(b, t->dense_layer_index); /* dense call */
    put_str(b, "");
    put32(b, 1);
    put32(b, 1);
    put32(b, 1);
    put32(b, 3);
    put32(b, 1);
    put32(b, 1);

    put32(b, 1); /* outputs */
    put32(b, t->output_id);

    put32(b, 0); /* checksum, sealed below */
    set_le32(b->data + 16, (uint32_t)b->size);
    set_le32(b->data + 20, 0);
    reseal(b->data, b->size);
}

static const char *write_tiny(const tiny_model *t) {
    byte_builder b = {0};
    tiny_encode(t, &b);
    const char *path = test_scratch_path("tiny.clnet");
    test_write_file(path, b.data, b.size);
    free(b.data);
    return path;
}

static void hand_written_tiny_model_loads(void **state) {
    (void)state;
    tiny_model t = tiny_honest();
    clnet_graph *g = NULL;
    TEST_OK(clnet_graph_load(write_tiny(&t), &g));
    assert_int_equal(clnet_graph_layer_count(g), 2);
    assert_int_equal(clnet_graph_node_count(g), 3);
    assert_int_equal(clnet_graph_param_count(g), 15);
    clnet_layer *fc = NULL;
    TEST_OK(clnet_graph_find_layer(g, "fc", &fc));
    clnet_weight_info w;
    TEST_OK(clnet_layer_weight(fc, 0, &w));
    assert_string_equal(w.name, "kernel");
    assert_true(w.data[5] == 1.25f);

    float in[4] = {1, 2, 3, 4}, out[3];
    const float *ins[1] = {in};
    float *outs[1] = {out};
    TEST_OK(clnet_graph_run_reference(g, 1, ins, outs));
    /* fc row 0 holds 0, .25, .5, .75 and bias -1: 0 + .5 + 1.5 + 3 - 1 = 4. */
    assert_true(out[0] == 4.0f);
    clnet_graph_destroy(g);
}

static void load_rejects_node_referring_to_later_tensor(void **state) {
    (void)state;
    tiny_model t = tiny_honest();
    t.flatten_input = 2;
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR,
                      "node 1 refers to tensor 2 which is not defined before it");
    t.flatten_input = 1; /* itself */
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR,
                      "node 1 refers to tensor 1 which is not defined before it");
    t = tiny_honest();
    t.output_id = 3;
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR, "output 0 is tensor 3");
    t = tiny_honest();
    t.dense_layer_index = 7;
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR, "calls layer 7");
}

static void load_rejects_giant_dimensions_and_counts(void **state) {
    (void)state;
    tiny_model t = tiny_honest();
    t.kernel_dims[0] = 0x40000000u;
    t.kernel_dims[1] = 0x40000000u;
    t.write_kernel_values = 0;
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR, "past the end");

    t = tiny_honest();
    t.input_channels = 0x7FFFFFFFu;
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR, "larger than");

    t = tiny_honest();
    t.layer_count = 0xFFFFFFF0u;
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR, "layer count");

    /* A well-formed but huge layer: its weights would not fit the file, so it
     * is refused before anything is allocated for them. */
    t = tiny_honest();
    t.dense_units = 1 << 24;
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR, "needs at least");
}

static void load_rejects_string_length_past_end(void **state) {
    (void)state;
    tiny_model t = tiny_honest();
    t.dense_name_length = 1000;
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR, "runs past the end");
    t.dense_name_length = 0xFFFFFFF0u;
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR, "more than the limit");
}

static void load_rejects_unknown_op_code(void **state) {
    (void)state;
    tiny_model t = tiny_honest();
    t.dense_op_code = 99;
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR, "unknown op code 99");
    t.dense_op_code = 0; /* "input" is not a layer */
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR, "unknown op code 0");
}

static void load_rejects_weight_of_wrong_size(void **state) {
    (void)state;
    tiny_model t = tiny_honest();
    t.kernel_dims[1] = 5; /* the layer sees 4 features */
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR,
                      "weight 'kernel' has the wrong size: the file holds 3x5 (15 values), the "
                      "layer expects 3x4 (12 values)");
    t.kernel_dims[0] = 4; /* transposed: the same count, the wrong dimensions */
    t.kernel_dims[1] = 3;
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR, "wrong size");
    t.kernel_dims[0] = 2; /* too few values for the layer to be built at all */
    t.kernel_dims[1] = 2;
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR, "needs at least 12 weight");
}

static void load_rejects_shape_disagreeing_with_inference(void **state) {
    (void)state;
    tiny_model t = tiny_honest();
    t.flatten_recorded_c = 5;
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR, "the graph infers");
}

/* A saved graph of one input "x" (2x6x6) and one layer called on it, as
 * bytes; *config receives the offset of the layer's configuration. */
static uint8_t *one_layer_file(clnet_layer *(*make)(clnet_graph *), size_t *size,
                               size_t *config) {
    clnet_graph *g = NULL;
    TEST_OK(clnet_graph_create(&g));
    clnet_tensor x, y;
    TEST_OK(clnet_graph_input(g, "x", 2, 6, 6, &x));
    clnet_layer *layer = make(g);
    TEST_OK(clnet_layer_call1(layer, x, &y));
    TEST_OK(clnet_graph_set_outputs(g, &y, 1));
    const char *path = test_scratch_path("one_layer.clnet");
    TEST_OK(clnet_graph_save(g, path));
    clnet_graph_destroy(g);
    uint8_t *data = test_read_file(path, size);
    /* header, layer count, op code, name "L" (4 + 1 bytes), config size */
    *config = 24 + 4 + 4 + 5 + 4;
    assert_int_equal(le32(data + 32), 1);
    assert_int_equal(data[36], 'L');
    return data;
}

static clnet_layer *make_pad(clnet_graph *g) {
    clnet_pad_desc d = {1, 1, 2, 0, 0, 1, 0.25f};
    clnet_layer *layer;
    TEST_OK(clnet_layer_pad(g, "L", &d, &layer));
    return layer;
}

static clnet_layer *make_slice(clnet_graph *g) {
    clnet_slice_desc d = {{0, 1, 0}, {2, 6, 5}, {1, 2, 2}};
    clnet_layer *layer;
    TEST_OK(clnet_layer_slice(g, "L", &d, &layer));
    return layer;
}

static clnet_layer *make_clip(clnet_graph *g) {
    clnet_layer *layer;
    TEST_OK(clnet_layer_clip(g, "L", -1.0f, 1.0f, &layer));
    return layer;
}

static clnet_layer *make_sigmoid(clnet_graph *g) {
    clnet_layer *layer;
    TEST_OK(clnet_layer_activation(g, "L", CLNET_ACT_SIGMOID, &layer));
    return layer;
}

static clnet_layer *make_affine(clnet_graph *g) {
    clnet_layer *layer;
    TEST_OK(clnet_layer_channel_affine(g, "L", &layer));
    return layer;
}

/* Writes data with the u32 at `at` replaced, resealed, and expects the load
 * to fail with a format error containing needle. */
static void assert_patched_load_fails(const uint8_t *data, size_t size, size_t at,
                                      uint32_t value, const char *needle) {
    uint8_t *copy = malloc(size);
    assert_non_null(copy);
    memcpy(copy, data, size);
    set_le32(copy + at, value);
    reseal(copy, size);
    const char *path = test_scratch_path("patched.clnet");
    test_write_file(path, copy, size);
    free(copy);
    assert_load_fails(path, CLNET_STATUS_FORMAT_ERROR, needle);
}

static uint32_t float_bits(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    return bits;
}

static void new_op_configurations_are_stored_as_documented(void **state) {
    (void)state;
    size_t size, at;
    /* pad: 7 fields, op code 13 */
    uint8_t *data = one_layer_file(make_pad, &size, &at);
    assert_int_equal(le32(data + 28), 13);
    assert_int_equal(le32(data + at - 4), 28);
    const uint32_t pad_fields[6] = {1, 1, 2, 0, 0, 1};
    for (int i = 0; i < 6; i++)
        assert_int_equal(le32(data + at + 4 * i), pad_fields[i]);
    assert_int_equal(le32(data + at + 24), float_bits(0.25f));
    free(data);

    /* slice: begins, ends, steps (c, h, w each), op code 14 */
    data = one_layer_file(make_slice, &size, &at);
    assert_int_equal(le32(data + 28), 14);
    assert_int_equal(le32(data + at - 4), 36);
    const uint32_t slice_fields[9] = {0, 1, 0, 2, 6, 5, 1, 2, 2};
    for (int i = 0; i < 9; i++)
        assert_int_equal(le32(data + at + 4 * i), slice_fields[i]);
    free(data);

    /* clip: lo, hi, op code 18 */
    data = one_layer_file(make_clip, &size, &at);
    assert_int_equal(le32(data + 28), 18);
    assert_int_equal(le32(data + at - 4), 8);
    assert_int_equal(le32(data + at), float_bits(-1.0f));
    assert_int_equal(le32(data + at + 4), float_bits(1.0f));
    free(data);

    /* sigmoid is activation code 3 */
    data = one_layer_file(make_sigmoid, &size, &at);
    assert_int_equal(le32(data + 28), 3);
    assert_int_equal(le32(data + at), 3);
    free(data);

    /* channel_affine: op code 17, no configuration, weights scale and shift [2] */
    data = one_layer_file(make_affine, &size, &at);
    assert_int_equal(le32(data + 28), 17);
    assert_int_equal(le32(data + at - 4), 0);
    assert_int_equal(le32(data + at), 2);
    assert_int_equal(le32(data + at + 4), 5);
    assert_memory_equal(data + at + 8, "scale", 5);
    free(data);
}

static void load_rejects_bad_new_op_configurations(void **state) {
    (void)state;
    size_t size, at;
    uint8_t *data = one_layer_file(make_pad, &size, &at);
    assert_patched_load_fails(data, size, at, (uint32_t)-1, "pad_top is -1");
    assert_patched_load_fails(data, size, at + 16, 0x02000000u, "channels_before is 33554432");
    assert_patched_load_fails(data, size, at + 24, float_bits(NAN), "pad value");
    assert_patched_load_fails(data, size, at + 24, float_bits(INFINITY), "not finite");
    free(data);

    data = one_layer_file(make_slice, &size, &at);
    assert_patched_load_fails(data, size, at + 28, 0, "step_h is 0");
    assert_patched_load_fails(data, size, at + 32, 0x7FFFFFFFu, "step_w is 2147483647");
    assert_patched_load_fails(data, size, at, (uint32_t)-3, "begin_c is -3");
    assert_patched_load_fails(data, size, at + 20, (uint32_t)-1, "end_w is -1");
    /* Well-formed but empty: begin 6 of a 6-row axis. */
    assert_patched_load_fails(data, size, at + 4, 6, "is empty");
    free(data);

    data = one_layer_file(make_clip, &size, &at);
    assert_patched_load_fails(data, size, at, float_bits(2.0f), "clip bounds");
    assert_patched_load_fails(data, size, at + 4, float_bits(NAN), "clip bounds");
    free(data);

    data = one_layer_file(make_sigmoid, &size, &at);
    assert_patched_load_fails(data, size, at, 4, "activation has the unknown code 4");
    free(data);

    /* A channel affine whose first weight is not "scale" but "scaxe". */
    data = one_layer_file(make_affine, &size, &at);
    assert_memory_equal(data + at + 8, "scale", 5); /* after the weight count and length */
    assert_patched_load_fails(data, size, at + 8, 0x78616373u, "has no weight 'scaxe'");
    free(data);
}

static void saving_rejects_slice_steps_beyond_the_format(void **state) {
    (void)state;
    clnet_graph *g = NULL;
    TEST_OK(clnet_graph_create(&g));
    clnet_slice_desc d = clnet_slice_defaults();
    d.step[2] = (1 << 24) + 1;
    clnet_layer *layer;
    TEST_OK(clnet_layer_slice(g, "wide_step", &d, &layer));
    TEST_FAILS(CLNET_STATUS_UNSUPPORTED, "wide_step",
               clnet_graph_save(g, test_scratch_path("wide_step.clnet")));
    assert_no_temporary_files();
    clnet_graph_destroy(g);
}

/* Random damage that keeps the checksum valid: every load either succeeds or
 * fails with a format error naming the file; none may crash or leak (the
 * sanitizer build checks the latter two). */
static void load_survives_random_damage_with_valid_checksum(void **state) {
    (void)state;
    clnet_graph *g = every_op_graph();
    const char *path = test_scratch_path("damage_source.clnet");
    TEST_OK(clnet_graph_save(g, path));
    clnet_graph_destroy(g);
    size_t size;
    uint8_t *data = test_read_file(path, &size);
    uint8_t *copy = malloc(size);
    assert_non_null(copy);
    const char *damaged = test_scratch_path("damaged.clnet");

    test_rng rng = {2024};
    int loaded = 0;
    for (int trial = 0; trial < 1500; trial++) {
        memcpy(copy, data, size);
        int edits = 1 + (int)(test_rng_next(&rng) % 3);
        for (int e = 0; e < edits; e++) {
            /* Past the header (whose damage the tests above cover), and
             * often in the structure before the first weights. */
            size_t span = test_rng_next(&rng) % 2 ? 400 : size - 28;
            size_t at = 24 + (size_t)(test_rng_next(&rng) % span);
            uint64_t kind = test_rng_next(&rng) % 3;
            if (kind == 0)
                copy[at] ^= (uint8_t)(1u << (test_rng_next(&rng) % 8));
            else if (kind == 1)
                copy[at] = (uint8_t)test_rng_next(&rng);
            else
                copy[at] = 0xFF;
        }
        reseal(copy, size);
        test_write_file(damaged, copy, size);
        clnet_graph *out = NULL;
        clnet_status s = clnet_graph_load(damaged, &out);
        if (s == CLNET_STATUS_OK) {
            assert_non_null(out);
            loaded++;
            clnet_graph_destroy(out);
            continue;
        }
        if (s != CLNET_STATUS_FORMAT_ERROR && s != CLNET_STATUS_UNSUPPORTED)
            fail_msg("trial %d: %s: %s", trial, clnet_status_string(s), clnet_last_error());
        assert_null(out);
        if (!strstr(clnet_last_error(), damaged))
            fail_msg("trial %d: the message does not name the file: %s", trial,
                     clnet_last_error());
    }
    /* Damage to weight values alone still loads. */
    assert_true(loaded > 0);
    free(copy);
    free(data);
}

static void names_must_be_utf8_without_control_characters(void **state) {
    (void)state;
    tiny_model t = tiny_honest();
    t.dense_name = "d\xc3\xa9nse_\xe2\x82\xac"; /* "dénse_€" */
    clnet_graph *g = NULL;
    TEST_OK(clnet_graph_load(write_tiny(&t), &g));
    clnet_layer *layer = NULL;
    TEST_OK(clnet_graph_find_layer(g, t.dense_name, &layer));
    const char *path = test_scratch_path("utf8.clnet");
    TEST_OK(clnet_graph_save(g, path));
    clnet_graph *again = NULL;
    TEST_OK(clnet_graph_load(path, &again));
    assert_same_graph(g, again);
    clnet_graph_destroy(again);

    clnet_layer *bad;
    TEST_OK(clnet_layer_flatten(g, "line\nbreak", &bad));
    TEST_FAILS(CLNET_STATUS_UNSUPPORTED, "control character", clnet_graph_save(g, path));
    clnet_graph_destroy(g);

    t.dense_name = "f\xff";
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR, "invalid UTF-8");
    t.dense_name = "\xc0\xaf"; /* an overlong '/' */
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR, "invalid UTF-8");
    t.dense_name = "f\tc";
    assert_load_fails(write_tiny(&t), CLNET_STATUS_FORMAT_ERROR, "control character");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_op_graph_round_trips_bit_identically),
        cmocka_unit_test(saved_file_is_little_endian_with_length_and_crc32),
        cmocka_unit_test(builtin_resnet20v1_round_trips),
        cmocka_unit_test(saving_replaces_an_existing_file),
        cmocka_unit_test(save_into_missing_folder_is_an_io_error),
        cmocka_unit_test(load_rejects_missing_file_and_folder),
        cmocka_unit_test(load_rejects_empty_file),
        cmocka_unit_test(load_rejects_every_truncation),
        cmocka_unit_test(load_rejects_flipped_byte_by_checksum),
        cmocka_unit_test(load_rejects_wrong_magic_version_flags_and_length),
        cmocka_unit_test(hand_written_tiny_model_loads),
        cmocka_unit_test(load_rejects_node_referring_to_later_tensor),
        cmocka_unit_test(load_rejects_giant_dimensions_and_counts),
        cmocka_unit_test(load_rejects_string_length_past_end),
        cmocka_unit_test(load_rejects_unknown_op_code),
        cmocka_unit_test(load_rejects_weight_of_wrong_size),
        cmocka_unit_test(load_rejects_shape_disagreeing_with_inference),
        cmocka_unit_test(new_op_configurations_are_stored_as_documented),
        cmocka_unit_test(load_rejects_bad_new_op_configurations),
        cmocka_unit_test(saving_rejects_slice_steps_beyond_the_format),
        cmocka_unit_test(names_must_be_utf8_without_control_characters),
        cmocka_unit_test(load_survives_random_damage_with_valid_checksum),
    };
    return cmocka_run_group_tests(tests, make_scratch_dir, remove_scratch_dir);
}
