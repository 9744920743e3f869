/* clnet: the command-line tool. Lists OpenCL devices, summarises models, and
 * runs networks on a device, checked against the host reference and timed. */
#define _POSIX_C_SOURCE 200809L

#include <clnet.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Exit codes, plus RC_HELP for "help was printed, stop with 0". */
enum { RC_OK = 0, RC_FAIL = 1, RC_USAGE = 2, RC_HELP = -1 };

#define DEFAULT_SEED 42
#define MAX_NETWORKS 64

static const char *const BUILTIN_NETWORKS[] = {
    "resnet20v1", "resnet32v1", "resnet44v1",  "resnet56v1",  "resnet110v1",
    "resnet20v2", "resnet56v2", "resnet110v2", "densenet100", "ynet",
};

static const char HELP_MAIN[] =
    "usage: clnet [--device SEL] [--json] COMMAND [OPTIONS]\n"
    "\n"
    "Builds image-classification networks and runs them on OpenCL devices.\n"
    "\n"
    "Commands:\n"
    "  devices        list every OpenCL platform and device\n"
    "  info MODEL     layers, shapes, parameters, MACs and memory plan of a model\n"
    "  run MODEL      run a model on a device, check it against the host reference, time it\n"
    "  selftest       run and check every built-in network\n"
    "\n"
    "Options of every command:\n"
    "  --device SEL   \"P:D\" (platform:device index), gpu, cpu, accelerator, or part of\n"
    "                 the device name (default: $CLNET_DEVICE, else the first GPU,\n"
    "                 else accelerator, else CPU)\n"
    "  --json         print one JSON document on stdout instead of text\n"
    "  -h, --help     show the help of a command\n"
    "  --version      print the version\n"
    "\n"
    "MODEL is a built-in name (resnet20v1, resnet32v1, resnet44v1, resnet56v1,\n"
    "resnet110v1, resnet20v2, resnet56v2, resnet110v2, densenet100, densenet100k24,\n"
    "ynet) or the path of a clnet model file.\n"
    "Exit status: 0 success, 1 runtime failure or failed check, 2 usage error.\n";

static const char HELP_DEVICES[] =
    "usage: clnet devices [--json]\n"
    "\n"
    "Lists every OpenCL platform and its devices with their limits and features.\n"
    "The device that runs by default is marked; with --device, the selected one too.\n";

static const char HELP_INFO[] =
    "usage: clnet info MODEL [--batch N] [--steps] [--seed S] [--json]\n"
    "\n"
    "Prints every node of the model (op, output shape, parameters, MACs per image,\n"
    "inputs), the totals, and the device memory plan of the compiled net.\n"
    "\n"
    "  --batch N   also plan memory for batch N (default 1: only batch 1)\n"
    "  --steps     list the compiled steps (after batch-norm folding and fusion)\n"
    "  --seed S    seed of the weights of a built-in model (default 42)\n"
    "\n"
    "The memory plan and the steps need a device; without one they are skipped.\n";

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
    "  --conv-algo A      auto, direct, im2col or gemm1x1 (default auto)\n"
    "  --gemm B           auto, clnet or clblast (default auto)\n"
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

typedef struct cli_opts {
    const char *device; /* NULL: $CLNET_DEVICE, else the default device */
    int json;
} cli_opts;

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */

static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "clnet%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'clnet%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
    return RC_USAGE;
}

/* The last failure reported by fail() or fail_msg(), kept (shortened if
 * need be) for the selftest table; stderr gets it whole. */
static char last_failure[1024];

static void report_failure(const char *why, const char *fmt, va_list ap)
{
    int n = vsnprintf(last_failure, sizeof last_failure, fmt, ap);
    fprintf(stderr, "clnet: %s", last_failure);
    if (why) {
        fprintf(stderr, ": %s", why);
        if (n >= 0 && (size_t)n < sizeof last_failure)
            snprintf(last_failure + n, sizeof last_failure - (size_t)n, ": %s", why);
    }
    fputc('\n', stderr);
}

/* Reports a failed library call; the arguments must not call into clnet,
 * which could replace the message before it is read. */
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_failure(clnet_last_error(), fmt, ap);
    va_end(ap);
    return RC_FAIL;
}

/* Reports a failure of the tool itself, where the library has nothing to say. */
static int fail_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_failure(NULL, fmt, ap);
    va_end(ap);
    return RC_FAIL;
}

/* ------------------------------------------------------------------------ */
/* JSON output: a streaming writer that only tracks where commas go         */

#define JSON_MAX_DEPTH 16 /* the documents below nest at most 4 deep */

typedef struct json {
    FILE *f;
    int depth;
    int has_items[JSON_MAX_DEPTH];
} json;

