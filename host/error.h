/* Failure reporting: a status code plus a per-thread sentence for the caller. */
#ifndef CLNET_ERROR_H
#define CLNET_ERROR_H

#include "clnet.h"

#if defined(__GNUC__) || defined(__clang__)
#define CLNET_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CLNET_PRINTF(fmt, args)
#endif

/* Records a formatted message as this thread's last error and returns status,
 * so that failures read `return clnet_fail(CLNET_STATUS_..., "...", ...);`. */
clnet_status clnet_fail(clnet_status status, const char *fmt, ...) CLNET_PRINTF(2, 3);

/* Prefixes this thread's last error with more context ("loading x.clnet: ")
 * and returns status unchanged. */
clnet_status clnet_fail_context(clnet_status status, const char *fmt, ...) CLNET_PRINTF(2, 3);

void clnet_clear_error(void);

/* Propagates a failure: evaluates expr once and returns its status if not OK. */
#define CLNET_TRY(expr)                                                                         \
    do {                                                                                        \
        clnet_status try_status_ = (expr);                                                      \
        if (try_status_ != CLNET_STATUS_OK)                                                     \
            return try_status_;                                                                 \
    } while (0)

#endif
