/* test_prune_file.c: pruning checkpoint files, the library under `frugal
 * prune`, `frugal sparsity` and `frugal train --init`: fr_prune_file on an
 * image classifier (exact count, provenance metadata, the mask in the
 * file) and on a transformer LM (its tokenizer copied, SNIP scored on a
 * text through fr_prune_lm_batch, whose windows are checked against their
 * definition); refusals that write nothing; fr_sparsity_table_file on a
 * model with and without a mask, an LM and a foreign safetensors file
 * (shape-guessed scope, globs, trainer state skipped); and a pruned
 * checkpoint as the start of a training run (fr_train_config_start_from).
 * imp on Fashion-MNIST runs when the data is there. */
#include "check.h"

#include "frugal/data.h"
#include "frugal/experiments/prune_run.h"
#include "frugal/io.h"
#include "frugal/lm.h"
#include "frugal/methods/prune.h"
#include "frugal/models.h"
#include "frugal/tokenizer.h"
#include "frugal/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Paths in this test's directory (set once in main). */
static char g_mlp[600], g_lm[600], g_lm_tok[640], g_txt[600], g_out[600], g_out_tok[640];

static int exists(const char *p) {
    return access(p, F_OK) == 0;
}

/* An image classifier written as `frugal train` writes it (metadata). */
static void save_mlp(const struct fr_model *m, const char *path, int masked) {
    char keys[FR_MODEL_META_MAX][64], vals[FR_MODEL_META_MAX][64];
    const char *kp[FR_MODEL_META_MAX], *vp[FR_MODEL_META_MAX];
    int n = fr_model_meta_write(m, keys, vals, FR_MODEL_META_MAX);
    for (int i = 0; i < n; i++)
        kp[i] = keys[i], vp[i] = vals[i];
    struct fr_ckpt o = {kp, vp, n, NULL, 0, FR_F32, 0, 0};
    int rc = masked ? fr_prune_save(&m->params, path, &o) : fr_params_save(&m->params, path, &o);
    CHECK(rc == 0, "save %s: %s", path, fr_last_error());
}

/* A tiny character-level GPT-2 with MODEL.tok beside it, and a text. */
static int make_lm(void) {
    static const char line[] = "the quick brown fox jumps over the lazy dog, said the fox. ";
    FILE *f = fopen(g_txt, "wb");
    if (!f) return 0;
    for (int i = 0; i < 40; i++)
        fputs(line, f);
    fclose(f);
    struct fr_tokenizer *tok = NULL;
    if (fr_tokenizer_train_char(line, strlen(line), &tok)) return 0;
    struct fr_tf_config c = {0};
    c.arch = FR_TF_GPT2;
    c.dim = 16, c.hidden_dim = 32, c.n_layers = 1, c.n_heads = 2, c.n_kv_heads = 2;
    c.vocab_size = (int)fr_tokenizer_vocab_size(tok), c.max_seq = 16, c.tied = 1;
    struct fr_tf_model m;
    int ok = fr_tf_init(&m, &c, 3) == 0 && fr_tf_save(&m, g_lm, FR_F32) == 0 &&
             fr_tokenizer_save(tok, g_lm_tok) == 0;
    CHECK(ok, "tiny LM: %s", fr_last_error());
    fr_tf_free(&m);
    fr_tokenizer_free(tok);
    return ok;
}

