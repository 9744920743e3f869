/* The built-in networks of MODELS.md (ResNet v1 and v2, DenseNet-BC, the Y-network), built
 * through the public graph API in the layer order and with the automatic names of Keras. */
#include "clnet.h"
#include "error.h"
#include "import.h"

#include <math.h>
#include <string.h>

#define BN_EPSILON 1e-3f /* Keras BatchNormalization default */
#define YNET_DROPOUT 0.4f

/* ------------------------------------------------------------------------ */
/* One layer created and called at once                                     */

static clnet_status apply_batchnorm(clnet_graph *g, clnet_tensor x, clnet_tensor *out) {
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_batchnorm(g, NULL, BN_EPSILON, &layer));
    return clnet_layer_call1(layer, x, out);
}

static clnet_status apply_relu(clnet_graph *g, clnet_tensor x, clnet_tensor *out) {
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_activation(g, NULL, CLNET_ACT_RELU, &layer));
    return clnet_layer_call1(layer, x, out);
}

static clnet_status apply_conv(clnet_graph *g, const clnet_conv2d_desc *desc, clnet_tensor x,
                               clnet_tensor *out) {
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_conv2d(g, NULL, desc, &layer));
    return clnet_layer_call1(layer, x, out);
}

static clnet_status apply_pool(clnet_graph *g, clnet_op op, int pool_size, clnet_tensor x,
                               clnet_tensor *out) {
    clnet_pool2d_desc desc = clnet_pool2d_defaults(pool_size);
    clnet_layer *layer;
    if (op == CLNET_OP_MAXPOOL)
        CLNET_TRY(clnet_layer_maxpool(g, NULL, &desc, &layer));
    else
        CLNET_TRY(clnet_layer_avgpool(g, NULL, &desc, &layer));
    return clnet_layer_call1(layer, x, out);
}

static clnet_status apply_dropout(clnet_graph *g, float rate, clnet_tensor x,
                                  clnet_tensor *out) {
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_dropout(g, NULL, rate, &layer));
    return clnet_layer_call1(layer, x, out);
}

static clnet_status apply_flatten(clnet_graph *g, clnet_tensor x, clnet_tensor *out) {
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_flatten(g, NULL, &layer));
    return clnet_layer_call1(layer, x, out);
}

/* keras.layers.add([a, b]) or concatenate([a, b]). */
static clnet_status apply_merge(clnet_graph *g, clnet_op op, clnet_tensor a, clnet_tensor b,
                                clnet_tensor *out) {
    clnet_tensor pair[2] = {a, b};
    clnet_layer *layer;
    if (op == CLNET_OP_ADD)
        CLNET_TRY(clnet_layer_add(g, NULL, &layer));
    else
        CLNET_TRY(clnet_layer_concat(g, NULL, &layer));
    return clnet_layer_call(layer, pair, 2, out);
}

/* Dense(num_classes, activation='softmax') on a flat tensor; it becomes the only output. */
static clnet_status finish_classifier(clnet_graph *g, clnet_tensor x, int num_classes,
                                      clnet_initializer init) {
    clnet_dense_desc desc = {num_classes, 1, CLNET_ACT_SOFTMAX, init};
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_dense(g, NULL, &desc, &layer));
    CLNET_TRY(clnet_layer_call1(layer, x, &x));
    return clnet_graph_set_outputs(g, &x, 1);
}

/* The head of the ResNets and DenseNet: AveragePooling2D(8) -> Flatten -> Dense softmax. The
 * pool spans the whole remaining map, which is Keras' pool of 8 for 32x32 inputs and keeps the
 * head a global average on inputs of other sizes. */
static clnet_status finish_pooled_classifier(clnet_graph *g, clnet_tensor x, int num_classes) {
    clnet_shape shape;
    CLNET_TRY(clnet_tensor_shape(g, x, &shape));
    clnet_pool2d_desc desc = clnet_pool2d_defaults(1);
    desc.pool_h = desc.stride_h = shape.h;
    desc.pool_w = desc.stride_w = shape.w;
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_avgpool(g, NULL, &desc, &layer));
    CLNET_TRY(clnet_layer_call1(layer, x, &x));
    CLNET_TRY(apply_flatten(g, x, &x));
    return finish_classifier(g, x, num_classes, CLNET_INIT_HE_NORMAL);
}