static void json_quote(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* The comma and key before a value; key is NULL inside arrays. */
static void json_prefix(json *j, const char *key)
{
    if (j->has_items[j->depth])
        fputc(',', j->f);
    j->has_items[j->depth] = 1;
    if (key) {
        json_quote(j->f, key);
        fputc(':', j->f);
    }
}

static void json_open(json *j, const char *key, char bracket)
{
    json_prefix(j, key);
    fputc(bracket, j->f);
    j->depth++;
    j->has_items[j->depth] = 0;
}

static void json_close(json *j, char bracket)
{
    fputc(bracket, j->f);
    j->depth--;
    if (j->depth == 0)
        fputc('\n', j->f);
}

static void json_str(json *j, const char *key, const char *v)
{
    json_prefix(j, key);
    json_quote(j->f, v);
}

static void json_u64(json *j, const char *key, uint64_t v)
{
    json_prefix(j, key);
    fprintf(j->f, "%" PRIu64, v);
}

/* Non-finite numbers have no JSON spelling; they become null. */
static void json_num(json *j, const char *key, double v)
{
    json_prefix(j, key);
    if (isfinite(v))
        fprintf(j->f, "%.9g", v);
    else
        fputs("null", j->f);
}

static void json_bool(json *j, const char *key, int v)
{
    json_prefix(j, key);
    fputs(v ? "true" : "false", j->f);
}

static void json_shape(json *j, const char *key, clnet_shape s)
{
    json_open(j, key, '[');
    json_u64(j, NULL, (uint64_t)s.c);
    if (s.rank == 3) {
        json_u64(j, NULL, (uint64_t)s.h);
        json_u64(j, NULL, (uint64_t)s.w);
    }
    json_close(j, ']');
}

/* ------------------------------------------------------------------------ */
/* Argument parsing                                                         */

typedef enum opt_kind { OPT_FLAG, OPT_INT, OPT_U64, OPT_DOUBLE, OPT_STRING } opt_kind;

typedef struct opt_spec {
    const char *name;
    opt_kind kind;
    void *dest; /* int, int, uint64_t, double or const char * */
    int min;    /* smallest accepted OPT_INT value */
} opt_spec;

/* Converts an option's text; returns 0, or -1 if it is not a valid value. */
static int convert_value(const opt_spec *spec, const char *text)
{
    char *end = NULL;
    errno = 0;
    if (spec->kind == OPT_STRING) {
        *(const char **)spec->dest = text;
        return 0;
    }
    if (spec->kind == OPT_INT) {
        long v = strtol(text, &end, 10);
        if (errno || end == text || *end || v < spec->min || v > INT32_MAX)
            return -1;
        *(int *)spec->dest = (int)v;
        return 0;
    }
    if (spec->kind == OPT_U64) {
        unsigned long long v = strtoull(text, &end, 0);
        if (errno || end == text || *end || text[0] == '-')
            return -1;
        *(uint64_t *)spec->dest = (uint64_t)v;
        return 0;
    }
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < 0)
        return -1;
    *(double *)spec->dest = v;
    return 0;
}

/* Parses a command's options (specs plus the common ones) and up to max_pos
 * positional arguments. Options take "--name VALUE" or "--name=VALUE".
 * Returns RC_OK, RC_USAGE, or RC_HELP once help or the version is printed. */
static int parse_args(const char *cmd, const char *help, int argc, char **argv,
                      const opt_spec *specs, int n_specs, const char **pos, int max_pos,
                      int *n_pos, cli_opts *o)
{
    opt_spec common[] = {{"--device", OPT_STRING, &o->device, 0},
                         {"--json", OPT_FLAG, &o->json, 0}};
    if (n_pos)
        *n_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(help, stdout);
            return RC_HELP;
        }
        if (!strcmp(arg, "--version")) {
            printf("clnet %s\n", CLNET_VERSION_STRING);
            return RC_HELP;
        }
        if (arg[0] != '-' || !arg[1]) {
            if (!n_pos || *n_pos >= max_pos)
                return usage_error(cmd, "unexpected argument '%s'", arg);
            pos[(*n_pos)++] = arg;
            continue;
        }

        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const opt_spec *spec = NULL;
        for (int k = 0; k < n_specs + 2 && !spec; k++) {
            const opt_spec *s = k < n_specs ? &specs[k] : &common[k - n_specs];
            if (strlen(s->name) == name_len && !strncmp(s->name, arg, name_len))
                spec = s;
        }
        if (!spec)
            return usage_error(cmd, "unknown option '%s'", arg);
        if (spec->kind == OPT_FLAG) {
            if (eq)
                return usage_error(cmd, "option %s takes no value", spec->name);
            *(int *)spec->dest = 1;
            continue;
        }
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!value)
            return usage_error(cmd, "option %s needs a value", spec->name);
        if (convert_value(spec, value) != 0) {
            const char *want = spec->kind == OPT_DOUBLE ? "a number >= 0"
                               : spec->kind == OPT_U64  ? "an unsigned integer"
                               : spec->min > 0          ? "an integer >= 1"
                                                        : "an integer >= 0";
            return usage_error(cmd, "invalid value '%s' for %s (expected %s)", value, spec->name,
                               want);
        }
    }
    return RC_OK;
}

/* ------------------------------------------------------------------------ */
/* Formatting and small helpers                                             */

/* 274442 -> "274,442", as Keras prints parameter counts. */
static const char *fmt_count(uint64_t v, char *buf, size_t size)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, v);
    size_t out = 0;
    for (int i = 0; i < n && out + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[out++] = ',';
        buf[out++] = digits[i];
    }
    buf[out] = '\0';
    return buf;
}

static const char *fmt_bytes(uint64_t v, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double x = (double)v;
    int u = 0;
    while (x >= 1024.0 && u < 4) {
        x /= 1024.0;
        u++;
    }
    snprintf(buf, size, u == 0 ? "%.0f %s" : "%.2f %s", x, units[u]);
    return buf;
}

/* "C x H x W" as "16x32x32", or the feature count of a flat tensor. */
static const char *fmt_shape(clnet_shape s, char *buf, size_t size)
{
    if (s.rank == 3)
        snprintf(buf, size, "%dx%dx%d", s.c, s.h, s.w);
    else
        snprintf(buf, size, "%d", s.c);
    return buf;
}

static const char *device_type_name(clnet_device_type t)
{
    switch (t) {
    case CLNET_DEVICE_TYPE_CPU: return "CPU";
    case CLNET_DEVICE_TYPE_GPU: return "GPU";
    case CLNET_DEVICE_TYPE_ACCELERATOR: return "accelerator";
    default: return "other";
    }
}

static int same_device(const clnet_device_info *a, const clnet_device_info *b)
{
    return a->platform_index == b->platform_index && a->device_index == b->device_index;
}

