/* Plain-C reference of every op, accumulating in double. Tensors are dense
 * NCHW arrays of `batch` images; weights use the layouts of kernels.h. The
 * graph-level runner is clnet_graph_run_reference() in clnet.h. */
#ifndef CLNET_REFERENCE_H
#define CLNET_REFERENCE_H

#include "geometry.h"

void clnet_ref_conv2d(const clnet_conv_geometry *g, int batch, const float *in,
                      const float *weight, const float *bias, float *out);
/* Inference BN from the four per-channel arrays, as Keras computes it:
 * (x - mean) / sqrt(var + eps) * gamma + beta. */
void clnet_ref_batchnorm(int c, int hw, int batch, const float *in, const float *gamma,
                         const float *beta, const float *mean, const float *var, float epsilon,
                         float *out);
void clnet_ref_relu(size_t count, const float *in, float *out);
void clnet_ref_add(size_t count, const float *a, const float *b, float *out);
/* Concatenates n tensors along channels; channels[i] per input. */
void clnet_ref_concat(int n, const float *const *in, const int *channels, int hw, int batch,
                      float *out);
void clnet_ref_maxpool(const clnet_pool_geometry *g, int batch, const float *in, float *out);
void clnet_ref_avgpool(const clnet_pool_geometry *g, int batch, const float *in, float *out);
void clnet_ref_global_avgpool(int c, int hw, int batch, const float *in, float *out);
void clnet_ref_dense(int in_features, int units, int batch, const float *in, const float *weight,
                     const float *bias, float *out);
void clnet_ref_softmax(int c, int hw, int batch, const float *in, float *out);

void clnet_ref_multiply(size_t count, const float *a, const float *b, float *out);
void clnet_ref_subtract(size_t count, const float *a, const float *b, float *out);
void clnet_ref_clip(size_t count, const float *in, float lo, float hi, float *out);
void clnet_ref_sigmoid(size_t count, const float *in, float *out);
/* out = in * scale[c] + shift[c]. */
void clnet_ref_channel_affine(int c, int hw, int batch, const float *in, const float *scale,
                              const float *shift, float *out);
void clnet_ref_window(const clnet_window_copy *w, int batch, const float *in, float *out);

#endif
