/* clnet's model file: saves a graph with its weights, and loads it back through the public
 * graph API with every field of the file checked. The byte layout is in docs/model-format.md. */
#define _POSIX_C_SOURCE 200809L

#include "graph.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Layout constants (docs/model-format.md)                                  */

static const uint8_t model_magic[8] = {'C', 'L', 'N', 'E', 'T', 'M', 'D', 'L'};
#define MODEL_VERSION 1u
#define HEADER_BYTES 24u  /* magic, version, flags, file length */
#define TRAILER_BYTES 4u  /* CRC-32 of everything before it */
#define NODE_IS_INPUT 0xFFFFFFFFu

/* Sanity limits. The file is checked against what remains of it first; these
 * keep a well-sized but hostile file from asking for absurd graphs. */
#define MAX_STRING_BYTES 1024u      /* layer, input and weight names */
#define MAX_RECORDS (1u << 24)      /* layers, nodes, outputs */
#define MAX_NODE_INPUTS (1u << 16)  /* tensors one call may take */
#define MAX_EXTENT (1 << 24)        /* any size, stride or pad in a description */
#define MAX_IMAGE_ELEMENTS (1u << 28) /* elements of one image of a graph input */

/* Smallest encodings, used to reject counts the remaining bytes cannot hold
 * before anything is allocated for them. */
#define MIN_LAYER_BYTES 16u  /* op, name length, config size, weight count */
#define MIN_NODE_BYTES 28u   /* layer, name length, input count, rank, c, h, w */

/* Op codes of the file. They are fixed by the format, independent of the
 * order of clnet_op, so that reordering the enum never changes old files. */
enum {
    FILE_OP_CONV2D = 1,
    FILE_OP_BATCHNORM = 2,
    FILE_OP_ACTIVATION = 3,
    FILE_OP_ADD = 4,
    FILE_OP_CONCAT = 5,
    FILE_OP_AVGPOOL = 6,
    FILE_OP_MAXPOOL = 7,
    FILE_OP_GLOBAL_AVGPOOL = 8,
    FILE_OP_FLATTEN = 9,
    FILE_OP_DENSE = 10,
    FILE_OP_SOFTMAX = 11,
    FILE_OP_DROPOUT = 12,
    FILE_OP_PAD = 13,
    FILE_OP_SLICE = 14,
    FILE_OP_MULTIPLY = 15,
    FILE_OP_SUBTRACT = 16,
    FILE_OP_CHANNEL_AFFINE = 17,
    FILE_OP_CLIP = 18
};

static const struct {
    uint32_t code;
    clnet_op op;
    uint32_t config_bytes;
} op_table[] = {
    {FILE_OP_CONV2D, CLNET_OP_CONV2D, 15 * 4},
    {FILE_OP_BATCHNORM, CLNET_OP_BATCHNORM, 4},
    {FILE_OP_ACTIVATION, CLNET_OP_ACTIVATION, 4},
    {FILE_OP_ADD, CLNET_OP_ADD, 0},
    {FILE_OP_CONCAT, CLNET_OP_CONCAT, 0},
    {FILE_OP_AVGPOOL, CLNET_OP_AVGPOOL, 9 * 4},
    {FILE_OP_MAXPOOL, CLNET_OP_MAXPOOL, 9 * 4},
    {FILE_OP_GLOBAL_AVGPOOL, CLNET_OP_GLOBAL_AVGPOOL, 0},
    {FILE_OP_FLATTEN, CLNET_OP_FLATTEN, 0},
    {FILE_OP_DENSE, CLNET_OP_DENSE, 4 * 4},
    {FILE_OP_SOFTMAX, CLNET_OP_SOFTMAX, 0},
    {FILE_OP_DROPOUT, CLNET_OP_DROPOUT, 4},
    {FILE_OP_PAD, CLNET_OP_PAD, 7 * 4},
    {FILE_OP_SLICE, CLNET_OP_SLICE, 9 * 4},
    {FILE_OP_MULTIPLY, CLNET_OP_MULTIPLY, 0},
    {FILE_OP_SUBTRACT, CLNET_OP_SUBTRACT, 0},
    {FILE_OP_CHANNEL_AFFINE, CLNET_OP_CHANNEL_AFFINE, 0},
    {FILE_OP_CLIP, CLNET_OP_CLIP, 2 * 4},
};
#define OP_TABLE_SIZE (sizeof op_table / sizeof op_table[0])

static int op_entry_by_op(clnet_op op) {
    for (size_t i = 0; i < OP_TABLE_SIZE; i++)
        if (op_table[i].op == op)
            return (int)i;
    return -1;
}

static int op_entry_by_code(uint32_t code) {
    for (size_t i = 0; i < OP_TABLE_SIZE; i++)
        if (op_table[i].code == code)
            return (int)i;
    return -1;
}

/* Activation, padding and initializer codes of the file: 0, 1, 2, ... in the
 * order of clnet.h, mapped explicitly for the same reason as op codes. */
static int activation_code(clnet_activation a) {
    switch (a) {
    case CLNET_ACT_LINEAR: return 0;
    case CLNET_ACT_RELU: return 1;
    case CLNET_ACT_SOFTMAX: return 2;
    case CLNET_ACT_SIGMOID: return 3;
    }
    return -1;
}

static const clnet_activation activation_of_code[] = {CLNET_ACT_LINEAR, CLNET_ACT_RELU,
                                                      CLNET_ACT_SOFTMAX, CLNET_ACT_SIGMOID};
#define ACTIVATION_CODES ((int)(sizeof activation_of_code / sizeof activation_of_code[0]))

static int padding_code(clnet_padding p) {
    switch (p) {
    case CLNET_PADDING_SAME: return 0;
    case CLNET_PADDING_VALID: return 1;
    case CLNET_PADDING_EXPLICIT: return 2;
    }
    return -1;
}

static const clnet_padding padding_of_code[] = {CLNET_PADDING_SAME, CLNET_PADDING_VALID,
                                                CLNET_PADDING_EXPLICIT};

static int initializer_code(clnet_initializer i) {
    switch (i) {
    case CLNET_INIT_HE_NORMAL: return 0;
    case CLNET_INIT_GLOROT_UNIFORM: return 1;
    }
    return -1;
}

static const clnet_initializer initializer_of_code[] = {CLNET_INIT_HE_NORMAL,
                                                        CLNET_INIT_GLOROT_UNIFORM};

/* ------------------------------------------------------------------------ */
/* CRC-32 (IEEE 802.3: reflected polynomial 0xEDB88320, initial value and   */
/* final xor 0xFFFFFFFF), the checksum of zlib, PNG and gzip.               */

static uint32_t crc32_of(const uint8_t *data, size_t size) {
    /* A 1 KiB table built per call costs 2048 shifts, nothing next to the
     * file, and keeps this free of shared state. */
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        table[i] = c;
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; i++)
        crc = table[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

/* ------------------------------------------------------------------------ */
/* Little-endian encoding, independent of the host's byte order             */

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p) {
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void set_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void set_u64(uint8_t *p, uint64_t v) {
    set_u32(p, (uint32_t)v);
    set_u32(p + 4, (uint32_t)(v >> 32));
}

/* floats travel as their IEEE-754 bit pattern, so they round-trip exactly. */
static float float_of_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint32_t bits_of_float(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

/* Names are UTF-8 without control characters, so that messages quoting them
 * stay printable. Returns what is wrong with a name, or NULL. */
static const char *name_problem(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x20 || c == 0x7f)
            return "a control character";
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1Fu, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0Fu, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07u, min = 0x10000;
        } else {
            return "invalid UTF-8";
        }
        if (n - i < len)
            return "invalid UTF-8";
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return "invalid UTF-8";
            cp = cp << 6 | (s[i + k] & 0x3Fu);
        }
        /* Overlong forms, surrogates and values past Unicode are not UTF-8. */
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return "invalid UTF-8";
        i += len;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Saving                                                                   */

