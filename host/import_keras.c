/* Keras HDF5 files: whole models rebuilt from their model_config JSON, and weights-only files
 * (Keras 2, and Keras 1 with Theano's kernel layout) loaded into a built-in architecture. */
#include "clnet.h"
#include "error.h"
#include "import.h"

#include <cjson/cJSON.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds that keep a hostile file from making us allocate or loop without limit; real models
 * stay far below them. */
#define MAX_TEXT_BYTES      ((size_t)1 << 28) /* one attribute's text (model_config, name lists) */
#define MAX_LIST_ITEMS      1000000           /* strings in one list attribute */
#define MAX_LAYERS          100000
#define MAX_NODES_PER_LAYER 4096
#define MAX_CALL_INPUTS     4096
#define MAX_ARG_DEPTH       16 /* nesting searched for tensors in a Keras 3 call's arguments */
#define MAX_DIMENSION_VALUE 1000000
#define MAX_NAME            1024 /* longest path built from a layer and a weight name */

/* ------------------------------------------------------------------------ */
/* Lists of strings                                                          */

typedef struct string_list {
    int count, cap;
    char **items;
} string_list;

static void strings_free(string_list *l) {
    for (int i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static clnet_status strings_push(string_list *l, const char *s, size_t n) {
    if (l->count >= MAX_LIST_ITEMS)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "a name list holds more than %d entries",
                          MAX_LIST_ITEMS);
    if (l->count == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **p = realloc(l->items, (size_t)cap * sizeof *p);
        if (!p)
            return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory reading names");
        l->items = p;
        l->cap = cap;
    }
    char *copy = malloc(n + 1);
    if (!copy)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory reading names");
    memcpy(copy, s, n);
    copy[n] = '\0';
    l->items[l->count++] = copy;
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* HDF5 access                                                               */

static void close_id(hid_t id, herr_t (*close)(hid_t)) {
    if (id >= 0)
        close(id);
}

static void reclaim_strings(hid_t type, hid_t space, char **buf) {
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(type, space, H5P_DEFAULT, buf);
#else
    H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
#endif
}

/* Appends the strings of one attribute of obj to out. An empty attribute of any type adds
 * nothing: h5py writes an empty weight list as an empty float64 array. */
static clnet_status read_attr_once(hid_t obj, const char *obj_path, const char *name,
                                   string_list *out) {
    clnet_status s = CLNET_STATUS_OK;
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t type = attr >= 0 ? H5Aget_type(attr) : H5I_INVALID_HID;
    hid_t space = attr >= 0 ? H5Aget_space(attr) : H5I_INVALID_HID;
    hid_t mem = H5I_INVALID_HID;
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (n < 0 || type < 0) {
        s = clnet_fail(CLNET_STATUS_FORMAT_ERROR, "cannot read attribute '%s' of '%s'", name,
                       obj_path);
        goto done;
    }
    if (n == 0)
        goto done;
    if (H5Tget_class(type) != H5T_STRING) {
        s = clnet_fail(CLNET_STATUS_FORMAT_ERROR, "attribute '%s' of '%s' is not text", name,
                       obj_path);
        goto done;
    }
    if (n > MAX_LIST_ITEMS) {
        s = clnet_fail(CLNET_STATUS_FORMAT_ERROR, "attribute '%s' of '%s' holds %lld strings", name,
                       obj_path, (long long)n);
        goto done;
    }
    /* Keep the file's character set: HDF5 does not convert between ASCII and UTF-8. */
    htri_t variable = H5Tis_variable_str(type);
    H5T_cset_t cset = H5Tget_cset(type);
    mem = H5Tcopy(H5T_C_S1);
    if (variable < 0 || cset < 0 || mem < 0 || H5Tset_cset(mem, cset) < 0) {
        s = clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                       "attribute '%s' of '%s' has an unreadable "
                       "string type",
                       name, obj_path);
        goto done;
    }
    if (variable) {
        char **buf = calloc((size_t)n, sizeof *buf);
        if (!buf) {
            s = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory reading '%s'", name);
            goto done;
        }
        if (H5Tset_size(mem, H5T_VARIABLE) < 0 || H5Aread(attr, mem, buf) < 0)
            s = clnet_fail(CLNET_STATUS_FORMAT_ERROR, "cannot read attribute '%s' of '%s'", name,
                           obj_path);
        for (hssize_t i = 0; i < n && s == CLNET_STATUS_OK; i++) {
            const char *str = buf[i] ? buf[i] : "";
            size_t len = strlen(str);
            if (len > MAX_TEXT_BYTES)
                s = clnet_fail(CLNET_STATUS_FORMAT_ERROR, "attribute '%s' of '%s' is too long",
                               name, obj_path);
            else
                s = strings_push(out, str, len);
        }
        /* Whatever HDF5 allocated, even on a failed read, is released here. */
        reclaim_strings(mem, space, buf);
        free(buf);
    } else {
        size_t size = H5Tget_size(type);
        if (size == 0 || size > MAX_TEXT_BYTES / (size_t)n) {
            s = clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                           "attribute '%s' of '%s' has strings of %zu bytes", name, obj_path, size);
            goto done;
        }
        char *buf = malloc(size * (size_t)n);
        if (!buf) {
            s = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory reading '%s'", name);
            goto done;
        }
        if (H5Tset_size(mem, size) < 0 || H5Tset_strpad(mem, H5T_STR_NULLPAD) < 0 ||
            H5Aread(attr, mem, buf) < 0)
            s = clnet_fail(CLNET_STATUS_FORMAT_ERROR, "cannot read attribute '%s' of '%s'", name,
                           obj_path);
        for (hssize_t i = 0; i < n && s == CLNET_STATUS_OK; i++) {
            const char *str = buf + (size_t)i * size;
            const char *nul = memchr(str, '\0', size);
            s = strings_push(out, str, nul ? (size_t)(nul - str) : size);
        }
        free(buf);
    }
done:
    close_id(mem, H5Tclose);
    close_id(space, H5Sclose);
    close_id(type, H5Tclose);
    close_id(attr, H5Aclose);
    return s;
}

/* Reads a text attribute as a list of strings. Keras splits attributes above HDF5's 64 KiB
 * header limit into name0, name1, ...; those are joined. *found tells whether any existed. */
static clnet_status read_attr_strings(hid_t obj, const char *obj_path, const char *name,
                                      string_list *out, int *found) {
    *found = 0;
    htri_t exists = H5Aexists(obj, name);
    if (exists < 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "cannot look up attribute '%s' of '%s'", name,
                          obj_path);
    if (exists) {
        *found = 1;
        return read_attr_once(obj, obj_path, name, out);
    }
    for (int k = 0;; k++) {
        char chunk[MAX_NAME];
        snprintf(chunk, sizeof chunk, "%s%d", name, k);
        exists = H5Aexists(obj, chunk);
        if (exists < 0)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "cannot look up attribute '%s' of '%s'",
                              chunk, obj_path);
        if (!exists)
            return CLNET_STATUS_OK;
        *found = 1;
        CLNET_TRY(read_attr_once(obj, obj_path, chunk, out));
    }
}

/* One string attribute (a scalar, or the first of a list); NULL in *out if absent. */
static clnet_status read_attr_text(hid_t obj, const char *obj_path, const char *name, char **out) {
    *out = NULL;
    string_list l = {0};
    int found;
    clnet_status s = read_attr_strings(obj, obj_path, name, &l, &found);
    if (s == CLNET_STATUS_OK && found && l.count > 0) {
        *out = l.items[0];
        l.items[0] = NULL;
    }
    strings_free(&l);
    return s;
}

/* Whether a path of links exists below loc, checking each step: HDF5 fails rather than answers
 * when an intermediate group is missing. */
static int link_exists(hid_t loc, const char *path) {
    char buf[MAX_NAME];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf || path[0] == '/')
        return 0;
    memcpy(buf, path, n + 1);
    for (size_t i = 0; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        htri_t e = H5Lexists(loc, buf, H5P_DEFAULT);
        buf[i] = saved;
        if (e <= 0)
            return 0;
    }
    return 1;
}

/* A stored tensor's shape, as in the file (Keras order). */
typedef struct h5_shape {
    int rank;
    long long dims[4];
} h5_shape;

static void format_h5_shape(const h5_shape *s, char *buf, size_t size) {
    int n = snprintf(buf, size, "(");
    for (int i = 0; i < s->rank && n > 0 && (size_t)n < size; i++)
        n += snprintf(buf + n, size - (size_t)n, "%s%lld", i ? ", " : "", s->dims[i]);
    if (n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ")");
}

static int same_shape(const h5_shape *a, const h5_shape *b) {
    if (a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return 1;
}

/* Opens a float dataset of rank 1 to 4 named `name` under group (whose path is group_path)
 * and reports its shape. */
static clnet_status open_dataset(hid_t group, const char *group_path, const char *name, hid_t *out,
                                 h5_shape *shape) {
    *out = H5I_INVALID_HID;
    if (!link_exists(group, name))
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "there is no dataset '%s/%s'", group_path,
                          name);
    hid_t d = H5Dopen2(group, name, H5P_DEFAULT);
    if (d < 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "cannot open dataset '%s/%s'", group_path,
                          name);
    hid_t type = H5Dget_type(d), space = H5Dget_space(d);
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    hsize_t dims[H5S_MAX_RANK];
    clnet_status s = CLNET_STATUS_OK;
    if (type < 0 || rank < 0 || H5Sget_simple_extent_dims(space, dims, NULL) < 0)
        s = clnet_fail(CLNET_STATUS_FORMAT_ERROR, "cannot read the shape of dataset '%s/%s'",
                       group_path, name);
    else if (H5Tget_class(type) != H5T_FLOAT)
        s = clnet_fail(CLNET_STATUS_FORMAT_ERROR, "dataset '%s/%s' does not hold floats",
                       group_path, name);
    else if (rank < 1 || rank > 4)
        s = clnet_fail(CLNET_STATUS_FORMAT_ERROR, "dataset '%s/%s' has rank %d, not 1 to 4",
                       group_path, name, rank);
    if (s == CLNET_STATUS_OK) {
        shape->rank = rank;
        for (int i = 0; i < rank; i++) {
            if (dims[i] > MAX_DIMENSION_VALUE) {
                s = clnet_fail(CLNET_STATUS_FORMAT_ERROR, "dataset '%s/%s' has a dimension of %llu",
                               group_path, name, (unsigned long long)dims[i]);
                break;
            }
            shape->dims[i] = (long long)dims[i];
        }
    }
    close_id(space, H5Sclose);
    close_id(type, H5Tclose);
    if (s != CLNET_STATUS_OK) {
        H5Dclose(d);
        return s;
    }
    *out = d;
    return CLNET_STATUS_OK;
}

