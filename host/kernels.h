/* Launchers of the device kernels, one family per file (conv2d.c, gemm.c,
 * elementwise.c, pool.c, dense.c, softmax.c). They enqueue work and return;
 * nothing here waits for the device.
 *
 * Tensors are passed as views: element (n, c, y, x) of a tensor with h x w
 * pixels lives at index offset + n * batch_stride + (c * h + y) * w + x of
 * buf. A plain NCHW tensor has batch_stride = c * h * w; a slice of a wider
 * channel-concatenated tensor has the wider tensor's stride and its channel
 * offset folded into offset. Flat (rank-1) tensors use h = w = 1.
 *
 * Weights: conv2d OIHW [out_c][in_c][kh][kw]; dense [units][in_features];
 * bias arrays may be NULL (no bias). relu != 0 applies max(x, 0) to the
 * result. Every launcher appends its events to `events` when it is not NULL. */
#ifndef CLNET_KERNELS_H
#define CLNET_KERNELS_H

#include "context.h"
#include "geometry.h"

typedef struct clnet_dview {
    cl_mem buf;
    int offset;
    int batch_stride;
} clnet_dview;

/* Checks that `floats` floats from the start of buf lie inside it and
 * below 2^31 (kernels index with int); `op` and `name` go into messages. */
clnet_status clnet_check_extent(const char *op, const char *name, cl_mem buf, long long floats);
/* Checks a view of `batch` images of per_image floats the same way. */
clnet_status clnet_check_view(const char *op, const char *name, clnet_dview v, int batch,
                              long long per_image);

/* The GEMM backend used for CLNET_GEMM_AUTO on this device: clnet's own
 * kernels on CPUs (CLBlast's untuned kernels are far slower there),
 * CLBlast elsewhere. */
clnet_gemm_backend clnet_gemm_auto_backend(const clnet_context *ctx);

/* C[b] = A x B[b] (+ bias per row) (relu), for b in [0, batch):
 * A is M x K row-major at a_off with row stride lda, shared by every b;
 * B[b] is K x N row-major at b_off + b * b_stride, row stride ldb;
 * C[b] is M x N row-major at c_off + b * c_stride, row stride ldc. */
typedef struct clnet_gemm_args {
    int m, n, k, batch;
    cl_mem a;
    int a_off, lda;
    cl_mem b;
    int b_off, ldb, b_stride;
    cl_mem c;
    int c_off, ldc, c_stride;
    cl_mem bias; /* M floats or NULL */
    int relu;
    /* Optional prologue on B (own kernels only, not CLBlast): element
     * (k, n) of B is read as B[k][n] * pre_scale[k] + pre_shift[k], then
     * max(., 0) when pre_relu; pre_scale NULL: B as stored. */
    cl_mem pre_scale, pre_shift; /* K floats each */
    int pre_relu;
    /* Optional residual R[b] (M x N at r_off + b * r_stride, row stride
     * ldr), added after the bias and before the ReLU; NULL: none. R may be
     * C itself (an in-place sum) but must not otherwise overlap it. */
    cl_mem residual;
    int r_off, ldr, r_stride;
} clnet_gemm_args;
clnet_status clnet_gemm(clnet_context *ctx, clnet_gemm_backend backend, const clnet_gemm_args *args,
                        clnet_events *events);

/* How clnet's own GEMM kernels (cl/gemm.cl) split their work, one set of
 * compile-time parameters per program build:
 * - gemm_block (CPUs): p = {vw, block_m, block_n, tail_m, 0}: vectors of
 *   vw floats, register blocks of block_m rows by block_n vectors, and
 *   tail_m rows for a short last block of rows;
 * - gemm_tiled (GPUs): p = {tile_m, tile_n, tile_k, wpt_m, vw}: tile_m x
 *   tile_n tiles of C through tile_k-deep slices in local memory, wpt_m
 *   rows of vw columns per work-item.
 * Each device has a short list of candidates, its built-in default first
 * (clnet_gemm_candidates); the tuner times them per GEMM shape and the
 * tuning table keeps the fastest, which clnet_gemm then uses for calls of
 * that shape. */
