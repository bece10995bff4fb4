/* test_cli.c: the frugal binary (env FRUGAL_BIN) as a user meets it: bad
 * flags, unknown commands, missing files and out-of-range sizes must exit
 * nonzero (2 for usage, 1 for runtime) with exactly one line on stderr;
 * every subcommand's --help lists every flag with its default; and a tiny
 * end-to-end run (MLP, 512 images, one epoch) writes a checkpoint that
 * `frugal eval` scores exactly as `frugal train` did (that part needs
 * Fashion-MNIST and says it is skipped without it; the whole test is skipped
 * when FRUGAL_BIN is unset). */
#include "check.h"
#include "frugal/data.h"

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

/* Runs `$FRUGAL_BIN args`; returns the exit code, fills g_out/g_err. */
static int run(const char *args) {
    char cmd[4096], o[512], e[512];
    snprintf(o, sizeof o, "%s/stdout", g_tmp);
    snprintf(e, sizeof e, "%s/stderr", g_tmp);
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s' </dev/null", g_bin, args, o, e);
    int st = system(cmd);
    slurp(o, g_out, sizeof g_out);
    slurp(e, g_err, sizeof g_err);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* expect exit code `code` with exactly one stderr line starting "frugal" */
static void expect_error(const char *args, int code) {
    int rc = run(args);
    CHECK(rc == code, "`frugal %s`: exit %d, expected %d (stderr: %s)", args, rc, code, g_err);
    CHECK(count_lines(g_err) == 1 && strncmp(g_err, "frugal", 6) == 0,
          "`frugal %s`: stderr must be one 'frugal ...' line, got: [%s]", args, g_err);
}

/* --help exits 0 and every flag line carries its default; `must` flags appear. */
static void expect_help(const char *cmd, const char *const *must) {
    char args[256];
    snprintf(args, sizeof args, "%s --help", cmd);
    int rc = run(args);
    CHECK(rc == 0, "`frugal %s`: exit %d", args, rc);
    CHECK(g_err[0] == '\0', "`frugal %s` wrote to stderr: %s", args, g_err);
    int flags = 0;
    for (char *line = strtok(g_out, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "  --", 4) != 0 || strncmp(line, "  --help", 8) == 0) continue;
        flags++;
        CHECK(strstr(line, "(default: ") != NULL || strstr(line, "(required)") != NULL,
              "`frugal %s`: neither a default nor (required) in: %s", args, line);
    }
    run(args); /* strtok consumed g_out */
    for (int i = 0; must && must[i]; i++) {
        char want[64];
        snprintf(want, sizeof want, "  --%s ", must[i]);
        CHECK(strstr(g_out, want) != NULL, "`frugal %s` does not list --%s", args, must[i]);
    }
    (void)flags;
}

