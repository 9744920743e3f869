/* Helpers shared by the cmocka tests: device access that honours
 * CLNET_REQUIRE_DEVICE, seeded random data, and float comparison. */
#ifndef CLNET_TEST_UTIL_H
#define CLNET_TEST_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clnet.h"

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

/* Path of a file under the shared data folder; NULL if it does not exist
 * (tests then skip). The path lives in a static buffer that the next call
 * overwrites: copy it to keep two at once. */
const char *test_shared_data(const char *relative);

/* Path of a file under the repository's tests/data folder (a static
 * buffer, like test_shared_data). */
const char *test_data_path(const char *relative);

#endif
