/* tokenizer_llama2c.c: the llama2.c tokenizer.bin loader.
 *
 * Format (little-endian, as llama2.c's tokenizer.py writes it):
 *     int32 max_token_length
 *     per token, until the end of the file: float score, int32 len, len bytes
 * The vocabulary size is not stored; it is however many records the file
 * holds (a model loader should compare it with its config). Pieces spell
 * "▁" as a space already; byte-fallback pieces read "<0xXX>" (ids 3..258 in
 * llama2.c's files, found here by name so other layouts work too). Ids 0, 1,
 * 2 are <unk>, BOS and EOS, as llama2.c's run.c hard-codes. Encoding is
 * llama2.c's: dummy-prefix space, UTF-8 characters with byte fallback, then
 * repeatedly the adjacent pair whose join has the best score. */
#include "tokenizer_internal.h"

#include "frugal/status.h"

#include <stdlib.h>
#include <string.h>

int fr_tok_load_llama2c(const uint8_t *buf, size_t len, struct fr_tokenizer **out) {
    *out = NULL;
    if (len < 4) return fr_error(FR_EFORMAT, "tokenizer.bin: truncated header (%zu bytes)", len);
    int32_t max_len;
    memcpy(&max_len, buf, 4);
    if (max_len < 1 || max_len > 65536)
        return fr_error(FR_EFORMAT, "tokenizer.bin: max_token_length %d outside [1, 65536]",
                        max_len);
    struct fr_tokenizer *t = fr_tok_new(FR_TOK_SPM);
    if (!t) return FR_ENOMEM;
    int rc = 0;
    t->merge_by_score = 1;
    t->dummy_prefix = 1;
    size_t p = 4;
    while (p < len) {
        float score;
        int32_t l;
        if (len - p < 8) {
            rc = fr_error(FR_EFORMAT, "tokenizer.bin: truncated at token %lld (offset %zu)",
                          (long long)t->n, p);
            goto cleanup;
        }
        memcpy(&score, buf + p, 4);
        memcpy(&l, buf + p + 4, 4);
        p += 8;
        if (l < 0 || l > max_len) {
            rc = fr_error(FR_EFORMAT, "tokenizer.bin: token %lld has length %d outside [0, %d]",
                          (long long)t->n, l, max_len);
            goto cleanup;
        }
        if ((size_t)l > len - p) {
            rc = fr_error(FR_EFORMAT, "tokenizer.bin: token %lld (%d bytes) runs past the end",
                          (long long)t->n, l);
            goto cleanup;
        }
        if ((rc = fr_tok_add(t, buf + p, (size_t)l, score, t->n < 3 ? FR_TOKA_CONTROL : 0)))
            goto cleanup;
        p += (size_t)l;
    }
    if (t->n < 3) {
        rc = fr_error(FR_EFORMAT, "tokenizer.bin: %lld tokens; <unk>, BOS, EOS need at least 3",
                      (long long)t->n);
        goto cleanup;
    }
    t->bos = 1;
    t->eos = 2;
    if ((rc = fr_tok_finish(t))) goto cleanup;
    *out = t;
    return 0;
cleanup:
    fr_tokenizer_free(t);
    return rc;
}