/* Reads a dataset whose shape must equal `expect` into a new array of floats. */
static clnet_status read_dataset(hid_t group, const char *group_path, const char *name,
                                 const h5_shape *expect, float **out) {
    *out = NULL;
    hid_t d;
    h5_shape got;
    CLNET_TRY(open_dataset(group, group_path, name, &d, &got));
    clnet_status s = CLNET_STATUS_OK;
    if (!same_shape(&got, expect)) {
        char a[96], b[96];
        format_h5_shape(&got, a, sizeof a);
        format_h5_shape(expect, b, sizeof b);
        s = clnet_fail(CLNET_STATUS_FORMAT_ERROR, "dataset '%s/%s' has shape %s, expected %s",
                       group_path, name, a, b);
    }
    size_t count = 1;
    for (int i = 0; i < got.rank; i++)
        count *= (size_t)got.dims[i];
    float *data = NULL;
    if (s == CLNET_STATUS_OK) {
        data = malloc((count ? count : 1) * sizeof *data);
        if (!data)
            s = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory reading '%s/%s'",
                           group_path, name);
    }
    if (s == CLNET_STATUS_OK &&
        H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        s = clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                       "cannot read dataset '%s/%s' (truncated or corrupted file?)", group_path,
                       name);
    H5Dclose(d);
    if (s != CLNET_STATUS_OK) {
        free(data);
        return s;
    }
    *out = data;
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Weights: roles by name, and layout conversion                             */

typedef enum weight_role {
    ROLE_KERNEL = 0,
    ROLE_BIAS,
    ROLE_GAMMA,
    ROLE_BETA,
    ROLE_MEAN,
    ROLE_VARIANCE,
    ROLE_COUNT,
    ROLE_UNKNOWN = ROLE_COUNT
} weight_role;

/* clnet's weight names, indexed by role. */
static const char *const role_names[ROLE_COUNT] = {"kernel", "bias",        "gamma",
                                                   "beta",   "moving_mean", "moving_variance"};

static int ends_with(const char *s, size_t n, const char *suffix) {
    size_t m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* The role of a stored weight from its name: "conv2d_1/kernel:0" (Keras 2), "conv2d/kernel"
 * (Keras 3) or "convolution2d_1_W" (Keras 1, whose BN "running_std" holds the variance). */
static weight_role weight_role_of(const char *name) {
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t n = strlen(base);
    const char *colon = strchr(base, ':');
    if (colon)
        n = (size_t)(colon - base);
    static const struct {
        const char *suffix;
        weight_role role;
    } table[] = {
        {"kernel", ROLE_KERNEL},
        {"_W", ROLE_KERNEL},
        {"bias", ROLE_BIAS},
        {"_b", ROLE_BIAS},
        {"gamma", ROLE_GAMMA},
        {"beta", ROLE_BETA},
        {"moving_mean", ROLE_MEAN},
        {"running_mean", ROLE_MEAN},
        {"moving_variance", ROLE_VARIANCE},
        {"running_std", ROLE_VARIANCE},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const char *suf = table[i].suffix;
        size_t m = strlen(suf);
        /* Whole names ("kernel") or a suffix after '_' ("dense_1_W", "bn_1_gamma"). */
        if (n == m && memcmp(base, suf, m) == 0)
            return table[i].role;
        if (suf[0] == '_' ? ends_with(base, n, suf)
                          : (n > m && base[n - m - 1] == '_' && ends_with(base, n, suf)))
            return table[i].role;
    }
    return ROLE_UNKNOWN;
}

/* The order of a flat tensor's features. Keras flattens channels-last maps in (h, w, c)
 * order, clnet in (c, h, w) order; c == 0 means the orders agree. */
typedef struct flat_order {
    int c, h, w;
} flat_order;

static int same_order(flat_order a, flat_order b) {
    return a.c == b.c && a.h == b.h && a.w == b.w;
}

typedef enum kernel_layout {
    LAYOUT_HWIO = 0,    /* Keras 2 and 3, and Keras 1 with TensorFlow ordering */
    LAYOUT_OIHW,        /* Keras 1 with Theano ordering */
    LAYOUT_OIHW_FLIPPED /* ... run by Theano, whose convolution rotates the kernel 180 degrees */
} kernel_layout;

/* A conv kernel from the file's layout to clnet's OIHW. */
static void convert_conv_kernel(const float *src, kernel_layout layout, int o_count, int i_count,
                                int kh, int kw, float *dst) {
    for (int o = 0; o < o_count; o++)
        for (int i = 0; i < i_count; i++)
            for (int y = 0; y < kh; y++)
                for (int x = 0; x < kw; x++) {
                    size_t d = (((size_t)o * i_count + i) * kh + y) * kw + x;
                    size_t s;
                    if (layout == LAYOUT_HWIO)
                        s = (((size_t)y * kw + x) * i_count + i) * o_count + o;
                    else if (layout == LAYOUT_OIHW)
                        s = d;
                    else
                        s = (((size_t)o * i_count + i) * kh + (kh - 1 - y)) * kw + (kw - 1 - x);
                    dst[d] = src[s];
                }
}

/* A Dense kernel (in, units) to clnet's [units][in], moving the rows of a channels-last
 * flatten to clnet's (c, h, w) order. */
static void convert_dense_kernel(const float *src, int in, int units, flat_order order,
                                 float *dst) {
    for (int u = 0; u < units; u++)
        for (int i = 0; i < in; i++) {
            int row = i;
            if (order.c) {
                int c = i / (order.h * order.w), rest = i % (order.h * order.w);
                int y = rest / order.w, x = rest % order.w;
                row = (y * order.w + x) * order.c + c;
            }
            dst[(size_t)u * in + i] = src[(size_t)row * units + u];
        }
}

/* A layer's weight by clnet name. */
static int layer_weight(clnet_layer *layer, const char *name, clnet_weight_info *out) {
    int n = clnet_layer_weight_count(layer);
    for (int i = 0; i < n; i++)
        if (clnet_layer_weight(layer, i, out) == CLNET_STATUS_OK && strcmp(out->name, name) == 0)
            return 1;
    return 0;
}

/* Where each role of one layer's weights is stored: dataset names relative to the layer's
 * group, or NULL. */
typedef struct stored_weights {
    char *names[ROLE_COUNT];
    h5_shape shapes[ROLE_COUNT];
} stored_weights;

static void stored_free(stored_weights *w) {
    for (int r = 0; r < ROLE_COUNT; r++)
        free(w->names[r]);
    memset(w, 0, sizeof *w);
}

static char *copy_text(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* Finds the datasets of a layer group from its weight_names attribute (the list Keras itself
 * loads by), or, without one, at <role>:0 and <role> under <layer>/. Every dataset's shape is
 * read. *count receives the number of weights found. */
static clnet_status find_stored_weights(hid_t group, const char *group_path, const char *layer_name,
                                        stored_weights *out, int *count) {
    memset(out, 0, sizeof *out);
    *count = 0;
    string_list names = {0};
    int found;
    clnet_status s = read_attr_strings(group, group_path, "weight_names", &names, &found);
    for (int i = 0; s == CLNET_STATUS_OK && found && i < names.count; i++) {
        weight_role r = weight_role_of(names.items[i]);
        if (r == ROLE_UNKNOWN)
            s = clnet_fail(CLNET_STATUS_UNSUPPORTED,
                           "weight '%s' of layer '%s' is of no kind clnet knows (kernel, bias, "
                           "gamma, beta, moving_mean, moving_variance)",
                           names.items[i], layer_name);
        else if (out->names[r])
            s = clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                           "layer '%s' lists two %s weights: '%s' and '%s'", layer_name,
                           role_names[r], out->names[r], names.items[i]);
        else if (!(out->names[r] = copy_text(names.items[i])))
            s = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
    }
    strings_free(&names);
    for (int r = 0; s == CLNET_STATUS_OK && !found && r < ROLE_COUNT; r++) {
        char path[MAX_NAME];
        const char *suffixes[2] = {":0", ""};
        for (int k = 0; k < 2 && !out->names[r]; k++) {
            int n = snprintf(path, sizeof path, "%s/%s%s", layer_name, role_names[r], suffixes[k]);
            if (n > 0 && (size_t)n < sizeof path && link_exists(group, path) &&
                !(out->names[r] = copy_text(path)))
                s = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
        }
    }
    for (int r = 0; s == CLNET_STATUS_OK && r < ROLE_COUNT; r++) {
        if (!out->names[r])
            continue;
        hid_t d;
        s = open_dataset(group, group_path, out->names[r], &d, &out->shapes[r]);
        if (s == CLNET_STATUS_OK) {
            H5Dclose(d);
            ++*count;
        }
    }
    if (s != CLNET_STATUS_OK)
        stored_free(out);
    return s;
}

/* ------------------------------------------------------------------------ */
/* The importer's state                                                      */

typedef enum layer_kind {
    KIND_INPUT = 0,
    KIND_CONV,
    KIND_BATCHNORM,
    KIND_ACTIVATION,
    KIND_RELU,
    KIND_ADD,
    KIND_SUBTRACT,
    KIND_MULTIPLY,
    KIND_CONCAT,
    KIND_AVGPOOL,
    KIND_MAXPOOL,
    KIND_GLOBAL_AVGPOOL,
    KIND_FLATTEN,
    KIND_DENSE,
    KIND_DROPOUT,
    KIND_ZERO_PADDING,
    KIND_SOFTMAX
} layer_kind;

static const struct {
    const char *class_name;
    layer_kind kind;
} known_classes[] = {
    {"InputLayer", KIND_INPUT},
    {"Conv2D", KIND_CONV},
    {"BatchNormalization", KIND_BATCHNORM},
    {"Activation", KIND_ACTIVATION},
    {"ReLU", KIND_RELU},
    {"Add", KIND_ADD},
    {"Subtract", KIND_SUBTRACT},
    {"Multiply", KIND_MULTIPLY},
    {"Concatenate", KIND_CONCAT},
    {"AveragePooling2D", KIND_AVGPOOL},
    {"AvgPool2D", KIND_AVGPOOL},
    {"MaxPooling2D", KIND_MAXPOOL},
    {"MaxPool2D", KIND_MAXPOOL},
    {"GlobalAveragePooling2D", KIND_GLOBAL_AVGPOOL},
    {"GlobalAvgPool2D", KIND_GLOBAL_AVGPOOL},
    {"Flatten", KIND_FLATTEN},
    {"Dense", KIND_DENSE},
    {"Dropout", KIND_DROPOUT},
    {"SpatialDropout2D", KIND_DROPOUT},
    {"ZeroPadding2D", KIND_ZERO_PADDING},
    {"Softmax", KIND_SOFTMAX},
};

/* One Keras layer of the model_config. */
typedef struct klayer {
    const char *name;
    const char *class_name;
    layer_kind kind;
    const cJSON *config;
    const cJSON *inbound;     /* inbound_nodes, or NULL (Sequential) */
    const cJSON *batch_shape; /* inputs: [null, H, W, C] */
    int n_nodes;
    int first_call; /* index of its node 0 in the importer's calls */
    clnet_layer *layer;
    int has_dense_order;
    flat_order dense_order; /* Dense: the feature order of its input */
    int center, scale;      /* BatchNormalization */
} klayer;

/* One call of a layer (one inbound node), or one model input. */
typedef struct kcall {
    int layer, node;
    int n_in;
    int *in; /* the calls producing its inputs */
    int done;
    clnet_tensor out;
    flat_order order;
} kcall;

typedef struct named_layer {
    const char *name;
    int index;
} named_layer;

typedef struct importer {
    const char *path;
    hid_t file;
    hid_t weights; /* the group holding one group per layer */
    const char *weights_path;
    cJSON *json;
    int n_layers;
    klayer *layers;
    named_layer *by_name; /* the layers sorted by name */
    int n_calls;
    kcall *calls;
    int n_inputs, n_outputs;
    int *inputs, *outputs; /* calls */
    int channels_first;
    char *made_input_name; /* a Sequential model's implicit input */
    clnet_graph *g;
} importer;

static void importer_free(importer *im) {
    for (int i = 0; i < im->n_calls; i++)
        free(im->calls[i].in);
    free(im->calls);
    free(im->layers);
    free(im->by_name);
    free(im->inputs);
    free(im->outputs);
    free(im->made_input_name);
    cJSON_Delete(im->json);
    if (im->weights >= 0 && im->weights != im->file)
        H5Gclose(im->weights);
    close_id(im->file, H5Fclose);
    clnet_graph_destroy(im->g);
}

/* ------------------------------------------------------------------------ */
/* Reading the layer configuration                                           */

static const cJSON *jget(const cJSON *obj, const char *key) {
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static int jabsent(const cJSON *v) {
    return !v || cJSON_IsNull(v);
}

static clnet_status bad_value(const klayer *L, const char *key, const char *what) {
    return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "layer '%s' (%s): '%s' must be %s", L->name,
                      L->class_name, key, what);
}

static int json_int(const cJSON *v, int lo, int hi, int *out) {
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi) || d != floor(d))
        return 0;
    *out = (int)d;
    return 1;
}

