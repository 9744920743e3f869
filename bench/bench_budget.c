/* Time budget of a run (see bench_budget.h). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "bench_budget.h"

#include <math.h>
#include <time.h>

double bench_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

bench_budget bench_budget_start(double seconds) {
    bench_budget b;
    b.start = bench_now();
    b.deadline = seconds > 0 ? b.start + seconds : INFINITY;
    return b;
}

bench_budget bench_budget_part(const bench_budget *whole, double share, double now) {
    bench_budget b;
    b.start = now;
    if (!isfinite(whole->deadline)) {
        b.deadline = INFINITY;
        return b;
    }
    double length = (whole->deadline - whole->start) * share;
    b.deadline = fmin(whole->deadline, now + length);
    return b;
}

double bench_budget_left(const bench_budget *b, double now) {
    if (!isfinite(b->deadline))
        return INFINITY;
    return b->deadline > now ? b->deadline - now : 0.0;
}

int bench_budget_runs(const bench_budget *b, double now, double each_s, int wanted, int at_least) {
    double left = bench_budget_left(b, now);
    if (wanted <= 0)
        return 0;
    if (at_least > wanted)
        at_least = wanted;
    if (!(each_s >= 0.0) || !isfinite(left))
        return left > 0.0 ? wanted : 0;
    if (each_s == 0.0)
        return left > 0.0 ? wanted : 0;
    double fit = floor(left / each_s);
    if (fit >= wanted)
        return wanted;
    if (fit >= at_least)
        return (int)fit;
    return 0;
}
