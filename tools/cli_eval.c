/* `clnet eval`: top-1 accuracy of a model on a CIFAR-10 binary file, with
 * per-class accuracy, the confusion matrix, speed and optional logits. */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char HELP_EVAL[] =
    "usage: clnet eval MODEL --data FILE [OPTIONS]\n"
    "\n"
    "Classifies the images of a CIFAR-10 binary file (records of one label byte and\n"
    "3 x 32 x 32 planar RGB pixels) and prints per-class and top-1 accuracy and the\n"
    "speed; --json adds the confusion matrix. A final softmax is removed before the\n"
    "model is compiled, so logits are the values before it.\n"
    "\n"
    "  --data FILE        the CIFAR-10 binary file (required)\n"
    "  --limit N          evaluate only the first N images\n"
    "  --batch N          images per run (default 100)\n"
    "  --logits OUT       write the logits to OUT: float32 [N][classes], little-endian\n"
    "  --arch NAME        architecture of a weights-only model file (see clnet --help)\n"
    "\n" CLI_INPUT_HELP "\n"
    "Every input of a multi-input model receives the same image. Accuracy needs a\n"
    "model with 10 outputs; with another count, logits are still written.\n"
    "A progress bar is drawn on stderr when it is a terminal. Images/s is the wall\n"
    "clock of normalising, running, reading back and writing all images, after one\n"
    "untimed warm-up batch that compiles the kernels.\n";

enum { CIFAR_SIDE = 32, CIFAR_CLASSES = 10 };
#define CIFAR_IMAGE_BYTES ((size_t)3 * CIFAR_SIDE * CIFAR_SIDE)

typedef struct eval_args {
    const char *data, *arch, *logits;
    int limit, batch;
    cli_input_args in;
} eval_args;

typedef struct eval_result {
    int images, correct, invalid; /* invalid: images whose logits are all NaN */
    int scored;                   /* 1 when the model has CIFAR-10's 10 classes */
    int per_class[CIFAR_CLASSES], per_class_correct[CIFAR_CLASSES];
    int confusion[CIFAR_CLASSES][CIFAR_CLASSES]; /* [true label][prediction] */
    double seconds;
} eval_result;

/* The first largest logit; -1 if every one is NaN. */
static int argmax(const float *v, int n) {
    int best = -1;
    for (int k = 0; k < n; k++)
        if (!isnan(v[k]) && (best < 0 || v[k] > v[best]))
            best = k;
    return best;
}

static void progress_draw(const eval_result *r, int done, int total, double elapsed) {
    enum { WIDTH = 30 };
    char bar[WIDTH + 1];
    int fill = (int)((int64_t)done * WIDTH / (total > 0 ? total : 1));
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(WIDTH - fill));
    bar[WIDTH] = '\0';
    fprintf(stderr, "\r[%s] %d/%d", bar, done, total);
    if (r->scored && done > 0)
        fprintf(stderr, "  top-1 %.2f%%", 100.0 * r->correct / done);
    if (elapsed > 0.0)
        fprintf(stderr, "  %.0f images/s", done / elapsed);
    fflush(stderr);
}

static void progress_clear(void) {
    fputs("\r\033[K", stderr); /* carriage return, then erase to the end of the line */
    fflush(stderr);
}

static void score_batch(eval_result *r, const float *logits, int classes, const uint8_t *labels,
                        int n) {
    for (int i = 0; i < n; i++) {
        int pred = argmax(logits + (size_t)i * (size_t)classes, classes);
        r->invalid += pred < 0;
        if (!r->scored)
            continue;
        int label = labels[i];
        r->per_class[label]++;
        if (pred < 0)
            continue;
        r->confusion[label][pred]++;
        if (pred == label) {
            r->correct++;
            r->per_class_correct[label]++;
        }
    }
}

