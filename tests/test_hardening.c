/* test_hardening.c: the library calls behind "no silent wrong answers, no
 * lost work": fr_evaluate refuses an empty split; fr_prune refuses a
 * sparsity that rounds to every weight (global and layer-wise) and leaves
 * the mask as it was; fr_check_writable probes without leaving anything;
 * fr_write_rescued saves what could not be written and says where;
 * fr_train_run and fr_lm_train save their model to a rescue file when the
 * output directory vanishes mid-run, and fr_lm_train writes the tokenizer
 * before the first checkpoint and names it there; fr_lm_tokenizer_check
 * tells a model's tokenizer from another; a negative fr_tf_generate
 * callback is an error. Data: a synthetic IDX dataset and a slice of
 * data/tinyshakespeare.txt. */
#include "check.h"
#include "frugal/lm.h"
#include "frugal/methods/prune.h"
#include "frugal/models.h"
#include "frugal/report.h"
#include "frugal/tokenizer.h"
#include "frugal/train.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int exists(const char *path) {
    return access(path, F_OK) == 0;
}

/* Entries of dir, "." and ".." not counted. */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d) closedir(d);
    return n;
}

static const char *make_data(void) {
    static char dir[512];
    char p[600];
    snprintf(dir, sizeof dir, "%s/data", check_tmpdir());
    mkdir(dir, 0777);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    check_write_idx(p, 128, 28, 0);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", dir);
    check_write_idx(p, 128, 0, 1);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", dir);
    check_write_idx(p, 32, 28, 0);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dir);
    check_write_idx(p, 32, 0, 1);
    return dir;
}

/* Replaces directory dir (and what is in it) by a regular file, so every
 * later write below it fails, whoever runs it (root included). */
static void dir_to_file(const char *dir) {
    DIR *d = opendir(dir);
    char p[1200];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(dir);
    FILE *f = fopen(dir, "wb");
    if (f) fclose(f);
}

static void test_evaluate_empty(const char *data) {
    struct fr_dataset ds;
    CHECK(fr_dataset_fashion_mnist(&ds, data, 0, 0) == 0, "synthetic data: %s", fr_last_error());
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    struct fr_model *m = fr_model_new("mlp", &mc, 1);
    struct fr_subset none = {NULL, 0};
    double acc = -1;
    int rc = fr_evaluate(m, &ds, &none, NULL, 0, &acc, NULL);
    CHECK(rc == FR_EINVAL && strstr(fr_last_error(), "no samples") && acc == -1,
          "an empty split has no accuracy: rc %d [%s], acc %g", rc, fr_last_error(), acc);
    rc = fr_evaluate(m, &ds, NULL, NULL, 0, &acc, NULL);
    CHECK(rc == 0 && acc >= 0 && acc <= 1, "the whole split: rc %d, acc %g", rc, acc);
    fr_model_free(m);
    fr_dataset_free(&ds);
}

static void test_prune_keeps_one(void) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    struct fr_model *m = fr_model_new("mlp", &mc, 1);
    int *sel = calloc((size_t)m->params.count, sizeof *sel);
    fr_prune_scope(&m->params, NULL, NULL, sel);
    int64_t scope = 0;
    for (int i = 0; i < m->params.count; i++)
        if (sel[i]) scope += fr_nelem(m->params.items[i].t);
    struct fr_prune_config pc;
    fr_prune_config_defaults(&pc);
    pc.sparsity = 1.0 - 0.4 / (double)scope; /* rounds to every weight */
    int rc = fr_prune(&m->params, sel, &pc, NULL, NULL);
    CHECK(rc == FR_EINVAL && strstr(fr_last_error(), "keeps one") && m->params.mask == NULL,
          "global: a sparsity that leaves nothing is refused, nothing changed: rc %d [%s]", rc,
          fr_last_error());
    pc.sparsity = 1.0 - 1.0 / (double)scope; /* leaves exactly one */
    rc = fr_prune(&m->params, sel, &pc, NULL, NULL);
    int64_t kept = 0;
    for (int i = 0; rc == 0 && i < m->params.count; i++)
        for (int64_t j = 0; sel[i] && j < fr_nelem(m->params.items[i].t); j++)
            kept += m->params.mask[m->params.items[i].offset + j] != 0.0f;
    CHECK(rc == 0 && kept == 1, "one weight left: rc %d [%s], %lld kept", rc, fr_last_error(),
          (long long)kept);
    fr_model_free(m);
    m = fr_model_new("mlp", &mc, 1);
    pc.sparsity = 0.99999; /* fc2.weight: 32768 weights, rounds to all of them */
    pc.layerwise = 1;
    rc = fr_prune(&m->params, sel, &pc, NULL, NULL);
    CHECK(rc == FR_EINVAL && strstr(fr_last_error(), "fc2.weight") && m->params.mask == NULL,
          "layer-wise: refused naming the tensor: rc %d [%s]", rc, fr_last_error());
    fr_model_free(m);
    free(sel);
}

