/* Program binaries on disk: the build cache and pre-built binary folders
 * (see program_cache.c for the entry format). */
#ifndef CLNET_PROGRAM_CACHE_H
#define CLNET_PROGRAM_CACHE_H

#include "context.h"

/* Reads CLNET_CACHE_DIR (default $XDG_CACHE_HOME/clnet or
 * ~/.cache/clnet; CLNET_CACHE=0 disables the cache, which is also off on
 * PoCL unless CLNET_CACHE=1) and CLNET_BINARY_DIR into the context. */
void clnet_program_cache_configure(clnet_context *ctx);

/* Builds (source, options) from the entry in dir, if there is a valid one
 * the driver accepts: returns 1 and sets *out. Returns 0 otherwise. */
int clnet_program_cache_load(clnet_context *ctx, const char *dir, const char *name,
                             const char *source, const char *options, cl_program *out);

/* Writes the binary of a built program into dir (created if missing). */
clnet_status clnet_program_cache_store(clnet_context *ctx, const char *dir, const char *name,
                                       const char *source, const char *options,
                                       cl_program program);

#endif
