/* Input images: the CIFAR-10 reader, the normalisation arithmetic, and PNG and JPEG decoding
 * of files written here with libpng and libjpeg, of the shared lossless samples, and of
 * truncated, corrupted and hostile files, and of JPEGs of the shared CIFAR-10 tarball. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include <jpeglib.h>
#include <png.h>
#include <zlib.h> /* to read single JPEGs out of the shared tarball */

/* ------------------------------------------------------------------------ */
/* Scratch files                                                            */

static int make_scratch_dir(void **state) {
    (void)state;
    return test_scratch_create("images");
}

static int remove_scratch_dir(void **state) {
    (void)state;
    test_scratch_remove();
    return 0;
}

/* Decoding path must fail with status, a message containing needle (if
 * not NULL) and the file's name, and no pixels. */
static void assert_image_fails(const char *path, clnet_status status, const char *needle) {
    static uint8_t sentinel;
    uint8_t *pixels = &sentinel; /* must be reset to NULL */
    int h = -1, w = -1;
    TEST_FAILS(status, needle, clnet_image_read(path, &pixels, &h, &w));
    assert_null(pixels);
    if (!strstr(clnet_last_error(), path))
        fail_msg("the message does not name %s: %s", path, clnet_last_error());
}

/* ------------------------------------------------------------------------ */
/* CIFAR-10 reader                                                          */

enum { CIFAR_IMAGE = 3 * 32 * 32, CIFAR_RECORD = 1 + CIFAR_IMAGE };

static void cifar_test_batch_has_10000_records_labelled_r_mod_10(void **state) {
    (void)state;
    const char *path = test_shared_data("cifar10/test_batch.bin");
    if (!path)
        skip();
    uint8_t *pixels = NULL, *labels = NULL;
    int count = 0;
    TEST_OK(clnet_cifar_read(path, 0, &pixels, &labels, &count));
    assert_int_equal(count, 10000);
    for (int r = 0; r < count; r++)
        if (labels[r] != r % 10)
            fail_msg("record %d has label %d, expected %d", r, labels[r], r % 10);

    /* The pixels are the bytes after each label byte. */
    size_t size;
    uint8_t *raw = test_read_file(path, &size);
    assert_int_equal(size, (size_t)10000 * CIFAR_RECORD);
    for (int r = 0; r < count; r += 997)
        assert_memory_equal(pixels + (size_t)r * CIFAR_IMAGE, raw + (size_t)r * CIFAR_RECORD + 1,
                            CIFAR_IMAGE);
    free(raw);
    free(pixels);
    free(labels);
}

static void cifar_limit_reads_the_first_records(void **state) {
    (void)state;
    const char *path = test_shared_data("cifar10/test_batch.bin");
    if (!path)
        skip();
    uint8_t *all = NULL, *all_labels = NULL, *some = NULL, *some_labels = NULL;
    int n_all = 0, n_some = 0;
    TEST_OK(clnet_cifar_read(path, 30, &all, &all_labels, &n_all));
    TEST_OK(clnet_cifar_read(path, 7, &some, &some_labels, &n_some));
    assert_int_equal(n_all, 30);
    assert_int_equal(n_some, 7);
    assert_memory_equal(all, some, (size_t)7 * CIFAR_IMAGE);
    assert_memory_equal(all_labels, some_labels, 7);
    free(all);
    free(all_labels);
    free(some);
    free(some_labels);
}

static void cifar_rejects_truncated_empty_and_missing_files(void **state) {
    (void)state;
    uint8_t *record = calloc(3 * CIFAR_RECORD, 1);
    assert_non_null(record);
    uint8_t *pixels = NULL, *labels = NULL;
    int count = -1;

    /* Two whole records and 100 bytes of a third. */
    const char *path = test_scratch_path("truncated.bin");
    test_write_file(path, record, 2 * CIFAR_RECORD + 100);
    TEST_FAILS(CLNET_STATUS_FORMAT_ERROR, "6246 bytes",
               clnet_cifar_read(path, 0, &pixels, &labels, &count));
    assert_non_null(strstr(clnet_last_error(), "3073"));
    assert_non_null(strstr(clnet_last_error(), path));
    assert_null(pixels);
    assert_null(labels);
    assert_int_equal(count, 0);

    /* The real file cut short, as a download might be. */
    const char *real = test_shared_data("cifar10/test_batch.bin");
    if (real) {
        size_t size;
        uint8_t *raw = test_read_file(real, &size);
        test_write_file(path, raw, size - 1);
        free(raw);
        TEST_FAILS(CLNET_STATUS_FORMAT_ERROR, "30729999 bytes",
                   clnet_cifar_read(path, 0, &pixels, &labels, &count));
    }

    path = test_scratch_path("empty.bin");
    test_write_file(path, record, 0);
    TEST_FAILS(CLNET_STATUS_FORMAT_ERROR, "0 bytes",
               clnet_cifar_read(path, 0, &pixels, &labels, &count));
    TEST_FAILS(CLNET_STATUS_NOT_FOUND, "missing.bin",
               clnet_cifar_read(test_scratch_path("missing.bin"), 0, &pixels, &labels, &count));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "negative",
               clnet_cifar_read(path, -1, &pixels, &labels, &count));
    assert_null(pixels);
    assert_null(labels);
    free(record);
}

