/* Lists the OpenCL devices of every platform, describes each one, and picks
 * the device a selector string ("0:0", "gpu", a name) refers to. */
#include "context.h"
#include "log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The ICD loader's status when no platform is installed (cl_khr_icd). */
#define PLATFORM_NOT_FOUND_KHR (-1001)

#define NO_PLATFORM_MESSAGE                                                                     \
    "no OpenCL platform found (is an ICD such as pocl-opencl-icd installed?)"

/* Copies a string property into a fixed field, truncating long values: the
 * query with a short buffer would fail with CL_INVALID_VALUE instead. */
static void copy_truncated(char *dst, size_t capacity, const char *src) {
    size_t n = strlen(src);
    if (n >= capacity)
        n = capacity - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* A freshly allocated string property of a device or platform; NULL on any
 * failure, which callers treat as an empty value. */
static char *device_string(cl_device_id device, cl_device_info param) {
    size_t size = 0;
    if (clGetDeviceInfo(device, param, 0, NULL, &size) != CL_SUCCESS)
        return NULL;
    char *text = malloc(size + 1);
    if (!text)
        return NULL;
    if (clGetDeviceInfo(device, param, size, text, NULL) != CL_SUCCESS) {
        free(text);
        return NULL;
    }
    text[size] = '\0';
    return text;
}

static char *platform_string(cl_platform_id platform, cl_platform_info param) {
    size_t size = 0;
    if (clGetPlatformInfo(platform, param, 0, NULL, &size) != CL_SUCCESS)
        return NULL;
    char *text = malloc(size + 1);
    if (!text)
        return NULL;
    if (clGetPlatformInfo(platform, param, size, text, NULL) != CL_SUCCESS) {
        free(text);
        return NULL;
    }
    text[size] = '\0';
    return text;
}

static void fill_device_string(cl_device_id device, cl_device_info param, char *dst,
                               size_t capacity) {
    char *text = device_string(device, param);
    copy_truncated(dst, capacity, text ? text : "");
    free(text);
}

static void fill_platform_string(cl_platform_id platform, cl_platform_info param, char *dst,
                                 size_t capacity) {
    char *text = platform_string(platform, param);
    copy_truncated(dst, capacity, text ? text : "");
    free(text);
}

/* Whether a space-separated extension list names `extension` as a whole word
 * (so that "cl_khr_fp16" is not found inside "cl_khr_fp16_extra"). */
static int has_extension(const char *list, const char *extension) {
    size_t n = strlen(extension);
    for (const char *p = list; (p = strstr(p, extension)) != NULL; p += n) {
        int starts = p == list || p[-1] == ' ';
        int ends = p[n] == '\0' || p[n] == ' ';
        if (starts && ends)
            return 1;
    }
    return 0;
}

static clnet_device_type device_type_of(cl_device_type type) {
    if (type & CL_DEVICE_TYPE_GPU)
        return CLNET_DEVICE_TYPE_GPU;
    if (type & CL_DEVICE_TYPE_ACCELERATOR)
        return CLNET_DEVICE_TYPE_ACCELERATOR;
    if (type & CL_DEVICE_TYPE_CPU)
        return CLNET_DEVICE_TYPE_CPU;
    return CLNET_DEVICE_TYPE_OTHER;
}

const char *clnet_device_type_name(clnet_device_type type) {
    switch (type) {
    case CLNET_DEVICE_TYPE_CPU: return "cpu";
    case CLNET_DEVICE_TYPE_GPU: return "gpu";
    case CLNET_DEVICE_TYPE_ACCELERATOR: return "accelerator";
    case CLNET_DEVICE_TYPE_OTHER: break;
    }
    return "other";
}

clnet_status clnet_device_query(cl_platform_id platform, cl_device_id device, int platform_index,
                                int device_index, clnet_device_info *out) {
    if (!platform || !device || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_device_query: platform, device and out must not be NULL");
    memset(out, 0, sizeof *out);
    out->platform_index = platform_index;
    out->device_index = device_index;

    fill_platform_string(platform, CL_PLATFORM_NAME, out->platform_name,
                         sizeof out->platform_name);
    fill_platform_string(platform, CL_PLATFORM_VENDOR, out->platform_vendor,
                         sizeof out->platform_vendor);
    fill_platform_string(platform, CL_PLATFORM_VERSION, out->platform_version,
                         sizeof out->platform_version);
    fill_device_string(device, CL_DEVICE_NAME, out->name, sizeof out->name);
    fill_device_string(device, CL_DEVICE_VENDOR, out->vendor, sizeof out->vendor);
    fill_device_string(device, CL_DRIVER_VERSION, out->driver_version, sizeof out->driver_version);
    fill_device_string(device, CL_DEVICE_VERSION, out->device_version, sizeof out->device_version);
    fill_device_string(device, CL_DEVICE_OPENCL_C_VERSION, out->opencl_c_version,
                       sizeof out->opencl_c_version);

    /* Numeric properties every OpenCL 1.2 device reports; a failure here
     * means the driver is broken, not that the value is unknown. */
    cl_device_type type = 0;
    cl_uint compute_units = 0, clock_mhz = 0, float_width = 0;
    cl_ulong global_mem = 0, local_mem = 0, max_alloc = 0;
    size_t max_wg = 0;
    cl_bool compiler = CL_FALSE;
    struct {
        cl_device_info param;
        size_t size;
        void *value;
        const char *name;
    } numeric[] = {
        {CL_DEVICE_TYPE, sizeof type, &type, "CL_DEVICE_TYPE"},
        {CL_DEVICE_MAX_COMPUTE_UNITS, sizeof compute_units, &compute_units,
         "CL_DEVICE_MAX_COMPUTE_UNITS"},
        {CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof clock_mhz, &clock_mhz,
         "CL_DEVICE_MAX_CLOCK_FREQUENCY"},
        {CL_DEVICE_GLOBAL_MEM_SIZE, sizeof global_mem, &global_mem, "CL_DEVICE_GLOBAL_MEM_SIZE"},
        {CL_DEVICE_LOCAL_MEM_SIZE, sizeof local_mem, &local_mem, "CL_DEVICE_LOCAL_MEM_SIZE"},
        {CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof max_alloc, &max_alloc,
         "CL_DEVICE_MAX_MEM_ALLOC_SIZE"},
        {CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_wg, &max_wg, "CL_DEVICE_MAX_WORK_GROUP_SIZE"},
        {CL_DEVICE_COMPILER_AVAILABLE, sizeof compiler, &compiler,
         "CL_DEVICE_COMPILER_AVAILABLE"},
        {CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof float_width, &float_width,
         "CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT"},
    };
    for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++) {
        cl_int err = clGetDeviceInfo(device, numeric[i].param, numeric[i].size, numeric[i].value,
                                     NULL);
        if (err != CL_SUCCESS)
            return clnet_fail(CLNET_STATUS_DEVICE_ERROR,
                              "querying %s of OpenCL device %d:%d (%s) failed: %s",
                              numeric[i].name, platform_index, device_index, out->name,
                              clnet_cl_error_name(err));
    }
    out->type = device_type_of(type);
    out->compute_units = compute_units;
    out->max_clock_mhz = clock_mhz;
    out->global_mem_bytes = global_mem;
    out->local_mem_bytes = local_mem;
    out->max_alloc_bytes = max_alloc;
    out->max_work_group_size = max_wg;
    out->has_compiler = compiler == CL_TRUE;
    out->native_float_width = float_width;

    /* Half and double precision: the extensions are the portable signal;
     * OpenCL 1.2 devices may instead report double support only through a
     * non-zero CL_DEVICE_DOUBLE_FP_CONFIG, which older drivers reject. */
    char *extensions = device_string(device, CL_DEVICE_EXTENSIONS);
    if (extensions) {
        out->has_fp16 = has_extension(extensions, "cl_khr_fp16");
        out->has_fp64 = has_extension(extensions, "cl_khr_fp64");
        free(extensions);
    }
    if (!out->has_fp64) {
        cl_device_fp_config fp64 = 0;
        if (clGetDeviceInfo(device, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp64, &fp64, NULL) ==
                CL_SUCCESS &&
            fp64 != 0)
            out->has_fp64 = 1;
    }
    return CLNET_STATUS_OK;
}

/* The platforms of the ICD loader; *count 0 is reported as a failure. */
static clnet_status get_platforms(cl_platform_id **out, cl_uint *count) {
    *out = NULL;
    *count = 0;
    cl_uint n = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &n);
    if (err == PLATFORM_NOT_FOUND_KHR || (err == CL_SUCCESS && n == 0))
        return clnet_fail(CLNET_STATUS_DEVICE_NOT_FOUND, NO_PLATFORM_MESSAGE);
    if (err != CL_SUCCESS)
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR, "listing OpenCL platforms failed: %s",
                          clnet_cl_error_name(err));
    cl_platform_id *platforms = calloc(n, sizeof *platforms);
    if (!platforms)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "listing %u OpenCL platforms: out of memory",
                          n);
    err = clGetPlatformIDs(n, platforms, NULL);
    if (err != CL_SUCCESS) {
        free(platforms);
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR, "listing OpenCL platforms failed: %s",
                          clnet_cl_error_name(err));
    }
    *out = platforms;
    *count = n;
    return CLNET_STATUS_OK;
}

