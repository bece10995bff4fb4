/* cmd_sparsity.c: `frugal sparsity CKPT`: per-tensor sparsity of a
 * checkpoint: name, PyTorch-order shape, nonzeros, elements, sparsity, and
 * whether the tensor is in the pruning scope; then the overall sparsity of
 * all weights and of the scope.
 *
 * A checkpoint whose metadata names a frugal model is rebuilt (so the scope
 * is the model's prunable weights, or --scope/--exclude, and a stored mask
 * is counted); any other safetensors file is read tensor by tensor (scope:
 * every tensor of two or more dims, or --scope/--exclude by name). Trainer
 * state ("__..." arrays) is never counted.
 */
#include "args.h"
#include "cmd.h"

#include "frugal/io.h"
#include "frugal/lm.h"
#include "frugal/models.h"
#include "frugal/methods/prune.h"
#include "frugal/status.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void shape_str(const struct fr_sparsity_row *r, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int d = r->ndim - 1; d >= 0 && k < n; d--)
        k += (size_t)snprintf(buf + k, n - k, "%lld%s", (long long)r->ne[d], d ? ", " : "");
    if (k < n) snprintf(buf + k, n - k, ")");
}

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
static int table_from_file(const char *path, const char *scope, const char *exclude,
                           struct fr_sparsity_table *t) {
    struct fr_st_file *f = NULL;
    int rc = fr_st_open(path, &f);
    if (rc) return rc;
    memset(t, 0, sizeof *t);
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
        for (int64_t j = 0; j < e->nelem; j++) r->nonzero += buf[j] != 0.0f;
        r->in_scope = scope && scope[0] ? glob_list(scope, e->name) : e->ndim >= 2;
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
    if (rc) fr_sparsity_table_free(t);
    return rc;
}

static double pct(int64_t nonzero, int64_t n) {
    return n > 0 ? 100.0 * (1.0 - (double)nonzero / (double)n) : 0.0;
}

int cmd_sparsity(int argc, char **argv) {
    const char *scope = "", *exclude = "";
    struct arg_flag flags[] = {
        {.name = "scope", .type = ARG_STR, .dst = &scope, .help = "comma list of name globs in the scope (empty: prunable weights)"},
        {.name = "exclude", .type = ARG_STR, .dst = &exclude, .help = "comma list of name globs left out of the scope"},
    };
    struct arg_cmd spec = {
        .name = "sparsity",
        .synopsis = "frugal sparsity CKPT [flags]",
        .about = "Prints each tensor's nonzeros and sparsity, then the overall sparsity\n"
                           "of all weights and of the pruning scope.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
        .min_pos = 1,
        .max_pos = 1,
    };
    const char *pos[1];
    int npos = 0, rc = cli_begin(&spec, argc, argv, pos, &npos);
    if (rc != CLI_GO) return rc;
    fr_clear_error();
    struct fr_st_file *f = NULL;
    if (fr_st_open(pos[0], &f)) return cli_fail("sparsity", "%s", fr_last_error());
    int is_model = fr_st_meta(f, "arch") != NULL;
    const char *kind = fr_st_meta(f, "frugal.model");
    int is_lm = kind && strcmp(kind, "transformer") == 0;
    fr_st_close(f);

    struct fr_sparsity_table t = {0};
    struct fr_model *m = NULL;
    struct fr_tf_model lm = {0};
    int *sel = NULL, has_mask = 0;
    rc = EXIT_OK;
    if (is_lm) { /* a transformer language model (lm.h), with its mask if stored */
        if (fr_lm_load_trainable(&lm, pos[0], &has_mask)) {
            rc = cli_fail("sparsity", "%s", fr_last_error());
            goto cleanup;
        }
        if (!(sel = calloc((size_t)lm.params.count, sizeof *sel)) ||
            fr_prune_scope(&lm.params, scope, exclude, sel) ||
            fr_sparsity_table_params(&lm.params, sel, &t)) {
            rc = cli_fail("sparsity", "%s", fr_last_error()[0] ? fr_last_error() : "out of memory");
            goto cleanup;
        }
    } else if (is_model) {
        if (!(m = fr_model_load(pos[0], &has_mask))) {
            rc = cli_fail("sparsity", "%s", fr_last_error());
            goto cleanup;
        }
        if (!(sel = calloc((size_t)m->params.count, sizeof *sel)) ||
            fr_prune_scope(&m->params, scope, exclude, sel) ||
            fr_sparsity_table_params(&m->params, sel, &t)) {
            rc = cli_fail("sparsity", "%s", fr_last_error()[0] ? fr_last_error() : "out of memory");
            goto cleanup;
        }
    } else if (table_from_file(pos[0], scope, exclude, &t)) {
        rc = cli_fail("sparsity", "%s", fr_last_error());
        goto cleanup;
    }
    int width = 6;
    for (int i = 0; i < t.count; i++) {
        int l = (int)strlen(t.rows[i].name);
        if (l > width) width = l > 60 ? 60 : l;
    }
    printf("%-*s  %-20s %12s %12s %9s  %s\n", width, "tensor", "shape", "nonzero", "elements",
           "sparsity", "scope");
    for (int i = 0; i < t.count; i++) {
        const struct fr_sparsity_row *r = &t.rows[i];
        char sh[96];
        shape_str(r, sh, sizeof sh);
        printf("%-*s  %-20s %12lld %12lld %8.2f%%  %s\n", width, r->name, sh, (long long)r->nonzero,
               (long long)r->n, pct(r->nonzero, r->n), r->in_scope ? "yes" : "-");
    }
    printf("overall (all tensors) %lld of %lld nonzero, sparsity %.2f%%\n",
           (long long)t.total_nonzero, (long long)t.total, pct(t.total_nonzero, t.total));
    printf("overall (scope)       %lld of %lld nonzero, sparsity %.2f%%%s\n",
           (long long)t.scope_nonzero, (long long)t.scope, pct(t.scope_nonzero, t.scope),
           is_model ? (has_mask ? " (mask stored)" : " (no mask stored)") : "");
cleanup:
    fr_sparsity_table_free(&t);
    free(sel);
    fr_model_free(m);
    fr_tf_free(&lm);
    return rc;
}
