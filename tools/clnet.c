/* clnet: the command-line tool. Lists OpenCL devices, summarises models,
 * runs and checks networks, evaluates and converts trained models, and
 * classifies images. This file dispatches to the commands. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char HELP_MAIN[] =
    "usage: clnet [--device SEL] [--json] COMMAND [OPTIONS]\n"
    "\n"
    "Builds image-classification networks and runs them on OpenCL devices.\n"
    "\n"
    "Commands:\n"
    "  devices          list every OpenCL platform and device\n"
    "  info MODEL       layers, shapes, parameters, MACs and memory plan of a model\n"
    "  run MODEL        run a model on a device, check it against the host reference, time it\n"
    "  selftest         run and check every built-in network\n"
    "  eval MODEL       top-1 accuracy of a model on a CIFAR-10 binary file\n"
    "  classify MODEL IMAGE...\n"
    "                   the top classes of PNG or JPEG images\n"
    "  convert IN OUT   save a model of any format as a clnet model file\n"
    "  compile --out D  write the program binaries a device needs, for CLNET_BINARY_DIR\n"
    "  tune MODEL       measure the convolution algorithms on the device, keep the fastest\n"
    "\n"
    "Options of every command:\n"
    "  --device SEL   \"P:D\" (platform:device index), gpu, cpu, accelerator, or part of\n"
    "                 the device name (default: $CLNET_DEVICE, else the first GPU,\n"
    "                 else accelerator, else CPU)\n"
    "  --json         print one JSON document on stdout instead of text\n"
    "  -h, --help     show the help of a command\n"
    "  --version      print the version\n"
    "\n"
    "MODEL is a built-in name (resnet20v1, resnet32v1, resnet44v1, resnet56v1,\n"
    "resnet110v1, resnet20v2, resnet56v2, resnet110v2, densenet100, densenet100k24,\n"
    "ynet; random weights from a seed) or a model file: clnet (.clnet), ONNX, Keras\n"
    "HDF5, or a PyTorch state dict (.pth, .th, .pt), recognised by content.\n"
    "Files that hold weights only need --arch NAME, the architecture to load them\n"
    "into: resnet<depth>a or resnet<depth>b (PyTorch CIFAR ResNets, shortcut option\n"
    "A or B, e.g. resnet20a), the Keras-book names (resnet20v1, resnet56v2, ...), or\n"
    "densenet40fast (the Keras 1 DenseNet-40-12 'fast').\n"
    "Exit status: 0 success, 1 runtime failure or failed check, 2 usage error.\n";

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv) {
    cli_opts o = {NULL, 0};
    int i = 1;

    /* Common options may come before the command as well as after it. */
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(HELP_MAIN, stdout);
            return RC_OK;
        } else if (!strcmp(arg, "--version")) {
            if (o.json)
                printf("{\"version\":\"%s\"}\n", CLNET_VERSION_STRING);
            else
                printf("clnet %s\n", CLNET_VERSION_STRING);
            return RC_OK;
        } else if (!strcmp(arg, "--json")) {
            o.json = 1;
        } else if (!strcmp(arg, "--device") && i + 1 < argc) {
            o.device = argv[++i];
        } else if (!strncmp(arg, "--device=", 9)) {
            o.device = arg + 9;
        } else {
            return cli_usage_error(NULL, "unknown or incomplete option '%s'", arg);
        }
    }
    if (i == argc) {
        fputs(HELP_MAIN, stderr);
        return RC_USAGE;
    }

    const char *cmd = argv[i];
    int sub_argc = argc - i - 1;
    char **sub_argv = argv + i + 1;
    if (!strcmp(cmd, "devices"))
        return cmd_devices(sub_argc, sub_argv, &o);
    if (!strcmp(cmd, "info"))
        return cmd_info(sub_argc, sub_argv, &o);
    if (!strcmp(cmd, "run"))
        return cmd_run(sub_argc, sub_argv, &o);
    if (!strcmp(cmd, "selftest"))
        return cmd_selftest(sub_argc, sub_argv, &o);
    if (!strcmp(cmd, "eval"))
        return cmd_eval(sub_argc, sub_argv, &o);
    if (!strcmp(cmd, "classify"))
        return cmd_classify(sub_argc, sub_argv, &o);
    if (!strcmp(cmd, "convert"))
        return cmd_convert(sub_argc, sub_argv, &o);
    if (!strcmp(cmd, "compile"))
        return cmd_compile(sub_argc, sub_argv, &o);
    if (!strcmp(cmd, "tune"))
        return cmd_tune(sub_argc, sub_argv, &o);
    if (!strcmp(cmd, "help")) {
        fputs(HELP_MAIN, stdout);
        return RC_OK;
    }
    return cli_usage_error(
        NULL, "unknown command '%s' (devices, info, run, selftest, eval, classify, convert, "
        "compile, tune)",
        cmd);
}
