/* sparsity_file.c: the sparsity table of a checkpoint file (prune.h,
 * fr_sparsity_table_file), what `frugal sparsity` prints.
 *
 * A frugal model checkpoint is rebuilt, so its scope is the model's own
 * (FR_PARAM_PRUNABLE or the caller's globs) and its mask is counted; any
 * other safetensors file (Hugging Face, a foreign trainer's) has no model
 * to ask, so it is read one tensor at a time and its scope is guessed from
 * shapes (two or more dims) unless globs name it.
 */
#include "frugal/io.h"
#include "frugal/lm.h"
#include "frugal/methods/prune.h"
#include "frugal/models.h"
#include "frugal/status.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 if name matches a glob of the comma list (empty patterns are skipped). */
static int glob_list(const char *list, const char *name) {
    char pat[256];
    for (const char *s = list; s && *s;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len && len < sizeof pat) {
            memcpy(pat, s, len);
            pat[len] = '\0';
            if (fnmatch(pat, name, 0) == 0) return 1;
        }
        s = e ? e + 1 : s + len;
    }
    return 0;
}

/* The table of a file that is not a frugal model checkpoint. */
static int table_from_file(const char *path, const char *include, const char *exclude,
                           struct fr_sparsity_table *t) {
    struct fr_st_file *f = NULL;
    int rc = fr_st_open(path, &f);
    if (rc) return rc;
    t->rows = calloc((size_t)(f->n > 0 ? f->n : 1), sizeof *t->rows);
    float *buf = NULL;
    if (!t->rows) {
        rc = fr_error(FR_ENOMEM, "sparsity: out of memory");
        goto cleanup;
    }
    for (int i = 0; i < f->n; i++) {
        const struct fr_st_entry *e = &f->entries[i];
        if (strncmp(e->name, "__", 2) == 0) continue;
        struct fr_sparsity_row *r = &t->rows[t->count];
        int ndim;
        if (fr_st_entry_ne(e, &ndim, r->ne)) continue; /* more than 4 dims: not a weight */
        float *nb = realloc(buf, (size_t)(e->nelem > 0 ? e->nelem : 1) * sizeof *buf);
        if (!nb) {
            rc = fr_error(FR_ENOMEM, "sparsity: out of memory for '%s'", e->name);
            goto cleanup;
        }
        buf = nb;
        fr_st_entry_to_f32(e, buf);
        snprintf(r->name, sizeof r->name, "%s", e->name);
        r->ndim = ndim;
        r->n = e->nelem;
        for (int64_t j = 0; j < e->nelem; j++)
            r->nonzero += buf[j] != 0.0f;
        r->in_scope = include && include[0] ? glob_list(include, e->name) : e->ndim >= 2;
        if (exclude && exclude[0] && glob_list(exclude, e->name)) r->in_scope = 0;
        t->total += r->n;
        t->total_nonzero += r->nonzero;
        if (r->in_scope) {
            t->scope += r->n;
            t->scope_nonzero += r->nonzero;
        }
        t->count++;
    }
cleanup:
    free(buf);
    fr_st_close(f);
    return rc;
}

/* The table of a model's slab on its scope. */
static int table_from_params(const struct fr_params *p, const char *include, const char *exclude,
                             struct fr_sparsity_table *t) {
    int *sel = calloc((size_t)(p->count > 0 ? p->count : 1), sizeof *sel);
    int rc = sel ? fr_prune_scope(p, include, exclude, sel) : fr_error(FR_ENOMEM, "out of memory");
    if (!rc) rc = fr_sparsity_table_params(p, sel, t);
    free(sel);
    return rc;
}

int fr_sparsity_table_file(const char *path, const char *include, const char *exclude,
                           struct fr_sparsity_table *t, int *mask) {
    struct fr_st_file *f = NULL;
    int rc, has_mask = 0;
    memset(t, 0, sizeof *t);
    if (mask) *mask = -1;
    if ((rc = fr_st_open(path, &f))) return rc;
    int is_model = fr_st_meta(f, "arch") != NULL;
    const char *kind = fr_st_meta(f, "frugal.model");
    int is_lm = kind && strcmp(kind, "transformer") == 0;
    fr_st_close(f);
    if (is_lm) { /* a transformer language model (lm.h), with its mask if stored */
        struct fr_tf_model lm;
        if ((rc = fr_lm_load_trainable(&lm, path, &has_mask))) return rc;
        rc = table_from_params(&lm.params, include, exclude, t);
        fr_tf_free(&lm);
    } else if (is_model) {
        struct fr_model *m = fr_model_load(path, &has_mask);
        if (!m) return FR_EINVAL; /* the message names the file */
        rc = table_from_params(&m->params, include, exclude, t);
        fr_model_free(m);
    } else {
        rc = table_from_file(path, include, exclude, t);
    }
    if (rc) {
        fr_sparsity_table_free(t);
        return rc;
    }
    if (mask && is_model) *mask = has_mask;
    return 0;
}
