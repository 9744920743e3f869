/* Per-device tuning tables (tuning.h): the table with its lookup, kept
 * between processes in a JSON file. The tuner that fills it is tune.c. */
#define _POSIX_C_SOURCE 200809L /* mkdir, getpid, fsync */
#include "tuning.h"

#include "kernels.h"
#include "log.h"

#include <clblast_c.h>
#include <cjson/cJSON.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT_NAME    "clnet-tuning"
#define FORMAT_VERSION 1
/* Limits of a file we read: far above any real table (an entry takes about
 * 200 bytes), low enough that a hostile file costs little. */
#define MAX_FILE_BYTES (2u << 20)
#define MAX_ENTRIES    4096
/* Largest size, stride, dilation or padding accepted in a file; larger
 * values would overflow the geometry arithmetic, and no real layer has them. */
#define MAX_EXTENT   (1 << 20)
#define MAX_BATCH    (1 << 20)
#define MAX_MS       1e9
#define WHY_CAPACITY 512
/* Limits of the "clblast" section: kernels, parameters per kernel (CLBlast's
 * Xgemm has 16), and the largest parameter value. */
#define MAX_CLBLAST_KERNELS 64
#define MAX_CLBLAST_PARAMS  32
#define MAX_CLBLAST_VALUE   (1 << 16)

typedef struct tuning_entry {
    clnet_conv_geometry geom;
    clnet_conv_algo algo;
    int batch;
    double ms[CLNET_CONV_ALGO_COUNT];
} tuning_entry;

/* Entries are measured on the device, driver, platform and clnet version
 * of the context holding the table, so the table keeps no header. */
struct clnet_tuning {
    char source[CLNET_PATH_CAPACITY]; /* file loaded from, "" if none */
    int count, capacity;
    tuning_entry *entries;
    /* The file's "clblast" section, checked, kept to be written back:
     * CLBlast kernel name -> {parameter: value}, single precision. NULL if
     * none. */
    cJSON *clblast;
    int clblast_applied; /* kernels whose parameters CLBlast accepted */
    /* The file's "gemm" section: configurations of clnet's GEMM kernel per
     * GEMM shape (tuning_gemm.c); NULL if none. */
    clnet_gemm_table *gemm;
};

/* ------------------------------------------------------------------------ */
/* The table                                                                */

int clnet_tuning_same_geometry(const clnet_conv_geometry *a, const clnet_conv_geometry *b) {
    return a->in_c == b->in_c && a->in_h == b->in_h && a->in_w == b->in_w && a->out_c == b->out_c &&
           a->out_h == b->out_h && a->out_w == b->out_w && a->kh == b->kh && a->kw == b->kw &&
           a->sh == b->sh && a->sw == b->sw && a->dh == b->dh && a->dw == b->dw &&
           a->pad_top == b->pad_top && a->pad_left == b->pad_left &&
           a->pad_bottom == b->pad_bottom && a->pad_right == b->pad_right;
}

/* The algorithm of a name written by clnet_conv_algo_name, or AUTO when
 * the name is not one ("auto" itself is no choice a table can hold). */
static clnet_conv_algo algo_by_name(const char *name) {
    for (int a = CLNET_CONV_DIRECT; a < CLNET_CONV_ALGO_COUNT; a++)
        if (strcmp(name, clnet_conv_algo_name((clnet_conv_algo)a)) == 0)
            return (clnet_conv_algo)a;
    return CLNET_CONV_AUTO;
}

static clnet_tuning *table_new(void) {
    return calloc(1, sizeof(clnet_tuning));
}

void clnet_tuning_free(clnet_tuning *tuning) {
    if (!tuning)
        return;
    free(tuning->entries);
    cJSON_Delete(tuning->clblast);
    clnet_gemm_table_free(tuning->gemm);
    free(tuning);
}

/* Replaces the entry of e's geometry, or appends e. Returns 0 when out of
 * memory. */
static int table_put(clnet_tuning *t, const tuning_entry *e) {
    for (int i = 0; i < t->count; i++) {
        if (clnet_tuning_same_geometry(&t->entries[i].geom, &e->geom)) {
            t->entries[i] = *e;
            return 1;
        }
    }
    if (t->count == t->capacity) {
        int capacity = t->capacity ? 2 * t->capacity : 16;
        tuning_entry *grown = realloc(t->entries, (size_t)capacity * sizeof *grown);
        if (!grown)
            return 0;
        t->entries = grown;
        t->capacity = capacity;
    }
    t->entries[t->count++] = *e;
    return 1;
}

clnet_status clnet_tuning_put(clnet_context *ctx, const clnet_conv_geometry *g,
                              clnet_conv_algo algo, int batch,
                              const double ms[CLNET_CONV_ALGO_COUNT]) {
    if (!ctx->tuning && !(ctx->tuning = table_new()))
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "tuning: out of host memory");
    tuning_entry e;
    memset(&e, 0, sizeof e);
    e.geom = *g;
    e.algo = algo;
    e.batch = batch;
    memcpy(e.ms, ms, sizeof e.ms);
    if (!table_put(ctx->tuning, &e))
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "tuning: out of host memory");
    return CLNET_STATUS_OK;
}

