/* cmd_generate.c: `frugal generate`: sample text (or token ids) from a
 * transformer checkpoint with a KV cache (fr_tf_generate), streaming the
 * first sequence's pieces to stdout. The CLI's part is the prompt (text
 * through the tokenizer, or ids) and the printing. */
#include "args.h"
#include "cmd.h"

#include "frugal/lm.h"
#include "frugal/methods/kv.h"
#include "frugal/status.h"
#include "frugal/tokenizer.h"
#include "frugal/transformer.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses a --ids prompt ("5,6", "5 6", "5, 6") into *ids (malloc'd; *n may
 * be 0). Anything but integers separated by commas or white space is a
 * usage error (printed; EXIT_USAGE); whether the ids fit the model is the
 * library's check. */
static int parse_ids(const char *s, int32_t **ids, int64_t *n) {
    *n = 0;
    if (!(*ids = malloc(sizeof(int32_t) * (strlen(s) / 2 + 2))))
        return cli_fail("generate", "out of memory");
    for (const char *p = s;;) {
        p += strspn(p, ", \t\n");
        if (!*p) return EXIT_OK;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        size_t len = strcspn(p, ", \t\n");
        if (end == p || (size_t)(end - p) != len || errno == ERANGE || v < INT32_MIN ||
            v > INT32_MAX) {
            fprintf(stderr,
                    "frugal generate: --prompt: '%.*s' is not a token id (with --ids the prompt is "
                    "integers separated by commas or spaces)\n",
                    (int)(len < 40 ? len : 40), p);
            return EXIT_USAGE;
        }
        (*ids)[(*n)++] = (int32_t)v;
        p = end;
    }
}

/* What the per-token callback prints: sequence 0 as ids or decoded pieces. */
struct stream {
    const struct fr_tokenizer *tok; /* NULL: ids */
    const char *echo;               /* the prompt text, printed before the first piece */
    int vocab;                      /* the model's */
};

/* A token the tokenizer cannot print stops the generation with an error
 * (fr_tf_generate returns it), never a silent gap in the text. */
