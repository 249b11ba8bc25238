// AVX-512-VNNI tier of the quantized dot products, on 256-bit vectors (AVX512VL) so it has 32
// vector registers and EVEX vpdpbusd/vpdpwssd (see quant_dot_simd.h).
#if defined(__x86_64__) && defined(__clang__) && !defined(MG_NO_QD_SIMD)
#define QD_TARGET "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"
#define QD_TILE_NAME qd_tile_avx512vnni
#define QD_DOT 2
#include "quant_dot_simd.h"
#define QG_KGEMM_NAME qd_kgemm_avx512vnni
#define QG_TOKENS 4
#include "quant_gemm_kquant.h"
#define QR_GEMV_NAME qd_gemv_rows_avx512vnni
#define QR_ROWS QD_GEMV_ROWS_WIDE
#include "quant_gemv_rows.h"
#endif
