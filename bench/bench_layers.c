/* Per-layer profiles (see bench_layers.h). */
#include "bench_layers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_stats.h"

#define MIN_LAUNCH_US 20.0

int bench_profile_consistent(double sum_ms, double wall_ms, int n_steps, double launch_us) {
    if (!isfinite(sum_ms) || !isfinite(wall_ms) || sum_ms <= 0 || wall_ms <= 0)
        return 0;
    if (sum_ms > wall_ms * 1.02)
        return 0;
    double per_step_us =
        isfinite(launch_us) && launch_us > MIN_LAUNCH_US ? launch_us : MIN_LAUNCH_US;
    double allowed_ms = n_steps * per_step_us * 1e-3 + 0.10 * wall_ms;
    return wall_ms - sum_ms <= allowed_ms;
}

static void fail_profile(bench_profile *p, const char *what) {
    p->outcome = BENCH_FAILED;
    snprintf(p->error, sizeof p->error, "%s: %s", what, clnet_last_error());
}

void bench_layers_profile(clnet_context *ctx, bench_netdata *d, const bench_options *o,
                          const bench_budget *budget, double launch_us, bench_progress *progress,
                          bench_profile *p) {
    int batch = p->batch;
    clnet_net *net = NULL;
    float *out[BENCH_MAX_IO] = {0};
    double *step_ms = NULL;
    (void)o;
    if (bench_budget_left(budget, bench_now()) <= 0) {
        p->outcome = BENCH_SKIPPED;
        snprintf(p->error, sizeof p->error, "the profiles' share of the budget was spent");
        return;
    }
    bench_progress_show(progress, "layers: %s, batch %d: compiling", d->name, batch);
    if (clnet_net_create(ctx, d->graph, NULL, &net) != CLNET_STATUS_OK) {
        fail_profile(p, "compiling the net");
        return;
    }
    if (bench_netdata_alloc_outputs(d, batch, out) != 0) {
        p->outcome = BENCH_FAILED;
        snprintf(p->error, sizeof p->error, "allocating the outputs: out of memory");
        goto done;
    }
    int n = clnet_net_step_count(net);
    step_ms = malloc((size_t)(n > 0 ? n : 1) * BENCH_PROFILE_RUNS * sizeof *step_ms);
    p->steps = calloc((size_t)(n > 0 ? n : 1), sizeof *p->steps);
    if (!step_ms || !p->steps) {
        p->outcome = BENCH_FAILED;
        snprintf(p->error, sizeof p->error, "allocating the step table: out of memory");
        goto done;
    }

    /* A warm-up run builds every kernel; its time predicts the others. */
    bench_progress_show(progress, "layers: %s, batch %d: warm-up", d->name, batch);
    double t0 = bench_now();
    if (clnet_net_run(net, batch, (const float *const *)d->inputs, out) != CLNET_STATUS_OK) {
        fail_profile(p, "warm-up run");
        goto done;
    }
    double each = bench_now() - t0;
    int runs = bench_budget_runs(budget, bench_now(), each, BENCH_PROFILE_RUNS, 1);
    /* The warm-up included compiling the kernels, so it overestimates a run:
     * one profiled run is still made while any budget is left. */
    if (runs == 0 && bench_budget_left(budget, bench_now()) > 0)
        runs = 1;
    if (runs == 0) {
        p->outcome = BENCH_SKIPPED;
        snprintf(p->error, sizeof p->error,
                 "the warm-up run took %.1f s (with kernel compilation) and the profiles' share "
                 "of the budget is spent",
                 each);
        goto done;
    }

    double wall[BENCH_PROFILE_RUNS] = {0}, sums[BENCH_PROFILE_RUNS] = {0};
    for (int r = 0; r < runs; r++) {
        bench_progress_show(progress, "layers: %s, batch %d: profiled run %d of %d", d->name, batch,
                            r + 1, runs);
        t0 = bench_now();
        if (clnet_net_run(net, batch, (const float *const *)d->inputs, out) != CLNET_STATUS_OK) {
            fail_profile(p, "profiled run");
            goto done;
        }
        wall[r] = (bench_now() - t0) * 1e3;
        sums[r] = 0.0;
        for (int s = 0; s < n; s++) {
            clnet_step_info si;
            if (clnet_net_step_info(net, s, &si) != CLNET_STATUS_OK) {
                fail_profile(p, "reading the step times");
                goto done;
            }
            step_ms[r * n + s] = si.last_ms;
            if (si.last_ms > 0)
                sums[r] += si.last_ms;
        }
    }

    /* The run whose wall time is the median (the lower one of two). */
    int pick = 0;
    for (int r = 0; r < runs; r++) {
        int below = 0, above = 0;
        for (int q = 0; q < runs; q++) {
            below += wall[q] < wall[r];
            above += wall[q] > wall[r];
        }
        if (below <= (runs - 1) / 2 && above <= runs / 2) {
            pick = r;
            break;
        }
    }
    p->runs = runs;
    p->n_steps = n;
    p->wall_ms = wall[pick];
    p->sum_ms = sums[pick];
    p->gap_ms = p->wall_ms - p->sum_ms;
    p->launch_us = launch_us;
    p->consistent = bench_profile_consistent(p->sum_ms, p->wall_ms, n, launch_us);
    for (int s = 0; s < n; s++) {
        clnet_step_info si;
        clnet_net_step_info(net, s, &si);
        bench_layer_row *row = &p->steps[s];
        snprintf(row->label, sizeof row->label, "%s", si.label);
        snprintf(row->kernel, sizeof row->kernel, "%s", si.kernel);
        row->macs_per_image = si.macs_per_image;
        row->ms = step_ms[pick * n + s];
        row->share = p->sum_ms > 0 && row->ms >= 0 ? row->ms / p->sum_ms : NAN;
        row->gflops = row->ms > 0 ? 2.0 * (double)si.macs_per_image * batch / (row->ms * 1e6) : NAN;
    }
    p->outcome = BENCH_OK;

done:
    if (p->outcome != BENCH_OK) {
        free(p->steps);
        p->steps = NULL;
        p->n_steps = 0;
    }
    free(step_ms);
    bench_netdata_free_outputs(d, out);
    clnet_net_destroy(net);
}
