// Decode rows of the AVX-512-VNNI tier for CPUs that also have GFNI (Ice Lake and later, Zen 4;
// Cascade Lake has AVX-512 VNNI without it): the Q4_0 and Q4_K high nibbles take one
// GF2P8AFFINEQB (see qr_high_nibbles). Chosen at run time by qd_gemv_rows_for; the tiles and
// panel GEMMs of the tier stay in quant_dot_avx512vnni.c.
#if defined(__x86_64__) && defined(__clang__) && !defined(MG_NO_QD_SIMD)
#define QD_TARGET "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,gfni"
#define QD_DOT 2
#include "quant_dot_simd.h"
#define QR_GEMV_NAME qd_gemv_rows_avx512vnni_gfni
#define QR_ROWS QD_GEMV_ROWS_WIDE
#define QR_GFNI 1
#include "quant_gemv_rows.h"
#endif
