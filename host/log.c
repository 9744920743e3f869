/* Levelled logging; the level is read once from CLNET_LOG_LEVEL (default warn). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int configured_level = -1;

static int parse_level(const char *text) {
    if (!text)
        return CLNET_LOG_WARN;
    if (strcmp(text, "error") == 0)
        return CLNET_LOG_ERROR;
    if (strcmp(text, "info") == 0)
        return CLNET_LOG_INFO;
    if (strcmp(text, "debug") == 0)
        return CLNET_LOG_DEBUG;
    return CLNET_LOG_WARN;
}

int clnet_log_enabled(clnet_log_level level) {
    /* A benign race: every thread computes the same value. */
    if (configured_level < 0)
        configured_level = parse_level(getenv("CLNET_LOG_LEVEL"));
    return (int)level <= configured_level;
}

void clnet_log(clnet_log_level level, const char *component, const char *fmt, ...) {
    if (!clnet_log_enabled(level))
        return;
    static const char *const names[] = {"error", "warn", "info", "debug"};
    char line[2048];
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    fprintf(stderr, "clnet: %s: %s: %s\n", names[level], component, line);
}
