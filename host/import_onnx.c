/* ONNX import: the protobuf is parsed by protobuf-c, shape arithmetic on
 * constants is folded, and every remaining node becomes a clnet layer. */
#include "import.h"
#include "import_util.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "onnx.pb-c.h"

/* Limitation: models over 1 GiB, and weights kept in external files, are
 * not read. */
#define MAX_FILE_BYTES (1L << 30)
/* Deeper nesting than any exporter writes (a graph inside an attribute
 * inside a node is three levels). */
#define MAX_NESTING 64
#define MAX_NODES (1 << 22)
/* Constants of higher rank do not occur in image classifiers. */
#define MAX_RANK 8
#define MAX_ELEMENTS 2147483647LL
#define MAX_DIM (1 << 24) /* clnet's largest tensor dimension */
#define MAX_NAME 200      /* longer node names are replaced by "<op>_<index>" */

/* The batch dimension when the model leaves it symbolic. Shapes read by
 * Shape nodes carry it, so that a Reshape to (batch, -1) is recognised as
 * a flatten. Far from any real dimension, and small enough that folding
 * cannot overflow with it. */
#define BATCH_SYMBOLIC (-(INT64_C(1) << 40))

/* ------------------------------------------------------------------------ */
/* Values: every named tensor of the ONNX graph                             */

typedef enum value_kind {
    VALUE_PENDING = 0, /* a node output not computed (yet) */
    VALUE_TENSOR,      /* computed per image: a clnet tensor */
    VALUE_CONST,       /* known at import time */
    VALUE_INITIALIZER  /* an initializer not converted yet */
} value_kind;

typedef struct value {
    const char *name; /* points into the parsed model */
    value_kind kind;
    int producer; /* node index; -1 for graph inputs and initializers */
    int uses;     /* reads by live nodes, plus graph outputs */
    int consumer; /* the first live node reading it, or -1 */
    /* ONNX shape. For tensors: rank 2 (N, F) or 4 (N, C, H, W), dims[0]
     * the batch. A rank-2 tensor is a rank-1 clnet tensor; a rank-4 one is
     * a rank-3 clnet tensor, or rank 1 when H = W = 1 (the output of a
     * global average pool). */
    int rank;
    int64_t dims[MAX_RANK];
    clnet_tensor tensor;
    /* Constants: int64 values (every integer type) or float ones. */
    int is_int;
    size_t count;
    float *f;
    int64_t *i;
    int borrowed; /* f or i belong to another value */
    const Onnx__TensorProto *proto; /* VALUE_INITIALIZER */
} value;

/* A string-keyed hash table of indices; keys are not copied. */
typedef struct name_map {
    const char **keys;
    int *vals;
    size_t cap, n;
} name_map;

typedef struct importer {
    const char *path;
    int64_t opset;
    const Onnx__GraphProto *graph;
    clnet_graph *g;
    value *values;
    size_t n_values;
    name_map map;
    int n_nodes;
    int *order;              /* nodes in topological order */
    unsigned char *live;     /* node contributes to an output */
    unsigned char *done;     /* node already imported as part of another */
    char **names;            /* layer name of each node */
    int64_t batch;           /* baked-in batch size, or BATCH_SYMBOLIC */
} importer;

static const char *str(const char *s) {
    return s ? s : "";
}

static uint64_t hash_string(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int map_get(const name_map *m, const char *key) {
    if (m->cap == 0)
        return -1;
    for (size_t k = hash_string(key) & (m->cap - 1);; k = (k + 1) & (m->cap - 1)) {
        if (!m->keys[k])
            return -1;
        if (strcmp(m->keys[k], key) == 0)
            return m->vals[k];
    }
}

/* Inserts key (which must be absent). */
static clnet_status map_put(name_map *m, const char *key, int val) {
    if (2 * (m->n + 1) > m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        const char **keys = calloc(cap, sizeof *keys);
        int *vals = calloc(cap, sizeof *vals);
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory indexing names");
        }
        for (size_t k = 0; k < m->cap; k++) {
            if (!m->keys[k])
                continue;
            size_t j = hash_string(m->keys[k]) & (cap - 1);
            while (keys[j])
                j = (j + 1) & (cap - 1);
            keys[j] = m->keys[k];
            vals[j] = m->vals[k];
        }
        free(m->keys);
        free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    size_t k = hash_string(key) & (m->cap - 1);
    while (m->keys[k])
        k = (k + 1) & (m->cap - 1);
    m->keys[k] = key;
    m->vals[k] = val;
    m->n++;
    return CLNET_STATUS_OK;
}

static void map_free(name_map *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* Dimensions as "(N, 3, 32, 32)", the symbolic batch written N. */
static const char *format_dims(const int64_t *dims, int rank, char *buf, size_t size) {
    size_t n = (size_t)snprintf(buf, size, "(");
    for (int k = 0; k < rank && n < size; k++) {
        if (dims[k] == BATCH_SYMBOLIC)
            n += (size_t)snprintf(buf + n, size - n, "%sN", k ? ", " : "");
        else
            n += (size_t)snprintf(buf + n, size - n, "%s%lld", k ? ", " : "",
                                  (long long)dims[k]);
    }
    if (n < size)
        snprintf(buf + n, size - n, ")");
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Reading and parsing the file                                             */

static clnet_status read_file(const char *path, uint8_t **data, size_t *size) {
    CLNET_TRY(clnet_import_read_file(path, MAX_FILE_BYTES, "ONNX files of at most 1 GiB", data,
                                     size));
    if (*size == 0) {
        free(*data);
        *data = NULL;
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "'%s' is empty", path);
    }
    return CLNET_STATUS_OK;
}

static int read_varint(const uint8_t *p, size_t end, size_t *pos, uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= end)
            return 0;
        uint8_t b = p[(*pos)++];
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 1;
        }
    }
    return 0;
}

enum { WIRE_OK = 0, WIRE_MALFORMED, WIRE_TOO_DEEP };

/* protobuf-c unpacks nested messages recursively with no depth limit, so a
 * small hostile file nesting graphs inside attributes could exhaust the
 * stack. This walk over the wire format, guided by the generated
 * descriptors, bounds the nesting before unpacking. */
static int check_nesting(const uint8_t *p, size_t begin, size_t end,
                         const ProtobufCMessageDescriptor *desc, int depth) {
    if (depth > MAX_NESTING)
        return WIRE_TOO_DEEP;
    size_t pos = begin;
    while (pos < end) {
        uint64_t key, v;
        if (!read_varint(p, end, &pos, &key))
            return WIRE_MALFORMED;
        switch (key & 7) {
        case 0:
            if (!read_varint(p, end, &pos, &v))
                return WIRE_MALFORMED;
            break;
        case 1:
            if (end - pos < 8)
                return WIRE_MALFORMED;
            pos += 8;
            break;
        case 5:
            if (end - pos < 4)
                return WIRE_MALFORMED;
            pos += 4;
            break;
        case 2: {
            if (!read_varint(p, end, &pos, &v) || v > end - pos)
                return WIRE_MALFORMED;
            uint64_t number = key >> 3;
            const ProtobufCFieldDescriptor *field =
                number <= 0x1fffffff
                    ? protobuf_c_message_descriptor_get_field(desc, (unsigned)number)
                    : NULL;
            if (field && field->type == PROTOBUF_C_TYPE_MESSAGE) {
                int r = check_nesting(p, pos, pos + (size_t)v, field->descriptor, depth + 1);
                if (r != WIRE_OK)
                    return r;
            }
            pos += (size_t)v;
            break;
        }
        default: /* groups are not used by ONNX */
            return WIRE_MALFORMED;
        }
    }
    return WIRE_OK;
}

static clnet_status parse_model(const char *path, const uint8_t *data, size_t size,
                                Onnx__ModelProto **out) {
    int r = check_nesting(data, 0, size, &onnx__model_proto__descriptor, 0);
    if (r == WIRE_TOO_DEEP)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "'%s' nests protobuf messages more than %d deep", path, MAX_NESTING);
    if (r == WIRE_MALFORMED)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "'%s' is not a valid ONNX protobuf: it is truncated or corrupted", path);
    *out = onnx__model_proto__unpack(NULL, size, data);
    if (!*out)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "'%s' is not a valid ONNX model: protobuf-c could not unpack it "
                          "(truncated, corrupted, or out of memory)",
                          path);
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Tensor protos: validation and conversion                                 */

/* Bytes per element in raw_data; 0 for types without a raw form. */
static size_t dtype_size(int32_t t) {
    switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: return 4;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: return 1;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return 1;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16: return 2;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: return 2;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return 4;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return 8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return 1;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: return 2;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: return 8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32: return 4;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: return 8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__COMPLEX64: return 8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__COMPLEX128: return 16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: return 2;
    default: return 0;
    }
}

static const char *dtype_name(int32_t t) {
    static const char *const names[] = {"undefined", "float",     "uint8",     "int8",
                                        "uint16",    "int16",     "int32",     "int64",
                                        "string",    "bool",      "float16",   "double",
                                        "uint32",    "uint64",    "complex64", "complex128",
                                        "bfloat16"};
    return t >= 0 && t <= 16 ? names[t] : "unknown";
}

static int dtype_is_float(int32_t t) {
    return t == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || t == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE ||
           t == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16 ||
           t == ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16;
}

static int dtype_is_int(int32_t t) {
    switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: return 1;
    default: return 0;
    }
}

/* How many values a typed field holds for this data type. */
static size_t typed_count(const Onnx__TensorProto *t) {
    switch (t->data_type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
    case ONNX__TENSOR_PROTO__DATA_TYPE__COMPLEX64: return t->n_float_data;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return t->n_int64_data;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
    case ONNX__TENSOR_PROTO__DATA_TYPE__COMPLEX128: return t->n_double_data;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: return t->n_uint64_data;
    case ONNX__TENSOR_PROTO__DATA_TYPE__STRING: return t->n_string_data;
    default: return t->n_int32_data;
    }
}

static size_t other_typed_counts(const Onnx__TensorProto *t) {
    return t->n_float_data + t->n_int64_data + t->n_double_data + t->n_uint64_data +
           t->n_string_data + t->n_int32_data - typed_count(t);
}

/* Checks a tensor's type, dimensions and data size. what names it. */
static clnet_status tensor_check(const Onnx__TensorProto *t, const char *what, size_t *count) {
    char dims[160];
    int32_t type = t->has_data_type ? t->data_type : 0;
    if (type <= 0 || type > ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "%s has unknown data type %d", what,
                          (int)type);
    if (t->n_dims > MAX_RANK)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "%s has rank %zu; clnet reads constants of "
                          "rank %d at most", what, t->n_dims, MAX_RANK);
    int64_t n = 1;
    for (size_t k = 0; k < t->n_dims; k++) {
        if (t->dims[k] < 0 || (t->dims[k] > 0 && n > MAX_ELEMENTS / t->dims[k]))
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "%s has dimensions %s: negative, or more than 2^31 elements", what,
                              format_dims(t->dims, (int)t->n_dims, dims, sizeof dims));
        n *= t->dims[k];
    }
    format_dims(t->dims, (int)t->n_dims, dims, sizeof dims);
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "%s keeps its data in an external file, which clnet does not read",
                          what);
    if (t->segment)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "%s is a segment of a larger tensor", what);
    if (type == ONNX__TENSOR_PROTO__DATA_TYPE__STRING)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "%s holds strings", what);

    size_t element = dtype_size(type);
    if (t->has_raw_data) {
        if (other_typed_counts(t) + typed_count(t) > 0)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "%s has both raw_data and typed data fields", what);
        if (t->raw_data.len != (size_t)n * element)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "%s: raw_data holds %zu bytes, but dimensions %s of %s need %zu",
                              what, t->raw_data.len, dims, dtype_name(type),
                              (size_t)n * element);
    } else {
        size_t per = type == ONNX__TENSOR_PROTO__DATA_TYPE__COMPLEX64 ||
                             type == ONNX__TENSOR_PROTO__DATA_TYPE__COMPLEX128
                         ? 2
                         : 1;
        if (typed_count(t) != (size_t)n * per || other_typed_counts(t) > 0)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "%s holds %zu %s values, but its dimensions %s need %lld", what,
                              typed_count(t), dtype_name(type), dims, (long long)n);
    }
    *count = (size_t)n;
    return CLNET_STATUS_OK;
}