static void test_usage_errors(void) {
    char args[1024];
    expect_error("", 2);
    expect_error("bogus", 2);
    expect_error("help bogus", 2);
    expect_error("train --bogus 1", 2);
    expect_error("generate", 2); /* --model missing */
    expect_error("generate --model /nonexistent/m.bin", 1);
    expect_error("generate --model data/stories260K.bin --top-p 2", 2);
    expect_error("generate --model data/stories260K.bin --kv bogus", 2);
    expect_error("generate --model data/stories260K.bin --ids --prompt '1 9999'", 1);
    expect_error("train-lm --block 0", 2);
    expect_error("train-lm --data /nonexistent.txt --iters 1", 1);
    expect_error("perplexity --model data/stories260K.bin", 2); /* --text missing */
    snprintf(args, sizeof args, "convert --model data/stories260K.bin --out '%s' --dtype f8",
             check_tmp("x.st"));
    expect_error(args, 2);
    expect_error("train --epochs", 2);
    expect_error("train --epochs abc", 2);
    expect_error("train --epochs 1x", 2);
    expect_error("train --epochs -1", 2);
    expect_error("train --epochs 0", 2);
    expect_error("train --batch 0", 2);
    expect_error("train --batch -5", 2);
    expect_error("train --lr -1", 2);
    expect_error("train --lr nan", 2);
    expect_error("train --momentum 2", 2);
    expect_error("train --threads 100000", 2);
    expect_error("train --model nosuch", 2);
    expect_error("train --opt nosuch", 2);
    expect_error("train --augment=maybe", 2);
    expect_error("train stray", 2);
    expect_error("train -x", 2);
    expect_error("train --resume", 2);
    expect_error("train --precision fp8", 2);
    expect_error("train-lm --precision f16", 2);
    expect_error("eval", 2);
    expect_error("eval a b", 2);
    expect_error("eval x --batch 0", 2);
    expect_error("report --out", 2);
    expect_error("report extra", 2);
    expect_error("repro", 2);
    expect_error("repro nosuch", 2);
    CHECK(strstr(g_err, "fashion-cnn") != NULL, "unknown repro name must list valid names: %s",
          g_err);
    expect_error("repro fashion-cnn --seed -3", 2);
    expect_error("demo --epochs 0", 2);
    expect_error("demo --threads -1", 2);
    expect_error("version extra", 2);
    expect_error("info", 2);
    /* dynamic sparse training: every absurd value is a usage error */
    expect_error("train --dst chase --density 0", 2);
    expect_error("train --dst chase --density 1.5", 2);
    expect_error("train --dst chase --channel-sparsity 1", 2);
    expect_error("train --dst chase --update-end 1.5", 2);
    expect_error("train --dst chase --update-every 0", 2);
    expect_error("train --dst nosuch", 2);
    expect_error("train --channel-sparsity 0.4", 2); /* without --dst chase */
    expect_error("train --width-mult 0", 2);
    expect_error("train --width-mult 2 --model cnn", 2);
    expect_error("train --dst rigl --channel-sparsity 0.4", 2);
    expect_error("train --dst chase --channel-sparsity 0.4 --model mlp", 2);
    expect_error("train --dst chase --density 0.99", 2); /* + 0.05 MEST extra > 1 */
    expect_error("shrink", 2);
    expect_error("shrink x.safetensors", 2);  /* --out missing */
    expect_error("train --kernels 3,3,3", 2); /* cnn has no depthwise stages */
    expect_error("train --model slak --kernels 3,3", 2);
    expect_error("train --model slak --kernels 3,x,3", 2);
    expect_error("train --model convnext --small-kernel 3", 2);
    expect_error("train --bucket-kb -2", 2);
    expect_error("reparam", 2);
    expect_error("erf", 2);
    expect_error("train --teacher t.safetensors --dst rigl", 2);
    expect_error("train --data fashion-canvas --canvas 20", 2);
    expect_error("train --data cifar", 2);
    expect_error("train --teacher t.safetensors --kd soft", 2);
    expect_error("train --teacher t.safetensors --kd-t 0", 2);
    expect_error("erf x.safetensors --images 0", 2);
    expect_error("reparam x.safetensors", 2); /* --out missing */
    expect_error("train --model nb201", 2);   /* --cell missing */
    expect_error("train --model nb201 --cell '|none~0|+|none~0|'", 2);
    expect_error("train --cell '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|'", 2); /* cnn */
    expect_error("train --model nb201 --cell-channels 0", 2);
    expect_error("proxy", 2); /* --cell missing */
    expect_error("proxy --cell x", 2);
    expect_error("proxy --cell '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|' --proxy snipp", 2);
    expect_error("proxy --cell '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|' --batch 1", 2);
    expect_error("nas-bench", 2);
    expect_error("nas-bench frob", 2);
    expect_error("nas-bench build --cells 3", 2); /* --noise-cells 50 > 3 */
    expect_error("nas-bench build --job 2 --jobs 2", 2);
    expect_error("nas-bench build --train-images 50000 --val-images 20000", 2);
}

