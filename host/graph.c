/* Graph construction: layers, calls of layers on symbolic tensors, shape
 * inference at each call, and the weights a layer owns. */
#include "graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits that keep shape arithmetic inside int and size_t without checks at
 * every use: no dimension may exceed 2^24, no tensor 2^31 elements. */
#define MAX_DIMENSION (1 << 24)
#define MAX_TENSOR_ELEMENTS 2147483647LL

static const char *const op_names[CLNET_OP_COUNT] = {
    [CLNET_OP_INPUT] = "input",
    [CLNET_OP_CONV2D] = "conv2d",
    [CLNET_OP_BATCHNORM] = "batchnorm",
    [CLNET_OP_ACTIVATION] = "activation",
    [CLNET_OP_ADD] = "add",
    [CLNET_OP_CONCAT] = "concat",
    [CLNET_OP_AVGPOOL] = "avgpool",
    [CLNET_OP_MAXPOOL] = "maxpool",
    [CLNET_OP_GLOBAL_AVGPOOL] = "global_avgpool",
    [CLNET_OP_FLATTEN] = "flatten",
    [CLNET_OP_DENSE] = "dense",
    [CLNET_OP_SOFTMAX] = "softmax",
    [CLNET_OP_DROPOUT] = "dropout",
    [CLNET_OP_PAD] = "pad",
    [CLNET_OP_SLICE] = "slice",
    [CLNET_OP_MULTIPLY] = "multiply",
    [CLNET_OP_SUBTRACT] = "subtract",
    [CLNET_OP_CHANNEL_AFFINE] = "channel_affine",
    [CLNET_OP_CLIP] = "clip",
};

/* The prefixes Keras gives automatically named layers, so that weights
 * saved by Keras map onto clnet layers by name. */
static const char *const keras_prefixes[CLNET_OP_COUNT] = {
    [CLNET_OP_INPUT] = "input",
    [CLNET_OP_CONV2D] = "conv2d",
    [CLNET_OP_BATCHNORM] = "batch_normalization",
    [CLNET_OP_ACTIVATION] = "activation",
    [CLNET_OP_ADD] = "add",
    [CLNET_OP_CONCAT] = "concatenate",
    [CLNET_OP_AVGPOOL] = "average_pooling2d",
    [CLNET_OP_MAXPOOL] = "max_pooling2d",
    [CLNET_OP_GLOBAL_AVGPOOL] = "global_average_pooling2d",
    [CLNET_OP_FLATTEN] = "flatten",
    [CLNET_OP_DENSE] = "dense",
    [CLNET_OP_SOFTMAX] = "softmax",
    [CLNET_OP_DROPOUT] = "dropout",
    [CLNET_OP_PAD] = "zero_padding2d",
    [CLNET_OP_SLICE] = "slice",
    [CLNET_OP_MULTIPLY] = "multiply",
    [CLNET_OP_SUBTRACT] = "subtract",
    [CLNET_OP_CHANNEL_AFFINE] = "channel_affine",
    [CLNET_OP_CLIP] = "clip",
};

const char *clnet_op_name(clnet_op op) {
    if ((int)op < 0 || op >= CLNET_OP_COUNT)
        return "unknown";
    return op_names[op];
}

clnet_conv2d_desc clnet_conv2d_defaults(int filters, int kernel_size) {
    clnet_conv2d_desc d;
    memset(&d, 0, sizeof d);
    d.filters = filters;
    d.kernel_h = d.kernel_w = kernel_size;
    d.stride_h = d.stride_w = 1;
    d.dilation_h = d.dilation_w = 1;
    d.padding = CLNET_PADDING_SAME;
    d.use_bias = 1;
    d.activation = CLNET_ACT_LINEAR;
    d.kernel_initializer = CLNET_INIT_HE_NORMAL;
    return d;
}

clnet_pool2d_desc clnet_pool2d_defaults(int pool_size) {
    clnet_pool2d_desc d;
    memset(&d, 0, sizeof d);
    d.pool_h = d.pool_w = pool_size;
    d.stride_h = d.stride_w = pool_size;
    d.padding = CLNET_PADDING_VALID;
    return d;
}

clnet_slice_desc clnet_slice_defaults(void) {
    clnet_slice_desc d;
    for (int i = 0; i < 3; i++) {
        d.begin[i] = 0;
        d.end[i] = INT32_MAX;
        d.step[i] = 1;
    }
    return d;
}

size_t clnet_shape_size(clnet_shape s) {
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

static void format_shape(clnet_shape s, char *buf, size_t size) {
    if (s.rank == 1)
        snprintf(buf, size, "(%d)", s.c);
    else
        snprintf(buf, size, "(%d, %d, %d)", s.c, s.h, s.w);
}

/* ------------------------------------------------------------------------ */
/* Graph lifetime                                                            */

clnet_status clnet_graph_create(clnet_graph **out) {
    if (!out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_graph_create: out is NULL");
    clnet_graph *g = calloc(1, sizeof *g);
    if (!g)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "clnet_graph_create: out of host memory");
    *out = g;
    return CLNET_STATUS_OK;
}

static void layer_free(clnet_layer *layer) {
    if (!layer)
        return;
    for (int i = 0; i < layer->n_weights; i++)
        free(layer->weights[i].data);
    free(layer->name);
    free(layer);
}

void clnet_graph_destroy(clnet_graph *g) {
    if (!g)
        return;
    for (int i = 0; i < g->n_layers; i++)
        layer_free(g->layers[i]);
    free(g->layers);
    for (int i = 0; i < g->n_nodes; i++) {
        free(g->nodes[i].inputs);
        free(g->nodes[i].input_name);
    }
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g);
}