static void test_check_writable(void) {
    char p[600], q[600];
    const char *tmp = check_tmpdir();
    snprintf(p, sizeof p, "%s/probe", tmp);
    mkdir(p, 0777);
    snprintf(q, sizeof q, "%s/probe/a/b/c/model.st", tmp);
    CHECK(fr_check_writable(q) == 0, "new directories: %s", fr_last_error());
    CHECK(count_entries(p) == 0, "the probe leaves nothing in %s (%d entries)", p,
          count_entries(p));
    snprintf(q, sizeof q, "%s/probe/d/e", tmp);
    CHECK(fr_check_writable_dir(q) == 0 && count_entries(p) == 0, "a directory: %s",
          fr_last_error());
    snprintf(q, sizeof q, "%s/probe/file", tmp);
    FILE *f = fopen(q, "wb");
    if (f) fclose(f);
    CHECK(fr_check_writable(q) == 0 && exists(q), "an existing file: %s", fr_last_error());
    snprintf(q, sizeof q, "%s/probe/file/x.st", tmp);
    int rc = fr_check_writable(q);
    CHECK(rc == FR_EIO && strstr(fr_last_error(), "cannot write"), "below a file: rc %d [%s]", rc,
          fr_last_error());
    CHECK(fr_check_writable(p) == FR_EIO && strstr(fr_last_error(), "directory"),
          "a directory as a file: [%s]", fr_last_error());
    CHECK(fr_check_writable(NULL) == 0 && fr_check_writable("") == 0, "no file, no check");
    CHECK(count_entries(p) == 1, "only the file is left in %s", p);
}

static int fail_at_first(void *user, const char *path) {
    int *calls = user;
    if ((*calls)++ == 0) return fr_error(FR_EIO, "disk full (pretend)");
    FILE *f = fopen(path, "wb");
    if (!f) return fr_error(FR_EIO, "cannot open %s", path);
    fputs("saved", f);
    fclose(f);
    return 0;
}

static int fail_always(void *user, const char *path) {
    (void)user;
    (void)path;
    return fr_error(FR_EIO, "no space at all (pretend)");
}

static void test_write_rescued(void) {
    char rescued[4200];
    int calls = 0;
    fail_at_first(&calls, "unused");
    int rc = fr_write_rescued(FR_EIO, "/nowhere/model.st", "the model", fail_at_first, &calls,
                              rescued, sizeof rescued);
    CHECK(rc == FR_EIO && strstr(fr_last_error(), "/nowhere/model.st") &&
              strstr(fr_last_error(), "disk full") && strstr(fr_last_error(), rescued) &&
              strstr(rescued, "frugal-rescue-") && strstr(rescued, "-model.st") && exists(rescued),
          "rescued to [%s]: [%s]", rescued, fr_last_error());
    char *slash = strrchr(rescued, '/');
    CHECK(slash && !strncmp(rescued, check_tmpdir(), (size_t)(slash - rescued)),
          "the rescue file is in $TMPDIR: %s", rescued);
    int before = count_entries(check_tmpdir());
    fr_error(FR_EIO, "first failure");
    rc = fr_write_rescued(FR_EIO, "/nowhere/m.st", "the model", fail_always, NULL, rescued,
                          sizeof rescued);
    CHECK(rc == FR_EIO && strstr(fr_last_error(), "nor a rescue copy") && !rescued[0] &&
              count_entries(check_tmpdir()) == before,
          "no rescue possible, nothing left: [%s]", fr_last_error());
}