typedef enum clnet_gemm_kernel { CLNET_GEMM_KERNEL_BLOCK, CLNET_GEMM_KERNEL_TILED } clnet_gemm_kernel;
#define CLNET_GEMM_CONFIG_PARAMS 5
typedef struct clnet_gemm_config {
    clnet_gemm_kernel kernel;
    int p[CLNET_GEMM_CONFIG_PARAMS];
} clnet_gemm_config;

/* What identifies a GEMM call to the tuning table: the kernel, the sizes,
 * the batch and the prologue (0 none, 1 scale and shift, 2 with ReLU),
 * which picks one of the kernel's compiled variants. */
typedef struct clnet_gemm_key {
    clnet_gemm_kernel kernel;
    int m, n, k, batch, prologue;
} clnet_gemm_key;

/* A GEMM call as the tuner replays it: its key and what else it computed
 * (bias, ReLU, a residual, one A per batch entry). */
typedef struct clnet_gemm_call {
    clnet_gemm_key key;
    int bias, relu, residual, a_strided;
} clnet_gemm_call;

/* The calls clnet_gemm made while ctx->gemm_record pointed here, one per
 * distinct call (growing as needed; free calls when done). */
typedef struct clnet_gemm_recorder {
    int count, capacity;
    clnet_gemm_call *calls;
} clnet_gemm_recorder;

/* The kernel clnet's own backend runs on ctx's device. */
clnet_gemm_kernel clnet_gemm_native_kernel(const clnet_context *ctx);
/* The candidate configurations of `kernel` on ctx's device, the default
 * first; stores at most capacity in out and returns how many there are. */
int clnet_gemm_candidates(const clnet_context *ctx, clnet_gemm_kernel kernel,
                          clnet_gemm_config *out, int capacity);
/* Whether c is one of ctx's candidates, the only configurations a tuning
 * table may name. */
int clnet_gemm_config_is_candidate(const clnet_context *ctx, const clnet_gemm_config *c);
/* c as text: "block 8x6x2/4" (vw x block_m x block_n / tail_m) or
 * "tiled 64x64x16/4x4" (tile_m x tile_n x tile_k / wpt_m x vw). */
void clnet_gemm_config_text(const clnet_gemm_config *c, char *buf, size_t size);
/* Parses clnet_gemm_config_text's form back; 0 when s is not one. */
int clnet_gemm_config_parse(const char *s, clnet_gemm_config *out);
/* Builds (or loads) the program of configuration c on ctx. */
clnet_status clnet_gemm_build_config(clnet_context *ctx, const clnet_gemm_config *c);

/* Work fused into a convolution, so that it costs no pass over memory of
 * its own:
 * - a prologue: the convolution reads max(x * pre_scale[c] + pre_shift[c], 0)
 *   (no max when pre_relu is 0) in place of each input value x of channel
 *   c. This is the batch norm (+ ReLU) that precedes a convolution in
 *   pre-activation networks. Padding stays zero: it pads the normalised
 *   tensor.
 * - a residual: a tensor of the output's shape, added after the bias and
 *   before the ReLU: the shortcut sum that ends a residual block.
 * A NULL pointer or a zeroed struct fuses nothing. Which algorithm takes
 * which part: clnet_conv2d_fusion_supported. */
typedef struct clnet_conv_fusion {
    cl_mem pre_scale, pre_shift; /* in_c floats each; NULL: no prologue */
    int pre_relu;
    clnet_dview residual; /* residual.buf NULL: no residual */
} clnet_conv_fusion;

/* Whether algorithm `algo` (with GEMM backend `backend` where it uses one)
 * can run a prologue (prologue != 0) and a residual (residual != 0) on
 * this device. */
int clnet_conv2d_fusion_supported(const clnet_context *ctx, clnet_conv_algo algo,
                                  clnet_gemm_backend backend, int prologue, int residual);

