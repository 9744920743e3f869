/* Reading CIFAR-10 binary batch files: records of one label byte followed
 * by a 3 x 32 x 32 planar RGB image. */
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    CIFAR_IMAGE_BYTES = 3 * 32 * 32,
    CIFAR_RECORD_BYTES = 1 + CIFAR_IMAGE_BYTES, /* 3,073 */
    CIFAR_CLASSES = 10
};

static clnet_status read_records(FILE *f, const char *path, int count, uint8_t *pixels,
                                 uint8_t *labels) {
    uint8_t record[CIFAR_RECORD_BYTES];
    for (int r = 0; r < count; r++) {
        if (fread(record, 1, sizeof record, f) != sizeof record)
            return clnet_fail(CLNET_STATUS_IO_ERROR, "reading record %d of CIFAR-10 file '%s': %s",
                              r, path, ferror(f) ? strerror(errno) : "the file ended early");
        /* A label of 10 or more means another format (CIFAR-100 records
         * carry two label bytes), whose pixels would be read shifted. */
        if (record[0] >= CIFAR_CLASSES)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "record %d of CIFAR-10 file '%s' has label %d; CIFAR-10 labels "
                              "are 0 to 9",
                              r, path, record[0]);
        labels[r] = record[0];
        memcpy(pixels + (size_t)r * CIFAR_IMAGE_BYTES, record + 1, CIFAR_IMAGE_BYTES);
    }
    return CLNET_STATUS_OK;
}

clnet_status clnet_cifar_read(const char *path, int limit, uint8_t **pixels, uint8_t **labels,
                              int *count) {
    if (!path || !pixels || !labels || !count)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_cifar_read: NULL argument");
    *pixels = NULL;
    *labels = NULL;
    *count = 0;
    if (limit < 0)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "reading CIFAR-10 file '%s': limit %d is negative (0 reads all)", path,
                          limit);

    FILE *f = fopen(path, "rb");
    if (!f)
        return clnet_fail(errno == ENOENT ? CLNET_STATUS_NOT_FOUND : CLNET_STATUS_IO_ERROR,
                          "cannot open CIFAR-10 file '%s': %s", path, strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        int err = errno;
        fclose(f);
        return clnet_fail(CLNET_STATUS_IO_ERROR, "finding the size of CIFAR-10 file '%s': %s", path,
                          strerror(err));
    }
    if (size == 0 || size % CIFAR_RECORD_BYTES != 0) {
        fclose(f);
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "CIFAR-10 file '%s' has %ld bytes, which is not a whole positive "
                          "number of %d-byte records (1 label byte + 3 x 32 x 32 pixels)",
                          path, size, CIFAR_RECORD_BYTES);
    }
    long records = size / CIFAR_RECORD_BYTES;
    if (records > INT32_MAX) {
        fclose(f);
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "CIFAR-10 file '%s' has %ld records, more than clnet reads at once", path,
                          records);
    }
    int n = limit > 0 && limit < records ? limit : (int)records;

    uint8_t *px = malloc((size_t)n * CIFAR_IMAGE_BYTES);
    uint8_t *lb = malloc((size_t)n);
    if (!px || !lb) {
        free(px);
        free(lb);
        fclose(f);
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                          "allocating %d CIFAR-10 images of '%s': out of memory", n, path);
    }
    clnet_status status = read_records(f, path, n, px, lb);
    fclose(f);
    if (status != CLNET_STATUS_OK) {
        free(px);
        free(lb);
        return status;
    }
    *pixels = px;
    *labels = lb;
    *count = n;
    return CLNET_STATUS_OK;
}
