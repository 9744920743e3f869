/* Reports of a clnet-bench run: terminal tables, JSON and Markdown. */
#include "bench_report.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_chart.h"
#include "bench_json.h"

#define TOP_STEPS 8 /* heaviest steps listed per profile on the terminal */

const char *bench_fmt_rate(double v, char *buf, size_t size) {
    if (!isfinite(v))
        snprintf(buf, size, "-");
    else if (fabs(v) >= 100.0)
        snprintf(buf, size, "%.0f", v);
    else if (fabs(v) >= 10.0)
        snprintf(buf, size, "%.1f", v);
    else if (fabs(v) >= 1.0)
        snprintf(buf, size, "%.2f", v);
    else
        snprintf(buf, size, "%.3g", v);
    return buf;
}

static const char *outcome_name(bench_outcome o) {
    switch (o) {
    case BENCH_OK: return "ok";
    case BENCH_FAILED: return "failed";
    case BENCH_SKIPPED: return "skipped";
    default: return "not run";
    }
}

static const char *check_name(bench_check c) {
    return c == BENCH_CHECK_PASS ? "pass" : c == BENCH_CHECK_FAIL ? "FAIL" : "not checked";
}

/* "pass (2.1e-07)" for a table cell. */
static const char *fmt_check(bench_check c, double err, char *buf, size_t size) {
    if (c == BENCH_CHECK_NONE)
        snprintf(buf, size, "-");
    else if (isfinite(err))
        snprintf(buf, size, "%s %.1e", check_name(c), err);
    else
        snprintf(buf, size, "%s (NaN)", check_name(c));
    return buf;
}

/* "25.00 s", or "12 ms" below a second. */
static const char *fmt_duration(double seconds, char *buf, size_t size) {
    if (seconds < 1.0)
        snprintf(buf, size, "%.0f ms", seconds * 1e3);
    else
        snprintf(buf, size, "%.2f s", seconds);
    return buf;
}

static const char *fmt_percent(double share, char *buf, size_t size) {
    if (!isfinite(share))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.0f%%", 100.0 * share);
    return buf;
}

/* The distinct GEMM shapes in order of first appearance; rows with the
 * same kind and sizes share an index. */
static int same_gemm_shape(const bench_gemm_row *a, const bench_gemm_row *b) {
    return !strcmp(a->kind, b->kind) && a->m == b->m && a->n == b->n && a->k == b->k &&
           a->batch == b->batch;
}

static int first_of_shape(const bench_results *r, int i) {
    for (int j = 0; j < i; j++)
        if (same_gemm_shape(&r->gemm[j], &r->gemm[i]))
            return 0;
    return 1;
}

static const bench_gemm_row *gemm_for(const bench_results *r, const bench_gemm_row *shape,
                                      const char *backend) {
    for (int i = 0; i < r->n_gemm; i++)
        if (same_gemm_shape(&r->gemm[i], shape) && !strcmp(r->gemm[i].backend, backend))
            return &r->gemm[i];
    return NULL;
}

/* Backends in order of first appearance (at most 4). */
static int gemm_backends(const bench_results *r, const char *names[4]) {
    int n = 0;
    for (int i = 0; i < r->n_gemm; i++) {
        int seen = 0;
        for (int j = 0; j < n; j++)
            seen |= !strcmp(names[j], r->gemm[i].backend);
        if (!seen && n < 4)
            names[n++] = r->gemm[i].backend;
    }
    return n;
}

/* GFLOP/s of the first backend over the second on g's shape; NaN unless both ran. */
static double gemm_ratio(const bench_results *r, const bench_gemm_row *g,
                         const char *const backends[2]) {
    const bench_gemm_row *x = gemm_for(r, g, backends[0]);
    const bench_gemm_row *y = gemm_for(r, g, backends[1]);
    return x && y && x->outcome == BENCH_OK && y->outcome == BENCH_OK ? x->gflops / y->gflops : NAN;
}

/* Milliseconds of a backend's first (warm-up) GEMM call; NaN if it made none. */
static double gemm_first_call_ms(const bench_results *r, const char *backend) {
    for (int i = 0; i < r->n_gemm; i++)
        if (!strcmp(r->gemm[i].backend, backend) && isfinite(r->gemm[i].first_ms))
            return r->gemm[i].first_ms;
    return NAN;
}

static const char *gemm_cell(const bench_gemm_row *g, char *buf, size_t size) {
    char rate[32];
    if (!g)
        snprintf(buf, size, "-");
    else if (g->outcome == BENCH_OK)
        snprintf(buf, size, "%s%s", bench_fmt_rate(g->gflops, rate, sizeof rate),
                 g->check == BENCH_CHECK_FAIL ? " WRONG" : "");
    else
        snprintf(buf, size, "%s", outcome_name(g->outcome));
    return buf;
}

/* Indices of r->networks in display order: networks in order of first
 * appearance, each network's batch sizes ascending. The caller frees the
 * array; NULL if out of memory. */
static int *network_order(const bench_results *r) {
    int *idx = malloc((size_t)(r->n_networks > 0 ? r->n_networks : 1) * sizeof *idx);
    int *first = malloc((size_t)(r->n_networks > 0 ? r->n_networks : 1) * sizeof *first);
    if (!idx || !first) {
        free(idx);
        free(first);
        return NULL;
    }
    for (int i = 0; i < r->n_networks; i++) {
        idx[i] = i;
        first[i] = i;
        for (int j = 0; j < i; j++) {
            if (!strcmp(r->networks[j].network, r->networks[i].network)) {
                first[i] = first[j];
                break;
            }
        }
    }
    /* Insertion sort: stable, and the lists are short. */
    for (int i = 1; i < r->n_networks; i++) {
        for (int j = i; j > 0; j--) {
            int a = idx[j - 1], b = idx[j];
            int later = first[a] > first[b] ||
                        (first[a] == first[b] && r->networks[a].batch > r->networks[b].batch);
            if (!later)
                break;
            idx[j - 1] = b;
            idx[j] = a;
        }
    }
    free(first);
    return idx;
}