/* Whether an algorithm can run a convolution of geometry g (AUTO: no). */
int clnet_conv_algo_applies(clnet_conv_algo algo, const clnet_conv_geometry *g);

/* The direct kernel fuses nothing beyond bias and ReLU. */
clnet_status clnet_conv2d_direct(clnet_context *ctx, const clnet_conv_geometry *g, int batch,
                                 clnet_dview in, clnet_dview out, cl_mem weight, cl_mem bias,
                                 int relu, clnet_events *events);

/* Floats of scratch space clnet_conv2d_im2col_gemm needs for a batch. */
size_t clnet_conv2d_im2col_scratch(const clnet_conv_geometry *g, int batch);
clnet_status clnet_conv2d_im2col_gemm(clnet_context *ctx, const clnet_conv_geometry *g, int batch,
                                      clnet_dview in, clnet_dview out, cl_mem weight,
                                      cl_mem bias, int relu, clnet_gemm_backend backend,
                                      cl_mem scratch, const clnet_conv_fusion *fusion,
                                      clnet_events *events);

/* Whether a convolution is a plain GEMM over pixels: 1x1 kernel, stride 1,
 * no padding. */
int clnet_conv2d_is_pointwise(const clnet_conv_geometry *g);
clnet_status clnet_conv2d_gemm1x1(clnet_context *ctx, const clnet_conv_geometry *g, int batch,
                                  clnet_dview in, clnet_dview out, cl_mem weight, cl_mem bias,
                                  int relu, clnet_gemm_backend backend,
                                  const clnet_conv_fusion *fusion, clnet_events *events);

/* out = in * scale[c] + shift[c] (relu): inference batch normalisation with
 * scale = gamma / sqrt(var + eps) and shift = beta - mean * scale. */
clnet_status clnet_batchnorm(clnet_context *ctx, int c, int hw, int batch, clnet_dview in,
                             clnet_dview out, cl_mem scale, cl_mem shift, int relu,
                             clnet_events *events);

/* out = max(in, 0) over c * hw elements per image. */
clnet_status clnet_relu(clnet_context *ctx, int c, int hw, int batch, clnet_dview in,
                        clnet_dview out, clnet_events *events);

/* out = a (op) b element-wise over `count` elements per image, op being
 * CLNET_OP_ADD, CLNET_OP_MULTIPLY or CLNET_OP_SUBTRACT; relu after. */
clnet_status clnet_binary(clnet_context *ctx, clnet_op op, int count, int batch, clnet_dview a,
                          clnet_dview b, clnet_dview out, int relu, clnet_events *events);

/* out = min(max(in, lo), hi) over `count` elements per image. */
clnet_status clnet_clip(clnet_context *ctx, int count, int batch, clnet_dview in, clnet_dview out,
                        float lo, float hi, clnet_events *events);

/* out = 1 / (1 + exp(-in)) over `count` elements per image. */
clnet_status clnet_sigmoid(clnet_context *ctx, int count, int batch, clnet_dview in,
                           clnet_dview out, clnet_events *events);

/* Slicing and constant padding (see clnet_window_copy in geometry.h). */
clnet_status clnet_window(clnet_context *ctx, const clnet_window_copy *w, int batch,
                          clnet_dview in, clnet_dview out, clnet_events *events);

/* out = in over `count` elements per image (concatenation into a slice). */
clnet_status clnet_copy(clnet_context *ctx, int count, int batch, clnet_dview in, clnet_dview out,
                        clnet_events *events);

/* op is CLNET_OP_MAXPOOL or CLNET_OP_AVGPOOL (padding excluded from the
 * average's count). */
clnet_status clnet_pool2d(clnet_context *ctx, clnet_op op, const clnet_pool_geometry *g,
                          int batch, clnet_dview in, clnet_dview out, clnet_events *events);

/* out[n][c] = mean over hw of in[n][c]. */
clnet_status clnet_global_avgpool(clnet_context *ctx, int c, int hw, int batch, clnet_dview in,
                                  clnet_dview out, clnet_events *events);