static void cifar_rejects_labels_above_9(void **state) {
    (void)state;
    uint8_t *records = calloc(3 * CIFAR_RECORD, 1);
    assert_non_null(records);
    records[2 * CIFAR_RECORD] = 10; /* the third record's label */
    const char *path = test_scratch_path("label10.bin");
    test_write_file(path, records, 3 * CIFAR_RECORD);
    uint8_t *pixels = NULL, *labels = NULL;
    int count = -1;
    TEST_FAILS(CLNET_STATUS_FORMAT_ERROR, "record 2",
               clnet_cifar_read(path, 0, &pixels, &labels, &count));
    assert_null(pixels);
    /* A limit that stops before the bad record reads the good ones. */
    TEST_OK(clnet_cifar_read(path, 2, &pixels, &labels, &count));
    assert_int_equal(count, 2);
    free(pixels);
    free(labels);
    free(records);
}

/* ------------------------------------------------------------------------ */
/* Normalisation arithmetic                                                 */

/* One 1 x 2 RGB image: R (0, 255), G (51, 102), B (10, 20). */
static const uint8_t HAND_PIXELS[6] = {0, 255, 51, 102, 10, 20};

static void preprocess_default_scales_by_255_in_float(void **state) {
    (void)state;
    clnet_preprocess p = clnet_preprocess_defaults();
    float out[6];
    TEST_OK(clnet_preprocess_images(&p, HAND_PIXELS, 1, 3, 1, 2, out));
    assert_true(out[0] == 0.0f);
    assert_true(out[1] == 1.0f);
    assert_true(out[2] == 0.2f); /* 51 / 255 is exactly 1/5, rounded once */
    assert_true(out[3] == 0.4f);
    for (int i = 0; i < 6; i++)
        assert_true(out[i] == (float)HAND_PIXELS[i] / 255.0f);
}

static void preprocess_raw_keeps_0_to_255(void **state) {
    (void)state;
    clnet_preprocess p = clnet_preprocess_defaults();
    p.raw = 1;
    float out[6];
    TEST_OK(clnet_preprocess_images(&p, HAND_PIXELS, 1, 3, 1, 2, out));
    for (int i = 0; i < 6; i++)
        assert_true(out[i] == (float)HAND_PIXELS[i]);
}

static void preprocess_subtracts_mean_image_then_mean_std(void **state) {
    (void)state;
    const float mean_image[6] = {0.5f, 0.25f, 0.125f, 0.0f, -1.0f, 2.0f};
    clnet_preprocess p = clnet_preprocess_defaults();
    p.mean_image = mean_image;
    float out[6];
    TEST_OK(clnet_preprocess_images(&p, HAND_PIXELS, 1, 3, 1, 2, out));
    assert_true(out[0] == -0.5f);
    assert_true(out[1] == 0.75f);
    for (int i = 0; i < 6; i++)
        assert_true(out[i] == (float)HAND_PIXELS[i] / 255.0f - mean_image[i]);

    /* Then per channel: (v - mean) / std, in float as torchvision computes it. */
    p.has_mean_std = 1;
    p.mean[0] = 0.4914f, p.mean[1] = 0.4822f, p.mean[2] = 0.4465f;
    p.std[0] = 0.2023f, p.std[1] = 0.1994f, p.std[2] = 0.2010f;
    TEST_OK(clnet_preprocess_images(&p, HAND_PIXELS, 1, 3, 1, 2, out));
    for (int i = 0; i < 6; i++) {
        int c = i / 2;
        float v = (float)HAND_PIXELS[i] / 255.0f - mean_image[i];
        assert_true(out[i] == (v - p.mean[c]) / p.std[c]);
    }
    /* By hand: channel 0, pixel 1: (1 - 0.25 - 0.4914) / 0.2023. */
    assert_float_equal(out[1], (0.75 - 0.4914) / 0.2023, 1e-6);
}

