/* Shared test helpers; see test_util.h. */
#define _POSIX_C_SOURCE 200809L
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static clnet_context *shared_context;
static int context_failed;

static int device_required(void) {
    const char *v = getenv("CLNET_REQUIRE_DEVICE");
    return v && strcmp(v, "0") != 0 && v[0] != '\0';
}

clnet_context *test_context(void) {
    if (shared_context)
        return shared_context;
    if (!context_failed) {
        clnet_status s = clnet_context_create(NULL, NULL, &shared_context);
        if (s != CLNET_STATUS_OK) {
            context_failed = 1;
            print_error("no OpenCL device: %s\n", clnet_last_error());
        }
    }
    if (!shared_context) {
        if (device_required())
            fail_msg("CLNET_REQUIRE_DEVICE is set but no OpenCL device could be opened");
        skip();
    }
    return shared_context;
}

void test_context_release(void) {
    clnet_context_destroy(shared_context);
    shared_context = NULL;
}

uint64_t test_rng_next(test_rng *rng) {
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

float test_rng_uniform(test_rng *rng, float lo, float hi) {
    double u = (double)(test_rng_next(rng) >> 11) / 9007199254740992.0;
    return (float)(lo + (hi - lo) * u);
}

void test_fill_uniform(test_rng *rng, float *data, size_t count, float lo, float hi) {
    for (size_t i = 0; i < count; i++)
        data[i] = test_rng_uniform(rng, lo, hi);
}

float *test_alloc(size_t count) {
    float *p = malloc((count ? count : 1) * sizeof *p);
    assert_non_null(p);
    return p;
}

float *test_alloc_poisoned(size_t count) {
    float *p = test_alloc(count);
    for (size_t i = 0; i < count; i++)
        p[i] = TEST_POISON;
    return p;
}

double test_max_relative_error(const float *expected, const float *got, size_t count) {
    double scale = 0, worst = 0;
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(got[i]))
            return INFINITY;
        double e = fabs((double)expected[i]);
        if (e > scale)
            scale = e;
    }
    if (scale < 1e-30)
        scale = 1;
    for (size_t i = 0; i < count; i++) {
        double d = fabs((double)got[i] - (double)expected[i]) / scale;
        if (d > worst)
            worst = d;
    }
    return worst;
}

void test_assert_close(const char *what, const float *expected, const float *got, size_t count,
                       double tolerance) {
    double err = test_max_relative_error(expected, got, count);
    if (err <= tolerance)
        return;
    double scale = 0;
    for (size_t i = 0; i < count; i++)
        if (fabs(expected[i]) > scale)
            scale = fabs(expected[i]);
    if (scale < 1e-30)
        scale = 1;
    print_error("%s: max relative error %g exceeds %g over %zu elements\n", what, err, tolerance,
                count);
    int shown = 0;
    for (size_t i = 0; i < count && shown < 8; i++) {
        double d = fabs((double)got[i] - (double)expected[i]) / scale;
        if (!isfinite(got[i]) || d > tolerance) {
            print_error("  [%zu] expected %.9g got %.9g\n", i, expected[i], got[i]);
            shown++;
        }
    }
    fail_msg("%s does not match the reference", what);
}

void test_check_ok(clnet_status status, const char *expr, const char *file, int line) {
    if (status != CLNET_STATUS_OK)
        fail_msg("%s:%d: %s returned %s: %s", file, line, expr, clnet_status_string(status),
                 clnet_last_error());
}

void test_check_fails(clnet_status expected, const char *needle, clnet_status got,
                      const char *expr, const char *file, int line) {
    if (got != expected)
        fail_msg("%s:%d: %s returned %s, expected %s (message: %s)", file, line, expr,
                 clnet_status_string(got), clnet_status_string(expected), clnet_last_error());
    const char *msg = clnet_last_error();
    if (msg[0] == '\0')
        fail_msg("%s:%d: %s failed without a message", file, line, expr);
    if (needle && !strstr(msg, needle))
        fail_msg("%s:%d: message of %s lacks \"%s\": %s", file, line, expr, needle, msg);
}

