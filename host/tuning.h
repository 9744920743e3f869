/* Per-device tuning: for each convolution shape, the algorithm measured
 * fastest on one device, kept in a file per device, driver and clnet
 * version and consulted when a net is planned with CLNET_CONV_AUTO.
 * Without a tuning file the built-in rule of net_plan.c applies. The file
 * format and the measuring rule are described in docs/tuning.md.
 *
 * tuning.c holds the table, its lookup and its file; tune.c holds the
 * tuner (clnet_tune_graph), which measures the algorithms and enters its
 * choices through clnet_tuning_put. */
#ifndef CLNET_TUNING_H
#define CLNET_TUNING_H

#include "context.h"
#include "geometry.h"

typedef struct clnet_tuning clnet_tuning; /* private to tuning.c */

/* ------------------------------------------------------------------------ */
/* The table (tuning.c)                                                     */

/* The tuned algorithm of a convolution of geometry g on the context's
 * device: returns 1 and sets *algo when the tuning holds one, 0 otherwise
 * (no tuning loaded, or the shape was not tuned). An entry whose algorithm
 * cannot run g is never returned. */
int clnet_tuning_conv_algo(const clnet_context *ctx, const clnet_conv_geometry *g,
                           clnet_conv_algo *algo);

/* Frees a tuning table (accepts NULL). */
void clnet_tuning_free(clnet_tuning *tuning);

/* Loads the table of ctx's device into ctx->tuning as a context opens:
 * the file CLNET_TUNING_FILE names, else the default file in the cache
 * folder; CLNET_TUNING=0 skips loading. Never fails: a missing file is
 * silent, a file measured on another device, driver or clnet version is
 * skipped with a log line, and an unreadable or malformed one with a
 * warning naming the file and the problem. */
void clnet_tuning_open(clnet_context *ctx);

/* Enters algo as the choice for geometry g into ctx's table, creating the
 * table when ctx has none and replacing an entry of the same geometry.
 * batch is the number of images per measured run; ms[a] the measured
 * milliseconds per layer of algorithm a, -1 where not measured. Fails
 * only when out of host memory. */
clnet_status clnet_tuning_put(clnet_context *ctx, const clnet_conv_geometry *g,
                              clnet_conv_algo algo, int batch,
                              const double ms[CLNET_CONV_ALGO_COUNT]);

/* Whether a and b describe the same convolution call: the table keys
 * entries by every field of the geometry. */
int clnet_tuning_same_geometry(const clnet_conv_geometry *a, const clnet_conv_geometry *b);

/* The public description (clnet_conv_shape) of geometry g. */
clnet_conv_shape clnet_tuning_shape_of(const clnet_conv_geometry *g);

/* ------------------------------------------------------------------------ */
/* The tuner (tune.c)                                                       */

/* The graph nodes a compiled step runs, in data-flow order, found from its
 * label (node names joined by '+') and its node id (clnet_step_info): the
 * names are matched from the end of the label while walking from that
 * node up its inputs, so a name containing '+' cannot mislead it. Returns
 * how many were stored in nodes, 0 when the label does not match or they
 * would exceed capacity. */
int clnet_tuning_step_nodes(const clnet_graph *g, const char *label, int node, int *nodes,
                            int capacity);

#endif