static void preprocess_bgr_reverses_channels_before_mean_std(void **state) {
    (void)state;
    clnet_preprocess p = clnet_preprocess_defaults();
    p.bgr = 1;
    p.raw = 1;
    p.has_mean_std = 1;
    p.mean[0] = 103.939f, p.mean[1] = 116.779f, p.mean[2] = 123.68f; /* Caffe's BGR means */
    p.std[0] = p.std[1] = p.std[2] = 1.0f;
    float out[6];
    TEST_OK(clnet_preprocess_images(&p, HAND_PIXELS, 1, 3, 1, 2, out));
    /* Output channel 0 is blue (10, 20), channel 2 red (0, 255). */
    assert_true(out[0] == 10.0f - 103.939f);
    assert_true(out[1] == 20.0f - 103.939f);
    assert_true(out[2] == 51.0f - 116.779f);
    assert_true(out[4] == 0.0f - 123.68f);
    assert_true(out[5] == 255.0f - 123.68f);
}

static void preprocess_handles_grey_and_batches(void **state) {
    (void)state;
    const uint8_t grey[4] = {0, 85, 170, 255}; /* two 1 x 2 grey images */
    clnet_preprocess p = clnet_preprocess_defaults();
    p.has_mean_std = 1;
    p.mean[0] = 0.5f;
    p.std[0] = 0.5f;
    float out[4];
    TEST_OK(clnet_preprocess_images(&p, grey, 2, 1, 1, 2, out));
    for (int i = 0; i < 4; i++)
        assert_true(out[i] == ((float)grey[i] / 255.0f - 0.5f) / 0.5f);
    assert_true(out[0] == -1.0f);
    assert_true(out[3] == 1.0f);
    TEST_OK(clnet_preprocess_images(&p, grey, 0, 1, 1, 2, out));
}

static void preprocess_rejects_bad_arguments(void **state) {
    (void)state;
    clnet_preprocess p = clnet_preprocess_defaults();
    float out[6];
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "channels",
               clnet_preprocess_images(&p, HAND_PIXELS, 1, 2, 1, 2, out));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL,
               clnet_preprocess_images(&p, HAND_PIXELS, -1, 3, 1, 2, out));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL,
               clnet_preprocess_images(&p, HAND_PIXELS, 1, 3, 0, 2, out));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, NULL,
               clnet_preprocess_images(NULL, HAND_PIXELS, 1, 3, 1, 2, out));
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "overflows",
               clnet_preprocess_images(&p, HAND_PIXELS, INT32_MAX, 3, INT32_MAX, INT32_MAX, out));
    p.has_mean_std = 1;
    p.std[1] = 0.0f;
    TEST_FAILS(CLNET_STATUS_INVALID_ARGUMENT, "std",
               clnet_preprocess_images(&p, HAND_PIXELS, 1, 3, 1, 2, out));
}

/* ------------------------------------------------------------------------ */
/* PNG and JPEG files written here                                          */

typedef struct png_spec {
    int width, height, color_type, bit_depth, interlace;
    const uint8_t *data; /* rows as libpng takes them, row_bytes each */
    size_t row_bytes;
    const png_color *palette;
    int n_palette;
} png_spec;

static void write_png(const char *path, const png_spec *s) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    assert_non_null(png);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    png_bytep *rows = malloc((size_t)s->height * sizeof *rows);
    assert_non_null(rows);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng could not write %s", path);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)s->width, (png_uint_32)s->height, s->bit_depth,
                 s->color_type, s->interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (s->palette) {
        png_set_PLTE(png, info, s->palette, s->n_palette);
        const png_byte alpha[1] = {0}; /* a transparent entry: its colour still counts */
        png_set_tRNS(png, info, alpha, 1, NULL);
    }
    png_write_info(png, info);
    for (int y = 0; y < s->height; y++)
        rows[y] = (png_bytep)(uintptr_t)(s->data + (size_t)y * s->row_bytes);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    assert_int_equal(fclose(f), 0);
}

