/* The clnet command-line tool: what its commands share (messages, option
 * parsing, JSON output, formatting, model opening, reference checks). */
#ifndef CLNET_CLI_H
#define CLNET_CLI_H

#include <clnet.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__) || defined(__clang__)
#define CLI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CLI_PRINTF(fmt, args)
#endif

/* Exit codes, plus RC_HELP for "help was printed, stop with 0". */
enum { RC_OK = 0, RC_FAIL = 1, RC_USAGE = 2, RC_HELP = -1 };

#define DEFAULT_SEED 42

/* Options every command takes. */
typedef struct cli_opts {
    const char *device; /* NULL: $CLNET_DEVICE, else the default device */
    int json;
} cli_opts;

/* The commands (cli_info.c, cli_run.c, cli_eval.c, cli_classify.c,
 * cli_convert.c, cli_compile.c, cli_tune.c): argc and argv follow the
 * command's name. */
int cmd_devices(int argc, char **argv, cli_opts *o);
int cmd_info(int argc, char **argv, cli_opts *o);
int cmd_run(int argc, char **argv, cli_opts *o);
int cmd_selftest(int argc, char **argv, cli_opts *o);
int cmd_eval(int argc, char **argv, cli_opts *o);
int cmd_classify(int argc, char **argv, cli_opts *o);
int cmd_convert(int argc, char **argv, cli_opts *o);
int cmd_compile(int argc, char **argv, cli_opts *o);
int cmd_tune(int argc, char **argv, cli_opts *o);

/* ------------------------------------------------------------------------ */
/* Messages (cli_common.c)                                                  */

/* Prints "clnet CMD: message" and a pointer to the help; returns RC_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);
/* Reports a failed library call with clnet_last_error(); returns RC_FAIL.
 * The arguments must not call into clnet, which could replace the message
 * before it is read. */
