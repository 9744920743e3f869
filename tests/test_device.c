/* Tests of device listing and selection, the context's program cache,
 * buffers, launches and events, and the OpenCL error names. */
#define _POSIX_C_SOURCE 200809L /* setenv, popen, readlink */
#include "test_util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cl_sources.h"
#include "context.h"

/* A kernel of the test's own, so that launches are tested whatever cl/ holds. */
static const char *const axpy_source =
    "kernel void axpy(global float *y, global const float *x, float a, int n) {\n"
    "    int i = get_global_id(0);\n"
    "    if (i < n)\n"
    "        y[i] = a * x[i] + y[i];\n"
    "}\n";

static const char *const broken_source =
    "kernel void broken(global float *y) {\n"
    "    y[0] = clnet_undeclared_identifier;\n"
    "}\n";

static void list_devices(clnet_device_info **list, size_t *count) {
    test_context(); /* skips the test when there is no device */
    TEST_OK(clnet_device_list(list, count));
    assert_non_null(*list);
    assert_true(*count >= 1);
}

static int same_device(const clnet_device_info *a, const clnet_device_info *b) {
    return a->platform_index == b->platform_index && a->device_index == b->device_index;
}

static long first_of_type(const clnet_device_info *list, size_t count, clnet_device_type type) {
    for (size_t i = 0; i < count; i++)
        if (list[i].type == type)
            return (long)i;
    return -1;
}

