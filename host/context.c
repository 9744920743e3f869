/* An opened OpenCL device: context, in-order queue and a cache of built
 * programs, with checked wrappers of the buffer, launch and event calls. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "context.h"
#include "kernels.h"
#include "tuning.h"

#include "cl_sources.h"
#include "log.h"
#include "program_cache.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Room left for the build log in a failure message: the per-thread message
 * holds 8 KiB, and the sentence before the log takes up to a few hundred
 * bytes. The first lines of a log carry the first error, so the tail goes. */
#define BUILD_LOG_SHOWN 6144

typedef struct kernel_entry {
    char *name;
    cl_kernel kernel;
    struct kernel_entry *next;
} kernel_entry;

/* Limitation: the cache is a plain list without locking, so a context must
 * not be used from two threads at once. */
struct clnet_program_entry {
    char *name;    /* embedded source name */
    char *options; /* caller's options, without the device options */
    cl_program program;
    kernel_entry *kernels; /* created on first request */
    clnet_program_entry *next;
};

static char *copy_string(const char *text) {
    size_t n = strlen(text) + 1;
    char *copy = malloc(n);
    if (copy)
        memcpy(copy, text, n);
    return copy;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* Failures of enqueued work: the device ran out of memory for a buffer that
 * OpenCL allocates lazily, or something else went wrong. */
static clnet_status enqueue_status(cl_int err) {
    if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES)
        return CLNET_STATUS_DEVICE_OUT_OF_MEMORY;
    return CLNET_STATUS_DEVICE_ERROR;
}

/* ------------------------------------------------------------------------ */
/* Opening and closing                                                      */

/* The cl ids of a listed device. Indices are positions in the ICD loader's
 * order, which does not change within a process. */
static clnet_status find_device_ids(const clnet_device_info *info, cl_platform_id *platform,
                                    cl_device_id *device) {
    cl_uint n_platforms = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &n_platforms);
    if (err != CL_SUCCESS)
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR, "listing OpenCL platforms failed: %s",
                          clnet_cl_error_name(err));
    if ((cl_uint)info->platform_index >= n_platforms)
        return clnet_fail(CLNET_STATUS_DEVICE_NOT_FOUND,
                          "OpenCL platform %d of device %s is gone (%u platforms left)",
                          info->platform_index, info->name, n_platforms);
    cl_platform_id *platforms = calloc(n_platforms, sizeof *platforms);
    if (!platforms)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "opening device %s: out of memory",
                          info->name);
    err = clGetPlatformIDs(n_platforms, platforms, NULL);
    *platform = platforms[info->platform_index];
    free(platforms);
    if (err != CL_SUCCESS)
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR, "listing OpenCL platforms failed: %s",
                          clnet_cl_error_name(err));

    cl_uint n_devices = 0;
    err = clGetDeviceIDs(*platform, CL_DEVICE_TYPE_ALL, 0, NULL, &n_devices);
    if (err != CL_SUCCESS && err != CL_DEVICE_NOT_FOUND)
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR,
                          "listing the devices of OpenCL platform %d failed: %s",
                          info->platform_index, clnet_cl_error_name(err));
    if (err == CL_DEVICE_NOT_FOUND || (cl_uint)info->device_index >= n_devices)
        return clnet_fail(CLNET_STATUS_DEVICE_NOT_FOUND, "OpenCL device %d:%d (%s) is gone",
                          info->platform_index, info->device_index, info->name);
    cl_device_id *devices = calloc(n_devices, sizeof *devices);
    if (!devices)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "opening device %s: out of memory",
                          info->name);
    err = clGetDeviceIDs(*platform, CL_DEVICE_TYPE_ALL, n_devices, devices, NULL);
    *device = devices[info->device_index];
    free(devices);
    if (err != CL_SUCCESS)
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR,
                          "listing the devices of OpenCL platform %d failed: %s",
                          info->platform_index, clnet_cl_error_name(err));
    return CLNET_STATUS_OK;
}

/* Whether a version string such as "OpenCL 3.0 PoCL" is at least 1.2; an
 * unparsable one is given the benefit of the doubt. */