/* The devices of one platform; a platform without devices gives *count 0. */
static clnet_status get_devices(cl_platform_id platform, cl_uint platform_index,
                                cl_device_id **out, cl_uint *count) {
    *out = NULL;
    *count = 0;
    cl_uint n = 0;
    cl_int err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, NULL, &n);
    if (err == CL_DEVICE_NOT_FOUND || (err == CL_SUCCESS && n == 0))
        return CLNET_STATUS_OK;
    if (err != CL_SUCCESS)
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR,
                          "listing the devices of OpenCL platform %u failed: %s", platform_index,
                          clnet_cl_error_name(err));
    cl_device_id *devices = calloc(n, sizeof *devices);
    if (!devices)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "listing %u OpenCL devices: out of memory",
                          n);
    err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, n, devices, NULL);
    if (err != CL_SUCCESS) {
        free(devices);
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR,
                          "listing the devices of OpenCL platform %u failed: %s", platform_index,
                          clnet_cl_error_name(err));
    }
    *out = devices;
    *count = n;
    return CLNET_STATUS_OK;
}

clnet_status clnet_device_list(clnet_device_info **out, size_t *count) {
    if (!out || !count)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_device_list: out and count must not be NULL");
    *out = NULL;
    *count = 0;

    cl_platform_id *platforms;
    cl_uint n_platforms;
    CLNET_TRY(get_platforms(&platforms, &n_platforms));

    clnet_device_info *list = NULL;
    size_t n = 0;
    clnet_status status = CLNET_STATUS_OK;
    for (cl_uint p = 0; p < n_platforms && status == CLNET_STATUS_OK; p++) {
        cl_device_id *devices;
        cl_uint n_devices;
        status = get_devices(platforms[p], p, &devices, &n_devices);
        if (status != CLNET_STATUS_OK || n_devices == 0)
            continue;
        clnet_device_info *grown = realloc(list, (n + n_devices) * sizeof *list);
        if (!grown) {
            status = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                                "listing OpenCL devices: out of memory for %zu entries",
                                n + n_devices);
        } else {
            list = grown;
            /* A device whose driver cannot describe it is skipped so that the
             * others stay usable. */
            for (cl_uint d = 0; d < n_devices; d++) {
                if (clnet_device_query(platforms[p], devices[d], (int)p, (int)d, &list[n]) ==
                    CLNET_STATUS_OK)
                    n++;
                else
                    clnet_log(CLNET_LOG_WARN, "device", "skipping device %u:%u: %s", p, d,
                              clnet_last_error());
            }
        }
        free(devices);
    }
    free(platforms);

    if (status == CLNET_STATUS_OK && n == 0)
        status = clnet_fail(CLNET_STATUS_DEVICE_NOT_FOUND,
                            "%u OpenCL platform(s) found, but none has a usable device",
                            n_platforms);
    if (status != CLNET_STATUS_OK) {
        free(list);
        return status;
    }
    *out = list;
    *count = n;
    return CLNET_STATUS_OK;
}

