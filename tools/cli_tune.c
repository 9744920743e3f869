/* `clnet tune`: measures every convolution algorithm on the convolutions of
 * a model on one device and keeps the fastest per layer shape in the
 * device's tuning file; `clnet tune --show` prints that file's table. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char HELP_TUNE[] =
    "usage: clnet tune MODEL [OPTIONS]\n"
    "       clnet tune --show [--out FILE]\n"
    "\n"
    "Measures every convolution algorithm (direct, im2col_gemm, gemm1x1, winograd2x2,\n"
    "winograd4x4) on every convolution of MODEL on the device, with OpenCL\n"
    "profiling events, and writes the fastest per layer shape into the device's\n"
    "tuning file. Every later context on the same device, driver and clnet version\n"
    "loads it, and networks whose convolution algorithm is auto (the default) use\n"
    "the tuned algorithms; shapes not in the file keep the built-in rule. Entries\n"
    "already in the file stay unless their shape is measured again. See\n"
    "docs/tuning.md.\n"
    "\n"
    "  --batch N      images per run (default 32); tune at the batch you will run\n"
    "  --repeat R     profiled runs per algorithm after one warm-up (default 5); a\n"
    "                 layer's cost is the median\n"
    "  --out FILE     tuning file to merge into and write (default: $CLNET_TUNING_FILE,\n"
    "                 else <cache>/tuning/<device>-<hash>.json, <cache> being\n"
    "                 $CLNET_CACHE_DIR, else $XDG_CACHE_HOME/clnet, else ~/.cache/clnet)\n"
    "  --show         print the table of FILE (default: the device's file) and exit\n"
    "  --seed S       seed of the weights and inputs (default 42)\n"
    "  --arch NAME    architecture of a weights-only model file (see clnet --help)\n"
    "\n"
    "A layer's cost under an algorithm is the device time of its step plus that of\n"
    "the batch-norm, ReLU and residual-add steps other algorithms fuse into it, so\n"
    "that algorithms that fuse and algorithms that do not compare fairly. Tuning\n"
    "runs the whole model once per algorithm, 1 + R times: minutes for big models.\n";

/* "16x32x32 k3x3 s1 p1 -> 16x32x32": input, kernel, stride, padding (top,
 * bottom, left, right when they differ), dilation when not 1, output. */
static const char *fmt_conv_shape(const clnet_conv_shape *s, char *buf, size_t size) {
    char stride[32], pad[64], dilation[32] = "";
    if (s->stride_h == s->stride_w)
        snprintf(stride, sizeof stride, "%d", s->stride_h);
    else
        snprintf(stride, sizeof stride, "%dx%d", s->stride_h, s->stride_w);
    if (s->pad_top == s->pad_bottom && s->pad_top == s->pad_left && s->pad_top == s->pad_right)
        snprintf(pad, sizeof pad, "%d", s->pad_top);
    else
        snprintf(pad, sizeof pad, "%d,%d,%d,%d", s->pad_top, s->pad_bottom, s->pad_left,
                 s->pad_right);
    if (s->dilation_h != 1 || s->dilation_w != 1)
        snprintf(dilation, sizeof dilation, " d%dx%d", s->dilation_h, s->dilation_w);
    snprintf(buf, size, "%dx%dx%d k%dx%d s%s p%s%s -> %dx%dx%d", s->in_c, s->in_h, s->in_w,
             s->kernel_h, s->kernel_w, stride, pad, dilation, s->out_c, s->out_h, s->out_w);
    return buf;
}

static void json_conv_shape(json *j, const char *key, const clnet_conv_shape *s) {
    json_open(j, key, '{');
    clnet_shape in = {3, s->in_c, s->in_h, s->in_w}, out = {3, s->out_c, s->out_h, s->out_w};
    json_shape(j, "in", in);
    json_shape(j, "out", out);
    json_open(j, "kernel", '[');
    json_u64(j, NULL, (uint64_t)s->kernel_h);
    json_u64(j, NULL, (uint64_t)s->kernel_w);
    json_close(j, ']');
    json_open(j, "stride", '[');
    json_u64(j, NULL, (uint64_t)s->stride_h);
    json_u64(j, NULL, (uint64_t)s->stride_w);
    json_close(j, ']');
    json_open(j, "dilation", '[');
    json_u64(j, NULL, (uint64_t)s->dilation_h);
    json_u64(j, NULL, (uint64_t)s->dilation_w);
    json_close(j, ']');
    json_open(j, "pad", '[');
    json_u64(j, NULL, (uint64_t)s->pad_top);
    json_u64(j, NULL, (uint64_t)s->pad_bottom);
    json_u64(j, NULL, (uint64_t)s->pad_left);
    json_u64(j, NULL, (uint64_t)s->pad_right);
    json_close(j, ']');
    json_close(j, '}');
}

