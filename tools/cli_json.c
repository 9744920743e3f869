/* JSON output of the clnet tool: a streaming writer that only tracks where
 * commas go. */
#include "cli.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

static void json_quote(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* The comma and key before a value; key is NULL inside arrays. */
static void json_prefix(json *j, const char *key) {
    if (j->has_items[j->depth])
        fputc(',', j->f);
    j->has_items[j->depth] = 1;
    if (key) {
        json_quote(j->f, key);
        fputc(':', j->f);
    }
}

void json_open(json *j, const char *key, char bracket) {
    json_prefix(j, key);
    fputc(bracket, j->f);
    j->depth++;
    j->has_items[j->depth] = 0;
}

void json_close(json *j, char bracket) {
    fputc(bracket, j->f);
    j->depth--;
    if (j->depth == 0)
        fputc('\n', j->f);
}

void json_str(json *j, const char *key, const char *v) {
    json_prefix(j, key);
    json_quote(j->f, v);
}

void json_u64(json *j, const char *key, uint64_t v) {
    json_prefix(j, key);
    fprintf(j->f, "%" PRIu64, v);
}

/* Non-finite numbers have no JSON spelling; they become null. */
void json_num(json *j, const char *key, double v) {
    json_prefix(j, key);
    if (isfinite(v))
        fprintf(j->f, "%.9g", v);
    else
        fputs("null", j->f);
}

void json_bool(json *j, const char *key, int v) {
    json_prefix(j, key);
    fputs(v ? "true" : "false", j->f);
}

void json_shape(json *j, const char *key, clnet_shape s) {
    json_open(j, key, '[');
    json_u64(j, NULL, (uint64_t)s.c);
    if (s.rank == 3) {
        json_u64(j, NULL, (uint64_t)s.h);
        json_u64(j, NULL, (uint64_t)s.w);
    }
    json_close(j, ']');
}

void json_null(json *j, const char *key) {
    json_prefix(j, key);
    fputs("null", j->f);
}
