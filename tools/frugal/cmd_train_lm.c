/* cmd_train_lm.c: `frugal train-lm`: train a GPT-2 or LLaMA-style language
 * model on a text file (or fine-tune one from --init, optionally magnitude-
 * pruned first with --prune); logs `val loss X` at each evaluation; writes
 * the best checkpoint (with its keep-mask when pruned), its tokenizer,
 * results.json and the loss curve. */
#include "args.h"
#include "cmd.h"
#include "frugal/frugal.h"
#include "frugal/lm.h"
#include "frugal/methods/prune.h"
#include "frugal/report.h"

#include "frugal/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A short sample from the saved checkpoint (temperature 0.8), malloc'd
 * text or NULL, for the report. */
static char *sample_text(const char *ckpt, int n, uint64_t seed) {
    char tp[4096];
    snprintf(tp, sizeof tp, "%s.tok", ckpt);
    struct fr_tf_model m;
    struct fr_tokenizer *tok = NULL;
    char *out = NULL;
    if (fr_tf_load(&m, ckpt)) return NULL;
    if (fr_tokenizer_load(tp, &tok)) goto done;
    int V = m.cfg.vocab_size;
    if (n > m.cfg.max_seq - 1) n = m.cfg.max_seq - 1;
    struct fr_tf_state st;
    struct fr_sampler sp;
    if (fr_tf_state_init(&st, &m, 1, n + 1, 1, NULL, 0)) goto done;
    fr_sampler_init(&sp, V, 0.8f, 0, 1.0f, seed);
    float *lg = malloc(sizeof(float) * V);
    int32_t *ids = malloc(sizeof(int32_t) * (n + 1));
    int32_t cur = 0; /* newline in the char vocabulary of tinyshakespeare, a safe start */
    int32_t nl;
    const uint8_t *piece;
    size_t len;
    for (nl = 0; nl < V; nl++)
        if (!fr_tokenizer_piece(tok, nl, &piece, &len, NULL) && len == 1 && piece[0] == '\n') break;
    cur = nl < V ? nl : 0;
    int k = 0;
    for (; k < n; k++) {
        if (fr_tf_decode(&st, &cur, lg)) break;
        cur = fr_sample(&sp, lg);
        ids[k] = cur;
    }
    uint8_t *txt;
    size_t tl;
    if (!fr_tokenizer_decode(tok, ids, k, 1, &txt, &tl)) out = (char *)txt;
    free(lg);
    free(ids);
    fr_sampler_free(&sp);
    fr_tf_state_free(&st);
done:
    fr_tokenizer_free(tok);
    fr_tf_free(&m);
    return out;
}

struct lm_progress {
    struct fr_progress bar;
};

static void on_progress(void *user, int64_t it, int64_t iters, double loss, double lr, int is_eval,
                        double val) {
    struct lm_progress *p = user;
    if (is_eval) {
        if (p->bar.drawn) fputc('\n', p->bar.out), p->bar.drawn = 0;
        fprintf(p->bar.out, "iter %lld: train loss %.4f, val loss %.4f\n", (long long)it, loss, val);
        fflush(p->bar.out);
        return;
    }
    fr_progress_update(&p->bar, 0, it, iters, loss, lr, 0, 0);
}