/* Case-insensitive substring search; an empty needle matches. */
static int contains_ignoring_case(const char *haystack, const char *needle) {
    size_t n = strlen(needle);
    for (const char *h = haystack;; h++) {
        size_t i = 0;
        while (i < n && h[i] != '\0' &&
               tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
        if (*h == '\0')
            return 0;
    }
}

static int equals_ignoring_case(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

/* Parses "P:D" with decimal indices and nothing else around them. */
static int parse_index_pair(const char *text, int *platform, int *device) {
    const char *p = text;
    long values[2];
    for (int part = 0; part < 2; part++) {
        if (!isdigit((unsigned char)*p))
            return 0;
        long v = 0;
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (*p++ - '0');
            if (v > 1000000)
                return 0;
        }
        values[part] = v;
        if (part == 0 && *p++ != ':')
            return 0;
    }
    if (*p != '\0')
        return 0;
    *platform = (int)values[0];
    *device = (int)values[1];
    return 1;
}

/* "0:0 pthread-haswell-... (cpu), 0:1 ..." for messages, truncated to fit. */
static void describe_devices(const clnet_device_info *list, size_t count, char *buf,
                             size_t capacity) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && used + 1 < capacity; i++) {
        int n = snprintf(buf + used, capacity - used, "%s%d:%d %s (%s)", i ? ", " : "",
                         list[i].platform_index, list[i].device_index, list[i].name,
                         clnet_device_type_name(list[i].type));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* The first device of a type, or -1. */
static long first_of_type(const clnet_device_info *list, size_t count, clnet_device_type type) {
    for (size_t i = 0; i < count; i++)
        if (list[i].type == type)
            return (long)i;
    return -1;
}

/* Position in list of the device a selector names, or -1 with *why set to
 * a phrase for the failure message. */
static long match_selector(const clnet_device_info *list, size_t count, const char *selector,
                           const char **why) {
    int p, d;
    if (parse_index_pair(selector, &p, &d)) {
        for (size_t i = 0; i < count; i++)
            if (list[i].platform_index == p && list[i].device_index == d)
                return (long)i;
        *why = "no OpenCL device has index";
        return -1;
    }

    static const clnet_device_type types[] = {CLNET_DEVICE_TYPE_GPU, CLNET_DEVICE_TYPE_CPU,
                                              CLNET_DEVICE_TYPE_ACCELERATOR};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        if (equals_ignoring_case(selector, clnet_device_type_name(types[t]))) {
            *why = "no OpenCL device is of type";
            return first_of_type(list, count, types[t]);
        }
    }

    for (size_t i = 0; i < count; i++)
        if (contains_ignoring_case(list[i].name, selector))
            return (long)i;
    for (size_t i = 0; i < count; i++)
        if (contains_ignoring_case(list[i].platform_name, selector))
            return (long)i;
    *why = "no OpenCL device matches";
    return -1;
}

