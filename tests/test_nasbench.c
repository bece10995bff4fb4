/* test_nasbench.c: the zero-shot NAS ground-truth table (methods/nas.h):
 * the sample is seeded, distinct, unique cells only, and a larger sample
 * extends a smaller one; rows round-trip through the CSV; a killed writer's
 * partial line is cut before the next append and ignored by the reader; a
 * table of another recipe is refused; a malformed row is an error naming
 * its line; two processes appending at once lose no row; one tiny cell
 * trains to a sane row (counts equal the model's). */
#include "check.h"
#include "frugal/data.h"
#include "frugal/methods/nas.h"
#include "frugal/models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void sample(void) {
    int64_t a[300], b[100];
    CHECK(fr_nasbench_sample(7, a, 300) == 0 && fr_nasbench_sample(7, b, 100) == 0, "%s",
          fr_last_error());
    CHECK(!memcmp(a, b, sizeof b), "a larger sample must extend a smaller one");
    int64_t c[100];
    fr_nasbench_sample(8, c, 100);
    CHECK(memcmp(b, c, sizeof b) != 0, "another seed, another sample");
    int distinct = 1, unique = 1;
    char k1[FR_NB201_KEY_MAX], k2[FR_NB201_KEY_MAX];
    for (int i = 0; i < 300; i++)
        for (int j = 0; j < i; j++) {
            distinct &= a[i] != a[j];
            if (i < 60) { /* no two sampled cells are isomorphic */
                int o1[6], o2[6];
                fr_nb201_ops(a[i], o1), fr_nb201_ops(a[j], o2);
                fr_nb201_unique_key(o1, k1, sizeof k1), fr_nb201_unique_key(o2, k2, sizeof k2);
                unique &= strcmp(k1, k2) != 0;
            }
        }
    CHECK(distinct && unique, "sampled cells distinct (%d) and of distinct classes (%d)", distinct,
          unique);
    CHECK(fr_nasbench_sample(1, a, 6467) == FR_EINVAL, "more than 6466 must fail");
}

static struct fr_nasbench_row row_of(int64_t cell, uint64_t seed) {
    return (struct fr_nasbench_row){cell, seed, 50.5, 49.25, 1000 + cell, 2000 + cell, 3.5};
}

static void table(void) {
    const char *path = check_tmp("table.csv");
    unlink(path);
    struct fr_nasbench_row *rows = NULL;
    int64_t n = -1;
    CHECK(fr_nasbench_read(path, &rows, &n, NULL, 0) == FR_ENOTFOUND, "missing table");
    struct fr_nasbench_row r0 = row_of(0, 1);
    CHECK(fr_nasbench_append(path, "recipe A", &r0) == 0, "append to a new table: %s",
          fr_last_error());
    struct fr_nasbench_row r1 = row_of(15624, 1), r2 = row_of(123, 2);
    CHECK(fr_nasbench_append(path, "recipe A", &r1) == 0 &&
              fr_nasbench_append(path, "recipe A", &r2) == 0,
          "append: %s", fr_last_error());
    char recipe[64];
    CHECK(fr_nasbench_read(path, &rows, &n, recipe, sizeof recipe) == 0 && n == 3 &&
              !strcmp(recipe, "recipe A"),
          "read back: %lld rows, recipe '%s': %s", (long long)n, recipe, fr_last_error());
    if (n == 3)
        CHECK(rows[1].cell == 15624 && rows[1].seed == 1 && rows[1].val_acc == 50.5 &&
                  rows[1].test_acc == 49.25 && rows[1].params == 16624 && rows[1].flops == 17624 &&
                  rows[2].cell == 123 && rows[2].seed == 2,
              "row values");
    free(rows);
    /* a killed writer's partial line: ignored by the reader, cut by the
     * next append */
    FILE *f = fopen(path, "a");
    fputs("77,|none~0|+|no", f);
    fclose(f);
    CHECK(fr_nasbench_read(path, &rows, &n, NULL, 0) == 0 && n == 3, "partial line ignored");
    free(rows);
    struct fr_nasbench_row r3 = row_of(77, 1);
    CHECK(fr_nasbench_append(path, "recipe A", &r3) == 0, "append after a partial line");
    CHECK(fr_nasbench_read(path, &rows, &n, NULL, 0) == 0 && n == 4 && rows[3].cell == 77,
          "the partial line was cut: %lld rows: %s", (long long)n, fr_last_error());
    free(rows);
    /* another recipe is refused */
    CHECK(fr_nasbench_append(path, "recipe B", &r3) == FR_EINVAL &&
              strstr(fr_last_error(), "another recipe"),
          "recipe mismatch: %s", fr_last_error());
    /* malformed rows */
    static const char *const BAD[] = {
        "5,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1,50,50,1,1,1\n", /* cell 5 != 0 */
        "0,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1,nan,50,1,1,1\n",
        "0,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1,150,50,1,1,1\n",
        "0,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1,50,50,1,1\n", "x,y\n"};
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        const char *p2 = check_tmp("bad.csv");
        f = fopen(p2, "w");
        fprintf(f, "# recipe: r\ncell,arch,seed,val_acc,test_acc,params,flops,train_seconds\n%s",
                BAD[i]);
        fclose(f);
        CHECK(fr_nasbench_read(p2, &rows, &n, NULL, 0) == FR_EFORMAT &&
                  strstr(fr_last_error(), ":3: not a table row"),
              "bad row %zu: %s", i, fr_last_error());
    }
    /* two processes appending at once lose no row */
    const char *p3 = check_tmp("shared.csv");
    unlink(p3);
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 200; i++) {
            struct fr_nasbench_row r = row_of(i, 1);
            if (fr_nasbench_append(p3, "recipe A", &r)) _exit(1);
        }
        _exit(0);
    }
    int ok = 1;
    for (int i = 0; i < 200; i++) {
        struct fr_nasbench_row r = row_of(1000 + i, 1);
        ok &= fr_nasbench_append(p3, "recipe A", &r) == 0;
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(ok && WIFEXITED(st) && WEXITSTATUS(st) == 0, "concurrent appends failed");
    CHECK(fr_nasbench_read(p3, &rows, &n, NULL, 0) == 0 && n == 400, "%lld of 400 rows: %s",
          (long long)n, fr_last_error());
    free(rows);
}

