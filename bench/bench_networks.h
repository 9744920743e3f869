/* Images/s of the networks at each batch size: median of repeated runs
 * after warm-up, with min and max, each measurement checked against the
 * host reference. */
#ifndef CLNET_BENCH_NETWORKS_H
#define CLNET_BENCH_NETWORKS_H

#include "bench_budget.h"
#include "bench_netdata.h"
#include "bench_options.h"
#include "bench_progress.h"
#include "bench_results.h"

/* Measures every network at every batch size of o, batch sizes in the
 * outer loop, so that what the budget cuts is the largest batches. nets
 * holds o->n_networks prepared networks (max_batch = the largest batch).
 * peak_gflops (NaN if unknown) gives each row its share of the peak. */
void bench_networks_run(clnet_context *ctx, bench_netdata *nets, const bench_options *o,
                        const bench_budget *budget, double peak_gflops, bench_progress *progress,
                        bench_results *r);

/* The prediction used to skip a measurement: a batch of `batch` images
 * takes seconds_per_image x batch per run, and it needs `runs` runs. Gives
 * the predicted seconds (NaN when seconds_per_image is unknown). */
double bench_predict_seconds(double seconds_per_image, int batch, int runs);

#endif
