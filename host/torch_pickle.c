/* A pickle virtual machine for the opcodes torch.save uses. Values live in an arena freed as a
 * whole, so shared and cyclic values need no bookkeeping; the only callables are an allow-list
 * of torch and collections names, which are interpreted here, never executed. */
#include "torch_pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds that no state dict comes near but that keep a hostile file's memory in check. Nothing
 * here recurses: the machine is a loop, and the value tree is only walked by callers. */
#define MAX_STACK       (1u << 20) /* values on the stack */
#define MAX_MARKS       (1u << 16) /* nested MARKs */
#define MAX_MEMO        (1u << 20) /* memo slots (indices 0 .. MAX_MEMO - 1) */
#define MAX_GLOBAL_NAME 256        /* bytes of "module.name" */

struct clnet_pickle {
    char *source;
    clnet_pickle_value **values; /* every value made: the arena */
    size_t n_values, cap_values;
    const clnet_pickle_value **storages;
    size_t n_storages, cap_storages;
};

/* ------------------------------------------------------------------------ */
/* Allow-list                                                                */

typedef enum global_id {
    GLOBAL_ORDERED_DICT,
    GLOBAL_REBUILD_TENSOR,
    GLOBAL_REBUILD_TENSOR_V2,
    GLOBAL_REBUILD_PARAMETER,
    GLOBAL_STORAGE
} global_id;

static const struct {
    const char *name;
    global_id id;
    clnet_torch_dtype dtype;
} allowed_globals[] = {
    {"collections.OrderedDict", GLOBAL_ORDERED_DICT, CLNET_TORCH_FLOAT32},
    {"torch._utils._rebuild_tensor", GLOBAL_REBUILD_TENSOR, CLNET_TORCH_FLOAT32},
    {"torch._utils._rebuild_tensor_v2", GLOBAL_REBUILD_TENSOR_V2, CLNET_TORCH_FLOAT32},
    {"torch._utils._rebuild_parameter", GLOBAL_REBUILD_PARAMETER, CLNET_TORCH_FLOAT32},
    {"torch.FloatStorage", GLOBAL_STORAGE, CLNET_TORCH_FLOAT32},
    {"torch.DoubleStorage", GLOBAL_STORAGE, CLNET_TORCH_FLOAT64},
    {"torch.HalfStorage", GLOBAL_STORAGE, CLNET_TORCH_FLOAT16},
    {"torch.BFloat16Storage", GLOBAL_STORAGE, CLNET_TORCH_BFLOAT16},
    {"torch.LongStorage", GLOBAL_STORAGE, CLNET_TORCH_INT64},
    {"torch.IntStorage", GLOBAL_STORAGE, CLNET_TORCH_INT32},
    {"torch.ShortStorage", GLOBAL_STORAGE, CLNET_TORCH_INT16},
    {"torch.CharStorage", GLOBAL_STORAGE, CLNET_TORCH_INT8},
    {"torch.ByteStorage", GLOBAL_STORAGE, CLNET_TORCH_UINT8},
    {"torch.BoolStorage", GLOBAL_STORAGE, CLNET_TORCH_BOOL},
};

static const struct {
    const char *name;
    size_t size;
} dtypes[CLNET_TORCH_DTYPE_COUNT] = {
    [CLNET_TORCH_FLOAT32] = {"float32", 4}, [CLNET_TORCH_FLOAT64] = {"float64", 8},
    [CLNET_TORCH_FLOAT16] = {"float16", 2}, [CLNET_TORCH_BFLOAT16] = {"bfloat16", 2},
    [CLNET_TORCH_INT64] = {"int64", 8},     [CLNET_TORCH_INT32] = {"int32", 4},
    [CLNET_TORCH_INT16] = {"int16", 2},     [CLNET_TORCH_INT8] = {"int8", 1},
    [CLNET_TORCH_UINT8] = {"uint8", 1},     [CLNET_TORCH_BOOL] = {"bool", 1},
};

const char *clnet_torch_dtype_name(clnet_torch_dtype dtype) {
    return (unsigned)dtype < CLNET_TORCH_DTYPE_COUNT ? dtypes[dtype].name : "unknown";
}

size_t clnet_torch_dtype_size(clnet_torch_dtype dtype) {
    return (unsigned)dtype < CLNET_TORCH_DTYPE_COUNT ? dtypes[dtype].size : 0;
}