/* Runs every image once, after one untimed warm-up batch. */
static int evaluate(classifier *c, const eval_args *a, const uint8_t *pixels, const uint8_t *labels,
                    FILE *logits_file, eval_result *r) {
    int count = r->images, batch = a->batch < count ? a->batch : count;
    int rc = RC_FAIL, tty = isatty(STDERR_FILENO);
    size_t image = (size_t)3 * (size_t)c->height * (size_t)c->width;
    float *scratch = cli_alloc_floats((size_t)batch * image, "a batch of inputs");
    float *logits = cli_alloc_floats((size_t)batch * (size_t)c->classes, "a batch of logits");
    if (!scratch || !logits)
        goto done;
    if (classifier_run(c, pixels, batch, scratch, logits) != RC_OK)
        goto done;

    double t0 = cli_now_seconds();
    for (int start = 0; start < count; start += batch) {
        int n = count - start < batch ? count - start : batch;
        if (classifier_run(c, pixels + (size_t)start * image, n, scratch, logits) != RC_OK)
            goto done;
        score_batch(r, logits, c->classes, labels + start, n);
        if (logits_file && fwrite(logits, sizeof(float) * (size_t)c->classes, (size_t)n,
                                  logits_file) != (size_t)n) {
            cli_fail_msg("writing logits to '%s': %s", a->logits, strerror(errno));
            goto done;
        }
        if (tty)
            progress_draw(r, start + n, count, cli_now_seconds() - t0);
    }
    r->seconds = cli_now_seconds() - t0;
    rc = RC_OK;
done:
    if (tty)
        progress_clear();
    free(scratch);
    free(logits);
    return rc;
}

static double ratio(int num, int den) {
    return den > 0 ? (double)num / den : NAN;
}

static const char *model_format(const char *model) {
    clnet_model_format format;
    return clnet_model_detect(model, &format) == CLNET_STATUS_OK ? clnet_model_format_name(format)
                                                                 : "built-in";
}

static void print_json(const classifier *c, const eval_args *a, const char *model,
                       const eval_result *r) {
    json jw = {stdout, 0, {0}}, *j = &jw;
    json_open(j, NULL, '{');
    json_str(j, "model", model);
    json_str(j, "format", model_format(model));
    if (a->arch)
        json_str(j, "arch", a->arch);
    json_u64(j, "params", clnet_graph_param_count(c->g));
    json_str(j, "device", c->dev->name);
    json_str(j, "data", a->data);
    classifier_input_json(j, c, &a->in);
    json_bool(j, "softmax_removed", c->softmax_removed > 0);
    if (a->logits)
        json_str(j, "logits_file", a->logits);
    json_u64(j, "batch", (uint64_t)a->batch);
    json_u64(j, "images", (uint64_t)r->images);
    json_u64(j, "classes", (uint64_t)c->classes);
    json_u64(j, "nan_images", (uint64_t)r->invalid);
    if (r->scored) {
        json_u64(j, "correct", (uint64_t)r->correct);
        json_num(j, "accuracy", ratio(r->correct, r->images));
        json_open(j, "per_class", '[');
        for (int k = 0; k < CIFAR_CLASSES; k++) {
            json_open(j, NULL, '{');
            json_u64(j, "class", (uint64_t)k);
            json_str(j, "name", CLI_CIFAR10_NAMES[k]);
            json_u64(j, "images", (uint64_t)r->per_class[k]);
            json_u64(j, "correct", (uint64_t)r->per_class_correct[k]);
            json_num(j, "accuracy", ratio(r->per_class_correct[k], r->per_class[k]));
            json_close(j, '}');
        }
        json_close(j, ']');
        /* Rows are true labels, columns predictions. */
        json_open(j, "confusion", '[');
        for (int t = 0; t < CIFAR_CLASSES; t++) {
            json_open(j, NULL, '[');
            for (int p = 0; p < CIFAR_CLASSES; p++)
                json_u64(j, NULL, (uint64_t)r->confusion[t][p]);
            json_close(j, ']');
        }
        json_close(j, ']');
    } else {
        json_null(j, "accuracy");
        json_str(j, "accuracy_note", "not computed: the model does not have 10 classes");
    }
    json_num(j, "seconds", r->seconds);
    json_num(j, "images_per_s", r->seconds > 0.0 ? r->images / r->seconds : NAN);
    json_close(j, '}');
}

