/* lm.c: language-model training and scoring (see lm.h). Training is the
 * one training loop (loop.c) with random windows as batches and nanoGPT's
 * periodic evaluation as a before-step hook.
 *
 * A checkpoint trained on text names its tokenizer in its metadata
 * (FR_LM_TOKENIZER_KEY: kind, size and a hash of the vocabulary), and the
 * tokenizer file is written before the first checkpoint, so a crash can
 * never leave a model whose text nobody can decode, and a tool that finds
 * no tokenizer, or the wrong one, beside such a model can refuse instead of
 * printing token ids or garbage. */
#include "frugal/lm.h"
#include "frugal/clock.h"
#include "frugal/io.h"
#include "frugal/optim.h"
#include "frugal/report.h"
#include "frugal/status.h"
#include "frugal/tokenizer.h"
#include "frugal/train.h"

#include "../core/file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fr_lm_config_defaults(struct fr_lm_config *c) {
    memset(c, 0, sizeof *c);
    c->tokenizer = "char";
    c->bpe_vocab = 512;
    c->model.arch = FR_TF_GPT2;
    c->model.n_layers = 4;
    c->model.n_heads = 4;
    c->model.dim = 128;
    c->model.tied = 1;
    c->model.no_bias = 1;    /* nanoGPT: bias = False */
    c->model.gelu_exact = 1; /* nanoGPT: nn.GELU() */
    c->block = 64;
    c->batch = 12;
    c->iters = 2000;
    c->lr = 1e-3;
    c->min_lr = 1e-4;
    c->wd = 0.1;
    c->beta2 = 0.99;
    c->clip = 1.0;
    c->warmup = 100;
    c->eval_interval = 250;
    c->eval_iters = 20;
    c->seed = 1337;
    c->precision = "f32";
}

void fr_lm_result_free(struct fr_lm_result *r) {
    if (!r) return;
    free(r->eval_iter);
    free(r->eval_train);
    free(r->eval_val);
    r->eval_iter = NULL;
    r->eval_train = r->eval_val = NULL;
}

/* Token ids or text: up to 4 GiB. */
static int read_file(const char *path, uint8_t **buf, size_t *len) {
    *buf = (uint8_t *)fr_read_file(path, (size_t)1 << 32, len);
    return *buf ? 0 : FR_EIO;
}

static int is_ids_file(const char *path) {
    size_t n = strlen(path);
    return n > 4 && strcmp(path + n - 4, ".ids") == 0;
}

/* FNV-1a, 64 bits. */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}
#define FNV_START 0xcbf29ce484222325ULL

int fr_lm_tokenizer_tag(const struct fr_tokenizer *t, char *buf, size_t cap) {
    static const char *const kinds[] = {"?", "char", "bpe", "spm"};
    int kind = fr_tokenizer_kind(t);
    int64_t n = fr_tokenizer_vocab_size(t), nm = fr_tokenizer_n_merges(t);
    int32_t special[2] = {fr_tokenizer_bos(t), fr_tokenizer_eos(t)};
    uint64_t h = fnv(FNV_START, special, sizeof special);
    for (int32_t id = 0; id < n; id++) {
        const uint8_t *b;
        size_t len;
        float score;
        int rc = fr_tokenizer_piece(t, id, &b, &len, &score);
        if (rc) return rc;
        uint64_t l = len;
        h = fnv(fnv(fnv(h, &l, sizeof l), b, len), &score, sizeof score);
    }
    for (int64_t i = 0; i < nm; i++) {
        int32_t m[3];
        int rc = fr_tokenizer_merge(t, i, &m[0], &m[1], &m[2]);
        if (rc) return rc;
        h = fnv(h, m, sizeof m);
    }
    snprintf(buf, cap, "%s/%lld/%016llx", kinds[kind >= 1 && kind <= 3 ? kind : 0], (long long)n,
             (unsigned long long)h);
    return 0;
}