int clnet_tuning_conv_algo(const clnet_context *ctx, const clnet_conv_geometry *g,
                           clnet_conv_algo *algo) {
    if (!ctx || !ctx->tuning || !g || !algo)
        return 0;
    for (int i = 0; i < ctx->tuning->count; i++) {
        const tuning_entry *e = &ctx->tuning->entries[i];
        if (clnet_tuning_same_geometry(&e->geom, g)) {
            if (!clnet_conv_algo_applies(e->algo, g))
                return 0;
            *algo = e->algo;
            return 1;
        }
    }
    return 0;
}

int clnet_tuning_gemm_config(const clnet_context *ctx, const clnet_gemm_key *key,
                             clnet_gemm_config *out) {
    return ctx && ctx->tuning && clnet_gemm_table_lookup(ctx->tuning->gemm, key, out);
}

clnet_status clnet_tuning_put_gemm(clnet_context *ctx, const clnet_gemm_key *key,
                                   const clnet_gemm_config *config, double ms, double default_ms) {
    if (!ctx->tuning && !(ctx->tuning = table_new()))
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "tuning: out of host memory");
    return clnet_gemm_table_put(&ctx->tuning->gemm, key, config, ms, default_ms);
}

int clnet_tuning_gemm_count(const clnet_context *ctx) {
    return ctx && ctx->tuning ? clnet_gemm_table_count(ctx->tuning->gemm) : 0;
}