/* Milliseconds by algorithm name; algorithms without a time are left out. */
static void json_ms(json *j, const double *ms) {
    json_open(j, "ms", '{');
    for (int a = CLNET_CONV_DIRECT; a < CLNET_CONV_ALGO_COUNT; a++)
        if (ms[a] >= 0)
            json_num(j, clnet_conv_algo_name((clnet_conv_algo)a), ms[a]);
    json_close(j, '}');
}

/* The header of a table of times: one column per algorithm. */
static void print_algo_columns(void) {
    for (int a = CLNET_CONV_DIRECT; a < CLNET_CONV_ALGO_COUNT; a++)
        printf("  %12s", clnet_conv_algo_name((clnet_conv_algo)a));
}

/* One row of times, the chosen algorithm's marked with '*'. */
static void print_times(const double *ms, clnet_conv_algo chosen) {
    for (int a = CLNET_CONV_DIRECT; a < CLNET_CONV_ALGO_COUNT; a++) {
        char t[32] = "-";
        if (ms[a] >= 0)
            snprintf(t, sizeof t, "%.3f%s", ms[a], a == (int)chosen ? "*" : " ");
        printf("  %12s", t);
    }
}

/* GEMM entries (the table's GEMM section, or what a tuning measured). */
static void json_gemm(json *j, const clnet_tuning_gemm_entry *e) {
    json_open(j, NULL, '{');
    json_str(j, "kernel", e->kernel);
    json_u64(j, "m", (uint64_t)e->m);
    json_u64(j, "n", (uint64_t)e->n);
    json_u64(j, "k", (uint64_t)e->k);
    json_u64(j, "batch", (uint64_t)e->batch);
    json_u64(j, "prologue", (uint64_t)e->prologue);
    json_str(j, "config", e->config);
    json_bool(j, "default", e->is_default);
    if (e->ms >= 0)
        json_num(j, "ms", e->ms);
    if (e->default_ms >= 0)
        json_num(j, "default_ms", e->default_ms);
    json_close(j, '}');
}

static void print_gemm_header(void) {
    printf("\n%-10s  %5s  %5s  %5s  %5s  %-8s  %-20s  %9s  %9s  %7s\n", "Kernel", "M", "N", "K",
           "Batch", "Prologue", "Configuration", "ms", "default", "speedup");
}

static void print_gemm(const clnet_tuning_gemm_entry *e) {
    static const char *const prologues[] = {"-", "bn", "bn+relu"};
    char ms[24] = "-", def[24] = "-", ratio[24] = "-";
    if (e->ms >= 0)
        snprintf(ms, sizeof ms, "%.4f", e->ms);
    if (e->default_ms >= 0)
        snprintf(def, sizeof def, "%.4f", e->default_ms);
    if (e->ms > 0 && e->default_ms >= 0)
        snprintf(ratio, sizeof ratio, "%.2fx", e->default_ms / e->ms);
    printf("%-10s  %5d  %5d  %5d  %5d  %-8s  %-20s  %9s  %9s  %7s\n", e->kernel, e->m, e->n, e->k,
           e->batch, prologues[e->prologue >= 0 && e->prologue <= 2 ? e->prologue : 0], e->config,
           ms, def, ratio);
}

/* ------------------------------------------------------------------------ */
/* clnet tune --show                                                        */