/* A test pattern: the RGB value of pixel (x, y), and a grey value. */
static uint8_t pattern_rgb(int x, int y, int c) {
    return (uint8_t)(c == 0 ? x * 37 + y * 3 : c == 1 ? 255 - x * 29 - y : y * 41 + x * 7 + 1);
}

static uint8_t pattern_grey(int x, int y) {
    return (uint8_t)(x * 31 + y * 17 + 5);
}

static const png_color PALETTE[4] = {{255, 0, 0}, {0, 200, 0}, {10, 20, 250}, {77, 88, 99}};

/* Builds a PNG of each colour type and depth from the patterns, with the
 * planar RGB bytes its decoding must give. */
static void build_png_case(int color_type, int bit_depth, int width, int height, uint8_t *data,
                           size_t *row_bytes, uint8_t *expected) {
    size_t plane = (size_t)width * (size_t)height;
    int channels = color_type == PNG_COLOR_TYPE_RGB          ? 3
                   : color_type == PNG_COLOR_TYPE_RGB_ALPHA  ? 4
                   : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                                                             : 1;
    int bytes = bit_depth == 16 ? 2 : 1;
    *row_bytes = bit_depth < 8 ? ((size_t)width * (size_t)bit_depth + 7) / 8
                               : (size_t)width * (size_t)channels * (size_t)bytes;
    memset(data, 0, *row_bytes * (size_t)height);
    for (int y = 0; y < height; y++) {
        uint8_t *row = data + (size_t)y * *row_bytes;
        for (int x = 0; x < width; x++) {
            uint8_t rgb[3];
            size_t k = (size_t)y * (size_t)width + (size_t)x;
            if (color_type == PNG_COLOR_TYPE_PALETTE) {
                int index = (x + 2 * y) % 4;
                rgb[0] = PALETTE[index].red, rgb[1] = PALETTE[index].green;
                rgb[2] = PALETTE[index].blue;
                int per_byte = 8 / bit_depth, shift = 8 - bit_depth * (x % per_byte + 1);
                row[x / per_byte] |= (uint8_t)(index << shift);
            } else if (bit_depth == 1) {
                int bit = (x + y) & 1;
                rgb[0] = rgb[1] = rgb[2] = bit ? 255 : 0;
                row[x / 8] |= (uint8_t)(bit << (7 - x % 8));
            } else {
                int grey = !(color_type & PNG_COLOR_MASK_COLOR);
                for (int c = 0; c < 3; c++)
                    rgb[c] = grey ? pattern_grey(x, y) : pattern_rgb(x, y, c);
                uint8_t samples[4] = {rgb[0], rgb[1], rgb[2], (uint8_t)(x * y * 53)};
                if (grey)
                    samples[1] = samples[3]; /* grey, alpha */
                for (int s = 0; s < channels; s++) {
                    uint8_t *p = row + ((size_t)x * (size_t)channels + (size_t)s) * (size_t)bytes;
                    p[0] = samples[s];
                    if (bytes == 2)
                        p[1] = (uint8_t)(0x80 | (x + y)); /* the low byte, which is dropped */
                }
            }
            for (int c = 0; c < 3; c++)
                expected[(size_t)c * plane + k] = rgb[c];
        }
    }
}

static void png_of_every_colour_type_decodes_exactly(void **state) {
    (void)state;
    static const struct {
        int color_type, bit_depth, interlace;
        const char *name;
    } cases[] = {
        {PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE, "rgb8"},
        {PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7, "rgb8-interlaced"},
        {PNG_COLOR_TYPE_RGB, 16, PNG_INTERLACE_NONE, "rgb16"},
        {PNG_COLOR_TYPE_RGB_ALPHA, 8, PNG_INTERLACE_NONE, "rgba8"},
        {PNG_COLOR_TYPE_RGB_ALPHA, 16, PNG_INTERLACE_NONE, "rgba16"},
        {PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, "grey8"},
        {PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_NONE, "grey16"},
        {PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE, "grey1"},
        {PNG_COLOR_TYPE_GRAY_ALPHA, 8, PNG_INTERLACE_NONE, "grey-alpha8"},
        {PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE, "palette8"},
        {PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_ADAM7, "palette2-interlaced"},
    };
    enum { W = 9, H = 7 };
    uint8_t data[H * W * 8], expected[3 * H * W];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.png", cases[i].name);
        const char *path = test_scratch_path(name);
        png_spec s = {W,    H, cases[i].color_type, cases[i].bit_depth, cases[i].interlace, data, 0,
                      NULL, 0};
        if (s.color_type == PNG_COLOR_TYPE_PALETTE) {
            s.palette = PALETTE;
            s.n_palette = 4;
        }
        build_png_case(s.color_type, s.bit_depth, W, H, data, &s.row_bytes, expected);
        write_png(path, &s);

        uint8_t *pixels = NULL;
        int h = 0, w = 0;
        TEST_OK(clnet_image_read(path, &pixels, &h, &w));
        assert_int_equal(h, H);
        assert_int_equal(w, W);
        for (int k = 0; k < 3 * H * W; k++)
            if (pixels[k] != expected[k])
                fail_msg("%s: byte %d (channel %d, y %d, x %d) is %d, expected %d", name, k,
                         k / (H * W), k % (H * W) / W, k % W, pixels[k], expected[k]);
        free(pixels);
    }
}