/* ------------------------------------------------------------------------ */
/* Terminal                                                                 */

void bench_report_text_header(FILE *f, const bench_results *r) {
    const bench_device *d = &r->device;
    fprintf(f, "clnet-bench %s: %s (%s, %u compute units, %u MHz)\n", r->version, d->name, d->type,
            d->compute_units, d->clock_mhz);
    fprintf(f, "  platform  %s; %s; driver %s\n", d->platform, d->version, d->driver);
    fprintf(f, "  tuning    %s\n", d->tuning);
    fprintf(f, "  command   %s\n", r->command);
    if (r->budget_s > 0)
        fprintf(f, "  budget    %.0f s; ", r->budget_s);
    else
        fprintf(f, "  budget    none; ");
    fprintf(f, "%d timed run%s per measurement after %d warm-up run%s and %.1f s\n",
            r->repeat, r->repeat == 1 ? "" : "s", r->warmup, r->warmup == 1 ? "" : "s",
            r->warmup_s);
}

static void text_ceilings(FILE *f, const bench_results *r) {
    const bench_ceilings *c = &r->ceilings;
    char a[32];
    fprintf(f, "\nDevice ceilings (clnet-bench's own kernels)\n");
    if (c->outcome != BENCH_OK) {
        fprintf(f, "  %s: %s\n", outcome_name(c->outcome), c->error);
        return;
    }
    fprintf(f, "  FMA peak        %9s GFLOP/s  %s; device time (profiling events)\n",
            bench_fmt_rate(c->fma_gflops, a, sizeof a), c->fma_variant);
    if (c->nominal_gflops > 0)
        fprintf(f, "                                   %.0f%% of the nominal %.1f GFLOP/s (%s)%s\n",
                100.0 * c->fma_gflops / c->nominal_gflops, c->nominal_gflops, c->nominal_basis,
                c->fma_gflops > c->nominal_gflops ? ": ABOVE the estimate, which is wrong" : "");
    if (c->datasheet_gflops > 0)
        fprintf(f, "                                   %.0f%% of the datasheet %.1f GFLOP/s\n",
                100.0 * c->fma_gflops / c->datasheet_gflops, c->datasheet_gflops);
    fprintf(f, "  copy bandwidth  %9s GB/s     2 x %.0f MiB buffers, bytes read + written\n",
            bench_fmt_rate(c->copy_gbps, a, sizeof a), c->copy_mib);
    if (c->datasheet_gbps > 0)
        fprintf(f, "                                   %.0f%% of the datasheet %.1f GB/s\n",
                100.0 * c->copy_gbps / c->datasheet_gbps, c->datasheet_gbps);
    fprintf(f, "  launch latency  %9s us       empty kernel, enqueue to finish, wall clock\n",
            bench_fmt_rate(c->launch_us, a, sizeof a));
}

static void text_start(FILE *f, const bench_results *r) {
    fprintf(f, "\nStart: process spawn to the first finished %s batch of %d (child processes)\n",
            r->start_info.network, r->start_info.batch);
    fprintf(f, "  %-5s %5s %12s %12s %12s  %s\n", "kind", "runs", "device open", "net built",
            "first batch", "range of first batch");
    for (int i = 0; i < 2; i++) {
        const bench_start *s = &r->starts[i];
        if (s->outcome != BENCH_OK) {
            fprintf(f, "  %-5s %s: %s\n", s->kind, outcome_name(s->outcome), s->error);
            continue;
        }
        fprintf(f, "  %-5s %5d %10.3f s %10.3f s %10.3f s  %.3f - %.3f s\n", s->kind, s->runs,
                s->open_s, s->build_s, s->first_s, s->min_first_s, s->max_first_s);
    }
    if (r->starts[0].outcome == BENCH_OK)
        fprintf(f, "  cold: empty PoCL and clnet caches in a fresh folder; warm: the same folder "
                   "again\n");
}

static void text_gemm(FILE *f, const bench_results *r) {
    const char *backends[4];
    int nb = gemm_backends(r, backends);
    char cell[48], ratio[32];
    fprintf(f, "\nGEMM GFLOP/s (2 M N K batch / median wall clock per call, enqueue to finish)\n");
    if (r->n_gemm == 0) {
        fprintf(f, "  nothing measured\n");
        return;
    }
    fprintf(f, "  %-6s %5s %6s %5s %5s", "shape", "M", "N", "K", "batch");
    for (int b = 0; b < nb; b++)
        fprintf(f, " %9s", backends[b]);
    if (nb == 2)
        fprintf(f, " %9s", "ratio");
    fprintf(f, "  where\n");
    for (int i = 0; i < r->n_gemm; i++) {
        const bench_gemm_row *g = &r->gemm[i];
        if (!first_of_shape(r, i))
            continue;
        fprintf(f, "  %-6s %5d %6d %5d %5d", g->kind, g->m, g->n, g->k, g->batch);
        for (int b = 0; b < nb; b++)
            fprintf(f, " %9s", gemm_cell(gemm_for(r, g, backends[b]), cell, sizeof cell));
        if (nb == 2)
            fprintf(f, " %9s", bench_fmt_rate(gemm_ratio(r, g, backends), ratio, sizeof ratio));
        fprintf(f, "  %s\n", g->where);
    }
    if (nb == 2)
        fprintf(f, "  ratio: %s / %s\n", backends[0], backends[1]);
    for (int b = 0; b < nb; b++) {
        double first = gemm_first_call_ms(r, backends[b]);
        if (isfinite(first))
            fprintf(f,
                    "  %s: first call %s (includes compiling its kernels when not "
                    "cached; counted as warm-up)\n",
                    backends[b], fmt_duration(first / 1e3, cell, sizeof cell));
    }
    for (int i = 0; i < r->n_gemm; i++) {
        const bench_gemm_row *g = &r->gemm[i];
        if (g->outcome == BENCH_FAILED || g->check == BENCH_CHECK_FAIL)
            fprintf(f, "  %s %dx%dx%d: %s\n", g->backend, g->m, g->n, g->k,
                    g->outcome == BENCH_FAILED ? g->error : "result does not match the host");
    }
}

