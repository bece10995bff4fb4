/* cpu.h: which SIMD level the kernels may use, probed once at run time
 * (core layer: every layer above asks here, the kernels pick their paths by
 * it).
 *
 * The hardware level comes from cpuid; FRUGAL_ISA=scalar|avx2|avx512 in the
 * environment caps it, so the narrower paths can be tested and timed on a
 * wide machine. It never raises the level above what the CPU has.
 */
#ifndef FRUGAL_CPU_H
#define FRUGAL_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

enum fr_isa { FR_ISA_SCALAR = 0, FR_ISA_AVX2 = 1, FR_ISA_AVX512 = 2 };

/* Widest ISA this CPU supports, capped by FRUGAL_ISA (read once, cached). */
enum fr_isa fr_cpu_isa(void);
/* Widest ISA the hardware supports, ignoring FRUGAL_ISA. */
enum fr_isa fr_cpu_isa_hw(void);
/* "scalar", "avx2" or "avx512". */
const char *fr_isa_name(enum fr_isa isa);

/* bfloat16 matrix hardware, for fr_gemm's bf16 precision (kernels.h):
 * AMX-BF16 tiles (Intel Sapphire Rapids and later), else the AVX512-BF16
 * dot-product instruction (Intel Cooper Lake and later, AMD Zen 4 and
 * later), else none. AMX counts only when Linux grants this process the
 * tile state (arch_prctl ARCH_REQ_XCOMP_PERM, asked once here). A
 * FRUGAL_ISA cap below avx512 gives none; FRUGAL_BF16=avx512bf16|none caps
 * it further (never raises it). Read once and cached. */
enum fr_bf16_hw { FR_BF16_NONE = 0, FR_BF16_AVX512 = 1, FR_BF16_AMX = 2 };
enum fr_bf16_hw fr_cpu_bf16(void);
/* The hardware level, ignoring FRUGAL_BF16 and FRUGAL_ISA. */
enum fr_bf16_hw fr_cpu_bf16_hw(void);
/* "none", "avx512bf16" or "amx". */
const char *fr_bf16_name(enum fr_bf16_hw hw);

/* The data caches one core sees, in bytes, and how many logical CPUs share
 * each level (so a per-core share is size / shared). Read once from Linux's
 * sysfs (/sys/devices/system/cpu/cpu0/cache), else from cpuid (leaf 4 on
 * Intel, 0x8000001D on AMD), else typical values (32 KB / 512 KB / 8 MB,
 * source "default"). FRUGAL_CACHES="L1D,L2,L3" (bytes, K or M suffixes)
 * in the environment replaces the probe (source "env"), so the blocking
 * of another CPU can be tried here. */
struct fr_cpu_caches {
    long long l1d, l2, l3;
    int l2_shared, l3_shared; /* logical CPUs sharing the level (>= 1) */
    const char *source;       /* "sysfs", "cpuid", "env" or "default" */
};
const struct fr_cpu_caches *fr_cpu_caches(void);

/* The CPU's name as /proc/cpuinfo or cpuid's brand string gives it, and
 * its family/model/stepping ("6/143/8"), for tables and tuning caches. */
const char *fr_cpu_model(void);
const char *fr_cpu_signature(void);

#ifdef __cplusplus
}
#endif
#endif
