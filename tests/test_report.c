/* test_report.c: the report pieces without training: SVG plots are
 * well-formed (balanced tags, the series and their names present, hostile
 * text escaped), results.json round-trips, and a report built from two fake
 * experiments holds both sections, their claims, tables and inlined plots. */
#include "check.h"
#include "frugal/report.h"
#include "frugal/status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Tag balance of an XML-ish document: every <x ...> is closed by </x> or is
 * self-closing; processing instructions, comments and doctype are skipped.
 * Returns 1 when balanced and properly nested; counts elements named `name`. */
static int balanced(const char *s, const char *name, int *count) {
    char stack[256][32];
    int depth = 0;
    *count = 0;
    while ((s = strchr(s, '<')) != NULL) {
        if (s[1] == '?' || s[1] == '!') {
            s = strchr(s, '>');
            if (!s) return 0;
            continue;
        }
        int closing = s[1] == '/';
        const char *p = s + 1 + closing;
        char tag[32];
        int n = 0;
        while (*p && *p != ' ' && *p != '>' && *p != '/' && *p != '\n' && n < 31)
            tag[n++] = *p++;
        tag[n] = '\0';
        const char *end = strchr(p, '>');
        if (!end || n == 0) return 0;
        /* no raw '<' inside a tag (attribute values must be escaped) */
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (lt) return 0;
        int self = end[-1] == '/';
        if (closing) {
            if (depth == 0 || strcmp(stack[depth - 1], tag) != 0) return 0;
            depth--;
        } else {
            if (strcmp(tag, name) == 0) (*count)++;
            if (!self) {
                if (depth == 256) return 0;
                snprintf(stack[depth++], sizeof stack[0], "%s", tag);
            }
        }
        s = end + 1;
    }
    return depth == 0;
}

static void test_svg(void) {
    double x[50], y1[50], y2[50];
    for (int i = 0; i < 50; i++) {
        x[i] = i;
        y1[i] = exp(-0.1 * i) + 0.01;
        y2[i] = 0.5 + 0.01 * i;
    }
    y2[10] = NAN; /* breaks the line, must not appear as "nan" */
    struct fr_plot_series s[2] = {{"train <loss> & \"x\"", 50, x, y1}, {"val acc", 50, x, y2}};
    struct fr_plot p = {
        .title = "curves & <things>", .xlabel = "step", .ylabel = "loss", .markers = 1};
    char *svg = fr_plot_svg(&p, 2, s);
    CHECK(svg != NULL, "fr_plot_svg failed: %s", fr_last_error());
    if (!svg) return;
    int groups = 0, circles = 0, paths = 0;
    CHECK(balanced(svg, "g", &groups), "svg tags unbalanced");
    balanced(svg, "circle", &circles);
    balanced(svg, "path", &paths);
    CHECK(strstr(svg, "<svg") && strstr(svg, "</svg>"), "svg root missing");
    CHECK(strstr(svg, "train &lt;loss&gt; &amp; &quot;x&quot;") != NULL, "series name not escaped");
    CHECK(strstr(svg, "curves &amp; &lt;things&gt;") != NULL, "title not escaped");
    CHECK(strstr(svg, "val acc") != NULL, "second series name missing");
    CHECK(strstr(svg, "nan") == NULL && strstr(svg, "inf") == NULL, "non-finite leaked into svg");
    CHECK(paths == 2, "expected 2 series paths, got %d", paths);
    CHECK(circles == 99, "expected 99 markers (one NaN skipped), got %d", circles);
    CHECK(strstr(svg, "class=\"legend\"") != NULL, "legend missing");
    free(svg);

    /* log-y with non-positive values, one point, no series: still well-formed */
    double ly[3] = {0.0, 1e-3, 10.0}, lx[3] = {1, 2, 3};
    struct fr_plot_series s2 = {"log", 3, lx, ly};
    struct fr_plot p2 = {.title = "log", .log_y = 1};
    svg = fr_plot_svg(&p2, 1, &s2);
    CHECK(svg && balanced(svg, "g", &groups), "log svg malformed");
    CHECK(svg && strstr(svg, ">0.001<") && strstr(svg, ">10<"), "log ticks missing");
    free(svg);
    /* log-x: x in 1..4000 spans decades, x <= 0 skipped */
    double gx[4] = {0, 4, 40, 4000}, gy[4] = {1, 2, 3, 4};
    struct fr_plot_series s3 = {"logx", 4, gx, gy};
    struct fr_plot p3 = {.title = "logx", .xlabel = "L", .log_x = 1, .markers = 1};
    svg = fr_plot_svg(&p3, 1, &s3);
    CHECK(svg && balanced(svg, "g", &groups), "log-x svg malformed");
    CHECK(svg && strstr(svg, ">1<") && strstr(svg, ">10000<") && strstr(svg, "L (log)"),
          "log-x decade ticks and label");
    int c3 = 0;
    for (const char *q = svg; q && (q = strstr(q, "<circle")); q++)
        c3++;
    CHECK(c3 == 3, "log-x skips x <= 0: %d markers", c3);
    free(svg);
    struct fr_plot_series one = {"one", 1, lx, ly + 2};
    svg = fr_plot_svg(&p, 1, &one);
    CHECK(svg && balanced(svg, "g", &groups), "single-point svg malformed");
    free(svg);
    svg = fr_plot_svg(&p, 0, NULL);
    CHECK(svg && balanced(svg, "g", &groups), "empty svg malformed");
    free(svg);
    struct fr_plot_series bad = {"bad", 5, NULL, NULL};
    CHECK(fr_plot_svg(&p, 1, &bad) == NULL, "NULL arrays accepted");
}

