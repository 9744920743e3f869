/* The GEMM section of a tuning table (tuning.h): per GEMM shape, the
 * configuration of clnet's own GEMM kernel measured fastest on the device,
 * and its file form, a "gemm" array of one-line objects:
 *   {"kernel": "gemm_block", "m": 16, "n": 1024, "k": 64, "batch": 32,
 *    "prologue": 2, "config": "block 8x6x2/4", "ms": 0.41, "default_ms": 0.45}
 * ms and default_ms (the configuration's and the device default's median
 * device milliseconds per call) are for information. */
#include "tuning.h"

#include <cjson/cJSON.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest size or batch a file may give, and most entries: far above any
 * real GEMM, low enough that arithmetic on them cannot overflow. */
#define MAX_SIZE    (1 << 30)
#define MAX_BATCH   (1 << 20)
#define MAX_ENTRIES 4096
#define MAX_MS      1e9

typedef struct gemm_entry {
    clnet_gemm_key key;
    clnet_gemm_config config;
    double ms, default_ms; /* -1 when not recorded */
} gemm_entry;

struct clnet_gemm_table {
    int count, capacity;
    gemm_entry *entries;
};

static const char *kernel_name(clnet_gemm_kernel k) {
    return k == CLNET_GEMM_KERNEL_BLOCK ? "gemm_block" : "gemm_tiled";
}

void clnet_gemm_entry_describe(const clnet_context *ctx, const clnet_gemm_key *key,
                               const clnet_gemm_config *config, double ms, double default_ms,
                               clnet_tuning_gemm_entry *out) {
    out->kernel = kernel_name(key->kernel);
    out->m = key->m;
    out->n = key->n;
    out->k = key->k;
    out->batch = key->batch;
    out->prologue = key->prologue;
    clnet_gemm_config_text(config, out->config, sizeof out->config);
    clnet_gemm_config default_config;
    out->is_default = clnet_gemm_candidates(ctx, key->kernel, &default_config, 1) > 0 &&
                      memcmp(default_config.p, config->p, sizeof config->p) == 0;
    out->ms = ms;
    out->default_ms = default_ms;
}

void clnet_gemm_table_free(clnet_gemm_table *t) {
    if (!t)
        return;
    free(t->entries);
    free(t);
}

int clnet_gemm_table_count(const clnet_gemm_table *t) {
    return t ? t->count : 0;
}

static int same_shape(const clnet_gemm_key *a, const clnet_gemm_key *b) {
    return a->kernel == b->kernel && a->m == b->m && a->n == b->n && a->k == b->k &&
           a->prologue == b->prologue;
}

/* Replaces the entry of e's key (batch included) or appends e; 0 when out
 * of memory. */
static int table_put(clnet_gemm_table *t, const gemm_entry *e) {
    for (int i = 0; i < t->count; i++) {
        if (same_shape(&t->entries[i].key, &e->key) && t->entries[i].key.batch == e->key.batch) {
            t->entries[i] = *e;
            return 1;
        }
    }
    if (t->count == t->capacity) {
        int capacity = t->capacity ? 2 * t->capacity : 16;
        gemm_entry *grown = realloc(t->entries, (size_t)capacity * sizeof *grown);
        if (!grown)
            return 0;
        t->entries = grown;
        t->capacity = capacity;
    }
    t->entries[t->count++] = *e;
    return 1;
}

clnet_status clnet_gemm_table_put(clnet_gemm_table **table, const clnet_gemm_key *key,
                                  const clnet_gemm_config *config, double ms, double default_ms) {
    if (!*table && !(*table = calloc(1, sizeof **table)))
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "tuning: out of host memory");
    gemm_entry e = {*key, *config, ms, default_ms};
    if (!table_put(*table, &e))
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "tuning: out of host memory");
    return CLNET_STATUS_OK;
}

/* The entry for a call: same kernel, sizes and prologue, and of the
 * batches measured, the call's own, else the nearest (the split over
 * work-items depends on the batch, the register blocking that suits a
 * shape much less). */
int clnet_gemm_table_lookup(const clnet_gemm_table *t, const clnet_gemm_key *key,
                            clnet_gemm_config *out) {
    const gemm_entry *best = NULL;
    long best_gap = 0;
    for (int i = 0; t && i < t->count; i++) {
        const gemm_entry *e = &t->entries[i];
        if (!same_shape(&e->key, key))
            continue;
        long gap = labs((long)e->key.batch - (long)key->batch);
        if (!best || gap < best_gap) {
            best = e;
            best_gap = gap;
        }
    }
    if (best)
        *out = best->config;
    return best != NULL;
}

int clnet_gemm_table_entry(const clnet_gemm_table *t, int index, clnet_gemm_key *key,
                           clnet_gemm_config *config, double *ms, double *default_ms) {
    if (!t || index < 0 || index >= t->count)
        return 0;
    *key = t->entries[index].key;
    *config = t->entries[index].config;
    *ms = t->entries[index].ms;
    *default_ms = t->entries[index].default_ms;
    return 1;
}

/* An integer member from lo to hi; 0 when missing or out of range. */
static int member_int(const cJSON *o, const char *name, int lo, int hi, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
        v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return 0;
    *out = (int)v->valuedouble;
    return 1;
}

