/* cpu.c: which SIMD level the kernels may use, probed once at run time.
 *
 * The hardware level comes from cpuid through __builtin_cpu_supports (which
 * also checks that the OS saves the wide registers). FRUGAL_ISA in the
 * environment caps it (scalar|avx2|avx512), so the narrower paths can be
 * run and timed on a wide machine; it never raises the level above what the
 * CPU has. Both are read once and cached.
 */
#include "frugal/cpu.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

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

/* ---- bfloat16 matrix hardware ---- */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FR_ARCH_REQ_XCOMP_PERM 0x1023
#define FR_XFEATURE_XTILEDATA 18

static unsigned long long xcr0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

static enum fr_bf16_hw probe_bf16(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (fr_cpu_isa_hw() < FR_ISA_AVX512) return FR_BF16_NONE;
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return FR_BF16_NONE;
    __cpuid_count(7, 1, a, b, c, d);
    if (!(a & (1u << 5))) return FR_BF16_NONE; /* AVX512_BF16 */
    __cpuid_count(7, 0, a, b, c, d);
    int amx = (d & (1u << 22)) && (d & (1u << 24)); /* AMX-BF16, AMX-TILE */
    /* the OS must enable the tile state in XCR0 (bits 17, 18) and grant it
     * to this process */
    if (amx && (xcr0() & (3ull << 17)) == (3ull << 17) &&
        syscall(SYS_arch_prctl, FR_ARCH_REQ_XCOMP_PERM, FR_XFEATURE_XTILEDATA) == 0)
        return FR_BF16_AMX;
    return FR_BF16_AVX512;
#else
    return FR_BF16_NONE;
#endif
}

static atomic_int g_bf16_hw = -1, g_bf16 = -1;

enum fr_bf16_hw fr_cpu_bf16_hw(void) {
    int v = atomic_load_explicit(&g_bf16_hw, memory_order_relaxed);
    if (v < 0) {
        v = (int)probe_bf16();
        atomic_store(&g_bf16_hw, v);
    }
    return (enum fr_bf16_hw)v;
}

enum fr_bf16_hw fr_cpu_bf16(void) {
    int v = atomic_load_explicit(&g_bf16, memory_order_relaxed);
    if (v >= 0) return (enum fr_bf16_hw)v;
    v = fr_cpu_isa() < FR_ISA_AVX512 ? FR_BF16_NONE : (int)fr_cpu_bf16_hw();
    const char *cap = getenv("FRUGAL_BF16");
    if (cap) {
        int c = -1;
        if (!strcmp(cap, "none"))
            c = FR_BF16_NONE;
        else if (!strcmp(cap, "avx512bf16"))
            c = FR_BF16_AVX512;
        else if (!strcmp(cap, "amx"))
            c = FR_BF16_AMX;
        if (c >= 0 && c < v) v = c;
    }
    atomic_store(&g_bf16, v);
    return (enum fr_bf16_hw)v;
}

const char *fr_bf16_name(enum fr_bf16_hw hw) {
    return hw == FR_BF16_AMX ? "amx" : hw == FR_BF16_AVX512 ? "avx512bf16" : "none";
}

/* ---- caches and the CPU's name ---- */

static struct fr_cpu_caches g_caches;
static char g_model[128], g_sig[48];
static pthread_once_t g_cpu_once = PTHREAD_ONCE_INIT;

/* "48K", "2048K", "1M", "32768": bytes, or -1 */
static long long parse_size(const char *s) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0) return -1;
    if (*end == 'K' || *end == 'k')
        v <<= 10, end++;
    else if (*end == 'M' || *end == 'm')
        v <<= 20, end++;
    while (*end == ' ' || *end == '\n')
        end++;
    return *end == '\0' || *end == ',' ? v : -1;
}

static int read_line(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *r = fgets(buf, (int)cap, f);
    fclose(f);
    if (!r) return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* CPUs in a list such as "0-1,4,6-7" */
static int count_cpus(const char *s) {
    int n = 0;
    while (*s) {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (end == s) break;
        if (*end == '-') b = strtol(end + 1, &end, 10);
        n += b >= a ? (int)(b - a + 1) : 1;
        s = *end == ',' ? end + 1 : end;
        if (*end != ',') break;
    }
    return n > 0 ? n : 1;
}

/* Records one data cache level; returns its bit for `found` (L1 1, L2 2,
 * L3 4, else 0). */
static int put_level(struct fr_cpu_caches *c, int level, long long size, int shared) {
    if (level == 1) c->l1d = size;
    if (level == 2) c->l2 = size, c->l2_shared = shared;
    if (level == 3) c->l3 = size, c->l3_shared = shared;
    return level >= 1 && level <= 3 ? 1 << (level - 1) : 0;
}

static int caches_sysfs(struct fr_cpu_caches *c) {
    int found = 0;
    for (int i = 0; i < 8; i++) {
        char path[96], level[16], type[32], size[32], shared[256];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        if (read_line(path, level, sizeof level)) break;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if (read_line(path, type, sizeof type) || !strcmp(type, "Instruction")) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (read_line(path, size, sizeof size)) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/shared_cpu_list",
                 i);
        int nshared = read_line(path, shared, sizeof shared) ? 1 : count_cpus(shared);
        long long b = parse_size(size);
        if (b > 0) found |= put_level(c, atoi(level), b, nshared);
    }
    return (found & 3) == 3 ? 0 : -1;
}

