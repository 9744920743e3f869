/* `clnet run` and `clnet selftest`: run networks on a device, check them
 * against the host reference, and time them. */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NETWORKS 64

static const char *const BUILTIN_NETWORKS[] = {
    "resnet20v1", "resnet32v1", "resnet44v1",  "resnet56v1",  "resnet110v1",
    "resnet20v2", "resnet56v2", "resnet110v2", "densenet100", "ynet",
};

static const char HELP_RUN[] =
    "usage: clnet run MODEL [OPTIONS]\n"
    "\n"
    "Runs MODEL once, checks the outputs against the host reference, then times it.\n"
    "\n"
    "  --batch N          images per run (default 32)\n"
    "  --repeat R         timed runs (default 10); images/s is batch / median time\n"
    "  --warmup W         untimed runs before them (default 2)\n"
    "  --input FILE       raw float32 NCHW images for input 0; a whole number of\n"
    "                     images, repeated to fill the batch. Every input of the same\n"
    "                     shape reads the same file; other inputs are random.\n"
    "                     Default: uniform random in (0, 1) from the seed.\n"
    "  --seed S           seed of the weights and the random input (default 42)\n"
    "  --check-batch K    check only the first K images against the host reference,\n"
    "                     which is slow on big batches (default min(batch, 4);\n"
    "                     0 skips the check)\n"
    "  --tolerance T      largest accepted max |got - ref| / max |ref| (default 1e-4)\n"
    "  --profile          print the device time of every step of the last run\n"
    "  --logits           output (and check) the values before a final softmax, which\n"
    "                     with random weights often saturates and hides differences\n"
    "  --conv-algo A      auto, direct, im2col, gemm1x1, winograd2x2 or winograd4x4\n"
    "                     (default auto; layers an algorithm does not fit fall back)\n"
    "  --gemm B           auto, clnet or clblast (default auto)\n"
    "  --batch-chunk N    images per pass through the network; a larger batch runs\n"
    "                     pass by pass (default 0: the device's choice)\n"
    "  --arch NAME        architecture of a weights-only model file (see clnet --help)\n"
    "\n"
    "Exits with 1 when the check fails.\n";

static const char HELP_SELFTEST[] =
    "usage: clnet selftest [--batch N] [--networks A,B,...] [--tolerance T] [--json]\n"
    "\n"
    "Runs every built-in network on the device, checks the logits (the values\n"
    "before the final softmax) of the first min(batch, 2) images against the host\n"
    "reference, and times 5 runs after 1 warm-up.\n"
    "\n"
    "  --batch N          images per run (default 8)\n"
    "  --networks LIST    comma-separated names (default: resnet20v1, resnet32v1,\n"
    "                     resnet44v1, resnet56v1, resnet110v1, resnet20v2, resnet56v2,\n"
    "                     resnet110v2, densenet100, ynet)\n"
    "  --tolerance T      largest accepted relative error (default 1e-4)\n"
    "  --seed S           seed of the weights and inputs (default 42)\n"
    "\n"
    "Exits with 1 if any network fails.\n";

/* ------------------------------------------------------------------------ */
/* clnet run                                                                */

/* Indexed by enum value: CLNET_CONV_* and CLNET_GEMM_*. */
/* In clnet_conv_algo order, so that the index is the enum value. */
static const char *const CONV_ALGO_NAMES[] = {"auto",    "direct",      "im2col",
                                              "gemm1x1", "winograd2x2", "winograd4x4"};
static const char *const GEMM_NAMES[] = {"auto", "clnet", "clblast"};

