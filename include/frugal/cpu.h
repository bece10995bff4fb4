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

#ifdef __cplusplus
}
#endif
#endif
