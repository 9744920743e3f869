/* Compiled networks: creation, running a batch, and what the plan reports. */
#include "net.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *clnet_conv_algo_name(clnet_conv_algo algo) {
    switch (algo) {
    case CLNET_CONV_AUTO: return "auto";
    case CLNET_CONV_DIRECT: return "direct";
    case CLNET_CONV_IM2COL_GEMM: return "im2col_gemm";
    case CLNET_CONV_GEMM_1X1: return "gemm1x1";
    case CLNET_CONV_WINOGRAD_2X2: return "winograd2x2";
    case CLNET_CONV_WINOGRAD_4X4: return "winograd4x4";
    }
    return "unknown";
}

const char *clnet_gemm_backend_name(clnet_gemm_backend backend) {
    switch (backend) {
    case CLNET_GEMM_AUTO: return "auto";
    case CLNET_GEMM_CLNET: return "clnet";
    case CLNET_GEMM_CLBLAST: return "clblast";
    }
    return "unknown";
}

clnet_net_options clnet_net_options_default(void) {
    clnet_net_options o;
    memset(&o, 0, sizeof o);
    o.fold_batchnorm = 1;
    o.fuse_activations = 1;
    o.reuse_memory = 1;
    o.concat_in_place = 1;
    o.fuse_into_conv = 1;
    o.conv_algo = CLNET_CONV_AUTO;
    o.gemm_backend = CLNET_GEMM_AUTO;
    return o;
}

void clnet_net_destroy(clnet_net *net) {
    if (!net)
        return;
    for (int i = 0; i < net->n_steps; i++) {
        clnet_step *s = &net->steps[i];
        clnet_buffer_release(s->weight);
        clnet_buffer_release(s->bias);
        clnet_buffer_release(s->weight_small);
        clnet_buffer_release(s->pre_scale);
        clnet_buffer_release(s->pre_shift);
        clnet_events_free(&s->events);
        free(s->label);
    }
    free(net->steps);
    free(net->placement);
    free(net->regions);
    clnet_buffer_release(net->arena);
    clnet_buffer_release(net->scratch);
    free(net);
}

static clnet_status check_graph(const clnet_graph *g) {
    for (int i = 0; i < g->n_nodes; i++) {
        const clnet_node *node = &g->nodes[i];
        if (node->layer && (node->op == CLNET_OP_CONV2D || node->op == CLNET_OP_DENSE ||
                            node->op == CLNET_OP_BATCHNORM ||
                            node->op == CLNET_OP_CHANNEL_AFFINE) &&
            !node->layer->built)
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "layer '%s' has no weights",
                              node->layer->name);
    }
    return CLNET_STATUS_OK;
}

