/* The GEMM problems hidden in a network's convolutions, as clnet runs them
 * (im2col or 1x1 convolutions): per image, M = output channels, N = output
 * pixels, K = input channels x kernel height x kernel width. */
#ifndef CLNET_BENCH_SHAPES_H
#define CLNET_BENCH_SHAPES_H

#include <stdint.h>

#include "clnet.h"

typedef struct bench_gemm_shape {
    int m, n, k;
    int count;      /* convolutions of this shape over all the graphs */
    double macs;    /* count x m x n x k: multiply-accumulates per image */
    char where[96]; /* "resnet20v1 x6, resnet56v1 x18" */
} bench_gemm_shape;

/* The distinct shapes of every conv2d node of the graphs, heaviest (most
 * multiply-accumulates per image in total) first. On success *out holds
 * *count shapes (free() it). Returns 0, or -1 if out of memory. */
int bench_conv_gemm_shapes(const clnet_graph *const *graphs, const char *const *names, int n_graphs,
                           bench_gemm_shape **out, int *count);

#endif