static uint64_t load_le(const uint8_t *p, size_t size) {
    uint64_t v = 0;
    for (size_t k = 0; k < size; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

static float half_to_float(uint16_t h) {
    int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    float v;
    if (exponent == 0)
        v = ldexpf((float)mantissa, -24);
    else if (exponent == 31)
        v = mantissa ? NAN : INFINITY;
    else
        v = ldexpf((float)(mantissa | 0x400), exponent - 25);
    return (h & 0x8000) ? -v : v;
}

static float bits_to_float(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Element k of a validated tensor, as a double (floats) or int64. */
static void tensor_element(const Onnx__TensorProto *t, size_t k, double *fv, int64_t *iv) {
    int32_t type = t->data_type;
    uint64_t bits = 0;
    int raw = t->has_raw_data;
    if (raw) {
        size_t size = dtype_size(type);
        bits = load_le(t->raw_data.data + k * size, size);
    }
    switch (type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        *fv = raw ? bits_to_float((uint32_t)bits) : t->float_data[k];
        return;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        if (raw)
            memcpy(fv, &bits, sizeof *fv);
        else
            *fv = t->double_data[k];
        return;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
        *fv = half_to_float((uint16_t)(raw ? bits : (uint32_t)t->int32_data[k]));
        return;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
        *fv = bits_to_float((uint32_t)(raw ? bits : (uint32_t)t->int32_data[k]) << 16);
        return;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        *iv = raw ? (int64_t)bits : t->int64_data[k];
        return;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64:
        /* Values above INT64_MAX wrap; no shape or index is that large. */
        *iv = (int64_t)(raw ? bits : t->uint64_data[k]);
        return;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
        *iv = raw ? (int8_t)bits : t->int32_data[k];
        return;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:
        *iv = raw ? (int16_t)bits : t->int32_data[k];
        return;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
        *iv = raw ? (int32_t)bits : t->int32_data[k];
        return;
    default: /* uint8, uint16, bool */
        *iv = raw ? (int64_t)bits : t->int32_data[k];
        return;
    }
}

static void const_release(value *v) {
    if (!v->borrowed) {
        free(v->f);
        free(v->i);
    }
    v->f = NULL;
    v->i = NULL;
    v->borrowed = 0;
}

/* Makes v a constant of the given shape with fresh (zeroed) storage. */
static clnet_status const_alloc(value *v, int is_int, int rank, const int64_t *dims) {
    int64_t n = 1;
    for (int k = 0; k < rank; k++) {
        if (dims[k] < 0 || (dims[k] > 0 && n > MAX_ELEMENTS / dims[k]))
            return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                              "folding '%s' would make a constant of more than 2^31 elements",
                              v->name);
        n *= dims[k];
    }
    const_release(v);
    v->kind = VALUE_CONST;
    v->is_int = is_int;
    v->rank = rank;
    for (int k = 0; k < rank; k++)
        v->dims[k] = dims[k];
    v->count = (size_t)n;
    /* One extra element keeps calloc away from a size of 0. */
    if (is_int)
        v->i = calloc((size_t)n + 1, sizeof *v->i);
    else
        v->f = calloc((size_t)n + 1, sizeof *v->f);
    if (is_int ? !v->i : !v->f)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                          "out of host memory for constant '%s' (%lld elements)", v->name,
                          (long long)n);
    return CLNET_STATUS_OK;
}

/* Converts a tensor proto (validated or not) into constant v. */
static clnet_status const_from_proto(value *v, const Onnx__TensorProto *t, const char *what) {
    size_t count;
    CLNET_TRY(tensor_check(t, what, &count));
    int32_t type = t->data_type;
    if (!dtype_is_float(type) && !dtype_is_int(type))
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "%s has data type %s, which clnet does not "
                          "read", what, dtype_name(type));
    int64_t dims[MAX_RANK];
    for (size_t k = 0; k < t->n_dims; k++)
        dims[k] = t->dims[k];
    CLNET_TRY(const_alloc(v, dtype_is_int(type), (int)t->n_dims, dims));
    for (size_t k = 0; k < count; k++) {
        double fv = 0;
        int64_t iv = 0;
        tensor_element(t, k, &fv, &iv);
        if (v->is_int)
            v->i[k] = iv;
        else
            v->f[k] = (float)fv;
    }
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Nodes: attributes, inputs and outputs                                    */

static int attr_type(const Onnx__AttributeProto *a) {
    if (a->has_type)
        return a->type;
    /* Files of the first IR versions carry no type: infer it. */
    if (a->has_f)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    if (a->has_i)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    if (a->has_s)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    if (a->t)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    if (a->n_floats)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    if (a->n_ints)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED;
}

static const Onnx__AttributeProto *find_attr(const Onnx__NodeProto *n, const char *name) {
    for (size_t k = 0; k < n->n_attribute; k++)
        if (strcmp(str(n->attribute[k]->name), name) == 0)
            return n->attribute[k];
    return NULL;
}

/* Rejects attributes outside `allowed` (NULL-terminated). */
static clnet_status check_attrs(const Onnx__NodeProto *n, const char *const *allowed) {
    for (size_t k = 0; k < n->n_attribute; k++) {
        const Onnx__AttributeProto *a = n->attribute[k];
        const char *name = str(a->name);
        if (!name[0])
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "attribute %zu has no name", k);
        if (a->ref_attr_name && a->ref_attr_name[0])
            return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                              "attribute '%s' refers to a function attribute", name);
        for (size_t j = 0; j < k; j++)
            if (strcmp(str(n->attribute[j]->name), name) == 0)
                return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "attribute '%s' appears twice",
                                  name);
        int known = 0;
        for (const char *const *p = allowed; *p && !known; p++)
            known = strcmp(*p, name) == 0;
        if (!known)
            return clnet_fail(CLNET_STATUS_UNSUPPORTED, "attribute '%s' is not supported",
                              name);
    }
    return CLNET_STATUS_OK;
}

static clnet_status attr_int(const Onnx__NodeProto *n, const char *name, int64_t def,
                             int64_t *out) {
    const Onnx__AttributeProto *a = find_attr(n, name);
    *out = def;
    if (!a)
        return CLNET_STATUS_OK;
    if (attr_type(a) != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "attribute '%s' should be an integer", name);
    *out = a->i;
    return CLNET_STATUS_OK;
}

static clnet_status attr_float(const Onnx__NodeProto *n, const char *name, float def,
                               float *out) {
    const Onnx__AttributeProto *a = find_attr(n, name);
    *out = def;
    if (!a)
        return CLNET_STATUS_OK;
    if (attr_type(a) != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "attribute '%s' should be a float", name);
    *out = a->f;
    return CLNET_STATUS_OK;
}

/* An integer list of at most max entries; *count is -1 when absent. */
static clnet_status attr_ints(const Onnx__NodeProto *n, const char *name, int max,
                              int64_t *out, int *count) {
    const Onnx__AttributeProto *a = find_attr(n, name);
    *count = -1;
    if (!a)
        return CLNET_STATUS_OK;
    if (attr_type(a) != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "attribute '%s' should be a list of "
                          "integers", name);
    if (a->n_ints > (size_t)max)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "attribute '%s' has %zu values; at most %d "
                          "are supported", name, a->n_ints, max);
    for (size_t k = 0; k < a->n_ints; k++)
        out[k] = a->ints[k];
    *count = (int)a->n_ints;
    return CLNET_STATUS_OK;
}

static clnet_status attr_string(const Onnx__NodeProto *n, const char *name, const char *def,
                                char *buf, size_t size) {
    const Onnx__AttributeProto *a = find_attr(n, name);
    snprintf(buf, size, "%s", def);
    if (!a)
        return CLNET_STATUS_OK;
    if (attr_type(a) != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "attribute '%s' should be a string", name);
    size_t len = a->s.len < size - 1 ? a->s.len : size - 1;
    if (len)
        memcpy(buf, a->s.data, len);
    buf[len] = '\0';
    return CLNET_STATUS_OK;
}

static value *node_input(importer *im, const Onnx__NodeProto *n, size_t k) {
    if (k >= n->n_input || !n->input[k] || !n->input[k][0])
        return NULL;
    return &im->values[map_get(&im->map, n->input[k])];
}

static value *node_output(importer *im, const Onnx__NodeProto *n, size_t k) {
    if (k >= n->n_output || !n->output[k] || !n->output[k][0])
        return NULL;
    return &im->values[map_get(&im->map, n->output[k])];
}

/* Converts an initializer on first use. */
static clnet_status materialize(value *v) {
    if (v->kind != VALUE_INITIALIZER)
        return CLNET_STATUS_OK;
    char what[300];
    snprintf(what, sizeof what, "initializer '%.200s'", v->name);
    return const_from_proto(v, v->proto, what);
}

static clnet_status available(importer *im, const value *v) {
    if (v->kind != VALUE_PENDING)
        return CLNET_STATUS_OK;
    const Onnx__NodeProto *p = im->graph->node[v->producer];
    return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                      "reads '%s', an output of node '%s' (%s) that clnet does not compute",
                      v->name, im->names[v->producer], str(p->op_type));
}

/* Input k, which must be present; any kind. */
static clnet_status get_any(importer *im, const Onnx__NodeProto *n, size_t k, const char *what,
                            value **out) {
    value *v = node_input(im, n, k);
    if (!v)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "input %zu (%s) is missing", k, what);
    CLNET_TRY(available(im, v));
    CLNET_TRY(materialize(v));
    *out = v;
    return CLNET_STATUS_OK;
}

/* Input k, a tensor computed from the graph's inputs. */
static clnet_status get_tensor(importer *im, const Onnx__NodeProto *n, size_t k,
                               const char *what, value **out) {
    CLNET_TRY(get_any(im, n, k, what, out));
    if ((*out)->kind != VALUE_TENSOR)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "input %s '%s' is a constant; clnet only imports this operator on "
                          "tensors computed from the graph's inputs",
                          what, (*out)->name);
    return CLNET_STATUS_OK;
}

/* Input k, a constant (an initializer, or something folded). */
static clnet_status get_const(importer *im, const Onnx__NodeProto *n, size_t k, const char *what,
                              value **out) {
    CLNET_TRY(get_any(im, n, k, what, out));
    if ((*out)->kind != VALUE_CONST)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "input %s '%s' is computed from the graph's inputs; clnet needs a "
                          "constant there",
                          what, (*out)->name);
    return CLNET_STATUS_OK;
}

/* Like get_const, but an absent input gives NULL. */
static clnet_status opt_const(importer *im, const Onnx__NodeProto *n, size_t k, const char *what,
                              value **out) {
    *out = NULL;
    if (!node_input(im, n, k))
        return CLNET_STATUS_OK;
    return get_const(im, n, k, what, out);
}

static clnet_status const_float(const value *v, const char *what) {
    if (v->is_int)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "%s '%s' holds integers where clnet needs "
                          "floats", what, v->name);
    return CLNET_STATUS_OK;
}

static clnet_status const_int(const value *v, const char *what) {
    if (!v->is_int)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "%s '%s' holds floats where integers are "
                          "expected", what, v->name);
    return CLNET_STATUS_OK;
}

/* A single-element float constant. */
static clnet_status const_scalar(const value *v, const char *what, float *out) {
    CLNET_TRY(const_float(v, what));
    if (v->count != 1)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "%s '%s' should hold one value, not %zu",
                          what, v->name, v->count);
    *out = v->f[0];
    return CLNET_STATUS_OK;
}

/* An integer list from an attribute (before `opset_moved`) or from input
 * k (from that opset on). *count is -1 when absent. */
static clnet_status int_list(importer *im, const Onnx__NodeProto *n, const char *name,
                             int64_t opset_moved, size_t k, int max, int64_t *out, int *count) {
    if (im->opset < opset_moved)
        return attr_ints(n, name, max, out, count);
    value *v;
    *count = -1;
    CLNET_TRY(opt_const(im, n, k, name, &v));
    if (!v)
        return CLNET_STATUS_OK;
    CLNET_TRY(const_int(v, name));
    if (v->rank > 1 || v->count > (size_t)max)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "input '%s' (%s) should be a list of at most %d integers", v->name,
                          name, max);
    for (size_t j = 0; j < v->count; j++)
        out[j] = v->i[j];
    *count = (int)v->count;
    return CLNET_STATUS_OK;
}

static clnet_status small_int(int64_t v, int lo, int hi, const char *what, int *out) {
    if (v < lo || v > hi)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "%s %lld is outside [%d, %d]", what,
                          (long long)v, lo, hi);
    *out = (int)v;
    return CLNET_STATUS_OK;
}

/* Turns a possibly negative axis into [0, rank). */
static clnet_status norm_axis(int64_t axis, int rank, const char *what, int *out) {
    if (axis < -rank || axis >= rank)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "%s %lld is outside a rank-%d tensor", what,
                          (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Tensors and layers                                                       */

/* Makes v the clnet tensor t with an ONNX shape of onnx_rank derived from
 * t's clnet shape. */
static clnet_status set_tensor(importer *im, value *v, clnet_tensor t, int onnx_rank) {
    clnet_shape s;
    CLNET_TRY(clnet_tensor_shape(im->g, t, &s));
    const_release(v);
    v->kind = VALUE_TENSOR;
    v->tensor = t;
    v->rank = onnx_rank;
    v->dims[0] = im->batch;
    if (onnx_rank == 4) {
        v->dims[1] = s.c;
        v->dims[2] = s.rank == 3 ? s.h : 1;
        v->dims[3] = s.rank == 3 ? s.w : 1;
    } else {
        v->dims[1] = (int64_t)clnet_shape_size(s);
    }
    return CLNET_STATUS_OK;
}

/* Makes dst the same tensor or constant as src (constants share data). */
static void alias(value *dst, const value *src) {
    const_release(dst);
    dst->kind = src->kind;
    dst->rank = src->rank;
    memcpy(dst->dims, src->dims, sizeof dst->dims);
    dst->tensor = src->tensor;
    dst->is_int = src->is_int;
    dst->count = src->count;
    dst->f = src->f;
    dst->i = src->i;
    dst->borrowed = 1;
    dst->proto = src->proto;
}

static clnet_status tensor_rank(importer *im, const value *v, int *rank) {
    clnet_shape s;
    CLNET_TRY(clnet_tensor_shape(im->g, v->tensor, &s));
    *rank = s.rank;
    return CLNET_STATUS_OK;
}

/* A layer name for node ni: its own, or with a suffix for a second layer. */
static clnet_status layer_name(importer *im, int ni, char *buf, size_t size) {
    clnet_layer *existing;
    snprintf(buf, size, "%s", im->names[ni]);
    for (int k = 2; clnet_graph_find_layer(im->g, buf, &existing) == CLNET_STATUS_OK; k++)
        snprintf(buf, size, "%s_%d", im->names[ni], k);
    clnet_clear_error();
    return CLNET_STATUS_OK;
}

/* Tensors that spatial layers take: ONNX (N, C, H, W) held as rank 3. */
static clnet_status need_spatial(importer *im, const value *x) {
    int r;
    CLNET_TRY(tensor_rank(im, x, &r));
    char dims[160];
    if (x->rank != 4)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "input '%s' has shape %s; this operator needs (N, C, H, W)", x->name,
                          format_dims(x->dims, x->rank, dims, sizeof dims));
    if (r != 3)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "input '%s' is the flat output of a global pooling; clnet cannot "
                          "apply spatial layers to it",
                          x->name);
    return CLNET_STATUS_OK;
}

/* The flat (N, F) view of tensor x, in ONNX's row-major order, which is
 * clnet's flatten order. */
