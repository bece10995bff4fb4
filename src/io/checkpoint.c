/* checkpoint.c: a parameter slab (params.h) and a trainer's extra state as
 * one safetensors file.
 *
 * Every parameter is a tensor under its own name and PyTorch-order shape, so
 * the file opens in PyTorch (safetensors.torch.load_file) as a state dict.
 * Extra arrays (optimizer moments, RNG bytes, counters) are 1-D tensors under
 * names the caller picks, by convention starting with "__".
 *
 * Loading checks everything first (presence, shapes, sizes, dtypes, unknown
 * tensors, finite values) and only then copies, so a failed load leaves the
 * slab as it was. The finiteness check is one pass over the mapped bytes
 * (fr_first_nonfinite), a fraction of the conversion's own cost.
 */
#include "frugal/io.h"
#include "frugal/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fr_params_save(const struct fr_params *p, const char *path, const struct fr_ckpt *opt) {
    static const struct fr_ckpt none;
    if (!opt) opt = &none;
    if (!p->allocated) return fr_error(FR_EINVAL, "params save: slab not allocated");
    if (opt->store != FR_F32 && opt->store != FR_F16 && opt->store != FR_BF16)
        return fr_error(FR_EINVAL, "params save: store dtype must be F32, F16 or BF16");
    int n = p->count + opt->nblobs;
    struct fr_st_out *t = calloc((size_t)n + 1, sizeof *t);
    if (!t) return fr_error(FR_ENOMEM, "params save: out of memory");
    for (int i = 0; i < p->count; i++) {
        const struct fr_param *it = &p->items[i];
        t[i].name = it->name;
        t[i].dtype = FR_F32;
        t[i].store = opt->store;
        t[i].ndim = it->t->ndim;
        memcpy(t[i].ne, it->t->ne, sizeof t[i].ne);
        t[i].data = p->data + it->offset;
    }
    for (int i = 0; i < opt->nblobs; i++) {
        const struct fr_ckpt_blob *b = &opt->blobs[i];
        struct fr_st_out *o = &t[p->count + i];
        o->name = b->name;
        o->dtype = b->dtype;
        o->ndim = 1;
        o->ne[0] = b->n;
        o->data = b->data;
    }
    int rc = fr_st_write(path, t, n, opt->meta_keys, opt->meta_vals, opt->nmeta);
    free(t);
    return rc;
}

/* rc, with the path put in front of the current message when rc != 0. */
static int with_path(int rc, const char *path) {
    if (!rc) return 0;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", fr_last_error());
    return fr_error(rc, "%s: %s", path, msg);
}

static int is_float(enum fr_dtype dt) {
    return dt == FR_F32 || dt == FR_F16 || dt == FR_BF16 || dt == FR_F64;
}

/* Checks one blob against the file; sets b->found. */
static int check_blob(const struct fr_st_file *f, struct fr_ckpt_blob *b, const char *path) {
    const struct fr_st_entry *e = fr_st_find(f, b->name);
    b->found = e != NULL;
    if (!e) {
        if (b->optional) return 0;
        return fr_error(FR_ENOTFOUND, "%s: checkpoint has no '%s' (a resume needs it)", path,
                        b->name);
    }
    if (e->nelem != b->n)
        return fr_error(FR_EINVAL, "%s: '%s' has %lld elements but %lld are expected", path,
                        b->name, (long long)e->nelem, (long long)b->n);
    int ok = b->dtype == FR_F32 ? is_float(e->dtype) : (e->dtype == b->dtype && !e->is_bool);
    if (!ok) return fr_error(FR_EINVAL, "%s: '%s' has the wrong dtype", path, b->name);
    if (b->dtype == FR_F32) return with_path(fr_st_check_finite(e), path);
    return 0;
}

static int is_blob(const struct fr_ckpt *opt, const char *name) {
    for (int i = 0; i < opt->nblobs; i++)
        if (strcmp(opt->blobs[i].name, name) == 0) return 1;
    return 0;
}

