/* Decoding PNG (libpng) and JPEG (libjpeg) files to planar 8-bit RGB, the
 * layout of CIFAR-10 records. */
#include <png.h> /* before setjmp.h, as older libpng releases insist */

#include <jpeglib.h>

#include "error.h"

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limitation: images of more than 2^26 pixels (8192 x 8192) are refused,
 * so that a hostile header cannot make clnet allocate gigabytes. */
#define MAX_IMAGE_PIXELS (UINT64_C(1) << 26)

static clnet_status check_dimensions(const char *kind, const char *path, uint64_t width,
                                     uint64_t height) {
    if (width == 0 || height == 0)
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                          "%s '%s' is %" PRIu64 " x %" PRIu64
                          " pixels: an image needs at least one",
                          kind, path, width, height);
    if (width * height > MAX_IMAGE_PIXELS)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "%s '%s' is %" PRIu64 " x %" PRIu64 " pixels, more than the %" PRIu64
                          " clnet decodes",
                          kind, path, width, height, MAX_IMAGE_PIXELS);
    return CLNET_STATUS_OK;
}

/* Interleaved rows (channels 1 or 3 per pixel) to three planes. */
static void to_planar_rgb(const uint8_t *src, int channels, int height, int width, uint8_t *dst) {
    size_t plane = (size_t)height * (size_t)width;
    for (size_t k = 0; k < plane; k++)
        for (int c = 0; c < 3; c++)
            dst[(size_t)c * plane + k] = src[k * (size_t)channels + (channels == 3 ? c : 0)];
}

/* ------------------------------------------------------------------------ */
/* PNG                                                                      */

/* State that must survive libpng's longjmp, hence kept outside the frame
 * that calls setjmp. */
typedef struct png_job {
    const char *path;
    FILE *f;
    png_structp png;
    png_infop info;
    uint8_t *interleaved; /* height x width x 3 */
    png_bytep *rows;
    int height, width;
    char message[256];
} png_job;

static void png_error_handler(png_structp png, png_const_charp message) {
    png_job *job = png_get_error_ptr(png);
    snprintf(job->message, sizeof job->message, "%s", message);
    png_longjmp(png, 1);
}

/* Warnings (an unknown ancillary chunk, a questionable colour profile) do
 * not change the pixels; a library does not print them. */
