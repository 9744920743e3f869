/* `clnet classify`: the top classes of PNG or JPEG images, with
 * probabilities, from a model's logits. */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char HELP_CLASSIFY[] =
    "usage: clnet classify MODEL IMAGE... [OPTIONS]\n"
    "\n"
    "Decodes each PNG or JPEG image (grey images become RGB, alpha is dropped),\n"
    "runs the model and prints the most probable classes. Probabilities are the\n"
    "softmax of the logits (a final softmax of the model is removed first).\n"
    "\n"
    "  --top K            classes shown per image (default 5)\n"
    "  --labels FILE      class names, one per line (default: the CIFAR-10 names\n"
    "                     for a model with 10 classes, else \"class N\")\n"
    "  --arch NAME        architecture of a weights-only model file (see clnet --help)\n"
    "\n" CLI_INPUT_HELP "\n"
    "Images must have the model's input height and width: clnet does not resize.\n";

#define RUN_BATCH 32 /* images per run */

typedef struct classify_args {
    const char *arch, *labels;
    int top;
    cli_input_args in;
} classify_args;

/* Class names read from a labels file: one per line. */
typedef struct label_set {
    char *text;   /* the file, with line ends replaced by NULs */
    char **names; /* count pointers into text */
    int count;
} label_set;

static void labels_free(label_set *l) {
    free(l->text);
    free(l->names);
    memset(l, 0, sizeof *l);
}

/* Reads one name per line (a '\r' before '\n' is dropped; a last line
 * without '\n' counts); the count must equal the model's classes. */
