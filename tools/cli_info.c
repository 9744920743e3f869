/* `clnet devices` and `clnet info`: what the machine has and what a model
 * holds. */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int same_device(const clnet_device_info *a, const clnet_device_info *b) {
    return a->platform_index == b->platform_index && a->device_index == b->device_index;
}

static const char HELP_DEVICES[] =
    "usage: clnet devices [--json]\n"
    "\n"
    "Lists every OpenCL platform and its devices with their limits and features.\n"
    "The device that runs by default is marked; with --device, the selected one too.\n";

static const char HELP_INFO[] =
    "usage: clnet info MODEL [--batch N] [--steps] [--seed S] [--arch NAME] [--json]\n"
    "\n"
    "Prints every node of the model (op, output shape, parameters, MACs per image,\n"
    "inputs), the totals, and the device memory plan of the compiled net.\n"
    "\n"
    "  --batch N   also plan memory for batch N (default 1: only batch 1)\n"
    "  --steps     list the compiled steps (after batch-norm folding and fusion)\n"
    "  --seed S    seed of the weights of a built-in model (default 42)\n"
    "  --arch NAME architecture of a weights-only model file (see clnet --help)\n"
    "\n"
    "The memory plan and the steps need a device; without one they are skipped.\n";

/* ------------------------------------------------------------------------ */
/* clnet devices                                                            */

static void print_device_text(const clnet_device_info *d, int is_default, int is_selected) {
    char b1[32], b2[32], b3[32];
    printf("\n  [%d:%d] %s%s%s\n", d->platform_index, d->device_index, d->name,
           is_default ? "  (default)" : "", is_selected ? "  (selected)" : "");
    printf("      type              %s\n", clnet_device_type_name(d->type));
    printf("      vendor            %s\n", d->vendor);
    printf("      version           %s\n", d->device_version);
    printf("      driver version    %s\n", d->driver_version);
    printf("      compute units     %u\n", d->compute_units);
    printf("      max clock         %u MHz\n", d->max_clock_mhz);
    printf("      global memory     %s\n", cli_fmt_bytes(d->global_mem_bytes, b1, sizeof b1));
    printf("      local memory      %s\n", cli_fmt_bytes(d->local_mem_bytes, b2, sizeof b2));
    printf("      max allocation    %s\n", cli_fmt_bytes(d->max_alloc_bytes, b3, sizeof b3));
    printf("      max work-group    %zu\n", d->max_work_group_size);
    printf("      OpenCL C          %s\n", d->opencl_c_version);
    printf("      fp16 / fp64       %s / %s\n", d->has_fp16 ? "yes" : "no",
           d->has_fp64 ? "yes" : "no");
    printf("      compiler          %s\n", d->has_compiler ? "yes" : "no");
    printf("      float vector      %u (native width)\n", d->native_float_width);
}

static void print_device_json(json *j, const clnet_device_info *d, int is_default,
                              int is_selected) {
    char index[32];
    snprintf(index, sizeof index, "%d:%d", d->platform_index, d->device_index);
    json_open(j, NULL, '{');
    json_str(j, "index", index);
    json_str(j, "name", d->name);
    json_str(j, "type", clnet_device_type_name(d->type));
    json_str(j, "vendor", d->vendor);
    json_str(j, "version", d->device_version);
    json_str(j, "driver_version", d->driver_version);
    json_u64(j, "compute_units", d->compute_units);
    json_u64(j, "max_clock_mhz", d->max_clock_mhz);
    json_u64(j, "global_mem_bytes", d->global_mem_bytes);
    json_u64(j, "local_mem_bytes", d->local_mem_bytes);
    json_u64(j, "max_alloc_bytes", d->max_alloc_bytes);
    json_u64(j, "max_work_group_size", d->max_work_group_size);
    json_str(j, "opencl_c_version", d->opencl_c_version);
    json_bool(j, "fp16", d->has_fp16);
    json_bool(j, "fp64", d->has_fp64);
    json_bool(j, "compiler", d->has_compiler);
    json_u64(j, "native_float_width", (uint64_t)d->native_float_width);
    json_bool(j, "default", is_default);
    json_bool(j, "selected", is_selected);
    json_close(j, '}');
}

