/* Helpers shared by the importers of other frameworks' files (import_onnx.c,
 * import_torch.c). */
#ifndef CLNET_IMPORT_UTIL_H
#define CLNET_IMPORT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Reads the whole file at path into *data (allocated, at least one byte even for an empty
 * file; the caller frees it) and its length into *size. A file over max_bytes (0: no limit) is
 * CLNET_STATUS_UNSUPPORTED, its message ending with limit, e.g. "ONNX files of at most 1 GiB". */
clnet_status clnet_import_read_file(const char *path, size_t max_bytes, const char *limit,
                                    uint8_t **data, size_t *size);

#endif