static int show_table(clnet_context *ctx, const char *path, const char *load_error, json *j) {
    const clnet_device_info *dev = clnet_context_device(ctx);
    int n = clnet_tuning_entry_count(ctx);
    const char *enabled = getenv("CLNET_TUNING");
    int disabled = enabled && strcmp(enabled, "0") == 0;
    if (j) {
        json_open(j, NULL, '{');
        json_str(j, "device", dev->name);
        json_str(j, "driver_version", dev->driver_version);
        json_str(j, "platform", dev->platform_name);
        json_str(j, "clnet_version", CLNET_VERSION_STRING);
        json_str(j, "file", path);
        if (load_error)
            json_str(j, "ignored", load_error);
        json_bool(j, "loading_disabled", disabled);
        json_u64(j, "clblast_kernels", (uint64_t)clnet_tuning_clblast_kernels(ctx));
        json_open(j, "entries", '[');
        for (int i = 0; i < n; i++) {
            clnet_tuning_entry e;
            if (clnet_tuning_entry_at(ctx, i, &e) != CLNET_STATUS_OK)
                return cli_fail("reading tuning entry %d", i);
            json_open(j, NULL, '{');
            json_conv_shape(j, "shape", &e.shape);
            json_str(j, "algo", clnet_conv_algo_name(e.algo));
            json_u64(j, "batch", (uint64_t)e.batch);
            json_ms(j, e.ms);
            json_close(j, '}');
        }
        json_close(j, ']');
        json_open(j, "gemm", '[');
        for (int i = 0; i < clnet_tuning_gemm_count(ctx); i++) {
            clnet_tuning_gemm_entry e;
            if (clnet_tuning_gemm_entry_at(ctx, i, &e) != CLNET_STATUS_OK)
                return cli_fail("reading GEMM tuning entry %d", i);
            json_gemm(j, &e);
        }
        json_close(j, ']');
        json_close(j, '}');
        return RC_OK;
    }

    printf("Device     %s [%d:%d]\n", dev->name, dev->platform_index, dev->device_index);
    printf("           driver %s, platform %s, clnet %s\n", dev->driver_version, dev->platform_name,
           CLNET_VERSION_STRING);
    if (load_error)
        printf("File       %s\n           ignored: %s\n", path, load_error);
    else if (n == 0 && !clnet_tuning_source(ctx)[0])
        printf("File       %s (none yet: the built-in rule chooses every algorithm)\n", path);
    else
        printf("File       %s (%d shape%s)\n", path, n, n == 1 ? "" : "s");
    if (disabled)
        printf("           CLNET_TUNING=0: contexts do not load it\n");
    int clblast = clnet_tuning_clblast_kernels(ctx);
    if (clblast > 0)
        printf("CLBlast    parameters of %d kernel%s handed to CLBlast\n", clblast,
               clblast == 1 ? "" : "s");
    int gemms = clnet_tuning_gemm_count(ctx);
    if (gemms > 0) {
        printf("GEMM       %d shape%s with a tuned configuration\n", gemms, gemms == 1 ? "" : "s");
        print_gemm_header();
        for (int i = 0; i < gemms; i++) {
            clnet_tuning_gemm_entry e;
            if (clnet_tuning_gemm_entry_at(ctx, i, &e) != CLNET_STATUS_OK)
                return cli_fail("reading GEMM tuning entry %d", i);
            print_gemm(&e);
        }
        printf("\nGEMM times are device milliseconds per call when tuned.\n");
    }
    if (n == 0)
        return RC_OK;

    char buf[160];
    int shape_w = 5;
    for (int i = 0; i < n; i++) {
        clnet_tuning_entry e;
        if (clnet_tuning_entry_at(ctx, i, &e) == CLNET_STATUS_OK) {
            int w = (int)strlen(fmt_conv_shape(&e.shape, buf, sizeof buf));
            shape_w = w > shape_w ? w : shape_w;
        }
    }
    printf("\n%4s  %-*s  %-12s  %5s", "#", shape_w, "Shape", "Algorithm", "Batch");
    print_algo_columns();
    printf("\n");
    for (int i = 0; i < n; i++) {
        clnet_tuning_entry e;
        if (clnet_tuning_entry_at(ctx, i, &e) != CLNET_STATUS_OK)
            return cli_fail("reading tuning entry %d", i);
        printf("%4d  %-*s  %-12s  %5d", i, shape_w, fmt_conv_shape(&e.shape, buf, sizeof buf),
               clnet_conv_algo_name(e.algo), e.batch);
        print_times(e.ms, e.algo);
        printf("\n");
    }
    printf("\nTimes are device milliseconds per layer when tuned; * marks the algorithm used.\n");
    return RC_OK;
}

