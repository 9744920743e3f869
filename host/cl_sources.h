/* The kernel sources of cl/, embedded in the library at build time by
 * tools/embed_cl.cmake into a generated cl_sources.c. */
#ifndef CLNET_CL_SOURCES_H
#define CLNET_CL_SOURCES_H

#include <stddef.h>

typedef struct clnet_cl_source {
    const char *name; /* file name without ".cl", e.g. "conv2d_direct" */
    const char *text; /* NUL-terminated */
    size_t length;    /* without the NUL */
} clnet_cl_source;

extern const clnet_cl_source clnet_cl_sources[];
extern const size_t clnet_cl_source_count;

/* The embedded source of that name, or NULL. */
const clnet_cl_source *clnet_cl_source_find(const char *name);

#endif
