/* Per-device tuning: the table file (round trip, where it lives, header
 * checks, hostile files), its effect on the algorithms a net chooses, the
 * matching of step labels to graph nodes, and the tuner itself. Every test
 * points CLNET_TUNING_FILE (or CLNET_CACHE_DIR) into a scratch folder, so
 * the user's cache is never read or written. */
#define _POSIX_C_SOURCE 200809L /* setenv, dup, mkdtemp */
#include "test_util.h"

#include "graph.h"
#include "tuning.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOLERANCE 1e-4

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

/* s as the body of a JSON string (quotes and backslashes escaped). */
static void json_escape(const char *s, char *out, size_t size) {
    size_t n = 0;
    for (; *s && n + 3 < size; s++) {
        if (*s == '"' || *s == '\\')
            out[n++] = '\\';
        out[n++] = *s;
    }
    out[n] = '\0';
}

/* Writes a table file: a header with the given values and `entries`, the
 * text inside the entries array. */
static void write_table_with(const char *path, const char *device, const char *driver,
                             const char *platform, const char *version, const char *entries) {
    size_t size =
        strlen(device) * 2 + strlen(driver) * 2 + strlen(platform) * 2 + strlen(entries) + 512;
    char *text = malloc(size), *e[3];
    assert_non_null(text);
    const char *raw[3] = {device, driver, platform};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(raw[i]) * 2 + 1;
        e[i] = malloc(n);
        assert_non_null(e[i]);
        json_escape(raw[i], e[i], n);
    }
    int n = snprintf(text, size,
                     "{\n  \"format\": \"clnet-tuning\",\n  \"format_version\": 1,\n"
                     "  \"clnet_version\": \"%s\",\n  \"device\": \"%s\",\n"
                     "  \"driver_version\": \"%s\",\n  \"platform\": \"%s\",\n"
                     "  \"entries\": [%s]\n}\n",
                     version, e[0], e[1], e[2], entries);
    assert_true(n > 0 && (size_t)n < size);
    test_write_file(path, text, (size_t)n);
    for (int i = 0; i < 3; i++)
        free(e[i]);
    free(text);
}

/* A table file for ctx's device. */
static void write_table(const char *path, const clnet_context *ctx, const char *entries) {
    const clnet_device_info *d = clnet_context_device(ctx);
    write_table_with(path, d->name, d->driver_version, d->platform_name, CLNET_VERSION_STRING,
                     entries);
}

/* One entry of a table file for geometry g. extra is appended inside the
 * object (", \"batch\": 4" or ""). */
static void entry_json(const clnet_conv_geometry *g, const char *algo, const char *extra, char *buf,
                       size_t size) {
    int n = snprintf(buf, size,
                     "{\"in\": [%d, %d, %d], \"out\": [%d, %d, %d], \"kernel\": [%d, %d], "
                     "\"stride\": [%d, %d], \"dilation\": [%d, %d], "
                     "\"pad\": [%d, %d, %d, %d], \"algo\": \"%s\"%s}",
                     g->in_c, g->in_h, g->in_w, g->out_c, g->out_h, g->out_w, g->kh, g->kw, g->sh,
                     g->sw, g->dh, g->dw, g->pad_top, g->pad_bottom, g->pad_left, g->pad_right,
                     algo, extra);
    assert_true(n > 0 && (size_t)n < size);
}

/* Opens a context of the default device whose table comes from path
 * (CLNET_TUNING_FILE). When captured is not NULL it receives what the
 * library wrote on stderr meanwhile (malloc'd). */
static clnet_context *open_with_table(const char *path, char **captured) {
    test_context(); /* skips, or fails under CLNET_REQUIRE_DEVICE, without a device */
    assert_int_equal(setenv("CLNET_TUNING_FILE", path, 1), 0);
    char log[700];
    snprintf(log, sizeof log, "%s/stderr.txt", test_scratch_dir());
    int saved = -1;
    if (captured) {
        fflush(stderr);
        saved = dup(2);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(saved >= 0 && fd >= 0);
        assert_true(dup2(fd, 2) >= 0);
        close(fd);
    }
    clnet_context *ctx = NULL;
    clnet_status s = clnet_context_create(NULL, NULL, &ctx);
    if (captured) {
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        size_t size;
        uint8_t *text = test_read_file(log, &size);
        text[size] = '\0';
        *captured = (char *)text;
    }
    TEST_OK(s);
    return ctx;
}

static const char *missing_table(void) {
    return test_scratch_path("no-such-table.json");
}

/* The node of the layer called `name` (its first call). */
static int node_of(const clnet_graph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].layer && strcmp(g->nodes[i].layer->name, name) == 0)
            return i;
    fail_msg("no node of layer %s", name);
    return -1;
}

/* The kernel of the step whose label is exactly `label`. */
static const char *kernel_of(const clnet_net *net, const char *label) {
    for (int i = 0; i < clnet_net_step_count(net); i++) {
        clnet_step_info si;
        TEST_OK(clnet_net_step_info(net, i, &si));
        if (strcmp(si.label, label) == 0)
            return si.kernel;
    }
    fail_msg("no step labelled %s", label);
    return "";
}

/* Whether a convolution kernel name ("conv2d_direct+relu",
 * "bn>conv2d_im2col_gemm(clnet)+add") runs algorithm a. */
static int kernel_runs(const char *kernel, clnet_conv_algo a) {
    char want[64];
    snprintf(want, sizeof want, "conv2d_%s", clnet_conv_algo_name(a));
    const char *p = strstr(kernel, want);
    if (!p)
        return 0;
    char next = p[strlen(want)];
    return next == '(' || next == '+' || next == '\0';
}

/* Runs net and the reference on `batch` random images into poisoned
 * outputs and compares them. */
static void check_net(clnet_net *net, const clnet_graph *g, int batch, uint64_t seed) {
    assert_int_equal(clnet_graph_input_count(g), 1);
    assert_int_equal(clnet_graph_output_count(g), 1);
    clnet_shape in_shape, out_shape;
    TEST_OK(clnet_tensor_shape(g, clnet_graph_input_at(g, 0), &in_shape));
    TEST_OK(clnet_tensor_shape(g, clnet_graph_output_at(g, 0), &out_shape));
    size_t n_in = clnet_shape_size(in_shape) * (size_t)batch;
    size_t n_out = clnet_shape_size(out_shape) * (size_t)batch;
    float *in = test_alloc(n_in), *out = test_alloc_poisoned(n_out);
    float *ref = test_alloc_poisoned(n_out);
    test_rng rng = {seed};
    test_fill_uniform(&rng, in, n_in, -1.0f, 1.0f);
    const float *ins[1] = {in};
    float *outs[1] = {out}, *refs[1] = {ref};
    TEST_OK(clnet_net_run(net, batch, ins, outs));
    TEST_OK(clnet_graph_run_reference(g, batch, ins, refs));
    char what[64];
    snprintf(what, sizeof what, "tuned net, batch %d", batch);
    test_assert_close(what, ref, out, n_out, TOLERANCE);
    free(in);
    free(out);
    free(ref);
}

/* Two 3x3 stride-1 convolutions of different shapes on a 5x11x13 input:
 * conv_a (7 filters, ReLU) and conv_b (6 filters). */
static clnet_graph *two_conv_graph(void) {
    clnet_graph *g;
    clnet_tensor x;
    clnet_layer *a, *b;
    TEST_OK(clnet_graph_create(&g));
    TEST_OK(clnet_graph_input(g, "image", 5, 11, 13, &x));
    clnet_conv2d_desc d = clnet_conv2d_defaults(7, 3);
    d.activation = CLNET_ACT_RELU;
    TEST_OK(clnet_layer_conv2d(g, "conv_a", &d, &a));
    d = clnet_conv2d_defaults(6, 3);
    TEST_OK(clnet_layer_conv2d(g, "conv_b", &d, &b));
    TEST_OK(clnet_layer_call1(a, x, &x));
    TEST_OK(clnet_layer_call1(b, x, &x));
    TEST_OK(clnet_graph_set_outputs(g, &x, 1));
    TEST_OK(clnet_graph_init_weights(g, 11));
    test_rng rng = {12};
    test_randomize_non_kernels(g, &rng);
    return g;
}

/* ------------------------------------------------------------------------ */
/* The file                                                                 */

