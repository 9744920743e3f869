/* The tuner (tuning.h): measures every convolution algorithm on the
 * convolutions of a graph and enters the fastest per shape into the
 * context's tuning table. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "tuning.h"

#include "graph.h"
#include "kernels.h"
#include "log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Graph nodes one step can run: prologue batchnorm and ReLU, the
 * convolution, a folded batchnorm, ReLU, residual add, ReLU, with room. */
#define MAX_CHAIN 16
/* Label matching tries the inputs of multi-input nodes; this caps the work
 * spent on a pathological label. */
#define MATCH_BUDGET 4096

/* Attribution rule. A net is built per candidate algorithm A with
 * conv_algo = A; every convolution A can run runs A, the others fall back
 * to AUTO's choice. Each step's label names the graph nodes it runs,
 * joined by '+', in the order of the data flow, and its node id is the
 * node whose tensor it writes; walking from that node up its inputs while
 * matching names from the end of the label recovers the step's nodes
 * without trusting a name not to contain '+' (clnet_tuning_step_nodes).
 * Which nodes an algorithm fuses into a convolution's step (a batchnorm
 * and ReLU before it, a residual add and ReLU after it, an average pooling
 * moved ahead of it) depends on the algorithm, so the cost of convolution
 * c under A is
 *   the device time of the steps of net A that run c
 * + the device time of the steps of net A that run no convolution but run
 *   a node that some candidate net runs inside c's step,
 * summed per run and taken as the median over the runs. Each such node
 * belongs to the first convolution (in candidate order) found running it.
 * Limitation: when different algorithms fuse one node into different
 * convolutions (an add between two convolutions), its time counts where
 * it runs, which can favour the algorithm that moves it elsewhere; the
 * built-in networks do not do this. Layers of one shape share an entry:
 * the algorithm with the smallest summed cost over them is chosen. */

typedef struct step_record {
    int conv;      /* the convolution node the step runs, or -1 */
    int runs_algo; /* for a convolution step: whether it runs the candidate algorithm */
    int n_nodes;   /* 0 when the label could not be matched */
    int nodes[MAX_CHAIN];
    char label[96]; /* for messages; long labels are cut */
} step_record;

typedef struct candidate {
    clnet_conv_algo algo;
    int measured;
    int n_steps;
    step_record *steps;
    double *ms; /* [repeat][step] device milliseconds */
} candidate;

static const char *node_label_name(const clnet_graph *g, int node) {
    const clnet_node *n = &g->nodes[node];
    const char *name = n->layer ? n->layer->name : n->input_name;
    return name ? name : "";
}

/* Matches label[0, length) as the names of a chain of nodes ending at node
 * n; the chain is stored from its end, at chain[depth] on. Returns the
 * chain's length, or 0 when the label does not match. */
static int match_chain(const clnet_graph *g, const char *label, size_t length, int n, int *chain,
                       int depth, int *budget) {
    if (depth >= MAX_CHAIN || --*budget < 0)
        return 0;
    const char *name = node_label_name(g, n);
    size_t k = strlen(name);
    if (k == 0 || k > length || memcmp(label + length - k, name, k) != 0)
        return 0;
    chain[depth] = n;
    if (k == length)
        return depth + 1;
    if (label[length - k - 1] != '+')
        return 0;
    const clnet_node *node = &g->nodes[n];
    for (int i = 0; i < node->n_inputs; i++) {
        int got = match_chain(g, label, length - k - 1, node->inputs[i], chain, depth + 1, budget);
        if (got)
            return got;
    }
    return 0;
}

/* Whether a convolution step's kernel name ("bn+relu>conv2d_winograd4x4
 * (clnet)+add", "conv2d_direct+relu") names algorithm a. A name of another
 * form is trusted to run the forced algorithm. */
static int kernel_runs(const char *kernel, clnet_conv_algo a) {
    const char *p = strstr(kernel, "conv2d_");
    if (!p)
        return 1;
    p += strlen("conv2d_");
    const char *name = clnet_conv_algo_name(a);
    size_t n = strlen(name);
    return strncmp(p, name, n) == 0 && (p[n] == '(' || p[n] == '+' || p[n] == '\0');
}

