/* html.c: the HTML report (see report.h). One self-contained page: each
 * experiment's SVG plots are embedded, so out/report/index.html can be
 * copied or mailed alone. Sections are ordered by paper, then experiment
 * name, so one paper's experiments sit together. A results file that
 * cannot be read still gets a section saying why: a report never hides a
 * failed run.
 *
 * A report may be built from someone else's results, so nothing from a
 * results directory reaches the page as markup: strings are escaped, and a
 * plot file is embedded as an <img> with a base64 data: URI, where a
 * browser runs no script and loads nothing else, whatever the file holds.
 */
#include "../core/file.h"
#include "frugal/report.h"
#include "frugal/status.h"
#include "fsutil.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_SVG_BYTES (8u << 20)

struct entry {
    char name[256];
    char paper[256];
    char dir[4096];         /* where its plot files are ("" for a committed summary: none) */
    int committed;          /* from the committed results directory, not out/ */
    struct fr_results *res; /* NULL when unreadable */
    char error[512];
};

static int cmp_entry(const void *a, const void *b) {
    const struct entry *x = a, *y = b;
    /* entries with a paper first, grouped by paper */
    if (!x->paper[0] != !y->paper[0]) return x->paper[0] ? -1 : 1;
    int c = strcmp(x->paper, y->paper);
    if (!c) c = strcmp(x->name, y->name);
    return c ? c : y->committed - x->committed; /* the committed full run first */
}

static void fmt_number(const cJSON *v, char *buf, size_t cap) {
    if (!cJSON_IsNumber(v)) {
        snprintf(buf, cap, "n/a");
        return;
    }
    double d = v->valuedouble;
    if (d == floor(d) && fabs(d) < 1e15)
        snprintf(buf, cap, "%.0f", d);
    else if (fabs(d) >= 1e4 && fabs(d) < 1e15)
        snprintf(buf, cap, "%.1f", d);
    else
        snprintf(buf, cap, "%.4g", d);
}

static const char *str_of(const cJSON *obj, const char *key) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

static void kv_table(struct rp_buf *b, const cJSON *obj) {
    const cJSON *e;
    char num[64];
    rp_puts(b, "<table class=\"kv\">\n");
    cJSON_ArrayForEach(e, obj) {
        rp_puts(b, "<tr><th>");
        rp_escape(b, e->string);
        rp_puts(b, "</th><td>");
        if (cJSON_IsString(e)) {
            rp_escape(b, e->valuestring);
        } else if (cJSON_IsBool(e)) {
            rp_puts(b, cJSON_IsTrue(e) ? "true" : "false");
        } else {
            fmt_number(e, num, sizeof num);
            rp_puts(b, num);
        }
        rp_puts(b, "</td></tr>\n");
    }
    rp_puts(b, "</table>\n");
}

static void metrics_table(struct rp_buf *b, const cJSON *metrics) {
    const cJSON *m;
    char num[64];
    rp_puts(b,
            "<table class=\"metrics\">\n<tr><th>quantity</th><th>value</th><th>unit</th></tr>\n");
    cJSON_ArrayForEach(m, metrics) {
        const char *unit = str_of(m, "unit");
        char lo[64], hi[64];
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(m, "lo");
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(m, "hi");
        fmt_number(cJSON_GetObjectItemCaseSensitive(m, "value"), num, sizeof num);
        rp_puts(b, "<tr><td>");
        rp_escape(b, m->string);
        rp_printf(b, "</td><td class=\"num\">%s", num);
        if (cJSON_IsNumber(l) && cJSON_IsNumber(h)) {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(m, "n");
            fmt_number(l, lo, sizeof lo);
            fmt_number(h, hi, sizeof hi);
            rp_printf(b, " [%s, %s]", lo, hi);
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "value");
            int same = cJSON_IsNumber(v) && l->valuedouble == h->valuedouble &&
                       v->valuedouble == l->valuedouble;
            if (cJSON_IsNumber(n))
                rp_printf(b, " <small>(n %d%s)</small>", (int)n->valuedouble,
                          same && n->valuedouble >= 2
                              ? ": every run gave the same value, so the interval has no width; "
                                "more runs could still differ"
                              : "");
        }
        rp_puts(b, "</td><td>");
        rp_escape(b, unit ? unit : "");
        rp_puts(b, "</td></tr>\n");
    }
    rp_puts(b, "</table>\n");
}

