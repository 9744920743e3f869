/* A reader of the subset of Python's pickle format that torch.save writes for state dicts: it
 * builds a tree of plain values and never calls anything a file names. */
#ifndef CLNET_TORCH_PICKLE_H
#define CLNET_TORCH_PICKLE_H

#include "error.h"

#include <stddef.h>
#include <stdint.h>

/* Most dimensions of a tensor the reader accepts. */
#define CLNET_PICKLE_MAX_RANK 8

typedef enum clnet_pickle_kind {
    CLNET_PICKLE_NONE = 0,
    CLNET_PICKLE_BOOL,
    CLNET_PICKLE_INT,
    CLNET_PICKLE_FLOAT,
    CLNET_PICKLE_STRING, /* str or bytes */
    CLNET_PICKLE_TUPLE,
    CLNET_PICKLE_LIST,
    CLNET_PICKLE_DICT,    /* dict or collections.OrderedDict */
    CLNET_PICKLE_GLOBAL,  /* an allowed class or function, not yet called */
    CLNET_PICKLE_STORAGE, /* a persistent id naming a storage of the file */
    CLNET_PICKLE_TENSOR   /* the result of torch._utils._rebuild_tensor(_v2) */
} clnet_pickle_kind;

/* Element types of torch storages (torch.FloatStorage, ...). */
typedef enum clnet_torch_dtype {
    CLNET_TORCH_FLOAT32 = 0,
    CLNET_TORCH_FLOAT64,
    CLNET_TORCH_FLOAT16,
    CLNET_TORCH_BFLOAT16,
    CLNET_TORCH_INT64,
    CLNET_TORCH_INT32,
    CLNET_TORCH_INT16,
    CLNET_TORCH_INT8,
    CLNET_TORCH_UINT8,
    CLNET_TORCH_BOOL,
    CLNET_TORCH_DTYPE_COUNT
} clnet_torch_dtype;

/* "float32", "int64", ... and the size of one element in bytes. */
const char *clnet_torch_dtype_name(clnet_torch_dtype dtype);
size_t clnet_torch_dtype_size(clnet_torch_dtype dtype);

typedef struct clnet_pickle_value clnet_pickle_value;

/* One value of the tree. Which fields mean something depends on kind. Values are owned by the
 * clnet_pickle that made them and may be shared (the pickle memo) or even form cycles. */
struct clnet_pickle_value {
    clnet_pickle_kind kind;
    int64_t integer; /* BOOL (0 or 1), INT; GLOBAL: which allowed name (the reader's own) */
    double real;     /* FLOAT */
    /* STRING: the bytes, NUL-terminated (len excludes the NUL; may hold NULs itself).
     * GLOBAL: "module.name". STORAGE: the storage key. */
    char *text;
    size_t len;
    /* TUPLE and LIST: count items. DICT: count key-value pairs stored as items[2 * i] and
     * items[2 * i + 1], in insertion order. */
    clnet_pickle_value **items;
    size_t count, capacity;
    /* STORAGE: element type and element count declared by the persistent id. */
    clnet_torch_dtype dtype;
    int64_t numel;
    /* TENSOR: a view of storage; offset and strides in elements. */
    const clnet_pickle_value *storage;
    int64_t offset;
    int rank;
    int64_t sizes[CLNET_PICKLE_MAX_RANK];
    int64_t strides[CLNET_PICKLE_MAX_RANK];
};

/* An arena holding the values of one or more pickles read from one file. */
typedef struct clnet_pickle clnet_pickle;

/* source names the file in messages. */
clnet_status clnet_pickle_create(const char *source, clnet_pickle **out);
void clnet_pickle_destroy(clnet_pickle *p);

/* Runs one pickle that starts at data[*pos], up to its STOP opcode, and sets *root to the value
 * it returns and *pos just past the STOP. The values stay valid until clnet_pickle_destroy(). A
 * global outside the reader's allow-list fails with CLNET_STATUS_UNSUPPORTED; a malformed or
 * truncated pickle with CLNET_STATUS_FORMAT_ERROR. */
clnet_status clnet_pickle_run(clnet_pickle *p, const uint8_t *data, size_t size, size_t *pos,
                              const clnet_pickle_value **root);

/* The storages named by persistent ids in every pickle run so far, in the order they were met;
 * one storage may appear several times. */
size_t clnet_pickle_storage_count(const clnet_pickle *p);
const clnet_pickle_value *clnet_pickle_storage_at(const clnet_pickle *p, size_t index);

/* The value a dict holds for a string key, or NULL. */
const clnet_pickle_value *clnet_pickle_dict_get(const clnet_pickle_value *dict, const char *key);

#endif
