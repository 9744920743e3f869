/* Progress line on a terminal (see bench_progress.h). */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include "bench_progress.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_SHOWN 100 /* keeps the line on one row of common terminals */

void bench_progress_init(bench_progress *p, FILE *f, int mode, const bench_budget *budget) {
    p->f = f;
    p->shown = 0;
    p->budget = budget;
    p->enabled = mode > 0 || (mode < 0 && f && isatty(fileno(f)));
}

void bench_progress_show(bench_progress *p, const char *fmt, ...) {
    if (!p->enabled)
        return;
    char line[LINE_MAX_SHOWN + 1];
    double now = bench_now();
    int n = 0;
    if (p->budget && isfinite(p->budget->deadline))
        n = snprintf(line, sizeof line, "[%3.0f s of %.0f s] ", now - p->budget->start,
                     p->budget->deadline - p->budget->start);
    else if (p->budget)
        n = snprintf(line, sizeof line, "[%3.0f s] ", now - p->budget->start);
    if (n < 0 || n >= (int)sizeof line)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    int len = (int)strlen(line);
    fprintf(p->f, "\r%s", line);
    /* Blank out the tail of a longer previous line. */
    for (int i = len; i < p->shown; i++)
        fputc(' ', p->f);
    if (p->shown > len)
        fprintf(p->f, "\r%s", line);
    p->shown = len;
    fflush(p->f);
}

void bench_progress_clear(bench_progress *p) {
    if (!p->enabled || p->shown == 0)
        return;
    fputc('\r', p->f);
    for (int i = 0; i < p->shown; i++)
        fputc(' ', p->f);
    fputc('\r', p->f);
    fflush(p->f);
    p->shown = 0;
}