/* Runs a builder on a fresh graph; the graph is freed if any step fails. */
typedef struct model_args {
    int depth;
    int channels, height, width;
    int num_classes;
    const clnet_densenet_desc *densenet;
} model_args;

static clnet_status build_graph(clnet_status (*build)(clnet_graph *, const model_args *),
                                const model_args *args, clnet_graph **out) {
    clnet_graph *g = NULL;
    CLNET_TRY(clnet_graph_create(&g));
    clnet_status status = build(g, args);
    if (status != CLNET_STATUS_OK) {
        clnet_graph_destroy(g);
        return status;
    }
    *out = g;
    return CLNET_STATUS_OK;
}

static clnet_status check_image_args(const char *model, int channels, int height, int width,
                                     int num_classes, clnet_graph **out) {
    if (!out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: the output graph pointer is NULL",
                          model);
    *out = NULL;
    if (channels <= 0 || height <= 0 || width <= 0 || num_classes <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: input %dx%dx%d (channels x height x width) and %d classes must "
                          "all be positive",
                          model, channels, height, width, num_classes);
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* ResNets                                                                   */

typedef struct unit_desc {
    int filters, kernel, stride;
    int relu, batchnorm, conv_first;
} unit_desc;

/* The book's resnet_layer: Conv -> [BN] -> [ReLU], or [BN] -> [ReLU] -> Conv. Keras creates
 * (and so names) the Conv2D before the other layers in both orders, and so does this. */
static clnet_status resnet_unit(clnet_graph *g, clnet_tensor x, unit_desc u, clnet_tensor *out) {
    clnet_conv2d_desc desc = clnet_conv2d_defaults(u.filters, u.kernel);
    desc.stride_h = desc.stride_w = u.stride;
    clnet_layer *conv;
    CLNET_TRY(clnet_layer_conv2d(g, NULL, &desc, &conv));

    if (u.conv_first)
        CLNET_TRY(clnet_layer_call1(conv, x, &x));
    if (u.batchnorm)
        CLNET_TRY(apply_batchnorm(g, x, &x));
    if (u.relu)
        CLNET_TRY(apply_relu(g, x, &x));
    if (!u.conv_first)
        CLNET_TRY(clnet_layer_call1(conv, x, &x));
    *out = x;
    return CLNET_STATUS_OK;
}

static clnet_status build_resnet_v1(clnet_graph *g, const model_args *a) {
    int n = (a->depth - 2) / 6;
    clnet_tensor x, y;
    CLNET_TRY(clnet_graph_input(g, NULL, a->channels, a->height, a->width, &x));
    CLNET_TRY(resnet_unit(g, x, (unit_desc){16, 3, 1, 1, 1, 1}, &x));

    int filters = 16;
    for (int stack = 0; stack < 3; stack++) {
        for (int b = 0; b < n; b++) {
            int downsample = stack > 0 && b == 0;
            int s = downsample ? 2 : 1;
            CLNET_TRY(resnet_unit(g, x, (unit_desc){filters, 3, s, 1, 1, 1}, &y));
            CLNET_TRY(resnet_unit(g, y, (unit_desc){filters, 3, 1, 0, 1, 1}, &y));
            /* The projection is created after the block's two 3x3 convs, as in Keras. */
            if (downsample)
                CLNET_TRY(resnet_unit(g, x, (unit_desc){filters, 1, s, 0, 0, 1}, &x));
            CLNET_TRY(apply_merge(g, CLNET_OP_ADD, x, y, &x));
            CLNET_TRY(apply_relu(g, x, &x));
        }
        filters *= 2;
    }
    return finish_pooled_classifier(g, x, a->num_classes);
}

static clnet_status build_resnet_v2(clnet_graph *g, const model_args *a) {
    int n = (a->depth - 2) / 9;
    clnet_tensor x, y;
    CLNET_TRY(clnet_graph_input(g, NULL, a->channels, a->height, a->width, &x));
    CLNET_TRY(resnet_unit(g, x, (unit_desc){16, 3, 1, 1, 1, 1}, &x));

    int fin = 16, fout = 16;
    for (int stage = 0; stage < 3; stage++) {
        for (int b = 0; b < n; b++) {
            int act = 1, bn = 1, s = 1;
            if (stage == 0) {
                fout = fin * 4;
                /* The stem already ends in BN-ReLU: the first unit starts with a bare conv. */
                if (b == 0)
                    act = bn = 0;
            } else {
                fout = fin * 2;
                if (b == 0)
                    s = 2;
            }
            CLNET_TRY(resnet_unit(g, x, (unit_desc){fin, 1, s, act, bn, 0}, &y));
            CLNET_TRY(resnet_unit(g, y, (unit_desc){fin, 3, 1, 1, 1, 0}, &y));
            CLNET_TRY(resnet_unit(g, y, (unit_desc){fout, 1, 1, 1, 1, 0}, &y));
            if (b == 0)
                CLNET_TRY(resnet_unit(g, x, (unit_desc){fout, 1, s, 0, 0, 1}, &x));
            CLNET_TRY(apply_merge(g, CLNET_OP_ADD, x, y, &x));
        }
        fin = fout;
    }
    CLNET_TRY(apply_batchnorm(g, x, &x));
    CLNET_TRY(apply_relu(g, x, &x));
    return finish_pooled_classifier(g, x, a->num_classes);
}

clnet_status clnet_model_resnet_v1(int depth, int channels, int height, int width,
                                   int num_classes, clnet_graph **out) {
    CLNET_TRY(check_image_args("resnet v1", channels, height, width, num_classes, out));
    if (depth < 8 || (depth - 2) % 6 != 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "resnet v1: depth %d is not 6n+2 with n >= 1; valid depths are 8, 14, "
                          "20, 26, 32, ... (20, 32, 44, 56 and 110 in the paper)",
                          depth);
    model_args args = {depth, channels, height, width, num_classes, NULL};
    return build_graph(build_resnet_v1, &args, out);
}

clnet_status clnet_model_resnet_v2(int depth, int channels, int height, int width,
                                   int num_classes, clnet_graph **out) {
    CLNET_TRY(check_image_args("resnet v2", channels, height, width, num_classes, out));
    if (depth < 11 || (depth - 2) % 9 != 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "resnet v2: depth %d is not 9n+2 with n >= 1; valid depths are 11, 20, "
                          "29, 38, ... (20, 56 and 110 in the recipe)",
                          depth);
    model_args args = {depth, channels, height, width, num_classes, NULL};
    return build_graph(build_resnet_v2, &args, out);
}

/* ------------------------------------------------------------------------ */
/* DenseNet-BC                                                               */

/* Python's int(nf * compression). compression arrives as a float, so 0.7 is 0.69999999; the
 * relative nudge keeps int(10 * 0.7) at 7 as in the Keras code. */
static int compress_filters(int nf, float compression) {
    return (int)floor((double)nf * compression * (1.0 + 1e-6));
}

static clnet_status build_densenet(clnet_graph *g, const model_args *a) {
    const clnet_densenet_desc *d = a->densenet;
    int k = d->growth_rate;
    int layers_per_block = (d->depth - 4) / (2 * d->num_blocks);
    clnet_conv2d_desc conv1x1 = clnet_conv2d_defaults(4 * k, 1);
    clnet_conv2d_desc conv3x3 = clnet_conv2d_defaults(k, 3);

    /* Stem: BN -> ReLU -> Conv3x3(2k) on the raw input, joined to the input itself. */
    clnet_tensor input, x, y;
    CLNET_TRY(clnet_graph_input(g, NULL, d->channels, d->height, d->width, &input));
    int nf = 2 * k;
    clnet_conv2d_desc stem = clnet_conv2d_defaults(nf, 3);
    CLNET_TRY(apply_batchnorm(g, input, &x));
    CLNET_TRY(apply_relu(g, x, &x));
    CLNET_TRY(apply_conv(g, &stem, x, &x));
    CLNET_TRY(apply_merge(g, CLNET_OP_CONCAT, input, x, &x));

    for (int block = 0; block < d->num_blocks; block++) {
        for (int i = 0; i < layers_per_block; i++) {
            CLNET_TRY(apply_batchnorm(g, x, &y));
            CLNET_TRY(apply_relu(g, y, &y));
            CLNET_TRY(apply_conv(g, &conv1x1, y, &y));
            CLNET_TRY(apply_batchnorm(g, y, &y));
            CLNET_TRY(apply_relu(g, y, &y));
            CLNET_TRY(apply_conv(g, &conv3x3, y, &y));
            CLNET_TRY(apply_merge(g, CLNET_OP_CONCAT, x, y, &x));
        }
        if (block == d->num_blocks - 1)
            break;

        /* Transition: BN -> Conv1x1 -> AvgPool, without ReLU. The width follows the Keras
         * code's running count, which leaves out the input's channels joined by the stem. */
        nf = compress_filters(nf + layers_per_block * k, d->compression);
        if (nf < 1)
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                              "densenet: compression %g leaves transition %d with no filters",
                              (double)d->compression, block + 1);
        clnet_conv2d_desc transition = clnet_conv2d_defaults(nf, 1);
        CLNET_TRY(apply_batchnorm(g, x, &y));
        CLNET_TRY(apply_conv(g, &transition, y, &y));
        CLNET_TRY(apply_pool(g, CLNET_OP_AVGPOOL, 2, y, &x));
    }
    return finish_pooled_classifier(g, x, d->num_classes);
}