static clnet_status to_flat(importer *im, int ni, const value *x, value *out) {
    int r;
    CLNET_TRY(tensor_rank(im, x, &r));
    if (r == 1) {
        alias(out, x);
        out->rank = 2;
        out->dims[1] = (int64_t)x->dims[1] * (x->rank == 4 ? x->dims[2] * x->dims[3] : 1);
        return CLNET_STATUS_OK;
    }
    char name[MAX_NAME + 80];
    CLNET_TRY(layer_name(im, ni, name, sizeof name));
    clnet_layer *layer;
    clnet_tensor y;
    CLNET_TRY(clnet_layer_flatten(im->g, name, &layer));
    CLNET_TRY(clnet_layer_call1(layer, x->tensor, &y));
    return set_tensor(im, out, y, 2);
}

static int same_shape(const value *a, const value *b) {
    if (a->rank != b->rank)
        return 0;
    for (int k = 1; k < a->rank; k++)
        if (a->dims[k] != b->dims[k])
            return 0;
    return 1;
}

/* Calls a parameterless layer on tensors that have the same ONNX shape,
 * giving them all the same clnet rank first. */
static clnet_status call_same_rank(importer *im, int ni, clnet_layer *layer, value **in, int n,
                                   clnet_tensor *y) {
    int ranks[64], any_flat = 0;
    clnet_tensor t[64];
    if (n > 64)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "%d inputs; clnet imports at most 64", n);
    for (int k = 0; k < n; k++) {
        CLNET_TRY(tensor_rank(im, in[k], &ranks[k]));
        any_flat |= ranks[k] == 1;
        t[k] = in[k]->tensor;
    }
    for (int k = 0; k < n && any_flat; k++)
        if (ranks[k] != 1) {
            value flat;
            memset(&flat, 0, sizeof flat);
            flat.name = in[k]->name;
            CLNET_TRY(to_flat(im, ni, in[k], &flat));
            t[k] = flat.tensor;
        }
    return clnet_layer_call(layer, t, n, y);
}

/* ------------------------------------------------------------------------ */
/* Window geometry                                                          */

/* Pads of one axis under ONNX auto_pad. */
static clnet_status resolve_pads(const char *auto_pad, int in, int k, int stride, int dilation,
                                 int64_t before, int64_t after, int *pb, int *pe) {
    if (strcmp(auto_pad, "NOTSET") == 0 || auto_pad[0] == '\0') {
        CLNET_TRY(small_int(before, 0, MAX_DIM, "padding", pb));
        CLNET_TRY(small_int(after, 0, MAX_DIM, "padding", pe));
    } else if (strcmp(auto_pad, "VALID") == 0) {
        *pb = *pe = 0;
    } else if (strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0) {
        /* The output keeps ceil(in / stride) pixels; the odd pixel of
         * padding goes after (SAME_UPPER) or before (SAME_LOWER). */
        int64_t out = ((int64_t)in + stride - 1) / stride;
        int64_t total = (out - 1) * stride + (int64_t)(k - 1) * dilation + 1 - in;
        if (total < 0)
            total = 0;
        int64_t small = total / 2;
        int upper = auto_pad[5] == 'U';
        *pb = (int)(upper ? small : total - small);
        *pe = (int)(upper ? total - small : small);
    } else {
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "auto_pad '%s' is not supported", auto_pad);
    }
    return CLNET_STATUS_OK;
}

typedef struct window2d {
    int kh, kw, sh, sw, dh, dw;
    int top, bottom, left, right;
} window2d;

/* Reads kernel_shape (or uses kernel), strides, dilations, pads and
 * auto_pad of a 2-D window over input x. */
static clnet_status read_window(const Onnx__NodeProto *n, const value *x, const int *kernel,
                                int with_dilations, window2d *w) {
    int64_t v[4];
    int count;
    CLNET_TRY(attr_ints(n, "kernel_shape", 2, v, &count));
    if (count >= 0 && count != 2)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "kernel_shape has %d values; clnet imports "
                          "2-D windows", count);
    if (count < 0 && !kernel)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "attribute 'kernel_shape' is missing");
    if (count == 2) {
        CLNET_TRY(small_int(v[0], 1, MAX_DIM, "kernel height", &w->kh));
        CLNET_TRY(small_int(v[1], 1, MAX_DIM, "kernel width", &w->kw));
        if (kernel && (w->kh != kernel[0] || w->kw != kernel[1]))
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "kernel_shape (%d, %d) disagrees with the weight's (%d, %d)", w->kh,
                              w->kw, kernel[0], kernel[1]);
    } else {
        w->kh = kernel[0];
        w->kw = kernel[1];
    }

    CLNET_TRY(attr_ints(n, "strides", 2, v, &count));
    if (count >= 0 && count != 2)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "strides has %d values, 2 expected", count);
    w->sh = w->sw = 1;
    if (count == 2) {
        CLNET_TRY(small_int(v[0], 1, MAX_DIM, "stride", &w->sh));
        CLNET_TRY(small_int(v[1], 1, MAX_DIM, "stride", &w->sw));
    }

    w->dh = w->dw = 1;
    if (with_dilations) {
        CLNET_TRY(attr_ints(n, "dilations", 2, v, &count));
        if (count >= 0 && count != 2)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "dilations has %d values, 2 expected",
                              count);
        if (count == 2) {
            CLNET_TRY(small_int(v[0], 1, MAX_DIM, "dilation", &w->dh));
            CLNET_TRY(small_int(v[1], 1, MAX_DIM, "dilation", &w->dw));
        }
    }

    int64_t pads[4] = {0, 0, 0, 0};
    CLNET_TRY(attr_ints(n, "pads", 4, pads, &count));
    if (count >= 0 && count != 4)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "pads has %d values, 4 expected", count);
    char auto_pad[32];
    CLNET_TRY(attr_string(n, "auto_pad", "NOTSET", auto_pad, sizeof auto_pad));
    if (strcmp(auto_pad, "NOTSET") != 0 && count == 4 &&
        (pads[0] || pads[1] || pads[2] || pads[3]))
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "both pads and auto_pad '%s' are given",
                          auto_pad);
    /* ONNX orders pads as (top, left, bottom, right). */
    CLNET_TRY(resolve_pads(auto_pad, (int)x->dims[2], w->kh, w->sh, w->dh, pads[0], pads[2],
                           &w->top, &w->bottom));
    CLNET_TRY(resolve_pads(auto_pad, (int)x->dims[3], w->kw, w->sw, w->dw, pads[1], pads[3],
                           &w->left, &w->right));
    return CLNET_STATUS_OK;
}

/* ceil_mode: adds trailing padding so that the floor rule used by clnet
 * gives ceil's output size. */
static clnet_status apply_ceil_mode(int in, int k, int stride, int before, int *after) {
    int64_t span = (int64_t)in + before + *after - k;
    if (span < 0)
        return CLNET_STATUS_OK; /* the window does not fit; clnet reports it */
    int64_t out = (span + stride - 1) / stride + 1;
    if ((out - 1) * stride >= (int64_t)in + before)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "ceil_mode would start the last window in the padding");
    *after += (int)((out - 1) * stride + k - ((int64_t)in + before + *after));
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Operators on computed tensors                                            */

static clnet_status import_conv(importer *im, int ni, const Onnx__NodeProto *n) {
    static const char *const attrs[] = {"auto_pad", "dilations", "group", "kernel_shape",
                                        "pads",     "strides",   NULL};
    CLNET_TRY(check_attrs(n, attrs));
    value *x, *w, *b;
    CLNET_TRY(get_tensor(im, n, 0, "X", &x));
    CLNET_TRY(get_const(im, n, 1, "W", &w));
    CLNET_TRY(opt_const(im, n, 2, "B", &b));
    int64_t group;
    CLNET_TRY(attr_int(n, "group", 1, &group));
    /* Limitation: grouped and depthwise convolutions are not imported. */
    if (group != 1)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "attribute 'group' = %lld is not supported: clnet convolutions are "
                          "not grouped (group 1 only)",
                          (long long)group);
    CLNET_TRY(need_spatial(im, x));
    CLNET_TRY(const_float(w, "weight"));
    char dims[160];
    if (w->rank != 4)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "weight '%s' has shape %s; clnet imports 2-D convolutions, whose "
                          "weight is (M, C, kH, kW)",
                          w->name, format_dims(w->dims, w->rank, dims, sizeof dims));
    if (w->dims[1] != x->dims[1])
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "weight '%s' of shape %s expects %lld input channels; the input has "
                          "%lld",
                          w->name, format_dims(w->dims, 4, dims, sizeof dims),
                          (long long)w->dims[1], (long long)x->dims[1]);
    int filters = 0, kernel[2] = {0, 0};
    CLNET_TRY(small_int(w->dims[0], 1, MAX_DIM, "output channel count", &filters));
    CLNET_TRY(small_int(w->dims[2], 1, MAX_DIM, "kernel height", &kernel[0]));
    CLNET_TRY(small_int(w->dims[3], 1, MAX_DIM, "kernel width", &kernel[1]));
    if (b) {
        CLNET_TRY(const_float(b, "bias"));
        if (b->count != (size_t)filters)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "bias '%s' has %zu values for %d "
                              "output channels", b->name, b->count, filters);
    }
    window2d win;
    CLNET_TRY(read_window(n, x, kernel, 1, &win));

    clnet_conv2d_desc d = clnet_conv2d_defaults(filters, kernel[0]);
    d.kernel_w = kernel[1];
    d.stride_h = win.sh;
    d.stride_w = win.sw;
    d.dilation_h = win.dh;
    d.dilation_w = win.dw;
    d.padding = CLNET_PADDING_EXPLICIT;
    d.pad_top = win.top;
    d.pad_bottom = win.bottom;
    d.pad_left = win.left;
    d.pad_right = win.right;
    d.use_bias = b != NULL;
    char name[MAX_NAME + 80];
    CLNET_TRY(layer_name(im, ni, name, sizeof name));
    clnet_layer *layer;
    clnet_tensor y;
    CLNET_TRY(clnet_layer_conv2d(im->g, name, &d, &layer));
    CLNET_TRY(clnet_layer_call1(layer, x->tensor, &y));
    CLNET_TRY(clnet_layer_set_weight(layer, "kernel", w->f, w->count));
    if (b)
        CLNET_TRY(clnet_layer_set_weight(layer, "bias", b->f, b->count));
    return set_tensor(im, node_output(im, n, 0), y, 4);
}

/* Finishes a shape-preserving layer: calls it on x and gives output 0. */
static clnet_status unary_layer(importer *im, const Onnx__NodeProto *n, clnet_layer *layer,
                                const value *x) {
    clnet_tensor y;
    CLNET_TRY(clnet_layer_call1(layer, x->tensor, &y));
    value *out = node_output(im, n, 0);
    CLNET_TRY(set_tensor(im, out, y, x->rank));
    memcpy(out->dims, x->dims, sizeof out->dims);
    return CLNET_STATUS_OK;
}

static clnet_status import_batchnorm(importer *im, int ni, const Onnx__NodeProto *n) {
    static const char *const attrs[] = {"epsilon", "momentum", "spatial", "training_mode", NULL};
    CLNET_TRY(check_attrs(n, attrs));
    value *x, *p[4];
    static const char *const roles[4] = {"scale", "B", "mean", "var"};
    static const char *const weights[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
    CLNET_TRY(get_tensor(im, n, 0, "X", &x));
    for (int k = 0; k < 4; k++) {
        CLNET_TRY(get_const(im, n, (size_t)k + 1, roles[k], &p[k]));
        CLNET_TRY(const_float(p[k], roles[k]));
        if (p[k]->count != (size_t)x->dims[1])
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "%s '%s' has %zu values for %lld "
                              "channels", roles[k], p[k]->name, p[k]->count,
                              (long long)x->dims[1]);
    }
    int64_t spatial, training;
    float epsilon;
    CLNET_TRY(attr_int(n, "spatial", 1, &spatial));
    CLNET_TRY(attr_int(n, "training_mode", 0, &training));
    CLNET_TRY(attr_float(n, "epsilon", 1e-5f, &epsilon));
    if (spatial != 1)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "attribute 'spatial' = %lld is not "
                          "supported: clnet normalises per channel", (long long)spatial);
    if (training != 0)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "attribute 'training_mode' = %lld: clnet "
                          "imports inference batch normalisation only", (long long)training);
    if (!(epsilon >= 0) || !isfinite(epsilon))
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "epsilon %g is not a non-negative number",
                          (double)epsilon);
    char name[MAX_NAME + 80];
    CLNET_TRY(layer_name(im, ni, name, sizeof name));
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_batchnorm(im->g, name, epsilon, &layer));
    CLNET_TRY(unary_layer(im, n, layer, x));
    for (int k = 0; k < 4; k++)
        CLNET_TRY(clnet_layer_set_weight(layer, weights[k], p[k]->f, p[k]->count));
    return CLNET_STATUS_OK;
}

static clnet_status import_activation(importer *im, int ni, const Onnx__NodeProto *n) {
    static const char *const attrs[] = {NULL};
    CLNET_TRY(check_attrs(n, attrs));
    value *x;
    CLNET_TRY(get_tensor(im, n, 0, "X", &x));
    clnet_activation act =
        strcmp(n->op_type, "Relu") == 0 ? CLNET_ACT_RELU : CLNET_ACT_SIGMOID;
    char name[MAX_NAME + 80];
    CLNET_TRY(layer_name(im, ni, name, sizeof name));
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_activation(im->g, name, act, &layer));
    return unary_layer(im, n, layer, x);
}

static clnet_status import_clip(importer *im, int ni, const Onnx__NodeProto *n) {
    static const char *const old_attrs[] = {"min", "max", NULL};
    static const char *const attrs[] = {NULL};
    CLNET_TRY(check_attrs(n, im->opset < 11 ? old_attrs : attrs));
    value *x;
    CLNET_TRY(get_tensor(im, n, 0, "input", &x));
    /* The defaults are the float limits, as in onnxruntime. */
    float lo = -FLT_MAX, hi = FLT_MAX;
    if (im->opset < 11) {
        CLNET_TRY(attr_float(n, "min", -FLT_MAX, &lo));
        CLNET_TRY(attr_float(n, "max", FLT_MAX, &hi));
    } else {
        value *vmin, *vmax;
        CLNET_TRY(opt_const(im, n, 1, "min", &vmin));
        CLNET_TRY(opt_const(im, n, 2, "max", &vmax));
        if (vmin)
            CLNET_TRY(const_scalar(vmin, "min", &lo));
        if (vmax)
            CLNET_TRY(const_scalar(vmax, "max", &hi));
    }
    char name[MAX_NAME + 80];
    CLNET_TRY(layer_name(im, ni, name, sizeof name));
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_clip(im->g, name, lo, hi, &layer));
    return unary_layer(im, n, layer, x);
}

