/* test_cli_hardening.c: the frugal binary (env FRUGAL_BIN) where it used to
 * give a silent wrong answer, throw work away or say the wrong thing:
 *  - train-lm --resume refuses a checkpoint of another text (by name or by
 *    content), batch, learning rate or seed;
 *  - an empty test split is an error, not `test acc 0.00%`;
 *  - eval applies a checkpoint's keep-mask, as sparsity counts it;
 *  - prune refuses a sparsity that rounds to every weight;
 *  - generate parses "5,6", refuses a text prompt it cannot encode, a
 *    token its tokenizer cannot print, and a text-trained model without
 *    its tokenizer (written before the first checkpoint);
 *  - messages say what is wrong (a checkpoint without "arch", a text too
 *    short), and values the library refuses are usage errors (exit 2);
 *  - a bad output path, test images of another size or an --init made for
 *    other images fail before any training;
 *  - kv-eval and convert exit 0 when they succeed.
 * Data: a synthetic IDX dataset written here (Fashion-MNIST is not needed)
 * and the shipped models in data/. Skipped without FRUGAL_BIN. */
#include "check.h"
#include "frugal/io.h"
#include "frugal/models.h"
#include "frugal/tokenizer.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *g_bin;
static const char *g_tmp; /* check_tmpdir() */
static char g_out[1 << 16], g_err[1 << 16];

static void slurp(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f) fclose(f);
}

/* Runs `$FRUGAL_BIN args` (printf-style); returns the exit code, fills
 * g_out/g_err. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
    char args[4096], cmd[8192], o[512], e[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(o, sizeof o, "%s/stdout", g_tmp);
    snprintf(e, sizeof e, "%s/stderr", g_tmp);
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s' </dev/null", g_bin, args, o, e);
    int st = system(cmd);
    slurp(o, g_out, sizeof g_out);
    slurp(e, g_err, sizeof g_err);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int one_line(const char *s) {
    int n = 0;
    for (const char *p = s; *p; p++)
        n += *p == '\n';
    return n == 1 && strncmp(s, "frugal ", 7) == 0;
}

/* The last run exited `code` with one "frugal ..." line holding `want`. */
static void expect(int rc, int code, const char *want, const char *what) {
    CHECK(rc == code && one_line(g_err) && (!want || strstr(g_err, want)),
          "%s: exit %d (want %d), stderr [%s] (want '%s')", what, rc, code, g_err,
          want ? want : "");
}

static int exists(const char *path) {
    return access(path, F_OK) == 0;
}

/* ---- a synthetic dataset: IDX u8 images (n, hw, hw), labels 0..9 ---- */

/* DIR/{train,t10k}-{images,labels}: ntrain 28x28 training images, ntest
 * test images of test_hw pixels a side. */
static const char *make_data(const char *name, int ntrain, int ntest, int test_hw) {
    static char dirs[4][512];
    static int k;
    char *dir = dirs[k++ % 4], p[600];
    snprintf(dir, 512, "%s/%s", g_tmp, name);
    mkdir(dir, 0777);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    check_write_idx(p, ntrain, 28, 0);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", dir);
    check_write_idx(p, ntrain, 0, 1);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", dir);
    check_write_idx(p, ntest, test_hw, 0);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dir);
    check_write_idx(p, ntest, 0, 1);
    return dir;
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

/* ---- 1: train-lm --resume ---- */

#define LM_SMALL                                                                                   \
    "--layers 1 --heads 2 --dim 16 --block 16 --batch 4 --iters 20 --eval-interval 10 "            \
    "--eval-iters 2 --threads 2 --results ''"