int cmd_train_lm(int argc, char **argv) {
    struct fr_lm_config c;
    fr_lm_config_defaults(&c);
    const char *data = "data/tinyshakespeare.txt", *arch = "gpt2", *results = "out/train-lm";
    const char *tokp = c.tokenizer, *out = NULL, *ckpt = NULL, *init = NULL;
    int64_t layers = c.model.n_layers, heads = c.model.n_heads, kvh = 0, dim = c.model.dim;
    int64_t block = c.block, batch = c.batch, iters = c.iters, warmup = c.warmup;
    int64_t eval_int = c.eval_interval, eval_iters = c.eval_iters, seed = (int64_t)c.seed;
    int64_t threads = 0, bpe_vocab = c.bpe_vocab, ckpt_every = 0;
    double lr = c.lr, min_lr = c.min_lr, dropout = 0, wd = c.wd, beta2 = c.beta2, clip = c.clip;
    int resume = 0, bias = !c.model.no_bias, prune_layerwise = 0, select_full = 0;
    double prune = 0;
    const char *gelu = c.model.gelu_exact ? "exact" : "tanh";
    static const char *const gelus[] = {"exact", "tanh", NULL};
    static const char *const archs[] = {"gpt2", "llama", NULL};
    struct arg_flag flags[] = {
        {.name = "data", .type = ARG_STR, .dst = &data, .help = "text file (90% train / 10% validation) or .ids token file"},
        {.name = "init", .type = ARG_STR, .dst = &init, .help = "fine-tune from this checkpoint (its weights, mask, architecture and context; "
         "tokenizer FILE.tok; the size flags below are ignored)"},
        {.name = "prune", .type = ARG_DOUBLE, .dst = &prune, .help = "magnitude-prune the attention and MLP matrices to this sparsity before training, [0, 1)"},
        {.name = "prune-layerwise", .type = ARG_BOOL, .dst = &prune_layerwise, .help = "--prune the same fraction of each matrix (else one global threshold)"},
        {.name = "tokenizer", .type = ARG_STR, .dst = &tokp, .help = "char, bpe, or a tokenizer file"},
        {.name = "bpe-vocab", .type = ARG_INT, .dst = &bpe_vocab, .help = "vocabulary size when training BPE", .min = 257, .max = 1 << 20},
        {.name = "arch", .type = ARG_STR, .dst = &arch, .help = "model family", .choices = archs},
        {.name = "layers", .type = ARG_INT, .dst = &layers, .help = "transformer blocks", .min = 1, .max = 1024},
        {.name = "heads", .type = ARG_INT, .dst = &heads, .help = "attention heads", .min = 1, .max = 1024},
        {.name = "kv-heads", .type = ARG_INT, .dst = &kvh, .help = "KV heads for llama (0 = heads)", .max = 1024},
        {.name = "dim", .type = ARG_INT, .dst = &dim, .help = "embedding size", .min = 1, .max = 65536},
        {.name = "block", .type = ARG_INT, .dst = &block, .help = "context length", .min = 2, .max = 1 << 20},
        {.name = "batch", .type = ARG_INT, .dst = &batch, .help = "sequences per step", .min = 1, .max = 1 << 16},
        {.name = "iters", .type = ARG_INT, .dst = &iters, .help = "optimizer steps", .min = 1, .max = 1e9},
        {.name = "lr", .type = ARG_DOUBLE, .dst = &lr, .help = "peak learning rate", .min = 1e-9, .max = 10},
        {.name = "min-lr", .type = ARG_DOUBLE, .dst = &min_lr, .help = "final learning rate of the cosine decay", .max = 10},
        {.name = "warmup", .type = ARG_INT, .dst = &warmup, .help = "linear warmup steps", .max = 1e9},
        {.name = "wd", .type = ARG_DOUBLE, .dst = &wd, .help = "AdamW weight decay (matrices and embeddings)", .max = 10},
        {.name = "beta2", .type = ARG_DOUBLE, .dst = &beta2, .help = "AdamW beta2", .max = 0.999999},
        {.name = "clip", .type = ARG_DOUBLE, .dst = &clip, .help = "gradient-norm clip (0 = off)", .max = 1e9},
        {.name = "bias", .type = ARG_BOOL, .dst = &bias, .help = "gpt2: biases in linears and LayerNorms (nanoGPT: off)"},
        {.name = "gelu", .type = ARG_STR, .dst = &gelu, .help = "gpt2: GELU form", .choices = gelus},
        {.name = "dropout", .type = ARG_DOUBLE, .dst = &dropout, .help = "dropout on embeddings and residual branches", .max = 0.99},
        {.name = "eval-interval", .type = ARG_INT, .dst = &eval_int, .help = "iterations between evaluations", .min = 1, .max = 1e9},
        {.name = "eval-iters", .type = ARG_INT, .dst = &eval_iters, .help = "batches per evaluation", .min = 1, .max = 1e6},
        {.name = "select-full", .type = ARG_BOOL, .dst = &select_full, .help = "keep the checkpoint best on the whole validation split (one pass over it per "
         "evaluation) instead of best on the batch estimate"},
        {.name = "seed", .type = ARG_INT, .dst = &seed, .help = "random seed", .max = 9e15},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .help = "threads (0 = all cores)", .max = 256},
        {.name = "out", .type = ARG_STR, .dst = &out, .help = "best checkpoint (.safetensors; tokenizer goes to OUT.tok)"},
        {.name = "ckpt", .type = ARG_STR, .dst = &ckpt, .help = "resumable checkpoint path (none by default)"},
        {.name = "ckpt-every", .type = ARG_INT, .dst = &ckpt_every, .help = "iterations between resumable checkpoints", .max = 1e9},
        {.name = "resume", .type = ARG_BOOL, .dst = &resume, .help = "continue from --ckpt if it exists"},
        {.name = "results", .type = ARG_STR, .dst = &results, .help = "directory for results.json and loss.svg (\"\" = none)"},
    };
    struct arg_cmd cmd = {
        .name = "train-lm",
        .synopsis = "frugal train-lm [flags]",
        .about = "Trains a transformer language model (defaults: nanoGPT's CPU "
                          "shakespeare-char configuration).",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
    };
    int npos = 0;
    int rc = cli_begin(&cmd, argc, argv, NULL, &npos);
    if (rc != CLI_GO) return rc;
    if (!(prune >= 0 && prune < 1)) return cli_fail("train-lm", "--prune %g must be in [0, 1)", prune);
    if (results && *results && (rc = cli_mkdirs("train-lm", results, 0))) return rc;
    if (out && (rc = cli_mkdirs("train-lm", out, 1))) return rc;
    c.data = data;
    c.tokenizer = tokp;
    c.bpe_vocab = (int)bpe_vocab;
    c.model.arch = strcmp(arch, "llama") == 0 ? FR_TF_LLAMA : FR_TF_GPT2;
    c.model.n_layers = (int)layers;
    c.model.n_heads = (int)heads;
    c.model.n_kv_heads = (int)(kvh ? kvh : heads);
    c.model.dim = (int)dim;
    c.model.dropout = (float)dropout;
    c.model.tied = 1;
    c.model.no_bias = c.model.arch == FR_TF_GPT2 && !bias;
    c.model.gelu_exact = c.model.arch == FR_TF_GPT2 && strcmp(gelu, "exact") == 0;
    c.block = (int)block;
    c.batch = (int)batch;
    c.iters = (int)iters;
    c.lr = lr;
    c.min_lr = min_lr;
    c.warmup = (int)warmup;
    c.wd = wd;
    c.beta2 = beta2;
    c.clip = clip;
    c.eval_interval = (int)eval_int;
    c.eval_iters = (int)eval_iters;
    c.select_full = select_full;
    c.seed = (uint64_t)seed;
    c.out = out;
    c.ckpt = ckpt;
    c.ckpt_every = (int)ckpt_every;
    c.resume = resume;
    c.init = init;
    struct fr_lm_prune_spec ps = {.sparsity = prune, .layerwise = prune_layerwise};
    if (fr_lm_prune_prepare(&c, &ps)) return cli_fail("train-lm", "%s", fr_last_error());
    struct lm_progress p;
    fr_progress_init(&p.bar, stderr, 0);
    c.progress = on_progress;
    c.user = &p;
    struct fr_lm_result r;
    rc = fr_lm_train(&c, &r);
    fr_progress_done(&p.bar);
    if (rc) {
        fr_lm_result_free(&r);
        return cli_fail("train-lm", "%s", fr_last_error());
    }
    printf("params %lld, vocab %lld, %lld iterations in %.1f s (%.0f tokens/s)\n",
           (long long)r.n_params, (long long)r.vocab, (long long)r.iters_done, r.seconds,
           r.tokens_per_s);
    if (init || prune > 0)
        printf("start (%s%s): full validation split %.4f, prunable weights %.2f%% zero at the end\n",
               init ? init : "fresh init", prune > 0 ? ", pruned" : "", r.init_val_loss,
               100.0 * r.scope_sparsity);
    if (select_full)
        printf("best val loss %.4f (whole validation split, kept in --out); final weights %.4f\n",
               r.best_val_loss, r.full_val_loss);
    else
        printf("best val loss %.4f (estimated on %d batches); full validation split %.4f\n",
               r.best_val_loss, c.eval_iters, r.full_val_loss);
    if (results && *results && r.n_evals) {
        char line[2048], path[4096];
        cli_command_line(argc, argv, line, sizeof line);
        struct fr_results *res = fr_results_new("train-lm", "Transformer language model");
        fr_results_set_str(res, "command", line);
        fr_results_set_seed(res, (uint64_t)seed);
        fr_results_config_str(res, "data", data);
        fr_results_config_str(res, "tokenizer", tokp);
        fr_results_config_str(res, "arch", arch);
        fr_results_config_int(res, "layers", layers);
        fr_results_config_int(res, "heads", heads);
        fr_results_config_int(res, "dim", dim);
        fr_results_config_int(res, "block", block);
        fr_results_config_int(res, "batch", batch);
        fr_results_config_int(res, "iters", iters);
        fr_results_config_double(res, "lr", lr);
        fr_results_config_double(res, "dropout", dropout);
        if (init) fr_results_config_str(res, "init", init);
        if (prune > 0) {
            fr_results_config_double(res, "prune", prune);
            fr_results_config_int(res, "prune_layerwise", prune_layerwise);
        }
        if (init || prune > 0) {
            fr_results_metric(res, "init_val_loss", r.init_val_loss, "nats/token");
            fr_results_metric(res, "scope_sparsity", r.scope_sparsity, "fraction");
        }
        int nanogpt = !init && prune == 0 && layers == 4 && heads == 4 && dim == 128 && block == 64 && batch == 12 &&
                      iters == 2000 && dropout == 0 && lr == 1e-3 && min_lr == 1e-4;
        char how[512] = "";
        if (nanogpt) {
            fr_results_set_str(res, "paper", "nanoGPT (Karpathy), CPU shakespeare-char configuration");
            fr_results_set_str(res, "claim",
                               "4 layers, 4 heads, 128 embedding, block 64, batch 12, 2000 "
                               "iterations, lr 1e-3 cosine to 1e-4, dropout 0 reaches a "
                               "validation loss of about 1.88 on character-level tinyshakespeare");
            snprintf(how, sizeof how,
                     "Architecture here: %s (nanoGPT's own model is the gpt2 form; `frugal "
                     "repro nanogpt` measures both forms of this configuration side by side).",
                     arch);
        }
        char *txt = out ? sample_text(out, 300, (uint64_t)seed) : NULL;
        if (txt || how[0]) {
            char notes[1536];
            snprintf(notes, sizeof notes, "%s%s%s%s", how,
                     how[0] && txt ? " " : "",
                     txt ? "Sample from the best checkpoint (temperature 0.8): " : "",
                     txt ? txt : "");
            fr_results_set_str(res, "notes", notes);
        }
        free(txt);
        fr_results_metric(res, "best_val_loss", r.best_val_loss, "nats/token");
        fr_results_metric(res, "full_val_loss", r.full_val_loss, "nats/token");
        fr_results_metric(res, "train_seconds", r.seconds, "s");
        fr_results_metric(res, "tokens_per_s", r.tokens_per_s, "tokens/s");
        fr_results_metric(res, "params", (double)r.n_params, "count");
        double *x = malloc(sizeof(double) * r.n_evals);
        for (int i = 0; i < r.n_evals; i++) x[i] = (double)r.eval_iter[i];
        fr_results_series(res, "train loss", "iteration", "loss (nats/token)", r.n_evals, x,
                          r.eval_train);
        fr_results_series(res, "val loss", "iteration", "loss (nats/token)", r.n_evals, x,
                          r.eval_val);
        struct fr_plot_series ls[2] = {{"train (estimated)", r.n_evals, x, r.eval_train},
                                       {"validation (estimated)", r.n_evals, x, r.eval_val}};
        struct fr_plot lp = {.title = "language-model loss", .xlabel = "iteration",
                             .ylabel = "cross-entropy (nats/token)", .markers = 1};
        snprintf(path, sizeof path, "%s/loss.svg", results);
        if (fr_plot_write(path, &lp, 2, ls) == 0) fr_results_plot(res, "loss.svg");
        snprintf(path, sizeof path, "%s/results.json", results);
        if (fr_results_write(res, path)) rc = cli_fail("train-lm", "%s", fr_last_error());
        else printf("results in %s\n", path);
        free(x);
        fr_results_free(res);
    }
    fr_lm_result_free(&r);
    return rc;
}