static clnet_status import_softmax(importer *im, int ni, const Onnx__NodeProto *n) {
    static const char *const attrs[] = {"axis", NULL};
    CLNET_TRY(check_attrs(n, attrs));
    value *x;
    CLNET_TRY(get_tensor(im, n, 0, "input", &x));
    int64_t axis;
    CLNET_TRY(attr_int(n, "axis", im->opset < 13 ? 1 : -1, &axis));
    int a = 0;
    CLNET_TRY(norm_axis(axis, x->rank, "axis", &a));
    /* clnet's softmax runs over channels. Before opset 13 ONNX flattens
     * everything from the axis on; from 13 it uses that one axis. */
    int ok = a == 1 && (x->rank == 2 || im->opset >= 13 || (x->dims[2] == 1 && x->dims[3] == 1));
    if (!ok) {
        char dims[160];
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "softmax over axis %lld of a %s tensor in opset %lld: clnet takes "
                          "softmax over channels only",
                          (long long)axis, format_dims(x->dims, x->rank, dims, sizeof dims),
                          (long long)im->opset);
    }
    char name[MAX_NAME + 80];
    CLNET_TRY(layer_name(im, ni, name, sizeof name));
    clnet_layer *layer;
    CLNET_TRY(clnet_layer_softmax(im->g, name, &layer));
    return unary_layer(im, n, layer, x);
}

/* Per-channel values of a constant broadcast against tensor t: c must be
 * constant over everything but the channel axis (axis 1). */
static clnet_status per_channel(const value *t, const value *c, float *vals) {
    char td[160], cd[160];
    int r = t->rank;
    int channels = (int)t->dims[1];
    int per = 0;
    int ok = c->rank <= r;
    for (int j = 0; j < r && ok; j++) {
        int64_t d = j >= r - c->rank ? c->dims[j - (r - c->rank)] : 1;
        if (j == 1 && d == channels && channels != 1)
            per = 1;
        else if (d != 1)
            ok = 0;
    }
    if (!ok)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "constant '%s' of shape %s does not broadcast per channel over '%s' of "
                          "shape %s; clnet applies constants per channel only",
                          c->name, format_dims(c->dims, c->rank, cd, sizeof cd), t->name,
                          format_dims(t->dims, t->rank, td, sizeof td));
    CLNET_TRY(const_float(c, "constant"));
    for (int k = 0; k < channels; k++)
        vals[k] = c->f[per ? k : 0];
    return CLNET_STATUS_OK;
}

typedef enum arith { ARITH_ADD, ARITH_SUB, ARITH_MUL, ARITH_DIV } arith;

static arith arith_of(const char *op) {
    return strcmp(op, "Add") == 0   ? ARITH_ADD
           : strcmp(op, "Sub") == 0 ? ARITH_SUB
           : strcmp(op, "Mul") == 0 ? ARITH_MUL
                                    : ARITH_DIV;
}

/* Tensor (op) constant, or constant (op) tensor when const_first, as a
 * channel_affine layer: x * scale[c] + shift[c]. */
static clnet_status tensor_const_arith(importer *im, int ni, const Onnx__NodeProto *n, arith op,
                                       const value *t, const value *c, int const_first) {
    /* Limitation: constants act per channel; a constant divided by a
     * tensor is not imported. */
    if (op == ARITH_DIV && const_first)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "dividing constant '%s' by the computed tensor '%s' is not supported",
                          c->name, t->name);
    int channels = (int)t->dims[1];
    float *vals = malloc(3 * (size_t)channels * sizeof *vals);
    if (!vals)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
    float *scale = vals + channels, *shift = vals + 2 * (size_t)channels;
    clnet_status s = per_channel(t, c, vals);
    for (int k = 0; k < channels && s == CLNET_STATUS_OK; k++) {
        scale[k] = 1.0f;
        shift[k] = 0.0f;
        switch (op) {
        case ARITH_ADD: shift[k] = vals[k]; break;
        case ARITH_SUB:
            scale[k] = const_first ? -1.0f : 1.0f;
            shift[k] = const_first ? vals[k] : -vals[k];
            break;
        case ARITH_MUL: scale[k] = vals[k]; break;
        case ARITH_DIV:
            /* Division becomes a product with the reciprocal, which can
             * differ from a true division in the last bit. */
            scale[k] = 1.0f / vals[k];
            break;
        }
    }
    char name[MAX_NAME + 80];
    clnet_layer *layer = NULL;
    clnet_tensor y;
    if (s == CLNET_STATUS_OK)
        s = layer_name(im, ni, name, sizeof name);
    if (s == CLNET_STATUS_OK)
        s = clnet_layer_channel_affine(im->g, name, &layer);
    if (s == CLNET_STATUS_OK)
        s = clnet_layer_call1(layer, t->tensor, &y);
    if (s == CLNET_STATUS_OK)
        s = clnet_layer_set_weight(layer, "scale", scale, (size_t)channels);
    if (s == CLNET_STATUS_OK)
        s = clnet_layer_set_weight(layer, "shift", shift, (size_t)channels);
    free(vals);
    CLNET_TRY(s);
    value *out = node_output(im, n, 0);
    CLNET_TRY(set_tensor(im, out, y, t->rank));
    memcpy(out->dims, t->dims, sizeof out->dims);
    return CLNET_STATUS_OK;
}

static clnet_status tensor_tensor_arith(importer *im, int ni, const Onnx__NodeProto *n, arith op,
                                        value *a, value *b) {
    char da[160], db[160];
    if (!same_shape(a, b))
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "broadcasting between computed tensors '%s' %s and '%s' %s is not "
                          "supported; clnet combines tensors of equal shape",
                          a->name, format_dims(a->dims, a->rank, da, sizeof da), b->name,
                          format_dims(b->dims, b->rank, db, sizeof db));
    if (op == ARITH_DIV)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "element-wise division of two computed tensors is not supported");
    char name[MAX_NAME + 80];
    CLNET_TRY(layer_name(im, ni, name, sizeof name));
    clnet_layer *layer;
    if (op == ARITH_ADD)
        CLNET_TRY(clnet_layer_add(im->g, name, &layer));
    else if (op == ARITH_SUB)
        CLNET_TRY(clnet_layer_subtract(im->g, name, &layer));
    else
        CLNET_TRY(clnet_layer_multiply(im->g, name, &layer));
    value *in[2] = {a, b};
    clnet_tensor y;
    CLNET_TRY(call_same_rank(im, ni, layer, in, 2, &y));
    value *out = node_output(im, n, 0);
    CLNET_TRY(set_tensor(im, out, y, a->rank));
    memcpy(out->dims, a->dims, sizeof out->dims);
    return CLNET_STATUS_OK;
}

/* Both operands constant: folded, for equal shapes or a single-element
 * operand. */
static clnet_status const_arith(importer *im, const Onnx__NodeProto *n, arith op, const value *a,
                                const value *b) {
    char da[160], db[160];
    if (a->is_int != b->is_int)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "operands '%s' and '%s' differ in type",
                          a->name, b->name);
    int equal = a->rank == b->rank;
    for (int k = 0; equal && k < a->rank; k++)
        equal = a->dims[k] == b->dims[k];
    const value *shape = a;
    if (!equal) {
        if (b->count == 1 && b->rank <= a->rank)
            shape = a;
        else if (a->count == 1 && a->rank <= b->rank)
            shape = b;
        else
            return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                              "folding constants '%s' %s and '%s' %s: only equal shapes or a "
                              "single-element operand are supported",
                              a->name, format_dims(a->dims, a->rank, da, sizeof da), b->name,
                              format_dims(b->dims, b->rank, db, sizeof db));
    }
    value *out = node_output(im, n, 0);
    int64_t dims[MAX_RANK];
    memcpy(dims, shape->dims, sizeof dims);
    CLNET_TRY(const_alloc(out, a->is_int, shape->rank, dims));
    for (size_t k = 0; k < out->count; k++) {
        size_t ka = a->count == 1 ? 0 : k, kb = b->count == 1 ? 0 : k;
        if (a->is_int) {
            int64_t x = a->i[ka], y = b->i[kb];
            if (x == BATCH_SYMBOLIC || y == BATCH_SYMBOLIC)
                return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                                  "arithmetic on the symbolic batch size is not supported");
            /* Shape arithmetic stays far below these limits; they keep
             * hostile values from overflowing. */
            int64_t lim = op == ARITH_MUL ? INT64_C(1) << 31 : INT64_C(1) << 62;
            if (x < -lim || x > lim || y < -lim || y > lim || (op == ARITH_DIV && y == 0))
                return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                                  "folding %lld and %lld overflows or divides by zero",
                                  (long long)x, (long long)y);
            out->i[k] = op == ARITH_ADD   ? x + y
                        : op == ARITH_SUB ? x - y
                        : op == ARITH_MUL ? x * y
                                          : x / y;
        } else {
            float x = a->f[ka], y = b->f[kb];
            out->f[k] = op == ARITH_ADD   ? x + y
                        : op == ARITH_SUB ? x - y
                        : op == ARITH_MUL ? x * y
                                          : x / y;
        }
    }
    return CLNET_STATUS_OK;
}

static clnet_status import_arith(importer *im, int ni, const Onnx__NodeProto *n) {
    static const char *const attrs[] = {NULL};
    CLNET_TRY(check_attrs(n, attrs));
    arith op = arith_of(n->op_type);
    value *a, *b;
    CLNET_TRY(get_any(im, n, 0, "A", &a));
    CLNET_TRY(get_any(im, n, 1, "B", &b));
    if (a->kind == VALUE_CONST && b->kind == VALUE_CONST)
        return const_arith(im, n, op, a, b);
    if (a->kind == VALUE_TENSOR && b->kind == VALUE_TENSOR)
        return tensor_tensor_arith(im, ni, n, op, a, b);
    if (a->kind == VALUE_TENSOR)
        return tensor_const_arith(im, ni, n, op, a, b, 0);
    return tensor_const_arith(im, ni, n, op, b, a, 1);
}

static clnet_status import_pool(importer *im, int ni, const Onnx__NodeProto *n) {
    int is_max = strcmp(n->op_type, "MaxPool") == 0;
    static const char *const avg_attrs[] = {"auto_pad", "ceil_mode", "count_include_pad",
                                            "kernel_shape", "pads", "strides", NULL};
    static const char *const max_attrs[] = {"auto_pad", "ceil_mode", "dilations", "kernel_shape",
                                            "pads", "storage_order", "strides", NULL};
    CLNET_TRY(check_attrs(n, is_max ? max_attrs : avg_attrs));
    value *x;
    CLNET_TRY(get_tensor(im, n, 0, "X", &x));
    CLNET_TRY(need_spatial(im, x));
    window2d w;
    CLNET_TRY(read_window(n, x, NULL, is_max, &w));
    if (w.dh != 1 || w.dw != 1)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "dilations (%d, %d) are not supported in "
                          "pooling", w.dh, w.dw);
    int64_t ceil_mode, include_pad;
    CLNET_TRY(attr_int(n, "ceil_mode", 0, &ceil_mode));
    CLNET_TRY(attr_int(n, "count_include_pad", 0, &include_pad));
    if (ceil_mode) {
        CLNET_TRY(apply_ceil_mode((int)x->dims[2], w.kh, w.sh, w.top, &w.bottom));
        CLNET_TRY(apply_ceil_mode((int)x->dims[3], w.kw, w.sw, w.left, &w.right));
    }
    /* With no padding, counting padded elements changes nothing. */
    if (include_pad && (w.top || w.bottom || w.left || w.right))
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "attribute 'count_include_pad' = 1 with padding is not supported: "
                          "clnet averages over the elements inside the input");
    clnet_pool2d_desc d = clnet_pool2d_defaults(w.kh);
    d.pool_w = w.kw;
    d.stride_h = w.sh;
    d.stride_w = w.sw;
    d.padding = CLNET_PADDING_EXPLICIT;
    d.pad_top = w.top;
    d.pad_bottom = w.bottom;
    d.pad_left = w.left;
    d.pad_right = w.right;
    char name[MAX_NAME + 80];
    CLNET_TRY(layer_name(im, ni, name, sizeof name));
    clnet_layer *layer;
    clnet_tensor y;
    if (is_max)
        CLNET_TRY(clnet_layer_maxpool(im->g, name, &d, &layer));
    else
        CLNET_TRY(clnet_layer_avgpool(im->g, name, &d, &layer));
    CLNET_TRY(clnet_layer_call1(layer, x->tensor, &y));
    return set_tensor(im, node_output(im, n, 0), y, 4);
}

static clnet_status import_global_avgpool(importer *im, int ni, const Onnx__NodeProto *n) {
    static const char *const attrs[] = {NULL};
    CLNET_TRY(check_attrs(n, attrs));
    value *x;
    CLNET_TRY(get_tensor(im, n, 0, "X", &x));
    int r;
    CLNET_TRY(tensor_rank(im, x, &r));
    if (x->rank == 4 && r == 1) { /* already pooled */
        alias(node_output(im, n, 0), x);
        return CLNET_STATUS_OK;
    }
    CLNET_TRY(need_spatial(im, x));
    char name[MAX_NAME + 80];
    CLNET_TRY(layer_name(im, ni, name, sizeof name));
    clnet_layer *layer;
    clnet_tensor y;
    CLNET_TRY(clnet_layer_global_avgpool(im->g, name, &layer));
    CLNET_TRY(clnet_layer_call1(layer, x->tensor, &y));
    /* clnet's output is flat; ONNX's is (N, C, 1, 1). */
    return set_tensor(im, node_output(im, n, 0), y, 4);
}

static clnet_status need_flat(const value *x, const char *op) {
    char dims[160];
    if (x->rank != 2)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "%s of input '%s' of shape %s: clnet imports it on flat (N, F) inputs",
                          op, x->name, format_dims(x->dims, x->rank, dims, sizeof dims));
    return CLNET_STATUS_OK;
}

