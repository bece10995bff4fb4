/* nasbench.c: the zero-shot NAS ground truth (methods/nas.h): a seeded
 * sample of NAS-Bench-201 cells, each trained with one fixed short recipe,
 * appended row by row to a CSV table that several processes may share. */
#include "frugal/methods/nas.h"

#include "frugal/clock.h"
#include "frugal/data.h"
#include "frugal/models.h"
#include "frugal/rng.h"
#include "frugal/status.h"
#include "frugal/threads.h"
#include "frugal/train.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define TITLE "# frugal nas-bench: NAS-Bench-201 cells trained on Fashion-MNIST\n"
#define COLUMNS "cell,arch,seed,val_acc,test_acc,params,flops,train_seconds\n"

void fr_nasbench_recipe_defaults(struct fr_nasbench_recipe *r) {
    *r = (struct fr_nasbench_recipe){.c = 8,
                                     .n = 1,
                                     .train = 20000,
                                     .val = 5000,
                                     .test = 0,
                                     .epochs = 1,
                                     .batch = 128,
                                     .lr = 2e-3,
                                     .wd = 1e-4,
                                     .threads = 1};
}

int fr_nasbench_recipe_format(const struct fr_nasbench_recipe *r, char *buf, size_t cap) {
    char test[48];
    if (r->test)
        snprintf(test, sizeof test, "the first %lld", (long long)r->test);
    else
        snprintf(test, sizeof test, "all 10000");
    int n = snprintf(buf, cap,
                     "nb201 C=%d N=%d; train on training images 0..%lld, validate on %lld..%lld, "
                     "test on %s test images; %d epoch(s) of batch %d, AdamW lr %g wd %g, cosine "
                     "to 0, no augmentation; %d thread(s)",
                     r->c, r->n, (long long)r->train - 1, (long long)r->train,
                     (long long)(r->train + r->val - 1), test, r->epochs, r->batch, r->lr, r->wd,
                     r->threads);
    if (n < 0 || (size_t)n >= cap) return fr_error(FR_EINVAL, "nas-bench: recipe text too long");
    return 0;
}

int fr_nasbench_sample(uint64_t seed, int64_t *cells, int n) {
    enum { NCLASS = 6466 };
    if (n < 0 || n > NCLASS)
        return fr_error(FR_EINVAL, "nas-bench: a sample of %d cells (1..%d unique cells)", n,
                        NCLASS);
    int64_t *reps = malloc(sizeof *reps * NCLASS);
    if (!reps) return fr_error(FR_ENOMEM, "nas-bench: out of memory");
    int got = fr_nb201_unique(reps, NCLASS);
    if (got != NCLASS) {
        free(reps);
        return got < 0 ? got : fr_error(FR_EINVAL, "nas-bench: %d classes", got);
    }
    struct fr_rng rng;
    fr_rng_seed(&rng, seed);
    for (int i = NCLASS - 1; i > 0; i--) { /* Fisher-Yates over the whole list */
        int j = (int)fr_rng_below(&rng, (uint64_t)i + 1);
        int64_t t = reps[i];
        reps[i] = reps[j], reps[j] = t;
    }
    /* the positions the shuffle settles first, in that order */
    for (int i = 0; i < n; i++)
        cells[i] = reps[NCLASS - 1 - i];
    free(reps);
    return 0;
}

