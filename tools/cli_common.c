/* Shared parts of the clnet command-line tool: messages, option parsing,
 * formatting, timing and model opening. */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "clnet%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'clnet%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
    return RC_USAGE;
}

/* The last failure reported by cli_fail() or cli_fail_msg(), kept (shortened if
 * need be) for the selftest table; stderr gets it whole. */
static char last_failure[1024];

const char *cli_last_failure(void) {
    return last_failure;
}

static void report_failure(const char *why, const char *fmt, va_list ap) {
    int n = vsnprintf(last_failure, sizeof last_failure, fmt, ap);
    fprintf(stderr, "clnet: %s", last_failure);
    if (why) {
        fprintf(stderr, ": %s", why);
        if (n >= 0 && (size_t)n < sizeof last_failure)
            snprintf(last_failure + n, sizeof last_failure - (size_t)n, ": %s", why);
    }
    fputc('\n', stderr);
}

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    report_failure(clnet_last_error(), fmt, ap);
    va_end(ap);
    return RC_FAIL;
}

int cli_fail_msg(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    report_failure(NULL, fmt, ap);
    va_end(ap);
    return RC_FAIL;
}

/* ------------------------------------------------------------------------ */
/* Argument parsing                                                         */

/* Converts an option's text; returns 0, or -1 if it is not a valid value. */
static int convert_value(const opt_spec *spec, const char *text) {
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

int cli_parse_args(const char *cmd, const char *help, int argc, char **argv, const opt_spec *specs,
                   int n_specs, const char **pos, int max_pos, int *n_pos, cli_opts *o) {
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
                return cli_usage_error(cmd, "unexpected argument '%s'", arg);
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
            return cli_usage_error(cmd, "unknown option '%s'", arg);
        if (spec->kind == OPT_FLAG) {
            if (eq)
                return cli_usage_error(cmd, "option %s takes no value", spec->name);
            *(int *)spec->dest = 1;
            continue;
        }
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!value)
            return cli_usage_error(cmd, "option %s needs a value", spec->name);
        if (convert_value(spec, value) != 0) {
            const char *want = spec->kind == OPT_DOUBLE ? "a number >= 0"
                               : spec->kind == OPT_U64  ? "an unsigned integer"
                               : spec->min > 0          ? "an integer >= 1"
                                                        : "an integer >= 0";
            return cli_usage_error(cmd, "invalid value '%s' for %s (expected %s)", value,
                                   spec->name, want);
        }
    }
    return RC_OK;
}

/* ------------------------------------------------------------------------ */
/* Formatting and small helpers                                             */

const char *cli_fmt_count(uint64_t v, char *buf, size_t size) {
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

const char *cli_fmt_bytes(uint64_t v, char *buf, size_t size) {
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

const char *cli_fmt_shape(clnet_shape s, char *buf, size_t size) {
    if (s.rank == 3)
        snprintf(buf, size, "%dx%dx%d", s.c, s.h, s.w);
    else
        snprintf(buf, size, "%d", s.c);
    return buf;
}

const char *cli_tensor_name(const clnet_graph *g, int32_t id) {
    clnet_node_info ni;
    return clnet_graph_node_info(g, id, &ni) == CLNET_STATUS_OK ? ni.name : "?";
}

double cli_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double cli_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void cli_step_widths(const clnet_net *net, int *label_w, int *kernel_w) {
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

float *cli_alloc_floats(size_t n, const char *what) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p)
        cli_fail_msg("allocating %zu bytes for %s: out of memory", n * sizeof(float), what);
    return p;
}

/* ------------------------------------------------------------------------ */
/* Models                                                                   */

int cli_open_model(const char *cmd, const char *model, const char *arch, uint64_t seed,
                   clnet_graph **out) {
    *out = NULL;
    if (!arch) {
        if (clnet_model_open(model, seed, out) != CLNET_STATUS_OK)
            return cli_fail("opening model '%s'", model);
        return RC_OK;
    }
    /* A built-in name has its architecture already; an architecture given
     * with one is a mistake worth saying, not something to ignore. */
    clnet_graph *builtin = NULL;
    if (clnet_model_builtin(model, seed, &builtin) == CLNET_STATUS_OK) {
        clnet_graph_destroy(builtin);
        return cli_usage_error(cmd,
                               "'%s' is a built-in network; --arch names the architecture "
                               "of a weights-only model file",
                               model);
    }
    if (clnet_model_load(model, arch, out) != CLNET_STATUS_OK)
        return cli_fail("loading model '%s' as architecture '%s'", model, arch);
    return RC_OK;
}
