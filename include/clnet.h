/* clnet: build image-classification networks as graphs, the way the Keras
 * functional API does, and run them on any OpenCL device.
 *
 * Conventions of the whole API:
 * - Every fallible function returns a clnet_status; on failure
 *   clnet_last_error() holds one sentence naming what went wrong. The message
 *   is kept per thread and is overwritten by the next failure in that thread.
 * - Objects have one create and one destroy function; destroy accepts NULL.
 * - Tensors are float32 NCHW at the API boundary. Shapes given to and returned
 *   by the API are per image (no batch dimension): the batch size is chosen
 *   when a network is run. */
#ifndef CLNET_H
#define CLNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLNET_VERSION_MAJOR 0
#define CLNET_VERSION_MINOR 1
#define CLNET_VERSION_PATCH 0
#define CLNET_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------ */
/* Status and errors                                                        */

typedef enum clnet_status {
    CLNET_STATUS_OK = 0,
    CLNET_STATUS_INVALID_ARGUMENT,     /* a NULL handle, a negative size, a bad option */
    CLNET_STATUS_SHAPE_MISMATCH,       /* tensors whose shapes cannot be combined */
    CLNET_STATUS_UNSUPPORTED,          /* valid request that clnet does not implement */
    CLNET_STATUS_NOT_FOUND,            /* no layer, device or file of that name */
    CLNET_STATUS_OUT_OF_MEMORY,        /* host allocation failed */
    CLNET_STATUS_DEVICE_NOT_FOUND,     /* no OpenCL platform or no matching device */
    CLNET_STATUS_DEVICE_ERROR,         /* an OpenCL call failed */
    CLNET_STATUS_DEVICE_OUT_OF_MEMORY, /* the device could not allocate a buffer */
    CLNET_STATUS_BUILD_FAILED,         /* an OpenCL program did not compile */
    CLNET_STATUS_IO_ERROR,             /* a file could not be opened, read or written */
    CLNET_STATUS_FORMAT_ERROR,         /* a file is truncated, corrupted or not a model */
    CLNET_STATUS_COUNT
} clnet_status;

/* A short constant name for a status, such as "shape mismatch". */
const char *clnet_status_string(clnet_status status);

/* The sentence describing this thread's most recent failure, or "" if none.
 * The pointer stays valid until the next clnet call in this thread. */
const char *clnet_last_error(void);

/* ------------------------------------------------------------------------ */
/* Devices                                                                  */

typedef enum clnet_device_type {
    CLNET_DEVICE_TYPE_CPU = 1,
    CLNET_DEVICE_TYPE_GPU = 2,
    CLNET_DEVICE_TYPE_ACCELERATOR = 4,
    CLNET_DEVICE_TYPE_OTHER = 8
} clnet_device_type;

typedef struct clnet_device_info {
    int platform_index; /* position in clGetPlatformIDs order */
    int device_index;   /* position within its platform */
    char platform_name[128];
    char platform_vendor[128];
    char platform_version[128];
    char name[256];
    char vendor[128];
    char driver_version[128];
    char device_version[128];   /* "OpenCL 3.0 PoCL ..." */
    char opencl_c_version[128]; /* "OpenCL C 1.2 ..." */
    clnet_device_type type;
    unsigned compute_units;
    unsigned max_clock_mhz;
    uint64_t global_mem_bytes;
    uint64_t local_mem_bytes;
    uint64_t max_alloc_bytes;
    size_t max_work_group_size;
    int has_fp16;
    int has_fp64;
    int has_compiler; /* 0 on devices that only load pre-built binaries */
    /* Floats per native vector (CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT): 16 on
     * CPUs with AVX-512, 8 with AVX2, often 1 on GPUs. */
    unsigned native_float_width;
} clnet_device_info;

/* "cpu", "gpu", "accelerator" or "other": the words selectors use. */
const char *clnet_device_type_name(clnet_device_type type);

/* Lists every device of every OpenCL platform. On success *out is an array
 * of *count entries owned by the caller; release it with free(). A machine
 * without any OpenCL platform gives CLNET_STATUS_DEVICE_NOT_FOUND. */
clnet_status clnet_device_list(clnet_device_info **out, size_t *count);

/* Chooses a device. selector may be NULL, in which case the environment
 * variable CLNET_DEVICE is used if set, else the default: the first GPU, else
 * the first accelerator, else the first CPU. A selector is
 * "P:D" (platform and device index), "gpu", "cpu", "accelerator", or a
 * case-insensitive substring of the device name. */
clnet_status clnet_device_select(const char *selector, clnet_device_info *out);

/* ------------------------------------------------------------------------ */
/* Context: an opened device with its command queue and compiled kernels    */

typedef struct clnet_context clnet_context;