/* Grows an array to hold at least `need` elements of `size` bytes. */
static int grow(void **array, int *capacity, int need, size_t size) {
    if (need <= *capacity)
        return 1;
    int cap = *capacity ? *capacity * 2 : 16;
    while (cap < need)
        cap *= 2;
    void *p = realloc(*array, (size_t)cap * size);
    if (!p)
        return 0;
    *array = p;
    *capacity = cap;
    return 1;
}

static char *copy_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* Whether a layer or graph input already carries this name. */
static int name_taken(const clnet_graph *g, const char *name) {
    for (int i = 0; i < g->n_layers; i++)
        if (strcmp(g->layers[i]->name, name) == 0)
            return 1;
    for (int i = 0; i < g->n_inputs; i++)
        if (strcmp(g->nodes[g->inputs[i]].input_name, name) == 0)
            return 1;
    return 0;
}

/* Picks the name of a new layer or input: the caller's, which must be
 * unique, or the next free Keras-style automatic one ("conv2d",
 * "conv2d_1", ...; inputs count from "input_1"). */
static clnet_status choose_name(clnet_graph *g, clnet_op op, const char *name, char **out) {
    char buf[128];
    if (name) {
        if (name[0] == '\0')
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "a layer name must not be empty");
        if (name_taken(g, name))
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                              "a layer or input named '%s' already exists in the graph", name);
        *out = copy_string(name);
    } else {
        do {
            int k = g->auto_name_counter[op]++;
            if (op == CLNET_OP_INPUT)
                snprintf(buf, sizeof buf, "%s_%d", keras_prefixes[op], k + 1);
            else if (k == 0)
                snprintf(buf, sizeof buf, "%s", keras_prefixes[op]);
            else
                snprintf(buf, sizeof buf, "%s_%d", keras_prefixes[op], k);
        } while (name_taken(g, buf));
        *out = copy_string(buf);
    }
    if (!*out)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory naming a layer");
    return CLNET_STATUS_OK;
}

/* Appends a node; on success *index is its position (= its tensor id). */
static clnet_status add_node(clnet_graph *g, const clnet_node *node, int *index) {
    if (!grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes))
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory adding a node");
    g->nodes[g->n_nodes] = *node;
    *index = g->n_nodes++;
    return CLNET_STATUS_OK;
}

clnet_status clnet_graph_input(clnet_graph *g, const char *name, int channels, int height,
                               int width, clnet_tensor *out) {
    if (!g || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_graph_input: NULL argument");
    if (channels <= 0 || height <= 0 || width <= 0 || channels > MAX_DIMENSION ||
        height > MAX_DIMENSION || width > MAX_DIMENSION ||
        (long long)channels * height * width > MAX_TENSOR_ELEMENTS)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "input '%s': shape (%d, %d, %d) must be positive and below 2^31 elements",
                          name ? name : "(unnamed)", channels, height, width);
    if (!grow((void **)&g->inputs, &g->cap_inputs, g->n_inputs + 1, sizeof *g->inputs))
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory adding an input");

    clnet_node node;
    memset(&node, 0, sizeof node);
    node.op = CLNET_OP_INPUT;
    node.shape = (clnet_shape){3, channels, height, width};
    CLNET_TRY(choose_name(g, CLNET_OP_INPUT, name, &node.input_name));
    int index;
    clnet_status s = add_node(g, &node, &index);
    if (s != CLNET_STATUS_OK) {
        free(node.input_name);
        return s;
    }
    g->inputs[g->n_inputs++] = index;
    out->id = index;
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Layer constructors                                                        */

static clnet_status new_layer(clnet_graph *g, clnet_op op, const char *name, clnet_layer **out) {
    if (!g || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "creating a %s layer: NULL argument",
                          clnet_op_name(op));
    if (!grow((void **)&g->layers, &g->cap_layers, g->n_layers + 1, sizeof *g->layers))
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory adding a layer");
    clnet_layer *layer = calloc(1, sizeof *layer);
    if (!layer)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory adding a layer");
    clnet_status s = choose_name(g, op, name, &layer->name);
    if (s != CLNET_STATUS_OK) {
        free(layer);
        return s;
    }
    layer->graph = g;
    layer->op = op;
    layer->index = g->n_layers;
    g->layers[g->n_layers++] = layer;
    *out = layer;
    return CLNET_STATUS_OK;
}

static int valid_activation(clnet_activation a) {
    return a == CLNET_ACT_LINEAR || a == CLNET_ACT_RELU || a == CLNET_ACT_SOFTMAX ||
           a == CLNET_ACT_SIGMOID;
}

static int valid_padding(clnet_padding p) {
    return p == CLNET_PADDING_SAME || p == CLNET_PADDING_VALID || p == CLNET_PADDING_EXPLICIT;
}

static int valid_initializer(clnet_initializer i) {
    return i == CLNET_INIT_HE_NORMAL || i == CLNET_INIT_GLOROT_UNIFORM;
}

clnet_status clnet_layer_conv2d(clnet_graph *g, const char *name, const clnet_conv2d_desc *d,
                                clnet_layer **out) {
    if (!d)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "conv2d: NULL description");
    const char *n = name ? name : "conv2d";
    if (d->filters <= 0 || d->filters > MAX_DIMENSION || d->kernel_h <= 0 || d->kernel_w <= 0 ||
        d->kernel_h > 4096 || d->kernel_w > 4096 || d->stride_h <= 0 || d->stride_w <= 0 ||
        d->dilation_h <= 0 || d->dilation_w <= 0 || d->dilation_h > 4096 || d->dilation_w > 4096)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "conv2d '%s': filters %d, kernel %dx%d, stride %dx%d and dilation %dx%d "
                          "must be positive",
                          n, d->filters, d->kernel_h, d->kernel_w, d->stride_h, d->stride_w,
                          d->dilation_h, d->dilation_w);
    if (!valid_padding(d->padding) || !valid_activation(d->activation) ||
        !valid_initializer(d->kernel_initializer))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "conv2d '%s': unknown padding (%d), activation (%d) or initializer (%d)",
                          n, (int)d->padding, (int)d->activation, (int)d->kernel_initializer);
    if (d->padding == CLNET_PADDING_EXPLICIT &&
        (d->pad_top < 0 || d->pad_bottom < 0 || d->pad_left < 0 || d->pad_right < 0))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "conv2d '%s': negative padding", n);
    clnet_layer *layer = NULL;
    CLNET_TRY(new_layer(g, CLNET_OP_CONV2D, name, &layer));
    layer->u.conv = *d;
    layer->u.conv.use_bias = d->use_bias != 0;
    *out = layer;
    return CLNET_STATUS_OK;
}