int fr_lm_tokenizer_named(const char *path, char *buf, size_t cap) {
    struct fr_st_file *f = NULL;
    if (cap) buf[0] = '\0';
    int rc = fr_st_open(path, &f);
    if (rc) return rc;
    const char *tag = fr_st_meta(f, FR_LM_TOKENIZER_KEY);
    /* printable and short: a hostile file cannot make the messages lie */
    size_t k = 0;
    for (; tag && tag[k] && k + 1 < cap && k < 80; k++)
        buf[k] = tag[k] >= 0x20 && tag[k] < 0x7f ? tag[k] : '?';
    if (cap) buf[k] = '\0';
    fr_st_close(f);
    return 0;
}

int fr_lm_tokenizer_check(const char *path, int vocab, const struct fr_tokenizer *tok,
                          int need_text) {
    char want[96] = "", have[96];
    if (tok && fr_tokenizer_vocab_size(tok) > vocab)
        return fr_error(FR_EINVAL, "tokenizer has %lld tokens but the model only %d",
                        (long long)fr_tokenizer_vocab_size(tok), vocab);
    /* a file that is not safetensors (llama2.c's .bin) names no tokenizer */
    if (fr_lm_tokenizer_named(path, want, sizeof want)) fr_clear_error();
    if (!want[0]) return 0;
    if (tok) {
        int rc = fr_lm_tokenizer_tag(tok, have, sizeof have);
        if (rc) return rc;
        if (strcmp(have, want) != 0)
            return fr_error(FR_EINVAL, "the tokenizer (%s) is not the one %s was trained with (%s)",
                            have, path, want);
        return 0;
    }
    if (need_text)
        return fr_error(FR_EINVAL,
                        "%s was trained on text with a tokenizer (%s) but there is none: %s.tok "
                        "is missing (pass --tokenizer FILE, or --ids to work in token ids)",
                        path, want, path);
    return 0;
}

int fr_lm_load_tokens(const char *path, struct fr_tokenizer *tok, int32_t **ids, int64_t *n) {
    uint8_t *buf;
    size_t len;
    int rc = read_file(path, &buf, &len);
    if (rc) return rc;
    if (is_ids_file(path)) {
        if (len % 4) {
            free(buf);
            return fr_error(FR_EFORMAT, "%s: size %zu is not a whole number of int32 ids", path,
                            len);
        }
        *ids = (int32_t *)buf;
        *n = (int64_t)(len / 4);
        return 0;
    }
    if (!tok) {
        free(buf);
        return fr_error(FR_EINVAL, "%s is text: a tokenizer is needed", path);
    }
    rc = fr_tokenizer_encode(tok, buf, len, 0, ids, n);
    free(buf);
    return rc;
}

/* Where train-lm splits n bytes of text (or n token ids): the first 90% to
 * train on, the rest held out. One rule for training and for every reader
 * of "held-out" text. */
static int64_t train_cut(int64_t n) {
    return n * 9 / 10;
}

int fr_lm_load_split(const char *path, struct fr_tokenizer *tok, int held_out, int32_t **ids,
                     int64_t *n) {
    if (is_ids_file(path)) { /* token ids: split at 90% of the ids, as train-lm does */
        int32_t *all;
        int64_t na;
        int rc = fr_lm_load_tokens(path, NULL, &all, &na);
        if (rc) return rc;
        int64_t cut = train_cut(na), b = held_out ? cut : 0, e = held_out ? na : cut;
        *ids = malloc(sizeof(int32_t) * (size_t)(e - b > 0 ? e - b : 1));
        if (!*ids) {
            free(all);
            return fr_error(FR_ENOMEM, "out of memory");
        }
        memcpy(*ids, all + b, sizeof(int32_t) * (size_t)(e - b));
        *n = e - b;
        free(all);
        return 0;
    }
    if (!tok) return fr_error(FR_EINVAL, "%s is text: a tokenizer is needed", path);
    uint8_t *buf;
    size_t len;
    int rc = read_file(path, &buf, &len);
    if (rc) return rc;
    /* the byte split of train-lm's load_data, so held-out text is exactly
     * the text the model never trained on, whatever the tokenizer */
    size_t cut = (size_t)train_cut((int64_t)len);
    rc = held_out ? fr_tokenizer_encode(tok, buf + cut, len - cut, 0, ids, n)
                  : fr_tokenizer_encode(tok, buf, cut, 0, ids, n);
    free(buf);
    return rc;
}

