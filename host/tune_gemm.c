/* The GEMM half of the tuner (tuning.h): records the GEMM calls a net
 * makes through clnet's own kernel, times each alone in every candidate
 * configuration of that kernel, and enters the fastest into the context's
 * table. */
#include "tuning.h"

#include "log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Most candidate configurations of one kernel (gemm.c lists fewer). */
#define MAX_CANDIDATES 16

/* Device buffers of one replayed call, filled with random values. */
typedef struct call_buffers {
    cl_mem a, b, c, bias, scale, shift;
} call_buffers;

static void buffers_release(call_buffers *bufs) {
    clnet_buffer_release(bufs->a);
    clnet_buffer_release(bufs->b);
    clnet_buffer_release(bufs->c);
    clnet_buffer_release(bufs->bias);
    clnet_buffer_release(bufs->scale);
    clnet_buffer_release(bufs->shift);
    memset(bufs, 0, sizeof *bufs);
}

/* A buffer of n floats, uniform in [lo, hi). */
static clnet_status random_buffer(clnet_context *ctx, size_t n, float lo, float hi, uint64_t *state,
                                  const char *what, cl_mem *out) {
    float *host = malloc((n ? n : 1) * sizeof *host);
    if (!host)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "tuning: out of host memory for %s", what);
    clnet_tune_fill_uniform(host, n, lo, hi, state);
    clnet_status s = clnet_buffer_create(ctx, n * sizeof *host, what, out);
    if (s == CLNET_STATUS_OK)
        s = clnet_buffer_write(ctx, *out, 0, n * sizeof *host, host);
    free(host);
    return s;
}

static clnet_status buffers_init(clnet_context *ctx, const clnet_gemm_call *call,
                                 call_buffers *bufs) {
    memset(bufs, 0, sizeof *bufs);
    const clnet_gemm_key *k = &call->key;
    size_t batch = (size_t)k->batch;
    size_t a_floats = (size_t)k->m * (size_t)k->k * (call->a_strided ? batch : 1);
    uint64_t state = 0x6e6d6d5eedull;
    clnet_status s = random_buffer(ctx, a_floats, -1, 1, &state, "a GEMM's A", &bufs->a);
    if (s == CLNET_STATUS_OK)
        s = random_buffer(ctx, batch * (size_t)k->k * (size_t)k->n, -1, 1, &state, "a GEMM's B",
                          &bufs->b);
    if (s == CLNET_STATUS_OK)
        s = random_buffer(ctx, batch * (size_t)k->m * (size_t)k->n, -1, 1, &state, "a GEMM's C",
                          &bufs->c);
    if (s == CLNET_STATUS_OK && call->bias)
        s = random_buffer(ctx, (size_t)k->m, -1, 1, &state, "a GEMM's bias", &bufs->bias);
    if (s == CLNET_STATUS_OK && k->prologue)
        s = random_buffer(ctx, (size_t)k->k, 0.5f, 1.5f, &state, "a GEMM's prologue scale",
                          &bufs->scale);
    if (s == CLNET_STATUS_OK && k->prologue)
        s = random_buffer(ctx, (size_t)k->k, -0.5f, 0.5f, &state, "a GEMM's prologue shift",
                          &bufs->shift);
    if (s != CLNET_STATUS_OK)
        buffers_release(bufs);
    return s;
}

/* The call's arguments on compact buffers; a residual is C itself (an
 * in-place sum, as residual blocks run), so repeated calls stay finite
 * only approximately, which timing does not mind. */
static clnet_gemm_args call_args(const clnet_gemm_call *call, const call_buffers *bufs) {
    const clnet_gemm_key *k = &call->key;
    clnet_gemm_args a;
    memset(&a, 0, sizeof a);
    a.m = k->m;
    a.n = k->n;
    a.k = k->k;
    a.batch = k->batch;
    a.a = bufs->a;
    a.lda = k->k;
    a.b = bufs->b;
    a.ldb = k->n;
    a.b_stride = k->k * k->n;
    a.c = bufs->c;
    a.ldc = k->n;
    a.c_stride = k->m * k->n;
    a.bias = bufs->bias;
    a.relu = call->relu;
    a.pre_scale = bufs->scale;
    a.pre_shift = bufs->shift;
    a.pre_relu = k->prologue == 2;
    if (call->residual) {
        a.residual = bufs->c;
        a.ldr = a.ldc;
        a.r_stride = a.c_stride;
    }
    return a;
}

/* One call in configuration c; *ms receives its device time (NULL: do
 * not wait for it). */
static clnet_status call_once(clnet_context *ctx, const clnet_gemm_call *call,
                              const call_buffers *bufs, const clnet_gemm_config *c,
                              clnet_events *events, double *ms) {
    clnet_gemm_args args = call_args(call, bufs);
    int a_stride = call->a_strided ? call->key.m * call->key.k : 0;
    clnet_events_clear(events);
    ctx->gemm_force = c;
    clnet_status s = clnet_gemm_strided_a(ctx, CLNET_GEMM_CLNET, &args, a_stride, events);
    ctx->gemm_force = NULL;
    if (s == CLNET_STATUS_OK)
        s = clnet_context_finish(ctx);
    if (s == CLNET_STATUS_OK && ms && (*ms = clnet_events_ms(events)) < 0)
        s = clnet_fail(CLNET_STATUS_DEVICE_ERROR, "tuning: a GEMM call has no device time");
    return s;
}

