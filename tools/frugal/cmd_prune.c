/* cmd_prune.c: `frugal prune --model CKPT --method M --sparsity S --out F`:
 * prunes an image-classifier checkpoint (written by frugal train) and
 * writes the pruned weights with their keep-mask ("__mask__", prune.h), so
 * fine-tuning and `frugal sparsity` see which weights were removed.
 *
 * The checkpoint's metadata names its architecture, so the model is rebuilt
 * from it. SNIP and GraSP score weights on the first --batch training
 * images of Fashion-MNIST (training mode, as the papers do). Everything is
 * checked before the output is written, and the write is atomic, so a
 * failure never leaves a partial file.
 *
 * --method imp and isp train while they prune (lottery.h): IMP with
 * rewinding to the checkpoint's weights (the ticket is written, not
 * fine-tuned), Instant Soup Pruning (the pruned, trained model is written),
 * on --task (the Fashion-MNIST training split or a tasks.h task), scored on
 * that task's test split before and after.
 *
 * A transformer language model (any file fr_tf_load reads: frugal, Hugging
 * Face safetensors, llama2.c) is loaded into an f32 slab with its stored
 * mask (lm.h); its scope is the body's attention and MLP matrices
 * (embeddings, norms, biases, positions and the LM head stay dense). SNIP
 * and GraSP score it on --batch windows of the model's context taken evenly
 * from the training part (first 90%) of --text, tokenized with MODEL.tok.
 * The output is a frugal transformer checkpoint with "__mask__", and the
 * tokenizer is copied to OUT.tok so perplexity/generate find it.
 */
#include "args.h"
#include "cmd.h"

#include "frugal/data.h"
#include "frugal/io.h"
#include "frugal/lm.h"
#include "frugal/methods/lottery.h"
#include "frugal/models.h"
#include "frugal/ops.h"
#include "frugal/methods/prune.h"
#include "frugal/status.h"
#include "frugal/experiments/tasks.h"
#include "frugal/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 if path is an image-classifier checkpoint (metadata "arch" without
 * "frugal.model"); anything else is tried as a transformer. */
static int is_image_model(const char *path) {
    struct fr_st_file *f = NULL;
    if (fr_st_open(path, &f)) return 0;
    int r = fr_st_meta(f, "arch") && !fr_st_meta(f, "frugal.model");
    fr_st_close(f);
    return r;
}

/* The scoring batch of a language model for SNIP and GraSP: B windows of
 * T + 1 tokens. */
struct lm_batch {
    struct fr_tf_model *m;
    struct fr_ctx *ctx;
    int32_t *x, *y;
    int64_t T, B;
    float temperature; /* as struct fr_prune_batch's */
};

static int lm_batch_loss(void *user, struct fr_params *p, double *loss) {
    struct lm_batch *b = user;
    fr_params_zero_grad(p);
    int64_t ne[2] = {b->T, b->B};
    struct fr_tensor *x = fr_wrap(b->ctx, FR_I32, 2, ne, b->x);
    struct fr_tensor *y = fr_wrap(b->ctx, FR_I32, 2, ne, b->y);
    struct fr_tensor *z = x && y ? fr_tf_forward(b->ctx, b->m, x, NULL) : NULL;
    return fr_prune_logits_loss(b->ctx, z, y, b->temperature, loss);
}