typedef struct clnet_context_options {
    int profiling; /* enable OpenCL profiling events (per-step timing); default 0 */
} clnet_context_options;

/* Opens the device chosen by selector (see clnet_device_select). options may
 * be NULL for defaults. Kernels are compiled on first use; a compiler failure
 * is reported as CLNET_STATUS_BUILD_FAILED with the build log in the message. */
clnet_status clnet_context_create(const char *selector, const clnet_context_options *options,
                                  clnet_context **out);
void clnet_context_destroy(clnet_context *ctx);

/* The device this context runs on. The pointer lives as long as ctx. */
const clnet_device_info *clnet_context_device(const clnet_context *ctx);

/* Compiles every embedded kernel program once, with its default build
 * options: a check that the device's compiler accepts them all. The
 * variants that networks use (tile sizes and fused prologues and epilogues
 * given as build options) are compiled when a network is first built on the
 * context, and cached on disk; `clnet compile` builds them ahead of time.
 * Optional. */
clnet_status clnet_context_build_all(clnet_context *ctx);

/* Program binaries. Built programs are cached on disk, keyed by kernel
 * source, build options, platform, device, driver and clnet version, in
 * CLNET_CACHE_DIR (default $XDG_CACHE_HOME/clnet, else ~/.cache/clnet;
 * CLNET_CACHE=0 turns the cache off; on PoCL, which caches its kernels
 * itself, it is off unless CLNET_CACHE=1); a later process loads them
 * instead of compiling, and a corrupt entry is rebuilt. With
 * CLNET_BINARY_DIR set, a
 * context never compiles: it loads every program from that folder, as a
 * device without a compiler must. clnet_context_export_programs writes the
 * programs this context has built into such a folder; *count (may be
 * NULL) receives how many. */
clnet_status clnet_context_export_programs(clnet_context *ctx, const char *dir, int *count);

/* How many programs this context compiled from source, and how many it
 * loaded as binaries from disk. */
void clnet_context_program_counts(const clnet_context *ctx, int *compiled, int *from_disk);

/* ------------------------------------------------------------------------ */
/* Graphs: symbolic tensors and layers called on them                       */

typedef struct clnet_graph clnet_graph;
typedef struct clnet_layer clnet_layer;

/* A symbolic tensor: the output of one call of a layer (or a graph input).
 * Valid only with the graph that made it. */
typedef struct clnet_tensor {
    int32_t id;
} clnet_tensor;

/* A per-image shape. rank 3 is channels x height x width; rank 1 is a flat
 * vector of c features (h = w = 1). */
typedef struct clnet_shape {
    int rank;
    int c, h, w;
} clnet_shape;

typedef enum clnet_op {
    CLNET_OP_INPUT = 0,
    CLNET_OP_CONV2D,
    CLNET_OP_BATCHNORM,
    CLNET_OP_ACTIVATION,
    CLNET_OP_ADD,
    CLNET_OP_CONCAT,
    CLNET_OP_AVGPOOL,
    CLNET_OP_MAXPOOL,
    CLNET_OP_GLOBAL_AVGPOOL,
    CLNET_OP_FLATTEN,
    CLNET_OP_DENSE,
    CLNET_OP_SOFTMAX,
    CLNET_OP_DROPOUT,
    CLNET_OP_PAD,
    CLNET_OP_SLICE,
    CLNET_OP_MULTIPLY,
    CLNET_OP_SUBTRACT,
    CLNET_OP_CHANNEL_AFFINE,
    CLNET_OP_CLIP,
    CLNET_OP_COUNT
} clnet_op;

/* "conv2d", "batchnorm", ... as used in messages, files and `clnet info`. */
const char *clnet_op_name(clnet_op op);

typedef enum clnet_activation {
    CLNET_ACT_LINEAR = 0,
    CLNET_ACT_RELU,
    CLNET_ACT_SOFTMAX, /* over channels (per pixel for rank-3 tensors) */
    CLNET_ACT_SIGMOID  /* 1 / (1 + exp(-x)) */
} clnet_activation;

typedef enum clnet_padding {
    CLNET_PADDING_SAME = 0, /* TensorFlow rule: out = ceil(in / stride), extra pixel after */
    CLNET_PADDING_VALID,    /* no padding: out = floor((in - k_eff) / stride) + 1 */
    CLNET_PADDING_EXPLICIT  /* pad_top/bottom/left/right as given */
} clnet_padding;

typedef enum clnet_initializer {
    CLNET_INIT_HE_NORMAL = 0, /* truncated normal, std sqrt(2 / fan_in) / 0.87962566 */
    CLNET_INIT_GLOROT_UNIFORM /* U(-l, l), l = sqrt(6 / (fan_in + fan_out)) */
} clnet_initializer;