clnet_status clnet_net_create(clnet_context *ctx, const clnet_graph *g,
                              const clnet_net_options *options, clnet_net **out) {
    if (!ctx || !g || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_net_create: NULL argument");
    *out = NULL;
    CLNET_TRY(check_graph(g));
    if (options && options->batch_chunk < 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_net_create: batch_chunk %d must be 0 (the device's choice) or "
                          "positive",
                          options->batch_chunk);
    clnet_net *net = calloc(1, sizeof *net);
    if (!net)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory creating a net");
    net->ctx = ctx;
    net->graph = g;
    net->options = options ? *options : clnet_net_options_default();

    clnet_status s = clnet_net_plan(net);
    if (s == CLNET_STATUS_OK)
        s = clnet_net_upload_weights(net);
    if (s != CLNET_STATUS_OK) {
        clnet_net_destroy(net);
        return s;
    }
    *out = net;
    return CLNET_STATUS_OK;
}

clnet_status clnet_net_update_weights(clnet_net *net) {
    if (!net)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_net_update_weights: NULL net");
    return clnet_net_upload_weights(net);
}

static size_t scratch_floats(const clnet_net *net, int batch);

/* On CPUs a batch larger than this many images runs in passes of at most
 * this many, each within CPU_PASS_BYTES of activations, so that a pass's
 * tensors stay in the caches from one step to the next while the weights
 * are still read once for many images. Measured on PoCL (2 Zen 4 cores,
 * 1 MiB L2 each, 32 MiB L3) at batch 256, medians of 4 interleaved rounds:
 * passes of 32 images ran ResNet-20 1.15x, ResNet-56 v2 1.07x and
 * DenseNet-100 1.03x as fast as the whole batch; passes of 16 about the
 * same, of 64 no faster than the whole batch. */
#define CPU_PASS_MAX_IMAGES 32
#define CPU_PASS_BYTES      (32u << 20)

static size_t scratch_floats(const clnet_net *net, int batch);

/* Images per pass when the options leave it to the device: on CPUs as
 * above; elsewhere the whole batch, whose work fills a GPU's work-groups.
 * In both cases no more images than keep the activations and the scratch
 * space within one device buffer and within the 2^31 floats that the
 * kernels' int indexing reaches (at least one: reserve() refuses an image
 * that does not fit alone). */
static int default_pass(const clnet_net *net, int batch) {
    double limit = (double)INT_MAX - 1;
    double alloc = (double)net->ctx->info.max_alloc_bytes / sizeof(float);
    if (alloc > 0 && alloc < limit)
        limit = alloc;
    double per_image = (double)net->arena_floats_per_image;
    /* Scratch space grows at most linearly with the batch. */
    double scratch = (double)scratch_floats(net, 1);
    double most = per_image > scratch ? per_image : scratch;
    int pass = batch;
    if (most > 0 && most * batch > limit)
        pass = limit / most >= 1 ? (int)(limit / most) : 1;
    if (net->ctx->info.type == CLNET_DEVICE_TYPE_CPU && per_image > 0) {
        double fit = (double)CPU_PASS_BYTES / (per_image * sizeof(float));
        int cpu = fit >= CPU_PASS_MAX_IMAGES ? CPU_PASS_MAX_IMAGES : fit >= 1 ? (int)fit : 1;
        if (cpu < pass)
            pass = cpu;
    }
    return pass;
}

int clnet_net_pass_images(const clnet_net *net, int batch) {
    if (!net || batch <= 0)
        return 0;
    int pass = net->options.batch_chunk > 0 ? net->options.batch_chunk : default_pass(net, batch);
    return pass < batch ? pass : batch;
}

/* The device view of tensor t for a batch. */
static clnet_dview view_of(const clnet_net *net, int t, int batch) {
    const clnet_placement *p = &net->placement[t];
    const clnet_region *r = &net->regions[p->region];
    clnet_dview v;
    v.buf = net->arena;
    v.offset = (int)(r->offset * (size_t)batch + p->offset);
    v.batch_stride = (int)r->size;
    return v;
}

static size_t scratch_floats(const clnet_net *net, int batch) {
    size_t most = 0;
    for (int i = 0; i < net->n_steps; i++) {
        const clnet_step *s = &net->steps[i];
        if (s->kind != CLNET_STEP_CONV2D)
            continue;
        const clnet_conv_geometry *c = &s->geom.conv;
        size_t n = 0;
        if (batch <= s->small_batch)
            n = clnet_conv2d_winograd_scratch(net->ctx, c, 2, batch);
        else if (s->algo == CLNET_CONV_IM2COL_GEMM)
            n = clnet_conv2d_im2col_scratch(c, batch);
        else if (s->algo == CLNET_CONV_WINOGRAD_2X2 || s->algo == CLNET_CONV_WINOGRAD_4X4)
            n = clnet_conv2d_winograd_scratch(net->ctx, c,
                                              s->algo == CLNET_CONV_WINOGRAD_2X2 ? 2 : 4, batch);
        if (n > most)
            most = n;
    }
    return most;
}

/* Sizes the arena and the scratch buffer for a batch, growing only. */
static clnet_status reserve(clnet_net *net, int batch) {
    if ((double)net->arena_floats_per_image * batch >= (double)INT_MAX)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "a pass of %d images needs %zu activation floats per image, over "
                          "the 2^31 elements that the kernels' 32-bit indexing reaches (a "
                          "smaller batch_chunk would fit)",
                          batch, net->arena_floats_per_image);
    if (net->arena_batch < batch) {
        clnet_buffer_release(net->arena);
        net->arena = NULL;
        net->arena_batch = 0;
        CLNET_TRY(clnet_buffer_create(net->ctx, net->arena_floats_per_image * batch * sizeof(float),
                                      "activations", &net->arena));
        net->arena_batch = batch;
    }
    size_t need = scratch_floats(net, batch);
    if (need > net->scratch_floats) {
        if ((double)need >= (double)INT_MAX)
            return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                              "a pass of %d images needs %zu floats of convolution scratch "
                              "space (im2col, Winograd), over 2^31",
                              batch, need);
        clnet_buffer_release(net->scratch);
        net->scratch = NULL;
        net->scratch_floats = 0;
        CLNET_TRY(clnet_buffer_create(net->ctx, need * sizeof(float), "convolution scratch",
                                      &net->scratch));
        net->scratch_floats = need;
    }
    return CLNET_STATUS_OK;
}

