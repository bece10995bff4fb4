/* prune_run.c: `frugal prune` as a library call (experiments/prune_run.h):
 * which kind of checkpoint a file is, the scoring data SNIP and GraSP
 * need, imp/isp on a task, the provenance written beside the mask, the
 * tokenizer copied beside an LM, and the counts of what is left. The
 * criteria themselves are methods/prune.h's and methods/lottery.h's. */
#include "frugal/experiments/prune_run.h"

#include "frugal/data.h"
#include "frugal/experiments/tasks.h"
#include "frugal/io.h"
#include "frugal/lm.h"
#include "frugal/methods/lottery.h"
#include "frugal/methods/prune.h"
#include "frugal/models.h"
#include "frugal/ops.h"
#include "frugal/report.h"
#include "frugal/status.h"
#include "frugal/tokenizer.h"
#include "frugal/transformer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fr_prune_file_config_defaults(struct fr_prune_file_config *c) {
    memset(c, 0, sizeof *c);
    c->method = "omp";
    c->sparsity = 0.5;
    c->scope = "";
    c->exclude = "";
    c->nm = "2:4";
    c->seed = 1;
    c->batch = 256;
    c->temperature = 200;
    c->text = "data/tinyshakespeare.txt";
    c->task = "fashion";
    c->weak = 4;
    c->lookahead = 40;
    c->subset = 0.1;
    c->merge = "trim";
    c->fit_batch = 64;
    c->lr = 1e-3;
}

/* 1 if path is an image-classifier checkpoint: metadata "arch" without
 * "frugal.model", or, with no "arch", the image sizes frugal train writes
 * (its loader then says what is missing, not the Hugging Face loader);
 * anything else is tried as a transformer. */
static int is_image_model(const char *path) {
    static const char *const image_keys[] = {"n_classes", "in_channels", "in_h", "in_w"};
    struct fr_st_file *f = NULL;
    if (fr_st_open(path, &f)) return 0;
    int r = !fr_st_meta(f, "frugal.model") && fr_st_meta(f, "arch");
    for (int i = 0; i < 4 && !r && !fr_st_meta(f, "frugal.model"); i++)
        r = fr_st_meta(f, image_keys[i]) != NULL;
    fr_st_close(f);
    return r;
}

/* ---------------- writing, with a rescue file ---------------- */

/* What a pruned checkpoint write needs, for fr_write_rescued. */
struct save_job {
    const struct fr_tf_model *lm; /* a language model ... */
    const struct fr_tokenizer *tok;
    const struct fr_params *p; /* ... or an image classifier's slab */
    const char *const *keys, *const *vals;
    int nmeta;
};

/* A language model's tokenizer goes first: a checkpoint never exists
 * without it. */
static int write_job(void *user, const char *path) {
    const struct save_job *j = user;
    int rc = fr_mkdirs_for(path);
    if (rc) return rc;
    if (j->p) {
        struct fr_ckpt o = {j->keys, j->vals, j->nmeta, NULL, 0, FR_F32, 0, 0};
        return fr_prune_save(j->p, path, &o);
    }
    char tp[4300];
    snprintf(tp, sizeof tp, "%s.tok", path);
    rc = j->tok ? fr_tokenizer_save(j->tok, tp) : 0;
    return rc ? rc : fr_tf_save_ex(j->lm, path, FR_F32, j->keys, j->vals, j->nmeta);
}

static int save_pruned(const struct save_job *j, const char *out) {
    int rc = write_job((void *)j, out);
    return rc ? fr_write_rescued(rc, out, "the pruned model", write_job, (void *)j, NULL, 0) : 0;
}