static int version_at_least_1_2(const char *version) {
    int major = 0, minor = 0;
    if (sscanf(version, "OpenCL %d.%d", &major, &minor) != 2)
        return 1;
    return major > 1 || (major == 1 && minor >= 2);
}

static void set_device_options(clnet_context *ctx) {
    /* No -cl-mad-enable or -cl-fast-relaxed-math: they change rounding, and
     * results are compared with a host reference. */
    const char *define = "";
    switch (ctx->info.type) {
    case CLNET_DEVICE_TYPE_CPU: define = " -DCLNET_DEVICE_CPU=1"; break;
    case CLNET_DEVICE_TYPE_GPU: define = " -DCLNET_DEVICE_GPU=1"; break;
    case CLNET_DEVICE_TYPE_ACCELERATOR: define = " -DCLNET_DEVICE_ACCELERATOR=1"; break;
    case CLNET_DEVICE_TYPE_OTHER: break;
    }
    snprintf(ctx->device_options, sizeof ctx->device_options, "-cl-std=CL1.2%s", define);
}

clnet_status clnet_context_create(const char *selector, const clnet_context_options *options,
                                  clnet_context **out) {
    if (!out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_context_create: out must not be NULL");
    *out = NULL;

    clnet_device_info info;
    CLNET_TRY(clnet_device_select(selector, &info));
    /* Limitation: OpenCL 1.1 devices are refused; the engine relies on
     * clEnqueueFillBuffer and OpenCL C 1.2. */
    if (!version_at_least_1_2(info.device_version))
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "device %s reports '%s'; clnet needs OpenCL 1.2 or later", info.name,
                          info.device_version);

    clnet_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "opening device %s: out of memory",
                          info.name);
    ctx->info = info;
    ctx->profiling = options ? options->profiling != 0 : 0;
    set_device_options(ctx);
    clnet_program_cache_configure(ctx);

    clnet_status status = find_device_ids(&info, &ctx->platform, &ctx->device);
    if (status != CLNET_STATUS_OK) {
        clnet_context_destroy(ctx);
        return status;
    }

    cl_int err;
    cl_context_properties properties[] = {CL_CONTEXT_PLATFORM,
                                          (cl_context_properties)ctx->platform, 0};
    ctx->cl = clCreateContext(properties, 1, &ctx->device, NULL, NULL, &err);
    if (!ctx->cl || err != CL_SUCCESS) {
        clnet_context_destroy(ctx);
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR, "creating an OpenCL context on %s failed: %s",
                          info.name, clnet_cl_error_name(err));
    }
    cl_command_queue_properties queue_properties =
        ctx->profiling ? CL_QUEUE_PROFILING_ENABLE : 0;
    ctx->queue = clCreateCommandQueue(ctx->cl, ctx->device, queue_properties, &err);
    if (!ctx->queue || err != CL_SUCCESS) {
        clnet_context_destroy(ctx);
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR,
                          "creating a command queue on %s (profiling %s) failed: %s", info.name,
                          queue_properties ? "on" : "off", clnet_cl_error_name(err));
    }

    /* The algorithms measured fastest on this device, if it was tuned. */
    clnet_tuning_open(ctx);

    clnet_log(CLNET_LOG_INFO, "context", "opened %d:%d %s (%s), build options '%s'%s",
              info.platform_index, info.device_index, info.name, info.device_version,
              ctx->device_options, ctx->profiling ? ", profiling" : "");
    *out = ctx;
    return CLNET_STATUS_OK;
}

static void free_program_entry(clnet_program_entry *entry) {
    for (kernel_entry *k = entry->kernels, *next; k; k = next) {
        next = k->next;
        clReleaseKernel(k->kernel);
        free(k->name);
        free(k);
    }
    if (entry->program)
        clReleaseProgram(entry->program);
    free(entry->name);
    free(entry->options);
    free(entry);
}

void clnet_context_destroy(clnet_context *ctx) {
    if (!ctx)
        return;
    /* Let queued work end before its kernels and buffers go away. */
    if (ctx->queue)
        clFinish(ctx->queue);
    for (clnet_program_entry *e = ctx->programs, *next; e; e = next) {
        next = e->next;
        free_program_entry(e);
    }
    clnet_tuning_free(ctx->tuning);
    if (ctx->queue)
        clReleaseCommandQueue(ctx->queue);
    if (ctx->cl)
        clReleaseContext(ctx->cl);
    free(ctx);
}

