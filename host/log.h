/* Levelled logging to stderr, configured once from CLNET_LOG_LEVEL. */
#ifndef CLNET_LOG_H
#define CLNET_LOG_H

#include "error.h"

typedef enum clnet_log_level {
    CLNET_LOG_ERROR = 0,
    CLNET_LOG_WARN,
    CLNET_LOG_INFO,
    CLNET_LOG_DEBUG
} clnet_log_level;

/* Whether messages of this level are written; check before formatting. */
int clnet_log_enabled(clnet_log_level level);

/* Writes "clnet: <component>: <message>" to stderr if the level is enabled. */
void clnet_log(clnet_log_level level, const char *component, const char *fmt, ...)
    CLNET_PRINTF(3, 4);

#endif