static void print_text(const classifier *c, const eval_args *a, const char *model,
                       const eval_result *r) {
    char b1[32], input[256];
    classifier_describe_input(c, &a->in, input, sizeof input);
    printf("Model      %s (%s, %s parameters)\n", model, model_format(model),
           cli_fmt_count(clnet_graph_param_count(c->g), b1, sizeof b1));
    printf("Device     %s [%d:%d]\n", c->dev->name, c->dev->platform_index, c->dev->device_index);
    printf("Data       %s: %d images%s\n", a->data, r->images, a->limit ? " (--limit)" : "");
    printf("Input      %s\n", input);
    if (a->logits)
        printf("Logits     %s: float32 [%d][%d], %s\n", a->logits, r->images, c->classes,
               c->softmax_removed ? "the values before the final softmax"
                                  : "the model's outputs (it has no final softmax)");
    if (r->invalid)
        printf("Warning    %d image%s gave only NaN logits (counted as wrong)\n", r->invalid,
               r->invalid == 1 ? "" : "s");
    if (r->scored) {
        printf("\n%-12s %8s %8s %9s\n", "class", "images", "correct", "accuracy");
        for (int k = 0; k < CIFAR_CLASSES; k++) {
            char acc[32] = "-";
            if (r->per_class[k] > 0)
                snprintf(acc, sizeof acc, "%.2f%%",
                         100.0 * ratio(r->per_class_correct[k], r->per_class[k]));
            printf("%-12s %8d %8d %9s\n", CLI_CIFAR10_NAMES[k], r->per_class[k],
                   r->per_class_correct[k], acc);
        }
        printf("\nTop-1 accuracy  %.2f%% (%d of %d images)\n", 100.0 * ratio(r->correct, r->images),
               r->correct, r->images);
    } else {
        printf("\nTop-1 accuracy  not computed: the model gives %d values per image and "
               "CIFAR-10 has %d classes\n",
               c->classes, CIFAR_CLASSES);
    }
    printf("Speed           %.1f images/s (%.3f s wall clock, batch %d)\n",
           r->seconds > 0.0 ? r->images / r->seconds : 0.0, r->seconds, a->batch);
}

int cmd_eval(int argc, char **argv, cli_opts *o) {
    eval_args a;
    memset(&a, 0, sizeof a);
    a.batch = 100;
    opt_spec specs[5 + CLI_INPUT_SPECS] = {
        {"--data", OPT_STRING, &a.data, 0},     {"--arch", OPT_STRING, &a.arch, 0},
        {"--logits", OPT_STRING, &a.logits, 0}, {"--limit", OPT_INT, &a.limit, 1},
        {"--batch", OPT_INT, &a.batch, 1},
    };
    int n_specs = 5 + cli_input_specs(&a.in, specs + 5);
    const char *model = NULL;
    int n_pos = 0;
    int rc = cli_parse_args("eval", HELP_EVAL, argc, argv, specs, n_specs, &model, 1, &n_pos, o);
    if (rc != RC_OK)
        return rc == RC_HELP ? RC_OK : rc;
    if (n_pos != 1)
        return cli_usage_error("eval", "expected one MODEL");
    if (!a.data)
        return cli_usage_error("eval", "--data FILE is required (a CIFAR-10 binary file)");

    classifier c;
    eval_result r;
    uint8_t *pixels = NULL, *labels = NULL;
    FILE *logits_file = NULL;
    memset(&r, 0, sizeof r);
    rc = classifier_open(&c, "eval", model, a.arch, &a.in, o);
    if (rc != RC_OK)
        goto done;
    rc = RC_FAIL;
    if (c.height != CIFAR_SIDE || c.width != CIFAR_SIDE) {
        cli_fail_msg("'%s' takes %dx%d images; CIFAR-10 images are %dx%d", model, c.height, c.width,
                     CIFAR_SIDE, CIFAR_SIDE);
        goto done;
    }
    if (clnet_cifar_read(a.data, a.limit, &pixels, &labels, &r.images) != CLNET_STATUS_OK) {
        cli_fail("reading the CIFAR-10 file '%s'", a.data);
        goto done;
    }
    if (a.logits && !(logits_file = fopen(a.logits, "wb"))) {
        cli_fail_msg("creating logits file '%s': %s", a.logits, strerror(errno));
        goto done;
    }
    r.scored = c.classes == CIFAR_CLASSES;
    if (evaluate(&c, &a, pixels, labels, logits_file, &r) != RC_OK)
        goto done;
    if (logits_file) {
        int close_failed = fclose(logits_file) != 0;
        logits_file = NULL;
        if (close_failed) {
            cli_fail_msg("writing logits to '%s': %s", a.logits, strerror(errno));
            goto done;
        }
    }
    if (o->json)
        print_json(&c, &a, model, &r);
    else
        print_text(&c, &a, model, &r);
    rc = RC_OK;

done:
    if (logits_file)
        fclose(logits_file);
    free(pixels);
    free(labels);
    classifier_close(&c);
    return rc;
}
