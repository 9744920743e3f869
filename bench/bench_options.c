/* Command-line options of clnet-bench (see bench_options.h). */
#include "bench_options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const bench_default_networks[] = {
    "resnet20v1", "resnet32v1", "resnet44v1",  "resnet56v1",  "resnet110v1",
    "resnet20v2", "resnet56v2", "resnet110v2", "densenet100", "ynet",
};
const int bench_default_network_count =
    (int)(sizeof bench_default_networks / sizeof bench_default_networks[0]);

/* The networks profiled per layer by default: one of each family that the
 * speed targets name. */
static const char *const default_profile_networks[] = {"resnet20v1", "resnet56v2", "densenet100"};

static const char *const section_names[] = {"ceilings", "start", "gemm", "layers", "networks"};
#define SECTION_COUNT 5

static const char HELP[] =
    "usage: clnet-bench [OPTIONS]\n"
    "\n"
    "Measures what an OpenCL device can do and what clnet gets out of it: device\n"
    "ceilings (FMA peak, copy bandwidth, launch latency), cold and warm start, GEMM\n"
    "GFLOP/s per backend, per-layer device time, and images/s of the built-in\n"
    "networks, each network checked against the host reference.\n"
    "\n"
    "Selection:\n"
    "  --device SEL        \"P:D\", gpu, cpu, accelerator or part of the device name\n"
    "                      (default: $CLNET_DEVICE, else the first GPU, accelerator, CPU)\n"
    "  --networks LIST     comma-separated built-in names, or \"all\" (default: resnet20v1,\n"
    "                      resnet32v1, resnet44v1, resnet56v1, resnet110v1, resnet20v2,\n"
    "                      resnet56v2, resnet110v2, densenet100, ynet)\n"
    "  --batch LIST        batch sizes (default 1,32,256)\n"
    "  --only LIST         run only these sections: ceilings, start, gemm, layers, networks\n"
    "  --skip LIST         leave these sections out\n"
    "\n"
    "Measurement:\n"
    "  --repeat N          timed runs per measurement, after warm-up (default 10)\n"
    "  --warmup N          untimed runs after the first, checked run (default 1)\n"
    "  --warmup-time SECONDS  and untimed runs go on until this long has passed, so\n"
    "                      that a fresh process reaches its steady speed (default 0.5)\n"
    "  --max-time SECONDS  stop timing a measurement after this long once 3 runs are\n"
    "                      done (default 10; 0: no limit)\n"
    "  --budget SECONDS    start no new measurement once this much time has passed, and\n"
    "                      none that is predicted to overrun it; what is left out is\n"
    "                      listed (default 300; 0: no limit)\n"
    "  --profile LIST      networks profiled per layer (default resnet20v1,resnet56v2,\n"
    "                      densenet100; \"none\" for none)\n"
    "  --profile-batch N   batch of the per-layer profiles (default 32)\n"
    "  --gemm-sizes LIST   square GEMM sizes (default 256,512,1024)\n"
    "  --gemm-shapes N     convolution-shaped GEMMs measured, heaviest first (default 8)\n"
    "  --gemm-batch N      images of the convolution-shaped GEMMs (default 32)\n"
    "  --start-batch N     batch of the cold and warm start (default 1)\n"
    "  --start-runs N      warm starts measured (default 3)\n"
    "  --check-images N    images per measurement checked against the host reference\n"
    "                      (default 2; 0 skips the check)\n"
    "  --tolerance T       largest accepted max |got - ref| / max |ref| (default 1e-4)\n"
    "  --seed S            seed of the weights and inputs (default 42)\n"
    "  --peak-gflops X     the device's datasheet FP32 peak, to compare with\n"
    "  --peak-gbps X       the device's datasheet memory bandwidth, to compare with\n"
    "\n"
    "Output:\n"
    "  --json              one JSON document on stdout instead of tables\n"
    "  --report FILE.md    also write a Markdown report\n"
    "  --chart FILE.svg    also write an SVG chart of images/s (default with --report:\n"
    "                      the report's name with .svg)\n"
    "  --no-progress       no progress line on stderr (shown only on a terminal anyway)\n"
    "  --input FILE        raw float32 NCHW images for input 0 (and every input of its\n"
    "                      shape), repeated to fill the batch; default: random\n"
    "  --save-outputs DIR  write the logits of each network and batch to\n"
    "                      DIR/NETWORK_bBATCH.f32 (float32, NCHW)\n"
    "  --save-models DIR   write each measured network (logits, no final softmax) to\n"
    "                      DIR/NETWORK.clnet\n"
    "  -h, --help          this help\n"
    "  --version           the version\n"
    "\n"
    "Networks run with their final softmax removed: logits are what is checked, and\n"
    "the softmax is a negligible part of the work. Exit status: 0 when every check\n"
    "passed, 1 when a check failed or a measurement could not run, 2 on a usage error.\n";