static void table_round_trips_through_save_and_load(void **state) {
    (void)state;
    clnet_graph *g = two_conv_graph();
    const clnet_conv_geometry *ga = &g->nodes[node_of(g, "conv_a")].geom.conv;
    const clnet_conv_geometry *gb = &g->nodes[node_of(g, "conv_b")].geom.conv;
    char entries[1040], first[512], second[512];
    entry_json(ga, "im2col_gemm",
               ", \"batch\": 32, \"ms\": {\"direct\": 1.25, "
               "\"im2col_gemm\": 0.5, \"winograd4x4\": 0.75}",
               first, sizeof first);
    entry_json(gb, "winograd2x2", "", second, sizeof second);
    snprintf(entries, sizeof entries, "%s, %s", first, second);
    const char *source = test_scratch_path("round-trip-source.json");
    write_table(source, test_context(), entries);

    /* Loaded when the context opens. */
    clnet_context *ctx = open_with_table(source, NULL);
    assert_int_equal(clnet_tuning_entry_count(ctx), 2);
    assert_string_equal(clnet_tuning_source(ctx), source);
    clnet_tuning_entry e;
    TEST_OK(clnet_tuning_entry_at(ctx, 0, &e));
    assert_int_equal(e.shape.in_c, 5);
    assert_int_equal(e.shape.in_h, 11);
    assert_int_equal(e.shape.in_w, 13);
    assert_int_equal(e.shape.out_c, 7);
    assert_int_equal(e.shape.kernel_h, 3);
    assert_int_equal(e.shape.pad_top, ga->pad_top);
    assert_int_equal(e.shape.pad_right, ga->pad_right);
    assert_int_equal(e.algo, CLNET_CONV_IM2COL_GEMM);
    assert_int_equal(e.batch, 32);
    assert_true(e.ms[CLNET_CONV_DIRECT] == 1.25 && e.ms[CLNET_CONV_IM2COL_GEMM] == 0.5 &&
                e.ms[CLNET_CONV_WINOGRAD_4X4] == 0.75);
    assert_true(e.ms[CLNET_CONV_GEMM_1X1] == -1 && e.ms[CLNET_CONV_WINOGRAD_2X2] == -1);
    TEST_OK(clnet_tuning_entry_at(ctx, 1, &e));
    assert_int_equal(e.algo, CLNET_CONV_WINOGRAD_2X2);
    assert_int_equal(e.batch, 0);
    assert_int_equal(e.shape.out_c, 6);

    /* Saved and loaded again: the same entries. */
    const char *copy = test_scratch_path("round-trip-copy.json");
    TEST_OK(clnet_tuning_save(ctx, copy));
    clnet_tuning_entry before[2], after;
    for (int i = 0; i < 2; i++)
        TEST_OK(clnet_tuning_entry_at(ctx, i, &before[i]));
    clnet_tuning_clear(ctx);
    assert_int_equal(clnet_tuning_entry_count(ctx), 0);
    TEST_OK(clnet_tuning_load(ctx, copy));
    assert_int_equal(clnet_tuning_entry_count(ctx), 2);
    assert_string_equal(clnet_tuning_source(ctx), copy);
    for (int i = 0; i < 2; i++) {
        TEST_OK(clnet_tuning_entry_at(ctx, i, &after));
        assert_memory_equal(&after.shape, &before[i].shape, sizeof after.shape);
        assert_int_equal(after.algo, before[i].algo);
        assert_int_equal(after.batch, before[i].batch);
        for (int a = 0; a < CLNET_CONV_ALGO_COUNT; a++)
            assert_true(after.ms[a] == before[i].ms[a]);
    }

    /* NULL saves to the default file, here CLNET_TUNING_FILE. */
    const char *fallback = test_scratch_path("round-trip-default.json");
    assert_int_equal(setenv("CLNET_TUNING_FILE", fallback, 1), 0);
    TEST_OK(clnet_tuning_save(ctx, NULL));
    clnet_context *again = open_with_table(fallback, NULL);
    assert_int_equal(clnet_tuning_entry_count(again), 2);

    /* The temporary files of the atomic writes are gone. */
    DIR *dir = opendir(test_scratch_dir());
    assert_non_null(dir);
    for (struct dirent *d; (d = readdir(dir));)
        if (strstr(d->d_name, ".tmp."))
            fail_msg("temporary file %s left behind", d->d_name);
    closedir(dir);

    clnet_context_destroy(again);
    clnet_context_destroy(ctx);
    clnet_graph_destroy(g);
}