int fr_nasbench_train(const struct fr_nasbench_recipe *r, const struct fr_dataset *train,
                      const struct fr_dataset *test, int64_t cell, uint64_t seed,
                      struct fr_nasbench_row *row) {
    if (cell < 0 || cell >= FR_NB201_CELLS)
        return fr_error(FR_EINVAL, "nas-bench: cell %lld is not 0..15624", (long long)cell);
    if (r->train < r->batch || r->val < 1 || train->n < r->train + r->val)
        return fr_error(FR_EINVAL,
                        "nas-bench: %lld + %lld training images wanted, %lld loaded (and at "
                        "least one batch of %d)",
                        (long long)r->train, (long long)r->val, (long long)train->n, r->batch);
    if (r->threads > 0) fr_threads_set(r->threads);
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.n_classes = train->nclass, mc.in_channels = train->C;
    mc.in_h = train->H, mc.in_w = train->W;
    fr_nb201_ops(cell, mc.nb201.ops);
    mc.nb201.c = r->c, mc.nb201.n = r->n;
    struct fr_model *m = fr_model_new("nb201", &mc, seed);
    if (!m) return FR_EINVAL;
    struct fr_subset tr = {malloc(sizeof(int64_t) * (size_t)r->train), r->train};
    struct fr_subset va = {malloc(sizeof(int64_t) * (size_t)r->val), r->val};
    struct fr_subset te = {NULL, r->test && r->test < test->n ? r->test : test->n};
    te.idx = malloc(sizeof(int64_t) * (size_t)te.n);
    int rc = 0;
    if (!tr.idx || !va.idx || !te.idx) {
        rc = fr_error(FR_ENOMEM, "nas-bench: out of memory");
        goto done;
    }
    for (int64_t i = 0; i < tr.n; i++)
        tr.idx[i] = i;
    for (int64_t i = 0; i < va.n; i++)
        va.idx[i] = r->train + i;
    for (int64_t i = 0; i < te.n; i++)
        te.idx[i] = i;
    struct fr_fit_classifier_config fc;
    fr_fit_classifier_config_defaults(&fc);
    fc.epochs = r->epochs, fc.batch = r->batch, fc.lr = r->lr, fc.wd = r->wd, fc.seed = seed;
    struct fr_fit_result fres;
    double t0 = fr_seconds();
    if ((rc = fr_fit_classifier(m, train, &tr, NULL, &fc, &fres))) goto done;
    row->train_seconds = fr_seconds() - t0;
    double va_acc, te_acc;
    if ((rc = fr_evaluate(m, train, &va, NULL, 0, &va_acc, NULL))) goto done;
    if ((rc = fr_evaluate(m, test, &te, NULL, 0, &te_acc, NULL))) goto done;
    int64_t dense = 0, sparse = 0;
    if ((rc = fr_model_flops(m, &dense, &sparse))) goto done;
    row->cell = cell, row->seed = seed;
    row->val_acc = 100 * va_acc, row->test_acc = 100 * te_acc;
    row->params = fr_params_count_trainable(&m->params);
    row->flops = dense;
done:
    free(tr.idx), free(va.idx), free(te.idx);
    fr_model_free(m);
    return rc;
}

/* One data row into *row; 0 or -1. */
static int parse_row(char *line, struct fr_nasbench_row *row) {
    char *f[9];
    int nf = 0;
    for (char *p = line; nf < 9;) {
        f[nf++] = p;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = 0;
        p = c + 1;
    }
    if (nf != 8) return -1;
    char *end;
    errno = 0;
    row->cell = strtoll(f[0], &end, 10);
    if (*end || row->cell < 0 || row->cell >= FR_NB201_CELLS) return -1;
    int ops[FR_NB201_EDGES];
    if (fr_nb201_parse(f[1], ops) || fr_nb201_index(ops) != row->cell) return -1;
    row->seed = strtoull(f[2], &end, 10);
    if (*end || f[2][0] == '-') return -1;
    double *d[3] = {&row->val_acc, &row->test_acc, &row->train_seconds};
    char *df[3] = {f[3], f[4], f[7]};
    for (int i = 0; i < 3; i++) {
        *d[i] = strtod(df[i], &end);
        if (end == df[i] || *end || !isfinite(*d[i]) || *d[i] < 0) return -1;
    }
    if (row->val_acc > 100 || row->test_acc > 100) return -1;
    row->params = strtoll(f[5], &end, 10);
    if (*end || row->params < 0) return -1;
    row->flops = strtoll(f[6], &end, 10);
    if (*end || row->flops < 0 || errno) return -1;
    return 0;
}

/* The whole file into a NUL-terminated buffer. */
static char *slurp(int fd, size_t *len) {
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) return NULL;
    char *b = malloc((size_t)st.st_size + 1);
    if (!b) return NULL;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t k = pread(fd, b + got, (size_t)st.st_size - got, (off_t)got);
        if (k <= 0) {
            free(b);
            return NULL;
        }
        got += (size_t)k;
    }
    b[got] = 0;
    *len = got;
    return b;
}

/* The recipe line of a table's text (after "# recipe: "), copied into
 * out[cap]; "" when there is none. */
