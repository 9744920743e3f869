/* PyTorch state dicts saved by torch.save (the legacy format and the zip format) loaded by
 * parameter name into a built-in architecture. */
#include "import.h"
#include "import_util.h"
#include "torch_pickle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

/* A legacy file begins with the pickle of its magic number 0x1950a86a20f9469cfc6c: PROTO 2,
 * LONG1 of 10 bytes, STOP. */
static const uint8_t legacy_magic[15] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                         0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
#define LEGACY_PROTOCOL_VERSION 1001
/* data.pkl of a state dict is a few hundred bytes a tensor; larger is not a state dict. */
#define MAX_ZIP_PICKLE_BYTES (256u << 20)
#define SKIP_CHUNK           65536

/* One storage of the file, by key, with its bytes once located. */
typedef struct stored {
    const clnet_pickle_value *storage; /* a persistent id naming it */
    const uint8_t *data;               /* legacy: its elements inside the file's bytes */
    int listed;                        /* legacy: met in the list of keys */
} stored;

typedef struct torch_file {
    const char *path;
    clnet_pickle *pickle;
    const clnet_pickle_value *root;
    stored *storages; /* sorted by key */
    size_t n_storages;
    uint8_t *bytes; /* legacy: the whole file */
    size_t size;
    zip_t *zip;   /* zip: the open archive */
    char *prefix; /* zip: "archive/" before data.pkl */
} torch_file;

static void torch_file_close(torch_file *f) {
    clnet_pickle_destroy(f->pickle);
    free(f->storages);
    free(f->bytes);
    if (f->zip)
        zip_discard(f->zip);
    free(f->prefix);
}

static int compare_stored(const void *a, const void *b) {
    return strcmp(((const stored *)a)->storage->text, ((const stored *)b)->storage->text);
}

static stored *find_stored(const torch_file *f, const char *key) {
    if (f->n_storages == 0)
        return NULL;
    stored probe_value;
    clnet_pickle_value probe_storage;
    probe_storage.text = (char *)key;
    probe_value.storage = &probe_storage;
    return bsearch(&probe_value, f->storages, f->n_storages, sizeof *f->storages, compare_stored);
}

/* Lists the storages the pickle named, one entry per key. Two persistent ids with one key must
 * agree on its type and size. */
static clnet_status index_storages(torch_file *f) {
    size_t n = clnet_pickle_storage_count(f->pickle);
    if (n == 0)
        return CLNET_STATUS_OK;
    f->storages = calloc(n, sizeof *f->storages);
    if (!f->storages)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "reading '%s': out of memory", f->path);
    for (size_t i = 0; i < n; i++)
        f->storages[i].storage = clnet_pickle_storage_at(f->pickle, i);
    qsort(f->storages, n, sizeof *f->storages, compare_stored);

    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        const clnet_pickle_value *s = f->storages[i].storage;
        if (kept > 0 && strcmp(f->storages[kept - 1].storage->text, s->text) == 0) {
            const clnet_pickle_value *first = f->storages[kept - 1].storage;
            if (first->dtype != s->dtype || first->numel != s->numel)
                return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                                  "reading '%s': storage '%s' is named as %lld %s and as %lld %s",
                                  f->path, s->text, (long long)first->numel,
                                  clnet_torch_dtype_name(first->dtype), (long long)s->numel,
                                  clnet_torch_dtype_name(s->dtype));
            continue;
        }
        f->storages[kept++] = f->storages[i];
    }
    f->n_storages = kept;
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Legacy format: five pickles, then each storage as an int64 count and its elements     */

