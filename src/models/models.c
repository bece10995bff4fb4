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
    /* fr_model_channels (NULL: no prunable channel layers) */
    int (*channels)(const struct fr_model *m, struct fr_channel_layer *out, int cap);
    int (*flops)(const struct fr_model *m, int64_t *dense, int64_t *sparse);
} g_arch[] = {
    {"mlp", fr_build_mlp, "fc3", NULL, NULL},
    {"cnn", fr_build_cnn, "fc2", NULL, NULL},
    {"resnet20", fr_build_resnet20, "linear", fr_resnet20_channels, fr_resnet20_flops},
    {"vgg-small", fr_build_vgg_small, "classifier", fr_vgg_small_channels, fr_vgg_small_flops},
    {"vit", fr_build_vit, "head", NULL, NULL},
    {"convnext", fr_build_convnext, "head", NULL, NULL},
    {"slak", fr_build_convnext, "head", NULL, NULL},
    {"nb201", fr_build_nb201, "classifier", NULL, fr_nb201_flops},
};
#define N_ARCH ((int)(sizeof g_arch / sizeof g_arch[0]))

const char *fr_model_list(void) {
    return "mlp, cnn, resnet20, vgg-small, vit, convnext, slak, nb201";
}

void fr_model_config_defaults(struct fr_model_config *c) {
    memset(c, 0, sizeof *c);
    c->n_classes = 10;
    c->in_channels = 1;
    c->in_h = 28;
    c->in_w = 28;
    c->mim = 0;
    c->width_mult = 1;
    c->nwidths = 0;
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
    if ((cfg->width_mult > 1 || cfg->nwidths != 0) && !g_arch[k].channels) {
        fr_error(FR_EINVAL,
                 "model '%s': width_mult %d / %d widths: only resnet20 and vgg-small take widths",
                 arch, cfg->width_mult, cfg->nwidths);
        return NULL;
    }
    int cnx = !strcmp(g_arch[k].name, "convnext") || !strcmp(g_arch[k].name, "slak");
    if ((cfg->fd_channels && strcmp(g_arch[k].name, "convnext") != 0) || cfg->fd_channels < 0 ||
        cfg->fd_channels > 1 << 16) {
        fr_error(FR_EINVAL,
                 "model '%s': fd_channels %d: a projection for feature distillation is "
                 "for convnext students (1..65536)",
                 arch, cfg->fd_channels);
        return NULL;
    }
    if (!cnx && (cfg->kernels[0] || cfg->kernels[1] || cfg->kernels[2] || cfg->small_kernel ||
                 cfg->merged)) {
        fr_error(FR_EINVAL, "model '%s': kernel sizes and merged are for convnext and slak", arch);
        return NULL;
    }
    if (strcmp(g_arch[k].name, "nb201") != 0 &&
        (cfg->nb201.c || cfg->nb201.n ||
         memcmp(cfg->nb201.ops, (int[6]){0}, sizeof cfg->nb201.ops) != 0)) {
        fr_error(FR_EINVAL, "model '%s': a NAS-Bench-201 cell is for nb201", arch);
        return NULL;
    }
    if (cfg->nb201.c < 0 || cfg->nb201.n < 0) {
        fr_error(FR_EINVAL, "model '%s': nb201 C %d / N %d must not be negative", arch,
                 cfg->nb201.c, cfg->nb201.n);
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
    if (m->cfg.width_mult > 1 && n < max) {
        snprintf(keys[n], 64, "width_mult");
        snprintf(vals[n], 64, "%d", m->cfg.width_mult);
        n++;
    }
    if ((m->cfg.kernels[0] || m->cfg.kernels[1] || m->cfg.kernels[2]) && n < max) {
        snprintf(keys[n], 64, "kernels");
        snprintf(vals[n], 64, "%d,%d,%d", m->cfg.kernels[0], m->cfg.kernels[1], m->cfg.kernels[2]);
        n++;
    }
    if (m->cfg.data[0] && n < max) {
        snprintf(keys[n], 64, "data");
        snprintf(vals[n], 64, "%s", m->cfg.data);
        n++;
    }
    if (m->cfg.fd_channels && n < max) {
        snprintf(keys[n], 64, "fd_channels");
        snprintf(vals[n], 64, "%d", m->cfg.fd_channels);
        n++;
    }
    if (m->cfg.small_kernel && n < max) {
        snprintf(keys[n], 64, "small_kernel");
        snprintf(vals[n], 64, "%d", m->cfg.small_kernel);
        n++;
    }
    if (!strcmp(m->arch, "nb201") && n < max) {
        /* "304123:16:1": the ops' digits, C, N */
        snprintf(keys[n], 64, "nb201");
        char *v = vals[n];
        for (int e = 0; e < FR_NB201_EDGES; e++)
            v[e] = (char)('0' + m->cfg.nb201.ops[e]);
        snprintf(v + FR_NB201_EDGES, 64 - FR_NB201_EDGES, ":%d:%d",
                 m->cfg.nb201.c ? m->cfg.nb201.c : FR_NB201_DEFAULT_C,
                 m->cfg.nb201.n ? m->cfg.nb201.n : FR_NB201_DEFAULT_N);
        n++;
    }
    if (m->cfg.merged && n < max) {
        snprintf(keys[n], 64, "merged");
        snprintf(vals[n], 64, "1");
        n++;
    }
    if (m->cfg.nwidths > 0 && n < max) {
        snprintf(keys[n], 64, "widths");
        size_t used = 0;
        vals[n][0] = 0;
        for (int i = 0; i < m->cfg.nwidths && used < 64; i++)
            used +=
                (size_t)snprintf(vals[n] + used, 64 - used, "%s%d", i ? "," : "", m->cfg.widths[i]);
        n++;
    }
    return n;
}

/* "16,12,9": the widths list of the metadata. */
static int parse_widths(const char *v, struct fr_model_config *cfg) {
    int n = 0;
    const char *s = v;
    while (*s) {
        char *end;
        if (*s < '0' || *s > '9') return -1;
        long w = strtol(s, &end, 10);
        if (end == s || w < 1 || w > 1 << 16 || n >= FR_MODEL_MAX_WIDTHS) return -1;
        cfg->widths[n++] = (int)w;
        if (*end == ',' && end[1])
            s = end + 1;
        else if (*end == 0)
            s = end;
        else
            return -1;
    }
    if (n == 0) return -1;
    cfg->nwidths = n;
    return 0;
}

int fr_parse_kernels(const char *v, int *k) {
    int n = 0;
    const char *s = v;
    while (*s && n < 3) {
        char *end;
        if (*s < '0' || *s > '9') return -1;
        long w = strtol(s, &end, 10);
        if (end == s || w < 0 || w > 1 << 12) return -1;
        k[n++] = (int)w;
        if (*end == ',' && end[1] && n < 3)
            s = end + 1;
        else if (*end == 0)
            s = end;
        else
            return -1;
    }
    return n == 3 && !*s ? 0 : -1;
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
        if (strcmp(k, "width_mult") == 0) dst = &cfg->width_mult;
        if (strcmp(k, "small_kernel") == 0) dst = &cfg->small_kernel;
        if (strcmp(k, "fd_channels") == 0) dst = &cfg->fd_channels;
        if (strcmp(k, "data") == 0) {
            if (strlen(v) >= sizeof cfg->data)
                return fr_error(FR_EFORMAT, "checkpoint: metadata 'data' = '%.60s' is too long", v);
            snprintf(cfg->data, sizeof cfg->data, "%s", v);
            continue;
        }
        if (strcmp(k, "merged") == 0) {
            if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
                return fr_error(FR_EFORMAT, "checkpoint: metadata 'merged' = '%s' is not 0 or 1",
                                v);
            cfg->merged = v[0] - '0';
            continue;
        }
        if (strcmp(k, "nb201") == 0) {
            int ok = strlen(v) > FR_NB201_EDGES && v[FR_NB201_EDGES] == ':';
            for (int e = 0; ok && e < FR_NB201_EDGES; e++) {
                ok = v[e] >= '0' && v[e] < '0' + FR_NB201_NOPS;
                if (ok) cfg->nb201.ops[e] = v[e] - '0';
            }
            char tail[64] = "";
            if (ok)
                ok = sscanf(v + FR_NB201_EDGES, ":%d:%d%63s", &cfg->nb201.c, &cfg->nb201.n, tail) ==
                         2 &&
                     cfg->nb201.c >= 1 && cfg->nb201.c <= 4096 && cfg->nb201.n >= 1 &&
                     cfg->nb201.n <= 64;
            if (!ok)
                return fr_error(FR_EFORMAT,
                                "checkpoint: metadata 'nb201' = '%.60s' is not OPS:C:N (six op "
                                "digits 0-4, channels, cells per stage)",
                                v);
            continue;
        }
        if (strcmp(k, "kernels") == 0) {
            if (fr_parse_kernels(v, cfg->kernels) != 0)
                return fr_error(FR_EFORMAT,
                                "checkpoint: metadata 'kernels' = '%s' is not three kernel sizes",
                                v);
            continue;
        }
        if (strcmp(k, "widths") == 0) {
            if (parse_widths(v, cfg) != 0)
                return fr_error(FR_EFORMAT,
                                "checkpoint: metadata 'widths' = '%s' is not a list of up to %d "
                                "channel counts",
                                v, FR_MODEL_MAX_WIDTHS);
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

int fr_model_save(const struct fr_model *m, const char *path) {
    char keys[FR_MODEL_META_MAX][64], vals[FR_MODEL_META_MAX][64];
    const char *kp[FR_MODEL_META_MAX], *vp[FR_MODEL_META_MAX];
    int n = fr_model_meta_write(m, keys, vals, FR_MODEL_META_MAX);
    for (int i = 0; i < n; i++)
        kp[i] = keys[i], vp[i] = vals[i];
    struct fr_ckpt o = {kp, vp, n, NULL, 0, FR_F32, 0, 0};
    return fr_params_save_masked(&m->params, path, &o);
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

/* ---- channels ---- */

int fr_model_has_channels(const char *arch) {
    for (int i = 0; arch && i < N_ARCH; i++)
        if (strcmp(arch, g_arch[i].name) == 0) return g_arch[i].channels != NULL;
    return 0;
}

int fr_model_channels(const struct fr_model *m, struct fr_channel_layer *out, int cap) {
    for (int i = 0; i < N_ARCH; i++)
        if (strcmp(m->arch, g_arch[i].name) == 0)
            return g_arch[i].channels ? g_arch[i].channels(m, out, cap) : 0;
    return 0;
}

static struct fr_param *param_of(const struct fr_params *p, const struct fr_tensor *t) {
    for (int i = 0; i < p->count; i++)
        if (p->items[i].t == t) return &p->items[i];
    return NULL;
}

int fr_zoo_channel_layer(const struct fr_params *p, struct fr_channel_layer *out, const char *name,
                         const struct fr_conv *conv, const struct fr_bn *bn,
                         const struct fr_conv *next) {
    memset(out, 0, sizeof *out);
    out->w = param_of(p, conv->w);
    out->bn[0] = param_of(p, bn->w);
    out->bn[1] = param_of(p, bn->b);
    out->bn[2] = param_of(p, bn->mean);
    out->bn[3] = param_of(p, bn->var);
    out->next = param_of(p, next->w);
    if (!out->w || !out->next || !out->bn[0] || !out->bn[1] || !out->bn[2] || !out->bn[3])
        return fr_error(FR_EINVAL, "model: a channel layer's tensors are not in its slab");
    if (name)
        snprintf(out->name, sizeof out->name, "%s", name);
    else {
        snprintf(out->name, sizeof out->name, "%.63s", out->w->name);
        char *dot = strrchr(out->name, '.');
        if (dot) *dot = 0;
    }
    out->C = conv->cout;
    out->filter = conv->cin * conv->k * conv->k;
    out->next_k2 = (int64_t)next->k * next->k;
    out->next_out = next->cout;
    return 0;
}

int fr_zoo_check_widths(const struct fr_model *m, const char *arch, int nlayers, int max_width) {
    const struct fr_model_config *c = &m->cfg;
    if (c->width_mult < 0 || c->width_mult > 64)
        return fr_error(FR_EINVAL, "%s: width_mult %d must be in 1..64", arch, c->width_mult);
    if (c->nwidths != 0 && c->nwidths != nlayers)
        return fr_error(FR_EINVAL, "%s: %d widths given, it has %d channel layers", arch,
                        c->nwidths, nlayers);
    for (int i = 0; i < c->nwidths; i++)
        if (c->widths[i] < 1 || c->widths[i] > max_width)
            return fr_error(FR_EINVAL, "%s: width %d of channel layer %d must be in 1..%d", arch,
                            c->widths[i], i, max_width);
    return 0;
}

/* dst = src gathered along each dimension d through keep[d] (NULL: every
 * index): dst's shape is the kept counts. */
static void gather4(float *dst, const float *src, const int64_t *ne, const int64_t *const *keep,
                    const int64_t *cnt) {
    int64_t o = 0;
    for (int64_t i3 = 0; i3 < cnt[3]; i3++) {
        int64_t s3 = keep[3] ? keep[3][i3] : i3;
        for (int64_t i2 = 0; i2 < cnt[2]; i2++) {
            int64_t s2 = keep[2] ? keep[2][i2] : i2;
            for (int64_t i1 = 0; i1 < cnt[1]; i1++) {
                int64_t s1 = keep[1] ? keep[1][i1] : i1;
                const float *row = src + ((s3 * ne[2] + s2) * ne[1] + s1) * ne[0];
                for (int64_t i0 = 0; i0 < cnt[0]; i0++)
                    dst[o++] = row[keep[0] ? keep[0][i0] : i0];
            }
        }
    }
}

struct fr_model *fr_model_shrink(const struct fr_model *m, const uint8_t *const *alive) {
    struct fr_channel_layer L[FR_MODEL_MAX_WIDTHS];
    int nl = fr_model_channels(m, L, FR_MODEL_MAX_WIDTHS);
    if (nl < 0) return NULL;
    if (nl == 0) {
        fr_error(FR_EINVAL,
                 "shrink: model '%s' has no prunable channel layers (resnet20 and "
                 "vgg-small have)",
                 m->arch);
        return NULL;
    }
    struct fr_model_config cfg = m->cfg;
    int64_t *keep[FR_MODEL_MAX_WIDTHS] = {0};
    struct fr_model *s = NULL;
    int ok = 1;
    cfg.nwidths = nl;
    for (int l = 0; l < nl && ok; l++) {
        if (!(keep[l] = malloc((size_t)L[l].C * sizeof **keep))) {
            fr_error(FR_ENOMEM, "shrink: out of memory");
            ok = 0;
            break;
        }
        int64_t k = 0;
        for (int64_t c = 0; c < L[l].C; c++)
            if (alive[l][c]) keep[l][k++] = c;
        if (k == 0) {
            fr_error(FR_EINVAL, "shrink: channel layer %s would keep no channel", L[l].name);
            ok = 0;
        }
        cfg.widths[l] = (int)k;
    }
    if (ok && !(s = fr_model_new(m->arch, &cfg, 0))) ok = 0;
    if (ok && m->params.mask && fr_params_mask_init(&s->params)) ok = 0;
    for (int i = 0; ok && i < m->params.count; i++) {
        const struct fr_param *src = &m->params.items[i];
        struct fr_param *dst = fr_params_find(&s->params, src->name);
        if (!dst) {
            fr_error(FR_EINVAL, "shrink: %s has no counterpart in the narrow model", src->name);
            ok = 0;
            break;
        }
        /* per dimension: the channel layer whose kept channels slice it (-1: whole) */
        int64_t ne[4] = {1, 1, 1, 1}, cnt[4];
        int by[4] = {-1, -1, -1, -1};
        for (int d = 0; d < src->t->ndim && d < 4; d++)
            ne[d] = src->t->ne[d];
        for (int l = 0; l < nl; l++) {
            if (src == L[l].w) by[3] = l;    /* its output channels */
            if (src == L[l].next) by[2] = l; /* the consumer's input channels */
            for (int b = 0; b < 4; b++)
                if (src == L[l].bn[b]) by[0] = l;
        }
        const int64_t *kp[4];
        int64_t want = 1;
        for (int d = 0; d < 4; d++) {
            kp[d] = by[d] < 0 ? NULL : keep[by[d]];
            cnt[d] = by[d] < 0 ? ne[d] : cfg.widths[by[d]];
            want *= cnt[d];
        }
        if (src->t->ndim > 4 || want != fr_nelem(dst->t)) {
            fr_error(FR_EINVAL, "shrink: %s does not slice to the narrow model's shape", src->name);
            ok = 0;
            break;
        }
        gather4(s->params.data + dst->offset, m->params.data + src->offset, ne, kp, cnt);
        if (m->params.mask)
            gather4(s->params.mask + dst->offset, m->params.mask + src->offset, ne, kp, cnt);
    }
    for (int l = 0; l < nl; l++)
        free(keep[l]);
    if (!ok) {
        fr_model_free(s);
        return NULL;
    }
    return s;
}

int fr_model_flops(const struct fr_model *m, int64_t *dense, int64_t *sparse) {
    *dense = *sparse = 0;
    for (int i = 0; i < N_ARCH; i++)
        if (strcmp(m->arch, g_arch[i].name) == 0 && g_arch[i].flops)
            return g_arch[i].flops(m, dense, sparse);
    return fr_error(FR_EINVAL,
                    "flops: not counted for model '%s' (resnet20, vgg-small and nb201 are)",
                    m->arch);
}

void fr_zoo_flops(const struct fr_params *p, const struct fr_tensor *w, int64_t ho, int64_t wo,
                  int64_t *dense, int64_t *sparse) {
    const struct fr_param *it = param_of(p, w);
    int64_t n = fr_nelem(w), kept = 0;
    const float *v = it ? (p->mask ? p->mask : p->data) + it->offset : NULL;
    for (int64_t j = 0; v && j < n; j++)
        kept += v[j] != 0.0f;
    *dense += 2 * n * ho * wo;
    *sparse += 2 * kept * ho * wo;
}