static const char *kind_name(clnet_pickle_kind kind) {
    static const char *const names[] = {"None", "bool", "int",    "float",   "string", "tuple",
                                        "list", "dict", "global", "storage", "tensor"};
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "unknown";
}

/* ------------------------------------------------------------------------ */
/* Arena                                                                     */

clnet_status clnet_pickle_create(const char *source, clnet_pickle **out) {
    if (!out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_pickle_create: NULL output");
    *out = NULL;
    clnet_pickle *p = calloc(1, sizeof *p);
    const char *name = source ? source : "pickle";
    if (p)
        p->source = malloc(strlen(name) + 1);
    if (!p || !p->source) {
        free(p);
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "reading '%s': out of memory", name);
    }
    strcpy(p->source, name);
    *out = p;
    return CLNET_STATUS_OK;
}

void clnet_pickle_destroy(clnet_pickle *p) {
    if (!p)
        return;
    for (size_t i = 0; i < p->n_values; i++) {
        free(p->values[i]->text);
        free(p->values[i]->items);
        free(p->values[i]);
    }
    free(p->values);
    free(p->storages);
    free(p->source);
    free(p);
}

size_t clnet_pickle_storage_count(const clnet_pickle *p) {
    return p ? p->n_storages : 0;
}

const clnet_pickle_value *clnet_pickle_storage_at(const clnet_pickle *p, size_t index) {
    return p && index < p->n_storages ? p->storages[index] : NULL;
}

const clnet_pickle_value *clnet_pickle_dict_get(const clnet_pickle_value *dict, const char *key) {
    if (!dict || dict->kind != CLNET_PICKLE_DICT || !key)
        return NULL;
    size_t n = strlen(key);
    const clnet_pickle_value *found = NULL;
    /* The last pair wins, as a later SETITEM overwrites an earlier one in Python. */
    for (size_t i = 0; i < dict->count; i++) {
        const clnet_pickle_value *k = dict->items[2 * i];
        if (k->kind == CLNET_PICKLE_STRING && k->len == n && memcmp(k->text, key, n) == 0)
            found = dict->items[2 * i + 1];
    }
    return found;
}

/* Returns array (possibly moved) with room for at least need elements of elem_size bytes, or
 * NULL if that fails, in which case array is unchanged. */
static void *grow(void *array, size_t *cap, size_t need, size_t elem_size) {
    if (need <= *cap)
        return array;
    size_t cap2 = *cap ? *cap : 8;
    while (cap2 < need) {
        if (cap2 > ((size_t)-1 / 2) / elem_size)
            return NULL;
        cap2 *= 2;
    }
    void *grown = realloc(array, cap2 * elem_size);
    if (grown)
        *cap = cap2;
    return grown;
}

/* ------------------------------------------------------------------------ */
/* The machine                                                               */

typedef struct vm {
    clnet_pickle *p;
    const uint8_t *data;
    size_t size, pos;
    size_t op_pos; /* offset of the opcode being run, for messages */
    uint8_t op;
    clnet_pickle_value **stack;
    size_t depth, cap_stack;
    size_t *marks; /* stack depths saved by MARK */
    size_t n_marks, cap_marks;
    clnet_pickle_value **memo;
    size_t memo_len, cap_memo; /* memo_len: slots in use (allocated prefix) */
    size_t memo_entries;       /* slots holding a value: MEMOIZE's next index */
} vm;

static clnet_status vm_fail(vm *m, clnet_status status, const char *fmt, ...) CLNET_PRINTF(3, 4);