const clnet_device_info *clnet_context_device(const clnet_context *ctx) {
    return ctx ? &ctx->info : NULL;
}

clnet_status clnet_context_finish(clnet_context *ctx) {
    if (!ctx)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_context_finish: ctx must not be NULL");
    cl_int err = clFinish(ctx->queue);
    if (err != CL_SUCCESS)
        return clnet_fail(enqueue_status(err), "waiting for the queue of %s failed: %s",
                          ctx->info.name, clnet_cl_error_name(err));
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Programs and kernels                                                     */

/* "<CL error>\n<log>" failure of a build, with the log cut to fit. */
static clnet_status build_failure(clnet_context *ctx, const char *name, const char *options,
                                  cl_program program, cl_int err) {
    char *log = NULL;
    size_t size = 0;
    if (clGetProgramBuildInfo(program, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &size) ==
            CL_SUCCESS &&
        size > 0) {
        log = malloc(size + 1);
        if (log && clGetProgramBuildInfo(program, ctx->device, CL_PROGRAM_BUILD_LOG, size, log,
                                         NULL) == CL_SUCCESS) {
            log[size] = '\0';
        } else {
            free(log);
            log = NULL;
        }
    }

    /* Drop the trailing blank lines compilers like to end with. */
    size_t length = log ? strlen(log) : 0;
    while (length > 0 && (log[length - 1] == '\n' || log[length - 1] == ' ' ||
                          log[length - 1] == '\r' || log[length - 1] == '\t'))
        length--;
    const char *cut = "";
    if (length > BUILD_LOG_SHOWN) {
        length = BUILD_LOG_SHOWN;
        cut = "\n[build log truncated]";
    }

    const char *shown = log;
    if (length == 0) {
        shown = "(the compiler gave no build log)";
        length = strlen(shown);
    }
    clnet_status status =
        clnet_fail(CLNET_STATUS_BUILD_FAILED,
                   "building OpenCL program '%s' with options '%s' for %s failed: %s\n%.*s%s",
                   name, options, ctx->info.name, clnet_cl_error_name(err), (int)length, shown,
                   cut);
    free(log);
    return status;
}

clnet_status clnet_context_build_source(clnet_context *ctx, const char *name, const char *source,
                                        const char *options, cl_program *out) {
    if (!ctx || !name || !source || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_context_build_source: ctx, name, source and out must not be NULL");
    *out = NULL;

    size_t length = strlen(ctx->device_options) + 1 + (options ? strlen(options) : 0) + 1;
    char *full = malloc(length);
    if (!full)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "building OpenCL program '%s': out of memory",
                          name);
    snprintf(full, length, "%s%s%s", ctx->device_options, options && options[0] ? " " : "",
             options ? options : "");

    double start = now_ms();
    cl_program program = NULL;
    if (ctx->binary_dir[0] || !ctx->info.has_compiler) {
        int found = clnet_program_cache_load(ctx, ctx->binary_dir, name, source, full, &program);
        if (!found) {
            clnet_status status =
                clnet_fail(ctx->binary_dir[0] ? CLNET_STATUS_NOT_FOUND : CLNET_STATUS_UNSUPPORTED,
                           "program '%s' with options '%s' for %s: %s", name, full,
                           ctx->info.name,
                           ctx->binary_dir[0]
                               ? "no usable pre-built binary in CLNET_BINARY_DIR; write them "
                                 "with `clnet compile --out DIR` on the same device and driver"
                               : "the device has no compiler; set CLNET_BINARY_DIR to a folder "
                                 "written by `clnet compile --out DIR`");
            free(full);
            return status;
        }
        ctx->programs_from_disk++;
        clnet_log(CLNET_LOG_DEBUG, "context", "loaded pre-built program '%s' in %.1f ms", name,
                  now_ms() - start);
        free(full);
        *out = program;
        return CLNET_STATUS_OK;
    }
    if (clnet_program_cache_load(ctx, ctx->cache_dir, name, source, full, &program)) {
        ctx->programs_from_disk++;
        clnet_log(CLNET_LOG_DEBUG, "context", "loaded cached program '%s' in %.1f ms", name,
                  now_ms() - start);
        free(full);
        *out = program;
        return CLNET_STATUS_OK;
    }

    cl_int err;
    program = clCreateProgramWithSource(ctx->cl, 1, &source, NULL, &err);
    if (!program || err != CL_SUCCESS) {
        free(full);
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR,
                          "creating OpenCL program '%s' on %s failed: %s", name, ctx->info.name,
                          clnet_cl_error_name(err));
    }
    err = clBuildProgram(program, 1, &ctx->device, full, NULL, NULL);
    if (err != CL_SUCCESS) {
        clnet_status status = build_failure(ctx, name, full, program, err);
        clReleaseProgram(program);
        free(full);
        return status;
    }
    clnet_log(CLNET_LOG_DEBUG, "context", "built program '%s' with options '%s' in %.1f ms", name,
              full, now_ms() - start);
    ctx->programs_compiled++;
    /* The cache is an optimisation: failing to fill it only costs time. */
    if (clnet_program_cache_store(ctx, ctx->cache_dir, name, source, full, program) !=
        CLNET_STATUS_OK)
        clnet_log(CLNET_LOG_WARN, "cache", "%s", clnet_last_error());
    free(full);
    *out = program;
    return CLNET_STATUS_OK;
}