/* An integer option; def is used when absent (def < lo: the option is required). */
static clnet_status get_int(const klayer *L, const char *key, int def, int lo, int hi, int *out) {
    const cJSON *v = jget(L->config, key);
    if (jabsent(v) && def >= lo) {
        *out = def;
        return CLNET_STATUS_OK;
    }
    if (!json_int(v, lo, hi, out)) {
        char what[64];
        snprintf(what, sizeof what, "an integer from %d to %d", lo, hi);
        return bad_value(L, key, what);
    }
    return CLNET_STATUS_OK;
}

/* An option given as one integer or a pair (kernel_size, strides, ...). */
static clnet_status get_pair(const klayer *L, const char *key, int def, int lo, int hi,
                             int out[2]) {
    const cJSON *v = jget(L->config, key);
    if (jabsent(v) && def >= lo) {
        out[0] = out[1] = def;
        return CLNET_STATUS_OK;
    }
    if (json_int(v, lo, hi, &out[0])) {
        out[1] = out[0];
        return CLNET_STATUS_OK;
    }
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 &&
        json_int(cJSON_GetArrayItem(v, 0), lo, hi, &out[0]) &&
        json_int(cJSON_GetArrayItem(v, 1), lo, hi, &out[1]))
        return CLNET_STATUS_OK;
    char what[80];
    snprintf(what, sizeof what, "an integer or a pair of integers from %d to %d", lo, hi);
    return bad_value(L, key, what);
}

static clnet_status get_bool(const klayer *L, const char *key, int def, int *out) {
    const cJSON *v = jget(L->config, key);
    if (jabsent(v))
        *out = def;
    else if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v);
    else
        return bad_value(L, key, "true or false");
    return CLNET_STATUS_OK;
}

static clnet_status get_number(const klayer *L, const char *key, double def, double *out) {
    const cJSON *v = jget(L->config, key);
    if (jabsent(v))
        *out = def;
    else if (cJSON_IsNumber(v) && isfinite(v->valuedouble))
        *out = v->valuedouble;
    else
        return bad_value(L, key, "a number");
    return CLNET_STATUS_OK;
}

/* A string option; def when absent. */
static clnet_status get_string(const klayer *L, const char *key, const char *def,
                               const char **out) {
    const cJSON *v = jget(L->config, key);
    if (jabsent(v))
        *out = def;
    else if (cJSON_IsString(v))
        *out = v->valuestring;
    else
        return bad_value(L, key, "a string");
    return CLNET_STATUS_OK;
}

static clnet_status unsupported(const klayer *L, const char *key, const char *value,
                                const char *supported) {
    return clnet_fail(CLNET_STATUS_UNSUPPORTED, "layer '%s' (%s): %s '%s' is not supported (%s)",
                      L->name, L->class_name, key, value, supported);
}

static clnet_status get_padding(const klayer *L, clnet_padding *out) {
    const char *p;
    CLNET_TRY(get_string(L, "padding", "valid", &p));
    if (strcmp(p, "same") == 0)
        *out = CLNET_PADDING_SAME;
    else if (strcmp(p, "valid") == 0)
        *out = CLNET_PADDING_VALID;
    else
        return unsupported(L, "padding", p, "'same' and 'valid' are");
    return CLNET_STATUS_OK;
}

static clnet_status get_activation(const klayer *L, const char *key, clnet_activation *out) {
    const char *a;
    CLNET_TRY(get_string(L, key, "linear", &a));
    static const struct {
        const char *name;
        clnet_activation act;
    } table[] = {{"linear", CLNET_ACT_LINEAR},
                 {"relu", CLNET_ACT_RELU},
                 {"softmax", CLNET_ACT_SOFTMAX},
                 {"sigmoid", CLNET_ACT_SIGMOID}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(a, table[i].name) == 0) {
            *out = table[i].act;
            return CLNET_STATUS_OK;
        }
    return unsupported(L, "activation", a, "linear, relu, sigmoid and softmax are");
}

/* ------------------------------------------------------------------------ */
/* The graph of calls                                                        */

static int compare_names(const void *a, const void *b) {
    return strcmp(((const named_layer *)a)->name, ((const named_layer *)b)->name);
}

static int find_layer(const importer *im, const char *name) {
    named_layer key = {name, -1};
    const named_layer *hit =
        bsearch(&key, im->by_name, (size_t)im->n_layers, sizeof key, compare_names);
    return hit ? hit->index : -1;
}

/* Indexes the layers by name, rejecting duplicates. */
static clnet_status index_layers(importer *im) {
    im->by_name = malloc((size_t)(im->n_layers ? im->n_layers : 1) * sizeof *im->by_name);
    if (!im->by_name)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
    for (int i = 0; i < im->n_layers; i++)
        im->by_name[i] = (named_layer){im->layers[i].name, i};
    qsort(im->by_name, (size_t)im->n_layers, sizeof *im->by_name, compare_names);
    for (int i = 1; i < im->n_layers; i++)
        if (strcmp(im->by_name[i].name, im->by_name[i - 1].name) == 0)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "model_config has two layers named '%s'",
                              im->by_name[i].name);
    return CLNET_STATUS_OK;
}

/* A growable list of call indices. */
typedef struct call_list {
    int n, cap;
    int *items;
} call_list;

static clnet_status calls_push(call_list *l, int call) {
    if (l->n >= MAX_CALL_INPUTS)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "a call has more than %d inputs",
                          MAX_CALL_INPUTS);
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 4;
        int *p = realloc(l->items, (size_t)cap * sizeof *p);
        if (!p)
            return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n++] = call;
    return CLNET_STATUS_OK;
}

/* Resolves a reference [layer name, node index, tensor index] to the call producing it. */
static clnet_status resolve_ref(const importer *im, const cJSON *ref, const char *where,
                                int *call) {
    const cJSON *name = cJSON_GetArrayItem(ref, 0);
    int node, tensor;
    if (!cJSON_IsArray(ref) || cJSON_GetArraySize(ref) < 3 || !cJSON_IsString(name) ||
        !json_int(cJSON_GetArrayItem(ref, 1), 0, MAX_NODES_PER_LAYER, &node) ||
        !json_int(cJSON_GetArrayItem(ref, 2), 0, MAX_NODES_PER_LAYER, &tensor))
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "%s: a tensor reference is not [layer name, node index, tensor "
                          "index]",
                          where);
    int l = find_layer(im, name->valuestring);
    if (l < 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "%s refers to an unknown layer '%s'", where,
                          name->valuestring);
    if (node >= im->layers[l].n_nodes)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "%s refers to call %d of layer '%s', which has %d", where, node,
                          name->valuestring, im->layers[l].n_nodes);
    if (tensor != 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "%s refers to output %d of layer '%s', which has one output", where,
                          tensor, name->valuestring);
    *call = im->layers[l].first_call + node;
    return CLNET_STATUS_OK;
}