static clnet_status check_legacy_header(torch_file *f, size_t *pos) {
    const clnet_pickle_value *version = NULL, *info = NULL;
    CLNET_TRY(clnet_pickle_run(f->pickle, f->bytes, f->size, pos, &version));
    if (version->kind != CLNET_PICKLE_INT || version->integer != LEGACY_PROTOCOL_VERSION)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "reading '%s': torch.save protocol version is not %d, the one clnet "
                          "reads",
                          f->path, LEGACY_PROTOCOL_VERSION);
    CLNET_TRY(clnet_pickle_run(f->pickle, f->bytes, f->size, pos, &info));
    const clnet_pickle_value *little = clnet_pickle_dict_get(info, "little_endian");
    if (info->kind != CLNET_PICKLE_DICT || !little)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "reading '%s': the system information lacks 'little_endian'", f->path);
    /* Limitation: files written on big-endian machines are not read. */
    if (little->kind != CLNET_PICKLE_BOOL || !little->integer)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "reading '%s': the file was written on a big-endian machine", f->path);
    return CLNET_STATUS_OK;
}

/* After the pickles: for each key of the list, an int64 element count and the elements. */
static clnet_status locate_legacy_storages(torch_file *f, const clnet_pickle_value *keys,
                                           size_t pos) {
    if (keys->kind != CLNET_PICKLE_LIST)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "reading '%s': the list of storage keys is a %s", f->path,
                          keys->kind == CLNET_PICKLE_DICT ? "dict" : "value of another type");
    for (size_t i = 0; i < keys->count; i++) {
        const clnet_pickle_value *key = keys->items[i];
        if (key->kind != CLNET_PICKLE_STRING || strlen(key->text) != key->len)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "reading '%s': storage key %zu is not a plain string", f->path, i);
        stored *s = find_stored(f, key->text);
        if (!s)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "reading '%s': storage '%s' is listed but no tensor uses it, so "
                              "its element size is unknown",
                              f->path, key->text);
        if (s->listed)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "reading '%s': storage '%s' is listed twice", f->path, key->text);
        s->listed = 1;

        if (f->size - pos < 8)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "reading '%s': the file is truncated at storage '%s' (byte %zu)",
                              f->path, key->text, pos);
        uint64_t count = 0;
        for (int b = 7; b >= 0; b--)
            count = (count << 8) | f->bytes[pos + (size_t)b];
        pos += 8;
        size_t elem = clnet_torch_dtype_size(s->storage->dtype);
        if (count != (uint64_t)s->storage->numel)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "reading '%s': storage '%s' holds %llu elements but its tensors "
                              "were saved with %lld",
                              f->path, key->text, (unsigned long long)count,
                              (long long)s->storage->numel);
        if (count > (f->size - pos) / elem)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "reading '%s': the file is truncated in storage '%s': %llu "
                              "elements of %zu bytes from byte %zu, but the file has %zu bytes",
                              f->path, key->text, (unsigned long long)count, elem, pos, f->size);
        s->data = f->bytes + pos;
        pos += (size_t)count * elem;
    }
    if (pos != f->size)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "reading '%s': %zu bytes follow the last storage", f->path,
                          f->size - pos);
    for (size_t i = 0; i < f->n_storages; i++)
        if (!f->storages[i].listed)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "reading '%s': storage '%s' is used but not stored", f->path,
                              f->storages[i].storage->text);
    return CLNET_STATUS_OK;
}

static clnet_status open_legacy(torch_file *f) {
    CLNET_TRY(clnet_import_read_file(f->path, 0, NULL, &f->bytes, &f->size));
    if (f->size < sizeof legacy_magic || memcmp(f->bytes, legacy_magic, sizeof legacy_magic))
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "reading '%s': not a torch.save file (no magic number)", f->path);
    size_t pos = sizeof legacy_magic;
    CLNET_TRY(check_legacy_header(f, &pos));
    const clnet_pickle_value *keys = NULL;
    CLNET_TRY(clnet_pickle_run(f->pickle, f->bytes, f->size, &pos, &f->root));
    CLNET_TRY(clnet_pickle_run(f->pickle, f->bytes, f->size, &pos, &keys));
    CLNET_TRY(index_storages(f));
    return locate_legacy_storages(f, keys, pos);
}

/* ------------------------------------------------------------------------ */
/* Zip format: <folder>/data.pkl and each storage in <folder>/data/<key>                  */

static clnet_status zip_failure(const torch_file *f, const char *what) {
    return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "reading '%s': %s: %s", f->path, what,
                      zip_strerror(f->zip));
}

