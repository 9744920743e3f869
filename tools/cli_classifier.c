/* A model opened as an image classifier, with the input normalisation of
 * the command line: what `clnet eval` and `clnet classify` share. */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const CLI_CIFAR10_NAMES[10] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                           "dog",      "frog",       "horse", "ship", "truck"};

int cli_input_specs(cli_input_args *a, opt_spec *specs) {
    const opt_spec list[CLI_INPUT_SPECS] = {
        {"--raw", OPT_FLAG, &a->raw, 0},
        {"--bgr", OPT_FLAG, &a->bgr, 0},
        {"--mean", OPT_STRING, &a->mean, 0},
        {"--std", OPT_STRING, &a->std, 0},
        {"--mean-image", OPT_STRING, &a->mean_image, 0},
    };
    memcpy(specs, list, sizeof list);
    return CLI_INPUT_SPECS;
}

/* "R,G,B" to three finite floats; returns 0, or -1 if the text is not
 * that. Standard deviations must also be positive. */
static int parse_triple(const char *text, int positive, float out[3]) {
    const char *p = text;
    for (int c = 0; c < 3; c++) {
        char *end = NULL;
        errno = 0;
        float v = strtof(p, &end);
        if (errno || end == p || !isfinite(v) || (positive && !(v > 0.0f)))
            return -1;
        out[c] = v;
        if (c < 2 && *end != ',')
            return -1;
        p = end + (c < 2);
    }
    return *p == '\0' ? 0 : -1;
}

