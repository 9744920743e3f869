/* A one-line progress display on stderr, redrawn in place, for terminals. */
#ifndef CLNET_BENCH_PROGRESS_H
#define CLNET_BENCH_PROGRESS_H

#include <stdio.h>

#include "bench_budget.h"

typedef struct bench_progress {
    int enabled;
    FILE *f;
    int shown; /* characters of the line on screen */
    const bench_budget *budget;
} bench_progress;

/* mode: 1 on, 0 off, -1 on when f is a terminal. */
void bench_progress_init(bench_progress *p, FILE *f, int mode, const bench_budget *budget);

/* Replaces the line with "[elapsed / budget] message". */
void bench_progress_show(bench_progress *p, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Erases the line, before other output is written to the terminal. */
void bench_progress_clear(bench_progress *p);

#endif
