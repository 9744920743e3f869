/* Compiling a graph into steps: batch-norm folding, activation fusion,
 * in-place concatenation, the choice of algorithm per convolution, and the
 * memory plan that lets tensors with disjoint lifetimes share memory. */
#include "net.h"
#include "tuning.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-image region sizes are rounded up to this many floats so that every
 * region starts 64-byte aligned whatever the batch size. */
#define REGION_ALIGN_FLOATS 16

typedef struct planner {
    clnet_net *net;
    const clnet_graph *g;
    int *consumers;     /* per tensor: how many node inputs read it */
    int *sole_consumer; /* per tensor: the consuming node when consumers == 1 */
    int *is_output;     /* per tensor: listed among the graph outputs */
    int *storage;       /* per tensor: tensor owning its memory, -1 if fused away */
    int *parent;        /* per storage tensor: concat it is placed in, or -1 */
    size_t *parent_offset; /* per storage tensor: float offset per image in parent */
    /* Per convolution node: the batchnorm node to run as its prologue (-1:
     * none), whether a ReLU follows the batchnorm, and the storage tensor
     * the batchnorm reads, which the convolution then reads instead. */
    int *pre_bn, *pre_relu, *pre_source;
    /* Per storage tensor: floats per image when they differ from its
     * node's shape (0: the shape), for tensors the plan invents. */
    size_t *size;
} planner;

static void planner_free(planner *p) {
    free(p->consumers);
    free(p->sole_consumer);
    free(p->is_output);
    free(p->storage);
    free(p->parent);
    free(p->parent_offset);
    free(p->pre_bn);
    free(p->pre_relu);
    free(p->pre_source);
    free(p->size);
}

static clnet_status planner_init(planner *p, clnet_net *net) {
    memset(p, 0, sizeof *p);
    p->net = net;
    p->g = net->graph;
    size_t n = (size_t)p->g->n_nodes;
    p->consumers = calloc(n, sizeof *p->consumers);
    p->sole_consumer = calloc(n, sizeof *p->sole_consumer);
    p->is_output = calloc(n, sizeof *p->is_output);
    p->storage = calloc(n, sizeof *p->storage);
    p->parent = calloc(n, sizeof *p->parent);
    p->parent_offset = calloc(n, sizeof *p->parent_offset);
    p->pre_bn = calloc(n, sizeof *p->pre_bn);
    p->pre_relu = calloc(n, sizeof *p->pre_relu);
    p->pre_source = calloc(n, sizeof *p->pre_source);
    p->size = calloc(n, sizeof *p->size);
    if (!p->consumers || !p->sole_consumer || !p->is_output || !p->storage || !p->parent ||
        !p->parent_offset || !p->pre_bn || !p->pre_relu || !p->pre_source || !p->size) {
        planner_free(p);
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory planning the network");
    }
    for (size_t i = 0; i < n; i++) {
        p->sole_consumer[i] = -1;
        p->storage[i] = -1;
        p->parent[i] = -1;
        p->pre_bn[i] = -1;
    }
    for (int i = 0; i < p->g->n_nodes; i++) {
        const clnet_node *node = &p->g->nodes[i];
        for (int k = 0; k < node->n_inputs; k++) {
            int t = node->inputs[k];
            p->consumers[t]++;
            p->sole_consumer[t] = p->consumers[t] == 1 ? i : -1;
        }
    }
    for (int i = 0; i < p->g->n_outputs; i++)
        p->is_output[p->g->outputs[i]] = 1;
    return CLNET_STATUS_OK;
}

/* The node that may be fused into the step producing tensor t: t's only
 * consumer, provided t is not needed on its own. -1 otherwise. */
static int fusable_consumer(const planner *p, int t) {
    if (!p->net->options.fuse_activations && !p->net->options.fold_batchnorm)
        return -1;
    if (p->consumers[t] != 1 || p->is_output[t])
        return -1;
    return p->sole_consumer[t];
}

static int is_relu_node(const clnet_graph *g, int node) {
    return node >= 0 && g->nodes[node].op == CLNET_OP_ACTIVATION &&
           g->nodes[node].layer->u.activation == CLNET_ACT_RELU;
}

static const char *node_name(const clnet_graph *g, int node) {
    const clnet_node *n = &g->nodes[node];
    return n->layer ? n->layer->name : n->input_name;
}