/* log-softmax NLL of target under logits[V] */
static double nll_of(const float *lg, int V, int32_t target) {
    float mx = lg[0];
    for (int i = 1; i < V; i++)
        mx = lg[i] > mx ? lg[i] : mx;
    double z = 0;
    for (int i = 0; i < V; i++)
        z += exp((double)(lg[i] - mx));
    return log(z) + mx - lg[target];
}

int fr_lm_nll(struct fr_tf_model *m, const int32_t *ids, int64_t n, int block, double *nll,
              int64_t *count) {
    if (block < 1 || block > m->cfg.max_seq)
        return fr_error(FR_EINVAL, "block %d not in 1..%d", block, m->cfg.max_seq);
    if (n < 2)
        return fr_error(FR_EINVAL, "need at least 2 tokens to score, have %lld", (long long)n);
    int V = m->cfg.vocab_size;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return fr_error(FR_EINVAL, "token %d at %lld is outside the model's vocabulary of %d",
                            ids[i], (long long)i, V);
    struct fr_tf_state s;
    int rc = fr_tf_state_init(&s, m, 1, block, block, NULL, 0);
    if (rc) return rc;
    float *lg = malloc(sizeof(float) * (size_t)block * V);
    if (!lg) {
        fr_tf_state_free(&s);
        return fr_error(FR_ENOMEM, "out of memory");
    }
    double tot = 0;
    int64_t cnt = 0;
    for (int64_t s0 = 0; s0 + 1 < n; s0 += block) {
        int64_t T = n - 1 - s0 < block ? n - 1 - s0 : block;
        fr_tf_state_reset(&s, -1);
        rc = fr_tf_prefill(&s, 0, ids + s0, T, lg, 1);
        if (rc) break;
        for (int64_t t = 0; t < T; t++)
            tot += nll_of(lg + t * V, V, ids[s0 + t + 1]);
        cnt += T;
    }
    free(lg);
    fr_tf_state_free(&s);
    if (rc) return rc;
    *nll = tot / (double)cnt;
    if (count) *count = cnt;
    return 0;
}

/* ---------------- training ---------------- */

struct lm_run {
    const struct fr_lm_config *c;
    struct fr_lm_result *res;
    struct fr_tf_model m;
    struct fr_tokenizer *tok;
    int32_t *train, *val;
    int64_t ntrain, nval, tokens;
    double best; /* the best selection score so far */
    struct fr_rng rng, drop_rng, eval_rng;
    struct fr_ctx *ctx;
    struct lm_meta {
        const char *k;
        char v[160];
    } meta[24];
    const char *meta_k[24], *meta_v[24];
    char tok_tag[96];   /* fr_lm_tokenizer_tag of tok ("" without one) */
    const char *out;    /* where the best checkpoint goes: c->out, or its rescue file */
    char rescued[4200]; /* the rescue file, once c->out could not be written */
    char out_err[1024]; /* why not */
};

static void fill_batch(struct lm_run *R, const int32_t *data, int64_t n, fr_t *x, fr_t *y,
                       struct fr_rng *rng) {
    int B = R->c->batch, T = R->c->block;
    int32_t *xd = x->data, *yd = y->data;
    for (int b = 0; b < B; b++) {
        int64_t i = (int64_t)fr_rng_below(rng, (uint64_t)(n - T - 1));
        memcpy(xd + (int64_t)b * T, data + i, (size_t)T * 4);
        memcpy(yd + (int64_t)b * T, data + i + 1, (size_t)T * 4);
    }
}

/* Mean loss over eval_iters random batches (no grad, eval mode). */
static double estimate(struct lm_run *R, const int32_t *data, int64_t n, struct fr_rng *rng) {
    struct fr_ctx *ctx = R->ctx;
    int g = fr_no_grad_begin(ctx);
    fr_set_training(ctx, 0);
    double s = 0;
    for (int k = 0; k < R->c->eval_iters; k++) {
        fr_t *x = fr_new2(ctx, FR_I32, R->c->block, R->c->batch);
        fr_t *y = fr_new2(ctx, FR_I32, R->c->block, R->c->batch);
        fill_batch(R, data, n, x, y, rng);
        fr_t *loss = fr_cross_entropy(ctx, fr_tf_forward(ctx, &R->m, x, NULL), y, 0);
        s += loss ? fr_get(loss, 0) : NAN;
        fr_ctx_reset(ctx);
    }
    fr_set_training(ctx, 1);
    fr_no_grad_end(ctx, g);
    return s / R->c->eval_iters;
}