typedef struct clnet_conv2d_desc {
    int filters;
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int dilation_h, dilation_w;
    clnet_padding padding;
    int pad_top, pad_bottom, pad_left, pad_right; /* used with CLNET_PADDING_EXPLICIT */
    int use_bias;
    clnet_activation activation;
    clnet_initializer kernel_initializer;
} clnet_conv2d_desc;

/* A square kernel, stride 1, dilation 1, 'same' padding, bias, linear
 * activation, he_normal: the Keras Conv2D defaults of the book's recipe. */
clnet_conv2d_desc clnet_conv2d_defaults(int filters, int kernel_size);

typedef struct clnet_pool2d_desc {
    int pool_h, pool_w;
    int stride_h, stride_w;
    clnet_padding padding;
    int pad_top, pad_bottom, pad_left, pad_right; /* used with CLNET_PADDING_EXPLICIT */
} clnet_pool2d_desc;

/* pool x pool window, stride = pool, 'valid': Keras AveragePooling2D(pool). */
clnet_pool2d_desc clnet_pool2d_defaults(int pool_size);

typedef struct clnet_dense_desc {
    int units;
    int use_bias;
    clnet_activation activation;
    clnet_initializer kernel_initializer;
} clnet_dense_desc;

/* Creates an empty graph. Release with clnet_graph_destroy(), which also
 * frees its layers and their weights. */
clnet_status clnet_graph_create(clnet_graph **out);
void clnet_graph_destroy(clnet_graph *g);

/* Adds an input of the given per-image shape (rank 3). name may be NULL. */
clnet_status clnet_graph_input(clnet_graph *g, const char *name, int channels, int height,
                               int width, clnet_tensor *out);

/* Layer constructors. name may be NULL for an automatic Keras-style name
 * ("conv2d_3"); names must be unique within the graph. The graph owns the
 * layer. Weights are allocated when the layer is first called, once the
 * input channel count is known. */
clnet_status clnet_layer_conv2d(clnet_graph *g, const char *name, const clnet_conv2d_desc *desc,
                                clnet_layer **out);
/* Inference batch normalisation from moving statistics, per channel. */
clnet_status clnet_layer_batchnorm(clnet_graph *g, const char *name, float epsilon,
                                   clnet_layer **out);
clnet_status clnet_layer_activation(clnet_graph *g, const char *name, clnet_activation act,
                                    clnet_layer **out);
/* Element-wise sum of two or more tensors of equal shape. */
clnet_status clnet_layer_add(clnet_graph *g, const char *name, clnet_layer **out);
/* Concatenation along channels, in the order of the call's inputs. */
clnet_status clnet_layer_concat(clnet_graph *g, const char *name, clnet_layer **out);
/* Average pooling divides by the number of window elements inside the
 * input (padding excluded), as Keras and ONNX's default do. */
clnet_status clnet_layer_avgpool(clnet_graph *g, const char *name, const clnet_pool2d_desc *desc,
                                 clnet_layer **out);
clnet_status clnet_layer_maxpool(clnet_graph *g, const char *name, const clnet_pool2d_desc *desc,
                                 clnet_layer **out);
/* Mean over height and width; the output is flat (rank 1). */
clnet_status clnet_layer_global_avgpool(clnet_graph *g, const char *name, clnet_layer **out);
/* Rank 3 to rank 1 in NCHW order: index = (c * h + y) * w + x. */
clnet_status clnet_layer_flatten(clnet_graph *g, const char *name, clnet_layer **out);
/* A fully connected layer on a flat input. */
clnet_status clnet_layer_dense(clnet_graph *g, const char *name, const clnet_dense_desc *desc,
                               clnet_layer **out);
/* Softmax over channels (per pixel for rank-3 tensors). */
clnet_status clnet_layer_softmax(clnet_graph *g, const char *name, clnet_layer **out);
/* Identity at inference; the rate is kept for training. */
clnet_status clnet_layer_dropout(clnet_graph *g, const char *name, float rate, clnet_layer **out);

/* Constant padding of a rank-3 tensor: rows, columns and channels added
 * before and after, filled with value. */
typedef struct clnet_pad_desc {
    int top, bottom, left, right;
    int channels_before, channels_after;
    float value;
} clnet_pad_desc;
clnet_status clnet_layer_pad(clnet_graph *g, const char *name, const clnet_pad_desc *desc,
                             clnet_layer **out);

/* Strided slicing of a rank-3 tensor along channels, rows and columns
 * (axes 0, 1, 2): elements begin, begin + step, ... below end. begin >= 0;
 * an end beyond the axis is clamped to it; step >= 1. */