static int compare_step_ms(const void *a, const void *b) {
    const bench_layer_row *x = *(const bench_layer_row *const *)a;
    const bench_layer_row *y = *(const bench_layer_row *const *)b;
    return (x->ms < y->ms) - (x->ms > y->ms);
}

/* Device time summed per kernel name, in order of first appearance. */
typedef struct kernel_total {
    const char *kernel;
    int steps;
    double ms;
    double macs;
} kernel_total;

static int kernel_totals(const bench_profile *p, kernel_total *out, int max) {
    int n = 0;
    for (int i = 0; i < p->n_steps; i++) {
        const bench_layer_row *s = &p->steps[i];
        int k = 0;
        while (k < n && strcmp(out[k].kernel, s->kernel))
            k++;
        if (k == n) {
            if (n == max)
                continue;
            out[n++] = (kernel_total){s->kernel, 0, 0.0, 0.0};
        }
        out[k].steps++;
        if (s->ms > 0)
            out[k].ms += s->ms;
        out[k].macs += (double)s->macs_per_image * p->batch;
    }
    return n;
}

static void profile_summary_line(FILE *f, const bench_profile *p, const char *indent) {
    char launch[48] = "launch latency not measured";
    if (isfinite(p->launch_us))
        snprintf(launch, sizeof launch, "launch latency %.1f us", p->launch_us);
    fprintf(f,
            "%ssteps sum to %.3f ms, wall clock %.3f ms: gap %.3f ms = %.1f us per step "
            "(%s): %s\n",
            indent, p->sum_ms, p->wall_ms, p->gap_ms,
            p->n_steps ? 1e3 * p->gap_ms / p->n_steps : 0.0, launch,
            p->consistent ? "consistent" : "NOT consistent");
}

static void text_profiles(FILE *f, const bench_results *r) {
    char a[32], b[32];
    fprintf(f, "\nPer-layer device time (OpenCL profiling events; the run with the median wall "
               "time)\n");
    if (r->n_profiles == 0)
        fprintf(f, "  nothing profiled\n");
    for (int i = 0; i < r->n_profiles; i++) {
        const bench_profile *p = &r->profiles[i];
        fprintf(f, "  %s, batch %d", p->network, p->batch);
        if (p->outcome != BENCH_OK) {
            fprintf(f, ": %s: %s\n", outcome_name(p->outcome), p->error);
            continue;
        }
        fprintf(f, ", %d steps, %d runs\n", p->n_steps, p->runs);
        profile_summary_line(f, p, "    ");
        kernel_total totals[32];
        int nk = kernel_totals(p, totals, 32);
        /* The kernel column as wide as its longest name. */
        int width = 34;
        for (int k = 0; k < nk; k++)
            if ((int)strlen(totals[k].kernel) > width)
                width = (int)strlen(totals[k].kernel);
        fprintf(f, "    %-*s %6s %10s %7s %9s\n", width, "kernel", "steps", "ms", "share",
                "GFLOP/s");
        for (int k = 0; k < nk; k++)
            fprintf(f, "    %-*s %6d %10.3f %7s %9s\n", width, totals[k].kernel, totals[k].steps,
                    totals[k].ms, fmt_percent(totals[k].ms / p->sum_ms, a, sizeof a),
                    totals[k].macs > 0
                        ? bench_fmt_rate(2.0 * totals[k].macs / (totals[k].ms * 1e6), b, sizeof b)
                        : "-");
        const bench_layer_row **order = malloc((size_t)p->n_steps * sizeof *order);
        if (!order)
            continue;
        for (int s = 0; s < p->n_steps; s++)
            order[s] = &p->steps[s];
        qsort(order, (size_t)p->n_steps, sizeof *order, compare_step_ms);
        int shown = p->n_steps < TOP_STEPS ? p->n_steps : TOP_STEPS;
        fprintf(f, "    heaviest steps:\n    %-44s %-*s %8s %6s %8s\n", "label", width, "kernel",
                "ms", "share", "GFLOP/s");
        for (int s = 0; s < shown; s++) {
            const bench_layer_row *row = order[s];
            fprintf(f, "    %-44.44s %-*s %8.3f %6s %8s\n", row->label, width, row->kernel, row->ms,
                    fmt_percent(row->share, a, sizeof a),
                    row->macs_per_image ? bench_fmt_rate(row->gflops, b, sizeof b) : "-");
        }
        free(order);
    }
}

static void text_networks(FILE *f, const bench_results *r) {
    char ips[32], lo[32], hi[32], gf[32], pk[32], ck[48];
    fprintf(f, "\nImages/s (wall clock per batch: upload, run, read back; median of the timed "
               "runs, with min and max)\n");
    fprintf(f, "  %-12s %5s %9s %9s %9s %10s %8s %6s  %s\n", "network", "batch", "images/s", "min",
            "max", "ms/batch", "GFLOP/s", "%peak", "check (max rel. error)");
    int *order = network_order(r);
    for (int i = 0; i < r->n_networks && order; i++) {
        const bench_network_row *n = &r->networks[order[i]];
        if (n->outcome != BENCH_OK) {
            fprintf(f, "  %-12s %5d  %s: %s\n", n->network, n->batch, outcome_name(n->outcome),
                    n->error);
            continue;
        }
        fprintf(f, "  %-12s %5d %9s %9s %9s %10.2f %8s %6s  %s%s\n", n->network, n->batch,
                bench_fmt_rate(n->images_per_s, ips, sizeof ips),
                bench_fmt_rate(n->images_per_s_min, lo, sizeof lo),
                bench_fmt_rate(n->images_per_s_max, hi, sizeof hi), 1e3 * n->seconds.median,
                bench_fmt_rate(n->gflops, gf, sizeof gf), fmt_percent(n->peak_share, pk, sizeof pk),
                fmt_check(n->check, n->max_rel_error, ck, sizeof ck),
                n->repeat < r->repeat ? " (fewer runs: time limit)" : "");
    }
    free(order);
    fprintf(f, "  GFLOP/s: 2 x multiply-accumulates x images/s; %%peak: of the measured FMA "
               "peak\n");
}