typedef struct writer {
    uint8_t *data;
    size_t size, capacity;
    int out_of_memory; /* set once; later puts do nothing */
} writer;

static uint8_t *writer_reserve(writer *w, size_t n) {
    if (w->out_of_memory)
        return NULL;
    if (n > w->capacity - w->size) {
        size_t need = w->size + n;
        if (need < w->size) {
            w->out_of_memory = 1;
            return NULL;
        }
        size_t cap = w->capacity ? w->capacity : 4096;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        uint8_t *grown = realloc(w->data, cap);
        if (!grown) {
            w->out_of_memory = 1;
            return NULL;
        }
        w->data = grown;
        w->capacity = cap;
    }
    uint8_t *p = w->data + w->size;
    w->size += n;
    return p;
}

static void put_u32(writer *w, uint32_t v) {
    uint8_t *p = writer_reserve(w, 4);
    if (p)
        set_u32(p, v);
}

static void put_i32(writer *w, int v) {
    put_u32(w, (uint32_t)(int32_t)v);
}

static void put_f32(writer *w, float f) {
    put_u32(w, bits_of_float(f));
}

static void put_string(writer *w, const char *s) {
    size_t n = s ? strlen(s) : 0;
    put_u32(w, (uint32_t)n);
    uint8_t *p = writer_reserve(w, n);
    if (p && n)
        memcpy(p, s, n);
}

static clnet_status check_name_for_save(const char *what, const char *name) {
    size_t n = name ? strlen(name) : 0;
    /* Limitation: names longer than 1024 bytes cannot be saved. */
    if (n > MAX_STRING_BYTES)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "%s has a name of %zu bytes; model files hold names of at most %u bytes",
                          what, n, MAX_STRING_BYTES);
    const char *problem = name_problem((const uint8_t *)name, n);
    if (problem)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "%s has %s in its name, which model files reject", what, problem);
    return CLNET_STATUS_OK;
}

static clnet_status put_enum_code(writer *w, const char *layer, const char *field, int code) {
    if (code < 0)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "layer '%s' has a %s value the model format does not define", layer,
                          field);
    put_u32(w, (uint32_t)code);
    return CLNET_STATUS_OK;
}

static clnet_status put_layer_config(writer *w, const clnet_layer *layer) {
    const char *name = layer->name;
    switch (layer->op) {
    case CLNET_OP_CONV2D: {
        const clnet_conv2d_desc *d = &layer->u.conv;
        put_i32(w, d->filters);
        put_i32(w, d->kernel_h);
        put_i32(w, d->kernel_w);
        put_i32(w, d->stride_h);
        put_i32(w, d->stride_w);
        put_i32(w, d->dilation_h);
        put_i32(w, d->dilation_w);
        CLNET_TRY(put_enum_code(w, name, "padding", padding_code(d->padding)));
        put_i32(w, d->pad_top);
        put_i32(w, d->pad_bottom);
        put_i32(w, d->pad_left);
        put_i32(w, d->pad_right);
        put_i32(w, d->use_bias ? 1 : 0);
        CLNET_TRY(put_enum_code(w, name, "activation", activation_code(d->activation)));
        return put_enum_code(w, name, "initializer", initializer_code(d->kernel_initializer));
    }
    case CLNET_OP_BATCHNORM:
        put_f32(w, layer->u.bn.epsilon);
        return CLNET_STATUS_OK;
    case CLNET_OP_ACTIVATION:
        return put_enum_code(w, name, "activation", activation_code(layer->u.activation));
    case CLNET_OP_AVGPOOL:
    case CLNET_OP_MAXPOOL: {
        const clnet_pool2d_desc *d = &layer->u.pool;
        put_i32(w, d->pool_h);
        put_i32(w, d->pool_w);
        put_i32(w, d->stride_h);
        put_i32(w, d->stride_w);
        CLNET_TRY(put_enum_code(w, name, "padding", padding_code(d->padding)));
        put_i32(w, d->pad_top);
        put_i32(w, d->pad_bottom);
        put_i32(w, d->pad_left);
        put_i32(w, d->pad_right);
        return CLNET_STATUS_OK;
    }
    case CLNET_OP_DENSE: {
        const clnet_dense_desc *d = &layer->u.dense;
        put_i32(w, d->units);
        put_i32(w, d->use_bias ? 1 : 0);
        CLNET_TRY(put_enum_code(w, name, "activation", activation_code(d->activation)));
        return put_enum_code(w, name, "initializer", initializer_code(d->kernel_initializer));
    }
    case CLNET_OP_DROPOUT:
        put_f32(w, layer->u.dropout.rate);
        return CLNET_STATUS_OK;
    case CLNET_OP_PAD: {
        const clnet_pad_desc *d = &layer->u.pad;
        put_i32(w, d->top);
        put_i32(w, d->bottom);
        put_i32(w, d->left);
        put_i32(w, d->right);
        put_i32(w, d->channels_before);
        put_i32(w, d->channels_after);
        put_f32(w, d->value);
        return CLNET_STATUS_OK;
    }
    case CLNET_OP_SLICE: {
        const clnet_slice_desc *d = &layer->u.slice;
        /* Limitation: begins and steps above 2^24 (beyond any tensor axis)
         * cannot be saved; readers reject them. */
        for (int i = 0; i < 3; i++)
            if (d->begin[i] > MAX_EXTENT || d->step[i] > MAX_EXTENT)
                return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                                  "layer '%s': slice axis %d has begin %d and step %d; model "
                                  "files hold begins and steps of at most %d",
                                  name, i, d->begin[i], d->step[i], MAX_EXTENT);
        for (int i = 0; i < 3; i++)
            put_i32(w, d->begin[i]);
        for (int i = 0; i < 3; i++)
            put_i32(w, d->end[i]);
        for (int i = 0; i < 3; i++)
            put_i32(w, d->step[i]);
        return CLNET_STATUS_OK;
    }
    case CLNET_OP_CLIP:
        put_f32(w, layer->u.clip.lo);
        put_f32(w, layer->u.clip.hi);
        return CLNET_STATUS_OK;
    default:
        return CLNET_STATUS_OK; /* ops without configuration */
    }
}

