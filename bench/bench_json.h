/* A small streaming JSON writer: it tracks nesting and commas, escapes
 * strings, and writes non-finite numbers as null. */
#ifndef CLNET_BENCH_JSON_H
#define CLNET_BENCH_JSON_H

#include <stdint.h>
#include <stdio.h>

#define BENCH_JSON_MAX_DEPTH 16

typedef struct bench_json {
    FILE *f;
    int depth;
    int has_items[BENCH_JSON_MAX_DEPTH];
    int indent; /* spaces per level; 0 writes one line */
} bench_json;

void bench_json_init(bench_json *j, FILE *f, int indent);
/* key is NULL for array elements and for the top-level value. */
void bench_json_open_object(bench_json *j, const char *key);
void bench_json_close_object(bench_json *j);
void bench_json_open_array(bench_json *j, const char *key);
void bench_json_close_array(bench_json *j);
void bench_json_string(bench_json *j, const char *key, const char *value); /* NULL: null */
void bench_json_number(bench_json *j, const char *key, double value);
void bench_json_integer(bench_json *j, const char *key, int64_t value);
void bench_json_bool(bench_json *j, const char *key, int value);
void bench_json_null(bench_json *j, const char *key);

/* Writes s as a JSON string literal, quotes included. */
void bench_json_quote(FILE *f, const char *s);

#endif
