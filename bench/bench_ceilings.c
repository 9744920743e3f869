/* Device ceilings: FMA peak, copy bandwidth, launch latency (see
 * bench_ceilings.h). Kernel times are device times from profiling events;
 * the launch latency is wall clock, since it is the host's cost. */
#include "bench_ceilings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_budget.h"
#include "bench_stats.h"
#include "context.h"

#define PROGRAM       "bench_ceilings"
#define FMA_CHAINS    8  /* independent chains per work-item in bench_fma */
#define FMA_TARGET_MS 60 /* device time aimed at per FMA run */
#define FMA_RUNS      5
#define COPY_MAX_MIB  128 /* per buffer: well beyond the last-level caches of CPUs */
#define COPY_RUNS     5
#define LAUNCH_RUNS   50

/* Whether a flag appears as a whole word in a /proc/cpuinfo flags line. */
static int has_flag(const char *flags, const char *flag) {
    size_t len = strlen(flag);
    for (const char *p = flags; (p = strstr(p, flag)) != NULL; p += len) {
        int starts = p == flags || p[-1] == ' ' || p[-1] == '\t' || p[-1] == ':';
        int ends = p[len] == '\0' || p[len] == ' ' || p[len] == '\n' || p[len] == '\t';
        if (starts && ends)
            return 1;
    }
    return 0;
}

double bench_nominal_gflops(const clnet_device_info *d, const char *cpu_flags, char *basis,
                            size_t size) {
    if (basis && size)
        basis[0] = '\0';
    if (d->type != CLNET_DEVICE_TYPE_CPU || !cpu_flags || !*cpu_flags || d->compute_units == 0 ||
        d->max_clock_mhz == 0) {
        if (basis && size)
            snprintf(basis, size, "unknown for this device: give --peak-gflops");
        return 0.0;
    }
    /* FP32 lanes x 2 FLOP per multiply-add x 2 pipes; without FMA, one
     * multiply and one add pipe. */
    int flop_per_cycle;
    const char *isa;
    if (has_flag(cpu_flags, "avx512f")) {
        flop_per_cycle = 64;
        isa = "AVX-512";
    } else if (has_flag(cpu_flags, "avx2") && has_flag(cpu_flags, "fma")) {
        flop_per_cycle = 32;
        isa = "AVX2 + FMA";
    } else if (has_flag(cpu_flags, "avx")) {
        flop_per_cycle = 16;
        isa = "AVX";
    } else if (has_flag(cpu_flags, "sse2")) {
        flop_per_cycle = 8;
        isa = "SSE2";
    } else if (has_flag(cpu_flags, "asimd")) {
        flop_per_cycle = 16;
        isa = "NEON";
    } else {
        snprintf(basis, size, "unknown instruction set: give --peak-gflops");
        return 0.0;
    }
    double gflops = (double)d->compute_units * d->max_clock_mhz * 1e-3 * flop_per_cycle;
    if (basis && size)
        snprintf(basis, size,
                 "%u compute units x %u MHz x %d FLOP/cycle (%s, two FMA pipes per core "
                 "assumed)",
                 d->compute_units, d->max_clock_mhz, flop_per_cycle, isa);
    return gflops;
}

void bench_read_cpu_flags(char *buf, size_t size) {
    buf[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "flags", 5) || !strncmp(line, "Features", 8)) {
            const char *colon = strchr(line, ':');
            snprintf(buf, size, "%s", colon ? colon + 1 : line);
            break;
        }
    }
    fclose(f);
}

/* Launches once and gives the device time of the launch in ms. */
static clnet_status timed_launch(clnet_context *ctx, cl_kernel k, const char *what, int n_args,
                                 const clnet_kernel_arg *args, const size_t *global,
                                 const size_t *local, double *ms) {
    clnet_events events = {0};
    double t0 = bench_now();
    clnet_status s = clnet_launch(ctx, k, what, n_args, args, 1, global, local, &events);
    if (s == CLNET_STATUS_OK)
        s = clnet_context_finish(ctx);
    double wall_ms = (bench_now() - t0) * 1e3;
    if (s == CLNET_STATUS_OK) {
        *ms = clnet_events_ms(&events);
        /* Without profiling events, the wall clock is the best there is. */
        if (*ms <= 0)
            *ms = wall_ms;
    }
    clnet_events_free(&events);
    return s;
}

