// Issue rate of the vector instructions the quantized decode rows use, on 256- and 512-bit
// vectors: 12 independent chains of one instruction, instructions per nanosecond (wall time; run it
// on an idle core). Decides which loops gain from 512-bit vectors on a CPU: on Emerald Rapids
// vpmaddubsw, vpdpwssd and vpdpbusd issue about 2 per cycle at both widths (so zmm doubles their
// work), gf2p8affineqb, vpshufb and the permutes half as often on zmm. Needs AVX-512 (VNNI, VBMI)
// and GFNI. A benchmark, not a test.
//   clang -O2 Benchmarks/kernels/instruction_rates.c -o /tmp/instruction_rates && /tmp/instruction_rates
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
static double tw(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
#define T __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni,gfni,avx512vbmi"),noinline))
#define PROBE(NAME, TYPE, ZERO, OP) \
T static double NAME(long n) { TYPE a[12]; for (int i=0;i<12;i++) a[i]=ZERO; TYPE b = ZERO, c = ZERO; \
  __asm__ volatile("" : "+v"(b), "+v"(c)); double t=tw(); \
  for (long k=0;k<n;k++) { for (int i=0;i<12;i++) a[i]=OP; __asm__ volatile("" :: "v"(a[0]),"v"(a[1]),"v"(a[2]),"v"(a[3]),"v"(a[4]),"v"(a[5]),"v"(a[6]),"v"(a[7]),"v"(a[8]),"v"(a[9]),"v"(a[10]),"v"(a[11])); } \
  t = tw()-t; volatile TYPE s = a[0]; (void)s; return t; }
PROBE(p_add_y, __m256i, _mm256_set1_epi32(1), _mm256_add_epi32(a[i], b))
PROBE(p_add_z, __m512i, _mm512_set1_epi32(1), _mm512_add_epi32(a[i], b))
PROBE(p_maddubs_y, __m256i, _mm256_set1_epi32(1), _mm256_maddubs_epi16(a[i], b))
PROBE(p_maddubs_z, __m512i, _mm512_set1_epi32(1), _mm512_maddubs_epi16(a[i], b))
PROBE(p_dpwssd_y, __m256i, _mm256_set1_epi32(1), _mm256_dpwssd_epi32(a[i], b, c))
PROBE(p_dpwssd_z, __m512i, _mm512_set1_epi32(1), _mm512_dpwssd_epi32(a[i], b, c))
PROBE(p_dpbusd_y, __m256i, _mm256_set1_epi32(1), _mm256_dpbusd_epi32(a[i], b, c))
PROBE(p_dpbusd_z, __m512i, _mm512_set1_epi32(1), _mm512_dpbusd_epi32(a[i], b, c))
PROBE(p_gfni_y, __m256i, _mm256_set1_epi32(1), _mm256_gf2p8affine_epi64_epi8(a[i], b, 0))
PROBE(p_gfni_z, __m512i, _mm512_set1_epi32(1), _mm512_gf2p8affine_epi64_epi8(a[i], b, 0))
PROBE(p_shuf_y, __m256i, _mm256_set1_epi32(1), _mm256_shuffle_epi8(a[i], b))
PROBE(p_shuf_z, __m512i, _mm512_set1_epi32(1), _mm512_shuffle_epi8(a[i], b))
PROBE(p_fma_y, __m256, _mm256_set1_ps(1), _mm256_fmadd_ps(a[i], b, c))
PROBE(p_fma_z, __m512, _mm512_set1_ps(1), _mm512_fmadd_ps(a[i], b, c))
PROBE(p_permb_z, __m512i, _mm512_set1_epi32(1), _mm512_permutexvar_epi8(b, a[i]))
PROBE(p_vpermd_z, __m512i, _mm512_set1_epi32(1), _mm512_permutexvar_epi32(b, a[i]))
int main(void) {
  long n = 20000000;
  struct { const char *name; double (*f)(long); } p[] = {
    {"vpaddd ymm",p_add_y},{"vpaddd zmm",p_add_z},{"vpmaddubsw ymm",p_maddubs_y},{"vpmaddubsw zmm",p_maddubs_z},
    {"vpdpwssd ymm",p_dpwssd_y},{"vpdpwssd zmm",p_dpwssd_z},{"vpdpbusd ymm",p_dpbusd_y},{"vpdpbusd zmm",p_dpbusd_z},
    {"gf2p8affine ymm",p_gfni_y},{"gf2p8affine zmm",p_gfni_z},{"vpshufb ymm",p_shuf_y},{"vpshufb zmm",p_shuf_z},
    {"vfmadd ymm",p_fma_y},{"vfmadd zmm",p_fma_z},{"vpermb zmm",p_permb_z},{"vpermd zmm",p_vpermd_z}};
  for (int r = 0; r < 2; r++) for (unsigned i = 0; i < sizeof p / sizeof *p; i++) {
    double t = p[i].f(n); printf("%-18s %.2f ns/instr  %.2f per ns\n", p[i].name, t / (12.0 * n) * 1e9, 12.0 * n / t / 1e9);
  }
}