static void test_image(void) {
    struct fr_prune_file_config c;
    fr_prune_file_config_defaults(&c);
    c.model = g_mlp, c.out = g_out, c.sparsity = 0.8;
    struct fr_prune_file_result r;
    int rc = fr_prune_file(&c, &r);
    int64_t want = r.scope - llround(0.8 * (double)r.scope);
    CHECK(rc == 0 && r.counted && !r.language_model && !r.trained && r.scope > 0 &&
              r.scope_nonzero == want && r.total > r.scope,
          "omp 0.8 of an mlp: rc %d (%s), %lld of %lld left (want %lld)", rc, fr_last_error(),
          (long long)r.scope_nonzero, (long long)r.scope, (long long)want);
    struct fr_st_file *f = NULL;
    CHECK(fr_st_open(g_out, &f) == 0, "output opens");
    if (f) {
        const char *m = fr_st_meta(f, "prune.method"), *s = fr_st_meta(f, "prune.sparsity");
        const char *a = fr_st_meta(f, "arch"), *l = fr_st_meta(f, "prune.layerwise");
        CHECK(m && !strcmp(m, "omp") && s && fabs(atof(s) - 0.8) < 1e-12 && a &&
                  !strcmp(a, "mlp") && l && !strcmp(l, "0") && fr_st_find(f, FR_MASK_BLOB),
              "provenance: method %s, sparsity %s, arch %s, mask %s", m ? m : "-", s ? s : "-",
              a ? a : "-", fr_st_find(f, FR_MASK_BLOB) ? "yes" : "no");
        fr_st_close(f);
    }
    /* the pruned file, counted from the file */
    struct fr_sparsity_table t;
    int mask = -2;
    rc = fr_sparsity_table_file(g_out, NULL, NULL, &t, &mask);
    CHECK(rc == 0 && mask == 1 && t.scope == r.scope && t.scope_nonzero == r.scope_nonzero &&
              t.total == r.total && t.total_nonzero == r.total_nonzero,
          "sparsity table of the file: rc %d, mask %d, %lld of %lld", rc, mask,
          (long long)t.scope_nonzero, (long long)t.scope);
    fr_sparsity_table_free(&t);
    rc = fr_sparsity_table_file(g_mlp, "fc1.*", NULL, &t, &mask);
    CHECK(rc == 0 && mask == 0 && t.count == 6 && t.scope == 784 * 256 + 256 &&
              !strcmp(t.rows[0].name, "fc1.weight") && t.rows[0].in_scope && !t.rows[2].in_scope,
          "table of the dense model scoped to fc1.*: rc %d, mask %d, %d rows, scope %lld", rc, mask,
          t.count, (long long)t.scope);
    fr_sparsity_table_free(&t);

    /* N:M and random layer-wise */
    c.method = "nm", c.nm = "1:4";
    rc = fr_prune_file(&c, &r);
    CHECK(rc == 0 && r.counted && 4 * r.scope_nonzero == r.scope, "nm 1:4: %lld of %lld",
          (long long)r.scope_nonzero, (long long)r.scope);
    c.method = "random", c.layerwise = 1, c.sparsity = 0.5, c.scope = "fc1.*,fc2.*";
    rc = fr_prune_file(&c, &r);
    CHECK(rc == 0 && r.scope == 784 * 256 + 256 + 256 * 128 + 128 && 2 * r.scope_nonzero == r.scope,
          "random, layer-wise, scoped: %lld of %lld", (long long)r.scope_nonzero,
          (long long)r.scope);

    /* a pruned checkpoint starts a training run */
    struct fr_train_config tc;
    fr_train_config_defaults(&tc);
    char arch[32];
    rc = fr_train_config_start_from(&tc, g_out, arch, sizeof arch);
    CHECK(rc == 0 && !strcmp(tc.model, "mlp") && tc.init && tc.init_name == g_out,
          "start_from: rc %d (%s), model %s", rc, fr_last_error(), tc.model ? tc.model : "-");
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    struct fr_model *m = fr_model_new("mlp", &mc, 99), *ref = fr_model_load(g_out, NULL);
    rc = m && tc.init ? tc.init(tc.init_user, m) : -1;
    int same = rc == 0 && ref && m->params.mask && m->params.n == ref->params.n &&
               !memcmp(m->params.data, ref->params.data, sizeof(float) * (size_t)m->params.n) &&
               !memcmp(m->params.mask, ref->params.mask, sizeof(float) * (size_t)m->params.n);
    CHECK(same, "the init hook loads the weights and the mask: rc %d (%s)", rc, fr_last_error());
    fr_model_free(m);
    fr_model_free(ref);
    rc = fr_train_config_start_from(&tc, g_lm, arch, sizeof arch);
    CHECK(rc == FR_EINVAL && strstr(fr_last_error(), "is not an image classifier"),
          "a language model does not start an image run: rc %d [%s]", rc, fr_last_error());
    mc.in_h = mc.in_w = 14;
    m = fr_model_new("mlp", &mc, 1);
    rc = fr_train_init_checkpoint(g_out, m);
    CHECK(rc != 0 && !strncmp(fr_last_error(), "--init ", 7) && strstr(fr_last_error(), "14 x 14"),
          "a checkpoint made for other images: rc %d [%s]", rc, fr_last_error());
    fr_model_free(m);
}

