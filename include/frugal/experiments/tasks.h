/* tasks.h: pretraining and downstream tasks for transfer experiments on
 * Fashion-MNIST (essential sparsity, lottery tickets, Instant Soup Pruning).
 *
 *     struct fr_task t;
 *     if (fr_task_load(&t, "rotate", NULL, 0, seed)) die(fr_last_error());
 *     struct fr_model_config mc;  fr_model_config_defaults(&mc);
 *     mc.n_classes = t.train.nclass;
 *     struct fr_model *m = fr_model_new("vit", &mc, seed);
 *     fr_model_transfer(m, pretrained);         // body from pretraining, fresh head
 *     fr_fit_classifier(m, &t.train, NULL, ctx, &fit, &res);
 *     fr_evaluate(m, &t.test, NULL, ctx, 0, &acc, NULL);
 *
 * The 60,000 training images are cut in two disjoint parts: images
 * [0, 50000) are for pretraining, [50000, 60000) for the downstream tasks,
 * so a downstream task never trains on an image the model was pretrained
 * on. Every task is evaluated on the whole 10,000-image test split under
 * the task's own transform and labels. Tasks:
 *   pretrain  images [0, 50000), the 10 classes, upright
 *   few       few labels: 20 images per class drawn (by seed) from the
 *             downstream part, the 10 classes
 *   coarse    a coarse label grouping of the downstream part, 4 classes:
 *             tops (T-shirt, pullover, coat, shirt), trouser or dress,
 *             footwear (sandal, sneaker, ankle boot), bag
 *   rotate    the downstream part rotated 90 degrees clockwise, 10 classes
 *             (a shifted input distribution)
 *   invert    the downstream part as negatives (pixel -> 255 - pixel),
 *             10 classes (a shifted input distribution)
 *   fashion   all 60,000 training images, the 10 classes, upright (plain
 *             Fashion-MNIST; it overlaps pretrain, so not for transfer)
 */
#ifndef FRUGAL_TASKS_H
#define FRUGAL_TASKS_H

#include <stdint.h>

#include "frugal/data.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FR_TASK_PRETRAIN_IMAGES 50000
#define FR_TASK_FEW_PER_CLASS 20

struct fr_task {
    char name[16];
    const char *about;       /* one line (static) */
    struct fr_dataset train; /* owned */
    struct fr_dataset test;  /* owned */
};

/* Loads task `name` from the Fashion-MNIST files in dir (NULL: FR_FMNIST_DIR).
 * limit_train > 0 keeps only the first limit_train training samples of the
 * task (after the few-label draw). seed picks the few-label images.
 * FR_ENOTFOUND for an unknown name ("unknown task 'x' (known: ...)") or
 * missing files; errors of fr_dataset_fashion_mnist. */
int fr_task_load(struct fr_task *t, const char *name, const char *dir, int64_t limit_train,
                 uint64_t seed);
void fr_task_free(struct fr_task *t);
/* "pretrain, few, coarse, rotate, invert, fashion" */
const char *fr_task_list(void);

/* The transforms, exposed for tests (in place on normalised images). */
int fr_dataset_rotate90(struct fr_dataset *ds); /* clockwise; FR_EINVAL unless H == W */
void fr_dataset_invert(struct fr_dataset *ds);  /* raw p -> 1 - p */
/* Relabels y -> map[y]; nclass becomes the given count. FR_EINVAL if a
 * label is outside the map or maps outside [0, nclass). */
int fr_dataset_relabel(struct fr_dataset *ds, const int *map, int nmap, int nclass);
/* Keeps samples [start, start + n) of ds (moved into dst, ds emptied). */
int fr_dataset_take(struct fr_dataset *dst, struct fr_dataset *ds, int64_t start, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