static clnet_status vm_fail(vm *m, clnet_status status, const char *fmt, ...) {
    char message[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    return clnet_fail(status, "reading '%s': pickle opcode 0x%02x at byte %zu: %s", m->p->source,
                      m->op, m->op_pos, message);
}

static clnet_status vm_oom(vm *m) {
    return vm_fail(m, CLNET_STATUS_OUT_OF_MEMORY, "out of memory");
}

static clnet_status new_value(vm *m, clnet_pickle_kind kind, clnet_pickle_value **out) {
    clnet_pickle *p = m->p;
    void *grown = grow(p->values, &p->cap_values, p->n_values + 1, sizeof *p->values);
    if (!grown)
        return vm_oom(m);
    p->values = grown;
    clnet_pickle_value *v = calloc(1, sizeof *v);
    if (!v)
        return vm_oom(m);
    v->kind = kind;
    p->values[p->n_values++] = v;
    *out = v;
    return CLNET_STATUS_OK;
}

static clnet_status new_text(vm *m, clnet_pickle_kind kind, const void *bytes, size_t len,
                             clnet_pickle_value **out) {
    CLNET_TRY(new_value(m, kind, out));
    if (len == (size_t)-1)
        return vm_oom(m);
    (*out)->text = malloc(len + 1);
    if (!(*out)->text)
        return vm_oom(m);
    if (len)
        memcpy((*out)->text, bytes, len);
    (*out)->text[len] = '\0';
    (*out)->len = len;
    return CLNET_STATUS_OK;
}

static clnet_status append_item(vm *m, clnet_pickle_value *container, clnet_pickle_value *item) {
    void *grown = grow(container->items, &container->capacity, container->count + 1,
                       sizeof *container->items);
    if (!grown)
        return vm_oom(m);
    container->items = grown;
    container->items[container->count++] = item;
    return CLNET_STATUS_OK;
}

/* Adds a key-value pair to a dict: items[2 * count] and items[2 * count + 1]. */
static clnet_status dict_set(vm *m, clnet_pickle_value *dict, clnet_pickle_value *key,
                             clnet_pickle_value *value) {
    void *grown = grow(dict->items, &dict->capacity, 2 * dict->count + 2, sizeof *dict->items);
    if (!grown)
        return vm_oom(m);
    dict->items = grown;
    dict->items[2 * dict->count] = key;
    dict->items[2 * dict->count + 1] = value;
    dict->count++;
    return CLNET_STATUS_OK;
}

/* Bytes of the current opcode's argument; fails if the pickle ends first. */
static clnet_status take(vm *m, size_t n, const uint8_t **out) {
    if (m->size - m->pos < n)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR,
                       "the pickle is truncated: %zu argument bytes needed, %zu left", n,
                       m->size - m->pos);
    *out = m->data + m->pos;
    m->pos += n;
    return CLNET_STATUS_OK;
}

static uint64_t read_le(const uint8_t *b, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

static clnet_status take_le(vm *m, int n, uint64_t *out) {
    const uint8_t *b = NULL;
    CLNET_TRY(take(m, (size_t)n, &b));
    *out = read_le(b, n);
    return CLNET_STATUS_OK;
}

static clnet_status push(vm *m, clnet_pickle_value *v) {
    if (m->depth >= MAX_STACK)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "the stack exceeds %u values", MAX_STACK);
    void *grown = grow(m->stack, &m->cap_stack, m->depth + 1, sizeof *m->stack);
    if (!grown)
        return vm_oom(m);
    m->stack = grown;
    m->stack[m->depth++] = v;
    return CLNET_STATUS_OK;
}

/* The stack depth below which the current MARK forbids popping. */
static size_t floor_depth(const vm *m) {
    return m->n_marks ? m->marks[m->n_marks - 1] : 0;
}

static clnet_status pop(vm *m, clnet_pickle_value **out) {
    if (m->depth <= floor_depth(m))
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "stack underflow");
    *out = m->stack[--m->depth];
    return CLNET_STATUS_OK;
}

static clnet_status top(vm *m, clnet_pickle_value **out) {
    if (m->depth <= floor_depth(m))
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "stack underflow");
    *out = m->stack[m->depth - 1];
    return CLNET_STATUS_OK;
}

static clnet_status push_mark(vm *m) {
    if (m->n_marks >= MAX_MARKS)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "more than %u nested MARKs", MAX_MARKS);
    void *grown = grow(m->marks, &m->cap_marks, m->n_marks + 1, sizeof *m->marks);
    if (!grown)
        return vm_oom(m);
    m->marks = grown;
    m->marks[m->n_marks++] = m->depth;
    return CLNET_STATUS_OK;
}

/* Ends the innermost MARK: its values are stack[*first .. m->depth). */
static clnet_status pop_mark(vm *m, size_t *first) {
    if (m->n_marks == 0)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "no MARK to match");
    *first = m->marks[--m->n_marks];
    return CLNET_STATUS_OK;
}

static clnet_status memo_put(vm *m, uint64_t index) {
    if (index >= MAX_MEMO)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "memo index %llu exceeds %u",
                       (unsigned long long)index, MAX_MEMO);
    clnet_pickle_value *v = NULL;
    CLNET_TRY(top(m, &v));
    if (index >= m->memo_len) {
        void *grown = grow(m->memo, &m->cap_memo, (size_t)index + 1, sizeof *m->memo);
        if (!grown)
            return vm_oom(m);
        m->memo = grown;
        memset(m->memo + m->memo_len, 0, ((size_t)index + 1 - m->memo_len) * sizeof *m->memo);
        m->memo_len = (size_t)index + 1;
    }
    if (!m->memo[index])
        m->memo_entries++;
    m->memo[index] = v;
    return CLNET_STATUS_OK;
}

