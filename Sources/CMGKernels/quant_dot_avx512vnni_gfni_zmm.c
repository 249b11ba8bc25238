// Decode rows of the AVX-512-VNNI tier with GFNI and AVX-512-VBMI and the Q4_0 and Q4_K values on
// 512-bit vectors, for Intel cores, where vpdpbusd, vpmaddubsw and vpdpwssd issue as often on zmm as
// on ymm (see qr_q4_0, qr_q4_K); Zen 4 keeps qd_gemv_rows_avx512vnni_gfni. Chosen at run time by
// avx512vnni_rows (quant_dot.c).
#if defined(__x86_64__) && defined(__clang__) && !defined(MG_NO_QD_SIMD)
#define QD_TARGET "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi,gfni"
#define QD_DOT 2
#include "quant_dot_simd.h"
#define QR_GEMV_NAME qd_gemv_rows_avx512vnni_gfni_zmm
#define QR_ROWS QD_GEMV_ROWS_WIDE
#define QR_GFNI 1
#define QR_ZMM 1
#include "quant_gemv_rows.h"
#endif