static void default_file_lives_in_the_cache_folder(void **state) {
    (void)state;
    const char *names[] = {"CLNET_TUNING_FILE", "CLNET_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};
    char *saved[4];
    for (int i = 0; i < 4; i++) {
        const char *v = getenv(names[i]);
        saved[i] = v ? strdup(v) : NULL;
    }
    clnet_context *ctx = open_with_table(missing_table(), NULL);
    char path[1024], expected[1024];

    /* CLNET_CACHE_DIR first; then XDG_CACHE_HOME/clnet; then ~/.cache/clnet. */
    unsetenv("CLNET_TUNING_FILE");
    setenv("CLNET_CACHE_DIR", test_scratch_path("cache"), 1);
    setenv("XDG_CACHE_HOME", test_scratch_path("xdg"), 1);
    setenv("HOME", test_scratch_path("home"), 1);
    TEST_OK(clnet_tuning_default_path(ctx, path, sizeof path));
    snprintf(expected, sizeof expected, "%s/tuning/", test_scratch_path("cache"));
    assert_true(strncmp(path, expected, strlen(expected)) == 0);
    assert_non_null(strstr(path, ".json"));
    char cache_path[1024];
    snprintf(cache_path, sizeof cache_path, "%s", path);
    unsetenv("CLNET_CACHE_DIR");
    TEST_OK(clnet_tuning_default_path(ctx, path, sizeof path));
    snprintf(expected, sizeof expected, "%s/clnet/tuning/", test_scratch_path("xdg"));
    assert_true(strncmp(path, expected, strlen(expected)) == 0);
    unsetenv("XDG_CACHE_HOME");
    TEST_OK(clnet_tuning_default_path(ctx, path, sizeof path));
    snprintf(expected, sizeof expected, "%s/.cache/clnet/tuning/", test_scratch_path("home"));
    assert_true(strncmp(path, expected, strlen(expected)) == 0);
    unsetenv("HOME");
    TEST_FAILS(CLNET_STATUS_NOT_FOUND, "CLNET_TUNING_FILE",
               clnet_tuning_default_path(ctx, path, sizeof path));
    TEST_FAILS(CLNET_STATUS_NOT_FOUND, NULL, clnet_tuning_save(ctx, NULL));
    setenv("CLNET_TUNING_FILE", test_scratch_path("explicit.json"), 1);
    TEST_OK(clnet_tuning_default_path(ctx, path, sizeof path));
    assert_string_equal(path, test_scratch_path("explicit.json"));

    /* The name changes with the driver (and so with anything hashed). */
    unsetenv("CLNET_TUNING_FILE");
    setenv("CLNET_CACHE_DIR", test_scratch_path("cache"), 1);
    char other[sizeof ctx->info.driver_version + 8];
    snprintf(other, sizeof other, "%s.1", ctx->info.driver_version);
    char kept[sizeof ctx->info.driver_version];
    memcpy(kept, ctx->info.driver_version, sizeof kept);
    snprintf(ctx->info.driver_version, sizeof ctx->info.driver_version, "%.100s", other);
    TEST_OK(clnet_tuning_default_path(ctx, path, sizeof path));
    assert_string_not_equal(path, cache_path);
    memcpy(ctx->info.driver_version, kept, sizeof kept);

    /* A table saved there is what the next context of the device loads. */
    for (int i = 2; i < 4; i++) {
        if (saved[i])
            setenv(names[i], saved[i], 1);
        else
            unsetenv(names[i]);
    }
    char entry[512];
    clnet_graph *g = two_conv_graph();
    entry_json(&g->nodes[node_of(g, "conv_a")].geom.conv, "direct", "", entry, sizeof entry);
    write_table(test_scratch_path("cache-source.json"), ctx, entry);
    TEST_OK(clnet_tuning_load(ctx, test_scratch_path("cache-source.json")));
    TEST_OK(clnet_tuning_save(ctx, NULL));
    clnet_context *next;
    TEST_OK(clnet_context_create(NULL, NULL, &next));
    assert_int_equal(clnet_tuning_entry_count(next), 1);
    assert_string_equal(clnet_tuning_source(next), cache_path);
    clnet_context_destroy(next);

    for (int i = 0; i < 4; i++) {
        if (saved[i])
            setenv(names[i], saved[i], 1);
        else
            unsetenv(names[i]);
        free(saved[i]);
    }
    clnet_graph_destroy(g);
    clnet_context_destroy(ctx);
}

static void table_of_another_device_driver_platform_or_version_is_ignored(void **state) {
    (void)state;
    const clnet_device_info *d = clnet_context_device(test_context());
    clnet_graph *g = two_conv_graph();
    char entry[512];
    entry_json(&g->nodes[node_of(g, "conv_a")].geom.conv, "direct", "", entry, sizeof entry);
    char other[4][300];
    snprintf(other[0], sizeof other[0], "other %s", d->name);
    snprintf(other[1], sizeof other[1], "%s.1", d->driver_version);
    snprintf(other[2], sizeof other[2], "other %s", d->platform_name);
    snprintf(other[3], sizeof other[3], "%s.1", CLNET_VERSION_STRING);
    const char *fields[4] = {"device", "driver_version", "platform", "clnet_version"};
    const char *path = test_scratch_path("other-device.json");

    /* The good file first, so that a failed load visibly keeps the table. */
    clnet_context *ctx = open_with_table(missing_table(), NULL);
    const char *good = test_scratch_path("this-device.json");
    write_table(good, ctx, entry);
    TEST_OK(clnet_tuning_load(ctx, good));

    for (int f = 0; f < 4; f++) {
        write_table_with(path, f == 0 ? other[0] : d->name, f == 1 ? other[1] : d->driver_version,
                         f == 2 ? other[2] : d->platform_name,
                         f == 3 ? other[3] : CLNET_VERSION_STRING, entry);
        TEST_FAILS(CLNET_STATUS_UNSUPPORTED, fields[f], clnet_tuning_load(ctx, path));
        assert_int_equal(clnet_tuning_entry_count(ctx), 1);
        assert_string_equal(clnet_tuning_source(ctx), good);

        char *log = NULL;
        clnet_context *opened = open_with_table(path, &log);
        assert_int_equal(clnet_tuning_entry_count(opened), 0);
        if (!strstr(log, path) || !strstr(log, fields[f]))
            fail_msg("opening with a table of another %s logged: %s", fields[f], log);
        free(log);
        clnet_context_destroy(opened);
    }

    /* A device name far longer than any real one. */
    size_t long_size = 100000;
    char *long_name = malloc(long_size);
    assert_non_null(long_name);
    memset(long_name, 'x', long_size - 1);
    long_name[long_size - 1] = '\0';
    write_table_with(path, long_name, d->driver_version, d->platform_name, CLNET_VERSION_STRING,
                     entry);
    TEST_FAILS(CLNET_STATUS_UNSUPPORTED, "device", clnet_tuning_load(ctx, path));
    free(long_name);

    clnet_context_destroy(ctx);
    clnet_graph_destroy(g);
}

/* A file text made of a valid header and one entry. */
static char *table_text(const clnet_context *ctx, const char *entry) {
    char path[700];
    snprintf(path, sizeof path, "%s/template.json", test_scratch_dir());
    write_table(path, ctx, entry);
    size_t size;
    uint8_t *text = test_read_file(path, &size);
    text[size] = '\0';
    return (char *)text;
}

static void malformed_tables_are_ignored_with_a_message(void **state) {
    (void)state;
    clnet_context *ctx = open_with_table(missing_table(), NULL);
    const char *base = "\"in\": [5, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], "
                       "\"stride\": [1, 1], \"dilation\": [1, 1], \"pad\": [1, 1, 1, 1]";
    char valid_entry[512];
    snprintf(valid_entry, sizeof valid_entry, "{%s, \"algo\": \"direct\"}", base);
    const char *good = test_scratch_path("good.json");
    write_table(good, ctx, valid_entry);
    TEST_OK(clnet_tuning_load(ctx, good));

    /* Entries that are wrong in one way each. */
    static const char *const bad_entries[] = {
        "1",
        "{}",
        "{\"in\": [1e300, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1], \"algo\": \"direct\"}",
        "{\"in\": [-5, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1], \"algo\": \"direct\"}",
        "{\"in\": [5.5, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1], \"algo\": \"direct\"}",
        "{\"in\": [5, 11], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1], \"algo\": \"direct\"}",
        "{\"in\": [5, 11, 13], \"out\": [7, 11, 13], \"kernel\": \"3x3\", \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1], \"algo\": \"direct\"}",
        "{\"in\": [5, 11, 13], \"out\": [7, 12, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1], \"algo\": \"direct\"}",
        "{\"in\": [5, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [0, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1], \"algo\": \"direct\"}",
        "{\"in\": [5, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1048576, 1], \"pad\": [1, 1, 1, 1], \"algo\": \"direct\"}",
        "{\"in\": [5, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [2147483647, 1, 1, 1], \"algo\": \"direct\"}",
        "{\"in\": [5, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1]}",
        "{\"in\": [5, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1], \"algo\": \"fastest\"}",
        "{\"in\": [5, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1], \"algo\": \"auto\"}",
        "{\"in\": [5, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1], \"algo\": 4}",
        "{\"in\": [5, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1], \"algo\": \"direct\", \"batch\": 0}",
        "{\"in\": [5, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1], \"algo\": \"direct\", \"batch\": 1e20}",
        "{\"in\": [5, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1], \"algo\": \"direct\", "
        "\"ms\": {\"direct\": -1}}",
        "{\"in\": [5, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1], \"algo\": \"direct\", "
        "\"ms\": {\"bogus\": 1}}",
        "{\"in\": [5, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1], \"algo\": \"direct\", \"ms\": [1, 2]}",
        "{\"in\": [5, 11, 13], \"out\": [7, 11, 13], \"kernel\": [3, 3], \"stride\": [1, 1], "
        "\"dilation\": [1, 1], \"pad\": [1, 1, 1, 1], \"algo\": \"direct\", "
        "\"ms\": {\"direct\": 1e400}}",
    };
    int n_entries = (int)(sizeof bad_entries / sizeof bad_entries[0]);

    /* Whole files: garbage, damage, wrong structure, excess. */
    char *valid = table_text(ctx, valid_entry);
    size_t valid_length = strlen(valid);
    enum { N_FILES = 16 };
    char *files[N_FILES];
    size_t sizes[N_FILES];
    int n_files = 0;
#define ADD_FILE(text, size)                                                                       \
    do {                                                                                           \
        files[n_files] = (text);                                                                   \
        sizes[n_files++] = (size);                                                                 \
    } while (0)
    ADD_FILE(strdup(""), 0);
    ADD_FILE(strdup("garbage \x01\xfe not json"), strlen("garbage \x01\xfe not json"));
    char *binary = malloc(3000);
    assert_non_null(binary);
    test_rng rng = {99};
    for (int i = 0; i < 3000; i++)
        binary[i] = (char)(test_rng_next(&rng) & 0xff);
    ADD_FILE(binary, 3000);
    char *truncated = strdup(valid);
    ADD_FILE(truncated, valid_length / 2);
    char *trailing = malloc(valid_length + 32);
    assert_non_null(trailing);
    snprintf(trailing, valid_length + 32, "%sgarbage", valid);
    ADD_FILE(trailing, strlen(trailing));
    char *nul = malloc(valid_length + 2);
    assert_non_null(nul);
    memcpy(nul, valid, valid_length);
    nul[valid_length] = '\0';
    nul[valid_length + 1] = 'x';
    ADD_FILE(nul, valid_length + 2);
    ADD_FILE(strdup("[]"), 2);
    ADD_FILE(strdup("{\"format\": \"other\"}"), strlen("{\"format\": \"other\"}"));
    char *version = strdup(valid);
    memcpy(strstr(version, "\"format_version\": 1") + strlen("\"format_version\": "), "2", 1);
    ADD_FILE(version, valid_length);
    char *huge_version = malloc(valid_length + 16);
    assert_non_null(huge_version);
    const char *at = strstr(valid, "\"format_version\": 1") + strlen("\"format_version\": ");
    snprintf(huge_version, valid_length + 16, "%.*s1e300%s", (int)(at - valid), valid, at + 1);
    ADD_FILE(huge_version, strlen(huge_version));
    char *no_device = strdup(valid);
    memcpy(strstr(no_device, "\"device\""), "\"devicX\"", 8);
    ADD_FILE(no_device, valid_length);
    char *entries_object = malloc(valid_length + 32);
    assert_non_null(entries_object);
    at = strstr(valid, "\"entries\": ") + strlen("\"entries\": ");
    snprintf(entries_object, valid_length + 32, "%.*s{\"x\": 1}\n}\n", (int)(at - valid), valid);
    ADD_FILE(entries_object, strlen(entries_object));
    /* More entries than any table holds. */
    size_t many_size = (strlen(valid_entry) + 2) * 5000 + 1;
    char *many = malloc(many_size);
    assert_non_null(many);
    size_t used = 0;
    for (int i = 0; i < 5000; i++)
        used += (size_t)snprintf(many + used, many_size - used, "%s%s", i ? ", " : "", valid_entry);
    char *many_text = table_text(ctx, many);
    free(many);
    ADD_FILE(many_text, strlen(many_text));
    /* Nesting deeper than the parser allows. */
    size_t deep_size = 200000;
    char *deep = malloc(deep_size);
    assert_non_null(deep);
    memset(deep, '[', deep_size);
    ADD_FILE(deep, deep_size);
    /* Larger than any tuning table. */
    size_t big_size = 3u << 20;
    char *big = malloc(big_size);
    assert_non_null(big);
    memcpy(big, valid, valid_length - 2); /* without the closing brace */
    memset(big + valid_length - 2, ' ', big_size - valid_length + 1);
    big[big_size - 1] = '}';
    ADD_FILE(big, big_size);
#undef ADD_FILE
    assert_true(n_files <= N_FILES);

    const char *path = test_scratch_path("bad.json");
    for (int i = 0; i < n_entries + n_files; i++) {
        if (i < n_entries)
            write_table(path, ctx, bad_entries[i]);
        else
            test_write_file(path, files[i - n_entries], sizes[i - n_entries]);
        /* Refused by an explicit load, which keeps the table it had... */
        clnet_status s = clnet_tuning_load(ctx, path);
        if (s != CLNET_STATUS_FORMAT_ERROR)
            fail_msg("case %d: loading returned %s: %s", i, clnet_status_string(s),
                     clnet_last_error());
        if (!strstr(clnet_last_error(), path))
            fail_msg("case %d: the message does not name the file: %s", i, clnet_last_error());
        assert_int_equal(clnet_tuning_entry_count(ctx), 1);
        /* ...and ignored with a warning naming the file when a context opens. */
        char *log = NULL;
        clnet_context *opened = open_with_table(path, &log);
        assert_int_equal(clnet_tuning_entry_count(opened), 0);
        if (!strstr(log, path) || !strstr(log, "ignoring"))
            fail_msg("case %d: opening logged: %s", i, log);
        free(log);
        clnet_context_destroy(opened);
    }

    /* A folder where the file should be cannot be read. */
    const char *folder = test_scratch_path("a-folder.json");
    assert_int_equal(mkdir(folder, 0755), 0);
    TEST_FAILS(CLNET_STATUS_IO_ERROR, folder, clnet_tuning_load(ctx, folder));
    char *log = NULL;
    clnet_context *opened = open_with_table(folder, &log);
    assert_int_equal(clnet_tuning_entry_count(opened), 0);
    assert_non_null(strstr(log, folder));
    free(log);
    clnet_context_destroy(opened);

    for (int i = 0; i < n_files; i++)
        free(files[i]);
    free(valid);
    clnet_context_destroy(ctx);
}

/* A table file for ctx's device with one more member, `name`, whose value
 * is the JSON text `value`, and no entries. */
static void write_table_with_member(const char *path, const clnet_context *ctx, const char *name,
                                    const char *value) {
    char *rest = table_text(ctx, "");
    assert_true(rest[0] == '{');
    size_t size = strlen(rest) + strlen(name) + strlen(value) + 32;
    char *text = malloc(size);
    assert_non_null(text);
    int n = snprintf(text, size, "{\"%s\": %s,%s", name, value, rest + 1);
    assert_true(n > 0 && (size_t)n < size);
    test_write_file(path, text, (size_t)n);
    free(text);
    free(rest);
}

/* A table file for ctx's device with `clblast` (the text of a JSON value)
 * as its "clblast" section and no entries. */
static void write_clblast_table(const char *path, const clnet_context *ctx, const char *clblast) {
    write_table_with_member(path, ctx, "clblast", clblast);
}

/* The "clblast" section hands kernel parameters to CLBlast as a context
 * opens: a complete set is applied, an unknown kernel or an incomplete set
 * is refused by CLBlast with a warning naming it, GEMMs through CLBlast
 * stay correct, saving keeps the section, and a malformed section makes the
 * whole file malformed. */
static void clblast_parameters_in_the_table_reach_clblast(void **state) {
    (void)state;
    clnet_context *ctx = open_with_table(missing_table(), NULL);
    const char *direct = "\"XgemmDirect\": {\"KWID\": 2, \"MDIMAD\": 8, \"MDIMCD\": 8, "
                         "\"NDIMBD\": 8, \"NDIMCD\": 8, \"PADA\": 1, \"PADB\": 1, \"VWMD\": 2, "
                         "\"VWND\": 2, \"WGD\": 32}";
    char section[512];
    snprintf(section, sizeof section,
             "{%s, \"NoSuchKernel\": {\"KWG\": 16}, \"Xgemm\": {\"KWG\": 16}}", direct);
    const char *path = test_scratch_path("clblast.json");
    write_clblast_table(path, ctx, section);

    char *log = NULL;
    clnet_context *opened = open_with_table(path, &log);
    assert_int_equal(clnet_tuning_clblast_kernels(opened), 1);
    if (!strstr(log, "NoSuchKernel") || !strstr(log, "'Xgemm'") || !strstr(log, "refused"))
        fail_msg("opening logged: %s", log);
    free(log);

    /* A 1x1 convolution through CLBlast, compiled with the parameters. */
    clnet_graph *g;
    clnet_tensor x, y;
    clnet_layer *conv;
    TEST_OK(clnet_graph_create(&g));
    TEST_OK(clnet_graph_input(g, "in", 9, 7, 5, &x));
    clnet_conv2d_desc d = clnet_conv2d_defaults(11, 1);
    TEST_OK(clnet_layer_conv2d(g, "pointwise", &d, &conv));
    TEST_OK(clnet_layer_call1(conv, x, &y));
    TEST_OK(clnet_graph_set_outputs(g, &y, 1));
    TEST_OK(clnet_graph_init_weights(g, 5));
    clnet_net_options o = clnet_net_options_default();
    o.gemm_backend = CLNET_GEMM_CLBLAST;
    clnet_net *net;
    TEST_OK(clnet_net_create(opened, g, &o, &net));
    check_net(net, g, 3, 17);
    clnet_net_destroy(net);
    clnet_graph_destroy(g);

    /* Saved and loaded again, the section is still there. */
    const char *saved = test_scratch_path("clblast-saved.json");
    TEST_OK(clnet_tuning_save(opened, saved));
    TEST_OK(clnet_tuning_load(ctx, saved));
    assert_int_equal(clnet_tuning_clblast_kernels(ctx), 1);
    clnet_context_destroy(opened);

    static const char *const bad[] = {
        "[1]", "{\"Xgemm\": 3}", "{\"Xgemm\": {}}", "{\"Xgemm\": {\"KWG\": -1}}",
        "{\"Xgemm\": {\"KWG\": 1.5}}", "{\"Xgemm\": {\"KWG\": \"16\"}}",
        "{\"Xgemm\": {\"KWG\": 1e12}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_clblast_table(path, ctx, bad[i]);
        clnet_status st = clnet_tuning_load(ctx, path);
        if (st != CLNET_STATUS_FORMAT_ERROR || !strstr(clnet_last_error(), "clblast"))
            fail_msg("section %s: %s: %s", bad[i], clnet_status_string(st), clnet_last_error());
    }
    clnet_context_destroy(ctx);
}

static void missing_table_is_silent_and_tuning_can_be_turned_off(void **state) {
    (void)state;
    char *log = NULL;
    clnet_context *ctx = open_with_table(missing_table(), &log);
    assert_int_equal(clnet_tuning_entry_count(ctx), 0);
    assert_string_equal(clnet_tuning_source(ctx), "");
    if (strstr(log, "warn") || strstr(log, "error"))
        fail_msg("a missing table should be silent, got: %s", log);
    free(log);
    TEST_FAILS(CLNET_STATUS_NOT_FOUND, missing_table(), clnet_tuning_load(ctx, missing_table()));

    clnet_graph *g = two_conv_graph();
    char entry[512];
    entry_json(&g->nodes[node_of(g, "conv_a")].geom.conv, "direct", "", entry, sizeof entry);
    const char *path = test_scratch_path("disabled.json");
    write_table(path, ctx, entry);
    assert_int_equal(setenv("CLNET_TUNING", "0", 1), 0);
    clnet_context *off = open_with_table(path, NULL);
    unsetenv("CLNET_TUNING");
    assert_int_equal(clnet_tuning_entry_count(off), 0);
    TEST_OK(clnet_tuning_load(off, path)); /* an explicit load still works */
    assert_int_equal(clnet_tuning_entry_count(off), 1);

    clnet_context_destroy(off);
    clnet_context_destroy(ctx);
    clnet_graph_destroy(g);
}

/* ------------------------------------------------------------------------ */
/* The effect on nets                                                       */

/* The kernels AUTO gives conv_a and conv_b without a table. */
static void default_kernels(const clnet_graph *g, char *a, char *b, size_t size) {
    clnet_context *ctx = open_with_table(missing_table(), NULL);
    clnet_net *net;
    TEST_OK(clnet_net_create(ctx, g, NULL, &net));
    snprintf(a, size, "%s", kernel_of(net, "conv_a"));
    snprintf(b, size, "%s", kernel_of(net, "conv_b"));
    clnet_net_destroy(net);
    clnet_context_destroy(ctx);
}

static void tuned_algorithm_replaces_the_default_rule(void **state) {
    (void)state;
    clnet_graph *g = two_conv_graph();
    char default_a[64], default_b[64];
    default_kernels(g, default_a, default_b, sizeof default_a);

    /* Im2col for conv_a, whose default (Winograd on this device) differs;
     * should the rule ever pick im2col, direct is the non-default. */
    clnet_conv_algo forced =
        kernel_runs(default_a, CLNET_CONV_IM2COL_GEMM) ? CLNET_CONV_DIRECT : CLNET_CONV_IM2COL_GEMM;
    char entry[512];
    const clnet_conv_geometry *ga = &g->nodes[node_of(g, "conv_a")].geom.conv;
    entry_json(ga, clnet_conv_algo_name(forced), ", \"batch\": 8", entry, sizeof entry);
    const char *path = test_scratch_path("im2col-for-conv_a.json");
    write_table(path, test_context(), entry);

    clnet_context *ctx = open_with_table(path, NULL);
    clnet_conv_algo algo = CLNET_CONV_AUTO;
    assert_int_equal(clnet_tuning_conv_algo(ctx, ga, &algo), 1);
    assert_int_equal(algo, forced);
    clnet_net_options options = clnet_net_options_default();
    options.poison_activations = 1;
    clnet_net *net;
    TEST_OK(clnet_net_create(ctx, g, &options, &net));
    const char *kernel_a = kernel_of(net, "conv_a");
    if (!kernel_runs(kernel_a, forced))
        fail_msg("conv_a runs %s, the table says %s (default %s)", kernel_a,
                 clnet_conv_algo_name(forced), default_a);
    assert_string_equal(kernel_of(net, "conv_b"), default_b); /* not in the table */
    check_net(net, g, 1, 21);
    check_net(net, g, 3, 22);
    clnet_net_destroy(net);

    /* A forced algorithm still wins over the table. */
    options.conv_algo = CLNET_CONV_WINOGRAD_2X2;
    TEST_OK(clnet_net_create(ctx, g, &options, &net));
    assert_true(kernel_runs(kernel_of(net, "conv_a"), CLNET_CONV_WINOGRAD_2X2));
    clnet_net_destroy(net);

    clnet_context_destroy(ctx);
    clnet_graph_destroy(g);
}

static void tuned_algorithm_that_cannot_run_the_shape_is_ignored(void **state) {
    (void)state;
    clnet_graph *g = two_conv_graph();
    char default_a[64], default_b[64];
    default_kernels(g, default_a, default_b, sizeof default_a);

    /* gemm1x1 cannot run conv_a's 3x3 kernel; conv_b's entry is valid. */
    clnet_conv_algo forced_b =
        kernel_runs(default_b, CLNET_CONV_DIRECT) ? CLNET_CONV_WINOGRAD_2X2 : CLNET_CONV_DIRECT;
    const clnet_conv_geometry *ga = &g->nodes[node_of(g, "conv_a")].geom.conv;
    const clnet_conv_geometry *gb = &g->nodes[node_of(g, "conv_b")].geom.conv;
    char entries[1040], first[512], second[512];
    entry_json(ga, "gemm1x1", "", first, sizeof first);
    entry_json(gb, clnet_conv_algo_name(forced_b), "", second, sizeof second);
    snprintf(entries, sizeof entries, "%s, %s", first, second);
    const char *path = test_scratch_path("gemm1x1-for-3x3.json");
    write_table(path, test_context(), entries);

    char *log = NULL;
    clnet_context *ctx = open_with_table(path, &log);
    if (!strstr(log, path) || !strstr(log, "cannot run"))
        fail_msg("the dropped entry was not reported: %s", log);
    free(log);
    assert_int_equal(clnet_tuning_entry_count(ctx), 1);
    clnet_conv_algo algo;
    assert_int_equal(clnet_tuning_conv_algo(ctx, ga, &algo), 0);
    assert_int_equal(clnet_tuning_conv_algo(ctx, gb, &algo), 1);

    clnet_net_options options = clnet_net_options_default();
    options.poison_activations = 1;
    clnet_net *net;
    TEST_OK(clnet_net_create(ctx, g, &options, &net));
    assert_string_equal(kernel_of(net, "conv_a"), default_a);
    assert_true(kernel_runs(kernel_of(net, "conv_b"), forced_b));
    check_net(net, g, 2, 31);
    clnet_net_destroy(net);
    clnet_context_destroy(ctx);
    clnet_graph_destroy(g);
}

/* ------------------------------------------------------------------------ */
/* Step labels                                                              */

static void step_nodes_follow_labels_even_with_plus_in_names(void **state) {
    (void)state;
    /* conv "a+b" -> batchnorm "c" -> ReLU "d+e" -> batchnorm "p+q" -> ReLU
     * "r" -> conv "s": the first three run as one step, and the last
     * three as another where the algorithm takes a prologue. */
    clnet_graph *g;
    clnet_tensor x;
    clnet_layer *conv1, *bn1, *relu1, *bn2, *relu2, *conv2;
    TEST_OK(clnet_graph_create(&g));
    TEST_OK(clnet_graph_input(g, "in", 3, 9, 10, &x));
    clnet_conv2d_desc d = clnet_conv2d_defaults(4, 3);
    TEST_OK(clnet_layer_conv2d(g, "a+b", &d, &conv1));
    TEST_OK(clnet_layer_batchnorm(g, "c", 1e-3f, &bn1));
    TEST_OK(clnet_layer_activation(g, "d+e", CLNET_ACT_RELU, &relu1));
    TEST_OK(clnet_layer_batchnorm(g, "p+q", 1e-3f, &bn2));
    TEST_OK(clnet_layer_activation(g, "r", CLNET_ACT_RELU, &relu2));
    TEST_OK(clnet_layer_conv2d(g, "s", &d, &conv2));
    TEST_OK(clnet_layer_call1(conv1, x, &x));
    TEST_OK(clnet_layer_call1(bn1, x, &x));
    TEST_OK(clnet_layer_call1(relu1, x, &x));
    TEST_OK(clnet_layer_call1(bn2, x, &x));
    TEST_OK(clnet_layer_call1(relu2, x, &x));
    TEST_OK(clnet_layer_call1(conv2, x, &x));
    TEST_OK(clnet_graph_set_outputs(g, &x, 1));
    TEST_OK(clnet_graph_init_weights(g, 5));

    clnet_context *ctx = test_context();
    clnet_net_options options = clnet_net_options_default();
    options.conv_algo = CLNET_CONV_IM2COL_GEMM;
    clnet_net *net;
    TEST_OK(clnet_net_create(ctx, g, &options, &net));
    int found_first = 0;
    for (int i = 0; i < clnet_net_step_count(net); i++) {
        clnet_step_info si;
        TEST_OK(clnet_net_step_info(net, i, &si));
        int nodes[16];
        int n = clnet_tuning_step_nodes(g, si.label, si.node, nodes, 16);
        if (n == 0)
            fail_msg("step %d (%s) matched no nodes", i, si.label);
        /* The names joined by '+' give the label back, and each node reads
         * the one before it. */
        char joined[256] = "";
        for (int k = 0; k < n; k++) {
            const char *name = g->nodes[nodes[k]].layer->name;
            size_t used = strlen(joined);
            snprintf(joined + used, sizeof joined - used, "%s%s", k ? "+" : "", name);
            if (k > 0) {
                const clnet_node *node = &g->nodes[nodes[k]];
                int reads = 0;
                for (int j = 0; j < node->n_inputs; j++)
                    reads |= node->inputs[j] == nodes[k - 1];
                assert_true(reads);
            }
        }
        assert_string_equal(joined, si.label);
        if (g->nodes[nodes[0]].op == CLNET_OP_CONV2D &&
            strcmp(g->nodes[nodes[0]].layer->name, "a+b") == 0) {
            assert_int_equal(n, 3);
            assert_int_equal(nodes[1], node_of(g, "c"));
            assert_int_equal(nodes[2], node_of(g, "d+e"));
            found_first = 1;
        }
        /* Too little room, or a label of other nodes: nothing. */
        assert_int_equal(
            clnet_tuning_step_nodes(g, si.label, si.node, nodes, n - 1 > 0 ? n - 1 : 0), 0);
        assert_int_equal(clnet_tuning_step_nodes(g, "x+y", si.node, nodes, 16), 0);
    }
    assert_true(found_first);
    int nodes[4];
    assert_int_equal(clnet_tuning_step_nodes(g, "s", -1, nodes, 4), 0);
    assert_int_equal(clnet_tuning_step_nodes(g, "s", g->n_nodes, nodes, 4), 0);
    assert_int_equal(clnet_tuning_step_nodes(g, NULL, 0, nodes, 4), 0);
    clnet_net_destroy(net);
    clnet_graph_destroy(g);
}

/* ------------------------------------------------------------------------ */
/* The tuner                                                                */

/* conv1 (3x3, 6 -> 6) + batchnorm + ReLU, conv2 of the same shape +
 * batchnorm, a residual add with ReLU, conv3 (1x1, 6 -> 4) and conv4 (3x3
 * stride 2, 4 -> 5): four convolutions, three shapes. */
static clnet_graph *residual_graph(void) {
    clnet_graph *g;
    clnet_tensor x, y, skip;
    clnet_layer *c1, *c2, *c3, *c4, *bn1, *bn2, *relu1, *relu2, *add;
    TEST_OK(clnet_graph_create(&g));
    TEST_OK(clnet_graph_input(g, "image", 6, 10, 9, &x));
    clnet_conv2d_desc d = clnet_conv2d_defaults(6, 3);
    TEST_OK(clnet_layer_conv2d(g, "conv1", &d, &c1));
    TEST_OK(clnet_layer_conv2d(g, "conv2", &d, &c2));
    d = clnet_conv2d_defaults(4, 1);
    TEST_OK(clnet_layer_conv2d(g, "conv3", &d, &c3));
    d = clnet_conv2d_defaults(5, 3);
    d.stride_h = d.stride_w = 2;
    TEST_OK(clnet_layer_conv2d(g, "conv4", &d, &c4));
    TEST_OK(clnet_layer_batchnorm(g, "bn1", 1e-3f, &bn1));
    TEST_OK(clnet_layer_batchnorm(g, "bn2", 1e-3f, &bn2));
    TEST_OK(clnet_layer_activation(g, "relu1", CLNET_ACT_RELU, &relu1));
    TEST_OK(clnet_layer_activation(g, "relu2", CLNET_ACT_RELU, &relu2));
    TEST_OK(clnet_layer_add(g, "add", &add));
    TEST_OK(clnet_layer_call1(c1, x, &y));
    TEST_OK(clnet_layer_call1(bn1, y, &y));
    TEST_OK(clnet_layer_call1(relu1, y, &skip));
    TEST_OK(clnet_layer_call1(c2, skip, &y));
    TEST_OK(clnet_layer_call1(bn2, y, &y));
    clnet_tensor pair[2] = {skip, y};
    TEST_OK(clnet_layer_call(add, pair, 2, &y));
    TEST_OK(clnet_layer_call1(relu2, y, &y));
    TEST_OK(clnet_layer_call1(c3, y, &y));
    TEST_OK(clnet_layer_call1(c4, y, &y));
    TEST_OK(clnet_graph_set_outputs(g, &y, 1));
    TEST_OK(clnet_graph_init_weights(g, 7));
    test_rng rng = {8};
    test_randomize_non_kernels(g, &rng);
    return g;
}

static void tune_graph_enters_every_convolution_shape(void **state) {
    (void)state;
    clnet_graph *g = residual_graph();
    const char *path = test_scratch_path("tuned.json");
    clnet_context *ctx = open_with_table(path, NULL); /* no file yet; no profiling */
    assert_int_equal(clnet_tuning_entry_count(ctx), 0);

    clnet_tune_report report;
    TEST_OK(clnet_tune_graph(ctx, g, 2, 2, &report));
    assert_int_equal(ctx->profiling, 0); /* the profiling queue was only borrowed */
    assert_int_equal(report.n_layers, 4);
    assert_int_equal(report.n_shapes, 3);
    assert_true(report.n_candidates >= 2);
    assert_true(report.seconds > 0);
    assert_int_equal(clnet_tuning_entry_count(ctx), 3);
    const char *names[4] = {"conv1", "conv2", "conv3", "conv4"};
    for (int l = 0; l < 4; l++) {
        const clnet_tune_layer *layer = &report.layers[l];
        const clnet_conv_geometry *geom = &g->nodes[layer->node].geom.conv;
        assert_string_equal(layer->name, names[l]);
        assert_int_equal(layer->node, node_of(g, names[l]));
        assert_int_equal(layer->shape.in_c, geom->in_c);
        assert_int_equal(layer->shape.out_w, geom->out_w);
        assert_true(layer->chosen != CLNET_CONV_AUTO && layer->fastest != CLNET_CONV_AUTO);
        assert_true(layer->ms[layer->chosen] >= 0 && layer->ms[layer->fastest] >= 0);
        assert_true(layer->ms[CLNET_CONV_AUTO] == -1);
        assert_true(layer->ms[CLNET_CONV_DIRECT] >= 0 && layer->ms[CLNET_CONV_IM2COL_GEMM] >= 0);
        int pointwise = l == 2, winograd = l < 2;
        assert_int_equal(layer->ms[CLNET_CONV_GEMM_1X1] >= 0, pointwise);
        assert_int_equal(layer->ms[CLNET_CONV_WINOGRAD_2X2] >= 0, winograd);
        assert_int_equal(layer->ms[CLNET_CONV_WINOGRAD_4X4] >= 0, winograd);
        clnet_conv_algo algo;
        assert_int_equal(clnet_tuning_conv_algo(ctx, geom, &algo), 1);
        assert_int_equal(algo, layer->chosen);
    }
    assert_int_equal(report.layers[0].chosen, report.layers[1].chosen); /* one shape */

    /* Nets created now use the choices, and still compute the same. */
    clnet_net_options options = clnet_net_options_default();
    options.poison_activations = 1;
    clnet_net *net;
    TEST_OK(clnet_net_create(ctx, g, &options, &net));
    for (int s = 0; s < clnet_net_step_count(net); s++) {
        clnet_step_info si;
        TEST_OK(clnet_net_step_info(net, s, &si));
        int nodes[16], n = clnet_tuning_step_nodes(g, si.label, si.node, nodes, 16);
        for (int k = 0; k < n; k++)
            for (int l = 0; l < 4; l++)
                if (nodes[k] == report.layers[l].node &&
                    !kernel_runs(si.kernel, report.layers[l].chosen))
                    fail_msg("%s runs %s, tuned %s", names[l], si.kernel,
                             clnet_conv_algo_name(report.layers[l].chosen));
    }
    check_net(net, g, 2, 41);
    clnet_net_destroy(net);

    /* Saved to the device's file, it is what the next context loads. */
    TEST_OK(clnet_tuning_save(ctx, NULL));
    clnet_context *next = open_with_table(path, NULL);
    assert_int_equal(clnet_tuning_entry_count(next), 3);
    clnet_context_destroy(next);

    /* Tuning again merges: the shapes are replaced, not added. */
    clnet_tune_report again;
    TEST_OK(clnet_tune_graph(ctx, g, 1, 1, &again));
    assert_int_equal(clnet_tuning_entry_count(ctx), 3);
    clnet_tune_report_free(&again);
    assert_null(again.layers);

    clnet_tune_report_free(&report);
    clnet_context_destroy(ctx);
    clnet_graph_destroy(g);
}

/* A table file for ctx's device with `gemm` (the text of a JSON value) as
 * its "gemm" section and no entries. */
static void write_gemm_table(const char *path, const clnet_context *ctx, const char *gemm) {
    write_table_with_member(path, ctx, "gemm", gemm);
}

/* The GEMM half of tuning: with every convolution planned as im2col and a
 * GEMM, each distinct GEMM call of the net is timed in every candidate and
 * entered; nets using any candidate compute the same; the section survives
 * saving and loading; calls find the entry of their shape at the nearest
 * batch, and only of their shape and prologue. */
static void tune_gemms_enters_every_gemm_call(void **state) {
    (void)state;
    clnet_graph *g = residual_graph();
    assert_int_equal(setenv("CLNET_TUNING_FILE", missing_table(), 1), 0);
    test_context();
    clnet_context_options opts = {1};
    clnet_context *ctx = NULL;
    TEST_OK(clnet_context_create(NULL, &opts, &ctx));
    double ms[CLNET_CONV_ALGO_COUNT];
    for (int a = 0; a < CLNET_CONV_ALGO_COUNT; a++)
        ms[a] = -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == CLNET_OP_CONV2D)
            TEST_OK(clnet_tuning_put(ctx, &g->nodes[i].geom.conv, CLNET_CONV_IM2COL_GEMM, 2, ms));

    clnet_shape in_shape, out_shape;
    TEST_OK(clnet_tensor_shape(g, clnet_graph_input_at(g, 0), &in_shape));
    TEST_OK(clnet_tensor_shape(g, clnet_graph_output_at(g, 0), &out_shape));
    test_rng rng = {77};
    float *in = test_alloc(2 * clnet_shape_size(in_shape));
    test_fill_uniform(&rng, in, 2 * clnet_shape_size(in_shape), -1.0f, 1.0f);
    float *out = test_alloc(2 * clnet_shape_size(out_shape));
    const float *ins[1] = {in};
    float *outs[1] = {out};
    clnet_tune_report report;
    memset(&report, 0, sizeof report);
    TEST_OK(clnet_tune_gemms(ctx, g, 2, 3, ins, outs, &report));

    /* conv1 and conv2 share M = 6, N = 90, K = 54; conv3 is 4 x 90 x 6;
     * conv4 (stride 2) is 5 x 25 x 36 where im2col runs a GEMM for it (on
     * CPUs a stride-2 kernel of its own serves both). */
    const int expect[3][3] = {{6, 90, 54}, {4, 90, 6}, {5, 25, 36}};
    const int calls = report.n_gemms;
    assert_true(calls == 2 || calls == 3);
    assert_int_equal(clnet_tuning_gemm_count(ctx), calls);
    const char *native =
        clnet_gemm_native_kernel(ctx) == CLNET_GEMM_KERNEL_BLOCK ? "gemm_block" : "gemm_tiled";
    for (int i = 0; i < calls; i++) {
        const clnet_tuning_gemm_entry *e = &report.gemms[i];
        assert_string_equal(e->kernel, native);
        assert_int_equal(e->m, expect[i][0]);
        assert_int_equal(e->n, expect[i][1]);
        assert_int_equal(e->k, expect[i][2]);
        assert_int_equal(e->batch, 2);
        assert_int_equal(e->prologue, 0);
        assert_true(e->ms >= 0 && e->ms <= e->default_ms); /* the default is a candidate */
        clnet_gemm_config c;
        assert_true(clnet_gemm_config_parse(e->config, &c));
        assert_true(clnet_gemm_config_is_candidate(ctx, &c));
        clnet_tuning_gemm_entry t;
        TEST_OK(clnet_tuning_gemm_entry_at(ctx, i, &t));
        assert_string_equal(t.config, e->config);
        assert_int_equal(t.is_default, e->is_default);
    }

    /* Whatever candidate the table names, nets compute the same. */
    clnet_gemm_config cands[16];
    int n = clnet_gemm_candidates(ctx, clnet_gemm_native_kernel(ctx), cands, 16);
    for (int c = 0; c < n && c < 16; c++) {
        for (int i = 0; i < calls; i++) {
            clnet_gemm_key key = {clnet_gemm_native_kernel(ctx), expect[i][0], expect[i][1],
                                  expect[i][2], 2, 0};
            TEST_OK(clnet_tuning_put_gemm(ctx, &key, &cands[c], 1.0, 2.0));
            clnet_gemm_config got;
            assert_true(clnet_tuning_gemm_config(ctx, &key, &got));
            assert_memory_equal(got.p, cands[c].p, sizeof got.p);
            key.batch = 9; /* the nearest batch tuned */
            assert_true(clnet_tuning_gemm_config(ctx, &key, &got));
            key.prologue = 1; /* another variant of the kernel: not tuned */
            assert_false(clnet_tuning_gemm_config(ctx, &key, &got));
        }
        assert_int_equal(clnet_tuning_gemm_count(ctx), calls);
        clnet_net *net;
        TEST_OK(clnet_net_create(ctx, g, NULL, &net));
        check_net(net, g, 2, 50 + (uint64_t)c);
        clnet_net_destroy(net);
    }

    /* Saved and loaded: the same section. */
    const char *path = test_scratch_path("tuned-gemm.json");
    TEST_OK(clnet_tuning_save(ctx, path));
    clnet_context *again = open_with_table(path, NULL);
    assert_int_equal(clnet_tuning_gemm_count(again), calls);
    assert_int_equal(clnet_tuning_entry_count(again), 3);
    for (int i = 0; i < calls; i++) {
        clnet_tuning_gemm_entry a, b;
        TEST_OK(clnet_tuning_gemm_entry_at(ctx, i, &a));
        TEST_OK(clnet_tuning_gemm_entry_at(again, i, &b));
        assert_string_equal(a.kernel, b.kernel);
        assert_string_equal(a.config, b.config);
        assert_true(a.m == b.m && a.n == b.n && a.k == b.k && a.batch == b.batch);
        assert_true(b.ms == 1.0 && b.default_ms == 2.0);
    }
    clnet_tuning_gemm_entry none;
    TEST_FAILS(CLNET_STATUS_NOT_FOUND, "GEMM", clnet_tuning_gemm_entry_at(again, calls, &none));
    clnet_context_destroy(again);

    clnet_tune_report_free(&report);
    assert_null(report.gemms);
    free(out);
    free(in);
    clnet_context_destroy(ctx);
    clnet_graph_destroy(g);
}

