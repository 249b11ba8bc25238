#ifndef MG_CPU_TIER_H
#define MG_CPU_TIER_H
#include "mg_common.h"

// Kernel tiers, from the portable baseline up. The tiered kernels (BF16 GEMM, gated MLP, decode
// GEMV, peak probes) pick their code from mg_kernel_tier(); each tier needs everything below it.
typedef enum {
    MG_TIER_BASELINE = 0,   // portable C (any x86-64 or other CPU)
    MG_TIER_AVX2 = 1,       // AVX2 + FMA + F16C (x86-64-v3)
    MG_TIER_AVX512 = 2,     // AVX-512 F/BW/VL/DQ (x86-64-v4)
    MG_TIER_AVX512BF16 = 3, // + AVX512_BF16 (vdpbf16ps): Zen 4/5, Cooper Lake, Sapphire Rapids
    MG_TIER_AMX = 4,        // + AMX-BF16 tiles granted by the OS (Sapphire Rapids and later)
} mg_kernel_tier_t;

/// The highest tier this CPU and operating system support (CPUID + XGETBV; AMX also needs the
/// Linux tile-state permission), ignoring any cap. Computed once.
int mg_kernel_tier_detected(void);

/// The tier the kernels use: mg_kernel_tier_detected() lowered to the cap named by the environment
/// variable MG_MAX_ISA (amx, avx512bf16, avx512, avx2, baseline; case-insensitive), read once at the
/// first call. An unknown value caps nothing and is reported by mg_kernel_tier_cap_invalid().
int mg_kernel_tier(void);

/// Extensions probed with the tier (same CPUID pass) for the quantized products: AVX-512-VNNI (with
/// VL) needs the avx512 tier, AVX-VNNI (VEX) the avx2 tier; GFNI and AVX-512-VBMI are reported with
/// the avx512 tier (they serve the avx512VNNI decode rows). MG_CPU_INTEL is the vendor, for tuning only
/// (the decode rows' prefetch distance and their 512-bit loops).
typedef enum {
    MG_CPU_AVX512_VNNI = 1,
    MG_CPU_AVX_VNNI = 2,
    MG_CPU_GFNI = 4,
    MG_CPU_INTEL = 8,
    MG_CPU_AVX512_VBMI = 16,
} mg_cpu_feature_t;

/// 1 when the CPU and OS support `feature` (mg_cpu_feature_t), ignoring MG_MAX_ISA, else 0.
int mg_cpu_has_feature(int feature);

/// 1 when MG_MAX_ISA was set to a name that is not a tier (it is then ignored), else 0.
int mg_kernel_tier_cap_invalid(void);

/// The tier's name as MG_MAX_ISA spells it ("amx", "avx512bf16", "avx512", "avx2", "baseline").
const char *mg_kernel_tier_name(int tier);

/// Peak probes (benchmarks only): `iterations` rounds of 12 independent chains of the tier's
/// widest BF16 dot product (vdpbf16ps zmm, 64 FLOP each) or F32 FMA (zmm / ymm / scalar), on the
/// calling thread. Return the FLOP count executed (0 when the tier cannot run the instruction).
double mg_peak_bf16_dot(int tier, size_t iterations);
double mg_peak_f32_fma(int tier, size_t iterations);

/// Reads `bytes` bytes at `data` once (the widest loads of the detected tier) and returns a checksum,
/// so a benchmark can compare a memory-bound kernel with a plain read of the same bytes.
uint64_t mg_read_bytes(const void *data, size_t bytes);

#endif