clnet_status clnet_model_densenet(const clnet_densenet_desc *desc, clnet_graph **out) {
    if (!desc)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "densenet: the description is NULL");
    CLNET_TRY(check_image_args("densenet", desc->channels, desc->height, desc->width,
                               desc->num_classes, out));
    if (desc->growth_rate <= 0 || desc->num_blocks <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "densenet: growth rate %d and block count %d must be positive",
                          desc->growth_rate, desc->num_blocks);
    if (!(desc->compression > 0.0f && desc->compression <= 1.0f))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "densenet: compression %g is not in (0, 1]", (double)desc->compression);
    /* Each block has (depth - 4) / (2 * blocks) bottleneck layers of two convs each. */
    int per = 2 * desc->num_blocks;
    if (desc->depth < per + 4 || (desc->depth - 4) % per != 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "densenet: depth %d with %d blocks is not %dn+4 with n >= 1; valid "
                          "depths are %d, %d, %d, ... (100 for DenseNet-BC-100 with 3 blocks)",
                          desc->depth, desc->num_blocks, per, per + 4, 2 * per + 4, 3 * per + 4);
    model_args args = {desc->depth, desc->channels, desc->height, desc->width,
                       desc->num_classes, desc};
    return build_graph(build_densenet, &args, out);
}

