/* Device ceilings measured by the benchmark's own kernels
 * (cl/bench_ceilings.cl): FMA peak, copy bandwidth and launch latency,
 * plus a nominal peak estimated from what the device reports. */
#ifndef CLNET_BENCH_CEILINGS_H
#define CLNET_BENCH_CEILINGS_H

#include <stddef.h>

#include "bench_options.h"
#include "bench_progress.h"
#include "bench_results.h"
#include "clnet.h"

/* Fills out; ctx must have profiling on (kernel times come from events).
 * Failures go into out->outcome and out->error. */
void bench_ceilings_measure(clnet_context *ctx, const bench_options *o, bench_progress *progress,
                            bench_ceilings *out);

/* The nominal FP32 peak of a CPU device: compute units x clock x FLOP per
 * cycle, the last guessed from the instruction sets in cpu_flags (the
 * "flags" line of /proc/cpuinfo) assuming two FMA pipes per core. Returns 0
 * (unknown) for other devices or unknown flags; basis says how it was
 * estimated. */
double bench_nominal_gflops(const clnet_device_info *d, const char *cpu_flags, char *basis,
                            size_t size);

/* The "flags" line of /proc/cpuinfo into buf ("" if unavailable). */
void bench_read_cpu_flags(char *buf, size_t size);

#endif
