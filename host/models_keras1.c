/* The Keras 1 DenseNet "fast" variant of the shared pretrained weights (DenseNet-Fast-40-12),
 * built with the layer names and creation order of the original Keras 1 model. */
#include "clnet.h"
#include "error.h"
#include "import.h"

#include <stdio.h>

#define BN_EPSILON      1e-3f /* Keras 1 BatchNormalization default */
#define INITIAL_FILTERS 16    /* the stem's width in the original model */
#define DENSE_BLOCKS    3
#define CIFAR_CHANNELS  3
#define CIFAR_SIZE      32

/* Keras 1 numbers its automatic names per layer class from 1. */
typedef struct keras1_names {
    char buf[64];
    int conv, bn, act, merge, avgpool;
} keras1_names;

static const char *next_name(keras1_names *n, const char *prefix, int *counter) {
    snprintf(n->buf, sizeof n->buf, "%s_%d", prefix, ++*counter);
    return n->buf;
}

static clnet_status apply_relu(clnet_graph *g, keras1_names *n, clnet_tensor x, clnet_tensor *out) {
    clnet_layer *layer;
    CLNET_TRY(
        clnet_layer_activation(g, next_name(n, "activation", &n->act), CLNET_ACT_RELU, &layer));
    return clnet_layer_call1(layer, x, out);
}

static clnet_status apply_batchnorm(clnet_graph *g, const char *name, clnet_tensor x,
                                    clnet_tensor *out) {
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_batchnorm(g, name, BN_EPSILON, &layer));
    return clnet_layer_call1(layer, x, out);
}

/* Convolution2D(border_mode='same', bias=False) as the model uses everywhere. */
static clnet_status apply_conv(clnet_graph *g, const char *name, int filters, int kernel,
                               clnet_tensor x, clnet_tensor *out) {
    clnet_conv2d_desc desc = clnet_conv2d_defaults(filters, kernel);
    desc.use_bias = 0;
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_conv2d(g, name, &desc, &layer));
    return clnet_layer_call1(layer, x, out);
}

static clnet_status build(clnet_graph *g, int layers_per_block, int growth_rate, int num_classes) {
    keras1_names n = {0};
    clnet_tensor x, y;
    CLNET_TRY(clnet_graph_input(g, "input_1", CIFAR_CHANNELS, CIFAR_SIZE, CIFAR_SIZE, &x));
    CLNET_TRY(apply_conv(g, "initial_conv2D", INITIAL_FILTERS, 3, x, &x));
    CLNET_TRY(apply_batchnorm(g, next_name(&n, "batchnormalization", &n.bn), x, &x));

    int filters = INITIAL_FILTERS;
    for (int block = 0; block < DENSE_BLOCKS; block++) {
        /* Each layer sees the ReLU of everything so far, but the features joined are the raw
         * ones: the concatenation takes the block input before its ReLU. */
        for (int i = 0; i < layers_per_block; i++) {
            CLNET_TRY(apply_relu(g, &n, x, &y));
            CLNET_TRY(
                apply_conv(g, next_name(&n, "convolution2d", &n.conv), growth_rate, 3, y, &y));
            clnet_layer *merge;
            CLNET_TRY(clnet_layer_concat(g, next_name(&n, "merge", &n.merge), &merge));
            clnet_tensor pair[2] = {x, y};
            CLNET_TRY(clnet_layer_call(merge, pair, 2, &x));
            filters += growth_rate;
        }
        if (block == DENSE_BLOCKS - 1)
            break;

        /* Transition without compression or ReLU: Conv1x1 -> AvgPool 2x2 -> BN. */
        CLNET_TRY(apply_conv(g, next_name(&n, "convolution2d", &n.conv), filters, 1, x, &x));
        clnet_pool2d_desc pool = clnet_pool2d_defaults(2);
        clnet_layer *layer;
        CLNET_TRY(
            clnet_layer_avgpool(g, next_name(&n, "averagepooling2d", &n.avgpool), &pool, &layer));
        CLNET_TRY(clnet_layer_call1(layer, x, &x));
        CLNET_TRY(apply_batchnorm(g, next_name(&n, "batchnormalization", &n.bn), x, &x));
    }

    /* Head: ReLU -> global average pool -> Dense softmax. */
    CLNET_TRY(apply_relu(g, &n, x, &x));
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_global_avgpool(g, "globalaveragepooling2d_1", &layer));
    CLNET_TRY(clnet_layer_call1(layer, x, &x));
    clnet_dense_desc dense = {num_classes, 1, CLNET_ACT_SOFTMAX, CLNET_INIT_HE_NORMAL};
    CLNET_TRY(clnet_layer_dense(g, "dense_1", &dense, &layer));
    CLNET_TRY(clnet_layer_call1(layer, x, &x));
    return clnet_graph_set_outputs(g, &x, 1);
}

clnet_status clnet_model_densenet_fast(int depth, int growth_rate, int num_classes,
                                       clnet_graph **out) {
    if (!out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "densenet fast: the output graph pointer is NULL");
    *out = NULL;
    /* Three blocks of (depth - 4) / 3 single-conv layers, plus the stem, two transitions and
     * the classifier. */
    if (depth < 7 || (depth - 4) % DENSE_BLOCKS != 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "densenet fast: depth %d is not 3n+4 with n >= 1 (40 for "
                          "DenseNet-Fast-40-12)",
                          depth);
    if (growth_rate <= 0 || growth_rate > 4096 || num_classes <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "densenet fast: growth rate %d and %d classes must be positive "
                          "(growth at most 4096)",
                          growth_rate, num_classes);
    clnet_graph *g;
    CLNET_TRY(clnet_graph_create(&g));
    clnet_status s = build(g, (depth - 4) / DENSE_BLOCKS, growth_rate, num_classes);
    if (s != CLNET_STATUS_OK) {
        clnet_graph_destroy(g);
        return s;
    }
    *out = g;
    return CLNET_STATUS_OK;
}
