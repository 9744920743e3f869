/* Networks prepared for measuring (see bench_netdata.h). */
#include "bench_netdata.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_budget.h"
#include "bench_gemm.h"
#include "error.h"

static uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Fills images from a raw float32 file, repeating its images. */
static clnet_status read_input_file(const char *path, float *dst, size_t image_floats, int images) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return clnet_fail(CLNET_STATUS_IO_ERROR, "opening input file '%s': %s", path,
                          strerror(errno));
    long bytes = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        bytes = ftell(f);
    size_t image_bytes = image_floats * sizeof(float);
    if (bytes <= 0 || fseek(f, 0, SEEK_SET) != 0 || (size_t)bytes % image_bytes != 0) {
        fclose(f);
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "input file '%s' has %ld bytes, not a whole number of images of %zu "
                          "float32 values",
                          path, bytes, image_floats);
    }
    size_t have = (size_t)bytes / image_bytes;
    size_t use = have < (size_t)images ? have : (size_t)images;
    size_t got = fread(dst, image_bytes, use, f);
    fclose(f);
    if (got != use)
        return clnet_fail(CLNET_STATUS_IO_ERROR, "reading input file '%s' failed", path);
    for (size_t i = use; i < (size_t)images; i++)
        memcpy(dst + i * image_floats, dst + (i % use) * image_floats, image_bytes);
    return CLNET_STATUS_OK;
}

clnet_status bench_netdata_init(bench_netdata *d, const char *name, uint64_t seed, int max_batch,
                                const char *input_path) {
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->max_batch = max_batch;
    CLNET_TRY(clnet_model_builtin(name, seed, &d->graph));
    clnet_status s = clnet_graph_strip_final_softmax(d->graph, NULL);
    d->n_in = clnet_graph_input_count(d->graph);
    d->n_out = clnet_graph_output_count(d->graph);
    if (s == CLNET_STATUS_OK && (d->n_in > BENCH_MAX_IO || d->n_out > BENCH_MAX_IO))
        s = clnet_fail(CLNET_STATUS_UNSUPPORTED,
                       "network '%s' has %d inputs and %d outputs; the benchmark handles %d", name,
                       d->n_in, d->n_out, BENCH_MAX_IO);
    for (int i = 0; i < d->n_in && s == CLNET_STATUS_OK; i++) {
        clnet_shape shape;
        s = clnet_tensor_shape(d->graph, clnet_graph_input_at(d->graph, i), &shape);
        d->in_size[i] = clnet_shape_size(shape);
    }
    for (int i = 0; i < d->n_out && s == CLNET_STATUS_OK; i++) {
        clnet_shape shape;
        s = clnet_tensor_shape(d->graph, clnet_graph_output_at(d->graph, i), &shape);
        d->out_size[i] = clnet_shape_size(shape);
    }
    for (int i = 0; i < d->n_in && s == CLNET_STATUS_OK; i++) {
        size_t count = d->in_size[i] * (size_t)max_batch;
        d->inputs[i] = malloc(count * sizeof(float));
        if (!d->inputs[i]) {
            s = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                           "allocating %d input images of '%s': out of memory", max_batch, name);
            break;
        }
        /* Inputs shaped like input 0 see the same images, as the Y-network's
         * two branches do in its recipe. */
        if (i > 0 && d->in_size[i] == d->in_size[0]) {
            memcpy(d->inputs[i], d->inputs[0], count * sizeof(float));
            continue;
        }
        if (i == 0 && input_path) {
            s = read_input_file(input_path, d->inputs[0], d->in_size[0], max_batch);
            continue;
        }
        /* Image n of input i from its own stream: the same in every batch. */
        for (int n = 0; n < max_batch; n++) {
            uint64_t state = seed ^ 0xC0FFEEULL ^ ((uint64_t)i << 48) ^ ((uint64_t)n << 20);
            float *img = d->inputs[i] + (size_t)n * d->in_size[i];
            for (size_t e = 0; e < d->in_size[i]; e++)
                img[e] = (float)((double)(next_random(&state) >> 11) / 9007199254740992.0);
        }
    }
    if (s != CLNET_STATUS_OK) {
        clnet_status keep = s;
        bench_netdata_free(d);
        return keep;
    }
    return CLNET_STATUS_OK;
}

void bench_netdata_free(bench_netdata *d) {
    if (!d)
        return;
    for (int i = 0; i < BENCH_MAX_IO; i++) {
        free(d->inputs[i]);
        free(d->ref[i]);
    }
    clnet_graph_destroy(d->graph);
    memset(d, 0, sizeof *d);
}

clnet_status bench_netdata_reference(bench_netdata *d, int images) {
    if (images <= d->ref_images)
        return CLNET_STATUS_OK;
    float *ref[BENCH_MAX_IO] = {0};
    for (int o = 0; o < d->n_out; o++) {
        ref[o] = malloc(d->out_size[o] * (size_t)images * sizeof(float));
        if (!ref[o]) {
            for (int k = 0; k < o; k++)
                free(ref[k]);
            return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                              "allocating the reference outputs of '%s': out of memory", d->name);
        }
    }
    double t0 = bench_now();
    clnet_status s =
        clnet_graph_run_reference(d->graph, images, (const float *const *)d->inputs, ref);
    d->ref_s = bench_now() - t0;
    if (s != CLNET_STATUS_OK) {
        for (int o = 0; o < d->n_out; o++)
            free(ref[o]);
        return s;
    }
    for (int o = 0; o < d->n_out; o++) {
        free(d->ref[o]);
        d->ref[o] = ref[o];
    }
    d->ref_images = images;
    return CLNET_STATUS_OK;
}

int bench_netdata_alloc_outputs(const bench_netdata *d, int batch, float *out[BENCH_MAX_IO]) {
    for (int o = 0; o < BENCH_MAX_IO; o++)
        out[o] = NULL;
    for (int o = 0; o < d->n_out; o++) {
        out[o] = malloc(d->out_size[o] * (size_t)batch * sizeof(float));
        if (!out[o]) {
            bench_netdata_free_outputs(d, out);
            return -1;
        }
    }
    return 0;
}

void bench_netdata_free_outputs(const bench_netdata *d, float *out[BENCH_MAX_IO]) {
    (void)d;
    for (int o = 0; o < BENCH_MAX_IO; o++) {
        free(out[o]);
        out[o] = NULL;
    }
}

double bench_netdata_error(const bench_netdata *d, float *const out[BENCH_MAX_IO], int images) {
    double worst = 0.0;
    for (int o = 0; o < d->n_out; o++) {
        double e = bench_max_rel_error(d->ref[o], out[o], (long long)d->out_size[o] * images);
        if (!(e <= worst))
            worst = e;
    }
    return worst;
}