clnet_status clnet_tuning_gemm_entry_at(const clnet_context *ctx, int index,
                                        clnet_tuning_gemm_entry *out) {
    if (!ctx || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_tuning_gemm_entry_at: ctx and out must not be NULL");
    clnet_gemm_key key;
    clnet_gemm_config config;
    double ms, default_ms;
    if (!ctx->tuning ||
        !clnet_gemm_table_entry(ctx->tuning->gemm, index, &key, &config, &ms, &default_ms))
        return clnet_fail(CLNET_STATUS_NOT_FOUND,
                          "the tuning table has %d GEMM entries; no entry %d",
                          clnet_tuning_gemm_count(ctx), index);
    clnet_gemm_entry_describe(ctx, &key, &config, ms, default_ms, out);
    return CLNET_STATUS_OK;
}

clnet_status clnet_tuning_build_programs(clnet_context *ctx) {
    if (!ctx)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_tuning_build_programs: ctx must not be NULL");
    for (int i = 0; i < clnet_tuning_gemm_count(ctx); i++) {
        clnet_gemm_key key;
        clnet_gemm_config config;
        double ms, default_ms;
        clnet_gemm_table_entry(ctx->tuning->gemm, i, &key, &config, &ms, &default_ms);
        CLNET_TRY(clnet_gemm_build_config(ctx, &config));
    }
    return CLNET_STATUS_OK;
}

clnet_conv_shape clnet_tuning_shape_of(const clnet_conv_geometry *g) {
    clnet_conv_shape s = {
        .in_c = g->in_c,
        .in_h = g->in_h,
        .in_w = g->in_w,
        .out_c = g->out_c,
        .out_h = g->out_h,
        .out_w = g->out_w,
        .kernel_h = g->kh,
        .kernel_w = g->kw,
        .stride_h = g->sh,
        .stride_w = g->sw,
        .dilation_h = g->dh,
        .dilation_w = g->dw,
        .pad_top = g->pad_top,
        .pad_bottom = g->pad_bottom,
        .pad_left = g->pad_left,
        .pad_right = g->pad_right,
    };
    return s;
}

int clnet_tuning_entry_count(const clnet_context *ctx) {
    return ctx && ctx->tuning ? ctx->tuning->count : 0;
}

clnet_status clnet_tuning_entry_at(const clnet_context *ctx, int index, clnet_tuning_entry *out) {
    if (!ctx || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_tuning_entry_at: ctx and out must not be NULL");
    int count = clnet_tuning_entry_count(ctx);
    if (index < 0 || index >= count)
        return clnet_fail(CLNET_STATUS_NOT_FOUND, "the tuning table has %d entries; no entry %d",
                          count, index);
    const tuning_entry *e = &ctx->tuning->entries[index];
    out->shape = clnet_tuning_shape_of(&e->geom);
    out->algo = e->algo;
    out->batch = e->batch;
    memcpy(out->ms, e->ms, sizeof out->ms);
    return CLNET_STATUS_OK;
}

const char *clnet_tuning_source(const clnet_context *ctx) {
    return ctx && ctx->tuning ? ctx->tuning->source : "";
}

void clnet_tuning_clear(clnet_context *ctx) {
    if (!ctx)
        return;
    clnet_tuning_free(ctx->tuning);
    ctx->tuning = NULL;
}

/* ------------------------------------------------------------------------ */
/* Where the file lives                                                     */

static uint64_t fnv1a_text(uint64_t hash, const char *text) {
    /* The terminating NUL is hashed too, so that ("ab", "c") and ("a",
     * "bc") differ. */
    const unsigned char *p = (const unsigned char *)text;
    do {
        hash ^= *p;
        hash *= 0x100000001b3ull;
    } while (*p++);
    return hash;
}

/* The cache folder, found as program_cache.c finds it: CLNET_CACHE_DIR,
 * else $XDG_CACHE_HOME/clnet, else ~/.cache/clnet. CLNET_CACHE=0, which
 * turns the program cache off, does not apply: tuning has CLNET_TUNING.
 * Returns 0 when none is known. */
static int cache_folder(char *buf, size_t size) {
    const char *dir = getenv("CLNET_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n = -1;
    if (dir && dir[0])
        n = snprintf(buf, size, "%s", dir);
    else if (xdg && xdg[0])
        n = snprintf(buf, size, "%s/clnet", xdg);
    else if (home && home[0])
        n = snprintf(buf, size, "%s/.cache/clnet", home);
    return n > 0 && (size_t)n < size;
}

/* The default path into buf: 1 on success, 0 when no folder is known, -1
 * when the path does not fit. from_env tells whether CLNET_TUNING_FILE
 * named it. */
static int default_path(const clnet_context *ctx, char *buf, size_t size, int *from_env) {
    const char *file = getenv("CLNET_TUNING_FILE");
    *from_env = file && file[0];
    if (*from_env) {
        int n = snprintf(buf, size, "%s", file);
        return n >= 0 && (size_t)n < size ? 1 : -1;
    }
    char folder[CLNET_PATH_CAPACITY];
    if (!cache_folder(folder, sizeof folder))
        return 0;

    /* A readable prefix from the device name, for people listing the
     * folder; the hash is what keeps devices and versions apart. */
    char slug[33];
    size_t n = 0;
    for (const char *p = ctx->info.name; *p && n < sizeof slug - 1; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        int keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_';
        if (keep)
            slug[n++] = c;
        else if (n > 0 && slug[n - 1] != '-')
            slug[n++] = '-';
    }
    while (n > 0 && slug[n - 1] == '-')
        n--;
    slug[n] = '\0';

    uint64_t hash = 0xcbf29ce484222325ull;
    hash = fnv1a_text(hash, ctx->info.name);
    hash = fnv1a_text(hash, ctx->info.driver_version);
    hash = fnv1a_text(hash, ctx->info.platform_name);
    hash = fnv1a_text(hash, CLNET_VERSION_STRING);
    int written = snprintf(buf, size, "%s/tuning/%s%s%016llx.json", folder, slug,
                           slug[0] ? "-" : "", (unsigned long long)hash);
    return written >= 0 && (size_t)written < size ? 1 : -1;
}

clnet_status clnet_tuning_default_path(const clnet_context *ctx, char *buf, size_t size) {
    if (!ctx || !buf || size == 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_tuning_default_path: ctx and buf must not be NULL, size not 0");
    int from_env;
    int found = default_path(ctx, buf, size, &from_env);
    if (found == 0)
        return clnet_fail(CLNET_STATUS_NOT_FOUND,
                          "no folder for the tuning file of %s: set CLNET_TUNING_FILE, "
                          "CLNET_CACHE_DIR, XDG_CACHE_HOME or HOME",
                          ctx->info.name);
    if (found < 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "the tuning file path of %s does not fit in %zu bytes", ctx->info.name,
                          size);
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Reading a file                                                           */

typedef enum load_result {
    LOAD_OK,
    LOAD_MISSING,    /* no such file */
    LOAD_UNREADABLE, /* it exists but cannot be read */
    LOAD_MALFORMED,  /* not a tuning table, or one with a bad entry */
    LOAD_MISMATCH    /* a table of another device, driver, platform or version */
} load_result;

/* The whole file into *text (NUL-terminated, malloc'd). */
static load_result read_text(const char *path, char **text, size_t *length, char *why) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return LOAD_MISSING;
        snprintf(why, WHY_CAPACITY, "cannot open it: %s", strerror(errno));
        return LOAD_UNREADABLE;
    }
    size_t capacity = 4096, n = 0;
    char *buf = malloc(capacity);
    load_result result = LOAD_OK;
    while (buf) {
        if (n > MAX_FILE_BYTES) {
            snprintf(why, WHY_CAPACITY, "larger than %u bytes, more than any tuning table",
                     MAX_FILE_BYTES);
            result = LOAD_MALFORMED;
            break;
        }
        if (n == capacity - 1) {
            char *grown = realloc(buf, 2 * capacity);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            capacity *= 2;
        }
        size_t got = fread(buf + n, 1, capacity - 1 - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                snprintf(why, WHY_CAPACITY, "cannot read it: %s", strerror(errno));
                result = LOAD_UNREADABLE;
            }
            break;
        }
    }
    fclose(f);
    if (!buf) {
        snprintf(why, WHY_CAPACITY, "out of memory reading it");
        return LOAD_UNREADABLE;
    }
    if (result != LOAD_OK) {
        free(buf);
        return result;
    }
    buf[n] = '\0';
    *text = buf;
    *length = n;
    return LOAD_OK;
}

/* An integer in [lo, hi] held by a JSON number. */
static int json_int(const cJSON *item, int lo, int hi, int *out) {
    if (!cJSON_IsNumber(item))
        return 0;
    double v = item->valuedouble;
    if (!isfinite(v) || v != floor(v) || v < lo || v > hi)
        return 0;
    *out = (int)v;
    return 1;
}

/* Member key of entry `index`: an array of n integers in [lo, hi]. */
static int json_ints(const cJSON *entry, int index, const char *key, int n, int lo, int hi,
                     int *out, char *why) {
    const cJSON *array = cJSON_GetObjectItemCaseSensitive(entry, key);
    int ok = cJSON_IsArray(array) && cJSON_GetArraySize(array) == n;
    for (int i = 0; ok && i < n; i++)
        ok = json_int(cJSON_GetArrayItem(array, i), lo, hi, &out[i]);
    if (!ok)
        snprintf(why, WHY_CAPACITY,
                 "entry %d: \"%s\" must be an array of %d integers from %d to %d", index, key, n,
                 lo, hi);
    return ok;
}

/* Whether an axis's output size follows from its input, kernel, stride,
 * dilation and padding, as clnet_window_axis computes it. */
static int axis_consistent(int in, int out, int k, int stride, int dilation, int before,
                           int after) {
    long long span = (long long)in + before + after - ((long long)(k - 1) * dilation + 1);
    return span >= 0 && (long long)out == span / stride + 1;
}

/* Entry `index` of a file into *e; 0 with the reason in why when malformed. */
static int parse_entry(const cJSON *item, int index, tuning_entry *e, char *why) {
    if (!cJSON_IsObject(item)) {
        snprintf(why, WHY_CAPACITY, "entry %d is not an object", index);
        return 0;
    }
    int in[3], out[3], kernel[2], stride[2], dilation[2], pad[4];
    if (!json_ints(item, index, "in", 3, 1, MAX_EXTENT, in, why) ||
        !json_ints(item, index, "out", 3, 1, MAX_EXTENT, out, why) ||
        !json_ints(item, index, "kernel", 2, 1, MAX_EXTENT, kernel, why) ||
        !json_ints(item, index, "stride", 2, 1, MAX_EXTENT, stride, why) ||
        !json_ints(item, index, "dilation", 2, 1, MAX_EXTENT, dilation, why) ||
        !json_ints(item, index, "pad", 4, 0, MAX_EXTENT, pad, why))
        return 0;
    memset(e, 0, sizeof *e);
    e->geom = (clnet_conv_geometry){
        .in_c = in[0],
        .in_h = in[1],
        .in_w = in[2],
        .out_c = out[0],
        .out_h = out[1],
        .out_w = out[2],
        .kh = kernel[0],
        .kw = kernel[1],
        .sh = stride[0],
        .sw = stride[1],
        .dh = dilation[0],
        .dw = dilation[1],
        .pad_top = pad[0],
        .pad_bottom = pad[1],
        .pad_left = pad[2],
        .pad_right = pad[3],
    };
    if (!axis_consistent(in[1], out[1], kernel[0], stride[0], dilation[0], pad[0], pad[1]) ||
        !axis_consistent(in[2], out[2], kernel[1], stride[1], dilation[1], pad[2], pad[3])) {
        snprintf(why, WHY_CAPACITY,
                 "entry %d: output %dx%d does not follow from input %dx%d, kernel %dx%d, "
                 "stride %dx%d, dilation %dx%d and padding %d,%d,%d,%d",
                 index, out[1], out[2], in[1], in[2], kernel[0], kernel[1], stride[0], stride[1],
                 dilation[0], dilation[1], pad[0], pad[1], pad[2], pad[3]);
        return 0;
    }

    const cJSON *algo = cJSON_GetObjectItemCaseSensitive(item, "algo");
    e->algo = cJSON_IsString(algo) ? algo_by_name(algo->valuestring) : CLNET_CONV_AUTO;
    if (e->algo == CLNET_CONV_AUTO) {
        snprintf(why, WHY_CAPACITY,
                 "entry %d: \"algo\" must be one of direct, im2col_gemm, gemm1x1, winograd2x2, "
                 "winograd4x4",
                 index);
        return 0;
    }

    /* Optional, for information: the batch and the times measured. */
    const cJSON *batch = cJSON_GetObjectItemCaseSensitive(item, "batch");
    if (batch && !json_int(batch, 1, MAX_BATCH, &e->batch)) {
        snprintf(why, WHY_CAPACITY, "entry %d: \"batch\" must be an integer from 1 to %d", index,
                 MAX_BATCH);
        return 0;
    }
    for (int a = 0; a < CLNET_CONV_ALGO_COUNT; a++)
        e->ms[a] = -1;
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(item, "ms");
    if (ms && !cJSON_IsObject(ms)) {
        snprintf(why, WHY_CAPACITY, "entry %d: \"ms\" must be an object", index);
        return 0;
    }
    const cJSON *time = NULL;
    cJSON_ArrayForEach(time, ms) {
        clnet_conv_algo a = time->string ? algo_by_name(time->string) : CLNET_CONV_AUTO;
        if (a == CLNET_CONV_AUTO || !cJSON_IsNumber(time) || !isfinite(time->valuedouble) ||
            time->valuedouble < 0 || time->valuedouble > MAX_MS) {
            snprintf(why, WHY_CAPACITY,
                     "entry %d: \"ms\" must map algorithm names to milliseconds from 0 to %g",
                     index, MAX_MS);
            return 0;
        }
        e->ms[a] = time->valuedouble;
    }
    return 1;
}

/* A header string member, or NULL. */
static const char *header_text(const cJSON *root, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* Checks the header of a parsed file against ctx. */
static load_result check_header(const clnet_context *ctx, const cJSON *root, char *why) {
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "format_version");
    const char *format = header_text(root, "format");
    int v = 0;
    if (!format || strcmp(format, FORMAT_NAME) != 0) {
        snprintf(why, WHY_CAPACITY, "no \"format\": \"%s\" member", FORMAT_NAME);
        return LOAD_MALFORMED;
    }
    if (!json_int(version, 1, 1000000, &v) || v != FORMAT_VERSION) {
        snprintf(why, WHY_CAPACITY, "\"format_version\" must be %d", FORMAT_VERSION);
        return LOAD_MALFORMED;
    }
    const struct {
        const char *key, *ours;
    } fields[] = {{"device", ctx->info.name},
                  {"driver_version", ctx->info.driver_version},
                  {"platform", ctx->info.platform_name},
                  {"clnet_version", CLNET_VERSION_STRING}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (!header_text(root, fields[i].key)) {
            snprintf(why, WHY_CAPACITY, "the header has no \"%s\" string", fields[i].key);
            return LOAD_MALFORMED;
        }
    }
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *theirs = header_text(root, fields[i].key);
        if (strcmp(theirs, fields[i].ours) != 0) {
            snprintf(why, WHY_CAPACITY,
                     "it was measured with %s '%.160s', this context has '%.160s'", fields[i].key,
                     theirs, fields[i].ours);
            return LOAD_MISMATCH;
        }
    }
    return LOAD_OK;
}

/* The line of a byte offset, for parse errors. */
static int line_of(const char *text, size_t offset) {
    int line = 1;
    for (size_t i = 0; i < offset; i++)
        line += text[i] == '\n';
    return line;
}

/* Checks the optional "clblast" section: an object of at most
 * MAX_CLBLAST_KERNELS kernel names, each an object of at most
 * MAX_CLBLAST_PARAMS parameter names with integer values from 0 to
 * MAX_CLBLAST_VALUE. Whether CLBlast knows the names is its own check,
 * when the parameters are applied. */
static int check_clblast(const cJSON *section, char *why) {
    if (!cJSON_IsObject(section)) {
        snprintf(why, WHY_CAPACITY, "\"clblast\" is not an object of kernels");
        return 0;
    }
    if (cJSON_GetArraySize(section) > MAX_CLBLAST_KERNELS) {
        snprintf(why, WHY_CAPACITY, "\"clblast\" names %d kernels, more than %d",
                 cJSON_GetArraySize(section), MAX_CLBLAST_KERNELS);
        return 0;
    }
    const cJSON *kernel = NULL;
    cJSON_ArrayForEach(kernel, section) {
        if (!cJSON_IsObject(kernel) || cJSON_GetArraySize(kernel) < 1 ||
            cJSON_GetArraySize(kernel) > MAX_CLBLAST_PARAMS) {
            snprintf(why, WHY_CAPACITY,
                     "\"clblast\" kernel \"%.64s\" is not an object of 1 to %d parameters",
                     kernel->string, MAX_CLBLAST_PARAMS);
            return 0;
        }
        const cJSON *param = NULL;
        cJSON_ArrayForEach(param, kernel) {
            int value;
            if (!json_int(param, 0, MAX_CLBLAST_VALUE, &value)) {
                snprintf(why, WHY_CAPACITY,
                         "\"clblast\" kernel \"%.64s\": parameter \"%.64s\" is not an integer "
                         "from 0 to %d",
                         kernel->string, param->string, MAX_CLBLAST_VALUE);
                return 0;
            }
        }
    }
    return 1;
}

/* Hands the table's CLBlast parameters to CLBlast for ctx's device (they
 * take effect when each kernel is next compiled); a kernel that CLBlast
 * refuses (an unknown name, a missing or unknown parameter) is skipped
 * with a warning naming it. */
static void apply_clblast(const clnet_context *ctx, clnet_tuning *t) {
    t->clblast_applied = 0;
    const cJSON *kernel = NULL;
    cJSON_ArrayForEach(kernel, t->clblast) {
        const char *names[MAX_CLBLAST_PARAMS];
        size_t values[MAX_CLBLAST_PARAMS];
        size_t n = 0;
        const cJSON *param = NULL;
        cJSON_ArrayForEach(param, kernel) {
            names[n] = param->string;
            values[n] = (size_t)param->valuedouble;
            n++;
        }
        CLBlastStatusCode st = CLBlastOverrideParameters(ctx->device, kernel->string,
                                                         CLBlastPrecisionSingle, n, names, values);
        if (st == CLBlastSuccess)
            t->clblast_applied++;
        else
            clnet_log(CLNET_LOG_WARN, "tuning",
                      "%s: CLBlast refused the parameters of kernel '%s' (status %d%s); it "
                      "keeps its own",
                      t->source, kernel->string, (int)st,
                      st == CLBlastMissingOverrideParameter ? ": parameters missing"
                      : st == CLBlastInvalidOverrideKernel  ? ": unknown kernel"
                                                            : "");
    }
    if (t->clblast_applied > 0)
        clnet_log(CLNET_LOG_INFO, "tuning", "%s: CLBlast parameters of %d kernel%s applied",
                  t->source, t->clblast_applied, t->clblast_applied == 1 ? "" : "s");
}

int clnet_tuning_clblast_kernels(const clnet_context *ctx) {
    return ctx && ctx->tuning ? ctx->tuning->clblast_applied : 0;
}

/* Reads and checks the table at path for ctx; *out is a new table on
 * LOAD_OK. why receives the reason of any other result but LOAD_MISSING. */
static load_result read_table(const clnet_context *ctx, const char *path, clnet_tuning **out,
                              char *why) {
    char *text = NULL;
    size_t length = 0;
    load_result result = read_text(path, &text, &length, why);
    if (result != LOAD_OK)
        return result;

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, length + 1, &end, 0);
    if (!root) {
        size_t at = end && end >= text && end <= text + length ? (size_t)(end - text) : 0;
        snprintf(why, WHY_CAPACITY, "not valid JSON (line %d, byte %zu)", line_of(text, at), at);
        free(text);
        return LOAD_MALFORMED;
    }
    /* Anything but white space after the document means a damaged file. */
    size_t at = end ? (size_t)(end - text) : length;
    while (at < length && strchr(" \t\r\n", text[at]) && text[at])
        at++;
    if (at < length) {
        snprintf(why, WHY_CAPACITY, "data after the JSON document (line %d)", line_of(text, at));
        result = LOAD_MALFORMED;
    } else if (!cJSON_IsObject(root)) {
        snprintf(why, WHY_CAPACITY, "the document is not a JSON object");
        result = LOAD_MALFORMED;
    } else {
        result = check_header(ctx, root, why);
    }

    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(root, "entries");
    if (result == LOAD_OK && !cJSON_IsArray(entries)) {
        snprintf(why, WHY_CAPACITY, "no \"entries\" array");
        result = LOAD_MALFORMED;
    }
    if (result == LOAD_OK && cJSON_GetArraySize(entries) > MAX_ENTRIES) {
        snprintf(why, WHY_CAPACITY, "%d entries, more than the %d a table may hold",
                 cJSON_GetArraySize(entries), MAX_ENTRIES);
        result = LOAD_MALFORMED;
    }
    const cJSON *clblast = cJSON_GetObjectItemCaseSensitive(root, "clblast");
    if (result == LOAD_OK && clblast && !check_clblast(clblast, why))
        result = LOAD_MALFORMED;
    clnet_tuning *t = result == LOAD_OK ? table_new() : NULL;
    if (result == LOAD_OK && !t) {
        snprintf(why, WHY_CAPACITY, "out of memory");
        result = LOAD_UNREADABLE;
    }
    if (result == LOAD_OK && clblast && !(t->clblast = cJSON_Duplicate(clblast, 1))) {
        snprintf(why, WHY_CAPACITY, "out of memory");
        result = LOAD_UNREADABLE;
    }

    const cJSON *gemm = cJSON_GetObjectItemCaseSensitive(root, "gemm");
    int gemm_dropped = 0;
    if (result == LOAD_OK && gemm &&
        !clnet_gemm_table_parse(ctx, gemm, &t->gemm, &gemm_dropped, why, WHY_CAPACITY))
        result = LOAD_MALFORMED;

    /* Every entry must be well formed; one whose algorithm cannot run its
     * shape (a hand edit, most likely) is dropped, the rest kept. */
    int index = 0, dropped = 0, first_dropped = -1;
    const cJSON *item = NULL, *list = result == LOAD_OK ? entries : NULL;
    cJSON_ArrayForEach(item, list) {
        tuning_entry e;
        if (!parse_entry(item, index, &e, why)) {
            result = LOAD_MALFORMED;
            break;
        }
        if (!clnet_conv_algo_applies(e.algo, &e.geom)) {
            dropped++;
            if (first_dropped < 0)
                first_dropped = index;
        } else if (!table_put(t, &e)) {
            snprintf(why, WHY_CAPACITY, "out of memory");
            result = LOAD_UNREADABLE;
            break;
        }
        index++;
    }
    cJSON_Delete(root);
    free(text);
    if (result != LOAD_OK) {
        clnet_tuning_free(t);
        return result;
    }
    if (dropped > 0)
        clnet_log(CLNET_LOG_WARN, "tuning",
                  "%s: ignoring %d entr%s whose algorithm cannot run its convolution (first: "
                  "entry %d)",
                  path, dropped, dropped == 1 ? "y" : "ies", first_dropped);
    if (gemm_dropped > 0)
        clnet_log(CLNET_LOG_WARN, "tuning",
                  "%s: ignoring %d GEMM entr%s naming a configuration this device's kernel does "
                  "not offer",
                  path, gemm_dropped, gemm_dropped == 1 ? "y" : "ies");
    snprintf(t->source, sizeof t->source, "%s", path);
    *out = t;
    return LOAD_OK;
}

