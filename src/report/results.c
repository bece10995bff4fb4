/* results.c: the results.json document (see report.h), a thin layer over
 * cJSON so that callers never touch JSON directly and every experiment's
 * file has the same shape:
 *
 *   { "schema": "frugal-results/1", "name", "title", "paper", "claim",
 *     "command", "seed", "config": {..}, "metrics": {key: {value, unit}
 *       or, over several runs, {value, lo, hi, n, interval, unit}},
 *     "series": [{name, xlabel, ylabel, x: [..], y: [..]}],
 *     "tables": {name: {columns: [..], rows: [[label, v, ..], ..]}},
 *     "plots": ["loss.svg"], "machine": {cpu, cores, isa, threads},
 *     "commit", "frugal_version", "started", "finished", "cpu_seconds" (user +
 *     system of the process and its waited-for children when written) }
 *
 * Non-finite numbers become null (JSON has no NaN) and read back as NaN.
 */
#include "../core/file.h"
#include "frugal/report.h"
#include "frugal/status.h"
#include "fsutil.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define RESULTS_SCHEMA "frugal-results/1"
#define RESULTS_MAX_BYTES (64u << 20)

struct fr_results {
    cJSON *root;
    double *sx, *sy; /* scratch returned by fr_results_get_series */
};

static void iso_now(char *buf, size_t cap) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static cJSON *num(double v) {
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

/* Sets obj[key] = item, replacing an existing entry; frees item on failure. */
static int put(cJSON *obj, const char *key, cJSON *item) {
    if (!obj || !key || !item) {
        cJSON_Delete(item);
        return fr_error(FR_EINVAL, "results: missing key or value");
    }
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
        if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item)) {
            cJSON_Delete(item);
            return fr_error(FR_ENOMEM, "results: out of memory");
        }
        return 0;
    }
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return fr_error(FR_ENOMEM, "results: out of memory");
    }
    return 0;
}

/* obj[key] as an object/array, created when absent. */
static cJSON *child(cJSON *obj, const char *key, int array) {
    cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (c) return (array ? cJSON_IsArray(c) : cJSON_IsObject(c)) ? c : NULL;
    c = array ? cJSON_CreateArray() : cJSON_CreateObject();
    if (c && !cJSON_AddItemToObject(obj, key, c)) {
        cJSON_Delete(c);
        c = NULL;
    }
    return c;
}

struct fr_results *fr_results_new(const char *name, const char *title) {
    struct fr_results *r = calloc(1, sizeof *r);
    char now[32];
    if (!r || !(r->root = cJSON_CreateObject())) {
        free(r);
        fr_error(FR_ENOMEM, "results: out of memory");
        return NULL;
    }
    iso_now(now, sizeof now);
    if (put(r->root, "schema", cJSON_CreateString(RESULTS_SCHEMA)) ||
        put(r->root, "name", cJSON_CreateString(name ? name : "unnamed")) ||
        put(r->root, "title", cJSON_CreateString(title ? title : (name ? name : "unnamed"))) ||
        put(r->root, "started", cJSON_CreateString(now))) {
        fr_results_free(r);
        return NULL;
    }
    return r;
}

void fr_results_free(struct fr_results *r) {
    if (!r) return;
    cJSON_Delete(r->root);
    free(r->sx);
    free(r->sy);
    free(r);
}

int fr_results_set_str(struct fr_results *r, const char *key, const char *value) {
    return put(r->root, key, cJSON_CreateString(value ? value : ""));
}

int fr_results_set_seed(struct fr_results *r, uint64_t seed) {
    /* doubles hold integers exactly up to 2^53; larger seeds go as strings */
    if (seed <= (1ull << 53)) return put(r->root, "seed", cJSON_CreateNumber((double)seed));
    char s[32];
    snprintf(s, sizeof s, "%llu", (unsigned long long)seed);
    return put(r->root, "seed", cJSON_CreateString(s));
}