/* A malformed "gemm" section makes the file malformed, with a message
 * naming the problem; an entry naming a configuration the device's kernel
 * does not offer is dropped with a warning, the rest kept. */
static void malformed_gemm_sections_are_refused(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    const char *path = test_scratch_path("gemm-section.json");
    char good_config[64];
    clnet_gemm_config def;
    assert_int_equal(clnet_gemm_candidates(ctx, clnet_gemm_native_kernel(ctx), &def, 1) > 0, 1);
    clnet_gemm_config_text(&def, good_config, sizeof good_config);
    const char *kernel =
        clnet_gemm_native_kernel(ctx) == CLNET_GEMM_KERNEL_BLOCK ? "gemm_block" : "gemm_tiled";
    const char *other =
        clnet_gemm_native_kernel(ctx) == CLNET_GEMM_KERNEL_BLOCK ? "gemm_tiled" : "gemm_block";
    const char *other_config = clnet_gemm_native_kernel(ctx) == CLNET_GEMM_KERNEL_BLOCK
                                   ? "tiled 64x64x16/4x4"
                                   : "block 8x6x2/4";
    char text[1024];
    struct {
        const char *fmt, *why;
    } bad[] = {
        {"{}", "not an array"},
        {"[3]", "not an object"},
        {"[{\"kernel\": \"gemm_fast\", \"m\": 4, \"n\": 4, \"k\": 4, \"batch\": 1, "
         "\"prologue\": 0, \"config\": \"%s\"}]",
         "\"kernel\""},
        {"[{\"kernel\": \"%s\", \"m\": 0, \"n\": 4, \"k\": 4, \"batch\": 1, "
         "\"prologue\": 0, \"config\": \"%s\"}]",
         "\"m\""},
        {"[{\"kernel\": \"%s\", \"m\": 4, \"n\": 4, \"k\": 4, \"batch\": 1, "
         "\"prologue\": 3, \"config\": \"%s\"}]",
         "\"prologue\""},
        {"[{\"kernel\": \"%s\", \"m\": 4, \"n\": 4, \"k\": 4.5, \"batch\": 1, "
         "\"prologue\": 0, \"config\": \"%s\"}]",
         "\"k\""},
        {"[{\"kernel\": \"%s\", \"m\": 4, \"n\": 4, \"k\": 4, \"batch\": 1, "
         "\"prologue\": 0, \"config\": \"fast\"}]",
         "\"config\""},
        {"[{\"kernel\": \"%s\", \"m\": 4, \"n\": 4, \"k\": 4, \"batch\": 1, "
         "\"prologue\": 0, \"config\": \"%s\", \"ms\": -1}]",
         "\"ms\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (i == 2)
            snprintf(text, sizeof text, bad[i].fmt, good_config);
        else if (i >= 3 && i != 6)
            snprintf(text, sizeof text, bad[i].fmt, kernel, good_config);
        else if (i == 6)
            snprintf(text, sizeof text, bad[i].fmt, kernel);
        else
            snprintf(text, sizeof text, "%s", bad[i].fmt);
        write_gemm_table(path, ctx, text);
        TEST_FAILS(CLNET_STATUS_FORMAT_ERROR, bad[i].why, clnet_tuning_load(ctx, path));
        assert_int_equal(clnet_tuning_gemm_count(ctx), 0);
    }
    /* A kernel's config of the other kind: malformed too. */
    snprintf(text, sizeof text,
             "[{\"kernel\": \"%s\", \"m\": 4, \"n\": 4, \"k\": 4, \"batch\": 1, "
             "\"prologue\": 0, \"config\": \"%s\"}]",
             kernel, other_config);
    write_gemm_table(path, ctx, text);
    TEST_FAILS(CLNET_STATUS_FORMAT_ERROR, "\"config\"", clnet_tuning_load(ctx, path));

    /* Well formed, but not a candidate here (the other kind of device's
     * kernel, an odd blocking): dropped with a warning. */
    snprintf(text, sizeof text,
             "[{\"kernel\": \"%s\", \"m\": 4, \"n\": 4, \"k\": 4, \"batch\": 1, "
             "\"prologue\": 0, \"config\": \"%s\"},"
             " {\"kernel\": \"%s\", \"m\": 4, \"n\": 4, \"k\": 4, \"batch\": 1, "
             "\"prologue\": 0, \"config\": \"%s\"},"
             " {\"kernel\": \"gemm_block\", \"m\": 5, \"n\": 4, \"k\": 4, \"batch\": 1, "
             "\"prologue\": 2, \"config\": \"block 8x7x2/4\"}]",
             kernel, good_config, other, other_config);
    write_gemm_table(path, ctx, text);
    char *log = NULL;
    clnet_context *loaded = open_with_table(path, &log);
    assert_int_equal(clnet_tuning_gemm_count(loaded), 1);
    assert_non_null(strstr(log, "ignoring 2 GEMM entries"));
    free(log);
    clnet_context_destroy(loaded);
    clnet_tuning_clear(ctx);
}

static void tuning_calls_reject_bad_arguments(void **state) {
    (void)state;
    clnet_context *ctx = open_with_table(missing_table(), NULL);
    clnet_graph *g = two_conv_graph();
    clnet_tune_report report;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "NULL", clnet_tune_graph(NULL, g, 1, 1, &report));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "NULL", clnet_tune_graph(ctx, NULL, 1, 1, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "batch", clnet_tune_graph(ctx, g, 0, 1, &report));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "repeats", clnet_tune_graph(ctx, g, 1, 0, NULL));
    assert_int_equal(report.n_layers, 0);
    assert_null(report.layers);

    clnet_tuning_entry e;
    TEST_FAILS(CLNET_STATUS_NOT_FOUND, "no entry", clnet_tuning_entry_at(ctx, 0, &e));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_tuning_entry_at(ctx, 0, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_tuning_load(ctx, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_tuning_load(ctx, ""));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_tuning_load(NULL, missing_table()));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_tuning_save(NULL, missing_table()));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_tuning_save(ctx, ""));
    char small[8];
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "fit",
               clnet_tuning_default_path(ctx, small, sizeof small));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_tuning_default_path(ctx, small, 0));
    assert_int_equal(clnet_tuning_entry_count(NULL), 0);
    assert_string_equal(clnet_tuning_source(NULL), "");
    clnet_tuning_clear(NULL);
    clnet_tune_report_free(NULL);
    clnet_conv_algo algo;
    assert_int_equal(clnet_tuning_conv_algo(NULL, &g->nodes[1].geom.conv, &algo), 0);

    /* Saving where a file blocks the folder, or onto a folder, fails with
     * the path in the message. */
    const char *file = test_scratch_path("plain-file");
    test_write_file(file, "x", 1);
    char blocked[700];
    snprintf(blocked, sizeof blocked, "%s/table.json", file);
    TEST_FAILS(CLNET_STATUS_IO_ERROR, blocked, clnet_tuning_save(ctx, blocked));
    const char *folder = test_scratch_path("folder-table.json");
    assert_int_equal(mkdir(folder, 0755), 0);
    TEST_FAILS(CLNET_STATUS_IO_ERROR, folder, clnet_tuning_save(ctx, folder));

    /* A graph without convolutions has nothing to tune. */
    clnet_graph *plain;
    clnet_tensor x;
    clnet_layer *pool;
    TEST_OK(clnet_graph_create(&plain));
    TEST_OK(clnet_graph_input(plain, NULL, 3, 4, 4, &x));
    TEST_OK(clnet_layer_global_avgpool(plain, NULL, &pool));
    TEST_OK(clnet_layer_call1(pool, x, &x));
    TEST_OK(clnet_graph_set_outputs(plain, &x, 1));
    TEST_OK(clnet_tune_graph(ctx, plain, 2, 1, &report));
    assert_int_equal(report.n_layers, 0);
    assert_int_equal(clnet_tuning_entry_count(ctx), 0);
    clnet_tune_report_free(&report);

    clnet_graph_destroy(plain);
    clnet_graph_destroy(g);
    clnet_context_destroy(ctx);
}