static clnet_status push_step(planner *p, clnet_step_kind kind, int node, clnet_step **out) {
    clnet_net *net = p->net;
    if (net->n_steps == net->cap_steps) {
        int cap = net->cap_steps ? net->cap_steps * 2 : 64;
        clnet_step *steps = realloc(net->steps, (size_t)cap * sizeof *steps);
        if (!steps)
            return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory planning steps");
        net->steps = steps;
        net->cap_steps = cap;
    }
    clnet_step *s = &net->steps[net->n_steps++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->node = node;
    s->folded_bn = -1;
    s->pre_bn = -1;
    s->last_ms = -1;
    s->out = node;
    const clnet_node *n = &p->g->nodes[node];
    s->in_shape = n->n_inputs > 0 ? p->g->nodes[n->inputs[0]].shape : n->shape;
    if (n->op == CLNET_OP_CONV2D)
        s->geom.conv = n->geom.conv;
    else if (n->op == CLNET_OP_AVGPOOL || n->op == CLNET_OP_MAXPOOL)
        s->geom.pool = n->geom.pool;
    *out = s;
    return CLNET_STATUS_OK;
}

/* Appends "+name" to a step's label. */
static clnet_status label_append(clnet_step *s, const char *name) {
    size_t old = s->label ? strlen(s->label) : 0;
    char *label = realloc(s->label, old + strlen(name) + 2);
    if (!label)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory naming a step");
    if (old)
        label[old++] = '+';
    strcpy(label + old, name);
    s->label = label;
    return CLNET_STATUS_OK;
}

static clnet_conv_algo choose_conv_algo(const clnet_net *net, const clnet_conv_geometry *c) {
    int pointwise = clnet_conv2d_is_pointwise(c);
    switch (net->options.conv_algo) {
    case CLNET_CONV_DIRECT:
    case CLNET_CONV_IM2COL_GEMM:
        return net->options.conv_algo;
    case CLNET_CONV_GEMM_1X1:
        if (pointwise)
            return CLNET_CONV_GEMM_1X1;
        break;
    case CLNET_CONV_WINOGRAD_2X2:
    case CLNET_CONV_WINOGRAD_4X4:
        if (clnet_conv2d_winograd_applies(c))
            return net->options.conv_algo;
        break;
    case CLNET_CONV_AUTO: {
        /* A choice measured on this device wins over the rule below. */
        clnet_conv_algo tuned;
        if (clnet_tuning_conv_algo(net->ctx, c, &tuned) && clnet_conv_algo_applies(tuned, c))
            return tuned;
        break;
    }
    }
    /* The rule below was measured on PoCL (2 Zen 3 cores, AVX2), as CPU
     * time per batch of 32 images so that other load on the machine does
     * not count, on the convolution shapes of the built-in networks:
     * - 3x3 stride 1 dilation 1: Winograd F(4x4,3x3) (the fused kernel on
     *   CPUs) beat F(2x2,3x3), im2col + GEMM and the direct kernel on every
     *   shape: 1.2x the best other on the Y-network's 1-channel stem, 2.5x
     *   on the 3-channel stems, 2.6x at 128 channels on 8x8 (im2col), 4.2x
     *   at 16 channels on 32x32 and 5x on DenseNet's 48 -> 12 (direct).
     *   Limitation: at batch 1, 8x8 layers run faster with F(2x2), whose
     *   16 tiles fill two 8-lane work-items where F(4x4)'s 4 half-fill one;
     *   choosing per batch would need both filter sets.
     * - 1x1 stride 1 unpadded: a plain GEMM over the pixels.
     * - the rest (3x3 and 1x1 stride 2, dilated): unfolding the patches for
     *   a GEMM ran 2.4-3.9x faster than the direct kernel from 16 input
     *   channels on; only tiny reductions stay direct. */
    if (pointwise)
        return CLNET_CONV_GEMM_1X1;
    if (clnet_conv2d_winograd_applies(c))
        return CLNET_CONV_WINOGRAD_4X4;
    return c->in_c * c->kh * c->kw >= 16 ? CLNET_CONV_IM2COL_GEMM : CLNET_CONV_DIRECT;
}

/* Winograd F(4x4) computes 4x4 output tiles, 8 tiles per work-item on
 * CPUs (one per vector lane). A batch of small images has too few tiles to
 * fill one work-item: 8x8 images at batch 1 give 4, so half the lanes idle
 * and the filters, 36 values per input-output pair, are streamed for
 * little work. F(2x2) gives 16 such tiles and 16-value filters; measured on
 * PoCL (2 Zen 3 cores), 64 -> 64 channels on 8x8 at batch 1 ran 1.6x
 * faster with it. The step keeps both filter sets and runs F(2x2) up to
 * the largest batch whose F(4x4) tiles fill less than one work-item (the
 * value returned; 0: never). */
static int winograd_small_batch(const clnet_net *net, const clnet_conv_geometry *c) {
    const int lanes = 8;
    if (net->options.conv_algo != CLNET_CONV_AUTO || !clnet_conv2d_winograd_fuses(net->ctx, c, 4) ||
        !clnet_conv2d_winograd_fuses(net->ctx, c, 2))
        return 0;
    int tiles = ((c->out_h + 3) / 4) * ((c->out_w + 3) / 4);
    return tiles < lanes ? (lanes - 1) / tiles : 0;
}

static void name_kernel(clnet_step *s) {
    const char *backend = clnet_gemm_backend_name(s->backend);
    switch (s->kind) {
    case CLNET_STEP_CONV2D: {
        /* A prologue shows as a prefix, a residual as "+add", and F(2x2)
         * for small batches (see winograd_small_batch) as a bracket. */
        const char *pre = s->pre_bn < 0 ? "" : s->pre_relu ? "bn+relu>" : "bn>";
        const char *residual = s->n_in == 2 ? "+add" : "";
        char small[32] = "";
        if (s->small_batch > 0)
            snprintf(small, sizeof small, "[2x2 to batch %d]", s->small_batch);
        if (s->algo == CLNET_CONV_DIRECT)
            snprintf(s->kernel_name, sizeof s->kernel_name, "%sconv2d_direct%s", pre, residual);
        else
            snprintf(s->kernel_name, sizeof s->kernel_name, "%sconv2d_%s(%s)%s%s", pre,
                     clnet_conv_algo_name(s->algo), backend, small, residual);
        break;
    }
    case CLNET_STEP_BATCHNORM: snprintf(s->kernel_name, sizeof s->kernel_name, "batchnorm"); break;
    case CLNET_STEP_RELU: snprintf(s->kernel_name, sizeof s->kernel_name, "relu"); break;
    case CLNET_STEP_BINARY:
        snprintf(s->kernel_name, sizeof s->kernel_name, "%s", clnet_op_name(s->binary_op));
        break;
    case CLNET_STEP_CLIP: snprintf(s->kernel_name, sizeof s->kernel_name, "clip"); break;
    case CLNET_STEP_SIGMOID: snprintf(s->kernel_name, sizeof s->kernel_name, "sigmoid"); break;
    case CLNET_STEP_WINDOW: snprintf(s->kernel_name, sizeof s->kernel_name, "window"); break;
    case CLNET_STEP_COPY: snprintf(s->kernel_name, sizeof s->kernel_name, "copy"); break;
    case CLNET_STEP_POOL: snprintf(s->kernel_name, sizeof s->kernel_name, "pool2d"); break;
    case CLNET_STEP_GLOBAL_AVGPOOL:
        snprintf(s->kernel_name, sizeof s->kernel_name, "global_avgpool");
        break;
    case CLNET_STEP_DENSE: snprintf(s->kernel_name, sizeof s->kernel_name, "dense"); break;
    case CLNET_STEP_SOFTMAX: snprintf(s->kernel_name, sizeof s->kernel_name, "softmax"); break;
    }
    if (s->relu && s->kind != CLNET_STEP_RELU) {
        size_t n = strlen(s->kernel_name);
        snprintf(s->kernel_name + n, sizeof s->kernel_name - n, "+relu");
    }
}

static clnet_step_kind activation_step(clnet_activation act) {
    switch (act) {
    case CLNET_ACT_RELU: return CLNET_STEP_RELU;
    case CLNET_ACT_SIGMOID: return CLNET_STEP_SIGMOID;
    default: return CLNET_STEP_SOFTMAX;
    }
}

/* Absorbs a following ReLU into step s when allowed; returns the tensor the
 * step now writes. */
static int absorb_relu(planner *p, clnet_step *s, int t, clnet_status *status) {
    if (!p->net->options.fuse_activations || s->relu)
        return t;
    int next = fusable_consumer(p, t);
    if (!is_relu_node(p->g, next))
        return t;
    *status = label_append(s, node_name(p->g, next));
    s->relu = 1;
    return next;
}

/* The step of an op that maps one-to-one onto a kernel. */
static clnet_step_kind plain_step(clnet_op op) {
    switch (op) {
    case CLNET_OP_SOFTMAX: return CLNET_STEP_SOFTMAX;
    case CLNET_OP_GLOBAL_AVGPOOL: return CLNET_STEP_GLOBAL_AVGPOOL;
    case CLNET_OP_CLIP: return CLNET_STEP_CLIP;
    case CLNET_OP_PAD:
    case CLNET_OP_SLICE: return CLNET_STEP_WINDOW;
    default: return CLNET_STEP_POOL;
    }
}

static clnet_gemm_backend net_backend(const clnet_net *net) {
    return net->options.gemm_backend == CLNET_GEMM_AUTO ? clnet_gemm_auto_backend(net->ctx)
                                                        : net->options.gemm_backend;
}

/* Whether tensor t is read by exactly one node and is not a graph output. */
static int single_use(const planner *p, int t) {
    return p->consumers[t] == 1 && !p->is_output[t];
}

/* Batchnorm (or channel affine) node i, with the ReLU that may follow it,
 * becomes the prologue of the convolution that is its only reader, when
 * that convolution's algorithm can run one: the normalised tensor then
 * never exists. Returns 1 when i needs no step of its own. */
static int fuse_as_prologue(planner *p, int i, int *absorbed) {
    const clnet_graph *g = p->g;
    int source = p->storage[g->nodes[i].inputs[0]];
    if (!p->net->options.fuse_into_conv || source < 0 || !single_use(p, i))
        return 0;
    int t = i, relu = 0;
    int next = p->sole_consumer[t];
    if (p->net->options.fuse_activations && is_relu_node(g, next) && single_use(p, next)) {
        t = next;
        relu = 1;
        next = p->sole_consumer[t];
    }
    if (next < 0 || g->nodes[next].op != CLNET_OP_CONV2D || g->nodes[next].inputs[0] != t)
        return 0;
    clnet_conv_algo algo = choose_conv_algo(p->net, &g->nodes[next].geom.conv);
    if (!clnet_conv2d_fusion_supported(p->net->ctx, algo, net_backend(p->net), 1, 0))
        return 0;
    p->pre_bn[next] = i;
    p->pre_relu[next] = relu;
    p->pre_source[next] = source;
    if (relu)
        absorbed[t] = 1;
    return 1;
}

/* Whether a step from `first` on writes storage tensor t or a tensor
 * placed inside it (a concatenation's slice). */
static int written_from(const planner *p, int first, int t) {
    for (int k = first; k < p->net->n_steps; k++)
        for (int v = p->net->steps[k].out; v >= 0; v = p->parent[v])
            if (v == t)
                return 1;
    return 0;
}

/* The last step that writes storage tensor t, or -1. */
static int producer_step(const clnet_net *net, int t) {
    for (int k = net->n_steps - 1; k >= 0; k--)
        if (net->steps[k].out == t)
            return k;
    return -1;
}

/* Add node i (two inputs), with the ReLU that may follow it, becomes the
 * epilogue of the convolution step that produces one of its inputs, when
 * that input has no other reader, the other input is complete by the time
 * the convolution runs, and the convolution's algorithm can add a
 * residual. Returns 1 when i needs no step of its own. */
static int fuse_as_residual(planner *p, int i, int *absorbed, clnet_status *status) {
    const clnet_graph *g = p->g;
    const clnet_node *node = &g->nodes[i];
    if (!p->net->options.fuse_into_conv || node->op != CLNET_OP_ADD || node->n_inputs != 2)
        return 0;
    for (int k = 0; k < 2; k++) {
        int t = node->inputs[k];
        int other = p->storage[node->inputs[1 - k]];
        if (p->storage[t] != t || other < 0 || other == t || !single_use(p, t))
            continue;
        int j = producer_step(p->net, t);
        if (j < 0)
            continue;
        clnet_step *s = &p->net->steps[j];
        if (s->kind != CLNET_STEP_CONV2D || s->relu || s->n_in != 1 || written_from(p, j, other))
            continue;
        if (!clnet_conv2d_fusion_supported(p->net->ctx, s->algo, s->backend, s->pre_bn >= 0, 1))
            continue;
        s->n_in = 2;
        s->in[1] = other;
        p->storage[t] = -1;
        *status = label_append(s, node_name(g, i));
        if (*status != CLNET_STATUS_OK)
            return 1;
        int out = absorb_relu(p, s, i, status);
        if (out != i)
            absorbed[out] = 1;
        s->out = out;
        p->storage[out] = out;
        name_kernel(s);
        return 1;
    }
    return 0;
}

/* A linear 1x1 convolution (bias, folded batch norm and an affine
 * prologue allowed; no ReLU) followed only by an average pooling computes
 * the same as the pooling followed by the convolution, since averaging
 * commutes with per-pixel affine maps: DenseNet's transitions then
 * convolve a quarter of the pixels. The convolution step s (output tensor
 * t) becomes a pooling step into a tensor of the input's channels, which
 * takes the convolution node's id, followed by the convolution on the
 * pooled pixels writing the pooling's tensor. Returns the tensor written
 * last, or t when nothing moved. */
static int pool_first(planner *p, int s_index, int t, int *absorbed, clnet_status *status) {
    const clnet_graph *g = p->g;
    clnet_step *s = &p->net->steps[s_index];
    int pool = single_use(p, t) ? p->sole_consumer[t] : -1;
    if (!p->net->options.fuse_into_conv || pool < 0 || g->nodes[pool].op != CLNET_OP_AVGPOOL ||
        !clnet_conv2d_is_pointwise(&s->geom.conv) || s->relu || (s->pre_bn >= 0 && s->pre_relu))
        return t;
    const clnet_pool_geometry *pg = &g->nodes[pool].geom.pool;
    clnet_step conv = *s;
    int pooled = s->node;

    /* The pooling over the convolution's input channels. */
    memset(s, 0, sizeof *s);
    s->kind = CLNET_STEP_POOL;
    s->node = pool;
    s->folded_bn = s->pre_bn = -1;
    s->last_ms = -1;
    s->n_in = 1;
    s->in[0] = conv.in[0];
    s->out = pooled;
    s->in_shape = conv.in_shape;
    s->geom.pool = *pg;
    s->geom.pool.c = conv.geom.conv.in_c;
    *status = label_append(s, node_name(g, pool));
    if (*status != CLNET_STATUS_OK)
        return t;
    name_kernel(s);
    p->storage[pooled] = pooled;
    p->size[pooled] = (size_t)conv.geom.conv.in_c * (size_t)pg->out_h * (size_t)pg->out_w;

    /* The convolution on the pooled pixels. */
    clnet_step *c;
    *status = push_step(p, CLNET_STEP_CONV2D, conv.node, &c);
    if (*status != CLNET_STATUS_OK) {
        free(conv.label);
        return t;
    }
    *c = conv;
    c->in[0] = pooled;
    c->out = pool;
    p->storage[pool] = pool;
    c->in_shape.h = pg->out_h;
    c->in_shape.w = pg->out_w;
    c->geom.conv.in_h = c->geom.conv.out_h = pg->out_h;
    c->geom.conv.in_w = c->geom.conv.out_w = pg->out_w;
    c->macs_per_image = (uint64_t)c->geom.conv.in_c * (uint64_t)c->geom.conv.out_c *
                        (uint64_t)pg->out_h * (uint64_t)pg->out_w;
    *status = label_append(c, node_name(g, pool));
    absorbed[pool] = 1;
    if (t != pooled)
        p->storage[t] = -1;
    return pool;
}

/* Lowers one node (not yet absorbed into an earlier step) to steps. */
static clnet_status lower_node(planner *p, int i, int *absorbed) {
    const clnet_graph *g = p->g;
    const clnet_node *node = &g->nodes[i];
    clnet_step *s = NULL;
    clnet_status st = CLNET_STATUS_OK;
    int in0 = node->n_inputs > 0 ? p->storage[node->inputs[0]] : -1;

    switch (node->op) {
    case CLNET_OP_INPUT:
        p->storage[i] = i;
        return CLNET_STATUS_OK;

    case CLNET_OP_FLATTEN:
    case CLNET_OP_DROPOUT:
        /* Same memory, another shape: NCHW flattening is the identity. */
        p->storage[i] = in0;
        return CLNET_STATUS_OK;

    case CLNET_OP_ACTIVATION:
        if (node->layer->u.activation == CLNET_ACT_LINEAR) {
            p->storage[i] = in0;
            return CLNET_STATUS_OK;
        }
        CLNET_TRY(push_step(p, activation_step(node->layer->u.activation), i, &s));
        s->n_in = 1;
        s->in[0] = in0;
        s->relu = node->layer->u.activation == CLNET_ACT_RELU;
        CLNET_TRY(label_append(s, node_name(g, i)));
        break;

    case CLNET_OP_CONV2D:
    case CLNET_OP_DENSE: {
        int is_conv = node->op == CLNET_OP_CONV2D;
        CLNET_TRY(push_step(p, is_conv ? CLNET_STEP_CONV2D : CLNET_STEP_DENSE, i, &s));
        s->n_in = 1;
        s->in[0] = in0;
        s->macs_per_image = clnet_node_macs(g, i);
        s->backend = net_backend(p->net);
        if (is_conv && p->pre_bn[i] >= 0) {
            s->pre_bn = p->pre_bn[i];
            s->pre_relu = p->pre_relu[i];
            s->in[0] = p->pre_source[i];
            CLNET_TRY(label_append(s, node_name(g, s->pre_bn)));
            if (s->pre_relu)
                CLNET_TRY(label_append(s, node_name(g, node->inputs[0])));
        }
        CLNET_TRY(label_append(s, node_name(g, i)));
        clnet_activation act =
            is_conv ? node->layer->u.conv.activation : node->layer->u.dense.activation;
        int t = i;
        if (is_conv) {
            s->algo = choose_conv_algo(p->net, &node->geom.conv);
            if (s->algo == CLNET_CONV_WINOGRAD_4X4)
                s->small_batch = winograd_small_batch(p->net, &node->geom.conv);
            int next = fusable_consumer(p, t);
            if (act == CLNET_ACT_LINEAR && p->net->options.fold_batchnorm && next >= 0 &&
                g->nodes[next].op == CLNET_OP_BATCHNORM) {
                CLNET_TRY(label_append(s, node_name(g, next)));
                s->folded_bn = next;
                absorbed[next] = 1;
                t = next;
            }
        }
        if (act == CLNET_ACT_RELU)
            s->relu = 1;
        else if (act == CLNET_ACT_LINEAR) {
            int fused = absorb_relu(p, s, t, &st);
            CLNET_TRY(st);
            if (fused != t)
                absorbed[fused] = 1;
            t = fused;
        }
        s->out = t;
        p->storage[t] = t;
        name_kernel(s);
        if (is_conv && act == CLNET_ACT_LINEAR) {
            t = pool_first(p, p->net->n_steps - 1, t, absorbed, &st);
            CLNET_TRY(st);
            s = &p->net->steps[p->net->n_steps - 1];
        }
        if (act == CLNET_ACT_SOFTMAX || act == CLNET_ACT_SIGMOID) {
            /* The activation over the step's own output, in place. */
            clnet_step *sm;
            CLNET_TRY(push_step(p, activation_step(act), i, &sm));
            sm->n_in = 1;
            sm->in[0] = t;
            sm->out = t;
            sm->in_shape = node->shape;
            CLNET_TRY(label_append(sm, node_name(g, i)));
            name_kernel(sm);
        }
        return CLNET_STATUS_OK;
    }

    case CLNET_OP_BATCHNORM:
    case CLNET_OP_CHANNEL_AFFINE: {
        if (fuse_as_prologue(p, i, absorbed))
            return CLNET_STATUS_OK;
        CLNET_TRY(push_step(p, CLNET_STEP_BATCHNORM, i, &s));
        s->n_in = 1;
        s->in[0] = in0;
        CLNET_TRY(label_append(s, node_name(g, i)));
        int t = absorb_relu(p, s, i, &st);
        CLNET_TRY(st);
        if (t != i)
            absorbed[t] = 1;
        s->out = t;
        p->storage[t] = t;
        name_kernel(s);
        return CLNET_STATUS_OK;
    }

    case CLNET_OP_ADD:
    case CLNET_OP_MULTIPLY:
    case CLNET_OP_SUBTRACT: {
        if (fuse_as_residual(p, i, absorbed, &st))
            return st;
        /* n-ary sums and products run as a chain of binary steps into the
         * output. */
        int last = -1;
        for (int k = 1; k < node->n_inputs; k++) {
            CLNET_TRY(push_step(p, CLNET_STEP_BINARY, i, &s));
            s->binary_op = node->op;
            s->n_in = 2;
            s->in[0] = k == 1 ? in0 : i;
            s->in[1] = p->storage[node->inputs[k]];
            CLNET_TRY(label_append(s, node_name(g, i)));
            last = p->net->n_steps - 1;
        }
        s = &p->net->steps[last];
        int t = absorb_relu(p, s, i, &st);
        CLNET_TRY(st);
        if (t != i) {
            absorbed[t] = 1;
            /* Every link of the chain writes the fused tensor. */
            for (int k = last - (node->n_inputs - 2); k <= last; k++) {
                clnet_step *link = &p->net->steps[k];
                link->out = t;
                if (link->in[0] == i)
                    link->in[0] = t;
            }
        }
        p->storage[t] = t;
        for (int k = last - (node->n_inputs - 2); k <= last; k++)
            name_kernel(&p->net->steps[k]);
        return CLNET_STATUS_OK;
    }

    case CLNET_OP_CONCAT: {
        p->storage[i] = i;
        size_t plane = (size_t)node->shape.h * node->shape.w;
        size_t channel = 0;
        for (int k = 0; k < node->n_inputs; k++) {
            int v = p->storage[node->inputs[k]];
            const clnet_node *src = &g->nodes[node->inputs[k]];
            /* A producer can write straight into its slice unless the tensor
             * is a graph input (uploaded whole), already lives inside
             * another concatenation, or appears twice here. */
            int in_place = p->net->options.concat_in_place && v >= 0 &&
                           g->nodes[v].op != CLNET_OP_INPUT && p->parent[v] < 0 && v != i;
            if (in_place) {
                p->parent[v] = i;
                p->parent_offset[v] = channel * plane;
            } else {
                CLNET_TRY(push_step(p, CLNET_STEP_COPY, i, &s));
                s->n_in = 1;
                s->in[0] = v;
                s->out = i;
                s->out_channel_offset = (int)channel;
                s->in_shape = src->shape;
                CLNET_TRY(label_append(s, node_name(g, i)));
                name_kernel(s);
            }
            channel += (size_t)src->shape.c;
        }
        return CLNET_STATUS_OK;
    }

    case CLNET_OP_AVGPOOL:
    case CLNET_OP_MAXPOOL:
    case CLNET_OP_GLOBAL_AVGPOOL:
    case CLNET_OP_SOFTMAX:
    case CLNET_OP_CLIP:
    case CLNET_OP_PAD:
    case CLNET_OP_SLICE:
        CLNET_TRY(push_step(p, plain_step(node->op), i, &s));
        s->n_in = 1;
        s->in[0] = in0;
        CLNET_TRY(label_append(s, node_name(g, i)));
        break;

    default:
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "node %d ('%s') has op %s, which cannot run",
                          i, node_name(g, i), clnet_op_name(node->op));
    }
    s->out = i;
    p->storage[i] = i;
    name_kernel(s);
    return CLNET_STATUS_OK;
}