clnet_status clnet_layer_batchnorm(clnet_graph *g, const char *name, float epsilon,
                                   clnet_layer **out) {
    if (!(epsilon > 0) || !isfinite(epsilon))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "batchnorm '%s': epsilon %g must be positive", name ? name : "",
                          (double)epsilon);
    clnet_layer *layer = NULL;
    CLNET_TRY(new_layer(g, CLNET_OP_BATCHNORM, name, &layer));
    layer->u.bn.epsilon = epsilon;
    *out = layer;
    return CLNET_STATUS_OK;
}

clnet_status clnet_layer_activation(clnet_graph *g, const char *name, clnet_activation act,
                                    clnet_layer **out) {
    if (!valid_activation(act))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "activation '%s': unknown activation %d",
                          name ? name : "", (int)act);
    clnet_layer *layer = NULL;
    CLNET_TRY(new_layer(g, CLNET_OP_ACTIVATION, name, &layer));
    layer->u.activation = act;
    *out = layer;
    return CLNET_STATUS_OK;
}

clnet_status clnet_layer_add(clnet_graph *g, const char *name, clnet_layer **out) {
    return new_layer(g, CLNET_OP_ADD, name, out);
}

clnet_status clnet_layer_concat(clnet_graph *g, const char *name, clnet_layer **out) {
    return new_layer(g, CLNET_OP_CONCAT, name, out);
}

static clnet_status pool_layer(clnet_graph *g, clnet_op op, const char *name,
                               const clnet_pool2d_desc *d, clnet_layer **out) {
    if (!d)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: NULL description", op_names[op]);
    if (d->pool_h <= 0 || d->pool_w <= 0 || d->stride_h <= 0 || d->stride_w <= 0 ||
        d->pool_h > 4096 || d->pool_w > 4096 || !valid_padding(d->padding) ||
        (d->padding == CLNET_PADDING_EXPLICIT &&
         (d->pad_top < 0 || d->pad_bottom < 0 || d->pad_left < 0 || d->pad_right < 0)))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s '%s': pool %dx%d and stride %dx%d must be positive, padding valid",
                          op_names[op], name ? name : "", d->pool_h, d->pool_w, d->stride_h,
                          d->stride_w);
    clnet_layer *layer = NULL;
    CLNET_TRY(new_layer(g, op, name, &layer));
    layer->u.pool = *d;
    *out = layer;
    return CLNET_STATUS_OK;
}

clnet_status clnet_layer_avgpool(clnet_graph *g, const char *name, const clnet_pool2d_desc *desc,
                                 clnet_layer **out) {
    return pool_layer(g, CLNET_OP_AVGPOOL, name, desc, out);
}

clnet_status clnet_layer_maxpool(clnet_graph *g, const char *name, const clnet_pool2d_desc *desc,
                                 clnet_layer **out) {
    return pool_layer(g, CLNET_OP_MAXPOOL, name, desc, out);
}

clnet_status clnet_layer_global_avgpool(clnet_graph *g, const char *name, clnet_layer **out) {
    return new_layer(g, CLNET_OP_GLOBAL_AVGPOOL, name, out);
}

clnet_status clnet_layer_flatten(clnet_graph *g, const char *name, clnet_layer **out) {
    return new_layer(g, CLNET_OP_FLATTEN, name, out);
}

