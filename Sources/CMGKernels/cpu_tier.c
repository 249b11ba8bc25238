// Run-time kernel tier: CPUID + XGETBV, capped by MG_MAX_ISA (see mg_cpu_tier.h).
#include "mg_cpu_tier.h"
#include "mg_gemm_amx.h"
#include <pthread.h>
#include <stdlib.h>
#include <strings.h>

static int detected_tier = MG_TIER_BASELINE, active_tier = MG_TIER_BASELINE, cap_invalid = 0;
static int detected_features = 0;  // mg_cpu_feature_t bits
static pthread_once_t tier_once = PTHREAD_ONCE_INIT;

static const char *const tier_names[] = {"baseline", "avx2", "avx512", "avx512bf16", "amx"};

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <cpuid.h>

static int probe_tier(void) {
    unsigned eax, ebx, ecx, edx;
    __cpuid(0, eax, ebx, ecx, edx);  // eax: the highest leaf; ebx, edx, ecx: the vendor
    if (ebx == 0x756e6547 && edx == 0x49656e69 && ecx == 0x6c65746e) detected_features |= MG_CPU_INTEL;  // "GenuineIntel"
    if (eax < 7) return MG_TIER_BASELINE;
    __cpuid(1, eax, ebx, ecx, edx);
    int fma = (ecx >> 12) & 1, osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, f16c = (ecx >> 29) & 1;
    if (!osxsave || !avx) return MG_TIER_BASELINE;
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    (void)xcr0_hi;
    // The OS must save the YMM state (bits 1, 2) for AVX2 and the opmask/ZMM state (5–7) for AVX-512.
    if ((xcr0_lo & 6u) != 6u) return MG_TIER_BASELINE;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    int avx2 = (ebx >> 5) & 1;
    if (!avx2 || !fma || !f16c) return MG_TIER_BASELINE;
    int avx512f = (ebx >> 16) & 1, avx512dq = (ebx >> 17) & 1, avx512bw = (ebx >> 30) & 1, avx512vl = (ebx >> 31) & 1;
    unsigned eax1, ebx1, ecx1, edx1;
    __cpuid_count(7, 1, eax1, ebx1, ecx1, edx1);
    if ((eax1 >> 4) & 1) detected_features |= MG_CPU_AVX_VNNI;
    if (!(avx512f && avx512dq && avx512bw && avx512vl) || ((xcr0_lo >> 5) & 7u) != 7u) return MG_TIER_AVX2;
    if ((ecx >> 11) & 1) detected_features |= MG_CPU_AVX512_VNNI;
    if ((ecx >> 8) & 1) detected_features |= MG_CPU_GFNI;
    if ((ecx >> 1) & 1) detected_features |= MG_CPU_AVX512_VBMI;
    if (!((eax1 >> 5) & 1)) return MG_TIER_AVX512;
    // AMX: the existing probe (CPUID, XGETBV tile state, arch_prctl permission) decides.
    return mg_amx_bf16_available() ? MG_TIER_AMX : MG_TIER_AVX512BF16;
}
#else
static int probe_tier(void) { return MG_TIER_BASELINE; }
#endif

static void tier_init(void) {
    detected_tier = probe_tier();
    active_tier = detected_tier;
    const char *cap = getenv("MG_MAX_ISA");
    if (!cap || !*cap) return;
    for (int tier = MG_TIER_BASELINE; tier <= MG_TIER_AMX; tier++) {
        if (strcasecmp(cap, tier_names[tier]) == 0) {
            if (tier < active_tier) active_tier = tier;
            return;
        }
    }
    cap_invalid = 1;
}

int mg_kernel_tier_detected(void) {
    pthread_once(&tier_once, tier_init);
    return detected_tier;
}

int mg_kernel_tier(void) {
    pthread_once(&tier_once, tier_init);
    return active_tier;
}

int mg_cpu_has_feature(int feature) {
    pthread_once(&tier_once, tier_init);
    return (detected_features & feature) == feature && feature != 0;
}

int mg_kernel_tier_cap_invalid(void) {
    pthread_once(&tier_once, tier_init);
    return cap_invalid;
}

const char *mg_kernel_tier_name(int tier) {
    if (tier < MG_TIER_BASELINE || tier > MG_TIER_AMX) return "unknown";
    return tier_names[tier];
}