/* A synthetic two-class task and one tiny cell: a sane row. */
static void train_one(void) {
    struct fr_dataset tr = {.n = 300, .C = 1, .H = 28, .W = 28, .nclass = 10};
    tr.x = calloc((size_t)tr.n * 784, sizeof(float));
    tr.y = calloc((size_t)tr.n, sizeof(int32_t));
    for (int64_t i = 0; i < tr.n; i++) {
        tr.y[i] = (int32_t)(i % 2);
        for (int p = 0; p < 784; p++) /* class 1: bright left half */
            tr.x[i * 784 + p] = (float)(((p % 28) < 14) == (tr.y[i] == 1)) + 0.1f * (float)(p % 3);
    }
    struct fr_nasbench_recipe r;
    fr_nasbench_recipe_defaults(&r);
    r.train = 200, r.val = 100, r.test = 100, r.batch = 20, r.epochs = 3, r.threads = 1;
    r.lr = 1e-2;
    struct fr_nasbench_row row;
    const char *cell = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|avg_pool_3x3~1|"
                       "nor_conv_1x1~2|";
    int ops[6];
    fr_nb201_parse(cell, ops);
    int64_t idx = fr_nb201_index(ops);
    CHECK(fr_nasbench_train(&r, &tr, &tr, idx, 3, &row) == 0, "train: %s", fr_last_error());
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    memcpy(mc.nb201.ops, ops, sizeof ops);
    mc.nb201.c = 8, mc.nb201.n = 1;
    struct fr_model *m = fr_model_new("nb201", &mc, 1);
    int64_t dense = 0, sparse = 0;
    fr_model_flops(m, &dense, &sparse);
    CHECK(row.cell == idx && row.seed == 3 && row.params == fr_params_count_trainable(&m->params) &&
              row.flops == dense && row.train_seconds > 0,
          "row fields");
    CHECK(row.val_acc > 90 && row.test_acc > 90, "an easy task learnt: val %.1f test %.1f",
          row.val_acc, row.test_acc);
    fr_model_free(m);
    r.train = 290;
    CHECK(fr_nasbench_train(&r, &tr, &tr, idx, 1, &row) == FR_EINVAL, "too few images must fail");
    free(tr.x), free(tr.y);
}

int main(void) {
    sample();
    table();
    train_one();
    return check_report("test_nasbench");
}