static int contains_ignoring_case(const char *haystack, const char *needle) {
    size_t n = strlen(needle);
    for (; *haystack; haystack++) {
        size_t i = 0;
        while (i < n && haystack[i] &&
               tolower((unsigned char)haystack[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Error names                                                              */

static void cl_error_names_cover_opencl_1_2(void **state) {
    (void)state;
    assert_string_equal(clnet_cl_error_name(CL_SUCCESS), "CL_SUCCESS");
    assert_string_equal(clnet_cl_error_name(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
    assert_string_equal(clnet_cl_error_name(CL_INVALID_KERNEL_ARGS), "CL_INVALID_KERNEL_ARGS");
    assert_string_equal(clnet_cl_error_name(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
    assert_string_equal(clnet_cl_error_name(12345), "unknown OpenCL error");
    /* Every code of OpenCL 1.2: 0 to -19 and -30 to -68. */
    for (cl_int code = 0; code >= -68; code--) {
        if (code < -19 && code > -30)
            continue;
        const char *name = clnet_cl_error_name(code);
        if (strncmp(name, "CL_", 3) != 0)
            fail_msg("OpenCL error %d has no name (got \"%s\")", code, name);
    }
}

/* ------------------------------------------------------------------------ */
/* Listing and selection                                                    */

static void device_list_describes_every_device(void **state) {
    (void)state;
    clnet_device_info *list;
    size_t count;
    list_devices(&list, &count);
    for (size_t i = 0; i < count; i++) {
        const clnet_device_info *d = &list[i];
        assert_true(d->name[0] != '\0');
        assert_true(d->platform_name[0] != '\0');
        assert_true(strncmp(d->device_version, "OpenCL ", 7) == 0);
        assert_true(d->compute_units > 0);
        assert_true(d->max_alloc_bytes > 0);
        assert_true(d->global_mem_bytes >= d->max_alloc_bytes);
        assert_true(d->max_work_group_size > 0);
        assert_true(d->type == CLNET_DEVICE_TYPE_CPU || d->type == CLNET_DEVICE_TYPE_GPU ||
                    d->type == CLNET_DEVICE_TYPE_ACCELERATOR ||
                    d->type == CLNET_DEVICE_TYPE_OTHER);
        assert_true(d->has_fp16 == 0 || d->has_fp16 == 1);
        assert_true(d->has_fp64 == 0 || d->has_fp64 == 1);
        assert_true(d->has_compiler == 0 || d->has_compiler == 1);
    }
    free(list);
}

static void device_list_rejects_null_outputs(void **state) {
    (void)state;
    size_t count;
    clnet_device_info *list;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_device_list(NULL, &count));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_device_list(&list, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_device_select("0:0", NULL));
}

static void device_select_by_index_type_and_name_agree(void **state) {
    (void)state;
    clnet_device_info *list;
    size_t count;
    list_devices(&list, &count);
    clnet_device_info got;

    TEST_OK(clnet_device_select("0:0", &got));
    assert_true(same_device(&got, &list[0]));
    assert_string_equal(got.name, list[0].name);

    long cpu = first_of_type(list, count, CLNET_DEVICE_TYPE_CPU);
    if (cpu >= 0) {
        TEST_OK(clnet_device_select("cpu", &got));
        assert_true(same_device(&got, &list[cpu]));
        TEST_OK(clnet_device_select("CPU", &got));
        assert_true(same_device(&got, &list[cpu]));
    }

    /* The longest alphanumeric word of the first name, in upper case. */
    char word[64] = "";
    for (const char *p = list[0].name; *p;) {
        size_t n = 0;
        while (isalnum((unsigned char)p[n]))
            n++;
        if (n > strlen(word) && n < sizeof word) {
            memcpy(word, p, n);
            word[n] = '\0';
        }
        p += n ? n : 1;
    }
    assert_true(word[0] != '\0');
    for (char *p = word; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    long expected = -1;
    for (size_t i = 0; i < count && expected < 0; i++)
        if (contains_ignoring_case(list[i].name, word))
            expected = (long)i;
    TEST_OK(clnet_device_select(word, &got));
    assert_true(same_device(&got, &list[expected]));

    free(list);
}

static void device_select_honours_clnet_device_variable(void **state) {
    (void)state;
    clnet_device_info *list;
    size_t count;
    list_devices(&list, &count);
    const char *before = getenv("CLNET_DEVICE");
    char *saved = before ? strdup(before) : NULL;

    /* The last device, which differs from the default on multi-device machines. */
    const clnet_device_info *last = &list[count - 1];
    char selector[32];
    snprintf(selector, sizeof selector, "%d:%d", last->platform_index, last->device_index);
    clnet_device_info got;
    assert_int_equal(setenv("CLNET_DEVICE", selector, 1), 0);
    clnet_status by_env = clnet_device_select(NULL, &got);

    assert_int_equal(setenv("CLNET_DEVICE", "nosuchdevice", 1), 0);
    clnet_status bad_env = clnet_device_select(NULL, &got);
    char bad_message[1024];
    snprintf(bad_message, sizeof bad_message, "%s", clnet_last_error());
    /* An explicit selector wins over the variable. */
    clnet_status explicit_selector = clnet_device_select("0:0", &got);

    assert_int_equal(setenv("CLNET_DEVICE", "", 1), 0);
    clnet_status empty_env = clnet_device_select(NULL, &got);

    if (saved)
        setenv("CLNET_DEVICE", saved, 1);
    else
        unsetenv("CLNET_DEVICE");
    free(saved);

    assert_int_equal(explicit_selector, CLNET_STATUS_OK);
    assert_int_equal(empty_env, CLNET_STATUS_OK);
    assert_int_equal(by_env, CLNET_STATUS_OK);
    assert_int_equal(bad_env, CLNET_STATUS_DEVICE_NOT_FOUND);
    assert_non_null(strstr(bad_message, "nosuchdevice"));
    assert_non_null(strstr(bad_message, "CLNET_DEVICE"));
    TEST_OK(clnet_device_select(selector, &got));
    assert_true(same_device(&got, last));
    free(list);
}

static void device_select_rejects_unknown_selectors_listing_devices(void **state) {
    (void)state;
    clnet_device_info *list;
    size_t count;
    list_devices(&list, &count);
    clnet_device_info got;

    TEST_FAILS(CLNET_STATUS_DEVICE_NOT_FOUND, "nosuchdevice",
               clnet_device_select("nosuchdevice", &got));
    assert_non_null(strstr(clnet_last_error(), "available: 0:0"));
    assert_non_null(strstr(clnet_last_error(), list[0].name));

    TEST_FAILS(CLNET_STATUS_DEVICE_NOT_FOUND, "7:3", clnet_device_select("7:3", &got));

    long gpu = first_of_type(list, count, CLNET_DEVICE_TYPE_GPU);
    if (gpu < 0) {
        TEST_FAILS(CLNET_STATUS_DEVICE_NOT_FOUND, "'gpu'", clnet_device_select("gpu", &got));
    } else {
        TEST_OK(clnet_device_select("gpu", &got));
        assert_true(same_device(&got, &list[gpu]));
    }
    free(list);
}

/* Run as a child process with an empty ICD vendor directory: the loader
 * then finds no platform. */
static int list_devices_child(void) {
    clnet_device_info *list = NULL;
    size_t count = 0;
    clnet_status status = clnet_device_list(&list, &count);
    printf("status=%d %s\n", (int)status, clnet_last_error());
    free(list);
    return 0;
}

static void device_list_without_platform_says_how_to_get_one(void **state) {
    (void)state;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || (size_t)n >= sizeof self - 1)
        skip();
    self[n] = '\0';
    if (strchr(self, '\''))
        skip();
    char command[4300];
    snprintf(command, sizeof command,
             "OCL_ICD_VENDORS=/nonexistent-clnet-icd-dir OCL_ICD_FILENAMES= '%s' "
             "--list-devices-child 2>/dev/null",
             self);
    FILE *child = popen(command, "r");
    assert_non_null(child);
    char output[2048] = "";
    size_t got = fread(output, 1, sizeof output - 1, child);
    output[got] = '\0';
    pclose(child);

    char expected[64];
    snprintf(expected, sizeof expected, "status=%d ", (int)CLNET_STATUS_DEVICE_NOT_FOUND);
    if (strncmp(output, expected, strlen(expected)) != 0 ||
        !strstr(output, "no OpenCL platform found (is an ICD"))
        fail_msg("listing without an ICD gave: %s", output);
}

/* ------------------------------------------------------------------------ */
/* Contexts and programs                                                    */

static void context_create_opens_selected_device(void **state) {
    (void)state;
    clnet_context *shared = test_context();
    clnet_context_options options = {.profiling = 1};
    clnet_context *ctx = NULL;
    TEST_OK(clnet_context_create("0:0", &options, &ctx));
    assert_non_null(ctx);
    const clnet_device_info *info = clnet_context_device(ctx);
    assert_non_null(info);
    assert_int_equal(info->platform_index, 0);
    assert_int_equal(info->device_index, 0);
    assert_int_equal(ctx->profiling, 1);
    assert_non_null(strstr(ctx->device_options, "-cl-std=CL1.2"));
    assert_null(strstr(ctx->device_options, "mad"));
    if (info->type == CLNET_DEVICE_TYPE_CPU)
        assert_non_null(strstr(ctx->device_options, "-DCLNET_DEVICE_CPU=1"));
    clnet_context_destroy(ctx);

    assert_non_null(clnet_context_device(shared));
    assert_null(clnet_context_device(NULL));
    clnet_context_destroy(NULL);
}

static void context_create_rejects_bad_arguments(void **state) {
    (void)state;
    test_context();
    clnet_context *ctx = (clnet_context *)&ctx; /* must be reset on failure */
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_context_create(NULL, NULL, NULL));
    TEST_FAILS(CLNET_STATUS_DEVICE_NOT_FOUND, "nosuchdevice",
               clnet_context_create("nosuchdevice", NULL, &ctx));
    assert_null(ctx);
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_context_build_all(NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_context_finish(NULL));
}

static void context_kernel_of_unknown_program_is_not_found(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    cl_kernel kernel;
    TEST_FAILS(CLNET_STATUS_NOT_FOUND, "no_such_program",
               clnet_context_kernel(ctx, "no_such_program", NULL, "k", &kernel));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL,
               clnet_context_kernel(ctx, NULL, NULL, "k", &kernel));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL,
               clnet_context_kernel(NULL, "x", NULL, "k", &kernel));
}

static void context_kernel_builds_embedded_program_once(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    if (clnet_cl_source_count == 0)
        skip(); /* no kernels embedded yet */
    const clnet_cl_source *source = &clnet_cl_sources[0];
    assert_ptr_equal(clnet_cl_source_find(source->name), source);

    /* The name of one of its kernels, from a build of our own. */
    cl_program program;
    TEST_OK(clnet_context_build_source(ctx, source->name, source->text, NULL, &program));
    char names[4096] = "";
    assert_int_equal(clGetProgramInfo(program, CL_PROGRAM_KERNEL_NAMES, sizeof names - 1, names,
                                      NULL),
                     CL_SUCCESS);
    clReleaseProgram(program);
    char *end = strchr(names, ';');
    if (end)
        *end = '\0';
    assert_true(names[0] != '\0');

    cl_kernel first, again;
    TEST_OK(clnet_context_kernel(ctx, source->name, NULL, names, &first));
    TEST_OK(clnet_context_kernel(ctx, source->name, "", names, &again));
    assert_ptr_equal(first, again);
    TEST_FAILS(CLNET_STATUS_NOT_FOUND, "no_such_kernel",
               clnet_context_kernel(ctx, source->name, NULL, "no_such_kernel", &again));
}

static void context_build_all_compiles_every_embedded_program(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    TEST_OK(clnet_context_build_all(ctx));
    assert_true(clnet_cl_source_count == 0 || ctx->programs != NULL);
    /* A second call finds everything in the cache. */
    TEST_OK(clnet_context_build_all(ctx));
}

static void build_failure_carries_compiler_log(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    cl_program program = (cl_program)1;
    TEST_FAILS(CLNET_STATUS_BUILD_FAILED, "clnet_undeclared_identifier",
               clnet_context_build_source(ctx, "broken_test", broken_source, "-DTILE=4",
                                          &program));
    assert_null(program);
    const char *msg = clnet_last_error();
    assert_non_null(strstr(msg, "'broken_test'"));
    assert_non_null(strstr(msg, "-DTILE=4"));
    assert_non_null(strstr(msg, "-cl-std=CL1.2"));
    assert_non_null(strstr(msg, "CL_BUILD_PROGRAM_FAILURE"));
}

static void device_without_compiler_needs_prebuilt_binaries(void **state) {
    (void)state;
    test_context();
    clnet_context *ctx;
    TEST_OK(clnet_context_create(NULL, NULL, &ctx));
    ctx->info.has_compiler = 0; /* pretend to be a binary-only device */
    cl_program program;
    cl_kernel kernel;
    clnet_status built = clnet_context_build_source(ctx, "axpy", axpy_source, NULL, &program);
    char message[512];
    snprintf(message, sizeof message, "%s", clnet_last_error());
    clnet_status kernel_status = CLNET_STATUS_UNSUPPORTED;
    if (clnet_cl_source_count > 0)
        kernel_status =
            clnet_context_kernel(ctx, clnet_cl_sources[0].name, NULL, "anything", &kernel);
    clnet_context_destroy(ctx);

    assert_int_equal(built, CLNET_STATUS_UNSUPPORTED);
    assert_non_null(strstr(message, "has no compiler"));
    assert_non_null(strstr(message, "CLNET_BINARY_DIR"));
    assert_int_equal(kernel_status, CLNET_STATUS_UNSUPPORTED);
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                  */

static void buffer_write_read_round_trips(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    enum { N = 1000 };
    float *src = test_alloc(N), *dst = test_alloc_poisoned(N);
    test_rng rng = {42};
    test_fill_uniform(&rng, src, N, -10, 10);

    cl_mem buffer;
    TEST_OK(clnet_buffer_create(ctx, N * sizeof(float), "round trip", &buffer));
    TEST_OK(clnet_buffer_write(ctx, buffer, 0, N * sizeof(float), src));
    TEST_OK(clnet_buffer_read(ctx, buffer, 0, N * sizeof(float), dst));
    assert_memory_equal(src, dst, N * sizeof(float));

    /* Partial transfers at an offset. */
    TEST_OK(clnet_buffer_write(ctx, buffer, 40, 8 * sizeof(float), src + 500));
    TEST_OK(clnet_buffer_read(ctx, buffer, 40, 8 * sizeof(float), dst));
    assert_memory_equal(src + 500, dst, 8 * sizeof(float));
    TEST_OK(clnet_buffer_read(ctx, buffer, 0, 0, NULL));

    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "outside",
               clnet_buffer_read(ctx, buffer, 4, N * sizeof(float), dst));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL,
               clnet_buffer_write(ctx, buffer, 0, 4, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_buffer_read(NULL, buffer, 0, 4, dst));

    /* Queued transfers keep their order in the queue: the read sees the
     * write before it, and the data is there once the queue is done. */
    float *back = test_alloc_poisoned(N);
    TEST_OK(clnet_buffer_write_queued(ctx, buffer, 0, N * sizeof(float), dst));
    TEST_OK(clnet_buffer_write_queued(ctx, buffer, 8, 100 * sizeof(float), src + 300));
    TEST_OK(clnet_buffer_read_queued(ctx, buffer, 0, N * sizeof(float), back));
    TEST_OK(clnet_context_finish(ctx));
    assert_memory_equal(back, dst, 2 * sizeof(float));
    assert_memory_equal(back + 2, src + 300, 100 * sizeof(float));
    assert_memory_equal(back + 102, dst + 102, (N - 102) * sizeof(float));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "outside",
               clnet_buffer_read_queued(ctx, buffer, 4, N * sizeof(float), back));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL,
               clnet_buffer_write_queued(ctx, buffer, 0, 4, NULL));
    free(back);
    clnet_buffer_release(buffer);
    clnet_buffer_release(NULL);

    /* An empty buffer still gives a handle. */
    TEST_OK(clnet_buffer_create(ctx, 0, "empty", &buffer));
    assert_non_null(buffer);
    clnet_buffer_release(buffer);
    free(src);
    free(dst);
}

static void buffer_fill_poisons_region_with_nan(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    enum { N = 64 };
    float src[N], dst[N];
    for (int i = 0; i < N; i++)
        src[i] = (float)i;
    cl_mem buffer;
    TEST_OK(clnet_buffer_create(ctx, sizeof src, "poisoned", &buffer));
    TEST_OK(clnet_buffer_write(ctx, buffer, 0, sizeof src, src));
    TEST_OK(clnet_buffer_fill(ctx, buffer, 16 * sizeof(float), 32 * sizeof(float), TEST_POISON));
    TEST_OK(clnet_buffer_read(ctx, buffer, 0, sizeof dst, dst));
    for (int i = 0; i < N; i++) {
        if (i >= 16 && i < 48) {
            if (!isnan(dst[i]))
                fail_msg("element %d is %g after the fill, expected NaN", i, dst[i]);
        } else if (dst[i] != src[i]) {
            fail_msg("element %d outside the fill changed from %g to %g", i, src[i], dst[i]);
        }
    }
    TEST_OK(clnet_buffer_fill(ctx, buffer, 0, sizeof src, 2.5f));
    TEST_OK(clnet_buffer_read(ctx, buffer, 0, sizeof dst, dst));
    for (int i = 0; i < N; i++)
        assert_true(dst[i] == 2.5f);
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "multiples",
               clnet_buffer_fill(ctx, buffer, 2, 8, 0.0f));
    clnet_buffer_release(buffer);
}

static void buffer_of_absurd_size_is_device_out_of_memory(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    cl_mem buffer = (cl_mem)1;
    TEST_FAILS(CLNET_STATUS_DEVICE_OUT_OF_MEMORY, "huge activations",
               clnet_buffer_create(ctx, (size_t)1 << 62, "huge activations", &buffer));
    assert_null(buffer);
    assert_non_null(strstr(clnet_last_error(), "4611686018427387904 bytes"));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL, clnet_buffer_create(ctx, 4, "x", NULL));
}

/* ------------------------------------------------------------------------ */
/* Launches and events                                                      */

/* y = a * x + y on n elements through clnet_launch; returns the status. */
static clnet_status run_axpy(clnet_context *ctx, cl_kernel kernel, int n, clnet_events *events,
                             float *y) {
    float *x = test_alloc((size_t)n);
    for (int i = 0; i < n; i++) {
        x[i] = (float)i;
        y[i] = 1.0f;
    }
    size_t bytes = (size_t)n * sizeof(float);
    cl_mem xb, yb;
    TEST_OK(clnet_buffer_create(ctx, bytes, "x", &xb));
    TEST_OK(clnet_buffer_create(ctx, bytes, "y", &yb));
    TEST_OK(clnet_buffer_write(ctx, xb, 0, bytes, x));
    TEST_OK(clnet_buffer_write(ctx, yb, 0, bytes, y));
    float a = 0.5f;
    clnet_kernel_arg args[] = {CLNET_ARG(yb), CLNET_ARG(xb), CLNET_ARG(a), CLNET_ARG(n)};
    size_t global = ((size_t)n + 63) / 64 * 64;
    clnet_status status = clnet_launch(ctx, kernel, "axpy", 4, args, 1, &global, NULL, events);
    if (status == CLNET_STATUS_OK)
        status = clnet_context_finish(ctx);
    if (status == CLNET_STATUS_OK)
        status = clnet_buffer_read(ctx, yb, 0, bytes, y);
    clnet_buffer_release(xb);
    clnet_buffer_release(yb);
    free(x);
    return status;
}

static void launch_runs_kernel_and_matches_host(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    cl_program program;
    TEST_OK(clnet_context_build_source(ctx, "axpy", axpy_source, NULL, &program));
    cl_int err;
    cl_kernel kernel = clCreateKernel(program, "axpy", &err);
    assert_int_equal(err, CL_SUCCESS);

    enum { N = 1000 };
    float y[N], expected[N];
    for (int i = 0; i < N; i++)
        expected[i] = 0.5f * (float)i + 1.0f;
    TEST_OK(run_axpy(ctx, kernel, N, NULL, y));
    test_assert_close("axpy", expected, y, N, 1e-6);

    clReleaseKernel(kernel);
    clReleaseProgram(program);
}

static void launch_with_wrong_argument_count_names_kernel(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    cl_program program;
    TEST_OK(clnet_context_build_source(ctx, "axpy", axpy_source, NULL, &program));
    cl_int err;
    cl_kernel kernel = clCreateKernel(program, "axpy", &err);
    assert_int_equal(err, CL_SUCCESS);

    cl_mem buffer;
    TEST_OK(clnet_buffer_create(ctx, 64, "y", &buffer));
    float a = 1;
    int n = 4;
    clnet_kernel_arg args[] = {CLNET_ARG(buffer), CLNET_ARG(buffer), CLNET_ARG(a), CLNET_ARG(n),
                               CLNET_ARG(n)};
    size_t global = 4;
    TEST_FAILS(CLNET_STATUS_DEVICE_ERROR, "axpy_test_kernel",
               clnet_launch(ctx, kernel, "axpy_test_kernel", 3, args, 1, &global, NULL, NULL));
    assert_non_null(strstr(clnet_last_error(), "4 arguments but 3"));
    TEST_FAILS(CLNET_STATUS_DEVICE_ERROR, "axpy_test_kernel",
               clnet_launch(ctx, kernel, "axpy_test_kernel", 5, args, 1, &global, NULL, NULL));

    /* An argument of the wrong size names its index. */
    clnet_kernel_arg bad_size[] = {CLNET_ARG(buffer), CLNET_ARG(buffer), CLNET_ARG(a),
                                   {1, &n}};
    TEST_FAILS(CLNET_STATUS_DEVICE_ERROR, "argument 3",
               clnet_launch(ctx, kernel, "axpy_test_kernel", 4, bad_size, 1, &global, NULL,
                            NULL));

    /* A local size that does not divide the global size names both. */
    clnet_kernel_arg good[] = {CLNET_ARG(buffer), CLNET_ARG(buffer), CLNET_ARG(a), CLNET_ARG(n)};
    size_t odd_global = 5, local = 2;
    TEST_FAILS(CLNET_STATUS_DEVICE_ERROR, "global size 5 and local size 2",
               clnet_launch(ctx, kernel, "axpy_test_kernel", 4, good, 1, &odd_global, &local,
                            NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL,
               clnet_launch(ctx, NULL, "axpy_test_kernel", 4, good, 1, &global, NULL, NULL));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL,
               clnet_launch(ctx, kernel, "axpy_test_kernel", 4, good, 0, &global, NULL, NULL));
    TEST_OK(clnet_context_finish(ctx));

    clnet_buffer_release(buffer);
    clReleaseKernel(kernel);
    clReleaseProgram(program);
}

static void events_time_launches_on_profiling_context(void **state) {
    (void)state;
    test_context();
    clnet_context_options options = {.profiling = 1};
    clnet_context *ctx;
    TEST_OK(clnet_context_create(NULL, &options, &ctx));
    cl_program program;
    TEST_OK(clnet_context_build_source(ctx, "axpy", axpy_source, NULL, &program));
    cl_int err;
    cl_kernel kernel = clCreateKernel(program, "axpy", &err);
    assert_int_equal(err, CL_SUCCESS);

    enum { N = 256 };
    float y[N];
    clnet_events events = {0};
    TEST_OK(run_axpy(ctx, kernel, N, &events, y));
    TEST_OK(run_axpy(ctx, kernel, N, &events, y));
    assert_int_equal(events.count, 2);
    assert_non_null(events.events[0]);
    double ms = clnet_events_ms(&events);
    assert_true(ms >= 0);

    /* A failed launch leaves no slot behind. */
    size_t odd_global = 5, local = 2;
    cl_mem buffer;
    TEST_OK(clnet_buffer_create(ctx, 64, "y", &buffer));
    float a = 1;
    int n = 4;
    clnet_kernel_arg args[] = {CLNET_ARG(buffer), CLNET_ARG(buffer), CLNET_ARG(a), CLNET_ARG(n)};
    TEST_FAILS(CLNET_STATUS_DEVICE_ERROR, NULL,
               clnet_launch(ctx, kernel, "axpy", 4, args, 1, &odd_global, &local, &events));
    assert_int_equal(events.count, 2);

    clnet_events_clear(&events);
    assert_int_equal(events.count, 0);
    assert_true(clnet_events_ms(&events) == 0);
    clnet_events_free(&events);
    assert_null(events.events);
    clnet_events_free(NULL);
    clnet_events_clear(NULL);

    cl_event *slot = (cl_event *)1;
    TEST_OK(clnet_events_slot(NULL, &slot));
    assert_null(slot);

    clnet_buffer_release(buffer);
    clReleaseKernel(kernel);
    clReleaseProgram(program);
    clnet_context_destroy(ctx);
}

static void events_without_profiling_report_no_time(void **state) {
    (void)state;
    clnet_context *ctx = test_context();
    if (ctx->profiling)
        skip();
    cl_program program;
    TEST_OK(clnet_context_build_source(ctx, "axpy", axpy_source, NULL, &program));
    cl_int err;
    cl_kernel kernel = clCreateKernel(program, "axpy", &err);
    assert_int_equal(err, CL_SUCCESS);
    enum { N = 64 };
    float y[N];
    clnet_events events = {0};
    TEST_OK(run_axpy(ctx, kernel, N, &events, y));
    assert_int_equal(events.count, 1);
    assert_true(clnet_events_ms(&events) < 0);
    clnet_events_free(&events);
    clReleaseKernel(kernel);
    clReleaseProgram(program);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--list-devices-child") == 0)
        return list_devices_child();

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cl_error_names_cover_opencl_1_2),
        cmocka_unit_test(device_list_without_platform_says_how_to_get_one),
        cmocka_unit_test(device_list_describes_every_device),
        cmocka_unit_test(device_list_rejects_null_outputs),
        cmocka_unit_test(device_select_by_index_type_and_name_agree),
        cmocka_unit_test(device_select_honours_clnet_device_variable),
        cmocka_unit_test(device_select_rejects_unknown_selectors_listing_devices),
        cmocka_unit_test(context_create_opens_selected_device),
        cmocka_unit_test(context_create_rejects_bad_arguments),
        cmocka_unit_test(context_kernel_of_unknown_program_is_not_found),
        cmocka_unit_test(context_kernel_builds_embedded_program_once),
        cmocka_unit_test(context_build_all_compiles_every_embedded_program),
        cmocka_unit_test(build_failure_carries_compiler_log),
        cmocka_unit_test(device_without_compiler_needs_prebuilt_binaries),
        cmocka_unit_test(buffer_write_read_round_trips),
        cmocka_unit_test(buffer_fill_poisons_region_with_nan),
        cmocka_unit_test(buffer_of_absurd_size_is_device_out_of_memory),
        cmocka_unit_test(launch_runs_kernel_and_matches_host),
        cmocka_unit_test(launch_with_wrong_argument_count_names_kernel),
        cmocka_unit_test(events_time_launches_on_profiling_context),
        cmocka_unit_test(events_without_profiling_report_no_time),
    };
    int failures = cmocka_run_group_tests(tests, NULL, NULL);
    test_context_release();
    return failures;
}