int fr_results_config_str(struct fr_results *r, const char *key, const char *value) {
    return put(child(r->root, "config", 0), key, cJSON_CreateString(value ? value : ""));
}

int fr_results_config_int(struct fr_results *r, const char *key, int64_t value) {
    return put(child(r->root, "config", 0), key, cJSON_CreateNumber((double)value));
}

int fr_results_config_double(struct fr_results *r, const char *key, double value) {
    return put(child(r->root, "config", 0), key, num(value));
}

int fr_results_metric(struct fr_results *r, const char *key, double value, const char *unit) {
    cJSON *m = cJSON_CreateObject();
    if (!m || !cJSON_AddItemToObject(m, "value", num(value)) ||
        !cJSON_AddStringToObject(m, "unit", unit ? unit : "")) {
        cJSON_Delete(m);
        return fr_error(FR_ENOMEM, "results: out of memory");
    }
    return put(child(r->root, "metrics", 0), key, m);
}

int fr_results_metric_ci(struct fr_results *r, const char *key, const struct fr_interval *iv,
                         const char *unit) {
    cJSON *m = cJSON_CreateObject();
    if (!m || put(m, "value", num(iv->mean)) || put(m, "lo", num(iv->lo)) ||
        put(m, "hi", num(iv->hi)) || put(m, "n", cJSON_CreateNumber(iv->n)) ||
        !cJSON_AddStringToObject(m, "interval", iv->method ? iv->method : "") ||
        !cJSON_AddStringToObject(m, "unit", unit ? unit : "")) {
        cJSON_Delete(m);
        return fr_error(FR_ENOMEM, "results: out of memory");
    }
    return put(child(r->root, "metrics", 0), key, m);
}