/* ------------------------------------------------------------------------ */
/* Y-network                                                                 */

/* Three Conv3x3(relu) -> Dropout -> MaxPool2x2 stages of 32, 64 and 128 filters. */
static clnet_status ynet_branch(clnet_graph *g, clnet_tensor x, int dilation, clnet_tensor *out) {
    int filters = 32;
    for (int i = 0; i < 3; i++) {
        clnet_conv2d_desc desc = clnet_conv2d_defaults(filters, 3);
        desc.dilation_h = desc.dilation_w = dilation;
        desc.activation = CLNET_ACT_RELU;
        desc.kernel_initializer = CLNET_INIT_GLOROT_UNIFORM;
        CLNET_TRY(apply_conv(g, &desc, x, &x));
        CLNET_TRY(apply_dropout(g, YNET_DROPOUT, x, &x));
        CLNET_TRY(apply_pool(g, CLNET_OP_MAXPOOL, 2, x, &x));
        filters *= 2;
    }
    *out = x;
    return CLNET_STATUS_OK;
}

static clnet_status build_ynet(clnet_graph *g, const model_args *a) {
    clnet_tensor left, right, x, y;
    /* Keras makes the right input after the whole left branch; so does this. */
    CLNET_TRY(clnet_graph_input(g, NULL, 1, 28, 28, &left));
    CLNET_TRY(ynet_branch(g, left, 1, &x));
    CLNET_TRY(clnet_graph_input(g, NULL, 1, 28, 28, &right));
    CLNET_TRY(ynet_branch(g, right, 2, &y));

    CLNET_TRY(apply_merge(g, CLNET_OP_CONCAT, x, y, &y));
    CLNET_TRY(apply_flatten(g, y, &y));
    CLNET_TRY(apply_dropout(g, YNET_DROPOUT, y, &y));
    return finish_classifier(g, y, a->num_classes, CLNET_INIT_GLOROT_UNIFORM);
}

