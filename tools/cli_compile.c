/* `clnet compile`: writes every OpenCL program the built-in networks (or the
 * models named) need on a device into a folder, for devices that load
 * pre-built binaries (CLNET_BINARY_DIR) instead of compiling. */
#define _POSIX_C_SOURCE 200809L /* unsetenv */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char HELP_COMPILE[] =
    "usage: clnet compile --out DIR [MODEL...] [--arch NAME] [--json]\n"
    "\n"
    "Builds the OpenCL programs that MODEL (default: every built-in network) needs\n"
    "on the device, by compiling and running each once on one image with every\n"
    "convolution algorithm, and writes their binaries into DIR. A process with\n"
    "CLNET_BINARY_DIR=DIR then loads them and never compiles: the way to run on\n"
    "devices without a compiler (FPGAs), on the same device, driver and clnet\n"
    "version.\n"
    "\n"
    "  --out DIR     folder of the binaries (created if missing)\n"
    "  --arch NAME   architecture of weights-only model files\n";

static const char *const DEFAULT_MODELS[] = {
    "resnet20v1", "resnet56v2", "densenet100", "densenet40k24", "ynet", "resnet20a", "resnet20b",
};

/* Compiles and runs one model on one image, so that every program its steps
 * use gets built. */
static int exercise(clnet_context *ctx, const char *model, const char *arch) {
    clnet_graph *g = NULL;
    int rc = cli_open_model("compile", model, arch, DEFAULT_SEED, &g);
    if (rc != RC_OK)
        return rc;
    clnet_net *net = NULL;
    int n_in = clnet_graph_input_count(g), n_out = clnet_graph_output_count(g);
    float **in = calloc((size_t)n_in, sizeof *in), **out = calloc((size_t)n_out, sizeof *out);
    rc = RC_FAIL;
    if (!in || !out) {
        cli_fail_msg("compiling '%s': out of memory", model);
        goto done;
    }
    for (int i = 0; i < n_in; i++) {
        clnet_shape s;
        clnet_tensor_shape(g, clnet_graph_input_at(g, i), &s);
        if (!(in[i] = cli_alloc_floats(clnet_shape_size(s), "an input image")))
            goto done;
        for (size_t k = 0; k < clnet_shape_size(s); k++)
            in[i][k] = (float)(k % 7) / 7.0f;
    }
    for (int i = 0; i < n_out; i++) {
        clnet_shape s;
        clnet_tensor_shape(g, clnet_graph_output_at(g, i), &s);
        if (!(out[i] = cli_alloc_floats(clnet_shape_size(s), "an output")))
            goto done;
    }
    /* Every convolution algorithm, so that a binary-only run may force any
     * of them. */
    rc = RC_OK;
    for (int algo = CLNET_CONV_AUTO; algo <= CLNET_CONV_WINOGRAD_4X4 && rc == RC_OK; algo++) {
        clnet_net_options options = clnet_net_options_default();
        options.conv_algo = (clnet_conv_algo)algo;
        if (clnet_net_create(ctx, g, &options, &net) != CLNET_STATUS_OK)
            rc = cli_fail("compiling '%s'", model);
        else if (clnet_net_run(net, 1, (const float *const *)in, out) != CLNET_STATUS_OK)
            rc = cli_fail("running '%s'", model);
        clnet_net_destroy(net);
        net = NULL;
    }
done:
    for (int i = 0; in && i < n_in; i++)
        free(in[i]);
    for (int i = 0; out && i < n_out; i++)
        free(out[i]);
    free(in);
    free(out);
    clnet_net_destroy(net);
    clnet_graph_destroy(g);
    return rc;
}

int cmd_compile(int argc, char **argv, cli_opts *o) {
    enum { MAX_MODELS = 64 };
    const char *dir = NULL, *arch = NULL, *pos[MAX_MODELS];
    const opt_spec specs[] = {{"--out", OPT_STRING, &dir, 0}, {"--arch", OPT_STRING, &arch, 0}};
    int n_pos = 0;
    int rc = cli_parse_args("compile", HELP_COMPILE, argc, argv, specs, 2, pos, MAX_MODELS,
                            &n_pos, o);
    if (rc != RC_OK)
        return rc == RC_HELP ? RC_OK : rc;
    if (!dir || !dir[0])
        return cli_usage_error("compile", "--out DIR is required");
    const char *const *models = n_pos ? pos : DEFAULT_MODELS;
    int n_models = n_pos ? n_pos : (int)(sizeof DEFAULT_MODELS / sizeof DEFAULT_MODELS[0]);

    /* Compiling is the point: a binary folder in the environment would
     * make this context refuse to. */
    unsetenv("CLNET_BINARY_DIR");
    clnet_context *ctx = NULL;
    if (clnet_context_create(o->device, NULL, &ctx) != CLNET_STATUS_OK)
        return cli_fail("opening device '%s'", o->device ? o->device : "(default)");
    for (int i = 0; i < n_models && rc == RC_OK; i++)
        rc = exercise(ctx, models[i], arch);
    int written = 0;
    /* Every GEMM configuration the device's tuning table names, also those
     * of models not exercised above. */
    if (rc == RC_OK && clnet_tuning_build_programs(ctx) != CLNET_STATUS_OK)
        rc = cli_fail("compile: building the tuned GEMM configurations");
    if (rc == RC_OK && clnet_context_export_programs(ctx, dir, &written) != CLNET_STATUS_OK)
        rc = cli_fail("writing program binaries into '%s'", dir);
    if (rc == RC_OK) {
        const clnet_device_info *dev = clnet_context_device(ctx);
        if (o->json) {
            json jw = {stdout, 0, {0}}, *j = &jw;
            json_open(j, NULL, '{');
            json_str(j, "device", dev->name);
            json_str(j, "driver", dev->driver_version);
            json_str(j, "out", dir);
            json_u64(j, "programs", (uint64_t)written);
            json_open(j, "models", '[');
            for (int i = 0; i < n_models; i++)
                json_str(j, NULL, models[i]);
            json_close(j, ']');
            json_close(j, '}');
        } else {
            printf("Wrote %d program binaries for %s (driver %s) into %s\n", written, dev->name,
                   dev->driver_version, dir);
            printf("Run with CLNET_BINARY_DIR=%s to load them instead of compiling.\n", dir);
        }
    }
    clnet_context_destroy(ctx);
    return rc;
}
