/* models.c: the architecture table and the model handle's life cycle. */
#include "zoo.h"

#include "frugal/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int (*build)(struct fr_model *m, struct fr_rng *rng);
    const char *head; /* the classifier layer's name prefix */
} g_arch[] = {
    {"mlp", fr_build_mlp, "fc3"},
    {"cnn", fr_build_cnn, "fc2"},
    {"resnet20", fr_build_resnet20, "linear"},
    {"vgg-small", fr_build_vgg_small, "classifier"},
    {"vit", fr_build_vit, "head"},
};
#define N_ARCH ((int)(sizeof g_arch / sizeof g_arch[0]))

const char *fr_model_list(void) {
    return "mlp, cnn, resnet20, vgg-small, vit";
}

void fr_model_config_defaults(struct fr_model_config *c) {
    c->n_classes = 10;
    c->in_channels = 1;
    c->in_h = 28;
    c->in_w = 28;
    c->mim = 0;
}

struct fr_model *fr_model_new(const char *arch, const struct fr_model_config *cfg, uint64_t seed) {
    struct fr_model_config def;
    if (!cfg) {
        fr_model_config_defaults(&def);
        cfg = &def;
    }
    if (!arch) {
        fr_error(FR_EINVAL, "model: no architecture given (known: %s)", fr_model_list());
        return NULL;
    }
    int k = -1;
    for (int i = 0; i < N_ARCH; i++)
        if (strcmp(arch, g_arch[i].name) == 0) k = i;
    if (k < 0) {
        fr_error(FR_ENOTFOUND, "unknown model '%s' (known: %s)", arch, fr_model_list());
        return NULL;
    }
    if (cfg->n_classes < 1 || cfg->in_channels < 1 || cfg->in_h < 1 || cfg->in_w < 1 ||
        cfg->n_classes > 1 << 20 || cfg->in_channels > 1 << 16 || cfg->in_h > 1 << 14 ||
        cfg->in_w > 1 << 14) {
        fr_error(FR_EINVAL, "model '%s': bad config (%d classes, %d x %d x %d input)", arch,
                 cfg->n_classes, cfg->in_channels, cfg->in_h, cfg->in_w);
        return NULL;
    }
    if (cfg->mim != 0 && (cfg->mim != 1 || strcmp(g_arch[k].name, "vit") != 0)) {
        fr_error(FR_EINVAL,
                 "model '%s': mim=%d (masked-patch pretraining) needs arch vit and mim 0 or 1",
                 arch, cfg->mim);
        return NULL;
    }
    struct fr_model *m = calloc(1, sizeof *m);
    if (!m) {
        fr_error(FR_ENOMEM, "model: out of memory");
        return NULL;
    }
    snprintf(m->arch, sizeof m->arch, "%s", g_arch[k].name);
    m->cfg = *cfg;
    fr_params_init(&m->params);
    struct fr_rng rng;
    fr_rng_seed(&rng, seed);
    if (g_arch[k].build(m, &rng) != 0) {
        fr_model_free(m);
        return NULL;
    }
    /* the sparsity papers keep the classifier dense: out of the default scope */
    char head_w[64];
    snprintf(head_w, sizeof head_w, "%s.weight", g_arch[k].head);
    struct fr_param *hw = fr_params_find(&m->params, head_w);
    if (hw) hw->flags &= ~FR_PARAM_PRUNABLE;
    return m;
}

const char *fr_model_head(const struct fr_model *m) {
    for (int i = 0; i < N_ARCH; i++)
        if (strcmp(m->arch, g_arch[i].name) == 0) return g_arch[i].head;
    return "";
}

void fr_model_free(struct fr_model *m) {
    if (!m) return;
    fr_params_free(&m->params);
    free(m->impl);
    free(m);
}

