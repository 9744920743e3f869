/* Plain-C reference of every op and a whole-graph runner built on them: the
 * ground truth device results are compared with. Sums are kept in double. */
#include "reference.h"

#include "graph.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Per-op functions                                                         */

void clnet_ref_conv2d(const clnet_conv_geometry *g, int batch, const float *in,
                      const float *weight, const float *bias, float *out) {
    size_t in_plane = (size_t)g->in_h * g->in_w;
    size_t in_image = (size_t)g->in_c * in_plane;
    size_t out_plane = (size_t)g->out_h * g->out_w;
    size_t out_image = (size_t)g->out_c * out_plane;
    size_t filter = (size_t)g->in_c * g->kh * g->kw;

    for (int n = 0; n < batch; n++) {
        const float *img = in + (size_t)n * in_image;
        for (int oc = 0; oc < g->out_c; oc++) {
            const float *wf = weight + (size_t)oc * filter;
            float *dst = out + (size_t)n * out_image + (size_t)oc * out_plane;
            for (int oy = 0; oy < g->out_h; oy++) {
                int y0 = oy * g->sh - g->pad_top;
                for (int ox = 0; ox < g->out_w; ox++) {
                    int x0 = ox * g->sw - g->pad_left;
                    double acc = bias ? (double)bias[oc] : 0.0;
                    for (int ic = 0; ic < g->in_c; ic++) {
                        const float *plane = img + (size_t)ic * in_plane;
                        const float *wk = wf + (size_t)ic * g->kh * g->kw;
                        for (int ky = 0; ky < g->kh; ky++) {
                            int iy = y0 + ky * g->dh;
                            /* Padded rows and columns contribute zeros. */
                            if (iy < 0 || iy >= g->in_h)
                                continue;
                            const float *row = plane + (size_t)iy * g->in_w;
                            for (int kx = 0; kx < g->kw; kx++) {
                                int ix = x0 + kx * g->dw;
                                if (ix < 0 || ix >= g->in_w)
                                    continue;
                                acc += (double)row[ix] * (double)wk[ky * g->kw + kx];
                            }
                        }
                    }
                    dst[(size_t)oy * g->out_w + ox] = (float)acc;
                }
            }
        }
    }
}

void clnet_ref_batchnorm(int c, int hw, int batch, const float *in, const float *gamma,
                         const float *beta, const float *mean, const float *var, float epsilon,
                         float *out) {
    for (int ch = 0; ch < c; ch++) {
        double inv_std = 1.0 / sqrt((double)var[ch] + (double)epsilon);
        double gm = gamma[ch], bt = beta[ch], mu = mean[ch];
        for (int n = 0; n < batch; n++) {
            size_t base = ((size_t)n * c + ch) * hw;
            for (int p = 0; p < hw; p++)
                out[base + p] = (float)(((double)in[base + p] - mu) * inv_std * gm + bt);
        }
    }
}

