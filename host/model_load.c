/* Loading a model file of any supported format, recognised by content. */
#include "import.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *clnet_model_format_name(clnet_model_format format) {
    switch (format) {
    case CLNET_FORMAT_CLNET: return "clnet";
    case CLNET_FORMAT_ONNX: return "onnx";
    case CLNET_FORMAT_HDF5: return "hdf5";
    case CLNET_FORMAT_TORCH: return "torch";
    case CLNET_FORMAT_UNKNOWN: break;
    }
    return "unknown";
}

clnet_status clnet_model_detect(const char *path, clnet_model_format *out) {
    if (!path || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_model_detect: NULL argument");
    *out = CLNET_FORMAT_UNKNOWN;
    FILE *f = fopen(path, "rb");
    if (!f)
        return clnet_fail(errno == ENOENT ? CLNET_STATUS_NOT_FOUND : CLNET_STATUS_IO_ERROR,
                          "cannot open '%s': %s", path, strerror(errno));
    unsigned char head[16] = {0};
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);

    static const unsigned char hdf5[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    /* A legacy torch.save file starts with a protocol-2 pickle of a long:
     * PROTO 2, LONG1 of 10 bytes. */
    static const unsigned char torch_legacy[4] = {0x80, 0x02, 0x8a, 0x0a};
    if (n >= 8 && memcmp(head, "CLNETMDL", 8) == 0)
        *out = CLNET_FORMAT_CLNET;
    else if (n >= 8 && memcmp(head, hdf5, 8) == 0)
        *out = CLNET_FORMAT_HDF5;
    else if (n >= 4 && (memcmp(head, torch_legacy, 4) == 0 || memcmp(head, "PK\x03\x04", 4) == 0))
        *out = CLNET_FORMAT_TORCH;
    /* ONNX has no magic number. A ModelProto begins with field 1
     * (ir_version, varint: byte 0x08) in every exporter we know of; the
     * importer validates the rest. */
    else if (n >= 2 && head[0] == 0x08 && head[1] > 0 && head[1] < 0x80)
        *out = CLNET_FORMAT_ONNX;
    else
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "'%s' is not a model file clnet knows: not clnet, ONNX, HDF5 or "
                          "PyTorch (%zu bytes read)",
                          path, n);
    return CLNET_STATUS_OK;
}

clnet_status clnet_model_load(const char *path, const char *arch, clnet_graph **out) {
    if (!path || !out)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_model_load: NULL argument");
    *out = NULL;
    clnet_model_format format;
    CLNET_TRY(clnet_model_detect(path, &format));
    switch (format) {
    case CLNET_FORMAT_CLNET:
    case CLNET_FORMAT_ONNX:
        if (arch)
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                              "'%s' is a %s file, which describes its own graph: an "
                              "architecture ('%s') applies only to weights-only files",
                              path, clnet_model_format_name(format), arch);
        return format == CLNET_FORMAT_CLNET ? clnet_graph_load(path, out)
                                            : clnet_import_onnx(path, out);
    case CLNET_FORMAT_HDF5:
        return clnet_import_hdf5(path, arch, out);
    case CLNET_FORMAT_TORCH:
        if (!arch)
            return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                              "'%s' is a PyTorch state dict, which holds weights only: name "
                              "its architecture (for example resnet20a or resnet20b)",
                              path);
        return clnet_import_torch(path, arch, out);
    case CLNET_FORMAT_UNKNOWN: break;
    }
    return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "'%s': unknown model format", path);
}
