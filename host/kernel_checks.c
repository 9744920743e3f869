/* Validation shared by the kernel launchers: that the data a launch will
 * touch lies inside its buffers and within the kernels' int indexing. */
#include "kernels.h"

#include <limits.h>

clnet_status clnet_check_extent(const char *op, const char *name, cl_mem buf, long long floats) {
    if (!buf)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "%s: the %s buffer is NULL", op, name);
    size_t bytes = 0;
    cl_int err = clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL);
    if (err != CL_SUCCESS)
        return clnet_fail(CLNET_STATUS_DEVICE_ERROR, "%s: querying the size of the %s buffer: %s",
                          op, name, clnet_cl_error_name(err));
    if ((unsigned long long)floats > bytes / sizeof(float))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: the %s needs %lld floats but its buffer holds %zu", op, name, floats,
                          bytes / sizeof(float));
    /* Limitation: kernels index with int, so data must end below 2^31 floats. */
    if (floats > INT_MAX)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "%s: the %s spans %lld floats, beyond int indexing", op, name, floats);
    return CLNET_STATUS_OK;
}


clnet_status clnet_check_view(const char *op, const char *name, clnet_dview v, int batch,
                              long long per_image) {
    if (v.offset < 0 || v.batch_stride < 0 || (batch > 1 && v.batch_stride < per_image))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "%s: the %s view (offset %d, batch stride %d) does not fit %d images of "
                          "%lld floats",
                          op, name, v.offset, v.batch_stride, batch, per_image);
    return clnet_check_extent(op, name, v.buf,
                              v.offset + (long long)(batch - 1) * v.batch_stride + per_image);
}