/* A fine-tune reads the init model's own tokenizer unless given a file. */
static int init_tokenizer(const struct fr_lm_config *c) {
    return c->init &&
           (!c->tokenizer || strcmp(c->tokenizer, "char") == 0 || strcmp(c->tokenizer, "bpe") == 0);
}

static int setup_tokenizer(struct lm_run *R, const uint8_t *text, size_t len) {
    const char *t = R->c->tokenizer;
    if (init_tokenizer(R->c)) {
        char tp[4096];
        snprintf(tp, sizeof tp, "%s.tok", R->c->init);
        return fr_tokenizer_load(tp, &R->tok);
    }
    if (!t || strcmp(t, "char") == 0) return fr_tokenizer_train_char(text, len, &R->tok);
    if (strcmp(t, "bpe") == 0) return fr_tokenizer_train_bpe(text, len, R->c->bpe_vocab, &R->tok);
    return fr_tokenizer_load(t, &R->tok);
}

static int load_data(struct lm_run *R) {
    const struct fr_lm_config *c = R->c;
    int rc;
    if (is_ids_file(c->data)) {
        int32_t *ids;
        int64_t n;
        if ((rc = fr_lm_load_tokens(c->data, NULL, &ids, &n))) return rc;
        int64_t cut = train_cut(n);
        R->train = ids;
        R->ntrain = cut;
        R->val = ids + cut;
        R->nval = n - cut;
        int32_t mx = 0;
        for (int64_t i = 0; i < n; i++) {
            if (ids[i] < 0) return fr_error(FR_EFORMAT, "%s: negative token id", c->data);
            mx = ids[i] > mx ? ids[i] : mx;
        }
        R->m.cfg.vocab_size = mx + 1;
        return 0;
    }
    uint8_t *text;
    size_t len;
    if ((rc = read_file(c->data, &text, &len))) return rc;
    size_t cut = (size_t)train_cut((int64_t)len);
    if (cut == 0 || len - cut == 0) { /* no split to build a vocabulary from, or to validate on */
        free(text);
        if (len == 0)
            return fr_error(FR_EINVAL, "%s is empty: there is no text to train on", c->data);
        return fr_error(FR_EINVAL,
                        "%s: too short for block %d (%zu bytes of text: %zu to train on, %zu to "
                        "validate; each split needs at least %d tokens)",
                        c->data, c->block, len, cut, len - cut, c->block + 2);
    }
    rc = setup_tokenizer(R, text, cut); /* vocabulary from the training split only */
    if (rc == 0 && !init_tokenizer(c) && (!c->tokenizer || strcmp(c->tokenizer, "char") == 0)) {
        /* a character of the validation text missing from training would be
         * unencodable: build the vocabulary from the whole text as nanoGPT does */
        fr_tokenizer_free(R->tok);
        rc = fr_tokenizer_train_char(text, len, &R->tok);
    }
    if (!rc) rc = fr_tokenizer_encode(R->tok, text, cut, 0, &R->train, &R->ntrain);
    if (!rc) rc = fr_tokenizer_encode(R->tok, text + cut, len - cut, 0, &R->val, &R->nval);
    free(text);
    if (rc) return rc;
    R->m.cfg.vocab_size = (int)fr_tokenizer_vocab_size(R->tok);
    return 0;
}

static int push_eval(struct fr_lm_result *r, int64_t it, double tr, double va) {
    int n = r->n_evals + 1;
    int64_t *a = realloc(r->eval_iter, (size_t)n * sizeof *a);
    if (a) r->eval_iter = a;
    double *b = realloc(r->eval_train, (size_t)n * sizeof *b);
    if (b) r->eval_train = b;
    double *c = realloc(r->eval_val, (size_t)n * sizeof *c);
    if (c) r->eval_val = c;
    if (!a || !b || !c) return fr_error(FR_ENOMEM, "out of memory");
    r->eval_iter[r->n_evals] = it;
    r->eval_train[r->n_evals] = tr;
    r->eval_val[r->n_evals] = va;
    r->n_evals = n;
    return 0;
}