static clnet_status put_layer(writer *w, const clnet_layer *layer) {
    int entry = op_entry_by_op(layer->op);
    /* Limitation: only the ops of op_table can be saved. */
    if (entry < 0)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "layer '%s' is a %s, which the model format cannot store", layer->name,
                          clnet_op_name(layer->op));
    char what[64];
    snprintf(what, sizeof what, "layer %d", layer->index);
    CLNET_TRY(check_name_for_save(what, layer->name));

    put_u32(w, op_table[entry].code);
    put_string(w, layer->name);
    put_u32(w, op_table[entry].config_bytes);
    size_t config_start = w->size;
    CLNET_TRY(put_layer_config(w, layer));
    if (!w->out_of_memory && w->size - config_start != op_table[entry].config_bytes)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "layer '%s': wrote %zu configuration bytes for a %s, the format says %u",
                          layer->name, w->size - config_start, clnet_op_name(layer->op),
                          op_table[entry].config_bytes);

    if (layer->n_weights < 0 || layer->n_weights > CLNET_MAX_LAYER_WEIGHTS)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "layer '%s' has %d weights",
                          layer->name, layer->n_weights);
    put_u32(w, (uint32_t)layer->n_weights);
    for (int k = 0; k < layer->n_weights; k++) {
        const clnet_weight *wt = &layer->weights[k];
        size_t product = 1;
        int dims_ok = wt->rank >= 1 && wt->rank <= CLNET_MAX_WEIGHT_RANK;
        for (int d = 0; dims_ok && d < wt->rank; d++) {
            if (wt->dims[d] <= 0 || (size_t)wt->dims[d] > SIZE_MAX / product)
                dims_ok = 0;
            else
                product *= (size_t)wt->dims[d];
        }
        if (!dims_ok || product != wt->count || !wt->data)
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                              "layer '%s': weight '%s' (rank %d, %zu values) has inconsistent "
                              "dimensions or no data",
                              layer->name, wt->name, wt->rank, wt->count);
        snprintf(what, sizeof what, "a weight of layer %d", layer->index);
        CLNET_TRY(check_name_for_save(what, wt->name));
        put_string(w, wt->name);
        put_u32(w, (uint32_t)wt->rank);
        for (int d = 0; d < wt->rank; d++)
            put_u32(w, (uint32_t)wt->dims[d]);
        if (wt->count > SIZE_MAX / 4) {
            w->out_of_memory = 1;
            return CLNET_STATUS_OK;
        }
        uint8_t *p = writer_reserve(w, wt->count * 4);
        if (!p)
            return CLNET_STATUS_OK;
        for (size_t i = 0; i < wt->count; i++)
            set_u32(p + 4 * i, bits_of_float(wt->data[i]));
    }
    return CLNET_STATUS_OK;
}

static clnet_status put_node(writer *w, const clnet_graph *g, int index) {
    const clnet_node *node = &g->nodes[index];
    if (node->layer) {
        put_u32(w, (uint32_t)node->layer->index);
        put_string(w, "");
    } else {
        char what[64];
        snprintf(what, sizeof what, "graph input (node %d)", index);
        CLNET_TRY(check_name_for_save(what, node->input_name));
        put_u32(w, NODE_IS_INPUT);
        put_string(w, node->input_name);
    }
    put_u32(w, (uint32_t)node->n_inputs);
    for (int i = 0; i < node->n_inputs; i++)
        put_u32(w, (uint32_t)node->inputs[i]);
    put_u32(w, (uint32_t)node->shape.rank);
    put_u32(w, (uint32_t)node->shape.c);
    put_u32(w, (uint32_t)node->shape.h);
    put_u32(w, (uint32_t)node->shape.w);
    return CLNET_STATUS_OK;
}

/* Builds the whole file in memory: header, layers, nodes, outputs, CRC. */
static clnet_status encode_graph(const clnet_graph *g, writer *w) {
    uint8_t *header = writer_reserve(w, HEADER_BYTES);
    if (header) {
        memcpy(header, model_magic, sizeof model_magic);
        set_u32(header + 8, MODEL_VERSION);
        set_u32(header + 12, 0); /* flags */
        set_u64(header + 16, 0); /* file length, filled in below */
    }

    put_u32(w, (uint32_t)g->n_layers);
    for (int i = 0; i < g->n_layers; i++)
        CLNET_TRY(put_layer(w, g->layers[i]));

    put_u32(w, (uint32_t)g->n_nodes);
    for (int i = 0; i < g->n_nodes; i++)
        CLNET_TRY(put_node(w, g, i));

    put_u32(w, (uint32_t)g->n_outputs);
    for (int i = 0; i < g->n_outputs; i++)
        put_u32(w, (uint32_t)g->outputs[i]);

    if (w->out_of_memory)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                          "out of host memory while encoding the model (%zu bytes so far)",
                          w->size);
    set_u64(w->data + 16, (uint64_t)w->size + TRAILER_BYTES);
    uint32_t crc = crc32_of(w->data, w->size);
    put_u32(w, crc);
    if (w->out_of_memory)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                          "out of host memory while encoding the model (%zu bytes)", w->size);
    return CLNET_STATUS_OK;
}

/* Writes to "<path>.tmp.<pid>" and renames it over path, so that readers
 * never see a half-written model and a failed save leaves any old file. */
static clnet_status write_atomically(const char *path, const uint8_t *data, size_t size) {
    size_t tmp_len = strlen(path) + 32;
    char *tmp = malloc(tmp_len);
    if (!tmp)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "saving model to %s: out of host memory",
                          path);
    snprintf(tmp, tmp_len, "%s.tmp.%ld", path, (long)getpid());

    FILE *f = fopen(tmp, "wb");
    if (!f) {
        clnet_status s = clnet_fail(CLNET_STATUS_IO_ERROR,
                                    "saving model to %s: cannot create %s: %s", path, tmp,
                                    strerror(errno));
        free(tmp);
        return s;
    }
    const char *failed_step = NULL;
    int err = 0;
    if (fwrite(data, 1, size, f) != size) {
        failed_step = "write";
        err = errno;
    } else if (fflush(f) != 0) {
        failed_step = "write";
        err = errno;
    } else if (fsync(fileno(f)) != 0) {
        failed_step = "sync";
        err = errno;
    }
    if (fclose(f) != 0 && !failed_step) {
        failed_step = "close";
        err = errno;
    }
    if (!failed_step && rename(tmp, path) != 0) {
        failed_step = "rename";
        err = errno;
    }
    if (failed_step) {
        remove(tmp);
        clnet_status s = clnet_fail(CLNET_STATUS_IO_ERROR, "saving model to %s: cannot %s %s: %s",
                                    path, failed_step, tmp, strerror(err));
        free(tmp);
        return s;
    }
    free(tmp);
    return CLNET_STATUS_OK;
}

clnet_status clnet_graph_save(const clnet_graph *g, const char *path) {
    if (!g || !path)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_graph_save: %s is NULL",
                          !g ? "the graph" : "the path");
    writer w = {0};
    clnet_status s = encode_graph(g, &w);
    if (s != CLNET_STATUS_OK)
        clnet_fail_context(s, "saving model to %s: ", path);
    else
        s = write_atomically(path, w.data, w.size);
    free(w.data);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Loading, step 1: read the file and check its envelope                    */

static clnet_status read_whole_file(const char *path, uint8_t **out, size_t *out_size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        int err = errno;
        return clnet_fail(err == ENOENT ? CLNET_STATUS_NOT_FOUND : CLNET_STATUS_IO_ERROR,
                          "cannot open model file %s: %s", path, strerror(err));
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int err = errno;
        fclose(f);
        return clnet_fail(CLNET_STATUS_IO_ERROR, "cannot stat model file %s: %s", path,
                          strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        return clnet_fail(CLNET_STATUS_IO_ERROR, "cannot read model file %s: %s", path,
                          S_ISDIR(st.st_mode) ? strerror(EISDIR) : "not a regular file");
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)(SIZE_MAX / 2)) {
        fclose(f);
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "model file %s is too large to load",
                          path);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size ? size : 1);
    if (!data) {
        fclose(f);
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                          "cannot allocate %zu bytes to read model file %s", size, path);
    }
    size_t got = fread(data, 1, size, f);
    if (got != size && ferror(f)) {
        int err = errno;
        fclose(f);
        free(data);
        return clnet_fail(CLNET_STATUS_IO_ERROR, "cannot read model file %s: %s", path,
                          strerror(err));
    }
    fclose(f);
    *out = data;
    *out_size = got; /* a file that shrank while read is judged on what was read */
    return CLNET_STATUS_OK;
}