static void test_resume_settings(const char *text, const char *other) {
    char ck[512], out[512];
    snprintf(ck, sizeof ck, "%s/lm/ck.safetensors", g_tmp);
    snprintf(out, sizeof out, "%s/lm/m.safetensors", g_tmp);
    int rc = run("train-lm --data '%s' " LM_SMALL " --out '%s' --ckpt '%s' --ckpt-every 5 "
                 "--stop-after 10",
                 text, out, ck);
    CHECK(rc == 0 && strstr(g_out, "stopped after 10 iterations") && exists(ck),
          "train-lm --stop-after: exit %d [%s] [%s]", rc, g_out, g_err);
    static const char *const differ[][2] = {
        {"--batch 5", "lm.batch"}, {"--lr 0.002", "lm.lr"}, {"--seed 7", "lm.seed"}};
    for (int i = 0; i < 3; i++) {
        rc = run("train-lm --data '%s' " LM_SMALL " %s --out '%s' --ckpt '%s' --ckpt-every 5 "
                 "--resume",
                 text, differ[i][0], out, ck);
        expect(rc, 1, differ[i][1], differ[i][0]);
    }
    /* the same size of text under another name, and the same name edited */
    rc = run("train-lm --data '%s' " LM_SMALL " --out '%s' --ckpt '%s' --ckpt-every 5 --resume",
             other, out, ck);
    expect(rc, 1, "lm.data", "--resume with another text file");
    FILE *f = fopen(text, "r+b");
    int c0 = f ? fgetc(f) : EOF, c1 = f ? fgetc(f) : EOF;
    if (f) { /* swap two characters: same vocabulary, same size, another text */
        fseek(f, 0, SEEK_SET);
        fputc(c1, f);
        fputc(c0, f);
        fclose(f);
    }
    rc = run("train-lm --data '%s' " LM_SMALL " --out '%s' --ckpt '%s' --ckpt-every 5 --resume",
             text, out, ck);
    expect(rc, 1, "lm.data_hash", "--resume with the text edited in place");
    if ((f = fopen(text, "r+b"))) {
        fputc(c0, f);
        fputc(c1, f);
        fclose(f);
    }
    rc = run("train-lm --data '%s' " LM_SMALL " --out '%s' --ckpt '%s' --ckpt-every 5 --resume",
             text, out, ck);
    CHECK(rc == 0 && strstr(g_out, "best val loss"), "the same settings resume: exit %d [%s]", rc,
          g_err);
    expect(run("train-lm --data '%s' --resume", text), 2, "--ckpt", "--resume without --ckpt");
}

/* ---- 9: the tokenizer comes first, and generate needs it ---- */

static void test_tokenizer_first(const char *text) {
    char out[512], tok[600], moved[512];
    snprintf(out, sizeof out, "%s/tf/m.safetensors", g_tmp);
    snprintf(tok, sizeof tok, "%s.tok", out);
    snprintf(moved, sizeof moved, "%s/tf/moved.tok", g_tmp);
    /* killed after one step: the best checkpoint of iteration 0 and its tokenizer */
    int rc = run("train-lm --data '%s' " LM_SMALL " --out '%s' --stop-after 1", text, out);
    CHECK(rc == 0 && exists(out) && exists(tok), "a stopped run leaves the model and %s: exit %d",
          tok, rc);
    rc = run("generate --model '%s' --steps 3", out);
    CHECK(rc == 0 && g_out[0], "generate with the tokenizer: exit %d [%s]", rc, g_err);
    rename(tok, moved);
    rc = run("generate --model '%s' --steps 3", out);
    expect(rc, 1, "was trained on text with a tokenizer", "generate without the model's .tok");
    CHECK(g_out[0] == '\0', "nothing is printed before the refusal: [%s]", g_out);
    rc = run("generate --model '%s' --steps 3 --ids --temperature 0", out);
    CHECK(rc == 0 && g_out[0] >= '0' && g_out[0] <= '9', "--ids still works: exit %d [%s]", rc,
          g_err);
    rc = run("generate --model '%s' --steps 3 --tokenizer data/shakespeare-char.safetensors.tok",
             out);
    expect(rc, 1, "tokenizer", "generate with another tokenizer");
    rc = run("perplexity --model '%s' --text '%s' --tokenizer "
             "data/shakespeare-char.safetensors.tok",
             out, text);
    expect(rc, 1, "tokenizer", "perplexity with another tokenizer");
    rc = run("generate --model '%s' --steps 3 --tokenizer '%s'", out, moved);
    CHECK(rc == 0, "its own tokenizer under another name: exit %d [%s]", rc, g_err);
    /* convert keeps the tokenizer and its name */
    char conv[512];
    snprintf(conv, sizeof conv, "%s/tf/conv.safetensors", g_tmp);
    rename(moved, tok);
    rc = run("convert --model '%s' --out '%s' --dtype bf16", out, conv);
    CHECK(rc == 0, "convert: exit %d [%s]", rc, g_err);
    rc = run("generate --model '%s' --steps 3", conv);
    CHECK(rc == 0 && g_out[0], "generate from the converted model: exit %d [%s]", rc, g_err);
}

