// JPEG → RGB8 through libjpeg(-turbo) with the library defaults Pillow uses (JDCT_ISLOW, fancy
// upsampling, block smoothing), plus Pillow's gray→RGB and inverted-CMYK→RGB conversions.
#include "mg_image_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

// Far above any real progressive file (typically about 10 scans); a hostile file with thousands of
// tiny scans would otherwise take minutes to decode.
enum { MG_JPEG_MAX_SCANS = 1000 };

typedef struct jpeg_context {
    struct jpeg_error_mgr error;   // first member: libjpeg passes &error where we need the context
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    int32_t status;
    char message[MG_IMAGE_MESSAGE_CAPACITY];
    uint8_t *pixels;
    uint8_t *row;                  // one decoded row when the output is not RGB (gray, CMYK)
} jpeg_context;

static void mg_jpeg_error_exit(j_common_ptr info) {
    jpeg_context *context = (jpeg_context *)info->err;
    char text[JMSG_LENGTH_MAX];
    info->err->format_message(info, text);
    snprintf(context->message, sizeof context->message, "%s", text);
    const int code = info->err->msg_code;
    context->status = (code == JERR_BAD_PRECISION || code == JERR_NOT_COMPILED) ? MG_IMAGE_UNSUPPORTED
                    : (code == JERR_OUT_OF_MEMORY) ? MG_IMAGE_OUT_OF_MEMORY
                    : MG_IMAGE_CORRUPT;
    longjmp(context->jump, 1);
}

// Warnings are silent, except premature end of data: libjpeg would pad the image with gray and
// carry on, where Pillow raises "image file is truncated", so stop right away.
static void mg_jpeg_emit_message(j_common_ptr info, int level) {
    if (level >= 0) return;     // trace messages
    info->err->num_warnings++;
    if (info->err->msg_code == JWRN_JPEG_EOF) {
        jpeg_context *context = (jpeg_context *)info->err;
        snprintf(context->message, sizeof context->message, "JPEG data ends before the image is complete");
        context->status = MG_IMAGE_TRUNCATED;
        longjmp(context->jump, 1);
    }
}

static void mg_jpeg_output_message(j_common_ptr info) { (void)info; }

static void mg_jpeg_progress(j_common_ptr info) {
    if (!info->is_decompressor) return;
    j_decompress_ptr decompress = (j_decompress_ptr)info;
    if (decompress->input_scan_number > MG_JPEG_MAX_SCANS) {
        jpeg_context *context = (jpeg_context *)info->err;
        snprintf(context->message, sizeof context->message, "more than %d progressive scans", MG_JPEG_MAX_SCANS);
        context->status = MG_IMAGE_CORRUPT;
        longjmp(context->jump, 1);
    }
}

// Pillow reads 4-component JPEGs as "CMYK;I" (Adobe inverted) and converts CMYK → RGB with
// r = nk − nk·c/255 (rounded as MULDIV255), nk = 255 − k.
static void cmyk_inverted_to_rgb(const uint8_t *restrict in, uint8_t *restrict out, size_t width) {
    for (size_t x = 0; x < width; x++) {
        const int nk = in[4 * x + 3];      // inverted k is already 255 − k
        for (int c = 0; c < 3; c++) {
            const int tmp = (255 - in[4 * x + c]) * nk + 128;
            const int value = nk - (((tmp >> 8) + tmp) >> 8);
            out[3 * x + c] = (uint8_t)(value < 0 ? 0 : value);
        }
    }
}

int32_t mg_decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels, mg_image_result *result) {
    memset(result, 0, sizeof *result);
    if (size < 3 || data[0] != 0xFF || data[1] != 0xD8) {
        snprintf(result->message, sizeof result->message, "not a JPEG signature");
        return result->status = MG_IMAGE_CORRUPT;
    }
    // The context and the decompressor are on the heap: their fields change between setjmp and a
    // possible longjmp, which leaves non-volatile locals indeterminate.
    jpeg_context *const context = (jpeg_context *)calloc(1, sizeof(jpeg_context));
    struct jpeg_decompress_struct *const info = (struct jpeg_decompress_struct *)calloc(1, sizeof *info);
    if (!context || !info) {
        free(context);
        free(info);
        snprintf(result->message, sizeof result->message, "out of memory for the JPEG decoder");
        return result->status = MG_IMAGE_OUT_OF_MEMORY;
    }
    info->err = jpeg_std_error(&context->error);
    context->error.error_exit = mg_jpeg_error_exit;
    context->error.emit_message = mg_jpeg_emit_message;
    context->error.output_message = mg_jpeg_output_message;
    context->progress.progress_monitor = mg_jpeg_progress;

    if (setjmp(context->jump)) {
        result->status = context->status;
        snprintf(result->message, sizeof result->message, "%s", context->message);
        jpeg_destroy_decompress(info);
        free(context->pixels);
        free(context->row);
        free(context);
        free(info);
        return result->status;
    }

    jpeg_create_decompress(info);
    info->progress = &context->progress;
    jpeg_mem_src(info, data, (unsigned long)size);
    jpeg_read_header(info, TRUE);
    result->width = info->image_width;
    result->height = info->image_height;
    if ((uint64_t)info->image_width * info->image_height > max_pixels) {
        snprintf(context->message, sizeof context->message, "%ux%u pixels exceed the limit of %llu",
                 (unsigned)info->image_width, (unsigned)info->image_height, (unsigned long long)max_pixels);
        context->status = MG_IMAGE_TOO_LARGE;
        longjmp(context->jump, 1);
    }

    switch (info->jpeg_color_space) {
    case JCS_GRAYSCALE: info->out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: info->out_color_space = JCS_CMYK; break;
    default: info->out_color_space = JCS_RGB; break;
    }
    jpeg_start_decompress(info);
    const int components = info->output_components;
    const int expected = info->out_color_space == JCS_GRAYSCALE ? 1 : info->out_color_space == JCS_CMYK ? 4 : 3;
    if (components != expected) {
        snprintf(context->message, sizeof context->message, "unexpected JPEG output with %d components", components);
        context->status = MG_IMAGE_UNSUPPORTED;
        longjmp(context->jump, 1);
    }

    const size_t width = info->output_width, height = info->output_height;
    context->pixels = (uint8_t *)malloc(width * height * 3);
    if (components != 3) context->row = (uint8_t *)malloc(width * (size_t)components);
    if (!context->pixels || (components != 3 && !context->row)) {
        snprintf(context->message, sizeof context->message, "out of memory for JPEG pixels");
        context->status = MG_IMAGE_OUT_OF_MEMORY;
        longjmp(context->jump, 1);
    }
    while (info->output_scanline < info->output_height) {
        uint8_t *out = context->pixels + (size_t)info->output_scanline * width * 3;
        JSAMPROW row = components == 3 ? out : context->row;
        if (jpeg_read_scanlines(info, &row, 1) != 1) {
            // Only a suspending data source returns no row; the memory source never suspends.
            snprintf(context->message, sizeof context->message, "libjpeg returned no scanline");
            context->status = MG_IMAGE_CORRUPT;
            longjmp(context->jump, 1);
        }
        if (components == 1) {
            for (size_t x = 0; x < width; x++) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = context->row[x];
        } else if (components == 4) {
            cmyk_inverted_to_rgb(context->row, out, width);
        }
    }
    // Reads up to EOI, so a file cut after the last scan is also reported as truncated (as Pillow does).
    jpeg_finish_decompress(info);
    jpeg_destroy_decompress(info);
    result->pixels = context->pixels;
    free(context->row);
    free(context);
    free(info);
    return result->status = MG_IMAGE_OK;
}
