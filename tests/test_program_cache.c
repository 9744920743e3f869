/* Program binaries on disk: the build cache (hits, corrupt entries rebuilt,
 * turned off) and binary-only contexts that never compile. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, setenv */
#include "test_util.h"

#include "tuning.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A small network whose run needs several programs. */
static clnet_graph *small_graph(void) {
    clnet_graph *g;
    clnet_tensor x, y;
    clnet_layer *conv, *pool, *flat, *dense;
    TEST_OK(clnet_graph_create(&g));
    TEST_OK(clnet_graph_input(g, NULL, 3, 9, 9, &x));
    clnet_conv2d_desc d = clnet_conv2d_defaults(5, 3);
    d.activation = CLNET_ACT_RELU;
    TEST_OK(clnet_layer_conv2d(g, NULL, &d, &conv));
    clnet_pool2d_desc p = clnet_pool2d_defaults(2);
    TEST_OK(clnet_layer_maxpool(g, NULL, &p, &pool));
    TEST_OK(clnet_layer_flatten(g, NULL, &flat));
    clnet_dense_desc dd = {4, 1, CLNET_ACT_LINEAR, CLNET_INIT_GLOROT_UNIFORM};
    TEST_OK(clnet_layer_dense(g, NULL, &dd, &dense));
    TEST_OK(clnet_layer_call1(conv, x, &y));
    TEST_OK(clnet_layer_call1(pool, y, &y));
    TEST_OK(clnet_layer_call1(flat, y, &y));
    TEST_OK(clnet_layer_call1(dense, y, &y));
    TEST_OK(clnet_graph_set_outputs(g, &y, 1));
    TEST_OK(clnet_graph_init_weights(g, 3));
    return g;
}

/* Runs g (one input, one output) at batch 2 on ctx on random images, and
 * checks it against the reference. */
static void run_checked(clnet_context *ctx, clnet_graph *g) {
    clnet_shape in_shape, out_shape;
    TEST_OK(clnet_tensor_shape(g, clnet_graph_input_at(g, 0), &in_shape));
    TEST_OK(clnet_tensor_shape(g, clnet_graph_output_at(g, 0), &out_shape));
    size_t n_in = 2 * clnet_shape_size(in_shape), n_out = 2 * clnet_shape_size(out_shape);
    float *in = test_alloc(n_in), *out = test_alloc_poisoned(n_out);
    float *ref = test_alloc_poisoned(n_out);
    test_rng rng = {5};
    test_fill_uniform(&rng, in, n_in, -1, 1);
    clnet_net *net;
    TEST_OK(clnet_net_create(ctx, g, NULL, &net));
    const float *ins[1] = {in};
    float *outs[1] = {out}, *refs[1] = {ref};
    TEST_OK(clnet_net_run(net, 2, ins, outs));
    TEST_OK(clnet_graph_run_reference(g, 2, ins, refs));
    test_assert_close("network", ref, out, n_out, 1e-5);
    clnet_net_destroy(net);
    free(ref);
    free(out);
    free(in);
}

/* Opens a context with the current environment, runs the small network on
 * it, checks the result, and returns the context's program counts. */
static void run_small(clnet_graph *g, int *compiled, int *from_disk, clnet_context **keep) {
    clnet_context *ctx;
    TEST_OK(clnet_context_create(NULL, NULL, &ctx));
    run_checked(ctx, g);
    clnet_context_program_counts(ctx, compiled, from_disk);
    if (keep)
        *keep = ctx;
    else
        clnet_context_destroy(ctx);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".bin"))
            n++;
    closedir(d);
    return n;
}

/* Flips one byte near the end of every entry, in the binary itself. */
static void corrupt_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    char path[4096];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strstr(e->d_name, ".bin"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r+b");
        assert_non_null(f);
        fseek(f, -10, SEEK_END);
        int c = fgetc(f);
        fseek(f, -10, SEEK_END);
        fputc(c ^ 0x5a, f);
        fclose(f);
    }
    closedir(d);
}

/* Makes dir (a mkdtemp template) a fresh folder and the cache folder of
 * the contexts opened next. */
static void use_fresh_cache(char *dir) {
    assert_non_null(mkdtemp(dir));
    setenv("CLNET_CACHE_DIR", dir, 1);
}

/* Whether the test device's driver is PoCL (see host/program_cache.c). */
static int device_is_pocl(void) {
    const clnet_device_info *d = clnet_context_device(test_context());
    return strstr(d->platform_name, "Portable Computing Language") != NULL ||
           strstr(d->device_version, "PoCL") != NULL;
}