static void png_warning_handler(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

/* libpng's own reader says only "Read Error"; this one says why. */
static void png_read_handler(png_structp png, png_bytep data, size_t length) {
    png_job *job = png_get_io_ptr(png);
    if (fread(data, 1, length, job->f) != length)
        png_error(png, ferror(job->f) ? strerror(errno) : "the file ends early (truncated)");
}

static clnet_status decode_png(png_job *job) {
    if (setjmp(png_jmpbuf(job->png)))
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "decoding PNG '%s': %s", job->path,
                          job->message);
    png_set_read_fn(job->png, job, png_read_handler);
    png_read_info(job->png, job->info);
    png_uint_32 width, height;
    int bit_depth, color_type;
    png_get_IHDR(job->png, job->info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
    CLNET_TRY(check_dimensions("PNG", job->path, width, height));

    /* Every colour type becomes 8-bit RGB. 16-bit samples keep their high
     * byte, as PIL and OpenCV do; alpha and transparency are dropped, not
     * composited onto a background. */
    if (bit_depth == 16)
        png_set_strip_16(job->png);
    if (color_type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(job->png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
        png_set_expand_gray_1_2_4_to_8(job->png);
    /* Expanding a palette also turns its transparency (tRNS) into alpha. */
    if ((color_type & PNG_COLOR_MASK_ALPHA) || png_get_valid(job->png, job->info, PNG_INFO_tRNS))
        png_set_strip_alpha(job->png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(job->png);
    png_set_interlace_handling(job->png);
    png_read_update_info(job->png, job->info);
    if (png_get_channels(job->png, job->info) != 3 || png_get_bit_depth(job->png, job->info) != 8 ||
        png_get_rowbytes(job->png, job->info) != (size_t)width * 3)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "decoding PNG '%s': colour type %d at %d bits did not convert to "
                          "8-bit RGB",
                          job->path, color_type, bit_depth);

    job->height = (int)height;
    job->width = (int)width;
    job->interleaved = malloc((size_t)height * width * 3);
    job->rows = malloc((size_t)height * sizeof *job->rows);
    if (!job->interleaved || !job->rows)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                          "decoding PNG '%s' (%u x %u pixels): out of memory", job->path,
                          (unsigned)width, (unsigned)height);
    for (png_uint_32 y = 0; y < height; y++)
        job->rows[y] = job->interleaved + (size_t)y * width * 3;
    png_read_image(job->png, job->rows);
    /* Reading to the end checks the rest of the file: a truncated or
     * damaged tail is an error, not a silently accepted image. */
    png_read_end(job->png, NULL);
    return CLNET_STATUS_OK;
}

static clnet_status read_png(FILE *f, const char *path, uint8_t **pixels, int *height, int *width) {
    png_job job;
    memset(&job, 0, sizeof job);
    job.path = path;
    job.f = f;
    job.png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, png_error_handler, png_warning_handler);
    if (job.png)
        job.info = png_create_info_struct(job.png);
    clnet_status status;
    if (!job.png || !job.info)
        status = clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                            "decoding PNG '%s': cannot create the decoder", path);
    else
        status = decode_png(&job);
    if (status == CLNET_STATUS_OK) {
        *pixels = malloc((size_t)job.height * (size_t)job.width * 3);
        if (*pixels) {
            to_planar_rgb(job.interleaved, 3, job.height, job.width, *pixels);
            *height = job.height;
            *width = job.width;
        } else {
            status =
                clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "decoding PNG '%s': out of memory", path);
        }
    }
    png_destroy_read_struct(job.png ? &job.png : NULL, job.info ? &job.info : NULL, NULL);
    free(job.rows);
    free(job.interleaved);
    return status;
}

/* ------------------------------------------------------------------------ */
/* JPEG                                                                     */

typedef struct jpeg_job {
    struct jpeg_error_mgr errors; /* first: libjpeg hands back a pointer to it */
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    struct jpeg_decompress_struct cinfo;
    int created;
    const char *path;
    uint8_t *interleaved; /* height x width x output components */
    int height, width, components;
} jpeg_job;

static void jpeg_error_handler(j_common_ptr cinfo) {
    jpeg_job *job = (jpeg_job *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, job->message);
    longjmp(job->jump, 1);
}

/* libjpeg reports damaged data (a premature end of file, corrupt entropy
 * data) as warnings and fills the rest with grey; an image that is not
 * what its file says is rejected instead. Trace messages are ignored. */
static void jpeg_message_handler(j_common_ptr cinfo, int level) {
    if (level < 0)
        jpeg_error_handler(cinfo);
}

static void jpeg_output_handler(j_common_ptr cinfo) {
    (void)cinfo;
}

