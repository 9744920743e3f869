/* Per-layer device time of a network from OpenCL profiling events: each
 * compiled step's kernel, time, GFLOP/s and share, and whether the steps
 * add up to the end-to-end time. */
#ifndef CLNET_BENCH_LAYERS_H
#define CLNET_BENCH_LAYERS_H

#include "bench_budget.h"
#include "bench_netdata.h"
#include "bench_options.h"
#include "bench_progress.h"
#include "bench_results.h"
#include "clnet.h"

#define BENCH_PROFILE_RUNS 3

/* Profiles d at batch p->batch on ctx (which must have profiling on) into
 * p. launch_us (NaN if unknown) is the launch latency the gap between the
 * steps' sum and the wall clock is judged against. */
void bench_layers_profile(clnet_context *ctx, bench_netdata *d, const bench_options *o,
                          const bench_budget *budget, double launch_us, bench_progress *progress,
                          bench_profile *p);

/* Whether a profile adds up: the steps' sum is not above the wall clock
 * (beyond 2 % of timer noise), and the gap is within what launching
 * n_steps kernels and moving the data costs: n_steps launch latencies (at
 * least 20 us each when unknown or smaller) plus 10 % of the wall time. */
int bench_profile_consistent(double sum_ms, double wall_ms, int n_steps, double launch_us);

#endif