/* ---- 2, 8: data checked before training ---- */

static void test_data_checks(void) {
    const char *empty = make_data("empty-test", 64, 0, 28);
    const char *big = make_data("big-test", 64, 16, 32);
    char res[512], ck[512];
    snprintf(res, sizeof res, "%s/res-empty", g_tmp);
    int rc = run("train --model mlp --data-dir '%s' --epochs 1 --results '%s'", empty, res);
    expect(rc, 1, "test split", "train on an empty test split");
    CHECK(!exists(res), "a run that failed at the start leaves no %s", res);
    CHECK(!strstr(g_out, "test acc"), "no accuracy is printed: [%s]", g_out);
    expect(run("train --limit-test -1"), 2, "--limit-test", "--limit-test -1");
    rc = run("train --model mlp --data-dir '%s' --epochs 1 --results '%s'", big, res);
    expect(rc, 1, "32 x 32", "train with test images of another size");
    CHECK(!exists(res), "a run that failed at the start leaves no %s", res);
    /* --init: a checkpoint made for 28x28 on data of 32x32 (training split too) */
    const char *ok = make_data("ok", 64, 16, 28);
    snprintf(ck, sizeof ck, "%s/init.safetensors", g_tmp);
    rc = run("train --model cnn --data-dir '%s' --epochs 1 --results '' --out '%s' --threads 2", ok,
             ck);
    CHECK(rc == 0 && exists(ck), "a tiny cnn run: exit %d [%s]", rc, g_err);
    char dir32[512], p[600];
    snprintf(dir32, sizeof dir32, "%s/all32", g_tmp);
    mkdir(dir32, 0777);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir32);
    check_write_idx(p, 64, 32, 0);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", dir32);
    check_write_idx(p, 64, 0, 1);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", dir32);
    check_write_idx(p, 16, 32, 0);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dir32);
    check_write_idx(p, 16, 0, 1);
    rc = run("train --init '%s' --data-dir '%s' --epochs 1 --results ''", ck, dir32);
    expect(rc, 1, "--init", "--init a 28x28 cnn on 32x32 images");
    rc = run("eval '%s' --data-dir '%s'", ck, empty);
    expect(rc, 1, "no images", "eval on an empty test split");
}

/* ---- 3, 4: masks ---- */

/* The printed "test acc" of `eval CKPT --data-dir DIR`, or "". */
static const char *eval_acc(const char *ckpt, const char *dir) {
    static char acc[64];
    acc[0] = '\0';
    int rc = run("eval '%s' --data-dir '%s'", ckpt, dir);
    const char *t = strstr(g_out, "test acc ");
    if (rc == 0 && t) sscanf(t, "test acc %63s", acc);
    return acc;
}

