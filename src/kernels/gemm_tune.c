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
 * fail. The file is read once, at the first GEMM (fr_gemm_blocking_get).
 */
#include "gemm.h"

#include "frugal/status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TUNE_MAGIC "frugal-gemm-tune 1"

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

static int isa_of(const char *s) {
    for (int i = FR_ISA_SCALAR; i <= FR_ISA_AVX512; i++)
        if (!strcmp(s, fr_isa_name((enum fr_isa)i))) return i;
    return -1;
}

/* One line: 0 and its fields when it parses. */
static int parse_line(const char *line, int *isa, struct fr_gemm_blocking *b, long long *l1,
                      long long *l2, char *sig, size_t sigcap, const char **model) {
    char name[16], sg[48];
    int used = 0;
    if (sscanf(line, "%15s kc %d mc %d nc %d l1d %lld l2 %lld sig %47s model %n", name, &b->kc,
               &b->mc, &b->nc, l1, l2, sg, &used) != 7 ||
        used == 0)
        return -1;
    if ((*isa = isa_of(name)) < 0) return -1;
    snprintf(sig, sigcap, "%s", sg);
    *model = line + used;
    return 0;
}

int fr_gemm_tune_lookup(const char *path, enum fr_isa isa, struct fr_gemm_blocking *out) {
    FILE *f = fopen(path, "r");
    if (!f) return FR_ENOTFOUND;
    struct stat st;
    char line[512];
    int found = FR_ENOTFOUND;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || !fgets(line, sizeof line, f) ||
        strncmp(line, TUNE_MAGIC, strlen(TUNE_MAGIC))) {
        fclose(f);
        return FR_ENOTFOUND;
    }
    const struct fr_cpu_caches *c = fr_cpu_caches();
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        int li;
        struct fr_gemm_blocking b;
        long long l1, l2;
        char sig[48];
        const char *model;
        if (parse_line(line, &li, &b, &l1, &l2, sig, sizeof sig, &model)) continue;
        if (li != (int)isa || l1 != c->l1d || l2 != c->l2 || strcmp(sig, fr_cpu_signature()) ||
            strcmp(model, fr_cpu_model()))
            continue;
        if (b.kc < 16 || b.kc > 4096 || b.mc < 1 || b.mc > 8192 || b.nc < 1 || b.nc > 65536)
            continue;
        *out = b; /* the last matching line wins */
        found = 0;
    }
    fclose(f);
    return found;
}

/* mkdir -p of path's directory */
static int make_parent(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(dir, 0755) && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(dir, 0755) && errno != EEXIST ? -1 : 0;
}

int fr_gemm_tune_save(const char *path, enum fr_isa isa, const struct fr_gemm_blocking *b) {
    if (make_parent(path))
        return fr_error(FR_EIO, "cannot create the directory of %s: %s", path, strerror(errno));
    /* keep the other CPUs' and ISAs' lines, drop this one's, append ours */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *out = fopen(tmp, "w");
    if (!out) return fr_error(FR_EIO, "cannot write %s: %s", tmp, strerror(errno));
    fprintf(out, "%s\n", TUNE_MAGIC);
    const struct fr_cpu_caches *c = fr_cpu_caches();
    FILE *in = fopen(path, "r");
    char line[512];
    if (in && fgets(line, sizeof line, in) && !strncmp(line, TUNE_MAGIC, strlen(TUNE_MAGIC))) {
        while (fgets(line, sizeof line, in)) {
            line[strcspn(line, "\n")] = '\0';
            int li;
            struct fr_gemm_blocking ob;
            long long l1, l2;
            char sig[48];
            const char *model;
            if (parse_line(line, &li, &ob, &l1, &l2, sig, sizeof sig, &model)) continue;
            if (li == (int)isa && l1 == c->l1d && l2 == c->l2 && !strcmp(sig, fr_cpu_signature()) &&
                !strcmp(model, fr_cpu_model()))
                continue;
            fprintf(out, "%s\n", line);
        }
    }
    if (in) fclose(in);
    fprintf(out, "%s kc %d mc %d nc %d l1d %lld l2 %lld sig %s model %s\n", fr_isa_name(isa), b->kc,
            b->mc, b->nc, c->l1d, c->l2, fr_cpu_signature(), fr_cpu_model());
    int bad = ferror(out);
    bad |= fclose(out) != 0;
    if (bad || rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return fr_error(FR_EIO, "cannot write %s: %s", path, strerror(e));
    }
    return 0;
}