typedef struct clnet_slice_desc {
    int begin[3], end[3], step[3];
} clnet_slice_desc;
/* The whole tensor: begin 0, end INT32_MAX, step 1 on every axis. */
clnet_slice_desc clnet_slice_defaults(void);
clnet_status clnet_layer_slice(clnet_graph *g, const char *name, const clnet_slice_desc *desc,
                               clnet_layer **out);

/* Element-wise product of two or more tensors of equal shape. */
clnet_status clnet_layer_multiply(clnet_graph *g, const char *name, clnet_layer **out);
/* Element-wise difference of two tensors of equal shape: first - second. */
clnet_status clnet_layer_subtract(clnet_graph *g, const char *name, clnet_layer **out);
/* x * scale[c] + shift[c] per channel (weights "scale" and "shift",
 * initialised to 1 and 0): arithmetic with per-channel or scalar constants. */
clnet_status clnet_layer_channel_affine(clnet_graph *g, const char *name, clnet_layer **out);
/* min(max(x, lo), hi); ReLU6 is clip(0, 6). */
clnet_status clnet_layer_clip(clnet_graph *g, const char *name, float lo, float hi,
                              clnet_layer **out);

/* Calls a layer on tensors and adds the resulting node to the graph. The
 * output shape is inferred here; a mismatch fails with
 * CLNET_STATUS_SHAPE_MISMATCH naming the layer and the shapes. Calling one
 * layer several times shares its weights between the calls. */
clnet_status clnet_layer_call(clnet_layer *layer, const clnet_tensor *inputs, int n_inputs,
                              clnet_tensor *out);
/* Shorthand for calling a single-input layer. */
clnet_status clnet_layer_call1(clnet_layer *layer, clnet_tensor input, clnet_tensor *out);

/* Declares the graph's outputs, in order. Required before compiling. */
clnet_status clnet_graph_set_outputs(clnet_graph *g, const clnet_tensor *outputs, int n_outputs);

/* Makes each output that ends in a softmax (a softmax layer or activation,
 * or a conv2d/dense layer with softmax activation, whose activation becomes
 * linear) give the values before it: the logits. *removed (may be NULL)
 * receives how many softmaxes were removed. Useful to read logits, and to
 * compare engines where a saturated softmax would hide differences. */
clnet_status clnet_graph_strip_final_softmax(clnet_graph *g, int *removed);

/* Graph queries. */
int clnet_graph_input_count(const clnet_graph *g);
int clnet_graph_output_count(const clnet_graph *g);
clnet_tensor clnet_graph_input_at(const clnet_graph *g, int index);
clnet_tensor clnet_graph_output_at(const clnet_graph *g, int index);
clnet_status clnet_tensor_shape(const clnet_graph *g, clnet_tensor t, clnet_shape *out);
/* Number of elements of one image of a shape. */
size_t clnet_shape_size(clnet_shape s);

/* Nodes in the order they were added, which is a valid execution order. A
 * node is one call of a layer or one graph input; node i produces tensor i. */
int clnet_graph_node_count(const clnet_graph *g);

#define CLNET_MAX_NODE_INPUTS_SHOWN 8
typedef struct clnet_node_info {
    const char *name; /* the layer's name, or the input's name */
    clnet_op op;
    clnet_layer *layer; /* NULL for graph inputs */
    int n_inputs;
    int32_t inputs[CLNET_MAX_NODE_INPUTS_SHOWN]; /* first input tensor ids */
    clnet_shape output_shape;
    uint64_t params;          /* weights of the layer, counted at its first call only */
    uint64_t macs_per_image;  /* multiply-accumulates of this call for one image */
} clnet_node_info;
clnet_status clnet_graph_node_info(const clnet_graph *g, int index, clnet_node_info *out);

/* Layers in creation order. */
int clnet_graph_layer_count(const clnet_graph *g);
clnet_layer *clnet_graph_layer_at(const clnet_graph *g, int index);
clnet_status clnet_graph_find_layer(const clnet_graph *g, const char *name, clnet_layer **out);
const char *clnet_layer_name(const clnet_layer *layer);
clnet_op clnet_layer_op(const clnet_layer *layer);

/* Every weight, moving statistics included, as Keras model.summary() counts. */
uint64_t clnet_graph_param_count(const clnet_graph *g);
/* Multiply-accumulates per image of a whole forward pass. */
uint64_t clnet_graph_macs_per_image(const clnet_graph *g);

/* Weights of a layer. Names: conv2d and dense "kernel", "bias"; batchnorm
 * "gamma", "beta", "moving_mean", "moving_variance". Layouts: conv2d kernel
 * [filters][in_channels][kh][kw] (OIHW), dense kernel [units][in] (out x in). */