clnet_status clnet_tuning_load(clnet_context *ctx, const char *path) {
    if (!ctx || !path || !path[0])
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_tuning_load: ctx and path must not be NULL or empty");
    char why[WHY_CAPACITY] = "";
    clnet_tuning *t = NULL;
    switch (read_table(ctx, path, &t, why)) {
    case LOAD_OK:
        clnet_tuning_free(ctx->tuning);
        ctx->tuning = t;
        apply_clblast(ctx, t);
        return CLNET_STATUS_OK;
    case LOAD_MISSING:
        return clnet_fail(CLNET_STATUS_NOT_FOUND, "tuning file '%s' does not exist", path);
    case LOAD_UNREADABLE:
        return clnet_fail(CLNET_STATUS_IO_ERROR, "reading tuning file '%s': %s", path, why);
    case LOAD_MALFORMED:
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "tuning file '%s' is malformed: %s", path,
                          why);
    case LOAD_MISMATCH:
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "tuning file '%s' belongs to another device or version: %s", path, why);
    }
    return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "tuning file '%s': unexpected result", path);
}

void clnet_tuning_open(clnet_context *ctx) {
    const char *enabled = getenv("CLNET_TUNING");
    if (!ctx || (enabled && strcmp(enabled, "0") == 0))
        return;
    char path[CLNET_PATH_CAPACITY];
    int from_env = 0;
    int found = default_path(ctx, path, sizeof path, &from_env);
    if (found < 0)
        clnet_log(CLNET_LOG_WARN, "tuning", "the tuning file path is longer than %d bytes",
                  CLNET_PATH_CAPACITY - 1);
    if (found != 1)
        return;
    char why[WHY_CAPACITY] = "";
    clnet_tuning *t = NULL;
    switch (read_table(ctx, path, &t, why)) {
    case LOAD_OK:
        clnet_tuning_free(ctx->tuning);
        ctx->tuning = t;
        clnet_log(CLNET_LOG_INFO, "tuning", "%s: %d convolution shape%s tuned for %s", path,
                  t->count, t->count == 1 ? "" : "s", ctx->info.name);
        apply_clblast(ctx, t);
        break;
    case LOAD_MISSING:
        /* The usual case before `clnet tune`: the built-in rule applies. */
        if (from_env)
            clnet_log(CLNET_LOG_INFO, "tuning", "CLNET_TUNING_FILE %s does not exist", path);
        break;
    case LOAD_MISMATCH:
        /* A file named explicitly was meant to be used: say loudly why it
         * is not. In the cache folder the name already keys the device, so
         * only a hash collision gets here. */
        clnet_log(from_env ? CLNET_LOG_WARN : CLNET_LOG_INFO, "tuning", "ignoring %s: %s", path,
                  why);
        break;
    case LOAD_UNREADABLE:
    case LOAD_MALFORMED:
        clnet_log(CLNET_LOG_WARN, "tuning", "ignoring %s: %s; the built-in algorithm rule applies",
                  path, why);
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* Writing a file                                                           */

/* Creates the folders above a file (like mkdir -p of its folder). */
static int make_parent_dirs(const char *path) {
    char dir[CLNET_PATH_CAPACITY];
    int n = snprintf(dir, sizeof dir, "%s", path);
    if (n < 0 || (size_t)n >= sizeof dir)
        return 0;
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 1;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return 0;
        *p = '/';
    }
    return mkdir(dir, 0755) == 0 || errno == EEXIST;
}

/* Writes s as a JSON string (escaped by cJSON). */
static int put_json_string(FILE *f, const char *s) {
    cJSON *item = cJSON_CreateString(s);
    char *text = item ? cJSON_PrintUnformatted(item) : NULL;
    int ok = text && fputs(text, f) >= 0;
    cJSON_free(text);
    cJSON_Delete(item);
    return ok;
}

static cJSON *int_array(const int *v, int n) {
    return cJSON_CreateIntArray(v, n);
}

/* One entry as a one-line JSON object. */
static char *entry_text(const tuning_entry *e) {
    const clnet_conv_geometry *g = &e->geom;
    int in[3] = {g->in_c, g->in_h, g->in_w}, out[3] = {g->out_c, g->out_h, g->out_w};
    int kernel[2] = {g->kh, g->kw}, stride[2] = {g->sh, g->sw}, dilation[2] = {g->dh, g->dw};
    int pad[4] = {g->pad_top, g->pad_bottom, g->pad_left, g->pad_right};
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddItemToObject(o, "in", int_array(in, 3));
    cJSON_AddItemToObject(o, "out", int_array(out, 3));
    cJSON_AddItemToObject(o, "kernel", int_array(kernel, 2));
    cJSON_AddItemToObject(o, "stride", int_array(stride, 2));
    cJSON_AddItemToObject(o, "dilation", int_array(dilation, 2));
    cJSON_AddItemToObject(o, "pad", int_array(pad, 4));
    cJSON_AddStringToObject(o, "algo", clnet_conv_algo_name(e->algo));
    if (e->batch > 0)
        cJSON_AddNumberToObject(o, "batch", e->batch);
    cJSON *ms = cJSON_AddObjectToObject(o, "ms");
    for (int a = CLNET_CONV_DIRECT; a < CLNET_CONV_ALGO_COUNT && ms; a++)
        if (e->ms[a] >= 0) /* rounded to 0.1 us: more digits are noise */
            cJSON_AddNumberToObject(ms, clnet_conv_algo_name((clnet_conv_algo)a),
                                    round(e->ms[a] * 1e4) / 1e4);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* The table as a file: a header naming what it was measured with, then one
 * entry per line, so that people can read and diff it. */
static int write_table(FILE *f, const clnet_context *ctx) {
    const clnet_tuning *t = ctx->tuning;
    int count = t ? t->count : 0;
    int ok = fprintf(f, "{\n  \"format\": \"%s\",\n  \"format_version\": %d,\n", FORMAT_NAME,
                     FORMAT_VERSION) > 0;
    const struct {
        const char *key, *value;
    } header[] = {{"clnet_version", CLNET_VERSION_STRING},
                  {"device", ctx->info.name},
                  {"driver_version", ctx->info.driver_version},
                  {"platform", ctx->info.platform_name}};
    for (size_t i = 0; ok && i < sizeof header / sizeof header[0]; i++)
        ok = fprintf(f, "  \"%s\": ", header[i].key) > 0 && put_json_string(f, header[i].value) &&
             fputs(",\n", f) >= 0;
    if (ok && t && t->clblast) {
        /* Written back as read, so that tuning again keeps hand-set
         * CLBlast parameters. */
        char *text = cJSON_PrintUnformatted(t->clblast);
        ok = text && fprintf(f, "  \"clblast\": %s,\n", text) > 0;
        cJSON_free(text);
    }
    if (ok && t && clnet_gemm_table_count(t->gemm) > 0)
        ok = clnet_gemm_table_write(f, t->gemm);
    ok = ok && fputs("  \"entries\": [", f) >= 0;
    for (int i = 0; ok && i < count; i++) {
        char *text = entry_text(&t->entries[i]);
        ok = text && fprintf(f, "%s\n    %s", i ? "," : "", text) > 0;
        cJSON_free(text);
    }
    return ok && fputs(count ? "\n  ]\n}\n" : "]\n}\n", f) >= 0;
}

clnet_status clnet_tuning_save(const clnet_context *ctx, const char *path) {
    if (!ctx)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_tuning_save: ctx must not be NULL");
    char chosen[CLNET_PATH_CAPACITY];
    if (!path) {
        CLNET_TRY(clnet_tuning_default_path(ctx, chosen, sizeof chosen));
        path = chosen;
    }
    if (!path[0])
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_tuning_save: empty path");
    if (!make_parent_dirs(path))
        return clnet_fail(CLNET_STATUS_IO_ERROR, "cannot create the folder of tuning file '%s': %s",
                          path, strerror(errno));

    /* Written under a temporary name and renamed, so that a context opening
     * meanwhile reads the old table or the new one, never half of one. */
    char temp[CLNET_PATH_CAPACITY + 32];
    int n = snprintf(temp, sizeof temp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof temp)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "tuning file path '%s' is too long", path);
    FILE *f = fopen(temp, "w");
    int ok = f && write_table(f, ctx) && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int saved_errno = errno;
    if (f && fclose(f) != 0 && ok) {
        ok = 0;
        saved_errno = errno;
    }
    if (ok && rename(temp, path) != 0) {
        ok = 0;
        saved_errno = errno;
    }
    if (!ok) {
        remove(temp);
        return clnet_fail(CLNET_STATUS_IO_ERROR, "cannot write tuning file '%s': %s", path,
                          saved_errno ? strerror(saved_errno) : "out of memory");
    }
    return CLNET_STATUS_OK;
}