clnet_status clnet_layer_dense(clnet_graph *g, const char *name, const clnet_dense_desc *d,
                               clnet_layer **out) {
    if (!d)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "dense: NULL description");
    if (d->units <= 0 || d->units > MAX_DIMENSION || !valid_activation(d->activation) ||
        !valid_initializer(d->kernel_initializer))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "dense '%s': units %d must be positive; activation %d, initializer %d",
                          name ? name : "", d->units, (int)d->activation,
                          (int)d->kernel_initializer);
    clnet_layer *layer = NULL;
    CLNET_TRY(new_layer(g, CLNET_OP_DENSE, name, &layer));
    layer->u.dense = *d;
    layer->u.dense.use_bias = d->use_bias != 0;
    *out = layer;
    return CLNET_STATUS_OK;
}

clnet_status clnet_layer_softmax(clnet_graph *g, const char *name, clnet_layer **out) {
    return new_layer(g, CLNET_OP_SOFTMAX, name, out);
}

clnet_status clnet_layer_dropout(clnet_graph *g, const char *name, float rate, clnet_layer **out) {
    if (!(rate >= 0 && rate < 1))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "dropout '%s': rate %g must be in [0, 1)", name ? name : "",
                          (double)rate);
    clnet_layer *layer = NULL;
    CLNET_TRY(new_layer(g, CLNET_OP_DROPOUT, name, &layer));
    layer->u.dropout.rate = rate;
    *out = layer;
    return CLNET_STATUS_OK;
}

clnet_status clnet_layer_pad(clnet_graph *g, const char *name, const clnet_pad_desc *d,
                             clnet_layer **out) {
    if (!d)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "pad: NULL description");
    if (d->top < 0 || d->bottom < 0 || d->left < 0 || d->right < 0 || d->channels_before < 0 ||
        d->channels_after < 0 || d->top > MAX_DIMENSION || d->bottom > MAX_DIMENSION ||
        d->left > MAX_DIMENSION || d->right > MAX_DIMENSION ||
        d->channels_before > MAX_DIMENSION || d->channels_after > MAX_DIMENSION ||
        !isfinite(d->value))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "pad '%s': pads (%d, %d, %d, %d, channels %d, %d) must be in [0, 2^24] "
                          "and the value finite",
                          name ? name : "", d->top, d->bottom, d->left, d->right,
                          d->channels_before, d->channels_after);
    clnet_layer *layer = NULL;
    CLNET_TRY(new_layer(g, CLNET_OP_PAD, name, &layer));
    layer->u.pad = *d;
    *out = layer;
    return CLNET_STATUS_OK;
}

clnet_status clnet_layer_slice(clnet_graph *g, const char *name, const clnet_slice_desc *d,
                               clnet_layer **out) {
    if (!d)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "slice: NULL description");
    for (int i = 0; i < 3; i++)
        if (d->begin[i] < 0 || d->end[i] < 0 || d->step[i] < 1)
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                              "slice '%s': axis %d has begin %d, end %d, step %d; begin and end "
                              "must be non-negative and step positive",
                              name ? name : "", i, d->begin[i], d->end[i], d->step[i]);
    clnet_layer *layer = NULL;
    CLNET_TRY(new_layer(g, CLNET_OP_SLICE, name, &layer));
    layer->u.slice = *d;
    *out = layer;
    return CLNET_STATUS_OK;
}

clnet_status clnet_layer_multiply(clnet_graph *g, const char *name, clnet_layer **out) {
    return new_layer(g, CLNET_OP_MULTIPLY, name, out);
}

clnet_status clnet_layer_subtract(clnet_graph *g, const char *name, clnet_layer **out) {
    return new_layer(g, CLNET_OP_SUBTRACT, name, out);
}

clnet_status clnet_layer_channel_affine(clnet_graph *g, const char *name, clnet_layer **out) {
    return new_layer(g, CLNET_OP_CHANNEL_AFFINE, name, out);
}

clnet_status clnet_layer_clip(clnet_graph *g, const char *name, float lo, float hi,
                              clnet_layer **out) {
    if (isnan(lo) || isnan(hi) || lo > hi)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clip '%s': bounds [%g, %g] must be ordered numbers", name ? name : "",
                          (double)lo, (double)hi);
    clnet_layer *layer = NULL;
    CLNET_TRY(new_layer(g, CLNET_OP_CLIP, name, &layer));
    layer->u.clip.lo = lo;
    layer->u.clip.hi = hi;
    *out = layer;
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Weights                                                                   */

static clnet_status add_weight(clnet_layer *layer, const char *name, int rank, const int *dims) {
    clnet_weight *w = &layer->weights[layer->n_weights];
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->rank = rank;
    size_t count = 1;
    for (int i = 0; i < rank; i++) {
        w->dims[i] = dims[i];
        count *= (size_t)dims[i];
    }
    if (count > (size_t)MAX_TENSOR_ELEMENTS)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "layer '%s': weight '%s' of %zu elements is too large", layer->name,
                          name, count);
    w->count = count;
    w->data = calloc(count, sizeof *w->data);
    if (!w->data)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                          "layer '%s': out of host memory for weight '%s' (%zu floats)",
                          layer->name, name, count);
    layer->n_weights++;
    return CLNET_STATUS_OK;
}

/* Allocates a layer's weights for an input of in_channels channels (or
 * features), with the neutral values gamma 1 and moving variance 1. */