/* What a refusal must do: fail with the message, write nothing. */
static void refused(struct fr_prune_file_config *c, const char *what, const char *msg) {
    struct fr_prune_file_result r;
    unlink(c->out);
    int rc = fr_prune_file(c, &r);
    CHECK(rc != 0 && strstr(fr_last_error(), msg) && !exists(c->out) && !r.counted,
          "%s: rc %d [%s], output %s", what, rc, fr_last_error(),
          exists(c->out) ? "written" : "none");
}

static void test_refusals(void) {
    struct fr_prune_file_config c;
    fr_prune_file_config_defaults(&c);
    c.model = g_mlp, c.out = g_out;
    c.sparsity = 1;
    refused(&c, "sparsity 1", "must be in [0, 1)");
    c.sparsity = 0.5, c.method = "nm", c.nm = "4:2";
    refused(&c, "N:M 4:2", "N:M pattern");
    c.method = "omp", c.scope = "nothing*";
    refused(&c, "an empty scope", "selects no tensor");
    c.scope = "", c.method = "imp", c.layerwise = 1;
    refused(&c, "imp layer-wise", "--layerwise does not apply");
    c.layerwise = 0, c.sparsity = 0;
    refused(&c, "imp at sparsity 0", "needs a sparsity in (0, 1)");
    c.sparsity = 0.5, c.model = g_lm;
    refused(&c, "imp on a language model", "trains image classifiers");
    c.method = "bogus";
    refused(&c, "an unknown method", "unknown pruning method");
    c.method = "omp", c.model = g_mlp;
    char bad_out[700];
    snprintf(bad_out, sizeof bad_out, "%s/x.safetensors", g_mlp); /* under a regular file */
    c.out = bad_out;
    refused(&c, "an output under a file", "not a directory");
    c.out = g_out, c.model = "/nonexistent/model.safetensors";
    refused(&c, "a missing model", "nonexistent");
}

static void test_lm(void) {
    struct fr_prune_file_config c;
    fr_prune_file_config_defaults(&c);
    c.model = g_lm, c.out = g_out, c.sparsity = 0.5;
    struct fr_prune_file_result r;
    unlink(g_out_tok);
    int rc = fr_prune_file(&c, &r);
    CHECK(rc == 0 && r.language_model && r.counted && 2 * r.scope_nonzero == r.scope &&
              exists(g_out_tok),
          "omp 0.5 of an LM: rc %d (%s), %lld of %lld, tokenizer %s", rc, fr_last_error(),
          (long long)r.scope_nonzero, (long long)r.scope, exists(g_out_tok) ? "copied" : "missing");
    struct fr_sparsity_table t;
    int mask = -2;
    rc = fr_sparsity_table_file(g_out, NULL, NULL, &t, &mask);
    CHECK(rc == 0 && mask == 1 && t.scope == r.scope && t.scope_nonzero == r.scope_nonzero,
          "sparsity table of the pruned LM: rc %d, mask %d", rc, mask);
    fr_sparsity_table_free(&t);
    rc = fr_sparsity_table_file(g_lm, NULL, NULL, &t, &mask);
    CHECK(rc == 0 && mask == 0 && t.scope == r.scope && t.scope_nonzero == t.scope,
          "sparsity table of the dense LM: rc %d, mask %d", rc, mask);
    fr_sparsity_table_free(&t);

    c.method = "snip", c.text = g_txt, c.batch = 3;
    rc = fr_prune_file(&c, &r);
    CHECK(rc == 0 && r.counted && 2 * r.scope_nonzero == r.scope, "snip on the text: rc %d (%s)",
          rc, fr_last_error());
    /* without the tokenizer beside it, a text cannot be scored */
    char lone[700];
    snprintf(lone, sizeof lone, "%s", check_tmp("lone.safetensors"));
    struct fr_tf_model m;
    CHECK(fr_tf_load_ex(&m, g_lm, FR_TF_TRAINABLE) == 0 && fr_tf_save(&m, lone, FR_F32) == 0,
          "copy without tokenizer");
    fr_tf_free(&m);
    c.model = lone;
    refused(&c, "snip without a tokenizer", "needs a tokenizer beside the model");
}