static int caches_cpuid(struct fr_cpu_caches *c) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, cx, d, leaf = 4;
    if (!__get_cpuid(0, &a, &b, &cx, &d)) return -1;
    if (b == 0x68747541) { /* "Auth"enticAMD: leaf 0x8000001D has leaf 4's layout */
        unsigned ext = __get_cpuid_max(0x80000000, NULL);
        if (ext < 0x8000001D) return -1;
        leaf = 0x8000001D;
    } else if (a < 4) {
        return -1;
    }
    int found = 0;
    for (unsigned i = 0; i < 16; i++) {
        __cpuid_count(leaf, i, a, b, cx, d);
        unsigned type = a & 31, level = (a >> 5) & 7;
        if (type == 0) break;
        if (type == 2) continue; /* instruction cache */
        long long size = (long long)(((b >> 22) & 1023) + 1) * (((b >> 12) & 1023) + 1) *
                         ((b & 4095) + 1) * ((long long)cx + 1);
        found |= put_level(c, (int)level, size, (int)((a >> 14) & 4095) + 1);
    }
    return (found & 3) == 3 ? 0 : -1;
#else
    (void)c;
    return -1;
#endif
}

static void model_name(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    if (f) {
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "model name", 10)) {
                char *v = strchr(line, ':');
                if (v) {
                    v++;
                    while (*v == ' ' || *v == '\t')
                        v++;
                    v[strcspn(v, "\n")] = '\0';
                    snprintf(g_model, sizeof g_model, "%s", v);
                }
                break;
            }
        fclose(f);
    }
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!g_model[0] && __get_cpuid_max(0x80000000, NULL) >= 0x80000004) {
        unsigned r[12];
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002 + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
        memcpy(g_model, r, 48);
        g_model[48] = '\0';
    }
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        unsigned fam = (a >> 8) & 15, mod = (a >> 4) & 15, step = a & 15;
        if (fam == 15) fam += (a >> 20) & 255;
        if (fam == 6 || fam >= 15) mod |= ((a >> 16) & 15) << 4;
        snprintf(g_sig, sizeof g_sig, "%u/%u/%u", fam, mod, step);
    }
#endif
    if (!g_model[0]) snprintf(g_model, sizeof g_model, "unknown CPU");
    if (!g_sig[0]) snprintf(g_sig, sizeof g_sig, "unknown");
}

static void cpu_probe(void) {
    model_name();
    struct fr_cpu_caches c = {0, 0, 0, 1, 1, "default"};
    const char *env = getenv("FRUGAL_CACHES");
    if (env) {
        long long v[3] = {-1, -1, -1};
        const char *p = env;
        for (int i = 0; i < 3 && p; i++) {
            v[i] = parse_size(p);
            p = strchr(p, ',');
            if (p) p++;
        }
        if (v[0] > 0 && v[1] > 0 && v[2] > 0) {
            c.l1d = v[0], c.l2 = v[1], c.l3 = v[2], c.source = "env";
            g_caches = c;
            return;
        } /* a malformed value is ignored: the probe below runs */
    }
    if (caches_sysfs(&c) == 0)
        c.source = "sysfs";
    else if (caches_cpuid(&c) == 0)
        c.source = "cpuid";
    else
        c = (struct fr_cpu_caches){32 << 10, 512 << 10, 8 << 20, 1, 1, "default"};
    if (c.l3 <= 0) c.l3 = c.l2, c.l3_shared = c.l2_shared;
    g_caches = c;
}

const struct fr_cpu_caches *fr_cpu_caches(void) {
    pthread_once(&g_cpu_once, cpu_probe);
    return &g_caches;
}

const char *fr_cpu_model(void) {
    pthread_once(&g_cpu_once, cpu_probe);
    return g_model;
}

const char *fr_cpu_signature(void) {
    pthread_once(&g_cpu_once, cpu_probe);
    return g_sig;
}