/* The data directory is readable: a typo fails before any scoring. */
static int check_data_dir(const char *dir) {
    struct stat st;
    if (!dir || !*dir) dir = FR_FMNIST_DIR;
    if (stat(dir, &st) != 0)
        return fr_error(FR_EIO, "dataset directory %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return fr_error(FR_EIO, "dataset directory %s: not a directory", dir);
    if (access(dir, R_OK | X_OK) != 0)
        return fr_error(FR_EIO, "dataset directory %s: %s", dir, strerror(errno));
    return 0;
}

static void count(const struct fr_params *p, const int *sel, struct fr_prune_file_result *r) {
    struct fr_sparsity_table t;
    if (fr_sparsity_table_params(p, sel, &t)) return;
    r->counted = 1;
    r->scope = t.scope, r->scope_nonzero = t.scope_nonzero;
    r->total = t.total, r->total_nonzero = t.total_nonzero;
    fr_sparsity_table_free(&t);
}

/* ---------------- language models ---------------- */

/* The SNIP / GraSP batch of an LM: windows of the first 90% of the text. */
static int lm_batch(struct fr_prune_lm_batch *b, struct fr_tf_model *m,
                    const struct fr_prune_file_config *c, struct fr_tokenizer *tok, float temp) {
    int32_t *ids = NULL;
    int64_t n = 0;
    int rc = fr_lm_load_split(c->text, tok, 0, &ids, &n);
    if (rc) return rc;
    int64_t T = m->cfg.max_seq, ntrain = n;
    if (ntrain < T + 2)
        rc = fr_error(FR_EINVAL, "%s: %lld training tokens, too few for windows of %lld", c->text,
                      (long long)ntrain, (long long)T);
    for (int64_t i = 0; i < n && !rc; i++)
        if (ids[i] < 0 || ids[i] >= m->cfg.vocab_size)
            rc = fr_error(FR_EINVAL, "%s: token %d is outside the model's vocabulary of %d",
                          c->text, ids[i], m->cfg.vocab_size);
    if (!rc) rc = fr_prune_lm_batch_init(b, m, ids, ntrain, c->batch, temp);
    free(ids);
    return rc;
}

static int prune_lm(const struct fr_prune_file_config *c, const struct fr_prune_config *pc,
                    float temp, struct fr_prune_file_result *r) {
    struct fr_tf_model m;
    struct fr_prune_lm_batch lb = {0};
    struct fr_tokenizer *tok = NULL;
    int *sel = NULL, rc;
    char tp[4096];
    if ((rc = fr_lm_load_trainable(&m, c->model, NULL))) return rc;
    snprintf(tp, sizeof tp, "%s.tok", c->model);
    if (access(tp, F_OK) == 0 && (rc = fr_tokenizer_load(tp, &tok))) goto cleanup;
    if ((rc = fr_lm_tokenizer_check(c->model, m.cfg.vocab_size, tok, 0))) goto cleanup;
    if (!(sel = calloc((size_t)m.params.count, sizeof *sel))) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto cleanup;
    }
    if ((rc = fr_prune_scope(&m.params, c->scope, c->exclude, sel))) goto cleanup;
    int scored = pc->method == FR_PRUNE_SNIP || pc->method == FR_PRUNE_GRASP;
    if (scored && !tok) {
        rc = fr_error(FR_EINVAL, "%s needs a tokenizer beside the model (%s) to score --text",
                      c->method, tp);
        goto cleanup;
    }
    if (scored && (rc = lm_batch(&lb, &m, c, tok, temp))) goto cleanup;
    if ((rc = fr_prune(&m.params, sel, pc, scored ? fr_prune_lm_batch_loss : NULL, &lb)))
        goto cleanup;
    char pv[4][96];
    const char *pk[4] = {"prune.method", "prune.sparsity", "prune.layerwise", FR_LM_TOKENIZER_KEY},
               *pvp[4];
    snprintf(pv[0], 64, "%s", c->method);
    if (pc->method == FR_PRUNE_NM)
        snprintf(pv[1], 64, "%d:%d", pc->nm_n, pc->nm_m);
    else
        snprintf(pv[1], 64, "%.17g", pc->sparsity);
    snprintf(pv[2], 64, "%d", pc->layerwise);
    /* the tokenizer the model was trained with stays named */
    if (fr_lm_tokenizer_named(c->model, pv[3], sizeof pv[3])) fr_clear_error();
    if (!pv[3][0] && tok && (rc = fr_lm_tokenizer_tag(tok, pv[3], sizeof pv[3]))) goto cleanup;
    for (int i = 0; i < 4; i++)
        pvp[i] = pv[i];
    struct save_job job = {
        .lm = &m, .tok = tok, .keys = pk, .vals = pvp, .nmeta = pv[3][0] ? 4 : 3};
    if ((rc = save_pruned(&job, c->out))) goto cleanup;
    count(&m.params, sel, r);
cleanup:
    fr_prune_lm_batch_free(&lb);
    fr_tokenizer_free(tok);
    free(sel);
    fr_tf_free(&m);
    return rc;
}

/* ---------------- image classifiers ---------------- */

/* The task's images must fit the model. */
static int check_task(const struct fr_model *m, const struct fr_task *t,
                      const struct fr_prune_file_config *c) {
    if (t->train.C != m->cfg.in_channels || t->train.H != m->cfg.in_h || t->train.W != m->cfg.in_w)
        return fr_error(FR_EINVAL, "the model takes %d x %d x %d images, task %s has %d x %d x %d",
                        m->cfg.in_channels, m->cfg.in_h, m->cfg.in_w, c->task, t->train.C,
                        t->train.H, t->train.W);
    if (t->train.nclass != m->cfg.n_classes)
        return fr_error(FR_EINVAL,
                        "the model has %d classes, task %s has %d (fine-tune it on the "
                        "task first, or pick its task)",
                        m->cfg.n_classes, c->task, t->train.nclass);
    if (c->fit_batch > t->train.n)
        return fr_error(FR_EINVAL, "--fit-batch %lld exceeds the %lld training images of task %s",
                        (long long)c->fit_batch, (long long)t->train.n, c->task);
    return 0;
}

