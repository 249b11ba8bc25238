// Pillow-exact BICUBIC resampling of RGB8 images and the CLIP normalisation table.
#include "mg_image_resample.h"

#include <math.h>

// ThreadSanitizer instruments ifunc resolvers, which run before its runtime is set up (a crash at
// start-up): TSan builds keep the baseline code only (as CMGKernels' mg_common.h does).
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MG_IMAGE_NO_MULTIVERSION 1
#endif
#endif
#if defined(__x86_64__) && defined(__clang__) && defined(__linux__) && !defined(MG_IMAGE_NO_MULTIVERSION)
#define MG_IMAGE_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MG_IMAGE_MULTIVERSION
#endif

// Pillow: 32 bits minus 8 for the sample minus 2 of headroom for the negative lobes.
enum { PRECISION_BITS = 22 };
static const double BICUBIC_SUPPORT = 2.0;

// Keys' cubic with a = −0.5, Pillow's bicubic_filter.
static double bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double filter_scale(int32_t in_size, int32_t out_size) {
    const double scale = (double)in_size / out_size;
    return scale < 1.0 ? 1.0 : scale;
}

int32_t mg_bicubic_taps(int32_t in_size, int32_t out_size) {
    return (int32_t)ceil(BICUBIC_SUPPORT * filter_scale(in_size, out_size)) * 2 + 1;
}

void mg_bicubic_coefficients(int32_t in_size, int32_t out_size, int32_t taps, int32_t *bounds, int32_t *weights) {
    const double scale = (double)in_size / out_size;
    const double filterscale = filter_scale(in_size, out_size);
    const double support = BICUBIC_SUPPORT * filterscale;
    // Pillow multiplies by the reciprocal rather than dividing; the last bit of some weights depends on it.
    const double inverse = 1.0 / filterscale;
    for (int32_t o = 0; o < out_size; o++) {
        const double center = (o + 0.5) * scale;
        // Truncation toward zero, then clamping, as Pillow's (int) casts.
        int32_t first = (int32_t)(center - support + 0.5);
        if (first < 0) first = 0;
        int32_t last = (int32_t)(center + support + 0.5);
        if (last > in_size) last = in_size;
        const int32_t count = last - first;
        double sum = 0.0;
        for (int32_t x = 0; x < count; x++) sum += bicubic((x + first - center + 0.5) * inverse);
        int32_t *row = weights + (size_t)o * taps;
        for (int32_t x = 0; x < taps; x++) {
            if (x >= count) {
                row[x] = 0;
                continue;
            }
            // Recomputing the weight gives the same double Pillow stored before dividing by the sum.
            double w = bicubic((x + first - center + 0.5) * inverse);
            if (sum != 0.0) w /= sum;
            // Round half away from zero to 22 fractional bits (Pillow's normalize_coeffs_8bpc).
            row[x] = w < 0 ? (int32_t)(-0.5 + w * (1 << PRECISION_BITS)) : (int32_t)(0.5 + w * (1 << PRECISION_BITS));
        }
        bounds[2 * o] = first;
        bounds[2 * o + 1] = count;
    }
}

static inline uint8_t clip8(int32_t accumulator) {
    const int32_t value = accumulator >> PRECISION_BITS;
    return (uint8_t)(value < 0 ? 0 : value > 255 ? 255 : value);
}

MG_IMAGE_MULTIVERSION
void mg_bicubic_horizontal_rgb8(const uint8_t *source, int32_t in_width, uint8_t *destination, int32_t out_width,
                                int32_t row_begin, int32_t row_end, int32_t taps, const int32_t *bounds,
                                const int32_t *weights) {
    // Written with running pointers: debug builds compile this at -O0, where every index
    // expression costs real instructions.
    for (int32_t y = row_begin; y < row_end; y++) {
        const uint8_t *in = source + (size_t)y * in_width * 3;
        uint8_t *out = destination + (size_t)y * out_width * 3;
        const int32_t *bound = bounds;
        const int32_t *k = weights;
        for (int32_t o = 0; o < out_width; o++, bound += 2, k += taps, out += 3) {
            const uint8_t *pixel = in + (size_t)bound[0] * 3;
            const int32_t *w = k, *end = k + bound[1];
            int32_t r = 1 << (PRECISION_BITS - 1), g = r, b = r;
            for (; w < end; w++, pixel += 3) {
                r += pixel[0] * *w;
                g += pixel[1] * *w;
                b += pixel[2] * *w;
            }
            out[0] = clip8(r);
            out[1] = clip8(g);
            out[2] = clip8(b);
        }
    }
}

// Same sums as Pillow's vertical pass (one accumulator per output byte, taps in order), laid out
// as multiply-adds over a block of the row so that the compiler vectorises across it.
MG_IMAGE_MULTIVERSION
void mg_bicubic_vertical_rgb8(const uint8_t *source, int32_t width, uint8_t *destination, int32_t row_begin,
                              int32_t row_end, int32_t taps, const int32_t *bounds, const int32_t *weights) {
    enum { BLOCK = 1024 };
    const size_t n = (size_t)width * 3;
    int32_t accumulator[BLOCK];
    for (int32_t y = row_begin; y < row_end; y++) {
        const int32_t first = bounds[2 * y], count = bounds[2 * y + 1];
        const int32_t *k = weights + (size_t)y * taps;
        for (size_t start = 0; start < n; start += BLOCK) {
            const size_t length = n - start < BLOCK ? n - start : BLOCK;
            int32_t *restrict acc = accumulator;
            for (size_t i = 0; i < length; i++) acc[i] = 1 << (PRECISION_BITS - 1);
            for (int32_t t = 0; t < count; t++) {
                const uint8_t *restrict in = source + (size_t)(first + t) * n + start;
                const int32_t w = k[t];
                for (size_t i = 0; i < length; i++) acc[i] += in[i] * w;
            }
            uint8_t *restrict out = destination + (size_t)y * n + start;
            for (size_t i = 0; i < length; i++) out[i] = clip8(acc[i]);
        }
    }
}

void mg_normalization_table(double scale, const float mean[3], const float std[3], float *table) {
    for (int c = 0; c < 3; c++) {
        for (int v = 0; v < 256; v++) {
            const float rescaled = (float)((double)v * scale);
            table[c * 256 + v] = (rescaled - mean[c]) / std[c];
        }
    }
}

MG_IMAGE_MULTIVERSION
void mg_rgb8_to_normalized_chw(const uint8_t *source, size_t source_stride, int32_t width, int32_t height,
                               int32_t row_begin, int32_t row_end, const float *table, float *destination) {
    const size_t plane = (size_t)width * height;
    for (int32_t y = row_begin; y < row_end; y++) {
        const uint8_t *in = source + (size_t)y * source_stride;
        float *restrict r = destination + (size_t)y * width;
        float *restrict g = r + plane;
        float *restrict b = g + plane;
        for (int32_t x = 0; x < width; x++) {
            r[x] = table[in[3 * x]];
            g[x] = table[256 + in[3 * x + 1]];
            b[x] = table[512 + in[3 * x + 2]];
        }
    }
}