clnet_status clnet_context_export_programs(clnet_context *ctx, const char *dir, int *count) {
    if (!ctx || !dir || !dir[0])
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_context_export_programs: ctx and a folder are needed");
    /* Programs whose variants depend on what each layer fuses: build them
     * all, whichever networks this context happened to run (a context
     * without a compiler has what it has). */
    if (!ctx->binary_dir[0])
        CLNET_TRY(clnet_conv2d_winograd_build_variants(ctx));
    int n = 0;
    for (clnet_program_entry *e = ctx->programs; e; e = e->next) {
        const clnet_cl_source *source = clnet_cl_source_find(e->name);
        if (!source)
            continue;
        char full[1024];
        snprintf(full, sizeof full, "%s%s%s", ctx->device_options, e->options[0] ? " " : "",
                 e->options);
        CLNET_TRY(clnet_program_cache_store(ctx, dir, e->name, source->text, full, e->program));
        n++;
    }
    if (count)
        *count = n;
    return CLNET_STATUS_OK;
}

void clnet_context_program_counts(const clnet_context *ctx, int *compiled, int *from_disk) {
    if (compiled)
        *compiled = ctx ? ctx->programs_compiled : 0;
    if (from_disk)
        *from_disk = ctx ? ctx->programs_from_disk : 0;
}

/* The cache entry of (program, options), building the embedded source on
 * the first request. */
static clnet_status find_program(clnet_context *ctx, const char *name, const char *options,
                                 clnet_program_entry **out) {
    if (!options)
        options = "";
    for (clnet_program_entry *e = ctx->programs; e; e = e->next) {
        if (strcmp(e->name, name) == 0 && strcmp(e->options, options) == 0) {
            *out = e;
            return CLNET_STATUS_OK;
        }
    }

    const clnet_cl_source *source = clnet_cl_source_find(name);
    if (!source)
        return clnet_fail(CLNET_STATUS_NOT_FOUND,
                          "no embedded OpenCL program is named '%s' (%zu are embedded)", name,
                          clnet_cl_source_count);
    cl_program program;
    CLNET_TRY(clnet_context_build_source(ctx, name, source->text, options, &program));

    clnet_program_entry *entry = calloc(1, sizeof *entry);
    if (entry) {
        entry->name = copy_string(name);
        entry->options = copy_string(options);
    }
    if (!entry || !entry->name || !entry->options) {
        clReleaseProgram(program);
        if (entry)
            free_program_entry(entry);
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                          "keeping OpenCL program '%s' built: out of memory", name);
    }
    entry->program = program;
    entry->next = ctx->programs;
    ctx->programs = entry;
    *out = entry;
    return CLNET_STATUS_OK;
}

