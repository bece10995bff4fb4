/* gemm_tune.c: the per-user file where `frugal tune` keeps the GEMM
 * blocking it measured best, one line per CPU and ISA:
 *
 *   frugal-gemm-tune 1
 *   avx512 kc 384 mc 120 nc 1024 l1d 49152 l2 2097152 sig 6/143/8 model Intel(R) Xeon(R) ...
 *
 * A line applies only on a CPU with the same signature, model name and
 * cache sizes (a VM moved to another host, or another machine sharing a
 * home directory, falls back to the derived blocking). Unreadable files and
 * malformed lines are ignored: tuning is an optimisation, never a reason to
 * fail. The file is read with the library's reader (regular files only) and
 * written with its atomic writer (core/file.h).
 */
#include "gemm.h"

#include "../core/file.h"
#include "frugal/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TUNE_MAGIC "frugal-gemm-tune 1"
#define TUNE_MAX_BYTES (1 << 20)

int fr_gemm_tune_path(char *buf, size_t cap) {
    const char *env = getenv("FRUGAL_TUNE_FILE");
    int n;
    if (env && *env)
        n = snprintf(buf, cap, "%s", env);
    else if (getenv("XDG_CACHE_HOME") && *getenv("XDG_CACHE_HOME"))
        n = snprintf(buf, cap, "%s/frugal/gemm-tune.txt", getenv("XDG_CACHE_HOME"));
    else if (getenv("HOME") && *getenv("HOME"))
        n = snprintf(buf, cap, "%s/.cache/frugal/gemm-tune.txt", getenv("HOME"));
    else
        return fr_error(FR_ENOTFOUND, "no tuning file: neither FRUGAL_TUNE_FILE, XDG_CACHE_HOME "
                                      "nor HOME is set");
    if (n < 0 || (size_t)n >= cap) return fr_error(FR_EINVAL, "tuning file path too long");
    return 0;
}

/* Parses one line: its ISA (*b its blocking, *mine 1 when it is this CPU's
 * line), or -1 when it does not parse. */
static int parse_line(const char *line, struct fr_gemm_blocking *b, int *mine) {
    char name[16], sig[48];
    long long l1, l2;
    int used = 0;
    if (sscanf(line, "%15s kc %d mc %d nc %d l1d %lld l2 %lld sig %47s model %n", name, &b->kc,
               &b->mc, &b->nc, &l1, &l2, sig, &used) != 7 ||
        used == 0)
        return -1;
    const struct fr_cpu_caches *c = fr_cpu_caches();
    *mine = l1 == c->l1d && l2 == c->l2 && !strcmp(sig, fr_cpu_signature()) &&
            !strcmp(line + used, fr_cpu_model());
    for (int i = FR_ISA_SCALAR; i <= FR_ISA_AVX512; i++)
        if (!strcmp(name, fr_isa_name((enum fr_isa)i))) return i;
    return -1;
}

/* The file's lines after the magic one (NUL-separated in place), or NULL
 * when it is missing, not a regular file or not a tuning file. */
static char *read_lines(const char *path) {
    char *buf = fr_read_file(path, TUNE_MAX_BYTES, NULL);
    if (!buf || strncmp(buf, TUNE_MAGIC "\n", strlen(TUNE_MAGIC) + 1)) {
        free(buf);
        fr_clear_error(); /* a missing or foreign file is not an error */
        return NULL;
    }
    return buf;
}

void fr_gemm_tune_read(const char *path, struct fr_gemm_blocking out[3], int found[3]) {
    found[0] = found[1] = found[2] = 0;
    char *buf = read_lines(path);
    if (!buf) return;
    for (char *line = strtok(buf + strlen(TUNE_MAGIC) + 1, "\n"); line; line = strtok(NULL, "\n")) {
        struct fr_gemm_blocking b;
        int mine, isa = parse_line(line, &b, &mine);
        if (isa >= 0 && mine && fr_gemm_blocking_valid(&b))
            out[isa] = b, found[isa] = 1; /* the last matching line wins */
    }
    free(buf);
}

int fr_gemm_tune_lookup(const char *path, enum fr_isa isa, struct fr_gemm_blocking *out) {
    struct fr_gemm_blocking b[3];
    int found[3];
    fr_gemm_tune_read(path, b, found);
    if (isa < FR_ISA_SCALAR || isa > FR_ISA_AVX512 || !found[isa]) return FR_ENOTFOUND;
    *out = b[isa];
    return 0;
}

int fr_gemm_tune_save(const char *path, enum fr_isa isa, const struct fr_gemm_blocking *b) {
    /* keep the other CPUs' and ISAs' lines, drop this one's, append ours */
    char *old = read_lines(path), line[600];
    struct fr_atomic a;
    int rc = fr_atomic_open(&a, path, "tuning file");
    if (rc) {
        free(old);
        return rc;
    }
    fr_atomic_write(&a, TUNE_MAGIC "\n", strlen(TUNE_MAGIC) + 1);
    if (old)
        for (char *l = strtok(old + strlen(TUNE_MAGIC) + 1, "\n"); l; l = strtok(NULL, "\n")) {
            struct fr_gemm_blocking ob;
            int mine, li = parse_line(l, &ob, &mine);
            if (li < 0 || (mine && li == (int)isa)) continue; /* garbage, or ours */
            fr_atomic_write(&a, l, strlen(l));
            fr_atomic_write(&a, "\n", 1);
        }
    free(old);
    const struct fr_cpu_caches *c = fr_cpu_caches();
    int n = snprintf(line, sizeof line, "%s kc %d mc %d nc %d l1d %lld l2 %lld sig %s model %s\n",
                     fr_isa_name(isa), b->kc, b->mc, b->nc, c->l1d, c->l2, fr_cpu_signature(),
                     fr_cpu_model());
    fr_atomic_write(&a, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    return fr_atomic_commit(&a);
}
