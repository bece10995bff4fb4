/* cmd_train_lm.c: `frugal train-lm`: train a GPT-2 or LLaMA-style language
 * model on a text file (or fine-tune one from --init, optionally magnitude-
 * pruned first with --prune); logs `val loss X` at each evaluation; writes
 * the best checkpoint (with its keep-mask when pruned), its tokenizer,
 * results.json and the loss curve. All of it is fr_lm_run_recorded
 * (experiments/lm_run.h); this file is the flags and the printing. */
#include "args.h"
#include "cmd.h"

#include "frugal/dist.h"
#include "frugal/experiments/lm_run.h"
#include "frugal/status.h"
#include "frugal/train.h"

#include <stdio.h>
#include <string.h>

int cmd_train_lm(int argc, char **argv) {
    struct fr_lm_config c;
    fr_lm_config_defaults(&c);
    c.data = "data/tinyshakespeare.txt";
    const char *arch = "gpt2", *results = "out/train-lm";
    const char *gelu = c.model.gelu_exact ? "exact" : "tanh";
    int64_t layers = c.model.n_layers, heads = c.model.n_heads, kvh = 0, dim = c.model.dim;
    int64_t block = c.block, batch = c.batch, iters = c.iters, warmup = c.warmup;
    int64_t eval_int = c.eval_interval, eval_iters = c.eval_iters, seed = (int64_t)c.seed;
    int64_t threads = 0, bpe_vocab = c.bpe_vocab, ckpt_every = 0;
    int64_t bucket_kb = -1;
    double dropout = 0, prune = 0;
    int bias = !c.model.no_bias, prune_layerwise = 0;
    static const char *const gelus[] = {"exact", "tanh", NULL};
    static const char *const archs[] = {"gpt2", "llama", NULL};
    static const char *const precisions[] = {"f32", "bf16", NULL};
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "data", .type = ARG_STR, .dst = &c.data,
         .help = "text file (90% train / 10% validation) or .ids token file"},
        {.name = "init", .type = ARG_STR, .dst = &c.init,
         .help = "fine-tune from this checkpoint (its weights, mask, architecture and context; "
                 "tokenizer FILE.tok; the size flags below are ignored)"},
        {.name = "prune", .type = ARG_DOUBLE, .dst = &prune, .max = 1, .open_max = 1,
         .help = "magnitude-prune the attention and MLP matrices to this sparsity before "
                 "training, [0, 1)"},
        {.name = "prune-layerwise", .type = ARG_BOOL, .dst = &prune_layerwise,
         .help = "--prune the same fraction of each matrix (else one global threshold)"},
        {.name = "tokenizer", .type = ARG_STR, .dst = &c.tokenizer,
         .help = "char, bpe, or a tokenizer file"},
        {.name = "bpe-vocab", .type = ARG_INT, .dst = &bpe_vocab, .min = 257, .max = 1 << 20,
         .help = "vocabulary size when training BPE"},
        {.name = "arch", .type = ARG_STR, .dst = &arch, .choices = archs, .help = "model family"},
        {.name = "layers", .type = ARG_INT, .dst = &layers, .min = 1, .max = 1024,
         .help = "transformer blocks"},
        {.name = "heads", .type = ARG_INT, .dst = &heads, .min = 1, .max = 1024,
         .help = "attention heads"},
        {.name = "kv-heads", .type = ARG_INT, .dst = &kvh, .max = 1024,
         .help = "KV heads for llama (0 = heads)"},
        {.name = "dim", .type = ARG_INT, .dst = &dim, .min = 1, .max = 65536,
         .help = "embedding size"},
        {.name = "block", .type = ARG_INT, .dst = &block, .min = 2, .max = 1 << 20,
         .help = "context length"},
        {.name = "batch", .type = ARG_INT, .dst = &batch, .min = 1, .max = 1 << 16,
         .help = "sequences per step"},
        {.name = "iters", .type = ARG_INT, .dst = &iters, .min = 1, .max = 1e9,
         .help = "optimizer steps"},
        {.name = "lr", .type = ARG_DOUBLE, .dst = &c.lr, .max = 10, .open_min = 1,
         .help = "peak learning rate"},
        {.name = "min-lr", .type = ARG_DOUBLE, .dst = &c.min_lr, .max = 10,
         .help = "final learning rate of the cosine decay"},
        {.name = "warmup", .type = ARG_INT, .dst = &warmup, .max = 1e9,
         .help = "linear warmup steps"},
        {.name = "wd", .type = ARG_DOUBLE, .dst = &c.wd, .max = 10,
         .help = "AdamW weight decay (matrices and embeddings)"},
        {.name = "beta2", .type = ARG_DOUBLE, .dst = &c.beta2, .max = 1, .open_max = 1,
         .help = "AdamW beta2"},
        {.name = "clip", .type = ARG_DOUBLE, .dst = &c.clip, .max = 1e9,
         .help = "gradient-norm clip (0 = off)"},
        {.name = "bias", .type = ARG_BOOL, .dst = &bias,
         .help = "gpt2: biases in linears and LayerNorms (nanoGPT: off)"},
        {.name = "gelu", .type = ARG_STR, .dst = &gelu, .choices = gelus,
         .help = "gpt2: GELU form"},
        {.name = "dropout", .type = ARG_DOUBLE, .dst = &dropout, .max = 1, .open_max = 1,
         .help = "dropout on embeddings and residual branches"},
        {.name = "eval-interval", .type = ARG_INT, .dst = &eval_int, .min = 1, .max = 1e9,
         .help = "iterations between evaluations"},
        {.name = "eval-iters", .type = ARG_INT, .dst = &eval_iters, .min = 1, .max = 1e6,
         .help = "batches per evaluation"},
        {.name = "select-full", .type = ARG_BOOL, .dst = &c.select_full,
         .help = "keep the checkpoint best on the whole validation split (one pass over it per "
                 "evaluation) instead of best on the batch estimate"},
        {.name = "seed", .type = ARG_INT, .dst = &seed, .max = 9e15, .help = "random seed"},
        {.name = "precision", .type = ARG_STR, .dst = &c.precision, .choices = precisions,
         .help = "GEMM precision: bf16 multiplies in bfloat16 (AMX or AVX512-BF16), sums and keeps "
                 "weights in f32"},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .max = 256,
         .help = "threads (0 = all cores)"},
        {.name = "bucket-kb", .type = ARG_INT, .dst = &bucket_kb, .min = -1, .max = 1 << 22,
         .help = "under mpirun: all-reduce the gradients in buckets of this many KiB, each "
                 "started during the backward pass; 0: one all-reduce after it; -1: buckets of "
                 "256 KiB when the ranks span several machines, one all-reduce on one machine"},
        {.name = "out", .type = ARG_STR, .dst = &c.out,
         .help = "best checkpoint (.safetensors; tokenizer goes to OUT.tok)"},
        {.name = "ckpt", .type = ARG_STR, .dst = &c.ckpt,
         .help = "resumable checkpoint path (none by default)"},
        {.name = "ckpt-every", .type = ARG_INT, .dst = &ckpt_every, .max = 1e9,
         .help = "iterations between resumable checkpoints"},
        {.name = "resume", .type = ARG_BOOL, .dst = &c.resume,
         .help = "continue from --ckpt if it exists"},
        {.name = "stop-after", .type = ARG_INT, .dst = &c.stop_after, .max = 1e9,
         .help = "stop after this many iterations as if killed (tests --resume; 0 = never)"},
        {.name = "results", .type = ARG_STR, .dst = &results,
         .help = "directory for results.json and loss.svg (\"\" = none)"},
    };
    /* clang-format on */
    struct arg_cmd cmd = {
        .name = "train-lm",
        .synopsis = "frugal train-lm [flags]",
        .about = "Trains a transformer language model (defaults: nanoGPT's CPU "
                 "shakespeare-char configuration).",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
    };
    int rc = cli_begin(&cmd, argc, argv, NULL, NULL);
    if (rc != CLI_GO) return rc;
    if (c.resume && !c.ckpt) {
        fprintf(stderr, "frugal train-lm: --resume needs --ckpt PATH\n");
        return EXIT_USAGE;
    }
    if ((rc = cli_check_precision("train-lm", c.precision)) != EXIT_OK) return rc;
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
    c.warmup = (int)warmup;
    c.eval_interval = (int)eval_int;
    c.eval_iters = (int)eval_iters;
    c.seed = (uint64_t)seed;
    c.ckpt_every = (int)ckpt_every;
    char command[2048], path[4200], summary[1024];
    cli_command_line(argc, argv, command, sizeof command);
    struct fr_lm_run_info info = {.command = command,
                                  .results_dir = results,
                                  .prune = prune,
                                  .prune_layerwise = prune_layerwise,
                                  .log = stderr};
    /* under mpirun every batch is split over the ranks (one rank: no-op);
     * rank 0 writes the checkpoints and results for all */
    c.data_parallel = 1;
    c.bucket_bytes = bucket_kb < 0 ? 0 : bucket_kb ? bucket_kb << 10 : -1;
    if (fr_dist_rank() > 0) c.out = NULL, info.results_dir = "", info.log = NULL;
    struct fr_lm_run_result r;
    fr_clear_error();
    rc = fr_lm_run_recorded(&c, &info, &r, path, sizeof path);
    if (r.trained) {
        fr_lm_run_summary(&c, &info, &r.lm, summary, sizeof summary);
        fputs(summary, stdout);
    }
    if (rc)
        rc = cli_fail("train-lm", "%s", fr_last_error());
    else if (*path)
        printf("results in %s\n", path);
    fr_lm_result_free(&r.lm);
    return rc;
}