static void second_context_loads_programs_from_the_cache(void **state) {
    (void)state;
    test_context();
    char dir[] = "/tmp/clnet-cache-test-XXXXXX";
    use_fresh_cache(dir);
    setenv("CLNET_CACHE", "1", 1); /* on PoCL too, where it is off by default */
    clnet_graph *g = small_graph();

    int compiled, from_disk;
    run_small(g, &compiled, &from_disk, NULL);
    assert_true(compiled > 0);
    assert_int_equal(from_disk, 0);
    int entries = count_entries(dir);
    assert_int_equal(entries, compiled);

    run_small(g, &compiled, &from_disk, NULL);
    assert_int_equal(compiled, 0);
    assert_int_equal(from_disk, entries);

    /* A corrupt entry is rebuilt, never trusted, and written anew. */
    corrupt_entries(dir);
    run_small(g, &compiled, &from_disk, NULL);
    assert_int_equal(compiled, entries);
    assert_int_equal(from_disk, 0);
    run_small(g, &compiled, &from_disk, NULL);
    assert_int_equal(compiled, 0);

    unsetenv("CLNET_CACHE");
    unsetenv("CLNET_CACHE_DIR");
    test_remove_dir(dir);
    clnet_graph_destroy(g);
}

/* Without CLNET_CACHE, the cache is on except on PoCL, which caches its
 * kernels itself and compiles every kernel of a program to hand out its
 * binary. */
static void cache_is_off_by_default_on_pocl_only(void **state) {
    (void)state;
    test_context();
    char dir[] = "/tmp/clnet-cache-test-XXXXXX";
    use_fresh_cache(dir);
    unsetenv("CLNET_CACHE");
    clnet_graph *g = small_graph();
    int compiled, from_disk;
    run_small(g, &compiled, &from_disk, NULL);
    assert_true(compiled > 0);
    int built = compiled;
    run_small(g, &compiled, &from_disk, NULL);
    if (device_is_pocl()) {
        assert_int_equal(count_entries(dir), 0);
        assert_int_equal(compiled, built);
        assert_int_equal(from_disk, 0);
    } else {
        assert_int_equal(count_entries(dir), built);
        assert_int_equal(compiled, 0);
        assert_int_equal(from_disk, built);
    }
    unsetenv("CLNET_CACHE_DIR");
    test_remove_dir(dir);
    clnet_graph_destroy(g);
}

static void cache_can_be_turned_off(void **state) {
    (void)state;
    test_context();
    char dir[] = "/tmp/clnet-cache-test-XXXXXX";
    use_fresh_cache(dir);
    setenv("CLNET_CACHE", "0", 1);
    clnet_graph *g = small_graph();
    int compiled, from_disk;
    run_small(g, &compiled, &from_disk, NULL);
    assert_true(compiled > 0);
    assert_int_equal(count_entries(dir), 0);
    unsetenv("CLNET_CACHE");
    unsetenv("CLNET_CACHE_DIR");
    test_remove_dir(dir);
    clnet_graph_destroy(g);
}

static void binary_only_context_runs_from_exported_programs(void **state) {
    (void)state;
    test_context();
    char cache[] = "/tmp/clnet-cache-test-XXXXXX", binaries[] = "/tmp/clnet-binaries-XXXXXX";
    assert_non_null(mkdtemp(cache));
    assert_non_null(mkdtemp(binaries));
    setenv("CLNET_CACHE_DIR", cache, 1);
    clnet_graph *g = small_graph();

    /* Without the binaries, a binary-only context refuses to compile. */
    setenv("CLNET_BINARY_DIR", binaries, 1);
    clnet_context *ctx;
    TEST_OK(clnet_context_create(NULL, NULL, &ctx));
    clnet_net *net;
    TEST_OK(clnet_net_create(ctx, g, NULL, &net));
    float in[3 * 81], out[4];
    const float *ins[1] = {in};
    float *outs[1] = {out};
    for (int i = 0; i < 3 * 81; i++)
        in[i] = (float)i / 100.0f;
    TEST_FAILS(CLNET_STATUS_NOT_FOUND, "clnet compile", clnet_net_run(net, 1, ins, outs));
    clnet_net_destroy(net);
    clnet_context_destroy(ctx);

    /* Export what a normal context built, then run without a compiler. */
    unsetenv("CLNET_BINARY_DIR");
    int compiled, from_disk, exported;
    clnet_context *builder;
    run_small(g, &compiled, &from_disk, &builder);
    int used = compiled + from_disk;
    TEST_OK(clnet_context_export_programs(builder, binaries, &exported));
    /* Every program the net used, and the Winograd variants it did not
     * happen to need. */
    assert_true(exported > used);
    clnet_context_destroy(builder);

    setenv("CLNET_BINARY_DIR", binaries, 1);
    run_small(g, &compiled, &from_disk, NULL);
    assert_int_equal(compiled, 0);
    assert_int_equal(from_disk, used);

    unsetenv("CLNET_BINARY_DIR");
    unsetenv("CLNET_CACHE_DIR");
    test_remove_dir(cache);
    test_remove_dir(binaries);
    clnet_graph_destroy(g);
}