clnet_status clnet_context_kernel(clnet_context *ctx, const char *program, const char *options,
                                  const char *kernel_name, cl_kernel *out) {
    if (!ctx || !program || !kernel_name || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_context_kernel: ctx, program, kernel_name and out must not be "
                          "NULL");
    *out = NULL;
    clnet_program_entry *entry;
    CLNET_TRY(find_program(ctx, program, options, &entry));

    for (kernel_entry *k = entry->kernels; k; k = k->next) {
        if (strcmp(k->name, kernel_name) == 0) {
            *out = k->kernel;
            return CLNET_STATUS_OK;
        }
    }

    cl_int err;
    cl_kernel kernel = clCreateKernel(entry->program, kernel_name, &err);
    if (!kernel || err != CL_SUCCESS) {
        if (err == CL_INVALID_KERNEL_NAME)
            return clnet_fail(CLNET_STATUS_NOT_FOUND, "OpenCL program '%s' has no kernel '%s'",
                              program, kernel_name);
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR,
                          "creating kernel '%s' of OpenCL program '%s' failed: %s", kernel_name,
                          program, clnet_cl_error_name(err));
    }
    kernel_entry *k = calloc(1, sizeof *k);
    if (k)
        k->name = copy_string(kernel_name);
    if (!k || !k->name) {
        clReleaseKernel(kernel);
        free(k);
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "keeping kernel '%s': out of memory",
                          kernel_name);
    }
    k->kernel = kernel;
    k->next = entry->kernels;
    entry->kernels = k;
    *out = kernel;
    return CLNET_STATUS_OK;
}

clnet_status clnet_context_build_all(clnet_context *ctx) {
    if (!ctx)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_context_build_all: ctx must not be NULL");
    double start = now_ms();
    for (size_t i = 0; i < clnet_cl_source_count; i++) {
        clnet_program_entry *entry;
        CLNET_TRY(find_program(ctx, clnet_cl_sources[i].name, NULL, &entry));
    }
    clnet_log(CLNET_LOG_DEBUG, "context", "built %zu programs in %.1f ms", clnet_cl_source_count,
              now_ms() - start);
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                  */

clnet_status clnet_buffer_create(clnet_context *ctx, size_t bytes, const char *what, cl_mem *out) {
    if (!ctx || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_buffer_create: ctx and out must not be NULL");
    *out = NULL;
    if (!what)
        what = "buffer";
    /* OpenCL rejects empty buffers; an empty tensor still needs a handle. */
    if (bytes == 0)
        bytes = 1;
    if ((uint64_t)bytes > ctx->info.max_alloc_bytes)
        return clnet_fail(CLNET_STATUS_DEVICE_OUT_OF_MEMORY,
                          "allocating %s (%zu bytes) on %s: larger than the device's maximum "
                          "allocation of %" PRIu64 " bytes",
                          what, bytes, ctx->info.name, ctx->info.max_alloc_bytes);

    cl_int err;
    cl_mem buffer = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (!buffer || err != CL_SUCCESS) {
        clnet_status status = CLNET_STATUS_DEVICE_ERROR;
        if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES ||
            err == CL_OUT_OF_HOST_MEMORY || err == CL_INVALID_BUFFER_SIZE)
            status = CLNET_STATUS_DEVICE_OUT_OF_MEMORY;
        return clnet_fail(status,
                          "allocating %s (%zu bytes) on %s failed: %s (the device allows at "
                          "most %" PRIu64 " bytes per buffer)",
                          what, bytes, ctx->info.name, clnet_cl_error_name(err),
                          ctx->info.max_alloc_bytes);
    }
    *out = buffer;
    return CLNET_STATUS_OK;
}

void clnet_buffer_release(cl_mem buffer) {
    if (buffer)
        clReleaseMemObject(buffer);
}

/* Checks a transfer's region against the buffer, so that a bad offset is
 * reported with its numbers rather than as CL_INVALID_VALUE. */
static clnet_status check_region(const char *op, cl_mem buffer, size_t offset, size_t bytes) {
    size_t size = 0;
    cl_int err = clGetMemObjectInfo(buffer, CL_MEM_SIZE, sizeof size, &size, NULL);
    if (err != CL_SUCCESS)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: not a valid buffer (%s)", op,
                          clnet_cl_error_name(err));
    if (offset > size || bytes > size - offset)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: bytes %zu to %zu lie outside the buffer of %zu bytes", op, offset,
                          offset + bytes, size);
    return CLNET_STATUS_OK;
}