clnet_status clnet_model_ynet(int num_classes, clnet_graph **out) {
    CLNET_TRY(check_image_args("ynet", 1, 28, 28, num_classes, out));
    model_args args = {0, 1, 28, 28, num_classes, NULL};
    return build_graph(build_ynet, &args, out);
}

/* ------------------------------------------------------------------------ */
/* Built-in names                                                            */

typedef enum builtin_kind {
    BUILTIN_RESNET_V1,
    BUILTIN_RESNET_V2,
    BUILTIN_DENSENET,
    BUILTIN_YNET,
    BUILTIN_TORCH_RESNET_A,
    BUILTIN_TORCH_RESNET_B,
    BUILTIN_DENSENET_FAST
} builtin_kind;

typedef struct builtin_spec {
    builtin_kind kind;
    int depth;
    int growth_rate;
} builtin_spec;

/* Reads a decimal number of at most 6 digits (no sign), advancing *p. */
static int parse_count(const char **p, int *out) {
    const char *s = *p;
    int value = 0, digits = 0;
    while (*s >= '0' && *s <= '9') {
        if (++digits > 6)
            return 0;
        value = value * 10 + (*s++ - '0');
    }
    if (digits == 0)
        return 0;
    *p = s;
    *out = value;
    return 1;
}

static int skip_prefix(const char **p, const char *prefix) {
    size_t n = strlen(prefix);
    if (strncmp(*p, prefix, n) != 0)
        return 0;
    *p += n;
    return 1;
}

/* Whether name has one of the built-in forms; the depth is checked later by the builder. */
static int parse_builtin(const char *name, builtin_spec *spec) {
    const char *p = name;
    spec->growth_rate = 12;
    spec->depth = 0;
    if (strcmp(name, "ynet") == 0) {
        spec->kind = BUILTIN_YNET;
        return 1;
    }
    if (skip_prefix(&p, "resnet")) {
        if (!parse_count(&p, &spec->depth))
            return 0;
        if (strcmp(p, "v1") == 0)
            spec->kind = BUILTIN_RESNET_V1;
        else if (strcmp(p, "v2") == 0)
            spec->kind = BUILTIN_RESNET_V2;
        else if (strcmp(p, "a") == 0)
            spec->kind = BUILTIN_TORCH_RESNET_A;
        else if (strcmp(p, "b") == 0)
            spec->kind = BUILTIN_TORCH_RESNET_B;
        else
            return 0;
        return 1;
    }
    if (strcmp(name, "densenet40fast") == 0) {
        spec->kind = BUILTIN_DENSENET_FAST;
        spec->depth = 40;
        return 1;
    }
    if (skip_prefix(&p, "densenet")) {
        spec->kind = BUILTIN_DENSENET;
        if (!parse_count(&p, &spec->depth))
            return 0;
        if (*p == '\0')
            return 1;
        return skip_prefix(&p, "k") && parse_count(&p, &spec->growth_rate) && *p == '\0';
    }
    return 0;
}