static void test_runtime_errors(void) {
    char args[1024], path[512];
    expect_error("train --data-dir /nonexistent/frugal-data --epochs 1", 1);
    expect_error("demo --data-dir /nonexistent/frugal-data", 1);
    expect_error("eval /nonexistent/model.safetensors", 1);
    snprintf(args, sizeof args, "eval '%s'", g_tmp); /* a directory */
    expect_error(args, 1);
    snprintf(path, sizeof path, "%s/garbage.safetensors", g_tmp);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs("\xff\xff\xff\xff\xff\xff\xff\x7fnot a safetensors file", f);
        fclose(f);
    }
    snprintf(args, sizeof args, "eval '%s'", path);
    expect_error(args, 1);
    snprintf(path, sizeof path, "%s/unreadable.safetensors", g_tmp);
    f = fopen(path, "wb");
    if (f) fclose(f);
    chmod(path, 0);
    if (access(path, R_OK) != 0) { /* root can read anything: then it is just empty */
        snprintf(args, sizeof args, "eval '%s'", path);
        expect_error(args, 1);
    }
    snprintf(args, sizeof args, "eval '%s'", path);
    expect_error(args, 1); /* empty or unreadable: either way a one-line error */
    expect_error("report --out /dev/null/frugal-out", 1);
    /* bf16 on a CPU without bf16 hardware (FRUGAL_BF16=none stands in for
     * one): one line naming what is missing, before any data is read */
    {
        char cmd[4096], o[512], e[512];
        snprintf(o, sizeof o, "%s/stdout", g_tmp);
        snprintf(e, sizeof e, "%s/stderr", g_tmp);
        snprintf(cmd, sizeof cmd,
                 "FRUGAL_BF16=none '%s' train --precision bf16 --data-dir /nonexistent "
                 ">'%s' 2>'%s' </dev/null",
                 g_bin, o, e);
        int st = system(cmd);
        slurp(e, g_err, sizeof g_err);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1 && count_lines(g_err) == 1 &&
                  strstr(g_err, "bf16") && !strstr(g_err, "nonexistent"),
              "train --precision bf16 without bf16 hardware: exit %d, stderr [%s]",
              WIFEXITED(st) ? WEXITSTATUS(st) : -1, g_err);
    }
    expect_error("info /nonexistent/model.safetensors", 1);
    snprintf(args, sizeof args, "info '%s/garbage.safetensors'", g_tmp);
    expect_error(args, 1);
    /* a model without prunable channels, a schedule that fits no update:
     * one line before any data is read */
    expect_error("train --dst chase --channel-sparsity 0.4 --model mlp --data-dir /nonexistent "
                 "--results ''",
                 1);
    expect_error("train --dst rigl --channel-sparsity 0.4 --data-dir /nonexistent --results ''", 1);
    snprintf(args, sizeof args, "shrink '%s' --out '%s/s.safetensors' --bn-batches 0", g_tmp,
             g_tmp); /* a directory */
    expect_error(args, 1);
    snprintf(args, sizeof args, "shrink '%s/garbage.safetensors' --out '%s/s.safetensors'", g_tmp,
             g_tmp);
    expect_error(args, 1);
    snprintf(args, sizeof args, "reparam '%s/garbage.safetensors' --out '%s/r.safetensors'", g_tmp,
             g_tmp);
    expect_error(args, 1);
    snprintf(args, sizeof args, "erf '%s/garbage.safetensors'", g_tmp);
    expect_error(args, 1);
    /* an even kernel: one line from the model's check */
    expect_error("train --model slak --kernels 13,12,5 --epochs 1 --limit-train 8 --results ''", 1);
}

