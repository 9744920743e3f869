/* Storage of one run's measurements (see bench_results.h). */
#include "bench_results.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bench_results_init(bench_results *r) {
    memset(r, 0, sizeof *r);
    r->ceilings.fma_gflops = r->ceilings.copy_gbps = r->ceilings.launch_us = NAN;
    snprintf(r->starts[0].kind, sizeof r->starts[0].kind, "cold");
    snprintf(r->starts[1].kind, sizeof r->starts[1].kind, "warm");
}

void bench_results_free(bench_results *r) {
    if (!r)
        return;
    for (int i = 0; i < r->n_profiles; i++)
        free(r->profiles[i].steps);
    free(r->profiles);
    free(r->gemm);
    free(r->networks);
    free(r->skips);
    memset(r, 0, sizeof *r);
}

/* Makes room for one more element of `size` bytes in *items; returns the
 * new zeroed element or NULL. */
static void *append(void **items, int *n, int *cap, size_t size) {
    if (*n == *cap) {
        int new_cap = *cap ? *cap * 2 : 16;
        void *grown = realloc(*items, (size_t)new_cap * size);
        if (!grown)
            return NULL;
        *items = grown;
        *cap = new_cap;
    }
    char *slot = (char *)*items + (size_t)(*n)++ * size;
    memset(slot, 0, size);
    return slot;
}

bench_gemm_row *bench_results_add_gemm(bench_results *r) {
    bench_gemm_row *row = append((void **)&r->gemm, &r->n_gemm, &r->cap_gemm, sizeof *row);
    if (row) {
        row->ms = bench_stats_empty();
        row->first_ms = row->gflops = row->max_rel_error = NAN;
    }
    return row;
}

bench_profile *bench_results_add_profile(bench_results *r) {
    bench_profile *p = append((void **)&r->profiles, &r->n_profiles, &r->cap_profiles, sizeof *p);
    if (p)
        p->sum_ms = p->wall_ms = p->gap_ms = p->launch_us = NAN;
    return p;
}

bench_network_row *bench_results_add_network(bench_results *r) {
    bench_network_row *row =
        append((void **)&r->networks, &r->n_networks, &r->cap_networks, sizeof *row);
    if (row) {
        row->seconds = bench_stats_empty();
        row->images_per_s = row->images_per_s_min = row->images_per_s_max = NAN;
        row->gflops = row->peak_share = row->setup_s = row->max_rel_error = NAN;
    }
    return row;
}

void bench_results_skip(bench_results *r, const char *what, const char *why) {
    bench_skip *s = append((void **)&r->skips, &r->n_skips, &r->cap_skips, sizeof *s);
    if (!s)
        return;
    snprintf(s->what, sizeof s->what, "%s", what ? what : "");
    snprintf(s->why, sizeof s->why, "%s", why ? why : "");
}

int bench_results_failures(const bench_results *r) {
    int n = 0;
    if (r->ceilings.outcome == BENCH_FAILED)
        n++;
    for (int i = 0; i < 2; i++)
        n += r->starts[i].outcome == BENCH_FAILED;
    for (int i = 0; i < r->n_gemm; i++)
        n += r->gemm[i].outcome == BENCH_FAILED || r->gemm[i].check == BENCH_CHECK_FAIL;
    for (int i = 0; i < r->n_profiles; i++)
        n += r->profiles[i].outcome == BENCH_FAILED;
    for (int i = 0; i < r->n_networks; i++)
        n += r->networks[i].outcome == BENCH_FAILED || r->networks[i].check == BENCH_CHECK_FAIL;
    return n;
}