int clnet_tuning_step_nodes(const clnet_graph *g, const char *label, int node, int *nodes,
                            int capacity) {
    if (!g || !label || !nodes || node < 0 || node >= g->n_nodes)
        return 0;
    int chain[MAX_CHAIN], budget = MATCH_BUDGET;
    size_t length = strlen(label);
    int n = match_chain(g, label, length, node, chain, 0, &budget);
    /* A step may write a tensor other than its last node's: the links of
     * an n-ary sum before the last carry the sum's name but write the ReLU
     * fused after it, and an average pooling moved before a pointwise
     * convolution writes the convolution's tensor. Try the node's inputs,
     * then its readers. */
    for (int i = 0; !n && i < g->nodes[node].n_inputs; i++) {
        budget = MATCH_BUDGET;
        n = match_chain(g, label, length, g->nodes[node].inputs[i], chain, 0, &budget);
    }
    for (int k = node + 1; !n && k < g->n_nodes; k++) {
        for (int i = 0; !n && i < g->nodes[k].n_inputs; i++) {
            if (g->nodes[k].inputs[i] != node)
                continue;
            budget = MATCH_BUDGET;
            n = match_chain(g, label, length, k, chain, 0, &budget);
        }
    }
    if (n > capacity)
        return 0;
    for (int i = 0; i < n; i++)
        nodes[i] = chain[n - 1 - i];
    return n;
}

/* The nodes a step runs, from its label and node id (see the rule above). */
static void record_step(const clnet_graph *g, const clnet_step_info *si, clnet_conv_algo algo,
                        step_record *r) {
    memset(r, 0, sizeof *r);
    r->conv = -1;
    if (!si->label)
        return;
    snprintf(r->label, sizeof r->label, "%s", si->label);
    r->n_nodes = clnet_tuning_step_nodes(g, si->label, si->node, r->nodes, MAX_CHAIN);
    for (int i = 0; i < r->n_nodes; i++)
        if (g->nodes[r->nodes[i]].op == CLNET_OP_CONV2D && r->conv < 0)
            r->conv = r->nodes[i];
    r->runs_algo = r->conv >= 0 && si->kernel && kernel_runs(si->kernel, algo);
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double clnet_tune_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void clnet_tune_fill_uniform(float *v, size_t n, float lo, float hi, uint64_t *state) {
    for (size_t k = 0; k < n; k++) {
        /* splitmix64 */
        uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        v[k] = (float)(lo + (double)(hi - lo) * ((double)(z >> 11) * 0x1.0p-53));
    }
}

/* Makes ctx's queue a profiling one for the tuner's runs; *saved receives
 * the queue to put back (NULL when ctx already profiles). */
static clnet_status profiling_begin(clnet_context *ctx, cl_command_queue *saved) {
    *saved = NULL;
    if (ctx->profiling)
        return CLNET_STATUS_OK;
    CLNET_TRY(clnet_context_finish(ctx));
    cl_int err;
    cl_command_queue queue =
        clCreateCommandQueue(ctx->cl, ctx->device, CL_QUEUE_PROFILING_ENABLE, &err);
    if (!queue || err != CL_SUCCESS)
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR,
                          "tuning: creating a profiling command queue on %s failed: %s",
                          ctx->info.name, clnet_cl_error_name(err));
    *saved = ctx->queue;
    ctx->queue = queue;
    ctx->profiling = 1;
    return CLNET_STATUS_OK;
}

static void profiling_end(clnet_context *ctx, cl_command_queue saved) {
    if (!saved)
        return;
    clFinish(ctx->queue);
    clReleaseCommandQueue(ctx->queue);
    ctx->queue = saved;
    ctx->profiling = 0;
}

/* Host buffers of random inputs and of outputs for one batch of g. */
typedef struct io_buffers {
    int n_in, n_out;
    float **in, **out;
} io_buffers;

static void io_free(io_buffers *io) {
    for (int i = 0; io->in && i < io->n_in; i++)
        free(io->in[i]);
    for (int i = 0; io->out && i < io->n_out; i++)
        free(io->out[i]);
    free(io->in);
    free(io->out);
    memset(io, 0, sizeof *io);
}