/* Magic, version, flags, length and checksum, all before any parsing. */
static clnet_status check_envelope(const char *path, const uint8_t *data, size_t size) {
    if (size == 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "%s: empty file, not a clnet model", path);
    size_t magic_bytes = size < sizeof model_magic ? size : sizeof model_magic;
    if (memcmp(data, model_magic, magic_bytes) != 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "%s: not a clnet model file (bad magic: it does not start with "
                          "\"CLNETMDL\")",
                          path);
    if (size < HEADER_BYTES)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "%s: truncated: file has %zu bytes, less than the %u-byte header", path,
                          size, HEADER_BYTES);

    uint32_t version = get_u32(data + 8);
    if (version > MODEL_VERSION)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "%s: format version %" PRIu32 " is newer than this build of clnet "
                          "reads (version %u)",
                          path, version, MODEL_VERSION);
    if (version != MODEL_VERSION)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "%s: format version %" PRIu32 " does not exist (this build reads "
                          "version %u)",
                          path, version, MODEL_VERSION);
    uint32_t flags = get_u32(data + 12);
    if (flags != 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "%s: header flags 0x%08" PRIx32 " are not defined in format version %u",
                          path, flags, MODEL_VERSION);

    uint64_t length = get_u64(data + 16);
    if (length > size)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "%s: truncated: header says %" PRIu64 " bytes, file has %zu", path,
                          length, size);
    if (length < size)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "%s: %zu bytes of trailing data after the %" PRIu64
                          " bytes the header declares",
                          path, size - (size_t)length, length);
    if (size < HEADER_BYTES + TRAILER_BYTES)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "%s: header declares %zu bytes, too short for a header and a checksum",
                          path, size);

    uint32_t stored = get_u32(data + size - TRAILER_BYTES);
    uint32_t computed = crc32_of(data, size - TRAILER_BYTES);
    if (stored != computed)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "%s: checksum mismatch (stored 0x%08" PRIx32 ", computed 0x%08" PRIx32
                          "): the file is corrupted",
                          path, stored, computed);
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Loading, step 2: parse the body into records that point into the buffer */

typedef struct reader {
    const char *path;
    const uint8_t *data;
    size_t end; /* offset of the checksum: the body ends here */
    size_t pos;
    char where[192]; /* the record being read, e.g. "layer 3 'conv2d_1'" */
} reader;

static clnet_status reader_fail(const reader *r, const char *fmt, ...) CLNET_PRINTF(2, 3);

static clnet_status reader_fail(const reader *r, const char *fmt, ...) {
    char detail[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(detail, sizeof detail, fmt, args);
    va_end(args);
    if (r->where[0])
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "%s: %s: %s", r->path, r->where, detail);
    return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "%s: %s", r->path, detail);
}

static size_t reader_left(const reader *r) {
    return r->end - r->pos;
}

/* Ensures n more bytes exist before the checksum. */
static clnet_status reader_need(const reader *r, size_t n, const char *field) {
    if (n > reader_left(r))
        return reader_fail(r, "%s needs %zu bytes at offset %zu, past the end of the content "
                              "(%zu bytes left)",
                           field, n, r->pos, reader_left(r));
    return CLNET_STATUS_OK;
}

static clnet_status read_u32(reader *r, const char *field, uint32_t *out) {
    CLNET_TRY(reader_need(r, 4, field));
    *out = get_u32(r->data + r->pos);
    r->pos += 4;
    return CLNET_STATUS_OK;
}

/* A signed field of a description, which must lie in [lo, hi]. */
static clnet_status read_int(reader *r, const char *field, int lo, int hi, int *out) {
    uint32_t raw;
    CLNET_TRY(read_u32(r, field, &raw));
    int32_t v = (int32_t)raw;
    if (v < lo || v > hi)
        return reader_fail(r, "%s is %" PRId32 ", outside [%d, %d]", field, v, lo, hi);
    *out = (int)v;
    return CLNET_STATUS_OK;
}

static clnet_status read_f32(reader *r, const char *field, float *out) {
    uint32_t raw;
    CLNET_TRY(read_u32(r, field, &raw));
    *out = float_of_bits(raw);
    return CLNET_STATUS_OK;
}

/* A count of records that take at least min_bytes each: checked against the
 * remaining bytes before anything is allocated for them. */
static clnet_status read_count(reader *r, const char *field, size_t min_bytes, uint32_t limit,
                               uint32_t *out) {
    uint32_t n;
    CLNET_TRY(read_u32(r, field, &n));
    if (n > limit)
        return reader_fail(r, "%s is %" PRIu32 ", more than the limit of %" PRIu32, field, n,
                           limit);
    if ((uint64_t)n * min_bytes > reader_left(r))
        return reader_fail(r, "%s is %" PRIu32 ", but that many records need at least %" PRIu64
                              " bytes and only %zu are left",
                           field, n, (uint64_t)n * min_bytes, reader_left(r));
    *out = n;
    return CLNET_STATUS_OK;
}

typedef struct span {
    const uint8_t *bytes;
    uint32_t length;
} span;

static clnet_status read_string(reader *r, const char *field, span *out) {
    uint32_t n;
    CLNET_TRY(read_u32(r, field, &n));
    if (n > MAX_STRING_BYTES)
        return reader_fail(r, "%s has length %" PRIu32 ", more than the limit of %u bytes",
                           field, n, MAX_STRING_BYTES);
    if (n > reader_left(r))
        return reader_fail(r, "%s of length %" PRIu32 " at offset %zu runs past the end of the "
                              "content (%zu bytes left)",
                           field, n, r->pos, reader_left(r));
    const char *problem = name_problem(r->data + r->pos, n);
    if (problem)
        return reader_fail(r, "%s at offset %zu contains %s", field, r->pos, problem);
    out->bytes = r->data + r->pos;
    out->length = n;
    r->pos += n;
    return CLNET_STATUS_OK;
}

/* Copies a parsed string into a NUL-terminated buffer of MAX_STRING_BYTES + 1. */
static void span_copy(span s, char *buf) {
    if (s.length)
        memcpy(buf, s.bytes, s.length);
    buf[s.length] = '\0';
}

typedef struct parsed_weight {
    span name;
    int rank;
    int dims[CLNET_MAX_WEIGHT_RANK];
    size_t count;
    const uint8_t *data; /* count little-endian float32 values */
} parsed_weight;

typedef struct parsed_layer {
    clnet_op op;
    span name;
    union {
        clnet_conv2d_desc conv;
        float epsilon;
        clnet_activation activation;
        clnet_pool2d_desc pool;
        clnet_dense_desc dense;
        float rate;
        clnet_pad_desc pad;
        clnet_slice_desc slice;
        struct {
            float lo, hi;
        } clip;
    } u;
    int n_weights;
    parsed_weight weights[CLNET_MAX_LAYER_WEIGHTS];
    uint64_t weight_values; /* sum of the weights' counts */
} parsed_layer;