static void data_tables(struct rp_buf *b, const cJSON *tables) {
    const cJSON *t, *c, *row, *cell;
    char num[64];
    cJSON_ArrayForEach(t, tables) {
        rp_puts(b, "<h4>");
        rp_escape(b, t->string);
        rp_puts(b, "</h4>\n<table class=\"data\">\n<tr>");
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(t, "columns")) {
            rp_puts(b, "<th>");
            rp_escape(b, cJSON_IsString(c) ? c->valuestring : "");
            rp_puts(b, "</th>");
        }
        rp_puts(b, "</tr>\n");
        cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(t, "rows")) {
            rp_puts(b, "<tr>");
            cJSON_ArrayForEach(cell, row) {
                if (cJSON_IsString(cell)) {
                    rp_puts(b, "<td>");
                    rp_escape(b, cell->valuestring);
                } else {
                    fmt_number(cell, num, sizeof num);
                    rp_printf(b, "<td class=\"num\">%s", num);
                }
                rp_puts(b, "</td>");
            }
            rp_puts(b, "</tr>\n");
        }
        rp_puts(b, "</table>\n");
    }
}

/* Inlines dir/file (an SVG); the name must stay inside dir. */
/* Appends n bytes as base64 (RFC 4648, padded). */
static void put_base64(struct rp_buf *b, const unsigned char *p, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[5] = {0};
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        q[0] = A[v >> 18 & 63], q[1] = A[v >> 12 & 63];
        q[2] = i + 1 < n ? A[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? A[v & 63] : '=';
        rp_puts(b, q);
    }
}

/* Values of a JSON number array as doubles (malloc'd; null -> NaN). */
static double *num_array(const cJSON *a, int64_t *n) {
    *n = cJSON_GetArraySize(a);
    double *v = malloc(sizeof(double) * (size_t)(*n ? *n : 1));
    int64_t i = 0;
    const cJSON *it;
    if (!v) return NULL;
    cJSON_ArrayForEach(it, a) v[i++] = cJSON_IsNumber(it) ? it->valuedouble : NAN;
    return v;
}

/* One chart of every series whose y label is yl. */
static void series_chart(struct rp_buf *b, const cJSON *series, const char *yl) {
    int ns = cJSON_GetArraySize(series), k = 0;
    struct fr_plot_series *ps = calloc((size_t)ns, sizeof *ps);
    double **bufs = calloc((size_t)ns * 2, sizeof *bufs);
    const char *xl = NULL;
    const cJSON *it;
    if (!ps || !bufs) goto done;
    cJSON_ArrayForEach(it, series) {
        const char *y = str_of(it, "ylabel"), *x = str_of(it, "xlabel"), *nm = str_of(it, "name");
        if (!y || strcmp(y, yl) != 0) continue;
        if (!xl) xl = x;
        int64_t nx, ny;
        bufs[2 * k] = num_array(cJSON_GetObjectItemCaseSensitive(it, "x"), &nx);
        bufs[2 * k + 1] = num_array(cJSON_GetObjectItemCaseSensitive(it, "y"), &ny);
        if (!bufs[2 * k] || !bufs[2 * k + 1]) continue;
        ps[k].name = nm ? nm : "";
        ps[k].n = nx < ny ? nx : ny;
        ps[k].x = bufs[2 * k];
        ps[k].y = bufs[2 * k + 1];
        k++;
    }
    if (k) {
        struct fr_plot p = {.title = yl, .xlabel = xl ? xl : "", .ylabel = yl, .markers = 1};
        char *svg = fr_plot_svg(&p, k, ps);
        if (svg) {
            rp_puts(b, "<figure><img alt=\"series\" src=\"data:image/svg+xml;base64,");
            put_base64(b, (const unsigned char *)svg, strlen(svg));
            rp_puts(b, "\"/></figure>\n");
            free(svg);
        }
    }
done:
    for (int i = 0; bufs && i < 2 * ns; i++)
        free(bufs[i]);
    free(bufs);
    free(ps);
}