/* IMP or ISP of m on its scope sel, with the accuracy on the task's test
 * split before and after. */
static int prune_iterative(struct fr_model *m, const int *sel, int isp,
                           const struct fr_prune_file_config *c, int64_t steps,
                           struct fr_prune_file_result *r) {
    struct fr_task t;
    int rc = fr_task_load(&t, c->task, c->data_dir, c->limit_train, c->seed);
    if (rc) return rc;
    struct fr_ctx *ctx = NULL;
    struct fr_lottery_result res;
    if ((rc = check_task(m, &t, c))) goto done;
    if (!(ctx = fr_ctx_new(64 << 20))) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = fr_evaluate(m, &t.test, NULL, ctx, 0, &r->acc_before, NULL))) goto done;
    struct fr_fit_classifier_config fit;
    fr_fit_classifier_config_defaults(&fit);
    fit.epochs = 0;
    fit.batch = (int)c->fit_batch;
    fit.lr = c->lr;
    fit.seed = c->seed;
    if (isp) {
        struct fr_isp_config ic;
        fr_isp_config_defaults(&ic);
        ic.sparsity = c->sparsity;
        if (c->rate > 0) ic.rate = c->rate;
        ic.n_weak = (int)c->weak;
        ic.lookahead = c->lookahead;
        ic.subset_frac = c->subset;
        ic.round_steps = steps;
        fit.steps = 1; /* the base protocol; its step counts come from the fields above */
        ic.fit = fit;
        ic.soup = c->soup;
        if (c->merge && strcmp(c->merge, "union") == 0) { /* the authors' rule */
            ic.merge = FR_ISP_MERGE_UNION;
            ic.vary = FR_ISP_VARY_SEED;
            if (!(c->rate > 0)) ic.rate = 0.1;
        }
        ic.workers = (int)c->workers;
        ic.seed = c->seed;
        rc = fr_isp(m, sel, &t.train, NULL, &ic, &res);
    } else {
        struct fr_imp_config ic;
        fr_imp_config_defaults(&ic);
        ic.sparsity = c->sparsity;
        if (c->rate > 0) ic.rate = c->rate;
        fit.steps = steps;
        ic.fit = fit;
        rc = fr_imp(m, sel, &t.train, NULL, &ic, &res);
    }
    if (rc) goto done;
    if ((rc = fr_evaluate(m, &t.test, NULL, ctx, 0, &r->acc_after, NULL))) goto done;
    r->trained = 1;
    snprintf(r->task, sizeof r->task, "%s", t.name);
    r->rounds = res.rounds;
    r->train_steps = res.steps;
    r->weak_steps = res.weak_steps;
    r->seconds = res.seconds;
done:
    fr_ctx_free(ctx);
    fr_task_free(&t);
    return rc;
}

/* The provenance beside the model's own metadata. */
static int write_image(const struct fr_model *m, const struct fr_prune_file_config *c,
                       const struct fr_prune_config *pc, int iterative, float temp,
                       const struct fr_prune_file_result *r) {
    char keys[FR_MODEL_META_MAX + 5][64], vals[FR_MODEL_META_MAX + 5][64];
    const char *kp[FR_MODEL_META_MAX + 5], *vp[FR_MODEL_META_MAX + 5];
    int n = fr_model_meta_write(m, keys, vals, FR_MODEL_META_MAX);
    snprintf(keys[n], 64, "prune.method");
    snprintf(vals[n++], 64, "%s", c->method);
    snprintf(keys[n], 64, "prune.sparsity");
    if (pc->method == FR_PRUNE_NM)
        snprintf(vals[n++], 64, "%d:%d", pc->nm_n, pc->nm_m);
    else
        snprintf(vals[n++], 64, "%.17g", c->sparsity);
    snprintf(keys[n], 64, "prune.layerwise");
    snprintf(vals[n++], 64, "%d", iterative ? 0 : c->layerwise);
    if (iterative) {
        snprintf(keys[n], 64, "prune.train_steps");
        snprintf(vals[n++], 64, "%lld", (long long)r->train_steps);
        if (iterative == 2) {
            snprintf(keys[n], 64, "prune.merge");
            snprintf(vals[n++], 64, "%s", c->merge ? c->merge : "trim");
        }
    } else if (pc->method == FR_PRUNE_GRASP) {
        snprintf(keys[n], 64, "prune.temperature");
        snprintf(vals[n++], 64, "%g", (double)temp);
    }
    for (int i = 0; i < n; i++)
        kp[i] = keys[i], vp[i] = vals[i];
    struct save_job job = {.p = &m->params, .keys = kp, .vals = vp, .nmeta = n};
    return save_pruned(&job, c->out);
}