static cJSON *num_array(int64_t n, const double *v) {
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; a && i < n; i++) {
        if (!cJSON_AddItemToArray(a, num(v[i]))) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

int fr_results_series(struct fr_results *r, const char *name, const char *xlabel,
                      const char *ylabel, int64_t n, const double *x, const double *y) {
    if (!name || n < 0 || (n > 0 && (!x || !y)))
        return fr_error(FR_EINVAL, "results: bad series arguments");
    cJSON *arr = child(r->root, "series", 1), *s = cJSON_CreateObject();
    if (!arr || !s || !cJSON_AddStringToObject(s, "name", name) ||
        !cJSON_AddStringToObject(s, "xlabel", xlabel ? xlabel : "") ||
        !cJSON_AddStringToObject(s, "ylabel", ylabel ? ylabel : "") ||
        put(s, "x", num_array(n, x)) || put(s, "y", num_array(n, y)) ||
        !cJSON_AddItemToArray(arr, s)) {
        cJSON_Delete(s);
        return fr_error(FR_ENOMEM, "results: out of memory");
    }
    return 0;
}

int fr_results_table(struct fr_results *r, const char *table, int ncols, const char *const *cols) {
    if (!table || ncols < 1 || !cols) return fr_error(FR_EINVAL, "results: bad table arguments");
    cJSON *t = cJSON_CreateObject(), *c = cJSON_CreateArray();
    if (!t || !c || !cJSON_AddItemToObject(t, "columns", c)) {
        cJSON_Delete(t);
        cJSON_Delete(c);
        return fr_error(FR_ENOMEM, "results: out of memory");
    }
    for (int i = 0; i < ncols; i++)
        if (!cJSON_AddItemToArray(c, cJSON_CreateString(cols[i] ? cols[i] : ""))) {
            cJSON_Delete(t);
            return fr_error(FR_ENOMEM, "results: out of memory");
        }
    if (!cJSON_AddArrayToObject(t, "rows")) {
        cJSON_Delete(t);
        return fr_error(FR_ENOMEM, "results: out of memory");
    }
    return put(child(r->root, "tables", 0), table, t);
}

int fr_results_table_row(struct fr_results *r, const char *table, const char *label,
                         const double *vals) {
    cJSON *tables = cJSON_GetObjectItemCaseSensitive(r->root, "tables");
    cJSON *t = cJSON_GetObjectItemCaseSensitive(tables, table);
    cJSON *cols = cJSON_GetObjectItemCaseSensitive(t, "columns");
    cJSON *rows = cJSON_GetObjectItemCaseSensitive(t, "rows");
    if (!cJSON_IsArray(cols) || !cJSON_IsArray(rows))
        return fr_error(FR_ENOTFOUND, "results: no table '%s'", table ? table : "(null)");
    int ncols = cJSON_GetArraySize(cols);
    cJSON *row = cJSON_CreateArray();
    if (!row || !cJSON_AddItemToArray(row, cJSON_CreateString(label ? label : ""))) {
        cJSON_Delete(row);
        return fr_error(FR_ENOMEM, "results: out of memory");
    }
    for (int i = 0; i + 1 < ncols; i++)
        if (!cJSON_AddItemToArray(row, num(vals[i]))) {
            cJSON_Delete(row);
            return fr_error(FR_ENOMEM, "results: out of memory");
        }
    if (!cJSON_AddItemToArray(rows, row)) {
        cJSON_Delete(row);
        return fr_error(FR_ENOMEM, "results: out of memory");
    }
    return 0;
}

int fr_results_plot(struct fr_results *r, const char *file) {
    cJSON *arr = child(r->root, "plots", 1);
    if (!arr || !file) return fr_error(FR_EINVAL, "results: bad plot arguments");
    if (!cJSON_AddItemToArray(arr, cJSON_CreateString(file)))
        return fr_error(FR_ENOMEM, "results: out of memory");
    return 0;
}

int fr_results_write(struct fr_results *r, const char *path) {
    struct fr_machine m;
    char now[32];
    int rc;
    fr_machine_probe(&m);
    iso_now(now, sizeof now);
    cJSON *mj = cJSON_CreateObject();
    if (!mj || !cJSON_AddStringToObject(mj, "cpu", m.cpu) ||
        !cJSON_AddNumberToObject(mj, "cores", m.cores) ||
        !cJSON_AddStringToObject(mj, "isa", m.isa) ||
        !cJSON_AddNumberToObject(mj, "threads", m.threads)) {
        cJSON_Delete(mj);
        return fr_error(FR_ENOMEM, "results: out of memory");
    }
    /* the CPU time the run took so far (this process and the children it
     * waited for: forked soup workers), beside the wall clock of started /
     * finished: a busy machine stretches one but not the other */
    struct rusage self, kids;
    double cpu = -1;
    if (!getrusage(RUSAGE_SELF, &self) && !getrusage(RUSAGE_CHILDREN, &kids))
        cpu = (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
                       kids.ru_stime.tv_sec) +
              1e-6 * (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec +
                              kids.ru_utime.tv_usec + kids.ru_stime.tv_usec);
    if ((rc = put(r->root, "machine", mj)) ||
        (rc = put(r->root, "commit", cJSON_CreateString(m.commit))) ||
        (rc = put(r->root, "frugal_version", cJSON_CreateString(m.version))) ||
        (rc = put(r->root, "finished", cJSON_CreateString(now))) ||
        (cpu >= 0 && (rc = put(r->root, "cpu_seconds", cJSON_CreateNumber(cpu)))))
        return rc;
    char *text = cJSON_Print(r->root);
    if (!text) return fr_error(FR_ENOMEM, "results: out of memory");
    size_t n = strlen(text);
    char *withnl = realloc(text, n + 2);
    if (!withnl) {
        free(text);
        return fr_error(FR_ENOMEM, "results: out of memory");
    }
    withnl[n] = '\n';
    withnl[n + 1] = '\0';
    rc = rp_write_file(path, withnl, n + 1);
    free(withnl);
    return rc;
}

int fr_results_save_summary(const struct fr_results *r, const char *path) {
    cJSON *copy = cJSON_Duplicate(r->root, 1);
    if (!copy) return fr_error(FR_ENOMEM, "results: out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "plots"); /* files stay in out/ */
    int rc = put(copy, "summary", cJSON_CreateString("committed summary of a full run"));
    char *text = rc ? NULL : cJSON_Print(copy);
    cJSON_Delete(copy);
    if (rc) return rc;
    if (!text) return fr_error(FR_ENOMEM, "results: out of memory");
    size_t n = strlen(text);
    char *withnl = realloc(text, n + 2);
    if (!withnl) {
        free(text);
        return fr_error(FR_ENOMEM, "results: out of memory");
    }
    withnl[n] = '\n';
    withnl[n + 1] = '\0';
    rc = rp_write_file(path, withnl, n + 1);
    free(withnl);
    return rc;
}

struct fr_results *fr_results_read(const char *path) {
    size_t n = 0;
    char *text = fr_read_file(path, RESULTS_MAX_BYTES, &n);
    if (!text) return NULL;
    cJSON *root = cJSON_ParseWithLength(text, n);
    free(text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        fr_error(FR_EFORMAT, "%s: not a JSON object", path);
        return NULL;
    }
    cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
    if (!cJSON_IsString(schema) || strcmp(schema->valuestring, RESULTS_SCHEMA) != 0) {
        cJSON_Delete(root);
        fr_error(FR_EFORMAT, "%s: not a frugal results file (schema != %s)", path, RESULTS_SCHEMA);
        return NULL;
    }
    struct fr_results *r = calloc(1, sizeof *r);
    if (!r) {
        cJSON_Delete(root);
        fr_error(FR_ENOMEM, "results: out of memory");
        return NULL;
    }
    r->root = root;
    return r;
}

const char *fr_results_get_str(const struct fr_results *r, const char *key) {
    cJSON *s = cJSON_GetObjectItemCaseSensitive(r->root, key);
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

int fr_results_get_metric(const struct fr_results *r, const char *key, double *value,
                          const char **unit) {
    cJSON *m =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->root, "metrics"), key);
    if (!cJSON_IsObject(m)) return fr_error(FR_ENOTFOUND, "results: no metric '%s'", key);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "value");
    cJSON *u = cJSON_GetObjectItemCaseSensitive(m, "unit");
    if (value) *value = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (unit) *unit = cJSON_IsString(u) ? u->valuestring : "";
    return 0;
}

