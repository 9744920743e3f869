/* An opened OpenCL device: its queue, its compiled programs and kernels,
 * and checked wrappers of the OpenCL calls the engine makes. */
#ifndef CLNET_CONTEXT_H
#define CLNET_CONTEXT_H

#include "error.h"
#include "opencl.h"

typedef struct clnet_program_entry clnet_program_entry; /* private to context.c */
typedef struct clnet_tuning clnet_tuning;               /* private to tuning.c */

#define CLNET_PATH_CAPACITY 1024

struct clnet_context {
    clnet_device_info info;
    cl_platform_id platform;
    cl_device_id device;
    cl_context cl;
    cl_command_queue queue;
    int profiling;
    /* Options added to every program build: the OpenCL C standard and
     * defines describing the device (CLNET_DEVICE_CPU, CLNET_DEVICE_GPU, ...). */
    char device_options[256];
    /* Programs built so far, keyed by (source name, options); each keeps
     * its kernels by name. */
    clnet_program_entry *programs;
    /* Where program binaries are cached ("" = no cache), and the folder of
     * pre-built binaries that replaces the compiler ("" = compile). */
    char cache_dir[CLNET_PATH_CAPACITY];
    char binary_dir[CLNET_PATH_CAPACITY];
    int programs_compiled;  /* built from source by this context */
    int programs_from_disk; /* loaded from the cache or the binary folder */
    /* Algorithms measured fastest per convolution shape on this device
     * (tuning.h); NULL when none are known. */
    clnet_tuning *tuning;
    /* The tuner's hooks on clnet's own GEMM kernels (tune.c): a
     * configuration every call uses (NULL: the table's choice for the
     * call's shape, else the device's default), and a recorder of the
     * calls made (NULL: none). */
    const struct clnet_gemm_config *gemm_force;
    struct clnet_gemm_recorder *gemm_record;
};

/* Fills the device_info of a cl_device_id (used by listing and by open). */
clnet_status clnet_device_query(cl_platform_id platform, cl_device_id device, int platform_index,
                                int device_index, clnet_device_info *out);

/* A kernel of an embedded program, built once per (program, options) pair
 * and kept by the context; the caller must not release it. options are
 * added to the device options, e.g. "-DTILE=8". A build failure returns
 * CLNET_STATUS_BUILD_FAILED with the compiler's log in the message. */
clnet_status clnet_context_kernel(clnet_context *ctx, const char *program, const char *options,
                                  const char *kernel_name, cl_kernel *out);

/* Builds a program from source text with the device options plus
 * `options`; the caller releases *out. clnet_context_kernel uses it for the
 * embedded sources. */
clnet_status clnet_context_build_source(clnet_context *ctx, const char *name, const char *source,
                                        const char *options, cl_program *out);

/* Device buffer of `bytes` (at least 1); `what` names it in messages. An
 * allocation failure is CLNET_STATUS_DEVICE_OUT_OF_MEMORY. */
clnet_status clnet_buffer_create(clnet_context *ctx, size_t bytes, const char *what, cl_mem *out);
void clnet_buffer_release(cl_mem buffer); /* accepts NULL */

/* Blocking transfers. */
clnet_status clnet_buffer_write(clnet_context *ctx, cl_mem buffer, size_t offset_bytes,
                                size_t bytes, const void *src);
clnet_status clnet_buffer_read(clnet_context *ctx, cl_mem buffer, size_t offset_bytes,
                               size_t bytes, void *dst);
/* Queued transfers: they take their place in the in-order queue and
 * return at once, so that the host does not wait for the device between
 * commands. The host memory must stay as it is (src) or untouched (dst)
 * until clnet_context_finish() returns. */
clnet_status clnet_buffer_write_queued(clnet_context *ctx, cl_mem buffer, size_t offset_bytes,
                                       size_t bytes, const void *src);
clnet_status clnet_buffer_read_queued(clnet_context *ctx, cl_mem buffer, size_t offset_bytes,
                                      size_t bytes, void *dst);
/* Fills a buffer region with one float value (used to poison outputs). */
clnet_status clnet_buffer_fill(clnet_context *ctx, cl_mem buffer, size_t offset_bytes,
                               size_t bytes, float value);

/* Events of the kernels a step enqueues, kept when profiling. */
typedef struct clnet_events {
    cl_event *events;
    int count, capacity;
} clnet_events;
/* Releases every event and empties the list (keeps the storage). */
void clnet_events_clear(clnet_events *events);
void clnet_events_free(clnet_events *events);
/* Summed device time of the events, in milliseconds (start to end of each);
 * -1 when the events carry no timing (a queue without profiling). */
double clnet_events_ms(const clnet_events *events);
/* Returns where a launch should store its event: a new slot of events, or
 * NULL when events is NULL. Fails only on host out-of-memory. */
clnet_status clnet_events_slot(clnet_events *events, cl_event **slot);

/* Sets the arguments and enqueues an ND-range. args is an array of
 * (size, pointer) pairs built with CLNET_ARG(); `what` names the kernel in
 * messages. local may be NULL. An event is stored in events when not NULL. */
typedef struct clnet_kernel_arg {
    size_t size;
    const void *value;
} clnet_kernel_arg;
#define CLNET_ARG(x) ((clnet_kernel_arg){sizeof(x), &(x)})
clnet_status clnet_launch(clnet_context *ctx, cl_kernel kernel, const char *what, int n_args,
                          const clnet_kernel_arg *args, cl_uint dims, const size_t *global,
                          const size_t *local, clnet_events *events);

/* Waits for every enqueued command. */
clnet_status clnet_context_finish(clnet_context *ctx);

#endif