/* Reads exactly n bytes of an open entry. */
static clnet_status zip_read_exact(const torch_file *f, zip_file_t *zf, const char *entry,
                                   void *dst, size_t n) {
    size_t done = 0;
    while (done < n) {
        zip_int64_t got = zip_fread(zf, (uint8_t *)dst + done, n - done);
        if (got < 0)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "reading '%s': entry '%s': %s", f->path,
                              entry, zip_file_strerror(zf));
        if (got == 0)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "reading '%s': entry '%s' ends after %zu of %zu bytes", f->path,
                              entry, done, n);
        done += (size_t)got;
    }
    return CLNET_STATUS_OK;
}

/* The one top-level "<folder>/data.pkl"; torch names the folder after the file. */
static clnet_status find_data_pkl(torch_file *f, zip_uint64_t *index) {
    static const char suffix[] = "/data.pkl";
    const size_t suffix_len = sizeof suffix - 1;
    zip_int64_t n = zip_get_num_entries(f->zip, 0);
    int found = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(f->zip, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!name)
            continue;
        size_t len = strlen(name);
        if (len <= suffix_len || strcmp(name + len - suffix_len, suffix) != 0 ||
            memchr(name, '/', len - suffix_len) != NULL)
            continue;
        if (found)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "reading '%s': the archive holds more than one data.pkl", f->path);
        found = 1;
        *index = (zip_uint64_t)i;
        f->prefix = malloc(len - suffix_len + 2);
        if (!f->prefix)
            return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "reading '%s': out of memory", f->path);
        memcpy(f->prefix, name, len - suffix_len + 1);
        f->prefix[len - suffix_len + 1] = '\0';
    }
    if (!found)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "reading '%s': a zip archive without <folder>/data.pkl, so not a "
                          "torch.save file",
                          f->path);
    return CLNET_STATUS_OK;
}

/* Reads a whole small entry into a NUL-terminated buffer. */
static clnet_status zip_read_entry(torch_file *f, zip_uint64_t index, const char *entry,
                                   uint8_t **out, size_t *size) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(f->zip, index, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return zip_failure(f, entry);
    if (st.size > MAX_ZIP_PICKLE_BYTES)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "reading '%s': entry '%s' claims %llu bytes, more than a state dict's %u",
                          f->path, entry, (unsigned long long)st.size, MAX_ZIP_PICKLE_BYTES);
    zip_file_t *zf = zip_fopen_index(f->zip, index, 0);
    if (!zf)
        return zip_failure(f, entry);
    *size = (size_t)st.size;
    *out = malloc(*size + 1);
    clnet_status status =
        *out ? zip_read_exact(f, zf, entry, *out, *size)
             : clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "reading '%s': out of memory", f->path);
    zip_fclose(zf);
    if (status != CLNET_STATUS_OK) {
        free(*out);
        *out = NULL;
        return status;
    }
    (*out)[*size] = '\0';
    return CLNET_STATUS_OK;
}

static clnet_status check_zip_byteorder(torch_file *f) {
    char name[512];
    snprintf(name, sizeof name, "%sbyteorder", f->prefix);
    zip_int64_t index = zip_name_locate(f->zip, name, ZIP_FL_ENC_RAW);
    if (index < 0)
        return CLNET_STATUS_OK; /* older writers: always little-endian */
    uint8_t *text = NULL;
    size_t size = 0;
    CLNET_TRY(zip_read_entry(f, (zip_uint64_t)index, name, &text, &size));
    int little = size == 6 && memcmp(text, "little", 6) == 0;
    free(text);
    /* Limitation: files written on big-endian machines are not read. */
    if (!little)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "reading '%s': the file's byte order is not little-endian", f->path);
    return CLNET_STATUS_OK;
}