#define CLNET_MAX_WEIGHT_RANK 4
typedef struct clnet_weight_info {
    const char *name;
    int rank;
    int dims[CLNET_MAX_WEIGHT_RANK];
    size_t count;
    float *data; /* owned by the layer; writable */
} clnet_weight_info;
int clnet_layer_weight_count(const clnet_layer *layer); /* 0 before the first call */
clnet_status clnet_layer_weight(clnet_layer *layer, int index, clnet_weight_info *out);
clnet_status clnet_layer_set_weight(clnet_layer *layer, const char *name, const float *data,
                                    size_t count);

/* Initialises every weight as the Keras recipe does, deterministically from
 * seed: kernels by their initializer, biases 0, gamma 1, beta 0, moving mean
 * 0, moving variance 1. */
clnet_status clnet_graph_init_weights(clnet_graph *g, uint64_t seed);

/* Runs the graph on the host in plain C, accumulating in double: the
 * reference every device result is checked against. inputs[i] holds batch
 * images of input i; outputs[i] receives batch images of output i. */
clnet_status clnet_graph_run_reference(const clnet_graph *g, int batch,
                                       const float *const *inputs, float *const *outputs);

/* Saves a graph with its weights in clnet's model format (docs/model-format.md):
 * versioned, checksummed, little-endian. */
clnet_status clnet_graph_save(const clnet_graph *g, const char *path);
/* Loads a file written by clnet_graph_save. A truncated or corrupted file is
 * rejected with CLNET_STATUS_FORMAT_ERROR. */
clnet_status clnet_graph_load(const char *path, clnet_graph **out);

/* ------------------------------------------------------------------------ */
/* Built-in networks (../MODELS.md conventions: Keras layer names and order) */

/* ResNet v1, depth 6n+2, on inputs of channels x height x width. */
clnet_status clnet_model_resnet_v1(int depth, int channels, int height, int width,
                                   int num_classes, clnet_graph **out);
/* ResNet v2 (pre-activation bottleneck), depth 9n+2. */
clnet_status clnet_model_resnet_v2(int depth, int channels, int height, int width,
                                   int num_classes, clnet_graph **out);

typedef struct clnet_densenet_desc {
    int depth;         /* 100 for DenseNet-BC-100 */
    int growth_rate;   /* k */
    int num_blocks;    /* dense blocks */
    float compression; /* channel factor of each transition, 0.5 for -BC */
    int num_classes;
    int channels, height, width;
} clnet_densenet_desc;
clnet_status clnet_model_densenet(const clnet_densenet_desc *desc, clnet_graph **out);

/* The two-branch Y-network on 28x28x1 images: two inputs, one output. */
clnet_status clnet_model_ynet(int num_classes, clnet_graph **out);

/* Builds a network by name: "resnet20v1", "resnet56v2", "densenet100",
 * "densenet100k24", "ynet". CIFAR-10 shapes (3x32x32, 10 classes). Weights
 * are initialised from seed. */
clnet_status clnet_model_builtin(const char *name, uint64_t seed, clnet_graph **out);

/* Loads a model by name or path: a built-in name, else a model file of
 * any format clnet_model_load reads (with no architecture). */
clnet_status clnet_model_open(const char *name_or_path, uint64_t seed, clnet_graph **out);

/* ------------------------------------------------------------------------ */
/* Trained networks from other frameworks                                   */

typedef enum clnet_model_format {
    CLNET_FORMAT_UNKNOWN = 0,
    CLNET_FORMAT_CLNET,    /* clnet_graph_save */
    CLNET_FORMAT_ONNX,     /* ONNX protobuf */
    CLNET_FORMAT_HDF5,     /* Keras: a whole model (model_config) or weights only */
    CLNET_FORMAT_TORCH     /* PyTorch torch.save: legacy pickle or zip */
} clnet_model_format;
const char *clnet_model_format_name(clnet_model_format format);

/* Tells a model file's format from its first bytes. */
clnet_status clnet_model_detect(const char *path, clnet_model_format *out);

/* Loads a model file by its content. Files that describe their graph (clnet,
 * ONNX, Keras HDF5 with model_config) need no `arch` (pass NULL). Files that
 * hold weights only (PyTorch state dicts, Keras weights-only HDF5, Keras 1
 * Theano files) are loaded into the built-in architecture named by `arch`:
 * "resnet<depth>a" / "resnet<depth>b" (PyTorch CIFAR ResNets with shortcut
 * option A or B), the Keras-book names ("resnet20v1", "resnet56v2", ...),
 * or "densenet40fast". Anything unsupported (an op, an attribute, a layout)
 * fails with CLNET_STATUS_UNSUPPORTED naming it; a malformed file with
 * CLNET_STATUS_FORMAT_ERROR. */
clnet_status clnet_model_load(const char *path, const char *arch, clnet_graph **out);