static int name_index(const char *const *names, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

/* Feeds every input shaped like input 0 from a raw float32 NCHW file,
 * repeating its images to fill the batch; other inputs keep their random
 * data. Gives the number of images in the file and of inputs fed. */
static int load_input_file(work *w, const char *path, size_t *n_images, int *n_fed) {
    size_t image_bytes = w->in_size[0] * sizeof(float), use;
    long bytes = -1;
    float *data = NULL;
    int rc = RC_FAIL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_fail_msg("opening input file '%s': %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) == 0)
        bytes = ftell(f);
    if (bytes < 0 || fseek(f, 0, SEEK_SET) != 0) {
        cli_fail_msg("finding the size of input file '%s': %s", path, strerror(errno));
        goto done;
    }
    if (bytes == 0 || (size_t)bytes % image_bytes != 0) {
        cli_fail_msg(
            "input file '%s' has %ld bytes, which is not a whole number of images of input 0"
            " (%zu float32 values, %zu bytes each)",
            path, bytes, w->in_size[0], image_bytes);
        goto done;
    }
    *n_images = (size_t)bytes / image_bytes;
    use = *n_images < (size_t)w->batch ? *n_images : (size_t)w->batch;
    if (!(data = cli_alloc_floats(use * w->in_size[0], "the input file")))
        goto done;
    if (fread(data, image_bytes, use, f) != use) {
        cli_fail_msg("reading input file '%s': %s", path,
                     ferror(f) ? strerror(errno) : "shorter than its size said");
        goto done;
    }
    for (int i = 0; i < w->n_in; i++) {
        if (w->in_size[i] != w->in_size[0])
            continue;
        (*n_fed)++;
        for (size_t b = 0; b < (size_t)w->batch; b++)
            memcpy(w->in[i] + b * w->in_size[i], data + (b % use) * w->in_size[i], image_bytes);
    }
    rc = RC_OK;
done:
    free(data);
    fclose(f);
    return rc;
}

/* Device time of every step of the last run, from OpenCL profiling events. */
static void print_profile(json *j, const clnet_net *net, int batch, double wall_s) {
    int n = clnet_net_step_count(net), label_w, kernel_w;
    double total = 0.0;
    clnet_step_info si;
    cli_step_widths(net, &label_w, &kernel_w);
    for (int i = 0; i < n; i++)
        if (clnet_net_step_info(net, i, &si) == CLNET_STATUS_OK && si.last_ms > 0.0)
            total += si.last_ms;
    if (j) {
        json_open(j, "profile", '{');
        json_num(j, "device_ms", total);
        json_num(j, "wall_ms", wall_s * 1e3);
        json_open(j, "steps", '[');
    } else {
        printf("\nDevice time per step of the last run (OpenCL profiling events):\n"
               "%4s  %-*s  %-*s  %10s  %7s  %8s\n",
               "#", label_w, "Label", kernel_w, "Kernel", "ms", "share", "GFLOP/s");
    }
    for (int i = 0; i < n; i++) {
        if (clnet_net_step_info(net, i, &si) != CLNET_STATUS_OK)
            continue;
        double ms = si.last_ms, share = total > 0.0 && ms >= 0.0 ? ms / total : NAN;
        double gflops = ms > 0.0 ? 2.0 * (double)si.macs_per_image * batch / (ms * 1e6) : NAN;
        if (!j) {
            char t[3][32] = {"-", "-", "-"};
            if (ms >= 0.0) {
                snprintf(t[0], sizeof t[0], "%.3f", ms);
                snprintf(t[1], sizeof t[1], "%.1f%%", 100.0 * share);
            }
            if (isfinite(gflops) && si.macs_per_image > 0)
                snprintf(t[2], sizeof t[2], "%.2f", gflops);
            printf("%4d  %-*s  %-*s  %10s  %7s  %8s\n", i, label_w, si.label, kernel_w, si.kernel,
                   t[0], t[1], t[2]);
            continue;
        }
        json_open(j, NULL, '{');
        json_str(j, "label", si.label);
        json_str(j, "kernel", si.kernel);
        json_u64(j, "macs_per_image", si.macs_per_image);
        json_num(j, "ms", ms >= 0.0 ? ms : NAN);
        json_num(j, "share", share);
        json_close(j, '}');
    }
    if (j) {
        json_close(j, ']');
        json_close(j, '}');
    } else {
        printf("Sum of step times: %.3f ms; wall clock of the last run: %.3f ms (%.0f%% on the "
               "device)\n",
               total, wall_s * 1e3, wall_s > 0.0 ? 100.0 * total / (wall_s * 1e3) : 0.0);
    }
}

typedef struct run_args {
    int batch, repeat, warmup, check, profile, logits;
    double tolerance;
    uint64_t seed;
    const char *input, *conv_algo, *gemm;
    const char *arch;   /* --arch of a weights-only model file, or NULL */
    size_t file_images; /* images in the --input file */
    int file_inputs;    /* graph inputs fed from it */
    int batch_chunk;    /* --batch-chunk; 0: the device's choice */
    int pass_images;    /* images per pass that the net chose */
} run_args;

/* Prints the results of cmd_run; secs are sorted, last_s is the last run. */
static void print_run(json *j, const run_args *a, const char *model, const clnet_graph *g,
                      const clnet_device_info *dev, const work *w, double worst, int pass,
                      const double *secs, double med) {
    char b1[32];
    double ips = a->batch / med, ips_min = a->batch / secs[a->repeat - 1];
    double ips_max = a->batch / secs[0];
    if (j) {
        json_str(j, "model", model);
        json_u64(j, "params", clnet_graph_param_count(g));
        json_u64(j, "macs_per_image", clnet_graph_macs_per_image(g));
        json_str(j, "device", dev->name);
        json_str(j, "conv_algo", a->conv_algo);
        json_str(j, "gemm", a->gemm);
        json_u64(j, "batch", (uint64_t)a->batch);
        json_u64(j, "pass_images", (uint64_t)a->pass_images);
        json_str(j, "input", a->input ? a->input : "random");
        if (a->input) {
            json_u64(j, "input_images", a->file_images);
            json_u64(j, "inputs_from_file", (uint64_t)a->file_inputs);
        }
        json_u64(j, "seed", a->seed);
        json_open(j, "check", '{');
        json_u64(j, "images", (uint64_t)a->check);
        json_open(j, "outputs", '[');
        for (int o = 0; o < w->n_out && a->check > 0; o++) {
            json_open(j, NULL, '{');
            json_str(j, "name", cli_tensor_name(g, clnet_graph_output_at(g, o).id));
            json_num(j, "max_rel_error", w->errs[o]);
            json_close(j, '}');
        }
        json_close(j, ']');
        json_num(j, "max_rel_error", a->check > 0 ? worst : NAN);
        json_num(j, "tolerance", a->tolerance);
        json_bool(j, "pass", pass);
        json_close(j, '}');
        json_open(j, "timing", '{');
        json_u64(j, "warmup", (uint64_t)a->warmup);
        json_u64(j, "repeat", (uint64_t)a->repeat);
        json_num(j, "median_s", med);
        json_num(j, "min_s", secs[0]);
        json_num(j, "max_s", secs[a->repeat - 1]);
        json_num(j, "images_per_s", ips);
        json_num(j, "images_per_s_min", ips_min);
        json_num(j, "images_per_s_max", ips_max);
        json_close(j, '}');
        return;
    }
    printf("Model      %s (%s parameters, %.1f M MACs per image)\n", model,
           cli_fmt_count(clnet_graph_param_count(g), b1, sizeof b1),
           (double)clnet_graph_macs_per_image(g) / 1e6);
    printf("Device     %s [%d:%d]\n", dev->name, dev->platform_index, dev->device_index);
    printf("Options    conv %s, gemm %s\n", a->conv_algo, a->gemm);
    if (a->input)
        printf("Input      %s (%zu images, repeated to fill the batch; feeds %d of %d inputs%s)\n",
               a->input, a->file_images, a->file_inputs, w->n_in,
               a->file_inputs < w->n_in ? ", the others are random" : "");
    else
        printf("Input      uniform random in (0, 1), seed %" PRIu64 "\n", a->seed);
    if (a->pass_images < a->batch)
        printf("Batch      %d, in passes of %d images\n", a->batch, a->pass_images);
    else
        printf("Batch      %d\n", a->batch);
    if (a->check == 0) {
        printf("Check      skipped (--check-batch 0)\n");
    } else {
        printf("Check      first %d image%s against the host reference\n", a->check,
               a->check == 1 ? "" : "s");
        for (int o = 0; o < w->n_out; o++)
            printf("           %s: max relative error %.3g\n",
                   cli_tensor_name(g, clnet_graph_output_at(g, o).id), w->errs[o]);
        printf("           %s (tolerance %g)\n", pass ? "PASS" : "FAIL", a->tolerance);
    }
    printf("Timing     %d warm-up + %d timed runs, wall clock\n", a->warmup, a->repeat);
    printf("           %.1f images/s (median %.3f ms per batch; min %.1f, max %.1f images/s)\n",
           ips, med * 1e3, ips_min, ips_max);
}

int cmd_run(int argc, char **argv, cli_opts *o) {
    run_args a = {32, 10, 2, -1, 0, 0, 1e-4, DEFAULT_SEED, NULL, "auto", "auto", NULL, 0, 0, 0, 0};
    const opt_spec specs[] = {
        {"--batch", OPT_INT, &a.batch, 1},      {"--repeat", OPT_INT, &a.repeat, 1},
        {"--warmup", OPT_INT, &a.warmup, 0},    {"--check-batch", OPT_INT, &a.check, 0},
        {"--profile", OPT_FLAG, &a.profile, 0}, {"--tolerance", OPT_DOUBLE, &a.tolerance, 0},
        {"--logits", OPT_FLAG, &a.logits, 0},   {"--seed", OPT_U64, &a.seed, 0},
        {"--input", OPT_STRING, &a.input, 0},   {"--conv-algo", OPT_STRING, &a.conv_algo, 0},
        {"--gemm", OPT_STRING, &a.gemm, 0},     {"--arch", OPT_STRING, &a.arch, 0},
        {"--batch-chunk", OPT_INT, &a.batch_chunk, 0}};
    const char *model = NULL;
    int n_pos = 0;
    int rc = cli_parse_args("run", HELP_RUN, argc, argv, specs, (int)(sizeof specs / sizeof *specs),
                            &model, 1, &n_pos, o);
    if (rc != RC_OK)
        return rc == RC_HELP ? RC_OK : rc;
    if (n_pos != 1)
        return cli_usage_error("run", "expected one MODEL");
    if (a.check < 0)
        a.check = a.batch < 4 ? a.batch : 4;
    if (a.check > a.batch)
        return cli_usage_error("run", "--check-batch %d exceeds --batch %d", a.check, a.batch);
    clnet_net_options nopt = clnet_net_options_default();
    int conv = name_index(CONV_ALGO_NAMES, 6, a.conv_algo);
    int gemm = name_index(GEMM_NAMES, 3, a.gemm);
    if (conv < 0)
        return cli_usage_error("run",
                               "unknown --conv-algo '%s' (auto, direct, im2col, gemm1x1, "
                               "winograd2x2, winograd4x4)",
                               a.conv_algo);
    if (gemm < 0)
        return cli_usage_error("run", "unknown --gemm '%s' (auto, clnet, clblast)", a.gemm);
    nopt.conv_algo = (clnet_conv_algo)conv;
    nopt.gemm_backend = (clnet_gemm_backend)gemm;
    nopt.batch_chunk = a.batch_chunk;

    clnet_graph *g = NULL;
    clnet_context *ctx = NULL;
    clnet_net *net = NULL;
    const clnet_device_info *dev = NULL;
    clnet_context_options copt = {a.profile};
    work w;
    double *secs = calloc((size_t)a.repeat, sizeof *secs), worst = 0.0;
    uint64_t state = a.seed ^ 0xC0FFEEull; /* inputs differ from the weights' stream */
    memset(&w, 0, sizeof w);
    rc = RC_FAIL;
    if (!secs) {
        cli_fail_msg("allocating the timing table: out of memory");
        goto done;
    }
    int open_rc = cli_open_model("run", model, a.arch, a.seed, &g);
    if (open_rc != RC_OK) {
        rc = open_rc;
        goto done;
    }
    if (a.logits && clnet_graph_strip_final_softmax(g, NULL) != CLNET_STATUS_OK) {
        cli_fail("removing the final softmax of '%s'", model);
        goto done;
    }
    if (clnet_context_create(o->device, &copt, &ctx) != CLNET_STATUS_OK) {
        cli_fail("opening device '%s'", o->device ? o->device : "(default)");
        goto done;
    }
    dev = clnet_context_device(ctx);
    if (clnet_net_create(ctx, g, &nopt, &net) != CLNET_STATUS_OK) {
        cli_fail("compiling '%s' for %s", model, dev->name);
        goto done;
    }
    a.pass_images = clnet_net_pass_images(net, a.batch);
    if (work_init(&w, g, a.batch, a.check) != RC_OK)
        goto done;
    for (int i = 0; i < w.n_in; i++)
        cli_fill_random(w.in[i], (size_t)a.batch * w.in_size[i], &state);
    if (a.input && load_input_file(&w, a.input, &a.file_images, &a.file_inputs) != RC_OK)
        goto done;

    /* One checked run, then the timed ones. */
    if (work_run(&w, net) != RC_OK || work_check(&w, g, &worst) != RC_OK)
        goto done;
    int pass = a.check == 0 || worst <= a.tolerance; /* a NaN error fails */
    if (work_time(&w, net, a.warmup, a.repeat, secs) != RC_OK)
        goto done;
    double last_s = secs[a.repeat - 1], med = cli_median(secs, a.repeat);

    json jw = {stdout, 0, {0}}, *j = o->json ? &jw : NULL;
    if (j)
        json_open(j, NULL, '{');
    print_run(j, &a, model, g, dev, &w, worst, pass, secs, med);
    if (a.profile)
        print_profile(j, net, a.batch, last_s);
    if (j)
        json_close(j, '}');
    rc = pass ? RC_OK : RC_FAIL;

done:
    work_free(&w);
    free(secs);
    clnet_net_destroy(net);
    clnet_context_destroy(ctx);
    clnet_graph_destroy(g);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* clnet selftest                                                           */

typedef struct selftest_result {
    const char *name;
    uint64_t params;
    double err, images_per_s;
    int pass;
    char error[1024]; /* why it could not be checked; empty if it ran */
} selftest_result;

/* Builds, checks and times one built-in network; failures go into r. */
static void selftest_one(clnet_context *ctx, const char *name, int batch, uint64_t seed,
                         double tolerance, selftest_result *r) {
    enum { WARMUP = 1, REPEAT = 5 };
    clnet_graph *g = NULL;
    clnet_net *net = NULL;
    clnet_net_options nopt = clnet_net_options_default();
    double secs[REPEAT];
    uint64_t state = seed ^ 0xC0FFEEull;
    work w;
    memset(&w, 0, sizeof w);
    r->name = name;
    r->err = r->images_per_s = NAN;
    r->pass = 0;
    r->error[0] = '\0';

    int rc = RC_FAIL;
    /* Logits are compared: with random weights the final softmax saturates
     * to one-hot vectors that would hide differences. */
    if (clnet_model_builtin(name, seed, &g) != CLNET_STATUS_OK)
        cli_fail("building '%s'", name);
    else if (clnet_graph_strip_final_softmax(g, NULL) != CLNET_STATUS_OK)
        cli_fail("removing the final softmax of '%s'", name);
    else if (clnet_net_create(ctx, g, &nopt, &net) != CLNET_STATUS_OK)
        cli_fail("compiling '%s'", name);
    else if (work_init(&w, g, batch, batch < 2 ? batch : 2) == RC_OK)
        rc = RC_OK;
    if (rc == RC_OK) {
        for (int i = 0; i < w.n_in; i++)
            cli_fill_random(w.in[i], (size_t)batch * w.in_size[i], &state);
        if (work_run(&w, net) != RC_OK || work_check(&w, g, &r->err) != RC_OK ||
            work_time(&w, net, WARMUP, REPEAT, secs) != RC_OK)
            rc = RC_FAIL;
    }
    if (rc == RC_OK) {
        r->images_per_s = batch / cli_median(secs, REPEAT);
        r->pass = r->err <= tolerance;
    } else {
        snprintf(r->error, sizeof r->error, "%s", cli_last_failure());
    }
    r->params = g ? clnet_graph_param_count(g) : 0;
    work_free(&w);
    clnet_net_destroy(net);
    clnet_graph_destroy(g);
}

/* Splits a comma-separated list in place into names; returns their count
 * or -1 if an item is empty or there are too many. */
static int split_names(char *list, const char **names, int max) {
    int n = 0;
    for (char *p = list;; p++) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!*p || n == max)
            return -1;
        names[n++] = p;
        if (!comma)
            return n;
        p = comma;
    }
}

int cmd_selftest(int argc, char **argv, cli_opts *o) {
    int batch = 8;
    double tolerance = 1e-4;
    uint64_t seed = DEFAULT_SEED;
    const char *networks = NULL, *names[MAX_NETWORKS];
    const opt_spec specs[] = {{"--batch", OPT_INT, &batch, 1},
                              {"--networks", OPT_STRING, &networks, 0},
                              {"--tolerance", OPT_DOUBLE, &tolerance, 0},
                              {"--seed", OPT_U64, &seed, 0}};
    int rc = cli_parse_args("selftest", HELP_SELFTEST, argc, argv, specs,
                            (int)(sizeof specs / sizeof *specs), NULL, 0, NULL, o);
    if (rc != RC_OK)
        return rc == RC_HELP ? RC_OK : rc;

    int n = (int)(sizeof BUILTIN_NETWORKS / sizeof BUILTIN_NETWORKS[0]);
    char *list = NULL;
    if (networks) {
        if (!(list = malloc(strlen(networks) + 1)))
            return cli_fail_msg("copying the network list: out of memory");
        strcpy(list, networks);
        n = split_names(list, names, MAX_NETWORKS);
        if (n < 0) {
            free(list);
            return cli_usage_error("selftest",
                                   "--networks needs 1 to %d comma-separated names, "
                                   "none empty",
                                   MAX_NETWORKS);
        }
    } else {
        memcpy(names, BUILTIN_NETWORKS, sizeof BUILTIN_NETWORKS);
    }

    clnet_context *ctx = NULL;
    selftest_result *res = calloc((size_t)n, sizeof *res);
    if (!res) {
        free(list);
        return cli_fail_msg("allocating the results table: out of memory");
    }
    if (clnet_context_create(o->device, NULL, &ctx) != CLNET_STATUS_OK) {
        rc = cli_fail("opening device '%s'", o->device ? o->device : "(default)");
        goto done;
    }

    const char *device = clnet_context_device(ctx)->name;
    int check = batch < 2 ? batch : 2, failed = 0;
    if (!o->json)
        printf("clnet selftest on %s: batch %d, first %d image%s checked, tolerance %g\n\n"
               "%-16s %12s  %13s  %-6s  %10s\n",
               device, batch, check, check == 1 ? "" : "s", tolerance, "network", "parameters",
               "max rel error", "result", "images/s");
    for (int i = 0; i < n; i++) {
        char b1[32];
        fflush(stdout);
        selftest_one(ctx, names[i], batch, seed, tolerance, &res[i]);
        failed += !res[i].pass;
        if (o->json)
            continue;
        char err[32] = "-", ips[32] = "-";
        if (!res[i].error[0]) {
            snprintf(err, sizeof err, "%.3g", res[i].err);
            snprintf(ips, sizeof ips, "%.1f", res[i].images_per_s);
        }
        printf("%-16s %12s  %13s  %-6s  %10s\n", names[i],
               cli_fmt_count(res[i].params, b1, sizeof b1), err,
               res[i].error[0] ? "ERROR"
               : res[i].pass   ? "PASS"
                               : "FAIL",
               ips);
    }

    json jw = {stdout, 0, {0}}, *j = &jw;
    if (!o->json) {
        printf("\n%d network%s: %d passed, %d failed\n", n, n == 1 ? "" : "s", n - failed, failed);
    } else {
        json_open(j, NULL, '{');
        json_str(j, "device", device);
        json_u64(j, "batch", (uint64_t)batch);
        json_u64(j, "check_images", (uint64_t)check);
        json_num(j, "tolerance", tolerance);
        json_open(j, "networks", '[');
        for (int i = 0; i < n; i++) {
            json_open(j, NULL, '{');
            json_str(j, "name", res[i].name);
            json_u64(j, "params", res[i].params);
            json_num(j, "max_rel_error", res[i].err);
            json_bool(j, "pass", res[i].pass);
            json_num(j, "images_per_s", res[i].images_per_s);
            if (res[i].error[0])
                json_str(j, "error", res[i].error);
            json_close(j, '}');
        }
        json_close(j, ']');
        json_u64(j, "passed", (uint64_t)(n - failed));
        json_u64(j, "failed", (uint64_t)failed);
        json_close(j, '}');
    }
    rc = failed ? RC_FAIL : RC_OK;

done:
    clnet_context_destroy(ctx);
    free(res);
    free(list);
    return rc;
}
