/* Input normalisation: 8-bit planar images to the float32 NCHW tensors a
 * network was trained on. */
#include "error.h"

#include <math.h>
#include <stdint.h>

clnet_preprocess clnet_preprocess_defaults(void) {
    clnet_preprocess p = {0, NULL, 0, {0.0f, 0.0f, 0.0f}, {1.0f, 1.0f, 1.0f}, 0};
    return p;
}

/* The steps, per value, in this order and in float arithmetic, which is
 * what PyTorch (ToTensor, then Normalize) and the Keras recipe (astype
 * float32, / 255, - x_train_mean) compute, so that inputs match theirs bit
 * for bit:
 *   1. bgr: output channel c takes pixel channel C-1-c (3 channels only);
 *   2. v = (float)x / 255.0f, or v = (float)x with raw;
 *   3. v = v - mean_image[c][y][x], the mean image in output channel order;
 *   4. v = (v - mean[c]) / std[c]. */
clnet_status clnet_preprocess_images(const clnet_preprocess *p, const uint8_t *pixels, int n,
                                     int channels, int height, int width, float *out) {
    if (!p || (!pixels && n > 0) || (!out && n > 0))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "preprocessing images: NULL options, pixels or output");
    if (n < 0 || (channels != 1 && channels != 3) || height < 1 || width < 1)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "preprocessing %d images of %d x %d x %d: need n >= 0, 1 or 3 "
                          "channels and a positive height and width",
                          n, channels, height, width);
    /* Every byte count below must fit a size_t: n * channels * plane floats. */
    size_t plane = (size_t)height * (size_t)width;
    size_t max_values = SIZE_MAX / sizeof(float) / (size_t)channels;
    if (plane > max_values || (n > 0 && (size_t)n > max_values / plane))
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                          "preprocessing %d images of %d x %d x %d: the size overflows", n,
                          channels, height, width);
    if (p->has_mean_std) {
        for (int c = 0; c < channels; c++)
            if (!isfinite(p->mean[c]) || !isfinite(p->std[c]) || p->std[c] == 0.0f)
                return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT,
                                  "preprocessing images: channel %d has mean %g and std %g; "
                                  "both must be finite and the std non-zero",
                                  c, (double)p->mean[c], (double)p->std[c]);
    }

    size_t image = (size_t)channels * plane;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = pixels + (size_t)i * image;
        float *dst = out + (size_t)i * image;
        for (int c = 0; c < channels; c++) {
            int from = p->bgr ? channels - 1 - c : c;
            const uint8_t *s = src + (size_t)from * plane;
            const float *m = p->mean_image ? p->mean_image + (size_t)c * plane : NULL;
            float *d = dst + (size_t)c * plane;
            for (size_t k = 0; k < plane; k++) {
                float v = p->raw ? (float)s[k] : (float)s[k] / 255.0f;
                if (m)
                    v = v - m[k];
                if (p->has_mean_std)
                    v = (v - p->mean[c]) / p->std[c];
                d[k] = v;
            }
        }
    }
    return CLNET_STATUS_OK;
}