/* The windows are where their definition puts them; bad input is refused. */
static void test_lm_batch(void) {
    struct fr_tf_model m;
    if (fr_lm_load_trainable(&m, g_lm, NULL)) {
        CHECK(0, "load the tiny LM: %s", fr_last_error());
        return;
    }
    int64_t n = 100, T = m.cfg.max_seq, B = 4;
    int32_t ids[100];
    for (int64_t i = 0; i < n; i++)
        ids[i] = (int32_t)((i * 7) % m.cfg.vocab_size);
    struct fr_prune_lm_batch b;
    int rc = fr_prune_lm_batch_init(&b, &m, ids, n, B, 1.0f);
    int ok = rc == 0 && b.T == T && b.B == B;
    for (int64_t k = 0; ok && k < B; k++) {
        int64_t s0 = k * (n - T - 1) / (B - 1);
        for (int64_t t = 0; t < T; t++)
            ok &= b.x[k * T + t] == ids[s0 + t] && b.y[k * T + t] == ids[s0 + t + 1];
    }
    CHECK(ok, "windows evenly spread, targets one ahead: rc %d", rc);
    double loss = 0;
    rc = rc ? rc : fr_prune_lm_batch_loss(&b, &m.params, &loss);
    double g2 = 0;
    for (int64_t i = 0; i < m.params.n; i++)
        g2 += (double)m.params.grad[i] * m.params.grad[i];
    CHECK(rc == 0 && isfinite(loss) && loss > 0 && g2 > 0, "loss %g, |grad|^2 %g", loss, g2);
    fr_prune_lm_batch_free(&b);
    fr_prune_lm_batch_free(&b); /* a zeroed batch is a no-op */
    CHECK(fr_prune_lm_batch_init(&b, &m, ids, T + 1, B, 1) == FR_EINVAL, "too few tokens");
    ids[5] = m.cfg.vocab_size;
    CHECK(fr_prune_lm_batch_init(&b, &m, ids, n, B, 1) == FR_EINVAL,
          "a token outside the vocabulary");
    ids[5] = 0;
    CHECK(fr_prune_lm_batch_init(&b, &m, ids, n, 0, 1) == FR_EINVAL, "no windows");
    fr_tf_free(&m);
}