/* Queues the move of batch images of tensor t between the host and the
 * arena (the run waits for the queue at its end, so the host does not wait
 * between commands); a slice of a concatenation is strided, so it moves
 * image by image. */
static clnet_status transfer(clnet_net *net, int t, int batch, float *host, int to_device) {
    clnet_dview v = view_of(net, t, batch);
    size_t size = clnet_shape_size(net->graph->nodes[t].shape);
    size_t bytes = size * sizeof(float);
    if ((size_t)v.batch_stride == size) {
        size_t offset = (size_t)v.offset * sizeof(float);
        return to_device ? clnet_buffer_write_queued(net->ctx, v.buf, offset, bytes * batch, host)
                         : clnet_buffer_read_queued(net->ctx, v.buf, offset, bytes * batch, host);
    }
    for (int n = 0; n < batch; n++) {
        size_t offset = ((size_t)v.offset + (size_t)n * v.batch_stride) * sizeof(float);
        float *image = host + (size_t)n * size;
        CLNET_TRY(to_device ? clnet_buffer_write_queued(net->ctx, v.buf, offset, bytes, image)
                            : clnet_buffer_read_queued(net->ctx, v.buf, offset, bytes, image));
    }
    return CLNET_STATUS_OK;
}

static clnet_status run_step(clnet_net *net, clnet_step *s, int batch) {
    const clnet_graph *g = net->graph;
    const clnet_node *node = &g->nodes[s->node];
    clnet_context *ctx = net->ctx;
    clnet_events *ev = ctx->profiling ? &s->events : NULL;
    clnet_dview in = view_of(net, s->in[0], batch);
    clnet_dview out = view_of(net, s->out, batch);
    clnet_shape in_shape = s->in_shape;
    int hw = in_shape.h * in_shape.w;

    switch (s->kind) {
    case CLNET_STEP_CONV2D: {
        const clnet_conv_geometry *c = &s->geom.conv;
        clnet_conv_fusion fusion = {.pre_scale = s->pre_scale,
                                    .pre_shift = s->pre_shift,
                                    .pre_relu = s->pre_relu};
        if (s->n_in == 2)
            fusion.residual = view_of(net, s->in[1], batch);
        if (s->algo == CLNET_CONV_DIRECT && (s->pre_bn >= 0 || s->n_in == 2))
            return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                              "the direct convolution kernel cannot run a fused prologue or "
                              "residual");
        if (s->algo == CLNET_CONV_DIRECT)
            return clnet_conv2d_direct(ctx, c, batch, in, out, s->weight, s->bias, s->relu, ev);
        if (s->algo == CLNET_CONV_GEMM_1X1)
            return clnet_conv2d_gemm1x1(ctx, c, batch, in, out, s->weight, s->bias, s->relu,
                                        s->backend, &fusion, ev);
        if (batch <= s->small_batch)
            return clnet_conv2d_winograd(ctx, c, 2, batch, in, out, s->weight_small, s->bias,
                                         s->relu, s->backend, net->scratch, &fusion, ev);
        if (s->algo == CLNET_CONV_WINOGRAD_2X2 || s->algo == CLNET_CONV_WINOGRAD_4X4)
            /* s->weight holds the filters in the Winograd domain (net_weights.c). */
            return clnet_conv2d_winograd(ctx, c, s->algo == CLNET_CONV_WINOGRAD_2X2 ? 2 : 4,
                                         batch, in, out, s->weight, s->bias, s->relu,
                                         s->backend, net->scratch, &fusion, ev);
        return clnet_conv2d_im2col_gemm(ctx, c, batch, in, out, s->weight, s->bias, s->relu,
                                        s->backend, net->scratch, &fusion, ev);
    }
    case CLNET_STEP_BATCHNORM:
        return clnet_batchnorm(ctx, in_shape.c, hw, batch, in, out, s->weight, s->bias, s->relu,
                               ev);
    case CLNET_STEP_RELU:
        return clnet_relu(ctx, in_shape.c, hw, batch, in, out, ev);
    case CLNET_STEP_BINARY:
        return clnet_binary(ctx, s->binary_op, (int)clnet_shape_size(in_shape), batch, in,
                            view_of(net, s->in[1], batch), out, s->relu, ev);
    case CLNET_STEP_CLIP:
        return clnet_clip(ctx, (int)clnet_shape_size(in_shape), batch, in, out,
                          node->layer->u.clip.lo, node->layer->u.clip.hi, ev);
    case CLNET_STEP_SIGMOID:
        return clnet_sigmoid(ctx, (int)clnet_shape_size(in_shape), batch, in, out, ev);
    case CLNET_STEP_WINDOW: {
        clnet_window_copy w;
        clnet_node_window(g, s->node, &w);
        return clnet_window(ctx, &w, batch, in, out, ev);
    }
    case CLNET_STEP_COPY:
        out.offset += s->out_channel_offset * node->shape.h * node->shape.w;
        return clnet_copy(ctx, (int)clnet_shape_size(in_shape), batch, in, out, ev);
    case CLNET_STEP_POOL:
        return clnet_pool2d(ctx, node->op, &s->geom.pool, batch, in, out, ev);
    case CLNET_STEP_GLOBAL_AVGPOOL:
        return clnet_global_avgpool(ctx, in_shape.c, hw, batch, in, out, ev);
    case CLNET_STEP_DENSE:
        return clnet_dense(ctx, in_shape.c, node->shape.c, batch, in, out, s->weight, s->bias,
                           s->relu, s->backend, ev);
    case CLNET_STEP_SOFTMAX:
        return clnet_softmax(ctx, in_shape.c, hw, batch, in, out, ev);
    }
    return clnet_fail(CLNET_STATUS_UNSUPPORTED, "step '%s' has unknown kind %d", s->label,
                      (int)s->kind);
}