static void jpeg_test_error_exit(j_common_ptr cinfo) {
    char message[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, message);
    fail_msg("libjpeg could not write the test file: %s", message);
}

/* Writes interleaved samples of `components` per pixel in colour space in. */
static void write_jpeg(const char *path, int width, int height, int components, J_COLOR_SPACE in,
                       const uint8_t *samples) {
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr errors;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    cinfo.err = jpeg_std_error(&errors);
    errors.error_exit = jpeg_test_error_exit;
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = components;
    cinfo.in_color_space = in;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 95, TRUE);
    /* No chroma subsampling: colour edges stay within a few levels. */
    for (int c = 0; c < cinfo.num_components; c++)
        cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(uintptr_t)(samples + (size_t)cinfo.next_scanline * (size_t)width *
                                                           (size_t)components);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    assert_int_equal(fclose(f), 0);
}

/* A smooth test image, which JPEG keeps within a few levels. */
static uint8_t smooth(int x, int y, int c) {
    return (uint8_t)(40 + x * 6 + y * 4 + c * 30);
}

static void jpeg_rgb_and_grey_decode_to_their_size(void **state) {
    (void)state;
    enum { W = 21, H = 13 };
    uint8_t rgb[H * W * 3], grey[H * W];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            for (int c = 0; c < 3; c++)
                rgb[(y * W + x) * 3 + c] = smooth(x, y, c);
            grey[y * W + x] = smooth(x, y, 1);
        }
    const char *rgb_path = test_scratch_path("rgb.jpg"), *grey_path = test_scratch_path("grey.jpg");
    write_jpeg(rgb_path, W, H, 3, JCS_RGB, rgb);
    write_jpeg(grey_path, W, H, 1, JCS_GRAYSCALE, grey);

    uint8_t *pixels = NULL;
    int h = 0, w = 0;
    TEST_OK(clnet_image_read(rgb_path, &pixels, &h, &w));
    assert_int_equal(h, H);
    assert_int_equal(w, W);
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < H * W; k++) {
            int got = pixels[c * H * W + k], want = rgb[k * 3 + c];
            if (abs(got - want) > 12)
                fail_msg("rgb.jpg channel %d pixel %d: %d, written %d", c, k, got, want);
        }
    free(pixels);

    TEST_OK(clnet_image_read(grey_path, &pixels, &h, &w));
    assert_int_equal(h, H);
    assert_int_equal(w, W);
    /* Grey becomes three equal planes. */
    assert_memory_equal(pixels, pixels + H * W, H * W);
    assert_memory_equal(pixels, pixels + 2 * H * W, H * W);
    for (int k = 0; k < H * W; k++)
        if (abs(pixels[k] - grey[k]) > 6)
            fail_msg("grey.jpg pixel %d: %d, written %d", k, pixels[k], grey[k]);
    free(pixels);
}

static void jpeg_cmyk_is_unsupported(void **state) {
    (void)state;
    enum { W = 8, H = 8 };
    uint8_t cmyk[H * W * 4];
    for (int i = 0; i < H * W * 4; i++)
        cmyk[i] = (uint8_t)(i * 3);
    const char *path = test_scratch_path("cmyk.jpg");
    write_jpeg(path, W, H, 4, JCS_CMYK, cmyk);
    assert_image_fails(path, CLNET_STATUS_UNSUPPORTED, "CMYK");
}

/* ------------------------------------------------------------------------ */
/* Damaged and hostile files                                                */