int fr_model_meta_write(const struct fr_model *m, char keys[][64], char vals[][64], int max) {
    const struct {
        const char *k;
        int v;
    } num[] = {{"n_classes", m->cfg.n_classes},
               {"in_channels", m->cfg.in_channels},
               {"in_h", m->cfg.in_h},
               {"in_w", m->cfg.in_w}};
    int n = 0;
    if (n < max) {
        snprintf(keys[n], 64, "arch");
        snprintf(vals[n], 64, "%s", m->arch);
        n++;
    }
    for (int i = 0; i < 4 && n < max; i++, n++) {
        snprintf(keys[n], 64, "%s", num[i].k);
        snprintf(vals[n], 64, "%d", num[i].v);
    }
    if (m->cfg.mim && n < max) {
        snprintf(keys[n], 64, "mim");
        snprintf(vals[n], 64, "%d", m->cfg.mim);
        n++;
    }
    return n;
}

static int parse_int(const char *s, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 1 || v > 1 << 20) return -1;
    *out = (int)v;
    return 0;
}

int fr_model_meta_read(int n, const char *const *keys, const char *const *vals, char *arch,
                       size_t arch_size, struct fr_model_config *cfg) {
    int have = 0;
    fr_model_config_defaults(cfg);
    arch[0] = 0;
    for (int i = 0; i < n; i++) {
        const char *k = keys[i], *v = vals[i];
        int *dst = NULL;
        if (strcmp(k, "arch") == 0) {
            if (strlen(v) >= arch_size) return fr_error(FR_EFORMAT, "checkpoint: arch too long");
            strcpy(arch, v);
            have = 1;
            continue;
        }
        if (strcmp(k, "n_classes") == 0) dst = &cfg->n_classes;
        if (strcmp(k, "in_channels") == 0) dst = &cfg->in_channels;
        if (strcmp(k, "in_h") == 0) dst = &cfg->in_h;
        if (strcmp(k, "in_w") == 0) dst = &cfg->in_w;
        if (strcmp(k, "mim") == 0) {
            if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
                return fr_error(FR_EFORMAT, "checkpoint: metadata 'mim' = '%s' is not 0 or 1", v);
            cfg->mim = v[0] - '0';
            continue;
        }
        if (dst && parse_int(v, dst) != 0)
            return fr_error(FR_EFORMAT, "checkpoint: metadata '%s' = '%s' is not a valid size", k,
                            v);
    }
    if (!have) return fr_error(FR_EFORMAT, "checkpoint: no 'arch' in metadata");
    return 0;
}

/* Prefixes the current error with the file's name (copied first: fr_error
 * writes the buffer fr_last_error returns). */
static int name_file(int rc, const char *path) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s", fr_last_error());
    size_t n = strlen(path);
    if (!strncmp(msg, path, n) && msg[n] == ':') return rc; /* the loader named it already */
    return fr_error(rc, "%.200s: %s", path, msg);
}

int fr_model_arch_load(const char *path, char *arch, size_t cap, struct fr_model_config *cfg) {
    struct fr_st_file *f = NULL;
    int rc = fr_st_open(path, &f);
    if (rc) return rc;
    rc = fr_model_meta_read(f->nmeta, (const char *const *)f->meta_keys,
                            (const char *const *)f->meta_vals, arch, cap, cfg);
    fr_st_close(f);
    return rc ? name_file(rc, path) : 0;
}

struct fr_model *fr_model_load(const char *path, int *has_mask) {
    char arch[32];
    struct fr_model_config mc;
    if (has_mask) *has_mask = 0;
    if (fr_model_arch_load(path, arch, sizeof arch, &mc)) return NULL;
    struct fr_model *m = fr_model_new(arch, &mc, 0);
    if (!m) return NULL;
    struct fr_ckpt o = {0};
    o.allow_extra = 1; /* a run checkpoint carries optimizer and run state too */
    int rc = fr_params_load_masked(&m->params, path, &o, has_mask);
    if (rc) {
        name_file(rc, path);
        fr_model_free(m);
        return NULL;
    }
    return m;
}
