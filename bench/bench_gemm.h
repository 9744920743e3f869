/* GEMM GFLOP/s of each backend through clnet_gemm: square problems and the
 * convolution-shaped problems of the networks, each checked on sampled
 * entries against the host. */
#ifndef CLNET_BENCH_GEMM_H
#define CLNET_BENCH_GEMM_H

#include "bench_budget.h"
#include "bench_options.h"
#include "bench_progress.h"
#include "bench_results.h"
#include "bench_shapes.h"
#include "clnet.h"

/* Appends one row per (shape, backend) to r->gemm: the square sizes of o
 * first, then the first o->gemm_shapes of shapes. budget is the section's
 * share; the first problem is measured as long as the whole budget lasts.
 * What the budget leaves out is recorded in r's skip list. */
void bench_gemm_run(clnet_context *ctx, const bench_options *o, const bench_gemm_shape *shapes,
                    int n_shapes, const bench_budget *budget, const bench_budget *whole,
                    bench_progress *progress, bench_results *r);

/* Largest |got - expected| over largest |expected| (1 if that is 0);
 * infinite if any got is not finite. */
double bench_max_rel_error(const float *expected, const float *got, long long count);

#endif