/* The name of the node producing a tensor (node i produces tensor i). */
static const char *tensor_name(const clnet_graph *g, int32_t id)
{
    clnet_node_info ni;
    return clnet_graph_node_info(g, id, &ni) == CLNET_STATUS_OK ? ni.name : "?";
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place and returns its median. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ------------------------------------------------------------------------ */
/* clnet devices                                                            */

static void print_device_text(const clnet_device_info *d, int is_default, int is_selected)
{
    char b1[32], b2[32], b3[32];
    printf("\n  [%d:%d] %s%s%s\n", d->platform_index, d->device_index, d->name,
           is_default ? "  (default)" : "", is_selected ? "  (selected)" : "");
    printf("      type              %s\n", device_type_name(d->type));
    printf("      vendor            %s\n", d->vendor);
    printf("      version           %s\n", d->device_version);
    printf("      driver version    %s\n", d->driver_version);
    printf("      compute units     %u\n", d->compute_units);
    printf("      max clock         %u MHz\n", d->max_clock_mhz);
    printf("      global memory     %s\n", fmt_bytes(d->global_mem_bytes, b1, sizeof b1));
    printf("      local memory      %s\n", fmt_bytes(d->local_mem_bytes, b2, sizeof b2));
    printf("      max allocation    %s\n", fmt_bytes(d->max_alloc_bytes, b3, sizeof b3));
    printf("      max work-group    %zu\n", d->max_work_group_size);
    printf("      OpenCL C          %s\n", d->opencl_c_version);
    printf("      fp16 / fp64       %s / %s\n", d->has_fp16 ? "yes" : "no",
           d->has_fp64 ? "yes" : "no");
    printf("      compiler          %s\n", d->has_compiler ? "yes" : "no");
}

static void print_device_json(json *j, const clnet_device_info *d, int is_default,
                              int is_selected)
{
    char index[32];
    snprintf(index, sizeof index, "%d:%d", d->platform_index, d->device_index);
    json_open(j, NULL, '{');
    json_str(j, "index", index);
    json_str(j, "name", d->name);
    json_str(j, "type", device_type_name(d->type));
    json_str(j, "vendor", d->vendor);
    json_str(j, "version", d->device_version);
    json_str(j, "driver_version", d->driver_version);
    json_u64(j, "compute_units", d->compute_units);
    json_u64(j, "max_clock_mhz", d->max_clock_mhz);
    json_u64(j, "global_mem_bytes", d->global_mem_bytes);
    json_u64(j, "local_mem_bytes", d->local_mem_bytes);
    json_u64(j, "max_alloc_bytes", d->max_alloc_bytes);
    json_u64(j, "max_work_group_size", d->max_work_group_size);
    json_str(j, "opencl_c_version", d->opencl_c_version);
    json_bool(j, "fp16", d->has_fp16);
    json_bool(j, "fp64", d->has_fp64);
    json_bool(j, "compiler", d->has_compiler);
    json_bool(j, "default", is_default);
    json_bool(j, "selected", is_selected);
    json_close(j, '}');
}

static int cmd_devices(int argc, char **argv, cli_opts *o)
{
    int rc = parse_args("devices", HELP_DEVICES, argc, argv, NULL, 0, NULL, 0, NULL, o);
    if (rc != RC_OK)
        return rc == RC_HELP ? RC_OK : rc;

    clnet_device_info *list = NULL, def, sel;
    size_t n = 0;
    if (clnet_device_list(&list, &n) != CLNET_STATUS_OK)
        return fail("listing OpenCL devices");
    int has_def = clnet_device_select(NULL, &def) == CLNET_STATUS_OK;
    int has_sel = 0;
    if (o->device && clnet_device_select(o->device, &sel) != CLNET_STATUS_OK)
        rc = fail("selecting device '%s'", o->device);
    else
        has_sel = o->device != NULL;

    json j = {stdout, 0, {0}};
    if (o->json) {
        json_open(&j, NULL, '{');
        json_open(&j, "platforms", '[');
    }
    for (size_t i = 0; i < n; i++) {
        const clnet_device_info *d = &list[i];
        int first_of_platform = i == 0 || list[i - 1].platform_index != d->platform_index;
        if (o->json && first_of_platform) {
            if (i > 0) {
                json_close(&j, ']');
                json_close(&j, '}');
            }
            json_open(&j, NULL, '{');
            json_u64(&j, "index", (uint64_t)d->platform_index);
            json_str(&j, "name", d->platform_name);
            json_str(&j, "vendor", d->platform_vendor);
            json_str(&j, "version", d->platform_version);
            json_open(&j, "devices", '[');
        } else if (first_of_platform) {
            printf("%sPlatform %d: %s\n  vendor   %s\n  version  %s\n", i > 0 ? "\n" : "",
                   d->platform_index, d->platform_name, d->platform_vendor,
                   d->platform_version);
        }
        int is_def = has_def && same_device(d, &def), is_sel = has_sel && same_device(d, &sel);
        if (o->json)
            print_device_json(&j, d, is_def, is_sel);
        else
            print_device_text(d, is_def, is_sel);
    }
    if (o->json) {
        if (n > 0) {
            json_close(&j, ']');
            json_close(&j, '}');
        }
        json_close(&j, ']');
        json_close(&j, '}');
    }
    free(list);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* clnet info                                                               */

static void print_rule(char c, int width)
{
    for (int i = 0; i < width; i++)
        putchar(c);
    putchar('\n');
}

static void print_nodes_text(const clnet_graph *g)
{
    int n = clnet_graph_node_count(g), name_w = 4, op_w = 2;
    for (int i = 0; i < n; i++) {
        clnet_node_info ni;
        if (clnet_graph_node_info(g, i, &ni) != CLNET_STATUS_OK)
            continue;
        int nl = (int)strlen(ni.name), ol = (int)strlen(clnet_op_name(ni.op));
        name_w = nl > name_w ? nl : name_w;
        op_w = ol > op_w ? ol : op_w;
    }
    int rule = name_w + op_w + 14 + 12 + 16 + 12;
    printf("%-*s  %-*s  %-12s  %10s  %14s  %s\n", name_w, "Node", op_w, "Op", "Output shape",
           "Params", "MACs/image", "Inputs");
    print_rule('=', rule);
    for (int i = 0; i < n; i++) {
        clnet_node_info ni;
        char shape[48], params[32], macs[32];
        if (clnet_graph_node_info(g, i, &ni) != CLNET_STATUS_OK)
            continue;
        printf("%-*s  %-*s  %-12s  %10s  %14s  ", name_w, ni.name, op_w, clnet_op_name(ni.op),
               fmt_shape(ni.output_shape, shape, sizeof shape),
               fmt_count(ni.params, params, sizeof params),
               fmt_count(ni.macs_per_image, macs, sizeof macs));
        int shown = ni.n_inputs < CLNET_MAX_NODE_INPUTS_SHOWN ? ni.n_inputs
                                                              : CLNET_MAX_NODE_INPUTS_SHOWN;
        for (int k = 0; k < shown; k++)
            printf("%s%s", k ? ", " : "", tensor_name(g, ni.inputs[k]));
        if (ni.n_inputs > shown)
            printf(", ... (%d more)", ni.n_inputs - shown);
        printf("%s\n", ni.n_inputs == 0 ? "-" : "");
    }
    print_rule('-', rule);
}

static void print_nodes_json(json *j, const clnet_graph *g)
{
    json_open(j, "nodes", '[');
    for (int i = 0; i < clnet_graph_node_count(g); i++) {
        clnet_node_info ni;
        if (clnet_graph_node_info(g, i, &ni) != CLNET_STATUS_OK)
            continue;
        json_open(j, NULL, '{');
        json_str(j, "name", ni.name);
        json_str(j, "op", clnet_op_name(ni.op));
        json_shape(j, "shape", ni.output_shape);
        json_u64(j, "params", ni.params);
        json_u64(j, "macs_per_image", ni.macs_per_image);
        json_u64(j, "n_inputs", (uint64_t)ni.n_inputs);
        json_open(j, "inputs", '[');
        for (int k = 0; k < ni.n_inputs && k < CLNET_MAX_NODE_INPUTS_SHOWN; k++)
            json_str(j, NULL, tensor_name(g, ni.inputs[k]));
        json_close(j, ']');
        json_close(j, '}');
    }
    json_close(j, ']');
}

/* Graph inputs (which = 0) or outputs (which = 1) with their shapes. */
static void print_ends(json *j, const clnet_graph *g, int which)
{
    int n = which ? clnet_graph_output_count(g) : clnet_graph_input_count(g);
    if (j)
        json_open(j, which ? "outputs" : "inputs", '[');
    else
        printf("%-20s", which ? "Outputs:" : "Inputs:");
    for (int i = 0; i < n; i++) {
        clnet_tensor t = which ? clnet_graph_output_at(g, i) : clnet_graph_input_at(g, i);
        clnet_shape s = {0, 0, 0, 0};
        char buf[48];
        clnet_tensor_shape(g, t, &s);
        if (j) {
            json_open(j, NULL, '{');
            json_str(j, "name", tensor_name(g, t.id));
            json_shape(j, "shape", s);
            json_close(j, '}');
        } else {
            printf("%s%s %s", i ? ", " : "", tensor_name(g, t.id), fmt_shape(s, buf, sizeof buf));
        }
    }
    if (j)
        json_close(j, ']');
    else
        printf("\n");
}

/* Widths of the label and kernel columns of a step table. */
static void step_widths(const clnet_net *net, int *label_w, int *kernel_w)
{
    clnet_step_info si;
    *label_w = 5;
    *kernel_w = 6;
    for (int i = 0; i < clnet_net_step_count(net); i++) {
        if (clnet_net_step_info(net, i, &si) != CLNET_STATUS_OK)
            continue;
        *label_w = (int)strlen(si.label) > *label_w ? (int)strlen(si.label) : *label_w;
        *kernel_w = (int)strlen(si.kernel) > *kernel_w ? (int)strlen(si.kernel) : *kernel_w;
    }
}

static void print_steps(json *j, const clnet_net *net, const clnet_graph *g)
{
    int n = clnet_net_step_count(net), label_w, kernel_w;
    clnet_step_info si;
    step_widths(net, &label_w, &kernel_w);
    if (j)
        json_open(j, "steps", '[');
    else
        printf("\nCompiled steps (%d):\n%4s  %-*s  %-*s  %14s\n", n, "#", label_w, "Label",
               kernel_w, "Kernel", "MACs/image");
    for (int i = 0; i < n; i++) {
        char macs[32];
        if (clnet_net_step_info(net, i, &si) != CLNET_STATUS_OK)
            continue;
        if (!j) {
            printf("%4d  %-*s  %-*s  %14s\n", i, label_w, si.label, kernel_w, si.kernel,
                   fmt_count(si.macs_per_image, macs, sizeof macs));
            continue;
        }
        json_open(j, NULL, '{');
        json_str(j, "label", si.label);
        json_str(j, "kernel", si.kernel);
        json_str(j, "node", tensor_name(g, si.node));
        json_u64(j, "macs_per_image", si.macs_per_image);
        json_close(j, '}');
    }
    if (j)
        json_close(j, ']');
}

static void print_memory(json *j, const char *device, const clnet_memory_report *mem,
                         const int *batches, int n)
{
    char b[4][32];
    if (!j)
        printf("\nDevice memory of the compiled net on %s:\n%8s  %14s  %14s  %14s  %14s\n",
               device, "batch", "activations", "without reuse", "weights", "scratch");
    else
        json_open(j, "memory", '[');
    for (int i = 0; i < n; i++) {
        const clnet_memory_report *m = &mem[i];
        if (!j) {
            printf("%8d  %14s  %14s  %14s  %14s\n", batches[i],
                   fmt_bytes(m->activation_bytes, b[0], sizeof b[0]),
                   fmt_bytes(m->activation_bytes_without_reuse, b[1], sizeof b[1]),
                   fmt_bytes(m->weight_bytes, b[2], sizeof b[2]),
                   fmt_bytes(m->scratch_bytes, b[3], sizeof b[3]));
            continue;
        }
        json_open(j, NULL, '{');
        json_u64(j, "batch", (uint64_t)batches[i]);
        json_u64(j, "activation_bytes", m->activation_bytes);
        json_u64(j, "activation_bytes_without_reuse", m->activation_bytes_without_reuse);
        json_u64(j, "weight_bytes", m->weight_bytes);
        json_u64(j, "scratch_bytes", m->scratch_bytes);
        json_close(j, '}');
    }
    if (j)
        json_close(j, ']');
}

static int cmd_info(int argc, char **argv, cli_opts *o)
{
    int batch = 1, steps = 0, n_pos = 0;
    uint64_t seed = DEFAULT_SEED;
    const opt_spec specs[] = {{"--batch", OPT_INT, &batch, 1},
                              {"--steps", OPT_FLAG, &steps, 0},
                              {"--seed", OPT_U64, &seed, 0}};
    const char *model = NULL;
    int rc = parse_args("info", HELP_INFO, argc, argv, specs, 3, &model, 1, &n_pos, o);
    if (rc != RC_OK)
        return rc == RC_HELP ? RC_OK : rc;
    if (n_pos != 1)
        return usage_error("info", "expected one MODEL");

    clnet_graph *g = NULL;
    if (clnet_model_open(model, seed, &g) != CLNET_STATUS_OK)
        return fail("opening model '%s'", model);

    /* The memory plan and the steps need a compiled net, hence a device;
     * without one the rest of the summary still stands. */
    clnet_context *ctx = NULL;
    clnet_net *net = NULL;
    const char *device = NULL;
    clnet_memory_report mem[2];
    int batches[2] = {1, batch}, n_mem = batch == 1 ? 1 : 2;
    char no_plan[768] = "";
    clnet_net_options nopt = clnet_net_options_default();
    if (clnet_context_create(o->device, NULL, &ctx) != CLNET_STATUS_OK) {
        snprintf(no_plan, sizeof no_plan,
                 "Memory plan and compiled steps: need a device, and none could be opened: %s",
                 clnet_last_error());
    } else {
        device = clnet_context_device(ctx)->name;
        if (clnet_net_create(ctx, g, &nopt, &net) != CLNET_STATUS_OK)
            rc = fail("compiling '%s' for %s", model, device);
        for (int b = 0; net && b < n_mem && rc == RC_OK; b++)
            if (clnet_net_memory(net, batches[b], &mem[b]) != CLNET_STATUS_OK)
                rc = fail("planning the memory of '%s' for batch %d", model, batches[b]);
        if (rc != RC_OK)
            snprintf(no_plan, sizeof no_plan,
                     "Memory plan and compiled steps: unavailable, see the error above");
    }

    char b1[32], b2[32];
    uint64_t macs = clnet_graph_macs_per_image(g);
    json jw = {stdout, 0, {0}}, *j = o->json ? &jw : NULL;
    if (j) {
        json_open(j, NULL, '{');
        json_str(j, "model", model);
        print_nodes_json(j, g);
        json_u64(j, "params", clnet_graph_param_count(g));
        json_u64(j, "macs_per_image", macs);
    } else {
        printf("Model: %s\n\n", model);
        print_nodes_text(g);
        printf("%-20s%s\n", "Parameters:", fmt_count(clnet_graph_param_count(g), b1, sizeof b1));
        printf("%-20s%s (%.1f M)\n", "MACs per image:", fmt_count(macs, b2, sizeof b2),
               (double)macs / 1e6);
    }
    print_ends(j, g, 0);
    print_ends(j, g, 1);
    if (net && rc == RC_OK) {
        if (j)
            json_str(j, "device", device);
        print_memory(j, device, mem, batches, n_mem);
        if (steps)
            print_steps(j, net, g);
    } else if (j) {
        json_str(j, "memory_note", no_plan);
    } else {
        printf("\n%s\n", no_plan);
    }
    if (j)
        json_close(j, '}');

    clnet_net_destroy(net);
    clnet_context_destroy(ctx);
    clnet_graph_destroy(g);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Running a net against the reference: shared by run and selftest         */

/* Host buffers of every input and output of a graph for one batch. */
typedef struct work {
    int batch, check;           /* images per run; leading images checked */
    int n_in, n_out;
    size_t *in_size, *out_size; /* floats per image */
    float **in, **out, **ref;   /* ref holds check images */
    double *errs;               /* per output, after work_check */
} work;

static void work_free(work *w)
{
    for (int i = 0; w->in && i < w->n_in; i++)
        free(w->in[i]);
    for (int i = 0; w->out && i < w->n_out; i++)
        free(w->out[i]);
    for (int i = 0; w->ref && i < w->n_out; i++)
        free(w->ref[i]);
    free(w->in);
    free(w->out);
    free(w->ref);
    free(w->errs);
    free(w->in_size);
    free(w->out_size);
    memset(w, 0, sizeof *w);
}

static float *alloc_floats(size_t n, const char *what)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p)
        fail_msg("allocating %zu bytes for %s: out of memory", n * sizeof(float), what);
    return p;
}

static int work_init(work *w, const clnet_graph *g, int batch, int check)
{
    memset(w, 0, sizeof *w);
    w->batch = batch;
    w->check = check;
    w->n_in = clnet_graph_input_count(g);
    w->n_out = clnet_graph_output_count(g);
    w->in_size = calloc((size_t)w->n_in + 1, sizeof(size_t));
    w->out_size = calloc((size_t)w->n_out + 1, sizeof(size_t));
    w->in = calloc((size_t)w->n_in + 1, sizeof(float *));
    w->out = calloc((size_t)w->n_out + 1, sizeof(float *));
    w->ref = calloc((size_t)w->n_out + 1, sizeof(float *));
    w->errs = calloc((size_t)w->n_out + 1, sizeof(double));
    if (!w->in_size || !w->out_size || !w->in || !w->out || !w->ref || !w->errs)
        return fail_msg("allocating the buffer tables: out of memory");
    for (int i = 0; i < w->n_in + w->n_out; i++) {
        int is_in = i < w->n_in, k = is_in ? i : i - w->n_in;
        clnet_tensor t = is_in ? clnet_graph_input_at(g, k) : clnet_graph_output_at(g, k);
        clnet_shape s;
        if (clnet_tensor_shape(g, t, &s) != CLNET_STATUS_OK)
            return fail("reading the shape of %s %d", is_in ? "input" : "output", k);
        size_t size = clnet_shape_size(s);
        if (is_in) {
            w->in_size[k] = size;
            if (!(w->in[k] = alloc_floats((size_t)batch * size, "the inputs")))
                return RC_FAIL;
            continue;
        }
        w->out_size[k] = size;
        if (!(w->out[k] = alloc_floats((size_t)batch * size, "the outputs")) ||
            !(w->ref[k] = alloc_floats((size_t)check * size, "the reference outputs")))
            return RC_FAIL;
    }
    return RC_OK;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): 23 random bits plus one half is exact in a float and
 * never 0, so no input is all zeros and hides a missing computation. */
static void fill_random(float *x, size_t n, uint64_t *state)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(((double)(splitmix64(state) >> 41) + 0.5) / 8388608.0);
}