void clnet_ref_relu(size_t count, const float *in, float *out) {
    for (size_t i = 0; i < count; i++)
        out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void clnet_ref_add(size_t count, const float *a, const float *b, float *out) {
    for (size_t i = 0; i < count; i++)
        out[i] = (float)((double)a[i] + (double)b[i]);
}

void clnet_ref_concat(int n, const float *const *in, const int *channels, int hw, int batch,
                      float *out) {
    size_t total_c = 0;
    for (int i = 0; i < n; i++)
        total_c += (size_t)channels[i];

    for (int b = 0; b < batch; b++) {
        float *dst = out + (size_t)b * total_c * hw;
        for (int i = 0; i < n; i++) {
            size_t len = (size_t)channels[i] * hw;
            memcpy(dst, in[i] + (size_t)b * len, len * sizeof *dst);
            dst += len;
        }
    }
}

/* The in-bounds part [lo, hi) of the window starting at `start` of length k. */
static void window_clip(int start, int k, int size, int *lo, int *hi) {
    *lo = start < 0 ? 0 : start;
    *hi = start + k > size ? size : start + k;
}

/* Shared walk of max and average pooling: only in-bounds elements take
 * part, so padding never wins a max and never counts in an average. */
static void pool(const clnet_pool_geometry *g, int batch, const float *in, float *out,
                 int is_max) {
    size_t in_plane = (size_t)g->in_h * g->in_w;
    size_t out_plane = (size_t)g->out_h * g->out_w;

    for (int n = 0; n < batch; n++) {
        for (int ch = 0; ch < g->c; ch++) {
            const float *src = in + ((size_t)n * g->c + ch) * in_plane;
            float *dst = out + ((size_t)n * g->c + ch) * out_plane;
            for (int oy = 0; oy < g->out_h; oy++) {
                int y_lo, y_hi;
                window_clip(oy * g->sh - g->pad_top, g->kh, g->in_h, &y_lo, &y_hi);
                for (int ox = 0; ox < g->out_w; ox++) {
                    int x_lo, x_hi;
                    window_clip(ox * g->sw - g->pad_left, g->kw, g->in_w, &x_lo, &x_hi);
                    double sum = 0.0, best = -INFINITY;
                    long count = 0;
                    for (int y = y_lo; y < y_hi; y++) {
                        for (int x = x_lo; x < x_hi; x++) {
                            double v = src[(size_t)y * g->in_w + x];
                            sum += v;
                            if (v > best)
                                best = v;
                            count++;
                        }
                    }
                    /* Geometry rejects padding as wide as the window, so
                     * count is positive; 0 guards a hand-made geometry. */
                    double r = count == 0 ? 0.0 : is_max ? best : sum / (double)count;
                    dst[(size_t)oy * g->out_w + ox] = (float)r;
                }
            }
        }
    }
}

void clnet_ref_maxpool(const clnet_pool_geometry *g, int batch, const float *in, float *out) {
    pool(g, batch, in, out, 1);
}

void clnet_ref_avgpool(const clnet_pool_geometry *g, int batch, const float *in, float *out) {
    pool(g, batch, in, out, 0);
}

void clnet_ref_global_avgpool(int c, int hw, int batch, const float *in, float *out) {
    for (size_t i = 0; i < (size_t)batch * c; i++) {
        double sum = 0.0;
        for (int p = 0; p < hw; p++)
            sum += in[i * hw + p];
        out[i] = (float)(sum / hw);
    }
}

void clnet_ref_dense(int in_features, int units, int batch, const float *in, const float *weight,
                     const float *bias, float *out) {
    for (int n = 0; n < batch; n++) {
        const float *x = in + (size_t)n * in_features;
        for (int u = 0; u < units; u++) {
            const float *w = weight + (size_t)u * in_features;
            double acc = bias ? (double)bias[u] : 0.0;
            for (int i = 0; i < in_features; i++)
                acc += (double)x[i] * (double)w[i];
            out[(size_t)n * units + u] = (float)acc;
        }
    }
}

/* Safe in place (in == out): each element is read before it is written. */
void clnet_ref_softmax(int c, int hw, int batch, const float *in, float *out) {
    for (int n = 0; n < batch; n++) {
        for (int p = 0; p < hw; p++) {
            size_t base = (size_t)n * c * hw + p;
            /* Subtracting the maximum keeps exp() finite for large logits. */
            double max = -INFINITY;
            for (int ch = 0; ch < c; ch++)
                if (in[base + (size_t)ch * hw] > max)
                    max = in[base + (size_t)ch * hw];
            double sum = 0.0;
            for (int ch = 0; ch < c; ch++)
                sum += exp((double)in[base + (size_t)ch * hw] - max);
            for (int ch = 0; ch < c; ch++) {
                size_t i = base + (size_t)ch * hw;
                out[i] = (float)(exp((double)in[i] - max) / sum);
            }
        }
    }
}

void clnet_ref_multiply(size_t count, const float *a, const float *b, float *out) {
    for (size_t i = 0; i < count; i++)
        out[i] = (float)((double)a[i] * (double)b[i]);
}

void clnet_ref_subtract(size_t count, const float *a, const float *b, float *out) {
    for (size_t i = 0; i < count; i++)
        out[i] = (float)((double)a[i] - (double)b[i]);
}

/* NaN passes through, as in PyTorch's clamp, so that a NaN upstream is not
 * hidden; the device kernel compares the same way. */
void clnet_ref_clip(size_t count, const float *in, float lo, float hi, float *out) {
    for (size_t i = 0; i < count; i++) {
        float v = in[i];
        out[i] = v < lo ? lo : v > hi ? hi : v;
    }
}

/* exp(-|x|) never overflows, so large |x| gives 0 or 1 rather than NaN. */
void clnet_ref_sigmoid(size_t count, const float *in, float *out) {
    for (size_t i = 0; i < count; i++) {
        double x = in[i];
        double e = exp(-fabs(x));
        out[i] = (float)(x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e));
    }
}