static void test_help(void) {
    static const char *const train[] = {
        "model",   "data", "epochs",     "batch",    "opt",      "lr",      "momentum", "wd",
        "threads", "seed", "out",        "schedule", "warmup",   "clip",    "val-frac", "patience",
        "augment", "ckpt", "ckpt-every", "resume",   "data-dir", "results", NULL};
    static const char *const eval[] = {"data-dir", "batch", "threads", "seed", NULL};
    static const char *const demo[] = {"threads", "seed", "out", NULL};
    static const char *const repro[] = {"quick", "list", "threads", "seed", "out", NULL};
    static const char *const report[] = {"out", NULL};
    expect_help("train", train);
    expect_help("eval", eval);
    expect_help("demo", demo);
    expect_help("repro", repro);
    expect_help("report", report);
    expect_help("version", NULL);
    expect_help("info", NULL);
    /* the language-model, pruning and KV commands */
    static const char *const trainlm[] = {
        "data",  "tokenizer", "arch",   "layers",  "heads",   "kv-heads", "dim", "block", "batch",
        "iters", "lr",        "min-lr", "dropout", "threads", "seed",     "out", NULL};
    static const char *const gen[] = {"model",       "tokenizer", "prompt", "steps",
                                      "temperature", "top-p",     "top-k",  "seed",
                                      "kv",          "heavy",     "recent", NULL};
    static const char *const ppl[] = {"model", "text", "tokenizer", "block", NULL};
    static const char *const conv[] = {"model", "out", "dtype", NULL};
    static const char *const prune[] = {"model",     "out",   "method", "sparsity",
                                        "layerwise", "scope", NULL};
    expect_help("train-lm", trainlm);
    expect_help("generate", gen);
    expect_help("perplexity", ppl);
    expect_help("convert", conv);
    expect_help("prune", prune);
    expect_help("sparsity", NULL);
    expect_help("kv-eval", NULL);
    static const char *const tune[] = {"threads", "reps", "margin", "out", "dry-run", NULL};
    expect_help("tune", tune);
    static const char *const shrink[] = {"out", "bn-batches", "batch", "data-dir", NULL};
    expect_help("shrink", shrink);
    static const char *const nasb[] = {
        "table",       "cells",  "noise-cells",   "noise-seeds",     "sample-seed",
        "jobs",        "job",    "limit",         "train-images",    "val-images",
        "test-images", "epochs", "cell-channels", "cells-per-stage", NULL};
    expect_help("nas-bench", nasb);
    static const char *const proxy[] = {"cell", "proxy", "batch", "first", "seed", NULL};
    expect_help("proxy", proxy);
    static const char *const nb[] = {"cell", "cell-channels", "cells-per-stage", NULL};
    expect_help("train", nb);
    static const char *const reparam[] = {"out", NULL};
    expect_help("reparam", reparam);
    static const char *const erf[] = {"images", "batch", "out", "data-dir", "threads", NULL};
    expect_help("erf", erf);
    static const char *const more[] = {"kernels",   "small-kernel", "bucket-kb", "local-bn",
                                       "teacher",   "kd",           "kd-alpha",  "kd-t",
                                       "nkd-gamma", "canvas",       "clutter",   NULL};
    expect_help("train", more);
    static const char *const lm_dist[] = {"bucket-kb", NULL};
    expect_help("train-lm", lm_dist);
    static const char *const dst[] = {
        "dst",        "density",          "dst-init", "update-every",  "drop-frac", "mest-extra",
        "update-end", "channel-sparsity", "gmp-end",  "channel-every", "beta",      "width-mult",
        NULL};
    expect_help("train", dst);
    int rc = run("help train");
    CHECK(rc == 0 && strstr(g_out, "--epochs") != NULL, "`frugal help train`");
    rc = run("--help");
    CHECK(rc == 0, "--help exit %d", rc);
    static const char *const cmds[] = {"train",   "eval",    "info",     "report",   "demo",
                                       "repro",   "version", "train-lm", "generate", "perplexity",
                                       "convert", "prune",   "sparsity", "kv-eval",  "tune",
                                       "shrink",  "reparam", "erf",      "proxy",    "nas-bench"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char want[32];
        snprintf(want, sizeof want, "  %s ", cmds[i]);
        CHECK(strstr(g_out, want) != NULL, "--help does not list %s", cmds[i]);
    }
    rc = run("version");
    CHECK(rc == 0 && strncmp(g_out, "frugal ", 7) == 0 && strstr(g_out, "\nisa ") &&
              strstr(g_out, "\nthreads "),
          "version output: %s", g_out);
    CHECK(strstr(g_out, "\ncpu ") && strstr(g_out, "\ncaches L1d ") &&
              strstr(g_out, "\ngemm blocking kc ") && strstr(g_out, "\nbf16 "),
          "version names the CPU, caches, blocking and bf16 path: %s", g_out);
    /* tune: writes this CPU's line, which the next process reads */
    {
        char args[1200], path[900];
        snprintf(path, sizeof path, "%s/tune/gemm-tune.txt", g_tmp);
        snprintf(args, sizeof args, "tune --reps 1 --threads 2 --out '%s'", path);
        rc = run(args);
        CHECK(rc == 0 && strstr(g_out, "% of it)") && strstr(g_out, "wrote "), "tune: %d %s %s", rc,
              g_out, g_err);
        snprintf(args, sizeof args, "env FRUGAL_TUNE_FILE='%s' '%s' version", path, g_bin);
        char cmd[2400], o[600];
        snprintf(o, sizeof o, "%s/stdout", g_tmp);
        snprintf(cmd, sizeof cmd, "%s > '%s'", args, o);
        rc = system(cmd);
        slurp(o, g_out, sizeof g_out);
        CHECK(rc == 0 && strstr(g_out, "[tuned]"), "version after tune: %s", g_out);
        expect_error("tune --reps 0", 2);
        expect_error("tune --out /proc/version/x", 1);
    }
    rc = run("repro --list");
    CHECK(rc == 0 && strstr(g_out, "fashion-cnn") != NULL, "repro --list: %s", g_out);
}