static clnet_status io_init(io_buffers *io, const clnet_graph *g, int batch) {
    memset(io, 0, sizeof *io);
    io->n_in = g->n_inputs;
    io->n_out = g->n_outputs;
    io->in = calloc((size_t)io->n_in + 1, sizeof *io->in);
    io->out = calloc((size_t)io->n_out + 1, sizeof *io->out);
    int ok = io->in && io->out;
    uint64_t state = 0x5eed5eedull;
    for (int i = 0; ok && i < io->n_in; i++) {
        size_t n = clnet_shape_size(g->nodes[g->inputs[i]].shape) * (size_t)batch;
        ok = (io->in[i] = malloc(n * sizeof(float))) != NULL;
        if (ok)
            clnet_tune_fill_uniform(io->in[i], n, -1.0f, 1.0f, &state);
    }
    for (int i = 0; ok && i < io->n_out; i++) {
        size_t n = clnet_shape_size(g->nodes[g->outputs[i]].shape) * (size_t)batch;
        ok = (io->out[i] = malloc(n * sizeof(float))) != NULL;
    }
    if (!ok) {
        io_free(io);
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                          "tuning: out of host memory for the inputs of a batch of %d", batch);
    }
    return CLNET_STATUS_OK;
}

/* Builds the net forcing c->algo, runs it once to warm up and `repeats`
 * times profiled, and records its steps and their times. */
static clnet_status measure_candidate(clnet_context *ctx, const clnet_graph *g, int batch,
                                      int repeats, io_buffers *io, candidate *c) {
    clnet_net_options options = clnet_net_options_default();
    options.conv_algo = c->algo;
    clnet_net *net = NULL;
    CLNET_TRY(clnet_net_create(ctx, g, &options, &net));
    clnet_status s = CLNET_STATUS_OK;
    c->n_steps = clnet_net_step_count(net);
    c->steps = calloc((size_t)c->n_steps + 1, sizeof *c->steps);
    c->ms = calloc((size_t)c->n_steps * (size_t)repeats + 1, sizeof *c->ms);
    if (!c->steps || !c->ms)
        s = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "tuning: out of host memory recording steps");
    for (int i = 0; s == CLNET_STATUS_OK && i < c->n_steps; i++) {
        clnet_step_info si;
        s = clnet_net_step_info(net, i, &si);
        if (s == CLNET_STATUS_OK)
            record_step(g, &si, c->algo, &c->steps[i]);
    }

    const float *const *in = (const float *const *)io->in;
    if (s == CLNET_STATUS_OK) /* the first run includes kernel builds */
        s = clnet_net_run(net, batch, in, io->out);
    for (int r = 0; s == CLNET_STATUS_OK && r < repeats; r++) {
        s = clnet_net_run(net, batch, in, io->out);
        for (int i = 0; s == CLNET_STATUS_OK && i < c->n_steps; i++) {
            clnet_step_info si;
            s = clnet_net_step_info(net, i, &si);
            if (s == CLNET_STATUS_OK && si.last_ms < 0)
                s = clnet_fail(CLNET_STATUS_DEVICE_ERROR,
                               "tuning: step %d (%s) of the net has no device time", i, si.label);
            if (s == CLNET_STATUS_OK)
                c->ms[(size_t)r * c->n_steps + i] = si.last_ms;
        }
    }
    clnet_net_destroy(net);
    if (s == CLNET_STATUS_OK)
        c->measured = 1;
    return s;
}

void clnet_tune_report_free(clnet_tune_report *report) {
    if (!report)
        return;
    free(report->layers);
    free(report->gemms);
    memset(report, 0, sizeof *report);
}

/* Everything the tuner works with; freed by tune_free. */
typedef struct tune_state {
    int n_convs;
    int *convs;          /* conv node per layer index */
    int *layer_of;       /* per node: layer index, or -1 */
    int *owner;          /* per node: the convolution it is fused into somewhere, or -1 */
    int *first_of_shape; /* per layer: the first layer of the same geometry */
    candidate cands[CLNET_CONV_ALGO_COUNT];
    double *cost;     /* [layer][algo] median ms, -1 when unknown */
    double *sums;     /* [layer][repeat] scratch */
    int *found, *bad; /* per layer scratch */
    io_buffers io;
} tune_state;

