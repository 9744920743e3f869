/* `clnet convert`: a model of any format saved as a clnet model file, which
 * loads faster and needs no architecture name. */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char HELP_CONVERT[] =
    "usage: clnet convert IN OUT [--arch NAME] [--seed S] [--json]\n"
    "\n"
    "Loads IN (a clnet, ONNX, Keras HDF5 or PyTorch file, recognised by content, or\n"
    "a built-in name) and saves it with its weights as the clnet model file OUT\n"
    "(docs/model-format.md), replacing OUT if it exists.\n"
    "\n"
    "  --arch NAME   architecture of a weights-only model file (see clnet --help)\n"
    "  --seed S      seed of the weights of a built-in model (default 42)\n";

int cmd_convert(int argc, char **argv, cli_opts *o) {
    const char *arch = NULL, *pos[2] = {NULL, NULL};
    uint64_t seed = DEFAULT_SEED;
    const opt_spec specs[] = {{"--arch", OPT_STRING, &arch, 0}, {"--seed", OPT_U64, &seed, 0}};
    int n_pos = 0;
    int rc = cli_parse_args("convert", HELP_CONVERT, argc, argv, specs, 2, pos, 2, &n_pos, o);
    if (rc != RC_OK)
        return rc == RC_HELP ? RC_OK : rc;
    if (n_pos != 2)
        return cli_usage_error("convert", "expected IN and OUT");
    const char *in = pos[0], *out = pos[1];

    clnet_model_format format = CLNET_FORMAT_UNKNOWN;
    const char *from = clnet_model_detect(in, &format) == CLNET_STATUS_OK
                           ? clnet_model_format_name(format)
                           : "built-in";
    clnet_graph *g = NULL;
    rc = cli_open_model("convert", in, arch, seed, &g);
    if (rc != RC_OK)
        return rc;
    struct stat st;
    if (clnet_graph_save(g, out) != CLNET_STATUS_OK) {
        rc = cli_fail("saving '%s' as '%s'", in, out);
    } else if (stat(out, &st) != 0) {
        rc = cli_fail_msg("checking the size of '%s': %s", out, strerror(errno));
    } else if (o->json) {
        json jw = {stdout, 0, {0}}, *j = &jw;
        json_open(j, NULL, '{');
        json_str(j, "input", in);
        json_str(j, "format", from);
        if (arch)
            json_str(j, "arch", arch);
        json_str(j, "output", out);
        json_u64(j, "layers", (uint64_t)clnet_graph_layer_count(g));
        json_u64(j, "nodes", (uint64_t)clnet_graph_node_count(g));
        json_u64(j, "params", clnet_graph_param_count(g));
        json_u64(j, "bytes", (uint64_t)st.st_size);
        json_close(j, '}');
    } else {
        char b1[32], b2[32], b3[32];
        printf("Read   %s (%s%s%s)\n", in, from, arch ? ", architecture " : "", arch ? arch : "");
        printf("Wrote  %s: %d layers, %d nodes, %s parameters, %s bytes (%s)\n", out,
               clnet_graph_layer_count(g), clnet_graph_node_count(g),
               cli_fmt_count(clnet_graph_param_count(g), b1, sizeof b1),
               cli_fmt_count((uint64_t)st.st_size, b2, sizeof b2),
               cli_fmt_bytes((uint64_t)st.st_size, b3, sizeof b3));
    }
    clnet_graph_destroy(g);
    return rc;
}
