/* start_from.c: a training run that starts from a checkpoint's weights and
 * keep-mask instead of a fresh init (train.h, fr_train_config_start_from),
 * as `frugal train --init` does after `frugal prune`. The architecture
 * comes from the checkpoint, so the caller cannot ask for a model the
 * weights do not fit; the weights are loaded by the run's init hook, once
 * the model is built and before a resume is loaded. */
#include "frugal/io.h"
#include "frugal/models.h"
#include "frugal/status.h"
#include "frugal/train.h"

#include <stdio.h>
#include <string.h>

/* 1 if arch is one of fr_model_list()'s names. */
static int in_zoo(const char *arch) {
    size_t n = strlen(arch);
    for (const char *s = fr_model_list(); *s;) {
        size_t len = strcspn(s, ",");
        if (len == n && strncmp(s, arch, n) == 0) return 1;
        s += len;
        s += strspn(s, ", ");
    }
    return 0;
}

int fr_train_config_start_from(struct fr_train_config *cfg, const char *path, char *arch,
                               size_t cap) {
    struct fr_model_config mc;
    int rc = fr_model_arch_load(path, arch, cap, &mc);
    if (rc) return rc;
    if (!in_zoo(arch))
        return fr_error(FR_EINVAL,
                        "%s: '%s' is not an image classifier (a language model "
                        "fine-tunes with frugal train-lm --init)",
                        path, arch);
    cfg->model = arch;
    cfg->width_mult = mc.width_mult;
    cfg->nwidths = mc.nwidths;
    for (int i = 0; i < mc.nwidths; i++)
        cfg->widths[i] = mc.widths[i];
    for (int i = 0; i < 3; i++)
        cfg->kernels[i] = mc.kernels[i];
    cfg->small_kernel = mc.small_kernel;
    cfg->merged = mc.merged;
    cfg->fd_channels = mc.fd_channels;
    cfg->nb201 = mc.nb201;
    cfg->init = fr_train_init_checkpoint;
    cfg->init_user = (void *)path;
    cfg->init_name = path;
    return 0;
}

int fr_train_init_checkpoint(void *path, struct fr_model *m) {
    struct fr_ckpt o = {0};
    struct fr_model_config fc;
    char arch[32];
    o.allow_extra = 1; /* a run checkpoint carries optimizer and run state too */
    /* the model was built for the data; the checkpoint must have been too
     * (a convolutional net's weights fit any image size) */
    int rc = fr_model_arch_load(path, arch, sizeof arch, &fc);
    if (!rc && (fc.in_channels != m->cfg.in_channels || fc.in_h != m->cfg.in_h ||
                fc.in_w != m->cfg.in_w || fc.n_classes != m->cfg.n_classes))
        rc = fr_error(FR_EINVAL,
                      "the checkpoint takes %d x %d x %d images with %d classes, the data has "
                      "%d x %d x %d with %d",
                      fc.in_channels, fc.in_h, fc.in_w, fc.n_classes, m->cfg.in_channels,
                      m->cfg.in_h, m->cfg.in_w, m->cfg.n_classes);
    if (!rc) rc = fr_params_load_masked(&m->params, path, &o, NULL);
    if (rc) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", fr_last_error());
        return fr_error(rc, "--init %.200s: %s", (const char *)path, msg);
    }
    return 0;
}