void clnet_ref_channel_affine(int c, int hw, int batch, const float *in, const float *scale,
                              const float *shift, float *out) {
    for (int n = 0; n < batch; n++)
        for (int ch = 0; ch < c; ch++) {
            size_t base = ((size_t)n * c + ch) * hw;
            double s = scale[ch], t = shift[ch];
            for (int p = 0; p < hw; p++)
                out[base + p] = (float)((double)in[base + p] * s + t);
        }
}

/* The input index of output index o along one axis, or -1 outside the input. */
static long long window_source(int origin, int step, int o, int size) {
    long long i = (long long)origin + (long long)o * step;
    return i >= 0 && i < size ? i : -1;
}

void clnet_ref_window(const clnet_window_copy *w, int batch, const float *in, float *out) {
    size_t in_image = (size_t)w->in_c * w->in_h * w->in_w;
    size_t out_image = (size_t)w->out_c * w->out_h * w->out_w;
    for (int n = 0; n < batch; n++) {
        const float *src = in + (size_t)n * in_image;
        float *dst = out + (size_t)n * out_image;
        for (int c = 0; c < w->out_c; c++) {
            long long ic = window_source(w->c0, w->sc, c, w->in_c);
            for (int y = 0; y < w->out_h; y++) {
                long long iy = window_source(w->y0, w->sy, y, w->in_h);
                for (int x = 0; x < w->out_w; x++) {
                    long long ix = window_source(w->x0, w->sx, x, w->in_w);
                    int inside = ic >= 0 && iy >= 0 && ix >= 0;
                    *dst++ = inside ? src[((size_t)ic * w->in_h + (size_t)iy) * w->in_w +
                                          (size_t)ix]
                                    : w->value;
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Whole-graph runner                                                       */

static const char *node_name(const clnet_node *node) {
    if (node->layer)
        return node->layer->name;
    return node->input_name ? node->input_name : "(unnamed input)";
}

/* Pixels per channel of a per-image shape; rank-1 tensors have one. */
static int shape_pixels(clnet_shape s) {
    return s.rank == 1 ? 1 : s.h * s.w;
}

static clnet_status node_fail(const clnet_graph *g, int i, clnet_status status, const char *what) {
    const clnet_node *node = &g->nodes[i];
    return clnet_fail(status, "reference run: node %d '%s' (%s): %s", i, node_name(node),
                      clnet_op_name(node->op), what);
}

/* A layer weight by name, checked against the element count the op needs.
 * A weight that is not required may be absent; *out is then NULL. */
static clnet_status find_weight(const clnet_graph *g, int i, const char *name, size_t count,
                                int required, const float **out) {
    clnet_layer *layer = g->nodes[i].layer;
    clnet_weight *w = clnet_layer_find_weight(layer, name);
    *out = NULL;
    if (!w || !w->data) {
        if (!required)
            return CLNET_STATUS_OK;
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "reference run: layer '%s' has no weight '%s'", layer->name, name);
    }
    if (w->count != count)
        return clnet_fail(CLNET_STATUS_SHAPE_MISMATCH,
                          "reference run: weight '%s' of layer '%s' has %zu elements, the call "
                          "needs %zu",
                          name, layer->name, w->count, count);
    *out = w->data;
    return CLNET_STATUS_OK;
}

/* Batch-norm parameters by name, else by position in the Keras order. */
static clnet_status find_bn_weight(const clnet_graph *g, int i, int index, const char *name,
                                   size_t count, const float **out) {
    clnet_layer *layer = g->nodes[i].layer;
    clnet_weight *w = clnet_layer_find_weight(layer, name);
    *out = NULL;
    if (!w && index < layer->n_weights)
        w = &layer->weights[index];
    if (!w || !w->data)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "reference run: batchnorm layer '%s' has no weight '%s'", layer->name,
                          name);
    if (w->count != count)
        return clnet_fail(CLNET_STATUS_SHAPE_MISMATCH,
                          "reference run: weight '%s' of layer '%s' has %zu elements, the call "
                          "needs %zu",
                          name, layer->name, w->count, count);
    *out = w->data;
    return CLNET_STATUS_OK;
}

static void apply_activation(clnet_activation act, clnet_shape s, int batch, float *data) {
    size_t count = (size_t)batch * clnet_shape_size(s);
    if (act == CLNET_ACT_RELU)
        clnet_ref_relu(count, data, data);
    else if (act == CLNET_ACT_SOFTMAX)
        clnet_ref_softmax(s.c, shape_pixels(s), batch, data, data);
    else if (act == CLNET_ACT_SIGMOID)
        clnet_ref_sigmoid(count, data, data);
}

static clnet_status check_activation(const clnet_graph *g, int i, clnet_activation act) {
    if (act != CLNET_ACT_LINEAR && act != CLNET_ACT_RELU && act != CLNET_ACT_SOFTMAX &&
        act != CLNET_ACT_SIGMOID)
        return node_fail(g, i, CLNET_STATUS_INVALID_ARGUMENT, "unknown activation");
    return CLNET_STATUS_OK;
}

/* Computes node i into out from the buffers of its inputs. */
static clnet_status run_node(const clnet_graph *g, int i, int batch, float *const *buf,
                             float *out) {
    const clnet_node *node = &g->nodes[i];
    clnet_layer *layer = node->layer;
    const float *x = node->n_inputs > 0 ? buf[node->inputs[0]] : NULL;
    clnet_shape in_shape = node->n_inputs > 0 ? g->nodes[node->inputs[0]].shape : node->shape;
    size_t out_count = (size_t)batch * clnet_shape_size(node->shape);

    switch (node->op) {
    case CLNET_OP_CONV2D: {
        const clnet_conv_geometry *cg = &node->geom.conv;
        const float *w = NULL, *b = NULL;
        size_t wcount = (size_t)cg->out_c * cg->in_c * cg->kh * cg->kw;
        CLNET_TRY(check_activation(g, i, layer->u.conv.activation));
        CLNET_TRY(find_weight(g, i, "kernel", wcount, 1, &w));
        if (layer->u.conv.use_bias)
            CLNET_TRY(find_weight(g, i, "bias", (size_t)cg->out_c, 0, &b));
        clnet_ref_conv2d(cg, batch, x, w, b, out);
        apply_activation(layer->u.conv.activation, node->shape, batch, out);
        return CLNET_STATUS_OK;
    }
    case CLNET_OP_BATCHNORM: {
        const float *gamma = NULL, *beta = NULL, *mean = NULL, *var = NULL;
        size_t c = (size_t)in_shape.c;
        CLNET_TRY(find_bn_weight(g, i, 0, "gamma", c, &gamma));
        CLNET_TRY(find_bn_weight(g, i, 1, "beta", c, &beta));
        CLNET_TRY(find_bn_weight(g, i, 2, "moving_mean", c, &mean));
        CLNET_TRY(find_bn_weight(g, i, 3, "moving_variance", c, &var));
        clnet_ref_batchnorm(in_shape.c, shape_pixels(in_shape), batch, x, gamma, beta, mean, var,
                            layer->u.bn.epsilon, out);
        return CLNET_STATUS_OK;
    }
    case CLNET_OP_ACTIVATION:
        CLNET_TRY(check_activation(g, i, layer->u.activation));
        memcpy(out, x, out_count * sizeof *out);
        apply_activation(layer->u.activation, node->shape, batch, out);
        return CLNET_STATUS_OK;
    case CLNET_OP_ADD:
        if (node->n_inputs < 2)
            return node_fail(g, i, CLNET_STATUS_INVALID_ARGUMENT, "add needs two or more inputs");
        /* Sum every input in double and round once. */
        for (size_t e = 0; e < out_count; e++) {
            double sum = 0.0;
            for (int k = 0; k < node->n_inputs; k++)
                sum += buf[node->inputs[k]][e];
            out[e] = (float)sum;
        }
        return CLNET_STATUS_OK;
    case CLNET_OP_CONCAT: {
        const float **parts = malloc((size_t)node->n_inputs * sizeof *parts);
        int *channels = malloc((size_t)node->n_inputs * sizeof *channels);
        if (!parts || !channels) {
            free(parts);
            free(channels);
            return node_fail(g, i, CLNET_STATUS_OUT_OF_MEMORY,
                             "could not allocate the list of concatenated inputs");
        }
        for (int k = 0; k < node->n_inputs; k++) {
            parts[k] = buf[node->inputs[k]];
            channels[k] = g->nodes[node->inputs[k]].shape.c;
        }
        clnet_ref_concat(node->n_inputs, parts, channels, shape_pixels(node->shape), batch, out);
        free(parts);
        free(channels);
        return CLNET_STATUS_OK;
    }
    case CLNET_OP_AVGPOOL:
        clnet_ref_avgpool(&node->geom.pool, batch, x, out);
        return CLNET_STATUS_OK;
    case CLNET_OP_MAXPOOL:
        clnet_ref_maxpool(&node->geom.pool, batch, x, out);
        return CLNET_STATUS_OK;
    case CLNET_OP_GLOBAL_AVGPOOL:
        clnet_ref_global_avgpool(in_shape.c, shape_pixels(in_shape), batch, x, out);
        return CLNET_STATUS_OK;
    case CLNET_OP_FLATTEN:
    case CLNET_OP_DROPOUT:
        /* Both are identities at inference on NCHW data. */
        memcpy(out, x, out_count * sizeof *out);
        return CLNET_STATUS_OK;
    case CLNET_OP_DENSE: {
        const clnet_dense_desc *d = &layer->u.dense;
        int in_features = (int)clnet_shape_size(in_shape);
        const float *w = NULL, *b = NULL;
        CLNET_TRY(check_activation(g, i, d->activation));
        CLNET_TRY(find_weight(g, i, "kernel", (size_t)d->units * in_features, 1, &w));
        if (d->use_bias)
            CLNET_TRY(find_weight(g, i, "bias", (size_t)d->units, 0, &b));
        clnet_ref_dense(in_features, d->units, batch, x, w, b, out);
        apply_activation(d->activation, node->shape, batch, out);
        return CLNET_STATUS_OK;
    }
    case CLNET_OP_SOFTMAX:
        clnet_ref_softmax(in_shape.c, shape_pixels(in_shape), batch, x, out);
        return CLNET_STATUS_OK;
    case CLNET_OP_MULTIPLY:
        if (node->n_inputs < 2)
            return node_fail(g, i, CLNET_STATUS_INVALID_ARGUMENT,
                             "multiply needs two or more inputs");
        /* The product in double, rounded once, as add does with its sum. */
        for (size_t e = 0; e < out_count; e++) {
            double product = 1.0;
            for (int k = 0; k < node->n_inputs; k++)
                product *= buf[node->inputs[k]][e];
            out[e] = (float)product;
        }
        return CLNET_STATUS_OK;
    case CLNET_OP_SUBTRACT:
        if (node->n_inputs != 2)
            return node_fail(g, i, CLNET_STATUS_INVALID_ARGUMENT, "subtract needs two inputs");
        clnet_ref_subtract(out_count, x, buf[node->inputs[1]], out);
        return CLNET_STATUS_OK;
    case CLNET_OP_CHANNEL_AFFINE: {
        const float *scale = NULL, *shift = NULL;
        CLNET_TRY(find_weight(g, i, "scale", (size_t)in_shape.c, 1, &scale));
        CLNET_TRY(find_weight(g, i, "shift", (size_t)in_shape.c, 1, &shift));
        clnet_ref_channel_affine(in_shape.c, shape_pixels(in_shape), batch, x, scale, shift,
                                 out);
        return CLNET_STATUS_OK;
    }
    case CLNET_OP_CLIP:
        clnet_ref_clip(out_count, x, layer->u.clip.lo, layer->u.clip.hi, out);
        return CLNET_STATUS_OK;
    case CLNET_OP_PAD:
    case CLNET_OP_SLICE: {
        clnet_window_copy w;
        clnet_node_window(g, i, &w);
        clnet_ref_window(&w, batch, x, out);
        return CLNET_STATUS_OK;
    }
    default:
        return node_fail(g, i, CLNET_STATUS_UNSUPPORTED, "the reference has no such op");
    }
}

/* Checks what the runner relies on before it allocates anything. */
static clnet_status validate(const clnet_graph *g, int batch, const float *const *inputs,
                             float *const *outputs) {
    if (!g)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "reference run: graph is NULL");
    if (batch < 1)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "reference run: batch size %d must be at least 1", batch);
    if (!inputs || !outputs)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "reference run: the %s array is NULL", inputs ? "outputs" : "inputs");
    if (g->n_outputs <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "graph has no outputs; call clnet_graph_set_outputs");
    for (int k = 0; k < g->n_inputs; k++)
        if (!inputs[k])
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "reference run: inputs[%d] is NULL",
                              k);
    for (int k = 0; k < g->n_outputs; k++) {
        if (!outputs[k])
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                              "reference run: outputs[%d] is NULL", k);
        if (g->outputs[k] < 0 || g->outputs[k] >= g->n_nodes)
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                              "reference run: output %d names tensor %d of a graph with %d nodes",
                              k, (int)g->outputs[k], g->n_nodes);
    }

    for (int i = 0; i < g->n_nodes; i++) {
        const clnet_node *node = &g->nodes[i];
        if (node->op != CLNET_OP_INPUT && !node->layer)
            return node_fail(g, i, CLNET_STATUS_INVALID_ARGUMENT, "node has no layer");
        if (node->layer && !node->layer->built)
            return node_fail(g, i, CLNET_STATUS_INVALID_ARGUMENT,
                             "layer is not built (it has no weights yet)");
        if (node->op != CLNET_OP_INPUT && node->n_inputs < 1)
            return node_fail(g, i, CLNET_STATUS_INVALID_ARGUMENT, "node has no inputs");
        for (int k = 0; k < node->n_inputs; k++)
            if (node->inputs[k] < 0 || node->inputs[k] >= i)
                return node_fail(g, i, CLNET_STATUS_INVALID_ARGUMENT,
                                 "an input is not computed before the node");
        size_t per_image = clnet_shape_size(node->shape);
        if (per_image > SIZE_MAX / sizeof(float) / (size_t)batch)
            return node_fail(g, i, CLNET_STATUS_OUT_OF_MEMORY,
                             "the output size overflows for this batch");
    }
    return CLNET_STATUS_OK;
}