static int labels_read(label_set *l, const char *path, int classes) {
    memset(l, 0, sizeof *l);
    FILE *f = fopen(path, "rb");
    long bytes = -1;
    if (!f)
        return cli_fail_msg("opening labels file '%s': %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) == 0)
        bytes = ftell(f);
    if (bytes < 0 || fseek(f, 0, SEEK_SET) != 0 || !(l->text = malloc((size_t)bytes + 1)) ||
        fread(l->text, 1, (size_t)bytes, f) != (size_t)bytes) {
        fclose(f);
        return cli_fail_msg("reading labels file '%s': %s", path,
                            errno ? strerror(errno) : "read failed");
    }
    fclose(f);
    l->text[bytes] = '\0';

    int lines = 0;
    for (long i = 0; i < bytes; i++)
        lines += l->text[i] == '\n';
    if (bytes > 0 && l->text[bytes - 1] != '\n')
        lines++;
    if (lines != classes)
        return cli_fail_msg("labels file '%s' has %d lines; the model has %d classes", path, lines,
                            classes);
    if (!(l->names = malloc((size_t)lines * sizeof *l->names)))
        return cli_fail_msg("reading labels file '%s': out of memory", path);
    char *p = l->text;
    for (int k = 0; k < lines; k++) {
        char *end = strchr(p, '\n');
        if (end)
            *end = '\0';
        size_t n = strlen(p);
        if (n > 0 && p[n - 1] == '\r')
            p[n - 1] = '\0';
        l->names[k] = p;
        p = end ? end + 1 : p + n;
    }
    l->count = lines;
    return RC_OK;
}

static const char *class_name(const label_set *l, int classes, int k, char *buf, size_t size) {
    if (l->count > 0)
        return l->names[k];
    if (classes == 10)
        return CLI_CIFAR10_NAMES[k];
    snprintf(buf, size, "class %d", k);
    return buf;
}

/* Softmax in double, which cannot overflow after subtracting the maximum. */
static void softmax(const float *logits, int n, double *prob) {
    double max = -INFINITY, sum = 0.0;
    for (int k = 0; k < n; k++)
        max = logits[k] > max ? logits[k] : max;
    for (int k = 0; k < n; k++)
        sum += prob[k] = exp((double)logits[k] - max);
    for (int k = 0; k < n; k++)
        prob[k] /= sum;
}

/* Indices of the k largest probabilities, largest first; ties keep the
 * lower class first. */
static void top_k(const double *prob, int n, int k, int *order) {
    for (int i = 0; i < k; i++) {
        int best = -1;
        for (int c = 0; c < n; c++) {
            int taken = 0;
            for (int t = 0; t < i && !taken; t++)
                taken = order[t] == c;
            if (!taken && (best < 0 || prob[c] > prob[best]))
                best = c;
        }
        order[i] = best;
    }
}

/* Decodes every image into pixels (n x 3 x height x width bytes), checking
 * its size against the model's input. */
static int decode_images(const classifier *c, const char *const *paths, int n, uint8_t *pixels) {
    size_t image = (size_t)3 * (size_t)c->height * (size_t)c->width;
    for (int i = 0; i < n; i++) {
        uint8_t *data = NULL;
        int h = 0, w = 0;
        if (clnet_image_read(paths[i], &data, &h, &w) != CLNET_STATUS_OK)
            return cli_fail("reading image '%s'", paths[i]);
        /* Limitation: images are not resized to the model's input. */
        if (h != c->height || w != c->width) {
            free(data);
            return cli_fail_msg("image '%s' is %dx%d (height x width) but the model takes "
                                "%dx%d images; clnet does not resize",
                                paths[i], h, w, c->height, c->width);
        }
        memcpy(pixels + (size_t)i * image, data, image);
        free(data);
    }
    return RC_OK;
}

static void print_image(json *j, const classifier *c, const label_set *labels, const char *path,
                        const float *logits, const double *prob, const int *order, int top) {
    char buf[32];
    if (!j) {
        printf("%s\n", path);
        for (int i = 0; i < top; i++) {
            int k = order[i];
            printf("  %-16s %9.5f%%   logit %.6g\n",
                   class_name(labels, c->classes, k, buf, sizeof buf), 100.0 * prob[k],
                   (double)logits[k]);
        }
        return;
    }
    json_open(j, NULL, '{');
    json_str(j, "file", path);
    json_open(j, "top", '[');
    for (int i = 0; i < top; i++) {
        int k = order[i];
        json_open(j, NULL, '{');
        json_u64(j, "class", (uint64_t)k);
        json_str(j, "name", class_name(labels, c->classes, k, buf, sizeof buf));
        json_num(j, "probability", prob[k]);
        json_num(j, "logit", logits[k]);
        json_close(j, '}');
    }
    json_close(j, ']');
    json_open(j, "logits", '[');
    for (int k = 0; k < c->classes; k++)
        json_num(j, NULL, logits[k]);
    json_close(j, ']');
    json_close(j, '}');
}

/* Runs the images in batches and prints each one's top classes. */
static int classify_all(classifier *c, const classify_args *a, const label_set *labels,
                        const char *const *paths, int n, const uint8_t *pixels, json *j) {
    int top = a->top < c->classes ? a->top : c->classes, rc = RC_FAIL;
    int batch = n < RUN_BATCH ? n : RUN_BATCH;
    size_t image = (size_t)3 * (size_t)c->height * (size_t)c->width;
    float *scratch = cli_alloc_floats((size_t)batch * image, "a batch of inputs");
    float *logits = cli_alloc_floats((size_t)batch * (size_t)c->classes, "a batch of logits");
    double *prob = malloc((size_t)c->classes * sizeof *prob);
    int *order = malloc((size_t)top * sizeof *order);
    if (!scratch || !logits || !prob || !order) {
        cli_fail_msg("allocating the classification buffers: out of memory");
        goto done;
    }
    for (int start = 0; start < n; start += batch) {
        int m = n - start < batch ? n - start : batch;
        if (classifier_run(c, pixels + (size_t)start * image, m, scratch, logits) != RC_OK)
            goto done;
        for (int i = 0; i < m; i++) {
            const float *l = logits + (size_t)i * (size_t)c->classes;
            softmax(l, c->classes, prob);
            top_k(prob, c->classes, top, order);
            print_image(j, c, labels, paths[start + i], l, prob, order, top);
        }
    }
    rc = RC_OK;
done:
    free(scratch);
    free(logits);
    free(prob);
    free(order);
    return rc;
}

int cmd_classify(int argc, char **argv, cli_opts *o) {
    classify_args a;
    memset(&a, 0, sizeof a);
    a.top = 5;
    opt_spec specs[3 + CLI_INPUT_SPECS] = {
        {"--arch", OPT_STRING, &a.arch, 0},
        {"--labels", OPT_STRING, &a.labels, 0},
        {"--top", OPT_INT, &a.top, 1},
    };
    int n_specs = 3 + cli_input_specs(&a.in, specs + 3);
    const char **pos = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *pos);
    if (!pos)
        return cli_fail_msg("allocating the argument table: out of memory");
    int n_pos = 0;
    int rc =
        cli_parse_args("classify", HELP_CLASSIFY, argc, argv, specs, n_specs, pos, argc, &n_pos, o);
    if (rc != RC_OK) {
        free(pos);
        return rc == RC_HELP ? RC_OK : rc;
    }
    if (n_pos < 2) {
        free(pos);
        return cli_usage_error("classify", "expected a MODEL and at least one IMAGE");
    }

    const char *model = pos[0];
    const char *const *paths = pos + 1;
    int n = n_pos - 1;
    classifier c;
    label_set labels;
    uint8_t *pixels = NULL;
    memset(&labels, 0, sizeof labels);
    rc = classifier_open(&c, "classify", model, a.arch, &a.in, o);
    if (rc != RC_OK)
        goto done;
    rc = RC_FAIL;
    if (a.labels && labels_read(&labels, a.labels, c.classes) != RC_OK)
        goto done;
    if (!(pixels = malloc((size_t)n * 3 * (size_t)c.height * (size_t)c.width))) {
        cli_fail_msg("allocating %d images: out of memory", n);
        goto done;
    }
    if (decode_images(&c, paths, n, pixels) != RC_OK)
        goto done;

    json jw = {stdout, 0, {0}}, *j = o->json ? &jw : NULL;
    char input[256];
    classifier_describe_input(&c, &a.in, input, sizeof input);
    if (j) {
        json_open(j, NULL, '{');
        json_str(j, "model", model);
        if (a.arch)
            json_str(j, "arch", a.arch);
        json_str(j, "device", c.dev->name);
        classifier_input_json(j, &c, &a.in);
        json_bool(j, "softmax_removed", c.softmax_removed > 0);
        json_u64(j, "classes", (uint64_t)c.classes);
        json_open(j, "images", '[');
    } else {
        printf("Model   %s: %d classes; input %s\n\n", model, c.classes, input);
    }
    rc = classify_all(&c, &a, &labels, paths, n, pixels, j);
    if (j) {
        json_close(j, ']');
        json_close(j, '}');
    }

done:
    free(pixels);
    labels_free(&labels);
    classifier_close(&c);
    free(pos);
    return rc;
}
