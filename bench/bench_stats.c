/* Summary statistics of repeated measurements (see bench_stats.h). */
#include "bench_stats.h"

#include <math.h>
#include <stdlib.h>

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_percentile_sorted(const double *sorted, int n, double p) {
    if (!sorted || n <= 0)
        return NAN;
    if (p <= 0.0)
        return sorted[0];
    if (p >= 100.0)
        return sorted[n - 1];
    /* Rank on the 0 .. n-1 scale, as NumPy's default 'linear' method. */
    double rank = p / 100.0 * (double)(n - 1);
    int lo = (int)floor(rank);
    int hi = lo + 1 < n ? lo + 1 : lo;
    double frac = rank - (double)lo;
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

bench_stats bench_stats_empty(void) {
    bench_stats s = {0, NAN, NAN, NAN, NAN, NAN, NAN};
    return s;
}

int bench_stats_compute(const double *values, int n, bench_stats *out) {
    *out = bench_stats_empty();
    if (!values || n <= 0)
        return 0;
    double *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return -1;
    int m = 0;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        if (isfinite(values[i])) {
            v[m++] = values[i];
            sum += values[i];
        }
    }
    if (m > 0) {
        qsort(v, (size_t)m, sizeof *v, compare_doubles);
        out->n = m;
        out->median = bench_percentile_sorted(v, m, 50.0);
        out->mean = sum / m;
        out->min = v[0];
        out->max = v[m - 1];
        out->p10 = bench_percentile_sorted(v, m, 10.0);
        out->p90 = bench_percentile_sorted(v, m, 90.0);
    }
    free(v);
    return 0;
}

double bench_median(const double *values, int n) {
    bench_stats s;
    if (bench_stats_compute(values, n, &s) != 0)
        return NAN;
    return s.median;
}