/* One transfer between the host and a buffer; blocking or merely queued. */
static clnet_status transfer(clnet_context *ctx, cl_mem buffer, size_t offset_bytes, size_t bytes,
                             void *host, int to_device, cl_bool blocking) {
    const char *what = to_device ? "writing" : "reading";
    if (!ctx || !buffer || (!host && bytes > 0))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s a buffer: ctx, buffer and the host memory must not be NULL", what);
    if (bytes == 0)
        return CLNET_STATUS_OK;
    CLNET_TRY(check_region(to_device ? "writing a buffer" : "reading a buffer", buffer,
                           offset_bytes, bytes));
    cl_int err = to_device ? clEnqueueWriteBuffer(ctx->queue, buffer, blocking, offset_bytes,
                                                  bytes, host, 0, NULL, NULL)
                           : clEnqueueReadBuffer(ctx->queue, buffer, blocking, offset_bytes,
                                                 bytes, host, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clnet_fail(enqueue_status(err), "%s %zu bytes at offset %zu %s %s failed: %s",
                          what, bytes, offset_bytes, to_device ? "to" : "from", ctx->info.name,
                          clnet_cl_error_name(err));
    return CLNET_STATUS_OK;
}

clnet_status clnet_buffer_write(clnet_context *ctx, cl_mem buffer, size_t offset_bytes,
                                size_t bytes, const void *src) {
    return transfer(ctx, buffer, offset_bytes, bytes, (void *)src, 1, CL_TRUE);
}

clnet_status clnet_buffer_read(clnet_context *ctx, cl_mem buffer, size_t offset_bytes,
                               size_t bytes, void *dst) {
    return transfer(ctx, buffer, offset_bytes, bytes, dst, 0, CL_TRUE);
}

clnet_status clnet_buffer_write_queued(clnet_context *ctx, cl_mem buffer, size_t offset_bytes,
                                       size_t bytes, const void *src) {
    return transfer(ctx, buffer, offset_bytes, bytes, (void *)src, 1, CL_FALSE);
}

clnet_status clnet_buffer_read_queued(clnet_context *ctx, cl_mem buffer, size_t offset_bytes,
                                      size_t bytes, void *dst) {
    return transfer(ctx, buffer, offset_bytes, bytes, dst, 0, CL_FALSE);
}

clnet_status clnet_buffer_fill(clnet_context *ctx, cl_mem buffer, size_t offset_bytes,
                               size_t bytes, float value) {
    if (!ctx || !buffer)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_buffer_fill: ctx and buffer must not be NULL");
    if (offset_bytes % sizeof value != 0 || bytes % sizeof value != 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "filling a buffer with floats: offset %zu and size %zu must be "
                          "multiples of %zu bytes",
                          offset_bytes, bytes, sizeof value);
    if (bytes == 0)
        return CLNET_STATUS_OK;
    CLNET_TRY(check_region("filling a buffer", buffer, offset_bytes, bytes));

    cl_event done = NULL;
    cl_int err = clEnqueueFillBuffer(ctx->queue, buffer, &value, sizeof value, offset_bytes,
                                     bytes, 0, NULL, &done);
    if (err == CL_SUCCESS) {
        err = clWaitForEvents(1, &done);
        clReleaseEvent(done);
    }
    if (err != CL_SUCCESS)
        return clnet_fail(enqueue_status(err), "filling %zu bytes at offset %zu on %s failed: %s",
                          bytes, offset_bytes, ctx->info.name, clnet_cl_error_name(err));
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Events                                                                   */

void clnet_events_clear(clnet_events *events) {
    if (!events)
        return;
    for (int i = 0; i < events->count; i++)
        if (events->events[i])
            clReleaseEvent(events->events[i]);
    events->count = 0;
}

void clnet_events_free(clnet_events *events) {
    if (!events)
        return;
    clnet_events_clear(events);
    free(events->events);
    events->events = NULL;
    events->capacity = 0;
}

/* Returns -1 when the events carry no timing, as on a queue made without
 * profiling. */
double clnet_events_ms(const clnet_events *events) {
    if (!events || events->count == 0)
        return 0;
    double total_ns = 0;
    for (int i = 0; i < events->count; i++) {
        cl_event e = events->events[i];
        if (!e)
            continue;
        cl_ulong start = 0, end = 0;
        if (clWaitForEvents(1, &e) != CL_SUCCESS ||
            clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_START, sizeof start, &start, NULL) !=
                CL_SUCCESS ||
            clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL) !=
                CL_SUCCESS)
            return -1;
        if (end > start)
            total_ns += (double)(end - start);
    }
    return total_ns * 1e-6;
}

