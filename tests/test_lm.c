/* test_lm.c: language-model training end to end on a small slice of
 * tinyshakespeare: the loss falls, the best checkpoint and tokenizer load
 * back and score the text, a run stopped halfway and resumed ends with the
 * same weights as an uninterrupted one, and bad settings are refused. */
#include "check.h"
#include "frugal/io.h"
#include "frugal/lm.h"
#include "frugal/tokenizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void tiny(struct fr_lm_config *c, const char *data) {
    fr_lm_config_defaults(c);
    c->data = data;
    c->model.n_layers = 2;
    c->model.n_heads = 2;
    c->model.dim = 32;
    c->block = 32;
    c->batch = 4;
    c->iters = 60;
    c->eval_interval = 30;
    c->eval_iters = 2;
    c->warmup = 5;
    c->lr = 3e-3;
}

int main(void) {
    fr_threads_set(2);
    /* the paths stay alive the whole test: copies, not check_tmp's rotating buffers */
    char txt[768], best[768], sel[768], ckpt_a[768], ckpt_b[768], best_tok[800], sel_tok[800];
    snprintf(txt, sizeof txt, "%s", check_tmp("lm.txt"));
    snprintf(best, sizeof best, "%s", check_tmp("lm.safetensors"));
    snprintf(best_tok, sizeof best_tok, "%s.tok", best);
    snprintf(sel, sizeof sel, "%s", check_tmp("lm_sel.safetensors"));
    snprintf(sel_tok, sizeof sel_tok, "%s.tok", sel);
    snprintf(ckpt_a, sizeof ckpt_a, "%s", check_tmp("lm_a.ckpt"));
    snprintf(ckpt_b, sizeof ckpt_b, "%s", check_tmp("lm_b.ckpt"));
    /* 40 KB of Shakespeare */
    FILE *in = fopen("data/tinyshakespeare.txt", "rb"), *out = fopen(txt, "wb");
    CHECK(in != NULL, "data/tinyshakespeare.txt (shipped with the repo) is missing");
    CHECK(out != NULL, "cannot write %s", txt);
    if (!in || !out) {
        if (in) fclose(in);
        if (out) fclose(out);
        return check_report("test_lm");
    }
    char *buf = malloc(40000);
    size_t n = fread(buf, 1, 40000, in);
    CHECK(n == 40000, "data/tinyshakespeare.txt is short: %zu bytes", n);
    fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    free(buf);

    struct fr_lm_config c;
    tiny(&c, txt);
    c.out = best;
    struct fr_lm_result r;
    int rc = fr_lm_train(&c, &r);
    CHECK(rc == 0, "train: %s", fr_last_error());
    CHECK(r.n_evals >= 2 && r.eval_val[r.n_evals - 1] < r.eval_val[0] - 0.5,
          "validation loss falls: %.3f -> %.3f", r.n_evals ? r.eval_val[0] : 0,
          r.n_evals ? r.eval_val[r.n_evals - 1] : 0);
    CHECK(r.full_val_loss > 0 && r.full_val_loss < 4, "full validation loss %.3f", r.full_val_loss);
    fr_lm_result_free(&r);

    struct fr_tf_model m;
    CHECK(fr_tf_load(&m, best) == 0, "best checkpoint loads: %s", fr_last_error());
    struct fr_tokenizer *tok;
    CHECK(fr_tokenizer_load(best_tok, &tok) == 0, "tokenizer saved: %s", fr_last_error());
    int32_t *ids;
    int64_t nid;
    double nll;
    CHECK(fr_lm_load_tokens(txt, tok, &ids, &nid) == 0, "encode");
    CHECK(fr_lm_nll(&m, ids, 2000, 32, &nll, NULL) == 0 && nll < 3.5, "nll %.3f", nll);
    free(ids);
    fr_tokenizer_free(tok);
    fr_tf_free(&m);

    /* select_full: the kept checkpoint is the one best on the whole validation
     * split, and best_val_loss is its score */
    tiny(&c, txt);
    c.out = sel;
    c.select_full = 1;
    c.iters = 40;
    c.eval_interval = 10;
    CHECK(fr_lm_train(&c, &r) == 0, "select_full train: %s", fr_last_error());
    double best_sel = r.best_val_loss;
    fr_lm_result_free(&r);
    if (fr_tf_load(&m, c.out) == 0 && fr_tokenizer_load(sel_tok, &tok) == 0) {
        /* fr_lm_load_split's held-out part is train-lm's validation split */
        int32_t *val, *trn;
        int64_t nval, ntrn;
        CHECK(fr_lm_load_tokens(txt, tok, &ids, &nid) == 0, "encode");
        CHECK(fr_lm_load_split(txt, tok, 1, &val, &nval) == 0, "held-out split");
        CHECK(fr_lm_load_split(txt, tok, 0, &trn, &ntrn) == 0, "training split");
        CHECK(ntrn == 36000 && nval == 4000 && ntrn + nval == nid &&
                  !memcmp(trn, ids, sizeof(int32_t) * 36000) &&
                  !memcmp(val, ids + 36000, sizeof(int32_t) * 4000),
              "splits %lld + %lld of %lld characters at byte 36000", (long long)ntrn,
              (long long)nval, (long long)nid);
        CHECK(fr_lm_nll(&m, val, nval, 32, &nll, NULL) == 0 &&
                  fabs(nll - best_sel) < 1e-9 * (1 + nll),
              "kept checkpoint scores %.6f on the validation split, best_val_loss %.6f", nll,
              best_sel);
        CHECK(fr_lm_load_split("/nonexistent/x.txt", tok, 1, &val, &nval) != 0 &&
                  fr_lm_load_split(txt, NULL, 1, &val, &nval) != 0,
              "a missing file or a text without a tokenizer is an error");
        free(val);
        free(trn);
        free(ids);
        fr_tokenizer_free(tok);
        fr_tf_free(&m);
    } else {
        CHECK(0, "select_full checkpoint loads: %s", fr_last_error());
    }

    /* resume: stopped at 20 of 40 iterations, then continued */
    struct fr_lm_config a, b;
    tiny(&a, txt);
    a.iters = 40;
    a.ckpt = ckpt_a;
    a.ckpt_every = 40;
    CHECK(fr_lm_train(&a, &r) == 0, "run A: %s", fr_last_error());
    fr_lm_result_free(&r);
    tiny(&b, txt);
    b.iters = 40;
    b.ckpt = ckpt_b;
    b.stop_after = 20;
    remove(b.ckpt);
    CHECK(fr_lm_train(&b, &r) == 0 && r.iters_done == 20, "run B stops at 20");
    fr_lm_result_free(&r);
    b.stop_after = 0;
    b.resume = 1;
    b.ckpt_every = 40;
    CHECK(fr_lm_train(&b, &r) == 0 && r.iters_done == 40, "run B resumes to 40: %s",
          fr_last_error());
    fr_lm_result_free(&r);
    struct fr_st_file *fa, *fb;
    CHECK(fr_st_open(a.ckpt, &fa) == 0 && fr_st_open(b.ckpt, &fb) == 0, "both checkpoints");
    int same = fa->n == fb->n;
    for (int i = 0; same && i < fa->n; i++) {
        const struct fr_st_entry *x = &fa->entries[i], *y = fr_st_find(fb, x->name);
        if (!strcmp(x->name, "__fit__.seconds")) continue; /* wall time */
        same = y && x->nbytes == y->nbytes && memcmp(x->data, y->data, x->nbytes) == 0;
        if (!same) fprintf(stderr, "differs: %s\n", x->name);
    }
    CHECK(same, "killed-and-resumed run ends bit-identical to the uninterrupted one");
    fr_st_close(fa);
    fr_st_close(fb);

    struct fr_lm_config bad;
    tiny(&bad, txt);
    bad.block = 0;
    CHECK(fr_lm_train(&bad, &r) != 0, "block 0 refused");
    tiny(&bad, "/nonexistent.txt");
    CHECK(fr_lm_train(&bad, &r) != 0 && strstr(fr_last_error(), "cannot open"), "missing data: %s",
          fr_last_error());
    tiny(&bad, txt);
    bad.model.n_heads = 3;
    CHECK(fr_lm_train(&bad, &r) != 0, "dim not divisible by heads refused: %s", fr_last_error());
    return check_report("test_lm");
}
