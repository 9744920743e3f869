/* Summary statistics of repeated measurements: median, percentiles, spread.
 * Timings on shared machines are noisy; medians and ranges are what hold. */
#ifndef CLNET_BENCH_STATS_H
#define CLNET_BENCH_STATS_H

typedef struct bench_stats {
    int n; /* finite samples summarised; 0 when there were none */
    double median, mean, min, max;
    double p10, p90; /* 10th and 90th percentiles */
} bench_stats;

/* The p-th percentile (p in [0, 100]) of n ascending values, interpolating
 * linearly between the two nearest ranks; NaN when n is 0. */
double bench_percentile_sorted(const double *sorted, int n, double p);

/* Summarises n values, ignoring NaN and infinite ones; values are not
 * modified. Every field is NaN (and n is 0) when no finite value is left.
 * Returns 0, or -1 if the host ran out of memory. */
int bench_stats_compute(const double *values, int n, bench_stats *out);

/* A summary with no samples: n 0, every field NaN. */
bench_stats bench_stats_empty(void);

/* The median of n values (copied, not reordered); NaN if none is finite. */
double bench_median(const double *values, int n);

#endif