clnet_status clnet_events_slot(clnet_events *events, cl_event **slot) {
    if (!slot)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_events_slot: slot must not be NULL");
    *slot = NULL;
    if (!events)
        return CLNET_STATUS_OK;
    if (events->count == events->capacity) {
        int capacity = events->capacity ? 2 * events->capacity : 16;
        cl_event *grown = realloc(events->events, (size_t)capacity * sizeof *grown);
        if (!grown)
            return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                              "keeping %d profiling events: out of memory", capacity);
        events->events = grown;
        events->capacity = capacity;
    }
    events->events[events->count] = NULL;
    *slot = &events->events[events->count++];
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Launches                                                                 */

/* "256x16" for a range, "auto" for none. */
static void format_range(cl_uint dims, const size_t *sizes, char *buf, size_t capacity) {
    if (!sizes) {
        snprintf(buf, capacity, "auto");
        return;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (cl_uint i = 0; i < dims && used < capacity; i++) {
        int n = snprintf(buf + used, capacity - used, "%s%zu", i ? "x" : "", sizes[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

clnet_status clnet_launch(clnet_context *ctx, cl_kernel kernel, const char *what, int n_args,
                          const clnet_kernel_arg *args, cl_uint dims, const size_t *global,
                          const size_t *local, clnet_events *events) {
    if (!what)
        what = "kernel";
    if (!ctx || !kernel || !global || n_args < 0 || (n_args > 0 && !args))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "launching %s: ctx, kernel, global and args must not be NULL", what);
    if (dims < 1 || dims > 3)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "launching %s: %u dimensions given, OpenCL allows 1 to 3", what, dims);

    /* Cached kernels keep the arguments of their previous launch, so a
     * short argument list would silently reuse stale ones: count first. */
    cl_uint expected = 0;
    cl_int err = clGetKernelInfo(kernel, CL_KERNEL_NUM_ARGS, sizeof expected, &expected, NULL);
    if (err != CL_SUCCESS)
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR, "launching %s: querying the kernel failed: %s",
                          what, clnet_cl_error_name(err));
    if ((cl_uint)n_args != expected)
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR,
                          "launching %s: the kernel takes %u arguments but %d were given", what,
                          expected, n_args);
    for (int i = 0; i < n_args; i++) {
        err = clSetKernelArg(kernel, (cl_uint)i, args[i].size, args[i].value);
        if (err != CL_SUCCESS)
            return clnet_fail(CLNET_STATUS_DEVICE_ERROR,
                              "launching %s: setting argument %d (%zu bytes) failed: %s", what, i,
                              args[i].size, clnet_cl_error_name(err));
    }

    cl_event *slot;
    CLNET_TRY(clnet_events_slot(events, &slot));
    err = clEnqueueNDRangeKernel(ctx->queue, kernel, dims, NULL, global, local, 0, NULL, slot);
    if (err != CL_SUCCESS) {
        if (slot) { /* give the unused slot back */
            *slot = NULL;
            events->count--;
        }
        char global_text[80], local_text[80];
        format_range(dims, global, global_text, sizeof global_text);
        format_range(dims, local, local_text, sizeof local_text);
        return clnet_fail(enqueue_status(err),
                          "launching %s with global size %s and local size %s on %s failed: %s",
                          what, global_text, local_text, ctx->info.name, clnet_cl_error_name(err));
    }
    return CLNET_STATUS_OK;
}