static void test_masks(void) {
    const char *data = make_data("mask", 64, 32, 28);
    char ck[512], zmask[512], zeroed[512], pruned[512];
    snprintf(ck, sizeof ck, "%s/mask-mlp.safetensors", g_tmp);
    snprintf(zmask, sizeof zmask, "%s/zmask.safetensors", g_tmp);
    snprintf(zeroed, sizeof zeroed, "%s/zeroed.safetensors", g_tmp);
    snprintf(pruned, sizeof pruned, "%s/pruned.safetensors", g_tmp);
    int rc = run("train --model mlp --data-dir '%s' --epochs 1 --results '' --out '%s' --seed 2",
                 data, ck);
    CHECK(rc == 0, "tiny mlp: exit %d [%s]", rc, g_err);
    /* a keep-mask of all zeros over dense weights, and the same weights zeroed */
    struct fr_model *m = fr_model_load(ck, NULL);
    CHECK(m != NULL, "load %s: %s", ck, fr_last_error());
    if (!m) return;
    char keys[FR_MODEL_META_MAX][64], vals[FR_MODEL_META_MAX][64];
    const char *kp[FR_MODEL_META_MAX], *vp[FR_MODEL_META_MAX];
    int n = fr_model_meta_write(m, keys, vals, FR_MODEL_META_MAX);
    for (int i = 0; i < n; i++)
        kp[i] = keys[i], vp[i] = vals[i];
    struct fr_ckpt o = {kp, vp, n, NULL, 0, FR_F32, 0, 0};
    fr_params_mask_init(&m->params);
    memset(m->params.mask, 0, sizeof(float) * (size_t)m->params.n);
    CHECK(fr_params_save_masked(&m->params, zmask, &o) == 0, "save %s", zmask);
    fr_params_apply_mask(&m->params);
    free(m->params.mask);
    m->params.mask = NULL;
    CHECK(fr_params_save(&m->params, zeroed, &o) == 0, "save %s", zeroed);
    fr_model_free(m);
    rc = run("sparsity '%s'", zmask);
    CHECK(rc == 0 && strstr(g_out, "sparsity 100.00% (mask stored)"), "sparsity of %s: [%s]", zmask,
          g_out);
    char want[64];
    snprintf(want, sizeof want, "%s", eval_acc(zeroed, data));
    const char *got = eval_acc(zmask, data);
    CHECK(want[0] && strcmp(got, want) == 0,
          "eval applies the keep-mask: %s with an all-zero mask, %s zeroed", got, want);
    /* 4: a sparsity that rounds to every weight is refused, not obeyed */
    rc = run("prune --model '%s' --out '%s' --sparsity 0.999999", ck, pruned);
    expect(rc, 1, "keeps one", "prune --sparsity 0.999999");
    CHECK(!exists(pruned), "no output after a refusal");
    rc = run("prune --model '%s' --out '%s' --sparsity 0.99999 --layerwise", ck, pruned);
    expect(rc, 1, "fc2.weight", "prune --sparsity 0.99999 --layerwise");
    rc = run("prune --model '%s' --out '%s' --sparsity 0.9999", ck, pruned);
    CHECK(rc == 0 && exists(pruned), "prune --sparsity 0.9999 keeps some: exit %d [%s]", rc, g_err);
    expect(run("prune --model '%s' --out '%s' --sparsity 1", ck, pruned), 2, "[0, 1)",
           "--sparsity 1");
}

/* ---- 5: generate's prompt and output ---- */

static void test_generate(void) {
    char a[1024], b[1024];
    int rc = run("generate --model data/stories260K.bin --ids --prompt 5,6 --steps 4 "
                 "--temperature 0");
    snprintf(a, sizeof a, "%.1000s", g_out);
    CHECK(rc == 0, "--prompt 5,6: exit %d [%s]", rc, g_err);
    rc = run("generate --model data/stories260K.bin --ids --prompt '5 6' --steps 4 "
             "--temperature 0");
    snprintf(b, sizeof b, "%.1000s", g_out);
    CHECK(rc == 0 && strcmp(a, b) == 0, "'5,6' and '5 6' are one prompt: [%s] vs [%s]", a, b);
    run("generate --model data/stories260K.bin --ids --prompt 5 --steps 4 --temperature 0");
    CHECK(strcmp(a, g_out) != 0, "'5,6' is not '5': both gave [%s]", a);
    expect(run("generate --model data/stories260K.bin --ids --prompt '5,x'"), 2, "'x'",
           "--prompt 5,x");
    expect(run("generate --model data/stories260K.bin --ids --prompt 5.5"), 2, "'5.5'",
           "--prompt 5.5");
    expect(run("generate --model data/stories260K.bin --ids --prompt '5 600'"), 1, "600",
           "an id past the vocabulary");
    expect(run("generate --model data/stories260K.bin --prompt hello"), 1, "text prompt",
           "a text prompt without a tokenizer");
    expect(run("generate --model data/stories260K.bin --ids --tokenizer x.tok"), 2, "--ids",
           "--ids with --tokenizer");
    /* a tokenizer smaller than the model's vocabulary: a token it cannot
     * print stops generation with an error */
    struct fr_tokenizer *t = NULL;
    const char *small = check_tmp("abc.tok");
    if (fr_tokenizer_train_char("abc", 3, &t) == 0) {
        fr_tokenizer_save(t, small);
        fr_tokenizer_free(t);
    }
    rc = run("generate --model data/shakespeare-char.safetensors --tokenizer '%s' --steps 200 "
             "--seed 1",
             small);
    expect(rc, 1, "not in the tokenizer's vocabulary", "a token the tokenizer cannot print");
}