const char *bench_options_help(void) {
    return HELP;
}

void bench_set_error(char *err, size_t size, const char *fmt, ...) {
    if (!err || size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}

void bench_options_default(bench_options *o) {
    memset(o, 0, sizeof *o);
    for (int i = 0; i < bench_default_network_count; i++)
        snprintf(o->networks[i], BENCH_NAME_MAX, "%s", bench_default_networks[i]);
    o->n_networks = bench_default_network_count;
    static const int batches[] = {1, 32, 256};
    memcpy(o->batches, batches, sizeof batches);
    o->n_batches = 3;
    o->repeat = 10;
    o->warmup = 1;
    o->warmup_s = 0.5;
    o->max_time_s = 10.0;
    /* About five minutes in all on a 2-core CPU with PoCL. */
    o->budget_s = 300.0;
    o->sections = BENCH_SECTION_ALL;
    for (int i = 0; i < 3; i++)
        snprintf(o->profile_networks[i], BENCH_NAME_MAX, "%s", default_profile_networks[i]);
    o->n_profile_networks = 3;
    o->profile_batch = 32;
    static const int sizes[] = {256, 512, 1024};
    memcpy(o->gemm_sizes, sizes, sizeof sizes);
    o->n_gemm_sizes = 3;
    o->gemm_shapes = 8;
    o->gemm_batch = 32;
    o->start_batch = 1;
    o->start_warm_runs = 3;
    o->check_images = 2;
    o->tolerance = 1e-4;
    o->seed = 42;
    o->progress = -1;
}

int bench_parse_int_list(const char *text, int *out, int max, int min_value, int max_value,
                         char *err, size_t err_size) {
    int n = 0;
    const char *p = text;
    if (!text || !*text) {
        bench_set_error(err, err_size, "the list is empty");
        return -1;
    }
    for (;;) {
        char *end = NULL;
        errno = 0;
        if (!isdigit((unsigned char)*p) && *p != '-' && *p != '+') {
            bench_set_error(err, err_size, "'%s' is not a comma-separated list of integers", text);
            return -1;
        }
        long v = strtol(p, &end, 10);
        if (errno || end == p || (*end != ',' && *end != '\0')) {
            bench_set_error(err, err_size, "'%s' is not a comma-separated list of integers", text);
            return -1;
        }
        if (v < min_value || v > max_value) {
            bench_set_error(err, err_size, "%ld in '%s' is outside %d to %d", v, text, min_value,
                            max_value);
            return -1;
        }
        if (n == max) {
            bench_set_error(err, err_size, "'%s' has more than %d values", text, max);
            return -1;
        }
        for (int i = 0; i < n; i++) {
            if (out[i] == (int)v) {
                bench_set_error(err, err_size, "%ld appears twice in '%s'", v, text);
                return -1;
            }
        }
        out[n++] = (int)v;
        if (*end == '\0')
            return n;
        p = end + 1;
    }
}

int bench_parse_name_list(const char *text, char (*names)[BENCH_NAME_MAX], int max, char *err,
                          size_t err_size) {
    if (!text || !*text) {
        bench_set_error(err, err_size, "the list is empty");
        return -1;
    }
    if (!strcmp(text, "all")) {
        if (bench_default_network_count > max) {
            bench_set_error(err, err_size, "'all' names more than %d networks", max);
            return -1;
        }
        for (int i = 0; i < bench_default_network_count; i++)
            snprintf(names[i], BENCH_NAME_MAX, "%s", bench_default_networks[i]);
        return bench_default_network_count;
    }
    int n = 0;
    const char *p = text;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (len == 0) {
            bench_set_error(err, err_size, "'%s' has an empty name", text);
            return -1;
        }
        if (len >= BENCH_NAME_MAX) {
            bench_set_error(err, err_size, "'%.*s' is longer than %d characters", (int)len, p,
                            BENCH_NAME_MAX - 1);
            return -1;
        }
        for (size_t i = 0; i < len; i++) {
            if (!islower((unsigned char)p[i]) && !isdigit((unsigned char)p[i])) {
                bench_set_error(err, err_size,
                                "'%.*s' is not a network name (lower-case letters and digits)",
                                (int)len, p);
                return -1;
            }
        }
        if (n == max) {
            bench_set_error(err, err_size, "'%s' names more than %d networks", text, max);
            return -1;
        }
        memcpy(names[n], p, len);
        names[n][len] = '\0';
        for (int i = 0; i < n; i++) {
            if (!strcmp(names[i], names[n])) {
                bench_set_error(err, err_size, "'%s' appears twice in '%s'", names[n], text);
                return -1;
            }
        }
        n++;
        if (p[len] == '\0')
            return n;
        p += len + 1;
    }
}