static int write_fake(const char *dir, const char *name, const char *paper, double acc) {
    char path[512];
    double x[3] = {1, 2, 3}, y[3] = {0.9, 0.5, 0.3};
    struct fr_results *r = fr_results_new(name, name);
    if (!r) return -1;
    fr_results_set_str(r, "paper", paper);
    fr_results_set_str(r, "claim", "claim of <b>");
    fr_results_set_str(r, "findings", "A higher than <B>");
    fr_results_set_str(r, "command", "frugal repro x --quick");
    fr_results_set_seed(r, 7);
    fr_results_config_int(r, "epochs", 3);
    fr_results_metric(r, "test_acc", acc, "%");
    fr_results_series(r, "train loss", "epoch", "loss", 3, x, y);
    const char *cols[3] = {"budget", "acc", "ratio"};
    fr_results_table(r, "sweep", 3, cols);
    fr_results_table_row(r, "sweep", "20%", (double[]){55.5, 0.5});
    snprintf(path, sizeof path, "%s/%s/loss.svg", dir, name);
    struct fr_plot p = {.title = "loss", .xlabel = "epoch", .ylabel = "loss"};
    struct fr_plot_series s = {"train loss", 3, x, y};
    int rc = fr_plot_write(path, &p, 1, &s);
    fr_results_plot(r, "loss.svg");
    snprintf(path, sizeof path, "%s/%s/results.json", dir, name);
    if (rc == 0) rc = fr_results_write(r, path);
    fr_results_free(r);
    return rc;
}