/* Fills b with `batch` windows spread evenly over the first 90% of text. */
static int lm_batch_init(struct lm_batch *b, struct fr_tf_model *m, const char *text,
                         const struct fr_tokenizer *tok, int64_t batch) {
    int32_t *ids = NULL;
    int64_t n = 0;
    int rc = fr_lm_load_tokens(text, (struct fr_tokenizer *)tok, &ids, &n);
    if (rc) return rc;
    int64_t T = m->cfg.max_seq, ntrain = n * 9 / 10;
    if (ntrain < T + 2) {
        free(ids);
        return fr_error(FR_EINVAL, "%s: %lld training tokens, too few for windows of %lld", text,
                        (long long)ntrain, (long long)T);
    }
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->cfg.vocab_size) {
            free(ids);
            return fr_error(FR_EINVAL, "%s: token %d is outside the model's vocabulary of %d", text,
                            ids[i], m->cfg.vocab_size);
        }
    b->m = m, b->T = T, b->B = batch;
    b->x = malloc(sizeof(int32_t) * (size_t)(T * batch));
    b->y = malloc(sizeof(int32_t) * (size_t)(T * batch));
    b->ctx = fr_ctx_new((size_t)256 << 20);
    if (!b->x || !b->y || !b->ctx) {
        free(ids);
        return fr_error(FR_ENOMEM, "out of memory");
    }
    int64_t span = ntrain - T - 1;
    for (int64_t k = 0; k < batch; k++) {
        int64_t s0 = batch > 1 ? k * span / (batch - 1) : 0;
        memcpy(b->x + k * T, ids + s0, sizeof(int32_t) * (size_t)T);
        memcpy(b->y + k * T, ids + s0 + 1, sizeof(int32_t) * (size_t)T);
    }
    free(ids);
    return 0;
}

/* `frugal prune` of a transformer language model. */
static int prune_lm(const char *model, const char *out, const char *method, const char *scope,
                    const char *exclude, const char *text, int64_t batch, float temperature,
                    const struct fr_prune_config *pc) {
    struct fr_tf_model m;
    struct lm_batch lb = {0};
    struct fr_tokenizer *tok = NULL;
    int *sel = NULL, has_mask = 0, rc = EXIT_OK;
    char tp[4096];
    if (fr_lm_load_trainable(&m, model, &has_mask)) return cli_fail("prune", "%s", fr_last_error());
    snprintf(tp, sizeof tp, "%s.tok", model);
    FILE *tf = fopen(tp, "rb");
    if (tf) {
        fclose(tf);
        if (fr_tokenizer_load(tp, &tok)) {
            rc = cli_fail("prune", "%s", fr_last_error());
            goto cleanup;
        }
    }
    if (!(sel = calloc((size_t)m.params.count, sizeof *sel))) {
        rc = cli_fail("prune", "out of memory");
        goto cleanup;
    }
    if (fr_prune_scope(&m.params, scope, exclude, sel)) {
        rc = cli_fail("prune", "%s", fr_last_error());
        goto cleanup;
    }
    int scored = pc->method == FR_PRUNE_SNIP || pc->method == FR_PRUNE_GRASP;
    if (scored) {
        if (!tok) {
            rc = cli_fail("prune", "%s needs a tokenizer beside the model (%s) to score --text",
                          method, tp);
            goto cleanup;
        }
        if (lm_batch_init(&lb, &m, text, tok, batch)) {
            rc = cli_fail("prune", "%s", fr_last_error());
            goto cleanup;
        }
        lb.temperature = temperature;
    }
    if (fr_prune(&m.params, sel, pc, scored ? lm_batch_loss : NULL, &lb)) {
        rc = cli_fail("prune", "%s", fr_last_error());
        goto cleanup;
    }
    if ((rc = cli_mkdirs("prune", out, 1)) != EXIT_OK) goto cleanup;
    char pv[3][64];
    const char *pk[3] = {"prune.method", "prune.sparsity", "prune.layerwise"}, *pvp[3];
    snprintf(pv[0], 64, "%s", method);
    if (pc->method == FR_PRUNE_NM)
        snprintf(pv[1], 64, "%d:%d", pc->nm_n, pc->nm_m);
    else
        snprintf(pv[1], 64, "%.17g", pc->sparsity);
    snprintf(pv[2], 64, "%d", pc->layerwise);
    for (int i = 0; i < 3; i++) pvp[i] = pv[i];
    if (fr_tf_save_ex(&m, out, FR_F32, pk, pvp, 3)) {
        rc = cli_fail("prune", "%s", fr_last_error());
        goto cleanup;
    }
    snprintf(tp, sizeof tp, "%s.tok", out);
    if (tok && fr_tokenizer_save(tok, tp)) {
        rc = cli_fail("prune", "%s", fr_last_error());
        goto cleanup;
    }
    struct fr_sparsity_table t;
    if (fr_sparsity_table_params(&m.params, sel, &t) == 0) {
        printf("pruned %s (%s%s) -> %s: scope %.2f%% sparse (%lld of %lld weights zero), "
               "overall %.2f%%\n",
               model, method, pc->layerwise ? ", layer-wise" : "", out,
               100.0 * (1.0 - (double)t.scope_nonzero / (double)t.scope),
               (long long)(t.scope - t.scope_nonzero), (long long)t.scope,
               100.0 * (1.0 - (double)t.total_nonzero / (double)t.total));
        fr_sparsity_table_free(&t);
    }
cleanup:
    fr_ctx_free(lb.ctx);
    free(lb.x);
    free(lb.y);
    fr_tokenizer_free(tok);
    free(sel);
    fr_tf_free(&m);
    return rc;
}