int fr_lm_load_trainable(struct fr_tf_model *m, const char *path, int *has_mask) {
    if (has_mask) *has_mask = 0;
    int rc = fr_tf_load_ex(m, path, FR_TF_TRAINABLE);
    if (rc) return rc;
    if (!m->params.allocated) { /* llama2.c: weights mapped, copy them into a slab */
        struct fr_tf_model t;
        rc = fr_tf_init(&t, &m->cfg, 0);
        if (!rc && (rc = fr_tf_copy_weights(&t, m))) fr_tf_free(&t);
        fr_tf_free(m);
        if (rc) return rc;
        *m = t;
    }
    if (has_mask) *has_mask = m->params.mask != NULL;
    return 0;
}

int fr_lm_convert(const char *in, const char *out, int dtype, int64_t *n_params) {
    struct fr_tf_model m;
    struct fr_tokenizer *tok = NULL;
    char tp[4300], tag[96] = "";
    int rc = fr_check_writable(out);
    if (rc || (rc = fr_lm_load_trainable(&m, in, NULL))) return rc;
    snprintf(tp, sizeof tp, "%s.tok", in);
    if (access(tp, F_OK) == 0 && (rc = fr_tokenizer_load(tp, &tok))) goto done;
    if ((rc = fr_lm_tokenizer_check(in, m.cfg.vocab_size, tok, 0))) goto done;
    if (fr_lm_tokenizer_named(in, tag, sizeof tag)) fr_clear_error();
    if (!tag[0] && tok && (rc = fr_lm_tokenizer_tag(tok, tag, sizeof tag))) goto done;
    snprintf(tp, sizeof tp, "%s.tok", out);
    if ((rc = fr_mkdirs_for(out))) goto done;
    if (tok && (rc = fr_tokenizer_save(tok, tp))) goto done; /* the tokenizer first */
    const char *k[1] = {FR_LM_TOKENIZER_KEY}, *v[1] = {tag};
    if ((rc = fr_tf_save_ex(&m, out, dtype, k, v, tag[0] ? 1 : 0))) goto done;
    if (n_params) *n_params = fr_tf_param_count(&m);
done:
    fr_tokenizer_free(tok);
    fr_tf_free(&m);
    return rc;
}

/* Fraction of the prunable weights that are zero. */
static double scope_sparsity(const struct fr_params *p) {
    int64_t n = 0, z = 0;
    for (int i = 0; i < p->count; i++) {
        if (!(p->items[i].flags & FR_PARAM_PRUNABLE)) continue;
        const float *d = p->data + p->items[i].offset;
        int64_t k = fr_nelem(p->items[i].t);
        for (int64_t j = 0; j < k; j++)
            z += d[j] == 0.0f;
        n += k;
    }
    return n ? (double)z / (double)n : 0.0;
}

/* The starting model: a checkpoint (whose config wins over c->model, except
 * dropout) or a fresh init, then the caller's prepare hook. */
static int setup_model(struct lm_run *R) {
    const struct fr_lm_config *c = R->c;
    int rc;
    if (!c->init) {
        struct fr_tf_config mc = c->model;
        mc.vocab_size = R->m.cfg.vocab_size;
        mc.max_seq = c->block;
        rc = fr_tf_init(&R->m, &mc, c->seed);
    } else {
        int V = R->m.cfg.vocab_size;
        if ((rc = fr_lm_load_trainable(&R->m, c->init, NULL))) return rc;
        R->m.cfg.dropout = c->model.dropout;
        if ((rc = fr_tf_config_check(&R->m.cfg))) return rc;
        /* token ids only need to fit; a tokenizer must be the model's own */
        if (is_ids_file(c->data) ? V > R->m.cfg.vocab_size : V != R->m.cfg.vocab_size)
            return fr_error(FR_EINVAL, "%s has a vocabulary of %d but the %s has %d", c->init,
                            R->m.cfg.vocab_size,
                            is_ids_file(c->data) ? "largest token id + 1" : "tokenizer", V);
        if (c->block > R->m.cfg.max_seq)
            return fr_error(FR_EINVAL, "block %d is longer than %s's context of %d", c->block,
                            c->init, R->m.cfg.max_seq);
    }
    if (rc || !c->prepare) return rc;
    return c->prepare(c->prepare_user, &R->m);
}