const char *bench_section_name(bench_section section) {
    for (int i = 0; i < SECTION_COUNT; i++)
        if ((unsigned)section == 1u << i)
            return section_names[i];
    return "unknown";
}

unsigned bench_parse_sections(const char *text, char *err, size_t err_size) {
    unsigned set = 0;
    const char *p = text ? text : "";
    for (;;) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < SECTION_COUNT; i++)
            if (strlen(section_names[i]) == len && !strncmp(section_names[i], p, len))
                found = i;
        if (found < 0) {
            bench_set_error(err, err_size,
                            "unknown section '%.*s' (ceilings, start, gemm, layers, networks)",
                            (int)len, p);
            return 0;
        }
        set |= 1u << found;
        if (p[len] == '\0')
            return set;
        p += len + 1;
    }
}

typedef enum opt_kind { OPT_FLAG, OPT_INT, OPT_U64, OPT_DOUBLE, OPT_STRING, OPT_SPECIAL } opt_kind;

typedef struct opt_spec {
    const char *name;
    opt_kind kind;
    void *dest;
    int min; /* smallest accepted OPT_INT value */
} opt_spec;

static int convert_value(const opt_spec *spec, const char *text) {
    char *end = NULL;
    errno = 0;
    switch (spec->kind) {
    case OPT_STRING: *(const char **)spec->dest = text; return 0;
    case OPT_INT: {
        long v = strtol(text, &end, 10);
        if (errno || end == text || *end || v < spec->min || v > 1000000000L)
            return -1;
        *(int *)spec->dest = (int)v;
        return 0;
    }
    case OPT_U64: {
        if (text[0] == '-')
            return -1;
        unsigned long long v = strtoull(text, &end, 0);
        if (errno || end == text || *end)
            return -1;
        *(uint64_t *)spec->dest = (uint64_t)v;
        return 0;
    }
    case OPT_DOUBLE: {
        double v = strtod(text, &end);
        if (errno || end == text || *end || !isfinite(v) || v < 0)
            return -1;
        *(double *)spec->dest = v;
        return 0;
    }
    default: return -1;
    }
}

