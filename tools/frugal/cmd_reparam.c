/* cmd_reparam.c: `frugal reparam CKPT --out PATH`: SLaK's structural
 * re-parameterisation of a trained slak checkpoint (models.h
 * fr_model_reparam): each block's three depthwise branches and their batch
 * norms become one KxK depthwise conv with a bias, the form inference and
 * distillation teachers run. The result is an ordinary checkpoint
 * ("merged" in its metadata) that eval, info and train --init load. */
#include "args.h"
#include "cmd.h"

#include "frugal/io.h"
#include "frugal/models.h"
#include "frugal/report.h"
#include "frugal/status.h"

#include <stdio.h>

int cmd_reparam(int argc, char **argv) {
    const char *out = "";
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "out", .type = ARG_STR, .dst = &out, .required = 1,
         .help = "the merged checkpoint to write (.safetensors)"},
    };
    /* clang-format on */
    struct arg_cmd spec = {
        .name = "reparam",
        .synopsis = "frugal reparam CKPT --out PATH",
        .about = "Merges a slak checkpoint's three depthwise branches (Kx5, 5xK, 5x5, each with\n"
                 "batch norm) into one KxK depthwise conv with a bias per block: the same\n"
                 "eval-mode function in one convolution.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
        .min_pos = 1,
        .max_pos = 1,
    };
    const char *pos[1];
    int npos = 0, rc = cli_begin(&spec, argc, argv, pos, &npos);
    if (rc != CLI_GO) return rc;
    if (fr_check_writable(out)) return cli_fail("reparam", "%s", fr_last_error());
    int has_mask = 0;
    fr_clear_error();
    struct fr_model *m = fr_model_load(pos[0], &has_mask);
    if (!m) return cli_fail("reparam", "%s", fr_last_error());
    struct fr_model *r = fr_model_reparam(m);
    if (!r) {
        rc = cli_fail("reparam", "%s: %s", pos[0], fr_last_error());
    } else if (fr_model_save(r, out)) {
        rc = cli_fail("reparam", "%s", fr_last_error());
    } else {
        printf("merged %s: %lld weights in %d tensors (from %lld in %d)%s\nwrote %s\n", pos[0],
               (long long)fr_params_count_trainable(&r->params), r->params.count,
               (long long)fr_params_count_trainable(&m->params), m->params.count,
               has_mask ? "; the keep-mask is not carried (a merged kernel mixes branches)" : "",
               out);
        rc = EXIT_OK;
    }
    fr_model_free(r);
    fr_model_free(m);
    return rc;
}