static void recipe_of(const char *text, char *out, size_t cap) {
    out[0] = 0;
    const char *p = strstr(text, "# recipe: ");
    if (!p) return;
    p += strlen("# recipe: ");
    size_t n = strcspn(p, "\n");
    snprintf(out, cap, "%.*s", (int)n, p);
}

int fr_nasbench_read(const char *path, struct fr_nasbench_row **rows, int64_t *n, char *recipe,
                     size_t cap) {
    *rows = NULL, *n = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return fr_error(errno == ENOENT ? FR_ENOTFOUND : FR_EIO, "%s: %s", path, strerror(errno));
    flock(fd, LOCK_SH);
    size_t len = 0;
    char *text = slurp(fd, &len);
    flock(fd, LOCK_UN);
    close(fd);
    if (!text) return fr_error(FR_EIO, "%s: cannot read (not a regular file?)", path);
    if (recipe) recipe_of(text, recipe, cap);
    int64_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    struct fr_nasbench_row *out = malloc(sizeof *out * (size_t)lines);
    int rc = out ? 0 : fr_error(FR_ENOMEM, "nas-bench: out of memory");
    int64_t k = 0, lineno = 0;
    for (char *p = text; !rc && *p;) {
        char *nl = strchr(p, '\n');
        lineno++;
        if (!nl) break; /* a partial last line: a killed writer's */
        *nl = 0;
        if (*p && *p != '#' &&
            strcmp(p, "cell,arch,seed,val_acc,test_acc,params,flops,"
                      "train_seconds") != 0) {
            if (parse_row(p, &out[k]))
                rc = fr_error(FR_EFORMAT, "%s:%lld: not a table row", path, (long long)lineno);
            else
                k++;
        }
        p = nl + 1;
    }
    free(text);
    if (rc) {
        free(out);
        return rc;
    }
    *rows = out, *n = k;
    return 0;
}

static int write_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        s += k, n -= (size_t)k;
    }
    return 0;
}

int fr_nasbench_append(const char *path, const char *recipe, const struct fr_nasbench_row *row) {
    char arch[128], line[512];
    int ops[FR_NB201_EDGES];
    fr_nb201_ops(row->cell, ops);
    int rc = fr_nb201_format(ops, arch, sizeof arch);
    if (rc) return rc;
    snprintf(line, sizeof line, "%lld,%s,%llu,%.2f,%.2f,%lld,%lld,%.1f\n", (long long)row->cell,
             arch, (unsigned long long)row->seed, row->val_acc, row->test_acc,
             (long long)row->params, (long long)row->flops, row->train_seconds);
    struct stat st;
    if (!stat(path, &st) && !S_ISREG(st.st_mode))
        return fr_error(FR_EINVAL, "%s: not a regular file", path);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) return fr_error(FR_EIO, "%s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX)) {
        close(fd);
        return fr_error(FR_EIO, "%s: cannot lock: %s", path, strerror(errno));
    }
    size_t len = 0;
    char *text = slurp(fd, &len);
    if (!text) {
        rc = fr_error(FR_EIO, "%s: cannot read", path);
        goto done;
    }
    if (len == 0) {
        char head[1024];
        snprintf(head, sizeof head, TITLE "# recipe: %s\n" COLUMNS, recipe);
        if (write_all(fd, head, strlen(head)))
            rc = fr_error(FR_EIO, "%s: %s", path, strerror(errno));
    } else {
        char have[512];
        recipe_of(text, have, sizeof have);
        if (strcmp(have, recipe) != 0) {
            rc = fr_error(FR_EINVAL,
                          "%s was built with another recipe ('%.200s'); this one is '%.200s': use "
                          "another table",
                          path, have, recipe);
            goto done;
        }
        if (text[len - 1] != '\n') { /* cut a killed writer's partial line */
            char *nl = strrchr(text, '\n');
            off_t keep = nl ? (off_t)(nl - text + 1) : 0;
            if (ftruncate(fd, keep)) {
                rc = fr_error(FR_EIO, "%s: %s", path, strerror(errno));
                goto done;
            }
        }
    }
    if (!rc && (lseek(fd, 0, SEEK_END) < 0 || write_all(fd, line, strlen(line)) || fsync(fd)))
        rc = fr_error(FR_EIO, "%s: %s", path, strerror(errno));
done:
    free(text);
    flock(fd, LOCK_UN);
    close(fd);
    return rc;
}
