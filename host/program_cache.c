/* Program binaries on disk: a cache that spares later processes the
 * compiler, and the folders of pre-built binaries that devices without a
 * compiler load instead.
 *
 * An entry is one file named after a 128-bit key over everything that
 * decides the binary: the kernel source, the full build options, the
 * platform, the device, its driver and the clnet version. Its content:
 *   "CLNETBIN" | u32 format 1 | u32 reserved 0 | u64 key[2] | u64 size |
 *   u64 FNV-1a of the binary | binary
 * all little-endian. A file whose header, key, size or checksum disagrees,
 * or whose binary the driver rejects, is ignored and rebuilt. */
#define _POSIX_C_SOURCE 200809L /* mkdir, getpid */
#include "program_cache.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENTRY_MAGIC "CLNETBIN"
#define ENTRY_FORMAT 1u
#define HEADER_BYTES 48
/* No OpenCL binary we know of comes near this; a larger size field means a
 * corrupt entry, not a reason to allocate. */
#define MAX_BINARY_BYTES (1ull << 30)

static uint64_t fnv1a(uint64_t hash, const void *data, size_t size) {
    const unsigned char *p = data;
    for (size_t i = 0; i < size; i++) {
        hash ^= p[i];
        hash *= 0x100000001b3ull;
    }
    return hash;
}

/* Hashes a string with its terminating NUL, so that ("ab", "c") and
 * ("a", "bc") differ. */
static uint64_t fnv1a_text(uint64_t hash, const char *text) {
    return fnv1a(hash, text, strlen(text) + 1);
}

static void make_key(const clnet_context *ctx, const char *source, const char *options,
                     uint64_t key[2]) {
    /* Two independent 64-bit hashes (different offset bases). */
    const uint64_t bases[2] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
    for (int i = 0; i < 2; i++) {
        uint64_t h = bases[i];
        h = fnv1a_text(h, source);
        h = fnv1a_text(h, options);
        h = fnv1a_text(h, ctx->info.platform_name);
        h = fnv1a_text(h, ctx->info.platform_version);
        h = fnv1a_text(h, ctx->info.name);
        h = fnv1a_text(h, ctx->info.driver_version);
        h = fnv1a_text(h, CLNET_VERSION_STRING);
        key[i] = h;
    }
}

static void entry_path(const char *dir, const char *name, const uint64_t key[2], char *path,
                       size_t size) {
    snprintf(path, size, "%s/%s-%016llx%016llx.bin", dir, name, (unsigned long long)key[0],
             (unsigned long long)key[1]);
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Creates dir and its parents (like mkdir -p); existing folders are fine. */
static int make_dirs(const char *dir) {
    char path[CLNET_PATH_CAPACITY];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return 0;
        *p = '/';
    }
    return mkdir(path, 0755) == 0 || errno == EEXIST;
}

/* Whether the device's driver is PoCL, which keeps the kernels it compiles
 * in a cache of its own (POCL_CACHE_DIR, on by default) and, asked for a
 * program's binary, first compiles every kernel of the program for its
 * binary format, used or not. */
static int driver_is_pocl(const clnet_context *ctx) {
    return strstr(ctx->info.platform_name, "Portable Computing Language") != NULL ||
           strstr(ctx->info.device_version, "PoCL") != NULL;
}

void clnet_program_cache_configure(clnet_context *ctx) {
    const char *binary_dir = getenv("CLNET_BINARY_DIR");
    const char *cache_dir = getenv("CLNET_CACHE_DIR");
    const char *setting = getenv("CLNET_CACHE");
    ctx->binary_dir[0] = '\0';
    ctx->cache_dir[0] = '\0';
    if (binary_dir && binary_dir[0])
        snprintf(ctx->binary_dir, sizeof ctx->binary_dir, "%s", binary_dir);
    if (setting && strcmp(setting, "0") == 0)
        return;
    /* On PoCL the cache costs more than it saves: storing a binary makes
     * PoCL compile the program's unused kernels too, and PoCL's own cache
     * already spares later processes the compiler. ResNet-20's first batch
     * took 33 s from empty caches with clnet's cache, 9 s without; 0.10 s
     * and 0.36 s with warm ones. CLNET_CACHE=1 turns it on regardless. */
    if (!(setting && strcmp(setting, "1") == 0) && driver_is_pocl(ctx)) {
        clnet_log(CLNET_LOG_DEBUG, "cache",
                  "%s: program binaries are not cached (PoCL caches its kernels itself; "
                  "CLNET_CACHE=1 caches them anyway)",
                  ctx->info.name);
        return;
    }
    if (cache_dir && cache_dir[0]) {
        snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s", cache_dir);
        return;
    }
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (xdg && xdg[0])
        snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s/clnet", xdg);
    else if (home && home[0])
        snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s/.cache/clnet", home);
}