clnet_status clnet_device_select(const char *selector, clnet_device_info *out) {
    if (!out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_device_select: out must not be NULL");
    const char *source = ""; /* where the selector came from, for messages */
    if (!selector) {
        const char *env = getenv("CLNET_DEVICE");
        if (env && env[0] != '\0') {
            selector = env;
            source = " (from CLNET_DEVICE)";
        }
    }

    clnet_device_info *list;
    size_t count;
    CLNET_TRY(clnet_device_list(&list, &count));

    long chosen;
    if (!selector) {
        chosen = first_of_type(list, count, CLNET_DEVICE_TYPE_GPU);
        if (chosen < 0)
            chosen = first_of_type(list, count, CLNET_DEVICE_TYPE_ACCELERATOR);
        if (chosen < 0)
            chosen = first_of_type(list, count, CLNET_DEVICE_TYPE_CPU);
        if (chosen < 0)
            chosen = 0;
    } else {
        const char *why = "no OpenCL device matches";
        chosen = match_selector(list, count, selector, &why);
        if (chosen < 0) {
            char available[2048];
            describe_devices(list, count, available, sizeof available);
            free(list);
            return clnet_fail(CLNET_STATUS_DEVICE_NOT_FOUND, "%s '%s'%s; available: %s",
                              why, selector, source, available);
        }
    }

    *out = list[chosen];
    free(list);
    if (clnet_log_enabled(CLNET_LOG_DEBUG))
        clnet_log(CLNET_LOG_DEBUG, "device", "selected %d:%d %s (%s) for selector '%s'%s",
                  out->platform_index, out->device_index, out->name, clnet_device_type_name(out->type),
                  selector ? selector : "default", source);
    return CLNET_STATUS_OK;
}