/* ------------------------------------------------------------------------ */
/* Input images                                                             */

/* How 8-bit pixels become network input: scale to [0, 1] (unless raw keeps
 * 0-255), subtract a per-pixel mean image if given, then per channel
 * subtract mean[c] and divide by std[c] if has_mean_std. Channels are RGB
 * unless bgr reverses them (applied first, to the pixels). */
typedef struct clnet_preprocess {
    int raw;
    const float *mean_image; /* [channels][height][width] or NULL */
    int has_mean_std;
    float mean[3], std[3];
    int bgr;
} clnet_preprocess;
clnet_preprocess clnet_preprocess_defaults(void); /* scale to [0, 1], nothing else */

/* Converts n planar images of channels x height x width bytes (the
 * CIFAR-10 layout) to float32 NCHW. channels is 1 or 3. */
clnet_status clnet_preprocess_images(const clnet_preprocess *p, const uint8_t *pixels, int n,
                                     int channels, int height, int width, float *out);

/* Reads a CIFAR-10 binary batch file: records of 1 label byte and 3 x 32 x
 * 32 planar pixels. At most `limit` records (0: all). *pixels and *labels
 * are allocated for the caller (free()). */
clnet_status clnet_cifar_read(const char *path, int limit, uint8_t **pixels, uint8_t **labels,
                              int *count);

/* Decodes a PNG or JPEG file to planar 8-bit RGB (grey images are
 * expanded to three channels). *pixels is allocated for the caller. */
clnet_status clnet_image_read(const char *path, uint8_t **pixels, int *height, int *width);

/* ------------------------------------------------------------------------ */
/* Compiled networks                                                        */

typedef struct clnet_net clnet_net;

typedef enum clnet_conv_algo {
    CLNET_CONV_AUTO = 0,
    CLNET_CONV_DIRECT,      /* one work-item per output pixel */
    CLNET_CONV_IM2COL_GEMM, /* unfold patches, then a GEMM */
    CLNET_CONV_GEMM_1X1,    /* 1x1 stride-1 unpadded convolutions as a plain GEMM */
    /* Winograd F(2x2,3x3) and F(4x4,3x3) for 3x3 stride-1 dilation-1
     * convolutions (2.25 and 4 times fewer multiplications, with a rounding
     * error a few times float's); other convolutions fall back to AUTO's
     * choice. */
    CLNET_CONV_WINOGRAD_2X2,
    CLNET_CONV_WINOGRAD_4X4
} clnet_conv_algo;
const char *clnet_conv_algo_name(clnet_conv_algo algo);

typedef enum clnet_gemm_backend {
    CLNET_GEMM_AUTO = 0, /* chosen per device */
    CLNET_GEMM_CLNET,    /* clnet's own OpenCL kernel */
    CLNET_GEMM_CLBLAST
} clnet_gemm_backend;
const char *clnet_gemm_backend_name(clnet_gemm_backend backend);

typedef struct clnet_net_options {
    int fold_batchnorm;   /* fold inference BN into the preceding convolution; default 1 */
    int fuse_activations; /* run ReLU inside the producing kernel; default 1 */
    int reuse_memory;     /* share activation buffers between tensors; default 1 */
    int concat_in_place;  /* producers write straight into their concat slice; default 1 */
    /* Run a batch norm (+ ReLU) that only feeds a convolution as that
     * convolution's input prologue, and a residual add (+ ReLU) of a
     * convolution's result as its epilogue, where the chosen algorithm can;
     * default 1. */
    int fuse_into_conv;
    clnet_conv_algo conv_algo; /* force an algorithm where it applies; default AUTO */
    clnet_gemm_backend gemm_backend;
    /* Fill activation memory with NaN before each run, so that an element
     * no kernel wrote shows up in the outputs. For testing; default 0. */
    int poison_activations;
    /* Images per pass through the network: a larger batch runs as passes
     * of this many images one after another over the memory of one pass.
     * 0 (default): the device's choice: on CPUs passes of up to 32 images
     * within 32 MiB of activations, so that they stay in the caches; on
     * other devices the whole batch; on all, no more images than fit one
     * device buffer and the 2^31 floats of the kernels' indexing. A
     * positive value fixes it. */
    int batch_chunk;
} clnet_net_options;
clnet_net_options clnet_net_options_default(void);

/* Compiles a graph for a device. The graph's weights are copied to the
 * device (folded where options allow); later changes to the graph need
 * clnet_net_update_weights(). The graph must outlive the net, which keeps
 * referring to its unfused structure. */
clnet_status clnet_net_create(clnet_context *ctx, const clnet_graph *g,
                              const clnet_net_options *options, clnet_net **out);
void clnet_net_destroy(clnet_net *net);
clnet_status clnet_net_update_weights(clnet_net *net);