/* Collects the tensors an inbound node refers to, in order. Keras 2 writes a node as a list of
 * [name, node, tensor, kwargs]; Keras 3 as {"args": [...], "kwargs": {...}} where tensors are
 * {"class_name": "__keras_tensor__", "config": {"keras_history": [name, node, tensor]}},
 * possibly inside lists. Other arguments (constants, kwargs) carry no tensors for the layers
 * supported here. */
static clnet_status collect_refs(const importer *im, const cJSON *v, int depth, const char *where,
                                 call_list *out) {
    if (depth > MAX_ARG_DEPTH)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "%s: inbound node nested too deeply", where);
    if (cJSON_IsArray(v)) {
        if (cJSON_IsString(cJSON_GetArrayItem(v, 0))) {
            int call;
            CLNET_TRY(resolve_ref(im, v, where, &call));
            return calls_push(out, call);
        }
        const cJSON *item;
        cJSON_ArrayForEach(item, v) {
            CLNET_TRY(collect_refs(im, item, depth + 1, where, out));
        }
        return CLNET_STATUS_OK;
    }
    if (cJSON_IsObject(v)) {
        const cJSON *args = jget(v, "args");
        if (args)
            return collect_refs(im, args, depth + 1, where, out);
        const cJSON *cls = jget(v, "class_name");
        if (cJSON_IsString(cls) && strcmp(cls->valuestring, "__keras_tensor__") == 0) {
            const cJSON *history = jget(jget(v, "config"), "keras_history");
            int call;
            CLNET_TRY(resolve_ref(im, history, where, &call));
            return calls_push(out, call);
        }
    }
    return CLNET_STATUS_OK;
}

/* input_layers / output_layers: a list of references, or (Keras 3, one tensor) a single one. */
static clnet_status read_endpoints(const importer *im, const cJSON *v, const char *key, int **out,
                                   int *n) {
    call_list l = {0};
    clnet_status s = CLNET_STATUS_OK;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
        s = clnet_fail(CLNET_STATUS_FORMAT_ERROR, "model_config has no list '%s'", key);
    else if (cJSON_IsString(cJSON_GetArrayItem(v, 0))) {
        int call;
        s = resolve_ref(im, v, key, &call);
        if (s == CLNET_STATUS_OK)
            s = calls_push(&l, call);
    } else {
        const cJSON *item;
        cJSON_ArrayForEach(item, v) {
            int call;
            s = resolve_ref(im, item, key, &call);
            if (s == CLNET_STATUS_OK)
                s = calls_push(&l, call);
            if (s != CLNET_STATUS_OK)
                break;
        }
    }
    if (s != CLNET_STATUS_OK) {
        free(l.items);
        return s;
    }
    *out = l.items;
    *n = l.n;
    return CLNET_STATUS_OK;
}

/* Fills a klayer from one entry of config.layers. */
static clnet_status read_layer(const cJSON *entry, int index, klayer *L) {
    memset(L, 0, sizeof *L);
    const cJSON *cls = jget(entry, "class_name");
    L->config = jget(entry, "config");
    const cJSON *name = jget(entry, "name");
    if (!cJSON_IsString(name))
        name = jget(L->config, "name");
    if (!cJSON_IsString(cls) || !cJSON_IsObject(L->config) || !cJSON_IsString(name) ||
        name->valuestring[0] == '\0')
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "model_config: layer %d has no class_name, name or config", index);
    L->name = name->valuestring;
    L->class_name = cls->valuestring;
    for (size_t i = 0; i < sizeof known_classes / sizeof known_classes[0]; i++)
        if (strcmp(L->class_name, known_classes[i].class_name) == 0) {
            L->kind = known_classes[i].kind;
            return CLNET_STATUS_OK;
        }
    return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                      "layer '%s' is of class '%s', which clnet does not import", L->name,
                      L->class_name);
}

static const cJSON *batch_shape_of(const cJSON *config) {
    const cJSON *v = jget(config, "batch_input_shape");
    return v ? v : jget(config, "batch_shape");
}

/* Sets up the calls of a Sequential model: one per layer, each on the previous one. */
static clnet_status read_sequential(importer *im, const cJSON *config) {
    const cJSON *list = cJSON_IsArray(config) ? config : jget(config, "layers");
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || n == 0 || n > MAX_LAYERS)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "model_config of the Sequential model has no list of layers");
    const cJSON *first = cJSON_GetArrayItem(list, 0);
    const cJSON *cls = jget(first, "class_name");
    int implicit = !(cJSON_IsString(cls) && strcmp(cls->valuestring, "InputLayer") == 0);
    im->layers = calloc((size_t)n + 1, sizeof *im->layers);
    im->calls = calloc((size_t)n + 1, sizeof *im->calls);
    im->inputs = malloc(sizeof *im->inputs);
    im->outputs = malloc(sizeof *im->outputs);
    if (!im->layers || !im->calls || !im->inputs || !im->outputs)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");

    /* Without an InputLayer the input's shape sits on the first layer, as Keras 2 saves it. */
    int k = 0;
    if (implicit) {
        const cJSON *shape = batch_shape_of(jget(first, "config"));
        if (!shape)
            shape = jget(config, "build_input_shape");
        const cJSON *fname = jget(jget(first, "config"), "name");
        if (!shape || !cJSON_IsString(fname))
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "model_config: the Sequential model states no input shape");
        size_t len = strlen(fname->valuestring) + sizeof "_input";
        im->made_input_name = malloc(len);
        if (!im->made_input_name)
            return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
        snprintf(im->made_input_name, len, "%s_input", fname->valuestring);
        klayer *L = &im->layers[k++];
        L->name = im->made_input_name;
        L->class_name = "InputLayer";
        L->kind = KIND_INPUT;
        L->batch_shape = shape;
    }
    const cJSON *entry;
    cJSON_ArrayForEach(entry, list) {
        CLNET_TRY(read_layer(entry, k, &im->layers[k]));
        k++;
    }
    im->n_layers = k;
    CLNET_TRY(index_layers(im));
    for (int i = 0; i < k; i++) {
        klayer *L = &im->layers[i];
        if (L->kind == KIND_INPUT) {
            if (i != 0)
                return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                                  "model_config: InputLayer '%s' is not the first layer of the "
                                  "Sequential model",
                                  L->name);
            if (!L->batch_shape)
                L->batch_shape = batch_shape_of(L->config);
        }
        L->n_nodes = 1;
        L->first_call = i;
        kcall *c = &im->calls[i];
        c->layer = i;
        if (i > 0) {
            c->in = malloc(sizeof *c->in);
            if (!c->in)
                return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
            c->in[0] = i - 1;
            c->n_in = 1;
        }
    }
    im->n_calls = k;
    im->inputs[0] = 0;
    im->outputs[0] = k - 1;
    im->n_inputs = im->n_outputs = 1;
    return CLNET_STATUS_OK;
}

/* Sets up the calls of a functional model from each layer's inbound_nodes. */
static clnet_status read_functional(importer *im, const cJSON *config) {
    const cJSON *list = jget(config, "layers");
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || n == 0 || n > MAX_LAYERS)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "model_config has no list of layers");
    im->layers = calloc((size_t)n, sizeof *im->layers);
    if (!im->layers)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
    const cJSON *entry;
    int k = 0;
    long long total = 0;
    cJSON_ArrayForEach(entry, list) {
        klayer *L = &im->layers[k];
        CLNET_TRY(read_layer(entry, k, L));
        L->inbound = jget(entry, "inbound_nodes");
        if (L->kind == KIND_INPUT) {
            L->batch_shape = batch_shape_of(L->config);
            L->n_nodes = 1;
        } else {
            if (!cJSON_IsArray(L->inbound))
                return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                                  "model_config: layer '%s' has no list inbound_nodes", L->name);
            L->n_nodes = cJSON_GetArraySize(L->inbound);
            if (L->n_nodes > MAX_NODES_PER_LAYER)
                return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                                  "model_config: layer '%s' is called %d times", L->name,
                                  L->n_nodes);
        }
        L->first_call = (int)total;
        total += L->n_nodes;
        k++;
    }
    im->n_layers = k;
    CLNET_TRY(index_layers(im));

    im->calls = calloc((size_t)(total ? total : 1), sizeof *im->calls);
    if (!im->calls)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
    im->n_calls = (int)total;
    for (int l = 0; l < im->n_layers; l++) {
        klayer *L = &im->layers[l];
        for (int node = 0; node < L->n_nodes; node++) {
            kcall *c = &im->calls[L->first_call + node];
            c->layer = l;
            c->node = node;
            if (L->kind == KIND_INPUT)
                continue;
            char where[MAX_NAME + 64];
            snprintf(where, sizeof where, "inbound node %d of layer '%s'", node, L->name);
            call_list refs = {0};
            clnet_status s =
                collect_refs(im, cJSON_GetArrayItem(L->inbound, node), 0, where, &refs);
            c->in = refs.items;
            c->n_in = refs.n;
            CLNET_TRY(s);
            if (c->n_in == 0)
                return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "%s refers to no tensor", where);
        }
    }
    CLNET_TRY(read_endpoints(im, jget(config, "input_layers"), "input_layers", &im->inputs,
                             &im->n_inputs));
    CLNET_TRY(read_endpoints(im, jget(config, "output_layers"), "output_layers", &im->outputs,
                             &im->n_outputs));
    for (int i = 0; i < im->n_inputs; i++) {
        const klayer *L = &im->layers[im->calls[im->inputs[i]].layer];
        if (L->kind != KIND_INPUT)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "model_config: input '%s' is a %s layer, not an InputLayer", L->name,
                              L->class_name);
    }
    return CLNET_STATUS_OK;
}

/* Keras layers say where their channels are; clnet needs one layout for the whole model. */
static clnet_status choose_layout(importer *im) {
    const klayer *first_cf = NULL, *first_cl = NULL;
    for (int i = 0; i < im->n_layers; i++) {
        const klayer *L = &im->layers[i];
        const cJSON *f = jget(L->config, "data_format");
        if (cJSON_IsString(f) && strcmp(f->valuestring, "channels_first") == 0)
            first_cf = first_cf ? first_cf : L;
        else if (cJSON_IsString(f) && strcmp(f->valuestring, "channels_last") == 0)
            first_cl = first_cl ? first_cl : L;
        else if (!jabsent(f))
            return unsupported(L, "data_format", cJSON_IsString(f) ? f->valuestring : "?",
                               "channels_last and channels_first are");
    }
    /* Limitation: a model mixing channels_first and channels_last layers is not imported. */
    if (first_cf && first_cl)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "layer '%s' is channels_first but layer '%s' is channels_last: clnet "
                          "imports models with one data format",
                          first_cf->name, first_cl->name);
    im->channels_first = first_cf != NULL;
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Building one call                                                         */