/* ---- the loop's hooks ---- */

/* The next batch: random windows of the training split. */
static int64_t lm_next(void *user, struct fr_ctx *ctx, fr_t **x, fr_t **y) {
    struct lm_run *R = user;
    *x = fr_new2(ctx, FR_I32, R->c->block, R->c->batch);
    *y = fr_new2(ctx, FR_I32, R->c->block, R->c->batch);
    if (!*x || !*y) return fr_error(FR_ENOMEM, "out of memory for a batch");
    fill_batch(R, R->train, R->ntrain, *x, *y, &R->rng);
    return R->c->batch;
}

static fr_t *lm_loss(void *user, struct fr_ctx *ctx, fr_t *x, fr_t *y) {
    struct lm_run *R = user;
    fr_t *logits = fr_tf_forward(ctx, &R->m, x, R->m.cfg.dropout > 0 ? &R->drop_rng : NULL);
    return fr_cross_entropy(ctx, logits, y, 0);
}

/* The best checkpoint at path, naming its tokenizer; a model trained on
 * text has that tokenizer at path + ".tok" first. */
static int save_best(struct lm_run *R, const char *path) {
    const char *k[1] = {FR_LM_TOKENIZER_KEY}, *v[1] = {R->tok_tag};
    return fr_tf_save_ex(&R->m, path, FR_F32, k, v, R->tok_tag[0] ? 1 : 0);
}

/* The first save to a rescue file: its tokenizer first, as at the start. */
static int save_rescue(void *user, const char *path) {
    struct lm_run *R = user;
    char tp[4300];
    snprintf(tp, sizeof tp, "%s.tok", path);
    int rc = R->tok ? fr_tokenizer_save(R->tok, tp) : 0;
    if (!rc && (rc = save_best(R, path)) && R->tok) unlink(tp);
    return rc;
}

/* nanoGPT's evaluation: before iteration it when it % eval_interval == 0
 * and before the last one; the best model so far goes to c->out. */
static int lm_before_step(void *user, const struct fr_fit_state *st) {
    struct lm_run *R = user;
    const struct fr_lm_config *c = R->c;
    int64_t it = st->step;
    if (!(it % c->eval_interval == 0 || it == c->iters - 1)) return 0;
    double tr = estimate(R, R->train, R->ntrain, &R->eval_rng);
    double va = estimate(R, R->val, R->nval, &R->eval_rng);
    int rc = push_eval(R->res, it, tr, va);
    if (rc) return rc;
    if (c->progress) c->progress(c->user, it, c->iters, tr, 0, 1, va);
    R->res->final_val_loss = va;
    double score = va;
    if (c->select_full && (rc = fr_lm_nll(&R->m, R->val, R->nval, c->block, &score, NULL)))
        return rc;
    if (score < R->best) {
        R->best = score;
        if (R->out && (rc = save_best(R, R->out))) {
            if (R->rescued[0]) return rc; /* the rescue file failed too */
            /* keep training: the best model goes to a rescue file from now on,
             * and the run's error says where */
            fr_write_rescued(rc, R->out, "the best checkpoint (and its tokenizer, FILE.tok)",
                             save_rescue, R, R->rescued, sizeof R->rescued);
            snprintf(R->out_err, sizeof R->out_err, "%s", fr_last_error());
            if (!R->rescued[0]) return rc;
            R->out = R->rescued;
        }
    }
    return 0;
}

static int lm_after_step(void *user, const struct fr_fit_state *st, double loss, double lr) {
    struct lm_run *R = user;
    R->res->train_loss = loss;
    R->res->iters_done = st->step;
    R->tokens += (int64_t)R->c->block * R->c->batch;
    if (R->c->progress) R->c->progress(R->c->user, st->step, R->c->iters, loss, lr, 0, 0);
    return 0;
}

/* What a resumable checkpoint holds besides the weights and the loop's own
 * state: the three generators and the best selection score. */