static int print_token(void *user, int64_t step, const int32_t *prev, const int32_t *tokens) {
    const struct stream *s = user;
    if (step == 0 && s->echo) fputs(s->echo, stdout);
    if (!s->tok) {
        printf("%s%d", step ? " " : "", tokens[0]);
    } else {
        const uint8_t *piece;
        size_t len;
        if (fr_tokenizer_decode_piece(s->tok, prev[0], tokens[0], &piece, &len))
            return fr_error(FR_EINVAL,
                            "generated token %d is not in the tokenizer's vocabulary of %lld (the "
                            "model has %d): this tokenizer does not fit the model",
                            tokens[0], (long long)fr_tokenizer_vocab_size(s->tok), s->vocab);
        fwrite(piece, 1, len, stdout);
    }
    fflush(stdout);
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *tokp = NULL, *prompt = NULL, *kv = "full";
    int64_t steps = 256, seed = 0, threads = 0, top_k = 0, batch = 1;
    double temp = 1.0, top_p = 1.0, heavy = 0.1, recent = 0.1;
    int ids = 0, stats = 0;
    const char *const *kvs = fr_kv_policy_names();
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "model", .type = ARG_STR, .dst = &model, .required = 1,
         .help = "checkpoint: llama2.c .bin or frugal .safetensors"},
        {.name = "tokenizer", .type = ARG_STR, .dst = &tokp,
         .help = "tokenizer file (default: MODEL.tok; a model trained on text names its own and "
                 "refuses another; without one, ids)"},
        {.name = "prompt", .type = ARG_STR, .dst = &prompt,
         .help = "prompt text (default: start from BOS); with --ids, token ids separated by "
                 "commas or spaces"},
        {.name = "steps", .type = ARG_INT, .dst = &steps, .min = 1, .max = 1 << 20,
         .help = "tokens to generate (past the model's context the window slides: the last half "
                 "is re-read)"},
        {.name = "temperature", .type = ARG_DOUBLE, .dst = &temp, .max = 100,
         .help = "sampling temperature (0 = greedy)"},
        {.name = "top-p", .type = ARG_DOUBLE, .dst = &top_p, .max = 1, .open_min = 1,
         .help = "nucleus sampling mass (1 = off)"},
        {.name = "top-k", .type = ARG_INT, .dst = &top_k, .max = 1 << 24,
         .help = "sample among the k most likely (0 = off)"},
        {.name = "seed", .type = ARG_INT, .dst = &seed, .max = 9e15, .help = "random seed"},
        {.name = "batch", .type = ARG_INT, .dst = &batch, .min = 1, .max = 4096,
         .help = "sequences generated together"},
        {.name = "kv", .type = ARG_STR, .dst = &kv, .choices = kvs,
         .help = "KV-cache policy: full, or an eviction policy holding heavy + recent tokens "
                 "(h2o: heavy hitters + recent window; heavy; local; sink: 4 first + recent; "
                 "tova)"},
        {.name = "heavy", .type = ARG_DOUBLE, .dst = &heavy, .max = 1e9,
         .help = "heavy-hitter budget (fraction of prompt if < 1, else tokens)"},
        {.name = "recent", .type = ARG_DOUBLE, .dst = &recent, .max = 1e9,
         .help = "recent-window budget (fraction of prompt if < 1, else tokens)"},
        {.name = "ids", .type = ARG_BOOL, .dst = &ids,
         .help = "print token ids instead of text (prompt given as ids)"},
        {.name = "stats", .type = ARG_BOOL, .dst = &stats,
         .help = "print tokens/s and KV bytes to stderr at the end"},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .max = 256,
         .help = "threads (0 = all cores)"},
    };
    /* clang-format on */
    struct arg_cmd c = {
        .name = "generate",
        .synopsis = "frugal generate --model FILE [flags]",
        .about = "Generates text from a transformer checkpoint with a KV cache; the "
                 "decoded pieces stream to stdout.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
    };
    int rc = cli_begin(&c, argc, argv, NULL, NULL);
    if (rc != CLI_GO) return rc;
    struct fr_tokenizer *tok = NULL;
    int32_t *pr = NULL;
    int64_t np = 0;
    if (ids && tokp) {
        fprintf(stderr, "frugal generate: --ids works in token ids: it takes no --tokenizer\n");
        return EXIT_USAGE;
    }
    if (ids && prompt && (rc = parse_ids(prompt, &pr, &np))) {
        free(pr);
        return rc;
    }
    struct fr_tf_model m;
    if (fr_tf_load(&m, model)) {
        free(pr);
        return cli_fail("generate", "%s", fr_last_error());
    }
    int V = m.cfg.vocab_size;
    if (!ids && (rc = cli_open_tokenizer("generate", model, tokp, &tok))) goto done;
    /* text out needs the model's own tokenizer; a model trained on text
     * names it, so a missing or foreign one is refused, not worked around */
    fr_clear_error();
    if (fr_lm_tokenizer_check(model, V, tok, !ids)) {
        rc = cli_fail("generate", "%s", fr_last_error());
        goto done;
    }
    if (prompt && !ids && !tok) {
        rc = cli_fail("generate",
                      "a text prompt needs a tokenizer, and %s has none (no %s.tok): pass "
                      "--tokenizer FILE, or --ids with a prompt of token ids",
                      model, model);
        goto done;
    }
    if (prompt && tok && fr_tokenizer_encode(tok, prompt, strlen(prompt), 0, &pr, &np)) {
        rc = cli_fail("generate", "%s", fr_last_error());
        goto done;
    }
    if (np == 0) { /* start from BOS */
        int32_t bos = tok && fr_tokenizer_bos(tok) >= 0 ? fr_tokenizer_bos(tok) : 1;
        free(pr);
        if (!(pr = malloc(sizeof(int32_t)))) {
            rc = cli_fail("generate", "out of memory");
            goto done;
        }
        pr[0] = bos < V ? bos : 0;
        np = 1;
    }
    struct fr_kv_config kc = {fr_kv_policy_find(kv), heavy, recent, 0, NULL};
    struct stream out = {.tok = tok, .echo = tok && prompt ? prompt : NULL, .vocab = V};
    struct fr_tf_generate_config gc = {.prompt = pr,
                                       .n_prompt = np,
                                       .steps = steps,
                                       .batch = (int)batch,
                                       .temperature = (float)temp,
                                       .top_k = (int)top_k,
                                       .top_p = (float)top_p,
                                       .seed = (uint64_t)seed,
                                       .kv = &kc,
                                       .eos = tok ? fr_tokenizer_eos(tok) : -1,
                                       .on_token = print_token,
                                       .user = &out};
    struct fr_tf_generate_stats gs;
    rc = fr_tf_generate(&m, &gc, &gs) ? cli_fail("generate", "%s", fr_last_error()) : EXIT_OK;
    if (gs.started) printf("\n");
    if (stats && !rc)
        fprintf(stderr,
                "prefill %lld tokens in %.3f s; decode %.1f tok/s (batch %lld: %.1f tok/s "
                "total); kv cache %.2f MB\n",
                (long long)(np * batch), gs.prefill_seconds,
                gs.made > 1 ? (double)(gs.made - 1) / gs.decode_seconds : 0.0, (long long)batch,
                gs.made > 1 ? (double)(gs.made - 1) * batch / gs.decode_seconds : 0.0,
                gs.kv_bytes / 1e6);
done:
    free(pr);
    fr_tokenizer_free(tok);
    fr_tf_free(&m);
    return rc;
}
