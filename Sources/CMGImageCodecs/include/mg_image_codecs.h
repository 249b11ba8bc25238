#ifndef MG_IMAGE_CODECS_H
#define MG_IMAGE_CODECS_H
// Decoders for PNG (libpng) and JPEG (libjpeg-turbo) that return interleaved RGB8 pixels equal to
// Pillow's `Image.open(f).convert("RGB")`. libpng and libjpeg report errors with setjmp/longjmp,
// which must not cross Swift frames, so every longjmp lands inside these functions and comes out
// as a status code. Nothing is ever printed.
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mg_image_status {
    MG_IMAGE_OK = 0,
    /// The data ends before the image is complete.
    MG_IMAGE_TRUNCATED = 1,
    /// The data is not a valid image of the format (bad signature, CRC, Huffman table, ...).
    MG_IMAGE_CORRUPT = 2,
    /// width × height exceeds the caller's pixel limit (checked before any pixel buffer exists).
    MG_IMAGE_TOO_LARGE = 3,
    /// A valid file whose layout the decoder does not handle (e.g. a 12-bit JPEG).
    MG_IMAGE_UNSUPPORTED = 4,
    /// malloc failed.
    MG_IMAGE_OUT_OF_MEMORY = 5,
} mg_image_status;

enum { MG_IMAGE_MESSAGE_CAPACITY = 256 };

/// Outcome of one decode. On MG_IMAGE_OK `pixels` holds width·height·3 bytes (row-major RGB),
/// allocated with malloc: release it with mg_image_free. On failure `pixels` is NULL, `message`
/// holds the library's explanation, and width/height are set when the header was read.
typedef struct mg_image_result {
    uint8_t *pixels;
    uint32_t width;
    uint32_t height;
    int32_t status;
    char message[MG_IMAGE_MESSAGE_CAPACITY];
} mg_image_result;

/// Decodes a PNG of any colour type and bit depth, interlaced or not. 16-bit samples keep their high
/// byte except 16-bit grayscale, which Pillow opens as mode "I;16" and converts to RGB by clamping
/// the value to 255; palettes and gray expand to RGB; alpha and tRNS are dropped without compositing;
/// no gamma or colour management is applied.
int32_t mg_decode_png(const uint8_t *data, size_t size, uint64_t max_pixels, mg_image_result *result);

/// Decodes a baseline, progressive or arithmetic-coded 8-bit JPEG with libjpeg's defaults (accurate
/// integer IDCT, fancy upsampling). Grayscale is replicated to RGB; CMYK/YCCK is treated as Adobe
/// inverted CMYK and converted as Pillow does. Premature end of data is MG_IMAGE_TRUNCATED (libjpeg
/// itself only warns and pads with gray; Pillow raises "image file is truncated").
int32_t mg_decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels, mg_image_result *result);

/// Releases a pixel buffer returned in an mg_image_result.
void mg_image_free(uint8_t *pixels);

#ifdef __cplusplus
}
#endif
#endif