static clnet_status open_zip(torch_file *f) {
    int error = 0;
    f->zip = zip_open(f->path, ZIP_RDONLY, &error);
    if (!f->zip) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, error);
        clnet_status status =
            clnet_fail(CLNET_STATUS_FORMAT_ERROR, "reading '%s': not a readable zip archive: %s",
                       f->path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return status;
    }
    zip_uint64_t index = 0;
    CLNET_TRY(find_data_pkl(f, &index));
    CLNET_TRY(check_zip_byteorder(f));

    char name[512];
    snprintf(name, sizeof name, "%sdata.pkl", f->prefix);
    CLNET_TRY(zip_read_entry(f, index, name, &f->bytes, &f->size));
    size_t pos = 0;
    CLNET_TRY(clnet_pickle_run(f->pickle, f->bytes, f->size, &pos, &f->root));
    return index_storages(f);
}

/* ------------------------------------------------------------------------ */
/* Tensor data                                                               */

static void decode_float32(float *dst, const uint8_t *src, size_t n) {
    for (size_t i = 0; i < n; i++, src += 4) {
        uint32_t bits = (uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16 |
                        (uint32_t)src[3] << 24;
        memcpy(&dst[i], &bits, sizeof bits);
    }
}

/* Copies count float32 elements from element offset of a storage of a zip file. */
static clnet_status read_zip_storage(const torch_file *f, const clnet_pickle_value *storage,
                                     int64_t offset, size_t count, float *dst) {
    char name[512];
    if ((size_t)snprintf(name, sizeof name, "%sdata/%s", f->prefix, storage->text) >= sizeof name)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "reading '%s': storage key '%s' is too long",
                          f->path, storage->text);
    zip_int64_t index = zip_name_locate(f->zip, name, ZIP_FL_ENC_RAW);
    zip_stat_t st;
    zip_stat_init(&st);
    if (index < 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "reading '%s': the archive lacks entry '%s' of storage '%s'", f->path,
                          name, storage->text);
    if (zip_stat_index(f->zip, (zip_uint64_t)index, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return zip_failure(f, name);
    /* numel was checked to be below INT64_MAX / 8 by the caller. */
    uint64_t expected = (uint64_t)storage->numel * 4;
    if (st.size != expected)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "reading '%s': entry '%s' has %llu bytes, but storage '%s' holds %lld "
                          "float32 elements",
                          f->path, name, (unsigned long long)st.size, storage->text,
                          (long long)storage->numel);

    zip_file_t *zf = zip_fopen_index(f->zip, (zip_uint64_t)index, 0);
    if (!zf)
        return zip_failure(f, name);
    uint8_t *buffer = malloc(count * 4 > SKIP_CHUNK ? count * 4 : SKIP_CHUNK);
    clnet_status status =
        buffer ? CLNET_STATUS_OK
               : clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "reading '%s': out of memory", f->path);
    /* Skipping by reading works for compressed entries too; torch's offsets are 0 anyway. */
    uint64_t skip = (uint64_t)offset * 4;
    while (status == CLNET_STATUS_OK && skip > 0) {
        size_t n = skip < SKIP_CHUNK ? (size_t)skip : SKIP_CHUNK;
        status = zip_read_exact(f, zf, name, buffer, n);
        skip -= n;
    }
    if (status == CLNET_STATUS_OK)
        status = zip_read_exact(f, zf, name, buffer, count * 4);
    if (status == CLNET_STATUS_OK)
        decode_float32(dst, buffer, count);
    free(buffer);
    zip_fclose(zf);
    return status;
}

/* Checks that a float32 tensor is a contiguous run of count elements inside its storage, and
 * copies it. */