void bench_report_text_section(FILE *f, const bench_results *r, bench_section section) {
    switch (section) {
    case BENCH_SECTION_CEILINGS: text_ceilings(f, r); break;
    case BENCH_SECTION_START: text_start(f, r); break;
    case BENCH_SECTION_GEMM: text_gemm(f, r); break;
    case BENCH_SECTION_LAYERS: text_profiles(f, r); break;
    case BENCH_SECTION_NETWORKS: text_networks(f, r); break;
    default: break;
    }
    fflush(f);
}

static void count_checks(const bench_results *r, int *checked, int *failed) {
    *checked = *failed = 0;
    for (int i = 0; i < r->n_networks; i++) {
        *checked += r->networks[i].check != BENCH_CHECK_NONE;
        *failed += r->networks[i].check == BENCH_CHECK_FAIL;
    }
    for (int i = 0; i < r->n_gemm; i++) {
        *checked += r->gemm[i].check != BENCH_CHECK_NONE;
        *failed += r->gemm[i].check == BENCH_CHECK_FAIL;
    }
}

void bench_report_text_footer(FILE *f, const bench_results *r) {
    if (r->n_skips > 0) {
        fprintf(f, "\nSkipped\n");
        for (int i = 0; i < r->n_skips; i++)
            fprintf(f, "  %s: %s\n", r->skips[i].what, r->skips[i].why);
    }
    int checked, failed;
    count_checks(r, &checked, &failed);
    fprintf(f,
            "\n%d result%s checked against the host, %d failed; %d measurement%s failed; "
            "%.0f s in all\n",
            checked, checked == 1 ? "" : "s", failed, bench_results_failures(r) - failed,
            bench_results_failures(r) - failed == 1 ? "" : "s", r->elapsed_s);
    fflush(f);
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                     */

static void json_stats(bench_json *j, const char *key, bench_stats s, double scale) {
    bench_json_open_object(j, key);
    bench_json_integer(j, "n", s.n);
    bench_json_number(j, "median", s.median * scale);
    bench_json_number(j, "mean", s.mean * scale);
    bench_json_number(j, "min", s.min * scale);
    bench_json_number(j, "max", s.max * scale);
    bench_json_number(j, "p10", s.p10 * scale);
    bench_json_number(j, "p90", s.p90 * scale);
    bench_json_close_object(j);
}

static void json_check(bench_json *j, bench_check c, double err, double tolerance, int images) {
    bench_json_open_object(j, "check");
    bench_json_string(j, "result",
                      c == BENCH_CHECK_PASS   ? "pass"
                      : c == BENCH_CHECK_FAIL ? "fail"
                                              : "not checked");
    bench_json_number(j, "max_rel_error", err);
    if (tolerance > 0)
        bench_json_number(j, "tolerance", tolerance);
    if (images >= 0)
        bench_json_integer(j, "images", images);
    bench_json_close_object(j);
}

static void json_outcome(bench_json *j, bench_outcome o, const char *error) {
    bench_json_string(j, "outcome", outcome_name(o));
    if (o == BENCH_FAILED || o == BENCH_SKIPPED)
        bench_json_string(j, "error", error);
}

void bench_report_json(FILE *f, const bench_results *r) {
    bench_json jw, *j = &jw;
    bench_json_init(j, f, 2);
    bench_json_open_object(j, NULL);
    bench_json_string(j, "tool", "clnet-bench");
    bench_json_string(j, "version", r->version);
    bench_json_string(j, "date", r->date);
    bench_json_string(j, "command", r->command);
    bench_json_number(j, "budget_s", r->budget_s);
    bench_json_number(j, "elapsed_s", r->elapsed_s);
    bench_json_integer(j, "repeat", r->repeat);
    bench_json_integer(j, "warmup", r->warmup);
    bench_json_number(j, "warmup_s", r->warmup_s);

    const bench_device *d = &r->device;
    bench_json_open_object(j, "device");
    bench_json_string(j, "name", d->name);
    bench_json_string(j, "type", d->type);
    bench_json_string(j, "platform", d->platform);
    bench_json_string(j, "vendor", d->vendor);
    bench_json_string(j, "version", d->version);
    bench_json_string(j, "driver", d->driver);
    bench_json_integer(j, "compute_units", d->compute_units);
    bench_json_integer(j, "clock_mhz", d->clock_mhz);
    bench_json_integer(j, "global_mem_bytes", (int64_t)d->global_mem_bytes);
    bench_json_string(j, "tuning", d->tuning);
    bench_json_close_object(j);

    const bench_ceilings *c = &r->ceilings;
    if (r->sections & BENCH_SECTION_CEILINGS) {
        bench_json_open_object(j, "ceilings");
        json_outcome(j, c->outcome, c->error);
        bench_json_number(j, "fma_gflops", c->fma_gflops);
        bench_json_string(j, "fma_variant", c->fma_variant);
        bench_json_number(j, "nominal_gflops", c->nominal_gflops > 0 ? c->nominal_gflops : NAN);
        bench_json_string(j, "nominal_basis", c->nominal_basis);
        bench_json_number(j, "datasheet_gflops",
                          c->datasheet_gflops > 0 ? c->datasheet_gflops : NAN);
        bench_json_number(j, "copy_gbps", c->copy_gbps);
        bench_json_number(j, "copy_buffer_mib", c->copy_mib);
        bench_json_number(j, "datasheet_gbps", c->datasheet_gbps > 0 ? c->datasheet_gbps : NAN);
        bench_json_number(j, "launch_us", c->launch_us);
        bench_json_close_object(j);
    } else {
        bench_json_null(j, "ceilings");
    }

    if (r->sections & BENCH_SECTION_START) {
        bench_json_open_object(j, "start");
        bench_json_string(j, "network", r->start_info.network);
        bench_json_integer(j, "batch", r->start_info.batch);
        for (int i = 0; i < 2; i++) {
            const bench_start *s = &r->starts[i];
            bench_json_open_object(j, s->kind);
            json_outcome(j, s->outcome, s->error);
            bench_json_integer(j, "runs", s->runs);
            bench_json_number(j, "open_s", s->open_s);
            bench_json_number(j, "build_s", s->build_s);
            bench_json_number(j, "first_batch_s", s->first_s);
            bench_json_number(j, "first_batch_min_s", s->min_first_s);
            bench_json_number(j, "first_batch_max_s", s->max_first_s);
            bench_json_close_object(j);
        }
        bench_json_close_object(j);
    } else {
        bench_json_null(j, "start");
    }

    bench_json_open_array(j, "gemm");
    for (int i = 0; i < r->n_gemm; i++) {
        const bench_gemm_row *g = &r->gemm[i];
        bench_json_open_object(j, NULL);
        bench_json_string(j, "backend", g->backend);
        bench_json_string(j, "kind", g->kind);
        bench_json_string(j, "where", g->where);
        bench_json_integer(j, "m", g->m);
        bench_json_integer(j, "n", g->n);
        bench_json_integer(j, "k", g->k);
        bench_json_integer(j, "batch", g->batch);
        json_outcome(j, g->outcome, g->error);
        bench_json_number(j, "first_call_ms", g->first_ms);
        json_stats(j, "ms", g->ms, 1.0);
        bench_json_number(j, "gflops", g->gflops);
        json_check(j, g->check, g->max_rel_error, 0, -1);
        bench_json_close_object(j);
    }
    bench_json_close_array(j);

    bench_json_open_array(j, "profiles");
    for (int i = 0; i < r->n_profiles; i++) {
        const bench_profile *p = &r->profiles[i];
        bench_json_open_object(j, NULL);
        bench_json_string(j, "network", p->network);
        bench_json_integer(j, "batch", p->batch);
        json_outcome(j, p->outcome, p->error);
        bench_json_integer(j, "runs", p->runs);
        bench_json_number(j, "steps_sum_ms", p->sum_ms);
        bench_json_number(j, "wall_ms", p->wall_ms);
        bench_json_number(j, "gap_ms", p->gap_ms);
        bench_json_number(j, "launch_us", p->launch_us);
        bench_json_bool(j, "consistent", p->consistent);
        bench_json_open_array(j, "steps");
        for (int s = 0; s < p->n_steps; s++) {
            const bench_layer_row *row = &p->steps[s];
            bench_json_open_object(j, NULL);
            bench_json_string(j, "label", row->label);
            bench_json_string(j, "kernel", row->kernel);
            bench_json_integer(j, "macs_per_image", (int64_t)row->macs_per_image);
            bench_json_number(j, "ms", row->ms >= 0 ? row->ms : NAN);
            bench_json_number(j, "share", row->share);
            bench_json_number(j, "gflops", row->macs_per_image ? row->gflops : NAN);
            bench_json_close_object(j);
        }
        bench_json_close_array(j);
        bench_json_close_object(j);
    }
    bench_json_close_array(j);

    bench_json_open_array(j, "networks");
    for (int i = 0; i < r->n_networks; i++) {
        const bench_network_row *n = &r->networks[i];
        bench_json_open_object(j, NULL);
        bench_json_string(j, "network", n->network);
        bench_json_integer(j, "batch", n->batch);
        json_outcome(j, n->outcome, n->error);
        bench_json_integer(j, "params", (int64_t)n->params);
        bench_json_integer(j, "macs_per_image", (int64_t)n->macs_per_image);
        bench_json_integer(j, "repeat", n->repeat);
        bench_json_number(j, "images_per_s", n->images_per_s);
        bench_json_number(j, "images_per_s_min", n->images_per_s_min);
        bench_json_number(j, "images_per_s_max", n->images_per_s_max);
        json_stats(j, "seconds", n->seconds, 1.0);
        bench_json_number(j, "gflops", n->gflops);
        bench_json_number(j, "peak_share", n->peak_share);
        bench_json_number(j, "setup_s", n->setup_s);
        json_check(j, n->check, n->max_rel_error, n->tolerance, n->check_images);
        bench_json_close_object(j);
    }
    bench_json_close_array(j);

    bench_json_open_array(j, "skipped");
    for (int i = 0; i < r->n_skips; i++) {
        bench_json_open_object(j, NULL);
        bench_json_string(j, "what", r->skips[i].what);
        bench_json_string(j, "why", r->skips[i].why);
        bench_json_close_object(j);
    }
    bench_json_close_array(j);
    bench_json_integer(j, "failures", bench_results_failures(r));
    bench_json_close_object(j);
}

/* ------------------------------------------------------------------------ */
/* Markdown                                                                 */

/* Text inside a table cell: '|' would end the cell and a backquote the
 * code span; line breaks would end the row. */
static void md_cell(FILE *f, const char *s) {
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '|')
            fputs("\\|", f);
        else if (*p == '\n' || *p == '\r')
            fputc(' ', f);
        else if (*p == '<')
            fputs("&lt;", f);
        else if (*p == '>')
            fputs("&gt;", f);
        else
            fputc(*p, f);
    }
}

