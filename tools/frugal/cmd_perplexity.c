/* cmd_perplexity.c: `frugal perplexity`: mean next-token NLL and perplexity
 * of a text (or .ids token file) under a transformer checkpoint. */
#include "args.h"
#include "cmd.h"
#include "frugal/frugal.h"
#include "frugal/lm.h"
#include "frugal/tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int cmd_perplexity(int argc, char **argv) {
    const char *model = NULL, *text = NULL, *tokp = NULL;
    int64_t block = 0, threads = 0, limit = 0;
    struct arg_flag flags[] = {
        {.name = "model", .type = ARG_STR, .dst = &model, .help = "checkpoint", .required = 1},
        {.name = "text", .type = ARG_STR, .dst = &text, .help = "text file, or int32 token ids in a .ids file", .required = 1},
        {.name = "tokenizer", .type = ARG_STR, .dst = &tokp, .help = "tokenizer file (default: MODEL.tok)"},
        {.name = "block", .type = ARG_INT, .dst = &block, .help = "window length (0 = the model's context)", .max = 1 << 20},
        {.name = "limit", .type = ARG_INT, .dst = &limit, .help = "score only the first N tokens (0 = all)", .max = 9e15},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .help = "threads (0 = all cores)", .max = 256},
    };
    struct arg_cmd c = {
        .name = "perplexity",
        .synopsis = "frugal perplexity --model FILE --text FILE [flags]",
        .about = "Scores a text: mean negative log-likelihood per token (nats) and "
                        "perplexity, in non-overlapping windows.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
    };
    int npos = 0;
    int rc = cli_begin(&c, argc, argv, NULL, &npos);
    if (rc != CLI_GO) return rc;
    struct fr_tf_model m;
    if (fr_tf_load(&m, model)) return cli_fail("perplexity", "%s", fr_last_error());
    struct fr_tokenizer *tok = NULL;
    char tp[4096];
    if (!tokp) {
        snprintf(tp, sizeof tp, "%s.tok", model);
        FILE *f = fopen(tp, "rb");
        if (f) {
            fclose(f);
            tokp = tp;
        }
    }
    if (tokp && fr_tokenizer_load(tokp, &tok)) {
        fr_tf_free(&m);
        return cli_fail("perplexity", "%s", fr_last_error());
    }
    int32_t *ids = NULL;
    int64_t n = 0;
    double nll = 0;
    int64_t cnt = 0;
    if (fr_lm_load_tokens(text, tok, &ids, &n)) {
        rc = cli_fail("perplexity", "%s", fr_last_error());
        goto done;
    }
    if (limit && n > limit) n = limit;
    if (!block) block = m.cfg.max_seq;
    if (fr_lm_nll(&m, ids, n, (int)block, &nll, &cnt)) {
        rc = cli_fail("perplexity", "%s", fr_last_error());
        goto done;
    }
    printf("tokens %lld\nnll %.4f nats/token\nperplexity %.3f\n", (long long)cnt, nll, exp(nll));
done:
    free(ids);
    fr_tokenizer_free(tok);
    fr_tf_free(&m);
    return rc;
}