/* ------------------------------------------------------------------------ */
/* clnet tune MODEL                                                         */

typedef struct tune_args {
    int batch, repeat, show;
    uint64_t seed;
    const char *out, *arch;
} tune_args;

static void print_report(json *j, const tune_args *a, const char *model,
                         const clnet_device_info *dev, const clnet_tune_report *r, const char *path,
                         int had, int entries) {
    if (j) {
        json_open(j, NULL, '{');
        json_str(j, "model", model);
        json_str(j, "device", dev->name);
        json_u64(j, "batch", (uint64_t)a->batch);
        json_u64(j, "repeat", (uint64_t)a->repeat);
        json_u64(j, "algorithms_measured", (uint64_t)r->n_candidates);
        json_num(j, "seconds", r->seconds);
        json_open(j, "layers", '[');
        for (int i = 0; i < r->n_layers; i++) {
            const clnet_tune_layer *l = &r->layers[i];
            json_open(j, NULL, '{');
            json_str(j, "name", l->name);
            json_u64(j, "node", (uint64_t)l->node);
            json_conv_shape(j, "shape", &l->shape);
            json_ms(j, l->ms);
            if (l->fastest == CLNET_CONV_AUTO)
                json_null(j, "fastest");
            else
                json_str(j, "fastest", clnet_conv_algo_name(l->fastest));
            if (l->chosen == CLNET_CONV_AUTO)
                json_null(j, "chosen");
            else
                json_str(j, "chosen", clnet_conv_algo_name(l->chosen));
            json_close(j, '}');
        }
        json_close(j, ']');
        json_u64(j, "shapes", (uint64_t)r->n_shapes);
        json_open(j, "gemm", '[');
        for (int i = 0; i < r->n_gemms; i++)
            json_gemm(j, &r->gemms[i]);
        json_close(j, ']');
        json_str(j, "file", path);
        json_u64(j, "entries_before", (uint64_t)had);
        json_u64(j, "entries", (uint64_t)entries);
        json_close(j, '}');
        return;
    }

    char buf[160];
    int name_w = 5, shape_w = 5, differs = 0;
    for (int i = 0; i < r->n_layers; i++) {
        int w = (int)strlen(r->layers[i].name);
        name_w = w > name_w ? w : name_w;
        w = (int)strlen(fmt_conv_shape(&r->layers[i].shape, buf, sizeof buf));
        shape_w = w > shape_w ? w : shape_w;
    }
    printf("\n%-*s  %-*s", name_w, "Layer", shape_w, "Shape");
    print_algo_columns();
    printf("  %s\n", "Chosen");
    for (int i = 0; i < r->n_layers; i++) {
        const clnet_tune_layer *l = &r->layers[i];
        printf("%-*s  %-*s", name_w, l->name, shape_w, fmt_conv_shape(&l->shape, buf, sizeof buf));
        print_times(l->ms, l->chosen);
        printf("  %s",
               l->chosen == CLNET_CONV_AUTO ? "(not measured)" : clnet_conv_algo_name(l->chosen));
        if (l->fastest != l->chosen) {
            printf(" (alone: %s)", clnet_conv_algo_name(l->fastest));
            differs = 1;
        }
        printf("\n");
    }
    printf("\nDevice milliseconds per layer and batch (median of %d runs); * marks the choice.\n",
           a->repeat);
    if (differs)
        printf("Layers of one shape share a choice: the fastest over all of them; 'alone' names\n"
               "a layer's own fastest where it differs.\n");
    if (r->n_gemms > 0) {
        int changed = 0;
        print_gemm_header();
        for (int i = 0; i < r->n_gemms; i++) {
            print_gemm(&r->gemms[i]);
            changed += !r->gemms[i].is_default;
        }
        printf("\nEach GEMM call of the tuned net timed alone in every configuration of clnet's\n"
               "kernel (median of %d calls, device ms); %d of %d run faster than the default.\n",
               a->repeat, changed, r->n_gemms);
    }
    printf("%d convolution%s, %d shape%s; %d algorithm%s measured in %.1f s.\n", r->n_layers,
           r->n_layers == 1 ? "" : "s", r->n_shapes, r->n_shapes == 1 ? "" : "s", r->n_candidates,
           r->n_candidates == 1 ? "" : "s", r->seconds);
    printf("Wrote %d entr%s to %s (%d before).\n", entries, entries == 1 ? "y" : "ies", path, had);
}

