/* cmd_kv_eval.c: `frugal kv-eval`: how KV-cache eviction policies (h2o,
 * local, heavy, sink, tova) trade memory for quality on one model:
 * streaming perplexity, agreement with the full cache and attention
 * statistics (experiments/kv_study.h), written as OUT/results.json with SVG
 * plots.
 *
 * Text: held-out windows of a text file (the last 10%, nanoGPT's split,
 * tokenized with the model's tokenizer), or with no --text the model's own
 * samples at temperature 1 from BOS (for stories260K, which ships without a
 * tokenizer).
 */
#include "args.h"
#include "cmd.h"

#include "frugal/experiments/kv_study.h"
#include "frugal/methods/kv.h"
#include "frugal/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void progress_line(void *user, const char *line) {
    (void)user;
    fprintf(stderr, "%s\n", line);
}

/* Splits "a,b,c" into at most cap pieces (in place). */
static int split(char *s, const char **out, int cap) {
    int n = 0;
    for (char *p = strtok(s, ","); p && n < cap; p = strtok(NULL, ","))
        out[n++] = p;
    return n;
}

int cmd_kv_eval(int argc, char **argv) {
    const char *model = NULL, *text = NULL, *tokp = NULL, *out = "out/kv-eval";
    const char *pol = "h2o,local,heavy,sink,tova", *bud = "0.04,0.1,0.2,0.4,0.6,1";
    int64_t length = 0, prompt = 0, windows = 8, seed = 1, threads = 0;
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "model", .type = ARG_STR, .dst = &model, .required = 1, .help = "checkpoint"},
        {.name = "text", .type = ARG_STR, .dst = &text,
         .help = "text file whose last 10% is read (default: the model's own samples at "
                 "temperature 1)"},
        {.name = "tokenizer", .type = ARG_STR, .dst = &tokp,
         .help = "tokenizer file (default: MODEL.tok)"},
        {.name = "length", .type = ARG_INT, .dst = &length, .max = 1 << 20,
         .help = "window length (0 = the model's context)"},
        {.name = "prompt", .type = ARG_INT, .dst = &prompt, .max = 1 << 20,
         .help = "tokens prefilled per window (0 = length / 8)"},
        {.name = "windows", .type = ARG_INT, .dst = &windows, .min = 1, .max = 256,
         .help = "windows, decoded together as a batch"},
        {.name = "policies", .type = ARG_STR, .dst = &pol,
         .help = "comma-separated policies compared with the full cache"},
        {.name = "budgets", .type = ARG_STR, .dst = &bud,
         .help = "comma-separated budgets, fractions of the window"},
        {.name = "seed", .type = ARG_INT, .dst = &seed, .max = 9e15,
         .help = "seed of the self-generated text"},
        {.name = "out", .type = ARG_STR, .dst = &out,
         .help = "directory for results.json and the plots"},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .max = 256,
         .help = "threads (0 = all cores)"},
    };
    /* clang-format on */
    struct arg_cmd c = {
        .name = "kv-eval",
        .synopsis = "frugal kv-eval --model FILE [flags]",
        .about = "Streams held-out text through each KV-cache policy at each budget: "
                 "perplexity, top-1 agreement and KL vs the full cache, attention "
                 "statistics; writes OUT/results.json and SVG plots.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
    };
    int npos = 0, rc = cli_begin(&c, argc, argv, NULL, &npos);
    if (rc != CLI_GO) return rc;
    char pbuf[512], bbuf[512];
    snprintf(pbuf, sizeof pbuf, "%s", pol);
    snprintf(bbuf, sizeof bbuf, "%s", bud);
    const char *pols[16], *bs[32];
    int np = split(pbuf, pols, 16), nb = split(bbuf, bs, 32);
    double budgets[32];
    for (int i = 0; i < np; i++)
        if (!fr_kv_policy_find(pols[i]) || !strcmp(pols[i], "full")) {
            fprintf(stderr, "frugal kv-eval: --policies: '%s' is not an eviction policy\n",
                    pols[i]);
            return EXIT_USAGE;
        }
    for (int i = 0; i < nb; i++) {
        char *end;
        budgets[i] = strtod(bs[i], &end);
        if (*end || !(budgets[i] > 0 && budgets[i] <= 1)) {
            fprintf(stderr, "frugal kv-eval: --budgets: '%s' is not a fraction in (0, 1]\n", bs[i]);
            return EXIT_USAGE;
        }
    }
    if (np < 1 || nb < 1) {
        fprintf(stderr, "frugal kv-eval: need at least one policy and one budget\n");
        return EXIT_USAGE;
    }
    char command[2048], path[4200];
    cli_command_line(argc, argv, command, sizeof command);
    struct fr_kv_study_spec sp = {.model = model,
                                  .text = text,
                                  .label = "model",
                                  .tokenizer = tokp,
                                  .length = length,
                                  .prompt = prompt,
                                  .windows = windows,
                                  .policies = pols,
                                  .npolicies = np,
                                  .budgets = budgets,
                                  .nbudgets = nb,
                                  .seed = (uint64_t)seed,
                                  .progress = progress_line};
    if (fr_kv_study_recorded(&sp, command, out, path, sizeof path))
        return cli_fail("kv-eval", "%s", fr_last_error());
    printf("results: %s\n", path);
    return EXIT_OK;
}