static void rgb_png_bytes(const char *path, uint8_t **bytes, size_t *size) {
    enum { W = 6, H = 5 };
    uint8_t data[H * W * 3], expected[3 * H * W];
    png_spec s = {W, H, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE, data, 0, NULL, 0};
    build_png_case(s.color_type, 8, W, H, data, &s.row_bytes, expected);
    write_png(path, &s);
    *bytes = test_read_file(path, size);
}

static void truncated_png_and_jpeg_are_rejected_at_every_length(void **state) {
    (void)state;
    uint8_t *png_bytes;
    size_t png_size;
    rgb_png_bytes(test_scratch_path("whole.png"), &png_bytes, &png_size);
    const char *path = test_scratch_path("cut.png");
    for (size_t n = 1; n < png_size; n++) {
        test_write_file(path, png_bytes, n);
        assert_image_fails(path, CLNET_STATUS_FORMAT_ERROR, NULL);
    }
    free(png_bytes);

    enum { W = 16, H = 16 };
    uint8_t rgb[H * W * 3];
    for (int i = 0; i < H * W * 3; i++)
        rgb[i] = smooth(i % W, i / (W * 3), i % 3);
    write_jpeg(test_scratch_path("whole.jpg"), W, H, 3, JCS_RGB, rgb);
    size_t jpeg_size;
    uint8_t *jpeg_bytes = test_read_file(test_scratch_path("whole.jpg"), &jpeg_size);
    path = test_scratch_path("cut.jpg");
    for (size_t n = 1; n < jpeg_size; n++) {
        test_write_file(path, jpeg_bytes, n);
        assert_image_fails(path, CLNET_STATUS_FORMAT_ERROR, NULL);
    }
    free(jpeg_bytes);
}

static void png_with_any_byte_changed_is_rejected(void **state) {
    (void)state;
    uint8_t *bytes;
    size_t size;
    rgb_png_bytes(test_scratch_path("whole.png"), &bytes, &size);
    const char *path = test_scratch_path("damaged.png");
    /* Every chunk of this file is critical and checksummed. */
    for (size_t i = 0; i < size; i++) {
        bytes[i] ^= 0x5A;
        test_write_file(path, bytes, size);
        bytes[i] ^= 0x5A;
        uint8_t *pixels = NULL;
        int h, w;
        clnet_status s = clnet_image_read(path, &pixels, &h, &w);
        if (s == CLNET_STATUS_OK)
            fail_msg("damaged.png with byte %zu changed decoded as %d x %d", i, w, h);
        assert_null(pixels);
        assert_non_null(strstr(clnet_last_error(), path));
    }
    free(bytes);
}

static void non_images_empty_and_missing_files_are_rejected(void **state) {
    (void)state;
    const char *path = test_scratch_path("text.png");
    const char *text = "this is not an image\n";
    test_write_file(path, text, strlen(text));
    assert_image_fails(path, CLNET_STATUS_FORMAT_ERROR, "neither a PNG nor a JPEG");
    path = test_scratch_path("empty.jpg");
    test_write_file(path, "", 0);
    assert_image_fails(path, CLNET_STATUS_FORMAT_ERROR, "empty");
    assert_image_fails(test_scratch_path("missing.png"), CLNET_STATUS_NOT_FOUND, NULL);
}

/* A PNG whose header claims 100000 x 100000 pixels (the image data never
 * follows): refused before anything that size is allocated. */
