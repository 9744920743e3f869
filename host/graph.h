/* The graph's insides, shared by the modules that build, run, save and
 * compile graphs. Users see only the opaque handles of clnet.h. */
#ifndef CLNET_GRAPH_H
#define CLNET_GRAPH_H

#include "error.h"
#include "geometry.h"

#define CLNET_MAX_LAYER_WEIGHTS 4

typedef struct clnet_weight {
    char name[24];
    int rank;
    int dims[CLNET_MAX_WEIGHT_RANK];
    size_t count;
    float *data;
} clnet_weight;

/* A layer holds its configuration and weights; each call of it is a node. */
struct clnet_layer {
    clnet_graph *graph;
    int index; /* position in graph->layers */
    char *name;
    clnet_op op;
    union {
        clnet_conv2d_desc conv;
        struct {
            float epsilon;
        } bn;
        clnet_activation activation; /* CLNET_OP_ACTIVATION */
        clnet_pool2d_desc pool;      /* CLNET_OP_AVGPOOL, CLNET_OP_MAXPOOL */
        clnet_dense_desc dense;
        struct {
            float rate;
        } dropout;
        clnet_pad_desc pad;
        clnet_slice_desc slice;
        struct {
            float lo, hi;
        } clip;
    } u;
    /* Set by the first call: the input channel (or feature) count the
     * weights were made for; later calls must match it. */
    int built;
    int in_channels;
    int n_weights;
    clnet_weight weights[CLNET_MAX_LAYER_WEIGHTS];
    int call_count;
};

/* One call of a layer, or one graph input. Node i produces tensor i, and
 * nodes are stored in a valid execution order (inputs come before use). */
typedef struct clnet_node {
    clnet_layer *layer; /* NULL for graph inputs */
    clnet_op op;
    int call_index;     /* 0 for a layer's first call, which owns its weights */
    char *input_name;   /* graph inputs only */
    int n_inputs;
    int32_t *inputs;    /* tensor ids */
    clnet_shape shape;  /* output shape, per image */
    /* Resolved windows for this call (a shared layer may be called on
     * inputs of different sizes). */
    union {
        clnet_conv_geometry conv;
        clnet_pool_geometry pool;
    } geom;
} clnet_node;

struct clnet_graph {
    int n_layers, cap_layers;
    clnet_layer **layers;
    int n_nodes, cap_nodes;
    clnet_node *nodes;
    int n_inputs, cap_inputs;
    int32_t *inputs;
    int n_outputs;
    int32_t *outputs;
    int auto_name_counter[CLNET_OP_COUNT];
};

/* Checks that t names a tensor of g; fails with a message naming `what`. */
clnet_status clnet_graph_check_tensor(const clnet_graph *g, clnet_tensor t, const char *what);

/* The weight of a layer by name, or NULL. */
clnet_weight *clnet_layer_find_weight(clnet_layer *layer, const char *name);

/* The window a pad or slice node copies (geometry.h). */
void clnet_node_window(const clnet_graph *g, int node, clnet_window_copy *out);

/* Multiply-accumulates of one node for one image (0 for data movement). */
uint64_t clnet_node_macs(const clnet_graph *g, int node);

#endif