/* Progress hook that removes the output directory during the last epoch. */
struct vanish {
    const char *dir;
    int done;
};

static void vanish_on_epoch_end(void *user, int epoch, int64_t step, int64_t total, double loss,
                                double lr, int epoch_end, double val) {
    struct vanish *v = user;
    if (epoch_end && !v->done) {
        dir_to_file(v->dir);
        v->done = 1;
    }
}

static void test_train_rescue(const char *data) {
    char dir[600], out[700];
    snprintf(dir, sizeof dir, "%s/vanish", check_tmpdir());
    snprintf(out, sizeof out, "%s/model.safetensors", dir);
    struct fr_train_config c;
    fr_train_config_defaults(&c);
    c.model = "mlp";
    c.data_dir = data;
    c.epochs = 1;
    c.batch = 32;
    c.out = out;
    struct vanish v = {dir, 0};
    c.progress = vanish_on_epoch_end;
    c.user = &v;
    struct fr_train_result r;
    int rc = fr_train_run(&c, &r);
    const char *at = strstr(fr_last_error(), "saved to ");
    char rescued[1024] = "";
    if (at) sscanf(at, "saved to %1023s", rescued);
    struct fr_model *m = rescued[0] ? fr_model_load(rescued, NULL) : NULL;
    CHECK(rc != 0 && v.done && m != NULL, "the trained model survives in [%s]: rc %d [%s]", rescued,
          rc, fr_last_error());
    fr_model_free(m);
    fr_train_result_free(&r);
}

static void copy_prefix(const char *src, const char *dst, size_t n) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    char buf[4096];
    size_t got;
    while (in && out && n > 0 && (got = fread(buf, 1, n < sizeof buf ? n : sizeof buf, in)) > 0) {
        fwrite(buf, 1, got, out);
        n -= got;
    }
    if (in) fclose(in);
    if (out) fclose(out);
}

struct lm_watch {
    const char *dir, *out;
    int evals, tok_before_first; /* the tokenizer existed at the first evaluation */
};

static void lm_progress(void *user, int64_t it, int64_t iters, double loss, double lr, int is_eval,
                        double val) {
    struct lm_watch *w = user;
    char tp[800];
    if (!is_eval) return;
    snprintf(tp, sizeof tp, "%s.tok", w->out);
    if (w->evals == 0) w->tok_before_first = exists(tp) && !exists(w->out);
    if (++w->evals == 2) dir_to_file(w->dir); /* after the first best checkpoint */
}

static void tiny_lm(struct fr_lm_config *c, const char *text) {
    fr_lm_config_defaults(c);
    c->data = text;
    c->model.n_layers = 1;
    c->model.n_heads = 2;
    c->model.dim = 16;
    c->block = 16;
    c->batch = 4;
    c->iters = 30;
    c->eval_interval = 5;
    c->eval_iters = 1;
    c->warmup = 2;
    c->lr = 1e-2;
}

