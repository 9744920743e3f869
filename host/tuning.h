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
#include "kernels.h"

#include <stdint.h>
#include <stdio.h>

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
/* GEMM configurations per GEMM shape                                       */

/* The tuned configuration of clnet's GEMM kernel for a call with this key
 * on ctx's device (the entry of the same kernel, sizes and prologue whose
 * batch is nearest the call's): returns 1 and sets *out, or 0 when the
 * table has none. */
int clnet_tuning_gemm_config(const clnet_context *ctx, const clnet_gemm_key *key,
                             clnet_gemm_config *out);

/* Enters config as the choice for key (batch included), with the medians
 * measured for it and for the device's default. Fails only when out of
 * host memory. */
clnet_status clnet_tuning_put_gemm(clnet_context *ctx, const clnet_gemm_key *key,
                                   const clnet_gemm_config *config, double ms, double default_ms);

/* The public description of an entry (clnet_tuning_gemm_entry): kernel
 * name, sizes, configuration text and whether it is ctx's default. */
void clnet_gemm_entry_describe(const clnet_context *ctx, const clnet_gemm_key *key,
                               const clnet_gemm_config *config, double ms, double default_ms,
                               clnet_tuning_gemm_entry *out);

/* The GEMM section itself (tuning_gemm.c), which tuning.c keeps in its
 * table and reads and writes with the rest of the file. */
typedef struct clnet_gemm_table clnet_gemm_table;
struct cJSON;
void clnet_gemm_table_free(clnet_gemm_table *t);
int clnet_gemm_table_count(const clnet_gemm_table *t);
clnet_status clnet_gemm_table_put(clnet_gemm_table **table, const clnet_gemm_key *key,
                                  const clnet_gemm_config *config, double ms, double default_ms);
int clnet_gemm_table_lookup(const clnet_gemm_table *t, const clnet_gemm_key *key,
                            clnet_gemm_config *out);
/* Entry index, 0 when there is none. */
int clnet_gemm_table_entry(const clnet_gemm_table *t, int index, clnet_gemm_key *key,
                           clnet_gemm_config *config, double *ms, double *default_ms);
/* Parses a file's "gemm" array for ctx's device into *out; entries naming
 * a configuration that is not one of the device's candidates are dropped
 * and counted in *dropped. 0 with the reason in why when malformed. */
int clnet_gemm_table_parse(const clnet_context *ctx, const struct cJSON *section,
                           clnet_gemm_table **out, int *dropped, char *why, size_t why_size);
/* Writes the "gemm" member (with its trailing comma) of a file. */
int clnet_gemm_table_write(FILE *f, const clnet_gemm_table *t);

/* ------------------------------------------------------------------------ */
/* The tuner (tune.c)                                                       */

/* Helpers the tuner's two halves share (tune.c): the median of v[0, n),
 * which it sorts; and n floats uniform in [lo, hi) from a splitmix64
 * stream whose state advances. */
double clnet_tune_median(double *v, int n);
void clnet_tune_fill_uniform(float *v, size_t n, float lo, float hi, uint64_t *state);

/* The GEMM half of clnet_tune_graph (tune_gemm.c): runs g's net once as
 * AUTO now plans it, on the inputs in, recording its calls of clnet's own
 * GEMM kernel; times each distinct call alone in every candidate
 * configuration and enters the fastest into ctx's table. The report's
 * gemms are filled when report is not NULL. ctx's queue must profile. */
clnet_status clnet_tune_gemms(clnet_context *ctx, const clnet_graph *g, int batch, int repeats,
                              const float *const *in, float **out, clnet_tune_report *report);

/* The graph nodes a compiled step runs, in data-flow order, found from its
 * label (node names joined by '+') and its node id (clnet_step_info): the
 * names are matched from the end of the label while walking from that
 * node up its inputs, so a name containing '+' cannot mislead it. Returns
 * how many were stored in nodes, 0 when the label does not match or they
 * would exceed capacity. */
int clnet_tuning_step_nodes(const clnet_graph *g, const char *label, int node, int *nodes,
                            int capacity);

#endif