static clnet_status memo_get(vm *m, uint64_t index) {
    if (index >= m->memo_len || !m->memo[index])
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "memo index %llu was never set",
                       (unsigned long long)index);
    return push(m, m->memo[index]);
}

/* A tuple or list of the values above the innermost MARK. */
static clnet_status collect_mark(vm *m, clnet_pickle_kind kind) {
    size_t first = 0;
    CLNET_TRY(pop_mark(m, &first));
    clnet_pickle_value *v = NULL;
    CLNET_TRY(new_value(m, kind, &v));
    size_t n = m->depth - first;
    if (n) {
        v->items = malloc(n * sizeof *v->items);
        if (!v->items)
            return vm_oom(m);
        memcpy(v->items, m->stack + first, n * sizeof *v->items);
        v->count = v->capacity = n;
    }
    m->depth = first;
    return push(m, v);
}

static clnet_status tuple_of(vm *m, size_t n) {
    clnet_pickle_value *v = NULL;
    CLNET_TRY(new_value(m, CLNET_PICKLE_TUPLE, &v));
    if (m->depth - floor_depth(m) < n)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "stack underflow");
    for (size_t i = 0; i < n; i++)
        CLNET_TRY(append_item(m, v, m->stack[m->depth - n + i]));
    m->depth -= n;
    return push(m, v);
}

/* Adds the pairs stack[first ..] to dict (SETITEMS, DICT). */
static clnet_status set_items(vm *m, clnet_pickle_value *dict, size_t first) {
    if (dict->kind != CLNET_PICKLE_DICT)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "setting items of a %s, not a dict",
                       kind_name(dict->kind));
    if ((m->depth - first) % 2 != 0)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "an odd number of values for dict items");
    for (size_t i = first; i < m->depth; i += 2)
        CLNET_TRY(dict_set(m, dict, m->stack[i], m->stack[i + 1]));
    m->depth = first;
    return CLNET_STATUS_OK;
}

static clnet_status make_global(vm *m, const char *module, size_t module_len, const char *name,
                                size_t name_len) {
    char full[MAX_GLOBAL_NAME];
    if (module_len + name_len + 2 > sizeof full)
        return vm_fail(m, CLNET_STATUS_UNSUPPORTED, "a global name longer than %d bytes",
                       MAX_GLOBAL_NAME);
    memcpy(full, module, module_len);
    full[module_len] = '.';
    memcpy(full + module_len + 1, name, name_len);
    full[module_len + 1 + name_len] = '\0';
    /* Names holding a NUL would pass strcmp on a prefix; they are never legitimate. */
    if (strlen(full) != module_len + 1 + name_len)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "a global name holds a NUL byte");

    for (size_t i = 0; i < sizeof allowed_globals / sizeof allowed_globals[0]; i++) {
        if (strcmp(full, allowed_globals[i].name) != 0)
            continue;
        clnet_pickle_value *v = NULL;
        CLNET_TRY(new_text(m, CLNET_PICKLE_GLOBAL, full, strlen(full), &v));
        v->integer = allowed_globals[i].id;
        v->dtype = allowed_globals[i].dtype;
        return push(m, v);
    }
    /* Limitation: only plain state dicts are read; a whole pickled nn.Module names its own
     * classes and would need Python to rebuild. */
    return vm_fail(m, CLNET_STATUS_UNSUPPORTED,
                   "the pickle names '%s', which is not a tensor, storage or dict type; only "
                   "state dicts of tensors are read (save model.state_dict(), not the model), "
                   "and nothing a file names is ever called",
                   full);
}

/* GLOBAL: "module\nname\n". */
static clnet_status read_line(vm *m, const char **out, size_t *len) {
    const uint8_t *start = m->data + m->pos;
    size_t left = m->size - m->pos;
    size_t limit = left < MAX_GLOBAL_NAME ? left : MAX_GLOBAL_NAME;
    const uint8_t *nl = memchr(start, '\n', limit);
    if (!nl)
        return vm_fail(
            m, left < MAX_GLOBAL_NAME ? CLNET_STATUS_FORMAT_ERROR : CLNET_STATUS_UNSUPPORTED,
            "no end of line within %zu bytes of a GLOBAL name", limit);
    *out = (const char *)start;
    *len = (size_t)(nl - start);
    m->pos += *len + 1;
    return CLNET_STATUS_OK;
}

