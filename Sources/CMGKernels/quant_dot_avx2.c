// AVX2 tier of the quantized dot products (see quant_dot_simd.h).
#if defined(__x86_64__) && defined(__clang__) && !defined(MG_NO_QD_SIMD)
#define QD_TARGET "avx2,fma,f16c"
#define QD_TILE_NAME qd_tile_avx2
#define QD_DOT 0
#include "quant_dot_simd.h"
#define QG_KGEMM_NAME qd_kgemm_avx2
#define QG_TOKENS 2
#include "quant_gemm_kquant.h"
#define QR_GEMV_NAME qd_gemv_rows_avx2
#define QR_ROWS QD_GEMV_ROWS_NARROW
#include "quant_gemv_rows.h"
#endif
