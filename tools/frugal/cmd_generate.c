/* cmd_generate.c: `frugal generate`: sample text (or token ids) from a
 * transformer checkpoint with a KV cache, streaming pieces to stdout. */
#include "args.h"
#include "cmd.h"

#include "frugal/methods/kv.h"
#include "frugal/clock.h"
#include "frugal/frugal.h"
#include "frugal/tokenizer.h"
#include "frugal/transformer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Loads the tokenizer: --tokenizer, else MODEL.tok beside the checkpoint;
 * NULL (ids only) when neither exists and none was asked for. */
static int open_tokenizer(const char *cmd, const char *model, const char *path,
                          struct fr_tokenizer **tok) {
    char buf[4096];
    *tok = NULL;
    if (!path) {
        snprintf(buf, sizeof buf, "%s.tok", model);
        FILE *f = fopen(buf, "rb");
        if (!f) return 0;
        fclose(f);
        path = buf;
    }
    if (fr_tokenizer_load(path, tok)) return cli_fail(cmd, "%s", fr_last_error());
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *tokp = NULL, *prompt = NULL, *kv = "full";
    int64_t steps = 256, seed = 0, threads = 0, top_k = 0, batch = 1;
    double temp = 1.0, top_p = 1.0, heavy = 0.1, recent = 0.1;
    int ids = 0, stats = 0;
    const char *const *kvs = fr_kv_policy_names();
    struct arg_flag flags[] = {
        {.name = "model", .type = ARG_STR, .dst = &model, .help = "checkpoint: llama2.c .bin or frugal .safetensors", .required = 1},
        {.name = "tokenizer", .type = ARG_STR, .dst = &tokp, .help = "tokenizer file (default: MODEL.tok if present, else ids)"},
        {.name = "prompt", .type = ARG_STR, .dst = &prompt, .help = "prompt text (default: start from BOS); with --ids, ids"},
        {.name = "steps", .type = ARG_INT, .dst = &steps, .help = "tokens to generate (past the model's context the window "
                                   "slides: the last half is re-read)", .min = 1, .max = 1 << 20},
        {.name = "temperature", .type = ARG_DOUBLE, .dst = &temp, .help = "sampling temperature (0 = greedy)", .max = 100},
        {.name = "top-p", .type = ARG_DOUBLE, .dst = &top_p, .help = "nucleus sampling mass (1 = off)", .min = 1e-6, .max = 1},
        {.name = "top-k", .type = ARG_INT, .dst = &top_k, .help = "sample among the k most likely (0 = off)", .max = 1 << 24},
        {.name = "seed", .type = ARG_INT, .dst = &seed, .help = "random seed", .max = 9e15},
        {.name = "batch", .type = ARG_INT, .dst = &batch, .help = "sequences generated together", .min = 1, .max = 4096},
        {.name = "kv", .type = ARG_STR, .dst = &kv, .help = "KV-cache policy: full, or an eviction policy holding heavy + recent "
                             "tokens (h2o: heavy hitters + recent window; heavy; local; sink: 4 "
                             "first + recent; tova)", .choices = kvs},
        {.name = "heavy", .type = ARG_DOUBLE, .dst = &heavy, .help = "heavy-hitter budget (fraction of prompt if < 1, else tokens)", .max = 1e9},
        {.name = "recent", .type = ARG_DOUBLE, .dst = &recent, .help = "recent-window budget (fraction of prompt if < 1, else tokens)", .max = 1e9},
        {.name = "ids", .type = ARG_BOOL, .dst = &ids, .help = "print token ids instead of text (prompt given as ids)"},
        {.name = "stats", .type = ARG_BOOL, .dst = &stats, .help = "print tokens/s and KV bytes to stderr at the end"},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .help = "threads (0 = all cores)", .max = 256},
    };
    struct arg_cmd c = {
        .name = "generate",
        .synopsis = "frugal generate --model FILE [flags]",
        .about = "Generates text from a transformer checkpoint with a KV cache; the "
                        "decoded pieces stream to stdout.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
    };
    int npos = 0;
    int rc = cli_begin(&c, argc, argv, NULL, &npos);
    if (rc != CLI_GO) return rc;
    struct fr_tf_model m;
    if (fr_tf_load(&m, model)) return cli_fail("generate", "%s", fr_last_error());
    struct fr_tokenizer *tok = NULL;
    if (!ids && (rc = open_tokenizer("generate", model, tokp, &tok))) {
        fr_tf_free(&m);
        return rc;
    }
    int V = m.cfg.vocab_size;
    if (tok && fr_tokenizer_vocab_size(tok) > V) {
        fr_tokenizer_free(tok);
        fr_tf_free(&m);
        return cli_fail("generate", "tokenizer has %lld tokens but the model only %d",
                        (long long)fr_tokenizer_vocab_size(tok), V);
    }
    int32_t *pr = NULL;
    int64_t np = 0;
    int32_t bos = tok && fr_tokenizer_bos(tok) >= 0 ? fr_tokenizer_bos(tok) : 1;
    if (prompt && tok) {
        if (fr_tokenizer_encode(tok, prompt, strlen(prompt), 0, &pr, &np)) {
            rc = cli_fail("generate", "%s", fr_last_error());
            goto done;
        }
    } else if (prompt) {
        pr = malloc(sizeof(int32_t) * (strlen(prompt) / 2 + 2));
        char *p = (char *)prompt, *end;
        for (long v; (v = strtol(p, &end, 10)), end != p; p = end) {
            if (v < 0 || v >= V) {
                rc = cli_fail("generate", "prompt id %ld outside the vocabulary (0..%d)", v, V - 1);
                goto done;
            }
            pr[np++] = (int32_t)v;
        }
    }
    if (np == 0) {
        free(pr);
        pr = malloc(sizeof(int32_t));
        pr[0] = bos < V ? bos : 0;
        np = 1;
    }
    if (np >= m.cfg.max_seq) {
        rc = cli_fail("generate", "prompt of %lld tokens fills the model's context of %d",
                      (long long)np, m.cfg.max_seq);
        goto done;
    }
    struct fr_kv_config kc = {fr_kv_policy_find(kv), heavy, recent, 0, NULL};
    struct fr_tf_state st;
    int64_t ctx = np + steps < m.cfg.max_seq ? np + steps : m.cfg.max_seq;
    if (fr_tf_state_init(&st, &m, (int)batch, ctx, ctx, &kc, np)) {
        rc = cli_fail("generate", "%s", fr_last_error());
        goto done;
    }
    struct fr_sampler sp;
    if (fr_sampler_init(&sp, V, (float)temp, (int)top_k, (float)top_p, (uint64_t)seed)) {
        fr_tf_state_free(&st);
        rc = cli_fail("generate", "%s", fr_last_error());
        goto done;
    }
    float *lg = malloc(sizeof(float) * (size_t)V * batch);
    int32_t *cur = malloc(sizeof(int32_t) * batch), *prev = malloc(sizeof(int32_t) * batch);
    /* token history per sequence, for sliding the window past the context */
    int64_t hcap = np + steps;
    int32_t *hist = malloc(sizeof(int32_t) * (size_t)(hcap * batch));
    for (int b = 0; b < batch; b++) memcpy(hist + b * hcap, pr, (size_t)np * sizeof(int32_t));
    int64_t hlen = np;
    double t0 = fr_seconds();
    for (int b = 0; b < batch; b++) {
        if (fr_tf_prefill(&st, b, pr, np, lg + (size_t)b * V, 0)) {
            rc = cli_fail("generate", "%s", fr_last_error());
            break;
        }
        cur[b] = fr_sample(&sp, lg + (size_t)b * V);
        prev[b] = pr[np - 1];
    }
    double t1 = fr_seconds();
    if (!rc && !ids && tok && prompt) fputs(prompt, stdout);
    int64_t made = 0;
    for (int64_t s = 0; s < steps && !rc; s++) {
        /* stream sequence 0; the others are generated alongside */
        if (ids) {
            printf("%s%d", s ? " " : "", cur[0]);
        } else if (tok) {
            const uint8_t *piece;
            size_t len;
            if (!fr_tokenizer_decode_piece(tok, prev[0], cur[0], &piece, &len))
                fwrite(piece, 1, len, stdout);
        } else {
            printf("%s%d", s ? " " : "", cur[0]);
        }
        fflush(stdout);
        made++;
        if (tok && cur[0] == fr_tokenizer_eos(tok) && batch == 1) break;
        if (s + 1 == steps) break;
        for (int b = 0; b < batch; b++) hist[b * hcap + hlen] = cur[b];
        hlen++;
        if (st.pos[0] + 1 > ctx) {
            /* context full: keep the last half of the window and re-prefill it */
            int64_t keep = ctx / 2;
            for (int b = 0; b < batch && !rc; b++) {
                fr_tf_state_reset(&st, b);
                if (fr_tf_prefill(&st, b, hist + b * hcap + hlen - keep, keep, lg + (size_t)b * V, 0))
                    rc = cli_fail("generate", "%s", fr_last_error());
            }
        } else if (fr_tf_decode(&st, cur, lg)) {
            rc = cli_fail("generate", "%s", fr_last_error());
        }
        if (rc) break;
        for (int b = 0; b < batch; b++) {
            prev[b] = cur[b];
            cur[b] = fr_sample(&sp, lg + (size_t)b * V);
        }
    }
    printf("\n");
    if (stats && !rc) {
        double t2 = fr_seconds();
        fprintf(stderr, "prefill %lld tokens in %.3f s; decode %.1f tok/s (batch %lld: %.1f tok/s "
                "total); kv cache %.2f MB\n", (long long)(np * batch), t1 - t0,
                made > 1 ? (double)(made - 1) / (t2 - t1) : 0.0, (long long)batch,
                made > 1 ? (double)(made - 1) * batch / (t2 - t1) : 0.0, st.kv.bytes / 1e6);
    }
    free(lg);
    free(cur);
    free(prev);
    free(hist);
    fr_sampler_free(&sp);
    fr_tf_state_free(&st);
done:
    free(pr);
    fr_tokenizer_free(tok);
    fr_tf_free(&m);
    return rc;
}