static int is_int(const clnet_pickle_value *v) {
    return v->kind == CLNET_PICKLE_INT || v->kind == CLNET_PICKLE_BOOL;
}

/* BINPERSID: ('storage', storage class, key, location, numel[, None]). */
static clnet_status persistent_load(vm *m) {
    clnet_pickle_value *pid = NULL;
    CLNET_TRY(pop(m, &pid));
    if (pid->kind != CLNET_PICKLE_TUPLE || pid->count < 5 || pid->count > 6 ||
        pid->items[0]->kind != CLNET_PICKLE_STRING || strcmp(pid->items[0]->text, "storage") != 0)
        return vm_fail(m, CLNET_STATUS_UNSUPPORTED,
                       "a persistent id that is not ('storage', type, key, location, size)");
    const clnet_pickle_value *type = pid->items[1], *key = pid->items[2], *numel = pid->items[4];
    if (type->kind != CLNET_PICKLE_GLOBAL || type->integer != GLOBAL_STORAGE)
        return vm_fail(m, CLNET_STATUS_UNSUPPORTED,
                       "a persistent id whose type is a %s, not a torch storage class",
                       kind_name(type->kind));
    if (key->kind != CLNET_PICKLE_STRING || strlen(key->text) != key->len || key->len == 0)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "a storage key that is not a plain string");
    if (!is_int(numel) || numel->integer < 0)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR,
                       "storage '%s' has a size that is not a count of elements", key->text);
    /* Limitation: storage views (legacy files' view_metadata) are not read. */
    if (pid->count == 6 && pid->items[5]->kind != CLNET_PICKLE_NONE)
        return vm_fail(m, CLNET_STATUS_UNSUPPORTED, "storage '%s' is a view of another storage",
                       key->text);

    clnet_pickle_value *v = NULL;
    CLNET_TRY(new_text(m, CLNET_PICKLE_STORAGE, key->text, key->len, &v));
    v->dtype = type->dtype;
    v->numel = numel->integer;
    clnet_pickle *p = m->p;
    void *grown = grow(p->storages, &p->cap_storages, p->n_storages + 1, sizeof *p->storages);
    if (!grown)
        return vm_oom(m);
    p->storages = grown;
    p->storages[p->n_storages++] = v;
    return push(m, v);
}

/* torch._utils._rebuild_tensor(storage, offset, size, stride) and
 * _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]). */
static clnet_status rebuild_tensor(vm *m, const clnet_pickle_value *args, int v2) {
    if (v2 ? (args->count != 6 && args->count != 7) : args->count != 4)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "_rebuild_tensor%s called with %zu arguments",
                       v2 ? "_v2" : "", args->count);
    const clnet_pickle_value *storage = args->items[0], *offset = args->items[1];
    const clnet_pickle_value *size = args->items[2], *stride = args->items[3];
    if (storage->kind != CLNET_PICKLE_STORAGE)
        return vm_fail(m, CLNET_STATUS_UNSUPPORTED,
                       "a tensor built on a %s, not on a storage of the file",
                       kind_name(storage->kind));
    if (!is_int(offset) || offset->integer < 0)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR,
                       "a tensor on storage '%s' with an invalid offset", storage->text);
    if (size->kind != CLNET_PICKLE_TUPLE || stride->kind != CLNET_PICKLE_TUPLE ||
        size->count != stride->count)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR,
                       "a tensor on storage '%s' whose size and stride are not tuples of "
                       "equal length",
                       storage->text);
    if (size->count > CLNET_PICKLE_MAX_RANK)
        return vm_fail(m, CLNET_STATUS_UNSUPPORTED, "a tensor of %zu dimensions (at most %d)",
                       size->count, CLNET_PICKLE_MAX_RANK);

    clnet_pickle_value *t = NULL;
    CLNET_TRY(new_value(m, CLNET_PICKLE_TENSOR, &t));
    t->storage = storage;
    t->offset = offset->integer;
    t->dtype = storage->dtype;
    t->rank = (int)size->count;
    for (int i = 0; i < t->rank; i++) {
        const clnet_pickle_value *s = size->items[i], *st = stride->items[i];
        if (!is_int(s) || !is_int(st) || s->integer < 0 || st->integer < 0)
            return vm_fail(m, CLNET_STATUS_FORMAT_ERROR,
                           "a tensor on storage '%s' with a negative or non-integer size or stride",
                           storage->text);
        t->sizes[i] = s->integer;
        t->strides[i] = st->integer;
    }
    return push(m, t);
}

