/* Images/s per network and batch size (see bench_networks.h). */
#define _POSIX_C_SOURCE 200809L
#include "bench_networks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_timing.h"

double bench_predict_seconds(double seconds_per_image, int batch, int runs) {
    if (!(seconds_per_image > 0) || !isfinite(seconds_per_image))
        return NAN;
    return seconds_per_image * batch * runs;
}

typedef struct run_ctx {
    clnet_net *net;
    int batch;
    bench_netdata *d;
    float *out[BENCH_MAX_IO];
} run_ctx;

static clnet_status run_once(void *arg) {
    run_ctx *c = arg;
    return clnet_net_run(c->net, c->batch, (const float *const *)c->d->inputs, c->out);
}

static void save_outputs(const bench_options *o, const bench_netdata *d, int batch,
                         float *const out[BENCH_MAX_IO], bench_network_row *row) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s_b%d.f32", o->save_outputs_dir, d->name, batch);
    FILE *f = fopen(path, "wb");
    int ok = f != NULL;
    for (int k = 0; k < d->n_out && ok; k++)
        ok = fwrite(out[k], sizeof(float) * d->out_size[k], (size_t)batch, f) == (size_t)batch;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok && row->outcome == BENCH_OK) {
        row->outcome = BENCH_FAILED;
        snprintf(row->error, sizeof row->error, "writing the outputs to '%.200s' failed", path);
    }
}

static void fail_row(bench_network_row *row, const char *what) {
    row->outcome = BENCH_FAILED;
    snprintf(row->error, sizeof row->error, "%s: %s", what, clnet_last_error());
}

/* One network at one batch size. prior_s_per_image: seconds per image
 * measured at a smaller batch (NaN if none), for the budget's prediction. */
static void measure(clnet_context *ctx, bench_netdata *d, int batch, const bench_options *o,
                    const bench_budget *budget, double peak_gflops, double prior_s_per_image,
                    bench_progress *progress, bench_network_row *row) {
    int at_least = o->repeat < 3 ? o->repeat : 3;
    int runs_needed = 1 + o->warmup + at_least;
    double left = bench_budget_left(budget, bench_now());
    if (left < 1.0) {
        row->outcome = BENCH_SKIPPED;
        snprintf(row->error, sizeof row->error, "budget spent");
        return;
    }
    double predicted = bench_predict_seconds(prior_s_per_image, batch, runs_needed);
    if (predicted > left) {
        row->outcome = BENCH_SKIPPED;
        snprintf(row->error, sizeof row->error,
                 "predicted %.0f s for %d runs (from the smaller batch), %.0f s left", predicted,
                 runs_needed, left);
        return;
    }

    run_ctx c = {NULL, batch, d, {0}};
    bench_progress_show(progress, "networks: %s, batch %d: compiling", d->name, batch);
    double t0 = bench_now();
    if (clnet_net_create(ctx, d->graph, NULL, &c.net) != CLNET_STATUS_OK) {
        fail_row(row, "compiling the net");
        return;
    }
    if (bench_netdata_alloc_outputs(d, batch, c.out) != 0) {
        clnet_net_destroy(c.net);
        row->outcome = BENCH_FAILED;
        snprintf(row->error, sizeof row->error, "allocating the outputs: out of memory");
        return;
    }
    row->setup_s = bench_now() - t0;

    /* The first run builds what is still missing and is checked. */
    bench_progress_show(progress, "networks: %s, batch %d: first run", d->name, batch);
    t0 = bench_now();
    clnet_status s = run_once(&c);
    double first_s = bench_now() - t0;
    if (s != CLNET_STATUS_OK) {
        fail_row(row, "first run");
        goto done;
    }
    int check = o->check_images < batch ? o->check_images : batch;
    if (check > 0) {
        bench_progress_show(progress, "networks: %s, batch %d: host reference of %d images",
                            d->name, batch, check);
        if (bench_netdata_reference(d, check) != CLNET_STATUS_OK) {
            fail_row(row, "host reference");
            goto done;
        }
        row->check_images = check;
        row->max_rel_error = bench_netdata_error(d, c.out, check);
        row->check = row->max_rel_error <= o->tolerance ? BENCH_CHECK_PASS : BENCH_CHECK_FAIL;
    }

    /* Warm-up: o->warmup runs, and more until o->warmup_s has passed. A
     * fresh process on a CPU runs its first tens of batches measurably
     * slower (caches, page mappings, the threads' wake-ups), and the peers
     * it is compared with run in processes that stay warm. */
    const double warm_start = bench_now();
    for (int w = 0; s == CLNET_STATUS_OK; w++) {
        if (w >= o->warmup && bench_now() - warm_start >= o->warmup_s)
            break;
        bench_progress_show(progress, "networks: %s, batch %d: warm-up", d->name, batch);
        t0 = bench_now();
        s = run_once(&c);
        first_s = bench_now() - t0;
    }
    if (s != CLNET_STATUS_OK) {
        fail_row(row, "warm-up run");
        goto done;
    }
    if (bench_budget_runs(budget, bench_now(), first_s, o->repeat, at_least) == 0) {
        row->outcome = BENCH_SKIPPED;
        snprintf(row->error, sizeof row->error,
                 "a run takes %.1f s; %d runs would not fit in the %.0f s left (checked: %s)",
                 first_s, at_least, bench_budget_left(budget, bench_now()),
                 row->check == BENCH_CHECK_PASS   ? "pass"
                 : row->check == BENCH_CHECK_FAIL ? "FAIL"
                                                  : "no");
        goto done;
    }

    double *secs = malloc((size_t)o->repeat * sizeof *secs);
    if (!secs) {
        row->outcome = BENCH_FAILED;
        snprintf(row->error, sizeof row->error, "allocating the timing table: out of memory");
        goto done;
    }
    bench_progress_show(progress, "networks: %s, batch %d: %d timed runs", d->name, batch,
                        o->repeat);
    s = bench_time_runs(run_once, &c, o->repeat, at_least, o->max_time_s, budget, secs,
                        &row->repeat);
    if (s != CLNET_STATUS_OK) {
        free(secs);
        fail_row(row, "timed run");
        goto done;
    }
    bench_stats_compute(secs, row->repeat, &row->seconds);
    free(secs);
    row->images_per_s = batch / row->seconds.median;
    row->images_per_s_min = batch / row->seconds.max;
    row->images_per_s_max = batch / row->seconds.min;
    row->gflops = 2.0 * (double)row->macs_per_image * row->images_per_s * 1e-9;
    row->peak_share = isfinite(peak_gflops) && peak_gflops > 0 ? row->gflops / peak_gflops : NAN;
    row->outcome = BENCH_OK;
    if (o->save_outputs_dir)
        save_outputs(o, d, batch, c.out, row);

done:
    bench_netdata_free_outputs(d, c.out);
    clnet_net_destroy(c.net);
}

