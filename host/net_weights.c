/* Device copies of the weights each step needs, with inference batch norm
 * folded into the preceding convolution or turned into a scale and shift. */
#include "net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Scale and shift of inference batch norm: y = x * scale + shift with
 * scale = gamma / sqrt(var + eps), shift = beta - mean * scale. Computed in
 * double so that folding adds no error beyond the final rounding. */
static void bn_scale_shift(clnet_layer *bn, int c, double *scale, double *shift) {
    const float *gamma = clnet_layer_find_weight(bn, "gamma")->data;
    const float *beta = clnet_layer_find_weight(bn, "beta")->data;
    const float *mean = clnet_layer_find_weight(bn, "moving_mean")->data;
    const float *var = clnet_layer_find_weight(bn, "moving_variance")->data;
    double eps = bn->u.bn.epsilon;
    for (int i = 0; i < c; i++) {
        scale[i] = gamma[i] / sqrt((double)var[i] + eps);
        shift[i] = beta[i] - mean[i] * scale[i];
    }
}

/* Writes floats into *buffer, creating it on first use. */
static clnet_status upload(clnet_net *net, cl_mem *buffer, const float *data, size_t count,
                           const char *what) {
    size_t bytes = count * sizeof *data;
    if (!*buffer) {
        CLNET_TRY(clnet_buffer_create(net->ctx, bytes, what, buffer));
        net->weight_bytes += bytes;
    }
    return clnet_buffer_write(net->ctx, *buffer, 0, bytes, data);
}

static int is_winograd(const clnet_step *s) {
    return s->kind == CLNET_STEP_CONV2D &&
           (s->algo == CLNET_CONV_WINOGRAD_2X2 || s->algo == CLNET_CONV_WINOGRAD_4X4);
}

/* A Winograd step's weight buffer holds its filters in the transformed
 * domain: folded in double, transformed in double, rounded once. */
static clnet_status upload_winograd(clnet_net *net, clnet_step *s, int tile, cl_mem *buffer) {
    const clnet_node *node = &net->graph->nodes[s->node];
    clnet_layer *layer = node->layer;
    const clnet_conv_geometry *geom = &s->geom.conv;
    const clnet_weight *kernel = clnet_layer_find_weight(layer, "kernel");
    const clnet_weight *bias = clnet_layer_find_weight(layer, "bias");
    int out_c = kernel->dims[0];
    size_t per_out = kernel->count / (size_t)out_c;
    int fused = clnet_conv2d_winograd_fuses(net->ctx, geom, tile);
    size_t u_count = clnet_winograd_filter_floats(geom, tile, fused);

    double *w = malloc(kernel->count * sizeof *w);
    double *scale = malloc((size_t)out_c * sizeof *scale);
    double *shift = malloc((size_t)out_c * sizeof *shift);
    float *u = malloc(u_count * sizeof *u);
    float *b = malloc((size_t)out_c * sizeof *b);
    clnet_status st = CLNET_STATUS_OK;
    if (!w || !scale || !shift || !u || !b) {
        st = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                        "out of host memory transforming the filters of '%s'", layer->name);
    } else {
        for (int o = 0; o < out_c; o++) {
            scale[o] = 1.0;
            shift[o] = 0.0;
        }
        if (s->folded_bn >= 0)
            bn_scale_shift(net->graph->nodes[s->folded_bn].layer, out_c, scale, shift);
        for (int o = 0; o < out_c; o++) {
            for (size_t k = 0; k < per_out; k++)
                w[(size_t)o * per_out + k] = kernel->data[(size_t)o * per_out + k] * scale[o];
            double b0 = bias ? bias->data[o] : 0.0;
            b[o] = (float)(b0 * scale[o] + shift[o]);
        }
        clnet_winograd_transform_filters(tile, fused, out_c, geom->in_c, w, u);
        st = upload(net, buffer, u, u_count, layer->name);
        if (st == CLNET_STATUS_OK && (bias || s->folded_bn >= 0))
            st = upload(net, &s->bias, b, (size_t)out_c, layer->name);
    }
    free(w);
    free(scale);
    free(shift);
    free(u);
    free(b);
    return st;
}

