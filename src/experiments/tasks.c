/* tasks.c: the pretraining / downstream split of Fashion-MNIST and the
 * downstream transforms (tasks.h). Everything works on the normalised
 * images in place; a task owns copies, never views of another dataset. */
#include "frugal/experiments/tasks.h"

#include "frugal/rng.h"
#include "frugal/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tops 0 T-shirt 2 pullover 4 coat 6 shirt | 1 trouser 3 dress | 5 sandal 7 sneaker
 * 9 ankle boot | 8 bag */
static const int COARSE[10] = {0, 1, 0, 1, 0, 2, 0, 2, 3, 2};

static const struct {
    const char *name, *about;
} g_tasks[] = {
    {"pretrain", "Fashion-MNIST training images 0-49999, 10 classes"},
    {"few", "20 labelled images per class from training images 50000-59999, 10 classes"},
    {"coarse", "training images 50000-59999, 4 coarse classes (tops, trouser/dress, footwear, "
               "bag)"},
    {"rotate", "training images 50000-59999 rotated 90 degrees, 10 classes"},
    {"invert", "training images 50000-59999 as negatives, 10 classes"},
    {"fashion", "all 60000 Fashion-MNIST training images, 10 classes (overlaps pretrain)"},
};
#define N_TASKS ((int)(sizeof g_tasks / sizeof g_tasks[0]))

const char *fr_task_list(void) {
    return "pretrain, few, coarse, rotate, invert, fashion";
}

void fr_task_free(struct fr_task *t) {
    if (!t) return;
    fr_dataset_free(&t->train);
    fr_dataset_free(&t->test);
}

int fr_dataset_take(struct fr_dataset *dst, struct fr_dataset *ds, int64_t start, int64_t n) {
    if (start < 0 || n < 0 || start + n > ds->n)
        return fr_error(FR_EINVAL, "dataset: samples [%lld, %lld) of %lld", (long long)start,
                        (long long)(start + n), (long long)ds->n);
    int64_t D = (int64_t)ds->C * ds->H * ds->W;
    *dst = *ds;
    dst->n = n;
    dst->x = malloc((size_t)(n * D + 1) * sizeof(float));
    dst->y = malloc((size_t)(n + 1) * sizeof(int32_t));
    if (!dst->x || !dst->y) {
        free(dst->x);
        free(dst->y);
        dst->x = NULL, dst->y = NULL;
        return fr_error(FR_ENOMEM, "out of memory");
    }
    memcpy(dst->x, ds->x + start * D, (size_t)(n * D) * sizeof(float));
    memcpy(dst->y, ds->y + start, (size_t)n * sizeof(int32_t));
    fr_dataset_free(ds);
    return 0;
}

int fr_dataset_rotate90(struct fr_dataset *ds) {
    if (ds->H != ds->W)
        return fr_error(FR_EINVAL, "rotate90: images are %d x %d, not square", ds->H, ds->W);
    int64_t HW = (int64_t)ds->H * ds->W, N = ds->n * ds->C, S = ds->H;
    float *tmp = malloc((size_t)HW * sizeof(float));
    if (!tmp) return fr_error(FR_ENOMEM, "out of memory");
    for (int64_t i = 0; i < N; i++) {
        float *img = ds->x + i * HW;
        /* clockwise: out[r][c] = in[S-1-c][r] */
        for (int64_t r = 0; r < S; r++)
            for (int64_t c = 0; c < S; c++)
                tmp[r * S + c] = img[(S - 1 - c) * S + r];
        memcpy(img, tmp, (size_t)HW * sizeof(float));
    }
    free(tmp);
    return 0;
}

void fr_dataset_invert(struct fr_dataset *ds) {
    /* x = (p - mean) / std  ->  x' = (1 - p - mean) / std = (1 - 2 mean) / std - x */
    float k = (1.0f - 2.0f * ds->mean) / ds->std;
    int64_t n = ds->n * ds->C * ds->H * ds->W;
    for (int64_t i = 0; i < n; i++)
        ds->x[i] = k - ds->x[i];
}