/* The position of tensor t among the graph inputs, or -1. */
static int input_position(const clnet_graph *g, int t) {
    for (int k = 0; k < g->n_inputs; k++)
        if (g->inputs[k] == t)
            return k;
    return -1;
}

clnet_status clnet_graph_run_reference(const clnet_graph *g, int batch,
                                       const float *const *inputs, float *const *outputs) {
    CLNET_TRY(validate(g, batch, inputs, outputs));

    int n = g->n_nodes;
    float **buf = calloc((size_t)n, sizeof *buf);
    int *needed = calloc((size_t)n, sizeof *needed);
    int *consumers = calloc((size_t)n, sizeof *consumers);
    if (!buf || !needed || !consumers) {
        free(buf);
        free(needed);
        free(consumers);
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                          "reference run: could not allocate bookkeeping for %d nodes", n);
    }

    /* Only nodes the outputs depend on are run; walking backwards reaches
     * every producer because inputs precede their consumers. */
    for (int k = 0; k < g->n_outputs; k++)
        needed[g->outputs[k]] = 1;
    for (int i = n - 1; i >= 0; i--) {
        if (!needed[i])
            continue;
        for (int k = 0; k < g->nodes[i].n_inputs; k++) {
            needed[g->nodes[i].inputs[k]] = 1;
            consumers[g->nodes[i].inputs[k]]++;
        }
    }

    clnet_status status = CLNET_STATUS_OK;
    for (int i = 0; i < n && status == CLNET_STATUS_OK; i++) {
        if (!needed[i])
            continue;
        const clnet_node *node = &g->nodes[i];
        size_t count = (size_t)batch * clnet_shape_size(node->shape);
        buf[i] = malloc((count ? count : 1) * sizeof(float));
        if (!buf[i]) {
            status = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                                "reference run: could not allocate %zu bytes for the output of "
                                "node %d '%s' (%s)",
                                count * sizeof(float), i, node_name(node),
                                clnet_op_name(node->op));
            break;
        }

        if (node->op == CLNET_OP_INPUT) {
            int k = input_position(g, i);
            if (k < 0) {
                status = node_fail(g, i, CLNET_STATUS_INVALID_ARGUMENT,
                                   "input node is not among the graph inputs");
                break;
            }
            memcpy(buf[i], inputs[k], count * sizeof(float));
        } else {
            status = run_node(g, i, batch, buf, buf[i]);
            if (status != CLNET_STATUS_OK)
                break;
        }

        /* Copy out every output slot this tensor fills (it may be listed twice). */
        for (int k = 0; k < g->n_outputs; k++)
            if (g->outputs[k] == i)
                memcpy(outputs[k], buf[i], count * sizeof(float));

        /* Inputs whose last consumer has now run are no longer needed. */
        for (int k = 0; k < node->n_inputs; k++) {
            int t = node->inputs[k];
            if (--consumers[t] == 0) {
                free(buf[t]);
                buf[t] = NULL;
            }
        }
        if (consumers[i] == 0) {
            free(buf[i]);
            buf[i] = NULL;
        }
    }

    for (int i = 0; i < n; i++)
        free(buf[i]);
    free(buf);
    free(needed);
    free(consumers);
    return status;
}