/* A name in a code span, for labels with underscores. */
static void md_code(FILE *f, const char *s) {
    fputc('`', f);
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '|')
            fputs("\\|", f);
        else if (*p == '`')
            fputc('\'', f);
        else if (*p == '\n' || *p == '\r')
            fputc(' ', f);
        else
            fputc(*p, f);
    }
    fputc('`', f);
}

static void md_ceilings(FILE *f, const bench_results *r) {
    const bench_ceilings *c = &r->ceilings;
    char a[32];
    fprintf(f, "## Device ceilings\n\nMeasured by clnet-bench's own kernels "
               "(`cl/bench_ceilings.cl`).\n\n");
    if (c->outcome != BENCH_OK) {
        fprintf(f, "Not measured (%s): ", outcome_name(c->outcome));
        md_cell(f, c->error);
        fprintf(f, "\n\n");
        return;
    }
    fprintf(f, "| figure | value | how |\n|---|---:|---|\n");
    fprintf(f, "| FMA peak | %s GFLOP/s | %s; device time from profiling events |\n",
            bench_fmt_rate(c->fma_gflops, a, sizeof a), c->fma_variant);
    if (c->nominal_gflops > 0) {
        fprintf(f, "| nominal peak | %.1f GFLOP/s | ", c->nominal_gflops);
        md_cell(f, c->nominal_basis);
        fprintf(f, "; the measured peak is %.0f%% of it%s |\n",
                100.0 * c->fma_gflops / c->nominal_gflops,
                c->fma_gflops > c->nominal_gflops ? ", above it: the estimate is wrong" : "");
    }
    if (c->datasheet_gflops > 0)
        fprintf(f,
                "| datasheet peak | %.1f GFLOP/s | given with --peak-gflops; measured %.0f%% "
                "of it |\n",
                c->datasheet_gflops, 100.0 * c->fma_gflops / c->datasheet_gflops);
    fprintf(f, "| copy bandwidth | %s GB/s | 2 x %.0f MiB buffers, bytes read + written |\n",
            bench_fmt_rate(c->copy_gbps, a, sizeof a), c->copy_mib);
    if (c->datasheet_gbps > 0)
        fprintf(f,
                "| datasheet bandwidth | %.1f GB/s | given with --peak-gbps; measured %.0f%% "
                "of it |\n",
                c->datasheet_gbps, 100.0 * c->copy_gbps / c->datasheet_gbps);
    fprintf(f, "| launch latency | %s us | empty kernel, enqueue to finish, wall clock |\n\n",
            bench_fmt_rate(c->launch_us, a, sizeof a));
}