/* A dense layer of `units` on flat x from a kernel already in clnet's
 * [units][in] layout, with an optional bias. */
static clnet_status dense_layer(importer *im, int ni, const value *x, int units,
                                const float *kernel, const float *bias, value *out) {
    clnet_dense_desc d;
    memset(&d, 0, sizeof d);
    d.units = units;
    d.use_bias = bias != NULL;
    d.activation = CLNET_ACT_LINEAR;
    d.kernel_initializer = CLNET_INIT_GLOROT_UNIFORM;
    char name[MAX_NAME + 80];
    CLNET_TRY(layer_name(im, ni, name, sizeof name));
    clnet_layer *layer;
    clnet_tensor y;
    CLNET_TRY(clnet_layer_dense(im->g, name, &d, &layer));
    CLNET_TRY(clnet_layer_call1(layer, x->tensor, &y));
    CLNET_TRY(clnet_layer_set_weight(layer, "kernel", kernel, (size_t)units * x->dims[1]));
    if (bias)
        CLNET_TRY(clnet_layer_set_weight(layer, "bias", bias, (size_t)units));
    return set_tensor(im, out, y, 2);
}

/* The bias of a dense layer from a constant broadcast to (N, units):
 * shape (), (1), (units) or (1, units). */
static clnet_status bias_values(const value *c, int units, float scale, float *bias) {
    char dims[160];
    CLNET_TRY(const_float(c, "bias"));
    int ok = c->rank <= 2 && (c->count == 1 || c->count == (size_t)units) &&
             (c->rank < 2 || c->dims[0] == 1);
    if (!ok)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "bias '%s' of shape %s does not broadcast to (N, %d)", c->name,
                          format_dims(c->dims, c->rank, dims, sizeof dims), units);
    for (int k = 0; k < units; k++)
        bias[k] = scale * c->f[c->count == 1 ? 0 : k];
    return CLNET_STATUS_OK;
}

static clnet_status import_gemm(importer *im, int ni, const Onnx__NodeProto *n) {
    static const char *const attrs[] = {"alpha", "beta", "transA", "transB", NULL};
    CLNET_TRY(check_attrs(n, attrs));
    value *a, *b, *c;
    CLNET_TRY(get_tensor(im, n, 0, "A", &a));
    CLNET_TRY(get_const(im, n, 1, "B", &b));
    CLNET_TRY(opt_const(im, n, 2, "C", &c));
    CLNET_TRY(need_flat(a, "Gemm"));
    float alpha, beta;
    int64_t trans_a, trans_b;
    CLNET_TRY(attr_float(n, "alpha", 1.0f, &alpha));
    CLNET_TRY(attr_float(n, "beta", 1.0f, &beta));
    CLNET_TRY(attr_int(n, "transA", 0, &trans_a));
    CLNET_TRY(attr_int(n, "transB", 0, &trans_b));
    if (trans_a)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "attribute 'transA' = %lld is not supported",
                          (long long)trans_a);
    CLNET_TRY(const_float(b, "B"));
    char dims[160];
    int64_t k_in = a->dims[1];
    int64_t m = b->rank == 2 ? b->dims[trans_b ? 0 : 1] : 0;
    if (b->rank != 2 || b->dims[trans_b ? 1 : 0] != k_in)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "B '%s' of shape %s (transB %lld) does not multiply %lld features",
                          b->name, format_dims(b->dims, b->rank, dims, sizeof dims),
                          (long long)trans_b, (long long)k_in);
    int units = 0;
    CLNET_TRY(small_int(m, 1, MAX_DIM, "output feature count", &units));
    float *kernel = malloc(b->count * sizeof *kernel + (size_t)units * sizeof *kernel);
    if (!kernel)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
    float *bias = kernel + b->count;
    for (int64_t u = 0; u < m; u++)
        for (int64_t k = 0; k < k_in; k++)
            kernel[u * k_in + k] = alpha * b->f[trans_b ? u * k_in + k : k * m + u];
    clnet_status s = CLNET_STATUS_OK;
    int use_bias = c && beta != 0.0f;
    if (use_bias)
        s = bias_values(c, units, beta, bias);
    if (s == CLNET_STATUS_OK)
        s = dense_layer(im, ni, a, units, kernel, use_bias ? bias : NULL, node_output(im, n, 0));
    free(kernel);
    return s;
}

static clnet_status import_matmul(importer *im, int ni, const Onnx__NodeProto *n) {
    static const char *const attrs[] = {NULL};
    CLNET_TRY(check_attrs(n, attrs));
    value *a, *b;
    CLNET_TRY(get_tensor(im, n, 0, "A", &a));
    CLNET_TRY(get_const(im, n, 1, "B", &b));
    CLNET_TRY(need_flat(a, "MatMul"));
    CLNET_TRY(const_float(b, "B"));
    char dims[160];
    if (b->rank != 2 || b->dims[0] != a->dims[1])
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "B '%s' of shape %s: clnet imports MatMul of (N, %lld) by a (%lld, M) "
                          "constant",
                          b->name, format_dims(b->dims, b->rank, dims, sizeof dims),
                          (long long)a->dims[1], (long long)a->dims[1]);
    int units = 0;
    CLNET_TRY(small_int(b->dims[1], 1, MAX_DIM, "output feature count", &units));
    int64_t k_in = a->dims[1];
    float *kernel = malloc(b->count * sizeof *kernel + (size_t)units * sizeof *kernel);
    if (!kernel)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
    float *bias = kernel + b->count;
    for (int64_t u = 0; u < units; u++)
        for (int64_t k = 0; k < k_in; k++)
            kernel[u * k_in + k] = b->f[k * units + u];

    /* A following Add of a constant, the only reader of the product,
     * becomes the dense layer's bias. */
    value *y = node_output(im, n, 0);
    value *out = y;
    int fused = -1;
    if (y->uses == 1 && y->consumer >= 0) {
        const Onnx__NodeProto *c = im->graph->node[y->consumer];
        value *other = NULL;
        if (strcmp(c->op_type, "Add") == 0 && c->n_input == 2 && c->n_output >= 1 &&
            !im->done[y->consumer])
            other = node_input(im, c, strcmp(c->input[0], y->name) == 0 ? 1 : 0);
        if (other && (other->kind == VALUE_INITIALIZER || other->kind == VALUE_CONST) &&
            materialize(other) == CLNET_STATUS_OK && !other->is_int && other->rank <= 2 &&
            other->count == (size_t)units && (other->rank < 2 || other->dims[0] == 1)) {
            bias_values(other, units, 1.0f, bias);
            fused = y->consumer;
            out = node_output(im, c, 0);
        }
        clnet_clear_error();
    }
    clnet_status s = dense_layer(im, ni, a, units, kernel, fused >= 0 ? bias : NULL, out);
    free(kernel);
    if (s == CLNET_STATUS_OK && fused >= 0)
        im->done[fused] = 1;
    return s;
}

static clnet_status import_concat(importer *im, int ni, const Onnx__NodeProto *n) {
    static const char *const attrs[] = {"axis", NULL};
    CLNET_TRY(check_attrs(n, attrs));
    if (n->n_input == 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "Concat has no inputs");
    if (n->n_input > 64)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "Concat of %zu inputs; at most 64",
                          n->n_input);
    value *in[64];
    int n_const = 0;
    for (size_t k = 0; k < n->n_input; k++) {
        CLNET_TRY(get_any(im, n, k, "input", &in[k]));
        n_const += in[k]->kind == VALUE_CONST;
    }
    int count = (int)n->n_input;
    int64_t axis;
    CLNET_TRY(attr_int(n, "axis", INT64_MIN, &axis));
    if (axis == INT64_MIN)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "attribute 'axis' is missing");
    int a = 0;
    CLNET_TRY(norm_axis(axis, in[0]->rank, "axis", &a));
    for (int k = 1; k < count; k++) {
        int ok = in[k]->rank == in[0]->rank;
        for (int j = 0; ok && j < in[0]->rank; j++)
            ok = j == a || in[k]->dims[j] == in[0]->dims[j] || (j == 0 && n_const == 0);
        if (!ok) {
            char d0[160], dk[160];
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "inputs '%s' %s and '%s' %s do not concatenate on axis %d",
                              in[0]->name, format_dims(in[0]->dims, in[0]->rank, d0, sizeof d0),
                              in[k]->name, format_dims(in[k]->dims, in[k]->rank, dk, sizeof dk),
                              a);
        }
    }
    value *out = node_output(im, n, 0);

    if (n_const == count) {
        int64_t dims[MAX_RANK];
        memcpy(dims, in[0]->dims, sizeof dims);
        dims[a] = 0;
        for (int k = 0; k < count; k++) {
            if (in[k]->is_int != in[0]->is_int)
                return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "inputs differ in type");
            dims[a] += in[k]->dims[a];
        }
        CLNET_TRY(const_alloc(out, in[0]->is_int, in[0]->rank, dims));
        int64_t outer = 1;
        for (int j = 0; j < a; j++)
            outer *= dims[j];
        size_t pos = 0;
        for (int64_t o = 0; o < outer; o++)
            for (int k = 0; k < count; k++) {
                size_t block = outer ? in[k]->count / (size_t)outer : 0;
                size_t from = (size_t)o * block;
                if (out->is_int)
                    memcpy(out->i + pos, in[k]->i + from, block * sizeof *out->i);
                else
                    memcpy(out->f + pos, in[k]->f + from, block * sizeof *out->f);
                pos += block;
            }
        return CLNET_STATUS_OK;
    }
    if (n_const)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "concatenating constants with computed tensors is not supported");
    if (a != 1)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "concatenation on axis %lld: clnet concatenates channels (axis 1)",
                          (long long)axis);
    if (count == 1) {
        alias(out, in[0]);
        return CLNET_STATUS_OK;
    }
    char name[MAX_NAME + 80];
    CLNET_TRY(layer_name(im, ni, name, sizeof name));
    clnet_layer *layer;
    clnet_tensor y;
    CLNET_TRY(clnet_layer_concat(im->g, name, &layer));
    CLNET_TRY(call_same_rank(im, ni, layer, in, count, &y));
    CLNET_TRY(set_tensor(im, out, y, in[0]->rank));
    return CLNET_STATUS_OK;
}

static clnet_status import_pad(importer *im, int ni, const Onnx__NodeProto *n) {
    static const char *const old_attrs[] = {"mode", "pads", "value", NULL};
    static const char *const attrs[] = {"mode", NULL};
    CLNET_TRY(check_attrs(n, im->opset < 11 ? old_attrs : attrs));
    value *x;
    CLNET_TRY(get_tensor(im, n, 0, "data", &x));
    char mode[32];
    CLNET_TRY(attr_string(n, "mode", "constant", mode, sizeof mode));
    if (strcmp(mode, "constant") != 0)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "pad mode '%s' is not supported: clnet pads with a constant", mode);
    int64_t pads[8];
    int count;
    CLNET_TRY(int_list(im, n, "pads", 11, 1, 8, pads, &count));
    float fill = 0.0f;
    if (im->opset < 11) {
        CLNET_TRY(attr_float(n, "value", 0.0f, &fill));
    } else {
        value *v;
        CLNET_TRY(opt_const(im, n, 2, "constant_value", &v));
        if (v)
            CLNET_TRY(const_scalar(v, "constant_value", &fill));
    }
    if (count != 2 * x->rank)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "pads has %d values for a rank-%d input",
                          count, x->rank);
    CLNET_TRY(need_spatial(im, x));
    for (int k = 0; k < 8; k++)
        if (pads[k] < 0)
            return clnet_fail(CLNET_STATUS_UNSUPPORTED, "negative pads (cropping) are not "
                              "supported");
    if (pads[0] || pads[4])
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "padding the batch axis is not supported");
    clnet_pad_desc d;
    memset(&d, 0, sizeof d);
    CLNET_TRY(small_int(pads[1], 0, MAX_DIM, "channel padding", &d.channels_before));
    CLNET_TRY(small_int(pads[5], 0, MAX_DIM, "channel padding", &d.channels_after));
    CLNET_TRY(small_int(pads[2], 0, MAX_DIM, "padding", &d.top));
    CLNET_TRY(small_int(pads[6], 0, MAX_DIM, "padding", &d.bottom));
    CLNET_TRY(small_int(pads[3], 0, MAX_DIM, "padding", &d.left));
    CLNET_TRY(small_int(pads[7], 0, MAX_DIM, "padding", &d.right));
    d.value = fill;
    char name[MAX_NAME + 80];
    CLNET_TRY(layer_name(im, ni, name, sizeof name));
    clnet_layer *layer;
    clnet_tensor y;
    CLNET_TRY(clnet_layer_pad(im->g, name, &d, &layer));
    CLNET_TRY(clnet_layer_call1(layer, x->tensor, &y));
    return set_tensor(im, node_output(im, n, 0), y, 4);
}

/* ONNX Slice arithmetic along one axis of size dim: the first index and
 * the number of elements taken. */
static clnet_status slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step,
                               int64_t *first, int64_t *count) {
    if (step == 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "slice step 0");
    if (start < 0)
        start += dim;
    if (end < 0)
        end += dim;
    if (step > 0) {
        start = start < 0 ? 0 : start > dim ? dim : start;
        end = end < 0 ? 0 : end > dim ? dim : end;
        *count = end > start ? (end - start + step - 1) / step : 0;
    } else {
        start = start < 0 ? 0 : start > dim - 1 ? dim - 1 : start;
        end = end < -1 ? -1 : end > dim - 1 ? dim - 1 : end;
        *count = start > end ? (start - end + (-step) - 1) / (-step) : 0;
    }
    *first = start;
    return CLNET_STATUS_OK;
}

/* Copies element (multi-index) mapping src -> dst for constant folding:
 * dst index k maps to src offset base + sum idx[j] * stride[j]. */