typedef struct parsed_node {
    uint32_t layer; /* index, or NODE_IS_INPUT */
    span name;
    uint32_t n_inputs;
    const uint8_t *inputs; /* n_inputs little-endian u32 tensor ids */
    uint32_t rank, c, h, w;
} parsed_node;

typedef struct parsed_model {
    uint32_t n_layers;
    parsed_layer *layers;
    uint32_t n_nodes;
    parsed_node *nodes;
    uint32_t n_outputs;
    const uint8_t *outputs; /* n_outputs little-endian u32 tensor ids */
} parsed_model;

static void parsed_model_free(parsed_model *m) {
    free(m->layers);
    free(m->nodes);
    memset(m, 0, sizeof *m);
}

/* "layer 3 'conv2d_1' (conv2d)" for messages; long names are cut. */
static void describe_layer(char *buf, size_t size, uint32_t index, const parsed_layer *l) {
    uint32_t shown = l->name.length < 100 ? l->name.length : 100;
    while (shown < l->name.length && shown > 0 && (l->name.bytes[shown] & 0xC0) == 0x80)
        shown--; /* cut long names between UTF-8 characters */
    snprintf(buf, size, "layer %" PRIu32 " '%.*s%s' (%s)", index, (int)shown,
             (const char *)l->name.bytes, shown < l->name.length ? "..." : "",
             clnet_op_name(l->op));
}

static clnet_status read_enum(reader *r, const char *field, int n_codes, int *out) {
    uint32_t raw;
    CLNET_TRY(read_u32(r, field, &raw));
    if (raw >= (uint32_t)n_codes)
        return reader_fail(r, "%s has the unknown code %" PRIu32, field, raw);
    *out = (int)raw;
    return CLNET_STATUS_OK;
}

static clnet_status read_activation(reader *r, clnet_activation *out) {
    int code = 0;
    CLNET_TRY(read_enum(r, "activation", ACTIVATION_CODES, &code));
    *out = activation_of_code[code];
    return CLNET_STATUS_OK;
}

static clnet_status read_padding(reader *r, clnet_padding *out) {
    int code = 0;
    CLNET_TRY(read_enum(r, "padding", 3, &code));
    *out = padding_of_code[code];
    return CLNET_STATUS_OK;
}

static clnet_status read_initializer(reader *r, clnet_initializer *out) {
    int code = 0;
    CLNET_TRY(read_enum(r, "kernel initializer", 2, &code));
    *out = initializer_of_code[code];
    return CLNET_STATUS_OK;
}

static clnet_status read_pads(reader *r, int *top, int *bottom, int *left, int *right) {
    CLNET_TRY(read_int(r, "pad_top", 0, MAX_EXTENT, top));
    CLNET_TRY(read_int(r, "pad_bottom", 0, MAX_EXTENT, bottom));
    CLNET_TRY(read_int(r, "pad_left", 0, MAX_EXTENT, left));
    return read_int(r, "pad_right", 0, MAX_EXTENT, right);
}

static clnet_status read_layer_config(reader *r, parsed_layer *l) {
    switch (l->op) {
    case CLNET_OP_CONV2D: {
        clnet_conv2d_desc *d = &l->u.conv;
        CLNET_TRY(read_int(r, "filters", 1, MAX_EXTENT, &d->filters));
        CLNET_TRY(read_int(r, "kernel_h", 1, MAX_EXTENT, &d->kernel_h));
        CLNET_TRY(read_int(r, "kernel_w", 1, MAX_EXTENT, &d->kernel_w));
        CLNET_TRY(read_int(r, "stride_h", 1, MAX_EXTENT, &d->stride_h));
        CLNET_TRY(read_int(r, "stride_w", 1, MAX_EXTENT, &d->stride_w));
        CLNET_TRY(read_int(r, "dilation_h", 1, MAX_EXTENT, &d->dilation_h));
        CLNET_TRY(read_int(r, "dilation_w", 1, MAX_EXTENT, &d->dilation_w));
        CLNET_TRY(read_padding(r, &d->padding));
        CLNET_TRY(read_pads(r, &d->pad_top, &d->pad_bottom, &d->pad_left, &d->pad_right));
        CLNET_TRY(read_int(r, "use_bias", 0, 1, &d->use_bias));
        CLNET_TRY(read_activation(r, &d->activation));
        return read_initializer(r, &d->kernel_initializer);
    }
    case CLNET_OP_BATCHNORM:
        CLNET_TRY(read_f32(r, "epsilon", &l->u.epsilon));
        if (!(isfinite(l->u.epsilon) && l->u.epsilon > 0.0f))
            return reader_fail(r, "epsilon %g is not a positive finite number",
                               (double)l->u.epsilon);
        return CLNET_STATUS_OK;
    case CLNET_OP_ACTIVATION:
        return read_activation(r, &l->u.activation);
    case CLNET_OP_AVGPOOL:
    case CLNET_OP_MAXPOOL: {
        clnet_pool2d_desc *d = &l->u.pool;
        CLNET_TRY(read_int(r, "pool_h", 1, MAX_EXTENT, &d->pool_h));
        CLNET_TRY(read_int(r, "pool_w", 1, MAX_EXTENT, &d->pool_w));
        CLNET_TRY(read_int(r, "stride_h", 1, MAX_EXTENT, &d->stride_h));
        CLNET_TRY(read_int(r, "stride_w", 1, MAX_EXTENT, &d->stride_w));
        CLNET_TRY(read_padding(r, &d->padding));
        return read_pads(r, &d->pad_top, &d->pad_bottom, &d->pad_left, &d->pad_right);
    }
    case CLNET_OP_DENSE: {
        clnet_dense_desc *d = &l->u.dense;
        CLNET_TRY(read_int(r, "units", 1, MAX_EXTENT, &d->units));
        CLNET_TRY(read_int(r, "use_bias", 0, 1, &d->use_bias));
        CLNET_TRY(read_activation(r, &d->activation));
        return read_initializer(r, &d->kernel_initializer);
    }
    case CLNET_OP_DROPOUT:
        CLNET_TRY(read_f32(r, "rate", &l->u.rate));
        if (!(l->u.rate >= 0.0f && l->u.rate < 1.0f))
            return reader_fail(r, "dropout rate %g is outside [0, 1)", (double)l->u.rate);
        return CLNET_STATUS_OK;
    case CLNET_OP_PAD: {
        clnet_pad_desc *d = &l->u.pad;
        CLNET_TRY(read_pads(r, &d->top, &d->bottom, &d->left, &d->right));
        CLNET_TRY(read_int(r, "channels_before", 0, MAX_EXTENT, &d->channels_before));
        CLNET_TRY(read_int(r, "channels_after", 0, MAX_EXTENT, &d->channels_after));
        CLNET_TRY(read_f32(r, "pad value", &d->value));
        if (!isfinite(d->value))
            return reader_fail(r, "pad value %g is not finite", (double)d->value);
        return CLNET_STATUS_OK;
    }
    case CLNET_OP_SLICE: {
        /* An end past the axis means "to the end" (INT32_MAX is the default);
         * begins and steps beyond any axis are rejected here, which also
         * keeps the shape arithmetic far from int overflow. */
        static const char *const begin[3] = {"begin_c", "begin_h", "begin_w"};
        static const char *const end[3] = {"end_c", "end_h", "end_w"};
        static const char *const step[3] = {"step_c", "step_h", "step_w"};
        clnet_slice_desc *d = &l->u.slice;
        for (int i = 0; i < 3; i++)
            CLNET_TRY(read_int(r, begin[i], 0, MAX_EXTENT, &d->begin[i]));
        for (int i = 0; i < 3; i++)
            CLNET_TRY(read_int(r, end[i], 0, INT32_MAX, &d->end[i]));
        for (int i = 0; i < 3; i++)
            CLNET_TRY(read_int(r, step[i], 1, MAX_EXTENT, &d->step[i]));
        return CLNET_STATUS_OK;
    }
    case CLNET_OP_CLIP:
        CLNET_TRY(read_f32(r, "clip lo", &l->u.clip.lo));
        CLNET_TRY(read_f32(r, "clip hi", &l->u.clip.hi));
        if (isnan(l->u.clip.lo) || isnan(l->u.clip.hi) || l->u.clip.lo > l->u.clip.hi)
            return reader_fail(r, "clip bounds [%g, %g] are not ordered numbers",
                               (double)l->u.clip.lo, (double)l->u.clip.hi);
        return CLNET_STATUS_OK;
    default:
        return CLNET_STATUS_OK;
    }
}