static clnet_status build_layer(clnet_layer *layer, int in_channels) {
    clnet_status s = CLNET_STATUS_OK;
    switch (layer->op) {
    case CLNET_OP_CONV2D: {
        const clnet_conv2d_desc *d = &layer->u.conv;
        int kdims[4] = {d->filters, in_channels, d->kernel_h, d->kernel_w};
        s = add_weight(layer, "kernel", 4, kdims);
        if (s == CLNET_STATUS_OK && d->use_bias)
            s = add_weight(layer, "bias", 1, &d->filters);
        break;
    }
    case CLNET_OP_DENSE: {
        const clnet_dense_desc *d = &layer->u.dense;
        int kdims[2] = {d->units, in_channels};
        s = add_weight(layer, "kernel", 2, kdims);
        if (s == CLNET_STATUS_OK && d->use_bias)
            s = add_weight(layer, "bias", 1, &d->units);
        break;
    }
    case CLNET_OP_CHANNEL_AFFINE:
        s = add_weight(layer, "scale", 1, &in_channels);
        if (s == CLNET_STATUS_OK)
            s = add_weight(layer, "shift", 1, &in_channels);
        if (s == CLNET_STATUS_OK)
            for (int c = 0; c < in_channels; c++)
                layer->weights[0].data[c] = 1.0f;
        break;
    case CLNET_OP_BATCHNORM: {
        static const char *const names[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
        for (int i = 0; i < 4 && s == CLNET_STATUS_OK; i++)
            s = add_weight(layer, names[i], 1, &in_channels);
        if (s == CLNET_STATUS_OK)
            for (int c = 0; c < in_channels; c++) {
                layer->weights[0].data[c] = 1.0f;
                layer->weights[3].data[c] = 1.0f;
            }
        break;
    }
    default:
        break;
    }
    if (s != CLNET_STATUS_OK) {
        for (int i = 0; i < layer->n_weights; i++)
            free(layer->weights[i].data);
        layer->n_weights = 0;
        return s;
    }
    layer->built = 1;
    layer->in_channels = in_channels;
    return CLNET_STATUS_OK;
}

clnet_weight *clnet_layer_find_weight(clnet_layer *layer, const char *name) {
    for (int i = 0; i < layer->n_weights; i++)
        if (strcmp(layer->weights[i].name, name) == 0)
            return &layer->weights[i];
    return NULL;
}

int clnet_layer_weight_count(const clnet_layer *layer) {
    return layer ? layer->n_weights : 0;
}

clnet_status clnet_layer_weight(clnet_layer *layer, int index, clnet_weight_info *out) {
    if (!layer || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_layer_weight: NULL argument");
    if (index < 0 || index >= layer->n_weights)
        return clnet_fail(CLNET_STATUS_NOT_FOUND, "layer '%s' has %d weights; no index %d",
                          layer->name, layer->n_weights, index);
    const clnet_weight *w = &layer->weights[index];
    out->name = w->name;
    out->rank = w->rank;
    for (int i = 0; i < CLNET_MAX_WEIGHT_RANK; i++)
        out->dims[i] = i < w->rank ? w->dims[i] : 1;
    out->count = w->count;
    out->data = w->data;
    return CLNET_STATUS_OK;
}

clnet_status clnet_layer_set_weight(clnet_layer *layer, const char *name, const float *data,
                                    size_t count) {
    if (!layer || !name || !data)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_layer_set_weight: NULL argument");
    if (!layer->built)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "layer '%s' has no weights yet: call it on a tensor first", layer->name);
    clnet_weight *w = clnet_layer_find_weight(layer, name);
    if (!w)
        return clnet_fail(CLNET_STATUS_NOT_FOUND, "layer '%s' (%s) has no weight named '%s'",
                          layer->name, clnet_op_name(layer->op), name);
    if (count != w->count)
        return clnet_fail(CLNET_STATUS_SHAPE_MISMATCH,
                          "layer '%s': weight '%s' has %zu elements, %zu given", layer->name,
                          name, w->count, count);
    memcpy(w->data, data, count * sizeof *data);
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Calling layers: shape inference                                           */

clnet_status clnet_graph_check_tensor(const clnet_graph *g, clnet_tensor t, const char *what) {
    if (t.id < 0 || t.id >= g->n_nodes)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: tensor id %d does not belong to this graph (it has %d tensors)",
                          what, (int)t.id, g->n_nodes);
    return CLNET_STATUS_OK;
}

static clnet_status shape_error(const clnet_layer *layer, const char *detail, clnet_shape a,
                                clnet_shape b) {
    char sa[64], sb[64];
    format_shape(a, sa, sizeof sa);
    format_shape(b, sb, sizeof sb);
    return clnet_fail(CLNET_STATUS_SHAPE_MISMATCH, "%s '%s': %s: %s and %s",
                      clnet_op_name(layer->op), layer->name, detail, sa, sb);
}

/* Fails unless x is a (channels, height, width) tensor, as windows need. */
static clnet_status require_spatial(const clnet_layer *layer, clnet_shape x) {
    if (x.rank == 3)
        return CLNET_STATUS_OK;
    char s[64];
    format_shape(x, s, sizeof s);
    return clnet_fail(CLNET_STATUS_SHAPE_MISMATCH,
                      "%s '%s' needs a (channels, height, width) input, got %s",
                      clnet_op_name(layer->op), layer->name, s);
}

/* Infers the output shape of calling layer on inputs, resolving windows
 * into node->geom, and checks the call against the layer's weights. */
static clnet_status infer(clnet_layer *layer, const clnet_shape *in, int n, clnet_node *node) {
    const char *name = layer->name;
    const char *op = clnet_op_name(layer->op);
    int arity_min = 1, arity_max = 1;
    const char *arity = "one input";
    if (layer->op == CLNET_OP_ADD || layer->op == CLNET_OP_CONCAT ||
        layer->op == CLNET_OP_MULTIPLY) {
        arity_min = 2;
        arity_max = 1 << 16;
        arity = "two or more inputs";
    } else if (layer->op == CLNET_OP_SUBTRACT) {
        arity_min = arity_max = 2;
        arity = "two inputs";
    }
    if (n < arity_min || n > arity_max)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s '%s' takes %s, %d given", op, name,
                          arity, n);

    clnet_shape x = in[0];
    clnet_shape y = x;
    switch (layer->op) {
    case CLNET_OP_CONV2D:
    case CLNET_OP_AVGPOOL:
    case CLNET_OP_MAXPOOL:
        CLNET_TRY(require_spatial(layer, x));
        if (layer->op == CLNET_OP_CONV2D) {
            CLNET_TRY(clnet_conv_geometry_make(name, &layer->u.conv, x.c, x.h, x.w,
                                               &node->geom.conv));
            y = (clnet_shape){3, layer->u.conv.filters, node->geom.conv.out_h,
                              node->geom.conv.out_w};
        } else {
            CLNET_TRY(clnet_pool_geometry_make(name, &layer->u.pool, x.c, x.h, x.w,
                                               &node->geom.pool));
            y = (clnet_shape){3, x.c, node->geom.pool.out_h, node->geom.pool.out_w};
        }
        break;
    case CLNET_OP_BATCHNORM:
    case CLNET_OP_ACTIVATION:
    case CLNET_OP_SOFTMAX:
    case CLNET_OP_DROPOUT:
    case CLNET_OP_CHANNEL_AFFINE:
    case CLNET_OP_CLIP:
        break;
    case CLNET_OP_PAD:
    case CLNET_OP_SLICE:
        CLNET_TRY(require_spatial(layer, x));
        if (layer->op == CLNET_OP_PAD) {
            const clnet_pad_desc *p = &layer->u.pad;
            long long c = (long long)x.c + p->channels_before + p->channels_after;
            long long h = (long long)x.h + p->top + p->bottom;
            long long w = (long long)x.w + p->left + p->right;
            if (c > MAX_DIMENSION || h > MAX_DIMENSION || w > MAX_DIMENSION)
                return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "pad '%s': output too large",
                                  name);
            y = (clnet_shape){3, (int)c, (int)h, (int)w};
        } else {
            const clnet_slice_desc *sl = &layer->u.slice;
            int dims[3] = {x.c, x.h, x.w}, out_dims[3];
            for (int i = 0; i < 3; i++) {
                long long end = sl->end[i] < dims[i] ? sl->end[i] : dims[i];
                out_dims[i] = sl->begin[i] < end
                                  ? (int)((end - sl->begin[i] + sl->step[i] - 1) / sl->step[i])
                                  : 0;
                if (out_dims[i] == 0) {
                    char s[64];
                    format_shape(x, s, sizeof s);
                    return clnet_fail(CLNET_STATUS_SHAPE_MISMATCH,
                                      "slice '%s': axis %d [%d:%d:%d] of %s is empty", name, i,
                                      sl->begin[i], sl->end[i], sl->step[i], s);
                }
            }
            y = (clnet_shape){3, out_dims[0], out_dims[1], out_dims[2]};
        }
        break;
    case CLNET_OP_MULTIPLY:
    case CLNET_OP_SUBTRACT:
    case CLNET_OP_ADD:
        for (int i = 1; i < n; i++)
            if (in[i].rank != x.rank || in[i].c != x.c || in[i].h != x.h || in[i].w != x.w)
                return shape_error(layer, "inputs must have equal shapes", x, in[i]);
        break;
    case CLNET_OP_CONCAT: {
        long long channels = x.c;
        for (int i = 1; i < n; i++) {
            if (in[i].rank != x.rank || in[i].h != x.h || in[i].w != x.w)
                return shape_error(layer, "inputs must agree in everything but channels", x,
                                   in[i]);
            channels += in[i].c;
        }
        if (channels > MAX_DIMENSION)
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "concat '%s': %lld channels", name,
                              channels);
        y.c = (int)channels;
        break;
    }
    case CLNET_OP_GLOBAL_AVGPOOL:
        CLNET_TRY(require_spatial(layer, x));
        y = (clnet_shape){1, x.c, 1, 1};
        break;
    case CLNET_OP_FLATTEN:
        y = (clnet_shape){1, (int)clnet_shape_size(x), 1, 1};
        break;
    case CLNET_OP_DENSE:
        if (x.rank != 1) {
            char s[64];
            format_shape(x, s, sizeof s);
            return clnet_fail(CLNET_STATUS_SHAPE_MISMATCH,
                              "dense '%s' needs a flat input (add a flatten layer), got %s", name,
                              s);
        }
        y = (clnet_shape){1, layer->u.dense.units, 1, 1};
        break;
    default:
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "layer '%s' has unknown op %d", name,
                          (int)layer->op);
    }

    if ((long long)y.c * y.h * y.w > MAX_TENSOR_ELEMENTS)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "%s '%s': output of %lld elements per image exceeds 2^31", op, name,
                          (long long)y.c * y.h * y.w);

    /* Layers with weights are built for their first input's channels;
     * later (shared) calls must feed the same count. */
    int has_weights = layer->op == CLNET_OP_CONV2D || layer->op == CLNET_OP_DENSE ||
                      layer->op == CLNET_OP_BATCHNORM || layer->op == CLNET_OP_CHANNEL_AFFINE;
    if (has_weights && layer->built && layer->in_channels != x.c)
        return clnet_fail(CLNET_STATUS_SHAPE_MISMATCH,
                          "%s '%s' was built for %d input channels and is now called on %d", op,
                          name, layer->in_channels, x.c);
    node->shape = y;
    return CLNET_STATUS_OK;
}

