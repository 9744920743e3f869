/* Keras-style weight initialisation: he_normal and glorot_uniform kernels drawn from one seeded
 * xoshiro256** stream in layer order, zero biases and identity batch-norm statistics. */
#include "graph.h"

#include <math.h>
#include <string.h>

/* Keras' VarianceScaling divides the std of its truncated normal by this, the std of a unit
 * normal cut at two standard deviations, so that the kept values have the intended std. */
#define TRUNCATED_NORMAL_STD 0.87962566103423978
#define TRUNCATION_LIMIT 2.0

typedef struct init_rng {
    uint64_t s[4];
    int has_spare;
    double spare;
} init_rng;

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* splitmix64 spreads any seed, 0 included, over the 256-bit state, which is then never 0. */
static void rng_seed(init_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
    r->has_spare = 0;
    r->spare = 0.0;
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna). */
static uint64_t rng_next(init_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(init_rng *r) {
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* A standard normal by Box-Muller; each pair of uniforms gives two values. */
static double rng_normal(init_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = 1.0 - rng_uniform(r); /* (0, 1]: the logarithm stays finite */
    double u2 = rng_uniform(r);
    double radius = sqrt(-2.0 * log(u1));
    double angle = 2.0 * 3.14159265358979323846 * u2;
    r->spare = radius * sin(angle);
    r->has_spare = 1;
    return radius * cos(angle);
}

static void fill_constant(clnet_weight *w, float value) {
    for (size_t i = 0; i < w->count; i++)
        w->data[i] = value;
}

/* Fan-in and fan-out of a kernel from its documented layout: conv2d [filters][in][kh][kw],
 * dense [units][in]. */
static clnet_status kernel_fans(const clnet_layer *layer, const clnet_weight *w, double *fan_in,
                                double *fan_out) {
    if (layer->op == CLNET_OP_CONV2D && w->rank == 4) {
        double receptive = (double)w->dims[2] * w->dims[3];
        *fan_in = w->dims[1] * receptive;
        *fan_out = w->dims[0] * receptive;
    } else if (layer->op == CLNET_OP_DENSE && w->rank == 2) {
        *fan_in = w->dims[1];
        *fan_out = w->dims[0];
    } else {
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "initialising layer '%s': no initializer for a rank-%d kernel of a %s "
                          "layer",
                          layer->name, w->rank, clnet_op_name(layer->op));
    }
    if (*fan_in <= 0 || *fan_out <= 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "initialising layer '%s': kernel fans %g and %g must be positive",
                          layer->name, *fan_in, *fan_out);
    return CLNET_STATUS_OK;
}

static clnet_status init_kernel(const clnet_layer *layer, clnet_weight *w, init_rng *r) {
    double fan_in = 0, fan_out = 0;
    CLNET_TRY(kernel_fans(layer, w, &fan_in, &fan_out));
    clnet_initializer init = layer->op == CLNET_OP_CONV2D ? layer->u.conv.kernel_initializer
                                                          : layer->u.dense.kernel_initializer;
    switch (init) {
    case CLNET_INIT_HE_NORMAL: {
        double std = sqrt(2.0 / fan_in) / TRUNCATED_NORMAL_STD;
        for (size_t i = 0; i < w->count; i++) {
            double z;
            do
                z = rng_normal(r);
            while (fabs(z) > TRUNCATION_LIMIT);
            w->data[i] = (float)(z * std);
        }
        return CLNET_STATUS_OK;
    }
    case CLNET_INIT_GLOROT_UNIFORM: {
        double limit = sqrt(6.0 / (fan_in + fan_out));
        for (size_t i = 0; i < w->count; i++)
            w->data[i] = (float)((2.0 * rng_uniform(r) - 1.0) * limit);
        return CLNET_STATUS_OK;
    }
    }
    return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                      "initialising layer '%s': unknown kernel initializer %d", layer->name,
                      (int)init);
}

static clnet_status init_layer(clnet_layer *layer, init_rng *r) {
    for (int i = 0; i < layer->n_weights; i++) {
        clnet_weight *w = &layer->weights[i];
        if (strcmp(w->name, "kernel") == 0)
            CLNET_TRY(init_kernel(layer, w, r));
        else if (strcmp(w->name, "bias") == 0 || strcmp(w->name, "beta") == 0 ||
                 strcmp(w->name, "moving_mean") == 0)
            fill_constant(w, 0.0f);
        else if (strcmp(w->name, "gamma") == 0 || strcmp(w->name, "moving_variance") == 0)
            fill_constant(w, 1.0f);
        else
            return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                              "initialising layer '%s': no rule for weight '%s'", layer->name,
                              w->name);
    }
    return CLNET_STATUS_OK;
}

clnet_status clnet_graph_init_weights(clnet_graph *g, uint64_t seed) {
    if (!g)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "initialising weights: the graph is NULL");
    init_rng r;
    rng_seed(&r, seed);
    /* A layer that was never called has no weights yet and is skipped. */
    for (int i = 0; i < g->n_layers; i++)
        CLNET_TRY(init_layer(g->layers[i], &r));
    return CLNET_STATUS_OK;
}