/* max |got - ref| / max |ref|: one number per output that does not blow up
 * on entries near zero, as softmax outputs have. NaN when got has any NaN. */
static double max_rel_error(const float *got, const float *ref, size_t n)
{
    double max_diff = 0.0, max_ref = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]), r = fabs((double)ref[i]);
        if (isnan(d))
            return NAN;
        max_diff = d > max_diff ? d : max_diff;
        max_ref = r > max_ref ? r : max_ref;
    }
    return max_diff / (max_ref > 0.0 ? max_ref : 1.0);
}

/* Runs the host reference on the first w->check images (the outputs must
 * hold a device run of the same inputs) and fills w->errs per output. Gives
 * the worst error, NaN if any is NaN. */
static int work_check(work *w, const clnet_graph *g, double *worst)
{
    *worst = 0.0;
    if (w->check == 0)
        return RC_OK;
    if (clnet_graph_run_reference(g, w->check, (const float *const *)w->in, w->ref) !=
        CLNET_STATUS_OK)
        return fail("running the host reference on %d images", w->check);
    for (int o = 0; o < w->n_out; o++) {
        w->errs[o] = max_rel_error(w->out[o], w->ref[o], (size_t)w->check * w->out_size[o]);
        if (!isnan(*worst) && !(w->errs[o] <= *worst))
            *worst = w->errs[o];
    }
    return RC_OK;
}