static int lm_blobs(void *user, struct fr_ckpt_blob *b, int cap) {
    struct lm_run *R = user;
    if (cap < 4) return fr_error(FR_EINVAL, "train-lm: no room for the run state");
    b[0] = (struct fr_ckpt_blob){"__state__.rng", FR_U8, &R->rng, sizeof R->rng, 0, 0};
    b[1] =
        (struct fr_ckpt_blob){"__state__.drop_rng", FR_U8, &R->drop_rng, sizeof R->drop_rng, 0, 0};
    b[2] =
        (struct fr_ckpt_blob){"__state__.eval_rng", FR_U8, &R->eval_rng, sizeof R->eval_rng, 0, 0};
    b[3] = (struct fr_ckpt_blob){"__state__.best", FR_F64, &R->best, 1, 0, 0};
    return 4;
}

/* The settings a resumed run must share with its checkpoint. */
static int lm_meta(struct lm_run *R) {
    const struct fr_lm_config *c = R->c;
    const struct fr_tf_config *m = &R->m.cfg;
    struct lm_meta *t = R->meta;
    int n = 0;
#define META(K, ...) (snprintf(t[n].v, sizeof t[n].v, __VA_ARGS__), t[n++].k = (K))
    META("lm.format", "%d", 1);
    META("lm.data", "%.150s", c->data);
    META("lm.tokenizer", "%.150s", c->tokenizer ? c->tokenizer : "char");
    META("lm.bpe_vocab", "%d", c->bpe_vocab);
    META("lm.init", "%.150s", c->init ? c->init : "");
    META("lm.arch", "%d/%d/%d/%d/%d/%d/%d/%d", (int)m->arch, m->n_layers, m->n_heads, m->n_kv_heads,
         m->dim, m->hidden_dim, m->vocab_size, m->max_seq);
    META("lm.dropout", "%.17g", (double)m->dropout);
    META("lm.block", "%d", c->block);
    META("lm.batch", "%d", c->batch);
    META("lm.iters", "%d", c->iters);
    META("lm.lr", "%.17g/%.17g/%.17g/%.17g/%.17g", c->lr, c->min_lr, c->wd, c->beta2, c->clip);
    META("lm.warmup", "%d", c->warmup);
    META("lm.eval", "%d/%d/%d", c->eval_interval, c->eval_iters, c->select_full);
    META("lm.prepare", "%.150s", c->prepare ? c->prepare_name : "");
    META("lm.seed", "%llu", (unsigned long long)c->seed);
    META("lm.precision", "%s", c->precision ? c->precision : "f32");
    /* the text itself, not only its name: an edited file is another run */
    uint64_t h = fnv(fnv(FNV_START, R->train, (size_t)R->ntrain * sizeof *R->train), R->val,
                     (size_t)R->nval * sizeof *R->val);
    META("lm.data_hash", "%016llx", (unsigned long long)h);
#undef META
    for (int i = 0; i < n; i++)
        R->meta_k[i] = t[i].k, R->meta_v[i] = t[i].v;
    return n;
}

