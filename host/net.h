/* A graph compiled for a device: the steps that run it (after folding and
 * fusion), where each tensor lives, and the device buffers. */
#ifndef CLNET_NET_H
#define CLNET_NET_H

#include "context.h"
#include "graph.h"
#include "kernels.h"

typedef enum clnet_step_kind {
    CLNET_STEP_CONV2D,
    CLNET_STEP_BATCHNORM, /* also channel_affine: both are a per-channel scale and shift */
    CLNET_STEP_RELU,
    CLNET_STEP_BINARY, /* add, multiply, subtract */
    CLNET_STEP_CLIP,
    CLNET_STEP_SIGMOID,
    CLNET_STEP_WINDOW, /* pad, slice */
    CLNET_STEP_COPY, /* a concatenation input that could not be written in place */
    CLNET_STEP_POOL,
    CLNET_STEP_GLOBAL_AVGPOOL,
    CLNET_STEP_DENSE,
    CLNET_STEP_SOFTMAX
} clnet_step_kind;

typedef struct clnet_step {
    clnet_step_kind kind;
    int node;       /* the graph node whose op this step runs */
    int n_in;       /* 1 or 2 */
    int in[2];      /* tensor ids read; CONV2D: in[1] is the residual added to the result */
    int out;        /* tensor id written */
    /* Shape of the first input as the op sees it: a flattened tensor keeps
     * its producer's memory (and region) but not its shape. */
    clnet_shape in_shape;
    int out_channel_offset; /* COPY: channel at which the input lands in out */
    int relu;
    clnet_op binary_op; /* BINARY: CLNET_OP_ADD, CLNET_OP_MULTIPLY or CLNET_OP_SUBTRACT */
    /* CONV2D and POOL: the geometry the kernel runs; the node's own unless
     * the plan moved an average pooling before a 1x1 convolution. */
    union {
        clnet_conv_geometry conv;
        clnet_pool_geometry pool;
    } geom;
    int folded_bn; /* CONV2D: the batchnorm node folded into it, or -1 */
    /* CONV2D: the batchnorm (or channel affine) node run on the input as a
     * prologue, or -1, and whether a ReLU follows it there. */
    int pre_bn;
    int pre_relu;
    clnet_conv_algo algo;
    /* CONV2D: up to this batch (0: never) the step runs Winograd F(2x2)
     * with the filters in weight_small instead: see net_plan.c. */
    int small_batch;
    cl_mem weight_small;
    clnet_gemm_backend backend;
    cl_mem weight; /* conv/dense kernel (folded), or BN scale */
    cl_mem bias;   /* conv/dense bias (folded), or BN shift; NULL if none */
    cl_mem pre_scale, pre_shift; /* CONV2D with pre_bn: the prologue's scale and shift */
    char *label;
    char kernel_name[64];
    uint64_t macs_per_image;
    clnet_events events;
    double last_ms;
} clnet_step;

/* A region of the activation arena: per image, `size` floats starting at
 * `offset` floats from the image block's start (multiplied by the batch at
 * run time, since every region scales with it). */
typedef struct clnet_region {
    size_t size;
    size_t offset;
    int first_step, last_step; /* lifetime, inclusive; -1 = before the first step */
} clnet_region;

/* Where a tensor's elements live: region plus a per-image float offset
 * (non-zero for a slice of a concatenation). region -1: the tensor has no
 * storage of its own (fused away). */
typedef struct clnet_placement {
    int region;
    size_t offset;
} clnet_placement;

struct clnet_net {
    clnet_context *ctx;
    const clnet_graph *graph;
    clnet_net_options options;
    int n_steps, cap_steps;
    clnet_step *steps;
    clnet_placement *placement; /* per tensor */
    int n_regions;
    clnet_region *regions;
    size_t arena_floats_per_image;
    size_t plain_floats_per_image; /* what the arena would need without reuse */
    size_t weight_bytes;
    cl_mem arena;
    int arena_batch; /* batch the arena is sized for */
    cl_mem scratch;
    size_t scratch_floats;
};

/* Builds the steps and placements (net.c). */
clnet_status clnet_net_plan(clnet_net *net);
/* Uploads (folded) weights of every step (net_weights.c). */
clnet_status clnet_net_upload_weights(clnet_net *net);

#endif