static void tune_free(tune_state *t) {
    free(t->convs);
    free(t->layer_of);
    free(t->owner);
    free(t->first_of_shape);
    for (int a = 0; a < CLNET_CONV_ALGO_COUNT; a++) {
        free(t->cands[a].steps);
        free(t->cands[a].ms);
    }
    free(t->cost);
    free(t->sums);
    free(t->found);
    free(t->bad);
    io_free(&t->io);
}

static clnet_status tune_init(tune_state *t, const clnet_graph *g, int repeats) {
    memset(t, 0, sizeof *t);
    size_t n = (size_t)g->n_nodes;
    t->layer_of = malloc((n + 1) * sizeof *t->layer_of);
    t->owner = malloc((n + 1) * sizeof *t->owner);
    t->convs = malloc((n + 1) * sizeof *t->convs);
    if (!t->layer_of || !t->owner || !t->convs)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "tuning: out of host memory");
    for (int i = 0; i < g->n_nodes; i++) {
        t->owner[i] = -1;
        t->layer_of[i] = -1;
        if (g->nodes[i].op == CLNET_OP_CONV2D) {
            t->layer_of[i] = t->n_convs;
            t->convs[t->n_convs++] = i;
        }
    }
    size_t layers = (size_t)t->n_convs + 1;
    t->first_of_shape = malloc(layers * sizeof *t->first_of_shape);
    t->cost = malloc(layers * CLNET_CONV_ALGO_COUNT * sizeof *t->cost);
    t->sums = malloc(layers * (size_t)repeats * sizeof *t->sums);
    t->found = malloc(layers * sizeof *t->found);
    t->bad = malloc(layers * sizeof *t->bad);
    if (!t->first_of_shape || !t->cost || !t->sums || !t->found || !t->bad)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "tuning: out of host memory");
    for (int l = 0; l < t->n_convs; l++) {
        t->first_of_shape[l] = l;
        const clnet_conv_geometry *geom = &g->nodes[t->convs[l]].geom.conv;
        for (int k = 0; k < l; k++) {
            if (clnet_tuning_same_geometry(&g->nodes[t->convs[k]].geom.conv, geom)) {
                t->first_of_shape[l] = k;
                break;
            }
        }
        for (int a = 0; a < CLNET_CONV_ALGO_COUNT; a++)
            t->cost[(size_t)l * CLNET_CONV_ALGO_COUNT + a] = -1;
    }
    return CLNET_STATUS_OK;
}

/* Per layer, the median cost of candidate c (the rule above). */
static void attribute(tune_state *t, const clnet_graph *g, const candidate *c, int repeats) {
    memset(t->sums, 0, (size_t)t->n_convs * (size_t)repeats * sizeof *t->sums);
    memset(t->found, 0, (size_t)t->n_convs * sizeof *t->found);
    memset(t->bad, 0, (size_t)t->n_convs * sizeof *t->bad);
    for (int s = 0; s < c->n_steps; s++) {
        const step_record *r = &c->steps[s];
        int target = r->conv;
        if (target >= 0) {
            t->found[t->layer_of[target]] = 1;
            if (!r->runs_algo)
                t->bad[t->layer_of[target]] = 1;
        }
        for (int k = 0; target < 0 && k < r->n_nodes; k++)
            target = t->owner[r->nodes[k]];
        if (clnet_log_enabled(CLNET_LOG_DEBUG) && r->conv < 0 && target >= 0)
            clnet_log(CLNET_LOG_DEBUG, "tuning", "%s: step %d (%s) counts for %s",
                      clnet_conv_algo_name(c->algo), s, r->label, node_label_name(g, target));
        if (clnet_log_enabled(CLNET_LOG_DEBUG) && r->n_nodes == 0)
            clnet_log(CLNET_LOG_DEBUG, "tuning", "%s: step %d (%s): no nodes matched its label",
                      clnet_conv_algo_name(c->algo), s, r->label);
        if (target < 0)
            continue;
        int l = t->layer_of[target];
        for (int rep = 0; rep < repeats; rep++)
            t->sums[(size_t)l * repeats + rep] += c->ms[(size_t)rep * c->n_steps + s];
    }
    for (int l = 0; l < t->n_convs; l++) {
        const clnet_conv_geometry *geom = &g->nodes[t->convs[l]].geom.conv;
        if (!clnet_conv_algo_applies(c->algo, geom) || !t->found[l] || t->bad[l])
            continue;
        t->cost[(size_t)l * CLNET_CONV_ALGO_COUNT + c->algo] =
            clnet_tune_median(&t->sums[(size_t)l * repeats], repeats);
    }
}