/* Checks that a Keras axis (of a tensor of rank 4, or 2 for flat ones) is the channel axis. */
static clnet_status check_channel_axis(const importer *im, const klayer *L, int axis,
                                       clnet_shape shape) {
    int keras_rank = shape.rank == 3 ? 4 : 2;
    int channel_axis = keras_rank == 2 ? 1 : im->channels_first ? 1 : 3;
    int a = axis < 0 ? axis + keras_rank : axis;
    if (a != channel_axis) {
        char v[16];
        snprintf(v, sizeof v, "%d", axis);
        return unsupported(L, "axis", v, "only the channel axis is");
    }
    return CLNET_STATUS_OK;
}

static clnet_status get_axis(const klayer *L, int def, int *out) {
    const cJSON *v = jget(L->config, "axis");
    /* tf.keras saves BatchNormalization's axis as a one-element list. */
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1)
        v = cJSON_GetArrayItem(v, 0);
    if (jabsent(v)) {
        *out = def;
        return CLNET_STATUS_OK;
    }
    if (!json_int(v, -8, 8, out))
        return bad_value(L, "axis", "one integer");
    return CLNET_STATUS_OK;
}

static clnet_status make_input(importer *im, kcall *c) {
    const klayer *L = &im->layers[c->layer];
    const cJSON *shape = L->batch_shape;
    int d[3];
    if (!cJSON_IsArray(shape))
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "input '%s' states no batch shape", L->name);
    /* Limitation: only image inputs (batch, height, width, channels) are imported. */
    if (cJSON_GetArraySize(shape) != 4)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "input '%s' has rank %d; clnet imports image inputs of rank 4 "
                          "(batch, height, width, channels)",
                          L->name, cJSON_GetArraySize(shape));
    for (int i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetArrayItem(shape, i + 1);
        if (cJSON_IsNull(v))
            return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                              "input '%s' has a variable dimension %d; clnet needs fixed "
                              "image sizes",
                              L->name, i + 1);
        if (!json_int(v, 1, MAX_DIMENSION_VALUE, &d[i]))
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "input '%s': dimension %d is not a positive integer", L->name, i + 1);
    }
    int ch = im->channels_first ? d[0] : d[2];
    int h = im->channels_first ? d[1] : d[0];
    int w = im->channels_first ? d[2] : d[1];
    if ((long long)ch * h * w > INT32_MAX)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "input '%s' of %d x %d x %d elements per image is too large", L->name, h,
                          w, ch);
    return clnet_graph_input(im->g, L->name, ch, h, w, &c->out);
}

static clnet_status make_conv(const klayer *L, clnet_graph *g, clnet_layer **out) {
    int filters, k[2], strides[2], dilation[2], groups, use_bias = 0;
    clnet_conv2d_desc d;
    CLNET_TRY(get_int(L, "filters", 0, 1, MAX_DIMENSION_VALUE, &filters));
    CLNET_TRY(get_pair(L, "kernel_size", 0, 1, 4096, k));
    CLNET_TRY(get_pair(L, "strides", 1, 1, 4096, strides));
    CLNET_TRY(get_pair(L, "dilation_rate", 1, 1, 4096, dilation));
    CLNET_TRY(get_int(L, "groups", 1, 1, MAX_DIMENSION_VALUE, &groups));
    CLNET_TRY(get_bool(L, "use_bias", 1, &use_bias));
    /* Limitation: grouped convolutions are not imported. */
    if (groups != 1) {
        char v[16];
        snprintf(v, sizeof v, "%d", groups);
        return unsupported(L, "groups", v, "only 1 is");
    }
    d = clnet_conv2d_defaults(filters, 1);
    d.kernel_h = k[0];
    d.kernel_w = k[1];
    d.stride_h = strides[0];
    d.stride_w = strides[1];
    d.dilation_h = dilation[0];
    d.dilation_w = dilation[1];
    d.use_bias = use_bias;
    CLNET_TRY(get_padding(L, &d.padding));
    CLNET_TRY(get_activation(L, "activation", &d.activation));
    return clnet_layer_conv2d(g, L->name, &d, out);
}

static clnet_status make_dense(const klayer *L, clnet_graph *g, clnet_layer **out) {
    clnet_dense_desc d = {0, 1, CLNET_ACT_LINEAR, CLNET_INIT_GLOROT_UNIFORM};
    CLNET_TRY(get_int(L, "units", 0, 1, MAX_DIMENSION_VALUE, &d.units));
    CLNET_TRY(get_bool(L, "use_bias", 1, &d.use_bias));
    CLNET_TRY(get_activation(L, "activation", &d.activation));
    return clnet_layer_dense(g, L->name, &d, out);
}

static clnet_status make_pool(const klayer *L, clnet_graph *g, clnet_layer **out) {
    clnet_pool2d_desc d = clnet_pool2d_defaults(2);
    int pool[2], strides[2];
    CLNET_TRY(get_pair(L, "pool_size", 2, 1, 4096, pool));
    const cJSON *s = jget(L->config, "strides");
    /* Keras' strides default to the pool size. */
    if (jabsent(s)) {
        strides[0] = pool[0];
        strides[1] = pool[1];
    } else {
        CLNET_TRY(get_pair(L, "strides", 1, 1, 4096, strides));
    }
    d.pool_h = pool[0];
    d.pool_w = pool[1];
    d.stride_h = strides[0];
    d.stride_w = strides[1];
    CLNET_TRY(get_padding(L, &d.padding));
    if (L->kind == KIND_MAXPOOL)
        return clnet_layer_maxpool(g, L->name, &d, out);
    return clnet_layer_avgpool(g, L->name, &d, out);
}

static clnet_status make_zero_padding(const klayer *L, clnet_graph *g, clnet_layer **out) {
    clnet_pad_desc d = {0};
    const cJSON *v = jget(L->config, "padding");
    int p[2], q[2];
    /* ((top, bottom), (left, right)), (rows, columns) or one number. */
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 && cJSON_IsArray(cJSON_GetArrayItem(v, 0))) {
        const cJSON *rows = cJSON_GetArrayItem(v, 0), *cols = cJSON_GetArrayItem(v, 1);
        if (cJSON_GetArraySize(rows) != 2 || cJSON_GetArraySize(cols) != 2 ||
            !json_int(cJSON_GetArrayItem(rows, 0), 0, 4096, &p[0]) ||
            !json_int(cJSON_GetArrayItem(rows, 1), 0, 4096, &p[1]) ||
            !json_int(cJSON_GetArrayItem(cols, 0), 0, 4096, &q[0]) ||
            !json_int(cJSON_GetArrayItem(cols, 1), 0, 4096, &q[1]))
            return bad_value(L, "padding", "((top, bottom), (left, right)) of integers");
    } else {
        int rc[2];
        CLNET_TRY(get_pair(L, "padding", 1, 0, 4096, rc));
        p[0] = p[1] = rc[0];
        q[0] = q[1] = rc[1];
    }
    d.top = p[0];
    d.bottom = p[1];
    d.left = q[0];
    d.right = q[1];
    return clnet_layer_pad(g, L->name, &d, out);
}

static clnet_status make_relu(const klayer *L, clnet_graph *g, clnet_layer **out) {
    double slope, threshold, max_value;
    CLNET_TRY(get_number(L, "negative_slope", 0.0, &slope));
    CLNET_TRY(get_number(L, "threshold", 0.0, &threshold));
    CLNET_TRY(get_number(L, "max_value", -1.0, &max_value));
    /* Limitation: leaky and thresholded ReLU are not imported. */
    if (slope != 0.0 || threshold != 0.0)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "layer '%s' (ReLU): negative_slope %g and threshold %g are not "
                          "supported (only 0 is)",
                          L->name, slope, threshold);
    if (jabsent(jget(L->config, "max_value")))
        return clnet_layer_activation(g, L->name, CLNET_ACT_RELU, out);
    if (max_value < 0)
        return bad_value(L, "max_value", "a non-negative number");
    return clnet_layer_clip(g, L->name, 0.0f, (float)max_value, out);
}

/* Creates the clnet layer of a Keras layer at its first call; in_shape is that call's first
 * input. */
static clnet_status make_layer(importer *im, klayer *L, clnet_shape in_shape) {
    clnet_graph *g = im->g;
    int axis;
    switch (L->kind) {
    case KIND_CONV: return make_conv(L, g, &L->layer);
    case KIND_BATCHNORM: {
        double eps;
        CLNET_TRY(get_number(L, "epsilon", 1e-3, &eps));
        CLNET_TRY(get_bool(L, "center", 1, &L->center));
        CLNET_TRY(get_bool(L, "scale", 1, &L->scale));
        CLNET_TRY(get_axis(L, -1, &axis));
        CLNET_TRY(check_channel_axis(im, L, axis, in_shape));
        if (!(eps > 0))
            return bad_value(L, "epsilon", "positive");
        return clnet_layer_batchnorm(g, L->name, (float)eps, &L->layer);
    }
    case KIND_ACTIVATION: {
        clnet_activation act;
        CLNET_TRY(get_activation(L, "activation", &act));
        if (act == CLNET_ACT_SOFTMAX && in_shape.rank == 3 && im->channels_first)
            return unsupported(L, "activation", "softmax",
                               "a softmax over the last axis of a channels_first map is not");
        return clnet_layer_activation(g, L->name, act, &L->layer);
    }
    case KIND_RELU: return make_relu(L, g, &L->layer);
    case KIND_ADD: return clnet_layer_add(g, L->name, &L->layer);
    case KIND_SUBTRACT: return clnet_layer_subtract(g, L->name, &L->layer);
    case KIND_MULTIPLY: return clnet_layer_multiply(g, L->name, &L->layer);
    case KIND_CONCAT:
        CLNET_TRY(get_axis(L, -1, &axis));
        CLNET_TRY(check_channel_axis(im, L, axis, in_shape));
        return clnet_layer_concat(g, L->name, &L->layer);
    case KIND_AVGPOOL:
    case KIND_MAXPOOL: return make_pool(L, g, &L->layer);
    case KIND_GLOBAL_AVGPOOL: {
        int keepdims = 0;
        CLNET_TRY(get_bool(L, "keepdims", 0, &keepdims));
        /* Limitation: global pooling keeping (1, 1) spatial dimensions is not imported. */
        if (keepdims)
            return unsupported(L, "keepdims", "true", "only false is");
        return clnet_layer_global_avgpool(g, L->name, &L->layer);
    }
    case KIND_FLATTEN: return clnet_layer_flatten(g, L->name, &L->layer);
    case KIND_DENSE: return make_dense(L, g, &L->layer);
    case KIND_DROPOUT: {
        double rate;
        CLNET_TRY(get_number(L, "rate", 0.0, &rate));
        if (!(rate >= 0 && rate < 1))
            return bad_value(L, "rate", "in [0, 1)");
        return clnet_layer_dropout(g, L->name, (float)rate, &L->layer);
    }
    case KIND_ZERO_PADDING: return make_zero_padding(L, g, &L->layer);
    case KIND_SOFTMAX:
        CLNET_TRY(get_axis(L, -1, &axis));
        CLNET_TRY(check_channel_axis(im, L, axis, in_shape));
        return clnet_layer_softmax(g, L->name, &L->layer);
    case KIND_INPUT: break;
    }
    return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "layer '%s' (%s) cannot be called", L->name,
                      L->class_name);
}

