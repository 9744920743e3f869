/* clnet-bench: what an OpenCL device can do and what clnet gets out of it,
 * in one run. Measures the device's ceilings, cold and warm start, GEMM
 * per backend, per-layer device time and images/s of the built-in
 * networks, checks every result against the host reference, and reports
 * on the terminal, as JSON and as Markdown with an SVG chart. */
#define _POSIX_C_SOURCE 200809L /* gmtime_r */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_budget.h"
#include "bench_ceilings.h"
#include "bench_gemm.h"
#include "bench_layers.h"
#include "bench_netdata.h"
#include "bench_networks.h"
#include "bench_options.h"
#include "bench_progress.h"
#include "bench_report.h"
#include "bench_results.h"
#include "bench_shapes.h"
#include "bench_start.h"
#include "clnet.h"

/* Shares of the whole budget the sections before the networks may use at
 * most; the networks get whatever is left. */
#define SHARE_CEILINGS 0.05
#define SHARE_START    0.20
#define SHARE_GEMM     0.20
#define SHARE_LAYERS   0.10

static void fill_device(bench_device *out, const clnet_device_info *d) {
    snprintf(out->name, sizeof out->name, "%s", d->name);
    snprintf(out->platform, sizeof out->platform, "%s", d->platform_name);
    snprintf(out->vendor, sizeof out->vendor, "%s", d->vendor);
    snprintf(out->version, sizeof out->version, "%s", d->device_version);
    snprintf(out->driver, sizeof out->driver, "%s", d->driver_version);
    snprintf(out->type, sizeof out->type, "%s", clnet_device_type_name(d->type));
    out->compute_units = d->compute_units;
    out->clock_mhz = d->max_clock_mhz;
    out->global_mem_bytes = d->global_mem_bytes;
    snprintf(out->tuning, sizeof out->tuning, "none (built-in rules)");
}

/* What tuning ctx runs with (see bench_device.tuning). */
static void fill_tuning(bench_device *out, const clnet_context *ctx) {
    const char *source = clnet_tuning_source(ctx);
    int shapes = clnet_tuning_entry_count(ctx), gemms = clnet_tuning_gemm_count(ctx);
    if (source[0] || shapes > 0 || gemms > 0)
        snprintf(out->tuning, sizeof out->tuning,
                 "%s: %d convolution shape%s, %d GEMM shape%s, CLBlast parameters of %d "
                 "kernel%s",
                 source[0] ? source : "(not from a file)", shapes, shapes == 1 ? "" : "s", gemms,
                 gemms == 1 ? "" : "s", clnet_tuning_clblast_kernels(ctx),
                 clnet_tuning_clblast_kernels(ctx) == 1 ? "" : "s");
}

/* Prepares n networks; a name clnet does not know is a usage error (2),
 * anything else a failure (1). */
static int prepare(bench_netdata *nets, char (*names)[BENCH_NAME_MAX], int n, int max_batch,
                   const bench_options *o) {
    for (int i = 0; i < n; i++) {
        clnet_status s = bench_netdata_init(&nets[i], names[i], o->seed, max_batch, o->input_path);
        if (s != CLNET_STATUS_OK) {
            fprintf(stderr, "clnet-bench: preparing network '%s': %s\n", names[i],
                    clnet_last_error());
            return s == CLNET_STATUS_NOT_FOUND ? 2 : 1;
        }
    }
    return 0;
}

static int save_models(const bench_netdata *nets, int n, const char *dir) {
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.clnet", dir, nets[i].name);
        if (clnet_graph_save(nets[i].graph, path) != CLNET_STATUS_OK) {
            fprintf(stderr, "clnet-bench: saving '%s': %s\n", path, clnet_last_error());
            return 1;
        }
    }
    return 0;
}

static clnet_status open_context(const bench_options *o, int profiling, clnet_context **out) {
    clnet_context_options copt = {profiling};
    clnet_status s = clnet_context_create(o->device, &copt, out);
    if (s != CLNET_STATUS_OK)
        fprintf(stderr, "clnet-bench: opening device '%s'%s: %s\n",
                o->device ? o->device : "(default)", profiling ? " with profiling" : "",
                clnet_last_error());
    return s;
}