static void md_start(FILE *f, const bench_results *r) {
    fprintf(f,
            "## Start\n\nTime from spawning a child process to the first finished `%s` "
            "batch of %d. Cold: PoCL's and clnet's program caches point at a fresh, empty "
            "folder (`POCL_CACHE_DIR`, `CLNET_CACHE_DIR`); warm: a second process with the "
            "same folders.\n\n",
            r->start_info.network, r->start_info.batch);
    fprintf(f, "| start | runs | device open | net built | first batch | range |\n"
               "|---|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < 2; i++) {
        const bench_start *s = &r->starts[i];
        if (s->outcome != BENCH_OK) {
            fprintf(f, "| %s | %s: ", s->kind, outcome_name(s->outcome));
            md_cell(f, s->error);
            fprintf(f, " | | | | |\n");
            continue;
        }
        fprintf(f, "| %s | %d | %.3f s | %.3f s | **%.3f s** | %.3f - %.3f s |\n", s->kind, s->runs,
                s->open_s, s->build_s, s->first_s, s->min_first_s, s->max_first_s);
    }
    fprintf(f, "\n");
}

static void md_gemm(FILE *f, const bench_results *r) {
    const char *backends[4];
    int nb = gemm_backends(r, backends);
    char cell[48], ratio[32];
    fprintf(f, "## GEMM\n\nGFLOP/s = 2 M N K batch / median wall-clock time per call (enqueue "
               "to finish), for each backend through `clnet_gemm`. Convolution-shaped "
               "problems are those of the networks' convolutions as clnet runs them: M output "
               "channels, N output pixels, K = input channels x kernel height x width, one "
               "GEMM per image. Each result is checked against the host on sampled "
               "entries.\n\n");
    if (r->n_gemm == 0) {
        fprintf(f, "Nothing measured.\n\n");
        return;
    }
    fprintf(f, "| shape | M | N | K | batch |");
    for (int b = 0; b < nb; b++)
        fprintf(f, " %s |", backends[b]);
    if (nb == 2)
        fprintf(f, " %s / %s |", backends[0], backends[1]);
    fprintf(f, " where |\n|---|---:|---:|---:|---:|");
    for (int b = 0; b < nb + (nb == 2); b++)
        fprintf(f, "---:|");
    fprintf(f, "---|\n");
    for (int i = 0; i < r->n_gemm; i++) {
        const bench_gemm_row *g = &r->gemm[i];
        if (!first_of_shape(r, i))
            continue;
        fprintf(f, "| %s | %d | %d | %d | %d |", g->kind, g->m, g->n, g->k, g->batch);
        for (int b = 0; b < nb; b++)
            fprintf(f, " %s |", gemm_cell(gemm_for(r, g, backends[b]), cell, sizeof cell));
        if (nb == 2)
            fprintf(f, " %s |", bench_fmt_rate(gemm_ratio(r, g, backends), ratio, sizeof ratio));
        fputc(' ', f);
        md_cell(f, g->where);
        fprintf(f, " |\n");
    }
    fprintf(f, "\n");
    for (int b = 0; b < nb; b++) {
        double first = gemm_first_call_ms(r, backends[b]);
        if (isfinite(first))
            fprintf(f,
                    "- %s: the first call took %s (it includes compiling the kernels "
                    "when PoCL's cache does not hold them) and is counted as warm-up.\n",
                    backends[b], fmt_duration(first / 1e3, cell, sizeof cell));
    }
    for (int i = 0; i < r->n_gemm; i++) {
        const bench_gemm_row *g = &r->gemm[i];
        if (g->outcome == BENCH_FAILED || g->check == BENCH_CHECK_FAIL) {
            fprintf(f, "- %s %dx%dx%d: ", g->backend, g->m, g->n, g->k);
            md_cell(f, g->outcome == BENCH_FAILED ? g->error : "result does not match the host");
            fprintf(f, "\n");
        }
    }
    fprintf(f, "\n");
}