/* Commands that succeed exit 0 (generate --ids and perplexity once fell
 * through with the preamble's CLI_GO, -1, as their exit code: 255). */
/* `frugal info` knows every format frugal reads, not only safetensors. */
static void test_info_formats(void) {
    int rc = run("info data/stories260K.bin");
    CHECK(rc == 0 && strstr(g_out, "(llama2.c checkpoint)") && strstr(g_out, "vocab 512"),
          "info on a llama2.c checkpoint: exit %d [%s][%s]", rc, g_out, g_err);
    rc = run("info data/shakespeare-char.safetensors.tok");
    CHECK(rc == 0 && strstr(g_out, "tokenizer: character level, vocabulary 65"),
          "info on a tokenizer: exit %d [%s][%s]", rc, g_out, g_err);
    rc = run("info tests/data/tok_gpt2_tiny.json");
    CHECK(rc == 0 && strstr(g_out, "byte-level BPE"), "info on tokenizer.json: exit %d [%s]", rc,
          g_err);
    rc = run("info data/tinyshakespeare.txt");
    const char *nl = strchr(g_err, '\n');
    CHECK(rc == 1 && strstr(g_err, "is not a file frugal reads") && nl && nl[1] == '\0',
          "info on a text: one error line, exit %d [%s]", rc, g_err);
}

static void test_success_exit(void) {
    int rc = run("generate --model data/stories260K.bin --ids --steps 5 --temperature 0");
    int n = 0;
    for (char *p = strtok(g_out, " \n"); p; p = strtok(NULL, " \n"))
        n++;
    CHECK(rc == 0 && n == 5 && g_err[0] == '\0', "generate --ids: exit %d, %d ids, stderr [%s]", rc,
          n, g_err);
    rc = run("perplexity --model data/shakespeare-char.safetensors --text data/tinyshakespeare.txt "
             "--limit 300");
    CHECK(rc == 0 && strstr(g_out, "perplexity "), "perplexity: exit %d [%s]", rc, g_err);
    rc = run("generate --model data/shakespeare-char.safetensors --tokenizer "
             "tests/data/tok_llama2c_tiny.bin --steps 5");
    CHECK(rc == 1 && strstr(g_err, "tokenizer has 294 tokens but the model only 65"),
          "a tokenizer larger than the model's vocabulary: exit %d [%s]", rc, g_err);
}

/* A tiny real run: the printed accuracy of train and eval must agree. */
/* nas-bench build stops after --limit rows and resumes where it stopped; a
 * table of another recipe is refused; proxy prints every proxy. */
