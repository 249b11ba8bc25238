// PNG → RGB8 through libpng's classic API, with the conversions Pillow's `convert("RGB")` makes.
// The simplified API is avoided on purpose: it treats 16-bit data as linear light and re-encodes it.
#include "mg_image_codecs.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Everything that must survive a longjmp lives here rather than in (non-volatile) locals.
typedef struct png_context {
    const uint8_t *data;
    size_t size;
    size_t position;
    int truncated;
    char message[MG_IMAGE_MESSAGE_CAPACITY];
    uint8_t *pixels;
    uint8_t *samples16;     // 16-bit gray rows before Pillow's clamp to 8 bits
    png_bytep *rows;
} png_context;

static void mg_png_error(png_structp png, png_const_charp text) {
    png_context *context = (png_context *)png_get_error_ptr(png);
    snprintf(context->message, sizeof context->message, "%s", text ? text : "libpng error");
    // Returning would let libpng call its default handler, which prints to stderr.
    png_longjmp(png, 1);
}

static void mg_png_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

static void mg_png_read(png_structp png, png_bytep destination, size_t length) {
    png_context *context = (png_context *)png_get_io_ptr(png);
    if (length > context->size - context->position) {
        context->truncated = 1;
        png_error(png, "unexpected end of PNG data");
    }
    memcpy(destination, context->data + context->position, length);
    context->position += length;
}

static void set_message(mg_image_result *result, const char *text) {
    snprintf(result->message, sizeof result->message, "%s", text);
}

int32_t mg_decode_png(const uint8_t *data, size_t size, uint64_t max_pixels, mg_image_result *result) {
    memset(result, 0, sizeof *result);
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        set_message(result, "not a PNG signature");
        return result->status = MG_IMAGE_CORRUPT;
    }
    // The limit is checked from the IHDR bytes themselves: png_read_info reads on to the first IDAT,
    // and a hostile header should be rejected before libpng does any work.
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        const uint32_t width = (uint32_t)data[16] << 24 | (uint32_t)data[17] << 16 | (uint32_t)data[18] << 8 | data[19];
        const uint32_t height = (uint32_t)data[20] << 24 | (uint32_t)data[21] << 16 | (uint32_t)data[22] << 8 | data[23];
        // Sides above 2^31 − 1 are invalid PNG; libpng reports those as corrupt.
        if (width <= 0x7fffffffu && height <= 0x7fffffffu && (uint64_t)width * height > max_pixels) {
            result->width = width;
            result->height = height;
            snprintf(result->message, sizeof result->message, "%ux%u pixels exceed the limit of %llu",
                     (unsigned)width, (unsigned)height, (unsigned long long)max_pixels);
            return result->status = MG_IMAGE_TOO_LARGE;
        }
    }
    // On the heap so that its fields stay defined after a longjmp (the pointer itself never changes).
    png_context *const context = (png_context *)calloc(1, sizeof(png_context));
    if (!context) {
        set_message(result, "out of memory for the PNG decoder");
        return result->status = MG_IMAGE_OUT_OF_MEMORY;
    }
    context->data = data;
    context->size = size;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, context, mg_png_error, mg_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        free(context);
        set_message(result, "out of memory for the PNG decoder");
        return result->status = MG_IMAGE_OUT_OF_MEMORY;
    }

    if (setjmp(png_jmpbuf(png))) {
        result->status = context->truncated ? MG_IMAGE_TRUNCATED : MG_IMAGE_CORRUPT;
        set_message(result, context->message);
        free(context->pixels);
        free(context->samples16);
        free(context->rows);
        png_destroy_read_struct(&png, &info, NULL);
        free(context);
        return result->status;
    }

    png_set_read_fn(png, context, mg_png_read);
    // A corrupted CRC is an error in every chunk libpng reads (its default only warns for ancillary
    // chunks). Pillow is stricter before IDAT and does not check IDAT CRCs at all.
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    // libpng's default cap is 1,000,000 per side; the caller's pixel limit is the real bound.
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);

    png_read_info(png, info);
    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
    result->width = width;
    result->height = height;
    if ((uint64_t)width * (uint64_t)height > max_pixels) {
        snprintf(result->message, sizeof result->message, "%ux%u pixels exceed the limit of %llu",
                 (unsigned)width, (unsigned)height, (unsigned long long)max_pixels);
        png_destroy_read_struct(&png, &info, NULL);
        free(context);
        return result->status = MG_IMAGE_TOO_LARGE;
    }

    const int gray16 = color_type == PNG_COLOR_TYPE_GRAY && bit_depth == 16;
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (!gray16) {
        if (bit_depth == 16) png_set_strip_16(png);
        png_set_strip_alpha(png);
        if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    const size_t row_bytes = png_get_rowbytes(png, info);
    const size_t expected_row = (size_t)width * (gray16 ? 2 : 3);
    if (png_get_channels(png, info) != (gray16 ? 1 : 3) || row_bytes != expected_row) {
        char text[96];
        snprintf(text, sizeof text, "unexpected PNG row layout (%u channels, %zu bytes)",
                 (unsigned)png_get_channels(png, info), row_bytes);
        png_error(png, text);
    }

    const size_t pixel_bytes = (size_t)width * height * 3;
    context->pixels = (uint8_t *)malloc(pixel_bytes ? pixel_bytes : 1);
    context->rows = (png_bytep *)malloc(sizeof(png_bytep) * (height ? height : 1));
    if (gray16) context->samples16 = (uint8_t *)malloc(row_bytes * height);
    if (!context->pixels || !context->rows || (gray16 && !context->samples16)) {
        free(context->pixels);
        free(context->samples16);
        free(context->rows);
        png_destroy_read_struct(&png, &info, NULL);
        free(context);
        set_message(result, "out of memory for PNG pixels");
        return result->status = MG_IMAGE_OUT_OF_MEMORY;
    }
    uint8_t *target = gray16 ? context->samples16 : context->pixels;
    for (png_uint_32 y = 0; y < height; y++) context->rows[y] = target + (size_t)y * row_bytes;
    png_read_image(png, context->rows);
    // png_read_end is skipped: like Pillow, trailing chunks after the image data are not needed.

    if (gray16) {
        // Pillow: mode "I;16" → "RGB" takes min(value, 255), not the high byte.
        const size_t count = (size_t)width * height;
        const uint8_t *source = context->samples16;
        uint8_t *out = context->pixels;
        for (size_t i = 0; i < count; i++) {
            const uint8_t value = source[2 * i] ? 255 : source[2 * i + 1];
            out[3 * i] = value;
            out[3 * i + 1] = value;
            out[3 * i + 2] = value;
        }
        free(context->samples16);
        context->samples16 = NULL;
    }
    free(context->rows);
    png_destroy_read_struct(&png, &info, NULL);
    result->pixels = context->pixels;
    free(context);
    return result->status = MG_IMAGE_OK;
}

void mg_image_free(uint8_t *pixels) { free(pixels); }