static clnet_status decode_jpeg(jpeg_job *job, FILE *f) {
    struct jpeg_decompress_struct *cinfo = &job->cinfo;
    if (setjmp(job->jump))
        return clnet_fail(CLNET_STATUS_FORMAT_ERROR, "decoding JPEG '%s': %s", job->path,
                          job->message);
    jpeg_create_decompress(cinfo);
    job->created = 1;
    jpeg_stdio_src(cinfo, f);
    jpeg_read_header(cinfo, TRUE);
    CLNET_TRY(check_dimensions("JPEG", job->path, cinfo->image_width, cinfo->image_height));
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo->out_color_space = JCS_GRAYSCALE; break;
    case JCS_RGB:
    case JCS_YCbCr: cinfo->out_color_space = JCS_RGB; break;
    case JCS_CMYK:
    case JCS_YCCK:
        /* Limitation: CMYK needs a colour profile to become RGB. */
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "decoding JPEG '%s': CMYK images are not supported (convert it to "
                          "RGB first)",
                          job->path);
    default:
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "decoding JPEG '%s': colour space %d is not supported", job->path,
                          (int)cinfo->jpeg_color_space);
    }

    jpeg_start_decompress(cinfo);
    job->height = (int)cinfo->output_height;
    job->width = (int)cinfo->output_width;
    job->components = cinfo->output_components;
    if (job->components != 1 && job->components != 3)
        return clnet_fail(CLNET_STATUS_UNSUPPORTED,
                          "decoding JPEG '%s': %d colour components after conversion", job->path,
                          job->components);
    size_t row_bytes = (size_t)job->width * (size_t)job->components;
    job->interleaved = malloc((size_t)job->height * row_bytes);
    if (!job->interleaved)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY,
                          "decoding JPEG '%s' (%d x %d pixels): out of memory", job->path,
                          job->width, job->height);
    while (cinfo->output_scanline < cinfo->output_height) {
        JSAMPROW row = job->interleaved + (size_t)cinfo->output_scanline * row_bytes;
        jpeg_read_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_decompress(cinfo);
    return CLNET_STATUS_OK;
}

static clnet_status read_jpeg(FILE *f, const char *path, uint8_t **pixels, int *height,
                              int *width) {
    jpeg_job *job = calloc(1, sizeof *job);
    if (!job)
        return clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "decoding JPEG '%s': out of memory", path);
    job->path = path;
    job->cinfo.err = jpeg_std_error(&job->errors);
    job->errors.error_exit = jpeg_error_handler;
    job->errors.emit_message = jpeg_message_handler;
    job->errors.output_message = jpeg_output_handler;

    clnet_status status = decode_jpeg(job, f);
    if (status == CLNET_STATUS_OK) {
        *pixels = malloc((size_t)job->height * (size_t)job->width * 3);
        if (*pixels) {
            to_planar_rgb(job->interleaved, job->components, job->height, job->width, *pixels);
            *height = job->height;
            *width = job->width;
        } else {
            status =
                clnet_fail(CLNET_STATUS_OUT_OF_MEMORY, "decoding JPEG '%s': out of memory", path);
        }
    }
    if (job->created)
        jpeg_destroy_decompress(&job->cinfo);
    free(job->interleaved);
    free(job);
    return status;
}

/* ------------------------------------------------------------------------ */

clnet_status clnet_image_read(const char *path, uint8_t **pixels, int *height, int *width) {
    if (!path || !pixels || !height || !width)
        return clnet_fail(CLNET_STATUS_INVALID_ARGUMENT, "clnet_image_read: NULL argument");
    *pixels = NULL;
    *height = *width = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return clnet_fail(errno == ENOENT ? CLNET_STATUS_NOT_FOUND : CLNET_STATUS_IO_ERROR,
                          "cannot open image '%s': %s", path, strerror(errno));
    unsigned char head[8];
    size_t n = fread(head, 1, sizeof head, f);
    clnet_status status;
    if (ferror(f)) {
        status = clnet_fail(CLNET_STATUS_IO_ERROR, "reading image '%s': %s", path, strerror(errno));
    } else if (fseek(f, 0, SEEK_SET) != 0) {
        status =
            clnet_fail(CLNET_STATUS_IO_ERROR, "rewinding image '%s': %s", path, strerror(errno));
    } else if (n == sizeof head && png_sig_cmp(head, 0, sizeof head) == 0) {
        status = read_png(f, path, pixels, height, width);
    } else if (n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) {
        status = read_jpeg(f, path, pixels, height, width);
    } else {
        status = clnet_fail(CLNET_STATUS_FORMAT_ERROR,
                            n == 0 ? "image '%s' is empty"
                                   : "'%s' is neither a PNG nor a JPEG file (by its first bytes)",
                            path);
    }
    fclose(f);
    return status;
}