/* A network whose 1x1 convolution runs as one GEMM of clnet's kernel:
 * M = 7 output channels, N = 81 pixels, K = 6 input channels. */
static clnet_graph *pointwise_graph(void) {
    clnet_graph *g;
    clnet_tensor x, y;
    clnet_layer *conv, *flat, *dense;
    TEST_OK(clnet_graph_create(&g));
    TEST_OK(clnet_graph_input(g, NULL, 6, 9, 9, &x));
    clnet_conv2d_desc d = clnet_conv2d_defaults(7, 1);
    d.activation = CLNET_ACT_RELU;
    TEST_OK(clnet_layer_conv2d(g, NULL, &d, &conv));
    TEST_OK(clnet_layer_flatten(g, NULL, &flat));
    clnet_dense_desc dd = {4, 1, CLNET_ACT_LINEAR, CLNET_INIT_GLOROT_UNIFORM};
    TEST_OK(clnet_layer_dense(g, NULL, &dd, &dense));
    TEST_OK(clnet_layer_call1(conv, x, &y));
    TEST_OK(clnet_layer_call1(flat, y, &y));
    TEST_OK(clnet_layer_call1(dense, y, &y));
    TEST_OK(clnet_graph_set_outputs(g, &y, 1));
    TEST_OK(clnet_graph_init_weights(g, 4));
    return g;
}

/* A tuning table that gives a GEMM shape a configuration other than the
 * default: the programs clnet_tuning_build_programs adds to an export let
 * a binary-only context with that table run, compiling nothing. */
static void binary_only_context_runs_tuned_gemm_configurations(void **state) {
    (void)state;
    test_context();
    char cache[] = "/tmp/clnet-cache-test-XXXXXX", binaries[] = "/tmp/clnet-binaries-XXXXXX";
    assert_non_null(mkdtemp(cache));
    assert_non_null(mkdtemp(binaries));
    setenv("CLNET_CACHE_DIR", cache, 1);
    char table[700];
    snprintf(table, sizeof table, "%s/tuning.json", cache);
    clnet_graph *g = pointwise_graph();

    /* The builder runs the network untuned, so that only the default GEMM
     * configuration is built by running; then it takes the table. */
    setenv("CLNET_TUNING", "0", 1);
    clnet_context *builder;
    TEST_OK(clnet_context_create(NULL, NULL, &builder));
    run_checked(builder, g);
    unsetenv("CLNET_TUNING");
    clnet_gemm_config configs[2];
    assert_true(clnet_gemm_candidates(builder, clnet_gemm_native_kernel(builder), configs, 2) >= 2);
    clnet_gemm_key key = {clnet_gemm_native_kernel(builder), 7, 81, 6, 2, 0};
    TEST_OK(clnet_tuning_put_gemm(builder, &key, &configs[1], 0.5, 1.0));
    TEST_OK(clnet_tuning_save(builder, table));
    TEST_OK(clnet_tuning_build_programs(builder));
    int exported;
    TEST_OK(clnet_context_export_programs(builder, binaries, &exported));
    clnet_context_destroy(builder);

    /* Binary-only, with the table: the tuned configuration is loaded from
     * the export, nothing is compiled, and the result is right. */
    setenv("CLNET_BINARY_DIR", binaries, 1);
    setenv("CLNET_TUNING_FILE", table, 1);
    clnet_context *ctx;
    TEST_OK(clnet_context_create(NULL, NULL, &ctx));
    assert_int_equal(clnet_tuning_gemm_count(ctx), 1);
    clnet_gemm_config chosen;
    assert_true(clnet_tuning_gemm_config(ctx, &key, &chosen));
    assert_memory_equal(chosen.p, configs[1].p, sizeof chosen.p);
    run_checked(ctx, g);
    int compiled, from_disk;
    clnet_context_program_counts(ctx, &compiled, &from_disk);
    assert_int_equal(compiled, 0);
    assert_true(from_disk >= 2);
    clnet_context_destroy(ctx);

    unsetenv("CLNET_TUNING_FILE");
    unsetenv("CLNET_BINARY_DIR");
    unsetenv("CLNET_CACHE_DIR");
    test_remove_dir(cache);
    test_remove_dir(binaries);
    clnet_graph_destroy(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(second_context_loads_programs_from_the_cache),
        cmocka_unit_test(cache_can_be_turned_off),
        cmocka_unit_test(cache_is_off_by_default_on_pocl_only),
        cmocka_unit_test(binary_only_context_runs_from_exported_programs),
        cmocka_unit_test(binary_only_context_runs_tuned_gemm_configurations),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    test_context_release();
    return failed;
}
