/* cmd_prune.c: `frugal prune --model CKPT --method M --sparsity S --out F`:
 * prunes an image-classifier or transformer checkpoint and writes it with
 * its keep-mask ("__mask__", prune.h), so fine-tuning and `frugal sparsity`
 * see which weights were removed. All of it is fr_prune_file
 * (experiments/prune_run.h); this file is the flags and the report lines.
 */
#include "args.h"
#include "cmd.h"

#include "frugal/dist.h"
#include "frugal/experiments/prune_run.h"
#include "frugal/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_prune(int argc, char **argv) {
    struct fr_prune_file_config c;
    fr_prune_file_config_defaults(&c);
    c.data_dir = DEFAULT_DATA_DIR;
    int64_t seed = (int64_t)c.seed, threads = 0;
    static const char *const methods[] = {"omp",   "random", "nm",  "snip",
                                          "grasp", "imp",    "isp", NULL};
    static const char *const merges[] = {"trim", "union", NULL};
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "model", .type = ARG_STR, .dst = &c.model, .required = 1,
         .help = "checkpoint to prune (image classifier from frugal train, or a transformer LM)"},
        {.name = "out", .type = ARG_STR, .dst = &c.out, .required = 1,
         .help = "pruned checkpoint to write (weights + __mask__)"},
        {.name = "method", .type = ARG_STR, .dst = &c.method, .choices = methods,
         .help = "omp (global magnitude), random, nm, snip, grasp; imp, isp (train while "
                 "pruning; image models)"},
        {.name = "sparsity", .type = ARG_DOUBLE, .dst = &c.sparsity, .max = 1, .open_max = 1,
         .help = "fraction of the scoped weights to prune, [0, 1)"},
        {.name = "layerwise", .type = ARG_BOOL, .dst = &c.layerwise,
         .help = "the same sparsity in every tensor (else one global threshold)"},
        {.name = "scope", .type = ARG_STR, .dst = &c.scope,
         .help = "comma list of name globs to prune (empty: the model's prunable weights)"},
        {.name = "exclude", .type = ARG_STR, .dst = &c.exclude,
         .help = "comma list of name globs to leave dense"},
        {.name = "nm", .type = ARG_STR, .dst = &c.nm,
         .help = "N:M pattern for --method nm (keep N of every M along a row)"},
        {.name = "seed", .type = ARG_INT, .dst = &seed, .max = 1e18,
         .help = "seed of --method random, imp and isp"},
        {.name = "batch", .type = ARG_INT, .dst = &c.batch, .min = 1, .max = 60000,
         .help = "training images (or LM text windows) scored by snip / grasp"},
        {.name = "temperature", .type = ARG_DOUBLE, .dst = &c.temperature, .min = 1e-3, .max = 1e6,
         .help = "grasp: logits divided by this before the loss, as in the GraSP paper (1 = none)"},
        {.name = "text", .type = ARG_STR, .dst = &c.text,
         .help = "LM: text whose first 90% scores snip / grasp"},
        {.name = "data-dir", .type = ARG_STR, .dst = &c.data_dir,
         .help = "directory with Fashion-MNIST (snip, grasp, imp, isp)"},
        {.name = "task", .type = ARG_STR, .dst = &c.task,
         .help = "imp / isp: training data, a tasks.h task: fashion (the whole training split), "
                 "pretrain, few, coarse, rotate, invert"},
        {.name = "limit-train", .type = ARG_INT, .dst = &c.limit_train, .max = 1e9,
         .help = "imp / isp: use only the first N training images (0 = all)"},
        {.name = "steps", .type = ARG_INT, .dst = &c.steps, .max = 1e9,
         .help = "imp: training steps per round (0 = 200); isp: the model's own steps per round "
                 "(0 = 40)"},
        {.name = "rate", .type = ARG_DOUBLE, .dst = &c.rate, .max = 0.99,
         .help = "imp / isp: fraction of the remaining weights pruned per round (0 = 0.2 imp, "
                 "0.15 isp, 0.1 isp --merge union)"},
        {.name = "weak", .type = ARG_INT, .dst = &c.weak, .max = 256,
         .help = "isp: weak masks per round (0 = gradual magnitude pruning)"},
        {.name = "lookahead", .type = ARG_INT, .dst = &c.lookahead, .min = 1, .max = 1e6,
         .help = "isp: training steps of each weak model"},
        {.name = "subset", .type = ARG_DOUBLE, .dst = &c.subset, .min = 0.001, .max = 1,
         .help = "isp: fraction of the training images per weak model"},
        {.name = "soup", .type = ARG_BOOL, .dst = &c.soup,
         .help = "isp: instant model soup (average the weak models each round)"},
        {.name = "merge", .type = ARG_STR, .dst = &c.merge, .choices = merges,
         .help = "isp: trim (the union of the weak keep-masks trimmed by magnitude to each "
                 "round's sparsity) or union (the authors' code: untrimmed union, weak models "
                 "differing only by seed start from the model's optimizer moments; --rate "
                 "default 0.1)"},
        {.name = "workers", .type = ARG_INT, .dst = &c.workers, .max = 256,
         .help = "isp: weak-model processes (0 = one per core)"},
        {.name = "fit-batch", .type = ARG_INT, .dst = &c.fit_batch, .min = 1, .max = 60000,
         .help = "imp / isp: training batch"},
        {.name = "lr", .type = ARG_DOUBLE, .dst = &c.lr, .max = 10, .open_min = 1,
         .help = "imp / isp: AdamW learning rate (cosine within each run)"},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .max = 256,
         .help = "worker threads (0 = all cores)"},
    };
    /* clang-format on */
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
    int rc = cli_begin(&spec, argc, argv, NULL, NULL);
    if (rc != CLI_GO) return rc;
    c.seed = (uint64_t)seed;
    /* under mpirun (ISP's weak models are shared over the ranks) every rank
     * computes the same result and rank 0 alone writes --out; the others
     * write to a private temporary file, removed at once */
    char rank_out[4096] = "";
    if (fr_dist_rank() > 0) {
        const char *t = getenv("TMPDIR");
        snprintf(rank_out, sizeof rank_out, "%s/frugal-prune-rank%d-%ld.safetensors",
                 t && *t ? t : "/tmp", fr_dist_rank(), (long)getpid());
        c.out = rank_out;
    }
    struct fr_prune_file_result r;
    fr_clear_error();
    rc = fr_prune_file(&c, &r);
    if (rank_out[0]) remove(rank_out);
    if (r.trained)
        printf("%s on task %s: %d rounds, %lld training steps (%lld in weak models), %.1f s; "
               "test acc %.2f%% before, %.2f%% after (%s)\n",
               c.method, r.task, r.rounds, (long long)r.train_steps, (long long)r.weak_steps,
               r.seconds, 100 * r.acc_before, 100 * r.acc_after,
               strcmp(c.method, "isp") == 0 ? "trained, not fine-tuned"
                                            : "rewound ticket, not fine-tuned");
    if (rc) return cli_fail("prune", "%s", fr_last_error());
    if (r.counted)
        printf("pruned %s (%s%s) -> %s: scope %.2f%% sparse (%lld of %lld weights zero), "
               "overall %.2f%%\n",
               c.model, c.method, c.layerwise ? ", layer-wise" : "", c.out,
               100.0 * (1.0 - (double)r.scope_nonzero / (double)r.scope),
               (long long)(r.scope - r.scope_nonzero), (long long)r.scope,
               100.0 * (1.0 - (double)r.total_nonzero / (double)r.total));
    return EXIT_OK;
}