/* The knobs of --method imp / isp. */
struct iter_opts {
    const char *task, *data_dir;
    int64_t limit, steps, weak, lookahead, fit_batch, workers;
    double rate, lr, subset;
    int soup;
    uint64_t seed;
};

/* IMP or ISP of image model m on its scope sel; prints the accuracy on the
 * task's test split before and after, and the training it spent. */
static int prune_iterative(struct fr_model *m, const int *sel, int isp, double sparsity,
                           const struct iter_opts *o, int64_t *steps_out) {
    struct fr_task t;
    int rc = fr_task_load(&t, o->task, o->data_dir, o->limit, o->seed);
    if (rc) return rc;
    struct fr_ctx *ctx = NULL;
    if (t.train.C != m->cfg.in_channels || t.train.H != m->cfg.in_h || t.train.W != m->cfg.in_w) {
        rc = fr_error(FR_EINVAL, "the model takes %d x %d x %d images, task %s has %d x %d x %d",
                      m->cfg.in_channels, m->cfg.in_h, m->cfg.in_w, o->task, t.train.C, t.train.H,
                      t.train.W);
        goto done;
    }
    if (t.train.nclass != m->cfg.n_classes) {
        rc = fr_error(FR_EINVAL, "the model has %d classes, task %s has %d (fine-tune it on the "
                      "task first, or pick its task)", m->cfg.n_classes, o->task, t.train.nclass);
        goto done;
    }
    if (o->fit_batch > t.train.n) {
        rc = fr_error(FR_EINVAL, "--fit-batch %lld exceeds the %lld training images of task %s",
                      (long long)o->fit_batch, (long long)t.train.n, o->task);
        goto done;
    }
    if (!(ctx = fr_ctx_new(64 << 20))) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto done;
    }
    double before = 0, after = 0;
    if ((rc = fr_evaluate(m, &t.test, NULL, ctx, 0, &before, NULL))) goto done;
    struct fr_fit_classifier_config fit;
    fr_fit_classifier_config_defaults(&fit);
    fit.epochs = 0;
    fit.batch = (int)o->fit_batch;
    fit.lr = o->lr;
    fit.seed = o->seed;
    struct fr_lottery_result res;
    if (isp) {
        struct fr_isp_config c;
        fr_isp_config_defaults(&c);
        c.sparsity = sparsity;
        if (o->rate > 0) c.rate = o->rate;
        c.n_weak = (int)o->weak;
        c.lookahead = o->lookahead;
        c.subset_frac = o->subset;
        c.round_steps = o->steps;
        fit.steps = 1; /* the base protocol; its step counts come from the fields above */
        c.fit = fit;
        c.soup = o->soup;
        c.workers = (int)o->workers;
        c.seed = o->seed;
        rc = fr_isp(m, sel, &t.train, NULL, &c, &res);
    } else {
        struct fr_imp_config c;
        fr_imp_config_defaults(&c);
        c.sparsity = sparsity;
        if (o->rate > 0) c.rate = o->rate;
        fit.steps = o->steps;
        c.fit = fit;
        rc = fr_imp(m, sel, &t.train, NULL, &c, &res);
    }
    if (rc) goto done;
    if ((rc = fr_evaluate(m, &t.test, NULL, ctx, 0, &after, NULL))) goto done;
    printf("%s on task %s: %d rounds, %lld training steps (%lld in weak models), %.1f s; "
           "test acc %.2f%% before, %.2f%% after (%s)\n",
           isp ? "isp" : "imp", t.name, res.rounds, (long long)res.steps,
           (long long)res.weak_steps, res.seconds, 100 * before, 100 * after,
           isp ? "trained, not fine-tuned" : "rewound ticket, not fine-tuned");
    *steps_out = res.steps;