clnet_status clnet_layer_call(clnet_layer *layer, const clnet_tensor *inputs, int n_inputs,
                              clnet_tensor *out) {
    if (!layer || !out || (!inputs && n_inputs > 0))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_layer_call: NULL argument");
    clnet_graph *g = layer->graph;
    if (n_inputs <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s '%s' called on no tensors",
                          clnet_op_name(layer->op), layer->name);

    clnet_shape *shapes = malloc((size_t)n_inputs * sizeof *shapes);
    int32_t *ids = malloc((size_t)n_inputs * sizeof *ids);
    if (!shapes || !ids) {
        free(shapes);
        free(ids);
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory calling '%s'",
                          layer->name);
    }
    clnet_status s = CLNET_STATUS_OK;
    for (int i = 0; i < n_inputs && s == CLNET_STATUS_OK; i++) {
        s = clnet_graph_check_tensor(g, inputs[i], layer->name);
        if (s == CLNET_STATUS_OK) {
            ids[i] = inputs[i].id;
            shapes[i] = g->nodes[inputs[i].id].shape;
        }
    }

    clnet_node node;
    memset(&node, 0, sizeof node);
    node.layer = layer;
    node.op = layer->op;
    node.n_inputs = n_inputs;
    node.inputs = ids;
    node.call_index = layer->call_count;
    if (s == CLNET_STATUS_OK)
        s = infer(layer, shapes, n_inputs, &node);
    int newly_built = 0;
    if (s == CLNET_STATUS_OK && !layer->built) {
        int in_channels = shapes[0].c;
        s = build_layer(layer, in_channels);
        newly_built = s == CLNET_STATUS_OK;
    }
    free(shapes);
    int index = -1;
    if (s == CLNET_STATUS_OK)
        s = add_node(g, &node, &index);
    if (s != CLNET_STATUS_OK) {
        free(ids);
        if (newly_built) {
            for (int i = 0; i < layer->n_weights; i++)
                free(layer->weights[i].data);
            layer->n_weights = 0;
            layer->built = 0;
        }
        return s;
    }
    layer->call_count++;
    out->id = index;
    return CLNET_STATUS_OK;
}