/* Runs the net of g (as AUTO plans it now) once with the recorder on. */
static clnet_status record_calls(clnet_context *ctx, const clnet_graph *g, int batch,
                                 const float *const *in, float **out, clnet_gemm_recorder *rec) {
    clnet_net_options options = clnet_net_options_default();
    clnet_net *net = NULL;
    CLNET_TRY(clnet_net_create(ctx, g, &options, &net));
    ctx->gemm_record = rec;
    clnet_status s = clnet_net_run(net, batch, in, out);
    ctx->gemm_record = NULL;
    clnet_net_destroy(net);
    return s;
}

/* Times one call in every candidate and enters the fastest; *entry
 * receives what was entered. Each candidate first runs once (building its
 * program); then the candidates take turns, one call each per round, so
 * that a change in the machine's speed meets them all alike; a
 * candidate's time is its median over `repeats` rounds. A candidate that
 * fails (its program does not build, or its launch is refused) is skipped
 * with a warning; the default must run. */
static clnet_status tune_call(clnet_context *ctx, const clnet_gemm_call *call, int repeats,
                              double *times, clnet_tuning_gemm_entry *entry) {
    clnet_gemm_config cands[MAX_CANDIDATES];
    int n = clnet_gemm_candidates(ctx, call->key.kernel, cands, MAX_CANDIDATES);
    if (n > MAX_CANDIDATES)
        n = MAX_CANDIDATES;
    if (n == 0)
        return CLNET_STATUS_OK;
    call_buffers bufs;
    CLNET_TRY(buffers_init(ctx, call, &bufs));
    clnet_events events = {0};
    int ok[MAX_CANDIDATES];
    clnet_status s = CLNET_STATUS_OK;
    for (int i = 0; i < n && s == CLNET_STATUS_OK; i++) {
        clnet_status t = call_once(ctx, call, &bufs, &cands[i], &events, NULL);
        ok[i] = t == CLNET_STATUS_OK;
        if (!ok[i] && i == 0) {
            s = t; /* the default failing is an error of its own */
        } else if (!ok[i]) {
            char text[64];
            clnet_gemm_config_text(&cands[i], text, sizeof text);
            clnet_log(CLNET_LOG_WARN, "tuning", "skipping GEMM configuration %s: %s", text,
                      clnet_last_error());
        }
    }
    for (int r = 0; r < repeats && s == CLNET_STATUS_OK; r++)
        for (int i = 0; i < n && s == CLNET_STATUS_OK; i++)
            if (ok[i])
                s = call_once(ctx, call, &bufs, &cands[i], &events, &times[i * repeats + r]);
    clnet_events_free(&events);
    buffers_release(&bufs);

    int best = -1;
    double ms[MAX_CANDIDATES];
    for (int i = 0; i < n && s == CLNET_STATUS_OK; i++) {
        if (!ok[i])
            continue;
        ms[i] = clnet_tune_median(&times[i * repeats], repeats);
        if (best < 0 || ms[i] < ms[best])
            best = i;
    }
    if (s != CLNET_STATUS_OK || best < 0)
        return s;
    clnet_gemm_entry_describe(ctx, &call->key, &cands[best], ms[best], ms[0], entry);
    return clnet_tuning_put_gemm(ctx, &call->key, &cands[best], ms[best], ms[0]);
}

clnet_status clnet_tune_gemms(clnet_context *ctx, const clnet_graph *g, int batch, int repeats,
                              const float *const *in, float **out, clnet_tune_report *report) {
    clnet_gemm_recorder rec = {0};
    clnet_status s = record_calls(ctx, g, batch, in, out, &rec);
    /* Two calls that differ only in what tuning ignores (bias, ReLU, ...)
     * share a key: time the first. */
    double *times = malloc((size_t)MAX_CANDIDATES * (size_t)repeats * sizeof *times);
    clnet_tuning_gemm_entry *entries = calloc((size_t)rec.count + 1, sizeof *entries);
    if (s == CLNET_STATUS_OK && (!times || !entries))
        s = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "tuning: out of host memory");
    int n_entries = 0;
    for (int i = 0; s == CLNET_STATUS_OK && i < rec.count; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = memcmp(&rec.calls[j].key, &rec.calls[i].key, sizeof rec.calls[i].key) == 0;
        if (seen)
            continue;
        clnet_log(CLNET_LOG_INFO, "tuning", "timing GEMM M=%d N=%d K=%d batch %d",
                  rec.calls[i].key.m, rec.calls[i].key.n, rec.calls[i].key.k,
                  rec.calls[i].key.batch);
        s = tune_call(ctx, &rec.calls[i], repeats, times, &entries[n_entries]);
        if (s == CLNET_STATUS_OK && entries[n_entries].kernel)
            n_entries++;
    }
    free(times);
    free(rec.calls);
    if (s != CLNET_STATUS_OK || !report) {
        free(entries);
        return s;
    }
    report->gemms = entries;
    report->n_gemms = n_entries;
    return CLNET_STATUS_OK;
}