done:
    fr_ctx_free(ctx);
    fr_task_free(&t);
    return rc;
}

int cmd_prune(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *method = "omp", *scope = "", *exclude = "",
               *nm = "2:4", *data_dir = DEFAULT_DATA_DIR,
               *text = "data/tinyshakespeare.txt";
    double sparsity = 0.5, temperature = 200;
    int layerwise = 0;
    int64_t seed = 1, batch = 256, threads = 0;
    struct iter_opts io = {.task = "fashion", .steps = 0, .weak = 4, .lookahead = 40,
                           .fit_batch = 64, .lr = 1e-3, .subset = 0.1};
    static const char *const methods[] = {"omp", "random", "nm", "snip", "grasp", "imp", "isp",
                                          NULL};
    struct arg_flag flags[] = {
        {.name = "model", .type = ARG_STR, .dst = &model, .help = "checkpoint to prune (image classifier from frugal train, or a transformer LM)", .required = 1},
        {.name = "out", .type = ARG_STR, .dst = &out, .help = "pruned checkpoint to write (weights + __mask__)", .required = 1},
        {.name = "method", .type = ARG_STR, .dst = &method, .help = "omp (global magnitude), random, nm, snip, grasp; imp, isp (train while pruning; image "
         "models)", .choices = methods},
        {.name = "sparsity", .type = ARG_DOUBLE, .dst = &sparsity, .help = "fraction of the scoped weights to prune, [0, 1)", .max = 1},
        {.name = "layerwise", .type = ARG_BOOL, .dst = &layerwise, .help = "the same sparsity in every tensor (else one global threshold)"},
        {.name = "scope", .type = ARG_STR, .dst = &scope, .help = "comma list of name globs to prune (empty: the model's prunable weights)"},
        {.name = "exclude", .type = ARG_STR, .dst = &exclude, .help = "comma list of name globs to leave dense"},
        {.name = "nm", .type = ARG_STR, .dst = &nm, .help = "N:M pattern for --method nm (keep N of every M along a row)"},
        {.name = "seed", .type = ARG_INT, .dst = &seed, .help = "seed of --method random, imp and isp", .max = 1e18},
        {.name = "batch", .type = ARG_INT, .dst = &batch, .help = "training images (or LM text windows) scored by snip / grasp", .min = 1, .max = 60000},
        {.name = "temperature", .type = ARG_DOUBLE, .dst = &temperature, .help = "grasp: logits divided by this before the loss, as in the GraSP paper (1 = none)", .min = 1e-3, .max = 1e6},
        {.name = "text", .type = ARG_STR, .dst = &text, .help = "LM: text whose first 90% scores snip / grasp"},
        {.name = "data-dir", .type = ARG_STR, .dst = &data_dir, .help = "directory with Fashion-MNIST (snip, grasp, imp, isp)"},
        {.name = "task", .type = ARG_STR, .dst = &io.task, .help = "imp / isp: training data, a tasks.h task: fashion (the whole training split), "
         "pretrain, few, coarse, rotate, invert"},
        {.name = "limit-train", .type = ARG_INT, .dst = &io.limit, .help = "imp / isp: use only the first N training images (0 = all)", .max = 1e9},
        {.name = "steps", .type = ARG_INT, .dst = &io.steps, .help = "imp: training steps per round (0 = 200); isp: the model's own steps per round (0 = 40)", .max = 1e9},
        {.name = "rate", .type = ARG_DOUBLE, .dst = &io.rate, .help = "imp / isp: fraction of the remaining weights pruned per round (0 = 0.2 imp, 0.15 isp)", .max = 0.99},
        {.name = "weak", .type = ARG_INT, .dst = &io.weak, .help = "isp: weak masks per round (0 = gradual magnitude pruning)", .max = 256},
        {.name = "lookahead", .type = ARG_INT, .dst = &io.lookahead, .help = "isp: training steps of each weak model", .min = 1, .max = 1e6},
        {.name = "subset", .type = ARG_DOUBLE, .dst = &io.subset, .help = "isp: fraction of the training images per weak model", .min = 0.001, .max = 1},
        {.name = "soup", .type = ARG_BOOL, .dst = &io.soup, .help = "isp: instant model soup (average the weak models each round)"},
        {.name = "workers", .type = ARG_INT, .dst = &io.workers, .help = "isp: weak-model processes (0 = one per core)", .max = 256},
        {.name = "fit-batch", .type = ARG_INT, .dst = &io.fit_batch, .help = "imp / isp: training batch", .min = 1, .max = 60000},
        {.name = "lr", .type = ARG_DOUBLE, .dst = &io.lr, .help = "imp / isp: AdamW learning rate (cosine within each run)", .min = 1e-8, .max = 10},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .help = "worker threads (0 = all cores)", .max = 256},
    };
    struct arg_cmd spec = {
        .name = "prune",
        .synopsis = "frugal prune --model CKPT --out FILE [flags]",
        .about = "Prunes a checkpoint's weights by magnitude, at random, N:M, SNIP or\n"
                           "GraSP, or while training (IMP with rewinding, Instant Soup Pruning),\n"
                           "and writes them with their keep-mask. Masks only grow: weights the\n"
                           "checkpoint already pruned stay pruned.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
    };
    const char *pos[1];
    int npos = 0, rc = cli_begin(&spec, argc, argv, pos, &npos);
    if (rc != CLI_GO) return rc;
    int iterative = strcmp(method, "imp") == 0 ? 1 : strcmp(method, "isp") == 0 ? 2 : 0;
    struct fr_prune_config pc;
    fr_prune_config_defaults(&pc);
    pc.method = iterative ? FR_PRUNE_MAGNITUDE : (enum fr_prune_method)fr_prune_method_parse(method);
    pc.sparsity = sparsity;
    pc.layerwise = layerwise;
    pc.seed = (uint64_t)seed;
    fr_clear_error();
    if (pc.method == FR_PRUNE_NM && fr_prune_parse_nm(nm, &pc.nm_n, &pc.nm_m))
        return cli_fail("prune", "%s", fr_last_error());
    if (pc.method != FR_PRUNE_NM && !(sparsity < 1))
        return cli_fail("prune", "sparsity %g must be in [0, 1)", sparsity);
    float score_t = pc.method == FR_PRUNE_GRASP ? (float)temperature : 1.0f;
    if (iterative && !(sparsity > 0))
        return cli_fail("prune", "--method %s needs a sparsity in (0, 1)", method);
    if (iterative && layerwise)
        return cli_fail("prune", "--layerwise does not apply to --method %s (global magnitude "
                        "each round)", method);
    if (!is_image_model(model)) {
        if (iterative)
            return cli_fail("prune", "--method %s trains image classifiers; for a language model "
                            "use omp/random/nm/snip/grasp, then `frugal train-lm --init`", method);
        return prune_lm(model, out, method, scope, exclude, text, batch, score_t, &pc);
    }
    io.seed = (uint64_t)seed;
    io.data_dir = data_dir;
    if (!io.steps) io.steps = iterative == 1 ? 200 : 40;
    int64_t iter_steps = 0;

    struct fr_dataset score = {0}; /* the SNIP / GraSP batch */
    struct fr_prune_batch bl = {.ds = &score};
    int *sel = NULL, has_mask = 0;
    rc = EXIT_OK;
    struct fr_model *m = fr_model_load(model, &has_mask);
    if (!m) {
        rc = cli_fail("prune", "%s", fr_last_error());
        goto cleanup;
    }
    if (!(sel = calloc((size_t)m->params.count, sizeof *sel))) {
        rc = cli_fail("prune", "out of memory");
        goto cleanup;
    }
    if (fr_prune_scope(&m->params, scope, exclude, sel)) {
        rc = cli_fail("prune", "%s", fr_last_error());
        goto cleanup;
    }
    if (pc.method == FR_PRUNE_SNIP || pc.method == FR_PRUNE_GRASP) {
        if ((rc = cli_check_data_dir("prune", data_dir)) != EXIT_OK) goto cleanup;
        if (fr_dataset_fashion_mnist(&score, data_dir, 1, batch)) {
            rc = cli_fail("prune", "%s", fr_last_error());
            goto cleanup;
        }
        if (score.C != m->cfg.in_channels || score.H != m->cfg.in_h || score.W != m->cfg.in_w) {
            rc = cli_fail("prune", "%s takes %d x %d x %d images, the data has %d x %d x %d", model,
                          m->cfg.in_channels, m->cfg.in_h, m->cfg.in_w, score.C, score.H, score.W);
            goto cleanup;
        }
        bl.m = m;
        bl.temperature = score_t;
        if (!(bl.ctx = fr_ctx_new(64 << 20))) {
            rc = cli_fail("prune", "out of memory");
            goto cleanup;
        }
    }
    if (iterative) {
        if ((rc = cli_check_data_dir("prune", data_dir)) != EXIT_OK) goto cleanup;
        if (prune_iterative(m, sel, iterative == 2, sparsity, &io, &iter_steps)) {
            rc = cli_fail("prune", "%s", fr_last_error());
            goto cleanup;
        }
    } else if (fr_prune(&m->params, sel, &pc, bl.ctx ? fr_prune_batch_loss : NULL, &bl)) {
        rc = cli_fail("prune", "%s", fr_last_error());
        goto cleanup;
    }
    char keys[FR_MODEL_META_MAX + 5][64], vals[FR_MODEL_META_MAX + 5][64];
    const char *kp[FR_MODEL_META_MAX + 5], *vp[FR_MODEL_META_MAX + 5];
    int nmeta = fr_model_meta_write(m, keys, vals, FR_MODEL_META_MAX);
    snprintf(keys[nmeta], 64, "prune.method");
    snprintf(vals[nmeta++], 64, "%s", method);
    snprintf(keys[nmeta], 64, "prune.sparsity");
    if (pc.method == FR_PRUNE_NM)
        snprintf(vals[nmeta++], 64, "%d:%d", pc.nm_n, pc.nm_m);
    else
        snprintf(vals[nmeta++], 64, "%.17g", sparsity);
    snprintf(keys[nmeta], 64, "prune.layerwise");
    snprintf(vals[nmeta++], 64, "%d", iterative ? 0 : layerwise);
    if (iterative) {
        snprintf(keys[nmeta], 64, "prune.train_steps");
        snprintf(vals[nmeta++], 64, "%lld", (long long)iter_steps);
    } else if (pc.method == FR_PRUNE_GRASP) {
        snprintf(keys[nmeta], 64, "prune.temperature");
        snprintf(vals[nmeta++], 64, "%g", (double)score_t);
    }
    for (int i = 0; i < nmeta; i++) kp[i] = keys[i], vp[i] = vals[i];
    struct fr_ckpt o = {kp, vp, nmeta, NULL, 0, FR_F32, 0, 0};
    if ((rc = cli_mkdirs("prune", out, 1)) != EXIT_OK) goto cleanup;
    if (fr_prune_save(&m->params, out, &o)) {
        rc = cli_fail("prune", "%s", fr_last_error());
        goto cleanup;
    }
    struct fr_sparsity_table t;
    if (fr_sparsity_table_params(&m->params, sel, &t) == 0) {
        printf("pruned %s (%s%s) -> %s: scope %.2f%% sparse (%lld of %lld weights zero), "
               "overall %.2f%%\n",
               model, method, layerwise ? ", layer-wise" : "", out,
               100.0 * (1.0 - (double)t.scope_nonzero / (double)t.scope),
               (long long)(t.scope - t.scope_nonzero), (long long)t.scope,
               100.0 * (1.0 - (double)t.total_nonzero / (double)t.total));
        fr_sparsity_table_free(&t);
    }
cleanup:
    fr_ctx_free(bl.ctx);
    fr_dataset_free(&score);
    free(sel);
    fr_model_free(m);
    return rc;
}