/* ------------------------------------------------------------------------ */

static int setup(void **state) {
    (void)state;
    if (test_scratch_create("tuning") != 0)
        return -1;
    /* Never the user's table, for the shared context too; and loading on,
     * whatever the environment of the test run says. */
    unsetenv("CLNET_TUNING");
    return setenv("CLNET_TUNING_FILE", test_scratch_path("no-such-table.json"), 1);
}

static int teardown(void **state) {
    (void)state;
    test_scratch_remove();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_round_trips_through_save_and_load),
        cmocka_unit_test(default_file_lives_in_the_cache_folder),
        cmocka_unit_test(table_of_another_device_driver_platform_or_version_is_ignored),
        cmocka_unit_test(malformed_tables_are_ignored_with_a_message),
        cmocka_unit_test(clblast_parameters_in_the_table_reach_clblast),
        cmocka_unit_test(missing_table_is_silent_and_tuning_can_be_turned_off),
        cmocka_unit_test(tuned_algorithm_replaces_the_default_rule),
        cmocka_unit_test(tuned_algorithm_that_cannot_run_the_shape_is_ignored),
        cmocka_unit_test(step_nodes_follow_labels_even_with_plus_in_names),
        cmocka_unit_test(tune_graph_enters_every_convolution_shape),
        cmocka_unit_test(tune_gemms_enters_every_gemm_call),
        cmocka_unit_test(malformed_gemm_sections_are_refused),
        cmocka_unit_test(tuning_calls_reject_bad_arguments),
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    test_context_release();
    return failed;
}