void test_remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[4096];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            struct stat st;
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
                test_remove_dir(path);
            else
                remove(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

static char scratch_dir[256];

int test_scratch_create(const char *name) {
    snprintf(scratch_dir, sizeof scratch_dir, "/tmp/clnet-%s-XXXXXX", name);
    return mkdtemp(scratch_dir) ? 0 : -1;
}

void test_scratch_remove(void) {
    if (scratch_dir[0])
        test_remove_dir(scratch_dir);
}

const char *test_scratch_dir(void) {
    return scratch_dir;
}

const char *test_scratch_path(const char *name) {
    static char path[4][600];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", scratch_dir, name);
    return p;
}

uint8_t *test_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    uint8_t *data = malloc((size_t)n + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return data;
}

void test_write_file(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot create %s: %s", path, strerror(errno));
    if (size)
        assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

/* Reads count floats from path; exact: the file must end there too. */
static float *read_floats(const char *path, size_t count, int exact) {
    size_t size;
    uint8_t *bytes = test_read_file(path, &size);
    if (exact ? size != count * sizeof(float) : size < count * sizeof(float))
        fail_msg("%s holds %zu bytes, not %s %zu floats", path, size,
                 exact ? "exactly" : "at least", count);
    float *values = test_alloc(count);
    memcpy(values, bytes, count * sizeof(float));
    free(bytes);
    return values;
}

float *test_read_floats(const char *path, size_t count) {
    return read_floats(path, count, 1);
}

float *test_read_leading_floats(const char *path, size_t count) {
    return read_floats(path, count, 0);
}

void test_run_on_device(const clnet_graph *g, const clnet_net_options *o, int n,
                        const float *const *inputs, float *const *outputs) {
    clnet_net *net = NULL;
    TEST_OK(clnet_net_create(test_context(), g, o, &net));
    TEST_OK(clnet_net_run(net, n, inputs, outputs));
    clnet_net_destroy(net);
}

void test_cifar_load(int n, const clnet_preprocess *p, test_cifar *b) {
    const char *path = test_shared_data("cifar10/test_batch.bin");
    if (!path)
        skip();
    TEST_OK(clnet_cifar_read(path, n, &b->pixels, &b->labels, &b->n));
    assert_int_equal(b->n, n);
    b->x = test_alloc((size_t)n * 3 * 32 * 32);
    TEST_OK(clnet_preprocess_images(p, b->pixels, n, 3, 32, 32, b->x));
}

void test_cifar_free(test_cifar *b) {
    free(b->pixels);
    free(b->labels);
    free(b->x);
}

clnet_preprocess test_preprocess_mean_std(const float mean[3], const float std[3]) {
    clnet_preprocess p = clnet_preprocess_defaults();
    p.has_mean_std = 1;
    memcpy(p.mean, mean, sizeof p.mean);
    memcpy(p.std, std, sizeof p.std);
    return p;
}

const char *test_shared_data(const char *relative) {
    static char path[4096];
    const char *root = getenv("CLNET_SHARED_DATA");
#ifdef CLNET_SHARED_DATA
    if (!root)
        root = CLNET_SHARED_DATA;
#endif
    if (!root)
        return NULL;
    snprintf(path, sizeof path, "%s/%s", root, relative);
    return access(path, R_OK) == 0 ? path : NULL;
}

const char *test_data_path(const char *relative) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/data/%s", CLNET_TESTS_DIR, relative);
    return path;
}

cl_mem test_upload(clnet_context *ctx, const float *data, size_t count) {
    cl_mem buf;
    TEST_OK(clnet_buffer_create(ctx, count * sizeof(float), "test input", &buf));
    TEST_OK(clnet_buffer_write(ctx, buf, 0, count * sizeof(float), data));
    return buf;
}

cl_mem test_poisoned_buffer(clnet_context *ctx, size_t count) {
    cl_mem buf;
    TEST_OK(clnet_buffer_create(ctx, count * sizeof(float), "test output", &buf));
    TEST_OK(clnet_buffer_fill(ctx, buf, 0, count * sizeof(float), TEST_POISON));
    return buf;
}

float *test_download(clnet_context *ctx, cl_mem buf, size_t count) {
    float *host = test_alloc(count);
    TEST_OK(clnet_buffer_read(ctx, buf, 0, count * sizeof(float), host));
    return host;
}

void test_randomize_non_kernels(clnet_graph *g, test_rng *rng) {
    for (int l = 0; l < clnet_graph_layer_count(g); l++) {
        clnet_layer *layer = clnet_graph_layer_at(g, l);
        for (int w = 0; w < clnet_layer_weight_count(layer); w++) {
            clnet_weight_info info;
            TEST_OK(clnet_layer_weight(layer, w, &info));
            if (!strcmp(info.name, "kernel"))
                continue;
            int positive = !strcmp(info.name, "gamma") || !strcmp(info.name, "moving_variance");
            test_fill_uniform(rng, info.data, info.count, positive ? 0.6f : -0.2f,
                              positive ? 1.4f : 0.2f);
        }
    }
}