static clnet_status read_tensor(const torch_file *f, const char *key, const clnet_pickle_value *t,
                                size_t count, float *dst) {
    const clnet_pickle_value *s = t->storage;
    /* Limitation: only row-major contiguous tensors are read; a transposed or strided view
     * would need a copy that torch.save does not make for state dicts. */
    int64_t expected = 1;
    for (int i = t->rank - 1; i >= 0; i--) {
        if (t->sizes[i] != 1 && t->strides[i] != expected)
            return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                              "reading '%s': tensor '%s' is not contiguous (dimension %d has "
                              "stride %lld, not %lld)",
                              f->path, key, i, (long long)t->strides[i], (long long)expected);
        expected *= t->sizes[i]; /* sizes match the graph's, so this cannot overflow */
    }
    if (s->numel > INT64_MAX / 8 || t->offset > s->numel ||
        (uint64_t)(s->numel - t->offset) < (uint64_t)count)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "reading '%s': tensor '%s' of %zu elements from offset %lld runs past "
                          "the end of its storage '%s' of %lld elements",
                          f->path, key, count, (long long)t->offset, s->text, (long long)s->numel);
    if (f->zip)
        return read_zip_storage(f, s, t->offset, count, dst);
    const stored *entry = find_stored(f, s->text);
    if (!entry || !entry->data)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "reading '%s': storage '%s' is not stored",
                          f->path, s->text);
    decode_float32(dst, entry->data + (size_t)t->offset * 4, count);
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Loading by name                                                           */

/* One weight of the architecture and whether a key has filled it. */
typedef struct slot {
    clnet_layer *layer;
    clnet_weight_info info;
    int filled;
} slot;

typedef struct loader {
    const torch_file *file;
    const char *arch;
    clnet_graph *g;
    slot *slots;
    int n_slots;
} loader;

static clnet_status collect_slots(loader *l) {
    int layers = clnet_graph_layer_count(l->g), total = 0;
    for (int i = 0; i < layers; i++)
        total += clnet_layer_weight_count(clnet_graph_layer_at(l->g, i));
    l->slots = calloc(total > 0 ? (size_t)total : 1, sizeof *l->slots);
    if (!l->slots)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "loading '%s': out of memory", l->file->path);
    for (int i = 0; i < layers; i++) {
        clnet_layer *layer = clnet_graph_layer_at(l->g, i);
        for (int w = 0; w < clnet_layer_weight_count(layer); w++) {
            slot *s = &l->slots[l->n_slots++];
            s->layer = layer;
            CLNET_TRY(clnet_layer_weight(layer, w, &s->info));
        }
    }
    return CLNET_STATUS_OK;
}

static clnet_layer *layer_named(const clnet_graph *g, const char *name) {
    for (int i = 0; i < clnet_graph_layer_count(g); i++) {
        clnet_layer *layer = clnet_graph_layer_at(g, i);
        if (strcmp(clnet_layer_name(layer), name) == 0)
            return layer;
    }
    return NULL;
}

/* The layer a module path names. The same networks are published with the head called
 * "linear" or "fc", and the projection shortcut "shortcut" or "downsample". */
static clnet_layer *find_module(const clnet_graph *g, const char *module) {
    clnet_layer *layer = layer_named(g, module);
    if (layer)
        return layer;
    if (strcmp(module, "linear") == 0)
        return layer_named(g, "fc");
    if (strcmp(module, "fc") == 0)
        return layer_named(g, "linear");
    static const char *const swaps[][2] = {{".shortcut.", ".downsample."},
                                           {".downsample.", ".shortcut."}};
    for (int i = 0; i < 2; i++) {
        const char *at = strstr(module, swaps[i][0]);
        char other[256];
        if (!at)
            continue;
        size_t head = (size_t)(at - module), from = strlen(swaps[i][0]);
        if ((size_t)snprintf(other, sizeof other, "%.*s%s%s", (int)head, module, swaps[i][1],
                             at + from) < sizeof other)
            return layer_named(g, other);
    }
    return NULL;
}

/* PyTorch's parameter name for a clnet weight of a layer, and back. */
static const char *const param_names[][2] = {
    {"weight", "kernel"},
    {"bias", "bias"},
    {"weight", "gamma"},
    {"bias", "beta"},
    {"running_mean", "moving_mean"},
    {"running_var", "moving_variance"},
};

static const char *clnet_weight_for(clnet_op op, const char *param) {
    int bn = op == CLNET_OP_BATCHNORM;
    for (int i = bn ? 2 : 0; i < (bn ? 6 : 2); i++)
        if (strcmp(param, param_names[i][0]) == 0)
            return param_names[i][1];
    return NULL;
}