/* Whether a layer computes each feature of a flat tensor independently of the others' order,
 * so that a (h, w, c) flatten order can pass through it. */
static int keeps_feature_order(layer_kind kind) {
    return kind == KIND_DROPOUT || kind == KIND_ACTIVATION || kind == KIND_RELU ||
           kind == KIND_SOFTMAX || kind == KIND_FLATTEN || kind == KIND_ADD ||
           kind == KIND_SUBTRACT || kind == KIND_MULTIPLY;
}

static clnet_status build_call(importer *im, kcall *c) {
    klayer *L = &im->layers[c->layer];
    if (L->kind == KIND_INPUT)
        return make_input(im, c);

    int single = !(L->kind == KIND_ADD || L->kind == KIND_SUBTRACT || L->kind == KIND_MULTIPLY ||
                   L->kind == KIND_CONCAT);
    if (single ? c->n_in != 1 : c->n_in < 2 || (L->kind == KIND_SUBTRACT && c->n_in != 2))
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "layer '%s' (%s) is called on %d tensors in inbound node %d", L->name,
                          L->class_name, c->n_in, c->node);

    clnet_tensor *inputs = malloc((size_t)c->n_in * sizeof *inputs);
    if (!inputs)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
    flat_order order = im->calls[c->in[0]].order;
    clnet_status s = CLNET_STATUS_OK;
    for (int i = 0; i < c->n_in; i++) {
        const kcall *p = &im->calls[c->in[i]];
        inputs[i] = p->out;
        if (!same_order(p->order, order) ||
            (order.c && !keeps_feature_order(L->kind) && L->kind != KIND_DENSE)) {
            const klayer *src = &im->layers[p->layer];
            s = clnet_fail(CLNET_STATUS_UNSUPPORTED,
                           "layer '%s' (%s) takes features flattened in Keras' (height, width, "
                           "channels) order from '%s'; clnet flattens in (channels, height, "
                           "width) order and reorders them only for Dense layers",
                           L->name, L->class_name, src->name);
            break;
        }
    }
    clnet_shape shape = {0};
    if (s == CLNET_STATUS_OK)
        s = clnet_tensor_shape(im->g, inputs[0], &shape);
    if (s == CLNET_STATUS_OK && L->kind == KIND_DENSE && shape.rank != 1)
        s = clnet_fail(CLNET_STATUS_UNSUPPORTED,
                       "layer '%s' (Dense) is applied to a (height, width, channels) map; "
                       "clnet imports Dense layers on flat inputs only",
                       L->name);
    if (s == CLNET_STATUS_OK && !L->layer)
        s = make_layer(im, L, shape);

    /* The order of a flatten's output, and the order Dense kernels must be read in. */
    c->order = order;
    if (s == CLNET_STATUS_OK && L->kind == KIND_FLATTEN && shape.rank == 3 && !im->channels_first &&
        shape.c > 1 && shape.h * shape.w > 1)
        c->order = (flat_order){shape.c, shape.h, shape.w};
    if (s == CLNET_STATUS_OK && L->kind == KIND_DENSE) {
        if (!L->has_dense_order) {
            L->has_dense_order = 1;
            L->dense_order = order;
        } else if (!same_order(L->dense_order, order)) {
            s = clnet_fail(CLNET_STATUS_UNSUPPORTED,
                           "shared Dense layer '%s' is called on features in different orders",
                           L->name);
        }
        c->order = (flat_order){0, 0, 0};
    }
    if (s == CLNET_STATUS_OK)
        s = clnet_layer_call(L->layer, inputs, c->n_in, &c->out);
    free(inputs);
    return s;
}

/* A binary min-heap of call indices, so that ready calls are built in the order Keras lists
 * them. */
typedef struct heap {
    int n;
    int *items;
} heap;

static void heap_push(heap *h, int v) {
    int i = h->n++;
    h->items[i] = v;
    while (i > 0 && h->items[(i - 1) / 2] > h->items[i]) {
        int p = (i - 1) / 2, t = h->items[p];
        h->items[p] = h->items[i];
        h->items[i] = t;
        i = p;
    }
}

static int heap_pop(heap *h) {
    int top = h->items[0];
    h->items[0] = h->items[--h->n];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->items[l] < h->items[m])
            m = l;
        if (r < h->n && h->items[r] < h->items[m])
            m = r;
        if (m == i)
            break;
        int t = h->items[m];
        h->items[m] = h->items[i];
        h->items[i] = t;
        i = m;
    }
    return top;
}

/* Builds every call once all its inputs exist (Kahn's algorithm); calls left over sit on a
 * cycle. */
static clnet_status build_calls(importer *im) {
    int n = im->n_calls;
    size_t slots = n > 0 ? (size_t)n : 1;
    size_t edges = 1;
    for (int i = 0; i < n; i++)
        edges += (size_t)im->calls[i].n_in;
    int *pending = calloc(slots, sizeof *pending);
    int *first = calloc(slots + 1, sizeof *first);
    int *users = malloc(edges * sizeof *users);
    heap h = {0, malloc(slots * sizeof *h.items)};
    clnet_status s = CLNET_STATUS_OK;
    if (!pending || !first || !users || !h.items) {
        s = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
        goto done;
    }
    /* users[first[p] .. first[p + 1]) lists the calls that read call p. */
    for (int i = 0; i < n; i++)
        for (int k = 0; k < im->calls[i].n_in; k++)
            first[im->calls[i].in[k] + 1]++;
    for (int i = 0; i < n; i++)
        first[i + 1] += first[i];
    int *fill = pending; /* borrowed as a cursor, reset below */
    for (int i = 0; i < n; i++)
        fill[i] = first[i];
    for (int i = 0; i < n; i++)
        for (int k = 0; k < im->calls[i].n_in; k++)
            users[fill[im->calls[i].in[k]]++] = i;
    for (int i = 0; i < n; i++) {
        pending[i] = im->calls[i].n_in;
        if (pending[i] == 0)
            heap_push(&h, i);
    }

    /* Graph inputs come first, in the order of input_layers. */
    for (int i = 0; i < im->n_inputs && s == CLNET_STATUS_OK; i++) {
        kcall *c = &im->calls[im->inputs[i]];
        if (c->done)
            s = clnet_fail(CLNET_STATUS_FORMAT_ERROR, "input '%s' is listed twice",
                           im->layers[c->layer].name);
        else if ((s = build_call(im, c)) == CLNET_STATUS_OK)
            c->done = 1;
    }
    int built = 0;
    while (s == CLNET_STATUS_OK && h.n > 0) {
        int i = heap_pop(&h);
        kcall *c = &im->calls[i];
        if (!c->done) {
            if (im->layers[c->layer].kind == KIND_INPUT) {
                s = clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                               "InputLayer '%s' is not among the model's input_layers",
                               im->layers[c->layer].name);
                break;
            }
            s = build_call(im, c);
            c->done = 1;
        }
        built++;
        for (int k = first[i]; k < first[i + 1] && s == CLNET_STATUS_OK; k++)
            if (--pending[users[k]] == 0)
                heap_push(&h, users[k]);
    }
    if (s == CLNET_STATUS_OK && built < n) {
        for (int i = 0; i < n; i++)
            if (pending[i] > 0) {
                s = clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                               "the inbound nodes form a cycle: layer '%s' depends on its own "
                               "output",
                               im->layers[im->calls[i].layer].name);
                break;
            }
    }
done:
    free(pending);
    free(first);
    free(users);
    free(h.items);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Weights of a rebuilt model                                                */

/* Reads one stored weight of the expected Keras shape, converts it and stores it in the clnet
 * layer's weight `role`. */
static clnet_status load_weight(hid_t group, const char *group_path, const char *dataset,
                                const h5_shape *expect, clnet_layer *layer, weight_role role,
                                kernel_layout layout, flat_order order) {
    float *src;
    CLNET_TRY(read_dataset(group, group_path, dataset, expect, &src));
    clnet_weight_info w;
    clnet_status s = CLNET_STATUS_OK;
    float *converted = NULL;
    if (!layer_weight(layer, role_names[role], &w))
        s = clnet_fail(CLNET_STATUS_FORMAT_ERROR, "layer '%s' has no weight '%s'",
                       clnet_layer_name(layer), role_names[role]);
    else if (role == ROLE_KERNEL) {
        converted = malloc(w.count * sizeof *converted);
        if (!converted)
            s = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
        else if (w.rank == 4)
            convert_conv_kernel(src, layout, w.dims[0], w.dims[1], w.dims[2], w.dims[3], converted);
        else
            convert_dense_kernel(src, w.dims[1], w.dims[0], order, converted);
    }
    if (s == CLNET_STATUS_OK)
        s = clnet_layer_set_weight(layer, role_names[role], converted ? converted : src, w.count);
    free(converted);
    free(src);
    return s;
}