static clnet_status build_builtin(const builtin_spec *spec, clnet_graph **out) {
    enum { CIFAR_CHANNELS = 3, CIFAR_SIZE = 32, CIFAR_CLASSES = 10 };
    switch (spec->kind) {
    case BUILTIN_RESNET_V1:
        return clnet_model_resnet_v1(spec->depth, CIFAR_CHANNELS, CIFAR_SIZE, CIFAR_SIZE,
                                     CIFAR_CLASSES, out);
    case BUILTIN_RESNET_V2:
        return clnet_model_resnet_v2(spec->depth, CIFAR_CHANNELS, CIFAR_SIZE, CIFAR_SIZE,
                                     CIFAR_CLASSES, out);
    case BUILTIN_DENSENET: {
        clnet_densenet_desc desc = {spec->depth, spec->growth_rate, 3, 0.5f, CIFAR_CLASSES,
                                    CIFAR_CHANNELS, CIFAR_SIZE, CIFAR_SIZE};
        return clnet_model_densenet(&desc, out);
    }
    case BUILTIN_YNET:
        return clnet_model_ynet(CIFAR_CLASSES, out);
    case BUILTIN_TORCH_RESNET_A:
    case BUILTIN_TORCH_RESNET_B:
        return clnet_model_torch_resnet(spec->depth, spec->kind == BUILTIN_TORCH_RESNET_B,
                                        CIFAR_CLASSES, out);
    case BUILTIN_DENSENET_FAST:
        return clnet_model_densenet_fast(spec->depth, spec->growth_rate, CIFAR_CLASSES, out);
    }
    return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "unknown built-in model kind %d",
                      (int)spec->kind);
}

clnet_status clnet_model_builtin(const char *name, uint64_t seed, clnet_graph **out) {
    if (!name || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "building a built-in model: the name or the output pointer is NULL");
    *out = NULL;
    builtin_spec spec;
    if (!parse_builtin(name, &spec))
        return clnet_fail(CLNET_STATUS_NOT_FOUND,
                          "no built-in model named '%s': the names are resnet<depth>v1 (e.g. "
                          "resnet20v1), resnet<depth>v2 (e.g. resnet56v2), densenet<depth> "
                          "(growth 12, e.g. densenet100), densenet<depth>k<growth> (e.g. "
                          "densenet100k24), ynet, resnet<depth>a and resnet<depth>b (PyTorch "
                          "CIFAR ResNets with shortcut option A or B) and densenet40fast",
                          name);

    clnet_graph *g = NULL;
    clnet_status status = build_builtin(&spec, &g);
    if (status != CLNET_STATUS_OK)
        return clnet_fail_context(status, "building built-in model '%s': ", name);
    status = clnet_graph_init_weights(g, seed);
    if (status != CLNET_STATUS_OK) {
        clnet_graph_destroy(g);
        return clnet_fail_context(status, "initialising built-in model '%s': ", name);
    }
    *out = g;
    return CLNET_STATUS_OK;
}

clnet_status clnet_model_open(const char *name_or_path, uint64_t seed, clnet_graph **out) {
    if (!name_or_path || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "opening a model: the name or the output pointer is NULL");
    *out = NULL;
    builtin_spec spec;
    if (parse_builtin(name_or_path, &spec))
        return clnet_model_builtin(name_or_path, seed, out);

    clnet_status status = clnet_model_load(name_or_path, NULL, out);
    /* A file that cannot be opened may be a mistyped built-in name; say both. */
    if (status == CLNET_STATUS_IO_ERROR || status == CLNET_STATUS_NOT_FOUND)
        return clnet_fail_context(status,
                                  "'%s' is neither a built-in model name (resnet20v1, "
                                  "resnet56v2, densenet100, densenet100k24, ynet, ...) nor a "
                                  "readable model file: ",
                                  name_or_path);
    return status;
}