static clnet_status read_weight(reader *r, parsed_weight *wt) {
    CLNET_TRY(read_string(r, "weight name", &wt->name));
    uint32_t rank;
    CLNET_TRY(read_u32(r, "weight rank", &rank));
    if (rank < 1 || rank > CLNET_MAX_WEIGHT_RANK)
        return reader_fail(r, "weight '%.*s' has rank %" PRIu32 ", outside [1, %d]",
                           (int)wt->name.length, (const char *)wt->name.bytes, rank,
                           CLNET_MAX_WEIGHT_RANK);
    wt->rank = (int)rank;
    size_t count = 1;
    for (uint32_t d = 0; d < rank; d++) {
        uint32_t dim;
        CLNET_TRY(read_u32(r, "weight dimension", &dim));
        if (dim < 1 || dim > INT_MAX)
            return reader_fail(r, "weight '%.*s' has dimension %" PRIu32 " = %" PRIu32
                                  ", outside [1, %d]",
                               (int)wt->name.length, (const char *)wt->name.bytes, d, dim,
                               INT_MAX);
        /* Every value takes 4 bytes of the file, so a count above what is
         * left is impossible; checking per factor also rules out overflow. */
        if (dim > reader_left(r) / 4 / count)
            return reader_fail(r, "weight '%.*s': dimension %" PRIu32 " = %" PRIu32
                                  " makes its data run past the end of the content (%zu bytes "
                                  "left)",
                               (int)wt->name.length, (const char *)wt->name.bytes, d, dim,
                               reader_left(r));
        count *= dim;
        wt->dims[d] = (int)dim;
    }
    wt->count = count;
    CLNET_TRY(reader_need(r, count * 4, "weight data"));
    wt->data = r->data + r->pos;
    r->pos += count * 4;
    return CLNET_STATUS_OK;
}

static clnet_status read_layer(reader *r, uint32_t index, parsed_layer *l) {
    snprintf(r->where, sizeof r->where, "layer %" PRIu32, index);
    uint32_t code;
    CLNET_TRY(read_u32(r, "op code", &code));
    int entry = op_entry_by_code(code);
    if (entry < 0)
        return reader_fail(r, "unknown op code %" PRIu32, code);
    l->op = op_table[entry].op;
    CLNET_TRY(read_string(r, "name", &l->name));
    describe_layer(r->where, sizeof r->where, index, l);

    uint32_t config_bytes;
    CLNET_TRY(read_u32(r, "configuration size", &config_bytes));
    if (config_bytes != op_table[entry].config_bytes)
        return reader_fail(r, "configuration of %" PRIu32 " bytes, but a %s has %" PRIu32,
                           config_bytes, clnet_op_name(l->op), op_table[entry].config_bytes);
    CLNET_TRY(reader_need(r, config_bytes, "configuration"));
    CLNET_TRY(read_layer_config(r, l));

    uint32_t n_weights;
    CLNET_TRY(read_u32(r, "weight count", &n_weights));
    if (n_weights > CLNET_MAX_LAYER_WEIGHTS)
        return reader_fail(r, "%" PRIu32 " weights, more than the %d a layer can have",
                           n_weights, CLNET_MAX_LAYER_WEIGHTS);
    l->n_weights = (int)n_weights;
    for (int k = 0; k < l->n_weights; k++) {
        CLNET_TRY(read_weight(r, &l->weights[k]));
        l->weight_values += l->weights[k].count;
    }
    return CLNET_STATUS_OK;
}

static clnet_status read_node(reader *r, const parsed_model *m, uint32_t index, parsed_node *n) {
    snprintf(r->where, sizeof r->where, "node %" PRIu32, index);
    CLNET_TRY(read_u32(r, "layer index", &n->layer));
    int is_input = n->layer == NODE_IS_INPUT;
    if (!is_input && n->layer >= m->n_layers)
        return reader_fail(r, "calls layer %" PRIu32 ", but the file has %" PRIu32 " layers",
                           n->layer, m->n_layers);
    CLNET_TRY(read_string(r, "input name", &n->name));
    if (!is_input && n->name.length != 0)
        return reader_fail(r, "a layer call carries a name (only graph inputs have one)");

    CLNET_TRY(read_u32(r, "input count", &n->n_inputs));
    if (is_input && n->n_inputs != 0)
        return reader_fail(r, "a graph input takes %" PRIu32 " tensors instead of none",
                           n->n_inputs);
    if (!is_input && (n->n_inputs < 1 || n->n_inputs > MAX_NODE_INPUTS))
        return reader_fail(r, "a layer call takes %" PRIu32 " tensors, outside [1, %u]",
                           n->n_inputs, MAX_NODE_INPUTS);
    CLNET_TRY(reader_need(r, (size_t)n->n_inputs * 4, "input tensor ids"));
    n->inputs = r->data + r->pos;
    for (uint32_t i = 0; i < n->n_inputs; i++) {
        /* Only earlier tensors may be used, which also rules out cycles. */
        uint32_t id = get_u32(n->inputs + 4 * i);
        if (id >= index)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "%s: node %" PRIu32 " refers to tensor %" PRIu32
                              " which is not defined before it",
                              r->path, index, id);
    }
    r->pos += (size_t)n->n_inputs * 4;

    CLNET_TRY(read_u32(r, "shape rank", &n->rank));
    CLNET_TRY(read_u32(r, "shape channels", &n->c));
    CLNET_TRY(read_u32(r, "shape height", &n->h));
    CLNET_TRY(read_u32(r, "shape width", &n->w));
    if (is_input) {
        if (n->rank != 3)
            return reader_fail(r, "a graph input has rank %" PRIu32 " instead of 3", n->rank);
        if (n->c < 1 || n->h < 1 || n->w < 1 || n->c > MAX_EXTENT || n->h > MAX_EXTENT ||
            n->w > MAX_EXTENT ||
            (uint64_t)n->c * n->h * n->w > MAX_IMAGE_ELEMENTS)
            return reader_fail(r, "graph input of shape %" PRIu32 "x%" PRIu32 "x%" PRIu32
                                  " is empty or larger than %u elements per image",
                               n->c, n->h, n->w, MAX_IMAGE_ELEMENTS);
    }
    return CLNET_STATUS_OK;
}