/* out[n][u] = sum_i in[n][i] * weight[u][i] (+ bias[u]) (relu). */
clnet_status clnet_dense(clnet_context *ctx, int in_features, int units, int batch,
                         clnet_dview in, clnet_dview out, cl_mem weight, cl_mem bias, int relu,
                         clnet_gemm_backend backend, clnet_events *events);

/* Softmax over the c channels of each of the hw pixels of each image. */
clnet_status clnet_softmax(clnet_context *ctx, int c, int hw, int batch, clnet_dview in,
                           clnet_dview out, clnet_events *events);

/* clnet_gemm with one A per batch entry: A[b] is at a_off + b * a_stride
 * (0 shares one A, as clnet_gemm does). The Winograd domain runs its
 * alpha^2 GEMMs, one filter matrix each, as one such launch. */
clnet_status clnet_gemm_strided_a(clnet_context *ctx, clnet_gemm_backend backend,
                                  const clnet_gemm_args *args, int a_stride,
                                  clnet_events *events);

/* Winograd convolution F(tile x tile, 3x3), tile 2 or 4 (host/winograd.c),
 * for 3x3 kernels with stride 1 and dilation 1, any padding. Two paths:
 * the input transform, clnet_gemm_strided_a over the alpha^2 positions of
 * the transformed domain (alpha = tile + 2) and the output transform, in
 * three launches with V and M in scratch space; or one fused kernel (CPUs),
 * without scratch space. The filters are transformed once, on the host,
 * from OIHW kernels given in double (folded or not), into u: for the GEMM
 * path [alpha^2][out_c][in_c], for the fused path [alpha^2][in_c][out_c
 * rounded up to a multiple of 8, zero filters after the last]. */
int clnet_conv2d_winograd_applies(const clnet_conv_geometry *g);
/* Whether clnet_conv2d_winograd takes the fused path for this layer on this
 * device: then the filters use the fused layout and no scratch is needed. */
int clnet_conv2d_winograd_fuses(const clnet_context *ctx, const clnet_conv_geometry *g,
                                int tile);
size_t clnet_winograd_filter_floats(const clnet_conv_geometry *g, int tile, int fused);
void clnet_winograd_transform_filters(int tile, int fused, int out_c, int in_c,
                                      const double *kernel, float *u);
/* Floats of scratch space clnet_conv2d_winograd needs for a batch, and
 * that the GEMM path needs. */
size_t clnet_conv2d_winograd_scratch(const clnet_context *ctx, const clnet_conv_geometry *g,
                                     int tile, int batch);
size_t clnet_conv2d_winograd_gemm_scratch(const clnet_conv_geometry *g, int tile, int batch);
/* The path clnet_conv2d_winograd_fuses chooses, with the layout it implies. */
clnet_status clnet_conv2d_winograd(clnet_context *ctx, const clnet_conv_geometry *g, int tile,
                                   int batch, clnet_dview in, clnet_dview out, cl_mem u,
                                   cl_mem bias, int relu, clnet_gemm_backend backend,
                                   cl_mem scratch, const clnet_conv_fusion *fusion,
                                   clnet_events *events);
clnet_status clnet_conv2d_winograd_gemm(clnet_context *ctx, const clnet_conv_geometry *g,
                                        int tile, int batch, clnet_dview in, clnet_dview out,
                                        cl_mem u, cl_mem bias, int relu,
                                        clnet_gemm_backend backend, cl_mem scratch,
                                        const clnet_conv_fusion *fusion, clnet_events *events);
clnet_status clnet_conv2d_winograd_fused(clnet_context *ctx, const clnet_conv_geometry *g,
                                         int tile, int batch, clnet_dview in, clnet_dview out,
                                         cl_mem u, cl_mem bias, int relu,
                                         const clnet_conv_fusion *fusion, clnet_events *events);

/* Builds every Winograd program variant this device may need (tiles 2
 * and 4, with and without a prologue or a residual), so that exporting the
 * context's programs for binary-only devices leaves none out. */
clnet_status clnet_conv2d_winograd_build_variants(clnet_context *ctx);

#endif