static const char *torch_param_for(const char *weight) {
    for (int i = 0; i < 6; i++)
        if (strcmp(weight, param_names[i][1]) == 0)
            return param_names[i][0];
    return weight;
}

static void format_shape(char *buf, size_t size, int rank, const int64_t *dims) {
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < rank && used < size; i++)
        used +=
            (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

static void format_weight_shape(char *buf, size_t size, const clnet_weight_info *info) {
    int64_t dims[CLNET_MAX_WEIGHT_RANK];
    for (int i = 0; i < info->rank; i++)
        dims[i] = info->dims[i];
    format_shape(buf, size, info->rank, dims);
}

static clnet_status extra_key(const loader *l, const char *key, const char *why) {
    return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                      "loading '%s' into '%s': key '%s' %s; is '%s' the architecture the "
                      "weights were trained with (resnet<depth>a for option-A shortcuts, "
                      "resnet<depth>b for 1x1-conv shortcuts)?",
                      l->file->path, l->arch, key, why, l->arch);
}

/* Loads one state-dict entry into its weight. */
static clnet_status load_entry(loader *l, const clnet_pickle_value *k,
                               const clnet_pickle_value *value) {
    const char *path = l->file->path;
    if (k->kind != CLNET_PICKLE_STRING || strlen(k->text) != k->len || k->len >= 256)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "loading '%s': a state-dict key that is not a parameter name", path);
    const char *key = k->text;
    /* nn.DataParallel saves its module's keys under "module.". */
    if (strncmp(key, "module.", 7) == 0)
        key += 7;
    const char *dot = strrchr(key, '.');
    if (!dot || dot == key)
        return extra_key(l, k->text, "is not of the form <module>.<parameter>");
    char module[256];
    memcpy(module, key, (size_t)(dot - key));
    module[dot - key] = '\0';
    const char *param = dot + 1;

    clnet_layer *layer = find_module(l->g, module);
    /* BN's batch counter matters only to training. */
    if (strcmp(param, "num_batches_tracked") == 0 &&
        (!layer || clnet_layer_op(layer) == CLNET_OP_BATCHNORM))
        return CLNET_STATUS_OK;
    if (!layer)
        return extra_key(l, k->text, "names a layer the architecture does not have");
    const char *weight = clnet_weight_for(clnet_layer_op(layer), param);
    slot *s = NULL;
    for (int i = 0; weight && i < l->n_slots && !s; i++)
        if (l->slots[i].layer == layer && strcmp(l->slots[i].info.name, weight) == 0)
            s = &l->slots[i];
    if (!s)
        return extra_key(l, k->text, "names a weight its layer does not have");
    if (s->filled)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "loading '%s': weight '%s' of layer '%s' is given twice (key '%s')", path,
                          s->info.name, clnet_layer_name(layer), k->text);

    if (value->kind != CLNET_PICKLE_TENSOR)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "loading '%s': key '%s' is not a tensor", path,
                          k->text);
    if (value->dtype != CLNET_TORCH_FLOAT32)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "loading '%s': tensor '%s' is %s; only float32 weights are read "
                          "(convert with .float() before saving)",
                          path, k->text, clnet_torch_dtype_name(value->dtype));
    int same = value->rank == s->info.rank;
    for (int i = 0; same && i < value->rank; i++)
        same = value->sizes[i] == s->info.dims[i];
    if (!same) {
        char got[256], want[128];
        format_shape(got, sizeof got, value->rank, value->sizes);
        format_weight_shape(want, sizeof want, &s->info);
        return clnet_fail(CLNET_STATUS_SHAPE_MISMATCH,
                          "loading '%s' into '%s': tensor '%s' has shape %s, but layer '%s' "
                          "needs %s for its %s",
                          path, l->arch, k->text, got, clnet_layer_name(layer), want, s->info.name);
    }
    CLNET_TRY(read_tensor(l->file, k->text, value, s->info.count, s->info.data));
    s->filled = 1;
    return CLNET_STATUS_OK;
}

static int holds_tensors(const clnet_pickle_value *dict) {
    for (size_t i = 0; dict->kind == CLNET_PICKLE_DICT && i < dict->count; i++)
        if (dict->items[2 * i + 1]->kind == CLNET_PICKLE_TENSOR)
            return 1;
    return 0;
}