static void test_nas_bench(void) {
    char args[2048], table[1024];
    snprintf(table, sizeof table, "%s/nas.csv", g_tmp);
    const char *recipe = "--cells 2 --noise-cells 1 --noise-seeds 2 --train-images 200 "
                         "--val-images 50 --test-images 100 --batch 50 --threads 1";
    snprintf(args, sizeof args, "nas-bench build --table '%s' %s --limit 2", table, recipe);
    int rc = run(args);
    CHECK(rc == 0 && strstr(g_out, "[2/2]"), "build with --limit 2 (%d): %s%s", rc, g_out, g_err);
    snprintf(args, sizeof args, "nas-bench build --table '%s' %s", table, recipe);
    rc = run(args);
    CHECK(rc == 0 && strstr(g_out, "2 of 3 rows there") && strstr(g_out, "1 rows trained"),
          "the resumed build trains the one row left (%d): %s%s", rc, g_out, g_err);
    rc = run(args);
    CHECK(rc == 0 && strstr(g_out, "0 rows trained"), "a finished table trains nothing: %s", g_out);
    snprintf(args, sizeof args, "nas-bench build --table '%s' %s --lr 0.01", table, recipe);
    rc = run(args);
    CHECK(rc == 1 && strstr(g_err, "another recipe"), "another recipe refused (%d): %s", rc, g_err);
    rc = run("proxy --cell '|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|avg_pool_3x3~1|"
             "nor_conv_1x1~2|' --cell-channels 4 --batch 8 --threads 1");
    CHECK(rc == 0 && strstr(g_out, "linear_regions") && strstr(g_out, "synflow") &&
              strstr(g_out, "seconds"),
          "proxy (%d): %s%s", rc, g_out, g_err);
}

static void test_end_to_end(void) {
    char args[2048], path[1024], acc_train[64] = "", acc_eval[64] = "";
    struct stat st;
    snprintf(args, sizeof args,
             "train --model mlp --epochs 1 --limit-train 512 --batch 64 --threads 2 --seed 3 "
             "--results '%s/run'",
             g_tmp);
    int rc = run(args);
    CHECK(rc == 0, "tiny train failed (%d): %s", rc, g_err);
    const char *t = strstr(g_out, "test acc ");
    CHECK(t != NULL, "train did not print test acc: %s", g_out);
    if (t) {
        sscanf(t, "test acc %63s", acc_train);
        /* `test acc` is the last line */
        CHECK(strchr(t, '\n') && strchr(t, '\n')[1] == '\0', "test acc is not the last line");
    }
    static const char *const files[] = {"results.json", "loss.svg", "accuracy.svg",
                                        "model.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/run/%s", g_tmp, files[i]);
        CHECK(stat(path, &st) == 0 && st.st_size > 0, "missing %s", path);
    }
    snprintf(args, sizeof args, "eval '%s/run/model.safetensors' --batch 100 --threads 2", g_tmp);
    rc = run(args);
    CHECK(rc == 0, "eval failed (%d): %s", rc, g_err);
    t = strstr(g_out, "test acc ");
    if (t) sscanf(t, "test acc %63s", acc_eval);
    CHECK(acc_train[0] && strcmp(acc_train, acc_eval) == 0, "train says %s, eval says %s",
          acc_train, acc_eval);
    snprintf(args, sizeof args, "report --out '%s'", g_tmp);
    rc = run(args);
    snprintf(path, sizeof path, "%s/report/index.html\n", g_tmp);
    CHECK(rc == 0 && strcmp(g_out, path) == 0, "report printed [%s], expected [%s]", g_out, path);
}

int main(void) {
    g_bin = getenv("FRUGAL_BIN");
    if (!g_bin) return check_skip("test_cli", "FRUGAL_BIN is not set (ctest sets it)");
    if (access(g_bin, X_OK) != 0) {
        fprintf(stderr, "test_cli: FRUGAL_BIN=%s is not an executable\n", g_bin);
        return 1;
    }
    g_tmp = check_tmpdir();
    test_usage_errors();
    test_runtime_errors();
    test_help();
    test_success_exit();
    test_info_formats();
    struct fr_dataset ds;
    if (fr_dataset_fashion_mnist(&ds, NULL, 0, 1) == 0) {
        fr_dataset_free(&ds);
        test_end_to_end();
        test_nas_bench();
    } else {
        printf("test_cli: SKIPPED in part: the end-to-end train/eval/report run (%s)\n",
               fr_last_error());
    }
    return check_report("test_cli");
}