static clnet_status run_passes(clnet_net *net, int batch, int pass, const float *const *inputs,
                               float *const *outputs);

clnet_status clnet_net_run(clnet_net *net, int batch, const float *const *inputs,
                           float *const *outputs) {
    if (!net || !inputs || !outputs)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_net_run: NULL argument");
    if (batch <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_net_run: batch %d must be positive",
                          batch);
    const clnet_graph *g = net->graph;
    for (int i = 0; i < g->n_inputs; i++)
        if (!inputs[i])
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_net_run: input %d is NULL", i);
    for (int i = 0; i < g->n_outputs; i++)
        if (!outputs[i])
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_net_run: output %d is NULL",
                              i);

    const int pass = clnet_net_pass_images(net, batch);
    CLNET_TRY(reserve(net, pass));
    for (int i = 0; i < net->n_steps; i++)
        clnet_events_clear(&net->steps[i].events);
    clnet_status st = run_passes(net, batch, pass, inputs, outputs);
    if (st != CLNET_STATUS_OK) {
        /* Queued transfers may still use the caller's arrays: let them end
         * before returning, keeping the message of the failure. */
        clFinish(net->ctx->queue);
        return st;
    }
    CLNET_TRY(clnet_context_finish(net->ctx));
    if (net->ctx->profiling)
        for (int i = 0; i < net->n_steps; i++)
            net->steps[i].last_ms = clnet_events_ms(&net->steps[i].events);
    return CLNET_STATUS_OK;
}