/* The state dict: the 'state_dict' entry of a training checkpoint, else the root itself if it
 * holds tensors, else the one entry of the root that is a dict of tensors (checkpoints such as
 * {'net': ..., 'acc': ..., 'epoch': ...}). */
static clnet_status find_state_dict(const torch_file *f, const clnet_pickle_value **out) {
    const clnet_pickle_value *root = f->root;
    if (root->kind != CLNET_PICKLE_DICT)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "loading '%s': the file holds a single value, not a state dict", f->path);
    const clnet_pickle_value *inner = clnet_pickle_dict_get(root, "state_dict");
    if (inner) {
        if (inner->kind != CLNET_PICKLE_DICT)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "loading '%s': its 'state_dict' entry is not a dict", f->path);
        *out = inner;
        return CLNET_STATUS_OK;
    }
    *out = root;
    if (holds_tensors(root))
        return CLNET_STATUS_OK;
    int found = 0;
    for (size_t i = 0; i < root->count; i++)
        if (holds_tensors(root->items[2 * i + 1])) {
            *out = root->items[2 * i + 1];
            found++;
        }
    if (found > 1)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "loading '%s': %d entries of the checkpoint hold tensors and none is "
                          "called 'state_dict'; save the model's state dict alone",
                          f->path, found);
    /* An empty root is loaded as it is, and then reports the first missing key. */
    return CLNET_STATUS_OK;
}

static clnet_status load_state_dict(loader *l) {
    const clnet_pickle_value *dict = NULL;
    CLNET_TRY(find_state_dict(l->file, &dict));
    CLNET_TRY(collect_slots(l));
    for (size_t i = 0; i < dict->count; i++)
        CLNET_TRY(load_entry(l, dict->items[2 * i], dict->items[2 * i + 1]));
    for (int i = 0; i < l->n_slots; i++) {
        const slot *s = &l->slots[i];
        if (s->filled)
            continue;
        char want[128];
        format_weight_shape(want, sizeof want, &s->info);
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "loading '%s' into '%s': the file has no key '%s.%s' (shape %s, "
                          "weight '%s' of layer '%s')",
                          l->file->path, l->arch, clnet_layer_name(s->layer),
                          torch_param_for(s->info.name), want, s->info.name,
                          clnet_layer_name(s->layer));
    }
    return CLNET_STATUS_OK;
}

static clnet_status read_magic(const char *path, uint8_t head[4], size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return clnet_fail(errno == ENOENT ? CLNET_STATUS_NOT_FOUND : CLNET_STATUS_IO_ERROR,
                          "cannot open '%s': %s", path, strerror(errno));
    *n = fread(head, 1, 4, fp);
    fclose(fp);
    return CLNET_STATUS_OK;
}

clnet_status clnet_import_torch(const char *path, const char *arch, clnet_graph **out) {
    if (!path || !arch || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_import_torch: NULL argument");
    *out = NULL;
    uint8_t head[4] = {0};
    size_t n = 0;
    CLNET_TRY(read_magic(path, head, &n));

    clnet_graph *g = NULL;
    clnet_status status = clnet_model_builtin(arch, 0, &g);
    if (status != CLNET_STATUS_OK)
        return clnet_fail_context(status, "loading '%s': ", path);

    torch_file f = {0};
    f.path = path;
    status = clnet_pickle_create(path, &f.pickle);
    if (status == CLNET_STATUS_OK)
        status = n == 4 && memcmp(head, "PK\x03\x04", 4) == 0 ? open_zip(&f) : open_legacy(&f);
    if (status == CLNET_STATUS_OK) {
        loader l = {&f, arch, g, NULL, 0};
        status = load_state_dict(&l);
        free(l.slots);
    }
    torch_file_close(&f);
    if (status != CLNET_STATUS_OK) {
        clnet_graph_destroy(g);
        return status;
    }
    *out = g;
    return CLNET_STATUS_OK;
}