static void png_with_giant_dimensions_is_refused(void **state) {
    (void)state;
    const char *path = test_scratch_path("giant.png");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng could not write %s", path);
    png_init_io(png, f);
    png_set_IHDR(png, info, 100000, 100000, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    const png_byte idat[4] = {'I', 'D', 'A', 'T'}, junk[16] = {0};
    png_write_chunk(png, idat, junk, sizeof junk);
    png_destroy_write_struct(&png, &info);
    assert_int_equal(fclose(f), 0);
    assert_image_fails(path, CLNET_STATUS_UNSUPPORTED, "100000 x 100000");
}

/* A small JPEG whose frame header is edited to claim 60000 x 60000. */
static void jpeg_with_giant_dimensions_is_refused(void **state) {
    (void)state;
    enum { W = 8, H = 8 };
    uint8_t grey[H * W] = {0};
    const char *path = test_scratch_path("giant.jpg");
    write_jpeg(path, W, H, 1, JCS_GRAYSCALE, grey);
    size_t size;
    uint8_t *bytes = test_read_file(path, &size);
    size_t sof = 0;
    for (size_t i = 2; i + 9 < size && !sof; i++)
        if (bytes[i] == 0xFF && bytes[i + 1] == 0xC0)
            sof = i;
    assert_true(sof > 0);
    /* SOF0: marker, length (2), precision (1), height (2), width (2). */
    bytes[sof + 5] = 0xEA, bytes[sof + 6] = 0x60;
    bytes[sof + 7] = 0xEA, bytes[sof + 8] = 0x60;
    test_write_file(path, bytes, size);
    free(bytes);
    assert_image_fails(path, CLNET_STATUS_UNSUPPORTED, "60000 x 60000");
}

/* ------------------------------------------------------------------------ */
/* The shared lossless samples                                              */

/* The 18 lossless records are the samples' PNGs byte for byte, with the
 * class of their file name; the JPEG-decoded test_batch.bin record the
 * index names is the same picture, up to JPEG noise. */
static void lossless_subset_records_are_the_sample_pngs(void **state) {
    (void)state;
    const char *index_path = test_shared_data("cifar10/lossless_test_subset18_index.tsv");
    if (!index_path)
        skip();
    FILE *index = fopen(index_path, "r");
    assert_non_null(index);
    char bin[600];
    snprintf(bin, sizeof bin, "%s", test_shared_data("cifar10/lossless_test_subset18.bin"));
    uint8_t *pixels = NULL, *labels = NULL, *jpeg_pixels = NULL, *jpeg_labels = NULL;
    int count = 0, jpeg_count = 0;
    TEST_OK(clnet_cifar_read(bin, 0, &pixels, &labels, &count));
    assert_int_equal(count, 18);
    const char *test_batch = test_shared_data("cifar10/test_batch.bin");
    if (test_batch)
        TEST_OK(clnet_cifar_read(test_batch, 0, &jpeg_pixels, &jpeg_labels, &jpeg_count));

    static const char *const names[10] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                          "dog",      "frog",       "horse", "ship", "truck"};
    char line[512];
    int checked = 0;
    while (fgets(line, sizeof line, index)) {
        if (line[0] == '#')
            continue;
        int record, label, jpeg_record;
        char png_name[128], png_path[256];
        assert_int_equal(sscanf(line, "%d %d %127s %d", &record, &label, png_name, &jpeg_record),
                         4);
        assert_true(record >= 0 && record < count);
        assert_int_equal(labels[record], label);
        assert_int_equal(strncmp(png_name, names[label], strlen(names[label])), 0);

        snprintf(png_path, sizeof png_path, "cifar10/samples_sclbl_tutorials/%s", png_name);
        const char *full = test_shared_data(png_path);
        assert_non_null(full);
        uint8_t *decoded = NULL;
        int h = 0, w = 0;
        TEST_OK(clnet_image_read(full, &decoded, &h, &w));
        assert_int_equal(h, 32);
        assert_int_equal(w, 32);
        assert_memory_equal(decoded, pixels + (size_t)record * CIFAR_IMAGE, CIFAR_IMAGE);

        if (jpeg_pixels) {
            assert_true(jpeg_record >= 0 && jpeg_record < jpeg_count);
            assert_int_equal(jpeg_labels[jpeg_record], label);
            double mse = 0.0;
            const uint8_t *j = jpeg_pixels + (size_t)jpeg_record * CIFAR_IMAGE;
            for (int k = 0; k < CIFAR_IMAGE; k++)
                mse += (double)(decoded[k] - j[k]) * (decoded[k] - j[k]);
            mse /= CIFAR_IMAGE;
            if (mse > 200.0) /* MATCHES.tsv: JPEG noise is 10 to 130; other images 500+ */
                fail_msg("%s vs test_batch.bin record %d: mean squared error %.1f", png_name,
                         jpeg_record, mse);
        }
        free(decoded);
        checked++;
    }
    fclose(index);
    assert_int_equal(checked, 18);
    free(pixels);
    free(labels);
    free(jpeg_pixels);
    free(jpeg_labels);
}

/* Reads the member `name` of a gzip-compressed ustar archive; NULL if it
 * is not there. Only plain members with names under 100 bytes are found. */
