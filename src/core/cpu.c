/* cpu.c: which SIMD level the kernels may use, probed once at run time.
 *
 * The hardware level comes from cpuid through __builtin_cpu_supports (which
 * also checks that the OS saves the wide registers). FRUGAL_ISA in the
 * environment caps it (scalar|avx2|avx512), so the narrower paths can be
 * run and timed on a wide machine; it never raises the level above what the
 * CPU has. Both are read once and cached.
 */
#include "frugal/cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static enum fr_isa probe_hw(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        return FR_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c"))
        return FR_ISA_AVX2;
#endif
    return FR_ISA_SCALAR;
}

static atomic_int g_hw = -1, g_capped = -1;

enum fr_isa fr_cpu_isa_hw(void) {
    int v = atomic_load_explicit(&g_hw, memory_order_relaxed);
    if (v < 0) {
        v = (int)probe_hw();
        atomic_store(&g_hw, v);
    }
    return (enum fr_isa)v;
}

enum fr_isa fr_cpu_isa(void) {
    int v = atomic_load_explicit(&g_capped, memory_order_relaxed);
    if (v >= 0) return (enum fr_isa)v;
    v = (int)fr_cpu_isa_hw();
    const char *cap = getenv("FRUGAL_ISA");
    if (cap) {
        int c = -1;
        if (!strcmp(cap, "scalar"))
            c = FR_ISA_SCALAR;
        else if (!strcmp(cap, "avx2"))
            c = FR_ISA_AVX2;
        else if (!strcmp(cap, "avx512"))
            c = FR_ISA_AVX512;
        if (c >= 0 && c < v) v = c; /* an unknown value leaves the level alone */
    }
    atomic_store(&g_capped, v);
    return (enum fr_isa)v;
}

const char *fr_isa_name(enum fr_isa isa) {
    switch (isa) {
    case FR_ISA_SCALAR:
        return "scalar";
    case FR_ISA_AVX2:
        return "avx2";
    case FR_ISA_AVX512:
        return "avx512";
    }
    return "unknown";
}