clnet_status clnet_layer_call1(clnet_layer *layer, clnet_tensor input, clnet_tensor *out) {
    return clnet_layer_call(layer, &input, 1, out);
}

clnet_status clnet_graph_set_outputs(clnet_graph *g, const clnet_tensor *outputs, int n) {
    if (!g || !outputs || n <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_graph_set_outputs needs a graph and at least one output");
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    if (!ids)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory setting outputs");
    for (int i = 0; i < n; i++) {
        clnet_status s = clnet_graph_check_tensor(g, outputs[i], "clnet_graph_set_outputs");
        if (s != CLNET_STATUS_OK) {
            free(ids);
            return s;
        }
        ids[i] = outputs[i].id;
    }
    free(g->outputs);
    g->outputs = ids;
    g->n_outputs = n;
    return CLNET_STATUS_OK;
}

clnet_status clnet_graph_strip_final_softmax(clnet_graph *g, int *removed) {
    if (!g)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_graph_strip_final_softmax: NULL graph");
    int count = 0;
    for (int i = 0; i < g->n_outputs; i++) {
        clnet_node *node = &g->nodes[g->outputs[i]];
        int softmax_node = node->op == CLNET_OP_SOFTMAX ||
                           (node->op == CLNET_OP_ACTIVATION &&
                            node->layer->u.activation == CLNET_ACT_SOFTMAX);
        if (softmax_node) {
            g->outputs[i] = node->inputs[0];
            count++;
        } else if (node->op == CLNET_OP_DENSE &&
                   node->layer->u.dense.activation == CLNET_ACT_SOFTMAX) {
            node->layer->u.dense.activation = CLNET_ACT_LINEAR;
            count++;
        } else if (node->op == CLNET_OP_CONV2D &&
                   node->layer->u.conv.activation == CLNET_ACT_SOFTMAX) {
            node->layer->u.conv.activation = CLNET_ACT_LINEAR;
            count++;
        }
    }
    if (removed)
        *removed = count;
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                   */

int clnet_graph_input_count(const clnet_graph *g) {
    return g ? g->n_inputs : 0;
}

int clnet_graph_output_count(const clnet_graph *g) {
    return g ? g->n_outputs : 0;
}

clnet_tensor clnet_graph_input_at(const clnet_graph *g, int index) {
    clnet_tensor t = {-1};
    if (g && index >= 0 && index < g->n_inputs)
        t.id = g->inputs[index];
    return t;
}

clnet_tensor clnet_graph_output_at(const clnet_graph *g, int index) {
    clnet_tensor t = {-1};
    if (g && index >= 0 && index < g->n_outputs)
        t.id = g->outputs[index];
    return t;
}

clnet_status clnet_tensor_shape(const clnet_graph *g, clnet_tensor t, clnet_shape *out) {
    if (!g || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_tensor_shape: NULL argument");
    CLNET_TRY(clnet_graph_check_tensor(g, t, "clnet_tensor_shape"));
    *out = g->nodes[t.id].shape;
    return CLNET_STATUS_OK;
}

int clnet_graph_node_count(const clnet_graph *g) {
    return g ? g->n_nodes : 0;
}

static uint64_t layer_params(const clnet_layer *layer) {
    uint64_t n = 0;
    for (int i = 0; i < layer->n_weights; i++)
        n += layer->weights[i].count;
    return n;
}

void clnet_node_window(const clnet_graph *g, int index, clnet_window_copy *w) {
    const clnet_node *node = &g->nodes[index];
    clnet_shape in = g->nodes[node->inputs[0]].shape;
    w->in_c = in.c;
    w->in_h = in.h;
    w->in_w = in.w;
    w->out_c = node->shape.c;
    w->out_h = node->shape.h;
    w->out_w = node->shape.w;
    if (node->op == CLNET_OP_PAD) {
        const clnet_pad_desc *p = &node->layer->u.pad;
        w->c0 = -p->channels_before;
        w->y0 = -p->top;
        w->x0 = -p->left;
        w->sc = w->sy = w->sx = 1;
        w->value = p->value;
    } else {
        const clnet_slice_desc *s = &node->layer->u.slice;
        w->c0 = s->begin[0];
        w->y0 = s->begin[1];
        w->x0 = s->begin[2];
        w->sc = s->step[0];
        w->sy = s->step[1];
        w->sx = s->step[2];
        w->value = 0;
    }
}

uint64_t clnet_node_macs(const clnet_graph *g, int index) {
    const clnet_node *node = &g->nodes[index];
    if (node->op == CLNET_OP_CONV2D) {
        const clnet_conv_geometry *c = &node->geom.conv;
        return (uint64_t)c->out_c * c->out_h * c->out_w * c->in_c * c->kh * c->kw;
    }
    if (node->op == CLNET_OP_DENSE)
        return (uint64_t)node->shape.c * g->nodes[node->inputs[0]].shape.c;
    return 0;
}

clnet_status clnet_graph_node_info(const clnet_graph *g, int index, clnet_node_info *out) {
    if (!g || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_graph_node_info: NULL argument");
    if (index < 0 || index >= g->n_nodes)
        return clnet_fail(CLNET_STATUS_NOT_FOUND, "the graph has %d nodes; no node %d",
                          g->n_nodes, index);
    const clnet_node *node = &g->nodes[index];
    memset(out, 0, sizeof *out);
    out->name = node->layer ? node->layer->name : node->input_name;
    out->op = node->op;
    out->layer = node->layer;
    out->n_inputs = node->n_inputs;
    for (int i = 0; i < node->n_inputs && i < CLNET_MAX_NODE_INPUTS_SHOWN; i++)
        out->inputs[i] = node->inputs[i];
    out->output_shape = node->shape;
    out->params = node->layer && node->call_index == 0 ? layer_params(node->layer) : 0;
    out->macs_per_image = clnet_node_macs(g, index);
    return CLNET_STATUS_OK;
}

int clnet_graph_layer_count(const clnet_graph *g) {
    return g ? g->n_layers : 0;
}

clnet_layer *clnet_graph_layer_at(const clnet_graph *g, int index) {
    if (!g || index < 0 || index >= g->n_layers)
        return NULL;
    return g->layers[index];
}

clnet_status clnet_graph_find_layer(const clnet_graph *g, const char *name, clnet_layer **out) {
    if (!g || !name || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_graph_find_layer: NULL argument");
    for (int i = 0; i < g->n_layers; i++)
        if (strcmp(g->layers[i]->name, name) == 0) {
            *out = g->layers[i];
            return CLNET_STATUS_OK;
        }
    return clnet_fail(CLNET_STATUS_NOT_FOUND, "the graph has no layer named '%s'", name);
}

const char *clnet_layer_name(const clnet_layer *layer) {
    return layer ? layer->name : NULL;
}

clnet_op clnet_layer_op(const clnet_layer *layer) {
    return layer ? layer->op : CLNET_OP_COUNT;
}

uint64_t clnet_graph_param_count(const clnet_graph *g) {
    uint64_t n = 0;
    for (int i = 0; g && i < g->n_layers; i++)
        n += layer_params(g->layers[i]);
    return n;
}

uint64_t clnet_graph_macs_per_image(const clnet_graph *g) {
    uint64_t n = 0;
    for (int i = 0; g && i < g->n_nodes; i++)
        n += clnet_node_macs(g, i);
    return n;
}