/* An experiment without plot files (a committed summary, or a run that
 * named none) gets charts drawn from its series: one per y label, in the
 * order the labels first appear, at most 12. */
static void series_plot(struct rp_buf *b, const cJSON *series) {
    const char *seen[12];
    int nseen = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, series) {
        const char *y = str_of(it, "ylabel");
        int dup = !y;
        for (int i = 0; i < nseen && !dup; i++)
            dup = !strcmp(seen[i], y);
        if (dup || nseen == 12) continue;
        seen[nseen++] = y;
        series_chart(b, series, y);
    }
}

/* Embeds one SVG file of the experiment as an image; returns 1 if shown. */
static int inline_plot(struct rp_buf *b, const char *dir, const char *file) {
    char path[8192];
    int shown = 0;
    if (!file[0] || file[0] == '/' || strstr(file, "..") ||
        (size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path) {
        rp_puts(b, "<p class=\"error\">plot name refused: ");
        rp_escape(b, file);
        rp_puts(b, "</p>\n");
        return 0;
    }
    size_t len = 0;
    char *svg = fr_read_file(path, MAX_SVG_BYTES, &len);
    const char *start = svg ? strstr(svg, "<svg") : NULL;
    if (!start) {
        rp_puts(b, "<p class=\"error\">missing plot ");
        rp_escape(b, file);
        rp_puts(b, "</p>\n");
    } else {
        rp_puts(b, "<figure><img alt=\"");
        rp_escape(b, file);
        rp_puts(b, "\" src=\"data:image/svg+xml;base64,");
        put_base64(b, (const unsigned char *)svg, len);
        rp_puts(b, "\"/><figcaption>");
        rp_escape(b, file);
        rp_puts(b, "</figcaption></figure>\n");
        shown = 1;
    }
    free(svg);
    return shown;
}

static void section(struct rp_buf *b, const struct entry *e) {
    rp_puts(b, "<section id=\"");
    rp_escape(b, e->name);
    rp_puts(b, e->committed ? "-committed" : "");
    rp_puts(b, "\">\n");
    if (!e->res) {
        rp_puts(b, "<h2>");
        rp_escape(b, e->name);
        rp_puts(b, "</h2>\n<p class=\"error\">could not read results: ");
        rp_escape(b, e->error);
        rp_puts(b, "</p>\n</section>\n");
        return;
    }
    const cJSON *root = rp_results_json(e->res), *it;
    const char *title = str_of(root, "title"), *claim = str_of(root, "claim");
    const char *cmd = str_of(root, "command"), *notes = str_of(root, "notes");
    const char *findings = str_of(root, "findings");
    rp_puts(b, "<h2>");
    rp_escape(b, title ? title : e->name);
    rp_puts(b, " <small>(");
    rp_escape(b, e->name);
    rp_puts(b, e->committed ? ", the committed full run" : ", this machine's run");
    rp_puts(b, ")</small></h2>\n");
    if (e->paper[0]) {
        rp_puts(b, "<p class=\"paper\"><b>Paper:</b> ");
        rp_escape(b, e->paper);
        rp_puts(b, "</p>\n");
    }
    if (claim) {
        rp_puts(b, "<p class=\"claim\"><b>Claim:</b> ");
        rp_escape(b, claim);
        rp_puts(b, "</p>\n");
    }
    rp_puts(b, "<h3>Our measurement</h3>\n");
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(root, "metrics");
    if (cJSON_GetArraySize(metrics) > 0)
        metrics_table(b, metrics);
    else
        rp_puts(b, "<p>(no metrics recorded)</p>\n");
    data_tables(b, cJSON_GetObjectItemCaseSensitive(root, "tables"));
    if (findings) { /* sentences the run computed from its own numbers */
        rp_puts(b, "<p class=\"findings\"><b>Findings (computed by the run):</b> ");
        rp_escape(b, findings);
        rp_puts(b, "</p>\n");
    }
    if (notes) {
        rp_puts(b, "<p class=\"notes\">");
        rp_escape(b, notes);
        rp_puts(b, "</p>\n");
    }
    int nplots = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "plots")) {
        if (cJSON_IsString(it) && e->dir[0]) nplots += inline_plot(b, e->dir, it->valuestring);
    }
    if (!nplots) series_plot(b, cJSON_GetObjectItemCaseSensitive(root, "series"));
    if (cmd) {
        rp_puts(b, "<p><b>Reproduce:</b></p>\n<pre><code>");
        rp_escape(b, cmd);
        rp_puts(b, "</code></pre>\n");
    }
    rp_puts(b, "<details><summary>config, seed, machine, commit</summary>\n");
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(root, "config");
    if (config) kv_table(b, config);
    const cJSON *machine = cJSON_GetObjectItemCaseSensitive(root, "machine");
    if (machine) kv_table(b, machine);
    rp_puts(b, "<table class=\"kv\">\n");
    static const char *const extra[] = {"seed",    "commit",   "frugal_version",
                                        "started", "finished", "cpu_seconds"};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, extra[i]);
        char num[64];
        if (!v) continue;
        rp_printf(b, "<tr><th>%s</th><td>", extra[i]);
        if (cJSON_IsString(v)) {
            rp_escape(b, v->valuestring);
        } else {
            fmt_number(v, num, sizeof num);
            rp_puts(b, num);
        }
        rp_puts(b, "</td></tr>\n");
    }
    rp_puts(b, "</table>\n</details>\n</section>\n");
}

