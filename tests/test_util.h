/* Helpers shared by the cmocka tests: device access that honours CLNET_REQUIRE_DEVICE, seeded
 * random data, float comparison, scratch folders and files, and the shared CIFAR-10 images. */
#ifndef CLNET_TEST_UTIL_H
#define CLNET_TEST_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clnet.h"
#include "context.h"

/* The value output buffers are poisoned with before a run: NaN, so that an
 * element a kernel never wrote fails every comparison. */
#define TEST_POISON NAN

/* Opens the default device (or CLNET_DEVICE) once per process and returns
 * it. Without an OpenCL device the calling test is skipped, unless
 * CLNET_REQUIRE_DEVICE=1, in which case it fails. */
clnet_context *test_context(void);
/* Releases the context opened by test_context (call at the end of main). */
void test_context_release(void);

/* A small deterministic generator (splitmix64) for test data. */
typedef struct test_rng {
    uint64_t state;
} test_rng;
uint64_t test_rng_next(test_rng *rng);
/* Uniform in [lo, hi). */
float test_rng_uniform(test_rng *rng, float lo, float hi);
/* Fills with uniform values in [lo, hi); never all zeros. */
void test_fill_uniform(test_rng *rng, float *data, size_t count, float lo, float hi);

/* Keeps a graph's kernels as initialised (scaled to their fan-in, so that
 * deep networks neither explode nor vanish) and draws everything else from
 * rng: biases in [-0.2, 0.2], and batch-norm statistics away from the
 * identity (gamma and variance in [0.6, 1.4], beta and mean in [-0.2, 0.2]),
 * as trained networks have them. */
void test_randomize_non_kernels(clnet_graph *g, test_rng *rng);

/* Allocates count floats (test fails on out-of-memory). */
float *test_alloc(size_t count);
/* Allocates count floats, every one set to TEST_POISON. */
float *test_alloc_poisoned(size_t count);

/* Largest |got - expected| divided by the largest |expected| (or 1 if that
 * is below 1e-30); +inf if any got is NaN or infinite. */
double test_max_relative_error(const float *expected, const float *got, size_t count);

/* Fails the test, printing the first mismatches (index, expected, got), if
 * test_max_relative_error exceeds tolerance. what names the comparison. */
void test_assert_close(const char *what, const float *expected, const float *got, size_t count,
                       double tolerance);

/* Asserts a clnet call succeeded, printing clnet_last_error() otherwise. */
#define TEST_OK(expr) test_check_ok((expr), #expr, __FILE__, __LINE__)
void test_check_ok(clnet_status status, const char *expr, const char *file, int line);

/* Asserts a clnet call failed with `expected`, with a non-empty message
 * containing `needle` (if not NULL). */
#define TEST_FAILS(expected, needle, expr)                                                      \
    test_check_fails((expected), (needle), (expr), #expr, __FILE__, __LINE__)
void test_check_fails(clnet_status expected, const char *needle, clnet_status got,
                      const char *expr, const char *file, int line);

/* Removes folder dir with everything in it (subfolders too); a missing folder is no error. */
void test_remove_dir(const char *dir);

/* One scratch folder per test program for the files its tests write. test_scratch_create
 * makes a fresh /tmp/clnet-<name>-XXXXXX and returns 0, or -1 if it cannot (the shape of a
 * cmocka group setup's result); test_scratch_remove deletes it with everything in it. */
int test_scratch_create(const char *name);
void test_scratch_remove(void);
/* The scratch folder made by test_scratch_create. */
const char *test_scratch_dir(void);
/* Path of a file in the scratch folder: four static buffers used in turn, so that up to four
 * paths can be held at once. */
const char *test_scratch_path(const char *name);

/* The whole of a file, with one spare byte allocated past its end; the test fails if it
 * cannot be read. Free with free(). */
uint8_t *test_read_file(const char *path, size_t *size);
/* Writes size bytes to path, replacing the file; the test fails on any error. */
void test_write_file(const char *path, const void *data, size_t size);
/* A raw float32 file that must hold exactly count floats (the test fails otherwise). */
float *test_read_floats(const char *path, size_t count);
/* The first count floats of a raw float32 file that may hold more (reference logits of a whole
 * test set); the test fails if it holds fewer. */
float *test_read_leading_floats(const char *path, size_t count);

/* Builds a net for g on test_context() with options o (NULL: the defaults), runs a batch of n
 * on it, and destroys it. */
void test_run_on_device(const clnet_graph *g, const clnet_net_options *o, int n,
                        const float *const *inputs, float *const *outputs);

/* The first images of the shared CIFAR-10 test batch (cifar10/test_batch.bin): pixels and
 * labels as read, and x, the n images prepared for a network. */
typedef struct test_cifar {
    uint8_t *pixels, *labels;
    float *x;
    int n;
} test_cifar;
/* Reads the first n images and prepares them with p; skips the test when the shared data is
 * absent. */
void test_cifar_load(int n, const clnet_preprocess *p, test_cifar *b);
void test_cifar_free(test_cifar *b);
/* The preprocessing that scales pixels to [0, 1], then normalises each channel with mean and
 * std (RGB). */
clnet_preprocess test_preprocess_mean_std(const float mean[3], const float std[3]);

/* Path of a file under the shared data folder; NULL if it does not exist
 * (tests then skip). The path lives in a static buffer that the next call
 * overwrites: copy it to keep two at once. */
const char *test_shared_data(const char *relative);

/* Device buffers for kernel tests: one holding count floats of data, one
 * of count floats poisoned with TEST_POISON, and a host copy of a buffer's
 * first count floats (free() it). */
cl_mem test_upload(clnet_context *ctx, const float *data, size_t count);
cl_mem test_poisoned_buffer(clnet_context *ctx, size_t count);
float *test_download(clnet_context *ctx, cl_mem buf, size_t count);

/* Path of a file under the repository's tests/data folder (a static
 * buffer, like test_shared_data). */
const char *test_data_path(const char *relative);

#endif