/* Options whose value is a list, handled by name. */
static int parse_special(const char *name, const char *value, bench_options *o, char *err,
                         size_t err_size) {
    char why[256];
    int n;
    if (!strcmp(name, "--networks")) {
        n = bench_parse_name_list(value, o->networks, BENCH_MAX_NETWORKS, why, sizeof why);
        if (n < 0)
            goto bad;
        o->n_networks = n;
    } else if (!strcmp(name, "--profile")) {
        if (!strcmp(value, "none")) {
            o->n_profile_networks = 0;
            return 0;
        }
        n = bench_parse_name_list(value, o->profile_networks, BENCH_MAX_NETWORKS, why, sizeof why);
        if (n < 0)
            goto bad;
        o->n_profile_networks = n;
    } else if (!strcmp(name, "--batch")) {
        n = bench_parse_int_list(value, o->batches, BENCH_MAX_BATCHES, 1, 65536, why, sizeof why);
        if (n < 0)
            goto bad;
        o->n_batches = n;
    } else if (!strcmp(name, "--gemm-sizes")) {
        n = bench_parse_int_list(value, o->gemm_sizes, BENCH_MAX_SIZES, 1, 16384, why, sizeof why);
        if (n < 0)
            goto bad;
        o->n_gemm_sizes = n;
    } else if (!strcmp(name, "--only") || !strcmp(name, "--skip")) {
        unsigned set = bench_parse_sections(value, why, sizeof why);
        if (!set)
            goto bad;
        o->sections = name[2] == 'o' ? set : o->sections & ~set;
    } else {
        snprintf(why, sizeof why, "no handler");
        goto bad;
    }
    return 0;
bad:
    bench_set_error(err, err_size, "invalid value for %s: %s", name, why);
    return -1;
}

