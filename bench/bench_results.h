/* Everything one run of clnet-bench measured, held for the reports: device
 * ceilings, start times, GEMM rates, per-layer profiles, images/s, and what
 * was skipped. Plain data, so that reports can be tested without a device. */
#ifndef CLNET_BENCH_RESULTS_H
#define CLNET_BENCH_RESULTS_H

#include <stdint.h>

#include "bench_stats.h"

typedef enum bench_outcome {
    BENCH_NOT_RUN = 0, /* the section was not selected */
    BENCH_OK,
    BENCH_FAILED, /* could not be measured: error holds why */
    BENCH_SKIPPED /* left out for the budget: error holds why */
} bench_outcome;

/* Result of comparing device outputs with the host reference. */
typedef enum bench_check {
    BENCH_CHECK_NONE = 0, /* not checked */
    BENCH_CHECK_PASS,
    BENCH_CHECK_FAIL
} bench_check;

typedef struct bench_device {
    char name[256];
    char platform[128];
    char vendor[128];
    char version[128]; /* "OpenCL 3.0 PoCL ..." */
    char driver[128];
    char type[16]; /* "CPU", "GPU", ... */
    unsigned compute_units;
    unsigned clock_mhz;
    uint64_t global_mem_bytes;
    /* The tuning table the contexts loaded, in words: "none (built-in
     * rules)" or its file and what it holds. Figures with and without one
     * differ, so a report says which. */
    char tuning[1200];
} bench_device;

typedef struct bench_ceilings {
    bench_outcome outcome;
    char error[256];
    double fma_gflops;    /* best kernel variant, median of its runs */
    char fma_variant[96]; /* e.g. "float8, 8 chains" */
    double copy_gbps;     /* bytes read plus bytes written per second */
    double copy_mib;      /* size of each of the two buffers */
    double launch_us;     /* empty kernel: enqueue plus wait, wall clock, median */
    /* Nominal peak estimated from the device's reported clock and units
     * (0: unknown), and how it was estimated. */
    double nominal_gflops;
    char nominal_basis[160];
    double datasheet_gflops; /* from --peak-gflops; 0: not given */
    double datasheet_gbps;   /* from --peak-gbps; 0: not given */
} bench_ceilings;

typedef struct bench_start {
    char kind[8]; /* "cold" or "warm" */
    bench_outcome outcome;
    char error[256];
    int runs;       /* processes measured (warm starts may be repeated) */
    double open_s;  /* from spawning the process to an opened device (median over runs) */
    double build_s; /* net compiled (kernels built) */
    double first_s; /* first batch finished: the start time */
    double min_first_s, max_first_s;
} bench_start;

typedef struct bench_start_info {
    char network[32];
    int batch;
    char cache_dir[1024]; /* the fresh folder the cold start used */
} bench_start_info;

typedef struct bench_gemm_row {
    char backend[16]; /* "clnet" or "clblast" */
    char kind[8];     /* "square" or "conv" */
    char where[96];   /* which layers have this shape, for "conv" */
    int m, n, k, batch;
    bench_outcome outcome;
    char error[256];
    double first_ms; /* the warm-up call, including any kernel compilation */
    bench_stats ms;  /* wall clock per call, enqueue to finish */
    double gflops;   /* 2 m n k batch / median time */
    bench_check check;
    double max_rel_error;
} bench_gemm_row;

typedef struct bench_layer_row {
    char label[128];
    char kernel[64];
    uint64_t macs_per_image;
    double ms; /* device time from profiling events; < 0: not timed */
    double share;
    double gflops;
} bench_layer_row;

typedef struct bench_profile {
    char network[32];
    int batch;
    bench_outcome outcome;
    char error[256];
    int n_steps;
    bench_layer_row *steps; /* owned */
    int runs;               /* profiled runs; the median-wall run is shown */
    double sum_ms;          /* steps' device time of the shown run */
    double wall_ms;         /* wall clock of that run: upload, steps, read-back */
    double launch_us;       /* launch latency the gap is judged against */
    double gap_ms;          /* wall_ms - sum_ms */
    int consistent;         /* gap within the launch overhead */
} bench_profile;

typedef struct bench_network_row {
    char network[32];
    int batch;
    bench_outcome outcome;
    char error[256];
    uint64_t macs_per_image;
    uint64_t params;
    int repeat;          /* timed runs done */
    bench_stats seconds; /* wall clock per batch */
    double images_per_s, images_per_s_min, images_per_s_max;
    double gflops;     /* effective: 2 x MACs x images/s */
    double peak_share; /* gflops / measured FMA peak; NaN if unknown */
    double setup_s;    /* compiling the net, where this row paid for it */
    bench_check check;
    int check_images;
    double max_rel_error;
    double tolerance;
} bench_network_row;

typedef struct bench_skip {
    char what[96];
    char why[192];
} bench_skip;

typedef struct bench_results {
    char version[32];
    char date[32]; /* UTC, ISO 8601 */
    char command[1024];
    double budget_s;
    double elapsed_s;
    int repeat, warmup;
    double warmup_s; /* warm-up goes on at least this long */
    unsigned sections; /* bench_section bits that were selected */
    bench_device device;
    bench_ceilings ceilings;
    bench_start_info start_info;
    bench_start starts[2]; /* cold, warm */
    int n_gemm, cap_gemm;
    bench_gemm_row *gemm;
    int n_profiles, cap_profiles;
    bench_profile *profiles;
    int n_networks, cap_networks;
    bench_network_row *networks;
    int n_skips, cap_skips;
    bench_skip *skips;
} bench_results;

void bench_results_init(bench_results *r);
void bench_results_free(bench_results *r);

/* Appends a zeroed row and returns it, or NULL if the host is out of memory.
 * The pointer is valid until the next append to the same list. */
bench_gemm_row *bench_results_add_gemm(bench_results *r);
bench_profile *bench_results_add_profile(bench_results *r);
bench_network_row *bench_results_add_network(bench_results *r);

/* Records that `what` was left out, and why (both formatted into fixed
 * buffers, truncated if need be). */
void bench_results_skip(bench_results *r, const char *what, const char *why);

/* Number of failed checks and failed measurements: the exit status. */
int bench_results_failures(const bench_results *r);

#endif
