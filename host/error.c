/* Per-thread last-error message and the names of status codes. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MESSAGE_CAPACITY 8192 /* large enough to carry a typical OpenCL build log */

static _Thread_local char last_error[MESSAGE_CAPACITY];

const char *clnet_last_error(void) {
    return last_error;
}

void clnet_clear_error(void) {
    last_error[0] = '\0';
}

clnet_status clnet_fail(clnet_status status, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, args);
    va_end(args);
    return status;
}

clnet_status clnet_fail_context(clnet_status status, const char *fmt, ...) {
    char prefix[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, args);
    va_end(args);

    /* Shift the existing message right to make room; the tail is cut if the
     * two do not fit together. */
    size_t n_prefix = strlen(prefix);
    size_t n_old = strlen(last_error);
    if (n_prefix >= sizeof last_error)
        n_prefix = sizeof last_error - 1;
    if (n_prefix + n_old >= sizeof last_error)
        n_old = sizeof last_error - 1 - n_prefix;
    memmove(last_error + n_prefix, last_error, n_old);
    memcpy(last_error, prefix, n_prefix);
    last_error[n_prefix + n_old] = '\0';
    return status;
}

const char *clnet_status_string(clnet_status status) {
    switch (status) {
    case CLNET_STATUS_OK: return "ok";
    case CLNET_STATUS_INVALID_ARGUMENT: return "invalid argument";
    case CLNET_STATUS_SHAPE_MISMATCH: return "shape mismatch";
    case CLNET_STATUS_UNSUPPORTED: return "unsupported";
    case CLNET_STATUS_NOT_FOUND: return "not found";
    case CLNET_STATUS_OUT_OF_MEMORY: return "out of host memory";
    case CLNET_STATUS_DEVICE_NOT_FOUND: return "device not found";
    case CLNET_STATUS_DEVICE_ERROR: return "device error";
    case CLNET_STATUS_DEVICE_OUT_OF_MEMORY: return "out of device memory";
    case CLNET_STATUS_BUILD_FAILED: return "kernel build failed";
    case CLNET_STATUS_IO_ERROR: return "i/o error";
    case CLNET_STATUS_FORMAT_ERROR: return "malformed file";
    case CLNET_STATUS_COUNT: break;
    }
    return "unknown status";
}