/* Uploads batch images per input, runs, and reads the outputs back:
 * inputs[i] and outputs[i] are NCHW float32 arrays of batch images. Device
 * buffers grow on demand; kernels are not recompiled for a new batch size.
 * A batch larger than the net's pass size runs pass by pass. */
clnet_status clnet_net_run(clnet_net *net, int batch, const float *const *inputs,
                           float *const *outputs);

/* Device memory of the plan for a batch size: activations (after buffer
 * reuse), weights, and scratch space of the algorithms chosen, for the
 * images of one pass (see batch_chunk). */
typedef struct clnet_memory_report {
    uint64_t activation_bytes;
    uint64_t activation_bytes_without_reuse;
    uint64_t weight_bytes;
    uint64_t scratch_bytes;
} clnet_memory_report;
clnet_status clnet_net_memory(const clnet_net *net, int batch, clnet_memory_report *out);
/* Images per pass through the network for a batch: batch itself, or the
 * smaller pass size that clnet_net_run uses (0 for a NULL net). */
int clnet_net_pass_images(const clnet_net *net, int batch);

/* The compiled steps (after folding and fusion), in execution order. */
int clnet_net_step_count(const clnet_net *net);
typedef struct clnet_step_info {
    const char *label;     /* layer names joined by '+', e.g. "conv2d_1+batch_normalization_1" */
    const char *kernel;    /* algorithm, e.g. "conv2d_direct", "conv2d_im2col_gemm(clblast)" */
    int node;              /* graph node producing the step's output */
    uint64_t macs_per_image;
    double last_ms;        /* device time of the last run, with profiling on; else -1 */
} clnet_step_info;
clnet_status clnet_net_step_info(const clnet_net *net, int index, clnet_step_info *out);

/* ------------------------------------------------------------------------ */
/* Tuning: the fastest convolution algorithm per layer shape on a device    */
/*
 * A tuning table maps convolution shapes to the algorithm measured fastest
 * on one device (docs/tuning.md). A context loads the table of its device
 * when it opens: the file CLNET_TUNING_FILE names, else
 * <cache>/tuning/<device>-<hash>.json, where <cache> is CLNET_CACHE_DIR,
 * else $XDG_CACHE_HOME/clnet, else ~/.cache/clnet, and the hash covers the
 * device name, driver version, platform and clnet version. CLNET_TUNING=0
 * skips loading. A missing file is silent; a file measured with another
 * device, driver or clnet version, or a malformed one, is ignored with a
 * log line. Nets created with CLNET_CONV_AUTO then use the tuned algorithm
 * of every convolution whose shape the table holds (when that algorithm
 * can run it); the built-in rule chooses for the others. */

/* One past the last clnet_conv_algo: the size of arrays indexed by it. */
#define CLNET_CONV_ALGO_COUNT (CLNET_CONV_WINOGRAD_4X4 + 1)

/* Everything that identifies a convolution call to the tuning table. */
typedef struct clnet_conv_shape {
    int in_c, in_h, in_w;
    int out_c, out_h, out_w;
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int dilation_h, dilation_w;
    int pad_top, pad_bottom, pad_left, pad_right;
} clnet_conv_shape;

typedef struct clnet_tuning_entry {
    clnet_conv_shape shape;
    clnet_conv_algo algo; /* the algorithm AUTO uses for this shape */
    int batch;            /* images per run when measured; 0 if not recorded */
    /* Measured milliseconds per layer of this shape, by algorithm, for
     * information; -1 where not measured. */
    double ms[CLNET_CONV_ALGO_COUNT];
} clnet_tuning_entry;

/* The context's table: its entries in order, and the file it was loaded
 * from ("" when none; the string lives until the table is replaced). */
int clnet_tuning_entry_count(const clnet_context *ctx);
clnet_status clnet_tuning_entry_at(const clnet_context *ctx, int index, clnet_tuning_entry *out);
const char *clnet_tuning_source(const clnet_context *ctx);
/* Kernels whose parameters, from the table's "clblast" section, CLBlast
 * accepted for the context's device (0 without a table or section; see
 * docs/tuning.md). */
int clnet_tuning_clblast_kernels(const clnet_context *ctx);

/* The table's GEMM section: per GEMM shape, the configuration (register
 * blocking on CPUs, tile shape on GPUs) of clnet's own GEMM kernel that
 * ran fastest on the device; clnet_gemm uses it for calls of that shape
 * (docs/tuning.md). */