/* Commands that succeed exit 0 (kv-eval once returned the preamble's
 * CLI_GO, -1: exit 255). */
static void test_success_exit(void) {
    int rc = run("kv-eval --model data/shakespeare-char.safetensors --length 32 --windows 1 "
                 "--budgets 0.5 --policies h2o --out '%s/kv'",
                 g_tmp);
    CHECK(rc == 0 && strstr(g_out, "results: "), "kv-eval: exit %d [%s]", rc, g_err);
    rc = run("convert --model data/stories260K.bin --out '%s/conv/s.st' --dtype f16", g_tmp);
    CHECK(rc == 0 && strstr(g_out, "wrote "), "convert: exit %d [%s]", rc, g_err);
}

/* ---- 6: messages and usage errors ---- */

static void test_messages(void) {
    /* an image checkpoint that lost its "arch" */
    const char *data = make_data("noarch", 64, 16, 28);
    char ck[512], noarch[512], p[600];
    snprintf(ck, sizeof ck, "%s/na.safetensors", g_tmp);
    snprintf(noarch, sizeof noarch, "%s/noarch.safetensors", g_tmp);
    run("train --model mlp --data-dir '%s' --epochs 1 --results '' --out '%s'", data, ck);
    struct fr_model *m = fr_model_load(ck, NULL);
    if (m) {
        const char *k[2] = {"n_classes", "in_h"}, *v[2] = {"10", "28"};
        struct fr_ckpt o = {k, v, 2, NULL, 0, FR_F32, 0, 0};
        fr_params_save(&m->params, noarch, &o);
        fr_model_free(m);
    }
    snprintf(p, sizeof p, "%s/x.safetensors", g_tmp);
    expect(run("prune --model '%s' --out '%s'", noarch, p), 1, "'arch'",
           "prune of a checkpoint without arch");
    CHECK(!strstr(g_err, "Hugging Face"), "not a Hugging Face complaint: %s", g_err);
    expect(run("eval '%s' --data-dir '%s'", noarch, data), 1, "'arch'", "eval without arch");
    /* texts too short: say so, not "empty corpus" */
    const char *one = check_tmp("one.txt"), *none = check_tmp("none.txt");
    FILE *f = fopen(one, "wb");
    if (f) fputc('a', f), fclose(f);
    if ((f = fopen(none, "wb"))) fclose(f);
    expect(run("train-lm --data '%s' --iters 1 --results ''", one), 1, "too short",
           "a 1-byte text");
    expect(run("train-lm --data '%s' --iters 1 --results '' --tokenizer bpe", one), 1, "too short",
           "a 1-byte text, bpe");
    expect(run("train-lm --data '%s' --iters 1 --results ''", none), 1, "is empty",
           "an empty text");
    /* values the library refuses are usage errors at the flag */
    static const char *const usage[][2] = {
        {"train --lr 0", "--lr"},
        {"train --momentum 1", "--momentum"},
        {"train-lm --lr 0", "--lr"},
        {"train-lm --prune 1", "--prune"},
        {"train-lm --beta2 1", "--beta2"},
        {"train-lm --dropout 1", "--dropout"},
        {"prune --model x --out y --lr 0", "--lr"},
        {"prune --model x --out y --sparsity 1", "--sparsity"},
        {"generate --model x --top-p 0", "--top-p"},
        {"perplexity --model x --text y --limit 1", "--limit"},
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++)
        expect(run("%s", usage[i][0]), 2, usage[i][1], usage[i][0]);
}