static const char CSS[] =
    "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "section{border-top:1px solid #ccc;margin-top:2rem}"
    "table{border-collapse:collapse;margin:.5rem 0}"
    "td,th{border:1px solid #ddd;padding:.2rem .6rem;text-align:left}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "pre{background:#f4f4f4;padding:.5rem;overflow-x:auto}"
    "figure{display:inline-block;margin:.5rem}figcaption{font-size:small;color:#666}"
    ".error{color:#b00}.claim{background:#f8f8e8;padding:.4rem}small{color:#777}";

/* Appends an entry read from path; 0 or FR_ENOMEM. */
static int add_entry(struct entry **ents, int *n, int *capn, const char *name, const char *path,
                     const char *dir, int committed) {
    if (*n == *capn) {
        *capn = *capn ? *capn * 2 : 16;
        struct entry *ne = realloc(*ents, (size_t)*capn * sizeof **ents);
        if (!ne) return fr_error(FR_ENOMEM, "report: out of memory");
        *ents = ne;
    }
    struct entry *e = &(*ents)[(*n)++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->dir, sizeof e->dir, "%s", dir);
    e->committed = committed;
    e->res = fr_results_read(path);
    if (!e->res) {
        snprintf(e->error, sizeof e->error, "%s", fr_last_error());
    } else {
        const char *paper = fr_results_get_str(e->res, "paper");
        snprintf(e->paper, sizeof e->paper, "%s", paper ? paper : "");
    }
    return 0;
}

int fr_report_build(const char *out_dir, const char *results_dir, char *path_out, size_t cap,
                    int *n_sections) {
    struct entry *ents = NULL;
    int n = 0, capn = 0, rc = 0, ncommitted = 0;
    struct rp_buf b = {0};
    char path[4096], dir[4096];
    if (n_sections) *n_sections = 0;
    /* no results yet is a report that says so, not an error */
    if (fr_mkdirs(out_dir)) return FR_EIO;
    DIR *d = opendir(out_dir);
    if (!d) return fr_error(FR_EIO, "cannot open results directory %s", out_dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (de->d_name[0] == '.' || strcmp(de->d_name, "report") == 0) continue;
        if (strlen(de->d_name) >= sizeof ents[0].name) continue;
        snprintf(path, sizeof path, "%s/%s/results.json", out_dir, de->d_name);
        snprintf(dir, sizeof dir, "%s/%s", out_dir, de->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if ((rc = add_entry(&ents, &n, &capn, de->d_name, path, dir, 0))) goto cleanup;
    }
    /* the committed summaries: results_dir/<name>.json */
    DIR *c = results_dir && *results_dir ? opendir(results_dir) : NULL;
    while (c && (de = readdir(c)) != NULL) {
        struct stat st;
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 6 || len >= sizeof ents[0].name ||
            strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(len - 5), de->d_name);
        snprintf(path, sizeof path, "%s/%s", results_dir, de->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if ((rc = add_entry(&ents, &n, &capn, name, path, "", 1))) break;
        ncommitted++;
    }
    if (c) closedir(c);
    if (rc) goto cleanup;
    if (n > 1) qsort(ents, (size_t)n, sizeof *ents, cmp_entry);

    struct fr_machine m;
    fr_machine_probe(&m);
    rp_printf(&b,
              "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
              "<title>frugal report</title>\n<style>%s</style>\n</head>\n<body>\n"
              "<h1>frugal report</h1>\n<p>%d section%s: %d committed full run%s",
              CSS, n, n == 1 ? "" : "s", ncommitted, ncommitted == 1 ? "" : "s");
    if (ncommitted) {
        rp_puts(&b, " from <code>");
        rp_escape(&b, results_dir);
        rp_puts(&b, "</code>");
    }
    rp_printf(&b, " and %d run%s of this machine from <code>", n - ncommitted,
              n - ncommitted == 1 ? "" : "s");
    rp_escape(&b, out_dir);
    rp_printf(&b, "/*/results.json</code>. Built by frugal %s at commit <code>", m.version);
    rp_escape(&b, m.commit);
    rp_puts(&b, "</code>. Each section: the claim, our measurement, the plots, and the command "
                "that reproduces it.</p>\n");
    if (n == 0)
        rp_puts(&b, "<p>No results yet: run <code>frugal demo</code> or "
                    "<code>frugal repro --list</code>.</p>\n");
    rp_puts(&b, "<ul class=\"toc\">\n");
    for (int i = 0; i < n; i++) {
        const char *title = ents[i].res ? fr_results_get_str(ents[i].res, "title") : NULL;
        rp_puts(&b, "<li><a href=\"#");
        rp_escape(&b, ents[i].name);
        rp_puts(&b, ents[i].committed ? "-committed" : "");
        rp_puts(&b, "\">");
        rp_escape(&b, title ? title : ents[i].name);
        rp_puts(&b, "</a>");
        rp_puts(&b, ents[i].committed ? " (committed)" : "");
        if (ents[i].paper[0]) {
            rp_puts(&b, " &mdash; ");
            rp_escape(&b, ents[i].paper);
        }
        rp_puts(&b, "</li>\n");
    }
    rp_puts(&b, "</ul>\n");
    for (int i = 0; i < n; i++)
        section(&b, &ents[i]);
    rp_puts(&b, "</body>\n</html>\n");
    if (b.oom) {
        rc = fr_error(FR_ENOMEM, "report: out of memory");
        goto cleanup;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/report/index.html", out_dir) >= sizeof path) {
        rc = fr_error(FR_EINVAL, "report: path too long");
        goto cleanup;
    }
    if ((rc = rp_write_file(path, b.p, b.n)) != 0) goto cleanup;
    if (path_out && cap > 0) snprintf(path_out, cap, "%s", path);
    if (n_sections) *n_sections = n;
cleanup:
    closedir(d);
    for (int i = 0; i < n; i++)
        fr_results_free(ents[i].res);
    free(ents);
    free(b.p);
    return rc;
}