/* Reads and checks an entry; on success *binary (malloc'd) and *size. */
static int read_entry(const char *path, const uint64_t key[2], unsigned char **binary,
                      size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    unsigned char header[HEADER_BYTES];
    int ok = fread(header, 1, sizeof header, f) == sizeof header &&
             memcmp(header, ENTRY_MAGIC, 8) == 0 && get_u32(header + 8) == ENTRY_FORMAT &&
             get_u64(header + 16) == key[0] && get_u64(header + 24) == key[1];
    uint64_t n = ok ? get_u64(header + 32) : 0;
    ok = ok && n > 0 && n <= MAX_BINARY_BYTES;
    unsigned char *data = ok ? malloc((size_t)n) : NULL;
    ok = ok && data && fread(data, 1, (size_t)n, f) == n && fgetc(f) == EOF &&
         fnv1a(0xcbf29ce484222325ull, data, (size_t)n) == get_u64(header + 40);
    fclose(f);
    if (!ok) {
        free(data);
        return 0;
    }
    *binary = data;
    *size = (size_t)n;
    return 1;
}

/* Builds a program from a binary; 0 if the driver refuses it. */
static int program_from_binary(clnet_context *ctx, const unsigned char *binary, size_t size,
                               const char *options, cl_program *out) {
    cl_int status = CL_SUCCESS, err;
    cl_program program = clCreateProgramWithBinary(ctx->cl, 1, &ctx->device, &size, &binary,
                                                   &status, &err);
    if (!program || err != CL_SUCCESS || status != CL_SUCCESS) {
        if (program)
            clReleaseProgram(program);
        return 0;
    }
    if (clBuildProgram(program, 1, &ctx->device, options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(program);
        return 0;
    }
    *out = program;
    return 1;
}

int clnet_program_cache_load(clnet_context *ctx, const char *dir, const char *name,
                             const char *source, const char *options, cl_program *out) {
    if (!dir[0])
        return 0;
    uint64_t key[2];
    char path[CLNET_PATH_CAPACITY + 128];
    make_key(ctx, source, options, key);
    entry_path(dir, name, key, path, sizeof path);
    unsigned char *binary = NULL;
    size_t size = 0;
    if (!read_entry(path, key, &binary, &size))
        return 0;
    int ok = program_from_binary(ctx, binary, size, options, out);
    free(binary);
    if (!ok)
        clnet_log(CLNET_LOG_WARN, "cache", "ignoring %s: the driver rejected its binary", path);
    return ok;
}

/* The binary of a built program for ctx's device; malloc'd. */
static clnet_status program_binary(clnet_context *ctx, cl_program program, const char *name,
                                   unsigned char **binary, size_t *size) {
    cl_uint n_devices = 0;
    cl_int err = clGetProgramInfo(program, CL_PROGRAM_NUM_DEVICES, sizeof n_devices, &n_devices,
                                  NULL);
    if (err != CL_SUCCESS || n_devices != 1)
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR,
                          "reading the binary of program '%s': %u devices (%s)", name, n_devices,
                          clnet_cl_error_name(err));
    size_t n = 0;
    err = clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof n, &n, NULL);
    if (err != CL_SUCCESS || n == 0)
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR,
                          "the driver of %s gives no binary for program '%s' (%s)",
                          ctx->info.name, name, clnet_cl_error_name(err));
    unsigned char *data = malloc(n);
    if (!data)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "reading the binary of program '%s'", name);
    err = clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof data, &data, NULL);
    if (err != CL_SUCCESS) {
        free(data);
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR, "reading the binary of program '%s': %s",
                          name, clnet_cl_error_name(err));
    }
    *binary = data;
    *size = n;
    return CLNET_STATUS_OK;
}

clnet_status clnet_program_cache_store(clnet_context *ctx, const char *dir, const char *name,
                                       const char *source, const char *options,
                                       cl_program program) {
    if (!dir[0])
        return CLNET_STATUS_OK;
    if (!make_dirs(dir))
        return clnet_fail(CLNET_STATUS_IO_ERROR, "cannot create folder '%s': %s", dir,
                          strerror(errno));
    uint64_t key[2];
    make_key(ctx, source, options, key);
    unsigned char *binary = NULL;
    size_t size = 0;
    CLNET_TRY(program_binary(ctx, program, name, &binary, &size));

    unsigned char header[HEADER_BYTES] = {0};
    memcpy(header, ENTRY_MAGIC, 8);
    put_u32(header + 8, ENTRY_FORMAT);
    put_u64(header + 16, key[0]);
    put_u64(header + 24, key[1]);
    put_u64(header + 32, size);
    put_u64(header + 40, fnv1a(0xcbf29ce484222325ull, binary, size));

    /* Written under a temporary name and renamed, so that a reader never
     * sees half an entry, even with several processes filling the cache. */
    char path[CLNET_PATH_CAPACITY + 128], temp[CLNET_PATH_CAPACITY + 160];
    entry_path(dir, name, key, path, sizeof path);
    snprintf(temp, sizeof temp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(temp, "wb");
    int ok = f && fwrite(header, 1, sizeof header, f) == sizeof header &&
             fwrite(binary, 1, size, f) == size;
    if (f && fclose(f) != 0)
        ok = 0;
    ok = ok && rename(temp, path) == 0;
    int saved_errno = errno;
    free(binary);
    if (!ok) {
        remove(temp);
        return clnet_fail(CLNET_STATUS_IO_ERROR, "cannot write program binary '%s': %s", path,
                          strerror(saved_errno));
    }
    return CLNET_STATUS_OK;
}
