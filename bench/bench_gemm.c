/* GEMM rates per backend (see bench_gemm.h). */
#include "bench_gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_stats.h"
#include "bench_timing.h"
#include "kernels.h"

#define CHECK_SAMPLES   64
#define CHECK_TOLERANCE 1e-4

static const clnet_gemm_backend backends[] = {CLNET_GEMM_CLNET, CLNET_GEMM_CLBLAST};
#define BACKEND_COUNT 2

double bench_max_rel_error(const float *expected, const float *got, long long count) {
    double scale = 0.0, worst = 0.0;
    for (long long i = 0; i < count; i++) {
        if (!isfinite(got[i]))
            return INFINITY;
        scale = fmax(scale, fabs((double)expected[i]));
    }
    if (scale == 0.0)
        scale = 1.0;
    for (long long i = 0; i < count; i++)
        worst = fmax(worst, fabs((double)got[i] - (double)expected[i]) / scale);
    return worst;
}

/* splitmix64: reproducible data without the C library's rand(). */
static uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static float uniform(uint64_t *state) {
    return (float)((double)(next_random(state) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* One problem: host matrices, device buffers and the call's arguments. */
typedef struct problem {
    clnet_context *ctx;
    clnet_gemm_backend backend;
    clnet_gemm_args args;
    float *a, *b, *c;
    size_t a_count, b_count, c_count;
} problem;

static void problem_free(problem *p) {
    clnet_buffer_release(p->args.a);
    clnet_buffer_release(p->args.b);
    clnet_buffer_release(p->args.c);
    free(p->a);
    free(p->b);
    free(p->c);
    memset(p, 0, sizeof *p);
}

static clnet_status problem_init(problem *p, clnet_context *ctx, int m, int n, int k, int batch,
                                 uint64_t seed) {
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    p->a_count = (size_t)m * k;
    p->b_count = (size_t)k * n * batch;
    p->c_count = (size_t)m * n * batch;
    p->a = malloc(p->a_count * sizeof(float));
    p->b = malloc(p->b_count * sizeof(float));
    p->c = malloc(p->c_count * sizeof(float));
    if (!p->a || !p->b || !p->c) {
        problem_free(p);
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                          "allocating host matrices of a %dx%dx%d GEMM (batch %d): out of memory",
                          m, n, k, batch);
    }
    uint64_t state = seed;
    for (size_t i = 0; i < p->a_count; i++)
        p->a[i] = uniform(&state);
    for (size_t i = 0; i < p->b_count; i++)
        p->b[i] = uniform(&state);
    p->args = (clnet_gemm_args){
        .m = m,
        .n = n,
        .k = k,
        .batch = batch,
        .lda = k,
        .ldb = n,
        .b_stride = k * n,
        .ldc = n,
        .c_stride = m * n,
    };
    clnet_status s = clnet_buffer_create(ctx, p->a_count * sizeof(float), "GEMM A", &p->args.a);
    if (s == CLNET_STATUS_OK)
        s = clnet_buffer_create(ctx, p->b_count * sizeof(float), "GEMM B", &p->args.b);
    if (s == CLNET_STATUS_OK)
        s = clnet_buffer_create(ctx, p->c_count * sizeof(float), "GEMM C", &p->args.c);
    if (s == CLNET_STATUS_OK)
        s = clnet_buffer_write(ctx, p->args.a, 0, p->a_count * sizeof(float), p->a);
    if (s == CLNET_STATUS_OK)
        s = clnet_buffer_write(ctx, p->args.b, 0, p->b_count * sizeof(float), p->b);
    if (s != CLNET_STATUS_OK)
        problem_free(p);
    return s;
}

static clnet_status problem_call(void *arg) {
    problem *p = arg;
    CLNET_TRY(clnet_gemm(p->ctx, p->backend, &p->args, NULL));
    return clnet_context_finish(p->ctx);
}

/* Compares CHECK_SAMPLES entries of C (read back) with the host in double. */
static clnet_status problem_check(problem *p, uint64_t seed, double *err) {
    const clnet_gemm_args *g = &p->args;
    CLNET_TRY(clnet_context_finish(p->ctx));
    CLNET_TRY(clnet_buffer_read(p->ctx, g->c, 0, p->c_count * sizeof(float), p->c));
    float expected[CHECK_SAMPLES], got[CHECK_SAMPLES];
    uint64_t state = seed ^ 0x5eed;
    for (int s = 0; s < CHECK_SAMPLES; s++) {
        /* The corners first: edge tiles are where kernels go wrong. */
        int bi = s < 4 ? (s & 1) * (g->batch - 1) : (int)(next_random(&state) % (uint64_t)g->batch);
        int i = s < 4 ? (s >> 1) * (g->m - 1) : (int)(next_random(&state) % (uint64_t)g->m);
        int j = s < 4 ? (s & 1) * (g->n - 1) : (int)(next_random(&state) % (uint64_t)g->n);
        double sum = 0.0;
        const float *b = p->b + (size_t)bi * g->b_stride;
        for (int kk = 0; kk < g->k; kk++)
            sum += (double)p->a[(size_t)i * g->lda + kk] * b[(size_t)kk * g->ldb + j];
        expected[s] = (float)sum;
        got[s] = p->c[(size_t)bi * g->c_stride + (size_t)i * g->ldc + j];
    }
    *err = bench_max_rel_error(expected, got, CHECK_SAMPLES);
    return CLNET_STATUS_OK;
}

/* Measures one backend on a prepared problem into row. */
static void measure(problem *p, clnet_gemm_backend backend, const bench_options *o,
                    const bench_budget *budget, uint64_t seed, bench_gemm_row *row) {
    p->backend = backend;
    double t0 = bench_now();
    clnet_status s = problem_call(p);
    row->first_ms = (bench_now() - t0) * 1e3;
    /* A second untimed call: the first may include compilation. */
    double t1 = bench_now();
    if (s == CLNET_STATUS_OK)
        s = problem_call(p);
    double each = bench_now() - t1;
    if (s != CLNET_STATUS_OK) {
        row->outcome = BENCH_FAILED;
        snprintf(row->error, sizeof row->error, "%s", clnet_last_error());
        return;
    }
    int at_least = o->repeat < 3 ? o->repeat : 3;
    if (bench_budget_runs(budget, bench_now(), each, o->repeat, at_least) == 0) {
        row->outcome = BENCH_SKIPPED;
        snprintf(row->error, sizeof row->error,
                 "a call takes %.3f s; %d would not fit in the %.0f s left", each, at_least,
                 bench_budget_left(budget, bench_now()));
        return;
    }
    double *secs = malloc((size_t)o->repeat * sizeof *secs);
    int done = 0;
    s = secs ? bench_time_runs(problem_call, p, o->repeat, at_least, o->max_time_s / 5.0, budget,
                               secs, &done)
             : clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "allocating the timing table");
    if (s == CLNET_STATUS_OK) {
        bench_stats_compute(secs, done, &row->ms);
        row->ms.median *= 1e3;
        row->ms.mean *= 1e3;
        row->ms.min *= 1e3;
        row->ms.max *= 1e3;
        row->ms.p10 *= 1e3;
        row->ms.p90 *= 1e3;
        double flop = 2.0 * row->m * (double)row->n * row->k * row->batch;
        row->gflops = flop / (row->ms.median * 1e6);
        s = problem_check(p, seed, &row->max_rel_error);
    }
    free(secs);
    if (s != CLNET_STATUS_OK) {
        row->outcome = BENCH_FAILED;
        snprintf(row->error, sizeof row->error, "%s", clnet_last_error());
        return;
    }
    row->check = row->max_rel_error <= CHECK_TOLERANCE ? BENCH_CHECK_PASS : BENCH_CHECK_FAIL;
    row->outcome = BENCH_OK;
}

/* Measures every backend on one shape, side by side. Returns 0 when the
 * budget was already spent (nothing was measured). */
static int measure_shape(clnet_context *ctx, const bench_options *o, const char *kind,
                         const char *where, int m, int n, int k, int batch,
                         const bench_budget *budget, bench_progress *progress, bench_results *r) {
    if (bench_budget_left(budget, bench_now()) <= 0)
        return 0;
    uint64_t seed = o->seed ^ ((uint64_t)m << 40) ^ ((uint64_t)n << 20) ^ (uint64_t)k;
    problem p;
    clnet_status s = problem_init(&p, ctx, m, n, k, batch, seed);
    for (int b = 0; b < BACKEND_COUNT; b++) {
        bench_gemm_row *row = bench_results_add_gemm(r);
        if (!row)
            break;
        snprintf(row->backend, sizeof row->backend, "%s", clnet_gemm_backend_name(backends[b]));
        snprintf(row->kind, sizeof row->kind, "%s", kind);
        snprintf(row->where, sizeof row->where, "%s", where);
        row->m = m;
        row->n = n;
        row->k = k;
        row->batch = batch;
        if (s != CLNET_STATUS_OK) {
            row->outcome = BENCH_FAILED;
            snprintf(row->error, sizeof row->error, "%s", clnet_last_error());
            continue;
        }
        bench_progress_show(progress, "gemm: %s %dx%dx%d, batch %d%s", row->backend, m, n, k, batch,
                            backends[b] == CLNET_GEMM_CLBLAST && r->n_gemm <= 2
                                ? " (CLBlast compiles its kernels on the first call)"
                                : "");
        measure(&p, backends[b], o, budget, seed, row);
    }
    if (s == CLNET_STATUS_OK)
        problem_free(&p);
    return 1;
}

void bench_gemm_run(clnet_context *ctx, const bench_options *o, const bench_gemm_shape *shapes,
                    int n_shapes, const bench_budget *budget, const bench_budget *whole,
                    bench_progress *progress, bench_results *r) {
    int n_conv = n_shapes < o->gemm_shapes ? n_shapes : o->gemm_shapes;
    int total = o->n_gemm_sizes + n_conv, done = 0;
    for (; done < total; done++) {
        int square = done < o->n_gemm_sizes;
        const bench_gemm_shape *sh = square ? NULL : &shapes[done - o->n_gemm_sizes];
        int size = square ? o->gemm_sizes[done] : 0;
        /* The first problem is measured while the whole budget lasts, even
         * if compiling the kernels used up the section's share. */
        const bench_budget *b = done == 0 ? whole : budget;
        int measured =
            square ? measure_shape(ctx, o, "square", "", size, size, size, 1, b, progress, r)
                   : measure_shape(ctx, o, "conv", sh->where, sh->m, sh->n, sh->k, o->gemm_batch, b,
                                   progress, r);
        if (!measured)
            break;
    }
    if (done < total) {
        char what[96];
        snprintf(what, sizeof what, "GEMM: %d of %d shapes", total - done, total);
        bench_results_skip(r, what, "the GEMM share of the budget was spent");
    }
}