/* Writes a finished section to the terminal, unless the output is JSON. */
static void show(const bench_options *o, bench_progress *progress, const bench_results *r,
                 bench_section section) {
    bench_progress_clear(progress);
    if (!o->json)
        bench_report_text_section(stdout, r, section);
}

int main(int argc, char **argv) {
    bench_options o;
    char err[512];
    bench_options_default(&o);
    switch (bench_options_parse(argc, argv, &o, err, sizeof err)) {
    case BENCH_PARSE_HELP: fputs(bench_options_help(), stdout); return 0;
    case BENCH_PARSE_VERSION: printf("clnet-bench %s\n", CLNET_VERSION_STRING); return 0;
    case BENCH_PARSE_ERROR:
        fprintf(stderr, "clnet-bench: %s\nTry 'clnet-bench --help'.\n", err);
        return 2;
    case BENCH_PARSE_OK: break;
    }
    if (o.start_child)
        return bench_start_child(&o);

    int rc = 1;
    bench_results r;
    bench_results_init(&r);
    bench_netdata *nets = calloc((size_t)o.n_networks + 1, sizeof *nets);
    bench_netdata *pnets = calloc((size_t)o.n_profile_networks + 1, sizeof *pnets);
    clnet_context *ctx = NULL, *pctx = NULL;
    bench_gemm_shape *shapes = NULL;
    int n_shapes = 0;
    if (!nets || !pnets) {
        fprintf(stderr, "clnet-bench: out of memory\n");
        goto done;
    }

    /* Networks first: a mistyped name should fail before anything is timed. */
    int max_batch = 1;
    if (o.sections & BENCH_SECTION_NETWORKS)
        for (int i = 0; i < o.n_batches; i++)
            max_batch = o.batches[i] > max_batch ? o.batches[i] : max_batch;
    if ((rc = prepare(nets, o.networks, o.n_networks, max_batch, &o)) != 0)
        goto done;
    if (o.sections & BENCH_SECTION_LAYERS &&
        (rc = prepare(pnets, o.profile_networks, o.n_profile_networks, o.profile_batch, &o)) != 0)
        goto done;
    rc = 1;
    if (o.save_models_dir && save_models(nets, o.n_networks, o.save_models_dir) != 0)
        goto done;

    snprintf(r.version, sizeof r.version, "%s", CLNET_VERSION_STRING);
    snprintf(r.command, sizeof r.command, "%s", o.command_line);
    time_t now = time(NULL);
    struct tm utc;
    if (gmtime_r(&now, &utc))
        strftime(r.date, sizeof r.date, "%Y-%m-%dT%H:%M:%SZ", &utc);
    r.budget_s = o.budget_s;
    r.repeat = o.repeat;
    r.warmup = o.warmup;
    r.warmup_s = o.warmup_s;
    r.sections = o.sections;

    bench_budget whole = bench_budget_start(o.budget_s);
    bench_progress progress;
    bench_progress_init(&progress, stderr, o.progress, &whole);

    /* Kernel timings need profiling events; images/s is measured without
     * them, as applications run. */
    bench_progress_show(&progress, "opening the device");
    if (o.sections & BENCH_SECTION_NETWORKS && open_context(&o, 0, &ctx) != CLNET_STATUS_OK)
        goto done;
    if (o.sections & (BENCH_SECTION_CEILINGS | BENCH_SECTION_GEMM | BENCH_SECTION_LAYERS) &&
        open_context(&o, 1, &pctx) != CLNET_STATUS_OK)
        goto done;
    if (ctx || pctx) {
        fill_device(&r.device, clnet_context_device(ctx ? ctx : pctx));
        fill_tuning(&r.device, ctx ? ctx : pctx);
    } else {
        clnet_device_info info;
        if (clnet_device_select(o.device, &info) != CLNET_STATUS_OK) {
            fprintf(stderr, "clnet-bench: selecting device '%s': %s\n",
                    o.device ? o.device : "(default)", clnet_last_error());
            goto done;
        }
        fill_device(&r.device, &info);
    }
    bench_progress_clear(&progress);
    if (!o.json)
        bench_report_text_header(stdout, &r);

    if (o.sections & BENCH_SECTION_CEILINGS) {
        bench_ceilings_measure(pctx, &o, &progress, &r.ceilings);
        show(&o, &progress, &r, BENCH_SECTION_CEILINGS);
    }
    double peak = r.ceilings.outcome == BENCH_OK ? r.ceilings.fma_gflops : NAN;
    double launch_us = r.ceilings.outcome == BENCH_OK ? r.ceilings.launch_us : NAN;

    if (o.sections & BENCH_SECTION_START) {
        bench_budget part = bench_budget_part(&whole, SHARE_START, bench_now());
        bench_start_run(argv[0], &o, &part, &progress, &r);
        show(&o, &progress, &r, BENCH_SECTION_START);
    }

    if (o.sections & BENCH_SECTION_GEMM) {
        const clnet_graph *graphs[BENCH_MAX_NETWORKS];
        const char *names[BENCH_MAX_NETWORKS];
        for (int i = 0; i < o.n_networks; i++) {
            graphs[i] = nets[i].graph;
            names[i] = nets[i].name;
        }
        if (bench_conv_gemm_shapes(graphs, names, o.n_networks, &shapes, &n_shapes) != 0) {
            fprintf(stderr, "clnet-bench: listing the GEMM shapes: out of memory\n");
            goto done;
        }
        bench_budget part = bench_budget_part(&whole, SHARE_GEMM, bench_now());
        bench_gemm_run(pctx, &o, shapes, n_shapes, &part, &whole, &progress, &r);
        show(&o, &progress, &r, BENCH_SECTION_GEMM);
    }

    if (o.sections & BENCH_SECTION_LAYERS) {
        bench_budget part = bench_budget_part(&whole, SHARE_LAYERS, bench_now());
        for (int i = 0; i < o.n_profile_networks; i++) {
            bench_profile *p = bench_results_add_profile(&r);
            if (!p)
                break;
            snprintf(p->network, sizeof p->network, "%s", pnets[i].name);
            p->batch = o.profile_batch;
            /* The first profile is made while the whole budget lasts, even if
             * compiling its kernels used up the section's share. */
            bench_layers_profile(pctx, &pnets[i], &o, i == 0 ? &whole : &part, launch_us, &progress,
                                 p);
            if (p->outcome == BENCH_SKIPPED) {
                char what[96];
                snprintf(what, sizeof what, "per-layer profile of %s at batch %d", p->network,
                         p->batch);
                bench_results_skip(&r, what, p->error);
            }
        }
        show(&o, &progress, &r, BENCH_SECTION_LAYERS);
    }

    if (o.sections & BENCH_SECTION_NETWORKS) {
        bench_networks_run(ctx, nets, &o, &whole, peak, &progress, &r);
        show(&o, &progress, &r, BENCH_SECTION_NETWORKS);
    }

    r.elapsed_s = bench_now() - whole.start;
    bench_progress_clear(&progress);
    if (o.json)
        bench_report_json(stdout, &r);
    else
        bench_report_text_footer(stdout, &r);

    if (o.report_path || o.chart_path) {
        char chart[1024];
        const char *chart_path = o.chart_path;
        if (!chart_path && bench_chart_path_for(o.report_path, chart, sizeof chart) == 0)
            chart_path = chart;
        if (bench_report_write_files(&r, o.report_path, chart_path, err, sizeof err) != 0) {
            fprintf(stderr, "clnet-bench: %s\n", err);
            goto done;
        }
        if (!o.json)
            printf("Report written to %s%s%s\n", o.report_path ? o.report_path : "",
                   o.report_path && chart_path ? " and " : "", chart_path ? chart_path : "");
    }
    rc = bench_results_failures(&r) > 0 ? 1 : 0;

done:
    free(shapes);
    for (int i = 0; nets && i < o.n_networks; i++)
        bench_netdata_free(&nets[i]);
    for (int i = 0; pnets && i < o.n_profile_networks; i++)
        bench_netdata_free(&pnets[i]);
    free(nets);
    free(pnets);
    clnet_context_destroy(ctx);
    clnet_context_destroy(pctx);
    bench_results_free(&r);
    return rc;
}