int cmd_devices(int argc, char **argv, cli_opts *o) {
    int rc = cli_parse_args("devices", HELP_DEVICES, argc, argv, NULL, 0, NULL, 0, NULL, o);
    if (rc != RC_OK)
        return rc == RC_HELP ? RC_OK : rc;

    clnet_device_info *list = NULL, def, sel;
    size_t n = 0;
    if (clnet_device_list(&list, &n) != CLNET_STATUS_OK)
        return cli_fail("listing OpenCL devices");
    int has_def = clnet_device_select(NULL, &def) == CLNET_STATUS_OK;
    int has_sel = 0;
    if (o->device && clnet_device_select(o->device, &sel) != CLNET_STATUS_OK)
        rc = cli_fail("selecting device '%s'", o->device);
    else
        has_sel = o->device != NULL;

    json j = {stdout, 0, {0}};
    if (o->json) {
        json_open(&j, NULL, '{');
        json_open(&j, "platforms", '[');
    }
    for (size_t i = 0; i < n; i++) {
        const clnet_device_info *d = &list[i];
        int first_of_platform = i == 0 || list[i - 1].platform_index != d->platform_index;
        if (o->json && first_of_platform) {
            if (i > 0) {
                json_close(&j, ']');
                json_close(&j, '}');
            }
            json_open(&j, NULL, '{');
            json_u64(&j, "index", (uint64_t)d->platform_index);
            json_str(&j, "name", d->platform_name);
            json_str(&j, "vendor", d->platform_vendor);
            json_str(&j, "version", d->platform_version);
            json_open(&j, "devices", '[');
        } else if (first_of_platform) {
            printf("%sPlatform %d: %s\n  vendor   %s\n  version  %s\n", i > 0 ? "\n" : "",
                   d->platform_index, d->platform_name, d->platform_vendor, d->platform_version);
        }
        int is_def = has_def && same_device(d, &def), is_sel = has_sel && same_device(d, &sel);
        if (o->json)
            print_device_json(&j, d, is_def, is_sel);
        else
            print_device_text(d, is_def, is_sel);
    }
    if (o->json) {
        if (n > 0) {
            json_close(&j, ']');
            json_close(&j, '}');
        }
        json_close(&j, ']');
        json_close(&j, '}');
    }
    free(list);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* clnet info                                                               */

static void print_rule(char c, int width) {
    for (int i = 0; i < width; i++)
        putchar(c);
    putchar('\n');
}

static void print_nodes_text(const clnet_graph *g) {
    int n = clnet_graph_node_count(g), name_w = 4, op_w = 2;
    for (int i = 0; i < n; i++) {
        clnet_node_info ni;
        if (clnet_graph_node_info(g, i, &ni) != CLNET_STATUS_OK)
            continue;
        int nl = (int)strlen(ni.name), ol = (int)strlen(clnet_op_name(ni.op));
        name_w = nl > name_w ? nl : name_w;
        op_w = ol > op_w ? ol : op_w;
    }
    int rule = name_w + op_w + 14 + 12 + 16 + 12;
    printf("%-*s  %-*s  %-12s  %10s  %14s  %s\n", name_w, "Node", op_w, "Op", "Output shape",
           "Params", "MACs/image", "Inputs");
    print_rule('=', rule);
    for (int i = 0; i < n; i++) {
        clnet_node_info ni;
        char shape[48], params[32], macs[32];
        if (clnet_graph_node_info(g, i, &ni) != CLNET_STATUS_OK)
            continue;
        printf("%-*s  %-*s  %-12s  %10s  %14s  ", name_w, ni.name, op_w, clnet_op_name(ni.op),
               cli_fmt_shape(ni.output_shape, shape, sizeof shape),
               cli_fmt_count(ni.params, params, sizeof params),
               cli_fmt_count(ni.macs_per_image, macs, sizeof macs));
        int shown =
            ni.n_inputs < CLNET_MAX_NODE_INPUTS_SHOWN ? ni.n_inputs : CLNET_MAX_NODE_INPUTS_SHOWN;
        for (int k = 0; k < shown; k++)
            printf("%s%s", k ? ", " : "", cli_tensor_name(g, ni.inputs[k]));
        if (ni.n_inputs > shown)
            printf(", ... (%d more)", ni.n_inputs - shown);
        printf("%s\n", ni.n_inputs == 0 ? "-" : "");
    }
    print_rule('-', rule);
}

static void print_nodes_json(json *j, const clnet_graph *g) {
    json_open(j, "nodes", '[');
    for (int i = 0; i < clnet_graph_node_count(g); i++) {
        clnet_node_info ni;
        if (clnet_graph_node_info(g, i, &ni) != CLNET_STATUS_OK)
            continue;
        json_open(j, NULL, '{');
        json_str(j, "name", ni.name);
        json_str(j, "op", clnet_op_name(ni.op));
        json_shape(j, "shape", ni.output_shape);
        json_u64(j, "params", ni.params);
        json_u64(j, "macs_per_image", ni.macs_per_image);
        json_u64(j, "n_inputs", (uint64_t)ni.n_inputs);
        json_open(j, "inputs", '[');
        for (int k = 0; k < ni.n_inputs && k < CLNET_MAX_NODE_INPUTS_SHOWN; k++)
            json_str(j, NULL, cli_tensor_name(g, ni.inputs[k]));
        json_close(j, ']');
        json_close(j, '}');
    }
    json_close(j, ']');
}

/* Graph inputs (which = 0) or outputs (which = 1) with their shapes. */
static void print_ends(json *j, const clnet_graph *g, int which) {
    int n = which ? clnet_graph_output_count(g) : clnet_graph_input_count(g);
    if (j)
        json_open(j, which ? "outputs" : "inputs", '[');
    else
        printf("%-20s", which ? "Outputs:" : "Inputs:");
    for (int i = 0; i < n; i++) {
        clnet_tensor t = which ? clnet_graph_output_at(g, i) : clnet_graph_input_at(g, i);
        clnet_shape s = {0, 0, 0, 0};
        char buf[48];
        clnet_tensor_shape(g, t, &s);
        if (j) {
            json_open(j, NULL, '{');
            json_str(j, "name", cli_tensor_name(g, t.id));
            json_shape(j, "shape", s);
            json_close(j, '}');
        } else {
            printf("%s%s %s", i ? ", " : "", cli_tensor_name(g, t.id),
                   cli_fmt_shape(s, buf, sizeof buf));
        }
    }
    if (j)
        json_close(j, ']');
    else
        printf("\n");
}

static void print_steps(json *j, const clnet_net *net, const clnet_graph *g) {
    int n = clnet_net_step_count(net), label_w, kernel_w;
    clnet_step_info si;
    cli_step_widths(net, &label_w, &kernel_w);
    if (j)
        json_open(j, "steps", '[');
    else
        printf("\nCompiled steps (%d):\n%4s  %-*s  %-*s  %14s\n", n, "#", label_w, "Label",
               kernel_w, "Kernel", "MACs/image");
    for (int i = 0; i < n; i++) {
        char macs[32];
        if (clnet_net_step_info(net, i, &si) != CLNET_STATUS_OK)
            continue;
        if (!j) {
            printf("%4d  %-*s  %-*s  %14s\n", i, label_w, si.label, kernel_w, si.kernel,
                   cli_fmt_count(si.macs_per_image, macs, sizeof macs));
            continue;
        }
        json_open(j, NULL, '{');
        json_str(j, "label", si.label);
        json_str(j, "kernel", si.kernel);
        json_str(j, "node", cli_tensor_name(g, si.node));
        json_u64(j, "macs_per_image", si.macs_per_image);
        json_close(j, '}');
    }
    if (j)
        json_close(j, ']');
}

static void print_memory(json *j, const char *device, const clnet_memory_report *mem,
                         const int *batches, int n) {
    char b[4][32];
    if (!j)
        printf("\nDevice memory of the compiled net on %s:\n%8s  %14s  %14s  %14s  %14s\n", device,
               "batch", "activations", "without reuse", "weights", "scratch");
    else
        json_open(j, "memory", '[');
    for (int i = 0; i < n; i++) {
        const clnet_memory_report *m = &mem[i];
        if (!j) {
            printf("%8d  %14s  %14s  %14s  %14s\n", batches[i],
                   cli_fmt_bytes(m->activation_bytes, b[0], sizeof b[0]),
                   cli_fmt_bytes(m->activation_bytes_without_reuse, b[1], sizeof b[1]),
                   cli_fmt_bytes(m->weight_bytes, b[2], sizeof b[2]),
                   cli_fmt_bytes(m->scratch_bytes, b[3], sizeof b[3]));
            continue;
        }
        json_open(j, NULL, '{');
        json_u64(j, "batch", (uint64_t)batches[i]);
        json_u64(j, "activation_bytes", m->activation_bytes);
        json_u64(j, "activation_bytes_without_reuse", m->activation_bytes_without_reuse);
        json_u64(j, "weight_bytes", m->weight_bytes);
        json_u64(j, "scratch_bytes", m->scratch_bytes);
        json_close(j, '}');
    }
    if (j)
        json_close(j, ']');
}

int cmd_info(int argc, char **argv, cli_opts *o) {
    int batch = 1, steps = 0, n_pos = 0;
    uint64_t seed = DEFAULT_SEED;
    const char *model = NULL, *arch = NULL;
    const opt_spec specs[] = {{"--batch", OPT_INT, &batch, 1},
                              {"--steps", OPT_FLAG, &steps, 0},
                              {"--seed", OPT_U64, &seed, 0},
                              {"--arch", OPT_STRING, &arch, 0}};
    int rc = cli_parse_args("info", HELP_INFO, argc, argv, specs, 4, &model, 1, &n_pos, o);
    if (rc != RC_OK)
        return rc == RC_HELP ? RC_OK : rc;
    if (n_pos != 1)
        return cli_usage_error("info", "expected one MODEL");

    clnet_graph *g = NULL;
    rc = cli_open_model("info", model, arch, seed, &g);
    if (rc != RC_OK)
        return rc;

    /* The memory plan and the steps need a compiled net, hence a device;
     * without one the rest of the summary still stands. */
    clnet_context *ctx = NULL;
    clnet_net *net = NULL;
    const char *device = NULL;
    clnet_memory_report mem[2];
    int batches[2] = {1, batch}, n_mem = batch == 1 ? 1 : 2;
    char no_plan[768] = "";
    clnet_net_options nopt = clnet_net_options_default();
    if (clnet_context_create(o->device, NULL, &ctx) != CLNET_STATUS_OK) {
        snprintf(no_plan, sizeof no_plan,
                 "Memory plan and compiled steps: need a device, and none could be opened: %s",
                 clnet_last_error());
    } else {
        device = clnet_context_device(ctx)->name;
        if (clnet_net_create(ctx, g, &nopt, &net) != CLNET_STATUS_OK)
            rc = cli_fail("compiling '%s' for %s", model, device);
        for (int b = 0; net && b < n_mem && rc == RC_OK; b++)
            if (clnet_net_memory(net, batches[b], &mem[b]) != CLNET_STATUS_OK)
                rc = cli_fail("planning the memory of '%s' for batch %d", model, batches[b]);
        if (rc != RC_OK)
            snprintf(no_plan, sizeof no_plan,
                     "Memory plan and compiled steps: unavailable, see the error above");
    }

    char b1[32], b2[32];
    uint64_t macs = clnet_graph_macs_per_image(g);
    json jw = {stdout, 0, {0}}, *j = o->json ? &jw : NULL;
    if (j) {
        json_open(j, NULL, '{');
        json_str(j, "model", model);
        print_nodes_json(j, g);
        json_u64(j, "params", clnet_graph_param_count(g));
        json_u64(j, "macs_per_image", macs);
    } else {
        printf("Model: %s\n\n", model);
        print_nodes_text(g);
        printf("%-20s%s\n",
               "Parameters:", cli_fmt_count(clnet_graph_param_count(g), b1, sizeof b1));
        printf("%-20s%s (%.1f M)\n", "MACs per image:", cli_fmt_count(macs, b2, sizeof b2),
               (double)macs / 1e6);
    }
    print_ends(j, g, 0);
    print_ends(j, g, 1);
    if (net && rc == RC_OK) {
        if (j)
            json_str(j, "device", device);
        print_memory(j, device, mem, batches, n_mem);
        if (steps)
            print_steps(j, net, g);
    } else if (j) {
        json_str(j, "memory_note", no_plan);
    } else {
        printf("\n%s\n", no_plan);
    }
    if (j)
        json_close(j, '}');

    clnet_net_destroy(net);
    clnet_context_destroy(ctx);
    clnet_graph_destroy(g);
    return rc;
}