static clnet_status upload_conv_or_dense(clnet_net *net, clnet_step *s) {
    const clnet_node *node = &net->graph->nodes[s->node];
    clnet_layer *layer = node->layer;
    const clnet_weight *kernel = clnet_layer_find_weight(layer, "kernel");
    const clnet_weight *bias = clnet_layer_find_weight(layer, "bias");
    int out_c = kernel->dims[0];
    size_t per_out = kernel->count / (size_t)out_c;

    if (s->folded_bn < 0) {
        CLNET_TRY(upload(net, &s->weight, kernel->data, kernel->count, layer->name));
        if (bias)
            CLNET_TRY(upload(net, &s->bias, bias->data, bias->count, layer->name));
        return CLNET_STATUS_OK;
    }

    float *w = malloc(kernel->count * sizeof *w);
    float *b = malloc((size_t)out_c * sizeof *b);
    double *scale = malloc((size_t)out_c * sizeof *scale);
    double *shift = malloc((size_t)out_c * sizeof *shift);
    clnet_status st = CLNET_STATUS_OK;
    if (!w || !b || !scale || !shift) {
        st = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory folding '%s'",
                        layer->name);
    } else {
        bn_scale_shift(net->graph->nodes[s->folded_bn].layer, out_c, scale, shift);
        for (int o = 0; o < out_c; o++) {
            for (size_t k = 0; k < per_out; k++)
                w[(size_t)o * per_out + k] =
                    (float)(kernel->data[(size_t)o * per_out + k] * scale[o]);
            double b0 = bias ? bias->data[o] : 0.0;
            b[o] = (float)(b0 * scale[o] + shift[o]);
        }
        st = upload(net, &s->weight, w, kernel->count, layer->name);
        if (st == CLNET_STATUS_OK)
            st = upload(net, &s->bias, b, (size_t)out_c, layer->name);
    }
    free(w);
    free(b);
    free(scale);
    free(shift);
    return st;
}

/* Uploads the per-channel scale and shift of a batchnorm or channel
 * affine node into *scale_buf and *shift_buf. */
static clnet_status upload_scale_shift(clnet_net *net, int node, cl_mem *scale_buf,
                                       cl_mem *shift_buf) {
    clnet_layer *layer = net->graph->nodes[node].layer;
    int c = layer->in_channels;
    if (layer->op == CLNET_OP_CHANNEL_AFFINE) {
        CLNET_TRY(upload(net, scale_buf, clnet_layer_find_weight(layer, "scale")->data,
                         (size_t)c, layer->name));
        return upload(net, shift_buf, clnet_layer_find_weight(layer, "shift")->data, (size_t)c,
                      layer->name);
    }
    double *scale = malloc((size_t)c * sizeof *scale);
    double *shift = malloc((size_t)c * sizeof *shift);
    float *f = malloc((size_t)c * 2 * sizeof *f);
    clnet_status st = CLNET_STATUS_OK;
    if (!scale || !shift || !f) {
        st = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory for batchnorm '%s'",
                        layer->name);
    } else {
        bn_scale_shift(layer, c, scale, shift);
        for (int i = 0; i < c; i++) {
            f[i] = (float)scale[i];
            f[c + i] = (float)shift[i];
        }
        st = upload(net, scale_buf, f, (size_t)c, layer->name);
        if (st == CLNET_STATUS_OK)
            st = upload(net, shift_buf, f + c, (size_t)c, layer->name);
    }
    free(scale);
    free(shift);
    free(f);
    return st;
}

clnet_status clnet_net_upload_weights(clnet_net *net) {
    for (int i = 0; i < net->n_steps; i++) {
        clnet_step *s = &net->steps[i];
        if (is_winograd(s))
            CLNET_TRY(upload_winograd(net, s, s->algo == CLNET_CONV_WINOGRAD_2X2 ? 2 : 4,
                                      &s->weight));
        else if (s->kind == CLNET_STEP_CONV2D || s->kind == CLNET_STEP_DENSE)
            CLNET_TRY(upload_conv_or_dense(net, s));
        else if (s->kind == CLNET_STEP_BATCHNORM)
            CLNET_TRY(upload_scale_shift(net, s->node, &s->weight, &s->bias));
        /* F(2x2) filters for small batches (net_plan.c). */
        if (s->kind == CLNET_STEP_CONV2D && s->small_batch > 0)
            CLNET_TRY(upload_winograd(net, s, 2, &s->weight_small));
        /* A batchnorm run as a convolution's prologue. */
        if (s->kind == CLNET_STEP_CONV2D && s->pre_bn >= 0)
            CLNET_TRY(upload_scale_shift(net, s->pre_bn, &s->pre_scale, &s->pre_shift));
    }
    return CLNET_STATUS_OK;
}
