/* Tests of the host reference: per-op results worked out by hand, and the
 * graph runner against the per-op functions composed by hand. */
#include "test_util.h"

#include "geometry.h"
#include "reference.h"

#include <stdlib.h>
#include <string.h>

/* Exact float results of small integer sums; the rest within a few ulps. */
static void assert_floats(const char *what, const float *expected, const float *got, size_t n) {
    test_assert_close(what, expected, got, n, 1e-6);
}

/* x[y][x] = 4y + x + 1 on a 1-channel 4x4 image, kernel k[ky][kx] = 3ky + kx + 1. */
static const float ramp4x4[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const float kernel1to9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static clnet_conv_geometry conv_geometry(const clnet_conv2d_desc *d, int c, int h, int w) {
    clnet_conv_geometry g;
    TEST_OK(clnet_conv_geometry_make("test", d, c, h, w, &g));
    return g;
}

static clnet_pool_geometry pool_geometry(const clnet_pool2d_desc *d, int c, int h, int w) {
    clnet_pool_geometry g;
    TEST_OK(clnet_pool_geometry_make("test", d, c, h, w, &g));
    return g;
}

/* ------------------------------------------------------------------------ */
/* Convolution                                                              */

static void conv2d_same_stride2_pads_after_as_tensorflow(void **state) {
    (void)state;
    clnet_conv2d_desc d = clnet_conv2d_defaults(1, 3);
    d.stride_h = d.stride_w = 2;
    clnet_conv_geometry g = conv_geometry(&d, 1, 4, 4);
    /* out = ceil(4 / 2) = 2; pad total = (2 - 1) * 2 + 3 - 4 = 1, all after. */
    assert_int_equal(g.out_h, 2);
    assert_int_equal(g.out_w, 2);
    assert_int_equal(g.pad_top, 0);
    assert_int_equal(g.pad_left, 0);
    assert_int_equal(g.pad_bottom, 1);
    assert_int_equal(g.pad_right, 1);

    const float bias = 0.5f;
    float out[4];
    clnet_ref_conv2d(&g, 1, ramp4x4, kernel1to9, &bias, out);
    /* (0,0): rows 0-2, cols 0-2:
     *   1*1 + 2*2 + 3*3 + 4*5 + 5*6 + 6*7 + 7*9 + 8*10 + 9*11 = 348.
     * (0,1): cols 2-3 meet kernel columns 0-1; column 4 is padding:
     *   1*3 + 2*4 + 4*7 + 5*8 + 7*11 + 8*12 = 252.
     * (1,0): rows 2-3 meet kernel rows 0-1:
     *   1*9 + 2*10 + 3*11 + 4*13 + 5*14 + 6*15 = 274.
     * (1,1): 1*11 + 2*12 + 4*15 + 5*16 = 175.
     * A symmetric pad of 1 (PyTorch) would give 111, 217, 363, 573 instead. */
    const float expected[4] = {348.5f, 252.5f, 274.5f, 175.5f};
    assert_floats("conv2d same stride 2", expected, out, 4);
}

static void conv2d_same_stride1_pads_one_each_side(void **state) {
    (void)state;
    clnet_conv2d_desc d = clnet_conv2d_defaults(1, 3);
    clnet_conv_geometry g = conv_geometry(&d, 1, 4, 4);
    assert_int_equal(g.pad_top, 1);
    assert_int_equal(g.pad_bottom, 1);

    float out[16];
    clnet_ref_conv2d(&g, 1, ramp4x4, kernel1to9, NULL, out);
    /* (0,0): only kernel rows/cols 1-2 land inside: 5*1 + 6*2 + 8*5 + 9*6 = 111.
     * (0,1): 4*1 + 5*2 + 6*3 + 7*5 + 8*6 + 9*7 = 178.
     * (1,1) is the full window of the stride-2 case: 348.
     * (3,3): kernel rows/cols 0-1 only: 1*11 + 2*12 + 4*15 + 5*16 = 175. */
    const float expected[16] = {111, 178, 217, 145, 231, 348, 393, 252,
                                363, 528, 573, 360, 197, 274, 295, 175};
    assert_floats("conv2d same stride 1", expected, out, 16);
}

static void conv2d_dilation2_skips_every_other_pixel(void **state) {
    (void)state;
    /* 'valid' on 5x5: extent (3 - 1) * 2 + 1 = 5, one output that sees
     * pixels (0,0) (0,2) (0,4) (2,0) ... of x[y][x] = 5y + x + 1. */
    float img[25];
    for (int i = 0; i < 25; i++)
        img[i] = (float)(i + 1);
    clnet_conv2d_desc d = clnet_conv2d_defaults(1, 3);
    d.dilation_h = d.dilation_w = 2;
    d.padding = CLNET_PADDING_VALID;
    clnet_conv_geometry g = conv_geometry(&d, 1, 5, 5);
    assert_int_equal(g.out_h, 1);
    assert_int_equal(g.out_w, 1);
    float out[1];
    clnet_ref_conv2d(&g, 1, img, kernel1to9, NULL, out);
    /* 1*1 + 2*3 + 3*5 + 4*11 + 5*13 + 6*15 + 7*21 + 8*23 + 9*25 = 777 */
    assert_float_equal(out[0], 777.0f, 0.0f);

    /* 'same' at dilation 2 on 4x4 pads 2 on each side. */
    d.padding = CLNET_PADDING_SAME;
    g = conv_geometry(&d, 1, 4, 4);
    assert_int_equal(g.pad_top, 2);
    assert_int_equal(g.pad_bottom, 2);
    float same[16];
    clnet_ref_conv2d(&g, 1, ramp4x4, kernel1to9, NULL, same);
    /* (0,0): taps at rows/cols -2, 0, 2: 5*1 + 6*3 + 8*9 + 9*11 = 194.
     * (0,1): taps at cols -1, 1, 3: 5*2 + 6*4 + 8*10 + 9*12 = 222. */
    const float expected[16] = {194, 222, 170, 194, 306, 334, 266, 290,
                                122, 138, 98,  110, 186, 202, 146, 158};
    assert_floats("conv2d dilation 2 same", expected, same, 16);
}

/* A second, independent formulation: copy the input into a zero-padded
 * array, then run an unpadded strided, dilated convolution over it. */
static void conv_via_padded_copy(const clnet_conv_geometry *g, int batch, const float *in,
                                 const float *w, const float *bias, float *out) {
    int ph = g->in_h + g->pad_top + g->pad_bottom, pw = g->in_w + g->pad_left + g->pad_right;
    float *padded = calloc((size_t)g->in_c * ph * pw, sizeof *padded);
    assert_non_null(padded);
    for (int n = 0; n < batch; n++) {
        for (int c = 0; c < g->in_c; c++)
            for (int y = 0; y < g->in_h; y++)
                for (int x = 0; x < g->in_w; x++)
                    padded[((size_t)c * ph + y + g->pad_top) * pw + x + g->pad_left] =
                        in[(((size_t)n * g->in_c + c) * g->in_h + y) * g->in_w + x];
        for (int o = 0; o < g->out_c; o++)
            for (int y = 0; y < g->out_h; y++)
                for (int x = 0; x < g->out_w; x++) {
                    double acc = bias ? bias[o] : 0.0;
                    for (int c = 0; c < g->in_c; c++)
                        for (int ky = 0; ky < g->kh; ky++)
                            for (int kx = 0; kx < g->kw; kx++)
                                acc += (double)padded[((size_t)c * ph + y * g->sh + ky * g->dh) *
                                                          pw +
                                                      x * g->sw + kx * g->dw] *
                                       w[(((size_t)o * g->in_c + c) * g->kh + ky) * g->kw + kx];
                    out[(((size_t)n * g->out_c + o) * g->out_h + y) * g->out_w + x] =
                        (float)acc;
                }
    }
    free(padded);
}

static void conv2d_asymmetric_explicit_padding_matches_padded_copy(void **state) {
    (void)state;
    clnet_conv2d_desc d = clnet_conv2d_defaults(3, 3);
    d.kernel_w = 2;
    d.stride_h = 2;
    d.dilation_w = 2;
    d.padding = CLNET_PADDING_EXPLICIT;
    d.pad_top = 1;
    d.pad_bottom = 0;
    d.pad_left = 2;
    d.pad_right = 1;
    clnet_conv_geometry g = conv_geometry(&d, 2, 7, 6);
    /* height: (7 + 1 - 3) / 2 + 1 = 3; width: (6 + 3 - 3) / 1 + 1 = 7 */
    assert_int_equal(g.out_h, 3);
    assert_int_equal(g.out_w, 7);

    test_rng rng = {7};
    const int batch = 2;
    size_t n_in = (size_t)batch * 2 * 7 * 6, n_w = 3 * 2 * 3 * 2, n_out = (size_t)batch * 3 * 21;
    float *in = test_alloc(n_in), *w = test_alloc(n_w), *bias = test_alloc(3);
    float *got = test_alloc_poisoned(n_out), *expected = test_alloc(n_out);
    test_fill_uniform(&rng, in, n_in, -1, 1);
    test_fill_uniform(&rng, w, n_w, -1, 1);
    test_fill_uniform(&rng, bias, 3, -1, 1);

    clnet_ref_conv2d(&g, batch, in, w, bias, got);
    conv_via_padded_copy(&g, batch, in, w, bias, expected);
    assert_floats("conv2d explicit padding, with bias", expected, got, n_out);

    clnet_ref_conv2d(&g, batch, in, w, NULL, got);
    conv_via_padded_copy(&g, batch, in, w, NULL, expected);
    assert_floats("conv2d explicit padding, no bias", expected, got, n_out);

    free(in);
    free(w);
    free(bias);
    free(got);
    free(expected);
}

/* ------------------------------------------------------------------------ */
/* Pooling                                                                  */

static void maxpool_padding_never_wins_over_negative_values(void **state) {
    (void)state;
    /* x[y][x] = -(3y + x + 1): every value is negative, so a padded zero
     * taking part would show up as a 0 in the output. */
    const float img[9] = {-1, -2, -3, -4, -5, -6, -7, -8, -9};

    /* 'same' 2x2 stride 2 on 3x3: out 2, pad 0 before and 1 after. */
    clnet_pool2d_desc d = clnet_pool2d_defaults(2);
    d.padding = CLNET_PADDING_SAME;
    clnet_pool_geometry g = pool_geometry(&d, 1, 3, 3);
    assert_int_equal(g.pad_bottom, 1);
    float out[4];
    clnet_ref_maxpool(&g, 1, img, out);
    /* max(-1,-2,-4,-5), max(-3,-6), max(-7,-8), -9 */
    const float same[4] = {-1, -3, -7, -9};
    assert_floats("maxpool same", same, out, 4);

    /* Explicit padding before: windows start at -1. */
    d.padding = CLNET_PADDING_EXPLICIT;
    d.pad_top = d.pad_left = 1;
    g = pool_geometry(&d, 1, 3, 3);
    assert_int_equal(g.out_h, 2);
    clnet_ref_maxpool(&g, 1, img, out);
    /* -1 alone, max(-2,-3), max(-4,-7), max(-5,-6,-8,-9) */
    const float before[4] = {-1, -2, -4, -5};
    assert_floats("maxpool padded before", before, out, 4);
}

static void maxpool_valid_floors_odd_sizes(void **state) {
    (void)state;
    /* Keras MaxPooling2D() on 5x5 gives 2x2; the last row and column drop. */
    float img[25];
    for (int i = 0; i < 25; i++)
        img[i] = (float)((i * 7) % 11);
    clnet_pool2d_desc d = clnet_pool2d_defaults(2);
    clnet_pool_geometry g = pool_geometry(&d, 1, 5, 5);
    assert_int_equal(g.out_h, 2);
    assert_int_equal(g.out_w, 2);
    float out[4];
    clnet_ref_maxpool(&g, 1, img, out);
    /* img: 0 7 3 10 6 / 2 9 5 1 8 / 4 0 7 3 10 / 6 2 9 5 1 / ... */
    const float expected[4] = {9, 10, 6, 9};
    assert_floats("maxpool valid 5x5", expected, out, 4);
}

static void avgpool_excludes_padding_from_the_count(void **state) {
    (void)state;
    const float img[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    clnet_pool2d_desc d = clnet_pool2d_defaults(2);
    d.padding = CLNET_PADDING_SAME;
    clnet_pool_geometry g = pool_geometry(&d, 1, 3, 3);
    float out[4];
    clnet_ref_avgpool(&g, 1, img, out);
    /* (1+2+4+5)/4, (3+6)/2, (7+8)/2, 9/1; counting the pads would give
     * 3, 2.25, 3.75, 2.25. */
    const float same[4] = {3.0f, 4.5f, 7.5f, 9.0f};
    assert_floats("avgpool same", same, out, 4);

    d.padding = CLNET_PADDING_EXPLICIT;
    d.pad_top = d.pad_left = 1;
    g = pool_geometry(&d, 1, 3, 3);
    clnet_ref_avgpool(&g, 1, img, out);
    /* 1/1, (2+3)/2, (4+7)/2, (5+6+8+9)/4 */
    const float before[4] = {1.0f, 2.5f, 5.5f, 7.0f};
    assert_floats("avgpool padded before", before, out, 4);
}

static void pooling_handles_channels_and_batch(void **state) {
    (void)state;
    /* Two images of two 2x2 channels, pooled 2x2 'valid' to one pixel each. */
    const float img[16] = {1, 2, 3, 4, -1, -2, -3, -4, 10, 20, 30, 40, 0, 0, 0, 8};
    clnet_pool2d_desc d = clnet_pool2d_defaults(2);
    clnet_pool_geometry g = pool_geometry(&d, 2, 2, 2);
    float out[4];
    clnet_ref_maxpool(&g, 2, img, out);
    const float maxes[4] = {4, -1, 40, 8};
    assert_floats("maxpool per channel", maxes, out, 4);
    clnet_ref_avgpool(&g, 2, img, out);
    const float means[4] = {2.5f, -2.5f, 25, 2};
    assert_floats("avgpool per channel", means, out, 4);
    clnet_ref_global_avgpool(2, 4, 2, img, out);
    assert_floats("global avgpool per channel", means, out, 4);
}

/* ------------------------------------------------------------------------ */
/* Element-wise, dense and softmax                                          */

static void softmax_sums_to_one_and_survives_large_logits(void **state) {
    (void)state;
    /* Three channels, four pixels (NCHW: channel-major). Pixels 1-3 are
     * pixel 0 shifted by 1000, -1000 and 88.5 (exp overflows float there). */
    const float in[12] = {1, 1001, -999, 89.5f, 2, 1002, -998, 90.5f, 3, 1003, -997, 91.5f};
    float out[12];
    clnet_ref_softmax(3, 4, 1, in, out);
    /* softmax(1, 2, 3) = (e^-2, e^-1, 1) / (1 + e^-1 + e^-2) */
    const double e1 = 0.36787944117144233, e2 = 0.1353352832366127;
    const double sum = 1.0 + e1 + e2;
    for (int p = 0; p < 4; p++) {
        assert_float_equal(out[0 * 4 + p], e2 / sum, 1e-7);
        assert_float_equal(out[1 * 4 + p], e1 / sum, 1e-7);
        assert_float_equal(out[2 * 4 + p], 1.0 / sum, 1e-7);
        double total = (double)out[p] + out[4 + p] + out[8 + p];
        assert_float_equal(total, 1.0, 1e-6);
    }

    /* In place, over a batch of two flat vectors. */
    float flat[6] = {0, 0, 0, 1000, 0, -1000};
    clnet_ref_softmax(3, 1, 2, flat, flat);
    for (int i = 0; i < 3; i++)
        assert_float_equal(flat[i], 1.0 / 3.0, 1e-7);
    assert_float_equal(flat[3], 1.0, 0.0);
    assert_float_equal(flat[4], 0.0, 0.0);
    assert_float_equal(flat[5], 0.0, 0.0);
}

static void batchnorm_follows_the_keras_formula(void **state) {
    (void)state;
    /* Two channels of two pixels, two images. */
    const float in[8] = {3, -1, 0, 4, 5, 1, 2, -2};
    const float gamma[2] = {2, -1}, beta[2] = {0.5f, 1}, mean[2] = {1, 2}, var[2] = {3, 8};
    float out[8];
    /* eps 1: channel 0 divides by sqrt(4) = 2, channel 1 by sqrt(9) = 3.
     * (3-1)/2*2+0.5 = 2.5, (-1-1)/2*2+0.5 = -1.5, -(0-2)/3+1 = 5/3, -(4-2)/3+1 = 1/3 */
    clnet_ref_batchnorm(2, 2, 2, in, gamma, beta, mean, var, 1.0f, out);
    const float expected[8] = {2.5f, -1.5f, 5.0f / 3, 1.0f / 3, 4.5f, 0.5f, 1.0f, 7.0f / 3};
    assert_floats("batchnorm eps 1", expected, out, 8);

    /* Keras' epsilon 1e-3 enters under the square root. */
    clnet_ref_batchnorm(2, 2, 2, in, gamma, beta, mean, var, 1e-3f, out);
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 2; c++)
            for (int p = 0; p < 2; p++) {
                int i = (n * 2 + c) * 2 + p;
                double want = (in[i] - mean[c]) / sqrt(var[c] + 1e-3) * gamma[c] + beta[c];
                assert_float_equal(out[i], want, 1e-6);
            }
}

static void dense_uses_units_by_inputs_weights(void **state) {
    (void)state;
    /* weight [units=2][in=3]; a transposed layout would read 1 3 5 / 2 4 6. */
    const float w[6] = {1, 2, 3, 4, 5, 6};
    const float bias[2] = {0.5f, -1};
    const float in[6] = {1, 0, -1, 2, 1, 0};
    float out[4];
    clnet_ref_dense(3, 2, 2, in, w, bias, out);
    /* 1-3+0.5, 4-6-1, 2+2+0.5, 8+5-1 */
    const float expected[4] = {-1.5f, -3, 4.5f, 12};
    assert_floats("dense", expected, out, 4);

    clnet_ref_dense(3, 2, 2, in, w, NULL, out);
    const float no_bias[4] = {-2, -2, 4, 13};
    assert_floats("dense without bias", no_bias, out, 4);
}

static void concat_keeps_input_order_per_image(void **state) {
    (void)state;
    /* a: 1 channel, b: 2 channels, 2 pixels each, batch 2. */
    const float a[4] = {1, 2, 3, 4};
    const float b[8] = {10, 11, 12, 13, 20, 21, 22, 23};
    const float *parts[2] = {a, b};
    const int channels[2] = {1, 2};
    float out[12];
    clnet_ref_concat(2, parts, channels, 2, 2, out);
    const float ab[12] = {1, 2, 10, 11, 12, 13, 3, 4, 20, 21, 22, 23};
    assert_floats("concat a, b", ab, out, 12);

    const float *swapped[2] = {b, a};
    const int swapped_channels[2] = {2, 1};
    clnet_ref_concat(2, swapped, swapped_channels, 2, 2, out);
    const float ba[12] = {10, 11, 12, 13, 1, 2, 20, 21, 22, 23, 3, 4};
    assert_floats("concat b, a", ba, out, 12);
}

static void relu_and_add_are_elementwise(void **state) {
    (void)state;
    const float a[4] = {-1.5f, 0, 2, -0.0f};
    const float b[4] = {1, -3, 0.25f, 4};
    float out[4];
    clnet_ref_relu(4, a, out);
    const float relu[4] = {0, 0, 2, 0};
    assert_floats("relu", relu, out, 4);
    clnet_ref_add(4, a, b, out);
    const float sum[4] = {-0.5f, -3, 2.25f, 4};
    assert_floats("add", sum, out, 4);
}

static void multiply_subtract_and_channel_affine_are_elementwise(void **state) {
    (void)state;
    const float a[4] = {-1.5f, 0, 2, 3};
    const float b[4] = {2, -3, 0.25f, -4};
    float out[4];
    clnet_ref_multiply(4, a, b, out);
    const float product[4] = {-3, 0, 0.5f, -12};
    assert_floats("multiply", product, out, 4);
    clnet_ref_subtract(4, a, b, out);
    const float difference[4] = {-3.5f, 3, 1.75f, 7};
    assert_floats("subtract (first - second)", difference, out, 4);

    /* Two images of two channels of two pixels: x * scale[c] + shift[c]. */
    const float in[8] = {1, 2, 3, 4, -1, -2, -3, -4};
    const float scale[2] = {2, -0.5f}, shift[2] = {1, 10};
    float affine[8];
    clnet_ref_channel_affine(2, 2, 2, in, scale, shift, affine);
    const float want[8] = {3, 5, 8.5f, 8, -1, -3, 11.5f, 12};
    assert_floats("channel affine", want, affine, 8);
}

static void clip_bounds_values_and_keeps_nan(void **state) {
    (void)state;
    const float in[8] = {-7, -0.5f, 0, 3, 6, 6.5f, 100, NAN};
    float out[8];
    clnet_ref_clip(8, in, 0, 6, out); /* ReLU6 */
    const float want[7] = {0, 0, 0, 3, 6, 6, 6};
    assert_floats("clip(0, 6)", want, out, 7);
    assert_true(isnan(out[7]));

    /* Infinite bounds leave that side open. */
    clnet_ref_clip(7, in, -INFINITY, 1, out);
    const float below[7] = {-7, -0.5f, 0, 1, 1, 1, 1};
    assert_floats("clip(-inf, 1)", below, out, 7);
}

static void sigmoid_is_exact_in_the_middle_and_saturates_without_nan(void **state) {
    (void)state;
    const float in[10] = {0, 1, -1, 20, -20, 88.75f, -88.75f, 100, -1000, 1000};
    float out[10];
    clnet_ref_sigmoid(10, in, out);
    /* 1 / (1 + e^-1) = 0.7310585786300049; e^-20 / (1 + e^-20) = 2.0611536181902e-9. */
    assert_float_equal(out[0], 0.5, 0.0);
    assert_float_equal(out[1], 0.7310585786300049, 1e-7);
    assert_float_equal(out[2], 0.2689414213699951, 1e-7);
    assert_float_equal(out[3], 1.0, 0.0); /* 1 - 2e-9 rounds to 1 in float */
    assert_float_equal(out[4] / 2.0611536181902e-9, 1.0, 1e-6);
    /* exp(88.75) overflows float; the exp(-|x|) form never computes it. */
    assert_float_equal(out[5], 1.0, 0.0);
    assert_float_equal(out[6] / 2.8599914e-39, 1.0, 1e-3); /* a subnormal float */
    assert_float_equal(out[7], 1.0, 0.0);
    assert_float_equal(out[8], 0.0, 0.0);
    assert_float_equal(out[9], 1.0, 0.0);
    for (int i = 0; i < 10; i++)
        assert_true(isfinite(out[i]) && out[i] >= 0 && out[i] <= 1);
}

/* One 1x2x2 image [[1, 2], [3, 4]] of pad_image; a second image adds 10. */
static const float pad_image[8] = {1, 2, 3, 4, 11, 12, 13, 14};

static void window_pads_rows_columns_and_channels_with_the_value(void **state) {
    (void)state;
    /* top 1, bottom 0, left 0, right 2, one channel before, value -1:
     * 1x2x2 -> 2x3x4. */
    clnet_window_copy w = {1, 2, 2, 2, 3, 4, -1, -1, 0, 1, 1, 1, -1.0f};
    float out[2 * 24];
    clnet_ref_window(&w, 2, pad_image, out);
    const float want[2 * 24] = {
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* added channel */
        -1, -1, -1, -1, 1,  2,  -1, -1, 3,  4,  -1, -1, /* image 0 */
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* added channel */
        -1, -1, -1, -1, 11, 12, -1, -1, 13, 14, -1, -1, /* image 1 */
    };
    assert_floats("pad", want, out, 48);
}

static void window_slices_every_other_pixel_and_channel(void **state) {
    (void)state;
    /* x[c][y][x] = 20c + 5y + x on 3x4x5; x[:, :, ::2, ::2] keeps rows 0, 2
     * and columns 0, 2, 4: 3x2x3. */
    float in[60];
    for (int i = 0; i < 60; i++)
        in[i] = (float)i;
    clnet_window_copy w = {3, 4, 5, 3, 2, 3, 0, 0, 0, 1, 2, 2, 0};
    float out[18];
    clnet_ref_window(&w, 1, in, out);
    const float want[18] = {0, 2, 4, 10, 12, 14, 20, 22, 24, 30, 32, 34, 40, 42, 44, 50, 52, 54};
    assert_floats("x[:, :, ::2, ::2]", want, out, 18);

    /* x[1::2, 1:3, 3:] on the same tensor: channel 1, rows 1-2, columns 3-4. */
    clnet_window_copy v = {3, 4, 5, 1, 2, 2, 1, 1, 3, 2, 1, 1, 0};
    float part[4];
    clnet_ref_window(&v, 1, in, part);
    const float want_part[4] = {28, 29, 33, 34};
    assert_floats("x[1::2, 1:3, 3:]", want_part, part, 4);
}

/* ------------------------------------------------------------------------ */
/* Graph runner                                                             */

/* Fills every weight of a layer with seeded values; variances stay positive. */
static void fill_layer(clnet_layer *layer, test_rng *rng) {
    for (int i = 0; i < clnet_layer_weight_count(layer); i++) {
        clnet_weight_info w;
        TEST_OK(clnet_layer_weight(layer, i, &w));
        int positive = strcmp(w.name, "moving_variance") == 0;
        test_fill_uniform(rng, w.data, w.count, positive ? 0.5f : -1.0f, positive ? 2.0f : 1.0f);
    }
}

static float *weight_data(clnet_layer *layer, const char *name) {
    for (int i = 0; i < clnet_layer_weight_count(layer); i++) {
        clnet_weight_info w;
        TEST_OK(clnet_layer_weight(layer, i, &w));
        if (strcmp(w.name, name) == 0)
            return w.data;
    }
    fail_msg("layer '%s' has no weight '%s'", clnet_layer_name(layer), name);
    return NULL;
}

static void graph_chain_matches_ops_composed_by_hand(void **state) {
    (void)state;
    /* input 2x7x6 -> conv 3x3/2 same relu -> batchnorm -> maxpool 2 same
     * -> dropout -> flatten -> dense 5 (relu) -> dense 4 softmax */
    clnet_graph *g;
    TEST_OK(clnet_graph_create(&g));
    clnet_tensor x, t;
    TEST_OK(clnet_graph_input(g, "image", 2, 7, 6, &x));

    clnet_conv2d_desc cd = clnet_conv2d_defaults(3, 3);
    cd.stride_h = cd.stride_w = 2;
    cd.activation = CLNET_ACT_RELU;
    clnet_layer *conv, *bn, *pool, *drop, *flat, *fc1, *fc2;
    TEST_OK(clnet_layer_conv2d(g, NULL, &cd, &conv));
    TEST_OK(clnet_layer_call1(conv, x, &t));
    TEST_OK(clnet_layer_batchnorm(g, NULL, 1e-3f, &bn));
    TEST_OK(clnet_layer_call1(bn, t, &t));
    clnet_pool2d_desc pd = clnet_pool2d_defaults(2);
    pd.padding = CLNET_PADDING_SAME;
    TEST_OK(clnet_layer_maxpool(g, NULL, &pd, &pool));
    TEST_OK(clnet_layer_call1(pool, t, &t));
    TEST_OK(clnet_layer_dropout(g, NULL, 0.4f, &drop));
    TEST_OK(clnet_layer_call1(drop, t, &t));
    TEST_OK(clnet_layer_flatten(g, NULL, &flat));
    TEST_OK(clnet_layer_call1(flat, t, &t));
    clnet_dense_desc dd = {5, 1, CLNET_ACT_RELU, CLNET_INIT_GLOROT_UNIFORM};
    TEST_OK(clnet_layer_dense(g, NULL, &dd, &fc1));
    TEST_OK(clnet_layer_call1(fc1, t, &t));
    dd.units = 4;
    dd.activation = CLNET_ACT_SOFTMAX;
    TEST_OK(clnet_layer_dense(g, NULL, &dd, &fc2));
    TEST_OK(clnet_layer_call1(fc2, t, &t));
    TEST_OK(clnet_graph_set_outputs(g, &t, 1));

    test_rng rng = {11};
    clnet_layer *layers[] = {conv, bn, fc1, fc2};
    for (int i = 0; i < 4; i++)
        fill_layer(layers[i], &rng);

    const int batch = 3;
    float *in = test_alloc((size_t)batch * 2 * 7 * 6);
    test_fill_uniform(&rng, in, (size_t)batch * 2 * 7 * 6, -1, 1);
    float *got = test_alloc_poisoned((size_t)batch * 4);
    const float *inputs[1] = {in};
    float *outputs[1] = {got};
    TEST_OK(clnet_graph_run_reference(g, batch, inputs, outputs));

    /* The same by hand: 7x6 -> conv 4x3 -> pool 2x2 -> 12 features. */
    clnet_conv_geometry cg = conv_geometry(&cd, 2, 7, 6);
    assert_int_equal(cg.out_h, 4);
    assert_int_equal(cg.out_w, 3);
    clnet_pool_geometry pg = pool_geometry(&pd, 3, 4, 3);
    float a[3 * 3 * 4 * 3], b[3 * 3 * 4 * 3], p[3 * 12], f[3 * 5], want[3 * 4];
    clnet_ref_conv2d(&cg, batch, in, weight_data(conv, "kernel"), weight_data(conv, "bias"), a);
    clnet_ref_relu(sizeof a / sizeof *a, a, a);
    clnet_ref_batchnorm(3, 12, batch, a, weight_data(bn, "gamma"), weight_data(bn, "beta"),
                        weight_data(bn, "moving_mean"), weight_data(bn, "moving_variance"), 1e-3f,
                        b);
    clnet_ref_maxpool(&pg, batch, b, p);
    clnet_ref_dense(12, 5, batch, p, weight_data(fc1, "kernel"), weight_data(fc1, "bias"), f);
    clnet_ref_relu(sizeof f / sizeof *f, f, f);
    clnet_ref_dense(5, 4, batch, f, weight_data(fc2, "kernel"), weight_data(fc2, "bias"), want);
    clnet_ref_softmax(4, 1, batch, want, want);
    test_assert_close("graph chain", want, got, (size_t)batch * 4, 0.0);

    free(in);
    free(got);
    clnet_graph_destroy(g);
}

static void graph_covers_add_concat_pooling_and_activations(void **state) {
    (void)state;
    /* x 2x4x4 -> c1 = conv 1x1 (2 filters, no bias), c2 = relu(x)
     * -> s = add(x, c1, c2) -> cat = concat(c2, s) -> avgpool 3 stride 1 same
     * -> softmax layer and activation(softmax), plus global avgpool. */
    clnet_graph *g;
    TEST_OK(clnet_graph_create(&g));
    clnet_tensor x, c1, c2, s, cat, avg, sm, act, gap;
    TEST_OK(clnet_graph_input(g, NULL, 2, 4, 4, &x));
    clnet_conv2d_desc cd = clnet_conv2d_defaults(2, 1);
    cd.use_bias = 0;
    clnet_layer *conv, *relu, *add, *concat, *avgpool, *softmax, *act_sm, *gpool;
    TEST_OK(clnet_layer_conv2d(g, NULL, &cd, &conv));
    TEST_OK(clnet_layer_call1(conv, x, &c1));
    TEST_OK(clnet_layer_activation(g, NULL, CLNET_ACT_RELU, &relu));
    TEST_OK(clnet_layer_call1(relu, x, &c2));
    TEST_OK(clnet_layer_add(g, NULL, &add));
    clnet_tensor terms[3] = {x, c1, c2};
    TEST_OK(clnet_layer_call(add, terms, 3, &s));
    TEST_OK(clnet_layer_concat(g, NULL, &concat));
    clnet_tensor parts[2] = {c2, s};
    TEST_OK(clnet_layer_call(concat, parts, 2, &cat));
    clnet_pool2d_desc pd = clnet_pool2d_defaults(3);
    pd.stride_h = pd.stride_w = 1;
    pd.padding = CLNET_PADDING_SAME;
    TEST_OK(clnet_layer_avgpool(g, NULL, &pd, &avgpool));
    TEST_OK(clnet_layer_call1(avgpool, cat, &avg));
    TEST_OK(clnet_layer_softmax(g, NULL, &softmax));
    TEST_OK(clnet_layer_call1(softmax, avg, &sm));
    TEST_OK(clnet_layer_activation(g, NULL, CLNET_ACT_SOFTMAX, &act_sm));
    TEST_OK(clnet_layer_call1(act_sm, avg, &act));
    TEST_OK(clnet_layer_global_avgpool(g, NULL, &gpool));
    TEST_OK(clnet_layer_call1(gpool, cat, &gap));
    clnet_tensor outs[3] = {sm, act, gap};
    TEST_OK(clnet_graph_set_outputs(g, outs, 3));

    test_rng rng = {5};
    fill_layer(conv, &rng);
    const int batch = 2, n_in = batch * 2 * 16, n_cat = batch * 4 * 16;
    float in[2 * 2 * 16];
    test_fill_uniform(&rng, in, n_in, -2, 2);
    float *got_sm = test_alloc_poisoned(n_cat), *got_act = test_alloc_poisoned(n_cat);
    float *got_gap = test_alloc_poisoned(batch * 4);
    const float *inputs[1] = {in};
    float *outputs[3] = {got_sm, got_act, got_gap};
    TEST_OK(clnet_graph_run_reference(g, batch, inputs, outputs));

    float conv_out[2 * 2 * 16], relu_out[2 * 2 * 16], sum[2 * 2 * 16], cat_out[2 * 4 * 16];
    float pooled[2 * 4 * 16], want[2 * 4 * 16], want_gap[2 * 4];
    clnet_conv_geometry cg = conv_geometry(&cd, 2, 4, 4);
    clnet_ref_conv2d(&cg, batch, in, weight_data(conv, "kernel"), NULL, conv_out);
    clnet_ref_relu((size_t)n_in, in, relu_out);
    for (int i = 0; i < n_in; i++)
        sum[i] = (float)((double)in[i] + conv_out[i] + relu_out[i]);
    const float *cat_in[2] = {relu_out, sum};
    const int cat_c[2] = {2, 2};
    clnet_ref_concat(2, cat_in, cat_c, 16, batch, cat_out);
    clnet_pool_geometry pg = pool_geometry(&pd, 4, 4, 4);
    clnet_ref_avgpool(&pg, batch, cat_out, pooled);
    clnet_ref_softmax(4, 16, batch, pooled, want);
    clnet_ref_global_avgpool(4, 16, batch, cat_out, want_gap);
    test_assert_close("softmax layer", want, got_sm, (size_t)n_cat, 0.0);
    test_assert_close("softmax activation", want, got_act, (size_t)n_cat, 0.0);
    test_assert_close("global avgpool", want_gap, got_gap, (size_t)batch * 4, 0.0);

    free(got_sm);
    free(got_act);
    free(got_gap);
    clnet_graph_destroy(g);
}

static void graph_shared_layer_applies_the_same_weights_twice(void **state) {
    (void)state;
    clnet_graph *g;
    TEST_OK(clnet_graph_create(&g));
    clnet_tensor x, y1, y2;
    TEST_OK(clnet_graph_input(g, NULL, 2, 5, 5, &x));
    clnet_conv2d_desc cd = clnet_conv2d_defaults(2, 3);
    cd.activation = CLNET_ACT_RELU;
    clnet_layer *conv;
    TEST_OK(clnet_layer_conv2d(g, "shared", &cd, &conv));
    TEST_OK(clnet_layer_call1(conv, x, &y1));
    TEST_OK(clnet_layer_call1(conv, y1, &y2));
    TEST_OK(clnet_graph_set_outputs(g, &y2, 1));
    assert_int_equal(clnet_graph_layer_count(g), 1);
    assert_int_equal(clnet_graph_node_count(g), 3);

    test_rng rng = {3};
    fill_layer(conv, &rng);
    float in[50], mid[50], want[50];
    test_fill_uniform(&rng, in, 50, -1, 1);
    float *got = test_alloc_poisoned(50);
    const float *inputs[1] = {in};
    float *outputs[1] = {got};
    TEST_OK(clnet_graph_run_reference(g, 1, inputs, outputs));

    clnet_conv_geometry cg = conv_geometry(&cd, 2, 5, 5);
    const float *w = weight_data(conv, "kernel"), *b = weight_data(conv, "bias");
    clnet_ref_conv2d(&cg, 1, in, w, b, mid);
    clnet_ref_relu(50, mid, mid);
    clnet_ref_conv2d(&cg, 1, mid, w, b, want);
    clnet_ref_relu(50, want, want);
    test_assert_close("shared conv twice", want, got, 50, 0.0);

    free(got);
    clnet_graph_destroy(g);
}

static void graph_two_inputs_two_outputs_in_declared_order(void **state) {
    (void)state;
    /* a 2x3x3, b 1x3x3: cat = concat(b, a); d = conv1x1(cat); e = add(d, b).
     * Outputs are (e, cat): an output that is also consumed later. */
    clnet_graph *g;
    TEST_OK(clnet_graph_create(&g));
    clnet_tensor a, b, cat, d, e;
    TEST_OK(clnet_graph_input(g, "a", 2, 3, 3, &a));
    TEST_OK(clnet_graph_input(g, "b", 1, 3, 3, &b));
    clnet_layer *concat, *conv, *add;
    TEST_OK(clnet_layer_concat(g, NULL, &concat));
    clnet_tensor parts[2] = {b, a};
    TEST_OK(clnet_layer_call(concat, parts, 2, &cat));
    clnet_conv2d_desc cd = clnet_conv2d_defaults(1, 1);
    TEST_OK(clnet_layer_conv2d(g, NULL, &cd, &conv));
    TEST_OK(clnet_layer_call1(conv, cat, &d));
    TEST_OK(clnet_layer_add(g, NULL, &add));
    clnet_tensor terms[2] = {d, b};
    TEST_OK(clnet_layer_call(add, terms, 2, &e));
    clnet_tensor outs[2] = {e, cat};
    TEST_OK(clnet_graph_set_outputs(g, outs, 2));

    /* Kernel (0.5, 1, -1) over channels (b, a0, a1), bias 2. */
    const float kernel[3] = {0.5f, 1, -1}, bias[1] = {2};
    TEST_OK(clnet_layer_set_weight(conv, "kernel", kernel, 3));
    TEST_OK(clnet_layer_set_weight(conv, "bias", bias, 1));

    const int batch = 2;
    float in_a[2 * 18], in_b[2 * 9];
    for (int i = 0; i < 36; i++)
        in_a[i] = (float)i;
    for (int i = 0; i < 18; i++)
        in_b[i] = (float)(100 + 2 * i);
    float *got_e = test_alloc_poisoned(18), *got_cat = test_alloc_poisoned(54);
    const float *inputs[2] = {in_a, in_b};
    float *outputs[2] = {got_e, got_cat};
    TEST_OK(clnet_graph_run_reference(g, batch, inputs, outputs));

    float want_e[18], want_cat[54];
    for (int n = 0; n < batch; n++)
        for (int p = 0; p < 9; p++) {
            float vb = in_b[n * 9 + p], va0 = in_a[n * 18 + p], va1 = in_a[n * 18 + 9 + p];
            want_cat[n * 27 + p] = vb;
            want_cat[n * 27 + 9 + p] = va0;
            want_cat[n * 27 + 18 + p] = va1;
            /* 0.5 b + a0 - a1 + 2 + b; a1 - a0 = 9, so 1.5 b - 7 exactly. */
            want_e[n * 9 + p] = 1.5f * vb - 7.0f;
        }
    assert_floats("output 0 (add)", want_e, got_e, 18);
    assert_floats("output 1 (concat)", want_cat, got_cat, 54);

    free(got_e);
    free(got_cat);
    clnet_graph_destroy(g);
}

static void graph_handles_repeated_inputs_and_unused_branches(void **state) {
    (void)state;
    /* out = add(x, x); the conv branch feeds no output. Both uses of x
     * are read before its buffer may be released. */
    clnet_graph *g;
    TEST_OK(clnet_graph_create(&g));
    clnet_tensor x, unused, y;
    TEST_OK(clnet_graph_input(g, NULL, 1, 2, 3, &x));
    clnet_conv2d_desc cd = clnet_conv2d_defaults(4, 3);
    clnet_layer *conv, *add;
    TEST_OK(clnet_layer_conv2d(g, NULL, &cd, &conv));
    TEST_OK(clnet_layer_call1(conv, x, &unused));
    TEST_OK(clnet_layer_add(g, NULL, &add));
    clnet_tensor twice[2] = {x, x};
    TEST_OK(clnet_layer_call(add, twice, 2, &y));
    TEST_OK(clnet_graph_set_outputs(g, &y, 1));

    const float in[6] = {1, -2, 3.5f, 0, 7, -0.25f};
    const float want[6] = {2, -4, 7, 0, 14, -0.5f};
    float *got = test_alloc_poisoned(6);
    const float *inputs[1] = {in};
    float *outputs[1] = {got};
    TEST_OK(clnet_graph_run_reference(g, 1, inputs, outputs));
    assert_floats("add(x, x)", want, got, 6);

    free(got);
    clnet_graph_destroy(g);
}

static void graph_pad_and_slice_follow_their_descriptions(void **state) {
    (void)state;
    /* The pad of window_pads_rows_columns_and_channels_with_the_value, then
     * the two slices of window_slices_every_other_pixel_and_channel, the
     * second with ends past the axes. */
    clnet_graph *g;
    TEST_OK(clnet_graph_create(&g));
    clnet_tensor x, y, padded, every_other, part;
    TEST_OK(clnet_graph_input(g, "x", 1, 2, 2, &x));
    TEST_OK(clnet_graph_input(g, "y", 3, 4, 5, &y));
    clnet_pad_desc pd = {1, 0, 0, 2, 1, 0, -1.0f};
    clnet_layer *pad, *slice, *slice2;
    TEST_OK(clnet_layer_pad(g, NULL, &pd, &pad));
    TEST_OK(clnet_layer_call1(pad, x, &padded));
    clnet_slice_desc sd = clnet_slice_defaults();
    sd.step[1] = sd.step[2] = 2;
    TEST_OK(clnet_layer_slice(g, NULL, &sd, &slice));
    TEST_OK(clnet_layer_call1(slice, y, &every_other));
    clnet_slice_desc sd2 = {{1, 1, 3}, {100, 3, INT32_MAX}, {2, 1, 1}};
    TEST_OK(clnet_layer_slice(g, NULL, &sd2, &slice2));
    TEST_OK(clnet_layer_call1(slice2, y, &part));
    clnet_tensor outs[3] = {padded, every_other, part};
    TEST_OK(clnet_graph_set_outputs(g, outs, 3));

    clnet_shape s;
    TEST_OK(clnet_tensor_shape(g, part, &s));
    assert_int_equal(s.c, 1);
    assert_int_equal(s.h, 2);
    assert_int_equal(s.w, 2);

    float in_y[120];
    for (int i = 0; i < 120; i++)
        in_y[i] = (float)i;
    float *got_pad = test_alloc_poisoned(48), *got_slice = test_alloc_poisoned(36);
    float *got_part = test_alloc_poisoned(8);
    const float *inputs[2] = {pad_image, in_y};
    float *outputs[3] = {got_pad, got_slice, got_part};
    TEST_OK(clnet_graph_run_reference(g, 2, inputs, outputs));

    const float want_pad[48] = {
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1,  2,  -1, -1,
        3,  4,  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        11, 12, -1, -1, 13, 14, -1, -1,
    };
    assert_floats("pad node", want_pad, got_pad, 48);
    /* The second image adds 60 to every value. */
    float want_slice[36], want_part[8];
    const float slice0[18] = {0, 2, 4, 10, 12, 14, 20, 22, 24, 30, 32, 34, 40, 42, 44, 50, 52, 54};
    const float part0[4] = {28, 29, 33, 34};
    for (int n = 0; n < 2; n++) {
        for (int i = 0; i < 18; i++)
            want_slice[n * 18 + i] = slice0[i] + 60.0f * (float)n;
        for (int i = 0; i < 4; i++)
            want_part[n * 4 + i] = part0[i] + 60.0f * (float)n;
    }
    assert_floats("slice node ::2, ::2", want_slice, got_slice, 36);
    assert_floats("slice node 1::2, 1:3, 3:", want_part, got_part, 8);

    free(got_pad);
    free(got_slice);
    free(got_part);
    clnet_graph_destroy(g);
}

static void graph_covers_every_new_op_and_sigmoid(void **state) {
    (void)state;
    /* x 2x3x4 -> p = pad(top 1, left 1, right 1, one channel after, 0.5): 3x4x6
     * -> s = slice(p)[:, ::2, 1::2]: 3x2x3 -> a = channel_affine(s)
     * -> m = multiply(a, s, s) -> d = subtract(m, a) -> c = clip(d, -1, 2)
     * -> out1 = activation sigmoid(c)
     * and c -> conv 1x1 sigmoid (2 filters) -> flatten -> channel_affine
     * (per feature) -> dense 3 sigmoid = out2. */
    clnet_graph *g;
    TEST_OK(clnet_graph_create(&g));
    clnet_tensor x, p, s, a, m, d, c, out1, k, f, fa, out2;
    TEST_OK(clnet_graph_input(g, NULL, 2, 3, 4, &x));
    clnet_pad_desc pd = {1, 0, 1, 1, 0, 1, 0.5f};
    clnet_slice_desc sd = clnet_slice_defaults();
    sd.step[1] = 2;
    sd.begin[2] = 1;
    sd.step[2] = 2;
    clnet_conv2d_desc cd = clnet_conv2d_defaults(2, 1);
    cd.activation = CLNET_ACT_SIGMOID;
    clnet_dense_desc dd = {3, 1, CLNET_ACT_SIGMOID, CLNET_INIT_GLOROT_UNIFORM};
    clnet_layer *pad, *slice, *affine, *mul, *sub, *clip, *sig, *conv, *flat, *affine1, *fc;
    TEST_OK(clnet_layer_pad(g, NULL, &pd, &pad));
    TEST_OK(clnet_layer_slice(g, NULL, &sd, &slice));
    TEST_OK(clnet_layer_channel_affine(g, NULL, &affine));
    TEST_OK(clnet_layer_multiply(g, NULL, &mul));
    TEST_OK(clnet_layer_subtract(g, NULL, &sub));
    TEST_OK(clnet_layer_clip(g, NULL, -1, 2, &clip));
    TEST_OK(clnet_layer_activation(g, NULL, CLNET_ACT_SIGMOID, &sig));
    TEST_OK(clnet_layer_conv2d(g, NULL, &cd, &conv));
    TEST_OK(clnet_layer_flatten(g, NULL, &flat));
    TEST_OK(clnet_layer_channel_affine(g, NULL, &affine1));
    TEST_OK(clnet_layer_dense(g, NULL, &dd, &fc));

    TEST_OK(clnet_layer_call1(pad, x, &p));
    TEST_OK(clnet_layer_call1(slice, p, &s));
    TEST_OK(clnet_layer_call1(affine, s, &a));
    clnet_tensor factors[3] = {a, s, s};
    TEST_OK(clnet_layer_call(mul, factors, 3, &m));
    clnet_tensor terms[2] = {m, a};
    TEST_OK(clnet_layer_call(sub, terms, 2, &d));
    TEST_OK(clnet_layer_call1(clip, d, &c));
    TEST_OK(clnet_layer_call1(sig, c, &out1));
    TEST_OK(clnet_layer_call1(conv, c, &k));
    TEST_OK(clnet_layer_call1(flat, k, &f));
    TEST_OK(clnet_layer_call1(affine1, f, &fa));
    TEST_OK(clnet_layer_call1(fc, fa, &out2));
    clnet_tensor outs[2] = {out1, out2};
    TEST_OK(clnet_graph_set_outputs(g, outs, 2));

    clnet_shape shape;
    TEST_OK(clnet_tensor_shape(g, s, &shape));
    assert_int_equal(shape.c, 3);
    assert_int_equal(shape.h, 2);
    assert_int_equal(shape.w, 3);
    TEST_OK(clnet_tensor_shape(g, fa, &shape));
    assert_int_equal(shape.rank, 1);
    assert_int_equal(shape.c, 12);

    /* A fresh channel affine is the identity: scale 1, shift 0. */
    assert_float_equal(weight_data(affine, "scale")[2], 1.0f, 0.0f);
    assert_float_equal(weight_data(affine, "shift")[2], 0.0f, 0.0f);
    test_rng rng = {17};
    clnet_layer *weighted[] = {affine, conv, affine1, fc};
    for (int i = 0; i < 4; i++)
        fill_layer(weighted[i], &rng);

    const int batch = 3;
    float in[3 * 24];
    test_fill_uniform(&rng, in, 3 * 24, -2, 2);
    float *got1 = test_alloc_poisoned(batch * 18), *got2 = test_alloc_poisoned(batch * 3);
    const float *inputs[1] = {in};
    float *outputs[2] = {got1, got2};
    TEST_OK(clnet_graph_run_reference(g, batch, inputs, outputs));

    /* By hand: the pad window starts at (0, -1, -1); the slice at (0, 0, 1). */
    clnet_window_copy pw = {2, 3, 4, 3, 4, 6, 0, -1, -1, 1, 1, 1, 0.5f};
    clnet_window_copy sw = {3, 4, 6, 3, 2, 3, 0, 0, 1, 1, 2, 2, 0};
    float pv[3 * 72], sv[3 * 18], av[3 * 18], mv[3 * 18], dv[3 * 18], cv[3 * 18],
        want1[3 * 18], kv[3 * 12], fav[3 * 12], want2[3 * 3];
    clnet_ref_window(&pw, batch, in, pv);
    clnet_ref_window(&sw, batch, pv, sv);
    clnet_ref_channel_affine(3, 6, batch, sv, weight_data(affine, "scale"),
                             weight_data(affine, "shift"), av);
    for (int i = 0; i < batch * 18; i++)
        mv[i] = (float)((double)av[i] * sv[i] * sv[i]);
    clnet_ref_subtract((size_t)batch * 18, mv, av, dv);
    clnet_ref_clip((size_t)batch * 18, dv, -1, 2, cv);
    clnet_ref_sigmoid((size_t)batch * 18, cv, want1);
    clnet_conv_geometry cg = conv_geometry(&cd, 3, 2, 3);
    clnet_ref_conv2d(&cg, batch, cv, weight_data(conv, "kernel"), weight_data(conv, "bias"), kv);
    clnet_ref_sigmoid((size_t)batch * 12, kv, kv);
    clnet_ref_channel_affine(12, 1, batch, kv, weight_data(affine1, "scale"),
                             weight_data(affine1, "shift"), fav);
    clnet_ref_dense(12, 3, batch, fav, weight_data(fc, "kernel"), weight_data(fc, "bias"), want2);
    clnet_ref_sigmoid((size_t)batch * 3, want2, want2);
    test_assert_close("sigmoid(clip(...)) branch", want1, got1, (size_t)batch * 18, 0.0);
    test_assert_close("conv sigmoid -> affine -> dense sigmoid", want2, got2, (size_t)batch * 3,
                      0.0);

    /* The clip did bound something, and the padding value reached the output. */
    int clipped = 0;
    for (int i = 0; i < batch * 18; i++)
        clipped += cv[i] == -1.0f || cv[i] == 2.0f;
    assert_true(clipped > 0);
    assert_float_equal(sv[0], 0.5f, 0.0f); /* row -1 of the input is padding */

    free(got1);
    free(got2);
    clnet_graph_destroy(g);
}

static void graph_run_rejects_bad_arguments(void **state) {
    (void)state;
    clnet_graph *g;
    TEST_OK(clnet_graph_create(&g));
    clnet_tensor x, y;
    TEST_OK(clnet_graph_input(g, NULL, 1, 2, 2, &x));
    clnet_layer *relu;
    TEST_OK(clnet_layer_activation(g, NULL, CLNET_ACT_RELU, &relu));
    TEST_OK(clnet_layer_call1(relu, x, &y));

    float in[4] = {1, -1, 2, -2}, out[4];
    const float *inputs[1] = {in};
    float *outputs[1] = {out};
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "clnet_graph_set_outputs",
               clnet_graph_run_reference(g, 1, inputs, outputs));

    TEST_OK(clnet_graph_set_outputs(g, &y, 1));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "batch",
               clnet_graph_run_reference(g, 0, inputs, outputs));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "inputs",
               clnet_graph_run_reference(g, 1, NULL, outputs));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "outputs",
               clnet_graph_run_reference(g, 1, inputs, NULL));
    const float *null_input[1] = {NULL};
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "inputs[0]",
               clnet_graph_run_reference(g, 1, null_input, outputs));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL,
               clnet_graph_run_reference(NULL, 1, inputs, outputs));

    TEST_OK(clnet_graph_run_reference(g, 1, inputs, outputs));
    const float want[4] = {1, 0, 2, 0};
    assert_floats("relu graph", want, out, 4);
    clnet_graph_destroy(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv2d_same_stride2_pads_after_as_tensorflow),
        cmocka_unit_test(conv2d_same_stride1_pads_one_each_side),
        cmocka_unit_test(conv2d_dilation2_skips_every_other_pixel),
        cmocka_unit_test(conv2d_asymmetric_explicit_padding_matches_padded_copy),
        cmocka_unit_test(maxpool_padding_never_wins_over_negative_values),
        cmocka_unit_test(maxpool_valid_floors_odd_sizes),
        cmocka_unit_test(avgpool_excludes_padding_from_the_count),
        cmocka_unit_test(pooling_handles_channels_and_batch),
        cmocka_unit_test(softmax_sums_to_one_and_survives_large_logits),
        cmocka_unit_test(batchnorm_follows_the_keras_formula),
        cmocka_unit_test(dense_uses_units_by_inputs_weights),
        cmocka_unit_test(concat_keeps_input_order_per_image),
        cmocka_unit_test(relu_and_add_are_elementwise),
        cmocka_unit_test(multiply_subtract_and_channel_affine_are_elementwise),
        cmocka_unit_test(clip_bounds_values_and_keeps_nan),
        cmocka_unit_test(sigmoid_is_exact_in_the_middle_and_saturates_without_nan),
        cmocka_unit_test(window_pads_rows_columns_and_channels_with_the_value),
        cmocka_unit_test(window_slices_every_other_pixel_and_channel),
        cmocka_unit_test(graph_chain_matches_ops_composed_by_hand),
        cmocka_unit_test(graph_covers_add_concat_pooling_and_activations),
        cmocka_unit_test(graph_shared_layer_applies_the_same_weights_twice),
        cmocka_unit_test(graph_two_inputs_two_outputs_in_declared_order),
        cmocka_unit_test(graph_handles_repeated_inputs_and_unused_branches),
        cmocka_unit_test(graph_pad_and_slice_follow_their_descriptions),
        cmocka_unit_test(graph_covers_every_new_op_and_sigmoid),
        cmocka_unit_test(graph_run_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