static void test_lm_tokenizer_and_rescue(const char *text) {
    char dir[600], out[700];
    snprintf(dir, sizeof dir, "%s/lmv", check_tmpdir());
    snprintf(out, sizeof out, "%s/best.safetensors", dir);
    struct fr_lm_config c;
    tiny_lm(&c, text);
    c.out = out;
    struct lm_watch w = {dir, out, 0, 0};
    c.progress = lm_progress;
    c.user = &w;
    struct fr_lm_result r;
    int rc = fr_lm_train(&c, &r);
    CHECK(w.tok_before_first, "the tokenizer is written before the first checkpoint");
    const char *at = strstr(fr_last_error(), "saved to ");
    char rescued[1024] = "", tp[1100];
    if (at) sscanf(at, "saved to %1023s", rescued);
    snprintf(tp, sizeof tp, "%s.tok", rescued);
    CHECK(rc == FR_EIO && rescued[0] && exists(rescued) && exists(tp) && r.iters_done == c.iters,
          "training went on into a rescue file [%s]: rc %d, %lld iterations [%s]", rescued, rc,
          (long long)r.iters_done, fr_last_error());
    fr_lm_result_free(&r);
    /* the rescued model names its tokenizer, which fits it; another does not */
    struct fr_tokenizer *tok = NULL, *other = NULL;
    char tag[96] = "", named[96] = "";
    if (rescued[0] && fr_tokenizer_load(tp, &tok) == 0) {
        fr_lm_tokenizer_tag(tok, tag, sizeof tag);
        fr_lm_tokenizer_named(rescued, named, sizeof named);
        CHECK(tag[0] && !strcmp(tag, named), "the checkpoint names its tokenizer: %s vs %s", named,
              tag);
        CHECK(fr_lm_tokenizer_check(rescued, 1 << 20, tok, 1) == 0, "its own tokenizer: %s",
              fr_last_error());
        CHECK(fr_lm_tokenizer_check(rescued, 1 << 20, NULL, 0) == 0, "none, ids only: %s",
              fr_last_error());
        int rc2 = fr_lm_tokenizer_check(rescued, 1 << 20, NULL, 1);
        CHECK(rc2 == FR_EINVAL && strstr(fr_last_error(), "is missing"), "none, text: [%s]",
              fr_last_error());
        fr_tokenizer_train_char("abc", 3, &other);
        rc2 = other ? fr_lm_tokenizer_check(rescued, 1 << 20, other, 1) : 0;
        CHECK(rc2 == FR_EINVAL && strstr(fr_last_error(), "is not the one"), "another: [%s]",
              fr_last_error());
        CHECK(fr_lm_tokenizer_check("data/stories260K.bin", 512, NULL, 1) == 0,
              "a file that names no tokenizer passes");
    }
    fr_tokenizer_free(tok);
    fr_tokenizer_free(other);
}

static int stop_with_error(void *user, int64_t step, const int32_t *prev, const int32_t *tokens) {
    (void)user;
    (void)prev;
    (void)tokens;
    return step == 2 ? fr_error(FR_EINVAL, "cannot print token (pretend)") : 0;
}

static void test_generate_callback_error(void) {
    struct fr_tf_model m;
    if (fr_tf_load(&m, "data/stories260K.bin")) {
        CHECK(0, "load stories260K: %s", fr_last_error());
        return;
    }
    int32_t bos = 1;
    struct fr_tf_generate_config gc = {.prompt = &bos,
                                       .n_prompt = 1,
                                       .steps = 10,
                                       .batch = 1,
                                       .temperature = 0,
                                       .top_p = 1,
                                       .eos = -1,
                                       .on_token = stop_with_error};
    struct fr_tf_generate_stats st;
    int rc = fr_tf_generate(&m, &gc, &st);
    CHECK(rc == FR_EINVAL && strstr(fr_last_error(), "pretend") && st.made == 3,
          "a negative callback return is the error: rc %d [%s], %lld made", rc, fr_last_error(),
          (long long)st.made);
    fr_tf_free(&m);
}

int main(void) {
    if (access("data/tinyshakespeare.txt", R_OK) != 0 || access("data/stories260K.bin", R_OK))
        return check_skip("test_hardening", "run from the source tree (data/ is missing)");
    setenv("TMPDIR", check_tmpdir(), 1); /* rescue files stay in the test's directory */
    const char *data = make_data();
    char text[600];
    snprintf(text, sizeof text, "%s/text.txt", check_tmpdir());
    copy_prefix("data/tinyshakespeare.txt", text, 20000);
    test_evaluate_empty(data);
    test_prune_keeps_one();
    test_check_writable();
    test_write_rescued();
    test_train_rescue(data);
    test_lm_tokenizer_and_rescue(text);
    test_generate_callback_error();
    return check_report("test_hardening");
}