static int read_nums(const cJSON *a, int64_t n, double *out) {
    int64_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
        if (i >= n) break;
        out[i++] = cJSON_IsNumber(e) ? e->valuedouble : NAN;
    }
    return i == n ? 0 : -1;
}

int fr_results_get_series(struct fr_results *r, const char *name, int64_t *n, const double **x,
                          const double **y) {
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(r->root, "series")) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(s, "name");
        if (!cJSON_IsString(nm) || strcmp(nm->valuestring, name) != 0) continue;
        const cJSON *xa = cJSON_GetObjectItemCaseSensitive(s, "x");
        const cJSON *ya = cJSON_GetObjectItemCaseSensitive(s, "y");
        if (!cJSON_IsArray(xa) || !cJSON_IsArray(ya) ||
            cJSON_GetArraySize(xa) != cJSON_GetArraySize(ya))
            return fr_error(FR_EFORMAT, "results: series '%s' is malformed", name);
        int64_t len = cJSON_GetArraySize(xa);
        free(r->sx);
        free(r->sy);
        r->sx = malloc((size_t)(len ? len : 1) * sizeof(double));
        r->sy = malloc((size_t)(len ? len : 1) * sizeof(double));
        if (!r->sx || !r->sy) return fr_error(FR_ENOMEM, "results: out of memory");
        read_nums(xa, len, r->sx);
        read_nums(ya, len, r->sy);
        *n = len;
        *x = r->sx;
        *y = r->sy;
        return 0;
    }
    return fr_error(FR_ENOTFOUND, "results: no series '%s'", name);
}

const void *rp_results_json(const struct fr_results *r) {
    return r->root;
}