/* REDUCE and NEWOBJ: the callable is interpreted by name, never run. */
static clnet_status call_global(vm *m, const clnet_pickle_value *callable,
                                const clnet_pickle_value *args) {
    if (callable->kind != CLNET_PICKLE_GLOBAL)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "calling a %s", kind_name(callable->kind));
    if (args->kind != CLNET_PICKLE_TUPLE)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "calling '%s' with a %s of arguments",
                       callable->text, kind_name(args->kind));
    clnet_pickle_value *v = NULL;
    switch ((global_id)callable->integer) {
    case GLOBAL_ORDERED_DICT:
        /* Limitation: OrderedDict(iterable) is not read; torch.save fills it with SETITEMS. */
        if (args->count != 0)
            return vm_fail(m, CLNET_STATUS_UNSUPPORTED, "OrderedDict built from arguments");
        CLNET_TRY(new_value(m, CLNET_PICKLE_DICT, &v));
        return push(m, v);
    case GLOBAL_REBUILD_TENSOR:
    case GLOBAL_REBUILD_TENSOR_V2:
        return rebuild_tensor(m, args, callable->integer == GLOBAL_REBUILD_TENSOR_V2);
    case GLOBAL_REBUILD_PARAMETER:
        /* nn.Parameter(data, requires_grad, hooks): the data is all inference needs. */
        if (args->count != 3 || args->items[0]->kind != CLNET_PICKLE_TENSOR)
            return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "_rebuild_parameter without a tensor");
        return push(m, args->items[0]);
    case GLOBAL_STORAGE: break;
    }
    return vm_fail(m, CLNET_STATUS_UNSUPPORTED, "calling '%s' directly", callable->text);
}

static clnet_status build(vm *m) {
    clnet_pickle_value *state = NULL, *obj = NULL;
    CLNET_TRY(pop(m, &state));
    CLNET_TRY(top(m, &obj));
    /* An OrderedDict's attributes (a state dict's _metadata of module versions) are not
     * needed to read the tensors. */
    if (obj->kind == CLNET_PICKLE_DICT)
        return CLNET_STATUS_OK;
    return vm_fail(m, CLNET_STATUS_UNSUPPORTED, "setting the state of a %s", kind_name(obj->kind));
}

static clnet_status push_int(vm *m, clnet_pickle_kind kind, int64_t value) {
    clnet_pickle_value *v = NULL;
    CLNET_TRY(new_value(m, kind, &v));
    v->integer = value;
    return push(m, v);
}

/* LONG1 and LONG4: a little-endian two's complement integer of n bytes. */
static clnet_status push_long(vm *m, uint64_t n) {
    if (n > 8)
        return vm_fail(m, CLNET_STATUS_UNSUPPORTED, "an integer of %llu bytes (at most 8)",
                       (unsigned long long)n);
    const uint8_t *b = NULL;
    CLNET_TRY(take(m, (size_t)n, &b));
    uint64_t u = read_le(b, (int)n);
    if (n > 0 && n < 8 && (b[n - 1] & 0x80))
        u |= ~(uint64_t)0 << (8 * n);
    int64_t value;
    memcpy(&value, &u, sizeof value);
    return push_int(m, CLNET_PICKLE_INT, value);
}

static clnet_status push_text(vm *m, int len_bytes) {
    uint64_t len = 0;
    CLNET_TRY(take_le(m, len_bytes, &len));
    if (len > m->size - m->pos)
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR,
                       "a string of %llu bytes where %zu are left in the pickle",
                       (unsigned long long)len, m->size - m->pos);
    const uint8_t *b = NULL;
    CLNET_TRY(take(m, (size_t)len, &b));
    clnet_pickle_value *v = NULL;
    CLNET_TRY(new_text(m, CLNET_PICKLE_STRING, b, (size_t)len, &v));
    return push(m, v);
}