/* Median GFLOP/s of bench_fma with VW lanes. */
static clnet_status measure_fma(clnet_context *ctx, int vw, double *gflops) {
    char options[32];
    snprintf(options, sizeof options, "-DVW=%d", vw);
    cl_kernel k;
    CLNET_TRY(clnet_context_kernel(ctx, PROGRAM, options, "bench_fma", &k));

    size_t units = ctx->info.compute_units ? ctx->info.compute_units : 1;
    size_t local_size = ctx->info.max_work_group_size >= 64 ? 64 : 0;
    size_t global = units * 1024;
    cl_mem out;
    CLNET_TRY(clnet_buffer_create(ctx, global * sizeof(float), "FMA results", &out));

    float a = 0.999999f, b = 1e-6f;
    int iterations = 64;
    clnet_kernel_arg args[] = {CLNET_ARG(out), CLNET_ARG(a), CLNET_ARG(b), CLNET_ARG(iterations)};
    const size_t *local = local_size ? &local_size : NULL;
    double ms = 0, runs[FMA_RUNS];
    clnet_status s = timed_launch(ctx, k, "bench_fma", 4, args, &global, local, &ms);
    /* Lengthen the run until it is long enough to time, then aim at the target. */
    while (s == CLNET_STATUS_OK && ms < FMA_TARGET_MS / 4.0 && iterations < (1 << 24)) {
        double scale = ms > 0.01 ? FMA_TARGET_MS / ms : 16.0;
        if (scale > 16.0)
            scale = 16.0;
        iterations = (int)(iterations * (scale < 2.0 ? 2.0 : scale));
        s = timed_launch(ctx, k, "bench_fma", 4, args, &global, local, &ms);
    }
    for (int r = 0; r < FMA_RUNS && s == CLNET_STATUS_OK; r++) {
        s = timed_launch(ctx, k, "bench_fma", 4, args, &global, local, &ms);
        double flop = 2.0 * FMA_CHAINS * vw * (double)iterations * (double)global;
        runs[r] = flop / (ms * 1e6);
    }
    clnet_buffer_release(out);
    if (s == CLNET_STATUS_OK)
        *gflops = bench_median(runs, FMA_RUNS);
    return s;
}

static clnet_status measure_copy(clnet_context *ctx, double *gbps, double *mib) {
    size_t bytes = (size_t)COPY_MAX_MIB << 20;
    while (bytes > ctx->info.max_alloc_bytes || bytes * 4 > ctx->info.global_mem_bytes)
        bytes /= 2;
    bytes &= ~(size_t)15;
    if (bytes < 4096)
        return clnet_fail(CLNET_STATUS_DEVICE_OUT_OF_MEMORY,
                          "the device has too little memory for the copy benchmark");
    *mib = (double)bytes / (1 << 20);
    cl_kernel k;
    CLNET_TRY(clnet_context_kernel(ctx, PROGRAM, "", "bench_copy", &k));
    cl_mem src = NULL, dst = NULL;
    clnet_status s = clnet_buffer_create(ctx, bytes, "copy source", &src);
    if (s == CLNET_STATUS_OK)
        s = clnet_buffer_create(ctx, bytes, "copy destination", &dst);
    /* Filling both makes the device allocate them before timing. */
    if (s == CLNET_STATUS_OK)
        s = clnet_buffer_fill(ctx, src, 0, bytes, 1.0f);
    if (s == CLNET_STATUS_OK)
        s = clnet_buffer_fill(ctx, dst, 0, bytes, 0.0f);
    size_t global = bytes / 16;
    clnet_kernel_arg args[] = {CLNET_ARG(src), CLNET_ARG(dst)};
    double ms = 0, runs[COPY_RUNS];
    if (s == CLNET_STATUS_OK)
        s = timed_launch(ctx, k, "bench_copy", 2, args, &global, NULL, &ms);
    for (int r = 0; r < COPY_RUNS && s == CLNET_STATUS_OK; r++) {
        s = timed_launch(ctx, k, "bench_copy", 2, args, &global, NULL, &ms);
        runs[r] = 2.0 * (double)bytes / (ms * 1e6);
    }
    clnet_buffer_release(src);
    clnet_buffer_release(dst);
    if (s == CLNET_STATUS_OK)
        *gbps = bench_median(runs, COPY_RUNS);
    return s;
}