/* Images/s with networks as rows and batch sizes as columns. */
static void md_pivot(FILE *f, const bench_results *r) {
    int batches[16], nb = 0;
    char cell[32];
    for (int i = 0; i < r->n_networks; i++) {
        int b = 0;
        while (b < nb && batches[b] != r->networks[i].batch)
            b++;
        if (b == nb && nb < 16) {
            int pos = nb++;
            while (pos > 0 && batches[pos - 1] > r->networks[i].batch) {
                batches[pos] = batches[pos - 1];
                pos--;
            }
            batches[pos] = r->networks[i].batch;
        }
    }
    if (nb == 0)
        return;
    fprintf(f, "| network | M MACs/image |");
    for (int b = 0; b < nb; b++)
        fprintf(f, " batch %d |", batches[b]);
    fprintf(f, "\n|---|---:|");
    for (int b = 0; b < nb; b++)
        fprintf(f, "---:|");
    fprintf(f, "\n");
    int *order = network_order(r);
    for (int i = 0; i < r->n_networks && order; i++) {
        const bench_network_row *first = &r->networks[order[i]];
        if (i > 0 && !strcmp(r->networks[order[i - 1]].network, first->network))
            continue;
        fprintf(f, "| %s | %.1f |", first->network, (double)first->macs_per_image / 1e6);
        for (int b = 0; b < nb; b++) {
            const bench_network_row *n = NULL;
            for (int j = 0; j < r->n_networks && !n; j++)
                if (!strcmp(r->networks[j].network, first->network) &&
                    r->networks[j].batch == batches[b])
                    n = &r->networks[j];
            if (!n)
                fprintf(f, " |");
            else if (n->outcome == BENCH_OK)
                fprintf(f, " %s%s |", bench_fmt_rate(n->images_per_s, cell, sizeof cell),
                        n->check == BENCH_CHECK_FAIL ? " (wrong)" : "");
            else
                fprintf(f, " %s |", outcome_name(n->outcome));
        }
        fprintf(f, "\n");
    }
    free(order);
    fprintf(f, "\n");
}