/* Runs one opcode; *stop is set at STOP. */
static clnet_status step(vm *m, int *stop) {
    const uint8_t *b = NULL;
    uint64_t u = 0;
    clnet_pickle_value *v = NULL, *w = NULL, *x = NULL;
    size_t first = 0;

    m->op_pos = m->pos;
    if (m->pos >= m->size) {
        m->op = 0;
        return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "the pickle ends before its STOP opcode");
    }
    m->op = m->data[m->pos++];
    switch (m->op) {
    case 0x80: /* PROTO */
        CLNET_TRY(take_le(m, 1, &u));
        if (u < 2 || u > 5)
            return vm_fail(m, CLNET_STATUS_UNSUPPORTED, "pickle protocol %llu (2 to 5 are read)",
                           (unsigned long long)u);
        return CLNET_STATUS_OK;
    case 0x95: /* FRAME: a length hint for buffering */ return take(m, 8, &b);
    case '.': /* STOP */ *stop = 1; return CLNET_STATUS_OK;
    case '(': /* MARK */ return push_mark(m);
    case '0': /* POP */ return pop(m, &v);
    case '1': /* POP_MARK */
        CLNET_TRY(pop_mark(m, &first));
        m->depth = first;
        return CLNET_STATUS_OK;
    case '2': /* DUP */ CLNET_TRY(top(m, &v)); return push(m, v);

    case 'N': return push_int(m, CLNET_PICKLE_NONE, 0);
    case 0x88: return push_int(m, CLNET_PICKLE_BOOL, 1); /* NEWTRUE */
    case 0x89: return push_int(m, CLNET_PICKLE_BOOL, 0); /* NEWFALSE */
    case 'J':                                            /* BININT: signed 32-bit */
        CLNET_TRY(take_le(m, 4, &u));
        return push_int(m, CLNET_PICKLE_INT, (int32_t)(uint32_t)u);
    case 'K': /* BININT1 */
        CLNET_TRY(take_le(m, 1, &u));
        return push_int(m, CLNET_PICKLE_INT, (int64_t)u);
    case 'M': /* BININT2 */
        CLNET_TRY(take_le(m, 2, &u));
        return push_int(m, CLNET_PICKLE_INT, (int64_t)u);
    case 0x8a: /* LONG1 */ CLNET_TRY(take_le(m, 1, &u)); return push_long(m, u);
    case 0x8b: /* LONG4 */ CLNET_TRY(take_le(m, 4, &u)); return push_long(m, u);
    case 'G': { /* BINFLOAT: big-endian IEEE double */
        CLNET_TRY(take(m, 8, &b));
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++)
            bits = (bits << 8) | b[i];
        CLNET_TRY(new_value(m, CLNET_PICKLE_FLOAT, &v));
        memcpy(&v->real, &bits, sizeof v->real);
        return push(m, v);
    }
    case 0x8c: /* SHORT_BINUNICODE */
    case 'U':  /* SHORT_BINSTRING */
    case 'C': /* SHORT_BINBYTES */ return push_text(m, 1);
    case 'X': /* BINUNICODE */
    case 'T': /* BINSTRING */
    case 'B': /* BINBYTES */ return push_text(m, 4);
    case 0x8d: /* BINUNICODE8 */
    case 0x8e: /* BINBYTES8 */ return push_text(m, 8);

    case ')': /* EMPTY_TUPLE */ return tuple_of(m, 0);
    case 0x85: return tuple_of(m, 1); /* TUPLE1 */
    case 0x86: return tuple_of(m, 2); /* TUPLE2 */
    case 0x87: return tuple_of(m, 3); /* TUPLE3 */
    case 't': /* TUPLE */ return collect_mark(m, CLNET_PICKLE_TUPLE);
    case ']': /* EMPTY_LIST */ CLNET_TRY(new_value(m, CLNET_PICKLE_LIST, &v)); return push(m, v);
    case 'l': /* LIST */ return collect_mark(m, CLNET_PICKLE_LIST);
    case 'a': /* APPEND */
        CLNET_TRY(pop(m, &v));
        CLNET_TRY(top(m, &w));
        if (w->kind != CLNET_PICKLE_LIST)
            return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "appending to a %s", kind_name(w->kind));
        return append_item(m, w, v);
    case 'e': /* APPENDS */
        CLNET_TRY(pop_mark(m, &first));
        if (first == floor_depth(m) || first == 0)
            return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "APPENDS without a list");
        w = m->stack[first - 1];
        if (w->kind != CLNET_PICKLE_LIST)
            return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "appending to a %s", kind_name(w->kind));
        for (size_t i = first; i < m->depth; i++)
            CLNET_TRY(append_item(m, w, m->stack[i]));
        m->depth = first;
        return CLNET_STATUS_OK;
    case '}': /* EMPTY_DICT */ CLNET_TRY(new_value(m, CLNET_PICKLE_DICT, &v)); return push(m, v);
    case 'd': /* DICT */
        CLNET_TRY(pop_mark(m, &first));
        CLNET_TRY(new_value(m, CLNET_PICKLE_DICT, &v));
        CLNET_TRY(set_items(m, v, first));
        return push(m, v);
    case 's': /* SETITEM */
        CLNET_TRY(pop(m, &v));
        CLNET_TRY(pop(m, &w));
        CLNET_TRY(top(m, &x));
        if (x->kind != CLNET_PICKLE_DICT)
            return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "setting an item of a %s",
                           kind_name(x->kind));
        return dict_set(m, x, w, v);
    case 'u': /* SETITEMS */
        CLNET_TRY(pop_mark(m, &first));
        if (first == floor_depth(m) || first == 0)
            return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "SETITEMS without a dict");
        return set_items(m, m->stack[first - 1], first);

    case 'c': { /* GLOBAL */
        const char *module = NULL, *name = NULL;
        size_t module_len = 0, name_len = 0;
        CLNET_TRY(read_line(m, &module, &module_len));
        CLNET_TRY(read_line(m, &name, &name_len));
        return make_global(m, module, module_len, name, name_len);
    }
    case 0x93: /* STACK_GLOBAL */
        CLNET_TRY(pop(m, &w));
        CLNET_TRY(pop(m, &v));
        if (v->kind != CLNET_PICKLE_STRING || w->kind != CLNET_PICKLE_STRING)
            return vm_fail(m, CLNET_STATUS_FORMAT_ERROR, "STACK_GLOBAL of non-strings");
        return make_global(m, v->text, v->len, w->text, w->len);
    case 'R':  /* REDUCE */
    case 0x81: /* NEWOBJ: cls.__new__(cls, *args), read like a call */
        CLNET_TRY(pop(m, &w));
        CLNET_TRY(pop(m, &v));
        if (m->op == 0x81 && !(v->kind == CLNET_PICKLE_GLOBAL && v->integer == GLOBAL_ORDERED_DICT))
            return vm_fail(m, CLNET_STATUS_UNSUPPORTED, "NEWOBJ of a %s other than OrderedDict",
                           kind_name(v->kind));
        return call_global(m, v, w);
    case 'b': /* BUILD */ return build(m);
    case 'Q': /* BINPERSID */ return persistent_load(m);

    case 'q': /* BINPUT */ CLNET_TRY(take_le(m, 1, &u)); return memo_put(m, u);
    case 'r': /* LONG_BINPUT */ CLNET_TRY(take_le(m, 4, &u)); return memo_put(m, u);
    case 0x94: /* MEMOIZE */ return memo_put(m, m->memo_entries);
    case 'h': /* BINGET */ CLNET_TRY(take_le(m, 1, &u)); return memo_get(m, u);
    case 'j': /* LONG_BINGET */ CLNET_TRY(take_le(m, 4, &u)); return memo_get(m, u);
    default: break;
    }
    return vm_fail(m, CLNET_STATUS_UNSUPPORTED,
                   "an opcode torch.save does not write for state dicts, or not a pickle");
}

