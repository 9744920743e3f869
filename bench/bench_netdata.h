/* A built-in network prepared for measuring: its graph with the final
 * softmax removed (logits are what is compared), input images that are the
 * same for every batch size, and the host reference of the first images. */
#ifndef CLNET_BENCH_NETDATA_H
#define CLNET_BENCH_NETDATA_H

#include <stddef.h>
#include <stdint.h>

#include "clnet.h"

#define BENCH_MAX_IO 8 /* graph inputs or outputs handled */

typedef struct bench_netdata {
    char name[32];
    clnet_graph *graph;
    int n_in, n_out;
    size_t in_size[BENCH_MAX_IO], out_size[BENCH_MAX_IO]; /* floats per image */
    int max_batch;                                        /* images held per input */
    float *inputs[BENCH_MAX_IO];
    int ref_images;           /* images the reference was computed for; 0: not yet */
    float *ref[BENCH_MAX_IO]; /* reference outputs of those images */
    double ref_s;             /* seconds the reference took */
} bench_netdata;

/* Builds the network `name` with weights from seed and max_batch images per
 * input: from input_path (raw float32 NCHW, repeated to fill) for input 0
 * and every input of its shape, random in [0, 1) otherwise. Image i is the
 * same whatever the batch size. */
clnet_status bench_netdata_init(bench_netdata *d, const char *name, uint64_t seed, int max_batch,
                                const char *input_path);
void bench_netdata_free(bench_netdata *d);

/* Computes the host reference of the first `images` images (once). */
clnet_status bench_netdata_reference(bench_netdata *d, int images);

/* Outputs of a batch as arrays the net writes into: out[o] holds batch x
 * out_size[o] floats. Returns 0, or -1 if out of memory (nothing is kept). */
int bench_netdata_alloc_outputs(const bench_netdata *d, int batch, float *out[BENCH_MAX_IO]);
void bench_netdata_free_outputs(const bench_netdata *d, float *out[BENCH_MAX_IO]);

/* Worst max relative error of the first `images` images of outputs against
 * the reference (which must cover them); NaN or infinite outputs give +inf. */
double bench_netdata_error(const bench_netdata *d, float *const out[BENCH_MAX_IO], int images);

#endif
