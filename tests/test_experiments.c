/* test_experiments.c: every registered experiment runs its tiny plan (a
 * smoke test of seconds, through the same code as the quick and full
 * plans) into this test's own directory, and its results.json must follow
 * the schema the report reads:
 *   - name (the experiment's), title, command, seed, paper when the
 *     registry names one; started/finished, machine, commit (written by
 *     fr_results_write);
 *   - config: an object of strings and numbers;
 *   - metrics: an object of {value: number or null, unit: string}, at least
 *     one finite value;
 *   - series: a list of {name, xlabel, ylabel, x, y}, x and y numbers (or
 *     null) of one length;
 *   - tables: an object of {columns: strings, rows: [label, numbers...]}
 *     with one value per column;
 *   - plots: file names that exist beside results.json and are SVG.
 * The registry itself: names unique, every plan present, lookups by name.
 * Without Fashion-MNIST (the experiments that train on it need it) the
 * test is skipped. FRUGAL_TEST_EXPERIMENTS=a,b runs only those tiny plans
 * (the sanitizer pass of `make test` runs the cheap ones: under ASan the
 * training-heavy plans take minutes each).
 */
#include "check.h"

#include "frugal/experiments/experiment.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/stat.h>

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b) b[n] = 0;
    fclose(f);
    return b;
}

static int is_num_or_null(const cJSON *v) {
    return cJSON_IsNumber(v) || cJSON_IsNull(v);
}

static void check_schema(const struct fr_experiment *e, const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/results.json", dir, e->name);
    char *text = slurp(path);
    CHECK(text != NULL, "%s: %s was written", e->name, path);
    if (!text) return;
    cJSON *j = cJSON_Parse(text);
    free(text);
    CHECK(j != NULL, "%s: results.json parses", e->name);
    if (!j) return;
    const cJSON *name = cJSON_GetObjectItem(j, "name");
    CHECK(cJSON_IsString(name) && !strcmp(name->valuestring, e->name), "%s: name", e->name);
    static const char *const strs[] = {"title", "command", "started", "finished", "commit"};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        CHECK(cJSON_IsString(cJSON_GetObjectItem(j, strs[i])), "%s: %s is a string", e->name,
              strs[i]);
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "seed")), "%s: seed", e->name);
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(j, "machine")), "%s: machine", e->name);
    if (strcmp(e->paper, "baseline") != 0)
        CHECK(cJSON_IsString(cJSON_GetObjectItem(j, "paper")) &&
                  cJSON_IsString(cJSON_GetObjectItem(j, "claim")),
              "%s: a paper's reproduction states the paper and its claim", e->name);

    const cJSON *cfg = cJSON_GetObjectItem(j, "config"), *it;
    CHECK(cJSON_IsObject(cfg), "%s: config is an object", e->name);
    cJSON_ArrayForEach(it, cfg) CHECK(cJSON_IsString(it) || cJSON_IsNumber(it) || cJSON_IsNull(it),
                                      "%s: config %s is a string or number", e->name, it->string);

    const cJSON *metrics = cJSON_GetObjectItem(j, "metrics");
    int finite = 0;
    CHECK(cJSON_IsObject(metrics), "%s: metrics is an object", e->name);
    cJSON_ArrayForEach(it, metrics) {
        const cJSON *v = cJSON_GetObjectItem(it, "value"), *u = cJSON_GetObjectItem(it, "unit");
        CHECK(is_num_or_null(v) && cJSON_IsString(u), "%s: metric '%s' has a value and a unit",
              e->name, it->string);
        finite += cJSON_IsNumber(v) && isfinite(v->valuedouble);
    }
    CHECK(finite > 0, "%s: at least one finite metric", e->name);

    const cJSON *series = cJSON_GetObjectItem(j, "series");
    CHECK(series == NULL || cJSON_IsArray(series), "%s: series is a list", e->name);
    cJSON_ArrayForEach(it, series) {
        const cJSON *x = cJSON_GetObjectItem(it, "x"), *y = cJSON_GetObjectItem(it, "y");
        int ok = cJSON_IsString(cJSON_GetObjectItem(it, "name")) &&
                 cJSON_IsString(cJSON_GetObjectItem(it, "xlabel")) &&
                 cJSON_IsString(cJSON_GetObjectItem(it, "ylabel")) && cJSON_IsArray(x) &&
                 cJSON_IsArray(y) && cJSON_GetArraySize(x) == cJSON_GetArraySize(y);
        const cJSON *v;
        cJSON_ArrayForEach(v, x) ok &= is_num_or_null(v);
        cJSON_ArrayForEach(v, y) ok &= is_num_or_null(v);
        CHECK(ok, "%s: series entry is {name, xlabel, ylabel, x, y} of one length", e->name);
    }

    const cJSON *tables = cJSON_GetObjectItem(j, "tables");
    CHECK(tables == NULL || cJSON_IsObject(tables), "%s: tables is an object", e->name);
    cJSON_ArrayForEach(it, tables) {
        const cJSON *cols = cJSON_GetObjectItem(it, "columns"),
                    *rows = cJSON_GetObjectItem(it, "rows");
        int ok = cJSON_IsArray(cols) && cJSON_IsArray(rows), ncol = cJSON_GetArraySize(cols);
        const cJSON *row, *v;
        cJSON_ArrayForEach(v, cols) ok &= cJSON_IsString(v);
        cJSON_ArrayForEach(row, rows) {
            ok &= cJSON_IsArray(row) && cJSON_GetArraySize(row) == ncol &&
                  cJSON_IsString(cJSON_GetArrayItem(row, 0));
            int k = 0;
            cJSON_ArrayForEach(v, row) ok &= k++ == 0 || is_num_or_null(v);
        }
        CHECK(ok, "%s: table '%s' has string columns and rows of a label and numbers", e->name,
              it->string);
    }

    const cJSON *plots = cJSON_GetObjectItem(j, "plots");
    CHECK(plots == NULL || cJSON_IsArray(plots), "%s: plots is a list", e->name);
    cJSON_ArrayForEach(it, plots) {
        char pp[1200];
        snprintf(pp, sizeof pp, "%s/%s/%s", dir, e->name,
                 cJSON_IsString(it) ? it->valuestring : "");
        char *svg = cJSON_IsString(it) ? slurp(pp) : NULL;
        CHECK(svg && strstr(svg, "<svg"), "%s: plot %s exists and is SVG", e->name, pp);
        free(svg);
    }
    cJSON_Delete(j);
}