clnet_status clnet_pickle_run(clnet_pickle *p, const uint8_t *data, size_t size, size_t *pos,
                              const clnet_pickle_value **root) {
    if (!p || !data || !pos || !root)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_pickle_run: NULL argument");
    *root = NULL;
    if (*pos > size)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "clnet_pickle_run: start %zu beyond the %zu bytes given", *pos, size);
    vm m = {0};
    m.p = p;
    m.data = data;
    m.size = size;
    m.pos = *pos;

    clnet_status status = CLNET_STATUS_OK;
    int stop = 0;
    while (status == CLNET_STATUS_OK && !stop)
        status = step(&m, &stop);
    if (status == CLNET_STATUS_OK) {
        clnet_pickle_value *result = NULL;
        if (m.n_marks != 0)
            status = vm_fail(&m, CLNET_STATUS_FORMAT_ERROR, "STOP inside a MARK");
        else if (m.depth != 1)
            status = vm_fail(&m, CLNET_STATUS_FORMAT_ERROR, "STOP with %zu values on the stack",
                             m.depth);
        else if ((status = pop(&m, &result)) == CLNET_STATUS_OK) {
            *root = result;
            *pos = m.pos;
        }
    }
    free(m.stack);
    free(m.marks);
    free(m.memo);
    return status;
}