static int work_run(work *w, clnet_net *net)
{
    if (clnet_net_run(net, w->batch, (const float *const *)w->in, w->out) != CLNET_STATUS_OK)
        return fail("running the net on a batch of %d", w->batch);
    return RC_OK;
}

/* warmup untimed runs, then repeat runs timed by wall clock into secs. */
static int work_time(work *w, clnet_net *net, int warmup, int repeat, double *secs)
{
    for (int r = 0; r < warmup + repeat; r++) {
        double t0 = now_seconds();
        if (work_run(w, net) != RC_OK)
            return RC_FAIL;
        if (r >= warmup)
            secs[r - warmup] = now_seconds() - t0;
    }
    return RC_OK;
}

/* ------------------------------------------------------------------------ */
/* clnet run                                                                */

/* Indexed by enum value: CLNET_CONV_* and CLNET_GEMM_*. */
static const char *const CONV_ALGO_NAMES[] = {"auto", "direct", "im2col", "gemm1x1"};
static const char *const GEMM_NAMES[] = {"auto", "clnet", "clblast"};

static int name_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

/* Feeds every input shaped like input 0 from a raw float32 NCHW file,
 * repeating its images to fill the batch; other inputs keep their random
 * data. Gives the number of images in the file and of inputs fed. */
static int load_input_file(work *w, const char *path, size_t *n_images, int *n_fed)
{
    size_t image_bytes = w->in_size[0] * sizeof(float), use;
    long bytes = -1;
    float *data = NULL;
    int rc = RC_FAIL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail_msg("opening input file '%s': %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) == 0)
        bytes = ftell(f);
    if (bytes < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fail_msg("finding the size of input file '%s': %s", path, strerror(errno));
        goto done;
    }
    if (bytes == 0 || (size_t)bytes % image_bytes != 0) {
        fail_msg("input file '%s' has %ld bytes, which is not a whole number of images of input 0"
                 " (%zu float32 values, %zu bytes each)",
                 path, bytes, w->in_size[0], image_bytes);
        goto done;
    }
    *n_images = (size_t)bytes / image_bytes;
    use = *n_images < (size_t)w->batch ? *n_images : (size_t)w->batch;
    if (!(data = alloc_floats(use * w->in_size[0], "the input file")))
        goto done;
    if (fread(data, image_bytes, use, f) != use) {
        fail_msg("reading input file '%s': %s", path,
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
static void print_profile(json *j, const clnet_net *net, int batch, double wall_s)
{
    int n = clnet_net_step_count(net), label_w, kernel_w;
    double total = 0.0;
    clnet_step_info si;
    step_widths(net, &label_w, &kernel_w);
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
            printf("%4d  %-*s  %-*s  %10s  %7s  %8s\n", i, label_w, si.label, kernel_w,
                   si.kernel, t[0], t[1], t[2]);
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
    size_t file_images; /* images in the --input file */
    int file_inputs;    /* graph inputs fed from it */
} run_args;

/* Prints the results of cmd_run; secs are sorted, last_s is the last run. */
static void print_run(json *j, const run_args *a, const char *model, const clnet_graph *g,
                      const clnet_device_info *dev, const work *w, double worst, int pass,
                      const double *secs, double med)
{
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
            json_str(j, "name", tensor_name(g, clnet_graph_output_at(g, o).id));
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
           fmt_count(clnet_graph_param_count(g), b1, sizeof b1),
           (double)clnet_graph_macs_per_image(g) / 1e6);
    printf("Device     %s [%d:%d]\n", dev->name, dev->platform_index, dev->device_index);
    printf("Options    conv %s, gemm %s\n", a->conv_algo, a->gemm);
    if (a->input)
        printf("Input      %s (%zu images, repeated to fill the batch; feeds %d of %d inputs%s)\n",
               a->input, a->file_images, a->file_inputs, w->n_in,
               a->file_inputs < w->n_in ? ", the others are random" : "");
    else
        printf("Input      uniform random in (0, 1), seed %" PRIu64 "\n", a->seed);
    printf("Batch      %d\n", a->batch);
    if (a->check == 0) {
        printf("Check      skipped (--check-batch 0)\n");
    } else {
        printf("Check      first %d image%s against the host reference\n", a->check,
               a->check == 1 ? "" : "s");
        for (int o = 0; o < w->n_out; o++)
            printf("           %s: max relative error %.3g\n",
                   tensor_name(g, clnet_graph_output_at(g, o).id), w->errs[o]);
        printf("           %s (tolerance %g)\n", pass ? "PASS" : "FAIL", a->tolerance);
    }
    printf("Timing     %d warm-up + %d timed runs, wall clock\n", a->warmup, a->repeat);
    printf("           %.1f images/s (median %.3f ms per batch; min %.1f, max %.1f images/s)\n",
           ips, med * 1e3, ips_min, ips_max);
}

static int cmd_run(int argc, char **argv, cli_opts *o)
{
    run_args a = {32, 10, 2, -1, 0, 0, 1e-4, DEFAULT_SEED, NULL, "auto", "auto", 0, 0};
    const opt_spec specs[] = {
        {"--batch", OPT_INT, &a.batch, 1},     {"--repeat", OPT_INT, &a.repeat, 1},
        {"--warmup", OPT_INT, &a.warmup, 0},   {"--check-batch", OPT_INT, &a.check, 0},
        {"--profile", OPT_FLAG, &a.profile, 0}, {"--tolerance", OPT_DOUBLE, &a.tolerance, 0},
        {"--logits", OPT_FLAG, &a.logits, 0},
        {"--seed", OPT_U64, &a.seed, 0},       {"--input", OPT_STRING, &a.input, 0},
        {"--conv-algo", OPT_STRING, &a.conv_algo, 0}, {"--gemm", OPT_STRING, &a.gemm, 0}};
    const char *model = NULL;
    int n_pos = 0;
    int rc = parse_args("run", HELP_RUN, argc, argv, specs, 10, &model, 1, &n_pos, o);
    if (rc != RC_OK)
        return rc == RC_HELP ? RC_OK : rc;
    if (n_pos != 1)
        return usage_error("run", "expected one MODEL");
    if (a.check < 0)
        a.check = a.batch < 4 ? a.batch : 4;
    if (a.check > a.batch)
        return usage_error("run", "--check-batch %d exceeds --batch %d", a.check, a.batch);
    clnet_net_options nopt = clnet_net_options_default();
    int conv = name_index(CONV_ALGO_NAMES, 4, a.conv_algo);
    int gemm = name_index(GEMM_NAMES, 3, a.gemm);
    if (conv < 0)
        return usage_error("run", "unknown --conv-algo '%s' (auto, direct, im2col, gemm1x1)",
                           a.conv_algo);
    if (gemm < 0)
        return usage_error("run", "unknown --gemm '%s' (auto, clnet, clblast)", a.gemm);
    nopt.conv_algo = (clnet_conv_algo)conv;
    nopt.gemm_backend = (clnet_gemm_backend)gemm;

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
        fail_msg("allocating the timing table: out of memory");
        goto done;
    }
    if (clnet_model_open(model, a.seed, &g) != CLNET_STATUS_OK) {
        fail("opening model '%s'", model);
        goto done;
    }
    if (a.logits && clnet_graph_strip_final_softmax(g, NULL) != CLNET_STATUS_OK) {
        fail("removing the final softmax of '%s'", model);
        goto done;
    }
    if (clnet_context_create(o->device, &copt, &ctx) != CLNET_STATUS_OK) {
        fail("opening device '%s'", o->device ? o->device : "(default)");
        goto done;
    }
    dev = clnet_context_device(ctx);
    if (clnet_net_create(ctx, g, &nopt, &net) != CLNET_STATUS_OK) {
        fail("compiling '%s' for %s", model, dev->name);
        goto done;
    }
    if (work_init(&w, g, a.batch, a.check) != RC_OK)
        goto done;
    for (int i = 0; i < w.n_in; i++)
        fill_random(w.in[i], (size_t)a.batch * w.in_size[i], &state);
    if (a.input && load_input_file(&w, a.input, &a.file_images, &a.file_inputs) != RC_OK)
        goto done;

    /* One checked run, then the timed ones. */
    if (work_run(&w, net) != RC_OK || work_check(&w, g, &worst) != RC_OK)
        goto done;
    int pass = a.check == 0 || worst <= a.tolerance; /* a NaN error fails */
    if (work_time(&w, net, a.warmup, a.repeat, secs) != RC_OK)
        goto done;
    double last_s = secs[a.repeat - 1], med = median(secs, a.repeat);

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
                         double tolerance, selftest_result *r)
{
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
        fail("building '%s'", name);
    else if (clnet_graph_strip_final_softmax(g, NULL) != CLNET_STATUS_OK)
        fail("removing the final softmax of '%s'", name);
    else if (clnet_net_create(ctx, g, &nopt, &net) != CLNET_STATUS_OK)
        fail("compiling '%s'", name);
    else if (work_init(&w, g, batch, batch < 2 ? batch : 2) == RC_OK)
        rc = RC_OK;
    if (rc == RC_OK) {
        for (int i = 0; i < w.n_in; i++)
            fill_random(w.in[i], (size_t)batch * w.in_size[i], &state);
        if (work_run(&w, net) != RC_OK || work_check(&w, g, &r->err) != RC_OK ||
            work_time(&w, net, WARMUP, REPEAT, secs) != RC_OK)
            rc = RC_FAIL;
    }
    if (rc == RC_OK) {
        r->images_per_s = batch / median(secs, REPEAT);
        r->pass = r->err <= tolerance;
    } else {
        snprintf(r->error, sizeof r->error, "%s", last_failure);
    }
    r->params = g ? clnet_graph_param_count(g) : 0;
    work_free(&w);
    clnet_net_destroy(net);
    clnet_graph_destroy(g);
}

/* Splits a comma-separated list in place into names; returns their count
 * or -1 if an item is empty or there are too many. */
static int split_names(char *list, const char **names, int max)
{
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

static int cmd_selftest(int argc, char **argv, cli_opts *o)
{
    int batch = 8;
    double tolerance = 1e-4;
    uint64_t seed = DEFAULT_SEED;
    const char *networks = NULL, *names[MAX_NETWORKS];
    const opt_spec specs[] = {{"--batch", OPT_INT, &batch, 1},
                              {"--networks", OPT_STRING, &networks, 0},
                              {"--tolerance", OPT_DOUBLE, &tolerance, 0},
                              {"--seed", OPT_U64, &seed, 0}};
    int rc = parse_args("selftest", HELP_SELFTEST, argc, argv, specs, 4, NULL, 0, NULL, o);
    if (rc != RC_OK)
        return rc == RC_HELP ? RC_OK : rc;

    int n = (int)(sizeof BUILTIN_NETWORKS / sizeof BUILTIN_NETWORKS[0]);
    char *list = NULL;
    if (networks) {
        if (!(list = malloc(strlen(networks) + 1)))
            return fail_msg("copying the network list: out of memory");
        strcpy(list, networks);
        n = split_names(list, names, MAX_NETWORKS);
        if (n < 0) {
            free(list);
            return usage_error("selftest", "--networks needs 1 to %d comma-separated names, "
                               "none empty", MAX_NETWORKS);
        }
    } else {
        memcpy(names, BUILTIN_NETWORKS, sizeof BUILTIN_NETWORKS);
    }

    clnet_context *ctx = NULL;
    selftest_result *res = calloc((size_t)n, sizeof *res);
    if (!res) {
        free(list);
        return fail_msg("allocating the results table: out of memory");
    }
    if (clnet_context_create(o->device, NULL, &ctx) != CLNET_STATUS_OK) {
        rc = fail("opening device '%s'", o->device ? o->device : "(default)");
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
               fmt_count(res[i].params, b1, sizeof b1), err,
               res[i].error[0] ? "ERROR" : res[i].pass ? "PASS" : "FAIL", ips);
    }

    json jw = {stdout, 0, {0}}, *j = &jw;
    if (!o->json) {
        printf("\n%d network%s: %d passed, %d failed\n", n, n == 1 ? "" : "s", n - failed,
               failed);
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

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    cli_opts o = {NULL, 0};
    int i = 1;

    /* Common options may come before the command as well as after it. */
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(HELP_MAIN, stdout);
            return RC_OK;
        } else if (!strcmp(arg, "--version")) {
            if (o.json)
                printf("{\"version\":\"%s\"}\n", CLNET_VERSION_STRING);
            else
                printf("clnet %s\n", CLNET_VERSION_STRING);
            return RC_OK;
        } else if (!strcmp(arg, "--json")) {
            o.json = 1;
        } else if (!strcmp(arg, "--device") && i + 1 < argc) {
            o.device = argv[++i];
        } else if (!strncmp(arg, "--device=", 9)) {
            o.device = arg + 9;
        } else {
            return usage_error(NULL, "unknown or incomplete option '%s'", arg);
        }
    }
    if (i == argc) {
        fputs(HELP_MAIN, stderr);
        return RC_USAGE;
    }

    const char *cmd = argv[i];
    int sub_argc = argc - i - 1;
    char **sub_argv = argv + i + 1;
    if (!strcmp(cmd, "devices"))
        return cmd_devices(sub_argc, sub_argv, &o);
    if (!strcmp(cmd, "info"))
        return cmd_info(sub_argc, sub_argv, &o);
    if (!strcmp(cmd, "run"))
        return cmd_run(sub_argc, sub_argv, &o);
    if (!strcmp(cmd, "selftest"))
        return cmd_selftest(sub_argc, sub_argv, &o);
    if (!strcmp(cmd, "help")) {
        fputs(HELP_MAIN, stdout);
        return RC_OK;
    }
    return usage_error(NULL, "unknown command '%s' (devices, info, run, selftest)", cmd);
}