/* The shape Keras stores a clnet weight in: HWIO and (in, out) kernels. */
static h5_shape keras_shape(const clnet_weight_info *w, kernel_layout layout) {
    h5_shape s = {w->rank, {0}};
    for (int i = 0; i < w->rank; i++)
        s.dims[i] = w->dims[i];
    if (w->rank == 4 && layout == LAYOUT_HWIO)
        s = (h5_shape){4, {w->dims[2], w->dims[3], w->dims[1], w->dims[0]}};
    else if (w->rank == 2)
        s = (h5_shape){2, {w->dims[1], w->dims[0]}};
    return s;
}

static clnet_status load_layer_weights(importer *im, const klayer *L) {
    char group_path[MAX_NAME * 2];
    snprintf(group_path, sizeof group_path, "%s/%s",
             strcmp(im->weights_path, "/") == 0 ? "" : im->weights_path, L->name);
    if (!link_exists(im->weights, L->name))
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "layer '%s' has no weight group '%s'", L->name,
                          group_path);
    hid_t group = H5Gopen2(im->weights, L->name, H5P_DEFAULT);
    if (group < 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "cannot open weight group '%s'", group_path);
    stored_weights stored;
    int count;
    clnet_status s = find_stored_weights(group, group_path, L->name, &stored, &count);

    /* Which roles the layer has: BatchNormalization without center or scale stores no beta or
     * gamma, which then keep clnet's 0 and 1. */
    int wanted[ROLE_COUNT] = {0};
    for (int i = 0; i < clnet_layer_weight_count(L->layer); i++) {
        clnet_weight_info w;
        if (clnet_layer_weight(L->layer, i, &w) != CLNET_STATUS_OK)
            continue;
        for (int r = 0; r < ROLE_COUNT; r++)
            if (strcmp(w.name, role_names[r]) == 0)
                wanted[r] = 1;
    }
    if (L->kind == KIND_BATCHNORM) {
        wanted[ROLE_GAMMA] = L->scale;
        wanted[ROLE_BETA] = L->center;
    }
    for (int r = 0; s == CLNET_STATUS_OK && r < ROLE_COUNT; r++) {
        if (wanted[r] && !stored.names[r])
            s = clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                           "layer '%s' (%s): the file holds no %s weight under '%s'", L->name,
                           L->class_name, role_names[r], group_path);
        else if (!wanted[r] && stored.names[r])
            s = clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                           "layer '%s' (%s): the file holds a %s weight '%s/%s' that the "
                           "configuration does not use",
                           L->name, L->class_name, role_names[r], group_path, stored.names[r]);
    }
    for (int r = 0; s == CLNET_STATUS_OK && r < ROLE_COUNT; r++) {
        clnet_weight_info w;
        if (!wanted[r] || !layer_weight(L->layer, role_names[r], &w))
            continue;
        h5_shape expect = keras_shape(&w, LAYOUT_HWIO);
        s = load_weight(group, group_path, stored.names[r], &expect, L->layer, (weight_role)r,
                        LAYOUT_HWIO, L->dense_order);
    }
    stored_free(&stored);
    H5Gclose(group);
    return s;
}

static clnet_status import_model(importer *im, const char *text) {
    const char *end = NULL;
    im->json = cJSON_ParseWithOpts(text, &end, 1);
    if (!im->json)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "model_config is not valid JSON (error near byte %ld)",
                          end ? (long)(end - text) : -1L);
    const cJSON *cls = jget(im->json, "class_name");
    const cJSON *config = jget(im->json, "config");
    if (!cJSON_IsString(cls) || !config)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "model_config has no class_name and config at its top level");
    const char *c = cls->valuestring;
    if (strcmp(c, "Sequential") == 0)
        CLNET_TRY(read_sequential(im, config));
    else if (strcmp(c, "Functional") == 0 || strcmp(c, "Model") == 0)
        CLNET_TRY(read_functional(im, config));
    else
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "the model is a '%s'; clnet imports Sequential and functional "
                          "(Model, Functional) models",
                          c);
    CLNET_TRY(choose_layout(im));

    CLNET_TRY(clnet_graph_create(&im->g));
    CLNET_TRY(build_calls(im));
    clnet_tensor *outs = malloc((size_t)im->n_outputs * sizeof *outs);
    if (!outs)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
    for (int i = 0; i < im->n_outputs; i++)
        outs[i] = im->calls[im->outputs[i]].out;
    clnet_status s = clnet_graph_set_outputs(im->g, outs, im->n_outputs);
    free(outs);
    CLNET_TRY(s);

    for (int i = 0; i < im->n_layers; i++) {
        const klayer *L = &im->layers[i];
        if (L->layer &&
            (L->kind == KIND_CONV || L->kind == KIND_BATCHNORM || L->kind == KIND_DENSE))
            CLNET_TRY(load_layer_weights(im, L));
    }
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Weights into a built-in architecture, by layer order                      */

enum { TYPE_CONV, TYPE_BATCHNORM, TYPE_DENSE, TYPE_COUNT };
static const char *const type_names[TYPE_COUNT] = {"convolution", "batch normalization", "dense"};

/* One layer of the file that holds weights. */
typedef struct file_layer {
    char *name;
    int type;
    stored_weights stored;
} file_layer;

typedef struct file_layers {
    int n, cap;
    file_layer *items;
} file_layers;

static void file_layers_free(file_layers *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->items[i].name);
        stored_free(&l->items[i].stored);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* Reads the weights of the file's layer `name` and classifies it; layers without weights are
 * skipped. */
static clnet_status read_file_layer(importer *im, const char *name, file_layers *out) {
    char group_path[MAX_NAME * 2];
    snprintf(group_path, sizeof group_path, "%s/%s",
             strcmp(im->weights_path, "/") == 0 ? "" : im->weights_path, name);
    if (!link_exists(im->weights, name))
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "layer_names lists '%s', but there is no group '%s'", name, group_path);
    hid_t group = H5Gopen2(im->weights, name, H5P_DEFAULT);
    if (group < 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "cannot open weight group '%s'", group_path);
    file_layer fl = {0};
    int count;
    clnet_status s = find_stored_weights(group, group_path, name, &fl.stored, &count);
    H5Gclose(group);
    if (s != CLNET_STATUS_OK || count == 0)
        return s;

    const char *const *n = (const char *const *)fl.stored.names;
    if (n[ROLE_KERNEL] && fl.stored.shapes[ROLE_KERNEL].rank == 4)
        fl.type = TYPE_CONV;
    else if (n[ROLE_KERNEL] && fl.stored.shapes[ROLE_KERNEL].rank == 2)
        fl.type = TYPE_DENSE;
    else if (!n[ROLE_KERNEL] && !n[ROLE_BIAS] && n[ROLE_MEAN] && n[ROLE_VARIANCE])
        fl.type = TYPE_BATCHNORM;
    else
        s = clnet_fail(CLNET_STATUS_UNSUPPORTED,
                       "layer '%s' of the file holds weights that fit no convolution, batch "
                       "normalization or dense layer",
                       name);
    if (s == CLNET_STATUS_OK && (fl.type == TYPE_BATCHNORM) != (n[ROLE_MEAN] != NULL))
        s = clnet_fail(CLNET_STATUS_UNSUPPORTED,
                       "layer '%s' of the file mixes kernel and normalization weights", name);
    if (s == CLNET_STATUS_OK && out->n == out->cap) {
        int cap = out->cap ? 2 * out->cap : 64;
        file_layer *p = realloc(out->items, (size_t)cap * sizeof *p);
        if (!p)
            s = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
        else {
            out->items = p;
            out->cap = cap;
        }
    }
    if (s == CLNET_STATUS_OK && !(fl.name = copy_text(name)))
        s = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
    if (s != CLNET_STATUS_OK) {
        free(fl.name);
        stored_free(&fl.stored);
        return s;
    }
    out->items[out->n++] = fl;
    return CLNET_STATUS_OK;
}

/* The order of the features a built-in Dense layer reads: a channels-last file's Dense after a
 * Flatten of a map wider than 1x1 stores its rows in (h, w, c) order. */
static flat_order builtin_dense_order(const clnet_graph *g, const clnet_layer *layer) {
    flat_order none = {0, 0, 0};
    int n = clnet_graph_node_count(g);
    for (int i = 0; i < n; i++) {
        clnet_node_info node;
        if (clnet_graph_node_info(g, i, &node) != CLNET_STATUS_OK || node.layer != layer)
            continue;
        /* Walk back through layers that keep the order to the flatten, if any. */
        while (node.n_inputs == 1) {
            clnet_node_info src;
            if (clnet_graph_node_info(g, node.inputs[0], &src) != CLNET_STATUS_OK)
                return none;
            if (src.op == CLNET_OP_FLATTEN) {
                clnet_node_info map;
                if (clnet_graph_node_info(g, src.inputs[0], &map) != CLNET_STATUS_OK ||
                    map.output_shape.rank != 3 || map.output_shape.c <= 1 ||
                    map.output_shape.h * map.output_shape.w <= 1)
                    return none;
                return (flat_order){map.output_shape.c, map.output_shape.h, map.output_shape.w};
            }
            if (src.op != CLNET_OP_DROPOUT && src.op != CLNET_OP_ACTIVATION)
                return none;
            node = src;
        }
        return none;
    }
    return none;
}

/* The layers of a built-in graph that receive weights, by type, in creation order. */
typedef struct arch_layers {
    int n[TYPE_COUNT];
    clnet_layer **items[TYPE_COUNT];
} arch_layers;

static clnet_status collect_arch_layers(const clnet_graph *g, arch_layers *out) {
    int total = clnet_graph_layer_count(g);
    for (int t = 0; t < TYPE_COUNT; t++) {
        out->items[t] = malloc((size_t)(total ? total : 1) * sizeof *out->items[t]);
        if (!out->items[t])
            return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "out of host memory");
    }
    for (int i = 0; i < total; i++) {
        clnet_layer *layer = clnet_graph_layer_at(g, i);
        clnet_op op = clnet_layer_op(layer);
        int t = op == CLNET_OP_CONV2D      ? TYPE_CONV
                : op == CLNET_OP_BATCHNORM ? TYPE_BATCHNORM
                : op == CLNET_OP_DENSE     ? TYPE_DENSE
                                           : -1;
        if (t >= 0)
            out->items[t][out->n[t]++] = layer;
    }
    return CLNET_STATUS_OK;
}

