/* Streaming JSON writer (see bench_json.h). */
#include "bench_json.h"

#include <inttypes.h>
#include <math.h>

void bench_json_init(bench_json *j, FILE *f, int indent) {
    j->f = f;
    j->depth = 0;
    j->indent = indent;
    for (int i = 0; i < BENCH_JSON_MAX_DEPTH; i++)
        j->has_items[i] = 0;
}

void bench_json_quote(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void newline(bench_json *j) {
    if (j->indent <= 0)
        return;
    fputc('\n', j->f);
    for (int i = 0; i < j->depth * j->indent; i++)
        fputc(' ', j->f);
}

/* The comma, line break and key before a value. */
static void prefix(bench_json *j, const char *key) {
    if (j->depth > 0) {
        if (j->has_items[j->depth])
            fputc(',', j->f);
        newline(j);
    }
    j->has_items[j->depth] = 1;
    if (key) {
        bench_json_quote(j->f, key);
        fputs(j->indent > 0 ? ": " : ":", j->f);
    }
}

static void open_container(bench_json *j, const char *key, char bracket) {
    prefix(j, key);
    fputc(bracket, j->f);
    if (j->depth + 1 < BENCH_JSON_MAX_DEPTH)
        j->depth++;
    j->has_items[j->depth] = 0;
}

static void close_container(bench_json *j, char bracket) {
    int had_items = j->has_items[j->depth];
    if (j->depth > 0)
        j->depth--;
    if (had_items)
        newline(j);
    fputc(bracket, j->f);
    if (j->depth == 0)
        fputc('\n', j->f);
}

void bench_json_open_object(bench_json *j, const char *key) {
    open_container(j, key, '{');
}
void bench_json_close_object(bench_json *j) {
    close_container(j, '}');
}
void bench_json_open_array(bench_json *j, const char *key) {
    open_container(j, key, '[');
}
void bench_json_close_array(bench_json *j) {
    close_container(j, ']');
}

void bench_json_string(bench_json *j, const char *key, const char *value) {
    prefix(j, key);
    if (value)
        bench_json_quote(j->f, value);
    else
        fputs("null", j->f);
}

void bench_json_number(bench_json *j, const char *key, double value) {
    prefix(j, key);
    if (isfinite(value))
        fprintf(j->f, "%.6g", value);
    else
        fputs("null", j->f);
}

void bench_json_integer(bench_json *j, const char *key, int64_t value) {
    prefix(j, key);
    fprintf(j->f, "%" PRId64, value);
}

void bench_json_bool(bench_json *j, const char *key, int value) {
    prefix(j, key);
    fputs(value ? "true" : "false", j->f);
}

void bench_json_null(bench_json *j, const char *key) {
    prefix(j, key);
    fputs("null", j->f);
}
