/* Running a compiled net and checking it against the host reference: the
 * buffers, runs and timing shared by `clnet run` and `clnet selftest`. */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void work_free(work *w) {
    for (int i = 0; w->in && i < w->n_in; i++)
        free(w->in[i]);
    for (int i = 0; w->out && i < w->n_out; i++)
        free(w->out[i]);
    for (int i = 0; w->ref && i < w->n_out; i++)
        free(w->ref[i]);
    free(w->in);
    free(w->out);
    free(w->ref);
    free(w->errs);
    free(w->in_size);
    free(w->out_size);
    memset(w, 0, sizeof *w);
}

int work_init(work *w, const clnet_graph *g, int batch, int check) {
    memset(w, 0, sizeof *w);
    w->batch = batch;
    w->check = check;
    w->n_in = clnet_graph_input_count(g);
    w->n_out = clnet_graph_output_count(g);
    w->in_size = calloc((size_t)w->n_in + 1, sizeof(size_t));
    w->out_size = calloc((size_t)w->n_out + 1, sizeof(size_t));
    w->in = calloc((size_t)w->n_in + 1, sizeof(float *));
    w->out = calloc((size_t)w->n_out + 1, sizeof(float *));
    w->ref = calloc((size_t)w->n_out + 1, sizeof(float *));
    w->errs = calloc((size_t)w->n_out + 1, sizeof(double));
    if (!w->in_size || !w->out_size || !w->in || !w->out || !w->ref || !w->errs)
        return cli_fail_msg("allocating the buffer tables: out of memory");
    for (int i = 0; i < w->n_in + w->n_out; i++) {
        int is_in = i < w->n_in, k = is_in ? i : i - w->n_in;
        clnet_tensor t = is_in ? clnet_graph_input_at(g, k) : clnet_graph_output_at(g, k);
        clnet_shape s;
        if (clnet_tensor_shape(g, t, &s) != CLNET_STATUS_OK)
            return cli_fail("reading the shape of %s %d", is_in ? "input" : "output", k);
        size_t size = clnet_shape_size(s);
        if (is_in) {
            w->in_size[k] = size;
            if (!(w->in[k] = cli_alloc_floats((size_t)batch * size, "the inputs")))
                return RC_FAIL;
            continue;
        }
        w->out_size[k] = size;
        if (!(w->out[k] = cli_alloc_floats((size_t)batch * size, "the outputs")) ||
            !(w->ref[k] = cli_alloc_floats((size_t)check * size, "the reference outputs")))
            return RC_FAIL;
    }
    return RC_OK;
}

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): 23 random bits plus one half is exact in a float and
 * never 0, so no input is all zeros and hides a missing computation. */
void cli_fill_random(float *x, size_t n, uint64_t *state) {
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(((double)(splitmix64(state) >> 41) + 0.5) / 8388608.0);
}

/* max |got - ref| / max |ref|: one number per output that does not blow up
 * on entries near zero, as softmax outputs have. NaN when got has any NaN. */
static double max_rel_error(const float *got, const float *ref, size_t n) {
    double max_diff = 0.0, max_ref = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]), r = fabs((double)ref[i]);
        if (isnan(d))
            return NAN;
        max_diff = d > max_diff ? d : max_diff;
        max_ref = r > max_ref ? r : max_ref;
    }
    return max_diff / (max_ref > 0.0 ? max_ref : 1.0);
}

/* Runs the host reference on the first w->check images (the outputs must
 * hold a device run of the same inputs) and fills w->errs per output. Gives
 * the worst error, NaN if any is NaN. */
int work_check(work *w, const clnet_graph *g, double *worst) {
    *worst = 0.0;
    if (w->check == 0)
        return RC_OK;
    if (clnet_graph_run_reference(g, w->check, (const float *const *)w->in, w->ref) !=
        CLNET_STATUS_OK)
        return cli_fail("running the host reference on %d images", w->check);
    for (int o = 0; o < w->n_out; o++) {
        w->errs[o] = max_rel_error(w->out[o], w->ref[o], (size_t)w->check * w->out_size[o]);
        if (!isnan(*worst) && !(w->errs[o] <= *worst))
            *worst = w->errs[o];
    }
    return RC_OK;
}

int work_run(work *w, clnet_net *net) {
    if (clnet_net_run(net, w->batch, (const float *const *)w->in, w->out) != CLNET_STATUS_OK)
        return cli_fail("running the net on a batch of %d", w->batch);
    return RC_OK;
}

/* warmup untimed runs, then repeat runs timed by wall clock into secs. */
int work_time(work *w, clnet_net *net, int warmup, int repeat, double *secs) {
    for (int r = 0; r < warmup + repeat; r++) {
        double t0 = cli_now_seconds();
        if (work_run(w, net) != RC_OK)
            return RC_FAIL;
        if (r >= warmup)
            secs[r - warmup] = cli_now_seconds() - t0;
    }
    return RC_OK;
}