int main(void) {
    struct stat st;
    if (stat(FR_FMNIST_DIR, &st) != 0 && !getenv("FRUGAL_FMNIST"))
        return check_skip("test_experiments", "Fashion-MNIST not installed (" FR_FMNIST_DIR ")");
    fr_threads_set(2);
    int n = fr_experiment_count();
    CHECK(n >= 7, "the registry holds the reproductions (%d)", n);
    CHECK(fr_experiment_at(-1) == NULL && fr_experiment_at(n) == NULL, "out of range is NULL");
    CHECK(fr_experiment_find("no-such-thing") == NULL, "unknown name is NULL");
    for (int i = 0; i < n; i++) {
        const struct fr_experiment *e = fr_experiment_at(i);
        CHECK(fr_experiment_find(e->name) == e, "%s found by name", e->name);
        for (int k = 0; k < i; k++)
            CHECK(strcmp(fr_experiment_at(k)->name, e->name) != 0, "%s registered once", e->name);
        for (int s = 0; s < FR_EXP_NSIZES; s++)
            CHECK(e->plans[s] != NULL, "%s has a %s plan", e->name,
                  fr_exp_size_name((enum fr_exp_size)s));
        CHECK(e->about && *e->about && e->paper && *e->paper, "%s: about and paper", e->name);
    }
    /* bad options are refused before anything runs */
    struct fr_exp_opts o;
    struct fr_exp_outcome out;
    fr_exp_opts_defaults(&o);
    o.size = (enum fr_exp_size)7;
    CHECK(fr_experiment_run(fr_experiment_at(0), &o, &out) != 0, "an unknown plan size is refused");
    fr_exp_opts_defaults(&o);
    o.out = "";
    CHECK(fr_experiment_run(fr_experiment_at(0), &o, &out) != 0, "an empty output root is refused");

    const char *dir = check_tmpdir();
    const char *only = getenv("FRUGAL_TEST_EXPERIMENTS");
    for (int i = 0; i < n; i++) {
        const struct fr_experiment *e = fr_experiment_at(i);
        if (only && *only) {
            char list[512];
            snprintf(list, sizeof list, ",%s,", only);
            char want[128];
            snprintf(want, sizeof want, ",%s,", e->name);
            if (!strstr(list, want)) {
                printf("%-20s tiny plan not run (FRUGAL_TEST_EXPERIMENTS=%s)\n", e->name, only);
                continue;
            }
        }
        fr_exp_opts_defaults(&o);
        o.size = FR_EXP_TINY;
        o.out = dir;
        o.threads = 2;
        o.command = "test_experiments";
        o.data_dir = getenv("FRUGAL_FMNIST");
        double t0 = fr_seconds();
        int rc = fr_experiment_run(e, &o, &out);
        CHECK(rc == 0, "%s: tiny plan runs: %s", e->name, fr_last_error());
        printf("%-20s tiny plan %.1f s\n", e->name, fr_seconds() - t0);
        if (rc) continue;
        char want[1024];
        snprintf(want, sizeof want, "%s/%s/results.json", dir, e->name);
        CHECK(!strcmp(out.results, want), "%s: outcome names %s (%s)", e->name, want, out.results);
        check_schema(e, dir);
    }
    /* essential-sparsity reads a finished image part back when its
     * language-model or abrupt part did not finish: drop the run's "total
     * time" (what only a finished run has) and run again */
    char path[1024];
    snprintf(path, sizeof path, "%s/essential-sparsity/results.json", dir);
    char *text = slurp(path);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (root) {
        cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "metrics"),
                                                "total time");
        char *mod = cJSON_Print(root);
        FILE *f = fopen(path, "w");
        if (f && mod) fputs(mod, f);
        if (f) fclose(f);
        free(mod);
        cJSON_Delete(root);
        fr_exp_opts_defaults(&o);
        o.size = FR_EXP_TINY;
        o.out = dir;
        o.threads = 2;
        o.data_dir = getenv("FRUGAL_FMNIST");
        int rc = fr_experiment_run(fr_experiment_find("essential-sparsity"), &o, &out);
        CHECK(rc == 0 && strstr(out.summary, "image part read back"),
              "essential-sparsity reads its image part back (%d): %s", rc, out.summary);
        text = slurp(path);
        CHECK(text && strstr(text, "\"image part\"") && strstr(text, "\"total time\""),
              "the resumed results say where the image part came from and finish");
        free(text);
        check_schema(fr_experiment_find("essential-sparsity"), dir);
    }
    return check_report("test_experiments");
}