static void test_results_and_report(void) {
    char dir[768];
    snprintf(dir, sizeof dir, "%s", check_tmp("results"));
    CHECK(mkdir(dir, 0700) == 0, "mkdir %s", dir);
    char path[1024], idx[1024];
    CHECK(write_fake(dir, "exp-a", "Paper A", 91.25) == 0, "write a: %s", fr_last_error());
    CHECK(write_fake(dir, "exp-b", "Paper B", NAN) == 0, "write b: %s", fr_last_error());
    /* someone else's results: its plot carries script; the page must not */
    snprintf(path, sizeof path, "%s/exp-b/loss.svg", dir);
    FILE *hf = fopen(path, "w");
    if (hf) {
        fputs("<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\">"
              "<script>alert(2)</script></svg>",
              hf);
        fclose(hf);
    }

    snprintf(path, sizeof path, "%s/exp-a/results.json", dir);
    struct fr_results *r = fr_results_read(path);
    CHECK(r != NULL, "read back: %s", fr_last_error());
    if (r) {
        double v = 0;
        const char *unit = NULL;
        CHECK(fr_results_get_metric(r, "test_acc", &v, &unit) == 0, "metric missing");
        CHECK(v == 91.25 && unit && strcmp(unit, "%") == 0, "metric %g %s", v, unit ? unit : "");
        CHECK(fr_results_get_metric(r, "nope", &v, &unit) == FR_ENOTFOUND, "absent metric found");
        const char *c = fr_results_get_str(r, "claim");
        CHECK(c && strcmp(c, "claim of <b>") == 0, "claim round trip");
        const char *commit = fr_results_get_str(r, "commit");
        CHECK(commit &&
                  (strlen(commit) == 40 || (strlen(commit) == 46 && strstr(commit, "-dirty")) ||
                   strcmp(commit, "unknown") == 0),
              "commit field: %s", commit ? commit : "(none)");
        CHECK(fr_results_get_str(r, "finished") != NULL, "finished timestamp");
        int64_t n = 0;
        const double *x = NULL, *y = NULL;
        CHECK(fr_results_get_series(r, "train loss", &n, &x, &y) == 0 && n == 3 && x[2] == 3 &&
                  y[1] == 0.5,
              "series round trip");
        fr_results_free(r);
    }
    snprintf(path, sizeof path, "%s/exp-b/results.json", dir);
    r = fr_results_read(path);
    if (r) {
        double v = 0;
        CHECK(fr_results_get_metric(r, "test_acc", &v, NULL) == 0 && isnan(v),
              "NaN -> null -> NaN");
        fr_results_free(r);
    }

    /* a malformed results.json becomes a section with an error, not a failure */
    snprintf(path, sizeof path, "%s/broken", dir);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/broken/results.json", dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("{\"schema\": \"frugal-results/1\", \"name\": [", f);
        fclose(f);
    }
    CHECK(fr_results_read(path) == NULL && fr_last_error()[0], "malformed json accepted");

    int nsec = 0;
    CHECK(fr_report_build(dir, NULL, idx, sizeof idx, &nsec) == 0, "report: %s", fr_last_error());
    CHECK(nsec == 3, "expected 3 sections, got %d", nsec);
    char *html = NULL;
    f = fopen(idx, "rb");
    CHECK(f != NULL, "index.html missing at %s", idx);
    if (f) {
        html = calloc(1, 1 << 20);
        if (html) fread(html, 1, (1 << 20) - 1, f);
        fclose(f);
    }
    if (html) {
        int secs = 0;
        CHECK(balanced(html, "section", &secs), "html tags unbalanced");
        CHECK(secs == 3, "expected 3 <section>, got %d", secs);
        CHECK(strstr(html, "id=\"exp-a\"") && strstr(html, "id=\"exp-b\""), "sections missing");
        CHECK(strstr(html, "Paper A") && strstr(html, "Paper B"), "papers missing");
        CHECK(strstr(html, "claim of &lt;b&gt;") != NULL, "claim not escaped");
        CHECK(strstr(html, "Findings (computed by the run):</b> A higher than &lt;B&gt;") != NULL,
              "the run's findings shown, escaped");
        CHECK(strstr(html, "91.25") != NULL, "measurement missing");
        CHECK(strstr(html, "frugal repro x --quick") != NULL, "command missing");
        CHECK(strstr(html, "<img alt=\"loss.svg\" src=\"data:image/svg+xml;base64,PD94bWwg") ||
                  strstr(html, "<img alt=\"loss.svg\" src=\"data:image/svg+xml;base64,PHN2Zy"),
              "plot not embedded as a data: image");
        CHECK(strstr(html, "<script") == NULL && strstr(html, "onload") == NULL,
              "a hostile plot's markup reached the page");
        CHECK(strstr(html, "could not read results") != NULL, "broken section missing");
        CHECK(strstr(html, "55.5") != NULL, "table row missing");
        /* sorted by paper: A before B */
        CHECK(strstr(html, "id=\"exp-a\"") < strstr(html, "id=\"exp-b\""), "order");
        free(html);
    }
    /* no results directory yet: a report that says so */
    char empty[800];
    snprintf(empty, sizeof empty, "%s/none/yet", dir);
    CHECK(fr_report_build(empty, NULL, idx, sizeof idx, &nsec) == 0 && nsec == 0,
          "report of a missing directory: %s", fr_last_error());
    f = fopen(idx, "rb");
    char buf[4096] = "";
    if (f) {
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        buf[got] = 0;
        fclose(f);
    }
    CHECK(strstr(buf, "No results yet") != NULL, "empty report says so");
    /* a directory that cannot be made is an error */
    snprintf(empty, sizeof empty, "%s/exp-a/results.json/sub", dir);
    CHECK(fr_report_build(empty, NULL, idx, sizeof idx, NULL) != 0,
          "uncreatable directory accepted");
}