/* How a file stores conv kernels. Keras 2 and later always store HWIO kernels for
 * cross-correlation. Keras 1 stored them in the backend's dimension ordering, and Theano
 * convolves (the kernel rotated 180 degrees). */
typedef struct file_conventions {
    int keras1;
    int backend_known, theano;
} file_conventions;

static clnet_status read_conventions(importer *im, file_conventions *fc) {
    char *version = NULL, *backend = NULL;
    clnet_status s = read_attr_text(im->weights, im->weights_path, "keras_version", &version);
    if (s == CLNET_STATUS_OK && !version)
        s = read_attr_text(im->file, "/", "keras_version", &version);
    if (s == CLNET_STATUS_OK)
        s = read_attr_text(im->weights, im->weights_path, "backend", &backend);
    if (s == CLNET_STATUS_OK && !backend)
        s = read_attr_text(im->file, "/", "backend", &backend);
    /* Keras started to record its version in 2.0; a file without one is from Keras 1. */
    fc->keras1 = !version || version[0] == '1';
    fc->backend_known = backend != NULL;
    fc->theano = backend && strcmp(backend, "theano") == 0;
    free(version);
    free(backend);
    return s;
}

/* Decides the kernel layout of the file from the first convolution whose shape fits only one
 * layout; *layout stays -1 while undecided. */
static void vote_layout(const h5_shape *s, const clnet_weight_info *w, int *layout) {
    h5_shape hwio = keras_shape(w, LAYOUT_HWIO), oihw = keras_shape(w, LAYOUT_OIHW);
    int fits_hwio = same_shape(s, &hwio), fits_oihw = same_shape(s, &oihw);
    if (*layout < 0 && fits_hwio != fits_oihw)
        *layout = fits_hwio ? LAYOUT_HWIO : LAYOUT_OIHW;
}

static clnet_status mismatch(const char *arch, const file_layer *fl, const clnet_layer *layer,
                             weight_role role, const h5_shape *got, const h5_shape *want) {
    char a[96], b[96];
    format_h5_shape(got, a, sizeof a);
    format_h5_shape(want, b, sizeof b);
    return clnet_fail(CLNET_STATUS_SHAPE_MISMATCH,
                      "the file's layer '%s' has a %s of shape %s, but layer '%s' of '%s' "
                      "needs %s",
                      fl->name, role_names[role], a, clnet_layer_name(layer), arch, b);
}

/* Loads one file layer into the built-in layer of the same type and position. */
static clnet_status load_pair(importer *im, const char *arch, const file_layer *fl,
                              clnet_layer *layer, kernel_layout layout, flat_order order) {
    char group_path[MAX_NAME * 2];
    snprintf(group_path, sizeof group_path, "%s/%s",
             strcmp(im->weights_path, "/") == 0 ? "" : im->weights_path, fl->name);
    for (int r = 0; r < ROLE_COUNT; r++) {
        clnet_weight_info w;
        int has = layer_weight(layer, role_names[r], &w);
        int stored = fl->stored.names[r] != NULL;
        /* A normalisation without center or scale stores no beta or gamma. */
        if (!stored && (r == ROLE_GAMMA || r == ROLE_BETA))
            continue;
        if (has != stored)
            return clnet_fail(CLNET_STATUS_SHAPE_MISMATCH,
                              "the file's layer '%s' stores %s %s, but layer '%s' of '%s' "
                              "has %s",
                              fl->name, stored ? "a" : "no", role_names[r], clnet_layer_name(layer),
                              arch, has ? "one" : "none");
        if (!has)
            continue;
        h5_shape want = keras_shape(&w, layout == LAYOUT_HWIO ? LAYOUT_HWIO : LAYOUT_OIHW);
        if (!same_shape(&fl->stored.shapes[r], &want))
            return mismatch(arch, fl, layer, (weight_role)r, &fl->stored.shapes[r], &want);
    }
    hid_t group = H5Gopen2(im->weights, fl->name, H5P_DEFAULT);
    if (group < 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "cannot open weight group '%s'", group_path);
    clnet_status s = CLNET_STATUS_OK;
    for (int r = 0; r < ROLE_COUNT && s == CLNET_STATUS_OK; r++)
        if (fl->stored.names[r])
            s = load_weight(group, group_path, fl->stored.names[r], &fl->stored.shapes[r], layer,
                            (weight_role)r, layout, order);
    H5Gclose(group);
    return s;
}

static clnet_status import_into_arch(importer *im, const char *arch) {
    CLNET_TRY(clnet_model_builtin(arch, 0, &im->g));

    string_list names = {0};
    file_layers fls = {0};
    arch_layers al = {{0}, {NULL}};
    int found;
    clnet_status s =
        read_attr_strings(im->weights, im->weights_path, "layer_names", &names, &found);
    if (s == CLNET_STATUS_OK && !found)
        s = clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                       "'%s' has no attribute layer_names: not a Keras weights file clnet reads "
                       "(Keras 3 '.weights.h5' files are not supported)",
                       im->weights_path);
    for (int i = 0; s == CLNET_STATUS_OK && i < names.count; i++)
        s = read_file_layer(im, names.items[i], &fls);
    if (s == CLNET_STATUS_OK)
        s = collect_arch_layers(im->g, &al);

    file_conventions fc = {0};
    if (s == CLNET_STATUS_OK)
        s = read_conventions(im, &fc);

    /* The i-th layer of each type in the file goes to the i-th of that type in the graph:
     * pairs are checked in file order, so a wrong architecture shows as the first layer that
     * does not fit, and only then as a count. */
    int layout = fc.keras1 ? -1 : LAYOUT_HWIO;
    int next[TYPE_COUNT] = {0};
    for (int i = 0; s == CLNET_STATUS_OK && i < fls.n && layout < 0; i++) {
        const file_layer *fl = &fls.items[i];
        clnet_weight_info w;
        if (fl->type != TYPE_CONV || next[TYPE_CONV] >= al.n[TYPE_CONV])
            continue;
        clnet_layer *layer = al.items[TYPE_CONV][next[TYPE_CONV]++];
        if (layer_weight(layer, "kernel", &w))
            vote_layout(&fl->stored.shapes[ROLE_KERNEL], &w, &layout);
    }
    /* Limitation: a Keras 1 file that names no backend is taken to come from Theano when its
     * kernels are stored in Theano's ordering, and from TensorFlow otherwise; Theano files
     * with TensorFlow ordering (HWIO kernels, convolved) are read without the rotation. */
    if (layout < 0)
        layout = fc.backend_known && !fc.theano ? LAYOUT_HWIO : LAYOUT_OIHW;
    if (layout == LAYOUT_OIHW && (fc.theano || !fc.backend_known))
        layout = LAYOUT_OIHW_FLIPPED;

    int count[TYPE_COUNT] = {0};
    for (int i = 0; i < fls.n; i++)
        count[fls.items[i].type]++;
    memset(next, 0, sizeof next);
    for (int i = 0; s == CLNET_STATUS_OK && i < fls.n; i++) {
        const file_layer *fl = &fls.items[i];
        if (next[fl->type] >= al.n[fl->type])
            break;
        clnet_layer *layer = al.items[fl->type][next[fl->type]++];
        flat_order order = {0, 0, 0};
        if (fl->type == TYPE_DENSE && layout == LAYOUT_HWIO)
            order = builtin_dense_order(im->g, layer);
        s = load_pair(im, arch, fl, layer, (kernel_layout)layout, order);
    }
    for (int t = 0; s == CLNET_STATUS_OK && t < TYPE_COUNT; t++)
        if (count[t] != al.n[t])
            s = clnet_fail(CLNET_STATUS_SHAPE_MISMATCH,
                           "the file has %d %s layers with weights, but '%s' has %d", count[t],
                           type_names[t], arch, al.n[t]);
    for (int t = 0; t < TYPE_COUNT; t++)
        free(al.items[t]);
    file_layers_free(&fls);
    strings_free(&names);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Entry point                                                               */

/* Limitation: the HDF5 structures themselves are parsed by libhdf5. Everything clnet reads from
 * the file is checked, but libhdf5 1.10 can read out of bounds or loop on byte-level corruption
 * of its own structures (object headers, the global heap holding variable-length strings), and
 * it is not thread-safe as packaged: import HDF5 files from one thread at a time. */
static clnet_status import_file(importer *im, const char *arch) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* Closing the file also closes anything left open below it. */
    if (fapl >= 0)
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    im->file = H5Fopen(im->path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
    close_id(fapl, H5Pclose);
    if (im->file < 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "not a readable HDF5 file (truncated or corrupted)");

    /* Whole models keep their weights in model_weights; weights-only files at the root. */
    htri_t has_weights_group = H5Lexists(im->file, "model_weights", H5P_DEFAULT);
    if (has_weights_group > 0) {
        im->weights = H5Gopen2(im->file, "model_weights", H5P_DEFAULT);
        im->weights_path = "/model_weights";
        if (im->weights < 0)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "cannot open group '/model_weights'");
    } else {
        im->weights = im->file;
        im->weights_path = "/";
    }

    char *config = NULL;
    CLNET_TRY(read_attr_text(im->file, "/", "model_config", &config));
    clnet_status s;
    if (arch)
        s = import_into_arch(im, arch);
    else if (!config)
        s = clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                       "the file holds weights only (no model_config attribute): name its "
                       "architecture (for example resnet20v1 or densenet40fast)");
    else
        s = import_model(im, config);
    free(config);
    return s;
}

clnet_status clnet_import_hdf5(const char *path, const char *arch, clnet_graph **out) {
    if (!path || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_import_hdf5: NULL argument");
    *out = NULL;
    /* HDF5 prints its own error stack by default; failures are reported here instead. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

    importer im;
    memset(&im, 0, sizeof im);
    im.path = path;
    im.file = im.weights = H5I_INVALID_HID;
    im.weights_path = "/";
    clnet_status s = import_file(&im, arch);
    if (s == CLNET_STATUS_OK) {
        *out = im.g;
        im.g = NULL;
    }
    importer_free(&im);
    if (s != CLNET_STATUS_OK)
        return clnet_fail_context(s, "loading Keras file '%s'%s%s%s: ", path, arch ? " into '" : "",
                                  arch ? arch : "", arch ? "'" : "");
    return CLNET_STATUS_OK;
}