void bench_networks_run(clnet_context *ctx, bench_netdata *nets, const bench_options *o,
                        const bench_budget *budget, double peak_gflops, bench_progress *progress,
                        bench_results *r) {
    /* Seconds per image at the largest batch measured so far, per network. */
    double *per_image = malloc((size_t)o->n_networks * sizeof *per_image);
    int order[BENCH_MAX_BATCHES];
    for (int b = 0; b < o->n_batches; b++)
        order[b] = b;
    /* Smallest batch first: its time predicts the larger ones. */
    for (int i = 1; i < o->n_batches; i++)
        for (int j = i; j > 0 && o->batches[order[j]] < o->batches[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (int n = 0; n < o->n_networks && per_image; n++)
        per_image[n] = NAN;

    for (int bi = 0; bi < o->n_batches; bi++) {
        int batch = o->batches[order[bi]];
        for (int n = 0; n < o->n_networks; n++) {
            bench_netdata *d = &nets[n];
            bench_network_row *row = bench_results_add_network(r);
            if (!row)
                break;
            snprintf(row->network, sizeof row->network, "%s", d->name);
            row->batch = batch;
            row->tolerance = o->tolerance;
            row->params = clnet_graph_param_count(d->graph);
            row->macs_per_image = clnet_graph_macs_per_image(d->graph);
            measure(ctx, d, batch, o, budget, peak_gflops, per_image ? per_image[n] : NAN, progress,
                    row);
            if (row->outcome == BENCH_OK && per_image)
                per_image[n] = row->seconds.median / batch;
            if (row->outcome == BENCH_SKIPPED) {
                char what[96];
                snprintf(what, sizeof what, "%s at batch %d", d->name, batch);
                bench_results_skip(r, what, row->error);
            }
        }
    }
    free(per_image);
}
