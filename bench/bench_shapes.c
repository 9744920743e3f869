/* Convolution-shaped GEMM problems of the networks (see bench_shapes.h). */
#include "bench_shapes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

static int heavier_first(const void *a, const void *b) {
    const bench_gemm_shape *x = a, *y = b;
    if (x->macs != y->macs)
        return x->macs < y->macs ? 1 : -1;
    /* Ties in a fixed order, so that reports do not shuffle. */
    if (x->m != y->m)
        return x->m - y->m;
    if (x->n != y->n)
        return x->n - y->n;
    return x->k - y->k;
}

/* Adds "name xN" to a shape's list of networks, or ", ..." once full. */
static void note_network(bench_gemm_shape *s, const char *name, int times) {
    size_t used = strlen(s->where);
    if (used > 0 && !strcmp(s->where + used - 3, "..."))
        return;
    char item[64];
    snprintf(item, sizeof item, "%s%s x%d", used ? ", " : "", name, times);
    if (used + strlen(item) + 5 < sizeof s->where)
        memcpy(s->where + used, item, strlen(item) + 1);
    else if (used + 5 < sizeof s->where)
        memcpy(s->where + used, ", ...", 6);
}

int bench_conv_gemm_shapes(const clnet_graph *const *graphs, const char *const *names, int n_graphs,
                           bench_gemm_shape **out, int *count) {
    int n = 0, cap = 0;
    bench_gemm_shape *shapes = NULL;
    *out = NULL;
    *count = 0;
    for (int gi = 0; gi < n_graphs; gi++) {
        const clnet_graph *g = graphs[gi];
        /* Counts of this graph's shapes, kept in the shape entries until the
         * graph is done, then written into `where`. */
        int *times = calloc((size_t)(n + g->n_nodes + 1), sizeof *times);
        if (!times) {
            free(shapes);
            return -1;
        }
        for (int i = 0; i < g->n_nodes; i++) {
            const clnet_node *node = &g->nodes[i];
            if (node->op != CLNET_OP_CONV2D)
                continue;
            const clnet_conv_geometry *c = &node->geom.conv;
            int m = c->out_c, pixels = c->out_h * c->out_w, k = c->in_c * c->kh * c->kw;
            int s = 0;
            while (s < n && !(shapes[s].m == m && shapes[s].n == pixels && shapes[s].k == k))
                s++;
            if (s == n) {
                if (n == cap) {
                    int new_cap = cap ? cap * 2 : 32;
                    bench_gemm_shape *grown = realloc(shapes, (size_t)new_cap * sizeof *grown);
                    if (!grown) {
                        free(times);
                        free(shapes);
                        return -1;
                    }
                    shapes = grown;
                    cap = new_cap;
                }
                memset(&shapes[n], 0, sizeof shapes[n]);
                shapes[n].m = m;
                shapes[n].n = pixels;
                shapes[n].k = k;
                n++;
            }
            shapes[s].count++;
            shapes[s].macs += (double)m * pixels * k;
            times[s]++;
        }
        for (int s = 0; s < n; s++)
            if (times[s] > 0)
                note_network(&shapes[s], names ? names[gi] : "graph", times[s]);
        free(times);
    }
    if (n > 1)
        qsort(shapes, (size_t)n, sizeof *shapes, heavier_first);
    *out = shapes;
    *count = n;
    return 0;
}
