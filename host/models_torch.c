/* The CIFAR ResNets of the PyTorch world, with layers named like their state-dict keys so that
 * PyTorch weights load by name: shortcut option A (akamaster) or option B (chenyaofo). */
#include "clnet.h"
#include "error.h"
#include "import.h"

#include <stdio.h>

#define TORCH_BN_EPSILON 1e-5f /* nn.BatchNorm2d default */
#define NAME_SIZE        64

typedef struct builder {
    clnet_graph *g;
    int option_b;
} builder;

/* nn.Conv2d(k x k, stride, padding k / 2, bias=False). */
static clnet_status conv(builder *b, const char *name, int filters, int kernel, int stride,
                         clnet_tensor x, clnet_tensor *out) {
    clnet_conv2d_desc desc = clnet_conv2d_defaults(filters, kernel);
    desc.stride_h = desc.stride_w = stride;
    desc.padding = CLNET_PADDING_EXPLICIT;
    desc.pad_top = desc.pad_bottom = desc.pad_left = desc.pad_right = kernel / 2;
    desc.use_bias = 0;
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_conv2d(b->g, name, &desc, &layer));
    return clnet_layer_call1(layer, x, out);
}

static clnet_status batchnorm(builder *b, const char *name, clnet_tensor x, clnet_tensor *out) {
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_batchnorm(b->g, name, TORCH_BN_EPSILON, &layer));
    return clnet_layer_call1(layer, x, out);
}

static clnet_status relu(builder *b, const char *name, clnet_tensor x, clnet_tensor *out) {
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_activation(b->g, name, CLNET_ACT_RELU, &layer));
    return clnet_layer_call1(layer, x, out);
}

/* Option A: x[:, :, ::2, ::2] padded with planes / 4 zero channels on each side, where planes
 * is the block's output width; no weights. */
static clnet_status shortcut_a(builder *b, const char *block, int planes, clnet_tensor x,
                               clnet_tensor *out) {
    char name[NAME_SIZE];
    clnet_slice_desc slice = clnet_slice_defaults();
    slice.step[1] = slice.step[2] = 2;
    clnet_layer *layer;
    snprintf(name, sizeof name, "%s.shortcut.slice", block);
    CLNET_TRY(clnet_layer_slice(b->g, name, &slice, &layer));
    CLNET_TRY(clnet_layer_call1(layer, x, &x));

    clnet_pad_desc pad = {0};
    pad.channels_before = pad.channels_after = planes / 4;
    snprintf(name, sizeof name, "%s.shortcut.pad", block);
    CLNET_TRY(clnet_layer_pad(b->g, name, &pad, &layer));
    return clnet_layer_call1(layer, x, out);
}

/* Option B: conv1x1(stride) -> BN, PyTorch's "downsample" Sequential. */
static clnet_status shortcut_b(builder *b, const char *block, int planes, int stride,
                               clnet_tensor x, clnet_tensor *out) {
    char name[NAME_SIZE];
    snprintf(name, sizeof name, "%s.downsample.0", block);
    CLNET_TRY(conv(b, name, planes, 1, stride, x, &x));
    snprintf(name, sizeof name, "%s.downsample.1", block);
    return batchnorm(b, name, x, out);
}

/* BasicBlock: conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN, plus the shortcut, -> ReLU. */
static clnet_status basic_block(builder *b, int stage, int index, int in_planes, int planes,
                                int stride, clnet_tensor x, clnet_tensor *out) {
    char block[NAME_SIZE / 2], name[NAME_SIZE];
    snprintf(block, sizeof block, "layer%d.%d", stage, index);
    clnet_tensor y;
    snprintf(name, sizeof name, "%s.conv1", block);
    CLNET_TRY(conv(b, name, planes, 3, stride, x, &y));
    snprintf(name, sizeof name, "%s.bn1", block);
    CLNET_TRY(batchnorm(b, name, y, &y));
    snprintf(name, sizeof name, "%s.relu1", block);
    CLNET_TRY(relu(b, name, y, &y));
    snprintf(name, sizeof name, "%s.conv2", block);
    CLNET_TRY(conv(b, name, planes, 3, 1, y, &y));
    snprintf(name, sizeof name, "%s.bn2", block);
    CLNET_TRY(batchnorm(b, name, y, &y));

    if (stride != 1 || in_planes != planes) {
        if (b->option_b)
            CLNET_TRY(shortcut_b(b, block, planes, stride, x, &x));
        else
            CLNET_TRY(shortcut_a(b, block, planes, x, &x));
    }
    clnet_tensor pair[2] = {y, x};
    clnet_layer *add;
    snprintf(name, sizeof name, "%s.add", block);
    CLNET_TRY(clnet_layer_add(b->g, name, &add));
    CLNET_TRY(clnet_layer_call(add, pair, 2, &y));
    snprintf(name, sizeof name, "%s.relu2", block);
    return relu(b, name, y, out);
}

static clnet_status build(builder *b, int depth, int num_classes) {
    clnet_tensor x;
    CLNET_TRY(clnet_graph_input(b->g, "input", 3, 32, 32, &x));
    CLNET_TRY(conv(b, "conv1", 16, 3, 1, x, &x));
    CLNET_TRY(batchnorm(b, "bn1", x, &x));
    CLNET_TRY(relu(b, "relu", x, &x));

    int blocks = (depth - 2) / 6;
    int in_planes = 16;
    for (int stage = 1; stage <= 3; stage++) {
        int planes = 16 << (stage - 1);
        for (int i = 0; i < blocks; i++) {
            int stride = stage > 1 && i == 0 ? 2 : 1;
            CLNET_TRY(basic_block(b, stage, i, in_planes, planes, stride, x, &x));
            in_planes = planes;
        }
    }

    clnet_layer *layer;
    CLNET_TRY(clnet_layer_global_avgpool(b->g, "avgpool", &layer));
    CLNET_TRY(clnet_layer_call1(layer, x, &x));
    /* akamaster's option-A networks call the head "linear", torchvision-style ones "fc". */
    clnet_dense_desc head = {num_classes, 1, CLNET_ACT_LINEAR, CLNET_INIT_GLOROT_UNIFORM};
    CLNET_TRY(clnet_layer_dense(b->g, b->option_b ? "fc" : "linear", &head, &layer));
    CLNET_TRY(clnet_layer_call1(layer, x, &x));
    return clnet_graph_set_outputs(b->g, &x, 1);
}

clnet_status clnet_model_torch_resnet(int depth, int option_b, int num_classes, clnet_graph **out) {
    if (!out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "torch resnet: the output graph pointer is NULL");
    *out = NULL;
    if (depth < 8 || (depth - 2) % 6 != 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "torch resnet: depth %d is not 6n+2 with n >= 1; valid depths are 8, "
                          "14, 20, 26, 32, ... (20, 32, 44, 56 and 110 in the paper)",
                          depth);
    if (num_classes <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "torch resnet: %d classes; the count must be positive", num_classes);

    builder b = {NULL, option_b != 0};
    CLNET_TRY(clnet_graph_create(&b.g));
    clnet_status status = build(&b, depth, num_classes);
    if (status != CLNET_STATUS_OK) {
        clnet_graph_destroy(b.g);
        return status;
    }
    *out = b.g;
    return CLNET_STATUS_OK;
}
