/* peak_fma.c: measures the FP32 FMA peak (GFLOP/s) of this machine with
 * independent FMA chains: AVX-512 and AVX2, one thread and two threads
 * (median of 5). This is the "100%" that BENCHMARKS.md's GEMM numbers are
 * measured against. Usage: bench_peak_fma [threads (default 2)]
 */
#include "peak.h"

#include <stdio.h>

int main(int argc, char **argv) {
    int nt = argc > 1 ? atoi(argv[1]) : 2;
    if (nt < 1 || nt > 64) {
        fprintf(stderr, "usage: %s [threads 1..64]\n", argv[0]);
        return 2;
    }
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512f"),
        has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    printf("| ISA | 1 thread GFLOP/s | %d threads GFLOP/s |\n|---|---|---|\n", nt);
    if (has512)
        printf("| AVX-512 FMA | %.1f | %.1f |\n", peak_gflops(1, 1, 5), peak_gflops(1, nt, 5));
    if (has2) printf("| AVX2 FMA | %.1f | %.1f |\n", peak_gflops(0, 1, 5), peak_gflops(0, nt, 5));
    if (!has512 && !has2) printf("(no FMA unit detected)\n");
    return 0;
}