int cli_fail(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Reports a failure of the tool itself; returns RC_FAIL. */
int cli_fail_msg(const char *fmt, ...) CLI_PRINTF(1, 2);
/* The last failure reported by cli_fail() or cli_fail_msg(), shortened if
 * need be: "" if none. */
const char *cli_last_failure(void);

/* ------------------------------------------------------------------------ */
/* Option parsing (cli_common.c)                                            */

typedef enum opt_kind { OPT_FLAG, OPT_INT, OPT_U64, OPT_DOUBLE, OPT_STRING } opt_kind;

typedef struct opt_spec {
    const char *name;
    opt_kind kind;
    void *dest; /* int, int, uint64_t, double or const char * */
    int min;    /* smallest accepted OPT_INT value */
} opt_spec;

/* Parses a command's options (specs plus the common ones) and up to max_pos
 * positional arguments. Options take "--name VALUE" or "--name=VALUE".
 * Returns RC_OK, RC_USAGE, or RC_HELP once help or the version is printed. */
int cli_parse_args(const char *cmd, const char *help, int argc, char **argv, const opt_spec *specs,
                   int n_specs, const char **pos, int max_pos, int *n_pos, cli_opts *o);

/* ------------------------------------------------------------------------ */
/* Formatting, timing, memory (cli_common.c)                                */

/* 274442 -> "274,442", as Keras prints parameter counts. */
const char *cli_fmt_count(uint64_t v, char *buf, size_t size);
/* 1536 -> "1.50 KiB". */
const char *cli_fmt_bytes(uint64_t v, char *buf, size_t size);
/* "C x H x W" as "16x32x32", or the feature count of a flat tensor. */
const char *cli_fmt_shape(clnet_shape s, char *buf, size_t size);
/* The name of the node producing a tensor (node i produces tensor i). */
const char *cli_tensor_name(const clnet_graph *g, int32_t id);
/* Widths of the label and kernel columns of a table of compiled steps. */
void cli_step_widths(const clnet_net *net, int *label_w, int *kernel_w);
/* Monotonic wall clock in seconds. */
double cli_now_seconds(void);
/* Sorts v in place and returns its median. */
double cli_median(double *v, int n);
/* malloc of n floats (at least one), reporting a failure naming what. */
float *cli_alloc_floats(size_t n, const char *what);

/* Opens MODEL for command cmd: a built-in name (weights from seed) or a
 * model file of any format, loaded with clnet_model_load(path, arch). arch
 * (--arch) applies to files only; with a built-in name it is a usage error.
 * Returns RC_OK, RC_FAIL or RC_USAGE, having reported the problem. */
int cli_open_model(const char *cmd, const char *model, const char *arch, uint64_t seed,
                   clnet_graph **out);

/* ------------------------------------------------------------------------ */
/* JSON output (cli_json.c): a streaming writer that only tracks where      */
/* commas go                                                                */

#define JSON_MAX_DEPTH 16 /* the documents written nest at most 5 deep */

typedef struct json {
    FILE *f;
    int depth;
    int has_items[JSON_MAX_DEPTH];
} json;

/* key is NULL inside arrays. bracket is '{' or '[' (and '}' or ']'). */
void json_open(json *j, const char *key, char bracket);
void json_close(json *j, char bracket);
void json_str(json *j, const char *key, const char *v);
void json_u64(json *j, const char *key, uint64_t v);
/* Non-finite numbers have no JSON spelling; they become null. */
void json_num(json *j, const char *key, double v);
void json_bool(json *j, const char *key, int v);
void json_null(json *j, const char *key);
void json_shape(json *j, const char *key, clnet_shape s);

/* ------------------------------------------------------------------------ */
/* Running a net against the host reference (cli_check.c): run, selftest    */

/* Host buffers of every input and output of a graph for one batch. */
typedef struct work {
    int batch, check; /* images per run; leading images checked */
    int n_in, n_out;
    size_t *in_size, *out_size; /* floats per image */
    float **in, **out, **ref;   /* ref holds check images */
    double *errs;               /* per output, after work_check */
} work;

int work_init(work *w, const clnet_graph *g, int batch, int check);
void work_free(work *w);
/* Runs the net on w->in into w->out. */
int work_run(work *w, clnet_net *net);
/* Runs the host reference on the first w->check images (the outputs must
 * hold a device run of the same inputs) and fills w->errs per output. Gives
 * the worst error, NaN if any is NaN. */
int work_check(work *w, const clnet_graph *g, double *worst);
/* warmup untimed runs, then repeat runs timed by wall clock into secs. */
int work_time(work *w, clnet_net *net, int warmup, int repeat, double *secs);
/* Uniform in (0, 1) from a splitmix64 stream; never 0. */
void cli_fill_random(float *x, size_t n, uint64_t *state);

/* ------------------------------------------------------------------------ */
/* Image classifiers (cli_classifier.c): eval and classify                  */

/* The CIFAR-10 class names, by label. */
extern const char *const CLI_CIFAR10_NAMES[10];

/* How pixels become input, as given on the command line. */
typedef struct cli_input_args {
    int raw, bgr;
    const char *mean, *std; /* "R,G,B" */
    const char *mean_image; /* float32 [C][H][W] file */
} cli_input_args;

/* The preprocessing options as opt_spec entries bound to a; writes
 * CLI_INPUT_SPECS entries and returns how many. */
#define CLI_INPUT_SPECS 5
int cli_input_specs(cli_input_args *a, opt_spec *specs);
/* Their help lines, for the help texts of eval and classify. */
#define CLI_INPUT_HELP                                                                             \
    "Input normalisation, applied in this order to RGB pixels of 0 to 255:\n"                      \
    "  --bgr              reverse the channels to BGR\n"                                           \
    "  --raw              keep 0 to 255 (default: x / 255, which gives [0, 1])\n"                  \
    "  --mean-image FILE  subtract a per-pixel mean image: float32 [3][H][W] at the\n"             \
    "                     model's input size, in its channel order (Keras recipes'\n"              \
    "                     subtract_pixel_mean)\n"                                                  \
    "  --mean R,G,B       subtract a mean per channel, then divide by a standard\n"                \
    "  --std R,G,B        deviation per channel (give both or neither)\n"                          \
    "All arithmetic is float32, as PyTorch's ToTensor and Normalize and the Keras\n"               \
    "recipes compute it.\n"

/* A model opened and compiled to classify 8-bit RGB images: every input
 * of shape 3 x height x width receives the same image, output 0 gives
 * `classes` logits (a final softmax removed). */
typedef struct classifier {
    clnet_graph *g;
    clnet_context *ctx;
    clnet_net *net;
    const clnet_device_info *dev;
    int n_in, height, width, classes;
    int softmax_removed;
    clnet_preprocess pre;
    float *mean_image;    /* owned; pre.mean_image points here */
    const float **inputs; /* n_in pointers, all to the same images */
} classifier;

/* Opens model (with arch) on the device of o, checks its inputs and
 * output, and reads the preprocessing options. Returns RC_OK, RC_FAIL or
 * RC_USAGE, having reported the problem; classifier_close is needed in
 * every case. */
int classifier_open(classifier *c, const char *cmd, const char *model, const char *arch,
                    const cli_input_args *in, const cli_opts *o);
void classifier_close(classifier *c);
/* Preprocesses n images (pixels: n x 3 x height x width bytes) into
 * scratch (n x 3 x height x width floats) and runs them; logits receives
 * n x classes values. */
int classifier_run(classifier *c, const uint8_t *pixels, int n, float *scratch, float *logits);
/* One line describing the preprocessing, e.g. "x/255, then (x - mean) / std
 * with mean (0.4914, 0.4822, 0.4465), std (...)". */
void classifier_describe_input(const classifier *c, const cli_input_args *in, char *buf,
                               size_t size);
void classifier_input_json(json *j, const classifier *c, const cli_input_args *in);

#endif