static void test_machine(void) {
    struct fr_machine m;
    fr_machine_probe(&m);
    CHECK(m.cores >= 1, "cores %d", m.cores);
    CHECK(m.isa && m.isa[0], "isa");
    CHECK(m.cpu[0] != '\0', "cpu");
    CHECK(strcmp(m.version, fr_version()) == 0, "version");
}

/* Not a terminal: plain lines every `every` steps, the last step, and one
 * per epoch end; no carriage returns. */
static void test_progress(void) {
    FILE *f = tmpfile();
    CHECK(f != NULL, "tmpfile");
    if (!f) return;
    struct fr_progress p;
    fr_progress_init(&p, f, 10);
    CHECK(p.tty == 0, "a file is not a tty");
    for (int64_t s = 1; s <= 40; s++) {
        fr_progress_update(&p, s <= 20 ? 1 : 2, s, 40, 1.0 / (double)s, 0.01, 0, 0);
        if (s % 20 == 0) fr_progress_update(&p, s / 20, s, 40, 0.5, 0, 1, s == 20 ? 0.8125 : -1);
    }
    fr_progress_done(&p);
    rewind(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    int lines = 0;
    for (char *c = buf; *c; c++)
        lines += *c == '\n';
    CHECK(lines == 6, "expected 4 step lines + 2 epoch lines, got %d:\n%s", lines, buf);
    CHECK(strchr(buf, '\r') == NULL, "carriage return in plain mode");
    CHECK(strstr(buf, "step 10/40") && strstr(buf, "step 40/40"), "step lines: %s", buf);
    CHECK(strstr(buf, "val acc 81.25%") != NULL, "epoch line with val acc: %s", buf);
    CHECK(strstr(buf, "epoch 2 done") && !strstr(strstr(buf, "epoch 2 done"), "val acc"),
          "no val acc when negative: %s", buf);
}

/* Intervals against hand computations, the bootstrap against the normal
 * approximation, verdicts on each side of 0, and the round trip through
 * results.json and the report. */
static void test_stats(void) {
    struct fr_interval iv;
    double x3[3] = {1, 2, 3};
    CHECK(fr_interval_t95(x3, 3, &iv) == 0 && iv.n == 3 && iv.mean == 2 &&
              fabs(iv.lo - (2 - 4.3027 / sqrt(3.0))) < 1e-9 &&
              fabs(iv.hi - (2 + 4.3027 / sqrt(3.0))) < 1e-9 && !strcmp(iv.method, "t95"),
          "t95 of 1,2,3: [%g, %g]", iv.lo, iv.hi);
    CHECK(fr_interval_t95(x3, 1, &iv) == 0 && iv.mean == 1 && isnan(iv.lo) && isnan(iv.hi),
          "one run has no interval");
    double bad[2] = {1, NAN};
    CHECK(fr_interval_t95(bad, 2, &iv) == FR_EINVAL, "a NaN run is an error");
    CHECK(fr_interval_t95(x3, 0, &iv) == FR_EINVAL, "no runs is an error");
    /* t quantiles: the table and the expansion beyond it (exact values) */
    static const int df[5] = {1, 30, 31, 100, 1000};
    static const double want[5] = {12.7062, 2.0423, 2.0395, 1.9840, 1.9623};
    for (int i = 0; i < 5; i++)
        CHECK(fabs(fr_t975(df[i]) - want[i]) < 2e-4, "t975(%d) = %.5f, want %.4f", df[i],
              fr_t975(df[i]), want[i]);
    /* bootstrap of many normal values: close to mean +- 1.96 sd / sqrt(n) */
    enum { N = 2000 };
    static double xs[N];
    struct fr_rng rng;
    fr_rng_seed(&rng, 11);
    double m = 0, v = 0;
    for (int i = 0; i < N; i++)
        xs[i] = 5 + 2 * fr_rng_normal(&rng), m += xs[i] / N;
    for (int i = 0; i < N; i++)
        v += (xs[i] - m) * (xs[i] - m) / (N - 1);
    double half = 1.96 * sqrt(v / N);
    struct fr_interval bs, bs2;
    CHECK(fr_interval_bootstrap95(xs, N, 2000, 3, &bs) == 0 && fabs(bs.mean - m) < 1e-12 &&
              fabs((bs.hi - bs.lo) / 2 - half) < 0.1 * half && bs.lo < m && m < bs.hi,
          "bootstrap [%g, %g] vs normal +-%g", bs.lo, bs.hi, half);
    CHECK(fr_interval_bootstrap95(xs, N, 2000, 3, &bs2) == 0 && bs2.lo == bs.lo && bs2.hi == bs.hi,
          "bootstrap is reproducible for a seed");
    double same[4] = {7, 7, 7, 7};
    CHECK(fr_interval_bootstrap95(same, 4, 100, 1, &bs) == 0 && bs.lo == 7 && bs.hi == 7,
          "constant values: a zero-width interval");
    CHECK(fr_interval_bootstrap95(same, 4, 10, 1, &bs) == FR_EINVAL, "too few resamples");
    /* verdicts */
    double a[4] = {1.0, 1.1, 0.9, 1.05}, b[4] = {0.5, 0.6, 0.45, 0.5}, c[4] = {1.2, 0.8, 1.0, 1.0};
    struct fr_interval d;
    char txt[128];
    CHECK(fr_interval_diff_t95(a, b, 4, &d) == 0 && fr_verdict_of(&d, 1) == FR_VERDICT_A &&
              fr_verdict_of(&d, 0) == FR_VERDICT_B,
          "a clear difference decides");
    CHECK(!strcmp(fr_verdict_text(fr_verdict_of(&d, 1), "h2o", "local", txt, sizeof txt),
                  "h2o better than local"),
          "verdict text: %s", txt);
    CHECK(fr_interval_diff_t95(a, c, 4, &d) == 0 && fr_verdict_of(&d, 1) == FR_VERDICT_SAME &&
              strstr(fr_verdict_text(FR_VERDICT_SAME, "a", "c", txt, sizeof txt),
                     "no measurable difference"),
          "an interval across 0: no measurable difference");
    CHECK(fr_interval_diff_t95(a, b, 1, &d) == 0 && fr_verdict_of(&d, 1) == FR_VERDICT_UNKNOWN,
          "one run: no verdict");
    /* round trip and the report's "mean [lo, hi]" */
    char dir[800], path[900], idx[900];
    snprintf(dir, sizeof dir, "%s", check_tmp("stats"));
    struct fr_results *r = fr_results_new("stats", "intervals");
    fr_interval_t95(x3, 3, &iv);
    CHECK(fr_results_metric_ci(r, "loss", &iv, "nats") == 0, "metric with an interval");
    snprintf(path, sizeof path, "%s/stats/results.json", dir);
    CHECK(fr_results_write(r, path) == 0, "write: %s", fr_last_error());
    fr_results_free(r);
    struct fr_results *back = fr_results_read(path);
    double val = 0;
    CHECK(back && fr_results_get_metric(back, "loss", &val, NULL) == 0 && val == 2,
          "the mean reads back as the value");
    fr_results_free(back);
    CHECK(fr_report_build(dir, NULL, idx, sizeof idx, NULL) == 0, "report: %s", fr_last_error());
    FILE *f = fopen(idx, "rb");
    static char html[1 << 16];
    size_t got = f ? fread(html, 1, sizeof html - 1, f) : 0;
    html[got] = 0;
    if (f) fclose(f);
    CHECK(strstr(html, "2 [-0.4842, 4.484] <small>(n 3)</small>") != NULL,
          "the report shows the interval");

    /* a committed summary: no plot files, charts drawn from its series, its
     * own section beside this machine's run of the same experiment */
    char committed[800], empty_out[800];
    snprintf(committed, sizeof committed, "%s", check_tmp("committed"));
    snprintf(empty_out, sizeof empty_out, "%s", check_tmp("out-fresh"));
    CHECK(mkdir(committed, 0700) == 0, "mkdir");
    CHECK(write_fake(dir, "exp-c", "Paper C", 80.5) == 0, "write c: %s", fr_last_error());
    snprintf(path, sizeof path, "%s/exp-c/results.json", dir);
    struct fr_results *rc3 = fr_results_read(path);
    snprintf(path, sizeof path, "%s/exp-c.json", committed);
    CHECK(rc3 && fr_results_save_summary(rc3, path) == 0, "summary: %s", fr_last_error());
    fr_results_free(rc3);
    struct fr_results *sum = fr_results_read(path);
    int64_t n = 0;
    const double *sx, *sy;
    CHECK(sum && fr_results_get_str(sum, "summary") &&
              fr_results_get_series(sum, "train loss", &n, &sx, &sy) == 0 && n == 3,
          "the summary keeps the series");
    fr_results_free(sum);
    int nsec = 0;
    CHECK(fr_report_build(empty_out, committed, idx, sizeof idx, &nsec) == 0 && nsec == 1,
          "report of a fresh clone from committed summaries only: %d sections (%s)", nsec,
          fr_last_error());
    f = fopen(idx, "rb");
    got = f ? fread(html, 1, sizeof html - 1, f) : 0;
    html[got] = 0;
    if (f) fclose(f);
    CHECK(strstr(html, "the committed full run") && strstr(html, "80.5") &&
              strstr(html, "<img alt=\"series\" src=\"data:image/svg+xml;base64,"),
          "committed section with a chart from its series");
    CHECK(fr_report_build(dir, committed, idx, sizeof idx, &nsec) == 0, "report of both: %s",
          fr_last_error());
    f = fopen(idx, "rb");
    got = f ? fread(html, 1, sizeof html - 1, f) : 0;
    html[got] = 0;
    if (f) fclose(f);
    CHECK(strstr(html, "id=\"exp-c-committed\"") && strstr(html, "id=\"exp-c\"") &&
              strstr(html, "id=\"exp-c-committed\"") < strstr(html, "id=\"exp-c\""),
          "the committed run and this machine's run both shown, committed first");
}

/* Docs blocks regenerated from a committed summary; a missing table is an
 * error that leaves the file alone. */
static void test_docs(void) {
    char dir[800], md[900], path[900];
    snprintf(dir, sizeof dir, "%s", check_tmp("docs-results"));
    CHECK(mkdir(dir, 0700) == 0, "mkdir");
    struct fr_results *r = fr_results_new("exp", "exp");
    const char *cols[3] = {"policy", "ppl", "top-1 | %"};
    fr_results_table(r, "t", 3, cols);
    fr_results_table_row(r, "t", "h2o", (double[]){7.25, 91});
    fr_results_table(r, "fine-tune length - long", 3, cols);
    fr_results_table_row(r, "fine-tune length - long", "x", (double[]){1, 2});
    struct fr_interval iv = {2.5, 2.0, 3.0, 3, "t95"};
    fr_results_metric_ci(r, "loss", &iv, "nats");
    struct fr_interval same = {7, 7, 7, 5, "t95"}; /* every seed gave 7 */
    fr_results_metric_ci(r, "width", &same, "");
    snprintf(path, sizeof path, "%s/exp.json", dir);
    CHECK(fr_results_save_summary(r, path) == 0, "summary: %s", fr_last_error());
    fr_results_free(r);
    snprintf(md, sizeof md, "%s", check_tmp("doc.md"));
    FILE *f = fopen(md, "w");
    fputs("# Doc\n\ntext before\n<!-- results: exp t -->\nstale\n<!-- end results -->\n"
          "between\n<!-- results: exp metrics -->\n<!-- end results -->\nafter\n"
          "<!-- results: exp fine-tune length - long -->\n<!-- end results -->\n",
          f);
    fclose(f);
    int n = 0;
    CHECK(fr_report_docs(dir, md, &n) == 0 && n == 3,
          "three blocks (a table name with '-'): %d (%s)", n, fr_last_error());
    static char buf[8192];
    f = fopen(md, "rb");
    size_t got = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[got] = 0;
    if (f) fclose(f);
    CHECK(strstr(buf, "| policy | ppl | top-1 \\| % |\n|---|---|---|\n| h2o | 7.25 | 91 |") &&
              strstr(buf, "| loss | 2.5 [2, 3] (n 3) | nats |") && !strstr(buf, "stale") &&
              strstr(buf, "text before") && strstr(buf, "between") && strstr(buf, "after") &&
              strstr(buf, "| x | 1 | 2 |") && strstr(buf, "| width | 7 [7, 7] (n 5, all equal) |"),
          "blocks regenerated, the rest kept:\n%s", buf);
    CHECK(fr_report_docs(dir, md, &n) == 0, "idempotent");
    f = fopen(md, "a");
    fputs("<!-- results: exp nosuch -->\n<!-- end results -->\n", f);
    fclose(f);
    CHECK(fr_report_docs(dir, md, &n) == FR_ENOTFOUND && strstr(fr_last_error(), "nosuch"),
          "a missing table is an error: %s", fr_last_error());
}

int main(void) {
    test_docs();
    test_stats();
    test_progress();
    test_svg();
    test_results_and_report();
    test_machine();
    return check_report("test_report");
}
