/* Wall-clock time and the run's time budget: whether a measurement may
 * start, and how many runs of a known length still fit. */
#ifndef CLNET_BENCH_BUDGET_H
#define CLNET_BENCH_BUDGET_H

/* Seconds on a monotonic clock (comparable between processes on Linux). */
double bench_now(void);

typedef struct bench_budget {
    double start;    /* bench_now() when the budget began */
    double deadline; /* bench_now() after which nothing new starts; INFINITY: no limit */
} bench_budget;

/* A budget of seconds from now (0: unlimited). */
bench_budget bench_budget_start(double seconds);

/* A part of a budget for one section: `share` of the whole budget's length
 * from now, but never past the whole budget's deadline. An unlimited
 * budget gives an unlimited part. */
bench_budget bench_budget_part(const bench_budget *whole, double share, double now);

/* Seconds left at `now` (never negative; INFINITY when unlimited). */
double bench_budget_left(const bench_budget *b, double now);

/* How many runs of `each_s` seconds fit in what is left at `now`: `wanted`
 * if all fit, else as many as fit but at least `at_least`, or 0 when not
 * even `at_least` fit. A NaN or negative each_s counts as unknown: all
 * wanted runs are allowed. */
int bench_budget_runs(const bench_budget *b, double now, double each_s, int wanted, int at_least);

#endif
