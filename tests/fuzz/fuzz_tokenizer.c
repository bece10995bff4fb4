/* fuzz_tokenizer.c: libFuzzer target for the tokenizer loaders: frugal's
 * own format, Hugging Face tokenizer.json and llama2.c tokenizer.bin (the
 * format is detected from the input, as fr_tokenizer_load does).
 *
 * The input must be rejected with a one-line message, or accepted as a
 * tokenizer that then works: encoding a fixed set of texts (invalid UTF-8
 * and NUL included) either fails with a message or gives ids in range whose
 * decode is the text again (byte-level and sentencepiece kinds), and the
 * streamed pieces equal the decode. Violations abort.
 */
#include "frugal/status.h"
#include "frugal/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void exercise(struct fr_tokenizer *t, const char *s, size_t n) {
    int32_t *ids;
    int64_t k;
    fr_clear_error();
    if (fr_tokenizer_encode(t, s, n, 0, &ids, &k)) {
        REQUIRE(fr_last_error()[0]);
        return;
    }
    int64_t v = fr_tokenizer_vocab_size(t);
    for (int64_t i = 0; i < k; i++)
        REQUIRE(ids[i] >= 0 && ids[i] < v);
    uint8_t *text;
    size_t len;
    REQUIRE(fr_tokenizer_decode(t, ids, k, 0, &text, &len) == 0);
    if (fr_tokenizer_kind(t) != FR_TOK_CHAR) REQUIRE(len == n && memcmp(text, s, n) == 0);
    size_t at = 0;
    for (int64_t i = 0; i < k; i++) {
        const uint8_t *p;
        size_t l;
        REQUIRE(fr_tokenizer_decode_piece(t, i ? ids[i - 1] : -1, ids[i], &p, &l) == 0);
        REQUIRE(at + l <= len && memcmp(text + at, p, l) == 0);
        at += l;
    }
    REQUIRE(at == len);
    free(text);
    free(ids);
    if (fr_tokenizer_encode(t, s, n, FR_TOK_SPECIAL, &ids, &k) == 0) free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fr_tokenizer *t = NULL;
    fr_clear_error();
    int rc = fr_tokenizer_load_memory(data, size, &t);
    if (rc) {
        REQUIRE(rc < 0 && !t && fr_last_error()[0] && !strchr(fr_last_error(), '\n'));
        return 0;
    }
#define T(s)                                                                                       \
    { s, sizeof s - 1 }
    static const struct {
        const char *s;
        size_t n;
    } texts[] = {T(""), T("hello world"), T(" the  end\n\n"), T("caf\xc3\xa9 \xe2\x96\x81x"),
                 T("\xff\x80\0<0x41><|endoftext|><s>")};
#undef T
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        exercise(t, texts[i].s, texts[i].n);
    fr_tokenizer_free(t);
    return 0;
}