int fr_lm_train(const struct fr_lm_config *c, struct fr_lm_result *res) {
    memset(res, 0, sizeof *res);
    if (c->block < 1 || c->batch < 1 || c->iters < 1)
        return fr_error(FR_EINVAL, "block, batch and iters must be positive");
    if (!(c->lr > 0) || c->min_lr < 0 || c->wd < 0 || c->clip < 0 || c->eval_interval < 1 ||
        c->eval_iters < 1 || c->warmup < 0)
        return fr_error(FR_EINVAL, "bad optimisation settings (lr > 0, min-lr/wd/clip/warmup >= 0, "
                                   "eval interval and iters >= 1)");
    if (c->prepare && (!c->prepare_name || !*c->prepare_name))
        return fr_error(FR_EINVAL, "a prepare hook needs prepare_name");
    if (c->resume && !c->ckpt) return fr_error(FR_EINVAL, "resume needs a checkpoint path");
    res->init_val_loss = NAN;
    struct lm_run R;
    memset(&R, 0, sizeof R);
    R.c = c;
    R.res = res;
    R.best = INFINITY;
    int prev_prec;
    int rc0 = fr_precision_begin(c->precision, &prev_prec);
    if (rc0) return rc0;
    R.m.cfg = c->model;
    R.out = c->out;
    /* the outputs before the work: a bad or read-only path fails now */
    int rc = fr_check_writable(c->out);
    if (!rc) rc = fr_check_writable(c->ckpt);
    if (!rc) rc = load_data(&R);
    if (rc) goto done;
    if (R.ntrain < c->block + 2 || R.nval < c->block + 2) {
        rc = fr_error(FR_EINVAL, "%s: too short for block %d (train %lld, val %lld tokens)",
                      c->data, c->block, (long long)R.ntrain, (long long)R.nval);
        goto done;
    }
    if ((rc = setup_model(&R))) goto done;
    if (R.tok && (rc = fr_lm_tokenizer_tag(R.tok, R.tok_tag, sizeof R.tok_tag))) goto done;
    if ((rc = fr_mkdirs_for(c->out)) || (rc = fr_mkdirs_for(c->ckpt))) goto done;
    if (c->out && R.tok) { /* before any checkpoint: a model is never without its tokenizer */
        char tp[4096];
        snprintf(tp, sizeof tp, "%s.tok", c->out);
        if ((rc = fr_tokenizer_save(R.tok, tp))) goto done;
    }
    if ((c->init || c->prepare) &&
        (rc = fr_lm_nll(&R.m, R.val, R.nval, c->block, &res->init_val_loss, NULL)))
        goto done;
    fr_rng_seed(&R.rng, c->seed + 1);
    fr_rng_seed(&R.drop_rng, c->seed + 2);
    fr_rng_seed(&R.eval_rng, c->seed + 3);
    R.ctx = fr_ctx_new(64 << 20);
    if (!R.ctx) {
        rc = FR_ENOMEM;
        goto done;
    }
    res->n_params = fr_params_count_trainable(&R.m.params);
    res->vocab = R.m.cfg.vocab_size;
    int nmeta = lm_meta(&R);
    struct fr_fit_config lp = {
        .optim = {.opt = "adamw",
                  .lr = c->lr,
                  .beta2 = c->beta2,
                  .wd = c->wd,
                  .schedule = "cosine",
                  .warmup = c->warmup,
                  .min_lr = c->min_lr,
                  .total_steps = c->iters},
        .steps = c->iters,
        .clip = c->clip,
        .ctx = R.ctx,
        .ckpt = c->ckpt,
        .ckpt_every = c->ckpt_every,
        .ckpt_on_stop = 1,
        .resume = c->resume && c->ckpt,
        .meta_keys = R.meta_k,
        .meta_vals = R.meta_v,
        .nmeta = nmeta,
        .stop_after = c->stop_after,
        .data_parallel = c->data_parallel,
        .bucket_bytes = c->bucket_bytes,
    };
    struct fr_fit_hooks h = {.user = &R,
                             .next = lm_next,
                             .loss = lm_loss,
                             .before_step = lm_before_step,
                             .after_step = lm_after_step,
                             .blobs = lm_blobs};
    struct fr_fit_result fit;
    double t0 = fr_seconds();
    if ((rc = fr_fit(&R.m.params, &lp, &h, &fit))) goto done;
    if (fit.stopped == 1) { /* stop_after: the checkpoint holds the run */
        res->stopped = 1;
        goto done;
    }
    res->seconds = fr_seconds() - t0;
    res->tokens_per_s = (double)R.tokens / res->seconds;
    res->comm_seconds = fit.comm_seconds;
    res->comm_bytes = fit.comm_bytes;
    res->best_val_loss = R.best;
    /* score the whole validation split with the final model */
    rc = fr_lm_nll(&R.m, R.val, R.nval, c->block, &res->full_val_loss, NULL);
    res->scope_sparsity = scope_sparsity(&R.m.params);
done:
    if (!rc && R.rescued[0]) rc = fr_error(FR_EIO, "%s", R.out_err);
    fr_ctx_free(R.ctx);
    fr_tf_free(&R.m);
    fr_tokenizer_free(R.tok);
    if (R.train && is_ids_file(c->data)) {
        free(R.train);
    } else {
        free(R.train);
        free(R.val);
    }
    fr_precision_end(prev_prec);
    return rc;
}