/* Gives every storage tensor a region (the outermost concatenation it is
 * placed in) and an offset within it. */
static clnet_status place_tensors(planner *p) {
    clnet_net *net = p->net;
    const clnet_graph *g = p->g;
    int n = g->n_nodes;
    int *region_of_root = malloc((size_t)n * sizeof *region_of_root);
    net->placement = malloc((size_t)n * sizeof *net->placement);
    net->regions = calloc((size_t)n, sizeof *net->regions);
    if (!region_of_root || !net->placement || !net->regions) {
        free(region_of_root);
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory planning memory");
    }
    for (int t = 0; t < n; t++) {
        region_of_root[t] = -1;
        net->placement[t].region = -1;
        net->placement[t].offset = 0;
    }
    for (int t = 0; t < n; t++) {
        if (p->storage[t] != t)
            continue;
        int root = t;
        size_t offset = 0;
        while (p->parent[root] >= 0) {
            offset += p->parent_offset[root];
            root = p->parent[root];
        }
        if (region_of_root[root] < 0) {
            clnet_region *r = &net->regions[net->n_regions];
            size_t size = p->size[root] ? p->size[root] : clnet_shape_size(g->nodes[root].shape);
            r->size = (size + REGION_ALIGN_FLOATS - 1) / REGION_ALIGN_FLOATS * REGION_ALIGN_FLOATS;
            r->first_step = net->n_steps;
            r->last_step = -1;
            region_of_root[root] = net->n_regions++;
        }
        net->placement[t].region = region_of_root[root];
        net->placement[t].offset = offset;
    }
    for (int t = 0; t < n; t++)
        if (p->storage[t] >= 0 && p->storage[t] != t)
            net->placement[t] = net->placement[p->storage[t]];
    free(region_of_root);
    return CLNET_STATUS_OK;
}