int fr_dataset_relabel(struct fr_dataset *ds, const int *map, int nmap, int nclass) {
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->y[i] < 0 || ds->y[i] >= nmap || map[ds->y[i]] < 0 || map[ds->y[i]] >= nclass)
            return fr_error(FR_EINVAL, "relabel: label %d has no class in the map", ds->y[i]);
    for (int64_t i = 0; i < ds->n; i++)
        ds->y[i] = map[ds->y[i]];
    ds->nclass = nclass;
    return 0;
}

/* FR_TASK_FEW_PER_CLASS samples of each class, picked by a seeded
 * permutation, kept in their original order. */
static int few_labels(struct fr_dataset *ds, uint64_t seed) {
    int64_t n = ds->n, D = (int64_t)ds->C * ds->H * ds->W, *perm = malloc((size_t)n * sizeof *perm);
    unsigned char *keep = calloc((size_t)n, 1);
    if (!perm || !keep) {
        free(perm);
        free(keep);
        return fr_error(FR_ENOMEM, "out of memory");
    }
    struct fr_rng rng;
    fr_rng_seed(&rng, seed ^ 0xfe71abe1ull);
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)fr_rng_below(&rng, (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    int count[64] = {0};
    for (int64_t i = 0; i < n; i++) {
        int c = ds->y[perm[i]];
        if (c >= 0 && c < 64 && count[c] < FR_TASK_FEW_PER_CLASS) count[c]++, keep[perm[i]] = 1;
    }
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (keep[i]) {
            memmove(ds->x + k * D, ds->x + i * D, (size_t)D * sizeof(float));
            ds->y[k++] = ds->y[i];
        }
    ds->n = k;
    free(perm);
    free(keep);
    return 0;
}

int fr_task_load(struct fr_task *t, const char *name, const char *dir, int64_t limit_train,
                 uint64_t seed) {
    memset(t, 0, sizeof *t);
    int k = -1;
    for (int i = 0; name && i < N_TASKS; i++)
        if (strcmp(name, g_tasks[i].name) == 0) k = i;
    if (k < 0)
        return fr_error(FR_ENOTFOUND, "unknown task '%s' (known: %s)", name ? name : "(null)",
                        fr_task_list());
    snprintf(t->name, sizeof t->name, "%s", g_tasks[k].name);
    t->about = g_tasks[k].about;
    struct fr_dataset all;
    int rc = fr_dataset_fashion_mnist(&all, dir, 1, 0);
    if (!rc && all.n < 60000) {
        fr_dataset_free(&all);
        rc = fr_error(FR_EFORMAT, "task: Fashion-MNIST has %lld training images, not 60000",
                      (long long)all.n);
    }
    if (rc) return rc;
    if (strcmp(t->name, "fashion") == 0)
        rc = fr_dataset_take(&t->train, &all, 0, all.n);
    else if (strcmp(t->name, "pretrain") == 0)
        rc = fr_dataset_take(&t->train, &all, 0, FR_TASK_PRETRAIN_IMAGES);
    else
        rc = fr_dataset_take(&t->train, &all, FR_TASK_PRETRAIN_IMAGES,
                             all.n - FR_TASK_PRETRAIN_IMAGES);
    if (!rc) rc = fr_dataset_fashion_mnist(&t->test, dir, 0, 0);
    if (!rc && strcmp(t->name, "few") == 0) rc = few_labels(&t->train, seed);
    if (!rc && strcmp(t->name, "coarse") == 0) {
        rc = fr_dataset_relabel(&t->train, COARSE, 10, 4);
        if (!rc) rc = fr_dataset_relabel(&t->test, COARSE, 10, 4);
    }
    if (!rc && strcmp(t->name, "rotate") == 0) {
        rc = fr_dataset_rotate90(&t->train);
        if (!rc) rc = fr_dataset_rotate90(&t->test);
    }
    if (!rc && strcmp(t->name, "invert") == 0) {
        fr_dataset_invert(&t->train);
        fr_dataset_invert(&t->test);
    }
    if (!rc && limit_train > 0 && limit_train < t->train.n) t->train.n = limit_train;
    if (rc) fr_task_free(t);
    return rc;
}
