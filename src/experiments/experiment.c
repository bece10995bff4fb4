/* experiment.c: running a registered experiment (experiments/experiment.h)
 * and the small helpers every experiment file shares: its output
 * directory, progress lines, and finding the data files frugal ships. The
 * registry itself is registry.c. */
#include "frugal/experiments/experiment.h"

#include "frugal/report.h"
#include "frugal/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fr_exp_opts_defaults(struct fr_exp_opts *o) {
    memset(o, 0, sizeof *o);
    o->size = FR_EXP_QUICK;
    o->seed = 1;
    o->out = "out";
}

const char *fr_exp_size_name(enum fr_exp_size s) {
    static const char *const names[FR_EXP_NSIZES] = {"tiny", "quick", "full"};
    return s >= 0 && s < FR_EXP_NSIZES ? names[s] : "?";
}

const struct fr_experiment *fr_experiment_find(const char *name) {
    for (int i = 0; name && i < fr_experiment_count(); i++)
        if (strcmp(fr_experiment_at(i)->name, name) == 0) return fr_experiment_at(i);
    return NULL;
}

int fr_experiment_run(const struct fr_experiment *e, const struct fr_exp_opts *o,
                      struct fr_exp_outcome *out) {
    memset(out, 0, sizeof *out);
    if (!e || !o) return fr_error(FR_EINVAL, "experiment: no experiment or options");
    if (o->size < 0 || o->size >= FR_EXP_NSIZES || !e->plans[o->size])
        return fr_error(FR_EINVAL, "experiment %s has no %s plan", e->name,
                        fr_exp_size_name(o->size));
    if (!o->out || !*o->out) return fr_error(FR_EINVAL, "experiment %s: no output root", e->name);
    if (fr_mkdirs(o->out)) return FR_EIO;
    int commit = o->size == FR_EXP_FULL && o->results_dir && *o->results_dir;
    if (commit && fr_mkdirs(o->results_dir)) return FR_EIO; /* checked before the long work */
    int rc = e->run(e, e->plans[o->size], o, out);
    if (rc || !commit) return rc;
    struct fr_results *r = fr_results_read(out->results);
    if (!r) return FR_EIO;
    snprintf(out->summary_path, sizeof out->summary_path, "%s/%s.json", o->results_dir, e->name);
    rc = fr_results_save_summary(r, out->summary_path);
    fr_results_free(r);
    if (rc) out->summary_path[0] = '\0';
    return rc;
}

int fr_exp_dir(const struct fr_exp_opts *o, const char *name, char *buf, size_t cap) {
    if ((size_t)snprintf(buf, cap, "%s/%s", o->out, name) >= cap)
        return fr_error(FR_EINVAL, "output path too long: %.64s...", o->out);
    return fr_mkdirs(buf) ? FR_EIO : 0;
}

void fr_exp_log(const struct fr_exp_opts *o, const char *fmt, ...) {
    if (!o->log) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->log, fmt, ap);
    va_end(ap);
    fputc('\n', o->log);
    fflush(o->log);
}

void fr_exp_append(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
    if (cap == 0 || *len >= cap - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (k > 0) *len = *len + (size_t)k < cap ? *len + (size_t)k : cap - 1;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int fr_exp_results_dir(char *buf, size_t cap) {
    const char *env = getenv("FRUGAL_RESULTS");
    char exe[4096];
    if (env && *env && is_dir(env)) return snprintf(buf, cap, "%s", env), 0;
    if (is_dir("results")) return snprintf(buf, cap, "results"), 0;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        static const char *const beside[2] = {"share/frugal/results", "results"};
        for (int i = 0; i < 2; i++) {
            snprintf(buf, cap, "%s/../%s", exe, beside[i]);
            if (is_dir(buf)) return 0;
        }
    }
    if (cap) buf[0] = '\0';
    return FR_ENOTFOUND;
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int fr_exp_data_path(const char *rel, char *buf, size_t cap) {
    const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    const char *env = getenv("FRUGAL_DATA");
    char exe[4096], tried[1024] = "";
    size_t nt = 0;
    if (env && *env) {
        snprintf(buf, cap, "%s/%s", env, base);
        if (is_file(buf)) return 0;
        nt += (size_t)snprintf(tried + nt, sizeof tried - nt, "%s, ", buf);
    }
    snprintf(buf, cap, "%s", rel);
    if (is_file(buf)) return 0;
    nt += (size_t)snprintf(tried + nt, sizeof tried - nt, "%s", rel);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        static const char *const beside[2] = {"share/frugal", "data"};
        for (int i = 0; i < 2; i++) {
            snprintf(buf, cap, "%s/../%s/%s", exe, beside[i], base);
            if (is_file(buf)) return 0;
            if (nt < sizeof tried)
                nt += (size_t)snprintf(tried + nt, sizeof tried - nt, ", %s", buf);
        }
    }
    snprintf(buf, cap, "%s", rel);
    return fr_error(FR_ENOTFOUND,
                    "%s not found (looked at %s; FRUGAL_DATA=DIR names another place)", base,
                    tried);
}