static void gather_strided(value *dst, const value *src, int rank, const int64_t *dims,
                           const int64_t *src_strides, int64_t base) {
    int64_t idx[MAX_RANK] = {0};
    for (size_t k = 0; k < dst->count; k++) {
        int64_t off = base;
        for (int j = 0; j < rank; j++)
            off += idx[j] * src_strides[j];
        if (dst->is_int)
            dst->i[k] = src->i[off];
        else
            dst->f[k] = src->f[off];
        for (int j = rank - 1; j >= 0; j--) {
            if (++idx[j] < dims[j])
                break;
            idx[j] = 0;
        }
    }
}

static void strides_of(const value *v, int64_t *strides) {
    int64_t s = 1;
    for (int j = v->rank - 1; j >= 0; j--) {
        strides[j] = s;
        s *= v->dims[j];
    }
}

static clnet_status import_slice(importer *im, int ni, const Onnx__NodeProto *n) {
    static const char *const old_attrs[] = {"starts", "ends", "axes", NULL};
    static const char *const attrs[] = {NULL};
    CLNET_TRY(check_attrs(n, im->opset < 10 ? old_attrs : attrs));
    value *x;
    CLNET_TRY(get_any(im, n, 0, "data", &x));
    int64_t starts[MAX_RANK], ends[MAX_RANK], axes[MAX_RANK], steps[MAX_RANK];
    int n_starts, n_ends, n_axes, n_steps = -1;
    CLNET_TRY(int_list(im, n, "starts", 10, 1, MAX_RANK, starts, &n_starts));
    CLNET_TRY(int_list(im, n, "ends", 10, 2, MAX_RANK, ends, &n_ends));
    CLNET_TRY(int_list(im, n, "axes", 10, 3, MAX_RANK, axes, &n_axes));
    if (im->opset >= 10)
        CLNET_TRY(int_list(im, n, "steps", 10, 4, MAX_RANK, steps, &n_steps));
    if (n_starts < 0 || n_ends != n_starts || (n_axes >= 0 && n_axes != n_starts) ||
        (n_steps >= 0 && n_steps != n_starts))
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "starts, ends, axes and steps must be given with equal lengths");
    int64_t first[MAX_RANK], count[MAX_RANK], step[MAX_RANK];
    int touched[MAX_RANK] = {0};
    for (int j = 0; j < x->rank; j++) {
        first[j] = 0;
        count[j] = x->dims[j];
        step[j] = 1;
    }
    for (int k = 0; k < n_starts; k++) {
        int a = 0;
        CLNET_TRY(norm_axis(n_axes >= 0 ? axes[k] : k, x->rank, "slice axis", &a));
        if (touched[a]++)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "axis %d is sliced twice", a);
        step[a] = n_steps >= 0 ? steps[k] : 1;
        if (x->kind == VALUE_TENSOR && a == 0) {
            /* The batch: only the whole of it. */
            if (starts[k] != 0 || step[a] != 1 || (ends[k] < INT32_MAX && ends[k] != im->batch))
                return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                                  "slicing the batch axis is not supported");
            continue;
        }
        CLNET_TRY(slice_axis(x->dims[a], starts[k], ends[k], step[a], &first[a], &count[a]));
    }
    value *out = node_output(im, n, 0);

    if (x->kind == VALUE_CONST) {
        int64_t strides[MAX_RANK], src_strides[MAX_RANK], base = 0;
        strides_of(x, strides);
        for (int j = 0; j < x->rank; j++) {
            base += first[j] * strides[j];
            src_strides[j] = strides[j] * step[j];
        }
        CLNET_TRY(const_alloc(out, x->is_int, x->rank, count));
        gather_strided(out, x, x->rank, count, src_strides, base);
        return CLNET_STATUS_OK;
    }
    CLNET_TRY(need_spatial(im, x));
    clnet_slice_desc d = clnet_slice_defaults();
    for (int j = 1; j < 4; j++) {
        if (step[j] < 1)
            return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                              "negative step %lld on axis %d is not supported", (long long)step[j],
                              j);
        if (count[j] == 0)
            return clnet_fail(CLNET_STATUS_UNSUPPORTED, "slice of axis %d is empty", j);
        if (step[j] > MAX_DIM)
            step[j] = MAX_DIM; /* one element either way */
        d.begin[j - 1] = (int)first[j];
        d.step[j - 1] = (int)step[j];
        d.end[j - 1] = (int)(first[j] + (count[j] - 1) * step[j] + 1);
    }
    char name[MAX_NAME + 80];
    CLNET_TRY(layer_name(im, ni, name, sizeof name));
    clnet_layer *layer;
    clnet_tensor y;
    CLNET_TRY(clnet_layer_slice(im->g, name, &d, &layer));
    CLNET_TRY(clnet_layer_call1(layer, x->tensor, &y));
    return set_tensor(im, out, y, 4);
}

/* ------------------------------------------------------------------------ */
/* Shape changes                                                            */

/* Reshapes constant x to dims (same element count), sharing its data. */
static clnet_status const_reshape(value *out, const value *x, int rank, const int64_t *dims) {
    int64_t n = 1;
    for (int k = 0; k < rank; k++)
        n = dims[k] > 0 && n > MAX_ELEMENTS / dims[k] ? MAX_ELEMENTS + 1 : n * dims[k];
    if (n != (int64_t)x->count || rank > MAX_RANK) {
        char dims_in[160], dims_out[160];
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "constant '%s' of shape %s cannot become %s",
                          x->name, format_dims(x->dims, x->rank, dims_in, sizeof dims_in),
                          format_dims(dims, rank < MAX_RANK ? rank : MAX_RANK, dims_out,
                                      sizeof dims_out));
    }
    alias(out, x);
    out->rank = rank;
    for (int k = 0; k < rank; k++)
        out->dims[k] = dims[k];
    return CLNET_STATUS_OK;
}

static clnet_status import_flatten(importer *im, int ni, const Onnx__NodeProto *n) {
    static const char *const attrs[] = {"axis", NULL};
    CLNET_TRY(check_attrs(n, attrs));
    value *x;
    CLNET_TRY(get_any(im, n, 0, "input", &x));
    int64_t axis;
    CLNET_TRY(attr_int(n, "axis", 1, &axis));
    if (axis < -x->rank || axis > x->rank)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "axis %lld is outside a rank-%d tensor",
                          (long long)axis, x->rank);
    int a = (int)(axis < 0 ? axis + x->rank : axis);
    if (x->kind == VALUE_CONST) {
        int64_t dims[2] = {1, 1};
        for (int j = 0; j < x->rank; j++)
            dims[j < a ? 0 : 1] *= x->dims[j];
        return const_reshape(node_output(im, n, 0), x, 2, dims);
    }
    if (a != 1)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "flattening from axis %lld: clnet keeps the batch axis (axis 1 only)",
                          (long long)axis);
    return to_flat(im, ni, x, node_output(im, n, 0));
}

static clnet_status import_reshape(importer *im, int ni, const Onnx__NodeProto *n) {
    static const char *const attrs[] = {"allowzero", NULL};
    CLNET_TRY(check_attrs(n, attrs));
    value *x, *shape;
    CLNET_TRY(get_any(im, n, 0, "data", &x));
    CLNET_TRY(get_const(im, n, 1, "shape", &shape));
    CLNET_TRY(const_int(shape, "shape"));
    int64_t allow_zero;
    CLNET_TRY(attr_int(n, "allowzero", 0, &allow_zero));
    if (shape->rank != 1 || shape->count > MAX_RANK)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "shape '%s' should be a list of at most %d "
                          "dimensions", shape->name, MAX_RANK);
    int rank = (int)shape->count;
    const int64_t *t = shape->i;
    char dims_in[160], dims_out[160];
    value *out = node_output(im, n, 0);

    if (x->kind == VALUE_CONST) {
        int64_t dims[MAX_RANK], known = 1;
        int infer = -1;
        for (int k = 0; k < rank; k++) {
            dims[k] = t[k] == 0 && !allow_zero && k < x->rank ? x->dims[k] : t[k];
            if (dims[k] == -1 && infer < 0)
                infer = k;
            else if (dims[k] < 0)
                return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "invalid target shape %s",
                                  format_dims(t, rank, dims_out, sizeof dims_out));
            else if (dims[k] > 0 && known <= MAX_ELEMENTS)
                known *= dims[k];
        }
        if (infer >= 0)
            dims[infer] = known > 0 ? (int64_t)x->count / known : 0;
        return const_reshape(out, x, rank, dims);
    }

    /* A computed tensor: clnet can flatten it to (N, features) or leave it
     * as it is. Limitation: no other reshape of computed tensors. */
    int64_t features = 1;
    for (int k = 1; k < x->rank; k++)
        features *= x->dims[k];
    int batch_first = (t[0] == 0 && !allow_zero) || t[0] == im->batch ||
                      (t[0] == 1 && (im->batch == 1 || im->batch == BATCH_SYMBOLIC));
    if (rank == 2) {
        int64_t t1 = t[1] == 0 && !allow_zero ? x->dims[1] : t[1];
        if ((batch_first && (t1 == -1 || t1 == features)) || (t[0] == -1 && t1 == features))
            return to_flat(im, ni, x, out);
    } else if (rank == x->rank && (batch_first || t[0] == -1)) {
        int same = 1, infer = 0;
        for (int k = 1; k < rank && same; k++) {
            int64_t d = t[k] == 0 && !allow_zero ? x->dims[k] : t[k];
            if (d == -1 && t[0] != -1 && !infer++)
                continue;
            same = d == x->dims[k];
        }
        if (same) {
            alias(out, x);
            return CLNET_STATUS_OK;
        }
    }
    return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                      "reshaping '%s' of shape %s to %s is not supported: clnet only flattens "
                      "to (N, features)",
                      x->name, format_dims(x->dims, x->rank, dims_in, sizeof dims_in),
                      format_dims(t, rank, dims_out, sizeof dims_out));
}

static clnet_status import_transpose(importer *im, int ni, const Onnx__NodeProto *n) {
    (void)ni;
    static const char *const attrs[] = {"perm", NULL};
    CLNET_TRY(check_attrs(n, attrs));
    value *x;
    CLNET_TRY(get_any(im, n, 0, "data", &x));
    int64_t perm[MAX_RANK];
    int count, seen[MAX_RANK] = {0};
    CLNET_TRY(attr_ints(n, "perm", MAX_RANK, perm, &count));
    if (count < 0) {
        count = x->rank;
        for (int k = 0; k < count; k++)
            perm[k] = count - 1 - k;
    }
    char text[160];
    format_dims(perm, count, text, sizeof text);
    if (count != x->rank)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "perm %s does not fit a rank-%d input",
                          text, x->rank);
    for (int k = 0; k < count; k++) {
        if (perm[k] < 0 || perm[k] >= count || seen[perm[k]]++)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "perm %s is not a permutation", text);
    }
    int64_t dims[MAX_RANK], src_strides[MAX_RANK], strides[MAX_RANK];
    strides_of(x, strides);
    for (int k = 0; k < count; k++) {
        dims[k] = x->dims[perm[k]];
        src_strides[k] = strides[perm[k]];
    }
    value *out = node_output(im, n, 0);
    if (x->kind == VALUE_CONST) {
        CLNET_TRY(const_alloc(out, x->is_int, count, dims));
        gather_strided(out, x, count, dims, src_strides, 0);
        return CLNET_STATUS_OK;
    }
    /* Limitation: supported only where nothing moves: the axes longer than
     * 1 (and the batch) keep their order, and the shape stays the same. */
    int64_t last = -1;
    int moves = 0;
    for (int k = 0; k < count; k++) {
        if (k > 0 && x->dims[perm[k]] == 1)
            continue;
        moves |= perm[k] < last;
        last = perm[k];
    }
    for (int k = 1; k < count; k++)
        moves |= dims[k] != x->dims[k];
    if (moves)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "Transpose with perm %s moves data; clnet keeps tensors in NCHW and "
                          "imports only transposes that leave the layout as it is",
                          text);
    alias(out, x);
    return CLNET_STATUS_OK;
}

static clnet_status import_squeeze(importer *im, int ni, const Onnx__NodeProto *n) {
    static const char *const old_attrs[] = {"axes", NULL};
    static const char *const attrs[] = {NULL};
    int unsqueeze = strcmp(n->op_type, "Unsqueeze") == 0;
    CLNET_TRY(check_attrs(n, im->opset < 13 ? old_attrs : attrs));
    value *x;
    CLNET_TRY(get_any(im, n, 0, "data", &x));
    int64_t axes[MAX_RANK];
    int count;
    CLNET_TRY(int_list(im, n, "axes", 13, 1, MAX_RANK, axes, &count));
    if (unsqueeze && count < 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "axes are missing");
    int out_rank = unsqueeze ? x->rank + count : x->rank;
    if (out_rank > MAX_RANK)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "rank %d is too high", out_rank);
    int marked[MAX_RANK] = {0};
    for (int k = 0; k < count; k++) {
        int a = 0;
        CLNET_TRY(norm_axis(axes[k], out_rank, "axis", &a));
        if (marked[a]++)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "axis %d is given twice", a);
    }
    int64_t dims[MAX_RANK];
    int rank = 0;
    if (unsqueeze) {
        for (int k = 0, j = 0; k < out_rank; k++)
            dims[rank++] = marked[k] ? 1 : x->dims[j++];
    } else {
        for (int k = 0; k < x->rank; k++) {
            int squeezed = count < 0 ? x->dims[k] == 1 : marked[k];
            if (squeezed && x->dims[k] != 1)
                return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "axis %d of size %lld cannot be "
                                  "squeezed", k, (long long)x->dims[k]);
            if (!squeezed)
                dims[rank++] = x->dims[k];
        }
    }
    value *out = node_output(im, n, 0);
    if (x->kind == VALUE_CONST)
        return const_reshape(out, x, rank, dims);

    /* Limitation: of computed tensors, only (N, C, 1, 1) to (N, C), which
     * is a flatten, is supported. */
    char dims_in[160];
    if (!unsqueeze && x->rank == 4 && rank == 2 && dims[0] == x->dims[0] &&
        dims[1] == x->dims[1])
        return to_flat(im, ni, x, out);
    return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                      "%s of '%s' of shape %s: clnet only squeezes (N, C, 1, 1) to (N, C)",
                      n->op_type, x->name, format_dims(x->dims, x->rank, dims_in, sizeof dims_in));
}