/* Reads a float32 mean image of exactly `count` values. */
static int read_mean_image(const char *path, size_t count, int height, int width, float **out) {
    long bytes = -1;
    int rc = RC_FAIL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_fail_msg("opening mean image '%s': %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) == 0)
        bytes = ftell(f);
    if (bytes < 0 || fseek(f, 0, SEEK_SET) != 0) {
        cli_fail_msg("finding the size of mean image '%s': %s", path, strerror(errno));
    } else if ((size_t)bytes != count * sizeof(float)) {
        cli_fail_msg("mean image '%s' has %ld bytes; the model's input needs float32 "
                     "[3][%d][%d], %zu bytes",
                     path, bytes, height, width, count * sizeof(float));
    } else if ((*out = cli_alloc_floats(count, "the mean image")) != NULL) {
        if (fread(*out, sizeof(float), count, f) == count)
            rc = RC_OK;
        else
            cli_fail_msg("reading mean image '%s': %s", path,
                         ferror(f) ? strerror(errno) : "shorter than its size said");
    }
    fclose(f);
    return rc;
}

/* Every input must take a 3-channel image of one size: each gets the same
 * image (as the two branches of the Y-network do). */
static int check_inputs(classifier *c, const char *model) {
    c->n_in = clnet_graph_input_count(c->g);
    for (int i = 0; i < c->n_in; i++) {
        clnet_tensor t = clnet_graph_input_at(c->g, i);
        clnet_shape s = {0, 0, 0, 0};
        char buf[48];
        if (clnet_tensor_shape(c->g, t, &s) != CLNET_STATUS_OK)
            return cli_fail("reading the shape of input %d of '%s'", i, model);
        if (s.rank != 3 || s.c != 3 || (i > 0 && (s.h != c->height || s.w != c->width)))
            return cli_fail_msg("input %d ('%s') of '%s' has shape %s; images feed inputs of "
                                "3 channels (RGB), all of one height and width",
                                i, cli_tensor_name(c->g, t.id), model,
                                cli_fmt_shape(s, buf, sizeof buf));
        c->height = s.h;
        c->width = s.w;
    }
    if (c->n_in < 1)
        return cli_fail_msg("'%s' has no inputs", model);
    return RC_OK;
}

/* Limitation: only single-output models are classifiers here. */
static int check_output(classifier *c, const char *model) {
    int n_out = clnet_graph_output_count(c->g);
    if (n_out != 1)
        return cli_fail_msg("'%s' has %d outputs; a classifier has one", model, n_out);
    clnet_shape s = {0, 0, 0, 0};
    if (clnet_tensor_shape(c->g, clnet_graph_output_at(c->g, 0), &s) != CLNET_STATUS_OK)
        return cli_fail("reading the output shape of '%s'", model);
    size_t classes = clnet_shape_size(s);
    if (classes < 1 || classes > INT32_MAX)
        return cli_fail_msg("the output of '%s' has %zu values, not a class count", model, classes);
    c->classes = (int)classes;
    return RC_OK;
}

int classifier_open(classifier *c, const char *cmd, const char *model, const char *arch,
                    const cli_input_args *in, const cli_opts *o) {
    memset(c, 0, sizeof *c);
    c->pre = clnet_preprocess_defaults();
    c->pre.raw = in->raw;
    c->pre.bgr = in->bgr;
    if (!in->mean != !in->std)
        return cli_usage_error(cmd, "--mean and --std go together");
    if (in->mean) {
        if (parse_triple(in->mean, 0, c->pre.mean) != 0)
            return cli_usage_error(cmd, "invalid --mean '%s' (expected R,G,B: three numbers)",
                                   in->mean);
        if (parse_triple(in->std, 1, c->pre.std) != 0)
            return cli_usage_error(
                cmd, "invalid --std '%s' (expected R,G,B: three numbers above 0)", in->std);
        c->pre.has_mean_std = 1;
    }

    int rc = cli_open_model(cmd, model, arch, DEFAULT_SEED, &c->g);
    if (rc != RC_OK)
        return rc;
    if (clnet_graph_strip_final_softmax(c->g, &c->softmax_removed) != CLNET_STATUS_OK)
        return cli_fail("removing the final softmax of '%s'", model);
    if (check_inputs(c, model) != RC_OK || check_output(c, model) != RC_OK)
        return RC_FAIL;
    if (in->mean_image) {
        size_t count = (size_t)3 * (size_t)c->height * (size_t)c->width;
        if (read_mean_image(in->mean_image, count, c->height, c->width, &c->mean_image) != RC_OK)
            return RC_FAIL;
        c->pre.mean_image = c->mean_image;
    }
    if (!(c->inputs = malloc((size_t)c->n_in * sizeof *c->inputs)))
        return cli_fail_msg("allocating the input table: out of memory");

    clnet_net_options nopt = clnet_net_options_default();
    if (clnet_context_create(o->device, NULL, &c->ctx) != CLNET_STATUS_OK)
        return cli_fail("opening device '%s'", o->device ? o->device : "(default)");
    c->dev = clnet_context_device(c->ctx);
    if (clnet_net_create(c->ctx, c->g, &nopt, &c->net) != CLNET_STATUS_OK)
        return cli_fail("compiling '%s' for %s", model, c->dev->name);
    return RC_OK;
}

void classifier_close(classifier *c) {
    clnet_net_destroy(c->net);
    clnet_context_destroy(c->ctx);
    clnet_graph_destroy(c->g);
    free(c->mean_image);
    free(c->inputs);
    memset(c, 0, sizeof *c);
}

int classifier_run(classifier *c, const uint8_t *pixels, int n, float *scratch, float *logits) {
    if (clnet_preprocess_images(&c->pre, pixels, n, 3, c->height, c->width, scratch) !=
        CLNET_STATUS_OK)
        return cli_fail("normalising %d images", n);
    for (int i = 0; i < c->n_in; i++)
        c->inputs[i] = scratch;
    float *outputs[1] = {logits};
    if (clnet_net_run(c->net, n, c->inputs, outputs) != CLNET_STATUS_OK)
        return cli_fail("running the net on a batch of %d", n);
    return RC_OK;
}

void classifier_describe_input(const classifier *c, const cli_input_args *in, char *buf,
                               size_t size) {
    const clnet_preprocess *p = &c->pre;
    int n =
        snprintf(buf, size, "%s%s", p->bgr ? "BGR, " : "RGB, ", p->raw ? "0 to 255" : "x / 255");
    if (n >= 0 && (size_t)n < size && p->mean_image)
        n += snprintf(buf + n, size - (size_t)n, ", minus mean image %s", in->mean_image);
    if (n >= 0 && (size_t)n < size && p->has_mean_std)
        snprintf(buf + n, size - (size_t)n,
                 ", then (x - mean) / std with mean (%g, %g, %g), std (%g, %g, %g)",
                 (double)p->mean[0], (double)p->mean[1], (double)p->mean[2], (double)p->std[0],
                 (double)p->std[1], (double)p->std[2]);
}

void classifier_input_json(json *j, const classifier *c, const cli_input_args *in) {
    const clnet_preprocess *p = &c->pre;
    json_open(j, "input", '{');
    json_str(j, "channels", p->bgr ? "BGR" : "RGB");
    json_num(j, "scale", p->raw ? 1.0 : 1.0 / 255.0);
    if (p->mean_image)
        json_str(j, "mean_image", in->mean_image);
    else
        json_null(j, "mean_image");
    if (p->has_mean_std) {
        json_open(j, "mean", '[');
        for (int k = 0; k < 3; k++)
            json_num(j, NULL, p->mean[k]);
        json_close(j, ']');
        json_open(j, "std", '[');
        for (int k = 0; k < 3; k++)
            json_num(j, NULL, p->std[k]);
        json_close(j, ']');
    } else {
        json_null(j, "mean");
        json_null(j, "std");
    }
    json_close(j, '}');
}