static void md_networks(FILE *f, const bench_results *r, const char *chart_href) {
    char ips[32], lo[32], hi[32], gf[32], pk[32], ck[48];
    fprintf(f, "## Images/s\n\nWall clock per batch (upload, run, read back), median of the "
               "timed runs after warm-up, with the slowest and fastest run. GFLOP/s is the "
               "effective rate 2 x multiply-accumulates x images/s; %% peak compares it with "
               "the measured FMA peak. Every row is checked against the host reference (the "
               "logits of the first images of the batch).\n\n");
    if (chart_href)
        fprintf(f, "![images/s per network and batch size](%s)\n\n", chart_href);
    md_pivot(f, r);
    fprintf(f, "| network | batch | images/s | min | max | ms/batch | GFLOP/s | %% peak | "
               "check (max rel. error) |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
    int *order = network_order(r);
    for (int i = 0; i < r->n_networks && order; i++) {
        const bench_network_row *n = &r->networks[order[i]];
        if (n->outcome != BENCH_OK) {
            fprintf(f, "| %s | %d | %s | | | | | | ", n->network, n->batch,
                    outcome_name(n->outcome));
            md_cell(f, n->error);
            fprintf(f, " |\n");
            continue;
        }
        fprintf(f, "| %s | %d | **%s** | %s | %s | %.2f | %s | %s | %s%s |\n", n->network, n->batch,
                bench_fmt_rate(n->images_per_s, ips, sizeof ips),
                bench_fmt_rate(n->images_per_s_min, lo, sizeof lo),
                bench_fmt_rate(n->images_per_s_max, hi, sizeof hi), 1e3 * n->seconds.median,
                bench_fmt_rate(n->gflops, gf, sizeof gf), fmt_percent(n->peak_share, pk, sizeof pk),
                fmt_check(n->check, n->max_rel_error, ck, sizeof ck),
                n->repeat < r->repeat ? " (fewer runs)" : "");
    }
    free(order);
    fprintf(f, "\n");
}

static void md_profiles(FILE *f, const bench_results *r) {
    char a[32], b[32];
    fprintf(f, "## Per-layer device time\n\nDevice time of each compiled step (after folding "
               "and fusion) from OpenCL profiling events, in a context with profiling on; "
               "of several runs, the one with the median wall time is shown. The steps' sum "
               "should come close to the wall clock of the same run: the gap is launch "
               "overhead and the transfers.\n\n");
    if (r->n_profiles == 0)
        fprintf(f, "Nothing profiled.\n\n");
    for (int i = 0; i < r->n_profiles; i++) {
        const bench_profile *p = &r->profiles[i];
        fprintf(f, "### %s, batch %d\n\n", p->network, p->batch);
        if (p->outcome != BENCH_OK) {
            fprintf(f, "%s: ", outcome_name(p->outcome));
            md_cell(f, p->error);
            fprintf(f, "\n\n");
            continue;
        }
        profile_summary_line(f, p, "");
        fprintf(f, "\n| kernel | steps | ms | share | GFLOP/s |\n|---|---:|---:|---:|---:|\n");
        kernel_total totals[32];
        int nk = kernel_totals(p, totals, 32);
        for (int k = 0; k < nk; k++) {
            fprintf(f, "| ");
            md_code(f, totals[k].kernel);
            fprintf(f, " | %d | %.3f | %s | %s |\n", totals[k].steps, totals[k].ms,
                    fmt_percent(totals[k].ms / p->sum_ms, a, sizeof a),
                    totals[k].macs > 0
                        ? bench_fmt_rate(2.0 * totals[k].macs / (totals[k].ms * 1e6), b, sizeof b)
                        : "-");
        }
        fprintf(f,
                "\n<details><summary>All %d steps</summary>\n\n"
                "| # | step | kernel | MACs/image | ms | share | GFLOP/s |\n"
                "|---:|---|---|---:|---:|---:|---:|\n",
                p->n_steps);
        for (int s = 0; s < p->n_steps; s++) {
            const bench_layer_row *row = &p->steps[s];
            fprintf(f, "| %d | ", s);
            md_code(f, row->label);
            fprintf(f, " | ");
            md_code(f, row->kernel);
            fprintf(f, " | %" PRIu64 " | %.3f | %s | %s |\n", row->macs_per_image, row->ms,
                    fmt_percent(row->share, a, sizeof a),
                    row->macs_per_image ? bench_fmt_rate(row->gflops, b, sizeof b) : "-");
        }
        fprintf(f, "\n</details>\n\n");
    }
}

void bench_report_markdown(FILE *f, const bench_results *r, const char *chart_href) {
    const bench_device *d = &r->device;
    int checked, failed;
    count_checks(r, &checked, &failed);
    fprintf(f, "# clnet-bench report\n\n");
    fprintf(f, "| | |\n|---|---|\n| device | ");
    md_cell(f, d->name);
    fprintf(f, " (%s, %u compute units, %u MHz) |\n| platform | ", d->type, d->compute_units,
            d->clock_mhz);
    md_cell(f, d->platform);
    fprintf(f, "; ");
    md_cell(f, d->version);
    fprintf(f, "; driver ");
    md_cell(f, d->driver);
    fprintf(f, " |\n| tuning | ");
    md_cell(f, d->tuning);
    fprintf(f, " |\n| clnet | %s |\n| date | %s |\n| command | `", r->version, r->date);
    for (const char *p = r->command; *p; p++)
        fputc(*p == '`' ? '\'' : *p == '|' ? '/' : *p, f);
    fprintf(f, "` |\n| budget | ");
    if (r->budget_s > 0)
        fprintf(f, "%.0f s", r->budget_s);
    else
        fprintf(f, "none");
    fprintf(f,
            "; %d timed runs after %d warm-up and %.1f s |\n| took | %.0f s |\n| checks | %d "
            "checked, %d failed |\n\n",
            r->repeat, r->warmup, r->warmup_s, r->elapsed_s, checked, failed);

    if (r->sections & BENCH_SECTION_CEILINGS)
        md_ceilings(f, r);
    if (r->sections & BENCH_SECTION_NETWORKS)
        md_networks(f, r, chart_href);
    if (r->sections & BENCH_SECTION_START)
        md_start(f, r);
    if (r->sections & BENCH_SECTION_GEMM)
        md_gemm(f, r);
    if (r->sections & BENCH_SECTION_LAYERS)
        md_profiles(f, r);
    if (r->n_skips > 0) {
        fprintf(f, "## Skipped\n\n");
        for (int i = 0; i < r->n_skips; i++) {
            fprintf(f, "- ");
            md_cell(f, r->skips[i].what);
            fprintf(f, ": ");
            md_cell(f, r->skips[i].why);
            fprintf(f, "\n");
        }
        fprintf(f, "\n");
    }
    fprintf(f, "## Peers\n\n" BENCH_PEERS_BEGIN "\n"
               "Not measured yet: `python3 bench/peers/peers.py --report REPORT.md` runs ONNX "
               "Runtime, PyTorch and OpenVINO on the same networks and weights, interleaved "
               "with clnet, and fills in this section.\n" BENCH_PEERS_END "\n");
}

int bench_chart_path_for(const char *report_path, char *out, size_t size) {
    size_t len = strlen(report_path);
    int n;
    if (len >= 3 && !strcmp(report_path + len - 3, ".md"))
        n = snprintf(out, size, "%.*s.svg", (int)(len - 3), report_path);
    else
        n = snprintf(out, size, "%s.svg", report_path);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* The chart's path as the report should link it: relative to the report's
 * folder when both share it, else as given. */
static const char *relative_href(const char *report_path, const char *chart_path) {
    const char *rs = strrchr(report_path, '/');
    const char *cs = strrchr(chart_path, '/');
    size_t rdir = rs ? (size_t)(rs - report_path) : 0;
    size_t cdir = cs ? (size_t)(cs - chart_path) : 0;
    if (rdir == cdir && !strncmp(report_path, chart_path, rdir))
        return cs ? cs + 1 : chart_path;
    return chart_path;
}

int bench_report_write_files(const bench_results *r, const char *report_path,
                             const char *chart_path, char *err, size_t err_size) {
    if (chart_path) {
        FILE *f = fopen(chart_path, "w");
        if (!f) {
            bench_set_error(err, err_size, "writing the chart '%s': %s", chart_path,
                            strerror(errno));
            return -1;
        }
        bench_chart_svg(f, r);
        if (fclose(f) != 0) {
            bench_set_error(err, err_size, "writing the chart '%s': %s", chart_path,
                            strerror(errno));
            return -1;
        }
    }
    if (report_path) {
        FILE *f = fopen(report_path, "w");
        if (!f) {
            bench_set_error(err, err_size, "writing the report '%s': %s", report_path,
                            strerror(errno));
            return -1;
        }
        bench_report_markdown(f, r, chart_path ? relative_href(report_path, chart_path) : NULL);
        if (fclose(f) != 0) {
            bench_set_error(err, err_size, "writing the report '%s': %s", report_path,
                            strerror(errno));
            return -1;
        }
    }
    return 0;
}