static void touch(clnet_region *r, int step) {
    if (step < r->first_step)
        r->first_step = step;
    if (step > r->last_step)
        r->last_step = step;
}

/* A convolution that adds a residual whose memory dies with it writes its
 * result over that residual: every kernel that takes a residual reads each
 * element of it just before writing the same element of the output, so
 * the output's region can join the residual's. That saves the memory and,
 * on CPUs, the cache misses of writing to lines not yet in the cache.
 * Only whole regions of one size are joined, never the convolution's own
 * input; a chain of residual blocks ends up in one region. */
static void share_residual_regions(clnet_net *net) {
    const int n_tensors = net->graph->n_nodes;
    for (int s = 0; s < net->n_steps; s++) {
        const clnet_step *st = &net->steps[s];
        if (st->kind != CLNET_STEP_CONV2D || st->n_in != 2)
            continue;
        const clnet_placement *res = &net->placement[st->in[1]];
        const clnet_placement *out = &net->placement[st->out];
        const clnet_placement *in = &net->placement[st->in[0]];
        if (res->region < 0 || out->region < 0 || res->region == out->region ||
            in->region == res->region || res->offset != 0 || out->offset != 0)
            continue;
        clnet_region *r = &net->regions[res->region], *o = &net->regions[out->region];
        if (r->size != o->size || r->last_step != s || o->first_step != s)
            continue;
        const int from = out->region, to = res->region;
        for (int t = 0; t < n_tensors; t++)
            if (net->placement[t].region == from)
                net->placement[t].region = to;
        if (o->last_step > r->last_step)
            r->last_step = o->last_step;
        /* The joined region stays in the list, empty and never alive. */
        o->size = 0;
        o->first_step = net->n_steps;
        o->last_step = -1;
    }
}