typedef struct clnet_tuning_gemm_entry {
    const char *kernel;         /* "gemm_block" (CPUs) or "gemm_tiled" (GPUs) */
    int m, n, k, batch;         /* C is M x N per batch entry, K deep */
    int prologue;               /* 0 none, 1 batch norm on B, 2 batch norm and ReLU */
    char config[48];            /* e.g. "block 8x6x2/4": see docs/tuning.md */
    int is_default;             /* whether config is the device's default */
    double ms, default_ms;      /* median device ms per call, -1 if not recorded */
} clnet_tuning_gemm_entry;
int clnet_tuning_gemm_count(const clnet_context *ctx);
clnet_status clnet_tuning_gemm_entry_at(const clnet_context *ctx, int index,
                                        clnet_tuning_gemm_entry *out);
/* Builds the programs the table's GEMM configurations need (`clnet
 * compile` does, so that binary-only runs find them). */
clnet_status clnet_tuning_build_programs(clnet_context *ctx);

/* The file a context of this device loads and clnet_tuning_save(ctx, NULL)
 * writes: CLNET_TUNING_FILE if set, else the default path above. Fails with
 * CLNET_STATUS_NOT_FOUND when no cache folder is known (no CLNET_CACHE_DIR,
 * XDG_CACHE_HOME or HOME) and with CLNET_STATUS_INVALID_ARGUMENT when the
 * path does not fit in size bytes. */
clnet_status clnet_tuning_default_path(const clnet_context *ctx, char *buf, size_t size);

/* Replaces the context's table with the file at path, which must have been
 * measured on this device, driver and clnet version. A missing file fails
 * with CLNET_STATUS_NOT_FOUND, a malformed one with
 * CLNET_STATUS_FORMAT_ERROR, one measured elsewhere with
 * CLNET_STATUS_UNSUPPORTED; the table is then left as it was. Entries
 * whose algorithm cannot run their shape are dropped with a warning. Nets
 * created before keep the algorithms they were planned with. */
clnet_status clnet_tuning_load(clnet_context *ctx, const char *path);

/* Empties the context's table: nets created afterwards use the built-in
 * rule (the file on disk is untouched). */
void clnet_tuning_clear(clnet_context *ctx);

/* Writes the context's table to path (NULL: clnet_tuning_default_path),
 * creating missing folders. The file is written under a temporary name and
 * renamed, so that a reader never sees half of it. */
clnet_status clnet_tuning_save(const clnet_context *ctx, const char *path);

/* What clnet_tune_graph measured for one convolution of the graph. */
typedef struct clnet_tune_layer {
    int node;         /* the convolution's graph node */
    const char *name; /* its layer name; lives as long as the graph */
    clnet_conv_shape shape;
    /* Median milliseconds of the layer per algorithm (its step plus the
     * steps of the nodes other algorithms fuse into it); -1 where the
     * algorithm cannot run it or could not be measured. */
    double ms[CLNET_CONV_ALGO_COUNT];
    clnet_conv_algo fastest; /* the fastest for this layer alone */
    clnet_conv_algo chosen;  /* entered for its shape: the fastest over all layers of that shape */
} clnet_tune_layer;

typedef struct clnet_tune_report {
    int n_layers;
    clnet_tune_layer *layers; /* n_layers, in graph order; owned by the report */
    int n_shapes;             /* distinct shapes entered in the table */
    int n_candidates;         /* algorithms measured, one net each */
    /* GEMM configurations: the distinct GEMM calls of the tuned net
     * (clnet's own kernel), each timed in every candidate configuration;
     * gemms[i] is entered in the table's GEMM section. */
    int n_gemms;
    clnet_tuning_gemm_entry *gemms; /* owned by the report */
    double seconds;                 /* wall-clock time of the whole tuning */
} clnet_tune_report;
void clnet_tune_report_free(clnet_tune_report *report); /* accepts NULL; keeps the struct */

/* Measures every convolution algorithm on every convolution of g on the
 * context's device and enters the fastest per shape into the context's
 * table, which nets created afterwards with CLNET_CONV_AUTO use (save it
 * with clnet_tuning_save). For each algorithm a net forcing it is built
 * and run `repeats` times, after one warm-up run, on batch images of
 * uniform random input, with OpenCL profiling (a context opened without
 * profiling gets a profiling queue for the duration). report may be NULL.
 * An algorithm whose net cannot be built or run on the device is skipped
 * with a warning. Then, where the net with the chosen algorithms runs
 * GEMMs through clnet's own kernels, each distinct GEMM call is timed
 * alone (on random data, `repeats` profiled calls after a warm-up) in
 * every candidate configuration of the kernel, and the fastest enters the
 * table's GEMM section. Not thread-safe with other uses of ctx. */
clnet_status clnet_tune_graph(clnet_context *ctx, const clnet_graph *g, int batch, int repeats,
                              clnet_tune_report *report);

#ifdef __cplusplus
}
#endif

#endif /* CLNET_H */