static clnet_status import_identity(importer *im, int ni, const Onnx__NodeProto *n) {
    (void)ni;
    int dropout = strcmp(n->op_type, "Dropout") == 0;
    static const char *const old_dropout[] = {"ratio", "seed", NULL};
    static const char *const dropout_attrs[] = {"seed", NULL};
    static const char *const attrs[] = {NULL};
    CLNET_TRY(check_attrs(n, !dropout ? attrs : im->opset < 12 ? old_dropout : dropout_attrs));
    value *x;
    CLNET_TRY(get_any(im, n, 0, "input", &x));
    if (dropout && im->opset >= 12) {
        value *ratio, *training;
        CLNET_TRY(opt_const(im, n, 1, "ratio", &ratio));
        CLNET_TRY(opt_const(im, n, 2, "training_mode", &training));
        if (training && training->count > 0 &&
            (training->is_int ? training->i[0] != 0 : training->f[0] != 0.0f))
            return clnet_fail(CLNET_STATUS_UNSUPPORTED, "training_mode is set: clnet imports "
                              "inference graphs");
    }
    /* Dropout is the identity at inference; its mask is not computed. */
    alias(node_output(im, n, 0), x);
    return CLNET_STATUS_OK;
}

static clnet_status import_cast(importer *im, int ni, const Onnx__NodeProto *n) {
    (void)ni;
    static const char *const attrs[] = {"to", NULL};
    CLNET_TRY(check_attrs(n, attrs));
    value *x;
    CLNET_TRY(get_any(im, n, 0, "input", &x));
    int64_t to;
    CLNET_TRY(attr_int(n, "to", 0, &to));
    int32_t type = to >= 0 && to <= 16 ? (int32_t)to : 0;
    value *out = node_output(im, n, 0);
    if (x->kind == VALUE_TENSOR) {
        if (type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
            return clnet_fail(CLNET_STATUS_UNSUPPORTED, "casting a computed tensor to %s is not "
                              "supported", dtype_name(type));
        alias(out, x);
        return CLNET_STATUS_OK;
    }
    if (!dtype_is_float(type) && !dtype_is_int(type))
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "cast to %s (%lld) is not supported",
                          dtype_name(type), (long long)to);
    int is_int = dtype_is_int(type);
    if (is_int == x->is_int) {
        alias(out, x);
        return CLNET_STATUS_OK;
    }
    int64_t dims[MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    CLNET_TRY(const_alloc(out, is_int, x->rank, dims));
    for (size_t k = 0; k < x->count; k++) {
        if (!is_int) {
            out->f[k] = (float)x->i[k];
        } else {
            float f = x->f[k];
            if (!(f > -9.2e18f && f < 9.2e18f))
                return clnet_fail(CLNET_STATUS_UNSUPPORTED, "cannot cast %g to an integer",
                                  (double)f);
            out->i[k] = type == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL ? f != 0.0f : (int64_t)f;
        }
    }
    return CLNET_STATUS_OK;
}

static clnet_status import_constant(importer *im, int ni, const Onnx__NodeProto *n) {
    (void)ni;
    static const char *const attrs[] = {"value", "value_float", "value_floats", "value_int",
                                        "value_ints", NULL};
    CLNET_TRY(check_attrs(n, attrs));
    if (n->n_attribute != 1)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "a Constant needs exactly one value "
                          "attribute, not %zu", n->n_attribute);
    const Onnx__AttributeProto *a = n->attribute[0];
    value *out = node_output(im, n, 0);
    const char *name = a->name;
    int type = attr_type(a);
    if (strcmp(name, "value") == 0) {
        if (type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR || !a->t)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "attribute 'value' is not a tensor");
        return const_from_proto(out, a->t, "attribute 'value'");
    }
    int is_list = strcmp(name, "value_floats") == 0 || strcmp(name, "value_ints") == 0;
    int is_int = strstr(name, "int") != NULL;
    int expect = is_list ? (is_int ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS
                                   : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS)
                         : (is_int ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT
                                   : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (type != expect)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "attribute '%s' has the wrong type", name);
    int64_t dims[1] = {(int64_t)(is_int ? a->n_ints : a->n_floats)};
    CLNET_TRY(const_alloc(out, is_int, is_list ? 1 : 0, dims));
    if (!is_list) {
        if (is_int)
            out->i[0] = a->i;
        else
            out->f[0] = a->f;
    } else if (is_int) {
        memcpy(out->i, a->ints, a->n_ints * sizeof *out->i);
    } else {
        memcpy(out->f, a->floats, a->n_floats * sizeof *out->f);
    }
    return CLNET_STATUS_OK;
}

static clnet_status import_shape(importer *im, int ni, const Onnx__NodeProto *n) {
    (void)ni;
    static const char *const attrs[] = {"start", "end", NULL};
    CLNET_TRY(check_attrs(n, attrs));
    value *x;
    CLNET_TRY(get_any(im, n, 0, "data", &x));
    int64_t start, end, first, count;
    CLNET_TRY(attr_int(n, "start", 0, &start));
    CLNET_TRY(attr_int(n, "end", INT64_MAX, &end));
    CLNET_TRY(slice_axis(x->rank, start, end, 1, &first, &count));
    value *out = node_output(im, n, 0);
    CLNET_TRY(const_alloc(out, 1, 1, &count));
    for (int64_t k = 0; k < count; k++)
        out->i[k] = x->dims[first + k];
    return CLNET_STATUS_OK;
}

static clnet_status import_gather(importer *im, int ni, const Onnx__NodeProto *n) {
    (void)ni;
    static const char *const attrs[] = {"axis", NULL};
    CLNET_TRY(check_attrs(n, attrs));
    value *x, *idx;
    CLNET_TRY(get_any(im, n, 0, "data", &x));
    CLNET_TRY(get_const(im, n, 1, "indices", &idx));
    CLNET_TRY(const_int(idx, "indices"));
    if (x->kind != VALUE_CONST)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "gathering from the computed tensor '%s' is not supported", x->name);
    int64_t axis;
    int a = 0;
    CLNET_TRY(attr_int(n, "axis", 0, &axis));
    CLNET_TRY(norm_axis(axis, x->rank, "axis", &a));
    int rank = x->rank - 1 + idx->rank;
    if (rank > MAX_RANK)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "rank %d is too high", rank);
    int64_t dims[MAX_RANK], outer = 1, inner = 1, span = x->dims[a];
    int r = 0;
    for (int j = 0; j < a; j++)
        outer *= dims[r++] = x->dims[j];
    for (int j = 0; j < idx->rank; j++)
        dims[r++] = idx->dims[j];
    for (int j = a + 1; j < x->rank; j++)
        inner *= dims[r++] = x->dims[j];
    for (size_t k = 0; k < idx->count; k++)
        if (idx->i[k] < -span || idx->i[k] >= span)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "index %lld is outside an axis of %lld",
                              (long long)idx->i[k], (long long)span);
    value *out = node_output(im, n, 0);
    CLNET_TRY(const_alloc(out, x->is_int, rank, dims));
    size_t pos = 0;
    for (int64_t o = 0; o < outer; o++)
        for (size_t k = 0; k < idx->count; k++) {
            int64_t at = idx->i[k] < 0 ? idx->i[k] + span : idx->i[k];
            size_t from = (size_t)((o * span + at) * inner);
            if (x->is_int)
                memcpy(out->i + pos, x->i + from, (size_t)inner * sizeof *out->i);
            else
                memcpy(out->f + pos, x->f + from, (size_t)inner * sizeof *out->f);
            pos += (size_t)inner;
        }
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* The graph                                                                */

typedef clnet_status (*node_importer)(importer *im, int ni, const Onnx__NodeProto *n);

static const struct {
    const char *op;
    node_importer fn;
} importers[] = {
    {"Conv", import_conv},
    {"BatchNormalization", import_batchnorm},
    {"Relu", import_activation},
    {"Sigmoid", import_activation},
    {"Clip", import_clip},
    {"Add", import_arith},
    {"Sub", import_arith},
    {"Mul", import_arith},
    {"Div", import_arith},
    {"Concat", import_concat},
    {"AveragePool", import_pool},
    {"MaxPool", import_pool},
    {"GlobalAveragePool", import_global_avgpool},
    {"Gemm", import_gemm},
    {"MatMul", import_matmul},
    {"Flatten", import_flatten},
    {"Reshape", import_reshape},
    {"Transpose", import_transpose},
    {"Pad", import_pad},
    {"Slice", import_slice},
    {"Softmax", import_softmax},
    {"Dropout", import_identity},
    {"Identity", import_identity},
    {"Constant", import_constant},
    {"Shape", import_shape},
    {"Gather", import_gather},
    {"Unsqueeze", import_squeeze},
    {"Squeeze", import_squeeze},
    {"Cast", import_cast},
};
#define N_IMPORTERS (sizeof importers / sizeof importers[0])

static node_importer find_importer(const char *op) {
    for (size_t k = 0; k < N_IMPORTERS; k++)
        if (strcmp(importers[k].op, op) == 0)
            return importers[k].fn;
    return NULL;
}

static clnet_status read_opset(importer *im, const Onnx__ModelProto *m) {
    im->opset = -1;
    for (size_t k = 0; k < m->n_opset_import; k++) {
        const char *domain = str(m->opset_import[k]->domain);
        if (domain[0] == '\0' || strcmp(domain, "ai.onnx") == 0)
            im->opset = m->opset_import[k]->has_version ? m->opset_import[k]->version : -1;
    }
    if (im->opset < 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "the model imports no version of the standard ONNX operator set");
    if (im->opset < 7 || im->opset > 17)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "the model uses ONNX opset %lld; clnet imports opsets 7 to 17",
                          (long long)im->opset);
    return CLNET_STATUS_OK;
}

/* Registers initializers, real graph inputs and node outputs as values. */
static clnet_status register_values(importer *im) {
    const Onnx__GraphProto *gp = im->graph;
    size_t total = gp->n_initializer + gp->n_input;
    for (size_t k = 0; k < gp->n_node; k++)
        total += gp->node[k]->n_output;
    im->values = calloc(total + 1, sizeof *im->values);
    if (!im->values)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory for %zu values", total);

    for (size_t k = 0; k < gp->n_initializer; k++) {
        const Onnx__TensorProto *t = gp->initializer[k];
        const char *name = str(t->name);
        char what[300];
        if (!name[0])
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "initializer %zu has no name", k);
        if (map_get(&im->map, name) >= 0)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "initializer '%.200s' appears twice",
                              name);
        snprintf(what, sizeof what, "initializer '%.200s'", name);
        size_t count;
        CLNET_TRY(tensor_check(t, what, &count));
        value *v = &im->values[im->n_values];
        v->name = name;
        v->kind = VALUE_INITIALIZER;
        v->proto = t;
        v->producer = -1;
        v->rank = (int)t->n_dims;
        for (size_t j = 0; j < t->n_dims; j++)
            v->dims[j] = t->dims[j];
        CLNET_TRY(map_put(&im->map, name, (int)im->n_values++));
    }
    for (size_t k = 0; k < gp->n_input; k++) {
        const char *name = str(gp->input[k]->name);
        if (!name[0])
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "graph input %zu has no name", k);
        int at = map_get(&im->map, name);
        if (at >= 0) {
            /* Old exporters list initializers as inputs too; they are
             * constants, not inputs. */
            if (im->values[at].kind == VALUE_INITIALIZER)
                continue;
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "graph input '%.200s' appears twice",
                              name);
        }
        value *v = &im->values[im->n_values];
        v->name = name;
        v->kind = VALUE_TENSOR;
        v->producer = -1;
        v->tensor.id = -1; /* set when the clnet input is made */
        CLNET_TRY(map_put(&im->map, name, (int)im->n_values++));
    }
    for (size_t k = 0; k < gp->n_node; k++) {
        const Onnx__NodeProto *n = gp->node[k];
        for (size_t j = 0; j < n->n_output; j++) {
            const char *name = str(n->output[j]);
            if (!name[0])
                continue;
            if (map_get(&im->map, name) >= 0)
                return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                                  "node '%.200s' writes '%.200s', which an input, an initializer "
                                  "or another node already defines",
                                  im->names[k], name);
            value *v = &im->values[im->n_values];
            v->name = name;
            v->kind = VALUE_PENDING;
            v->producer = (int)k;
            CLNET_TRY(map_put(&im->map, name, (int)im->n_values++));
        }
    }
    return CLNET_STATUS_OK;
}

/* Layer names: the node's own where present and unique, else
 * "<op>_<index>". */
static clnet_status choose_names(importer *im) {
    const Onnx__GraphProto *gp = im->graph;
    name_map own = {0}, chosen = {0};
    unsigned char *keep = calloc((size_t)im->n_nodes + 1, 1);
    im->names = calloc((size_t)im->n_nodes + 1, sizeof *im->names);
    clnet_status s = keep && im->names
                         ? CLNET_STATUS_OK
                         : clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
    /* Graph input names are taken; so is any node name used twice. */
    for (size_t k = 0; k < gp->n_input && s == CLNET_STATUS_OK; k++)
        if (map_get(&chosen, str(gp->input[k]->name)) < 0)
            s = map_put(&chosen, str(gp->input[k]->name), 0);
    for (int k = 0; k < im->n_nodes && s == CLNET_STATUS_OK; k++) {
        const char *name = str(gp->node[k]->name);
        if (!name[0] || strlen(name) > MAX_NAME || map_get(&chosen, name) >= 0)
            continue;
        int at = map_get(&own, name);
        if (at >= 0) {
            keep[at] = 0;
            continue;
        }
        keep[k] = 1;
        s = map_put(&own, name, k);
    }
    for (int k = 0; k < im->n_nodes && s == CLNET_STATUS_OK; k++)
        if (keep[k])
            s = map_put(&chosen, str(gp->node[k]->name), k);
    for (int k = 0; k < im->n_nodes && s == CLNET_STATUS_OK; k++) {
        const Onnx__NodeProto *n = gp->node[k];
        char buf[MAX_NAME + 80];
        if (keep[k]) {
            snprintf(buf, sizeof buf, "%s", str(n->name));
        } else {
            snprintf(buf, sizeof buf, "%.60s_%d", str(n->op_type), k);
            /* A generated name may equal another node's own name. */
            for (int j = 2; map_get(&chosen, buf) >= 0; j++)
                snprintf(buf, sizeof buf, "%.60s_%d_%d", str(n->op_type), k, j);
        }
        size_t len = strlen(buf) + 1;
        im->names[k] = malloc(len);
        if (!im->names[k]) {
            s = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
            break;
        }
        memcpy(im->names[k], buf, len);
        if (!keep[k])
            s = map_put(&chosen, im->names[k], k);
    }
    map_free(&own);
    map_free(&chosen);
    free(keep);
    return s;
}