bench_parse_result bench_options_parse(int argc, char **argv, bench_options *o, char *err,
                                       size_t err_size) {
    int no_progress = 0;
    const opt_spec specs[] = {
        {"--device", OPT_STRING, &o->device, 0},
        {"--networks", OPT_SPECIAL, NULL, 0},
        {"--batch", OPT_SPECIAL, NULL, 0},
        {"--only", OPT_SPECIAL, NULL, 0},
        {"--skip", OPT_SPECIAL, NULL, 0},
        {"--profile", OPT_SPECIAL, NULL, 0},
        {"--gemm-sizes", OPT_SPECIAL, NULL, 0},
        {"--repeat", OPT_INT, &o->repeat, 1},
        {"--warmup", OPT_INT, &o->warmup, 0},
        {"--warmup-time", OPT_DOUBLE, &o->warmup_s, 0},
        {"--budget", OPT_DOUBLE, &o->budget_s, 0},
        {"--max-time", OPT_DOUBLE, &o->max_time_s, 0},
        {"--profile-batch", OPT_INT, &o->profile_batch, 1},
        {"--gemm-shapes", OPT_INT, &o->gemm_shapes, 0},
        {"--gemm-batch", OPT_INT, &o->gemm_batch, 1},
        {"--start-batch", OPT_INT, &o->start_batch, 1},
        {"--start-runs", OPT_INT, &o->start_warm_runs, 1},
        {"--check-images", OPT_INT, &o->check_images, 0},
        {"--tolerance", OPT_DOUBLE, &o->tolerance, 0},
        {"--seed", OPT_U64, &o->seed, 0},
        {"--peak-gflops", OPT_DOUBLE, &o->peak_gflops, 0},
        {"--peak-gbps", OPT_DOUBLE, &o->peak_gbps, 0},
        {"--json", OPT_FLAG, &o->json, 0},
        {"--report", OPT_STRING, &o->report_path, 0},
        {"--chart", OPT_STRING, &o->chart_path, 0},
        {"--no-progress", OPT_FLAG, &no_progress, 0},
        {"--input", OPT_STRING, &o->input_path, 0},
        {"--save-outputs", OPT_STRING, &o->save_outputs_dir, 0},
        {"--save-models", OPT_STRING, &o->save_models_dir, 0},
        {"--start-child", OPT_FLAG, &o->start_child, 0},
    };
    const int n_specs = (int)(sizeof specs / sizeof specs[0]);

    bench_join_command(argc, argv, o->command_line, sizeof o->command_line);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help"))
            return BENCH_PARSE_HELP;
        if (!strcmp(arg, "--version"))
            return BENCH_PARSE_VERSION;
        if (arg[0] != '-' || arg[1] != '-') {
            bench_set_error(err, err_size, "unexpected argument '%s' (options start with --)", arg);
            return BENCH_PARSE_ERROR;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const opt_spec *spec = NULL;
        for (int k = 0; k < n_specs && !spec; k++)
            if (strlen(specs[k].name) == name_len && !strncmp(specs[k].name, arg, name_len))
                spec = &specs[k];
        if (!spec) {
            bench_set_error(err, err_size, "unknown option '%.*s'", (int)name_len, arg);
            return BENCH_PARSE_ERROR;
        }
        if (spec->kind == OPT_FLAG) {
            if (eq) {
                bench_set_error(err, err_size, "option %s takes no value", spec->name);
                return BENCH_PARSE_ERROR;
            }
            *(int *)spec->dest = 1;
            continue;
        }
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!value) {
            bench_set_error(err, err_size, "option %s needs a value", spec->name);
            return BENCH_PARSE_ERROR;
        }
        if (spec->kind == OPT_SPECIAL) {
            if (parse_special(spec->name, value, o, err, err_size) != 0)
                return BENCH_PARSE_ERROR;
            continue;
        }
        if (spec->kind == OPT_STRING && value[0] == '\0') {
            bench_set_error(err, err_size, "option %s needs a non-empty value", spec->name);
            return BENCH_PARSE_ERROR;
        }
        if (convert_value(spec, value) != 0) {
            const char *want = spec->kind == OPT_DOUBLE ? "a number >= 0"
                               : spec->kind == OPT_U64  ? "an unsigned integer"
                               : spec->min > 0          ? "an integer >= 1"
                                                        : "an integer >= 0";
            bench_set_error(err, err_size, "invalid value '%s' for %s (expected %s)", value,
                            spec->name, want);
            return BENCH_PARSE_ERROR;
        }
    }
    if (no_progress)
        o->progress = 0;
    if (o->sections == 0) {
        bench_set_error(err, err_size, "--only and --skip leave no section to run");
        return BENCH_PARSE_ERROR;
    }
    if (o->tolerance <= 0.0) {
        bench_set_error(err, err_size, "--tolerance must be greater than 0");
        return BENCH_PARSE_ERROR;
    }
    return BENCH_PARSE_OK;
}

/* Whether an argument can be shown without shell quoting. */
static int plain_word(const char *s) {
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("-_./=,:+@%", *s))
            return 0;
    return 1;
}

void bench_join_command(int argc, char **argv, char *out, size_t size) {
    size_t used = 0;
    if (size == 0)
        return;
    out[0] = '\0';
    for (int i = 0; i < argc && used + 1 < size; i++) {
        const char *a = argv[i];
        /* The program as typed would show the build folder: keep its name. */
        if (i == 0) {
            const char *slash = strrchr(a, '/');
            a = slash ? slash + 1 : a;
        }
        int n;
        if (plain_word(a)) {
            n = snprintf(out + used, size - used, "%s%s", i ? " " : "", a);
        } else {
            /* Single quotes, each embedded quote written as '\''. */
            n = snprintf(out + used, size - used, "%s'", i ? " " : "");
            if (n < 0 || (size_t)n >= size - used)
                break;
            used += (size_t)n;
            for (const char *p = a; *p && used + 5 < size; p++) {
                if (*p == '\'') {
                    memcpy(out + used, "'\\''", 4);
                    used += 4;
                } else {
                    out[used++] = *p;
                }
            }
            out[used] = '\0';
            n = snprintf(out + used, size - used, "'");
        }
        if (n < 0 || (size_t)n >= size - used) {
            out[used] = '\0';
            break;
        }
        used += (size_t)n;
    }
}