int cmd_tune(int argc, char **argv, cli_opts *o) {
    tune_args a = {32, 5, 0, DEFAULT_SEED, NULL, NULL};
    const opt_spec specs[] = {
        {"--batch", OPT_INT, &a.batch, 1}, {"--repeat", OPT_INT, &a.repeat, 1},
        {"--show", OPT_FLAG, &a.show, 0},  {"--seed", OPT_U64, &a.seed, 0},
        {"--out", OPT_STRING, &a.out, 0},  {"--arch", OPT_STRING, &a.arch, 0}};
    const char *model = NULL;
    int n_pos = 0;
    int rc = cli_parse_args("tune", HELP_TUNE, argc, argv, specs,
                            (int)(sizeof specs / sizeof *specs), &model, 1, &n_pos, o);
    if (rc != RC_OK)
        return rc == RC_HELP ? RC_OK : rc;
    if (a.show && n_pos != 0)
        return cli_usage_error("tune", "--show takes no MODEL");
    if (!a.show && n_pos != 1)
        return cli_usage_error("tune", "expected one MODEL, or --show");
    if (a.out && !a.out[0])
        return cli_usage_error("tune", "--out needs a file name");

    clnet_graph *g = NULL;
    clnet_context *ctx = NULL;
    clnet_tune_report report;
    memset(&report, 0, sizeof report);
    char path[1024], load_error[1024] = "";
    json jw = {stdout, 0, {0}}, *j = o->json ? &jw : NULL;
    rc = RC_FAIL;

    if (!a.show) {
        int open_rc = cli_open_model("tune", model, a.arch, a.seed, &g);
        if (open_rc != RC_OK) {
            rc = open_rc;
            goto done;
        }
    }
    clnet_context_options copt = {1};
    if (clnet_context_create(o->device, &copt, &ctx) != CLNET_STATUS_OK) {
        cli_fail("opening device '%s'", o->device ? o->device : "(default)");
        goto done;
    }
    const clnet_device_info *dev = clnet_context_device(ctx);
    if (a.out)
        snprintf(path, sizeof path, "%s", a.out);
    else if (clnet_tuning_default_path(ctx, path, sizeof path) != CLNET_STATUS_OK) {
        cli_fail("finding the tuning file of %s", dev->name);
        goto done;
    }

    /* Start from the file's own table (whatever the context loaded at
     * opening), so that the file keeps its other shapes. */
    clnet_tuning_clear(ctx);
    clnet_status loaded = clnet_tuning_load(ctx, path);
    if (loaded != CLNET_STATUS_OK && loaded != CLNET_STATUS_NOT_FOUND)
        snprintf(load_error, sizeof load_error, "%s", clnet_last_error());
    if (a.show) {
        rc = show_table(ctx, path, load_error[0] ? load_error : NULL, j);
        goto done;
    }
    int had = clnet_tuning_entry_count(ctx);
    if (load_error[0])
        fprintf(stderr, "clnet tune: replacing the table: %s\n", load_error);

    if (!j) {
        printf("Tuning     %s on %s [%d:%d]\n", model, dev->name, dev->platform_index,
               dev->device_index);
        printf("Runs       batch %d, 1 warm-up + %d profiled run%s per algorithm\n", a.batch,
               a.repeat, a.repeat == 1 ? "" : "s");
        printf("File       %s (%d entr%s before)\n", path, had, had == 1 ? "y" : "ies");
        fflush(stdout);
    }
    if (clnet_tune_graph(ctx, g, a.batch, a.repeat, &report) != CLNET_STATUS_OK) {
        cli_fail("tuning '%s' on %s", model, dev->name);
        goto done;
    }
    if (clnet_tuning_save(ctx, path) != CLNET_STATUS_OK) {
        cli_fail("saving the tuning table");
        goto done;
    }
    print_report(j, &a, model, dev, &report, path, had, clnet_tuning_entry_count(ctx));
    rc = RC_OK;

done:
    clnet_tune_report_free(&report);
    clnet_context_destroy(ctx);
    clnet_graph_destroy(g);
    return rc;
}
