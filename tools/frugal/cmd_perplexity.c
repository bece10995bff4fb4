/* cmd_perplexity.c: `frugal perplexity`: mean next-token NLL and perplexity
 * of a text (or .ids token file) under a transformer checkpoint
 * (fr_lm_nll, lm.h). */
#include "args.h"
#include "cmd.h"

#include "frugal/lm.h"
#include "frugal/status.h"
#include "frugal/tokenizer.h"
#include "frugal/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int cmd_perplexity(int argc, char **argv) {
    const char *model = NULL, *text = NULL, *tokp = NULL, *precision = "f32";
    static const char *const precisions[] = {"f32", "bf16", NULL};
    int64_t block = 0, threads = 0, limit = 0;
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "model", .type = ARG_STR, .dst = &model, .required = 1, .help = "checkpoint"},
        {.name = "text", .type = ARG_STR, .dst = &text, .required = 1,
         .help = "text file, or int32 token ids in a .ids file"},
        {.name = "tokenizer", .type = ARG_STR, .dst = &tokp,
         .help = "tokenizer file (default: MODEL.tok)"},
        {.name = "block", .type = ARG_INT, .dst = &block, .max = 1 << 20,
         .help = "window length (0 = the model's context)"},
        {.name = "limit", .type = ARG_INT, .dst = &limit, .max = 9e15,
         .help = "score only the first N tokens (0 = all)"},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .max = 256,
         .help = "threads (0 = all cores)"},
        {.name = "precision", .type = ARG_STR, .dst = &precision, .choices = precisions,
         .help = "bf16: the window's products in bfloat16 with f32 sums (AMX or AVX512-BF16; "
                 "bf16 weights read in place)"},
    };
    /* clang-format on */
    struct arg_cmd c = {
        .name = "perplexity",
        .synopsis = "frugal perplexity --model FILE --text FILE [flags]",
        .about = "Scores a text: mean negative log-likelihood per token (nats) and "
                 "perplexity, in non-overlapping windows.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
    };
    int rc = cli_begin(&c, argc, argv, NULL, NULL);
    if (rc != CLI_GO) return rc;
    if (limit == 1) { /* one token has no next token to score */
        fprintf(stderr,
                "frugal perplexity: --limit 1 leaves nothing to score (0 = all, or >= 2)\n");
        return EXIT_USAGE;
    }
    if ((rc = cli_check_precision("perplexity", precision)) != EXIT_OK) return rc;
    struct fr_tf_model m;
    if (fr_tf_load(&m, model)) return cli_fail("perplexity", "%s", fr_last_error());
    int prev_prec;
    fr_precision_begin(precision, &prev_prec); /* checked above */
    struct fr_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    int64_t n = 0, cnt = 0;
    double nll = 0;
    if ((rc = cli_open_tokenizer("perplexity", model, tokp, &tok))) goto done;
    /* a text scored with another tokenizer than the model's is a wrong number */
    fr_clear_error();
    if (fr_lm_tokenizer_check(model, m.cfg.vocab_size, tok, 0) ||
        fr_lm_load_tokens(text, tok, &ids, &n)) {
        rc = cli_fail("perplexity", "%s", fr_last_error());
        goto done;
    }
    if (limit && n > limit) n = limit;
    if (fr_lm_nll(&m, ids, n, (int)(block ? block : m.cfg.max_seq), &nll, &cnt)) {
        rc = cli_fail("perplexity", "%s", fr_last_error());
        goto done;
    }
    printf("tokens %lld\nnll %.4f nats/token\nperplexity %.3f\n", (long long)cnt, nll, exp(nll));
done:
    fr_precision_end(prev_prec);
    free(ids);
    fr_tokenizer_free(tok);
    fr_tf_free(&m);
    return rc;
}