/* The algorithm of smallest non-negative ms[], or AUTO when none has one. */
static clnet_conv_algo fastest_of(const double *ms) {
    clnet_conv_algo best = CLNET_CONV_AUTO;
    for (int a = CLNET_CONV_DIRECT; a < CLNET_CONV_ALGO_COUNT; a++)
        if (ms[a] >= 0 && (best == CLNET_CONV_AUTO || ms[a] < ms[best]))
            best = (clnet_conv_algo)a;
    return best;
}

/* Chooses per shape and enters the choices into ctx's table; fills the
 * report's layers when report is not NULL. */
static clnet_status choose(clnet_context *ctx, const clnet_graph *g, tune_state *t, int batch,
                           clnet_tune_report *report) {
    if (report && t->n_convs > 0 &&
        !(report->layers = calloc((size_t)t->n_convs, sizeof *report->layers)))
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "tuning: out of host memory");

    clnet_conv_algo *chosen = calloc((size_t)t->n_convs + 1, sizeof *chosen);
    if (!chosen)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "tuning: out of host memory");
    int shapes = 0;
    for (int l = 0; l < t->n_convs; l++) {
        if (t->first_of_shape[l] != l) {
            chosen[l] = chosen[t->first_of_shape[l]];
            continue;
        }
        /* Sum over the layers of this shape; an algorithm counts only when
         * every one of them was measured with it. */
        double ms[CLNET_CONV_ALGO_COUNT];
        int members = 0;
        for (int a = 0; a < CLNET_CONV_ALGO_COUNT; a++)
            ms[a] = a == CLNET_CONV_AUTO ? -1 : 0;
        for (int k = l; k < t->n_convs; k++) {
            if (t->first_of_shape[k] != l)
                continue;
            members++;
            for (int a = CLNET_CONV_DIRECT; a < CLNET_CONV_ALGO_COUNT; a++) {
                double cost = t->cost[(size_t)k * CLNET_CONV_ALGO_COUNT + a];
                ms[a] = ms[a] < 0 || cost < 0 ? -1 : ms[a] + cost;
            }
        }
        for (int a = CLNET_CONV_DIRECT; a < CLNET_CONV_ALGO_COUNT; a++)
            if (ms[a] >= 0)
                ms[a] /= members; /* the file keeps the cost per layer */
        chosen[l] = fastest_of(ms);
        if (chosen[l] == CLNET_CONV_AUTO)
            continue;
        clnet_status s =
            clnet_tuning_put(ctx, &g->nodes[t->convs[l]].geom.conv, chosen[l], batch, ms);
        if (s != CLNET_STATUS_OK) {
            free(chosen);
            return s;
        }
        shapes++;
    }

    if (report) {
        for (int l = 0; l < t->n_convs; l++) {
            clnet_tune_layer *layer = &report->layers[l];
            const clnet_node *node = &g->nodes[t->convs[l]];
            layer->node = t->convs[l];
            layer->name = node->layer->name;
            layer->shape = clnet_tuning_shape_of(&node->geom.conv);
            memcpy(layer->ms, &t->cost[(size_t)l * CLNET_CONV_ALGO_COUNT], sizeof layer->ms);
            layer->fastest = fastest_of(layer->ms);
            layer->chosen = chosen[l];
        }
        report->n_layers = t->n_convs;
        report->n_shapes = shapes;
    }
    free(chosen);
    return CLNET_STATUS_OK;
}