/* A foreign safetensors file: rows in file order, trainer state skipped. */
static void test_foreign_file(void) {
    char path[700];
    snprintf(path, sizeof path, "%s", check_tmp("foreign.safetensors"));
    float w[12] = {0, 1, 2, 0, 4, 5, 6, 7, 0, 9, 10, 11}, b[3] = {0, 0, 1}, st[4] = {0};
    float v5[1] = {1};
    struct fr_st_out t[4] = {
        {.name = "layer.w", .dtype = FR_F32, .ndim = 2, .ne = {3, 4}, .data = w},
        {.name = "layer.b", .dtype = FR_F32, .ndim = 1, .ne = {3}, .data = b},
        {.name = "__optim__.m", .dtype = FR_F32, .ndim = 1, .ne = {4}, .data = st},
        {.name = "scalar", .dtype = FR_F32, .ndim = 0, .data = v5},
    };
    CHECK(fr_st_write(path, t, 4, NULL, NULL, 0) == 0, "write: %s", fr_last_error());
    struct fr_sparsity_table s;
    int mask = -2;
    int rc = fr_sparsity_table_file(path, "", "", &s, &mask);
    CHECK(rc == 0 && mask == -1 && s.count == 3 && !strcmp(s.rows[0].name, "layer.w") &&
              s.rows[0].in_scope && !s.rows[1].in_scope && s.scope == 12 && s.scope_nonzero == 9 &&
              s.total == 16 && s.total_nonzero == 11,
          "shape-guessed scope: rc %d, mask %d, %d rows, scope %lld/%lld, total %lld/%lld", rc,
          mask, s.count, (long long)s.scope_nonzero, (long long)s.scope, (long long)s.total_nonzero,
          (long long)s.total);
    fr_sparsity_table_free(&s);
    rc = fr_sparsity_table_file(path, "*.b,,scalar", "scalar", &s, &mask);
    CHECK(rc == 0 && s.scope == 3 && s.scope_nonzero == 1 && s.rows[1].in_scope,
          "globs (an empty pattern skipped, exclude wins): scope %lld", (long long)s.scope);
    fr_sparsity_table_free(&s);
    rc = fr_sparsity_table_file(check_tmp("missing.safetensors"), NULL, NULL, &s, &mask);
    CHECK(rc != 0 && s.rows == NULL && s.count == 0, "a missing file: rc %d", rc);
}

/* IMP on Fashion-MNIST: the training numbers come back and are recorded. */
static void test_imp(void) {
    struct fr_prune_file_config c;
    fr_prune_file_config_defaults(&c);
    c.model = g_mlp, c.out = g_out, c.method = "imp", c.sparsity = 0.5;
    c.steps = 3, c.limit_train = 256, c.fit_batch = 32;
    struct fr_prune_file_result r;
    int rc = fr_prune_file(&c, &r);
    CHECK(rc == 0 && r.trained && r.rounds > 0 && r.train_steps == 3 * r.rounds &&
              !strcmp(r.task, "fashion") && r.acc_before >= 0 && r.acc_before <= 1 &&
              r.acc_after >= 0 && r.acc_after <= 1 && r.counted && 2 * r.scope_nonzero == r.scope,
          "imp: rc %d (%s), %d rounds, %lld steps", rc, fr_last_error(), r.rounds,
          (long long)r.train_steps);
    struct fr_st_file *f = NULL;
    if (fr_st_open(g_out, &f) == 0) {
        const char *s = fr_st_meta(f, "prune.train_steps");
        CHECK(s && atoll(s) == r.train_steps, "prune.train_steps %s", s ? s : "-");
        fr_st_close(f);
    }
    c.task = "coarse";
    refused(&c, "imp on a task with other classes", "classes");
}

int main(void) {
    fr_threads_set(2);
    snprintf(g_mlp, sizeof g_mlp, "%s", check_tmp("mlp.safetensors"));
    snprintf(g_lm, sizeof g_lm, "%s", check_tmp("lm.safetensors"));
    snprintf(g_lm_tok, sizeof g_lm_tok, "%s.tok", g_lm);
    snprintf(g_txt, sizeof g_txt, "%s", check_tmp("text.txt"));
    snprintf(g_out, sizeof g_out, "%s", check_tmp("sub/pruned.safetensors"));
    snprintf(g_out_tok, sizeof g_out_tok, "%s.tok", g_out);
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    struct fr_model *m = fr_model_new("mlp", &mc, 1);
    save_mlp(m, g_mlp, 0);
    fr_model_free(m);
    if (!make_lm()) return check_report("test_prune_file");
    test_image();
    test_refusals();
    test_lm();
    test_lm_batch();
    test_foreign_file();
    struct fr_dataset ds;
    if (fr_dataset_fashion_mnist(&ds, NULL, 0, 1) == 0) {
        fr_dataset_free(&ds);
        test_imp();
    } else {
        printf("test_prune_file: SKIPPED in part: imp (%s)\n", fr_last_error());
    }
    return check_report("test_prune_file");
}