/* ---- 7: output paths checked before the work ---- */

static void test_outputs(const char *text) {
    const char *data = make_data("outs", 64, 16, 28);
    const char *file = check_tmp("a-file");
    FILE *f = fopen(file, "wb");
    if (f) fclose(f);
    static const char *const cases[] = {
        "train --model mlp --data-dir '%s' --epochs 1 --results '' --out '%s/m.st'",
        "train --model mlp --data-dir '%s' --epochs 1 --results '%s/res'",
        "train --model mlp --data-dir '%s' --epochs 1 --results '' --ckpt '%s/c.st'",
    };
    for (int i = 0; i < 3; i++) {
        int rc = run(cases[i], data, file);
        expect(rc, 1, "cannot write", cases[i]);
        CHECK(!strstr(g_out, "test acc") && !strstr(g_out, "trained"),
              "it failed before training: [%s]", g_out);
    }
    expect(run("train --model mlp --data-dir '%s' --epochs 1 --results '' --out '%s'", data, g_tmp),
           1, "is a directory", "--out a directory");
    expect(run("train-lm --data '%s' " LM_SMALL " --out '%s/m.st'", text, file), 1, "cannot write",
           "train-lm --out under a file");
    CHECK(!strstr(g_err, "iter"), "train-lm failed before training");
    expect(run("train-lm --data '%s' --layers 1 --heads 2 --dim 16 --block 16 --iters 2 --results "
               "'%s/r'",
               text, file),
           1, "cannot write", "train-lm --results under a file");
    expect(run("prune --model data/shakespeare-char.safetensors --out '%s/p.st'", file), 1,
           "cannot write", "prune --out under a file");
    expect(run("convert --model data/stories260K.bin --out '%s/c.st'", file), 1, "cannot write",
           "convert --out under a file");
    /* a good path in new directories works, and the check leaves nothing */
    char deep[512];
    snprintf(deep, sizeof deep, "%s/new/dirs/m.st", g_tmp);
    int rc =
        run("train --model mlp --data-dir '%s' --epochs 1 --results '' --out '%s'", data, deep);
    CHECK(rc == 0 && exists(deep), "train into new directories: exit %d [%s]", rc, g_err);
    snprintf(deep, sizeof deep, "%s/gone/dirs", g_tmp);
    char lm[600];
    snprintf(lm, sizeof lm, "%s/m.st", deep);
    run("train-lm --data '%s' --iters 1 --block 99999 --results '' --out '%s'", text, lm);
    snprintf(deep, sizeof deep, "%s/gone", g_tmp);
    CHECK(!exists(deep), "a run that failed before writing leaves no directories behind");
}

int main(void) {
    g_bin = getenv("FRUGAL_BIN");
    if (!g_bin) return check_skip("test_cli_hardening", "FRUGAL_BIN is not set (ctest sets it)");
    if (access(g_bin, X_OK) != 0) {
        fprintf(stderr, "test_cli_hardening: FRUGAL_BIN=%s is not an executable\n", g_bin);
        return 1;
    }
    if (access("data/tinyshakespeare.txt", R_OK) != 0 || access("data/stories260K.bin", R_OK))
        return check_skip("test_cli_hardening", "run from the source tree (data/ is missing)");
    g_tmp = check_tmpdir();
    setenv("TMPDIR", g_tmp, 1); /* rescue files, if any, stay in the test's directory */
    char text[512], other[512];
    snprintf(text, sizeof text, "%s/text.txt", g_tmp);
    snprintf(other, sizeof other, "%s/other.txt", g_tmp);
    copy_prefix("data/tinyshakespeare.txt", text, 20000);
    copy_prefix("data/tinyshakespeare.txt", other, 20000);
    test_resume_settings(text, other);
    test_tokenizer_first(text);
    test_data_checks();
    test_masks();
    test_generate();
    test_success_exit();
    test_messages();
    test_outputs(text);
    return check_report("test_cli_hardening");
}