/* Orders the nodes so that every value is produced before it is read;
 * rejects reads of undefined values and cycles. */
static clnet_status sort_nodes(importer *im) {
    const Onnx__GraphProto *gp = im->graph;
    int nn = im->n_nodes;
    int *pending = calloc((size_t)nn + 1, sizeof *pending);
    int *start = calloc((size_t)nn + 2, sizeof *start);
    im->order = calloc((size_t)nn + 1, sizeof *im->order);
    size_t edges = 0;
    for (int k = 0; k < nn; k++)
        edges += gp->node[k]->n_input;
    int *next = calloc(edges + 1, sizeof *next);
    if (!pending || !start || !im->order || !next) {
        free(pending);
        free(start);
        free(next);
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory sorting nodes");
    }
    clnet_status s = CLNET_STATUS_OK;
    /* Edges producer -> consumer, bucketed by producer. */
    for (int k = 0; k < nn && s == CLNET_STATUS_OK; k++) {
        const Onnx__NodeProto *n = gp->node[k];
        for (size_t j = 0; j < n->n_input; j++) {
            const char *name = str(n->input[j]);
            if (!name[0])
                continue;
            int at = map_get(&im->map, name);
            if (at < 0) {
                s = clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                               "node '%s' reads '%.200s', which no node or initializer produces",
                               im->names[k], name);
                break;
            }
            int p = im->values[at].producer;
            if (p >= 0) {
                pending[k]++;
                start[p + 1]++;
            }
        }
    }
    for (int k = 0; k < nn && s == CLNET_STATUS_OK; k++)
        start[k + 1] += start[k];
    int *fill = NULL;
    if (s == CLNET_STATUS_OK) {
        fill = malloc(((size_t)nn + 1) * sizeof *fill);
        if (!fill)
            s = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory sorting nodes");
    }
    if (s == CLNET_STATUS_OK) {
        memcpy(fill, start, (size_t)nn * sizeof *fill);
        for (int k = 0; k < nn; k++) {
            const Onnx__NodeProto *n = gp->node[k];
            for (size_t j = 0; j < n->n_input; j++) {
                if (!str(n->input[j])[0])
                    continue;
                int p = im->values[map_get(&im->map, n->input[j])].producer;
                if (p >= 0)
                    next[fill[p]++] = k;
            }
        }
        /* Kahn's algorithm; im->order doubles as the queue. */
        int head = 0, tail = 0;
        for (int k = 0; k < nn; k++)
            if (pending[k] == 0)
                im->order[tail++] = k;
        while (head < tail) {
            int k = im->order[head++];
            for (int e = start[k]; e < start[k + 1]; e++)
                if (--pending[next[e]] == 0)
                    im->order[tail++] = next[e];
        }
        if (tail < nn) {
            /* Walk back from a node left over: after nn steps the walk is
             * inside a cycle. */
            int k = 0;
            while (pending[k] == 0)
                k++;
            for (int step = 0; step < nn; step++) {
                const Onnx__NodeProto *n = gp->node[k];
                for (size_t j = 0; j < n->n_input; j++) {
                    if (!str(n->input[j])[0])
                        continue;
                    int p = im->values[map_get(&im->map, n->input[j])].producer;
                    if (p >= 0 && pending[p] > 0) {
                        k = p;
                        break;
                    }
                }
            }
            s = clnet_fail(CLNET_STATUS_FORMAT_ERROR, "the graph has a cycle through node '%s'",
                           im->names[k]);
        }
    }
    free(fill);
    free(pending);
    free(start);
    free(next);
    return s;
}

/* Marks the nodes the graph outputs depend on, and counts reads. */
static clnet_status mark_live(importer *im) {
    const Onnx__GraphProto *gp = im->graph;
    im->live = calloc((size_t)im->n_nodes + 1, 1);
    im->done = calloc((size_t)im->n_nodes + 1, 1);
    if (!im->live || !im->done)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
    if (gp->n_output == 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "the graph has no outputs");
    for (size_t k = 0; k < im->n_values; k++)
        im->values[k].consumer = -1;
    for (size_t k = 0; k < gp->n_output; k++) {
        const char *name = str(gp->output[k]->name);
        int at = map_get(&im->map, name);
        if (at < 0)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "graph output '%.200s' is produced by no node, input or "
                              "initializer",
                              name);
        im->values[at].uses++;
        if (im->values[at].producer >= 0)
            im->live[im->values[at].producer] = 1;
    }
    /* Reverse topological order sees every reader before its producer. */
    for (int k = im->n_nodes - 1; k >= 0; k--) {
        int ni = im->order[k];
        if (!im->live[ni])
            continue;
        const Onnx__NodeProto *n = gp->node[ni];
        for (size_t j = 0; j < n->n_input; j++) {
            if (!str(n->input[j])[0])
                continue;
            value *v = &im->values[map_get(&im->map, n->input[j])];
            v->uses++;
            /* The earliest reader in topological order wins. */
            v->consumer = ni;
            if (v->producer >= 0)
                im->live[v->producer] = 1;
        }
    }
    return CLNET_STATUS_OK;
}

static clnet_status make_inputs(importer *im) {
    const Onnx__GraphProto *gp = im->graph;
    int64_t batch = 0;
    for (size_t k = 0; k < gp->n_input; k++) {
        const Onnx__ValueInfoProto *info = gp->input[k];
        value *v = &im->values[map_get(&im->map, str(info->name))];
        if (v->kind != VALUE_TENSOR)
            continue;
        const Onnx__TypeProto *type = info->type;
        const Onnx__TypeProto__Tensor *tt =
            type && type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ? type->tensor_type
                                                                            : NULL;
        if (!tt)
            return clnet_fail(CLNET_STATUS_UNSUPPORTED, "graph input '%.200s' is not a tensor",
                              v->name);
        int32_t elem = tt->has_elem_type ? tt->elem_type : 0;
        if (elem != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
            return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                              "graph input '%.200s' holds %s; clnet inputs are float", v->name,
                              dtype_name(elem));
        const Onnx__TensorShapeProto *shape = tt->shape;
        if (!shape)
            return clnet_fail(CLNET_STATUS_UNSUPPORTED, "graph input '%.200s' has no shape",
                              v->name);
        /* Limitation: only image inputs; flat (N, F) inputs are not imported. */
        if (shape->n_dim != 4)
            return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                              "graph input '%.200s' has rank %zu; clnet imports (N, C, H, W) "
                              "image inputs",
                              v->name, shape->n_dim);
        int dims[4];
        for (int j = 0; j < 4; j++) {
            const Onnx__TensorShapeProto__Dimension *d = shape->dim[j];
            int fixed = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            if (j == 0) {
                /* The batch: baked in or symbolic, chosen at run time. */
                int64_t b = fixed && d->dim_value > 0 ? d->dim_value : BATCH_SYMBOLIC;
                batch = batch == 0 || batch == b ? b : BATCH_SYMBOLIC;
                continue;
            }
            if (!fixed || d->dim_value <= 0 || d->dim_value > MAX_DIM)
                return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                                  "graph input '%.200s': dimension %d is %s; clnet needs fixed "
                                  "channels, height and width",
                                  v->name, j, fixed ? "out of range" : "symbolic");
            dims[j] = (int)d->dim_value;
        }
        clnet_tensor t;
        CLNET_TRY(clnet_graph_input(im->g, v->name, dims[1], dims[2], dims[3], &t));
        v->tensor = t;
        v->rank = 4;
        v->dims[1] = dims[1];
        v->dims[2] = dims[2];
        v->dims[3] = dims[3];
    }
    if (clnet_graph_input_count(im->g) == 0)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "the graph has no inputs besides its "
                          "initializers");
    im->batch = batch;
    for (size_t k = 0; k < im->n_values; k++)
        if (im->values[k].kind == VALUE_TENSOR)
            im->values[k].dims[0] = batch;
    return CLNET_STATUS_OK;
}

static clnet_status import_nodes(importer *im) {
    const Onnx__GraphProto *gp = im->graph;
    int skipped = 0;
    for (int k = 0; k < im->n_nodes; k++) {
        int ni = im->order[k];
        const Onnx__NodeProto *n = gp->node[ni];
        if (!im->live[ni]) {
            skipped++;
            continue;
        }
        if (im->done[ni])
            continue;
        clnet_status s = node_output(im, n, 0)
                             ? find_importer(n->op_type)(im, ni, n)
                             : clnet_fail(CLNET_STATUS_UNSUPPORTED,
                                          "its first output is not named; clnet imports nodes "
                                          "whose first output is used");
        if (s != CLNET_STATUS_OK)
            return clnet_fail_context(s, "node '%s' (%s): ", im->names[ni], n->op_type);
    }
    if (skipped && clnet_log_enabled(CLNET_LOG_INFO))
        clnet_log(CLNET_LOG_INFO, "onnx", "%s: %d nodes do not contribute to any output and were "
                  "not imported", im->path, skipped);
    return CLNET_STATUS_OK;
}

static clnet_status set_outputs(importer *im) {
    const Onnx__GraphProto *gp = im->graph;
    clnet_tensor *outs = calloc(gp->n_output, sizeof *outs);
    if (!outs)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
    clnet_status s = CLNET_STATUS_OK;
    for (size_t k = 0; k < gp->n_output && s == CLNET_STATUS_OK; k++) {
        value *v = &im->values[map_get(&im->map, str(gp->output[k]->name))];
        char dims[160];
        s = available(im, v);
        if (s == CLNET_STATUS_OK && v->kind != VALUE_TENSOR)
            s = clnet_fail(CLNET_STATUS_UNSUPPORTED,
                           "graph output '%.200s' is a constant; clnet outputs are computed "
                           "from the inputs",
                           v->name);
        else if (s == CLNET_STATUS_OK && v->rank != 2 && v->rank != 4)
            s = clnet_fail(CLNET_STATUS_UNSUPPORTED,
                           "graph output '%.200s' has shape %s; clnet outputs are (N, C) or "
                           "(N, C, H, W)",
                           v->name, format_dims(v->dims, v->rank, dims, sizeof dims));
        outs[k] = v->tensor;
    }
    if (s == CLNET_STATUS_OK && gp->n_output > INT_MAX)
        s = clnet_fail(CLNET_STATUS_UNSUPPORTED, "too many outputs");
    if (s == CLNET_STATUS_OK)
        s = clnet_graph_set_outputs(im->g, outs, (int)gp->n_output);
    free(outs);
    return s;
}

static clnet_status check_nodes(importer *im) {
    const Onnx__GraphProto *gp = im->graph;
    for (int k = 0; k < im->n_nodes; k++) {
        const Onnx__NodeProto *n = gp->node[k];
        const char *op = str(n->op_type);
        const char *domain = str(n->domain);
        if (!op[0])
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "node %d has no operator type", k);
        if (domain[0] && strcmp(domain, "ai.onnx") != 0)
            return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                              "node '%s' has operator '%.60s' of domain '%.100s'; clnet imports "
                              "standard ONNX operators only",
                              im->names[k], op, domain);
        if (!find_importer(op))
            return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                              "node '%s' has operator type '%.60s', which clnet does not import",
                              im->names[k], op);
    }
    return CLNET_STATUS_OK;
}

static clnet_status import_graph(importer *im, const Onnx__ModelProto *m) {
    CLNET_TRY(read_opset(im, m));
    if (!m->graph)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "the model has no graph");
    im->graph = m->graph;
    if (m->graph->n_node > MAX_NODES)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "the graph has %zu nodes; clnet imports at "
                          "most %d", m->graph->n_node, MAX_NODES);
    if (m->graph->n_sparse_initializer)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED, "sparse initializers are not supported");
    im->n_nodes = (int)m->graph->n_node;
    CLNET_TRY(choose_names(im));
    CLNET_TRY(register_values(im));
    CLNET_TRY(check_nodes(im));
    CLNET_TRY(sort_nodes(im));
    CLNET_TRY(mark_live(im));
    CLNET_TRY(clnet_graph_create(&im->g));
    CLNET_TRY(make_inputs(im));
    CLNET_TRY(import_nodes(im));
    return set_outputs(im);
}

static void importer_free(importer *im) {
    for (size_t k = 0; k < im->n_values; k++)
        const_release(&im->values[k]);
    free(im->values);
    map_free(&im->map);
    if (im->names)
        for (int k = 0; k < im->n_nodes; k++)
            free(im->names[k]);
    free(im->names);
    free(im->order);
    free(im->live);
    free(im->done);
}

clnet_status clnet_import_onnx(const char *path, clnet_graph **out) {
    if (!path || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_import_onnx: NULL argument");
    *out = NULL;
    uint8_t *data = NULL;
    size_t size = 0;
    CLNET_TRY(read_file(path, &data, &size));
    Onnx__ModelProto *model = NULL;
    clnet_status s = parse_model(path, data, size, &model);
    free(data);
    if (s != CLNET_STATUS_OK)
        return s;

    importer im;
    memset(&im, 0, sizeof im);
    im.path = path;
    s = import_graph(&im, model);
    importer_free(&im);
    onnx__model_proto__free_unpacked(model, NULL);
    if (s != CLNET_STATUS_OK) {
        clnet_graph_destroy(im.g);
        /* Reading and parsing name the file themselves; the graph's
         * messages get it here. */
        return clnet_fail_context(s, "ONNX model '%s': ", path);
    }
    *out = im.g;
    return CLNET_STATUS_OK;
}
