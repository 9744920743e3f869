/* Timed repetitions (see bench_timing.h). */
#include "bench_timing.h"

#include <math.h>

#include "bench_stats.h"

clnet_status bench_time_runs(bench_run_fn fn, void *arg, int repeat, int at_least,
                             double max_time_s, const bench_budget *budget, double *secs,
                             int *done) {
    *done = 0;
    double first = bench_now();
    for (int r = 0; r < repeat; r++) {
        double now = bench_now();
        if (r >= at_least) {
            if (max_time_s > 0 && now - first >= max_time_s)
                break;
            double typical = bench_median(secs, r);
            if (budget && isfinite(budget->deadline) && now + typical > budget->deadline)
                break;
        }
        double t0 = bench_now();
        clnet_status s = fn(arg);
        if (s != CLNET_STATUS_OK)
            return s;
        secs[r] = bench_now() - t0;
        *done = r + 1;
    }
    return CLNET_STATUS_OK;
}