/* Lifetimes of regions, then offsets: largest regions first, each at the
 * lowest offset that overlaps no region alive at the same time. */
static clnet_status assign_offsets(clnet_net *net) {
    const clnet_graph *g = net->graph;
    for (int i = 0; i < g->n_inputs; i++)
        touch(&net->regions[net->placement[g->inputs[i]].region], -1);
    for (int s = 0; s < net->n_steps; s++) {
        const clnet_step *step = &net->steps[s];
        for (int k = 0; k < step->n_in; k++)
            touch(&net->regions[net->placement[step->in[k]].region], s);
        touch(&net->regions[net->placement[step->out].region], s);
    }
    for (int i = 0; i < g->n_outputs; i++)
        touch(&net->regions[net->placement[g->outputs[i]].region], net->n_steps);

    size_t plain = 0;
    for (int r = 0; r < net->n_regions; r++)
        plain += net->regions[r].size;
    net->plain_floats_per_image = plain;

    if (!net->options.reuse_memory) {
        size_t offset = 0;
        for (int r = 0; r < net->n_regions; r++) {
            net->regions[r].offset = offset;
            offset += net->regions[r].size;
        }
        net->arena_floats_per_image = offset;
        return CLNET_STATUS_OK;
    }
    share_residual_regions(net);

    int n = net->n_regions;
    int *order = malloc((size_t)n * sizeof *order);
    int *placed = malloc((size_t)n * sizeof *placed);
    if (!order || !placed) {
        free(order);
        free(placed);
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory planning memory");
    }
    for (int i = 0; i < n; i++)
        order[i] = i;
    /* Insertion sort by size, descending; ties keep execution order. */
    for (int i = 1; i < n; i++) {
        int v = order[i], j = i;
        while (j > 0 && net->regions[order[j - 1]].size < net->regions[v].size) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    size_t arena = 0;
    for (int i = 0; i < n; i++) {
        clnet_region *r = &net->regions[order[i]];
        size_t offset = 0;
        /* Move past every conflicting region until none overlaps; at most
         * i moves, since each move passes a distinct placed region. */
        for (int moved = 1; moved;) {
            moved = 0;
            for (int j = 0; j < i; j++) {
                const clnet_region *q = &net->regions[placed[j]];
                int alive_together =
                    q->first_step <= r->last_step && r->first_step <= q->last_step;
                int overlap = offset < q->offset + q->size && q->offset < offset + r->size;
                if (alive_together && overlap) {
                    offset = q->offset + q->size;
                    moved = 1;
                }
            }
        }
        r->offset = offset;
        placed[i] = order[i];
        if (offset + r->size > arena)
            arena = offset + r->size;
    }
    free(order);
    free(placed);
    net->arena_floats_per_image = arena;
    return CLNET_STATUS_OK;
}

clnet_status clnet_net_plan(clnet_net *net) {
    const clnet_graph *g = net->graph;
    if (g->n_outputs == 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "the graph has no outputs; call clnet_graph_set_outputs first");
    if (g->n_inputs == 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "the graph has no inputs");

    planner p;
    CLNET_TRY(planner_init(&p, net));
    int *absorbed = calloc((size_t)g->n_nodes, sizeof *absorbed);
    clnet_status s = absorbed ? CLNET_STATUS_OK
                              : clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                                           "out of host memory planning the network");
    for (int i = 0; i < g->n_nodes && s == CLNET_STATUS_OK; i++)
        if (!absorbed[i])
            s = lower_node(&p, i, absorbed);
    if (s == CLNET_STATUS_OK)
        s = place_tensors(&p);
    if (s == CLNET_STATUS_OK)
        s = assign_offsets(net);
    free(absorbed);
    planner_free(&p);
    return s;
}