static clnet_status measure_launch(clnet_context *ctx, double *us) {
    cl_kernel k;
    CLNET_TRY(clnet_context_kernel(ctx, PROGRAM, "", "bench_empty", &k));
    cl_mem out;
    CLNET_TRY(clnet_buffer_create(ctx, sizeof(float), "launch target", &out));
    clnet_kernel_arg args[] = {CLNET_ARG(out)};
    size_t global = 1;
    double runs[LAUNCH_RUNS];
    clnet_status s = CLNET_STATUS_OK;
    /* The first launches of a kernel pay for its preparation. */
    for (int r = -3; r < LAUNCH_RUNS && s == CLNET_STATUS_OK; r++) {
        double t0 = bench_now();
        s = clnet_launch(ctx, k, "bench_empty", 1, args, 1, &global, NULL, NULL);
        if (s == CLNET_STATUS_OK)
            s = clnet_context_finish(ctx);
        if (r >= 0)
            runs[r] = (bench_now() - t0) * 1e6;
    }
    clnet_buffer_release(out);
    if (s == CLNET_STATUS_OK)
        *us = bench_median(runs, LAUNCH_RUNS);
    return s;
}

void bench_ceilings_measure(clnet_context *ctx, const bench_options *o, bench_progress *progress,
                            bench_ceilings *out) {
    static const int widths[] = {1, 4, 8, 16};
    char flags[4096];
    out->datasheet_gflops = o->peak_gflops;
    out->datasheet_gbps = o->peak_gbps;
    bench_read_cpu_flags(flags, sizeof flags);
    out->nominal_gflops =
        bench_nominal_gflops(&ctx->info, flags, out->nominal_basis, sizeof out->nominal_basis);

    out->fma_gflops = 0.0;
    for (int i = 0; i < 4; i++) {
        double g = 0.0;
        bench_progress_show(progress, "ceilings: FMA peak, %d lane%s per multiply-add", widths[i],
                            widths[i] == 1 ? "" : "s");
        if (measure_fma(ctx, widths[i], &g) != CLNET_STATUS_OK) {
            out->outcome = BENCH_FAILED;
            snprintf(out->error, sizeof out->error, "FMA kernel (VW=%d): %s", widths[i],
                     clnet_last_error());
            return;
        }
        if (g > out->fma_gflops) {
            char type[16] = "float";
            if (widths[i] > 1)
                snprintf(type, sizeof type, "float%d", widths[i]);
            out->fma_gflops = g;
            snprintf(out->fma_variant, sizeof out->fma_variant,
                     "%s x %d chains (best of float, float4, float8, float16)", type, FMA_CHAINS);
        }
    }
    bench_progress_show(progress, "ceilings: copy bandwidth");
    if (measure_copy(ctx, &out->copy_gbps, &out->copy_mib) != CLNET_STATUS_OK) {
        out->outcome = BENCH_FAILED;
        snprintf(out->error, sizeof out->error, "copy kernel: %s", clnet_last_error());
        return;
    }
    bench_progress_show(progress, "ceilings: launch latency");
    if (measure_launch(ctx, &out->launch_us) != CLNET_STATUS_OK) {
        out->outcome = BENCH_FAILED;
        snprintf(out->error, sizeof out->error, "empty kernel: %s", clnet_last_error());
        return;
    }
    out->outcome = BENCH_OK;
}