/* An optional milliseconds member: -1 when missing; 0 when malformed. */
static int member_ms(const cJSON *o, const char *name, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    *out = -1;
    if (!v)
        return 1;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > MAX_MS)
        return 0;
    *out = v->valuedouble;
    return 1;
}

/* Entry `index` of the section into *e; 0 with the reason in why. */
static int parse_entry(const cJSON *item, int index, gemm_entry *e, char *why, size_t why_size) {
    memset(e, 0, sizeof *e);
    if (!cJSON_IsObject(item)) {
        snprintf(why, why_size, "\"gemm\" entry %d is not an object", index);
        return 0;
    }
    const cJSON *kernel = cJSON_GetObjectItemCaseSensitive(item, "kernel");
    const char *name = cJSON_IsString(kernel) ? kernel->valuestring : "";
    if (strcmp(name, "gemm_block") == 0) {
        e->key.kernel = CLNET_GEMM_KERNEL_BLOCK;
    } else if (strcmp(name, "gemm_tiled") == 0) {
        e->key.kernel = CLNET_GEMM_KERNEL_TILED;
    } else {
        snprintf(why, why_size, "\"gemm\" entry %d: \"kernel\" must be gemm_block or gemm_tiled",
                 index);
        return 0;
    }
    if (!member_int(item, "m", 1, MAX_SIZE, &e->key.m) ||
        !member_int(item, "n", 1, MAX_SIZE, &e->key.n) ||
        !member_int(item, "k", 1, MAX_SIZE, &e->key.k) ||
        !member_int(item, "batch", 1, MAX_BATCH, &e->key.batch) ||
        !member_int(item, "prologue", 0, 2, &e->key.prologue)) {
        snprintf(why, why_size,
                 "\"gemm\" entry %d: \"m\", \"n\", \"k\" (1 to %d), \"batch\" (1 to %d) and "
                 "\"prologue\" (0, 1 or 2) must be integers",
                 index, MAX_SIZE, MAX_BATCH);
        return 0;
    }
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(item, "config");
    if (!cJSON_IsString(config) || !clnet_gemm_config_parse(config->valuestring, &e->config) ||
        e->config.kernel != e->key.kernel) {
        snprintf(why, why_size,
                 "\"gemm\" entry %d: \"config\" must read \"block VWxBMxBN/TM\" for gemm_block "
                 "or \"tiled TMxTNxTK/WPTxVW\" for gemm_tiled",
                 index);
        return 0;
    }
    if (!member_ms(item, "ms", &e->ms) || !member_ms(item, "default_ms", &e->default_ms)) {
        snprintf(why, why_size,
                 "\"gemm\" entry %d: \"ms\" and \"default_ms\" must be milliseconds from 0 to %g",
                 index, MAX_MS);
        return 0;
    }
    return 1;
}

int clnet_gemm_table_parse(const clnet_context *ctx, const struct cJSON *section,
                           clnet_gemm_table **out, int *dropped, char *why, size_t why_size) {
    *out = NULL;
    *dropped = 0;
    if (!cJSON_IsArray(section)) {
        snprintf(why, why_size, "\"gemm\" is not an array");
        return 0;
    }
    if (cJSON_GetArraySize(section) > MAX_ENTRIES) {
        snprintf(why, why_size, "\"gemm\" has %d entries, more than %d",
                 cJSON_GetArraySize(section), MAX_ENTRIES);
        return 0;
    }
    clnet_gemm_table *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(why, why_size, "out of memory");
        return 0;
    }
    int index = 0;
    const cJSON *item = NULL;
    cJSON_ArrayForEach(item, section) {
        gemm_entry e;
        if (!parse_entry(item, index, &e, why, why_size)) {
            clnet_gemm_table_free(t);
            return 0;
        }
        /* Only the device's own candidates are ever built: an entry naming
         * anything else (a hand edit, another kind of device) is dropped. */
        if (!clnet_gemm_config_is_candidate(ctx, &e.config) ||
            e.key.kernel != clnet_gemm_native_kernel(ctx)) {
            (*dropped)++;
        } else if (!table_put(t, &e)) {
            snprintf(why, why_size, "out of memory");
            clnet_gemm_table_free(t);
            return 0;
        }
        index++;
    }
    *out = t;
    return 1;
}

int clnet_gemm_table_write(FILE *f, const clnet_gemm_table *t) {
    int ok = fputs("  \"gemm\": [", f) >= 0;
    for (int i = 0; ok && t && i < t->count; i++) {
        const gemm_entry *e = &t->entries[i];
        char config[64];
        clnet_gemm_config_text(&e->config, config, sizeof config);
        ok = fprintf(f,
                     "%s\n    {\"kernel\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, \"batch\": %d, "
                     "\"prologue\": %d, \"config\": \"%s\"",
                     i ? "," : "", kernel_name(e->key.kernel), e->key.m, e->key.n, e->key.k,
                     e->key.batch, e->key.prologue, config) > 0;
        /* rounded to 0.1 us: more digits are noise */
        if (ok && e->ms >= 0)
            ok = fprintf(f, ", \"ms\": %.4f", round(e->ms * 1e4) / 1e4) > 0;
        if (ok && e->default_ms >= 0)
            ok = fprintf(f, ", \"default_ms\": %.4f", round(e->default_ms * 1e4) / 1e4) > 0;
        ok = ok && fputs("}", f) >= 0;
    }
    return ok && fputs(t && t->count ? "\n  ],\n" : "],\n", f) >= 0;
}
