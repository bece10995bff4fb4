/* cmd_shrink.c: `frugal shrink CKPT --out PATH`: the physically narrower
 * model of a checkpoint whose keep-mask has removed whole channels (Chase,
 * `frugal train --dst chase --channel-sparsity S`): every prunable channel
 * whose consumer slice holds no kept weight is sliced out of the conv, its
 * batch norm and the consumer (models.h fr_model_shrink), the batch-norm
 * statistics are re-estimated on training batches, and the result is an
 * ordinary checkpoint (widths in its metadata, the keep-mask beside the
 * weights) that eval, info and inference load like any other. */
#include "args.h"
#include "cmd.h"

#include "frugal/data.h"
#include "frugal/io.h"
#include "frugal/methods/dst.h"
#include "frugal/models.h"
#include "frugal/report.h"
#include "frugal/status.h"
#include "frugal/threads.h"
#include "frugal/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_shrink(int argc, char **argv) {
    int64_t bn_batches = 100, batch = 128, threads = 0, seed = 1;
    const char *data_dir = DEFAULT_DATA_DIR, *out = "";
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "out", .type = ARG_STR, .dst = &out, .required = 1,
         .help = "the narrow checkpoint to write (.safetensors)"},
        {.name = "bn-batches", .type = ARG_INT, .dst = &bn_batches, .max = 1e9,
         .help = "training batches that re-estimate the batch-norm statistics (0 = keep them)"},
        {.name = "batch", .type = ARG_INT, .dst = &batch, .min = 1, .max = 65536,
         .help = "images per re-estimation batch"},
        {.name = "data-dir", .type = ARG_STR, .dst = &data_dir,
         .help = "directory with the dataset's IDX .gz files (training split)"},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .max = 256,
         .help = "worker threads (0 = all cores)"},
        {.name = "seed", .type = ARG_INT, .dst = &seed, .max = 1e18,
         .help = "seed of the re-estimation batches' order"},
    };
    /* clang-format on */
    struct arg_cmd spec = {
        .name = "shrink",
        .synopsis = "frugal shrink CKPT --out PATH [flags]",
        .about = "Slices the channels a Chase run removed (those feeding nothing) out of a\n"
                 "resnet20 / vgg-small checkpoint: a genuinely narrower dense model, keep-mask\n"
                 "kept, batch-norm statistics re-estimated on training data.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
        .min_pos = 1,
        .max_pos = 1,
    };
    const char *pos[1];
    int npos = 0, rc = cli_begin(&spec, argc, argv, pos, &npos);
    if (rc != CLI_GO) return rc;
    if (bn_batches > 0 && (rc = cli_check_data_dir("shrink", data_dir)) != EXIT_OK) return rc;
    if (threads > 0 && fr_threads_set((int)threads))
        return cli_fail("shrink", "%s", fr_last_error());
    if (fr_check_writable(out)) return cli_fail("shrink", "%s", fr_last_error());
    int has_mask = 0;
    fr_clear_error();
    struct fr_model *m = fr_model_load(pos[0], &has_mask), *s = NULL;
    if (!m) return cli_fail("shrink", "%s", fr_last_error());
    uint8_t *alive[FR_MODEL_MAX_WIDTHS] = {0};
    struct fr_dataset tr = {0};
    int nl = 0;
    if (!has_mask) {
        rc = cli_fail("shrink", "%s has no keep-mask: no channel was removed", pos[0]);
        goto done;
    }
    if ((nl = fr_dst_dead_channels(m, alive)) <= 0) {
        rc = cli_fail("shrink",
                      "%s: model '%s' has no prunable channel layers (resnet20 and "
                      "vgg-small have)",
                      pos[0], m->arch);
        nl = 0;
        goto done;
    }
    if (!(s = fr_model_shrink(m, (const uint8_t *const *)alive))) {
        rc = cli_fail("shrink", "%s: %s", pos[0], fr_last_error());
        goto done;
    }
    if (bn_batches > 0) {
        if (fr_dataset_fashion_mnist(&tr, data_dir, 1, 0) ||
            fr_bn_recalibrate(s, &tr, NULL, NULL, (int)batch, bn_batches, (uint64_t)seed)) {
            rc = cli_fail("shrink", "%s", fr_last_error());
            goto done;
        }
    }
    if (fr_mkdirs_for(out) || fr_model_save(s, out)) {
        rc = cli_fail("shrink", "%s", fr_last_error());
        goto done;
    }
    int64_t before = 0, after = 0, fd0, fs0, fd1, fs1;
    struct fr_channel_layer L[FR_MODEL_MAX_WIDTHS];
    fr_model_channels(m, L, FR_MODEL_MAX_WIDTHS);
    printf("shrunk %s: prunable channels", m->arch);
    for (int l = 0; l < nl; l++) {
        before += L[l].C;
        after += s->cfg.widths[l];
        printf("%s%lld->%d", l ? ", " : " ", (long long)L[l].C, s->cfg.widths[l]);
    }
    printf(" (%lld -> %lld)\n", (long long)before, (long long)after);
    printf("parameters %lld -> %lld\n", (long long)fr_params_count_trainable(&m->params),
           (long long)fr_params_count_trainable(&s->params));
    if (fr_model_flops(m, &fd0, &fs0) == 0 && fr_model_flops(s, &fd1, &fs1) == 0)
        printf("forward MFLOPs per image, dense kernels: %.2f -> %.2f (kept weights only: %.2f "
               "-> %.2f)\n",
               fd0 / 1e6, fd1 / 1e6, fs0 / 1e6, fs1 / 1e6);
    if (bn_batches > 0)
        printf("batch-norm statistics re-estimated on %lld training batches of %lld\n",
               (long long)bn_batches, (long long)batch);
    printf("written: %s\n", out);
    rc = EXIT_OK;
done:
    for (int l = 0; l < nl; l++)
        free(alive[l]);
    fr_dataset_free(&tr);
    fr_model_free(s);
    fr_model_free(m);
    return rc;
}