static uint8_t *tar_gz_member(const char *archive, const char *name, size_t *size) {
    gzFile z = gzopen(archive, "rb");
    assert_non_null(z);
    uint8_t header[512], *data = NULL;
    while (!data && gzread(z, header, sizeof header) == (int)sizeof header && header[0]) {
        char member[101], octal[13];
        memcpy(member, header, 100);
        member[100] = '\0';
        memcpy(octal, header + 124, 12);
        octal[12] = '\0';
        unsigned long bytes = strtoul(octal, NULL, 8), padded = (bytes + 511) / 512 * 512;
        const char *plain = strncmp(member, "./", 2) == 0 ? member + 2 : member;
        if (strcmp(plain, name) != 0) {
            assert_true(gzseek(z, (z_off_t)padded, SEEK_CUR) >= 0);
            continue;
        }
        data = malloc(bytes + 1);
        assert_non_null(data);
        assert_int_equal(gzread(z, data, (unsigned)bytes), (int)bytes);
        *size = bytes;
    }
    gzclose(z);
    return data;
}

/* test_batch.bin holds the source JPEGs decoded by PIL, which uses
 * libjpeg's default decoding as clnet does: the bytes are identical. */
static void source_jpegs_decode_to_the_test_batch_bytes(void **state) {
    (void)state;
    /* test_shared_data returns one static buffer: keep copies. */
    char archive[600], batch[600];
    const char *found = test_shared_data("cifar10/yoongikim_jpeg/test_jpg.tar.gz");
    if (!found)
        skip();
    snprintf(archive, sizeof archive, "%s", found);
    if (!(found = test_shared_data("cifar10/test_batch.bin")))
        skip();
    snprintf(batch, sizeof batch, "%s", found);
    static const struct {
        const char *member;
        int record;
    } cases[] = {
        {"test/airplane/0000.jpg", 0}, {"test/automobile/0000.jpg", 1}, {"test/cat/0003.jpg", 33}};
    uint8_t *pixels = NULL, *labels = NULL;
    int count = 0;
    TEST_OK(clnet_cifar_read(batch, 40, &pixels, &labels, &count));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t size = 0;
        uint8_t *jpeg = tar_gz_member(test_shared_data("cifar10/yoongikim_jpeg/test_jpg.tar.gz"),
                                      cases[i].member, &size);
        if (!jpeg)
            fail_msg("%s is not in the tarball", cases[i].member);
        const char *path = test_scratch_path("source.jpg");
        test_write_file(path, jpeg, size);
        free(jpeg);
        uint8_t *decoded = NULL;
        int h = 0, w = 0;
        TEST_OK(clnet_image_read(path, &decoded, &h, &w));
        assert_int_equal(h, 32);
        assert_int_equal(w, 32);
        assert_memory_equal(decoded, pixels + (size_t)cases[i].record * CIFAR_IMAGE, CIFAR_IMAGE);
        free(decoded);
    }
    free(pixels);
    free(labels);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cifar_test_batch_has_10000_records_labelled_r_mod_10),
        cmocka_unit_test(cifar_limit_reads_the_first_records),
        cmocka_unit_test(cifar_rejects_truncated_empty_and_missing_files),
        cmocka_unit_test(cifar_rejects_labels_above_9),
        cmocka_unit_test(preprocess_default_scales_by_255_in_float),
        cmocka_unit_test(preprocess_raw_keeps_0_to_255),
        cmocka_unit_test(preprocess_subtracts_mean_image_then_mean_std),
        cmocka_unit_test(preprocess_bgr_reverses_channels_before_mean_std),
        cmocka_unit_test(preprocess_handles_grey_and_batches),
        cmocka_unit_test(preprocess_rejects_bad_arguments),
        cmocka_unit_test(png_of_every_colour_type_decodes_exactly),
        cmocka_unit_test(jpeg_rgb_and_grey_decode_to_their_size),
        cmocka_unit_test(jpeg_cmyk_is_unsupported),
        cmocka_unit_test(truncated_png_and_jpeg_are_rejected_at_every_length),
        cmocka_unit_test(png_with_any_byte_changed_is_rejected),
        cmocka_unit_test(non_images_empty_and_missing_files_are_rejected),
        cmocka_unit_test(png_with_giant_dimensions_is_refused),
        cmocka_unit_test(jpeg_with_giant_dimensions_is_refused),
        cmocka_unit_test(lossless_subset_records_are_the_sample_pngs),
        cmocka_unit_test(source_jpegs_decode_to_the_test_batch_bytes),
    };
    return cmocka_run_group_tests(tests, make_scratch_dir, remove_scratch_dir);
}