clnet_status clnet_tune_graph(clnet_context *ctx, const clnet_graph *g, int batch, int repeats,
                              clnet_tune_report *report) {
    if (report)
        memset(report, 0, sizeof *report);
    if (!ctx || !g)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_tune_graph: ctx and g must not be NULL");
    if (batch < 1 || repeats < 1)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_tune_graph: batch (%d) and repeats (%d) must be at least 1", batch,
                          repeats);
    double start = now_seconds();
    tune_state t;
    clnet_status s = tune_init(&t, g, repeats);
    if (s == CLNET_STATUS_OK && t.n_convs > 0)
        s = io_init(&t.io, g, batch);
    cl_command_queue saved = NULL;
    if (s == CLNET_STATUS_OK && t.n_convs > 0)
        s = profiling_begin(ctx, &saved);

    /* One net per algorithm that fits at least one convolution. */
    int measured = 0, tried = 0;
    clnet_status failure = CLNET_STATUS_OK;
    for (int a = CLNET_CONV_DIRECT; s == CLNET_STATUS_OK && a < CLNET_CONV_ALGO_COUNT; a++) {
        candidate *c = &t.cands[a];
        c->algo = (clnet_conv_algo)a;
        int fits = 0;
        for (int l = 0; l < t.n_convs && !fits; l++)
            fits = clnet_conv_algo_applies(c->algo, &g->nodes[t.convs[l]].geom.conv);
        if (!fits)
            continue;
        tried++;
        clnet_log(CLNET_LOG_INFO, "tuning", "measuring %s: %d run%s of batch %d",
                  clnet_conv_algo_name(c->algo), repeats, repeats == 1 ? "" : "s", batch);
        clnet_status m = measure_candidate(ctx, g, batch, repeats, &t.io, c);
        if (m == CLNET_STATUS_OK) {
            measured++;
            continue;
        }
        /* A device that cannot run one algorithm keeps the others. */
        failure = clnet_fail_context(m, "tuning with %s: ", clnet_conv_algo_name(c->algo));
        clnet_log(CLNET_LOG_WARN, "tuning", "skipping %s: %s", clnet_conv_algo_name(c->algo),
                  clnet_last_error());
    }
    profiling_end(ctx, saved);
    if (s == CLNET_STATUS_OK && tried > 0 && measured == 0)
        s = failure;

    /* Nodes fused into a convolution by any candidate belong to it. */
    for (int a = 0; s == CLNET_STATUS_OK && a < CLNET_CONV_ALGO_COUNT; a++) {
        const candidate *c = &t.cands[a];
        for (int k = 0; c->measured && k < c->n_steps; k++)
            for (int i = 0; c->steps[k].conv >= 0 && i < c->steps[k].n_nodes; i++)
                if (t.owner[c->steps[k].nodes[i]] < 0)
                    t.owner[c->steps[k].nodes[i]] = c->steps[k].conv;
    }
    for (int a = 0; s == CLNET_STATUS_OK && a < CLNET_CONV_ALGO_COUNT; a++)
        if (t.cands[a].measured)
            attribute(&t, g, &t.cands[a], repeats);
    if (s == CLNET_STATUS_OK)
        s = choose(ctx, g, &t, batch, report);

    /* With the algorithms chosen, the configurations of the GEMMs their
     * net makes. */
    if (s == CLNET_STATUS_OK && t.n_convs > 0)
        s = profiling_begin(ctx, &saved);
    if (s == CLNET_STATUS_OK && t.n_convs > 0) {
        s = clnet_tune_gemms(ctx, g, batch, repeats, (const float *const *)t.io.in, t.io.out,
                             report);
        profiling_end(ctx, saved);
    }
    tune_free(&t);
    if (s != CLNET_STATUS_OK) {
        clnet_tune_report_free(report);
        return s;
    }
    if (report) {
        report->n_candidates = measured;
        report->seconds = now_seconds() - start;
    }
    return CLNET_STATUS_OK;
}
