/* Command-line options of clnet-bench: defaults, parsing and help text. */
#ifndef CLNET_BENCH_OPTIONS_H
#define CLNET_BENCH_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_MAX_NETWORKS 32
#define BENCH_MAX_BATCHES  8
#define BENCH_MAX_SIZES    8
#define BENCH_NAME_MAX     32

/* The parts of a run, in the order they are measured. */
typedef enum bench_section {
    BENCH_SECTION_CEILINGS = 1,
    BENCH_SECTION_START = 2,
    BENCH_SECTION_GEMM = 4,
    BENCH_SECTION_LAYERS = 8,
    BENCH_SECTION_NETWORKS = 16,
    BENCH_SECTION_ALL = 31
} bench_section;

/* The built-in networks measured by default, in report order. */
extern const char *const bench_default_networks[];
extern const int bench_default_network_count;

typedef struct bench_options {
    const char *device; /* NULL: $CLNET_DEVICE, else clnet's default device */
    char networks[BENCH_MAX_NETWORKS][BENCH_NAME_MAX];
    int n_networks;
    int batches[BENCH_MAX_BATCHES];
    int n_batches;
    int repeat;        /* timed runs per measurement */
    int warmup;        /* untimed runs after the checked first run */
    double warmup_s;   /* ... and untimed runs go on until this long has passed */
    double max_time_s; /* a measurement stops timing after this long, once 3 runs are done */
    double budget_s;   /* no new measurement starts once this much time has passed */
    unsigned sections;
    int json;                /* JSON document on stdout instead of tables */
    const char *report_path; /* Markdown report, or NULL */
    const char *chart_path;  /* SVG chart, or NULL (derived from report_path) */
    char profile_networks[BENCH_MAX_NETWORKS][BENCH_NAME_MAX];
    int n_profile_networks;
    int profile_batch;
    int gemm_sizes[BENCH_MAX_SIZES];
    int n_gemm_sizes;
    int gemm_shapes; /* convolution-shaped GEMMs measured, the heaviest first */
    int gemm_batch;  /* images of the convolution-shaped GEMMs */
    int start_batch;
    int start_warm_runs;
    int check_images; /* images per network checked against the host reference */
    double tolerance; /* largest accepted max |got - ref| / max |ref| */
    uint64_t seed;
    double peak_gflops; /* datasheet figures given by the user; 0: unknown */
    double peak_gbps;
    int progress;                 /* -1: when stderr is a terminal; 0 off; 1 on */
    const char *input_path;       /* raw float32 NCHW images for input 0, or NULL */
    const char *save_outputs_dir; /* where the logits of each measurement go, or NULL */
    const char *save_models_dir;  /* where each measured network is saved, or NULL */
    int start_child;              /* internal: measure one start and print it */
    char command_line[1024];      /* the command as typed, for the report */
} bench_options;

typedef enum bench_parse_result {
    BENCH_PARSE_OK = 0,
    BENCH_PARSE_HELP,    /* --help: print bench_options_help() and stop */
    BENCH_PARSE_VERSION, /* --version */
    BENCH_PARSE_ERROR    /* err holds one sentence */
} bench_parse_result;

void bench_options_default(bench_options *o);

/* Parses argv[1 .. argc-1] into o (which must hold the defaults). Options
 * take "--name VALUE" or "--name=VALUE". On BENCH_PARSE_ERROR err receives
 * a sentence naming the option and what was wrong with it. */
bench_parse_result bench_options_parse(int argc, char **argv, bench_options *o, char *err,
                                       size_t err_size);

const char *bench_options_help(void);

/* "1,32,256" into out[], each value in [min_value, max_value]; at most max
 * values. Returns the count, or -1 with a sentence in err. */
int bench_parse_int_list(const char *text, int *out, int max, int min_value, int max_value,
                         char *err, size_t err_size);

/* "resnet20v1,ynet" (or "all": the default networks) into names[]; names
 * are lower-case letters and digits. Returns the count, or -1 with err. */
int bench_parse_name_list(const char *text, char (*names)[BENCH_NAME_MAX], int max, char *err,
                          size_t err_size);

/* "gemm,layers" into a set of bench_section bits; 0 with err if a name is
 * unknown. */
unsigned bench_parse_sections(const char *text, char *err, size_t err_size);

/* Writes a formatted sentence to err, the error out-parameter of the bench functions that take
 * one (nothing if err is NULL or size is 0). */
void bench_set_error(char *err, size_t size, const char *fmt, ...);

/* The section's name as used by --only and --skip. */
const char *bench_section_name(bench_section section);

/* argv joined with spaces, arguments with unusual characters quoted. */
void bench_join_command(int argc, char **argv, char *out, size_t size);

#endif