static int prune_image(const struct fr_prune_file_config *c, const struct fr_prune_config *pc,
                       int iterative, float temp, struct fr_prune_file_result *r) {
    int64_t steps = c->steps ? c->steps : iterative == 1 ? 200 : 40;
    struct fr_dataset score = {0}; /* the SNIP / GraSP batch */
    struct fr_prune_batch bl = {.ds = &score};
    int *sel = NULL, rc = 0;
    struct fr_model *m = fr_model_load(c->model, NULL);
    if (!m) return FR_EINVAL; /* the message names the file */
    if (!(sel = calloc((size_t)m->params.count, sizeof *sel))) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto cleanup;
    }
    if ((rc = fr_prune_scope(&m->params, c->scope, c->exclude, sel))) goto cleanup;
    if (pc->method == FR_PRUNE_SNIP || pc->method == FR_PRUNE_GRASP) {
        if ((rc = check_data_dir(c->data_dir))) goto cleanup;
        if ((rc = fr_dataset_fashion_mnist(&score, c->data_dir, 1, c->batch))) goto cleanup;
        if (score.C != m->cfg.in_channels || score.H != m->cfg.in_h || score.W != m->cfg.in_w) {
            rc = fr_error(FR_EINVAL, "%s takes %d x %d x %d images, the data has %d x %d x %d",
                          c->model, m->cfg.in_channels, m->cfg.in_h, m->cfg.in_w, score.C, score.H,
                          score.W);
            goto cleanup;
        }
        bl.m = m;
        bl.temperature = temp;
        if (!(bl.ctx = fr_ctx_new(64 << 20))) {
            rc = fr_error(FR_ENOMEM, "out of memory");
            goto cleanup;
        }
    }
    if (iterative) {
        if ((rc = check_data_dir(c->data_dir)) ||
            (rc = prune_iterative(m, sel, iterative == 2, c, steps, r)))
            goto cleanup;
    } else if ((rc = fr_prune(&m->params, sel, pc, bl.ctx ? fr_prune_batch_loss : NULL, &bl))) {
        goto cleanup;
    }
    if ((rc = write_image(m, c, pc, iterative, temp, r))) goto cleanup;
    count(&m->params, sel, r);
cleanup:
    fr_ctx_free(bl.ctx);
    fr_dataset_free(&score);
    free(sel);
    fr_model_free(m);
    return rc;
}

int fr_prune_file(const struct fr_prune_file_config *c, struct fr_prune_file_result *r) {
    memset(r, 0, sizeof *r);
    const char *method = c->method ? c->method : "omp";
    int iterative = strcmp(method, "imp") == 0 ? 1 : strcmp(method, "isp") == 0 ? 2 : 0;
    int criterion = iterative ? FR_PRUNE_MAGNITUDE : fr_prune_method_parse(method);
    if (criterion < 0)
        return fr_error(FR_EINVAL,
                        "unknown pruning method '%s' (known: omp, random, nm, snip, "
                        "grasp, imp, isp)",
                        method);
    if (!c->model || !c->out) return fr_error(FR_EINVAL, "prune: no model or no output path");
    struct fr_prune_config pc;
    fr_prune_config_defaults(&pc);
    pc.method = (enum fr_prune_method)criterion;
    pc.sparsity = c->sparsity;
    pc.layerwise = c->layerwise;
    pc.seed = c->seed;
    int rc;
    if (pc.method == FR_PRUNE_NM && (rc = fr_prune_parse_nm(c->nm, &pc.nm_n, &pc.nm_m))) return rc;
    if (pc.method != FR_PRUNE_NM && !(c->sparsity >= 0 && c->sparsity < 1))
        return fr_error(FR_EINVAL, "sparsity %g must be in [0, 1)", c->sparsity);
    float temp = pc.method == FR_PRUNE_GRASP ? (float)c->temperature : 1.0f;
    if (iterative && !(c->sparsity > 0))
        return fr_error(FR_EINVAL, "--method %s needs a sparsity in (0, 1)", method);
    if (iterative && c->layerwise)
        return fr_error(FR_EINVAL,
                        "--layerwise does not apply to --method %s (global magnitude "
                        "each round)",
                        method);
    /* the output before the work (imp and isp train for minutes) */
    if ((rc = fr_check_writable(c->out))) return rc;
    if (is_image_model(c->model)) return prune_image(c, &pc, iterative, temp, r);
    if (iterative)
        return fr_error(FR_EINVAL,
                        "--method %s trains image classifiers; for a language model "
                        "use omp/random/nm/snip/grasp, then `frugal train-lm --init`",
                        method);
    r->language_model = 1;
    return prune_lm(c, &pc, temp, r);
}