static clnet_status parse_model(const char *path, const uint8_t *data, size_t size,
                                parsed_model *m) {
    reader r = {.path = path, .data = data, .end = size - TRAILER_BYTES, .pos = HEADER_BYTES};

    CLNET_TRY(read_count(&r, "layer count", MIN_LAYER_BYTES, MAX_RECORDS, &m->n_layers));
    m->layers = calloc(m->n_layers ? m->n_layers : 1, sizeof *m->layers);
    if (!m->layers)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "%s: out of host memory for %" PRIu32
                                                      " layers", path, m->n_layers);
    for (uint32_t i = 0; i < m->n_layers; i++)
        CLNET_TRY(read_layer(&r, i, &m->layers[i]));

    r.where[0] = '\0';
    CLNET_TRY(read_count(&r, "node count", MIN_NODE_BYTES, MAX_RECORDS, &m->n_nodes));
    m->nodes = calloc(m->n_nodes ? m->n_nodes : 1, sizeof *m->nodes);
    if (!m->nodes)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "%s: out of host memory for %" PRIu32
                                                      " nodes", path, m->n_nodes);
    for (uint32_t i = 0; i < m->n_nodes; i++)
        CLNET_TRY(read_node(&r, m, i, &m->nodes[i]));

    r.where[0] = '\0';
    CLNET_TRY(read_count(&r, "output count", 4, MAX_RECORDS, &m->n_outputs));
    m->outputs = r.data + r.pos;
    for (uint32_t i = 0; i < m->n_outputs; i++) {
        uint32_t id = get_u32(m->outputs + 4 * i);
        if (id >= m->n_nodes)
            return reader_fail(&r, "output %" PRIu32 " is tensor %" PRIu32
                                   ", but the file defines only %" PRIu32 " tensors",
                               i, id, m->n_nodes);
    }
    r.pos += (size_t)m->n_outputs * 4;

    if (r.pos != r.end)
        return reader_fail(&r, "%zu unexpected bytes after the output list", r.end - r.pos);
    return CLNET_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Loading, step 3: rebuild the graph through the public API                */

/* Turns a failure of the graph API into a format error about the file,
 * keeping the API's own sentence. Running out of memory, and a valid request
 * clnet does not implement, stay what they are. */
static clnet_status blame_file(clnet_status s, const char *path, const char *where) {
    clnet_fail_context(s, "%s: %s: ", path, where);
    if (s == CLNET_STATUS_OUT_OF_MEMORY || s == CLNET_STATUS_UNSUPPORTED)
        return s;
    return CLNET_STATUS_FORMAT_ERROR;
}

static uint64_t mul_saturated(uint64_t a, uint64_t b) {
    if (a != 0 && b > UINT64_MAX / a)
        return UINT64_MAX;
    return a * b;
}

static clnet_status create_layer(clnet_graph *g, const parsed_layer *l, clnet_layer **out) {
    char name_buf[MAX_STRING_BYTES + 1];
    span_copy(l->name, name_buf);
    const char *name = l->name.length ? name_buf : NULL;
    switch (l->op) {
    case CLNET_OP_CONV2D: return clnet_layer_conv2d(g, name, &l->u.conv, out);
    case CLNET_OP_BATCHNORM: return clnet_layer_batchnorm(g, name, l->u.epsilon, out);
    case CLNET_OP_ACTIVATION: return clnet_layer_activation(g, name, l->u.activation, out);
    case CLNET_OP_ADD: return clnet_layer_add(g, name, out);
    case CLNET_OP_CONCAT: return clnet_layer_concat(g, name, out);
    case CLNET_OP_AVGPOOL: return clnet_layer_avgpool(g, name, &l->u.pool, out);
    case CLNET_OP_MAXPOOL: return clnet_layer_maxpool(g, name, &l->u.pool, out);
    case CLNET_OP_GLOBAL_AVGPOOL: return clnet_layer_global_avgpool(g, name, out);
    case CLNET_OP_FLATTEN: return clnet_layer_flatten(g, name, out);
    case CLNET_OP_DENSE: return clnet_layer_dense(g, name, &l->u.dense, out);
    case CLNET_OP_SOFTMAX: return clnet_layer_softmax(g, name, out);
    case CLNET_OP_DROPOUT: return clnet_layer_dropout(g, name, l->u.rate, out);
    case CLNET_OP_PAD: return clnet_layer_pad(g, name, &l->u.pad, out);
    case CLNET_OP_SLICE: return clnet_layer_slice(g, name, &l->u.slice, out);
    case CLNET_OP_MULTIPLY: return clnet_layer_multiply(g, name, out);
    case CLNET_OP_SUBTRACT: return clnet_layer_subtract(g, name, out);
    case CLNET_OP_CHANNEL_AFFINE: return clnet_layer_channel_affine(g, name, out);
    case CLNET_OP_CLIP: return clnet_layer_clip(g, name, l->u.clip.lo, l->u.clip.hi, out);
    default:
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "op %s cannot be a layer",
                          clnet_op_name(l->op));
    }
}

/* A layer allocates its weights at its first call. Before that call, the
 * weights the layer is known to need at least (from clnet.h's layouts) are
 * compared with what the file holds for it, so that a small file can never
 * make the graph allocate huge weight arrays. The exact check per weight
 * follows once the graph is built. */
static clnet_status check_weight_budget(const char *path, const char *where,
                                        const parsed_layer *l, clnet_shape in) {
    uint64_t need = 0;
    switch (l->op) {
    case CLNET_OP_CONV2D:
        need = mul_saturated(mul_saturated((uint64_t)l->u.conv.filters, (uint64_t)in.c),
                             mul_saturated((uint64_t)l->u.conv.kernel_h,
                                           (uint64_t)l->u.conv.kernel_w));
        break;
    case CLNET_OP_DENSE:
        need = mul_saturated((uint64_t)l->u.dense.units, (uint64_t)clnet_shape_size(in));
        break;
    case CLNET_OP_BATCHNORM:
        need = mul_saturated(4, (uint64_t)in.c);
        break;
    case CLNET_OP_CHANNEL_AFFINE:
        need = mul_saturated(2, (uint64_t)in.c);
        break;
    default:
        return CLNET_STATUS_OK;
    }
    if (need > l->weight_values)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "%s: %s: called on a %dx%dx%d tensor, it needs at least %" PRIu64
                          " weight values, but the file holds %" PRIu64,
                          path, where, in.c, in.h, in.w, need, l->weight_values);
    return CLNET_STATUS_OK;
}

