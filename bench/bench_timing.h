/* Timed repetitions of one measurement by wall clock, bounded by a time
 * per measurement and by the run's budget. */
#ifndef CLNET_BENCH_TIMING_H
#define CLNET_BENCH_TIMING_H

#include "bench_budget.h"
#include "clnet.h"

typedef clnet_status (*bench_run_fn)(void *arg);

/* Times up to `repeat` calls of fn into secs[] (room for repeat values).
 * After `at_least` runs it stops early when max_time_s (0: no limit) has
 * passed since the first timed run, or when another run of the median
 * length so far would end past the budget's deadline. *done receives the
 * runs timed; a failure of fn stops at once and is returned. */
clnet_status bench_time_runs(bench_run_fn fn, void *arg, int repeat, int at_least,
                             double max_time_s, const bench_budget *budget, double *secs,
                             int *done);

#endif
