/* Helpers shared by the importers: reading a whole file into memory. */
#include "import_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

clnet_status clnet_import_read_file(const char *path, size_t max_bytes, const char *limit,
                                    uint8_t **data, size_t *size) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return clnet_fail(errno == ENOENT ? CLNET_STATUS_NOT_FOUND : CLNET_STATUS_IO_ERROR,
                          "cannot open '%s': %s", path, strerror(errno));
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return clnet_fail(CLNET_STATUS_IO_ERROR, "cannot find the size of '%s'", path);
    }
    if (max_bytes && (unsigned long)n > max_bytes) {
        fclose(f);
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "'%s' is %ld bytes; clnet reads %s", path, n,
                          limit);
    }
    uint8_t *bytes = malloc(n ? (size_t)n : 1);
    if (!bytes) {
        fclose(f);
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory reading '%s' (%ld bytes)",
                          path, n);
    }
    size_t got = fread(bytes, 1, (size_t)n, f);
    int failed = ferror(f), err = errno;
    fclose(f);
    if (got != (size_t)n || failed) {
        free(bytes);
        return clnet_fail(CLNET_STATUS_IO_ERROR, "reading '%s': %zu of %ld bytes read (%s)", path,
                          got, n, failed ? strerror(err) : "the file shrank while being read");
    }
    *data = bytes;
    *size = (size_t)n;
    return CLNET_STATUS_OK;
}
