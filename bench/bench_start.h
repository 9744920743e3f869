/* Cold and warm start: child processes of the benchmark open the device,
 * compile a network and finish its first batch, and report how long each
 * stage took from the moment the parent spawned them. */
#ifndef CLNET_BENCH_START_H
#define CLNET_BENCH_START_H

#include "bench_budget.h"
#include "bench_options.h"
#include "bench_progress.h"
#include "bench_results.h"

/* The network a start measures. */
#define BENCH_START_NETWORK "resnet20v1"

/* Environment variable through which the parent passes its spawn time. */
#define BENCH_START_T0_ENV "CLNET_BENCH_T0"

/* Runs one cold start (PoCL's and clnet's caches in a fresh temporary
 * folder) and o->start_warm_runs warm starts (the same folder again) into
 * r->starts. argv0 locates the benchmark's own executable when /proc does
 * not. */
void bench_start_run(const char *argv0, const bench_options *o, const bench_budget *budget,
                     bench_progress *progress, bench_results *r);

/* The child's side (--start-child): prints one line
 * "clnet-bench-start open_s=... build_s=... first_s=..." on stdout, or
 * "clnet-bench-start error=..." ; returns the exit status. */
int bench_start_child(const bench_options *o);

/* Parses a child's line; returns 0 on success, -1 (with the child's
 * message in err when it reported one) otherwise. */
int bench_start_parse(const char *line, double *open_s, double *build_s, double *first_s, char *err,
                      size_t err_size);

#endif