int fr_params_load(struct fr_params *p, const char *path, struct fr_ckpt *opt) {
    struct fr_ckpt none = {0};
    if (!opt) opt = &none;
    opt->n_ignored = 0;
    if (!p->allocated) return fr_error(FR_EINVAL, "params load: slab not allocated");
    struct fr_st_file *f = NULL;
    int rc = fr_st_open(path, &f);
    if (rc) return rc;
    for (int i = 0; i < p->count; i++) {
        const struct fr_param *it = &p->items[i];
        const struct fr_st_entry *e = fr_st_find(f, it->name);
        if (!e) {
            char buf[96];
            rc = fr_error(FR_ENOTFOUND, "%s: checkpoint has no tensor '%s' (model expects %s)",
                          path, it->name, fr_shape_str(it->t, buf, sizeof buf));
            goto cleanup;
        }
        if (!is_float(e->dtype)) {
            rc = fr_error(FR_EINVAL, "%s: tensor '%s' is not a float tensor", path, it->name);
            goto cleanup;
        }
        if ((rc = with_path(fr_st_check_shape(e, it->t->ndim, it->t->ne), path)) ||
            (rc = with_path(fr_st_check_finite(e), path)))
            goto cleanup;
    }
    for (int i = 0; i < opt->nblobs; i++)
        if ((rc = check_blob(f, &opt->blobs[i], path))) goto cleanup;
    for (int i = 0; i < f->n; i++) {
        const char *name = f->entries[i].name;
        if (fr_params_find(p, name) || is_blob(opt, name)) continue;
        if (!opt->allow_extra) {
            rc = fr_error(FR_EINVAL, "%s: checkpoint has tensor '%s' that the model does not have",
                          path, name);
            goto cleanup;
        }
        opt->n_ignored++;
    }

    for (int i = 0; i < p->count; i++)
        fr_st_entry_to_f32(fr_st_find(f, p->items[i].name), p->data + p->items[i].offset);
    for (int i = 0; i < opt->nblobs; i++) {
        struct fr_ckpt_blob *b = &opt->blobs[i];
        const struct fr_st_entry *e = fr_st_find(f, b->name);
        if (!e) continue;
        if (b->dtype == FR_F32)
            fr_st_entry_to_f32(e, b->data);
        else if (e->nbytes)
            memcpy(b->data, e->data, e->nbytes);
    }
cleanup:
    fr_st_close(f);
    return rc;
}

/* ---------------- the keep-mask beside the weights ---------------- */

#define MAX_BLOBS 16

int fr_params_save_masked(const struct fr_params *p, const char *path, const struct fr_ckpt *opt) {
    struct fr_ckpt o = {0};
    struct fr_ckpt_blob b[MAX_BLOBS];
    if (opt) o = *opt;
    if (o.nblobs > MAX_BLOBS - 1)
        return fr_error(FR_EINVAL, "checkpoint: at most %d extra blobs next to the mask",
                        MAX_BLOBS - 1);
    if (!p->mask) return fr_params_save(p, path, &o);
    uint8_t *m = malloc((size_t)p->n);
    if (!m) return fr_error(FR_ENOMEM, "checkpoint: out of memory for the mask");
    for (int64_t i = 0; i < p->n; i++)
        m[i] = p->mask[i] != 0.0f;
    for (int i = 0; i < o.nblobs; i++)
        b[i] = o.blobs[i];
    b[o.nblobs] = (struct fr_ckpt_blob){FR_MASK_BLOB, FR_U8, m, p->n, 0, 0};
    o.blobs = b;
    o.nblobs++;
    int rc = fr_params_save(p, path, &o);
    free(m);
    return rc;
}

int fr_params_load_masked(struct fr_params *p, const char *path, struct fr_ckpt *opt,
                          int *has_mask) {
    struct fr_ckpt o = {0};
    struct fr_ckpt_blob b[MAX_BLOBS];
    if (opt) o = *opt;
    if (has_mask) *has_mask = 0;
    if (o.nblobs > MAX_BLOBS - 1)
        return fr_error(FR_EINVAL, "checkpoint: at most %d extra blobs next to the mask",
                        MAX_BLOBS - 1);
    uint8_t *m = malloc((size_t)(p->n > 0 ? p->n : 1));
    if (!m) return fr_error(FR_ENOMEM, "checkpoint: out of memory for the mask");
    for (int i = 0; i < o.nblobs; i++)
        b[i] = o.blobs[i];
    b[o.nblobs] = (struct fr_ckpt_blob){FR_MASK_BLOB, FR_U8, m, p->n, 1, 0};
    o.blobs = b;
    o.nblobs++;
    int rc = fr_params_load(p, path, &o);
    if (rc) goto cleanup;
    if (opt) {
        for (int i = 0; i < opt->nblobs; i++)
            opt->blobs[i].found = b[i].found;
        opt->n_ignored = o.n_ignored;
    }
    if (b[o.nblobs - 1].found) {
        if ((rc = fr_params_mask_init(p))) goto cleanup;
        for (int64_t i = 0; i < p->n; i++)
            p->mask[i] = m[i] ? 1.0f : 0.0f;
        fr_params_apply_mask(p);
        if (has_mask) *has_mask = 1;
    }
cleanup:
    free(m);
    return rc;
}
