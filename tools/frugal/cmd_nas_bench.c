/* cmd_nas_bench.c: `frugal nas-bench build`: the zero-shot NAS ground truth
 * (methods/nas.h). Trains a seeded sample of unique NAS-Bench-201 cells with
 * one fixed short recipe and appends each to a CSV table; the first
 * --noise-cells of the sample also with seeds 2..--noise-seeds (the label
 * noise: the ceiling on any proxy's correlation). Resumable (rows already in
 * the table are skipped; a killed build loses at most the cell in training)
 * and parallel: --jobs J --job K runs every J-th item from the K-th (start
 * J processes), and under mpirun each rank takes its share. */
#include "args.h"
#include "cmd.h"

#include "frugal/clock.h"
#include "frugal/data.h"
#include "frugal/dist.h"
#include "frugal/methods/nas.h"
#include "frugal/models.h"
#include "frugal/report.h"
#include "frugal/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ACTIONS[] = {"build", NULL};

/* Whether (cell, seed) is in rows. */
static int have(const struct fr_nasbench_row *rows, int64_t n, int64_t cell, uint64_t seed) {
    for (int64_t i = 0; i < n; i++)
        if (rows[i].cell == cell && rows[i].seed == seed) return 1;
    return 0;
}

int cmd_nas_bench(int argc, char **argv) {
    struct fr_nasbench_recipe r;
    fr_nasbench_recipe_defaults(&r);
    const char *table = "data/nasbench-fmnist.csv", *data_dir = DEFAULT_DATA_DIR;
    int64_t cells = 500, noise_cells = 50, noise_seeds = 3, sample_seed = 20230701, jobs = 1,
            job = 0, limit = 0, c = r.c, n = r.n, train = r.train, val = r.val, test = r.test,
            epochs = r.epochs, batch = r.batch, threads = r.threads;
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "table", .type = ARG_STR, .dst = &table, .help = "the CSV table to extend"},
        {.name = "cells", .type = ARG_INT, .dst = &cells, .min = 1, .max = 6466,
         .help = "unique cells in the sample (seed 1 each)"},
        {.name = "noise-cells", .type = ARG_INT, .dst = &noise_cells, .max = 6466,
         .help = "the sample's first N cells are also trained with seeds 2..--noise-seeds"},
        {.name = "noise-seeds", .type = ARG_INT, .dst = &noise_seeds, .min = 1, .max = 100,
         .help = "seeds per noise cell"},
        {.name = "sample-seed", .type = ARG_INT, .dst = &sample_seed, .max = 1e18,
         .help = "seed of the sample's permutation of the 6466 unique cells"},
        {.name = "jobs", .type = ARG_INT, .dst = &jobs, .min = 1, .max = 4096,
         .help = "processes sharing the build (under mpirun: the ranks)"},
        {.name = "job", .type = ARG_INT, .dst = &job, .max = 4095,
         .help = "this process's share, 0..jobs-1 (under mpirun: the rank)"},
        {.name = "limit", .type = ARG_INT, .dst = &limit, .max = 1e9,
         .help = "stop after training this many rows (0 = until the sample is done)"},
        {.name = "cell-channels", .type = ARG_INT, .dst = &c, .min = 1, .max = 4096,
         .help = "recipe: the network's first-stage channels C"},
        {.name = "cells-per-stage", .type = ARG_INT, .dst = &n, .min = 1, .max = 64,
         .help = "recipe: cells per stage N"},
        {.name = "train-images", .type = ARG_INT, .dst = &train, .min = 1, .max = 59999,
         .help = "recipe: train on training images 0..N-1"},
        {.name = "val-images", .type = ARG_INT, .dst = &val, .min = 1, .max = 59999,
         .help = "recipe: validate on the next N training images"},
        {.name = "test-images", .type = ARG_INT, .dst = &test, .max = 10000,
         .help = "recipe: test on the first N test images (0 = all)"},
        {.name = "epochs", .type = ARG_INT, .dst = &epochs, .min = 1, .max = 1000,
         .help = "recipe: epochs"},
        {.name = "batch", .type = ARG_INT, .dst = &batch, .min = 1, .max = 65536,
         .help = "recipe: batch size"},
        {.name = "lr", .type = ARG_DOUBLE, .dst = &r.lr, .max = 10, .open_min = 1,
         .help = "recipe: AdamW peak learning rate (cosine to 0)"},
        {.name = "wd", .type = ARG_DOUBLE, .dst = &r.wd, .max = 1,
         .help = "recipe: decoupled weight decay"},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .min = 1, .max = 256,
         .help = "recipe: threads per process (results are bitwise reproducible per count)"},
        {.name = "data-dir", .type = ARG_STR, .dst = &data_dir,
         .help = "directory with Fashion-MNIST's IDX .gz files"},
    };
    /* clang-format on */
    struct arg_cmd spec = {
        .name = "nas-bench",
        .synopsis = "frugal nas-bench build [flags]",
        .about = "Builds the zero-shot NAS ground truth: a seeded sample of unique NAS-Bench-201\n"
                 "cells, each trained on Fashion-MNIST with one fixed short recipe, appended to a\n"
                 "CSV table (resumable; several processes or MPI ranks may share one table).",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
        .min_pos = 1,
        .max_pos = 1,
    };
    const char *pos[1];
    int npos = 0, rc = cli_begin(&spec, argc, argv, pos, &npos);
    if (rc != CLI_GO) return rc;
    int act = -1;
    for (int i = 0; ACTIONS[i]; i++)
        if (!strcmp(pos[0], ACTIONS[i])) act = i;
    if (act < 0) {
        fprintf(stderr, "frugal nas-bench: unknown action '%s' (known: build)\n", pos[0]);
        return EXIT_USAGE;
    }
    if (fr_dist_size() > 1) jobs = fr_dist_size(), job = fr_dist_rank();
    if (job >= jobs) {
        fprintf(stderr, "frugal nas-bench: --job %lld must be below --jobs %lld\n", (long long)job,
                (long long)jobs);
        return EXIT_USAGE;
    }
    if (noise_cells > cells) {
        fprintf(stderr, "frugal nas-bench: --noise-cells %lld exceeds --cells %lld\n",
                (long long)noise_cells, (long long)cells);
        return EXIT_USAGE;
    }
    if (train + val > 60000) {
        fprintf(stderr, "frugal nas-bench: --train-images + --val-images exceed the 60000 "
                        "training images\n");
        return EXIT_USAGE;
    }
    if (batch > train) {
        fprintf(stderr, "frugal nas-bench: --batch %lld exceeds --train-images %lld\n",
                (long long)batch, (long long)train);
        return EXIT_USAGE;
    }
    if ((rc = cli_check_data_dir("nas-bench", data_dir)) != EXIT_OK) return rc;
    r.c = (int)c, r.n = (int)n, r.train = train, r.val = val, r.test = test;
    r.epochs = (int)epochs, r.batch = (int)batch, r.threads = (int)threads;
    char recipe[512];
    if (fr_nasbench_recipe_format(&r, recipe, sizeof recipe))
        return cli_fail("nas-bench", "%s", fr_last_error());
    /* the rows already there, and a table made with another recipe refused
     * before any data is read */
    struct fr_nasbench_row *rows = NULL;
    int64_t nrows = 0;
    char had[512] = "";
    rc = fr_nasbench_read(table, &rows, &nrows, had, sizeof had);
    if (rc && rc != FR_ENOTFOUND) return cli_fail("nas-bench", "%s", fr_last_error());
    if (!rc && (nrows || had[0]) && strcmp(had, recipe) != 0) {
        free(rows);
        return cli_fail("nas-bench",
                        "%s was built with another recipe ('%s'); this one is '%s': use another "
                        "--table or the table's recipe flags",
                        table, had, recipe);
    }
    if (fr_check_writable(table)) {
        free(rows);
        return cli_fail("nas-bench", "%s", fr_last_error());
    }
    int64_t *sample = malloc(sizeof *sample * (size_t)cells);
    if (!sample || fr_nasbench_sample((uint64_t)sample_seed, sample, (int)cells)) {
        free(rows), free(sample);
        return cli_fail("nas-bench", "%s", sample ? fr_last_error() : "out of memory");
    }
    /* the work list: each cell with seed 1, the noise cells' extra seeds
     * right after them (so a partial table already holds the noise subset) */
    int64_t total = cells + noise_cells * (noise_seeds - 1), todo = 0;
    struct item {
        int64_t cell;
        uint64_t seed;
    } *items = malloc(sizeof *items * (size_t)total);
    if (!items) {
        free(rows), free(sample);
        return cli_fail("nas-bench", "out of memory");
    }
    int64_t k = 0;
    for (int64_t i = 0; i < cells; i++)
        for (int64_t s = 1; s <= (i < noise_cells ? noise_seeds : 1); s++)
            items[k++] = (struct item){sample[i], (uint64_t)s};
    for (int64_t i = 0; i < total; i++)
        todo += i % jobs == job && !have(rows, nrows, items[i].cell, items[i].seed);
    printf("nas-bench: %s: %lld of %lld rows there; this process (job %lld of %lld) trains %lld%s\n"
           "recipe: %s\n",
           table, (long long)nrows, (long long)total, (long long)job, (long long)jobs,
           (long long)(limit && limit < todo ? limit : todo),
           limit && limit < todo ? " (--limit)" : "", recipe);
    fflush(stdout);
    struct fr_dataset tr = {0}, te = {0};
    struct fr_data_spec ds = {"fashion-mnist", 0, 0, 0};
    rc = 0;
    if (todo && ((rc = fr_dataset_load(&tr, &ds, data_dir, 1, train + val)) ||
                 (rc = fr_dataset_load(&te, &ds, data_dir, 0, test))))
        rc = cli_fail("nas-bench", "%s", fr_last_error());
    int64_t done = 0;
    double t0 = fr_seconds();
    for (int64_t i = 0; !rc && i < total && (!limit || done < limit); i++) {
        if (i % jobs != job || have(rows, nrows, items[i].cell, items[i].seed)) continue;
        struct fr_nasbench_row row;
        if (fr_nasbench_train(&r, &tr, &te, items[i].cell, items[i].seed, &row) ||
            fr_nasbench_append(table, recipe, &row)) {
            rc = cli_fail("nas-bench", "cell %lld seed %llu: %s", (long long)items[i].cell,
                          (unsigned long long)items[i].seed, fr_last_error());
            break;
        }
        done++;
        char arch[128];
        int ops[FR_NB201_EDGES];
        fr_nb201_ops(row.cell, ops);
        fr_nb201_format(ops, arch, sizeof arch);
        double el = fr_seconds() - t0;
        int64_t goal = limit && limit < todo ? limit : todo;
        printf("nas-bench: [%lld/%lld] cell %5lld seed %llu: val %6.2f%% test %6.2f%%  %7lld "
               "params  %4.0f s  (eta %.0f min)  %s\n",
               (long long)done, (long long)goal, (long long)row.cell, (unsigned long long)row.seed,
               row.val_acc, row.test_acc, (long long)row.params, row.train_seconds,
               el / (double)done * (double)(goal - done) / 60, arch);
        fflush(stdout);
    }
    if (!rc) printf("nas-bench: %lld rows trained; %s\n", (long long)done, table);
    fr_dataset_free(&tr), fr_dataset_free(&te);
    free(items), free(sample), free(rows);
    return rc ? rc : EXIT_OK;
}