/* Queues every pass of a batch: uploads, steps and read-backs. */
static clnet_status run_passes(clnet_net *net, int batch, int pass, const float *const *inputs,
                               float *const *outputs) {
    const clnet_graph *g = net->graph;
    /* Pass after pass over the same arena: the in-order queue lets a
     * pass's uploads start only once the previous pass's steps are done. */
    for (int n0 = 0; n0 < batch; n0 += pass) {
        const int images = batch - n0 < pass ? batch - n0 : pass;
        if (net->options.poison_activations)
            CLNET_TRY(clnet_buffer_fill(net->ctx, net->arena, 0,
                                        net->arena_floats_per_image * images * sizeof(float),
                                        NAN));
        for (int i = 0; i < g->n_inputs; i++) {
            size_t size = clnet_shape_size(g->nodes[g->inputs[i]].shape);
            CLNET_TRY(transfer(net, g->inputs[i], images,
                               (float *)inputs[i] + (size_t)n0 * size, 1));
        }
        for (int i = 0; i < net->n_steps; i++) {
            clnet_step *s = &net->steps[i];
            clnet_status st = run_step(net, s, images);
            if (st != CLNET_STATUS_OK) {
                if (pass < batch)
                    return clnet_fail_context(st, "images %d to %d, step %d (%s, %s): ", n0,
                                              n0 + images - 1, i, s->label, s->kernel_name);
                return clnet_fail_context(st, "step %d (%s, %s): ", i, s->label,
                                          s->kernel_name);
            }
        }
        for (int i = 0; i < g->n_outputs; i++) {
            size_t size = clnet_shape_size(g->nodes[g->outputs[i]].shape);
            CLNET_TRY(transfer(net, g->outputs[i], images, outputs[i] + (size_t)n0 * size, 0));
        }
    }
    return CLNET_STATUS_OK;
}

clnet_status clnet_net_memory(const clnet_net *net, int batch, clnet_memory_report *out) {
    if (!net || !out || batch <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_net_memory: NULL argument or batch %d not positive", batch);
    batch = clnet_net_pass_images(net, batch);
    out->activation_bytes = (uint64_t)net->arena_floats_per_image * batch * sizeof(float);
    out->activation_bytes_without_reuse =
        (uint64_t)net->plain_floats_per_image * batch * sizeof(float);
    out->weight_bytes = net->weight_bytes;
    out->scratch_bytes = (uint64_t)scratch_floats(net, batch) * sizeof(float);
    return CLNET_STATUS_OK;
}

int clnet_net_step_count(const clnet_net *net) {
    return net ? net->n_steps : 0;
}

clnet_status clnet_net_step_info(const clnet_net *net, int index, clnet_step_info *out) {
    if (!net || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_net_step_info: NULL argument");
    if (index < 0 || index >= net->n_steps)
        return clnet_fail(CLNET_STATUS_NOT_FOUND, "the net has %d steps; no step %d",
                          net->n_steps, index);
    const clnet_step *s = &net->steps[index];
    out->label = s->label;
    out->kernel = s->kernel_name;
    out->node = s->out;
    out->macs_per_image = s->macs_per_image;
    out->last_ms = s->last_ms;
    return CLNET_STATUS_OK;
}