static clnet_status build_node(const char *path, const parsed_model *m, uint32_t index,
                               clnet_graph *g, clnet_layer **layers, unsigned char *called,
                               clnet_tensor *tensors) {
    const parsed_node *n = &m->nodes[index];
    char where[256];
    if (n->layer == NODE_IS_INPUT) {
        char name_buf[MAX_STRING_BYTES + 1];
        span_copy(n->name, name_buf);
        snprintf(where, sizeof where, "node %" PRIu32 " (graph input)", index);
        clnet_status s = clnet_graph_input(g, n->name.length ? name_buf : NULL, (int)n->c,
                                           (int)n->h, (int)n->w, &tensors[index]);
        if (s != CLNET_STATUS_OK)
            return blame_file(s, path, where);
    } else {
        const parsed_layer *l = &m->layers[n->layer];
        char layer_desc[192];
        describe_layer(layer_desc, sizeof layer_desc, n->layer, l);
        snprintf(where, sizeof where, "node %" PRIu32 ", a call of %s", index, layer_desc);

        clnet_tensor *ins = malloc(n->n_inputs * sizeof *ins);
        if (!ins)
            return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "%s: %s: out of host memory", path,
                              where);
        for (uint32_t i = 0; i < n->n_inputs; i++)
            ins[i] = tensors[get_u32(n->inputs + 4 * i)];

        clnet_status s = CLNET_STATUS_OK;
        if (!called[n->layer]) {
            clnet_shape in;
            s = clnet_tensor_shape(g, ins[0], &in);
            if (s == CLNET_STATUS_OK)
                s = check_weight_budget(path, where, l, in);
            else
                s = blame_file(s, path, where);
        }
        if (s == CLNET_STATUS_OK) {
            s = clnet_layer_call(layers[n->layer], ins, (int)n->n_inputs, &tensors[index]);
            if (s != CLNET_STATUS_OK)
                s = blame_file(s, path, where);
        }
        free(ins);
        CLNET_TRY(s);
        called[n->layer] = 1;
    }

    /* The shape the writer saw must be the one inferred now. */
    clnet_shape shape;
    clnet_status s = clnet_tensor_shape(g, tensors[index], &shape);
    if (s != CLNET_STATUS_OK)
        return blame_file(s, path, where);
    if ((uint32_t)shape.rank != n->rank || (uint32_t)shape.c != n->c ||
        (uint32_t)shape.h != n->h || (uint32_t)shape.w != n->w)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "%s: %s: the file records output shape rank %" PRIu32 " %" PRIu32
                          "x%" PRIu32 "x%" PRIu32 ", but the graph infers rank %d %dx%dx%d",
                          path, where, n->rank, n->c, n->h, n->w, shape.rank, shape.c, shape.h,
                          shape.w);
    return CLNET_STATUS_OK;
}

/* Every weight of the rebuilt layer must come from the file exactly once,
 * with its dimensions. */
static clnet_status load_layer_weights(const char *path, uint32_t index, const parsed_layer *l,
                                       clnet_layer *layer) {
    char where[192];
    describe_layer(where, sizeof where, index, l);
    int have = clnet_layer_weight_count(layer);
    if (have != l->n_weights)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "%s: %s: the file holds %d weights, but the layer has %d%s", path,
                          where, l->n_weights, have,
                          have == 0 ? " (it is never called)" : "");

    int used[CLNET_MAX_LAYER_WEIGHTS] = {0};
    for (int k = 0; k < l->n_weights; k++) {
        const parsed_weight *pw = &l->weights[k];
        char name[MAX_STRING_BYTES + 1];
        span_copy(pw->name, name);

        clnet_weight_info info = {0};
        int found = -1;
        for (int j = 0; j < have && found < 0; j++) {
            clnet_status s = clnet_layer_weight(layer, j, &info);
            if (s != CLNET_STATUS_OK)
                return blame_file(s, path, where);
            if (strcmp(info.name, name) == 0)
                found = j;
        }
        if (found < 0)
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "%s: %s: the layer has no weight '%s'",
                              path, where, name);
        if (used[found])
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "%s: %s: weight '%s' appears twice",
                              path, where, name);
        used[found] = 1;

        int same_dims = info.rank == pw->rank;
        for (int d = 0; same_dims && d < pw->rank; d++)
            same_dims = info.dims[d] == pw->dims[d];
        if (!same_dims || info.count != pw->count) {
            char file_dims[64] = "", layer_dims[64] = "";
            for (int d = 0; d < pw->rank; d++)
                snprintf(file_dims + strlen(file_dims), sizeof file_dims - strlen(file_dims),
                         "%s%d", d ? "x" : "", pw->dims[d]);
            for (int d = 0; d < info.rank && d < CLNET_MAX_WEIGHT_RANK; d++)
                snprintf(layer_dims + strlen(layer_dims), sizeof layer_dims - strlen(layer_dims),
                         "%s%d", d ? "x" : "", info.dims[d]);
            return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                              "%s: %s: weight '%s' has the wrong size: the file holds %s (%zu "
                              "values), the layer expects %s (%zu values)",
                              path, where, name, file_dims, pw->count, layer_dims, info.count);
        }

        float *values = malloc((pw->count ? pw->count : 1) * sizeof *values);
        if (!values)
            return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                              "%s: %s: out of host memory for weight '%s' (%zu values)", path,
                              where, name, pw->count);
        for (size_t i = 0; i < pw->count; i++)
            values[i] = float_of_bits(get_u32(pw->data + 4 * i));
        clnet_status s = clnet_layer_set_weight(layer, name, values, pw->count);
        free(values);
        if (s != CLNET_STATUS_OK)
            return blame_file(s, path, where);
    }
    return CLNET_STATUS_OK;
}

static clnet_status build_graph(const char *path, const parsed_model *m, clnet_graph *g) {
    clnet_status s = CLNET_STATUS_OK;
    clnet_layer **layers = calloc(m->n_layers ? m->n_layers : 1, sizeof *layers);
    unsigned char *called = calloc(m->n_layers ? m->n_layers : 1, 1);
    clnet_tensor *tensors = calloc(m->n_nodes ? m->n_nodes : 1, sizeof *tensors);
    clnet_tensor *outputs = calloc(m->n_outputs ? m->n_outputs : 1, sizeof *outputs);
    if (!layers || !called || !tensors || !outputs) {
        s = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "%s: out of host memory rebuilding the graph",
                       path);
        goto done;
    }

    for (uint32_t i = 0; i < m->n_layers && s == CLNET_STATUS_OK; i++) {
        s = create_layer(g, &m->layers[i], &layers[i]);
        if (s != CLNET_STATUS_OK) {
            char where[192];
            describe_layer(where, sizeof where, i, &m->layers[i]);
            s = blame_file(s, path, where);
        }
    }
    for (uint32_t i = 0; i < m->n_nodes && s == CLNET_STATUS_OK; i++)
        s = build_node(path, m, i, g, layers, called, tensors);

    if (s == CLNET_STATUS_OK && m->n_outputs > 0) {
        for (uint32_t i = 0; i < m->n_outputs; i++)
            outputs[i] = tensors[get_u32(m->outputs + 4 * i)];
        s = clnet_graph_set_outputs(g, outputs, (int)m->n_outputs);
        if (s != CLNET_STATUS_OK)
            s = blame_file(s, path, "output list");
    }
    for (uint32_t i = 0; i < m->n_layers && s == CLNET_STATUS_OK; i++)
        s = load_layer_weights(path, i, &m->layers[i], layers[i]);

done:
    free(layers);
    free(called);
    free(tensors);
    free(outputs);
    return s;
}

clnet_status clnet_graph_load(const char *path, clnet_graph **out) {
    if (out)
        *out = NULL;
    if (!path || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_graph_load: %s is NULL",
                          !path ? "the path" : "the output pointer");

    uint8_t *data = NULL;
    size_t size = 0;
    CLNET_TRY(read_whole_file(path, &data, &size));

    parsed_model m = {0};
    clnet_graph *g = NULL;
    clnet_status s = check_envelope(path, data, size);
    if (s == CLNET_STATUS_OK)
        s = parse_model(path, data, size, &m);
    if (s == CLNET_STATUS_OK) {
        s = clnet_graph_create(&g);
        if (s == CLNET_STATUS_OK)
            s = build_graph(path, &m, g);
        else
            clnet_fail_context(s, "%s: ", path);
    }
    parsed_model_free(&m);
    free(data);
    if (s != CLNET_STATUS_OK) {
        clnet_graph_destroy(g);
        return s;
    }
    *out = g;
    return CLNET_STATUS_OK;
}
